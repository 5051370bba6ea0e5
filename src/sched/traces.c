/*
 * Counting the distinct Mazurkiewicz traces a search ran (--count-traces).
 *
 * A run's trace is named by its Foata normal form over the conflict
 * relation (sched_conflict): each step gets a level, one more than the
 * highest level of the earlier steps it depends on (its task's previous
 * step, and every earlier step of another task it conflicts with), and the
 * form is the set of (level, task, operation) of the steps.  Two schedules
 * of one trace order only independent steps differently, so they give
 * every step the same level: the form is a function of the trace.  The
 * form is hashed as a sum of one hash per step, so no sort is needed, and
 * the levels are computed as the run goes, in time and memory linear in
 * its steps.
 *
 * Names are what keep it a function of the trace.  Tasks are named as dpor
 * names them, by who spawned them and in which order (task numbers follow
 * spawn order, which can change with the interleaving).  Objects are not
 * named at all, since their addresses differ between runs: two traces that
 * differ only in which objects their steps touched, level for level, share
 * a form.  So the count is a lower bound on the traces run, and it equals
 * the runs counted exactly when no two of them share a form; no run
 * repeated a trace then.  The set has a digest, a sum of one hash per
 * form: two searches that ran the same traces have the same digest, in
 * whatever order they ran them.
 */
#include "explore_impl.h"

#include <stdlib.h>
#include <string.h>

/* The levels of the steps on one object so far: the highest of its
 * writes, and the highest of all its steps (a write depends on both). */
struct obj_levels {
	const void *obj;
	uint32_t write, any;
};

struct trace_count {
	struct fp_set forms;
	uint64_t digest; /* the sum of the set's forms */
	struct sched *s;
	/* The run in progress. */
	uint64_t form;
	uint64_t steps; /* seen: fewer than the run's if the hook was replaced */
	int known;	/* tasks named so far */
	int last;	/* the task of the previous step, -1 */
	uint64_t name[SCHED_MAX_TASKS];
	uint32_t spawned[SCHED_MAX_TASKS + 1]; /* children per task; [MAX]: setup */
	uint32_t level[SCHED_MAX_TASKS];       /* of each task's last step */
	uint32_t device, dma, swap, rcu, top;  /* the highest of those and of all */
	struct obj_levels *objs;
	size_t objs_cap, objs_nr;
	bool overflow; /* no memory for the objects: the form is not counted */
};

static size_t obj_slot(const struct obj_levels *t, size_t cap, const void *obj)
{
	size_t i = (size_t)cow_mix64((uintptr_t)obj) & (cap - 1);

	while (t[i].obj && t[i].obj != obj)
		i = (i + 1) & (cap - 1);
	return i;
}

static struct obj_levels *obj_find(struct trace_count *tc, const void *obj)
{
	size_t i;

	if ((tc->objs_nr + 1) * 4 > tc->objs_cap * 3) {
		size_t cap = tc->objs_cap ? 2 * tc->objs_cap : 1024;
		struct obj_levels *t = calloc(cap, sizeof(*t));

		if (!t)
			return NULL;
		for (size_t j = 0; j < tc->objs_cap; j++)
			if (tc->objs[j].obj)
				t[obj_slot(t, cap, tc->objs[j].obj)] = tc->objs[j];
		free(tc->objs);
		tc->objs = t;
		tc->objs_cap = cap;
	}
	i = obj_slot(tc->objs, tc->objs_cap, obj);
	if (!tc->objs[i].obj) {
		tc->objs[i].obj = obj;
		tc->objs_nr++;
	}
	return &tc->objs[i];
}

static void run_start(struct trace_count *tc)
{
	tc->form = 0;
	tc->steps = 0;
	tc->known = 0;
	tc->last = -1;
	tc->device = tc->dma = tc->swap = tc->rcu = tc->top = 0;
	tc->overflow = false;
	memset(tc->spawned, 0, sizeof(tc->spawned));
	if (tc->objs_nr) {
		memset(tc->objs, 0, tc->objs_cap * sizeof(*tc->objs));
		tc->objs_nr = 0;
	}
}

static uint32_t max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* The sched trace hook: the level of each step as it is taken. */
static void trace_step(void *arg, struct sched *s, int task, enum sync_op op, const void *obj,
		       bool after)
{
	struct trace_count *tc = arg;
	uint32_t l;

	if (after)
		return;
	if (sched_steps(s) == 0)
		run_start(tc);
	tc->steps++;
	/* Tasks spawned since the last step: by its task, or by the setup. */
	for (; tc->known < sched_nr_tasks(s); tc->known++) {
		int p = tc->last < 0 ? SCHED_MAX_TASKS : tc->last;
		uint64_t parent = tc->last < 0 ? 0 : tc->name[tc->last];

		tc->name[tc->known] = cow_mix64(parent * 31 + tc->spawned[p]++ + 1);
		tc->level[tc->known] = 0;
	}
	l = tc->level[task];
	if (op == SYNC_DEVICE) {
		l = max32(l, tc->top);
	} else if (op == SYNC_RCU) {
		l = max32(l, max32(tc->device, tc->rcu));
	} else if (op != SYNC_YIELD) {
		struct obj_levels *o = obj_find(tc, obj);

		if (!o) {
			tc->overflow = true;
			return;
		}
		l = max32(l, max32(tc->device, op == SYNC_READ ? o->write : o->any));
		if (op == SYNC_DMA)
			l = max32(l, tc->dma);
		else if (op == SYNC_SWAP)
			l = max32(l, tc->swap);
		l++;
		if (op != SYNC_READ)
			o->write = l;
		o->any = max32(o->any, l);
		l--;
	}
	l++;
	if (op == SYNC_DEVICE)
		tc->device = l;
	else if (op == SYNC_RCU)
		tc->rcu = l;
	else if (op == SYNC_DMA)
		tc->dma = l;
	else if (op == SYNC_SWAP)
		tc->swap = l;
	tc->level[task] = l;
	tc->top = max32(tc->top, l);
	tc->last = task;
	tc->form += cow_mix64(cow_mix64(tc->name[task] ^ ((uint64_t)l << 8)) + (uint64_t)op);
}

struct trace_count *trace_count_new(struct sched *s)
{
	struct trace_count *tc = calloc(1, sizeof(*tc));

	if (tc) {
		tc->s = s;
		sched_set_trace(s, trace_step, tc);
	}
	return tc;
}

void trace_count_free(struct trace_count *tc)
{
	if (!tc)
		return;
	free(tc->forms.slot);
	free(tc->objs);
	free(tc);
}

int trace_count_add(struct trace_count *tc)
{
	int added;

	if (tc->overflow)
		return COW_ENOMEM;
	/* The program set a trace hook of its own (a test's recorder). */
	if (tc->steps != sched_steps(tc->s))
		return COW_EINVAL;
	added = fp_add(&tc->forms, tc->form, SIZE_MAX);
	if (added < 0)
		return added;
	if (added)
		tc->digest += cow_mix64(tc->form | 1);
	return 0;
}

uint64_t trace_count_nr(const struct trace_count *tc, uint64_t *digest)
{
	*digest = tc->digest;
	return tc->forms.nr;
}

uint64_t *trace_count_forms(const struct trace_count *tc)
{
	uint64_t *v = malloc((tc->forms.nr + 1) * sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; v && i < tc->forms.cap; i++)
		if (tc->forms.slot[i])
			v[n++] = tc->forms.slot[i];
	return v;
}
