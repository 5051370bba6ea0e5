/*
 * Transparent huge pages: anonymous memory mapped by PMDs that point at
 * a PMD-sized folio (page.h) rather than at a PTE table.
 *
 * Where.  A private anonymous mapping that asked for them (VM_HUGEPAGE:
 * `map ... thp`, or madvise(MADV_HUGEPAGE)), under a policy whose era
 * has THP (thp != THP_NONE), gets a huge PMD on its first fault in each
 * 2 MiB-aligned range that lies wholly inside it, when the pool has an
 * aligned block of 512 free frames; otherwise the fault falls back to
 * small pages, as Linux's does when it cannot allocate one.  As Linux's
 * "madvise" mode: no mapping gets THP it did not ask for.
 *
 * Counts, as Linux keeps them.  A huge PMD holds one reference on the
 * folio and adds one to its entire mapcount; every subpage is PG_anon
 * with the anon_vma and its own index (Linux keeps those on the head
 * alone; cowlab repeats them on each subpage so that the reverse map and
 * every PageFlag(page, PG_anon) test work on a subpage unchanged).
 * PG_anon_exclusive is kept on every subpage, in every era as for small
 * pages (only 5.19+ decide by it): a fresh THP is exclusive whole, a
 * reuse makes it so, fork clears all 512 bits, a split keeps each.
 *
 * Locks.  The PMD lock is the mm's page_table_lock (pgtable.h); a huge
 * PMD is installed, write-protected, split and zapped under it, and the
 * folio's counts change while it is held, going up before the entry
 * that needs them appears and down after it is gone (the order the
 * checker's S2 and S3 rely on).
 *
 * Splitting a PMD (split_huge_pmd) replaces the huge leaf by a PTE table
 * (the one deposited when the huge PMD was installed, so a split never
 * fails for want of memory) whose 512 PTEs map the subpages with the
 * PMD's bits: each subpage's mapcount goes up by one, the entire
 * mapcount down by one, and the folio gains 511 references (one per PTE
 * where the PMD held one).  The folio stays one folio, now PTE-mapped,
 * until reclaim or KSM splits the folio itself (split_folio() below).
 * Linux also splits it from its deferred-split list, which cowlab does
 * not model.  Everything that changes PTEs and knows no huge PMD
 * (mprotect, clear_refs, KSM's scan, a zap of part of one) splits the
 * PMD first, through walk_pte_range().
 *
 * The huge zero page (3.8).  A read fault where a THP could go maps a
 * PMD-sized folio of zeroes that every such mapping shares, as the small
 * zero page is shared: made on first use, kept by the system, flagged
 * PG_zero on every subpage; its PMD is read-only and special (pte_special:
 * no reference, no mapcount, no reverse map), with a deposited table
 * like any huge PMD.  Splitting it maps the small zero page 512 times; a
 * write maps a new THP or splits it, by the era (thp_cow_huge).
 */
#include "mm/mm.h"

static bool thp_allowed(const struct vm_area_struct *vma, unsigned long haddr)
{
	return vma->vm_mm->sys->policy->thp != THP_NONE && (vma->vm_flags & VM_HUGEPAGE) &&
	       !(vma->vm_flags & (VM_NOHUGEPAGE | VM_SHARED)) && !vma->shm &&
	       haddr >= vma->vm_start && haddr + PMD_SIZE <= vma->vm_end;
}

pte_t mk_huge_pmd(struct cow_system *sys, struct page *head, const struct vm_area_struct *vma)
{
	pte_t pmd = pfn_pte(page_to_pfn(sys->pool, head), vma_pte_bits(vma));

	pmd = pte_mkyoung(pte_mkdirty(pmd_mkhuge(pmd)));
	return (vma->vm_flags & VM_WRITE) ? pte_mkwrite(pmd) : pmd;
}

void folio_set_exclusive(struct page *head, bool exclusive)
{
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		if (exclusive)
			SetPageFlag(head + i, PG_anon_exclusive);
		else
			ClearPageFlag(head + i, PG_anon_exclusive);
	}
}

