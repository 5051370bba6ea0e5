/*
 * Tests of src/sync: every primitive under the stress back end (real
 * threads) and under the explore back end (seed ranges of the
 * deterministic scheduler), plus negative controls that show the explore
 * checks can fail.
 */
#include "testutil.h"

#include "sched/sched.h"

#define STRESS_THREADS 4
#define STRESS_ITERS 200000
#define EXPLORE_RUNS 2000

/* A shared object for all the programs below. */
struct shared {
	atomic_t a;
	atomic_long_t l;
	long plain;
	int inside; /* how many tasks are in a critical section */
	int readers_inside;
	spinlock_t spin;
	struct mutex mutex;
	struct rw_semaphore sem;
	seqcount_t seq;
	long pair[2];	     /* written together under seq */
	unsigned long word;  /* bit 0 is a bit lock, bit 5 flips */
	struct obj *ptr;     /* RCU-protected */
	struct obj *dead[8]; /* negative control: killed, not yet freed */
	int callbacks;
	int iters;
	bool no_sync; /* negative control: skip the protection */
};

struct obj {
	struct rcu_head rcu;
	int alive;
};

static struct shared *shared_new(int iters)
{
	struct shared *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	init_rwsem(&s->sem);
	mutex_init(&s->mutex);
	s->iters = iters;
	return s;
}

/* Enter and leave a critical section with yield points inside, checking
 * that nobody else is inside. */
static void exclusive_on(int *inside, long *counter)
{
	task_check(READ_ONCE(*inside) == 0);
	WRITE_ONCE(*inside, 1);
	cpu_relax();
	WRITE_ONCE(*counter, READ_ONCE(*counter) + 1);
	task_check(READ_ONCE(*inside) == 1);
	WRITE_ONCE(*inside, 0);
}

static void exclusive_section(struct shared *s)
{
	exclusive_on(&s->inside, &s->plain);
}

/* ---- atomics ------------------------------------------------------------- */

static void atomics_worker(void *arg)
{
	struct shared *s = arg;

	for (int i = 0; i < s->iters; i++) {
		int old;

		atomic_inc(&s->a);
		atomic_long_add_return(2, &s->l);
		do {
			old = atomic_read(&s->a);
		} while (atomic_cmpxchg(&s->a, old, old + 1) != old);
		atomic_dec(&s->a);
	}
}

static void test_atomics_stress(void **state)
{
	struct shared *s = shared_new(STRESS_ITERS);

	(void)state;
	stress_run(STRESS_THREADS, atomics_worker, s);
	assert_int_equal(atomic_read(&s->a), STRESS_THREADS * STRESS_ITERS);
	assert_int_equal(atomic_long_read(&s->l), 2L * STRESS_THREADS * STRESS_ITERS);
	free(s);
}

static void test_atomic_ops_semantics(void **state)
{
	atomic_t a = ATOMIC_INIT(1);
	unsigned long w = 0;

	(void)state;
	assert_false(atomic_add_unless(&a, 1, 1));
	assert_int_equal(atomic_read(&a), 1);
	assert_true(atomic_inc_not_zero(&a));
	assert_int_equal(atomic_cmpxchg(&a, 5, 7), 2); /* no swap */
	assert_int_equal(atomic_cmpxchg(&a, 2, 7), 2); /* swap */
	assert_int_equal(atomic_read(&a), 7);
	assert_false(atomic_sub_and_test(6, &a));
	assert_true(atomic_dec_and_test(&a));
	assert_false(atomic_inc_not_zero(&a));
	assert_false(test_and_set_bit(3, &w));
	assert_true(test_and_set_bit(3, &w));
	assert_true(test_bit(3, &w));
	assert_true(test_and_clear_bit(3, &w));
	assert_int_equal(w, 0);
	assert_int_equal(xchg(&w, 9UL), 0);
	assert_int_equal(cmpxchg(&w, 9UL, 4UL), 9);
	assert_int_equal(w, 4);
}

static void *atomics_setup(struct sched *sch)
{
	struct shared *s = shared_new(3);

	sched_spawn(sch, "a", 0, atomics_worker, s, 0);
	sched_spawn(sch, "b", 1, atomics_worker, s, 0);
	return s;
}

