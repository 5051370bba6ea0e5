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
 * files, 1024 pins, 1024 pipes, 63 threads in a group.  scen_check()
 * (validate.c) checks an accepted scenario against what these rules promise; the tests
 * and the fuzz target run it on every scenario the parser returns.
 */
#include "scenario/parse.h"

#include <errno.h>
#include <limits.h>

/* ---- blocks ---------------------------------------------------------------- */

/* A zeroed operation at the end of the executor's sequence. */
static struct scen_op *new_op(struct parser *ps, const struct ctx *c)
{
	struct scenario *s = ps->s;
	void *p;

	if (c->thread < 0) {
		p = ps_grow(s->ops, s->nr_ops, &ps->ops_cap, sizeof(*s->ops));
		if (!p)
			return NULL;
		s->ops = p;
		return &s->ops[s->nr_ops++];
	}
	struct scen_thread *t = &s->threads[c->thread];

	p = ps_grow(t->ops, t->nr_ops, &ps->tops_cap, sizeof(*t->ops));
	if (!p)
		return NULL;
	t->ops = p;
	return &t->ops[t->nr_ops++];
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
		return ps_lerr(ps, op->loc, "blocks nest at most %d deep here", MAX_DEPTH - 1);
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
			return ps_lerr(ps, op->loc,
				       "repeat has no operations: indent them under it");
		op->repeat.nr = nr;
		return 0;
	}
	if (nr == 0 && b->any_loop)
		return ps_lerr(ps, op->loc,
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

/* ---- operations ------------------------------------------------------------ */

/* What a thread cannot do (end its process), and what a repeat's or a
 * fork's body cannot hold, at the word kw (ops.def's flags): what would
 * be made twice (a pin, a pipe, a mapping, the
 * process's exit), or lives beyond one pass (direct I/O, a process forked
 * without a body, a thread group, which statement() refuses). */
static int misplaced(struct parser *ps, const struct ctx *c, const struct scen_op_info *info,
		     const struct token *kw)
{
	const char *where = c->loop ? "inside repeat" : "in a fork's body";

	if ((info->flags & OPF_MAIN) && c->thread >= 0 && !c->child)
		return ps_terr(ps, kw, "%s is not allowed in a thread; put it after join",
			       info->word);
	if (!c->loop && !c->child)
		return 0;
	if (info->flags & OPF_ONCE)
		return ps_terr(ps, kw,
			       "'%s' is not allowed %s: direct I/O, pins and pipes are made once, "
			       "by a process block or a thread",
			       info->word, where);
	if ((info->flags & OPF_NO_REPEAT) && c->loop)
		return ps_terr(ps, kw,
			       "'%s' is not allowed inside repeat: it would run again on "
			       "each pass (a fork's body inside repeat may map and exit: "
			       "each pass makes a fresh child)",
			       info->word);
	return 0;
}

/* The operation at the current token, executed by c; the word is one of
 * ops.def's.  Where it may stand and the end of its line are checked
 * here, its operands by parse_ops.c. */
static int parse_op(struct parser *ps, const struct ctx *c)
{
	struct token kw = ps->tok;
	int kind = ps_op_kind(&kw);
	const struct scen_op_info *info = scen_op_info(kind);
	struct scen_op *op;
	char after[32];

	if (misplaced(ps, c, info, &kw))
		return -1;
	op = new_op(ps, c);
	if (!op)
		return ps_nomem(ps);
	op->kind = (enum scen_op_kind)kind;
	op->loc = ps_tok_loc(ps, &kw);
	op->proc = c->proc;
	if (ps_next(ps) || ps_parse_operands(ps, c, op))
		return -1;
	if (ps_tok_is(&ps->tok, "sigbus") && kind != OP_WRITE && kind != OP_READ &&
	    kind != OP_CHECK)
		return ps_terr(ps, &ps->tok,
			       "'sigbus' goes with write, read and check (check VERDICT RANGE "
			       "sigbus) only, not with '%s'",
			       info->word);
	snprintf(after, sizeof(after), "the '%s' operation", info->word);
	if (ps_expect_eol(ps, after))
		return -1;
	if ((info->flags & OPF_BODY) && !c->oneline)
		return open_body(ps, c, op->kind == OP_REPEAT ? BLK_REPEAT : BLK_FORK);
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
		return ps_terr(ps, t, "expected an operation like 'write buf 0x01', found %s",
			       SHOW(t));
	if (ps_op_kind(t) >= 0)
		return parse_op(ps, c);
	if (ps_tok_is(t, "thread") && c->thread >= 0)
		return ps_terr(ps, t, "threads cannot nest: a thread holds operations only");
	if (ps_tok_is(t, "join") && c->thread >= 0)
		return ps_terr(ps, t, "'join' must line up with the 'thread' lines it closes");
	for (int i = 0; i < PS_NR_TOP_WORDS; i++)
		if (ps_tok_is(t, ps_top_words[i]))
			return ps_terr(ps, t,
				       "%s is only allowed at top level, not indented under "
				       "a process or thread",
				       SHOW(t));
	for (int k = 0; k < SCEN_NR_OP_WORDS; k++)
		ps_suggest_try(&sg, scen_op_info(k)->word);
	if (c->thread < 0) {
		ps_suggest_try(&sg, "thread");
		ps_suggest_try(&sg, "join");
	}
	return ps_terr(ps, t, "unknown operation %s%s", SHOW(t), SUGGESTION(&sg));
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
		b->group_loc = ps_tok_loc(ps, &kw);
		ps->group_serial++;
	}
	if (b->group_nr >= MAX_GROUP)
		return ps_terr(ps, &kw, "a thread group has at most %d threads", MAX_GROUP);
	if (ps_next(ps))
		return -1;
	nt = ps->tok;
	if (ps_expect_name(ps, "a thread name after 'thread'"))
		return -1;
	for (int i = 0; i < b->group_nr; i++)
		if (ps_name_is(s->threads[b->group_first + i].name, &nt))
			return ps_terr(ps, &nt,
				       "thread '%s' already exists in this group (line %d)",
				       s->threads[b->group_first + i].name,
				       s->threads[b->group_first + i].loc.line);
	if (ps_next(ps))
		return -1;
	if (b->kind == BLK_TOP) {
		struct token pt;
		struct suggest sg = {.t = &pt};

		if (!ps_tok_is(&ps->tok, "in"))
			return ps_terr(
				ps, &ps->tok,
				"expected 'in PROCESS' after the thread name, found %s: a "
				"top-level thread names its process, as in 'thread %.*s in P'",
				SHOW(&ps->tok), (int)nt.len, nt.p);
		if (ps_next(ps))
			return -1;
		pt = ps->tok;
		if (pt.kind != TOK_IDENT)
			return ps_terr(ps, &pt, "expected a process name after 'in', found %s",
				       SHOW(&pt));
		proc = ps_find_proc(ps, &pt);
		if (proc < 0) {
			ps_suggest_proc(ps, &sg);
			return ps_terr(ps, &pt, "unknown process %s%s", SHOW(&pt), SUGGESTION(&sg));
		}
		if (ps->pp[proc].exited)
			return ps_terr(ps, &pt, "process '%s' exited at line %d",
				       s->procs[proc].name, ps->pp[proc].exit_loc.line);
		if (ps->pp[proc].born_group == ps->group_serial)
			return ps_terr(ps, &pt,
				       "process '%s' is forked in this thread group (line %d): its "
				       "threads can start after 'join'",
				       s->procs[proc].name, s->procs[proc].loc.line);
		if (ps_next(ps))
			return -1;
	} else {
		if (ps_tok_is(&ps->tok, "in"))
			return ps_terr(
				ps, &ps->tok,
				"'in PROCESS' is for top-level threads; this thread belongs to "
				"process '%s'",
				s->procs[b->proc].name);
		proc = b->proc;
	}
	ps->seen_process = true;

	p = ps_grow(s->threads, s->nr_threads, &ps->threads_cap, sizeof(*s->threads));
	if (!p)
		return ps_nomem(ps);
	s->threads = p;
	t = &s->threads[s->nr_threads];
	ps_tok_copy(&nt, t->name, SCEN_NAME_MAX);
	t->loc = ps_tok_loc(ps, &kw);
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
		return ps_terr(ps, &kw,
			       "'join' without threads: it closes a group of 'thread' "
			       "lines at the same level");
	if (ps_next(ps) || ps_expect_eol(ps, "'join'"))
		return -1;
	for (int i = 0; i < b->group_nr; i++)
		for (size_t w = 0; w < ARRAY_SIZE(ps->views[i].w); w++)
			ps->pp[s->threads[b->group_first + i].proc].mapped.w[w] |=
				ps->views[i].w[w];
	c.proc = b->kind == BLK_PROC ? b->proc : s->threads[b->group_first].proc;
	c.thread = -1;
	op = new_op(ps, &c);
	if (!op)
		return ps_nomem(ps);
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
	bool have_frames = false, have_swap = false, have_cpus = false, have_zp = false,
	     have_hp = false;
	struct token frames_tok = {0}, hp_tok = {0};

	if (ps->have_system)
		return ps_terr(ps, &kw, "a second 'system' line: the first is at line %d",
			       ps->system_loc.line);
	if (ps->seen_process)
		return ps_terr(ps, &kw, "'system' must come before the first process or thread");
	ps->have_system = true;
	ps->system_loc = ps_tok_loc(ps, &kw);
	if (ps_next(ps))
		return -1;
	while (ps->tok.kind != TOK_EOL) {
		static const char *const keys[] = {"frames", "swap", "cpus", "zero_page",
						   "hugepages"};
		struct token key = ps->tok, vt;
		struct suggest sg = {.t = &key};
		bool *seen;

		if (key.kind != TOK_IDENT)
			return ps_terr(ps, &key, "expected a setting like cpus=4, found %s",
				       SHOW(&key));
		if (ps_tok_is(&key, "frames"))
			seen = &have_frames;
		else if (ps_tok_is(&key, "swap"))
			seen = &have_swap;
		else if (ps_tok_is(&key, "cpus"))
			seen = &have_cpus;
		else if (ps_tok_is(&key, "zero_page"))
			seen = &have_zp;
		else if (ps_tok_is(&key, "hugepages"))
			seen = &have_hp;
		else {
			ps_suggest_list(&sg, keys, ARRAY_SIZE(keys));
			return ps_terr(
				ps, &key,
				"unknown system setting %s%s: expected frames=, swap=, cpus=, "
				"zero_page= or hugepages=",
				SHOW(&key), SUGGESTION(&sg));
		}
		if (*seen)
			return ps_terr(ps, &key, "%s is given twice", SHOW(&key));
		*seen = true;
		if (ps_next(ps))
			return -1;
		if (ps->tok.kind != TOK_ASSIGN)
			return ps_terr(ps, &ps->tok, "expected '=' after %s, found %s", SHOW(&key),
				       SHOW(&ps->tok));
		if (ps_next(ps))
			return -1;
		vt = ps->tok;
		if (seen == &have_zp) {
			if (!ps_tok_is(&vt, "on") && !ps_tok_is(&vt, "off"))
				return ps_terr(ps, &vt,
					       "expected on or off after 'zero_page=', found %s",
					       SHOW(&vt));
			s->zero_page = ps_tok_is(&vt, "on");
		} else if (seen == &have_frames) {
			if (vt.kind != TOK_NUMBER || vt.num < 1 || vt.num > MAX_FRAMES)
				return ps_terr(
					ps, &vt,
					"expected a frame count from 1 to 16M after 'frames=', "
					"found %s",
					SHOW(&vt));
			s->frames = (unsigned long)vt.num;
			frames_tok = vt;
		} else if (seen == &have_hp) {
			if (vt.kind != TOK_NUMBER || vt.suffix || vt.num > SCEN_MAX_HUGEPAGES)
				return ps_terr(
					ps, &vt,
					"expected a count of 2M huge pages from 0 to %lu after "
					"'hugepages=', found %s",
					SCEN_MAX_HUGEPAGES, SHOW(&vt));
			s->hugepages = (unsigned long)vt.num;
			hp_tok = vt;
			ps->hp_given = true;
		} else if (seen == &have_swap) {
			if (vt.kind != TOK_NUMBER || vt.num < 1 || vt.num > MAX_FRAMES)
				return ps_terr(
					ps, &vt,
					"expected a swap slot count from 1 to 16M after 'swap=', "
					"found %s",
					SHOW(&vt));
			s->swap_slots = (unsigned long)vt.num;
		} else {
			if (vt.kind != TOK_NUMBER || vt.num < 1 || vt.num > MAX_CPUS)
				return ps_terr(
					ps, &vt,
					"expected a CPU count from 1 to %d after 'cpus=', found "
					"%s",
					MAX_CPUS, SHOW(&vt));
			s->cpus = (int)vt.num;
		}
		if (ps_next(ps))
			return -1;
	}
	/* The pool's frames are set aside from memory (512 per huge page). */
	if (have_frames && have_hp && s->frames < s->hugepages * (SCEN_HPAGE_SIZE / PAGE_SIZE))
		return ps_terr(ps, frames_tok.p > hp_tok.p ? &frames_tok : &hp_tok,
			       "hugepages=%lu takes %lu frames (512 for each 2M page) from memory, "
			       "more than frames=%lu: give more frames, or leave frames= out (the "
			       "default makes room)",
			       s->hugepages, s->hugepages * (SCEN_HPAGE_SIZE / PAGE_SIZE),
			       s->frames);
	return 0;
}

