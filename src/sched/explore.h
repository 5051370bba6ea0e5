/*
 * The explorer front end: run a program under the deterministic scheduler
 * for many schedules, judge each run, name a run by a one-line replay
 * token, shrink a failing schedule and print it as a trace.
 *
 * A program (struct explore_prog) sets up its state and spawns its tasks,
 * may check invariants wherever the schedule branches, and judges the final
 * state.  The same program and token always give the same run: the
 * explorer resets the scheduler and the program builds fresh state for
 * every run.
 *
 * Token grammar (one line, shell-safe, no spaces):
 *
 *     cow2:<program>:<policy or ->:<hash>:<rules hash or ->:<algorithm>:<argument>
 *
 * <hash> and <rules hash> are the program's explore_prog.hash and
 * .rules_hash in lower-case hex (a rules hash of 0 is "-"): what the
 * program was when the token was made.  A replay refuses a token whose
 * values differ from the program's (explore_token_check): the same name
 * no longer names the same run.  Tokens of the first format, "cow1:",
 * carry no hash and are refused.  Algorithms and arguments:
 *
 *   random:<seed>            a uniformly random schedule
 *   pct<d>k<k>:<seed>        PCT of depth d, change points among k steps
 *   s:<deviations>           a schedule given by its deviations from the
 *                            default choice (sched.h): "-" for none, else
 *                            one "<steps since the last one><task>" each,
 *                            task a..z = 0..25, A..Z = 26..51
 *
 * e.g. "cow2:racy-counter:-:1:-:random:17" or
 * "cow2:x.cow:linux-6.5:8f2c51d0a3b7e914:2a5e0c1f9d4b6387:s:4b9a".
 * A seed token is known before its run starts; so is a dfs run's schedule
 * token.  The shrinker turns any failing run into the shortest schedule
 * token that still fails the same way.
 *
 * Algorithms: random; PCT; dfs, every schedule within a preemption bound,
 * with sleep sets over the conflict relation below so that most schedules
 * that differ only in the order of independent steps do not run (its
 * bound-aware sleep rule leaves repeats: --count-traces found every trace
 * of gup_fast_vs_fork, r18_dirty_cow and fork_vs_writer run twice, those
 * of some smaller scenarios once); auto, a mix of
 * PCT depth 3, PCT depth 2, random and dfs with bound 2, run in turn.
 *
 * The conflict relation is sched_conflict (sched.h).  Bytes of page
 * contents are named by chunk: a step on them names its 512 bytes
 * (frame_chunk, src/mm/page.h).
 */
#ifndef COW_SCHED_EXPLORE_H
#define COW_SCHED_EXPLORE_H

#include "sched.h"

#include <stdio.h>

#define EXPLORE_NAME_MAX 128
#define EXPLORE_MAX_DEVS 256 /* deviations a schedule token can hold */
#define EXPLORE_TOKEN_MAX (2 * EXPLORE_NAME_MAX + 104 + 8 * EXPLORE_MAX_DEVS)

