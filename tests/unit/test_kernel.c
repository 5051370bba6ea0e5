/*
 * Tests of src/kernel: scenarios run on the host's real kernel through
 * kern_run.  Copy-on-write after fork, a wrong check failing with the
 * model's verdict and message, direct I/O through io_uring, io_uring
 * fixed buffers (pins) across fork, vmsplice, forced writes through
 * /proc/self/mem, threads with random delays, checks of pins and pipes,
 * faults, skips and their reasons, that a swap-out or a KSM pass that
 * did nothing skips, transparent huge pages (huge and pte-mapped),
 * hugetlb mappings, private and shared (the page state hugetlb, SIGBUS
 * caught and judged as the model's, a map the pool cannot promise,
 * nr_hugepages back after every run and after a signal),
 * that a pass ran every check, and that a run leaves no process and no
 * file behind.  What needs root (page flags, a swap file, KSM passes, a
 * hugetlb pool raised for a run) is skipped with the reason without it.
 */
#include "testutil.h"
#include "hugetlb_scenarios.h"
#include "thp_scenarios.h"

#include "kernel/host.h"
#include "kernel/kernel.h"
#include "scenario/scenario.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/var/tmp/cowlab-test-kernel.XXXXXX";

static struct scenario *parse_ok(const char *text)
{
	struct scenario *s = NULL;
	char err[512] = "";

	if (scen_parse("test.cow", text, strlen(text), &s, err, sizeof(err)) != 0)
		fail_msg("parse: %s", err);
	return s;
}

static struct scenario *load_ok(const char *path)
{
	struct scenario *s = NULL;
	char err[512] = "";

	if (scen_load(path, &s, err, sizeof(err)) != 0)
		fail_msg("load: %s", err);
	return s;
}

/* The longest an operation may take: the default (30 s) in the normal
 * build; under ASan every fork of a worker copies the page tables of its
 * shadow memory, and r25's 10,000 forks have taken longer than 30 s on a
 * loaded machine. */
#ifdef __SANITIZE_ADDRESS__
#define OP_TIMEOUT_MS 180000
#else
#define OP_TIMEOUT_MS 0
#endif

/* How many runs a documented host race (a failure the host's kernel must
 * show, r25) gets before a pass counts as a disagreement.  Under ASan the
 * slow forks hit it rarely (five runs took about a minute and still
 * missed it): that build checks our code's memory, not the host's race,
 * so there one run, and a miss is noted, not failed; the normal build
 * requires the race. */
#ifdef __SANITIZE_ADDRESS__
#define RACE_RUNS 1
#define RACE_MISS_OK true
#else
#define RACE_RUNS 5
#define RACE_MISS_OK false
#endif

static struct kern_result run(const struct scenario *s, uint64_t seed)
{
	struct kern_opts o = {
		.seed = seed, .max_delay_us = 100, .tmpdir = tmpdir, .timeout_ms = OP_TIMEOUT_MS};
	struct kern_result r;

	assert_int_equal(kern_run(s, &o, &r), 0);
	return r;
}

static int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Nothing of a run is left: no child of ours, no file in its directory. */
static void assert_nothing_left(void)
{
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_int_equal(dir_entries(tmpdir), 0);
}

static void assert_pass(const struct scenario *s, uint64_t seed)
{
	struct kern_result r = run(s, seed);

	/* The data files' directory refuses O_DIRECT or is tmpfs: that is the
	 * machine, not the backend; any other skip fails the test. */
	if (r.status == KERN_SKIP &&
	    (strstr(r.message, "no O_DIRECT") || strstr(r.message, "is tmpfs")))
		skip_because(r.message);
	if (r.status != KERN_PASS)
		fail_msg("%s: %s: %s", s->path, r.verdict, r.message);
	assert_string_equal(r.verdict, "pass");
}

static void assert_file_passes(const char *path, int iterations)
{
	struct scenario *s = load_ok(path);

	for (int i = 0; i < iterations; i++)
		assert_pass(s, 1 + (uint64_t)i);
	scen_free(s);
	assert_nothing_left();
}

static const char cow_text[] = "process P\n"
			       "  map buf 2 pages\n"
			       "  write buf 0x11\n"
			       "  fork C\n"
			       "  write buf[0..4K] 0x22\n"
			       "  check corrupt buf[0..4K] == 0x22\n"
			       "process C\n"
			       "  check leak buf == 0x11\n";

static void test_cow_after_fork_passes(void **state)
{
	struct scenario *s = parse_ok(cow_text);
	struct kern_result r = run(s, 0);

	(void)state;
	assert_int_equal(r.status, KERN_PASS);
	assert_int_equal(r.checks, 2);
	scen_free(s);
	assert_nothing_left();
}

/* The child must see the snapshot: a check that says otherwise fails
 * with its verdict, worded as interp.c words it. */
static void test_wrong_check_fails_with_verdict_and_message(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 2 pages\n"
				      "  write buf 0x11\n"
				      "  fork C\n"
				      "  write buf[0..4K] 0x22\n"
				      "process C\n"
				      "  check leak buf[4K..8K] == 0x11\n"
				      "  check leak buf == 0x22\n"
				      "  check corrupt buf == 0x11\n");
	struct kern_result r = run(s, 0);

	(void)state;
	assert_int_equal(r.status, KERN_FAIL);
	assert_string_equal(r.verdict, "leak");
	assert_string_equal(r.message, "test.cow:8:3: check leak buf[0..+8192] == 0x22 failed: "
				       "found 0x11, expected 0x22 at buf[0] (first difference, "
				       "offset 0 in the range)");
	assert_int_equal(r.checks, 1); /* the run stopped at the failure */
	scen_free(s);
	assert_nothing_left();
}

static void test_check_forms(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 2 pages\n"
				      "  write buf \"abcdefgh\"\n"
				      "  check corrupt buf != 0x61\n"
				      "  munmap buf[4K..8K]\n"
				      "  check corrupt buf[4K] faults\n"
				      "  mprotect buf[0..4K] none\n"
				      "  check corrupt buf[0] faults\n"
				      "  mprotect buf[0..4K] ro\n"
				      "  check corrupt buf[0..8] == \"abcdefgh\"\n"
				      "  check corrupt buf[1] faults\n");
	struct kern_result r = run(s, 0);

	(void)state;
	assert_int_equal(r.status, KERN_FAIL);
	assert_string_equal(r.verdict, "corrupt");
	assert_string_equal(r.message, "test.cow:11:3: check corrupt buf[1] faults failed: the "
				       "byte is readable (0x62)");
	assert_int_equal(r.checks, 4);
	scen_free(s);
}

