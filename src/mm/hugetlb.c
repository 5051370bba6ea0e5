/*
 * hugetlb: private anonymous mappings (MAP_HUGETLB) backed by 2 MiB pages
 * of the system's hugetlb pool (page.h), each mapped by one huge PMD, as
 * x86-64 maps a 2 MiB hugetlb page.
 *
 * What sets hugetlb apart from THP (huge_memory.c), as in Linux:
 *  - pages come from a pool set aside in advance (nr_hugepages), never
 *    from the frames at fault time, and go back to it when freed;
 *  - mmap reserves a page of the pool for every 2 MiB of the mapping
 *    (hugetlb_reserve_pages) and fails when the pool cannot promise them;
 *    the first fault on each 2 MiB consumes its reservation.  The VMA
 *    that made the mapping owns the reservations (HPAGE_RESV_OWNER); a
 *    child's VMA owns none;
 *  - nothing is ever split: a write fault on a write-protected huge page
 *    reuses it or copies all 2 MiB (hugetlb_wp, once hugetlb_cow); a copy
 *    takes a page nobody was promised, and where none is left the faulting
 *    process gets SIGBUS, unless it owns the mapping: then the page is
 *    taken away from the children that share it (unmap_ref_private), whose
 *    next fault in that mapping gets SIGBUS, and the owner reuses it;
 *  - the reuse test is the era's hugetlb rule (policy.h): none before
 *    2.6.16 (fork shares the page writable), page_count until 2.6.35,
 *    mapcount since 0fe6e20b9c4c, to this day, so that a GUP reference is
 *    invisible to it (the vmsplice leak of CVE-2020-29374 that Linux
 *    still accepts for hugetlb);
 *  - fork shares each huge page write-protected, or, from 5.12 and in the
 *    2009 forkfix, copies one the fork rule would copy for the child
 *    (copy_hugetlb_page_range);
 *  - no page table is deposited for a hugetlb PMD, and munmap, mprotect
 *    and madvise need 2 MiB-aligned ranges (a VMA is never split inside a
 *    huge page).
 * Counts as for a PMD-mapped THP: the PMD holds one reference and one
 * entire mapcount; every subpage is PG_anon with the anon_vma and its
 * index, and carries PG_anon_exclusive (5.19+) like the head.
 *
 * Locks: mmap_lock, then the system's hugetlb fault mutex (faults one at
 * a time, as Linux's hashed hugetlb_fault_mutex serialises faults on one
 * page; it also guards the reservation bits), then the page lock, the
 * anon_vma lock and the PMD lock.
 */
#include "mm/mm.h"

#include <stdlib.h>

/* A private mapping's reservations: a bit per huge page, set while its
 * reservation is still held (not yet consumed by a fault, nor given back
 * by munmap).  The parts of a split VMA share it. */
struct hugetlb_resv {
	int users;	      /* (M) VMAs that share it */
	unsigned long pgoff;  /* (C) page index of its first huge page */
	unsigned long nr;     /* (C) huge pages covered */
	unsigned long bits[]; /* (G) */
};

#define HUGETLB_UNMAPPED 0 /* bit in vma->hugetlb_flags: pages taken for the owner */

/* A shared mapping's pages, as the page cache of the hugetlbfs file
 * behind MAP_SHARED|MAP_HUGETLB: a huge page per 2 MiB once faulted, and
 * the reservations made at mmap that no fault has consumed yet.  Every
 * VMA that maps it holds a reference (fork, split); the last one frees
 * the pages to the pool and gives the reservations back. */
struct hugetlb_file {
	atomic_t refs;	      /* (A) */
	unsigned long nr;     /* (C) huge pages */
	unsigned long resv;   /* (G) reservations still held */
	struct page *pages[]; /* (G) each holds a reference, NULL until faulted */
};

