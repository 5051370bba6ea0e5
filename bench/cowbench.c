/*
 * cowbench: cowlab's memory manager side by side with the host's kernel.
 *
 * Each benchmark does the same work on cowlab (the stress back end: real
 * OS threads, real time) and on the host kernel (real mmap, fork,
 * io_uring, swap), in this one process run, and where it has one, its
 * physical limit: memset or memcpy of as many 4 KiB pages.  Each side
 * runs warm-up rounds, then measured ones; only the operation itself is
 * timed, not its set-up.  A round's rate is its work (4 KiB pages, or
 * explorer runs) divided by its time; the tables give each side's median
 * rate and its range, the ratios cowlab/kernel and cowlab/limit, the
 * speed and memory targets and the memory figures.
 *
 *   cowbench [--mib N] [--swap-mib N] [--rounds R] [--warmup W]
 *            [--only NAME[,NAME...]] [--side cowlab|kernel]
 *            [--json FILE] [--markdown FILE]
 *
 * Defaults: 1024 MiB, swap 256 MiB, 3 rounds after 1 warm-up.  Fairness:
 * host mappings get MADV_NOHUGEPAGE (as cowlab's plain mappings have 4 KiB
 * pages), except in the thp benchmarks, where both sides ask for huge
 * pages and a side that did not get them all is not counted,
 * cowlab's frame pool is faulted in on the host before the first round
 * (it stands for the machine's memory), and cowlab's rounds alternate with
 * its limit's.  The host's swap is a temporary swap file (root), as
 * cowlab's is a real file.  docs/performance.md explains each benchmark.
 */
#define _GNU_SOURCE
#include "cowlab.h"

#include "kernel/host.h"
#include "mm/mm.h"
#include "sched/demos.h"
#include "sched/explore.h"
#include "sync/sync.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define PG 4096UL
#define MAX_ROUNDS 64

static struct {
	unsigned long pages;	  /* the working set, in pages */
	unsigned long swap_pages; /* the swapped set */
	int rounds, warmup;
	const char *only;
	const char *json, *markdown;
	int sides; /* bit 0: cowlab, bit 1: the kernel */
} cfg = {.pages = (1024UL << 20) / PG,
	 .swap_pages = (256UL << 20) / PG,
	 .rounds = 3,
	 .warmup = 1,
	 .sides = 3};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("cowbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	kern_swap_off();
	exit(2);
}

static void check(int err, const char *what)
{
	if (err)
		die("%s: %s", what, err < 0 ? cow_strerror(err) : strerror(err));
}

/* ---- the cowlab side: one system for the whole run ------------------------------ */

static struct cow_system *sys;
static struct cow_process *proc;
static struct cow_task *task;

static void cow_setup(void)
{
	struct cow_system_opts o = {
		/* COW needs the working set twice, plus tables and slack. */
		.frames = 2 * cfg.pages + cfg.pages / 64 + 4096,
		.cpus = 2,
		.policy = "linux-6.5",
		.swap_slots = cfg.swap_pages + 1024,
	};

	check(cow_system_create(&o, &sys), "cow_system_create");
	check(cow_process_create(sys, "bench", &proc), "cow_process_create");
	check(cow_task_create(proc, 0, &task), "cow_task_create");
	/* The pool is the machine's physical memory: write all of it once
	 * now, not in the first rounds (MADV_POPULATE_WRITE alone left the
	 * first write of each frame slow on a virtual machine). */
	madvise(sys->pool->mem, frame_pool_size(sys->pool) * PG, MADV_POPULATE_WRITE);
	memset(sys->pool->mem, 0, frame_pool_size(sys->pool) * PG);
	/* The kernel's side forks this process: the pool is cowlab's machine,
	 * not part of the set a fork or exit is measured on, so no child of
	 * the host's side may inherit it (see hfork_check). */
	if (madvise(sys->pool->mem, frame_pool_size(sys->pool) * PG, MADV_DONTFORK) != 0)
		die("MADV_DONTFORK: %s", strerror(errno));
}

static unsigned long cmap(struct cow_task *t, unsigned long pages)
{
	unsigned long a;

	check(cow_mmap(t, 0, pages * PG, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE, &a),
	      "cow_mmap");
	return a;
}

static void cpopulate(struct cow_task *t, unsigned long a, unsigned long pages)
{
	check(cow_madvise(t, a, pages * PG, COW_MADV_POPULATE_WRITE), "cow populate");
}

/* A mapping of pages pages, every page written (faulted in). */
static unsigned long cmap_written(struct cow_task *t, unsigned long pages)
{
	unsigned long a = cmap(t, pages);

	cpopulate(t, a, pages);
	return a;
}

static void cunmap(struct cow_task *t, unsigned long a, unsigned long pages)
{
	check(cow_munmap(t, a, pages * PG), "cow_munmap");
}

/* One byte written in each page: a write fault per page. */
static void ctouch(struct cow_task *t, unsigned long a, unsigned long pages, char v)
{
	for (unsigned long i = 0; i < pages; i++)
		check(cow_write(t, a + i * PG, &v, 1), "cow_write");
}

static void cread_each(struct cow_task *t, unsigned long a, unsigned long pages)
{
	char v;

	for (unsigned long i = 0; i < pages; i++)
		check(cow_read(t, a + i * PG, &v, 1), "cow_read");
}

/* ---- the host side --------------------------------------------------------------- */

static char *hmap(unsigned long pages)
{
	char *p =
		mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	madvise(p, pages * PG, MADV_NOHUGEPAGE);
	return p;
}

static void hpopulate(char *p, unsigned long pages)
{
	if (madvise(p, pages * PG, MADV_POPULATE_WRITE) != 0)
		die("MADV_POPULATE_WRITE: %s", strerror(errno));
}

static char *hmap_written(unsigned long pages)
{
	char *p = hmap(pages);

	hpopulate(p, pages);
	return p;
}

static void htouch(char *p, unsigned long pages, char v)
{
	for (unsigned long i = 0; i < pages; i++)
		((volatile char *)p)[i * PG] = v;
}

static void hread_each(const char *p, unsigned long pages)
{
	for (unsigned long i = 0; i < pages; i++)
		(void)((const volatile char *)p)[i * PG];
}

