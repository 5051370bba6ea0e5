/*
 * Changing a mapping's protection in place, as Linux's mm/mprotect.c:
 * mprotect, the PTE rewrites it makes, and clear_refs soft-dirty (which
 * Linux keeps in fs/proc/task_mmu.c: it write-protects PTEs the same way).
 */
#include "mm/mm.h"

struct prot_change {
	struct cow_system *sys;
	bool user;    /* the VMA is accessible at all */
	bool write;   /* the VMA becomes writable */
	bool reduced; /* a PTE lost its write bit: shoot down */
};

void ptep_modify(pte_t *ptep, pte_t clear, pte_t set)
{
	pte_t old = ptep_get(ptep);

	while (pte_present(old)) {
		pte_t seen = cmpxchg(ptep, old, (old & ~clear) | set);

		if (seen == old)
			return;
		old = seen;
	}
}

/* Say what mprotect did with a private anonymous page gaining write. */
static void mprotect_decide(struct cow_system *sys, const struct page *page, const char *what)
{
	char counts[64];

	if (unlikely(sys->decide_fn))
		mm_decide(sys, "mprotect %s: %s", mm_page_counts(sys, page, counts, sizeof(counts)),
			  what);
}

static void change_pte(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep, void *arg)
{
	struct prot_change *pc = arg;
	pte_t pte = ptep_get(ptep);
	struct page *page;

	(void)addr;
	if (!pte_present(pte))
		return;
	if (pte_user(pte) != pc->user) {
		/* PROT_NONE keeps the page mapped but out of reach, as
		 * Linux's _PAGE_PROTNONE does. */
		ptep_modify(ptep, pc->user ? 0 : _PAGE_USER, pc->user ? _PAGE_USER : 0);
		pc->reduced |= !pc->user;
		pte = ptep_get(ptep);
	}
	if (!pc->write) {
		if (pte_write(pte)) {
			ptep_modify(ptep, _PAGE_RW, 0);
			pc->reduced = true;
		}
		return;
	}
	/* A hugetlb page waits for the write fault (hugetlb_change_protection
	 * maps a private mapping's pages read-only). */
	if (pte_write(pte) || pte_special(pte) || pmd_trans_huge(pte))
		return;
	/* A PTE that soft-dirty tracking write-protected stays so: the next
	 * write must fault to mark it (can_change_pte_writable). */
	if (!(vma->vm_flags & VM_SOFTDIRTY) && !pte_soft_dirty(pte)) {
		if (!(vma->vm_flags & VM_SHARED))
			mprotect_decide(pc->sys, pfn_to_page(pc->sys->pool, pte_pfn(pte)),
					"soft-dirty clear, leave it read-only (a write marks it)");
		return;
	}
	/* Gaining write: a shared mapping's page may be mapped writable at
	 * once; a private one's only if it is an exclusive anonymous page
	 * (6.0's can_change_pte_writable); older kernels, 5.19 included,
	 * let the next write fault decide. */
	page = pfn_to_page(pc->sys->pool, pte_pfn(pte));
	if ((vma->vm_flags & VM_SHARED) ||
	    (pc->sys->policy->mprotect_upgrade && PageFlag(page, PG_anon) &&
	     PageFlag(page, PG_anon_exclusive))) {
		ptep_modify(ptep, 0, _PAGE_RW);
		if (!(vma->vm_flags & VM_SHARED))
			mprotect_decide(pc->sys, page, "exclusive, map it writable now");
	} else if (PageFlag(page, PG_anon)) {
		mprotect_decide(pc->sys, page,
				pc->sys->policy->mprotect_upgrade
					? "not exclusive, leave it read-only (a write faults)"
					: "the era leaves it read-only (a write faults)");
	}
}

