/*
 * The concurrency layer.  Every access to state shared between simulated
 * CPUs in src/mm goes through this header: READ_ONCE/WRITE_ONCE, atomics
 * and fences, bit operations, spinlocks, mutexes, rw-semaphores,
 * seqcounts, the bit lock with waiting (the page lock), RCU and device
 * steps.  mm never touches pthreads, C11 atomics or liburcu directly.
 *
 * Two back ends run the same calls:
 *
 *   stress   real pthreads, GCC __atomic builtins (the C11 memory model),
 *            futexes for waiting and liburcu (urcu-memb) for RCU;
 *   explore  a deterministic scheduler (src/sched) runs every simulated CPU
 *            as a coroutine on one OS thread.  Each operation here is a
 *            yield point, and waiting is modelled: a task that cannot take
 *            a lock is blocked until the lock is free, so a deadlock is
 *            reported rather than hung.  Memory is sequentially consistent.
 *
 * How the back end is chosen, and what it costs.  The choice is made at
 * run time, per OS thread: the thread-local pointer sync_explorer is
 * non-NULL exactly while an explore coroutine runs (the scheduler sets it
 * on every switch into a task and clears it on the way out).  Every
 * operation starts with one test of it, marked unlikely; in stress mode the
 * cost is one thread-local load (a %fs-relative mov in the executable) and
 * a never-taken, perfectly predicted branch.  Choosing at run time lets one
 * binary run a scenario both ways and lets setup and checking code, which
 * runs in the scheduler's own context, use the same calls without yielding.
 * Lock fast paths stay inline; slow paths (contention, waiting) are out of
 * line in locks.c and explore.c.
 *
 * Memory ordering follows Linux: READ_ONCE/WRITE_ONCE and atomic_read/set
 * are relaxed, void atomic RMWs (atomic_inc) are relaxed, value-returning
 * RMWs (atomic_inc_return, cmpxchg, test_and_set_bit) are fully ordered,
 * lock acquire/release have acquire/release semantics, and smp_mb(),
 * smp_rmb(), smp_wmb() are explicit fences.
 *
 * Which primitive may be used where (the liburcu habit):
 *
 *   primitive             task   RCU read side   scheduler context
 *   atomics, READ_ONCE     yes        yes              yes
 *   spin_lock              yes        yes              only uncontended
 *   mutex, rwsem, bit_lock yes        no               only uncontended
 *   synchronize_rcu        yes        no               yes (no readers)
 *   call_rcu               yes        yes              yes
 *
 * "Scheduler context" is code that runs outside any explore task: setup,
 * checkers and teardown.  There a contended lock is a bug and panics.
 */
#ifndef COW_SYNC_H
#define COW_SYNC_H

#include "base/base.h"
#include "sync/lockrank.h"

#define SYNC_MAX_CPUS 64

/* What a yield point does, for traces and (later) dependence analysis. */
enum sync_op {
	SYNC_READ,   /* a load of a shared word */
	SYNC_WRITE,  /* a store */
	SYNC_RMW,    /* an atomic read-modify-write */
	SYNC_LOCK,   /* an attempt to take a lock of any kind */
	SYNC_UNLOCK, /* a release */
	SYNC_RCU,    /* RCU read-side entry or exit, or a grace period */
	SYNC_DEVICE, /* a device's step that may touch any frame and any storage */
	SYNC_DMA,    /* a step that moves a file's bytes to or from the chunk of a
		      * frame it names, or a CPU's read of a file's bytes (naming the
		      * file) */
	SYNC_SWAP,   /* a step that moves a swap slot's bytes to or from the chunk of a
		      * frame it names */
	SYNC_YIELD,  /* an explicit yield with no object */
	SYNC_NR_OPS
};

/* One explored step's shared access: its operation and the word (the
 * lock, for SYNC_LOCK and SYNC_UNLOCK).  The scheduler logs them for the
 * invariant checker, which re-checks what they touched. */
struct sync_touch {
	enum sync_op op;
	const void *obj;
};

