/*
 * What the coordinator (kernel.c) and the workers (worker.c) of a host run
 * share: the run's context, which every worker inherits through fork, the
 * failure record in a shared mapping, and the messages on the pipes.
 *
 * Protocol.  Every scenario process p has two pipes, made before any
 * worker: cmd[p] (coordinator -> worker) and res[p] (worker ->
 * coordinator).  The coordinator sends a struct kern_cmd naming a
 * top-level operation; the worker runs it (a group: its own threads of
 * it) and answers with a struct kern_reply.  Both are far below PIPE_BUF,
 * so they are written and read whole.  A worker made by a scenario fork
 * is the forking worker's child: it inherits every pipe and starts
 * reading cmd[child]; its parent stores its pid in the shared record
 * before it answers for the fork.
 *
 * Failures do not travel on the pipes: the first failed check, failed
 * operation or skip of any worker wins the shared record (a CAS on
 * state), as run_fail() does in interp.c, and every thread of every
 * worker stops at its next operation boundary once it is set.
 */
#ifndef COW_KERNEL_KERN_H
#define COW_KERNEL_KERN_H

#include "kernel/kernel.h"

#include <stdatomic.h>
#include <sys/types.h>

/* In a MAP_SHARED mapping the coordinator makes before any worker. */
struct kern_shared {
	atomic_int state; /* 0 clean, 1 being written, 2 written */
	int status;	  /* enum kern_status of the record */
	char verdict[16];
	char message[512];
	atomic_int checks; /* checks that held, all workers */
	atomic_int pid[];  /* [nr_procs]: the worker of each process, or 0 */
};

struct kern_ctx {
	const struct scenario *s;
	struct kern_opts o;
	struct kern_shared *sh;
	int (*cmd)[2];	 /* [nr_procs] */
	int (*res)[2];	 /* [nr_procs] */
	int *fd_direct;	 /* [nr_files]: O_DIRECT, for dio_read and dio_write */
	int *fd_cached;	 /* [nr_files]: the same file through the page cache */
	int (*pipes)[2]; /* [nr_pipes]: non-blocking, sized for the range */
};

enum kern_cmd_kind { CMD_OP, CMD_GROUP, CMD_QUIT };

struct kern_cmd {
	int kind; /* enum kern_cmd_kind */
	int op;	  /* index into s->ops (CMD_OP, CMD_GROUP) */
};

struct kern_reply {
	int done; /* 1: the command ran (its failures are in the record) */
};

/* Record a failure (first one wins): "PATH:LINE:COL: " and the message
 * for an operation, the bare message for op == NULL. */
void kern_record(struct kern_shared *sh, enum kern_status st, const char *verdict,
		 const struct scenario *s, const struct scen_op *op, const char *fmt, ...)
	COW_PRINTF(6, 7);

static inline bool kern_failed(struct kern_shared *sh)
{
	return atomic_load_explicit(&sh->state, memory_order_acquire) != 0;
}

/* The body of process proc's worker, in a child the coordinator forked;
 * it never returns. */
COW_NORETURN void kern_worker_main(const struct kern_ctx *k, int proc);

#endif /* COW_KERNEL_KERN_H */
