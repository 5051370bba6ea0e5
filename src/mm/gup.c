/*
 * get_user_pages: references to the frames behind user addresses, for
 * devices (direct I/O), pipes (vmsplice) and long-term pins (io_uring
 * fixed buffers, RDMA).  The heart of the 2009 thread.
 *
 * Slow path (get_user_pages): under the mmap_lock held for read, each page
 * is looked up under its PT lock (follow_page); if the PTE does not allow
 * the access yet, a fault is taken and the lookup retried.  A write GUP
 * faults until the PTE is writable, which breaks COW; under policies with
 * GUP_UNSHARE_RO_PIN a read-only FOLL_PIN of an anonymous page that may be
 * shared takes an unshare fault first (a7f226604170), so a pin only ever
 * holds an exclusive page.
 *
 * Fast path (gup_fast): no mmap_lock, no PT lock.  The walk runs inside the
 * CPU's TLB access window, the analogue of Linux's interrupts-off section
 * (a shootdown, and so the freeing of a page unmapped meanwhile, waits for
 * it), and inside rcu_read_lock (page tables are freed through RCU).  It
 * takes a speculative reference and, under GUPFAST_SEQ_EXCLUSIVE, re-checks
 * the PTE and mm->write_protect_seq afterwards, falling back to the slow
 * path when anything moved; under GUPFAST_NONE (2.6.29) it trusts the PTE
 * it read, so a fork that runs between the read and the reference shares a
 * page that is about to be pinned.
 *
 * References: FOLL_GET adds one; FOLL_PIN adds GUP_PIN_COUNTING_BIAS (and
 * sets MMF_HAS_PINNED, never cleared).  Every reference handed out is also
 * counted in the system's shadow table ext_refs[pfn], which lets the
 * invariant checker demand refcount == mapcount + cache + GUP references
 * exactly, and pins_acquired / pins_released count pins like /proc/vmstat.
 */
#include "mm/mm.h"

#include <stdlib.h>

static int refs_for(const struct page *page, unsigned int flags)
{
	if (!(flags & FOLL_PIN))
		return 1;
	return PageFlag(page, PG_head) ? 1 : GUP_PIN_COUNTING_BIAS;
}

static void account_refs(struct cow_system *sys, struct page *page, int refs, bool pin)
{
	atomic_add(refs, &sys->ext_refs[page_to_pfn(sys->pool, page)]);
	if (pin)
		atomic_long_inc(refs > 0 ? &sys->pins_acquired : &sys->pins_released);
}

/* Take the reference GUP hands out; the page is known to be live. */
static void grab_page(struct cow_system *sys, struct page *page, unsigned int flags)
{
	/* Reference first, shadow count second (and the reverse on put): a
	 * check between the two steps sees refcount >= its sources. */
	if (flags & FOLL_PIN)
		page_pin(page);
	else
		get_page(page);
	account_refs(sys, page, refs_for(page, flags), flags & FOLL_PIN);
}

void gup_put_page(struct cow_system *sys, struct page *page, unsigned int flags)
{
	account_refs(sys, page, -refs_for(page, flags), flags & FOLL_PIN);
	if (flags & FOLL_PIN)
		unpin_user_page(sys->pool, page);
	else
		put_page(sys->pool, page);
}

/* gup_must_unshare(): may this R/O pin not take the page as it is? */
static bool gup_must_unshare(const struct cow_system *sys, unsigned int flags,
			     const struct page *page)
{
	return sys->policy->gup == GUP_UNSHARE_RO_PIN && (flags & FOLL_PIN) &&
	       !(flags & FOLL_WRITE) && PageFlag(page, PG_anon) &&
	       !PageFlag(page, PG_anon_exclusive);
}

enum follow { FOLLOW_OK, FOLLOW_FAULT, FOLLOW_UNSHARE };

/* Look the page up under its PT lock and grab it if the PTE allows the
 * access as it is. */
static enum follow follow_page(struct mm_struct *mm, unsigned long addr, unsigned int flags,
			       struct page **pagep)
{
	struct cow_system *sys = mm->sys;
	struct page *page;
	spinlock_t *ptl;
	pte_t *ptep = pte_offset_map_lock(&mm->pgt, addr, &ptl);
	pte_t pte;

	if (!ptep)
		return FOLLOW_FAULT;
	pte = ptep_get(ptep);
	if (!pte_present(pte) || (!pte_user(pte) && !(flags & FOLL_FORCE))) {
		pte_unmap_unlock(ptep, ptl);
		return FOLLOW_FAULT;
	}
	page = pte_special(pte) ? sys->zero_page : pfn_to_page(sys->pool, pte_pfn(pte));
	/* A write needs a writable PTE, except the forced write of Linux 6.0
	 * (5535be309971): through a read-only PTE only onto an exclusive
	 * anonymous page, the private copy a forced COW fault made. */
	if ((flags & FOLL_WRITE) && !pte_write(pte) &&
	    !((flags & FOLL_FORCE) && !pte_special(pte) && PageFlag(page, PG_anon) &&
	      PageFlag(page, PG_anon_exclusive))) {
		pte_unmap_unlock(ptep, ptl);
		return FOLLOW_FAULT;
	}
	if (gup_must_unshare(sys, flags, page)) {
		pte_unmap_unlock(ptep, ptl);
		return FOLLOW_UNSHARE;
	}
	grab_page(sys, page, flags);
	pte_unmap_unlock(ptep, ptl);
	*pagep = page;
	return FOLLOW_OK;
}

