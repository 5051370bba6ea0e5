/*
 * The cowlab command.  It parses arguments, calls the library and prints;
 * it holds no memory-manager logic.  Until the scenario runner exists it
 * offers the explorer's demonstration (`cowlab demo`) and replays of demo
 * runs (`cowlab replay TOKEN`).
 *
 * Exit status: 0 all checks held (or nothing found), 1 a check failed or a
 * counterexample was found, 2 bad input or usage.
 */
#include "cowlab.h"
#include "sched/demos.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_FOUND 1
#define EXIT_USAGE 2

static const char usage_main[] =
	"usage: cowlab [--version] [--help] COMMAND [ARGS]\n"
	"\n"
	"cowlab models a Unix kernel's anonymous-memory manager (copy-on-write\n"
	"fork, get_user_pages, direct I/O, swap, KSM) and explores its races.\n"
	"\n"
	"commands:\n"
	"  demo [--runs N] [--seed S]  show the explorer finding a lost update\n"
	"  replay TOKEN                re-run exactly the run a token names\n"
	"\n"
	"Run 'cowlab COMMAND --help' for a command's options.\n";

static const char usage_demo[] =
	"usage: cowlab demo [--runs N] [--seed S]\n"
	"\n"
	"Explores a counter that two simulated CPUs increment without a lock,\n"
	"prints the first lost update with its replay token, replays it, and\n"
	"then explores the locked version, which must never fail.\n"
	"  --runs N   runs per search (default 10000)\n"
	"  --seed S   first seed (default 1)\n";

static const char usage_replay[] =
	"usage: cowlab replay TOKEN\n"
	"\n"
	"Re-runs exactly the run named by TOKEN (a line \"cow1:...\" printed by\n"
	"an exploration) and prints its outcome.  Exit 1 if the run fails.\n";

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_u64(const char *opt, const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!text || text[0] < '0' || text[0] > '9')
		goto bad;
	v = strtoull(text, &end, 10);
	if (errno || *end)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "cowlab: %s needs a non-negative number, not '%s'\n", opt,
		text ? text : "");
	return -1;
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

static void print_token(const struct explore_token *t)
{
	char token[EXPLORE_TOKEN_MAX];

	if (explore_token_format(t, token, sizeof(token)) == 0)
		printf("  cowlab replay %s\n", token);
}

static int cmd_demo(int argc, char **argv)
{
	uint64_t runs = 10000, seed = 1;
	struct explore_result found, again, locked;
	double t0, t1;
	int err;

	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(usage_demo, stdout);
			return 0;
		} else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
			if (parse_u64("--runs", argv[++i], &runs))
				return EXIT_USAGE;
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			if (parse_u64("--seed", argv[++i], &seed))
				return EXIT_USAGE;
		} else {
			fprintf(stderr, "cowlab demo: unknown or incomplete option '%s'\n%s",
				argv[i], usage_demo);
			return EXIT_USAGE;
		}
	}

	printf("explorer demo: two CPUs each add %d to a counter with READ_ONCE/WRITE_ONCE\n", 3);
	t0 = now_seconds();
	err = explore_search(&demo_racy_counter, NULL, SCHED_RANDOM, seed, runs, 0, &found);
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
	err = explore_search(&demo_locked_counter, NULL, SCHED_RANDOM, seed, runs, 0, &locked);
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
	printf("  %" PRIu64 " runs, no failure (%.0f runs/s)\n", locked.runs,
	       (double)locked.runs / (t1 - t0 > 0 ? t1 - t0 : 1e-9));
	return 0;
}

static int cmd_replay(int argc, char **argv)
{
	const struct explore_prog *p;
	struct explore_token t;
	struct explore_result r;
	char err[160];
	int e;

	if (argc == 2 && is_help(argv[1])) {
		fputs(usage_replay, stdout);
		return 0;
	}
	if (argc != 2) {
		fputs(usage_replay, stderr);
		return EXIT_USAGE;
	}
	if (explore_token_parse(argv[1], &t, err, sizeof(err)) != 0) {
		fprintf(stderr, "cowlab replay: %s\n", err);
		return EXIT_USAGE;
	}
	p = explore_demo_find(t.prog);
	if (!p) {
		fprintf(stderr, "cowlab replay: no program named '%s'\n", t.prog);
		return EXIT_USAGE;
	}
	e = explore_replay(p, &t, 0, &r);
	if (e) {
		fprintf(stderr, "cowlab replay: %s\n", cow_strerror(e));
		return EXIT_USAGE;
	}
	printf("%s: %s after %" PRIu64 " steps (fingerprint %016" PRIx64 ")\n", t.prog,
	       r.failed ? sched_verdict_name(r.verdict) : "ok", r.steps, r.fingerprint);
	if (r.failed)
		printf("  %s\n", r.message);
	return r.failed ? EXIT_FOUND : 0;
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
	if (strcmp(argv[1], "demo") == 0)
		return cmd_demo(argc - 1, argv + 1);
	if (strcmp(argv[1], "replay") == 0)
		return cmd_replay(argc - 1, argv + 1);
	fprintf(stderr, "cowlab: unknown command '%s'\n%s", argv[1], usage_main);
	return EXIT_USAGE;
}
