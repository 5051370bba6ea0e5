/*
 * The words of a scenario line (parse.h): errors with their line and
 * column, tokens, "did you mean" suggestions, the one namespace of
 * processes, mappings, files, pins and pipes (N7), and the terms the
 * operations share: sizes, ranges, values, and the pins and pipes a line
 * makes or uses (N6).
 */
#include "scenario/parse.h"

int scen_fail_alloc;

/* The parser's allocations, so that tests can make the Nth one fail. */
void *ps_alloc_hook(void *p, size_t size)
{
	if (scen_fail_alloc > 0 && --scen_fail_alloc == 0)
		return NULL;
	return p ? realloc(p, size) : malloc(size);
}

const char *const ps_top_words[PS_NR_TOP_WORDS] = {"system",  "policy", "expect", "file",
						   "process", "thread", "join"};

/* ---- errors ---------------------------------------------------------- */

static COW_PRINTF(4, 0) int vperr(struct parser *ps, int line, int col, const char *fmt, va_list ap)
{
	ps->diag.line = line;
	ps->diag.col = col;
	vsnprintf(ps->diag.msg, sizeof(ps->diag.msg), fmt, ap);
	ps->rc = COW_EINVAL;
	return -1;
}

/* An error at loc; returns -1. */
COW_PRINTF(3, 4) int ps_lerr(struct parser *ps, struct scen_loc loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(ps, loc.line, loc.col, fmt, ap);
	va_end(ap);
	return -1;
}

/* An error at token t of the current line; returns -1. */
COW_PRINTF(3, 4) int ps_terr(struct parser *ps, const struct token *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(ps, ps->lx.lineno, t->col, fmt, ap);
	va_end(ap);
	return -1;
}

int ps_nomem(struct parser *ps)
{
	ps->diag.line = ps->lx.lineno > 0 ? ps->lx.lineno : 1;
	ps->diag.col = 1;
	snprintf(ps->diag.msg, sizeof(ps->diag.msg), "out of memory");
	ps->rc = COW_ENOMEM;
	return -1;
}

/* ---- tokens ---------------------------------------------------------- */

int ps_next(struct parser *ps)
{
	return lex_token(&ps->lx, &ps->tok);
}

struct scen_loc ps_tok_loc(const struct parser *ps, const struct token *t)
{
	return (struct scen_loc){.line = ps->lx.lineno, .col = t->col};
}

bool ps_tok_is(const struct token *t, const char *word)
{
	return t->kind == TOK_IDENT && strlen(word) == t->len && !memcmp(t->p, word, t->len);
}

bool ps_name_is(const char *name, const struct token *t)
{
	return strlen(name) == t->len && !memcmp(name, t->p, t->len);
}

void ps_tok_copy(const struct token *t, char *dst, size_t size)
{
	size_t n = t->len < size - 1 ? t->len : size - 1;

	memcpy(dst, t->p, n);
	dst[n] = '\0';
}

int ps_op_kind(const struct token *t)
{
	for (int k = 0; k < SCEN_NR_OP_WORDS; k++)
		if (ps_tok_is(t, scen_op_info(k)->word))
			return k;
	return -1;
}

static bool is_keyword(const struct token *t)
{
	if (ps_op_kind(t) >= 0 || ps_tok_is(t, "in"))
		return true;
	for (size_t i = 0; i < PS_NR_TOP_WORDS; i++)
		if (ps_tok_is(t, ps_top_words[i]))
			return true;
	return false;
}

/* The current token as the name of something new or looked up: an
 * identifier that is not a keyword.  `what` reads "a mapping name after
 * 'map'". */
int ps_expect_name(struct parser *ps, const char *what)
{
	const struct token *t = &ps->tok;

	if (t->kind != TOK_IDENT)
		return ps_terr(ps, t, "expected %s, found %s", what, SHOW(t));
	if (is_keyword(t))
		return ps_terr(ps, t, "%s is a keyword and cannot be a name", SHOW(t));
	return 0;
}

int ps_expect_eol(struct parser *ps, const char *after)
{
	if (ps->tok.kind != TOK_EOL)
		return ps_terr(ps, &ps->tok, "unexpected %s after %s", SHOW(&ps->tok), after);
	return 0;
}

