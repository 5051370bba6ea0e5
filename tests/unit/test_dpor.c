/*
 * Tests of optimal dynamic partial-order reduction (src/sched/dpor.c) on
 * small programs, against exhaustive enumeration (dfs without sleep sets
 * and without a preemption bound: every schedule there is):
 *
 *   - completeness: dpor reaches exactly the final states enumeration
 *     reaches;
 *   - optimality: every run dpor counts is a Mazurkiewicz trace of its
 *     own (two runs' traces are compared in a canonical form: the
 *     lexicographically least interleaving of the same dependency
 *     graph), and it counts exactly as many runs as enumeration finds
 *     traces, with no run cut short and no divergence;
 *   - a negative control: a program whose tasks share a word the conflict
 *     relation cannot see (accessed without a yield point of its own), on
 *     which dpor must miss final states that enumeration finds, so that
 *     the comparison above is shown to be able to fail.
 */
#include "testutil.h"

#include <math.h>

#include "sched/explore.h"
#include "sched/explore_impl.h"

#define MAX_SEEN 8192
#define MAX_STEPS 512

/* ---- what a run did -------------------------------------------------------------- */

struct prog_state {
	long x, y, z, hidden, file, slot;
	long r[4];
	spinlock_t lock;
	int nr_tasks, loops, loops1;
	struct tlb_window win[2];
};

/* The steps of the run in progress, as the scheduler's trace hook sees
 * them, and the sets of final states and trace forms seen so far. */
struct step {
	int task;
	enum sync_op op;
	const void *obj;
};

static struct {
	struct step steps[MAX_STEPS];
	int nr;
	bool overflow;
	uint64_t finals[MAX_SEEN], traces[MAX_SEEN];
	int nr_finals, nr_traces;
	int repeats;	  /* runs whose trace was seen already */
	const char *base; /* the run's state: objects are named by offset */
} rec;

static void record_step(void *arg, struct sched *s, int task, enum sync_op op, const void *obj,
			bool after)
{
	(void)arg;
	(void)s;
	if (after)
		return;
	if (rec.nr == MAX_STEPS) {
		rec.overflow = true;
		return;
	}
	rec.steps[rec.nr++] = (struct step){task, op, obj};
}

static bool add(uint64_t *set, int *nr, uint64_t v)
{
	for (int i = 0; i < *nr; i++)
		if (set[i] == v)
			return false;
	assert_true(*nr < MAX_SEEN);
	set[(*nr)++] = v;
	return true;
}

/* An object as the same name in every run: its offset in the run's
 * state (0 for none). */
static uint64_t obj_name(const void *obj)
{
	const char *p = obj;

	if (!p)
		return 0;
	assert_true(p >= rec.base && p < rec.base + sizeof(struct prog_state));
	return (uint64_t)(p - rec.base) + 1;
}

/* The trace of the steps recorded, in a canonical form: repeatedly the
 * lowest task whose next step has no earlier dependent step left (same
 * task, or a conflicting operation), hashed with its operations. */
static uint64_t trace_form(void)
{
	bool done[MAX_STEPS] = {false};
	uint64_t h = COW_FNV_BASIS;

	for (int emitted = 0; emitted < rec.nr; emitted++) {
		int pick = -1;

		for (int k = 0; k < rec.nr; k++) {
			bool free = !done[k];

			for (int l = 0; l < k && free; l++)
				if (!done[l] && (rec.steps[l].task == rec.steps[k].task ||
						 sched_conflict(rec.steps[l].op, rec.steps[l].obj,
								rec.steps[k].op, rec.steps[k].obj)))
					free = false;
			if (free && (pick < 0 || rec.steps[k].task < rec.steps[pick].task))
				pick = k;
		}
		assert_true(pick >= 0);
		done[pick] = true;
		h = (h ^ (uint64_t)(rec.steps[pick].task * 16 + (int)rec.steps[pick].op)) *
		    0x100000001b3ull;
		h = (h ^ obj_name(rec.steps[pick].obj)) * 0x100000001b3ull;
	}
	return h;
}

/* ---- the programs ------------------------------------------------------------------ */

static struct prog_state *state_new(struct sched *s, int nr, void (*fn)(void *))
{
	static struct prog_state *st;

	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	spin_lock_init(&st->lock);
	st->nr_tasks = nr;
	rec.base = (const char *)st;
	rec.nr = 0;
	rec.overflow = false;
	sched_set_trace(s, record_step, NULL);
	for (int i = 0; i < nr; i++)
		sched_spawn(s, "t", i, fn, st, 0);
	return st;
}

/* Which task this is: the n-th to call it in a run (its CPU). */
static int me(void)
{
	return smp_processor_id();
}

/* Three writers and readers of two words: store buffering with a third
 * party, many traces, a few final states. */
