/*
 * Tests of src/scenario's lexer and parser: the parsed form of every
 * construct of the grammar in scenario.h, every class of error with its
 * exact line and column, and robustness on hostile input (random bytes,
 * random token soup, mutations of a good file, the committed fuzz corpus,
 * tabs, CRLF, long lines, no final newline).  Every text is handed to the
 * parser in a buffer of exactly its length, so a read past the end shows
 * under valgrind or ASan.
 */
#include "testutil.h"

#include "scenario/lexer.h"
#include "scenario/scenario.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH "t.cow"
#define RW (COW_PROT_READ | COW_PROT_WRITE)

static const char *argv0;
static char last_err[1024];

/* Parse len bytes of text from an exact-size copy. */
static int parse_raw(const char *text, size_t len, struct scenario **s)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len)
		memcpy(copy, text, len);
	*s = NULL;
	last_err[0] = '\0';
	rc = scen_parse(PATH, copy, len, s, last_err, sizeof(last_err));
	free(copy);
	return rc;
}

static struct scenario *parse_ok_n(const char *text, size_t len)
{
	struct scenario *s;
	int rc = parse_raw(text, len, &s);

	char msg[256];

	if (rc != 0)
		fail_msg("parse failed (%d): %s", rc, last_err);
	assert_non_null(s);
	if (scen_check(s, msg, sizeof(msg)))
		fail_msg("the parsed scenario is broken: %s", msg);
	return s;
}

#define parse_ok(text) parse_ok_n((text), strlen(text))

/* The parse fails with COW_EINVAL and "t.cow:WHERE: ...MSG...". */
static void expect_err_n(const char *text, size_t len, const char *where, const char *msg)
{
	struct scenario *s;
	char prefix[64];
	int rc = parse_raw(text, len, &s);

	if (rc == 0) {
		scen_free(s);
		fail_msg("parsed, but expected an error at %s: %s", where, msg);
	}
	assert_int_equal(rc, COW_EINVAL);
	assert_null(s);
	snprintf(prefix, sizeof(prefix), PATH ":%s: ", where);
	if (strncmp(last_err, prefix, strlen(prefix)) || !strstr(last_err, msg))
		fail_msg("error \"%s\"; expected \"%s...%s...\"", last_err, prefix, msg);
}

#define expect_err(text, where, msg) expect_err_n((text), strlen(text), (where), (msg))
/* For literals holding NUL bytes. */
#define expect_err_lit(text, where, msg) expect_err_n((text), sizeof(text) - 1, (where), (msg))

static const char example[] = "# The seed's race, without direct I/O for now.\n"
			      "system cpus=4 zero_page=off\n"
			      "policy linux-2.6.29\n"
			      "file data 8K fill=0x5a\n"
			      "process P\n"
			      "  map buf 3 pages rw private\n"
			      "  write buf 0x00\n"
			      "  write buf[0..4K] data[0..4K]\n"
			      "  thread forker fork C\n"
			      "  thread writer\n"
			      "    write buf[5000] 0x01\n"
			      "    read buf[0..+16]\n"
			      "  join\n"
			      "  check corrupt buf[5000] == 0x01\n"
			      "  check corrupt buf[0..4K] == data[0..4K]\n"
			      "process C\n"
			      "  check leak buf[5000..+1] != 0x01\n"
			      "  write buf[8K..12K] \"child\\n\"\n"
			      "  mprotect buf[0..4K] ro\n"
			      "  madvise buf[4K..+4K] dontneed\n"
			      "  munmap buf[8K..+4K]\n"
			      "  check leak buf[8K] faults\n"
			      "  exit\n"
			      "thread t1 in P\n"
			      "  write buf 0x11\n"
			      "join\n";

/* Direct I/O racing fork (the forkscrew pattern), a pin and a pipe read
 * by the child: the get_user_pages operations together. */
static const char gup_example[] = "file data 12K fill=0x5a\n"
				  "process P\n"
				  "  map buf 3 pages\n"
				  "  write buf 0x2a\n"
				  "  thread worker0\n"
				  "    dio_read data[0..4K] -> buf[512..+4K]\n"
				  "    wait\n"
				  "  thread forker fork C\n"
				  "  thread worker1\n"
				  "    dio_read data[4K..8K] -> buf[4608..+4K]\n"
				  "  join\n"
				  "  check corrupt buf[512..+4K] == data[0..4K]\n"
				  "  pin P1 buf[0..4K] fast\n"
				  "  vmsplice buf[4K..8K] -> pipe1\n"
				  "  check desync P1[0..4K] == 0x2a\n"
				  "  check leak pipe1 == 0x5a\n"
				  "  unpin P1\n"
				  "process C\n"
				  "  pipe_read pipe1 -> buf[8K..12K]\n"
				  "  check leak data[0..512] == 0x5a\n";

/* A forced write into a read-only private file mapping (Dirty COW's
 * shape), beside a file direct I/O may use: file= and poke together. */
static const char file_example[] = "file passwd 4K fill=0x5a\n"
				   "file io 4K\n"
				   "process P\n"
				   "  map view 4K ro private file=passwd\n"
				   "  map buf 4K\n"
				   "  read view\n"
				   "  thread poker\n"
				   "    poke view[0..8] 0x66\n"
				   "  thread zapper\n"
				   "    madvise view dontneed\n"
				   "  join\n"
				   "  dio_read io -> buf\n"
				   "  poke buf \"ab\"\n"
				   "  check overwrite passwd == 0x5a\n";

static void assert_loc(struct scen_loc loc, int line, int col)
{
	if (loc.line != line || loc.col != col)
		fail_msg("at %d:%d, expected %d:%d", loc.line, loc.col, line, col);
}

static void assert_range(const struct scen_range *r, int name, bool whole, unsigned long off,
			 unsigned long len)
{
	assert_int_equal(r->name, name);
	assert_int_equal(r->whole, whole);
	assert_int_equal(r->off, off);
	assert_int_equal(r->len, len);
}

static void check_example(const struct scenario *s)
{
	const struct scen_op *op = s->ops;
	const struct scen_thread *t = s->threads;

	assert_string_equal(s->path, PATH);
	assert_int_equal(s->cpus, 4);
	assert_int_equal(s->zero_page, 0);
	assert_int_equal(s->frames, 0);
	assert_string_equal(s->policy, "linux-2.6.29");
	assert_int_equal(s->nr_files, 1);
	assert_string_equal(s->files[0].name, "data");
	assert_int_equal(s->files[0].size, 8192);
	assert_int_equal(s->files[0].fill, 0x5a);
	assert_int_equal(s->nr_procs, 2);
	assert_string_equal(s->procs[0].name, "P");
	assert_loc(s->procs[0].loc, 5, 9);
	assert_string_equal(s->procs[1].name, "C");
	assert_loc(s->procs[1].loc, 9, 22);
	assert_int_equal(s->nr_maps, 1);
	assert_string_equal(s->maps[0].name, "buf");
	assert_int_equal(s->maps[0].len, 12288);
	assert_int_equal(s->nr_ops, 14);
	assert_int_equal(s->nr_threads, 3);
	assert_int_equal(s->max_group, 2);
	assert_int_equal(s->nr_checks, 4);

	assert_int_equal(op[0].kind, OP_MAP);
	assert_loc(op[0].loc, 6, 3);
	assert_int_equal(op[0].proc, 0);
	assert_int_equal(op[0].map.name, 0);
	assert_int_equal(op[0].map.len, 12288);
	assert_int_equal(op[0].map.prot, RW);
	assert_false(op[0].map.shared);
	assert_int_equal(op[0].map.file, -1);
	assert_false(s->files[0].mapped);

	assert_int_equal(op[1].kind, OP_WRITE);
	assert_loc(op[1].loc, 7, 3);
	assert_range(&op[1].write.range, 0, true, 0, 12288);
	assert_false(op[1].write.range.is_file);
	assert_int_equal(op[1].write.value.kind, VAL_BYTE);
	assert_int_equal(op[1].write.value.byte, 0);

	assert_int_equal(op[2].kind, OP_WRITE);
	assert_range(&op[2].write.range, 0, false, 0, 4096);
	assert_int_equal(op[2].write.value.kind, VAL_FILE);
	assert_true(op[2].write.value.file.is_file);
	assert_range(&op[2].write.value.file, 0, false, 0, 4096);

	assert_int_equal(op[3].kind, OP_GROUP);
	assert_loc(op[3].loc, 9, 3);
	assert_int_equal(op[3].proc, 0);
	assert_int_equal(op[3].group.first, 0);
	assert_int_equal(op[3].group.nr, 2);

	assert_string_equal(t[0].name, "forker");
	assert_loc(t[0].loc, 9, 3);
	assert_int_equal(t[0].proc, 0);
	assert_int_equal(t[0].nr_ops, 1);
	assert_int_equal(t[0].ops[0].kind, OP_FORK);
	assert_loc(t[0].ops[0].loc, 9, 17);
	assert_int_equal(t[0].ops[0].proc, 0);
	assert_int_equal(t[0].ops[0].fork.child, 1);

	assert_string_equal(t[1].name, "writer");
	assert_loc(t[1].loc, 10, 3);
	assert_int_equal(t[1].proc, 0);
	assert_int_equal(t[1].nr_ops, 2);
	assert_int_equal(t[1].ops[0].kind, OP_WRITE);
	assert_loc(t[1].ops[0].loc, 11, 5);
	assert_range(&t[1].ops[0].write.range, 0, false, 5000, 1);
	assert_int_equal(t[1].ops[0].write.value.kind, VAL_BYTE);
	assert_int_equal(t[1].ops[0].write.value.byte, 1);
	assert_int_equal(t[1].ops[1].kind, OP_READ);
	assert_loc(t[1].ops[1].loc, 12, 5);
	assert_range(&t[1].ops[1].read.range, 0, false, 0, 16);

	assert_int_equal(op[4].kind, OP_CHECK);
	assert_loc(op[4].loc, 14, 3);
	assert_int_equal(op[4].check.verdict, VERDICT_CORRUPT);
	assert_int_equal(op[4].check.cmp, CMP_EQ);
	assert_range(&op[4].check.range, 0, false, 5000, 1);
	assert_int_equal(op[4].check.value.kind, VAL_BYTE);
	assert_int_equal(op[4].check.value.byte, 1);

	assert_int_equal(op[5].kind, OP_CHECK);
	assert_int_equal(op[5].check.cmp, CMP_EQ);
	assert_range(&op[5].check.range, 0, false, 0, 4096);
	assert_int_equal(op[5].check.value.kind, VAL_FILE);
	assert_range(&op[5].check.value.file, 0, false, 0, 4096);

	assert_int_equal(op[6].kind, OP_CHECK);
	assert_int_equal(op[6].proc, 1);
	assert_loc(op[6].loc, 17, 3);
	assert_int_equal(op[6].check.verdict, VERDICT_LEAK);
	assert_int_equal(op[6].check.cmp, CMP_NE);
	assert_range(&op[6].check.range, 0, false, 5000, 1);

	assert_int_equal(op[7].kind, OP_WRITE);
	assert_int_equal(op[7].proc, 1);
	assert_range(&op[7].write.range, 0, false, 8192, 4096);
	assert_int_equal(op[7].write.value.kind, VAL_BYTES);
	assert_int_equal(op[7].write.value.nbytes, 6);
	assert_memory_equal(op[7].write.value.bytes, "child\n", 6);

	assert_int_equal(op[8].kind, OP_MPROTECT);
	assert_range(&op[8].mprotect.range, 0, false, 0, 4096);
	assert_int_equal(op[8].mprotect.prot, COW_PROT_READ);

	assert_int_equal(op[9].kind, OP_MADVISE);
	assert_range(&op[9].madvise.range, 0, false, 4096, 4096);
	assert_int_equal(op[9].madvise.advice, COW_MADV_DONTNEED);

	assert_int_equal(op[10].kind, OP_MUNMAP);
	assert_range(&op[10].munmap.range, 0, false, 8192, 4096);

	assert_int_equal(op[11].kind, OP_CHECK);
	assert_int_equal(op[11].check.verdict, VERDICT_LEAK);
	assert_int_equal(op[11].check.cmp, CMP_FAULTS);
	assert_range(&op[11].check.range, 0, false, 8192, 1);

	assert_int_equal(op[12].kind, OP_EXIT);
	assert_int_equal(op[12].proc, 1);
	assert_loc(op[12].loc, 23, 3);

	assert_int_equal(op[13].kind, OP_GROUP);
	assert_loc(op[13].loc, 24, 1);
	assert_int_equal(op[13].proc, 0);
	assert_int_equal(op[13].group.first, 2);
	assert_int_equal(op[13].group.nr, 1);
	assert_string_equal(t[2].name, "t1");
	assert_loc(t[2].loc, 24, 1);
	assert_int_equal(t[2].proc, 0);
	assert_int_equal(t[2].nr_ops, 1);
	assert_int_equal(t[2].ops[0].kind, OP_WRITE);
	assert_loc(t[2].ops[0].loc, 25, 3);
	assert_range(&t[2].ops[0].write.range, 0, true, 0, 12288);
	assert_int_equal(t[2].ops[0].write.value.byte, 0x11);
}

static void test_example_structure(void **state)
{
	struct scenario *s = parse_ok(example);

	(void)state;
	check_example(s);
	scen_free(s);
}

/* The same example with CRLF line endings, and without a final newline. */
static void test_crlf_and_no_final_newline(void **state)
{
	char crlf[2 * sizeof(example)], *p = crlf;
	struct scenario *s;

	(void)state;
	for (const char *c = example; *c; c++) {
		if (*c == '\n')
			*p++ = '\r';
		*p++ = *c;
	}
	s = parse_ok_n(crlf, (size_t)(p - crlf));
	check_example(s);
	scen_free(s);
	/* Without the last newline (and without the last CRLF). */
	s = parse_ok_n(example, strlen(example) - 1);
	check_example(s);
	scen_free(s);
	s = parse_ok_n(crlf, (size_t)(p - crlf) - 2);
	check_example(s);
	scen_free(s);
	/* A lone CR at the very end counts as a line end. */
	s = parse_ok("process P\r");
	assert_int_equal(s->nr_procs, 1);
	scen_free(s);
	expect_err("process P\r\n  wirte\r\n", "2:3", "unknown operation 'wirte'");
	expect_err("process P\r  map\n", "1:10", "a carriage return in the middle of a line");
	/* The end of the text, for an error there, with and without a newline. */
	expect_err("process P\n  map x 4K\n  thread a read x\n", "4:1",
		   "the thread group that starts at line 3 is not joined: add 'join'");
	expect_err("process P\n  map x 4K\n  thread a read x", "3:18",
		   "the thread group that starts at line 3 is not joined");
	expect_err("process P\r\n  map x 4K\r\n  thread a read x\r\n", "4:1", "is not joined");
}

static void test_minimal_and_defaults(void **state)
{
	struct scenario *s = parse_ok("process P\n");

	(void)state;
	assert_int_equal(s->nr_procs, 1);
	assert_string_equal(s->procs[0].name, "P");
	assert_loc(s->procs[0].loc, 1, 9);
	assert_int_equal(s->nr_ops, 0);
	assert_int_equal(s->nr_threads, 0);
	assert_int_equal(s->nr_maps, 0);
	assert_int_equal(s->nr_files, 0);
	assert_int_equal(s->frames, 0);
	assert_int_equal(s->cpus, 0);
	assert_int_equal(s->zero_page, -1);
	assert_string_equal(s->policy, "");
	assert_int_equal(s->max_group, 0);
	assert_int_equal(s->nr_checks, 0);
	assert_string_equal(s->path, PATH);
	scen_free(s);
	scen_free(NULL);
}

static void test_empty_scenarios(void **state)
{
	struct scenario *s = (struct scenario *)&s;

	(void)state;
	expect_err("", "1:1", "the scenario is empty: it needs at least one process");
	expect_err("# only\n# comments\n\n   \n\t# here\n", "1:1",
		   "the scenario is empty: it needs at least one process");
	expect_err("\n\n\r\n", "1:1", "the scenario is empty");
	expect_err("file data 4K\n", "1:1", "the scenario has no process");
	expect_err("system cpus=2\npolicy linux-6.5\n", "1:1", "the scenario has no process");
	/* No text at all, not even a buffer. */
	assert_int_equal(scen_parse(PATH, NULL, 0, &s, last_err, sizeof(last_err)), COW_EINVAL);
	assert_string_equal(last_err,
			    PATH ":1:1: the scenario is empty: it needs at least one process");
	assert_ptr_equal(s, (struct scenario *)&s); /* untouched on error */
	/* A NULL path and a tiny error buffer are survived. */
	assert_int_equal(scen_parse(NULL, "", 0, &s, last_err, 8), COW_EINVAL);
	assert_int_equal(strlen(last_err), 7);
	assert_int_equal(scen_parse(NULL, "", 0, &s, NULL, 0), COW_EINVAL);
}

static void test_system_line(void **state)
{
	struct scenario *s;

	(void)state;
	s = parse_ok("system frames=4K cpus=64 zero_page=on\nprocess P\n");
	assert_int_equal(s->frames, 4096);
	assert_int_equal(s->cpus, 64);
	assert_int_equal(s->zero_page, 1);
	scen_free(s);
	s = parse_ok("# settings\nfile d 4K\nsystem frames=0x100\nprocess P\n");
	assert_int_equal(s->frames, 256);
	assert_int_equal(s->cpus, 0);
	assert_int_equal(s->zero_page, -1);
	scen_free(s);
	s = parse_ok("system frames=16M\nprocess P\n");
	assert_int_equal(s->frames, 16UL << 20);
	scen_free(s);
	expect_err("system cpus=4\nsystem cpus=2\n", "2:1",
		   "a second 'system' line: the first is at line 1");
	expect_err("process P\nsystem cpus=2\n", "2:1",
		   "'system' must come before the first process or thread");
	expect_err("system cpu=4\n", "1:8", "unknown system setting 'cpu' (did you mean 'cpus'?)");
	expect_err("system cpus=4 cpus=4\n", "1:15", "'cpus' is given twice");
	expect_err("system cpus=0\n", "1:13", "expected a CPU count from 1 to 64 after 'cpus='");
	expect_err("system cpus=65\n", "1:13", "found '65'");
	expect_err("system frames=0\n", "1:15", "expected a frame count from 1 to 16M");
	expect_err("system frames=16777217\n", "1:15", "expected a frame count");
	expect_err("system zero_page=maybe\n", "1:18", "expected on or off after 'zero_page='");
	expect_err("system cpus 4\n", "1:13", "expected '=' after 'cpus', found '4'");
	expect_err("system 4\n", "1:8", "expected a setting like cpus=4, found '4'");
	expect_err("process P\n  system cpus=4\n", "2:3", "'system' is only allowed at top level");
}

static void test_policy_line(void **state)
{
	struct scenario *s = parse_ok("policy linux-6.5\nprocess P\n");

	(void)state;
	assert_string_equal(s->policy, "linux-6.5");
	scen_free(s);
	expect_err("policy linux-6.5\npolicy linux-5.8\n", "2:1",
		   "a second 'policy' line: the first is at line 1");
	expect_err("process P\npolicy a\n", "2:1",
		   "'policy' must come before the first process or thread");
	expect_err("process P\n  map x 4K\nthread t in P read x\njoin\npolicy a\n", "5:1",
		   "'policy' must come before");
	expect_err("policy\n", "1:7",
		   "expected a policy name like linux-6.5, found the end of the line");
	expect_err("policy linux-6.5 b\n", "1:18", "unexpected 'b' after the policy name");
	expect_err("policy frob\n", "1:8", "unknown policy 'frob' (cowlab policies lists them)");
	expect_err("policy 2.6\n", "1:8", "expected a policy name like linux-6.5, found '2'");
}

/* A rule set of the user's on the policy line: PRESET + RULE = VALUE ...,
 * kept as --policy takes it; cow_policy_find() makes it under its
 * canonical name (rules in the knobs' order, only those that differ), a
 * set that changes nothing is the preset, and a bad rule or value is
 * named with the choices. */
static void test_policy_rule_sets(void **state)
{
	struct scenario *s = parse_ok("policy linux-6.5 + reclaim=unmap-any +fork = share\n"
				      "process P\n");
	const struct cow_policy *p, *base = cow_policy_find("linux-6.5");
	char err[256];

	(void)state;
	assert_string_equal(s->policy, "linux-6.5+reclaim=unmap-any+fork=share");
	p = cow_policy_find(s->policy);
	assert_non_null(p);
	assert_string_equal(cow_policy_name(p), "linux-6.5+fork=share+reclaim=unmap-any");
	assert_ptr_equal(p, cow_policy_find("linux-6.5+fork=share+reclaim=unmap-any"));
	assert_true(cow_policy_hash(p) != cow_policy_hash(base));
	for (int i = 0; i < cow_policy_knob_count(); i++) {
		const char *what, *name = cow_policy_knob(i, &what, &(int){0}), *text;
		const char *want = strcmp(name, "fork") == 0	  ? "share"
				   : strcmp(name, "reclaim") == 0 ? "unmap-any"
								  : NULL;

		if (want)
			assert_string_equal(
				cow_policy_knob_value(i, cow_policy_knob_get(p, i), &text), want);
		else
			assert_int_equal(cow_policy_knob_get(p, i), cow_policy_knob_get(base, i));
	}
	scen_free(s);
	/* Setting a rule to the preset's own value changes nothing. */
	assert_ptr_equal(cow_policy_find("linux-6.5+anon_exclusive=on"), base);
	assert_int_equal(cow_policy_check("linux-6.5+fork=share", err, sizeof(err)), 0);
	assert_int_equal(cow_policy_check("linux-6.5+fork", err, sizeof(err)), COW_EINVAL);
	assert_string_equal(err, "'fork' is not RULE=VALUE");
	assert_int_equal(cow_policy_check("linux-6.5+fork=share+fork=share", err, sizeof(err)),
			 COW_EINVAL);
	assert_string_equal(err, "rule 'fork' is set twice");
	assert_null(cow_policy_find("linux-6.5+fork=sometimes"));
	expect_err("policy linux-6.5 + fork = sometimes\n", "1:8",
		   "policy linux-6.5+fork=sometimes: rule 'fork' has no value 'sometimes' (one of "
		   "share, copy-gup-flagged, copy-dontcow, copy-pinned, copy-pinned-exclusive)");
	expect_err("policy linux-6.5 + frok = share\n", "1:8",
		   "policy linux-6.5+frok=share: unknown rule 'frok' (cowlab policies --rules "
		   "lists them)");
	expect_err("policy linux-6.6 + fork = share\n", "1:8", "unknown policy 'linux-6.6'");
	expect_err("policy linux-6.5 + fork share\n", "1:25",
		   "expected '=' after the rule fork, found 'share'");
	expect_err("policy linux-6.5 +\n", "1:19", "expected a rule name after '+'");
}

