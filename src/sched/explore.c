/*
 * The explorer front end (see explore.h): tokens, single runs and the
 * search loop.  One scheduler is made per search and reset for every run;
 * the program rebuilds its state each time, so runs are independent and a
 * token replays its run exactly.
 */
#include "explore_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const algo_names[] = {
	[SCHED_RANDOM] = "random", [SCHED_PCT] = "pct",	  [SCHED_DIRECTED] = "schedule",
	[SCHED_DFS] = "dfs",	   [SCHED_AUTO] = "auto", [SCHED_DPOR] = "dpor",
};

static const char *const verdict_names[] = {
	[SCHED_OK] = "ok",
	[SCHED_FAILED] = "failed",
	[SCHED_DEADLOCK] = "deadlock",
	[SCHED_LIVELOCK] = "livelock",
};

const char *sched_algo_name(enum sched_algo algo)
{
	return (unsigned int)algo < ARRAY_SIZE(algo_names) ? algo_names[algo] : "?";
}

const char *sched_verdict_name(enum sched_verdict v)
{
	return (unsigned int)v < ARRAY_SIZE(verdict_names) ? verdict_names[v] : "?";
}

enum explore_cover explore_result_cover(const struct explore_result *r)
{
	return r->failed       ? EXPLORE_FOUND
	       : r->exhaustive ? EXPLORE_EXHAUSTIVE
	       : r->dfs_done   ? EXPLORE_BOUNDED
			       : EXPLORE_SAMPLED;
}

const char *explore_cover_name(enum explore_cover c)
{
	static const char *const names[] = {
		[EXPLORE_FOUND] = "found",
		[EXPLORE_SAMPLED] = "sampled",
		[EXPLORE_BOUNDED] = "bounded",
		[EXPLORE_EXHAUSTIVE] = "exhaustive",
	};

	return (unsigned int)c < ARRAY_SIZE(names) ? names[c] : "?";
}

/* ---- tokens -------------------------------------------------------------- */

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s == ':' || *s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static const char task_letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* A bounded string builder that calls nothing but itself: the token
 * formatter runs in crash handlers (async-signal-safe: no stdio, no
 * allocation, no locale). */
struct tbuf {
	char *p;
	size_t len, used;
	bool over; /* it did not fit */
};

static void put_char(struct tbuf *b, char c)
{
	if (b->used + 1 >= b->len) {
		b->over = true;
		return;
	}
	b->p[b->used++] = c;
	b->p[b->used] = '\0';
}

static void put_str(struct tbuf *b, const char *s)
{
	while (*s)
		put_char(b, *s++);
}

static void put_num(struct tbuf *b, uint64_t v, unsigned int base)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n > 0)
		put_char(b, digits[--n]);
}

/* "<delta><task>" for each deviation, or "-". */
static int format_devs(const struct explore_token *t, struct tbuf *b)
{
	uint32_t prev = 0;

	if (t->nr_devs == 0) {
		put_char(b, '-');
		return 0;
	}
	for (unsigned int i = 0; i < t->nr_devs; i++) {
		const struct sched_dev *d = &t->devs[i];

		if (d->task >= sizeof(task_letters) - 1 || (i > 0 && d->step < prev))
			return COW_EINVAL;
		put_num(b, d->step - prev, 10);
		put_char(b, task_letters[d->task]);
		prev = d->step;
	}
	return 0;
}

static int parse_devs(const char *text, struct explore_token *t)
{
	uint32_t step = 0;

	t->nr_devs = 0;
	if (strcmp(text, "-") == 0)
		return 0;
	while (*text) {
		unsigned long long delta = 0;
		const char *letter;

		if (*text < '0' || *text > '9')
			return COW_EINVAL;
		while (*text >= '0' && *text <= '9') {
			delta = delta * 10 + (unsigned long long)(*text++ - '0');
			if (delta > UINT32_MAX)
				return COW_EINVAL;
		}
		letter = *text ? strchr(task_letters, *text) : NULL;
		if (!letter || t->nr_devs == EXPLORE_MAX_DEVS || step + delta > UINT32_MAX)
			return COW_EINVAL;
		step += (uint32_t)delta;
		t->devs[t->nr_devs].step = step;
		t->devs[t->nr_devs].task = (uint16_t)(letter - task_letters);
		t->devs[t->nr_devs].preempt = 0;
		t->nr_devs++;
		text++;
	}
	return 0;
}

