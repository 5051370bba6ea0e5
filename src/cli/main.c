/*
 * The cowlab command.  It parses arguments, calls the scenario layer and
 * the library, and prints; it holds no memory-manager logic.
 *
 *   cowlab run FILE... [--mode seq|stress|explore|all] [options]
 *   cowlab explore FILE [options]          (explore_cmd.c)
 *   cowlab matrix [DIR|FILE...] [options]  (matrix_cmd.c)
 *   cowlab replay TOKEN
 *   cowlab policies
 *   cowlab demo
 *
 * Exit status: see cli.h (0 ok, 1 a check failed, 2 bad input, 3 the
 * scenario is wrong, 130 interrupted).
 */
#include "cli.h"
#include "cowlab.h"
#include "sched/demos.h"
#include "scenario/interp.h"
#include "sync/sync.h"

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A usage text, laid out as it prints. */
// clang-format off
static const char usage_main[] =
	"usage: cowlab [--version] [--help] COMMAND [ARGS]\n"
	"\n"
	"cowlab models a Unix kernel's anonymous-memory manager (copy-on-write\n"
	"fork, get_user_pages, direct I/O, swap, KSM) and explores its races.\n"
	"\n"
	"commands:\n"
	"  run FILE...    run scenario files (.cow) and judge their checks\n"
	"  explore FILE   search a scenario's schedules for a failing run,\n"
	"                 shrink it and print its trace\n"
	"  matrix [DIR]   explore every scenario under every policy preset and\n"
	"                 check the verdicts against the files' expect lines\n"
	"  merge DIR      put together the results of a search's shards (--out)\n"
	"  replay TOKEN   re-run exactly the explore run a token names\n"
	"  kernel FILE... run scenario files on the host's real Linux kernel\n"
	"  diff FILE...   run scenarios on the host and on the model, compare\n"
	"  compare FILE   run a scenario's schedules under two policies, report\n"
	"                 the first whose verdicts differ, with both traces\n"
	"  check FILE...  parse and validate scenario files without running them\n"
	"  policies       list the historical policies and their rules\n"
	"  demo           show the explorer finding a lost update\n"
	"\n"
	"Every command takes --policies FILE, named rule sets for --policy\n"
	"('cowlab policies --help').\n"
	"Run 'cowlab COMMAND --help' for a command's options; an option's value\n"
	"follows it ('--runs 5') or an '=' ('--runs=5').  The scenario\n"
	"language is described in docs/scenarios.md.\n"
	"\n"
	"Exit status: 0 ok, 1 a check failed or a counterexample was found,\n"
	"2 bad input or usage, 3 the scenario is wrong (verdict 'error'),\n"
	"130 interrupted.\n";
// clang-format on

/* A usage text, laid out as it prints. */
// clang-format off
static const char usage_run[] =
	"usage: cowlab run FILE... [options]\n"
	"\n"
	"Runs each scenario and judges it by its checks and the memory\n"
	"manager's invariants (checked after every step in explore mode).\n"
	"\n"
	"  --mode M          seq (default): threads of a group one after another;\n"
	"                    stress: threads on real OS threads;\n"
	"                    explore: random schedules of the deterministic explorer;\n"
	"                    all: the three, one table row per file\n"
	"  --policy P        a preset from 'cowlab policies' (default: the file's\n"
	"                    policy line, else linux-6.5)\n"
	"  --iterations N    stress: repetitions (default 100 with --mode all, else 1)\n"
	"  --algo A          explore: auto (default: random and PCT runs in turn),\n"
	"                    random, or pct (PCT of --depth D, default " COW_STR(
		EXPLORE_DEFAULT_DEPTH) ")\n"
	"  --depth D         explore: PCT depth, 1..8\n"
	"  --runs N          explore: runs (default 1000)\n"
	"  --seed S          explore: first seed (default 1)\n"
	"  --max-steps N     explore: step limit of a run (default 1000000)\n"
	"  --tap             KTAP, as the kernel's selftests print it: one test a\n"
	"                    file (a file and mode with --mode all); SKIP for a\n"
	"                    run whose 'require' did not hold\n"
	MAX_MEMORY_HELP
	"\n"
	"Exit status: 0 every check held, 1 a check failed, 2 bad input, 3 the\n"
	"scenario is wrong: an operation failed that it does not mark\n"
	"'check ... faults' (verdict 'error', printed as ERROR).  Of several\n"
	"files the highest status counts.\n"
	"A run whose 'require' line did not hold is SKIPPED (exit 0, the reason\n"
	"printed), never counted as a pass.\n"
	"A failed explore run prints a 'cowlab replay TOKEN' line; one that\n"
	"passes says whether every schedule ran or they were sampled.\n";
