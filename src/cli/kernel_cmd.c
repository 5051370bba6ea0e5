/*
 * cowlab kernel: run scenario files on the host's real Linux kernel (the
 * src/kernel backend), each --iterations times with random delays at the
 * operation boundaries of its threads, and print one line per file:
 * PASS (with the checks every run made), FAIL (how many iterations
 * failed, with which verdicts, and the first failure) or SKIP (why the
 * host cannot run it), and under it the runs that skipped and what the
 * host runs in a way of its own (kern_host_note).
 *
 * Exit status: 0 no iteration failed (skips included), 1 one did, 2 bad
 * input or usage, 3 an iteration's verdict was error (an operation of the
 * scenario failed where it does not say 'check ... faults': the scenario,
 * or the host's setup, is wrong, and the run says nothing of the kernel).
 */
#include "cli.h"
#include "kernel/kernel.h"
#include "scenario/scenario.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A usage text, laid out as it prints. */
// clang-format off
static const char usage_kernel[] =
	"usage: cowlab kernel FILE|DIR... [options]\n"
	"\n"
	"Runs each scenario on this host's Linux kernel: every process a real\n"
	"process (fork), every thread a pthread, direct I/O through io_uring on\n"
	"O_DIRECT files, pins as io_uring fixed buffers, vmsplice, /proc/self/mem.\n"
	"A scenario the host cannot run (uffd_continue, pin ... ro, swapout\n"
	"without swap, ksm_merge without root) is skipped with the reason, and\n"
	"so is a run that did less than the scenario says (a swapout whose pages\n"
	"stayed in memory, a KSM pass that merged nothing); a PASS ran every\n"
	"check.  Nothing is left behind: no process, no file, also after SIGINT\n"
	"or SIGTERM.  A DIR stands for its *.cow files.\n"
	"\n"
	"  --iterations N    runs of each file (default 1)\n"
	"  --seed S          seed of the random delays, S + i in iteration i\n"
	"                    (default 1; 0: no delays)\n"
	"  --delay US        the longest delay at an operation boundary inside a\n"
	"                    thread, in microseconds (default 200)\n"
	MAX_MEMORY_HELP
	"  --json            one JSON document instead of the table\n"
	"\n"
	"Data files go to $COWLAB_TMPDIR, else /var/tmp, else the current\n"
	"directory, which must honour O_DIRECT for scenarios with direct I/O.\n"
	"See docs/kernel.md.\n"
	"\n"
	"Exit status: 0 no iteration failed (skips included), 1 an iteration\n"
	"failed, 2 bad input, 3 an iteration's verdict was 'error' (an operation\n"
	"failed that the scenario does not mark 'check ... faults': the run says\n"
	"nothing of the kernel).  Of several files the highest status counts.\n";
// clang-format on

#define MAX_VERDICTS 8

struct tally {
	const char *path;
	uint64_t runs, failed; /* runs: that passed or failed */
	uint64_t skipped_runs;
	bool skipped; /* no run passed or failed */
	int checks;   /* every passing run made them all */
	const char *note;
	char reason[512];      /* the skip's, or the first failure's message */
	char skip_reason[512]; /* the first skipped run's */
	char first_verdict[16];
	int nr_verdicts;
	struct {
		char word[16];
		uint64_t n;
	} verdicts[MAX_VERDICTS];
};

struct kernel_args {
	const char **files;
	int nr_files;
	uint64_t iterations, seed, delay;
	bool json;
};

static const struct cli_opt kernel_opts[] = {
	OPT_NUM_AT("--iterations", OPT_U64, struct kernel_args, iterations, 1, UINT64_MAX),
	OPT_NUM_AT("--seed", OPT_U64, struct kernel_args, seed, 0, UINT64_MAX),
	OPT_NUM_AT("--delay", OPT_U64, struct kernel_args, delay, 0, 1000000),
	OPT_FLAG_AT("--json", struct kernel_args, json),
	OPT_MAX_MEMORY,
	OPT_END,
};

static int parse_kernel_args(int argc, char **argv, struct kernel_args *a)
{
	int code;

	a->files = calloc((size_t)argc, sizeof(*a->files));
	if (!a->files)
		return EXIT_USAGE;
	a->iterations = 1;
	a->seed = 1;
	a->delay = 200;
	code = cli_parse("kernel", kernel_opts, a, usage_kernel, argc, argv, a->files,
			 &a->nr_files);
	if (code)
		return code;
	if (a->nr_files == 0) {
		fprintf(stderr, "cowlab kernel: no scenario file given\n%s", usage_kernel);
		return EXIT_USAGE;
	}
	return 0;
}

static void count_verdict(struct tally *t, const char *word)
{
	for (int i = 0; i < t->nr_verdicts; i++)
		if (strcmp(t->verdicts[i].word, word) == 0) {
			t->verdicts[i].n++;
			return;
		}
	if (t->nr_verdicts < MAX_VERDICTS) {
		snprintf(t->verdicts[t->nr_verdicts].word, sizeof(t->verdicts[0].word), "%s", word);
		t->verdicts[t->nr_verdicts++].n = 1;
	}
}

/* Did an iteration fail with verdict error (the scenario is wrong)? */
static bool tally_has_error(const struct tally *t)
{
	for (int i = 0; i < t->nr_verdicts; i++)
		if (verdict_is_error(t->verdicts[i].word))
			return true;
	return false;
}

/* Run one parsed file a->iterations times into t.  A run that skips
 * (what only running finds: a swap-out that swapped nothing, a KSM pass
 * that merged nothing) counts neither as passed nor as failed; the file
 * is a SKIP when no run counted. */