void folio_add_new_anon_rmap(struct page *head, struct vm_area_struct *vma, unsigned long haddr,
			     bool exclusive)
{
	struct anon_vma *av = READ_ONCE(vma->anon_vma);

	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		struct page *page = head + i;

		page->mapping = (unsigned long)av;
		page->index = ((haddr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff + i;
		SetPageFlag(page, PG_anon);
	}
	folio_set_exclusive(head, exclusive);
}

void huge_pmd_install(struct mm_struct *mm, pte_t *pmdp, struct page *head, pte_t pmd)
{
	/* Before the counts move: the checker takes this mm's PMD lock
	 * for counts in flight only in an mm that has huge PMDs. */
	set_bit(MMF_HAS_THP, &mm->flags);
	atomic_inc(&head[1]._entire_mapcount);
	atomic_long_add(HPAGE_PMD_NR, &mm->nr_anon);
	set_pte(pmdp, pmd);
}

/* get_huge_zero_page(): the huge zero page, made now if no fault made it
 * yet (two racing faults may both allocate; one keeps its folio); NULL
 * without the small zero page or when the pool has no aligned 2 MiB. */
static struct page *get_huge_zero_page(struct cow_system *sys)
{
	struct page *zero = READ_ONCE(sys->huge_zero_page), *old;

	if (zero || !sys->zero_page)
		return zero;
	zero = alloc_folio(sys->pool, HPAGE_PMD_ORDER, GFP_ZERO);
	if (!zero)
		return NULL;
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		SetPageFlag(zero + i, PG_zero);
	old = cmpxchg(&sys->huge_zero_page, NULL, zero);
	if (old) {
		huge_zero_page_free(sys->pool, zero);
		return old;
	}
	return zero;
}

void huge_zero_page_free(struct frame_pool *pool, struct page *zero)
{
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		ClearPageFlag(zero + i, PG_zero);
	put_page(pool, zero);
}

/* A read fault at the empty PMD at haddr: map the huge zero page there,
 * read-only and clean (set_huge_zero_page()). */
static int map_huge_zero_page(struct vm_area_struct *vma, unsigned long haddr)
{
	struct mm_struct *mm = vma->vm_mm;
	struct page *zero = get_huge_zero_page(mm->sys), *table;
	spinlock_t *ptl;
	pte_t *pmdp;

	if (!zero)
		return THP_FALLBACK;
	table = pte_table_alloc(&mm->pgt); /* deposited for a later split */
	if (!table)
		return THP_FALLBACK;
	pmdp = pmd_lock_entry(&mm->pgt, haddr, true, false, &ptl);
	if (!pmdp || !pte_none(ptep_get(pmdp))) {
		if (pmdp)
			spin_unlock(ptl);
		pte_table_free(table);
		return pmdp ? 0 : COW_ENOMEM;
	}
	set_bit(MMF_HAS_THP, &mm->flags);
	pgtable_deposit(&mm->pgt, table);
	set_pte(pmdp, pte_mkspecial(pmd_mkhuge(
			      pfn_pte(page_to_pfn(mm->sys->pool, zero), vma_pte_bits(vma)))));
	spin_unlock(ptl);
	return 0;
}

int do_huge_pmd_anonymous_page(struct vm_area_struct *vma, unsigned long addr, unsigned int flags)
{
	unsigned long haddr = addr & PMD_MASK;
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	struct page *head, *table;
	spinlock_t *ptl;
	pte_t *pmdp;
	int err;

	if (!thp_allowed(vma, haddr))
		return THP_FALLBACK;
	if (!(flags & FAULT_FLAG_WRITE) && sys->zero_page)
		return map_huge_zero_page(vma, haddr);
	err = anon_vma_prepare(vma);
	if (err)
		return err;
	head = alloc_folio(sys->pool, HPAGE_PMD_ORDER, GFP_ZERO);
	if (!head)
		return THP_FALLBACK;
	table = pte_table_alloc(&mm->pgt); /* deposited for a later split */
	if (!table) {
		put_page(sys->pool, head);
		return THP_FALLBACK;
	}
	folio_add_new_anon_rmap(head, vma, haddr, true);
	lru_add(sys->pool, head);
	pmdp = pmd_lock_entry(&mm->pgt, haddr, true, false, &ptl);
	if (!pmdp || !pte_none(ptep_get(pmdp))) {
		/* No memory for the upper tables, or another thread mapped
		 * this range first (a PTE table or a huge PMD): the access
		 * retries against what it put there. */
		if (pmdp)
			spin_unlock(ptl);
		pte_table_free(table);
		put_page(sys->pool, head);
		return pmdp ? 0 : COW_ENOMEM;
	}
	pgtable_deposit(&mm->pgt, table);
	huge_pmd_install(mm, pmdp, head, mk_huge_pmd(sys, head, vma));
	spin_unlock(ptl);
	return 0;
}

/* Replace the huge PMD at pmdp (its value pmd; PMD lock held) by its
 * deposited table, filled with 512 PTEs that map the subpages with the
 * PMD's bits. */
static void split_huge_pmd_locked(struct mm_struct *mm, pte_t *pmdp, pte_t pmd)
{
	struct cow_system *sys = mm->sys;
	struct page *head = pfn_to_page(sys->pool, pte_pfn(pmd));
	struct page *table = pgtable_withdraw(&mm->pgt);
	pte_t *ptes = pte_table_entries(&mm->pgt, table);
	pte_t bits = pmd & PTE_FLAGS_MASK & ~(pte_t)_PAGE_PSE;

	if (is_huge_zero_pmd(pmd)) {
		/* __split_huge_zero_page_pmd(): the small zero page, special
		 * and read-only, 512 times; no counts move. */
		pte_t zero = pfn_pte(page_to_pfn(sys->pool, sys->zero_page), bits);

		for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
			ptes[i] = zero;
		pmd_populate_locked(&mm->pgt, pmdp, table);
		return;
	}
	/* Counts up first: a reference per PTE (the PMD's one goes last),
	 * a mapcount per subpage. */
	atomic_add(HPAGE_PMD_NR, &head->_refcount);
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		atomic_inc(&head[i]._mapcount);
		ptes[i] = pfn_pte(pte_pfn(pmd) + i, bits);
	}
	pmd_populate_locked(&mm->pgt, pmdp, table);
	atomic_dec(&head[1]._entire_mapcount);
	page_ref_sub(sys->pool, head, 1);
}

