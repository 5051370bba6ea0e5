/*
 * The deterministic scheduler (see sched.h for the model).
 *
 * Control flow: between two steps the scheduler wakes blocked tasks
 * whose predicate holds, runs the step hook, lets the chooser pick one
 * runnable task and makes it current (next_step); the task runs until its
 * next yield point (or until it blocks, fails or finishes).  That work
 * between steps runs in scheduler context (no task current, T1 and T2)
 * but on the stack of the task that just ran (task_yield), which goes on
 * without a switch if it was chosen again, so a coroutine switch happens
 * only where the running task changes; sched_run() starts the first step
 * and is returned to when the run is over.  A "step" is the operation at
 * a yield point plus the task's local code up to the next one.  Nothing
 * here allocates after sched_create().
 *
 * Invariants (checked with COW_ASSERT):
 *   T1  sync_explorer is non-NULL exactly while a task runs;
 *   T2  s->current is the running task, or NULL in scheduler context;
 *   T3  a BLOCKED task has a predicate; RUNNABLE and DONE tasks have none.
 */
#include "sched.h"

#include "coro.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define DEFAULT_MAX_STEPS 1000000ull
#define DEFAULT_STACK (256u * 1024u)
#define GUARD_SIZE 4096u
/* Steps between two checks whose accesses are logged; a longer stretch
 * (one task running alone) gets a full check. */
#define SCHED_TOUCH_LOG 256

struct task {
	struct coro ctx;
	char *stack;
	const char *name;
	void (*fn)(void *);
	void *arg;
	struct sched *sched;
	int id;
	int cpu;
	unsigned int flags;
	sync_pred_fn ready;   /* wake predicate while blocked (its step: pend_obj) */
	const void *wait_arg; /* ready's argument */
	const char *wait_what;
	const int *wait_owner;
	struct sched_rcu rcu;
	struct lock_stack locks;
	uint64_t prio; /* PCT */
	/* The operation the task performs when it next takes a step: the
	 * one at its last yield point (or its wait). */
	enum sync_op pend_op;
	const void *pend_obj;
};

struct sched {
	struct task *tasks;
	char *stacks; /* one mapping: max_tasks x (guard + stack) */
	size_t stack_size;
	unsigned int max_tasks;
	unsigned int nr_tasks;
	struct task *current;
	struct coro main_ctx;
	int *runnable; /* scratch: ids of runnable tasks */
	/* A task's state, a bit per id (each step reads them all, so they
	 * sit here rather than in the tasks): live (not done), blocked (a
	 * live task waiting for its predicate), and ordinary (not a daemon:
	 * a run ends when no ordinary task is live). */
	uint64_t live, blocked, ordinary;
	/* The blocked tasks whose predicate held when last evaluated. */
	uint64_t wait_held;

	enum sched_algo algo;
	sched_director_fn director; /* SCHED_DIRECTED */
	void *director_arg;
	int last;	      /* the task that took the previous step, -1 */
	enum sync_op last_op; /* and the operation that step performed */
	const void *last_obj;
	struct sched_dev devs[SCHED_MAX_DEVS];
	unsigned int nr_devs;
	bool devs_overflow;
	unsigned int preemptions;
	unsigned int pct_changes;		  /* change points left */
	uint64_t pct_change[SCHED_PCT_MAX_DEPTH]; /* their steps */
	uint64_t rng;
	uint64_t step, max_steps;
	uint64_t fingerprint;
	enum sched_verdict verdict;
	bool stop;
	char msg[2048];

	void (*step_hook)(void *);
	sched_trace_fn trace;
	void *trace_arg;
	void *data;
	bool unchecked;	     /* a step ran since the hook last saw the state */
	uint64_t check_from; /* the hook sees no state before this step */
	void *step_arg;
	/* The steps' accesses since the hook last ran (sched_touched);
	 * nr_touched counts past the log's end when it overflows. */
	struct sync_touch touched[SCHED_TOUCH_LOG];
	unsigned int nr_touched;
	struct sched_rcu_queue rcu;
};

__thread struct sched *sync_explorer;

#define BIT64(i) (1ull << (i))
_Static_assert(SCHED_MAX_TASKS <= 64, "a task's state is a bit of a 64-bit mask");

/* ---- set-up ------------------------------------------------------------ */

