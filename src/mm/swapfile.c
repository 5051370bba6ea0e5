/*
 * The swap device (see swap.h): slot counts under one lock, page I/O with
 * O_DIRECT on an unlinked host file (or memcpy to host memory, for the
 * explorer), and injected errors for tests.  The
 * swap cache, reclaim and swap-in build on this.
 *
 * The map and nr_free change under the lock but are read without it (the
 * fault path's swap_count(), swap_device_nr_free()): their stores are
 * WRITE_LOCKED, atomic, so those reads do not race with them.
 *
 * Invariants (checked by swap_check):
 *   W1  nr_free counts the slots whose count is 0;
 *   W2  a slot's PTE count equals the swap PTEs that refer to it;
 *   W3  a slot has a swap-cache page iff SWAP_HAS_CACHE is set, and that
 *       page is PG_swapcache with the slot's entry in page->private.
 */
#define _GNU_SOURCE
#include "mm/swap.h"

#include "base/hostfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static unsigned long slot_of(const struct swap_device *sd, swp_entry_t entry);

struct swap_device {
	unsigned int type;
	int fd;		    /* the host file, or -1 */
	unsigned char *mem; /* or the slots' bytes in memory */
	int direct;
	unsigned long nr;
	unsigned long nr_free; /* (W), read without it (swap_device_nr_free) */
	unsigned long cursor;  /* (W) where the next search starts */
	uint16_t *map;	       /* (W) count per slot, read without it (swap_count) */
	struct page **cache;   /* (W) the swap cache: the page standing for a slot */
	spinlock_t lock;       /* RANK_SWAP_CACHE */
	/* fault injection (tests) */
	unsigned int every_read, every_write;
	atomic_t reads, writes;
};

int swap_device_create(unsigned int type, unsigned long nr, bool in_memory,
		       struct swap_device **out)
{
	struct swap_device *sd;

	*out = NULL;
	if (type >= MAX_SWAPFILES || nr == 0 || nr > SWP_OFFSET_MASK)
		return COW_EINVAL;
	if (FAULT_HIT(FI_SWAP_DEVICE))
		return COW_EIO; /* as if the host file could not be made */
	sd = calloc(1, sizeof(*sd));
	if (!sd)
		return COW_ENOMEM;
	sd->map = calloc(nr, sizeof(*sd->map));
	sd->cache = calloc(nr, sizeof(*sd->cache));
	if (!sd->map || !sd->cache) {
		free(sd->map);
		free(sd->cache);
		free(sd);
		return COW_ENOMEM;
	}
	if (in_memory) {
		sd->fd = -1;
		sd->mem = calloc(nr, PAGE_SIZE);
		sd->direct = 1;
	} else {
		sd->fd = host_tmpfile(&sd->direct);
	}
	if (in_memory ? !sd->mem : sd->fd < 0 || ftruncate(sd->fd, (off_t)(nr * PAGE_SIZE)) != 0) {
		if (sd->fd >= 0)
			close(sd->fd);
		free(sd->map);
		free(sd->cache);
		free(sd);
		return COW_EIO;
	}
	sd->type = type;
	sd->nr = nr;
	sd->nr_free = nr;
	spin_lock_init_rank(&sd->lock, RANK_SWAP_CACHE);
	*out = sd;
	return 0;
}

void swap_device_destroy(struct swap_device *sd)
{
	if (!sd)
		return;
	COW_CHECK(sd->nr_free == sd->nr, "swap device destroyed with %lu slots in use",
		  sd->nr - sd->nr_free);
	if (sd->mem)
		free(sd->mem);
	else
		close(sd->fd);
	free(sd->map);
	free(sd->cache);
	free(sd);
}

bool swap_device_owns(const struct swap_device *sd, const void *obj)
{
	return ptr_within(obj, sd, sizeof(*sd)) ||
	       ptr_within(obj, sd->map, sd->nr * sizeof(*sd->map)) ||
	       ptr_within(obj, sd->cache, sd->nr * sizeof(*sd->cache));
}

