/*
 * scen_check (scenario.h): a parsed scenario against what the parser's
 * rules (N1..N10, parser.c) promise the executors, from the structure
 * (indices, spaces, bounds, groups taking the threads in order) down to
 * each operation (validate_WORD, after ops.def).  The tests and the fuzz
 * target run it on every scenario the parser returns, and on damaged
 * copies, which it must refuse.
 */
#include "scenario/parse.h"

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

/* What scen_check asks of each operation (validate_WORD, after ops.def):
 * op, of the main thread of op->proc (thread -1) or of thread number
 * `thread`, standing where flags (VB_*) say. */
#define RW (COW_PROT_READ | COW_PROT_WRITE)

/* A page-aligned range of a mapping (N5). */
static int aligned_range(struct vstate *v, const struct scen_op *op, const struct scen_range *r)
{
	if (check_range(v, r, SPACE_MAP))
		return COW_ECORRUPT;
	if (r->off % PAGE_SIZE)
		return vfail(v, "%d:%d: an unaligned offset", op->loc.line, op->loc.col);
	return 0;
}

static int validate_map(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	const struct scenario *s = v->s;

	(void)thread;
	(void)flags;
	if (op->map.name < 0 || op->map.name >= s->nr_maps ||
	    op->map.len != s->maps[op->map.name].len || (op->map.prot & ~RW) || op->map.file < -1 ||
	    op->map.file >= s->nr_files || (op->map.thp && (op->map.shared || op->map.file >= 0)) ||
	    (op->map.hugetlb && (op->map.file >= 0 || op->map.thp ||
				 op->map.len % SCEN_HPAGE_SIZE || s->hugepages == 0)))
		return vfail(v, "%d:%d: a bad map", op->loc.line, op->loc.col);
	return op->map.file >= 0 ? check_map_file(v, op) : 0;
}

/* write and poke: a range and the value stored into it (sigbus: write's
 * only). */
static int validate_write(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	(void)thread;
	(void)flags;
	if (op->write.sigbus && op->kind != OP_WRITE)
		return vfail(v, "%d:%d: a poke that expects SIGBUS", op->loc.line, op->loc.col);
	if (check_range(v, &op->write.range, SPACE_MAP))
		return COW_ECORRUPT;
	return check_value(v, &op->write.value, op->write.range.len);
}

static int validate_read(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	(void)thread;
	(void)flags;
	return check_range(v, &op->read.range, SPACE_MAP);
}

/* check and require (a page state only). */
static int validate_check(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	const struct scen_range *r = &op->check.range;

	(void)flags;
	v->checks += op->kind == OP_CHECK;
	if ((unsigned)op->check.verdict > VERDICT_OVERWRITE || (unsigned)op->check.cmp > CMP_LAST ||
	    (unsigned)r->space > SPACE_PIPE ||
	    (op->check.cmp >= CMP_FAULTS && r->space != SPACE_MAP) ||
	    (op->kind == OP_REQUIRE && !scen_cmp_is_page(op->check.cmp)))
		return vfail(v, "%d:%d: a bad check", op->loc.line, op->loc.col);
	if (op->check.cmp <= CMP_NE)
		return check_compare(v, op, thread);
	if (op->check.ranges || op->check.values)
		return vfail(v, "%d:%d: a page check with values", op->loc.line, op->loc.col);
	return check_range(v, r, SPACE_MAP);
}

static int validate_repeat(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	(void)thread;
	(void)flags;
	if (op->repeat.count < 1 || op->repeat.count > SCEN_MAX_REPEAT ||
	    op->repeat.host_count < 1 || op->repeat.host_count > SCEN_MAX_REPEAT ||
	    op->repeat.nr < 1)
		return vfail(v, "%d:%d: a bad repeat", op->loc.line, op->loc.col);
	return 0;
}