struct sched;
/* Non-NULL while an explore task runs on this OS thread (see above). */
extern __thread struct sched *sync_explorer;
/* The simulated CPU this OS thread or explore task runs as. */
extern __thread int sync_cpu;
/* True on an OS thread that owns an explore scheduler.  In its scheduler
 * context (setup, checks, teardown) RCU is immediate and a contended lock
 * is a bug that panics instead of hanging. */
extern __thread bool sync_explore_thread;
/* Lock words taken by explore task i hold SYNC_OWNER_BASE + i; stress
 * holders write 1 (spinlock) or 1..2 (mutex). */
#define SYNC_OWNER_BASE 0x10000

/* Explore back end entry points (explore.c); only called when
 * sync_explorer is set. */
void sync_explore_point(enum sync_op op, const void *obj);
typedef bool (*sync_pred_fn)(const void *obj);
/* Block until ready(arg), a condition on the one word obj, with no yield
 * point before (a modelled wait), waiting at operation op on obj
 * (sched_wait_on). */
void sync_explore_block(enum sync_op op, const void *arg, const void *obj, sync_pred_fn ready,
			const char *what);
/* A yield point at op on obj, then block there until ready(obj). */
void sync_explore_wait(enum sync_op op, const void *obj, sync_pred_fn ready, const char *what,
		       const int *owner);
int sync_explore_owner_tag(void);

static inline void sync_point(enum sync_op op, const void *obj)
{
	if (unlikely(sync_explorer != NULL))
		sync_explore_point(op, obj);
}

/* The simulated CPU the caller runs on: 0..SYNC_MAX_CPUS-1. */
static inline int smp_processor_id(void)
{
	return sync_cpu;
}

/* An explicit yield point (cpu_relax in a retry loop). */
static inline void cpu_relax(void)
{
	sync_point(SYNC_YIELD, NULL);
}

/* ---- plain shared accesses and fences --------------------------------- */

#define READ_ONCE(x)                                     \
	({                                               \
		sync_point(SYNC_READ, &(x));             \
		__atomic_load_n(&(x), __ATOMIC_RELAXED); \
	})
/* The stored value is computed before the yield point: the step the
 * point starts must be the one that stores (a value read with READ_ONCE
 * would otherwise carry the store into the read's step, named a read). */
#define WRITE_ONCE(x, val)                                        \
	do {                                                      \
		__typeof__(x) __wo_v = (val);                     \
		sync_point(SYNC_WRITE, &(x));                     \
		__atomic_store_n(&(x), __wo_v, __ATOMIC_RELAXED); \
	} while (0)
/* A load of a word that no other CPU can touch now (an object being torn
 * down after its last user, or not yet published).  Not a yield point:
 * there is no interleaving to explore, and teardown of big structures
 * would otherwise cost the explorer thousands of empty steps. */
#define READ_PRIVATE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
/* The store beside it: a word no other CPU can use now (a frozen folio's
 * struct pages as it is split).  Not a yield point, so that a change of
 * many such words is one step that no check sees halfway. */
#define WRITE_PRIVATE(x, val) __atomic_store_n(&(x), (val), __ATOMIC_RELAXED)
/* A load of a word other CPUs may change, for bits of it that do not
 * change while the caller can reach the object (a page's PG_head and
 * PG_tail while it holds a reference or a mapping).  Not a yield point:
 * the bits read conflict with no step that can run meanwhile, and the
 * other bits are not the caller's to use. */
#define READ_STABLE_BITS(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
/* A store to a word whose writers all hold one lock, which the caller
 * holds, and which other CPUs also read without it (with READ_ONCE: a
 * counter read as a hint, a map looked at before taking the lock).
 * Atomic, so that those readers do not race with it (a plain store beside
 * an atomic load is a data race, which ThreadSanitizer reports).  It is a
 * yield point that names the word, like WRITE_ONCE: a step names one
 * word, and had the store ridden in the step of the lock (or of another
 * access in the section), the explorer would see no conflict between it
 * and a lockless reader's load, and would run only one of their two
 * orders.  The writers' plain loads of the word need no yield point: the
 * lock orders them against every store. */
#define WRITE_LOCKED(x, val) WRITE_ONCE(x, val)
/* A load inside a wait predicate (sync_wait_cond's cond): the explorer
 * evaluates it in its own context and once more in the woken task, where a
 * yield point would let the condition change between the two. */
