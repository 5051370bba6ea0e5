/*
 * Shrinking failing schedules and printing them as traces (explore.h).
 *
 * Shrinking works on schedule tokens: a run is the list of its deviations
 * from the default choice.  Removing a deviation gives another run (the
 * replay passes over a deviation to a task that cannot run), so the
 * shrinker removes chunks of deviations, halving the chunk size down to
 * one (as delta debugging does), and keeps every removal after which the
 * run still fails with the same verdict and failure key.  After each kept
 * removal it adopts the deviations the new run actually made.  Then it
 * tries to move each preemption later, to a point where the preempted
 * task no longer runs, which turns it into a free switch.  Greedy removal
 * can stop at a local minimum, so last it searches for the same failure
 * with fewer preemptions outright: dfs with bound 0, 1, ... below the
 * count it has, each within an eighth of its budget, and shrinks what that
 * finds once more.
 */
#include "explore_impl.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 256

void explore_failure_key(const char *message, char *key, size_t len)
{
	const char *cow = strstr(message, ".cow:");
	const char *colon = strstr(message, ": ");
	size_t n = 0;

	if (len == 0)
		return;
	/* A scenario check: its verdict word and its place in the file. */
	if (cow && colon && colon < cow) {
		const char *end = cow + 5;

		while (isdigit((unsigned char)*end) || *end == ':')
			end++;
		snprintf(key, len, "%.*s", (int)(end - message), message);
		return;
	}
	/* Anything else: the text with every number left out. */
	for (const char *m = message; *m && n + 1 < len && m - message < 160; m++) {
		if (isdigit((unsigned char)*m) || (*m == 'x' && m > message && m[-1] == '0'))
			continue;
		key[n++] = *m;
	}
	key[n] = '\0';
}

struct shrinker {
	struct sched *s;
	const struct explore_prog *p;
	enum sched_verdict verdict;
	char key[KEY_MAX];
	uint64_t budget, used;
};

/* Run cand; true if it fails the same way (out then holds the run). */
static bool same_failure(struct shrinker *k, const struct explore_token *cand,
			 struct explore_result *out)
{
	char key[KEY_MAX];
	bool failed;

	if (k->used >= k->budget)
		return false;
	k->used++;
	if (explore_run_one(k->s, k->p, cand, 0, NULL, NULL, true, out, &failed) != 0 || !failed ||
	    out->verdict != k->verdict || !out->has_schedule)
		return false;
	explore_failure_key(out->message, key, sizeof(key));
	return strcmp(key, k->key) == 0;
}

static void remove_devs(const struct explore_token *from, unsigned int start, unsigned int n,
			struct explore_token *to)
{
	memcpy(to, from, offsetof(struct explore_token, devs));
	memcpy(to->devs, from->devs, start * sizeof(from->devs[0]));
	memcpy(to->devs + start, from->devs + start + n,
	       (from->nr_devs - start - n) * sizeof(from->devs[0]));
	to->nr_devs = from->nr_devs - n;
	to->max_steps = from->max_steps; /* after devs, not copied above */
}

static unsigned int preemptions(const struct explore_token *t)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < t->nr_devs; i++)
		n += t->devs[i].preempt;
	return n;
}

/* Fewer deviations: remove chunks of halving size. */
static void drop_deviations(struct shrinker *k, struct explore_token *cur,
			    struct explore_token *cand, struct explore_result *out)
{
	for (unsigned int chunk = cur->nr_devs / 2 ? cur->nr_devs / 2 : 1; chunk >= 1;) {
		bool changed = false;

		for (unsigned int start = 0; start + chunk <= cur->nr_devs;) {
			remove_devs(cur, start, chunk, cand);
			if (same_failure(k, cand, out)) {
				*cur = out->schedule;
				changed = true;
			} else {
				start += chunk;
			}
		}
		if (chunk == 1 && !changed)
			break;
		if (chunk > 1)
			chunk /= 2;
		if (k->used >= k->budget)
			break;
	}
}

/* Fewer preemptions: move a preemption later while that removes some. */
static void delay_preemptions(struct shrinker *k, struct explore_token *cur,
			      struct explore_token *cand, struct explore_result *out)
{
	for (unsigned int i = 0; i < cur->nr_devs && k->used < k->budget; i++) {
		unsigned int before = preemptions(cur);
		uint32_t limit = i + 1 < cur->nr_devs ? cur->devs[i + 1].step : UINT32_MAX;

		if (!cur->devs[i].preempt)
			continue;
		for (uint32_t delta = 1; delta <= 64 && cur->devs[i].step + delta < limit;
		     delta++) {
			*cand = *cur;
			cand->devs[i].step += delta;
			if (same_failure(k, cand, out) && preemptions(&out->schedule) < before) {
				*cur = out->schedule;
				break;
			}
			if (k->used >= k->budget)
				break;
		}
	}
}

