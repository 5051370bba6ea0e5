/*
 * Reclaim of anonymous pages: into the swap cache (swap_state.c),
 * unmapped through the reverse map, written to the swap device
 * (swapfile.c), freed.
 *
 * shrink_pages(), for a batch of up to SWAP_CLUSTER_MAX pages, each with
 * its page lock held from step 0 to step 5: steps 0-3 page by page, step
 * 4 one device request for the batch (pages of consecutive slots in one
 * write), step 5 page by page.
 *
 *   0. Direct reclaim (not MADV_PAGEOUT) keeps a page whose PTEs were
 *      accessed since the last look, clearing the accessed bits.
 *   1. The policy's reclaim rule may keep the page: from 5.11
 *      (feb889fb40fa) a page that may be pinned is not put into the swap
 *      cache, since swap-in would map it read-only and the next write
 *      would copy it away from the pin.
 *   2. add_to_swap: a slot (count SWAP_HAS_CACHE), PG_swapcache, the
 *      cache's reference.
 *   3. try_to_unmap: every PTE that maps the page becomes a swap PTE to
 *      the slot (swap_duplicate), cleared and shot down first.  From 5.19
 *      an exclusive page may be unmapped only if exclusivity can be given
 *      up, which fails when the page may be pinned (page_try_share_anon_
 *      rmap); the exclusive bit then travels in the swap PTE.  Before
 *      that (2.6.13 .. 5.10) anything was unmapped: the hazard the 2009
 *      thread argued about.
 *   4. The pages are written; a failed write keeps its page in the swap
 *      cache, so every swap PTE still finds the data in memory.
 *   5. If nobody but the cache (and the caller) holds the page and it was
 *      not dirtied during the write (a DMA that completed meanwhile), it
 *      leaves the cache and is freed when the caller drops its reference.
 *      A page with extra references (GUP) stays in the swap cache.
 *
 * Locks: page lock -> anon_vma (rmap walk) -> PT lock -> swap device lock,
 * as the lock order (src/sync/lockrank.h) says.
 */
#include "mm/mm.h"
#include "mm/swap.h"

#include <stdlib.h>

struct unmap_ctx {
	struct cow_system *sys;
	swp_entry_t entry;
	bool failed;
	char counts[64]; /* room for a decision's words */
};

static int try_to_unmap_one(struct page *page, struct vm_area_struct *vma, unsigned long addr,
			    void *arg)
{
	struct unmap_ctx *c = arg;
	struct cow_system *sys = c->sys;
	spinlock_t *ptl;
	pte_t *ptep = page_vma_mapped(page, vma, addr, &ptl);
	pte_t pte, swp;
	bool exclusive;

	if (!ptep)
		return 0;
	exclusive = PageFlag(page, PG_anon_exclusive);
	/* 2.6.7: a reference beyond the mappings, the cache and ours is
	 * GUP's; unmapping would make the next write copy the page away from
	 * it (the "ironic" get_user_pages race).  Tested before the PTE is
	 * cleared, as 2.6.7 did: its GUP took the page-table lock we hold. */
	if (sys->policy->reclaim == RECLAIM_KEEP_RAISED_REFCOUNT &&
	    page_ref_count(page) != page_mapcount(page) + 2) {
		mm_decide(sys, "try_to_unmap %s: held beyond its mappings, keep it mapped",
			  mm_page_counts(sys, page, c->counts, sizeof(c->counts)));
		goto out_keep;
	}
	pte = ptep_get_and_clear(ptep);
	flush_tlb_mm(vma->vm_mm);
	/* 5.19+: page_try_share_anon_rmap() fails on a page that may be
	 * pinned, and the page stays mapped.  Only now, with the PTE clear
	 * and every TLB shot down, is the pin test final: a gup-fast that
	 * read the old PTE has either taken its pin by the time the
	 * shootdown returns (and we see it), or will find the PTE changed on
	 * its re-check and let go.  Testing before the clear, a pin could
	 * land in between and the pinned page would be unmapped. */
	if (sys->policy->reclaim == RECLAIM_SHARE_EXCLUSIVE && exclusive &&
	    page_maybe_dma_pinned(page)) {
		mm_decide(sys, "try_to_unmap %s: exclusive and maybe pinned, map it again",
			  mm_page_counts(sys, page, c->counts, sizeof(c->counts)));
		set_pte(ptep, pte);
		goto out_keep;
	}
	mm_decide(sys, "try_to_unmap %s: unmap, swap slot %lu in the PTE",
		  mm_page_counts(sys, page, c->counts, sizeof(c->counts)), swp_offset(c->entry));
	if (pte_dirty(pte))
		SetPageFlag(page, PG_dirty);
	COW_CHECK(swap_duplicate(sys->swap, c->entry) == 0, "swap count overflow");
	swp = swp_entry_to_pte(c->entry);
	if (exclusive) {
		ClearPageFlag(page, PG_anon_exclusive);
		if (sys->policy->anon_exclusive)
			swp = pte_swp_mkexclusive(swp);
	}
	set_pte(ptep, swp);
	page_remove_rmap(page);
	atomic_long_dec(&vma->vm_mm->nr_anon);
	pte_unmap_unlock(ptep, ptl);
	put_page(sys->pool, page); /* the mapping's reference */
	return 0;
out_keep:
	pte_unmap_unlock(ptep, ptl);
	c->failed = true;
	return 1;
}

