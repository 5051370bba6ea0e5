/*
 * The operands of each scenario operation (parse.h): parse_WORD for every
 * entry of ops.def, called at the token after the word with the
 * operation's kind, place and process set, and ps_parse_operands, which
 * the list itself turns into a table.  What holds for every operation
 * (where it may stand, the end of its line, the body it opens) is
 * parser.c's.
 */
#include "scenario/parse.h"

/* A page-aligned offset, as munmap, mprotect, madvise, MADV_PAGEOUT,
 * UFFDIO_CONTINUE and a pin take (N5); the kernel rounds the length up. */
static int page_aligned(struct parser *ps, const char *word, const struct scen_range *r,
			const struct rcols *rc)
{
	if (r->off % PAGE_SIZE)
		return ps_lerr(ps, (struct scen_loc){ps->lx.lineno, rc->off},
			       "%s needs a page-aligned offset: %lu is not a multiple of 4K", word,
			       r->off);
	return 0;
}

/* RANGE, of a mapping the executor has, page-aligned, for word. */
static int aligned_range(struct parser *ps, const struct ctx *c, const char *word,
			 struct scen_range *r)
{
	struct rcols rc;

	return ps_parse_range(ps, c, word, r, &rc) || page_aligned(ps, word, r, &rc) ? -1 : 0;
}

/* FILE of a map's file=FILE, at the current token (left there): a
 * declared file that covers the mapping of len bytes and that no direct
 * I/O uses (N10).  st is the map's SIZE, for the error. */
