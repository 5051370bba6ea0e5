/*
 * Tests of the explorer's search algorithms and reports (src/sched/
 * explore.c, dfs.c, shrink.c): schedule tokens, replay of recorded
 * schedules, depth-first search within a preemption bound with and
 * without sleep sets, sharding, shrinking and traces, and the acceptance
 * targets of the bundled race scenarios.
 */
#include "testutil.h"

#include "sched/demos.h"
#include "scenario/interp.h"

#include <ctype.h>
#include <stdio.h>

/* ---- schedule tokens --------------------------------------------------------- */

static void test_schedule_token_round_trip(void **state)
{
	static const char *const good[] = {
		"cow2:racy-counter:-:1:-:s:-",
		"cow2:racy-counter:-:1:-:s:4b",
		"cow2:x.cow:linux-6.5:8f2c51d0a3b7e914:2a5e0c1f9d4b6387:s:0a12b7Z",
	};
	static const char *const seeded[] = {
		"cow2:x.cow:linux-6.5:ffffffffffffffff:1:pct3k17:18446744073709551615",
		"cow2:x.cow:linux-2.6.29:8f2c51d0a3b7e914:-:random:0",
		"cow2:racy-counter:-:1:-:s:3a:max-steps=4096",
	};
	static const char *const bad[] = {
		"cow2:a:-:1:-:s:",
		"cow2:a:-:1:-:s:b",
		"cow2:a:-:1:-:s:4",
		"cow2:a:-:1:-:s:4b-",
		"cow2:a:-:1:-:s:4!",
		"cow2:a:-:1:-:s:--",
		"cow2:a:-:1:-:s:99999999999a",
	};
	struct explore_token t;
	char out[EXPLORE_TOKEN_MAX], err[160];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(explore_token_parse(good[i], &t, err, sizeof(err)), 0);
		assert_int_equal(t.algo, SCHED_DIRECTED);
		assert_int_equal(explore_token_format(&t, out, sizeof(out)), 0);
		assert_string_equal(out, good[i]);
	}
	/* Seed tokens and a step limit round-trip too; a buffer one byte
	 * short of a token is refused, not cut. */
	for (size_t i = 0; i < ARRAY_SIZE(seeded); i++) {
		assert_int_equal(explore_token_parse(seeded[i], &t, err, sizeof(err)), 0);
		assert_int_equal(explore_token_format(&t, out, sizeof(out)), 0);
		assert_string_equal(out, seeded[i]);
		assert_int_equal(explore_token_format(&t, out, strlen(seeded[i])), COW_EINVAL);
		assert_int_equal(explore_token_format(&t, out, strlen(seeded[i]) + 1), 0);
	}
	assert_int_equal(explore_token_parse(good[2], &t, err, sizeof(err)), 0);
	assert_true(t.hash == 0x8f2c51d0a3b7e914ull);
	assert_true(t.rules_hash == 0x2a5e0c1f9d4b6387ull);
	assert_int_equal(t.nr_devs, 3);
	assert_int_equal(t.devs[0].step, 0);
	assert_int_equal(t.devs[0].task, 0);
	assert_int_equal(t.devs[1].step, 12);
	assert_int_equal(t.devs[1].task, 1);
	assert_int_equal(t.devs[2].step, 19);
	assert_int_equal(t.devs[2].task, 51);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(explore_token_parse(bad[i], &t, err, sizeof(err)), COW_EINVAL);
}

/* A token binds to what it replays: the hashes it carries are the
 * program's (a scenario's text, its preset's rules), they survive the
 * text form, and a token whose hashes differ from the program's (a file
 * changed since, other rules, a corrupted hash) is refused with what
 * differs, by the check and by replay, shrink and trace alike. */
