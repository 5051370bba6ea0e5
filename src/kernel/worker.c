/*
 * A worker: one scenario process, as a real process on the host (see
 * kern.h for the protocol and kernel.h for the layer).  It runs the
 * operations the coordinator sends, in its main thread, and a thread
 * group's threads of this process on pthreads that start together; the
 * semantics mirror interp.c operation by operation.
 *
 * Invariants:
 *  H1 Every io_uring this process opens is in ring_fds, and its rings are
 *     MADV_DONTFORK; a fork's child closes every fd in ring_fds before it
 *     runs a command, so a child never keeps its parent's pins or I/O
 *     alive (the pins are the parent's, as in the model).  ring_lock is
 *     held from a ring's creation to its entry in ring_fds and across
 *     fork(), so no ring escapes the table.
 *  H2 A memory access that may fault (write, read, check of a mapping) is
 *     guarded: SIGSEGV or SIGBUS inside it longjmps back to the access,
 *     which then fails with EFAULT (SIGSEGV) or ESIGBUS_HOST (SIGBUS: a
 *     hugetlb mapping without its huge page), as cow_read() and
 *     cow_write() return COW_EFAULT and COW_ESIGBUS in the model.  Any
 *     other fault kills the worker, which the coordinator reports.
 *  H3 A thread waits for the direct I/O it issued before it ends (the end
 *     of a thread, and of the main thread at exit or at the end, is an
 *     implicit wait, as in interp.c).
 *
 * Alternatives rejected: reading a pin's bytes through the mapping (that
 * is the page table's view, not the pin's; IORING_OP_WRITE_FIXED from the
 * registered buffer is what tools/testing/selftests/mm/cow.c does), and
 * PR_SET_PDEATHSIG in forked workers (it fires when the forking *thread*
 * ends, which a thread group's fork does at join; a worker instead exits
 * when its command pipe reaches end of file, which happens when the
 * coordinator is gone).
 */
#define _GNU_SOURCE
#include "base/hostfile.h"
#include "kernel/host.h"
#include "kernel/kern.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <unistd.h>

#define BUF_SIZE 4096
#define MAX_RINGS 4096
#define RING_ENTRIES 64
#define MAX_DIO 1024

/* A long-term pin: an io_uring with one registered buffer. */
struct pin {
	struct io_uring ring;
	int slot;	      /* in ring_fds */
	pthread_mutex_t lock; /* one user of the ring at a time */
	unsigned long addr, len;
};

/* One thread of the worker (the main thread included). */
struct tctx {
	struct io_uring ring; /* its direct I/O, opened on first use */
	int slot;	      /* in ring_fds, -1: no ring */
	int inflight;
	uint64_t rng; /* the delays */
	/* In a thread group: the group and this thread (NULL: the main
	 * thread, which runs top-level operations one at a time). */
	const struct scen_op *group;
	const struct scen_thread *self;
};

/* A direct I/O submitted and not yet reaped: its pages may be pinned. */
struct dio_live {
	unsigned long addr, len; /* len 0: a free slot */
};

static struct {
	const struct kern_ctx *k;
	const struct scenario *s;
	struct kern_shared *sh;
	int me;			      /* procs[] */
	unsigned long *addrs;	      /* [nr_maps]: where each mapping is */
	bool *file_map;		      /* [nr_maps]: it maps a file */
	struct pin **pins;	      /* [nr_pins]: this process's, from pin to unpin */
	pthread_mutex_t live_lock;    /* pins[] and dio[] change under it */
	struct dio_live dio[MAX_DIO]; /* this process's, from submission to reaping */
} W = {.live_lock = PTHREAD_MUTEX_INITIALIZER};

/* What a guarded access returns where it raised SIGBUS (H2): no errno is
 * this large. */
#define ESIGBUS_HOST 0x10000

static atomic_int ring_fds[MAX_RINGS]; /* fd + 1, or 0 (H1) */
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread sigjmp_buf *fault_guard; /* H2 */

COW_NORETURN static void worker_loop(void);

/* ---- failures --------------------------------------------------------------- */

void kern_record(struct kern_shared *sh, enum kern_status st, const char *verdict,
		 const struct scenario *s, const struct scen_op *op, const char *fmt, ...)
{
	int clean = 0, n = 0;
	va_list ap;

	if (!atomic_compare_exchange_strong(&sh->state, &clean, 1))
		return;
	sh->status = st;
	snprintf(sh->verdict, sizeof(sh->verdict), "%s", verdict);
	if (op)
		n = snprintf(sh->message, sizeof(sh->message), "%s:%d:%d: ", s->path, op->loc.line,
			     op->loc.col);
	if (n < 0 || (size_t)n >= sizeof(sh->message))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(sh->message + n, sizeof(sh->message) - (size_t)n, fmt, ap);
	va_end(ap);
	atomic_store_explicit(&sh->state, 2, memory_order_release);
}

/* strerror, lower case as cow_strerror words its codes (SIGBUS as the
 * model's COW_ESIGBUS). */
