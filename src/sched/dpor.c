/*
 * Optimal dynamic partial-order reduction (Abdulla, Aronis, Jonsson and
 * Sagonas, "Source sets: a foundation for optimal dynamic partial order
 * reduction", JACM 64(4), 2017: Algorithm 2, with wakeup trees), over the
 * conflict relation of explore.h.  docs/explorer.md gives the argument
 * that it is complete and what it rests on; this comment says how the
 * algorithm maps onto cowlab's scheduler.
 *
 * Events.  An event is one step: the task the scheduler runs and the
 * operation it declared at its last yield point (sched_pending), which the
 * step performs before running on to its next yield point.  Two events
 * conflict when sched_conflict says so or when one task makes the other
 * runnable again: a task that blocked (a lock taken, a bit set, a grace
 * period pending) and becomes runnable after step k has step k as its
 * enabler, which orders its next step after k like a conflict (an
 * enabling step is never reordered after the step it enables).  The first
 * step of a task comes after the step that spawned it.  Happens-before is
 * the transitive closure of program order, conflicts, enabling and
 * spawning, computed per run with vector clocks.
 *
 * Tasks across runs.  The scheduler numbers tasks in spawn order, which
 * differs between interleavings once tasks spawn tasks (a device per
 * direct I/O).  Wakeup sequences therefore name tasks by a stable name:
 * who spawned them and how many tasks their spawner had spawned before
 * (the tasks of setup are spawned by no one).  Runs translate.
 *
 * The search.  A stateless depth-first search over a stack of nodes, one
 * per state of the current run (the state before step i).  A node keeps
 * the tasks runnable there, its sleep set on arrival, the tasks whose
 * subtrees it has explored, the task the current run takes, and its
 * wakeup tree: the sequences still to explore from it, in order.  A run
 * replays the stack's prefix, takes the branch chosen at its last node,
 * follows the wakeup subtree handed down from it, and beyond that takes
 * the default choice (sched.h) if it is not asleep, else the lowest task
 * awake.  At its end the run's races are reversed: for each pair of
 * conflicting steps e < e' of different tasks with nothing ordering them
 * but the schedule (e' comes right after e in happens-before), the
 * sequence v of the steps after e that do not happen after it, then e's
 * race partner e', is inserted into the wakeup tree of the node before e,
 * unless a task asleep there starts v (it would repeat a trace).  A task
 * that could run before step e, did not take it and cannot run after it
 * was disabled by e (e took the lock it was about to take): e and the
 * task's next step are a race too, however much lies between them.  The
 * paper also skips v when a sleeping task merely commutes with all of v;
 * with steps that block, that stronger test lost traces on the tests'
 * lock programs, and the initials test is kept (docs/explorer.md).
 * Then the deepest node with a sequence left takes its first one.
 *
 * Object addresses differ between runs (every run builds fresh state), so
 * every comparison of operations is made within one run: the pending
 * operations of a node's tasks are read again each time a run passes the
 * node, and a wakeup tree keeps only task names.  Inserting v below the
 * first level of a tree therefore knows the operation of a branch's step
 * only when its task has not stepped on the way down; where it cannot
 * tell, it does not take the branch as covering v, and adds v beside it.
 * That never loses a trace; it may cost a run that ends asleep (every
 * runnable task in the sleep set: a trace done already), which is cut
 * short, not counted, and counted as blocked.
 *
 * Where the program does not behave as the model of the algorithm says
 * (a task a sequence names cannot run where the sequence needs it:
 * waiting on something no declared operation touches), the run goes on
 * its own way and the search counts a divergence: it is then no longer
 * complete, and says so (dpor_exhaustive).
 */
#include "explore_impl.h"

#include <stdlib.h>
#include <string.h>

#define BIT(t) (1ull << (t))
#define NO_EVENT (-1)

/* A node of a wakeup tree: the next step of task st (a stable name). */
struct wt {
	uint32_t st;
	struct wt *child, *next; /* first child; next sibling, in order */
};

/* A stable task name: spawned by parent (a stable name, or -1 for the
 * program's setup) as its index-th spawn. */
struct stable_name {
	int parent, index;
};

/* A state of the current run: the one before step i. */
struct dnode {
	uint64_t enabled; /* runnable tasks (scheduler ids) */
	uint64_t sleep;	  /* sleep set on arrival */
	uint64_t done;	  /* tasks whose subtrees from here are explored */
	uint8_t chosen;	  /* the task the current run takes */
	struct wt *wut;	  /* sequences still to explore from here */
	uint32_t pend;	  /* first of its tasks' pending operations in pends[] */
	uint8_t nr_pend;
};