/* "<hash>:<rules hash or ->:" */
static void format_hashes(const struct explore_token *t, struct tbuf *b)
{
	put_num(b, t->hash, 16);
	put_char(b, ':');
	if (t->rules_hash)
		put_num(b, t->rules_hash, 16);
	else
		put_char(b, '-');
	put_char(b, ':');
}

int explore_token_format(const struct explore_token *t, char *buf, size_t len)
{
	struct tbuf b = {.p = buf, .len = len};

	if (len == 0 || !name_ok(t->prog) || !name_ok(t->policy))
		return COW_EINVAL;
	buf[0] = '\0';
	put_str(&b, "cow2:");
	put_str(&b, t->prog);
	put_char(&b, ':');
	put_str(&b, t->policy);
	put_char(&b, ':');
	format_hashes(t, &b);
	if (t->algo == SCHED_DIRECTED) {
		put_str(&b, "s:");
		if (format_devs(t, &b) != 0)
			return COW_EINVAL;
	} else if (t->algo == SCHED_PCT) {
		put_str(&b, "pct");
		put_num(&b, t->depth, 10);
		put_char(&b, 'k');
		put_num(&b, t->k, 10);
		put_char(&b, ':');
		put_num(&b, t->seed, 10);
	} else if (t->algo == SCHED_RANDOM) {
		put_str(&b, "random:");
		put_num(&b, t->seed, 10);
	} else {
		return COW_EINVAL;
	}
	if (t->max_steps) {
		put_str(&b, ":max-steps=");
		put_num(&b, t->max_steps, 10);
	}
	return b.over ? COW_EINVAL : 0;
}

static int token_error(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "bad replay token: %s", what);
	return COW_EINVAL;
}

/* Copy the next ':'-separated field of *p into out. */
static bool next_field(const char **p, char *out, size_t len, bool last)
{
	const char *end = last ? *p + strlen(*p) : strchr(*p, ':');
	size_t n;

	if (!end)
		return false;
	n = (size_t)(end - *p);
	if (n == 0 || n >= len)
		return false;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p = *end ? end + 1 : end;
	return true;
}

/* 1 to 16 lower-case hex digits, or "-" for 0 where dash is allowed. */
static bool parse_hash(const char *text, bool dash, uint64_t *out)
{
	size_t n = strlen(text);

	*out = 0;
	if (dash && strcmp(text, "-") == 0)
		return true;
	if (n < 1 || n > 16 || strspn(text, "0123456789abcdef") != n)
		return false;
	*out = strtoull(text, NULL, 16);
	return true;
}