/* The calling process's page-table bytes (VmPTE), in KiB, or -1. */
static long host_vmpte_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPTE: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* A host child's page tables must be those of the set being measured
 * (cfg.pages, 8 bytes of PTE each) and little more: not cowlab's frame
 * pool (twice the set) or the limits' buffers (as large as the set each),
 * which are MADV_DONTFORK.  slack covers the rest of the process: about
 * 60 KiB of heap, stacks and libraries, and cowlab's struct pages (64
 * bytes a frame: 1/32 of the set's PTEs); anything the size of the pool
 * or a limit buffer is well past it. */
static void hfork_check(long child_kib)
{
	long want = (long)(cfg.pages * 8 / 1024), slack = 128 + want / 8;

	if (child_kib < 0)
		return; /* no VmPTE on this kernel: nothing to hold it against */
	if (child_kib > want + slack)
		die("a forked child has %ld KiB of page tables, the measured set needs %ld: "
		    "the host's side would fork more than the set",
		    child_kib, want);
}

/* A child that holds the parent's memory until told to go (a byte on the
 * pipe, or the pipe's end), then exits.  It reports its VmPTE first, which
 * hrelease checks (outside any timed region). */
static pid_t hfork_holder(int *go_fd)
{
	int fds[2], report[2];
	pid_t pid;

	if (pipe(fds) != 0 || pipe(report) != 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		long kib = host_vmpte_kib();
		char c;

		close(fds[1]);
		close(report[0]);
		(void)!write(report[1], &kib, sizeof(kib));
		(void)!read(fds[0], &c, 1);
		_exit(0);
	}
	close(fds[0]);
	close(report[1]);
	go_fd[0] = fds[1];
	go_fd[1] = report[0];
	return pid;
}

static void hrelease(pid_t pid, const int *go_fd)
{
	long kib = -1;

	if (read(go_fd[1], &kib, sizeof(kib)) != (ssize_t)sizeof(kib))
		die("a forked child died before it reported");
	close(go_fd[1]);
	close(go_fd[0]);
	waitpid(pid, NULL, 0);
	hfork_check(kib);
}

/* ---- two threads ------------------------------------------------------------------ */

struct half {
	struct cow_task *t; /* cowlab, or NULL for the host */
	char *p;
	unsigned long a, pages;
};

static void touch_half(void *arg)
{
	struct half *h = arg;

	if (h->t)
		ctouch(h->t, h->a, h->pages, 1);
	else
		htouch(h->p, h->pages, 1);
}

static void *touch_half_pthread(void *arg)
{
	touch_half(arg);
	return NULL;
}

/* ---- the benchmarks ----------------------------------------------------------------
 * A round function does its set-up, times the operation and cleans up;
 * it returns the seconds the operation took, on cowlab or on the host's
 * kernel.  The third side of a benchmark is its physical limit (memset
 * or memcpy of the same number of pages). */

enum side { COWLAB, KERNEL, LIMIT, NR_SIDES };

static double b_populate(enum side s)
{
	double t0, t;

	if (s == COWLAB) {
		unsigned long a = cmap(task, cfg.pages);

		t0 = now();
		cpopulate(task, a, cfg.pages);
		t = now() - t0;
		cunmap(task, a, cfg.pages);
	} else {
		char *p = hmap(cfg.pages);

		t0 = now();
		hpopulate(p, cfg.pages);
		t = now() - t0;
		munmap(p, cfg.pages * PG);
	}
	return t;
}

static double b_touch(enum side s)
{
	double t0, t;

	if (s == COWLAB) {
		unsigned long a = cmap(task, cfg.pages);

		t0 = now();
		ctouch(task, a, cfg.pages, 1);
		t = now() - t0;
		cunmap(task, a, cfg.pages);
	} else {
		char *p = hmap(cfg.pages);

		t0 = now();
		htouch(p, cfg.pages, 1);
		t = now() - t0;
		munmap(p, cfg.pages * PG);
	}
	return t;
}

static double b_touch2(enum side s)
{
	unsigned long half = cfg.pages / 2;
	struct half h[2];
	double t0, t;

	if (s == COWLAB) {
		struct cow_task *t1;
		struct sync_thread *th[2];
		unsigned long a = cmap(task, cfg.pages);

		check(cow_task_create(proc, 1, &t1), "cow_task_create");
		h[0] = (struct half){task, NULL, a, half};
		h[1] = (struct half){t1, NULL, a + half * PG, half};
		t0 = now();
		for (int i = 0; i < 2; i++)
			th[i] = sync_thread_start(i, touch_half, &h[i]);
		for (int i = 0; i < 2; i++)
			sync_thread_join(th[i]);
		t = now() - t0;
		cow_task_destroy(t1);
		cunmap(task, a, cfg.pages);
	} else {
		pthread_t th[2];
		char *p = hmap(cfg.pages);

		h[0] = (struct half){NULL, p, 0, half};
		h[1] = (struct half){NULL, p + half * PG, 0, half};
		t0 = now();
		for (int i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, touch_half_pthread, &h[i]);
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		t = now() - t0;
		munmap(p, cfg.pages * PG);
	}
	return t;
}

static double b_munmap(enum side s)
{
	double t0;

	if (s == COWLAB) {
		unsigned long a = cmap_written(task, cfg.pages);

		t0 = now();
		cunmap(task, a, cfg.pages);
	} else {
		char *p = hmap_written(cfg.pages);

		t0 = now();
		munmap(p, cfg.pages * PG);
	}
	return now() - t0;
}

static double b_dontneed(enum side s)
{
	double t0, t;

	if (s == COWLAB) {
		unsigned long a = cmap_written(task, cfg.pages);

		t0 = now();
		check(cow_madvise(task, a, cfg.pages * PG, COW_MADV_DONTNEED), "MADV_DONTNEED");
		t = now() - t0;
		cunmap(task, a, cfg.pages);
	} else {
		char *p = hmap_written(cfg.pages);

		t0 = now();
		madvise(p, cfg.pages * PG, MADV_DONTNEED);
		t = now() - t0;
		munmap(p, cfg.pages * PG);
	}
	return t;
}

/* fork of a process with the working set written: the first fork (it
 * write-protects every PTE) or a repeated one (the set was forked
 * before). */
