/*
 * cowlab matrix: explore every scenario under every preset and print the
 * verdicts as a table, one row per scenario and one column per preset,
 * each cell held against the verdict the scenario's expect lines document
 * (scenario.h).  It answers "which era loses which data" in one command
 * and says where the model and the documented history disagree.
 *
 * A cell is what `cowlab explore FILE --policy P` does, without shrinking:
 * the scenario as an explore program (explore_target_scenario, which
 * explore uses too), explore_run_search with the auto algorithm, stopping
 * at the first failing run, and scen_result_from_explore for its verdict.
 * Its budget is --runs (and --time, if given: whichever ends first); a
 * search whose dfs has run every schedule there is
 * (explore_result.exhaustive: a scenario without concurrency has one)
 * stops at once.  The default budget is runs alone, so that a loaded
 * machine gives the same verdicts as an idle one.
 *
 * Cells are independent.  --jobs J worker processes (fork) each take one
 * cell at a time from the parent, which holds the queue, over a pipe, and
 * send back one result over another.  A worker that dies in a cell (an
 * abort in the memory manager, a segfault) costs only that cell, reported
 * as `crash` with the token of the run in progress where the worker could
 * still name it; the parent forks a new worker for the cells left.  A
 * worker still in one cell after --cell-timeout seconds is killed by the
 * parent (a watchdog: a hang in the memory manager, or a machine too slow
 * for the budget, cannot hang the command) and its cell is `timeout`.
 * Neither `crash` nor `timeout` is a verdict of the scenario: the summary
 * counts them apart from the counterexamples.
 */
#include "base/hostfile.h"
#include "cli.h"
#include "cowlab.h"
#include "json.h"
#include "pool.h"
#include "scenario/interp.h"
#include "shard.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A usage text, laid out as it prints. */
// clang-format off
static const char usage_matrix[] =
	"usage: cowlab matrix [DIR|FILE...] [options]\n"
	"\n"
	"Explores every scenario under every policy preset and prints a table:\n"
	"one row per scenario, one column per preset, each cell the verdict\n"
	"found (pass, or the failing check's verdict: a counterexample).  A pass\n"
	"says what it rests on: 'pass' every schedule ran, 'pass(K)' every one\n"
	"within K preemptions, 'pass~' sampled.  A cell that differs from the\n"
	"scenario's 'expect' line for that preset is marked '!'; one that no\n"
	"expect line covers is marked '?' and counts as a difference.  A DIR\n"
	"stands for its *.cow files, sorted by name (default: scenarios/matrix,\n"
	"or where cowlab is installed, its share/cowlab/scenarios/matrix).\n"
	"\n"
	"  --policy P1,P2,... the presets to run, in this order (default: all of\n"
	"                    'cowlab policies', in its order)\n"
	"  --runs N          runs per cell at most (default 2000); a cell whose\n"
	"                    every schedule has run stops before\n"
	"  --time S          seconds per cell at most as well (default: none, so\n"
	"                    that a loaded machine gives the same verdicts)\n"
	"  --cell-timeout S  kill a worker still in one cell after S seconds and\n"
	"                    mark the cell 'timeout' (default 300, plus --time and\n"
	"                    --prove)\n"
	"  --prove S         search each cell that passes, and has not run every\n"
	"                    schedule, with dpor for up to S seconds: if dpor runs\n"
	"                    every trace the pass is proven (no mark); if it finds\n"
	"                    a failing run, that is the cell's verdict\n"
	"  --seed S          first seed of the random and PCT runs (default 1)\n"
	"  --jobs J          J worker processes (default: the online CPUs)\n"
	"  --shard I/N       run shard I (0..N-1) of the matrix split N ways: every\n"
	"                    N-th cell, or with more shards than cells a part of\n"
	"                    each cell's search (its runs shared out, no --prove);\n"
	"                    auto: I and N from a Slurm job array or a Kubernetes\n"
	"                    Indexed Job (docs/scale-out.md)\n"
	"  --shards N        the shard count for --shard auto in a Kubernetes\n"
	"                    Indexed Job (else COWLAB_SHARDS)\n"
	"  --out DIR         also write the shard's cells as JSON to\n"
	"                    DIR/matrix-I-of-N.json, for cowlab merge DIR\n"
	MAX_MEMORY_HELP
	"  --markdown        a markdown table\n"
	"  --json            one JSON document, with a replay token for every\n"
	"                    failing cell\n"
	"  --tap             KTAP, as the kernel's selftests print it: one test a\n"
	"                    cell, 'ok' when it matches its expect line (SKIP for\n"
	"                    a cell whose every run skipped, as expected)\n"
	"\n"
	"Ctrl-C (SIGINT) stops the search: the cells finished so far are\n"
	"printed, the others as '-', and the exit status is 130.\n"
	"\n"
	"Exit status: 0 every cell matches its expect line, 1 a cell differs,\n"
	"2 bad input (usage, or a scenario that does not parse), 3 a cell that\n"
	"differs is 'error' (the scenario is wrong: an operation failed that it\n"
	"does not mark 'check ... faults'; 'expect error' matches it), 130\n"
	"interrupted.\n";
// clang-format on

#define DEFAULT_DIR "scenarios/matrix"

/* The folder a bare `cowlab matrix` explores: scenarios/matrix of the
 * working directory (a source tree), else the installed one beside the
 * binary, ../share/cowlab/scenarios/matrix (wherever it was installed,
 * a DESTDIR included). */
static const char *default_dir(void)
{
	static char path[PATH_MAX + 64];
	char exe[PATH_MAX];
	ssize_t n;
	struct stat st;
	char *slash;

	if (stat(DEFAULT_DIR, &st) == 0 && S_ISDIR(st.st_mode))
		return DEFAULT_DIR;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return DEFAULT_DIR;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return DEFAULT_DIR;
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/../share/cowlab/" DEFAULT_DIR, exe);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? path : DEFAULT_DIR;
}
#define MAX_JOBS 256

enum matrix_format { FORMAT_TEXT, FORMAT_MARKDOWN, FORMAT_JSON, FORMAT_TAP };

struct matrix_args {
	const char **paths; /* DIRs and FILEs as given */
	int nr_paths;
	char *policy_list;    /* --policy's value, cut at the commas */
	const char **presets; /* the columns */
	int nr_presets;
	uint64_t runs, seed;
	double time;	     /* 0: no limit in seconds */
	double prove;	     /* --prove S: dpor on the cells that pass, 0: none */
	double cell_timeout; /* the watchdog's, in seconds */
	unsigned int jobs;
	bool markdown, json, tap;
	enum matrix_format format;
	struct shard_opt sh; /* --shard, --shards, --out */
};

