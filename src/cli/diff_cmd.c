/*
 * cowlab diff: run each scenario on the host's real kernel (src/kernel)
 * and on cowlab's model (the explorer, under one preset), and print one
 * row per scenario: the host's verdict, the model's with how far its
 * search went (exhaustive, to a bound, sampled), and the outcome: agree,
 * disagree or skip.  A scenario the host cannot run is a skip, counted
 * apart from both.
 *
 * The host's verdict is the first failing one of --iterations runs with
 * random delays, else pass if a run passed (runs that skip count neither
 * way), else skip; the model's is the explorer's within its budget, as a
 * cell of `cowlab matrix`.  Where the host maps no shared
 * zero page (it tells through /proc/self/pagemap), the model runs without
 * one too, unless the scenario says otherwise.
 *
 * Exit status: 0 no row disagrees (skips included), 1 a row disagrees,
 * 2 bad input or usage, 3 a side's verdict is error (the scenario is
 * wrong: an operation failed that it does not mark 'check ... faults';
 * agreeing on that says nothing of either memory manager).
 */
#include "cli.h"
#include "cowlab.h"
#include "kernel/host.h"
#include "kernel/kernel.h"
#include "scenario/scenario.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A usage text, laid out as it prints. */
// clang-format off
static const char usage_diff[] =
	"usage: cowlab diff FILE|DIR... [options]\n"
	"\n"
	"Runs each scenario on this host's Linux kernel and on cowlab's model,\n"
	"and prints one row per scenario: the host's verdict, the model's, how\n"
	"far the model's search went (exhaustive, exhaustive to a preemption\n"
	"bound, sampled or found, with its runs), and agree, DISAGREE or skip.\n"
	"A DIR stands for its *.cow files.  A scenario the host cannot run, or\n"
	"whose runs all did less than it says, is a skip with the reason (see\n"
	"docs/kernel.md): neither an agreement nor a disagreement.\n"
	"\n"
	"  --policy P        the model's preset (default linux-6.5)\n"
	"  --iterations N    host runs of each file (default 20); its verdict is\n"
	"                    the first failing run's, else pass\n"
	"  --seed S          seed of the host's random delays and of the model's\n"
	"                    search (default 1)\n"
	"  --delay US        the host's longest delay at an operation boundary\n"
	"                    inside a thread, in microseconds (default 200)\n"
	"  --runs N          the model's runs per scenario at most (default 2000)\n"
	"  --time S          the model's seconds per scenario at most (default:\n"
	"                    none; the runs alone bound it, so a loaded machine\n"
	"                    gives the same verdict)\n"
	MAX_MEMORY_HELP
	"  --json            one JSON document instead of the table\n"
	"  --tap             KTAP, as the kernel's selftests print it: one test a\n"
	"                    scenario, 'ok' when host and model agree (SKIP when\n"
	"                    one of them could not judge it)\n"
	"\n"
	"Exit status: 0 no scenario disagrees (skips listed with their\n"
	"reasons), 1 one disagrees, 2 bad input, 3 the host's or the model's\n"
	"verdict is 'error' (the scenario is wrong: an operation failed that it\n"
	"does not mark 'check ... faults'), whether or not the two agree.\n";
// clang-format on

struct diff_args {
	const char **paths;
	int nr_paths;
	const char *policy;
	uint64_t iterations, seed, delay, runs;
	double time;
	bool json, tap;
};

enum diff_outcome { DIFF_AGREE, DIFF_DISAGREE, DIFF_SKIP };

struct diff_row {
	const struct scen_entry *e;
	struct kern_result host; /* the first failing run, or the last */
	uint64_t host_runs;	 /* runs that passed or failed */
	uint64_t host_skipped;	 /* runs that skipped */
	char skip_reason[512];	 /* the first skipped run's */
	struct verdict model;
	enum diff_outcome outcome;
};

