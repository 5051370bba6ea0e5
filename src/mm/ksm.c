/*
 * KSM: kernel samepage merging.  Identical anonymous pages of mergeable
 * mappings (madvise MADV_MERGEABLE) become one write-protected KSM page;
 * a write to it always copies (do_wp_page never reuses a KSM page).
 *
 * A pass (ksm_scan, the `ksm_merge` operation) runs under the KSM mutex
 * and stands for the two full scans of ksmd that the host backend drives:
 *
 *   1. The first scan: every registered mm is walked under its mmap_lock
 *      for read; each present anonymous page of a mergeable private VMA
 *      becomes an item (Linux's rmap_item: mm, address) with a checksum
 *      of its bytes.  No reference is kept.  Pages in the swap cache and
 *      KSM pages are left out; pages of a THP are in (merging one splits
 *      its folio first), hugetlb's are not.
 *   2. The second scan, cmp_and_merge_page for each item in turn: the
 *      page its address maps now is looked up with one reference (Linux's
 *      follow_page(FOLL_GET)), held only while the item is compared, and
 *      compared first with the KSM pages (the stable tree); on a match
 *      the item's mapping is merged into that KSM page.  Otherwise, if
 *      its checksum is unchanged since the first scan (a page that
 *      changes is not worth a node), with the unstable tree: the earlier
 *      items of this scan, each one's page looked up again with one
 *      reference (get_mergeable_page).  The tree holds one node per
 *      content.  A page with no match becomes a node; a page that
 *      matches a node is merged with it (try_to_merge_two_pages: the
 *      item's page becomes the KSM page, then the node's page is merged
 *      into it) and, merged or not, never becomes a node itself.  So
 *      when the first page of some bytes cannot be merged (pinned), no
 *      later page of those bytes merges in that scan either.  When the
 *      node's page could not follow, the item's half-made KSM page is
 *      broken again (break_cow: a fault gives the address a copy); a PTE
 *      that fork made stays on it, a KSM page with no node that nothing
 *      merges into.  A KSM page, with a node or not, is never compared
 *      again (Linux's write_protect_page finds no anon_vma for it).
 *
 * A page is referenced once by the item being compared and once more only
 * as another item's node, never through both at once (a node that maps
 * the item's own page, which fork shares, ends the search: Linux's "don't
 * substitute a ksm page for a forked page").  So a page that two PTEs map
 * meets the count check below with mapcount 2 + 1 == refcount 3.
 *
 * Merging one mapping (try_to_merge_one_page) takes the mm's mmap_lock for
 * read again, finds the VMA again and locks the page (a trylock: a busy
 * page is left for the next pass), then:
 *
 *   write_protect_page  under the PT lock the PTE is cleared and every TLB
 *                       shot down (which waits for a gup-fast walking
 *                       there), then the page may be merged only if
 *                       refcount == mapcount + 1 + swapcache: any other
 *                       reference is a GUP reference (direct I/O, a pin)
 *                       that could still write to the page, and merging
 *                       would leave its data behind.  This is the count
 *                       check Andrea Arcangeli insisted on in 2009.  From
 *                       5.19 an exclusive page must also give up its
 *                       exclusivity, which fails when it may be pinned.
 *                       The PTE comes back write-protected and clean.
 *   compare             the bytes, now that no one can write them;
 *   replace_page        the PTE is pointed at the KSM page (read-only),
 *                       the old page loses the mapping and its reference.
 *
 * The stable pages are kept as a list of nodes (kpfn); a KSM page records
 * its node in page->mapping, 0 for none (KSM pages are never walked
 * through the anon reverse map: reclaim keeps them).  The node holds no
 * reference: a node whose page was freed, and maybe reused, is found
 * stale on lookup and dropped, as Linux's get_ksm_page does; so is one
 * whose page is mapped nowhere any more.  The unstable tree is the
 * item array with a flag, searched in scan order: the model has no
 * rbtree to be corrupted by pages that change, so where Linux gives up a
 * search at a node whose page is gone, the model drops that node and
 * searches on.
 *
 * Locks: KSM mutex -> mmap_lock -> page lock -> PT lock.  An mm is
 * registered (ksm_enter) after madvise or fork dropped its mmap_lock, and
 * unregistered by mm_destroy under the KSM mutex, so a pass never meets a
 * freed mm.  One mmap_lock is held at a time.  break_cow's fault runs
 * under the KSM mutex and one mmap_lock, and may reclaim to allocate its
 * copy: nothing reclaim waits for takes the KSM mutex.
 */