/* One cell's result, as a worker sends it to the parent. */
struct cell_msg {
	int cell;
	int dying; /* sent from the crash handler: the worker is gone */
	struct verdict v;
};

struct matrix {
	struct matrix_args a;
	struct scen_entry *rows;
	int nr_rows;
	struct cell_msg *cells; /* nr_rows * a.nr_presets, row by row */
	int nr_cells;
	const char **expected; /* [nr_cells]: the expect line's verdict, or NULL */
	/* A cell's search is split in parts when there are more shards than
	 * cells (cell_part). */
	unsigned int parts;
	char **owned; /* merge: the strings expected and rows point to */
	int nr_owned;
};

static int cell_part(const struct matrix *m, int cell);

/* The shard that runs part part of cell's search (cell_part). */
static unsigned int part_shard(const struct matrix *m, int cell, unsigned int part)
{
	return (unsigned int)(((unsigned long)cell * m->parts + part) % m->a.sh.shards);
}

/* ---- arguments ---------------------------------------------------------------------- */

static int bad_value(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "cowlab matrix: %s takes %s, not '%s'\n", opt, want, val);
	return EXIT_USAGE;
}

/* --policy P1,P2,...: known presets, each once. */
static int parse_presets(struct matrix_args *a, const char *val)
{
	char *name, *save = NULL;
	int nr = 0;

	free(a->policy_list);
	free(a->presets);
	a->policy_list = strdup(val);
	a->presets = calloc(strlen(val) / 2 + 1, sizeof(*a->presets));
	a->nr_presets = 0;
	if (!a->policy_list || !a->presets) {
		fprintf(stderr, "cowlab matrix: out of memory\n");
		return EXIT_USAGE;
	}
	if (!val[0] || val[0] == ',' || val[strlen(val) - 1] == ',' || strstr(val, ",,"))
		return bad_value("--policy", val,
				 "a comma-separated list of presets like linux-6.5");
	for (name = strtok_r(a->policy_list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		if (!policy_known("matrix", name))
			return EXIT_USAGE;
		for (int i = 0; i < nr; i++)
			if (strcmp(a->presets[i], name) == 0) {
				fprintf(stderr, "cowlab matrix: --policy names '%s' twice\n", name);
				return EXIT_USAGE;
			}
		a->presets[nr++] = name;
	}
	a->nr_presets = nr;
	return 0;
}

static int parse_policy_list(void *args, const char *cmd, const char *opt, const char *val)
{
	(void)cmd;
	(void)opt;
	return parse_presets(args, val) ? -1 : 0;
}

#define CELL_TIMEOUT 300.0

static int parse_shard(void *args, const char *cmd, const char *opt, const char *val)
{
	return shard_parse(&((struct matrix_args *)args)->sh, cmd, opt, val);
}

static const struct cli_opt matrix_opts[] = {
	OPT_CALL_TO("--policy", parse_policy_list),
	OPT_AT("--time", OPT_SECONDS, struct matrix_args, time),
	OPT_AT("--cell-timeout", OPT_SECONDS, struct matrix_args, cell_timeout),
	OPT_AT("--prove", OPT_SECONDS, struct matrix_args, prove),
	OPT_NUM_AT("--runs", OPT_U64, struct matrix_args, runs, 1, UINT64_MAX),
	OPT_NUM_AT("--seed", OPT_U64, struct matrix_args, seed, 0, UINT64_MAX),
	OPT_NUM_AT("--jobs", OPT_UINT, struct matrix_args, jobs, 1, MAX_JOBS),
	OPT_FLAG_AT("--markdown", struct matrix_args, markdown),
	OPT_FLAG_AT("--json", struct matrix_args, json),
	OPT_FLAG_AT("--tap", struct matrix_args, tap),
	OPT_CALL_TO("--shard", parse_shard),
	OPT_NUM_AT("--shards", OPT_UINT, struct matrix_args, sh.shards_flag, 1, 1u << 20),
	OPT_AT("--out", OPT_TEXT, struct matrix_args, sh.out),
	OPT_MAX_MEMORY,
	OPT_END,
};

/* 0 to go on, -1 after --help, else the exit code. */
static int parse_matrix_args(int argc, char **argv, struct matrix_args *a)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int code;

	a->runs = VERDICT_RUNS;
	a->seed = 1;
	a->sh.shards = 1;
	a->jobs = cpus < 1 ? 1 : cpus > MAX_JOBS ? MAX_JOBS : (unsigned int)cpus;
	a->paths = calloc((size_t)argc + 1, sizeof(*a->paths));
	if (!a->paths)
		return EXIT_USAGE;
	code = cli_parse("matrix", matrix_opts, a, usage_matrix, argc, argv, a->paths,
			 &a->nr_paths);
	if (code)
		return code;
	if (shard_resolve(&a->sh, "matrix") != 0)
		return EXIT_USAGE;
	if (a->markdown + a->json + a->tap > 1) {
		fprintf(stderr, "cowlab matrix: --markdown, --json and --tap exclude each other\n");
		return EXIT_USAGE;
	}
	a->format = a->json	  ? FORMAT_JSON
		    : a->markdown ? FORMAT_MARKDOWN
		    : a->tap	  ? FORMAT_TAP
				  : FORMAT_TEXT;
	if (a->cell_timeout == 0)
		a->cell_timeout = CELL_TIMEOUT + a->time + a->prove;
	if (a->nr_paths == 0)
		a->paths[a->nr_paths++] = default_dir();
	if (!a->presets) {
		a->nr_presets = cow_policy_count();
		a->presets = calloc((size_t)a->nr_presets, sizeof(*a->presets));
		if (!a->presets)
			return EXIT_USAGE;
		for (int i = 0; i < a->nr_presets; i++)
			a->presets[i] = cow_policy_name(cow_policy_at(i));
	}
	return 0;
}

/* Every row's scenario, parsed, and known to make an explore program:
 * bad input is reported before any cell runs. */
static int load_rows(struct matrix *m)
{
	int code = scen_list_load("matrix", m->a.paths, m->a.nr_paths, &m->rows, &m->nr_rows);

	for (int i = 0; i < m->nr_rows && !code; i++) {
		struct explore_target *t;
		const struct explore_prog *p;
		const char *policy;

		if (explore_target_scenario(m->rows[i].s, m->a.presets[0], "matrix", &t, &p,
					    &policy))
			code = EXIT_USAGE;
		explore_target_free(t);
	}
	return code;
}

