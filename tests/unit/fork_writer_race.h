/*
 * fork races a writer thread of the parent on a huge page, under the
 * explorer (test_thp.c, test_hugetlb.c): the child sees its snapshot
 * (all 0x11, or the write where it may have come before fork, never one
 * that began after fork returned), the parent keeps its write, and every
 * step keeps the invariants.  The includer defines HUGE, RACE_NAME,
 * race_system() (a system for two CPUs) and race_map() (a huge mapping
 * of HUGE bytes) before it includes this.
 */
#ifndef COW_TESTS_FORK_WRITER_RACE_H
#define COW_TESTS_FORK_WRITER_RACE_H

#include "sched/explore.h"

struct race {
	struct cow_system *sys;
	struct cow_process *p, *c;
	struct cow_task *forker, *writer;
	unsigned long a;
	bool forked;	  /* fork had returned ... */
	bool wrote_after; /* ... when the writer began */
	bool passed;
};

static void race_forker(void *arg)
{
	struct race *r = arg;

	task_check(cow_fork(r->forker, "child", &r->c) == 0);
	WRITE_ONCE(r->forked, true);
}

static void race_writer(void *arg)
{
	struct race *r = arg;

	r->wrote_after = READ_ONCE(r->forked);
	task_check(mmt_fill(r->writer, r->a + 4 * PAGE_SIZE, 0x22, ACCESS_CHUNK) == 0);
}

static void *race_setup(struct sched *s)
{
	struct race *r = calloc(1, sizeof(*r));

	r->sys = race_system();
	r->p = mmt_process(r->sys, "parent");
	r->forker = mmt_task(r->p, 0);
	r->writer = mmt_task(r->p, 1);
	r->a = race_map(r->forker);
	assert_int_equal(mmt_fill(r->forker, r->a, 0x11, HUGE), 0);
	sched_spawn(s, "forker", 0, race_forker, r, 0);
	sched_spawn(s, "writer", 1, race_writer, r, 0);
	return r;
}

static int race_check(void *state, char *msg, size_t len)
{
	return mmt_step_check(((struct race *)state)->sys, msg, len);
}

/* The child sees its snapshot: all 0x11, or the write where it may have
 * come before the fork; never a write that began after fork returned. */
static int race_verdict(void *state, char *msg, size_t len)
{
	struct race *r = state;
	struct cow_task *ct;
	int err = cow_system_check(r->sys, 1, msg, len), b;

	if (err)
		return err;
	if (!mmt_holds(r->forker, r->a + 4 * PAGE_SIZE, 0x22, ACCESS_CHUNK)) {
		snprintf(msg, len, "the parent lost its write");
		return 1;
	}
	if (cow_task_create(r->c, 0, &ct) != 0)
		return 1;
	b = mmt_byte(ct, r->a + 4 * PAGE_SIZE);
	if ((b != 0x11 && (b != 0x22 || r->wrote_after)) ||
	    !mmt_holds(ct, r->a + 5 * PAGE_SIZE, 0x11, PAGE_SIZE)) {
		snprintf(msg, len, "the child holds 0x%02x", b);
		cow_task_destroy(ct);
		return 1;
	}
	cow_task_destroy(ct);
	r->passed = true;
	return 0;
}

static void race_teardown(void *state)
{
	struct race *r = state;

	if (r->passed) {
		cow_task_destroy(r->forker);
		cow_task_destroy(r->writer);
		cow_process_exit(r->c);
		cow_process_exit(r->p);
		cow_system_destroy(r->sys);
	}
	free(r);
}

static const struct explore_prog race_prog = {
	RACE_NAME, 4, race_setup, race_check, race_verdict, race_teardown,
};

#endif