static double fork_round(enum side s, bool repeated)
{
	double t0, t;

	if (s == COWLAB) {
		struct cow_process *child;
		unsigned long a = cmap_written(task, cfg.pages);

		if (repeated) {
			check(cow_fork(task, "child", &child), "cow_fork");
			cow_process_exit(child);
		}
		t0 = now();
		check(cow_fork(task, "child", &child), "cow_fork");
		t = now() - t0;
		cow_process_exit(child);
		cunmap(task, a, cfg.pages);
	} else {
		char *p = hmap_written(cfg.pages);
		int go[2];
		pid_t pid;

		if (repeated) {
			pid = hfork_holder(go);
			hrelease(pid, go);
		}
		t0 = now();
		pid = hfork_holder(go);
		t = now() - t0;
		hrelease(pid, go);
		munmap(p, cfg.pages * PG);
	}
	return t;
}

static double b_fork_first(enum side s)
{
	return fork_round(s, false);
}

static double b_fork_repeat(enum side s)
{
	return fork_round(s, true);
}

/* Why a round could not run, when it returns -1. */
static char round_skip[200];

/* ---- transparent huge pages ------------------------------------------------------- */

#define HPAGE_PAGES 512UL /* 4 KiB pages in a 2 MiB huge page */

/* The working set in whole huge pages (at least one). */
static unsigned long thp_set(void)
{
	unsigned long n = cfg.pages / HPAGE_PAGES * HPAGE_PAGES;

	return n ? n : HPAGE_PAGES;
}

/* cowlab: a mapping that asks for huge pages (2 MiB-aligned). */
static unsigned long cmap_thp(struct cow_task *t, unsigned long pages)
{
	unsigned long a;

	check(cow_mmap(t, 0, pages * PG, COW_PROT_READ | COW_PROT_WRITE,
		       COW_MAP_PRIVATE | COW_MAP_THP, &a),
	      "cow_mmap thp");
	return a;
}

/* A store to the first byte of each 2 MiB: a huge-page fault each, the
 * whole 2 MiB zeroed. */
static void ctouch_huge(struct cow_task *t, unsigned long a, unsigned long pages)
{
	char v = 1;

	for (unsigned long i = 0; i < pages; i += HPAGE_PAGES)
		check(cow_write(t, a + i * PG, &v, 1), "cow_write");
}

static void htouch_huge(char *p, unsigned long pages)
{
	for (unsigned long i = 0; i < pages; i += HPAGE_PAGES)
		((volatile char *)p)[i * PG] = 1;
}

/* Is every 2 MiB of the mapping a huge PMD?  The sides must do the same
 * work: a side that fell back to small pages did other work. */
static void chuge_check(struct cow_task *t, unsigned long a, unsigned long pages)
{
	for (unsigned long i = 0; i < pages; i += HPAGE_PAGES)
		if (!(cow_page_state(t, a + i * PG) & COW_PAGE_HUGE))
			die("cowlab mapped small pages at 2 MiB %lu of the set: its frame pool "
			    "has no aligned block of 512 free frames left",
			    i / HPAGE_PAGES);
}

/* 1 if every 2 MiB of the host's mapping at p is a huge PMD (smaps'
 * AnonHugePages), else 0 with the reason in round_skip. */
static int hhuge(char *p, unsigned long pages)
{
	struct vma_thp v;

	if (kern_smaps_thp((unsigned long)p, &v) != 0) {
		snprintf(round_skip, sizeof(round_skip),
			 "skip: /proc/self/smaps shows no AnonHugePages");
		return 0;
	}
	if (v.pmd_bytes >= pages * PG)
		return 1;
	snprintf(round_skip, sizeof(round_skip),
		 "skip: the host gave huge pages for %lu of %lu KiB (free memory too fragmented, "
		 "or a "
		 "THP defrag setting that does not compact on fault): not the same work",
		 v.pmd_bytes / 1024, pages * PG / 1024);
	return 0;
}

/* The host: pages pages at a 2 MiB-aligned address with MADV_HUGEPAGE,
 * in a mapping from *base of *len bytes; NULL with the reason in
 * round_skip when the host gives no huge pages. */
static char *hmap_thp(unsigned long pages, char **base, size_t *len)
{
	const char *no = kern_thp_unavailable();
	char *m, *p;

	if (no) {
		snprintf(round_skip, sizeof(round_skip), "skip: %s", no);
		return NULL;
	}
	*len = (pages + HPAGE_PAGES) * PG;
	m = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	p = (char *)(((unsigned long)m + HPAGE_PAGES * PG - 1) & ~(HPAGE_PAGES * PG - 1));
	if (madvise(p, pages * PG, MADV_HUGEPAGE) != 0) {
		snprintf(round_skip, sizeof(round_skip), "skip: MADV_HUGEPAGE: %s",
			 strerror(errno));
		munmap(m, *len);
		return NULL;
	}
	*base = m;
	return p;
}

/* Huge-page write faults: a store to each 2 MiB of a fresh set, each
 * fault zeroing 2 MiB and mapping it by one PMD. */
static double b_thp_touch(enum side s)
{
	unsigned long n = thp_set();
	double t0, t;

	if (s == COWLAB) {
		unsigned long a = cmap_thp(task, n);

		t0 = now();
		ctouch_huge(task, a, n);
		t = now() - t0;
		chuge_check(task, a, n);
		cunmap(task, a, n);
	} else {
		char *base, *p;
		size_t len;

		p = hmap_thp(n, &base, &len);
		if (!p)
			return -1;
		t0 = now();
		htouch_huge(p, n);
		t = now() - t0;
		if (!hhuge(p, n))
			t = -1;
		munmap(base, len);
	}
	return t;
}

/* fork of a process whose set is huge pages, written: one huge PMD
 * shared and write-protected per 2 MiB. */
static double b_thp_fork(enum side s)
{
	unsigned long n = thp_set();
	double t0, t;

	if (s == COWLAB) {
		struct cow_process *child;
		unsigned long a = cmap_thp(task, n);

		ctouch_huge(task, a, n);
		chuge_check(task, a, n);
		t0 = now();
		check(cow_fork(task, "child", &child), "cow_fork");
		t = now() - t0;
		cow_process_exit(child);
		cunmap(task, a, n);
	} else {
		char *base, *p;
		size_t len;
		int go[2];
		pid_t pid;

		p = hmap_thp(n, &base, &len);
		if (!p)
			return -1;
		htouch_huge(p, n);
		if (!hhuge(p, n)) {
			munmap(base, len);
			return -1;
		}
		t0 = now();
		pid = hfork_holder(go);
		t = now() - t0;
		hrelease(pid, go);
		munmap(base, len);
	}
	return t;
}