/* expect VERDICT PRESET...: one entry a preset, in file order; the
 * presets come from the policy table, never from this test. */
static void test_expect_lines(void **state)
{
	const char *p0 = cow_policy_name(cow_policy_at(0));
	const char *dflt = cow_policy_name(cow_policy_default());
	const char *const *words, *other, *mean;
	char text[1024], msg[256], where[16];
	struct scenario *s;
	int nr;

	(void)state;
	assert_true(cow_policy_count() >= 2);
	s = parse_ok("process P\n");
	assert_int_equal(s->nr_expects, 0);
	assert_null(scen_expected(s, dflt));
	scen_free(s);
	/* Every preset in one line, a verdict each in others. */
	snprintf(text, sizeof(text), "system cpus=2\nexpect pass");
	for (int i = 0; i < cow_policy_count(); i++)
		if (cow_policy_at(i) != cow_policy_default()) {
			strcat(text, " ");
			strcat(text, cow_policy_name(cow_policy_at(i)));
		}
	strcat(text, "  # the others\npolicy linux-6.5\nexpect  leak ");
	strcat(text, dflt);
	strcat(text, "\nprocess P\n");
	s = parse_ok(text);
	assert_int_equal(s->nr_expects, cow_policy_count());
	for (int i = 0; i < cow_policy_count(); i++) {
		const char *name = cow_policy_name(cow_policy_at(i));

		assert_string_equal(scen_expected(s, name),
				    cow_policy_at(i) == cow_policy_default() ? "leak" : "pass");
	}
	assert_string_equal(s->expects[0].preset,
			    p0 == dflt ? cow_policy_name(cow_policy_at(1)) : p0);
	assert_loc(s->expects[0].loc, 2, 13);
	assert_loc(s->expects[s->nr_expects - 1].loc, 4, 14);
	assert_null(scen_expected(s, "no-such-preset"));
	/* scen_check holds expectations to the same rules. */
	assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
	snprintf(s->expects[0].verdict, sizeof(s->expects[0].verdict), "deadlock");
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "2:13: expectation 0 is bad"));
	snprintf(s->expects[0].verdict, sizeof(s->expects[0].verdict), "pass");
	snprintf(s->expects[0].preset, sizeof(s->expects[0].preset), "%s", dflt);
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "a second expectation for"));
	snprintf(s->expects[0].preset, sizeof(s->expects[0].preset), "linux-0");
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	scen_free(s);
	/* Every verdict word is taken. */
	words = scen_expect_verdicts(&nr);
	assert_int_equal(nr, 8);
	assert_string_equal(words[0], "pass");
	for (int i = 0; i < nr; i++) {
		snprintf(text, sizeof(text), "expect %s %s\nprocess P\n", words[i], dflt);
		s = parse_ok(text);
		assert_string_equal(scen_expected(s, dflt), words[i]);
		scen_free(s);
	}
	for (int v = VERDICT_CORRUPT; v <= VERDICT_OVERWRITE; v++)
		assert_string_equal(words[1 + v], scen_verdict_name((enum scen_verdict)v));

	/* The errors. */
	snprintf(text, sizeof(text), "expect lek %s\n", dflt);
	expect_err(text, "1:8",
		   "expected a verdict after 'expect' (pass, corrupt, leak, desync, overwrite, "
		   "crash, error or skip), found 'lek' (did you mean 'leak'?)");
	snprintf(text, sizeof(text), "expect deadlock %s\n", dflt);
	expect_err(text, "1:8", "expected a verdict after 'expect' (pass, corrupt");
	expect_err("expect\n", "1:7", "expected a verdict after 'expect'");
	assert_non_null(strstr(last_err, "found the end of the line"));
	expect_err("expect pass\nprocess P\n", "1:12",
		   "expected a preset name like linux-6.5 after 'expect pass' (see 'cowlab "
		   "policies'), found the end of the line");
	expect_err("expect leak   # no preset\nprocess P\n", "1:15",
		   "expected a preset name like linux-6.5 after 'expect leak'");
	expect_err("expect pass no-such-preset\n", "1:13",
		   "unknown preset 'no-such-preset' (see 'cowlab policies')");
	/* One character off: a suggestion, a preset (which one depends on
	 * the table: several may be as close). */
	snprintf(text, sizeof(text), "expect pass %sx\n", dflt);
	expect_err(text, "1:13", "unknown preset '");
	mean = strstr(last_err, "(did you mean '");
	assert_non_null(mean);
	assert_non_null(strstr(mean, "'?) (see 'cowlab policies')"));
	mean += strlen("(did you mean '");
	snprintf(text, sizeof(text), "%.*s", (int)(strchr(mean, '\'') - mean), mean);
	assert_non_null(cow_policy_find(text));
	expect_err("expect pass 6.5\n", "1:13", "expected a preset name like linux-6.5, found '6'");
	snprintf(text, sizeof(text), "expect pass %s %s\n", dflt, dflt);
	snprintf(where, sizeof(where), "1:%d", 14 + (int)strlen(dflt));
	expect_err(text, where, "a second expectation for '");
	assert_non_null(strstr(last_err, dflt));
	other = p0 == dflt ? cow_policy_name(cow_policy_at(1)) : dflt;
	snprintf(text, sizeof(text), "expect pass %s\n\nexpect leak %s %s\n", p0, other, p0);
	snprintf(where, sizeof(where), "3:%d", 14 + (int)strlen(other));
	expect_err(text, where, "': the first is at line 1");
	snprintf(text, sizeof(text), "process P\nexpect pass %s\n", dflt);
	expect_err(text, "2:1", "'expect' must come before the first process or thread");
	snprintf(text, sizeof(text), "process P\n  expect pass %s\n", dflt);
	expect_err(text, "2:3", "'expect' is only allowed at top level");
	expect_err("process expect\n", "1:9", "'expect' is a keyword and cannot be a name");
	expect_err("expct pass\n", "1:1", "unknown statement 'expct' (did you mean 'expect'?)");
	/* Only the first error counts, and the expectations made go with the
	 * scenario (valgrind shows a leak otherwise). */
	snprintf(text, sizeof(text), "expect pass %s\nprocess P\n  bogus\n", dflt);
	expect_err(text, "3:3", "unknown operation 'bogus'");
}

static void test_file_line(void **state)
{
	struct scenario *s =
		parse_ok("file data 8K fill=0x5a\nfile b 1\nfile c 2 pages\nprocess P\nfile d 3\n");

	(void)state;
	assert_int_equal(s->nr_files, 4);
	assert_string_equal(s->files[0].name, "data");
	assert_int_equal(s->files[0].size, 8192);
	assert_int_equal(s->files[0].fill, 0x5a);
	assert_int_equal(s->files[1].size, 1);
	assert_int_equal(s->files[1].fill, 0);
	assert_int_equal(s->files[2].size, 8192);
	assert_int_equal(s->files[3].size, 3);
	scen_free(s);
	s = parse_ok("file big 64M\nprocess P\n");
	assert_int_equal(s->files[0].size, 64UL << 20);
	scen_free(s);
	expect_err("file data 4K\nfile data 4K\n", "2:6",
		   "file 'data' is already declared at line 1");
	expect_err("file d 0\n", "1:8", "a file needs a size above 0");
	expect_err("file d 65M\n", "1:8", "a file is at most 64M");
	expect_err("file d 4K fill=12\n", "1:16", "expected a byte in hex, like 0x01, found '12'");
	expect_err("file d 4K fill=0x100\n", "1:16", "the byte '0x100' is out of range");
	expect_err("file d 4K fill 0x1\n", "1:16", "expected '=' after 'fill'");
	expect_err("file d 4K junk\n", "1:11",
		   "unexpected 'junk': a file is declared as 'file NAME SIZE [fill=BYTE]'");
	expect_err("file d\n", "1:7", "expected a size like 8K or 2 pages after the file name");
	expect_err("file\n", "1:5", "expected a file name after 'file', found the end of the line");
	expect_err("file thread 4K\n", "1:6", "'thread' is a keyword and cannot be a name");
	expect_err("process P\n  file x 4K\n", "2:3", "'file' is only allowed at top level");
}

static void test_process_blocks(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map a 4K\n"
				      "process Q\n"
				      "  map b 4K\n"
				      "process P\n"
				      "  read a\n");

	(void)state;
	assert_int_equal(s->nr_procs, 2);
	assert_int_equal(s->nr_ops, 3);
	assert_int_equal(s->ops[0].proc, 0);
	assert_int_equal(s->ops[1].proc, 1);
	assert_int_equal(s->ops[2].proc, 0);
	assert_int_equal(s->ops[2].kind, OP_READ);
	assert_loc(s->ops[2].loc, 6, 3);
	scen_free(s);
	expect_err("process P Q\n", "1:11", "unexpected 'Q' after the process name");
	expect_err("process\n", "1:8", "expected a process name after 'process'");
	expect_err("process map\n", "1:9", "'map' is a keyword and cannot be a name");
	expect_err("process P\n  process Q\n", "2:3", "'process' is only allowed at top level");
}

static void test_sizes(void **state)
{
	static const unsigned long want[] = {4096,  4096, 4096,	     2UL << 20, 4096,
					     12288, 8192, 1UL << 30, 16384,	8192};
	struct scenario *s = parse_ok("process P\n"
				      "  map a 123\n"
				      "  map b 0x1f\n"
				      "  map c 4K\n"
				      "  map d 2M\n"
				      "  map e 1 page\n"
				      "  map f 3 pages\n"
				      "  map g 4097\n"
				      "  map h 1G\n"
				      "  map i 0x10k\n"
				      "  map j 2 page\n");

	(void)state;
	assert_int_equal(s->nr_maps, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_int_equal(s->maps[i].len, want[i]);
		assert_int_equal(s->ops[i].map.len, want[i]);
		assert_int_equal(s->ops[i].map.name, i);
	}
	scen_free(s);
	expect_err("process P\n  map a 0\n", "2:9", "a mapping needs a size above 0");
	expect_err("process P\n  map a 4K pages\n", "2:12",
		   "a size is a number of bytes (like 8K) or of pages (like 2 pages), not both");
	expect_err("process P\n  map a 4KB\n", "2:9",
		   "malformed number '4KB': write numbers like 4096, 0x1000, 4K, 2M or 1G");
	expect_err("process P\n  map a 0x\n", "2:9", "malformed number '0x'");
	expect_err("process P\n  map a 12abc\n", "2:9", "malformed number '12abc'");
	expect_err("process P\n  map a\n", "2:8",
		   "expected a size like 4K or 2 pages after the mapping name, found the end of "
		   "the line");
	expect_err("process P\n  map a rw\n", "2:9",
		   "expected a size like 4K or 2 pages after the mapping name, found 'rw'");
	expect_err("process P\n  map a 65G\n", "2:9", "a mapping is at most 64G");
	expect_err("process P\n  map a 99999999999999999999\n", "2:9", "is too large");
	expect_err("process P\n  map a 0xffffffffffffffffff\n", "2:9", "is too large");
	expect_err("process P\n  map a 999999999G\n", "2:9", "is too large");
	expect_err("process P\n  map a 99999999999999 pages\n", "2:9", "is too large");
}

static void test_map_options(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map a 4K\n"
				      "  map b 4K ro\n"
				      "  map c 4K none shared\n"
				      "  map d 4K shared rw\n"
				      "  map e 4K private ro\n");
	const struct scen_op *op = s->ops;

	(void)state;
	assert_int_equal(op[0].map.prot, RW);
	assert_false(op[0].map.shared);
	assert_int_equal(op[1].map.prot, COW_PROT_READ);
	assert_false(op[1].map.shared);
	assert_int_equal(op[2].map.prot, 0);
	assert_true(op[2].map.shared);
	assert_int_equal(op[3].map.prot, RW);
	assert_true(op[3].map.shared);
	assert_int_equal(op[4].map.prot, COW_PROT_READ);
	assert_false(op[4].map.shared);
	scen_free(s);
	expect_err("process P\n  map a 4K rw ro\n", "2:15", "the protection is given twice");
	expect_err("process P\n  map a 4K shared private\n", "2:19",
		   "private or shared is given twice");
	expect_err("process P\n  map a 4K rx\n", "2:12",
		   "unknown map option 'rx' (did you mean 'rw'?): expected rw, ro, none, private, "
		   "shared, thp, hugetlb or file=FILE");
	expect_err("process P\n  map a 4K rw [\n", "2:15",
		   "unexpected '[' after the 'map' operation");
	expect_err("process P\n  map 4K\n", "2:7",
		   "expected a mapping name after 'map', found '4K'");
	expect_err("process P\n  map write 4K\n", "2:7",
		   "'write' is a keyword and cannot be a name");
	expect_err("process P\n  map in 4K\n", "2:7", "'in' is a keyword");
}

static void test_ranges(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 3 pages\n"
				      "  read buf\n"
				      "  read buf[100]\n"
				      "  read buf[1K..2K]\n"
				      "  read buf[4K..+10]\n"
				      "  read buf[0..12K]\n"
				      "  read buf[1 page..+1 page]\n"
				      "  read buf [ 0x10 .. + 0x10 ]\n"
				      "  read buf[12287]\n");
	const struct scen_op *op = s->ops;

	(void)state;
	assert_int_equal(s->nr_ops, 9);
	assert_range(&op[1].read.range, 0, true, 0, 12288);
	assert_range(&op[2].read.range, 0, false, 100, 1);
	assert_range(&op[3].read.range, 0, false, 1024, 1024);
	assert_range(&op[4].read.range, 0, false, 4096, 10);
	assert_range(&op[5].read.range, 0, false, 0, 12288);
	assert_range(&op[6].read.range, 0, false, 4096, 4096);
	assert_range(&op[7].read.range, 0, false, 16, 16);
	assert_range(&op[8].read.range, 0, false, 12287, 1);
	scen_free(s);

#define P3 "process P\n  map buf 3 pages\n"
	expect_err(P3 "  read buf[12K]\n", "3:12",
		   "offset 12288 is beyond the end of 'buf' (12288 bytes)");
	expect_err(P3 "  read buf[2K..1K]\n", "3:16",
		   "the end (1024) must be above the start (2048)");
	expect_err(P3 "  read buf[1K..1K]\n", "3:16", "must be above the start");
	expect_err(P3 "  read buf[0..13K]\n", "3:15", "end 13312 is beyond the end of 'buf'");
	expect_err(P3 "  read buf[0..+0]\n", "3:16", "the length must be above 0");
	expect_err(P3 "  read buf[8K..+5K]\n", "3:17",
		   "5120 bytes from offset 8192 go beyond the end of 'buf' (12288 bytes)");
	expect_err(P3 "  read buf[0..4K\n", "3:17",
		   "expected ']' to close the range, found the end of the line");
	expect_err(P3 "  read buf[0 4K]\n", "3:14",
		   "expected '..' or ']' after the offset, found '4K'");
	expect_err(P3 "  read buf[]\n", "3:12",
		   "expected an offset like 0, 4K or 2 pages after '['");
	expect_err(P3 "  read buf[0..]\n", "3:15", "expected an end offset like 4K, or +LENGTH");
	expect_err(P3 "  read buf[0..+]\n", "3:16", "expected a length like 16 or 4K after '+'");
	expect_err(P3 "  read bug\n", "3:8", "unknown mapping 'bug' (did you mean 'buf'?)");
	expect_err(P3 "  read zzzzzz\n", "3:8", "unknown mapping 'zzzzzz'");
	expect_err(P3 "  read buf[0.5]\n", "3:13",
		   "unexpected '.': a range is written MAP[OFF..END]");
	expect_err(
		P3 "  read\n", "3:7",
		"expected a range like buf or buf[0..4K] after 'read', found the end of the line");
	expect_err(P3 "  read buf junk\n", "3:12", "unexpected 'junk' after the 'read' operation");
	expect_err("file data 4K\n" P3 "  read data\n", "4:8",
		   "'data' is a file, not a mapping: 'read' needs a range of a mapping");
	expect_err(P3 "  read P\n", "3:8",
		   "'P' is a process, not a mapping: 'read' needs a range of a mapping");
#undef P3
}

static void test_values(void **state)
{
	struct scenario *s = parse_ok("file data 8K fill=0x5a\n"
				      "file more 100\n"
				      "process P\n"
				      "  map buf 2 pages\n"
				      "  write buf 0xff\n"
				      "  write buf \"a\\n\\t\\\\\\\"\\x41\"\n"
				      "  write buf[0..100] more\n"
				      "  write buf[0..+4K] data[4K..8K]\n"
				      "  write buf \"\xc3\xa9\"\n"
				      "  write buf \"#not a comment\" # but this is\n"
				      "  write buf[0..+8K] data\n"
				      "  write buf[1] 0x0\n");
	const struct scen_op *op = s->ops;

	(void)state;
	assert_int_equal(s->nr_ops, 9);
	assert_int_equal(op[1].write.value.kind, VAL_BYTE);
	assert_int_equal(op[1].write.value.byte, 0xff);
	assert_int_equal(op[2].write.value.kind, VAL_BYTES);
	assert_int_equal(op[2].write.value.nbytes, 6);
	assert_memory_equal(op[2].write.value.bytes, "a\n\t\\\"A", 6);
	assert_int_equal(op[3].write.value.kind, VAL_FILE);
	assert_int_equal(op[3].write.value.file.name, 1);
	assert_range(&op[3].write.value.file, 1, true, 0, 100);
	assert_range(&op[4].write.value.file, 0, false, 4096, 4096);
	assert_int_equal(op[5].write.value.nbytes, 2);
	assert_memory_equal(op[5].write.value.bytes, "\xc3\xa9", 2);
	assert_int_equal(op[6].write.value.nbytes, 14);
	assert_memory_equal(op[6].write.value.bytes, "#not a comment", 14);
	assert_range(&op[7].write.value.file, 0, true, 0, 8192);
	assert_int_equal(op[8].write.value.byte, 0);
	scen_free(s);

#define V3 "file data 8K fill=0x5a\nprocess P\n  map buf 2 pages\n"
	expect_err(V3 "  write buf 1\n", "4:13", "expected a byte in hex, like 0x01, found '1'");
	expect_err(V3 "  write buf 0x100\n", "4:13",
		   "the byte '0x100' is out of range: a byte is 0x00..0xff");
	expect_err(V3 "  write buf 0x1K\n", "4:13", "expected a byte in hex");
	expect_err(V3 "  write buf \"\"\n", "4:13",
		   "an empty string: a value needs at least one byte");
	expect_err(V3 "  write buf[0] \"ab\"\n", "4:16",
		   "the string is 2 bytes, longer than the range (1)");
	expect_err(V3 "  write buf \"abc\n", "4:13",
		   "unterminated string: it must end with '\"' on the same line");
	expect_err(V3 "  write buf \"abc\\\"\n", "4:13", "unterminated string");
	expect_err(V3 "  write buf \"abc\\\n", "4:13", "unterminated string");
	expect_err(V3 "  write buf \"a\\qb\"\n", "4:15",
		   "unknown escape '\\q': use \\n, \\t, \\\\, \\\" or \\xNN");
	expect_err(V3 "  write buf \"a\\\xc3\xa9\"\n", "4:15", "unknown escape: use");
	expect_err(V3 "  write buf \"\\x4\"\n", "4:14", "'\\x' needs two hex digits, like \\x0a");
	expect_err(V3 "  write buf \"\\x4g\"\n", "4:14", "'\\x' needs two hex digits");
	expect_err(
		V3 "  write buf[0..4K] data\n", "4:20",
		"this file range is 8192 bytes but the range is 4096: they must be equally long");
	expect_err(V3 "  write buf buf\n", "4:13",
		   "'buf' is a mapping; a range in a value must name a file (declared with 'file "
		   "NAME SIZE')");
	expect_err(V3 "  write buf dat\n", "4:13", "unknown file 'dat' (did you mean 'data'?)");
	expect_err(
		V3 "  write buf ==\n", "4:13",
		"expected a value: a byte like 0x00, a string like \"text\" or a file range like "
		"data[0..4K], found '=='");
	expect_err(V3 "  write buf\n", "4:12", "expected a value: a byte like 0x00");
	expect_err(V3 "  write buf 0x01 0x02\n", "4:18",
		   "unexpected '0x02' after the 'write' operation");
	expect_err(V3 "  write buf data[8K]\n", "4:18",
		   "offset 8192 is beyond the end of 'data' (8192 bytes)");
#undef V3
}

static void test_checks(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 4K\n"
				      "  check corrupt buf == 0x00\n"
				      "  check leak buf[1] != \"x\"\n"
				      "  check desync buf[0..+2] faults\n"
				      "  check overwrite buf==0x01\n"
				      "  thread a check leak buf faults\n"
				      "  thread b\n"
				      "    check corrupt buf[0] == 0x01\n"
				      "  join\n");
	const struct scen_op *op = s->ops;

	(void)state;
	assert_int_equal(s->nr_checks, 6);
	assert_int_equal(s->nr_ops, 6);
	assert_int_equal(op[1].check.verdict, VERDICT_CORRUPT);
	assert_int_equal(op[1].check.cmp, CMP_EQ);
	assert_int_equal(op[2].check.verdict, VERDICT_LEAK);
	assert_int_equal(op[2].check.cmp, CMP_NE);
	assert_int_equal(op[2].check.value.kind, VAL_BYTES);
	assert_int_equal(op[2].check.value.nbytes, 1);
	assert_int_equal(op[3].check.verdict, VERDICT_DESYNC);
	assert_int_equal(op[3].check.cmp, CMP_FAULTS);
	assert_range(&op[3].check.range, 0, false, 0, 2);
	assert_int_equal(op[4].check.verdict, VERDICT_OVERWRITE);
	assert_int_equal(op[4].check.value.byte, 1);
	assert_int_equal(s->threads[0].ops[0].kind, OP_CHECK);
	assert_int_equal(s->threads[0].ops[0].check.cmp, CMP_FAULTS);
	assert_int_equal(s->threads[1].ops[0].check.verdict, VERDICT_CORRUPT);
	scen_free(s);

