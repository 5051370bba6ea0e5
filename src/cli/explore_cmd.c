/*
 * cowlab explore: search a scenario's schedules for a failing run, then
 * shrink the counterexample and print its trace.
 *
 * With --jobs J the search runs in J worker processes, each a shard of
 * the search (explore.h), reporting to the parent through a pipe; the
 * parent prints the progress, stops the others when one finds a failing
 * run, and shrinks it itself.  --shard I/N makes this whole command one
 * shard of a search split over N machines.
 */
#include "base/hostfile.h"
#include "cli.h"
#include "shard.h"
#include "cowlab.h"
#include "pool.h"
#include "scenario/interp.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A usage text, laid out as it prints. */
// clang-format off
static const char usage_explore[] =
	"usage: cowlab explore FILE [options]\n"
	"\n"
	"Searches the schedules of a scenario (or of a demo program such as\n"
	"racy-counter) for a run that fails a check or an invariant.  A failing\n"
	"run is shrunk to the fewest deviations and preemptions that still fail\n"
	"the same check, and printed as a trace with a 'cowlab replay' line.\n"
	"\n"
	"  --algo A          auto (default): PCT depth 3, PCT depth 2, random and\n"
	"                    dfs with bound 2, one run each in turn;\n"
	"                    pct; random; dpor (every Mazurkiewicz trace once:\n"
	"                    optimal partial-order reduction, no bound, one job);\n"
	"                    dfs-sleep or dfs (every schedule within the bound,\n"
	"                    with sleep sets)\n"
	"  --depth D         PCT depth, 1..8 (default " COW_STR(EXPLORE_DEFAULT_DEPTH) ")\n"
	"  --preemptions K   dfs: the preemption bound (default " COW_STR(
		EXPLORE_DEFAULT_PREEMPTIONS) ")\n"
	"  --no-reduction    dfs without sleep sets: also run the schedules that\n"
	"                    differ only in the order of independent steps\n"
	"  --runs N          stop after N runs (default 100000; dfs, dpor: until done;\n"
	"                    auto: also once its dfs has run every schedule)\n"
	"  --time S          stop after S seconds\n"
	"  --seed S          first seed of random and PCT runs (default 1)\n"
	"  --policy P        a preset from 'cowlab policies' (default: the file's\n"
	"                    policy line, else linux-6.5)\n"
	"  --max-steps N     step limit of a run (default 1000000); a run cut\n"
	"                    there ends in the verdict livelock, and its token\n"
	"                    carries the limit (':max-steps=N') so that replay\n"
	"                    cuts it at the same step\n"
	"  --jobs J          J worker processes (default 1)\n"
	"  --shard I/N       explore shard I (0..N-1) of a search split N ways;\n"
	"                    auto: I and N from a Slurm job array or a Kubernetes\n"
	"                    Indexed Job (docs/scale-out.md)\n"
	"  --shards N        the shard count for --shard auto in a Kubernetes\n"
	"                    Indexed Job (else COWLAB_SHARDS)\n"
	"  --out DIR         also write the result as JSON to\n"
	"                    DIR/explore-I-of-N.json, for cowlab merge DIR\n"
	"  --save FILE       write each run's replay token to FILE before the run\n"
	"                    starts (with --jobs, FILE.0, FILE.1, ...)\n"
	"  --no-shrink       report the failing run as found, unshrunk\n"
	"  --count-traces    count the distinct Mazurkiewicz traces of the runs\n"
	"                    (by Foata normal form, a lower bound; one job), and\n"
	"                    so how many runs repeated a trace\n"
	"  --estimate S      with --algo dpor: search for S seconds, then print how\n"
	"                    many runs the whole search would make (an estimate from\n"
	"                    the shape of the tree so far) and how long that takes\n"
	"  --reduce FILE     shrink the program too: drop statements and make numbers\n"
	"                    smaller while a search of the rest (auto, seed 1, 2000\n"
	"                    runs) fails the same check with the same verdict (and\n"
	"                    stays a race, and passes under linux-6.5, where the\n"
	"                    original does); write the reduced scenario to FILE and\n"
	"                    report its counterexample\n"
	"  --checks C        how the invariants are checked between steps:\n"
	"                    touched (default): what the steps since the last\n"
	"                    check touched; full: everything, at every branch\n"
	"                    (slower); both: both, a disagreement failing the\n"
	"                    run.  Every run ends with the full strict check.\n"
	"                    Same as COWLAB_CHECKS=C, which replay reads too\n"
	MAX_MEMORY_HELP
	"  --json            JSON lines: progress once a second, then the result\n"
	"\n"
	"A search that finds nothing says what that shows: exhaustive (every\n"
	"schedule ran), exhaustive within the preemption bound, or sampled.\n"
	"A search whose every run stopped at a 'require' that did not hold is\n"
	"SKIPPED, with the reason: nothing was judged.\n"
	"Progress goes to a terminal on stderr once a second.  Exit status: 0\n"
	"nothing found (or skipped), 1 a failing run was found, 2 bad input,\n"
	"3 the scenario is wrong: a run ended in the verdict 'error' (an\n"
	"operation failed that the scenario does not mark 'check ... faults'),\n"
	"printed as ERROR rather than FOUND, 130 interrupted (Ctrl-C: the\n"
	"runs made so far are reported).\n";