static int atomics_verdict(void *state, char *msg, size_t len)
{
	struct shared *s = state;

	if (s->a.counter == 2 * 3 && s->l.counter == 2 * 2 * 3)
		return 0;
	snprintf(msg, len, "atomic counters %d %ld", s->a.counter, s->l.counter);
	return 1;
}

static const struct explore_prog atomics_prog = {
	"atomics", 2, atomics_setup, NULL, atomics_verdict, free,
};

static void test_atomics_explore(void **state)
{
	(void)state;
	assert_explore_clean(&atomics_prog, 1, EXPLORE_RUNS);
}

/* ---- spinlock ------------------------------------------------------------ */

static void spin_worker(void *arg)
{
	struct shared *s = arg;

	for (int i = 0; i < s->iters; i++) {
		if (!s->no_sync)
			spin_lock(&s->spin);
		exclusive_section(s);
		if (!s->no_sync)
			spin_unlock(&s->spin);
	}
}

static void test_spinlock_stress(void **state)
{
	struct shared *s = shared_new(STRESS_ITERS);

	(void)state;
	stress_run(STRESS_THREADS, spin_worker, s);
	assert_int_equal(s->plain, STRESS_THREADS * STRESS_ITERS);
	assert_false(spin_is_locked(&s->spin));
	free(s);
}

static int plain_verdict(void *state, char *msg, size_t len)
{
	struct shared *s = state;

	if (s->plain == 2L * s->iters)
		return 0;
	snprintf(msg, len, "counter %ld, expected %d", s->plain, 2 * s->iters);
	return 1;
}

