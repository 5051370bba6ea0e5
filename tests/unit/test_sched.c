/*
 * Tests of src/sched: the scheduler's outcomes (ok, failed, deadlock,
 * livelock), determinism and replay, tokens, and the explorer's acceptance
 * programs from src/sched/demos.c.
 */
#include "testutil.h"

#include "sched/demos.h"

/* The racy counter is caught within 1,000 runs from a fixed seed range,
 * and the printed token replays the run bit-exactly. */
static void test_racy_counter_found_and_replayed(void **state)
{
	struct explore_result r = explore_runs(&demo_racy_counter, 1000, 1000);
	struct explore_result again;
	struct explore_token t;
	char token[EXPLORE_TOKEN_MAX], err[128];

	(void)state;
	assert_true(r.failed);
	assert_true(r.runs <= 1000);
	assert_non_null(strstr(r.message, "lost update"));
	assert_int_equal(explore_token_format(&r.token, token, sizeof(token)), 0);
	/* Replay from the printed text, as a user would, many times. */
	assert_int_equal(explore_token_parse(token, &t, err, sizeof(err)), 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(explore_replay(&demo_racy_counter, &t, 0, &again), 0);
		assert_true(again.failed);
		assert_int_equal(again.verdict, r.verdict);
		assert_int_equal(again.steps, r.steps);
		assert_int_equal(again.fingerprint, r.fingerprint);
		assert_string_equal(again.message, r.message);
	}
}

static void test_locked_counter_never_fails(void **state)
{
	(void)state;
	assert_explore_clean(&demo_locked_counter, 1, 10000);
}

static void test_atomic_counter_never_fails(void **state)
{
	(void)state;
	assert_explore_clean(&demo_atomic_counter, 1, 10000);
}

static void test_lock_inversion_is_a_deadlock(void **state)
{
	struct explore_result r = explore_runs(&demo_lock_inversion, 1, 1000);

	(void)state;
	assert_true(r.failed);
	assert_int_equal(r.verdict, SCHED_DEADLOCK);
	/* The report names what each CPU waits for and who holds it. */
	assert_non_null(strstr(r.message, "cpu0 (lock-then-other) waits for spinlock"));
	assert_non_null(strstr(r.message, "held by cpu1 (other-then-lock)"));
	assert_non_null(strstr(r.message, "cpu1 (other-then-lock) waits for spinlock"));
	assert_non_null(strstr(r.message, "held by cpu0 (lock-then-other)"));
}

static void test_lock_inversion_also_passes_sometimes(void **state)
{
	struct explore_result r;

	(void)state;
	/* Some schedules run one CPU's pair of locks before the other's:
	 * the deadlock depends on the interleaving, as it should. */
	assert_int_equal(explore_search(&demo_lock_inversion, NULL, SCHED_RANDOM, 1, 1, 0, &r), 0);
	for (uint64_t seed = 1; seed < 200 && r.failed; seed++)
		assert_int_equal(
			explore_search(&demo_lock_inversion, NULL, SCHED_RANDOM, seed, 1, 0, &r),
			0);
	assert_false(r.failed);
}

static void test_spin_forever_is_a_livelock(void **state)
{
	struct explore_result r;

	(void)state;
	assert_int_equal(explore_search(&demo_spin_forever, NULL, SCHED_RANDOM, 1, 1, 5000, &r), 0);
	assert_true(r.failed);
	assert_int_equal(r.verdict, SCHED_LIVELOCK);
	assert_int_equal(r.steps, 5000);
	assert_non_null(strstr(r.message, "spinner"));
}

static void test_same_seed_same_run(void **state)
{
	struct explore_result a, b;

	(void)state;
	for (uint64_t seed = 0; seed < 50; seed++) {
		assert_int_equal(
			explore_search(&demo_locked_counter, NULL, SCHED_RANDOM, seed, 1, 0, &a),
			0);
		assert_int_equal(
			explore_search(&demo_locked_counter, NULL, SCHED_RANDOM, seed, 1, 0, &b),
			0);
		assert_int_equal(a.fingerprint, b.fingerprint);
		assert_int_equal(a.steps, b.steps);
	}
}