static int referenced_one(struct page *page, struct vm_area_struct *vma, unsigned long addr,
			  void *arg)
{
	spinlock_t *ptl;
	pte_t *ptep = page_vma_mapped(page, vma, addr, &ptl);

	if (!ptep)
		return 0;
	if (pte_young(ptep_get(ptep))) {
		ptep_modify(ptep, _PAGE_ACCESSED, 0);
		(*(int *)arg)++;
	}
	pte_unmap_unlock(ptep, ptl);
	return 0;
}

/* folio_referenced(): how many PTEs mapping the page were used since the
 * last look, clearing their accessed bits.  As on x86, without a TLB
 * flush: a CPU that keeps using a cached translation does not set the bit
 * again, and the page may look idle when it is not (only a cost). */
static int page_referenced(struct page *page)
{
	int young = 0;

	if (page_mapcount(page) > 0)
		rmap_walk(page, referenced_one, &young);
	return young;
}

/* Steps 0-3 for one anon page the caller holds a reference on: 0 with
 * the page locked, in the swap cache, unmapped and clean, ready to be
 * written; COW_EBUSY if the policy, a pin, or (check_references) a recent
 * access kept it, COW_ENOMEM if swap is full (the page unlocked). */
static int shrink_prepare(struct cow_system *sys, struct page *page, bool check_references)
{
	struct unmap_ctx c = {sys, {0}, false, ""};
	int err = 0;

	if (!trylock_page(page))
		return COW_EBUSY;
	/* A large folio is split first, as Linux's reclaim splits one it
	 * cannot swap out whole (cowlab models no THP_SWAP); its other pages
	 * go on the LRU for later rounds.  One that will not split (pinned,
	 * or GUP holds it) stays.  (Linux looks at the PMD's accessed bit
	 * before it splits; cowlab looks at the head page's after.) */
	if (PageCompound(page) && PageFlag(page, PG_anon) && split_folio(sys, page) != 0) {
		err = COW_EBUSY;
		goto out_unlock;
	}
	if (!PageFlag(page, PG_anon) || PageFlag(page, PG_ksm) || PageCompound(page) ||
	    (check_references && page_referenced(page))) {
		err = COW_EBUSY;
		goto out_unlock;
	}
	if (!PageFlag(page, PG_swapcache)) {
		/* feb889fb40fa (5.11): no pinned page into the swap cache. */
		if ((sys->policy->reclaim == RECLAIM_SKIP_PINNED ||
		     sys->policy->reclaim == RECLAIM_SHARE_EXCLUSIVE) &&
		    page_maybe_dma_pinned(page)) {
			mm_decide(sys, "reclaim %s: maybe pinned, keep it out of swap",
				  mm_page_counts(sys, page, c.counts, sizeof(c.counts)));
			err = COW_EBUSY;
			goto out_unlock;
		}
		err = add_to_swap(sys, page);
		if (err)
			goto out_unlock;
	}
	c.entry.val = page->private;
	if (page_mapcount(page) > 0)
		rmap_walk(page, try_to_unmap_one, &c);
	if (c.failed || page_mapcount(page) > 0) {
		err = COW_EBUSY;
		goto out_unlock;
	}
	/* clear_page_dirty_for_io(): a device that writes the page from
	 * now on (a DMA through a reference taken before the unmap) marks it
	 * dirty again when it completes, and the page must then stay. */
	ClearPageFlag(page, PG_dirty);
	return 0;
out_unlock:
	unlock_page(page);
	return err;
}

