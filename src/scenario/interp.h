/*
 * The scenario interpreter: runs a parsed scenario against the library in
 * one of three modes and judges it by its checks and the system's
 * invariants.
 *
 *   seq      one OS thread; the threads of a group run one after another,
 *            in file order (a readable baseline);
 *   stress   each thread of a group on its own OS thread (real timing),
 *            the whole scenario repeated `iterations` times;
 *   explore  the whole scenario under the deterministic scheduler, one run
 *            per seed; the invariants are checked after every step and a
 *            failing run is named by a replay token.
 *
 * Every run builds a fresh system, and at its end checks the invariants
 * strictly, lets every process exit and requires every frame to be free.
 */
#ifndef COW_SCENARIO_INTERP_H
#define COW_SCENARIO_INTERP_H

#include "sched/explore.h"
#include "scenario/scenario.h"

enum scen_mode { SCEN_SEQ, SCEN_STRESS, SCEN_EXPLORE };

struct scen_opts {
	enum scen_mode mode;
	const char *policy;	  /* overrides the file's policy line; NULL: keep */
	unsigned long iterations; /* stress: repetitions (default 1) */
	enum sched_algo algo;	  /* explore: SCHED_AUTO, SCHED_PCT or SCHED_RANDOM */
	unsigned int depth;	  /* explore, SCHED_PCT: the depth (default 3) */
	uint64_t runs;		  /* explore: runs (default 1000) */
	uint64_t seed;		  /* explore: first seed */
	uint64_t max_steps;	  /* explore: per run (0: the scheduler's default) */
};

/* The outcome is one of three: failed (a check, an invariant or an
 * operation failed: verdict and message say which), skipped (every run
 * stopped at a `require` that did not hold: verdict "skip", message the
 * first one's reason; never a pass), or neither: a pass.  A pass may
 * still count skipped_runs (some runs skipped, the others held; message
 * then names the first skip). */
struct scen_result {
	bool failed;
	bool skipped;	       /* every run skipped (a require did not hold) */
	uint64_t skipped_runs; /* the runs (iterations, schedules) that skipped */
	uint64_t judged_runs;  /* ... of the runs that reached their end (explore:
				* uncounted ones too, see explore.h) */
	/* corrupt, leak, desync, overwrite (a check), crash (an invariant),
	 * error (an operation failed unexpectedly), deadlock, livelock; skip */
	char verdict[16];
	char message[2048];
	int checks;	/* checks that held in the last run */
	uint64_t runs;	/* runs (explore) or iterations (stress) done */
	bool has_token; /* explore: token names the reported run */
	struct explore_token token;
	/* explore: what the verdict rests on, and its dfs's bound */
	enum explore_cover cover;
	unsigned int bound;
	uint64_t steps;
	char policy[COW_POLICY_NAME_MAX]; /* the policy that was used */
	bool buffered;			  /* a data file's filesystem buffers O_DIRECT (tmpfs) */
};

/* How explore runs check the invariants between steps (COWLAB_CHECKS). */
enum scen_checks {
	SCEN_CHECK_TOUCHED, /* what the steps since the last check touched (default) */
	SCEN_CHECK_FULL,    /* everything, at every branch */
	SCEN_CHECK_BOTH,    /* both, a disagreement failing the run (tests) */
};

/* A scenario as an explore program (explore.h), for the explorer's own
 * entry points: search, shrink, trace.  The program's name is the
 * scenario's path; policy overrides the file's policy line (NULL: keep). */
struct scen_prog {
	struct explore_prog prog;
	enum scen_checks checks;
	const char *policy; /* the policy used (points into policy_name) */
	/* The interpreter's: */
	char policy_name[COW_POLICY_NAME_MAX];
	const struct scenario *s;
	int last_checks; /* checks that held in the last run that ended */
	bool buffered;	 /* a data file's filesystem buffers O_DIRECT */
	/* Runs judged (their verdict reached), and those of them that
	 * skipped (a require did not hold: not a failure), with the first
	 * one's reason.  Counted in this process only: a search split over
	 * worker processes counts each worker's own. */
	uint64_t judged_runs, skipped_runs;
	char skip_message[1024];
};
/* COW_EINVAL with the reason in res->message for an unknown policy or a
 * scenario too big for the explorer. */
int scen_prog_init(const struct scenario *s, const char *policy, struct scen_prog *sp,
		   struct scen_result *res);
/* An explore result as a scenario result (the verdict word split off). */
void scen_result_from_explore(const struct explore_result *x, struct scen_result *res);
/* After a search of sp (and scen_result_from_explore): the runs that
 * skipped into res (skipped_runs), and res->skipped with the reason when
 * no run failed and every run judged skipped. */
void scen_result_add_skips(const struct scen_prog *sp, struct scen_result *res);

/* The host memory one run of s may take, in bytes, on either back end:
 * the model's system (its frame pool: `system frames=` or the default
 * that gives every process a private copy of every mapping) or the host's
 * processes, each of which may write every page it maps.  A caller
 * refuses a scenario past its memory limit before anything is mapped. */
unsigned long long scen_memory_bytes(const struct scenario *s);

/* Run s as the options say.  Returns 0 (r says whether a check failed) or
 * COW_EINVAL (bad options, e.g. an unknown policy: r->message says why). */
int scen_run(const struct scenario *s, const struct scen_opts *o, struct scen_result *r);
/* Re-run exactly the explore run a token names (its program is s->path). */
int scen_replay(const struct scenario *s, const struct explore_token *t, struct scen_result *r);

const char *scen_mode_name(enum scen_mode m);

#endif