// clang-format on

/* A usage text, laid out as it prints. */
// clang-format off
static const char usage_replay[] =
	"usage: cowlab replay TOKEN [--trace] [--html FILE] [--max-memory SIZE]\n"
	"\n"
	"Re-runs exactly the run named by TOKEN (a line \"cow2:...\" printed by\n"
	"an exploration).  The token names the scenario file by the path it was\n"
	"run with, and carries a hash of the file's bytes and of the preset's\n"
	"rules: a file changed since, or a preset whose rules differ, is refused\n"
	"(exit 2), and so are tokens of the old format \"cow1:...\", which carry\n"
	"no hash.\n"
	"  --trace           print the run's trace (as cowlab explore does)\n"
	"  --html FILE       also write the trace as one self-contained web page\n"
	"                    to FILE (- for stdout, the summary then on stderr):\n"
	"                    a column per task, each page's and PTE's states\n"
	"                    over the steps, the failed check (docs/trace-page.md)\n"
	MAX_MEMORY_HELP
	"Exit 1 if the run fails, as it did when it was found; 3 if it ends in\n"
	"the verdict 'error' (the scenario is wrong).\n";
// clang-format on

/* A usage text, laid out as it prints. */
// clang-format off
static const char usage_policies[] =
	"usage: cowlab policies [--rules]\n"
	"\n"
	"Lists every policy preset: its rules and the commits behind them.\n"
	"  --rules           list instead every rule a rule set of your own may\n"
	"                    change, its values and the presets that use each\n"
	"\n"
	"A rule set of your own is a preset with rules changed, wherever a\n"
	"preset is named: --policy linux-6.5+fork=share+reclaim=unmap-any, or\n"
	"in a scenario 'policy linux-6.5 + fork = share'.  Its replay tokens\n"
	"carry it, and replay on any build that knows its rules.  Every\n"
	"command takes --policies FILE: lines 'NAME = PRESET+RULE=VALUE...'\n"
	"that name rule sets for --policy; this command then lists them too.\n";
// clang-format on

/* A usage text, laid out as it prints. */
// clang-format off
static const char usage_demo[] =
	"usage: cowlab demo [--runs N] [--seed S]\n"
	"\n"
	"Explores a counter that two simulated CPUs increment without a lock,\n"
	"prints the first lost update with its replay token, replays it, and\n"
	"then explores the locked version, which must never fail.\n"
	"  --runs N   runs per search (default 10000)\n"
	"  --seed S   first seed (default 1)\n";
// clang-format on

/* ---- run ---------------------------------------------------------------------- */

struct run_args {
	const char **files;
	int nr_files;
	bool all;
	struct scen_opts o;
	bool iterations_given;
	bool tap;
};

static int parse_mode(void *args, const char *cmd, const char *opt, const char *val)
{
	struct run_args *a = args;

	(void)opt;
	if (strcmp(val, "seq") == 0)
		a->o.mode = SCEN_SEQ;
	else if (strcmp(val, "stress") == 0)
		a->o.mode = SCEN_STRESS;
	else if (strcmp(val, "explore") == 0)
		a->o.mode = SCEN_EXPLORE;
	else if (strcmp(val, "all") == 0)
		a->all = true;
	else {
		fprintf(stderr, "cowlab %s: unknown mode '%s' (seq, stress, explore or all)\n", cmd,
			val);
		return -1;
	}
	return 0;
}

static int parse_run_algo(void *args, const char *cmd, const char *opt, const char *val)
{
	struct run_args *a = args;

	(void)opt;
	if (strcmp(val, "auto") == 0)
		a->o.algo = SCHED_AUTO;
	else if (strcmp(val, "random") == 0)
		a->o.algo = SCHED_RANDOM;
	else if (strcmp(val, "pct") == 0)
		a->o.algo = SCHED_PCT;
	else {
		fprintf(stderr, "cowlab %s: unknown algorithm '%s' (auto, random or pct)\n", cmd,
			val);
		return -1;
	}
	return 0;
}

