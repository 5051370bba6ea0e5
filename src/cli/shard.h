/*
 * A search split over machines (docs/scale-out.md): which shard this
 * process is (--shard I/N, or --shard auto from a Slurm job array or a
 * Kubernetes Indexed Job), and its result file in --out DIR, which
 * `cowlab merge DIR` reads.
 */
#ifndef COW_CLI_SHARD_H
#define COW_CLI_SHARD_H

#include <stdbool.h>
#include <stdio.h>

/* The version of the shard files' format, which merge insists on. */
#define SHARD_FORMAT 1

struct shard_opt {
	unsigned int shard, shards; /* shards 1: not sharded */
	bool automatic;		    /* --shard auto: from the environment */
	unsigned int shards_flag;   /* --shards N, 0: not given */
	const char *out;	    /* --out DIR, or NULL */
};

/* --shard's value: "I/N" or "auto"; -1 after a message on stderr. */
int shard_parse(struct shard_opt *s, const char *cmd, const char *opt, const char *val);
/* After the options: --shard auto's shard from the environment (Slurm:
 * SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN over SLURM_ARRAY_TASK_STEP,
 * of SLURM_ARRAY_TASK_COUNT; Kubernetes: JOB_COMPLETION_INDEX of --shards
 * or COWLAB_SHARDS), and the checks between the options.  0, or -1 after
 * a message on stderr. */
int shard_resolve(struct shard_opt *s, const char *cmd);

/* Open DIR/KIND-I-of-N.json for the result (made under a temporary name
 * that shard_close renames: a reader never sees half a file) and write
 * the object's opening: the format, kind, shard, shards and search (the
 * options that must be the same in every shard: merge checks them).
 * NULL after a message on stderr. */
FILE *shard_open(const struct shard_opt *s, const char *cmd, const char *kind, const char *search);
/* Close the object (complete: the search ran to its end, not stopped)
 * and put the file in place; 0, or -1 after a message on stderr. */
int shard_close(FILE *f, const struct shard_opt *s, const char *cmd, const char *kind,
		bool complete);

#endif
