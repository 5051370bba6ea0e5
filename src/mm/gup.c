/*
 * get_user_pages: references to the frames behind user addresses, for
 * devices (direct I/O), pipes (vmsplice) and long-term pins (io_uring
 * fixed buffers, RDMA).  The heart of the 2009 thread.
 *
 * Slow path (get_user_pages): under the mmap_lock held for read, each page
 * is looked up under its PT lock (follow_page); if the PTE does not allow
 * the access yet, a fault is taken and the lookup retried.  A write GUP
 * faults until the PTE is writable, which breaks COW.  The policy's GUP
 * rule adds more: the 2009 patches break COW for reads too and mark the
 * page (PG_gup, PG_dontcow); 5.8 breaks COW for every GUP in a COW
 * mapping; from 5.19 a read-only FOLL_PIN of an anonymous page that may
 * be shared takes an unshare fault first (a7f226604170), so a pin only
 * ever holds an exclusive page, and from 6.2 a read-only long-term pin
 * unshares the zero page as well.
 *
 * Fast path (gup_fast): no mmap_lock, no PT lock.  The walk runs inside the
 * CPU's TLB access window, the analogue of Linux's interrupts-off section
 * (a shootdown, and so the freeing of a page unmapped meanwhile, waits for
 * it), and inside rcu_read_lock (page tables are freed through RCU).  It
 * takes a speculative reference and then, by the policy's guard: trusts
 * the PTE it read (GUPFAST_NONE, 2.6.29's x86 gup-fast), so a fork that
 * runs between the read and the reference shares a page that is about to
 * be pinned; re-checks the PTE (GUPFAST_RECHECK); or also samples
 * mm->write_protect_seq around the walk of a pin (GUPFAST_RECHECK_SEQ,
 * 5.11+), falling back to the slow path when anything moved.  Before
 * 2.6.27 there was no gup-fast (GUPFAST_ABSENT).
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
	return PageCompound(page) ? 1 : GUP_PIN_COUNTING_BIAS;
}

/* The shadow count of one page's GUP references (see above). */
static void account_refs(struct cow_system *sys, struct page *page, int refs)
{
	atomic_add(refs, &sys->ext_refs[page_to_pfn(sys->pool, page)]);
}

/* The vmstat-like pin counters, n pins at once (a batch costs one atomic
 * on a shared line, not one per page). */
static void account_pins(struct cow_system *sys, unsigned int flags, long n, bool acquired)
{
	if ((flags & FOLL_PIN) && n > 0)
		atomic_long_add(n, acquired ? &sys->pins_acquired : &sys->pins_released);
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
	account_refs(sys, page, refs_for(page, flags));
	account_pins(sys, flags, 1, true);
}

static void put_one(struct cow_system *sys, struct page *page, unsigned int flags)
{
	account_refs(sys, page, -refs_for(page, flags));
	if (flags & FOLL_PIN)
		unpin_user_page(sys->pool, page);
	else
		put_page(sys->pool, page);
}

void gup_put_pages(struct cow_system *sys, struct page **pages, unsigned long n, unsigned int flags)
{
	for (unsigned long i = 0; i < n; i++)
		put_one(sys, pages[i], flags);
	account_pins(sys, flags, (long)n, false);
}

/* gup_must_unshare(): may this R/O pin not take the page as it is?  From
 * 5.19 not a maybe-shared anonymous page; from 6.2, for a long-term pin,
 * not the shared zero page or a page-cache page of a private mapping
 * either (gup-fast, which knows no VMA, leaves those to the slow path). */
static bool gup_must_unshare(const struct cow_system *sys, const struct vm_area_struct *vma,
			     unsigned int flags, const struct page *page)
{
	enum gup_rule rule = sys->policy->gup;

	if ((rule != GUP_UNSHARE_RO_PIN && rule != GUP_UNSHARE_ALL) || !(flags & FOLL_PIN) ||
	    (flags & FOLL_WRITE))
		return false;
	if (!PageFlag(page, PG_anon))
		return rule == GUP_UNSHARE_ALL && (flags & FOLL_LONGTERM) &&
		       (!vma || is_cow_mapping(vma->vm_flags));
	return !PageFlag(page, PG_anon_exclusive);
}

/* The 2009 patches' de-COW: also a read GUP breaks COW of an anonymous
 * page mapped read-only in a writable private mapping (forkfix, dontcow). */
static bool gup_must_decow(const struct cow_system *sys, const struct vm_area_struct *vma,
			   pte_t pte, const struct page *page)
{
	enum gup_rule rule = sys->policy->gup;

	return (rule == GUP_DECOW_FLAG || rule == GUP_DECOW_DONTCOW) && !pte_write(pte) &&
	       PageFlag(page, PG_anon) && is_cow_mapping(vma->vm_flags) &&
	       (vma->vm_flags & VM_WRITE);
}