/* A pending operation of a runnable task at some node (this run). */
struct pend {
	uint8_t task;
	uint8_t op;
	const void *obj;
};

/* A step of the current run. */
struct event {
	uint8_t task;
	uint8_t op;
	uint32_t st;
	const void *obj;
	uint32_t seq;	  /* 1-based, among its task's steps */
	int32_t enabler;  /* the step that made its task runnable again */
	int32_t disabler; /* the last step that made it unable to run before */
	int32_t spawner;  /* for a task's first step: the step that spawned it */
};

/* Where the last steps on one object are, per task: the last step on it
 * and the last that writes, at pool[slot + q] and pool[slot + nt + q]. */
struct last_access {
	const void *obj;
	uint32_t slot;
	int32_t next; /* the next in its bucket, -1 */
};

#define BUCKETS 1024

struct race {
	int32_t i, j;
};

struct dpor {
	/* The search: the path of the last run and what the next one does. */
	struct dnode *nodes;
	size_t nr, cap;	   /* nodes of the path */
	size_t replay_len; /* nodes the next run replays; the last one branches */
	struct wt *follow; /* the wakeup subtree below the branch */
	bool done;
	uint64_t divergences; /* branches a run could not follow */
	/* Stable names seen in the search. */
	struct stable_name *names;
	uint32_t nr_names, names_cap;
	/* The run in progress. */
	struct event *ev;
	size_t nr_ev, ev_cap;
	struct pend *pends;
	size_t nr_pends, pends_cap;
	int ntasks;			    /* tasks spawned so far this run */
	uint32_t st_of[SCHED_MAX_TASKS];    /* stable name of each task */
	uint32_t nspawned[SCHED_MAX_TASKS]; /* tasks each task spawned */
	uint32_t setup_spawned;
	uint32_t seq[SCHED_MAX_TASKS];	  /* steps each task took */
	int32_t enabler[SCHED_MAX_TASKS]; /* for its next step */
	int32_t disabler[SCHED_MAX_TASKS];
	int32_t spawner[SCHED_MAX_TASKS];
	uint64_t prev_enabled;
	uint64_t sleep;
	size_t pos;
	bool frozen, blocked_run;
	int err;
	/* The race analysis' memory, kept from run to run. */
	uint32_t *vc;
	size_t vc_cap;
	int32_t *v, *next;
	size_t v_cap, next_cap;
	int32_t *tpos; /* each task's steps, task by task (struct analysis) */
	size_t tpos_cap;
	struct race *races;
	size_t races_cap, nr_races;
	size_t vc_m, vc_nt; /* the clocks in vc: of so many steps and tasks */
	int32_t bucket[BUCKETS];
	struct last_access *la;
	size_t nr_la, la_cap;
	int32_t *pool;
	size_t pool_cap;
};

/* ---- wakeup trees --------------------------------------------------------------- */

static void wt_free(struct wt *t)
{
	while (t) {
		struct wt *next = t->next;

		wt_free(t->child);
		free(t);
		t = next;
	}
}

/* ---- setup and teardown ------------------------------------------------------------ */

struct dpor *dpor_new(void)
{
	return calloc(1, sizeof(struct dpor));
}

void dpor_free(struct dpor *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nr; i++)
		wt_free(d->nodes[i].wut);
	wt_free(d->follow);
	free(d->nodes);
	free(d->names);
	free(d->ev);
	free(d->pends);
	free(d->vc);
	free(d->v);
	free(d->next);
	free(d->tpos);
	free(d->races);
	free(d->la);
	free(d->pool);
	free(d);
}

bool dpor_done(const struct dpor *d)
{
	return d->done;
}

bool dpor_exhaustive(const struct dpor *d)
{
	return d->done && d->divergences == 0;
}

uint64_t dpor_divergences(const struct dpor *d)
{
	return d->divergences;
}

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 64;
	void *n;

	if (need <= *cap)
		return p;
	while (c < need)
		c *= 2;
	n = realloc(p, c * size);
	if (n)
		*cap = c;
	return n;
}

/* The stable name of the index-th task spawned by parent (-1: setup). */
static int stable_name(struct dpor *d, int parent, int index)
{
	struct stable_name *n;

	for (uint32_t i = 0; i < d->nr_names; i++)
		if (d->names[i].parent == parent && d->names[i].index == index)
			return (int)i;
	if (d->nr_names == d->names_cap) {
		uint32_t cap = d->names_cap ? 2 * d->names_cap : 64;

		n = realloc(d->names, cap * sizeof(*n));
		if (!n)
			return -1;
		d->names = n;
		d->names_cap = cap;
	}
	d->names[d->nr_names] = (struct stable_name){parent, index};
	return (int)d->nr_names++;
}