/* Exit of a process that owns the working set. */
static double b_exit(enum side s)
{
	double t0;

	if (s == COWLAB) {
		struct cow_process *q;
		struct cow_task *qt;

		check(cow_process_create(sys, "exiting", &q), "cow_process_create");
		check(cow_task_create(q, 0, &qt), "cow_task_create");
		cmap_written(qt, cfg.pages);
		cow_task_destroy(qt);
		t0 = now();
		cow_process_exit(q);
	} else {
		int ready[2], go[2];
		pid_t pid;
		char c = 0;

		if (pipe(ready) != 0 || pipe(go) != 0)
			die("pipe: %s", strerror(errno));
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			long kib;

			hmap_written(cfg.pages);
			kib = host_vmpte_kib();
			(void)!write(ready[1], &kib, sizeof(kib));
			(void)!read(go[0], &c, 1);
			_exit(0);
		}
		{
			long kib;

			if (read(ready[0], &kib, sizeof(kib)) != (ssize_t)sizeof(kib))
				die("the exiting child died");
			hfork_check(kib);
		}
		t0 = now();
		(void)!write(go[1], &c, 1);
		waitpid(pid, NULL, 0);
		close(ready[0]);
		close(ready[1]);
		close(go[0]);
		close(go[1]);
	}
	return now() - t0;
}

/* Write faults that copy: the parent writes each page while a child
 * still maps them all. */
static double b_cow(enum side s)
{
	double t0, t;

	if (s == COWLAB) {
		struct cow_process *child;
		unsigned long a = cmap_written(task, cfg.pages);

		check(cow_fork(task, "child", &child), "cow_fork");
		t0 = now();
		ctouch(task, a, cfg.pages, 2);
		t = now() - t0;
		cow_process_exit(child);
		cunmap(task, a, cfg.pages);
	} else {
		char *p = hmap_written(cfg.pages);
		int go[2];
		pid_t pid;

		pid = hfork_holder(go);
		t0 = now();
		htouch(p, cfg.pages, 2);
		t = now() - t0;
		hrelease(pid, go);
		munmap(p, cfg.pages * PG);
	}
	return t;
}

/* Long-term pins of the written working set: cowlab's GUP (gup-fast or
 * the slow path) against the host's io_uring buffer registration, which
 * pins with pin_user_pages_fast(FOLL_LONGTERM) and then does more than a
 * pin: the long-term checks, memlock accounting and a bvec table per page.
 * It is the closest the kernel's pinning comes to user space without the
 * gup_test debugfs module (CONFIG_GUP_TEST, absent on the machines this
 * runs on); direct I/O and vmsplice pin too, but add the I/O, or hold at
 * most a pipe's few pages.  So the row compares like for like only in
 * what is pinned, and says so. */
static double pin_round(enum side s, unsigned int fast)
{
	double t0, t;

	if (s == COWLAB) {
		struct cow_pages *pages;
		unsigned long a = cmap_written(task, cfg.pages);

		t0 = now();
		check(cow_gup(task, a, cfg.pages * PG,
			      COW_GUP_WRITE | COW_GUP_PIN | COW_GUP_LONGTERM | fast, &pages),
		      "cow_gup");
		t = now() - t0;
		cow_pages_release(pages);
		cunmap(task, a, cfg.pages);
	} else {
		struct io_uring ring;
		struct iovec iov;
		char *p = hmap(cfg.pages);
		int err;

		hpopulate(p, cfg.pages);
		check(-io_uring_queue_init(4, &ring, 0), "io_uring_queue_init");
		iov.iov_base = p;
		iov.iov_len = cfg.pages * PG;
		t0 = now();
		err = io_uring_register_buffers(&ring, &iov, 1);
		t = now() - t0;
		if (err) {
			/* Without root, RLIMIT_MEMLOCK may refuse 1 GiB. */
			snprintf(round_skip, sizeof(round_skip),
				 "skip: io_uring_register_buffers: %s", strerror(-err));
			t = -1;
		} else {
			io_uring_unregister_buffers(&ring);
		}
		io_uring_queue_exit(&ring);
		munmap(p, cfg.pages * PG);
	}
	return t;
}

static double b_pin_fast(enum side s)
{
	return pin_round(s, COW_GUP_FAST);
}

static double b_pin_slow(enum side s)
{
	return pin_round(s, 0);
}

/* Swap: out (MADV_PAGEOUT, through the rmap, written to the swap file)
 * and back in (a read of each page). */
static bool host_swap;
static char host_swap_why[256];

/* A counter of /proc/vmstat, or -1. */
static long vmstat(const char *key)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char name[64];
	long v, found = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", name, &v) == 2)
		if (strcmp(name, key) == 0) {
			found = v;
			break;
		}
	fclose(f);
	return found;
}

/* The pages the host's swap device moved in the last kernel round
 * (pswpout for a swap-out, pswpin for a swap-in), or -1 if unknown. */
static long round_io;

/* MADV_PAGEOUT only submits the writes: wait until the pages under
 * writeback are back to what they were, so that the kernel's swap-out is
 * timed to the end of its I/O, as cowlab's (synchronous) one is.  At most
 * ten seconds. */
static void wait_writeback(long before)
{
	double until = now() + 10;

	while (vmstat("nr_writeback") > before && now() < until)
		usleep(50);
}

/* The folder of a memory cgroup (cgroup v1) of its own for process pid,
 * below the caller's: "" where there is none to be had. */
