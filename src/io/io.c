/*
 * The outside world's hold on memory: page sets taken by get_user_pages
 * (for pins and pipes) and the direct-I/O engine, which moves data between
 * a real O_DIRECT file (file.c) and the frames it pinned at submission.
 * Step by step, 512 bytes (one sector) a step with pread/pwrite straight
 * into frame memory (memcpy for a device in memory, file.c): a device
 * step is a yield point of the device's task in explore mode, so
 * schedules can split a transfer, as the 2009 race needs.  Or at once,
 * asynchronously, through io_uring with one iovec per page piece (stress
 * mode, real timing).
 *
 * Layer: beside mm, using its internals (gup.c, struct page); everything
 * above (scenario, cli) sees only the cow_* API of include/cowlab.h.
 */
#include "mm/mm.h"

#include <liburing.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>

#define SECTOR 512

struct cow_pages {
	struct cow_system *sys;
	unsigned int foll; /* FOLL_GET or FOLL_PIN, to give back */
	unsigned long off; /* of the range in its first page */
	unsigned long len;
	unsigned long nr;
	struct page *pages[];
};

static unsigned int foll_flags(const struct cow_system *sys, unsigned int flags)
{
	unsigned int foll = 0;

	if (flags & COW_GUP_WRITE)
		foll |= FOLL_WRITE;
	if (flags & COW_GUP_LONGTERM)
		foll |= FOLL_LONGTERM;
	if (flags & COW_GUP_FORCE)
		foll |= FOLL_FORCE;
	if (flags & COW_GUP_DIO)
		foll |= sys->policy->dio_pin == DIO_FOLL_PIN ? FOLL_PIN : FOLL_GET;
	else
		foll |= (flags & COW_GUP_PIN) ? FOLL_PIN : FOLL_GET;
	return foll;
}

int cow_gup(struct cow_task *task, unsigned long addr, unsigned long len, unsigned int flags,
	    struct cow_pages **out)
{
	struct mm_struct *mm = task->proc->mm;
	unsigned long start = addr & PAGE_MASK, nr;
	struct cow_pages *p;
	long got;

	*out = NULL;
	if (len == 0 || addr + len < addr || addr + len > TASK_SIZE)
		return COW_EINVAL;
	nr = ((addr + len + PAGE_SIZE - 1) & PAGE_MASK) - start;
	nr /= PAGE_SIZE;
	p = FAULT_HIT(FI_GUP_ALLOC) ? NULL : malloc(sizeof(*p) + nr * sizeof(p->pages[0]));
	if (!p)
		return COW_ENOMEM;
	p->sys = mm->sys;
	p->foll = foll_flags(mm->sys, flags);
	p->off = addr - start;
	p->len = len;
	p->nr = nr;
	if (flags & COW_GUP_FAST)
		got = get_user_pages_fast(mm, task->cpu, start, nr, p->foll, p->pages);
	else
		got = get_user_pages(mm, start, nr, p->foll, p->pages);
	if (got < 0) {
		free(p);
		return (int)got;
	}
	*out = p;
	return 0;
}

void cow_pages_release(struct cow_pages *p)
{
	if (!p)
		return;
	gup_put_pages(p->sys, p->pages, p->nr, p->foll);
	free(p);
}

unsigned long cow_pages_len(const struct cow_pages *p)
{
	return p->len;
}

/* Copy between buf and the frames behind [off, off + len) of the range:
 * straight into frame memory, as DMA does, past any page table. */
static void pages_copy(const struct cow_pages *p, unsigned long off, void *buf, unsigned long len,
		       bool to_frames)
{
	unsigned char *b = buf;

	COW_CHECK(off + len <= p->len && off + len >= off, "access beyond a page set");
	/* The step checker also learns of the store from this flag (explore
	 * tasks run on one thread, so a plain store). */
	if (to_frames && sync_explorer)
		p->sys->frames_stored = true;
	off += p->off;
	while (len > 0) {
		unsigned long in = off & ~PAGE_MASK;
		unsigned long n = sync_explorer ? ACCESS_CHUNK - in % ACCESS_CHUNK : PAGE_SIZE - in;
		char *frame = page_address(p->sys->pool, p->pages[off / PAGE_SIZE]);

		if (n > len)
			n = len;
		/* A CPU's copy, as mmu.c's: a step per chunk, naming it. */
		sync_point(to_frames ? SYNC_WRITE : SYNC_READ, frame_chunk(frame, in));
		if (to_frames)
			memcpy(frame + in, b, n);
		else
			memcpy(b, frame + in, n);
		b += n;
		off += n;
		len -= n;
	}
}

