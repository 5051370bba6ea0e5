/*
 * The scenario interpreter (see interp.h).  It sits above the library: it
 * calls the public cow_* API for every operation, src/sync to run thread
 * groups on real threads, and the explorer front end (src/sched/explore.h)
 * to run a whole scenario as an explore program.
 *
 * One run: a fresh system; the top-level operations run in order on CPU 0
 * (the main task); a thread group runs its threads on CPUs 1..n, in the
 * mode's way, and the main task waits at join.  A failed check or an
 * operation that fails unexpectedly is recorded (the first one wins) and
 * stops the thread that met it; the other threads go on to their end, so
 * every run ends in a state that can be checked and torn down.
 *
 * The tables of a run (process handles, mapping addresses, task handles)
 * are written by fork and exit; the parser guarantees that no other thread
 * of the same group uses a process made in the group, and exit happens
 * only outside groups, so concurrent threads never touch the same entry.
 */
#include "scenario/interp.h"

#include "sync/sync.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_SIZE 4096
#define SECTOR 512UL
#define HPAGE_BYTES (2UL << 20) /* a huge page: 512 frames */

struct run {
	const struct scenario *s;
	struct cow_system *sys;
	unsigned long frames;
	int ncpus;
	struct cow_process **procs; /* [nr_procs] */
	unsigned long *addrs;	    /* [nr_procs][nr_maps]: where each mapping is */
	struct cow_task **tasks;    /* [nr_procs][ncpus]: made on first use */
	enum scen_mode mode;
	struct sched *sched;   /* explore */
	struct scen_prog *cfg; /* explore: where the run reports */
	spinlock_t lock;       /* the failure record */
	bool failed;	       /* the record is written: a failure, or a skip; read unlocked */
	bool skipped;	       /* ... a skip: a require did not hold */
	char verdict[16];
	char message[1024];
	atomic_t checks;
	bool clean;		   /* explore: the verdict passed, teardown may run */
	struct cow_file **files;   /* [nr_files]: real O_DIRECT files */
	struct cow_pages **pins;   /* [nr_pins]: held from pin to unpin */
	struct cow_pages **pipes;  /* [nr_pipes]: held from vmsplice to pipe_read */
	bool buffered_files;	   /* a file's filesystem buffers O_DIRECT (tmpfs) */
	int line[SCHED_MAX_TASKS]; /* explore: the line of the operation each task runs */
};

/* Direct I/O in flight, issued by one thread (or a block's main thread). */
struct pending_io {
	struct cow_dio *dio;
	struct sync_thread *device;   /* stress */
	int done;		      /* explore */
	char name[SCEN_NAME_MAX + 8]; /* explore: the device task's, "dio of T" */
};

struct io_ctx {
	int cpu;
	const char *who; /* the thread that issues the I/O (main: "main") */
	int nr;
	struct pending_io *io; /* room for every dio of the scenario */
};

/* The simulated CPU of every device (a DMA engine is not a CPU, but the
 * frame allocator wants a cache to return frames to). */
#define DEVICE_CPU (SYNC_MAX_CPUS - 1)

struct group_wait {
	struct run *r;
	const struct scen_op *op;
	atomic_t done; /* threads ended */
};

struct thread_ctx {
	struct run *r;
	const struct scen_thread *t;
	int cpu;
	struct group_wait *g;
};

const char *scen_mode_name(enum scen_mode m)
{
	switch (m) {
	case SCEN_SEQ: return "seq";
	case SCEN_STRESS: return "stress";
	case SCEN_EXPLORE: return "explore";
	}
	return "?";
}

/* ---- failures ---------------------------------------------------------------- */

/* How a record is written: a failure or a skip takes an empty record (the
 * first one wins, and stops every thread at its next operation); the end
 * of a run's failures (run_finish: invariants, leaks) also replace a skip
 * or an operation's error, for a run that skipped or met an error must
 * still leave the system in order, and a leak on an error path is the
 * worse news (the error is kept at the end of the message). */
enum rec_kind { REC_FAIL, REC_SKIP, REC_END };

static COW_PRINTF(5, 0) void run_record(struct run *r, enum rec_kind kind, const char *verdict,
					const struct scen_op *op, const char *fmt, va_list ap)
{
	char earlier[sizeof(r->message)] = "";
	int n = 0;

	spin_lock(&r->lock);
	if (!r->failed || (kind == REC_END && (r->skipped || strcmp(r->verdict, "error") == 0))) {
		if (r->failed && !r->skipped)
			snprintf(earlier, sizeof(earlier), "%s", r->message);
		/* Other threads poll it without the lock (run_failed()). */
		WRITE_LOCKED(r->failed, true);
		r->skipped = kind == REC_SKIP;
		snprintf(r->verdict, sizeof(r->verdict), "%s", verdict);
		if (op)
			n = snprintf(r->message, sizeof(r->message), "%s:%d:%d: ", r->s->path,
				     op->loc.line, op->loc.col);
		if (n < 0 || (size_t)n >= sizeof(r->message))
			n = 0;
		vsnprintf(r->message + n, sizeof(r->message) - (size_t)n, fmt, ap);
		if (earlier[0]) {
			n = (int)strlen(r->message);
			snprintf(r->message + n, sizeof(r->message) - (size_t)n,
				 " (after an error: %s)", earlier);
		}
	}
	spin_unlock(&r->lock);
}

static COW_PRINTF(4, 5) void run_fail(struct run *r, const char *verdict, const struct scen_op *op,
				      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	run_record(r, REC_FAIL, verdict, op, fmt, ap);
	va_end(ap);
}

static COW_PRINTF(3, 4) void run_skip(struct run *r, const struct scen_op *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	run_record(r, REC_SKIP, "skip", op, fmt, ap);
	va_end(ap);
}

static COW_PRINTF(3, 4) void run_fail_end(struct run *r, const char *verdict, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	run_record(r, REC_END, verdict, NULL, fmt, ap);
	va_end(ap);
}

static bool run_failed(struct run *r)
{
	return READ_ONCE(r->failed);
}

/* ---- set-up and teardown ------------------------------------------------------- */

static const char *effective_policy(const struct scenario *s, const char *override)
{
	if (override)
		return override;
	return s->policy[0] ? s->policy : NULL;
}

static void run_free(struct run *r);

/* Is mapping name m mapped with thp anywhere in ops (n of them)? */
static bool thp_mapped(const struct scen_op *ops, int n, int m)
{
	for (int i = 0; i < n; i++)
		if (ops[i].kind == OP_MAP && ops[i].map.name == m && ops[i].map.thp)
			return true;
	return false;
}

