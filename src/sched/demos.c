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

static int counter_verdict(void *state, char *msg, size_t len)
{
	struct counter *c = state;
	long got = c->value + c->atomic.counter;

	if (got == 2 * DEMO_INCREMENTS)
		return 0;
	snprintf(msg, len, "lost update: two CPUs made %d increments, the counter holds %ld",
		 2 * DEMO_INCREMENTS, got);
	return 1;
}

const struct explore_prog demo_racy_counter = {
	"racy-counter", 2, racy_setup, NULL, counter_verdict, counter_free,
};
const struct explore_prog demo_locked_counter = {
	"locked-counter", 2, locked_setup, NULL, counter_verdict, counter_free,
};
const struct explore_prog demo_atomic_counter = {
	"atomic-counter", 2, atomic_setup, NULL, counter_verdict, counter_free,
};

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

const struct explore_prog demo_lock_inversion = {
	"lock-inversion", 2, inversion_setup, NULL, NULL, counter_free,
};

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

const struct explore_prog demo_spin_forever = {
	"spin-forever", 2, spin_setup, NULL, NULL, counter_free,
};

const struct explore_prog *explore_demo_find(const char *name)
{
	static const struct explore_prog *const all[] = {
		&demo_racy_counter,   &demo_locked_counter, &demo_atomic_counter,
		&demo_lock_inversion, &demo_spin_forever,
	};

	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}
