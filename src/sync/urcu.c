/*
 * The liburcu (urcu-memb flavour) side of the stress back end's RCU.  Kept
 * in its own file because liburcu's headers define names (rcu_read_lock,
 * struct rcu_head) that src/sync/sync.h defines for cowlab; this file does
 * not include sync.h and the two meet only through the urcu_* functions
 * declared in urcu.h.
 */
#include "urcu.h"

#include <stdbool.h>
#include <urcu/urcu-memb.h>

/* cowlab's struct rcu_head starts with two words that hold liburcu's. */
_Static_assert(sizeof(struct rcu_head) == 2 * sizeof(void *),
	       "liburcu's rcu_head no longer fits in cowlab's");

static void (*callback_done)(void *head);

static void urcu_trampoline(struct rcu_head *head)
{
	callback_done(head);
}

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

void urcu_set_callback(void (*done)(void *head))
{
	callback_done = done;
}

void urcu_call(void *head)
{
	urcu_memb_call_rcu((struct rcu_head *)head, urcu_trampoline);
}

void urcu_barrier(void)
{
	urcu_memb_barrier();
}