/* Without a `system frames=` line: room for every process to hold a
 * private copy of every mapping, plus the page cache of every mapped file,
 * page tables and slack; where a mapping asks for huge pages, an aligned
 * block of 512 free frames for each of its 2 MiB and one more, so that
 * small pages taken first leave the blocks whole; and the hugetlb pool
 * (`system hugepages=N`), N aligned blocks of 512 frames set aside at the
 * system's creation, and one more block for their alignment.  A small
 * pool keeps the explorer's per-step checks cheap. */
static unsigned long default_frames(const struct scenario *s)
{
	unsigned long pages = 0, cached = 0, huge = 0;

	for (int i = 0; i < s->nr_maps; i++) {
		bool thp = thp_mapped(s->ops, s->nr_ops, i);

		for (int t = 0; t < s->nr_threads && !thp; t++)
			thp = thp_mapped(s->threads[t].ops, s->threads[t].nr_ops, i);
		pages += s->maps[i].len / 4096;
		if (thp)
			huge += (s->maps[i].len + HPAGE_BYTES - 1) / HPAGE_BYTES;
	}
	for (int i = 0; i < s->nr_files; i++)
		if (s->files[i].mapped)
			cached += (s->files[i].size + 4095) / 4096;
	return 64 + cached + (unsigned long)s->nr_procs * (pages + 16) +
	       (huge ? (huge + 1) * (HPAGE_BYTES / 4096) : 0) +
	       (s->hugepages ? (s->hugepages + 1) * (HPAGE_BYTES / 4096) : 0);
}

unsigned long long scen_memory_bytes(const struct scenario *s)
{
	unsigned long worst = default_frames(s);
	struct cow_system_opts o = {.frames = s->frames ? s->frames : worst};
	unsigned long long model = cow_system_memory(&o), host = (unsigned long long)worst * 4096;

	return model > host ? model : host;
}

/* The bytes of a mapped file past its size, to the end of the host file's
 * last sector, become zeroes: the tail of a file's last page reads as
 * zeroes through a mapping.  (No direct I/O reaches them: its ranges lie
 * inside the file and end on a sector.) */
static int zero_file_tail(struct cow_file *file, unsigned long size)
{
	unsigned long start = size & ~(SECTOR - 1), in = size % SECTOR;
	unsigned char *sector;
	int err;

	if (in == 0)
		return 0;
	/* O_DIRECT: an aligned buffer, a whole sector. */
	if (posix_memalign((void **)&sector, BUF_SIZE, SECTOR) != 0)
		return COW_ENOMEM;
	err = cow_file_read(file, start, sector, SECTOR);
	if (!err) {
		memset(sector + in, 0, SECTOR - in);
		err = cow_file_sector_io(file, start, sector, SECTOR, 0);
	}
	free(sector);
	return err;
}

static int run_new(const struct scenario *s, const char *policy, enum scen_mode mode,
		   struct run **out)
{
	struct cow_system_opts o = {0};
	struct run *r = calloc(1, sizeof(*r));
	int err;

	*out = NULL;
	if (!r)
		return COW_ENOMEM;
	r->s = s;
	r->mode = mode;
	r->ncpus = s->max_group + 1;
	if (s->cpus > r->ncpus)
		r->ncpus = s->cpus;
	if (r->ncpus < 2)
		r->ncpus = 2;
	spin_lock_init(&r->lock);
	o.frames = s->frames ? s->frames : default_frames(s);
	/* Room to swap out every frame four times over. */
	o.swap_slots = s->swap_slots ? s->swap_slots : 4 * o.frames;
	o.cpus = r->ncpus;
	o.policy = policy;
	o.no_zero_page = s->zero_page == 0;
	o.hugepages = s->hugepages;
	o.mem_devices = mode == SCEN_EXPLORE;
	err = cow_system_create(&o, &r->sys);
	if (err) {
		free(r);
		return err;
	}
	r->frames = cow_system_free_frames(r->sys);
	r->procs = calloc((size_t)s->nr_procs, sizeof(*r->procs));
	r->addrs = calloc((size_t)s->nr_procs * (size_t)(s->nr_maps ? s->nr_maps : 1),
			  sizeof(*r->addrs));
	r->tasks = calloc((size_t)s->nr_procs * (size_t)r->ncpus, sizeof(*r->tasks));
	r->files = calloc((size_t)s->nr_files + 1, sizeof(*r->files));
	r->pins = calloc((size_t)s->nr_pins + 1, sizeof(*r->pins));
	r->pipes = calloc((size_t)s->nr_pipes + 1, sizeof(*r->pipes));
	if (!r->procs || !r->addrs || !r->tasks || !r->files || !r->pins || !r->pipes) {
		run_free(r);
		return COW_ENOMEM;
	}
	for (int i = 0; i < s->nr_files; i++) {
		/* Files are whole sectors on the host; the scenario's size
		 * bounds what it can reach. */
		unsigned long size = (s->files[i].size + SECTOR - 1) & ~(SECTOR - 1);

		size = size ? size : SECTOR;
		err = mode == SCEN_EXPLORE
			      ? cow_file_create_mem(size, s->files[i].fill, &r->files[i])
			      : cow_file_create(size, s->files[i].fill, &r->files[i]);
		if (!err && s->files[i].mapped)
			err = zero_file_tail(r->files[i], s->files[i].size);
		if (err) {
			run_free(r);
			return err;
		}
		r->buffered_files |= !cow_file_direct(r->files[i]);
	}
	*out = r;
	return 0;
}

static void drop_tasks(struct run *r, int proc)
{
	for (int c = 0; c < r->ncpus; c++) {
		cow_task_destroy(r->tasks[proc * r->ncpus + c]);
		r->tasks[proc * r->ncpus + c] = NULL;
	}
}

static void release_held(struct run *r)
{
	for (int i = 0; r->pins && i < r->s->nr_pins; i++) {
		cow_pages_release(r->pins[i]);
		r->pins[i] = NULL;
	}
	for (int i = 0; r->pipes && i < r->s->nr_pipes; i++) {
		cow_pages_release(r->pipes[i]);
		r->pipes[i] = NULL;
	}
}

static void run_free(struct run *r)
{
	for (int p = 0; r->tasks && p < r->s->nr_procs; p++)
		drop_tasks(r, p);
	release_held(r);
	cow_system_destroy(r->sys); /* exits what is left */
	for (int i = 0; r->files && i < r->s->nr_files; i++)
		cow_file_close(r->files[i]);
	free(r->files);
	free(r->pins);
	free(r->pipes);
	free(r->procs);
	free(r->addrs);
	free(r->tasks);
	free(r);
}

/* The end of a run: strict invariants, every process exits, no frame may
 * be left behind. */