static const struct cli_opt diff_opts[] = {
	OPT_NUM_AT("--iterations", OPT_U64, struct diff_args, iterations, 1, UINT64_MAX),
	OPT_NUM_AT("--seed", OPT_U64, struct diff_args, seed, 0, UINT64_MAX),
	OPT_NUM_AT("--delay", OPT_U64, struct diff_args, delay, 0, 1000000),
	OPT_NUM_AT("--runs", OPT_U64, struct diff_args, runs, 1, UINT64_MAX),
	OPT_AT("--policy", OPT_POLICY, struct diff_args, policy),
	OPT_AT("--time", OPT_SECONDS, struct diff_args, time),
	OPT_FLAG_AT("--json", struct diff_args, json),
	OPT_FLAG_AT("--tap", struct diff_args, tap),
	OPT_MAX_MEMORY,
	OPT_END,
};

static int parse_diff_args(int argc, char **argv, struct diff_args *a)
{
	int code;

	*a = (struct diff_args){.policy = "linux-6.5",
				.iterations = 20,
				.seed = 1,
				.delay = 200,
				.runs = VERDICT_RUNS};
	a->paths = calloc((size_t)argc, sizeof(*a->paths));
	if (!a->paths)
		return EXIT_USAGE;
	code = cli_parse("diff", diff_opts, a, usage_diff, argc, argv, a->paths, &a->nr_paths);
	if (code)
		return code;
	if (a->nr_paths == 0) {
		fprintf(stderr, "cowlab diff: no scenario file or folder given\n%s", usage_diff);
		return EXIT_USAGE;
	}
	if (a->json && a->tap) {
		fprintf(stderr, "cowlab diff: --json and --tap exclude each other\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* The host's side: the first failing run of a->iterations, else pass if
 * some run passed, else skip.  A run that skips (a swap-out that swapped
 * nothing, a KSM pass that merged nothing) counts neither way. */
static void run_host(const struct scenario *s, const struct diff_args *a, struct diff_row *row)
{
	const char *why = kern_skip_reason(s);
	uint64_t passed = 0;

	if (why) {
		row->host_skipped = 1;
		snprintf(row->skip_reason, sizeof(row->skip_reason), "%s", why);
	}
	for (uint64_t i = 0; i < a->iterations && !why; i++) {
		struct kern_opts o = {
			.seed = a->seed ? a->seed + i : 0,
			.max_delay_us = (unsigned int)a->delay,
		};
		struct kern_result one;

		kern_run(s, &o, &one);
		if (one.status == KERN_SKIP) {
			if (row->host_skipped++ == 0)
				snprintf(row->skip_reason, sizeof(row->skip_reason), "%s",
					 one.message);
			continue;
		}
		row->host = one;
		row->host_runs++;
		if (row->host.status != KERN_PASS)
			return;
		passed++;
	}
	if (!passed) {
		row->outcome = DIFF_SKIP;
		row->host.status = KERN_SKIP;
		snprintf(row->host.verdict, sizeof(row->host.verdict), "skip");
		snprintf(row->host.message, sizeof(row->host.message), "%s", row->skip_reason);
	}
}

/* The model's side, under a->policy; without the zero page where the host
 * maps none and the scenario does not say. */
static void run_model(const struct scenario *s, const struct diff_args *a, int host_zero,
		      struct diff_row *row)
{
	struct scenario copy = *s;

	if (copy.zero_page < 0 && host_zero == 0)
		copy.zero_page = 0;
	explore_verdict(&copy, a->policy, a->runs, a->time, a->seed, &row->model);
}

/* How far the model's search went: a failure found, every schedule
 * (exhaustive), every schedule within the dfs bound, or a sample. */
static const char *search_kind(const struct verdict *v)
{
	if (v->err)
		return "none";
	if (v->failed)
		return "found";
	if (v->exhaustive)
		return "exhaustive";
	return v->dfs_done ? "bounded" : "sampled";
}

static void describe_search(const struct verdict *v, char *buf, size_t len)
{
	const char *kind = search_kind(v);

	if (v->err)
		snprintf(buf, len, "-");
	else if (strcmp(kind, "bounded") == 0)
		snprintf(buf, len, "exhaustive to %u preemptions (%" PRIu64 " runs)", v->dfs_bound,
			 v->runs);
	else
		snprintf(buf, len, "%s (%" PRIu64 " run%s)", kind, v->runs,
			 v->runs == 1 ? "" : "s");
}

static const char *outcome_word(enum diff_outcome o, bool json)
{
	switch (o) {
	case DIFF_AGREE: return "agree";
	case DIFF_DISAGREE: return json ? "disagree" : "DISAGREE";
	case DIFF_SKIP: return "skip";
	}
	return "?";
}

static void print_table(const struct diff_row *rows, int n, const char *policy)
{
	int w = (int)strlen("scenario"), pw = (int)strlen(policy) > 10 ? (int)strlen(policy) : 10;
	char search[96];

	for (int i = 0; i < n; i++)
		if ((int)strlen(rows[i].e->file) > w)
			w = (int)strlen(rows[i].e->file);
	printf("%-*s  %-8s  %-*s  %-40s  %s\n", w, "scenario", "host", pw, policy, "model search",
	       "result");
	for (int i = 0; i < n; i++) {
		const struct diff_row *r = &rows[i];
		bool skip = r->outcome == DIFF_SKIP;
		const char *note = kern_host_note(r->e->s);

		if (skip)
			snprintf(search, sizeof(search), "-");
		else
			describe_search(&r->model, search, sizeof(search));
		printf("%-*s  %-8s  %-*s  %-40s  %s\n", w, r->e->file, r->host.verdict, pw,
		       skip ? "-" : r->model.verdict, search, outcome_word(r->outcome, false));
		if (skip)
			printf("  skipped: %s\n", r->host.message);
		else if (r->host_skipped)
			printf("  host: %" PRIu64 " of %" PRIu64 " runs skipped: %s\n",
			       r->host_skipped, r->host_skipped + r->host_runs, r->skip_reason);
		if (note && !skip)
			printf("  note: %s\n", note);
		if (!skip && verdict_is_error(r->host.verdict))
			printf("  the scenario is wrong on the host: %s\n", r->host.message);
		if (!skip && verdict_is_error(r->model.verdict))
			printf("  the scenario is wrong in the model: %s\n", r->model.message);
		if (r->outcome == DIFF_DISAGREE) {
			if (r->host.status != KERN_PASS)
				printf("  host:  %s\n", r->host.message);
			if (r->model.failed)
				printf("  model: %s\n  replay it with: cowlab replay %s\n",
				       r->model.message, r->model.token);
		}
	}
}

static void print_json(const struct diff_row *rows, int n, const char *policy, const int *count)
{
	printf("{\"policy\":");
	json_string(stdout, policy);
	printf(",\"rows\":[");
	for (int i = 0; i < n; i++) {
		const struct diff_row *r = &rows[i];
		bool skip = r->outcome == DIFF_SKIP;
		const char *note = kern_host_note(r->e->s);

		printf("%s{\"file\":", i ? "," : "");
		json_string(stdout, r->e->file);
		printf(",\"host\":");
		json_string(stdout, r->host.verdict);
		printf(",\"host_runs\":%" PRIu64 ",\"host_skipped\":%" PRIu64 ",\"host_message\":",
		       r->host_runs, r->host_skipped);
		json_string(stdout, r->host.message);
		if (r->host_skipped) {
			printf(",\"skip_reason\":");
			json_string(stdout, r->skip_reason);
		}
		if (note) {
			printf(",\"note\":");
			json_string(stdout, note);
		}
		printf(",\"model\":");
		json_string(stdout, skip ? "" : r->model.verdict);
		if (!skip) {
			printf(",\"model_search\":\"%s\",\"model_runs\":%" PRIu64
			       ",\"model_exhaustive\":%s",
			       search_kind(&r->model), r->model.runs,
			       r->model.exhaustive ? "true" : "false");
			if (r->model.dfs_done)
				printf(",\"model_bound\":%u", r->model.dfs_bound);
		}
		printf(",\"model_message\":");
		json_string(stdout, r->model.message);
		printf(",\"token\":");
		json_string(stdout, r->model.token);
		printf(",\"result\":\"%s\"}", outcome_word(r->outcome, true));
	}
	printf("],\"agree\":%d,\"disagreements\":%d,\"skipped\":%d}\n", count[DIFF_AGREE],
	       count[DIFF_DISAGREE], count[DIFF_SKIP]);
}

static void print_tap(const struct diff_row *rows, int n, const int *count)
{
	ktap_header(n);
	for (int i = 0; i < n; i++) {
		const struct diff_row *r = &rows[i];

		if (r->outcome == DIFF_SKIP) {
			ktap_result(i + 1, true, r->e->file, r->host.message);
			continue;
		}
		ktap_diag("host %s, model %s", r->host.verdict, r->model.verdict);
		if (r->outcome == DIFF_DISAGREE) {
			if (r->host.status != KERN_PASS)
				ktap_diag("host: %s", r->host.message);
			if (r->model.failed)
				ktap_diag("model: %s\ncowlab replay %s", r->model.message,
					  r->model.token);
		}
		ktap_result(i + 1, r->outcome == DIFF_AGREE, r->e->file, NULL);
	}
	ktap_totals(count[DIFF_AGREE], count[DIFF_DISAGREE], count[DIFF_SKIP]);
}

int cmd_diff(int argc, char **argv)
{
	struct diff_args a;
	struct scen_entry *v = NULL;
	struct diff_row *rows = NULL;
	int nr = 0, count[3] = {0}, code = parse_diff_args(argc, argv, &a);
	int host_zero = kern_host_zero_page();

	if (code) {
		free(a.paths);
		return code < 0 ? 0 : code;
	}
	code = scen_list_load("diff", a.paths, a.nr_paths, &v, &nr);
	if (!code && !(rows = calloc((size_t)nr, sizeof(*rows)))) {
		fprintf(stderr, "cowlab diff: out of memory\n");
		code = EXIT_USAGE;
	}
	for (int i = 0; i < nr && !code; i++) {
		struct diff_row *r = &rows[i];

		r->e = &v[i];
		run_host(v[i].s, &a, r);
		if (r->outcome != DIFF_SKIP) {
			run_model(v[i].s, &a, host_zero, r);
			r->outcome = strcmp(r->host.verdict, r->model.verdict) == 0 ? DIFF_AGREE
										    : DIFF_DISAGREE;
		}
		if (r->outcome != DIFF_SKIP && strcmp(r->model.verdict, "skip") == 0) {
			/* Every model run stopped at a require: nothing to
			 * hold the host's verdict against. */
			r->outcome = DIFF_SKIP;
			snprintf(r->host.message, sizeof(r->host.message),
				 "the model skipped every run: %.400s", r->model.message);
		}
		count[r->outcome]++;
	}
	if (!code) {
		if (a.json) {
			print_json(rows, nr, a.policy, count);
		} else if (a.tap) {
			print_tap(rows, nr, count);
		} else {
			print_table(rows, nr, a.policy);
			printf("\ndiff: %d agree, %d disagree, %d skipped%s; %d scenario%s, "
			       "host zero page: %s\n",
			       count[DIFF_AGREE], count[DIFF_DISAGREE], count[DIFF_SKIP],
			       count[DIFF_SKIP] ? " (reasons above)" : "", nr, nr == 1 ? "" : "s",
			       host_zero > 0	? "yes"
			       : host_zero == 0 ? "no"
						: "unknown");
		}
		code = count[DIFF_DISAGREE] ? EXIT_FOUND : 0;
		for (int i = 0; i < nr; i++)
			if (rows[i].outcome != DIFF_SKIP &&
			    (verdict_is_error(rows[i].host.verdict) ||
			     verdict_is_error(rows[i].model.verdict)))
				code = EXIT_SCENARIO;
	}
	free(rows);
	scen_list_free(v, nr);
	free(a.paths);
	return code;
}