static const char *errname(int err, char *buf, size_t len)
{
	if (err == ESIGBUS_HOST) {
		snprintf(buf, len, "no huge page for a hugetlb mapping (SIGBUS)");
		return buf;
	}
	snprintf(buf, len, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static void op_error(const struct scen_op *op, const char *what, int err)
{
	char e[128];

	kern_record(W.sh, KERN_ERROR, "error", W.s, op, "%s failed: %s", what,
		    errname(err, e, sizeof(e)));
}

static void op_skip(const struct scen_op *op, const char *why)
{
	kern_record(W.sh, KERN_SKIP, "skip", W.s, op, "%s", why);
}

/* ---- pipes ------------------------------------------------------------------------ */

/* ---- io_uring instances (H1) --------------------------------------------------------- */

static int ring_open(struct io_uring *ring, int *slot)
{
	int err;

	*slot = -1;
	pthread_mutex_lock(&ring_lock);
	err = io_uring_queue_init(RING_ENTRIES, ring, 0);
	if (err < 0)
		goto out_unlock;
	err = io_uring_ring_dontfork(ring);
	for (int i = 0; !err && i < MAX_RINGS; i++) {
		int empty = 0;

		if (atomic_compare_exchange_strong(&ring_fds[i], &empty, ring->ring_fd + 1)) {
			*slot = i;
			break;
		}
	}
	if (!err && *slot < 0)
		err = -EMFILE;
	if (err < 0)
		io_uring_queue_exit(ring);
out_unlock:
	pthread_mutex_unlock(&ring_lock);
	return err < 0 ? -err : 0;
}

static void ring_close(struct io_uring *ring, int slot)
{
	atomic_store(&ring_fds[slot], 0);
	io_uring_queue_exit(ring);
}

/* In a fork's child: the rings are the parent's (their memory did not
 * come along, MADV_DONTFORK); close the descriptors. */
static void rings_drop_inherited(void)
{
	for (int i = 0; i < MAX_RINGS; i++) {
		int fd = atomic_exchange(&ring_fds[i], 0);

		if (fd)
			close(fd - 1);
	}
}

/* ---- guarded memory access (H2) -------------------------------------------------------- */

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (fault_guard)
		siglongjmp(*fault_guard, sig);
	signal(sig, SIG_DFL); /* the access faults again and kills us */
}

/* Copy n bytes as loads and stores of this thread: 0, EFAULT (SIGSEGV)
 * or ESIGBUS_HOST (SIGBUS).  The bytes before the page that faulted are
 * copied, as by any loop of stores. */
static int guarded_copy(void *volatile dst, const void *volatile src, volatile size_t n)
{
	sigjmp_buf jb;

	switch (sigsetjmp(jb, 1)) { /* on_fault's siglongjmp gives the signal */
	case 0: break;
	case SIGBUS: fault_guard = NULL; return ESIGBUS_HOST;
	default: fault_guard = NULL; return EFAULT;
	}
	fault_guard = &jb;
	memcpy(dst, src, n);
	__asm__ volatile("" : : "r"(dst) : "memory"); /* the loads must happen */
	fault_guard = NULL;
	return 0;
}

/* ---- ranges and values ----------------------------------------------------------------- */

static const char *range_name(const struct scen_range *g)
{
	return scen_range_name(W.s, g);
}

static unsigned char *map_addr(const struct scen_range *g)
{
	return (unsigned char *)(W.addrs[g->name] + g->off);
}

/* n bytes of a file at off, as read(2) sees them: 0 or an errno. */
static int file_read(int file, unsigned long off, unsigned char *buf, unsigned long n)
{
	unsigned long got = 0;

	while (got < n) {
		ssize_t r = pread(W.k->fd_cached[file], buf + got, n - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return EIO; /* past the end: the parser keeps ranges inside */
		got += (unsigned long)r;
	}
	return 0;
}

static int value_fill(const struct scen_value *v, unsigned long at, unsigned char *buf,
		      unsigned long n)
{
	if (v->kind == VAL_FILE)
		return file_read(v->file.name, v->file.off + at, buf, n);
	scen_value_bytes(v, at, buf, n);
	return 0;
}

/* What the pinned pages hold: IORING_OP_WRITE_FIXED from the registered
 * buffer into a memfd, read back.  0 or an errno. */
static int pin_read(struct pin *p, unsigned long off, unsigned char *buf, unsigned long n)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int fd, err = 0;

	fd = memfd_create("cowlab-pin", MFD_CLOEXEC);
	if (fd < 0)
		return errno;
	pthread_mutex_lock(&p->lock);
	sqe = io_uring_get_sqe(&p->ring);
	if (!sqe) {
		err = EBUSY;
		goto out_unlock;
	}
	io_uring_prep_write_fixed(sqe, fd, (void *)(p->addr + off), (unsigned int)n, 0, 0);
	err = -io_uring_submit_and_wait(&p->ring, 1);
	if (err > 0)
		goto out_unlock;
	err = -io_uring_wait_cqe(&p->ring, &cqe);
	if (err > 0)
		goto out_unlock;
	err = cqe->res < 0 ? -cqe->res : (unsigned long)cqe->res != n ? EIO : 0;
	io_uring_cqe_seen(&p->ring, cqe);
	if (!err && pread(fd, buf, n, 0) != (ssize_t)n)
		err = EIO;
out_unlock:
	pthread_mutex_unlock(&p->lock);
	close(fd);
	return err;
}

/* What reading pipe would deliver now, without consuming it: tee() into
 * a pipe of the same size, read that.  *out is malloc'd, len bytes. */
static int pipe_peek(int pipe, unsigned long len, unsigned char **out)
{
	int src = W.k->pipes[pipe][0], sp[2], size, err = 0;
	unsigned char *buf = malloc(len ? len : 1);
	ssize_t dup;

	*out = NULL;
	if (!buf)
		return ENOMEM;
	if (pipe2(sp, O_NONBLOCK | O_CLOEXEC) != 0) {
		free(buf);
		return errno;
	}
	size = fcntl(src, F_GETPIPE_SZ);
	if (size > 0)
		fcntl(sp[1], F_SETPIPE_SZ, size);
	dup = tee(src, sp[1], len, SPLICE_F_NONBLOCK);
	if (dup < 0)
		err = errno == EAGAIN ? ENODATA : errno;
	else if ((unsigned long)dup < len || fd_read_full(sp[0], buf, len) != (ssize_t)len)
		err = ENODATA;
	close(sp[0]);
	close(sp[1]);
	if (err)
		free(buf);
	else
		*out = buf;
	return err;
}

/* ---- operations --------------------------------------------------------------------------- */

/* A write or a read that ran to its end (err 0) or stopped with err,
 * against its sigbus expectation (scen_judge_access), as the model's. */
static void access_done(const struct scen_op *op, int err)
{
	struct scen_finding f;
	char e[128];

	scen_judge_access(W.s, op, err, ESIGBUS_HOST, err ? errname(err, e, sizeof(e)) : NULL, &f);
	if (f.out != SCEN_HELD)
		kern_record(W.sh, KERN_ERROR, f.verdict, W.s, op, "%s", f.msg);
}

static void host_write(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	const struct scen_range *g = &op->write.range;
	unsigned char *base = map_addr(g), buf[BUF_SIZE];
	unsigned long len = g->len;

	for (unsigned long done = 0; done < len;) {
		unsigned long n = len - done < BUF_SIZE ? len - done : BUF_SIZE;
		int err = value_fill(&op->write.value, done, buf, n);

		if (!err)
			err = guarded_copy(base + done, buf, n);
		if (err) {
			access_done(op, err);
			return;
		}
		done += n;
	}
	access_done(op, 0);
}

/* A forced write through /proc/self/mem: the kernel's
 * get_user_pages(FOLL_FORCE | FOLL_WRITE), as in the model. */
static void host_poke(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	const struct scen_range *g = &op->write.range;
	unsigned long base = (unsigned long)map_addr(g), len = g->len;
	unsigned char buf[BUF_SIZE];
	int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		op_error(op, "poke (opening /proc/self/mem)", errno);
		return;
	}
	for (unsigned long done = 0; done < len;) {
		unsigned long n = len - done < BUF_SIZE ? len - done : BUF_SIZE;
		int err = value_fill(&op->write.value, done, buf, n);
		ssize_t w = 0;

		if (!err)
			w = pwrite(fd, buf, n, (off_t)(base + done));
		if (!err && w < 0 && errno == EINTR)
			continue;
		if (!err && w <= 0)
			err = w < 0 ? errno : EIO;
		if (err) {
			op_error(op, "poke", err);
			break;
		}
		done += (unsigned long)w;
	}
	close(fd);
}

static void host_read(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	const struct scen_range *g = &op->read.range;
	unsigned char *base = map_addr(g), buf[BUF_SIZE];
	unsigned long len = g->len;

	for (unsigned long done = 0; done < len;) {
		unsigned long n = len - done < BUF_SIZE ? len - done : BUF_SIZE;
		int err = guarded_copy(buf, base + done, n);

		if (err) {
			access_done(op, err);
			return;
		}
		done += n;
	}
	access_done(op, 0);
}

