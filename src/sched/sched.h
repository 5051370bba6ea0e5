/*
 * The deterministic scheduler of the explore back end.
 *
 * A run executes a set of tasks (simulated CPUs, devices, and daemon tasks
 * such as the RCU callback runner) as coroutines on the calling OS thread.
 * Tasks give up control only at yield points (every sync operation, see
 * src/sync/sync.h); at each one the scheduler picks which runnable task
 * takes the next step.  A blocked task (waiting for a lock, a grace period,
 * a bit) is runnable again as soon as its wake predicate holds.  The pick
 * is made by a chooser seeded from the run's seed, so a run is a pure
 * function of (program, seed): replaying the seed replays the run.
 *
 * Outcomes of a run:
 *   SCHED_OK        every non-daemon task finished and no daemon has work;
 *   SCHED_FAILED    a task or the per-step checker called sched_fail(), or
 *                   a COW_CHECK/COW_ASSERT fired inside a task;
 *   SCHED_DEADLOCK  every unfinished non-daemon task is blocked;
 *   SCHED_LIVELOCK  the run reached its step limit.
 * sched_message() explains the last three in one paragraph.
 *
 * State diagram of a task:
 *
 *     spawn -> RUNNABLE <-> BLOCKED      (sched_wait_on / predicate holds)
 *                  |
 *                  v
 *                 DONE                   (its function returned)
 *
 * Daemon tasks never finish; the run ends without them, and they do not
 * count when deciding whether the run is deadlocked.
 */
#ifndef COW_SCHED_H
#define COW_SCHED_H

#include "base/base.h"
#include "sync/sync.h"

#include <stdint.h>

enum sched_verdict {
	SCHED_OK,
	SCHED_FAILED,
	SCHED_DEADLOCK,
	SCHED_LIVELOCK,
};

enum sched_algo {
	SCHED_RANDOM, /* a uniformly random runnable task at every step */
	/* PCT (Burckhardt et al., ASPLOS 2010): every task gets a random
	 * priority when it is spawned and the highest-priority runnable task
	 * always runs; at depth-1 random steps among the first k, the running
	 * task drops below every other.  A bug that needs depth ordering
	 * constraints is hit with probability >= 1/(n k^(depth-1)) a run. */
	SCHED_PCT,
	/* Every choice made by a director callback (sched_set_director):
	 * replay of a recorded schedule, depth-first search. */
	SCHED_DIRECTED,
	/* Only for the explorer front end: depth-first search within a
	 * preemption bound, and a mix of PCT, random and DFS, one per run. */
	SCHED_DFS,
	SCHED_AUTO,
	/* Only for the explorer front end: optimal dynamic partial-order
	 * reduction (dpor.c), every Mazurkiewicz trace once. */
	SCHED_DPOR,
};

/*
 * Schedules as deviations.  At every step the default choice is the task
 * that took the previous step if it can still run, else the runnable task
 * with the lowest id.  Any run is then named by the steps where it chose
 * otherwise: a deviation.  A deviation where the previous task could have
 * gone on is a preemption; the others choose among the tasks that may run
 * after one blocked or finished.  Every run records its deviations.
 */
struct sched_dev {
	uint32_t step; /* the choice made before this step (0-based) */
	uint16_t task; /* the task chosen */
	uint8_t preempt;
};
#define SCHED_MAX_DEVS 512 /* deviations recorded per run */

/* The director of a SCHED_DIRECTED run: called before every step with the
 * runnable tasks (ascending ids) and the default choice; returns the task
 * to run, one of runnable[]. */
typedef int (*sched_director_fn)(void *arg, struct sched *s, const int *runnable, unsigned int n,
				 int dflt);
/* Called in scheduler context before (after == false) and after every
 * step, with the task and the operation its step performs. */
typedef void (*sched_trace_fn)(void *arg, struct sched *s, int task, enum sync_op op,
			       const void *obj, bool after);

#define SCHED_PCT_MAX_DEPTH 8

#define SCHED_MAX_TASKS 64 /* tasks in one run, at most */
#define SCHED_DAEMON 1u	   /* flag for sched_spawn: the run may end without it */

struct sched;

struct sched_opts {
	unsigned int max_tasks; /* task slots (stacks) to allocate */
	size_t stack_size;	/* bytes per task stack */
};

/* Create a scheduler; NULL when host memory is short.  The calling OS
 * thread becomes an explorer thread (sync_explore_thread) until
 * sched_destroy(): outside runs, in its scheduler context, RCU is immediate
 * because no task can be inside a read-side section. */
struct sched *sched_create(const struct sched_opts *opts);
void sched_destroy(struct sched *s);

/* Begin a new run: forget all tasks, seed the chooser.  max_steps == 0
 * means the default (1,000,000). */
void sched_reset(struct sched *s, enum sched_algo algo, uint64_t seed, uint64_t max_steps);
/* After sched_reset with SCHED_PCT: the depth (1..SCHED_PCT_MAX_DEPTH)
 * and the number of steps k the change points are drawn from. */
void sched_set_pct(struct sched *s, unsigned int depth, uint64_t k);
/* After sched_reset with SCHED_DIRECTED. */
void sched_set_director(struct sched *s, sched_director_fn fn, void *arg);
/* NULL to disable; kept across sched_reset. */
void sched_set_trace(struct sched *s, sched_trace_fn fn, void *arg);
/* A pointer the front end keeps with the scheduler (the program's state
 * during a run). */