#include "mm/mm.h"

#include <stdlib.h>
#include <string.h>

bool ksm_test_skip_count_check;
void (*ksm_test_between_scans)(struct cow_system *sys);

struct ksm_stable {
	struct ksm_stable *next;
	unsigned long kpfn;
};

/* Linux's rmap_item: one per (mm, address), no page reference held. */
struct ksm_item {
	struct mm_struct *mm;
	unsigned long addr;
	uint32_t checksum; /* of the bytes when collected (the first scan) */
	bool unstable;	   /* a node of the unstable tree */
};

struct ksm_collect {
	struct ksm_item *items;
	size_t nr, cap;
	struct mm_struct *mm;
	struct frame_pool *pool;
	bool failed; /* memory ran short: the item array, a node, a copy */
};

void ksm_init(struct cow_system *sys)
{
	mutex_init_rank(&sys->ksm_lock, RANK_KSM);
	INIT_LIST_HEAD(&sys->ksm_mms);
	sys->ksm_stable = NULL;
}

void ksm_destroy(struct cow_system *sys)
{
	while (sys->ksm_stable) {
		struct ksm_stable *s = sys->ksm_stable;

		sys->ksm_stable = s->next;
		free(s);
	}
}

void ksm_enter(struct mm_struct *mm)
{
	struct cow_system *sys = mm->sys;

	if (test_bit(MMF_VM_MERGEABLE, &mm->flags))
		return;
	mutex_lock(&sys->ksm_lock);
	if (!test_bit(MMF_VM_MERGEABLE, &mm->flags)) {
		list_add_tail(&mm->ksm_node, &sys->ksm_mms);
		set_bit(MMF_VM_MERGEABLE, &mm->flags);
	}
	mutex_unlock(&sys->ksm_lock);
}

void ksm_exit(struct mm_struct *mm)
{
	struct cow_system *sys = mm->sys;

	if (!test_bit(MMF_VM_MERGEABLE, &mm->flags))
		return;
	mutex_lock(&sys->ksm_lock);
	list_del(&mm->ksm_node);
	clear_bit(MMF_VM_MERGEABLE, &mm->flags);
	mutex_unlock(&sys->ksm_lock);
}

/* ---- the items ----------------------------------------------------------------------- */

/* Deliberate races: KSM reads candidate pages that are still mapped
 * writable, while the processes' threads may store to them (the
 * checksum, and the tree searches' compares).  Linux's KSM does the same
 * (calc_checksum(), memcmp_pages() in the tree walks): a torn read only
 * gives a wrong checksum or a wrong match, and no merge rests on it, since
 * merge_one() compares again after write_protect_page() has made the page
 * read-only and flushed the TLBs.  So these reads go unchecked by
 * ThreadSanitizer (deliberate_race_begin(), src/sync/sync.h); the
 * write-protected compare does not. */

/* A 32-bit checksum of the page's bytes (Linux's calc_checksum, xxhash
 * there): cheap, and only ever compared with itself. */
static uint32_t page_checksum(const struct frame_pool *pool, const struct page *page)
{
	const uint64_t *w = page_address(pool, page);
	uint64_t h = 0xcbf29ce484222325ull;

	deliberate_race_begin(); /* the page may be written meanwhile (above) */
	for (size_t c = 0; c < PAGE_SIZE / sizeof(*w); c += ACCESS_CHUNK / sizeof(*w)) {
		sync_point(SYNC_READ, &w[c]); /* a step per chunk, as a copy */
		for (size_t i = c; i < c + ACCESS_CHUNK / sizeof(*w); i++)
			h = (h ^ w[i]) * 0x100000001b3ull;
	}
	deliberate_race_end();
	return (uint32_t)(h ^ (h >> 32));
}

/* Whether pages a and b hold the same bytes.  Under the explorer a's
 * bytes are copied out a chunk a step (read_frame_chunked), then b's
 * compared with them the same way. */