/* Step 5 for a prepared page whose write ended with err, and its unlock.
 * A failed write keeps the page in the swap cache, dirty: nothing is
 * lost. */
static void shrink_finish(struct cow_system *sys, struct page *page, int err)
{
	if (err) {
		SetPageFlag(page, PG_dirty);
	} else if (page_ref_count(page) == 2) {
		/* __remove_mapping(): only the cache and the caller hold it,
		 * and nobody wrote it since (the completion dirties before it
		 * lets go, so the count is read first). */
		smp_rmb();
		if (!PageFlag(page, PG_dirty))
			delete_from_swap_cache(sys, page);
	}
	unlock_page(page);
}

_Static_assert(SWAP_CLUSTER_MAX <= SWAP_IO_MAX, "a reclaim batch is one swap write");

/* Reclaim up to SWAP_CLUSTER_MAX anon pages the caller holds references
 * on: each that can go is prepared, then all are written in one device
 * request, then each is finished.  A page that went is free once the
 * caller lets go of it.  Returns 0, or the error that kept a page out of
 * swap for want of swap (COW_ENOMEM: no slot or swap-cache entry;
 * COW_EIO: no device); a page the policy, a pin or a recent access kept
 * is no error, nor is a failed write (the page stays, in the cache). */
static int shrink_pages(struct cow_system *sys, struct page **pages, unsigned int n,
			bool check_references)
{
	struct page *out[SWAP_CLUSTER_MAX];
	swp_entry_t entries[SWAP_CLUSTER_MAX];
	void *frames[SWAP_CLUSTER_MAX];
	int errs[SWAP_CLUSTER_MAX];
	unsigned int nr = 0;
	int ret = 0;

	COW_ASSERT(n <= SWAP_CLUSTER_MAX);
	for (unsigned int i = 0; i < n; i++) {
		int err = shrink_prepare(sys, pages[i], check_references);

		if (err && err != COW_EBUSY && !ret)
			ret = err;
		if (err)
			continue;
		out[nr] = pages[i];
		entries[nr].val = pages[i]->private;
		frames[nr] = page_address(sys->pool, pages[i]);
		nr++;
	}
	if (nr == 0)
		return ret;
	swap_write_pages(sys->swap, entries, frames, nr, errs);
	for (unsigned int i = 0; i < nr; i++)
		shrink_finish(sys, out[i], errs[i]);
	return ret;
}

/* Reclaim from the LRU's oldest pages until nr frames are free again or
 * the scan has gone round the list twice (a clock: the first round clears
 * the accessed bits that gave recently used pages a second chance, the
 * second takes them unless they were used meanwhile).  Pages that stay in
 * memory (used since the last look; mapped still, pinned, locked, in the
 * swap cache with other references, not anonymous yet, KSM) go back to
 * the head of the list.  Returns the number of frames freed. */