int do_mprotect(struct mm_struct *mm, unsigned long addr, unsigned long len, int prot)
{
	unsigned long end;
	bool reduced = false;
	int err;

	len = round_len(len);
	if (!range_ok(addr, len) || (prot & ~(COW_PROT_READ | COW_PROT_WRITE)))
		return COW_EINVAL;
	end = addr + len;
	down_write(&mm->mmap_lock);
	if (!range_is_mapped(mm, addr, end)) {
		err = COW_ENOMEM;
		goto out_unlock;
	}
	err = split_at_edges(mm, addr, end);
	if (err)
		goto out_unlock;
	for (int i = vma_index(mm, addr); i < mm->nr_vmas && mm->vmas[i]->vm_start < end; i++) {
		struct vm_area_struct *vma = mm->vmas[i];
		struct prot_change pc = {mm->sys, prot != 0, (prot & COW_PROT_WRITE) != 0, false};

		vma->vm_flags &= ~(VM_READ | VM_WRITE);
		if (prot & COW_PROT_READ)
			vma->vm_flags |= VM_READ;
		if (prot & COW_PROT_WRITE)
			vma->vm_flags |= VM_WRITE;
		walk_pte_range(vma, vma->vm_start, vma->vm_end, change_pte, &pc);
		reduced |= pc.reduced;
	}
	if (reduced)
		flush_tlb_mm(mm);
	vma_merge_range(mm, addr, end);
out_unlock:
	up_write(&mm->mmap_lock);
	return err;
}

struct soft_dirty_ctx {
	struct cow_system *sys;
	bool reduced;
};

/* clear_soft_dirty(): write-protect the PTE and clear its soft-dirty bit,
 * unless the policy leaves pages that may be pinned (a write would find
 * them exclusive and reuse them anyway under linux-6.5; under the
 * refcount-only rule of 5.9/5.10 it copied them away from the pin). */
static void clear_soft_dirty_pte(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep,
				 void *arg)
{
	struct soft_dirty_ctx *c = arg;
	pte_t pte = ptep_get(ptep);

	(void)addr;
	if (!pte_present(pte))
		return;
	if (c->sys->policy->clear_refs_skip_pinned && !pte_special(pte) &&
	    test_bit(MMF_HAS_PINNED, &vma->vm_mm->flags) && is_cow_mapping(vma->vm_flags) &&
	    page_maybe_dma_pinned(pfn_to_page(c->sys->pool, pte_pfn(pte)))) {
		if (unlikely(c->sys->decide_fn)) {
			char counts[64];

			mm_decide(c->sys, "clear_refs %s: maybe pinned, leave it writable",
				  mm_page_counts(c->sys, pfn_to_page(c->sys->pool, pte_pfn(pte)),
						 counts, sizeof(counts)));
		}
		return;
	}
	if (unlikely(c->sys->decide_fn) && !pte_special(pte) &&
	    mm_page_extra_refs(pfn_to_page(c->sys->pool, pte_pfn(pte))) > 0) {
		char counts[64];

		mm_decide(c->sys, "clear_refs %s: held beyond its mappings, write-protect it%s",
			  mm_page_counts(c->sys, pfn_to_page(c->sys->pool, pte_pfn(pte)), counts,
					 sizeof(counts)),
			  c->sys->policy->clear_refs_skip_pinned ? " (not maybe pinned)"
								 : " (the era skips no page)");
	}
	if (pte_write(pte))
		c->reduced = true;
	ptep_modify(ptep, _PAGE_RW | _PAGE_SOFT_DIRTY, 0);
}

int clear_refs_soft_dirty(struct mm_struct *mm)
{
	struct soft_dirty_ctx c = {mm->sys, false};

	down_write(&mm->mmap_lock);
	for (int i = 0; i < mm->nr_vmas; i++) {
		struct vm_area_struct *vma = mm->vmas[i];

		vma->vm_flags &= ~VM_SOFTDIRTY;
		/* No soft-dirty tracking of hugetlb (its walk has no
		 * hugetlb_entry). */
		if (!(vma->vm_flags & VM_HUGETLB))
			walk_pte_range(vma, vma->vm_start, vma->vm_end, clear_soft_dirty_pte, &c);
	}
	if (c.reduced)
		flush_tlb_mm(mm);
	up_write(&mm->mmap_lock);
	return 0;
}

/* MADV_POPULATE_(READ|WRITE): fault every page of [addr, end) in under
 * one hold of mmap_lock, as the access would; a page whose PTE already
 * allows the access costs one spurious fault's PTE-lock round trip. */
