/*
 * Address spaces and their mappings: struct mm_struct, VMAs, mmap, munmap,
 * and tearing an address space down (mprotect.c and madvise.c change
 * mappings in place; shmem.c holds shared anonymous memory and the page
 * cache of files).
 *
 * VMAs of an mm are kept in an array sorted by address: lookup is a binary
 * search, O(log n); insertion and removal move pointers, which is cheap
 * for the few dozen VMAs a scenario has.  All VMA changes happen with the
 * mmap_lock held for write; lookups need it for read.
 *
 * Unmapping follows Linux's mmu_gather order: clear the PTEs under the PT
 * lock and drop their rmap counts, shoot the TLBs down, and only then drop
 * the page references, so no CPU can still write to a frame that is being
 * freed.
 */
#include "mm/mm.h"

#include <stdlib.h>
#include <string.h>

/* ---- the mm -------------------------------------------------------------------------- */

/* Page tables, like pages, come with direct reclaim. */
static struct page *alloc_table_direct(void *sys)
{
	return alloc_page_direct(sys, GFP_ZERO);
}

int mm_alloc(struct cow_system *sys, struct mm_struct **out)
{
	struct mm_struct *mm =
		FAULT_HIT(FI_MM_ALLOC) ? NULL : aligned_alloc(COW_CACHELINE, sizeof(*mm));
	int err;

	*out = NULL;
	if (!mm)
		return COW_ENOMEM;
	memset(mm, 0, sizeof(*mm));
	mm->sys = sys;
	mm->id = (uint64_t)atomic_long_inc_return(&sys->next_mm_id);
	init_rwsem_rank(&mm->mmap_lock, RANK_MMAP_LOCK);
	init_rwsem(&mm->dio_sem);
	seqcount_init(&mm->write_protect_seq);
	err = pgtable_init(&mm->pgt, sys->pool);
	if (err) {
		free(mm);
		return err;
	}
	pgtable_set_allocator(&mm->pgt, alloc_table_direct, sys);
	/* Listed from birth, so that checks see a child's page tables while
	 * fork is still filling them. */
	spin_lock(&sys->lock);
	list_add_tail(&mm->mmlist, &sys->mms);
	spin_unlock(&sys->lock);
	*out = mm;
	return 0;
}

void vma_free(struct vm_area_struct *vma)
{
	hugetlb_vma_close(vma);
	unlink_anon_vmas(vma);
	shmem_put(vma->vm_mm->sys, vma->shm);
	free(vma);
}

void mm_destroy(struct mm_struct *mm)
{
	/* Under mmlock-2009 an exit waits for the mm's direct I/O, as
	 * exit_aio() does, since completion releases dio_sem. */
	if (mm->sys->policy->dio_mm_lock)
		down_write(&mm->dio_sem);
	ksm_exit(mm);
	for (int i = 0; i < mm->nr_vmas; i++) {
		zap_page_range(mm->vmas[i], mm->vmas[i]->vm_start, mm->vmas[i]->vm_end);
		vma_free(mm->vmas[i]);
	}
	free(mm->vmas);
	spin_lock(&mm->sys->lock);
	list_del(&mm->mmlist);
	spin_unlock(&mm->sys->lock);
	pgtable_destroy(&mm->pgt);
	free(mm);
}