void split_huge_pmd(struct vm_area_struct *vma, unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	spinlock_t *ptl;
	pte_t *pmdp = pmd_lock_entry(&mm->pgt, addr & PMD_MASK, false, false, &ptl), pmd;

	if (!pmdp)
		return;
	pmd = ptep_get(pmdp);
	if (pmd_trans_huge(pmd))
		split_huge_pmd_locked(mm, pmdp, pmd);
	spin_unlock(ptl);
}

bool zap_huge_pmd(struct vm_area_struct *vma, unsigned long haddr, struct page **headp)
{
	struct mm_struct *mm = vma->vm_mm;
	struct page *table = NULL;
	spinlock_t *ptl;
	pte_t *pmdp = pmd_lock_entry(&mm->pgt, haddr, false, false, &ptl);
	bool zapped = false;

	*headp = NULL;
	if (!pmdp)
		return false;
	if (pmd_trans_huge(ptep_get(pmdp))) {
		pte_t pmd = ptep_get_and_clear(pmdp);

		zapped = true;
		if (!is_huge_zero_pmd(pmd)) {
			struct page *head = pfn_to_page(mm->sys->pool, pte_pfn(pmd));

			atomic_dec(&head[1]._entire_mapcount);
			atomic_long_sub(HPAGE_PMD_NR, &mm->nr_anon);
			*headp = head;
		}
		if (!(vma->vm_flags & VM_HUGETLB)) /* hugetlb deposits none */
			table = pgtable_withdraw(&mm->pgt);
	}
	spin_unlock(ptl);
	if (table)
		pte_table_free(table);
	return zapped; /* the caller flushes the TLBs, then drops the reference */
}

void huge_pmd_share(struct mm_struct *dst_mm, pte_t *dst_pmdp, pte_t *src_pmdp, pte_t pmd, bool cow)
{
	struct page *head = pfn_to_page(dst_mm->sys->pool, pte_pfn(pmd));

	set_bit(MMF_HAS_THP, &dst_mm->flags);
	if (is_huge_zero_pmd(pmd)) {
		set_pte(dst_pmdp, pmd); /* read-only already, and counts none */
		return;
	}
	get_page(head);
	atomic_inc(&head[1]._entire_mapcount);
	atomic_long_add(HPAGE_PMD_NR, &dst_mm->nr_anon);
	if (cow) {
		/* Shared from now on, as copy_pte() shares a small page. */
		folio_set_exclusive(head, false);
		if (pte_write(pmd)) {
			pmd = pte_wrprotect(pmd);
			ptep_modify(src_pmdp, _PAGE_RW, 0);
		}
	}
	set_pte(dst_pmdp, pte_mkold(pmd));
}

int copy_huge_pmd(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma,
		  unsigned long haddr)
{
	struct mm_struct *src_mm = src_vma->vm_mm, *dst_mm = dst_vma->vm_mm;
	struct page *table = pte_table_alloc(&dst_mm->pgt);
	spinlock_t *src_ptl, *dst_ptl;
	pte_t *src_pmdp, *dst_pmdp, pmd;

	if (!table)
		return COW_ENOMEM;
	dst_pmdp = pmd_lock_entry(&dst_mm->pgt, haddr, true, false, &dst_ptl);
	if (!dst_pmdp) {
		pte_table_free(table);
		return COW_ENOMEM;
	}
	src_pmdp = pmd_lock_entry(&src_mm->pgt, haddr, false, true, &src_ptl);
	pmd = src_pmdp ? ptep_get(src_pmdp) : 0;
	if (!pmd_trans_huge(pmd)) {
		if (src_pmdp)
			spin_unlock(src_ptl);
		spin_unlock(dst_ptl);
		pte_table_free(table);
		return THP_FALLBACK;
	}
	pgtable_deposit(&dst_mm->pgt, table);
	huge_pmd_share(dst_mm, dst_pmdp, src_pmdp, pmd, true);
	spin_unlock(src_ptl);
	spin_unlock(dst_ptl);
	return 0;
}

/* The era's answer: may a write (or unshare) fault reuse this folio,
 * mapped by a write-protected huge PMD, in place?  PMD lock held, and
 * the folio's lock. */
static bool huge_can_reuse(const struct cow_policy *policy, struct page *head)
{
	switch (policy->thp) {
	case THP_NONE: break;
	case THP_REUSE_MAPCOUNT:
		/* reuse_swap_page() on a THP: no subpage mapped more than
		 * once, counting the PMDs that map them all. */
		for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
			if (page_mapcount(head + i) > 1)
				return false;
		return true;
	case THP_REUSE_REFCOUNT: return page_ref_count(head) == 1;
	case THP_REUSE_EXCLUSIVE:
		return PageFlag(head, PG_anon_exclusive) || page_ref_count(head) == 1;
	case THP_REUSE_ALWAYS: return true;
	}
	return false;
}

/* Map a new THP in place of the huge PMD orig at pmdp (ptl its lock, not
 * held; mmap_lock held for read): a copy of old, on which the caller holds
 * a reference that this drops, or zeroes for the huge zero page (old
 * NULL).  The copy runs without locks and is used only if the PMD still
 * holds orig, as wp_page_copy() does for a small page.  No THP to be had:
 * split instead, and the PTE fault copies the page touched. */