// clang-format on

struct explore_args {
	const char *file;
	const char *policy;
	const char *save;
	const char *reduce; /* --reduce FILE */
	double estimate;    /* --estimate S: only estimate the search's size */
	struct explore_opts o;
	struct shard_opt sh; /* --shard, --shards, --out */
	bool runs_given, json, no_shrink;
	unsigned int jobs;
	struct explore_target *target; /* what is explored */
};

/* The runs that stopped at a require that did not hold, of those judged
 * (a scenario's; a demo has none), and the first one's reason. */
struct skips {
	uint64_t skipped, judged;
	char reason[512];
};

static void skips_add(struct skips *k, uint64_t skipped, uint64_t judged, const char *reason)
{
	if (skipped && !k->skipped)
		snprintf(k->reason, sizeof(k->reason), "%.500s", reason);
	k->skipped += skipped;
	k->judged += judged;
}

/* The skips of the search that just ran in this process. */
static void skips_of_search(const struct explore_args *a, struct skips *k)
{
	struct scen_result res;

	memset(&res, 0, sizeof(res));
	explore_target_skips(a->target, &res);
	skips_add(k, res.skipped_runs, res.judged_runs, res.message);
}

static int parse_shard(void *args, const char *cmd, const char *opt, const char *val)
{
	return shard_parse(&((struct explore_args *)args)->sh, cmd, opt, val);
}

static int parse_algo(void *args, const char *cmd, const char *opt, const char *val)
{
	static const struct {
		const char *name;
		enum sched_algo algo;
	} algos[] = {
		{"auto", SCHED_AUTO}, {"pct", SCHED_PCT},	{"random", SCHED_RANDOM},
		{"dfs", SCHED_DFS},   {"dfs-sleep", SCHED_DFS}, {"dpor", SCHED_DPOR},
	};

	(void)opt;
	for (size_t i = 0; i < ARRAY_SIZE(algos); i++)
		if (strcmp(val, algos[i].name) == 0) {
			((struct explore_args *)args)->o.algo = algos[i].algo;
			return 0;
		}
	fprintf(stderr,
		"cowlab %s: unknown algorithm '%s' (auto, pct, random, dfs-sleep or dpor)\n", cmd,
		val);
	return -1;
}

/* --checks: kept in the environment, where the scenario layer reads it
 * (in worker processes too) and replay finds it. */
static int parse_checks(void *args, const char *cmd, const char *opt, const char *val)
{
	(void)args;
	if (strcmp(val, "touched") && strcmp(val, "full") && strcmp(val, "both")) {
		fprintf(stderr, "cowlab %s: %s takes touched, full or both, not '%s'\n", cmd, opt,
			val);
		return -1;
	}
	return setenv("COWLAB_CHECKS", val, 1) == 0 ? 0 : -1;
}

/* --runs: a number, and given (without it the default depends on --time). */
static int parse_runs(void *args, const char *cmd, const char *opt, const char *val)
{
	struct explore_args *a = args;

	a->runs_given = true;
	return parse_count(cmd, opt, val, 1, UINT64_MAX, &a->o.runs);
}

static const struct cli_opt explore_opts[] = {
	OPT_CALL_TO("--algo", parse_algo),
	OPT_AT("--policy", OPT_POLICY, struct explore_args, policy),
	OPT_CALL_TO("--shard", parse_shard),
	OPT_NUM_AT("--shards", OPT_UINT, struct explore_args, sh.shards_flag, 1, 1u << 20),
	OPT_AT("--out", OPT_TEXT, struct explore_args, sh.out),
	OPT_AT("--save", OPT_TEXT, struct explore_args, save),
	OPT_AT("--reduce", OPT_TEXT, struct explore_args, reduce),
	OPT_AT("--estimate", OPT_SECONDS, struct explore_args, estimate),
	OPT_AT("--time", OPT_SECONDS, struct explore_args, o.time),
	OPT_NUM_AT("--depth", OPT_UINT, struct explore_args, o.depth, 1, SCHED_PCT_MAX_DEPTH),
	OPT_NUM_AT("--preemptions", OPT_UINT, struct explore_args, o.preemptions, 0, 64),
	OPT_CALL_TO("--runs", parse_runs),
	OPT_CALL_TO("--checks", parse_checks),
	OPT_NUM_AT("--seed", OPT_U64, struct explore_args, o.seed, 0, UINT64_MAX),
	OPT_NUM_AT("--max-steps", OPT_U64, struct explore_args, o.max_steps, 0, UINT64_MAX),
	OPT_NUM_AT("--jobs", OPT_UINT, struct explore_args, jobs, 1, 256),
	OPT_FLAG_AT("--json", struct explore_args, json),
	OPT_FLAG_AT("--no-shrink", struct explore_args, no_shrink),
	OPT_FLAG_AT("--count-traces", struct explore_args, o.count_traces),
	OPT_FLAG_AT("--no-reduction", struct explore_args, o.no_reduction),
	OPT_MAX_MEMORY,
	OPT_END,
};