/* n bytes at offset at of range g, as the executing thread sees them. */
static int read_range(const struct scen_range *g, const unsigned char *pipe_bytes, unsigned long at,
		      unsigned char *buf, unsigned long n)
{
	struct pin *p;

	switch (g->space) {
	case SPACE_MAP: return guarded_copy(buf, map_addr(g) + at, n);
	case SPACE_FILE: return file_read(g->name, g->off + at, buf, n);
	case SPACE_PIN: p = W.pins[g->name]; return p ? pin_read(p, g->off + at, buf, n) : ENOENT;
	case SPACE_PIPE: memcpy(buf, pipe_bytes + g->off + at, n); return 0;
	}
	return EINVAL;
}

/* ---- pages: /proc/self/pagemap, /proc/kpagecount, /proc/kpageflags ---------------------- */

#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_PFN ((1ULL << 55) - 1) /* reads as 0 without CAP_SYS_ADMIN */
#define KPF_WRITEBACK 8
#define KPF_ANON 12
#define KPF_HUGE 17 /* a page of the hugetlb pool */
#define KPF_KSM 21
#define KPF_THP 22 /* a page of a large anonymous folio, or the huge zero page */
#define KPF_ZERO_PAGE 24
/* The size of a PMD-mapped THP on x86-64. */
#define HPAGE_SIZE (2UL << 20)
#define KPF_MAPPEDTODISK 34 /* PG_anon_exclusive, for anonymous pages */

/* The pagemap entry of the page at addr (pagemap: an open
 * /proc/self/pagemap); 0 if it cannot be read. */
static uint64_t pagemap_entry(int pagemap, unsigned long addr)
{
	uint64_t e = 0;

	if (pread(pagemap, &e, sizeof(e), (off_t)(addr / 4096 * sizeof(e))) != (ssize_t)sizeof(e))
		return 0;
	return e;
}

/* A frame's word in /proc/kpagecount or /proc/kpageflags (root only);
 * false if it cannot be read. */
static bool kpage_word(const char *file, uint64_t pfn, uint64_t *out)
{
	int fd = pfn ? open(file, O_RDONLY | O_CLOEXEC) : -1;
	bool ok;

	if (fd < 0)
		return false;
	ok = pread(fd, out, sizeof(*out), (off_t)(pfn * sizeof(*out))) == (ssize_t)sizeof(*out);
	close(fd);
	return ok;
}

/* The PAGEMAP_SCAN ioctl of /proc/PID/pagemap (6.7+; the uapi header
 * may predate it): the categories of each page, PAGE_IS_HUGE for one a
 * huge PMD maps (a THP's or hugetlb's). */
struct pm_page_region {
	uint64_t start, end, categories;
};
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PM_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_PAGE_IS_HUGE (1ULL << 6)

/* Is the page at addr mapped by a huge PMD, as PAGEMAP_SCAN tells: 1 or
 * 0, or -1 if the kernel has no such ioctl (before 6.7). */
static int scan_pmd_mapped(unsigned long addr)
{
	struct pm_page_region r = {0};
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.start = addr & ~4095UL,
		.end = (addr & ~4095UL) + 4096,
		.vec = (uint64_t)(uintptr_t)&r,
		.vec_len = 1,
		.return_mask = PM_PAGE_IS_HUGE,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), n;

	if (fd < 0)
		return -1;
	n = ioctl(fd, PM_SCAN, &a);
	close(fd);
	if (n < 0)
		return -1;
	return n == 1 && (r.categories & PM_PAGE_IS_HUGE) && addr >= r.start && addr < r.end;
}

/* Is the THP page at addr mapped by a huge PMD?  /proc/self/smaps counts
 * a VMA's PMD-mapped bytes, not which pages they are: none of the VMA
 * means no, all of it yes; between the two, PAGEMAP_SCAN says (6.7+), or
 * it cannot be told (-1, why says so).  v caches the VMA for the next
 * page of one check. */
static int pmd_mapped(unsigned long addr, struct vma_thp *v, char *why, size_t len)
{
	int pmd;

	if (!(v->end && addr >= v->start && addr < v->end) && kern_smaps_thp(addr, v)) {
		snprintf(why, len, "/proc/self/smaps has no AnonHugePages for the page's VMA");
		return -1;
	}
	if (v->pmd_bytes == 0)
		return 0;
	if (v->pmd_bytes == v->end - v->start)
		return 1;
	pmd = scan_pmd_mapped(addr);
	if (pmd >= 0)
		return pmd;
	snprintf(why, len,
		 "the mapping is part PMD-mapped, part not (AnonHugePages %lu of %lu kB of its "
		 "VMA): /proc/self/smaps cannot tell which page, and this kernel has no "
		 "PAGEMAP_SCAN (6.7)",
		 v->pmd_bytes / 1024, (v->end - v->start) / 1024);
	return -1;
}

/* The page at addr as SCEN_PAGE_* flags: pagemap says present (bit 63)
 * and swapped (bit 62); with want, the frame's /proc/kpageflags word
 * says KPF_ANON with PG_anon_exclusive (KPF_MAPPEDTODISK for anonymous
 * pages), KPF_KSM, KPF_HUGE (a page of the hugetlb pool, which the
 * worker maps in 2 MiB pages, MAP_HUGE_2MB: always by a PMD, so huge
 * too) and KPF_THP (a large folio), and for SCEN_PAGE_HUGE pmd_mapped()
 * says whether a THP page is mapped by a huge PMD (the huge zero page
 * always is: a split maps the small zero page instead).  -1 if what is
 * asked cannot be read (pagemap, or the frame and its flags: root only;
 * why says so where it is not the flags). */
static int page_state(const void *addr, int want, struct vma_thp *v, char *why, size_t len)
{
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), ret, pmd;
	uint64_t e, f;

	if (pm < 0)
		return -1;
	e = pagemap_entry(pm, (unsigned long)addr);
	close(pm);
	ret = (e & PM_PRESENT ? SCEN_PAGE_PRESENT : 0) | (e & PM_SWAP ? SCEN_PAGE_SWAPPED : 0);
	if (!want || !(e & PM_PRESENT))
		return ret;
	if (!kpage_word("/proc/kpageflags", e & PM_PFN, &f))
		return -1;
	if ((f >> KPF_ANON & 1) && (f >> KPF_MAPPEDTODISK & 1))
		ret |= SCEN_PAGE_EXCLUSIVE;
	if (f >> KPF_KSM & 1)
		ret |= SCEN_PAGE_KSM;
	if (f >> KPF_HUGE & 1)
		return ret | SCEN_PAGE_HUGETLB | SCEN_PAGE_HUGE;
	if (!(f >> KPF_THP & 1))
		return ret;
	ret |= SCEN_PAGE_LARGE;
	if (f >> KPF_ZERO_PAGE & 1)
		return ret | SCEN_PAGE_HUGE;
	if (!(want & SCEN_PAGE_HUGE))
		return ret;
	pmd = pmd_mapped((unsigned long)addr, v, why, len);
	if (pmd < 0)
		return -1;
	return pmd ? ret | SCEN_PAGE_HUGE : ret;
}