#define READ_IN_PREDICATE(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
/* Acquire load and release store (smp_load_acquire / smp_store_release). */
#define smp_load_acquire(p)                             \
	({                                              \
		sync_point(SYNC_READ, (p));             \
		__atomic_load_n((p), __ATOMIC_ACQUIRE); \
	})
#define smp_store_release(p, val)                                \
	do {                                                     \
		__typeof__(*(p)) __sr_v = (val);                 \
		sync_point(SYNC_WRITE, (p));                     \
		__atomic_store_n((p), __sr_v, __ATOMIC_RELEASE); \
	} while (0)
/* Atomic exchange and compare-exchange of a word (e.g. a PTE). */
#define xchg(p, val)                                                \
	({                                                          \
		__typeof__(*(p)) __xc_v = (val);                    \
		sync_point(SYNC_RMW, (p));                          \
		__atomic_exchange_n((p), __xc_v, __ATOMIC_SEQ_CST); \
	})
#define cmpxchg(p, old, new)                                                             \
	({                                                                               \
		__typeof__(*(p)) __old = (old), __new = (new);                           \
		sync_point(SYNC_RMW, (p));                                               \
		__atomic_compare_exchange_n((p), &__old, __new, false, __ATOMIC_SEQ_CST, \
					    __ATOMIC_SEQ_CST);                           \
		__old;                                                                   \
	})

#define barrier() __asm__ __volatile__("" ::: "memory")
/* A full barrier.  On x86-64 a locked add to the stack orders like
 * MFENCE for ordinary (write-back) memory and costs a fraction of it, as
 * Linux's smp_mb() has used since 4.11 (450cbdd0125c); cowlab issues no
 * non-temporal stores, the one thing MFENCE orders and it does not.  The
 * TLB window takes one per access (docs/performance.md). */
#if COW_TSAN
/* ThreadSanitizer does not model fences: its build gives them a form it
 * understands (src/sync/tsan.h). */
#include "sync/tsan.h"
#elif defined(__x86_64__)
#define smp_mb() __asm__ __volatile__("lock; addl $0,-4(%%rsp)" ::: "memory", "cc")
#else
#define smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#if !COW_TSAN
#define smp_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif
/* After a value-less atomic RMW that must order like a full barrier. */
#define smp_mb__after_atomic() smp_mb()
#define smp_mb__before_atomic() smp_mb()

/* ---- atomic_t and atomic_long_t --------------------------------------- */

typedef struct {
	int counter;
} atomic_t;
typedef struct {
	long counter;
} atomic_long_t;
#define ATOMIC_INIT(i) \
	{              \
		(i)    \
	}