static void release_pages(struct cow_system *sys, struct page **pages, unsigned long n,
			  unsigned int flags)
{
	for (unsigned long i = 0; i < n; i++)
		gup_put_page(sys, pages[i], flags);
}

static int check_flags(unsigned int flags)
{
	/* Exactly one of FOLL_GET and FOLL_PIN, as Linux insists. */
	return !(flags & FOLL_GET) == !(flags & FOLL_PIN) ? COW_EINVAL : 0;
}

long get_user_pages(struct mm_struct *mm, unsigned long start, unsigned long nr, unsigned int flags,
		    struct page **pages)
{
	struct cow_system *sys = mm->sys;
	unsigned long i;
	int err = check_flags(flags);

	if (err)
		return err;
	if (flags & FOLL_PIN)
		set_bit(MMF_HAS_PINNED, &mm->flags);
	down_read(&mm->mmap_lock);
	for (i = 0; i < nr && !err; i++) {
		unsigned long addr = start + i * PAGE_SIZE;
		struct vm_area_struct *vma = find_vma(mm, addr);

		if (!vma ||
		    ((flags & FOLL_WRITE) && !(vma->vm_flags & VM_WRITE) &&
		     !((flags & FOLL_FORCE) && is_cow_mapping(vma->vm_flags))) ||
		    (!(flags & FOLL_FORCE) && !(vma->vm_flags & (VM_READ | VM_WRITE)))) {
			err = COW_EFAULT;
			break;
		}
		for (;;) {
			enum follow f = follow_page(mm, addr, flags, &pages[i]);

			if (f == FOLLOW_OK)
				break;
			unsigned int fault = (flags & FOLL_FORCE) ? FAULT_FLAG_FORCE : 0;

			if (f == FOLLOW_UNSHARE)
				fault |= FAULT_FLAG_UNSHARE;
			else if (flags & FOLL_WRITE)
				fault |= FAULT_FLAG_WRITE;
			err = handle_mm_fault_locked(mm, addr, fault);
			if (err)
				break;
		}
	}
	up_read(&mm->mmap_lock);
	if (err) {
		release_pages(sys, pages, i, flags);
		return err;
	}
	return (long)nr;
}

/* Drop a speculative reference that gup-fast may not keep. */
static void gup_fast_undo(struct cow_system *sys, struct page *page, int refs)
{
	page_ref_sub(sys->pool, page, refs);
}

long gup_fast(struct mm_struct *mm, int cpu, unsigned long start, unsigned long nr,
	      unsigned int flags, struct page **pages)
{
	struct cow_system *sys = mm->sys;
	struct tlb_window *win = &sys->cpus[cpu].window;
	bool guarded = sys->policy->gupfast == GUPFAST_SEQ_EXCLUSIVE;
	unsigned int seq = 0;
	unsigned long n = 0;

	if (check_flags(flags))
		return COW_EINVAL;
	if (flags & FOLL_PIN)
		set_bit(MMF_HAS_PINNED, &mm->flags);
	tlb_access_begin(win); /* local_irq_save(): shootdowns wait for us */
	rcu_read_lock();
	if (guarded && (flags & FOLL_PIN)) {
		seq = raw_read_seqcount(&mm->write_protect_seq);
		if (seq & 1)
			goto out; /* fork is copying this mm right now */
	}
	for (; n < nr; n++) {
		unsigned long addr = start + n * PAGE_SIZE;
		struct page *page;
		pte_t pte, *ptep = pgtable_walk_lockless(&mm->pgt, addr, &pte);
		int refs;

		if (!ptep || !pte_present(pte) || !pte_user(pte) || pte_special(pte))
			break;
		if ((flags & FOLL_WRITE) && !pte_write(pte))
			break;
		page = pfn_to_page(sys->pool, pte_pfn(pte));
		if (guarded && gup_must_unshare(sys, flags, page))
			break;
		refs = refs_for(page, flags);
		if (!page_ref_add_unless_zero(page, refs))
			break;
		if (guarded && ptep_get(ptep) != pte) {
			gup_fast_undo(sys, page, refs);
			break;
		}
		account_refs(sys, page, refs, flags & FOLL_PIN);
		pages[n] = page;
	}
	if (guarded && (flags & FOLL_PIN) && n > 0 &&
	    read_seqcount_retry(&mm->write_protect_seq, seq)) {
		/* A fork write-protected under us: what we pinned may now be
		 * shared.  Give it all back; the slow path sorts it out. */
		release_pages(sys, pages, n, flags);
		n = 0;
	}
out:
	rcu_read_unlock();
	tlb_access_end(win);
	return (long)n;
}

long get_user_pages_fast(struct mm_struct *mm, int cpu, unsigned long start, unsigned long nr,
			 unsigned int flags, struct page **pages)
{
	long n = gup_fast(mm, cpu, start, nr, flags, pages), rest;

	if (n < 0 || (unsigned long)n == nr)
		return n;
	rest = get_user_pages(mm, start + (unsigned long)n * PAGE_SIZE, nr - (unsigned long)n,
			      flags, pages + n);
	if (rest < 0) {
		release_pages(mm->sys, pages, (unsigned long)n, flags);
		return rest;
	}
	return n + rest;
}