/* Reclaim from the LRU (see reclaim.c); returns the frames freed. */
static unsigned long try_to_free_pages(struct cow_system *sys, unsigned long nr)
{
	struct frame_pool *pool = sys->pool;
	unsigned long scan = 2 * lru_size(pool), freed = 0;
	struct page *batch[SWAP_CLUSTER_MAX];

	while (freed < nr && scan > 0) {
		unsigned int got = lru_isolate(pool, batch, SWAP_CLUSTER_MAX);

		if (got == 0)
			break;
		scan = scan > got ? scan - got : 0;
		(void)shrink_pages(sys, batch, got, true); /* a full swap frees less */
		for (unsigned int i = 0; i < got; i++) {
			struct page *page = batch[i];

			/* Only our reference left: nobody can find the page
			 * any more, and our put frees it. */
			if (page_ref_count(page) == 1)
				freed++;
			else
				lru_add(pool, page);
			put_page(pool, page);
		}
		lru_isolated_done(pool, got);
	}
	return freed;
}

/* No other CPU is in the middle of reclaim: the pages it isolated are
 * back on the LRU or freed, as Linux's reclaim_throttle() waits for
 * isolated pages to be put back.  (It once also woke on a free frame; a
 * wait reads one word, the word the steps that change it name, so that
 * the explorer sees each of them conflict with the wait.) */
static bool reclaim_settled(const void *arg)
{
	return READ_IN_PREDICATE(((const atomic_long_t *)arg)->counter) == 0;
}

bool reclaim_before_retry(struct cow_system *sys, int *tries)
{
	struct frame_pool *pool = sys->pool;

	/* An injected allocation failure is final (faultinj.h). */
	if (unlikely(fault_active) && fault_take_injected())
		return false;
	if (try_to_free_pages(sys, SWAP_CLUSTER_MAX) > 0)
		return true;
	/* Nothing for us: another CPU may have isolated the pages we would
	 * have taken.  Wait until its reclaim has put them back or freed
	 * them. */
	if (lru_isolated(pool) > 0)
		sync_wait_cond(&pool->nr_isolated, reclaim_settled, "another CPU's reclaim");
	/* Someone freed frames: try for one (if another CPU takes it first,
	 * that CPU made progress, and so will we once it is done). */
	if (frame_pool_nr_free(pool) > 0)
		return true;
	/* Nothing reclaimable now (pages locked or just used, pinned, swap
	 * full): a few more rounds, then out of memory. */
	return ++*tries <= MAX_RECLAIM_RETRIES;
}

struct page *alloc_page_direct(struct cow_system *sys, unsigned int gfp)
{
	struct page *page;
	int tries = 0;

	/* An injected failure fails the allocation, reclaim and retries
	 * included: the caller's out-of-memory path is what it tests. */
	if (FAULT_HIT(FI_FRAME_ALLOC))
		return NULL;
	if (unlikely(fault_active))
		fault_forget_injected();
	gfp |= GFP_NOINJECT;
	page = alloc_page(sys->pool, gfp);
	while (!page && reclaim_before_retry(sys, &tries))
		page = alloc_page(sys->pool, gfp);
	return page;
}

/* A THP's folio to split (an anonymous large folio, not hugetlb), by
 * the leaf that maps one of its pages; NULL for anything else. */
static struct page *thp_folio(struct frame_pool *pool, pte_t leaf)
{
	struct page *head;

	if (!pte_present(leaf) || pte_special(leaf))
		return NULL;
	head = compound_head(pfn_to_page(pool, pte_pfn(leaf)));
	return PageFlag(head, PG_head) && PageFlag(head, PG_anon) && !PageFlag(head, PG_hugetlb)
		       ? head
		       : NULL;
}

/* The walk of MADV_PAGEOUT (mmap_lock held for read): a reference on
 * every small anon page that [start, end) maps, into pages[], and on
 * every THP one of whose pages it maps, once, into folios[]. */