struct sched *sched_create(const struct sched_opts *opts)
{
	struct sched *s = calloc(1, sizeof(*s));
	size_t slot;

	if (!s)
		return NULL;
	s->max_tasks = opts && opts->max_tasks ? opts->max_tasks : 16;
	if (s->max_tasks > SCHED_MAX_TASKS)
		s->max_tasks = SCHED_MAX_TASKS;
	s->stack_size = opts && opts->stack_size ? opts->stack_size : DEFAULT_STACK;
	s->stack_size = (s->stack_size + 4095) & ~(size_t)4095;
	slot = GUARD_SIZE + s->stack_size;
	s->tasks = calloc(s->max_tasks, sizeof(*s->tasks));
	s->runnable = calloc(s->max_tasks, sizeof(*s->runnable));
	s->stacks = mmap(NULL, slot * s->max_tasks, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!s->tasks || !s->runnable || s->stacks == MAP_FAILED) {
		if (s->stacks != MAP_FAILED)
			s->stacks = NULL;
		sched_destroy(s);
		return NULL;
	}
	for (unsigned int i = 0; i < s->max_tasks; i++) {
		/* A guard page below each stack turns an overflow into a
		 * fault instead of silent corruption of the next task. */
		mprotect(s->stacks + i * slot, GUARD_SIZE, PROT_NONE);
		s->tasks[i].stack = s->stacks + i * slot + GUARD_SIZE;
	}
	sched_reset(s, SCHED_RANDOM, 0, 0);
	sync_explore_thread = true;
	return s;
}

void sched_destroy(struct sched *s)
{
	if (!s)
		return;
	sync_explore_thread = false;
	if (s->stacks)
		munmap(s->stacks, (GUARD_SIZE + s->stack_size) * s->max_tasks);
	free(s->tasks);
	free(s->runnable);
	free(s);
}

void sched_reset(struct sched *s, enum sched_algo algo, uint64_t seed, uint64_t max_steps)
{
	COW_CHECK(s->current == NULL, "sched_reset called from a task");
	s->nr_tasks = 0;
	s->live = s->blocked = s->ordinary = s->wait_held = 0;
	s->algo = algo;
	s->rng = seed;
	s->step = 0;
	s->max_steps = max_steps ? max_steps : DEFAULT_MAX_STEPS;
	s->fingerprint = 0xcbf29ce484222325ull;
	s->verdict = SCHED_OK;
	s->stop = false;
	s->unchecked = false;
	s->check_from = 0;
	s->nr_touched = 0;
	s->msg[0] = '\0';
	s->rcu.head = NULL;
	s->rcu.tail = &s->rcu.head;
	s->rcu.batch = NULL;
	s->rcu.daemon = -1;
	s->rcu.queued = s->rcu.done = 0;
	s->pct_changes = 0;
	s->last = -1;
	s->nr_devs = 0;
	s->devs_overflow = false;
	s->preemptions = 0;
}

void sched_set_director(struct sched *s, sched_director_fn fn, void *arg)
{
	COW_CHECK(s->algo == SCHED_DIRECTED, "a director needs SCHED_DIRECTED");
	s->director = fn;
	s->director_arg = arg;
}

void sched_set_trace(struct sched *s, sched_trace_fn fn, void *arg)
{
	s->trace = fn;
	s->trace_arg = arg;
}

void sched_set_pct(struct sched *s, unsigned int depth, uint64_t k)
{
	COW_CHECK(s->algo == SCHED_PCT && depth >= 1 && depth <= SCHED_PCT_MAX_DEPTH && k > 0,
		  "bad PCT parameters: depth %u, k %llu", depth, (unsigned long long)k);
	s->pct_changes = depth - 1;
	for (unsigned int i = 0; i < depth - 1; i++)
		s->pct_change[i] = 1 + cow_splitmix64(&s->rng) % k;
}

void sched_check_from(struct sched *s, uint64_t step)
{
	s->check_from = step;
}

void sched_set_step_hook(struct sched *s, void (*fn)(void *), void *arg)
{
	s->step_hook = fn;
	s->step_arg = arg;
}

const struct sync_touch *sched_touched(const struct sched *s, size_t *n)
{
	*n = s->nr_touched;
	return s->nr_touched <= SCHED_TOUCH_LOG ? s->touched : NULL;
}