static void run_finish(struct run *r)
{
	char msg[512];
	int err;

	/* Strict means at rest: page tables that munmap handed to RCU go
	 * back to the pool in a callback thread, which must not be freeing
	 * frames while the check counts them. */
	rcu_barrier();
	err = cow_system_check(r->sys, 1, msg, sizeof(msg));

	if (err == COW_EOVERWRITE)
		run_fail_end(r, "overwrite", "%s: at the end: %s", r->s->path, msg);
	else if (err)
		run_fail_end(r, "crash", "%s: at the end: invariant broken: %s", r->s->path, msg);
	/* Pins and pipes left at the end go, as io_uring's buffers and a
	 * pipe's pages go when their process exits. */
	release_held(r);
	if (cow_system_pins_held(r->sys) != 0)
		run_fail_end(r, "crash", "%s: %ld pins acquired and not released", r->s->path,
			     cow_system_pins_held(r->sys));
	for (int p = 0; p < r->s->nr_procs; p++) {
		drop_tasks(r, p);
		if (r->procs[p]) {
			cow_process_exit(r->procs[p]);
			r->procs[p] = NULL;
		}
	}
	rcu_barrier();
	cow_system_drop_caches(r->sys);
	if (cow_system_swap_in_use(r->sys) != 0)
		run_fail_end(r, "crash", "%s: %lu swap slots leaked after every process exited",
			     r->s->path, cow_system_swap_in_use(r->sys));
	if (cow_system_free_frames(r->sys) != r->frames)
		run_fail_end(r, "crash", "%s: %lu frames leaked after every process exited",
			     r->s->path, r->frames - cow_system_free_frames(r->sys));
}

/* ---- operations ------------------------------------------------------------------ */

static struct cow_task *task_for(struct run *r, int proc, int cpu)
{
	struct cow_task **slot = &r->tasks[proc * r->ncpus + cpu];

	if (!*slot && cow_task_create(r->procs[proc], cpu, slot) != 0)
		*slot = NULL;
	return *slot;
}

/* The address where range g (a mapping) starts in the executing process. */
static unsigned long map_addr(const struct run *r, const struct scen_op *op,
			      const struct scen_range *g)
{
	return r->addrs[op->proc * r->s->nr_maps + g->name] + g->off;
}

/* Read n bytes at offset at of range g, as the executing task sees them:
 * memory through its MMU, a file's bytes as read(2) sees them on this
 * system (its page cache over the file), or what a pin's or a pipe's
 * frames hold. */
static int read_range(struct run *r, const struct scen_op *op, struct cow_task *t,
		      const struct scen_range *g, unsigned long at, unsigned char *buf,
		      unsigned long n)
{
	struct cow_pages *held;

	switch (g->space) {
	case SPACE_MAP: return cow_read(t, map_addr(r, op, g) + at, buf, n);
	case SPACE_FILE:
		return cow_file_read_cached(r->sys, r->files[g->name], g->off + at, buf, n);
	case SPACE_PIN:
	case SPACE_PIPE:
		held = g->space == SPACE_PIN ? r->pins[g->name] : r->pipes[g->name];
		if (!held)
			return COW_ENOENT;
		cow_pages_read(held, g->off + at, buf, n);
		return 0;
	}
	return COW_EINVAL;
}

/* The bytes a value holds at positions [at, at + n) of the range it is
 * applied to, into buf: a file range's as read(2) sees them now, so that
 * what a shared mapping wrote to the page cache counts.  0 or the error
 * of reading the file. */
static int value_fill(struct run *r, const struct scen_value *v, unsigned long at,
		      unsigned char *buf, unsigned long n)
{
	if (v->kind == VAL_FILE)
		return cow_file_read_cached(r->sys, r->files[v->file.name], v->file.off + at, buf,
					    n);
	scen_value_bytes(v, at, buf, n);
	return 0;
}

/* An operation failed: its error (COW_ESIGBUS, from an access to a
 * hugetlb mapping without its huge page, names SIGBUS).  A GUP that gave
 * up after its fault never gave it the page (COW_ELIVELOCK: a rule set
 * whose unshare fault does not make the page exclusive) is a livelock of
 * the rules, not a mistake of the scenario's. */
static void op_error(struct run *r, const struct scen_op *op, const char *what, int err)
{
	if (err == COW_ELIVELOCK)
		run_fail(r, "livelock", op,
			 "%s: get_user_pages faulted %d times at one address and never got "
			 "the page it wanted: the policy's fault rules do not give it one",
			 what, COW_GUP_MAX_FAULTS);
	else
		run_fail(r, "error", op, "%s failed: %s", what, cow_strerror(err));
}

/* A write or a read that ran to its end (err 0) or stopped with err,
 * against its sigbus expectation (scen_judge_access). */
static void access_done(struct run *r, const struct scen_op *op, int err)
{
	struct scen_finding f;

	scen_judge_access(r->s, op, err, COW_ESIGBUS, err ? cow_strerror(err) : NULL, &f);
	if (f.out != SCEN_HELD)
		run_fail(r, f.verdict, op, "%s", f.msg);
}

/* A read that fails for want of memory or by an I/O error says nothing
 * about the data: the operation failed (verdict error), where a check
 * that finds its bytes wrong or gone judges by its own verdict. */
static bool read_failed(int err)
{
	return err == COW_ENOMEM || err == COW_EIO;
}

static void model_write(struct run *r, const struct scen_op *op, struct cow_task *t,
			struct io_ctx *io COW_UNUSED)
{
	const struct scen_range *g = &op->write.range;
	unsigned long base = map_addr(r, op, g);
	unsigned long len = g->len;
	unsigned char buf[BUF_SIZE];

	for (unsigned long done = 0; done < len;) {
		unsigned long n = len - done < BUF_SIZE ? len - done : BUF_SIZE;
		int err = value_fill(r, &op->write.value, done, buf, n);

		if (!err)
			err = cow_write(t, base + done, buf, n);
		if (err) {
			access_done(r, op, err);
			return;
		}
		done += n;
	}
	access_done(r, op, 0);
}

/* A write through /proc/PID/mem (or ptrace(PTRACE_POKEDATA)): the kernel
 * takes the range's pages with get_user_pages(FOLL_FORCE | FOLL_WRITE) on
 * its slow path, which writes even where the mapping forbids it (in a
 * read-only private mapping, into the process's private copy), copies the
 * bytes into the frames and drops the references. */
static void model_poke(struct run *r, const struct scen_op *op, struct cow_task *t,
		       struct io_ctx *io COW_UNUSED)
{
	const struct scen_range *g = &op->write.range;
	unsigned long len = g->len;
	unsigned char buf[BUF_SIZE];
	struct cow_pages *pages;
	int err = cow_gup(t, map_addr(r, op, g), len, COW_GUP_FORCE | COW_GUP_WRITE, &pages);