/* ---- one cell, in a worker ----------------------------------------------------------- */

/* Set by SIGINT in the parent: stop giving out cells and print what is
 * done.  The workers ignore SIGINT (a terminal sends it to the whole
 * process group): the parent ends them itself. */
static volatile sig_atomic_t interrupted;

static void interrupt_handler(int sig)
{
	(void)sig;
	interrupted = 1;
}

static struct cell_msg crash_msg; /* the crash handler's: no stack to spare */
static int crash_fd = -1;

static void put_decimal(char *buf, size_t len, int v)
{
	char digits[16];
	int n = 0;
	size_t at = strlen(buf);

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0 && n < (int)sizeof(digits));
	while (n > 0 && at + 1 < len)
		buf[at++] = digits[--n];
	buf[at] = '\0';
}

/* A worker that crashes in a cell sends what it knows, then dies of the
 * signal; crash_msg.cell is the cell in progress. */
static void worker_crash(int sig)
{
	static struct explore_token t;

	crash_msg.dying = 1;
	crash_msg.v.failed = 1;
	memcpy(crash_msg.v.verdict, "crash", sizeof("crash"));
	memcpy(crash_msg.v.message, "the worker died of signal ",
	       sizeof("the worker died of signal "));
	put_decimal(crash_msg.v.message, sizeof(crash_msg.v.message), sig);
	if (explore_current_token(&t) != 0 ||
	    explore_token_format(&t, crash_msg.v.token, sizeof(crash_msg.v.token)) != 0)
		crash_msg.v.token[0] = '\0';
	if (crash_fd >= 0)
		(void)!fd_write_full(crash_fd, &crash_msg, sizeof(crash_msg));
	signal(sig, SIG_DFL);
	raise(sig);
}

static void run_cell(const struct matrix *m, int cell, struct cell_msg *msg)
{
	memset(msg, 0, sizeof(*msg));
	msg->cell = cell;
	crash_msg.cell = cell;
	explore_verdict_part(m->rows[cell / m->a.nr_presets].s,
			     m->a.presets[cell % m->a.nr_presets], m->a.runs, m->a.time, m->a.seed,
			     (unsigned int)cell_part(m, cell), m->parts, &msg->v);
	/* dpor runs in one piece: a cell in parts is not proven. */
	if (m->a.prove > 0 && m->parts == 1)
		explore_verdict_prove(m->rows[cell / m->a.nr_presets].s,
				      m->a.presets[cell % m->a.nr_presets], m->a.prove, &msg->v);
}

/* Take cells from cmd_fd until it closes; answer each on res_fd. */
static COW_NORETURN void matrix_worker(const struct matrix *m, int cmd_fd, int res_fd)
{
	static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
	struct cell_msg msg;
	int cell;

	crash_fd = res_fd;
	signal(SIGINT, SIG_IGN);
	for (size_t i = 0; i < ARRAY_SIZE(crash_signals); i++)
		signal(crash_signals[i], worker_crash);
	while (fd_read_full(cmd_fd, &cell, sizeof(cell)) == (ssize_t)sizeof(cell)) {
		if (cell < 0 || cell >= m->nr_cells)
			break;
		run_cell(m, cell, &msg);
		if (fd_write_full(res_fd, &msg, sizeof(msg)) != 0)
			break;
	}
	_exit(0);
}

/* ---- the workers, from the parent ---------------------------------------------------- */

/* What the parent knows of each worker's cell. */
struct slot {
	int cell;	/* the cell it runs, -1: idle */
	double started; /* when it was given the cell */
	bool dying;	/* it sent its crash report, or the watchdog killed it */
	bool timed_out; /* the watchdog killed it */
};

struct cells_run {
	struct matrix *m;
	struct wpool pool;
	struct slot *slot;
	int *todo; /* cells not yet given out, a stack */
	int nr_todo;
	int done, differ;
};

static bool cell_matches(const struct matrix *m, int cell);
static bool cell_mine(const struct matrix *m, int cell);

/* The cells this process runs. */
static int nr_mine(const struct matrix *m)
{
	int n = 0;

	for (int c = 0; c < m->nr_cells; c++)
		n += cell_mine(m, c);
	return n;
}

static void serve_cells(void *ctx, unsigned int slot, int cmd_fd, int res_fd)
{
	struct cells_run *cr = ctx;

	(void)slot;
	matrix_worker(cr->m, cmd_fd, res_fd);
}

/* Give worker j the next cell, or close its command pipe (it then
 * exits). */
static void feed_worker(struct cells_run *cr, unsigned int j)
{
	struct slot *s = &cr->slot[j];
	int cell;

	if (cr->nr_todo == 0 || s->dying) {
		wpool_close_commands(&cr->pool, j);
		return;
	}
	cell = cr->todo[--cr->nr_todo];
	if (wpool_send(&cr->pool, j, &cell, sizeof(cell)) != 0) {
		/* It died between cells: the cell goes back, and the end of
		 * its result pipe tells the rest. */
		cr->todo[cr->nr_todo++] = cell;
		return;
	}
	s->cell = cell;
	s->started = now_seconds();
}

/* A cell's result; one without a time (its worker died in the cell) gets
 * the parent's. */
static void record(struct cells_run *cr, const struct slot *s, const struct cell_msg *msg)
{
	struct matrix *m = cr->m;

	m->cells[msg->cell] = *msg;
	if (msg->v.seconds == 0)
		m->cells[msg->cell].v.seconds = now_seconds() - s->started;
	cr->done++;
	if (!cell_matches(m, msg->cell))
		cr->differ++;
}

static int cell_result(void *ctx, unsigned int j, const void *data)
{
	struct cells_run *cr = ctx;
	struct slot *s = &cr->slot[j];
	const struct cell_msg *msg = data;

	if (msg->cell != s->cell)
		return -1; /* not the cell it was given: end it */
	record(cr, s, msg);
	s->cell = -1;
	s->dying |= msg->dying;
	feed_worker(cr, j);
	return 0;
}

/* Worker j ended: charge the cell it was running with a crash or a
 * timeout unless it said so itself, and start another if cells are
 * left. */
