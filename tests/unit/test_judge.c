/*
 * Tests of scen_judge (src/scenario/check.c), the one evaluator of checks
 * and requires that the model and the host back end share: a fake
 * executor whose memory, page states and errors the test sets decides
 * every outcome, and each outcome's verdict and exact wording is
 * asserted, so a change of either that would split the two back ends'
 * messages fails here first.
 */
#include "testutil.h"

#include "scenario/scenario.h"

#define PATH "t.cow"
#define E_FAULT 14
#define E_NOMEM 12
#define E_IO 5
#define E_PERM 1
#define E_SIGBUS 1000 /* an executor's code for SIGBUS */

/* The fake executor: one page-sized mapping per range, page flags by
 * page, an error to return from read or fill (0: none). */
struct fake {
	unsigned char mem[4][8192];
	int pages[4];
	int read_err, fill_err;
	/* SIGBUS on a read that reaches offset sigbus_at of range
	 * sigbus_range (with sigbus set) */
	bool sigbus;
	int sigbus_range;
	unsigned long sigbus_at;
	unsigned long off; /* where the check's range starts in its mapping */
	int want;	   /* what page was last asked for */
	const char *why;   /* set as no_page_state when a page reads -1 */
	struct scen_check_io *io;
};

static int fake_read(void *arg, int i, unsigned long at, unsigned char *buf, unsigned long n)
{
	struct fake *f = arg;

	if (f->read_err)
		return f->read_err;
	if (f->sigbus && i == f->sigbus_range && at + n > f->sigbus_at)
		return E_SIGBUS;
	memcpy(buf, f->mem[i] + at, n);
	return 0;
}

static int fake_fill(void *arg, const struct scen_value *v, unsigned long at, unsigned char *buf,
		     unsigned long n)
{
	struct fake *f = arg;

	if (f->fill_err)
		return f->fill_err;
	scen_value_bytes(v, at, buf, n);
	return 0;
}

static int fake_page(void *arg, unsigned long at, int want)
{
	struct fake *f = arg;
	int st = f->pages[(f->off + at) / 4096];

	f->want = want;
	if (st < 0 && f->why)
		f->io->no_page_state = f->why;
	return st;
}

static bool fake_failed(int err)
{
	return err == E_NOMEM || err == E_IO;
}

static const char *fake_strerror(int err, char *buf, size_t len)
{
	snprintf(buf, len, "error %d", err);
	return buf;
}

static struct scenario *parse(const char *text)
{
	struct scenario *s = NULL;
	char err[512];

	if (scen_parse(PATH, text, strlen(text), &s, err, sizeof(err)))
		fail_msg("%s", err);
	return s;
}

/* The last operation of the scenario's top level, judged with f. */
static struct scen_finding judge(const struct scenario *s, struct fake *f)
{
	struct scen_check_io io = {
		.read = fake_read,
		.fill = fake_fill,
		.page = fake_page,
		.failed = fake_failed,
		.strerror = fake_strerror,
		.no_page_state = "the flags are root's",
		.efault = E_FAULT,
		.esigbus = E_SIGBUS,
		.arg = f,
	};
	struct scen_finding out;

	f->io = &io;
	scen_judge(s, &s->ops[s->nr_ops - 1], &io, &out);
	return out;
}

#define assert_finding(fd, out_, verdict_, msg_)               \
	do {                                                   \
		assert_int_equal((fd).out, (out_));            \
		assert_string_equal((fd).verdict, (verdict_)); \
		assert_string_equal((fd).msg, (msg_));         \
	} while (0)

static void test_equal(void **state)
{
	struct scenario *s =
		parse("process p\n  map buf 2 pages\n  check corrupt buf[0..8] == 0x11\n");
	struct fake f = {0};
	struct scen_finding fd;

	(void)state;
	memset(f.mem[0], 0x11, 8);
	fd = judge(s, &f);
	assert_int_equal(fd.out, SCEN_HELD);
	f.mem[0][5] = 0x22;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_FAILED, "corrupt",
		       "check corrupt buf[0..+8] == 0x11 failed: found 0x22, expected 0x11 at "
		       "buf[5] (first difference, offset 5 in the range)");
	scen_free(s);
}