static void test_seeds_give_different_schedules(void **state)
{
	uint64_t prints[64];
	int distinct = 0;

	(void)state;
	for (int i = 0; i < 64; i++) {
		struct explore_result r;
		bool seen = false;

		assert_int_equal(explore_search(&demo_locked_counter, NULL, SCHED_RANDOM,
						(uint64_t)i, 1, 0, &r),
				 0);
		for (int j = 0; j < distinct; j++)
			seen |= prints[j] == r.fingerprint;
		if (!seen)
			prints[distinct++] = r.fingerprint;
	}
	assert_true(distinct >= 32);
}

static void test_token_round_trip(void **state)
{
	struct explore_token t = {.algo = SCHED_RANDOM,
				  .seed = 18446744073709551615ull,
				  .hash = UINT64_MAX,
				  .rules_hash = 1},
			     u;
	char buf[EXPLORE_TOKEN_MAX], err[128];

	(void)state;
	strcpy(t.prog, "scenarios/dma_thread.cow");
	strcpy(t.policy, "linux-2.6.29");
	assert_int_equal(explore_token_format(&t, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "cow2:scenarios/dma_thread.cow:linux-2.6.29:ffffffffffffffff:"
				 "1:random:18446744073709551615");
	assert_int_equal(explore_token_parse(buf, &u, err, sizeof(err)), 0);
	assert_string_equal(u.prog, t.prog);
	assert_string_equal(u.policy, t.policy);
	assert_true(u.hash == t.hash && u.rules_hash == t.rules_hash);
	assert_int_equal(u.algo, t.algo);
	assert_true(u.seed == t.seed);
}

static void test_bad_tokens_rejected(void **state)
{
	static const char *const bad[] = {
		"",
		"cow2",
		"cow3:a:-:1:-:random:1",
		"cow1:a:-:random:1",
		"cow2:a:-:random:1",
		"cow2:a:-:1:-:random:",
		"cow2:a:-:1:-:random:x",
		"cow2::-:1:-:random:1",
		"cow2:a::1:-:random:1",
		"cow2:a:-:1:-:pct:1",
		"cow2:a:-:1:-:random:1x",
		"cow2:a:-:1:-:random:-1",
		"cow2:a:-:1:-:random:99999999999999999999999",
		"cow2:a b:-:1:-:random:1",
	};
	struct explore_token t;
	char err[128];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_int_equal(explore_token_parse(bad[i], &t, err, sizeof(err)), COW_EINVAL);
		assert_non_null(strstr(err, "bad replay token"));
	}
	/* A name with ':' cannot be put in a token. */
	memset(&t, 0, sizeof(t));
	strcpy(t.prog, "a:b");
	strcpy(t.policy, "-");
	assert_int_equal(explore_token_format(&t, err, sizeof(err)), COW_EINVAL);
}

static void test_replay_refuses_other_program(void **state)
{
	struct explore_token t = {.prog = "locked-counter", .policy = "-", .hash = DEMO_VERSION};
	struct explore_result r;

	(void)state;
	assert_int_equal(explore_replay(&demo_racy_counter, &t, 0, &r), COW_EINVAL);
	assert_non_null(explore_demo_find("racy-counter"));
	assert_null(explore_demo_find("no-such-demo"));
}

/* A COW_CHECK that fires inside a task fails the run; it does not abort. */
static void panicking_task(void *arg)
{
	(void)arg;
	cpu_relax();
	COW_CHECK(false, "the test's invariant %d", 42);
}

static void *panic_setup(struct sched *s)
{
	sched_spawn(s, "panics", 0, panicking_task, NULL, 0);
	return malloc(1);
}

static const struct explore_prog panic_prog = {
	"panic", 1, panic_setup, NULL, NULL, free,
};

static void test_panic_in_task_fails_the_run(void **state)
{
	struct explore_result r = explore_runs(&panic_prog, 1, 1);

	(void)state;
	assert_true(r.failed);
	assert_int_equal(r.verdict, SCHED_FAILED);
	assert_non_null(strstr(r.message, "the test's invariant 42"));
}

/* The step checker sees every state where the schedule branches and the
 * final one, and can fail a run. */
struct step_state {
	long counter, idle;
	int checks;
};

static void step_task(void *arg)
{
	struct step_state *st = arg;

	for (int i = 0; i < 5; i++)
		WRITE_ONCE(st->counter, READ_ONCE(st->counter) + 1);
}

static void idle_task(void *arg)
{
	struct step_state *st = arg;

	for (int i = 0; i < 40; i++)
		WRITE_ONCE(st->idle, i);
}