static void worker_ended(void *ctx, unsigned int j, int status)
{
	struct cells_run *cr = ctx;
	struct slot *s = &cr->slot[j];

	if (s->cell >= 0) {
		struct cell_msg msg = {.cell = s->cell, .v.failed = 1};

		snprintf(msg.v.verdict, sizeof(msg.v.verdict), "%s",
			 s->timed_out ? "timeout" : "crash");
		if (s->timed_out)
			snprintf(msg.v.message, sizeof(msg.v.message),
				 "the cell ran past --cell-timeout (%g s): its worker was killed",
				 cr->m->a.cell_timeout);
		else if (WIFSIGNALED(status))
			snprintf(msg.v.message, sizeof(msg.v.message),
				 "the worker died of signal %d (%s)", WTERMSIG(status),
				 strsignal(WTERMSIG(status)));
		else
			snprintf(msg.v.message, sizeof(msg.v.message),
				 "the worker exited with status %d", WEXITSTATUS(status));
		record(cr, s, &msg);
	}
	*s = (struct slot){.cell = -1};
	/* One that cannot be started leaves the cells to the others (only
	 * none left alive is an error: run_cells). */
	if (cr->nr_todo > 0 && !interrupted && wpool_start(&cr->pool, j) == 0)
		feed_worker(cr, j);
}

/* The watchdog: kill every worker still in its cell after the cell
 * timeout.  Its result pipe then ends, and worker_ended charges the cell
 * with a timeout. */
static void kill_overdue(struct cells_run *cr)
{
	double now = now_seconds();

	for (unsigned int j = 0; j < cr->pool.nr; j++) {
		struct slot *s = &cr->slot[j];

		if (s->cell >= 0 && !s->timed_out && now - s->started > cr->m->a.cell_timeout) {
			wpool_kill(&cr->pool, j, SIGKILL);
			s->timed_out = true;
			s->dying = true;
		}
	}
}

static void show_progress(const struct cells_run *cr, double start, bool end)
{
	fprintf(stderr, "\r  matrix: %d of %d cells, %d differ, %.0f s   %s", cr->done,
		nr_mine(cr->m), cr->differ, now_seconds() - start, end ? "\n" : "");
}

static const struct wpool_ops cell_ops = {
	.serve = serve_cells,
	.message = cell_result,
	.ended = worker_ended,
	.msg_size = sizeof(struct cell_msg),
	.commands = true,
};

/* The cells the workers are in. */
static int busy(const struct cells_run *cr)
{
	int n = 0;

	for (unsigned int j = 0; j < cr->pool.nr; j++)
		n += cr->slot[j].cell >= 0;
	return n;
}

/* Run every cell (of this shard) in up to a.jobs workers.  0, or -1 if no worker could be
 * started (the cells not run are left empty). */
static int run_cells(struct matrix *m)
{
	struct cells_run cr = {.m = m};
	unsigned int nr =
		m->a.jobs < (unsigned int)nr_mine(m) ? m->a.jobs : (unsigned int)nr_mine(m);
	void (*old_sigpipe)(int) = signal(SIGPIPE, SIG_IGN);
	bool tty = isatty(2);
	double start = now_seconds(), shown = 0;
	int err = 0;

	cr.slot = calloc(nr, sizeof(*cr.slot));
	cr.todo = calloc((size_t)m->nr_cells, sizeof(*cr.todo));
	if (!cr.slot || !cr.todo || wpool_init(&cr.pool, nr, &cell_ops, &cr) != 0) {
		err = -1;
		goto out;
	}
	/* A write to the command pipe of a worker that died must fail, not
	 * kill the command (feed_worker).  Cells go row by row: the stack
	 * pops cell 0 first.  A worker that cannot be started leaves its
	 * cells to the others; only none at all is an error. */
	for (int c = m->nr_cells - 1; c >= 0; c--)
		if (cell_mine(m, c))
			cr.todo[cr.nr_todo++] = c;
	for (unsigned int j = 0; j < nr; j++) {
		cr.slot[j].cell = -1;
		if (wpool_start(&cr.pool, j) != 0)
			break;
		feed_worker(&cr, j);
	}
	while (cr.nr_todo + busy(&cr) > 0 && !interrupted) {
		if (wpool_live(&cr.pool) == 0 || wpool_poll(&cr.pool, 1000) != 0) {
			err = -1;
			break;
		}
		kill_overdue(&cr);
		if (tty && now_seconds() - shown >= 0.5) {
			shown = now_seconds();
			show_progress(&cr, start, false);
		}
	}
	if (tty)
		show_progress(&cr, start, true);
	if (cr.nr_todo + busy(&cr) == 0 || interrupted)
		err = 0;
out:
	/* Workers still in a cell (interrupted) are killed; idle ones end
	 * at the end of their command pipe. */
	for (unsigned int j = 0; cr.slot && j < cr.pool.nr; j++)
		if (cr.slot[j].cell >= 0)
			wpool_kill(&cr.pool, j, SIGKILL);
	wpool_destroy(&cr.pool, 0);
	free(cr.slot);
	free(cr.todo);
	signal(SIGPIPE, old_sigpipe);
	return err;
}

/* ---- reports ------------------------------------------------------------------------ */

static const char *cell_expected(const struct matrix *m, int cell)
{
	return m->expected[cell];
}

/* The part of the cell's search this process runs, -1: none.  Not
 * sharded: the whole (part 0 of 1) of every cell.  Sharded, the work is
 * nr_cells * parts units, unit u = cell * parts + part, and unit u is
 * shard u % shards's: every shards-th cell when there are as many cells
 * as shards, else each cell split among ceil(shards / nr_cells) shards
 * (a shard runs at most one part of a cell: parts <= shards). */
static int cell_part(const struct matrix *m, int cell)
{
	for (unsigned int p = 0; p < m->parts; p++)
		if (part_shard(m, cell, p) == m->a.sh.shard)
			return (int)p;
	return -1;
}

static bool cell_mine(const struct matrix *m, int cell)
{
	return cell_part(m, cell) >= 0;
}

/* A cell run to its verdict: not one left when the search was
 * interrupted (every verdict has a word). */
static bool cell_done(const struct matrix *m, int cell)
{
	return m->cells[cell].v.verdict[0] != '\0';
}

static bool cell_matches(const struct matrix *m, int cell)
{
	const char *want = cell_expected(m, cell);

	return want && strcmp(want, m->cells[cell].v.verdict) == 0;
}

/* "leak", "pass", "pass(2)" or "pass~" (what the verdict rests on:
 * cover_mark), then "!" if it differs from the expect line or "?" if
 * none names the preset. */
