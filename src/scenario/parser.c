/*
 * The scenario parser: turns a .cow text (grammar in scenario.h) into a
 * struct scenario for interp.c, the layer above it, using the lexer below
 * it.  Everything that can be known before a run is checked here, so the
 * interpreter may trust what it gets and a user hears about a mistake with
 * its line and column instead of at run time.
 *
 * The parse is one pass over the lines, with no recursion.  Blocks are a
 * stack of at most three (top level, a process block, a thread body); a
 * line closes every block whose opening line is indented as far or
 * further, and belongs to the block left on top.  What the parser tracks
 * statically besides the structure:
 *
 *   N1  each process has a set of mapping names: its own maps and those it
 *       inherited at fork; munmap keeps the name (an access then faults at
 *       run time).  A range names a mapping of the executing process.
 *   N2  in a thread group, a thread sees its process's set as it was at
 *       the group's first thread, plus its own maps; the sets are merged
 *       at join.  So no thread uses a mapping that a concurrent thread is
 *       still creating, and the interpreter's per-process tables are never
 *       written and read at once.
 *   N3  a process forked by a thread of a group is not used by another
 *       thread of that group; exit never happens in a thread; after exit a
 *       process gets no operation, thread or block.
 *   N4  every mapping name has one length (its first map's, rounded up to
 *       pages), every range lies inside its mapping or file, every file
 *       value is exactly as long as the range it goes with.
 *
 *   N5  munmap, mprotect, madvise, swapout, uffd_continue and pin get page-aligned
 *       offsets, as the system calls need; their lengths are rounded up by
 *       the kernel.
 *   N6  a pin or pipe is made once (pin, vmsplice) and lives until it ends
 *       (unpin by its own process, pipe_read by any process), used only in
 *       between; in a thread group, one a thread makes is not used by the
 *       other threads, and one a thread ends is not used by the others
 *       either (struct pref tracks it).  So the interpreter never sees a
 *       pin or pipe used and ended at once, or used before it exists.
 *   N7  processes, mappings, files, pins and pipes share one namespace,
 *       so a check's range name means one thing.
 *   N8  direct I/O keeps O_DIRECT's rules: equally long ranges, offsets
 *       and length multiples of 512.
 *   N9  an expect line names presets that exist (cow_policy_find, through
 *       include/cowlab.h), each once in all the expect lines, so that a
 *       (scenario, preset) cell of `cowlab matrix` has at most one
 *       expectation.
 *   N10 a map's file= names a declared file that covers the mapping (its
 *       size rounded up to whole pages, as mmap allows), and a file is
 *       either mapped or a direct-I/O target in the whole scenario, never
 *       both: the page cache the mappings share is not what the device
 *       reads and writes, and cowlab does not keep the two coherent.
 *
 * A line indented deeper than the previous statement of its block is an
 * error unless that statement opened a block: stray indentation is a
 * mistake worth a message, not a silent regrouping.  Every error stops the
 * parse; the scenario built so far is freed by scen_free(), which is why
 * every array slot is zeroed before it is filled.
 *
 * Limits keep memory bounded on any input: 1 MiB of text, 4096-byte
 * lines, 31-character names, 1024 processes, 1024 mapping names, 256
 * files, 1024 pins, 1024 pipes, 63 threads in a group.  scen_check(), at the end of this file,
 * checks an accepted scenario against what these rules promise; the tests
 * and the fuzz target run it on every scenario the parser returns.
 */
#include "scenario/lexer.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SIZE 4096UL
#define MAX_PROCS 1024
#define MAX_MAPS 1024
#define MAX_FILES 256
#define MAX_PINS 1024
#define MAX_PIPES 1024
#define DIO_ALIGN 512UL /* O_DIRECT's logical block size */
#define MAX_GROUP 63
#define MAX_FILE_SIZE (64UL << 20)
#define MAX_MAP_SIZE (64UL << 30) /* 16M pages, the largest frame pool */
#define MAX_FRAMES (16UL << 20)
#define MAX_CPUS 64
#define MAX_DEPTH 16 /* top level, process block, thread body, repeat and fork bodies */

int scen_fail_alloc;

/* The parser's allocations, so that tests can make the Nth one fail. */
static void *alloc_hook(void *p, size_t size)
{
	if (scen_fail_alloc > 0 && --scen_fail_alloc == 0)
		return NULL;
	return p ? realloc(p, size) : malloc(size);
}

/* A set of mapping names (indices into scenario.maps[]). */
struct mapset {
	uint64_t w[MAX_MAPS / 64];
};

/* What the parser knows of a process, beside its scen_proc. */
struct pproc {
	struct mapset mapped; /* N1 */
	bool exited;
	struct scen_loc exit_loc;
	unsigned born_group; /* the group whose thread forked it; 0: none */
};

/* What the parser knows of a pin or a pipe, beside its scen_ref (N6). */
struct pref {
	struct scen_loc loc; /* its name in the pin or vmsplice line */
	unsigned born_group; /* the group whose thread made it; 0: none */
	int born_thread;     /* that thread (threads[]), or -1 */
	bool ended;	     /* unpinned, or read */
	struct scen_loc end_loc;
	unsigned use_group; /* the group whose threads use_mask records */
	uint64_t use_mask;  /* bit i: thread group_first + i used it */
};

/* BLK_REPEAT: a repeat's body; BLK_FORK: after a fork, its body if the
 * next lines are indented deeper (else the block closes empty). */
enum blk_kind { BLK_TOP, BLK_PROC, BLK_THREAD, BLK_REPEAT, BLK_FORK };

struct block {
	enum blk_kind kind;
	int opener_indent; /* -1 for the top level */
	int prev_indent;   /* of its last statement; -1 before the first */
	int proc;	   /* BLK_PROC, BLK_THREAD; BLK_REPEAT, BLK_FORK: their ctx's */
	int thread;	   /* BLK_THREAD: index into threads[]; -1 at a process's level */
	/* BLK_REPEAT, BLK_FORK: the ctx of the body, and where the opening
	 * operation stands in that sequence */
	bool child, loop, any_loop;
	int op_index;
	/* BLK_TOP, BLK_PROC: the thread group being built at this level */
	bool group;
	int group_first, group_nr;
	struct scen_loc group_loc;
};

/* Who executes an operation: a process's main thread or a thread, or
 * the child of a fork with a body (whose operations go where the fork's
 * do: in the thread's sequence or at top level). */
struct ctx {
	int proc;
	int thread;    /* threads[] index, or -1 */
	bool child;    /* in a fork's body: proc is the child */
	bool loop;     /* inside a repeat of this process (not of an ancestor) */
	bool any_loop; /* inside a repeat, of this process or an ancestor */
	bool oneline;  /* a one-line thread: no block can open */
};

struct parser {
	const char *path;
	struct scenario *s;
	struct lexer lx;
	struct scen_diag diag;
	int rc; /* the error code when a function returned -1 */
	struct token tok;
	struct block stack[MAX_DEPTH];
	int depth;
	int nr_statements;
	bool seen_process; /* a process or thread line was seen */
	struct scen_loc system_loc, policy_loc;
	bool have_system, have_policy;
	int expects_cap;
	unsigned group_serial; /* numbers the groups, from 1 */
	struct pproc *pp;      /* parallel to s->procs */
	int ops_cap, threads_cap, procs_cap, maps_cap, files_cap;
	int tops_cap;			/* of the thread now receiving operations */
	struct mapset views[MAX_GROUP]; /* N2: the open group's threads */
	struct scen_loc map_loc[MAX_MAPS];
	struct scen_loc file_loc[MAX_FILES];
	/* N10: the first map line mapping each file, the first direct I/O
	 * using it (line 0: none yet) */
	struct scen_loc file_map_loc[MAX_FILES], file_dio_loc[MAX_FILES];
	int pins_cap, pipes_cap;
	struct pref pin_st[MAX_PINS];
	struct pref pipe_st[MAX_PIPES];
};

enum op_word {
	W_MAP,
	W_WRITE,
	W_READ,
	W_CHECK,
	W_FORK,
	W_EXIT,
	W_MUNMAP,
	W_MPROTECT,
	W_MADVISE,
	W_DIO_READ,
	W_DIO_WRITE,
	W_WAIT,
	W_PIN,
	W_UNPIN,
	W_VMSPLICE,
	W_PIPE_READ,
	W_SWAPOUT,
	W_UFFD_CONTINUE,
	W_CLEAR_REFS,
	W_KSM_MERGE,
	W_POKE,
	W_REQUIRE,
	W_REPEAT,
	W_NONE,
};

static const char *const op_words[] = {
	[W_MAP] = "map",
	[W_WRITE] = "write",
	[W_READ] = "read",
	[W_CHECK] = "check",
	[W_FORK] = "fork",
	[W_EXIT] = "exit",
	[W_MUNMAP] = "munmap",
	[W_MPROTECT] = "mprotect",
	[W_MADVISE] = "madvise",
	[W_DIO_READ] = "dio_read",
	[W_DIO_WRITE] = "dio_write",
	[W_WAIT] = "wait",
	[W_PIN] = "pin",
	[W_UNPIN] = "unpin",
	[W_VMSPLICE] = "vmsplice",
	[W_PIPE_READ] = "pipe_read",
	[W_SWAPOUT] = "swapout",
	[W_UFFD_CONTINUE] = "uffd_continue",
	[W_CLEAR_REFS] = "clear_refs",
	[W_KSM_MERGE] = "ksm_merge",
	[W_POKE] = "poke",
	[W_REQUIRE] = "require",
	[W_REPEAT] = "repeat",
};

static const char *const top_words[] = {"system",  "policy", "expect", "file",
					"process", "thread", "join"};

static const char *const verdict_names[] = {
	[VERDICT_CORRUPT] = "corrupt",
	[VERDICT_LEAK] = "leak",
	[VERDICT_DESYNC] = "desync",
	[VERDICT_OVERWRITE] = "overwrite",
};

/* What an expect line may document: a pass, a check's verdict (the words
 * above, in their order), or the explorer's crash (a broken invariant)
 * and error (an operation failed unexpectedly); scen_result_from_explore
 * gives the same words.  The explorer's deadlock and livelock are bugs of
 * the model, not history, and have no place here. */
static const char *const expect_verdicts[] = {"pass",	   "corrupt", "leak", "desync",
					      "overwrite", "crash",   "error"};

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
static COW_PRINTF(3, 4) int lerr(struct parser *ps, struct scen_loc loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(ps, loc.line, loc.col, fmt, ap);
	va_end(ap);
	return -1;
}

/* An error at token t of the current line; returns -1. */
static COW_PRINTF(3, 4) int terr(struct parser *ps, const struct token *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(ps, ps->lx.lineno, t->col, fmt, ap);
	va_end(ap);
	return -1;
}

static int nomem(struct parser *ps)
{
	ps->diag.line = ps->lx.lineno > 0 ? ps->lx.lineno : 1;
	ps->diag.col = 1;
	snprintf(ps->diag.msg, sizeof(ps->diag.msg), "out of memory");
	ps->rc = COW_ENOMEM;
	return -1;
}

/* ---- tokens ---------------------------------------------------------- */

#define SHOW(t) tok_show((t), (char[64]){0}, 64)

static int next(struct parser *ps)
{
	return lex_token(&ps->lx, &ps->tok);
}

static struct scen_loc tok_loc(const struct parser *ps, const struct token *t)
{
	return (struct scen_loc){.line = ps->lx.lineno, .col = t->col};
}

static bool tok_is(const struct token *t, const char *word)
{
	return t->kind == TOK_IDENT && strlen(word) == t->len && !memcmp(t->p, word, t->len);
}

static bool name_is(const char *name, const struct token *t)
{
	return strlen(name) == t->len && !memcmp(name, t->p, t->len);
}

static void tok_copy(const struct token *t, char *dst, size_t size)
{
	size_t n = t->len < size - 1 ? t->len : size - 1;

	memcpy(dst, t->p, n);
	dst[n] = '\0';
}

static enum op_word op_word(const struct token *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(op_words); i++)
		if (tok_is(t, op_words[i]))
			return (enum op_word)i;
	return W_NONE;
}

static bool is_keyword(const struct token *t)
{
	if (op_word(t) != W_NONE || tok_is(t, "in"))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(top_words); i++)
		if (tok_is(t, top_words[i]))
			return true;
	return false;
}

/* The current token as the name of something new or looked up: an
 * identifier that is not a keyword.  `what` reads "a mapping name after
 * 'map'". */
static int expect_name(struct parser *ps, const char *what)
{
	const struct token *t = &ps->tok;

	if (t->kind != TOK_IDENT)
		return terr(ps, t, "expected %s, found %s", what, SHOW(t));
	if (is_keyword(t))
		return terr(ps, t, "%s is a keyword and cannot be a name", SHOW(t));
	return 0;
}

static int expect_eol(struct parser *ps, const char *after)
{
	if (ps->tok.kind != TOK_EOL)
		return terr(ps, &ps->tok, "unexpected %s after %s", SHOW(&ps->tok), after);
	return 0;
}

/* ---- "did you mean" --------------------------------------------------- */

struct suggest {
	const struct token *t;
	const char *best;
	int dist;
};

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

static void suggest_try(struct suggest *sg, const char *cand)
{
	int limit = sg->t->len <= 3 ? 1 : 2;
	int d = edit_distance(sg->t->p, sg->t->len, cand, strlen(cand));

	if (d > 0 && d <= limit && (!sg->best || d < sg->dist)) {
		sg->best = cand;
		sg->dist = d;
	}
}

static void suggest_list(struct suggest *sg, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		suggest_try(sg, words[i]);
}

/* " (did you mean 'x'?)" or "", in buf. */
static const char *suggest_text(const struct suggest *sg, char *buf, size_t len)
{
	if (!sg->best)
		return "";
	snprintf(buf, len, " (did you mean '%s'?)", sg->best);
	return buf;
}

#define SUGGESTION(sg) suggest_text((sg), (char[64]){0}, 64)

/* ---- sets, arrays and lookups ------------------------------------------ */

static bool set_has(const struct mapset *m, int i)
{
	return (m->w[i / 64] >> (i % 64)) & 1;
}

static void set_add(struct mapset *m, int i)
{
	m->w[i / 64] |= 1ULL << (i % 64);
}

/* Room for one more element in an array of *cap; new slots are zeroed.
 * Returns the (maybe moved) array, or NULL with the old one untouched. */
static void *grow(void *arr, int nr, int *cap, size_t size)
{
	int ncap;
	void *p;

	if (nr < *cap)
		return arr;
	if (*cap > INT_MAX / 2)
		return NULL;
	ncap = *cap ? *cap * 2 : 8;
	p = alloc_hook(arr, (size_t)ncap * size);
	if (!p)
		return NULL;
	memset((char *)p + (size_t)*cap * size, 0, (size_t)(ncap - *cap) * size);
	*cap = ncap;
	return p;
}