static void memcg_dir(pid_t pid, char *dir, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[512];

	dir[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *m = strstr(line, ":memory:");

		if (m) {
			m[strcspn(m, "\n")] = '\0';
			snprintf(dir, len, "/sys/fs/cgroup/memory%s/cowbench-%d",
				 strcmp(m + 8, "/") == 0 ? "" : m + 8, (int)pid);
			break;
		}
	}
	fclose(f);
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[600];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* The kernel's swap-in with real reads: MADV_PAGEOUT leaves the written
 * pages in the swap cache, and a read would find them there.  A child in
 * a memory cgroup of its own writes the set out, waits for the writeback,
 * then empties its cgroup (memory.force_empty: reclaim drops the clean
 * swap-cache pages) and times its reads, which now come from the device.
 * Returns the seconds, or -1 where no such cgroup can be made (not root,
 * no cgroup v1 memory controller): then the caller swaps in as before and
 * the row says how much I/O it did. */
static double swapin_from_device(unsigned long n)
{
	struct {
		double t;
		long io;
	} res = {-1, -1};
	char dir[512];
	int fds[2];
	pid_t pid;

	if (pipe(fds) != 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		char me[32];

		close(fds[0]);
		memcg_dir(getpid(), dir, sizeof(dir));
		snprintf(me, sizeof(me), "%d\n", (int)getpid());
		if (dir[0] && mkdir(dir, 0755) == 0 && write_file(dir, "cgroup.procs", me) == 0) {
			char *p = hmap(n);
			long wb = vmstat("nr_writeback"), back;
			double t0;

			htouch(p, n, 3);
			if (madvise(p, n * PG, MADV_PAGEOUT) != 0)
				_exit(1);
			wait_writeback(wb);
			if (write_file(dir, "memory.force_empty", "0\n") == 0) {
				back = vmstat("pswpin");
				t0 = now();
				hread_each(p, n);
				res.t = now() - t0;
				res.io = back < 0 ? -1 : vmstat("pswpin") - back;
			}
		}
		(void)!write(fds[1], &res, sizeof(res));
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &res, sizeof(res)) != (ssize_t)sizeof(res))
		res.t = -1;
	close(fds[0]);
	waitpid(pid, NULL, 0);
	memcg_dir(pid, dir, sizeof(dir));
	if (dir[0])
		rmdir(dir);
	round_io = res.io;
	return res.t;
}

static double swap_round(enum side s, bool in)
{
	unsigned long n = cfg.swap_pages;
	double t0, t = 0;

	if (s == COWLAB) {
		unsigned long a = cmap(task, n);

		ctouch(task, a, n, 3);
		t0 = now();
		check(cow_swapout(task, a, n * PG), "cow_swapout");
		t = now() - t0;
		if (in) {
			t0 = now();
			cread_each(task, a, n);
			t = now() - t0;
		}
		cunmap(task, a, n);
	} else {
		char *p;
		long wb = vmstat("nr_writeback"), out = vmstat("pswpout"), back;

		if (in && (t = swapin_from_device(n)) >= 0)
			return t;
		p = hmap(n);
		htouch(p, n, 3);
		t0 = now();
		if (madvise(p, n * PG, MADV_PAGEOUT) != 0)
			die("MADV_PAGEOUT: %s", strerror(errno));
		wait_writeback(wb);
		t = now() - t0;
		round_io = out < 0 ? -1 : vmstat("pswpout") - out;
		if (in) {
			back = vmstat("pswpin");
			t0 = now();
			hread_each(p, n);
			t = now() - t0;
			round_io = back < 0 ? -1 : vmstat("pswpin") - back;
		}
		munmap(p, n * PG);
	}
	return t;
}

static double b_swapout(enum side s)
{
	return swap_round(s, false);
}

static double b_swapin(enum side s)
{
	return swap_round(s, true);
}

/* The physical limits: zeroing and copying 4 KiB pages, one page at a
 * time, on host memory faulted in beforehand, with the loops cowlab's
 * own clear_page() and copy_page() use (on the development machine they
 * matched or beat glibc's memset and memcpy, and beat the string
 * instructions a constant-size memset or memcpy compiles to). */
static char *limit_a, *limit_b;

static double b_memset(enum side s)
{
	double t0;

	(void)s;
	t0 = now();
	for (unsigned long i = 0; i < cfg.pages; i++)
		clear_page(limit_a + i * PG);
	return now() - t0;
}

static double b_memcpy(enum side s)
{
	double t0;

	(void)s;
	t0 = now();
	for (unsigned long i = 0; i < cfg.pages; i++)
		copy_page(limit_b + i * PG, limit_a + i * PG);
	return now() - t0;
}

/* TLB hits: 8-byte loads from 64 pages already in the task's TLB, a
 * million of them a round (the work counts accesses, not pages). */
#define TLB_HIT_ACCESSES 1000000

static double b_tlbhit(enum side s)
{
	unsigned long a = cmap(task, 64);
	double t0, t;
	long v;

	(void)s;
	cpopulate(task, a, 64);
	cread_each(task, a, 64);
	t0 = now();
	for (long i = 0; i < TLB_HIT_ACCESSES; i++)
		check(cow_read(task, a + (unsigned long)(i & 63) * PG, &v, sizeof(v)), "cow_read");
	t = now() - t0;
	cunmap(task, a, 64);
	return t;
}

/* The explorer: runs of the two-task, ~100-step program in one second. */
static double explorer_runs;

static double b_explore(enum side s)
{
	struct explore_opts o = {.algo = SCHED_RANDOM, .seed = 1, .time = 1.0};
	struct explore_result r;
	double t0 = now();

	(void)s;
	check(explore_run_search(&demo_two_cpus_100, NULL, &o, &r), "explore");
	explorer_runs = (double)r.runs;
	return now() - t0;
}

/* ---- the harness ---------------------------------------------------------------- */

struct bench {
	const char *name;
	const char *what;
	double (*round)(enum side);
	bool kernel;		    /* has a host side */
	double (*limit)(enum side); /* b_memset, b_memcpy or NULL */
	bool swap;		    /* works on the swap set and needs host swap */
	int rounds;		    /* 0: cfg.rounds */
	double work;		    /* pages per round (set at run time) */
	const char *unit;	    /* what the rate counts */
	double rate[NR_SIDES][3];   /* [side][median, min, max] */
	bool done[NR_SIDES];
	char skip[300]; /* why the kernel side did not run */
	/* Swap rows: the pages the host's device moved over the kernel's
	 * timed rounds (-1 unknown), and the pages those rounds asked for. */
	long io, io_want;
};