static const char *cell_text(const struct matrix *m, int cell, char *buf, size_t len)
{
	const struct verdict *v = &m->cells[cell].v;
	const char *mark = cell_matches(m, cell) ? "" : cell_expected(m, cell) ? "!" : "?";
	char cover[16];

	if (!cell_done(m, cell)) {
		snprintf(buf, len, "-");
		return buf;
	}

	snprintf(buf, len, "%s%s%s", v->verdict,
		 v->failed ? "" : cover_mark(v->cover, v->dfs_bound, cover, sizeof(cover)), mark);
	return buf;
}

static int count_differ(const struct matrix *m)
{
	int n = 0;

	for (int c = 0; c < m->nr_cells; c++)
		n += cell_done(m, c) && !cell_matches(m, c);
	return n;
}

static int count_done(const struct matrix *m)
{
	int n = 0;

	for (int c = 0; c < m->nr_cells; c++)
		n += cell_done(m, c);
	return n;
}

/* A differing cell whose verdict is error: the scenario is wrong. */
static bool any_error_differs(const struct matrix *m)
{
	for (int c = 0; c < m->nr_cells; c++)
		if (cell_done(m, c) && !cell_matches(m, c) &&
		    verdict_is_error(m->cells[c].v.verdict))
			return true;
	return false;
}

/* A cell whose worker crashed or was killed by the watchdog: no verdict
 * of the scenario's, and no counterexample. */
static bool cell_lost(const struct matrix *m, int cell)
{
	const char *v = m->cells[cell].v.verdict;

	return cell_done(m, cell) && (strcmp(v, "crash") == 0 || strcmp(v, "timeout") == 0);
}

/* How many cells rest on what (explore_cover): failures are
 * counterexamples; passes are proven, proven within a preemption bound,
 * or sampled.  *bound: the bound of a bounded cell (the cells share it). */
static void count_covers(const struct matrix *m, int n[EXPLORE_EXHAUSTIVE + 1], unsigned int *bound)
{
	*bound = 2;
	memset(n, 0, (EXPLORE_EXHAUSTIVE + 1) * sizeof(*n));
	for (int c = 0; c < m->nr_cells; c++) {
		const struct verdict *v = &m->cells[c].v;

		if (!cell_done(m, c) || cell_lost(m, c) || strcmp(v->verdict, "skip") == 0)
			continue;
		n[v->failed ? EXPLORE_FOUND : v->cover]++;
		if (!v->failed && v->cover == EXPLORE_BOUNDED)
			*bound = v->dfs_bound;
	}
}

static int count_verdict(const struct matrix *m, const char *verdict)
{
	int n = 0;

	for (int c = 0; c < m->nr_cells; c++)
		n += cell_done(m, c) && strcmp(m->cells[c].v.verdict, verdict) == 0;
	return n;
}

static void print_summary(const struct matrix *m, const char *before)
{
	int differ = count_differ(m), done = count_done(m), n[EXPLORE_EXHAUSTIVE + 1], errors = 0;
	int crashes = count_verdict(m, "crash"), timeouts = count_verdict(m, "timeout");
	int skips = count_verdict(m, "skip");
	unsigned int bound;

	count_covers(m, n, &bound);
	if (m->a.sh.shards > 1) {
		if (m->parts > 1)
			printf("%sshard %u of %u: one of the %u parts of the search of each of %d "
			       "cells (the others, '-', are other shards')\n",
			       before, m->a.sh.shard, m->a.sh.shards, m->parts, nr_mine(m));
		else
			printf("%sshard %u of %u: %d of the %d cells (the others, '-', are other "
			       "shards')\n",
			       before, m->a.sh.shard, m->a.sh.shards, nr_mine(m), m->nr_cells);
		before = "";
	}
	if (done < nr_mine(m)) {
		printf("%sinterrupted: %d of %d cells finished, the others are marked '-'\n",
		       before, done, nr_mine(m));
		before = "";
	}
	printf("%s%d cells, %d match, %d differ\n", before, done, done - differ, differ);
	for (int c = 0; c < m->nr_cells; c++)
		errors += cell_done(m, c) && verdict_is_error(m->cells[c].v.verdict);
	if (crashes || timeouts)
		printf("%d crash, %d timeout (no verdict: the worker died or the watchdog "
		       "killed it); ",
		       crashes, timeouts);
	if (errors)
		printf("%d error (the scenario is wrong, not a counterexample); ", errors);
	if (skips)
		printf("%d skip (every run skipped: the era lacks what the scenario needs); ",
		       skips);
	printf("%d fail (each a counterexample); %d pass: %d proven (every schedule ran), "
	       "%d within %u preemptions, %d sampled\n",
	       n[EXPLORE_FOUND] - errors, done - crashes - timeouts - skips - n[EXPLORE_FOUND],
	       n[EXPLORE_EXHAUSTIVE], n[EXPLORE_BOUNDED], bound, n[EXPLORE_SAMPLED]);
}

/* The message's first line. */
static int first_line(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl ? (int)(nl - s) : (int)strlen(s);
}

/* What each cell marked '!' was expected to be and how to see its run;
 * then, a row a line, the presets no expect line names ('?'). */
static void print_differences(const struct matrix *m, const char *item)
{
	int n = m->a.nr_presets;

	for (int c = 0; c < m->nr_cells; c++) {
		const struct cell_msg *x = &m->cells[c];
		const char *want = cell_expected(m, c);
		char words[160];

		/* A crash or a timeout is shown with what its worker could say,
		 * expect line or not. */
		if (!cell_done(m, c) || cell_matches(m, c) || (!want && !cell_lost(m, c)))
			continue;
		printf("%s%s under %s: found %s, expected %s\n", item, m->rows[c / n].name,
		       m->a.presets[c % n], x->v.verdict, want ? want : "(no expect line)");
		if (x->v.failed && x->v.message[0])
			printf("%s    %.*s\n", item, first_line(x->v.message), x->v.message);
		if (!x->v.failed)
			printf("%s    %s\n", item,
			       cover_words(x->v.cover, SCHED_AUTO, x->v.dfs_bound, x->v.runs, words,
					   sizeof(words)));
		if (x->v.token[0])
			printf("%s    cowlab replay %s\n", item, x->v.token);
	}
	for (int i = 0; i < m->nr_rows; i++) {
		const char *sep = "";

		for (int p = 0; p < n; p++) {
			if (cell_expected(m, i * n + p) || !cell_done(m, i * n + p))
				continue;
			if (!sep[0])
				printf("%s%s: no expect line for ", item, m->rows[i].name);
			printf("%s%s", sep, m->a.presets[p]);
			sep = ", ";
		}
		if (sep[0])
			printf("\n");
	}
}

