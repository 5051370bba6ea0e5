/*
 * madvise, as Linux's mm/madvise.c: dontneed, dontfork and dofork,
 * mergeable and unmergeable (KSM), hugepage and nohugepage (THP), and the
 * populate advice.
 */
#include "mm/mm.h"

static int populate_range(struct mm_struct *mm, unsigned long addr, unsigned long end, bool write)
{
	int err = 0;

	down_read(&mm->mmap_lock);
	if (!range_is_mapped(mm, addr, end))
		err = COW_ENOMEM;
	for (unsigned long a = addr; a < end && !err; a += PAGE_SIZE)
		err = handle_mm_fault_locked(mm, a, write ? FAULT_FLAG_WRITE : 0);
	up_read(&mm->mmap_lock);
	return err;
}

int do_madvise(struct mm_struct *mm, unsigned long addr, unsigned long len, int advice)
{
	unsigned long end;
	int err = 0;

	len = round_len(len);
	if (!range_ok(addr, len))
		return COW_EINVAL;
	end = addr + len;
	switch (advice) {
	case COW_MADV_DONTNEED:
		down_read(&mm->mmap_lock);
		if (!range_is_mapped(mm, addr, end))
			err = COW_ENOMEM;
		for (int i = vma_index(mm, addr); i < mm->nr_vmas && mm->vmas[i]->vm_start < end;
		     i++) {
			struct vm_area_struct *vma = mm->vmas[i];
			unsigned long s = vma->vm_start > addr ? vma->vm_start : addr;
			unsigned long e = vma->vm_end < end ? vma->vm_end : end;

			/* Whole huge pages only: the start aligned, the end
			 * rounded down (6.1's madvise_dontneed_free). */
			if (vma->vm_flags & VM_HUGETLB) {
				if (s & ~PMD_MASK) {
					err = COW_EINVAL;
					break;
				}
				e &= PMD_MASK;
			}
			zap_page_range(vma, s, e);
		}
		up_read(&mm->mmap_lock);
		return err;
	case COW_MADV_POPULATE_READ:
	case COW_MADV_POPULATE_WRITE:
		return populate_range(mm, addr, end, advice == COW_MADV_POPULATE_WRITE);
	case COW_MADV_COLLAPSE:
		/* For write, where Linux drops the read lock and takes the
		 * write lock around each collapse_huge_page(). */
		down_write(&mm->mmap_lock);
		err = range_is_mapped(mm, addr, end) ? madvise_collapse(mm, addr, end) : COW_ENOMEM;
		up_write(&mm->mmap_lock);
		return err;
	case COW_MADV_DONTFORK:
	case COW_MADV_DOFORK:
	case COW_MADV_MERGEABLE:
	case COW_MADV_UNMERGEABLE:
	case COW_MADV_HUGEPAGE:
	case COW_MADV_NOHUGEPAGE:
		/* As Linux: the mapped parts get the advice, and a hole in
		 * the range is reported afterwards as ENOMEM. */
		down_write(&mm->mmap_lock);
		err = split_at_edges(mm, addr, end);
		if (!err) {
			unsigned long set = 0, clear = 0;

			switch (advice) {
			case COW_MADV_DONTFORK: set = VM_DONTCOPY; break;
			case COW_MADV_DOFORK: clear = VM_DONTCOPY; break;
			case COW_MADV_MERGEABLE: set = VM_MERGEABLE; break;
			case COW_MADV_UNMERGEABLE: clear = VM_MERGEABLE; break;
			case COW_MADV_HUGEPAGE:
				set = VM_HUGEPAGE;
				clear = VM_NOHUGEPAGE;
				break;
			default:
				set = VM_NOHUGEPAGE;
				clear = VM_HUGEPAGE;
				break;
			}
			for (int i = vma_index(mm, addr);
			     i < mm->nr_vmas && mm->vmas[i]->vm_start < end; i++) {
				struct vm_area_struct *vma = mm->vmas[i];

				/* KSM and THP leave hugetlb alone (ksm_madvise,
				 * hugepage_madvise accept and ignore it). */
				if ((vma->vm_flags & VM_HUGETLB) && !(set & VM_DONTCOPY) &&
				    !(clear & VM_DONTCOPY))
					continue;
				vma->vm_flags = (vma->vm_flags & ~clear) | set;
			}
			vma_merge_range(mm, addr, end);
			if (!range_is_mapped(mm, addr, end))
				err = COW_ENOMEM;
		}
		up_write(&mm->mmap_lock);
		if (advice == COW_MADV_MERGEABLE)
			ksm_enter(mm);
		return err;
	}
	return COW_EINVAL;
}