int swap_cache_add(struct swap_device *sd, swp_entry_t entry, struct page *page)
{
	unsigned long slot = slot_of(sd, entry);
	int err = 0;

	/* Linux's add_to_swap_cache allocates tree nodes: -ENOMEM. */
	if (FAULT_HIT(FI_SWAP_CACHE_ADD))
		return COW_ENOMEM;
	spin_lock(&sd->lock);
	if (sd->map[slot] == 0) {
		err = COW_ENOENT;
	} else if (sd->cache[slot]) {
		err = COW_EBUSY;
	} else {
		/* swapcache_prepare(): a swap-in's page takes the flag; a
		 * swap-out's slot came with it. */
		WRITE_LOCKED(sd->map[slot], sd->map[slot] | SWAP_HAS_CACHE);
		sd->cache[slot] = page;
	}
	spin_unlock(&sd->lock);
	return err;
}

struct page *swap_cache_get(struct swap_device *sd, swp_entry_t entry)
{
	unsigned long slot = slot_of(sd, entry);
	struct page *page;

	spin_lock(&sd->lock);
	page = sd->cache[slot];
	if (page)
		get_page(page); /* the cache's reference keeps it live */
	spin_unlock(&sd->lock);
	return page;
}

static void put_slot(struct swap_device *sd, swp_entry_t entry, bool cache, bool del);

void swap_cache_del(struct swap_device *sd, swp_entry_t entry)
{
	put_slot(sd, entry, true, true);
}

/* For a slot in use whose PTE count is 0, the page the cache still holds
 * (or NULL): what free_swap_and_cache() and the drain look for. */
static struct page *orphan_in_cache(struct swap_device *sd, unsigned long slot)
{
	return (sd->map[slot] & SWAP_MAP_MAX) == 0 ? sd->cache[slot] : NULL;
}

struct page *swap_cache_orphan(struct swap_device *sd, swp_entry_t entry)
{
	unsigned long slot = slot_of(sd, entry);
	struct page *page;

	spin_lock(&sd->lock);
	page = orphan_in_cache(sd, slot);
	if (page)
		get_page(page);
	spin_unlock(&sd->lock);
	return page;
}

swp_entry_t swap_next_orphan(struct swap_device *sd, unsigned long *from, bool *found)
{
	swp_entry_t e = {0};

	*found = false;
	spin_lock(&sd->lock);
	for (; *from < sd->nr; (*from)++)
		if (orphan_in_cache(sd, *from)) {
			e = swp_entry(sd->type, *from);
			*found = true;
			(*from)++;
			break;
		}
	spin_unlock(&sd->lock);
	return e;
}

unsigned long swap_device_size(const struct swap_device *sd)
{
	return sd->nr;
}

unsigned long swap_device_nr_free(const struct swap_device *sd)
{
	return READ_ONCE(sd->nr_free);
}

static unsigned long slot_of(const struct swap_device *sd, swp_entry_t entry)
{
	COW_CHECK(swp_type(entry) == sd->type && swp_offset(entry) < sd->nr,
		  "swap entry type %u offset %lu is not of this device", swp_type(entry),
		  swp_offset(entry));
	return swp_offset(entry);
}

int swap_alloc_slot(struct swap_device *sd, swp_entry_t *out)
{
	int err = COW_ENOMEM;

	if (FAULT_HIT(FI_SWAP_SLOT))
		return COW_ENOMEM; /* as a full device */
	spin_lock(&sd->lock);
	for (unsigned long i = 0; i < sd->nr && sd->nr_free; i++) {
		unsigned long slot = (sd->cursor + i) % sd->nr;

		if (sd->map[slot])
			continue;
		WRITE_LOCKED(sd->map[slot], SWAP_HAS_CACHE);
		WRITE_LOCKED(sd->nr_free, sd->nr_free - 1);
		sd->cursor = slot + 1;
		*out = swp_entry(sd->type, slot);
		err = 0;
		break;
	}
	spin_unlock(&sd->lock);
	return err;
}

int swap_duplicate(struct swap_device *sd, swp_entry_t entry)
{
	unsigned long slot = slot_of(sd, entry);
	int err = 0;

	spin_lock(&sd->lock);
	if (sd->map[slot] == 0 || (sd->map[slot] & SWAP_MAP_MAX) == SWAP_MAP_MAX)
		err = COW_EINVAL;
	else
		WRITE_LOCKED(sd->map[slot], sd->map[slot] + 1);
	spin_unlock(&sd->lock);
	return err;
}

/* Drop the swap-cache flag (cache) or one PTE count from a slot's count;
 * the slot is free at zero.  del: the cache page goes in the same step, so
 * that no swap-in can find the slot without a cache page but still
 * flagged, and add a second page for it (swapcache_prepare's rule: the
 * flag, not the page, says whether the slot has a cache page).  A misuse is reported after the lock
 * is dropped, so a test that catches the panic finds the device usable. */