/* check exclusive|shared reads PG_anon_exclusive through /proc/kpageflags
 * (root), and words a failure as the model does. */
static void test_exclusive_checks(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 2 pages\n"
				      "  write buf 0x11\n"
				      "  check corrupt buf exclusive\n"
				      "  fork C\n"
				      "  check corrupt buf shared\n"
				      "  write buf[0] 0x22\n"
				      "  check corrupt buf[0] exclusive\n"
				      "  check corrupt buf[4K] exclusive\n");
	struct kern_result r;

	(void)state;
	if (kern_skip_reason(s)) {
		scen_free(s);
		skip_because("check exclusive needs /proc/kpageflags (root)");
	}
	r = run(s, 0);
	assert_int_equal(r.status, KERN_FAIL);
	assert_string_equal(r.message, "test.cow:9:3: check corrupt buf[4096] exclusive failed: "
				       "the page is not exclusive");
	assert_int_equal(r.checks, 3);
	scen_free(s);
}

/* Run text on the host and expect status with msg in the message (NULL:
 * any), and, for a pass, checks checks held. */
static void expect_host(const char *text, enum kern_status status, const char *msg, int checks)
{
	struct scenario *s = parse_ok(text);
	struct kern_result r = run(s, 0);

	if (r.status != status)
		fail_msg("status %d (%s: %s), expected %d", r.status, r.verdict, r.message, status);
	if (msg && !strstr(r.message, msg))
		fail_msg("message \"%s\" lacks \"%s\"", r.message, msg);
	if (status == KERN_PASS)
		assert_int_equal(r.checks, checks);
	scen_free(s);
	assert_nothing_left();
}

/* == A | B and checks of several ranges, worded as the model words them. */
static void test_check_alternatives(void **state)
{
	(void)state;
	expect_host("process P\n  map buf 2 pages\n  write buf[0..4K] 0x22\n"
		    "  check leak buf[0..4K] == 0x11 | 0x22\n"
		    "  check leak buf[4K..8K] == 0x11 | 0x00\n",
		    KERN_PASS, NULL, 2);
	expect_host("process P\n  map buf 2 pages\n  write buf[0..4K] 0x11\n"
		    "  write buf[0..2K] 0x22\n"
		    "  check leak buf[0..4K] == 0x11 | 0x22\n",
		    KERN_FAIL,
		    "test.cow:5:3: check leak buf[0..+4096] == 0x11 | 0x22 failed: the bytes "
		    "match none of the 2 values: found 0x22, expected 0x11 at buf[0]; found 0x11, "
		    "expected 0x22 at buf[2048] (the first difference from each)",
		    0);
	expect_host("process P\n  map a 1 page\n  map b 1 page\n"
		    "  write a 0x11\n  write b 0x22\n"
		    "  check leak a, b == 0x11, 0x11 | 0x22, 0x11 | 0x22, 0x22\n",
		    KERN_FAIL,
		    "check leak a[0..+4096], b[0..+4096] == 0x11, 0x11 | 0x22, 0x11 | 0x22, 0x22 "
		    "failed: the bytes match none of the 3 values: found 0x22, expected 0x11 at "
		    "b[0]; found 0x22, expected 0x11 at b[0]; found 0x11, expected 0x22 at a[0]",
		    0);
}

/* repeat, and a fork's body run by a fresh child each pass (which is
 * gone when the run ends); a writer looping against a forker of children
 * that check the writer's order, in one page of unpinned memory, where
 * fork's snapshot is whole. */
static void test_repeat_and_fork_bodies(void **state)
{
	(void)state;
	expect_host("process P\n"
		    "  map buf 2 pages\n"
		    "  repeat 3\n"
		    "    write buf 0x22\n"
		    "    repeat 2\n"
		    "      check corrupt buf == 0x22\n"
		    "    fork C\n"
		    "      check leak buf == 0x22\n"
		    "      write buf 0x33\n"
		    "      check corrupt buf == 0x33\n"
		    "    check corrupt buf == 0x22\n"
		    "    write buf 0x11\n",
		    KERN_PASS, NULL, 15);
	expect_host("process P\n"
		    "  map buf 1 page\n"
		    "  write buf 0x11\n"
		    "  thread writer\n"
		    "    repeat 20000\n"
		    "      write buf[0..8] 0x22\n"
		    "      write buf[4088..4096] 0x22\n"
		    "      write buf[0..8] 0x33\n"
		    "      write buf[4088..4096] 0x33\n"
		    "      write buf[0..8] 0x11\n"
		    "      write buf[4088..4096] 0x11\n"
		    "  thread forker\n"
		    "    repeat 100\n"
		    "      fork C\n"
		    "        check leak buf[0..8], buf[4088..4096] == 0x11, 0x11 | 0x22, 0x11 | "
		    "0x22, 0x22 | 0x33, 0x22 | 0x33, 0x33 | 0x11, 0x33\n"
		    "        exit\n"
		    "  join\n",
		    KERN_PASS, NULL, 100);
	/* host= sets the host's count. */
	expect_host("process P\n  map buf 1 page\n  repeat 2 host=5\n"
		    "    fork C\n      check leak buf == 0x00\n",
		    KERN_PASS, NULL, 5);
	/* A failure in a child's body is the run's. */
	expect_host("process P\n  map buf 1 page\n  repeat 5\n    fork C\n"
		    "      check leak buf == 0x01\n",
		    KERN_FAIL, "test.cow:5:7: check leak buf[0..+4096] == 0x01 failed", 0);
}

/* present and swapped from /proc/self/pagemap; require skips the run. */
static void test_page_states_and_require(void **state)
{
	const char *swap = "process P\n  map buf 2 pages\n  write buf 0x11\n"
			   "  check corrupt buf present\n"
			   "  swapout buf\n"
			   "  require buf swapped\n"
			   "  check corrupt buf swapped\n"
			   "  read buf[4K..+1]\n"
			   "  check corrupt buf[4K] present\n"
			   "  check corrupt buf[0] swapped\n"
			   "  check corrupt buf == 0x11\n";
	struct scenario *s = parse_ok(swap);
	struct kern_result r;

	(void)state;
	expect_host("process P\n  map buf 2 pages\n  write buf[0..4K] 0x11\n"
		    "  check corrupt buf[0..4K] present\n"
		    "  check corrupt buf present\n",
		    KERN_FAIL, "check corrupt buf[4096] present failed: the page is not present",
		    0);
	expect_host("process P\n  map buf 2 pages\n  write buf 0x11\n"
		    "  require buf present\n  require buf swapped\n  check corrupt buf == 0x22\n",
		    KERN_SKIP,
		    "test.cow:5:3: require buf swapped does not hold: the page at buf[0] is "
		    "present",
		    0);
	if (kern_skip_reason(s)) {
		scen_free(s); /* no swap, and not root to make one */
		skip();
	}
	r = run(s, 0);
	/* One process, nothing else mapping its pages: MADV_PAGEOUT swaps
	 * them out, and the require holds (a skip here is a bug). */
	if (r.status != KERN_PASS)
		fail_msg("%s: %s", r.verdict, r.message);
	assert_int_equal(r.checks, 5);
	scen_free(s);
	assert_nothing_left();
}

