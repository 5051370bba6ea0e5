/*
 * Helpers shared by the cowlab command's files (main.c: run, replay,
 * policies, demo; explore_cmd.c: explore; matrix_cmd.c: matrix).
 */
#ifndef COW_CLI_H
#define COW_CLI_H

#include "sched/explore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* The exit statuses of every command: 0 every check held (or nothing
 * was found, or the runs skipped at a require), 1 a check failed or a
 * counterexample was found, 2 bad input or usage, 3 the scenario is
 * wrong (verdict "error": an operation it runs failed where it did not
 * say "check ... faults"), 130 interrupted.  Of several files the
 * highest status is the command's. */
#define EXIT_FOUND 1
#define EXIT_USAGE 2
#define EXIT_SCENARIO 3
#define EXIT_INTERRUPTED 130

/* The verdict of a run that failed through the scenario's own fault,
 * not the memory manager's: an operation failed that it did not expect
 * to (scen_result.verdict, explore's message prefix). */
bool verdict_is_error(const char *verdict);

/* The model's search budget for one verdict of cowlab matrix and cowlab
 * diff: a number of runs, not seconds, so that a loaded machine gives the
 * same verdict as an idle one (--time adds a limit in seconds for those
 * who want one).  Every failing cell of the history matrix is found
 * within 600 runs. */
#define VERDICT_RUNS 2000

double now_seconds(void);
bool is_help(const char *arg);
/* A number from min to max for option opt of cowlab cmd; prints the
 * accepted range and returns -1 if text is not one. */
int parse_count(const char *cmd, const char *opt, const char *text, uint64_t min, uint64_t max,
		uint64_t *out);

/* The options of a command, one table each, ending with a NULL name:
 * cli_parse parses the command line by it.  An option sets a field of
 * the command's argument struct (at off) by its kind, or calls a
 * function for what a kind does not cover. */
enum cli_kind {
	OPT_FLAG,    /* bool, no value */
	OPT_U64,     /* uint64_t, a whole number from min to max */
	OPT_UINT,    /* unsigned int, from min to max */
	OPT_ULONG,   /* unsigned long, from min to max */
	OPT_SECONDS, /* double, seconds > 0 (at most 1e9) */
	OPT_TEXT,    /* const char *, the value as given */
	OPT_POLICY,  /* const char *, a preset of cowlab policies */
	OPT_MEMORY,  /* --max-memory: the command's memory limit (max_memory) */
	OPT_CALL,    /* call(args, cmd, opt, value): 0, or -1 after a message */
};
struct cli_opt {
	const char *name; /* "--runs" */
	enum cli_kind kind;
	size_t off;
	uint64_t min, max;
	int (*call)(void *args, const char *cmd, const char *opt, const char *val);
};
#define OPT_FLAG_AT(name, type, field)                            \
	{                                                         \
		name, OPT_FLAG, offsetof(type, field), 0, 0, NULL \
	}
#define OPT_NUM_AT(name, kind, type, field, min, max)             \
	{                                                         \
		name, kind, offsetof(type, field), min, max, NULL \
	}
#define OPT_AT(name, kind, type, field)                       \
	{                                                     \
		name, kind, offsetof(type, field), 0, 0, NULL \
	}
#define OPT_CALL_TO(name, fn)               \
	{                                   \
		name, OPT_CALL, 0, 0, 0, fn \
	}
#define OPT_MAX_MEMORY                                    \
	{                                                 \
		"--max-memory", OPT_MEMORY, 0, 0, 0, NULL \
	}
#define OPT_END                               \
	{                                     \
		NULL, OPT_FLAG, 0, 0, 0, NULL \
	}

/* Parse argv[1..] by opts into args: operands (files, tokens) go to
 * operands[*nr] (room for argc).  --help or -h prints usage and returns
 * -1; a bad option or value prints why and returns EXIT_USAGE; else 0.
 * Every command parses with it, so that each takes both "--opt value"
 * and "--opt=value" and reports an unknown option as unknown. */
int cli_parse(const char *cmd, const struct cli_opt *opts, void *args, const char *usage, int argc,
	      char **argv, const char **operands, int *nr);
void print_token(const struct explore_token *t);
/* What a verdict rests on, in words, for the lines of explore, run and
 * matrix (algo: the search's, naming what sampled; bound: dfs's):
 *   "found: a counterexample in run 12"
 *   "sampled: 2000 runs of PCT, random and dfs, not every schedule"
 *   "exhaustive within 2 preemptions: every schedule with at most 2 ran"
 *   "exhaustive: every schedule ran"                                   */
const char *cover_words(enum explore_cover c, enum sched_algo algo, unsigned int bound,
			uint64_t runs, char *buf, size_t len);
/* The same as a table cell's mark after "pass" or "ok": "" when every
 * schedule ran (and for a failure: it is a counterexample), "(K)" when
 * every schedule within K preemptions ran, "~" when sampled. */
const char *cover_mark(enum explore_cover c, unsigned int bound, char *buf, size_t len);

/* The whole of a file, NUL-terminated, its length in *len (malloc'd);
 * NULL with errno set if it cannot be read. */
char *read_whole(const char *path, size_t *len);
/* s as a JSON string literal, quotes included. */
void json_string(FILE *f, const char *s);
/* Whether name is a preset, a rule set or a name --policies gave one;
 * if not, says why on stderr ("cowlab CMD: --policy NAME: ..."). */
bool policy_known(const char *cmd, const char *name);

/* KTAP, the format of the kernel's selftests (--tap): the header and the
 * plan, then one result line per test, "ok N NAME", "not ok N NAME" or
 * "ok N NAME # SKIP REASON", each after its diagnostic lines ("# ...");
 * the closing totals line is a comment, as kselftest prints it. */