static void test_token_binds_to_its_program(void **state)
{
	static const char text[] = "process P\n  map buf 1 page\n  write buf 0x11\n"
				   "  check corrupt buf == 0x22\n",
			  edited[] = "process P\n  map buf 1 page\n  write buf 0x11\n"
				     "  check corrupt buf == 0x22\n# edited\n";
	static const char *const bad_hashes[] = {
		"cow2:x.cow:linux-6.5::1:s:-",
		"cow2:x.cow:linux-6.5:1::s:-",
		"cow2:x.cow:linux-6.5:-:1:s:-",
		"cow2:x.cow:linux-6.5:12G4:1:s:-",
		"cow2:x.cow:linux-6.5:ABC:1:s:-",
		"cow2:x.cow:linux-6.5:1:+1:s:-",
		"cow2:x.cow:linux-6.5:11111111111111111:1:s:-",
		"cow2:x.cow:linux-6.5:1:s:-",
	};
	struct scenario *s, *changed;
	struct scen_prog sp, sp2;
	struct scen_result res;
	struct explore_token *t = malloc(sizeof(*t)), *u = malloc(sizeof(*u));
	struct explore_result *r = malloc(sizeof(*r));
	char buf[EXPLORE_TOKEN_MAX], err[512];
	FILE *devnull = fopen("/dev/null", "w");

	(void)state;
	assert_non_null(t);
	assert_non_null(u);
	assert_non_null(r);
	assert_non_null(devnull);
	assert_int_equal(scen_parse("x.cow", text, sizeof(text) - 1, &s, err, sizeof(err)), 0);
	/* The same name, a comment more: another file. */
	assert_int_equal(
		scen_parse("x.cow", edited, sizeof(edited) - 1, &changed, err, sizeof(err)), 0);
	assert_true(s->hash != changed->hash);
	assert_int_equal(scen_prog_init(s, "linux-6.5", &sp, &res), 0);
	assert_true(sp.prog.hash == s->hash);
	assert_true(sp.prog.rules_hash == cow_policy_hash(cow_policy_find("linux-6.5")));
	assert_true(cow_policy_hash(cow_policy_find("linux-6.5")) !=
		    cow_policy_hash(cow_policy_find("linux-2.6.29")));

	/* A search's token (of a failing run) carries the program's hashes,
	 * in text too, and replays the failure. */
	assert_int_equal(explore_search(&sp.prog, sp.policy, SCHED_RANDOM, 1, 1, 0, r), 0);
	assert_true(r->failed);
	*t = r->token;
	assert_true(t->hash == sp.prog.hash && t->rules_hash == sp.prog.rules_hash);
	assert_int_equal(explore_token_format(t, buf, sizeof(buf)), 0);
	assert_int_equal(explore_token_parse(buf, u, err, sizeof(err)), 0);
	assert_true(u->hash == t->hash && u->rules_hash == t->rules_hash);
	assert_int_equal(explore_token_check(&sp.prog, u, err, sizeof(err)), 0);
	assert_int_equal(explore_replay(&sp.prog, u, 0, r), 0);
	assert_true(r->failed);

	/* The file changed: the check says so, and nothing replays it. */
	assert_int_equal(scen_prog_init(changed, "linux-6.5", &sp2, &res), 0);
	assert_int_equal(explore_token_check(&sp2.prog, u, err, sizeof(err)), COW_EINVAL);
	assert_non_null(strstr(err, "x.cow has changed since the token was made"));
	assert_null(strstr(err, "rules"));
	assert_int_equal(explore_replay(&sp2.prog, u, 0, r), COW_EINVAL);
	assert_int_equal(explore_shrink(&sp2.prog, u, 0, t, r), COW_EINVAL);
	assert_int_equal(explore_trace(&sp2.prog, u, devnull, r), COW_EINVAL);

	/* Other rules under the same name: a corrupted rules hash. */
	*t = *u;
	t->rules_hash ^= 1;
	assert_int_equal(explore_token_check(&sp.prog, t, err, sizeof(err)), COW_EINVAL);
	assert_non_null(strstr(err, "the rules of linux-6.5 differ"));
	assert_null(strstr(err, "has changed"));
	assert_int_equal(explore_replay(&sp.prog, t, 0, r), COW_EINVAL);
	/* A corrupted content hash, in the text. */
	*t = *u;
	t->hash ^= 0x10;
	assert_int_equal(explore_token_format(t, buf, sizeof(buf)), 0);
	assert_int_equal(explore_token_parse(buf, t, err, sizeof(err)), 0);
	assert_int_equal(explore_token_check(&sp.prog, t, err, sizeof(err)), COW_EINVAL);
	assert_non_null(strstr(err, "has changed"));
	/* Both at once: both said. */
	t->rules_hash ^= 1;
	assert_int_equal(explore_token_check(&sp.prog, t, err, sizeof(err)), COW_EINVAL);
	assert_non_null(strstr(err, "has changed"));
	assert_non_null(strstr(err, "the rules of linux-6.5 differ"));

	/* Hashes that are not 1 to 16 lower-case hex digits, or missing. */
	for (size_t i = 0; i < ARRAY_SIZE(bad_hashes); i++)
		assert_int_equal(explore_token_parse(bad_hashes[i], t, err, sizeof(err)),
				 COW_EINVAL);
	/* The first format carries no hash: refused, saying why. */
	assert_int_equal(explore_token_parse("cow1:x.cow:linux-6.5:s:-", t, err, sizeof(err)),
			 COW_EINVAL);
	assert_non_null(strstr(err, "carries no hash"));
	/* A demo's hash is its version; it has no rules ("-"). */
	assert_int_equal(
		explore_token_parse("cow2:racy-counter:-:1:-:random:3", t, err, sizeof(err)), 0);
	assert_true(t->hash == DEMO_VERSION && t->rules_hash == 0);
	assert_int_equal(explore_token_check(&demo_racy_counter, t, err, sizeof(err)), 0);
	t->hash = DEMO_VERSION + 1;
	assert_int_equal(explore_token_check(&demo_racy_counter, t, err, sizeof(err)), COW_EINVAL);
	assert_int_equal(explore_replay(&demo_racy_counter, t, 0, r), COW_EINVAL);

	fclose(devnull);
	scen_free(s);
	scen_free(changed);
	free(t);
	free(u);
	free(r);
}

/* ---- replay ------------------------------------------------------------------------ */

/* msg with every hexadecimal address ("0x...") replaced by "0x?": a
 * message may name an object by its address (a deadlock names its locks),
 * and where the allocator puts an object is no part of a run.  glibc's
 * malloc happens to hand a replay the same addresses; AddressSanitizer's
 * quarantine does not (make sanitize). */
static void mask_addresses(const char *msg, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; msg[i] && o + 4 < len; i++) {
		out[o++] = msg[i];
		if (msg[i] == '0' && msg[i + 1] == 'x') {
			out[o++] = 'x';
			out[o++] = '?';
			for (i++; isxdigit((unsigned char)msg[i + 1]); i++)
				;
		}
	}
	out[o] = '\0';
}

static void assert_same_run(const struct explore_result *a, const struct explore_result *b)
{
	char ma[sizeof(a->message)], mb[sizeof(b->message)];

	assert_int_equal(a->failed, b->failed);
	assert_int_equal(a->verdict, b->verdict);
	assert_int_equal(a->steps, b->steps);
	assert_int_equal(a->fingerprint, b->fingerprint);
	mask_addresses(a->message, ma, sizeof(ma));
	mask_addresses(b->message, mb, sizeof(mb));
	assert_string_equal(ma, mb);
}

/* t replays r bit-exactly, 100 times out of 100. */
static void assert_replays_100(const struct explore_prog *p, const struct explore_token *t,
			       const struct explore_result *r)
{
	for (int i = 0; i < 100; i++) {
		struct explore_result again;

		assert_int_equal(explore_replay(p, t, 0, &again), 0);
		assert_same_run(r, &again);
	}
}