/* The scheduler id of stable name st in this run, or -1. */
static int task_of(const struct dpor *d, uint32_t st)
{
	for (int t = 0; t < d->ntasks; t++)
		if (d->st_of[t] == st)
			return t;
	return -1;
}

/* ---- the run ----------------------------------------------------------------------- */

double dpor_fraction_done(const struct dpor *d)
{
	uint32_t *done, *total;
	double f;

	if (d->done)
		return 1;
	done = malloc(sizeof(*done) * (d->nr + 1));
	total = malloc(sizeof(*total) * (d->nr + 1));
	if (!done || !total) {
		free(done);
		free(total);
		return 0;
	}
	for (size_t i = 0; i < d->nr; i++) {
		const struct dnode *n = &d->nodes[i];
		uint32_t pending = 0;

		for (const struct wt *w = n->wut; w; w = w->next)
			pending++; /* branches still to explore from here */
		/* done never holds the choice in progress (or about to run) */
		done[i] = (uint32_t)__builtin_popcountll(n->done & ~BIT(n->chosen));
		total[i] = done[i] + 1 + pending;
	}
	f = explore_fraction(done, total, d->nr);
	free(done);
	free(total);
	return f;
}

bool dpor_next(struct dpor *d, struct explore_token *t)
{
	if (d->done)
		return false;
	d->nr_ev = 0;
	d->nr_pends = 0;
	d->ntasks = 0;
	d->setup_spawned = 0;
	d->prev_enabled = 0;
	d->sleep = 0;
	d->pos = 0;
	d->frozen = false;
	d->blocked_run = false;
	d->err = 0;
	t->algo = SCHED_DPOR;
	t->nr_devs = 0;
	return true;
}

static void freeze(struct dpor *d, struct sched *s, int err)
{
	d->frozen = true;
	if (err)
		d->err = err;
	else
		sched_set_step_hook(s, NULL, NULL);
}

/* New tasks since the last step: spawned by that step's task (or by the
 * program's setup, before the first step). */
static int note_spawns(struct dpor *d, struct sched *s)
{
	int n = sched_nr_tasks(s);

	for (; d->ntasks < n; d->ntasks++) {
		int t = d->ntasks, parent = d->nr_ev ? d->ev[d->nr_ev - 1].task : -1;
		int st = stable_name(d, parent < 0 ? -1 : (int)d->st_of[parent],
				     parent < 0 ? (int)d->setup_spawned++
						: (int)d->nspawned[parent]++);

		if (st < 0)
			return COW_ENOMEM;
		d->st_of[t] = (uint32_t)st;
		d->nspawned[t] = 0;
		d->seq[t] = 0;
		d->enabler[t] = NO_EVENT;
		d->disabler[t] = NO_EVENT;
		d->spawner[t] = parent < 0 ? NO_EVENT : (int32_t)(d->nr_ev - 1);
	}
	return 0;
}

static const struct pend *node_pend(const struct dpor *d, const struct dnode *n, int task)
{
	for (unsigned int i = 0; i < n->nr_pend; i++)
		if (d->pends[n->pend + i].task == task)
			return &d->pends[n->pend + i];
	return NULL;
}

/* The tasks of mask whose pending operation at node n does not conflict
 * with task's. */
static uint64_t independent_of(const struct dpor *d, const struct dnode *n, uint64_t mask, int task)
{
	const struct pend *p = node_pend(d, n, task);
	uint64_t keep = 0;

	for (; mask; mask &= mask - 1) {
		int q = __builtin_ctzll(mask);
		const struct pend *pq = node_pend(d, n, q);

		if (p && pq && !sched_conflict(p->op, p->obj, pq->op, pq->obj))
			keep |= BIT(q);
	}
	return keep;
}

/* The first branch of a node's wakeup tree whose task can run here; the
 * others are divergences, dropped.  Detaches it: its subtree goes to
 * d->follow.  -1 if none is left. */
static int take_branch(struct dpor *d, struct dnode *n)
{
	while (n->wut) {
		struct wt *c = n->wut;
		int t = task_of(d, c->st);

		n->wut = c->next;
		if (t >= 0 && (n->enabled & BIT(t))) {
			wt_free(d->follow);
			d->follow = c->child;
			free(c);
			return t;
		}
		d->divergences++;
		c->next = NULL;
		wt_free(c);
	}
	return -1;
}

