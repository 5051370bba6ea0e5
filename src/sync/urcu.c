/*
 * The liburcu (urcu-memb flavour) side of the stress back end's RCU: the
 * read side and grace periods.  (call_rcu is cowlab's own, in rcu.c:
 * liburcu's callback thread sleeps 10 ms between batches, which made every
 * rcu_barrier cost 10 ms.)  Kept in its own file because liburcu's headers
 * define names (rcu_read_lock, struct rcu_head) that src/sync/sync.h
 * defines for cowlab; the two meet only through urcu.h.
 */
#include "urcu.h"

#include <stdbool.h>
#include <urcu/urcu-memb.h>

/* The ThreadSanitizer build (src/sync/tsan.h).  liburcu is built without
 * TSan, and its grace period orders a reader's section before the
 * synchronize_rcu() that waits for it through accesses TSan never sees
 * (the readers' counters, membarrier).  Without that edge, what a
 * callback or an updater does after the grace period (free a page table,
 * reuse its frame) looks like a race with the readers' loads.  So every
 * read-side exit releases one word and every grace period acquires it on
 * return: each section that ended before the grace period returned
 * happens-before what follows it, which is RCU's guarantee (and a little
 * more: sections that merely ended in time, not only those waited for). */
#if COW_TSAN
#include <sanitizer/tsan_interface.h>
static char urcu_tsan_gp;
#define urcu_tsan_reader_exit() __tsan_release(&urcu_tsan_gp)
#define urcu_tsan_gp_done() __tsan_acquire(&urcu_tsan_gp)
#else
#define urcu_tsan_reader_exit() ((void)0)
#define urcu_tsan_gp_done() ((void)0)
#endif

__thread bool urcu_registered;

void urcu_register(void)
{
	urcu_memb_register_thread();
	urcu_registered = true;
}

void urcu_unregister(void)
{
	urcu_memb_unregister_thread();
	urcu_registered = false;
}

void urcu_lock(void)
{
	urcu_memb_read_lock();
}

void urcu_unlock(void)
{
	urcu_tsan_reader_exit();
	urcu_memb_read_unlock();
}

void urcu_synchronize(void)
{
	urcu_memb_synchronize_rcu();
	urcu_tsan_gp_done();
}