int explore_token_parse(const char *text, struct explore_token *t, char *err, size_t errlen)
{
	char algo[32], seed[8 * EXPLORE_MAX_DEVS], hash[24], copy[EXPLORE_TOKEN_MAX], *end;
	const char *p = copy, *last;
	unsigned long long v;

	memset(t, 0, sizeof(*t));
	if (strlen(text) >= sizeof(copy))
		return token_error(err, errlen, "it is too long");
	snprintf(copy, sizeof(copy), "%s", text);
	/* The step limit, if the run had one of its own: the last field. */
	last = strrchr(copy, ':');
	if (last && strncmp(last, ":max-steps=", 11) == 0) {
		errno = 0;
		v = strtoull(last + 11, &end, 10);
		if (last[11] < '1' || last[11] > '9' || errno || *end)
			return token_error(err, errlen, "max-steps is not a number above 0");
		t->max_steps = v;
		copy[last - copy] = '\0';
	}
	if (strncmp(p, "cow1:", 5) == 0)
		return token_error(err, errlen,
				   "a \"cow1:\" token carries no hash of its scenario and "
				   "rules, so it may name another run by now; explore again "
				   "for a \"cow2:\" token");
	if (strncmp(p, "cow2:", 5) != 0)
		return token_error(err, errlen, "it must start with \"cow2:\"");
	p += 5;
	if (!next_field(&p, t->prog, sizeof(t->prog), false) || !name_ok(t->prog))
		return token_error(err, errlen, "missing or overlong program name");
	if (!next_field(&p, t->policy, sizeof(t->policy), false) || !name_ok(t->policy))
		return token_error(err, errlen, "missing or overlong policy");
	if (!next_field(&p, hash, sizeof(hash), false) || !parse_hash(hash, false, &t->hash))
		return token_error(err, errlen, "the hash is not 1 to 16 hex digits");
	if (!next_field(&p, hash, sizeof(hash), false) || !parse_hash(hash, true, &t->rules_hash))
		return token_error(err, errlen,
				   "the rules hash is not 1 to 16 hex digits or \"-\"");
	if (!next_field(&p, algo, sizeof(algo), false))
		return token_error(err, errlen, "missing algorithm");
	if (!next_field(&p, seed, sizeof(seed), true))
		return token_error(err, errlen, "missing seed or schedule");
	if (strcmp(algo, "s") == 0) {
		t->algo = SCHED_DIRECTED;
		if (parse_devs(seed, t) != 0)
			return token_error(err, errlen,
					   "the schedule is not \"-\" or a list of "
					   "<steps><task letter>");
		return 0;
	}
	if (strcmp(algo, "random") == 0) {
		t->algo = SCHED_RANDOM;
	} else {
		unsigned int d;
		unsigned long long k;
		int used = 0;

		if (sscanf(algo, "pct%uk%llu%n", &d, &k, &used) != 2 || algo[used] != '\0' ||
		    algo[3] < '1' || algo[3] > '9' || d < 1 || d > SCHED_PCT_MAX_DEPTH || k < 1 ||
		    k > (1ull << 40))
			return token_error(err, errlen, "unknown algorithm");
		t->algo = SCHED_PCT;
		t->depth = d;
		t->k = k;
	}
	if (seed[0] < '0' || seed[0] > '9')
		return token_error(err, errlen, "the seed is not a number");
	errno = 0;
	v = strtoull(seed, &end, 10);
	if (errno || *end)
		return token_error(err, errlen, "the seed is not a number");
	t->seed = v;
	return 0;
}

int explore_token_check(const struct explore_prog *p, const struct explore_token *t, char *err,
			size_t errlen)
{
	size_t used = 0;

	if (errlen)
		err[0] = '\0';
	if (strcmp(t->prog, p->name) != 0) {
		snprintf(err, errlen, "the token names %s, not %s", t->prog, p->name);
		return COW_EINVAL;
	}
	if (t->hash == p->hash && t->rules_hash == p->rules_hash)
		return 0;
	if (t->hash != p->hash) {
		int n = snprintf(err, errlen,
				 "%s has changed since the token was made: its content hash is "
				 "%" PRIx64 ", the token's %" PRIx64,
				 p->name, p->hash, t->hash);

		used = n > 0 && (size_t)n < errlen ? (size_t)n : errlen;
	}
	if (t->rules_hash != p->rules_hash && used + 1 < errlen)
		snprintf(err + used, errlen - used,
			 "%sthe rules of %s differ from those the token was made under: "
			 "their hash is %" PRIx64 ", the token's %" PRIx64,
			 used ? "; " : "", t->policy, p->rules_hash, t->rules_hash);
	return COW_EINVAL;
}

/* ---- runs ---------------------------------------------------------------- */

struct run_ctx {
	struct sched *s;
	const struct explore_prog *p;
	void *state;
};

static void step_check(void *arg)
{
	struct run_ctx *c = arg;
	char msg[1024];

	if (c->p->check(c->state, msg, sizeof(msg)) != 0)
		sched_fail(c->s, "%s", msg);
}

/* Replays a schedule token: its deviations, at their steps; a deviation
 * to a task that cannot run there is passed over (the shrinker relies on
 * this), so any list of deviations names one run. */
struct replay_dir {
	const struct explore_token *t;
	unsigned int next;
};

static int replay_director(void *arg, struct sched *s, const int *runnable, unsigned int n,
			   int dflt)
{
	struct replay_dir *d = arg;
	uint64_t step = sched_steps(s);

	while (d->next < d->t->nr_devs && d->t->devs[d->next].step < step)
		d->next++;
	if (d->next == d->t->nr_devs || d->t->devs[d->next].step != step)
		return dflt;
	for (unsigned int i = 0; i < n; i++)
		if (runnable[i] == d->t->devs[d->next].task) {
			d->next++;
			return runnable[i];
		}
	d->next++;
	return dflt;
}