#define TWO_TASK_PROG(name, worker, nosync)                        \
	static void *name##_setup(struct sched *sch)               \
	{                                                          \
		struct shared *s = shared_new(2);                  \
		s->no_sync = (nosync);                             \
		sched_spawn(sch, #name "0", 0, worker, s, 0);      \
		sched_spawn(sch, #name "1", 1, worker, s, 0);      \
		return s;                                          \
	}                                                          \
	static const struct explore_prog name##_prog = {           \
		#name, 2, name##_setup, NULL, plain_verdict, free, \
	}

TWO_TASK_PROG(spin, spin_worker, false);
TWO_TASK_PROG(nospin, spin_worker, true);

static void test_spinlock_explore(void **state)
{
	(void)state;
	assert_explore_clean(&spin_prog, 1, EXPLORE_RUNS);
}

static void test_exclusion_check_has_teeth(void **state)
{
	(void)state;
	/* Without the lock the explorer must see two tasks inside. */
	assert_true(explore_runs(&nospin_prog, 1, 1000).failed);
}

static void trylock_task(void *arg)
{
	struct shared *s = arg;

	if (spin_trylock(&s->spin)) {
		exclusive_section(s);
		spin_unlock(&s->spin);
	}
	if (mutex_trylock(&s->mutex)) {
		exclusive_on(&s->readers_inside, &s->plain);
		mutex_unlock(&s->mutex);
	}
}

static void *trylock_setup(struct sched *sch)
{
	struct shared *s = shared_new(0);

	sched_spawn(sch, "t0", 0, trylock_task, s, 0);
	sched_spawn(sch, "t1", 1, trylock_task, s, 0);
	return s;
}

static const struct explore_prog trylock_prog = {
	"trylock", 2, trylock_setup, NULL, NULL, free,
};

static void test_trylock(void **state)
{
	spinlock_t l = SPINLOCK_INIT;
	struct mutex m = MUTEX_INIT;

	(void)state;
	assert_true(spin_trylock(&l));
	assert_false(spin_trylock(&l));
	spin_unlock(&l);
	assert_true(mutex_trylock(&m));
	assert_false(mutex_trylock(&m));
	assert_true(mutex_is_locked(&m));
	mutex_unlock(&m);
	assert_false(mutex_is_locked(&m));
	assert_explore_clean(&trylock_prog, 1, EXPLORE_RUNS);
}

/* ---- mutex ----------------------------------------------------------------- */

static void mutex_worker(void *arg)
{
	struct shared *s = arg;

	for (int i = 0; i < s->iters; i++) {
		mutex_lock(&s->mutex);
		exclusive_section(s);
		mutex_unlock(&s->mutex);
	}
}

static void test_mutex_stress(void **state)
{
	struct shared *s = shared_new(STRESS_ITERS);

	(void)state;
	stress_run(STRESS_THREADS, mutex_worker, s);
	assert_int_equal(s->plain, STRESS_THREADS * STRESS_ITERS);
	free(s);
}

TWO_TASK_PROG(mutex, mutex_worker, false);

static void test_mutex_explore(void **state)
{
	(void)state;
	assert_explore_clean(&mutex_prog, 1, EXPLORE_RUNS);
}

/* ---- rw-semaphore ------------------------------------------------------------ */

static void rwsem_worker(void *arg)
{
	struct shared *s = arg;

	for (int i = 0; i < s->iters; i++) {
		if (i % 3 == 0) {
			down_write(&s->sem);
			task_check(READ_ONCE(s->readers_inside) == 0);
			exclusive_section(s);
			up_write(&s->sem);
		} else {
			down_read(&s->sem);
			__atomic_fetch_add(&s->readers_inside, 1, __ATOMIC_SEQ_CST);
			task_check(READ_ONCE(s->inside) == 0);
			cpu_relax();
			__atomic_fetch_sub(&s->readers_inside, 1, __ATOMIC_SEQ_CST);
			up_read(&s->sem);
		}
	}
}

static void test_rwsem_stress(void **state)
{
	struct shared *s = shared_new(STRESS_ITERS / 2);

	(void)state;
	stress_run(STRESS_THREADS, rwsem_worker, s);
	assert_false(rwsem_is_locked(&s->sem));
	free(s);
}

static void *rwsem_setup(struct sched *sch)
{
	struct shared *s = shared_new(4);

	sched_spawn(sch, "rw0", 0, rwsem_worker, s, 0);
	sched_spawn(sch, "rw1", 1, rwsem_worker, s, 0);
	sched_spawn(sch, "rw2", 2, rwsem_worker, s, 0);
	return s;
}

static const struct explore_prog rwsem_prog = {
	"rwsem", 3, rwsem_setup, NULL, NULL, free,
};

static void test_rwsem_explore(void **state)
{
	(void)state;
	assert_explore_clean(&rwsem_prog, 1, EXPLORE_RUNS);
}

static void test_rwsem_semantics(void **state)
{
	struct rw_semaphore sem = RWSEM_INIT;

	(void)state;
	assert_true(down_read_trylock(&sem));
	assert_true(down_read_trylock(&sem));
	assert_false(down_write_trylock(&sem));
	up_read(&sem);
	up_read(&sem);
	assert_true(down_write_trylock(&sem));
	assert_true(rwsem_is_write_locked(&sem));
	assert_false(down_read_trylock(&sem));
	downgrade_write(&sem);
	assert_false(rwsem_is_write_locked(&sem));
	assert_true(down_read_trylock(&sem));
	up_read(&sem);
	up_read(&sem);
	assert_false(rwsem_is_locked(&sem));
}

/* A reader that takes the semaphore again while a writer waits deadlocks,
 * as on Linux: the explorer must say so instead of hanging. */
static void recursive_reader(void *arg)
{
	struct shared *s = arg;

	down_read(&s->sem);
	cpu_relax();
	cpu_relax();
	down_read(&s->sem);
	up_read(&s->sem);
	up_read(&s->sem);
}

static void plain_writer(void *arg)
{
	struct shared *s = arg;

	down_write(&s->sem);
	up_write(&s->sem);
}

static void *recursive_setup(struct sched *sch)
{
	struct shared *s = shared_new(0);

	sched_spawn(sch, "reader", 0, recursive_reader, s, 0);
	sched_spawn(sch, "writer", 1, plain_writer, s, 0);
	return s;
}

static const struct explore_prog recursive_prog = {
	"recursive-read", 2, recursive_setup, NULL, NULL, free,
};

static void test_rwsem_writer_preference_deadlock(void **state)
{
	struct explore_result r = explore_runs(&recursive_prog, 1, 1000);

	(void)state;
	assert_true(r.failed);
	assert_int_equal(r.verdict, SCHED_DEADLOCK);
	assert_non_null(strstr(r.message, "rwsem"));
}

/* ---- seqcount -------------------------------------------------------------- */

static void seq_writer(void *arg)
{
	struct shared *s = arg;

	for (int i = 1; i <= s->iters; i++) {
		spin_lock(&s->spin);
		write_seqcount_begin(&s->seq);
		WRITE_ONCE(s->pair[0], i);
		WRITE_ONCE(s->pair[1], -i);
		write_seqcount_end(&s->seq);
		spin_unlock(&s->spin);
	}
}

static void seq_reader(void *arg)
{
	struct shared *s = arg;

	for (int i = 0; i < s->iters; i++) {
		unsigned int start;
		long a, b;

		do {
			start = read_seqcount_begin(&s->seq);
			a = READ_ONCE(s->pair[0]);
			b = READ_ONCE(s->pair[1]);
		} while (read_seqcount_retry(&s->seq, start));
		task_check(a == -b);
		/* The raw reader sees an odd count while a writer is inside
		 * and must then not trust the pair. */
		start = raw_read_seqcount(&s->seq);
		a = READ_ONCE(s->pair[0]);
		b = READ_ONCE(s->pair[1]);
		if (!(start & 1) && !read_seqcount_retry(&s->seq, start))
			task_check(a == -b);
	}
}

static void seq_both(void *arg)
{
	if (smp_processor_id() == 0)
		seq_writer(arg);
	else
		seq_reader(arg);
}

static void test_seqcount_stress(void **state)
{
	struct shared *s = shared_new(STRESS_ITERS * 5);

	(void)state;
	stress_run(3, seq_both, s);
	assert_int_equal(s->seq.sequence, 2 * s->iters);
	free(s);
}

static void *seq_setup(struct sched *sch)
{
	struct shared *s = shared_new(3);

	sched_spawn(sch, "writer", 0, seq_writer, s, 0);
	sched_spawn(sch, "reader", 1, seq_reader, s, 0);
	return s;
}

static const struct explore_prog seq_prog = {
	"seqcount", 2, seq_setup, NULL, NULL, free,
};

static void test_seqcount_explore(void **state)
{
	(void)state;
	assert_explore_clean(&seq_prog, 1, EXPLORE_RUNS);
}

/* ---- bit lock ---------------------------------------------------------------- */

static void bitlock_worker(void *arg)
{
	struct shared *s = arg;

	for (int i = 0; i < s->iters; i++) {
		bit_lock(&s->word, 0);
		exclusive_section(s);
		bit_unlock(&s->word, 0);
		/* Other bits of the word stay usable while it is locked. */
		if (smp_processor_id() == 0)
			set_bit(5, &s->word);
		else
			clear_bit(5, &s->word);
		bit_wait_unlocked(&s->word, 0);
	}
}

static void test_bitlock_stress(void **state)
{
	struct shared *s = shared_new(STRESS_ITERS);

	(void)state;
	stress_run(STRESS_THREADS, bitlock_worker, s);
	assert_int_equal(s->plain, STRESS_THREADS * STRESS_ITERS);
	assert_false(test_bit(0, &s->word));
	free(s);
}

TWO_TASK_PROG(bitlock, bitlock_worker, false);

static void test_bitlock_explore(void **state)
{
	unsigned long w = 0;

	(void)state;
	assert_true(bit_trylock(&w, 2));
	assert_false(bit_trylock(&w, 2));
	bit_unlock(&w, 2);
	assert_int_equal(w, 0);
	assert_explore_clean(&bitlock_prog, 1, EXPLORE_RUNS);
}

/* ---- RCU ------------------------------------------------------------------- */

static struct obj *obj_new(void)
{
	struct obj *o = calloc(1, sizeof(*o));

	assert_non_null(o);
	o->alive = 1;
	return o;
}

static void obj_kill(struct rcu_head *h)
{
	struct obj *o = container_of(h, struct obj, rcu);

	/* Poison, then free: a reader that still held it would see 0. */
	o->alive = 0;
	free(o);
}

static void rcu_reader(void *arg)
{
	struct shared *s = arg;

	for (int i = 0; i < s->iters; i++) {
		struct obj *o;

		rcu_read_lock();
		o = rcu_dereference(s->ptr);
		cpu_relax();
		task_check(READ_ONCE(o->alive) == 1);
		rcu_read_unlock();
	}
}

/* Replace the object; the old one dies after a grace period (or at once
 * in the negative control). */
static void rcu_updater(void *arg)
{
	struct shared *s = arg;

	for (int i = 0; i < s->iters; i++) {
		struct obj *old = s->ptr, *fresh = obj_new();

		rcu_assign_pointer(s->ptr, fresh);
		if (s->no_sync) {
			/* Kill without waiting; keep the memory valid so the
			 * reader's check, not a crash, reports the bug. */
			WRITE_ONCE(old->alive, 0);
			s->dead[i] = old;
			continue;
		}
		if (i % 2) {
			synchronize_rcu();
			WRITE_ONCE(old->alive, 0);
			free(old);
		} else {
			call_rcu(&old->rcu, obj_kill);
		}
	}
}

static void rcu_both(void *arg)
{
	if (smp_processor_id() == 0)
		rcu_updater(arg);
	else
		rcu_reader(arg);
}

static void test_rcu_stress(void **state)
{
	struct shared *s = shared_new(STRESS_ITERS / 4);

	(void)state;
	s->ptr = obj_new();
	stress_run(3, rcu_both, s);
	rcu_barrier();
	free(s->ptr);
	free(s);
}

static void *rcu_setup_common(struct sched *sch, bool no_sync)
{
	struct shared *s = shared_new(3);

	s->no_sync = no_sync;
	s->ptr = obj_new();
	sched_spawn(sch, "updater", 0, rcu_updater, s, 0);
	sched_spawn(sch, "reader", 1, rcu_reader, s, 0);
	return s;
}

static void *rcu_setup(struct sched *sch)
{
	return rcu_setup_common(sch, false);
}

static void *rcu_broken_setup(struct sched *sch)
{
	return rcu_setup_common(sch, true);
}

static void rcu_teardown(void *state)
{
	struct shared *s = state;

	for (size_t i = 0; i < ARRAY_SIZE(s->dead); i++)
		free(s->dead[i]);
	free(s->ptr);
	free(s);
}

static const struct explore_prog rcu_prog = {
	"rcu", 3, rcu_setup, NULL, NULL, rcu_teardown,
};
static const struct explore_prog rcu_broken_prog = {
	"rcu-broken", 3, rcu_broken_setup, NULL, NULL, rcu_teardown,
};

static void test_rcu_explore(void **state)
{
	(void)state;
	assert_explore_clean(&rcu_prog, 1, EXPLORE_RUNS);
}

static void test_rcu_explore_has_teeth(void **state)
{
	(void)state;
	assert_true(explore_runs(&rcu_broken_prog, 1, 1000).failed);
}

static void count_callback(struct rcu_head *h)
{
	__atomic_fetch_add(&container_of(h, struct obj, rcu)->alive, 1, __ATOMIC_SEQ_CST);
}

static void test_call_rcu_and_barrier(void **state)
{
	struct obj o[8];

	(void)state;
	memset(o, 0, sizeof(o));
	for (int i = 0; i < 8; i++)
		call_rcu(&o[i].rcu, count_callback);
	rcu_barrier();
	for (int i = 0; i < 8; i++)
		assert_int_equal(o[i].alive, 1);
}

/* synchronize_rcu inside a read-side section is a bug that the explorer
 * reports as a broken invariant of the run, not a crash or a hang. */
static void sync_in_reader(void *arg)
{
	(void)arg;
	rcu_read_lock();
	synchronize_rcu();
	rcu_read_unlock();
}

static void *bad_sync_setup(struct sched *sch)
{
	struct shared *s = shared_new(0);

	sched_spawn(sch, "bad", 0, sync_in_reader, s, 0);
	return s;
}

static const struct explore_prog bad_sync_prog = {
	"sync-in-reader", 1, bad_sync_setup, NULL, NULL, free,
};

static void test_rcu_misuse_is_reported(void **state)
{
	struct explore_result r = explore_runs(&bad_sync_prog, 1, 1);

	(void)state;
	assert_true(r.failed);
	assert_non_null(strstr(r.message, "synchronize_rcu inside"));
}

/* ---- TLB shootdown and condition waits ---------------------------------------
 * CPU 1 stores through a "translation" (a pointer it loads inside an access
 * window); CPU 0 changes the translation and shoots down.  After the
 * shootdown no store may reach the old target.  The negative control skips
 * the wait and must be caught. */

struct tlbtest {
	struct tlb_window win[2];
	long *cur;
	long bufs[2];
	int stop;
	int iters;
	bool no_wait;
};

static void tlb_accessor(struct tlbtest *t)
{
	for (int i = 0; t->iters ? i < t->iters : !READ_ONCE(t->stop); i++) {
		long *p;

		tlb_access_begin(&t->win[1]);
		p = READ_ONCE(t->cur);
		cpu_relax();
		WRITE_ONCE(*p, READ_ONCE(*p) + 1);
		tlb_access_end(&t->win[1]);
	}
}

static bool new_target_used(const void *arg)
{
	const struct tlbtest *t = arg;

	return __atomic_load_n(&t->bufs[1], __ATOMIC_ACQUIRE) >= 1000;
}

static void tlb_shooter(struct tlbtest *t)
{
	long snap;

	WRITE_ONCE(t->cur, &t->bufs[1]);
	if (!t->no_wait)
		tlb_shootdown_wait(t->win, sizeof(t->win[0]), 2);
	snap = READ_ONCE(t->bufs[0]);
	if (t->iters) {
		for (int i = 0; i < 4; i++)
			cpu_relax();
	} else {
		sync_wait_cond_on(t, &t->bufs[1], new_target_used,
				  "stores through the new translation");
		WRITE_ONCE(t->stop, 1);
	}
	task_check(READ_ONCE(t->bufs[0]) == snap);
}

static void tlb_both(void *arg)
{
	if (smp_processor_id() == 0)
		tlb_shooter(arg);
	else
		tlb_accessor(arg);
}

static void test_tlb_shootdown_stress(void **state)
{
	(void)state;
	for (int round = 0; round < 50; round++) {
		struct tlbtest t = {0};

		t.cur = &t.bufs[0];
		stress_run(2, tlb_both, &t);
		assert_true(t.bufs[1] >= 1000);
	}
}

static void *tlbtest_setup_common(struct sched *sch, bool no_wait)
{
	struct tlbtest *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->cur = &t->bufs[0];
	t->iters = 4;
	t->no_wait = no_wait;
	sched_spawn(sch, "shooter", 0, tlb_both, t, 0);
	sched_spawn(sch, "accessor", 1, tlb_both, t, 0);
	return t;
}

static void *tlbtest_setup(struct sched *sch)
{
	return tlbtest_setup_common(sch, false);
}

static void *tlbtest_broken_setup(struct sched *sch)
{
	return tlbtest_setup_common(sch, true);
}

static const struct explore_prog tlb_prog = {
	"tlb-shootdown", 2, tlbtest_setup, NULL, NULL, free,
};
static const struct explore_prog tlb_broken_prog = {
	"tlb-no-shootdown", 2, tlbtest_broken_setup, NULL, NULL, free,
};

static void test_tlb_shootdown_explore(void **state)
{
	(void)state;
	assert_explore_clean(&tlb_prog, 1, EXPLORE_RUNS);
	assert_true(explore_runs(&tlb_broken_prog, 1, 1000).failed);
}

/* ---- lock order (debug builds) ------------------------------------------------ */

static void test_lock_order_checked(void **state)
{
	spinlock_t pt, pool, pt2;
	struct rw_semaphore mmap;
	unsigned long page_flags = 0;

	(void)state;
	spin_lock_init_rank(&pt, RANK_PTL);
	spin_lock_init_rank(&pt2, RANK_PTL);
	spin_lock_init_rank(&pool, RANK_FRAME_POOL);
	init_rwsem_rank(&mmap, RANK_MMAP_LOCK);
	/* In order: fine. */
	down_read(&mmap);
	bit_lock(&page_flags, 0);
	spin_lock(&pt);
	spin_lock(&pool);
	spin_unlock(&pool);
	spin_unlock(&pt);
	bit_unlock(&page_flags, 0);
	up_read(&mmap);
	/* Out of order: caught although nothing deadlocks here. */
	spin_lock(&pt);
	expect_panic(down_write(&mmap), "taking mmap_lock");
	expect_panic(bit_lock(&page_flags, 0), "while holding a PT lock");
	/* The same rank twice needs the nesting annotation. */
	expect_panic(spin_lock(&pt2), "taking a PT lock");
	spin_lock_nested(&pt2);
	/* A trylock cannot deadlock and is not checked. */
	assert_true(bit_trylock(&page_flags, 0));
	bit_unlock(&page_flags, 0);
	spin_unlock(&pt2);
	spin_unlock(&pt);
	/* Releasing a lock one does not hold is caught too. */
	pt.locked = 1;
	expect_panic(spin_unlock(&pt), "does not hold");
}

/* Under the explorer, a lock-order violation fails every run that reaches
 * it, also the runs whose schedule does not deadlock. */
struct ranked_pair {
	spinlock_t outer, inner;
};

static void take_in_order(void *arg)
{
	struct ranked_pair *r = arg;

	spin_lock(&r->outer);
	spin_lock(&r->inner);
	spin_unlock(&r->inner);
	spin_unlock(&r->outer);
}

static void take_reversed(void *arg)
{
	struct ranked_pair *r = arg;

	spin_lock(&r->inner);
	spin_lock(&r->outer);
	spin_unlock(&r->outer);
	spin_unlock(&r->inner);
}

static void *ranked_setup(struct sched *sch)
{
	struct ranked_pair *r = calloc(1, sizeof(*r));

	spin_lock_init_rank(&r->outer, RANK_PTL);
	spin_lock_init_rank(&r->inner, RANK_FRAME_POOL);
	sched_spawn(sch, "in-order", 0, take_in_order, r, 0);
	sched_spawn(sch, "reversed", 1, take_reversed, r, 0);
	return r;
}

static const struct explore_prog ranked_prog = {
	"ranked-inversion", 2, ranked_setup, NULL, NULL, free,
};

static void test_lock_order_explore(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 50; seed++) {
		struct explore_result r = explore_runs(&ranked_prog, seed, 1);

		assert_true(r.failed);
		assert_true(r.verdict == SCHED_FAILED || r.verdict == SCHED_DEADLOCK);
		if (r.verdict == SCHED_FAILED)
			assert_non_null(strstr(r.message, "lock order"));
	}
}