#define C2 "process P\n  map buf 4K\n"
	expect_err(C2 "  check corupt buf == 0x00\n", "3:9",
		   "expected a verdict (corrupt, leak, desync or overwrite) after 'check', found "
		   "'corupt' (did you mean 'corrupt'?)");
	expect_err(C2 "  check buf == 0x00\n", "3:9", "expected a verdict");
	expect_err(C2 "  check leak buf = 0x00\n", "3:18",
		   "expected '==', '!=', ',', 'faults', 'sigbus' or a page state (exclusive, "
		   "shared, present, swapped, merged, huge, pte-mapped, hugetlb) after the range, "
		   "found '='");
	expect_err(C2 "  check leak buf\n", "3:17",
		   "expected '==', '!=', ',', 'faults', 'sigbus' or a page state");
	expect_err(C2 "  check leak buf faults 0x00\n", "3:25",
		   "unexpected '0x00' after the 'check' operation");
	expect_err("file d 4K\nprocess P\n  check leak d exclusive\n", "3:16",
		   "'exclusive' checks a mapping's pages: a file is not mapped");
	{
		struct scenario *x = parse_ok(C2 "  check leak buf exclusive\n"
						 "  check corrupt buf[0..+1] shared\n");

		assert_int_equal(x->ops[1].check.cmp, CMP_EXCLUSIVE);
		assert_int_equal(x->ops[2].check.cmp, CMP_SHARED);
		assert_int_equal(x->ops[2].check.range.len, 1);
		scen_free(x);
	}
	expect_err(C2 "  check leak buf ! 0x00\n", "3:18", "unexpected '!' (did you mean '!='?)");
	expect_err(C2 "  check leak buf[0] == \"ab\"\n", "3:24", "longer than the range (1)");
#undef C2
}

static void test_mprotect_madvise_munmap(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 4 pages\n"
				      "  mprotect buf rw\n"
				      "  mprotect buf[4K..+4K] none\n"
				      "  mprotect buf[8K] ro\n"
				      "  madvise buf dontfork\n"
				      "  madvise buf[0..4K] dofork\n"
				      "  madvise buf[4K..8K] dontneed\n"
				      "  munmap buf[12K..16K]\n"
				      "  munmap buf\n");
	const struct scen_op *op = s->ops;

	(void)state;
	assert_int_equal(op[1].kind, OP_MPROTECT);
	assert_range(&op[1].mprotect.range, 0, true, 0, 16384);
	assert_int_equal(op[1].mprotect.prot, RW);
	assert_range(&op[2].mprotect.range, 0, false, 4096, 4096);
	assert_int_equal(op[2].mprotect.prot, 0);
	assert_range(&op[3].mprotect.range, 0, false, 8192, 1);
	assert_int_equal(op[3].mprotect.prot, COW_PROT_READ);
	assert_int_equal(op[4].kind, OP_MADVISE);
	assert_int_equal(op[4].madvise.advice, COW_MADV_DONTFORK);
	assert_int_equal(op[5].madvise.advice, COW_MADV_DOFORK);
	assert_int_equal(op[6].madvise.advice, COW_MADV_DONTNEED);
	assert_range(&op[6].madvise.range, 0, false, 4096, 4096);
	assert_int_equal(op[7].kind, OP_MUNMAP);
	assert_range(&op[7].munmap.range, 0, false, 12288, 4096);
	assert_range(&op[8].munmap.range, 0, true, 0, 16384);
	scen_free(s);

#define M2 "process P\n  map buf 4 pages\n"
	expect_err(M2 "  mprotect buf[100] ro\n", "3:16",
		   "mprotect needs a page-aligned offset: 100 is not a multiple of 4K");
	expect_err(M2 "  munmap buf[1..+4K]\n", "3:14", "munmap needs a page-aligned offset");
	expect_err(M2 "  madvise buf[5000] dontneed\n", "3:15",
		   "madvise needs a page-aligned offset");
	expect_err(M2 "  mprotect buf rx\n", "3:16",
		   "expected a protection (rw, ro or none) after the range, found 'rx' (did you "
		   "mean 'rw'?)");
	expect_err(M2 "  mprotect buf\n", "3:15", "expected a protection (rw, ro or none)");
	expect_err(M2 "  madvise buf dontned\n", "3:15",
		   "expected an advice (dontneed, dontfork, dofork, mergeable, unmergeable, "
		   "hugepage, nohugepage or collapse) after the range, found 'dontned' (did you "
		   "mean "
		   "'dontneed'?)");
	expect_err(M2 "  madvise buf pageout\n", "3:15",
		   "'madvise pageout' is spelled 'swapout RANGE' in scenarios");
	expect_err(M2 "  munmap buf ro\n", "3:14", "unexpected 'ro' after the 'munmap' operation");
#undef M2
}

static void test_swapout(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 4 pages\n"
				      "  write buf 0x2a\n"
				      "  swapout buf\n"
				      "  swapout buf[4K..+4K]\n"
				      "  swapout buf[8K..12K]\n"
				      "  swapout buf[12K]\n"
				      "  fork C\n"
				      "  thread t\n"
				      "    map own 1 page\n"
				      "    swapout own\n"
				      "    swapout buf[4K..+1]\n"
				      "  thread u swapout buf\n"
				      "  join\n"
				      "  munmap buf\n"
				      "  swapout buf\n"
				      "process C\n"
				      "  swapout buf[0..+8K]\n"
				      "thread v in C swapout buf\n"
				      "join\n");
	const struct scen_op *op = s->ops;
	const struct scen_thread *th = s->threads;

	(void)state;
	assert_int_equal(s->nr_threads, 3);
	assert_int_equal(op[2].kind, OP_SWAPOUT);
	assert_int_equal(op[2].proc, 0);
	assert_int_equal(op[2].loc.line, 4);
	assert_int_equal(op[2].loc.col, 3);
	assert_range(&op[2].swapout.range, 0, true, 0, 16384);
	assert_int_equal(op[2].swapout.range.space, SPACE_MAP);
	assert_false(op[2].swapout.range.is_file);
	assert_int_equal(op[3].kind, OP_SWAPOUT);
	assert_range(&op[3].swapout.range, 0, false, 4096, 4096);
	assert_range(&op[4].swapout.range, 0, false, 8192, 4096);
	assert_range(&op[5].swapout.range, 0, false, 12288, 1);
	assert_int_equal(op[7].kind, OP_GROUP);
	assert_int_equal(th[0].nr_ops, 3);
	assert_int_equal(th[0].ops[1].kind, OP_SWAPOUT);
	assert_range(&th[0].ops[1].swapout.range, 1, true, 0, 4096);
	assert_int_equal(th[0].ops[2].kind, OP_SWAPOUT);
	assert_range(&th[0].ops[2].swapout.range, 0, false, 4096, 1);
	assert_int_equal(th[1].nr_ops, 1);
	assert_int_equal(th[1].ops[0].kind, OP_SWAPOUT);
	assert_int_equal(th[1].ops[0].loc.col, 12);
	assert_range(&th[1].ops[0].swapout.range, 0, true, 0, 16384);
	/* munmap keeps the name: a swapout after it is accepted (and swaps
	 * nothing out at run time). */
	assert_int_equal(op[8].kind, OP_MUNMAP);
	assert_int_equal(op[9].kind, OP_SWAPOUT);
	/* The child swaps out the mapping it inherited. */
	assert_int_equal(op[10].kind, OP_SWAPOUT);
	assert_int_equal(op[10].proc, 1);
	assert_range(&op[10].swapout.range, 0, false, 0, 8192);
	assert_int_equal(th[2].proc, 1);
	assert_int_equal(th[2].ops[0].kind, OP_SWAPOUT);
	assert_int_equal(th[2].ops[0].proc, 1);
	scen_free(s);

#define S2 "file f 8K\nprocess P\n  map buf 4 pages\n"
	/* A page-aligned offset, like munmap and madvise; any length. */
	expect_err(S2 "  swapout buf[1..+4K]\n", "4:15",
		   "swapout needs a page-aligned offset: 1 is not a multiple of 4K");
	expect_err(S2 "  swapout buf[6K]\n", "4:15",
		   "swapout needs a page-aligned offset: 6144 is not a multiple of 4K");
	expect_err(S2 "  thread t swapout buf[512..4K]\n  join\n", "4:24",
		   "swapout needs a page-aligned offset");
	/* A range of a mapping of the executing process. */
	expect_err(S2 "  swapout f\n", "4:11",
		   "'f' is a file, not a mapping: 'swapout' needs a range of a mapping");
	expect_err(S2 "  swapout f[0..4K]\n", "4:11", "'f' is a file, not a mapping");
	expect_err(S2 "  swapout P\n", "4:11",
		   "'P' is a process, not a mapping: 'swapout' needs a range of a mapping");
	expect_err(S2 "  pin a buf\n  swapout a\n", "5:11", "'a' is a pin, not a mapping");
	expect_err(S2 "  vmsplice buf -> p\n  swapout p\n", "5:11", "'p' is a pipe, not a mapping");
	expect_err(S2 "  swapout bug\n", "4:11", "unknown mapping 'bug' (did you mean 'buf'?)");
	expect_err(S2 "process Q\n  swapout buf\n", "5:11",
		   "process 'Q' has no mapping 'buf': it must map it first, or be forked from a "
		   "process that has it");
	expect_err(S2 "  swapout buf[0..20K]\n", "4:18",
		   "end 20480 is beyond the end of 'buf' (16384 bytes)");
	expect_err(S2 "  swapout\n", "4:10",
		   "expected a range like buf or buf[0..4K] after 'swapout', found the end of "
		   "the line");
	expect_err(S2 "  swapout buf ro\n", "4:15",
		   "unexpected 'ro' after the 'swapout' operation");
	expect_err(S2 "  swapout buf -> buf\n", "4:15",
		   "unexpected '->' after the 'swapout' operation");
	/* A keyword now, never a name. */
	expect_err("process swapout\n", "1:9", "'swapout' is a keyword and cannot be a name");
	expect_err(S2 "  map swapout 4K\n", "4:7", "'swapout' is a keyword");
	/* Not after exit. */
	expect_err(S2 "  exit\n  swapout buf\n", "5:3",
		   "process 'P' exited at line 4: nothing can follow 'exit' in its block");
#undef S2
}

static void test_fork_and_mapping_sets(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map a 4K\n"
				      "  fork C\n"
				      "  map b 8K\n"
				      "process C\n"
				      "  read a\n"
				      "  map b 8K shared\n"
				      "  fork D\n"
				      "process D\n"
				      "  read b\n"
				      "  read a\n");

	(void)state;
	assert_int_equal(s->nr_procs, 3);
	assert_loc(s->procs[1].loc, 3, 8);
	assert_loc(s->procs[2].loc, 8, 8);
	assert_int_equal(s->nr_maps, 2);
	assert_int_equal(s->nr_ops, 8);
	assert_int_equal(s->ops[1].kind, OP_FORK);
	assert_int_equal(s->ops[1].proc, 0);
	assert_int_equal(s->ops[1].fork.child, 1);
	assert_int_equal(s->ops[4].proc, 1);
	assert_int_equal(s->ops[4].map.name, 1);
	assert_true(s->ops[4].map.shared);
	assert_int_equal(s->ops[5].fork.child, 2);
	assert_int_equal(s->ops[7].proc, 2);
	scen_free(s);
	/* Sizes are compared after rounding up to pages. */
	s = parse_ok("process P\n  map a 4K\nprocess Q\n  map a 100\n");
	assert_int_equal(s->nr_maps, 1);
	scen_free(s);

	expect_err("process P\n  fork P\n", "2:8",
		   "process 'P' already exists (line 1): fork makes a new one");
	expect_err("process P\n  fork\n", "2:7", "expected the child's name after 'fork'");
	expect_err("process P\n  fork map\n", "2:8", "'map' is a keyword");
	expect_err("process P\n  fork C D\n", "2:10", "unexpected 'D' after the 'fork' operation");
	expect_err("process P\n  fork C\nprocess C\n  map x 4K\nprocess P\n  read x\n", "6:8",
		   "process 'P' has no mapping 'x': it must map it first, or be forked from a "
		   "process that has it");
	expect_err("process P\n  map a 4K\n  map a 4K\n", "3:7",
		   "'a' is already mapped in process 'P': a process maps a name once");
	expect_err("process P\n  map a 4K\n  fork C\nprocess C\n  map a 4K\n", "5:7",
		   "'a' is already mapped in process 'C'");
	/* munmap does not forget the name. */
	expect_err("process P\n  map a 4K\n  munmap a\n  map a 4K\n", "4:7", "already mapped");
	expect_err("process P\n  map a 4K\nprocess Q\n  map a 8K\n", "4:9",
		   "'a' is 4096 bytes where it is first mapped (line 2): every map of one name has "
		   "the same size");
	expect_err("process P\n  map a 4K\nprocess Q\n  read a\n", "4:8",
		   "process 'Q' has no mapping 'a'");
}

static void test_exit(void **state)
{
	struct scenario *s = parse_ok("process P\n  exit\nprocess Q\n  map a 4K\n");

	(void)state;
	assert_int_equal(s->ops[0].kind, OP_EXIT);
	assert_int_equal(s->ops[0].proc, 0);
	scen_free(s);
	expect_err("process P\n  exit\n  map a 4K\n", "3:3",
		   "process 'P' exited at line 2: nothing can follow 'exit' in its block");
	expect_err("process P\n  exit\n  exit\n", "3:3", "nothing can follow 'exit'");
	expect_err("process P\n  exit\nprocess P\n", "3:9",
		   "process 'P' exited at line 2: it cannot have another block");
	expect_err("process P\n  exit\nthread t in P\n  exit\njoin\n", "3:13",
		   "process 'P' exited at line 2");
	expect_err("process P\n  exit\n  thread t read a\n", "3:3", "nothing can follow 'exit'");
	expect_err("process P\n  thread t\n    exit\n  join\n", "3:5",
		   "exit is not allowed in a thread; put it after join");
	expect_err("process P\n  thread t exit\n  join\n", "2:12",
		   "exit is not allowed in a thread; put it after join");
	expect_err("process P\n  fork C\nthread t in C exit\njoin\n", "3:15",
		   "exit is not allowed in a thread");
	expect_err("process P\n  exit now\n", "2:8", "unexpected 'now' after the 'exit' operation");
}

static void test_thread_groups(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map a 4K\n"
				      "  thread w1 write a 0x01\n"
				      "  thread w2\n"
				      "    read a\n"
				      "    map b 4K\n"
				      "    read b\n"
				      "  join\n"
				      "  read b\n"
				      "process Q\n"
				      "thread x in P read a\n"
				      "thread y in Q\n"
				      "  map c 4K\n"
				      "thread z in P\n"
				      "\tread b\n"
				      "join\n"
				      "thread again in Q read c\n"
				      "join\n");
	const struct scen_op *op = s->ops;
	const struct scen_thread *t = s->threads;

	(void)state;
	assert_int_equal(s->nr_ops, 5);
	assert_int_equal(op[1].kind, OP_GROUP);
	assert_loc(op[1].loc, 3, 3);
	assert_int_equal(op[1].group.first, 0);
	assert_int_equal(op[1].group.nr, 2);
	assert_int_equal(op[2].kind, OP_READ);
	assert_int_equal(op[2].read.range.name, 1);
	assert_int_equal(op[3].kind, OP_GROUP);
	assert_int_equal(op[3].proc, 0); /* the first thread's process */
	assert_loc(op[3].loc, 11, 1);
	assert_int_equal(op[3].group.first, 2);
	assert_int_equal(op[3].group.nr, 3);
	assert_int_equal(op[4].kind, OP_GROUP);
	assert_int_equal(op[4].proc, 1);
	assert_int_equal(op[4].group.first, 5);
	assert_int_equal(op[4].group.nr, 1);
	assert_int_equal(s->nr_threads, 6);
	assert_int_equal(s->max_group, 3);
	assert_string_equal(t[0].name, "w1");
	assert_int_equal(t[0].nr_ops, 1);
	assert_int_equal(t[0].ops[0].proc, 0);
	assert_string_equal(t[1].name, "w2");
	assert_int_equal(t[1].nr_ops, 3);
	assert_string_equal(t[2].name, "x");
	assert_int_equal(t[2].proc, 0);
	assert_string_equal(t[3].name, "y");
	assert_int_equal(t[3].proc, 1);
	assert_int_equal(t[3].ops[0].proc, 1);
	assert_loc(t[3].loc, 12, 1);
	assert_string_equal(t[4].name, "z");
	assert_int_equal(t[4].proc, 0);
	assert_loc(t[4].ops[0].loc, 15, 2);
	scen_free(s);

	/* Threads of two processes may map the same name at once. */
	s = parse_ok(
		"process P\nprocess Q\nthread a in P map x 4K\nthread b in Q map x 4K\njoin\n");
	assert_int_equal(s->nr_maps, 1);
	scen_free(s);
	/* A process forked in a group can run threads after the join. */
	s = parse_ok("process P\nthread a in P fork C\njoin\nthread b in C fork D\njoin\n");
	assert_int_equal(s->nr_procs, 3);
	scen_free(s);
	/* The same thread names in two groups. */
	s = parse_ok("process P\n  thread a fork B\n  join\n  thread a fork C\n  join\n");
	assert_int_equal(s->nr_threads, 2);
	scen_free(s);
}

static void test_group_visibility(void **state)
{
	(void)state;
	expect_err("process P\n  thread a map x 4K\n  thread b read x\n  join\n", "3:17",
		   "thread 'b' of process 'P' has no mapping 'x' yet: thread 'a' maps it, and "
		   "other threads see it after 'join'");
	expect_err("process P\n  thread a map x 4K\n  thread b map x 4K\n  join\n", "3:16",
		   "'x' is already mapped by thread 'a' of this group");
	expect_err("process P\n  thread a map x 4K\n  join\n  map x 4K\n", "4:7",
		   "'x' is already mapped in process 'P'");
	expect_err(
		"process P\n  thread a fork C\n  thread b map x 4K\n  join\nprocess C\n  read x\n",
		"6:8", "process 'C' has no mapping 'x'");
	expect_err("process P\nthread a in P fork C\nthread b in C exit\njoin\n", "3:13",
		   "process 'C' is forked in this thread group (line 2): its threads can start "
		   "after 'join'");
}

static void test_group_errors(void **state)
{
	char text[8192];
	struct scenario *s;
	size_t n;

	(void)state;
#define G2 "process P\n  map x 4K\n"
	expect_err(G2 "  thread a read x\n  read x\n", "4:3",
		   "the thread group that starts at line 3 is not joined: expected 'join' or "
		   "another 'thread' here");
	expect_err(G2 "  thread a read x\nprocess Q\n", "4:1",
		   "the thread group that starts at line 3 is not joined: add 'join' after its "
		   "last thread");
	expect_err(G2 "thread a in P read x\nprocess Q\n", "4:1",
		   "the thread group that starts at line 3 is not joined: expected 'join'");
	expect_err(G2 "thread a in P read x\n", "4:1", "is not joined: add 'join'");
	expect_err("process P\n  join\n", "2:3",
		   "'join' without threads: it closes a group of 'thread' lines at the same level");
	expect_err("process P\njoin\n", "2:1", "'join' without threads");
	expect_err(G2 "  thread a read x\n  join now\n", "4:8", "unexpected 'now' after 'join'");
	expect_err(G2 "  thread a read x\njoin\n", "4:1", "is not joined: add 'join'");
	expect_err("process P\n  thread a\n    thread b read x\n", "3:5",
		   "threads cannot nest: a thread holds operations only");
	expect_err("process P\n  thread a thread b\n", "2:12", "threads cannot nest");
	expect_err(G2 "  thread a\n    read x\n    join\n", "5:5",
		   "'join' must line up with the 'thread' lines it closes");
	expect_err(G2 "  thread a read x\n  thread a read x\n  join\n", "4:10",
		   "thread 'a' already exists in this group (line 3)");
	expect_err("process P\n  thread a\n  join\n", "2:3",
		   "thread 'a' has no operations: indent them under it, or write one on the same "
		   "line");
	expect_err("process P\n  thread a\n", "2:3", "thread 'a' has no operations");
	expect_err("process P\n    map x 4K\n    thread t\n  read x\n", "3:5",
		   "thread 't' has no operations");
	expect_err("process P\nthread a read x\n", "2:10",
		   "expected 'in PROCESS' after the thread name, found 'read': a top-level thread "
		   "names its process, as in 'thread a in P'");
	expect_err("process P\nthread a in\n", "2:12", "expected a process name after 'in'");
	expect_err("process P\n  thread a in P read x\n", "2:12",
		   "'in PROCESS' is for top-level threads; this thread belongs to process 'P'");
	expect_err("process P\nthread a in Q\n", "2:13", "unknown process 'Q'");
	expect_err("process Pa\nthread a in Pb\n", "2:13",
		   "unknown process 'Pb' (did you mean 'Pa'?)");
	expect_err("process P\n  thread map read x\n", "2:10", "'map' is a keyword");
	expect_err("process P\n  thread\n", "2:9", "expected a thread name after 'thread'");
	expect_err("process P\n  thread a\n    process Q\n", "3:5",
		   "'process' is only allowed at top level");
	expect_err("process P\n  thread a [\n", "2:12",
		   "expected an operation like 'write buf 0x01', found '['");
	expect_err("process P\n  thread a bogus\n", "2:12", "unknown operation 'bogus'");
	expect_err("process P\nthread a in P\n  join\n", "3:3", "'join' must line up");

	/* 63 threads make a group; the 64th is refused. */
	for (int nr = 63; nr <= 64; nr++) {
		n = (size_t)snprintf(text, sizeof(text), G2);
		for (int i = 0; i < nr; i++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "  thread t%d read x\n",
					      i);
		snprintf(text + n, sizeof(text) - n, "  join\n");
		if (nr == 63) {
			s = parse_ok(text);
			assert_int_equal(s->max_group, 63);
			assert_int_equal(s->nr_threads, 63);
			scen_free(s);
		} else {
			expect_err(text, "66:3", "a thread group has at most 63 threads");
		}
	}
#undef G2
}

/* clear_refs, ksm_merge and khugepaged take no operands, may stand
 * wherever an operation may, and are keywords. */
