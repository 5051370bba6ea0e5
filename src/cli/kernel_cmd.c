/*
 * cowlab kernel: run scenario files on the host's real Linux kernel (the
 * src/kernel backend), each --iterations times with random delays at the
 * operation boundaries of its threads, and print one line per file:
 * PASS, FAIL (how many iterations failed, with which verdicts, and the
 * first failure) or SKIP (why the host cannot run it, or why a require
 * did not hold in any iteration).  An iteration that skips at a require
 * is neither pass nor failure: PASS says how many did.
 *
 * Exit status: 0 no iteration failed (skips included), 1 one did, 2 bad
 * input or usage.
 */
#include "cli.h"
#include "kernel/kernel.h"
#include "scenario/scenario.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char usage_kernel[] =
	"usage: cowlab kernel FILE|DIR... [options]\n"
	"\n"
	"Runs each scenario on this host's Linux kernel: every process a real\n"
	"process (fork), every thread a pthread, direct I/O through io_uring on\n"
	"O_DIRECT files, pins as io_uring fixed buffers, vmsplice, /proc/self/mem.\n"
	"A scenario the host cannot run (ksm_merge, uffd_continue, pin ... ro,\n"
	"swapout without swap) is skipped with the reason; so is an iteration\n"
	"whose 'require' line did not hold (PASS counts them apart).  Nothing is left\n"
	"behind: no process, no file, also after SIGINT or SIGTERM.  A DIR\n"
	"stands for its *.cow files.\n"
	"\n"
	"  --iterations N    runs of each file (default 1)\n"
	"  --seed S          seed of the random delays, S + i in iteration i\n"
	"                    (default 1; 0: no delays)\n"
	"  --delay US        the longest delay at an operation boundary inside a\n"
	"                    thread, in microseconds (default 200)\n"
	"  --json            one JSON document instead of the table\n"
	"\n"
	"Data files go to $COWLAB_TMPDIR, else /var/tmp, else the current\n"
	"directory, which must honour O_DIRECT for scenarios with direct I/O.\n"
	"See docs/kernel.md.\n"
	"\n"
	"Exit status: 0 no iteration failed (skips included), 1 an iteration\n"
	"failed, 2 bad input.\n";

#define MAX_VERDICTS 8

struct tally {
	const char *path;
	uint64_t runs, failed;
	uint64_t skips;	  /* iterations that skipped (a require did not hold) */
	bool skipped;	  /* the file skipped: every iteration, none failed */
	char reason[512]; /* the skip's, or the first failure's message */
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

static int parse_kernel_args(int argc, char **argv, struct kernel_args *a)
{
	a->files = calloc((size_t)argc, sizeof(*a->files));
	if (!a->files)
		return EXIT_USAGE;
	a->iterations = 1;
	a->seed = 1;
	a->delay = 200;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (is_help(arg)) {
			fputs(usage_kernel, stdout);
			return -1;
		}
		if (arg[0] != '-' || strcmp(arg, "-") == 0) {
			a->files[a->nr_files++] = arg;
			continue;
		}
		if (strcmp(arg, "--json") == 0) {
			a->json = true;
			continue;
		}
		if (strcmp(arg, "--iterations") != 0 && strcmp(arg, "--seed") != 0 &&
		    strcmp(arg, "--delay") != 0) {
			fprintf(stderr, "cowlab kernel: unknown option '%s'\n%s", arg,
				usage_kernel);
			return EXIT_USAGE;
		}
		if (!val) {
			fprintf(stderr, "cowlab kernel: %s needs a value\n", arg);
			return EXIT_USAGE;
		}
		i++;
		if (strcmp(arg, "--iterations") == 0) {
			if (parse_u64(arg, val, &a->iterations) || a->iterations == 0)
				return EXIT_USAGE;
		} else if (strcmp(arg, "--seed") == 0) {
			if (parse_u64(arg, val, &a->seed))
				return EXIT_USAGE;
		} else if (parse_u64(arg, val, &a->delay) || a->delay > 1000000) {
			fprintf(stderr, "cowlab kernel: --delay takes 0 to 1000000 microseconds\n");
			return EXIT_USAGE;
		}
	}
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

/* Run one parsed file a->iterations times into t. */
static void run_file(const struct scenario *s, const struct kernel_args *a, struct tally *t)
{
	for (uint64_t i = 0; i < a->iterations; i++) {
		struct kern_opts o = {
			.seed = a->seed ? a->seed + i : 0,
			.max_delay_us = (unsigned int)a->delay,
		};
		struct kern_result r;

		kern_run(s, &o, &r);
		t->runs = i + 1;
		if (r.status == KERN_SKIP) {
			/* What the host cannot do skips every iteration; a require
			 * that did not hold skips this one: a failure of another
			 * still fails the file. */
			if (t->skips++ == 0 && !t->failed)
				snprintf(t->reason, sizeof(t->reason), "%s", r.message);
			if (i == 0 && kern_skip_reason(s))
				break;
			continue;
		}
		if (r.status == KERN_PASS)
			continue;
		if (t->failed++ == 0) {
			snprintf(t->reason, sizeof(t->reason), "%s", r.message);
			snprintf(t->first_verdict, sizeof(t->first_verdict), "%s", r.verdict);
		}
		count_verdict(t, r.verdict);
	}
	t->skipped = !t->failed && t->skips == t->runs;
}

static void print_tally(const struct tally *t, int width)
{
	if (t->skipped) {
		printf("%-*s  SKIP  %s\n", width, t->path, t->reason);
		return;
	}
	if (!t->failed) {
		printf("%-*s  PASS  %" PRIu64 " iteration%s", width, t->path, t->runs,
		       t->runs == 1 ? "" : "s");
		if (t->skips)
			printf(", %" PRIu64 " skipped: %s", t->skips, t->reason);
		printf("\n");
		return;
	}
	printf("%-*s  FAIL  %" PRIu64 " of %" PRIu64 " iterations failed:", width, t->path,
	       t->failed, t->runs);
	for (int i = 0; i < t->nr_verdicts; i++)
		printf("%s %s %" PRIu64, i ? "," : "", t->verdicts[i].word, t->verdicts[i].n);
	printf("\n  first: %s: %s\n", t->first_verdict, t->reason);
}

static void print_json(const struct tally *t, int n)
{
	uint64_t failed = 0;

	printf("{\"files\":[");
	for (int i = 0; i < n; i++) {
		printf("%s{\"file\":", i ? "," : "");
		json_string(stdout, t[i].path);
		printf(",\"status\":\"%s\",\"iterations\":%" PRIu64 ",\"failed\":%" PRIu64,
		       t[i].skipped  ? "skip"
		       : t[i].failed ? "fail"
				     : "pass",
		       t[i].runs, t[i].failed);
		printf(",\"verdicts\":{");
		for (int v = 0; v < t[i].nr_verdicts; v++) {
			printf("%s", v ? "," : "");
			json_string(stdout, t[i].verdicts[v].word);
			printf(":%" PRIu64, t[i].verdicts[v].n);
		}
		printf("}");
		if (t[i].skips && !t[i].skipped)
			printf(",\"skipped\":%" PRIu64, t[i].skips);
		if (t[i].skipped || t[i].failed) {
			printf(",\"%s\":", t[i].skipped ? "reason" : "message");
			json_string(stdout, t[i].reason);
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
		if (tallies[i].failed)
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