/* ---- "did you mean" --------------------------------------------------- */

/* Levenshtein distance; both strings are names (under SCEN_NAME_MAX). */
static int edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	int row[SCEN_NAME_MAX + 1];

	if (la >= SCEN_NAME_MAX || lb >= SCEN_NAME_MAX)
		return INT_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = row[0];

		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

void ps_suggest_try(struct suggest *sg, const char *cand)
{
	int limit = sg->t->len <= 3 ? 1 : 2;
	int d = edit_distance(sg->t->p, sg->t->len, cand, strlen(cand));

	if (d > 0 && d <= limit && (!sg->best || d < sg->dist)) {
		sg->best = cand;
		sg->dist = d;
	}
}

void ps_suggest_list(struct suggest *sg, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ps_suggest_try(sg, words[i]);
}

/* " (did you mean 'x'?)" or "", in buf. */
const char *ps_suggest_text(const struct suggest *sg, char *buf, size_t len)
{
	if (!sg->best)
		return "";
	snprintf(buf, len, " (did you mean '%s'?)", sg->best);
	return buf;
}

/* ---- sets, arrays and lookups ------------------------------------------ */

bool ps_set_has(const struct mapset *m, int i)
{
	return (m->w[i / 64] >> (i % 64)) & 1;
}

void ps_set_add(struct mapset *m, int i)
{
	m->w[i / 64] |= 1ULL << (i % 64);
}

/* Room for one more element in an array of *cap; new slots are zeroed.
 * Returns the (maybe moved) array, or NULL with the old one untouched. */
void *ps_grow(void *arr, int nr, int *cap, size_t size)
{
	int ncap;
	void *p;

	if (nr < *cap)
		return arr;
	if (*cap > INT_MAX / 2)
		return NULL;
	ncap = *cap ? *cap * 2 : 8;
	p = ps_alloc_hook(arr, (size_t)ncap * size);
	if (!p)
		return NULL;
	memset((char *)p + (size_t)*cap * size, 0, (size_t)(ncap - *cap) * size);
	*cap = ncap;
	return p;
}

int ps_find_proc(const struct parser *ps, const struct token *t)
{
	for (int i = 0; i < ps->s->nr_procs; i++)
		if (ps_name_is(ps->s->procs[i].name, t))
			return i;
	return -1;
}

int ps_find_map(const struct parser *ps, const struct token *t)
{
	for (int i = 0; i < ps->s->nr_maps; i++)
		if (ps_name_is(ps->s->maps[i].name, t))
			return i;
	return -1;
}

int ps_find_file(const struct parser *ps, const struct token *t)
{
	for (int i = 0; i < ps->s->nr_files; i++)
		if (ps_name_is(ps->s->files[i].name, t))
			return i;
	return -1;
}

static int find_ref(const struct scen_ref *refs, int nr, const struct token *t)
{
	for (int i = 0; i < nr; i++)
		if (ps_name_is(refs[i].name, t))
			return i;
	return -1;
}

const char *const ps_kind_nouns[] = {
	[NK_NONE] = "name", [NK_PROC] = "process", [NK_MAP] = "mapping",
	[NK_FILE] = "file", [NK_PIN] = "pin",	   [NK_PIPE] = "pipe",
};

/* What t names: its kind, its index and where it was defined. */
enum name_kind ps_lookup(const struct parser *ps, const struct token *t, int *idx,
			 struct scen_loc *loc)
{
	const struct scenario *s = ps->s;
	int i;

	if ((i = ps_find_proc(ps, t)) >= 0) {
		*loc = s->procs[i].loc;
		*idx = i;
		return NK_PROC;
	}
	if ((i = ps_find_map(ps, t)) >= 0) {
		*loc = ps->map_loc[i];
		*idx = i;
		return NK_MAP;
	}
	if ((i = ps_find_file(ps, t)) >= 0) {
		*loc = ps->file_loc[i];
		*idx = i;
		return NK_FILE;
	}
	if ((i = find_ref(s->pins, s->nr_pins, t)) >= 0) {
		*loc = ps->pin_st[i].loc;
		*idx = i;
		return NK_PIN;
	}
	if ((i = find_ref(s->pipes, s->nr_pipes, t)) >= 0) {
		*loc = ps->pipe_st[i].loc;
		*idx = i;
		return NK_PIPE;
	}
	*idx = -1;
	return NK_NONE;
}