/* merged: KPF_KSM of the frame, after a driven ksmd pass (root, KSM). */
static void test_merged_on_host(void **state)
{
	struct scenario *s = parse_ok("process P\n  map buf 1 page\n  madvise buf mergeable\n"
				      "  write buf 0x5a\n"
				      "process Q\n  map buf 1 page\n  madvise buf mergeable\n"
				      "  write buf 0x5a\n"
				      "  check corrupt buf exclusive\n"
				      "  ksm_merge\n"
				      "  require buf merged\n"
				      "  check corrupt buf merged\n"
				      "  check corrupt buf shared\n"
				      "  write buf 0x77\n"
				      "  check corrupt buf exclusive\n"
				      "  check leak buf merged\n");
	struct kern_result r;

	(void)state;
	if (kern_skip_reason(s)) {
		scen_free(s); /* not root, or no KSM */
		skip();
	}
	r = run(s, 0);
	/* The driven pass merges the two pages (a skip here is a bug). */
	assert_int_equal(r.status, KERN_FAIL);
	assert_string_equal(r.message, "test.cow:16:3: check leak buf[0] merged failed: "
				       "the page is not a KSM page");
	assert_int_equal(r.checks, 4);
	scen_free(s);
	assert_nothing_left();
}

/* Run text on the host, where it needs THP and /proc/kpageflags: NULL
 * (with *r) when it ran, or why the host cannot run it. */
static const char *run_thp(const char *text, struct kern_result *r)
{
	struct scenario *s = parse_ok(text);
	const char *why = kern_skip_reason(s);

	if (!why)
		*r = run(s, 0);
	scen_free(s);
	assert_nothing_left();
	return why;
}

/* map ... thp, huge and pte-mapped on the host, worded as the model's;
 * a require huge first, for a host that finds no free 2 MiB (a skip). */
static void test_thp_on_host(void **state)
{
	static const char huge[] = "process P\n"
				   "  map buf 4M thp\n"
				   "  write buf 0x11\n"
				   "  require buf huge\n"
				   "  check corrupt buf present\n"
				   "  check corrupt buf huge\n"
				   "  check corrupt buf == 0x11\n"
				   "  mprotect buf[0..4K] ro\n"
				   "  check corrupt buf[4096..+4096] pte-mapped\n"
				   "  check corrupt buf[0..4K] pte-mapped\n"
				   "  check corrupt buf[2M..4M] huge\n"
				   "  check corrupt buf huge\n";
	/* One VMA, part PMD-mapped: PAGEMAP_SCAN tells which pages (6.7+);
	 * an older kernel cannot, and the run skips. */
	static const char part[] = "process P\n"
				   "  map buf 4M thp\n"
				   "  write buf 0x11\n"
				   "  require buf huge\n"
				   "  madvise buf[2M..+4K] dontneed\n"
				   "  check corrupt buf[0..2M] huge\n"
				   "  check corrupt buf[2101248..+4K] pte-mapped\n"
				   "  check corrupt buf[2M..+4K] == 0x00\n";
	struct scenario *s = parse_ok(huge);
	const char *why = kern_thp_unavailable();
	struct kern_result r;

	(void)state;
	/* The reasons, before anything runs. */
	if (why)
		assert_string_equal(kern_skip_reason(s), why);
	else if (access("/proc/kpageflags", R_OK) != 0)
		assert_non_null(strstr(kern_skip_reason(s), "huge|pte-mapped"));
	else
		assert_null(kern_skip_reason(s));
	scen_free(s);
	s = parse_ok("process P\n  map buf 2M\n  madvise buf hugepage\n  write buf 0x11\n");
	assert_true(kern_skip_reason(s) == why);
	scen_free(s);
	if ((why = run_thp(huge, &r)))
		skip_because(why);
	if (r.status == KERN_SKIP && strstr(r.message, "require buf huge does not hold"))
		skip_because(r.message); /* no free 2 MiB on this host now */
	if (r.status != KERN_FAIL)
		fail_msg("%s: %s", r.verdict, r.message);
	assert_string_equal(r.message, "test.cow:12:3: check corrupt buf[0] huge failed: the page "
				       "is not mapped by a huge PMD");
	assert_int_equal(r.checks, 6);
	assert_null(run_thp(part, &r));
	if (r.status == KERN_SKIP && !strstr(r.message, "require buf huge does not hold"))
		assert_non_null(strstr(r.message,
				       "test.cow:6:3: check huge: the mapping is part "
				       "PMD-mapped, part not (AnonHugePages 2048 of 4096 "
				       "kB of its VMA): /proc/self/smaps cannot tell "
				       "which page"));
	else if (r.status != KERN_SKIP) {
		if (r.status != KERN_PASS)
			fail_msg("%s: %s", r.verdict, r.message);
		assert_int_equal(r.checks, 3);
	}
}

/* madvise collapse on the host: a PTE-mapped THP becomes PMD-mapped again;
 * on a kernel that knows MADV_COLLAPSE (6.1+) a refusal (VM_NOHUGEPAGE)
 * is the scenario's error, as in the model, not a skip. */
static void test_collapse_on_host(void **state)
{
	static const char good[] = "process P\n"
				   "  map buf 2M thp\n"
				   "  write buf 0x11\n"
				   "  require buf huge\n"
				   "  mprotect buf[0..4K] ro\n"
				   "  mprotect buf[0..4K] rw\n"
				   "  require buf pte-mapped\n"
				   "  madvise buf collapse\n"
				   "  check corrupt buf huge\n"
				   "  check corrupt buf == 0x11\n";
	static const char refused[] = "process P\n"
				      "  map buf 2M thp\n"
				      "  write buf 0x11\n"
				      "  madvise buf nohugepage\n"
				      "  madvise buf collapse\n";
	struct kern_result r;
	const char *why;

	(void)state;
	if (!kern_host_knows_madv_collapse())
		skip_because("this kernel has no MADV_COLLAPSE (6.1+, with THP)");
	if ((why = run_thp(refused, &r)))
		skip_because(why);
	if (r.status != KERN_ERROR)
		fail_msg("status %d (%s: %s), expected an error", r.status, r.verdict, r.message);
	assert_non_null(strstr(r.message, "test.cow:5:3: madvise failed: invalid argument"));
	assert_null(run_thp(good, &r));
	if (r.status == KERN_SKIP && strstr(r.message, "does not hold"))
		skip_because(r.message); /* no free 2 MiB on this host now */
	if (r.status != KERN_PASS)
		fail_msg("%s: %s", r.verdict, r.message);
	assert_int_equal(r.checks, 2);
}

