/*
 * KSM: kernel samepage merging.  Identical anonymous pages of mergeable
 * mappings (madvise MADV_MERGEABLE) become one write-protected KSM page;
 * a write to it always copies (do_wp_page never reuses a KSM page).
 *
 * A pass (ksm_scan, what ksmd does over time) runs under the KSM mutex:
 *
 *   1. Every registered mm is walked under its mmap_lock for read; each
 *      present anonymous page of a mergeable private VMA becomes an item
 *      (mm, address, page) with a reference held (KSM's "+1").  Pages in
 *      the swap cache and KSM pages are left out.
 *   2. Each item in turn is compared with the stable pages (the KSM pages
 *      made so far); on a match its mapping is merged into that page.
 *      Otherwise it is compared with the earlier unmerged items of this
 *      pass (Linux's unstable tree); on a match both are write-protected
 *      and the item's mapping is merged into the earlier page, which
 *      becomes a KSM page.
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
 * its node in page->mapping (KSM pages are never walked through the anon
 * reverse map: reclaim keeps them).  The node holds no reference: a node
 * whose page was freed, and maybe reused, is found stale on lookup and
 * dropped, as Linux's get_ksm_page does.
 *
 * Locks: KSM mutex -> mmap_lock -> page lock -> PT lock.  An mm is
 * registered (ksm_enter) after madvise or fork dropped its mmap_lock, and
 * unregistered by mm_destroy under the KSM mutex, so a pass never meets a
 * freed mm.  One mmap_lock is held at a time.
 */
#include "mm/mm.h"

#include <stdlib.h>
#include <string.h>

bool ksm_test_skip_count_check;

struct ksm_stable {
	struct ksm_stable *next;
	unsigned long kpfn;
	unsigned long anon_mapping; /* the page's anon_vma before it became KSM */
};

struct ksm_item {
	struct mm_struct *mm;
	unsigned long addr;
	struct page *page; /* with the pass's reference */
	bool unstable;	   /* unmerged: a candidate for later items */
};