#define SYNC_DEFINE_ATOMIC(pfx, T, V)                                                         \
	static inline T pfx##_read(const V *v)                                                \
	{                                                                                     \
		sync_point(SYNC_READ, v);                                                     \
		return __atomic_load_n(&v->counter, __ATOMIC_RELAXED);                        \
	}                                                                                     \
	static inline void pfx##_set(V *v, T i)                                               \
	{                                                                                     \
		sync_point(SYNC_WRITE, v);                                                    \
		__atomic_store_n(&v->counter, i, __ATOMIC_RELAXED);                           \
	}                                                                                     \
	static inline void pfx##_add(T i, V *v)                                               \
	{                                                                                     \
		sync_point(SYNC_RMW, v);                                                      \
		__atomic_fetch_add(&v->counter, i, __ATOMIC_RELAXED);                         \
	}                                                                                     \
	static inline void pfx##_sub(T i, V *v)                                               \
	{                                                                                     \
		sync_point(SYNC_RMW, v);                                                      \
		__atomic_fetch_sub(&v->counter, i, __ATOMIC_RELAXED);                         \
	}                                                                                     \
	static inline void pfx##_inc(V *v)                                                    \
	{                                                                                     \
		pfx##_add(1, v);                                                              \
	}                                                                                     \
	static inline void pfx##_dec(V *v)                                                    \
	{                                                                                     \
		pfx##_sub(1, v);                                                              \
	}                                                                                     \
	static inline T pfx##_fetch_add(T i, V *v)                                            \
	{                                                                                     \
		sync_point(SYNC_RMW, v);                                                      \
		return __atomic_fetch_add(&v->counter, i, __ATOMIC_SEQ_CST);                  \
	}                                                                                     \
	static inline T pfx##_add_return(T i, V *v)                                           \
	{                                                                                     \
		return pfx##_fetch_add(i, v) + i;                                             \
	}                                                                                     \
	static inline T pfx##_sub_return(T i, V *v)                                           \
	{                                                                                     \
		return pfx##_fetch_add(-i, v) - i;                                            \
	}                                                                                     \
	static inline T pfx##_inc_return(V *v)                                                \
	{                                                                                     \
		return pfx##_add_return(1, v);                                                \
	}                                                                                     \
	static inline T pfx##_dec_return(V *v)                                                \
	{                                                                                     \
		return pfx##_sub_return(1, v);                                                \
	}                                                                                     \
	static inline bool pfx##_dec_and_test(V *v)                                           \
	{                                                                                     \
		return pfx##_sub_return(1, v) == 0;                                           \
	}                                                                                     \
	static inline bool pfx##_sub_and_test(T i, V *v)                                      \
	{                                                                                     \
		return pfx##_sub_return(i, v) == 0;                                           \
	}                                                                                     \
	/* Returns the value found; the swap happened iff it equals old. */                   \
	static inline T pfx##_cmpxchg(V *v, T old, T new_)                                    \
	{                                                                                     \
		sync_point(SYNC_RMW, v);                                                      \
		__atomic_compare_exchange_n(&v->counter, &old, new_, false, __ATOMIC_SEQ_CST, \
					    __ATOMIC_SEQ_CST);                                \
		return old;                                                                   \
	}                                                                                     \
	/* Add a unless the value is u; returns whether it added. */                          \
	static inline bool pfx##_add_unless(V *v, T a, T u)                                   \
	{                                                                                     \
		T c;                                                                          \
		sync_point(SYNC_RMW, v);                                                      \
		c = __atomic_load_n(&v->counter, __ATOMIC_RELAXED);                           \
		do {                                                                          \
			if (c == u)                                                           \
				return false;                                                 \
		} while (!__atomic_compare_exchange_n(&v->counter, &c, c + a, true,           \
						      __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));   \
		return true;                                                                  \
	}                                                                                     \
	static inline bool pfx##_inc_not_zero(V *v)                                           \
	{                                                                                     \
		return pfx##_add_unless(v, 1, 0);                                             \
	}

SYNC_DEFINE_ATOMIC(atomic, int, atomic_t)
SYNC_DEFINE_ATOMIC(atomic_long, long, atomic_long_t)
#undef SYNC_DEFINE_ATOMIC

/* ---- bit operations on an unsigned long (page flags) ------------------ */

#define BIT_MASK(nr) (1UL << (nr))

static inline bool test_bit(int nr, const unsigned long *addr)
{
	sync_point(SYNC_READ, addr);
	return (__atomic_load_n(addr, __ATOMIC_RELAXED) & BIT_MASK(nr)) != 0;
}
static inline void set_mask(unsigned long mask, unsigned long *addr)
{
	sync_point(SYNC_RMW, addr);
	__atomic_fetch_or(addr, mask, __ATOMIC_RELAXED);
}
static inline void clear_mask(unsigned long mask, unsigned long *addr)
{
	sync_point(SYNC_RMW, addr);
	__atomic_fetch_and(addr, ~mask, __ATOMIC_RELAXED);
}
/* clear_bit() inside a step of WRITE_PRIVATE stores (a folio being
 * split): atomic, since other CPUs may still try bit operations on the
 * word (a trylock that fails), but not a yield point. */