void cow_pages_read(const struct cow_pages *p, unsigned long off, void *buf, unsigned long len)
{
	pages_copy(p, off, buf, len, false);
}

void cow_pages_write(struct cow_pages *p, unsigned long off, const void *buf, unsigned long len)
{
	pages_copy(p, off, (void *)(uintptr_t)buf, len, true);
}

long cow_system_pins_held(const struct cow_system *sys)
{
	return atomic_long_read(&sys->pins_acquired) - atomic_long_read(&sys->pins_released);
}

/* ---- direct I/O ------------------------------------------------------------------ */

struct cow_dio {
	struct cow_pages *pages; /* NULL once complete */
	struct mm_struct *mm;	 /* its dio_sem held for read (mmlock-2009), or NULL */
	struct cow_file *file;
	unsigned long foff; /* where in the file */
	unsigned long done, len;
	bool to_memory;
	int error; /* the first failed transfer, a COW_E* code */
};

/* Linux 2.4: the pages stay locked until the transfer completes, so that
 * reclaim, which only trylocks, cannot unmap them meanwhile.  In address
 * order, as every locker of several pages must; a page twice in the set
 * (the zero page) is locked once. */
static bool dio_page_seen(const struct cow_pages *p, unsigned long i)
{
	for (unsigned long j = 0; j < i; j++)
		if (p->pages[j] == p->pages[i])
			return true;
	return false;
}

static void dio_lock_pages(struct cow_pages *p)
{
	for (unsigned long i = 0; i < p->nr; i++)
		if (!dio_page_seen(p, i))
			lock_page_io(p->pages[i]);
}

static void dio_unlock_pages(struct cow_pages *p)
{
	for (unsigned long i = 0; i < p->nr; i++)
		if (!dio_page_seen(p, i))
			unlock_page_io(p->pages[i]);
}

int cow_dio_submit(struct cow_task *task, unsigned long addr, unsigned long len,
		   struct cow_file *file, unsigned long foff, int to_memory, struct cow_dio **out)
{
	struct cow_system *sys = task->proc->sys;
	struct cow_dio *d;
	int err;

	*out = NULL;
	if ((addr | len | foff) % SECTOR || len == 0 || foff + len > cow_file_size(file))
		return COW_EINVAL;
	d = FAULT_HIT(FI_DIO_SUBMIT) ? NULL : calloc(1, sizeof(*d));
	if (!d)
		return COW_ENOMEM;
	if (sys->policy->dio_mm_lock) {
		/* mmlock-2009: fork waits until this I/O completes. */
		d->mm = task->proc->mm;
		down_read(&d->mm->dio_sem);
	}
	/* Linux's direct I/O takes the pages with get_user_pages_fast: for
	 * writing when the device will write memory. */
	err = cow_gup(task, addr, len, COW_GUP_DIO | COW_GUP_FAST | (to_memory ? COW_GUP_WRITE : 0),
		      &d->pages);
	if (err) {
		if (d->mm)
			up_read(&d->mm->dio_sem);
		free(d);
		return err;
	}
	if (sys->policy->dio_pin == DIO_LOCK_PAGES)
		dio_lock_pages(d->pages);
	d->file = file;
	d->foff = foff;
	d->len = len;
	d->to_memory = to_memory != 0;
	*out = d;
	return 0;
}

/* The frame memory behind byte off of the transfer (never crosses a page
 * within a sector: offsets are sector aligned). */
static char *dio_frame(struct cow_dio *d, unsigned long off)
{
	struct cow_pages *p = d->pages;
	unsigned long at = p->off + off;

	return (char *)page_address(p->sys->pool, p->pages[at / PAGE_SIZE]) + (at & ~PAGE_MASK);
}

/* Completion: the pages the device wrote are dirty; the references go
 * back (bio_release_pages). */
