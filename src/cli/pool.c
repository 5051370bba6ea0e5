/*
 * The worker pool of cowlab explore and cowlab matrix (see pool.h).
 */
#include "pool.h"
#include "base/hostfile.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int wpool_init(struct wpool *p, unsigned int nr, const struct wpool_ops *ops, void *ctx)
{
	*p = (struct wpool){.ops = ops, .ctx = ctx, .nr = nr};
	p->w = calloc(nr, sizeof(*p->w));
	p->fds = calloc(nr, sizeof(*p->fds));
	p->buf = malloc(ops->msg_size);
	if (!p->w || !p->fds || !p->buf) {
		wpool_destroy(p, 0);
		return -1;
	}
	for (unsigned int j = 0; j < nr; j++)
		p->w[j] = (struct wpool_worker){.pid = 0, .cmd_fd = -1, .res_fd = -1};
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int wpool_start(struct wpool *p, unsigned int slot)
{
	struct wpool_worker *w = &p->w[slot];
	int cmd[2] = {-1, -1}, res[2];
	pid_t pid;

	if (pipe(res) != 0)
		return -1;
	if (p->ops->commands && pipe(cmd) != 0) {
		close(res[0]);
		close(res[1]);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* The other workers' pipe ends stay theirs: a copy here would
		 * keep a worker's command pipe open after the parent closed
		 * it, or a result pipe after its worker died. */
		for (unsigned int k = 0; k < p->nr; k++) {
			close_fd(&p->w[k].cmd_fd);
			close_fd(&p->w[k].res_fd);
		}
		close_fd(&cmd[1]);
		close(res[0]);
		p->ops->serve(p->ctx, slot, cmd[0], res[1]);
		_exit(0);
	}
	close_fd(&cmd[0]);
	close(res[1]);
	if (pid < 0) {
		close_fd(&cmd[1]);
		close(res[0]);
		return -1;
	}
	w->pid = pid;
	w->cmd_fd = cmd[1];
	w->res_fd = res[0];
	return 0;
}

/* Slot's result pipe ended: reap the worker and say so. */
static void worker_ended(struct wpool *p, unsigned int slot)
{
	struct wpool_worker *w = &p->w[slot];
	int status = 0;

	close_fd(&w->res_fd);
	close_fd(&w->cmd_fd);
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	w->pid = 0;
	p->ops->ended(p->ctx, slot, status);
}

int wpool_poll(struct wpool *p, int ms)
{
	for (unsigned int j = 0; j < p->nr; j++) {
		p->fds[j].fd = p->w[j].pid > 0 ? p->w[j].res_fd : -1;
		p->fds[j].events = POLLIN;
		p->fds[j].revents = 0;
	}
	if (poll(p->fds, p->nr, ms) < 0)
		return errno == EINTR ? 0 : -1;
	for (unsigned int j = 0; j < p->nr; j++) {
		struct wpool_worker *w = &p->w[j];

		/* A slot restarted from ops.ended in this round has a new
		 * pipe: its revents are the old one's. */
		if (p->fds[j].fd < 0 || p->fds[j].fd != w->res_fd ||
		    !(p->fds[j].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (fd_read_full(w->res_fd, p->buf, p->ops->msg_size) != (ssize_t)p->ops->msg_size)
			worker_ended(p, j);
		else if (p->ops->message(p->ctx, j, p->buf) != 0)
			kill(w->pid, SIGKILL);
	}
	return 0;
}

int wpool_send(struct wpool *p, unsigned int slot, const void *msg, size_t len)
{
	struct wpool_worker *w = &p->w[slot];

	if (w->pid <= 0 || w->cmd_fd < 0 || fd_write_full(w->cmd_fd, msg, len) != 0) {
		close_fd(&w->cmd_fd);
		return -1;
	}
	return 0;
}

void wpool_close_commands(struct wpool *p, unsigned int slot)
{
	close_fd(&p->w[slot].cmd_fd);
}

void wpool_kill(struct wpool *p, unsigned int slot, int sig)
{
	if (p->w[slot].pid > 0)
		kill(p->w[slot].pid, sig);
}

unsigned int wpool_live(const struct wpool *p)
{
	unsigned int n = 0;

	for (unsigned int j = 0; j < p->nr; j++)
		n += p->w[j].pid > 0;
	return n;
}

void wpool_destroy(struct wpool *p, int sig)
{
	for (unsigned int j = 0; p->w && j < p->nr; j++) {
		struct wpool_worker *w = &p->w[j];

		close_fd(&w->cmd_fd);
		if (w->pid <= 0)
			continue;
		if (sig)
			kill(w->pid, sig);
		close_fd(&w->res_fd);
		while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
			;
		w->pid = 0;
	}
	free(p->w);
	free(p->fds);
	free(p->buf);
	*p = (struct wpool){0};
}