static void put_slot(struct swap_device *sd, swp_entry_t entry, bool cache, bool del)
{
	unsigned long slot = slot_of(sd, entry);
	bool ok;

	spin_lock(&sd->lock);
	if (del)
		sd->cache[slot] = NULL;
	ok = cache ? (sd->map[slot] & SWAP_HAS_CACHE) != 0 : (sd->map[slot] & SWAP_MAP_MAX) != 0;
	if (ok) {
		uint16_t count =
			cache ? sd->map[slot] & (uint16_t)~SWAP_HAS_CACHE : sd->map[slot] - 1;

		WRITE_LOCKED(sd->map[slot], count);
		if (count == 0)
			WRITE_LOCKED(sd->nr_free, sd->nr_free + 1);
	}
	spin_unlock(&sd->lock);
	COW_CHECK(ok,
		  cache ? "slot %lu has no swap cache page"
			: "swap_free of slot %lu with no PTE count",
		  slot);
}

void swap_free(struct swap_device *sd, swp_entry_t entry)
{
	put_slot(sd, entry, false, false);
}

void swapcache_free(struct swap_device *sd, swp_entry_t entry)
{
	put_slot(sd, entry, true, false);
}

int swap_count(const struct swap_device *sd, swp_entry_t entry)
{
	return READ_ONCE(sd->map[slot_of(sd, entry)]) & SWAP_MAP_MAX;
}

bool swap_has_cache(const struct swap_device *sd, swp_entry_t entry)
{
	return (READ_ONCE(sd->map[slot_of(sd, entry)]) & SWAP_HAS_CACHE) != 0;
}

/* Should this I/O fail (fault injection)? */
static bool inject(atomic_t *count, unsigned int every)
{
	return every && atomic_inc_return(count) % (int)every == 0;
}

/* Should the next page of a request fail? */
static bool page_fails(struct swap_device *sd, bool write)
{
	return write ? inject(&sd->writes, sd->every_write) || FAULT_HIT(FI_SWAP_WRITE)
		     : inject(&sd->reads, sd->every_read) || FAULT_HIT(FI_SWAP_READ);
}

/* Write or read one run of pages in consecutive slots from slot first
 * with a single pwritev or preadv, as a block layer merges the bios of
 * neighbouring slots; idx[] are the run's pages' places in the caller's
 * arrays. */
static void io_run(struct swap_device *sd, bool write, unsigned long first, struct iovec *iov,
		   unsigned int n, const unsigned int *idx, int *errs)
{
	ssize_t want = (ssize_t)(n * PAGE_SIZE), done;
	off_t at = (off_t)(first * PAGE_SIZE);

	if (sd->mem) {
		for (unsigned int r = 0; r < n; r++, at += PAGE_SIZE)
			if (write)
				memcpy(sd->mem + at, iov[r].iov_base, PAGE_SIZE);
			else
				memcpy(iov[r].iov_base, sd->mem + at, PAGE_SIZE);
		done = want;
	} else {
		done = write ? pwritev(sd->fd, iov, (int)n, at) : preadv(sd->fd, iov, (int)n, at);
	}
	for (unsigned int r = 0; r < n; r++)
		errs[idx[r]] = done == want ? 0 : COW_EIO;
}

/* The pages of a request to a device in memory, under the explorer: each
 * page a step per chunk (sync_swap_step), in slot order, so that the
 * request conflicts with the steps on the chunks it moves and with other
 * steps on the swap slots, not with every step.  Whether a page fails is
 * decided in its first step. */
static void swap_io_steps(struct swap_device *sd, bool write, const swp_entry_t *entries,
			  void *const *frames, const unsigned int *order, unsigned int n, int *errs)
{
	for (unsigned int k = 0; k < n; k++) {
		unsigned int i = order[k];
		unsigned char *slot = sd->mem + slot_of(sd, entries[i]) * PAGE_SIZE;
		unsigned char *frame = frames[i];

		for (unsigned long off = 0; off < PAGE_SIZE; off += ACCESS_CHUNK) {
			sync_swap_step(frame + off);
			if (off == 0)
				errs[i] = page_fails(sd, write) ? COW_EIO : 0;
			if (errs[i])
				break;
			if (write)
				memcpy(slot + off, frame + off, ACCESS_CHUNK);
			else
				memcpy(frame + off, slot + off, ACCESS_CHUNK);
		}
	}
}