static void record_schedule(struct sched *s, const struct explore_token *t,
			    struct explore_result *r)
{
	const struct sched_dev *devs;
	unsigned int n;
	bool overflow;

	devs = sched_devs(s, &n, &overflow);
	r->has_schedule = !overflow && n <= EXPLORE_MAX_DEVS;
	if (!r->has_schedule)
		return;
	snprintf(r->schedule.prog, sizeof(r->schedule.prog), "%s", t->prog);
	snprintf(r->schedule.policy, sizeof(r->schedule.policy), "%s", t->policy);
	r->schedule.hash = t->hash;
	r->schedule.rules_hash = t->rules_hash;
	r->schedule.algo = SCHED_DIRECTED;
	r->schedule.max_steps = t->max_steps;
	r->schedule.nr_devs = n;
	memcpy(r->schedule.devs, devs, n * sizeof(*devs));
}

int explore_run_one(struct sched *s, const struct explore_prog *p, const struct explore_token *t,
		    uint64_t max_steps, sched_director_fn dir, void *dir_arg, bool want_schedule,
		    struct explore_result *r, bool *failed)
{
	struct run_ctx c = {s, p, NULL};
	struct replay_dir replay = {t, 0};
	enum sched_verdict v;
	char msg[1024] = "";
	bool directed;

	/* A token made under a step limit replays under it (explore.h). */
	if (!max_steps)
		max_steps = t->max_steps;
	directed = t->algo == SCHED_DIRECTED || t->algo == SCHED_DFS || t->algo == SCHED_DPOR;
	sched_reset(s, directed ? SCHED_DIRECTED : t->algo, t->seed, max_steps);
	if (t->algo == SCHED_PCT)
		sched_set_pct(s, t->depth, t->k);
	if (directed) {
		if (dir)
			sched_set_director(s, dir, dir_arg);
		else
			sched_set_director(s, replay_director, &replay);
	}
	c.state = p->setup_arg ? p->setup_arg(s, p->arg) : p->setup(s);
	if (!c.state)
		return COW_ENOMEM;
	sched_set_data(s, c.state);
	sched_set_step_hook(s, p->check ? step_check : NULL, &c);
	v = sched_run(s);
	sched_set_step_hook(s, NULL, NULL);
	sync_explore_drain(s);
	*failed = v != SCHED_OK;
	if (v == SCHED_OK && p->verdict && p->verdict(c.state, msg, sizeof(msg)) != 0)
		*failed = true;
	r->runs++;
	r->verdict = v == SCHED_OK && *failed ? SCHED_FAILED : v;
	r->steps = sched_steps(s);
	r->fingerprint = sched_fingerprint(s);
	r->preemptions = sched_preemptions(s);
	r->failed = *failed;
	if (*failed || want_schedule) {
		r->token = *t;
		record_schedule(s, t, r);
		snprintf(r->message, sizeof(r->message), "%s",
			 !*failed	 ? ""
			 : v == SCHED_OK ? msg
					 : sched_message(s));
	}
	sched_set_data(s, NULL);
	p->teardown(c.state);
	return 0;
}

bool explore_token_names(const struct explore_prog *p, const struct explore_token *t)
{
	return strcmp(t->prog, p->name) == 0 && t->hash == p->hash &&
	       t->rules_hash == p->rules_hash &&
	       (t->algo == SCHED_RANDOM || t->algo == SCHED_PCT || t->algo == SCHED_DIRECTED);
}

struct sched *explore_sched_new(const struct explore_prog *p)
{
	struct sched_opts o = {.max_tasks = (unsigned int)p->nr_tasks + 1};

	return sched_create(&o);
}