static void test_argless_operations(void **state)
{
	static const char *const words[] = {"clear_refs", "ksm_merge", "khugepaged"};
	char text[256], msg[256], where[32];
	struct scenario *s;

	(void)state;
	s = parse_ok("process P\n  map buf 1 page\n  madvise buf mergeable\n  clear_refs\n"
		     "  thread t ksm_merge\n  join\n  madvise buf unmergeable\n");
	assert_int_equal(s->ops[2].kind, OP_CLEAR_REFS);
	assert_int_equal(s->ops[1].madvise.advice, COW_MADV_MERGEABLE);
	scen_free(s);
	s = parse_ok("process P\n  map buf 2M thp\n  khugepaged\n");
	assert_int_equal(s->ops[1].kind, OP_KHUGEPAGED);
	scen_free(s);
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		snprintf(text, sizeof(text), "process P\n  %s now\n", words[i]);
		snprintf(msg, sizeof(msg), "unexpected 'now' after '%s'", words[i]);
		snprintf(where, sizeof(where), "2:%zu", strlen(words[i]) + 4);
		expect_err(text, where, msg);
		snprintf(text, sizeof(text), "process %s\n", words[i]);
		expect_err(text, "1:9", "is a keyword");
	}
}

static void test_unknown_words(void **state)
{
	(void)state;
	expect_err("process P\n  wirte buf 0x00\n", "2:3",
		   "unknown operation 'wirte' (did you mean 'write'?)");
	expect_err("process P\n  forc C\n", "2:3",
		   "unknown operation 'forc' (did you mean 'fork'?)");
	expect_err("process P\n  thred a\n", "2:3", "(did you mean 'thread'?)");
	expect_err("proces P\n", "1:1",
		   "unknown statement 'proces' (did you mean 'process'?): expected system, policy, "
		   "expect, file, process or thread");
	expect_err("process P\n  frobnicate\n", "2:3", "unknown operation 'frobnicate'");
	assert_null(strstr(last_err, "did you mean"));
	expect_err("map a 4K\n", "1:1",
		   "'map' must be inside a process block: start one with 'process NAME' above it");
	expect_err("[\n", "1:1", "expected a statement or an operation, found '['");
	expect_err("process P\n  4K\n", "2:3", "expected a statement or an operation, found '4K'");
	expect_err("process P\n  \"x\"\n", "2:3", "found '\"x\"'");
	expect_err("process P @\n", "1:11", "unexpected character '@'");
	expect_err("process P\n  map a 4K\n  read a$\n", "3:9", "unexpected character '$'");
	expect_err("process P\n  map \xc3\xa9 4K\n", "2:7", "unexpected character '\xc3\xa9'");
	expect_err("process P\n  in\n", "2:3", "unknown operation 'in'");
}

static void test_names(void **state)
{
	char text[8192];
	struct scenario *s;

	(void)state;
	snprintf(text, sizeof(text), "process %s\n", "abcdefghijklmnopqrstuvwxyz01234");
	s = parse_ok(text);
	assert_string_equal(s->procs[0].name, "abcdefghijklmnopqrstuvwxyz01234");
	scen_free(s);
	snprintf(text, sizeof(text), "process %s\n", "abcdefghijklmnopqrstuvwxyz012345");
	expect_err(text, "1:9",
		   "the name 'abcdefghijklmnopqrstuvwxyz012345' is longer than 31 characters");
	/* A very long name is shown shortened. */
	memcpy(text, "process ", 8);
	memset(text + 8, 'n', 4000);
	strcpy(text + 4008, "\n");
	expect_err(text, "1:9", "the name 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is longer");
	s = parse_ok("process a.b-c_1\nprocess _x\nprocess X9\n");
	assert_string_equal(s->procs[0].name, "a.b-c_1");
	assert_int_equal(s->nr_procs, 3);
	scen_free(s);
	expect_err("process 1abc\n", "1:9", "malformed number '1abc'");
	/* Thread names live apart from the rest (test_one_namespace). */
	s = parse_ok("file x 4K\nprocess P\n  map m 4K\n  write m x\n  thread x read m\n  join\n");
	assert_int_equal(s->ops[1].write.value.kind, VAL_FILE);
	scen_free(s);
}

static void test_indentation(void **state)
{
	struct scenario *s;
	char text[4096];
	size_t n;

	(void)state;
	/* Tabs, and tabs mixed with spaces (tab stops every 8 columns). */
	s = parse_ok("process P\n\tmap a 4K\n\tthread t\n\t\tread a\n\tjoin\n");
	assert_int_equal(s->nr_ops, 2);
	assert_int_equal(s->threads[0].nr_ops, 1);
	scen_free(s);
	s = parse_ok("process P\n  map a 4K\n  thread t\n  \tread a\n        read a\n   \twrite a "
		     "0x1\n  join\n");
	assert_int_equal(s->threads[0].nr_ops, 3);
	scen_free(s);
	s = parse_ok("process P\n        map a 4K\n\tread a\n");
	assert_int_equal(s->nr_ops, 2);
	scen_free(s);
	/* Odd widths. */
	s = parse_ok("process P\n map a 4K\n thread t\n    read a\n join\n");
	assert_int_equal(s->nr_threads, 1);
	scen_free(s);
	s = parse_ok("process P\n   map a 4K\n   thread t\n      read a\n   join\n");
	assert_int_equal(s->nr_threads, 1);
	scen_free(s);
	/* Deep. */
	n = (size_t)snprintf(text, sizeof(text), "process P\n");
	memset(text + n, ' ', 1000);
	n += 1000;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "map a 4K\n");
	memset(text + n, ' ', 1000);
	n += 1000;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "thread t\n");
	memset(text + n, '\t', 1000);
	n += 1000;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "read a\n");
	memset(text + n, ' ', 1000);
	n += 1000;
	snprintf(text + n, sizeof(text) - n, "join\n");
	s = parse_ok(text);
	assert_int_equal(s->threads[0].nr_ops, 1);
	assert_loc(s->threads[0].ops[0].loc, 4, 1001);
	scen_free(s);
	/* Indented top-level statements; a looser dedent inside a block. */
	s = parse_ok("   process P\n      map a 4K\n process Q\n");
	assert_int_equal(s->nr_procs, 2);
	assert_int_equal(s->ops[0].proc, 0);
	scen_free(s);
	s = parse_ok("process P\n    map a 4K\n  read a\n");
	assert_int_equal(s->nr_ops, 2);
	assert_int_equal(s->ops[1].proc, 0);
	scen_free(s);
	/* Comments and blank lines do not count. */
	s = parse_ok("process P\n# x\n  map a 4K\n\n        # deep comment\n  read a\n");
	assert_int_equal(s->nr_ops, 2);
	scen_free(s);

	expect_err("process P\n  map a 4K\n    read a\n", "3:5",
		   "unexpected indentation: the line above does not open a block");
	expect_err("file d 4K\n  process P\n", "2:3", "unexpected indentation");
	expect_err("process P\n  map a 4K\n  thread t read a\n    read a\n  join\n", "4:5",
		   "unexpected indentation");
	expect_err("process P\n    map a 4K\n  read a\n    read a\n", "4:5",
		   "unexpected indentation");
}

static void test_bad_bytes(void **state)
{
	struct scenario *s;

	(void)state;
	expect_err_lit("process P\n  map a\0 4K\n", "2:8",
		       "a NUL byte: a scenario is a text file, is this a binary one?");
	expect_err_lit("# a\0b\nprocess P\n", "1:4", "a NUL byte");
	expect_err_lit("process P\n\0", "2:1", "a NUL byte");
	expect_err("process P\x07\n", "1:10", "control character 0x07 is not allowed");
	expect_err("process P\x7f\n", "1:10", "control character 0x7f is not allowed");
	expect_err("process P\n\x0c", "2:1", "control character 0x0c");
	expect_err("# caf\xc3\n", "1:6", "invalid UTF-8 (byte 0xc3): a scenario is UTF-8 text");
	expect_err("# \xc0\x80\n", "1:3", "invalid UTF-8 (byte 0xc0)");
	expect_err("# \xed\xa0\x80\n", "1:3", "invalid UTF-8 (byte 0xed)");
	expect_err("# \x80\n", "1:3", "invalid UTF-8 (byte 0x80)");
	expect_err("# \xf4\x90\x80\x80\n", "1:3", "invalid UTF-8 (byte 0xf4)");
	expect_err("# \xe2\x9c\n", "1:3", "invalid UTF-8");
	expect_err("# \xff\n", "1:3", "invalid UTF-8 (byte 0xff)");
	expect_err("process P\n  map a 4K\n  write a \"\xc3(\"\n", "3:12", "invalid UTF-8");
	/* The first bad line wins, even in a comment after good lines. */
	expect_err("process P\n  map a 4K\n# \x01\n  bogus\n", "3:3", "control character 0x01");
	/* Valid UTF-8 in comments and strings, and a byte order mark. */
	s = parse_ok("# caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\x84\nprocess P\n  map a 4K\n"
		     "  write a \"\xf0\x9f\x90\x84\"\n");
	assert_int_equal(s->ops[1].write.value.nbytes, 4);
	scen_free(s);
	s = parse_ok("\xef\xbb\xbfprocess P\n");
	assert_loc(s->procs[0].loc, 1, 9);
	scen_free(s);
}

static void test_long_lines_and_big_files(void **state)
{
	const size_t big = (1UL << 20) + 1;
	char *text = malloc(big + 16);
	struct scenario *s;
	size_t n;

	(void)state;
	assert_non_null(text);
	/* A 4096-byte line is fine, with LF or CRLF; 4097 bytes is not. */
	text[0] = '#';
	memset(text + 1, 'x', 4095);
	strcpy(text + 4096, "\nprocess P\n");
	s = parse_ok(text);
	scen_free(s);
	strcpy(text + 4096, "\r\nprocess P\n");
	s = parse_ok(text);
	scen_free(s);
	memcpy(text, "process P\n#", 11);
	memset(text + 11, 'x', 4096);
	strcpy(text + 10 + 4097, "\n");
	expect_err(text, "2:4097", "this line is longer than 4096 bytes");
	/* The longest string fits on a line. */
	n = (size_t)sprintf(text, "process P\n  map a 1M\n  write a \"");
	memset(text + n, 's', 4080);
	strcpy(text + n + 4080, "\"\n");
	s = parse_ok(text);
	assert_int_equal(s->ops[1].write.value.nbytes, 4080);
	scen_free(s);
	/* 1 MiB is accepted, one byte more is refused. */
	n = (size_t)sprintf(text, "process P\n");
	memset(text + n, '\n', big - 1 - n);
	s = parse_ok_n(text, big - 1);
	scen_free(s);
	text[big - 1] = '\n';
	expect_err_n(text, big, "1:1",
		     "the file is larger than 1 MiB: a scenario is at most 1048576 bytes");
	/* Many short lines. */
	n = (size_t)sprintf(text, "process P\n  map a 4K\n");
	while (n + 16 < big - 1)
		n += (size_t)sprintf(text + n, "  read a[%zu]\n", n % 4096);
	s = parse_ok_n(text, n);
	assert_true(s->nr_ops > 50000);
	scen_free(s);
	free(text);
}

static void test_load_and_path(void **state)
{
	char path[] = "/tmp/cowlab-test-parser-XXXXXX";
	char longpath[400];
	struct scenario *s = NULL;
	int fd = mkstemp(path);
	char *big;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, example, strlen(example)), (ssize_t)strlen(example));
	close(fd);
	assert_int_equal(scen_load(path, &s, last_err, sizeof(last_err)), 0);
	assert_string_equal(s->path, path);
	assert_int_equal(s->nr_ops, 14);
	scen_free(s);

	/* A parse error names the path. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "process P\n  bogus\n", 18), 18);
	close(fd);
	assert_int_equal(scen_load(path, &s, last_err, sizeof(last_err)), COW_EINVAL);
	assert_non_null(strstr(last_err, ":2:3: unknown operation 'bogus'"));
	assert_memory_equal(last_err, path, strlen(path));

	/* Too big: read only up to the limit, then refused. */
	big = malloc((2UL << 20));
	assert_non_null(big);
	memset(big, '\n', 2UL << 20);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, big, 2UL << 20), (ssize_t)(2UL << 20));
	close(fd);
	free(big);
	assert_int_equal(scen_load(path, &s, last_err, sizeof(last_err)), COW_EINVAL);
	assert_non_null(strstr(last_err, ":1:1: the file is larger than 1 MiB"));
	unlink(path);

	assert_int_equal(scen_load("/nonexistent/x.cow", &s, last_err, sizeof(last_err)),
			 COW_ENOENT);
	assert_string_equal(last_err, "/nonexistent/x.cow: cannot read: No such file or directory");
	assert_int_equal(scen_load("/tmp", &s, last_err, sizeof(last_err)), COW_ENOENT);
	assert_string_equal(last_err, "/tmp: cannot read: Is a directory");

	/* scenario.path is a truncated copy. */
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(scen_parse(longpath, "process P\n", 10, &s, last_err, sizeof(last_err)),
			 0);
	assert_int_equal(strlen(s->path), sizeof(s->path) - 1);
	assert_memory_equal(s->path, longpath, sizeof(s->path) - 1);
	scen_free(s);
}

/* The counts that keep memory bounded: 1024 processes, 1024 mapping
 * names, 256 files. */
static void test_limits(void **state)
{
	const size_t size = 64 * 1024;
	char *text = malloc(size);
	struct scenario *s;
	size_t n;

	(void)state;
	assert_non_null(text);
	n = 0;
	for (int i = 0; i < 1025; i++)
		n += (size_t)snprintf(text + n, size - n, "process p%d\n", i);
	expect_err(text, "1025:9", "too many processes: a scenario has at most 1024");
	text[n - strlen("process p1024\n")] = '\0';
	s = parse_ok(text);
	assert_int_equal(s->nr_procs, 1024);
	scen_free(s);
	n = (size_t)snprintf(text, size, "process P\n");
	for (int i = 0; i < 1025; i++)
		n += (size_t)snprintf(text + n, size - n, "  map m%d 4K\n", i);
	expect_err(text, "1026:7", "too many mappings: a scenario has at most 1024 names");
	/* Every process may map all 1024 names. */
	text[n - strlen("  map m1024 4K\n")] = '\0';
	n = strlen(text);
	n += (size_t)snprintf(text + n, size - n, "  fork C\nprocess C\n  read m1023\n");
	s = parse_ok(text);
	assert_int_equal(s->nr_maps, 1024);
	scen_free(s);
	n = 0;
	for (int i = 0; i < 257; i++)
		n += (size_t)snprintf(text + n, size - n, "file f%d 1\n", i);
	expect_err(text, "257:6", "too many files: a scenario has at most 256");
	free(text);
}

static void test_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(scen_verdict_name(VERDICT_CORRUPT), "corrupt");
	assert_string_equal(scen_verdict_name(VERDICT_LEAK), "leak");
	assert_string_equal(scen_verdict_name(VERDICT_DESYNC), "desync");
	assert_string_equal(scen_verdict_name(VERDICT_OVERWRITE), "overwrite");
}

/* The validator finds what a parser bug (or a hand-made scenario) would
 * break. */
static void test_scen_check_catches_damage(void **state)
{
	struct scenario *s = parse_ok(example);
	char msg[256];

	(void)state;
	s->ops[2].write.range.off = 9000;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "range [9000..+4096] is outside its 12288 bytes"));
	s->ops[2].write.range.off = 0;
	s->ops[2].write.range.len = 12288;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "a file value of 4096 bytes for 12288"));
	s->ops[2].write.range.len = 4096;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
	s->ops[13].group.first = 1;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "expected from 2"));
	s->ops[13].group.first = 2;
	s->threads[1].ops[0].proc = 1;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	s->threads[1].ops[0].proc = 0;
	s->nr_checks = 3;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "nr_checks 3, counted 4"));
	s->nr_checks = 4;
	s->ops[12].proc = 0; /* P exits, and its group runs after */
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "after its exit"));
	s->ops[12].proc = 1;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
	scen_free(s);
	assert_int_equal(scen_check(NULL, msg, sizeof(msg)), COW_ECORRUPT);
}

/* Errors after strings were allocated in ops and threads free them (run
 * under valgrind to see it). */
static void test_free_after_errors(void **state)
{
	struct scenario *s;

	(void)state;
	expect_err("process P\n  map a 4K\n  write a \"xy\"\n  check leak a == \"ab\"\n"
		   "  thread t write a \"zz\"\n  thread u\n    check leak a != \"q\"\n    bogus\n",
		   "8:5", "unknown operation 'bogus'");
	expect_err("process P\n  map a 4K\n  write a \"xy\" junk\n", "3:16", "unexpected 'junk'");
	expect_err("process P\n  map a 4K\n  check leak a == \"xy\" junk\n", "3:24",
		   "unexpected 'junk'");
	expect_err("process P\n  map a 4K\n  poke a \"xy\"\n  poke a[0..2] \"xyz\"\n", "4:16",
		   "the string is 3 bytes");
	s = parse_ok("process P\n  map a 4K\n  thread t write a \"zz\"\n  thread u\n    check leak "
		     "a != \"q\"\n  join\n");
	assert_int_equal(s->threads[1].ops[0].check.value.nbytes, 1);
	scen_free(s);
}

/* Every allocation of a parse may fail: the parse then returns
 * COW_ENOMEM, frees what it built (valgrind shows it) and sets no result. */
static void out_of_memory(const char *text)
{
	int enomem = 0;

	for (int n = 1;; n++) {
		struct scenario *s = (struct scenario *)&s;
		int rc;

		scen_fail_alloc = n;
		rc = scen_parse(PATH, text, strlen(text), &s, last_err, sizeof(last_err));
		if (rc == 0) {
			scen_fail_alloc = 0;
			scen_free(s);
			break;
		}
		scen_fail_alloc = 0;
		assert_int_equal(rc, COW_ENOMEM);
		assert_ptr_equal(s, (struct scenario *)&s);
		assert_non_null(strstr(last_err, "out of memory"));
		enomem++;
	}
	assert_true(enomem >= 10);
}

static void test_out_of_memory(void **state)
{
	(void)state;
	out_of_memory(example);
	out_of_memory(gup_example);
	out_of_memory(file_example);
	out_of_memory("expect pass linux-6.5\nprocess P\n  map a 4K\n  write a 0x01\n"
		      "  fork C\n  write a 0x02\n  thread t read a\n  thread u read a\n  join\n"
		      "process C\n  check leak a == 0x01\n");
}

/* ---- get_user_pages, direct I/O and pipes ------------------------------------ */

static void assert_space(const struct scen_range *r, enum scen_space space, int name, bool whole,
			 unsigned long off, unsigned long len)
{
	assert_int_equal(r->space, space);
	assert_int_equal(r->is_file, space == SPACE_FILE);
	assert_range(r, name, whole, off, len);
}

static void assert_ref(const struct scen_ref *r, const char *name, unsigned long len, int proc)
{
	assert_string_equal(r->name, name);
	assert_int_equal(r->len, len);
	assert_int_equal(r->proc, proc);
}

/* The forkscrew-like example: direct I/O racing fork, a pin and a pipe
 * read by the child. */
static void test_gup_example_structure(void **state)
{
	struct scenario *s = parse_ok(gup_example);
	const struct scen_op *op = s->ops;
	const struct scen_thread *t = s->threads;

	(void)state;
	assert_int_equal(s->nr_procs, 2);
	assert_string_equal(s->procs[1].name, "C");
	assert_loc(s->procs[1].loc, 8, 22);
	assert_int_equal(s->nr_ops, 11);
	assert_int_equal(s->nr_threads, 3);
	assert_int_equal(s->max_group, 3);
	assert_int_equal(s->nr_checks, 4);
	assert_int_equal(s->nr_dio, 2);
	assert_int_equal(s->nr_pins, 1);
	assert_ref(&s->pins[0], "P1", 4096, 0);
	assert_int_equal(s->nr_pipes, 1);
	assert_ref(&s->pipes[0], "pipe1", 4096, 0);

	assert_int_equal(op[0].kind, OP_MAP);
	assert_space(&op[1].write.range, SPACE_MAP, 0, true, 0, 12288);
	assert_int_equal(op[2].kind, OP_GROUP);
	assert_loc(op[2].loc, 5, 3);
	assert_int_equal(op[2].group.first, 0);
	assert_int_equal(op[2].group.nr, 3);

	assert_string_equal(t[0].name, "worker0");
	assert_int_equal(t[0].nr_ops, 2);
	assert_int_equal(t[0].ops[0].kind, OP_DIO_READ);
	assert_loc(t[0].ops[0].loc, 6, 5);
	assert_int_equal(t[0].ops[0].proc, 0);
	assert_space(&t[0].ops[0].dio.file, SPACE_FILE, 0, false, 0, 4096);
	assert_space(&t[0].ops[0].dio.mem, SPACE_MAP, 0, false, 512, 4096);
	assert_int_equal(t[0].ops[1].kind, OP_WAIT);
	assert_loc(t[0].ops[1].loc, 7, 5);
	assert_int_equal(t[0].ops[1].proc, 0);
	assert_int_equal(t[1].ops[0].kind, OP_FORK);
	assert_int_equal(t[1].ops[0].fork.child, 1);
	assert_string_equal(t[2].name, "worker1");
	assert_int_equal(t[2].nr_ops, 1);
	assert_int_equal(t[2].ops[0].kind, OP_DIO_READ);
	assert_space(&t[2].ops[0].dio.file, SPACE_FILE, 0, false, 4096, 4096);
	assert_space(&t[2].ops[0].dio.mem, SPACE_MAP, 0, false, 4608, 4096);

	assert_int_equal(op[3].kind, OP_CHECK);
	assert_loc(op[3].loc, 12, 3);
	assert_int_equal(op[3].check.verdict, VERDICT_CORRUPT);
	assert_space(&op[3].check.range, SPACE_MAP, 0, false, 512, 4096);
	assert_int_equal(op[3].check.value.kind, VAL_FILE);
	assert_space(&op[3].check.value.file, SPACE_FILE, 0, false, 0, 4096);

	assert_int_equal(op[4].kind, OP_PIN);
	assert_loc(op[4].loc, 13, 3);
	assert_int_equal(op[4].proc, 0);
	assert_int_equal(op[4].pin.pin, 0);
	assert_space(&op[4].pin.mem, SPACE_MAP, 0, false, 0, 4096);
	assert_false(op[4].pin.ro);
	assert_true(op[4].pin.fast);

	assert_int_equal(op[5].kind, OP_VMSPLICE);
	assert_loc(op[5].loc, 14, 3);
	assert_int_equal(op[5].splice.pipe, 0);
	assert_space(&op[5].splice.mem, SPACE_MAP, 0, false, 4096, 4096);

	assert_int_equal(op[6].kind, OP_CHECK);
	assert_int_equal(op[6].check.verdict, VERDICT_DESYNC);
	assert_int_equal(op[6].check.cmp, CMP_EQ);
	assert_space(&op[6].check.range, SPACE_PIN, 0, false, 0, 4096);
	assert_int_equal(op[6].check.value.byte, 0x2a);

	assert_int_equal(op[7].kind, OP_CHECK);
	assert_int_equal(op[7].check.verdict, VERDICT_LEAK);
	assert_space(&op[7].check.range, SPACE_PIPE, 0, true, 0, 4096);
	assert_int_equal(op[7].check.value.byte, 0x5a);

	assert_int_equal(op[8].kind, OP_UNPIN);
	assert_loc(op[8].loc, 17, 3);
	assert_int_equal(op[8].proc, 0);
	assert_int_equal(op[8].unpin.pin, 0);

	assert_int_equal(op[9].kind, OP_PIPE_READ);
	assert_loc(op[9].loc, 19, 3);
	assert_int_equal(op[9].proc, 1);
	assert_int_equal(op[9].splice.pipe, 0);
	assert_space(&op[9].splice.mem, SPACE_MAP, 0, false, 8192, 4096);

	assert_int_equal(op[10].kind, OP_CHECK);
	assert_int_equal(op[10].proc, 1);
	assert_space(&op[10].check.range, SPACE_FILE, 0, false, 0, 512);
	scen_free(s);
}