/* The three khugepaged settings a pass changes, in one string. */
static void khugepaged_settings(char *buf, size_t len)
{
	static const char *const knobs[] = {"pages_to_scan", "alloc_sleep_millisecs",
					    "scan_sleep_millisecs"};
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++) {
		char path[128];
		FILE *f;

		snprintf(path, sizeof(path), "/sys/kernel/mm/transparent_hugepage/khugepaged/%s",
			 knobs[i]);
		f = fopen(path, "r");
		assert_non_null(f);
		n += (size_t)snprintf(buf + n, len - n, "%s=", knobs[i]);
		assert_non_null(fgets(buf + n, (int)(len - n), f));
		n = strlen(buf);
		fclose(f);
	}
}

/* khugepaged on the host: one pass of the host's daemon collapses the
 * range the parent shares in part with its child (6.18 allows up to 256
 * shared pages, as the model's 5.8+), and its settings are as they were
 * afterwards; where it cannot be driven, the skip says why before the
 * run. */
static void test_khugepaged_on_host(void **state)
{
	static const char text[] = THP_KHUGEPAGED_PARTLY_SHARED;
	struct scenario *s = parse_ok(text);
	const char *why = kern_khugepaged_unavailable();
	char before[256], after[256];
	struct kern_result r;

	(void)state;
	if (why) {
		assert_string_equal(kern_skip_reason(s), why);
		scen_free(s);
		skip_because(why);
	}
	scen_free(s);
	khugepaged_settings(before, sizeof(before));
	assert_null(run_thp(text, &r));
	khugepaged_settings(after, sizeof(after));
	assert_string_equal(before, after);
	if (r.status != KERN_PASS)
		fail_msg("%s: %s", r.verdict, r.message);
	assert_int_equal(r.checks, 4);
}

/* ---- hugetlb -------------------------------------------------------------------------- */

/* /proc/sys/vm/nr_hugepages, or -1 (a kernel without hugetlb). */
static long nr_hugepages(void)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void set_nr_hugepages(long v)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "w");

	assert_non_null(f);
	fprintf(f, "%ld\n", v);
	assert_int_equal(fclose(f), 0);
}

/* Free huge pages no mapping has reserved (/proc/meminfo). */
static long hugepages_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	long free_ = 0, rsvd = 0;
	char line[256];

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "HugePages_Free: %ld", &free_);
		sscanf(line, "HugePages_Rsvd: %ld", &rsvd);
	}
	fclose(f);
	return free_ - rsvd;
}

/* Run a hugetlb scenario on the host, which must leave nr_hugepages as
 * it was; the test skips where the host cannot run it (the reason said
 * before the run, or a pool it could not raise far enough).  *spare: the
 * free huge pages no mapping had reserved before the run. */
static struct kern_result run_hugetlb(const char *text, long *spare)
{
	struct scenario *s = parse_ok(text);
	const char *why = kern_skip_reason(s);
	long before = nr_hugepages();
	struct kern_result r;

	if (why) {
		scen_free(s);
		skip_because(why);
	}
	*spare = hugepages_available();
	r = run(s, 0);
	scen_free(s);
	assert_int_equal(nr_hugepages(), before);
	if (r.status == KERN_SKIP && strstr(r.message, "the host could give only"))
		skip_because(r.message);
	return r;
}

/* A hugetlb scenario the host runs as the model does: the pages are the
 * pool's (KPF_HUGE), PMD-mapped; a child's write that needs a page the
 * raised pool has not raises SIGBUS, caught by the worker, as does the
 * child's access to a page the parent (the reservation's owner) took
 * back; `sigbus` accesses judge as the model's, and so do the errors.
 * nr_hugepages is back after every run. */
static void test_hugetlb_on_host(void **state)
{
	static const char basic[] = "system hugepages=2\n"
				    "process P\n"
				    "  map buf 4M hugetlb\n"
				    "  write buf 0x11\n"
				    "  check corrupt buf hugetlb\n"
				    "  check corrupt buf huge\n"
				    "  check corrupt buf present\n"
				    "  check corrupt buf == 0x11\n"
				    "  check corrupt buf[8K..+4K] pte-mapped\n";
	static const char child_writes[] = HUGETLB_CHILD_WRITES;
	static const char parent_writes[] = HUGETLB_PARENT_WRITES;
	long before = nr_hugepages(), spare;
	struct kern_result r;
	struct scenario *s;

	(void)state;
	r = run_hugetlb(basic, &spare);
	assert_int_equal(r.status, KERN_FAIL);
	assert_string_equal(r.message, "test.cow:9:3: check corrupt buf[8192] pte-mapped failed: "
				       "the page is mapped by a huge PMD");
	assert_int_equal(r.checks, 4);
	assert_nothing_left();

	/* The SIGBUS scenarios need the pool exactly as they say (a host
	 * with spare huge pages skips them, with the reason). */
	s = parse_ok(child_writes);
	r = run(s, 0);
	scen_free(s);
	if (r.status == KERN_SKIP) {
		assert_non_null(strstr(r.message,
				       "sigbus: the scenario expects SIGBUS where its pool "
				       "(system hugepages=1) runs dry"));
		skip_because(r.message);
	}
	if (r.status != KERN_PASS)
		fail_msg("%s: %s", r.verdict, r.message);
	assert_int_equal(r.checks, 2);
	assert_nothing_left();
	expect_host(parent_writes, KERN_PASS, NULL, 3);
	/* SIGBUS where the scenario does not say, and none where it does:
	 * errors, worded as the model's. */
	expect_host("system hugepages=1\nprocess P\n  map buf 2M hugetlb\n  write buf 0x11\n"
		    "  fork C\nprocess C\n  write buf 0x22\n",
		    KERN_ERROR,
		    "test.cow:7:3: write buf[0..+2097152] raised SIGBUS (no huge page for the "
		    "hugetlb mapping); a write that expects SIGBUS ends with 'sigbus'",
		    0);
	expect_host("system hugepages=1\nprocess P\n  map buf 2M hugetlb\n  write buf 0x11\n"
		    "  fork C\n  write buf 0x22\nprocess C\n  check leak buf == 0x11\n",
		    KERN_ERROR,
		    "test.cow:8:3: check leak buf[0..+2097152]: reading it raised SIGBUS (no huge "
		    "page for the hugetlb mapping); a check that expects SIGBUS is written 'check "
		    "leak buf sigbus'",
		    0);
	expect_host("system hugepages=2\nprocess P\n  map buf 2M hugetlb\n  write buf 0x11\n"
		    "  fork C\nprocess C\n  write buf 0x22 sigbus\n",
		    KERN_ERROR,
		    "test.cow:7:3: write buf[0..+2097152] sigbus: expected SIGBUS, the access "
		    "succeeded",
		    0);
	/* mmap reserves: a pool of one cannot promise two pages. */
	if (spare == 0)
		expect_host("system hugepages=1\nprocess P\n  map buf 4M hugetlb\n", KERN_ERROR,
			    "test.cow:3:3: map failed: cannot allocate memory", 0);
	assert_int_equal(nr_hugepages(), before);
}