/* ---- switching --------------------------------------------------------- */

static struct task *next_step(struct sched *s);
static void step_done(struct sched *s);

/* The running task ends its step.  The scheduler's work between two
 * steps (step_done, next_step) runs here, on this task's stack, as no
 * task (T1, T2); then the task goes on if it takes the next step too, or
 * switches to the task that does, or back to sched_run when the run is
 * over.  A step costs a switch only where the running task changes. */
static void task_yield(struct sched *s)
{
	struct task *t = s->current, *next;

	s->current = NULL;
	sync_explorer = NULL;
	step_done(s);
	next = next_step(s);
	if (next != t)
		coro_switch(&t->ctx, next ? &next->ctx : &s->main_ctx);
	/* Resumed: whoever chose this task set current, sync_explorer and
	 * sync_cpu. */
}

static void task_entry(void *arg)
{
	struct task *t = arg;
	struct sched *s = t->sched;

	t->fn(t->arg);
	COW_CHECK(t->rcu.nesting == 0, "task %s finished inside an RCU read-side section", t->name);
	s->live &= ~BIT64(t->id);
	task_yield(s);
	cow_panic(__FILE__, __LINE__, "finished task %s resumed", t->name);
}

int sched_spawn(struct sched *s, const char *name, int cpu, void (*fn)(void *), void *arg,
		unsigned int flags)
{
	struct task *t;

	if (s->nr_tasks >= s->max_tasks)
		return COW_ENOMEM;
	COW_CHECK(cpu >= 0 && cpu < SYNC_MAX_CPUS, "cpu %d out of range", cpu);
	t = &s->tasks[s->nr_tasks];
	t->name = name;
	t->fn = fn;
	t->arg = arg;
	t->sched = s;
	t->id = (int)s->nr_tasks;
	t->cpu = cpu;
	t->flags = flags;
	s->live |= BIT64(t->id);
	if (!(flags & SCHED_DAEMON))
		s->ordinary |= BIT64(t->id);
	t->ready = NULL;
	t->wait_arg = NULL;
	t->wait_what = NULL;
	t->wait_owner = NULL;
	t->rcu.nesting = 0;
	t->rcu.exits = 0;
	t->locks.depth = 0;
	t->pend_op = SYNC_YIELD;
	t->pend_obj = NULL;
	/* A random priority above every change-point priority (those are
	 * below SCHED_PCT_MAX_DEPTH); the id breaks the (unlikely) ties. */
	t->prio = (cow_splitmix64(&s->rng) | (1ull << 63)) & ~(uint64_t)(SCHED_MAX_TASKS - 1);
	t->prio |= (uint64_t)t->id;
	coro_init(&t->ctx, t->stack, s->stack_size, task_entry, t);
	s->nr_tasks++;
	return t->id;
}

void sched_yield_point(struct sched *s, enum sync_op op, const void *obj)
{
	COW_ASSERT(s->current != NULL);
	s->current->pend_op = op;
	s->current->pend_obj = obj;
	task_yield(s);
}

void sched_wait_on(struct sched *s, sync_pred_fn ready, const void *arg, enum sync_op op,
		   const void *obj, const char *what, const int *owner)
{
	struct task *t = s->current;

	COW_ASSERT(t != NULL);
	if (ready(arg))
		return;
	s->blocked |= BIT64(t->id);
	s->wait_held &= ~BIT64(t->id);
	t->ready = ready;
	t->wait_arg = arg;
	t->wait_what = what;
	t->wait_owner = owner;
	t->pend_op = op;
	t->pend_obj = obj;
	task_yield(s);
	COW_ASSERT(!(s->blocked & BIT64(t->id)) && ready(arg));
}

static void vfail(struct sched *s, const char *fmt, va_list ap)
{
	if (s->verdict == SCHED_OK) {
		s->verdict = SCHED_FAILED;
		vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	}
	s->stop = true;
}

void sched_fail(struct sched *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(s, fmt, ap);
	va_end(ap);
	if (s->current) {
		/* Abandon the task: it is never resumed, its stack is
		 * reused by the next run. */
		s->live &= ~BIT64(s->current->id);
		task_yield(s);
		cow_panic(__FILE__, __LINE__, "failed task resumed");
	}
}

/* A COW_CHECK or COW_ASSERT that fires inside a task ends the run as a
 * counterexample instead of aborting the process. */