/* A run that fails the same way with at most bound preemptions, found by
 * dfs within the budget: true with it in out. */
static bool search_fewer(struct shrinker *k, unsigned int bound, struct explore_token *t,
			 struct explore_result *out)
{
	struct dfs *d = dfs_new(bound, true, 0, 1);
	char key[KEY_MAX];
	bool found = false;

	uint64_t limit = k->used + k->budget / 8; /* each bound gets an eighth */

	if (!d)
		return false;
	snprintf(t->prog, sizeof(t->prog), "%s", k->p->name);
	while (!found && k->used < k->budget && k->used < limit && dfs_next(d, t)) {
		bool failed;
		int err;

		k->used++;
		if (explore_run_one(k->s, k->p, t, 0, dfs_director, d, true, out, &failed) != 0)
			break;
		dfs_finish(d, &err);
		if (err)
			break;
		explore_failure_key(out->message, key, sizeof(key));
		found = failed && out->verdict == k->verdict && out->has_schedule &&
			strcmp(key, k->key) == 0;
	}
	dfs_free(d);
	return found;
}

int explore_shrink(const struct explore_prog *p, const struct explore_token *t, uint64_t budget,
		   struct explore_token *out_token, struct explore_result *r)
{
	struct shrinker k = {.p = p, .budget = budget ? budget : 2000};
	struct explore_token *cur = NULL, *cand = NULL;
	struct explore_result *out = NULL;
	bool failed;
	int err;

	memset(r, 0, sizeof(*r));
	if (!explore_token_names(p, t))
		return COW_EINVAL;
	k.s = explore_sched_new(p);
	cur = malloc(sizeof(*cur));
	cand = malloc(sizeof(*cand));
	out = malloc(sizeof(*out));
	err = COW_ENOMEM;
	if (!k.s || !cur || !cand || !out)
		goto out_free;
	err = explore_run_one(k.s, p, t, 0, NULL, NULL, true, r, &failed);
	if (err)
		goto out_free;
	*out_token = *t;
	if (!failed || !r->has_schedule)
		goto out_free; /* nothing to shrink, or too long to name */
	k.verdict = r->verdict;
	explore_failure_key(r->message, k.key, sizeof(k.key));
	/* The same run as a schedule token. */
	if (!same_failure(&k, &r->schedule, out))
		goto out_free;
	*cur = out->schedule;
	drop_deviations(&k, cur, cand, out);
	delay_preemptions(&k, cur, cand, out);
	for (unsigned int bound = 0; bound < preemptions(cur) && k.used < k.budget; bound++) {
		*cand = *cur;
		if (search_fewer(&k, bound, cand, out)) {
			*cur = out->schedule;
			drop_deviations(&k, cur, cand, out);
			break;
		}
	}
	/* The final token's own run, recorded afresh. */
	if (same_failure(&k, cur, out) || (k.budget++, same_failure(&k, cur, out))) {
		*out_token = out->schedule;
		memcpy(r, out, sizeof(*out));
		r->runs = k.used + 1;
	}
out_free:
	free(cur);
	free(cand);
	free(out);
	if (k.s)
		sched_destroy(k.s);
	return err;
}

/* ---- traces ------------------------------------------------------------------ */

#define DESC_MAX 112
#define TRACE_MAX_STEPS 200000u
#define TRACE_WIDTH 120 /* a text trace's lines, where the words allow */

struct trace_step {
	uint32_t step;
	uint16_t task;
	uint8_t op; /* SYNC_NR_OPS: the task's first step */
	bool deviation, visible, shown_obj;
	uint32_t line; /* of the program's source the task ran (locate), 0: unknown */
	uint32_t note; /* its decisions in notes[note - 1 ...], '\n' between; 0: none */
	const void *obj;
	char before[DESC_MAX], after[DESC_MAX];
};