struct check_arg {
	const struct scen_op *op;
	unsigned char *pipe_bytes[SCEN_MAX_TUPLE]; /* a pipe range's whole pipe */
	struct scen_check_io *io;		   /* its no_page_state: why, when set */
	struct vma_thp vma;
	char why[256];
};

/* A pipe is read once, whole, without consuming it, when a check first
 * reads it. */
static int check_read(void *arg, int i, unsigned long at, unsigned char *buf, unsigned long n)
{
	struct check_arg *m = arg;
	const struct scen_range *g = scen_check_range(m->op, i);
	int err;

	if (g->space == SPACE_PIPE && !m->pipe_bytes[i]) {
		err = pipe_peek(g->name, W.s->pipes[g->name].len, &m->pipe_bytes[i]);
		if (err)
			return err;
	}
	return read_range(g, m->pipe_bytes[i], at, buf, n);
}

static int check_fill(void *arg, const struct scen_value *v, unsigned long at, unsigned char *buf,
		      unsigned long n)
{
	(void)arg;
	return value_fill(v, at, buf, n);
}

#define NO_KPAGEFLAGS "/proc/kpageflags cannot be read (root only)"

static int check_page(void *arg, unsigned long at, int want)
{
	struct check_arg *m = arg;
	int st;

	m->why[0] = '\0';
	st = page_state(map_addr(&m->op->check.range) + at, want, &m->vma, m->why, sizeof(m->why));
	if (st < 0)
		m->io->no_page_state = m->why[0] ? m->why : NO_KPAGEFLAGS;
	return st;
}

/* Out of memory or an I/O error: the reading failed, not the memory. */
static bool check_failed(int err)
{
	return err == ENOMEM || err == EIO;
}

/* check and require: scen_judge's verdict, recorded as the model's is. */
static void host_check(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	struct check_arg m = {.op = op};
	struct scen_check_io io = {
		.read = check_read,
		.fill = check_fill,
		.page = check_page,
		.failed = check_failed,
		.strerror = errname,
		.no_page_state = NO_KPAGEFLAGS,
		.efault = EFAULT,
		.esigbus = ESIGBUS_HOST,
		.arg = &m,
	};
	struct scen_finding f;

	m.io = &io;
	scen_judge(W.s, op, &io, &f);
	switch (f.out) {
	case SCEN_HELD:
		if (op->kind == OP_CHECK)
			atomic_fetch_add(&W.sh->checks, 1);
		break;
	case SCEN_SKIPPED: op_skip(op, f.msg); break;
	case SCEN_ERROR: kern_record(W.sh, KERN_ERROR, f.verdict, W.s, op, "%s", f.msg); break;
	case SCEN_FAILED: kern_record(W.sh, KERN_FAIL, f.verdict, W.s, op, "%s", f.msg); break;
	}
	for (int i = 0; i < SCEN_MAX_TUPLE; i++)
		free(m.pipe_bytes[i]);
}

/* The child of a fork becomes the child process's worker (H1). */
COW_NORETURN static void child_start(int child)
{
	W.me = child;
	rings_drop_inherited();
	pthread_mutex_init(&ring_lock, NULL);
	fault_guard = NULL;
	for (int i = 0; i < W.s->nr_pins; i++)
		W.pins[i] = NULL; /* the parent's: its memory, its rings */
	pthread_mutex_init(&W.live_lock, NULL);
	memset(W.dio, 0, sizeof(W.dio)); /* the parent's I/O, into its pages */
	worker_loop();
}

static void exec_seq(const struct scen_op *ops, int n, struct tctx *t);
static void tctx_init(struct tctx *t, uint64_t salt);
static void tctx_end(struct tctx *t);

/* The child of a fork with a body: it runs the body in its only thread,
 * then exits (the body's failures are in the shared record).  It takes
 * no command: the coordinator never knows it. */
COW_NORETURN static void child_body(const struct scen_op *op)
{
	struct tctx t;

	W.me = op->fork.child;
	rings_drop_inherited();
	pthread_mutex_init(&ring_lock, NULL);
	fault_guard = NULL;
	for (int i = 0; i < W.s->nr_pins; i++)
		W.pins[i] = NULL;
	tctx_init(&t, 2000 + (uint64_t)W.me);
	exec_seq(op + 1, op->fork.nr, &t);
	tctx_end(&t);
	_exit(0);
}

/* Wait until a fork body's child has exited.  Workers ignore SIGCHLD, so
 * the kernel reaps it: its pidfd says when (gone already: ESRCH). */
static void await_child(const struct scen_op *op, pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p = {fd, POLLIN, 0};

	if (fd < 0) {
		if (errno != ESRCH)
			op_error(op, "fork (waiting for the child: pidfd_open)", errno);
		return;
	}
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	close(fd);
}

static void host_fork(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	int child = op->fork.child;
	pid_t pid;

	pthread_mutex_lock(&ring_lock);
	pid = fork();
	if (pid == 0) {
		if (op->fork.nr > 0)
			child_body(op);
		child_start(child);
	}
	pthread_mutex_unlock(&ring_lock);
	if (pid < 0) {
		op_error(op, "fork", errno);
		return;
	}
	if (op->fork.nr > 0)
		await_child(op, pid);
	else
		atomic_store(&W.sh->pid[child], pid);
}

/* ---- direct I/O in flight ------------------------------------------------------------- */

/* Note a submitted direct I/O: its slot (the io_uring user_data), or -1
 * when the table is full. */
static int dio_start(unsigned long addr, unsigned long len)
{
	int slot = -1;

	pthread_mutex_lock(&W.live_lock);
	for (int i = 0; i < MAX_DIO && slot < 0; i++)
		if (!W.dio[i].len) {
			W.dio[i] = (struct dio_live){addr, len};
			slot = i;
		}
	pthread_mutex_unlock(&W.live_lock);
	return slot;
}

/* A reaped direct I/O: its length, and its slot is free again. */
static unsigned long dio_done(uint64_t slot)
{
	unsigned long len = 0;

	pthread_mutex_lock(&W.live_lock);
	if (slot < MAX_DIO) {
		len = W.dio[slot].len;
		W.dio[slot].len = 0;
	}
	pthread_mutex_unlock(&W.live_lock);
	return len;
}

/* May a pin of this process hold the page at addr: a long-term pin, or a
 * direct I/O not reaped yet? */
