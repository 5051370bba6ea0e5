/*
 * Fault injection at every site (src/base/faultinj.h), as SQLite tests
 * its allocation failures.  For each bundled scenario: one run disarmed,
 * counting the passages through fault sites; then, for every N from 1 to
 * that count, one run with the N-th passage made to fail, through the
 * entry the command uses (scen_run, seq mode: one OS thread, a fixed
 * order).  Each armed run must end in
 *   - a clean error: the operation that met the failure reports it
 *     (verdict "error", out of memory or an I/O error), or
 *   - the verdict of the disarmed run (the failure was retried or
 *     absorbed: reclaim and retry, a read-ahead page dropped, ...), or
 *   - a skip where the disarmed run was judged: the failure took a
 *     premise away (a huge-page fault that fell back to small pages, as
 *     Linux's does when it cannot allocate, and a `require ... huge`
 *     that then does not hold), so nothing is judged,
 * and never in a crash (each run is a child process), a broken
 * invariant, a pin, frame or swap slot left over once every process
 * exited (the interpreter's end-of-run accounting, which reports a leak
 * even after an error), or a failed check (lost data).
 *
 * Every run is a forked child, the disarmed one too: the library's RCU
 * (liburcu's callback thread) must not be running in the parent when it
 * forks, or the children's rcu_barrier would wait for a thread they do
 * not have.
 *
 * Sampling: a scenario with more than SAMPLE_ABOVE passages (the two that
 * run under memory pressure, memory_4x.cow and memory_threads.cow, with
 * thousands of frame allocations and swap I/Os) has every k-th passage
 * tried, k chosen for about SAMPLE_ABOVE tries, and besides, for each
 * site it reaches, that site's first and last passage (armed through the
 * site alone): every site a scenario reaches is tried in it.  Every other
 * scenario has every passage tried.  Its files go to /dev/shm unless
 * COWLAB_TMPDIR says otherwise: thousands of runs need not wait for a
 * disk, and O_DIRECT is not what this tests.
 */
#include "testutil.h"

#include "base/faultinj.h"
#include "base/hostfile.h"
#include "scenario/interp.h"

#include <dirent.h>
#include <errno.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
/* sanitizer/allocator_interface.h, which not every compiler ships. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* What a child reports of its run. */
struct outcome {
	int rc; /* scen_run's return */
	bool failed, skipped;
	int checks;
	int fired; /* the site that failed, FI_ANY if none */
	bool host_leak;
	long heap_growth; /* bytes in use after the run, less before */
	unsigned long passages;
	unsigned long per_site[FI_NR_SITES];
	char verdict[16];
	char message[600];
};

#define SAMPLE_ABOVE 200

/* Host memory (malloc's) in use, to find what an error path forgot to
 * free: a run that ends with more in use than the disarmed run of the
 * same scenario leaked.  Only AddressSanitizer's allocator counts it
 * exactly (glibc's mallinfo2 counts the chunks its thread caches hold as
 * in use), so the sanitizer build (make test runs this test there too)
 * is where host leaks are looked for; LeakSanitizer then names the
 * allocation (a full leak check costs about 0.1 s: too much for every
 * run, so only a run whose count grew gets one). */
static long heap_in_use(void)
{
#ifdef __SANITIZE_ADDRESS__
	return (long)__sanitizer_get_current_allocated_bytes();
#else
	return 0;
#endif
}

/* The disarmed run's growth, set in the parent before the armed runs'
 * children are forked (they inherit it). */
static long base_heap_growth;

/* Run s in seq mode in this (child) process; n > 0 arms the n-th passage
 * through site (FI_ANY: any). */
static void run_child(const struct scenario *s, unsigned long n, enum fault_site site,
		      struct outcome *o)
{
	struct scen_opts opts = {.mode = SCEN_SEQ};
	static struct scen_result r;

	long heap;

	memset(o, 0, sizeof(*o));
	sync_init();
	heap = heap_in_use();
	if (n)
		cow_fault_arm(n, site);
	else
		cow_fault_count_start();
	o->rc = scen_run(s, &opts, &r);
	o->fired = cow_fault_fired();
	o->passages = cow_fault_count();
	for (int i = 0; i < FI_NR_SITES; i++)
		o->per_site[i] = cow_fault_site_count(i);
	cow_fault_disarm();
	if (o->rc == 0) {
		o->failed = r.failed;
		o->skipped = r.skipped;
		o->checks = r.checks;
		snprintf(o->verdict, sizeof(o->verdict), "%s", r.verdict);
		snprintf(o->message, sizeof(o->message), "%.500s", r.message);
	} else {
		snprintf(o->message, sizeof(o->message), "scen_run: %s (%.400s)",
			 cow_strerror(o->rc), r.message);
	}
	o->heap_growth = heap_in_use() - heap;
	if (n && o->heap_growth > base_heap_growth) {
		o->host_leak = true;
#ifdef __SANITIZE_ADDRESS__
		__lsan_do_recoverable_leak_check(); /* prints what leaked */
#endif
	}
}

