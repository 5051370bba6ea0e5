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
	urcu_memb_read_unlock();
}

void urcu_synchronize(void)
{
	urcu_memb_synchronize_rcu();
}