static int parse_policy(struct parser *ps)
{
	struct token kw = ps->tok, name;

	if (ps->have_policy)
		return ps_terr(ps, &kw, "a second 'policy' line: the first is at line %d",
			       ps->policy_loc.line);
	if (ps->seen_process)
		return ps_terr(ps, &kw, "'policy' must come before the first process or thread");
	ps->have_policy = true;
	ps->policy_loc = ps_tok_loc(ps, &kw);
	if (ps_next(ps))
		return -1;
	if (ps->tok.kind != TOK_IDENT)
		return ps_terr(ps, &ps->tok, "expected a policy name like linux-6.5, found %s",
			       SHOW(&ps->tok));
	name = ps->tok;
	ps_tok_copy(&ps->tok, ps->s->policy, sizeof(ps->s->policy));
	if (ps_next(ps))
		return -1;
	/* A rule set of the user's: PRESET + RULE = VALUE ..., the rules
	 * glued to the name as --policy takes it. */
	while (ps->tok.kind == TOK_PLUS) {
		char rule[COW_POLICY_NAME_MAX], value[COW_POLICY_NAME_MAX];
		size_t used = strlen(ps->s->policy);

		if (ps_next(ps))
			return -1;
		if (ps->tok.kind != TOK_IDENT)
			return ps_terr(ps, &ps->tok, "expected a rule name after '+', found %s",
				       SHOW(&ps->tok));
		ps_tok_copy(&ps->tok, rule, sizeof(rule));
		if (ps_next(ps))
			return -1;
		if (ps->tok.kind != TOK_ASSIGN)
			return ps_terr(ps, &ps->tok, "expected '=' after the rule %s, found %s",
				       rule, SHOW(&ps->tok));
		if (ps_next(ps))
			return -1;
		if (ps->tok.kind != TOK_IDENT)
			return ps_terr(ps, &ps->tok, "expected a value of the rule %s, found %s",
				       rule, SHOW(&ps->tok));
		ps_tok_copy(&ps->tok, value, sizeof(value));
		if ((size_t)snprintf(ps->s->policy + used, sizeof(ps->s->policy) - used, "+%s=%s",
				     rule, value) >= sizeof(ps->s->policy) - used)
			return ps_terr(ps, &name, "the rule set is longer than %d characters",
				       COW_POLICY_NAME_MAX - 1);
		if (ps_next(ps))
			return -1;
	}
	/* Checked here, as expect lines are, so that the message points at
	 * the name rather than coming from the run without a position. */
	if (!cow_policy_find(ps->s->policy)) {
		struct suggest sg = {.t = &name};
		char why[256];

		if (strchr(ps->s->policy, '+') &&
		    cow_policy_check(ps->s->policy, why, sizeof(why)) != 0 &&
		    strncmp(why, "unknown preset", 14) != 0)
			return ps_terr(ps, &name, "policy %s: %s", ps->s->policy, why);
		for (int i = 0; i < cow_policy_count(); i++)
			ps_suggest_try(&sg, cow_policy_name(cow_policy_at(i)));
		return ps_terr(ps, &name, "unknown policy '%.*s'%s (cowlab policies lists them)",
			       (int)strcspn(ps->s->policy, "+"), ps->s->policy, SUGGESTION(&sg));
	}
	return ps_expect_eol(ps, "the policy name");
}

