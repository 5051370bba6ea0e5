/*
 * The coordinator of a host run (see kernel.h): the calling process sets
 * up what every worker inherits (the pipes of the protocol in kern.h, the
 * scenario's pipes, its data files, the shared failure record), walks the
 * scenario's top-level operations in file order as interp.c does, sends
 * each to the worker of its process (a group to every process that has a
 * thread in it) and waits for the answers, then ends every worker and
 * reaps it.
 *
 * Invariants:
 *  C1 Every worker is in one of the process groups in stop_pgids (the
 *     first root worker leads one, the others join it), so one kill per
 *     group ends them all, including workers whose pid the coordinator
 *     never learnt (a fork in a group whose run failed).
 *  C2 The coordinator is a child subreaper while it runs, so a worker
 *     whose parent worker exited is reparented to it and reaped by it;
 *     a worker's own children are reaped by the kernel (workers ignore
 *     SIGCHLD).  A run ends only when no process of its groups is left
 *     (kill(-pgid, 0) fails with ESRCH).
 *  C3 Data files are unlinked right after they are created; the window
 *     between the two is covered by stop_path, which the signal handler
 *     unlinks.
 *  C4 The SIGINT, SIGTERM and SIGHUP handler uses async-signal-safe calls
 *     only: it kills and reaps the groups (C1, C2), unlinks stop_path
 *     (C3), undoes what the run changed on the host (a temporary swap
 *     file, KSM's settings, nr_hugepages), restores the default action
 *     and raises the signal again.
 */
#define _GNU_SOURCE
#include "base/hostfile.h"
#include "kernel/host.h"
#include "kernel/kern.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TMPFS_MAGIC_NR 0x01021994
#define MAX_PGIDS 64
#define KERN_SWAP_PAGES 1024 /* 4 MiB: what a scenario swaps out is a few pages */

/* For the signal handler (C4): written before a worker can exist. */
static pid_t stop_pgids[MAX_PGIDS];
static volatile sig_atomic_t stop_nr_pgids;
static char stop_path[4096];
static volatile sig_atomic_t stop_path_set;

struct coord {
	struct kern_ctx k;
	const struct scenario *s;
	struct kern_shared *sh;
	size_t sh_size;
	int *pidfd;   /* [nr_procs]: -1 until the worker is known */
	bool *gone;   /* [nr_procs]: it exited */
	bool *forked; /* [nr_procs]: a fork makes it */
	unsigned int timeout_ms;
	pid_t self;
};

/* ---- the skip reasons ---------------------------------------------------------- */

static bool has_op(const struct scenario *s, enum scen_op_kind kind)
{
	for (int i = 0; i < s->nr_ops; i++)
		if (s->ops[i].kind == kind)
			return true;
	for (int t = 0; t < s->nr_threads; t++)
		for (int i = 0; i < s->threads[t].nr_ops; i++)
			if (s->threads[t].ops[i].kind == kind)
				return true;
	return false;
}

/* The checks a sequence makes: a repeat's body's, host_count times; a
 * fork's body's once per fork (saturated at INT_MAX: no run gets there). */
static long long count_checks(const struct scen_op *ops, int n)
{
	long long c = 0;

	for (int i = 0; i < n && c < INT_MAX; i += scen_op_span(&ops[i])) {
		const struct scen_op *op = &ops[i];

		if (op->kind == OP_CHECK)
			c++;
		else if (op->kind == OP_REPEAT)
			c += (long long)op->repeat.host_count * count_checks(op + 1, op->repeat.nr);
		else if (op->kind == OP_FORK)
			c += count_checks(op + 1, op->fork.nr);
	}
	return c;
}

int kern_expected_checks(const struct scenario *s)
{
	long long c = count_checks(s->ops, s->nr_ops);

	for (int t = 0; t < s->nr_threads && c < INT_MAX; t++)
		c += count_checks(s->threads[t].ops, s->threads[t].nr_ops);
	return c < INT_MAX ? (int)c : INT_MAX;
}

