/*
 * cowlab compare: one scenario under two rule sets, run by run.  First the
 * schedule without a deviation (each thread runs until it blocks or ends,
 * as explore's first run), then for each seed from --seed on the seeded
 * schedule explore's auto search would run (PCT of depth 3, PCT of depth
 * 2, a random walk, in turn, PCT's change points within the length of the
 * first run), each under A and under B, judged the same way (checks,
 * invariants, the end-of-run checks); the first schedule whose two
 * verdicts differ is reported with both runs' traces and replay tokens.
 * A seed makes the same choices at every step: the two runs follow one
 * schedule for as long as the two rule sets take the same steps, and where
 * one takes a step the other does not, the schedules part.  Agreement on N
 * schedules is a sample, not a proof, and the output says so.
 *
 * Exit status: 0 no schedule tried tells them apart, 1 one does, 2 bad
 * input or usage.
 */
#include "cli.h"
#include "cowlab.h"
#include "scenario/interp.h"
#include "scenario/scenario.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

// clang-format off
static const char usage_compare[] =
	"usage: cowlab compare FILE --policy A,B [options]\n"
	"\n"
	"Runs the scenario's schedules one by one under the two policies\n"
	"(presets or rule sets such as linux-6.5+fork=share): the one without a\n"
	"deviation, then seeded ones as explore's search mixes them (PCT, random\n"
	"walks).  It stops at the first schedule whose verdicts differ and prints\n"
	"both verdicts, both runs' traces and their replay tokens.\n"
	"\n"
	"  --policy A,B      the two policies (required)\n"
	"  --runs N          schedules to try (default 2000)\n"
	"  --seed S          the first seed (default 1)\n"
	"  --max-steps N     step limit of a run (default 1000000)\n"
	MAX_MEMORY_HELP
	"\n"
	"Exit status: 0 no schedule told them apart (a sample, not a proof), 1\n"
	"one did, 2 bad input or usage.\n";
// clang-format on

struct compare_args {
	const char *policies;
	uint64_t runs, seed, max_steps;
};

static const struct cli_opt compare_opts[] = {
	OPT_AT("--policy", OPT_TEXT, struct compare_args, policies),
	OPT_NUM_AT("--runs", OPT_U64, struct compare_args, runs, 1, UINT64_MAX),
	OPT_NUM_AT("--seed", OPT_U64, struct compare_args, seed, 0, UINT64_MAX),
	OPT_NUM_AT("--max-steps", OPT_U64, struct compare_args, max_steps, 0, UINT64_MAX),
	OPT_MAX_MEMORY,
	OPT_END,
};

/* One side: the scenario under one policy. */
struct side {
	struct explore_target *target;
	const struct explore_prog *p;
	const char *policy;
	struct explore_token t;
	struct explore_result r;
	struct scen_result v;
};

static int side_open(struct side *x, const struct scenario *s, const char *policy)
{
	if (!policy_known("compare", policy))
		return EXIT_USAGE;
	return explore_target_scenario(s, policy, "compare", &x->target, &x->p, &x->policy);
}

/* Run k of the comparison under x's policy, judged: run 0 the schedule
 * without a deviation, run k > 0 seed + k - 1 of the PCT-3, PCT-2,
 * random mix (pct_k: PCT's k). */
static int side_run(struct side *x, uint64_t k, uint64_t seed, uint64_t pct_k, uint64_t max_steps)
{
	static const unsigned int mix[] = {3, 2, 0};
	int err;

	memset(&x->t, 0, sizeof(x->t));
	snprintf(x->t.prog, sizeof(x->t.prog), "%s", x->p->name);
	snprintf(x->t.policy, sizeof(x->t.policy), "%s", x->policy);
	x->t.hash = x->p->hash;
	x->t.rules_hash = x->p->rules_hash;
	x->t.max_steps = max_steps;
	if (k == 0) {
		x->t.algo = SCHED_DIRECTED; /* no deviation */
	} else {
		x->t.seed = seed + k - 1;
		x->t.depth = mix[(k - 1) % 3];
		x->t.algo = x->t.depth ? SCHED_PCT : SCHED_RANDOM;
		x->t.k = pct_k;
	}
	err = explore_replay(x->p, &x->t, max_steps, &x->r);
	if (err < 0)
		return err;
	scen_result_from_explore(&x->r, &x->v);
	if (!x->v.failed && !x->v.skipped)
		snprintf(x->v.verdict, sizeof(x->v.verdict), "pass");
	return 0;
}