/* --iterations: a number, and given (--mode all has its own default). */
static int parse_iterations(void *args, const char *cmd, const char *opt, const char *val)
{
	struct run_args *a = args;
	uint64_t v;

	if (parse_count(cmd, opt, val, 1, ULONG_MAX, &v))
		return -1;
	a->o.iterations = (unsigned long)v;
	a->iterations_given = true;
	return 0;
}

static const struct cli_opt run_opts[] = {
	OPT_CALL_TO("--mode", parse_mode),
	OPT_AT("--policy", OPT_POLICY, struct run_args, o.policy),
	OPT_CALL_TO("--iterations", parse_iterations),
	OPT_CALL_TO("--algo", parse_run_algo),
	OPT_NUM_AT("--depth", OPT_UINT, struct run_args, o.depth, 1, SCHED_PCT_MAX_DEPTH),
	OPT_NUM_AT("--runs", OPT_U64, struct run_args, o.runs, 1, UINT64_MAX),
	OPT_NUM_AT("--seed", OPT_U64, struct run_args, o.seed, 0, UINT64_MAX),
	OPT_NUM_AT("--max-steps", OPT_U64, struct run_args, o.max_steps, 0, UINT64_MAX),
	OPT_FLAG_AT("--tap", struct run_args, tap),
	OPT_MAX_MEMORY,
	OPT_END,
};

static int parse_run_args(int argc, char **argv, struct run_args *a)
{
	int code;

	a->files = calloc((size_t)argc, sizeof(*a->files));
	if (!a->files)
		return EXIT_USAGE;
	a->o.mode = SCEN_SEQ;
	a->o.seed = 1;
	a->o.algo = SCHED_AUTO;
	code = cli_parse("run", run_opts, a, usage_run, argc, argv, a->files, &a->nr_files);
	if (code)
		return code;
	if (a->nr_files == 0) {
		fprintf(stderr, "cowlab run: no scenario file given\n%s", usage_run);
		return EXIT_USAGE;
	}
	return 0;
}

/* tmpfs takes O_DIRECT and buffers it: the runs are right, but the data
 * never left the page cache.  Say so, once. */
static void note_buffered(const struct scen_result *r)
{
	static bool said;

	if (r->buffered && !said) {
		said = true;
		fprintf(stderr,
			"cowlab: note: the data files' filesystem buffers O_DIRECT (tmpfs?); "
			"set COWLAB_TMPDIR to a directory on a disk\n");
	}
}

static void print_failure(const struct scen_result *r)
{
	printf("  %s: %s\n", r->verdict, r->message);
	if (r->has_token) {
		printf("  replay it with:\n");
		print_token(&r->token);
	}
}

/* One file in one mode, printed as a paragraph.  Returns the exit code. */
static int run_one_mode(const struct scenario *s, const struct scen_opts *o)
{
	struct scen_result r;
	double t0 = now_seconds();
	int err = scen_run(s, o, &r);
	double secs = now_seconds() - t0;

	note_buffered(&r);
	if (err) {
		fprintf(stderr, "cowlab run: %s: %s\n", s->path,
			r.message[0] ? r.message : cow_strerror(err));
		return EXIT_USAGE;
	}
	if (r.failed && verdict_is_error(r.verdict)) {
		/* The scenario's mistake, not the model's: not a counterexample. */
		printf("%s: ERROR (%s, %s): the scenario is wrong: an operation failed that it "
		       "does not mark 'check ... faults'\n",
		       s->path, scen_mode_name(o->mode), r.policy);
		print_failure(&r);
		return EXIT_SCENARIO;
	}
	if (r.failed) {
		printf("%s: FAILED (%s, %s)", s->path, scen_mode_name(o->mode), r.policy);
		if (o->mode != SCEN_SEQ)
			printf(" in %s %" PRIu64, o->mode == SCEN_EXPLORE ? "run" : "iteration",
			       r.runs);
		printf("\n");
		print_failure(&r);
		return EXIT_FOUND;
	}
	if (r.skipped) {
		/* A require did not hold in any run: not a pass (exit 0). */
		printf("%s: SKIPPED (%s, %s)\n  skipped: %s\n", s->path, scen_mode_name(o->mode),
		       r.policy, r.message);
		return 0;
	}
	printf("%s: ok (%s, %s): %d checks held", s->path, scen_mode_name(o->mode), r.policy,
	       r.checks);
	if (o->mode != SCEN_SEQ)
		printf(", %" PRIu64 " %s in %.2f s", r.runs,
		       o->mode == SCEN_EXPLORE ? "runs" : "iterations", secs);
	if (o->mode == SCEN_EXPLORE) {
		char words[160];

		printf("; %s",
		       cover_words(r.cover, o->algo, r.bound, r.runs, words, sizeof(words)));
	}
	printf("\n");
	if (r.skipped_runs)
		printf("  %" PRIu64 " of %" PRIu64 " %s skipped (the others held): %s\n",
		       r.skipped_runs, r.judged_runs,
		       o->mode == SCEN_EXPLORE ? "runs" : "iterations", r.message);
	return 0;
}

