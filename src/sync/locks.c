/*
 * Sleeping and spinning locks of both back ends: the spinlock slow path,
 * mutex, rw-semaphore, the bit lock (page lock) and seqcount readers.
 *
 * Stress waiting uses an event count: a waiter reads the count, tries the
 * lock, announces itself, tries again and sleeps on the futex only if the
 * count has not moved; a releaser bumps the count and wakes sleepers if it
 * sees any.  All of it is sequentially consistent, so a waiter either sees
 * the release or is seen by the releaser (no lost wake-up).
 *
 * The release paths' asserts read the lock word with a relaxed atomic
 * load, never plainly: while the holder checks it, other CPUs' trylocks
 * and waiters change it with atomic RMWs (for a rwsem, other readers'
 * counts), and a plain read beside those is a data race (ThreadSanitizer
 * reported each).
 *
 * Explore waiting is modelled by the scheduler: sync_explore_wait() yields
 * and blocks the task until the lock is free, then the task takes it at
 * once, with no step in between.
 */
#include "sync.h"

#include "sched/sched.h"

#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SPIN_BEFORE_SLEEP 64

static void futex_wait(unsigned int *word, unsigned int val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(unsigned int *word, int nr)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, nr, NULL, NULL, 0);
}

static void relax_host(int spins)
{
	if (spins < SPIN_BEFORE_SLEEP) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	} else {
		sched_yield();
	}
}

/* A lock word held by an explore task can never be released while the
 * explorer thread sits in scheduler context: waiting would hang. */
static void no_wait_in_explore_context(const void *obj, const char *what)
{
	COW_CHECK(!sync_explore_thread, "contended %s %p in the explorer's scheduler context", what,
		  obj);
}

struct evc {
	unsigned int seq;
	unsigned int sleepers;
};

typedef bool (*try_fn)(void *arg);

static void evc_wait(struct evc *e, try_fn try_take, void *arg, const char *what)
{
	for (int spins = 0;; spins++) {
		unsigned int seq = __atomic_load_n(&e->seq, __ATOMIC_SEQ_CST);

		if (try_take(arg))
			return;
		no_wait_in_explore_context(arg, what);
		if (spins < SPIN_BEFORE_SLEEP) {
			relax_host(spins);
			continue;
		}
		__atomic_fetch_add(&e->sleepers, 1, __ATOMIC_SEQ_CST);
		if (try_take(arg)) {
			__atomic_fetch_sub(&e->sleepers, 1, __ATOMIC_SEQ_CST);
			return;
		}
		futex_wait(&e->seq, seq);
		__atomic_fetch_sub(&e->sleepers, 1, __ATOMIC_SEQ_CST);
	}
}

static void evc_signal(struct evc *e)
{
	__atomic_fetch_add(&e->seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&e->sleepers, __ATOMIC_SEQ_CST))
		futex_wake(&e->seq, INT_MAX);
}

/* ---- lock ranks ---------------------------------------------------------- */

/* The names lockdep's messages use, from the one list of the lock order. */
#define RANK_NAME(id, short_name, name, ...) [RANK_##id] = name,
static const char *const rank_names[RANK_NR] = {
	[RANK_NONE] = "an unranked lock", /* rank 0: test and demo locks */
	COW_LOCK_RANKS(RANK_NAME)	  /* RANK_KSM ... RANK_FRAME_POOL */
};
#undef RANK_NAME

const char *lock_rank_name(int rank)
{
	return rank >= 0 && rank < RANK_NR ? rank_names[rank] : "a lock of unknown rank";
}

#if COW_DEBUG
/* The order as a lockdep panic states it, from the same list: every rank's
 * short name after ", "; the first separator is skipped where it is used. */
#define RANK_ORDER(id, short_name, ...) ", " short_name
static const char rank_order[] = COW_LOCK_RANKS(RANK_ORDER);
#undef RANK_ORDER

/* Stress threads keep their held locks here; explore tasks in their task. */
static __thread struct lock_stack thread_locks;

static struct lock_stack *held_locks(void)
{
	return sync_explorer ? sched_task_locks(sync_explorer) : &thread_locks;
}