static bool page_maybe_pinned(unsigned long addr, unsigned long len)
{
	bool hit = false;

	pthread_mutex_lock(&W.live_lock);
	for (int i = 0; i < W.s->nr_pins && !hit; i++)
		hit = W.pins[i] && addr + len > W.pins[i]->addr &&
		      addr < W.pins[i]->addr + W.pins[i]->len;
	for (int i = 0; i < MAX_DIO && !hit; i++)
		hit = W.dio[i].len && addr + len > W.dio[i].addr &&
		      addr < W.dio[i].addr + W.dio[i].len;
	pthread_mutex_unlock(&W.live_lock);
	return hit;
}

/* Does reclaim keep the page at addr (pagemap entry e) for a pin?  Its
 * own, or, for a page of a THP (KPF_THP, as root), one on any page of the
 * aligned 2 MiB its folio takes: a pinned folio is neither split nor
 * swapped whole. */
static bool reclaim_keeps_pinned(unsigned long addr, uint64_t e)
{
	uint64_t flags;

	if (page_maybe_pinned(addr, 4096))
		return true;
	return kpage_word("/proc/kpageflags", e & PM_PFN, &flags) && (flags >> KPF_THP & 1) &&
	       page_maybe_pinned(addr & ~(HPAGE_SIZE - 1), HPAGE_SIZE);
}

/* Wait for every I/O this thread issued (H3). */
static void io_wait(struct tctx *t)
{
	char e[128];

	while (t->inflight > 0) {
		struct io_uring_cqe *cqe;
		int err = io_uring_wait_cqe(&t->ring, &cqe);
		unsigned long len;

		if (err == -EINTR)
			continue;
		if (err < 0) {
			kern_record(W.sh, KERN_ERROR, "error", W.s, NULL,
				    "%s: waiting for a direct I/O failed: %s", W.s->path,
				    errname(-err, e, sizeof(e)));
			t->inflight = 0;
			return;
		}
		len = dio_done(cqe->user_data);
		if (cqe->res < 0)
			kern_record(W.sh, KERN_ERROR, "error", W.s, NULL,
				    "%s: a direct I/O failed: %s", W.s->path,
				    errname(-cqe->res, e, sizeof(e)));
		else if ((unsigned long)cqe->res != len)
			kern_record(W.sh, KERN_ERROR, "error", W.s, NULL,
				    "%s: a direct I/O failed: %d of %lu bytes moved", W.s->path,
				    cqe->res, len);
		io_uring_cqe_seen(&t->ring, cqe);
		t->inflight--;
	}
}

static void host_dio(const struct scen_op *op, struct tctx *t)
{
	bool to_memory = op->kind == OP_DIO_READ;
	const char *what = to_memory ? "dio_read" : "dio_write";
	const struct scen_range *m = &op->dio.mem, *f = &op->dio.file;
	unsigned long len = m->len;
	int fd = W.k->fd_direct[f->name], err, slot;
	struct io_uring_sqe *sqe;

	if (t->slot < 0) {
		err = ring_open(&t->ring, &t->slot);
		if (err) {
			op_error(op, what, err);
			return;
		}
	}
	if (t->inflight >= RING_ENTRIES)
		io_wait(t);
	sqe = io_uring_get_sqe(&t->ring);
	slot = sqe ? dio_start((unsigned long)map_addr(m), len) : -1;
	if (slot < 0) {
		op_error(op, what, EBUSY);
		return;
	}
	if (to_memory)
		io_uring_prep_read(sqe, fd, map_addr(m), (unsigned int)len, f->off);
	else
		io_uring_prep_write(sqe, fd, map_addr(m), (unsigned int)len, f->off);
	sqe->user_data = (uint64_t)slot;
	err = io_uring_submit(&t->ring);
	if (err < 0) {
		dio_done((uint64_t)slot);
		op_error(op, what, -err);
		return;
	}
	t->inflight++;
}