/* --mode all: one table row per file; the first column is name_width
 * wide, so that every path of the run fits. */
static int run_all_modes(const struct scenario *s, const struct run_args *a, int name_width,
			 bool header)
{
	static const enum scen_mode modes[] = {SCEN_SEQ, SCEN_STRESS, SCEN_EXPLORE};
	struct scen_result res[3];
	int code = 0;

	if (header)
		printf("%-*s %-19s %-12s %-14s %-14s\n", name_width, "scenario", "policy", "seq",
		       "stress", "explore");
	for (int m = 0; m < 3; m++) {
		struct scen_opts o = a->o;
		int err;

		o.mode = modes[m];
		if (o.mode == SCEN_STRESS && !a->iterations_given)
			o.iterations = 100;
		err = scen_run(s, &o, &res[m]);
		note_buffered(&res[m]);
		if (err) {
			fprintf(stderr, "cowlab run: %s: %s\n", s->path,
				res[m].message[0] ? res[m].message : cow_strerror(err));
			return EXIT_USAGE;
		}
	}
	printf("%-*s %-19s", name_width, s->path, res[0].policy);
	for (int m = 0; m < 3; m++) {
		char cell[32], mark[16];

		if (res[m].failed && verdict_is_error(res[m].verdict))
			snprintf(cell, sizeof(cell), "ERROR");
		else if (res[m].failed)
			snprintf(cell, sizeof(cell), "FAIL:%s", res[m].verdict);
		else if (res[m].skipped)
			snprintf(cell, sizeof(cell), "SKIP");
		else if (m == 0)
			snprintf(cell, sizeof(cell), "ok");
		else
			snprintf(cell, sizeof(cell), "ok x%" PRIu64 "%s", res[m].runs,
				 modes[m] == SCEN_EXPLORE ? cover_mark(res[m].cover, res[m].bound,
								       mark, sizeof(mark))
							  : "");
		printf(" %-*s", m == 0 ? 12 : 14, cell);
	}
	printf("\n");
	for (int m = 0; m < 3; m++)
		if (res[m].failed) {
			printf("  %s mode:\n", scen_mode_name(modes[m]));
			print_failure(&res[m]);
			if (verdict_is_error(res[m].verdict))
				code = EXIT_SCENARIO;
			else if (code < EXIT_FOUND)
				code = EXIT_FOUND;
		} else if (res[m].skipped) {
			printf("  %s mode: skipped: %s\n", scen_mode_name(modes[m]),
			       res[m].message);
		}
	return code;
}

/* --tap: one KTAP test a file in each mode it runs in (a file that does
 * not load fails every one of its tests). */
