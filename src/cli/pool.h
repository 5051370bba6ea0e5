/*
 * A pool of worker processes, for the commands that spread a search over
 * processes (cowlab explore --jobs: one shard each; cowlab matrix: one
 * cell at a time).  Each worker is a fork of the command with a result
 * pipe to the parent, and optionally a command pipe from it; the parent
 * polls the result pipes, and a worker's end (its pipe closed, the
 * process reaped) is reported once with its wait status, so that a
 * worker that crashes costs only what it was doing.
 *
 * Messages have one fixed size (ops.msg_size) and are written whole
 * (fd_write_full): a pipe delivers them in order, and a short read means
 * the worker is gone.
 */
#ifndef COW_CLI_POOL_H
#define COW_CLI_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct wpool;

struct wpool_ops {
	/* In the child: do the work, write results to res_fd, read commands
	 * from cmd_fd (-1 without commands), then _exit.  Must not return. */
	void (*serve)(void *ctx, unsigned int slot, int cmd_fd, int res_fd);
	/* In the parent, from wpool_poll: one message of worker slot; a
	 * nonzero return kills the worker (SIGKILL), as for a message it
	 * should not have sent. */
	int (*message)(void *ctx, unsigned int slot, const void *msg);
	/* In the parent, from wpool_poll: worker slot ended with this wait
	 * status (it may be started again from here). */
	void (*ended)(void *ctx, unsigned int slot, int status);
	size_t msg_size;
	bool commands; /* workers read a command pipe */
};

struct wpool_worker {
	pid_t pid; /* 0: none */
	int cmd_fd, res_fd;
};

struct wpool {
	const struct wpool_ops *ops;
	void *ctx;
	struct wpool_worker *w;
	unsigned int nr;
	void *buf;	    /* one message */
	struct pollfd *fds; /* nr */
};

/* A pool of nr slots, none started.  0 or -1 (out of memory). */
int wpool_init(struct wpool *p, unsigned int nr, const struct wpool_ops *ops, void *ctx);
/* Fork the worker of slot (which has none).  0 or -1 (errno says why). */
int wpool_start(struct wpool *p, unsigned int slot);
/* Wait up to ms milliseconds and hand what came to ops.message and
 * ops.ended.  0, or -1 if poll failed (not for EINTR). */
int wpool_poll(struct wpool *p, int ms);
/* Send a command to slot's worker: 0, or -1 if it is gone (SIGPIPE must
 * be ignored by the caller). */
int wpool_send(struct wpool *p, unsigned int slot, const void *msg, size_t len);
/* No more commands for slot: its worker sees the end of its pipe. */
void wpool_close_commands(struct wpool *p, unsigned int slot);
void wpool_kill(struct wpool *p, unsigned int slot, int sig);
/* Workers started and not yet ended. */
unsigned int wpool_live(const struct wpool *p);
/* End the pool: close every pipe, send sig (unless 0) to every worker
 * still running, reap them all and free the pool; ops.ended is not
 * called.  With sig 0 the workers end on their own, as they do at the
 * end of their command pipe. */
void wpool_destroy(struct wpool *p, int sig);

#endif
