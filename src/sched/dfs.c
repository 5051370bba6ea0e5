/*
 * Depth-first search over schedules within a preemption bound, with
 * sleep sets (see explore.h for the conflict relation).
 *
 * The search is stateless: every run starts from scratch.  The path of
 * the current run is a stack of nodes, one per state where two or more
 * tasks could step.  A node records who could run, who ran last, the
 * choices already explored there and the sleep set on arrival.  The next
 * run replays the path up to the deepest node that has an unexplored
 * choice within the bound, takes that choice, and then follows the
 * default choice (sched.h) wherever it can: a run deviates from the
 * default at the node it was made for, and further down only where the
 * default choice sleeps (below).  Its schedule token up to its branch
 * point is known before it starts; the run records the rest.
 *
 * Sleep sets (Godefroid): after the subtree of choice a at a node has been
 * explored, a sibling b's subtree need not run a again before something
 * that conflicts with a's step has happened; a sleeps until then.  Where
 * the default choice sleeps, a run takes the lowest task awake instead;
 * if every task within the bound sleeps, everything below is covered
 * elsewhere: the run goes on (it must end to be torn down) but adds no
 * nodes and does not count.  A task that cannot run leaves the sleep set,
 * which is always safe.
 *
 * Sleep sets and a preemption bound do not mix freely (Coons, Musuvathi
 * and McKinley, "Bounded partial-order reduction", OOPSLA 2013): the run
 * that stands in for a pruned one, a then b then the rest, may need more
 * preemptions than the pruned b ... a ... and so fall outside the bound.
 * Moving a's step from after b's steps to before them changes the
 * switches only at the two ends: it adds the choice of a at the node and
 * the switch from a to b (a preemption if a could have gone on), and
 * removes the switches into and out of a later, which cost at least as
 * much as the ones that replace them.  So a sleeps in b's subtree only if
 * cost(a) + (a could go on after its step) <= cost(b): then the stand-in
 * never has more preemptions than the run it replaces, and dfs still
 * covers every schedule within the bound, up to the order of independent
 * steps.  In practice a preempted default choice sleeps in the subtrees of
 * the preemptions, which is where the redundant runs are.
 *
 * A search that is done without the bound ever keeping a choice from
 * being tried (a choice first_choice passes over is one dfs_finish then
 * skips) covered every schedule, not only those within the bound: e.g.
 * the one schedule of a scenario without concurrency.
 *
 * Sharding: a run is named by its first two deviations from the default
 * (node and task), and a hash of them picks its shard.  Every shard runs
 * the default run and the runs that deviate once (each is counted by one
 * shard only) and skips, without running them, the second deviations that
 * belong to other shards.  So the shards run disjoint sets of schedules
 * that together make the whole search.  A skipped choice counts as one
 * that could go on after its step, which keeps the sleep sets safe.
 */
#include "explore_impl.h"

#include <stdlib.h>
#include <string.h>

struct dfs_node {
	uint32_t step;	   /* the choice is made before this step */
	int16_t last;	   /* the task of the previous step, -1 */
	uint16_t preempts; /* preemptions before the node */
	uint16_t chosen;
	uint16_t devs;			/* deviations before the node */
	uint64_t enabled, tried, sleep; /* task masks */
	uint64_t cont;			/* tried tasks that could still run after their step */
};

struct dfs {
	unsigned int bound, shard, nr_shards;
	bool reduce; /* sleep sets */
	struct dfs_node *nodes;
	size_t nr, cap;	   /* the path */
	size_t replay_len; /* nodes the next run replays (the last one new) */
	bool started, done;
	bool bounded; /* the bound kept a choice from being tried */
	/* The run in progress. */
	size_t pos;
	uint64_t sleep;
	unsigned int preempts;
	size_t chose; /* 1 + the node whose choice just stepped, 0: none */
	unsigned int devs;
	uint64_t first_dev; /* the run's first deviation: node << 8 | task */
	bool frozen;	    /* no more nodes this run */
	bool started_run;   /* the director ran this run */
	bool redundant;	    /* ... because it repeats a run done */
	int err;
};

#define BIT(t) (1ull << (t))