static void test_not_equal_and_alternatives(void **state)
{
	struct scenario *s = parse("process p\n  map buf 1 page\n  check leak buf[0..2] != 0x00\n");
	struct fake f = {0};
	struct scen_finding fd;

	(void)state;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_FAILED, "leak",
		       "check leak buf[0..+2] != 0x00 failed: the bytes are equal");
	f.mem[0][1] = 1;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	scen_free(s);

	s = parse("process p\n  map a 1 page\n  map b 1 page\n"
		  "  check corrupt a[0], b[0] == 0x01, 0x01 | 0x02, 0x02\n");
	memset(&f, 0, sizeof(f));
	f.mem[0][0] = 1;
	f.mem[1][0] = 2; /* torn: a from the first alternative, b from the second */
	fd = judge(s, &f);
	assert_int_equal(fd.out, SCEN_FAILED);
	assert_non_null(strstr(fd.msg, "match none of the 2 values"));
	f.mem[1][0] = 1;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	scen_free(s);
}

/* An error that says nothing about the data is verdict error; one that
 * says the memory is gone is the check's verdict. */
static void test_read_errors(void **state)
{
	struct scenario *s = parse("process p\n  map buf 1 page\n  check corrupt buf == 0x00\n");
	struct fake f = {0};
	struct scen_finding fd;

	(void)state;
	f.read_err = E_NOMEM;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_ERROR, "error",
		       "check corrupt buf[0..+4096]: reading it failed: error 12");
	f.read_err = E_PERM;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_FAILED, "corrupt",
		       "check corrupt buf[0..+4096]: the memory cannot be read: error 1");
	f.read_err = 0;
	f.fill_err = E_IO;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_ERROR, "error",
		       "check corrupt buf[0..+4096]: 0x00 cannot be read: error 5");
	scen_free(s);
}

static void test_faults(void **state)
{
	struct scenario *s = parse("process p\n  map buf 1 page\n  check leak buf faults\n");
	struct fake f = {0};
	struct scen_finding fd;

	(void)state;
	f.mem[0][0] = 0x7f;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_FAILED, "leak",
		       "check leak buf[0] faults failed: the byte is readable (0x7f)");
	f.read_err = E_FAULT;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	f.read_err = E_NOMEM;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_ERROR, "error", "check faults: the read failed: error 12");
	scen_free(s);
}

static void test_pages(void **state)
{
	struct scenario *s = parse("process p\n  map buf 2 pages\n  check desync buf exclusive\n");
	struct fake f = {.pages = {SCEN_PAGE_PRESENT | SCEN_PAGE_EXCLUSIVE, SCEN_PAGE_PRESENT}};
	struct scen_finding fd;

	(void)state;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_FAILED, "desync",
		       "check desync buf[4096] exclusive failed: the page is not exclusive");
	f.pages[1] |= SCEN_PAGE_EXCLUSIVE;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	f.pages[0] = SCEN_PAGE_SWAPPED;
	fd = judge(s, &f);
	assert_string_equal(fd.msg,
			    "check desync buf[0] exclusive failed: the page is swapped out");
	f.pages[0] = -1; /* the executor cannot tell: no verdict, a skip */
	fd = judge(s, &f);
	assert_finding(fd, SCEN_SKIPPED, "skip", "check exclusive: the flags are root's");
	scen_free(s);

	s = parse("process p\n  map buf 2 pages\n  require buf[4096..+4096] present\n");
	memset(&f, 0, sizeof(f));
	f.off = 4096;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_SKIPPED, "skip",
		       "require buf present does not hold: the page at buf[4096] is not present");
	f.pages[1] = SCEN_PAGE_PRESENT;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	scen_free(s);
}

/* huge and pte-mapped: what each asks the executor for, and the words
 * for a page that is something else. */