static int huge_wp_copy(struct vm_area_struct *vma, unsigned long haddr, pte_t *pmdp,
			spinlock_t *ptl, pte_t orig, struct page *old)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	struct page *head = NULL;
	bool replaced = false;

	if (anon_vma_prepare(vma) == 0)
		head = alloc_folio(sys->pool, HPAGE_PMD_ORDER, old ? 0 : GFP_ZERO);
	if (!head) {
		if (old)
			put_page(sys->pool, old);
		split_huge_pmd(vma, haddr);
		return 0;
	}
	if (old) {
		/* The deliberate race of wp_page_copy(): see there. */
		deliberate_race_begin();
		for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
			copy_frame(sys->pool, head + i, old + i);
		deliberate_race_end();
	}
	folio_add_new_anon_rmap(head, vma, haddr, true);
	lru_add(sys->pool, head);
	spin_lock(ptl);
	if (ptep_get(pmdp) == orig) {
		/* Clear and flush first, so that no CPU goes on using the old
		 * page through its TLB; the deposited table stays for the new
		 * PMD. */
		ptep_get_and_clear(pmdp);
		flush_tlb_mm(mm);
		if (old) {
			atomic_dec(&old[1]._entire_mapcount);
			atomic_long_sub(HPAGE_PMD_NR, &mm->nr_anon);
		}
		huge_pmd_install(mm, pmdp, head, mk_huge_pmd(sys, head, vma));
		replaced = true;
	}
	spin_unlock(ptl);
	if (!replaced)
		put_page(sys->pool, head); /* resolved, split or zapped meanwhile */
	if (old) {
		if (replaced)
			put_page(sys->pool, old); /* the old PMD's reference */
		put_page(sys->pool, old);	  /* ours */
	}
	return 0;
}

int do_huge_pmd_wp_page(struct vm_area_struct *vma, unsigned long addr, unsigned int flags)
{
	unsigned long haddr = addr & PMD_MASK;
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	bool unshare = (flags & FAULT_FLAG_UNSHARE) != 0;
	struct page *head;
	spinlock_t *ptl;
	pte_t *pmdp = pmd_lock_entry(&mm->pgt, haddr, false, false, &ptl), pmd;
	bool reuse;

	if (!pmdp)
		return 0;
	pmd = ptep_get(pmdp);
	if (!pmd_trans_huge(pmd))
		goto out_unlock; /* split or zapped meanwhile: retry */
	if (is_huge_zero_pmd(pmd)) {
		/* The huge zero page: a new zeroed THP before 5.8 (and from
		 * 6.13), else split, and the PTE fault copies the small zero
		 * page touched. */
		spin_unlock(ptl);
		if (sys->policy->thp_cow_huge)
			return huge_wp_copy(vma, haddr, pmdp, ptl, pmd, NULL);
		split_huge_pmd(vma, haddr);
		return 0;
	}
	head = pfn_to_page(sys->pool, pte_pfn(pmd));
	if (unshare ? PageFlag(head, PG_anon_exclusive) : pte_write(pmd))
		goto out_unlock; /* resolved meanwhile */
	if (!trylock_page(head)) {
		/* Sleep for the folio lock without the PMD lock, as Linux
		 * does, then look again. */
		get_page(head);
		spin_unlock(ptl);
		lock_page(head);
		spin_lock(ptl);
		if (ptep_get(pmdp) != pmd) {
			unlock_page(head);
			put_page(sys->pool, head);
			goto out_unlock;
		}
		put_page(sys->pool, head);
	}
	reuse = huge_can_reuse(sys->policy, head);
	if (unlikely(sys->decide_fn)) {
		char counts[64];

		mm_decide(sys, "%s %s: %s", unshare ? "unshare fault (THP)" : "do_huge_pmd_wp_page",
			  mm_page_counts(sys, head, counts, sizeof(counts)),
			  reuse			      ? "reuse the whole THP"
			  : sys->policy->thp_cow_huge ? "copy the whole THP"
						      : "split the PMD, the PTE fault decides");
	}
	if (reuse) {
		folio_set_exclusive(head, true);
		if (!unshare)
			ptep_modify(pmdp, 0,
				    ((vma->vm_flags & VM_WRITE) ? _PAGE_RW : 0) | _PAGE_DIRTY |
					    _PAGE_SOFT_DIRTY | _PAGE_ACCESSED);
	} else if (sys->policy->thp_cow_huge) {
		get_page(head); /* the copy's source, without the locks */
	}
	unlock_page(head);
	spin_unlock(ptl);
	if (reuse)
		return 0;
	/* Before 5.8 a copy of all 2 MiB; from 5.8 (or with no THP to be
	 * had) a split, and the retried access meets the PTE fault, which
	 * copies the subpage it touches. */
	if (sys->policy->thp_cow_huge)
		return huge_wp_copy(vma, haddr, pmdp, ptl, pmd, head);
	split_huge_pmd(vma, haddr);
	return 0;

out_unlock:
	spin_unlock(ptl);
	return 0;
}

pte_t *leaf_offset_map_lock(struct vm_area_struct *vma, unsigned long addr, spinlock_t **ptlp)
{
	struct mm_struct *mm = vma->vm_mm;
	pte_t *ptep = pte_offset_map_lock(&mm->pgt, addr, ptlp);

	if (ptep || !vma_may_be_huge(vma))
		return ptep;
	ptep = pmd_lock_entry(&mm->pgt, addr, false, false, ptlp);
	if (ptep && !pmd_trans_huge(ptep_get(ptep))) {
		spin_unlock(*ptlp);
		ptep = NULL;
	}
	return ptep;
}