void lockdep_acquire(const void *lock, int rank, bool nested, bool trylock)
{
	struct lock_stack *st = held_locks();

	for (int i = 0; i < st->depth && !trylock; i++) {
		int r = st->held[i].rank;

		if (r > rank || (r == rank && !nested))
			cow_panic(__FILE__, __LINE__,
				  "lock order: taking %s %p while holding %s %p (the order, "
				  "outermost first, is %s)",
				  lock_rank_name(rank), lock, lock_rank_name(r), st->held[i].lock,
				  rank_order + 2);
	}
	COW_CHECK(st->depth < LOCKDEP_DEPTH, "more than %d locks held at once", LOCKDEP_DEPTH);
	st->held[st->depth].lock = lock;
	st->held[st->depth].rank = rank;
	st->depth++;
}

void lockdep_release(const void *lock, int rank)
{
	struct lock_stack *st = held_locks();

	for (int i = st->depth - 1; i >= 0; i--) {
		if (st->held[i].lock != lock)
			continue;
		for (int j = i; j + 1 < st->depth; j++)
			st->held[j] = st->held[j + 1];
		st->depth--;
		return;
	}
	cow_panic(__FILE__, __LINE__, "releasing %s %p that this CPU does not hold",
		  lock_rank_name(rank), lock);
}
#endif

/* ---- spinlock ---------------------------------------------------------- */

static bool spin_free(const void *obj)
{
	return ((const spinlock_t *)obj)->locked == 0;
}

void spin_lock_slow(spinlock_t *lock)
{
	for (int spins = 0;; spins++) {
		if (__atomic_load_n(&lock->locked, __ATOMIC_RELAXED) == 0 &&
		    __atomic_exchange_n(&lock->locked, 1, __ATOMIC_ACQUIRE) == 0)
			return;
		no_wait_in_explore_context(lock, "spinlock");
		relax_host(spins);
	}
}

void spin_lock_explore(spinlock_t *lock)
{
	sync_explore_wait(SYNC_LOCK, lock, spin_free, "spinlock", &lock->locked);
	__atomic_store_n(&lock->locked, sync_explore_owner_tag(), __ATOMIC_RELAXED);
}

/* ---- mutex ------------------------------------------------------------- */

static bool mutex_free(const void *obj)
{
	return ((const struct mutex *)obj)->state == 0;
}

void mutex_init_rank(struct mutex *m, int rank)
{
	m->state = 0;
	m->rank = rank;
}

void mutex_init(struct mutex *m)
{
	mutex_init_rank(m, RANK_NONE);
}

void mutex_lock(struct mutex *m)
{
	int c = 0;

	if (COW_DEBUG && m->rank)
		lockdep_acquire(m, m->rank, false, false);
	if (unlikely(sync_explorer != NULL)) {
		sync_explore_wait(SYNC_LOCK, m, mutex_free, "mutex", &m->state);
		m->state = sync_explore_owner_tag();
		return;
	}
	if (__atomic_compare_exchange_n(&m->state, &c, 1, false, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED))
		return;
	no_wait_in_explore_context(m, "mutex");
	if (c != 2)
		c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		futex_wait((unsigned int *)&m->state, 2);
		c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE);
	}
}