struct tracer {
	const struct explore_prog *p;
	const struct explore_token *t;
	struct trace_step *steps;
	size_t nr;
	char *notes; /* the decisions, each step's NUL-terminated */
	size_t notes_len, notes_cap;
	bool notes_lost; /* no memory for some */
	unsigned int next_dev;
	uint64_t started; /* tasks that took a step */
	bool truncated;
	int nr_tasks;
	int spawned;			    /* tasks known to exist */
	size_t spawn_step[SCHED_MAX_TASKS]; /* the step that spawned each, SIZE_MAX: setup */
	char names[SCHED_MAX_TASKS][40];
};

/* Whether a trace shows the object. */
static bool describe(struct tracer *tr, struct sched *s, const void *obj, char *buf)
{
	void *state = sched_data(s);

	buf[0] = '\0';
	if (!obj)
		return false;
	if (tr->p->describe && state)
		return tr->p->describe(state, obj, buf, DESC_MAX);
	snprintf(buf, DESC_MAX, "word");
	return true;
}

/* A decision the task of the step in progress took (explore_prog's
 * decisions): all of them come before the next step starts, so they are
 * the last in notes. */
static void trace_note(void *arg, const char *text)
{
	struct tracer *tr = arg;
	struct trace_step *st = tr->nr ? &tr->steps[tr->nr - 1] : NULL;
	size_t n = strlen(text) + 1;

	if (!st || tr->truncated)
		return;
	if (tr->notes_len + n > tr->notes_cap) {
		size_t cap = 2 * (tr->notes_len + n) + 4096;
		char *m = cap <= UINT32_MAX ? realloc(tr->notes, cap) : NULL;

		if (!m) {
			tr->notes_lost = true;
			return;
		}
		tr->notes = m;
		tr->notes_cap = cap;
	}
	if (st->note)
		tr->notes[tr->notes_len - 1] = '\n';
	else
		st->note = (uint32_t)tr->notes_len + 1;
	memcpy(tr->notes + tr->notes_len, text, n);
	tr->notes_len += n;
}

static void trace_hook(void *arg, struct sched *s, int task, enum sync_op op, const void *obj,
		       bool after)
{
	struct tracer *tr = arg;
	struct trace_step *st;
	void *state = sched_data(s);

	if (after) {
		if (tr->nr && tr->steps[tr->nr - 1].task == task && !tr->truncated)
			(void)describe(tr, s, obj, tr->steps[tr->nr - 1].after);
		for (; tr->spawned < sched_nr_tasks(s); tr->spawned++)
			tr->spawn_step[tr->spawned] = tr->nr - 1;
		return;
	}
	if (tr->nr == 0) {
		for (; tr->spawned < sched_nr_tasks(s); tr->spawned++)
			tr->spawn_step[tr->spawned] = SIZE_MAX;
		if (tr->p->decisions && state)
			tr->p->decisions(state, trace_note, tr);
	}
	if (tr->nr == TRACE_MAX_STEPS) {
		tr->truncated = true;
		return;
	}
	st = &tr->steps[tr->nr++];
	st->step = (uint32_t)sched_steps(s);
	st->task = (uint16_t)task;
	st->op = (uint8_t)(tr->started & (1ull << task) ? op : SYNC_NR_OPS);
	tr->started |= 1ull << task;
	st->obj = obj;
	st->visible = false;
	st->deviation = false;
	while (tr->next_dev < tr->t->nr_devs && tr->t->devs[tr->next_dev].step < st->step)
		tr->next_dev++;
	if (tr->t->algo == SCHED_DIRECTED && tr->next_dev < tr->t->nr_devs &&
	    tr->t->devs[tr->next_dev].step == st->step && tr->t->devs[tr->next_dev].task == task)
		st->deviation = true;
	st->shown_obj = describe(tr, s, obj, st->before);
	st->after[0] = '\0';
	st->line = tr->p->locate && state ? (uint32_t)tr->p->locate(state, task) : 0;
	st->note = 0;
	if (task < SCHED_MAX_TASKS && task >= tr->nr_tasks) {
		for (int i = tr->nr_tasks; i <= task; i++) {
			char cpu[16];

			snprintf(cpu, sizeof(cpu), "cpu%d", sched_task_cpu(s, i));
			if (strcmp(cpu, sched_task_name(s, i)) == 0)
				snprintf(tr->names[i], sizeof(tr->names[i]), "%s", cpu);
			else
				snprintf(tr->names[i], sizeof(tr->names[i]), "%s (%s)",
					 sched_task_name(s, i), cpu);
		}
		tr->nr_tasks = task + 1;
	}
}