void ktap_header(int nr_tests);
void ktap_diag(const char *fmt, ...) COW_PRINTF(1, 2);
void ktap_result(int n, bool ok, const char *name, const char *skip_reason);
void ktap_totals(int pass, int fail, int skip);

/* An explore program by name: a scenario file, or one of the demo
 * programs (cowlab demo).  On success *p is the program and *policy the
 * policy it runs under; release with explore_target_free.  On failure a
 * message went to stderr and the exit code is returned. */
struct explore_target;
int explore_target_open(const char *name, const char *policy, const char *cmd,
			struct explore_target **out, const struct explore_prog **p,
			const char **policy_used);
/* The same for a scenario already parsed (s stays the caller's and must
 * outlive the target); the policy must exist. */
struct scenario;
int explore_target_scenario(const struct scenario *s, const char *policy, const char *cmd,
			    struct explore_target **out, const struct explore_prog **p,
			    const char **policy_used);
void explore_target_free(struct explore_target *t);
/* After a search of a scenario target: its skipped runs into res
 * (scen_result_add_skips); nothing for a demo. */
struct scen_result;
void explore_target_skips(const struct explore_target *t, struct scen_result *res);

/* A scenario's verdict under preset, as the explorer finds it within runs
 * runs and time seconds (verdict.c). */
struct verdict {
	int err;	/* a COW_E* code: the search could not run */
	int failed;	/* a failing run was found */
	int exhaustive; /* every schedule ran */
	int dfs_done;	/* every schedule within dfs_bound preemptions ran */
	unsigned int dfs_bound;
	/* What the verdict rests on (explore_result_cover). */
	enum explore_cover cover;
	uint64_t runs;
	double seconds;
	char verdict[16]; /* "pass", the failing verdict, or "skip" (every run
			   * stopped at a require that did not hold) */
	char token[EXPLORE_TOKEN_MAX];
	char message[512];
};
void explore_verdict(const struct scenario *s, const char *preset, uint64_t runs, double time,
		     uint64_t seed, struct verdict *v);
/* Part part of parts of that search (explore's --shard part/parts, with
 * runs / parts of the runs): its verdict is the part's. */
void explore_verdict_part(const struct scenario *s, const char *preset, uint64_t runs, double time,
			  uint64_t seed, unsigned int part, unsigned int parts, struct verdict *v);
/* A pass that is not yet exhaustive: search s with dpor for up to time
 * seconds.  If dpor runs every trace the pass is proven (exhaustive, its
 * cover EXPLORE_EXHAUSTIVE); if it finds a failing run, that is the
 * verdict; else v stands, with dpor's runs and time added. */
void explore_verdict_prove(const struct scenario *s, const char *preset, double time,
			   struct verdict *v);

/* The runs of each search of a reduction's candidate (no time limit: a
 * reduction is the same on every machine). */
#define REDUCE_SEARCH_RUNS 2000
struct reduce_stats {
	int lines_before, lines_after; /* statements (no comments, no blanks) */
	unsigned int tried, kept;      /* candidates searched, changes kept */
};
/* Program reduction (reduce.c): delta-debug the scenario at src, whose
 * search under policy failed with verdict and message, a statement (then
 * a number) at a time while a search of the rest fails the same way, and
 * write what is left to dst.  0, or EXIT_USAGE after a message on
 * stderr. */
int explore_reduce(const char *src, const char *dst, const char *policy, const char *verdict,
		   const char *message, struct reduce_stats *st);

/* The scenarios a command is given (scenarios.c): each FILE, each DIR's
 * *.cow files sorted by name, parsed in order.  0, or EXIT_USAGE after a
 * message on stderr (every parse error is reported, then the load stops);
 * free with scen_list_free either way. */
struct scen_entry {
	char *file; /* the path the scenario was read from */
	char *name; /* its file name without .cow */
	struct scenario *s;
};
#define MAX_MEMORY_HELP                                                               \
	"  --max-memory SIZE refuse a scenario whose run may take more host memory\n" \
	"                    than SIZE (K, M, G, T; default: half of the RAM)\n"
/* Load the scenario at path for cowlab cmd: 0, or EXIT_USAGE after a
 * message on stderr when it does not parse or may take more memory than
 * the --max-memory limit (it is refused before anything is mapped). */
int scen_load_checked(const char *cmd, const char *path, struct scenario **out);
int scen_list_load(const char *cmd, const char *const *paths, int nr_paths, struct scen_entry **out,
		   int *nr);
/* The same list, none of its files read yet (every s NULL). */
int scen_list_paths(const char *cmd, const char *const *paths, int nr_paths,
		    struct scen_entry **out, int *nr);
void scen_list_free(struct scen_entry *v, int nr);

/* The trace page (trace_html.c, cowlab replay --html): replay t and
 * write its trace to f as one self-contained HTML file (its data, style
 * and script inline, nothing fetched), headed by t's program, policy (the
 * policy it runs under) and token.  Returns the trace's visible steps or
 * a negative COW_E* code (explore_trace_json's); r gets the run.  The
 * caller checks f for write errors. */
int trace_html(FILE *f, const struct explore_prog *p, const struct explore_token *t,
	       const char *policy, struct explore_result *r);

int cmd_explore(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_matrix(int argc, char **argv);
int cmd_merge(int argc, char **argv);
/* merge's part for a matrix: the shards' results (what `matrix --json`
 * prints) and whether each ran to its end; prints the whole table as
 * matrix does (JSON if json) and returns matrix's exit status. */
struct json;
int matrix_merge(struct json *const *results, const bool *complete, unsigned int shards, bool json);
int cmd_kernel(int argc, char **argv);
int cmd_diff(int argc, char **argv);

#endif
