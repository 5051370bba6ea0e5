/*
 * Checks and requires, judged (scenario.h, scen_judge): one evaluator and
 * one set of failure messages for both executors, the model's interpreter
 * (interp.c) and the host back end (src/kernel/worker.c).  They differ
 * only in how they read what a check looks at (a range's bytes, a file
 * value, a page's state) and how they name an error code, which struct
 * scen_check_io carries, so that a check words its verdict the same way
 * on both and `cowlab diff` compares like with like.
 *
 * A check compares one range with one value (== or !=), one range with
 * several alternatives (== A | B: the bytes equal A as a whole or B as a
 * whole), or several ranges with alternatives of as many values each
 * (A, B == 0x11, 0x11 | 0x22, 0x11: range i equals value i of one
 * alternative).  The ranges are read last first: a writer that writes A
 * and then B can never be caught with B's new bytes and A's old ones by a
 * reader that reads B before A, so a tuple check of a concurrent reader
 * is about the writer's order, not about the reader's timing.
 *
 * SIGBUS (an access to a hugetlb mapping that finds no huge page) is the
 * scenario's business: `check VERDICT RANGE sigbus` and a write or read
 * that ends with `sigbus` expect it, and hold only when it comes; any
 * other access that raises it is an error (the scenario did not say),
 * and so is an expected one that does not come.  scen_judge_access words
 * the write's and the read's, scen_judge the checks'.
 */
#include "scenario/scenario.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CHUNK 4096

/* What one alternative looked like where it first differed. */
struct miss {
	bool dead;
	int range;
	unsigned long at; /* offset in the range */
	unsigned char found, want;
};

static int nr_ranges(const struct scen_op *op)
{
	return op->check.nr_ranges > 1 ? op->check.nr_ranges : 1;
}

static int nr_alts(const struct scen_op *op)
{
	return op->check.cmp == CMP_EQ && op->check.nr_alts > 1 ? op->check.nr_alts : 1;
}

enum { MATCH_OK, MATCH_FAIL, MATCH_EREAD, MATCH_EVALUE };

/* Range i against every alternative still alive; 0, or an EREAD/EVALUE. */
static int match_range(const struct scen_op *op, const struct scen_check_io *io, int i,
		       struct miss *miss, int *alive, int *err)
{
	const struct scen_range *g = scen_check_range(op, i);
	unsigned char buf[CHUNK], expect[CHUNK];

	for (unsigned long done = 0; done<g->len && * alive> 0;) {
		unsigned long n = g->len - done < CHUNK ? g->len - done : CHUNK;

		*err = io->read(io->arg, i, done, buf, n);
		if (*err)
			return MATCH_EREAD;
		for (int a = 0; a < nr_alts(op); a++) {
			if (miss[a].dead)
				continue;
			*err = io->fill(io->arg, scen_check_value(op, a, i), done, expect, n);
			if (*err)
				return MATCH_EVALUE;
			for (unsigned long j = memcmp(buf, expect, n) ? 0 : n; j < n; j++) {
				if (buf[j] == expect[j])
					continue;
				miss[a] = (struct miss){true, i, done + j, buf[j], expect[j]};
				(*alive)--;
				break;
			}
		}
		done += n;
	}
	return 0;
}

/* Compare a CMP_EQ or CMP_NE check's ranges with its values: MATCH_OK,
 * MATCH_FAIL (msg says why), or MATCH_EREAD / MATCH_EVALUE (range *which
 * or a value of it could not be read: *err). */