static void pageout_collect(struct mm_struct *mm, unsigned long start, unsigned long end,
			    struct page **pages, unsigned long *nr, struct page **folios,
			    unsigned long *nfolios)
{
	struct frame_pool *pool = mm->sys->pool;

	*nr = *nfolios = 0;
	for (unsigned long a = start; a < end; a += PAGE_SIZE) {
		spinlock_t *ptl;
		pte_t *ptep = pte_offset_map_lock(&mm->pgt, a, &ptl), pte;
		struct page *page;

		if (!ptep) {
			/* No table, or a huge PMD: a THP's is taken whole. */
			pte_t *pmdp = pmd_lock_entry(&mm->pgt, a, false, false, &ptl);

			if (!pmdp)
				continue;
			pte = ptep_get(pmdp);
			page = pmd_trans_huge(pte) ? thp_folio(pool, pte) : NULL;
			if (page) {
				get_page(page);
				folios[(*nfolios)++] = page;
				a = (a & PMD_MASK) + PMD_SIZE - PAGE_SIZE;
			}
			spin_unlock(ptl);
			continue;
		}
		pte = ptep_get(ptep);
		if (pte_present(pte) && !pte_special(pte)) {
			page = thp_folio(pool, pte);
			if (page) {
				if (*nfolios == 0 || folios[*nfolios - 1] != page) {
					get_page(page);
					folios[(*nfolios)++] = page;
				}
			} else {
				page = pfn_to_page(pool, pte_pfn(pte));
				if (PageFlag(page, PG_anon) && !PageCompound(page)) {
					get_page(page);
					pages[(*nr)++] = page;
				}
			}
		}
		pte_unmap_unlock(ptep, ptl);
	}
}

int cow_swapout(struct cow_task *task, unsigned long addr, unsigned long len)
{
	struct mm_struct *mm = task->proc->mm;
	struct cow_system *sys = mm->sys;
	unsigned long start = addr & PAGE_MASK, end, nr = 0, nfolios = 0;
	struct page **pages, **folios;
	int err = 0;

	if (len == 0 || addr + len < addr || addr + len > TASK_SIZE)
		return COW_EINVAL;
	end = (addr + len + PAGE_SIZE - 1) & PAGE_MASK;
	pages = calloc(2 * ((end - start) / PAGE_SIZE), sizeof(*pages));
	if (!pages)
		return COW_ENOMEM;
	folios = pages + (end - start) / PAGE_SIZE;
	/* MADV_PAGEOUT: take the anon pages the range maps, then reclaim
	 * them without the mmap_lock.  A THP is split first (Linux splits
	 * one the range covers in part, and reclaim one it cannot swap out
	 * whole), and the range walked again for its pages; one that will
	 * not split stays whole, in memory. */
	down_read(&mm->mmap_lock);
	pageout_collect(mm, start, end, pages, &nr, folios, &nfolios);
	up_read(&mm->mmap_lock);
	if (nfolios > 0) {
		for (unsigned long i = 0; i < nr; i++)
			put_page(sys->pool, pages[i]);
		for (unsigned long i = 0; i < nfolios; i++) {
			if (trylock_page(folios[i])) {
				(void)split_folio(sys, folios[i]);
				unlock_page(folios[i]);
			}
			put_page(sys->pool, folios[i]);
		}
		down_read(&mm->mmap_lock);
		pageout_collect(mm, start, end, pages, &nr, folios, &nfolios);
		up_read(&mm->mmap_lock);
		for (unsigned long i = 0; i < nfolios; i++)
			put_page(sys->pool, folios[i]);
	}
	/* Advice, as MADV_PAGEOUT: a page kept in memory (pinned, or its
	 * write failed) is no error of the caller's.  But a page kept for
	 * want of swap (a full device, no swap-cache entry) is reported,
	 * COW_ENOMEM, after every page was tried: Linux's MADV_PAGEOUT
	 * returns 0 then, and the caller (a scenario that checks the pages
	 * are swapped next) would take the page still present for a
	 * policy's doing. */
	for (unsigned long i = 0; i < nr; i += SWAP_CLUSTER_MAX) {
		unsigned int n =
			(unsigned int)(nr - i < SWAP_CLUSTER_MAX ? nr - i : SWAP_CLUSTER_MAX);
		int e = shrink_pages(sys, pages + i, n, false);

		if (e && !err)
			err = e;
		for (unsigned int k = 0; k < n; k++)
			put_page(sys->pool, pages[i + k]);
	}
	free(pages);
	return err;
}