/* Any run, named by its recorded deviations, replays bit-exactly. */
static void test_recorded_schedules_replay_their_runs(void **state)
{
	const struct explore_prog *progs[] = {&demo_locked_counter, &demo_racy_counter,
					      &demo_lock_inversion};

	(void)state;
	for (size_t p = 0; p < ARRAY_SIZE(progs); p++)
		for (uint64_t seed = 1; seed <= 100; seed++) {
			struct explore_token t = {
				.algo = SCHED_RANDOM, .seed = seed, .hash = progs[p]->hash};
			struct explore_result a, b;

			snprintf(t.prog, sizeof(t.prog), "%s", progs[p]->name);
			snprintf(t.policy, sizeof(t.policy), "-");
			assert_int_equal(explore_replay(progs[p], &t, 0, &a), 0);
			assert_true(a.has_schedule);
			assert_int_equal(explore_replay(progs[p], &a.schedule, 0, &b), 0);
			assert_same_run(&a, &b);
			assert_int_equal(b.preemptions, a.preemptions);
		}
}

/* ---- dfs ----------------------------------------------------------------------------- */

/* Two CPUs increment a counter without a lock, with a write to a word of
 * their own before and after each increment (steps independent of the
 * other CPU's).  Every run passes and records its final count, so that
 * searches can be compared by what they reach. */
struct shared {
	long count;
	long own[2];
};

static unsigned int outcomes; /* bit v: a run ended with the count at v */

static int record_outcome(void *state, char *msg, size_t len)
{
	struct shared *sh = state;

	(void)msg;
	(void)len;
	outcomes |= 1u << sh->count;
	return 0;
}

static void racy_twice(struct shared *sh, int me)
{
	for (int i = 0; i < 2; i++) {
		long v;

		WRITE_ONCE(sh->own[me], i);
		v = READ_ONCE(sh->count);
		WRITE_ONCE(sh->count, v + 1);
		WRITE_ONCE(sh->own[me], -i);
	}
}

static void racy_cpu0(void *arg)
{
	racy_twice(arg, 0);
}

static void racy_cpu1(void *arg)
{
	racy_twice(arg, 1);
}

/* Fresh shared words and two tasks on CPUs 0 and 1 working on them. */
static void *spawn_pair(struct sched *s, void (*fn0)(void *), void (*fn1)(void *))
{
	struct shared *sh = calloc(1, sizeof(*sh));

	if (sh) {
		sched_spawn(s, "cpu0", 0, fn0, sh, 0);
		sched_spawn(s, "cpu1", 1, fn1, sh, 0);
	}
	return sh;
}

static void *outcome_setup(struct sched *s)
{
	return spawn_pair(s, racy_cpu0, racy_cpu1);
}

static const struct explore_prog outcome_prog = {
	"outcomes", 2, outcome_setup, NULL, record_outcome, free,
};

/* A writes its own word, then s = 1; B reads s twice, with a step of its
 * own between.  B seeing 0 then 1 needs A to run between B's reads: one
 * preemption of B, whose stand-in with A first needs two.  Sleep sets
 * that ignore preemption costs (A asleep in B's subtree) lose it at
 * bound 1. */
static void writer_task(void *arg)
{
	struct shared *sh = arg;

	WRITE_ONCE(sh->own[0], 1);
	WRITE_ONCE(sh->count, 1);
}

static void reader_task(void *arg)
{
	struct shared *sh = arg;
	long first = READ_ONCE(sh->count);

	WRITE_ONCE(sh->own[1], 1);
	sh->own[1] = 2 * first + READ_ONCE(sh->count); /* 0..3 */
}

static void *order_setup(struct sched *s)
{
	return spawn_pair(s, writer_task, reader_task);
}

static int record_order(void *state, char *msg, size_t len)
{
	struct shared *sh = state;

	(void)msg;
	(void)len;
	outcomes |= 1u << sh->own[1];
	return 0;
}

static const struct explore_prog order_prog = {
	"order", 2, order_setup, NULL, record_order, free,
};

static struct explore_result dfs(const struct explore_prog *p, unsigned int bound, bool reduce,
				 unsigned int shard, unsigned int nr_shards)
{
	struct explore_opts o = {.algo = SCHED_DFS,
				 .preemptions = bound,
				 .no_reduction = !reduce,
				 .shard = shard,
				 .nr_shards = nr_shards};
	struct explore_result r;

	outcomes = 0;
	assert_int_equal(explore_run_search(p, NULL, &o, &r), 0);
	assert_true(r.dfs_done);
	return r;
}

/* Bound 0 runs the default schedule and the free choices only: one CPU
 * after the other, counter 4.  Bound 1 reaches the lost updates (2, 3);
 * sleep sets reach the same outcomes in fewer runs. */
static void test_dfs_bounds_and_sleep_sets(void **state)
{
	struct explore_result full, reduced;
	unsigned int seen_full;

	(void)state;
	dfs(&outcome_prog, 0, false, 0, 1);
	assert_int_equal(outcomes, 1u << 4);
	for (unsigned int bound = 1; bound <= 3; bound++) {
		full = dfs(&outcome_prog, bound, false, 0, 1);
		seen_full = outcomes;
		reduced = dfs(&outcome_prog, bound, true, 0, 1);
		assert_int_equal(outcomes, seen_full);
		assert_true(reduced.runs < full.runs);
	}
	assert_int_equal(seen_full, (1u << 2) | (1u << 3) | (1u << 4));
	/* Exhaustive without a bound worth the name: the same outcomes. */
	dfs(&outcome_prog, 20, true, 0, 1);
	assert_int_equal(outcomes, seen_full);
	/* Where pruning would cost a preemption, sleep sets keep the run. */
	for (unsigned int bound = 0; bound <= 2; bound++) {
		dfs(&order_prog, bound, false, 0, 1);
		seen_full = outcomes;
		dfs(&order_prog, bound, true, 0, 1);
		assert_int_equal(outcomes, seen_full);
	}
	assert_true(seen_full & (1u << 1)); /* 0 then 1, at bound 1 and up */
}