/* -1 with an error if t, about to name something new, names something
 * else already. */
int ps_name_clash(struct parser *ps, const struct token *t)
{
	struct scen_loc loc;
	int idx;
	enum name_kind k = ps_lookup(ps, t, &idx, &loc);

	if (k == NK_NONE)
		return 0;
	return ps_terr(ps, t,
		       "%s already names a %s (line %d): processes, mappings, files, pins and "
		       "pipes need distinct names",
		       SHOW(t), ps_kind_nouns[k], loc.line);
}

const char *ps_suggest_proc(const struct parser *ps, struct suggest *sg)
{
	for (int i = 0; i < ps->s->nr_procs; i++)
		ps_suggest_try(sg, ps->s->procs[i].name);
	return sg->best;
}

static const char *suggest_map(const struct parser *ps, struct suggest *sg)
{
	for (int i = 0; i < ps->s->nr_maps; i++)
		ps_suggest_try(sg, ps->s->maps[i].name);
	return sg->best;
}

const char *ps_suggest_file(const struct parser *ps, struct suggest *sg)
{
	for (int i = 0; i < ps->s->nr_files; i++)
		ps_suggest_try(sg, ps->s->files[i].name);
	return sg->best;
}

static const char *suggest_ref(const struct scen_ref *refs, int nr, struct suggest *sg)
{
	for (int i = 0; i < nr; i++)
		ps_suggest_try(sg, refs[i].name);
	return sg->best;
}

/* A new process named by t; its index, or -1. */
int ps_add_proc(struct parser *ps, const struct token *t)
{
	struct scenario *s = ps->s;
	int cap = ps->procs_cap;
	void *p;

	if (s->nr_procs >= MAX_PROCS)
		return ps_terr(ps, t, "too many processes: a scenario has at most %d", MAX_PROCS);
	p = ps_grow(s->procs, s->nr_procs, &cap, sizeof(*s->procs));
	if (!p)
		return ps_nomem(ps);
	s->procs = p;
	cap = ps->procs_cap;
	p = ps_grow(ps->pp, s->nr_procs, &cap, sizeof(*ps->pp));
	if (!p)
		return ps_nomem(ps);
	ps->pp = p;
	ps->procs_cap = cap;
	ps_tok_copy(t, s->procs[s->nr_procs].name, SCEN_NAME_MAX);
	s->procs[s->nr_procs].loc = ps_tok_loc(ps, t);
	return s->nr_procs++;
}

/* The group being built, if any: in the block under a thread body, or
 * in the current block. */
struct block *ps_open_group(struct parser *ps)
{
	for (int d = ps->depth; d >= 0; d--)
		if (ps->stack[d].kind == BLK_TOP || ps->stack[d].kind == BLK_PROC)
			return ps->stack[d].group ? &ps->stack[d] : NULL;
	return NULL;
}

/* The mapping names the executor sees (N1, N2). */
struct mapset *ps_ctx_view(struct parser *ps, const struct ctx *c)
{
	if (c->thread >= 0 && !c->child)
		return &ps->views[c->thread - ps_open_group(ps)->group_first];
	return &ps->pp[c->proc].mapped;
}

/* "process 'P'" or "thread 'a' of process 'P'", for messages. */
static const char *who(const struct parser *ps, const struct ctx *c, char *buf, size_t len)
{
	if (c->thread >= 0 && !c->child)
		snprintf(buf, len, "thread '%s' of process '%s'", ps->s->threads[c->thread].name,
			 ps->s->procs[c->proc].name);
	else
		snprintf(buf, len, "process '%s'", ps->s->procs[c->proc].name);
	return buf;
}

#define WHO(ps, c) who((ps), (c), (char[96]){0}, 96)

/* ---- sizes, ranges and values ------------------------------------------ */