/* Every range of the older operations says SPACE_MAP, and is_file
 * follows the space everywhere. */
static void test_range_spaces(void **state)
{
	struct scenario *s = parse_ok(example);

	(void)state;
	for (int i = 0; i < s->nr_ops; i++) {
		const struct scen_op *op = &s->ops[i];

		switch (op->kind) {
		case OP_WRITE:
			assert_int_equal(op->write.range.space, SPACE_MAP);
			if (op->write.value.kind == VAL_FILE)
				assert_int_equal(op->write.value.file.space, SPACE_FILE);
			break;
		case OP_CHECK:
			assert_int_equal(op->check.range.space, SPACE_MAP);
			assert_false(op->check.range.is_file);
			if (op->check.value.kind == VAL_FILE) {
				assert_int_equal(op->check.value.file.space, SPACE_FILE);
				assert_true(op->check.value.file.is_file);
			}
			break;
		case OP_MPROTECT: assert_int_equal(op->mprotect.range.space, SPACE_MAP); break;
		case OP_MADVISE: assert_int_equal(op->madvise.range.space, SPACE_MAP); break;
		case OP_MUNMAP: assert_int_equal(op->munmap.range.space, SPACE_MAP); break;
		case OP_SWAPOUT: assert_int_equal(op->swapout.range.space, SPACE_MAP); break;
		default: break;
		}
	}
	assert_int_equal(s->nr_dio, 0);
	assert_int_equal(s->nr_pins, 0);
	assert_int_equal(s->nr_pipes, 0);
	assert_null(s->pins);
	assert_null(s->pipes);
	scen_free(s);
}

static void test_dio(void **state)
{
	struct scenario *s;
	const struct scen_op *op;

	(void)state;
	s = parse_ok("file f 64K\n"
		     "process P\n"
		     "  map m 16K\n"
		     "  dio_write m[1K..+512] -> f[63K..+512]\n"
		     "  dio_read f[0..16K] -> m\n"
		     "  dio_write m->f[0..16K]\n"
		     "  wait\n"
		     "thread a in P\n"
		     "  dio_read f[0..512]->m[15K..+512]\n"
		     "  wait\n"
		     "thread b in P dio_write m -> f[16K..32K]\n"
		     "join\n"
		     "process P\n"
		     "  wait\n");
	op = s->ops;
	assert_int_equal(s->nr_dio, 5);
	assert_int_equal(s->nr_ops, 7);
	assert_int_equal(op[1].kind, OP_DIO_WRITE);
	assert_loc(op[1].loc, 4, 3);
	assert_space(&op[1].dio.mem, SPACE_MAP, 0, false, 1024, 512);
	assert_space(&op[1].dio.file, SPACE_FILE, 0, false, 63 * 1024, 512);
	assert_int_equal(op[2].kind, OP_DIO_READ);
	assert_space(&op[2].dio.file, SPACE_FILE, 0, false, 0, 16384);
	assert_space(&op[2].dio.mem, SPACE_MAP, 0, true, 0, 16384);
	assert_int_equal(op[3].kind, OP_DIO_WRITE);
	assert_space(&op[3].dio.mem, SPACE_MAP, 0, true, 0, 16384);
	assert_space(&op[3].dio.file, SPACE_FILE, 0, false, 0, 16384);
	assert_int_equal(op[4].kind, OP_WAIT);
	assert_int_equal(op[5].kind, OP_GROUP);
	assert_int_equal(op[6].kind, OP_WAIT);
	assert_loc(op[6].loc, 14, 3);
	assert_int_equal(s->threads[0].ops[0].kind, OP_DIO_READ);
	assert_space(&s->threads[0].ops[0].dio.mem, SPACE_MAP, 0, false, 15 * 1024, 512);
	assert_int_equal(s->threads[0].ops[1].kind, OP_WAIT);
	assert_int_equal(s->threads[1].ops[0].kind, OP_DIO_WRITE);
	assert_space(&s->threads[1].ops[0].dio.file, SPACE_FILE, 0, false, 16384, 16384);
	scen_free(s);
	/* wait alone, and as a one-line thread. */
	s = parse_ok("process P\n  wait\n  thread t wait\n  join\n");
	assert_int_equal(s->ops[0].kind, OP_WAIT);
	assert_int_equal(s->threads[0].ops[0].kind, OP_WAIT);
	assert_int_equal(s->nr_dio, 0);
	scen_free(s);
}

static void test_dio_errors(void **state)
{
	(void)state;
#define D "file f 8K\nprocess P\n  map m 8K\n"
	expect_err(D "  dio_read f[0..4K] -> m[0..2K]\n", "4:24",
		   "the file range is 4096 bytes and the memory range 2048: 'dio_read' moves "
		   "equally long ranges");
	expect_err(D "  dio_write m -> f[0..4K]\n", "4:18",
		   "the file range is 4096 bytes and the memory range 8192: 'dio_write'");
	expect_err(D "  dio_read f[0..4K] -> m[100..+4K]\n", "4:26",
		   "direct I/O needs 512-byte alignment: the mapping offset 100 is not a multiple "
		   "of 512");
	expect_err(D "  dio_read f[1..+4K] -> m[0..4K]\n", "4:14",
		   "direct I/O needs 512-byte alignment: the file offset 1 is not a multiple of "
		   "512");
	expect_err(D "  dio_write m[0..+4K] -> f[513..+4K]\n", "4:28",
		   "direct I/O needs 512-byte alignment: the file offset 513");
	expect_err(D "  dio_read f[0..+100] -> m[0..+100]\n", "4:18",
		   "direct I/O needs 512-byte alignment: the length 100 is not a multiple of 512");
	expect_err(D "  dio_write m[512] -> f[512]\n", "4:15", "the length 1 is not a multiple");
	/* Offsets are checked before the length, in the order written. */
	expect_err(D "  dio_write m[1..+1] -> f[3..+1]\n", "4:15", "the mapping offset 1");
	expect_err(D "  dio_read f[3..+1] -> m[1..+1]\n", "4:14", "the file offset 3");
	/* Which side is which. */
	expect_err(D "  dio_read m -> f\n", "4:12",
		   "'m' is a mapping; the range before '->' must name a file (declared with 'file "
		   "NAME SIZE')");
	expect_err(D "  dio_read f -> f\n", "4:17",
		   "'f' is a file, not a mapping: 'dio_read' needs a range of a mapping");
	expect_err(D "  dio_write f -> m\n", "4:13",
		   "'f' is a file, not a mapping: 'dio_write' needs a range of a mapping");
	expect_err(D "  dio_write m -> m\n", "4:18",
		   "'m' is a mapping; the range after '->' must name a file");
	expect_err(D "  dio_read g -> m\n", "4:12", "unknown file 'g' (did you mean 'f'?)");
	expect_err(D "  dio_read f m\n", "4:14", "expected '->' after the file range, found 'm'");
	expect_err(D "  dio_write m f\n", "4:15",
		   "expected '->' after the memory range, found 'f'");
	expect_err(D "  dio_read f ->\n", "4:16",
		   "expected a range like buf or buf[0..4K] after 'dio_read', found the end of the "
		   "line");
	expect_err(D "  dio_read\n", "4:11",
		   "expected a file range like data[0..4K], found the end of the line");
	expect_err(D "  dio_read f -> m m\n", "4:19",
		   "unexpected 'm' after the 'dio_read' operation");
	expect_err(D "  dio_read f - > m\n", "4:14", "unexpected '-' (did you mean '->'?)");
	expect_err(D "  dio_read f => m\n", "4:14",
		   "expected '->' after the file range, found '='");
	expect_err("file f 8K\nprocess P\n  dio_read f -> m\n", "3:17", "unknown mapping 'm'");
	expect_err(D "  thread a map n 4K\n  thread b dio_read f[0..4K] -> n\n  join\n", "5:33",
		   "thread 'b' of process 'P' has no mapping 'n' yet");
	expect_err(D "  wait 1\n", "4:8", "unexpected '1' after the 'wait' operation");
	expect_err(D "  wait\n  exit\n  wait\n", "6:3", "process 'P' exited at line 5");
	expect_err("wait\n", "1:1", "'wait' must be inside a process block");
#undef D
}

/* map ... file=FILE: a mapping of a declared file, with the other
 * options in any order (parser.c N10). */
static void test_map_file(void **state)
{
	struct scenario *s = parse_ok("file data 6000 fill=0x5a\n"
				      "file other 4K\n"
				      "file io 4K\n"
				      "process P\n"
				      "  map a 8K ro private file=data\n"
				      "  map b 4K file=data shared\n"
				      "  map c 4K\n"
				      "  dio_read io -> c\n"
				      "  fork C\n"
				      "process C\n"
				      "  map d 1 page file=other none\n"
				      "  thread t map e 1 file=other\n"
				      "  join\n"
				      "  check overwrite data[0..+8] == 0x5a\n"
				      "  write c data[0..4K]\n");
	const struct scen_op *op = s->ops;
	char msg[256];

	(void)state;
	assert_int_equal(op[0].map.file, 0);
	assert_int_equal(op[0].map.prot, COW_PROT_READ);
	assert_false(op[0].map.shared);
	assert_int_equal(op[0].map.len, 8192);
	assert_int_equal(op[1].map.file, 0);
	assert_int_equal(op[1].map.prot, RW);
	assert_true(op[1].map.shared);
	assert_int_equal(op[2].map.file, -1);
	assert_int_equal(op[5].map.file, 1);
	assert_int_equal(op[5].map.prot, 0);
	assert_int_equal(s->threads[0].ops[0].map.file, 1);
	assert_int_equal(s->threads[0].ops[0].map.len, 4096);
	assert_true(s->files[0].mapped);
	assert_true(s->files[1].mapped);
	assert_false(s->files[2].mapped);
	assert_space(&op[7].check.range, SPACE_FILE, 0, false, 0, 8);
	/* What scen_check holds file mappings to. */
	s->files[2].mapped = true;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "direct I/O of file 'io', which is mapped"));
	s->files[2].mapped = false;
	s->files[1].mapped = false;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "file 'other' is not marked mapped, and mapped"));
	s->files[1].mapped = true;
	s->ops[0].map.file = 1;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "5:3: maps 8192 bytes of file 'other' of 4096"));
	s->ops[0].map.file = 3;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "5:3: a bad map"));
	s->ops[0].map.file = 0;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
	scen_free(s);
	/* Up to the file's size rounded up to whole pages, and no further. */
	s = parse_ok("file d 4097\nprocess P\n  map a 8K file=d\n  map b 1 file=d\n");
	assert_int_equal(s->ops[1].map.len, 4096);
	scen_free(s);
}

static void test_map_file_errors(void **state)
{
	(void)state;
#define F "file data 4K\nprocess P\n"
	expect_err(F "  map a 4K file=dat\n", "3:17", "unknown file 'dat' (did you mean 'data'?)");
	expect_err(F "  map a 4K file=nothing\n", "3:17", "unknown file 'nothing'");
	assert_null(strstr(last_err, "did you mean"));
	expect_err(F "  map a 4K\n  map b 4K file=a\n", "4:17",
		   "'a' is a mapping; file= must name a file (declared with 'file NAME SIZE')");
	expect_err(F "  map a 4K file=P\n", "3:17", "'P' is a process; file= must name a file");
	expect_err(F "  map a 4K file=data file=data\n", "3:22",
		   "file= is given twice: a mapping maps one file");
	expect_err(F "  map a 4K file data\n", "3:17", "expected '=' after 'file', found 'data'");
	expect_err(F "  map a 4K file=\n", "3:17",
		   "expected a file name after 'file=', found the end of the line");
	expect_err(F "  map a 4K file=0x1\n", "3:17",
		   "expected a file name after 'file=', found '0x1'");
	expect_err(F "  map a 4K file=data[0..4K]\n", "3:21",
		   "unexpected '[' after the 'map' operation");
	expect_err(F "  map a 4K fille=data\n", "3:12",
		   "unknown map option 'fille' (did you mean 'file'?)");
	expect_err("file d 100\nprocess P\n  map a 2 pages file=d\n", "3:9",
		   "the mapping is 8192 bytes but file 'd' is 100 (4096 in whole pages): a file is "
		   "mapped up to its size rounded up to whole pages");
	expect_err("file d 4K\nprocess P\n  map a 4097 ro file=d\n", "3:9",
		   "the mapping is 8192 bytes but file 'd' is 4096");
	/* A second map of the name: its first size, checked against this file. */
	expect_err("file d 4K\nfile e 8K\nprocess P\n  map a 8K file=e\n  fork C\n"
		   "process Q\n  map a 8K file=d\n",
		   "7:9", "the mapping is 8192 bytes but file 'd' is 4096");
	/* Mapped and a direct-I/O target, in either order, anywhere. */
	expect_err(F "  map a 4K file=data\n  map b 4K\n  dio_read data -> b\n", "5:12",
		   "file 'data' is mapped (line 3) and a direct-I/O target: cowlab's page cache "
		   "does not follow direct I/O");
	expect_err(F "  map a 4K ro shared file=data\nprocess Q\n  map b 4K\n"
		     "  thread t dio_write b[0..512] -> data[512..+512]\n  join\n",
		   "6:35", "file 'data' is mapped (line 3) and a direct-I/O target");
	expect_err(F "  map b 4K\n  dio_write b -> data\n  wait\n  map a 4K file=data\n", "6:17",
		   "file 'data' is a direct-I/O target (line 4) and mapped: cowlab's page cache "
		   "does not follow direct I/O");
#undef F
}

/* poke RANGE VALUE: a forced write (/proc/PID/mem), shaped like write. */
/* uffd_continue RANGE: a mapping range with a page-aligned offset, as
 * swapout takes. */
static void test_uffd_continue(void **state)
{
	struct scenario *s = parse_ok("file data 8K\n"
				      "process P\n"
				      "  map f 8K ro private file=data\n"
				      "  uffd_continue f\n"
				      "  uffd_continue f[4K..+1]\n");
	const struct scen_op *op = s->ops;

	(void)state;
	assert_int_equal(op[1].kind, OP_UFFD_CONTINUE);
	assert_loc(op[1].loc, 4, 3);
	assert_space(&op[1].swapout.range, SPACE_MAP, 0, true, 0, 8192);
	assert_int_equal(op[2].kind, OP_UFFD_CONTINUE);
	assert_space(&op[2].swapout.range, SPACE_MAP, 0, false, 4096, 1);
	scen_free(s);
#define P "file d 8K\nprocess P\n  map a 8K file=d\n"
	expect_err(P "  uffd_continue a[1..+1]\n", "4:19",
		   "uffd_continue needs a page-aligned offset: 1 is not a multiple of 4K");
	expect_err(P "  uffd_continue d\n", "4:17",
		   "'d' is a file, not a mapping: 'uffd_continue' needs a range of a mapping");
	expect_err(P "  uffd_continue a 0x01\n", "4:19",
		   "unexpected '0x01' after the 'uffd_continue' operation");
#undef P
}

static void test_poke(void **state)
{
	struct scenario *s = parse_ok("file data 4K fill=0x5a\n"
				      "process P\n"
				      "  map a 8K ro\n"
				      "  map f 4K none private file=data\n"
				      "  poke a 0x01\n"
				      "  poke a[4K..+4] \"abcd\"\n"
				      "  poke a[0..4K] data\n"
				      "  poke f[1] 0x02\n"
				      "  thread t poke a[1] 0x03\n"
				      "  join\n");
	const struct scen_op *op = s->ops;

	(void)state;
	assert_int_equal(op[2].kind, OP_POKE);
	assert_loc(op[2].loc, 5, 3);
	assert_space(&op[2].write.range, SPACE_MAP, 0, true, 0, 8192);
	assert_int_equal(op[2].write.value.kind, VAL_BYTE);
	assert_int_equal(op[2].write.value.byte, 0x01);
	assert_int_equal(op[3].kind, OP_POKE);
	assert_space(&op[3].write.range, SPACE_MAP, 0, false, 4096, 4);
	assert_int_equal(op[3].write.value.kind, VAL_BYTES);
	assert_int_equal(op[3].write.value.nbytes, 4);
	assert_memory_equal(op[3].write.value.bytes, "abcd", 4);
	assert_int_equal(op[4].write.value.kind, VAL_FILE);
	assert_space(&op[4].write.value.file, SPACE_FILE, 0, true, 0, 4096);
	assert_space(&op[5].write.range, SPACE_MAP, 1, false, 1, 1);
	assert_int_equal(s->threads[0].ops[0].kind, OP_POKE);
	assert_space(&s->threads[0].ops[0].write.range, SPACE_MAP, 0, false, 1, 1);
	scen_free(s);
#define P "file d 4K\nprocess P\n  map a 4K\n"
	expect_err(P "  poke a\n", "4:9", "expected a value: a byte like 0x00");
	expect_err(P "  poke\n", "4:7",
		   "expected a range like buf or buf[0..4K] after 'poke', found the end of the "
		   "line");
	expect_err(P "  poke b 0x01\n", "4:8", "unknown mapping 'b' (did you mean 'a'?)");
	expect_err(P "  poke d 0x01\n", "4:8",
		   "'d' is a file, not a mapping: 'poke' needs a range of a mapping");
	expect_err(P "  poke a[4K] 0x01\n", "4:10", "offset 4096 is beyond the end of 'a'");
	expect_err(P "  poke a[0..4] \"12345\"\n", "4:16",
		   "the string is 5 bytes, longer than the range (4)");
	expect_err(P "  poke a[0..512] d\n", "4:18",
		   "this file range is 4096 bytes but the range is 512");
	expect_err(P "  poke a 0x01 0x02\n", "4:15",
		   "unexpected '0x02' after the 'poke' operation");
	expect_err(P "  pok a 0x01\n", "4:3", "unknown operation 'pok' (did you mean 'poke'?)");
	expect_err(P "  map poke 4K\n", "4:7", "'poke' is a keyword and cannot be a name");
	expect_err("poke a 0x01\n", "1:1", "'poke' must be inside a process block");
	expect_err(P "  thread t map b 4K\n  thread u poke b 0x01\n  join\n", "5:17",
		   "thread 'u' of process 'P' has no mapping 'b' yet");
#undef P
}

/* "->" is a token, also without blanks around it; a name ends before it. */
static void test_arrow_token(void **state)
{
	struct scenario *s;

	(void)state;
	s = parse_ok("file f-1 4K\nprocess P\n  map m- 4K\n  dio_read f-1->m-\n"
		     "  vmsplice m-->p-\n  pipe_read p- -> m-\n");
	assert_string_equal(s->files[0].name, "f-1");
	assert_string_equal(s->maps[0].name, "m-");
	assert_string_equal(s->pipes[0].name, "p-");
	assert_int_equal(s->ops[1].dio.mem.name, 0);
	scen_free(s);
	expect_err("process P\n  map a 4K\n  vmsplice a -> -> p\n", "3:17",
		   "expected a new pipe's name after '->', found '->'");
	expect_err("process P -> Q\n", "1:11", "unexpected '->' after the process name");
	expect_err("process P\n  map a 4K\n  read a ->\n", "3:10",
		   "unexpected '->' after the 'read' operation");
	expect_err("process P\n  -> a\n", "2:3",
		   "expected a statement or an operation, found '->'");
	expect_err("process P\n  map a 4K\n  read a-\n", "3:8", "unknown mapping 'a-'");
	expect_err("process P\n  map a 4K\n  read a -\n", "3:10", "unexpected '-'");
	expect_err("process P\n  map a 4K\n  read a[0..-1]\n", "3:13",
		   "a number cannot be negative");
}

static void test_pin_and_unpin(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map m 4 pages\n"
				      "  pin a m\n"
				      "  pin b m[4K..+1] ro\n"
				      "  pin c m[8K..12K] fast ro\n"
				      "  pin d m[0..16K] ro fast\n"
				      "  unpin b\n"
				      "  fork C\n"
				      "thread t in P\n"
				      "  pin e m[12K..+4K]\n"
				      "  unpin e\n"
				      "  unpin a\n"
				      "thread u in C pin f m fast\n"
				      "join\n"
				      "process C\n"
				      "  unpin f\n");
	const struct scen_op *op = s->ops;
	const struct scen_op *t0 = s->threads[0].ops;

	(void)state;
	assert_int_equal(s->nr_pins, 6);
	assert_ref(&s->pins[0], "a", 16384, 0);
	assert_ref(&s->pins[1], "b", 1, 0);
	assert_ref(&s->pins[2], "c", 4096, 0);
	assert_ref(&s->pins[3], "d", 16384, 0);
	assert_ref(&s->pins[4], "e", 4096, 0);
	assert_ref(&s->pins[5], "f", 16384, 1);
	assert_int_equal(op[1].kind, OP_PIN);
	assert_loc(op[1].loc, 3, 3);
	assert_int_equal(op[1].pin.pin, 0);
	assert_space(&op[1].pin.mem, SPACE_MAP, 0, true, 0, 16384);
	assert_false(op[1].pin.ro);
	assert_false(op[1].pin.fast);
	assert_int_equal(op[2].pin.pin, 1);
	assert_space(&op[2].pin.mem, SPACE_MAP, 0, false, 4096, 1);
	assert_true(op[2].pin.ro);
	assert_false(op[2].pin.fast);
	assert_true(op[3].pin.ro);
	assert_true(op[3].pin.fast);
	assert_true(op[4].pin.ro);
	assert_true(op[4].pin.fast);
	assert_int_equal(op[5].kind, OP_UNPIN);
	assert_loc(op[5].loc, 7, 3);
	assert_int_equal(op[5].unpin.pin, 1);
	assert_int_equal(t0[0].kind, OP_PIN);
	assert_int_equal(t0[0].pin.pin, 4);
	assert_int_equal(t0[1].kind, OP_UNPIN);
	assert_int_equal(t0[1].unpin.pin, 4);
	assert_int_equal(t0[2].unpin.pin, 0);
	assert_int_equal(s->threads[1].ops[0].proc, 1);
	assert_int_equal(s->threads[1].ops[0].pin.pin, 5);
	assert_int_equal(op[8].kind, OP_UNPIN);
	assert_int_equal(op[8].proc, 1);
	assert_int_equal(op[8].unpin.pin, 5);
	scen_free(s);
}