static void *step_setup(struct sched *s)
{
	struct step_state *st = calloc(1, sizeof(*st));

	sched_spawn(s, "stepper", 0, step_task, st, 0);
	return st;
}

static void *step_setup_two(struct sched *s)
{
	struct step_state *st = step_setup(s);

	sched_spawn(s, "idler", 1, idle_task, st, 0);
	return st;
}

static int step_check(void *state, char *msg, size_t len)
{
	struct step_state *st = state;

	st->checks++;
	if (st->counter < 3)
		return 0;
	snprintf(msg, len, "counter reached %ld after %d checks", st->counter, st->checks);
	return 1;
}

static int step_verdict(void *state, char *msg, size_t len)
{
	(void)state;
	snprintf(msg, len, "the checker should have stopped the run");
	return 1;
}

static const struct explore_prog step_prog = {
	"step-check", 1, step_setup, step_check, step_verdict, free,
};
static const struct explore_prog step_prog_two = {
	"step-check-two", 2, step_setup_two, step_check, step_verdict, free,
};

static void test_step_checker_runs_where_schedules_branch(void **state)
{
	struct explore_result r = explore_runs(&step_prog, 1, 1);

	(void)state;
	/* Alone, the stepper never shares a state with another task: only
	 * the final state is checked. */
	assert_true(r.failed);
	assert_string_equal(r.message, "counter reached 5 after 1 checks");
	/* Beside a task that runs longer, every state is a branch point:
	 * the checker meets the counter at 3, the moment it gets there. */
	for (uint64_t seed = 1; seed <= 20; seed++) {
		r = explore_runs(&step_prog_two, seed, 1);
		assert_true(r.failed);
		assert_non_null(strstr(r.message, "counter reached 3 after"));
	}
}

static void noop(void *arg)
{
	(void)arg;
}

static void test_spawn_beyond_slots(void **state)
{
	struct sched_opts o = {.max_tasks = 2};
	struct sched *s = sched_create(&o);

	(void)state;
	assert_non_null(s);
	sched_reset(s, SCHED_RANDOM, 1, 0);
	assert_int_equal(sched_spawn(s, "a", 0, noop, NULL, 0), 0);
	assert_int_equal(sched_spawn(s, "b", 1, noop, NULL, 0), 1);
	assert_int_equal(sched_spawn(s, "c", 2, noop, NULL, 0), COW_ENOMEM);
	assert_int_equal(sched_run(s), SCHED_OK);
	sched_destroy(s);
}

/* The wake check: a step that makes a wait's predicate hold must touch the
 * word the wait names.  The words: a (the wait's), b (another), c (read to
 * compute a stored value). */
struct wake_words {
	int a, b, c;
	int kind; /* 0: the setter stores a; 1: it stores b; 2: a from c */
};

static bool a_or_b_set(const void *arg)
{
	const struct wake_words *w = container_of(arg, struct wake_words, a);

	return READ_IN_PREDICATE(w->a) || READ_IN_PREDICATE(w->b);
}

static void wake_waiter(void *arg)
{
	struct wake_words *w = arg;

	sync_wait_cond(&w->a, a_or_b_set, "a or b");
}

static void wake_setter(void *arg)
{
	struct wake_words *w = arg;

	if (w->kind == 1)
		WRITE_ONCE(w->b, 1);
	else if (w->kind == 2)
		WRITE_ONCE(w->a, READ_ONCE(w->c) + 1); /* the store is the write's step */
	else
		WRITE_ONCE(w->a, 1);
}

/* Runs of the two tasks, seeds 1..40; returns how many stopped with the
 * model error, and checks the others passed. */
static int wake_runs(int kind)
{
	struct sched *s = sched_create(NULL);
	int wrong = 0;

	assert_non_null(s);
	for (uint64_t seed = 1; seed <= 40; seed++) {
		struct wake_words w = {.kind = kind};
		enum sched_verdict v;

		sched_reset(s, SCHED_RANDOM, seed, 0);
		sched_spawn(s, "waiter", 0, wake_waiter, &w, 0);
		sched_spawn(s, "setter", 1, wake_setter, &w, 0);
		v = sched_run(s);
		if (v == SCHED_FAILED) {
			assert_non_null(strstr(sched_message(s), "cowlab's model is wrong"));
			assert_non_null(strstr(sched_message(s), "(setter), a write of"));
			wrong++;
		} else {
			assert_int_equal(v, SCHED_OK);
		}
	}
	sched_destroy(s);
	return wrong;
}