int dpor_director(void *arg, struct sched *s, const int *runnable, unsigned int n, int dflt)
{
	struct dpor *d = arg;
	uint64_t enabled = 0, woken;
	struct dnode *node;
	struct event *e;
	int choice = dflt, err;
	void *p;

	if (d->frozen)
		return dflt;
	/* The states up to the branch are the last run's, checked there
	 * (or, in its own replayed steps, before). */
	if (d->pos == 0)
		sched_check_from(s, d->replay_len);
	err = note_spawns(d, s);
	if (err) {
		freeze(d, s, err);
		return dflt;
	}
	for (unsigned int i = 0; i < n; i++)
		enabled |= BIT(runnable[i]);
	/* A task runnable again after it blocked: the last step enabled it.
	 * A task that could run before the last step, did not take it, and
	 * cannot run now: that step disabled it (it took the lock the task
	 * was about to take). */
	woken = enabled & ~d->prev_enabled;
	for (uint64_t m = woken; m; m &= m - 1) {
		int t = __builtin_ctzll(m);

		if (d->seq[t] > 0)
			d->enabler[t] = (int32_t)(d->nr_ev - 1);
	}
	if (d->nr_ev > 0)
		for (uint64_t m = d->prev_enabled & ~enabled & ~BIT(d->ev[d->nr_ev - 1].task); m;
		     m &= m - 1)
			d->disabler[__builtin_ctzll(m)] = (int32_t)(d->nr_ev - 1);
	d->prev_enabled = enabled;
	/* The node of this state: its pending operations, read in this run. */
	p = grow(d->pends, &d->pends_cap, d->nr_pends + SCHED_MAX_TASKS, sizeof(*d->pends));
	if (!p) {
		freeze(d, s, COW_ENOMEM);
		return dflt;
	}
	d->pends = p;
	if (d->pos < d->replay_len) {
		node = &d->nodes[d->pos];
		if (node->enabled != enabled) {
			freeze(d, s, COW_ECORRUPT);
			return dflt;
		}
	} else {
		p = grow(d->nodes, &d->cap, d->nr + 1, sizeof(*d->nodes));
		if (!p) {
			freeze(d, s, COW_ENOMEM);
			return dflt;
		}
		d->nodes = p;
		node = &d->nodes[d->nr++];
		memset(node, 0, sizeof(*node));
		node->enabled = enabled;
		node->sleep = d->sleep;
		node->wut = d->follow;
		d->follow = NULL;
	}
	/* The pending operations of the tasks that can run and of those
	 * asleep (a sleeper that cannot run now keeps its step). */
	node->pend = (uint32_t)d->nr_pends;
	node->nr_pend = 0;
	for (uint64_t m = enabled | d->sleep | node->sleep | node->done; m; m &= m - 1) {
		struct pend *pp = &d->pends[d->nr_pends++];
		int t = __builtin_ctzll(m);
		enum sync_op op;
		const void *obj;

		sched_pending(s, t, &op, &obj);
		*pp = (struct pend){(uint8_t)t, (uint8_t)op, obj};
		node->nr_pend++;
	}
	if (d->pos + 1 < d->replay_len) {
		choice = node->chosen; /* the prefix, as the last run took it */
	} else if (d->pos + 1 == d->replay_len) {
		/* The branch: its sleep set is what the node had, and the
		 * branches explored from it, where they commute with it. */
		choice = node->chosen;
		d->sleep = independent_of(d, node, node->sleep | node->done, choice);
	} else {
		choice = take_branch(d, node);
		if (choice < 0) {
			uint64_t awake = enabled & ~d->sleep;

			if (!awake) {
				/* Every runnable task sleeps: each run from
				 * here repeats a trace explored.  It goes on
				 * (it must end to be torn down) but adds
				 * nothing and does not count. */
				d->nr--;
				d->blocked_run = true;
				freeze(d, s, 0);
				return dflt;
			}
			choice = (awake & BIT(dflt)) ? dflt : __builtin_ctzll(awake);
		}
		node->chosen = (uint8_t)choice;
		d->sleep = independent_of(d, node, d->sleep, choice);
	}
	/* The step. */
	p = grow(d->ev, &d->ev_cap, d->nr_ev + 1, sizeof(*d->ev));
	if (!p) {
		freeze(d, s, COW_ENOMEM);
		return dflt;
	}
	d->ev = p;
	e = &d->ev[d->nr_ev++];
	{
		const struct pend *pc = node_pend(d, node, choice);

		e->task = (uint8_t)choice;
		e->st = d->st_of[choice];
		e->op = pc->op;
		e->obj = pc->obj;
		e->seq = ++d->seq[choice];
		e->enabler = d->enabler[choice];
		e->disabler = d->disabler[choice];
		e->spawner = e->seq == 1 ? d->spawner[choice] : NO_EVENT;
		d->enabler[choice] = NO_EVENT;
		d->disabler[choice] = NO_EVENT;
	}
	d->pos++;
	return choice;
}

