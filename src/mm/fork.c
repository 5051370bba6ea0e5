/*
 * fork: a copy-on-write copy of an address space.
 *
 * dup_mm() holds the parent's mmap_lock for write, copies each VMA except
 * those marked VM_DONTCOPY (MADV_DONTFORK), links the copy into the
 * reverse map, and copies the PTEs of private mappings (shared ones refault
 * from their shmem object in the child, as Linux skips them).  For a
 * copy-on-write mapping it write-protects every writable PTE in parent and
 * child, and it holds mm->write_protect_seq for write meanwhile, so
 * gup-fast can tell that a fork ran under it.  After all VMAs it shoots the
 * parent's TLBs down: until then other threads of the parent may still
 * write through old writable TLB entries, as on Linux.
 *
 * Per page, the policy decides between sharing and copying (the fork
 * hook).  FORK_SHARE always shares.  FORK_COPY_PINNED_EXCLUSIVE shares
 * after clearing PG_anon_exclusive, except a page that is exclusive and
 * may be pinned for DMA in an mm that has pinned pages: then the child
 * gets a copy now and the parent keeps its page, still writable, so the
 * pin keeps seeing the parent's data (70e806e4e645, 6c287605fd56).
 *
 * Locks: PT locks of the child's table, then the parent's (Linux's
 * spin_lock_nested order); both mms' tables are stable, the parent's
 * because we hold its mmap_lock for write, the child's because nobody
 * knows it yet.
 */
#include "mm/mm.h"

#include <string.h>

/* Fault injection for tests only: skip the parent's TLB shootdown at the
 * end of fork, so a test can show that it catches writes through stale
 * TLB entries.  Never set outside tests. */
bool fork_test_skip_tlb_flush;

/* page_needs_cow_for_dma(): Linux 5.9+ (with MMF_HAS_PINNED from 5.14). */
static bool page_needs_cow_for_dma(struct vm_area_struct *vma, struct page *page)
{
	return is_cow_mapping(vma->vm_flags) && test_bit(MMF_HAS_PINNED, &vma->vm_mm->flags) &&
	       page_maybe_dma_pinned(page);
}

/* Should fork copy this anonymous page for the child now? */
static bool fork_must_copy(const struct cow_policy *policy, struct vm_area_struct *src_vma,
			   struct page *page)
{
	switch (policy->fork) {
	case FORK_SHARE:
	case FORK_COPY_GUP_FLAGGED: /* decided in copy_pte, see there */ return false;
	case FORK_COPY_DONTCOW: return PageFlag(page, PG_dontcow);
	case FORK_COPY_PINNED: return page_needs_cow_for_dma(src_vma, page);
	case FORK_COPY_PINNED_EXCLUSIVE:
		return PageFlag(page, PG_anon_exclusive) && page_needs_cow_for_dma(src_vma, page);
	}
	return false;
}

/* The 2009 forkfix's test, made after the parent's PTE was write-protected:
 * has GUP flagged the page, and does it hold a reference beyond the
 * mappings (one: the PTE was writable) and the swap cache?  A page whose
 * lock is taken counts as held, as the patch's trylock had it.  A
 * gup-fast that takes its reference later sees the read-only PTE when it
 * re-checks, and gives the reference back. */
static bool forkfix_must_copy(struct page *page)
{
	bool held;

	if (!PageFlag(page, PG_gup))
		return false;
	if (!trylock_page(page))
		return true;
	held = page_ref_count(page) != page_mapcount(page) + PageFlag(page, PG_swapcache);
	unlock_page(page);
	return held;
}

/* Say why fork copies or shares an anonymous page, for traces: every copy,
 * and a share of a page held beyond its mappings (by GUP, maybe). */