static void test_pin_errors(void **state)
{
	char *text;
	size_t n, size = 64 * 1024;
	struct scenario *s;

	(void)state;
#define M "file f 4K\nprocess P\n  map m 8K\n"
	expect_err(M "  pin a m[100..+4K]\n", "4:11",
		   "pin needs a page-aligned offset: 100 is not a multiple of 4K");
	expect_err(M "  pin a m ro ro\n", "4:14", "'ro' is given twice");
	expect_err(M "  pin a m fast ro fast\n", "4:19", "'fast' is given twice");
	expect_err(M "  pin a m fsat\n", "4:11",
		   "unknown pin option 'fsat' (did you mean 'fast'?): expected ro or fast");
	expect_err(M "  pin a m 0x01\n", "4:11", "unexpected '0x01' after the 'pin' operation");
	expect_err(M "  pin a\n", "4:8", "expected a range like buf or buf[0..4K] after 'pin'");
	expect_err(M "  pin m[0..4K]\n", "4:7", "'m' already names a mapping (line 3)");
	expect_err(M "  pin\n", "4:6",
		   "expected a pin name after 'pin', found the end of the line");
	expect_err(M "  pin write m\n", "4:7", "'write' is a keyword and cannot be a name");
	expect_err(M "  pin f m\n", "4:7",
		   "'f' already names a file (line 1): processes, mappings, files, pins and pipes "
		   "need distinct names");
	expect_err(M "  pin P m\n", "4:7", "'P' already names a process (line 2)");
	expect_err(M "  pin a m\n  pin a m\n", "5:7",
		   "pin 'a' already exists (line 4): every pin has its own name");
	expect_err(M "  vmsplice m -> a\n  pin a m\n", "5:7", "'a' already names a pipe (line 4)");
	expect_err(M "  pin a f\n", "4:9",
		   "'f' is a file, not a mapping: 'pin' needs a range of a mapping");
	/* unpin */
	expect_err(M "  unpin a\n", "4:9", "unknown pin 'a'");
	expect_err(M "  pin abc m\n  unpin abd\n", "5:9",
		   "unknown pin 'abd' (did you mean 'abc'?)");
	expect_err(M "  unpin m\n", "4:9", "'m' is a mapping; 'unpin' takes a pin");
	expect_err(M "  unpin\n", "4:8", "expected a pin name after 'unpin', found the end");
	expect_err(M "  pin a m\n  unpin a\n  unpin a\n", "6:9", "pin 'a' was unpinned at line 5");
	expect_err(M "  pin a m\n  unpin a a\n", "5:11",
		   "unexpected 'a' after the 'unpin' operation");
	expect_err(M "  pin a m\n  fork C\nprocess C\n  unpin a\n", "7:9",
		   "pin 'a' is held by process 'P' (line 4): only that process can unpin it");
	/* Pinned and unpinned by other processes' threads, or before it exists. */
	expect_err(M "  unpin a\n  pin a m\n", "4:9", "unknown pin 'a'");
	expect_err(M "  fork C\nprocess C\n  pin a m\nprocess P\n  thread t unpin a\n  join\n",
		   "8:18", "pin 'a' is held by process 'C' (line 6)");
#undef M
	/* At most 1024 pins. */
	text = malloc(size);
	assert_non_null(text);
	n = (size_t)snprintf(text, size, "process P\n  map m 4K\n");
	for (int i = 0; i < 1025; i++)
		n += (size_t)snprintf(text + n, size - n, "  pin p%d m\n", i);
	expect_err(text, "1027:7", "too many pins: a scenario has at most 1024");
	text[n - strlen("  pin p1024 m\n")] = '\0';
	s = parse_ok(text);
	assert_int_equal(s->nr_pins, 1024);
	scen_free(s);
	n = (size_t)snprintf(text, size, "process P\n  map m 4K\n");
	for (int i = 0; i < 1025; i++)
		n += (size_t)snprintf(text + n, size - n, "  vmsplice m -> p%d\n", i);
	expect_err(text, "1027:17", "too many pipes: a scenario has at most 1024");
	free(text);
}

static void test_vmsplice_and_pipe_read(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map m 3 pages\n"
				      "  vmsplice m[100..+3000] -> a\n"
				      "  vmsplice m -> b\n"
				      "  pipe_read a -> m[5000..+3000]\n"
				      "  fork C\n"
				      "  vmsplice m[1] -> c\n"
				      "process C\n"
				      "  pipe_read b -> m\n"
				      "  thread t pipe_read c -> m[4K]\n"
				      "  thread u vmsplice m[0..4K] -> d\n"
				      "  join\n"
				      "process P\n"
				      "  pipe_read d -> m[8K..12K]\n");
	const struct scen_op *op = s->ops;

	(void)state;
	assert_int_equal(s->nr_pipes, 4);
	assert_ref(&s->pipes[0], "a", 3000, 0);
	assert_ref(&s->pipes[1], "b", 12288, 0);
	assert_ref(&s->pipes[2], "c", 1, 0);
	assert_ref(&s->pipes[3], "d", 4096, 1);
	assert_int_equal(op[1].kind, OP_VMSPLICE);
	assert_loc(op[1].loc, 3, 3);
	assert_int_equal(op[1].splice.pipe, 0);
	assert_space(&op[1].splice.mem, SPACE_MAP, 0, false, 100, 3000);
	assert_space(&op[2].splice.mem, SPACE_MAP, 0, true, 0, 12288);
	assert_int_equal(op[3].kind, OP_PIPE_READ);
	assert_int_equal(op[3].splice.pipe, 0);
	assert_space(&op[3].splice.mem, SPACE_MAP, 0, false, 5000, 3000);
	assert_int_equal(op[6].kind, OP_PIPE_READ);
	assert_int_equal(op[6].proc, 1);
	assert_int_equal(op[6].splice.pipe, 1);
	assert_int_equal(s->threads[0].ops[0].kind, OP_PIPE_READ);
	assert_int_equal(s->threads[0].ops[0].splice.pipe, 2);
	assert_int_equal(s->threads[1].ops[0].kind, OP_VMSPLICE);
	assert_int_equal(op[8].kind, OP_PIPE_READ);
	assert_int_equal(op[8].proc, 0);
	assert_int_equal(op[8].splice.pipe, 3);
	scen_free(s);

#define M "file f 4K\nprocess P\n  map m 8K\n"
	expect_err(M "  vmsplice m p\n", "4:14", "expected '->' after the range, found 'p'");
	expect_err(M "  vmsplice m ->\n", "4:16", "expected a new pipe's name after '->'");
	expect_err(M "  vmsplice m -> m\n", "4:17", "'m' already names a mapping (line 3)");
	expect_err(M "  vmsplice m -> p\n  vmsplice m -> p\n", "5:17",
		   "pipe 'p' already exists (line 4): every pipe has its own name");
	expect_err(M "  pin p m\n  vmsplice m -> p\n", "5:17", "'p' already names a pin (line 4)");
	expect_err(M "  vmsplice f -> p\n", "4:12", "'f' is a file, not a mapping");
	expect_err(M "  vmsplice m -> p x\n", "4:19",
		   "unexpected 'x' after the 'vmsplice' operation");
	expect_err(M "  pipe_read p -> m\n", "4:13", "unknown pipe 'p'");
	expect_err(M "  vmsplice m -> pipe1\n  pipe_read pipe2 -> m\n", "5:13",
		   "unknown pipe 'pipe2' (did you mean 'pipe1'?)");
	expect_err(M "  pipe_read f -> m\n", "4:13", "'f' is a file; 'pipe_read' takes a pipe");
	expect_err(M "  vmsplice m -> p\n  pipe_read p -> m[0..4K]\n", "5:18",
		   "pipe 'p' holds 8192 bytes but the range is 4096: pipe_read reads the whole "
		   "pipe into an equally long range");
	expect_err(M "  vmsplice m -> p\n  pipe_read p m\n", "5:15",
		   "expected '->' after the pipe's name, found 'm'");
	expect_err(M "  vmsplice m -> p\n  pipe_read p -> m\n  pipe_read p -> m\n", "6:13",
		   "pipe 'p' was read at line 5");
	expect_err(M "  vmsplice m -> p\n  pipe_read p -> f\n", "5:18",
		   "'f' is a file, not a mapping: 'pipe_read' needs a range of a mapping");
	/* The reader needs the mapping, not the pipe's process. */
	expect_err(M "  vmsplice m -> p\nprocess Q\n  pipe_read p -> m\n", "6:18",
		   "process 'Q' has no mapping 'm'");
#undef M
}

/* == A | B: the whole range equals one alternative; A, B == ...: several
 * ranges against alternatives of one value each. */
static void test_check_alternatives(void **state)
{
	struct scenario *s =
		parse_ok("file d 8K fill=0x33\n"
			 "process P\n"
			 "  map buf 2 pages\n"
			 "  check leak buf[0..4K] == 0x11 | 0x22\n"
			 "  check leak buf[0..4K], buf[4K..8K] == 0x11, 0x11 | 0x22, 0x11 | "
			 "0x22, 0x22\n"
			 "  check corrupt buf == \"ab\" | d[0..8K]|0x00\n"
			 "  check corrupt buf[0..4K] == 0x11\n");
	const struct scen_op *op = s->ops;
	char buf[256];

	(void)state;
	assert_int_equal(s->nr_checks, 4);
	assert_int_equal(op[1].check.cmp, CMP_EQ);
	assert_int_equal(op[1].check.nr_ranges, 1);
	assert_int_equal(op[1].check.nr_alts, 2);
	assert_int_equal(scen_check_value(&op[1], 0, 0)->byte, 0x11);
	assert_int_equal(scen_check_value(&op[1], 1, 0)->byte, 0x22);
	assert_int_equal(op[1].check.value.byte, 0x11);
	assert_range(scen_check_range(&op[1], 0), 0, false, 0, 4096);

	assert_int_equal(op[2].check.nr_ranges, 2);
	assert_int_equal(op[2].check.nr_alts, 3);
	assert_range(scen_check_range(&op[2], 0), 0, false, 0, 4096);
	assert_range(scen_check_range(&op[2], 1), 0, false, 4096, 4096);
	assert_int_equal(scen_check_value(&op[2], 1, 0)->byte, 0x22);
	assert_int_equal(scen_check_value(&op[2], 1, 1)->byte, 0x11);
	assert_int_equal(scen_check_value(&op[2], 2, 1)->byte, 0x22);
	scen_check_describe_ranges(s, &op[2], buf, sizeof(buf));
	assert_string_equal(buf, "buf[0..+4096], buf[4096..+4096]");
	scen_check_describe_values(s, &op[2], buf, sizeof(buf));
	assert_string_equal(buf, "0x11, 0x11 | 0x22, 0x11 | 0x22, 0x22");

	assert_int_equal(op[3].check.nr_alts, 3);
	assert_int_equal(scen_check_value(&op[3], 0, 0)->kind, VAL_BYTES);
	assert_int_equal(scen_check_value(&op[3], 1, 0)->kind, VAL_FILE);
	assert_int_equal(scen_check_value(&op[3], 2, 0)->byte, 0);
	/* A plain check keeps the plain form. */
	assert_int_equal(op[4].check.nr_alts, 1);
	assert_null(op[4].check.values);
	assert_null(op[4].check.ranges);
	assert_int_equal(scen_op_span(&op[4]), 1);
	scen_free(s);

#define C2 "process P\n  map buf 8K\n"
	expect_err(C2 "  check leak buf == 0x11 |\n", "3:27", "expected a value");
	expect_err(C2 "  check leak buf == 0x11 | | 0x22\n", "3:28", "expected a value");
	expect_err(C2 "  check leak buf != 0x11 | 0x22\n", "3:26",
		   "'!=' takes one value: alternatives ('|') go with '=='");
	expect_err(C2 "  check leak buf[0..4K], buf[4K..8K] == 0x11\n", "3:45",
		   "expected ',' and a value for range 2 of 2, found the end of the line");
	expect_err(C2 "  check leak buf[0..4K], buf[4K..8K] == 0x11, 0x11 | 0x22, 0x11, 0x22\n",
		   "3:64", "a value too many: the check compares 2 ranges, one value each");
	expect_err(C2 "  check leak buf == 0x11, 0x22\n", "3:25",
		   "a value too many: the check compares 1 range, one value each");
	expect_err(C2 "  check leak buf, buf != 0x11, 0x11\n", "3:23",
		   "'!=' compares one range: several ranges go with '=='");
	expect_err(C2 "  check leak buf, buf swapped\n", "3:23",
		   "expected '==' or ',' after the ranges, found 'swapped'");
	expect_err(C2 "  check leak buf, == 0x11\n", "3:19", "expected a range");
	expect_err(C2 "  check leak buf[0..4K], buf[0..8] == 0x11, \"0123456789\"\n", "3:45",
		   "longer than the range (8)");
	expect_err(C2 "  check leak buf == 0x11 | 0x22 |\n", "3:34", "expected a value");
#undef C2
}

/* check ... present|swapped|merged, and require RANGE STATE. */
static void test_page_states_and_require(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 2 pages\n"
				      "  check corrupt buf present\n"
				      "  check corrupt buf[4K] swapped\n"
				      "  check leak buf merged\n"
				      "  require buf swapped\n"
				      "  require buf[0..4K] present\n"
				      "  require buf exclusive\n"
				      "  require buf shared\n"
				      "  require buf merged\n"
				      "  thread t require buf present\n"
				      "  join\n");
	const struct scen_op *op = s->ops;

	(void)state;
	assert_int_equal(s->nr_checks, 3); /* a require is no check */
	assert_int_equal(op[1].check.cmp, CMP_PRESENT);
	assert_int_equal(op[2].check.cmp, CMP_SWAPPED);
	assert_range(&op[2].check.range, 0, false, 4096, 1);
	assert_int_equal(op[3].check.cmp, CMP_MERGED);
	assert_int_equal(op[4].kind, OP_REQUIRE);
	assert_int_equal(op[4].check.cmp, CMP_SWAPPED);
	assert_range(&op[4].check.range, 0, true, 0, 8192);
	assert_int_equal(op[5].check.cmp, CMP_PRESENT);
	assert_int_equal(op[6].check.cmp, CMP_EXCLUSIVE);
	assert_int_equal(op[7].check.cmp, CMP_SHARED);
	assert_int_equal(op[8].check.cmp, CMP_MERGED);
	assert_int_equal(op[8].loc.line, 10);
	assert_int_equal(op[8].loc.col, 3);
	assert_int_equal(s->threads[0].ops[0].kind, OP_REQUIRE);
	assert_string_equal(scen_cmp_name(CMP_SWAPPED), "swapped");
	scen_free(s);

#define C2 "file d 4K\nprocess P\n  map buf 8K\n"
	expect_err(C2 "  require buf\n", "4:14",
		   "expected a page state after the range (exclusive, shared, present, swapped, "
		   "merged, huge, pte-mapped or hugetlb), found the end of the line");
	expect_err(C2 "  require buf == 0x11\n", "4:15", "expected a page state");
	expect_err(C2 "  require buf swaped\n", "4:15", "expected a page state");
	expect_err(C2 "  require d swapped\n", "4:11", "'d' is a file, not a mapping");
	expect_err(C2 "  check leak d present\n", "4:16",
		   "'present' checks a mapping's pages: a file is not mapped");
	expect_err(C2 "  require buf swapped present\n", "4:23",
		   "unexpected 'present' after the 'require' operation");
	expect_err(C2 "  require nope swapped\n", "4:11", "unknown mapping 'nope'");
	expect_err("process P\n  require buf swapped\n", "2:11", "unknown mapping 'buf'");
#undef C2
}

/* map ... thp, madvise hugepage|nohugepage, and the page states huge and
 * pte-mapped ('-' is a name character: one token). */
static void test_thp(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map a 2M thp\n"
				      "  map b 4M ro private thp\n"
				      "  map c 2M thp private rw\n"
				      "  map d 2M private\n"
				      "  madvise d hugepage\n"
				      "  madvise a[2093056..+4K] nohugepage\n"
				      "  check leak a huge\n"
				      "  check corrupt a[4K..+4K] pte-mapped\n"
				      "  require b huge\n"
				      "  require c[0..8K] pte-mapped\n"
				      "  thread t check leak a pte-mapped\n"
				      "  join\n");
	const struct scen_op *op = s->ops;

	(void)state;
	assert_int_equal(s->nr_ops, 11);
	assert_true(op[0].map.thp);
	assert_false(op[0].map.shared);
	assert_int_equal(op[0].map.prot, RW);
	assert_int_equal(op[0].map.file, -1);
	assert_int_equal(op[0].map.len, 2UL << 20);
	assert_true(op[1].map.thp);
	assert_int_equal(op[1].map.prot, COW_PROT_READ);
	assert_true(op[2].map.thp);
	assert_int_equal(op[2].map.prot, RW);
	assert_false(op[3].map.thp);
	assert_int_equal(op[4].madvise.advice, COW_MADV_HUGEPAGE);
	assert_range(&op[4].madvise.range, 3, true, 0, 2UL << 20);
	assert_int_equal(op[5].madvise.advice, COW_MADV_NOHUGEPAGE);
	assert_range(&op[5].madvise.range, 0, false, (2UL << 20) - 4096, 4096);
	assert_int_equal(op[6].kind, OP_CHECK);
	assert_int_equal(op[6].check.cmp, CMP_HUGE);
	assert_int_equal(op[6].check.verdict, VERDICT_LEAK);
	assert_int_equal(op[7].check.cmp, CMP_PTE_MAPPED);
	assert_range(&op[7].check.range, 0, false, 4096, 4096);
	assert_int_equal(op[8].kind, OP_REQUIRE);
	assert_int_equal(op[8].check.cmp, CMP_HUGE);
	assert_int_equal(op[9].check.cmp, CMP_PTE_MAPPED);
	assert_int_equal(s->threads[0].ops[0].check.cmp, CMP_PTE_MAPPED);
	assert_int_equal(s->nr_checks, 3);
	assert_string_equal(scen_cmp_name(CMP_HUGE), "huge");
	assert_string_equal(scen_cmp_name(CMP_PTE_MAPPED), "pte-mapped");
	/* scen_check holds thp to private anonymous memory. */
	{
		struct scen_op *w = (struct scen_op *)op;
		char msg[256];

		w[0].map.shared = true;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		assert_non_null(strstr(msg, "2:3: a bad map"));
		w[0].map.shared = false;
		w[7].check.cmp = (enum scen_cmp)(CMP_LAST + 1);
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		assert_non_null(strstr(msg, "9:3: a bad check"));
		w[7].check.cmp = CMP_PTE_MAPPED;
		w[4].madvise.advice = COW_MADV_NOHUGEPAGE + 1;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		assert_non_null(strstr(msg, "6:3: a bad advice"));
		w[4].madvise.advice = COW_MADV_HUGEPAGE;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
	}
	scen_free(s);

#define T "file f 2M\nprocess P\n"
	/* Not with shared nor file=: at the later of the two words. */
	expect_err(T "  map a 2M shared thp\n", "3:19",
		   "thp is for private anonymous mappings only: not with shared");
	expect_err(T "  map a 2M thp shared\n", "3:16",
		   "thp is for private anonymous mappings only: not with shared");
	expect_err(T "  map a 2M ro thp file=f\n", "3:19",
		   "thp is for private anonymous mappings only: not with file=");
	expect_err(T "  map a 2M file=f thp\n", "3:19",
		   "thp is for private anonymous mappings only: not with file=");
	expect_err(T "  map a 2M thp private thp\n", "3:24", "thp is given twice");
	expect_err(T "  map a 2M thq\n", "3:12",
		   "unknown map option 'thq' (did you mean 'thp'?): expected rw, ro, none, "
		   "private, shared, thp, hugetlb or file=FILE");
	expect_err(T "  map a 2M\n  madvise a colapse\n", "4:13",
		   "found 'colapse' (did you mean 'collapse'?)");
	expect_err(T "  map a 2M\n  madvise a hugepages\n", "4:13",
		   "expected an advice (dontneed, dontfork, dofork, mergeable, unmergeable, "
		   "hugepage, nohugepage or collapse) after the range, found 'hugepages' (did you "
		   "mean "
		   "'hugepage'?)");
	expect_err(T "  map a 2M\n  madvise a[1K..+4K] hugepage\n", "4:13",
		   "madvise needs a page-aligned offset");
	expect_err(T "  map a 2M\n  check leak a hug\n", "4:16",
		   "expected '==', '!=', ',', 'faults', 'sigbus' or a page state (exclusive, "
		   "shared, present, swapped, merged, huge, pte-mapped, hugetlb) after the range, "
		   "found 'hug'");
	expect_err(T "  map a 2M\n  require a pte_mapped\n", "4:13",
		   "expected a page state after the range (exclusive, shared, present, swapped, "
		   "merged, huge, pte-mapped or hugetlb), found 'pte_mapped'");
	expect_err(T "  map a 2M\n  require a pte -mapped\n", "4:13",
		   "expected a page state after the range");
	expect_err(T "  check leak f huge\n", "3:16",
		   "'huge' checks a mapping's pages: a file is not mapped");
	expect_err(T "  map a 2M\n  check leak a pte-mapped huge\n", "4:27",
		   "unexpected 'huge' after the 'check' operation");
#undef T
}

/* system hugepages=N, map ... hugetlb, the page state hugetlb, and
 * sigbus at the end of a write, a read or as a check. */