static int validate_fork(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	const struct scenario *s = v->s;

	(void)thread;
	if (op->fork.child < 0 || op->fork.child >= s->nr_procs || op->fork.child == op->proc ||
	    op->fork.nr < 0 || v->exited[op->fork.child] ||
	    (op->fork.nr == 0 && (flags & VB_ANY_LOOP)))
		return vfail(v, "%d:%d: a bad fork", op->loc.line, op->loc.col);
	return 0;
}

static int validate_exit(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	if ((thread >= 0 && !(flags & VB_CHILD)) || (flags & VB_LOOP))
		return vfail(v, "%d:%d: exit in a thread or a repeat", op->loc.line, op->loc.col);
	v->exited[op->proc] = true;
	return 0;
}

/* munmap, swapout and uffd_continue share read's operands, without its
 * sigbus. */
static int no_sigbus(struct vstate *v, const struct scen_op *op)
{
	if (op->read.sigbus)
		return vfail(v, "%d:%d: expects SIGBUS", op->loc.line, op->loc.col);
	return 0;
}

static int validate_munmap(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	(void)thread;
	(void)flags;
	return no_sigbus(v, op) || aligned_range(v, op, &op->munmap.range) ? COW_ECORRUPT : 0;
}

static int validate_mprotect(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	(void)thread;
	(void)flags;
	if (op->mprotect.prot & ~RW)
		return vfail(v, "%d:%d: a bad protection", op->loc.line, op->loc.col);
	return aligned_range(v, op, &op->mprotect.range);
}

static int validate_madvise(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	int a = op->madvise.advice;

	(void)thread;
	(void)flags;
	if (a != COW_MADV_DONTNEED && a != COW_MADV_DONTFORK && a != COW_MADV_DOFORK &&
	    a != COW_MADV_MERGEABLE && a != COW_MADV_UNMERGEABLE && a != COW_MADV_HUGEPAGE &&
	    a != COW_MADV_NOHUGEPAGE)
		return vfail(v, "%d:%d: a bad advice", op->loc.line, op->loc.col);
	return aligned_range(v, op, &op->madvise.range);
}

/* swapout and uffd_continue: a page-aligned range. */
static int validate_swapout(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	(void)thread;
	(void)flags;
	return no_sigbus(v, op) || aligned_range(v, op, &op->swapout.range) ? COW_ECORRUPT : 0;
}

/* dio_read and dio_write. */
static int validate_dio(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	(void)thread;
	(void)flags;
	return check_dio(v, op);
}

/* wait, ksm_merge, clear_refs, khugepaged: nothing to check. */
static int validate_nothing(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	(void)v;
	(void)op;
	(void)thread;
	(void)flags;
	return 0;
}

static int validate_pin(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	(void)flags;
	if (vref_make(v, op, thread, true, op->pin.pin, op->pin.mem.len))
		return COW_ECORRUPT;
	return aligned_range(v, op, &op->pin.mem);
}

static int validate_unpin(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	const struct scenario *s = v->s;

	(void)flags;
	if (op->unpin.pin >= 0 && op->unpin.pin < s->nr_pins &&
	    s->pins[op->unpin.pin].proc != op->proc)
		return vfail(v, "%d:%d: unpins another process's pin", op->loc.line, op->loc.col);
	return vref_use(v, op, thread, true, op->unpin.pin, true);
}

static int validate_vmsplice(struct vstate *v, const struct scen_op *op, int thread, unsigned flags)
{
	(void)flags;
	if (check_range(v, &op->splice.mem, SPACE_MAP))
		return COW_ECORRUPT;
	return vref_make(v, op, thread, false, op->splice.pipe, op->splice.mem.len);
}

static int validate_pipe_read(struct vstate *v, const struct scen_op *op, int thread,
			      unsigned flags)
{
	const struct scenario *s = v->s;

	(void)flags;
	if (check_range(v, &op->splice.mem, SPACE_MAP) ||
	    vref_use(v, op, thread, false, op->splice.pipe, true))
		return COW_ECORRUPT;
	if (op->splice.mem.len != s->pipes[op->splice.pipe].len)
		return vfail(v, "%d:%d: reads %lu bytes of a pipe into %lu", op->loc.line,
			     op->loc.col, s->pipes[op->splice.pipe].len, op->splice.mem.len);
	return 0;
}