/* The hint an anonymous page GUP returned keeps under the 2009 patches:
 * PG_gup (forkfix, a hint fork re-checks) or PG_dontcow (never shared
 * again). */
static void gup_mark_page(const struct cow_system *sys, struct page *page)
{
	enum gup_rule rule = sys->policy->gup;

	/* On the head of a large folio (a hugetlb page), which fork tests. */
	page = compound_head(page);
	if ((rule == GUP_DECOW_FLAG || rule == GUP_DECOW_DONTCOW) && PageFlag(page, PG_anon))
		SetPageFlag(page, rule == GUP_DECOW_FLAG ? PG_gup : PG_dontcow);
}

enum follow { FOLLOW_OK, FOLLOW_FAULT, FOLLOW_WRITE_FAULT, FOLLOW_UNSHARE };

/* May a forced write (FOLL_FORCE, a mapping without VM_WRITE) go through
 * this read-only PTE?  Only onto the private copy its COW fault made:
 * from 4.9 (19be0eaffa3a) when the fault ran (FOLL_COW) and the PTE is
 * dirty, from 6.0 (5535be309971) when the page is an exclusive anonymous
 * page.  From 2.6 to 4.9 the write never gets here: after the fault it
 * is retried as a read (see get_user_pages); in 2.4 the fault left the
 * PTE writable, so the lookup needs no exception. */
static bool forced_write_ok(const struct cow_system *sys, unsigned int flags, pte_t pte,
			    const struct page *page)
{
	/* The small zero page never (its PTE is never dirty); the huge zero
	 * page as any huge PMD, by its dirty bit. */
	if (!(flags & FOLL_FORCE) || is_zero_pte(pte))
		return false;
	switch (sys->policy->force) {
	case FORCE_MKWRITE:
	case FORCE_DROP_WRITE: return false;
	case FORCE_COW_DIRTY: return (flags & FOLL_COW) && pte_dirty(pte);
	case FORCE_EXCLUSIVE: return PageFlag(page, PG_anon) && PageFlag(page, PG_anon_exclusive);
	}
	return false;
}

/* Look the page up under its PT lock and grab it if the PTE allows the
 * access as it is. */
static enum follow follow_page(struct vm_area_struct *vma, unsigned long addr, unsigned int flags,
			       struct page **pagep)
{
	struct mm_struct *mm = vma->vm_mm;
	struct cow_system *sys = mm->sys;
	struct page *page;
	spinlock_t *ptl;
	/* A huge PMD gets the same tests as a PTE, for the subpage that
	 * holds addr (follow_trans_huge_pmd()). */
	pte_t *ptep = leaf_offset_map_lock(vma, addr, &ptl);
	pte_t pte;