static void test_hugetlb(void **state)
{
	struct scenario *s = parse_ok("system hugepages=3\n"
				      "file f 4K\n"
				      "process P\n"
				      "  map a 2M hugetlb\n"
				      "  map b 4M ro private hugetlb\n"
				      "  map c 2M hugetlb rw\n"
				      "  map d 2M\n"
				      "  write a 0x11 sigbus\n"
				      "  write a[4K..+8] f[0..8] sigbus\n"
				      "  write a 0x11\n"
				      "  read b sigbus\n"
				      "  read b\n"
				      "  check leak a sigbus\n"
				      "  check corrupt a[2097151] sigbus\n"
				      "  check leak a hugetlb\n"
				      "  require b[0..8K] hugetlb\n"
				      "  poke c 0x22\n"
				      "  thread t write c 0x33 sigbus\n"
				      "  join\n");
	const struct scen_op *op = s->ops;

	(void)state;
	assert_int_equal(s->hugepages, 3);
	assert_int_equal(s->nr_ops, 15);
	assert_true(op[0].map.hugetlb);
	assert_false(op[0].map.thp);
	assert_false(op[0].map.shared);
	assert_int_equal(op[0].map.file, -1);
	assert_int_equal(op[0].map.prot, RW);
	assert_int_equal(op[0].map.len, 2UL << 20);
	assert_true(op[1].map.hugetlb);
	assert_int_equal(op[1].map.prot, COW_PROT_READ);
	assert_int_equal(op[1].map.len, 4UL << 20);
	assert_true(op[2].map.hugetlb);
	assert_false(op[3].map.hugetlb);
	assert_int_equal(op[4].kind, OP_WRITE);
	assert_true(op[4].write.sigbus);
	assert_true(scen_op_sigbus(&op[4]));
	assert_true(op[5].write.sigbus);
	assert_int_equal(op[5].write.value.kind, VAL_FILE);
	assert_false(op[6].write.sigbus);
	assert_false(scen_op_sigbus(&op[6]));
	assert_int_equal(op[7].kind, OP_READ);
	assert_true(op[7].read.sigbus);
	assert_true(scen_op_sigbus(&op[7]));
	assert_false(op[8].read.sigbus);
	assert_int_equal(op[9].kind, OP_CHECK);
	assert_int_equal(op[9].check.cmp, CMP_SIGBUS);
	assert_int_equal(op[9].check.verdict, VERDICT_LEAK);
	assert_range(&op[9].check.range, 0, true, 0, 2UL << 20);
	assert_true(scen_op_sigbus(&op[9]));
	assert_false(scen_cmp_is_page(CMP_SIGBUS));
	assert_range(&op[10].check.range, 0, false, (2UL << 20) - 1, 1);
	assert_int_equal(op[11].check.cmp, CMP_HUGETLB);
	assert_true(scen_cmp_is_page(CMP_HUGETLB));
	assert_false(scen_op_sigbus(&op[11]));
	assert_int_equal(op[12].kind, OP_REQUIRE);
	assert_int_equal(op[12].check.cmp, CMP_HUGETLB);
	assert_int_equal(op[13].kind, OP_POKE);
	assert_false(op[13].write.sigbus);
	assert_true(s->threads[0].ops[0].write.sigbus);
	assert_int_equal(s->nr_checks, 3);
	assert_string_equal(scen_cmp_name(CMP_SIGBUS), "sigbus");
	assert_string_equal(scen_cmp_name(CMP_HUGETLB), "hugetlb");
	assert_true(scen_has_hugetlb(s));
	/* scen_check holds hugetlb to private anonymous memory of whole huge
	 * pages from a pool, and sigbus to write, read and check. */
	{
		struct scen_op *w = (struct scen_op *)op;
		struct scenario *ws = (struct scenario *)s;
		char msg[256];

		w[0].map.shared = true; /* MAP_SHARED | MAP_HUGETLB */
		assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
		w[0].map.thp = true;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		assert_non_null(strstr(msg, "4:3: a bad map"));
		w[0].map.thp = false;
		w[0].map.file = 0;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		assert_non_null(strstr(msg, "4:3: a bad map"));
		w[0].map.file = -1;
		w[0].map.shared = false;
		w[0].map.thp = true;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		w[0].map.thp = false;
		w[3].map.hugetlb = true; /* d is 2M: whole, so this one holds */
		assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
		w[3].map.hugetlb = false;
		ws->hugepages = 0;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		assert_non_null(strstr(msg, "4:3: a bad map"));
		ws->hugepages = SCEN_MAX_HUGEPAGES + 1;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		assert_non_null(strstr(msg, "bad system settings"));
		ws->hugepages = 3;
		ws->frames = 3 * 512 - 1;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		ws->frames = 3 * 512;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
		ws->frames = 0;
		w[13].write.sigbus = true;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		assert_non_null(strstr(msg, "a poke that expects SIGBUS"));
		w[13].write.sigbus = false;
		w[11].check.cmp = (enum scen_cmp)(CMP_LAST + 1);
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		w[11].check.cmp = CMP_SIGBUS;
		w[11].check.range.space = SPACE_FILE;
		w[11].check.range.is_file = true;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		assert_non_null(strstr(msg, "15:3: a bad check"));
		w[11].check.range.space = SPACE_MAP;
		w[11].check.range.is_file = false;
		w[12].check.cmp = CMP_SIGBUS; /* a require tests a page state */
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		w[12].check.cmp = CMP_HUGETLB;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
	}
	scen_free(s);
	/* Shared hugetlb memory (MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB):
	 * shared before or after hugetlb, with any protection; the same
	 * rules of size and pool. */
	s = parse_ok("system hugepages=2\n"
		     "process P\n"
		     "  map a 2M shared hugetlb\n"
		     "  map b 4M hugetlb ro shared\n"
		     "  map c 2M none shared hugetlb\n"
		     "  map d 2M shared\n"
		     "  write a 0x11\n"
		     "  fork C\n"
		     "process C\n"
		     "  write a[0..4K] 0x22\n"
		     "process P\n"
		     "  check corrupt a[0..4K] == 0x22\n"
		     "  check corrupt a hugetlb\n"
		     "  madvise a dontneed\n"
		     "  check corrupt a[0..4K] == 0x22\n");
	op = s->ops;
	assert_true(op[0].map.hugetlb);
	assert_true(op[0].map.shared);
	assert_false(op[0].map.thp);
	assert_int_equal(op[0].map.file, -1);
	assert_int_equal(op[0].map.prot, RW);
	assert_int_equal(op[0].map.len, 2UL << 20);
	assert_true(op[1].map.hugetlb);
	assert_true(op[1].map.shared);
	assert_int_equal(op[1].map.prot, COW_PROT_READ);
	assert_int_equal(op[1].map.len, 4UL << 20);
	assert_true(op[2].map.hugetlb);
	assert_true(op[2].map.shared);
	assert_int_equal(op[2].map.prot, 0);
	assert_false(op[3].map.hugetlb);
	assert_true(op[3].map.shared);
	assert_true(scen_has_hugetlb(s));
	{
		char msg[256];

		assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
	}
	scen_free(s);
	s = parse_ok("system hugepages=1024 frames=524288\nprocess P\n  map a 2M\n"
		     "  munmap a[0..4K]\n");
	assert_int_equal(s->hugepages, 1024);
	assert_false(scen_has_hugetlb(s));
	{
		struct scen_op *w = (struct scen_op *)s->ops;
		char msg[256];

		w[1].read.sigbus = true; /* munmap shares read's operands */
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		assert_non_null(strstr(msg, "4:3: expects SIGBUS"));
	}
	scen_free(s);
	s = parse_ok("system hugepages=0\nprocess P\n  map a 2M\n");
	assert_int_equal(s->hugepages, 0);
	scen_free(s);
	s = parse_ok("system hugepages=1\nprocess P\n  map a 2M\n  thread t map b 2M hugetlb\n"
		     "  join\n");
	assert_true(scen_has_hugetlb(s));
	scen_free(s);

	/* The system line. */
	expect_err("system hugepage=2\n", "1:8",
		   "unknown system setting 'hugepage' (did you mean 'hugepages'?): expected "
		   "frames=, swap=, cpus=, zero_page= or hugepages=");
	expect_err("system hugepages=1025\n", "1:18",
		   "expected a count of 2M huge pages from 0 to 1024 after 'hugepages=', found "
		   "'1025'");
	expect_err("system hugepages=2M\n", "1:18",
		   "expected a count of 2M huge pages from 0 to 1024 after 'hugepages=', found "
		   "'2M'");
	expect_err("system hugepages=many\n", "1:18", "expected a count of 2M huge pages");
	expect_err("system hugepages=-1\n", "1:18", "a number cannot be negative");
	expect_err("system hugepages=1 hugepages=2\n", "1:20", "'hugepages' is given twice");
	expect_err("system hugepages=4 frames=2047\n", "1:27",
		   "hugepages=4 takes 2048 frames (512 for each 2M page) from memory, more than "
		   "frames=2047: give more frames, or leave frames= out (the default makes room)");
	expect_err("system frames=1000 hugepages=2\n", "1:30",
		   "hugepages=2 takes 1024 frames (512 for each 2M page) from memory, more than "
		   "frames=1000");

#define H "system hugepages=2\nfile f 2M\nprocess P\n"
	/* A pool to take the pages from. */
	expect_err("process P\n  map a 2M hugetlb\n", "2:12",
		   "a hugetlb mapping needs huge pages: add 'system hugepages=N' (the hugetlb "
		   "pool, N huge pages of 2M) before the first process");
	expect_err("system frames=4096\nprocess P\n  map a 2M hugetlb\n", "3:12",
		   "add 'system hugepages=N'");
	expect_err("system hugepages=0\nprocess P\n  map a 2M hugetlb\n", "3:12",
		   "a hugetlb mapping needs huge pages, and 'system hugepages=0' gives none: give "
		   "'system hugepages=N' (N huge pages of 2M) a count above 0");
	/* Whole huge pages. */
	expect_err(H "  map a 3M hugetlb\n", "4:9",
		   "a hugetlb mapping is whole huge pages: 3145728 bytes is not a multiple of 2M");
	expect_err(H "  map a 4097 hugetlb\n", "4:9", "4097 bytes is not a multiple of 2M");
	expect_err(H "  map a 511 pages hugetlb\n", "4:9", "a hugetlb mapping is whole huge pages");
	/* Shared too, under the same rules of size and pool. */
	expect_err(H "  map a 3M shared hugetlb\n", "4:9",
		   "a hugetlb mapping is whole huge pages: 3145728 bytes is not a multiple of 2M");
	expect_err(H "  map a 1M hugetlb shared\n", "4:9", "1048576 bytes is not a multiple of 2M");
	expect_err("process P\n  map a 2M shared hugetlb\n", "2:19",
		   "a hugetlb mapping needs huge pages: add 'system hugepages=N'");
	expect_err("system hugepages=0\nprocess P\n  map a 2M hugetlb shared\n", "3:12",
		   "'system hugepages=0' gives none");
	expect_err(H "  map a 2M shared hugetlb private\n", "4:27",
		   "private or shared is given twice");
	expect_err(H "  map a 2M private hugetlb shared\n", "4:28",
		   "private or shared is given twice");
	/* Not with file= or thp: at the later of the two words. */
	expect_err(H "  map a 2M hugetlb file=f\n", "4:20",
		   "hugetlb is for anonymous mappings (private or shared) only: not with file= (a "
		   "scenario's files are not on hugetlbfs)");
	expect_err(H "  map a 2M file=f hugetlb\n", "4:19",
		   "hugetlb is for anonymous mappings (private or shared) only: not with file=");
	expect_err(H "  map a 2M shared file=f hugetlb\n", "4:26",
		   "hugetlb is for anonymous mappings (private or shared) only: not with file=");
	expect_err(H "  map a 2M shared hugetlb file=f\n", "4:27",
		   "hugetlb is for anonymous mappings (private or shared) only: not with file=");
	expect_err(H "  map a 2M shared hugetlb thp\n", "4:27",
		   "thp is for private anonymous mappings only: not with shared");
	expect_err(H "  map a 2M hugetlb thp shared\n", "4:20",
		   "hugetlb and thp do not go together");
	expect_err(H "  map a 2M thp hugetlb\n", "4:16",
		   "hugetlb and thp do not go together: a hugetlb mapping has huge pages of its "
		   "own (the hugetlb pool), thp asks for transparent ones");
	expect_err(H "  map a 2M hugetlb thp\n", "4:20", "hugetlb and thp do not go together");
	expect_err(H "  map a 2M hugetlb ro hugetlb\n", "4:23", "hugetlb is given twice");
	expect_err(H "  map a 2M hugetbl\n", "4:12",
		   "unknown map option 'hugetbl' (did you mean 'hugetlb'?): expected rw, ro, "
		   "none, private, shared, thp, hugetlb or file=FILE");
	/* The page state. */
	expect_err(H "  map a 2M hugetlb\n  require a huge_tlb\n", "5:13",
		   "expected a page state after the range (exclusive, shared, present, swapped, "
		   "merged, huge, pte-mapped or hugetlb), found 'huge_tlb'");
	expect_err(H "  check leak f hugetlb\n", "4:16",
		   "'hugetlb' checks a mapping's pages: a file is not mapped");
	/* sigbus: the end of a write, a read, or a check of its own. */
	expect_err(H "  map a 2M hugetlb\n  check leak a == 0x11 sigbus\n", "5:24",
		   "a check that expects SIGBUS compares no bytes: write 'check leak RANGE "
		   "sigbus'");
	expect_err(H "  map a 2M hugetlb\n  check corrupt a, a == 0x11, 0x11 sigbus\n", "5:36",
		   "write 'check corrupt RANGE sigbus'");
	expect_err(H "  check leak f sigbus\n", "4:16",
		   "'sigbus' checks a mapping: a file is not mapped, it cannot raise SIGBUS");
	expect_err(H "  map a 2M hugetlb\n  check leak a sigbus 0x11\n", "5:23",
		   "unexpected '0x11' after the 'check' operation");
	expect_err(H "  map a 2M hugetlb\n  check leak a present sigbus\n", "5:24",
		   "unexpected 'sigbus' after the 'check' operation");
	expect_err(H "  map a 2M hugetlb\n  require a sigbus\n", "5:13",
		   "expected a page state after the range");
	expect_err(H "  map a 2M hugetlb\n  poke a 0x11 sigbus\n", "5:15",
		   "poke does not raise SIGBUS: get_user_pages fails with EFAULT where a hugetlb "
		   "page is missing (an error); 'sigbus' goes with write, read and check only");
	expect_err(H "  map a 2M hugetlb\n  munmap a sigbus\n", "5:12",
		   "'sigbus' goes with write, read and check (check VERDICT RANGE sigbus) only, "
		   "not with 'munmap'");
	expect_err(H "  map a 2M hugetlb\n  vmsplice a -> p sigbus\n", "5:19",
		   "'sigbus' goes with write, read and check (check VERDICT RANGE sigbus) only, "
		   "not with 'vmsplice'");
	expect_err(H "  map a 2M hugetlb\n  exit sigbus\n", "5:8", "not with 'exit'");
	expect_err(H "  map a 2M hugetlb\n  pin p1 a sigbus\n", "5:12",
		   "'sigbus' goes with write, read and check (check VERDICT RANGE sigbus) only, "
		   "not with 'pin'");
	expect_err(H "  map a 2M hugetlb\n  mprotect a ro sigbus\n", "5:17", "not with 'mprotect'");
	expect_err(H "  map a 2M hugetlb\n  write a 0x11 sigbus sigbus\n", "5:23",
		   "unexpected 'sigbus' after the 'write' operation");
	expect_err(H "  map a 2M hugetlb\n  write a sigbus\n", "5:11", "unknown file 'sigbus'");
	expect_err(H "  map a 2M hugetlb\n  read a sigbus sigbus\n", "5:17",
		   "unexpected 'sigbus' after the 'read' operation");
	expect_err(H "  map a 2M hugetlb\n  read a sigbuss\n", "5:10",
		   "unexpected 'sigbuss' after the 'read' operation");
#undef H
}

/* repeat N and fork NAME with a body. */
static void test_repeat_and_fork_bodies(void **state)
{
	struct scenario *s = parse_ok("process P\n"
				      "  map buf 2 pages\n"
				      "  repeat 3\n"
				      "    write buf 0x22\n"
				      "    repeat 2\n"
				      "      read buf\n"
				      "    check corrupt buf == 0x22\n"
				      "  thread writer\n"
				      "    repeat 2 host=1000000\n"
				      "      write buf[0..4K] 0x11\n"
				      "  thread forker\n"
				      "    repeat 5\n"
				      "      fork C\n"
				      "        check leak buf[0..4K] == 0x11 | 0x22\n"
				      "        fork G\n"
				      "          map own 1 page\n"
				      "          write own 0x01\n"
				      "        exit\n"
				      "    read buf\n"
				      "  join\n"
				      "  fork D\n"
				      "    write buf 0x33\n"
				      "  fork E\n"
				      "process E\n"
				      "  check leak buf == 0x22\n");
	const struct scen_op *op = s->ops, *t;

	(void)state;
	assert_int_equal(op[1].kind, OP_REPEAT);
	assert_int_equal(op[1].repeat.count, 3);
	assert_int_equal(op[1].repeat.nr, 4);
	assert_int_equal(scen_op_span(&op[1]), 5);
	assert_int_equal(op[3].kind, OP_REPEAT);
	assert_int_equal(op[3].repeat.count, 2);
	assert_int_equal(op[3].repeat.nr, 1);
	assert_int_equal(op[5].kind, OP_CHECK);
	assert_int_equal(op[6].kind, OP_GROUP);
	/* fork D with a body, fork E without. */
	assert_int_equal(op[7].kind, OP_FORK);
	assert_int_equal(op[7].fork.nr, 1);
	assert_int_equal(op[8].proc, op[7].fork.child);
	assert_int_equal(op[9].kind, OP_FORK);
	assert_int_equal(op[9].fork.nr, 0);
	assert_int_equal(s->nr_ops, 11);

	assert_int_equal(op[1].repeat.host_count, 3); /* host= defaults to the count */
	assert_int_equal(s->threads[0].ops[0].repeat.count, 2);
	assert_int_equal(s->threads[0].ops[0].repeat.host_count, 1000000);
	t = s->threads[1].ops;
	assert_int_equal(s->threads[1].nr_ops, 8);
	assert_int_equal(t[0].kind, OP_REPEAT);
	assert_int_equal(t[0].repeat.nr, 6);
	assert_int_equal(t[1].kind, OP_FORK);
	assert_int_equal(t[1].fork.nr, 5);
	assert_int_equal(t[1].proc, 0);
	assert_int_equal(t[2].proc, t[1].fork.child);
	assert_int_equal(t[3].kind, OP_FORK); /* G: the child's child */
	assert_int_equal(t[3].fork.nr, 2);
	assert_int_equal(t[4].kind, OP_MAP);
	assert_int_equal(t[4].proc, t[3].fork.child);
	assert_int_equal(t[6].kind, OP_EXIT);
	assert_int_equal(t[6].proc, t[1].fork.child);
	assert_int_equal(t[7].kind, OP_READ);
	assert_int_equal(t[7].proc, 0);
	/* scen_check holds the bodies to their rules. */
	{
		struct scen_op *w = s->threads[1].ops;
		char msg[256];

		w[0].repeat.nr = 8;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		assert_non_null(strstr(msg, "a body that does not fit"));
		w[0].repeat.nr = 6;
		w[3].fork.nr = 0; /* G, forked without a body inside repeat */
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		w[3].fork.nr = 2;
		w[2].proc = 0; /* the child's check run by its parent */
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		w[2].proc = w[1].fork.child;
		s->ops[2].kind = OP_MAP; /* a map inside repeat */
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		assert_non_null(strstr(msg, "a body's operation that does not fit"));
		s->ops[2].kind = OP_WRITE;
		s->ops[1].repeat.count = SCEN_MAX_REPEAT + 1;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);
		s->ops[1].repeat.count = 3;
		assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
	}
	scen_free(s);

#define C2 "process P\n  map buf 8K\n"
	expect_err(C2 "  repeat 0\n    read buf\n", "3:10", "repeat 0: the count is 1 to 1000000");
	expect_err(C2 "  repeat 1000001\n    read buf\n", "3:10", "the count is 1 to 1000000");
	expect_err(C2 "  repeat\n    read buf\n", "3:9",
		   "expected a count after 'repeat', like 'repeat 100', found the end of the line");
	expect_err(C2 "  repeat 4K\n    read buf\n", "3:10", "expected a count after 'repeat'");
	expect_err(C2 "  repeat 2 host 5\n    read buf\n", "3:17",
		   "expected '=' after 'host', found '5'");
	expect_err(C2 "  repeat 2 host=0\n    read buf\n", "3:17",
		   "repeat 0: the count is 1 to 1000000");
	expect_err(C2 "  repeat 2 host=\n    read buf\n", "3:17",
		   "expected a count after 'host=', like 'repeat 100', found the end of the line");
	expect_err(C2 "  repeat 2 hots=5\n    read buf\n", "3:12", "unexpected 'hots'");
	expect_err(C2 "  repeat 3 read buf\n", "3:12", "unexpected 'read' after the 'repeat'");
	expect_err(C2 "  repeat 3\n  read buf\n", "3:3",
		   "repeat has no operations: indent them under it");
	expect_err(C2 "  repeat 3\n", "3:3", "repeat has no operations");
	expect_err(C2 "  repeat 3\n    map x 4K\n", "4:5",
		   "'map' is not allowed inside repeat: it would run again on each pass");
	expect_err(C2 "  repeat 3\n    munmap buf\n", "4:5",
		   "'munmap' is not allowed inside repeat");
	expect_err(C2 "  repeat 3\n    exit\n", "4:5", "'exit' is not allowed inside repeat");
	expect_err(C2 "  repeat 3\n    pin p buf\n", "4:5",
		   "'pin' is not allowed inside repeat: direct I/O, pins and pipes are made once");
	expect_err("file d 4K\n" C2 "  repeat 3\n    dio_read d -> buf[0..4K]\n", "5:5",
		   "'dio_read' is not allowed inside repeat");
	expect_err(C2 "  repeat 3\n    thread t read buf\n    join\n", "4:5",
		   "a thread group cannot start inside repeat");
	expect_err(C2 "  repeat 3\n    fork C\n    read buf\n", "4:5",
		   "a fork inside repeat needs a body: indent the child's operations under it");
	expect_err(C2 "  repeat 3\n    fork C\n      fork G\n", "5:7",
		   "a fork inside repeat needs a body");
	expect_err(C2 "  thread t repeat 3\n  join\n", "3:12",
		   "repeat opens a block: write 'thread NAME' on a line of its own");
	expect_err(C2 "  fork C\n    vmsplice buf -> p\n", "4:5",
		   "'vmsplice' is not allowed in a fork's body");
	expect_err(C2 "  fork C\n    thread t read buf\n    join\n", "4:5",
		   "a thread group cannot start in a fork's body");
	expect_err(C2 "  fork C\n    exit\n    read buf\n", "5:5",
		   "process 'C' exited at line 4: nothing can follow 'exit' in its body");
	expect_err(C2 "  fork C\n    read buf\nthread x in C read buf\njoin\n", "5:13",
		   "process 'C' exited at line 3");
	expect_err(C2 "  fork C\n    read buf\nprocess C\n  read buf\n", "5:9",
		   "process 'C' exited at line 3");
	expect_err(C2 "  fork C\n    read buf\n  fork C\n", "5:8", "process 'C' already exists");
	expect_err(C2 "  fork C\n    map own 4K\n  read own\n", "5:8",
		   "process 'P' has no mapping 'own'");
	expect_err(C2 "  thread t\n    repeat 2\n      exit\n  join\n", "5:7",
		   "exit is not allowed in a thread");