int huge_pmd_fault(struct vm_area_struct *vma, unsigned long addr, unsigned int flags)
{
	struct mm_struct *mm = vma->vm_mm;
	pte_t pmd;

	if (mm->sys->policy->thp == THP_NONE)
		return THP_FALLBACK;
	pmd = pmd_peek(&mm->pgt, addr);
	if (pte_none(pmd))
		return do_huge_pmd_anonymous_page(vma, addr, flags);
	if (!pmd_trans_huge(pmd))
		return THP_FALLBACK; /* a PTE table: the PTE fault */
	if ((flags & FAULT_FLAG_WRITE) && !pte_write(pmd))
		return do_huge_pmd_wp_page(vma, addr, flags);
	if ((flags & FAULT_FLAG_UNSHARE) &&
	    !PageFlag(pfn_to_page(mm->sys->pool, pte_pfn(pmd)), PG_anon_exclusive))
		return do_huge_pmd_wp_page(vma, addr, flags);
	return 0; /* spurious: the PMD allows the access */
}

/* ---- splitting a folio --------------------------------------------------------
 *
 * split_huge_page() as Linux has done it since 4.5 (the THP refcounting
 * rework): every THP preset is of that age.  The caller holds the folio
 * lock and one reference; the anon_vma is held for write throughout, so
 * that no fork links a new VMA meanwhile without its PTEs being seen.
 *
 *   1. can_split_folio(): every reference is a mapping's, or the caller's.
 *      A pinned folio fails here, in every era: splitting it would leave
 *      the pin on one small page and the mappings on others.
 *   2. unmap_folio(): a huge PMD that maps the folio becomes a PTE table
 *      (TTU_SPLIT_HUGE_PMD); each PTE that maps a page of the folio is
 *      cleared, the TLBs shot down (which also waits for every gup-fast
 *      that read the old PTE), and a migration entry put in its place;
 *      the mapcount and the mapping's reference go.
 *   3. folio_ref_freeze(): only the caller's reference may be left.  A
 *      gup-fast that took a reference before its PTE was cleared shows
 *      here; the folio is then mapped again whole and the split fails.
 *   4. The folio becomes small pages (folio_split_frozen(): one step, with
 *      the refcount at zero, so nobody can take a reference meanwhile),
 *      the refcount comes back, and remap_page() turns every migration
 *      entry back into a PTE of its page (writable if it was and the VMA
 *      still is; PG_anon_exclusive from the entry, as 5.19 carries it).
 *   5. Pages nobody maps any more (a munmap of part of a PTE-mapped THP)
 *      are freed; the others go on the LRU as small pages.
 */

struct split_walk {
	struct cow_system *sys;
	struct page *head;
};

/* Where vma would map page, by its index: false outside vma. */
static bool page_address_in_vma(const struct page *page, const struct vm_area_struct *vma,
				unsigned long *addr)
{
	unsigned long index = page->index; /* (L): the folio lock is held */

	if (index < vma->vm_pgoff)
		return false;
	*addr = vma->vm_start + ((index - vma->vm_pgoff) << PAGE_SHIFT);
	return *addr >= vma->vm_start && *addr < vma->vm_end;
}

/* The pages of the folio vma may map from page i on that one PTE table
 * holds: how many (0 if vma maps page i nowhere), with *addr the first's
 * address. */
static unsigned long folio_run_in_table(const struct split_walk *w,
					const struct vm_area_struct *vma, unsigned long i,
					unsigned long *addr)
{
	unsigned long table_end, n;

	if (!page_address_in_vma(w->head + i, vma, addr))
		return 0;
	table_end = (*addr & PMD_MASK) + PMD_SIZE;
	n = (table_end - *addr) >> PAGE_SHIFT;
	if (n > HPAGE_PMD_NR - i)
		n = HPAGE_PMD_NR - i;
	if (n > (vma->vm_end - *addr) >> PAGE_SHIFT)
		n = (vma->vm_end - *addr) >> PAGE_SHIFT;
	return n;
}

/* fn for each run of the folio's pages that vma maps in one PTE table:
 * pages i .. i + n - 1 of the folio, their PTEs from ptep on, the PT
 * lock held. */
static void folio_for_each_table(struct split_walk *w, struct vm_area_struct *vma,
				 void (*fn)(struct split_walk *w, struct mm_struct *mm,
					    const struct vm_area_struct *vma, pte_t *ptep,
					    unsigned long i, unsigned long n))
{
	for (unsigned long i = 0; i < HPAGE_PMD_NR;) {
		unsigned long addr, n = folio_run_in_table(w, vma, i, &addr);
		spinlock_t *ptl;
		pte_t *ptep;

		if (n == 0) {
			i++;
			continue;
		}
		ptep = pte_offset_map_lock(&vma->vm_mm->pgt, addr, &ptl);
		if (ptep) {
			fn(w, vma->vm_mm, vma, ptep, i, n);
			pte_unmap_unlock(ptep, ptl);
		}
		i += n;
	}
}

/* Step 2 for one run: each PTE that maps its page is cleared, then (one
 * shootdown for the run) becomes a migration entry. */