/* The object a description names, without its field and state: "page
 * pfn 5" of "page pfn 5.refcount [...]", "pte@0x1000 mm1" of "pte@0x1000
 * mm1 = pfn 5 W". */
static size_t object_len(const char *desc)
{
	size_t n = strcspn(desc, ".=[");

	while (n > 0 && desc[n - 1] == ' ')
		n--;
	return n;
}

/* Whether visible step b continues the row of visible step a: the same
 * task, in the same operation of the program, on the same page or PTE,
 * with no deviation at b. */
static bool same_row(const struct trace_step *a, const struct trace_step *b)
{
	size_t n;

	if (!a || a->task != b->task || a->line != b->line || b->deviation || !a->before[0])
		return false;
	n = object_len(a->before);
	return n == object_len(b->before) && strncmp(a->before, b->before, n) == 0;
}

/* ---- races: which steps a trace shows ------------------------------------------
 *
 * Happens-before is program order, spawning, and the order of conflicting
 * steps.  Two conflicting steps of different tasks race when the later
 * one's task had not yet seen the earlier one through other steps: only
 * the schedule orders them.  Vector clocks find the races as in a
 * dynamic race detector: each object keeps its last write and the reads
 * since, each with its task's clock entry.  A lock hand-over is a race of
 * the unlock and the lock; what the two critical sections touch is then
 * ordered and not shown.
 */
struct obj_clock {
	const void *obj;
	bool written;
	size_t w_step; /* the last write */
	int w_task;
	uint32_t *w_vc;	   /* its clock */
	uint32_t *r_epoch; /* per task: its last read since the write, 0: none */
	size_t *r_step;
	uint32_t *r_vc; /* the join of those reads' clocks */
};

struct race_finder {
	int nt;
	uint32_t *vc; /* nt x nt: task t's clock at vc[t * nt] */
	struct obj_clock *objs;
	size_t nr_objs, cap; /* open addressing, cap a power of two */
	bool failed;	     /* host memory ran short */
};

static void vc_join(uint32_t *into, const uint32_t *from, int nt)
{
	for (int i = 0; i < nt; i++)
		if (from[i] > into[i])
			into[i] = from[i];
}

static struct obj_clock *obj_clock(struct race_finder *rf, const void *obj)
{
	size_t nt = (size_t)rf->nt, i;

	i = ((uintptr_t)obj >> 3) * 0x9e3779b97f4a7c15ull & (rf->cap - 1);
	for (; rf->objs[i].obj; i = (i + 1) & (rf->cap - 1))
		if (rf->objs[i].obj == obj)
			return &rf->objs[i];
	/* New: the table has room (cap >= 2 x steps). */
	rf->objs[i].obj = obj;
	rf->objs[i].w_vc = calloc(nt * 3, sizeof(uint32_t));
	rf->objs[i].r_step = calloc(nt, sizeof(size_t));
	if (!rf->objs[i].w_vc || !rf->objs[i].r_step) {
		rf->failed = true;
		return NULL;
	}
	rf->objs[i].r_epoch = rf->objs[i].w_vc + nt;
	rf->objs[i].r_vc = rf->objs[i].w_vc + 2 * nt;
	rf->nr_objs++;
	return &rf->objs[i];
}

static void mark_race(struct tracer *tr, size_t a, size_t b)
{
	tr->steps[a].visible |= tr->steps[a].shown_obj;
	tr->steps[b].visible |= tr->steps[b].shown_obj;
}

/* Step i (task t, clock c) on its object: find its races, then order it
 * after the steps it conflicts with. */
static void race_step(struct tracer *tr, struct race_finder *rf, size_t i, uint32_t *c)
{
	const struct trace_step *st = &tr->steps[i];
	struct obj_clock *o = obj_clock(rf, st->obj);
	int t = st->task, nt = rf->nt;

	if (!o)
		return;
	if (o->written && o->w_task != t && o->w_vc[o->w_task] > c[o->w_task])
		mark_race(tr, o->w_step, i);
	if (o->written)
		vc_join(c, o->w_vc, nt);
	if (st->op == SYNC_READ) {
		o->r_epoch[t] = c[t];
		o->r_step[t] = i;
		vc_join(o->r_vc, c, nt);
		return;
	}
	for (int u = 0; u < nt; u++)
		if (u != t && o->r_epoch[u] > c[u])
			mark_race(tr, o->r_step[u], i);
	/* A store after loads of a word the trace does not show (a TLB
	 * window a shootdown looked at, a seqcount) orders nothing worth
	 * showing: no data flows from the loads to the store, and taking it
	 * as an order would hide the races on PTEs and pages behind it. */
	if (st->shown_obj)
		vc_join(c, o->r_vc, nt);
	memset(o->r_epoch, 0, (size_t)nt * sizeof(uint32_t));
	memset(o->r_vc, 0, (size_t)nt * sizeof(uint32_t));
	o->written = true;
	o->w_step = i;
	o->w_task = t;
	memcpy(o->w_vc, c, (size_t)nt * sizeof(uint32_t));
}