#undef C2
	/* Bodies nest, but not without end. */
	{
		char text[4096];
		size_t n = (size_t)snprintf(text, sizeof(text), "process P\n  map b 4K\n");

		for (int d = 0; d < 20; d++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%*srepeat 2\n",
					      2 + 2 * d, "");
		snprintf(text + n, sizeof(text) - n, "%*sread b\n", 44, "");
		expect_err(text, "17:31", "blocks nest at most 15 deep here");
	}
}

static void test_check_spaces(void **state)
{
	struct scenario *s = parse_ok("file f 8K\n"
				      "process P\n"
				      "  map m 4 pages\n"
				      "  pin a m[4K..12K] ro\n"
				      "  vmsplice m[10..+100] -> p\n"
				      "  check overwrite f == 0x00\n"
				      "  check overwrite f[4K..+10] != \"abc\"\n"
				      "  check desync a[4K..+4K] == f[0..4K]\n"
				      "  check desync a == 0x00\n"
				      "  check leak p[99] == 0x00\n"
				      "  check leak p == f[0..100]\n"
				      "  unpin a\n"
				      "  pipe_read p -> m[0..100]\n"
				      "process Q\n"
				      "  check leak f[8191] == 0x00\n");
	const struct scen_op *op = s->ops;

	(void)state;
	assert_int_equal(s->nr_checks, 7);
	assert_space(&op[3].check.range, SPACE_FILE, 0, true, 0, 8192);
	assert_space(&op[4].check.range, SPACE_FILE, 0, false, 4096, 10);
	assert_int_equal(op[4].check.cmp, CMP_NE);
	assert_space(&op[5].check.range, SPACE_PIN, 0, false, 4096, 4096);
	assert_space(&op[5].check.value.file, SPACE_FILE, 0, false, 0, 4096);
	assert_space(&op[6].check.range, SPACE_PIN, 0, true, 0, 8192);
	assert_space(&op[7].check.range, SPACE_PIPE, 0, false, 99, 1);
	assert_space(&op[8].check.range, SPACE_PIPE, 0, true, 0, 100);
	assert_int_equal(op[11].proc, 1);
	assert_space(&op[11].check.range, SPACE_FILE, 0, false, 8191, 1);
	scen_free(s);

#define M "file f 8K\nprocess P\n  map m 8K\n  pin a m[0..4K]\n  vmsplice m[0..+10] -> p\n"
	expect_err(M "  check leak a[4K] == 0x00\n", "6:16",
		   "offset 4096 is beyond the end of 'a' (4096 bytes)");
	expect_err(M "  check leak p[0..+11] == 0x00\n", "6:20",
		   "11 bytes from offset 0 go beyond the end of 'p' (10 bytes)");
	expect_err(M "  check leak f[0..9K] == 0x00\n", "6:19",
		   "end 9216 is beyond the end of 'f'");
	expect_err(M "  check leak f faults\n", "6:16",
		   "'faults' checks a mapping: a file is not mapped, it cannot fault");
	expect_err(M "  check leak a faults\n", "6:16", "a pin is not mapped");
	expect_err(M "  check leak p faults\n", "6:16", "a pipe is not mapped");
	expect_err(M "  unpin a\n  check desync a == 0x00\n", "7:16",
		   "pin 'a' was unpinned at line 6");
	expect_err(M "  pipe_read p -> m[0..10]\n  check leak p == 0x00\n", "7:14",
		   "pipe 'p' was read at line 6");
	expect_err(M "  check leak pp == 0x00\n", "6:14",
		   "unknown mapping, file, pin or pipe 'pp' (did you mean 'p'?)");
	expect_err(M "  check leak fx == 0x00\n", "6:14", "(did you mean 'f'?)");
	expect_err(M "  check leak P == 0x00\n", "6:14",
		   "'P' is a process; a check reads a mapping, a file, a pin or a pipe");
	expect_err(M "  check leak a == a\n", "6:19",
		   "'a' is a pin; a range in a value must name a file");
	/* A pin or pipe made later is not there yet. */
	expect_err("process P\n  map m 4K\n  check leak z == 0x00\n  pin z m\n", "3:14",
		   "unknown mapping, file, pin or pipe 'z'");
#undef M
}

/* A pin or pipe belongs to the thread of a group that makes it until
 * join; one that a thread ends is not used by the group's others. */
static void test_gup_thread_groups(void **state)
{
	struct scenario *s;

	(void)state;
#define M "process P\n  map m 8K\n"
	expect_err(M "  thread a pin x m\n  thread b check leak x == 0x00\n  join\n", "4:23",
		   "pin 'x' is made by thread 'a' of this group (line 3): other threads can use "
		   "it after 'join'");
	expect_err(M "  thread a pin x m\n  thread b unpin x\n  join\n", "4:18",
		   "pin 'x' is made by thread 'a' of this group");
	expect_err(M "  thread a vmsplice m -> x\n  thread b pipe_read x -> m\n  join\n", "4:22",
		   "pipe 'x' is made by thread 'a' of this group (line 3)");
	expect_err(M "  fork C\nprocess C\nthread a in P vmsplice m -> x\n"
		     "thread b in C pipe_read x -> m\njoin\n",
		   "6:25", "pipe 'x' is made by thread 'a' of this group");
	expect_err(M "  pin x m\n  thread a check leak x == 0x00\n  thread b unpin x\n  join\n",
		   "5:18",
		   "thread 'a' of this group uses pin 'x': it can be unpinned after 'join'");
	expect_err(M "  vmsplice m -> x\n  thread a\n    check leak x == 0x00\n  thread b\n"
		     "    read m\n    pipe_read x -> m\n  join\n",
		   "8:15", "thread 'a' of this group uses pipe 'x': it can be read after 'join'");
	expect_err(M "  pin x m\n  thread b unpin x\n  thread a check leak x == 0x00\n  join\n",
		   "5:23", "pin 'x' was unpinned at line 4");
	/* All of these are fine. */
	s = parse_ok(M "  pin x m\n"
		       "  vmsplice m -> y\n"
		       "  thread a\n"
		       "    pin z m\n"
		       "    check leak x == 0x00\n"
		       "    check leak z == 0x00\n"
		       "    unpin z\n"
		       "  thread b\n"
		       "    check leak x == 0x00\n"
		       "    check leak y == 0x00\n"
		       "  thread c\n"
		       "    vmsplice m -> w\n"
		       "    pipe_read w -> m\n"
		       "  join\n"
		       "  thread a\n"
		       "    check leak x == 0x00\n"
		       "    unpin x\n"
		       "  thread b pipe_read y -> m\n"
		       "  join\n"
		       "  thread a pin x2 m\n"
		       "  join\n"
		       "  unpin x2\n");
	assert_int_equal(s->nr_pins, 3);
	assert_int_equal(s->nr_pipes, 2);
	scen_free(s);
#undef M
}

/* Processes, mappings, files, pins and pipes share one namespace; thread
 * names live apart. */
static void test_one_namespace(void **state)
{
	static const char *const words[] = {"dio_read", "dio_write", "wait",	 "pin",
					    "unpin",	"vmsplice",  "pipe_read"};
	struct scenario *s;

	(void)state;
	s = parse_ok("file x 4K\nprocess P\n  map m 4K\n  write m x\n  thread x read m\n  thread m "
		     "read m\n  thread P read m\n  join\n");
	assert_int_equal(s->ops[1].write.value.kind, VAL_FILE);
	scen_free(s);
	expect_err("file x 4K\nprocess x\n", "2:9",
		   "'x' already names a file (line 1): processes, mappings, files, pins and pipes "
		   "need distinct names");
	expect_err("process P\n  map P 4K\n", "2:7", "'P' already names a process (line 1)");
	expect_err("process P\n  map m 4K\nfile m 4K\n", "3:6",
		   "'m' already names a mapping (line 2)");
	expect_err("process P\n  map m 4K\n  fork m\n", "3:8",
		   "'m' already names a mapping (line 2)");
	expect_err("process P\n  map m 4K\nprocess m\n", "3:9", "'m' already names a mapping");
	expect_err("process P\n  map m 4K\n  pin x m\n  map x 4K\n", "4:7",
		   "'x' already names a pin (line 3)");
	expect_err("process P\n  map m 4K\n  vmsplice m -> x\nfile x 4K\n", "4:6",
		   "'x' already names a pipe (line 3)");
	expect_err("process P\n  map m 4K\n  vmsplice m -> x\nprocess x\n", "4:9",
		   "'x' already names a pipe (line 3)");
	/* The new operation words are keywords; their options are not. */
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		char text[64];

		snprintf(text, sizeof(text), "process %s\n", words[i]);
		expect_err(text, "1:9", "is a keyword and cannot be a name");
	}
	s = parse_ok("process fast\n  map ro 4K\n  pin pin_ ro ro fast\n");
	assert_true(s->ops[1].pin.ro);
	scen_free(s);
	/* A mapping name is mapped again by its name, a process continued. */
	s = parse_ok("process P\n  map m 4K\nprocess Q\n  map m 4K\nprocess P\n  read m\n");
	assert_int_equal(s->nr_maps, 1);
	scen_free(s);
}

/* The validator knows the rules of pins, pipes, direct I/O and spaces. */
static void test_scen_check_gup_damage(void **state)
{
	struct scenario *s = parse_ok(gup_example);
	struct scen_op *op = s->ops;
	struct scen_op *dio = &s->threads[0].ops[0], tmp;
	char msg[256];

	(void)state;
#define BROKEN(what)                                                                      \
	do {                                                                              \
		assert_int_equal(scen_check(s, msg, sizeof(msg)), COW_ECORRUPT);          \
		if (!strstr(msg, (what)))                                                 \
			fail_msg("scen_check said \"%s\", expected \"%s\"", msg, (what)); \
	} while (0)
	dio->dio.mem.off = 100;
	BROKEN("direct I/O of file [0..+4096] and memory [100..+4096]");
	dio->dio.mem.off = 512;
	dio->dio.file.len = 512;
	BROKEN("direct I/O of file");
	dio->dio.file.len = 4096;
	dio->dio.mem.space = SPACE_FILE;
	BROKEN("a range in space 1, expected 0");
	dio->dio.mem.space = SPACE_MAP;
	dio->dio.file.is_file = false;
	BROKEN("a range's is_file is 0 in space 1");
	dio->dio.file.is_file = true;
	s->nr_dio = 3;
	BROKEN("nr_dio 3, counted 2");
	s->nr_dio = 2;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);

	op[4].pin.mem.off = 512;
	BROKEN("an unaligned offset");
	op[4].pin.mem.off = 0;
	s->pins[0].len = 8192;
	BROKEN("pin 0 is 8192 bytes of process 0, made from 4096 of 0");
	s->pins[0].len = 4096;
	op[6].check.range.off = 4096;
	BROKEN("range [4096..+4096] is outside its 4096 bytes");
	op[6].check.range.off = 0;
	op[6].check.cmp = CMP_FAULTS;
	BROKEN("a bad check");
	op[6].check.cmp = CMP_EQ;
	/* The check of the pin after its unpin. */
	tmp = op[6];
	op[6] = op[8];
	op[8] = tmp;
	BROKEN("uses pin 0 after its end");
	scen_free(s);

	s = parse_ok(gup_example);
	op = s->ops;
	op[9].proc = 0; /* C's pipe_read, in P: fine for a pipe */
	op[10].proc = 0;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
	op[9].splice.mem.len = 100;
	BROKEN("reads 4096 bytes of a pipe into 100");
	op[9].splice.mem.len = 4096;
	op[9].splice.pipe = 1;
	BROKEN("uses pipe 1");
	op[9].splice.pipe = 0;
	op[8].proc = 1; /* C unpins P's pin */
	BROKEN("unpins another process's pin");
	op[8].proc = 0;
	op[5].splice.pipe = 1;
	BROKEN("makes pipe 1 of 1");
	op[5].splice.pipe = 0;
	strcpy(s->pipes[0].name, "P1");
	BROKEN("the name 'P1' is given to two things");
	strcpy(s->pipes[0].name, "data");
	BROKEN("the name 'data' is given to two things");
	strcpy(s->pipes[0].name, "pipe1");
	s->nr_pins = 0;
	BROKEN("makes pin 0 of 0");
	s->nr_pins = 1;
	assert_int_equal(scen_check(s, msg, sizeof(msg)), 0);
	scen_free(s);

	/* A pin a thread makes, used by another thread of its group. */
	s = parse_ok("process P\n  map m 4K\n  thread a pin x m\n  thread b read m\n  join\n"
		     "  check leak x == 0x00\n");
	s->threads[1].ops[0] = s->ops[2];
	s->threads[1].ops[0].proc = 0;
	s->nr_checks = 2;
	BROKEN("uses pin 0 of another thread of its group");
	scen_free(s);
	/* Pins are numbered in program order. */
	s = parse_ok("process P\n  map m 4K\n  pin a m\n  pin b m\n");
	s->ops[1].pin.pin = 1;
	BROKEN("3:3: makes pin 1, expected 0");
	scen_free(s);
#undef BROKEN
}

/* ---- robustness ------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Parse anything: only 0 or COW_EINVAL with a located message. */
static void parse_any(const char *text, size_t len)
{
	struct scenario *s;
	int rc = parse_raw(text, len, &s);

	char msg[256];

	if (rc == 0) {
		assert_non_null(s);
		if (scen_check(s, msg, sizeof(msg)))
			fail_msg("the parsed scenario is broken: %s\n%.*s", msg, (int)len, text);
		scen_free(s);
		return;
	}
	assert_int_equal(rc, COW_EINVAL);
	assert_null(s);
	assert_memory_equal(last_err, PATH ":", strlen(PATH ":"));
}

static void test_random_bytes(void **state)
{
	char buf[600];

	(void)state;
	rng_state = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < 2000; i++) {
		size_t len = rng() % sizeof(buf);

		for (size_t j = 0; j < len; j++) {
			uint64_t r = rng();

			/* Half the buffers are printable text with line breaks. */
			buf[j] = (char)(i % 2 ? r : (r % 8 == 0 ? '\n' : 32 + r % 95));
		}
		parse_any(buf, len);
	}
}

static void test_random_token_soup(void **state)
{
	static const char *const words[] = {"process",
					    "P",
					    "C",
					    "thread",
					    "t",
					    "u",
					    "in",
					    "join",
					    "map",
					    "buf",
					    "4K",
					    "3",
					    "pages",
					    "rw",
					    "ro",
					    "shared",
					    "write",
					    "read",
					    "check",
					    "corrupt",
					    "leak",
					    "[",
					    "]",
					    "..",
					    "+",
					    "0x01",
					    "\"ab\"",
					    "data",
					    "file",
					    "8K",
					    "fill=0x5a",
					    "fork",
					    "exit",
					    "munmap",
					    "mprotect",
					    "madvise",
					    "swapout",
					    "dontneed",
					    "==",
					    "!=",
					    "faults",
					    "system",
					    "cpus=4",
					    "policy",
					    "expect",
					    "pass",
					    "linux-6.5",
					    "x",
					    "\n",
					    "\n  ",
					    "\n    ",
					    "\t",
					    "#c\n",
					    "0",
					    "16",
					    "dio_read",
					    "none",
					    "\"\\x41\"",
					    "buf[0..4K]",
					    "\n",
					    "\n",
					    "\n  ",
					    "\n  ",
					    "->",
					    "dio_write",
					    "wait",
					    "pin",
					    "unpin",
					    "vmsplice",
					    "pipe_read",
					    "p1",
					    "fast",
					    "p1[0..4K]",
					    "data[0..512]",
					    "512",
					    "pipe",
					    "buf[512..+4K]",
					    "poke",
					    "file=data",
					    "file="};
	char buf[1024];

	(void)state;
	rng_state = 42;
	for (int i = 0; i < 3000; i++) {
		size_t len = 0, nw = rng() % 60;

		for (size_t w = 0; w < nw; w++) {
			const char *word = words[rng() % ARRAY_SIZE(words)];
			size_t wl = strlen(word);

			if (len + wl + 1 > sizeof(buf))
				break;
			memcpy(buf + len, word, wl);
			len += wl;
			if (rng() % 3)
				buf[len++] = ' ';
		}
		parse_any(buf, len);
	}
}

static void mutate(const char *text, uint64_t seed)
{
	char buf[2048];
	size_t base = strlen(text);

	assert_true(2 * base <= sizeof(buf));
	rng_state = seed;
	for (int i = 0; i < 2000; i++) {
		size_t len = base;
		int nmut = 1 + (int)(rng() % 4);

		memcpy(buf, text, base);
		for (int m = 0; m < nmut; m++) {
			size_t at = len ? rng() % len : 0;

			switch (rng() % 4) {
			case 0: buf[at] = (char)rng(); break;
			case 1: /* delete a run */
			{
				size_t k = 1 + rng() % 16;

				if (at + k > len)
					k = len - at;
				memmove(buf + at, buf + at + k, len - at - k);
				len -= k;
				break;
			}
			case 2: /* duplicate a run */
			{
				size_t k = 1 + rng() % 32;

				if (at + k > len)
					k = len - at;
				if (len + k > sizeof(buf))
					break;
				memmove(buf + at + k, buf + at, len - at);
				len += k;
				break;
			}
			default: buf[at] = " \n\t[]\"#0x.+=->"[rng() % 14]; break;
			}
		}
		parse_any(buf, len);
	}
}

static void test_mutated_example(void **state)
{
	(void)state;
	mutate(example, 7);
	mutate(gup_example, 8);
	mutate(file_example, 9);
}

/* The fuzz corpus directory, from the repository root (where tests/run.sh
 * runs the tests) or next to the test binary's build/tests/. */
static DIR *open_corpus(char *dir, size_t len)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
	DIR *d;

	snprintf(dir, len, "tests/fuzz/corpus");
	d = opendir(dir);
	if (d || !slash)
		return d;
	snprintf(dir, len, "%.*s/../../tests/fuzz/corpus", (int)(slash - argv0), argv0);
	return opendir(dir);
}

/* Every input of the committed fuzz corpus, without libFuzzer. */
static void test_fuzz_corpus(void **state)
{
	char dir[1024], path[2048];
	struct dirent *e;
	int files = 0, parsed = 0;
	DIR *d = open_corpus(dir, sizeof(dir));

	(void)state;
	if (!d)
		fail_msg("cannot open the fuzz corpus tests/fuzz/corpus (%s): run the tests from "
			 "the repository root, as tests/run.sh does",
			 strerror(errno));
	while ((e = readdir(d))) {
		struct scenario *s = NULL;
		struct stat st;
		int rc;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		rc = scen_load(path, &s, last_err, sizeof(last_err));
		if (rc != 0 && rc != COW_EINVAL)
			fail_msg("%s: %d: %s", path, rc, last_err);
		if (rc == 0) {
			parsed++;
			scen_free(s);
		}
		files++;
	}
	closedir(d);
	if (getenv("COW_TEST_VERBOSE"))
		printf("# corpus: %d files, %d parse\n", files, parsed);
	assert_true(files > 0);
	assert_true(parsed > 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_structure),
		cmocka_unit_test(test_crlf_and_no_final_newline),
		cmocka_unit_test(test_minimal_and_defaults),
		cmocka_unit_test(test_empty_scenarios),
		cmocka_unit_test(test_system_line),
		cmocka_unit_test(test_policy_line),
		cmocka_unit_test(test_policy_rule_sets),
		cmocka_unit_test(test_expect_lines),
		cmocka_unit_test(test_file_line),
		cmocka_unit_test(test_process_blocks),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_map_options),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_mprotect_madvise_munmap),
		cmocka_unit_test(test_swapout),
		cmocka_unit_test(test_fork_and_mapping_sets),
		cmocka_unit_test(test_exit),
		cmocka_unit_test(test_thread_groups),
		cmocka_unit_test(test_group_visibility),
		cmocka_unit_test(test_group_errors),
		cmocka_unit_test(test_argless_operations),
		cmocka_unit_test(test_unknown_words),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_indentation),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_long_lines_and_big_files),
		cmocka_unit_test(test_load_and_path),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_verdict_names),
		cmocka_unit_test(test_scen_check_catches_damage),
		cmocka_unit_test(test_free_after_errors),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_gup_example_structure),
		cmocka_unit_test(test_range_spaces),
		cmocka_unit_test(test_dio),
		cmocka_unit_test(test_dio_errors),
		cmocka_unit_test(test_map_file),
		cmocka_unit_test(test_map_file_errors),
		cmocka_unit_test(test_poke),
		cmocka_unit_test(test_uffd_continue),
		cmocka_unit_test(test_arrow_token),
		cmocka_unit_test(test_pin_and_unpin),
		cmocka_unit_test(test_pin_errors),
		cmocka_unit_test(test_vmsplice_and_pipe_read),
		cmocka_unit_test(test_check_spaces),
		cmocka_unit_test(test_check_alternatives),
		cmocka_unit_test(test_page_states_and_require),
		cmocka_unit_test(test_thp),
		cmocka_unit_test(test_hugetlb),
		cmocka_unit_test(test_repeat_and_fork_bodies),
		cmocka_unit_test(test_gup_thread_groups),
		cmocka_unit_test(test_one_namespace),
		cmocka_unit_test(test_scen_check_gup_damage),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_random_token_soup),
		cmocka_unit_test(test_mutated_example),
		cmocka_unit_test(test_fuzz_corpus),
	};

	(void)argc;
	argv0 = argv[0];
	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