void kern_judge(const struct scenario *s, struct kern_result *r)
{
	r->expected = kern_expected_checks(s);
	if (r->status != KERN_PASS || r->checks == r->expected)
		return;
	r->status = KERN_ERROR;
	snprintf(r->verdict, sizeof(r->verdict), "error");
	snprintf(r->message, sizeof(r->message),
		 "%s: %d of the scenario's %d checks ran; a run that leaves checks out is "
		 "no pass",
		 s->path, r->checks, r->expected);
}

static bool is_fast_pin(const struct scen_op *op)
{
	return op->kind == OP_PIN && op->pin.fast;
}

const char *kern_host_note(const struct scenario *s)
{
	bool fast = false;

	for (int i = 0; i < s->nr_ops; i++)
		fast |= is_fast_pin(&s->ops[i]);
	for (int t = 0; t < s->nr_threads; t++)
		for (int i = 0; i < s->threads[t].nr_ops; i++)
			fast |= is_fast_pin(&s->threads[t].ops[i]);
	if (!fast)
		return NULL;
	return "pin ... fast is an io_uring buffer registration on the host, as every pin: "
	       "pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM), gup-fast inside the kernel "
	       "with the slow path behind it";
}

static bool needs_swap(const struct scenario *s)
{
	return has_op(s, OP_SWAPOUT);
}

static bool needs_ksm(const struct scenario *s)
{
	return has_op(s, OP_KSM_MERGE);
}

static bool needs_khugepaged(const struct scenario *s)
{
	return has_op(s, OP_KHUGEPAGED);
}

static bool ops_expect_sigbus(const struct scen_op *ops, int n)
{
	for (int i = 0; i < n; i++)
		if (scen_op_sigbus(&ops[i]))
			return true;
	return false;
}

/* Does s expect SIGBUS somewhere?  Then its hugetlb pool must be what it
 * says on the host too, not larger. */
static bool expects_sigbus(const struct scenario *s)
{
	if (ops_expect_sigbus(s->ops, s->nr_ops))
		return true;
	for (int t = 0; t < s->nr_threads; t++)
		if (ops_expect_sigbus(s->threads[t].ops, s->threads[t].nr_ops))
			return true;
	return false;
}

/* The huge pages the map ... hugetlb lines among ops (n of them) ask of
 * the pool, a line once (a map does not repeat). */
static unsigned long ops_hugetlb_pages(const struct scen_op *ops, int n)
{
	unsigned long pages = 0;

	for (int i = 0; i < n; i++)
		if (ops[i].kind == OP_MAP && ops[i].map.hugetlb)
			pages += ops[i].map.len / SCEN_HPAGE_SIZE;
	return pages;
}

/* How s's pool must be on the host: exactly as s says (no more free
 * pages, no overcommit) where s expects SIGBUS somewhere, or where its
 * maps reserve more huge pages than the pool holds, so that the map the
 * model fails (out of memory) fails on the host too.  Each map line
 * counts once: fork reserves nothing (a private mapping's child has no
 * reservation, a shared mapping's shares its object's); a process
 * that unmaps and maps a name again counts twice, more than it needs. */
static enum kern_hp_fit hugetlb_fit(const struct scenario *s)
{
	unsigned long pages = ops_hugetlb_pages(s->ops, s->nr_ops);

	if (expects_sigbus(s))
		return KERN_HP_SIGBUS;
	for (int t = 0; t < s->nr_threads; t++)
		pages += ops_hugetlb_pages(s->threads[t].ops, s->threads[t].nr_ops);
	return pages > s->hugepages ? KERN_HP_DRY_MAP : KERN_HP_AT_LEAST;
}