static void fork_decide(struct cow_system *sys, const struct page *page, bool copy)
{
	const char *why = "";
	char counts[64];

	if (likely(!sys->decide_fn) || (!copy && mm_page_extra_refs(page) <= 0))
		return;
	switch (sys->policy->fork) {
	case FORK_SHARE: why = "the era shares every page"; break;
	case FORK_COPY_GUP_FLAGGED:
		why = copy ? "flagged by GUP and held beyond its mappings" : "not flagged and held";
		break;
	case FORK_COPY_DONTCOW: why = copy ? "PG_dontcow" : "not PG_dontcow"; break;
	case FORK_COPY_PINNED: why = copy ? "maybe pinned" : "not pinned"; break;
	case FORK_COPY_PINNED_EXCLUSIVE:
		why = copy ? "exclusive and maybe pinned" : "not both exclusive and maybe pinned";
		break;
	}
	mm_decide(sys, "fork %s: %s, %s", mm_page_counts(sys, page, counts, sizeof(counts)), why,
		  copy ? "copy for the child" : "share it write-protected");
}

bool fork_copies_page(struct vm_area_struct *src_vma, struct page *page)
{
	struct cow_system *sys = src_vma->vm_mm->sys;
	bool copy;

	if (sys->policy->fork == FORK_COPY_GUP_FLAGGED)
		copy = is_cow_mapping(src_vma->vm_flags) && forkfix_must_copy(page);
	else
		copy = fork_must_copy(sys->policy, src_vma, page);
	fork_decide(sys, page, copy);
	return copy;
}

/* Give the child its own copy of page at addr (copy_present_page). */
static int copy_page_for_child(struct vm_area_struct *dst_vma, unsigned long addr, pte_t *dst_ptep,
			       struct page *page)
{
	struct mm_struct *dst_mm = dst_vma->vm_mm;
	struct cow_system *sys = dst_mm->sys;
	struct page *new = alloc_page(sys->pool, 0);
	pte_t pte;

	if (!new)
		return COW_ENOMEM;
	/* A deliberate race: the parent keeps its PTE writable (the page
	 * is pinned, it must stay the parent's), so its other threads may
	 * store to the page while we copy it, and the child gets whatever
	 * the copy saw, torn or not, as Linux's child does
	 * (scenarios/matrix/r25_fork_snapshot_page.cow checks the
	 * snapshot).  Not checked by ThreadSanitizer (src/sync/sync.h). */
	deliberate_race_begin();
	copy_frame(sys->pool, new, page);
	deliberate_race_end();
	lru_add(sys->pool, new);
	page_add_new_anon_rmap(new, dst_vma, addr, true);
	atomic_long_inc(&dst_mm->nr_anon);
	pte = pfn_pte(page_to_pfn(sys->pool, new), PAGE_READONLY);
	if (dst_vma->vm_flags & VM_WRITE)
		pte = pte_mkdirty(pte_mkwrite(pte));
	set_pte(dst_ptep, pte);
	return 0;
}