static void drop_pin(struct pin *p)
{
	io_uring_unregister_buffers(&p->ring);
	ring_close(&p->ring, p->slot);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* A long-term R/W pin: io_uring_register_buffers (FOLL_PIN |
 * FOLL_LONGTERM | FOLL_WRITE), on a ring of its own. */
static void host_pin(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	const struct scen_range *m = &op->pin.mem;
	struct pin *p = calloc(1, sizeof(*p));
	struct iovec iov;
	int err;

	if (!p) {
		op_error(op, "pin", ENOMEM);
		return;
	}
	err = ring_open(&p->ring, &p->slot);
	if (err) {
		free(p);
		op_error(op, "pin", err);
		return;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->addr = (unsigned long)map_addr(m);
	p->len = m->len;
	iov = (struct iovec){(void *)p->addr, p->len};
	err = -io_uring_register_buffers(&p->ring, &iov, 1);
	if (err > 0) {
		ring_close(&p->ring, p->slot);
		pthread_mutex_destroy(&p->lock);
		free(p);
		if (W.file_map[m->name] && (err == EOPNOTSUPP || err == EFAULT))
			op_skip(op, "pin: io_uring does not pin file-backed memory (a fixed buffer "
				    "must be anonymous or shmem)");
		else
			op_error(op, "pin", err);
		return;
	}
	pthread_mutex_lock(&W.live_lock);
	W.pins[op->pin.pin] = p;
	pthread_mutex_unlock(&W.live_lock);
}

static void host_unpin(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	struct pin *p;

	pthread_mutex_lock(&W.live_lock);
	p = W.pins[op->unpin.pin];
	W.pins[op->unpin.pin] = NULL;
	pthread_mutex_unlock(&W.live_lock);
	if (p)
		drop_pin(p);
}

static void host_vmsplice(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	const struct scen_range *m = &op->splice.mem;
	struct iovec iov = {map_addr(m), m->len};

	while (iov.iov_len) {
		ssize_t n = vmsplice(W.k->pipes[op->splice.pipe][1], &iov, 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			op_error(op, "vmsplice", n < 0 ? errno : EIO);
			return;
		}
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
	}
}

static void host_pipe_read(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	const struct scen_range *m = &op->splice.mem;
	unsigned char *addr = map_addr(m);
	unsigned long len = W.s->pipes[op->splice.pipe].len;

	for (unsigned long done = 0; done < len;) {
		ssize_t n = read(W.k->pipes[op->splice.pipe][0], addr + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			op_error(op, "pipe_read",
				 n < 0 ? (errno == EAGAIN ? ENODATA : errno) : EIO);
			return;
		}
		done += (unsigned long)n;
	}
}

static int host_prot(int prot)
{
	return (prot & COW_PROT_READ ? PROT_READ : 0) | (prot & COW_PROT_WRITE ? PROT_WRITE : 0);
}

static int host_advice(int advice)
{
	switch (advice) {
	case COW_MADV_DONTNEED: return MADV_DONTNEED;
	case COW_MADV_DONTFORK: return MADV_DONTFORK;
	case COW_MADV_DOFORK: return MADV_DOFORK;
	case COW_MADV_MERGEABLE: return MADV_MERGEABLE;
	case COW_MADV_UNMERGEABLE: return MADV_UNMERGEABLE;
	case COW_MADV_HUGEPAGE: return MADV_HUGEPAGE;
	case COW_MADV_NOHUGEPAGE: return MADV_NOHUGEPAGE;
	case COW_MADV_COLLAPSE: return 25; /* MADV_COLLAPSE, 6.1 (older headers lack it) */
	}
	return -1;
}

/* MADV_HUGEPAGE and MADV_NOHUGEPAGE fail with EINVAL: what the run skips. */
#define NO_THP(what) \
	what ": EINVAL: this kernel has no transparent huge pages (CONFIG_TRANSPARENT_HUGEPAGE)"

/* map ... thp: anonymous memory at a 2 MiB-aligned address (mmap 2 MiB
 * more, unmap the head and the tail), then madvise(MADV_HUGEPAGE).  Its
 * address, or 0 (failed or skipped: recorded). */
static unsigned long map_thp(const struct scen_op *op)
{
	unsigned long len = op->map.len, a, start;
	void *p = mmap(NULL, len + HPAGE_SIZE, host_prot(op->map.prot), MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED) {
		op_error(op, "map", errno);
		return 0;
	}
	a = (unsigned long)p;
	start = (a + HPAGE_SIZE - 1) & ~(HPAGE_SIZE - 1);
	if ((start > a && munmap(p, start - a) != 0) ||
	    munmap((void *)(start + len), a + HPAGE_SIZE - start) != 0) {
		op_error(op, "map (trimming to a 2 MiB boundary: munmap)", errno);
		return 0;
	}
	if (madvise((void *)start, len, MADV_HUGEPAGE) == 0)
		return start;
	if (errno == EINVAL)
		op_skip(op, NO_THP("map ... thp: madvise(MADV_HUGEPAGE)"));
	else
		op_error(op, "map (madvise MADV_HUGEPAGE)", errno);
	munmap((void *)start, len);
	return 0;
}

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif

/* map ... hugetlb: MAP_PRIVATE or MAP_SHARED, with MAP_ANONYMOUS |
 * MAP_HUGETLB, of 2 MiB pages (MAP_HUGE_2MB, whatever the host's
 * default size), which the kernel places at a 2 MiB-aligned address
 * itself and for which it reserves a page of the pool per 2 MiB
 * (ENOMEM: the pool cannot promise them, as the model's COW_ENOMEM).  A
 * shared one is a file of the kernel's internal hugetlbfs mount: fork
 * shares its pages, MADV_DONTNEED unmaps them and leaves them in the
 * file, and they go back to the pool with its last mapping.  Its
 * address, or 0 (failed: recorded). */
static unsigned long map_hugetlb(const struct scen_op *op)
{
	void *p = mmap(NULL, op->map.len, host_prot(op->map.prot),
		       (op->map.shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_HUGETLB |
			       MAP_HUGE_2MB,
		       -1, 0);

	if (p == MAP_FAILED && errno == ENOMEM) {
		char e[128];

		kern_record(W.sh, KERN_ERROR, "error", W.s, op,
			    "map failed: %s" SCEN_HUGETLB_ENOMEM, errname(ENOMEM, e, sizeof(e)),
			    W.s->hugepages);
		return 0;
	}
	if (p == MAP_FAILED) {
		op_error(op, "map", errno);
		return 0;
	}
	if ((unsigned long)p % HPAGE_SIZE) {
		munmap(p, op->map.len);
		op_error(op, "map (MAP_HUGETLB gave an address off a 2 MiB boundary)", EINVAL);
		return 0;
	}
	return (unsigned long)p;
}

static void host_map(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	int flags = op->map.shared ? MAP_SHARED : MAP_PRIVATE, fd = -1;
	void *a;

	if (op->map.thp || op->map.hugetlb) {
		W.addrs[op->map.name] = op->map.thp ? map_thp(op) : map_hugetlb(op);
		W.file_map[op->map.name] = false;
		return;
	}
	if (op->map.file >= 0)
		fd = W.k->fd_cached[op->map.file];
	else
		flags |= MAP_ANONYMOUS;
	a = mmap(NULL, op->map.len, host_prot(op->map.prot), flags, fd, 0);
	if (a == MAP_FAILED) {
		op_error(op, "map", errno);
		return;
	}
	W.addrs[op->map.name] = (unsigned long)a;
	W.file_map[op->map.name] = fd >= 0;
}

static void host_clear_refs(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "4", 1) != 1)
		op_error(op, "clear_refs", errno);
	if (fd >= 0)
		close(fd);
}

static void host_madvise(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	const struct scen_range *g = &op->madvise.range;
	int advice = host_advice(op->madvise.advice);

	if (advice < 0) {
		op_error(op, "madvise", EINVAL);
		return;
	}
	if (madvise(map_addr(g), g->len, advice) == 0)
		return;
	if (errno == EINVAL && (advice == MADV_MERGEABLE || advice == MADV_UNMERGEABLE))
		op_skip(op, "madvise mergeable: this kernel has no KSM (CONFIG_KSM)");
	else if (errno == EINVAL && (advice == MADV_HUGEPAGE || advice == MADV_NOHUGEPAGE))
		op_skip(op, NO_THP("madvise hugepage|nohugepage"));
	else if (errno == EINVAL && op->madvise.advice == COW_MADV_COLLAPSE &&
		 !kern_host_knows_madv_collapse())
		op_skip(op, "madvise collapse: EINVAL: this kernel has no MADV_COLLAPSE (6.1+, "
			    "CONFIG_TRANSPARENT_HUGEPAGE)");
	else
		op_error(op, "madvise", errno);
}

/* The mapping range an operation touches, or NULL. */
static const struct scen_range *op_map_range(const struct scen_op *op)
{
	switch (op->kind) {
	case OP_WRITE:
	case OP_POKE: return &op->write.range;
	case OP_READ:
	case OP_MUNMAP:
	case OP_SWAPOUT: return &op->read.range;
	case OP_CHECK: return op->check.range.space == SPACE_MAP ? &op->check.range : NULL;
	case OP_MPROTECT: return &op->mprotect.range;
	case OP_MADVISE: return &op->madvise.range;
	case OP_DIO_READ:
	case OP_DIO_WRITE: return &op->dio.mem;
	case OP_PIN: return &op->pin.mem;
	case OP_VMSPLICE:
	case OP_PIPE_READ: return &op->splice.mem;
	default: return NULL;
	}
}

/* Does another thread of t's group in this process touch the page at
 * addr?  Then it may have faulted the page back in since the swap-out. */
static bool group_touches(const struct tctx *t, unsigned long addr)
{
	if (!t->group)
		return false;
	for (int i = 0; i < t->group->group.nr; i++) {
		const struct scen_thread *th = &W.s->threads[t->group->group.first + i];

		if (th == t->self || th->proc != W.me)
			continue;
		for (int j = 0; j < th->nr_ops; j++) {
			const struct scen_range *g = op_map_range(&th->ops[j]);
			unsigned long a;

			if (!g || !W.addrs[g->name])
				continue;
			a = (unsigned long)map_addr(g);
			if (addr + 4096 > a && addr < a + g->len)
				return true;
		}
	}
	return false;
}

/* Why a page that MADV_PAGEOUT left mapped stayed, as far as the frame's
 * count and flags tell (root); NULL: it is the shared zero page, which
 * reclaim never swaps either. */
static const char *stayed_why(uint64_t e, char *buf, size_t len)
{
	uint64_t count = 0, flags = 0;
	bool known = kpage_word("/proc/kpageflags", e & PM_PFN, &flags);
	struct sysinfo si;

	if (known && (flags >> KPF_ZERO_PAGE & 1))
		return NULL;
	if (sysinfo(&si) == 0 && si.freeswap == 0)
		snprintf(buf, len, "no swap space is free (/proc/swaps)");
	else if (known && (flags >> KPF_WRITEBACK & 1))
		snprintf(buf, len, "it is still being written to swap (PG_writeback)");
	else if (known && (flags >> KPF_KSM & 1))
		snprintf(buf, len, "it is a KSM page, which MADV_PAGEOUT leaves alone");
	else if (kpage_word("/proc/kpagecount", e & PM_PFN, &count) && count > 1)
		snprintf(buf, len,
			 "it is mapped %llu times (a live parent or child shares it): MADV_PAGEOUT "
			 "pages out only what one process maps, where reclaim would unmap "
			 "it everywhere",
			 (unsigned long long)count);
	else
		snprintf(buf, len,
			 "%sMADV_PAGEOUT left it mapped (shared with a live child, swap "
			 "full, or the page busy)",
			 known ? "" : "(the frame's count needs root) ");
	return buf;
}

/* MADV_PAGEOUT drains only this CPU's LRU batches, and a page that is in
 * another CPU's batch (another thread faulted it in last) is on no LRU
 * list yet and cannot be isolated: run it once on every CPU this thread
 * may use, as reclaim would find the page later.  0 or an errno. */
static int pageout_every_cpu(void *addr, size_t len)
{
	cpu_set_t old, one;
	int err = 0;

	if (sched_getaffinity(0, sizeof(old), &old) != 0)
		return madvise(addr, len, MADV_PAGEOUT) == 0 ? 0 : errno;
	for (int cpu = 0; cpu < CPU_SETSIZE && !err; cpu++) {
		if (!CPU_ISSET(cpu, &old))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one) == 0 &&
		    madvise(addr, len, MADV_PAGEOUT) != 0)
			err = errno;
	}
	sched_setaffinity(0, sizeof(old), &old);
	return err;
}