void sched_set_data(struct sched *s, void *data);
void *sched_data(const struct sched *s);
/* Called in scheduler context (the invariant checker) at every state of
 * the run where the schedule branches, two or more tasks being able to
 * take the next step, and at the final state; it may call sched_fail().
 * A state where only one task can run is skipped: no other task sees it
 * in this run.  NULL to disable. */
void sched_set_step_hook(struct sched *s, void (*fn)(void *), void *arg);
/* The hook sees no state before step (this run's; sched_reset sets 0): a
 * search that replays the steps of an earlier run up to there has seen
 * those states already.  The accesses of the steps it skips stay in
 * sched_touched for the first state it sees. */
void sched_check_from(struct sched *s, uint64_t step);
/* For the step hook: the accesses of the steps taken since the hook last
 * ran (since the run began, the first time), in order; *n receives how
 * many.  NULL when there were more than the log holds: the hook must then
 * assume that anything may have changed. */
const struct sync_touch *sched_touched(const struct sched *s, size_t *n);

/* Add a task to the run, on simulated CPU cpu.  May be called before
 * sched_run or from a running task.  Returns its id, or COW_ENOMEM when all
 * slots are taken. */
int sched_spawn(struct sched *s, const char *name, int cpu, void (*fn)(void *), void *arg,
		unsigned int flags);

/* Run until an outcome is reached (see above). */
enum sched_verdict sched_run(struct sched *s);

const char *sched_message(const struct sched *s);
uint64_t sched_steps(const struct sched *s);
/* A hash of the run's step sequence (who stepped, at which operation);
 * equal for two runs iff they interleaved the same way (up to hash
 * collisions).  Used to check that replays are exact. */
uint64_t sched_fingerprint(const struct sched *s);

/* The deviations of the run so far (see above); *overflow when there were
 * more than SCHED_MAX_DEVS. */
const struct sched_dev *sched_devs(const struct sched *s, unsigned int *n, bool *overflow);
unsigned int sched_preemptions(const struct sched *s);
/* The task that took the last step, -1 before the first. */
int sched_last(const struct sched *s);
/* The operation task will perform when it next steps. */
void sched_pending(const struct sched *s, int task, enum sync_op *op, const void **obj);
const char *sched_task_name(const struct sched *s, int task);
int sched_task_cpu(const struct sched *s, int task);

/*
 * The conflict relation the searches reduce by.  Two steps conflict when
 * their operations (sync.h) touch the same object and one of them writes
 * (a read never conflicts with a read); an RCU step conflicts with every
 * RCU step, a device step (SYNC_DEVICE) with every step, a DMA step with
 * every device or DMA step and every step on its object (storage is named
 * by no word: sync.h), a bare yield with none.
 *
 * The scheduler holds the model to it where waiting is concerned: a step
 * that makes a blocked task's wake predicate true or false must conflict
 * with the operation the task waits at (its pending step).  A step that
 * changed what a wait reads without naming it would let a search take the
 * two for independent and run only one of their orders.  A run where that
 * happens stops with an error that names both (a bug in cowlab's model,
 * not in the scenario).
 */
bool sched_conflict(enum sync_op a, const void *oa, enum sync_op b, const void *ob);
/* An operation's name in traces and messages ("read", "rmw", ...);
 * SYNC_NR_OPS names a task's first step, "start". */
const char *sched_op_name(enum sync_op op);

/* ---- called from inside tasks (through src/sync) ----------------------- */

/* A yield point: the scheduler may now run another task. */
void sched_yield_point(struct sched *s, enum sync_op op, const void *obj);
/* Block the running task until ready(arg) holds, a condition on the one
 * word obj (with state of the waiter's own in arg).  op, obj is the
 * operation the task waits at, which every step that changes the
 * condition must conflict with (sched_conflict: the run stops with an
 * error where one does not).  what names the wait in deadlock reports;
 * owner, if not NULL, points at a word that holds the holder's owner tag
 * (SYNC_OWNER_BASE + task id). */
void sched_wait_on(struct sched *s, sync_pred_fn ready, const void *arg, enum sync_op op,
		   const void *obj, const char *what, const int *owner);
/* End the run as failed with a message.  From a task it does not return;
 * from the step hook it returns and the run stops after the hook. */
void sched_fail(struct sched *s, const char *fmt, ...) COW_PRINTF(2, 3);

/* The running task's id (0-based), or -1 outside a task. */
int sched_task_id(const struct sched *s);
/* Number of tasks in the run and task i's name. */
int sched_nr_tasks(const struct sched *s);

/* The locks the running task holds (src/sync's lock-order check). */
struct lock_stack *sched_task_locks(struct sched *s);

/* Per-task RCU state kept for src/sync/explore.c. */
struct sched_rcu {
	int nesting;	     /* read-side depth */
	unsigned long exits; /* outermost read-side exits so far */
};
struct sched_rcu *sched_task_rcu(struct sched *s, int task);

/* Per-run RCU callback queue kept for src/sync/explore.c. */
struct sched_rcu_queue {
	struct rcu_head *head, **tail; /* FIFO through backend[0] */
	struct rcu_head *batch;	       /* taken by the daemon, awaiting a GP */
	int daemon;		       /* task id of the callback runner, -1 */
	unsigned long queued, done;    /* callbacks queued / run */
};
struct sched_rcu_queue *sched_rcu_queue(struct sched *s);

#endif /* COW_SCHED_H */