static unsigned long file_index(const struct vm_area_struct *vma, unsigned long addr)
{
	return (((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff) / HPAGE_PMD_NR;
}

static unsigned long resv_index(const struct hugetlb_resv *resv, const struct vm_area_struct *vma,
				unsigned long addr)
{
	return (((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff - resv->pgoff) /
	       HPAGE_PMD_NR;
}

/* A shared mapping reserves for its file, which owns the reservations. */
static int hugetlb_file_create(struct vm_area_struct *vma, unsigned long nr)
{
	struct hugetlb_file *f = calloc(1, sizeof(*f) + nr * sizeof(struct page *));

	if (!f)
		return COW_ENOMEM;
	if (hugetlb_reserve(vma->vm_mm->sys->pool, nr) != 0) {
		free(f);
		return COW_ENOMEM;
	}
	atomic_set(&f->refs, 1);
	f->nr = f->resv = nr;
	vma->hfile = f;
	return 0;
}

/* The reservation of the huge page at the VMA's addr: held again
 * (resv_hold), or taken if still held (resv_take). */
static void resv_hold(struct hugetlb_resv *resv, unsigned long i)
{
	resv->bits[i / FRAME_MAP_BITS] |= 1UL << (i % FRAME_MAP_BITS);
}

static bool resv_take(struct hugetlb_resv *resv, unsigned long i)
{
	unsigned long *word = &resv->bits[i / FRAME_MAP_BITS], mask = 1UL << (i % FRAME_MAP_BITS);
	bool held = (*word & mask) != 0;

	*word &= ~mask;
	return held;
}

int hugetlb_reserve_pages(struct vm_area_struct *vma)
{
	struct frame_pool *pool = vma->vm_mm->sys->pool;
	unsigned long nr = (vma->vm_end - vma->vm_start) / PMD_SIZE;
	size_t words = (nr + FRAME_MAP_BITS - 1) / FRAME_MAP_BITS;
	struct hugetlb_resv *resv;
	int err;

	if (vma->vm_flags & VM_SHARED)
		return hugetlb_file_create(vma, nr);
	resv = calloc(1, sizeof(*resv) + words * sizeof(unsigned long));
	if (!resv)
		return COW_ENOMEM;
	err = hugetlb_reserve(pool, nr);
	if (err) {
		free(resv);
		return err;
	}
	resv->users = 1;
	resv->pgoff = vma->vm_pgoff;
	resv->nr = nr;
	for (unsigned long i = 0; i < nr; i++)
		resv_hold(resv, i);
	vma->resv = resv;
	return 0;
}

void hugetlb_vma_split(struct vm_area_struct *vma, struct vm_area_struct *tail)
{
	tail->resv = vma->resv;
	if (tail->resv)
		tail->resv->users++;
	hugetlb_vma_dup(tail, vma);
}

void hugetlb_vma_dup(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	dst->hfile = src->hfile;
	if (dst->hfile)
		atomic_inc(&dst->hfile->refs);
}

static void hugetlb_file_put(struct cow_system *sys, struct hugetlb_file *f)
{
	if (!atomic_dec_and_test(&f->refs))
		return;
	/* No VMA maps the file any more, so no fault can reach it. */
	for (unsigned long i = 0; i < f->nr; i++)
		if (f->pages[i])
			put_page(sys->pool, f->pages[i]);
	if (f->resv)
		hugetlb_unreserve(sys->pool, f->resv);
	free(f);
}

void hugetlb_vma_close(struct vm_area_struct *vma)
{
	struct cow_system *sys = vma->vm_mm->sys;
	struct hugetlb_resv *resv = vma->resv;
	unsigned long held = 0;

	if (vma->hfile) {
		hugetlb_file_put(sys, vma->hfile);
		vma->hfile = NULL;
	}
	if (!resv)
		return;
	/* Give back what this part of the mapping never faulted in. */
	mutex_lock(&sys->hugetlb_mutex);
	for (unsigned long a = vma->vm_start; a < vma->vm_end; a += PMD_SIZE)
		held += resv_take(resv, resv_index(resv, vma, a));
	mutex_unlock(&sys->hugetlb_mutex);
	if (held)
		hugetlb_unreserve(sys->pool, held);
	vma->resv = NULL;
	if (--resv->users == 0)
		free(resv);
}

/* Take the reservation of the huge page at addr if the VMA still holds
 * it (hugetlb fault mutex held). */
static bool resv_consume(struct vm_area_struct *vma, unsigned long addr)
{
	return vma->resv && resv_take(vma->resv, resv_index(vma->resv, vma, addr));
}

/* restore_reserve_on_error(): a fault that consumed the reservation and
 * freed its page again gives the reservation back. */
static void resv_restore(struct vm_area_struct *vma, unsigned long addr)
{
	/* The page went back to the pool's free stack before this, so a
	 * promise of it can always be made again. */
	if (hugetlb_reserve(vma->vm_mm->sys->pool, 1) == 0)
		resv_hold(vma->resv, resv_index(vma->resv, vma, addr));
}

static pte_t mk_hugetlb_pmd(struct cow_system *sys, struct page *head,
			    const struct vm_area_struct *vma, bool writable)
{
	pte_t pmd = mk_huge_pmd(sys, head, vma);

	return writable ? pmd : pte_wrprotect(pmd);
}

/* hugetlb_no_page() in a shared mapping: the file's page, allocated on
 * the first fault from the file's reservations, mapped writable where
 * the mapping is (hugetlb fault mutex held). */
static int hugetlb_shared_fault(struct vm_area_struct *vma, unsigned long haddr)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	struct hugetlb_file *f = vma->hfile;
	unsigned long i = file_index(vma, haddr);
	struct page *head = f->pages[i];
	spinlock_t *ptl;
	pte_t *pmdp;

	if (!head) {
		head = alloc_hugetlb_folio(sys->pool, f->resv > 0);
		if (!head)
			return COW_ESIGBUS;
		f->resv -= f->resv > 0;
		for (unsigned long k = 0; k < HPAGE_PMD_NR; k++)
			clear_page(page_address(sys->pool, head + k));
		f->pages[i] = head; /* the file's reference */
	}
	pmdp = pmd_lock_entry(&mm->pgt, haddr, true, false, &ptl);
	if (!pmdp)
		return COW_ENOMEM;
	if (pte_none(ptep_get(pmdp))) {
		get_page(head);
		huge_pmd_install(mm, pmdp, head,
				 mk_hugetlb_pmd(sys, head, vma, vma->vm_flags & VM_WRITE));
	}
	spin_unlock(ptl);
	return 0;
}

/* hugetlb_no_page(): the first fault on an empty huge PMD. */
static int hugetlb_no_page(struct vm_area_struct *vma, unsigned long haddr, unsigned int flags)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	bool reserved, write = (flags & FAULT_FLAG_WRITE) != 0;
	struct page *head;
	spinlock_t *ptl;
	pte_t *pmdp;
	int err;

	if (vma->hfile)
		return hugetlb_shared_fault(vma, haddr);
	if (test_bit(HUGETLB_UNMAPPED, &vma->hugetlb_flags))
		return COW_ESIGBUS; /* the owner took this mapping's pages */
	err = anon_vma_prepare(vma);
	if (err)
		return err;
	reserved = resv_consume(vma, haddr);
	head = alloc_hugetlb_folio(sys->pool, reserved);
	if (!head)
		return COW_ESIGBUS;
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		clear_page(page_address(sys->pool, head + i));
	folio_add_new_anon_rmap(head, vma, haddr, sys->policy->anon_exclusive);
	pmdp = pmd_lock_entry(&mm->pgt, haddr, true, false, &ptl);
	if (!pmdp || !pte_none(ptep_get(pmdp))) {
		if (pmdp)
			spin_unlock(ptl);
		put_page(sys->pool, head);
		if (reserved)
			resv_restore(vma, haddr);
		return pmdp ? 0 : COW_ENOMEM;
	}
	/* A read fault in a private mapping maps the page read-only, so
	 * the first write takes hugetlb_wp (which reuses it). */
	huge_pmd_install(mm, pmdp, head, mk_hugetlb_pmd(sys, head, vma, write));
	spin_unlock(ptl);
	return 0;
}

/* The era's answer: may a write (or unshare) fault reuse this huge page
 * in place?  Page lock held. */
static bool hugetlb_can_reuse(const struct cow_policy *policy, struct page *head)
{
	switch (policy->hugetlb) {
	case HUGETLB_NONE: break;
	case HUGETLB_NO_COW:
	case HUGETLB_REUSE_ALWAYS: return true;
	case HUGETLB_REUSE_REFCOUNT: return page_ref_count(head) == 1;
	case HUGETLB_REUSE_MAPCOUNT: return folio_entire_mapcount(head) == 1;
	}
	return false;
}

struct unmap_ref {
	struct vm_area_struct *owner;
	unsigned long haddr;
};

/* One VMA of unmap_ref_private's walk: a non-owner's huge PMD at the
 * page's address goes, and the VMA remembers that it lost it. */
static int unmap_ref_one(struct page *head, struct vm_area_struct *vma, unsigned long addr,
			 void *arg)
{
	struct unmap_ref *u = arg;
	struct mm_struct *mm = vma->vm_mm;
	spinlock_t *ptl;
	pte_t *pmdp;

	if (vma == u->owner || vma->resv || !(vma->vm_flags & VM_HUGETLB) || addr != u->haddr)
		return 0;
	pmdp = pmd_lock_entry(&mm->pgt, addr, false, false, &ptl);
	if (!pmdp)
		return 0;
	if (pmd_trans_huge(ptep_get(pmdp)) &&
	    pte_pfn(ptep_get(pmdp)) == page_to_pfn(mm->sys->pool, head)) {
		ptep_get_and_clear(pmdp);
		flush_tlb_mm(mm);
		atomic_dec(&head[1]._entire_mapcount);
		atomic_long_sub(HPAGE_PMD_NR, &mm->nr_anon);
		put_page(mm->sys->pool, head); /* the caller holds its own */
	}
	spin_unlock(ptl);
	set_bit(HUGETLB_UNMAPPED, &vma->hugetlb_flags);
	return 0;
}

/* hugetlb_wp(): a write or unshare fault on the write-protected huge PMD
 * at haddr (hugetlb fault mutex held). */
static int hugetlb_wp(struct vm_area_struct *vma, unsigned long haddr, unsigned int flags)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	bool unshare = (flags & FAULT_FLAG_UNSHARE) != 0, writable = vma->vm_flags & VM_WRITE;
	struct page *head, *new;
	spinlock_t *ptl;
	pte_t *pmdp, pmd;
	bool stolen = false;
	int err = 0;

retry:
	pmdp = pmd_lock_entry(&mm->pgt, haddr, false, false, &ptl);
	if (!pmdp)
		return 0;
	pmd = ptep_get(pmdp);
	if (vma->vm_flags & VM_SHARED) {
		/* No COW in a shared mapping: the write just needs the bit
		 * (mprotect took it, or gave it back). */
		if (pmd_trans_huge(pmd) && writable)
			ptep_modify(pmdp, 0, _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED);
		spin_unlock(ptl);
		return writable ? 0 : COW_EFAULT;
	}
	head = pfn_to_page(sys->pool, pte_pfn(pmd));
	if (!pmd_trans_huge(pmd) ||
	    (unshare ? PageFlag(head, PG_anon_exclusive) : pte_write(pmd))) {
		spin_unlock(ptl);
		return 0; /* resolved meanwhile: retry the access */
	}
	get_page(head);
	spin_unlock(ptl);
	lock_page(head);
	spin_lock(ptl);
	if (ptep_get(pmdp) != pmd) {
		spin_unlock(ptl);
		goto out_unlock;
	}
	/* Our own reference is not one the rule may count. */
	page_ref_sub(sys->pool, head, 1);
	if (hugetlb_can_reuse(sys->policy, head)) {
		if (sys->policy->anon_exclusive)
			folio_set_exclusive(head, true);
		if (!unshare)
			ptep_modify(pmdp, 0,
				    (writable ? _PAGE_RW : 0) | _PAGE_DIRTY | _PAGE_SOFT_DIRTY |
					    _PAGE_ACCESSED);
		spin_unlock(ptl);
		unlock_page(head);
		return 0;
	}
	get_page(head);
	spin_unlock(ptl);
	/* The owner copies outside its reservations (it consumed this
	 * page's at the first fault); a child has none. */
	new = alloc_hugetlb_folio(sys->pool, false);
	if (!new) {
		if (vma->resv && !stolen) {
			struct unmap_ref u = {vma, haddr};

			/* The owner keeps its mapping: take the page away from
			 * the children and decide again (once: where a GUP
			 * reference still forbids reuse, 2.6.29 hit a BUG_ON;
			 * cowlab gives up with SIGBUS). */
			rmap_walk(head, unmap_ref_one, &u);
			stolen = true;
			unlock_page(head);
			put_page(sys->pool, head);
			goto retry;
		}
		err = COW_ESIGBUS;
		goto out_unlock;
	}
	err = anon_vma_prepare(vma);
	if (err) {
		put_page(sys->pool, new);
		goto out_unlock;
	}
	/* Copied outside the PMD lock, as Linux copies: a store through
	 * another mapping of the old page may land meanwhile (see
	 * wp_page_copy()). */
	deliberate_race_begin();
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		copy_frame(sys->pool, new + i, head + i);
	deliberate_race_end();
	folio_add_new_anon_rmap(new, vma, haddr, sys->policy->anon_exclusive);
	spin_lock(ptl);
	if (ptep_get(pmdp) == pmd) {
		ptep_get_and_clear(pmdp);
		flush_tlb_mm(mm);
		atomic_inc(&new[1]._entire_mapcount);
		set_pte(pmdp, mk_hugetlb_pmd(sys, new, vma, !unshare && writable));
		atomic_dec(&head[1]._entire_mapcount);
		page_ref_sub(sys->pool, head, 1); /* the old mapping's reference */
		new = NULL;
	}
	spin_unlock(ptl);
	if (new)
		put_page(sys->pool, new); /* lost a race */
out_unlock:
	unlock_page(head);
	put_page(sys->pool, head);
	return err;
}

int hugetlb_fault(struct vm_area_struct *vma, unsigned long addr, unsigned int flags)
{
	struct cow_system *sys = vma->vm_mm->sys;
	unsigned long haddr = addr & PMD_MASK;
	pte_t pmd;
	int err = 0;

	mutex_lock(&sys->hugetlb_mutex);
	pmd = pmd_peek(&vma->vm_mm->pgt, haddr);
	if (pte_none(pmd))
		err = hugetlb_no_page(vma, haddr, flags);
	else if (pmd_trans_huge(pmd) &&
		 (((flags & FAULT_FLAG_WRITE) && !pte_write(pmd)) ||
		  ((flags & FAULT_FLAG_UNSHARE) && !(vma->vm_flags & VM_SHARED) &&
		   !PageFlag(pfn_to_page(sys->pool, pte_pfn(pmd)), PG_anon_exclusive))))
		err = hugetlb_wp(vma, haddr, flags);
	mutex_unlock(&sys->hugetlb_mutex);
	return err;
}

/* Give the child a copy of the parent's huge page at haddr, mapped
 * writable (hugetlb's early COW at fork). */
static int copy_hugetlb_for_child(struct vm_area_struct *dst_vma, unsigned long haddr,
				  struct page *head)
{
	struct mm_struct *dst_mm = dst_vma->vm_mm;
	struct cow_system *sys = dst_mm->sys;
	struct page *new = alloc_hugetlb_folio(sys->pool, false);
	spinlock_t *ptl;
	pte_t *pmdp;

	if (!new)
		return COW_ENOMEM; /* fork fails, as copy_hugetlb_page_range */
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++)
		copy_frame(sys->pool, new + i, head + i);
	folio_add_new_anon_rmap(new, dst_vma, haddr, sys->policy->anon_exclusive);
	pmdp = pmd_lock_entry(&dst_mm->pgt, haddr, true, false, &ptl);
	if (!pmdp) {
		put_page(sys->pool, new);
		return COW_ENOMEM;
	}
	huge_pmd_install(dst_mm, pmdp, new,
			 mk_hugetlb_pmd(sys, new, dst_vma, dst_vma->vm_flags & VM_WRITE));
	spin_unlock(ptl);
	return 0;
}