	if (!ptep) {
		mm_decide(sys, "gup 0x%lx: no page table, fault", addr);
		return FOLLOW_FAULT;
	}
	pte = ptep_get(ptep);
	if (!pte_present(pte) || (!pte_user(pte) && !(flags & FOLL_FORCE))) {
		mm_decide(sys, "gup 0x%lx: no page mapped, fault", addr);
		pte_unmap_unlock(ptep, ptl);
		return FOLLOW_FAULT;
	}
	/* The small zero page, the huge zero page's subpage, or the page. */
	page = pfn_to_page(sys->pool, pte_pfn(pte) + huge_offset(pte, addr));
	if ((flags & FOLL_WRITE) && !pte_write(pte) && !forced_write_ok(sys, flags, pte, page)) {
		mm_decide(sys, "gup 0x%lx: a write to a read-only PTE, write fault", addr);
		pte_unmap_unlock(ptep, ptl);
		return FOLLOW_FAULT;
	}
	if (gup_must_unshare(sys, vma, flags, page)) {
		mm_decide(sys,
			  "gup 0x%lx: a read-only pin of a page that may be shared, unshare fault",
			  addr);
		pte_unmap_unlock(ptep, ptl);
		return FOLLOW_UNSHARE;
	}
	if (gup_must_decow(sys, vma, pte, page)) {
		mm_decide(sys, "gup 0x%lx: a read of a COW page, de-COW with a write fault", addr);
		pte_unmap_unlock(ptep, ptl);
		return FOLLOW_WRITE_FAULT;
	}
	/* FOLL_TOUCH: until 4.15 (a8f97366452e) touch_pmd() marked a THP's
	 * PMD dirty for a read too, which the FOLL_COW test above then takes
	 * for a forced write's private copy, on the huge zero page too. */
	if (sys->policy->thp_touch_dirty && pmd_trans_huge(pte) && !(vma->vm_flags & VM_HUGETLB) &&
	    !pte_dirty(pte))
		ptep_modify(ptep, 0, _PAGE_DIRTY | _PAGE_ACCESSED);
	grab_page(sys, page, flags);
	gup_mark_page(sys, page);
	pte_unmap_unlock(ptep, ptl);
	*pagep = page;
	return FOLLOW_OK;
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
	for (i = 0; i < nr; i++) {
		unsigned long addr = start + i * PAGE_SIZE;
		struct vm_area_struct *vma = find_vma(mm, addr);

		if (!vma ||
		    ((flags & FOLL_WRITE) && !(vma->vm_flags & VM_WRITE) &&
		     !((flags & FOLL_FORCE) && is_cow_mapping(vma->vm_flags))) ||
		    (!(flags & FOLL_FORCE) && !(vma->vm_flags & (VM_READ | VM_WRITE)))) {
			err = COW_EFAULT;
			break;
		}
		/* 5.8 (17839856fd58): in a COW mapping, GUP breaks COW as
		 * for a write, even for a read (only where the mapping is
		 * writable here). */
		unsigned int foll = flags;

		if (sys->policy->gup == GUP_FORCE_COW && is_cow_mapping(vma->vm_flags) &&
		    (vma->vm_flags & VM_WRITE))
			foll |= FOLL_WRITE;
		for (unsigned int faults = 0;; faults++) {
			enum follow f = follow_page(vma, addr, foll, &pages[i]);

			if (f == FOLLOW_OK)
				break;
			unsigned int fault = (foll & FOLL_FORCE) ? FAULT_FLAG_FORCE : 0;

			/* Linux retries for as long as it takes.  A rule set of
			 * the user's whose fault never gives GUP the page it
			 * wants (an unshare rule without exclusive reuse) would
			 * spin here forever: give up, named a livelock. */
			if (faults == COW_GUP_MAX_FAULTS) {
				err = COW_ELIVELOCK;
				break;
			}

			if (f == FOLLOW_UNSHARE)
				fault |= FAULT_FLAG_UNSHARE;
			else if ((foll & FOLL_WRITE) || f == FOLLOW_WRITE_FAULT)
				fault |= FAULT_FLAG_WRITE;
			err = handle_mm_fault_locked(mm, addr, fault);
			if (err)
				break;
			/* A forced write fault in a mapping without VM_WRITE
			 * made the process a private copy; how the retry may
			 * write through the read-only PTE is the era's. */
			if ((fault & FAULT_FLAG_WRITE) && (foll & FOLL_FORCE) &&
			    !(vma->vm_flags & VM_WRITE)) {
				if (sys->policy->force == FORCE_DROP_WRITE) {
					foll &= ~FOLL_WRITE; /* Dirty COW's window */
					mm_decide(sys,
						  "gup 0x%lx: the forced write faulted, retry as a "
						  "read",
						  addr);
				} else if (sys->policy->force == FORCE_COW_DIRTY) {
					foll |= FOLL_COW;
				}
			}
		}
		/* A failed fault: pages[i] holds nothing, and only the i
		 * pages before it are given back. */
		if (err)
			break;
	}
	up_read(&mm->mmap_lock);
	if (err) {
		gup_put_pages(sys, pages, i, flags);
		return err;
	}
	return (long)nr;
}

/* gup-fast's speculative grab (try_grab_folio()): refs references unless
 * the folio is being freed, and a pin of a large folio in its pincount
 * too.  Returns whether it took them. */
static bool gup_fast_grab(struct frame_pool *pool, struct page *page, int refs, unsigned int flags)
{
	struct page *head = compound_head(page);
	bool large = PageCompound(page);

	if (!page_ref_add_unless_zero(head, refs))
		return false;
	/* try_grab_folio(): the folio may have been split between the look
	 * at the page and the grab (refs was counted for what it was then):
	 * let go unless the page still belongs to the folio grabbed.  Once
	 * the reference is in, no split can happen (split_folio() freezes
	 * the count at what it expects). */
	if (unlikely(compound_head(page) != head || PageCompound(page) != large)) {
		page_ref_sub(pool, head, refs);
		return false;
	}
	if ((flags & FOLL_PIN) && large)
		atomic_inc(&head->_pincount);
	return true;
}

/* Drop a speculative grab that gup-fast may not keep. */
static void gup_fast_undo(struct cow_system *sys, struct page *page, int refs, unsigned int flags)
{
	if ((flags & FOLL_PIN) && PageCompound(page))
		atomic_dec(&compound_head(page)->_pincount);
	page_ref_sub(sys->pool, page, refs);
}

