/*
 * Helpers shared by the unit tests: cmocka includes, a stress runner that
 * starts N simulated CPUs on real threads, and an explore runner that
 * searches a seed range with a program made of task functions.
 */
#ifndef COW_TESTUTIL_H
#define COW_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sched/explore.h"
#include "sync/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka's skip(), with the reason printed: a test that cannot run here
 * (not root, no O_DIRECT, no swap, no KSM) is a skip, never a pass. */
#define skip_because(why)                             \
	do {                                          \
		print_message("# skip: %s\n", (why)); \
		skip();                               \
	} while (0)

/* Search runs seeds from seed with the random scheduler; returns the
 * result (failed or not). */
static inline struct explore_result explore_runs(const struct explore_prog *p, uint64_t seed,
						 uint64_t runs)
{
	struct explore_result r;

	assert_int_equal(explore_search(p, NULL, SCHED_RANDOM, seed, runs, 0, &r), 0);
	if (getenv("COW_TEST_VERBOSE"))
		printf("# explore: %s: %llu runs, last run %llu steps\n", p->name,
		       (unsigned long long)r.runs, (unsigned long long)r.steps);
	if (r.failed) {
		char token[EXPLORE_TOKEN_MAX] = "?";

		explore_token_format(&r.token, token, sizeof(token));
		printf("# explore: %s: %s\n#   cowlab replay %s\n", p->name, r.message, token);
	}
	return r;
}

/* Assert that no run in the range fails. */
#define assert_explore_clean(p_, seed_, nruns_)                                   \
	do {                                                                      \
		struct explore_result r_ = explore_runs((p_), (seed_), (nruns_)); \
		assert_false(r_.failed);                                          \
		assert_int_equal(r_.runs, (nruns_));                              \
	} while (0)

/* Failures seen by stress threads (cmocka's assertions may only be used
 * on the test's own thread); stress_run() asserts there were none. */
static int stress_failures;

/* Inside a task or thread: fail the explore run, or count a stress failure. */
#define task_check(cond)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			if (sync_explorer) {                                               \
				sched_fail(sync_explorer, "check failed: %s", #cond);      \
			} else {                                                           \
				fprintf(stderr, "check failed: %s\n", #cond);              \
				__atomic_fetch_add(&stress_failures, 1, __ATOMIC_SEQ_CST); \
			}                                                                  \
		}                                                                          \
	} while (0)

/* Run fn(arg) on n stress threads, CPUs 0..n-1, and wait for all. */
static inline void stress_run(int n, void (*fn)(void *), void *arg)
{
	struct sync_thread *t[SYNC_MAX_CPUS];

	assert_true(n <= SYNC_MAX_CPUS);
	stress_failures = 0;
	for (int i = 0; i < n; i++) {
		t[i] = sync_thread_start(i, fn, arg);
		assert_non_null(t[i]);
	}
	for (int i = 0; i < n; i++)
		sync_thread_join(t[i]);
	assert_int_equal(__atomic_load_n(&stress_failures, __ATOMIC_SEQ_CST), 0);
}

/* Assert that stmt makes a COW_CHECK fire with a message containing
 * substr (the STYLE.md habit: tests can assert that an assert fires). */
static jmp_buf panic_jmp;
static char panic_msg[512];

static COW_UNUSED void test_panic_handler(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	snprintf(panic_msg, sizeof(panic_msg), "%s", msg);
	longjmp(panic_jmp, 1);
}

#define expect_panic(stmt, substr)                                                  \
	do {                                                                        \
		cow_panic_fn old_ = cow_set_panic_handler(test_panic_handler);      \
		panic_msg[0] = '\0';                                                \
		if (setjmp(panic_jmp) == 0) {                                       \
			stmt;                                                       \
			cow_set_panic_handler(old_);                                \
			fail_msg("no panic from: %s", #stmt);                       \
		}                                                                   \
		cow_set_panic_handler(old_);                                        \
		if (!strstr(panic_msg, (substr)))                                   \
			fail_msg("panic \"%s\" lacks \"%s\"", panic_msg, (substr)); \
	} while (0)

static inline void test_init(void)
{
	sync_init();
}

#endif