static bool same_bytes(const struct frame_pool *pool, const struct page *a, const struct page *b)
{
	unsigned char copy[PAGE_SIZE];
	const unsigned char *pb = page_address(pool, b);

	if (!sync_explorer)
		return memcmp(page_address(pool, a), pb, PAGE_SIZE) == 0;
	read_frame_chunked(pool, a, 0, copy, PAGE_SIZE);
	for (unsigned long off = 0; off < PAGE_SIZE; off += ACCESS_CHUNK) {
		sync_point(SYNC_READ, pb + off);
		if (memcmp(copy + off, pb + off, ACCESS_CHUNK) != 0)
			return false;
	}
	return true;
}

/* The tree searches' compare of a page that may be written meanwhile
 * (above). */
static bool same_bytes_racy(const struct frame_pool *pool, const struct page *a,
			    const struct page *b)
{
	bool same;

	deliberate_race_begin();
	same = same_bytes(pool, a, b);
	deliberate_race_end();
	return same;
}

/* May KSM look at the page this PTE maps? */
static struct page *mergeable_pte_page(struct frame_pool *pool, pte_t pte)
{
	struct page *page;

	if (!pte_present(pte) || pte_special(pte))
		return NULL;
	page = pfn_to_page(pool, pte_pfn(pte));
	/* A page of a THP is taken too: merging it splits its folio first
	 * (merge_one()).  hugetlb's pages are never merged. */
	if (!PageFlag(page, PG_anon) || PageFlag(page, PG_swapcache) ||
	    PageFlag(compound_head(page), PG_hugetlb))
		return NULL;
	return page;
}

static bool mergeable_vma(const struct vm_area_struct *vma)
{
	return vma && (vma->vm_flags & VM_MERGEABLE) && !(vma->vm_flags & VM_SHARED);
}

static void collect_pte(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep, void *arg)
{
	struct ksm_collect *c = arg;
	struct page *page = mergeable_pte_page(c->pool, ptep_get(ptep));

	(void)vma;
	if (c->failed || !page || PageFlag(page, PG_ksm))
		return;
	if (c->nr == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct ksm_item *items = FAULT_HIT(FI_KSM_ITEM_ALLOC)
						 ? NULL
						 : realloc(c->items, cap * sizeof(*items));

		if (!items) {
			c->failed = true;
			return;
		}
		c->items = items;
		c->cap = cap;
	}
	/* The PT lock keeps the page mapped, so its bytes can be read. */
	c->items[c->nr++] = (struct ksm_item){c->mm, addr, page_checksum(c->pool, page), false};
}

static void collect_mm(struct ksm_collect *c, struct mm_struct *mm)
{
	c->mm = mm;
	down_read(&mm->mmap_lock);
	for (int i = 0; i < mm->nr_vmas; i++) {
		struct vm_area_struct *vma = mm->vmas[i];

		if (mergeable_vma(vma))
			walk_pte_range(vma, vma->vm_start, vma->vm_end, collect_pte, c);
	}
	up_read(&mm->mmap_lock);
}

/* The page addr maps in a mergeable VMA, with a reference (Linux's
 * follow_page(FOLL_GET)), or NULL if it maps none KSM may look at.  The
 * mmap_lock is held. */
static struct page *follow_page(struct mm_struct *mm, unsigned long addr)
{
	struct page *page;
	spinlock_t *ptl;
	pte_t *ptep;

	if (!mergeable_vma(find_vma(mm, addr)))
		return NULL;
	ptep = pte_offset_map_lock(&mm->pgt, addr, &ptl);
	if (!ptep)
		return NULL;
	page = mergeable_pte_page(mm->sys->pool, ptep_get(ptep));
	if (page)
		get_page(page);
	pte_unmap_unlock(ptep, ptl);
	return page;
}

/* The page the item's address maps now, with a reference (Linux's
 * scan_get_next_rmap_item and get_mergeable_page), or NULL. */
static struct page *item_page(struct ksm_item *it)
{
	struct page *page;

	down_read(&it->mm->mmap_lock);
	page = follow_page(it->mm, it->addr);
	up_read(&it->mm->mmap_lock);
	return page;
}

/* ---- merging one mapping ------------------------------------------------------------ */

/* Write-protect the PTE at addr that maps page (page lock held); 0 with
 * the PTE value in *orig, or COW_EBUSY if it moved or someone else may
 * still write the page. */