/* 0 to go on, -1 after --help, else the exit code. */
static int parse_explore_args(int argc, char **argv, struct explore_args *a)
{
	const char **files = calloc((size_t)argc, sizeof(*files));
	int nr = 0, code;

	a->o.algo = SCHED_AUTO;
	a->o.depth = EXPLORE_DEFAULT_DEPTH;
	a->o.preemptions = EXPLORE_DEFAULT_PREEMPTIONS;
	a->o.seed = 1;
	a->sh.shards = 1;
	a->jobs = 1;
	code = files ? cli_parse("explore", explore_opts, a, usage_explore, argc, argv, files, &nr)
		     : EXIT_USAGE;
	if (!code && nr > 1) {
		fprintf(stderr, "cowlab explore: one file at a time ('%s', '%s')\n", files[0],
			files[1]);
		code = EXIT_USAGE;
	}
	if (!code && nr == 0) {
		fprintf(stderr, "cowlab explore: no scenario file given\n%s", usage_explore);
		code = EXIT_USAGE;
	}
	a->file = nr > 0 ? files[0] : NULL;
	free(files);
	if (code)
		return code;
	if (shard_resolve(&a->sh, "explore") != 0)
		return EXIT_USAGE;
	a->o.shard = a->sh.shard;
	a->o.nr_shards = a->sh.shards;
	/* A shard's traces are joined with the other shards' by merge. */
	a->o.keep_forms = a->o.count_traces && a->sh.out;
	if (a->sh.out && (a->reduce || a->estimate > 0)) {
		fprintf(stderr, "cowlab explore: --out writes a search's result, not --reduce's or "
				"--estimate's\n");
		return EXIT_USAGE;
	}
	if (!a->runs_given && a->o.time == 0 && a->o.algo != SCHED_DFS && a->o.algo != SCHED_DPOR)
		a->o.runs = 100000;
	if (a->o.algo == SCHED_DPOR && (a->jobs > 1 || a->o.nr_shards > 1)) {
		fprintf(stderr, "cowlab explore: --algo dpor runs in one job (--jobs 1), "
				"unsharded\n");
		return EXIT_USAGE;
	}
	if (a->o.count_traces && a->jobs > 1) {
		fprintf(stderr, "cowlab explore: --count-traces counts in one job (--jobs 1)\n");
		return EXIT_USAGE;
	}
	if (a->estimate > 0) {
		if (a->o.algo != SCHED_DPOR) {
			fprintf(stderr, "cowlab explore: --estimate estimates a search of "
					"--algo dpor\n");
			return EXIT_USAGE;
		}
		if (a->jobs > 1 || a->reduce) {
			fprintf(stderr,
				"cowlab explore: --estimate runs one job, without --reduce\n");
			return EXIT_USAGE;
		}
		a->o.time = a->estimate;
	}
	/* Once dfs has run every schedule there is, nothing is left to find. */
	a->o.stop_exhaustive = true;
	return 0;
}

/* What makes the runs of a shard (--out): the program, the policy, and the
 * options that choose its runs.  Every shard of one search has the same. */
static const char *search_key(const struct explore_args *a, const struct explore_prog *p,
			      const char *policy, char *buf, size_t len)
{
	const char *checks = getenv("COWLAB_CHECKS");

	snprintf(buf, len,
		 "explore %s (%016" PRIx64 ") --policy %s --algo %s --seed %" PRIu64
		 " --runs %" PRIu64 " --time %g --depth %u --preemptions %u --max-steps %" PRIu64
		 "%s%s --checks %s",
		 a->file, p->hash, policy, sched_algo_name(a->o.algo), a->o.seed, a->o.runs,
		 a->o.time, a->o.depth, a->o.preemptions, a->o.max_steps,
		 a->o.no_reduction ? " --no-reduction" : "",
		 a->o.count_traces ? " --count-traces" : "", checks ? checks : "touched");
	return buf;
}

/* --estimate: what the search made in its time, and what the whole would
 * take at that rate. */
static void report_estimate(const struct explore_args *a, const char *policy,
			    const struct explore_result *r)
{
	uint64_t made = r->runs + r->uncounted;
	double rate = r->elapsed > 0 ? (double)made / r->elapsed : 0;
	double left =
		rate > 0 && r->estimate > (double)made ? (r->estimate - (double)made) / rate : 0;
	bool done = r->dfs_done;

	if (a->json) {
		printf("{\"type\":\"estimate\",\"file\":");
		json_string(stdout, a->file);
		printf(",\"policy\":");
		json_string(stdout, policy);
		printf(",\"done\":%s,\"runs\":%" PRIu64 ",\"elapsed\":%.3f,\"estimate\":%.0f,"
		       "\"seconds_left\":%.0f}\n",
		       done ? "true" : "false", made, r->elapsed, r->estimate, left);
		return;
	}
	if (done) {
		printf("%s (%s): the search is done: %" PRIu64 " runs in %.2f s, nothing found\n",
		       a->file, policy, made, r->elapsed);
		return;
	}
	printf("%s (%s): about %.3g runs in all (an estimate: %" PRIu64
	       " made in %.2f s, %.0f runs/s);\n"
	       "  at that rate the rest takes about %.0f s (%.1f h)\n",
	       a->file, policy, r->estimate, made, r->elapsed, rate, left, left / 3600);
}

/* ---- progress -------------------------------------------------------------------- */