static void find_races(struct tracer *tr, struct race_finder *rf)
{
	int nt = rf->nt;

	for (size_t i = 0; i < tr->nr && !rf->failed; i++) {
		const struct trace_step *st = &tr->steps[i];
		uint32_t *c = &rf->vc[(size_t)st->task * (size_t)nt];

		c[st->task]++;
		if (st->obj && (st->op < SYNC_RCU || st->op == SYNC_DMA || st->op == SYNC_SWAP))
			race_step(tr, rf, i, c);
		/* Tasks this step spawned start from its clock. */
		for (int k = 0; k < nt; k++)
			if (tr->spawn_step[k] == i)
				vc_join(&rf->vc[(size_t)k * (size_t)nt], c, nt);
	}
}

/* Mark the visible steps (see explore.h) and count the rows they make;
 * a failed run's last step only when it shows something (the failure has
 * a row of its own). */
static size_t mark_visible(struct tracer *tr, bool failed)
{
	struct race_finder rf = {.nt = tr->spawned > tr->nr_tasks ? tr->spawned : tr->nr_tasks};
	const struct trace_step *prev = NULL;
	size_t rows = 0;

	rf.cap = 16;
	while (rf.cap < 2 * tr->nr)
		rf.cap *= 2;
	rf.vc = calloc((size_t)rf.nt * (size_t)rf.nt, sizeof(uint32_t));
	rf.objs = calloc(rf.cap, sizeof(*rf.objs));
	for (size_t i = 0; i < tr->nr; i++)
		tr->steps[i].visible = false;
	if (rf.vc && rf.objs && rf.nt > 0)
		find_races(tr, &rf);
	for (size_t i = 0; rf.objs && i < rf.cap; i++) {
		free(rf.objs[i].w_vc);
		free(rf.objs[i].r_step);
	}
	free(rf.objs);
	free(rf.vc);
	for (size_t i = 0; i < tr->nr; i++) {
		struct trace_step *a = &tr->steps[i];

		/* A device's steps on frames, not a CPU's reads of a file's
		 * bytes (a DMA step on the file, not shown).  Without the
		 * memory for clocks, every shown step. */
		a->visible |= a->deviation || a->op == SYNC_DEVICE || a->note ||
			      ((a->op == SYNC_DMA || a->op == SYNC_SWAP) && a->shown_obj) ||
			      (i + 1 == tr->nr && (!failed || a->shown_obj)) ||
			      ((rf.failed || !rf.vc || !rf.objs) && a->shown_obj);
		if (!a->visible)
			continue;
		if (!same_row(prev, a))
			rows++;
		prev = a;
	}
	return rows;
}

/* One row of a trace: a visible step and the visible steps after it that
 * continue it (same_row), their operations joined by commas; the object,
 * its state before the first and after the last (the after empty when it
 * did not change). */
struct trace_row {
	const struct trace_step *first, *end;
	char ops[64];
	char object[DESC_MAX], before[DESC_MAX], after[DESC_MAX];
};

/* The row that starts at the visible step *i; *i moves to its last step. */
static void trace_row(const struct tracer *tr, size_t *i, struct trace_row *row)
{
	const struct trace_step *prev;
	size_t used, n;

	row->first = row->end = prev = &tr->steps[*i];
	used = (size_t)snprintf(row->ops, sizeof(row->ops), "%s", sched_op_name(prev->op));
	for (size_t j = *i + 1; j < tr->nr; j++) {
		const struct trace_step *b = &tr->steps[j];

		if (!b->visible)
			continue;
		if (!same_row(prev, b))
			break;
		if (used < sizeof(row->ops))
			used += (size_t)snprintf(row->ops + used, sizeof(row->ops) - used, ",%s",
						 sched_op_name(b->op));
		prev = row->end = b;
		*i = j;
	}
	n = object_len(row->first->before);
	snprintf(row->object, sizeof(row->object), "%.*s", (int)n, row->first->before);
	snprintf(row->before, sizeof(row->before), "%s",
		 row->first->before + n + strspn(row->first->before + n, " "));
	row->after[0] = '\0';
	if (row->end->after[0]) {
		const char *a = row->end->after + object_len(row->end->after);

		if (strcmp(row->first->before + n, a) != 0)
			snprintf(row->after, sizeof(row->after), "%s", a + strspn(a, " "));
	}
}