int copy_hugetlb_page_range(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma)
{
	struct mm_struct *src_mm = src_vma->vm_mm, *dst_mm = dst_vma->vm_mm;
	struct cow_system *sys = src_mm->sys;
	bool cow = is_cow_mapping(src_vma->vm_flags) && sys->policy->hugetlb != HUGETLB_NO_COW;
	int err = 0;

	for (unsigned long a = src_vma->vm_start; a < src_vma->vm_end && !err; a += PMD_SIZE) {
		spinlock_t *src_ptl, *dst_ptl;
		pte_t *src_pmdp, *dst_pmdp, pmd;
		struct page *head;

		/* Stable: we hold the parent's mmap_lock for write. */
		pmd = pmd_peek(&src_mm->pgt, a);
		if (!pmd_trans_huge(pmd))
			continue;
		head = pfn_to_page(sys->pool, pte_pfn(pmd));
		if (cow && sys->policy->hugetlb_fork_copy && fork_copies_page(src_vma, head)) {
			err = copy_hugetlb_for_child(dst_vma, a, head);
			continue;
		}
		dst_pmdp = pmd_lock_entry(&dst_mm->pgt, a, true, false, &dst_ptl);
		if (!dst_pmdp) {
			err = COW_ENOMEM;
			break;
		}
		src_pmdp = pmd_lock_entry(&src_mm->pgt, a, false, true, &src_ptl);
		/* A shared mapping's page, and before 2.6.16 a private
		 * one's (no COW), is shared as it is, writable. */
		huge_pmd_share(dst_mm, dst_pmdp, src_pmdp, ptep_get(src_pmdp), cow);
		spin_unlock(src_ptl);
		spin_unlock(dst_ptl);
	}
	return err;
}