static int write_protect_page(struct vm_area_struct *vma, struct page *page, unsigned long addr,
			      pte_t *orig)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	bool exclusive = PageFlag(page, PG_anon_exclusive);
	spinlock_t *ptl;
	pte_t *ptep = page_vma_mapped(page, vma, addr, &ptl);
	pte_t pte;
	int err = 0;

	if (!ptep)
		return COW_EBUSY;
	pte = ptep_get(ptep);
	if (pte_write(pte) || pte_dirty(pte) || exclusive) {
		int swapped = PageFlag(page, PG_swapcache);

		/* Clear and flush first: a gup-fast that read the PTE has
		 * taken its reference by the time the shootdown returns. */
		pte = ptep_get_and_clear(ptep);
		flush_tlb_mm(mm);
		if ((!ksm_test_skip_count_check &&
		     page_mapcount(page) + 1 + swapped != page_ref_count(page)) ||
		    (exclusive && sys->policy->anon_exclusive && page_maybe_dma_pinned(page))) {
			char counts[64];

			mm_decide(sys, "ksm %s: held beyond its mappings or maybe pinned, no merge",
				  mm_page_counts(sys, page, counts, sizeof(counts)));
			set_pte(ptep, pte);
			err = COW_EBUSY;
			goto out_unlock;
		}
		ClearPageFlag(page, PG_anon_exclusive);
		if (pte_dirty(pte))
			SetPageFlag(page, PG_dirty);
		pte = pte_mkclean(pte_wrprotect(pte));
		set_pte(ptep, pte);
	}
	*orig = pte;
out_unlock:
	pte_unmap_unlock(ptep, ptl);
	return err;
}

/* Point the PTE at addr, still orig, at kpage instead of page. */
static int replace_page(struct vm_area_struct *vma, struct page *page, struct page *kpage,
			unsigned long addr, pte_t orig)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	spinlock_t *ptl;
	pte_t *ptep = pte_offset_map_lock(&mm->pgt, addr, &ptl);

	if (!ptep)
		return COW_EBUSY;
	if (ptep_get(ptep) != orig) {
		pte_unmap_unlock(ptep, ptl);
		return COW_EBUSY;
	}
	get_page(kpage);
	page_dup_anon_rmap(kpage);
	ptep_get_and_clear(ptep);
	flush_tlb_mm(mm);
	set_pte(ptep, pfn_pte(page_to_pfn(sys->pool, kpage), orig & ~PTE_PFN_MASK));
	page_remove_rmap(page);
	pte_unmap_unlock(ptep, ptl);
	put_page(sys->pool, page); /* the mapping's reference */
	return 0;
}

/* Give the KSM page kpage its node in the stable tree (Linux's
 * stable_tree_insert), under the page lock. */
static int stable_insert(struct cow_system *sys, struct page *kpage)
{
	struct ksm_stable *s = FAULT_HIT(FI_KSM_NODE_ALLOC) ? NULL : calloc(1, sizeof(*s));

	if (!s)
		return COW_ENOMEM;
	s->kpfn = page_to_pfn(sys->pool, kpage);
	s->next = sys->ksm_stable;
	sys->ksm_stable = s;
	lock_page(kpage);
	WRITE_ONCE(kpage->mapping, (unsigned long)s);
	unlock_page(kpage);
	return 0;
}

/* Merge the item's mapping of page (referenced by the caller) into
 * kpage, or (kpage NULL) write-protect it and make page a KSM page:
 * Linux's try_to_merge_with_ksm_page.  0 on success. */