struct dfs *dfs_new(unsigned int bound, bool reduce, unsigned int shard, unsigned int nr_shards)
{
	struct dfs *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->bound = bound;
	d->reduce = reduce;
	d->shard = shard;
	d->nr_shards = nr_shards ? nr_shards : 1;
	return d;
}

void dfs_free(struct dfs *d)
{
	if (d)
		free(d->nodes);
	free(d);
}

bool dfs_done(const struct dfs *d)
{
	return d->done;
}

bool dfs_exhaustive(const struct dfs *d)
{
	return d->done && !d->bounded;
}

static int node_default(const struct dfs_node *n)
{
	if (n->last >= 0 && (n->enabled & BIT(n->last)))
		return n->last;
	return __builtin_ctzll(n->enabled);
}

static unsigned int choice_cost(const struct dfs_node *n, int task)
{
	return n->last >= 0 && (n->enabled & BIT(n->last)) && task != n->last;
}

bool dfs_next(struct dfs *d, struct explore_token *t)
{
	if (d->done)
		return false;
	d->started = true;
	d->pos = 0;
	d->sleep = 0;
	d->preempts = 0;
	d->frozen = false;
	d->started_run = false;
	d->redundant = false;
	d->devs = 0;
	d->chose = 0;
	d->err = 0;
	t->algo = SCHED_DIRECTED;
	t->nr_devs = 0;
	for (size_t i = 0; i < d->replay_len; i++) {
		const struct dfs_node *n = &d->nodes[i];

		if (n->chosen == node_default(n))
			continue;
		if (t->nr_devs == EXPLORE_MAX_DEVS) {
			t->algo = SCHED_DFS;
			break;
		}
		t->devs[t->nr_devs].step = n->step;
		t->devs[t->nr_devs].task = n->chosen;
		t->devs[t->nr_devs].preempt = (uint8_t)choice_cost(n, n->chosen);
		t->nr_devs++;
	}
	return true;
}

/* The siblings explored before choice that sleep in its subtree (see
 * above): those whose stand-in run needs no more preemptions. */
static uint64_t sleepers(const struct dfs_node *n, int choice)
{
	uint64_t sleep = 0;
	unsigned int cost = choice_cost(n, choice);

	for (uint64_t m = n->tried & ~BIT(choice); m; m &= m - 1) {
		int v = __builtin_ctzll(m);

		if (choice_cost(n, v) + !!(n->cont & BIT(v)) <= cost)
			sleep |= BIT(v);
	}
	return sleep;
}

/* Whether the runs with these first deviations are ours. */
static bool mine(const struct dfs *d, uint64_t first, uint64_t second)
{
	uint64_t h = (first * 0x9e3779b97f4a7c15ull) ^ (second * 0xbf58476d1ce4e5b9ull);

	return d->nr_shards == 1 || (h ^ (h >> 31)) % d->nr_shards == d->shard;
}

static struct dfs_node *push_node(struct dfs *d)
{
	if (d->nr == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 256;
		struct dfs_node *n = realloc(d->nodes, cap * sizeof(*n));

		if (!n)
			return NULL;
		d->nodes = n;
		d->cap = cap;
	}
	return &d->nodes[d->nr++];
}

/* The rest of the run repeats runs done: it goes on only to end, without
 * nodes and without invariant checks, and does not count. */
static void cut_short(struct dfs *d, struct sched *s)
{
	d->frozen = true;
	d->redundant = true;
	sched_set_step_hook(s, NULL, NULL);
}

/* The first choice at a new node: the default unless it sleeps, else the
 * lowest task that is awake and within the bound; -1 if there is none. */
static int first_choice(const struct dfs *d, const struct dfs_node *n, int dflt)
{
	uint64_t awake = n->enabled & ~n->sleep;

	if (awake & BIT(dflt))
		return dflt;
	for (; awake; awake &= awake - 1) {
		int u = __builtin_ctzll(awake);

		if (n->preempts + choice_cost(n, u) <= d->bound)
			return u;
	}
	return -1;
}