/* n pages to or from their slots as one device request. */
static void swap_io(struct swap_device *sd, bool write, const swp_entry_t *entries,
		    void *const *frames, unsigned int n, int *errs)
{
	unsigned int order[SWAP_IO_MAX], run = 0;
	struct iovec iov[SWAP_IO_MAX];
	unsigned long first = 0;

	COW_ASSERT(n <= SWAP_IO_MAX);
	/* The pages in slot order (insertion sort: a batch is short, and its
	 * slots mostly come in order already). */
	for (unsigned int i = 0; i < n; i++) {
		unsigned int j = i;

		for (; j > 0 && slot_of(sd, entries[order[j - 1]]) > slot_of(sd, entries[i]); j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	if (sync_explorer && sd->mem) {
		swap_io_steps(sd, write, entries, frames, order, n, errs);
		return;
	}
	sync_device_step(sd); /* one request to the device */
	for (unsigned int k = 0; k < n; k++) {
		unsigned int i = order[k];
		unsigned long slot = slot_of(sd, entries[i]);
		bool fail = page_fails(sd, write);

		/* A slot that does not follow, or a page that fails, ends the run. */
		if (run > 0 && (fail || slot != first + run)) {
			io_run(sd, write, first, iov, run, order + k - run, errs);
			run = 0;
		}
		if (fail) {
			errs[i] = COW_EIO;
			continue;
		}
		if (run == 0)
			first = slot;
		iov[run].iov_base = frames[i];
		iov[run].iov_len = PAGE_SIZE;
		run++;
	}
	if (run > 0)
		io_run(sd, write, first, iov, run, order + n - run, errs);
}

void swap_write_pages(struct swap_device *sd, const swp_entry_t *entries, void *const *frames,
		      unsigned int n, int *errs)
{
	swap_io(sd, true, entries, frames, n, errs);
}

void swap_read_pages(struct swap_device *sd, const swp_entry_t *entries, void *const *frames,
		     unsigned int n, int *errs)
{
	swap_io(sd, false, entries, frames, n, errs);
}

int swap_read_page(struct swap_device *sd, swp_entry_t entry, void *frame)
{
	int err;

	swap_read_pages(sd, &entry, &frame, 1, &err);
	return err;
}

void swap_inject_errors(struct swap_device *sd, unsigned int every_read, unsigned int every_write)
{
	sd->every_read = every_read;
	sd->every_write = every_write;
	atomic_set(&sd->reads, 0);
	atomic_set(&sd->writes, 0);
}

int swap_check(const struct swap_device *sd, const unsigned long *refs, bool strict, char *msg,
	       size_t len)
{
	unsigned long free_slots = 0;

	for (unsigned long slot = 0; slot < sd->nr; slot++) {
		unsigned int c = sd->map[slot];
		struct page *page = sd->cache[slot];

		if (c == 0)
			free_slots++;
		/* W3: the cache and the flag agree (adding and deleting take
		 * two steps, so a flag without a page only at rest). */
		if ((page && (!(c & SWAP_HAS_CACHE) || !PageFlag(page, PG_swapcache) ||
			      page->private != swp_entry(sd->type, slot).val)) ||
		    (strict && (c & SWAP_HAS_CACHE) && !page)) {
			snprintf(msg, len,
				 "swap slot %lu: count 0x%x, cache page %p, which does not "
				 "agree (W3)",
				 slot, c, (void *)page);
			return COW_ECORRUPT;
		}
		if (refs && (c & SWAP_MAP_MAX) != refs[slot]) {
			snprintf(msg, len,
				 "swap slot %lu: count %u but %lu swap PTEs refer to it (W2)", slot,
				 c & SWAP_MAP_MAX, refs[slot]);
			return COW_ECORRUPT;
		}
	}
	/* W1 holds between sections of the lock: a slot's count and nr_free
	 * are two stores, each a step of its own. */
	if (free_slots != sd->nr_free && !spin_is_locked(&sd->lock)) {
		snprintf(msg, len, "swap device: %lu slots are free but nr_free is %lu (W1)",
			 free_slots, sd->nr_free);
		return COW_ECORRUPT;
	}
	return 0;
}