/* ---- races ---------------------------------------------------------------------------- */

/* The race analysis of one run: vector clocks over its steps, and for each
 * task the number of its steps up to each position. */
struct analysis {
	struct dpor *d;
	size_t m;
	int nt;
	uint32_t *vc; /* [m][nt]: steps of each task that happen before, or are, step j */
	/* The sequence being reversed: v[0..len), after race (i, j), with
	 * the first removed[t] steps of each task t taken off (those are -1
	 * in v; left remain); first[t]: the index of t's first step left in
	 * v, and next[k] that of the one after v[k] (-1: none); upto[t]: the
	 * steps of task t at positions up to i. */
	int32_t *v, *next;
	int len, left;
	int32_t i, j;
	int32_t first[SCHED_MAX_TASKS];
	uint32_t removed[SCHED_MAX_TASKS], upto[SCHED_MAX_TASKS];
	/* The positions of task t's steps in the run, in order:
	 * tpos[tstart[t] .. tstart[t] + seq[t]). */
	const int32_t *tpos;
	uint32_t tstart[SCHED_MAX_TASKS];
};

#define VC(a, k) (&(a)->vc[(size_t)(k) * (size_t)(a)->nt])

/* Step x happens before (or is) step y. */
static bool hb(const struct analysis *a, int32_t x, int32_t y)
{
	const struct event *ex = &a->d->ev[x];

	return VC(a, y)[ex->task] >= ex->seq;
}

/* Whether task t's first step in v is an initial of v (no step of v before
 * it happens before it in the execution E'.v): 1 or 0, or -1 if t has no
 * step in v.  The steps of a task q in v are its steps after i that do not
 * happen after i (they are consecutive), less the removed[q] first, then
 * j.  Everything that happens before a step b of v other than j and comes
 * after i is in v, so b has a predecessor in v iff, for some q, b's clock
 * covers more steps of q than i's position and the removed ones.  j is
 * different: in E its past may run through steps that happen after i,
 * which v leaves out; in v it comes after the steps of v it depends on
 * directly (same task, a conflict, its enabler or spawner). */
static int initial(const struct analysis *a, int t)
{
	const uint32_t *upto = a->upto;
	const struct event *ej = &a->d->ev[a->j];
	int32_t k = a->first[t], b;

	if (k < 0)
		return -1;
	b = a->v[k];
	if (b == a->j) {
		for (int32_t l = 0; l < k; l++) {
			const struct event *e;

			if (a->v[l] < 0)
				continue;
			e = &a->d->ev[a->v[l]];
			if (e->task == ej->task || a->v[l] == ej->enabler ||
			    a->v[l] == ej->spawner ||
			    sched_conflict(e->op, e->obj, ej->op, ej->obj))
				return 0;
		}
		return 1;
	}
	for (int q = 0; q < a->nt; q++)
		if (q != t && VC(a, b)[q] > upto[q] + a->removed[q])
			return 0;
	return 1;
}

/* Take t's first step off v. */
static void take_off(struct analysis *a, int t)
{
	int32_t k = a->first[t];

	a->first[t] = a->next[k];
	a->v[k] = -1;
	a->removed[t]++;
	a->left--;
}

/* Whether the pending operation p commutes with every step of v. */
static bool commutes(const struct analysis *a, const struct pend *p)
{
	for (int k = 0; k < a->len; k++) {
		const struct event *e;

		if (a->v[k] < 0)
			continue;
		e = &a->d->ev[a->v[k]];
		if (sched_conflict(e->op, e->obj, p->op, p->obj))
			return false;
	}
	return true;
}

/* Task q, runnable at node n, is a weak initial of v there: it starts v,
 * or it is not in v and its step commutes with all of v. */
static bool weak_initial(const struct analysis *a, const struct dnode *n, int q)
{
	int in = initial(a, q);
	const struct pend *p;

	if (in >= 0)
		return in == 1;
	p = node_pend(a->d, n, q);
	return p && commutes(a, p);
}

/* The steps left in v as a chain of wakeup-tree nodes. */
static struct wt *chain(const struct analysis *a)
{
	struct wt *head = NULL, **tail = &head;

	for (int k = 0; k < a->len; k++) {
		struct wt *c;

		if (a->v[k] < 0)
			continue;
		c = calloc(1, sizeof(*c));
		if (!c) {
			wt_free(head);
			return NULL;
		}
		c->st = a->d->ev[a->v[k]].st;
		*tail = c;
		tail = &c->child;
	}
	return head;
}