static void unmap_run(struct split_walk *w, struct mm_struct *mm, const struct vm_area_struct *vma,
		      pte_t *ptep, unsigned long i, unsigned long n)
{
	struct frame_pool *pool = w->sys->pool;
	unsigned long head_pfn = page_to_pfn(pool, w->head), idx[HPAGE_PMD_NR], nr = 0;
	pte_t old[HPAGE_PMD_NR];

	(void)vma;
	for (unsigned long k = 0; k < n; k++) {
		pte_t pte = ptep_get(ptep + k);

		if (pte_present(pte) && pte_pfn(pte) == head_pfn + i + k) {
			old[nr] = ptep_get_and_clear(ptep + k);
			idx[nr++] = k;
		}
	}
	if (nr == 0)
		return;
	flush_tlb_mm(mm);
	for (unsigned long m = 0; m < nr; m++) {
		struct page *page = w->head + i + idx[m];
		bool exclusive = PageFlag(page, PG_anon_exclusive);
		pte_t swp = swp_entry_to_pte(
			make_migration_entry(head_pfn + i + idx[m], pte_write(old[m]), exclusive));

		if (pte_dirty(old[m]))
			SetPageFlag(page, PG_dirty);
		if (pte_soft_dirty(old[m]))
			swp = pte_swp_mksoft_dirty(swp);
		if (exclusive)
			ClearPageFlag(page, PG_anon_exclusive);
		set_pte(ptep + idx[m], swp);
		page_remove_rmap(page);
	}
	atomic_long_sub((long)nr, &mm->nr_anon);
	page_ref_sub(pool, w->head, (int)nr); /* never the last: ours */
}

/* Step 2 in one VMA: a huge PMD that maps the folio is split first. */
static void unmap_folio_vma(struct vm_area_struct *vma, void *arg)
{
	struct split_walk *w = arg;
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr;

	if (page_address_in_vma(w->head, vma, &addr) && !(addr & ~PMD_MASK)) {
		spinlock_t *ptl;
		pte_t *pmdp = pmd_lock_entry(&mm->pgt, addr, false, false, &ptl), pmd;

		if (pmdp) {
			pmd = ptep_get(pmdp);
			if (pmd_trans_huge(pmd) &&
			    pte_pfn(pmd) == page_to_pfn(w->sys->pool, w->head))
				split_huge_pmd_locked(mm, pmdp, pmd);
			spin_unlock(ptl);
		}
	}
	folio_for_each_table(w, vma, unmap_run);
}

/* remove_migration_ptes() for one run: every migration entry that names
 * a page of the (former) folio maps that page again. */
static void remap_run(struct split_walk *w, struct mm_struct *mm, const struct vm_area_struct *vma,
		      pte_t *ptep, unsigned long i, unsigned long n)
{
	unsigned long head_pfn = page_to_pfn(w->sys->pool, w->head);

	for (unsigned long k = 0; k < n; k++) {
		pte_t swp = ptep_get(ptep + k), pte;
		struct page *page = w->head + i + k;
		swp_entry_t entry;

		if (!is_migration_pte(swp))
			continue;
		entry = pte_to_swp_entry(swp);
		if (swp_offset(entry) != head_pfn + i + k)
			continue;
		/* Counts up before the PTE appears; the exclusive bit before
		 * a writable PTE (S2, S3, S4). */
		get_page(page);
		if (swp_type(entry) != SWP_MIGRATION_READ)
			SetPageFlag(page, PG_anon_exclusive);
		page_dup_anon_rmap(page);
		atomic_long_inc(&mm->nr_anon);
		pte = pfn_pte(head_pfn + i + k, vma_pte_bits(vma));
		if (swp_type(entry) == SWP_MIGRATION_WRITE && (vma->vm_flags & VM_WRITE))
			pte = pte_mkwrite(pte);
		if (pte_swp_soft_dirty(swp))
			pte = pte_mksoft_dirty(pte);
		set_pte(ptep + k, pte);
	}
}

static void remap_folio_vma(struct vm_area_struct *vma, void *arg)
{
	folio_for_each_table(arg, vma, remap_run);
}

int split_folio(struct cow_system *sys, struct page *page)
{
	struct page *head = compound_head(page);
	struct split_walk w = {sys, head};
	struct anon_vma *av;
	long mapped;
	int err = 0;

	COW_ASSERT(PageLocked(head));
	if (!PageFlag(head, PG_head) || !PageFlag(head, PG_anon) || PageFlag(head, PG_hugetlb) ||
	    PageFlag(head, PG_ksm) || PageFlag(head, PG_swapcache) || PageFlag(head, PG_zero))
		return COW_EBUSY;
	av = folio_lock_anon_vma_write(head, &mapped);
	if (page_ref_count(head) != mapped + 1) {
		err = COW_EBUSY; /* can_split_folio(): pinned, or GUP holds it */
		if (unlikely(sys->decide_fn)) {
			char counts[64];

			mm_decide(sys, "split_folio %s: held beyond its mappings, not split",
				  mm_page_counts(sys, head, counts, sizeof(counts)));
		}
		goto out;
	}
	if (av)
		anon_vma_walk_locked(av, unmap_folio_vma, &w);
	if (cmpxchg(&head->_refcount.counter, 1, 0) != 1) {
		err = COW_EAGAIN; /* a reference was taken during the unmap */
	} else {
		folio_split_frozen(sys->pool, head);
		atomic_set(&head->_refcount, 1);
		/* The caller's lock goes to page: nobody can reach it before
		 * the remap (no PTE maps it, no LRU holds it), so the trylock
		 * takes it, out of the lock order without waiting. */
		COW_CHECK(page == head || trylock_page(page), "a page of a split folio was locked");
	}
	if (av)
		anon_vma_walk_locked(av, remap_folio_vma, &w);
	if (err)
		goto out;
	/* The caller's lock and reference go to page: the head lets go of
	 * them if it is not page, and page keeps the split's. */
	if (page != head) {
		unlock_page(head);
		put_page(sys->pool, head);
	}
	for (unsigned long i = 1; i < HPAGE_PMD_NR; i++) {
		struct page *sub = head + i;

		if (page_mapcount(sub) > 0 || sub == page)
			lru_add(sys->pool, sub);
		if (sub != page)
			put_page(sys->pool, sub); /* the split's: frees an unmapped page */
	}
out:
	if (av)
		folio_unlock_anon_vma_write(av);
	return err;
}