struct progress {
	bool json, tty;
	double last_elapsed;
	uint64_t last_runs;
	bool printed;
};

static void show_progress(struct progress *pr, const struct explore_stats *st)
{
	double dt = st->elapsed - pr->last_elapsed;
	double rate = dt > 0 ? (double)(st->runs - pr->last_runs) / dt : 0;

	pr->last_elapsed = st->elapsed;
	pr->last_runs = st->runs;
	if (pr->json) {
		printf("{\"type\":\"progress\",\"runs\":%" PRIu64 ",\"runs_per_s\":%.0f,"
		       "\"distinct\":%" PRIu64 ",\"max_preemptions\":%u,\"bound\":%u,"
		       "\"dfs_done\":%s,\"estimate\":%.0f,\"elapsed\":%.2f}\n",
		       st->runs, rate, st->distinct, st->max_preemptions, st->bound,
		       st->dfs_done ? "true" : "false", st->estimate, st->elapsed);
		fflush(stdout);
	} else if (pr->tty) {
		char bound[48] = "", est[64] = "";

		if (st->bound)
			snprintf(bound, sizeof(bound), ", dfs bound %u%s", st->bound,
				 st->dfs_done ? " done" : "");
		if (st->estimate > 0)
			snprintf(est, sizeof(est), " of about %.3g", st->estimate);
		fprintf(stderr,
			"\r  %" PRIu64 " runs%s, %.0f runs/s, %" PRIu64
			" distinct schedules, up to %u preemptions%s, %.0f s   ",
			st->runs, est, rate, st->distinct, st->max_preemptions, bound, st->elapsed);
		pr->printed = true;
	}
}

static void progress_cb(void *arg, const struct explore_stats *st)
{
	show_progress(arg, st);
}

/* End the terminal's progress line. */
static void end_progress(struct progress *pr)
{
	if (pr->printed && pr->tty && !pr->json)
		fputc('\n', stderr);
}

/* ---- persisting the token of the run in progress ---------------------------------- */

static int save_fd = -1;

static void save_token(void *arg, const struct explore_token *t)
{
	char buf[EXPLORE_TOKEN_MAX + 1];
	int n;

	(void)arg;
	if (save_fd < 0 || explore_token_format(t, buf, sizeof(buf) - 1) != 0)
		return;
	n = (int)strlen(buf);
	buf[n++] = '\n';
	if (pwrite(save_fd, buf, (size_t)n, 0) == n)
		(void)!ftruncate(save_fd, n);
}