static const char legend[] = "'!' differs from the scenario's expect line for the preset; '?' no "
			     "expect line names the preset";
static const char cover_legend[] =
	"pass: every schedule ran (proven); pass(K): every schedule within K preemptions ran; "
	"pass~: sampled, not every schedule ran; a failing verdict is a counterexample";

static void print_text(const struct matrix *m)
{
	int name_w = (int)strlen("scenario"), *col_w = calloc((size_t)m->a.nr_presets, sizeof(int));
	char buf[32];

	if (!col_w)
		return;
	for (int i = 0; i < m->nr_rows; i++)
		if ((int)strlen(m->rows[i].name) > name_w)
			name_w = (int)strlen(m->rows[i].name);
	for (int p = 0; p < m->a.nr_presets; p++) {
		col_w[p] = (int)strlen(m->a.presets[p]);
		for (int i = 0; i < m->nr_rows; i++) {
			int n = (int)strlen(
				cell_text(m, i * m->a.nr_presets + p, buf, sizeof(buf)));

			if (n > col_w[p])
				col_w[p] = n;
		}
	}
	/* The last column is not padded: no trailing blanks. */
	col_w[m->a.nr_presets - 1] = 0;
	printf("%-*s", name_w, "scenario");
	for (int p = 0; p < m->a.nr_presets; p++)
		printf("  %-*s", col_w[p], m->a.presets[p]);
	printf("\n");
	for (int i = 0; i < m->nr_rows; i++) {
		printf("%-*s", name_w, m->rows[i].name);
		for (int p = 0; p < m->a.nr_presets; p++)
			printf("  %-*s", col_w[p],
			       cell_text(m, i * m->a.nr_presets + p, buf, sizeof(buf)));
		printf("\n");
	}
	printf("\n%s\n%s\n", legend, cover_legend);
	if (count_differ(m)) {
		printf("differences:\n");
		print_differences(m, "  ");
	}
	print_summary(m, "");
	free(col_w);
}

static void print_markdown(const struct matrix *m)
{
	char buf[32];

	printf("| scenario |");
	for (int p = 0; p < m->a.nr_presets; p++)
		printf(" %s |", m->a.presets[p]);
	printf("\n|---|");
	for (int p = 0; p < m->a.nr_presets; p++)
		printf("---|");
	printf("\n");
	for (int i = 0; i < m->nr_rows; i++) {
		printf("| %s |", m->rows[i].name);
		for (int p = 0; p < m->a.nr_presets; p++) {
			int c = i * m->a.nr_presets + p;
			bool bold = cell_done(m, c) && !cell_matches(m, c);

			printf(" %s%s%s |", bold ? "**" : "", cell_text(m, c, buf, sizeof(buf)),
			       bold ? "**" : "");
		}
		printf("\n");
	}
	printf("\n%s.\n\n%s.\n", legend, cover_legend);
	if (count_differ(m)) {
		printf("\nDifferences:\n\n```\n");
		print_differences(m, "");
		printf("```\n");
	}
	print_summary(m, "\n");
}

static void print_json(FILE *f, const struct matrix *m)
{
	int n[EXPLORE_EXHAUSTIVE + 1];
	unsigned int bound;

	fprintf(f, "{\"parts\":%u,\"presets\":[", m->parts);
	for (int p = 0; p < m->a.nr_presets; p++) {
		fprintf(f, "%s", p ? "," : "");
		json_string(f, m->a.presets[p]);
	}
	fprintf(f, "],\"budget\":{\"runs\":%" PRIu64 ",\"time\":", m->a.runs);
	if (m->a.time > 0)
		fprintf(f, "%g", m->a.time);
	else
		fprintf(f, "null");
	fprintf(f, ",\"cell_timeout\":%g},\"rows\":[", m->a.cell_timeout);
	for (int i = 0; i < m->nr_rows; i++) {
		fprintf(f, "%s{\"scenario\":", i ? "," : "");
		json_string(f, m->rows[i].name);
		fprintf(f, ",\"file\":");
		json_string(f, m->rows[i].file);
		fprintf(f, ",\"cells\":[");
		for (int p = 0; p < m->a.nr_presets; p++) {
			int c = i * m->a.nr_presets + p;
			const struct cell_msg *x = &m->cells[c];
			const char *want = cell_expected(m, c);

			fprintf(f, "%s{\"preset\":", p ? "," : "");
			json_string(f, m->a.presets[p]);
			if (!cell_mine(m, c)) {
				fprintf(f, ",\"found\":null,\"shard\":%u}",
					(unsigned int)c % m->a.sh.shards);
				continue;
			}
			if (!cell_done(m, c)) {
				fprintf(f, ",\"found\":null,\"stopped\":true}");
				continue;
			}
			fprintf(f, ",\"found\":");
			json_string(f, x->v.verdict);
			fprintf(f, ",\"expected\":");
			if (want)
				json_string(f, want);
			else
				fprintf(f, "null");
			fprintf(f, ",\"match\":%s,\"search\":\"%s\"",
				cell_matches(m, c) ? "true" : "false",
				cell_lost(m, c) ? "lost"
						: explore_cover_name(x->v.failed ? EXPLORE_FOUND
										 : x->v.cover));
			if (!x->v.failed && x->v.cover == EXPLORE_BOUNDED)
				fprintf(f, ",\"bound\":%u", x->v.dfs_bound);
			fprintf(f, ",\"runs\":%" PRIu64 ",\"seconds\":%.3f,\"exhaustive\":%s",
				x->v.runs, x->v.seconds, x->v.exhaustive ? "true" : "false");
			if (m->parts > 1)
				fprintf(f, ",\"part\":%d", cell_part(m, c));
			if (x->v.failed) {
				fprintf(f, ",\"message\":");
				json_string(f, x->v.message);
				if (x->v.token[0]) {
					fprintf(f, ",\"token\":");
					json_string(f, x->v.token);
				}
			}
			fprintf(f, "}");
		}
		fprintf(f, "]}");
	}
	count_covers(m, n, &bound);
	fprintf(f, "],\"search\":{");
	for (int k = 0; k <= EXPLORE_EXHAUSTIVE; k++)
		fprintf(f, "%s\"%s\":%d", k ? "," : "", explore_cover_name((enum explore_cover)k),
			n[k]);
	fprintf(f,
		"},\"cells\":%d,\"finished\":%d,\"crashes\":%d,\"timeouts\":%d,"
		"\"interrupted\":%s,\"mismatches\":%d}\n",
		m->nr_cells, count_done(m), count_verdict(m, "crash"), count_verdict(m, "timeout"),
		interrupted ? "true" : "false", count_differ(m));
}

