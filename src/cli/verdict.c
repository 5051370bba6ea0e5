/*
 * A scenario's verdict under one preset, as the explorer finds it within a
 * budget: the cell of `cowlab matrix` and the model's side of `cowlab
 * diff`.  The auto search (PCT, random and dfs in turn) stops at the first
 * failing run, unshrunk, or when the runs or the time are spent, or once
 * dfs has run every schedule there is.  explore_verdict_prove then tries
 * to make a pass a proof with dpor.
 */
#include "cli.h"
#include "cowlab.h"
#include "scenario/interp.h"

#include <stdlib.h>
#include <string.h>

/* A search of s under preset with options o, as a verdict. */
static void search_verdict(const struct scenario *s, const char *preset,
			   const struct explore_opts *o, struct verdict *v)
{
	struct explore_result *x = calloc(1, sizeof(*x));
	struct scen_result *res = calloc(1, sizeof(*res));
	struct explore_target *t;
	const struct explore_prog *p;
	const char *policy;
	double t0 = now_seconds();

	memset(v, 0, sizeof(*v));
	if (!x || !res) {
		v->err = COW_ENOMEM;
	} else if (explore_target_scenario(s, preset, "matrix", &t, &p, &policy) != 0) {
		v->err = COW_EINVAL;
	} else {
		v->err = explore_run_search(p, policy, o, x);
		if (!v->err) {
			scen_result_from_explore(x, res);
			explore_target_skips(t, res);
		}
		explore_target_free(t);
	}
	if (v->err) {
		v->failed = 1;
		snprintf(v->verdict, sizeof(v->verdict), "error");
		snprintf(v->message, sizeof(v->message), "the search did not run: %.400s",
			 x && x->message[0] ? x->message : cow_strerror(v->err));
	} else {
		v->failed = x->failed;
		v->exhaustive = x->exhaustive;
		v->dfs_done = x->dfs_done;
		v->dfs_bound = x->dfs_bound;
		v->cover = explore_result_cover(x);
		v->runs = x->runs;
		snprintf(v->verdict, sizeof(v->verdict), "%s",
			 x->failed || res->skipped ? res->verdict : "pass");
		if (res->skipped)
			snprintf(v->message, sizeof(v->message), "%.500s", res->message);
		if (x->failed) {
			snprintf(v->message, sizeof(v->message), "%.500s", res->message);
			if (explore_token_format(&x->token, v->token, sizeof(v->token)) != 0)
				v->token[0] = '\0';
		}
	}
	v->seconds = now_seconds() - t0;
	free(x);
	free(res);
}

void explore_verdict(const struct scenario *s, const char *preset, uint64_t runs, double time,
		     uint64_t seed, struct verdict *v)
{
	explore_verdict_part(s, preset, runs, time, seed, 0, 1, v);
}

void explore_verdict_part(const struct scenario *s, const char *preset, uint64_t runs, double time,
			  uint64_t seed, unsigned int part, unsigned int parts, struct verdict *v)
{
	/* The runs are shared out as --jobs shares them among workers. */
	struct explore_opts o = explore_auto_opts(seed, runs / parts + (part < runs % parts), time);

	if (runs && o.runs == 0)
		o.runs = 1; /* 0 would be no limit */
	o.shard = part;
	o.nr_shards = parts;
	search_verdict(s, preset, &o, v);
}

void explore_verdict_prove(const struct scenario *s, const char *preset, double time,
			   struct verdict *v)
{
	struct explore_opts o = {.algo = SCHED_DPOR, .time = time};
	struct verdict d;

	if (v->err || v->failed || v->exhaustive || strcmp(v->verdict, "pass") != 0)
		return;
	search_verdict(s, preset, &o, &d);
	if (d.err)
		return; /* the pass stands as it was */
	d.runs += v->runs;
	d.seconds += v->seconds;
	if (!d.failed && !d.exhaustive) {
		/* dpor did not finish: the first search's cover stands */
		v->runs = d.runs;
		v->seconds = d.seconds;
		return;
	}
	*v = d;
}
