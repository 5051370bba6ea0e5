/*
 * Shards of a search on a cluster (shard.h), and `cowlab merge DIR`, which
 * puts their results together.
 *
 * A shard file is one JSON object:
 *
 *   {"format":1,"kind":"explore","shard":I,"shards":N,"search":"...",
 *    "result":{...},"complete":true}
 *
 * "search" names the search (the program, its hash, the policy and every
 * option that decides which runs a shard makes): the shards of one search
 * agree on it.  "result" is what `cowlab explore --json` prints as its
 * result line (for the matrix: what `cowlab matrix --json` prints, for the
 * shard's cells).  "complete" is false when the search was stopped
 * (SIGINT, SIGTERM) before its end.
 */
#include "shard.h"

#include "cli.h"
#include "json.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHARDS_MAX (1u << 20)

int shard_parse(struct shard_opt *s, const char *cmd, const char *opt, const char *val)
{
	unsigned int i, n;
	int used = 0;

	if (strcmp(val, "auto") == 0) {
		s->automatic = true;
		return 0;
	}
	if (sscanf(val, "%u/%u%n", &i, &n, &used) != 2 || val[used] || n == 0 || i >= n ||
	    n > SHARDS_MAX) {
		fprintf(stderr, "cowlab %s: %s takes I/N with 0 <= I < N, or auto, not '%s'\n", cmd,
			opt, val);
		return -1;
	}
	s->automatic = false;
	s->shard = i;
	s->shards = n;
	return 0;
}

/* A variable of the environment as a number; false if unset. */
static bool env_number(const char *cmd, const char *name, long long *out, bool *bad)
{
	const char *v = getenv(name);
	char *end;

	if (!v || !*v)
		return false;
	errno = 0;
	*out = strtoll(v, &end, 10);
	if (errno || *end || *out < 0 || *out > (long long)INT_MAX) {
		fprintf(stderr, "cowlab %s: --shard auto: %s is '%s', not a number\n", cmd, name,
			v);
		*bad = true;
	}
	return true;
}

int shard_resolve(struct shard_opt *s, const char *cmd)
{
	long long id, min = 0, step = 1, count, n;
	bool bad = false;

	if (!s->automatic) {
		if (s->shards_flag && s->shards_flag != s->shards) {
			fprintf(stderr, "cowlab %s: --shards %u, but --shard says %u shards\n", cmd,
				s->shards_flag, s->shards);
			return -1;
		}
		return 0;
	}
	if (env_number(cmd, "SLURM_ARRAY_TASK_ID", &id, &bad)) {
		(void)env_number(cmd, "SLURM_ARRAY_TASK_MIN", &min, &bad);
		(void)env_number(cmd, "SLURM_ARRAY_TASK_STEP", &step, &bad);
		if (!env_number(cmd, "SLURM_ARRAY_TASK_COUNT", &count, &bad) && !bad) {
			fprintf(stderr,
				"cowlab %s: --shard auto: SLURM_ARRAY_TASK_ID is set but "
				"SLURM_ARRAY_TASK_COUNT is not\n",
				cmd);
			return -1;
		}
		if (bad)
			return -1;
		if (step < 1 || id < min || (id - min) % step || (id - min) / step >= count) {
			fprintf(stderr,
				"cowlab %s: --shard auto: array task %lld is not one of the %lld "
				"from "
				"%lld by %lld\n",
				cmd, id, count, min, step);
			return -1;
		}
		s->shard = (unsigned int)((id - min) / step);
		s->shards = (unsigned int)count;
		if (s->shards_flag && s->shards_flag != s->shards) {
			fprintf(stderr,
				"cowlab %s: --shards %u, but the Slurm array has %u tasks "
				"(SLURM_ARRAY_TASK_COUNT)\n",
				cmd, s->shards_flag, s->shards);
			return -1;
		}
		return 0;
	}
	if (env_number(cmd, "JOB_COMPLETION_INDEX", &id, &bad)) {
		n = s->shards_flag;
		if (!n && !env_number(cmd, "COWLAB_SHARDS", &n, &bad) && !bad) {
			fprintf(stderr,
				"cowlab %s: --shard auto: a Kubernetes Indexed Job "
				"(JOB_COMPLETION_INDEX) wants the shard count: give --shards N "
				"or COWLAB_SHARDS=N (the Job's completions)\n",
				cmd);
			return -1;
		}
		if (bad)
			return -1;
		if (n < 1 || id >= n || n > SHARDS_MAX) {
			fprintf(stderr,
				"cowlab %s: --shard auto: JOB_COMPLETION_INDEX %lld is not below "
				"the "
				"shard count %lld\n",
				cmd, id, n);
			return -1;
		}
		s->shard = (unsigned int)id;
		s->shards = (unsigned int)n;
		return 0;
	}
	if (!bad)
		fprintf(stderr,
			"cowlab %s: --shard auto: not in a Slurm job array "
			"(SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job "
			"(JOB_COMPLETION_INDEX); give --shard I/N\n",
			cmd);
	return -1;
}