/* Index of the first VMA that ends above addr (nr_vmas if none). */
int vma_index(const struct mm_struct *mm, unsigned long addr)
{
	int lo = 0, hi = mm->nr_vmas;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (mm->vmas[mid]->vm_end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr)
{
	int i = vma_index(mm, addr);

	if (i < mm->nr_vmas && mm->vmas[i]->vm_start <= addr)
		return mm->vmas[i];
	return NULL;
}

int vma_insert(struct mm_struct *mm, struct vm_area_struct *vma)
{
	int i;

	if (mm->nr_vmas == mm->cap_vmas) {
		int cap = mm->cap_vmas ? 2 * mm->cap_vmas : 8;
		struct vm_area_struct **v = FAULT_HIT(FI_VMA_ALLOC)
						    ? NULL
						    : realloc(mm->vmas, (size_t)cap * sizeof(*v));

		if (!v)
			return COW_ENOMEM;
		mm->vmas = v;
		mm->cap_vmas = cap;
	}
	i = vma_index(mm, vma->vm_start);
	COW_CHECK(i == mm->nr_vmas || mm->vmas[i]->vm_start >= vma->vm_end,
		  "VMA [%#lx, %#lx) overlaps another", vma->vm_start, vma->vm_end);
	memmove(&mm->vmas[i + 1], &mm->vmas[i], (size_t)(mm->nr_vmas - i) * sizeof(*mm->vmas));
	mm->vmas[i] = vma;
	mm->nr_vmas++;
	return 0;
}

static void vma_remove(struct mm_struct *mm, struct vm_area_struct *vma)
{
	int i = vma_index(mm, vma->vm_start);

	COW_CHECK(i < mm->nr_vmas && mm->vmas[i] == vma, "removing an unknown VMA");
	memmove(&mm->vmas[i], &mm->vmas[i + 1], (size_t)(mm->nr_vmas - i - 1) * sizeof(*mm->vmas));
	mm->nr_vmas--;
}

struct vm_area_struct *vma_alloc(struct mm_struct *mm, unsigned long start, unsigned long end,
				 unsigned long flags, unsigned long pgoff)
{
	struct vm_area_struct *vma = FAULT_HIT(FI_VMA_ALLOC) ? NULL : calloc(1, sizeof(*vma));

	if (!vma)
		return NULL;
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_flags = flags;
	vma->vm_pgoff = pgoff;
	vma->vm_mm = mm;
	INIT_LIST_HEAD(&vma->anon_vma_chain);
	return vma;
}

/* Split vma at addr (strictly inside it); mmap_lock held for write. */
static int split_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long addr)
{
	struct vm_area_struct *tail;
	int err;

	COW_CHECK(addr > vma->vm_start && addr < vma->vm_end && !(addr & ~PAGE_MASK),
		  "bad split of [%#lx, %#lx) at %#lx", vma->vm_start, vma->vm_end, addr);
	/* A huge PMD never straddles two VMAs (vma_adjust_trans_huge());
	 * a hugetlb page cannot be split at all (hugetlb_vm_op_split()). */
	if ((vma->vm_flags & VM_HUGETLB) && (addr & ~PMD_MASK))
		return COW_EINVAL;
	if ((vma->vm_flags & (VM_HUGEPAGE | VM_NOHUGEPAGE)) && (addr & ~PMD_MASK))
		split_huge_pmd(vma, addr);
	tail = vma_alloc(mm, addr, vma->vm_end, vma->vm_flags,
			 vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT));
	if (!tail)
		return COW_ENOMEM;
	err = anon_vma_clone_split(tail, vma);
	if (err) {
		free(tail);
		return err;
	}
	tail->shm = vma->shm;
	shmem_get(tail->shm);
	hugetlb_vma_split(vma, tail);
	/* The array stays sorted: the tail goes right after vma. */
	vma->vm_end = addr;
	err = vma_insert(mm, tail);
	if (err) {
		vma->vm_end = tail->vm_end;
		vma_free(tail);
	}
	return err;
}

/* Can b, which follows a, join it?  Nothing may tell them apart: flags,
 * anon_vma, offsets that continue, no page cache, no hugetlb
 * reservations (vma_merge()'s tests). */
static bool vmas_mergeable(const struct vm_area_struct *a, const struct vm_area_struct *b)
{
	return a->vm_end == b->vm_start && a->vm_flags == b->vm_flags &&
	       a->anon_vma == b->anon_vma && !a->shm && !b->shm && !a->resv && !b->resv &&
	       !a->hfile && !b->hfile && !a->hugetlb_flags && !b->hugetlb_flags &&
	       a->vm_pgoff + ((a->vm_end - a->vm_start) >> PAGE_SHIFT) == b->vm_pgoff;
}

