/*
 * Shrinking the program, not only the schedule (cowlab explore --reduce
 * FILE).  After a search has found a failing run, the scenario's text is
 * delta-debugged a line at a time: each statement (a line, with the
 * indented block it opens) is dropped in turn, and the drop is kept if
 * the smaller scenario still parses, passes the validator, and a search
 * of it (the auto search, seed 1, within a budget) fails the same way: the
 * same verdict, and for a scenario check the same check (its line and
 * column in the original file; every other failure by its message with
 * the numbers left out, as the schedule shrinker compares them).  If
 * some schedule of the original passes (an auto search looks for one),
 * the failure is a race, and so must it stay: some schedule of the
 * reduced program must pass too.  And if the original passes under
 * linux-6.5 (the rules that fixed the bugs), so must the reduced program.
 * Else dropping the operation that races (the direct I/O of dma_thread,
 * the fork of gup_fast_vs_fork) or the one that leaks (vmsplice_child_
 * leak's vmsplice) would leave a check that fails on every schedule and
 * under every rule, the same check with the same verdict for another
 * reason.
 * After the statements, the ranges on each line are cut to their front
 * or back half (a line's ranges of one length together), then its
 * numbers are made smaller (half, or one less), under the same rule.
 * Passes repeat until none changes anything.  Comments and blank lines
 * go first.
 *
 * What it shows: the reduced scenario is a program that fails that check;
 * a drop it did not keep may still fail, beyond the budget.  The result is
 * written to FILE (with a comment naming where it came from), and the
 * caller explores FILE again, so the counterexample it prints, its trace
 * and its replay line are those of the reduced program.
 */
#define _GNU_SOURCE /* asprintf, strndup */
#include "cli.h"
#include "cowlab.h"
#include "scenario/interp.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDUCE_PASSES 8
#define REDUCE_REFERENCE "linux-6.5"

struct line {
	char *text; /* NUL-terminated, owned */
	int len;
	int indent; /* -1: blank or a comment */
	bool alive;
};

struct reducer {
	const char *path; /* the result's file, which candidates are named after */
	const char *policy;
	struct line *lines;
	int nr;
	char key[256]; /* the failure's key, in original lines */
	bool racy;     /* some schedule of the original passes */
	/* A preset under which the original passes (linux-6.5), or NULL:
	 * the reduced program must pass there too. */
	const char *reference;
	unsigned int tried, kept;
};

static int indent_of(const char *t, int len)
{
	int i = 0;

	while (i < len && (t[i] == ' ' || t[i] == '\t'))
		i++;
	return i == len || t[i] == '#' ? -1 : i;
}

/* The failure's key: for a scenario check, the verdict and the check's
 * original line and column (new line n is original line map[n - 1]);
 * else the verdict and the message without its numbers. */
static void failure_key(const char *verdict, const char *message, const int *map, int nr, char *key,
			size_t len)
{
	const char *cow = strstr(message, ".cow:");
	int line, col, used = 0;

	if (cow && sscanf(cow + 5, "%d:%d:%n", &line, &col, &used) == 2 && used > 0 && line >= 1 &&
	    line <= nr) {
		snprintf(key, len, "%s @%d:%d", verdict, map[line - 1], col);
		return;
	}
	explore_failure_key(message, key, len);
	if (strlen(key) + strlen(verdict) + 2 < len) {
		memmove(key + strlen(verdict) + 1, key, strlen(key) + 1);
		memcpy(key, verdict, strlen(verdict));
		key[strlen(verdict)] = ' ';
	}
}

/* The alive lines as text (map[i]: the original number of line i + 1). */
static char *candidate_text(const struct reducer *rd, int *map, int *nr, size_t *size)
{
	size_t total = 1;
	char *text, *at;

	for (int i = 0; i < rd->nr; i++)
		total += rd->lines[i].alive ? (size_t)rd->lines[i].len + 1 : 0;
	text = malloc(total);
	if (!text)
		return NULL;
	at = text;
	*nr = 0;
	for (int i = 0; i < rd->nr; i++) {
		if (!rd->lines[i].alive)
			continue;
		memcpy(at, rd->lines[i].text, (size_t)rd->lines[i].len);
		at += rd->lines[i].len;
		*at++ = '\n';
		map[(*nr)++] = i + 1;
	}
	*at = '\0';
	*size = (size_t)(at - text);
	return text;
}