static const char *op_skip_reason(const struct scenario *s, const struct scen_op *op)
{
	switch (op->kind) {
	case OP_KSM_MERGE: return kern_ksm_unavailable();
	case OP_KHUGEPAGED: return kern_khugepaged_unavailable();
	case OP_UFFD_CONTINUE:
		return "uffd_continue: needs a shmem mapping registered with userfaultfd for "
		       "minor faults, not set up on the host yet";
	case OP_SWAPOUT:
		if (!kern_swap_active() && geteuid() != 0)
			return "swapout: no swap is active on this host (/proc/swaps), so "
			       "MADV_PAGEOUT cannot swap anonymous pages, and only root can "
			       "enable a temporary swap file";
		return NULL;
	case OP_PIN:
		if (op->pin.ro)
			return "pin ... ro: a read-only long-term pin needs the gup_test module "
			       "(CONFIG_GUP_TEST); io_uring fixed buffers pin read-write";
		return NULL;
	case OP_MAP: return op->map.thp ? kern_thp_unavailable() : NULL;
	case OP_MADVISE:
		return op->madvise.advice == COW_MADV_HUGEPAGE ? kern_thp_unavailable() : NULL;
	case OP_CHECK:
	case OP_REQUIRE:
		if (scen_cmp_is_page(op->check.cmp) && op->check.cmp != CMP_PRESENT &&
		    op->check.cmp != CMP_SWAPPED && access("/proc/kpageflags", R_OK) != 0)
			return "check or require exclusive|shared|merged|huge|pte-mapped|hugetlb: "
			       "reading page flags (/proc/kpageflags) needs root";
		if (op->check.range.space == SPACE_PIN &&
		    s->pins[op->check.range.name].proc != op->proc)
			return "a check of another process's pin: the pin's io_uring belongs to "
			       "the "
			       "process that pinned";
		return NULL;
	default: return NULL;
	}
}

const char *kern_skip_reason(const struct scenario *s)
{
	const char *why;

	int zero = s->zero_page >= 0 ? kern_host_zero_page() : -1;

	/* The scenario's premise about the shared zero page must hold here
	 * (the host's is fixed; -1: it cannot tell, and the run goes on). */
	if (s->zero_page == 0 && zero == 1)
		return "system zero_page=off: this host maps the shared zero page";
	if (s->zero_page == 1 && zero == 0)
		return "system zero_page=on: this host maps no shared zero page (a read fault "
		       "of anonymous memory gets a page of its own)";
	if (scen_has_hugetlb(s) && (why = kern_hugetlb_unavailable(s->hugepages)))
		return why;
	for (int i = 0; i < s->nr_ops; i++)
		if ((why = op_skip_reason(s, &s->ops[i])))
			return why;
	for (int t = 0; t < s->nr_threads; t++)
		for (int i = 0; i < s->threads[t].nr_ops; i++)
			if ((why = op_skip_reason(s, &s->threads[t].ops[i])))
				return why;
	return NULL;
}

/* ---- processes (C1, C2, C4) ------------------------------------------------------ */

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Kill every process of the run's groups and reap those that are ours,
 * until none is left or about 5 s passed.  Async-signal-safe. */
static void kill_and_reap(void)
{
	int nr = stop_nr_pgids;

	for (int i = 0; i < nr; i++)
		kill(-stop_pgids[i], SIGKILL);
	for (int tries = 0; tries < 5000; tries++) {
		bool left = false;

		for (int i = 0; i < nr; i++) {
			while (waitpid(-stop_pgids[i], NULL, WNOHANG) > 0)
				;
			if (kill(-stop_pgids[i], 0) == 0)
				left = true;
		}
		if (!left)
			break;
		nap_ms(1);
	}
}