/* Write v to a /proc/sys file of ours (nr_hugepages and the like). */
static void set_proc_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "%ld\n", v);
	assert_int_equal(fclose(f), 0);
}

/* Shared hugetlb memory (MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB) on the
 * host as in the model: fork shares the page (the parent sees the
 * child's write), a page of the pool, PMD-mapped and never exclusive;
 * MADV_DONTNEED leaves it in the object, so a refault reads it back; a
 * pool of one page cannot promise a second mapping, nor one while a
 * child still maps the first page; with the last mapping gone, the pool
 * has the page again.  A scenario whose maps ask more pages than its
 * pool needs the pool exactly as it says: a host with spare pages (or
 * overcommit) skips it, saying so. */
static void test_hugetlb_shared_on_host(void **state)
{
	static const char child_writes[] = HUGETLB_SHARED_CHILD_WRITES;
	static const char parent_writes[] = HUGETLB_SHARED_PARENT_WRITES;
	static const char last_unmap[] = HUGETLB_SHARED_LAST_UNMAP;
	static const char two_maps[] = "system hugepages=1\n"
				       "process P\n"
				       "  map a 2M shared hugetlb\n"
				       "  map b 2M shared hugetlb\n";
	static const char dry[] = "the scenario's maps ask more huge pages than its pool (system "
				  "hugepages=1) holds, so one fails (out of memory)";
	long before = nr_hugepages(), spare;
	struct kern_result r;
	struct scenario *s;

	(void)state;
	r = run_hugetlb(child_writes, &spare);
	if (r.status != KERN_PASS)
		fail_msg("%s: %s", r.verdict, r.message);
	assert_int_equal(r.checks, 7);
	assert_nothing_left();
	expect_host(parent_writes, KERN_PASS, NULL, 3);
	/* Not anonymous: not exclusive in the process that made it either. */
	expect_host("system hugepages=1\nprocess P\n  map buf 2M shared hugetlb\n"
		    "  write buf 0x11\n  check leak buf exclusive\n",
		    KERN_FAIL,
		    "test.cow:5:3: check leak buf[0] exclusive failed: the page is not exclusive",
		    0);
	/* A huge page is not split: part of it cannot be unmapped. */
	expect_host("system hugepages=1\nprocess P\n  map a 2M shared hugetlb\n"
		    "  write a 0x11\n  munmap a[0..4K]\n",
		    KERN_ERROR, "test.cow:5:3: munmap failed: invalid argument", 0);
	/* The pool runs dry at a map: exactly where the host has no spare
	 * page (the run raised the pool by what the scenario says). */
	if (spare == 0) {
		expect_host(two_maps, KERN_ERROR,
			    "test.cow:4:3: map failed: cannot allocate memory; a hugetlb mapping "
			    "fails so too when the pool (system hugepages=1) has no huge page left "
			    "to reserve for each 2M of it",
			    0);
		expect_host("system hugepages=1\nprocess P\n  map a 2M shared hugetlb\n"
			    "  write a 0x11\n  fork C\n  munmap a\n  map b 2M hugetlb\n",
			    KERN_ERROR, "test.cow:7:3: map failed: cannot allocate memory", 0);
		expect_host(last_unmap, KERN_PASS, NULL, 3);
	} else {
		expect_host(two_maps, KERN_SKIP, dry, 0);
	}
	assert_int_equal(nr_hugepages(), before);
	if (geteuid() != 0)
		return;
	/* Spare pages, then overcommit: a map would find what the
	 * scenario's pool has not, so the run skips. */
	set_nr_hugepages(before + 2);
	spare = hugepages_available();
	s = parse_ok(two_maps);
	r = run(s, 0);
	set_nr_hugepages(before);
	assert_int_equal(nr_hugepages(), before);
	if (spare > 1) {
		assert_int_equal(r.status, KERN_SKIP);
		assert_non_null(strstr(r.message, dry));
		assert_non_null(strstr(r.message, "free huge pages: a map may reserve a page where "
						  "the scenario's pool has none"));
	}
	{
		long overcommit = -1;
		FILE *f = fopen("/proc/sys/vm/nr_overcommit_hugepages", "r");

		if (f) {
			if (fscanf(f, "%ld", &overcommit) != 1)
				overcommit = -1;
			fclose(f);
		}
		if (overcommit == 0 && hugepages_available() == 0) {
			set_proc_long("/proc/sys/vm/nr_overcommit_hugepages", 1);
			r = run(s, 0);
			set_proc_long("/proc/sys/vm/nr_overcommit_hugepages", 0);
			assert_int_equal(r.status, KERN_SKIP);
			assert_non_null(strstr(r.message, dry));
			assert_non_null(strstr(r.message,
					       "nr_overcommit_hugepages is 1: the kernel "
					       "may allocate surplus pages there"));
		}
	}
	scen_free(s);
	assert_int_equal(nr_hugepages(), before);
	assert_nothing_left();
}

/* Run s in a child of ours and stop it with sig once the run raised
 * nr_hugepages above was: the child dies of sig, and the pool is back. */