static int run_tap(const struct run_args *a)
{
	static const enum scen_mode all[] = {SCEN_SEQ, SCEN_STRESS, SCEN_EXPLORE};
	int nr_modes = a->all ? 3 : 1, n = 0, pass = 0, fail = 0, skip = 0, code = 0;
	char name[512], token[EXPLORE_TOKEN_MAX], words[160];

	ktap_header(a->nr_files * nr_modes);
	for (int i = 0; i < a->nr_files; i++) {
		struct scenario *s = NULL;
		bool loaded = scen_load_checked("run", a->files[i], &s) == 0;

		for (int m = 0; m < nr_modes; m++) {
			struct scen_opts o = a->o;
			struct scen_result r;

			o.mode = a->all ? all[m] : a->o.mode;
			if (a->all && o.mode == SCEN_STRESS && !a->iterations_given)
				o.iterations = 100;
			snprintf(name, sizeof(name), "%s %s", a->files[i], scen_mode_name(o.mode));
			n++;
			if (!loaded || scen_run(s, &o, &r) != 0) {
				ktap_diag("%s", loaded ? r.message
						       : "does not load (the error is on stderr)");
				ktap_result(n, false, name, NULL);
				fail++;
				code = code > EXIT_USAGE ? code : EXIT_USAGE;
				continue;
			}
			note_buffered(&r);
			if (r.failed) {
				ktap_diag("%s%s: %s",
					  verdict_is_error(r.verdict) ? "the scenario is wrong: "
								      : "",
					  r.verdict, r.message);
				if (r.has_token &&
				    explore_token_format(&r.token, token, sizeof(token)) == 0)
					ktap_diag("cowlab replay %s", token);
				ktap_result(n, false, name, NULL);
				fail++;
				if (verdict_is_error(r.verdict))
					code = EXIT_SCENARIO;
				else if (code < EXIT_FOUND)
					code = EXIT_FOUND;
			} else if (r.skipped) {
				ktap_result(n, true, name, r.message);
				skip++;
			} else {
				ktap_diag("%d checks held (%s)%s%s", r.checks, r.policy,
					  o.mode == SCEN_EXPLORE ? "; " : "",
					  o.mode == SCEN_EXPLORE
						  ? cover_words(r.cover, o.algo, r.bound, r.runs,
								words, sizeof(words))
						  : "");
				ktap_result(n, true, name, NULL);
				pass++;
			}
		}
		scen_free(s);
	}
	ktap_totals(pass, fail, skip);
	return code;
}

static int cmd_run(int argc, char **argv)
{
	struct run_args a = {0};
	int code = 0, name_width = 8, err = parse_run_args(argc, argv, &a);

	if (err) {
		free(a.files);
		return err < 0 ? 0 : err;
	}
	if (a.tap) {
		code = run_tap(&a);
		free(a.files);
		return code;
	}
	for (int i = 0; i < a.nr_files; i++)
		if ((int)strlen(a.files[i]) > name_width)
			name_width = (int)strlen(a.files[i]);
	for (int i = 0; i < a.nr_files; i++) {
		struct scenario *s;
		int rc;

		if (scen_load_checked("run", a.files[i], &s) != 0) {
			if (code < EXIT_USAGE)
				code = EXIT_USAGE;
			continue;
		}
		rc = a.all ? run_all_modes(s, &a, name_width, i == 0) : run_one_mode(s, &a.o);
		if (rc > code)
			code = rc;
		scen_free(s);
	}
	if (a.all)
		printf("\nexplore: 'ok xN' every schedule ran (proven), 'ok xN(K)' every "
		       "schedule within K preemptions, 'ok xN~' sampled\n");
	free(a.files);
	return code;
}

/* ---- replay ---------------------------------------------------------------------- */

struct replay_args {
	bool trace;
	const char *html; /* --html FILE: the trace page, "-" stdout */
};

static const struct cli_opt replay_opts[] = {
	OPT_FLAG_AT("--trace", struct replay_args, trace),
	OPT_AT("--html", OPT_TEXT, struct replay_args, html),
	OPT_MAX_MEMORY,
	OPT_END,
};

/* The trace page, len bytes at page, to path ("-": stdout): 0, or
 * EXIT_USAGE after a message. */