static void test_wake_must_touch_the_waited_word(void **state)
{
	(void)state;
	assert_int_equal(wake_runs(0), 0);
	assert_int_equal(wake_runs(2), 0);
	/* The negative control: a store to another word wakes the wait.
	 * Runs where the waiter blocks first stop with the error. */
	assert_true(wake_runs(1) > 0);
}

/* A run's fingerprint names its schedule: runs that chose the same tasks
 * have equal ones, and runs that did not have different ones, also where
 * they differ only in when a task took its last step (after its last
 * yield point, where nothing yields again). */
static void store_once(void *arg)
{
	WRITE_ONCE(*(int *)arg, 1);
}

struct sched_log {
	char tasks[16];
	unsigned int n;
};

static void log_step(void *arg, struct sched *s, int task, enum sync_op op, const void *obj,
		     bool after)
{
	struct sched_log *l = arg;

	(void)s, (void)op, (void)obj;
	if (!after && l->n + 1 < sizeof(l->tasks))
		l->tasks[l->n++] = (char)('a' + task);
}

/* The step hook runs between two steps on the stack of the task that took
 * the last one (task_yield), but as no task: no task current, and its
 * shared reads are no yield points. */
struct hook_seen {
	struct sched *s;
	int words[2];
	unsigned int calls, as_task, stepped;
};

static void store_three(void *arg)
{
	for (int i = 1; i <= 3; i++)
		WRITE_ONCE(*(int *)arg, i);
}

static void hook_look(void *arg)
{
	struct hook_seen *h = arg;
	uint64_t before = sched_steps(h->s);

	h->calls++;
	h->as_task += sync_explorer != NULL || sched_task_id(h->s) != -1;
	(void)READ_ONCE(h->words[0]);
	h->stepped += sched_steps(h->s) != before;
}

static void test_hook_runs_as_no_task(void **state)
{
	struct sched *s = sched_create(NULL);

	(void)state;
	assert_non_null(s);
	for (uint64_t seed = 1; seed <= 50; seed++) {
		struct hook_seen h = {.s = s};

		sched_reset(s, SCHED_RANDOM, seed, 0);
		sched_set_step_hook(s, hook_look, &h);
		sched_spawn(s, "a", 0, store_three, &h.words[0], 0);
		sched_spawn(s, "b", 1, store_three, &h.words[1], 0);
		assert_int_equal(sched_run(s), SCHED_OK);
		assert_true(h.calls > 0);
		assert_int_equal(h.as_task, 0);
		assert_int_equal(h.stepped, 0);
		assert_int_equal(h.words[0], 3);
		assert_int_equal(h.words[1], 3);
		assert_null(sync_explorer);
	}
	sched_destroy(s);
}

static void test_fingerprint_names_the_schedule(void **state)
{
	struct sched *s = sched_create(NULL);
	char seen[64][16];
	uint64_t prints[64];
	int nr = 0;

	(void)state;
	assert_non_null(s);
	for (uint64_t seed = 1; seed <= 200; seed++) {
		struct sched_log l = {{0}, 0};
		int x = 0, y = 0, i;

		sched_reset(s, SCHED_RANDOM, seed, 0);
		sched_set_trace(s, log_step, &l);
		sched_spawn(s, "a", 0, store_once, &x, 0);
		sched_spawn(s, "b", 1, store_once, &y, 0);
		assert_int_equal(sched_run(s), SCHED_OK);
		for (i = 0; i < nr; i++)
			if (!strcmp(seen[i], l.tasks) || prints[i] == sched_fingerprint(s))
				break;
		if (i == nr) {
			assert_true(nr < 64);
			strcpy(seen[nr], l.tasks);
			prints[nr++] = sched_fingerprint(s);
		} else {
			assert_string_equal(seen[i], l.tasks);
			assert_true(prints[i] == sched_fingerprint(s));
		}
	}
	sched_set_trace(s, NULL, NULL);
	sched_destroy(s);
	/* Two tasks of two steps each: the 6 interleavings. */
	assert_int_equal(nr, 6);
}

/* PCT: tokens carry depth and k, runs replay exactly, and a search with
 * PCT finds the races the random walk finds. */