/* Does some schedule of s pass?  An auto search for one, within the
 * candidates' budget. */
static bool passes_somewhere(const struct reducer *rd, const struct scenario *s)
{
	struct explore_opts o = explore_auto_opts(1, REDUCE_SEARCH_RUNS, 0);
	struct explore_result *x = calloc(1, sizeof(*x));
	struct explore_target *t = NULL;
	const struct explore_prog *p;
	const char *policy;
	bool passes;

	o.until_pass = true;
	passes = x && explore_target_scenario(s, rd->policy, "explore", &t, &p, &policy) == 0 &&
		 explore_run_search(p, policy, &o, x) == 0 && x->passed;

	explore_target_free(t);
	free(x);
	return passes;
}

/* Does the program made of the alive lines still fail the same way, and
 * keep what the original had: a schedule that passes (if it is racy) and
 * a pass under the reference preset (if it has one)? */
static bool still_fails(struct reducer *rd)
{
	int *map = malloc(sizeof(int) * (size_t)(rd->nr + 1)), nr;
	size_t size;
	char *text = map ? candidate_text(rd, map, &nr, &size) : NULL;
	struct scenario *s = NULL;
	struct verdict *v = calloc(1, sizeof(*v));
	char err[512], key[256];
	bool same = false;

	rd->tried++;
	if (text && v && scen_parse(rd->path, text, size, &s, err, sizeof(err)) == 0 &&
	    scen_check(s, err, sizeof(err)) == 0) {
		explore_verdict(s, rd->policy, REDUCE_SEARCH_RUNS, 0, 1, v);
		if (!v->err && v->failed) {
			failure_key(v->verdict, v->message, map, nr, key, sizeof(key));
			same = strcmp(key, rd->key) == 0;
		}
		if (same && rd->racy)
			same = passes_somewhere(rd, s);
		if (same && rd->reference) {
			explore_verdict(s, rd->reference, REDUCE_SEARCH_RUNS, 0, 1, v);
			same = !v->err && !v->failed;
		}
	}
	scen_free(s);
	free(v);
	free(text);
	free(map);
	return same;
}

/* Drop line i and the block it opens, if the program still fails. */
static bool try_drop(struct reducer *rd, int i)
{
	int end = i + 1;
	bool *was;

	while (end < rd->nr &&
	       (rd->lines[end].indent < 0 || rd->lines[end].indent > rd->lines[i].indent))
		end++;
	was = malloc(sizeof(*was) * (size_t)(end - i));
	if (!was)
		return false;
	for (int j = i; j < end; j++) {
		was[j - i] = rd->lines[j].alive;
		rd->lines[j].alive = false;
	}
	if (still_fails(rd)) {
		rd->kept++;
		free(was);
		return true;
	}
	for (int j = i; j < end; j++)
		rd->lines[j].alive = was[j - i];
	free(was);
	return false;
}

/* Line l reads cand (which it takes) if the program still fails so,
 * else as it did. */
static bool try_line(struct reducer *rd, struct line *l, char *cand)
{
	char *was = l->text;
	int was_len = l->len;

	l->text = cand;
	l->len = (int)strlen(cand);
	if (still_fails(rd)) {
		free(was);
		rd->kept++;
		return true;
	}
	free(cand);
	l->text = was;
	l->len = was_len;
	return false;
}

/* Make the numbers on line i smaller (half, or one less) where the
 * program still fails: fewer pages, shorter ranges, smaller files.  A
 * number is a run of decimal digits that does not follow a letter, a
 * digit or "0x". */
static bool try_numbers(struct reducer *rd, int i)
{
	struct line *l = &rd->lines[i];
	bool any = false;

	for (int at = 0; at < l->len; at++) {
		char *t = l->text, *end;
		unsigned long n, smaller[2];

		if (!isdigit((unsigned char)t[at]) ||
		    (at > 0 && (isalnum((unsigned char)t[at - 1]) || t[at - 1] == '_')))
			continue;
		if (t[at] == '0' && (t[at + 1] == 'x' || t[at + 1] == 'X'))
			break; /* a hex value: leave the rest of the line */
		n = strtoul(t + at, &end, 10);
		smaller[0] = n / 2;
		smaller[1] = n - 1;
		for (int k = 0; k < 2 && n > 0; k++) {
			char *cand;

			if (k == 1 && smaller[1] == smaller[0])
				break;
			if (asprintf(&cand, "%.*s%lu%s", at, l->text, smaller[k], end) < 0)
				return any;
			if (try_line(rd, l, cand)) {
				any = true;
				break;
			}
		}
		/* past this number (as it now reads) */
		while (at + 1 < l->len && isdigit((unsigned char)l->text[at + 1]))
			at++;
	}
	return any;
}

