/*
 * Helpers shared by the cowlab command's files (see cli.h).
 */
#include "cli.h"
#include "cowlab.h"
#include "sched/demos.h"
#include "scenario/interp.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

static unsigned long long memory_limit; /* --max-memory's; 0: the default */

/* --max-memory SIZE of every command that runs scenarios: bytes, or a
 * number with K, M, G or T (powers of 1024).  Prints why and returns
 * EXIT_USAGE if text is not one. */
static int parse_max_memory(const char *cmd, const char *text)
{
	static const char units[] = "KMGT";
	char *end;
	double v;
	const char *u;

	errno = 0;
	v = strtod(text, &end);
	if (*end && end[1] == '\0' && (u = strchr(units, *end)) != NULL) {
		for (long i = 0; i <= u - units; i++)
			v *= 1024;
		end++;
	}
	if (errno || end == text || *end || !(v >= 1) || v >= 18e18 ||
	    !isdigit((unsigned char)*text)) {
		fprintf(stderr,
			"cowlab %s: --max-memory takes a size in bytes, or with K, M, G or T "
			"(as 512M or 4G), not '%s'\n",
			cmd, text);
		return EXIT_USAGE;
	}
	memory_limit = (unsigned long long)v;
	return 0;
}

/* The limit in bytes: --max-memory's, else half of the host's RAM. */
static unsigned long long max_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	if (memory_limit)
		return memory_limit;
	if (pages <= 0 || size <= 0)
		return ULLONG_MAX;
	return (unsigned long long)pages * (unsigned long long)size / 2;
}

/* n bytes in the largest unit that keeps a digit before the point. */
static const char *size_words(unsigned long long n, char *buf, size_t len)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

int scen_load_checked(const char *cmd, const char *path, struct scenario **out)
{
	unsigned long long need, limit = max_memory();
	char msg[512], a[32], b[32];

	if (scen_load(path, out, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "%s\n", msg);
		return EXIT_USAGE;
	}
	need = scen_memory_bytes(*out);
	if (need <= limit)
		return 0;
	fprintf(stderr,
		"cowlab %s: %s: refused: a run may take %s of memory (its mappings, a private "
		"copy for every process, and the model's frame pool), more than the limit "
		"of %s (%s); raise --max-memory or make the mappings smaller\n",
		cmd, path, size_words(need, a, sizeof(a)), size_words(limit, b, sizeof(b)),
		memory_limit ? "--max-memory" : "half of this machine's RAM");
	scen_free(*out);
	*out = NULL;
	return EXIT_USAGE;
}

bool verdict_is_error(const char *verdict)
{
	return strcmp(verdict, "error") == 0;
}

int parse_count(const char *cmd, const char *opt, const char *text, uint64_t min, uint64_t max,
		uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (text && text[0] >= '0' && text[0] <= '9') {
		v = strtoull(text, &end, 10);
		if (!errno && !*end && v >= min && v <= max) {
			*out = v;
			return 0;
		}
	}
	if (max == UINT64_MAX)
		fprintf(stderr,
			"cowlab %s: %s takes a whole number from %" PRIu64 " up, not '%s'\n", cmd,
			opt, min, text ? text : "");
	else
		fprintf(stderr,
			"cowlab %s: %s takes a whole number from %" PRIu64 " to %" PRIu64
			", not '%s'\n",
			cmd, opt, min, max, text ? text : "");
	return -1;
}

enum cli_arg {
	CLI_ARG,  /* a file or other operand: *val */
	CLI_OPT,  /* an option of the table: *opt, *val (NULL for a flag) */
	CLI_HELP, /* --help or -h */
	CLI_BAD,  /* an unknown option, a missing value: a message went to stderr */
};

/* The argument at argv[*i]; advances *i past an option's value when it is
 * the next argument. */
static enum cli_arg cli_next(const char *cmd, const struct cli_opt *opts, int argc, char **argv,
			     int *i, const struct cli_opt **opt, const char **val)
{
	const char *arg = argv[*i], *eq;
	const struct cli_opt *o;
	size_t n;

	*opt = NULL;
	*val = NULL;
	if (is_help(arg))
		return CLI_HELP;
	if (arg[0] != '-' || strcmp(arg, "-") == 0) {
		*val = arg;
		return CLI_ARG;
	}
	eq = strchr(arg, '=');
	n = eq ? (size_t)(eq - arg) : strlen(arg);
	for (o = opts; o->name; o++)
		if (strlen(o->name) == n && strncmp(arg, o->name, n) == 0)
			break;
	if (!o->name) {
		fprintf(stderr, "cowlab %s: unknown option '%.*s' (see 'cowlab %s --help')\n", cmd,
			(int)n, arg, cmd);
		return CLI_BAD;
	}
	*opt = o;
	if (o->kind == OPT_FLAG) {
		if (eq) {
			fprintf(stderr, "cowlab %s: %s takes no value\n", cmd, o->name);
			return CLI_BAD;
		}
		return CLI_OPT;
	}
	if (eq) {
		*val = eq + 1;
	} else if (*i + 1 < argc) {
		*val = argv[++*i];
	} else {
		fprintf(stderr, "cowlab %s: %s needs a value\n", cmd, o->name);
		return CLI_BAD;
	}
	return CLI_OPT;
}