/* swapout RANGE: MADV_PAGEOUT, then every page of RANGE must be in swap
 * (/proc/self/pagemap bit 62), or the run would pass without the
 * swap-out it claims: it skips, naming the pages.  Excused are the pages
 * reclaim keeps too (maybe pinned by a pin or a direct I/O of this
 * process; the shared zero page), pages mapped by nothing (nothing to
 * swap), and, in a thread group, pages another thread of the group
 * touches (it may have faulted them back in).  Pages that stayed get
 * three more tries on every CPU (pageout_every_cpu) first, a few
 * milliseconds apart: reclaim does not unmap a page while an earlier
 * swap-out still writes it (PG_writeback). */
static void host_swapout(const struct scen_op *op, struct tctx *t)
{
	const struct scen_range *g = &op->swapout.range;
	unsigned long base = (unsigned long)map_addr(g);
	unsigned long len = (g->len + 4095) & ~4095UL, first = 0;
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), stayed = 0;
	char why[256] = "", at[96] = "";
	size_t n = 0;

	if (pm < 0) {
		op_error(op, "swapout (opening /proc/self/pagemap)", errno);
		return;
	}
	for (int tries = 0; tries < 4; tries++) {
		int err;

		if (tries)
			usleep(2000U << tries); /* a swap write still in flight */
		err = tries ? pageout_every_cpu((void *)base, len)
		      : madvise((void *)base, len, MADV_PAGEOUT) == 0 ? 0
								      : errno;
		stayed = 0;
		n = 0;
		if (err) {
			op_error(op, "swapout (MADV_PAGEOUT)", err);
			goto out;
		}
		for (unsigned long off = 0; off < len; off += 4096) {
			uint64_t e = pagemap_entry(pm, base + off);

			if ((e & PM_SWAP) || !(e & PM_PRESENT) ||
			    reclaim_keeps_pinned(base + off, e) || group_touches(t, base + off) ||
			    !stayed_why(e, why, sizeof(why)))
				continue;
			if (stayed++ == 0)
				first = off;
			if (n < sizeof(at) - 1)
				n += (size_t)snprintf(at + n, sizeof(at) - n, "%s%s[%lu]",
						      stayed > 1 ? ", " : "", range_name(g),
						      g->off + off);
		}
		if (!stayed)
			goto out;
	}
	stayed_why(pagemap_entry(pm, base + first), why, sizeof(why));
	kern_record(W.sh, KERN_SKIP, "skip", W.s, op,
		    "swapout: %d of %lu pages stayed in memory (%.80s%s); the first: %s. The "
		    "run would pass without its swap-out",
		    stayed, len / 4096, at, n >= sizeof(at) - 1 ? "..." : "", why);
out:
	close(pm);
}

/* ksm_merge: one pass of ksmd (the coordinator set it up), which must
 * merge something: the pages the scenario's processes have in KSM pages
 * (/proc/PID/ksm_merging_pages, Linux 6.1+) are summed, and a pass that
 * merged none skips, or the run would pass without the merge it claims.
 * The rule is "something merged", not "every candidate": a scenario may
 * expect a page (pinned, under I/O, written concurrently) to stay apart. */
