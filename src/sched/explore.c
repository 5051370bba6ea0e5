/*
 * The explorer front end (see explore.h): seeds in, verdicts and replay
 * tokens out.  One scheduler is made per search and reset for every run;
 * the program rebuilds its state each time, so runs are independent and a
 * token replays its run exactly.
 */
#include "explore.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const algo_names[] = {
	[SCHED_RANDOM] = "random",
	[SCHED_PCT] = "pct",
	[SCHED_AUTO] = "auto",
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

int explore_token_format(const struct explore_token *t, char *buf, size_t len)
{
	int n;

	if (!name_ok(t->prog) || !name_ok(t->policy))
		return COW_EINVAL;
	if (t->algo == SCHED_PCT)
		n = snprintf(buf, len, "cow1:%s:%s:pct%uk%" PRIu64 ":%" PRIu64, t->prog, t->policy,
			     t->depth, t->k, t->seed);
	else if (t->algo == SCHED_RANDOM)
		n = snprintf(buf, len, "cow1:%s:%s:random:%" PRIu64, t->prog, t->policy, t->seed);
	else
		return COW_EINVAL;
	return n > 0 && (size_t)n < len ? 0 : COW_EINVAL;
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

int explore_token_parse(const char *text, struct explore_token *t, char *err, size_t errlen)
{
	char algo[32], seed[32], *end;
	const char *p = text;
	unsigned long long v;
	size_t i;

	memset(t, 0, sizeof(*t));
	if (strncmp(p, "cow1:", 5) != 0)
		return token_error(err, errlen, "it must start with \"cow1:\"");
	p += 5;
	if (!next_field(&p, t->prog, sizeof(t->prog), false) || !name_ok(t->prog))
		return token_error(err, errlen, "missing or overlong program name");
	if (!next_field(&p, t->policy, sizeof(t->policy), false) || !name_ok(t->policy))
		return token_error(err, errlen, "missing or overlong policy");
	if (!next_field(&p, algo, sizeof(algo), false))
		return token_error(err, errlen, "missing algorithm");
	if (!next_field(&p, seed, sizeof(seed), true))
		return token_error(err, errlen, "missing seed");
	(void)i;
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

/* One run; returns whether it failed and fills r if so. */
static int run_one(struct sched *s, const struct explore_prog *p, const struct explore_token *t,
		   uint64_t max_steps, struct explore_result *r, bool *failed)
{
	struct run_ctx c = {s, p, NULL};
	enum sched_verdict v;
	char msg[1024] = "";

	sched_reset(s, t->algo, t->seed, max_steps);
	if (t->algo == SCHED_PCT)
		sched_set_pct(s, t->depth, t->k);
	c.state = p->setup_arg ? p->setup_arg(s, p->arg) : p->setup(s);
	if (!c.state)
		return COW_ENOMEM;
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
	r->token = *t;
	r->failed = *failed;
	if (*failed)
		snprintf(r->message, sizeof(r->message), "%s",
			 v == SCHED_OK ? msg : sched_message(s));
	p->teardown(c.state);
	return 0;
}

static struct sched *make_sched(const struct explore_prog *p)
{
	struct sched_opts o = {.max_tasks = (unsigned int)p->nr_tasks + 1};

	return sched_create(&o);
}

int explore_search(const struct explore_prog *p, const char *policy, enum sched_algo algo,
		   uint64_t seed, uint64_t runs, uint64_t max_steps, struct explore_result *r)
{
	return explore_search_depth(p, policy, algo, 3, seed, runs, max_steps, r);
}

int explore_search_depth(const struct explore_prog *p, const char *policy, enum sched_algo algo,
			 unsigned int depth, uint64_t seed, uint64_t runs, uint64_t max_steps,
			 struct explore_result *r)
{
	struct explore_token t = {.algo = algo, .depth = depth, .k = 1000, .seed = seed};
	struct sched *s;
	int err = 0;

	memset(r, 0, sizeof(*r));
	snprintf(t.prog, sizeof(t.prog), "%s", p->name);
	snprintf(t.policy, sizeof(t.policy), "%s", policy ? policy : "-");
	s = make_sched(p);
	if (!s)
		return COW_ENOMEM;
	for (uint64_t i = 0; i < runs; i++, t.seed++) {
		bool failed;

		if (algo == SCHED_AUTO) {
			/* random, then PCT depth 2, PCT depth 3, random, ... */
			static const unsigned int mix[] = {0, 2, 3};

			t.depth = mix[i % 3];
			t.algo = i == 0 || t.depth == 0 ? SCHED_RANDOM : SCHED_PCT;
		} else if (algo == SCHED_PCT) {
			t.algo = i == 0 ? SCHED_RANDOM : SCHED_PCT;
		}
		err = run_one(s, p, &t, max_steps, r, &failed);
		if (err || failed)
			break;
		/* k: the change points fall within the length of a run. */
		if (algo != SCHED_RANDOM && i == 0)
			t.k = r->steps + r->steps / 4 + 1;
	}
	sched_destroy(s);
	return err;
}

int explore_replay(const struct explore_prog *p, const struct explore_token *t, uint64_t max_steps,
		   struct explore_result *r)
{
	struct sched *s;
	bool failed;
	int err;

	memset(r, 0, sizeof(*r));
	if (strcmp(t->prog, p->name) != 0)
		return COW_EINVAL;
	s = make_sched(p);
	if (!s)
		return COW_ENOMEM;
	err = run_one(s, p, t, max_steps, r, &failed);
	sched_destroy(s);
	return err;
}