/* ---- MADV_COLLAPSE ---------------------------------------------------------- */

/* May collapse take the page a PTE maps?  Anonymous, not KSM, locked by
 * us (trylock), and with no reference beyond its mappings and the swap
 * cache (is_refcount_suitable(): a pinned page, or one reclaim holds,
 * fails).  A folio is counted whole: every mapping of every subpage. */
static int collapse_page_ok(struct page *page)
{
	struct page *head = compound_head(page);
	long mapped = PageFlag(head, PG_head) ? folio_entire_mapcount(head) : 0;

	if (!PageFlag(head, PG_anon) || PageFlag(head, PG_ksm))
		return COW_EINVAL; /* SCAN_PAGE_ANON */
	for (unsigned long i = 0; i < folio_nr_pages(head); i++)
		mapped += atomic_read(&head[i]._mapcount);
	if (page_ref_count(head) != mapped + PageFlag(head, PG_swapcache))
		return COW_EAGAIN; /* SCAN_PAGE_COUNT */
	return 0;
}

/* collapse_huge_page() for the 2 MiB at haddr of vma (mmap_lock held for
 * write): the PMD's PTE table is unlinked and the TLBs shot down (which
 * waits for gup-fast), so nothing can take a new reference on its pages;
 * then every page is checked, the 512 pages (or zeroes for empty PTEs
 * and the zero page) are copied into a new folio, the old mappings go,
 * and a huge PMD maps the new folio, exclusive, the old table deposited
 * for its split.  A page two processes map stays the other's (the copy
 * is this process's alone).  A failure puts the table back untouched. */
static int collapse_huge_page(struct vm_area_struct *vma, unsigned long haddr)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	struct page *head, *table, *old[HPAGE_PMD_NR];
	bool writable = false;
	spinlock_t *ptl;
	pte_t *pmdp, *ptes;
	int err = anon_vma_prepare(vma), nr_old = 0;

	if (err)
		return err;
	head = alloc_folio(sys->pool, HPAGE_PMD_ORDER, 0);
	if (!head)
		return COW_ENOMEM; /* SCAN_ALLOC_HUGE_PAGE_FAIL */
	pmdp = pmd_lock_entry(&mm->pgt, haddr, false, false, &ptl);
	table = pmdp ? pmd_unlink_table_locked(&mm->pgt, pmdp) : NULL;
	if (!table) {
		if (pmdp)
			spin_unlock(ptl);
		put_page(sys->pool, head);
		/* Huge already: nothing to do; no table: SCAN_PMD_NULL. */
		return pmdp && pmd_trans_huge(ptep_get(pmdp)) ? 0 : COW_EINVAL;
	}
	flush_tlb_mm(mm);
	ptes = pte_table_entries(&mm->pgt, table);
	for (unsigned long i = 0; i < HPAGE_PMD_NR && !err; i++) {
		pte_t pte = ptep_get(&ptes[i]);
		struct page *page;

		if (pte_none(pte) || (pte_present(pte) && pte_special(pte)))
			continue;
		if (!pte_present(pte)) {
			err = COW_EAGAIN; /* swapped out: cowlab does not swap in here */
			break;
		}
		writable |= pte_write(pte);
		page = pfn_to_page(sys->pool, pte_pfn(pte));
		if (!trylock_page(compound_head(page))) {
			err = COW_EAGAIN; /* SCAN_PAGE_LOCK */
			break;
		}
		err = collapse_page_ok(page);
		unlock_page(compound_head(page));
	}
	if (!err && !writable)
		err = COW_EINVAL; /* SCAN_PAGE_RO: no PTE was writable */
	if (err) {
		pmd_populate_locked(&mm->pgt, pmdp, table);
		spin_unlock(ptl);
		put_page(sys->pool, head);
		return err;
	}
	/* The copy: nothing else can reach these PTEs now. */
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		pte_t pte = ptep_get_and_clear(&ptes[i]);
		struct page *page;

		if (!pte_present(pte) || pte_special(pte)) {
			clear_page(page_address(sys->pool, head + i));
			continue;
		}
		page = pfn_to_page(sys->pool, pte_pfn(pte));
		copy_frame(sys->pool, head + i, page);
		page_remove_rmap(page);
		atomic_long_dec(&mm->nr_anon);
		old[nr_old++] = page;
	}
	folio_add_new_anon_rmap(head, vma, haddr, true);
	lru_add(sys->pool, head);
	pgtable_deposit(&mm->pgt, table);
	huge_pmd_install(mm, pmdp, head, mk_huge_pmd(sys, head, vma));
	spin_unlock(ptl);
	for (int i = 0; i < nr_old; i++)
		put_page(sys->pool, old[i]);
	return 0;
}

