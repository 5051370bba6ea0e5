/*
 * The explorer's demonstration programs (see demos.h).  Each is a few lines
 * of sync calls run by two simulated CPUs; they double as the explorer's
 * own acceptance tests.
 */
#include "demos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct counter {
	long value;
	atomic_long_t atomic;
	spinlock_t lock;
	spinlock_t other;
	int flag;
};

static void *counter_alloc(void)
{
	return calloc(1, sizeof(struct counter));
}

static void counter_free(void *state)
{
	free(state);
}

static void racy_inc(void *arg)
{
	struct counter *c = arg;

	for (int i = 0; i < DEMO_INCREMENTS; i++) {
		long v = READ_ONCE(c->value);

		WRITE_ONCE(c->value, v + 1);
	}
}

static void locked_inc(void *arg)
{
	struct counter *c = arg;

	for (int i = 0; i < DEMO_INCREMENTS; i++) {
		spin_lock(&c->lock);
		WRITE_ONCE(c->value, READ_ONCE(c->value) + 1);
		spin_unlock(&c->lock);
	}
}

static void atomic_incs(void *arg)
{
	struct counter *c = arg;

	for (int i = 0; i < DEMO_INCREMENTS; i++)
		atomic_long_inc(&c->atomic);
}

static void *spawn_two(struct sched *s, void (*fn)(void *))
{
	struct counter *c = counter_alloc();

	if (!c)
		return NULL;
	sched_spawn(s, "cpu0", 0, fn, c, 0);
	sched_spawn(s, "cpu1", 1, fn, c, 0);
	return c;
}

static void *racy_setup(struct sched *s)
{
	return spawn_two(s, racy_inc);
}

static void *locked_setup(struct sched *s)
{
	return spawn_two(s, locked_inc);
}

static void *atomic_setup(struct sched *s)
{
	return spawn_two(s, atomic_incs);
}

static int check_total(void *state, long want, char *msg, size_t len)
{
	struct counter *c = state;
	long got = c->value + c->atomic.counter;

	if (got == want)
		return 0;
	snprintf(msg, len, "lost update: two CPUs made %ld increments, the counter holds %ld", want,
		 got);
	return 1;
}

static int counter_verdict(void *state, char *msg, size_t len)
{
	return check_total(state, 2 * DEMO_INCREMENTS, msg, len);
}

/* The counter's fields by name, for traces. */
static bool counter_describe(void *state, const void *obj, char *buf, size_t len)
{
	struct counter *c = state;
	const char *name = obj == &c->value    ? "value"
			   : obj == &c->atomic ? "atomic"
			   : obj == &c->lock   ? "lock"
			   : obj == &c->other  ? "other"
			   : obj == &c->flag   ? "flag"
					       : "word";

	if (obj == &c->value)
		snprintf(buf, len, "value = %ld", c->value);
	else
		snprintf(buf, len, "%s", name);
	return true;
}

/* A demo's hash (explore_prog.hash) is its version: raise it when a demo
 * changes how it runs, so that its old tokens are refused, not replayed
 * as some other run. */
#define COUNTER_PROG(n, setup_fn, verdict_fn)                                                 \
	{                                                                                     \
		.name = n, .nr_tasks = 2, .setup = setup_fn, .verdict = verdict_fn,           \
		.teardown = counter_free, .describe = counter_describe, .hash = DEMO_VERSION, \
	}

const struct explore_prog demo_racy_counter =
	COUNTER_PROG("racy-counter", racy_setup, counter_verdict);
const struct explore_prog demo_locked_counter =
	COUNTER_PROG("locked-counter", locked_setup, counter_verdict);
const struct explore_prog demo_atomic_counter =
	COUNTER_PROG("atomic-counter", atomic_setup, counter_verdict);

/* The benchmark's program: two CPUs each make BENCH_INCREMENTS locked
 * increments, four steps each, about a hundred steps a run. */
#define BENCH_INCREMENTS 12

static void locked_incs_bench(void *arg)
{
	struct counter *c = arg;

	for (int i = 0; i < BENCH_INCREMENTS; i++) {
		spin_lock(&c->lock);
		WRITE_ONCE(c->value, READ_ONCE(c->value) + 1);
		spin_unlock(&c->lock);
	}
}

static void *bench_setup(struct sched *s)
{
	return spawn_two(s, locked_incs_bench);
}

static int bench_verdict(void *state, char *msg, size_t len)
{
	return check_total(state, 2 * BENCH_INCREMENTS, msg, len);
}

const struct explore_prog demo_two_cpus_100 =
	COUNTER_PROG("two-cpus-100", bench_setup, bench_verdict);

/* Lock-order inversion: cpu0 takes lock then other, cpu1 the reverse. */
static void take_ab(void *arg)
{
	struct counter *c = arg;

	spin_lock(&c->lock);
	spin_lock(&c->other);
	c->value++;
	spin_unlock(&c->other);
	spin_unlock(&c->lock);
}

static void take_ba(void *arg)
{
	struct counter *c = arg;

	spin_lock(&c->other);
	spin_lock(&c->lock);
	c->value++;
	spin_unlock(&c->lock);
	spin_unlock(&c->other);
}

static void *inversion_setup(struct sched *s)
{
	struct counter *c = counter_alloc();

	if (!c)
		return NULL;
	sched_spawn(s, "lock-then-other", 0, take_ab, c, 0);
	sched_spawn(s, "other-then-lock", 1, take_ba, c, 0);
	return c;
}

const struct explore_prog demo_lock_inversion =
	COUNTER_PROG("lock-inversion", inversion_setup, NULL);

/* A spin on a flag that nobody sets: the step limit must stop it. */
static void spin_on_flag(void *arg)
{
	struct counter *c = arg;

	while (!READ_ONCE(c->flag))
		cpu_relax();
}

static void *spin_setup(struct sched *s)
{
	struct counter *c = counter_alloc();

	if (!c)
		return NULL;
	sched_spawn(s, "spinner", 0, spin_on_flag, c, 0);
	sched_spawn(s, "bystander", 1, atomic_incs, c, 0);
	return c;
}

const struct explore_prog demo_spin_forever = COUNTER_PROG("spin-forever", spin_setup, NULL);

const struct explore_prog *explore_demo_find(const char *name)
{
	static const struct explore_prog *const all[] = {
		&demo_racy_counter,   &demo_locked_counter, &demo_atomic_counter,
		&demo_lock_inversion, &demo_spin_forever,   &demo_two_cpus_100,
	};

	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}