/* The shards of a dfs run disjoint parts of it that make the whole. */
static void test_dfs_shards_split_the_search(void **state)
{
	(void)state;
	for (int reduce = 0; reduce <= 1; reduce++) {
		struct explore_result whole = dfs(&demo_two_cpus_100, 2, reduce, 0, 1);
		uint64_t runs = 0;

		for (unsigned int i = 0; i < 3; i++)
			runs += dfs(&demo_two_cpus_100, 2, reduce, i, 3).runs;
		assert_int_equal(runs, whole.runs);
	}
}

/* dfs finds the lost update with one preemption, not with none. */
static void test_dfs_finds_the_race(void **state)
{
	struct explore_opts o = {.algo = SCHED_DFS, .preemptions = 0};
	struct explore_result r;

	(void)state;
	assert_int_equal(explore_run_search(&demo_racy_counter, NULL, &o, &r), 0);
	assert_false(r.failed);
	assert_true(r.dfs_done);
	o.preemptions = 1;
	assert_int_equal(explore_run_search(&demo_racy_counter, NULL, &o, &r), 0);
	assert_true(r.failed);
	assert_int_equal(r.token.algo, SCHED_DIRECTED);
	assert_true(r.preemptions <= 1);
	assert_replays_100(&demo_racy_counter, &r.token, &r);
}

/* until_pass looks for a run that passes: the racy counter has some (the
 * search stops at the first, before the runs are spent), a program that
 * spins forever has none (every run fails; the search runs them all). */
static void test_until_pass(void **state)
{
	struct explore_opts o = {.algo = SCHED_RANDOM, .runs = 50, .seed = 1, .until_pass = true};
	struct explore_result r;

	(void)state;
	assert_int_equal(explore_run_search(&demo_racy_counter, NULL, &o, &r), 0);
	assert_true(r.passed);
	assert_true(r.runs < 50);
	o.max_steps = 2000;
	assert_int_equal(explore_run_search(&demo_spin_forever, NULL, &o, &r), 0);
	assert_false(r.passed);
	assert_int_equal(r.runs, 50);
}

/* One CPU counting alone: a program with a single schedule. */
static void solo_task(void *arg)
{
	racy_twice(arg, 0);
}

static void *solo_setup(struct sched *s)
{
	struct shared *sh = calloc(1, sizeof(*sh));

	if (sh)
		sched_spawn(s, "cpu0", 0, solo_task, sh, 0);
	return sh;
}

static const struct explore_prog solo_prog = {
	"solo", 1, solo_setup, NULL, record_outcome, free,
};

/* dfs is exhaustive when its bound never kept a choice from being tried:
 * at once for a single schedule, at a bound high enough for two CPUs, not
 * at bound 0 for them.  An auto search asked to stop there does, long
 * before its runs are used up; without stop_exhaustive it goes on. */
static void test_dfs_exhaustive(void **state)
{
	struct explore_opts o = {.algo = SCHED_AUTO,
				 .depth = 3,
				 .preemptions = 2,
				 .seed = 1,
				 .runs = 500,
				 .stop_exhaustive = true};
	struct explore_result r;

	(void)state;
	r = dfs(&solo_prog, 0, true, 0, 1);
	assert_true(r.exhaustive);
	assert_int_equal(r.runs, 1);
	r = dfs(&outcome_prog, 0, true, 0, 1);
	assert_false(r.exhaustive);
	r = dfs(&outcome_prog, 2, true, 0, 1);
	assert_false(r.exhaustive);
	r = dfs(&outcome_prog, 20, true, 0, 1);
	assert_true(r.exhaustive);
	assert_int_equal(explore_run_search(&solo_prog, NULL, &o, &r), 0);
	assert_false(r.failed);
	assert_true(r.exhaustive);
	assert_true(r.runs <= 4); /* three seeded runs, then dfs's one */
	assert_int_equal(explore_run_search(&demo_locked_counter, NULL, &o, &r), 0);
	assert_false(r.exhaustive);
	assert_int_equal(r.runs + r.uncounted, 500);
	o.stop_exhaustive = false;
	assert_int_equal(explore_run_search(&solo_prog, NULL, &o, &r), 0);
	assert_true(r.exhaustive);
	assert_int_equal(r.runs + r.uncounted, 500);
}

/* The token of the run in progress names it: a dfs run that fails in its
 * verdict (the third run) reports, from inside the run, the schedule that
 * replays it. */
static struct explore_token in_progress;
static int verdicts;

static int fail_third_run(void *state, char *msg, size_t len)
{
	struct explore_token t;

	(void)state;
	if (explore_current_token(&t) == 0) /* not in a replay */
		in_progress = t;
	if (++verdicts < 3)
		return 0;
	snprintf(msg, len, "third run");
	return 1;
}

static const struct explore_prog third_prog = {
	"third", 2, outcome_setup, NULL, fail_third_run, free,
};

static void test_current_token_names_the_run(void **state)
{
	struct explore_opts o = {.algo = SCHED_DFS, .preemptions = 2};
	struct explore_result r, again;

	(void)state;
	assert_int_equal(explore_current_token(&in_progress), COW_EINVAL);
	memset(&in_progress, 0, sizeof(in_progress));
	verdicts = 0;
	assert_int_equal(explore_run_search(&third_prog, NULL, &o, &r), 0);
	assert_true(r.failed);
	assert_int_equal(in_progress.algo, SCHED_DIRECTED);
	assert_true(in_progress.nr_devs > 0);
	verdicts = -1000;
	assert_int_equal(explore_replay(&third_prog, &in_progress, 0, &again), 0);
	assert_int_equal(again.fingerprint, r.fingerprint);
	assert_int_equal(again.steps, r.steps);
	verdicts = 2; /* the replays fail in their verdict, as the run did */
	assert_replays_100(&third_prog, &r.token, &r);
}