static void test_pct_tokens_and_replay(void **state)
{
	struct explore_token t = {.prog = "racy-counter",
				  .policy = "-",
				  .hash = DEMO_VERSION,
				  .algo = SCHED_PCT,
				  .depth = 3,
				  .k = 40,
				  .seed = 7},
			     u;
	struct explore_result a, b;
	char buf[EXPLORE_TOKEN_MAX], err[128];

	(void)state;
	assert_int_equal(explore_token_format(&t, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "cow2:racy-counter:-:1:-:pct3k40:7");
	assert_int_equal(explore_token_parse(buf, &u, err, sizeof(err)), 0);
	assert_int_equal(u.algo, SCHED_PCT);
	assert_int_equal(u.depth, 3);
	assert_true(u.k == 40);
	for (uint64_t seed = 1; seed < 30; seed++) {
		u.seed = seed;
		assert_int_equal(explore_replay(&demo_racy_counter, &u, 0, &a), 0);
		assert_int_equal(explore_replay(&demo_racy_counter, &u, 0, &b), 0);
		assert_int_equal(a.fingerprint, b.fingerprint);
		assert_int_equal(a.failed, b.failed);
	}
	static const char *const bad[] = {"cow2:a:-:1:-:pct:1",	    "cow2:a:-:1:-:pct0k5:1",
					  "cow2:a:-:1:-:pct9k5:1",  "cow2:a:-:1:-:pct3k0:1",
					  "cow2:a:-:1:-:pct3k5x:1", "cow2:a:-:1:-:pct3:1"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(explore_token_parse(bad[i], &u, err, sizeof(err)), COW_EINVAL);
}

static void test_pct_and_auto_find_races(void **state)
{
	struct explore_result r;
	struct explore_opts o = {.algo = SCHED_PCT, .depth = 2, .seed = 1, .runs = 1000};

	(void)state;
	assert_int_equal(explore_run_search(&demo_racy_counter, NULL, &o, &r), 0);
	assert_true(r.failed);
	assert_int_equal(explore_search(&demo_lock_inversion, NULL, SCHED_AUTO, 1, 1000, 0, &r), 0);
	assert_true(r.failed);
	assert_int_equal(r.verdict, SCHED_DEADLOCK);
	assert_int_equal(explore_search(&demo_locked_counter, NULL, SCHED_AUTO, 1, 3000, 0, &r), 0);
	assert_false(r.failed);
}

/* The random pick's remainder without a division is the remainder: for
 * every task count, at the edges of the 64-bit range and at random
 * points (else every seed's schedule would change). */
static void test_mod_small_is_the_remainder(void **state)
{
	uint64_t x = 0x243f6a8885a308d3ull;

	(void)state;
	for (unsigned int n = 1; n <= MOD_SMALL_MAX; n++) {
		uint64_t edges[] = {0,
				    1,
				    n - 1,
				    n,
				    n + 1,
				    UINT64_MAX,
				    UINT64_MAX - 1,
				    UINT64_MAX - n,
				    UINT64_MAX / n * n,
				    UINT64_MAX / n * n - 1};

		for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
			assert_int_equal(mod_small(edges[i], n), edges[i] % n);
		for (int i = 0; i < 20000; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			assert_int_equal(mod_small(x, n), x % n);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_racy_counter_found_and_replayed),
		cmocka_unit_test(test_locked_counter_never_fails),
		cmocka_unit_test(test_atomic_counter_never_fails),
		cmocka_unit_test(test_lock_inversion_is_a_deadlock),
		cmocka_unit_test(test_lock_inversion_also_passes_sometimes),
		cmocka_unit_test(test_spin_forever_is_a_livelock),
		cmocka_unit_test(test_same_seed_same_run),
		cmocka_unit_test(test_seeds_give_different_schedules),
		cmocka_unit_test(test_token_round_trip),
		cmocka_unit_test(test_bad_tokens_rejected),
		cmocka_unit_test(test_replay_refuses_other_program),
		cmocka_unit_test(test_panic_in_task_fails_the_run),
		cmocka_unit_test(test_step_checker_runs_where_schedules_branch),
		cmocka_unit_test(test_spawn_beyond_slots),
		cmocka_unit_test(test_pct_tokens_and_replay),
		cmocka_unit_test(test_pct_and_auto_find_races),
		cmocka_unit_test(test_mod_small_is_the_remainder),
		cmocka_unit_test(test_wake_must_touch_the_waited_word),
		cmocka_unit_test(test_fingerprint_names_the_schedule),
		cmocka_unit_test(test_hook_runs_as_no_task),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
