/*
 * Page faults: the anonymous fault, the write-protect fault ("reuse or
 * copy"), the copy itself, and the unshare fault.
 *
 * The cases (handle_pte_fault):
 *
 *   PTE none, shared VMA      map the shmem object's page (do_shared_fault)
 *   PTE none, read            map the shared zero page read-only, or a
 *                             fresh zeroed page where the system has none
 *   PTE none, write           map a fresh zeroed exclusive page, writable
 *   present, write, R/O PTE   do_wp_page: the policy decides whether the
 *                             page may be reused in place or must be copied
 *   present, unshare          (GUP, 5.19+) make the page exclusive, keep
 *                             the PTE read-only: reuse or copy, as above
 *   anything else             spurious (a stale TLB): nothing to do
 *
 * Locks: the mmap_lock is held for read throughout; the PT lock is taken
 * to install or change a PTE and every decision is re-checked under it
 * against the PTE value the decision was based on (pte_same), since the
 * PTE may change while the lock is dropped (to sleep for the page lock, to
 * allocate, to copy).
 *
 * The reuse decision is the heart of the 2009 thread.  linux-2.6.29 reuses
 * iff mapcount + swapcount == 1 after sleeping for the page lock, so a GUP
 * reference (which raises only the refcount) does not prevent reuse, and
 * after fork the first writer, whoever it is, copies.  linux-6.5 reuses an
 * exclusive page at once and otherwise only if the page's refcount is 1,
 * so any extra reference (GUP, pipe) forces a copy; fork clears
 * exclusivity, or copies a maybe-pinned page for the child up front.
 * Rejected alternative: a copy of the decision logic per era.  Each rule
 * is one case of the policy's wp_reuse field instead.
 */
#include "mm/mm.h"

#include <string.h>

/* maybe_mkwrite(): may a write fault make the PTE writable?  Only in a
 * mapping with VM_WRITE: a forced write (FOLL_FORCE) to one without
 * leaves the PTE read-only.  2.4 had no such test (FORCE_MKWRITE): its
 * faults made every PTE they wrote writable. */
static bool may_mkwrite(const struct cow_system *sys, const struct vm_area_struct *vma)
{
	return (vma->vm_flags & VM_WRITE) || sys->policy->force == FORCE_MKWRITE;
}

static pte_t mk_pte(struct cow_system *sys, struct page *page, const struct vm_area_struct *vma,
		    bool writable)
{
	pte_t pte = pfn_pte(page_to_pfn(sys->pool, page), vma_pte_bits(vma));

	/* maybe_mkwrite(pte_mkdirty()): a forced write to a mapping without
	 * VM_WRITE leaves the PTE read-only but dirty, which is what 4.9's
	 * FOLL_COW test looks for. */
	if (writable)
		pte = pte_mkdirty(pte);
	if (writable && may_mkwrite(sys, vma))
		pte = pte_mkwrite(pte);
	return pte_mkyoung(pte);
}

/* ---- faults on empty PTEs ------------------------------------------------------- */

/* Where a fault found addr's PTE, unlocked again before the fault
 * allocated: the PTE table stays while the faulting thread holds
 * mmap_lock (only munmap frees tables, holding it for writing), so the
 * fault takes the PT lock again without a walk, as Linux keeps vmf->pmd. */
struct fault_pte {
	pte_t *ptep;
	spinlock_t *ptl;
};

/* addr's PTE, locked: through fp where the fault has it, else walked to
 * (allocating tables); NULL when a table cannot be allocated. */
static pte_t *fault_pte_lock(struct mm_struct *mm, unsigned long addr, struct fault_pte *fp,
			     spinlock_t **ptlp)
{
	if (!fp)
		return pte_alloc_map_lock(&mm->pgt, addr, ptlp);
	spin_lock(fp->ptl);
	*ptlp = fp->ptl;
	return fp->ptep;
}

/* Install page at the empty PTE of addr, giving the mapping the caller's
 * reference; anon pages join the reverse map as new exclusive pages,
 * shmem pages gain a mapcount; extra bits (_PAGE_DIRTY) join the PTE.  If
 * another thread filled the PTE first, the page goes back.  Returns 0 or
 * COW_ENOMEM. */
