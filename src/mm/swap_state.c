/*
 * The swap cache at the level of pages, as Linux's mm/swap_state.c: a
 * page enters it with a slot (add_to_swap, from reclaim) and leaves it
 * when nothing needs the slot's copy in memory any more
 * (delete_from_swap_cache, free_swap_cache, free_swap_and_cache,
 * swap_cache_drain).  The slots themselves, their counts and the table of
 * cache pages per slot are the swap device's (swapfile.c, swap.h).
 *
 * Locks: page lock -> swap device lock, as the lock order
 * (src/sync/lockrank.h) says.
 */
#include "mm/mm.h"
#include "mm/swap.h"

/* The swap device, made on first use.  The first CPU to need it makes it
 * under the system lock; the others find it with an acquire load, which
 * shows them the device initialised and orders their later plain reads of
 * sys->swap after its one store.  (Made without the lock, two CPUs could
 * race and the loser's failed cmpxchg, which ThreadSanitizer counts as a
 * store, raced with the plain reads.) */
static struct swap_device *get_swap(struct cow_system *sys, int *err)
{
	struct swap_device *sd = smp_load_acquire(&sys->swap);

	if (sd)
		return sd;
	spin_lock(&sys->lock);
	sd = sys->swap;
	if (!sd) {
		*err = swap_device_create(0, sys->swap_slots, sys->mem_devices, &sd);
		if (!*err)
			smp_store_release(&sys->swap, sd);
	}
	spin_unlock(&sys->lock);
	return sd;
}

int add_to_swap(struct cow_system *sys, struct page *page)
{
	swp_entry_t entry;
	int err = 0;
	struct swap_device *sd = get_swap(sys, &err);

	if (!sd)
		return err;
	err = swap_alloc_slot(sd, &entry);

	if (err)
		return err;
	/* Reference first, then the flag: a check between the two steps
	 * sees refcount >= its sources. */
	get_page(page);
	page->private = entry.val;
	SetPageFlag(page, PG_swapcache);
	err = swap_cache_add(sys->swap, entry, page);
	COW_CHECK(err != COW_EBUSY && err != COW_ENOENT,
		  "a fresh swap slot already has a cache page, or is free");
	if (err) {
		/* No room in the cache (COW_ENOMEM): the slot goes back and
		 * the page stays as it was. */
		ClearPageFlag(page, PG_swapcache);
		page->private = 0;
		swapcache_free(sys->swap, entry);
		put_page(sys->pool, page);
	}
	return err;
}

void delete_from_swap_cache(struct cow_system *sys, struct page *page)
{
	swp_entry_t entry = {page->private};

	COW_ASSERT(PageLocked(page) && PageFlag(page, PG_swapcache));
	swap_cache_del(sys->swap, entry);
	ClearPageFlag(page, PG_swapcache);
	page->private = 0;
	put_page(sys->pool, page);
}

void free_swap_and_cache(struct cow_system *sys, swp_entry_t entry)
{
	struct page *page;

	swap_free(sys->swap, entry);
	page = swap_cache_orphan(sys->swap, entry);
	if (!page)
		return;
	if (trylock_page(page)) {
		/* Ours and the cache's only, and still the slot's page. */
		if (PageFlag(page, PG_swapcache) && page->private == entry.val &&
		    page_mapcount(page) == 0 && page_ref_count(page) == 2)
			delete_from_swap_cache(sys, page);
		unlock_page(page);
	}
	put_page(sys->pool, page);
}

void free_swap_cache(struct cow_system *sys, struct page *page)
{
	if (!PageFlag(page, PG_swapcache) || page_mapcount(page) > 0 || !trylock_page(page))
		return;
	if (PageFlag(page, PG_swapcache) && page_mapcount(page) == 0 &&
	    swap_count(sys->swap, (swp_entry_t){page->private}) == 0)
		delete_from_swap_cache(sys, page);
	unlock_page(page);
}

void swap_cache_drain(struct cow_system *sys)
{
	unsigned long from = 0;
	bool found;

	for (;;) {
		swp_entry_t entry = swap_next_orphan(sys->swap, &from, &found);
		struct page *page;

		if (!found)
			return;
		page = swap_cache_orphan(sys->swap, entry);
		if (!page)
			continue;
		lock_page(page);
		if (PageFlag(page, PG_swapcache) && page->private == entry.val &&
		    page_mapcount(page) == 0 && page_ref_count(page) == 2)
			delete_from_swap_cache(sys, page);
		unlock_page(page);
		put_page(sys->pool, page);
	}
}
