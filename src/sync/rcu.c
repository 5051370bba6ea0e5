/*
 * RCU for both back ends.
 *
 * stress: liburcu (urcu.c).  call_rcu callbacks run on liburcu's thread.
 *
 * explore: a model of RCU's guarantee, not of its implementation.  Each
 * task counts its read-side nesting and its outermost exits.  A grace
 * period that starts at some step waits for every task that was inside a
 * read-side section then to have left it once (its exit count moved).
 * call_rcu appends to a per-run FIFO; a daemon task takes the queued batch,
 * waits for one grace period and runs the batch, so callbacks run in a task
 * that the scheduler interleaves with the others, as Linux runs them in
 * softirq context on some CPU.  Between runs, on the explorer thread, no
 * task can be inside a section, so there RCU is immediate.
 */
#include "sync.h"

#include "sched/sched.h"
#include "urcu.h"

/* ---- explore model ----------------------------------------------------- */

struct gp_snapshot {
	struct sched *s;
	int nr;
	bool inside[SCHED_MAX_TASKS];
	unsigned long exits[SCHED_MAX_TASKS];
};

static bool gp_done(const void *arg)
{
	const struct gp_snapshot *g = arg;

	for (int i = 0; i < g->nr; i++)
		if (g->inside[i] && sched_task_rcu(g->s, i)->exits == g->exits[i])
			return false;
	return true;
}

static void explore_synchronize(struct sched *s)
{
	struct gp_snapshot g = {.s = s, .nr = sched_nr_tasks(s)};
	struct sched_rcu *self = sched_task_rcu(s, sched_task_id(s));

	COW_CHECK(self->nesting == 0, "synchronize_rcu inside an RCU read-side section");
	sched_yield_point(s, SYNC_RCU, NULL);
	for (int i = 0; i < g.nr; i++) {
		struct sched_rcu *r = sched_task_rcu(s, i);

		g.inside[i] = r->nesting > 0;
		g.exits[i] = r->exits;
	}
	sched_wait(s, gp_done, &g, "an RCU grace period", NULL);
}

static bool queue_has_work(const void *arg)
{
	return ((const struct sched_rcu_queue *)arg)->head != NULL;
}

static void run_batch(struct sched_rcu_queue *q)
{
	while (q->batch) {
		struct rcu_head *h = q->batch;

		q->batch = h->backend[0];
		h->func(h);
		q->done++;
	}
}

static void rcu_daemon(void *arg)
{
	struct sched *s = arg;
	struct sched_rcu_queue *q = sched_rcu_queue(s);

	for (;;) {
		sched_wait(s, queue_has_work, q, "RCU callbacks", NULL);
		q->batch = q->head;
		q->head = NULL;
		q->tail = &q->head;
		explore_synchronize(s);
		run_batch(q);
	}
}

static void explore_call(struct sched *s, struct rcu_head *head)
{
	struct sched_rcu_queue *q = sched_rcu_queue(s);

	sched_yield_point(s, SYNC_RCU, head);
	head->backend[0] = NULL;
	*q->tail = head;
	q->tail = (struct rcu_head **)&head->backend[0];
	q->queued++;
	if (q->daemon < 0) {
		q->daemon = sched_spawn(s, "rcu", 0, rcu_daemon, s, SCHED_DAEMON);
		COW_CHECK(q->daemon >= 0, "no task slot left for the RCU daemon");
	}
}

struct barrier_wait {
	const struct sched_rcu_queue *q;
	unsigned long target;
};

static bool barrier_done(const void *arg)
{
	const struct barrier_wait *b = arg;

	return b->q->done >= b->target;
}

/* ---- the interface ----------------------------------------------------- */

void rcu_read_lock(void)
{
	struct sched *s = sync_explorer;

	if (unlikely(s != NULL)) {
		sched_yield_point(s, SYNC_RCU, NULL);
		sched_task_rcu(s, sched_task_id(s))->nesting++;
	} else if (!sync_explore_thread) {
		COW_ASSERT(urcu_registered);
		urcu_lock();
	}
}

void rcu_read_unlock(void)
{
	struct sched *s = sync_explorer;

	if (unlikely(s != NULL)) {
		struct sched_rcu *r = sched_task_rcu(s, sched_task_id(s));

		COW_CHECK(r->nesting > 0, "rcu_read_unlock without rcu_read_lock");
		sched_yield_point(s, SYNC_RCU, NULL);
		if (--r->nesting == 0)
			r->exits++;
	} else if (!sync_explore_thread) {
		urcu_unlock();
	}
}

void synchronize_rcu(void)
{
	if (unlikely(sync_explorer != NULL))
		explore_synchronize(sync_explorer);
	else if (!sync_explore_thread)
		urcu_synchronize();
}

void call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *))
{
	head->func = func;
	if (unlikely(sync_explorer != NULL))
		explore_call(sync_explorer, head);
	else if (sync_explore_thread)
		func(head);
	else {
		COW_ASSERT(urcu_registered);
		urcu_call(head);
	}
}

void rcu_barrier(void)
{
	struct sched *s = sync_explorer;

	if (unlikely(s != NULL)) {
		struct barrier_wait b = {sched_rcu_queue(s), sched_rcu_queue(s)->queued};

		sched_yield_point(s, SYNC_RCU, NULL);
		sched_wait(s, barrier_done, &b, "rcu_barrier", NULL);
	} else if (!sync_explore_thread) {
		urcu_barrier();
	}
}

/* liburcu calls this with the address of our rcu_head (its first word). */
void sync_rcu_callback(void *head)
{
	struct rcu_head *h = head;

	h->func(h);
}

void sync_explore_drain(struct sched *s)
{
	struct sched_rcu_queue *q = sched_rcu_queue(s);

	COW_CHECK(sync_explorer == NULL, "sync_explore_drain called from a task");
	run_batch(q);
	q->batch = q->head;
	q->head = NULL;
	q->tail = &q->head;
	run_batch(q);
}