static void on_stop_signal(int sig)
{
	struct sigaction dfl;

	kill_and_reap();
	if (stop_path_set)
		unlink(stop_path);
	kern_swap_off();
	kern_ksm_restore();
	kern_khugepaged_restore();
	kern_hugetlb_restore();
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	raise(sig); /* delivered when the handler returns: we die of it */
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int fail_run(struct coord *c, const struct scen_op *op, const char *fmt, ...)
	COW_PRINTF(3, 4);

static int fail_run(struct coord *c, const struct scen_op *op, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (op)
		kern_record(c->sh, KERN_ERROR, "error", c->s, op, "%s", msg);
	else
		kern_record(c->sh, KERN_ERROR, "error", c->s, NULL, "%s: %s", c->s->path, msg);
	return -1;
}

/* A process that no fork makes: a child of ours, in the run's group. */
static int start_root(struct coord *c, int p, const struct scen_op *op)
{
	pid_t pid = fork();

	if (pid < 0)
		return fail_run(c, op, "creating process %s: fork: %s", c->s->procs[p].name,
				strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != c->self)
			_exit(3);
		/* The group, as the parent sets it below: both do, so that the
		 * worker is never seen in the command's group (a terminal's
		 * Ctrl-C would reach it there) whichever runs first. */
		if (stop_nr_pgids == 0 || setpgid(0, stop_pgids[0]) != 0)
			setpgid(0, 0);
		kern_worker_main(&c->k, p);
	}
	/* The worker reads its first command after this: no race (C1). */
	if (stop_nr_pgids == 0 || setpgid(pid, stop_pgids[0]) != 0) {
		setpgid(pid, pid);
		if (stop_nr_pgids < MAX_PGIDS) {
			stop_pgids[stop_nr_pgids] = pid;
			stop_nr_pgids = stop_nr_pgids + 1;
		}
	}
	atomic_store(&c->sh->pid[p], pid);
	c->pidfd[p] = pidfd_open_(pid);
	if (c->pidfd[p] < 0)
		return fail_run(c, op, "pidfd_open: %s", strerror(errno));
	return 0;
}

static int ensure_worker(struct coord *c, int p, const struct scen_op *op)
{
	pid_t pid;

	if (c->gone[p])
		return fail_run(c, op, "process %s has exited", c->s->procs[p].name);
	if (c->pidfd[p] >= 0)
		return 0;
	if (!c->forked[p])
		return start_root(c, p, op);
	pid = atomic_load(&c->sh->pid[p]);
	if (!pid)
		return fail_run(c, op, "process %s was not forked", c->s->procs[p].name);
	c->pidfd[p] = pidfd_open_(pid);
	if (c->pidfd[p] < 0)
		return fail_run(c, op, "process %s: pidfd_open: %s", c->s->procs[p].name,
				strerror(errno));
	return 0;
}

/* After an operation: learn the workers its forks made (their parents
 * stored the pids before answering). */
static void adopt_forked(struct coord *c, const struct scen_op *ops, int n)
{
	for (int i = 0; i < n; i++) {
		const struct scen_op *op = &ops[i];
		int child;

		if (op->kind == OP_GROUP) {
			for (int t = 0; t < op->group.nr; t++) {
				const struct scen_thread *th = &c->s->threads[op->group.first + t];

				adopt_forked(c, th->ops, th->nr_ops);
			}
			continue;
		}
		if (op->kind != OP_FORK)
			continue;
		child = op->fork.child;
		if (c->pidfd[child] < 0 && atomic_load(&c->sh->pid[child]))
			c->pidfd[child] = pidfd_open_(atomic_load(&c->sh->pid[child]));
	}
}

static int send_cmd(struct coord *c, int p, int kind, int opi, const struct scen_op *op)
{
	struct kern_cmd cmd = {kind, opi};

	if (fd_write_full(c->k.cmd[p][1], &cmd, sizeof(cmd)) != 0)
		return fail_run(c, op, "process %s: cannot send it a command: %s",
				c->s->procs[p].name, strerror(errno));
	return 0;
}

/* Wait for p's answer: 0, or -1 (recorded) if it died or timed out. */
static int await_reply(struct coord *c, int p, const struct scen_op *op)
{
	struct pollfd fds[2] = {{c->k.res[p][0], POLLIN, 0}, {c->pidfd[p], POLLIN, 0}};
	struct kern_reply rep;
	int n;

	do
		n = poll(fds, 2, (int)c->timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n > 0 && (fds[0].revents & POLLIN) &&
	    fd_read_full(c->k.res[p][0], &rep, sizeof(rep)) == sizeof(rep))
		return 0;
	if (n == 0)
		return fail_run(c, op, "process %s did not finish within %u ms",
				c->s->procs[p].name, c->timeout_ms);
	c->gone[p] = true;
	return fail_run(c, op, "the host process of %s ended unexpectedly", c->s->procs[p].name);
}