/* ---- the search ------------------------------------------------------------ */

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int fp_add(struct fp_set *f, uint64_t fp, size_t max_cap)
{
	size_t i;

	fp |= 1; /* 0 marks an empty slot */
	if (f->nr * 4 >= f->cap * 3) {
		size_t cap = f->cap ? 2 * f->cap : 1024;
		uint64_t *slot;

		if (cap > max_cap || !(slot = calloc(cap, sizeof(*slot))))
			return COW_ENOMEM;
		for (size_t j = 0; j < f->cap; j++) {
			if (!f->slot[j])
				continue;
			for (i = cow_mix64(f->slot[j]) & (cap - 1); slot[i];
			     i = (i + 1) & (cap - 1))
				;
			slot[i] = f->slot[j];
		}
		free(f->slot);
		f->slot = slot;
		f->cap = cap;
	}
	for (i = cow_mix64(fp) & (f->cap - 1); f->slot[i]; i = (i + 1) & (f->cap - 1))
		if (f->slot[i] == fp)
			return 0;
	f->slot[i] = fp;
	f->nr++;
	return 1;
}

struct search {
	const struct explore_prog *p;
	const struct explore_opts *o;
	struct sched *s;
	struct dfs *dfs;
	struct dpor *dpor;
	struct trace_count *traces; /* count_traces */
	struct explore_token t;
	uint64_t seeded; /* seeded runs considered, this shard's and others' */
	uint64_t k;	 /* PCT's k, 0 until the first run has set it */
	unsigned int nr_shards;
};

/* The next seeded run of this shard: random, or PCT.  Runs are numbered
 * over all shards; shard i takes those equal to i modulo nr_shards, and
 * each shard goes through the mix in turn. */
static void next_seeded(struct search *x)
{
	static const unsigned int mix[] = {3, 2, 0}; /* PCT d=3, d=2, random */
	uint64_t j = x->seeded;

	while (j % x->nr_shards != x->o->shard)
		j++;
	x->seeded = j + 1;
	x->t.seed = x->o->seed + j;
	x->t.nr_devs = 0;
	if (x->o->algo == SCHED_RANDOM || x->k == 0) {
		x->t.algo = SCHED_RANDOM;
	} else if (x->o->algo == SCHED_PCT) {
		x->t.algo = SCHED_PCT;
		x->t.depth = x->o->depth ? x->o->depth : 3;
	} else {
		unsigned int d = mix[(j / x->nr_shards) % 3];

		x->t.algo = d ? SCHED_PCT : SCHED_RANDOM;
		x->t.depth = d;
	}
	x->t.k = x->k;
}

/* The search in progress on this thread, for explore_current_token. */
static __thread struct search *live;

int explore_current_token(struct explore_token *t)
{
	const struct sched_dev *devs;
	unsigned int n;
	bool overflow;

	if (!live)
		return COW_EINVAL;
	*t = live->t;
	if (t->algo != SCHED_DIRECTED && t->algo != SCHED_DFS && t->algo != SCHED_DPOR)
		return 0;
	/* A dfs or dpor run's schedule so far, as the scheduler recorded it. */
	devs = sched_devs(live->s, &n, &overflow);
	if (overflow || n > EXPLORE_MAX_DEVS)
		return COW_EINVAL;
	t->algo = SCHED_DIRECTED;
	t->nr_devs = n;
	memcpy(t->devs, devs, n * sizeof(*devs));
	return 0;
}

double explore_fraction(const uint32_t *done, const uint32_t *total, size_t nr)
{
	double f = 0, weight = 1;

	for (size_t i = 0; i < nr; i++) {
		if (total[i] == 0)
			break;
		f += weight * done[i] / total[i];
		weight /= total[i];
	}
	return f;
}

/* dpor: the runs the whole search will make, estimated from the fraction
 * of the tree done and the runs made; 0 with another algorithm.  (dfs has
 * a path too, but its siblings' subtrees differ too much for it: the ones
 * that preempt have less of the bound left, the later ones more tasks
 * asleep; estimates from its path were off by twenty orders of
 * magnitude.) */
static double search_estimate(const struct search *x, const struct explore_result *r)
{
	double f = x->dpor ? dpor_fraction_done(x->dpor) : 0;
	uint64_t made = r->runs + r->uncounted;

	return f > 0 && made > 0 ? (double)made / f : 0;
}