/* expect VERDICT PRESET [PRESET...]: what history documents for this
 * scenario under each preset.  A preset must exist and be named once in
 * all the expect lines, so that the matrix has one expectation a cell. */
static int parse_expect(struct parser *ps)
{
	struct scenario *s = ps->s;
	struct token kw = ps->tok, vt;
	struct suggest sg = {.t = &ps->tok};
	int verdict = -1, nr_verdicts;
	const char *const *expect_verdicts = scen_expect_verdicts(&nr_verdicts);

	if (ps->seen_process)
		return ps_terr(ps, &kw, "'expect' must come before the first process or thread");
	if (ps_next(ps))
		return -1;
	vt = ps->tok;
	for (int i = 0; i < nr_verdicts; i++)
		if (ps_tok_is(&vt, expect_verdicts[i]))
			verdict = i;
	if (verdict < 0) {
		if (vt.kind == TOK_IDENT)
			ps_suggest_list(&sg, expect_verdicts, (size_t)nr_verdicts);
		return ps_terr(ps, &vt,
			       "expected a verdict after 'expect' (pass, corrupt, leak, desync, "
			       "overwrite, crash, error or skip), found %s%s",
			       SHOW(&vt), SUGGESTION(&sg));
	}
	if (ps_next(ps))
		return -1;
	if (ps->tok.kind == TOK_EOL)
		return ps_terr(
			ps, &ps->tok,
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
			return ps_terr(ps, t, "expected a preset name like linux-6.5, found %s",
				       SHOW(t));
		ps_tok_copy(t, name, sizeof(name));
		if (!cow_policy_find(name)) {
			sg = (struct suggest){.t = t};
			for (int i = 0; i < cow_policy_count(); i++)
				ps_suggest_try(&sg, cow_policy_name(cow_policy_at(i)));
			return ps_terr(ps, t, "unknown preset %s%s (see 'cowlab policies')",
				       SHOW(t), SUGGESTION(&sg));
		}
		dup = ps_find_expect(s, name);
		if (dup >= 0)
			return ps_terr(ps, t,
				       "a second expectation for '%s': the first is at line %d",
				       name, s->expects[dup].loc.line);
		p = ps_grow(s->expects, s->nr_expects, &ps->expects_cap, sizeof(*s->expects));
		if (!p)
			return ps_nomem(ps);
		s->expects = p;
		e = &s->expects[s->nr_expects++];
		snprintf(e->preset, sizeof(e->preset), "%s", name);
		snprintf(e->verdict, sizeof(e->verdict), "%s", expect_verdicts[verdict]);
		e->loc = ps_tok_loc(ps, t);
		if (ps_next(ps))
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

	if (ps_next(ps))
		return -1;
	nt = ps->tok;
	if (ps_expect_name(ps, "a file name after 'file'"))
		return -1;
	idx = ps_find_file(ps, &nt);
	if (idx >= 0)
		return ps_terr(ps, &nt, "file '%s' is already declared at line %d",
			       s->files[idx].name, ps->file_loc[idx].line);
	if (ps_name_clash(ps, &nt))
		return -1;
	if (s->nr_files >= MAX_FILES)
		return ps_terr(ps, &nt, "too many files: a scenario has at most %d", MAX_FILES);
	if (ps_next(ps))
		return -1;
	st = ps->tok;
	if (ps_parse_size(ps, &size, "a size like 8K or 2 pages after the file name"))
		return -1;
	if (size == 0)
		return ps_terr(ps, &st, "a file needs a size above 0");
	if (size > MAX_FILE_SIZE)
		return ps_terr(ps, &st, "a file is at most 64M (%lu bytes)", MAX_FILE_SIZE);
	p = ps_grow(s->files, s->nr_files, &ps->files_cap, sizeof(*s->files));
	if (!p)
		return ps_nomem(ps);
	s->files = p;
	idx = s->nr_files++;
	f = &s->files[idx];
	ps_tok_copy(&nt, f->name, SCEN_NAME_MAX);
	f->size = (unsigned long)size;
	ps->file_loc[idx] = ps_tok_loc(ps, &nt);
	if (ps_tok_is(&ps->tok, "fill")) {
		if (ps_next(ps))
			return -1;
		if (ps->tok.kind != TOK_ASSIGN)
			return ps_terr(ps, &ps->tok, "expected '=' after 'fill', found %s",
				       SHOW(&ps->tok));
		if (ps_next(ps) || ps_parse_byte(ps, &s->files[idx].fill))
			return -1;
	}
	if (ps->tok.kind != TOK_EOL)
		return ps_terr(ps, &ps->tok,
			       "unexpected %s: a file is declared as 'file NAME SIZE [fill=BYTE]'",
			       SHOW(&ps->tok));
	return 0;
}

static int parse_process(struct parser *ps)
{
	struct token nt;
	int proc;

	if (ps_next(ps))
		return -1;
	nt = ps->tok;
	if (ps_expect_name(ps, "a process name after 'process'") || ps_next(ps) ||
	    ps_expect_eol(ps, "the process name"))
		return -1;
	proc = ps_find_proc(ps, &nt);
	if (proc >= 0 && ps->pp[proc].exited)
		return ps_terr(ps, &nt,
			       "process '%s' exited at line %d: it cannot have another block",
			       ps->s->procs[proc].name, ps->pp[proc].exit_loc.line);
	if (proc < 0 && ps_name_clash(ps, &nt))
		return -1;
	if (proc < 0)
		proc = ps_add_proc(ps, &nt);
	if (proc < 0)
		return -1;
	ps->seen_process = true;
	return push_block(ps, BLK_PROC, proc, -1);
}

static int top_statement(struct parser *ps, struct block *b)
{
	const struct token *t = &ps->tok;
	struct suggest sg = {.t = t};

	if (ps_tok_is(t, "system"))
		return parse_system(ps);
	if (ps_tok_is(t, "policy"))
		return parse_policy(ps);
	if (ps_tok_is(t, "expect"))
		return parse_expect(ps);
	if (ps_tok_is(t, "file"))
		return parse_file(ps);
	if (ps_tok_is(t, "process"))
		return parse_process(ps);
	if (ps_tok_is(t, "thread"))
		return parse_thread(ps, b);
	if (ps_tok_is(t, "join"))
		return parse_join(ps, b);
	if (ps_op_kind(t) >= 0)
		return ps_terr(ps, t,
			       "%s must be inside a process block: start one with 'process NAME' "
			       "above it",
			       SHOW(t));
	ps_suggest_list(&sg, ps_top_words, PS_NR_TOP_WORDS);
	return ps_terr(ps, t,
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
			return ps_lerr(ps, ps->s->threads[b->thread].loc,
				       "thread '%s' has no operations: indent them under it, or "
				       "write one on the same line",
				       ps->s->threads[b->thread].name);
		if (b->group)
			return ps_lerr(ps, loc,
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

	if (close_blocks(ps, indent, ps_tok_loc(ps, t)))
		return -1;
	b = &ps->stack[ps->depth];
	if (b->prev_indent >= 0 && indent > b->prev_indent)
		return ps_terr(ps, t,
			       "unexpected indentation: the line above does not open a block");
	b->prev_indent = indent;
	ps->nr_statements++;
	if (t->kind != TOK_IDENT)
		return ps_terr(ps, t, "expected a statement or an operation, found %s", SHOW(t));
	if (b->group && !ps_tok_is(t, "thread") && !ps_tok_is(t, "join"))
		return ps_terr(ps, t,
			       "the thread group that starts at line %d is not joined: expected "
			       "'join' or another 'thread' here",
			       b->group_loc.line);
	switch (b->kind) {
	case BLK_TOP: return top_statement(ps, b);
	case BLK_PROC:
		if (ps_tok_is(t, "join"))
			return parse_join(ps, b);
		if (ps->pp[b->proc].exited && (ps_tok_is(t, "thread") || ps_op_kind(t) >= 0))
			return ps_terr(
				ps, t,
				"process '%s' exited at line %d: nothing can follow 'exit' in "
				"its block",
				ps->s->procs[b->proc].name, ps->pp[b->proc].exit_loc.line);
		if (ps_tok_is(t, "thread"))
			return parse_thread(ps, b);
		c = (struct ctx){.proc = b->proc, .thread = -1};
		return op_statement(ps, &c);
	case BLK_THREAD:
		c = (struct ctx){.proc = b->proc, .thread = b->thread};
		return op_statement(ps, &c);
	case BLK_REPEAT:
	case BLK_FORK:
		if (ps_tok_is(t, "thread") || ps_tok_is(t, "join"))
			return ps_terr(ps, t,
				       "a thread group cannot start %s: put the repeat inside "
				       "the threads",
				       b->kind == BLK_REPEAT ? "inside repeat"
							     : "in a fork's body");
		if (ps->pp[b->proc].exited && ps_op_kind(t) >= 0)
			return ps_terr(
				ps, t,
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
		if (ps_next(ps) || statement(ps))
			return -1;
	if (r < 0)
		return -1;
	lex_eof_loc(&ps->lx, &eof);
	if (close_blocks(ps, -1, eof))
		return -1;
	if (top->group)
		return ps_lerr(ps, eof,
			       "the thread group that starts at line %d is not joined: add 'join' "
			       "after its last thread",
			       top->group_loc.line);
	if (ps->nr_statements == 0)
		return ps_lerr(ps, (struct scen_loc){1, 1},
			       "the scenario is empty: it needs at least one process");
	if (ps->s->nr_procs == 0)
		return ps_lerr(ps, (struct scen_loc){1, 1},
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
	ps = ps_alloc_hook(NULL, sizeof(*ps));
	s = ps_alloc_hook(NULL, sizeof(*s));
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

	if (len <= SCEN_MAX_FILE) {
		s->text = ps_alloc_hook(NULL, len + 1);
		if (!s->text) {
			free(ps);
			scen_free(s);
			if (err && errlen)
				snprintf(err, errlen, "%s: out of memory", path);
			return COW_ENOMEM;
		}
		if (len) /* text may be NULL then */
			memcpy(s->text, text, len);
		s->text[len] = '\0';
		s->text_len = len;
	}
	if (len > SCEN_MAX_FILE)
		rc = ps_lerr(ps, (struct scen_loc){1, 1},
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