	if (err) {
		op_error(r, op, "poke", err);
		return;
	}
	for (unsigned long done = 0; done < len;) {
		unsigned long n = len - done < BUF_SIZE ? len - done : BUF_SIZE;

		err = value_fill(r, &op->write.value, done, buf, n);
		if (err) {
			op_error(r, op, "poke", err);
			break;
		}
		cow_pages_write(pages, done, buf, n);
		done += n;
	}
	cow_pages_release(pages);
}

static void model_read(struct run *r, const struct scen_op *op, struct cow_task *t,
		       struct io_ctx *io COW_UNUSED)
{
	const struct scen_range *g = &op->read.range;
	unsigned long base = map_addr(r, op, g);
	unsigned long len = g->len;
	unsigned char buf[BUF_SIZE];

	for (unsigned long done = 0; done < len;) {
		unsigned long n = len - done < BUF_SIZE ? len - done : BUF_SIZE;
		int err = cow_read(t, base + done, buf, n);

		if (err) {
			access_done(r, op, err);
			return;
		}
		done += n;
	}
	access_done(r, op, 0);
}

struct check_arg {
	struct run *r;
	const struct scen_op *op;
	struct cow_task *t;
};

static int check_read(void *arg, int i, unsigned long at, unsigned char *buf, unsigned long n)
{
	struct check_arg *m = arg;

	return read_range(m->r, m->op, m->t, scen_check_range(m->op, i), at, buf, n);
}

static int check_fill(void *arg, const struct scen_value *v, unsigned long at, unsigned char *buf,
		      unsigned long n)
{
	return value_fill(((struct check_arg *)arg)->r, v, at, buf, n);
}

/* The page at offset at of the check's range, as its page table has it:
 * every SCEN_PAGE_* flag, huge PMD and large folio included. */
static int check_page(void *arg, unsigned long at, int want)
{
	struct check_arg *m = arg;

	_Static_assert(
		COW_PAGE_PRESENT == SCEN_PAGE_PRESENT && COW_PAGE_SWAPPED == SCEN_PAGE_SWAPPED &&
			COW_PAGE_EXCLUSIVE == SCEN_PAGE_EXCLUSIVE &&
			COW_PAGE_KSM == SCEN_PAGE_KSM && COW_PAGE_HUGE == SCEN_PAGE_HUGE &&
			COW_PAGE_LARGE == SCEN_PAGE_LARGE && COW_PAGE_HUGETLB == SCEN_PAGE_HUGETLB,
		"page state flags");
	(void)want; /* the model always knows them all */
	return cow_page_state(m->t, map_addr(m->r, m->op, &m->op->check.range) + at);
}

static const char *check_strerror(int err, char *buf, size_t len)
{
	snprintf(buf, len, "%s", cow_strerror(err));
	return buf;
}

/* check and require: scen_judge's verdict, recorded. */
static void model_check(struct run *r, const struct scen_op *op, struct cow_task *t,
			struct io_ctx *io COW_UNUSED)
{
	struct check_arg m = {r, op, t};
	const struct scen_check_io cio = {
		.read = check_read,
		.fill = check_fill,
		.page = check_page,
		.failed = read_failed,
		.strerror = check_strerror,
		.efault = COW_EFAULT,
		.esigbus = COW_ESIGBUS,
		.arg = &m,
	};
	struct scen_finding f;

	scen_judge(r->s, op, &cio, &f);
	switch (f.out) {
	case SCEN_HELD:
		if (op->kind == OP_CHECK)
			atomic_inc(&r->checks);
		return;
	case SCEN_SKIPPED: run_skip(r, op, "%s", f.msg); return;
	default: run_fail(r, f.verdict, op, "%s", f.msg); return;
	}
}

static void run_group(struct run *r, const struct scen_op *op);
static void exec_seq(struct run *r, const struct scen_op *ops, int n, struct io_ctx *io);
static void exec_fork_body(struct run *r, const struct scen_op *op, struct io_ctx *io);

/* fork NAME, and its body if it has one (exec_fork_body). */
static void model_fork(struct run *r, const struct scen_op *op, struct cow_task *t,
		       struct io_ctx *io)
{
	int child = op->fork.child, nr_maps = r->s->nr_maps;
	struct cow_process *c;
	int err = cow_fork(t, r->s->procs[child].name, &c);

	if (err) {
		op_error(r, op, "fork", err);
		return;
	}
	memcpy(&r->addrs[child * nr_maps], &r->addrs[op->proc * nr_maps],
	       (size_t)nr_maps * sizeof(*r->addrs));
	WRITE_ONCE(r->procs[child], c);
	if (op->fork.nr > 0)
		exec_fork_body(r, op, io);
}

/* ---- get_user_pages, direct I/O and pipes -------------------------------------------- */

/* Stress: the whole transfer through io_uring, at the host's pace. */
static void device_thread(void *arg)
{
	cow_dio_run_async(arg);
}

static void device_task(void *arg)
{
	struct pending_io *p = arg;

	while (cow_dio_step(p->dio))
		;
	WRITE_ONCE(p->done, 1);
}

/* arg is &p->done, the word the device's last step stores (see
 * group_done). */
static bool io_done(const void *arg)
{
	return READ_IN_PREDICATE(*(const int *)arg) != 0;
}

/* Wait for every I/O this context issued, then forget it. */
static void io_wait(struct run *r, struct io_ctx *io)
{
	for (int i = 0; i < io->nr; i++) {
		struct pending_io *p = &io->io[i];

		if (r->mode == SCEN_STRESS && p->device)
			sync_thread_join(p->device);
		else if (r->mode == SCEN_EXPLORE)
			sync_wait_cond(&p->done, io_done, "a direct I/O to complete (wait)");
		while (cow_dio_step(p->dio)) /* seq, or no device thread */
			;
		if (cow_dio_error(p->dio))
			run_fail(r, "error", NULL, "%s: a direct I/O failed: %s", r->s->path,
				 cow_strerror(cow_dio_error(p->dio)));
		cow_dio_free(p->dio);
	}
	io->nr = 0;
}

/* dio_read and dio_write. */
static void model_dio(struct run *r, const struct scen_op *op, struct cow_task *t,
		      struct io_ctx *io)
{
	bool to_memory = op->kind == OP_DIO_READ;
	const struct scen_range *m = &op->dio.mem, *f = &op->dio.file;
	unsigned long addr = map_addr(r, op, m);
	struct pending_io *p = &io->io[io->nr];
	int err = cow_dio_submit(t, addr, m->len, r->files[f->name], f->off, to_memory, &p->dio);