static __thread struct sched *panic_sched;

static void sched_panic(const char *file, int line, const char *msg)
{
	struct sched *s = panic_sched;

	if (s && s->current)
		sched_fail(s, "broken invariant at %s:%d: %s", file, line, msg);
}

/* ---- the run loop ------------------------------------------------------ */

static void describe_tasks(struct sched *s, const char *headline)
{
	size_t len = strlen(s->msg);
	int n = snprintf(s->msg + len, sizeof(s->msg) - len, "%s", headline);

	len += n > 0 ? (size_t)n : 0;
	for (unsigned int i = 0; i < s->nr_tasks && len < sizeof(s->msg); i++) {
		struct task *t = &s->tasks[i];

		if (!(s->live & s->ordinary & BIT64(i)))
			continue;
		if (!(s->blocked & BIT64(i))) {
			n = snprintf(s->msg + len, sizeof(s->msg) - len, "; cpu%d (%s) is runnable",
				     t->cpu, t->name);
		} else if (t->wait_owner && *t->wait_owner >= SYNC_OWNER_BASE &&
			   *t->wait_owner < SYNC_OWNER_BASE + (int)s->nr_tasks) {
			struct task *h = &s->tasks[*t->wait_owner - SYNC_OWNER_BASE];

			n = snprintf(s->msg + len, sizeof(s->msg) - len,
				     "; cpu%d (%s) waits for %s %p held by cpu%d (%s)", t->cpu,
				     t->name, t->wait_what, t->pend_obj, h->cpu, h->name);
		} else {
			n = snprintf(s->msg + len, sizeof(s->msg) - len,
				     "; cpu%d (%s) waits for %s %p", t->cpu, t->name, t->wait_what,
				     t->pend_obj);
		}
		len += n > 0 ? (size_t)n : 0;
	}
}

bool sched_conflict(enum sync_op a, const void *oa, enum sync_op b, const void *ob)
{
	if (a == SYNC_YIELD || b == SYNC_YIELD)
		return false;
	if (a == SYNC_DEVICE || b == SYNC_DEVICE)
		return true;
	if (a == b && (a == SYNC_DMA || a == SYNC_SWAP)) /* the same storage */
		return true;
	if (a == SYNC_RCU || b == SYNC_RCU)
		return a == b;
	return oa == ob && (a != SYNC_READ || b != SYNC_READ);
}

const char *sched_op_name(enum sync_op op)
{
	static const char *const names[SYNC_NR_OPS + 1] = {
		[SYNC_READ] = "read",	  [SYNC_WRITE] = "write",   [SYNC_RMW] = "rmw",
		[SYNC_LOCK] = "lock",	  [SYNC_UNLOCK] = "unlock", [SYNC_RCU] = "rcu",
		[SYNC_DEVICE] = "device", [SYNC_DMA] = "dma",	    [SYNC_SWAP] = "swap",
		[SYNC_YIELD] = "yield",	  [SYNC_NR_OPS] = "start",
	};

	return (unsigned int)op <= SYNC_NR_OPS ? names[op] : "?";
}

/* The last step made blocked task t's predicate hold, or stop holding:
 * it must conflict with t's pending operation (see sched_conflict). */
static void check_wake(struct sched *s, const struct task *t, bool held)
{
	const struct task *by;

	if (s->last < 0 || s->last == t->id ||
	    sched_conflict(s->last_op, s->last_obj, t->pend_op, t->pend_obj))
		return;
	by = &s->tasks[s->last];
	if (s->verdict == SCHED_OK) {
		s->verdict = SCHED_FAILED;
		snprintf(s->msg, sizeof(s->msg),
			 "crash: cowlab's model is wrong: step %llu of cpu%d (%s), a %s of %p, "
			 "made the wait of cpu%d (%s) for %s %s, but the wait is a %s of %p, "
			 "which that step does not touch",
			 (unsigned long long)s->step, by->cpu, by->name, sched_op_name(s->last_op),
			 s->last_obj, t->cpu, t->name, t->wait_what, held ? "hold" : "stop holding",
			 sched_op_name(t->pend_op), t->pend_obj);
	}
	s->stop = true;
}