static int write_page(const char *path, const char *page, size_t len)
{
	bool out = strcmp(path, "-") == 0;
	FILE *f = out ? stdout : fopen(path, "w");
	int err = 0;

	if (!f) {
		fprintf(stderr, "cowlab replay: --html %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	errno = 0;
	if (fwrite(page, 1, len, f) != len || fflush(f) != 0)
		err = errno ? errno : EIO;
	errno = 0;
	if (!out && fclose(f) != 0 && !err)
		err = errno ? errno : EIO;
	if (err) {
		fprintf(stderr, "cowlab replay: --html %s: %s\n", out ? "- (stdout)" : path,
			strerror(err));
		return EXIT_USAGE;
	}
	return 0;
}

static int cmd_replay(int argc, char **argv)
{
	const struct explore_prog *p;
	struct explore_target *target;
	struct explore_token *t = malloc(sizeof(*t));
	struct explore_result *r = malloc(sizeof(*r));
	struct scen_result sr;
	struct replay_args a = {0};
	const char *token = NULL, *policy, **tokens = calloc((size_t)argc, sizeof(*tokens));
	char err[256], why[512], *page = NULL;
	size_t page_len = 0;
	FILE *say = stdout; /* the summary's stream: stderr when the page is on stdout */
	int e = 0, nr = 0, code = EXIT_USAGE;

	if (!t || !r || !tokens)
		goto out;
	code = cli_parse("replay", replay_opts, &a, usage_replay, argc, argv, tokens, &nr);
	if (code) {
		code = code < 0 ? 0 : code;
		goto out;
	}
	code = EXIT_USAGE;
	if (nr > 1) {
		fprintf(stderr, "cowlab replay: one token at a time\n");
		goto out;
	}
	if (a.html && !*a.html) {
		fprintf(stderr, "cowlab replay: --html needs a file name (- for stdout)\n");
		goto out;
	}
	if (a.html && strcmp(a.html, "-") == 0) {
		if (a.trace) {
			fprintf(stderr, "cowlab replay: --trace and --html - would both write to "
					"stdout; give --html a file\n");
			goto out;
		}
		say = stderr;
	}
	token = nr ? tokens[0] : NULL;
	if (!token) {
		fputs(usage_replay, stderr);
		goto out;
	}
	if (explore_token_parse(token, t, err, sizeof(err)) != 0) {
		fprintf(stderr, "cowlab replay: %s\n", err);
		goto out;
	}
	code = explore_target_open(t->prog, strcmp(t->policy, "-") ? t->policy : NULL, "replay",
				   &target, &p, &policy);
	if (code)
		goto out;
	if (explore_token_check(p, t, why, sizeof(why)) != 0) {
		fprintf(stderr,
			"cowlab replay: %s; explore again for a token of what is there now\n", why);
		explore_target_free(target);
		code = EXIT_USAGE;
		goto out;
	}
	if (a.trace)
		e = explore_trace(p, t, stdout, r);
	if (a.html && e >= 0) {
		FILE *m = open_memstream(&page, &page_len);

		e = m ? trace_html(m, p, t, policy, r) : COW_ENOMEM;
		if (m && fclose(m) != 0 && e >= 0)
			e = COW_ENOMEM;
	}
	if (!a.trace && !a.html)
		e = explore_replay(p, t, 0, r);
	if (e < 0) {
		fprintf(stderr, "cowlab replay: %s\n", cow_strerror(e));
		code = EXIT_USAGE;
	} else {
		if (target)
			scen_result_from_explore(r, &sr);
		else
			snprintf(sr.verdict, sizeof(sr.verdict), "%s",
				 sched_verdict_name(r->verdict)),
				snprintf(sr.message, sizeof(sr.message), "%s", r->message);
		fprintf(say,
			"%s (%s): %s after %" PRIu64
			" steps, %u preemptions (fingerprint %016" PRIx64 ")\n",
			t->prog, policy, r->failed ? "FAILED" : "ok", r->steps, r->preemptions,
			r->fingerprint);
		if (r->failed)
			fprintf(say, "  %s: %s\n", sr.verdict, sr.message);
		code = !r->failed ? 0 : verdict_is_error(sr.verdict) ? EXIT_SCENARIO : EXIT_FOUND;
		if (a.html) {
			fflush(say);
			if (write_page(a.html, page, page_len) != 0)
				code = EXIT_USAGE;
			else if (say == stderr)
				fprintf(say, "  wrote the trace page to stdout: %d visible steps\n",
					e);
			else
				fprintf(say, "  wrote %s: the trace page, %d visible steps\n",
					a.html, e);
		}
	}
	explore_target_free(target);
out:
	free(page);
	free(tokens);
	free(t);
	free(r);
	return code;
}

/* ---- check ------------------------------------------------------------------------- */

// clang-format off
static const char usage_check[] =
	"usage: cowlab check FILE|DIR... [--max-memory SIZE]\n"
	"\n"
	"Parses and validates each scenario (a DIR's *.cow files, by name) without\n"
	"running it: its syntax, its names and ranges, its policy line (a preset\n"
	"or a rule set), its expect lines, and the memory a run would take.  A\n"
	"valid file prints one line with what it holds; an invalid one its first\n"
	"error at FILE:LINE:COL.  Every file is checked.\n"
	MAX_MEMORY_HELP
	"Exit 0 when every file is valid, 2 otherwise.\n";
// clang-format on

static int cmd_check(int argc, char **argv)
{
	static const struct cli_opt opts[] = {OPT_MAX_MEMORY, OPT_END};
	const char **operands = calloc((size_t)argc, sizeof(*operands));
	struct scen_entry *v = NULL;
	int nr = 0, n = 0, bad = 0,
	    code = operands ? cli_parse("check", opts, NULL, usage_check, argc, argv, operands, &nr)
			    : EXIT_USAGE;

	if (code || nr == 0) {
		if (!code)
			fputs(usage_check, stderr);
		free(operands);
		return code < 0 ? 0 : code ? code : EXIT_USAGE;
	}
	code = scen_list_paths("check", operands, nr, &v, &n);
	free(operands);
	for (int i = 0; i < n && !code; i++) {
		const struct scenario *s;

		if (scen_load_checked("check", v[i].file, &v[i].s) != 0) {
			bad++;
			continue;
		}
		s = v[i].s;
		printf("%s: ok: %d process%s, %d thread%s, %d operation%s, %d expect line%s, "
		       "policy %s\n",
		       v[i].file, s->nr_procs, s->nr_procs == 1 ? "" : "es", s->nr_threads,
		       s->nr_threads == 1 ? "" : "s", s->nr_ops, s->nr_ops == 1 ? "" : "s",
		       s->nr_expects, s->nr_expects == 1 ? "" : "s",
		       s->policy[0] ? s->policy : "linux-6.5 (the default)");
	}
	if (!code && n > 1)
		printf("check: %d of %d files valid\n", n - bad, n);
	scen_list_free(v, n);
	return code ? code : bad ? EXIT_USAGE : 0;
}

/* ---- policies ---------------------------------------------------------------------- */

struct policies_args {
	bool rules;
};

/* policies --rules: each knob, each of its values with the words the
 * listing prints and the presets that have it. */
static void print_knobs(void)
{
	printf("Rules a rule set may change (PRESET+RULE=VALUE+...):\n");
	for (int i = 0; i < cow_policy_knob_count(); i++) {
		const char *what, *name = cow_policy_knob(i, &what, &(int){0}), *text, *value;

		printf("\n%s: %s\n", name, what);
		for (int v = 0; (value = cow_policy_knob_value(i, v, &text)) != NULL; v++) {
			int n = 0;

			printf("  %-22s %s\n", value, text);
			for (int k = 0; k < cow_policy_count(); k++) {
				const struct cow_policy *p = cow_policy_at(k);

				if (cow_policy_knob_get(p, i) != v)
					continue;
				if (n++ == 0)
					printf("  %-22s presets: ", "");
				else
					printf(", ");
				printf("%s", cow_policy_name(p));
			}
			if (n == 0)
				printf("  %-22s presets: none", "");
			printf("\n");
		}
	}
}

static int cmd_policies(int argc, char **argv)
{
	char rules[COW_POLICY_RULES_MAX];
	struct policies_args a = {false};
	static const struct cli_opt opts[] = {OPT_FLAG_AT("--rules", struct policies_args, rules),
					      OPT_END};
	const char **operands = calloc((size_t)argc, sizeof(*operands));
	int nr = 0, code = operands ? cli_parse("policies", opts, &a, usage_policies, argc, argv,
						operands, &nr)
				    : EXIT_USAGE;

	free(operands);
	if (code)
		return code < 0 ? 0 : code;
	if (nr != 0) {
		fputs(usage_policies, stderr);
		return EXIT_USAGE;
	}
	if (a.rules) {
		print_knobs();
		return 0;
	}
	for (int i = 0; i < cow_policy_count(); i++) {
		const struct cow_policy *p = cow_policy_at(i);
		const char *line = cow_policy_rules(p, rules, sizeof(rules));

		printf("%s%s\n  %s\n", cow_policy_name(p),
		       p == cow_policy_default() ? " (default)" : "", cow_policy_summary(p));
		while (*line) {
			const char *nl = strchr(line, '\n');
			int n = nl ? (int)(nl - line) : (int)strlen(line);

			printf("    %.*s\n", n, line);
			line += n + (nl ? 1 : 0);
		}
		printf("    commits:           %s\n\n", cow_policy_commits(p));
	}
	for (int i = 0;; i++) {
		const struct cow_policy *p;
		const char *name = cow_policy_alias(i, &p);

		if (!name)
			break;
		printf("%s%s = %s\n", i ? "" : "rule sets of yours (--policies):\n", name,
		       cow_policy_name(p));
	}
	return 0;
}

/* ---- demo -------------------------------------------------------------------------- */

struct demo_args {
	uint64_t runs, seed;
};

/* --runs 0 would search forever: as everywhere, runs start at 1. */
static const struct cli_opt demo_opts[] = {
	OPT_NUM_AT("--runs", OPT_U64, struct demo_args, runs, 1, UINT64_MAX),
	OPT_NUM_AT("--seed", OPT_U64, struct demo_args, seed, 0, UINT64_MAX),
	OPT_END,
};

static int cmd_demo(int argc, char **argv)
{
	struct demo_args d = {.runs = 10000, .seed = 1};
	const char **operands = calloc((size_t)argc, sizeof(*operands));
	int nr = 0, code;
	struct explore_result found, again, locked;
	char words[160];
	double t0, t1;
	int err;

	code = operands ? cli_parse("demo", demo_opts, &d, usage_demo, argc, argv, operands, &nr)
			: EXIT_USAGE;
	if (!code && nr > 0) {
		fprintf(stderr, "cowlab demo: takes no file ('%s')\n%s", operands[0], usage_demo);
		code = EXIT_USAGE;
	}
	free(operands);
	if (code)
		return code < 0 ? 0 : code;

	printf("explorer demo: two CPUs each add %d to a counter with READ_ONCE/WRITE_ONCE\n",
	       DEMO_INCREMENTS);
	t0 = now_seconds();
	err = explore_search(&demo_racy_counter, NULL, SCHED_RANDOM, d.seed, d.runs, 0, &found);
	t1 = now_seconds();
	if (err) {
		fprintf(stderr, "cowlab demo: %s\n", cow_strerror(err));
		return EXIT_USAGE;
	}
	if (!found.failed) {
		printf("  no lost update in %" PRIu64 " runs (unexpected)\n", found.runs);
		return EXIT_FOUND;
	}
	printf("  found after %" PRIu64 " run(s) in %.3f s: %s\n", found.runs, t1 - t0,
	       found.message);
	printf("  replay it with:\n");
	print_token(&found.token);
	err = explore_replay(&demo_racy_counter, &found.token, 0, &again);
	if (err || !again.failed || again.fingerprint != found.fingerprint ||
	    again.steps != found.steps) {
		printf("  replay did NOT reproduce the run\n");
		return EXIT_FOUND;
	}
	printf("  replayed: same %" PRIu64 " steps, same schedule (fingerprint %016" PRIx64 ")\n",
	       again.steps, again.fingerprint);

	printf("the same counter under a spinlock:\n");
	t0 = now_seconds();
	err = explore_search(&demo_locked_counter, NULL, SCHED_RANDOM, d.seed, d.runs, 0, &locked);
	t1 = now_seconds();
	if (err) {
		fprintf(stderr, "cowlab demo: %s\n", cow_strerror(err));
		return EXIT_USAGE;
	}
	if (locked.failed) {
		printf("  FAILED: %s\n", locked.message);
		print_token(&locked.token);
		return EXIT_FOUND;
	}
	printf("  %" PRIu64 " runs, no failure (%.0f runs/s); %s\n", locked.runs,
	       (double)locked.runs / (t1 - t0 > 0 ? t1 - t0 : 1e-9),
	       cover_words(explore_result_cover(&locked), SCHED_RANDOM, 0, locked.runs, words,
			   sizeof(words)));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	if (is_help(argv[1])) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("cowlab %s\n", cow_version());
		return 0;
	}
	sync_init();
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "replay") == 0)
		return cmd_replay(argc - 1, argv + 1);
	if (strcmp(argv[1], "explore") == 0)
		return cmd_explore(argc - 1, argv + 1);
	if (strcmp(argv[1], "matrix") == 0)
		return cmd_matrix(argc - 1, argv + 1);
	if (strcmp(argv[1], "merge") == 0)
		return cmd_merge(argc - 1, argv + 1);
	if (strcmp(argv[1], "kernel") == 0)
		return cmd_kernel(argc - 1, argv + 1);
	if (strcmp(argv[1], "diff") == 0)
		return cmd_diff(argc - 1, argv + 1);
	if (strcmp(argv[1], "policies") == 0)
		return cmd_policies(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "compare") == 0)
		return cmd_compare(argc - 1, argv + 1);
	if (strcmp(argv[1], "demo") == 0)
		return cmd_demo(argc - 1, argv + 1);
	fprintf(stderr, "cowlab: unknown command '%s'\n%s", argv[1], usage_main);
	return EXIT_USAGE;
}