/* A search stops at its time limit and honours a stop flag. */
static void test_search_limits(void **state)
{
	volatile int stop = 1;
	struct explore_opts o = {.algo = SCHED_RANDOM, .seed = 1, .stop = &stop};
	struct explore_result r;

	(void)state;
	assert_int_equal(explore_run_search(&demo_locked_counter, NULL, &o, &r), 0);
	assert_int_equal(r.runs, 0);
	stop = 0;
	o.time = 0.2;
	assert_int_equal(explore_run_search(&demo_locked_counter, NULL, &o, &r), 0);
	assert_false(r.failed);
	assert_true(r.runs > 100);
	assert_true(r.elapsed >= 0.2 && r.elapsed < 5);
}

/* ---- shrinking ------------------------------------------------------------------- */

/* Every failure the random search finds shrinks to one preemption (the
 * lost update needs just that) and replays. */
static void test_shrink_random_failures(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct explore_result found, shrunk;
		struct explore_token t;

		assert_int_equal(explore_search(&demo_racy_counter, NULL, SCHED_RANDOM, seed * 1000,
						1000, 0, &found),
				 0);
		assert_true(found.failed);
		assert_int_equal(explore_shrink(&demo_racy_counter, &found.token, 0, &t, &shrunk),
				 0);
		assert_int_equal(t.algo, SCHED_DIRECTED);
		assert_true(shrunk.failed);
		assert_int_equal(shrunk.preemptions, 1);
		assert_true(t.nr_devs <= found.schedule.nr_devs);
		assert_replays_100(&demo_racy_counter, &found.token, &found);
		assert_replays_100(&demo_racy_counter, &t, &shrunk);
	}
}

static void test_failure_keys(void **state)
{
	char a[128], b[128];

	(void)state;
	explore_failure_key("desync: x.cow:16:3: check desync ring == 0x22 failed: found 0x11", a,
			    sizeof(a));
	assert_string_equal(a, "desync: x.cow:16:3:");
	explore_failure_key("crash: invariant broken: pfn 5: mapcount 2 but 1 PTEs (S2)", a,
			    sizeof(a));
	explore_failure_key("crash: invariant broken: pfn 7: mapcount 3 but 2 PTEs (S2)", b,
			    sizeof(b));
	assert_string_equal(a, b);
}

/* ---- the bundled race scenarios ----------------------------------------------------- */

struct race {
	const char *path;
	int max_visible; /* visible steps of the shrunk trace, at most */
};

/* dma_thread races three direct I/Os with a fork: about 20 steps race. */
static const struct race races[] = {
	{"scenarios/gup/gup_fast_vs_fork.cow", 15},
	{"scenarios/gup/forkscrewreverse.cow", 15},
	{"scenarios/gup/iouring_fixed_fork.cow", 15},
	{"scenarios/gup/vmsplice_child_leak.cow", 15},
	{"scenarios/gup/vmsplice_parent_leak.cow", 15},
	{"scenarios/gup/forkscrew.cow", 15},
	{"scenarios/gup/dma_thread.cow", 30},
};

/* Under linux-2.6.29 the explorer finds each race within 2,000 runs; the
 * shrunk counterexample has at most d+1 = 4 preemptions, a token of at
 * most 120 characters, at most 15 visible steps (dma_thread: 30), and
 * replays bit-exactly 100 times out of 100. */
static void test_races_found_shrunk_replayed(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(races); i++) {
		struct explore_opts o = {
			.algo = SCHED_AUTO, .depth = 3, .preemptions = 2, .seed = 1, .runs = 2000};
		struct explore_result found, shrunk, again;
		struct explore_token t;
		struct scen_result sr;
		struct scen_prog sp;
		struct scenario *s;
		char msg[512], text[EXPLORE_TOKEN_MAX];
		FILE *devnull = fopen("/dev/null", "w");
		int visible;

		assert_int_equal(scen_load(races[i].path, &s, msg, sizeof(msg)), 0);
		assert_int_equal(scen_prog_init(s, "linux-2.6.29", &sp, &sr), 0);
		assert_int_equal(explore_run_search(&sp.prog, sp.policy, &o, &found), 0);
		if (!found.failed)
			fail_msg("%s: no failure in 2000 runs", races[i].path);
		assert_int_equal(explore_shrink(&sp.prog, &found.token, 0, &t, &shrunk), 0);
		assert_true(shrunk.failed);
		assert_true(shrunk.preemptions <= 4);
		assert_int_equal(explore_token_format(&t, text, sizeof(text)), 0);
		if (strlen(text) > 120)
			fail_msg("%s: token of %zu characters: %s", races[i].path, strlen(text),
				 text);
		visible = explore_trace(&sp.prog, &t, devnull, &again);
		fclose(devnull);
		assert_true(visible > 0);
		if (visible > races[i].max_visible)
			fail_msg("%s: %d visible steps", races[i].path, visible);
		assert_replays_100(&sp.prog, &t, &shrunk);
		scen_free(s);
	}
}

/* The trace of 2009's dma_thread race names each row's .cow line and
 * operation and the decisions the kernel code took with their reasons,
 * ends with the failing check's row, fits 120 columns, and its JSON has
 * the same rows with the same fields; tracing adds no step to the run
 * (the decisions read the state without a yield point). */