static struct bench benches[] = {
	{"populate", "anonymous write faults: MADV_POPULATE_WRITE", b_populate, true, b_memset},
	{"touch", "anonymous write faults: a store to each page", b_touch, true, b_memset},
	{"touch-2t", "anonymous write faults: 2 threads, a half each", b_touch2, true, b_memset},
	{"fork-first", "fork of a process with the set written, first fork", b_fork_first, true},
	{"fork-repeat", "fork of a process with the set written, repeated fork", b_fork_repeat,
	 true},
	{"exit", "exit of a process owning the set", b_exit, true},
	{"munmap", "munmap of the written set", b_munmap, true},
	{"dontneed", "MADV_DONTNEED of the written set", b_dontneed, true},
	{"cow", "COW copy faults: parent writes while a child maps all", b_cow, true, b_memcpy},
	{"pin-fast",
	 "long-term pin: cowlab gup-fast vs the kernel's io_uring buffer registration "
	 "(pin_user_pages_fast plus long-term checks, accounting, a bvec table: not the same work)",
	 b_pin_fast, true},
	{"pin-slow",
	 "long-term pin: cowlab slow GUP vs the kernel's io_uring buffer registration (not the "
	 "same work)",
	 b_pin_slow, true},
	{"swapout",
	 "swap-out to the swap file (kernel: MADV_PAGEOUT, then its writeback waited for)",
	 b_swapout, true, NULL, true, 3},
	{"swapin",
	 "swap-in: a read of each swapped page (kernel: in a memory cgroup emptied first, so that "
	 "the reads reach the device)",
	 b_swapin, true, NULL, true, 3},
	{"thp-touch",
	 "huge-page write faults: a store to each 2 MiB of a MADV_HUGEPAGE set (each zeroes "
	 "2 MiB)",
	 b_thp_touch, true},
	{"thp-fork", "fork of a process with the set written as huge pages", b_thp_fork, true},
	{"tlb-hit", "an 8-byte load that hits the software TLB", b_tlbhit, false},
	{"explore", "explorer: two tasks, ~100 steps, random, one core", b_explore, false, NULL,
	 false, 3},
};
#define NR_BENCHES (sizeof(benches) / sizeof(benches[0]))

static struct bench *find_bench(const char *name)
{
	for (size_t i = 0; i < NR_BENCHES; i++)
		if (strcmp(benches[i].name, name) == 0)
			return &benches[i];
	return NULL;
}

static bool selected(const struct bench *b)
{
	const char *p = cfg.only;
	size_t n = strlen(b->name);

	if (!p)
		return true;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == n && strncmp(p, b->name, n) == 0)
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static const char *const side_name[NR_SIDES] = {"cowlab", "kernel", "limit"};

/* One round of side s; its rate. */
/* One round of side s: its rate, or -1 if the side cannot run here. */
static double one_round(struct bench *b, enum side s)
{
	double t = s == LIMIT ? b->limit(s) : b->round(s);
	double work = b->round == b_explore && s == COWLAB ? explorer_runs : b->work;

	if (t < 0)
		return -1;
	return t > 0 ? work / t : 0;
}

/* cowlab and its limit take turns, round by round, so that a slow spell
 * of the machine falls on both alike.  The kernel's rounds come after
 * them: on a virtual machine the host kernel's fresh memory costs the
 * hypervisor's faults, and interleaved with them cowlab's and the limit's
 * long-lived memory turned cold too (docs/performance.md). */
static void run_bench(struct bench *b, bool want[NR_SIDES])
{
	static const enum side order[][2] = {{COWLAB, LIMIT}, {KERNEL, KERNEL}};
	int rounds = b->rounds && b->rounds < cfg.rounds ? b->rounds : cfg.rounds;
	double rates[NR_SIDES][MAX_ROUNDS];

	for (size_t g = 0; g < sizeof(order) / sizeof(order[0]); g++)
		for (int i = 0; i < cfg.warmup + rounds; i++)
			for (int k = 0; k < (order[g][0] == order[g][1] ? 1 : 2); k++) {
				enum side s = order[g][k];
				double r;

				if (!want[s])
					continue;
				round_io = -1;
				r = one_round(b, s);
				if (b->swap && s == KERNEL && i >= cfg.warmup && r >= 0) {
					b->io = round_io < 0 || b->io < 0 ? -1 : b->io + round_io;
					b->io_want += (long)b->work;
				}
				if (r < 0) { /* only the kernel's side can refuse */
					snprintf(b->skip, sizeof(b->skip), "%s", round_skip);
					want[s] = false;
				} else if (i >= cfg.warmup) {
					rates[s][i - cfg.warmup] = r;
				}
			}
	for (int s = 0; s < NR_SIDES; s++) {
		if (!want[s])
			continue;
		qsort(rates[s], (size_t)rounds, sizeof(double), cmp_double);
		b->rate[s][0] = rounds % 2 ? rates[s][rounds / 2]
					   : (rates[s][rounds / 2 - 1] + rates[s][rounds / 2]) / 2;
		b->rate[s][1] = rates[s][0];
		b->rate[s][2] = rates[s][rounds - 1];
		b->done[s] = true;
		fprintf(stderr, "  %-12s %-7s %14.0f %s (min %.0f, max %.0f)\n", b->name,
			side_name[s], b->rate[s][0], b->unit, b->rate[s][1], b->rate[s][2]);
	}
}

/* ---- memory --------------------------------------------------------------------- */

static struct {
	unsigned long page_bytes;		/* sizeof(struct page) */
	double cow_pt_per_gib, host_pt_per_gib; /* page-table bytes per mapped GiB */
} mem;

/* Page-table bytes per mapped GiB: the tables below the PGD of a fresh
 * process that has written the set (Linux's VmPTE counts the same: PTE,
 * PMD and PUD tables), and the growth of the host's VmPTE. */
static void measure_memory(void)
{
	struct cow_process *q;
	struct cow_task *qt;
	double scale = (double)(1UL << 30) / (double)(cfg.pages * PG);
	long k0, k1;
	char *p;

	mem.page_bytes = sizeof(struct page);
	check(cow_process_create(sys, "tables", &q), "cow_process_create");
	check(cow_task_create(q, 0, &qt), "cow_task_create");
	cmap_written(qt, cfg.pages);
	mem.cow_pt_per_gib = (double)(atomic_long_read(&q->mm->pgt.nr_tables) - 1) * PG * scale;
	cow_task_destroy(qt);
	cow_process_exit(q);
	k0 = host_vmpte_kib();
	p = hmap_written(cfg.pages);
	k1 = host_vmpte_kib();
	munmap(p, cfg.pages * PG);
	mem.host_pt_per_gib = k0 < 0 || k1 < 0 ? -1 : (double)(k1 - k0) * 1024.0 * scale;
}

/* ---- reports -------------------------------------------------------------------- */

struct target {
	const char *what;
	const char *num, *den; /* benchmark names; den NULL: a fixed figure */
	enum side num_side, den_side;
	double need; /* the ratio (or figure) to reach */
};