void vma_merge_range(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	int i = vma_index(mm, start);

	if (i > 0)
		i--;
	while (i + 1 < mm->nr_vmas && mm->vmas[i]->vm_start < end) {
		struct vm_area_struct *a = mm->vmas[i], *b = mm->vmas[i + 1];

		if (!vmas_mergeable(a, b)) {
			i++;
			continue;
		}
		/* b's pages are a's: the same anon_vma finds them. */
		vma_remove(mm, b);
		a->vm_end = b->vm_end;
		vma_free(b);
	}
}

/* ---- walking PTEs ------------------------------------------------------------------- */

void walk_pte_range(struct vm_area_struct *vma, unsigned long start, unsigned long end,
		    pte_range_fn fn, void *arg)
{
	struct pgtable *pgt = &vma->vm_mm->pgt;
	unsigned long addr = start;

	while (addr < end) {
		unsigned long next = (addr + PMD_SIZE) & PMD_MASK;
		spinlock_t *ptl;
		pte_t *ptep;

		if (next > end || next == 0)
			next = end;
		ptep = pte_offset_map_lock(pgt, addr, &ptl);
		if (!ptep && (vma->vm_flags & VM_HUGETLB)) {
			/* A hugetlb page is never split: fn sees its huge
			 * PMD, once, under the PMD lock. */
			ptep = pmd_lock_entry(pgt, addr, false, false, &ptl);
			if (ptep && pmd_trans_huge(ptep_get(ptep)))
				fn(vma, addr & PMD_MASK, ptep, arg);
			if (ptep)
				spin_unlock(ptl);
			addr = next;
			continue;
		}
		if (!ptep && (vma->vm_flags & (VM_HUGEPAGE | VM_NOHUGEPAGE)) &&
		    pmd_trans_huge(pmd_peek(pgt, addr))) {
			/* fn knows PTEs only: split the huge PMD first. */
			split_huge_pmd(vma, addr);
			ptep = pte_offset_map_lock(pgt, addr, &ptl);
		}
		if (ptep) {
			for (; addr < next; addr += PAGE_SIZE, ptep++)
				fn(vma, addr, ptep, arg);
			pte_unmap_unlock(ptep - 1, ptl);
		}
		addr = next;
	}
}

/* ---- zapping: clear, shoot down, then free ------------------------------------------ */

#define GATHER_MAX 256

struct mmu_gather {
	struct mm_struct *mm;
	bool need_flush; /* a present PTE was cleared, counted page or not */
	int nr;
	struct page *pages[GATHER_MAX];
};

static void tlb_flush_and_free(struct mmu_gather *tlb)
{
	if (!tlb->need_flush)
		return;
	flush_tlb_mm(tlb->mm);
	tlb->need_flush = false;
	for (int i = 0; i < tlb->nr; i++) {
		free_swap_cache(tlb->mm->sys, tlb->pages[i]);
		put_page(tlb->mm->sys->pool, tlb->pages[i]);
	}
	tlb->nr = 0;
}

static void zap_one(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep, void *arg)
{
	struct mmu_gather *tlb = arg;
	struct page *page;
	pte_t pte;

	(void)vma;
	(void)addr;
	if (pte_none(ptep_get(ptep)))
		return;
	pte = ptep_get_and_clear(ptep);
	if (!pte_present(pte)) {
		/* A swap PTE: its slot count, and the cache page if nothing
		 * needs it any more.  A migration entry holds no count: the
		 * split finds the page unmapped here and frees it. */
		if (!is_migration_pte(pte))
			free_swap_and_cache(tlb->mm->sys, pte_to_swp_entry(pte));
		return;
	}
	/* Even a zero-page PTE may sit in a TLB: without the flush a read
	 * after munmap would still succeed through it. */
	tlb->need_flush = true;
	if (pte_special(pte))
		return; /* the zero page: no counts */
	page = pfn_to_page(tlb->mm->sys->pool, pte_pfn(pte));
	page_remove_rmap(page);
	if (PageFlag(page, PG_anon))
		atomic_long_dec(&tlb->mm->nr_anon);
	tlb->pages[tlb->nr++] = page;
}