static int parse_map_file(struct parser *ps, struct scen_op *op, unsigned long len,
			  const struct token *st)
{
	const struct token *t = &ps->tok;
	struct suggest sg = {.t = t};
	struct scen_file *file;
	struct scen_loc loc;
	unsigned long pages;
	enum name_kind k;
	int f;

	if (t->kind != TOK_IDENT)
		return ps_terr(ps, t, "expected a file name after 'file=', found %s", SHOW(t));
	k = ps_lookup(ps, t, &f, &loc);
	if (k == NK_NONE) {
		ps_suggest_file(ps, &sg);
		return ps_terr(ps, t, "unknown file %s%s", SHOW(t), SUGGESTION(&sg));
	}
	if (k != NK_FILE)
		return ps_terr(
			ps, t,
			"%s is a %s; file= must name a file (declared with 'file NAME SIZE')",
			SHOW(t), ps_kind_nouns[k]);
	file = &ps->s->files[f];
	pages = (file->size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
	if (len > pages)
		return ps_terr(
			ps, st,
			"the mapping is %lu bytes but file '%s' is %lu (%lu in whole pages): "
			"a file is mapped up to its size rounded up to whole pages",
			len, file->name, file->size, pages);
	if (ps->file_dio_loc[f].line)
		return ps_terr(
			ps, t,
			"file '%s' is a direct-I/O target (line %d) and mapped: cowlab's page "
			"cache does not follow direct I/O",
			file->name, ps->file_dio_loc[f].line);
	if (!file->mapped)
		ps->file_map_loc[f] = ps_tok_loc(ps, t);
	file->mapped = true;
	op->map.file = f;
	return 0;
}

/* thp with shared or file=, hugetlb with file=, or the two together,
 * reported at the later of the two words.  A hugetlb mapping is private
 * or shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB:
 * a hugetlbfs file of the kernel's own); a scenario's files are not on
 * hugetlbfs. */
#define THP_ONLY "thp is for private anonymous mappings only: not with %s"
#define HUGETLB_FILE                                                                     \
	"hugetlb is for anonymous mappings (private or shared) only: not with file= (a " \
	"scenario's files are not on hugetlbfs)"
#define HUGETLB_THP                                                                        \
	"hugetlb and thp do not go together: a hugetlb mapping has huge pages of its own " \
	"(the hugetlb pool), thp asks for transparent ones"

/* map ... hugetlb, at the word (t): the size in whole huge pages (st, the
 * size's token, for the error), and a pool to take them from (N). */
static int hugetlb_ok(struct parser *ps, const struct token *t, const struct token *st,
		      unsigned long long size)
{
	static const char none[] = "a hugetlb mapping needs huge pages: add 'system "
				   "hugepages=N' (the hugetlb pool, N huge pages of 2M) before "
				   "the first process";
	static const char zero[] = "a hugetlb mapping needs huge pages, and 'system "
				   "hugepages=0' gives none: give 'system hugepages=N' (N huge "
				   "pages of 2M) a count above 0";

	if (size % SCEN_HPAGE_SIZE)
		return ps_terr(ps, st,
			       "a hugetlb mapping is whole huge pages: %llu bytes is not a "
			       "multiple of 2M",
			       size);
	if (ps->s->hugepages == 0)
		return ps_terr(ps, t, "%s", ps->hp_given ? zero : none);
	return 0;
}

static int parse_map(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct scenario *s = ps->s;
	struct token nt = ps->tok, st;
	unsigned long long size;
	unsigned long len;
	bool have_prot = false, have_share = false, have_file = false;
	int idx;

	if (ps_expect_name(ps, "a mapping name after 'map'") || ps_next(ps))
		return -1;
	st = ps->tok;
	if (ps_parse_size(ps, &size, "a size like 4K or 2 pages after the mapping name"))
		return -1;
	if (size == 0)
		return ps_terr(ps, &st, "a mapping needs a size above 0");
	if (size > MAX_MAP_SIZE)
		return ps_terr(ps, &st, "a mapping is at most 64G (%lu bytes)", MAX_MAP_SIZE);
	len = (unsigned long)((size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE);

	idx = ps_find_map(ps, &nt);
	if (idx >= 0) {
		const struct block *g = ps_open_group(ps);

		if (ps_set_has(ps_ctx_view(ps, c), idx))
			return ps_terr(ps, &nt,
				       "'%s' is already mapped in process '%s': a process maps a "
				       "name once (a forked child inherits its parent's mappings)",
				       s->maps[idx].name, s->procs[c->proc].name);
		for (int i = 0; c->thread >= 0 && g && i < g->group_nr; i++)
			if (s->threads[g->group_first + i].proc == c->proc &&
			    ps_set_has(&ps->views[i], idx))
				return ps_terr(
					ps, &nt,
					"'%s' is already mapped by thread '%s' of this group",
					s->maps[idx].name, s->threads[g->group_first + i].name);
		if (s->maps[idx].len != len)
			return ps_terr(
				ps, &st,
				"'%s' is %lu bytes where it is first mapped (line %d): every "
				"map of one name has the same size",
				s->maps[idx].name, s->maps[idx].len, ps->map_loc[idx].line);
	} else {
		void *p;

		if (ps_name_clash(ps, &nt))
			return -1;
		if (s->nr_maps >= MAX_MAPS)
			return ps_terr(ps, &nt,
				       "too many mappings: a scenario has at most %d names",
				       MAX_MAPS);
		p = ps_grow(s->maps, s->nr_maps, &ps->maps_cap, sizeof(*s->maps));
		if (!p)
			return ps_nomem(ps);
		s->maps = p;
		idx = s->nr_maps++;
		ps_tok_copy(&nt, s->maps[idx].name, SCEN_NAME_MAX);
		s->maps[idx].len = len;
		ps->map_loc[idx] = ps_tok_loc(ps, &nt);
	}

	op->map.prot = COW_PROT_READ | COW_PROT_WRITE;
	op->map.file = -1;
	while (ps->tok.kind == TOK_IDENT) {
		const struct token *t = &ps->tok;
		static const char *const opts[] = {"rw",     "ro",  "none",    "private",
						   "shared", "thp", "hugetlb", "file"};
		struct suggest sg = {.t = t};

		if (ps_tok_is(t, "rw") || ps_tok_is(t, "ro") || ps_tok_is(t, "none")) {
			if (have_prot)
				return ps_terr(ps, t, "the protection is given twice");
			have_prot = true;
			op->map.prot = ps_tok_is(t, "rw")   ? COW_PROT_READ | COW_PROT_WRITE
				       : ps_tok_is(t, "ro") ? COW_PROT_READ
							    : 0;
		} else if (ps_tok_is(t, "private") || ps_tok_is(t, "shared")) {
			if (have_share)
				return ps_terr(ps, t, "private or shared is given twice");
			have_share = true;
			op->map.shared = ps_tok_is(t, "shared");
			if (op->map.shared && op->map.thp)
				return ps_terr(ps, t, THP_ONLY, "shared");
		} else if (ps_tok_is(t, "thp")) {
			if (op->map.thp)
				return ps_terr(ps, t, "thp is given twice");
			if (op->map.shared || have_file)
				return ps_terr(ps, t, THP_ONLY,
					       op->map.shared ? "shared" : "file=");
			if (op->map.hugetlb)
				return ps_terr(ps, t, HUGETLB_THP);
			op->map.thp = true;
		} else if (ps_tok_is(t, "hugetlb")) {
			if (op->map.hugetlb)
				return ps_terr(ps, t, "hugetlb is given twice");
			if (have_file)
				return ps_terr(ps, t, HUGETLB_FILE);
			if (op->map.thp)
				return ps_terr(ps, t, HUGETLB_THP);
			if (hugetlb_ok(ps, t, &st, size))
				return -1;
			op->map.hugetlb = true;
		} else if (ps_tok_is(t, "file")) {
			if (have_file)
				return ps_terr(ps, t,
					       "file= is given twice: a mapping maps one file");
			if (op->map.thp)
				return ps_terr(ps, t, THP_ONLY, "file=");
			if (op->map.hugetlb)
				return ps_terr(ps, t, HUGETLB_FILE);
			have_file = true;
			if (ps_next(ps))
				return -1;
			if (ps->tok.kind != TOK_ASSIGN)
				return ps_terr(ps, &ps->tok, "expected '=' after 'file', found %s",
					       SHOW(&ps->tok));
			if (ps_next(ps) || parse_map_file(ps, op, len, &st))
				return -1;
		} else {
			ps_suggest_list(&sg, opts, ARRAY_SIZE(opts));
			return ps_terr(
				ps, t,
				"unknown map option %s%s: expected rw, ro, none, private, shared, "
				"thp, hugetlb or file=FILE",
				SHOW(t), SUGGESTION(&sg));
		}
		if (ps_next(ps))
			return -1;
	}
	ps_set_add(ps_ctx_view(ps, c), idx);
	op->map.name = idx;
	op->map.len = len;
	return 0;
}

static int parse_prot(struct parser *ps, int *prot)
{
	static const char *const words[] = {"rw", "ro", "none"};
	const struct token *t = &ps->tok;
	struct suggest sg = {.t = t};

	if (ps_tok_is(t, "rw"))
		*prot = COW_PROT_READ | COW_PROT_WRITE;
	else if (ps_tok_is(t, "ro"))
		*prot = COW_PROT_READ;
	else if (ps_tok_is(t, "none"))
		*prot = 0;
	else {
		if (t->kind == TOK_IDENT)
			ps_suggest_list(&sg, words, ARRAY_SIZE(words));
		return ps_terr(ps, t,
			       "expected a protection (rw, ro or none) after the range, found %s%s",
			       SHOW(t), SUGGESTION(&sg));
	}
	return ps_next(ps);
}

static int parse_advice(struct parser *ps, int *advice)
{
	static const char *const words[] = {"dontneed",	   "dontfork", "dofork",     "mergeable",
					    "unmergeable", "hugepage", "nohugepage", "collapse"};
	const struct token *t = &ps->tok;
	struct suggest sg = {.t = t};

	if (ps_tok_is(t, "dontneed"))
		*advice = COW_MADV_DONTNEED;
	else if (ps_tok_is(t, "dontfork"))
		*advice = COW_MADV_DONTFORK;
	else if (ps_tok_is(t, "dofork"))
		*advice = COW_MADV_DOFORK;
	else if (ps_tok_is(t, "pageout"))
		return ps_terr(ps, t, "'madvise pageout' is spelled 'swapout RANGE' in scenarios");
	else if (ps_tok_is(t, "mergeable"))
		*advice = COW_MADV_MERGEABLE;
	else if (ps_tok_is(t, "unmergeable"))
		*advice = COW_MADV_UNMERGEABLE;
	else if (ps_tok_is(t, "hugepage"))
		*advice = COW_MADV_HUGEPAGE;
	else if (ps_tok_is(t, "nohugepage"))
		*advice = COW_MADV_NOHUGEPAGE;
	else if (ps_tok_is(t, "collapse"))
		*advice = COW_MADV_COLLAPSE;
	else {
		if (t->kind == TOK_IDENT)
			ps_suggest_list(&sg, words, ARRAY_SIZE(words));
		return ps_terr(ps, t,
			       "expected an advice (dontneed, dontfork, dofork, mergeable, "
			       "unmergeable, hugepage, nohugepage or collapse) after the range, "
			       "found %s%s",
			       SHOW(t), SUGGESTION(&sg));
	}
	return ps_next(ps);
}

/* The page states a check or a require tests (scen_cmp_is_page). */
static const char *const page_words[] = {"exclusive", "shared", "present",    "swapped",
					 "merged",    "huge",	"pte-mapped", "hugetlb"};
static const enum scen_cmp page_cmps[] = {CMP_EXCLUSIVE, CMP_SHARED, CMP_PRESENT,    CMP_SWAPPED,
					  CMP_MERGED,	 CMP_HUGE,   CMP_PTE_MAPPED, CMP_HUGETLB};

static int page_word(const struct token *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(page_words); i++)
		if (ps_tok_is(t, page_words[i]))
			return (int)page_cmps[i];
	return -1;
}

/* The page state after a range (a mapping's, in r): into *cmp. */
static int parse_page_state(struct parser *ps, const struct scen_range *r, enum scen_cmp *cmp)
{
	const struct token *t = &ps->tok;
	int w = page_word(t);

	COW_ASSERT(w >= 0);
	if (r->space != SPACE_MAP)
		return ps_terr(ps, t, "'%.*s' checks a mapping's pages: a %s is not mapped",
			       (int)t->len, t->p,
			       r->space == SPACE_FILE  ? "file"
			       : r->space == SPACE_PIN ? "pin"
						       : "pipe");
	*cmp = (enum scen_cmp)w;
	return ps_next(ps);
}

/* The values of a check after == or != (op->check.range and the
 * nr_ranges ranges in ranges[] are known): VALUE, ... [| VALUE, ...]...,
 * one VALUE per range in each alternative. */
static int parse_check_values(struct parser *ps, struct scen_op *op, struct scen_range *ranges,
			      int nr_ranges)
{
	struct scen_value *vals = NULL;
	int nr_alts = 0, cap = 0, rc = -1;
	bool ne = op->check.cmp == CMP_NE;

	for (;;) {
		void *p = ps_grow(vals, nr_alts, &cap, sizeof(*vals) * (size_t)nr_ranges);

		if (!p) {
			ps_nomem(ps);
			goto out_free;
		}
		vals = p;
		nr_alts++;
		for (int i = 0; i < nr_ranges; i++) {
			if (i > 0) {
				if (ps->tok.kind != TOK_COMMA) {
					ps_terr(ps, &ps->tok,
						"expected ',' and a value for range %d of %d, "
						"found "
						"%s: each alternative gives one value per range",
						i + 1, nr_ranges, SHOW(&ps->tok));
					goto out_free;
				}
				if (ps_next(ps))
					goto out_free;
			}
			if (ps_parse_value(ps, &vals[(nr_alts - 1) * nr_ranges + i], ranges[i].len))
				goto out_free;
		}
		if (ps->tok.kind == TOK_COMMA) {
			ps_terr(ps, &ps->tok,
				"a value too many: the check compares %d range%s, one value each",
				nr_ranges, nr_ranges > 1 ? "s" : "");
			goto out_free;
		}
		if (ps->tok.kind != TOK_BAR)
			break;
		if (ne) {
			ps_terr(ps, &ps->tok,
				"'!=' takes one value: alternatives ('|') go with '=='");
			goto out_free;
		}
		if (nr_alts >= SCEN_MAX_ALTS) {
			ps_terr(ps, &ps->tok, "a check has at most %d alternatives", SCEN_MAX_ALTS);
			goto out_free;
		}
		if (ps_next(ps))
			goto out_free;
	}
	if (nr_alts == 1 && nr_ranges == 1) {
		op->check.value = vals[0];
		free(vals);
		return 0;
	}
	op->check.ranges = ps_alloc_hook(NULL, sizeof(*ranges) * (size_t)nr_ranges);
	if (!op->check.ranges) {
		ps_nomem(ps);
		goto out_free;
	}
	memcpy(op->check.ranges, ranges, sizeof(*ranges) * (size_t)nr_ranges);
	op->check.values = vals;
	op->check.value = vals[0]; /* its bytes are values[0]'s */
	op->check.nr_alts = nr_alts;
	return 0;
out_free:
	for (int j = 0; j < nr_alts * nr_ranges; j++)
		free(vals[j].bytes);
	free(vals);
	return rc;
}

static int parse_check(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	const struct token *t = &ps->tok;
	struct suggest sg = {.t = t};
	struct scen_range ranges[SCEN_MAX_TUPLE];
	int nr = 1;
	bool found = false;

	for (int v = VERDICT_CORRUPT; v <= VERDICT_OVERWRITE; v++) {
		if (ps_tok_is(t, scen_verdict_name(v))) {
			op->check.verdict = (enum scen_verdict)v;
			found = true;
		}
		if (t->kind == TOK_IDENT)
			ps_suggest_try(&sg, scen_verdict_name(v));
	}
	if (!found) {
		return ps_terr(ps, t,
			       "expected a verdict (corrupt, leak, desync or overwrite) after "
			       "'check', found %s%s",
			       SHOW(t), SUGGESTION(&sg));
	}
	if (ps_next(ps) || ps_parse_check_range(ps, c, &op->check.range))
		return -1;
	ps->s->nr_checks++;
	op->check.nr_ranges = 1;
	op->check.nr_alts = 1;
	ranges[0] = op->check.range;
	if (ps_tok_is(t, "faults") || ps_tok_is(t, "sigbus")) {
		bool faults = ps_tok_is(t, "faults");

		if (op->check.range.space != SPACE_MAP)
			return ps_terr(ps, t,
				       "'%s' checks a mapping: a %s is not mapped, it cannot %s",
				       faults ? "faults" : "sigbus",
				       op->check.range.space == SPACE_FILE  ? "file"
				       : op->check.range.space == SPACE_PIN ? "pin"
									    : "pipe",
				       faults ? "fault" : "raise SIGBUS");
		op->check.cmp = faults ? CMP_FAULTS : CMP_SIGBUS;
		return ps_next(ps);
	}
	if (page_word(t) >= 0)
		return parse_page_state(ps, &op->check.range, &op->check.cmp);
	while (t->kind == TOK_COMMA) {
		if (nr >= SCEN_MAX_TUPLE)
			return ps_terr(ps, t, "a check compares at most %d ranges", SCEN_MAX_TUPLE);
		if (ps_next(ps) || ps_parse_check_range(ps, c, &ranges[nr]))
			return -1;
		nr++;
	}
	if (t->kind != TOK_EQ && t->kind != TOK_NE)
		return ps_terr(
			ps, t,
			nr > 1 ? "expected '==' or ',' after the ranges, found %s"
			       : "expected '==', '!=', ',', 'faults', 'sigbus' or a page state "
				 "(exclusive, shared, present, swapped, merged, huge, pte-mapped, "
				 "hugetlb) after the range, found %s",
			SHOW(t));
	op->check.cmp = t->kind == TOK_EQ ? CMP_EQ : CMP_NE;
	if (nr > 1 && op->check.cmp == CMP_NE)
		return ps_terr(ps, t, "'!=' compares one range: several ranges go with '=='");
	if (ps_next(ps))
		return -1;
	op->check.nr_ranges = nr;
	if (parse_check_values(ps, op, ranges, nr))
		return -1;
	if (ps_tok_is(t, "sigbus"))
		return ps_terr(ps, t,
			       "a check that expects SIGBUS compares no bytes: write 'check %s "
			       "RANGE sigbus'",
			       scen_verdict_name(op->check.verdict));
	return 0;
}

/* require RANGE PAGES: a mapping's range and a page state. */
static int parse_require(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct rcols rc = {0};
	const struct token *t = &ps->tok;

	if (ps_parse_range(ps, c, "require", &op->check.range, &rc))
		return -1;
	op->check.nr_ranges = 1;
	op->check.nr_alts = 1;
	if (page_word(t) < 0)
		return ps_terr(ps, t,
			       "expected a page state after the range (exclusive, shared, present, "
			       "swapped, merged, huge, pte-mapped or hugetlb), found %s",
			       SHOW(t));
	return parse_page_state(ps, &op->check.range, &op->check.cmp);
}

static int parse_fork(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct token nt = ps->tok;
	struct mapset view;
	int child;

	if (ps_expect_name(ps, "the child's name after 'fork'"))
		return -1;
	child = ps_find_proc(ps, &nt);
	if (child >= 0)
		return ps_terr(ps, &nt,
			       "process '%s' already exists (line %d): fork makes a new one",
			       ps->s->procs[child].name, ps->s->procs[child].loc.line);
	if (ps_name_clash(ps, &nt))
		return -1;
	view = *ps_ctx_view(ps, c); /* add_proc may move ps->pp */
	child = ps_add_proc(ps, &nt);
	if (child < 0)
		return -1;
	ps->pp[child].mapped = view;
	if (c->thread >= 0)
		ps->pp[child].born_group = ps->group_serial;
	op->fork.child = child;
	return ps_next(ps);
}

static int expect_arrow(struct parser *ps, const char *what)
{
	if (ps->tok.kind != TOK_ARROW)
		return ps_terr(ps, &ps->tok, "expected '->' after %s, found %s", what,
			       SHOW(&ps->tok));
	return ps_next(ps);
}

static int dio_misaligned(struct parser *ps, int col, const char *what, unsigned long v)
{
	return ps_lerr(ps, (struct scen_loc){ps->lx.lineno, col},
		       "direct I/O needs 512-byte alignment: the %s %lu is not a multiple of 512",
		       what, v);
}

/* N10: file f, named at column col of a direct I/O, is mapped nowhere. */
static int dio_file_unmapped(struct parser *ps, int f, int col)
{
	const struct scen_file *file = &ps->s->files[f];

	if (file->mapped)
		return ps_lerr(
			ps, (struct scen_loc){ps->lx.lineno, col},
			"file '%s' is mapped (line %d) and a direct-I/O target: cowlab's page "
			"cache does not follow direct I/O",
			file->name, ps->file_map_loc[f].line);
	if (!ps->file_dio_loc[f].line)
		ps->file_dio_loc[f] = (struct scen_loc){ps->lx.lineno, col};
	return 0;
}

/* dio_read FRANGE -> RANGE, dio_write RANGE -> FRANGE (N8, N10). */
static int dio(struct parser *ps, const struct ctx *c, struct scen_op *op, bool is_read)
{
	const char *word = is_read ? "dio_read" : "dio_write";
	struct rcols fc, mc;
	const struct rcols *first = is_read ? &fc : &mc, *second = is_read ? &mc : &fc;

	if (is_read) {
		if (ps_parse_file_range(ps, "the range before '->'", &op->dio.file, &fc) ||
		    expect_arrow(ps, "the file range") ||
		    ps_parse_range(ps, c, word, &op->dio.mem, &mc))
			return -1;
	} else {
		if (ps_parse_range(ps, c, word, &op->dio.mem, &mc) ||
		    expect_arrow(ps, "the memory range") ||
		    ps_parse_file_range(ps, "the range after '->'", &op->dio.file, &fc))
			return -1;
	}
	if (dio_file_unmapped(ps, op->dio.file.name, fc.name))
		return -1;
	if (op->dio.file.len != op->dio.mem.len)
		return ps_lerr(ps, (struct scen_loc){ps->lx.lineno, second->name},
			       "the file range is %lu bytes and the memory range %lu: '%s' moves "
			       "equally long ranges",
			       op->dio.file.len, op->dio.mem.len, word);
	if (is_read && op->dio.file.off % DIO_ALIGN)
		return dio_misaligned(ps, fc.off, "file offset", op->dio.file.off);
	if (op->dio.mem.off % DIO_ALIGN)
		return dio_misaligned(ps, mc.off, "mapping offset", op->dio.mem.off);
	if (!is_read && op->dio.file.off % DIO_ALIGN)
		return dio_misaligned(ps, fc.off, "file offset", op->dio.file.off);
	if (op->dio.mem.len % DIO_ALIGN)
		return dio_misaligned(ps, first->len, "length", op->dio.mem.len);
	ps->s->nr_dio++;
	return 0;
}

/* pin PNAME RANGE [ro] [fast] */
static int parse_pin(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct token nt = ps->tok;
	bool have_ro = false, have_fast = false;
	struct rcols rc;
	int idx;

	if (ps_expect_name(ps, "a pin name after 'pin'") || ps_new_ref_name(ps, NK_PIN, &nt) ||
	    ps_next(ps) || ps_parse_range(ps, c, "pin", &op->pin.mem, &rc))
		return -1;
	if (page_aligned(ps, "pin", &op->pin.mem, &rc))
		return -1;
	while (ps->tok.kind == TOK_IDENT) {
		static const char *const opts[] = {"ro", "fast"};
		const struct token *t = &ps->tok;
		struct suggest sg = {.t = t};

		if (ps_tok_is(t, "ro") || ps_tok_is(t, "fast")) {
			bool *have = ps_tok_is(t, "ro") ? &have_ro : &have_fast;

			if (*have)
				return ps_terr(ps, t, "%s is given twice", SHOW(t));
			*have = true;
		} else if (ps_tok_is(t, "sigbus")) {
			return ps_terr(ps, t,
				       "'sigbus' goes with write, read and check (check VERDICT "
				       "RANGE sigbus) only, not with 'pin'");
		} else {
			ps_suggest_list(&sg, opts, ARRAY_SIZE(opts));
			return ps_terr(ps, t, "unknown pin option %s%s: expected ro or fast",
				       SHOW(t), SUGGESTION(&sg));
		}
		if (ps_next(ps))
			return -1;
	}
	idx = ps_add_ref(ps, c, NK_PIN, &nt, op->pin.mem.len);
	if (idx < 0)
		return -1;
	op->pin.pin = idx;
	op->pin.ro = have_ro;
	op->pin.fast = have_fast;
	return 0;
}

/* unpin PNAME: by the process that pinned, once. */
static int parse_unpin(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct token nt = ps->tok;
	int idx;

	if (ps_parse_ref_name(ps, NK_PIN, "unpin", &idx))
		return -1;
	if (ps->s->pins[idx].proc != c->proc)
		return ps_terr(ps, &nt,
			       "pin '%s' is held by process '%s' (line %d): only that process can "
			       "unpin it",
			       ps->s->pins[idx].name, ps->s->procs[ps->s->pins[idx].proc].name,
			       ps->pin_st[idx].loc.line);
	if (ps_use_ref(ps, c, NK_PIN, idx, &nt, true))
		return -1;
	op->unpin.pin = idx;
	return ps_next(ps);
}

/* vmsplice RANGE -> PIPE */
static int parse_vmsplice(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct token nt;
	struct rcols rc;
	int idx;

	if (ps_parse_range(ps, c, "vmsplice", &op->splice.mem, &rc) ||
	    expect_arrow(ps, "the range"))
		return -1;
	nt = ps->tok;
	if (ps_expect_name(ps, "a new pipe's name after '->'") || ps_new_ref_name(ps, NK_PIPE, &nt))
		return -1;
	idx = ps_add_ref(ps, c, NK_PIPE, &nt, op->splice.mem.len);
	if (idx < 0)
		return -1;
	op->splice.pipe = idx;
	return ps_next(ps);
}

/* pipe_read PIPE -> RANGE: any process may read a pipe, once, whole. */
static int parse_pipe_read(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct token nt = ps->tok;
	struct rcols rc;
	int idx;

	if (ps_parse_ref_name(ps, NK_PIPE, "pipe_read", &idx) ||
	    ps_use_ref(ps, c, NK_PIPE, idx, &nt, true) || ps_next(ps) ||
	    expect_arrow(ps, "the pipe's name") ||
	    ps_parse_range(ps, c, "pipe_read", &op->splice.mem, &rc))
		return -1;
	if (op->splice.mem.len != ps->s->pipes[idx].len)
		return ps_lerr(
			ps, (struct scen_loc){ps->lx.lineno, rc.name},
			"pipe '%s' holds %lu bytes but the range is %lu: pipe_read reads the "
			"whole pipe into an equally long range",
			ps->s->pipes[idx].name, ps->s->pipes[idx].len, op->splice.mem.len);
	op->splice.pipe = idx;
	return 0;
}

/* A repeat count at the current token, for what (in messages). */
static int parse_count(struct parser *ps, unsigned long *count, const char *what)
{
	const struct token *t = &ps->tok;

	if (t->kind != TOK_NUMBER || t->suffix)
		return ps_terr(ps, t, "expected a count after %s, like 'repeat 100', found %s",
			       what, SHOW(t));
	if (t->num < 1 || t->num > SCEN_MAX_REPEAT)
		return ps_terr(ps, t, "repeat %.*s: the count is 1 to %lu", (int)t->len, t->p,
			       SCEN_MAX_REPEAT);
	*count = (unsigned long)t->num;
	return ps_next(ps);
}

/* repeat N [host=M], at N: the model's count and the host's. */
static int parse_repeat(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	if (c->oneline)
		return ps_lerr(ps, op->loc,
			       "repeat opens a block: write 'thread NAME' on a line of its own and "
			       "the repeat indented under it");
	if (parse_count(ps, &op->repeat.count, "'repeat'"))
		return -1;
	op->repeat.host_count = op->repeat.count;
	if (!ps_tok_is(&ps->tok, "host"))
		return 0;
	if (ps_next(ps))
		return -1;
	if (ps->tok.kind != TOK_ASSIGN)
		return ps_terr(ps, &ps->tok, "expected '=' after 'host', found %s", SHOW(&ps->tok));
	if (ps_next(ps))
		return -1;
	return parse_count(ps, &op->repeat.host_count, "'host='");
}

/* A trailing 'sigbus' (write, read): into *sigbus. */
static int parse_sigbus(struct parser *ps, bool *sigbus)
{
	if (!ps_tok_is(&ps->tok, "sigbus"))
		return 0;
	*sigbus = true;
	return ps_next(ps);
}

/* write RANGE VALUE [sigbus], poke RANGE VALUE: a store, plain or forced. */
static int store(struct parser *ps, const struct ctx *c, struct scen_op *op, const char *word)
{
	struct rcols rc;

	if (ps_parse_range(ps, c, word, &op->write.range, &rc) ||
	    ps_parse_value(ps, &op->write.value, op->write.range.len))
		return -1;
	if (op->kind == OP_WRITE)
		return parse_sigbus(ps, &op->write.sigbus);
	if (ps_tok_is(&ps->tok, "sigbus"))
		return ps_terr(ps, &ps->tok,
			       "poke does not raise SIGBUS: get_user_pages fails with EFAULT where "
			       "a hugetlb page is missing (an error); 'sigbus' goes with write, "
			       "read and check only");
	return 0;
}

static int parse_write(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	return store(ps, c, op, "write");
}

static int parse_poke(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	return store(ps, c, op, "poke");
}

static int parse_read(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct rcols rc;

	if (ps_parse_range(ps, c, "read", &op->read.range, &rc))
		return -1;
	return parse_sigbus(ps, &op->read.sigbus);
}

/* exit: the process ends here (N3). */
static int parse_exit(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	ps->pp[c->proc].exited = true;
	ps->pp[c->proc].exit_loc = op->loc;
	return 0;
}

static int parse_munmap(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	return aligned_range(ps, c, "munmap", &op->munmap.range);
}

/* The range is checked for alignment after the operands, as before. */
static int parse_mprotect(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct rcols rc;

	if (ps_parse_range(ps, c, "mprotect", &op->mprotect.range, &rc) ||
	    parse_prot(ps, &op->mprotect.prot))
		return -1;
	return page_aligned(ps, "mprotect", &op->mprotect.range, &rc);
}

static int parse_madvise(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct rcols rc;

	if (ps_parse_range(ps, c, "madvise", &op->madvise.range, &rc) ||
	    parse_advice(ps, &op->madvise.advice))
		return -1;
	return page_aligned(ps, "madvise", &op->madvise.range, &rc);
}

static int parse_swapout(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	return aligned_range(ps, c, "swapout", &op->swapout.range);
}

static int parse_uffd_continue(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	return aligned_range(ps, c, "uffd_continue", &op->swapout.range);
}

static int parse_dio_read(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	return dio(ps, c, op, true);
}

static int parse_dio_write(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	return dio(ps, c, op, false);
}

static int parse_wait(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	(void)ps;
	(void)c;
	(void)op;
	return 0;
}

/* One ksmd pass over every process's mergeable memory. */
static int parse_ksm_merge(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	(void)c;
	(void)op;
	return ps_expect_eol(ps, "'ksm_merge'");
}

/* One khugepaged pass over the process's THP mappings. */
static int parse_khugepaged(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	(void)c;
	(void)op;
	return ps_expect_eol(ps, "'khugepaged'");
}

/* echo 4 > /proc/PID/clear_refs: the whole address space. */
static int parse_clear_refs(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	(void)c;
	(void)op;
	return ps_expect_eol(ps, "'clear_refs'");
}

typedef int parse_fn(struct parser *ps, const struct ctx *c, struct scen_op *op);

static parse_fn *const parsers[] = {
#define OP(kind, word, flags, ...) [OP_##kind] = parse_##word,
#include "scenario/ops.def"
#undef OP
};

int ps_parse_operands(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	COW_ASSERT((unsigned)op->kind < ARRAY_SIZE(parsers));
	return parsers[op->kind](ps, c, op);
}