/* ---- devices and CPU ids ----------------------------------------------------- */

static void device_task(void *arg)
{
	struct shared *s = arg;

	for (int i = 0; i < 4; i++) {
		sync_device_step(s);
		s->plain++;
	}
	task_check(smp_processor_id() == 7);
}

static void *device_setup(struct sched *sch)
{
	struct shared *s = shared_new(0);

	sched_spawn(sch, "dma", 7, device_task, s, 0);
	return s;
}

static int device_verdict(void *state, char *msg, size_t len)
{
	(void)msg;
	(void)len;
	return ((struct shared *)state)->plain == 4 ? 0 : 1;
}

static const struct explore_prog device_prog = {
	"device", 1, device_setup, NULL, device_verdict, free,
};

static void test_device_steps_are_yield_points(void **state)
{
	struct explore_result r = explore_runs(&device_prog, 1, 1);

	(void)state;
	assert_false(r.failed);
	/* one step to start, one per device step */
	assert_int_equal(r.steps, 5);
}

static void record_cpu(void *arg)
{
	int *seen = arg;

	seen[smp_processor_id()] = 1;
}

static void test_cpu_ids_stress(void **state)
{
	int seen[SYNC_MAX_CPUS] = {0};

	(void)state;
	stress_run(5, record_cpu, seen);
	for (int i = 0; i < 5; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(seen[5], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomic_ops_semantics),
		cmocka_unit_test(test_atomics_stress),
		cmocka_unit_test(test_atomics_explore),
		cmocka_unit_test(test_spinlock_stress),
		cmocka_unit_test(test_spinlock_explore),
		cmocka_unit_test(test_exclusion_check_has_teeth),
		cmocka_unit_test(test_trylock),
		cmocka_unit_test(test_mutex_stress),
		cmocka_unit_test(test_mutex_explore),
		cmocka_unit_test(test_rwsem_semantics),
		cmocka_unit_test(test_rwsem_stress),
		cmocka_unit_test(test_rwsem_explore),
		cmocka_unit_test(test_rwsem_writer_preference_deadlock),
		cmocka_unit_test(test_seqcount_stress),
		cmocka_unit_test(test_seqcount_explore),
		cmocka_unit_test(test_bitlock_stress),
		cmocka_unit_test(test_bitlock_explore),
		cmocka_unit_test(test_rcu_stress),
		cmocka_unit_test(test_rcu_explore),
		cmocka_unit_test(test_rcu_explore_has_teeth),
		cmocka_unit_test(test_call_rcu_and_barrier),
		cmocka_unit_test(test_rcu_misuse_is_reported),
		cmocka_unit_test(test_tlb_shootdown_stress),
		cmocka_unit_test(test_tlb_shootdown_explore),
		cmocka_unit_test(test_lock_order_checked),
		cmocka_unit_test(test_lock_order_explore),
		cmocka_unit_test(test_device_steps_are_yield_points),
		cmocka_unit_test(test_cpu_ids_stress),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
