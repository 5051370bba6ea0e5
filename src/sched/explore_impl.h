/*
 * Internals shared by the explorer's files (explore.c: tokens, runs and
 * the search loop; dfs.c: depth-first search with sleep sets; dpor.c:
 * optimal dynamic partial-order reduction; shrink.c: shrinking and
 * traces).  Not part of the explorer's interface.
 */
#ifndef COW_SCHED_EXPLORE_IMPL_H
#define COW_SCHED_EXPLORE_IMPL_H

#include "explore.h"

struct sched *explore_sched_new(const struct explore_prog *p);
/* Whether t names a run of p (a seed or a schedule, for p's name and
 * hashes: explore_token_check says what differs). */
bool explore_token_names(const struct explore_prog *p, const struct explore_token *t);

/* One run as t says; a SCHED_DIRECTED token replays t->devs unless dir
 * is given, which then makes every choice.  Fills r's per-run fields
 * (runs is incremented; token, schedule and message only when the run
 * failed or want_schedule).  *failed says whether it failed. */
int explore_run_one(struct sched *s, const struct explore_prog *p, const struct explore_token *t,
		    uint64_t max_steps, sched_director_fn dir, void *dir_arg, bool want_schedule,
		    struct explore_result *r, bool *failed);

/* explore_replay with a trace hook (sched_set_trace). */
int explore_replay_traced(const struct explore_prog *p, const struct explore_token *t,
			  uint64_t max_steps, sched_trace_fn trace, void *trace_arg,
			  struct explore_result *r);

/* ---- dfs.c ---------------------------------------------------------------- */

struct dfs;
/* reduce: use sleep sets. */
/* A set of 64-bit hashes (open addressing): add fp, growing the table up
 * to max_cap slots; 1 if fp is new, 0 if it was there, COW_ENOMEM if the
 * set could not grow to take it. */
struct fp_set {
	uint64_t *slot;
	size_t cap, nr;
};
int fp_add(struct fp_set *f, uint64_t fp, size_t max_cap);

/* Counting distinct traces (traces.c): a counter attached to the
 * scheduler's trace hook; add the run just made once it counts
 * (COW_EINVAL if the program replaced the hook, COW_ENOMEM). */
struct trace_count;
struct trace_count *trace_count_new(struct sched *s);
void trace_count_free(struct trace_count *tc);
int trace_count_add(struct trace_count *tc);
/* The distinct traces, and their set's digest (the same for the same set). */
uint64_t trace_count_nr(const struct trace_count *tc, uint64_t *digest);
/* The set's elements, trace_count_nr of them, in a malloc'd array (NULL
 * without memory). */
uint64_t *trace_count_forms(const struct trace_count *tc);

struct dfs *dfs_new(unsigned int bound, bool reduce, unsigned int shard, unsigned int nr_shards);
void dfs_free(struct dfs *d);
/* Prepare the next run; false when the search is complete.  t->devs and
 * t->nr_devs get the run's schedule up to its branch point (t->algo
 * SCHED_DIRECTED), or t->algo is SCHED_DFS when it does not fit in a
 * token.  The run records its whole schedule (sched_devs). */
bool dfs_next(struct dfs *d, struct explore_token *t);
int dfs_director(void *arg, struct sched *s, const int *runnable, unsigned int n, int dflt);
/* After the run: whether it counts (belongs to this shard, and is no
 * repeat of a run done up to the order of independent steps); a negative COW_E* code in *err if the
 * program did not replay its prefix the same way (it is not deterministic). */
bool dfs_finish(struct dfs *d, int *err);
bool dfs_done(const struct dfs *d);
/* Done, and the bound never kept a choice from being tried: every
 * schedule ran, up to the order of independent steps. */
bool dfs_exhaustive(const struct dfs *d);

/* ---- dpor.c --------------------------------------------------------------- */

struct dpor;
struct dpor *dpor_new(void);
void dpor_free(struct dpor *d);
/* Prepare the next run; false when the search is complete.  t->algo
 * becomes SCHED_DPOR: the run's schedule is made as it goes (the
 * scheduler records it, sched_devs). */
bool dpor_next(struct dpor *d, struct explore_token *t);
int dpor_director(void *arg, struct sched *s, const int *runnable, unsigned int n, int dflt);
/* After the run: its races reversed, the next branch chosen.  Whether it
 * counts: false for a run that ended with every runnable task asleep (it
 * repeats a trace explored, and was cut short).  A negative COW_E* code
 * in *err if the program did not replay its prefix the same way. */
bool dpor_finish(struct dpor *d, int *err);
bool dpor_done(const struct dpor *d);
/* Done, and no run left the sequence it was to follow: every trace ran. */
bool dpor_exhaustive(const struct dpor *d);
/* Branches no run could follow (then it is not exhaustive). */
uint64_t dpor_divergences(const struct dpor *d);
/* Between runs: the fraction of the search done, estimated from the path
 * of the last run and the branches its wakeup trees hold (see
 * explore_fraction); 1 once done. */
double dpor_fraction_done(const struct dpor *d);

/* The fraction of a depth-first search done, from the path of its last
 * run: node i of the path has n[i] subtrees to explore (as far as it is
 * known there) of which c[i] are done, so, if subtrees of one node are
 * about the same size, the done ones make
 *   sum over i of c[i] / n[i] * product over j < i of 1 / n[j]
 * of the tree (Knuth's estimate of a tree's size, 1975, and its progress
 * form).  After the first run, when no subtree is done, the search has
 * run 1 / (product of n[i]) of it: Knuth's estimate from one probe. */
double explore_fraction(const uint32_t *done, const uint32_t *total, size_t nr);

#endif