/* Set the field of o in args from val: 0, or -1 after a message. */
static int set_option(const char *cmd, const struct cli_opt *o, void *args, const char *val)
{
	char *field = (char *)args + o->off;
	uint64_t v;

	switch (o->kind) {
	case OPT_FLAG: *(bool *)field = true; return 0;
	case OPT_TEXT: *(const char **)field = val; return 0;
	case OPT_MEMORY: return parse_max_memory(cmd, val) ? -1 : 0;
	case OPT_CALL: return o->call(args, cmd, o->name, val);
	case OPT_POLICY:
		if (!policy_known(cmd, val))
			return -1;
		*(const char **)field = val;
		return 0;
	case OPT_SECONDS: {
		char *end;
		double d;

		errno = 0;
		d = strtod(val, &end);
		if (errno || end == val || *end || !(d > 0) || d > 1e9) {
			fprintf(stderr, "cowlab %s: %s takes seconds > 0, not '%s'\n", cmd, o->name,
				val);
			return -1;
		}
		*(double *)field = d;
		return 0;
	}
	case OPT_U64:
	case OPT_UINT:
	case OPT_ULONG:
		if (parse_count(cmd, o->name, val, o->min, o->max, &v))
			return -1;
		if (o->kind == OPT_U64)
			*(uint64_t *)field = v;
		else if (o->kind == OPT_UINT)
			*(unsigned int *)field = (unsigned int)v;
		else
			*(unsigned long *)field = (unsigned long)v;
		return 0;
	}
	return -1;
}

/* A --policies file: "NAME = PRESET+RULE=VALUE..." a line (blanks
 * anywhere in the rule set), '#' comments, blank lines. */
static int policy_file_load(const char *cmd, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024], spec[COW_POLICY_NAME_MAX], err[256];
	int lineno = 0, code = 0;

	if (!f) {
		fprintf(stderr, "cowlab %s: --policies %s: %s\n", cmd, path, strerror(errno));
		return EXIT_USAGE;
	}
	while (!code && fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#'), *eq, *name, *end;
		size_t n = 0;

		lineno++;
		if (hash)
			*hash = '\0';
		name = line + strspn(line, " \t\r\n");
		if (!*name)
			continue;
		eq = strchr(name, '=');
		if (!eq) {
			fprintf(stderr, "cowlab %s: %s:%d: expected NAME = PRESET+RULE=VALUE...\n",
				cmd, path, lineno);
			code = EXIT_USAGE;
			break;
		}
		for (end = eq; end > name && strchr(" \t", end[-1]); end--)
			;
		*end = '\0';
		for (const char *c = eq + 1; *c && n + 1 < sizeof(spec); c++)
			if (!strchr(" \t\r\n", *c))
				spec[n++] = *c;
		spec[n] = '\0';
		if (cow_policy_define(name, spec, err, sizeof(err)) != 0) {
			fprintf(stderr, "cowlab %s: %s:%d: %s\n", cmd, path, lineno, err);
			code = EXIT_USAGE;
		}
	}
	fclose(f);
	return code;
}

/* --policies FILE, which every command takes anywhere: read first, so
 * that --policy may name what it defines; argv loses it. */
static int load_policy_files(const char *cmd, int *argc, char **argv)
{
	int j = 1;

	for (int i = 1; i < *argc; i++) {
		const char *file;

		if (strcmp(argv[i], "--policies") == 0) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "cowlab %s: --policies needs a file\n", cmd);
				return EXIT_USAGE;
			}
			file = argv[++i];
		} else if (strncmp(argv[i], "--policies=", 11) == 0) {
			file = argv[i] + 11;
		} else {
			argv[j++] = argv[i];
			continue;
		}
		if (policy_file_load(cmd, file) != 0)
			return EXIT_USAGE;
	}
	*argc = j;
	return 0;
}

bool policy_known(const char *cmd, const char *name)
{
	char why[256];

	if (cow_policy_find(name))
		return true;
	if (cow_policy_check(name, why, sizeof(why)) == 0)
		snprintf(why, sizeof(why), "out of memory");
	fprintf(stderr, "cowlab %s: --policy %s: %s\n", cmd, name, why);
	return false;
}

int cli_parse(const char *cmd, const struct cli_opt *opts, void *args, const char *usage, int argc,
	      char **argv, const char **operands, int *nr)
{
	if (load_policy_files(cmd, &argc, argv) != 0)
		return EXIT_USAGE;
	for (int i = 1; i < argc; i++) {
		const struct cli_opt *o;
		const char *val;

		switch (cli_next(cmd, opts, argc, argv, &i, &o, &val)) {
		case CLI_HELP: fputs(usage, stdout); return -1;
		case CLI_BAD: return EXIT_USAGE;
		case CLI_ARG: operands[(*nr)++] = val; break;
		case CLI_OPT:
			if (set_option(cmd, o, args, val) != 0)
				return EXIT_USAGE;
			break;
		}
	}
	return 0;
}