/* A size as the scenario language writes it: decimal or 0x hex, with an
 * optional K, M or G; *end receives the first character after it. */
static bool parse_size(const char *t, const char **end, unsigned long *v)
{
	char *e;
	int shift;

	if (!isdigit((unsigned char)*t))
		return false;
	errno = 0;
	*v = strtoul(t, &e, t[0] == '0' && (t[1] == 'x' || t[1] == 'X') ? 16 : 10);
	shift = scen_size_shift(*e);
	if (errno || (shift > 0 && *v > ULONG_MAX >> shift))
		return false;
	*v <<= shift > 0 ? shift : 0;
	*end = e + (shift > 0);
	return true;
}

/* The ranges of a line written [OFF..END] or [OFF..+LEN]. */
struct range_at {
	int open, close; /* the brackets' columns */
	unsigned long off, len;
};

#define REDUCE_MAX_RANGES 32

static int find_ranges(const char *t, struct range_at *r)
{
	int n = 0;

	for (const char *o = strchr(t, '['); o && n < REDUCE_MAX_RANGES; o = strchr(o + 1, '[')) {
		const char *p;
		unsigned long off, to;
		bool plus;

		if (!parse_size(o + 1, &p, &off) || strncmp(p, "..", 2) != 0)
			continue;
		plus = p[2] == '+';
		if (!parse_size(p + 2 + plus, &p, &to) || *p != ']' || (!plus && to <= off))
			continue;
		r[n++] = (struct range_at){(int)(o - t), (int)(p - t), off, plus ? to : to - off};
	}
	return n;
}

static int print_size(char *buf, size_t len, unsigned long v)
{
	return v >= 1024 && v % 1024 == 0 ? snprintf(buf, len, "%luK", v / 1024)
					  : snprintf(buf, len, "%lu", v);
}

/* Line i with every range of length len cut to its front half (back
 * false) or its back half; NULL when out of memory. */
static char *halve_ranges(const char *t, const struct range_at *r, int n, unsigned long len,
			  bool back)
{
	size_t cap = strlen(t) + (size_t)n * 48 + 1, used = 0;
	char *out = malloc(cap);
	int from = 0;

	if (!out)
		return NULL;
	for (int k = 0; k < n; k++) {
		char off[24], size[24];
		unsigned long half = len / 2;

		if (r[k].len != len)
			continue;
		print_size(off, sizeof(off), r[k].off + (back ? len - half : 0));
		print_size(size, sizeof(size), half);
		used += (size_t)snprintf(out + used, cap - used, "%.*s[%s..+%s]", r[k].open - from,
					 t + from, off, size);
		from = r[k].close + 1;
	}
	snprintf(out + used, cap - used, "%s", t + from);
	return out;
}

/* Cut the ranges of line i to half, front or back, where the program
 * still fails, as often as it does: fewer bytes of I/O and checks, fewer
 * pages spanned.  The ranges of one length on a line are cut together (a
 * transfer's source and destination, a check's range and the file range
 * it is compared with must stay as long as each other). */
static bool try_ranges(struct reducer *rd, int i)
{
	struct line *l = &rd->lines[i];
	struct range_at r[REDUCE_MAX_RANGES];
	bool any = false, cut = true;

	while (cut) {
		int n = find_ranges(l->text, r);

		cut = false;
		for (int k = 0; k < n && !cut; k++)
			for (int back = 0; back < 2 && !cut && r[k].len > 1; back++) {
				char *cand = halve_ranges(l->text, r, n, r[k].len, back);

				if (!cand)
					return any;
				any |= cut = try_line(rd, l, cand);
			}
	}
	return any;
}