int madvise_collapse(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	int err = 0;

	if (!mm->sys->policy->madv_collapse)
		return COW_ENOTSUP; /* no such advice before 6.1 (Linux: EINVAL) */
	/* Every whole 2 MiB of the range, each of which one VMA that may
	 * have THP must hold (hugepage_vma_revalidate()); the last failure
	 * is the answer, as Linux's madvise_collapse() gives it. */
	for (unsigned long a = (start + PMD_SIZE - 1) & PMD_MASK; a + PMD_SIZE <= end;
	     a += PMD_SIZE) {
		struct vm_area_struct *vma = find_vma(mm, a);
		int e;

		if (!vma || a + PMD_SIZE > vma->vm_end ||
		    (vma->vm_flags & (VM_SHARED | VM_NOHUGEPAGE | VM_HUGETLB)) || vma->shm)
			e = COW_EINVAL; /* SCAN_VMA_CHECK */
		else
			e = collapse_huge_page(vma, a);
		if (e)
			err = e;
	}
	return err;
}

/* ---- khugepaged -------------------------------------------------------------------- */

/* max_ptes_shared's default (5.8+): at most half the range shared. */
#define KHUGEPAGED_MAX_PTES_SHARED (HPAGE_PMD_NR / 2)

/* hpage_collapse_scan_pmd() as khugepaged runs it, with its defaults, on
 * the 2 MiB at haddr of vma (mmap_lock held): a PTE table maps it, not
 * every PTE is empty (max_ptes_none 511), none is a swap PTE (Linux allows
 * 64 and swaps them in; cowlab's collapse does not), every page is
 * anonymous and not KSM, one PTE was accessed since the last look
 * (SCAN_LACK_REFERENCED_PAGE; collapse_huge_page() wants a writable one,
 * SCAN_PAGE_RO); and by the era:
 * at most 256 pages mapped more than once, pages of a PTE-mapped THP
 * allowed (5.8), or no page with a reference beyond its one mapping and
 * no large folio (before). */
static bool khugepaged_scan_pmd(struct vm_area_struct *vma, unsigned long haddr)
{
	struct cow_system *sys = vma->vm_mm->sys;
	unsigned long none = 0, shared = 0;
	bool referenced = false, ok = true;
	spinlock_t *ptl;
	pte_t *ptep = pte_offset_map_lock(&vma->vm_mm->pgt, haddr, &ptl);

	if (!ptep)
		return false; /* nothing mapped, or a huge PMD already */
	for (unsigned long i = 0; i < HPAGE_PMD_NR && ok; i++) {
		pte_t pte = ptep_get(ptep + i);
		struct page *page;

		if (pte_none(pte) || (pte_present(pte) && pte_special(pte))) {
			none++;
			continue;
		}
		if (!pte_present(pte)) {
			ok = false; /* swapped out */
			break;
		}
		referenced |= pte_young(pte);
		page = pfn_to_page(sys->pool, pte_pfn(pte));
		if (!PageFlag(page, PG_anon) || PageFlag(page, PG_ksm))
			ok = false; /* SCAN_PAGE_ANON */
		else if (sys->policy->khugepaged_shared)
			shared += page_mapcount(page) > 1;
		else if (PageCompound(page) ||
			 page_ref_count(page) != 1 + PageFlag(page, PG_swapcache))
			ok = false; /* SCAN_PAGE_COMPOUND, SCAN_PAGE_COUNT */
	}
	pte_unmap_unlock(ptep, ptl);
	return ok && none < HPAGE_PMD_NR && shared <= KHUGEPAGED_MAX_PTES_SHARED && referenced;
}

int khugepaged_scan_mm(struct mm_struct *mm, unsigned long *collapsed)
{
	unsigned long n = 0;
	int err = 0;

	*collapsed = 0;
	if (mm->sys->policy->thp == THP_NONE)
		return COW_ENOTSUP; /* no khugepaged before 2.6.38 */
	/* For write throughout, where Linux scans for read and takes the
	 * write lock for each collapse_huge_page(). */
	down_write(&mm->mmap_lock);
	for (int i = 0; i < mm->nr_vmas; i++) {
		struct vm_area_struct *vma = mm->vmas[i];

		/* The "madvise" mode: mappings that asked for THP. */
		if (!(vma->vm_flags & VM_HUGEPAGE) ||
		    (vma->vm_flags & (VM_NOHUGEPAGE | VM_SHARED | VM_HUGETLB)) || vma->shm)
			continue;
		for (unsigned long a = (vma->vm_start + PMD_SIZE - 1) & PMD_MASK;
		     a + PMD_SIZE <= vma->vm_end; a += PMD_SIZE) {
			int e;

			if (!khugepaged_scan_pmd(vma, a))
				continue;
			/* It rechecks (references, locks) with the table
			 * unlinked; a failure leaves the range as it was. */
			e = collapse_huge_page(vma, a);
			if (e == 0)
				n++;
			else if (e == COW_ENOMEM && !err)
				err = e;
		}
	}
	up_write(&mm->mmap_lock);
	*collapsed = n;
	return err;
}
