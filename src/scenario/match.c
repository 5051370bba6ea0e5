/*
 * The comparison of a check's bytes with its values (scenario.h,
 * scen_match): one implementation for both executors, the model's
 * interpreter (interp.c) and the host backend (src/kernel), which differ
 * only in how they read a range and a file value, so that a check words
 * its failure the same way on both and `cowlab diff` compares like with
 * like.
 *
 * A check compares one range with one value (== or !=), one range with
 * several alternatives (== A | B: the bytes equal A as a whole or B as a
 * whole), or several ranges with alternatives of as many values each
 * (A, B == 0x11, 0x11 | 0x22, 0x11: range i equals value i of one
 * alternative).  The ranges are read last first: a writer that writes A
 * and then B can never be caught with B's new bytes and A's old ones by a
 * reader that reads B before A, so a tuple check of a concurrent reader
 * is about the writer's order, not about the reader's timing.
 */
#include "scenario/scenario.h"

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

/* Range i against every alternative still alive; 0, or an EREAD/EVALUE. */
static int match_range(const struct scen_op *op, const struct scen_match_io *io, int i,
		       struct miss *miss, int *alive, int *err)
{
	const struct scen_range *g = scen_check_range(op, i);
	unsigned char buf[CHUNK], expect[CHUNK];

	for (unsigned long done = 0; done<g->len && * alive> 0;) {
		unsigned long n = g->len - done < CHUNK ? g->len - done : CHUNK;

		*err = io->read(io->arg, i, done, buf, n);
		if (*err)
			return SCEN_MATCH_EREAD;
		for (int a = 0; a < nr_alts(op); a++) {
			if (miss[a].dead)
				continue;
			*err = io->fill(io->arg, scen_check_value(op, a, i), done, expect, n);
			if (*err)
				return SCEN_MATCH_EVALUE;
			for (unsigned long j = 0; j < n; j++) {
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

int scen_match(const struct scenario *s, const struct scen_op *op, const struct scen_match_io *io,
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
		return SCEN_MATCH_OK;
	scen_check_describe_ranges(s, op, ranges, sizeof(ranges));
	scen_check_describe_values(s, op, values, sizeof(values));
	if (op->check.cmp == CMP_NE) {
		snprintf(msg, len, "check %s %s != %s failed: the bytes are equal", verdict, ranges,
			 values);
		return SCEN_MATCH_FAIL;
	}
	if (nr_alts(op) == 1 && nr_ranges(op) == 1) {
		const struct scen_range *g = &op->check.range;
		const char *name = scen_range_name(s, g);

		snprintf(msg, len,
			 "check %s %s == %s failed: found 0x%02x, expected 0x%02x at %s[%lu] "
			 "(first difference, offset %lu in the range)",
			 verdict, ranges, values, miss[0].found, miss[0].want, name,
			 g->off + miss[0].at, miss[0].at);
		return SCEN_MATCH_FAIL;
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
	return SCEN_MATCH_FAIL;
}

bool scen_page_holds(enum scen_cmp c, int flags, const char **what)
{
	bool present = flags & SCEN_PAGE_PRESENT, ok = false;

	switch (c) {
	case CMP_EXCLUSIVE: ok = present && (flags & SCEN_PAGE_EXCLUSIVE); break;
	case CMP_SHARED: ok = present && !(flags & SCEN_PAGE_EXCLUSIVE); break;
	case CMP_PRESENT: ok = present; break;
	case CMP_SWAPPED: ok = flags & SCEN_PAGE_SWAPPED; break;
	case CMP_MERGED: ok = present && (flags & SCEN_PAGE_KSM); break;
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
	else
		*what = "present";
	return false;
}