/* A run that crashes the process still names itself. */
static void crash_handler(int sig)
{
	static struct explore_token t;
	char buf[EXPLORE_TOKEN_MAX];

	if (explore_current_token(&t) == 0 && explore_token_format(&t, buf, sizeof(buf)) == 0) {
		(void)!write(2, "cowlab explore: crashed in the run of token ", 44);
		(void)!write(2, buf, strlen(buf));
		(void)!write(2, "\n", 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static volatile int stop_flag;

static void stop_handler(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int open_save(const char *save, int job, unsigned int jobs)
{
	char path[4096];

	if (!save)
		return 0;
	if (jobs > 1)
		snprintf(path, sizeof(path), "%s.%d", save, job);
	else
		snprintf(path, sizeof(path), "%s", save);
	save_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (save_fd < 0) {
		fprintf(stderr, "cowlab explore: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- workers ----------------------------------------------------------------------- */

/* What a worker sends its parent: progress, then one final message. */
struct worker_msg {
	int final, err, failed, dfs_done, exhaustive;
	uint64_t runs, distinct, uncounted;
	unsigned int max_preemptions;
	char token[EXPLORE_TOKEN_MAX];
	char message[2048];
	struct skips skips;
};

static void worker_progress(void *arg, const struct explore_stats *st)
{
	struct worker_msg m = {
		.runs = st->runs,
		.distinct = st->distinct,
		.uncounted = st->uncounted,
		.max_preemptions = st->max_preemptions,
		.dfs_done = st->dfs_done,
	};

	(void)!fd_write_full(*(int *)arg, &m, sizeof(m));
}

static void run_worker(const struct explore_prog *p, const char *policy,
		       const struct explore_args *a, unsigned int j, int fd)
{
	struct explore_opts o = a->o;
	struct explore_result *r = calloc(1, sizeof(*r));
	struct worker_msg m = {.final = 1};

	o.shard = a->o.shard * a->jobs + j;
	o.nr_shards = a->o.nr_shards * a->jobs;
	if (o.runs)
		o.runs = o.runs / a->jobs + (j < o.runs % a->jobs);
	o.progress = worker_progress;
	o.before_run = save_token;
	o.arg = &fd;
	o.stop = &stop_flag;
	if (!r || open_save(a->save, (int)j, a->jobs) != 0) {
		m.err = COW_ENOMEM;
	} else {
		m.err = explore_run_search(p, policy, &o, r);
		m.failed = r->failed;
		m.runs = r->runs;
		m.distinct = r->distinct;
		m.uncounted = r->uncounted;
		m.dfs_done = r->dfs_done;
		m.exhaustive = r->exhaustive;
		if (r->failed)
			explore_token_format(&r->token, m.token, sizeof(m.token));
		snprintf(m.message, sizeof(m.message), "%s", r->message);
		skips_of_search(a, &m.skips);
	}
	(void)!fd_write_full(fd, &m, sizeof(m));
	_exit(0);
}

/* The parent's view of a search spread over workers. */
struct jobs_run {
	const struct explore_prog *p;
	const char *policy;
	const struct explore_args *a;
	struct wpool pool;
	struct worker_msg *last; /* each worker's latest message */
	struct explore_result *r;
	struct skips *sk;
	int err;
};

static void serve_shard(void *ctx, unsigned int j, int cmd_fd, int res_fd)
{
	struct jobs_run *jr = ctx;

	(void)cmd_fd;
	run_worker(jr->p, jr->policy, jr->a, j, res_fd);
}

static int shard_message(void *ctx, unsigned int j, const void *data)
{
	struct jobs_run *jr = ctx;
	const struct worker_msg *m = data;
	struct explore_result *r = jr->r;

	jr->last[j] = *m;
	if (!m->final)
		return 0;
	skips_add(jr->sk, m->skips.skipped, m->skips.judged, m->skips.reason);
	if (m->err && !jr->err)
		jr->err = m->err;
	if (m->failed && !r->failed) {
		char why[160];

		r->failed = true;
		if (explore_token_parse(m->token, &r->token, why, sizeof(why)) != 0)
			jr->err = COW_EINVAL;
		snprintf(r->message, sizeof(r->message), "%s", m->message);
		/* Found: the other shards stop. */
		for (unsigned int k = 0; k < jr->pool.nr; k++)
			if (k != j)
				wpool_kill(&jr->pool, k, SIGTERM);
	}
	return 0;
}

static void shard_ended(void *ctx, unsigned int j, int status)
{
	struct jobs_run *jr = ctx;

	(void)status;
	if (!jr->last[j].final && !jr->err && !jr->r->failed && !stop_flag) {
		snprintf(jr->r->message, sizeof(jr->r->message), "worker %u ended without a result",
			 j);
		jr->err = COW_EIO;
	}
}

static const struct wpool_ops shard_ops = {
	.serve = serve_shard,
	.message = shard_message,
	.ended = shard_ended,
	.msg_size = sizeof(struct worker_msg),
};

/* Run the search in a->jobs workers; the first failing run's token goes to
 * r->token, the workers' skips into sk.  Returns 0 or a COW_E* code. */
static int run_jobs(const struct explore_prog *p, const char *policy, const struct explore_args *a,
		    struct progress *pr, struct explore_result *r, struct skips *sk)
{
	struct jobs_run jr = {.p = p, .policy = policy, .a = a, .r = r, .sk = sk};
	unsigned int n = a->jobs;
	double start = now_seconds(), shown = start;

	jr.last = calloc(n, sizeof(*jr.last));
	if (!jr.last || wpool_init(&jr.pool, n, &shard_ops, &jr) != 0) {
		free(jr.last);
		return COW_ENOMEM;
	}
	for (unsigned int j = 0; j < n && !jr.err; j++)
		if (wpool_start(&jr.pool, j) != 0)
			jr.err = COW_ENOMEM;
	while (!jr.err && !stop_flag && wpool_live(&jr.pool) > 0) {
		if (wpool_poll(&jr.pool, 200) != 0)
			break;
		if (now_seconds() - shown >= 1.0) {
			bool dfs = a->o.algo == SCHED_DFS || a->o.algo == SCHED_AUTO;
			struct explore_stats st = {.elapsed = now_seconds() - start,
						   .bound = dfs ? explore_dfs_bound(&a->o) : 0};

			shown = now_seconds();
			st.dfs_done = true;
			for (unsigned int j = 0; j < n; j++) {
				st.runs += jr.last[j].runs;
				st.distinct += jr.last[j].distinct;
				st.uncounted += jr.last[j].uncounted;
				if (jr.last[j].max_preemptions > st.max_preemptions)
					st.max_preemptions = jr.last[j].max_preemptions;
				st.dfs_done &= jr.last[j].dfs_done;
			}
			show_progress(pr, &st);
		}
	}
	/* Workers still searching (stopped, or a worker's error) end now. */
	wpool_destroy(&jr.pool, wpool_live(&jr.pool) ? SIGTERM : 0);
	r->dfs_done = r->exhaustive = true;
	for (unsigned int j = 0; j < n; j++) {
		r->runs += jr.last[j].runs;
		r->distinct += jr.last[j].distinct;
		r->uncounted += jr.last[j].uncounted;
		r->dfs_done &= jr.last[j].dfs_done != 0;
		r->exhaustive &= jr.last[j].exhaustive != 0;
	}
	r->dfs_bound = explore_dfs_bound(&a->o);
	r->elapsed = now_seconds() - start;
	free(jr.last);
	return jr.err;
}

/* ---- reporting --------------------------------------------------------------------- */

/* What the search covered, in words; a shard's search covers its part. */
static const char *search_words(const struct explore_args *a, const struct explore_result *r,
				char *buf, size_t len)
{
	size_t n;

	cover_words(explore_result_cover(r), a->o.algo, r->dfs_bound, r->runs, buf, len);
	n = strlen(buf);
	if (a->o.nr_shards > 1 && n < len)
		snprintf(buf + n, len - n, " (of shard %u/%u's part)", a->o.shard, a->o.nr_shards);
	return buf;
}

static void report_none(FILE *f, bool json, const struct explore_args *a, const char *policy,
			const struct explore_result *r, const struct skips *k)
{
	double rate = r->elapsed > 0 ? (double)r->runs / r->elapsed : 0;
	enum explore_cover cover = explore_result_cover(r);
	char words[160];

	if (json) {
		fprintf(f, "{\"type\":\"result\",\"file\":");
		json_string(f, a->file);
		fprintf(f, ",\"policy\":");
		json_string(f, policy);
		fprintf(f, ",\"found\":false,\"search\":\"%s\"", explore_cover_name(cover));
		if (cover == EXPLORE_BOUNDED)
			fprintf(f, ",\"bound\":%u", r->dfs_bound);
		fprintf(f,
			",\"runs\":%" PRIu64 ",\"distinct\":%" PRIu64 ",\"uncounted\":%" PRIu64
			",\"dfs_done\":%s,\"elapsed\":%.3f,\"runs_per_s\":%.0f",
			r->runs, r->distinct, r->uncounted, r->dfs_done ? "true" : "false",
			r->elapsed, rate);
		if (a->o.algo == SCHED_DPOR)
			fprintf(f, ",\"divergences\":%" PRIu64, r->divergences);
		if (a->o.count_traces)
			fprintf(f, ",\"traces\":%" PRIu64 ",\"traces_digest\":\"%016" PRIx64 "\"",
				r->traces, r->traces_digest);
		if (k->skipped) {
			fprintf(f, ",\"skipped_runs\":%" PRIu64 ",\"skip_reason\":", k->skipped);
			json_string(f, k->reason);
		}
		fprintf(f, "}\n");
		return;
	}
	fprintf(f, "%s: nothing found (%s), %s\n", a->file, policy,
		search_words(a, r, words, sizeof(words)));
	fprintf(f, "  %" PRIu64 " runs, %" PRIu64 " distinct schedules", r->runs, r->distinct);
	if (r->uncounted)
		fprintf(f, " (and %" PRIu64 " runs cut short: repeats or other shards')",
			r->uncounted);
	fprintf(f, ", %.2f s (%.0f runs/s)\n", r->elapsed, rate);
	if (a->o.count_traces)
		fprintf(f,
			"  %" PRIu64 " distinct traces by Foata normal form (a lower bound: "
			"traces whose steps differ only in the objects they touch share a "
			"form); %" PRIu64 " counted runs share a form with an earlier run\n",
			r->traces, r->runs - r->traces);
	if (r->divergences)
		fprintf(f,
			"  %" PRIu64
			" branch%s of dpor's wakeup trees could not be followed (the task "
			"a sequence names could not run there): not a proof, whether or not the "
			"search ran to its end\n",
			r->divergences, r->divergences == 1 ? "" : "es");
	if (k->skipped)
		fprintf(f,
			"  %" PRIu64 " of %" PRIu64
			" judged runs stopped at a require that did not "
			"hold: %s\n",
			k->skipped, k->judged, k->reason);
}

/* Every run stopped at a require that did not hold: a skip, not a pass. */
static void report_skipped(FILE *f, bool json, const struct explore_args *a, const char *policy,
			   const struct skips *k)
{
	if (json) {
		fprintf(f, "{\"type\":\"result\",\"file\":");
		json_string(f, a->file);
		fprintf(f, ",\"policy\":");
		json_string(f, policy);
		fprintf(f, ",\"found\":false,\"skipped\":true,\"runs\":%" PRIu64 ",\"reason\":",
			k->judged);
		json_string(f, k->reason);
		fprintf(f, "}\n");
		return;
	}
	fprintf(f,
		"%s: SKIPPED (%s): every one of %" PRIu64 " runs stopped at a require that did "
		"not hold, so nothing was judged\n  skipped: %s\n",
		a->file, policy, k->judged, k->reason);
}

/* Shrink the failing run, then print it to stdout, and as JSON to out
 * (a shard's result file) unless it is NULL. */
static int report_found(const struct explore_args *a, const struct explore_prog *p,
			const char *policy, const struct explore_result *found, FILE *out)
{
	struct explore_token *shrunk = malloc(sizeof(*shrunk));
	struct explore_result *sr = malloc(sizeof(*sr));
	char tok[EXPLORE_TOKEN_MAX], orig[EXPLORE_TOKEN_MAX], verdict[64];
	FILE *trace = NULL;
	char *trace_text = NULL;
	size_t trace_len = 0;
	int shown = -1, err = 0;
	double t0 = now_seconds();
	const char *checks = getenv("COWLAB_CHECKS"); /* the run replays under them */

	if (!shrunk || !sr) {
		free(shrunk);
		free(sr);
		fprintf(stderr, "cowlab explore: out of memory\n");
		return EXIT_USAGE;
	}
	if (explore_token_format(&found->token, orig, sizeof(orig)) != 0)
		snprintf(orig, sizeof(orig), "?");
	*shrunk = found->token;
	if (!a->no_shrink)
		err = explore_shrink(p, &found->token, 0, shrunk, sr);
	if (!err)
		trace = open_memstream(&trace_text, &trace_len);
	if (trace) {
		shown = explore_trace(p, shrunk, trace, sr);
		fclose(trace);
	}
	if (err || shown < 0) {
		fprintf(stderr, "cowlab explore: replaying the failing run: %s\n",
			cow_strerror(err ? err : shown));
		free(trace_text);
		free(shrunk);
		free(sr);
		return EXIT_USAGE;
	}
	if (explore_token_format(shrunk, tok, sizeof(tok)) != 0)
		snprintf(tok, sizeof(tok), "%s", orig);
	{
		const char *colon = strstr(sr->message, ": ");
		size_t n = colon ? (size_t)(colon - sr->message) : 0;

		if (n == 0 || n >= sizeof(verdict) || strchr(sr->message, ' ') < colon)
			snprintf(verdict, sizeof(verdict), "%s", sched_verdict_name(sr->verdict));
		else
			snprintf(verdict, sizeof(verdict), "%.*s", (int)n, sr->message);
	}
	for (int pass = 0; pass < 2; pass++) {
		FILE *f = pass ? out : stdout;
		bool json = pass || a->json;

		if (!f)
			continue;
		if (json) {
			fprintf(f, "{\"type\":\"result\",\"file\":");
			json_string(f, a->file);
			fprintf(f, ",\"policy\":");
			json_string(f, policy);
			fprintf(f, ",\"found\":true,\"search\":\"found\",\"verdict\":");
			json_string(f, verdict);
			fprintf(f, ",\"message\":");
			json_string(f, sr->message);
			fprintf(f, ",\"token\":");
			json_string(f, tok);
			fprintf(f, ",\"found_by\":");
			json_string(f, orig);
			fprintf(f,
				",\"preemptions\":%u,\"deviations\":%u,\"visible_steps\":%d,"
				"\"steps\":"
				"%" PRIu64 ",\"runs\":%" PRIu64
				",\"elapsed\":%.3f,\"shrink_s\":%.3f,\"trace\":",
				sr->preemptions,
				shrunk->algo == SCHED_DIRECTED ? shrunk->nr_devs : 0, shown,
				sr->steps, found->runs, found->elapsed, now_seconds() - t0);
			json_string(f, trace_text ? trace_text : "");
			/* The same trace as events, for other tools (docs/explorer.md). */
			fprintf(f, ",\"trace_events\":");
			fflush(f);
			if (explore_trace_json(p, shrunk, f, sr) < 0)
				fprintf(f, "null");
			fprintf(f, "}\n");
		} else if (verdict_is_error(verdict)) {
			fprintf(f,
				"%s: ERROR (%s) in run %" PRIu64
				" after %.2f s: the scenario is wrong: an "
				"operation failed that it does not mark 'check ... faults'\n",
				a->file, policy, found->runs, found->elapsed);
		} else {
			fprintf(f,
				"%s: FOUND %s (%s) in run %" PRIu64
				" after %.2f s: a counterexample\n",
				a->file, verdict, policy, found->runs, found->elapsed);
		}
		if (!json) {
			fprintf(f, "  %s\n", sr->message);
			if (strcmp(verdict, "livelock") == 0 && a->o.max_steps)
				fprintf(f,
					"  (the run reached --max-steps %" PRIu64
					": raise it if the scenario needs more steps; the token "
					"replays under the same limit)\n",
					a->o.max_steps);
			fprintf(f, "  found by   %s\n", orig);
			if (!a->no_shrink)
				fprintf(f,
					"  shrunk to  %u preemptions, %d visible steps of %" PRIu64
					" (%.2f s)\n",
					sr->preemptions, shown, sr->steps, now_seconds() - t0);
			fputs(trace_text ? trace_text : "", f);
			fprintf(f, "replay it with:\n  %s%s%scowlab replay %s\n",
				checks ? "COWLAB_CHECKS=" : "", checks ? checks : "",
				checks ? " " : "", tok);
		}
	}
	free(trace_text);
	free(shrunk);
	free(sr);
	return verdict_is_error(verdict) ? EXIT_SCENARIO : EXIT_FOUND;
}

/* --reduce: shrink the program that failed, explore the reduced one as
 * the reduction did (auto, seed 1, its budget), and report that. */
static int reduce_and_report(struct explore_args *a, struct explore_target **target,
			     const struct explore_prog **p, const char **policy,
			     struct explore_result *r)
{
	const char *colon = strstr(r->message, ": ");
	struct reduce_stats st;
	char verdict[64], pol[COW_POLICY_NAME_MAX];
	int code;

	if (!colon || (size_t)(colon - r->message) >= sizeof(verdict)) {
		fprintf(stderr, "cowlab explore: --reduce: no verdict in '%.200s'\n", r->message);
		return EXIT_USAGE;
	}
	snprintf(verdict, sizeof(verdict), "%.*s", (int)(colon - r->message), r->message);
	if (verdict_is_error(verdict))
		return report_found(a, *p, *policy, r, NULL);
	if (!a->json)
		printf("%s: FOUND %s (%s) in run %" PRIu64 "; reducing the program...\n", a->file,
		       verdict, *policy, r->runs);
	code = explore_reduce(a->file, a->reduce, *policy, verdict, colon + 2, &st);
	if (code)
		return code;
	if (a->json)
		printf("{\"type\":\"reduced\",\"from\":");
	else
		printf("reduced %s from %d to %d statements (%u candidates searched, %u changes "
		       "kept): %s\n",
		       a->file, st.lines_before, st.lines_after, st.tried, st.kept, a->reduce);
	if (a->json) {
		json_string(stdout, a->file);
		printf(",\"file\":");
		json_string(stdout, a->reduce);
		printf(",\"statements_before\":%d,\"statements_after\":%d,\"candidates\":%u,"
		       "\"kept\":%u}\n",
		       st.lines_before, st.lines_after, st.tried, st.kept);
	}
	snprintf(pol, sizeof(pol), "%s", *policy); /* the target holds *policy */
	explore_target_free(*target);
	*target = NULL;
	code = explore_target_open(a->reduce, pol, "explore", target, p, policy);
	if (code)
		return code;
	a->target = *target;
	a->file = a->reduce;
	a->o = explore_auto_opts(1, REDUCE_SEARCH_RUNS, 0);
	memset(r, 0, sizeof(*r));
	if (explore_run_search(*p, *policy, &a->o, r) != 0 || !r->failed) {
		fprintf(stderr,
			"cowlab explore: --reduce: %s did not fail when explored again (%.200s)\n",
			a->reduce, r->message);
		return EXIT_USAGE;
	}
	return report_found(a, *p, *policy, r, NULL);
}

int cmd_explore(int argc, char **argv)
{
	struct explore_args a = {0};
	struct progress pr = {0};
	struct explore_target *target;
	const struct explore_prog *p;
	struct explore_result *r;
	struct skips k = {0};
	const char *policy;
	FILE *out = NULL; /* --out: the shard's result file */
	int code = parse_explore_args(argc, argv, &a), err;

	if (code)
		return code < 0 ? 0 : code;
	code = explore_target_open(a.file, a.policy, "explore", &target, &p, &policy);
	if (code)
		return code;
	if (a.reduce && !target) {
		fprintf(stderr,
			"cowlab explore: --reduce reduces a scenario file, not the demo '%s'\n",
			a.file);
		return EXIT_USAGE;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		explore_target_free(target);
		return EXIT_USAGE;
	}
	pr.json = a.json;
	pr.tty = isatty(2);
	signal(SIGINT, stop_handler);
	signal(SIGTERM, stop_handler);
	signal(SIGSEGV, crash_handler);
	signal(SIGBUS, crash_handler);
	signal(SIGABRT, crash_handler);
	a.target = target;
	if (a.jobs > 1) {
		err = run_jobs(p, policy, &a, &pr, r, &k);
	} else if (open_save(a.save, 0, 1) != 0) {
		err = COW_EINVAL;
	} else {
		a.o.progress = progress_cb;
		a.o.before_run = save_token;
		a.o.arg = &pr;
		a.o.stop = &stop_flag;
		err = explore_run_search(p, policy, &a.o, r);
		skips_of_search(&a, &k);
	}
	end_progress(&pr);
	if (save_fd >= 0)
		close(save_fd);
	if (!err && a.sh.out) {
		char search[1024];

		out = shard_open(&a.sh, "explore", "explore",
				 search_key(&a, p, policy, search, sizeof(search)));
		if (!out)
			err = COW_EIO;
	}
	if (err) {
		if (!a.sh.out || out)
			fprintf(stderr, "cowlab explore: %s\n",
				r->message[0] ? r->message : cow_strerror(err));
		code = EXIT_USAGE;
	} else if (a.estimate > 0 && !r->failed) {
		report_estimate(&a, policy, r);
	} else if (r->failed && a.reduce && !stop_flag) {
		code = reduce_and_report(&a, &target, &p, &policy, r);
	} else if (r->failed) {
		code = report_found(&a, p, policy, r, out);
	} else if (k.judged > 0 && k.skipped == k.judged) {
		report_skipped(stdout, a.json, &a, policy, &k);
		if (out)
			report_skipped(out, true, &a, policy, &k);
		code = 0;
	} else {
		report_none(stdout, a.json, &a, policy, r, &k);
		if (out)
			report_none(out, true, &a, policy, r, &k);
		code = 0;
	}
	if (out && r->forms) {
		fputs(",\"forms\":[", out);
		for (uint64_t i = 0; i < r->traces; i++)
			fprintf(out, "%s\"%016" PRIx64 "\"", i ? "," : "", r->forms[i]);
		fputs("]", out);
	}
	if (out && shard_close(out, &a.sh, "explore", "explore", !stop_flag) != 0)
		code = EXIT_USAGE;
	free(r->forms);
	if (a.reduce && code == 0 && !r->failed)
		fprintf(stderr,
			"cowlab explore: --reduce: no run failed, so there is nothing to "
			"reduce (%s not written)\n",
			a.reduce);
	/* Ctrl-C: what ran is reported above; the status says it stopped. */
	if (stop_flag && !r->failed && code == 0) {
		fprintf(stderr,
			"cowlab explore: interrupted: the search stopped after %" PRIu64 " runs\n",
			r->runs);
		code = EXIT_INTERRUPTED;
	}
	free(r);
	explore_target_free(target);
	return code;
}