static void interrupt_hugetlb_run(const struct scenario *s, long was, int sig)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct kern_opts o = {.tmpdir = tmpdir};
		struct kern_result r;

		kern_run(s, &o, &r);
		_exit(r.status == KERN_SKIP ? 2 : 3); /* not stopped: the run ended */
	}
	for (int ms = 0; ms < 10000 && nr_hugepages() <= was; ms += 10)
		usleep(10000);
	assert_true(nr_hugepages() > was);
	usleep(100000); /* the workers at their loop */
	assert_int_equal(kill(pid, sig), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != sig)
		fail_msg("the run did not die of signal %d (status 0x%x)", sig, status);
	assert_int_equal(nr_hugepages(), was);
}

/* A run never leaves nr_hugepages changed: it raises the pool by what is
 * missing and writes the old value back after the run, whatever it was,
 * and from the handler of SIGHUP, SIGTERM and SIGINT.  Root only (a user
 * cannot raise it: such a run skips, saying so). */
static void test_hugetlb_pool_restored(void **state)
{
	static const char needs3[] = "system hugepages=3\n"
				     "process P\n"
				     "  map buf 6M hugetlb\n"
				     "  write buf 0x11\n"
				     "  check corrupt buf == 0x11\n";
	static const int sigs[] = {SIGHUP, SIGTERM, SIGINT};
	long orig = nr_hugepages(), after;
	struct scenario *s;
	struct kern_result r;

	(void)state;
	if (orig < 0)
		skip_because("this kernel has no hugetlb pages (/proc/sys/vm/nr_hugepages)");
	if (geteuid() != 0) {
		if (hugepages_available() < 3)
			assert_non_null(strstr(kern_hugetlb_unavailable(3),
					       "only root can raise /proc/sys/vm/nr_hugepages"));
		skip_because("raising /proc/sys/vm/nr_hugepages needs root");
	}
	/* Not root, too few free pages: a skip that says why (in a child that
	 * gives up root). */
	{
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0) {
			const char *why;

			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(2);
			why = kern_hugetlb_unavailable((unsigned long)hugepages_available() + 1);
			_exit(why && strstr(why, "only root can raise") ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	s = parse_ok(needs3);
	if (kern_skip_reason(s)) {
		scen_free(s);
		skip_because("the host cannot have a hugetlb pool");
	}
	/* From the host's own value, and from one of ours (a free page of
	 * it counts: the run raises by 2, then lowers to it again). */
	r = run(s, 0);
	assert_int_equal(nr_hugepages(), orig);
	if (r.status == KERN_SKIP)
		assert_non_null(strstr(r.message, "the host could give only"));
	else
		assert_int_equal(r.status, KERN_PASS);
	set_nr_hugepages(orig + 1);
	r = run(s, 0);
	after = nr_hugepages();
	set_nr_hugepages(orig);
	assert_int_equal(after, orig + 1);
	assert_int_equal(nr_hugepages(), orig);
	assert_true(r.status == KERN_PASS || r.status == KERN_SKIP);
	scen_free(s);
	assert_nothing_left();
	/* Interrupted in the middle of a run that raised the pool (by one
	 * page over what is free). */
	{
		long n = hugepages_available() + 1;
		char text[256];

		snprintf(text, sizeof(text),
			 "system hugepages=%ld\nprocess P\n  map buf %ldM hugetlb\n"
			 "  repeat 1 host=1000000\n    write buf 0x11\n",
			 n, 2 * n);
		s = parse_ok(text);
	}
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		interrupt_hugetlb_run(s, orig, sigs[i]);
	scen_free(s);
	assert_nothing_left();
}

/* An operation the host refuses is an error, worded as the model's. */
static void test_failed_operation_is_an_error(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 1 page ro\n"
				      "  write buf 0x11\n");
	struct kern_result r = run(s, 0);

	(void)state;
	assert_int_equal(r.status, KERN_ERROR);
	assert_string_equal(r.verdict, "error");
	assert_string_equal(r.message, "test.cow:3:3: write failed: bad address");
	scen_free(s);
	assert_nothing_left();
}

/* Direct I/O through io_uring on O_DIRECT files, in both directions, and
 * file values in writes and checks. */
static void test_direct_io(void **state)
{
	struct scenario *s = parse_ok("file data 8K fill=0x5a\n"
				      "file out 8K fill=0x00\n"
				      "process P\n"
				      "  map buf 3 pages\n"
				      "  write buf 0x11\n"
				      "  dio_read data[0..4K] -> buf[512..+4K]\n"
				      "  wait\n"
				      "  check corrupt buf[512..+4K] == data[0..4K]\n"
				      "  check corrupt buf[0..512] == 0x11\n"
				      "  check corrupt buf[4608..12K] == 0x11\n"
				      "  write buf[0..4K] 0x77\n"
				      "  dio_write buf[0..8K] -> out\n"
				      "  wait\n"
				      "  check corrupt out[0..4K] == 0x77\n"
				      "  check corrupt out[4K..4608] == 0x5a\n"
				      "  check corrupt out[4608..8K] == 0x11\n"
				      "  write buf[8K..12K] data[4K..8K]\n"
				      "  check corrupt buf[8K..12K] == 0x5a\n");

	(void)state;
	assert_pass(s, 0);
	scen_free(s);
	assert_nothing_left();
}

/* A pin's check reads the pinned page (IORING_OP_WRITE_FIXED), not the
 * page table: after MADV_DONTNEED the mapping has a new page. */
static void test_pin_check_reads_the_pinned_page(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 1 page\n"
				      "  write buf 0x11\n"
				      "  pin ring buf fast\n"
				      "  madvise buf dontneed\n"
				      "  write buf 0x22\n"
				      "  check desync ring == 0x11\n"
				      "  check corrupt buf == 0x22\n"
				      "  unpin ring\n");

	(void)state;
	assert_pass(s, 0);
	scen_free(s);
}

/* A pipe's check does not consume it; pipe_read delivers the pages'
 * bytes as they are when it runs. */
static void test_pipe_check_and_read(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 2 pages\n"
				      "  write buf \"abcdefgh\"\n"
				      "  vmsplice buf -> pp\n"
				      "  check leak pp == \"abcdefgh\"\n"
				      "  write buf[0..4K] 0x22\n"
				      "  check leak pp[0..4K] == 0x22\n"
				      "  map out 2 pages\n"
				      "  pipe_read pp -> out\n"
				      "  check corrupt out[0..4K] == 0x22\n"
				      "  check corrupt out[4K..8K] == \"abcdefgh\"\n");

	(void)state;
	assert_pass(s, 0);
	scen_free(s);
	assert_nothing_left();
}

static void test_threads_and_top_level_groups(void **state)
{
	(void)state;
	assert_file_passes("scenarios/fork_vs_writer.cow", 10);
	assert_file_passes("scenarios/parent_child_race.cow", 10);
	assert_file_passes("scenarios/memory_threads.cow", 5);
}