static void report_progress(struct search *x, struct explore_result *r, struct fp_set *fps,
			    double start)
{
	struct explore_stats st = {
		.runs = r->runs,
		.distinct = fps->nr,
		.uncounted = r->uncounted,
		.max_preemptions = r->max_preemptions,
		.elapsed = now_seconds() - start,
		.bound = x->dfs ? r->dfs_bound : 0,
		.dfs_done = (x->dfs && dfs_done(x->dfs)) || (x->dpor && dpor_exhaustive(x->dpor)),
		.estimate = search_estimate(x, r),
	};

	if (x->o->progress)
		x->o->progress(x->o->arg, &st);
}

int explore_run_search(const struct explore_prog *p, const char *policy,
		       const struct explore_opts *o, struct explore_result *r)
{
	struct search x = {.p = p, .o = o, .nr_shards = o->nr_shards ? o->nr_shards : 1};
	struct fp_set fps = {0};
	double start = now_seconds(), last = start;
	unsigned int max_preemptions = 0;
	int err = 0;

	memset(r, 0, sizeof(*r));
	if (o->shard >= x.nr_shards ||
	    (o->algo != SCHED_RANDOM && o->algo != SCHED_PCT && o->algo != SCHED_DFS &&
	     o->algo != SCHED_AUTO && o->algo != SCHED_DPOR) ||
	    (o->algo == SCHED_DPOR && x.nr_shards > 1))
		return COW_EINVAL;
	snprintf(x.t.prog, sizeof(x.t.prog), "%s", p->name);
	snprintf(x.t.policy, sizeof(x.t.policy), "%s", policy ? policy : "-");
	x.t.hash = p->hash;
	x.t.rules_hash = p->rules_hash;
	x.t.max_steps = o->max_steps;
	x.s = explore_sched_new(p);
	if (!x.s)
		return COW_ENOMEM;
	if (o->algo == SCHED_DFS || o->algo == SCHED_AUTO) {
		r->dfs_bound = explore_dfs_bound(o);
		x.dfs = dfs_new(r->dfs_bound, !o->no_reduction, o->shard, x.nr_shards);
		if (!x.dfs) {
			sched_destroy(x.s);
			return COW_ENOMEM;
		}
	}
	if (o->algo == SCHED_DPOR) {
		x.dpor = dpor_new();
		if (!x.dpor) {
			dfs_free(x.dfs);
			sched_destroy(x.s);
			return COW_ENOMEM;
		}
	}
	if (o->count_traces) {
		x.traces = trace_count_new(x.s);
		if (!x.traces) {
			dfs_free(x.dfs);
			dpor_free(x.dpor);
			sched_destroy(x.s);
			return COW_ENOMEM;
		}
	}
	for (uint64_t i = 0;; i++) {
		struct explore_result one;
		bool failed, counts = true, use_dfs;
		double t_now;

		if ((o->runs && r->runs + r->uncounted >= o->runs) || (o->stop && *o->stop))
			break;
		if (x.dfs && dfs_done(x.dfs) && o->algo == SCHED_DFS)
			break;
		if (x.dpor && dpor_done(x.dpor))
			break;
		if (x.dfs && dfs_exhaustive(x.dfs) && o->stop_exhaustive)
			break;
		use_dfs = o->algo == SCHED_DFS ||
			  (o->algo == SCHED_AUTO && !dfs_done(x.dfs) && x.k && i % 4 == 3);
		if (x.dpor)
			dpor_next(x.dpor, &x.t);
		else if (use_dfs)
			dfs_next(x.dfs, &x.t);
		else
			next_seeded(&x);
		if (o->before_run)
			o->before_run(o->arg, &x.t);
		live = &x;
		one.runs = 0;
		err = explore_run_one(x.s, p, &x.t, o->max_steps,
				      x.dpor	? dpor_director
				      : use_dfs ? dfs_director
						: NULL,
				      x.dpor ? (void *)x.dpor : x.dfs, false, &one, &failed);
		live = NULL;
		if (err)
			break;
		if (use_dfs || x.dpor) {
			counts = x.dpor ? dpor_finish(x.dpor, &err) : dfs_finish(x.dfs, &err);
			if (err == COW_ENOMEM)
				break;
			if (err) {
				snprintf(r->message, sizeof(r->message),
					 "%s did not run the same way twice: replaying a "
					 "schedule prefix reached a different state",
					 p->name);
				break;
			}
		} else if (!x.k) {
			/* k: the change points fall within the length of a run. */
			x.k = one.steps + one.steps / 4 + 1;
		}
		if (counts) {
			uint64_t runs = r->runs + 1;

			/* Past 2^22 schedules, the count is a lower bound. */
			(void)fp_add(&fps, one.fingerprint, (size_t)1 << 22);
			if (x.traces && (err = trace_count_add(x.traces)) != 0)
				break;
			if (failed) {
				unsigned int bound = r->dfs_bound;
				uint64_t uncounted = r->uncounted;

				memcpy(r, &one, sizeof(one));
				r->dfs_bound = bound;
				r->uncounted = uncounted;
				/* Not one's: the search's, set at its end. */
				r->traces = r->traces_digest = 0;
				r->forms = NULL;
				/* A dfs run may have left its planned schedule
				 * where a sleep set forbade the default: name it
				 * by what it did. */
				if ((use_dfs || x.dpor) && one.has_schedule)
					r->token = one.schedule;
			}
			/* The last run's outcome. */
			r->verdict = one.verdict;
			r->steps = one.steps;
			r->fingerprint = one.fingerprint;
			r->preemptions = one.preemptions;
			if (one.preemptions > max_preemptions)
				max_preemptions = one.preemptions;
			r->max_preemptions = max_preemptions;
			r->runs = runs;
		}
		if (!counts)
			r->uncounted++;
		if (failed && counts && !o->until_pass)
			break;
		if (!failed && counts && o->until_pass) {
			r->passed = true;
			break;
		}
		if ((i & 15) == 0 || use_dfs || x.dpor) {
			t_now = now_seconds();
			if (o->time > 0 && t_now - start >= o->time)
				break;
			/* Once after the first run too: dpor's first
			 * estimate of the search's size. */
			if (t_now - last >= 1.0 || (i == 0 && x.dpor)) {
				last = t_now;
				report_progress(&x, r, &fps, start);
			}
		}
	}
	r->distinct = fps.nr;
	if (x.traces) {
		r->traces = trace_count_nr(x.traces, &r->traces_digest);
		if (o->keep_forms)
			r->forms = trace_count_forms(x.traces);
	}
	r->dfs_done = (x.dfs && dfs_done(x.dfs)) || (x.dpor && dpor_exhaustive(x.dpor));
	r->exhaustive = (x.dfs && dfs_exhaustive(x.dfs)) || (x.dpor && dpor_exhaustive(x.dpor));
	if (x.dpor)
		r->divergences = dpor_divergences(x.dpor);
	r->estimate = search_estimate(&x, r);
	r->elapsed = now_seconds() - start;
	report_progress(&x, r, &fps, start);
	free(fps.slot);
	trace_count_free(x.traces);
	dfs_free(x.dfs);
	dpor_free(x.dpor);
	sched_destroy(x.s);
	return err;
}