/* SIZE: NUMBER, or NUMBER page(s).  `what` names what is expected. */
int ps_parse_size(struct parser *ps, unsigned long long *v, const char *what)
{
	struct token nt = ps->tok;

	if (nt.kind != TOK_NUMBER)
		return ps_terr(ps, &nt, "expected %s, found %s", what, SHOW(&nt));
	*v = nt.num;
	if (ps_next(ps))
		return -1;
	if (ps_tok_is(&ps->tok, "page") || ps_tok_is(&ps->tok, "pages")) {
		if (nt.suffix)
			return ps_terr(ps, &ps->tok,
				       "a size is a number of bytes (like 8K) or of pages (like 2 "
				       "pages), not both");
		if (*v > SCEN_MAX_NUMBER / PAGE_SIZE)
			return ps_terr(ps, &nt, "the number %s is too large", SHOW(&nt));
		*v *= PAGE_SIZE;
		if (ps_next(ps))
			return -1;
	}
	return 0;
}

/* [OFF], [OFF..END] or [OFF..+LEN] after a name, or nothing: the whole of
 * something `size` bytes long.  rc->name is set by the caller. */
static int parse_brackets(struct parser *ps, const char *name, unsigned long size,
			  struct scen_range *r, struct rcols *rc)
{
	unsigned long long off, len;
	struct token t;

	rc->off = rc->len = rc->name;
	if (ps->tok.kind != TOK_LBRACKET) {
		r->whole = true;
		r->off = 0;
		r->len = size;
		return 0;
	}
	if (ps_next(ps))
		return -1;
	t = ps->tok;
	rc->off = rc->len = t.col;
	if (ps_parse_size(ps, &off, "an offset like 0, 4K or 2 pages after '['"))
		return -1;
	if (off >= size)
		return ps_terr(ps, &t, "offset %llu is beyond the end of '%s' (%lu bytes)", off,
			       name, size);
	if (ps->tok.kind == TOK_RBRACKET) {
		len = 1;
	} else if (ps->tok.kind == TOK_DOTDOT) {
		if (ps_next(ps))
			return -1;
		if (ps->tok.kind == TOK_PLUS) {
			if (ps_next(ps))
				return -1;
			t = ps->tok;
			rc->len = t.col;
			if (ps_parse_size(ps, &len, "a length like 16 or 4K after '+'"))
				return -1;
			if (len == 0)
				return ps_terr(ps, &t, "the length must be above 0");
			if (len > size - off)
				return ps_terr(
					ps, &t,
					"%llu bytes from offset %llu go beyond the end of '%s' "
					"(%lu bytes)",
					len, off, name, size);
		} else {
			unsigned long long end;

			t = ps->tok;
			rc->len = t.col;
			if (ps_parse_size(ps, &end,
					  "an end offset like 4K, or +LENGTH, after '..'"))
				return -1;
			if (end <= off)
				return ps_terr(ps, &t,
					       "the end (%llu) must be above the start (%llu)", end,
					       off);
			if (end > size)
				return ps_terr(ps, &t,
					       "end %llu is beyond the end of '%s' (%lu bytes)",
					       end, name, size);
			len = end - off;
		}
		if (ps->tok.kind != TOK_RBRACKET)
			return ps_terr(ps, &ps->tok, "expected ']' to close the range, found %s",
				       SHOW(&ps->tok));
	} else {
		return ps_terr(ps, &ps->tok, "expected '..' or ']' after the offset, found %s",
			       SHOW(&ps->tok));
	}
	if (ps_next(ps))
		return -1;
	r->whole = false;
	r->off = off;
	r->len = len;
	return 0;
}

/* RANGE of a mapping the executor has (N1, N2, N4), for operation `word`. */
int ps_parse_range(struct parser *ps, const struct ctx *c, const char *word, struct scen_range *r,
		   struct rcols *rc)
{
	struct token nt = ps->tok;
	struct suggest sg = {.t = &nt};
	struct scen_loc loc;
	enum name_kind k;
	int idx;