/* The step a failure's row stands at: the last one of a task running a
 * line of the program (the check that failed, for a scenario), else the
 * run's last.  tr->nr > 0. */
static size_t failure_step(const struct tracer *tr)
{
	for (size_t i = tr->nr; i-- > 0;)
		if (tr->steps[i].line)
			return i;
	return tr->nr - 1;
}

/* The letter of task k in lanes, deviations and tokens: a..z, A..Z. */
static char lane_letter(int k)
{
	return k < 26 ? (char)('a' + k) : k < 52 ? (char)('A' + k - 26) : '?';
}

/* "file.cow:13": the program's base name and the step's source line. */
static void row_source(const struct tracer *tr, const struct trace_step *st, char *buf, size_t len)
{
	const char *base = strrchr(tr->p->name, '/');

	buf[0] = '\0';
	if (st->line)
		snprintf(buf, len, "%s:%" PRIu32, base ? base + 1 : tr->p->name, st->line);
}

/* The text of the operation at the step's source line ("" if unknown). */
static void row_operation(const struct tracer *tr, const struct trace_step *st, char *buf,
			  size_t len)
{
	buf[0] = '\0';
	if (st->line && tr->p->source && !tr->p->source(tr->p, (int)st->line, buf, len))
		buf[0] = '\0';
}

/* The decisions of the row's steps, one after the other: *at (start it at
 * NULL) moves to the next; NULL when there is none left. */
static const char *next_note(const struct tracer *tr, const struct trace_row *row,
			     const struct trace_step **at, const char **text, size_t *len)
{
	const struct trace_step *st = *at ? *at : row->first;
	const char *from = *text;

	for (; st <= row->end; st++, from = NULL) {
		const char *n;

		if (!st->visible || !st->note)
			continue;
		n = from ? from : tr->notes + st->note - 1;
		if (!*n)
			continue;
		*len = strcspn(n, "\n");
		*at = st;
		*text = n[*len] ? n + *len + 1 : n + *len;
		return n;
	}
	return NULL;
}

/* Print text after lead (col characters), broken at blanks into lines
 * that end by TRACE_WIDTH where the room allows, indent blanks before
 * each; the lines after the first start blank, indented 2 more. */
static void print_event(FILE *f, const char *lead, int col, int indent, const char *text,
			size_t len)
{
	int room = TRACE_WIDTH - col - indent;

	if (room < 40)
		room = 40;
	do {
		size_t n = len > (size_t)room ? (size_t)room : len;

		if (n < len) { /* break at a blank if there is one */
			size_t sp = n;

			while (sp > (size_t)room / 2 && text[sp] != ' ')
				sp--;
			if (text[sp] == ' ')
				n = sp;
		}
		fprintf(f, "%-*s%*s%.*s\n", col, lead, indent, "", (int)n, text);
		lead = "";
		if (indent == 0 || room > 42) {
			indent += 2;
			room -= 2;
		}
		text += n;
		len -= n;
		while (len > 0 && *text == ' ') {
			text++;
			len--;
		}
	} while (len > 0);
}

/* The left part of a row: the step (marked * for a deviation, ! for the
 * failure), a lane per task (its letter where it acts, | while it lives),
 * the source.  Returns its width. */
static int row_lead(const struct tracer *tr, const size_t *first, const size_t *last, size_t at,
		    char mark, int srcw, char *lead, size_t len)
{
	const struct trace_step *st = &tr->steps[at];
	int lane = tr->nr_tasks <= 16 ? 2 : 1;
	char src[EXPLORE_NAME_MAX + 16];
	size_t n = (size_t)snprintf(lead, len, "%c%6" PRIu32 "  ", mark, st->step);

	for (int k = 0; k < tr->nr_tasks && n + 2 < len; k++) {
		lead[n++] = k == st->task		      ? lane_letter(k)
			    : first[k] <= at && at <= last[k] ? '|'
							      : ' ';
		if (lane == 2)
			lead[n++] = ' ';
	}
	row_source(tr, st, src, sizeof(src));
	snprintf(lead + n, len - n, " %-*s  ", srcw, src);
	return (int)strlen(lead);
}