static void dio_complete(struct cow_dio *d)
{
	/* The request's status (a bio's bi_status) may report an error of
	 * its own; the pages go back all the same. */
	if (FAULT_HIT(FI_DIO_COMPLETE) && !d->error)
		d->error = COW_EIO;
	if (d->to_memory)
		for (unsigned long i = 0; i < d->pages->nr; i++)
			SetPageFlag(d->pages->pages[i], PG_dirty);
	if (d->pages->sys->policy->dio_pin == DIO_LOCK_PAGES)
		dio_unlock_pages(d->pages);
	cow_pages_release(d->pages);
	d->pages = NULL;
	if (d->mm)
		up_read(&d->mm->dio_sem);
}

int cow_dio_step(struct cow_dio *d)
{
	int err;

	if (!d->pages)
		return 0;
	sync_dma_step(dio_frame(d, d->done)); /* one sector of the file and of a frame */
	err = cow_file_sector_io(d->file, d->foff + d->done, dio_frame(d, d->done), SECTOR,
				 d->to_memory);
	if ((err || FAULT_HIT(FI_DIO_STEP)) && !d->error)
		d->error = COW_EIO;
	d->done += SECTOR;
	if (d->done < d->len)
		return 1;
	dio_complete(d);
	return 0;
}

/* Each asynchronous transfer maps a ring of its own and unmaps it at the
 * end, and the next ring, on any thread, may be mapped at the same
 * addresses.  liburing maps and unmaps with raw system calls, which
 * ThreadSanitizer does not see, so it would take the new ring's first
 * stores for a race with the old ring's last accesses.  The kernel orders
 * the two (the munmap returns before the mmap that reuses the range):
 * say so, on the three mapped areas. */
static void ring_mapped(struct io_uring *ring)
{
	sync_tsan_acquire(ring->sq.ring_ptr);
	sync_tsan_acquire(ring->sq.sqes);
	sync_tsan_acquire(ring->cq.ring_ptr);
}

static void ring_unmapping(struct io_uring *ring)
{
	sync_tsan_release(ring->sq.ring_ptr);
	sync_tsan_release(ring->sq.sqes);
	sync_tsan_release(ring->cq.ring_ptr);
}

int cow_dio_run_async(struct cow_dio *d)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct iovec *iov;
	unsigned long nr = 0;
	int err;

	if (!d->pages)
		return d->error;
	if (cow_file_fd(d->file) < 0) { /* a device in memory: no ring */
		while (cow_dio_step(d))
			;
		return d->error;
	}
	/* One iovec per page piece: the frames are not contiguous. */
	iov = calloc(d->pages->nr, sizeof(*iov));
	if (!iov) {
		/* The request fails, and completes: its pages go back (a
		 * direct I/O left incomplete could never be freed). */
		d->error = COW_ENOMEM;
		d->done = d->len;
		dio_complete(d);
		return d->error;
	}
	for (unsigned long off = d->done; off < d->len; nr++) {
		unsigned long in = (d->pages->off + off) & ~PAGE_MASK, n = PAGE_SIZE - in;

		if (n > d->len - off)
			n = d->len - off;
		iov[nr].iov_base = dio_frame(d, off);
		iov[nr].iov_len = n;
		off += n;
	}
	err = io_uring_queue_init(4, &ring, 0);
	if (err) {
		free(iov);
		return COW_EIO;
	}
	ring_mapped(&ring);
	sqe = io_uring_get_sqe(&ring);
	if (d->to_memory)
		io_uring_prep_readv(sqe, cow_file_fd(d->file), iov, (unsigned int)nr,
				    d->foff + d->done);
	else
		io_uring_prep_writev(sqe, cow_file_fd(d->file), iov, (unsigned int)nr,
				     d->foff + d->done);
	err = io_uring_submit(&ring) == 1 ? io_uring_wait_cqe(&ring, &cqe) : -1;
	if (err == 0) {
		if (cqe->res != (int)(d->len - d->done))
			d->error = COW_EIO;
		io_uring_cqe_seen(&ring, cqe);
	} else {
		d->error = COW_EIO;
	}
	ring_unmapping(&ring);
	io_uring_queue_exit(&ring);
	free(iov);
	d->done = d->len;
	dio_complete(d);
	return d->error;
}

int cow_dio_error(const struct cow_dio *d)
{
	return d->error;
}

void cow_dio_free(struct cow_dio *d)
{
	if (!d)
		return;
	COW_CHECK(d->pages == NULL, "freeing a direct I/O that has not completed");
	free(d);
}
