/*
 * The stress back end's RCU, a thin wrapper of liburcu (see urcu.c).
 * Internal to src/sync.
 */
#ifndef COW_SYNC_URCU_H
#define COW_SYNC_URCU_H

#include <stdbool.h>

/* Whether this thread is registered with liburcu (readers must be:
 * threads of sync_thread_start() and sync_init()'s are). */
extern __thread bool urcu_registered;
void urcu_register(void);
void urcu_unregister(void);
void urcu_lock(void);
void urcu_unlock(void);
void urcu_synchronize(void);

#endif