static void print_trace(FILE *f, const struct tracer *tr, size_t rows,
			const struct explore_result *r)
{
	size_t first[SCHED_MAX_TASKS], last[SCHED_MAX_TASKS];
	uint32_t op_line[SCHED_MAX_TASKS] = {0};
	char cell[3 * DESC_MAX + 64], lead[256], op[160], src[EXPLORE_NAME_MAX + 16];
	const char *note, *next;
	const struct trace_step *at;
	struct trace_row row;
	int srcw = 6, col;
	size_t len;

	for (int k = 0; k < SCHED_MAX_TASKS; k++) {
		first[k] = SIZE_MAX;
		last[k] = 0;
	}
	for (size_t i = 0; i < tr->nr; i++) {
		const struct trace_step *st = &tr->steps[i];

		if (first[st->task] == SIZE_MAX)
			first[st->task] = i;
		last[st->task] = i;
		if (st->visible || i + 1 == tr->nr) {
			row_source(tr, st, src, sizeof(src));
			if ((int)strlen(src) > srcw)
				srcw = (int)strlen(src) > 40 ? 40 : (int)strlen(src);
		}
	}
	fprintf(f,
		"trace: %zu rows for %zu steps, %u preemptions; * marks a deviation from the "
		"default "
		"schedule%s\n",
		rows, tr->nr, r->preemptions, r->failed ? ", ! the failing check" : "");
	col = snprintf(lead, sizeof(lead), "lanes:");
	for (int k = 0; k < tr->nr_tasks; k++) {
		int w = (int)strlen(tr->names[k]) + 4;

		if (col + w > TRACE_WIDTH) {
			fprintf(f, "%s\n", lead);
			col = snprintf(lead, sizeof(lead), "      ");
		}
		col += snprintf(lead + col, sizeof(lead) - (size_t)col, "  %c %s", lane_letter(k),
				tr->names[k]);
	}
	fprintf(f, "%s\n", lead);
	col = snprintf(lead, sizeof(lead), "   step  ");
	for (int k = 0; k < tr->nr_tasks; k++)
		col += snprintf(lead + col, sizeof(lead) - (size_t)col,
				tr->nr_tasks <= 16 ? "%c " : "%c", lane_letter(k));
	fprintf(f, "%s %-*s  event\n", lead, srcw, "source");
	for (size_t i = 0; i < tr->nr; i++) {
		if (!tr->steps[i].visible)
			continue;
		trace_row(tr, &i, &row);
		col = row_lead(tr, first, last, (size_t)(row.first - tr->steps),
			       row.first->deviation ? '*' : ' ', srcw, lead, sizeof(lead));
		if (row.first->line != op_line[row.first->task]) {
			op_line[row.first->task] = row.first->line;
			row_operation(tr, row.first, op, sizeof(op));
			if (op[0]) {
				print_event(f, lead, col, 0, op, strlen(op));
				lead[0] = '\0';
			}
		}
		if (row.after[0])
			snprintf(cell, sizeof(cell), "%s %s -> %s", row.ops, row.first->before,
				 row.after);
		else
			snprintf(cell, sizeof(cell), "%s %s", row.ops, row.first->before);
		print_event(f, lead, col, 2, cell, strlen(cell));
		at = NULL;
		next = NULL;
		while ((note = next_note(tr, &row, &at, &next, &len)) != NULL) {
			snprintf(cell, sizeof(cell), "= %.*s", (int)len, note);
			print_event(f, "", col, 2, cell, strlen(cell));
		}
	}
	if (tr->truncated)
		fprintf(f, "(the trace stops after %u steps)\n", TRACE_MAX_STEPS);
	if (tr->notes_lost)
		fprintf(f, "(some decisions are missing: out of memory)\n");
	if (r->failed && tr->nr) {
		char failed[sizeof(r->message) + 16];

		col = row_lead(tr, first, last, failure_step(tr), '!', srcw, lead, sizeof(lead));
		snprintf(failed, sizeof(failed), "failed: %s", r->message);
		print_event(f, lead, col, 0, failed, strlen(failed));
	} else if (r->failed) {
		fprintf(f, "failed: %s\n", r->message);
	}
}