static unsigned int collect_runnable(struct sched *s, bool *all_done)
{
	unsigned int n = 0;

	*all_done = !(s->live & s->ordinary);
	for (uint64_t live = s->live; live; live &= live - 1) {
		int i = __builtin_ctzll(live);
		struct task *t = &s->tasks[i];

		/* A blocked task stays blocked until it is picked, so its
		 * predicate is re-evaluated at every step until then. */
		if (s->blocked & BIT64(i)) {
			bool held = t->ready(t->wait_arg);

			if (held != !!(s->wait_held & BIT64(i))) {
				s->wait_held ^= BIT64(i);
				check_wake(s, t, held);
			}
			if (!held)
				continue;
		}
		s->runnable[n++] = i;
	}
	return n;
}

/* Pick the task that takes the next step. */
static int pct_highest(struct sched *s, unsigned int n)
{
	int best = s->runnable[0];

	for (unsigned int i = 1; i < n; i++)
		if (s->tasks[s->runnable[i]].prio > s->tasks[best].prio)
			best = s->runnable[i];
	return best;
}

/* The task the schedule runs when nobody chooses otherwise: the one that
 * ran last if it still can, else the runnable task with the lowest id. */
static int default_choice(struct sched *s, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (s->runnable[i] == s->last)
			return s->last;
	return s->runnable[0];
}

_Static_assert(SCHED_MAX_TASKS <= MOD_SMALL_MAX, "choose() picks with mod_small()");

static int choose(struct sched *s, unsigned int n, int dflt)
{
	int t;

	switch (s->algo) {
	case SCHED_DIRECTED: return s->director(s->director_arg, s, s->runnable, n, dflt);
	case SCHED_PCT:
		t = pct_highest(s, n);
		for (unsigned int i = 0; i < s->pct_changes; i++) {
			if (s->pct_change[i] != s->step + 1)
				continue;
			/* A change point: the task about to run drops below
			 * everyone (later change points lower still). */
			s->tasks[t].prio = SCHED_PCT_MAX_DEPTH - 1 - i;
			t = pct_highest(s, n);
		}
		return t;
	case SCHED_RANDOM:
	case SCHED_AUTO:
	case SCHED_DFS:
	case SCHED_DPOR: break;
	}
	return s->runnable[mod_small(cow_splitmix64(&s->rng), n)];
}

static void record_deviation(struct sched *s, int id, bool preempt)
{
	if (s->nr_devs == SCHED_MAX_DEVS) {
		s->devs_overflow = true;
	} else {
		s->devs[s->nr_devs].step = s->step;
		s->devs[s->nr_devs].task = (uint16_t)id;
		s->devs[s->nr_devs].preempt = preempt;
		s->nr_devs++;
	}
	s->preemptions += preempt;
}

/* Log the step just taken (by s->last) for the step hook. */
static void step_done(struct sched *s)
{
	s->unchecked = true;
	if (s->nr_touched < SCHED_TOUCH_LOG)
		s->touched[s->nr_touched] = (struct sync_touch){s->last_op, s->last_obj};
	if (s->nr_touched <= SCHED_TOUCH_LOG)
		s->nr_touched++;
	if (s->trace)
		s->trace(s->trace_arg, s, s->last, s->last_op, s->last_obj, true);
}

/* Between two steps: wake, check, choose.  Returns the task that takes
 * the next step, made current, or NULL when the run is over. */
static struct task *next_step(struct sched *s)
{
	bool all_done;
	unsigned int n;
	struct task *t;
	int dflt, id;
	enum sync_op op;
	const void *obj;

	if (s->stop)
		return NULL;
	n = collect_runnable(s, &all_done);
	if (s->stop) /* check_wake */
		return NULL;