/* A huge PMD at the start of [start, end) that the range covers whole
 * goes at once (zap_huge_pmd); one it covers in part is split by the walk.
 * Returns where the PTE walk is to go on. */
static unsigned long zap_huge(struct mmu_gather *tlb, struct vm_area_struct *vma,
			      unsigned long start, unsigned long end)
{
	struct page *head;

	if (!vma_may_be_huge(vma) || (start & ~PMD_MASK) || end - start < PMD_SIZE ||
	    !pmd_trans_huge(pmd_peek(&vma->vm_mm->pgt, start)))
		return start;
	if (zap_huge_pmd(vma, start, &head)) {
		tlb->need_flush = true;
		if (head) /* none for the huge zero page */
			tlb->pages[tlb->nr++] = head;
		tlb_flush_and_free(tlb);
	}
	return start + PMD_SIZE;
}

void zap_page_range(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	struct mmu_gather tlb = {.mm = vma->vm_mm};

	if (vma->vm_flags & VM_HUGETLB) {
		/* Whole huge pages (the callers align the range). */
		for (; start < end; start += PMD_SIZE)
			zap_huge(&tlb, vma, start, end);
		return;
	}
	/* Walk in chunks that can never overflow the gather. */
	while ((start = zap_huge(&tlb, vma, start, end)) < end) {
		unsigned long stop = start + (unsigned long)GATHER_MAX * PAGE_SIZE;

		if (stop > end || stop < start)
			stop = end;
		walk_pte_range(vma, start, stop, zap_one, &tlb);
		tlb_flush_and_free(&tlb);
		start = stop;
	}
}

/* ---- mmap and munmap ---------------------------------------------------------------- */

#define MMAP_BASE 0x10000000UL

bool range_ok(unsigned long addr, unsigned long len)
{
	return !(addr & ~PAGE_MASK) && len > 0 && addr + len > addr && addr + len <= TASK_SIZE;
}

unsigned long round_len(unsigned long len)
{
	return (len + PAGE_SIZE - 1) & PAGE_MASK;
}

/* The lowest free range of len bytes at or above MMAP_BASE that starts
 * at a multiple of align (a power of two); 0 if none. */
static unsigned long get_unmapped_area(struct mm_struct *mm, unsigned long len, unsigned long align)
{
	unsigned long addr = MMAP_BASE;

	for (int i = vma_index(mm, addr); i < mm->nr_vmas; i++) {
		addr = (addr + align - 1) & ~(align - 1);
		if (mm->vmas[i]->vm_start >= addr + len)
			break;
		if (mm->vmas[i]->vm_end > addr)
			addr = mm->vmas[i]->vm_end;
	}
	addr = (addr + align - 1) & ~(align - 1);
	return addr + len <= TASK_SIZE ? addr : 0;
}

static bool range_is_free(struct mm_struct *mm, unsigned long addr, unsigned long len)
{
	int i = vma_index(mm, addr);

	return i == mm->nr_vmas || mm->vmas[i]->vm_start >= addr + len;
}

