/*
 * The explorer front end: run a program under the deterministic scheduler
 * for one seed or a range of seeds, judge each run, and name a run by a
 * one-line replay token.
 *
 * A program (struct explore_prog) sets up its state and spawns its tasks,
 * may check invariants wherever the schedule branches, and judges the final
 * state.  The
 * same program and token always give the same run: the explorer resets
 * the scheduler and the program builds fresh state for every run.
 *
 * Token grammar (one line, shell-safe, no spaces):
 *
 *     cow1:<program>:<policy or ->:<algorithm>:<seed>
 *
 * where <algorithm> is "random" or "pct<depth>k<k>", e.g.
 * "cow1:racy-counter:-:random:17" or "cow1:x.cow:linux-6.5:pct3k400:9".
 *
 * SCHED_AUTO searches with a mix: the first run is random (its length
 * sets k for PCT), then PCT with depth 2, PCT with depth 3 and random in
 * turn, each run named by its own token.
 */
#ifndef COW_SCHED_EXPLORE_H
#define COW_SCHED_EXPLORE_H

#include "sched.h"

#define EXPLORE_NAME_MAX 96
#define EXPLORE_TOKEN_MAX 256

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
};

struct explore_token {
	char prog[EXPLORE_NAME_MAX];
	char policy[EXPLORE_NAME_MAX];
	enum sched_algo algo; /* SCHED_RANDOM or SCHED_PCT */
	unsigned int depth;   /* PCT */
	uint64_t k;	      /* PCT: steps the change points come from */
	uint64_t seed;
};

struct explore_result {
	bool failed;		    /* a counterexample was found */
	enum sched_verdict verdict; /* of the reported run */
	uint64_t runs;		    /* runs made */
	uint64_t steps;		    /* steps of the reported run */
	uint64_t fingerprint;	    /* of the reported run */
	struct explore_token token; /* names the reported run */
	char message[2048];	    /* why it failed */
};

/* Run seeds seed, seed+1, ... for at most runs runs, stopping at the first
 * failing run.  max_steps bounds each run (0: the default).  Returns 0 (r
 * says whether something was found) or a negative COW_E* code. */
int explore_search(const struct explore_prog *p, const char *policy, enum sched_algo algo,
		   uint64_t seed, uint64_t runs, uint64_t max_steps, struct explore_result *r);
/* The same with the PCT depth for SCHED_PCT (explore_search uses 3).
 * SCHED_PCT, like SCHED_AUTO, starts with one random run that sets k. */
int explore_search_depth(const struct explore_prog *p, const char *policy, enum sched_algo algo,
			 unsigned int depth, uint64_t seed, uint64_t runs, uint64_t max_steps,
			 struct explore_result *r);
/* Re-run exactly the run a token names. */
int explore_replay(const struct explore_prog *p, const struct explore_token *t, uint64_t max_steps,
		   struct explore_result *r);

int explore_token_format(const struct explore_token *t, char *buf, size_t len);
/* Parse a token; COW_EINVAL with a reason in err when it is malformed. */
int explore_token_parse(const char *text, struct explore_token *t, char *err, size_t errlen);
const char *sched_algo_name(enum sched_algo algo);
const char *sched_verdict_name(enum sched_verdict v);

#endif
