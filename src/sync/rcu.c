/*
 * RCU for both back ends.
 *
 * stress: liburcu (urcu.c) for read-side sections and grace periods.
 * call_rcu queues on a FIFO that one callback thread drains: it takes the
 * whole queue, waits for one grace period, runs the batch and counts it,
 * so rcu_barrier() waits for exactly the callbacks queued before it.
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

#include <pthread.h>

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
	sched_wait_on(s, gp_done, &g, SYNC_RCU, NULL, "an RCU grace period", NULL);
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
		sched_wait_on(s, queue_has_work, q, SYNC_RCU, NULL, "RCU callbacks", NULL);
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

/* ---- stress: the callback thread ---------------------------------------- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work, done_cond;
	struct rcu_head *head, **tail;
	unsigned long queued, done;
	pthread_once_t once;
} cbq = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.done_cond = PTHREAD_COND_INITIALIZER,
	.tail = &cbq.head,
	.once = PTHREAD_ONCE_INIT,
};

static void *callback_thread(void *arg)
{
	(void)arg;
	urcu_register();
	for (;;) {
		struct rcu_head *batch;
		unsigned long n = 0;

		pthread_mutex_lock(&cbq.lock);
		while (!cbq.head)
			pthread_cond_wait(&cbq.work, &cbq.lock);
		batch = cbq.head;
		cbq.head = NULL;
		cbq.tail = &cbq.head;
		pthread_mutex_unlock(&cbq.lock);
		urcu_synchronize();
		while (batch) {
			struct rcu_head *next = batch->backend[0];

			batch->func(batch);
			batch = next;
			n++;
		}
		pthread_mutex_lock(&cbq.lock);
		cbq.done += n;
		pthread_cond_broadcast(&cbq.done_cond);
		pthread_mutex_unlock(&cbq.lock);
	}
	return NULL;
}

static void start_callback_thread(void)
{
	pthread_t t;
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	COW_CHECK(pthread_create(&t, &attr, callback_thread, NULL) == 0,
		  "cannot start the RCU callback thread");
	pthread_attr_destroy(&attr);
}

static void stress_call(struct rcu_head *head)
{
	pthread_once(&cbq.once, start_callback_thread);
	head->backend[0] = NULL;
	pthread_mutex_lock(&cbq.lock);
	*cbq.tail = head;
	cbq.tail = (struct rcu_head **)&head->backend[0];
	cbq.queued++;
	pthread_cond_signal(&cbq.work);
	pthread_mutex_unlock(&cbq.lock);
}

static void stress_barrier(void)
{
	unsigned long target;

	pthread_mutex_lock(&cbq.lock);
	target = cbq.queued;
	while (cbq.done < target)
		pthread_cond_wait(&cbq.done_cond, &cbq.lock);
	pthread_mutex_unlock(&cbq.lock);
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
	else
		stress_call(head);
}

void rcu_barrier(void)
{
	struct sched *s = sync_explorer;

	if (unlikely(s != NULL)) {
		struct barrier_wait b = {sched_rcu_queue(s), sched_rcu_queue(s)->queued};

		sched_yield_point(s, SYNC_RCU, NULL);
		sched_wait_on(s, barrier_done, &b, SYNC_RCU, NULL, "rcu_barrier", NULL);
	} else if (!sync_explore_thread) {
		stress_barrier();
	}
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