/* Wake the sleepers whose operation conflicts with the step task takes. */
static void wake_sleepers(struct dfs *d, struct sched *s, int task)
{
	enum sync_op op, vop;
	const void *obj, *vobj;

	if (!d->sleep)
		return;
	sched_pending(s, task, &op, &obj);
	for (uint64_t m = d->sleep; m; m &= m - 1) {
		int v = __builtin_ctzll(m);

		sched_pending(s, v, &vop, &vobj);
		if (sched_conflict(op, obj, vop, vobj))
			d->sleep &= ~BIT(v);
	}
}

int dfs_director(void *arg, struct sched *s, const int *runnable, unsigned int n, int dflt)
{
	struct dfs *d = arg;
	struct dfs_node *node;
	uint64_t enabled = 0;
	int choice = dflt;

	if (d->frozen)
		return dflt;
	/* The states up to the branch are the last run's, checked there
	 * (or, in its own replayed steps, before). */
	if (!d->started_run) {
		d->started_run = true;
		if (d->replay_len)
			sched_check_from(s, d->nodes[d->replay_len - 1].step + 1);
	}
	for (unsigned int i = 0; i < n; i++)
		enabled |= BIT(runnable[i]);
	if (d->chose) {
		node = &d->nodes[d->chose - 1];
		if (enabled & BIT(node->chosen))
			node->cont |= BIT(node->chosen);
		d->chose = 0;
	}
	d->sleep &= enabled;
	if (n < 2) {
		if (d->sleep & BIT(dflt)) {
			/* The one task that can run sleeps: as below. */
			cut_short(d, s);
			return dflt;
		}
		goto step;
	}
	if (d->pos < d->replay_len) {
		node = &d->nodes[d->pos];
		if (node->step != sched_steps(s) || node->enabled != enabled) {
			d->err = COW_ECORRUPT;
			d->frozen = true;
			return dflt;
		}
		choice = node->chosen;
	} else {
		node = push_node(d);
		if (!node) {
			d->err = COW_ENOMEM;
			d->frozen = true;
			return dflt;
		}
		node->step = (uint32_t)sched_steps(s);
		node->last = (int16_t)sched_last(s);
		node->preempts = (uint16_t)d->preempts;
		node->devs = (uint16_t)d->devs;
		node->enabled = enabled;
		node->sleep = d->sleep;
		node->cont = 0;
		choice = first_choice(d, node, dflt);
		if (choice < 0) {
			/* Every run from here is equivalent to one done: this
			 * one goes on (it must end to be torn down) but does
			 * not count. */
			node->tried = 0;
			node->chosen = (uint16_t)dflt;
			d->pos++;
			cut_short(d, s);
			return dflt;
		}
		node->tried = BIT(choice);
		node->chosen = (uint16_t)choice;
	}
	d->pos++;
	d->chose = d->pos;
	d->preempts += choice_cost(node, choice);
	if (choice != node_default(node) && d->devs++ == 0)
		d->first_dev = (uint64_t)(d->pos - 1) << 8 | (uint64_t)choice;
	d->sleep = d->reduce ? node->sleep | sleepers(node, choice) : 0;
step:
	wake_sleepers(d, s, choice);
	return choice;
}

bool dfs_finish(struct dfs *d, int *err)
{
	/* Runs with two deviations or more were chosen for this shard. */
	bool counts = !d->redundant && (d->devs >= 2 || mine(d, d->devs ? d->first_dev : 0, 0));

	*err = d->err;
	d->nr = d->pos;
	while (d->nr > 0) {
		struct dfs_node *n = &d->nodes[d->nr - 1];
		uint64_t cand = n->enabled & ~n->tried & ~n->sleep;

		for (; cand; cand &= cand - 1) {
			int u = __builtin_ctzll(cand);

			if (n->preempts + choice_cost(n, u) > d->bound) {
				d->bounded = true;
				continue;
			}
			n->tried |= BIT(u);
			if (n->devs == 1 &&
			    !mine(d, d->first_dev, (uint64_t)(d->nr - 1) << 8 | (uint64_t)u)) {
				n->cont |= BIT(u); /* unknown: assume it goes on */
				continue;
			}
			n->chosen = (uint16_t)u;
			d->replay_len = d->nr;
			return counts;
		}
		d->nr--;
	}
	d->replay_len = 0;
	d->done = true;
	return counts;
}