/* mkdir -p */
static int make_dir(const char *dir)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return -1;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static void shard_path(const struct shard_opt *s, const char *kind, bool tmp, char *buf, size_t len)
{
	if (tmp)
		snprintf(buf, len, "%s/.%s-%u-of-%u.json.%ld", s->out, kind, s->shard, s->shards,
			 (long)getpid());
	else
		snprintf(buf, len, "%s/%s-%u-of-%u.json", s->out, kind, s->shard, s->shards);
}

FILE *shard_open(const struct shard_opt *s, const char *cmd, const char *kind, const char *search)
{
	char path[PATH_MAX + 64];
	FILE *f;

	if (make_dir(s->out) != 0) {
		fprintf(stderr, "cowlab %s: --out %s: %s\n", cmd, s->out, strerror(errno));
		return NULL;
	}
	shard_path(s, kind, true, path, sizeof(path));
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "cowlab %s: --out: %s: %s\n", cmd, path, strerror(errno));
		return NULL;
	}
	fprintf(f, "{\"format\":%d,\"kind\":\"%s\",\"shard\":%u,\"shards\":%u,\"search\":",
		SHARD_FORMAT, kind, s->shard, s->shards);
	json_string(f, search);
	fputs(",\"result\":", f);
	return f;
}

int shard_close(FILE *f, const struct shard_opt *s, const char *cmd, const char *kind,
		bool complete)
{
	char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	int bad;

	fprintf(f, ",\"complete\":%s}\n", complete ? "true" : "false");
	bad = ferror(f) | fflush(f) | fsync(fileno(f));
	bad |= fclose(f);
	shard_path(s, kind, true, tmp, sizeof(tmp));
	shard_path(s, kind, false, path, sizeof(path));
	if (bad || rename(tmp, path) != 0) {
		fprintf(stderr, "cowlab %s: --out: writing %s: %s\n", cmd, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* ---- cowlab merge ------------------------------------------------------------------ */

// clang-format off
static const char usage_merge[] =
	"usage: cowlab merge DIR [--json]\n"
	"\n"
	"Puts together the results the shards of one search wrote with --out DIR\n"
	"(cowlab explore or matrix with --shard I/N or --shard auto): an explore's\n"
	"runs and schedules add up, a failure in any shard is reported with its\n"
	"replay token and trace, and the search is exhaustive only if every shard\n"
	"ran its part to the end; a matrix's cells are put back in one table.\n"
	"A shard that is missing, there twice, of another search, or unreadable\n"
	"is an error that names it.\n"
	"\n"
	"  --json   one JSON line\n"
	"\n"
	"Exit status: 0 nothing found (explore) or every cell as expected\n"
	"(matrix), 1 a failure found or a cell that differs, 2 bad input (a\n"
	"shard missing or wrong), 3 a failing run whose verdict is 'error' (the\n"
	"scenario is wrong), 130 a matrix shard was stopped before its end (its\n"
	"cells without a verdict are marked '-').\n";
// clang-format on

struct shard_file {
	char *path;
	struct json *doc;
	const struct json *result;
	unsigned int shard;
	bool complete;
};

struct merge {
	const char *dir;
	bool json;
	struct shard_file *files; /* [shards], by shard; path NULL: missing */
	unsigned int shards;
	const char *kind, *search;
};

/* Read one shard file; check it against the ones before (m->kind,
 * m->search, m->shards set by the first).  0, or -1 after a message. */
static int read_shard(struct merge *m, const char *path)
{
	char err[256], *text;
	size_t len = 0;
	uint64_t format, shard, shards;
	const char *kind, *search;
	struct json *doc;
	struct shard_file *sf;

	text = read_whole(path, &len);
	if (!text) {
		fprintf(stderr, "cowlab merge: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (json_parse(text, len, &doc, err, sizeof(err)) != 0) {
		fprintf(stderr, "cowlab merge: %s: not a shard's result: %s\n", path, err);
		free(text);
		return -1;
	}
	free(text);
	kind = json_get_str(doc, "kind");
	search = json_get_str(doc, "search");
	if (!json_get_u64(doc, "format", &format) || !json_get_u64(doc, "shard", &shard) ||
	    !json_get_u64(doc, "shards", &shards) || !kind || !search || !json_get(doc, "result") ||
	    json_get(doc, "result")->type != JSON_OBJ || !json_get(doc, "complete") ||
	    shards == 0 || shard >= shards || shards > SHARDS_MAX) {
		fprintf(stderr, "cowlab merge: %s: not a shard's result (a field is missing)\n",
			path);
		json_free(doc);
		return -1;
	}
	if (format != SHARD_FORMAT) {
		fprintf(stderr, "cowlab merge: %s: format %" PRIu64 ", this cowlab reads %d\n",
			path, format, SHARD_FORMAT);
		json_free(doc);
		return -1;
	}
	if (!m->files) {
		m->shards = (unsigned int)shards;
		m->files = calloc(shards, sizeof(*m->files));
		if (!m->files) {
			fprintf(stderr, "cowlab merge: out of memory\n");
			json_free(doc);
			return -1;
		}
		m->kind = kind;
		m->search = search;
	} else if (shards != m->shards || strcmp(kind, m->kind) || strcmp(search, m->search)) {
		const struct shard_file *first = NULL;

		for (unsigned int i = 0; i < m->shards && !first; i++)
			if (m->files[i].path)
				first = &m->files[i];
		fprintf(stderr,
			"cowlab merge: %s is a shard of another search than %s:\n  %s (%" PRIu64
			" shards)\n  %s (%u shards)\n",
			path, first->path, search, shards, m->search, m->shards);
		json_free(doc);
		return -1;
	}
	sf = &m->files[shard];
	if (sf->path) {
		fprintf(stderr, "cowlab merge: shard %" PRIu64 " of %u is there twice: %s and %s\n",
			shard, m->shards, sf->path, path);
		json_free(doc);
		return -1;
	}
	sf->path = strdup(path);
	sf->doc = doc;
	sf->result = json_get(doc, "result");
	sf->shard = (unsigned int)shard;
	(void)json_get_bool(doc, "complete", &sf->complete);
	if (!sf->path) {
		fprintf(stderr, "cowlab merge: out of memory\n");
		return -1;
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.json file of the folder, in name order (hidden ones, the
 * temporary files of shards still writing, aside). */
static int read_shards(struct merge *m)
{
	DIR *d = opendir(m->dir);
	char **names = NULL;
	size_t nr = 0, cap = 0;
	struct dirent *e;
	int rc = 0;

	if (!d) {
		fprintf(stderr, "cowlab merge: %s: %s\n", m->dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (e->d_name[0] == '.' || n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		if (nr == cap) {
			char **g = realloc(names, (cap = 2 * cap + 16) * sizeof(*names));

			if (!g) {
				rc = -1;
				break;
			}
			names = g;
		}
		if (!(names[nr] = malloc(strlen(m->dir) + n + 2))) {
			rc = -1;
			break;
		}
		sprintf(names[nr++], "%s/%s", m->dir, e->d_name);
	}
	closedir(d);
	if (rc)
		fprintf(stderr, "cowlab merge: out of memory\n");
	else if (nr == 0)
		fprintf(stderr, "cowlab merge: %s holds no shard's result (*.json)\n", m->dir),
			rc = -1;
	if (!rc)
		qsort(names, nr, sizeof(*names), by_name);
	for (size_t i = 0; i < nr && !rc; i++)
		rc = read_shard(m, names[i]);
	for (size_t i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	if (rc)
		return rc;
	for (unsigned int i = 0; i < m->shards; i++)
		if (!m->files[i].path) {
			fprintf(stderr,
				"cowlab merge: shard %u of %u is missing (%s/%s-%u-of-%u.json)\n",
				i, m->shards, m->dir, m->kind, i, m->shards);
			rc = -1;
		}
	return rc;
}

static uint64_t sum_u64(const struct merge *m, const char *key)
{
	uint64_t sum = 0, v;

	for (unsigned int i = 0; i < m->shards; i++)
		if (json_get_u64(m->files[i].result, key, &v))
			sum += v;
	return sum;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* --count-traces: the shards' sets of traces joined (a trace two shards
 * ran counts once), their number and digest (traces.c).  False if a
 * shard has no set. */
static bool join_forms(const struct merge *m, uint64_t *traces, uint64_t *digest)
{
	uint64_t *all = NULL, n = 0, cap = 0;

	*traces = *digest = 0;
	for (unsigned int i = 0; i < m->shards; i++) {
		const struct json *f = json_get(m->files[i].doc, "forms");

		if (!f || f->type != JSON_ARR) {
			free(all);
			return false;
		}
		for (const struct json *e = f->child; e; e = e->next) {
			if (n == cap) {
				uint64_t *g = realloc(all, (cap = 2 * cap + 1024) * sizeof(*all));

				if (!g) {
					free(all);
					return false;
				}
				all = g;
			}
			if (e->type != JSON_STR || sscanf(e->text, "%" SCNx64, &all[n]) != 1) {
				free(all);
				return false;
			}
			n++;
		}
	}
	qsort(all, n, sizeof(*all), cmp_u64);
	for (uint64_t i = 0; i < n; i++)
		if (i == 0 || all[i] != all[i - 1]) {
			(*traces)++;
			*digest += cow_mix64(all[i]);
		}
	free(all);
	return true;
}

static int merge_explore(const struct merge *m)
{
	const struct shard_file *found = NULL;
	const struct json *first = m->files[0].result;
	const char *file = json_get_str(first, "file"), *policy = json_get_str(first, "policy");
	uint64_t runs = sum_u64(m, "runs"), distinct = sum_u64(m, "distinct"),
		 uncounted = sum_u64(m, "uncounted"), bound = 0, b;
	bool exhaustive = true, bounded = true, complete = true, skipped = true, v;
	uint64_t traces, digest;
	bool counted = join_forms(m, &traces, &digest);
	char cover[160];

	for (unsigned int i = 0; i < m->shards; i++) {
		const struct shard_file *sf = &m->files[i];
		const char *search = json_get_str(sf->result, "search");

		if (json_get_bool(sf->result, "found", &v) && v && !found)
			found = sf;
		skipped &= json_get_bool(sf->result, "skipped", &v) && v;
		complete &= sf->complete;
		exhaustive &= search && strcmp(search, "exhaustive") == 0;
		bounded &= search &&
			   (strcmp(search, "exhaustive") == 0 || strcmp(search, "bounded") == 0);
		if (json_get_u64(sf->result, "bound", &b) && b > bound)
			bound = b;
	}
	if (!complete)
		exhaustive = bounded = false;
	if (found)
		snprintf(cover, sizeof(cover), "found in shard %u of %u", found->shard, m->shards);
	else if (skipped)
		snprintf(cover, sizeof(cover), "skipped: every run stopped at a require");
	else if (exhaustive)
		cover_words(EXPLORE_EXHAUSTIVE, SCHED_DFS, 0, runs, cover, sizeof(cover));
	else if (bounded)
		cover_words(EXPLORE_BOUNDED, SCHED_DFS, (unsigned int)bound, runs, cover,
			    sizeof(cover));
	else
		snprintf(cover, sizeof(cover), "sampled: %" PRIu64 " runs, not every schedule",
			 runs);
	if (m->json) {
		printf("{\"type\":\"merged\",\"kind\":\"explore\",\"shards\":%u,\"search\":",
		       m->shards);
		json_string(stdout, m->search);
		printf(",\"file\":");
		json_string(stdout, file ? file : "");
		printf(",\"policy\":");
		json_string(stdout, policy ? policy : "");
		printf(",\"found\":%s,\"cover\":\"%s\",\"runs\":%" PRIu64 ",\"distinct\":%" PRIu64
		       ",\"uncounted\":%" PRIu64 ",\"complete\":%s",
		       found ? "true" : "false",
		       found	    ? "found"
		       : skipped    ? "skipped"
		       : exhaustive ? "exhaustive"
		       : bounded    ? "bounded"
				    : "sampled",
		       runs, distinct, uncounted, complete ? "true" : "false");
		if (bounded && !exhaustive && !found)
			printf(",\"bound\":%" PRIu64, bound);
		if (counted)
			printf(",\"traces\":%" PRIu64 ",\"traces_digest\":\"%016" PRIx64 "\"",
			       traces, digest);
		if (found) {
			static const char *const keys[] = {"verdict", "message", "token", "trace"};

			printf(",\"found_in\":%u", found->shard);
			for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
				const char *s = json_get_str(found->result, keys[i]);

				printf(",\"%s\":", keys[i]);
				json_string(stdout, s ? s : "");
			}
		}
		printf("}\n");
	} else {
		printf("merged %u shards of: %s\n", m->shards, m->search);
		if (found) {
			const char *verdict = json_get_str(found->result, "verdict"),
				   *msg = json_get_str(found->result, "message"),
				   *tok = json_get_str(found->result, "token"),
				   *trace = json_get_str(found->result, "trace");

			printf("%s: FOUND %s (%s) in shard %u of %u: a counterexample\n  %s\n",
			       file ? file : "?", verdict ? verdict : "?", policy ? policy : "?",
			       found->shard, m->shards, msg ? msg : "");
			fputs(trace ? trace : "", stdout);
			printf("replay it with:\n  cowlab replay %s\n", tok ? tok : "?");
		} else {
			printf("%s: nothing found (%s), %s\n", file ? file : "?",
			       policy ? policy : "?", cover);
		}
		printf("  %" PRIu64 " runs, %" PRIu64 " distinct schedules", runs, distinct);
		if (uncounted)
			printf(" (and %" PRIu64 " runs cut short: repeats or other shards')",
			       uncounted);
		printf(" in %u shards\n", m->shards);
		if (counted)
			printf("  %" PRIu64
			       " distinct traces by Foata normal form (the shards' sets "
			       "joined: a trace two shards ran counts once)\n",
			       traces);
		for (unsigned int i = 0; i < m->shards; i++)
			if (!m->files[i].complete)
				printf("  shard %u was stopped before its end (%s): its part was "
				       "not searched whole\n",
				       i, m->files[i].path);
	}
	if (!found)
		return 0;
	{
		const char *verdict = json_get_str(found->result, "verdict");

		return verdict && verdict_is_error(verdict) ? EXIT_SCENARIO : EXIT_FOUND;
	}
}

static int merge_matrix(const struct merge *m)
{
	struct json **results = calloc(m->shards, sizeof(*results));
	bool *complete = calloc(m->shards, sizeof(*complete));
	int code = EXIT_USAGE;

	if (results && complete) {
		for (unsigned int i = 0; i < m->shards; i++) {
			results[i] = (struct json *)m->files[i].result;
			complete[i] = m->files[i].complete;
		}
		if (!m->json)
			printf("merged %u shards of: %s\n", m->shards, m->search);
		code = matrix_merge(results, complete, m->shards, m->json);
	} else {
		fprintf(stderr, "cowlab merge: out of memory\n");
	}
	free(results);
	free(complete);
	return code;
}

int cmd_merge(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		OPT_FLAG_AT("--json", struct merge, json),
		OPT_END,
	};
	struct merge m = {0};
	const char **dirs = calloc((size_t)argc + 1, sizeof(*dirs));
	int nr = 0, code;

	code = dirs ? cli_parse("merge", opts, &m, usage_merge, argc, argv, dirs, &nr) : EXIT_USAGE;
	if (code) {
		free(dirs);
		return code < 0 ? 0 : code;
	}
	if (nr != 1) {
		fprintf(stderr, "cowlab merge: %s\n%s",
			nr ? "one folder at a time" : "no folder given", usage_merge);
		free(dirs);
		return EXIT_USAGE;
	}
	m.dir = dirs[0];
	free(dirs);
	code = EXIT_USAGE;
	if (read_shards(&m) == 0) {
		if (strcmp(m.kind, "explore") == 0)
			code = merge_explore(&m);
		else if (strcmp(m.kind, "matrix") == 0)
			code = merge_matrix(&m);
		else
			fprintf(stderr,
				"cowlab merge: shards of kind '%s': this cowlab merges "
				"explore and matrix\n",
				m.kind);
	}
	for (unsigned int i = 0; m.files && i < m.shards; i++) {
		free(m.files[i].path);
		json_free(m.files[i].doc);
	}
	free(m.files);
	return code;
}
