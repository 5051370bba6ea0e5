/*
 * The swap device: a real host file of 4 KiB slots, written and read with
 * O_DIRECT, and a count per slot (Linux's swap_map).
 *
 * A slot's count is the number of swap PTEs that refer to it, plus
 * SWAP_HAS_CACHE while a swap-cache page stands for it (Linux keeps the
 * same flag in the same byte).  A slot is free when its count is 0.
 * Allocation hands out a slot with SWAP_HAS_CACHE set: the page being
 * swapped out enters the swap cache first, its PTEs point at the slot
 * next.
 *
 * I/O errors are reported, never ignored: a failed write leaves the page
 * in memory (the caller keeps it), a failed read fails the fault with
 * COW_EIO and loses nothing else.  Tests inject errors on the Nth read or
 * write (swap_inject_errors).
 *
 * Locks: the device lock (W, rank RANK_SWAP_CACHE in src/sync/lockrank.h)
 * protects the counts, the search cursor and the swap cache.  File I/O
 * runs without it.
 */
#ifndef COW_MM_SWAP_H
#define COW_MM_SWAP_H

#include "mm/pgtable.h"

#define SWAP_HAS_CACHE 0x8000u /* in the count: a swap-cache page exists */
#define SWAP_MAP_MAX 0x7fffu   /* the most PTEs one slot can count */

struct swap_device;

/* A device of nr slots of type (0..MAX_SWAPFILES-1), backed by a file in
 * dir (NULL: $COWLAB_TMPDIR, else /var/tmp, else the working directory),
 * unlinked at once.  COW_EINVAL, COW_ENOMEM or COW_EIO. */
/* in_memory: the slots' bytes in host memory, not a host file. */
int swap_device_create(unsigned int type, unsigned long nr, bool in_memory,
		       struct swap_device **out);
/* Every slot must be free: a COW_CHECK. */
void swap_device_destroy(struct swap_device *sd);

unsigned long swap_device_size(const struct swap_device *sd);
/* Is obj a word of the device (its lock, counts or cache)? */
bool swap_device_owns(const struct swap_device *sd, const void *obj);
unsigned long swap_device_nr_free(const struct swap_device *sd);

/* A free slot, with count SWAP_HAS_CACHE; COW_ENOMEM when the device is
 * full. */
int swap_alloc_slot(struct swap_device *sd, swp_entry_t *out);
/* One more swap PTE refers to the slot (fork, try_to_unmap); COW_EINVAL
 * for a free slot or one whose count is at its maximum. */
int swap_duplicate(struct swap_device *sd, swp_entry_t entry);
/* One swap PTE fewer; the slot is free once its count is 0. */
void swap_free(struct swap_device *sd, swp_entry_t entry);
/* Drop SWAP_HAS_CACHE from a slot no page was added for (swap_cache_del
 * does it for one that had a page). */
void swapcache_free(struct swap_device *sd, swp_entry_t entry);
/* The number of swap PTEs referring to the slot (without SWAP_HAS_CACHE). */
int swap_count(const struct swap_device *sd, swp_entry_t entry);
bool swap_has_cache(const struct swap_device *sd, swp_entry_t entry);

/* ---- the swap cache: slot -> page (the caller holds the page lock and
 * sets PG_swapcache, page->private and the cache's reference) ---- */

/* Sets SWAP_HAS_CACHE; COW_EBUSY if the slot already has a page (another
 * CPU swapped it in first), COW_ENOENT if the slot is free. */
int swap_cache_add(struct swap_device *sd, swp_entry_t entry, struct page *page);
/* The slot's cache page with a reference for the caller, or NULL. */
struct page *swap_cache_get(struct swap_device *sd, swp_entry_t entry);
/* The slot's cache page goes, and with it SWAP_HAS_CACHE, in one step
 * (the slot is free if no PTE refers to it). */
void swap_cache_del(struct swap_device *sd, swp_entry_t entry);
/* The cache page of a slot no PTE refers to any more (with a reference),
 * or NULL; and an iterator over such slots, from *from on. */
struct page *swap_cache_orphan(struct swap_device *sd, swp_entry_t entry);
swp_entry_t swap_next_orphan(struct swap_device *sd, unsigned long *from, bool *found);

/* Write (read) n pages, at most SWAP_IO_MAX, to (from) their slots,
 * frames[i] to (from) entries[i], as one device request: pages of
 * consecutive slots go in one write (read).  errs[i] is 0 or COW_EIO.
 * Frames are 4 KiB aligned. */
#define SWAP_IO_MAX 32
void swap_write_pages(struct swap_device *sd, const swp_entry_t *entries, void *const *frames,
		      unsigned int n, int *errs);
void swap_read_pages(struct swap_device *sd, const swp_entry_t *entries, void *const *frames,
		     unsigned int n, int *errs);
/* Read the slot's 4 KiB into frame (4 KiB aligned): 0 or COW_EIO. */
int swap_read_page(struct swap_device *sd, swp_entry_t entry, void *frame);

/* Test-only fault injection: fail every Nth read or write from now on (0
 * never).  The counters restart at each call. */
void swap_inject_errors(struct swap_device *sd, unsigned int every_read, unsigned int every_write);

/* The counts against the swap PTEs found (refs[slot], from a scan of
 * every page table) and the slots the swap cache holds: 0 or COW_ECORRUPT
 * with a message. */
int swap_check(const struct swap_device *sd, const unsigned long *refs, bool strict, char *msg,
	       size_t len);

#endif /* COW_MM_SWAP_H */