int explore_reduce(const char *src, const char *dst, const char *policy, const char *verdict,
		   const char *message, struct reduce_stats *st)
{
	struct reducer rd = {.path = dst, .policy = policy};
	size_t size;
	char *text = read_whole(src, &size), *out;
	int *map, nr = 0, err = 0, changed = 1;
	FILE *f;

	memset(st, 0, sizeof(*st));
	if (!text) {
		fprintf(stderr, "cowlab explore: --reduce: cannot read %s: %s\n", src,
			strerror(errno));
		return EXIT_USAGE;
	}
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		struct line *more = realloc(rd.lines, sizeof(*more) * (size_t)(rd.nr + 1));

		if (!more) {
			err = EXIT_USAGE;
			break;
		}
		rd.lines = more;
		rd.lines[rd.nr] =
			(struct line){strndup(p, (size_t)len), len, indent_of(p, len), false};
		if (!rd.lines[rd.nr].text) {
			err = EXIT_USAGE;
			break;
		}
		rd.lines[rd.nr].alive = rd.lines[rd.nr].indent >= 0;
		rd.nr++;
		p += len + (nl ? 1 : 0);
	}
	map = err ? NULL : malloc(sizeof(int) * (size_t)(rd.nr + 1));
	for (int i = 0; map && i < rd.nr; i++)
		map[i] = i + 1;
	if (!map) {
		for (int i = 0; i < rd.nr; i++)
			free(rd.lines[i].text);
		free(rd.lines);
		free(text);
		fprintf(stderr, "cowlab explore: --reduce: out of memory\n");
		return EXIT_USAGE;
	}
	failure_key(verdict, message, map, rd.nr, rd.key, sizeof(rd.key));
	for (int i = 0; i < rd.nr; i++)
		st->lines_before += rd.lines[i].alive;
	/* Without comments first: the program that is reduced must fail.
	 * If some schedule of it passes, the failure is a race, and every
	 * reduction must keep it one (else dropping the operation that
	 * races would leave a check that fails on every schedule). */
	{
		struct verdict *v = calloc(1, sizeof(*v));
		struct scenario *s = NULL;
		char msg[512];

		if (v && scen_parse(dst, text, strlen(text), &s, msg, sizeof(msg)) == 0) {
			rd.racy = passes_somewhere(&rd, s);
			if (strcmp(policy, REDUCE_REFERENCE) != 0) {
				explore_verdict(s, REDUCE_REFERENCE, REDUCE_SEARCH_RUNS, 0, 1, v);
				rd.reference = !v->err && !v->failed ? REDUCE_REFERENCE : NULL;
			}
		}
		free(v);
		scen_free(s);
	}
	if (!still_fails(&rd)) {
		fprintf(stderr,
			"cowlab explore: --reduce: %s without its comments does not fail the same "
			"way within the budget; nothing reduced\n",
			src);
		changed = 0;
		err = EXIT_USAGE;
	}
	for (int pass = 0; changed && pass < REDUCE_PASSES; pass++) {
		changed = 0;
		for (int i = 0; i < rd.nr; i++)
			if (rd.lines[i].alive)
				changed |= try_drop(&rd, i);
		for (int i = 0; !changed && i < rd.nr; i++)
			if (rd.lines[i].alive)
				changed |= try_ranges(&rd, i);
		for (int i = 0; !changed && i < rd.nr; i++)
			if (rd.lines[i].alive)
				changed |= try_numbers(&rd, i);
	}
	out = err ? NULL : candidate_text(&rd, map, &nr, &size);
	f = out ? fopen(dst, "w") : NULL;
	if (f) {
		fprintf(f,
			"# Reduced by cowlab explore --reduce from %s under %s: it fails as\n"
			"# that file does (%s, in that file's lines).\n",
			src, policy, rd.key);
		fputs(out, f);
		if (fclose(f) != 0)
			f = NULL;
	}
	if (!err && !f) {
		fprintf(stderr, "cowlab explore: --reduce: cannot write %s: %s\n", dst,
			strerror(errno));
		err = EXIT_USAGE;
	}
	st->lines_after = nr;
	st->tried = rd.tried;
	st->kept = rd.kept;
	free(out);
	free(map);
	for (int i = 0; i < rd.nr; i++)
		free(rd.lines[i].text);
	free(rd.lines);
	free(text);
	return err;
}