struct explore_prog {
	const char *name;
	int nr_tasks; /* task slots the program needs (RCU daemon included) */
	/* Build the state of one run and spawn its tasks on s. */
	void *(*setup)(struct sched *s);
	/* Optional: checked in scheduler context at every state where the
	 * schedule branches, and at the end (sched_set_step_hook); 0 if all
	 * invariants hold, else a message in msg. */
	int (*check)(void *state, char *msg, size_t len);
	/* After a run that ended SCHED_OK: 0 if the outcome is right. */
	int (*verdict)(void *state, char *msg, size_t len);
	/* Free the state (also after failed runs, with tasks abandoned). */
	void (*teardown)(void *state);
	/* Optional: used instead of setup, with arg, for programs built at
	 * run time (a scenario file and its options). */
	void *(*setup_arg)(struct sched *s, const void *arg);
	const void *arg;
	/* Optional: describe the object a step operates on, in the state of
	 * the run (for traces): e.g. "pte@0x1000 mm1 = pfn 5 W" or "page
	 * pfn 5.refcount [ref 2 map 1 pin 0 excl]".  Returns whether a trace
	 * shows steps on it (false for bookkeeping such as allocator locks). */
	bool (*describe)(void *state, const void *obj, char *buf, size_t len);
	/* Optional, for traces too: the line of the program's source that
	 * task runs (0: none known), in scheduler context ... */
	int (*locate)(void *state, int task);
	/* ... that line's text, into buf (false: no such line) ... */
	bool (*source)(const struct explore_prog *p, int line, char *buf, size_t len);
	/* ... and from now on, fn(arg, text) for each decision the program's
	 * code takes, with its reason, in the context of the task that takes
	 * it ("do_wp_page pfn 5 [...]: mapcount rule, reuse"). */
	void (*decisions)(void *state, void (*fn)(void *arg, const char *text), void *arg);
	/* What the program is, as its maker names it (opaque here): a hash
	 * of its text (a scenario file's bytes; a built-in program's version
	 * number) and one of the rules it runs under (0: none).  Tokens carry
	 * both, and a token whose values differ does not replay on it. */
	uint64_t hash, rules_hash;
};

struct explore_token {
	char prog[EXPLORE_NAME_MAX];
	char policy[EXPLORE_NAME_MAX];
	uint64_t hash, rules_hash; /* the program's, when the token was made */
	enum sched_algo algo;	   /* SCHED_RANDOM, SCHED_PCT or SCHED_DIRECTED */
	unsigned int depth;	   /* PCT */
	uint64_t k;		   /* PCT: steps the change points come from */
	uint64_t seed;		   /* random and PCT */
	unsigned int nr_devs;	   /* SCHED_DIRECTED: the schedule */
	struct sched_dev devs[EXPLORE_MAX_DEVS];
	/* The run's step limit, 0: the scheduler's default.  A run cut at
	 * the limit ends in livelock, so a replay must cut it at the same
	 * step: the token carries it (":max-steps=N" at its end). */
	uint64_t max_steps;
};

struct explore_result {
	bool failed;		    /* a counterexample was found */
	enum sched_verdict verdict; /* of the reported run */
	uint64_t runs;		    /* runs made */
	uint64_t steps;		    /* steps of the reported run */
	uint64_t fingerprint;	    /* of the reported run */
	unsigned int preemptions;   /* of the reported run */
	struct explore_token token; /* names the reported run */
	/* The reported run as a schedule token, if its deviations fit. */
	bool has_schedule;
	struct explore_token schedule;
	bool passed;	    /* until_pass: a counted run passed */
	double estimate;    /* dpor: explore_stats.estimate at the end */
	char message[2048]; /* why it failed */
	/* Searches only. */
	uint64_t distinct; /* distinct schedules run (by fingerprint) */
	/* Runs made that do not count: dfs runs of other shards, and dfs runs
	 * that repeat one done (sleep sets) and are cut short of nodes. */
	uint64_t uncounted;
	bool dfs_done; /* dfs covered every schedule within its bound */
	/* ... and the bound never cut a choice off: dfs covered every
	 * schedule there is (up to the order of independent steps; with
	 * shards, of this shard's part). */
	bool exhaustive;
	unsigned int dfs_bound;
	unsigned int max_preemptions; /* the most any counted run made */
	double elapsed;		      /* seconds */
	/* dpor: branches no run could follow; with any, the search is not
	 * exhaustive.  Its runs cut short (every runnable task asleep)
	 * are in uncounted. */
	uint64_t divergences;
	/* With count_traces: the distinct traces among the counted runs, by
	 * their Foata normal form (a lower bound; equal to runs when no run
	 * repeated a trace). */
	uint64_t traces;
	uint64_t traces_digest; /* of their set: equal sets, equal digests */
	/* With count_traces and keep_forms: the set itself, its traces
	 * elements (malloc'd; the caller frees it), so that the sets of
	 * shards can be joined (a trace two shards both ran counts once);
	 * the digest is the sum of cow_mix64 of each.  NULL without memory. */
	uint64_t *forms;
};