static int merge_one(struct ksm_item *it, struct page *page, struct page *kpage)
{
	struct mm_struct *mm = it->mm;
	struct vm_area_struct *vma;
	pte_t orig;
	int err = COW_EBUSY;

	down_read(&mm->mmap_lock);
	vma = find_vma(mm, it->addr);
	if (!mergeable_vma(vma) || !trylock_page(page))
		goto out;
	/* try_to_merge_one_page(): a page of a THP splits its folio first,
	 * which fails (and the page stays) while anything but its mappings
	 * and our reference holds the folio; the lock and our reference
	 * stay with the page. */
	if (PageCompound(page) && split_folio(mm->sys, page) != 0) {
		unlock_page(page);
		goto out;
	}
	if (write_protect_page(vma, page, it->addr, &orig) == 0) {
		struct frame_pool *pool = mm->sys->pool;

		if (!kpage) {
			/* A KSM page with no node yet (Linux's
			 * set_page_stable_node(page, NULL)): the pair's
			 * other half is merged into it, then it gets one.
			 * Every other PTE, which fork made, is read-only. */
			SetPageFlag(page, PG_ksm);
			WRITE_ONCE(page->mapping, 0);
			err = 0;
		} else if (same_bytes(pool, page, kpage))
			err = replace_page(vma, page, kpage, it->addr, orig);
	}
	unlock_page(page);
out:
	up_read(&mm->mmap_lock);
	return err;
}

/* The item's page became a KSM page but its partner could not follow:
 * give the item's address a page of its own again (Linux's break_cow);
 * a PTE that fork made stays on the KSM page, which has no node.
 * Like Linux's break_ksm this is a fault at the address: from 6.1 an
 * unshare fault (a private copy, left read-only), before that a write
 * fault.  The model takes the unshare fault wherever its preset tracks
 * PG_anon_exclusive (5.19 on).  If the fault cannot copy (no memory,
 * the mapping lost its write permission) the page stays a KSM page,
 * mapped once, until it is written or unmapped; the fault's error is
 * returned (Linux's break_cow ignores break_ksm's). */
static int break_cow(struct ksm_item *it)
{
	struct mm_struct *mm = it->mm;
	unsigned int flags =
		mm->sys->policy->anon_exclusive ? FAULT_FLAG_UNSHARE : FAULT_FLAG_WRITE;
	struct page *page;
	int err = 0;

	down_read(&mm->mmap_lock);
	page = follow_page(mm, it->addr);
	if (page) {
		if (PageFlag(page, PG_ksm))
			err = handle_mm_fault_locked(mm, it->addr, flags);
		put_page(mm->sys->pool, page);
	}
	up_read(&mm->mmap_lock);
	return err;
}

/* A pass reports COW_ENOMEM when memory ran short anywhere in it (the
 * item array, a stable node, break_cow's copy): the pass did less than
 * it would have, and the caller is told.  Linux's ksmd has no caller and
 * tries again on its next scan. */
static void note_enomem(int err, bool *short_of_memory)
{
	if (err == COW_ENOMEM)
		*short_of_memory = true;
}

/* ---- the stable tree ---------------------------------------------------------------- */

/* The node's page with a reference, or NULL if it is no KSM page of this
 * node any more (freed, maybe reused). */
static struct page *get_ksm_page(struct cow_system *sys, struct ksm_stable *s)
{
	struct page *page = pfn_to_page(sys->pool, s->kpfn);

	if (!get_page_unless_zero(page))
		return NULL;
	if (PageFlag(page, PG_ksm) && READ_ONCE(page->mapping) == (unsigned long)s)
		return page;
	put_page(sys->pool, page);
	return NULL;
}

/* A KSM page with the bytes of page, with a reference, or NULL (Linux's
 * stable_tree_search).  A node whose page was freed, or is mapped nowhere
 * any more (a pair that broke up), is dropped: no one can map an
 * unmapped KSM page again (Linux's rmap_hlist_len test). */
static struct page *stable_search(struct cow_system *sys, struct page *page)
{
	for (struct ksm_stable **pp = &sys->ksm_stable; *pp;) {
		struct ksm_stable *s = *pp;
		struct page *kpage = get_ksm_page(sys, s);

		if (kpage && page_mapcount(kpage) == 0) {
			put_page(sys->pool, kpage);
			kpage = NULL;
		}
		if (!kpage) {
			*pp = s->next;
			free(s);
			continue;
		}
		if (same_bytes_racy(sys->pool, page, kpage))
			return kpage;
		put_page(sys->pool, kpage);
		pp = &s->next;
	}
	return NULL;
}

/* ---- the unstable tree -------------------------------------------------------------- */

/* The node of the unstable tree with the bytes of page, its page
 * referenced in *tree_page; NULL if there is none (Linux's
 * unstable_tree_search_insert).  The tree holds one node per content: a
 * page that matches a node is never inserted beside it, even when the
 * two cannot be merged, so all later pages of that content meet the
 * same node.  *forked is set when the node maps page itself (a page
 * fork shares): Linux stops there and inserts nothing. */