static void side_report(struct side *x)
{
	char token[EXPLORE_TOKEN_MAX];

	printf("\n%s: %s", x->policy, x->v.verdict);
	if (x->v.message[0])
		printf(": %s", x->v.message);
	printf("\n");
	if (explore_trace(x->p, &x->t, stdout, &x->r) < 0)
		printf("  (no trace)\n");
	if (explore_token_format(&x->t, token, sizeof(token)) == 0)
		printf("replay it with: cowlab replay --trace %s\n", token);
}

int cmd_compare(int argc, char **argv)
{
	struct compare_args a = {NULL, 2000, 1, 0};
	const char **files = calloc((size_t)argc, sizeof(*files));
	struct side *x = calloc(2, sizeof(*x));
	struct scenario *s = NULL;
	char *list = NULL, *comma;
	int nr = 0, code = files && x ? cli_parse("compare", compare_opts, &a, usage_compare, argc,
						  argv, files, &nr)
				      : EXIT_USAGE;

	if (code) {
		code = code < 0 ? 0 : code;
		goto out;
	}
	code = EXIT_USAGE;
	if (nr != 1 || !a.policies) {
		fprintf(stderr, "cowlab compare: one scenario file and --policy A,B\n%s",
			usage_compare);
		goto out;
	}
	list = strdup(a.policies);
	comma = list ? strchr(list, ',') : NULL;
	if (!comma || strchr(comma + 1, ',') || comma == list || !comma[1]) {
		fprintf(stderr, "cowlab compare: --policy takes two policies, A,B\n");
		goto out;
	}
	*comma = '\0';
	if (scen_load_checked("compare", files[0], &s) != 0 || side_open(&x[0], s, list) != 0 ||
	    side_open(&x[1], s, comma + 1) != 0)
		goto out;
	if (strcmp(x[0].policy, x[1].policy) == 0 || x[0].p->rules_hash == x[1].p->rules_hash) {
		fprintf(stderr, "cowlab compare: %s and %s are the same rules\n", list, comma + 1);
		goto out;
	}
	for (uint64_t k = 0, pct_k = 0; k < a.runs; k++) {
		char what[64];

		if (side_run(&x[0], k, a.seed, pct_k, a.max_steps) < 0 ||
		    side_run(&x[1], k, a.seed, pct_k, a.max_steps) < 0) {
			fprintf(stderr, "cowlab compare: a run could not be made\n");
			goto out;
		}
		if (k == 0) {
			/* PCT's change points fall within the length of a run. */
			uint64_t n = x[0].r.steps > x[1].r.steps ? x[0].r.steps : x[1].r.steps;

			pct_k = n + n / 4 + 1;
		}
		if (strcmp(x[0].v.verdict, x[1].v.verdict) == 0)
			continue;
		if (k == 0)
			snprintf(what, sizeof(what), "the schedule without a deviation");
		else if (x[0].t.algo == SCHED_PCT)
			snprintf(what, sizeof(what), "PCT of depth %u, seed %" PRIu64, x[0].t.depth,
				 x[0].t.seed);
		else
			snprintf(what, sizeof(what), "a random walk, seed %" PRIu64, x[0].t.seed);
		printf("%s: run %" PRIu64 " of the comparison (%s) tells them apart: %s under %s, "
		       "%s under %s\n",
		       files[0], k + 1, what, x[0].v.verdict, x[0].policy, x[1].v.verdict,
		       x[1].policy);
		side_report(&x[0]);
		side_report(&x[1]);
		code = EXIT_FOUND;
		goto out;
	}
	printf("%s: %s and %s gave the same verdict on every one of %" PRIu64
	       " schedules (the one without a deviation, then seeds from %" PRIu64
	       "): sampled, not every schedule\n",
	       files[0], x[0].policy, x[1].policy, a.runs, a.seed);
	code = 0;
out:
	if (x) {
		explore_target_free(x[0].target);
		explore_target_free(x[1].target);
	}
	scen_free(s);
	free(list);
	free(files);
	free(x);
	return code;
}