/* Insert v into the wakeup tree of node n (insert_[E'] of the paper):
 * follow the branches v starts with, up to the order of independent steps;
 * where none does, v's rest becomes a new branch, last.  Where v runs out,
 * or a branch ends, v is covered already. */
static int insert(struct analysis *a, struct dnode *n)
{
	struct wt **list = &n->wut;
	uint64_t passed = 0; /* tasks that stepped on the way down */
	bool root = true;

	for (;;) {
		struct wt *c;
		int t = -1;

		if ((!root && !*list) || a->left == 0)
			return 0;
		for (c = *list; c; c = c->next) {
			int in;

			t = task_of(a->d, c->st);
			if (t < 0)
				continue;
			in = initial(a, t);
			if (in == 1) {
				take_off(a, t);
				break;
			}
			/* A task not in v whose step here is known (it did not
			 * step on the way down) covers v if it commutes. */
			if (in < 0 && !(passed & BIT(t)) && (n->enabled & BIT(t)) &&
			    weak_initial(a, n, t))
				break;
		}
		if (!c) {
			struct wt *new = chain(a), **end = list;

			if (!new)
				return COW_ENOMEM;
			while (*end)
				end = &(*end)->next;
			*end = new;
			return 0;
		}
		passed |= BIT(t);
		list = &c->child;
		root = false;
	}
}

/* Race (i, j): reverse it at the node before i. */
static int reverse(struct analysis *a, int32_t i, int32_t j)
{
	struct dpor *d = a->d;
	struct dnode *n = &d->nodes[i];
	uint64_t sleeping = n->sleep | n->done, starts = 0;
	uint32_t cut[SCHED_MAX_TASKS];
	int32_t end = i; /* the last step v takes before j */
	int len = 0;

	a->i = i;
	a->j = j;
	memset(a->removed, 0, sizeof(a->removed));
	/* v: the steps after i that do not happen after it, then j.  A
	 * task's clock only grows along its steps, so of each task q's steps
	 * after i those that do not happen after i come first: its steps
	 * upto[q] + 1 .. cut[q] (upto[q]: its steps at positions up to i). */
	for (int q = 0; q < a->nt; q++) {
		const int32_t *p = a->tpos + a->tstart[q];
		uint32_t lo = 0, hi = d->seq[q];

		while (lo < hi) { /* the first of q's steps after i */
			uint32_t mid = lo + (hi - lo) / 2;

			if (p[mid] <= i)
				lo = mid + 1;
			else
				hi = mid;
		}
		a->upto[q] = lo;
		hi = q == d->ev[i].task ? lo : d->seq[q];
		while (lo < hi) { /* the first of them that happens after i */
			uint32_t mid = lo + (hi - lo) / 2;

			if (hb(a, i, p[mid]))
				hi = mid;
			else
				lo = mid + 1;
		}
		cut[q] = lo;
		if (lo > a->upto[q] && p[lo - 1] > end)
			end = p[lo - 1];
	}
	for (int32_t k = i + 1; k <= end; k++)
		if (k != j && d->ev[k].seq <= cut[d->ev[k].task])
			a->v[len++] = k;
	a->v[len++] = j;
	a->len = a->left = len;
	for (int q = 0; q < a->nt; q++)
		a->first[q] = -1;
	for (int k = len - 1; k >= 0; k--) {
		int t = d->ev[a->v[k]].task;

		a->next[k] = a->first[t];
		a->first[t] = k;
	}
	/* Some task runnable at the node must start v, and no task asleep
	 * there may (v would repeat a trace explored). */
	for (uint64_t m = n->enabled & ~BIT(d->ev[i].task); m; m &= m - 1) {
		int q = __builtin_ctzll(m);

		if (initial(a, q) != 1)
			continue;
		if (sleeping & BIT(q))
			return 0;
		starts |= BIT(q);
	}
	if (!starts)
		return 0;
	return insert(a, n);
}

/* The last steps on e's object (their first slot in d->pool), made on
 * first use; -1 for an operation without an object, or out of memory
 * (*err). */