	if (nt.kind != TOK_IDENT)
		return ps_terr(ps, &nt,
			       "expected a range like buf or buf[0..4K] after '%s', found %s", word,
			       SHOW(&nt));
	k = ps_lookup(ps, &nt, &idx, &loc);
	if (k == NK_NONE) {
		suggest_map(ps, &sg);
		return ps_terr(ps, &nt, "unknown mapping %s%s", SHOW(&nt), SUGGESTION(&sg));
	}
	if (k != NK_MAP)
		return ps_terr(ps, &nt,
			       "%s is a %s, not a mapping: '%s' needs a range of a mapping",
			       SHOW(&nt), ps_kind_nouns[k], word);
	if (!ps_set_has(ps_ctx_view(ps, c), idx)) {
		if (c->thread >= 0 && !c->child) {
			const struct block *g = ps_open_group(ps);

			for (int i = 0; i < g->group_nr; i++)
				if (ps->s->threads[g->group_first + i].proc == c->proc &&
				    ps_set_has(&ps->views[i], idx))
					return ps_terr(ps, &nt,
						       "%s has no mapping '%s' yet: thread '%s' "
						       "maps it, and other threads see it after "
						       "'join'",
						       WHO(ps, c), ps->s->maps[idx].name,
						       ps->s->threads[g->group_first + i].name);
		}
		return ps_terr(ps, &nt,
			       "%s has no mapping '%s': it must map it first, or be forked from a "
			       "process that has it",
			       WHO(ps, c), ps->s->maps[idx].name);
	}
	if (ps_next(ps))
		return -1;
	r->space = SPACE_MAP;
	r->name = idx;
	r->is_file = false;
	rc->name = nt.col;
	return parse_brackets(ps, ps->s->maps[idx].name, ps->s->maps[idx].len, r, rc);
}

/* A file's RANGE; `role` says what must name a file, for the error. */
int ps_parse_file_range(struct parser *ps, const char *role, struct scen_range *r, struct rcols *rc)
{
	struct token nt = ps->tok;
	struct suggest sg = {.t = &nt};
	struct scen_loc loc;
	enum name_kind k;
	int f;

	if (nt.kind != TOK_IDENT)
		return ps_terr(ps, &nt, "expected a file range like data[0..4K], found %s",
			       SHOW(&nt));
	k = ps_lookup(ps, &nt, &f, &loc);
	if (k == NK_NONE) {
		ps_suggest_file(ps, &sg);
		return ps_terr(ps, &nt, "unknown file %s%s", SHOW(&nt), SUGGESTION(&sg));
	}
	if (k != NK_FILE)
		return ps_terr(ps, &nt,
			       "%s is a %s; %s must name a file (declared with 'file NAME SIZE')",
			       SHOW(&nt), ps_kind_nouns[k], role);
	if (ps_next(ps))
		return -1;
	r->space = SPACE_FILE;
	r->name = f;
	r->is_file = true;
	rc->name = nt.col;
	return parse_brackets(ps, ps->s->files[f].name, ps->s->files[f].size, r, rc);
}

/* ---- pins and pipes ------------------------------------------------------ */

/* N6: a pin or a pipe is made once (by pin or vmsplice), used until it
 * ends (unpin, pipe_read), and not shared between the threads of the
 * group that makes or ends it. */

static struct scen_ref *ref_array(const struct parser *ps, enum name_kind k, int *nr)
{
	*nr = k == NK_PIN ? ps->s->nr_pins : ps->s->nr_pipes;
	return k == NK_PIN ? ps->s->pins : ps->s->pipes;
}

static struct pref *ref_state(struct parser *ps, enum name_kind k, int idx)
{
	return k == NK_PIN ? &ps->pin_st[idx] : &ps->pipe_st[idx];
}

static const char *ref_ended(enum name_kind k)
{
	return k == NK_PIN ? "unpinned" : "read";
}

/* c uses pin or pipe idx (named at token nt); `end`: the use unpins or
 * reads it. */