static int copy_pte(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma,
		    unsigned long addr, pte_t *dst_ptep, pte_t *src_ptep)
{
	struct cow_system *sys = src_vma->vm_mm->sys;
	pte_t pte = ptep_get(src_ptep);
	struct page *page;

	if (pte_none(pte))
		return 0;
	if (is_migration_pte(pte)) {
		/* copy_nonpresent_pte(): the page being split is shared from
		 * now on, so both entries become plain read entries; the
		 * split's remap maps it in both, read-only. */
		swp_entry_t entry = pte_to_swp_entry(pte);

		if (swp_type(entry) != SWP_MIGRATION_READ) {
			pte_t swp = swp_entry_to_pte(
				make_migration_entry(swp_offset(entry), false, false));

			pte = pte_swp_soft_dirty(pte) ? pte_swp_mksoft_dirty(swp) : swp;
			set_pte(src_ptep, pte);
		}
		set_pte(dst_ptep, pte);
		return 0;
	}
	if (!pte_present(pte)) {
		/* copy_nonpresent_pte(): one more PTE refers to the slot; the
		 * page behind it is shared now, so neither side keeps the
		 * exclusive bit. */
		int err = swap_duplicate(sys->swap, pte_to_swp_entry(pte));

		if (err)
			return err;
		if (pte_swp_exclusive(pte)) {
			pte = pte_swp_clear_exclusive(pte);
			set_pte(src_ptep, pte);
		}
		set_pte(dst_ptep, pte);
		return 0;
	}
	if (!pte_special(pte)) {
		page = pfn_to_page(sys->pool, pte_pfn(pte));
		if (PageFlag(page, PG_anon)) {
			if (sys->policy->fork == FORK_COPY_GUP_FLAGGED &&
			    is_cow_mapping(src_vma->vm_flags) && pte_write(pte)) {
				/* Write-protect first, then look (see above). */
				ptep_modify(src_ptep, _PAGE_RW, 0);
				if (forkfix_must_copy(page)) {
					int err;

					fork_decide(sys, page, true);
					/* fork_pre_cow(): flush before the copy,
					 * so that no thread of the parent writes
					 * the page while it is copied (Andrea:
					 * the copy must be atomic per page). */
					flush_tlb_mm(src_vma->vm_mm);
					err = copy_page_for_child(dst_vma, addr, dst_ptep, page);

					/* The parent keeps its page writable;
					 * after a failure the retry decides
					 * again. */
					ptep_modify(src_ptep, 0, _PAGE_RW);
					return err;
				}
			}
			if (fork_must_copy(sys->policy, src_vma, page)) {
				fork_decide(sys, page, true);
				/* 2025's coherent snapshot: the parent's
				 * writes wait (their fault needs the mmap_lock
				 * fork holds) until the copy is made; its PTE
				 * becomes writable again at its next write
				 * fault, which reuses the exclusive page. */
				if (sys->policy->fork_copy_coherent && pte_write(pte)) {
					ptep_modify(src_ptep, _PAGE_RW, 0);
					flush_tlb_mm(src_vma->vm_mm);
				}
				return copy_page_for_child(dst_vma, addr, dst_ptep, page);
			}
			fork_decide(sys, page, false);
			get_page(page);
			/* Shared from now on: neither side may write
			 * without asking do_wp_page first. */
			ClearPageFlag(page, PG_anon_exclusive);
			page_dup_anon_rmap(page);
			atomic_long_inc(&dst_vma->vm_mm->nr_anon);
		} else {
			get_page(page);
			atomic_inc(&page->_mapcount);
		}
	}
	if (is_cow_mapping(src_vma->vm_flags) && pte_write(pte)) {
		ptep_modify(src_ptep, _PAGE_RW, 0);
		pte = pte_wrprotect(pte);
	}
	if (src_vma->vm_flags & VM_SHARED)
		pte = pte_mkclean(pte);
	set_pte(dst_ptep, pte_mkold(pte));
	return 0;
}

/* The parent has no PTE table at addr: share its huge PMD there with the
 * child, if it has one, unless the fork rule would copy its folio for
 * the child; such a PMD is split (d042035eaf5f, 5.9) and THP_FALLBACK
 * sends the caller to copy its PTEs, each by the rule for small pages. */
static int copy_huge_range(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma,
			   unsigned long addr)
{
	struct cow_system *sys = src_vma->vm_mm->sys;
	pte_t pmd;

	if (!(src_vma->vm_flags & (VM_HUGEPAGE | VM_NOHUGEPAGE)))
		return 0;
	/* Stable: we hold the parent's mmap_lock for write. */
	pmd = pmd_peek(&src_vma->vm_mm->pgt, addr);
	if (!pmd_trans_huge(pmd))
		return 0;
	if (!is_huge_zero_pmd(pmd) &&
	    fork_must_copy(sys->policy, src_vma, pfn_to_page(sys->pool, pte_pfn(pmd)))) {
		split_huge_pmd(src_vma, addr);
		return THP_FALLBACK;
	}
	return copy_huge_pmd(dst_vma, src_vma, addr & PMD_MASK);
}

/* Copy the PTEs of src_vma into dst_vma.  An allocation that finds the
 * pool empty (a child's PTE table, the copy of a pinned page) drops both
 * PT locks, reclaims and resumes at the same address. */