	if (err) {
		op_error(r, op, to_memory ? "dio_read" : "dio_write", err);
		return;
	}
	io->nr++;
	p->device = NULL;
	p->done = 0;
	switch (r->mode) {
	case SCEN_SEQ:
		while (cow_dio_step(p->dio))
			;
		return;
	case SCEN_STRESS: p->device = sync_thread_start(DEVICE_CPU, device_thread, p->dio); return;
	case SCEN_EXPLORE:
		/* Named for the thread that issued it, so that a trace's
		 * columns tell the devices apart. */
		snprintf(p->name, sizeof(p->name), "dio of %s", io->who);
		err = sched_spawn(r->sched, p->name, DEVICE_CPU, device_task, p, 0);
		if (err < 0)
			run_fail(r, "error", op, "no task slot for the device");
		else
			r->line[err] = op->loc.line; /* the device runs its dio */
		return;
	}
}

static void model_pin(struct run *r, const struct scen_op *op, struct cow_task *t,
		      struct io_ctx *io COW_UNUSED)
{
	const struct scen_range *m = &op->pin.mem;
	unsigned long addr = map_addr(r, op, m);
	unsigned int flags = COW_GUP_PIN | COW_GUP_LONGTERM;
	int err;

	if (!op->pin.ro)
		flags |= COW_GUP_WRITE;
	if (op->pin.fast)
		flags |= COW_GUP_FAST;
	err = cow_gup(t, addr, m->len, flags, &r->pins[op->pin.pin]);
	if (err)
		op_error(r, op, "pin", err);
}

/* vmsplice() takes read references (FOLL_GET) with gup-fast. */
static void model_vmsplice(struct run *r, const struct scen_op *op, struct cow_task *t,
			   struct io_ctx *io COW_UNUSED)
{
	const struct scen_range *m = &op->splice.mem;
	unsigned long addr = map_addr(r, op, m);
	int err = cow_gup(t, addr, m->len, COW_GUP_FAST, &r->pipes[op->splice.pipe]);

	if (err)
		op_error(r, op, "vmsplice", err);
}

static void model_pipe_read(struct run *r, const struct scen_op *op, struct cow_task *t,
			    struct io_ctx *io COW_UNUSED)
{
	const struct scen_range *m = &op->splice.mem;
	unsigned long addr = map_addr(r, op, m);
	struct cow_pages *pipe = r->pipes[op->splice.pipe];
	unsigned long len = cow_pages_len(pipe);
	unsigned char buf[BUF_SIZE];

	for (unsigned long done = 0; done < len;) {
		unsigned long n = len - done < BUF_SIZE ? len - done : BUF_SIZE;
		int err;

		cow_pages_read(pipe, done, buf, n);
		err = cow_write(t, addr + done, buf, n);
		if (err) {
			op_error(r, op, "pipe_read", err);
			break;
		}
		done += n;
	}
	cow_pages_release(pipe);
	r->pipes[op->splice.pipe] = NULL;
}

static void model_map(struct run *r, const struct scen_op *op, struct cow_task *t,
		      struct io_ctx *io COW_UNUSED)
{
	int share = op->map.shared ? COW_MAP_SHARED : COW_MAP_PRIVATE, err;
	unsigned long addr;

	/* mmap(2), of the file's descriptor with file=; with thp, then
	 * madvise(MADV_HUGEPAGE), at a 2 MiB-aligned address; with hugetlb,
	 * MAP_HUGETLB (2 MiB-aligned, its huge pages reserved). */
	if (op->map.thp)
		share |= COW_MAP_THP;
	if (op->map.hugetlb)
		share |= COW_MAP_HUGETLB;
	if (op->map.file >= 0)
		err = cow_mmap_file(t, op->map.len, op->map.prot, share, r->files[op->map.file],
				    &addr);
	else
		err = cow_mmap(t, 0, op->map.len, op->map.prot, share, &addr);
	if (!err)
		r->addrs[op->proc * r->s->nr_maps + op->map.name] = addr;
	else if (err == COW_ENOMEM && op->map.hugetlb)
		run_fail(r, "error", op, "map failed: %s" SCEN_HUGETLB_ENOMEM, cow_strerror(err),
			 r->s->hugepages);
	else
		op_error(r, op, "map", err);
}

static void model_repeat(struct run *r, const struct scen_op *op, struct cow_task *t COW_UNUSED,
			 struct io_ctx *io)
{
	for (unsigned long i = 0; i < op->repeat.count && !run_failed(r); i++)
		exec_seq(r, op + 1, op->repeat.nr, io);
}

static void model_exit(struct run *r, const struct scen_op *op, struct cow_task *t COW_UNUSED,
		       struct io_ctx *io COW_UNUSED)
{
	drop_tasks(r, op->proc);
	cow_process_exit(r->procs[op->proc]);
	r->procs[op->proc] = NULL;
}

static void model_munmap(struct run *r, const struct scen_op *op, struct cow_task *t,
			 struct io_ctx *io COW_UNUSED)
{
	const struct scen_range *g = &op->munmap.range;
	int err = cow_munmap(t, map_addr(r, op, g), g->len);

	if (err)
		op_error(r, op, "munmap", err);
}

static void model_mprotect(struct run *r, const struct scen_op *op, struct cow_task *t,
			   struct io_ctx *io COW_UNUSED)
{
	const struct scen_range *g = &op->mprotect.range;
	int err = cow_mprotect(t, map_addr(r, op, g), g->len, op->mprotect.prot);

	if (err)
		op_error(r, op, "mprotect", err);
}

static void model_madvise(struct run *r, const struct scen_op *op, struct cow_task *t,
			  struct io_ctx *io COW_UNUSED)
{
	const struct scen_range *g = &op->madvise.range;
	int err = cow_madvise(t, map_addr(r, op, g), g->len, op->madvise.advice);

	/* A preset from before 6.1 has no MADV_COLLAPSE: nothing to judge,
	 * as a host without it. */
	if (err == COW_ENOTSUP && op->madvise.advice == COW_MADV_COLLAPSE)
		run_skip(r, op, "madvise collapse: the policy's era has no MADV_COLLAPSE (6.1)");
	else if (err)
		op_error(r, op, "madvise", err);
}

static void model_swapout(struct run *r, const struct scen_op *op, struct cow_task *t,
			  struct io_ctx *io COW_UNUSED)
{
	const struct scen_range *g = &op->swapout.range;
	int err = cow_swapout(t, map_addr(r, op, g), g->len);

	if (err)
		op_error(r, op, "swapout", err);
}