/* One KTAP test a cell, named "SCENARIO PRESET". */
static void print_tap(const struct matrix *m)
{
	int n = m->a.nr_presets, pass = 0, fail = 0, skip = 0;
	char name[512], buf[32];

	ktap_header(nr_mine(m));
	for (int c = 0, k = 0; c < m->nr_cells; c++) {
		const struct cell_msg *x = &m->cells[c];
		const char *want = cell_expected(m, c);

		if (!cell_mine(m, c))
			continue;
		k++;

		snprintf(name, sizeof(name), "%s %s", m->rows[c / n].name, m->a.presets[c % n]);
		if (!cell_done(m, c)) {
			ktap_diag("stopped before a verdict");
			ktap_result(k, false, name, NULL);
			fail++;
			continue;
		}
		if (cell_matches(m, c)) {
			if (x->v.failed)
				ktap_diag("%s, as expected (%s)", cell_text(m, c, buf, sizeof(buf)),
					  x->v.message);
			if (strcmp(x->v.verdict, "skip") == 0) {
				ktap_result(k, true, name, x->v.message);
				skip++;
			} else {
				ktap_result(k, true, name, NULL);
				pass++;
			}
			continue;
		}
		if (want)
			ktap_diag("found %s, expected %s", cell_text(m, c, buf, sizeof(buf)), want);
		else
			ktap_diag("found %s; no expect line names %s", x->v.verdict,
				  m->a.presets[c % n]);
		if (x->v.message[0])
			ktap_diag("%s", x->v.message);
		if (x->v.token[0])
			ktap_diag("cowlab replay %s", x->v.token);
		ktap_result(k, false, name, NULL);
		fail++;
	}
	ktap_totals(pass, fail, skip);
}

/* ---- the command ------------------------------------------------------------------- */

static void matrix_free(struct matrix *m)
{
	scen_list_free(m->rows, m->nr_rows);
	free(m->cells);
	free(m->expected);
	for (int i = 0; i < m->nr_owned; i++)
		free(m->owned[i]);
	free(m->owned);
	free(m->a.paths);
	free(m->a.presets);
	free(m->a.policy_list);
}

/* Print the table in the format asked for; the exit status it makes. */
static int print_matrix(const struct matrix *m)
{
	if (m->a.format == FORMAT_JSON)
		print_json(stdout, m);
	else if (m->a.format == FORMAT_TAP)
		print_tap(m);
	else if (m->a.format == FORMAT_MARKDOWN)
		print_markdown(m);
	else
		print_text(m);
	if (interrupted)
		return EXIT_INTERRUPTED;
	if (any_error_differs(m))
		return EXIT_SCENARIO;
	return count_differ(m) ? EXIT_FOUND : 0;
}

/* --out: the shard's cells as `matrix --json` gives them, in its file;
 * the search it is a shard of names every row's file and hash. */
static int write_shard(const struct matrix *m)
{
	char *key = NULL;
	size_t len = 0;
	FILE *k = open_memstream(&key, &len), *f;
	int rc = -1;

	if (!k) {
		fprintf(stderr, "cowlab matrix: out of memory\n");
		return -1;
	}
	fprintf(k, "matrix --policy ");
	for (int p = 0; p < m->a.nr_presets; p++)
		fprintf(k, "%s%s", p ? "," : "", m->a.presets[p]);
	fprintf(k, " --runs %" PRIu64 " --seed %" PRIu64 " --time %g --prove %g", m->a.runs,
		m->a.seed, m->a.time, m->a.prove);
	for (int i = 0; i < m->nr_rows; i++)
		fprintf(k, " %s (%016" PRIx64 ")", m->rows[i].file, m->rows[i].s->hash);
	fclose(k);
	f = key ? shard_open(&m->a.sh, "matrix", "matrix", key) : NULL;
	if (f) {
		print_json(f, m);
		rc = shard_close(f, &m->a.sh, "matrix", "matrix", !interrupted);
	}
	free(key);
	return rc;
}

int cmd_matrix(int argc, char **argv)
{
	struct matrix m = {0};
	int code = parse_matrix_args(argc, argv, &m.a);

	if (code)
		goto out;
	code = load_rows(&m);
	if (code)
		goto out;
	m.nr_cells = m.nr_rows * m.a.nr_presets;
	m.cells = calloc((size_t)m.nr_cells, sizeof(*m.cells));
	m.expected = calloc((size_t)m.nr_cells, sizeof(*m.expected));
	if (!m.cells || !m.expected) {
		fprintf(stderr, "cowlab matrix: out of memory\n");
		code = EXIT_USAGE;
		goto out;
	}
	for (int c = 0; c < m.nr_cells; c++)
		m.expected[c] = scen_expected(m.rows[c / m.a.nr_presets].s,
					      m.a.presets[c % m.a.nr_presets]);
	m.parts =
		m.a.sh.shards > (unsigned int)m.nr_cells
			? (m.a.sh.shards + (unsigned int)m.nr_cells - 1) / (unsigned int)m.nr_cells
			: 1;
	signal(SIGINT, interrupt_handler);
	signal(SIGTERM, interrupt_handler);
	if (run_cells(&m) != 0) {
		fprintf(stderr, "cowlab matrix: cannot run the workers: %s\n", strerror(errno));
		code = EXIT_USAGE;
		goto out;
	}
	code = print_matrix(&m);
	if (m.a.sh.out && write_shard(&m) != 0)
		code = EXIT_USAGE;
out:
	matrix_free(&m);
	return code < 0 ? 0 : code;
}

/* ---- cowlab merge, of a matrix's shards ----------------------------------------------- */

/* A copy of s that m frees; NULL without memory. */
static const char *keep(struct matrix *m, const char *s)
{
	char **o = realloc(m->owned, (size_t)(m->nr_owned + 1) * sizeof(*o));

	if (!o)
		return NULL;
	m->owned = o;
	return m->owned[m->nr_owned++] = strdup(s ? s : "");
}