static const struct target targets[] = {
	{"write faults (populate) >= kernel MADV_POPULATE_WRITE", "populate", "populate", COWLAB,
	 KERNEL, 1.0},
	{"write faults (populate) within 2x of memset", "populate", "populate", COWLAB, LIMIT, 0.5},
	{"write faults (touch) within 2x of memset", "touch", "touch", COWLAB, LIMIT, 0.5},
	{"fork, first, >= kernel repeated fork", "fork-first", "fork-repeat", COWLAB, KERNEL, 1.0},
	{"fork, repeated, >= kernel repeated fork", "fork-repeat", "fork-repeat", COWLAB, KERNEL,
	 1.0},
	{"exit >= kernel exit", "exit", "exit", COWLAB, KERNEL, 1.0},
	{"COW copy faults within 2x of memcpy", "cow", "cow", COWLAB, LIMIT, 0.5},
	{"gup-fast pins >= kernel io_uring registration (not the same work)", "pin-fast",
	 "pin-fast", COWLAB, KERNEL, 1.0},
	{"explorer >= 50,000 runs/s per core", "explore", NULL, COWLAB, COWLAB, 50000},
};
#define NR_TARGETS (sizeof(targets) / sizeof(targets[0]))

/* The ratio (or figure) a target asks about, or -1 when a side did not
 * run. */
static double target_value(const struct target *t)
{
	struct bench *n = find_bench(t->num), *d = t->den ? find_bench(t->den) : NULL;

	if (!n->done[t->num_side] || (d && !d->done[t->den_side]))
		return -1;
	if (!d)
		return n->rate[t->num_side][0];
	return n->rate[t->num_side][0] / d->rate[t->den_side][0];
}

/* "median (min-max)" of a side, or "-". */
static const char *cell(const struct bench *b, enum side s, char *buf, size_t len)
{
	if (!b->done[s])
		return "-";
	snprintf(buf, len, "%.0f (%.0f-%.0f)", b->rate[s][0], b->rate[s][1], b->rate[s][2]);
	return buf;
}

static const char *ratio(const struct bench *b, enum side s, char *buf, size_t len)
{
	if (!b->done[COWLAB] || !b->done[s])
		return "-";
	snprintf(buf, len, "%.2f", b->rate[COWLAB][0] / b->rate[s][0]);
	return buf;
}

static void write_markdown(FILE *f)
{
	char c0[64], c1[64], c2[64], r1[16], r2[16];

	fprintf(f,
		"## cowlab against the host kernel (%lu MiB, swap %lu MiB, %d rounds after %d "
		"warm-up)\n\n",
		cfg.pages * PG >> 20, cfg.swap_pages * PG >> 20, cfg.rounds, cfg.warmup);
	fprintf(f, "Rates per second, median (min-max) over the rounds; the limit is memset or "
		   "memcpy of as many 4 KiB pages, measured in the same rounds.\n\n");
	fprintf(f, "| benchmark | what | unit | cowlab | kernel | limit | cowlab/kernel | "
		   "cowlab/limit |\n");
	fprintf(f, "|---|---|---|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < NR_BENCHES; i++) {
		struct bench *b = &benches[i];

		if (!b->done[COWLAB] && !b->done[KERNEL])
			continue;
		fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", b->name, b->what, b->unit,
			cell(b, COWLAB, c0, sizeof(c0)),
			b->skip[0] ? b->skip : cell(b, KERNEL, c1, sizeof(c1)),
			cell(b, LIMIT, c2, sizeof(c2)), ratio(b, KERNEL, r1, sizeof(r1)),
			ratio(b, LIMIT, r2, sizeof(r2)));
	}
	for (size_t i = 0; i < NR_BENCHES; i++) {
		const struct bench *b = &benches[i];

		if (!b->swap || !b->done[KERNEL])
			continue;
		if (b->io < 0)
			fprintf(f,
				"\n%s: the host's swap counters could not be read; whether the "
				"kernel's rounds did their I/O is unknown.\n",
				b->name);
		else
			fprintf(f,
				"\n%s: the kernel's timed rounds %s %ld of the %ld pages %s the "
				"swap "
				"device (%s)%s.\n",
				b->name, b->round == b_swapin ? "read" : "wrote", b->io, b->io_want,
				b->round == b_swapin ? "from" : "to",
				b->round == b_swapin ? "pswpin" : "pswpout",
				b->io >= b->io_want    ? ""
				: b->round == b_swapin ? ": the rest came from the swap cache, "
							 "without I/O, so this "
							 "row does not compare the same work"
						       : ": the rest was not written, so this row "
							 "does not compare the "
							 "same work");
	}
	fprintf(f, "\n## Targets\n\n| target | measured | needed | met |\n|---|---:|---:|---|\n");
	for (size_t i = 0; i < NR_TARGETS; i++) {
		double v = target_value(&targets[i]);

		if (v < 0)
			fprintf(f, "| %s | - | %.2f | not run |\n", targets[i].what,
				targets[i].need);
		else
			fprintf(f, "| %s | %.2f | %.2f | %s |\n", targets[i].what, v,
				targets[i].need, v >= targets[i].need ? "yes" : "NO");
	}
	fprintf(f, "\n## Memory\n\n| figure | cowlab | kernel |\n|---|---:|---:|\n");
	fprintf(f, "| struct page bytes per 4 KiB frame | %lu | 64 |\n", mem.page_bytes);
	fprintf(f, "| page-table bytes per mapped GiB | %.0f | %.0f |\n", mem.cow_pt_per_gib,
		mem.host_pt_per_gib);
}

static void json_side(FILE *f, const struct bench *b, enum side s)
{
	if (b->done[s])
		fprintf(f, ",\"%s\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f}", side_name[s],
			b->rate[s][0], b->rate[s][1], b->rate[s][2]);
}