/* The n bytes at s as a JSON string. */
static void json_text_n(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (const char *end = s + n; s < end; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_text(FILE *f, const char *s)
{
	json_text_n(f, s, strlen(s));
}

/* A step's source ("file.cow:13") and its operation's text, as the
 * values of a member whose name was printed and of the member op_key
 * (null where unknown). */
static void json_source(FILE *f, const struct tracer *tr, const struct trace_step *st,
			const char *op_key)
{
	char src[EXPLORE_NAME_MAX + 16], op[160];

	row_source(tr, st, src, sizeof(src));
	row_operation(tr, st, op, sizeof(op));
	if (src[0])
		json_text(f, src);
	else
		fputs("null", f);
	fprintf(f, ",\"%s\":", op_key);
	if (op[0])
		json_text(f, op);
	else
		fputs("null", f);
}

/* The rows of print_trace as JSON (docs/explorer.md gives the schema). */
static void print_events(FILE *f, const struct tracer *tr, size_t rows,
			 const struct explore_result *r)
{
	const char *sep = "", *note, *next;
	const struct trace_step *at;
	struct trace_row row;
	size_t len;

	fprintf(f,
		"{\"steps\":%zu,\"visible_steps\":%zu,\"preemptions\":%u,\"truncated\":%s,"
		"\"tasks\":[",
		tr->nr, rows, r->preemptions, tr->truncated ? "true" : "false");
	for (int i = 0; i < tr->nr_tasks; i++) {
		fputs(i ? "," : "", f);
		json_text(f, tr->names[i]);
	}
	fputs("],\"events\":[", f);
	for (size_t i = 0; i < tr->nr; i++) {
		if (!tr->steps[i].visible)
			continue;
		trace_row(tr, &i, &row);
		fprintf(f, "%s{\"step\":%" PRIu32 ",\"last_step\":%" PRIu32 ",\"task\":", sep,
			row.first->step, row.end->step);
		json_text(f, tr->names[row.first->task]);
		fprintf(f, ",\"task_index\":%u,\"source\":", row.first->task);
		json_source(f, tr, row.first, "operation");
		fputs(",\"ops\":", f);
		json_text(f, row.ops);
		fputs(",\"object\":", f);
		json_text(f, row.object);
		fputs(",\"before\":", f);
		json_text(f, row.before);
		fputs(",\"after\":", f);
		json_text(f, row.after[0] ? row.after : row.before);
		fprintf(f, ",\"deviation\":%s,\"decisions\":[",
			row.first->deviation ? "true" : "false");
		at = NULL;
		next = NULL;
		for (const char *s = ""; (note = next_note(tr, &row, &at, &next, &len)) != NULL;
		     s = ",") {
			fputs(s, f);
			json_text_n(f, note, len);
		}
		fputs("]}", f);
		sep = ",";
	}
	fputs("],\"failed\":", f);
	if (r->failed)
		json_text(f, r->message);
	else
		fputs("null", f);
	fputs(",\"failed_step\":", f);
	if (r->failed && tr->nr) {
		const struct trace_step *st = &tr->steps[failure_step(tr)];

		fprintf(f, "%" PRIu32 ",\"failed_source\":", st->step);
		json_source(f, tr, st, "failed_operation");
	} else {
		fputs("null,\"failed_source\":null,\"failed_operation\":null", f);
	}
	fputs("}", f);
}

static int trace_as(const struct explore_prog *p, const struct explore_token *t, FILE *f,
		    struct explore_result *r,
		    void (*print)(FILE *f, const struct tracer *tr, size_t rows,
				  const struct explore_result *r))
{
	struct tracer tr = {.p = p, .t = t};
	size_t shown;
	int err;

	tr.steps = malloc(TRACE_MAX_STEPS * sizeof(*tr.steps));
	if (!tr.steps)
		return COW_ENOMEM;
	err = explore_replay_traced(p, t, 0, trace_hook, &tr, r);
	if (!err) {
		shown = mark_visible(&tr, r->failed);
		print(f, &tr, shown, r);
		err = (int)shown;
	}
	free(tr.notes);
	free(tr.steps);
	return err;
}

int explore_trace(const struct explore_prog *p, const struct explore_token *t, FILE *f,
		  struct explore_result *r)
{
	return trace_as(p, t, f, r, print_trace);
}

int explore_trace_json(const struct explore_prog *p, const struct explore_token *t, FILE *f,
		       struct explore_result *r)
{
	return trace_as(p, t, f, r, print_events);
}