int do_mmap(struct mm_struct *mm, unsigned long addr, unsigned long len, int prot, int flags,
	    const struct cow_file *file, unsigned long *out)
{
	unsigned long vm_flags = VM_MAYWRITE | VM_SOFTDIRTY;
	struct vm_area_struct *vma;
	int err = 0;

	bool thp = (flags & COW_MAP_THP) != 0, hugetlb = (flags & COW_MAP_HUGETLB) != 0;

	len = hugetlb ? (len + PMD_SIZE - 1) & PMD_MASK : round_len(len);
	flags &= ~(COW_MAP_THP | COW_MAP_HUGETLB);
	if (len == 0 || (prot & ~(COW_PROT_READ | COW_PROT_WRITE)) ||
	    (flags != COW_MAP_PRIVATE && flags != COW_MAP_SHARED) ||
	    (thp && (flags != COW_MAP_PRIVATE || file)) || (hugetlb && (file || thp)))
		return COW_EINVAL;
	if (addr && (!range_ok(addr, len) || (hugetlb && (addr & ~PMD_MASK))))
		return COW_EINVAL;
	/* A file is mapped from its start, and not past its last page. */
	if (file && len > ((cow_file_size(file) + PAGE_SIZE - 1) & PAGE_MASK))
		return COW_EINVAL;
	if (prot & COW_PROT_READ)
		vm_flags |= VM_READ;
	if (prot & COW_PROT_WRITE)
		vm_flags |= VM_WRITE;
	if (flags == COW_MAP_SHARED)
		vm_flags |= VM_SHARED;
	if (thp)
		vm_flags |= VM_HUGEPAGE;
	/* An era without hugetlb (2.4) maps small pages there. */
	if (hugetlb && mm->sys->policy->hugetlb != HUGETLB_NONE)
		vm_flags |= VM_HUGETLB;

	down_write(&mm->mmap_lock);
	if (!addr)
		addr = get_unmapped_area(mm, len, (thp || hugetlb) ? PMD_SIZE : PAGE_SIZE);
	if (!addr) {
		err = COW_ENOMEM;
		goto out_unlock;
	}
	if (!range_is_free(mm, addr, len)) {
		err = COW_EBUSY;
		goto out_unlock;
	}
	vma = vma_alloc(mm, addr, addr + len, vm_flags,
			(flags == COW_MAP_SHARED || file) ? 0 : addr >> PAGE_SHIFT);
	if (!vma) {
		err = COW_ENOMEM;
		goto out_unlock;
	}
	if (file || (flags == COW_MAP_SHARED && !(vm_flags & VM_HUGETLB))) {
		vma->shm = file ? file_cache_get(mm->sys, file) : shmem_create(len >> PAGE_SHIFT);
		if (!vma->shm) {
			free(vma);
			err = COW_ENOMEM;
			goto out_unlock;
		}
	}
	if (vm_flags & VM_HUGETLB) {
		err = hugetlb_reserve_pages(vma);
		if (err) {
			free(vma);
			goto out_unlock;
		}
	}
	err = vma_insert(mm, vma);
	if (err) {
		vma_free(vma);
		goto out_unlock;
	}
	*out = addr;
out_unlock:
	up_write(&mm->mmap_lock);
	return err;
}

/* Split the VMAs so that none straddles start or end; mmap_lock held for
 * write. */
int split_at_edges(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	struct vm_area_struct *vma = find_vma(mm, start);
	int err;

	if (vma && vma->vm_start < start) {
		err = split_vma(mm, vma, start);
		if (err)
			return err;
	}
	vma = find_vma(mm, end - 1);
	if (vma && vma->vm_end > end)
		return split_vma(mm, vma, end);
	return 0;
}

/* Is [start, end) covered by VMAs without a hole? */
bool range_is_mapped(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	unsigned long addr = start;

	while (addr < end) {
		struct vm_area_struct *vma = find_vma(mm, addr);

		if (!vma)
			return false;
		addr = vma->vm_end;
	}
	return true;
}

int do_munmap(struct mm_struct *mm, unsigned long addr, unsigned long len)
{
	unsigned long end;
	int err;

	len = round_len(len);
	if (!range_ok(addr, len))
		return COW_EINVAL;
	end = addr + len;
	down_write(&mm->mmap_lock);
	err = split_at_edges(mm, addr, end);
	if (err)
		goto out_unlock;
	for (;;) {
		int i = vma_index(mm, addr);
		struct vm_area_struct *vma;

		if (i == mm->nr_vmas || mm->vmas[i]->vm_start >= end)
			break;
		vma = mm->vmas[i];
		zap_page_range(vma, vma->vm_start, vma->vm_end);
		vma_remove(mm, vma);
		vma_free(vma);
	}
	/* Tables wholly inside the hole go too (through RCU: gup-fast may
	 * still walk them). */
	free_pgd_range(&mm->pgt, addr, end);
out_unlock:
	up_write(&mm->mmap_lock);
	return err;
}