static int find_proc(const struct parser *ps, const struct token *t)
{
	for (int i = 0; i < ps->s->nr_procs; i++)
		if (name_is(ps->s->procs[i].name, t))
			return i;
	return -1;
}

static int find_map(const struct parser *ps, const struct token *t)
{
	for (int i = 0; i < ps->s->nr_maps; i++)
		if (name_is(ps->s->maps[i].name, t))
			return i;
	return -1;
}

static int find_file(const struct parser *ps, const struct token *t)
{
	for (int i = 0; i < ps->s->nr_files; i++)
		if (name_is(ps->s->files[i].name, t))
			return i;
	return -1;
}

static int find_ref(const struct scen_ref *refs, int nr, const struct token *t)
{
	for (int i = 0; i < nr; i++)
		if (name_is(refs[i].name, t))
			return i;
	return -1;
}

/* What a name can refer to (N7: one namespace for them all). */
enum name_kind { NK_NONE, NK_PROC, NK_MAP, NK_FILE, NK_PIN, NK_PIPE };

static const char *const kind_nouns[] = {
	[NK_NONE] = "name", [NK_PROC] = "process", [NK_MAP] = "mapping",
	[NK_FILE] = "file", [NK_PIN] = "pin",	   [NK_PIPE] = "pipe",
};

/* What t names: its kind, its index and where it was defined. */
static enum name_kind lookup(const struct parser *ps, const struct token *t, int *idx,
			     struct scen_loc *loc)
{
	const struct scenario *s = ps->s;
	int i;