static int match(const struct scenario *s, const struct scen_op *op, const struct scen_check_io *io,
		 char *msg, size_t len, int *which, int *err)
{
	const char *verdict = scen_verdict_name(op->check.verdict);
	struct miss miss[SCEN_MAX_ALTS] = {{0}};
	int alive = nr_alts(op), rc, n;
	char ranges[256], values[256];

	*which = -1;
	*err = 0;
	for (int i = nr_ranges(op) - 1; i >= 0 && alive > 0; i--) {
		rc = match_range(op, io, i, miss, &alive, err);
		if (rc) {
			*which = i;
			return rc;
		}
	}
	if (op->check.cmp == CMP_NE ? alive == 0 : alive > 0)
		return MATCH_OK;
	scen_check_describe_ranges(s, op, ranges, sizeof(ranges));
	scen_check_describe_values(s, op, values, sizeof(values));
	if (op->check.cmp == CMP_NE) {
		snprintf(msg, len, "check %s %s != %s failed: the bytes are equal", verdict, ranges,
			 values);
		return MATCH_FAIL;
	}
	if (nr_alts(op) == 1 && nr_ranges(op) == 1) {
		const struct scen_range *g = &op->check.range;
		const char *name = scen_range_name(s, g);

		snprintf(msg, len,
			 "check %s %s == %s failed: found 0x%02x, expected 0x%02x at %s[%lu] "
			 "(first difference, offset %lu in the range)",
			 verdict, ranges, values, miss[0].found, miss[0].want, name,
			 g->off + miss[0].at, miss[0].at);
		return MATCH_FAIL;
	}
	if (nr_alts(op) == 1)
		n = snprintf(msg, len, "check %s %s == %s failed:", verdict, ranges, values);
	else
		n = snprintf(msg, len,
			     "check %s %s == %s failed: the bytes match none of the %d values:",
			     verdict, ranges, values, nr_alts(op));
	for (int a = 0; a < nr_alts(op) && n > 0 && (size_t)n < len; a++) {
		const struct scen_range *g = scen_check_range(op, miss[a].range);

		n += snprintf(msg + n, len - (size_t)n,
			      "%s found 0x%02x, expected 0x%02x at %s[%lu]", a ? ";" : "",
			      miss[a].found, miss[a].want, scen_range_name(s, g),
			      g->off + miss[a].at);
	}
	if (n > 0 && (size_t)n < len)
		snprintf(msg + n, len - (size_t)n, " (the first difference from each)");
	return MATCH_FAIL;
}

/* Does a page with flags (SCEN_PAGE_*) have page state c?  If not, *what
 * says what it is instead ("not present", "swapped out", ...). */
static bool page_holds(enum scen_cmp c, int flags, const char **what)
{
	bool present = flags & SCEN_PAGE_PRESENT, ok = false;

	switch (c) {
	case CMP_EXCLUSIVE: ok = present && (flags & SCEN_PAGE_EXCLUSIVE); break;
	case CMP_SHARED: ok = present && !(flags & SCEN_PAGE_EXCLUSIVE); break;
	case CMP_PRESENT: ok = present; break;
	case CMP_SWAPPED: ok = flags & SCEN_PAGE_SWAPPED; break;
	case CMP_MERGED: ok = present && (flags & SCEN_PAGE_KSM); break;
	case CMP_HUGE: ok = present && (flags & SCEN_PAGE_HUGE); break;
	case CMP_PTE_MAPPED:
		ok = present && (flags & SCEN_PAGE_LARGE) && !(flags & SCEN_PAGE_HUGE);
		break;
	case CMP_HUGETLB: ok = present && (flags & SCEN_PAGE_HUGETLB); break;
	default: break;
	}
	if (ok)
		return true;
	if (!present)
		*what = flags & SCEN_PAGE_SWAPPED ? "swapped out" : "not present";
	else if (c == CMP_EXCLUSIVE || c == CMP_SHARED)
		*what = flags & SCEN_PAGE_EXCLUSIVE ? "exclusive" : "not exclusive";
	else if (c == CMP_MERGED)
		*what = "not a KSM page";
	else if (c == CMP_HUGE)
		*what = "not mapped by a huge PMD";
	else if (c == CMP_PTE_MAPPED)
		*what = flags & SCEN_PAGE_HUGE ? "mapped by a huge PMD"
					       : "not part of a large folio";
	else if (c == CMP_HUGETLB)
		*what = "not a hugetlb page";
	else
		*what = "present";
	return false;
}

/* The SCEN_PAGE_* flags beyond present and swapped that page state c
 * needs (scen_check_io's page: the host reads them at a cost). */
static int page_wants(enum scen_cmp c)
{
	switch (c) {
	case CMP_EXCLUSIVE:
	case CMP_SHARED: return SCEN_PAGE_EXCLUSIVE;
	case CMP_MERGED: return SCEN_PAGE_KSM;
	case CMP_HUGE: return SCEN_PAGE_HUGE;
	case CMP_PTE_MAPPED: return SCEN_PAGE_LARGE | SCEN_PAGE_HUGE;
	case CMP_HUGETLB: return SCEN_PAGE_HUGETLB;
	default: return 0;
	}
}

/* Does every page of op's range (a check's or a require's) have the page
 * state it names?  1, or 0 with the first that has not (its offset in
 * *at, what it is in *what), or -1 if the executor cannot tell.  The
 * range's mapping starts on a page boundary: the pages begin where the
 * range's offset crosses one. */