static void model_uffd_continue(struct run *r, const struct scen_op *op, struct cow_task *t,
				struct io_ctx *io COW_UNUSED)
{
	const struct scen_range *g = &op->swapout.range;
	int err = cow_uffd_continue(t, map_addr(r, op, g), (g->len + 4095) & ~4095UL);

	if (err)
		op_error(r, op, "uffd_continue (a file mapping only)", err);
}

static void model_wait(struct run *r, const struct scen_op *op COW_UNUSED,
		       struct cow_task *t COW_UNUSED, struct io_ctx *io)
{
	io_wait(r, io);
}

static void model_unpin(struct run *r, const struct scen_op *op, struct cow_task *t COW_UNUSED,
			struct io_ctx *io COW_UNUSED)
{
	cow_pages_release(r->pins[op->unpin.pin]);
	r->pins[op->unpin.pin] = NULL;
}

static void model_clear_refs(struct run *r, const struct scen_op *op, struct cow_task *t,
			     struct io_ctx *io COW_UNUSED)
{
	int err = cow_clear_refs(t);

	if (err)
		op_error(r, op, "clear_refs", err);
}

static void model_ksm_merge(struct run *r, const struct scen_op *op, struct cow_task *t,
			    struct io_ctx *io COW_UNUSED)
{
	int err = cow_ksm_merge(t, NULL);

	if (err)
		op_error(r, op, "ksm_merge", err);
}

static void model_khugepaged(struct run *r, const struct scen_op *op, struct cow_task *t,
			     struct io_ctx *io COW_UNUSED)
{
	int err = cow_khugepaged(t, NULL);

	/* No THP, so no khugepaged: nothing to judge, as for collapse. */
	if (err == COW_ENOTSUP)
		run_skip(r, op, "khugepaged: the policy's era has no THP (2.6.38)");
	else if (err)
		op_error(r, op, "khugepaged", err);
}

#define model_require model_check
#define model_dio_read model_dio
#define model_dio_write model_dio

typedef void model_fn(struct run *r, const struct scen_op *op, struct cow_task *t,
		      struct io_ctx *io);

/* The model's execution of each operation (ops.def). */
static model_fn *const model_ops[] = {
#define OP(kind, word, flags, ...) [OP_##kind] = model_##word,
#include "scenario/ops.def"
#undef OP
};

static void exec_op(struct run *r, const struct scen_op *op, struct io_ctx *io)
{
	struct cow_task *t;
	int err;

	if (op->kind == OP_GROUP) {
		run_group(r, op);
		return;
	}
	if (!r->procs[op->proc]) {
		/* The first block of a process that no fork made. */
		err = cow_process_create(r->sys, r->s->procs[op->proc].name, &r->procs[op->proc]);
		if (err) {
			op_error(r, op, "creating the process", err);
			return;
		}
	}
	if (r->sched)
		r->line[sched_task_id(r->sched)] = op->loc.line;
	t = task_for(r, op->proc, io->cpu);
	if (!t) {
		op_error(r, op, "creating a task", COW_ENOMEM);
		return;
	}
	model_ops[op->kind](r, op, t, io);
}

/* The operations of a sequence in order, a body as part of the operation
 * that owns it, until the run fails or skips. */
static void exec_seq(struct run *r, const struct scen_op *ops, int n, struct io_ctx *io)
{
	for (int i = 0; i < n && !run_failed(r); i += scen_op_span(&ops[i]))
		exec_op(r, &ops[i], io);
}

/* A fork's body: the child runs it at once on the forker's CPU, then
 * exits (unless the body did), as a forker that waits for its child. */
static void exec_fork_body(struct run *r, const struct scen_op *op, struct io_ctx *io)
{
	int child = op->fork.child;

	if (!r->procs[child])
		return; /* the fork failed */
	exec_seq(r, op + 1, op->fork.nr, io);
	if (r->procs[child]) {
		drop_tasks(r, child);
		cow_process_exit(r->procs[child]);
		WRITE_ONCE(r->procs[child], NULL);
	}
}

/* Run a sequence as CPU cpu; its I/O completes before it returns. */
static void exec_ops(struct run *r, const struct scen_op *ops, int n, int cpu, const char *who)
{
	struct io_ctx io = {cpu, who, 0, NULL};

	if (r->s->nr_dio) {
		io.io = calloc((size_t)r->s->nr_dio, sizeof(*io.io));
		if (!io.io) {
			run_fail(r, "error", NULL, "%s: no memory for direct I/O", r->s->path);
			return;
		}
	}
	exec_seq(r, ops, n, &io);
	io_wait(r, &io);
	free(io.io);
}

/* ---- thread groups ------------------------------------------------------------------ */

static void thread_main(void *arg)
{
	struct thread_ctx *c = arg;

	exec_ops(c->r, c->t->ops, c->t->nr_ops, c->cpu, c->t->name);
	if (c->g) {
		atomic_inc(&c->g->done); /* one step: two threads may end at once */
		free(c);
	}
}

/* The join waits on the count the threads raise (arg is &g->done): its
 * waking step names that word, so the explorer orders every thread's end
 * before it, not only the last one's (else dpor diverges: a join woken by
 * the last thread in one order is still blocked in another). */
static bool group_done(const void *arg)
{
	const struct group_wait *g = container_of(arg, struct group_wait, done);

	return READ_IN_PREDICATE(g->done.counter) == g->op->group.nr;
}

static void run_group(struct run *r, const struct scen_op *op)
{
	const struct scen_thread *t = &r->s->threads[op->group.first];
	int nr = op->group.nr, saved_cpu = sync_cpu;

	switch (r->mode) {
	case SCEN_SEQ:
		for (int i = 0; i < nr && !run_failed(r); i++) {
			struct thread_ctx c = {r, &t[i], 1 + i, NULL};

			sync_cpu = c.cpu;
			thread_main(&c);
		}
		sync_cpu = saved_cpu;
		return;
	case SCEN_STRESS: {
		struct sync_thread *th[SYNC_MAX_CPUS];
		struct thread_ctx ctx[SYNC_MAX_CPUS];

		for (int i = 0; i < nr; i++) {
			ctx[i] = (struct thread_ctx){r, &t[i], 1 + i, NULL};
			th[i] = sync_thread_start(1 + i, thread_main, &ctx[i]);
			if (!th[i]) {
				/* No host thread: run it here instead. */
				thread_main(&ctx[i]);
			}
		}
		for (int i = 0; i < nr; i++)
			if (th[i])
				sync_thread_join(th[i]);
		return;
	}
	case SCEN_EXPLORE: {
		struct group_wait g = {r, op, ATOMIC_INIT(0)};

		for (int i = 0; i < nr; i++) {
			struct thread_ctx *c = malloc(sizeof(*c));
			int id =
				c ? sched_spawn(r->sched, t[i].name, 1 + i, thread_main, c, 0) : -1;

			if (id < 0) {
				/* Cannot happen: scen_run sized the slots. */
				free(c);
				run_fail(r, "error", op, "no task slot for thread %s", t[i].name);
				g.done.counter++; /* no task has run yet */
				continue;
			}
			*c = (struct thread_ctx){r, &t[i], 1 + i, &g};
			/* Its first step comes before its first operation. */
			r->line[id] = t[i].nr_ops ? t[i].ops[0].loc.line : t[i].loc.line;
		}
		sync_wait_cond(&g.done, group_done, "the threads of a group (join)");
		return;
	}
	}
}