/* CVE-2020-29374: fixed since 5.8 (this host runs a later kernel). */
static void test_vmsplice_child_leak_passes(void **state)
{
	(void)state;
	assert_file_passes("scenarios/gup/vmsplice_child_leak.cow", 5);
}

static void test_iouring_fixed_fork_passes(void **state)
{
	(void)state;
	assert_file_passes("scenarios/gup/iouring_fixed_fork.cow", 5);
}

static void test_dio_races_pass(void **state)
{
	(void)state;
	assert_file_passes("scenarios/gup/dma_thread.cow", 10);
	assert_file_passes("scenarios/gup/forkscrewreverse.cow", 10);
}

/* Dirty COW's forced write lands in a private copy, never the file. */
static void test_poke_and_file_mappings(void **state)
{
	(void)state;
	assert_file_passes("scenarios/matrix/r18_dirty_cow.cow", 5);
}

static void assert_skips(const char *text, const char *reason_part)
{
	struct scenario *s = parse_ok(text);
	struct kern_result r = run(s, 0);

	assert_int_equal(r.status, KERN_SKIP);
	assert_string_equal(r.verdict, "skip");
	if (!strstr(r.message, reason_part))
		fail_msg("skip reason '%s' lacks '%s'", r.message, reason_part);
	assert_string_equal(kern_skip_reason(s), r.message);
	scen_free(s);
}

/* The host's settings a run changes are back after it: KSM's knobs (a
 * ksm_merge run drives ksmd) and swap (a swapout run may enable a
 * temporary swap file).  Only where the host lets the run change them. */
static void read_knob(const char *name, char *buf, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, (int)len, f));
	fclose(f);
}

static void test_host_settings_restored(void **state)
{
	static const char *const knobs[] = {"run", "pages_to_scan", "sleep_millisecs"};
	char before[3][32], after[3][32];
	bool swap_before = kern_swap_active();
	struct scenario *s;

	(void)state;
	if (kern_ksm_unavailable() && !kern_swap_active() && geteuid() != 0)
		skip_because("neither KSM passes nor a swap file (root only)");
	if (!kern_ksm_unavailable()) {
		for (int i = 0; i < 3; i++)
			read_knob(knobs[i], before[i], sizeof(before[i]));
		s = parse_ok("process P\n  map buf 2 pages\n  write buf 0x5a\n"
			     "  madvise buf mergeable\n  ksm_merge\n  write buf[0] 0x11\n"
			     "  check corrupt buf[0] == 0x11\n  check corrupt buf[4K] == 0x5a\n");
		assert_pass(s, 1);
		scen_free(s);
		for (int i = 0; i < 3; i++) {
			read_knob(knobs[i], after[i], sizeof(after[i]));
			assert_string_equal(before[i], after[i]);
		}
	}
	s = parse_ok("process P\n  map buf 1 page\n  write buf 0x5a\n  swapout buf\n"
		     "  check corrupt buf == 0x5a\n");
	if (!kern_skip_reason(s))
		(void)run(s, 1);
	scen_free(s);
	assert_int_equal(kern_swap_active(), swap_before);
	assert_nothing_left();
}

static void test_skips_say_why(void **state)
{
	struct scenario *s;

	(void)state;
	if (kern_ksm_unavailable())
		assert_skips("process P\n  map buf 1 page\n  madvise buf mergeable\n  ksm_merge\n",
			     "ksm_merge");
	assert_skips("file shm 4K fill=0x5a\nprocess P\n  map v 4K ro private file=shm\n"
		     "  uffd_continue v\n",
		     "userfaultfd");
	assert_skips("process P\n  map buf 1 page\n  write buf 0x11\n  pin ring buf ro\n",
		     "gup_test");
	/* A premise about the zero page the host does not share (it has one
	 * or it has none; when it cannot tell, both run). */
	switch (kern_host_zero_page()) {
	case 1:
		assert_skips("system zero_page=off\nprocess P\n  map buf 1 page\n", "zero page");
		break;
	case 0:
		assert_skips("system zero_page=on\nprocess P\n  map buf 1 page\n", "zero page");
		break;
	default: break;
	}
	s = parse_ok(cow_text);
	assert_null(kern_skip_reason(s));
	scen_free(s);
}

/* A swapout whose pages stay in memory did not swap out: MADV_PAGEOUT
 * leaves a page that a live child shares alone, where reclaim would
 * unmap it from both.  The run skips and names the pages; it never
 * passes without its swap-out. */
static void test_swapout_that_swaps_nothing_skips(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 2 pages\n"
				      "  write buf 0x11\n"
				      "  fork C\n"
				      "  swapout buf\n"
				      "  check corrupt buf == 0x11\n"
				      "process C\n"
				      "  check leak buf == 0x11\n");
	struct kern_result r;

	(void)state;
	if (kern_skip_reason(s)) {
		scen_free(s);
		skip_because("swapout needs active swap or root");
	}
	r = run(s, 1);
	if (r.status != KERN_SKIP)
		fail_msg("%s: %s (a swap-out that swapped nothing must skip)", r.verdict,
			 r.message);
	if (!strstr(r.message, "test.cow:5:3: swapout: 2 of 2 pages stayed in memory "
			       "(buf[0], buf[4096])"))
		fail_msg("reason: %s", r.message);
	if (geteuid() == 0 &&
	    !strstr(r.message, "mapped 2 times (a live parent or child shares it)"))
		fail_msg("reason: %s", r.message);
	scen_free(s);
	assert_nothing_left();
}

/* A swapout that swaps every page passes, and so does one whose page a
 * pin holds (reclaim keeps a maybe-pinned page, as the model's 6.5 does):
 * the pages that stay are the scenario's subject, not a shortcut. */
static void test_swapout_that_swaps_passes(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 2 pages\n"
				      "  write buf 0x11\n"
				      "  swapout buf\n"
				      "  check corrupt buf == 0x11\n");

	(void)state;
	if (kern_skip_reason(s)) {
		scen_free(s);
		skip_because("swapout needs active swap or root");
	}
	assert_pass(s, 1);
	scen_free(s);
	assert_file_passes("scenarios/swap_pinned.cow", 3);
	assert_file_passes("scenarios/dio_under_reclaim.cow", 3);
}

/* A KSM pass that merges nothing (no two pages alike) skips; a pass that
 * merges the unpinned pages and leaves the pinned one alone passes. */