static int pages_hold(const struct scen_op *op, const struct scen_check_io *io, unsigned long *at,
		      const char **what)
{
	const struct scen_range *g = &op->check.range;
	int want = page_wants(op->check.cmp);

	for (*at = 0; *at < g->len; *at += SCEN_PAGE_SIZE - ((g->off + *at) % SCEN_PAGE_SIZE)) {
		int st = io->page(io->arg, *at, want);

		if (st < 0)
			return -1;
		if (!page_holds(op->check.cmp, st, what))
			return 0;
	}
	return 1;
}

static COW_PRINTF(3, 4) void found(struct scen_finding *f, enum scen_outcome out, const char *fmt,
				   ...)
{
	va_list ap;

	f->out = out;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
}

/* check VERDICT RANGE PAGES, require RANGE PAGES: page by page, without
 * touching.  A require that does not hold skips the run. */
static void judge_pages(const struct scenario *s, const struct scen_op *op,
			const struct scen_check_io *io, struct scen_finding *f)
{
	const struct scen_range *g = &op->check.range;
	const char *name = scen_range_name(s, g), *cmp = scen_cmp_name(op->check.cmp);
	const char *what = NULL;
	bool req = op->kind == OP_REQUIRE;
	unsigned long at;

	switch (pages_hold(op, io, &at, &what)) {
	case -1:
		found(f, SCEN_SKIPPED, "%s %s: %s", req ? "require" : "check", cmp,
		      io->no_page_state ? io->no_page_state : "the page state cannot be read");
		return;
	case 0:
		if (req)
			found(f, SCEN_SKIPPED,
			      "require %s %s does not hold: the page at %s[%lu] is %s", name, cmp,
			      name, g->off + at, what);
		else
			found(f, SCEN_FAILED, "check %s %s[%lu] %s failed: the page is %s",
			      f->verdict, name, g->off + at, cmp, what);
		return;
	default: f->out = SCEN_HELD;
	}
}

/* Did the access that returned err raise SIGBUS? */
static bool is_sigbus(const struct scen_check_io *io, int err)
{
	return err != 0 && err == io->esigbus;
}

/* Why an access raises SIGBUS, in cowlab: the model's COW_ESIGBUS, and
 * on the host the only SIGBUS a scenario's memory can raise. */
#define SIGBUS_WHY "no huge page for the hugetlb mapping"

/* A check that is not `sigbus` raised it reading [off..+len] of range g:
 * an error (the scenario did not say). */
static void unexpected_sigbus(const struct scenario *s, const struct scen_range *g,
			      unsigned long off, unsigned long len, struct scen_finding *f)
{
	found(f, SCEN_ERROR,
	      "check %s %s[%lu..+%lu]: reading it raised SIGBUS (" SIGBUS_WHY "); a check that "
	      "expects SIGBUS is written 'check %s %s sigbus'",
	      f->verdict, scen_range_name(s, g), off, len, f->verdict, scen_range_name(s, g));
}

/* check VERDICT RANGE sigbus: reading RANGE must raise SIGBUS (on any of
 * its pages: the read stops there).  Anything else is an error: the
 * scenario's premise (a hugetlb page missing) did not hold. */
static void judge_sigbus(const struct scenario *s, const struct scen_op *op,
			 const struct scen_check_io *io, struct scen_finding *f)
{
	const struct scen_range *g = &op->check.range;
	unsigned char buf[CHUNK];
	char e[128];

	for (unsigned long done = 0; done < g->len;) {
		unsigned long n = g->len - done < CHUNK ? g->len - done : CHUNK;
		int err = io->read(io->arg, 0, done, buf, n);

		if (is_sigbus(io, err)) {
			f->out = SCEN_HELD;
			return;
		}
		if (err) {
			found(f, SCEN_ERROR,
			      "check %s %s[%lu..+%lu] sigbus: expected SIGBUS, the read failed: %s",
			      f->verdict, scen_range_name(s, g), g->off, g->len,
			      io->strerror(err, e, sizeof(e)));
			return;
		}
		done += n;
	}
	found(f, SCEN_ERROR, "check %s %s[%lu..+%lu] sigbus: expected SIGBUS, the access succeeded",
	      f->verdict, scen_range_name(s, g), g->off, g->len);
}