static int copy_page_range(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma)
{
	struct mm_struct *src_mm = src_vma->vm_mm, *dst_mm = dst_vma->vm_mm;
	bool cow = is_cow_mapping(src_vma->vm_flags);
	unsigned long addr = src_vma->vm_start, end = src_vma->vm_end;
	int err = 0, tries = 0;

	if (cow)
		write_seqcount_begin(&src_mm->write_protect_seq);
	if (src_vma->vm_flags & VM_HUGETLB) {
		/* The seqcount too (5.19, "mm/hugetlb: take
		 * src_mm->write_protect_seq in copy_hugetlb_page_range()"). */
		err = copy_hugetlb_page_range(dst_vma, src_vma);
		addr = end;
	}
	while (addr < end && !err) {
		unsigned long next = (addr + PMD_SIZE) & PMD_MASK;
		spinlock_t *src_ptl, *dst_ptl;
		pte_t *src_ptep, *dst_ptep;

		if (next > end || next == 0)
			next = end;
		/* Skip ranges where the parent has no PTE table. */
		src_ptep = pte_offset_map_lock(&src_mm->pgt, addr, &src_ptl);
		if (!src_ptep) {
			err = copy_huge_range(dst_vma, src_vma, addr);
			if (err == THP_FALLBACK) {
				err = 0;
				continue; /* split: copy its PTEs */
			}
			if (!err) {
				addr = next;
				continue;
			}
			dst_ptep = NULL;
		} else {
			pte_unmap_unlock(src_ptep, src_ptl);
			dst_ptep = pte_alloc_map_lock(&dst_mm->pgt, addr, &dst_ptl);
		}
		if (err) {
			/* copy_huge_range's error, retried below */
		} else if (dst_ptep) {
			src_ptep = pte_offset_map_lock_nested(&src_mm->pgt, addr, &src_ptl);
			for (; addr < next; addr += PAGE_SIZE, src_ptep++, dst_ptep++) {
				err = copy_pte(dst_vma, src_vma, addr, dst_ptep, src_ptep);
				if (err)
					break;
			}
			pte_unmap_unlock(src_ptep, src_ptl);
			pte_unmap_unlock(dst_ptep, dst_ptl);
		} else {
			err = COW_ENOMEM;
		}
		if (err == COW_ENOMEM && reclaim_before_retry(src_mm->sys, &tries))
			err = 0;
	}
	if (cow)
		write_seqcount_end(&src_mm->write_protect_seq);
	return err;
}

int dup_mm(struct mm_struct *oldmm, struct mm_struct **out)
{
	struct mm_struct *mm;
	int err, tries = 0;

	*out = NULL;
	do
		err = mm_alloc(oldmm->sys, &mm);
	while (err == COW_ENOMEM && reclaim_before_retry(oldmm->sys, &tries));
	if (err)
		return err;
	/* mmlock-2009: no direct I/O of the parent is in flight meanwhile. */
	if (oldmm->sys->policy->dio_mm_lock)
		down_write(&oldmm->dio_sem);
	down_write(&oldmm->mmap_lock);
	for (int i = 0; i < oldmm->nr_vmas && !err; i++) {
		struct vm_area_struct *src = oldmm->vmas[i], *dst;

		if (src->vm_flags & VM_DONTCOPY)
			continue;
		dst = vma_alloc(mm, src->vm_start, src->vm_end, src->vm_flags, src->vm_pgoff);
		if (!dst) {
			err = COW_ENOMEM;
			break;
		}
		dst->shm = src->shm;
		shmem_get(dst->shm);
		hugetlb_vma_dup(dst, src);
		err = anon_vma_fork(dst, src);
		if (!err)
			err = vma_insert(mm, dst);
		if (err) {
			vma_free(dst);
			break;
		}
		/* A shared mapping refaults from its object in the child;
		 * hugetlb copies its PMDs anyway, shared ones as they are. */
		if (!(src->vm_flags & VM_SHARED) || (src->vm_flags & VM_HUGETLB))
			err = copy_page_range(dst, src);
	}
	/* The parent's PTEs may have lost their write bit: shoot down. */
	if (likely(!fork_test_skip_tlb_flush))
		flush_tlb_mm(oldmm);
	up_write(&oldmm->mmap_lock);
	if (oldmm->sys->policy->dio_mm_lock)
		up_write(&oldmm->dio_sem);
	if (err) {
		mm_destroy(mm);
		return err;
	}
	/* ksm_fork(): the child's mergeable VMAs are KSM's to scan too. */
	if (test_bit(MMF_VM_MERGEABLE, &oldmm->flags))
		ksm_enter(mm);
	*out = mm;
	return 0;
}