/* ---- stress and seq ------------------------------------------------------------------- */

/* A run's record into res: a failure, or the first skip (kept while
 * later runs pass, so that an all-skipped result can say why). */
static void copy_failure(struct run *run, struct scen_result *res)
{
	res->failed = run->failed && !run->skipped;
	if (run->failed && (!run->skipped || !res->skipped_runs)) {
		snprintf(res->verdict, sizeof(res->verdict), "%s", run->verdict);
		snprintf(res->message, sizeof(res->message), "%s", run->message);
	}
	res->skipped_runs += run->skipped;
	res->checks = atomic_read(&run->checks);
	res->buffered |= run->buffered_files;
}

/* After runs runs of which res->skipped_runs skipped: the outcome is a
 * skip if every run skipped; else what the others found. */
static void settle_skips(struct scen_result *res, uint64_t runs)
{
	res->judged_runs = runs;
	res->skipped = !res->failed && runs > 0 && res->skipped_runs == runs;
	if (!res->failed && !res->skipped) {
		res->verdict[0] = '\0';
		if (!res->skipped_runs)
			res->message[0] = '\0';
	}
}

static int run_direct(const struct scenario *s, const char *policy, const struct scen_opts *o,
		      struct scen_result *res)
{
	unsigned long iters = o->mode == SCEN_STRESS && o->iterations ? o->iterations : 1;

	sync_init();
	for (unsigned long i = 0; i < iters; i++) {
		struct run *r;
		int err = run_new(s, policy, o->mode, &r);

		if (err)
			return err;
		exec_ops(r, s->ops, s->nr_ops, 0, "main");
		run_finish(r);
		res->runs = i + 1;
		copy_failure(r, res);
		run_free(r);
		if (res->failed)
			break;
	}
	settle_skips(res, res->runs);
	return 0;
}

/* ---- explore ------------------------------------------------------------------------------ */

static void main_task(void *arg)
{
	struct run *r = arg;

	exec_ops(r, r->s->ops, r->s->nr_ops, 0, "main");
}

static void *explore_setup(struct sched *sch, const void *arg)
{
	/* The configuration is ours (scen_run's stack): the run reports its
	 * check count there. */
	struct scen_prog *cfg = (struct scen_prog *)(uintptr_t)arg;
	struct run *r;

	if (run_new(cfg->s, cfg->policy, SCEN_EXPLORE, &r) != 0)
		return NULL;
	r->sched = sch;
	r->cfg = cfg;
	sched_spawn(sch, "main", 0, main_task, r, 0);
	return r;
}

static int explore_check(void *state, char *msg, size_t len)
{
	struct run *r = state;
	enum scen_checks how = r->cfg->checks;
	char m[512], full[512];
	int err = 0, ferr = 0;
	size_t n;

	if (how != SCEN_CHECK_FULL) {
		const struct sync_touch *t = sched_touched(r->sched, &n);

		err = cow_system_check_touched(r->sys, t, n, m, sizeof(m));
	}
	if (how != SCEN_CHECK_TOUCHED)
		ferr = cow_system_check(r->sys, 0, full, sizeof(full));
	if (how == SCEN_CHECK_BOTH && (err != 0) != (ferr != 0)) {
		snprintf(msg, len,
			 "crash: the checks disagree: the step check %s, the full check %s: %s",
			 err ? "failed" : "passed", ferr ? "failed" : "passed", err ? m : full);
		return 1;
	}
	if (how == SCEN_CHECK_FULL) {
		err = ferr;
		memcpy(m, full, sizeof(m));
	}
	if (err == 0)
		return 0;
	if (err == COW_EOVERWRITE)
		snprintf(msg, len, "overwrite: %s", m);
	else
		snprintf(msg, len, "crash: invariant broken: %s", m);
	return 1;
}

static int explore_verdict(void *state, char *msg, size_t len)
{
	struct run *r = state;

	/* A run that reaches its verdict ended in order, even if a check
	 * failed: its state can be torn down. */
	run_finish(r);
	r->clean = true;
	r->cfg->last_checks = atomic_read(&r->checks);
	r->cfg->buffered |= r->buffered_files;
	r->cfg->judged_runs++;
	if (r->skipped) {
		/* Not a failure: the run's premise did not hold. */
		if (!r->cfg->skipped_runs++)
			snprintf(r->cfg->skip_message, sizeof(r->cfg->skip_message), "%s",
				 r->message);
		return 0;
	}
	if (!r->failed)
		return 0;
	snprintf(msg, len, "%s: %s", r->verdict, r->message);
	return 1;
}

/* Runs stopped by the scheduler (deadlock, livelock, a broken invariant
 * during the run) abandon tasks that may hold locks: leave that state be
 * rather than risk tearing it down. */
static void explore_teardown(void *state)
{
	struct run *r = state;

	if (r->clean)
		run_free(r);
}

static bool explore_describe(void *state, const void *obj, char *buf, size_t len)
{
	struct run *r = state;

	return cow_system_describe(r->sys, obj, buf, len) != 0;
}

static int explore_locate(void *state, int task)
{
	struct run *r = state;

	return task >= 0 && task < SCHED_MAX_TASKS ? r->line[task] : 0;
}

static bool explore_source(const struct explore_prog *p, int line, char *buf, size_t len)
{
	/* p is the first member of the scen_prog that scen_prog_init made. */
	const struct scen_prog *sp = (const struct scen_prog *)p;

	return scen_source_line(sp->s, line, buf, len);
}

static void explore_decisions(void *state, void (*fn)(void *arg, const char *text), void *arg)
{
	struct run *r = state;

	cow_system_set_decisions(r->sys, fn, arg);
}