	if ((i = find_proc(ps, t)) >= 0) {
		*loc = s->procs[i].loc;
		*idx = i;
		return NK_PROC;
	}
	if ((i = find_map(ps, t)) >= 0) {
		*loc = ps->map_loc[i];
		*idx = i;
		return NK_MAP;
	}
	if ((i = find_file(ps, t)) >= 0) {
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
static int name_clash(struct parser *ps, const struct token *t)
{
	struct scen_loc loc;
	int idx;
	enum name_kind k = lookup(ps, t, &idx, &loc);

	if (k == NK_NONE)
		return 0;
	return terr(ps, t,
		    "%s already names a %s (line %d): processes, mappings, files, pins and "
		    "pipes need distinct names",
		    SHOW(t), kind_nouns[k], loc.line);
}

static const char *suggest_proc(const struct parser *ps, struct suggest *sg)
{
	for (int i = 0; i < ps->s->nr_procs; i++)
		suggest_try(sg, ps->s->procs[i].name);
	return sg->best;
}

static const char *suggest_map(const struct parser *ps, struct suggest *sg)
{
	for (int i = 0; i < ps->s->nr_maps; i++)
		suggest_try(sg, ps->s->maps[i].name);
	return sg->best;
}

static const char *suggest_file(const struct parser *ps, struct suggest *sg)
{
	for (int i = 0; i < ps->s->nr_files; i++)
		suggest_try(sg, ps->s->files[i].name);
	return sg->best;
}

static const char *suggest_ref(const struct scen_ref *refs, int nr, struct suggest *sg)
{
	for (int i = 0; i < nr; i++)
		suggest_try(sg, refs[i].name);
	return sg->best;
}

/* A new process named by t; its index, or -1. */
static int add_proc(struct parser *ps, const struct token *t)
{
	struct scenario *s = ps->s;
	int cap = ps->procs_cap;
	void *p;

	if (s->nr_procs >= MAX_PROCS)
		return terr(ps, t, "too many processes: a scenario has at most %d", MAX_PROCS);
	p = grow(s->procs, s->nr_procs, &cap, sizeof(*s->procs));
	if (!p)
		return nomem(ps);
	s->procs = p;
	cap = ps->procs_cap;
	p = grow(ps->pp, s->nr_procs, &cap, sizeof(*ps->pp));
	if (!p)
		return nomem(ps);
	ps->pp = p;
	ps->procs_cap = cap;
	tok_copy(t, s->procs[s->nr_procs].name, SCEN_NAME_MAX);
	s->procs[s->nr_procs].loc = tok_loc(ps, t);
	return s->nr_procs++;
}

/* The group being built, if any: in the block under a thread body, or
 * in the current block. */
static struct block *open_group(struct parser *ps)
{
	for (int d = ps->depth; d >= 0; d--)
		if (ps->stack[d].kind == BLK_TOP || ps->stack[d].kind == BLK_PROC)
			return ps->stack[d].group ? &ps->stack[d] : NULL;
	return NULL;
}

/* The mapping names the executor sees (N1, N2). */
static struct mapset *ctx_view(struct parser *ps, const struct ctx *c)
{
	if (c->thread >= 0 && !c->child)
		return &ps->views[c->thread - open_group(ps)->group_first];
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
static int parse_size(struct parser *ps, unsigned long long *v, const char *what)
{
	struct token nt = ps->tok;

	if (nt.kind != TOK_NUMBER)
		return terr(ps, &nt, "expected %s, found %s", what, SHOW(&nt));
	*v = nt.num;
	if (next(ps))
		return -1;
	if (tok_is(&ps->tok, "page") || tok_is(&ps->tok, "pages")) {
		if (nt.suffix)
			return terr(ps, &ps->tok,
				    "a size is a number of bytes (like 8K) or of pages (like 2 "
				    "pages), not both");
		if (*v > SCEN_MAX_NUMBER / PAGE_SIZE)
			return terr(ps, &nt, "the number %s is too large", SHOW(&nt));
		*v *= PAGE_SIZE;
		if (next(ps))
			return -1;
	}
	return 0;
}

/* Where the parts of a range are, for messages: the columns of its name,
 * of OFF and of its end or length (OFF's and the name's where absent). */
struct rcols {
	int name, off, len;
};

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
	if (next(ps))
		return -1;
	t = ps->tok;
	rc->off = rc->len = t.col;
	if (parse_size(ps, &off, "an offset like 0, 4K or 2 pages after '['"))
		return -1;
	if (off >= size)
		return terr(ps, &t, "offset %llu is beyond the end of '%s' (%lu bytes)", off, name,
			    size);
	if (ps->tok.kind == TOK_RBRACKET) {
		len = 1;
	} else if (ps->tok.kind == TOK_DOTDOT) {
		if (next(ps))
			return -1;
		if (ps->tok.kind == TOK_PLUS) {
			if (next(ps))
				return -1;
			t = ps->tok;
			rc->len = t.col;
			if (parse_size(ps, &len, "a length like 16 or 4K after '+'"))
				return -1;
			if (len == 0)
				return terr(ps, &t, "the length must be above 0");
			if (len > size - off)
				return terr(ps, &t,
					    "%llu bytes from offset %llu go beyond the end of '%s' "
					    "(%lu bytes)",
					    len, off, name, size);
		} else {
			unsigned long long end;

			t = ps->tok;
			rc->len = t.col;
			if (parse_size(ps, &end, "an end offset like 4K, or +LENGTH, after '..'"))
				return -1;
			if (end <= off)
				return terr(ps, &t, "the end (%llu) must be above the start (%llu)",
					    end, off);
			if (end > size)
				return terr(ps, &t,
					    "end %llu is beyond the end of '%s' (%lu bytes)", end,
					    name, size);
			len = end - off;
		}
		if (ps->tok.kind != TOK_RBRACKET)
			return terr(ps, &ps->tok, "expected ']' to close the range, found %s",
				    SHOW(&ps->tok));
	} else {
		return terr(ps, &ps->tok, "expected '..' or ']' after the offset, found %s",
			    SHOW(&ps->tok));
	}
	if (next(ps))
		return -1;
	r->whole = false;
	r->off = off;
	r->len = len;
	return 0;
}

/* RANGE of a mapping the executor has (N1, N2, N4), for operation `word`. */
static int parse_range(struct parser *ps, const struct ctx *c, const char *word,
		       struct scen_range *r, struct rcols *rc)
{
	struct token nt = ps->tok;
	struct suggest sg = {.t = &nt};
	struct scen_loc loc;
	enum name_kind k;
	int idx;

	if (nt.kind != TOK_IDENT)
		return terr(ps, &nt, "expected a range like buf or buf[0..4K] after '%s', found %s",
			    word, SHOW(&nt));
	k = lookup(ps, &nt, &idx, &loc);
	if (k == NK_NONE) {
		suggest_map(ps, &sg);
		return terr(ps, &nt, "unknown mapping %s%s", SHOW(&nt), SUGGESTION(&sg));
	}
	if (k != NK_MAP)
		return terr(ps, &nt, "%s is a %s, not a mapping: '%s' needs a range of a mapping",
			    SHOW(&nt), kind_nouns[k], word);
	if (!set_has(ctx_view(ps, c), idx)) {
		if (c->thread >= 0 && !c->child) {
			const struct block *g = open_group(ps);

			for (int i = 0; i < g->group_nr; i++)
				if (ps->s->threads[g->group_first + i].proc == c->proc &&
				    set_has(&ps->views[i], idx))
					return terr(ps, &nt,
						    "%s has no mapping '%s' yet: thread '%s' "
						    "maps it, and other threads see it after "
						    "'join'",
						    WHO(ps, c), ps->s->maps[idx].name,
						    ps->s->threads[g->group_first + i].name);
		}
		return terr(ps, &nt,
			    "%s has no mapping '%s': it must map it first, or be forked from a "
			    "process that has it",
			    WHO(ps, c), ps->s->maps[idx].name);
	}
	if (next(ps))
		return -1;
	r->space = SPACE_MAP;
	r->name = idx;
	r->is_file = false;
	rc->name = nt.col;
	return parse_brackets(ps, ps->s->maps[idx].name, ps->s->maps[idx].len, r, rc);
}

/* A file's RANGE; `role` says what must name a file, for the error. */
static int parse_file_range(struct parser *ps, const char *role, struct scen_range *r,
			    struct rcols *rc)
{
	struct token nt = ps->tok;
	struct suggest sg = {.t = &nt};
	struct scen_loc loc;
	enum name_kind k;
	int f;

	if (nt.kind != TOK_IDENT)
		return terr(ps, &nt, "expected a file range like data[0..4K], found %s", SHOW(&nt));
	k = lookup(ps, &nt, &f, &loc);
	if (k == NK_NONE) {
		suggest_file(ps, &sg);
		return terr(ps, &nt, "unknown file %s%s", SHOW(&nt), SUGGESTION(&sg));
	}
	if (k != NK_FILE)
		return terr(ps, &nt,
			    "%s is a %s; %s must name a file (declared with 'file NAME SIZE')",
			    SHOW(&nt), kind_nouns[k], role);
	if (next(ps))
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
static int use_ref(struct parser *ps, const struct ctx *c, enum name_kind k, int idx,
		   const struct token *nt, bool end)
{
	struct pref *st = ref_state(ps, k, idx);
	const char *noun = kind_nouns[k];
	int nr;
	const struct scen_ref *ref = &ref_array(ps, k, &nr)[idx];

	if (st->ended)
		return terr(ps, nt, "%s '%s' was %s at line %d", noun, ref->name, ref_ended(k),
			    st->end_loc.line);
	if (c->thread >= 0) {
		const struct block *g = open_group(ps);
		int me = c->thread - g->group_first;

		if (st->born_group == ps->group_serial && st->born_thread != c->thread)
			return terr(ps, nt,
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
			return terr(ps, nt,
				    "thread '%s' of this group uses %s '%s': it can be %s after "
				    "'join'",
				    ps->s->threads[g->group_first + other].name, noun, ref->name,
				    ref_ended(k));
		}
		st->use_mask |= 1ULL << me;
	}
	if (end) {
		st->ended = true;
		st->end_loc = tok_loc(ps, nt);
	}
	return 0;
}

/* The pin or pipe an unpin or pipe_read names, at the current token. */
static int parse_ref_name(struct parser *ps, enum name_kind want, const char *word, int *idx)
{
	struct token nt = ps->tok;
	struct suggest sg = {.t = &nt};
	struct scen_loc loc;
	enum name_kind k;
	int nr;
	const struct scen_ref *refs = ref_array(ps, want, &nr);

	if (nt.kind != TOK_IDENT)
		return terr(ps, &nt, "expected a %s name after '%s', found %s", kind_nouns[want],
			    word, SHOW(&nt));
	k = lookup(ps, &nt, idx, &loc);
	if (k == NK_NONE) {
		suggest_ref(refs, nr, &sg);
		return terr(ps, &nt, "unknown %s %s%s", kind_nouns[want], SHOW(&nt),
			    SUGGESTION(&sg));
	}
	if (k != want)
		return terr(ps, &nt, "%s is a %s; '%s' takes a %s", SHOW(&nt), kind_nouns[k], word,
			    kind_nouns[want]);
	return 0;
}

/* -1 unless t can name a new pin or pipe. */
static int new_ref_name(struct parser *ps, enum name_kind k, const struct token *t)
{
	struct scen_loc loc;
	int idx, nr;
	const struct scen_ref *refs = ref_array(ps, k, &nr);

	if (lookup(ps, t, &idx, &loc) == k)
		return terr(ps, t, "%s '%s' already exists (line %d): every %s has its own name",
			    kind_nouns[k], refs[idx].name, loc.line, kind_nouns[k]);
	if (name_clash(ps, t))
		return -1;
	if (nr >= (k == NK_PIN ? MAX_PINS : MAX_PIPES))
		return terr(ps, t, "too many %ss: a scenario has at most %d", kind_nouns[k],
			    k == NK_PIN ? MAX_PINS : MAX_PIPES);
	return 0;
}

/* A new pin or pipe named t, made by c, holding len bytes; its index. */
static int add_ref(struct parser *ps, const struct ctx *c, enum name_kind k, const struct token *t,
		   unsigned long len)
{
	struct scenario *s = ps->s;
	struct scen_ref **arr = k == NK_PIN ? &s->pins : &s->pipes;
	int *nr = k == NK_PIN ? &s->nr_pins : &s->nr_pipes;
	int *cap = k == NK_PIN ? &ps->pins_cap : &ps->pipes_cap;
	struct pref *st;
	void *p = grow(*arr, *nr, cap, sizeof(**arr));

	if (!p)
		return nomem(ps);
	*arr = p;
	tok_copy(t, (*arr)[*nr].name, SCEN_NAME_MAX);
	(*arr)[*nr].len = len;
	(*arr)[*nr].proc = c->proc;
	st = ref_state(ps, k, *nr);
	memset(st, 0, sizeof(*st));
	st->loc = tok_loc(ps, t);
	st->born_group = c->thread >= 0 ? ps->group_serial : 0;
	st->born_thread = c->thread;
	return (*nr)++;
}

/* The RANGE of a check: a mapping's, a file's, a pin's or a pipe's. */
static int parse_check_range(struct parser *ps, const struct ctx *c, struct scen_range *r)
{
	struct token nt = ps->tok;
	struct suggest sg = {.t = &nt};
	struct scen_loc loc;
	struct rcols rc = {.name = nt.col};
	const struct scen_ref *ref;
	enum name_kind k;
	int idx, nr;

	if (nt.kind != TOK_IDENT)
		return terr(ps, &nt,
			    "expected a range like buf or buf[0..4K] after the verdict, found %s",
			    SHOW(&nt));
	k = lookup(ps, &nt, &idx, &loc);
	switch (k) {
	case NK_MAP: return parse_range(ps, c, "check", r, &rc);
	case NK_FILE: return parse_file_range(ps, "a checked range", r, &rc);
	case NK_PIN:
	case NK_PIPE:
		if (use_ref(ps, c, k, idx, &nt, false) || next(ps))
			return -1;
		ref = &ref_array(ps, k, &nr)[idx];
		r->space = k == NK_PIN ? SPACE_PIN : SPACE_PIPE;
		r->name = idx;
		r->is_file = false;
		return parse_brackets(ps, ref->name, ref->len, r, &rc);
	case NK_PROC:
		return terr(ps, &nt,
			    "%s is a process; a check reads a mapping, a file, a pin or a pipe",
			    SHOW(&nt));
	case NK_NONE: break;
	}
	suggest_map(ps, &sg);
	suggest_file(ps, &sg);
	suggest_ref(ps->s->pins, ps->s->nr_pins, &sg);
	suggest_ref(ps->s->pipes, ps->s->nr_pipes, &sg);
	return terr(ps, &nt, "unknown mapping, file, pin or pipe %s%s", SHOW(&nt), SUGGESTION(&sg));
}

/* A byte for a value or fill=: 0x00..0xff, in hex. */
static int parse_byte(struct parser *ps, unsigned char *byte)
{
	const struct token *t = &ps->tok;

	if (t->kind != TOK_NUMBER || !t->hex || t->suffix)
		return terr(ps, t, "expected a byte in hex, like 0x01, found %s", SHOW(t));
	if (t->num > 0xff)
		return terr(ps, t, "the byte %s is out of range: a byte is 0x00..0xff", SHOW(t));
	*byte = (unsigned char)t->num;
	return next(ps);
}

/* VALUE, for a range `rlen` bytes long. */
static int parse_value(struct parser *ps, struct scen_value *v, unsigned long rlen)
{
	struct token vt = ps->tok;
	struct rcols rc;

	switch (vt.kind) {
	case TOK_NUMBER: v->kind = VAL_BYTE; return parse_byte(ps, &v->byte);
	case TOK_STRING:
		if (vt.nbytes == 0)
			return terr(ps, &vt, "an empty string: a value needs at least one byte");
		if (vt.nbytes > rlen)
			return terr(ps, &vt, "the string is %zu bytes, longer than the range (%lu)",
				    vt.nbytes, rlen);
		v->kind = VAL_BYTES;
		v->bytes = alloc_hook(NULL, vt.nbytes);
		if (!v->bytes)
			return nomem(ps);
		lex_string_decode(&vt, v->bytes);
		v->nbytes = vt.nbytes;
		return next(ps);
	case TOK_IDENT:
		v->kind = VAL_FILE;
		if (parse_file_range(ps, "a range in a value", &v->file, &rc))
			return -1;
		if (v->file.len != rlen)
			return terr(ps, &vt,
				    "this file range is %lu bytes but the range is %lu: they must "
				    "be equally long",
				    v->file.len, rlen);
		return 0;
	default:
		return terr(ps, &vt,
			    "expected a value: a byte like 0x00, a string like \"text\" or a file "
			    "range like data[0..4K], found %s",
			    SHOW(&vt));
	}
}

/* ---- operations ---------------------------------------------------------- */

/* A zeroed operation at the end of the executor's sequence. */
static struct scen_op *new_op(struct parser *ps, const struct ctx *c)
{
	struct scenario *s = ps->s;
	void *p;

	if (c->thread < 0) {
		p = grow(s->ops, s->nr_ops, &ps->ops_cap, sizeof(*s->ops));
		if (!p)
			return NULL;
		s->ops = p;
		return &s->ops[s->nr_ops++];
	}
	struct scen_thread *t = &s->threads[c->thread];

	p = grow(t->ops, t->nr_ops, &ps->tops_cap, sizeof(*t->ops));
	if (!p)
		return NULL;
	t->ops = p;
	return &t->ops[t->nr_ops++];
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
		return terr(ps, t, "expected a file name after 'file=', found %s", SHOW(t));
	k = lookup(ps, t, &f, &loc);
	if (k == NK_NONE) {
		suggest_file(ps, &sg);
		return terr(ps, t, "unknown file %s%s", SHOW(t), SUGGESTION(&sg));
	}
	if (k != NK_FILE)
		return terr(ps, t,
			    "%s is a %s; file= must name a file (declared with 'file NAME SIZE')",
			    SHOW(t), kind_nouns[k]);
	file = &ps->s->files[f];
	pages = (file->size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
	if (len > pages)
		return terr(ps, st,
			    "the mapping is %lu bytes but file '%s' is %lu (%lu in whole pages): "
			    "a file is mapped up to its size rounded up to whole pages",
			    len, file->name, file->size, pages);
	if (ps->file_dio_loc[f].line)
		return terr(ps, t,
			    "file '%s' is a direct-I/O target (line %d) and mapped: cowlab's page "
			    "cache does not follow direct I/O",
			    file->name, ps->file_dio_loc[f].line);
	if (!file->mapped)
		ps->file_map_loc[f] = tok_loc(ps, t);
	file->mapped = true;
	op->map.file = f;
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

	if (expect_name(ps, "a mapping name after 'map'") || next(ps))
		return -1;
	st = ps->tok;
	if (parse_size(ps, &size, "a size like 4K or 2 pages after the mapping name"))
		return -1;
	if (size == 0)
		return terr(ps, &st, "a mapping needs a size above 0");
	if (size > MAX_MAP_SIZE)
		return terr(ps, &st, "a mapping is at most 64G (%lu bytes)", MAX_MAP_SIZE);
	len = (unsigned long)((size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE);

	idx = find_map(ps, &nt);
	if (idx >= 0) {
		const struct block *g = open_group(ps);

		if (set_has(ctx_view(ps, c), idx))
			return terr(ps, &nt,
				    "'%s' is already mapped in process '%s': a process maps a "
				    "name once (a forked child inherits its parent's mappings)",
				    s->maps[idx].name, s->procs[c->proc].name);
		for (int i = 0; c->thread >= 0 && g && i < g->group_nr; i++)
			if (s->threads[g->group_first + i].proc == c->proc &&
			    set_has(&ps->views[i], idx))
				return terr(ps, &nt,
					    "'%s' is already mapped by thread '%s' of this group",
					    s->maps[idx].name, s->threads[g->group_first + i].name);
		if (s->maps[idx].len != len)
			return terr(ps, &st,
				    "'%s' is %lu bytes where it is first mapped (line %d): every "
				    "map of one name has the same size",
				    s->maps[idx].name, s->maps[idx].len, ps->map_loc[idx].line);
	} else {
		void *p;

		if (name_clash(ps, &nt))
			return -1;
		if (s->nr_maps >= MAX_MAPS)
			return terr(ps, &nt, "too many mappings: a scenario has at most %d names",
				    MAX_MAPS);
		p = grow(s->maps, s->nr_maps, &ps->maps_cap, sizeof(*s->maps));
		if (!p)
			return nomem(ps);
		s->maps = p;
		idx = s->nr_maps++;
		tok_copy(&nt, s->maps[idx].name, SCEN_NAME_MAX);
		s->maps[idx].len = len;
		ps->map_loc[idx] = tok_loc(ps, &nt);
	}

	op->map.prot = COW_PROT_READ | COW_PROT_WRITE;
	op->map.file = -1;
	while (ps->tok.kind == TOK_IDENT) {
		const struct token *t = &ps->tok;
		static const char *const opts[] = {"rw", "ro", "none", "private", "shared", "file"};
		struct suggest sg = {.t = t};

		if (tok_is(t, "rw") || tok_is(t, "ro") || tok_is(t, "none")) {
			if (have_prot)
				return terr(ps, t, "the protection is given twice");
			have_prot = true;
			op->map.prot = tok_is(t, "rw")	 ? COW_PROT_READ | COW_PROT_WRITE
				       : tok_is(t, "ro") ? COW_PROT_READ
							 : 0;
		} else if (tok_is(t, "private") || tok_is(t, "shared")) {
			if (have_share)
				return terr(ps, t, "private or shared is given twice");
			have_share = true;
			op->map.shared = tok_is(t, "shared");
		} else if (tok_is(t, "file")) {
			if (have_file)
				return terr(ps, t, "file= is given twice: a mapping maps one file");
			have_file = true;
			if (next(ps))
				return -1;
			if (ps->tok.kind != TOK_ASSIGN)
				return terr(ps, &ps->tok, "expected '=' after 'file', found %s",
					    SHOW(&ps->tok));
			if (next(ps) || parse_map_file(ps, op, len, &st))
				return -1;
		} else {
			suggest_list(&sg, opts, ARRAY_SIZE(opts));
			return terr(
				ps, t,
				"unknown map option %s%s: expected rw, ro, none, private, shared "
				"or file=FILE",
				SHOW(t), SUGGESTION(&sg));
		}
		if (next(ps))
			return -1;
	}
	set_add(ctx_view(ps, c), idx);
	op->map.name = idx;
	op->map.len = len;
	return 0;
}

static int parse_prot(struct parser *ps, int *prot)
{
	static const char *const words[] = {"rw", "ro", "none"};
	const struct token *t = &ps->tok;
	struct suggest sg = {.t = t};

	if (tok_is(t, "rw"))
		*prot = COW_PROT_READ | COW_PROT_WRITE;
	else if (tok_is(t, "ro"))
		*prot = COW_PROT_READ;
	else if (tok_is(t, "none"))
		*prot = 0;
	else {
		if (t->kind == TOK_IDENT)
			suggest_list(&sg, words, ARRAY_SIZE(words));
		return terr(ps, t,
			    "expected a protection (rw, ro or none) after the range, found %s%s",
			    SHOW(t), SUGGESTION(&sg));
	}
	return next(ps);
}

static int parse_advice(struct parser *ps, int *advice)
{
	static const char *const words[] = {"dontneed", "dontfork", "dofork", "mergeable",
					    "unmergeable"};
	const struct token *t = &ps->tok;
	struct suggest sg = {.t = t};

	if (tok_is(t, "dontneed"))
		*advice = COW_MADV_DONTNEED;
	else if (tok_is(t, "dontfork"))
		*advice = COW_MADV_DONTFORK;
	else if (tok_is(t, "dofork"))
		*advice = COW_MADV_DOFORK;
	else if (tok_is(t, "pageout"))
		return terr(ps, t, "'madvise pageout' is spelled 'swapout RANGE' in scenarios");
	else if (tok_is(t, "mergeable"))
		*advice = COW_MADV_MERGEABLE;
	else if (tok_is(t, "unmergeable"))
		*advice = COW_MADV_UNMERGEABLE;
	else {
		if (t->kind == TOK_IDENT)
			suggest_list(&sg, words, ARRAY_SIZE(words));
		return terr(ps, t,
			    "expected an advice (dontneed, dontfork, dofork, mergeable or "
			    "unmergeable) after the range, found %s%s",
			    SHOW(t), SUGGESTION(&sg));
	}
	return next(ps);
}

/* The page states a check or a require tests (scen_cmp_is_page). */
static const char *const page_words[] = {"exclusive", "shared", "present", "swapped", "merged"};
static const enum scen_cmp page_cmps[] = {CMP_EXCLUSIVE, CMP_SHARED, CMP_PRESENT, CMP_SWAPPED,
					  CMP_MERGED};

static int page_word(const struct token *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(page_words); i++)
		if (tok_is(t, page_words[i]))
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
		return terr(ps, t, "'%.*s' checks a mapping's pages: a %s is not mapped",
			    (int)t->len, t->p,
			    r->space == SPACE_FILE  ? "file"
			    : r->space == SPACE_PIN ? "pin"
						    : "pipe");
	*cmp = (enum scen_cmp)w;
	return next(ps);
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
		void *p = grow(vals, nr_alts, &cap, sizeof(*vals) * (size_t)nr_ranges);

		if (!p) {
			nomem(ps);
			goto out_free;
		}
		vals = p;
		nr_alts++;
		for (int i = 0; i < nr_ranges; i++) {
			if (i > 0) {
				if (ps->tok.kind != TOK_COMMA) {
					terr(ps, &ps->tok,
					     "expected ',' and a value for range %d of %d, found "
					     "%s: each alternative gives one value per range",
					     i + 1, nr_ranges, SHOW(&ps->tok));
					goto out_free;
				}
				if (next(ps))
					goto out_free;
			}
			if (parse_value(ps, &vals[(nr_alts - 1) * nr_ranges + i], ranges[i].len))
				goto out_free;
		}
		if (ps->tok.kind == TOK_COMMA) {
			terr(ps, &ps->tok,
			     "a value too many: the check compares %d range%s, one value each",
			     nr_ranges, nr_ranges > 1 ? "s" : "");
			goto out_free;
		}
		if (ps->tok.kind != TOK_BAR)
			break;
		if (ne) {
			terr(ps, &ps->tok, "'!=' takes one value: alternatives ('|') go with '=='");
			goto out_free;
		}
		if (nr_alts >= SCEN_MAX_ALTS) {
			terr(ps, &ps->tok, "a check has at most %d alternatives", SCEN_MAX_ALTS);
			goto out_free;
		}
		if (next(ps))
			goto out_free;
	}
	if (nr_alts == 1 && nr_ranges == 1) {
		op->check.value = vals[0];
		free(vals);
		return 0;
	}
	op->check.ranges = alloc_hook(NULL, sizeof(*ranges) * (size_t)nr_ranges);
	if (!op->check.ranges) {
		nomem(ps);
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

	for (size_t i = 0; i < ARRAY_SIZE(verdict_names); i++) {
		if (tok_is(t, verdict_names[i])) {
			op->check.verdict = (enum scen_verdict)i;
			found = true;
		}
	}
	if (!found) {
		if (t->kind == TOK_IDENT)
			suggest_list(&sg, verdict_names, ARRAY_SIZE(verdict_names));
		return terr(ps, t,
			    "expected a verdict (corrupt, leak, desync or overwrite) after "
			    "'check', found %s%s",
			    SHOW(t), SUGGESTION(&sg));
	}
	if (next(ps) || parse_check_range(ps, c, &op->check.range))
		return -1;
	ps->s->nr_checks++;
	op->check.nr_ranges = 1;
	op->check.nr_alts = 1;
	ranges[0] = op->check.range;
	if (tok_is(t, "faults")) {
		if (op->check.range.space != SPACE_MAP)
			return terr(ps, t,
				    "'faults' checks a mapping: a %s is not mapped, it cannot "
				    "fault",
				    op->check.range.space == SPACE_FILE	 ? "file"
				    : op->check.range.space == SPACE_PIN ? "pin"
									 : "pipe");
		op->check.cmp = CMP_FAULTS;
		return next(ps);
	}
	if (page_word(t) >= 0)
		return parse_page_state(ps, &op->check.range, &op->check.cmp);
	while (t->kind == TOK_COMMA) {
		if (nr >= SCEN_MAX_TUPLE)
			return terr(ps, t, "a check compares at most %d ranges", SCEN_MAX_TUPLE);
		if (next(ps) || parse_check_range(ps, c, &ranges[nr]))
			return -1;
		nr++;
	}
	if (t->kind != TOK_EQ && t->kind != TOK_NE)
		return terr(
			ps, t,
			nr > 1 ? "expected '==' or ',' after the ranges, found %s"
			       : "expected '==', '!=', ',', 'faults' or a page state (exclusive, "
				 "shared, present, swapped, merged) after the range, found %s",
			SHOW(t));
	op->check.cmp = t->kind == TOK_EQ ? CMP_EQ : CMP_NE;
	if (nr > 1 && op->check.cmp == CMP_NE)
		return terr(ps, t, "'!=' compares one range: several ranges go with '=='");
	if (next(ps))
		return -1;
	op->check.nr_ranges = nr;
	return parse_check_values(ps, op, ranges, nr);
}

/* require RANGE PAGES: a mapping's range and a page state. */
static int parse_require(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct rcols rc = {0};
	const struct token *t = &ps->tok;

	if (parse_range(ps, c, "require", &op->check.range, &rc))
		return -1;
	op->check.nr_ranges = 1;
	op->check.nr_alts = 1;
	if (page_word(t) < 0)
		return terr(ps, t,
			    "expected a page state after the range (exclusive, shared, present, "
			    "swapped or merged), found %s",
			    SHOW(t));
	return parse_page_state(ps, &op->check.range, &op->check.cmp);
}

static int parse_fork(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct token nt = ps->tok;
	struct mapset view;
	int child;

	if (expect_name(ps, "the child's name after 'fork'"))
		return -1;
	child = find_proc(ps, &nt);
	if (child >= 0)
		return terr(ps, &nt, "process '%s' already exists (line %d): fork makes a new one",
			    ps->s->procs[child].name, ps->s->procs[child].loc.line);
	if (name_clash(ps, &nt))
		return -1;
	view = *ctx_view(ps, c); /* add_proc may move ps->pp */
	child = add_proc(ps, &nt);
	if (child < 0)
		return -1;
	ps->pp[child].mapped = view;
	if (c->thread >= 0)
		ps->pp[child].born_group = ps->group_serial;
	op->fork.child = child;
	return next(ps);
}

static int expect_arrow(struct parser *ps, const char *what)
{
	if (ps->tok.kind != TOK_ARROW)
		return terr(ps, &ps->tok, "expected '->' after %s, found %s", what, SHOW(&ps->tok));
	return next(ps);
}

static int dio_misaligned(struct parser *ps, int col, const char *what, unsigned long v)
{
	return lerr(ps, (struct scen_loc){ps->lx.lineno, col},
		    "direct I/O needs 512-byte alignment: the %s %lu is not a multiple of 512",
		    what, v);
}

/* N10: file f, named at column col of a direct I/O, is mapped nowhere. */
static int dio_file_unmapped(struct parser *ps, int f, int col)
{
	const struct scen_file *file = &ps->s->files[f];

	if (file->mapped)
		return lerr(ps, (struct scen_loc){ps->lx.lineno, col},
			    "file '%s' is mapped (line %d) and a direct-I/O target: cowlab's page "
			    "cache does not follow direct I/O",
			    file->name, ps->file_map_loc[f].line);
	if (!ps->file_dio_loc[f].line)
		ps->file_dio_loc[f] = (struct scen_loc){ps->lx.lineno, col};
	return 0;
}

/* dio_read FRANGE -> RANGE, dio_write RANGE -> FRANGE (N8, N10). */
static int parse_dio(struct parser *ps, const struct ctx *c, struct scen_op *op, bool is_read)
{
	const char *word = is_read ? "dio_read" : "dio_write";
	struct rcols fc, mc;
	const struct rcols *first = is_read ? &fc : &mc, *second = is_read ? &mc : &fc;

	if (is_read) {
		if (parse_file_range(ps, "the range before '->'", &op->dio.file, &fc) ||
		    expect_arrow(ps, "the file range") ||
		    parse_range(ps, c, word, &op->dio.mem, &mc))
			return -1;
	} else {
		if (parse_range(ps, c, word, &op->dio.mem, &mc) ||
		    expect_arrow(ps, "the memory range") ||
		    parse_file_range(ps, "the range after '->'", &op->dio.file, &fc))
			return -1;
	}
	if (dio_file_unmapped(ps, op->dio.file.name, fc.name))
		return -1;
	if (op->dio.file.len != op->dio.mem.len)
		return lerr(ps, (struct scen_loc){ps->lx.lineno, second->name},
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

	if (expect_name(ps, "a pin name after 'pin'") || new_ref_name(ps, NK_PIN, &nt) ||
	    next(ps) || parse_range(ps, c, "pin", &op->pin.mem, &rc))
		return -1;
	if (op->pin.mem.off % PAGE_SIZE)
		return lerr(ps, (struct scen_loc){ps->lx.lineno, rc.off},
			    "pin needs a page-aligned offset: %lu is not a multiple of 4K",
			    op->pin.mem.off);
	while (ps->tok.kind == TOK_IDENT) {
		static const char *const opts[] = {"ro", "fast"};
		const struct token *t = &ps->tok;
		struct suggest sg = {.t = t};

		if (tok_is(t, "ro") || tok_is(t, "fast")) {
			bool *have = tok_is(t, "ro") ? &have_ro : &have_fast;

			if (*have)
				return terr(ps, t, "%s is given twice", SHOW(t));
			*have = true;
		} else {
			suggest_list(&sg, opts, ARRAY_SIZE(opts));
			return terr(ps, t, "unknown pin option %s%s: expected ro or fast", SHOW(t),
				    SUGGESTION(&sg));
		}
		if (next(ps))
			return -1;
	}
	idx = add_ref(ps, c, NK_PIN, &nt, op->pin.mem.len);
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

	if (parse_ref_name(ps, NK_PIN, "unpin", &idx))
		return -1;
	if (ps->s->pins[idx].proc != c->proc)
		return terr(ps, &nt,
			    "pin '%s' is held by process '%s' (line %d): only that process can "
			    "unpin it",
			    ps->s->pins[idx].name, ps->s->procs[ps->s->pins[idx].proc].name,
			    ps->pin_st[idx].loc.line);
	if (use_ref(ps, c, NK_PIN, idx, &nt, true))
		return -1;
	op->unpin.pin = idx;
	return next(ps);
}

/* vmsplice RANGE -> PIPE */
static int parse_vmsplice(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct token nt;
	struct rcols rc;
	int idx;

	if (parse_range(ps, c, "vmsplice", &op->splice.mem, &rc) || expect_arrow(ps, "the range"))
		return -1;
	nt = ps->tok;
	if (expect_name(ps, "a new pipe's name after '->'") || new_ref_name(ps, NK_PIPE, &nt))
		return -1;
	idx = add_ref(ps, c, NK_PIPE, &nt, op->splice.mem.len);
	if (idx < 0)
		return -1;
	op->splice.pipe = idx;
	return next(ps);
}

/* pipe_read PIPE -> RANGE: any process may read a pipe, once, whole. */
static int parse_pipe_read(struct parser *ps, const struct ctx *c, struct scen_op *op)
{
	struct token nt = ps->tok;
	struct rcols rc;
	int idx;

	if (parse_ref_name(ps, NK_PIPE, "pipe_read", &idx) ||
	    use_ref(ps, c, NK_PIPE, idx, &nt, true) || next(ps) ||
	    expect_arrow(ps, "the pipe's name") ||
	    parse_range(ps, c, "pipe_read", &op->splice.mem, &rc))
		return -1;
	if (op->splice.mem.len != ps->s->pipes[idx].len)
		return lerr(ps, (struct scen_loc){ps->lx.lineno, rc.name},
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
		return terr(ps, t, "expected a count after %s, like 'repeat 100', found %s", what,
			    SHOW(t));
	if (t->num < 1 || t->num > SCEN_MAX_REPEAT)
		return terr(ps, t, "repeat %.*s: the count is 1 to %lu", (int)t->len, t->p,
			    SCEN_MAX_REPEAT);
	*count = (unsigned long)t->num;
	return next(ps);
}

/* repeat N [host=M], at N: the model's count and the host's. */
static int parse_repeat(struct parser *ps, struct scen_op *op)
{
	if (parse_count(ps, &op->repeat.count, "'repeat'"))
		return -1;
	op->repeat.host_count = op->repeat.count;
	if (!tok_is(&ps->tok, "host"))
		return 0;
	if (next(ps))
		return -1;
	if (ps->tok.kind != TOK_ASSIGN)
		return terr(ps, &ps->tok, "expected '=' after 'host', found %s", SHOW(&ps->tok));
	if (next(ps))
		return -1;
	return parse_count(ps, &op->repeat.host_count, "'host='");
}

/* What a repeat's or a fork's body cannot hold, at the word kw: what
 * would be made twice (a pin, a pipe, a mapping, the process's exit), or
 * lives beyond one pass (direct I/O, a process forked without a body, a
 * thread group, which statement() refuses). */
static int body_forbids(struct parser *ps, const struct ctx *c, enum op_word w,
			const struct token *kw)
{
	const char *where = c->loop ? "inside repeat" : "in a fork's body";

	if (!c->loop && !c->child)
		return 0;
	switch (w) {
	case W_DIO_READ:
	case W_DIO_WRITE:
	case W_PIN:
	case W_UNPIN:
	case W_VMSPLICE:
	case W_PIPE_READ:
		return terr(ps, kw,
			    "'%s' is not allowed %s: direct I/O, pins and pipes are made once, "
			    "by a process block or a thread",
			    op_words[w], where);
	case W_MAP:
	case W_MUNMAP:
	case W_EXIT:
		if (c->loop)
			return terr(ps, kw,
				    "'%s' is not allowed inside repeat: it would run again on "
				    "each pass (a fork's body inside repeat may map and exit: "
				    "each pass makes a fresh child)",
				    op_words[w]);
		return 0;
	default: return 0;
	}
}

static int *seq_len(struct parser *ps, int thread)
{
	return thread < 0 ? &ps->s->nr_ops : &ps->s->threads[thread].nr_ops;
}

static struct scen_op *seq_op(struct parser *ps, int thread, int idx)
{
	return thread < 0 ? &ps->s->ops[idx] : &ps->s->threads[thread].ops[idx];
}

static int push_block(struct parser *ps, enum blk_kind kind, int proc, int thread);

/* After a repeat or a fork line in c: a block for the body below it. */
static int open_body(struct parser *ps, const struct ctx *c, enum blk_kind kind)
{
	int idx = *seq_len(ps, c->thread) - 1;
	struct scen_op *op = seq_op(ps, c->thread, idx);
	struct block *b;

	if (ps->depth + 1 >= MAX_DEPTH)
		return lerr(ps, op->loc, "blocks nest at most %d deep here", MAX_DEPTH - 1);
	push_block(ps, kind, kind == BLK_FORK ? op->fork.child : c->proc, c->thread);
	b = &ps->stack[ps->depth];
	b->op_index = idx;
	b->child = kind == BLK_FORK || c->child;
	b->loop = kind == BLK_REPEAT; /* a fork's child starts a fresh scope */
	b->any_loop = kind == BLK_REPEAT || c->any_loop;
	return 0;
}

/* The end of a repeat's or a fork's body (block b, at its depth). */
static int close_body(struct parser *ps, const struct block *b)
{
	int nr = *seq_len(ps, b->thread) - b->op_index - 1;
	struct scen_op *op = seq_op(ps, b->thread, b->op_index);

	if (b->kind == BLK_REPEAT) {
		if (nr == 0)
			return lerr(ps, op->loc, "repeat has no operations: indent them under it");
		op->repeat.nr = nr;
		return 0;
	}
	if (nr == 0 && b->any_loop)
		return lerr(ps, op->loc,
			    "a fork inside repeat needs a body: indent the child's operations "
			    "under it (each pass forks a fresh child, which runs them and "
			    "exits)");
	op->fork.nr = nr;
	if (nr > 0 && !ps->pp[b->proc].exited) {
		ps->pp[b->proc].exited = true; /* at the end of its body */
		ps->pp[b->proc].exit_loc = op->loc;
	}
	return 0;
}

/* The operation at the current token, executed by c; the word is known to
 * be one of op_words[]. */
static int parse_op(struct parser *ps, const struct ctx *c)
{
	struct token kw = ps->tok;
	enum op_word w = op_word(&kw);
	struct scen_range *r = NULL;
	struct scen_op *op;
	char after[32];
	struct rcols rc = {0};

	if (w == W_EXIT && c->thread >= 0 && !c->child)
		return terr(ps, &kw, "exit is not allowed in a thread; put it after join");
	if (body_forbids(ps, c, w, &kw))
		return -1;
	if (w == W_REPEAT && c->oneline)
		return terr(ps, &kw,
			    "repeat opens a block: write 'thread NAME' on a line of its own and "
			    "the repeat indented under it");
	op = new_op(ps, c);
	if (!op)
		return nomem(ps);
	op->loc = tok_loc(ps, &kw);
	op->proc = c->proc;
	if (next(ps))
		return -1;
	switch (w) {
	case W_MAP:
		op->kind = OP_MAP;
		if (parse_map(ps, c, op))
			return -1;
		break;
	case W_WRITE:
	case W_POKE: /* a forced write (/proc/PID/mem): a write's range and value */
		op->kind = w == W_WRITE ? OP_WRITE : OP_POKE;
		if (parse_range(ps, c, op_words[w], &op->write.range, &rc) ||
		    parse_value(ps, &op->write.value, op->write.range.len))
			return -1;
		break;
	case W_READ:
		op->kind = OP_READ;
		if (parse_range(ps, c, "read", &op->read.range, &rc))
			return -1;
		break;
	case W_CHECK:
		op->kind = OP_CHECK;
		if (parse_check(ps, c, op))
			return -1;
		break;
	case W_FORK:
		op->kind = OP_FORK;
		if (parse_fork(ps, c, op))
			return -1;
		break;
	case W_REQUIRE:
		op->kind = OP_REQUIRE;
		if (parse_require(ps, c, op))
			return -1;
		break;
	case W_REPEAT:
		op->kind = OP_REPEAT;
		if (parse_repeat(ps, op))
			return -1;
		break;
	case W_EXIT:
		op->kind = OP_EXIT;
		ps->pp[c->proc].exited = true;
		ps->pp[c->proc].exit_loc = op->loc;
		break;
	case W_MUNMAP:
		op->kind = OP_MUNMAP;
		r = &op->munmap.range;
		if (parse_range(ps, c, "munmap", r, &rc))
			return -1;
		break;
	case W_MPROTECT:
		op->kind = OP_MPROTECT;
		r = &op->mprotect.range;
		if (parse_range(ps, c, "mprotect", r, &rc) || parse_prot(ps, &op->mprotect.prot))
			return -1;
		break;
	case W_MADVISE:
		op->kind = OP_MADVISE;
		r = &op->madvise.range;
		if (parse_range(ps, c, "madvise", r, &rc) || parse_advice(ps, &op->madvise.advice))
			return -1;
		break;
	case W_SWAPOUT:
	case W_UFFD_CONTINUE:
		op->kind = w == W_SWAPOUT ? OP_SWAPOUT : OP_UFFD_CONTINUE;
		r = &op->swapout.range;
		if (parse_range(ps, c, op_words[w], r, &rc))
			return -1;
		break;
	case W_CLEAR_REFS:
		/* echo 4 > /proc/PID/clear_refs: the whole address space. */
		op->kind = OP_CLEAR_REFS;
		if (expect_eol(ps, "'clear_refs'"))
			return -1;
		break;
	case W_KSM_MERGE:
		/* One ksmd pass over every process's mergeable memory. */
		op->kind = OP_KSM_MERGE;
		if (expect_eol(ps, "'ksm_merge'"))
			return -1;
		break;
	case W_DIO_READ:
	case W_DIO_WRITE:
		op->kind = w == W_DIO_READ ? OP_DIO_READ : OP_DIO_WRITE;
		if (parse_dio(ps, c, op, w == W_DIO_READ))
			return -1;
		break;
	case W_WAIT: op->kind = OP_WAIT; break;
	case W_PIN:
		op->kind = OP_PIN;
		if (parse_pin(ps, c, op))
			return -1;
		break;
	case W_UNPIN:
		op->kind = OP_UNPIN;
		if (parse_unpin(ps, c, op))
			return -1;
		break;
	case W_VMSPLICE:
		op->kind = OP_VMSPLICE;
		if (parse_vmsplice(ps, c, op))
			return -1;
		break;
	case W_PIPE_READ:
		op->kind = OP_PIPE_READ;
		if (parse_pipe_read(ps, c, op))
			return -1;
		break;
	case W_NONE: COW_ASSERT(!"parse_op without an operation word"); return -1;
	}
	/* munmap, mprotect, madvise, swapout (MADV_PAGEOUT) and
	 * uffd_continue take a page-aligned address, as the system calls do;
	 * the length is rounded up. */
	if (r && r->off % PAGE_SIZE)
		return lerr(ps, (struct scen_loc){ps->lx.lineno, rc.off},
			    "%s needs a page-aligned offset: %lu is not a multiple of 4K",
			    op_words[w], r->off);
	snprintf(after, sizeof(after), "the '%s' operation", op_words[w]);
	if (expect_eol(ps, after))
		return -1;
	if (w == W_REPEAT || (w == W_FORK && !c->oneline))
		return open_body(ps, c, w == W_REPEAT ? BLK_REPEAT : BLK_FORK);
	return 0;
}

/* ---- statements ------------------------------------------------------------ */

/* An operation where one may stand, in c (a process block, a thread body,
 * a one-line thread): everything else gets a fitting error. */
static int op_statement(struct parser *ps, const struct ctx *c)
{
	const struct token *t = &ps->tok;
	struct suggest sg = {.t = t};

	if (t->kind != TOK_IDENT)
		return terr(ps, t, "expected an operation like 'write buf 0x01', found %s",
			    SHOW(t));
	if (op_word(t) != W_NONE)
		return parse_op(ps, c);
	if (tok_is(t, "thread") && c->thread >= 0)
		return terr(ps, t, "threads cannot nest: a thread holds operations only");
	if (tok_is(t, "join") && c->thread >= 0)
		return terr(ps, t, "'join' must line up with the 'thread' lines it closes");
	for (size_t i = 0; i < ARRAY_SIZE(top_words); i++)
		if (tok_is(t, top_words[i]))
			return terr(ps, t,
				    "%s is only allowed at top level, not indented under "
				    "a process or thread",
				    SHOW(t));
	suggest_list(&sg, op_words, ARRAY_SIZE(op_words));
	if (c->thread < 0) {
		suggest_try(&sg, "thread");
		suggest_try(&sg, "join");
	}
	return terr(ps, t, "unknown operation %s%s", SHOW(t), SUGGESTION(&sg));
}

static int push_block(struct parser *ps, enum blk_kind kind, int proc, int thread)
{
	struct block *b;

	COW_ASSERT(ps->depth + 1 < MAX_DEPTH);
	b = &ps->stack[++ps->depth];
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->opener_indent = ps->lx.indent;
	b->prev_indent = -1;
	b->proc = proc;
	b->thread = thread;
	return 0;
}

/* thread TNAME [in PROC] [OP ...], in block b (the top level or a
 * process block). */
static int parse_thread(struct parser *ps, struct block *b)
{
	struct scenario *s = ps->s;
	struct token kw = ps->tok, nt;
	struct scen_thread *t;
	struct ctx c = {0};
	void *p;
	int proc;

	if (!b->group) {
		b->group = true;
		b->group_first = s->nr_threads;
		b->group_nr = 0;
		b->group_loc = tok_loc(ps, &kw);
		ps->group_serial++;
	}
	if (b->group_nr >= MAX_GROUP)
		return terr(ps, &kw, "a thread group has at most %d threads", MAX_GROUP);
	if (next(ps))
		return -1;
	nt = ps->tok;
	if (expect_name(ps, "a thread name after 'thread'"))
		return -1;
	for (int i = 0; i < b->group_nr; i++)
		if (name_is(s->threads[b->group_first + i].name, &nt))
			return terr(ps, &nt, "thread '%s' already exists in this group (line %d)",
				    s->threads[b->group_first + i].name,
				    s->threads[b->group_first + i].loc.line);
	if (next(ps))
		return -1;
	if (b->kind == BLK_TOP) {
		struct token pt;
		struct suggest sg = {.t = &pt};

		if (!tok_is(&ps->tok, "in"))
			return terr(ps, &ps->tok,
				    "expected 'in PROCESS' after the thread name, found %s: a "
				    "top-level thread names its process, as in 'thread %.*s in P'",
				    SHOW(&ps->tok), (int)nt.len, nt.p);
		if (next(ps))
			return -1;
		pt = ps->tok;
		if (pt.kind != TOK_IDENT)
			return terr(ps, &pt, "expected a process name after 'in', found %s",
				    SHOW(&pt));
		proc = find_proc(ps, &pt);
		if (proc < 0) {
			suggest_proc(ps, &sg);
			return terr(ps, &pt, "unknown process %s%s", SHOW(&pt), SUGGESTION(&sg));
		}
		if (ps->pp[proc].exited)
			return terr(ps, &pt, "process '%s' exited at line %d", s->procs[proc].name,
				    ps->pp[proc].exit_loc.line);
		if (ps->pp[proc].born_group == ps->group_serial)
			return terr(ps, &pt,
				    "process '%s' is forked in this thread group (line %d): its "
				    "threads can start after 'join'",
				    s->procs[proc].name, s->procs[proc].loc.line);
		if (next(ps))
			return -1;
	} else {
		if (tok_is(&ps->tok, "in"))
			return terr(ps, &ps->tok,
				    "'in PROCESS' is for top-level threads; this thread belongs to "
				    "process '%s'",
				    s->procs[b->proc].name);
		proc = b->proc;
	}
	ps->seen_process = true;

	p = grow(s->threads, s->nr_threads, &ps->threads_cap, sizeof(*s->threads));
	if (!p)
		return nomem(ps);
	s->threads = p;
	t = &s->threads[s->nr_threads];
	tok_copy(&nt, t->name, SCEN_NAME_MAX);
	t->loc = tok_loc(ps, &kw);
	t->proc = proc;
	c.proc = proc;
	c.thread = s->nr_threads++;
	ps->tops_cap = 0;
	ps->views[b->group_nr++] = ps->pp[proc].mapped;

	if (ps->tok.kind == TOK_EOL)
		return push_block(ps, BLK_THREAD, proc, c.thread);
	/* A one-line thread. */
	c.oneline = true;
	return op_statement(ps, &c);
}

static int parse_join(struct parser *ps, struct block *b)
{
	struct scenario *s = ps->s;
	struct token kw = ps->tok;
	struct scen_op *op;
	struct ctx c = {0};

	if (!b->group)
		return terr(ps, &kw,
			    "'join' without threads: it closes a group of 'thread' "
			    "lines at the same level");
	if (next(ps) || expect_eol(ps, "'join'"))
		return -1;
	for (int i = 0; i < b->group_nr; i++)
		for (size_t w = 0; w < ARRAY_SIZE(ps->views[i].w); w++)
			ps->pp[s->threads[b->group_first + i].proc].mapped.w[w] |=
				ps->views[i].w[w];
	c.proc = b->kind == BLK_PROC ? b->proc : s->threads[b->group_first].proc;
	c.thread = -1;
	op = new_op(ps, &c);
	if (!op)
		return nomem(ps);
	op->kind = OP_GROUP;
	op->loc = b->group_loc;
	op->proc = c.proc;
	op->group.first = b->group_first;
	op->group.nr = b->group_nr;
	if (b->group_nr > s->max_group)
		s->max_group = b->group_nr;
	b->group = false;
	return 0;
}

static int parse_system(struct parser *ps)
{
	struct scenario *s = ps->s;
	struct token kw = ps->tok;
	bool have_frames = false, have_swap = false, have_cpus = false, have_zp = false;

	if (ps->have_system)
		return terr(ps, &kw, "a second 'system' line: the first is at line %d",
			    ps->system_loc.line);
	if (ps->seen_process)
		return terr(ps, &kw, "'system' must come before the first process or thread");
	ps->have_system = true;
	ps->system_loc = tok_loc(ps, &kw);
	if (next(ps))
		return -1;
	while (ps->tok.kind != TOK_EOL) {
		static const char *const keys[] = {"frames", "swap", "cpus", "zero_page"};
		struct token key = ps->tok, vt;
		struct suggest sg = {.t = &key};
		bool *seen;

		if (key.kind != TOK_IDENT)
			return terr(ps, &key, "expected a setting like cpus=4, found %s",
				    SHOW(&key));
		if (tok_is(&key, "frames"))
			seen = &have_frames;
		else if (tok_is(&key, "swap"))
			seen = &have_swap;
		else if (tok_is(&key, "cpus"))
			seen = &have_cpus;
		else if (tok_is(&key, "zero_page"))
			seen = &have_zp;
		else {
			suggest_list(&sg, keys, ARRAY_SIZE(keys));
			return terr(ps, &key,
				    "unknown system setting %s%s: expected frames=, swap=, cpus= "
				    "or zero_page=",
				    SHOW(&key), SUGGESTION(&sg));
		}
		if (*seen)
			return terr(ps, &key, "%s is given twice", SHOW(&key));
		*seen = true;
		if (next(ps))
			return -1;
		if (ps->tok.kind != TOK_ASSIGN)
			return terr(ps, &ps->tok, "expected '=' after %s, found %s", SHOW(&key),
				    SHOW(&ps->tok));
		if (next(ps))
			return -1;
		vt = ps->tok;
		if (seen == &have_zp) {
			if (!tok_is(&vt, "on") && !tok_is(&vt, "off"))
				return terr(ps, &vt,
					    "expected on or off after 'zero_page=', found %s",
					    SHOW(&vt));
			s->zero_page = tok_is(&vt, "on");
		} else if (seen == &have_frames) {
			if (vt.kind != TOK_NUMBER || vt.num < 1 || vt.num > MAX_FRAMES)
				return terr(ps, &vt,
					    "expected a frame count from 1 to 16M after 'frames=', "
					    "found %s",
					    SHOW(&vt));
			s->frames = (unsigned long)vt.num;
		} else if (seen == &have_swap) {
			if (vt.kind != TOK_NUMBER || vt.num < 1 || vt.num > MAX_FRAMES)
				return terr(
					ps, &vt,
					"expected a swap slot count from 1 to 16M after 'swap=', "
					"found %s",
					SHOW(&vt));
			s->swap_slots = (unsigned long)vt.num;
		} else {
			if (vt.kind != TOK_NUMBER || vt.num < 1 || vt.num > MAX_CPUS)
				return terr(
					ps, &vt,
					"expected a CPU count from 1 to %d after 'cpus=', found "
					"%s",
					MAX_CPUS, SHOW(&vt));
			s->cpus = (int)vt.num;
		}
		if (next(ps))
			return -1;
	}
	return 0;
}

static int parse_policy(struct parser *ps)
{
	struct token kw = ps->tok;

	if (ps->have_policy)
		return terr(ps, &kw, "a second 'policy' line: the first is at line %d",
			    ps->policy_loc.line);
	if (ps->seen_process)
		return terr(ps, &kw, "'policy' must come before the first process or thread");
	ps->have_policy = true;
	ps->policy_loc = tok_loc(ps, &kw);
	if (next(ps))
		return -1;
	if (ps->tok.kind != TOK_IDENT)
		return terr(ps, &ps->tok, "expected a policy name like linux-6.5, found %s",
			    SHOW(&ps->tok));
	tok_copy(&ps->tok, ps->s->policy, sizeof(ps->s->policy));
	/* Checked here, as expect lines are, so that the message points at
	 * the name rather than coming from the run without a position. */
	if (!cow_policy_find(ps->s->policy)) {
		struct suggest sg = {.t = &ps->tok};

		for (int i = 0; i < cow_policy_count(); i++)
			suggest_try(&sg, cow_policy_name(cow_policy_at(i)));
		return terr(ps, &ps->tok, "unknown policy '%s'%s (cowlab policies lists them)",
			    ps->s->policy, SUGGESTION(&sg));
	}
	if (next(ps))
		return -1;
	return expect_eol(ps, "the policy name");
}

static int find_expect(const struct scenario *s, const char *preset)
{
	for (int i = 0; i < s->nr_expects; i++)
		if (strcmp(s->expects[i].preset, preset) == 0)
			return i;
	return -1;
}

/* expect VERDICT PRESET [PRESET...]: what history documents for this
 * scenario under each preset.  A preset must exist and be named once in
 * all the expect lines, so that the matrix has one expectation a cell. */
static int parse_expect(struct parser *ps)
{
	struct scenario *s = ps->s;
	struct token kw = ps->tok, vt;
	struct suggest sg = {.t = &ps->tok};
	int verdict = -1;

	if (ps->seen_process)
		return terr(ps, &kw, "'expect' must come before the first process or thread");
	if (next(ps))
		return -1;
	vt = ps->tok;
	for (size_t i = 0; i < ARRAY_SIZE(expect_verdicts); i++)
		if (tok_is(&vt, expect_verdicts[i]))
			verdict = (int)i;
	if (verdict < 0) {
		if (vt.kind == TOK_IDENT)
			suggest_list(&sg, expect_verdicts, ARRAY_SIZE(expect_verdicts));
		return terr(ps, &vt,
			    "expected a verdict after 'expect' (pass, corrupt, leak, desync, "
			    "overwrite, crash or error), found %s%s",
			    SHOW(&vt), SUGGESTION(&sg));
	}
	if (next(ps))
		return -1;
	if (ps->tok.kind == TOK_EOL)
		return terr(ps, &ps->tok,
			    "expected a preset name like linux-6.5 after 'expect %s' (see 'cowlab "
			    "policies'), found the end of the line",
			    expect_verdicts[verdict]);
	while (ps->tok.kind != TOK_EOL) {
		const struct token *t = &ps->tok;
		char name[SCEN_NAME_MAX];
		struct scen_expect *e;
		void *p;
		int dup;

		if (t->kind != TOK_IDENT)
			return terr(ps, t, "expected a preset name like linux-6.5, found %s",
				    SHOW(t));
		tok_copy(t, name, sizeof(name));
		if (!cow_policy_find(name)) {
			sg = (struct suggest){.t = t};
			for (int i = 0; i < cow_policy_count(); i++)
				suggest_try(&sg, cow_policy_name(cow_policy_at(i)));
			return terr(ps, t, "unknown preset %s%s (see 'cowlab policies')", SHOW(t),
				    SUGGESTION(&sg));
		}
		dup = find_expect(s, name);
		if (dup >= 0)
			return terr(ps, t, "a second expectation for '%s': the first is at line %d",
				    name, s->expects[dup].loc.line);
		p = grow(s->expects, s->nr_expects, &ps->expects_cap, sizeof(*s->expects));
		if (!p)
			return nomem(ps);
		s->expects = p;
		e = &s->expects[s->nr_expects++];
		snprintf(e->preset, sizeof(e->preset), "%s", name);
		snprintf(e->verdict, sizeof(e->verdict), "%s", expect_verdicts[verdict]);
		e->loc = tok_loc(ps, t);
		if (next(ps))
			return -1;
	}
	return 0;
}

static int parse_file(struct parser *ps)
{
	struct scenario *s = ps->s;
	struct token nt, st;
	struct scen_file *f;
	unsigned long long size;
	void *p;
	int idx;

	if (next(ps))
		return -1;
	nt = ps->tok;
	if (expect_name(ps, "a file name after 'file'"))
		return -1;
	idx = find_file(ps, &nt);
	if (idx >= 0)
		return terr(ps, &nt, "file '%s' is already declared at line %d", s->files[idx].name,
			    ps->file_loc[idx].line);
	if (name_clash(ps, &nt))
		return -1;
	if (s->nr_files >= MAX_FILES)
		return terr(ps, &nt, "too many files: a scenario has at most %d", MAX_FILES);
	if (next(ps))
		return -1;
	st = ps->tok;
	if (parse_size(ps, &size, "a size like 8K or 2 pages after the file name"))
		return -1;
	if (size == 0)
		return terr(ps, &st, "a file needs a size above 0");
	if (size > MAX_FILE_SIZE)
		return terr(ps, &st, "a file is at most 64M (%lu bytes)", MAX_FILE_SIZE);
	p = grow(s->files, s->nr_files, &ps->files_cap, sizeof(*s->files));
	if (!p)
		return nomem(ps);
	s->files = p;
	idx = s->nr_files++;
	f = &s->files[idx];
	tok_copy(&nt, f->name, SCEN_NAME_MAX);
	f->size = (unsigned long)size;
	ps->file_loc[idx] = tok_loc(ps, &nt);
	if (tok_is(&ps->tok, "fill")) {
		if (next(ps))
			return -1;
		if (ps->tok.kind != TOK_ASSIGN)
			return terr(ps, &ps->tok, "expected '=' after 'fill', found %s",
				    SHOW(&ps->tok));
		if (next(ps) || parse_byte(ps, &s->files[idx].fill))
			return -1;
	}
	if (ps->tok.kind != TOK_EOL)
		return terr(ps, &ps->tok,
			    "unexpected %s: a file is declared as 'file NAME SIZE [fill=BYTE]'",
			    SHOW(&ps->tok));
	return 0;
}

static int parse_process(struct parser *ps)
{
	struct token nt;
	int proc;

	if (next(ps))
		return -1;
	nt = ps->tok;
	if (expect_name(ps, "a process name after 'process'") || next(ps) ||
	    expect_eol(ps, "the process name"))
		return -1;
	proc = find_proc(ps, &nt);
	if (proc >= 0 && ps->pp[proc].exited)
		return terr(ps, &nt, "process '%s' exited at line %d: it cannot have another block",
			    ps->s->procs[proc].name, ps->pp[proc].exit_loc.line);
	if (proc < 0 && name_clash(ps, &nt))
		return -1;
	if (proc < 0)
		proc = add_proc(ps, &nt);
	if (proc < 0)
		return -1;
	ps->seen_process = true;
	return push_block(ps, BLK_PROC, proc, -1);
}

static int top_statement(struct parser *ps, struct block *b)
{
	const struct token *t = &ps->tok;
	struct suggest sg = {.t = t};

	if (tok_is(t, "system"))
		return parse_system(ps);
	if (tok_is(t, "policy"))
		return parse_policy(ps);
	if (tok_is(t, "expect"))
		return parse_expect(ps);
	if (tok_is(t, "file"))
		return parse_file(ps);
	if (tok_is(t, "process"))
		return parse_process(ps);
	if (tok_is(t, "thread"))
		return parse_thread(ps, b);
	if (tok_is(t, "join"))
		return parse_join(ps, b);
	if (op_word(t) != W_NONE)
		return terr(ps, t,
			    "%s must be inside a process block: start one with 'process NAME' "
			    "above it",
			    SHOW(t));
	suggest_list(&sg, top_words, ARRAY_SIZE(top_words));
	return terr(ps, t,
		    "unknown statement %s%s: expected system, policy, expect, file, process "
		    "or thread",
		    SHOW(t), SUGGESTION(&sg));
}

/* Close every block the line at indent (first token at loc) is not in. */
static int close_blocks(struct parser *ps, int indent, struct scen_loc loc)
{
	while (ps->depth > 0 && ps->stack[ps->depth].opener_indent >= indent) {
		struct block *b = &ps->stack[ps->depth];

		if (b->kind == BLK_THREAD && ps->s->threads[b->thread].nr_ops == 0)
			return lerr(ps, ps->s->threads[b->thread].loc,
				    "thread '%s' has no operations: indent them under it, or "
				    "write one on the same line",
				    ps->s->threads[b->thread].name);
		if (b->group)
			return lerr(ps, loc,
				    "the thread group that starts at line %d is not joined: add "
				    "'join' after its last thread",
				    b->group_loc.line);
		if ((b->kind == BLK_REPEAT || b->kind == BLK_FORK) && close_body(ps, b))
			return -1;
		ps->depth--;
	}
	return 0;
}

static int statement(struct parser *ps)
{
	const struct token *t = &ps->tok;
	int indent = ps->lx.indent;
	struct block *b;
	struct ctx c;

	if (close_blocks(ps, indent, tok_loc(ps, t)))
		return -1;
	b = &ps->stack[ps->depth];
	if (b->prev_indent >= 0 && indent > b->prev_indent)
		return terr(ps, t, "unexpected indentation: the line above does not open a block");
	b->prev_indent = indent;
	ps->nr_statements++;
	if (t->kind != TOK_IDENT)
		return terr(ps, t, "expected a statement or an operation, found %s", SHOW(t));
	if (b->group && !tok_is(t, "thread") && !tok_is(t, "join"))
		return terr(ps, t,
			    "the thread group that starts at line %d is not joined: expected "
			    "'join' or another 'thread' here",
			    b->group_loc.line);
	switch (b->kind) {
	case BLK_TOP: return top_statement(ps, b);
	case BLK_PROC:
		if (tok_is(t, "join"))
			return parse_join(ps, b);
		if (ps->pp[b->proc].exited && (tok_is(t, "thread") || op_word(t) != W_NONE))
			return terr(ps, t,
				    "process '%s' exited at line %d: nothing can follow 'exit' in "
				    "its block",
				    ps->s->procs[b->proc].name, ps->pp[b->proc].exit_loc.line);
		if (tok_is(t, "thread"))
			return parse_thread(ps, b);
		c = (struct ctx){.proc = b->proc, .thread = -1};
		return op_statement(ps, &c);
	case BLK_THREAD:
		c = (struct ctx){.proc = b->proc, .thread = b->thread};
		return op_statement(ps, &c);
	case BLK_REPEAT:
	case BLK_FORK:
		if (tok_is(t, "thread") || tok_is(t, "join"))
			return terr(ps, t,
				    "a thread group cannot start %s: put the repeat inside "
				    "the threads",
				    b->kind == BLK_REPEAT ? "inside repeat" : "in a fork's body");
		if (ps->pp[b->proc].exited && op_word(t) != W_NONE)
			return terr(ps, t,
				    "process '%s' exited at line %d: nothing can follow 'exit' in "
				    "its body",
				    ps->s->procs[b->proc].name, ps->pp[b->proc].exit_loc.line);
		c = (struct ctx){.proc = b->proc,
				 .thread = b->thread,
				 .child = b->child,
				 .loop = b->loop,
				 .any_loop = b->any_loop};
		return op_statement(ps, &c);
	}
	return -1;
}

static int parse(struct parser *ps)
{
	struct block *top = &ps->stack[0];
	struct scen_loc eof;
	int r;

	top->kind = BLK_TOP;
	top->opener_indent = -1;
	top->prev_indent = -1;
	while ((r = lex_line(&ps->lx)) > 0)
		if (next(ps) || statement(ps))
			return -1;
	if (r < 0)
		return -1;
	lex_eof_loc(&ps->lx, &eof);
	if (close_blocks(ps, -1, eof))
		return -1;
	if (top->group)
		return lerr(ps, eof,
			    "the thread group that starts at line %d is not joined: add 'join' "
			    "after its last thread",
			    top->group_loc.line);
	if (ps->nr_statements == 0)
		return lerr(ps, (struct scen_loc){1, 1},
			    "the scenario is empty: it needs at least one process");
	if (ps->s->nr_procs == 0)
		return lerr(ps, (struct scen_loc){1, 1},
			    "the scenario has no process: add a 'process NAME' block");
	return 0;
}

/* ---- entry points ---------------------------------------------------------- */

int scen_parse(const char *path, const char *text, size_t len, struct scenario **out, char *err,
	       size_t errlen)
{
	struct parser *ps;
	struct scenario *s;
	int rc;

	if (!path)
		path = "<scenario>";
	ps = alloc_hook(NULL, sizeof(*ps));
	s = alloc_hook(NULL, sizeof(*s));
	if (!ps || !s) {
		free(ps);
		free(s);
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
		return COW_ENOMEM;
	}
	memset(ps, 0, sizeof(*ps));
	memset(s, 0, sizeof(*s));
	ps->path = path;
	ps->s = s;
	ps->rc = COW_EINVAL;
	s->zero_page = -1;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->hash = cow_fnv1a(COW_FNV_BASIS, text, len);
	lex_init(&ps->lx, text, len, &ps->diag);

	if (len > SCEN_MAX_FILE)
		rc = lerr(ps, (struct scen_loc){1, 1},
			  "the file is larger than 1 MiB: a scenario is at most %lu bytes",
			  SCEN_MAX_FILE);
	else
		rc = parse(ps);
	if (rc == 0) {
		*out = s;
		if (err && errlen)
			err[0] = '\0';
	} else {
		rc = ps->rc;
		if (err && errlen)
			snprintf(err, errlen, "%s:%d:%d: %s", path, ps->diag.line, ps->diag.col,
				 ps->diag.msg);
		scen_free(s);
	}
	free(ps->pp);
	free(ps);
	return rc;
}

int scen_load(const char *path, struct scenario **out, char *err, size_t errlen)
{
	size_t len = 0, cap = 16384;
	char *buf = malloc(cap), *p;
	FILE *f;
	int rc, e;

	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		return COW_ENOMEM;
	}
	f = fopen(path, "rb");
	if (!f)
		goto out_error;
	/* Read at most one byte past the limit: scen_parse rejects that. */
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len, f);

		len += n;
		if (len < cap) {
			if (ferror(f))
				goto out_close;
			break;
		}
		if (cap > SCEN_MAX_FILE)
			break;
		cap = cap * 2 > SCEN_MAX_FILE + 1 ? SCEN_MAX_FILE + 1 : cap * 2;
		p = realloc(buf, cap);
		if (!p) {
			fclose(f);
			free(buf);
			snprintf(err, errlen, "%s: out of memory", path);
			return COW_ENOMEM;
		}
		buf = p;
	}
	fclose(f);
	rc = scen_parse(path, buf, len, out, err, errlen);
	free(buf);
	return rc;

out_close:
	e = errno;
	fclose(f);
	errno = e;
out_error:
	snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
	free(buf);
	return COW_ENOENT;
}

static void free_ops(struct scen_op *ops, int n)
{
	for (int i = 0; i < n; i++) {
		if (ops[i].kind == OP_WRITE || ops[i].kind == OP_POKE)
			free(ops[i].write.value.bytes);
		else if (ops[i].kind == OP_CHECK && ops[i].check.values) {
			int nr = ops[i].check.nr_ranges * ops[i].check.nr_alts;

			for (int j = 0; j < nr; j++)
				free(ops[i].check.values[j].bytes);
			free(ops[i].check.values);
			free(ops[i].check.ranges);
		} else if (ops[i].kind == OP_CHECK)
			free(ops[i].check.value.bytes);
	}
	free(ops);
}

void scen_free(struct scenario *s)
{
	if (!s)
		return;
	free_ops(s->ops, s->nr_ops);
	for (int i = 0; i < s->nr_threads; i++)
		free_ops(s->threads[i].ops, s->threads[i].nr_ops);
	free(s->threads);
	free(s->procs);
	free(s->maps);
	free(s->files);
	free(s->pins);
	free(s->pipes);
	free(s->expects);
	free(s);
}

const char *const *scen_expect_verdicts(int *nr_out)
{
	*nr_out = (int)ARRAY_SIZE(expect_verdicts);
	return expect_verdicts;
}

const char *scen_expected(const struct scenario *s, const char *preset)
{
	int i = find_expect(s, preset);

	return i >= 0 ? s->expects[i].verdict : NULL;
}

const char *scen_verdict_name(enum scen_verdict v)
{
	if ((unsigned)v < ARRAY_SIZE(verdict_names))
		return verdict_names[v];
	return "unknown";
}

void scen_value_bytes(const struct scen_value *v, unsigned long at, unsigned char *buf,
		      unsigned long n)
{
	if (v->kind == VAL_BYTE)
		memset(buf, v->byte, n);
	else if (v->kind == VAL_BYTES)
		for (unsigned long j = 0; j < n; j++)
			buf[j] = v->bytes[(at + j) % v->nbytes];
}

void scen_value_describe(const struct scenario *s, const struct scen_value *v, char *buf,
			 size_t len)
{
	switch (v->kind) {
	case VAL_BYTE: snprintf(buf, len, "0x%02x", v->byte); return;
	case VAL_BYTES: snprintf(buf, len, "a %zu-byte string", v->nbytes); return;
	case VAL_FILE:
		snprintf(buf, len, "%s[%lu..+%lu]", s->files[v->file.name].name, v->file.off,
			 v->file.len);
		return;
	}
}

static const char *const cmp_words[] = {
	[CMP_EQ] = "==",	   [CMP_NE] = "!=",
	[CMP_FAULTS] = "faults",   [CMP_EXCLUSIVE] = "exclusive",
	[CMP_SHARED] = "shared",   [CMP_PRESENT] = "present",
	[CMP_SWAPPED] = "swapped", [CMP_MERGED] = "merged",
};

const char *scen_cmp_name(enum scen_cmp c)
{
	if ((unsigned)c < ARRAY_SIZE(cmp_words))
		return cmp_words[c];
	return "?";
}

int scen_op_span(const struct scen_op *op)
{
	if (op->kind == OP_REPEAT)
		return 1 + op->repeat.nr;
	if (op->kind == OP_FORK)
		return 1 + op->fork.nr;
	return 1;
}

const struct scen_range *scen_check_range(const struct scen_op *op, int i)
{
	return op->check.ranges ? &op->check.ranges[i] : &op->check.range;
}

const struct scen_value *scen_check_value(const struct scen_op *op, int alt, int i)
{
	int nr = op->check.nr_ranges > 1 ? op->check.nr_ranges : 1;

	return op->check.values ? &op->check.values[alt * nr + i] : &op->check.value;
}

const char *scen_range_name(const struct scenario *s, const struct scen_range *g)
{
	switch (g->space) {
	case SPACE_MAP: return s->maps[g->name].name;
	case SPACE_FILE: return s->files[g->name].name;
	case SPACE_PIN: return s->pins[g->name].name;
	case SPACE_PIPE: return s->pipes[g->name].name;
	}
	return "?";
}

void scen_check_describe_ranges(const struct scenario *s, const struct scen_op *op, char *buf,
				size_t len)
{
	int nr = op->check.nr_ranges > 1 ? op->check.nr_ranges : 1;
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < nr && n < len; i++) {
		const struct scen_range *g = scen_check_range(op, i);
		int w = snprintf(buf + n, len - n, "%s%s[%lu..+%lu]", i ? ", " : "",
				 scen_range_name(s, g), g->off, g->len);

		if (w < 0)
			return;
		n += (size_t)w;
	}
}

void scen_check_describe_values(const struct scenario *s, const struct scen_op *op, char *buf,
				size_t len)
{
	int nr = op->check.nr_ranges > 1 ? op->check.nr_ranges : 1;
	int na = op->check.nr_alts > 1 ? op->check.nr_alts : 1;
	size_t n = 0;

	buf[0] = '\0';
	for (int a = 0; a < na && n < len; a++)
		for (int i = 0; i < nr && n < len; i++) {
			char v[96];
			int w;

			scen_value_describe(s, scen_check_value(op, a, i), v, sizeof(v));
			w = snprintf(buf + n, len - n, "%s%s", i ? ", " : a ? " | " : "", v);
			if (w < 0)
				return;
			n += (size_t)w;
		}
}

/* ---- the whole-structure validator ------------------------------------------ */

/* A pin or a pipe as the validator walks the operations in program order
 * (a group's threads where its OP_GROUP stands). */
struct vref {
	bool made, ended;
	int born_group, born_thread; /* 0, -1: made outside a group */
	int use_group;
	uint64_t use_mask; /* the threads of use_group that used it */
};

struct vstate {
	const struct scenario *s;
	char *msg;
	size_t len;
	bool *exited; /* [nr_procs] */
	struct vref *pins, *pipes;
	int checks, dio, made_pins, made_pipes;
	int group;		/* numbers the groups walked, from 1 */
	int group_first;	/* the first thread of the group being walked */
	int next_thread;	/* the first thread no group took yet */
	int max_group;		/* the largest group walked */
	bool mapped[MAX_FILES]; /* a map operation maps the file (N10) */
};

static COW_PRINTF(2, 3) int vfail(struct vstate *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (v->msg && v->len)
		vsnprintf(v->msg, v->len, fmt, ap);
	va_end(ap);
	return COW_ECORRUPT;
}

static bool name_ok(const char *name)
{
	size_t n = strnlen(name, SCEN_NAME_MAX);

	return n > 0 && n < SCEN_NAME_MAX;
}

static const char *const space_nouns[] = {
	[SPACE_MAP] = "mapping",
	[SPACE_FILE] = "file",
	[SPACE_PIN] = "pin",
	[SPACE_PIPE] = "pipe",
};

static int check_range(struct vstate *v, const struct scen_range *r, enum scen_space space)
{
	const struct scenario *s = v->s;
	unsigned long size;
	int nr;

	if (r->space != space)
		return vfail(v, "a range in space %d, expected %d", (int)r->space, (int)space);
	if (r->is_file != (space == SPACE_FILE))
		return vfail(v, "a range's is_file is %d in space %d", r->is_file, (int)space);
	switch (space) {
	case SPACE_MAP: nr = s->nr_maps; break;
	case SPACE_FILE: nr = s->nr_files; break;
	case SPACE_PIN: nr = s->nr_pins; break;
	case SPACE_PIPE: nr = s->nr_pipes; break;
	default: return vfail(v, "a range in space %d", (int)space);
	}
	if (r->name < 0 || r->name >= nr)
		return vfail(v, "a range names %s %d of %d", space_nouns[space], r->name, nr);
	switch (space) {
	case SPACE_MAP: size = s->maps[r->name].len; break;
	case SPACE_FILE: size = s->files[r->name].size; break;
	case SPACE_PIN: size = s->pins[r->name].len; break;
	default: size = s->pipes[r->name].len; break;
	}
	if (r->len == 0 || r->off >= size || r->len > size - r->off)
		return vfail(v, "range [%lu..+%lu] is outside its %lu bytes", r->off, r->len, size);
	if (r->whole && (r->off != 0 || r->len != size))
		return vfail(v, "a whole range is [%lu..+%lu] of %lu bytes", r->off, r->len, size);
	return 0;
}

static int check_value(struct vstate *v, const struct scen_value *val, unsigned long rlen)
{
	switch (val->kind) {
	case VAL_BYTE: return 0;
	case VAL_BYTES:
		if (!val->bytes || val->nbytes == 0 || val->nbytes > SCEN_MAX_STRING ||
		    val->nbytes > rlen)
			return vfail(v, "a string value of %zu bytes for %lu", val->nbytes, rlen);
		return 0;
	case VAL_FILE:
		if (check_range(v, &val->file, SPACE_FILE))
			return COW_ECORRUPT;
		if (val->file.len != rlen)
			return vfail(v, "a file value of %lu bytes for %lu", val->file.len, rlen);
		return 0;
	}
	return vfail(v, "value kind %d", (int)val->kind);
}

/* A new pin or pipe, number idx, made by op in thread (or -1); they are
 * numbered in program order. */
static int vref_make(struct vstate *v, const struct scen_op *op, int thread, bool pin, int idx,
		     unsigned long len)
{
	const struct scen_ref *refs = pin ? v->s->pins : v->s->pipes;
	struct vref *vr = pin ? v->pins : v->pipes;
	int *made = pin ? &v->made_pins : &v->made_pipes;

	if (idx < 0 || idx >= (pin ? v->s->nr_pins : v->s->nr_pipes))
		return vfail(v, "%d:%d: makes %s %d of %d", op->loc.line, op->loc.col,
			     pin ? "pin" : "pipe", idx, pin ? v->s->nr_pins : v->s->nr_pipes);
	if (idx != *made)
		return vfail(v, "%d:%d: makes %s %d, expected %d", op->loc.line, op->loc.col,
			     pin ? "pin" : "pipe", idx, *made);
	if (refs[idx].len != len || refs[idx].proc != op->proc)
		return vfail(v, "%d:%d: %s %d is %lu bytes of process %d, made from %lu of %d",
			     op->loc.line, op->loc.col, pin ? "pin" : "pipe", idx, refs[idx].len,
			     refs[idx].proc, len, op->proc);
	(*made)++;
	vr[idx].made = true;
	vr[idx].born_group = thread >= 0 ? v->group : 0;
	vr[idx].born_thread = thread;
	return 0;
}

/* op, in thread (or -1), uses pin or pipe idx; `end`: unpins or reads it. */
static int vref_use(struct vstate *v, const struct scen_op *op, int thread, bool pin, int idx,
		    bool end)
{
	const char *noun = pin ? "pin" : "pipe";
	struct vref *vr;

	if (idx < 0 || idx >= (pin ? v->s->nr_pins : v->s->nr_pipes))
		return vfail(v, "%d:%d: uses %s %d", op->loc.line, op->loc.col, noun, idx);
	vr = &(pin ? v->pins : v->pipes)[idx];
	if (!vr->made || vr->ended)
		return vfail(v, "%d:%d: uses %s %d %s", op->loc.line, op->loc.col, noun, idx,
			     vr->made ? "after its end" : "before it is made");
	if (thread >= 0) {
		uint64_t me = 1ULL << (thread - v->group_first);

		if (vr->born_group == v->group && vr->born_thread != thread)
			return vfail(v, "%d:%d: uses %s %d of another thread of its group",
				     op->loc.line, op->loc.col, noun, idx);
		if (vr->use_group != v->group) {
			vr->use_group = v->group;
			vr->use_mask = 0;
		}
		if (end && (vr->use_mask & ~me))
			return vfail(v, "%d:%d: ends %s %d that another thread of its group uses",
				     op->loc.line, op->loc.col, noun, idx);
		vr->use_mask |= me;
	}
	if (end)
		vr->ended = true;
	return 0;
}

static int check_dio(struct vstate *v, const struct scen_op *op)
{
	const struct scen_range *f = &op->dio.file, *m = &op->dio.mem;

	if (check_range(v, f, SPACE_FILE) || check_range(v, m, SPACE_MAP))
		return COW_ECORRUPT;
	if (v->s->files[f->name].mapped)
		return vfail(v, "%d:%d: direct I/O of file '%s', which is mapped", op->loc.line,
			     op->loc.col, v->s->files[f->name].name);
	if (f->len != m->len || f->off % DIO_ALIGN || m->off % DIO_ALIGN || m->len % DIO_ALIGN)
		return vfail(v, "%d:%d: direct I/O of file [%lu..+%lu] and memory [%lu..+%lu]",
			     op->loc.line, op->loc.col, f->off, f->len, m->off, m->len);
	v->dio++;
	return 0;
}

/* A map of a file (N10): within the file's whole pages. */
static int check_map_file(struct vstate *v, const struct scen_op *op)
{
	const struct scen_file *file = &v->s->files[op->map.file];

	if (op->map.len > (file->size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE)
		return vfail(v, "%d:%d: maps %lu bytes of file '%s' of %lu", op->loc.line,
			     op->loc.col, op->map.len, file->name, file->size);
	v->mapped[op->map.file] = true;
	return 0;
}

/* Where an operation stands (check_seq): in a repeat of its process, in
 * a fork's body, in a repeat of any process. */
#define VB_LOOP 1
#define VB_CHILD 2
#define VB_ANY_LOOP 4

/* A check's ranges and values (CMP_EQ, CMP_NE), in thread (or -1). */
static int check_compare(struct vstate *v, const struct scen_op *op, int thread)
{
	int nr = op->check.nr_ranges, na = op->check.nr_alts;
	bool tuple = nr > 1 || na > 1;

	if (nr < 1 || nr > SCEN_MAX_TUPLE || na < 1 || na > SCEN_MAX_ALTS ||
	    tuple != (op->check.ranges != NULL) || tuple != (op->check.values != NULL) ||
	    (tuple && op->check.cmp != CMP_EQ) ||
	    (tuple && memcmp(&op->check.range, &op->check.ranges[0], sizeof(op->check.range))))
		return vfail(v, "%d:%d: a check of %d ranges and %d alternatives", op->loc.line,
			     op->loc.col, nr, na);
	for (int i = 0; i < nr; i++) {
		const struct scen_range *r = scen_check_range(op, i);

		if ((unsigned)r->space > SPACE_PIPE || check_range(v, r, r->space))
			return COW_ECORRUPT;
		if ((r->space == SPACE_PIN || r->space == SPACE_PIPE) &&
		    vref_use(v, op, thread, r->space == SPACE_PIN, r->name, false))
			return COW_ECORRUPT;
		for (int a = 0; a < na; a++)
			if (check_value(v, scen_check_value(op, a, i), r->len))
				return COW_ECORRUPT;
	}
	return 0;
}

/* One operation, of the main thread of op->proc (thread -1) or of thread
 * number `thread`; want: the process that must run it (-1: any), flags:
 * VB_*. */
static int check_op(struct vstate *v, const struct scen_op *op, int thread, int want,
		    unsigned flags)
{
	const struct scenario *s = v->s;
	const int rw = COW_PROT_READ | COW_PROT_WRITE;
	const struct scen_range *r = NULL;

	if (op->proc < 0 || op->proc >= s->nr_procs)
		return vfail(v, "%d:%d: op of process %d of %d", op->loc.line, op->loc.col,
			     op->proc, s->nr_procs);
	if (want >= 0 && op->proc != want)
		return vfail(v, "%d:%d: an op runs in process %d, not %d", op->loc.line,
			     op->loc.col, op->proc, want);
	if (v->exited[op->proc])
		return vfail(v, "%d:%d: an op of process '%s' after its exit", op->loc.line,
			     op->loc.col, s->procs[op->proc].name);
	switch (op->kind) {
	case OP_MAP:
		if (op->map.name < 0 || op->map.name >= s->nr_maps ||
		    op->map.len != s->maps[op->map.name].len || (op->map.prot & ~rw) ||
		    op->map.file < -1 || op->map.file >= s->nr_files)
			return vfail(v, "%d:%d: a bad map", op->loc.line, op->loc.col);
		return op->map.file >= 0 ? check_map_file(v, op) : 0;
	case OP_WRITE:
	case OP_POKE:
		if (check_range(v, &op->write.range, SPACE_MAP))
			return COW_ECORRUPT;
		return check_value(v, &op->write.value, op->write.range.len);
	case OP_READ: return check_range(v, &op->read.range, SPACE_MAP);
	case OP_CHECK:
	case OP_REQUIRE:
		v->checks += op->kind == OP_CHECK;
		r = &op->check.range;
		if ((unsigned)op->check.verdict > VERDICT_OVERWRITE ||
		    (unsigned)op->check.cmp > CMP_MERGED || (unsigned)r->space > SPACE_PIPE ||
		    (op->check.cmp >= CMP_FAULTS && r->space != SPACE_MAP) ||
		    (op->kind == OP_REQUIRE && !scen_cmp_is_page(op->check.cmp)))
			return vfail(v, "%d:%d: a bad check", op->loc.line, op->loc.col);
		if (op->check.cmp <= CMP_NE)
			return check_compare(v, op, thread);
		if (op->check.ranges || op->check.values)
			return vfail(v, "%d:%d: a page check with values", op->loc.line,
				     op->loc.col);
		return check_range(v, r, SPACE_MAP);
	case OP_FORK:
		if (op->fork.child < 0 || op->fork.child >= s->nr_procs ||
		    op->fork.child == op->proc || op->fork.nr < 0 || v->exited[op->fork.child] ||
		    (op->fork.nr == 0 && (flags & VB_ANY_LOOP)))
			return vfail(v, "%d:%d: a bad fork", op->loc.line, op->loc.col);
		return 0;
	case OP_REPEAT:
		if (op->repeat.count < 1 || op->repeat.count > SCEN_MAX_REPEAT ||
		    op->repeat.host_count < 1 || op->repeat.host_count > SCEN_MAX_REPEAT ||
		    op->repeat.nr < 1)
			return vfail(v, "%d:%d: a bad repeat", op->loc.line, op->loc.col);
		return 0;
	case OP_EXIT:
		if ((thread >= 0 && !(flags & VB_CHILD)) || (flags & VB_LOOP))
			return vfail(v, "%d:%d: exit in a thread or a repeat", op->loc.line,
				     op->loc.col);
		v->exited[op->proc] = true;
		return 0;
	case OP_MUNMAP: r = &op->munmap.range; break;
	case OP_SWAPOUT:
	case OP_UFFD_CONTINUE: r = &op->swapout.range; break;
	case OP_MPROTECT:
		r = &op->mprotect.range;
		if (op->mprotect.prot & ~rw)
			return vfail(v, "%d:%d: a bad protection", op->loc.line, op->loc.col);
		break;
	case OP_MADVISE:
		r = &op->madvise.range;
		if (op->madvise.advice != COW_MADV_DONTNEED &&
		    op->madvise.advice != COW_MADV_DONTFORK &&
		    op->madvise.advice != COW_MADV_DOFORK &&
		    op->madvise.advice != COW_MADV_MERGEABLE &&
		    op->madvise.advice != COW_MADV_UNMERGEABLE)
			return vfail(v, "%d:%d: a bad advice", op->loc.line, op->loc.col);
		break;
	case OP_DIO_READ:
	case OP_DIO_WRITE: return check_dio(v, op);
	case OP_WAIT:
	case OP_CLEAR_REFS:
	case OP_KSM_MERGE: return 0;
	case OP_PIN:
		r = &op->pin.mem;
		if (vref_make(v, op, thread, true, op->pin.pin, r->len))
			return COW_ECORRUPT;
		break; /* page aligned */
	case OP_UNPIN:
		if (op->unpin.pin >= 0 && op->unpin.pin < s->nr_pins &&
		    s->pins[op->unpin.pin].proc != op->proc)
			return vfail(v, "%d:%d: unpins another process's pin", op->loc.line,
				     op->loc.col);
		return vref_use(v, op, thread, true, op->unpin.pin, true);
	case OP_VMSPLICE:
		if (check_range(v, &op->splice.mem, SPACE_MAP))
			return COW_ECORRUPT;
		return vref_make(v, op, thread, false, op->splice.pipe, op->splice.mem.len);
	case OP_PIPE_READ:
		if (check_range(v, &op->splice.mem, SPACE_MAP) ||
		    vref_use(v, op, thread, false, op->splice.pipe, true))
			return COW_ECORRUPT;
		if (op->splice.mem.len != s->pipes[op->splice.pipe].len)
			return vfail(v, "%d:%d: reads %lu bytes of a pipe into %lu", op->loc.line,
				     op->loc.col, s->pipes[op->splice.pipe].len,
				     op->splice.mem.len);
		return 0;
	case OP_GROUP: return vfail(v, "%d:%d: a group inside a thread", op->loc.line, op->loc.col);
	default: return vfail(v, "op kind %d", (int)op->kind);
	}
	if (check_range(v, r, SPACE_MAP))
		return COW_ECORRUPT;
	if (r->off % PAGE_SIZE)
		return vfail(v, "%d:%d: an unaligned offset", op->loc.line, op->loc.col);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* N7: processes, mappings, files, pins and pipes have distinct names. */
static int check_names(struct vstate *v)
{
	const struct scenario *s = v->s;
	size_t n = 0, total = (size_t)s->nr_procs + (size_t)s->nr_maps + (size_t)s->nr_files +
			      (size_t)s->nr_pins + (size_t)s->nr_pipes;
	const char **names = malloc((total ? total : 1) * sizeof(*names));
	int rc = 0;

	if (!names)
		return COW_ENOMEM;
	for (int i = 0; i < s->nr_procs; i++)
		names[n++] = s->procs[i].name;
	for (int i = 0; i < s->nr_maps; i++)
		names[n++] = s->maps[i].name;
	for (int i = 0; i < s->nr_files; i++)
		names[n++] = s->files[i].name;
	for (int i = 0; i < s->nr_pins; i++)
		names[n++] = s->pins[i].name;
	for (int i = 0; i < s->nr_pipes; i++)
		names[n++] = s->pipes[i].name;
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 1; i < n && !rc; i++)
		if (!strcmp(names[i - 1], names[i]))
			rc = vfail(v, "the name '%s' is given to two things", names[i]);
	free(names);
	return rc;
}

/* Expectations name known presets, once each, with a verdict an expect
 * line takes. */
static int check_expects(struct vstate *v)
{
	const struct scenario *s = v->s;

	if (s->nr_expects < 0 || (s->nr_expects > 0 && !s->expects))
		return vfail(v, "bad expectation count");
	for (int i = 0; i < s->nr_expects; i++) {
		const struct scen_expect *e = &s->expects[i];
		bool known = false;

		for (size_t j = 0; j < ARRAY_SIZE(expect_verdicts); j++)
			known |= strcmp(e->verdict, expect_verdicts[j]) == 0;
		if (!name_ok(e->preset) || !cow_policy_find(e->preset) || !known)
			return vfail(v, "%d:%d: expectation %d is bad", e->loc.line, e->loc.col, i);
		if (find_expect(s, e->preset) != i)
			return vfail(v, "%d:%d: a second expectation for '%s'", e->loc.line,
				     e->loc.col, e->preset);
	}
	return 0;
}

/* May an operation of this kind stand where flags (VB_*) say?  Not what
 * is made once or outlives a pass (parse_op's body_forbids). */
static bool body_allows(const struct scen_op *op, unsigned flags)
{
	switch (op->kind) {
	case OP_GROUP:
	case OP_DIO_READ:
	case OP_DIO_WRITE:
	case OP_PIN:
	case OP_UNPIN:
	case OP_VMSPLICE:
	case OP_PIPE_READ: return !(flags & (VB_LOOP | VB_CHILD));
	case OP_MAP:
	case OP_MUNMAP:
	case OP_EXIT: return !(flags & VB_LOOP);
	default: return true;
	}
}

static int check_group(struct vstate *v, const struct scen_op *op);

/* The n operations of a sequence: the top level (thread -1, want -1), a
 * thread's (its process in want), or a body (flags). */
static int check_seq(struct vstate *v, const struct scen_op *ops, int n, int thread, int want,
		     unsigned flags)
{
	for (int i = 0, span; i < n; i += span) {
		const struct scen_op *op = &ops[i];

		if ((op->kind == OP_REPEAT && op->repeat.nr < 1) ||
		    (op->kind == OP_FORK && op->fork.nr < 0))
			return vfail(v, "%d:%d: a body of no operations", op->loc.line,
				     op->loc.col);
		span = scen_op_span(op);
		if (span > n - i || !body_allows(op, flags))
			return vfail(v, "%d:%d: a %s that does not fit where it stands",
				     op->loc.line, op->loc.col,
				     span > n - i ? "body" : "body's operation");
		if (op->kind == OP_GROUP && thread < 0 && !flags) {
			if (check_group(v, op))
				return COW_ECORRUPT;
			continue;
		}
		if (check_op(v, op, thread, want, flags))
			return COW_ECORRUPT;
		if (op->kind == OP_REPEAT && check_seq(v, op + 1, op->repeat.nr, thread, op->proc,
						       (flags & VB_CHILD) | VB_LOOP | VB_ANY_LOOP))
			return COW_ECORRUPT;
		if (op->kind == OP_FORK && op->fork.nr > 0) {
			if (check_seq(v, op + 1, op->fork.nr, thread, op->fork.child,
				      VB_CHILD | (flags & VB_ANY_LOOP)))
				return COW_ECORRUPT;
			v->exited[op->fork.child] = true; /* at the end of its body */
		}
	}
	return 0;
}

/* A thread group at top level or in a process block: the threads in
 * order, each exactly once. */
static int check_group(struct vstate *v, const struct scen_op *op)
{
	const struct scenario *s = v->s;
	int first = op->group.first;

	if (first != v->next_thread || op->group.nr < 1 || op->group.nr > MAX_GROUP ||
	    op->group.nr > s->nr_threads - first)
		return vfail(v, "%d:%d: group [%d..+%d] of %d threads, expected from %d",
			     op->loc.line, op->loc.col, first, op->group.nr, s->nr_threads,
			     v->next_thread);
	if (op->proc < 0 || op->proc >= s->nr_procs)
		return vfail(v, "%d:%d: a group of process %d", op->loc.line, op->loc.col,
			     op->proc);
	v->next_thread += op->group.nr;
	if (op->group.nr > v->max_group)
		v->max_group = op->group.nr;
	v->group++;
	v->group_first = first;
	for (int t = first; t < v->next_thread; t++) {
		const struct scen_thread *th = &s->threads[t];

		if (!name_ok(th->name) || th->proc < 0 || th->proc >= s->nr_procs || th->nr_ops < 1)
			return vfail(v, "thread %d is bad", t);
		if (check_seq(v, th->ops, th->nr_ops, t, th->proc, 0))
			return COW_ECORRUPT;
	}
	return 0;
}

static int check_all(struct vstate *v)
{
	const struct scenario *s = v->s;
	int rc;

	if (s->nr_procs < 1 || s->nr_ops < 0 || s->nr_threads < 0 || s->nr_maps < 0 ||
	    s->nr_maps > MAX_MAPS || s->nr_files < 0 || s->nr_files > MAX_FILES)
		return vfail(v, "bad counts");
	if (s->zero_page < -1 || s->zero_page > 1 || s->cpus < 0 || s->cpus > MAX_CPUS ||
	    s->frames > MAX_FRAMES || s->swap_slots > MAX_FRAMES)
		return vfail(v, "bad system settings");
	for (int i = 0; i < s->nr_procs; i++)
		if (!name_ok(s->procs[i].name))
			return vfail(v, "process %d has a bad name", i);
	for (int i = 0; i < s->nr_maps; i++)
		if (!name_ok(s->maps[i].name) || s->maps[i].len == 0 || s->maps[i].len % PAGE_SIZE)
			return vfail(v, "mapping %d is bad", i);
	for (int i = 0; i < s->nr_files; i++)
		if (!name_ok(s->files[i].name) || s->files[i].size == 0)
			return vfail(v, "file %d is bad", i);
	for (int i = 0; i < s->nr_pins; i++)
		if (!name_ok(s->pins[i].name) || s->pins[i].len == 0 || s->pins[i].proc < 0 ||
		    s->pins[i].proc >= s->nr_procs)
			return vfail(v, "pin %d is bad", i);
	for (int i = 0; i < s->nr_pipes; i++)
		if (!name_ok(s->pipes[i].name) || s->pipes[i].len == 0 || s->pipes[i].proc < 0 ||
		    s->pipes[i].proc >= s->nr_procs)
			return vfail(v, "pipe %d is bad", i);
	rc = check_names(v);
	if (!rc)
		rc = check_expects(v);
	if (rc)
		return rc;
	if (check_seq(v, s->ops, s->nr_ops, -1, -1, 0))
		return COW_ECORRUPT;
	if (v->next_thread != s->nr_threads)
		return vfail(v, "%d threads, %d in groups", s->nr_threads, v->next_thread);
	if (v->max_group != s->max_group)
		return vfail(v, "max_group %d, the largest group has %d", s->max_group,
			     v->max_group);
	if (v->checks != s->nr_checks)
		return vfail(v, "nr_checks %d, counted %d", s->nr_checks, v->checks);
	if (v->dio != s->nr_dio)
		return vfail(v, "nr_dio %d, counted %d", s->nr_dio, v->dio);
	if (v->made_pins != s->nr_pins || v->made_pipes != s->nr_pipes)
		return vfail(v, "%d pins and %d pipes, %d and %d made", s->nr_pins, s->nr_pipes,
			     v->made_pins, v->made_pipes);
	for (int i = 0; i < s->nr_files; i++)
		if (s->files[i].mapped != v->mapped[i])
			return vfail(v, "file '%s' is %smarked mapped, and %smapped",
				     s->files[i].name, s->files[i].mapped ? "" : "not ",
				     v->mapped[i] ? "" : "not ");
	return 0;
}

int scen_check(const struct scenario *s, char *msg, size_t len)
{
	struct vstate v = {.s = s, .msg = msg, .len = len};
	int rc = COW_ENOMEM;

	if (msg && len)
		msg[0] = '\0';
	if (!s || s->nr_procs < 1 || s->nr_procs > MAX_PROCS)
		return vfail(&v, "no scenario, or a bad process count");
	if (s->nr_pins < 0 || s->nr_pins > MAX_PINS || s->nr_pipes < 0 || s->nr_pipes > MAX_PIPES ||
	    s->nr_dio < 0)
		return vfail(&v, "bad pin, pipe or direct I/O counts");
	v.exited = calloc((size_t)s->nr_procs, sizeof(*v.exited));
	v.pins = calloc((size_t)s->nr_pins + 1, sizeof(*v.pins));
	v.pipes = calloc((size_t)s->nr_pipes + 1, sizeof(*v.pipes));
	if (v.exited && v.pins && v.pipes)
		rc = check_all(&v);
	free(v.exited);
	free(v.pins);
	free(v.pipes);
	return rc;
}