int ps_use_ref(struct parser *ps, const struct ctx *c, enum name_kind k, int idx,
	       const struct token *nt, bool end)
{
	struct pref *st = ref_state(ps, k, idx);
	const char *noun = ps_kind_nouns[k];
	int nr;
	const struct scen_ref *ref = &ref_array(ps, k, &nr)[idx];

	if (st->ended)
		return ps_terr(ps, nt, "%s '%s' was %s at line %d", noun, ref->name, ref_ended(k),
			       st->end_loc.line);
	if (c->thread >= 0) {
		const struct block *g = ps_open_group(ps);
		int me = c->thread - g->group_first;

		if (st->born_group == ps->group_serial && st->born_thread != c->thread)
			return ps_terr(
				ps, nt,
				"%s '%s' is made by thread '%s' of this group (line %d): other "
				"threads can use it after 'join'",
				noun, ref->name, ps->s->threads[st->born_thread].name,
				st->loc.line);
		if (st->use_group != ps->group_serial) {
			st->use_group = ps->group_serial;
			st->use_mask = 0;
		}
		if (end && (st->use_mask & ~(1ULL << me))) {
			int other = 0;

			while (other == me || !(st->use_mask & (1ULL << other)))
				other++;
			return ps_terr(ps, nt,
				       "thread '%s' of this group uses %s '%s': it can be %s after "
				       "'join'",
				       ps->s->threads[g->group_first + other].name, noun, ref->name,
				       ref_ended(k));
		}
		st->use_mask |= 1ULL << me;
	}
	if (end) {
		st->ended = true;
		st->end_loc = ps_tok_loc(ps, nt);
	}
	return 0;
}

/* The pin or pipe an unpin or pipe_read names, at the current token. */
int ps_parse_ref_name(struct parser *ps, enum name_kind want, const char *word, int *idx)
{
	struct token nt = ps->tok;
	struct suggest sg = {.t = &nt};
	struct scen_loc loc;
	enum name_kind k;
	int nr;
	const struct scen_ref *refs = ref_array(ps, want, &nr);

	if (nt.kind != TOK_IDENT)
		return ps_terr(ps, &nt, "expected a %s name after '%s', found %s",
			       ps_kind_nouns[want], word, SHOW(&nt));
	k = ps_lookup(ps, &nt, idx, &loc);
	if (k == NK_NONE) {
		suggest_ref(refs, nr, &sg);
		return ps_terr(ps, &nt, "unknown %s %s%s", ps_kind_nouns[want], SHOW(&nt),
			       SUGGESTION(&sg));
	}
	if (k != want)
		return ps_terr(ps, &nt, "%s is a %s; '%s' takes a %s", SHOW(&nt), ps_kind_nouns[k],
			       word, ps_kind_nouns[want]);
	return 0;
}

/* -1 unless t can name a new pin or pipe. */
int ps_new_ref_name(struct parser *ps, enum name_kind k, const struct token *t)
{
	struct scen_loc loc;
	int idx, nr;
	const struct scen_ref *refs = ref_array(ps, k, &nr);

	if (ps_lookup(ps, t, &idx, &loc) == k)
		return ps_terr(ps, t, "%s '%s' already exists (line %d): every %s has its own name",
			       ps_kind_nouns[k], refs[idx].name, loc.line, ps_kind_nouns[k]);
	if (ps_name_clash(ps, t))
		return -1;
	if (nr >= (k == NK_PIN ? MAX_PINS : MAX_PIPES))
		return ps_terr(ps, t, "too many %ss: a scenario has at most %d", ps_kind_nouns[k],
			       k == NK_PIN ? MAX_PINS : MAX_PIPES);
	return 0;
}

/* A new pin or pipe named t, made by c, holding len bytes; its index. */
int ps_add_ref(struct parser *ps, const struct ctx *c, enum name_kind k, const struct token *t,
	       unsigned long len)
{
	struct scenario *s = ps->s;
	struct scen_ref **arr = k == NK_PIN ? &s->pins : &s->pipes;
	int *nr = k == NK_PIN ? &s->nr_pins : &s->nr_pipes;
	int *cap = k == NK_PIN ? &ps->pins_cap : &ps->pipes_cap;
	struct pref *st;
	void *p = ps_grow(*arr, *nr, cap, sizeof(**arr));

	if (!p)
		return ps_nomem(ps);
	*arr = p;
	ps_tok_copy(t, (*arr)[*nr].name, SCEN_NAME_MAX);
	(*arr)[*nr].len = len;
	(*arr)[*nr].proc = c->proc;
	st = ref_state(ps, k, *nr);
	memset(st, 0, sizeof(*st));
	st->loc = ps_tok_loc(ps, t);
	st->born_group = c->thread >= 0 ? ps->group_serial : 0;
	st->born_thread = c->thread;
	return (*nr)++;
}