/* Wait until p's process has exited (its memory is gone). */
static void await_gone(struct coord *c, int p, unsigned int ms)
{
	struct pollfd fd = {c->pidfd[p], POLLIN, 0};

	if (c->pidfd[p] < 0)
		return;
	while (poll(&fd, 1, (int)ms) < 0 && errno == EINTR)
		;
	c->gone[p] = true;
	waitpid(atomic_load(&c->sh->pid[p]), NULL, WNOHANG); /* ours: a root or an orphan */
}

/* The processes an operation runs in, each once, in thread order. */
static int op_procs(const struct scenario *s, const struct scen_op *op, int *procs, int max)
{
	int n = 0;

	if (op->kind != OP_GROUP) {
		procs[0] = op->proc;
		return 1;
	}
	for (int t = 0; t < op->group.nr; t++) {
		int p = s->threads[op->group.first + t].proc, seen = 0;

		for (int j = 0; j < n; j++)
			seen |= procs[j] == p;
		if (!seen && n < max)
			procs[n++] = p;
	}
	return n;
}

static void walk(struct coord *c)
{
	const struct scenario *s = c->s;

	/* A repeat or a fork with a body is one command: its process runs the
	 * body itself. */
	for (int i = 0; i < s->nr_ops && !kern_failed(c->sh); i += scen_op_span(&s->ops[i])) {
		const struct scen_op *op = &s->ops[i];
		int procs[64], n = op_procs(s, op, procs, 64), ok = 0;

		for (int j = 0; j < n; j++)
			if (ensure_worker(c, procs[j], op) != 0)
				return;
		for (int j = 0; j < n; j++)
			if (send_cmd(c, procs[j], op->kind == OP_GROUP ? CMD_GROUP : CMD_OP, i,
				     op) == 0)
				ok++;
		for (int j = 0; j < ok; j++)
			await_reply(c, procs[j], op);
		adopt_forked(c, op, 1);
		if (op->kind == OP_EXIT)
			await_gone(c, op->proc, c->timeout_ms);
	}
}

/* Every worker ends: its I/O waited for (errors recorded), its pins
 * dropped; then the groups are swept and reaped (C1, C2). */
static void end_workers(struct coord *c)
{
	const struct scenario *s = c->s;

	for (int p = 0; p < s->nr_procs; p++)
		if (c->pidfd[p] >= 0 && !c->gone[p] && send_cmd(c, p, CMD_QUIT, 0, NULL) == 0)
			await_reply(c, p, NULL);
	for (int p = 0; p < s->nr_procs; p++)
		if (c->pidfd[p] >= 0 && !c->gone[p])
			await_gone(c, p, 2000);
	kill_and_reap();
}

/* ---- set-up ------------------------------------------------------------------------ */

static const char *tmp_dir(const struct kern_opts *o)
{
	const char *env = getenv("COWLAB_TMPDIR");

	if (o->tmpdir && *o->tmpdir)
		return o->tmpdir;
	if (env && *env)
		return env;
	return access("/var/tmp", W_OK) == 0 ? "/var/tmp" : ".";
}

static bool file_has_dio(const struct scenario *s, int f)
{
	for (int i = 0; i < s->nr_ops; i++)
		if ((s->ops[i].kind == OP_DIO_READ || s->ops[i].kind == OP_DIO_WRITE) &&
		    s->ops[i].dio.file.name == f)
			return true;
	for (int t = 0; t < s->nr_threads; t++)
		for (int i = 0; i < s->threads[t].nr_ops; i++) {
			const struct scen_op *op = &s->threads[t].ops[i];

			if ((op->kind == OP_DIO_READ || op->kind == OP_DIO_WRITE) &&
			    op->dio.file.name == f)
				return true;
		}
	return false;
}

/* Create file f in dir, unlinked at once (C3), open twice: O_DIRECT and
 * through the page cache.  0, 1 (a skip, why says it) or an errno. */