static void host_ksm_merge(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	long merged = 0;
	int seen = 0;

	if (kern_ksm_pass(10000) != 0) {
		op_skip(op, "ksm_merge: ksmd did not finish two full scans in 10 s");
		return;
	}
	for (int p = 0; p < W.s->nr_procs; p++) {
		pid_t pid = atomic_load(&W.sh->pid[p]);
		char path[64], buf[32];
		int fd;
		ssize_t got;

		if (!pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		got = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (got <= 0)
			continue;
		buf[got] = '\0';
		merged += strtol(buf, NULL, 10);
		seen++;
	}
	if (!seen)
		op_skip(op, "ksm_merge: cannot tell whether the pass merged anything "
			    "(/proc/PID/ksm_merging_pages, Linux 6.1+)");
	else if (!merged)
		op_skip(op, "ksm_merge: the pass merged no page of the scenario's processes "
			    "(ksm_merging_pages 0); the run would pass without a merge");
}

/* khugepaged: one pass of the host's khugepaged (the coordinator saved
 * its settings), over every process that asked for THP; what it did is
 * for the scenario's checks to judge. */
static void host_khugepaged(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	if (kern_khugepaged_pass(10000) != 0)
		op_skip(op, "khugepaged: khugepaged did not finish two full scans in 10 s");
}

static void host_repeat(const struct scen_op *op, struct tctx *t)
{
	for (unsigned long i = 0; i < op->repeat.host_count && !kern_failed(W.sh); i++)
		exec_seq(op + 1, op->repeat.nr, t);
}

/* The worker loop ends the process (H1). */
static void host_exit(const struct scen_op *op COW_UNUSED, struct tctx *t COW_UNUSED)
{
}

static void host_munmap(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	const struct scen_range *g = &op->munmap.range;

	if (munmap(map_addr(g), g->len) != 0)
		op_error(op, "munmap", errno);
}

static void host_mprotect(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	const struct scen_range *g = &op->mprotect.range;

	if (mprotect(map_addr(g), g->len, host_prot(op->mprotect.prot)) != 0)
		op_error(op, "mprotect", errno);
}

static void host_uffd_continue(const struct scen_op *op, struct tctx *t COW_UNUSED)
{
	op_skip(op, "uffd_continue is not run on the host yet");
}

static void host_wait(const struct scen_op *op COW_UNUSED, struct tctx *t)
{
	io_wait(t);
}

#define host_require host_check
#define host_dio_read host_dio
#define host_dio_write host_dio

typedef void host_fn(const struct scen_op *op, struct tctx *t);

/* The host's execution of each operation (ops.def). */
static host_fn *const host_ops[] = {
#define OP(kind, word, flags, ...) [OP_##kind] = host_##word,
#include "scenario/ops.def"
#undef OP
};

static void exec_op(const struct scen_op *op, struct tctx *t)
{
	if (op->kind != OP_GROUP)
		host_ops[op->kind](op, t);
}

/* A sequence in order (a body with the operation that owns it), until
 * the run fails or skips. */
static void exec_seq(const struct scen_op *ops, int n, struct tctx *t)
{
	for (int i = 0; i < n && !kern_failed(W.sh); i += scen_op_span(&ops[i]))
		exec_op(&ops[i], t);
}

/* ---- threads ------------------------------------------------------------------------------ */

static void tctx_init(struct tctx *t, uint64_t salt)
{
	t->slot = -1;
	t->inflight = 0;
	t->rng = W.k->o.seed ^ (salt * 0x9e3779b97f4a7c15ULL);
	t->group = NULL;
	t->self = NULL;
}

static void tctx_end(struct tctx *t)
{
	io_wait(t);
	if (t->slot >= 0)
		ring_close(&t->ring, t->slot);
	t->slot = -1;
}

static void delay(struct tctx *t)
{
	unsigned int max = W.k->o.max_delay_us;

	if (W.k->o.seed && max)
		usleep((useconds_t)(cow_splitmix64(&t->rng) % ((uint64_t)max + 1)));
}

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t open_cond;
	bool open;
};

struct thread_arg {
	const struct scen_op *group;
	const struct scen_thread *t;
	struct gate *gate;
	uint64_t salt;
};

static void *thread_main(void *arg)
{
	struct thread_arg *a = arg;
	struct tctx t;

	tctx_init(&t, a->salt);
	t.group = a->group;
	t.self = a->t;
	pthread_mutex_lock(&a->gate->lock);
	while (!a->gate->open)
		pthread_cond_wait(&a->gate->open_cond, &a->gate->lock);
	pthread_mutex_unlock(&a->gate->lock);
	for (int i = 0; i < a->t->nr_ops && !kern_failed(W.sh); i += scen_op_span(&a->t->ops[i])) {
		delay(&t);
		exec_op(&a->t->ops[i], &t);
	}
	tctx_end(&t);
	return NULL;
}

/* This process's threads of a group, started together, joined. */
static void run_group(const struct scen_op *op)
{
	struct thread_arg args[64];
	pthread_t th[64];
	bool started[64] = {false};
	struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
	int nr = 0;

	for (int i = 0; i < op->group.nr && nr < 64; i++) {
		const struct scen_thread *t = &W.s->threads[op->group.first + i];

		if (t->proc != W.me)
			continue;
		args[nr] = (struct thread_arg){op, t, &gate, (uint64_t)(op->group.first + i + 1)};
		started[nr] = pthread_create(&th[nr], NULL, thread_main, &args[nr]) == 0;
		nr++;
	}
	pthread_mutex_lock(&gate.lock);
	gate.open = true;
	pthread_cond_broadcast(&gate.open_cond);
	pthread_mutex_unlock(&gate.lock);
	for (int i = 0; i < nr; i++)
		if (!started[i])
			thread_main(&args[i]); /* no host thread: run it here */
	for (int i = 0; i < nr; i++)
		if (started[i])
			pthread_join(th[i], NULL);
}

/* ---- the worker --------------------------------------------------------------------------------
 */

COW_NORETURN static void worker_exit(struct tctx *t, bool answer)
{
	struct kern_reply rep = {1};

	tctx_end(t);
	for (int i = 0; i < W.s->nr_pins; i++)
		if (W.pins[i])
			drop_pin(W.pins[i]);
	if (answer)
		fd_write_full(W.k->res[W.me][1], &rep, sizeof(rep));
	_exit(0);
}

COW_NORETURN static void worker_loop(void)
{
	struct kern_reply rep = {1};
	struct tctx t;

	tctx_init(&t, 1000 + (uint64_t)W.me);
	for (;;) {
		struct kern_cmd c;
		const struct scen_op *op;

		/* End of file: the coordinator is gone, and so are we. */
		if (fd_read_full(W.k->cmd[W.me][0], &c, sizeof(c)) != sizeof(c))
			worker_exit(&t, false);
		if (c.kind == CMD_QUIT)
			worker_exit(&t, true);
		if (c.op < 0 || c.op >= W.s->nr_ops)
			_exit(3);
		op = &W.s->ops[c.op];
		if (c.kind == CMD_GROUP)
			run_group(op);
		else if (op->kind == OP_EXIT)
			worker_exit(&t, true);
		else
			exec_op(op, &t);
		if (fd_write_full(W.k->res[W.me][1], &rep, sizeof(rep)) != 0)
			worker_exit(&t, false);
	}
}

void kern_worker_main(const struct kern_ctx *k, int proc)
{
	const struct scenario *s = k->s;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	/* The coordinator's lock on the hugetlb pool, not ours to keep. */
	kern_hugetlb_forget();
	sa.sa_handler = SIG_IGN; /* forked workers are reaped by the kernel */
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	/* The coordinator's ends: when it goes, our reads see end of file. */
	for (int p = 0; p < s->nr_procs; p++) {
		close(k->cmd[p][1]);
		close(k->res[p][0]);
	}
	W.k = k;
	W.s = s;
	W.sh = k->sh;
	W.me = proc;
	W.addrs = calloc((size_t)s->nr_maps + 1, sizeof(*W.addrs));
	W.file_map = calloc((size_t)s->nr_maps + 1, sizeof(*W.file_map));
	W.pins = calloc((size_t)s->nr_pins + 1, sizeof(*W.pins));
	if (!W.addrs || !W.file_map || !W.pins)
		_exit(3);
	worker_loop();
}