static inline void clear_bit_private(int nr, unsigned long *addr)
{
	__atomic_fetch_and(addr, ~BIT_MASK(nr), __ATOMIC_RELAXED);
}
static inline void set_bit(int nr, unsigned long *addr)
{
	set_mask(BIT_MASK(nr), addr);
}
static inline void clear_bit(int nr, unsigned long *addr)
{
	clear_mask(BIT_MASK(nr), addr);
}
static inline bool test_and_set_bit(int nr, unsigned long *addr)
{
	sync_point(SYNC_RMW, addr);
	return (__atomic_fetch_or(addr, BIT_MASK(nr), __ATOMIC_SEQ_CST) & BIT_MASK(nr)) != 0;
}
static inline bool test_and_clear_bit(int nr, unsigned long *addr)
{
	sync_point(SYNC_RMW, addr);
	return (__atomic_fetch_and(addr, ~BIT_MASK(nr), __ATOMIC_SEQ_CST) & BIT_MASK(nr)) != 0;
}

/* ---- lock ranks (the lock order, checked in debug builds) ----------------
 * Every lock of the memory manager has a rank, its place in the lock order
 * (src/sync/lockrank.h, the one list of it); a CPU may take a lock only
 * if every lock it holds has a lower rank (or the same rank, for the one
 * annotated nesting: fork's child PT lock, then the parent's).  Trylocks
 * are not checked (they cannot deadlock) but are recorded.  Rank 0 means
 * unchecked (test and demo locks).  In debug builds (COW_DEBUG=1, the
 * default of `make`) a violation panics with both locks named, even on a
 * run that happens not to deadlock; release builds compile it out.
 */

#define LOCK_RANK_ENUM(id, ...) RANK_##id,
enum lock_rank {
	RANK_NONE = 0,		       /* unchecked: test and demo locks */
	COW_LOCK_RANKS(LOCK_RANK_ENUM) /* RANK_KSM ... RANK_FRAME_POOL */
	RANK_NR
};
#undef LOCK_RANK_ENUM

/* Reclaim holds the page locks of a whole batch (SWAP_CLUSTER_MAX, 32)
 * while it writes them, and a few more locks besides. */
#define LOCKDEP_DEPTH 48

/* The locks one CPU (stress thread or explore task) holds. */
struct lock_stack {
	int depth;
	struct {
		const void *lock;
		int rank;
	} held[LOCKDEP_DEPTH];
};

const char *lock_rank_name(int rank);
#if COW_DEBUG
void lockdep_acquire(const void *lock, int rank, bool nested, bool trylock);
void lockdep_release(const void *lock, int rank);
#else
static inline void lockdep_acquire(const void *lock, int rank, bool nested, bool trylock)
{
	(void)lock, (void)rank, (void)nested, (void)trylock;
}
static inline void lockdep_release(const void *lock, int rank)
{
	(void)lock, (void)rank;
}
#endif

/* ---- spinlock ----------------------------------------------------------
 * A test-and-test-and-set lock in one int: 0 free, else the holder's tag
 * (SYNC_OWNER_BASE + an explore task's id, or 1 in stress).  The stress slow path spins
 * with pause and then yields the OS CPU, since simulated CPUs may outnumber
 * real ones. */

typedef struct {
	int locked;
	int rank; /* enum lock_rank */
} spinlock_t;
#define SPINLOCK_INIT        \
	{                    \
		0, RANK_NONE \
	}

void spin_lock_slow(spinlock_t *lock);
void spin_lock_explore(spinlock_t *lock);

static inline void spin_lock_init_rank(spinlock_t *lock, int rank)
{
	lock->locked = 0;
	lock->rank = rank;
}
static inline void spin_lock_init(spinlock_t *lock)
{
	spin_lock_init_rank(lock, RANK_NONE);
}
static inline bool spin_is_locked(const spinlock_t *lock)
{
	sync_point(SYNC_READ, lock);
	return __atomic_load_n(&lock->locked, __ATOMIC_RELAXED) != 0;
}
static inline void spin_lock_raw(spinlock_t *lock)
{
	if (unlikely(sync_explorer != NULL)) {
		spin_lock_explore(lock);
		return;
	}
	if (likely(__atomic_exchange_n(&lock->locked, 1, __ATOMIC_ACQUIRE) == 0))
		return;
	spin_lock_slow(lock);
}
static inline void spin_lock(spinlock_t *lock)
{
	if (COW_DEBUG && lock->rank)
		lockdep_acquire(lock, lock->rank, false, false);
	spin_lock_raw(lock);
}
/* Take a second lock of the rank of one already held: the one annotated
 * nesting of the lock order (Linux's spin_lock_nested). */