static int open_file(struct coord *c, const char *dir, int f, char *why, size_t len)
{
	const struct scen_file *sf = &c->s->files[f];
	bool dio = file_has_dio(c->s, f);
	unsigned char buf[65536];
	struct statfs st;
	char proc[64];
	int fd, err = 0;

	if (snprintf(stop_path, sizeof(stop_path), "%s/cowlab-kernel.XXXXXX", dir) >=
	    (int)sizeof(stop_path))
		return ENAMETOOLONG;
	stop_path_set = 1;
	fd = mkostemp(stop_path, O_DIRECT | O_CLOEXEC);
	if (fd < 0 && errno == EINVAL && !dio)
		fd = mkostemp(stop_path, O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		stop_path_set = 0;
		if (err == EINVAL) {
			snprintf(why, len,
				 "no O_DIRECT in %s (file %s takes direct I/O); set "
				 "COWLAB_TMPDIR to a directory on a disk",
				 dir, sf->name);
			return 1;
		}
		return err;
	}
	unlink(stop_path);
	stop_path_set = 0;
	c->k.fd_direct[f] = fd;
	if (dio && fstatfs(fd, &st) == 0 && st.f_type == TMPFS_MAGIC_NR) {
		snprintf(why, len,
			 "%s is tmpfs, which buffers O_DIRECT (file %s takes direct "
			 "I/O); set COWLAB_TMPDIR to a directory on a disk",
			 dir, sf->name);
		return 1;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	c->k.fd_cached[f] = open(proc, O_RDWR | O_CLOEXEC);
	if (c->k.fd_cached[f] < 0)
		return errno;
	memset(buf, sf->fill, sizeof(buf));
	if (ftruncate(c->k.fd_cached[f], (off_t)sf->size) != 0)
		return errno;
	for (unsigned long off = 0; off < sf->size;) {
		size_t n = sf->size - off < sizeof(buf) ? sf->size - off : sizeof(buf);
		ssize_t w = pwrite(c->k.fd_cached[f], buf, n, (off_t)off);

		if (w <= 0)
			return w < 0 ? errno : EIO;
		off += (unsigned long)w;
	}
	/* Start the direct I/O from the disk, not from a dirty cache. */
	if (dio && fdatasync(c->k.fd_cached[f]) == 0)
		posix_fadvise(c->k.fd_cached[f], 0, 0, POSIX_FADV_DONTNEED);
	return 0;
}

static void close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	fds[0] = fds[1] = -1;
}

static void coord_free(struct coord *c)
{
	const struct scenario *s = c->s;

	for (int p = 0; p < s->nr_procs; p++) {
		if (c->k.cmd)
			close_pair(c->k.cmd[p]);
		if (c->k.res)
			close_pair(c->k.res[p]);
		if (c->pidfd && c->pidfd[p] >= 0)
			close(c->pidfd[p]);
	}
	for (int f = 0; f < s->nr_files; f++) {
		if (c->k.fd_direct && c->k.fd_direct[f] >= 0)
			close(c->k.fd_direct[f]);
		if (c->k.fd_cached && c->k.fd_cached[f] >= 0)
			close(c->k.fd_cached[f]);
	}
	for (int i = 0; c->k.pipes && i < s->nr_pipes; i++)
		close_pair(c->k.pipes[i]);
	if (c->sh)
		munmap(c->sh, c->sh_size);
	free(c->k.cmd);
	free(c->k.res);
	free(c->k.fd_direct);
	free(c->k.fd_cached);
	free(c->k.pipes);
	free(c->pidfd);
	free(c->gone);
	free(c->forked);
}

static void mark_forked(struct coord *c, const struct scen_op *ops, int n)
{
	for (int i = 0; i < n; i++)
		if (ops[i].kind == OP_FORK)
			c->forked[ops[i].fork.child] = true;
}