static void test_huge_and_pte_mapped(void **state)
{
	const int thp = SCEN_PAGE_PRESENT | SCEN_PAGE_LARGE;
	struct scenario *s = parse("process p\n  map buf 2 pages\n  check leak buf huge\n");
	struct fake f = {.pages = {thp | SCEN_PAGE_HUGE, thp}};
	struct scen_finding fd;

	(void)state;
	fd = judge(s, &f);
	assert_int_equal(f.want, SCEN_PAGE_HUGE);
	assert_finding(fd, SCEN_FAILED, "leak",
		       "check leak buf[4096] huge failed: the page is not mapped by a huge PMD");
	f.pages[1] |= SCEN_PAGE_HUGE;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	f.pages[0] = 0;
	fd = judge(s, &f);
	assert_string_equal(fd.msg, "check leak buf[0] huge failed: the page is not present");
	/* The executor's own reason for a page it cannot tell. */
	f.pages[0] = -1;
	f.why = "part PMD-mapped";
	fd = judge(s, &f);
	assert_finding(fd, SCEN_SKIPPED, "skip", "check huge: part PMD-mapped");
	scen_free(s);

	s = parse("process p\n  map buf 3 pages\n  check corrupt buf pte-mapped\n");
	memset(&f, 0, sizeof(f));
	f.pages[0] = f.pages[1] = f.pages[2] = thp;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	assert_int_equal(f.want, SCEN_PAGE_LARGE | SCEN_PAGE_HUGE);
	f.pages[1] = thp | SCEN_PAGE_HUGE;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_FAILED, "corrupt",
		       "check corrupt buf[4096] pte-mapped failed: the page is mapped by a huge "
		       "PMD");
	f.pages[1] = SCEN_PAGE_PRESENT | SCEN_PAGE_EXCLUSIVE;
	fd = judge(s, &f);
	assert_string_equal(fd.msg, "check corrupt buf[4096] pte-mapped failed: the page is not "
				    "part of a large folio");
	f.pages[1] = thp;
	f.pages[2] = SCEN_PAGE_SWAPPED;
	fd = judge(s, &f);
	assert_string_equal(fd.msg,
			    "check corrupt buf[8192] pte-mapped failed: the page is swapped out");
	scen_free(s);

	s = parse("process p\n  map buf 1 page\n  require buf pte-mapped\n");
	memset(&f, 0, sizeof(f));
	f.pages[0] = thp | SCEN_PAGE_HUGE;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_SKIPPED, "skip",
		       "require buf pte-mapped does not hold: the page at buf[0] is mapped by a "
		       "huge PMD");
	scen_free(s);
	/* present and swapped ask for nothing more. */
	s = parse("process p\n  map buf 1 page\n  check leak buf present\n");
	memset(&f, 0, sizeof(f));
	f.pages[0] = SCEN_PAGE_PRESENT;
	f.want = -1;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	assert_int_equal(f.want, 0);
	scen_free(s);
}

/* check VERDICT RANGE sigbus: it holds only where the read raises
 * SIGBUS (on any page); anything else is an error, never the check's
 * verdict. */
static void test_sigbus_check(void **state)
{
	struct scenario *s = parse("system hugepages=1\nprocess p\n  map buf 2 pages\n"
				   "  check leak buf sigbus\n");
	struct fake f = {0};
	struct scen_finding fd;

	(void)state;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_ERROR, "error",
		       "check leak buf[0..+8192] sigbus: expected SIGBUS, the access succeeded");
	f.sigbus = true;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	f.sigbus_at = 4096; /* the second page */
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	f.sigbus = false;
	f.read_err = E_FAULT;
	fd = judge(s, &f);
	assert_finding(
		fd, SCEN_ERROR, "error",
		"check leak buf[0..+8192] sigbus: expected SIGBUS, the read failed: error 14");
	f.read_err = E_NOMEM;
	fd = judge(s, &f);
	assert_finding(
		fd, SCEN_ERROR, "error",
		"check leak buf[0..+8192] sigbus: expected SIGBUS, the read failed: error 12");
	scen_free(s);
	/* Of a part of the mapping, a byte. */
	s = parse("process p\n  map buf 2 pages\n  check corrupt buf[4097] sigbus\n");
	memset(&f, 0, sizeof(f));
	fd = judge(s, &f);
	assert_finding(fd, SCEN_ERROR, "error",
		       "check corrupt buf[4097..+1] sigbus: expected SIGBUS, the access succeeded");
	f.sigbus = true;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	scen_free(s);
}