/* check VERDICT RANGE faults: reading its first byte must fault. */
static void judge_faults(const struct scenario *s, const struct scen_op *op,
			 const struct scen_check_io *io, struct scen_finding *f)
{
	const struct scen_range *g = &op->check.range;
	unsigned char b = 0;
	char e[128];
	int err = io->read(io->arg, 0, 0, &b, 1);

	if (err == io->efault)
		f->out = SCEN_HELD;
	else if (is_sigbus(io, err))
		unexpected_sigbus(s, g, g->off, 1, f);
	else if (err && io->failed(err))
		found(f, SCEN_ERROR, "check faults: the read failed: %s",
		      io->strerror(err, e, sizeof(e)));
	else
		found(f, SCEN_FAILED,
		      "check %s %s[%lu] faults failed: the byte is readable (0x%02x)", f->verdict,
		      scen_range_name(s, g), g->off, err ? 0 : b);
}

/* check VERDICT RANGE... == VALUE... | ..., check VERDICT RANGE != VALUE. */
static void judge_compare(const struct scenario *s, const struct scen_op *op,
			  const struct scen_check_io *io, struct scen_finding *f)
{
	const struct scen_range *g;
	char want[256], e[128];
	int which, err, rc = match(s, op, io, f->msg, sizeof(f->msg), &which, &err);

	if (rc == MATCH_OK || rc == MATCH_FAIL) {
		f->out = rc == MATCH_OK ? SCEN_HELD : SCEN_FAILED;
		return;
	}
	g = scen_check_range(op, which);
	if (rc == MATCH_EREAD && is_sigbus(io, err)) {
		unexpected_sigbus(s, g, g->off, g->len, f);
		return;
	}
	io->strerror(err, e, sizeof(e));
	if (rc == MATCH_EVALUE) {
		scen_check_describe_values(s, op, want, sizeof(want));
		found(f, io->failed(err) ? SCEN_ERROR : SCEN_FAILED,
		      "check %s %s[%lu..+%lu]: %s cannot be read: %s", f->verdict,
		      scen_range_name(s, g), g->off, g->len, want, e);
	} else if (io->failed(err)) {
		found(f, SCEN_ERROR, "check %s %s[%lu..+%lu]: reading it failed: %s", f->verdict,
		      scen_range_name(s, g), g->off, g->len, e);
	} else {
		found(f, SCEN_FAILED, "check %s %s[%lu..+%lu]: the memory cannot be read: %s",
		      f->verdict, scen_range_name(s, g), g->off, g->len, e);
	}
}

void scen_judge(const struct scenario *s, const struct scen_op *op, const struct scen_check_io *io,
		struct scen_finding *f)
{
	f->verdict = scen_verdict_name(op->check.verdict);
	f->msg[0] = '\0';
	if (scen_cmp_is_page(op->check.cmp))
		judge_pages(s, op, io, f);
	else if (op->check.cmp == CMP_FAULTS)
		judge_faults(s, op, io, f);
	else if (op->check.cmp == CMP_SIGBUS)
		judge_sigbus(s, op, io, f);
	else
		judge_compare(s, op, io, f);
	if (f->out == SCEN_ERROR)
		f->verdict = "error";
	else if (f->out == SCEN_SKIPPED)
		f->verdict = "skip";
}

void scen_judge_access(const struct scenario *s, const struct scen_op *op, int err, int esigbus,
		       const char *errtext, struct scen_finding *f)
{
	const char *word = scen_op_info(op->kind)->word;
	const struct scen_range *g = op->kind == OP_READ ? &op->read.range : &op->write.range;
	bool expect = scen_op_sigbus(op);

	f->verdict = "error";
	f->msg[0] = '\0';
	if (err == 0 && !expect) {
		f->out = SCEN_HELD;
		return;
	}
	if (err == 0) {
		found(f, SCEN_ERROR,
		      "%s %s[%lu..+%lu] sigbus: expected SIGBUS, the access succeeded", word,
		      scen_range_name(s, g), g->off, g->len);
		return;
	}
	if (err == esigbus && expect) {
		f->out = SCEN_HELD;
		return;
	}
	if (err == esigbus)
		found(f, SCEN_ERROR,
		      "%s %s[%lu..+%lu] raised SIGBUS (" SIGBUS_WHY "); a %s that expects SIGBUS "
		      "ends with 'sigbus'",
		      word, scen_range_name(s, g), g->off, g->len, word);
	else if (expect)
		found(f, SCEN_ERROR, "%s %s[%lu..+%lu] sigbus: expected SIGBUS, the %s failed: %s",
		      word, scen_range_name(s, g), g->off, g->len, word, errtext);
	else
		found(f, SCEN_ERROR, "%s failed: %s", word, errtext);
}