static void test_trace_explains(void **state)
{
	struct explore_opts o = {
		.algo = SCHED_AUTO, .depth = 3, .preemptions = 2, .seed = 1, .runs = 2000};
	struct explore_result found, shrunk, traced, plain;
	struct explore_token t;
	struct scen_result sr;
	struct scen_prog sp;
	struct scenario *s;
	char msg[512], *text = NULL, *json = NULL, *line, *last = NULL;
	size_t len = 0, jlen = 0;
	FILE *f;
	int rows, lines = 0;

	(void)state;
	assert_int_equal(scen_load("scenarios/gup/dma_thread.cow", &s, msg, sizeof(msg)), 0);
	assert_int_equal(scen_prog_init(s, "linux-2.6.29", &sp, &sr), 0);
	assert_int_equal(explore_run_search(&sp.prog, sp.policy, &o, &found), 0);
	assert_true(found.failed);
	assert_int_equal(explore_shrink(&sp.prog, &found.token, 0, &t, &shrunk), 0);
	f = open_memstream(&text, &len);
	rows = explore_trace(&sp.prog, &t, f, &traced);
	fclose(f);
	assert_true(rows > 0);
	assert_int_equal(explore_replay(&sp.prog, &t, 0, &plain), 0);
	assert_same_run(&traced, &plain);
	/* Rows name the line and the operation; the decisions that make
	 * the race: gup-fast trusting its PTE, fork sharing a page GUP
	 * holds, do_wp_page copying a page mapped twice. */
	assert_non_null(strstr(text, "dma_thread.cow:12  dio_read data[0..4K] -> buf[512..+4K]"));
	assert_non_null(strstr(text, "(no re-check in this era)"));
	assert_non_null(strstr(text, ": the era shares every page"));
	assert_non_null(strstr(text, "mapcount rule, copy"));
	assert_non_null(strstr(text, "lanes:  a main (cpu0)  b worker0 (cpu1)"));
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (strlen(line) > 120)
			fail_msg("a line of %zu columns: %s", strlen(line), line);
		if (line[0] == '!')
			last = line;
		lines++;
	}
	/* The failing check's row comes last, with its bytes. */
	assert_non_null(last);
	assert_non_null(strstr(last, "dma_thread.cow:21  failed: corrupt:"));
	assert_true(lines > rows);
	f = open_memstream(&json, &jlen);
	assert_int_equal(explore_trace_json(&sp.prog, &t, f, &traced), rows);
	fclose(f);
	assert_non_null(strstr(json, "\"source\":\"dma_thread.cow:12\",\"operation\":\"dio_read "
				     "data[0..4K] -> buf[512..+4K]\""));
	assert_non_null(strstr(json, "\"decisions\":[\"gup-fast 0x"));
	assert_non_null(strstr(json, "\"failed_source\":\"dma_thread.cow:21\""));
	free(text);
	free(json);
	scen_free(s);
}

/* dpor on the scenarios: the gup-fast race of 2009 is found under
 * linux-2.6.29, and its counterexample (named by the schedule the run
 * made) replays bit-exactly 100 times out of 100; under linux-6.5 dpor
 * finishes, without a run cut short or a divergence, and proves the row
 * (exhaustive).  The other rows dpor proves under linux-6.5 are in
 * docs/history.md. */
static void test_dpor_scenarios(void **state)
{
	struct explore_opts o = {.algo = SCHED_DPOR};
	struct explore_result r;
	struct scen_result sr;
	struct scen_prog sp;
	struct scenario *s;
	char msg[512];

	(void)state;
	assert_int_equal(
		scen_load("scenarios/matrix/r17_gup_fast_vs_fork.cow", &s, msg, sizeof(msg)), 0);
	assert_int_equal(scen_prog_init(s, "linux-2.6.29", &sp, &sr), 0);
	assert_int_equal(explore_run_search(&sp.prog, sp.policy, &o, &r), 0);
	assert_true(r.failed);
	assert_int_equal(r.token.algo, SCHED_DIRECTED);
	assert_replays_100(&sp.prog, &r.token, &r);
	assert_int_equal(scen_prog_init(s, "linux-6.5", &sp, &sr), 0);
	assert_int_equal(explore_run_search(&sp.prog, sp.policy, &o, &r), 0);
	assert_false(r.failed);
	assert_true(r.exhaustive);
	assert_int_equal(explore_result_cover(&r), EXPLORE_EXHAUSTIVE);
	assert_int_equal(r.uncounted, 0);
	assert_int_equal(r.divergences, 0);
	scen_free(s);
}

/* A direct I/O's steps conflict with the steps on the 512 bytes of the
 * frame each moves, and not with steps on the frame's other bytes.  A
 * thread stores into the second sector a direct read is filling: dpor
 * must run both orders of the store and the device's step (each of the
 * two checks fails in one), and prove the same race on a sector the read
 * does not touch.  Naming the file instead of the frame in the device's
 * step (a scratch edit of io.c) makes dpor prove the first check. */
static const char dma_race[] = "file data 4K fill=0x5a\n"
			       "process P\n"
			       "  map buf 1 page\n"
			       "  write buf 0x11\n"
			       "  thread reader\n"
			       "    dio_read data[0..1K] -> buf[0..1K]\n"
			       "    wait\n"
			       "  thread writer write buf[%s] 0x33\n"
			       "  join\n"
			       "  check corrupt %s\n";

static void dpor_on(const char *store, const char *check, struct explore_result *r)
{
	struct explore_opts o = {.algo = SCHED_DPOR};
	struct scen_result sr;
	struct scen_prog sp;
	struct scenario *s;
	char text[512], err[512];
	int n = snprintf(text, sizeof(text), dma_race, store, check);

	assert_int_equal(scen_parse("dma.cow", text, (size_t)n, &s, err, sizeof(err)), 0);
	assert_int_equal(scen_prog_init(s, "linux-6.5", &sp, &sr), 0);
	assert_int_equal(explore_run_search(&sp.prog, sp.policy, &o, r), 0);
	scen_free(s);
}

static void test_dpor_dma_orders(void **state)
{
	struct explore_result r;

	(void)state;
	dpor_on("512..1K", "buf[512..1K] == 0x5a", &r); /* the store must not come last */
	assert_true(r.failed);
	dpor_on("512..1K", "buf[512..1K] == 0x33", &r); /* nor the device's step */
	assert_true(r.failed);
	dpor_on("2K..2560", "buf[0..1K] == data[0..1K]", &r);
	assert_false(r.failed);
	assert_true(r.exhaustive);
	assert_int_equal(r.divergences, 0);
}