static void test_ksm_merge_must_merge(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 2 pages\n"
				      "  madvise buf mergeable\n"
				      "  write buf[0..4K] 0x11\n"
				      "  write buf[4K..8K] 0x22\n"
				      "  ksm_merge\n"
				      "  check corrupt buf[0..4K] == 0x11\n");
	struct kern_result r;

	(void)state;
	if (kern_ksm_unavailable()) {
		scen_free(s);
		skip_because(kern_ksm_unavailable());
	}
	r = run(s, 1);
	assert_int_equal(r.status, KERN_SKIP);
	if (!strstr(r.message, "test.cow:6:3: ksm_merge: the pass merged no page"))
		fail_msg("reason: %s", r.message);
	scen_free(s);
	assert_file_passes("scenarios/ksm_pinned.cow", 2);
	assert_file_passes("scenarios/ksm_merge.cow", 2);
}

/* A run passes only if every check of the scenario ran: one check per
 * check operation, the threads' included. */
static void test_every_check_must_run(void **state)
{
	struct scenario *s = load_ok("scenarios/fork_vs_writer.cow");
	struct kern_result r = run(s, 3);

	(void)state;
	assert_int_equal(r.status, KERN_PASS);
	assert_int_equal(r.expected, kern_expected_checks(s));
	assert_int_equal(r.checks, r.expected);
	assert_true(r.expected > 0);
	/* A pass that made fewer checks is an error, saying how many ran. */
	r.checks = r.expected - 1;
	kern_judge(s, &r);
	assert_int_equal(r.status, KERN_ERROR);
	assert_string_equal(r.verdict, "error");
	if (!strstr(r.message, "of the scenario's") || !strstr(r.message, "checks ran"))
		fail_msg("message: %s", r.message);
	scen_free(s);
	s = parse_ok("process P\n  map buf 1 page\n  check corrupt buf == 0x00\n"
		     "  thread a check corrupt buf[0] == 0x00\n"
		     "  thread b check corrupt buf[1] == 0x00\n  join\n");
	assert_int_equal(kern_expected_checks(s), 3);
	r = run(s, 1);
	assert_int_equal(r.status, KERN_PASS);
	assert_int_equal(r.checks, 3);
	scen_free(s);
}

/* pin ... fast says what it is on the host. */
static void test_fast_pin_note(void **state)
{
	struct scenario *s = load_ok("scenarios/gup/gup_fast_vs_fork.cow");

	(void)state;
	assert_non_null(kern_host_note(s));
	assert_non_null(strstr(kern_host_note(s), "io_uring buffer registration"));
	scen_free(s);
	s = parse_ok(cow_text);
	assert_null(kern_host_note(s));
	scen_free(s);
}

/* Every bundled scenario gives on this host the verdict its expect lines
 * document under linux-6.5 (pass where none do), or is skipped with a
 * reason: the model's linux-6.5 verdicts hold on a later kernel.  Row 25
 * (a torn child snapshot) fails on both, on the host within five runs. */
static void test_bundled_scenarios_pass_or_skip(void **state)
{
	static const char *const dirs[] = {"scenarios", "scenarios/gup", "scenarios/matrix"};

	(void)state;
	for (size_t d = 0; d < ARRAY_SIZE(dirs); d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *e;

		assert_non_null(dir);
		while ((e = readdir(dir))) {
			char path[512];
			struct scenario *s;
			struct kern_result r;
			size_t n = strlen(e->d_name);

			if (n < 5 || strcmp(e->d_name + n - 4, ".cow") != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[d], e->d_name);
			const char *want;

			s = load_ok(path);
			want = scen_expected(s, "linux-6.5");
			r = run(s, 7);
			/* A race the host loses (r25's torn snapshot) is
			 * sampled: one run of thousands of forks may miss it
			 * (seen about once in ten under load).  A pass where a
			 * failure is documented gets more runs. */
			for (uint64_t seed = 8;
			     want && strcmp(want, "pass") != 0 && r.status != KERN_SKIP &&
			     strcmp(r.verdict, "pass") == 0 && seed < 7 + RACE_RUNS;
			     seed++)
				r = run(s, seed);
			if (RACE_MISS_OK && want && strcmp(want, "pass") != 0 &&
			    strcmp(r.verdict, "pass") == 0) {
				print_message("# %s: the host race was not hit in this build "
					      "(the normal build requires it)\n",
					      path);
			} else if (r.status != KERN_SKIP &&
				   strcmp(r.verdict, want ? want : "pass") != 0)
				fail_msg("%s: %s, expected %s: %s", path, r.verdict,
					 want ? want : "pass", r.message);
			if (r.status == KERN_SKIP)
				assert_true(r.message[0] != '\0');
			scen_free(s);
		}
		closedir(dir);
	}
	assert_nothing_left();
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cow_after_fork_passes),
		cmocka_unit_test(test_wrong_check_fails_with_verdict_and_message),
		cmocka_unit_test(test_check_forms),
		cmocka_unit_test(test_exclusive_checks),
		cmocka_unit_test(test_failed_operation_is_an_error),
		cmocka_unit_test(test_direct_io),
		cmocka_unit_test(test_pin_check_reads_the_pinned_page),
		cmocka_unit_test(test_pipe_check_and_read),
		cmocka_unit_test(test_threads_and_top_level_groups),
		cmocka_unit_test(test_vmsplice_child_leak_passes),
		cmocka_unit_test(test_iouring_fixed_fork_passes),
		cmocka_unit_test(test_dio_races_pass),
		cmocka_unit_test(test_poke_and_file_mappings),
		cmocka_unit_test(test_skips_say_why),
		cmocka_unit_test(test_host_settings_restored),
		cmocka_unit_test(test_swapout_that_swaps_nothing_skips),
		cmocka_unit_test(test_swapout_that_swaps_passes),
		cmocka_unit_test(test_ksm_merge_must_merge),
		cmocka_unit_test(test_every_check_must_run),
		cmocka_unit_test(test_fast_pin_note),
		cmocka_unit_test(test_bundled_scenarios_pass_or_skip),
		cmocka_unit_test(test_check_alternatives),
		cmocka_unit_test(test_repeat_and_fork_bodies),
		cmocka_unit_test(test_page_states_and_require),
		cmocka_unit_test(test_merged_on_host),
		cmocka_unit_test(test_thp_on_host),
		cmocka_unit_test(test_collapse_on_host),
		cmocka_unit_test(test_khugepaged_on_host),
		cmocka_unit_test(test_hugetlb_on_host),
		cmocka_unit_test(test_hugetlb_shared_on_host),
		cmocka_unit_test(test_hugetlb_pool_restored),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