static inline void spin_lock_nested(spinlock_t *lock)
{
	if (COW_DEBUG && lock->rank)
		lockdep_acquire(lock, lock->rank, true, false);
	spin_lock_raw(lock);
}
static inline bool spin_trylock(spinlock_t *lock)
{
	int expect = 0;
	bool ok;

	sync_point(SYNC_LOCK, lock);
	ok = __atomic_compare_exchange_n(&lock->locked, &expect,
					 sync_explorer ? sync_explore_owner_tag() : 1, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
	if (COW_DEBUG && ok && lock->rank)
		lockdep_acquire(lock, lock->rank, false, true);
	return ok;
}
static inline void spin_unlock(spinlock_t *lock)
{
	/* An atomic load: waiters write the word as we look (src/sync/locks.c). */
	COW_ASSERT(__atomic_load_n(&lock->locked, __ATOMIC_RELAXED) != 0);
	if (COW_DEBUG && lock->rank)
		lockdep_release(lock, lock->rank);
	sync_point(SYNC_UNLOCK, lock);
	__atomic_store_n(&lock->locked, 0, __ATOMIC_RELEASE);
}

/* ---- mutex (sleeping lock) ----------------------------------------------
 * Drepper's three-state futex mutex: 0 free, 1 held, 2 held with waiters.
 * In explore mode the word holds the owner's tag; waiting is modelled. */

struct mutex {
	int state;
	int rank; /* enum lock_rank */
};
#define MUTEX_INIT           \
	{                    \
		0, RANK_NONE \
	}

void mutex_init(struct mutex *m);
void mutex_init_rank(struct mutex *m, int rank);
void mutex_lock(struct mutex *m);
bool mutex_trylock(struct mutex *m);
void mutex_unlock(struct mutex *m);
bool mutex_is_locked(const struct mutex *m);

/* ---- rw-semaphore -------------------------------------------------------
 * count > 0: that many readers; -1: one writer; 0: free.  A waiting writer
 * holds new readers back (writer preference, as Linux), so a recursive
 * down_read with a writer queued deadlocks, here as there. */

struct rw_semaphore {
	int count;
	int writers_waiting;
	unsigned int seq; /* futex event count for stress waiters */
	unsigned int sleepers;
	int rank; /* enum lock_rank */
};
#define RWSEM_INIT                    \
	{                             \
		0, 0, 0, 0, RANK_NONE \
	}

void init_rwsem(struct rw_semaphore *sem);
void init_rwsem_rank(struct rw_semaphore *sem, int rank);
void down_read(struct rw_semaphore *sem);
bool down_read_trylock(struct rw_semaphore *sem);
void up_read(struct rw_semaphore *sem);
void down_write(struct rw_semaphore *sem);
bool down_write_trylock(struct rw_semaphore *sem);
void up_write(struct rw_semaphore *sem);
void downgrade_write(struct rw_semaphore *sem);
bool rwsem_is_locked(const struct rw_semaphore *sem);
bool rwsem_is_write_locked(const struct rw_semaphore *sem);

/* ---- seqcount -----------------------------------------------------------
 * Writers must be serialised by the caller (a lock or the mmap rwsem held
 * for write).  Readers either wait for an even count (read_seqcount_begin)
 * or take the raw value and treat odd as "a writer is inside"
 * (raw_read_seqcount, as gup-fast does). */

typedef struct {
	unsigned int sequence;
} seqcount_t;
#define SEQCNT_ZERO \
	{           \
		0   \
	}

unsigned int read_seqcount_begin(const seqcount_t *s);

static inline void seqcount_init(seqcount_t *s)
{
	s->sequence = 0;
}
static inline unsigned int raw_read_seqcount(const seqcount_t *s)
{
	sync_point(SYNC_READ, s);
	return __atomic_load_n(&s->sequence, __ATOMIC_ACQUIRE);
}
static inline bool read_seqcount_retry(const seqcount_t *s, unsigned int start)
{
	smp_rmb();
	sync_point(SYNC_READ, s);
	return __atomic_load_n(&s->sequence, __ATOMIC_RELAXED) != start;
}
static inline void write_seqcount_begin(seqcount_t *s)
{
	sync_point(SYNC_RMW, s);
	__atomic_fetch_add(&s->sequence, 1, __ATOMIC_RELAXED);
	smp_wmb();
}
static inline void write_seqcount_end(seqcount_t *s)
{
	smp_wmb();
	sync_point(SYNC_RMW, s);
	__atomic_fetch_add(&s->sequence, 1, __ATOMIC_RELAXED);
}

/* ---- bit lock with waiting (the page lock) ------------------------------
 * Bit nr of *word is the lock; other bits of the word stay usable with the
 * bit operations above.  Its rank is RANK_PAGE_LOCK.  Stress waiters sleep on a hashed futex table,
 * as Linux's page wait queues are hashed. */

void bit_lock(unsigned long *word, int nr);
bool bit_trylock(unsigned long *word, int nr);
void bit_unlock(unsigned long *word, int nr);
/* The same lock held across an I/O: taken by the submitter, released by
 * whoever completes it, so not a lock of the taker's lock stack (lockdep
 * does not see it; Linux's PG_locked across I/O is untracked too). */
void bit_lock_io(unsigned long *word, int nr);
void bit_unlock_io(unsigned long *word, int nr);
/* Wait until the bit is clear, without taking it (wait_on_page_locked). */
void bit_wait_unlocked(unsigned long *word, int nr);

/* ---- RCU ----------------------------------------------------------------
 * Read-side sections nest.  call_rcu runs fn after a grace period: on a
 * liburcu thread in stress mode, on an RCU daemon task in explore mode.
 * A thread that uses RCU in stress mode must be registered: threads made
 * by sync_thread_start() are, and the thread that calls sync_init(). */

struct rcu_head {
	void *backend[2]; /* the back end's own queue link */
	void (*func)(struct rcu_head *);
};

void rcu_read_lock(void);
void rcu_read_unlock(void);
void synchronize_rcu(void);
void call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *));
/* Wait until every callback queued so far has run. */
void rcu_barrier(void);
/* After an explore run that stopped early (a failure), run the callbacks it
 * left queued.  Call from the explorer thread's scheduler context. */