/* --count-traces: on a scenario, dpor's runs are each a trace of its own,
 * and sleep-set dfs without a bound (which repeats some) runs the same set
 * of traces; on a demo, enumeration of every schedule collapses to the
 * traces dpor runs. */
static void count_traces(const struct explore_prog *p, const char *policy, enum sched_algo algo,
			 bool no_reduction, struct explore_result *r)
{
	struct explore_opts o = {.algo = algo,
				 .preemptions = 64,
				 .no_reduction = no_reduction,
				 .count_traces = true};

	assert_int_equal(explore_run_search(p, policy, &o, r), 0);
	assert_false(r->failed);
	assert_true(r->exhaustive);
}

static void test_count_traces(void **state)
{
	struct explore_result d, f;
	struct scen_result sr;
	struct scen_prog sp;
	struct scenario *s;
	char msg[512];

	(void)state;
	assert_int_equal(scen_load("scenarios/matrix/r18_dirty_cow.cow", &s, msg, sizeof(msg)), 0);
	assert_int_equal(scen_prog_init(s, "linux-6.5", &sp, &sr), 0);
	count_traces(&sp.prog, sp.policy, SCHED_DPOR, false, &d);
	count_traces(&sp.prog, sp.policy, SCHED_DFS, false, &f);
	assert_true(d.traces > 100);
	assert_int_equal(d.traces, d.runs);
	assert_int_equal(f.traces, d.traces);
	assert_true(f.traces_digest == d.traces_digest);
	scen_free(s);

	count_traces(&demo_locked_counter, NULL, SCHED_DPOR, false, &d);
	count_traces(&demo_locked_counter, NULL, SCHED_DFS, true, &f);
	assert_int_equal(d.traces, d.runs);
	assert_true(f.runs > 10 * f.traces); /* schedules of one trace count once */
	assert_int_equal(f.traces, d.traces);
	assert_true(f.traces_digest == d.traces_digest);
}

/* Searches that replay a prefix of the last run check only the states
 * after it (sched_check_from): the states before were checked in that
 * run.  On a program of blind writes to one word (every step conflicts
 * with every other task's, so every schedule is a trace of its own), dpor
 * and dfs must still check every state random runs do, which check every
 * state of every run.  The state is the history of the writes, so each
 * is reached by one order of the steps before it. */
static uint64_t checked[40]; /* bit: a state the checker saw */

static void blind_writes(struct shared *sh, int me)
{
	for (int i = 0; i < 3; i++) {
		WRITE_ONCE(sh->count, me * 10 + i);
		sh->own[0] = sh->own[0] * 3 + me + 1; /* the history: no step of its own */
	}
}

static void blind_cpu0(void *arg)
{
	blind_writes(arg, 0);
}

static void blind_cpu1(void *arg)
{
	blind_writes(arg, 1);
}

static void *blind_setup(struct sched *s)
{
	return spawn_pair(s, blind_cpu0, blind_cpu1);
}

static int record_state(void *state, char *msg, size_t len)
{
	struct shared *sh = state;
	long key = sh->own[0]; /* < 3^7 */

	(void)msg;
	(void)len;
	checked[key / 64] |= 1ull << (key % 64);
	return 0;
}

static int pass(void *state, char *msg, size_t len)
{
	(void)state;
	(void)msg;
	(void)len;
	return 0;
}

static const struct explore_prog blind_prog = {
	"blind-writes", 2, blind_setup, record_state, pass, free,
};

static void test_checks_skip_only_replayed_states(void **state)
{
	const struct {
		enum sched_algo algo;
		bool no_reduction;
	} searches[] = {{SCHED_DPOR, false}, {SCHED_DFS, false}, {SCHED_DFS, true}};
	struct explore_opts o = {.algo = SCHED_RANDOM, .runs = 3000, .seed = 1};
	struct explore_result r;
	uint64_t all[40];
	int n = 0;

	(void)state;
	memset(checked, 0, sizeof(checked));
	assert_int_equal(explore_run_search(&blind_prog, NULL, &o, &r), 0);
	memcpy(all, checked, sizeof(all));
	for (int w = 0; w < 40; w++)
		n += __builtin_popcountll(all[w]);
	/* Where both CPUs can still write (a < 3 writes of one and b < 3 of
	 * the other, in (a + b choose a) orders): 19; and the 20 final ones. */
	assert_int_equal(n, 39);
	for (size_t i = 0; i < sizeof(searches) / sizeof(searches[0]); i++) {
		o = (struct explore_opts){.algo = searches[i].algo,
					  .preemptions = 64,
					  .no_reduction = searches[i].no_reduction};
		memset(checked, 0, sizeof(checked));
		assert_int_equal(explore_run_search(&blind_prog, NULL, &o, &r), 0);
		assert_true(r.exhaustive);
		assert_true(r.runs >= 20); /* the 6-choose-3 orders of the writes */
		assert_memory_equal(checked, all, sizeof(all));
	}
}

/* A preset's rules hash follows its rules, not its name: two presets
 * hash alike exactly when `cowlab policies` prints the same rules for
 * them (a rule left out of cow_policy_hash fails this as soon as two
 * presets differ only in it). */
static void test_policy_hash_follows_rules(void **state)
{
	char a[COW_POLICY_RULES_MAX], b[COW_POLICY_RULES_MAX];

	(void)state;
	for (int i = 0; i < cow_policy_count(); i++)
		for (int j = i + 1; j < cow_policy_count(); j++) {
			const struct cow_policy *p = cow_policy_at(i), *q = cow_policy_at(j);
			bool same_rules = strcmp(cow_policy_rules(p, a, sizeof(a)),
						 cow_policy_rules(q, b, sizeof(b))) == 0;

			/* Whole listings, not cut at the buffer's end. */
			assert_true(strlen(a) + 1 < sizeof(a) && strlen(b) + 1 < sizeof(b));
			assert_non_null(strstr(a, "\nMADV_COLLAPSE:"));

			if (same_rules != (cow_policy_hash(p) == cow_policy_hash(q)))
				fail_msg("%s and %s: rules %s, hashes %s", cow_policy_name(p),
					 cow_policy_name(q), same_rules ? "equal" : "differ",
					 same_rules ? "differ" : "equal");
		}
}