int explore_search(const struct explore_prog *p, const char *policy, enum sched_algo algo,
		   uint64_t seed, uint64_t runs, uint64_t max_steps, struct explore_result *r)
{
	struct explore_opts o = {
		.algo = algo,
		.depth = EXPLORE_DEFAULT_DEPTH,
		.preemptions = EXPLORE_DEFAULT_PREEMPTIONS,
		.seed = seed,
		.runs = runs,
		.max_steps = max_steps,
	};

	return explore_run_search(p, policy, &o, r);
}

int explore_replay_traced(const struct explore_prog *p, const struct explore_token *t,
			  uint64_t max_steps, sched_trace_fn trace, void *trace_arg,
			  struct explore_result *r)
{
	struct sched *s;
	bool failed;
	int err;

	memset(r, 0, sizeof(*r));
	if (!explore_token_names(p, t))
		return COW_EINVAL;
	s = explore_sched_new(p);
	if (!s)
		return COW_ENOMEM;
	sched_set_trace(s, trace, trace_arg);
	err = explore_run_one(s, p, t, max_steps, NULL, NULL, true, r, &failed);
	sched_destroy(s);
	return err;
}

int explore_replay(const struct explore_prog *p, const struct explore_token *t, uint64_t max_steps,
		   struct explore_result *r)
{
	return explore_replay_traced(p, t, max_steps, NULL, NULL, r);
}
