/*
 * The scenario parser's own header: its state, and what its files share.
 * Not for use outside src/scenario: the parser's interface is
 * scenario.h's scen_parse, scen_load and scen_check.
 *
 *   parser.c       lines, blocks and statements: the structure of a file,
 *                  and the entry points (the rules N1..N10 are there)
 *   parse_terms.c  the words of a line: errors, tokens, "did you mean",
 *                  names, sizes, ranges, values, pins and pipes
 *   parse_ops.c    each operation's operands (parse_WORD, after ops.def)
 *   validate.c     scen_check: a parsed scenario against the rules
 *   scenario.c     the parsed form's accessors, its descriptions, freeing
 *
 * Every function shared between them is named ps_*.
 */
#ifndef COW_SCENARIO_PARSE_H
#define COW_SCENARIO_PARSE_H

#include "scenario/lexer.h"

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
	bool hp_given; /* the system line gives hugepages= */
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

#define SHOW(t) tok_show((t), (char[64]){0}, 64)

struct suggest {
	const struct token *t;
	const char *best;
	int dist;
};

#define SUGGESTION(sg) ps_suggest_text((sg), (char[64]){0}, 64)

/* What a name can refer to (N7: one namespace for them all). */
enum name_kind { NK_NONE, NK_PROC, NK_MAP, NK_FILE, NK_PIN, NK_PIPE };
extern const char *const ps_kind_nouns[]; /* "name", "process", ... */

/* Where the parts of a range are, for messages: the columns of its name,
 * of OFF and of its end or length (OFF's and the name's where absent). */
struct rcols {
	int name, off, len;
};

/* The parser's allocations (malloc or realloc), so that tests can make
 * the Nth one fail (scen_fail_alloc). */
void *ps_alloc_hook(void *p, size_t size);

/* parse_terms.c */
COW_PRINTF(3, 4) int ps_lerr(struct parser *ps, struct scen_loc loc, const char *fmt, ...);
COW_PRINTF(3, 4) int ps_terr(struct parser *ps, const struct token *t, const char *fmt, ...);
int ps_nomem(struct parser *ps);
int ps_next(struct parser *ps);
struct scen_loc ps_tok_loc(const struct parser *ps, const struct token *t);
bool ps_tok_is(const struct token *t, const char *word);
bool ps_name_is(const char *name, const struct token *t);
void ps_tok_copy(const struct token *t, char *dst, size_t size);
int ps_op_kind(const struct token *t);
int ps_expect_name(struct parser *ps, const char *what);
int ps_expect_eol(struct parser *ps, const char *after);
void ps_suggest_try(struct suggest *sg, const char *cand);
void ps_suggest_list(struct suggest *sg, const char *const *words, size_t n);
const char *ps_suggest_text(const struct suggest *sg, char *buf, size_t len);
bool ps_set_has(const struct mapset *m, int i);
void ps_set_add(struct mapset *m, int i);
void *ps_grow(void *arr, int nr, int *cap, size_t size);
int ps_find_proc(const struct parser *ps, const struct token *t);
int ps_find_map(const struct parser *ps, const struct token *t);
int ps_find_file(const struct parser *ps, const struct token *t);
enum name_kind ps_lookup(const struct parser *ps, const struct token *t, int *idx,
			 struct scen_loc *loc);
int ps_name_clash(struct parser *ps, const struct token *t);
const char *ps_suggest_proc(const struct parser *ps, struct suggest *sg);
const char *ps_suggest_file(const struct parser *ps, struct suggest *sg);
int ps_add_proc(struct parser *ps, const struct token *t);
struct block *ps_open_group(struct parser *ps);
struct mapset *ps_ctx_view(struct parser *ps, const struct ctx *c);
int ps_parse_size(struct parser *ps, unsigned long long *v, const char *what);
int ps_parse_range(struct parser *ps, const struct ctx *c, const char *word, struct scen_range *r,
		   struct rcols *rc);
int ps_parse_file_range(struct parser *ps, const char *role, struct scen_range *r,
			struct rcols *rc);
int ps_use_ref(struct parser *ps, const struct ctx *c, enum name_kind k, int idx,
	       const struct token *nt, bool end);
int ps_parse_ref_name(struct parser *ps, enum name_kind want, const char *word, int *idx);
int ps_new_ref_name(struct parser *ps, enum name_kind k, const struct token *t);
int ps_add_ref(struct parser *ps, const struct ctx *c, enum name_kind k, const struct token *t,
	       unsigned long len);
int ps_parse_check_range(struct parser *ps, const struct ctx *c, struct scen_range *r);
int ps_parse_byte(struct parser *ps, unsigned char *byte);
int ps_parse_value(struct parser *ps, struct scen_value *v, unsigned long rlen);
/* The words of the top level (system, policy, ...), PS_NR_TOP_WORDS. */
#define PS_NR_TOP_WORDS 7
extern const char *const ps_top_words[PS_NR_TOP_WORDS];

/* parse_ops.c: the operands of op (kind, loc and proc set) at the token
 * after its word, for its executor c; 0, or -1 with the error in ps. */
int ps_parse_operands(struct parser *ps, const struct ctx *c, struct scen_op *op);

/* scenario.c: the index of preset's expectation in s, or -1. */
int ps_find_expect(const struct scenario *s, const char *preset);

#endif /* COW_SCENARIO_PARSE_H */