	/* The step hook sees every state where the schedule branches (two
	 * or more tasks could take the next step) and the final one.  A
	 * state where only one task can run is seen by no other task, in
	 * this run; a schedule in which another task could run there
	 * checks it at that point. */
	if (s->step_hook && s->unchecked && s->step >= s->check_from &&
	    (n != 1 || s->step >= s->max_steps)) {
		s->unchecked = false;
		s->step_hook(s->step_arg);
		s->nr_touched = 0;
		if (s->stop)
			return NULL;
	}
	if (n == 0) {
		if (!all_done) {
			s->verdict = SCHED_DEADLOCK;
			describe_tasks(s, "deadlock: every task is blocked");
		}
		return NULL;
	}
	if (s->step >= s->max_steps) {
		s->verdict = SCHED_LIVELOCK;
		snprintf(s->msg, sizeof(s->msg), "livelock: no outcome after %llu steps",
			 (unsigned long long)s->step);
		describe_tasks(s, "");
		return NULL;
	}
	dflt = default_choice(s, n);
	id = choose(s, n, dflt);
	if (id != dflt)
		record_deviation(s, id, dflt == s->last);
	t = &s->tasks[id];
	if (s->blocked & BIT64(id)) {
		s->blocked &= ~BIT64(id);
		t->ready = NULL;
	}
	op = t->pend_op;
	obj = t->pend_obj;
	/* The fingerprint covers every step: who took it and its kind of
	 * operation (object addresses differ between runs).  The tasks
	 * chosen determine the run, so two runs with different schedules
	 * differ in it (but for a hash collision). */
	s->fingerprint = (s->fingerprint ^ (uint64_t)(id * 16 + (int)op)) * 0x100000001b3ull;
	if (s->trace)
		s->trace(s->trace_arg, s, id, op, obj, false);
	s->step++;
	s->last = id;
	s->last_op = op;
	s->last_obj = obj;
	s->current = t;
	sync_explorer = s;
	sync_cpu = t->cpu;
	return t;
}

enum sched_verdict sched_run(struct sched *s)
{
	struct sched *outer_panic = panic_sched;
	cow_panic_fn old_handler;
	int saved_cpu = sync_cpu;
	struct task *t;

	COW_CHECK(s->current == NULL && sync_explorer == NULL,
		  "sched_run called from inside a run");
	panic_sched = s;
	old_handler = cow_set_panic_handler(sched_panic);
	/* The tasks choose each next step themselves (task_yield); the
	 * last one comes back here when the run is over. */
	t = next_step(s);
	if (t)
		coro_switch(&s->main_ctx, &t->ctx);
	COW_ASSERT(s->current == NULL && sync_explorer == NULL);
	sync_cpu = saved_cpu;
	cow_set_panic_handler(old_handler);
	panic_sched = outer_panic;
	return s->verdict;
}

/* ---- accessors --------------------------------------------------------- */

void sched_set_data(struct sched *s, void *data)
{
	s->data = data;
}

void *sched_data(const struct sched *s)
{
	return s->data;
}

const char *sched_message(const struct sched *s)
{
	return s->msg;
}

uint64_t sched_steps(const struct sched *s)
{
	return s->step;
}

uint64_t sched_fingerprint(const struct sched *s)
{
	return s->fingerprint;
}

const struct sched_dev *sched_devs(const struct sched *s, unsigned int *n, bool *overflow)
{
	*n = s->nr_devs;
	*overflow = s->devs_overflow;
	return s->devs;
}

unsigned int sched_preemptions(const struct sched *s)
{
	return s->preemptions;
}

int sched_last(const struct sched *s)
{
	return s->last;
}

void sched_pending(const struct sched *s, int task, enum sync_op *op, const void **obj)
{
	COW_ASSERT(task >= 0 && (unsigned int)task < s->nr_tasks);
	*op = s->tasks[task].pend_op;
	*obj = s->tasks[task].pend_obj;
}

const char *sched_task_name(const struct sched *s, int task)
{
	COW_ASSERT(task >= 0 && (unsigned int)task < s->nr_tasks);
	return s->tasks[task].name;
}

int sched_task_cpu(const struct sched *s, int task)
{
	COW_ASSERT(task >= 0 && (unsigned int)task < s->nr_tasks);
	return s->tasks[task].cpu;
}

int sched_task_id(const struct sched *s)
{
	return s->current ? s->current->id : -1;
}

int sched_nr_tasks(const struct sched *s)
{
	return (int)s->nr_tasks;
}

struct sched_rcu *sched_task_rcu(struct sched *s, int task)
{
	COW_ASSERT(task >= 0 && (unsigned int)task < s->nr_tasks);
	return &s->tasks[task].rcu;
}

struct lock_stack *sched_task_locks(struct sched *s)
{
	COW_ASSERT(s->current != NULL);
	return &s->current->locks;
}

struct sched_rcu_queue *sched_rcu_queue(struct sched *s)
{
	return &s->rcu;
}