static struct ksm_item *unstable_search(struct cow_system *sys, struct ksm_item *items, size_t n,
					struct page *page, struct page **tree_page, bool *forked)
{
	*forked = false;
	for (size_t j = 0; j < n; j++) {
		struct ksm_item *t = &items[j];
		struct page *tpage;

		if (!t->unstable)
			continue;
		tpage = item_page(t);
		if (!tpage || PageFlag(tpage, PG_ksm)) {
			/* Its address maps no page KSM may take now, or a
			 * KSM page.  Linux gives up the search at a node
			 * whose page is gone; the model forgets the node and
			 * searches on. */
			t->unstable = false;
			if (tpage)
				put_page(sys->pool, tpage);
			continue;
		}
		if (tpage == page) {
			put_page(sys->pool, tpage);
			*forked = true;
			return NULL;
		}
		if (same_bytes_racy(sys->pool, page, tpage)) {
			*tree_page = tpage;
			return t;
		}
		put_page(sys->pool, tpage);
	}
	return NULL;
}

/* ---- one item: cmp_and_merge_page --------------------------------------------------------- */

/* Compare the item's page with the stable tree, then with the unstable
 * tree, and merge: 1 if a mapping was merged into another page.  Memory
 * that ran short sets *nomem. */
static int cmp_and_merge_page(struct cow_system *sys, struct ksm_item *items, size_t i, bool *nomem)
{
	struct ksm_item *it = &items[i], *t;
	struct page *page = item_page(it), *kpage, *tpage;
	bool forked, split;
	int merged = 0;

	if (!page)
		return 0;
	if (PageFlag(page, PG_ksm))
		goto out; /* merged already (or a KSM page fork shared) */
	kpage = stable_search(sys, page);
	if (kpage) {
		merged = merge_one(it, page, kpage) == 0;
		put_page(sys->pool, kpage);
		goto out;
	}
	/* A page whose bytes changed since the first scan changes often:
	 * it is not worth a node. */
	if (page_checksum(sys->pool, page) != it->checksum)
		goto out;
	t = unstable_search(sys, items, i, page, &tpage, &forked);
	if (!t) {
		it->unstable = !forked;
		goto out;
	}
	/* Two pages of one THP: neither merge can split the folio while the
	 * other's reference holds it. */
	split = PageCompound(page) && compound_head(page) == compound_head(tpage);
	/* try_to_merge_two_pages: the item's page becomes the KSM page,
	 * then the node's page is merged into it. */
	if (merge_one(it, page, NULL) == 0) {
		if (merge_one(t, tpage, page) != 0) {
			note_enomem(break_cow(it), nomem);
		} else if (stable_insert(sys, page) != 0) {
			/* No node: neither mapping may stay on the page. */
			*nomem = true;
			note_enomem(break_cow(t), nomem);
			note_enomem(break_cow(it), nomem);
		} else {
			t->unstable = false;
			merged = 1;
		}
	}
	put_page(sys->pool, tpage);
	if (split && !merged && trylock_page(page)) {
		/* cmp_and_merge_page(): split it now, with the node's
		 * reference gone, so that the next pass can merge its pages;
		 * skipped if the lock is busy. */
		(void)split_folio(sys, page);
		unlock_page(page);
	}
out:
	put_page(sys->pool, page);
	return merged;
}

int ksm_scan(struct cow_system *sys, unsigned long *nr_merged)
{
	struct ksm_collect c = {.pool = sys->pool};
	struct mm_struct *mm;
	unsigned long merged = 0;

	mutex_lock(&sys->ksm_lock);
	list_for_each_entry(mm, &sys->ksm_mms, ksm_node) collect_mm(&c, mm);
	if (ksm_test_between_scans)
		ksm_test_between_scans(sys);
	for (size_t i = 0; i < c.nr; i++)
		merged += cmp_and_merge_page(sys, c.items, i, &c.failed);
	mutex_unlock(&sys->ksm_lock);
	free(c.items);
	*nr_merged = merged;
	/* The pages collected before memory ran short were scanned, and
	 * every merge that could be made was. */
	return c.failed ? COW_ENOMEM : 0;
}