static int map_page_bits(struct vm_area_struct *vma, unsigned long addr, struct page *page,
			 bool anon, pte_t extra, struct fault_pte *fp)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	spinlock_t *ptl;
	pte_t *ptep = fault_pte_lock(mm, addr, fp, &ptl);

	if (!ptep) {
		put_page(sys->pool, page);
		return COW_ENOMEM;
	}
	if (!pte_none(ptep_get(ptep))) {
		pte_unmap_unlock(ptep, ptl);
		put_page(sys->pool, page);
		return 0;
	}
	if (anon) {
		page_add_new_anon_rmap(page, vma, addr, true);
		atomic_long_inc(&mm->nr_anon);
	} else {
		atomic_inc(&page->_mapcount);
	}
	/* A page-cache page in a private mapping is mapped read-only: a
	 * write must copy it. */
	set_pte(ptep, mk_pte(sys, page, vma, anon || (vma->vm_flags & VM_SHARED)) | extra);
	pte_unmap_unlock(ptep, ptl);
	return 0;
}

static int map_fresh_page(struct vm_area_struct *vma, unsigned long addr, struct page *page,
			  bool anon, struct fault_pte *fp)
{
	return map_page_bits(vma, addr, page, anon, 0, fp);
}

static int do_anonymous_page(struct vm_area_struct *vma, unsigned long addr, unsigned int flags,
			     struct fault_pte *fp)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	struct page *page;
	spinlock_t *ptl;
	pte_t *ptep;
	int err;

	if (!(flags & FAULT_FLAG_WRITE) && sys->zero_page) {
		pte_t zero = pte_mkspecial(mk_pte(sys, sys->zero_page, vma, false));

		ptep = fault_pte_lock(mm, addr, fp, &ptl);
		if (!ptep)
			return COW_ENOMEM;
		if (pte_none(ptep_get(ptep)))
			set_pte(ptep, zero);
		pte_unmap_unlock(ptep, ptl);
		return 0;
	}
	err = anon_vma_prepare(vma);
	if (err)
		return err;
	page = alloc_page_direct(sys, GFP_ZERO);
	if (!page)
		return COW_ENOMEM;
	lru_add(sys->pool, page);
	return map_fresh_page(vma, addr, page, true, fp);
}

/* A fault on an empty PTE of a mapping with a page cache (shared
 * anonymous memory, or a file): map the cache's page, read-only in a
 * private mapping. */