/* The RANGE of a check: a mapping's, a file's, a pin's or a pipe's. */
int ps_parse_check_range(struct parser *ps, const struct ctx *c, struct scen_range *r)
{
	struct token nt = ps->tok;
	struct suggest sg = {.t = &nt};
	struct scen_loc loc;
	struct rcols rc = {.name = nt.col};
	const struct scen_ref *ref;
	enum name_kind k;
	int idx, nr;

	if (nt.kind != TOK_IDENT)
		return ps_terr(
			ps, &nt,
			"expected a range like buf or buf[0..4K] after the verdict, found %s",
			SHOW(&nt));
	k = ps_lookup(ps, &nt, &idx, &loc);
	switch (k) {
	case NK_MAP: return ps_parse_range(ps, c, "check", r, &rc);
	case NK_FILE: return ps_parse_file_range(ps, "a checked range", r, &rc);
	case NK_PIN:
	case NK_PIPE:
		if (ps_use_ref(ps, c, k, idx, &nt, false) || ps_next(ps))
			return -1;
		ref = &ref_array(ps, k, &nr)[idx];
		r->space = k == NK_PIN ? SPACE_PIN : SPACE_PIPE;
		r->name = idx;
		r->is_file = false;
		return parse_brackets(ps, ref->name, ref->len, r, &rc);
	case NK_PROC:
		return ps_terr(ps, &nt,
			       "%s is a process; a check reads a mapping, a file, a pin or a pipe",
			       SHOW(&nt));
	case NK_NONE: break;
	}
	suggest_map(ps, &sg);
	ps_suggest_file(ps, &sg);
	suggest_ref(ps->s->pins, ps->s->nr_pins, &sg);
	suggest_ref(ps->s->pipes, ps->s->nr_pipes, &sg);
	return ps_terr(ps, &nt, "unknown mapping, file, pin or pipe %s%s", SHOW(&nt),
		       SUGGESTION(&sg));
}

/* A byte for a value or fill=: 0x00..0xff, in hex. */
int ps_parse_byte(struct parser *ps, unsigned char *byte)
{
	const struct token *t = &ps->tok;

	if (t->kind != TOK_NUMBER || !t->hex || t->suffix)
		return ps_terr(ps, t, "expected a byte in hex, like 0x01, found %s", SHOW(t));
	if (t->num > 0xff)
		return ps_terr(ps, t, "the byte %s is out of range: a byte is 0x00..0xff", SHOW(t));
	*byte = (unsigned char)t->num;
	return ps_next(ps);
}

/* VALUE, for a range `rlen` bytes long. */
int ps_parse_value(struct parser *ps, struct scen_value *v, unsigned long rlen)
{
	struct token vt = ps->tok;
	struct rcols rc;

	switch (vt.kind) {
	case TOK_NUMBER: v->kind = VAL_BYTE; return ps_parse_byte(ps, &v->byte);
	case TOK_STRING:
		if (vt.nbytes == 0)
			return ps_terr(ps, &vt, "an empty string: a value needs at least one byte");
		if (vt.nbytes > rlen)
			return ps_terr(ps, &vt,
				       "the string is %zu bytes, longer than the range (%lu)",
				       vt.nbytes, rlen);
		v->kind = VAL_BYTES;
		v->bytes = ps_alloc_hook(NULL, vt.nbytes);
		if (!v->bytes)
			return ps_nomem(ps);
		lex_string_decode(&vt, v->bytes);
		v->nbytes = vt.nbytes;
		return ps_next(ps);
	case TOK_IDENT:
		v->kind = VAL_FILE;
		if (ps_parse_file_range(ps, "a range in a value", &v->file, &rc))
			return -1;
		if (v->file.len != rlen)
			return ps_terr(
				ps, &vt,
				"this file range is %lu bytes but the range is %lu: they must "
				"be equally long",
				v->file.len, rlen);
		return 0;
	default:
		return ps_terr(
			ps, &vt,
			"expected a value: a byte like 0x00, a string like \"text\" or a file "
			"range like data[0..4K], found %s",
			SHOW(&vt));
	}
}