static void sb3(void *arg)
{
	struct prog_state *st = arg;
	int i = me();

	if (i == 0) {
		WRITE_ONCE(st->x, 1);
		st->r[0] = READ_ONCE(st->y);
	} else if (i == 1) {
		WRITE_ONCE(st->y, 1);
		st->r[1] = READ_ONCE(st->x);
	} else {
		st->r[2] = READ_ONCE(st->x) * 2 + READ_ONCE(st->y);
		WRITE_ONCE(st->z, 1);
	}
}

static void *sb3_setup(struct sched *s)
{
	return state_new(s, 3, sb3);
}

/* Two lost-update increments and a reader, around a lock on one side. */
static void counter(void *arg)
{
	struct prog_state *st = arg;
	int i = me();

	if (i == 2) {
		spin_lock(&st->lock);
		st->r[2] = READ_ONCE(st->x);
		spin_unlock(&st->lock);
		return;
	}
	for (int k = 0; k < (i == 1 && st->loops1 ? st->loops1 : st->loops); k++) {
		long v = READ_ONCE(st->x);

		if (i == 0)
			spin_lock(&st->lock);
		WRITE_ONCE(st->x, v + 1);
		if (i == 0)
			spin_unlock(&st->lock);
	}
}

static void *counter_setup(struct sched *s)
{
	struct prog_state *st = state_new(s, 3, counter);

	if (st)
		st->loops = 2;
	return st;
}

static void *counter21_setup(struct sched *s)
{
	struct prog_state *st = state_new(s, 3, counter);

	if (st) {
		st->loops = 2;
		st->loops1 = 1;
	}
	return st;
}

static void *counter1_setup(struct sched *s)
{
	struct prog_state *st = state_new(s, 3, counter);

	if (st)
		st->loops = 1;
	return st;
}

/* Two critical sections against one. */
static void locks(void *arg)
{
	struct prog_state *st = arg;

	for (int k = 0; k < (me() == 0 ? 2 : 1); k++) {
		spin_lock(&st->lock);
		spin_unlock(&st->lock);
	}
}

static void *locks_setup(struct sched *s)
{
	return state_new(s, 2, locks);
}

/* Independent work on separate words: a single trace. */
static void separate(void *arg)
{
	struct prog_state *st = arg;
	long *w = me() == 0 ? &st->x : me() == 1 ? &st->y : &st->z;

	WRITE_ONCE(*w, READ_ONCE(*w) + 1);
}

static void *separate_setup(struct sched *s)
{
	return state_new(s, 3, separate);
}

/* Tasks that spawn tasks, in an order the interleaving decides: wakeup
 * sequences name a task by who spawned it, not by its number. */
static void child(void *arg)
{
	struct prog_state *st = arg;

	WRITE_ONCE(st->z, READ_ONCE(st->z) + 1);
}

static void spawner(void *arg)
{
	struct prog_state *st = arg;

	WRITE_ONCE(st->x, READ_ONCE(st->x) + 1);
	if (sched_spawn(sync_explorer, "child", me() + 2, child, st, 0) < 0)
		sched_fail(sync_explorer, "no task slot");
	st->r[me()] = READ_ONCE(st->z);
}

static void *spawner_setup(struct sched *s)
{
	return state_new(s, 2, spawner);
}

/* A TLB shootdown and a CPU's accesses: the shootdown waits for a CPU it
 * finds inside an access, so whether it waits depends on the order of
 * its look at the window and the CPU's entering and leaving it. */
static void shootdown(void *arg)
{
	struct prog_state *st = arg;

	if (me() == 0) {
		for (int k = 0; k < 2; k++) {
			tlb_access_begin(&st->win[0]);
			st->r[k] = READ_ONCE(st->y);
			tlb_access_end(&st->win[0]);
		}
	} else {
		WRITE_ONCE(st->y, 1);
		tlb_shootdown_wait(st->win, sizeof(st->win[0]), 2);
		WRITE_ONCE(st->y, 2);
	}
}

static void *shootdown_setup(struct sched *s)
{
	return state_new(s, 2, shootdown);
}

/* A store under a lock that the other task reads without it (the swap
 * map's pattern: swap_count() beside a slot's update).  Before
 * WRITE_LOCKED was a yield point of its own, the store rode in the step
 * of the lock and dpor ran one order of it and the load: 1 of the 2 final
 * states. */
static void locked_store(void *arg)
{
	struct prog_state *st = arg;

	if (me() == 0) {
		spin_lock(&st->lock);
		WRITE_LOCKED(st->x, st->x + 1);
		spin_unlock(&st->lock);
	} else {
		st->r[1] = READ_ONCE(st->x);
	}
}