/* Run in a child; false (with why) if the child crashed. */
static bool run_forked(const struct scenario *s, unsigned long n, enum fault_site site,
		       struct outcome *o, char *why, size_t len)
{
	int fds[2], status;
	ssize_t got = 0;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct outcome mine;

		close(fds[0]);
		run_child(s, n, site, &mine);
		_exit(fd_write_full(fds[1], &mine, sizeof(mine)) == 0 ? 0 : 97);
	}
	close(fds[1]);
	while ((size_t)got < sizeof(*o)) {
		ssize_t k = read(fds[0], (char *)o + got, sizeof(*o) - (size_t)got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += k;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		snprintf(why, len, "crashed: signal %d", WTERMSIG(status));
		return false;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || (size_t)got != sizeof(*o)) {
		snprintf(why, len, "crashed: exit status %d", WEXITSTATUS(status));
		return false;
	}
	return true;
}

struct totals {
	int scenarios, sampled;
	unsigned long passages; /* of the disarmed runs */
	unsigned long tried, clean, same, premise, bad;
	unsigned long tried_at[FI_NR_SITES], clean_at[FI_NR_SITES], same_at[FI_NR_SITES];
};

/* Is the armed run's outcome a clean error or the disarmed verdict?  0,
 * or why not. */
static const char *judge(const struct outcome *base, const struct outcome *o, bool *clean,
			 bool *premise)
{
	*clean = *premise = false;
	if (o->fired == FI_ANY)
		return "the armed passage was never reached (the count is not deterministic)";
	if (o->host_leak)
		return "host memory leaked: more in use after the run than after the disarmed one";
	if (o->rc != 0) {
		*clean = o->rc == COW_ENOMEM || o->rc == COW_EIO;
		return *clean ? NULL : "the run could not start, and not for memory or I/O";
	}
	if (o->failed && strcmp(o->verdict, "error") == 0 &&
	    (strstr(o->message, cow_strerror(COW_ENOMEM)) ||
	     strstr(o->message, cow_strerror(COW_EIO)))) {
		*clean = true;
		return NULL;
	}
	if (o->failed == base->failed && o->skipped == base->skipped &&
	    strcmp(o->verdict, base->verdict) == 0 && (o->failed || o->checks == base->checks))
		return NULL;
	if (o->skipped && !o->failed && !base->skipped) {
		*premise = true;
		return NULL;
	}
	return "neither a clean error, the disarmed verdict nor a premise given up";
}

/* Make the n-th passage through site fail, and judge the outcome. */
static void try_one(const char *path, const struct scenario *s, const struct outcome *base,
		    unsigned long n, enum fault_site site, struct totals *t)
{
	struct outcome o;
	const char *bad;
	bool clean = false, premise = false;
	char why[128];

	if (!run_forked(s, n, site, &o, why, sizeof(why))) {
		bad = why;
		o.fired = FI_ANY;
	} else {
		bad = judge(base, &o, &clean, &premise);
	}
	t->tried++;
	if (o.fired != FI_ANY) {
		t->tried_at[o.fired]++;
		t->clean_at[o.fired] += !bad && clean;
		t->same_at[o.fired] += !bad && !clean && !premise;
	}
	if (!bad) {
		t->clean += clean;
		t->premise += premise;
		t->same += !clean && !premise;
		return;
	}
	t->bad++;
	print_message("# BAD %s, failure %lu of %lu through %s (%s): %s\n#   got %s%s%s: %s\n#   "
		      "disarmed: %s\n",
		      path, n, site == FI_ANY ? base->passages : base->per_site[site],
		      site == FI_ANY ? "any site" : cow_fault_site_name(site),
		      o.fired == FI_ANY ? "?" : cow_fault_site_name(o.fired), bad,
		      o.failed ? "" : "ok", o.verdict, o.skipped ? " (skipped)" : "", o.message,
		      base->failed ? base->verdict : "ok");
}

/* Every passage of one scenario (or a sample, see the top), each made to
 * fail in turn. */
static void inject_scenario(const char *path, struct totals *t, unsigned long *reached)
{
	struct outcome base;
	struct scenario *s;
	char err[512], why[128];
	unsigned long step = 1;

	if (scen_load(path, &s, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if (!run_forked(s, 0, FI_ANY, &base, why, sizeof(why)))
		fail_msg("%s: the disarmed run %s", path, why);
	if (base.rc != 0)
		fail_msg("%s: the disarmed run: %s", path, base.message);
	if (base.fired != FI_ANY)
		fail_msg("%s: a site failed while disarmed", path);
	base_heap_growth = base.heap_growth;
	for (int i = 0; i < FI_NR_SITES; i++)
		reached[i] += base.per_site[i];
	if (base.passages > SAMPLE_ABOVE) {
		step = (base.passages + SAMPLE_ABOVE - 1) / SAMPLE_ABOVE;
		t->sampled++;
		for (int i = 0; i < FI_NR_SITES; i++) {
			if (base.per_site[i] == 0)
				continue;
			try_one(path, s, &base, 1, i, t);
			if (base.per_site[i] > 1)
				try_one(path, s, &base, base.per_site[i], i, t);
		}
	}
	for (unsigned long n = 1; n <= base.passages; n += step)
		try_one(path, s, &base, n, FI_ANY, t);
	t->scenarios++;
	t->passages += base.passages;
	scen_free(s);
}

static void inject_folder(const char *dir, struct totals *t, unsigned long *reached)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	if (n < 0)
		fail_msg("run the tests from the repository root (no %s/ here)", dir);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);
		char path[512];

		if (len > 4 && strcmp(names[i]->d_name + len - 4, ".cow") == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			inject_scenario(path, t, reached);
		}
		free(names[i]);
	}
	free(names);
}

