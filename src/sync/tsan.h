/*
 * The fences of the concurrency layer in a ThreadSanitizer build
 * (COW_TSAN=1, make tsan).  Included by sync.h only; internal to src/sync.
 *
 * TSan builds happens-before from atomic operations on the same address
 * (a release store or RMW, an acquire load that reads it) and from
 * mutexes, but it does not model fences: gcc refuses
 * __atomic_thread_fence under -fsanitize=thread (-Wtsan), and the inline
 * "lock; addl" of smp_mb() is invisible to it.  So in this build each
 * fence keeps its real instruction and also tells TSan what it orders,
 * through one global word, sync_tsan_fence_word:
 *
 *   smp_wmb()  a release on the word: what came before is published there;
 *   smp_rmb()  an acquire of the word: whatever any CPU published there
 *              before is visible after it;
 *   smp_mb()   both.
 *
 * This is stronger than the fences it stands for: every smp_wmb() or
 * smp_mb() happens-before every later smp_rmb() or smp_mb() of any CPU,
 * whatever variables the two were meant to order.  TSan therefore reports
 * nothing the real fences forbid (no false report), but a race whose only
 * ordering is an unrelated pair of fences can go unseen.  That is why the
 * path that fences on every simulated access orders through its own
 * variable instead (tlb_access_begin() makes its store sequentially
 * consistent in this build, see sync.h), and why publication pairs a
 * smp_store_release() with the reader's acquire load rather than a
 * smp_wmb() with it.
 *
 * The real instruction: on x86-64, the locked add of smp_mb() and nothing
 * for smp_rmb()/smp_wmb() (TSO orders loads with loads and stores with
 * stores; only the compiler must be held back), as in the normal build.
 * Elsewhere a sequentially consistent RMW of the same word stands in for
 * __atomic_thread_fence(), which this build cannot use.
 */
#ifndef COW_SYNC_TSAN_H
#define COW_SYNC_TSAN_H

#include <sanitizer/tsan_interface.h>

extern unsigned long sync_tsan_fence_word;
/* In the runtime, not in <sanitizer/tsan_interface.h>: stop and resume
 * checking the calling thread's memory accesses. */
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);

#if defined(__x86_64__)
#define sync_tsan_hw_mb() __asm__ __volatile__("lock; addl $0,-4(%%rsp)" ::: "memory", "cc")
#define sync_tsan_hw_rwmb() barrier()
#else
#define sync_tsan_hw_mb() __atomic_fetch_add(&sync_tsan_fence_word, 0, __ATOMIC_SEQ_CST)
#define sync_tsan_hw_rwmb() sync_tsan_hw_mb()
#endif

#define smp_mb()                                       \
	do {                                           \
		sync_tsan_hw_mb();                     \
		__tsan_release(&sync_tsan_fence_word); \
		__tsan_acquire(&sync_tsan_fence_word); \
	} while (0)
#define smp_wmb()                                      \
	do {                                           \
		__tsan_release(&sync_tsan_fence_word); \
		sync_tsan_hw_rwmb();                   \
	} while (0)
#define smp_rmb()                                      \
	do {                                           \
		sync_tsan_hw_rwmb();                   \
		__tsan_acquire(&sync_tsan_fence_word); \
	} while (0)

#endif /* COW_SYNC_TSAN_H */