static void *locked_store_setup(struct sched *s)
{
	return state_new(s, 2, locked_store);
}

/* Storage steps.  A device's DMA steps (sync_dma_step) each move a word of
 * a file (z, which only DMA steps touch) into the chunk they name (x),
 * then a swap step (sync_swap_step) moves x into a swap slot (slot, which
 * only swap steps touch).  A CPU reads x, then stores to y.  Another reads
 * the file (a DMA step naming the file), swaps the slot into y (a swap
 * step naming y), then takes a step that may touch anything
 * (sync_device_step) and reads x and y.  With storage steps that conflicted
 * only with the steps on their chunk, dpor missed the orders of the file
 * read and the DMA steps, and of the two swap steps. */
static void dma(void *arg)
{
	struct prog_state *st = arg;

	if (me() == 0) {
		for (long k = 1; k <= 2; k++) {
			sync_dma_step(&st->x);
			st->x = k;
			st->z = k;
		}
		sync_swap_step(&st->x);
		st->slot = st->x;
	} else if (me() == 1) {
		st->r[1] = READ_ONCE(st->x);
		WRITE_ONCE(st->y, 1);
	} else {
		sync_dma_step(&st->file);
		st->r[2] = st->z;
		sync_swap_step(&st->y);
		st->y = st->slot + 8;
		sync_device_step(st);
		st->r[0] = st->x * 4 + st->y;
	}
}

static void *dma_setup(struct sched *s)
{
	return state_new(s, 3, dma);
}

/* The negative control: each task's step on its own word also writes or
 * reads a word no yield point names. */
static void hidden(void *arg)
{
	struct prog_state *st = arg;

	if (me() == 0) {
		WRITE_ONCE(st->x, 1);
		st->hidden = 1; /* in the step after the store to x */
		WRITE_ONCE(st->x, 2);
	} else {
		WRITE_ONCE(st->y, 1);
		st->r[1] = st->hidden;
		WRITE_ONCE(st->y, 2);
	}
}

static void *hidden_setup(struct sched *s)
{
	return state_new(s, 2, hidden);
}

static int verdict(void *state, char *msg, size_t len)
{
	const struct prog_state *st = state;
	uint64_t v = ((uint64_t)st->x << 48) ^ ((uint64_t)st->y << 40) ^ ((uint64_t)st->z << 32) ^
		     ((uint64_t)st->r[0] << 24) ^ ((uint64_t)st->r[1] << 16) ^
		     ((uint64_t)st->r[2] << 8) ^ (uint64_t)st->hidden;

	(void)msg;
	(void)len;
	assert_false(rec.overflow);
	add(rec.finals, &rec.nr_finals, v);
	if (!add(rec.traces, &rec.nr_traces, trace_form()))
		rec.repeats++;
	return 0;
}

static void teardown(void *state)
{
	free(state);
}

#define PROG(n, setup_fn, tasks)                                                     \
	{                                                                            \
		.name = n, .nr_tasks = tasks, .setup = setup_fn, .verdict = verdict, \
		.teardown = teardown, .hash = 1,                                     \
	}

static const struct explore_prog progs[] = {
	PROG("locks", locks_setup, 2),	     PROG("sb3", sb3_setup, 3),
	PROG("counter1", counter1_setup, 3), PROG("counter21", counter21_setup, 3),
	PROG("separate", separate_setup, 3), PROG("spawner", spawner_setup, 4),
	PROG("counter", counter_setup, 3),
};
/* The last program's enumeration makes 2.4 million runs: under ASan that
 * takes minutes, and the sanitizer build leaves it out. */
#ifdef __SANITIZE_ADDRESS__
#define NR_PROGS (ARRAY_SIZE(progs) - 1)
#else
#define NR_PROGS ARRAY_SIZE(progs)
#endif
static const struct explore_prog hidden_prog = PROG("hidden", hidden_setup, 2);
/* Before a CPU's leaving its window was a step of its own and a
 * shootdown named the windows it read, dpor reached 4 of this program's
 * 6 final states. */
static const struct explore_prog shootdown_prog = PROG("shootdown", shootdown_setup, 2);
static const struct explore_prog locked_store_prog = PROG("locked_store", locked_store_setup, 2);
static const struct explore_prog dma_prog = PROG("dma", dma_setup, 3);

/* ---- searches ------------------------------------------------------------------------- */

struct outcome {
	uint64_t finals[MAX_SEEN], traces[MAX_SEEN];
	int nr_finals, nr_traces, repeats;
	struct explore_result r;
};

static void search(const struct explore_prog *p, enum sched_algo algo, bool no_reduction,
		   struct outcome *out)
{
	struct explore_opts o = {
		.algo = algo,
		.preemptions = 64,
		.no_reduction = no_reduction,
	};