static int do_shared_fault(struct vm_area_struct *vma, unsigned long addr, struct fault_pte *fp)
{
	unsigned long index = ((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
	struct page *page = shmem_get_page(vma->vm_mm->sys, vma->shm, index);

	if (!page)
		return COW_ENOMEM;
	return map_fresh_page(vma, addr, page, false, fp);
}

/* do_cow_fault(): a write fault on an empty PTE of a private file
 * mapping maps a private copy of the cache's page at once. */
static int do_cow_fault(struct vm_area_struct *vma, unsigned long addr, struct fault_pte *fp)
{
	unsigned long index = ((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
	struct cow_system *sys = vma->vm_mm->sys;
	struct page *cached, *page;
	int err = anon_vma_prepare(vma);

	if (err)
		return err;
	cached = shmem_get_page(sys, vma->shm, index);
	if (!cached)
		return COW_ENOMEM;
	page = alloc_page_direct(sys, 0);
	if (!page) {
		put_page(sys->pool, cached);
		return COW_ENOMEM;
	}
	copy_frame(sys->pool, page, cached);
	put_page(sys->pool, cached);
	lru_add(sys->pool, page);
	return map_fresh_page(vma, addr, page, true, fp);
}

/* ---- write-protect faults --------------------------------------------------------- */

/* Copy the page (or the zero page, old == NULL) for this mapping.  The
 * caller holds mmap_lock, a reference on old and no other lock; orig is
 * the value of *ptep the decision to copy was based on, and ptl its PT
 * lock.  The PTE table cannot go while mmap_lock is held (only munmap
 * frees tables, under the lock for writing), so the pointer is used again
 * without a walk, as Linux keeps vmf->pmd. */
static int wp_page_copy(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep,
			spinlock_t *ptl, pte_t orig, struct page *old, unsigned int flags)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	bool unshare = (flags & FAULT_FLAG_UNSHARE) != 0;
	bool replaced = false;
	struct page *new;
	int err;

	if (old) /* the copy's source, while the rest of the work goes on */
		prefetch_frame(sys->pool, old, PAGE_SIZE / 64, false);
	err = anon_vma_prepare(vma);
	if (err)
		goto out_put_old;
	new = alloc_page_direct(sys, old ? 0 : GFP_ZERO);
	if (!new) {
		err = COW_ENOMEM;
		goto out_put_old;
	}
	if (old) {
		/* A deliberate race: the source may be written while we copy
		 * it, by whoever maps it writable now (another process that
		 * reused it after this one's PTE changed, a device), as in
		 * Linux, which also copies outside the PT lock.  The copy is
		 * used only if the PTE still holds orig below; when a
		 * policy's reuse rule lets the source be written and the PTE
		 * stay, the scenario's checks see the torn or stale copy: that
		 * is the bug being modelled.  Not checked by ThreadSanitizer
		 * (src/sync/sync.h). */
		deliberate_race_begin();
		copy_frame(sys->pool, new, old);
		deliberate_race_end();
	}
	lru_add(sys->pool, new);

	spin_lock(ptl);
	if (ptep_get(ptep) == orig) {
		/* Clear and flush before the new page goes in, so that no
		 * CPU keeps writing to the old one through its TLB. */
		ptep_get_and_clear(ptep);
		flush_tlb_mm(mm);
		page_add_new_anon_rmap(new, vma, addr, true);
		set_pte(ptep, mk_pte(sys, new, vma, !unshare));
		if (old)
			page_remove_rmap(old);
		if (!old || !PageFlag(old, PG_anon))
			atomic_long_inc(&mm->nr_anon);
		replaced = true;
	}
	pte_unmap_unlock(ptep, ptl);
	if (!replaced)
		put_page(sys->pool, new); /* lost a race: someone else resolved it */
	if (old && replaced)
		put_page(sys->pool, old); /* the old mapping's reference */
out_put_old:
	if (old)
		put_page(sys->pool, old); /* ours */
	return err;
}

/* Reuse in place: make the PTE writable (or, for unshare, leave it). */
static int wp_page_reuse(struct vm_area_struct *vma, pte_t *ptep, spinlock_t *ptl,
			 unsigned int flags)
{
	/* maybe_mkwrite(): a forced write in a read-only mapping keeps the
	 * PTE read-only, the page now private and exclusive. */
	if (!(flags & FAULT_FLAG_UNSHARE))
		ptep_modify(ptep, 0,
			    (may_mkwrite(vma->vm_mm->sys, vma) ? _PAGE_RW : 0) | _PAGE_DIRTY |
				    _PAGE_SOFT_DIRTY | _PAGE_ACCESSED);
	pte_unmap_unlock(ptep, ptl);
	return 0;
}

/* The refcount test of 5.9+ (09854ba94c6a), as linux-6.5's
 * wp_can_reuse_anon_folio() has it: may this page, not known to be
 * exclusive, be reused?  PT lock held; only a trylock of the page lock.
 * From 5.18 (drop_cache) an unshared swap cache gives its reference up
 * first; before, a swap-cache page always counts 2 and is copied. */
static bool can_reuse_anon_page(struct page *page, struct vm_area_struct *vma, bool drop_cache)
{
	if (PageFlag(page, PG_ksm) || page_ref_count(page) > 3)
		return false; /* cheap early exit before locking */
	if (page_ref_count(page) > 1 + (drop_cache && PageFlag(page, PG_swapcache)))
		return false;
	if (!trylock_page(page))
		return false;
	/* folio_free_swap() (5.18, "mm: optimize do_wp_page() for exclusive
	 * pages in the swapcache"): a swap-cache page no swap
	 * PTE refers to any more leaves the cache, and its reference with
	 * it, so that the count below can reach 1. */
	if (drop_cache && PageFlag(page, PG_swapcache) &&
	    swap_count(vma->vm_mm->sys->swap, (swp_entry_t){page->private}) == 0)
		delete_from_swap_cache(vma->vm_mm->sys, page);
	if (PageFlag(page, PG_ksm) || page_ref_count(page) != 1 || page_mapcount(page) != 1) {
		unlock_page(page);
		return false;
	}
	/* The page is ours alone: future rmap walks need look only here. */
	page_move_anon_rmap(page, vma);
	unlock_page(page);
	return true;
}

/* The old eras' test, the page lock held (and dropped here): reuse iff
 * the page is no KSM page and its users come to one, counted as mappings, the swap PTEs of its
 * slot included (reuse_swap_page, 2.6.13+), or as references, the swap
 * cache's aside when no swap PTE needs it (can_share_swap_page, 2.6.7 ..
 * 2.6.12).  A reused page leaves the swap cache. */
static bool reuse_locked_page(struct cow_system *sys, struct page *page, bool by_refcount)
{
	bool reuse;

	if (PageFlag(page, PG_ksm)) {
		/* KSM made it a KSM page while the fault slept for the lock
		 * (reuse_swap_page's PageKsm test, under the lock). */
		reuse = false;
	} else if (PageFlag(page, PG_swapcache)) {
		int swapped = swap_count(sys->swap, (swp_entry_t){page->private});

		reuse = by_refcount ? page_ref_count(page) == 2 && swapped == 0
				    : page_mapcount(page) + swapped == 1;
		if (reuse)
			delete_from_swap_cache(sys, page);
	} else {
		reuse = by_refcount ? page_ref_count(page) == 1 : page_mapcount(page) == 1;
	}
	if (reuse)
		SetPageFlag(page, PG_anon_exclusive);
	unlock_page(page);
	return reuse;
}

/* Called with the PT lock held and pte the value of *ptep. */
static int do_wp_page(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep, spinlock_t *ptl,
		      pte_t pte, unsigned int flags)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	const char *fn = (flags & FAULT_FLAG_UNSHARE) ? "unshare fault" : "do_wp_page";
	const char *why = "no rule";
	struct page *page;
	bool reuse = false;
	char counts[64];

	if (pte_special(pte)) {
		/* The zero page: a write gets a fresh page. */
		mm_decide(sys, "%s: the zero page, copy", fn);
		pte_unmap_unlock(ptep, ptl);
		return wp_page_copy(vma, addr, ptep, ptl, pte, NULL, flags);
	}
	page = pfn_to_page(sys->pool, pte_pfn(pte));
	if (vma->vm_flags & VM_SHARED) {
		mm_decide(sys, "%s: a shared mapping, reuse", fn);
		return wp_page_reuse(vma, ptep, ptl, flags);
	}
	if (!PageFlag(page, PG_anon)) {
		/* A page-cache page in a private mapping: always a copy. */
		mm_decide(sys, "%s: a file page in a private mapping, copy", fn);
		get_page(page);
		pte_unmap_unlock(ptep, ptl);
		return wp_page_copy(vma, addr, ptep, ptl, pte, page, flags);
	}

	switch (sys->policy->wp_reuse) {
	case REUSE_REFCOUNT_TRYLOCK:
	case REUSE_MAPCOUNT_TRYLOCK:
		/* can_share_swap_page() under a trylock: a locked page is
		 * treated as shared (the copy ab967d86015a later avoided). */
		if (flags & FAULT_FLAG_UNSHARE) {
			why = "an unshare fault, which the rule never reuses for";
		} else if (PageFlag(page, PG_ksm)) {
			why = "a KSM page";
		} else if (!trylock_page(page)) {
			why = "the page is locked (trylock failed)";
		} else {
			bool by_ref = sys->policy->wp_reuse == REUSE_REFCOUNT_TRYLOCK;

			why = by_ref ? "refcount rule" : "mapcount rule";
			reuse = reuse_locked_page(sys, page, by_ref);
		}
		break;
	case REUSE_MAPCOUNT_LOCK:
	case REUSE_REFCOUNT_LOCK:
		if (flags & FAULT_FLAG_UNSHARE) {
			/* The era had no unshare faults. */
			pte_unmap_unlock(ptep, ptl);
			return 0;
		}
		why = "a KSM page";
		if (PageFlag(page, PG_ksm))
			break;
		why = sys->policy->wp_reuse == REUSE_REFCOUNT_LOCK ? "refcount rule"
								   : "mapcount rule";
		if (!trylock_page(page)) {
			/* ab967d86015a: sleep for the lock instead of
			 * treating a locked page as shared. */
			get_page(page);
			pte_unmap_unlock(ptep, ptl);
			lock_page(page);
			ptep = pte_offset_map_lock(&mm->pgt, addr, &ptl);
			if (!ptep || ptep_get(ptep) != pte) {
				mm_decide(sys,
					  "%s: the PTE changed while it slept for the page "
					  "lock, retry",
					  fn);
				unlock_page(page);
				put_page(sys->pool, page);
				if (ptep)
					pte_unmap_unlock(ptep, ptl);
				return 0;
			}
			put_page(sys->pool, page);
		}
		reuse = reuse_locked_page(sys, page, sys->policy->wp_reuse == REUSE_REFCOUNT_LOCK);
		break;
	case REUSE_ALWAYS:
		why = "the era reuses any anonymous page";
		reuse = !(flags & FAULT_FLAG_UNSHARE);
		break;
	case REUSE_REFCOUNT:
	case REUSE_REFCOUNT_ALL:
	case REUSE_EXCLUSIVE:
		if (sys->policy->wp_reuse == REUSE_EXCLUSIVE && PageFlag(page, PG_anon_exclusive)) {
			why = "PG_anon_exclusive";
			reuse = true;
			break;
		}
		why = sys->policy->wp_reuse == REUSE_EXCLUSIVE ? "not exclusive, refcount rule"
							       : "refcount rule";
		if (can_reuse_anon_page(page, vma, sys->policy->wp_reuse != REUSE_REFCOUNT)) {
			SetPageFlag(page, PG_anon_exclusive);
			reuse = true;
		}
		break;
	}
	mm_decide(sys, "%s %s: %s, %s", fn, mm_page_counts(sys, page, counts, sizeof(counts)), why,
		  reuse ? "reuse" : "copy");
	if (reuse)
		return wp_page_reuse(vma, ptep, ptl, flags);
	get_page(page);
	pte_unmap_unlock(ptep, ptl);
	return wp_page_copy(vma, addr, ptep, ptl, pte, page, flags);
}

/* ---- swap-in ----------------------------------------------------------------------- */

/* A fresh page (the caller's one reference) joins the swap cache for
 * entry, locked, anonymous, with the cache's reference: 0, or COW_ENOENT
 * (the slot is free) or COW_EBUSY (another page stands for it), the page
 * then as it came. */
static int swapcache_new_page(struct cow_system *sys, swp_entry_t entry, struct page *page)
{
	/* A fresh page: nobody else can hold its lock (a trylock, as the
	 * read-ahead takes several while holding the faulting page's). */
	bool locked = trylock_page(page);
	int err;

	COW_CHECK(locked, "a fresh page is locked");
	get_page(page);
	page->private = entry.val;
	SetPageFlag(page, PG_swapcache);
	SetPageFlag(page, PG_anon);
	err = swap_cache_add(sys->swap, entry, page);
	if (err == 0) {
		lru_add(sys->pool, page);
		return 0;
	}
	ClearPageFlag(page, PG_swapcache);
	page->private = 0;
	put_page(sys->pool, page);
	ClearPageFlag(page, PG_anon);
	unlock_page(page);
	return err;
}

/* A page that joined the swap cache and whose read failed leaves it, and
 * the caller's reference goes (the slot still holds the data). */
static void swapcache_read_failed(struct cow_system *sys, struct page *page)
{
	delete_from_swap_cache(sys, page);
	ClearPageFlag(page, PG_anon);
	unlock_page(page);
	put_page(sys->pool, page);
}

/* swapin_readahead() (cluster read-ahead, page-cluster 3): read the slot
 * of page, which has just joined the swap cache, together with the
 * neighbours in its aligned cluster of SWAP_RA_PAGES slots that swap PTEs
 * still refer to and no page stands for: each of those gets a fresh page
 * in the swap cache too (when a frame is free: no reclaim for a guess),
 * and all are read in one device request.  Each read-ahead page is
 * unlocked when its read is done and left to the cache, where its own
 * fault will find it; one whose read failed leaves the cache.  Returns
 * the result of page's read. */
#define SWAP_RA_PAGES 8
static int swapin_cluster(struct cow_system *sys, swp_entry_t entry, struct page *page)
{
	struct swap_device *sd = sys->swap;
	unsigned long base = swp_offset(entry) & ~(SWAP_RA_PAGES - 1UL);
	unsigned long end = base + SWAP_RA_PAGES;
	struct page *pages[SWAP_RA_PAGES];
	swp_entry_t entries[SWAP_RA_PAGES];
	void *addrs[SWAP_RA_PAGES];
	int errs[SWAP_RA_PAGES];
	unsigned int n = 0, me = 0;
	bool frames = true; /* free frames for read-ahead left */

	if (end > swap_device_size(sd))
		end = swap_device_size(sd);
	for (unsigned long off = base; off < end; off++) {
		swp_entry_t e = swp_entry(swp_type(entry), off);
		struct page *ra = page;

		if (off != swp_offset(entry)) {
			/* A cheap look first; swap_cache_add decides. */
			if (!frames || swap_count(sd, e) == 0 || swap_has_cache(sd, e))
				continue;
			ra = alloc_page(sys->pool, 0);
			if (!ra) {
				frames = false;
				continue;
			}
			if (swapcache_new_page(sys, e, ra) != 0) {
				put_page(sys->pool, ra);
				continue;
			}
		} else {
			me = n;
		}
		pages[n] = ra;
		entries[n] = e;
		addrs[n] = page_address(sys->pool, ra);
		n++;
	}
	swap_read_pages(sd, entries, addrs, n, errs);
	for (unsigned int i = 0; i < n; i++) {
		if (i == me)
			continue;
		if (errs[i]) {
			swapcache_read_failed(sys, pages[i]);
			continue;
		}
		unlock_page(pages[i]);
		put_page(sys->pool, pages[i]);
	}
	return errs[me];
}

/* The page behind a swap entry, locked and with a reference: from the
 * swap cache, or a fresh page that joins the cache and is then read from
 * the device, with its neighbours (swapin_cluster).  Like
 * swapcache_prepare(), the page claims the slot before the read and stays
 * locked until the read is done: a CPU that finds it in the cache waits
 * on the lock, and a slot freed and reused meanwhile can never receive a
 * page read from its previous contents.  NULL with *err set when memory
 * is short or the read fails (nothing is lost: the slot still holds the
 * data); NULL with *err 0 when the slot was freed meanwhile, and the
 * fault is to be retried. */
static struct page *swapin_page(struct cow_system *sys, swp_entry_t entry, int *err)
{
	struct page *page;

	for (;;) {
		page = swap_cache_get(sys->swap, entry);
		if (page) {
			lock_page(page);
			/* Still the slot's page (its read did not fail, and
			 * it was not deleted from the cache meanwhile)? */
			if (PageFlag(page, PG_swapcache) && page->private == entry.val)
				return page;
			unlock_page(page);
			put_page(sys->pool, page);
			continue;
		}
		page = alloc_page_direct(sys, 0);
		if (!page) {
			*err = COW_ENOMEM;
			return NULL;
		}
		/* Into the cache (it owns one reference, the caller one). */
		*err = swapcache_new_page(sys, entry, page);
		if (*err == 0) {
			*err = swapin_cluster(sys, entry, page);
			if (*err == 0)
				return page;
			swapcache_read_failed(sys, page);
		} else {
			put_page(sys->pool, page);
		}
		if (*err != COW_EBUSY) {
			/* COW_ENOENT: the slot was freed under us; whoever
			 * zapped the PTE changed it too, and the fault is
			 * retried. */
			if (*err == COW_ENOENT)
				*err = 0;
			return NULL;
		}
		/* Another CPU claimed the slot first: wait for its page. */
	}
}

/* May the process that faults take the swapped-in page as its own?  The
 * page lock is held.  Every era before 5.19 asked only on a write fault
 * (do_swap_page's "write_access && reuse_swap_page()", and 5.18's
 * refcount test behind FAULT_FLAG_WRITE): a read fault maps the page
 * read-only and leaves it in the swap cache, and the write that follows
 * meets do_wp_page.  2.6.13's can_share_swap_page and 2.6.29's
 * reuse_swap_page count mappings and swap references; 2.4 .. 2.6.12 and
 * 5.18 count references.  5.19+ trusts the exclusive bit of the swap PTE
 * on any fault, and on a write fault also the refcount once the swap
 * cache's own reference could go (should_try_to_free_swap). */
static bool swapin_exclusive(struct cow_system *sys, struct page *page, swp_entry_t entry,
			     bool excl_bit, bool write)
{
	/* The cache's reference and ours, no other mapping or user. */
	bool sole_user = page_mapcount(page) == 0 && swap_count(sys->swap, entry) == 1 &&
			 page_ref_count(page) == 2;

	switch (sys->policy->wp_reuse) {
	case REUSE_MAPCOUNT_TRYLOCK:
	case REUSE_MAPCOUNT_LOCK:
	case REUSE_REFCOUNT: /* 5.9 .. 5.17 kept reuse_swap_page() here */
		return write && page_mapcount(page) + swap_count(sys->swap, entry) == 1;
	case REUSE_REFCOUNT_TRYLOCK:
	case REUSE_REFCOUNT_LOCK:
	case REUSE_REFCOUNT_ALL: return write && sole_user;
	case REUSE_EXCLUSIVE: return excl_bit || (write && sole_user);
	case REUSE_ALWAYS: return true;
	}
	return false;
}

struct migration_wait {
	const pte_t *ptep;
	pte_t entry;
};

static bool migration_done(const void *arg)
{
	const struct migration_wait *w = arg;

	return READ_IN_PREDICATE(*w->ptep) != w->entry;
}

void migration_entry_wait(struct mm_struct *mm, unsigned long addr, pte_t entry)
{
	spinlock_t *ptl;
	pte_t *ptep = pte_offset_map_lock(&mm->pgt, addr, &ptl);
	struct migration_wait w = {ptep, entry};
	bool wait;

	if (!ptep)
		return;
	wait = ptep_get(ptep) == entry;
	pte_unmap_unlock(ptep, ptl);
	/* Linux sleeps on the folio lock, which the split holds until every
	 * entry is gone; cowlab waits for this PTE to change, the one word
	 * the split's remap (or a zap) writes.  The table stays: the caller
	 * holds the mmap_lock, and only munmap frees tables. */
	if (wait)
		sync_wait_cond_on(&w, ptep, migration_done, "a page's split (a migration entry)");
}

static int do_swap_page(struct vm_area_struct *vma, unsigned long addr, pte_t orig,
			unsigned int flags)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	swp_entry_t entry = pte_to_swp_entry(orig);
	bool exclusive;
	struct page *page;
	spinlock_t *ptl;
	pte_t *ptep, pte;
	int err;

	if (is_migration_entry(entry)) {
		migration_entry_wait(mm, addr, orig);
		return 0;
	}
	err = anon_vma_prepare(vma);
	if (err)
		return err;
	page = swapin_page(sys, entry, &err);
	if (!page)
		return err;
	ptep = pte_offset_map_lock(&mm->pgt, addr, &ptl);
	if (!ptep || ptep_get(ptep) != orig) {
		/* Someone else swapped it in, or unmapped it, meanwhile. */
		if (ptep)
			pte_unmap_unlock(ptep, ptl);
		goto out_unlock_page;
	}
	exclusive = swapin_exclusive(sys, page, entry, pte_swp_exclusive(orig),
				     flags & FAULT_FLAG_WRITE);
	if (unlikely(sys->decide_fn)) {
		char counts[64];

		mm_decide(sys, "do_swap_page %s, slot %lu%s: map it %s",
			  mm_page_counts(sys, page, counts, sizeof(counts)), swp_offset(entry),
			  pte_swp_exclusive(orig) ? " (exclusive)" : "",
			  exclusive ? "exclusive" : "not exclusive (a write asks do_wp_page)");
	}
	/* The PTE's reference to the slot becomes the mapping's to the page. */
	swap_free(sys->swap, entry);
	if (page_mapcount(page) == 0 && page->mapping == 0) {
		page_add_new_anon_rmap(page, vma, addr, exclusive);
		/* __folio_set_anon(): a page other processes may map too gets
		 * the oldest anon_vma, which every descendant is linked to. */
		if (!exclusive)
			page->mapping = (unsigned long)vma->anon_vma->root;
	} else {
		page_dup_anon_rmap(page);
		if (exclusive)
			SetPageFlag(page, PG_anon_exclusive);
	}
	atomic_long_inc(&mm->nr_anon);
	/* An exclusive page that is written needs no swap copy any more; a
	 * read fault keeps the cache (should_try_to_free_swap(), and
	 * reuse_swap_page() before it, run for writes only). */
	if (exclusive && (flags & FAULT_FLAG_WRITE) && swap_count(sys->swap, entry) == 0)
		delete_from_swap_cache(sys, page);
	pte = mk_pte(sys, page, vma, exclusive && (flags & FAULT_FLAG_WRITE));
	get_page(page); /* the mapping's reference */
	set_pte(ptep, pte);
	pte_unmap_unlock(ptep, ptl);
	/* A write to a page that is not exclusive retries and meets
	 * do_wp_page, which decides reuse or copy as for any shared page. */
out_unlock_page:
	unlock_page(page);
	put_page(sys->pool, page);
	return 0;
}

static int handle_pte_fault(struct vm_area_struct *vma, unsigned long addr, unsigned int flags)
{
	struct mm_struct *mm = vma->vm_mm;
	spinlock_t *ptl;
	pte_t *ptep, pte;

	ptep = pte_alloc_map_lock(&mm->pgt, addr, &ptl);
	if (!ptep)
		/* A huge PMD mapped there since we looked: retry. */
		return pmd_trans_huge(pmd_peek(&mm->pgt, addr)) ? 0 : COW_ENOMEM;
	pte = ptep_get(ptep);
	if (pte_none(pte)) {
		struct fault_pte fp = {ptep, ptl};

		pte_unmap_unlock(ptep, ptl);
		if (vma->shm && !(vma->vm_flags & VM_SHARED) && (flags & FAULT_FLAG_WRITE))
			return do_cow_fault(vma, addr, &fp);
		if (vma->shm)
			return do_shared_fault(vma, addr, &fp);
		return do_anonymous_page(vma, addr, flags, &fp);
	}
	if (!pte_present(pte)) {
		pte_unmap_unlock(ptep, ptl);
		return do_swap_page(vma, addr, pte, flags);
	}
	if ((flags & FAULT_FLAG_WRITE) && !pte_write(pte))
		return do_wp_page(vma, addr, ptep, ptl, pte, flags);
	if ((flags & FAULT_FLAG_UNSHARE) && !(vma->vm_flags & VM_SHARED) &&
	    (pte_special(pte) ||
	     !PageFlag(pfn_to_page(mm->sys->pool, pte_pfn(pte)), PG_anon_exclusive)))
		/* A maybe-shared anon page, or (6.2) the zero page. */
		return do_wp_page(vma, addr, ptep, ptl, pte, flags);
	/* Spurious: the PTE already allows the access (a stale TLB entry or
	 * a racing fault resolved it). */
	pte_unmap_unlock(ptep, ptl);
	return 0;
}

int handle_mm_fault_locked(struct mm_struct *mm, unsigned long addr, unsigned int flags)
{
	struct vm_area_struct *vma = find_vma(mm, addr);

	if (!vma)
		return COW_EFAULT;
	if ((flags & FAULT_FLAG_WRITE) && !(vma->vm_flags & VM_WRITE) &&
	    !((flags & FAULT_FLAG_FORCE) && is_cow_mapping(vma->vm_flags)))
		return COW_EFAULT;
	if (!(flags & FAULT_FLAG_FORCE) && !(vma->vm_flags & (VM_READ | VM_WRITE)))
		return COW_EFAULT;
	if (vma->vm_flags & VM_HUGETLB)
		return hugetlb_fault(vma, addr, flags);
	/* Only a mapping that asked for THP ever has a huge PMD (the
	 * advice is never taken back, only overruled by VM_NOHUGEPAGE). */
	if (vma->vm_flags & (VM_HUGEPAGE | VM_NOHUGEPAGE)) {
		int err = huge_pmd_fault(vma, addr, flags);

		if (err != THP_FALLBACK)
			return err;
	}
	return handle_pte_fault(vma, addr & PAGE_MASK, flags);
}

/* UFFDIO_CONTINUE: resolve the minor faults of [addr, addr + len) of a
 * mapping with a page cache, mapping the cache's pages into the empty PTEs
 * (read-only in a private mapping) and leaving present PTEs alone.  From
 * 5.16 (9ae0f87d009c) the PTE is installed dirty, which 4.9's FOLL_COW test
 * takes for the dirty PTE of a forced write's private copy: CVE-2022-2590
 * until 6.0 (5535be309971).  COW_EINVAL where the range is not such a
 * mapping. */
int do_uffd_continue(struct mm_struct *mm, unsigned long addr, unsigned long len)
{
	pte_t dirty = mm->sys->policy->uffd_dirty ? _PAGE_DIRTY : 0;
	int err = 0;

	if ((addr | len) & ~PAGE_MASK || len == 0 || addr + len < addr)
		return COW_EINVAL;
	down_read(&mm->mmap_lock);
	for (unsigned long a = addr; a < addr + len && !err; a += PAGE_SIZE) {
		struct vm_area_struct *vma = find_vma(mm, a);
		unsigned long index;
		struct page *page;

		if (!vma || !vma->shm) {
			err = COW_EINVAL;
			break;
		}
		index = ((a - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
		page = shmem_get_page(mm->sys, vma->shm, index);
		err = page ? map_page_bits(vma, a, page, false, dirty, NULL) : COW_ENOMEM;
	}
	up_read(&mm->mmap_lock);
	return err;
}

int handle_mm_fault(struct mm_struct *mm, unsigned long addr, unsigned int flags)
{
	int err;

	down_read(&mm->mmap_lock);
	err = handle_mm_fault_locked(mm, addr, flags);
	up_read(&mm->mmap_lock);
	return err;
}