struct ksm_collect {
	struct ksm_item *items;
	size_t nr, cap;
	struct mm_struct *mm;
	struct frame_pool *pool;
	bool failed; /* no host memory for the item array */
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

/* ---- step 1: the items ----------------------------------------------------------- */

static void collect_pte(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep, void *arg)
{
	struct ksm_collect *c = arg;
	pte_t pte = ptep_get(ptep);
	struct page *page;

	(void)vma;
	if (c->failed || !pte_present(pte) || pte_special(pte))
		return;
	page = pfn_to_page(c->pool, pte_pfn(pte));
	if (!PageFlag(page, PG_anon) || PageFlag(page, PG_ksm) || PageFlag(page, PG_swapcache))
		return;
	if (c->nr == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct ksm_item *items = realloc(c->items, cap * sizeof(*items));

		if (!items) {
			c->failed = true;
			return;
		}
		c->items = items;
		c->cap = cap;
	}
	get_page(page);
	c->items[c->nr++] = (struct ksm_item){c->mm, addr, page, false};
}

static void collect_mm(struct ksm_collect *c, struct mm_struct *mm)
{
	c->mm = mm;
	down_read(&mm->mmap_lock);
	for (int i = 0; i < mm->nr_vmas; i++) {
		struct vm_area_struct *vma = mm->vmas[i];

		if ((vma->vm_flags & VM_MERGEABLE) && !(vma->vm_flags & VM_SHARED))
			walk_pte_range(vma, vma->vm_start, vma->vm_end, collect_pte, c);
	}
	up_read(&mm->mmap_lock);
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

/* Make page (locked, write-protected in its one mapping) a KSM page. */
static int stable_insert(struct cow_system *sys, struct page *page)
{
	struct ksm_stable *s = calloc(1, sizeof(*s));

	if (!s)
		return COW_ENOMEM;
	s->kpfn = page_to_pfn(sys->pool, page);
	s->anon_mapping = page->mapping;
	s->next = sys->ksm_stable;
	sys->ksm_stable = s;
	WRITE_ONCE(page->mapping, (unsigned long)s);
	SetPageFlag(page, PG_ksm);
	return 0;
}

/* Merge the item's mapping into kpage, or (kpage NULL) write-protect it
 * and make its page a KSM page.  0 on success. */
static int merge_one(struct ksm_item *it, struct page *kpage)
{
	struct mm_struct *mm = it->mm;
	struct vm_area_struct *vma;
	pte_t orig;
	int err = COW_EBUSY;

	down_read(&mm->mmap_lock);
	vma = find_vma(mm, it->addr);
	if (!vma || !(vma->vm_flags & VM_MERGEABLE) || (vma->vm_flags & VM_SHARED) ||
	    !trylock_page(it->page))
		goto out;
	if (write_protect_page(vma, it->page, it->addr, &orig) == 0) {
		struct frame_pool *pool = mm->sys->pool;

		if (!kpage)
			err = stable_insert(mm->sys, it->page);
		else if (memcmp(page_address(pool, it->page), page_address(pool, kpage),
				PAGE_SIZE) == 0)
			err = replace_page(vma, it->page, kpage, it->addr, orig);
	}
	unlock_page(it->page);
out:
	up_read(&mm->mmap_lock);
	return err;
}

/* ---- the stable pages -------------------------------------------------------------- */

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

/* The newest KSM page found no partner: an anonymous page again, as
 * Linux's break_cow leaves it (only if nobody took it meanwhile; else it
 * stays a KSM page until it is freed). */
static void stable_undo(struct cow_system *sys, struct page *page)
{
	struct ksm_stable *s = sys->ksm_stable;

	COW_ASSERT(s && s->kpfn == page_to_pfn(sys->pool, page));
	if (!trylock_page(page))
		return;
	if (PageFlag(page, PG_ksm) && page_mapcount(page) <= 1) {
		ClearPageFlag(page, PG_ksm);
		WRITE_ONCE(page->mapping, s->anon_mapping);
		sys->ksm_stable = s->next;
		free(s);
	}
	unlock_page(page);
}

/* Merge the item into a stable page with the same bytes: 1 if merged. */
static int merge_with_stable(struct cow_system *sys, struct ksm_item *it)
{
	const void *data = page_address(sys->pool, it->page);

	for (struct ksm_stable **pp = &sys->ksm_stable; *pp;) {
		struct ksm_stable *s = *pp;
		struct page *kpage = get_ksm_page(sys, s);
		int merged = 0;

		if (!kpage) {
			*pp = s->next; /* stale */
			free(s);
			continue;
		}
		if (memcmp(data, page_address(sys->pool, kpage), PAGE_SIZE) == 0)
			merged = merge_one(it, kpage) == 0;
		put_page(sys->pool, kpage);
		if (merged)
			return 1;
		pp = &s->next;
	}
	return 0;
}

/* Merge the item and an earlier unmerged one with the same bytes into a
 * new KSM page (the earlier one's): 1 if merged. */
static int merge_with_unstable(struct cow_system *sys, struct ksm_item *items, size_t n)
{
	struct ksm_item *it = &items[n];
	const void *data = page_address(sys->pool, it->page);

	for (size_t j = 0; j < n; j++) {
		struct ksm_item *t = &items[j];

		if (!t->unstable || t->page == it->page || PageFlag(t->page, PG_ksm) ||
		    memcmp(data, page_address(sys->pool, t->page), PAGE_SIZE) != 0)
			continue;
		if (merge_one(t, NULL) != 0)
			continue;
		/* t's page is a KSM page now, its mapping write-protected:
		 * it holds still while the item is compared and merged. */
		if (merge_one(it, t->page) == 0) {
			t->unstable = false;
			return 1;
		}
		stable_undo(sys, t->page);
	}
	return 0;
}

int ksm_scan(struct cow_system *sys, unsigned long *nr_merged)
{
	struct ksm_collect c = {.pool = sys->pool};
	struct mm_struct *mm;
	unsigned long merged = 0;

	mutex_lock(&sys->ksm_lock);
	list_for_each_entry(mm, &sys->ksm_mms, ksm_node) collect_mm(&c, mm);
	for (size_t i = 0; i < c.nr; i++) {
		struct ksm_item *it = &c.items[i];

		if (PageFlag(it->page, PG_ksm))
			continue;
		if (merge_with_stable(sys, it) || merge_with_unstable(sys, c.items, i))
			merged++;
		else
			it->unstable = true;
	}
	mutex_unlock(&sys->ksm_lock);
	for (size_t i = 0; i < c.nr; i++)
		put_page(sys->pool, c.items[i].page);
	free(c.items);
	*nr_merged = merged;
	/* The pages collected before host memory ran short were scanned. */
	return c.failed ? COW_ENOMEM : 0;
}