static void test_every_site_of_every_scenario(void **state)
{
	static const char *const dirs[] = {"scenarios", "scenarios/gup", "scenarios/matrix"};
	/* The sites the swap, direct-I/O and KSM scenarios must reach. */
	static const enum fault_site needed[] = {
		FI_FRAME_ALLOC,	   FI_PGTABLE_ALLOC,  FI_MM_ALLOC,    FI_VMA_ALLOC,
		FI_ANON_VMA_ALLOC, FI_AVC_ALLOC,      FI_SWAP_DEVICE, FI_SWAP_SLOT,
		FI_SWAP_CACHE_ADD, FI_SWAP_WRITE,     FI_SWAP_READ,   FI_GUP_ALLOC,
		FI_DIO_OPEN,	   FI_DIO_SUBMIT,     FI_DIO_STEP,    FI_DIO_COMPLETE,
		FI_KSM_ITEM_ALLOC, FI_KSM_NODE_ALLOC,
	};
	static struct totals t;
	unsigned long reached[FI_NR_SITES] = {0};
	struct timespec a, b;
	int sites = 0;

	(void)state;
	if (access("/dev/shm", W_OK) == 0)
		setenv("COWLAB_TMPDIR", "/dev/shm", 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		inject_folder(dirs[i], &t, reached);
	clock_gettime(CLOCK_MONOTONIC, &b);
	for (int i = 0; i < FI_NR_SITES; i++) {
		sites += reached[i] > 0;
		print_message(
			"# faultinj: %-16s %6lu tried, %6lu clean errors, %6lu same verdict\n",
			cow_fault_site_name(i), t.tried_at[i], t.clean_at[i], t.same_at[i]);
	}
	print_message("# faultinj: %d scenarios (%d sampled), %d of %d sites reached, %lu "
		      "passages, %lu failures tried: %lu clean errors, %lu same verdict, %lu "
		      "premises given up, %lu bad (%.1fs)\n",
		      t.scenarios, t.sampled, sites, FI_NR_SITES, t.passages, t.tried, t.clean,
		      t.same, t.premise, t.bad,
		      (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	assert_true(t.scenarios >= 50);
	for (size_t i = 0; i < ARRAY_SIZE(needed); i++)
		if (reached[needed[i]] == 0)
			fail_msg("no scenario passes site %s", cow_fault_site_name(needed[i]));
	/* Injection must really fail things: every site reached was made
	 * to fail at least once, and some runs failed cleanly. */
	for (int i = 0; i < FI_NR_SITES; i++)
		if (reached[i] > 0 && t.tried_at[i] == 0)
			fail_msg("site %s was reached but never made to fail",
				 cow_fault_site_name(i));
	assert_true(t.clean > 0);
	assert_int_equal(t.bad, 0);
}

/* The counter itself: passages are counted per site and in all, the n-th
 * passage of the armed site fails once, and disarmed sites never fail. */
static void test_countdown(void **state)
{
	(void)state;
	cow_fault_arm(3, FI_SWAP_READ);
	assert_false(FAULT_HIT(FI_SWAP_READ));
	assert_false(FAULT_HIT(FI_FRAME_ALLOC)); /* another site: not counted */
	assert_false(FAULT_HIT(FI_SWAP_READ));
	assert_int_equal(cow_fault_fired(), FI_ANY);
	assert_true(FAULT_HIT(FI_SWAP_READ));
	assert_int_equal(cow_fault_fired(), FI_SWAP_READ);
	assert_false(FAULT_HIT(FI_SWAP_READ)); /* once */
	assert_int_equal(cow_fault_count(), 4);
	assert_int_equal(cow_fault_site_count(FI_SWAP_READ), 4);
	assert_int_equal(cow_fault_site_count(FI_FRAME_ALLOC), 1);
	cow_fault_arm(2, FI_ANY);
	assert_false(FAULT_HIT(FI_DIO_STEP));
	assert_true(FAULT_HIT(FI_KSM_NODE_ALLOC));
	cow_fault_disarm();
	assert_false(FAULT_HIT(FI_KSM_NODE_ALLOC));
	assert_string_equal(cow_fault_site_name(FI_SWAP_SLOT), "swap_slot");
	assert_int_equal(cow_fault_site_find("dio_step"), FI_DIO_STEP);
	assert_int_equal(cow_fault_site_find("nonsense"), -2);
	for (int i = 0; i < FI_NR_SITES; i++)
		assert_non_null(cow_fault_site_name(i));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_countdown),
		cmocka_unit_test(test_every_site_of_every_scenario),
	};

	/* No test_init(): the runs happen in children (see the top). */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