static void write_json(FILE *f)
{
	bool first = true;

	fprintf(f, "{\"mib\":%lu,\"swap_mib\":%lu,\"rounds\":%d,\"warmup\":%d,\"benchmarks\":[",
		cfg.pages * PG >> 20, cfg.swap_pages * PG >> 20, cfg.rounds, cfg.warmup);
	for (size_t i = 0; i < NR_BENCHES; i++) {
		struct bench *b = &benches[i];

		if (!b->done[COWLAB] && !b->done[KERNEL])
			continue;
		fprintf(f, "%s\n{\"name\":\"%s\",\"unit\":\"%s\"", first ? "" : ",", b->name,
			b->unit);
		first = false;
		for (int s = 0; s < NR_SIDES; s++)
			json_side(f, b, (enum side)s);
		if (b->done[COWLAB] && b->done[KERNEL])
			fprintf(f, ",\"cowlab_per_kernel\":%.3f",
				b->rate[COWLAB][0] / b->rate[KERNEL][0]);
		if (b->done[COWLAB] && b->done[LIMIT])
			fprintf(f, ",\"cowlab_per_limit\":%.3f",
				b->rate[COWLAB][0] / b->rate[LIMIT][0]);
		if (b->skip[0])
			fprintf(f, ",\"kernel_skip\":\"%s\"", b->skip);
		if (b->swap && b->done[KERNEL])
			fprintf(f, ",\"kernel_io_pages\":%ld,\"kernel_io_wanted\":%ld", b->io,
				b->io_want);
		fputc('}', f);
	}
	fprintf(f, "],\n\"targets\":[");
	for (size_t i = 0; i < NR_TARGETS; i++) {
		double v = target_value(&targets[i]);

		fprintf(f, "%s\n{\"target\":\"%s\",\"need\":%.3f,", i ? "," : "", targets[i].what,
			targets[i].need);
		if (v < 0)
			fprintf(f, "\"value\":null,\"met\":null}");
		else
			fprintf(f, "\"value\":%.3f,\"met\":%s}", v,
				v >= targets[i].need ? "true" : "false");
	}
	fprintf(f,
		"],\n\"memory\":{\"struct_page_bytes\":%lu,\"cowlab_pt_bytes_per_gib\":%.0f,"
		"\"kernel_pt_bytes_per_gib\":%.0f}}\n",
		mem.page_bytes, mem.cow_pt_per_gib, mem.host_pt_per_gib);
}

static void on_signal(int sig)
{
	kern_swap_off();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: cowbench [--mib N] [--swap-mib N] [--rounds R] [--warmup W]\n"
		   "                [--only NAME[,NAME...]] [--side cowlab|kernel]\n"
		   "                [--json FILE] [--markdown FILE]\n"
		   "benchmarks:");
	for (size_t i = 0; i < NR_BENCHES; i++)
		fprintf(f, " %s", benches[i].name);
	fputc('\n', f);
}

static unsigned long parse_num(const char *opt, const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = s ? strtoul(s, &end, 10) : 0;
	if (!s || errno || *end || v < lo || v > hi)
		die("%s wants a number from %lu to %lu", opt, lo, hi);
	return v;
}

static FILE *open_out(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die("cannot write %s: %s", path, strerror(errno));
	return f;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--mib") == 0) {
			cfg.pages = parse_num(a, v, 16, 8192) << 20 >> 12;
		} else if (strcmp(a, "--swap-mib") == 0) {
			cfg.swap_pages = parse_num(a, v, 4, 4096) << 20 >> 12;
		} else if (strcmp(a, "--rounds") == 0) {
			cfg.rounds = (int)parse_num(a, v, 1, MAX_ROUNDS);
		} else if (strcmp(a, "--warmup") == 0) {
			cfg.warmup = (int)parse_num(a, v, 0, 100);
		} else if (strcmp(a, "--side") == 0 && v) {
			if (strcmp(v, "cowlab") == 0)
				cfg.sides = 1;
			else if (strcmp(v, "kernel") == 0)
				cfg.sides = 2;
			else
				die("--side wants cowlab or kernel");
		} else if (strcmp(a, "--only") == 0 && v) {
			cfg.only = v;
		} else if (strcmp(a, "--json") == 0 && v) {
			cfg.json = v;
		} else if (strcmp(a, "--markdown") == 0 && v) {
			cfg.markdown = v;
		} else {
			fprintf(stderr, "cowbench: unknown or incomplete option '%s'\n", a);
			usage(stderr);
			return 2;
		}
		i++;
	}
	for (const char *p = cfg.only; p && *p;) {
		size_t len = strcspn(p, ",");
		char name[32];

		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		if (!find_bench(name))
			die("no benchmark '%s' (--help lists them)", name);
		p += len + (p[len] == ',');
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	cow_setup();

	bool need_limits = false, need_swap = false;
	for (size_t i = 0; i < NR_BENCHES; i++) {
		struct bench *b = &benches[i];

		b->unit = b->round == b_explore	 ? "runs/s"
			  : b->round == b_tlbhit ? "loads/s"
						 : "pages/s";
		b->work = b->round == b_tlbhit ? TLB_HIT_ACCESSES
			  : b->round == b_thp_touch || b->round == b_thp_fork
				  ? (double)thp_set()
				  : (double)(b->swap ? cfg.swap_pages : cfg.pages);
		need_limits |= selected(b) && b->limit && (cfg.sides & 1);
		need_swap |= selected(b) && b->swap && (cfg.sides & 2);
	}
	if (need_limits) {
		limit_a = hmap_written(cfg.pages);
		limit_b = hmap_written(cfg.pages);
		/* Not inherited by the host's children either (hfork_check). */
		if (madvise(limit_a, cfg.pages * PG, MADV_DONTFORK) != 0 ||
		    madvise(limit_b, cfg.pages * PG, MADV_DONTFORK) != 0)
			die("MADV_DONTFORK: %s", strerror(errno));
	}
	if (need_swap) {
		/* The host swaps to a temporary file, as cowlab does. */
		host_swap = kern_swap_active() || kern_swap_on(cfg.swap_pages + 256, host_swap_why,
							       sizeof(host_swap_why)) == 0;
	}
	fprintf(stderr, "cowbench: %lu MiB, %d rounds after %d warm-up\n", cfg.pages * PG >> 20,
		cfg.rounds, cfg.warmup);
	for (size_t i = 0; i < NR_BENCHES; i++) {
		struct bench *b = &benches[i];
		bool want[NR_SIDES] = {cfg.sides & 1, b->kernel && (cfg.sides & 2),
				       b->limit && (cfg.sides & 1)};

		if (!selected(b))
			continue;
		if (want[KERNEL] && b->swap && !host_swap) {
			snprintf(b->skip, sizeof(b->skip), "skip: %s", host_swap_why);
			want[KERNEL] = false;
		}
		run_bench(b, want);
	}
	kern_swap_off();
	measure_memory();
	write_markdown(stdout);
	if (cfg.markdown) {
		FILE *f = open_out(cfg.markdown);

		write_markdown(f);
		fclose(f);
	}
	if (cfg.json) {
		FILE *f = open_out(cfg.json);

		write_json(f);
		fclose(f);
	}
	cow_task_destroy(task);
	cow_process_exit(proc);
	cow_system_destroy(sys);
	return 0;
}