static int32_t last_access(struct dpor *d, const struct event *e, size_t nt, int *err)
{
	size_t h = ((uintptr_t)e->obj >> 3) % BUCKETS;
	struct last_access *la;
	void *p;

	if (e->op == SYNC_YIELD || e->op == SYNC_DEVICE || e->op == SYNC_RCU)
		return -1; /* a DMA or swap step's object is a chunk of a frame, or a file */
	for (int32_t k = d->bucket[h]; k >= 0; k = d->la[k].next)
		if (d->la[k].obj == e->obj)
			return (int32_t)d->la[k].slot;
	p = grow(d->la, &d->la_cap, d->nr_la + 1, sizeof(*d->la));
	if (p)
		d->la = p;
	p = p ? grow(d->pool, &d->pool_cap, (d->nr_la + 1) * 2 * nt, sizeof(*d->pool)) : NULL;
	if (!p) {
		*err = COW_ENOMEM;
		return -1;
	}
	d->pool = p;
	la = &d->la[d->nr_la];
	la->obj = e->obj;
	la->slot = (uint32_t)(d->nr_la * 2 * nt);
	la->next = d->bucket[h];
	d->bucket[h] = (int32_t)d->nr_la++;
	for (size_t q = 0; q < 2 * nt; q++)
		d->pool[la->slot + q] = NO_EVENT;
	return (int32_t)la->slot;
}

/* Record race (i, j) in d->races[0..*nr). */
static int add_race(struct dpor *d, size_t *nr, int32_t i, int32_t j)
{
	struct race *r = grow(d->races, &d->races_cap, *nr + 1, sizeof(*d->races));

	if (!r)
		return COW_ENOMEM;
	d->races = r;
	r[(*nr)++] = (struct race){i, j};
	return 0;
}

/* The clocks of the run's steps from start on, and its races there (the
 * clocks and races before start are the last run's, which had the same
 * steps up to there): pairs of conflicting steps
 * of different tasks where nothing but the schedule orders the first
 * before the second (the last conflicting step of a task, not ordered
 * before any other of the second's predecessors), except where the first
 * enabled or spawned the second's task (that order cannot be reversed). */
static int clocks_and_races(struct analysis *a, size_t start, size_t *nr)
{
	struct dpor *d = a->d;
	size_t nt = (size_t)a->nt;
	int32_t last[SCHED_MAX_TASKS], last_dev[SCHED_MAX_TASKS], last_rcu[SCHED_MAX_TASKS];
	int32_t last_any[SCHED_MAX_TASKS], last_dma[SCHED_MAX_TASKS], last_swap[SCHED_MAX_TASKS];
	int err = 0;

	memset(d->bucket, 0xff, sizeof(d->bucket)); /* every bucket empty (-1) */
	d->nr_la = 0;
	for (size_t q = 0; q < nt; q++)
		last[q] = last_dev[q] = last_rcu[q] = last_any[q] = NO_EVENT;
	for (size_t q = 0; q < nt; q++)
		last_dma[q] = last_swap[q] = NO_EVENT;
	for (size_t j = 0; j < a->m && !err; j++) {
		const struct event *e = &d->ev[j];
		int32_t slot = last_access(d, e, nt, &err);
		int32_t *any = slot >= 0 ? &d->pool[slot] : NULL, *wr = any ? any + nt : NULL;
		int32_t preds[SCHED_MAX_TASKS + 3];
		int32_t *cand = preds + 3;
		int32_t disabler = e->disabler != e->enabler ? e->disabler : NO_EVENT;
		uint32_t *vc = VC(a, j);

		if (j >= start) {
			preds[0] = last[e->task];
			preds[1] = e->enabler;
			preds[2] = e->spawner;
			for (size_t q = 0; q < nt; q++) {
				int32_t c = NO_EVENT;

				if ((int)q != e->task && e->op != SYNC_YIELD) {
					if (e->op == SYNC_DEVICE)
						c = last_any[q];
					else if (e->op == SYNC_RCU)
						c = last_rcu[q];
					else if (any)
						c = e->op == SYNC_READ ? wr[q] : any[q];
					/* Storage: a file's or the swap slots'. */
					if (e->op == SYNC_DMA && last_dma[q] > c)
						c = last_dma[q];
					if (e->op == SYNC_SWAP && last_swap[q] > c)
						c = last_swap[q];
					if (last_dev[q] > c)
						c = last_dev[q];
				}
				cand[q] = c;
			}
			/* The clock is the join of the predecessors': join[] of
			 * the three that are no candidates, then the candidates
			 * (few: the tasks that touched the object).  A candidate
			 * i = cand[q] (a step of task q) races with this step unless
			 * it happens before another predecessor p, that is, unless
			 * p's clock counts i's step of q. */
			uint32_t join[SCHED_MAX_TASKS];
			int cq[SCHED_MAX_TASKS], nc = 0;

			memset(join, 0, nt * sizeof(join[0]));
			for (size_t k = 0; k < 3; k++) {
				const uint32_t *pv;

				if (preds[k] < 0)
					continue;
				pv = VC(a, preds[k]);
				for (size_t q = 0; q < nt; q++)
					join[q] = pv[q] > join[q] ? pv[q] : join[q];
			}
			memcpy(vc, join, nt * sizeof(join[0]));
			for (size_t q = 0; q < nt; q++) {
				const uint32_t *pv;

				if (cand[q] < 0)
					continue;
				cq[nc++] = (int)q;
				pv = VC(a, cand[q]);
				for (size_t u = 0; u < nt; u++)
					vc[u] = pv[u] > vc[u] ? pv[u] : vc[u];
			}
			vc[e->task] = e->seq;
			for (int c = 0; c < nc && !err; c++) {
				int q = cq[c];
				int32_t i = cand[q];
				uint32_t others = join[q];

				if (i == e->enabler || i == e->spawner)
					continue;
				for (int c2 = 0; c2 < nc; c2++)
					if (c2 != c && VC(a, cand[cq[c2]])[q] > others)
						others = VC(a, cand[cq[c2]])[q];
				if (others < d->ev[i].seq) {
					err = add_race(d, nr, i, (int32_t)j);
					disabler = i == disabler ? NO_EVENT : disabler;
				}
			}
			/* The step that disabled this one's task had it waiting: the
			 * two are in a race however much lies between them. */
			if (!err && disabler >= 0)
				err = add_race(d, nr, disabler, (int32_t)j);
		}
		last[e->task] = (int32_t)j;
		if (e->op != SYNC_YIELD)
			last_any[e->task] = (int32_t)j;
		if (e->op == SYNC_DEVICE)
			last_dev[e->task] = (int32_t)j;
		if (e->op == SYNC_DMA)
			last_dma[e->task] = (int32_t)j;
		if (e->op == SYNC_SWAP)
			last_swap[e->task] = (int32_t)j;
		if (e->op == SYNC_RCU)
			last_rcu[e->task] = (int32_t)j;
		if (any) {
			any[e->task] = (int32_t)j;
			if (e->op != SYNC_READ)
				wr[e->task] = (int32_t)j;
		}
	}
	return err;
}