void print_token(const struct explore_token *t)
{
	char token[EXPLORE_TOKEN_MAX];

	if (explore_token_format(t, token, sizeof(token)) == 0)
		printf("  cowlab replay %s\n", token);
}

const char *cover_words(enum explore_cover c, enum sched_algo algo, unsigned int bound,
			uint64_t runs, char *buf, size_t len)
{
	const char *runs_word = runs == 1 ? "run" : "runs";

	switch (c) {
	case EXPLORE_FOUND:
		snprintf(buf, len, "found: a counterexample in run %" PRIu64, runs);
		break;
	case EXPLORE_SAMPLED:
		if (algo == SCHED_AUTO)
			snprintf(buf, len, "sampled: %" PRIu64 " %s of PCT, random and dfs", runs,
				 runs_word);
		else
			snprintf(buf, len, "sampled: %" PRIu64 " %s %s%s", runs,
				 algo == SCHED_PCT ? "PCT" : sched_algo_name(algo), runs_word,
				 algo == SCHED_DFS ? " (dfs did not finish)" : "");
		snprintf(buf + strlen(buf), len - strlen(buf), ", not every schedule");
		break;
	case EXPLORE_BOUNDED:
		snprintf(buf, len,
			 "exhaustive within %u preemption%s: every schedule with at most %u ran",
			 bound, bound == 1 ? "" : "s", bound);
		break;
	case EXPLORE_EXHAUSTIVE: snprintf(buf, len, "exhaustive: every schedule ran"); break;
	}
	return buf;
}

const char *cover_mark(enum explore_cover c, unsigned int bound, char *buf, size_t len)
{
	if (c == EXPLORE_SAMPLED)
		snprintf(buf, len, "~");
	else if (c == EXPLORE_BOUNDED)
		snprintf(buf, len, "(%u)", bound);
	else
		snprintf(buf, len, "%s", "");
	return buf;
}

void ktap_header(int nr_tests)
{
	printf("KTAP version 1\n1..%d\n", nr_tests);
}

/* s on one line, without a '#' (which would start a directive). */
static void ktap_words(const char *s)
{
	for (; *s; s++)
		putchar(*s == '\n' ? ' ' : *s == '#' ? '_' : *s);
}

void ktap_diag(const char *fmt, ...)
{
	char buf[4096];
	const char *line = buf;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	while (*line) {
		size_t n = strcspn(line, "\n");

		printf("# %.*s\n", (int)n, line);
		line += n + (line[n] == '\n');
	}
}

void ktap_result(int n, bool ok, const char *name, const char *skip_reason)
{
	printf("%sok %d ", ok ? "" : "not ", n);
	ktap_words(name);
	if (skip_reason) {
		printf(" # SKIP ");
		ktap_words(skip_reason);
	}
	printf("\n");
}

void ktap_totals(int pass, int fail, int skip)
{
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n", pass, fail, skip);
}

void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

struct explore_target {
	struct scenario *s; /* NULL if the caller's (explore_target_scenario) */
	struct scen_prog sp;
};

int explore_target_scenario(const struct scenario *s, const char *policy, const char *cmd,
			    struct explore_target **out, const struct explore_prog **p,
			    const char **policy_used)
{
	struct explore_target *t = calloc(1, sizeof(*t));
	struct scen_result res;
	int err;

	*out = NULL;
	if (!t) {
		fprintf(stderr, "cowlab %s: out of memory\n", cmd);
		return EXIT_USAGE;
	}
	err = scen_prog_init(s, policy, &t->sp, &res);
	if (err) {
		fprintf(stderr, "cowlab %s: %s\n", cmd,
			res.message[0] ? res.message : cow_strerror(err));
		free(t);
		return EXIT_USAGE;
	}
	*out = t;
	*p = &t->sp.prog;
	*policy_used = t->sp.policy;
	return 0;
}

int explore_target_open(const char *name, const char *policy, const char *cmd,
			struct explore_target **out, const struct explore_prog **p,
			const char **policy_used)
{
	struct scenario *s;
	int code;

	*out = NULL;
	*p = explore_demo_find(name);
	if (*p) {
		*policy_used = "-";
		return 0;
	}
	code = scen_load_checked(cmd, name, &s);
	if (code)
		return code;
	code = explore_target_scenario(s, policy, cmd, out, p, policy_used);
	if (code) {
		scen_free(s);
		return code;
	}
	(*out)->s = s;
	return 0;
}

void explore_target_skips(const struct explore_target *t, struct scen_result *res)
{
	if (t && t->sp.s)
		scen_result_add_skips(&t->sp, res);
}

void explore_target_free(struct explore_target *t)
{
	if (!t)
		return;
	scen_free(t->s);
	free(t);
}

char *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			char *more = realloc(buf, cap = 2 * cap + 65536);

			if (!more) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = more;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}
