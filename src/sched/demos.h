/*
 * Small programs that show what the explorer does, used by `cowlab demo`,
 * `cowlab replay` and the tests: a counter incremented without a lock (a
 * lost update the explorer must find), the same with a lock and with an
 * atomic (it must never fail), a lock-order inversion (a deadlock it must
 * report) and a spin on a flag nobody sets (a livelock it must stop).
 */
#ifndef COW_SCHED_DEMOS_H
#define COW_SCHED_DEMOS_H

#include "explore.h"

/* How many increments each CPU makes in the counter demos. */
#define DEMO_INCREMENTS 3
/* The demos' version, their explore_prog.hash: a token carries it
 * ("cow2:racy-counter:-:1:-:random:17"). */
#define DEMO_VERSION 1

extern const struct explore_prog demo_racy_counter;
extern const struct explore_prog demo_locked_counter;
extern const struct explore_prog demo_atomic_counter;
extern const struct explore_prog demo_lock_inversion;
extern const struct explore_prog demo_spin_forever;
/* Two CPUs making 12 locked increments each: about 100 steps a run, the
 * explorer benchmark's program. */
extern const struct explore_prog demo_two_cpus_100;

/* The demo program of that name, or NULL. */
const struct explore_prog *explore_demo_find(const char *name);

#endif