/* Reverse every race of the run just made. */
static int analyse(struct dpor *d)
{
	struct analysis a = {.d = d, .m = d->nr_ev, .nt = d->ntasks ? d->ntasks : 1};
	size_t nt = (size_t)a.nt, nr = 0, start = 0;
	void *p;
	int err;

	p = grow(d->vc, &d->vc_cap, a.m * nt + 1, sizeof(*d->vc));
	if (!p)
		return COW_ENOMEM;
	d->vc = p;
	p = grow(d->v, &d->v_cap, a.m + 1, sizeof(*d->v));
	if (!p)
		return COW_ENOMEM;
	d->v = p;
	p = grow(d->next, &d->next_cap, a.m + 1, sizeof(*d->next));
	if (!p)
		return COW_ENOMEM;
	d->next = p;
	a.next = d->next;
	a.vc = d->vc;
	a.v = d->v;
	p = grow(d->tpos, &d->tpos_cap, a.m + 1, sizeof(*d->tpos));
	if (!p)
		return COW_ENOMEM;
	d->tpos = p;
	a.tpos = d->tpos;
	for (size_t q = 0, at = 0; q < nt; at += d->seq[q], q++)
		a.tstart[q] = (uint32_t)at;
	for (size_t k = 0; k < a.m; k++)
		d->tpos[a.tstart[d->ev[k].task] + d->ev[k].seq - 1] = (int32_t)k;
	/* This run replayed the last one's steps up to its branch: their
	 * clocks and races are the same (where the clocks had as many
	 * tasks). */
	if (d->replay_len > 0 && d->vc_nt == nt && d->vc_m + 1 >= d->replay_len) {
		start = d->replay_len - 1;
		while (nr < d->nr_races && (size_t)d->races[nr].j < start)
			nr++;
	}
	err = clocks_and_races(&a, start, &nr);
	d->nr_races = nr;
	d->vc_nt = err ? 0 : nt;
	d->vc_m = err ? 0 : a.m;
	for (size_t k = 0; k < nr && !err; k++)
		err = reverse(&a, d->races[k].i, d->races[k].j);
	return err;
}

bool dpor_finish(struct dpor *d, int *err)
{
	bool counts = !d->blocked_run && !d->err;

	*err = d->err;
	if (d->err)
		return false;
	*err = analyse(d);
	if (*err)
		return false;
	while (d->nr > 0) {
		struct dnode *n = &d->nodes[d->nr - 1];
		int t;

		n->done |= BIT(n->chosen);
		t = take_branch(d, n);
		if (t >= 0) {
			n->chosen = (uint8_t)t;
			d->replay_len = d->nr;
			return counts;
		}
		d->nr--;
	}
	d->replay_len = 0;
	d->done = true;
	return counts;
}