	memset(&rec, 0, sizeof(rec));
	assert_int_equal(explore_run_search(p, NULL, &o, &out->r), 0);
	assert_false(out->r.failed);
	assert_true(out->r.exhaustive);
	memcpy(out->finals, rec.finals, sizeof(rec.finals));
	memcpy(out->traces, rec.traces, sizeof(rec.traces));
	out->nr_finals = rec.nr_finals;
	out->nr_traces = rec.nr_traces;
	out->repeats = rec.repeats;
}

static bool same_set(const uint64_t *a, int na, const uint64_t *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++) {
		bool found = false;

		for (int j = 0; j < nb && !found; j++)
			found = a[i] == b[j];
		if (!found)
			return false;
	}
	return true;
}

static struct outcome all, dpor;

/* dpor against enumeration on p. */
static void check_complete(const struct explore_prog *p)
{
	search(p, SCHED_DFS, true, &all);
	search(p, SCHED_DPOR, false, &dpor);
	print_message("# %s: %d traces, %d final states in %llu schedules; dpor %llu runs "
		      "(%llu of them cut short), %d traces, %d final states\n",
		      p->name, all.nr_traces, all.nr_finals, (unsigned long long)all.r.runs,
		      (unsigned long long)(dpor.r.runs + dpor.r.uncounted),
		      (unsigned long long)dpor.r.uncounted, dpor.nr_traces, dpor.nr_finals);
	/* Complete: every final state, every trace. */
	assert_true(same_set(all.finals, all.nr_finals, dpor.finals, dpor.nr_finals));
	assert_int_equal(dpor.nr_traces, all.nr_traces);
	/* Optimal in what it counts: each counted run a trace of its own;
	 * the runs cut short (every runnable task asleep) are few, and
	 * counted apart. */
	assert_int_equal(dpor.r.runs, (uint64_t)all.nr_traces);
	assert_int_equal(dpor.repeats, (int)dpor.r.uncounted);
	assert_true(dpor.r.uncounted * 100 <= dpor.r.runs);
	assert_int_equal(dpor.r.divergences, 0);
}

static void test_complete_and_optimal(void **state)
{
	(void)state;
	for (size_t i = 0; i < NR_PROGS; i++)
		check_complete(&progs[i]);
	check_complete(&shootdown_prog);
	check_complete(&locked_store_prog);
	assert_int_equal(dpor.nr_finals, 2);
	check_complete(&dma_prog);
}

/* A relation that misses a conflict makes dpor miss final states: the
 * check above would catch a dpor that dropped a race. */
static void test_negative_control(void **state)
{
	(void)state;
	search(&hidden_prog, SCHED_DFS, true, &all);
	search(&hidden_prog, SCHED_DPOR, false, &dpor);
	assert_true(all.nr_finals > dpor.nr_finals);
	assert_false(same_set(all.finals, all.nr_finals, dpor.finals, dpor.nr_finals));
}

/* The size estimate (explore_fraction over dpor's path and wakeup
 * trees): its arithmetic, exact once the search is done, and on the way,
 * with the search stopped after a tenth, a quarter and half of its runs,
 * within a factor of three of the runs the whole search makes (five for
 * searches of fewer than 20 runs, where one run is a tenth). */
static void test_estimates(void **state)
{
	const uint32_t done[] = {1, 2, 0}, total[] = {2, 3, 4};

	(void)state;
	assert_true(explore_fraction(done, total, 0) == 0);
	assert_true(explore_fraction(done, total, 1) == 0.5);
	assert_true(fabs(explore_fraction(done, total, 3) - (0.5 + 0.5 * 2 / 3)) < 1e-12);
	for (size_t i = 0; i < NR_PROGS; i++) {
		struct explore_opts o = {.algo = SCHED_DPOR};
		struct explore_result r;
		uint64_t made;
		double slack;

		assert_int_equal(explore_run_search(&progs[i], NULL, &o, &r), 0);
		made = r.runs + r.uncounted;
		slack = made >= 20 ? 3 : 5; /* measured: at most 2.8 and 4.5 */
		assert_true(r.estimate == (double)made);
		for (uint64_t part = 10; part >= 2; part = part > 4 ? 4 : part / 2) {
			o.runs = made / part ? made / part : 1;
			assert_int_equal(explore_run_search(&progs[i], NULL, &o, &r), 0);
			print_message("# %s: %llu runs in all; after %llu, estimated %.0f\n",
				      progs[i].name, (unsigned long long)made,
				      (unsigned long long)o.runs, r.estimate);
			assert_true(r.estimate * slack >= (double)made);
			assert_true(r.estimate <= slack * (double)made);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete_and_optimal),
		cmocka_unit_test(test_negative_control),
		cmocka_unit_test(test_estimates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