/* What a search's verdict rests on; every verdict the tool prints says
 * which (docs/explorer.md, "What a verdict shows"). */
enum explore_cover {
	/* A failing run was found: a counterexample, which its token
	 * replays.  The search stopped there. */
	EXPLORE_FOUND,
	/* Nothing found in the runs made (seeded runs, or a dfs that did
	 * not finish): some schedules, not all. */
	EXPLORE_SAMPLED,
	/* Nothing found, and dfs ran every schedule with at most dfs_bound
	 * preemptions (dfs_done); the bound cut some choices off. */
	EXPLORE_BOUNDED,
	/* Nothing found, and dfs ran every schedule there is (exhaustive). */
	EXPLORE_EXHAUSTIVE,
};
enum explore_cover explore_result_cover(const struct explore_result *r);
/* "found", "sampled", "bounded" or "exhaustive". */
const char *explore_cover_name(enum explore_cover c);

struct explore_stats {
	uint64_t runs, distinct, uncounted;
	double elapsed;
	unsigned int bound; /* dfs: preemption bound (auto: of its dfs part) */
	bool dfs_done;
	unsigned int max_preemptions; /* the most any counted run made */
	/* dpor: the runs (counted or not) the whole search will make,
	 * estimated from the shape of the tree so far (explore.c); 0: no
	 * estimate (other algorithms). */
	double estimate;
};

/* The search's defaults, for every caller: PCT's depth, and dfs's
 * preemption bound (auto's dfs part always runs with it). */
#define EXPLORE_DEFAULT_DEPTH 3
#define EXPLORE_DEFAULT_PREEMPTIONS 2

struct explore_opts {
	enum sched_algo algo;	  /* SCHED_AUTO, SCHED_PCT, SCHED_RANDOM, SCHED_DFS or SCHED_DPOR */
	unsigned int depth;	  /* PCT depth (EXPLORE_DEFAULT_DEPTH) */
	unsigned int preemptions; /* dfs bound (EXPLORE_DEFAULT_PREEMPTIONS) */
	bool no_reduction;	  /* dfs without sleep sets */
	uint64_t seed;		  /* first seed of random and PCT runs */
	uint64_t runs;		  /* runs made, counted or not; 0: no limit but time */
	double time;		  /* seconds, 0: no limit */
	uint64_t max_steps;	  /* per run, 0: the scheduler's default */
	/* SCHED_AUTO: stop once dfs is exhaustive (explore_result), before
	 * the runs or the time are used up: nothing is left to find. */
	bool stop_exhaustive;
	/* Look for a run that passes instead: stop at the first counted run
	 * that does not fail (explore_result.passed); failing runs go on. */
	bool until_pass;
	/* Shard shard of nr_shards (0 means 1): the runs are split so that
	 * the shards run disjoint sets of schedules and together all. */
	unsigned int shard, nr_shards;
	/* Optional: called about once a second, and once at the end. */
	void (*progress)(void *arg, const struct explore_stats *st);
	/* Optional: called before each run with its token (persist it to
	 * replay a run that crashes the process). */
	void (*before_run)(void *arg, const struct explore_token *t);
	void *arg;
	/* Optional: set from a signal handler to stop the search. */
	volatile int *stop;
	/* Count the distinct traces of the counted runs (explore_result's
	 * traces; traces.c says how).  One job only. */
	bool count_traces;
	bool keep_forms; /* ... and hand their set over (explore_result.forms) */
};

/* The auto search (PCT, random and dfs in turn, with the defaults) from
 * seed, for at most runs runs and time seconds (0: no limit), stopping
 * once dfs has run every schedule there is. */
static inline struct explore_opts explore_auto_opts(uint64_t seed, uint64_t runs, double time)
{
	return (struct explore_opts){
		.algo = SCHED_AUTO,
		.depth = EXPLORE_DEFAULT_DEPTH,
		.preemptions = EXPLORE_DEFAULT_PREEMPTIONS,
		.seed = seed,
		.runs = runs,
		.time = time,
		.stop_exhaustive = true,
	};
}