static void run_file(const struct scenario *s, const struct kernel_args *a, struct tally *t)
{
	const char *why = kern_skip_reason(s);

	t->note = kern_host_note(s);
	t->checks = kern_expected_checks(s);
	if (why) {
		t->skipped_runs = 1;
		snprintf(t->skip_reason, sizeof(t->skip_reason), "%s", why);
	}
	for (uint64_t i = 0; i < a->iterations && !why; i++) {
		struct kern_opts o = {
			.seed = a->seed ? a->seed + i : 0,
			.max_delay_us = (unsigned int)a->delay,
		};
		struct kern_result r;

		kern_run(s, &o, &r);
		if (r.status == KERN_SKIP) {
			if (t->skipped_runs++ == 0)
				snprintf(t->skip_reason, sizeof(t->skip_reason), "%s", r.message);
			continue;
		}
		t->runs++;
		if (r.status == KERN_PASS)
			continue;
		if (t->failed++ == 0) {
			snprintf(t->reason, sizeof(t->reason), "%s", r.message);
			snprintf(t->first_verdict, sizeof(t->first_verdict), "%s", r.verdict);
		}
		count_verdict(t, r.verdict);
	}
	t->skipped = t->runs == 0;
	if (t->skipped)
		snprintf(t->reason, sizeof(t->reason), "%s", t->skip_reason);
}

static void print_tally(const struct tally *t, int width)
{
	uint64_t all = t->runs + t->skipped_runs;

	if (t->skipped) {
		printf("%-*s  SKIP  %s\n", width, t->path, t->reason);
		return;
	}
	if (!t->failed)
		printf("%-*s  PASS  %" PRIu64 " iteration%s, %d check%s each", width, t->path,
		       t->runs, t->runs == 1 ? "" : "s", t->checks, t->checks == 1 ? "" : "s");
	else {
		printf("%-*s  FAIL  %" PRIu64 " of %" PRIu64 " iterations failed:", width, t->path,
		       t->failed, t->runs);
		for (int i = 0; i < t->nr_verdicts; i++)
			printf("%s %s %" PRIu64, i ? "," : "", t->verdicts[i].word,
			       t->verdicts[i].n);
	}
	if (t->skipped_runs)
		printf(" (and %" PRIu64 " of %" PRIu64 " skipped)", t->skipped_runs, all);
	printf("\n");
	if (t->failed)
		printf("  first: %s: %s\n", t->first_verdict, t->reason);
	if (t->skipped_runs)
		printf("  skipped: %s\n", t->skip_reason);
	if (t->note)
		printf("  note: %s\n", t->note);
}

static void print_json(const struct tally *t, int n)
{
	uint64_t failed = 0;

	printf("{\"files\":[");
	for (int i = 0; i < n; i++) {
		printf("%s{\"file\":", i ? "," : "");
		json_string(stdout, t[i].path);
		printf(",\"status\":\"%s\",\"iterations\":%" PRIu64 ",\"failed\":%" PRIu64
		       ",\"skipped\":%" PRIu64 ",\"checks\":%d",
		       t[i].skipped  ? "skip"
		       : t[i].failed ? "fail"
				     : "pass",
		       t[i].runs, t[i].failed, t[i].skipped_runs, t[i].checks);
		printf(",\"verdicts\":{");
		for (int v = 0; v < t[i].nr_verdicts; v++) {
			printf("%s", v ? "," : "");
			json_string(stdout, t[i].verdicts[v].word);
			printf(":%" PRIu64, t[i].verdicts[v].n);
		}
		printf("}");
		if (t[i].failed) {
			printf(",\"message\":");
			json_string(stdout, t[i].reason);
		}
		if (t[i].skipped_runs) {
			printf(",\"reason\":");
			json_string(stdout, t[i].skip_reason);
		}
		if (t[i].note) {
			printf(",\"note\":");
			json_string(stdout, t[i].note);
		}
		printf("}");
		failed += t[i].failed;
	}
	printf("],\"failed\":%" PRIu64 "}\n", failed);
}

int cmd_kernel(int argc, char **argv)
{
	struct kernel_args a = {0};
	struct tally *tallies = NULL;
	struct scen_entry *v = NULL;
	int code, width = 8, nr = 0, err = parse_kernel_args(argc, argv, &a);

	if (err) {
		free(a.files);
		return err < 0 ? 0 : err;
	}
	code = scen_list_load("kernel", a.files, a.nr_files, &v, &nr);
	if (!code && !(tallies = calloc((size_t)nr, sizeof(*tallies)))) {
		fprintf(stderr, "cowlab kernel: out of memory\n");
		code = EXIT_USAGE;
	}
	for (int i = 0; i < nr && !code; i++)
		if ((int)strlen(v[i].file) > width)
			width = (int)strlen(v[i].file);
	for (int i = 0; i < nr && code != EXIT_USAGE; i++) {
		tallies[i].path = v[i].file;
		run_file(v[i].s, &a, &tallies[i]);
		if (tally_has_error(&tallies[i]))
			code = EXIT_SCENARIO;
		else if (tallies[i].failed && code < EXIT_FOUND)
			code = EXIT_FOUND;
		if (!a.json) {
			print_tally(&tallies[i], width);
			fflush(stdout);
		}
	}
	if (a.json && code != EXIT_USAGE)
		print_json(tallies, nr);
	free(tallies);
	scen_list_free(v, nr);
	free(a.files);
	return code;
}