#define validate_poke validate_write
#define validate_require validate_check
#define validate_uffd_continue validate_swapout
#define validate_dio_read validate_dio
#define validate_dio_write validate_dio
#define validate_wait validate_nothing
#define validate_ksm_merge validate_nothing
#define validate_clear_refs validate_nothing
#define validate_khugepaged validate_nothing

typedef int validate_fn(struct vstate *v, const struct scen_op *op, int thread, unsigned flags);

static validate_fn *const validators[] = {
#define OP(kind, word, flags, ...) [OP_##kind] = validate_##word,
#include "scenario/ops.def"
#undef OP
};

/* One operation, of the main thread of op->proc (thread -1) or of thread
 * number `thread`; want: the process that must run it (-1: any), flags:
 * VB_*. */
static int check_op(struct vstate *v, const struct scen_op *op, int thread, int want,
		    unsigned flags)
{
	const struct scenario *s = v->s;

	if (op->proc < 0 || op->proc >= s->nr_procs)
		return vfail(v, "%d:%d: op of process %d of %d", op->loc.line, op->loc.col,
			     op->proc, s->nr_procs);
	if (want >= 0 && op->proc != want)
		return vfail(v, "%d:%d: an op runs in process %d, not %d", op->loc.line,
			     op->loc.col, op->proc, want);
	if (v->exited[op->proc])
		return vfail(v, "%d:%d: an op of process '%s' after its exit", op->loc.line,
			     op->loc.col, s->procs[op->proc].name);
	if (op->kind == OP_GROUP)
		return vfail(v, "%d:%d: a group inside a thread", op->loc.line, op->loc.col);
	if ((unsigned)op->kind >= ARRAY_SIZE(validators))
		return vfail(v, "op kind %d", (int)op->kind);
	return validators[op->kind](v, op, thread, flags);
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
	int nr_verdicts;
	const char *const *expect_verdicts = scen_expect_verdicts(&nr_verdicts);

	if (s->nr_expects < 0 || (s->nr_expects > 0 && !s->expects))
		return vfail(v, "bad expectation count");
	for (int i = 0; i < s->nr_expects; i++) {
		const struct scen_expect *e = &s->expects[i];
		bool known = false;

		for (int j = 0; j < nr_verdicts; j++)
			known |= strcmp(e->verdict, expect_verdicts[j]) == 0;
		if (!name_ok(e->preset) || !cow_policy_find(e->preset) || !known)
			return vfail(v, "%d:%d: expectation %d is bad", e->loc.line, e->loc.col, i);
		if (ps_find_expect(s, e->preset) != i)
			return vfail(v, "%d:%d: a second expectation for '%s'", e->loc.line,
				     e->loc.col, e->preset);
	}
	return 0;
}

/* May an operation of this kind stand where flags (VB_*) say?  Not what
 * is made once or outlives a pass (parser.c's misplaced). */
static bool body_allows(const struct scen_op *op, unsigned flags)
{
	unsigned opf;

	if (op->kind == OP_GROUP)
		return !(flags & (VB_LOOP | VB_CHILD));
	if ((unsigned)op->kind >= SCEN_NR_OP_WORDS)
		return true; /* check_op refuses it */
	opf = scen_op_info(op->kind)->flags;
	if (opf & OPF_ONCE)
		return !(flags & (VB_LOOP | VB_CHILD));
	return !((opf & OPF_NO_REPEAT) && (flags & VB_LOOP));
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
	    s->frames > MAX_FRAMES || s->swap_slots > MAX_FRAMES ||
	    s->hugepages > SCEN_MAX_HUGEPAGES ||
	    (s->frames && s->frames < s->hugepages * (SCEN_HPAGE_SIZE / PAGE_SIZE)))
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