void sync_explore_drain(struct sched *s);

#define rcu_dereference(p) smp_load_acquire(&(p))
#define rcu_assign_pointer(p, v) smp_store_release(&(p), (v))

/* ---- devices ------------------------------------------------------------
 * A simulated device calls one of these before each unit of work it does
 * on memory.  In explore mode it is a yield point of the device's task, so
 * interleavings can split a transfer; in stress mode the device runs as it
 * is scheduled by the host.
 *
 * Storage (the files' bytes, the swap slots) is named by no word: every
 * step on the files conflicts with every other, and so does every step on
 * the swap slots.  sync_dma_step() is a step that touches the files and
 * the one chunk of a frame it names (frame_chunk: a direct I/O's sector),
 * so it also conflicts with every step on that chunk, and with nothing
 * else; a CPU's read of a file's bytes names the file.  sync_swap_step()
 * is the same for a chunk of a swap request.  sync_device_step() is a step
 * that may touch any frame and any storage: it conflicts with every
 * step. */

static inline void sync_device_step(const void *dev)
{
	sync_point(SYNC_DEVICE, dev);
}

static inline void sync_dma_step(const void *chunk_or_file)
{
	sync_point(SYNC_DMA, chunk_or_file);
}

static inline void sync_swap_step(const void *chunk)
{
	sync_point(SYNC_SWAP, chunk);
}

/* ---- waiting for a condition --------------------------------------------
 * Wait until cond(obj) holds, where another CPU makes it true through sync
 * operations.  Stress spins, then yields the host CPU; explore blocks the
 * task until the predicate holds (a modelled wait, part of deadlock
 * detection).  cond reads shared state with READ_IN_PREDICATE only, and
 * only the word obj: the explorer takes the wait for a read of obj, and a
 * step that changes the condition without touching obj stops the run with
 * a model error (sched_conflict).  For a lock, use the lock. */