/* Cell c's result from its shard's JSON cell x: false if x is not one. */
static bool cell_from_json(struct matrix *m, int c, const struct json *x, struct verdict *v)
{
	const char *found = json_get_str(x, "found"), *search = json_get_str(x, "search");
	const char *want = json_get_str(x, "expected"), *s;
	uint64_t n;

	memset(v, 0, sizeof(*v));
	if (want && !m->expected[c]) /* the same in every part of the cell */
		m->expected[c] = keep(m, want);
	if (!found) /* stopped before its verdict */
		return json_get(x, "stopped") != NULL;
	if (!search || strlen(found) >= sizeof(v->verdict) || (want && !m->expected[c]))
		return false;
	snprintf(v->verdict, sizeof(v->verdict), "%s", found);
	v->failed = strcmp(search, "found") == 0 || strcmp(search, "lost") == 0;
	v->cover = strcmp(search, "exhaustive") == 0 ? EXPLORE_EXHAUSTIVE
		   : strcmp(search, "bounded") == 0  ? EXPLORE_BOUNDED
		   : v->failed			     ? EXPLORE_FOUND
						     : EXPLORE_SAMPLED;
	if (json_get_u64(x, "bound", &n))
		v->dfs_bound = (unsigned int)n;
	if (json_get_u64(x, "runs", &n))
		v->runs = n;
	s = json_get_str(x, "message");
	snprintf(v->message, sizeof(v->message), "%s", s ? s : "");
	s = json_get_str(x, "token");
	snprintf(v->token, sizeof(v->token), "%s", s ? s : "");
	{
		const struct json *sec = json_get(x, "seconds");
		bool b;

		if (sec && sec->type == JSON_NUM)
			v->seconds = strtod(sec->text, NULL);
		if (json_get_bool(x, "exhaustive", &b))
			v->exhaustive = b;
	}
	return true;
}

/* Add the verdict of a part of a cell's search to the cell's (first: the
 * first part): runs and seconds add up; the first failing part's verdict
 * is the cell's; a pass rests on what its weakest part rests on; a cell
 * skips only if every part did. */
static void add_part(struct verdict *v, const struct verdict *p, bool first)
{
	struct verdict sum = *v;

	if (first) {
		*v = *p;
		return;
	}
	if ((!v->failed && p->failed) ||
	    (strcmp(v->verdict, "skip") == 0 && strcmp(p->verdict, "pass") == 0))
		*v = *p; /* the failure, or the pass, is the cell's verdict */
	if (!v->failed) {
		v->exhaustive = sum.exhaustive && p->exhaustive;
		v->dfs_done = sum.dfs_done && p->dfs_done;
		v->cover = sum.cover < p->cover ? sum.cover : p->cover;
		v->dfs_bound = sum.dfs_bound > p->dfs_bound ? sum.dfs_bound : p->dfs_bound;
	}
	v->runs = sum.runs + p->runs;
	v->seconds = sum.seconds + p->seconds;
}

int matrix_merge(struct json *const *results, const bool *complete, unsigned int shards, bool json)
{
	struct matrix m = {0};
	const struct json *rows = json_get(results[0], "rows"),
			  *presets = json_get(results[0], "presets"), *e;
	int code = EXIT_USAGE, r = 0;
	uint64_t parts;

	m.a.format = json ? FORMAT_JSON : FORMAT_TEXT;
	if (!rows || rows->type != JSON_ARR || !presets || presets->type != JSON_ARR)
		goto bad;
	for (e = presets->child; e; e = e->next)
		m.a.nr_presets++;
	for (e = rows->child; e; e = e->next)
		m.nr_rows++;
	m.nr_cells = m.nr_rows * m.a.nr_presets;
	m.a.presets = calloc((size_t)m.a.nr_presets + 1, sizeof(*m.a.presets));
	m.rows = calloc((size_t)m.nr_rows + 1, sizeof(*m.rows));
	m.cells = calloc((size_t)m.nr_cells + 1, sizeof(*m.cells));
	m.expected = calloc((size_t)m.nr_cells + 1, sizeof(*m.expected));
	if (!m.a.presets || !m.rows || !m.cells || !m.expected || m.nr_cells == 0)
		goto bad;
	r = 0;
	for (e = presets->child; e; e = e->next)
		if (e->type != JSON_STR || !(m.a.presets[r++] = keep(&m, e->text)))
			goto bad;
	r = 0;
	for (e = rows->child; e; e = e->next, r++) {
		const struct json *cells = json_get(e, "cells");

		m.rows[r].name = (char *)keep(&m, json_get_str(e, "scenario"));
		m.rows[r].file = (char *)keep(&m, json_get_str(e, "file"));
		if (!m.rows[r].name || !m.rows[r].file || !cells || cells->type != JSON_ARR)
			goto bad;
	}
	/* Each cell from the shards that ran its parts. */
	if (!json_get_u64(results[0], "parts", &parts) || parts < 1 || parts > shards)
		goto bad;
	m.parts = (unsigned int)parts;
	m.a.sh.shards = shards;
	for (int c = 0; c < m.nr_cells; c++) {
		int i = c / m.a.nr_presets, p = c % m.a.nr_presets;
		bool stopped = false;

		m.cells[c].cell = c;
		for (unsigned int part = 0; part < m.parts; part++) {
			unsigned int owner = part_shard(&m, c, part);
			const struct json *row = json_get(results[owner], "rows"), *x;
			struct verdict v;

			row = row ? row->child : NULL;
			for (int k = 0; row && k < i; k++)
				row = row->next;
			x = row ? json_get(row, "cells") : NULL;
			x = x ? x->child : NULL;
			for (int k = 0; x && k < p; k++)
				x = x->next;
			if (!x || !cell_from_json(&m, c, x, &v))
				goto bad;
			if (!v.verdict[0] && complete[owner]) {
				fprintf(stderr,
					"cowlab merge: shard %u has no verdict for %s under %s, "
					"yet "
					"it says it ran to its end\n",
					owner, m.rows[i].name, m.a.presets[p]);
				goto out;
			}
			stopped |= !v.verdict[0];
			add_part(&m.cells[c].v, &v, part == 0);
		}
		if (stopped)
			m.cells[c].v.verdict[0] = '\0'; /* no verdict: a part is missing */
	}
	m.a.sh.shards = 1; /* the merged table is the whole */
	m.parts = 1;
	/* A shard stopped before its end left cells without a verdict: the
	 * table is an interrupted one (a stopped shard whose cells all
	 * finished left nothing out). */
	interrupted = count_done(&m) < m.nr_cells;
	code = print_matrix(&m);
	goto out;
bad:
	fprintf(stderr, "cowlab merge: a matrix shard's cells are not as `matrix --json` "
			"writes them\n");
out:
	free(m.rows); /* its strings are in owned */
	m.rows = NULL;
	m.nr_rows = 0;
	matrix_free(&m);
	return code;
}