long gup_fast(struct mm_struct *mm, int cpu, unsigned long start, unsigned long nr,
	      unsigned int flags, struct page **pages)
{
	struct cow_system *sys = mm->sys;
	struct tlb_window *win = &sys->cpus[cpu].window;
	enum gupfast_guard guard = sys->policy->gupfast;
	enum gup_rule rule = sys->policy->gup;
	bool recheck = guard == GUPFAST_RECHECK || guard == GUPFAST_RECHECK_SEQ;
	bool seqcheck = guard == GUPFAST_RECHECK_SEQ && (flags & FOLL_PIN);
	/* 5.8 and the forkfix take only writable PTEs, for reads too: a
	 * read-only one may need the slow path's COW break. */
	bool need_write = (flags & FOLL_WRITE) || rule == GUP_FORCE_COW || rule == GUP_DECOW_FLAG;
	unsigned int seq = 0;
	unsigned long n = 0;

	if (check_flags(flags))
		return COW_EINVAL;
	if (guard == GUPFAST_ABSENT)
		return 0; /* before 2.6.27: the slow path does it all */
	if (flags & FOLL_PIN)
		set_bit(MMF_HAS_PINNED, &mm->flags);
	tlb_access_begin(win); /* local_irq_save(): shootdowns wait for us */
	rcu_read_lock();
	if (seqcheck) {
		seq = raw_read_seqcount(&mm->write_protect_seq);
		if (seq & 1) {
			/* fork is copying this mm right now */
			mm_decide(sys, "gup-fast: write_protect_seq odd (a fork runs), fall back");
			goto out;
		}
	}
	/* The upper levels are walked once per PTE table, as Linux's
	 * gup_pgd_range() walks them once per range. */
	for (pte_t *ptep = NULL, pte = 0; n < nr; n++) {
		unsigned long addr = start + n * PAGE_SIZE;
		struct page *page;
		int refs;

		if (!ptep || (addr & ~PMD_MASK) == 0)
			ptep = pgtable_walk_lockless(&mm->pgt, addr, &pte);
		else if (pmd_trans_huge(pte))
			pte = ptep_get(ptep); /* gup_huge_pmd(): the same PMD */
		else
			pte = ptep_get(++ptep);
		/* Not the small zero page; the huge zero page's PMD, as
		 * gup_huge_pmd() takes it, yes. */
		if (!ptep || !pte_present(pte) || !pte_user(pte) || is_zero_pte(pte)) {
			mm_decide(sys, "gup-fast 0x%lx: no page it may take, fall back", addr);
			break;
		}
		if (need_write && !pte_write(pte)) {
			mm_decide(sys, "gup-fast 0x%lx: the PTE is read-only, fall back", addr);
			break;
		}
		page = pfn_to_page(sys->pool, pte_pfn(pte) + huge_offset(pte, addr));
		if (gup_must_unshare(sys, NULL, flags, page)) {
			mm_decide(sys,
				  "gup-fast 0x%lx: the page may be shared, fall back to unshare",
				  addr);
			break;
		}
		/* dontcow-2009: an anon page the slow path has not de-COWed
		 * and marked yet goes there. */
		if (rule == GUP_DECOW_DONTCOW && PageFlag(page, PG_anon) &&
		    !PageFlag(compound_head(page), PG_dontcow)) {
			mm_decide(sys, "gup-fast 0x%lx: not PG_dontcow yet, fall back", addr);
			break;
		}
		refs = refs_for(page, flags);
		if (!gup_fast_grab(sys->pool, page, refs, flags)) {
			mm_decide(sys,
				  "gup-fast 0x%lx: the page is being freed or split, fall back",
				  addr);
			break;
		}
		/* The forkfix flags the page before its re-check, so that a
		 * fork either sees the flag or makes the re-check fail. */
		gup_mark_page(sys, page);
		if (recheck && ptep_get(ptep) != pte) {
			mm_decide(sys, "gup-fast 0x%lx: the PTE changed after the grab, fall back",
				  addr);
			gup_fast_undo(sys, page, refs, flags);
			break;
		}
		mm_decide(sys, "gup-fast 0x%lx: takes pfn %lu %s", addr,
			  page_to_pfn(sys->pool, page),
			  recheck ? "(the PTE re-checked)" : "(no re-check in this era)");
		account_refs(sys, page, refs);
		pages[n] = page;
	}
	account_pins(sys, flags, (long)n, true);
	if (seqcheck && n > 0 && read_seqcount_retry(&mm->write_protect_seq, seq)) {
		/* A fork write-protected under us: what we pinned may now be
		 * shared.  Give it all back; the slow path sorts it out. */
		mm_decide(sys, "gup-fast: write_protect_seq changed, give back %lu, fall back", n);
		gup_put_pages(sys, pages, n, flags);
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
		gup_put_pages(mm->sys, pages, (unsigned long)n, flags);
		return rest;
	}
	return n + rest;
}