/* The preemption bound of o's dfs part: --preemptions for dfs, the
 * default for auto. */
static inline unsigned int explore_dfs_bound(const struct explore_opts *o)
{
	return o->algo == SCHED_DFS ? o->preemptions : EXPLORE_DEFAULT_PREEMPTIONS;
}

/* Search as o says, stopping at the first failing run.  SCHED_PCT, like
 * SCHED_AUTO, starts with one random run whose length sets k.  Returns 0
 * (r says whether something was found) or a negative COW_E* code. */
int explore_run_search(const struct explore_prog *p, const char *policy,
		       const struct explore_opts *o, struct explore_result *r);
/* The same for seeds seed, seed+1, ... and at most runs runs, PCT depth
 * 3, dfs bound 2. */
int explore_search(const struct explore_prog *p, const char *policy, enum sched_algo algo,
		   uint64_t seed, uint64_t runs, uint64_t max_steps, struct explore_result *r);
/* The token of the run in progress on this thread (from a signal handler
 * that reports a crash): a seed token, or the schedule recorded so far,
 * which replays the run up to where it is.  COW_EINVAL if none.
 * Async-signal-safe: it only copies memory. */
int explore_current_token(struct explore_token *t);
/* Re-run exactly the run a token names. */
int explore_replay(const struct explore_prog *p, const struct explore_token *t, uint64_t max_steps,
		   struct explore_result *r);

/* Shrink the failing run t names: the fewest deviations, then the fewest
 * preemptions, that still fail with the same verdict and the same key
 * (explore_failure_key).  out is a schedule token; r the run it names.
 * At most budget replays (0: 2000). */
int explore_shrink(const struct explore_prog *p, const struct explore_token *t, uint64_t budget,
		   struct explore_token *out, struct explore_result *r);
/* What makes two failures the same: the message up to the first digit
 * after its verdict word, with addresses and numbers left out. */
void explore_failure_key(const char *message, char *key, size_t len);

/* Replay t and print its trace to f, in lines of at most 120 columns where
 * the words allow: a lane per task (its letter where it acts), one row
 * per visible step naming the program's source line (locate, source) and
 * operation, the step's object before and after, and the decisions the
 * code took on the way (decisions), the deviations marked, and the
 * failure as the last row.  A step is visible when it races
 * with a step of another task on an object a trace shows (describe):
 * they conflict and only the schedule orders them, not program order,
 * spawning or other conflicting steps in between (vector clocks);
 * deviations, device steps, steps with a decision and the last step
 * (of a failed run: when it shows an object) are always visible.
 * Consecutive visible steps of one task in one line of the program's
 * source on one page or PTE make one row.
 * Returns the number of rows (visible steps) or a negative COW_E* code;
 * r gets the run. */
int explore_trace(const struct explore_prog *p, const struct explore_token *t, FILE *f,
		  struct explore_result *r);
/* The same trace as one JSON object (its rows as "events"; the schema is
 * in docs/explorer.md), for other tools. */
int explore_trace_json(const struct explore_prog *p, const struct explore_token *t, FILE *f,
		       struct explore_result *r);

/* The token's text, "cow2:...", into buf; COW_EINVAL if it does not fit
 * or a name holds ':' or blanks.  Async-signal-safe (crash handlers call
 * it): no stdio, no allocation, no locale. */
int explore_token_format(const struct explore_token *t, char *buf, size_t len);
/* Parse a token; COW_EINVAL with a reason in err when it is malformed. */
int explore_token_parse(const char *text, struct explore_token *t, char *err, size_t errlen);
/* Whether t may replay on p: 0, or COW_EINVAL with what differs in err
 * (the program's name, its text's hash, its rules' hash).  Replays,
 * shrinks and traces refuse such a token. */
int explore_token_check(const struct explore_prog *p, const struct explore_token *t, char *err,
			size_t errlen);
const char *sched_algo_name(enum sched_algo algo);
const char *sched_verdict_name(enum sched_verdict v);

#endif