/* A check without sigbus whose read raises SIGBUS is an error that
 * names it (the scenario did not say), whatever it compares. */
static void test_unexpected_sigbus(void **state)
{
	struct scenario *s = parse("process p\n  map buf 2 pages\n  check corrupt buf == 0x11\n");
	struct fake f = {.sigbus = true, .sigbus_at = 4096};
	struct scen_finding fd;

	(void)state;
	memset(f.mem[0], 0x11, sizeof(f.mem[0]));
	fd = judge(s, &f);
	assert_finding(
		fd, SCEN_ERROR, "error",
		"check corrupt buf[0..+8192]: reading it raised SIGBUS (no huge page for the "
		"hugetlb mapping); a check that expects SIGBUS is written 'check corrupt buf "
		"sigbus'");
	f.sigbus = false;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	scen_free(s);

	s = parse("process p\n  map buf 2 pages\n  check leak buf[8..16] != 0x11\n");
	memset(&f, 0, sizeof(f));
	f.sigbus = true;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_ERROR, "error",
		       "check leak buf[8..+8]: reading it raised SIGBUS (no huge page for the "
		       "hugetlb mapping); a check that expects SIGBUS is written 'check leak buf "
		       "sigbus'");
	scen_free(s);

	/* Of several ranges, the one that raised it (read last first). */
	s = parse("process p\n  map a 2 pages\n  map b 2 pages\n"
		  "  check leak a[0..8], b[0..8] == 0x00, 0x00 | 0x11, 0x00\n");
	memset(&f, 0, sizeof(f));
	f.sigbus = true;
	f.sigbus_range = 0;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_ERROR, "error",
		       "check leak a[0..+8]: reading it raised SIGBUS (no huge page for the "
		       "hugetlb mapping); a check that expects SIGBUS is written 'check leak a "
		       "sigbus'");
	scen_free(s);

	/* faults expects a fault (SIGSEGV), not SIGBUS. */
	s = parse("process p\n  map buf 1 page\n  check leak buf[5] faults\n");
	memset(&f, 0, sizeof(f));
	f.sigbus = true;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_ERROR, "error",
		       "check leak buf[5..+1]: reading it raised SIGBUS (no huge page for the "
		       "hugetlb mapping); a check that expects SIGBUS is written 'check leak buf "
		       "sigbus'");
	scen_free(s);

	/* A page state touches nothing: no read, no SIGBUS. */
	s = parse("process p\n  map buf 1 page\n  check leak buf present\n");
	memset(&f, 0, sizeof(f));
	f.sigbus = true;
	f.pages[0] = SCEN_PAGE_PRESENT;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	scen_free(s);
}

/* hugetlb: present and a page of the pool; huge holds for it too. */
static void test_hugetlb_page_state(void **state)
{
	const int htlb = SCEN_PAGE_PRESENT | SCEN_PAGE_HUGE | SCEN_PAGE_HUGETLB;
	struct scenario *s = parse("process p\n  map buf 2 pages\n  check corrupt buf hugetlb\n");
	struct fake f = {.pages = {htlb, SCEN_PAGE_PRESENT | SCEN_PAGE_LARGE | SCEN_PAGE_HUGE}};
	struct scen_finding fd;

	(void)state;
	fd = judge(s, &f);
	assert_int_equal(f.want, SCEN_PAGE_HUGETLB);
	assert_finding(fd, SCEN_FAILED, "corrupt",
		       "check corrupt buf[4096] hugetlb failed: the page is not a hugetlb page");
	f.pages[1] = htlb;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	f.pages[0] = 0;
	fd = judge(s, &f);
	assert_string_equal(fd.msg, "check corrupt buf[0] hugetlb failed: the page is not present");
	f.pages[0] = -1;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_SKIPPED, "skip", "check hugetlb: the flags are root's");
	scen_free(s);

	s = parse("process p\n  map buf 2 pages\n  check corrupt buf huge\n");
	memset(&f, 0, sizeof(f));
	f.pages[0] = f.pages[1] = htlb;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	scen_free(s);
	s = parse("process p\n  map buf 2 pages\n  check corrupt buf pte-mapped\n");
	fd = judge(s, &f);
	assert_finding(fd, SCEN_FAILED, "corrupt",
		       "check corrupt buf[0] pte-mapped failed: the page is mapped by a huge PMD");
	scen_free(s);

	s = parse("process p\n  map buf 1 page\n  require buf hugetlb\n");
	memset(&f, 0, sizeof(f));
	f.pages[0] = SCEN_PAGE_PRESENT | SCEN_PAGE_EXCLUSIVE;
	fd = judge(s, &f);
	assert_finding(fd, SCEN_SKIPPED, "skip",
		       "require buf hugetlb does not hold: the page at buf[0] is not a hugetlb "
		       "page");
	f.pages[0] = htlb;
	assert_int_equal(judge(s, &f).out, SCEN_HELD);
	scen_free(s);
}