/* 0, 1 (a skip: why), or a negative COW_E* code (why says it). */
static int coord_new(struct coord *c, const struct scenario *s, const struct kern_opts *o,
		     char *why, size_t len)
{
	size_t np = (size_t)s->nr_procs + 1, nf = (size_t)s->nr_files + 1;
	const char *dir = tmp_dir(o);
	int err;

	memset(c, 0, sizeof(*c));
	c->s = s;
	c->k.s = s;
	c->k.o = *o;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
	c->self = getpid();
	c->sh_size = sizeof(*c->sh) + np * sizeof(atomic_int);
	c->sh = mmap(NULL, c->sh_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c->sh == MAP_FAILED) {
		c->sh = NULL;
		snprintf(why, len, "mmap: %s", strerror(errno));
		return COW_ENOMEM;
	}
	c->k.sh = c->sh;
	c->k.cmd = malloc(np * sizeof(*c->k.cmd));
	c->k.res = malloc(np * sizeof(*c->k.res));
	c->k.fd_direct = malloc(nf * sizeof(int));
	c->k.fd_cached = malloc(nf * sizeof(int));
	c->k.pipes = malloc(((size_t)s->nr_pipes + 1) * sizeof(*c->k.pipes));
	c->pidfd = malloc(np * sizeof(int));
	c->gone = calloc(np, sizeof(bool));
	c->forked = calloc(np, sizeof(bool));
	if (!c->k.cmd || !c->k.res || !c->k.fd_direct || !c->k.fd_cached || !c->k.pipes ||
	    !c->pidfd || !c->gone || !c->forked) {
		snprintf(why, len, "out of memory");
		return COW_ENOMEM;
	}
	for (size_t p = 0; p < np; p++) {
		c->k.cmd[p][0] = c->k.cmd[p][1] = c->k.res[p][0] = c->k.res[p][1] = -1;
		c->pidfd[p] = -1;
	}
	for (size_t f = 0; f < nf; f++)
		c->k.fd_direct[f] = c->k.fd_cached[f] = -1;
	for (int i = 0; i < s->nr_pipes; i++)
		c->k.pipes[i][0] = c->k.pipes[i][1] = -1;
	mark_forked(c, s->ops, s->nr_ops);
	for (int t = 0; t < s->nr_threads; t++)
		mark_forked(c, s->threads[t].ops, s->threads[t].nr_ops);
	for (int p = 0; p < s->nr_procs; p++)
		if (pipe2(c->k.cmd[p], O_CLOEXEC) != 0 || pipe2(c->k.res[p], O_CLOEXEC) != 0)
			goto out_errno;
	for (int i = 0; i < s->nr_pipes; i++) {
		/* Room for the spliced range's pages, a partial one at each end. */
		unsigned long want = s->pipes[i].len + 2 * 4096, size = 65536;

		if (pipe2(c->k.pipes[i], O_NONBLOCK | O_CLOEXEC) != 0)
			goto out_errno;
		while (size < want)
			size <<= 1;
		if (size > 65536 && fcntl(c->k.pipes[i][1], F_SETPIPE_SZ, (int)size) < 0) {
			snprintf(why, len, "pipe %s: cannot hold %lu bytes (F_SETPIPE_SZ: %s)",
				 s->pipes[i].name, s->pipes[i].len, strerror(errno));
			return 1;
		}
	}
	for (int f = 0; f < s->nr_files; f++) {
		err = open_file(c, dir, f, why, len);
		if (err == 1)
			return 1;
		if (err) {
			snprintf(why, len, "data file %s in %s: %s", s->files[f].name, dir,
				 strerror(err));
			return COW_EIO;
		}
	}
	return 0;
out_errno:
	snprintf(why, len, "pipe: %s", strerror(errno));
	return COW_EIO;
}

/* ---- the run ------------------------------------------------------------------------ */

struct saved_state {
	struct sigaction intr, term, hup, pipe;
	int subreaper;
};