bool mutex_trylock(struct mutex *m)
{
	int c = 0;
	bool ok;

	sync_point(SYNC_LOCK, m);
	ok = __atomic_compare_exchange_n(&m->state, &c,
					 sync_explorer ? sync_explore_owner_tag() : 1, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
	if (COW_DEBUG && ok && m->rank)
		lockdep_acquire(m, m->rank, false, true);
	return ok;
}

void mutex_unlock(struct mutex *m)
{
	COW_ASSERT(__atomic_load_n(&m->state, __ATOMIC_RELAXED) != 0);
	if (COW_DEBUG && m->rank)
		lockdep_release(m, m->rank);
	sync_point(SYNC_UNLOCK, m);
	if (__atomic_exchange_n(&m->state, 0, __ATOMIC_RELEASE) == 2)
		futex_wake((unsigned int *)&m->state, 1);
}

bool mutex_is_locked(const struct mutex *m)
{
	sync_point(SYNC_READ, m);
	return __atomic_load_n(&m->state, __ATOMIC_RELAXED) != 0;
}

/* ---- rw-semaphore ------------------------------------------------------ */

static struct evc *rwsem_evc(struct rw_semaphore *sem)
{
	_Static_assert(offsetof(struct rw_semaphore, sleepers) ==
			       offsetof(struct rw_semaphore, seq) + sizeof(unsigned int),
		       "rw_semaphore's event count must be two adjacent words");
	return (struct evc *)(void *)&sem->seq;
}

static bool rwsem_read_ready(const void *obj)
{
	const struct rw_semaphore *sem = obj;

	return sem->count >= 0 && sem->writers_waiting == 0;
}

static bool rwsem_write_ready(const void *obj)
{
	return ((const struct rw_semaphore *)obj)->count == 0;
}

static bool rwsem_try_read(void *obj)
{
	struct rw_semaphore *sem = obj;
	int c = __atomic_load_n(&sem->count, __ATOMIC_RELAXED);

	while (c >= 0 && __atomic_load_n(&sem->writers_waiting, __ATOMIC_SEQ_CST) == 0) {
		if (__atomic_compare_exchange_n(&sem->count, &c, c + 1, true, __ATOMIC_SEQ_CST,
						__ATOMIC_RELAXED))
			return true;
	}
	return false;
}

static bool rwsem_try_write(void *obj)
{
	struct rw_semaphore *sem = obj;
	int c = 0;

	return __atomic_compare_exchange_n(&sem->count, &c, -1, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_RELAXED);
}

void init_rwsem_rank(struct rw_semaphore *sem, int rank)
{
	sem->count = 0;
	sem->writers_waiting = 0;
	sem->seq = 0;
	sem->sleepers = 0;
	sem->rank = rank;
}

void init_rwsem(struct rw_semaphore *sem)
{
	init_rwsem_rank(sem, RANK_NONE);
}

void down_read(struct rw_semaphore *sem)
{
	if (COW_DEBUG && sem->rank)
		lockdep_acquire(sem, sem->rank, false, false);
	if (unlikely(sync_explorer != NULL)) {
		sync_explore_wait(SYNC_LOCK, sem, rwsem_read_ready, "rwsem (read)", NULL);
		sem->count++;
		return;
	}
	if (!rwsem_try_read(sem))
		evc_wait(rwsem_evc(sem), rwsem_try_read, sem, "rwsem");
}

bool down_read_trylock(struct rw_semaphore *sem)
{
	bool ok;

	sync_point(SYNC_LOCK, sem);
	ok = rwsem_try_read(sem);
	if (COW_DEBUG && ok && sem->rank)
		lockdep_acquire(sem, sem->rank, false, true);
	return ok;
}

void up_read(struct rw_semaphore *sem)
{
	COW_ASSERT(__atomic_load_n(&sem->count, __ATOMIC_RELAXED) > 0);
	if (COW_DEBUG && sem->rank)
		lockdep_release(sem, sem->rank);
	sync_point(SYNC_UNLOCK, sem);
	if (__atomic_sub_fetch(&sem->count, 1, __ATOMIC_SEQ_CST) == 0 && sync_explorer == NULL)
		evc_signal(rwsem_evc(sem));
}

void down_write(struct rw_semaphore *sem)
{
	if (COW_DEBUG && sem->rank)
		lockdep_acquire(sem, sem->rank, false, false);
	if (unlikely(sync_explorer != NULL)) {
		sync_point(SYNC_LOCK, sem);
		if (sem->count != 0) {
			/* Queue first, so that new readers hold back. */
			sem->writers_waiting++;
			sync_explore_block(SYNC_LOCK, sem, sem, rwsem_write_ready, "rwsem (write)");
			sem->writers_waiting--;
		}
		sem->count = -1;
		return;
	}
	if (rwsem_try_write(sem))
		return;
	__atomic_fetch_add(&sem->writers_waiting, 1, __ATOMIC_SEQ_CST);
	evc_wait(rwsem_evc(sem), rwsem_try_write, sem, "rwsem");
	__atomic_fetch_sub(&sem->writers_waiting, 1, __ATOMIC_SEQ_CST);
}

bool down_write_trylock(struct rw_semaphore *sem)
{
	bool ok;

	sync_point(SYNC_LOCK, sem);
	ok = rwsem_try_write(sem);
	if (COW_DEBUG && ok && sem->rank)
		lockdep_acquire(sem, sem->rank, false, true);
	return ok;
}

void up_write(struct rw_semaphore *sem)
{
	COW_ASSERT(__atomic_load_n(&sem->count, __ATOMIC_RELAXED) == -1);
	if (COW_DEBUG && sem->rank)
		lockdep_release(sem, sem->rank);
	sync_point(SYNC_UNLOCK, sem);
	__atomic_store_n(&sem->count, 0, __ATOMIC_SEQ_CST);
	if (sync_explorer == NULL)
		evc_signal(rwsem_evc(sem));
}

void downgrade_write(struct rw_semaphore *sem)
{
	COW_ASSERT(__atomic_load_n(&sem->count, __ATOMIC_RELAXED) == -1);
	sync_point(SYNC_UNLOCK, sem);
	__atomic_store_n(&sem->count, 1, __ATOMIC_SEQ_CST);
	if (sync_explorer == NULL)
		evc_signal(rwsem_evc(sem));
}

bool rwsem_is_locked(const struct rw_semaphore *sem)
{
	sync_point(SYNC_READ, sem);
	return __atomic_load_n(&sem->count, __ATOMIC_RELAXED) != 0;
}

bool rwsem_is_write_locked(const struct rw_semaphore *sem)
{
	sync_point(SYNC_READ, sem);
	return __atomic_load_n(&sem->count, __ATOMIC_RELAXED) < 0;
}

/* ---- bit lock ----------------------------------------------------------
 * Waiters hash on (word, bit) into a fixed table of event counts, like
 * Linux's page_waitqueue(): no per-page wait state, false wake-ups are
 * harmless because waiters re-check. */

#define BIT_WAIT_TABLE 256

static struct evc bit_wait_table[BIT_WAIT_TABLE];

struct bit_ref {
	unsigned long *word;
	int nr;
};

static struct evc *bit_evc(const unsigned long *word, int nr)
{
	uintptr_t h = ((uintptr_t)word >> 3) * 31u + (uintptr_t)nr;

	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ull;
	return &bit_wait_table[(h >> 32) % BIT_WAIT_TABLE];
}

static bool bit_try(void *arg)
{
	struct bit_ref *b = arg;

	return (__atomic_fetch_or(b->word, BIT_MASK(b->nr), __ATOMIC_ACQUIRE) & BIT_MASK(b->nr)) ==
	       0;
}

static bool bit_clear_now(void *arg)
{
	struct bit_ref *b = arg;

	return (__atomic_load_n(b->word, __ATOMIC_ACQUIRE) & BIT_MASK(b->nr)) == 0;
}

static bool bit_clear_pred(const void *arg)
{
	return bit_clear_now((void *)arg);
}

static void bit_lock_dep(unsigned long *word, int nr, bool dep)
{
	struct bit_ref b = {word, nr};

	if (COW_DEBUG && dep)
		lockdep_acquire(word, RANK_PAGE_LOCK, false, false);
	if (unlikely(sync_explorer != NULL)) {
		sync_point(SYNC_LOCK, word);
		sync_explore_block(SYNC_LOCK, &b, word, bit_clear_pred, "bit lock");
		*word |= BIT_MASK(nr);
		return;
	}
	if (!bit_try(&b))
		evc_wait(bit_evc(word, nr), bit_try, &b, "bit lock");
}

bool bit_trylock(unsigned long *word, int nr)
{
	struct bit_ref b = {word, nr};

	bool ok;

	sync_point(SYNC_LOCK, word);
	ok = bit_try(&b);
	if (COW_DEBUG && ok)
		lockdep_acquire(word, RANK_PAGE_LOCK, false, true);
	return ok;
}

static void bit_unlock_dep(unsigned long *word, int nr, bool dep)
{
	COW_ASSERT(__atomic_load_n(word, __ATOMIC_RELAXED) & BIT_MASK(nr));
	if (COW_DEBUG && dep)
		lockdep_release(word, RANK_PAGE_LOCK);
	sync_point(SYNC_UNLOCK, word);
	__atomic_fetch_and(word, ~BIT_MASK(nr), __ATOMIC_SEQ_CST);
	if (sync_explorer == NULL)
		evc_signal(bit_evc(word, nr));
}

void bit_lock(unsigned long *word, int nr)
{
	bit_lock_dep(word, nr, true);
}

void bit_unlock(unsigned long *word, int nr)
{
	bit_unlock_dep(word, nr, true);
}

void bit_lock_io(unsigned long *word, int nr)
{
	bit_lock_dep(word, nr, false);
}

void bit_unlock_io(unsigned long *word, int nr)
{
	bit_unlock_dep(word, nr, false);
}

void bit_wait_unlocked(unsigned long *word, int nr)
{
	struct bit_ref b = {word, nr};

	if (unlikely(sync_explorer != NULL)) {
		sync_point(SYNC_READ, word);
		sync_explore_block(SYNC_READ, &b, word, bit_clear_pred, "bit unlock");
		return;
	}
	if (!bit_clear_now(&b))
		evc_wait(bit_evc(word, nr), bit_clear_now, &b, "bit lock");
}

/* ---- seqcount readers -------------------------------------------------- */

static bool seq_even(const void *obj)
{
	return (((const seqcount_t *)obj)->sequence & 1) == 0;
}

unsigned int read_seqcount_begin(const seqcount_t *s)
{
	unsigned int v;

	if (unlikely(sync_explorer != NULL)) {
		sync_explore_wait(SYNC_READ, s, seq_even, "seqcount", NULL);
		return s->sequence;
	}
	for (int spins = 0;; spins++) {
		v = __atomic_load_n(&s->sequence, __ATOMIC_ACQUIRE);
		if (!(v & 1))
			return v;
		no_wait_in_explore_context(s, "seqcount");
		relax_host(spins);
	}
}

/* ---- conditions and TLB shootdown ---------------------------------------- */

void sync_wait_cond_on(const void *arg, const void *obj, sync_pred_fn cond, const char *what)
{
	if (unlikely(sync_explorer != NULL)) {
		sync_explore_point(SYNC_READ, obj);
		sync_explore_block(SYNC_READ, arg, obj, cond, what);
		return;
	}
	for (int spins = 0; !cond(arg); spins++) {
		no_wait_in_explore_context(obj, what);
		relax_host(spins);
	}
}

void sync_wait_cond(const void *obj, sync_pred_fn cond, const char *what)
{
	sync_wait_cond_on(obj, obj, cond, what);
}

struct shootdown {
	struct tlb_window *windows;
	size_t stride;
	int nr;
	unsigned int snap[SYNC_MAX_CPUS];
};

static struct tlb_window *window_at(const struct shootdown *sd, int i)
{
	return (struct tlb_window *)(void *)((char *)sd->windows + sd->stride * (size_t)i);
}

static bool shootdown_acked(const void *arg)
{
	const struct shootdown *sd = arg;

	for (int i = 0; i < sd->nr; i++)
		if ((sd->snap[i] & 1) &&
		    __atomic_load_n(&window_at(sd, i)->seq, __ATOMIC_ACQUIRE) == sd->snap[i])
			return false;
	return true;
}

/* One CPU's window as a shootdown found it. */
struct window_snap {
	const unsigned int *seq;
	unsigned int snap;
};

static bool window_moved(const void *arg)
{
	const struct window_snap *ws = arg;

	return __atomic_load_n(ws->seq, __ATOMIC_ACQUIRE) != ws->snap;
}

/* Under the explorer a shootdown reads each other CPU's window in a step
 * of its own (as the loop below reads them one after the other), and
 * waits for each CPU found inside an access to leave it: every step
 * names the one window it reads, so the explorer sees each conflict with
 * a CPU's entering or leaving, and each wait is made ready by that CPU's
 * leaving alone. */
static void explore_shootdown(const struct shootdown *sd)
{
	for (int i = 0; i < sd->nr; i++) {
		struct window_snap ws = {&window_at(sd, i)->seq, 0};

		if (i == sync_cpu) /* not inside an access while it changes translations */
			continue;
		sync_explore_point(SYNC_READ, ws.seq);
		ws.snap = __atomic_load_n(ws.seq, __ATOMIC_ACQUIRE);
		if (ws.snap & 1) /* the wait's read is the one above: no second step */
			sync_explore_block(SYNC_READ, &ws, ws.seq, window_moved,
					   "TLB shootdown acknowledgement");
	}
}

void tlb_shootdown_wait(struct tlb_window *windows, size_t stride, int nr)
{
	struct shootdown sd; /* snap[] beyond nr stays unwritten: a flush per COW fault */
	bool busy = false;

	COW_CHECK(nr <= SYNC_MAX_CPUS, "%d CPUs to shoot down", nr);
	sd.windows = windows;
	sd.stride = stride;
	sd.nr = nr;
	if (unlikely(sync_explorer != NULL)) {
		explore_shootdown(&sd);
		return;
	}
	smp_mb(); /* the new translations before the snapshot */
	for (int i = 0; i < nr; i++) {
		/* Our own CPU is not inside an access while it changes
		 * translations, so it never waits for itself.  Acquire: a CPU
		 * found between accesses is not waited for, so its last
		 * access (a store to a frame this CPU may now copy, write to
		 * swap or free) must be visible here; pairs with the release
		 * in tlb_access_end(), as shootdown_acked() does for a CPU
		 * waited for. */
		sd.snap[i] = __atomic_load_n(&window_at(&sd, i)->seq, __ATOMIC_ACQUIRE);
		busy |= sd.snap[i] & 1;
	}
	/* No CPU inside an access: nothing to wait for. */
	if (busy)
		sync_wait_cond(&sd, shootdown_acked, "TLB shootdown acknowledgement");
}