/* scen_judge_access: a write's or a read's outcome against its sigbus,
 * worded once for both executors. */
static void test_access_sigbus(void **state)
{
	struct scenario *s = parse("system hugepages=1\n"
				   "process p\n"
				   "  map buf 2M hugetlb\n"
				   "  write buf 0x11\n"
				   "  write buf[4K..8K] 0x11 sigbus\n"
				   "  read buf[0..+512]\n"
				   "  read buf sigbus\n");
	const struct scen_op *w = &s->ops[1], *ws = &s->ops[2], *r = &s->ops[3], *rs = &s->ops[4];
	struct scen_finding fd;

	(void)state;
	/* Without sigbus: it must run through. */
	scen_judge_access(s, w, 0, E_SIGBUS, NULL, &fd);
	assert_int_equal(fd.out, SCEN_HELD);
	scen_judge_access(s, w, E_SIGBUS, E_SIGBUS, "error 1000", &fd);
	assert_finding(fd, SCEN_ERROR, "error",
		       "write buf[0..+2097152] raised SIGBUS (no huge page for the hugetlb "
		       "mapping); a write that expects SIGBUS ends with 'sigbus'");
	scen_judge_access(s, w, E_FAULT, E_SIGBUS, "bad address", &fd);
	assert_finding(fd, SCEN_ERROR, "error", "write failed: bad address");
	scen_judge_access(s, r, E_SIGBUS, E_SIGBUS, "error 1000", &fd);
	assert_finding(fd, SCEN_ERROR, "error",
		       "read buf[0..+512] raised SIGBUS (no huge page for the hugetlb mapping); a "
		       "read that expects SIGBUS ends with 'sigbus'");
	scen_judge_access(s, r, E_FAULT, E_SIGBUS, "bad address", &fd);
	assert_finding(fd, SCEN_ERROR, "error", "read failed: bad address");
	/* With sigbus: it must raise it. */
	scen_judge_access(s, ws, E_SIGBUS, E_SIGBUS, "error 1000", &fd);
	assert_int_equal(fd.out, SCEN_HELD);
	scen_judge_access(s, ws, 0, E_SIGBUS, NULL, &fd);
	assert_finding(fd, SCEN_ERROR, "error",
		       "write buf[4096..+4096] sigbus: expected SIGBUS, the access succeeded");
	scen_judge_access(s, ws, E_FAULT, E_SIGBUS, "bad address", &fd);
	assert_finding(fd, SCEN_ERROR, "error",
		       "write buf[4096..+4096] sigbus: expected SIGBUS, the write failed: bad "
		       "address");
	scen_judge_access(s, rs, E_SIGBUS, E_SIGBUS, "error 1000", &fd);
	assert_int_equal(fd.out, SCEN_HELD);
	scen_judge_access(s, rs, 0, E_SIGBUS, NULL, &fd);
	assert_finding(fd, SCEN_ERROR, "error",
		       "read buf[0..+2097152] sigbus: expected SIGBUS, the access succeeded");
	scen_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_not_equal_and_alternatives),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_huge_and_pte_mapped),
		cmocka_unit_test(test_sigbus_check),
		cmocka_unit_test(test_unexpected_sigbus),
		cmocka_unit_test(test_hugetlb_page_state),
		cmocka_unit_test(test_access_sigbus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