static void enter_run(struct saved_state *st)
{
	struct sigaction sa;

	stop_nr_pgids = 0;
	stop_path_set = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGHUP);
	/* A signal ignored when we started (a background job's SIGINT, a
	 * nohup's SIGHUP) stays ignored: it cannot interrupt the run. */
	sigaction(SIGINT, NULL, &st->intr);
	sigaction(SIGTERM, NULL, &st->term);
	sigaction(SIGHUP, NULL, &st->hup);
	if (st->intr.sa_handler != SIG_IGN)
		sigaction(SIGINT, &sa, NULL);
	if (st->term.sa_handler != SIG_IGN)
		sigaction(SIGTERM, &sa, NULL);
	if (st->hup.sa_handler != SIG_IGN)
		sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN; /* a dead worker's pipe: an error, not our death */
	sigaction(SIGPIPE, &sa, &st->pipe);
	st->subreaper = 0;
	prctl(PR_GET_CHILD_SUBREAPER, &st->subreaper);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

static void leave_run(const struct saved_state *st)
{
	sigaction(SIGINT, &st->intr, NULL);
	sigaction(SIGTERM, &st->term, NULL);
	sigaction(SIGHUP, &st->hup, NULL);
	sigaction(SIGPIPE, &st->pipe, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, st->subreaper);
	stop_nr_pgids = 0;
}

static void set_result(struct kern_result *r, enum kern_status st, const char *verdict,
		       const char *msg)
{
	r->status = st;
	snprintf(r->verdict, sizeof(r->verdict), "%s", verdict);
	snprintf(r->message, sizeof(r->message), "%s", msg);
}

int kern_run(const struct scenario *s, const struct kern_opts *o, struct kern_result *r)
{
	struct kern_opts none = {0};
	struct saved_state st;
	struct coord c;
	const char *skip;
	char why[512] = "";
	int err;

	memset(r, 0, sizeof(*r));
	set_result(r, KERN_PASS, "pass", "");
	r->expected = kern_expected_checks(s);
	skip = kern_skip_reason(s);
	if (skip) {
		set_result(r, KERN_SKIP, "skip", skip);
		return 0;
	}
	enter_run(&st);
	/* Swap for a swapout, for this run only: a signal between runs
	 * could not remove it. */
	if (needs_swap(s) && kern_swap_on(KERN_SWAP_PAGES, why, sizeof(why)) != 0) {
		set_result(r, KERN_SKIP, "skip", why);
		leave_run(&st);
		return 0;
	}
	if ((needs_ksm(s) && kern_ksm_prepare(why, sizeof(why)) != 0) ||
	    (needs_khugepaged(s) && kern_khugepaged_prepare(why, sizeof(why)) != 0)) {
		kern_ksm_restore();
		kern_swap_off();
		set_result(r, KERN_SKIP, "skip", why);
		leave_run(&st);
		return 0;
	}
	/* The hugetlb pool: raised for this run, restored after it (and by
	 * the signal handler), one run at a time. */
	if (scen_has_hugetlb(s) &&
	    kern_hugetlb_prepare(s->hugepages, hugetlb_fit(s), why, sizeof(why)) != 0) {
		kern_khugepaged_restore();
		kern_ksm_restore();
		kern_swap_off();
		set_result(r, KERN_SKIP, "skip", why);
		leave_run(&st);
		return 0;
	}
	err = coord_new(&c, s, o ? o : &none, why, sizeof(why));
	if (err == 1) {
		set_result(r, KERN_SKIP, "skip", why);
		err = 0;
	} else if (err) {
		set_result(r, KERN_ERROR, "error", why);
	} else {
		walk(&c);
		end_workers(&c);
		r->checks = atomic_load(&c.sh->checks);
		if (atomic_load(&c.sh->state) == 2) {
			set_result(r, (enum kern_status)c.sh->status, c.sh->verdict, c.sh->message);
			if (r->status == KERN_SKIP)
				snprintf(r->verdict, sizeof(r->verdict), "skip");
		}
	}
	kern_judge(s, r);
	coord_free(&c);
	kern_swap_off();
	kern_ksm_restore();
	kern_khugepaged_restore();
	kern_hugetlb_restore();
	leave_run(&st);
	return err;
}