void sync_wait_cond(const void *obj, sync_pred_fn cond, const char *what);
/* The same for cond(arg), a condition on the one word obj with state of
 * the waiter's own in arg. */
void sync_wait_cond_on(const void *arg, const void *obj, sync_pred_fn cond, const char *what);

/* ---- TLB shootdown ---------------------------------------------------------
 * A simulated CPU brackets every access that may use its software TLB (the
 * lookup, a walk and fill, and the load or store itself) with
 * tlb_access_begin/end: one access is one "instruction".  A CPU that
 * changes translations makes the old TLB entries unusable for accesses that
 * start from now on (the memory manager bumps a generation), then calls
 * tlb_shootdown_wait(), which returns once every CPU that was inside an
 * access at the call has left it: the acknowledgement of a shootdown IPI,
 * which a CPU gives between instructions. */

struct tlb_window {
	unsigned int seq; /* odd while the CPU is inside an access */
};

static inline void tlb_access_begin(struct tlb_window *w)
{
	sync_point(SYNC_WRITE, w);
	/* Odd here means two OS threads or tasks run as one CPU at once. */
	COW_CHECK(!(w->seq & 1), "a simulated CPU entered an access twice: two threads share it");
#if COW_TSAN
	/* The same order through the window itself, so that TSan's stand-in
	 * for smp_mb() (src/sync/tsan.h) does not order every access of every
	 * CPU with every other (an XCHG, as Linux's smp_store_mb()). */
	__atomic_store_n(&w->seq, w->seq + 1, __ATOMIC_SEQ_CST);
#else
	__atomic_store_n(&w->seq, w->seq + 1, __ATOMIC_RELAXED);
	smp_mb(); /* pairs with the barrier in tlb_shootdown_wait() */
#endif
}
static inline void tlb_access_end(struct tlb_window *w)
{
	/* A step of its own under the explorer: a shootdown reads the
	 * window (tlb_shootdown_wait()), so leaving it is a store the
	 * explorer must see, not one hidden in the access's step. */
	if (unlikely(sync_explorer != NULL))
		sync_explore_point(SYNC_WRITE, w);
	__atomic_store_n(&w->seq, w->seq + 1, __ATOMIC_RELEASE);
}
/* Wait for the nr CPUs' windows (an array) as described above. */
void tlb_shootdown_wait(struct tlb_window *windows, size_t stride, int nr);

/* ---- what ThreadSanitizer cannot see for itself ---------------------------
 * No-ops except in the TSan build (COW_TSAN=1, src/sync/tsan.h).
 *
 * sync_tsan_release(p) and sync_tsan_acquire(p): a happens-before edge
 * from the first to the second on the same address, where the ordering
 * comes from outside the instrumented program (the kernel, a library
 * built without TSan).
 *
 * deliberate_race_begin() and deliberate_race_end(): the calling thread's
 * loads and stores in between are not checked.  Only for the races the
 * model makes on purpose: each use says why the race is the model's and
 * not a bug of it. */
#if COW_TSAN
#define sync_tsan_release(p) __tsan_release((void *)(p))
#define sync_tsan_acquire(p) __tsan_acquire((void *)(p))
#define deliberate_race_begin() __tsan_ignore_thread_begin()
#define deliberate_race_end() __tsan_ignore_thread_end()
#else
#define sync_tsan_release(p) ((void)(p))
#define sync_tsan_acquire(p) ((void)(p))
#define deliberate_race_begin() ((void)0)
#define deliberate_race_end() ((void)0)
#endif

/* ---- threads (stress back end) and set-up ------------------------------- */

/* Initialise the layer and register the calling thread as CPU 0.  Call
 * once per process before anything else here; idempotent. */
void sync_init(void);

struct sync_thread;
/* Start fn(arg) on a new OS thread running as simulated CPU cpu, registered
 * for RCU.  Returns NULL if the host cannot make a thread. */
struct sync_thread *sync_thread_start(int cpu, void (*fn)(void *), void *arg);
/* Wait for the thread to finish and free it. */
void sync_thread_join(struct sync_thread *t);

#endif /* COW_SYNC_H */