void scen_result_from_explore(const struct explore_result *x, struct scen_result *res)
{
	const char *colon = strstr(x->message, ": ");
	static const char *const words[] = {"corrupt",	 "leak",  "desync",
					    "overwrite", "crash", "error"};

	res->failed = x->failed;
	res->runs = x->runs;
	res->steps = x->steps;
	res->has_token = true;
	res->token = x->token;
	res->cover = explore_result_cover(x);
	res->bound = x->dfs_bound;
	if (!x->failed)
		return;
	if (x->verdict == SCHED_DEADLOCK || x->verdict == SCHED_LIVELOCK) {
		const char *name = sched_verdict_name(x->verdict), *msg = x->message;

		/* The scheduler's message starts with the verdict's name, which
		 * every caller prints before the message already. */
		if (colon && (size_t)(colon - msg) == strlen(name) &&
		    strncmp(msg, name, strlen(name)) == 0)
			msg = colon + 2;
		snprintf(res->verdict, sizeof(res->verdict), "%s", name);
		snprintf(res->message, sizeof(res->message), "%s", msg);
		return;
	}
	snprintf(res->verdict, sizeof(res->verdict), "crash");
	snprintf(res->message, sizeof(res->message), "%s", x->message);
	for (size_t i = 0; colon && i < ARRAY_SIZE(words); i++)
		if ((size_t)(colon - x->message) == strlen(words[i]) &&
		    strncmp(x->message, words[i], strlen(words[i])) == 0) {
			snprintf(res->verdict, sizeof(res->verdict), "%s", words[i]);
			snprintf(res->message, sizeof(res->message), "%s", colon + 2);
		}
}

void scen_result_add_skips(const struct scen_prog *sp, struct scen_result *res)
{
	res->skipped_runs = sp->skipped_runs;
	res->judged_runs = sp->judged_runs;
	if (res->failed || !sp->skipped_runs)
		return;
	res->skipped = sp->skipped_runs == sp->judged_runs;
	snprintf(res->verdict, sizeof(res->verdict), "%s", res->skipped ? "skip" : "");
	snprintf(res->message, sizeof(res->message), "%s", sp->skip_message);
}

/* ---- entry points ----------------------------------------------------------------------- */

static int resolve_policy(const struct scenario *s, const char *override, struct scen_result *res,
			  const char **out)
{
	const char *name = effective_policy(s, override);

	if (!name)
		name = cow_policy_name(cow_policy_default());
	if (!cow_policy_find(name)) {
		char why[256];

		if (cow_policy_check(name, why, sizeof(why)) == 0)
			snprintf(why, sizeof(why), "out of memory");
		snprintf(res->message, sizeof(res->message), "policy %s: %s", name, why);
		return COW_EINVAL;
	}
	/* The rule set's own name, not one a --policies file gave it: a
	 * token replays without the file. */
	snprintf(res->policy, sizeof(res->policy), "%s", cow_policy_name(cow_policy_find(name)));
	*out = res->policy;
	return 0;
}

/* COWLAB_CHECKS: touched (or unset), full or both. */
static int checks_from_env(enum scen_checks *how, struct scen_result *res)
{
	static const char *const names[] = {"touched", "full", "both"};
	const char *v = getenv("COWLAB_CHECKS");

	*how = SCEN_CHECK_TOUCHED;
	if (!v || !*v)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(v, names[i]) == 0) {
			*how = (enum scen_checks)i;
			return 0;
		}
	snprintf(res->message, sizeof(res->message),
		 "COWLAB_CHECKS is '%.100s'; it takes touched, full or both", v);
	return COW_EINVAL;
}

int scen_prog_init(const struct scenario *s, const char *policy, struct scen_prog *sp,
		   struct scen_result *res)
{
	const char *name;
	int err;

	memset(sp, 0, sizeof(*sp));
	memset(res, 0, sizeof(*res));
	err = resolve_policy(s, policy, res, &name);
	if (err)
		return err;
	if (s->nr_threads + s->nr_dio + 2 > SCHED_MAX_TASKS) {
		snprintf(res->message, sizeof(res->message),
			 "%s: %d threads and %d direct I/Os in all; explore mode runs at most %d",
			 s->path, s->nr_threads, s->nr_dio, SCHED_MAX_TASKS - 2);
		return COW_EINVAL;
	}
	err = checks_from_env(&sp->checks, res);
	if (err)
		return err;
	snprintf(sp->policy_name, sizeof(sp->policy_name), "%s", name);
	sp->s = s;
	sp->policy = sp->policy_name;
	sp->prog = (struct explore_prog){
		.name = s->path,
		.nr_tasks = 2 + s->nr_threads + s->nr_dio, /* main, threads, devices, RCU */
		.check = explore_check,
		.verdict = explore_verdict,
		.teardown = explore_teardown,
		.setup_arg = explore_setup,
		.arg = sp,
		.describe = explore_describe,
		.locate = explore_locate,
		.source = explore_source,
		.decisions = explore_decisions,
		.hash = s->hash,
		.rules_hash = cow_policy_hash(cow_policy_find(name)),
	};
	sync_init();
	return 0;
}

/* An explore search (t == NULL: runs from o) or the replay of one token. */
static int run_explore(const struct scenario *s, const char *policy, const struct scen_opts *o,
		       const struct explore_token *t, struct scen_result *res)
{
	struct scen_prog sp;
	struct explore_result x;
	int err = scen_prog_init(s, policy, &sp, res);

	if (err)
		return err;
	if (t) {
		err = explore_replay(&sp.prog, t, 0, &x);
	} else {
		struct explore_opts eo = {
			.algo = o->algo,
			.depth = o->depth ? o->depth : EXPLORE_DEFAULT_DEPTH,
			.preemptions = EXPLORE_DEFAULT_PREEMPTIONS,
			.seed = o->seed,
			.runs = o->runs ? o->runs : 1000,
			.max_steps = o->max_steps,
		};

		err = explore_run_search(&sp.prog, sp.policy, &eo, &x);
	}
	if (err)
		return err;
	scen_result_from_explore(&x, res);
	snprintf(res->policy, sizeof(res->policy), "%s", sp.policy);
	res->checks = sp.last_checks;
	res->buffered = sp.buffered;
	scen_result_add_skips(&sp, res);
	return 0;
}

int scen_run(const struct scenario *s, const struct scen_opts *o, struct scen_result *res)
{
	const char *policy;
	int err;

	if (o->mode == SCEN_EXPLORE)
		return run_explore(s, o->policy, o, NULL, res);
	memset(res, 0, sizeof(*res));
	err = resolve_policy(s, o->policy, res, &policy);
	if (err)
		return err;
	return run_direct(s, policy, o, res);
}

int scen_replay(const struct scenario *s, const struct explore_token *t, struct scen_result *res)
{
	return run_explore(s, strcmp(t->policy, "-") ? t->policy : NULL, NULL, t, res);
}
