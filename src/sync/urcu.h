/*
 * The stress back end's RCU, a thin wrapper of liburcu (see urcu.c).
 * Internal to src/sync.
 */
#ifndef COW_SYNC_URCU_H
#define COW_SYNC_URCU_H

#include <stdbool.h>

/* Whether this thread is registered with liburcu (readers and call_rcu
 * callers must be: threads of sync_thread_start() and sync_init()'s). */
extern __thread bool urcu_registered;
void urcu_register(void);
void urcu_unregister(void);
void urcu_lock(void);
void urcu_unlock(void);
void urcu_synchronize(void);
/* Set, once before any urcu_call, the function that every callback runs. */
void urcu_set_callback(void (*done)(void *head));
/* Queue a callback: head points at two free words; after a grace period
 * done(head) runs on liburcu's callback thread. */
void urcu_call(void *head);
void urcu_barrier(void);

/* rcu.c: what liburcu's thread runs for each callback. */
void sync_rcu_callback(void *head);

#endif