/* What a search's verdict rests on: a failure is found; a pass is
 * exhaustive when dfs ran every schedule, bounded when it ran every one
 * within its bound, else sampled. */
static void test_result_cover(void **state)
{
	struct explore_opts o = {.algo = SCHED_DFS, .preemptions = 2, .seed = 1};
	struct explore_result r;

	(void)state;
	assert_int_equal(explore_run_search(&demo_racy_counter, NULL, &o, &r), 0);
	assert_int_equal(explore_result_cover(&r), EXPLORE_FOUND);
	assert_int_equal(explore_run_search(&outcome_prog, NULL, &o, &r), 0);
	assert_true(r.dfs_done && !r.exhaustive);
	assert_int_equal(explore_result_cover(&r), EXPLORE_BOUNDED);
	o.preemptions = 20;
	assert_int_equal(explore_run_search(&outcome_prog, NULL, &o, &r), 0);
	assert_true(r.exhaustive);
	assert_int_equal(explore_result_cover(&r), EXPLORE_EXHAUSTIVE);
	o.preemptions = 2;
	o.runs = 3;
	assert_int_equal(explore_run_search(&demo_locked_counter, NULL, &o, &r), 0);
	assert_int_equal(explore_result_cover(&r), EXPLORE_SAMPLED);
	assert_int_equal(explore_search(&demo_locked_counter, NULL, SCHED_RANDOM, 1, 100, 0, &r),
			 0);
	assert_int_equal(explore_result_cover(&r), EXPLORE_SAMPLED);
	assert_string_equal(explore_cover_name(EXPLORE_FOUND), "found");
	assert_string_equal(explore_cover_name(EXPLORE_SAMPLED), "sampled");
	assert_string_equal(explore_cover_name(EXPLORE_BOUNDED), "bounded");
	assert_string_equal(explore_cover_name(EXPLORE_EXHAUSTIVE), "exhaustive");
}

/* dfs with bound 2 over the scenario at path under policy. */
static struct explore_result dfs_scenario(const char *path, const char *policy)
{
	struct explore_opts o = {.algo = SCHED_DFS, .preemptions = 2};
	struct explore_result r;
	struct scen_result sr;
	struct scen_prog sp;
	struct scenario *s;
	char msg[512];

	if (scen_load(path, &s, msg, sizeof(msg)) != 0)
		fail_msg("%s", msg);
	assert_int_equal(scen_prog_init(s, policy, &sp, &sr), 0);
	assert_int_equal(explore_run_search(&sp.prog, sp.policy, &o, &r), 0);
	scen_free(s);
	return r;
}

/* Under linux-6.5, dfs with bound 2 covers gup-fast racing fork and finds
 * nothing. */
static void test_gup_fast_vs_fork_dfs_clean_on_65(void **state)
{
	struct explore_result r = dfs_scenario("scenarios/gup/gup_fast_vs_fork.cow", "linux-6.5");

	(void)state;
	assert_false(r.failed);
	assert_true(r.dfs_done);
	assert_true(r.runs > 10);
}

/* Matrix row 24: gup-fast pins a page while reclaim swaps it out, then the
 * process forks and writes.  Under the 5.19+ rules reclaim clears the PTE
 * and flushes before it tests the pin, so dfs with bound 2 finds nothing;
 * 5.18 tests the pin before the unmap with nothing to stop gup-fast, and
 * the search finds the pinned page unmapped (desync at the write). */
static void test_gup_fast_vs_reclaim(void **state)
{
	static const struct {
		const char *policy;
		bool fails;
	} eras[] = {{"linux-5.18", true}, {"linux-5.19", false}, {"linux-6.5", false}};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(eras); i++) {
		struct explore_result r = dfs_scenario(
			"scenarios/matrix/r24_gup_fast_vs_reclaim.cow", eras[i].policy);

		if (r.failed != eras[i].fails)
			fail_msg("%s: %s after %llu runs: %s", eras[i].policy,
				 r.failed ? "failed" : "passed", (unsigned long long)r.runs,
				 r.message);
		if (r.failed)
			assert_non_null(strstr(r.message, "desync"));
		else
			assert_true(r.dfs_done);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule_token_round_trip),
		cmocka_unit_test(test_token_binds_to_its_program),
		cmocka_unit_test(test_recorded_schedules_replay_their_runs),
		cmocka_unit_test(test_dfs_bounds_and_sleep_sets),
		cmocka_unit_test(test_dfs_shards_split_the_search),
		cmocka_unit_test(test_until_pass),
		cmocka_unit_test(test_dfs_finds_the_race),
		cmocka_unit_test(test_dfs_exhaustive),
		cmocka_unit_test(test_policy_hash_follows_rules),
		cmocka_unit_test(test_result_cover),
		cmocka_unit_test(test_current_token_names_the_run),
		cmocka_unit_test(test_search_limits),
		cmocka_unit_test(test_shrink_random_failures),
		cmocka_unit_test(test_failure_keys),
		cmocka_unit_test(test_races_found_shrunk_replayed),
		cmocka_unit_test(test_trace_explains),
		cmocka_unit_test(test_gup_fast_vs_fork_dfs_clean_on_65),
		cmocka_unit_test(test_gup_fast_vs_reclaim),
		cmocka_unit_test(test_dpor_scenarios),
		cmocka_unit_test(test_dpor_dma_orders),
		cmocka_unit_test(test_count_traces),
		cmocka_unit_test(test_checks_skip_only_replayed_states),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
