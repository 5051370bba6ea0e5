/*
 * The software MMU: every load and store of a task goes through its CPU's
 * TLB, then a page-table walk, then the fault handler, as on hardware.
 *
 * The TLB is direct mapped, TLB_ENTRIES entries per CPU, written only by
 * its own CPU.  An entry is tagged with the mm's unique id and with the
 * mm's TLB generation at the time it was filled; flush_tlb_mm() bumps the
 * generation, which makes every entry of that mm on every CPU unusable for
 * accesses that start afterwards, and then waits for accesses already in
 * flight (tlb_shootdown_wait): together, a shootdown.
 *
 * Why this is enough: an access reads the generation after announcing
 * itself in its CPU's window.  An access that started before the bump may
 * still use an old translation, but the shooter waits for it to end, as a
 * shootdown IPI waits for the CPU to finish its instruction.  An access
 * that starts after the bump reads the new generation, so it cannot use
 * an older entry, and its walk sees the PTE change that preceded the bump
 * (the bump is a full barrier, the read of the generation is followed by a
 * read barrier).  So once flush_tlb_mm() returns, no store can reach a
 * frame through a translation that was removed before the call.
 *
 * The walk sets the accessed bit, and the dirty bit for a store, with a
 * compare-and-swap that succeeds only if the PTE did not change, as the
 * hardware walker's locked update does.
 *
 * Under the explorer an access moves at most ACCESS_CHUNK (512) bytes, each
 * chunk an access of its own, and the bytes move after a yield point that
 * names the frame (a read or a write of that struct page): so a store of
 * a whole page can be interleaved with another CPU's copy of that page,
 * chunk by chunk, and a shootdown that completes between two chunks sends
 * the rest of the store through the fault handler, as an IPI taken in the
 * middle of a memcpy does.  The yield point also tells the explorer's
 * sleep sets which frame the step touches.  On real threads (stress) an
 * access is one copy per page: the host's memcpy is what interleaves.
 *
 * Alternatives rejected: invalidating single entries on remote CPUs (the
 * remote CPU may refill from the old PTE between the PTE change and the
 * invalidation unless the walk and the use are atomic with respect to it,
 * which needs the same window anyway); flushing on every context switch
 * (needless, entries carry the mm id).
 */
#include "mm/mm.h"

#include <string.h>

void flush_tlb_mm(struct mm_struct *mm)
{
	struct cow_system *sys = mm->sys;

	atomic_long_inc_return(&mm->tlb_gen); /* a full barrier after the PTE change */
	tlb_shootdown_wait(&sys->cpus[0].window, sizeof(struct cow_cpu), sys->nr_cpus);
}

static void copy_bytes(char *frame, unsigned long off, void *buf, unsigned long n, bool write)
{
	if (unlikely(sync_explorer != NULL))
		sync_point(write ? SYNC_WRITE : SYNC_READ, frame_chunk(frame, off));
	if (write)
		memcpy(frame + off, buf, n);
	else
		memcpy(buf, frame + off, n);
}

/* One access inside a single page.  Returns 0, or a fault's error. */
static int access_one_page(struct cow_task *task, unsigned long addr, void *buf, unsigned long n,
			   bool write)
{
	struct mm_struct *mm = task->proc->mm;
	struct cow_system *sys = mm->sys;
	struct cow_cpu *cpu = &sys->cpus[task->cpu];
	unsigned long vpn = addr >> PAGE_SHIFT, off = addr & ~PAGE_MASK;
	struct tlb_entry *e = &cpu->tlb[vpn % TLB_ENTRIES];

	for (;;) {
		pte_t pte, *ptep;
		long gen;
		int err;

		tlb_access_begin(&cpu->window);
		gen = atomic_long_read(&mm->tlb_gen);
		smp_rmb(); /* the generation before the PTEs it covers */
		if (e->mm_id == mm->id && e->vpn == vpn && e->gen == gen &&
		    (!write || e->writable)) {
			copy_bytes(e->frame, off, buf, n, write);
			tlb_access_end(&cpu->window);
			cpu->tlb_hits++;
			return 0;
		}
		rcu_read_lock();
		ptep = pgtable_walk_lockless(&mm->pgt, addr, &pte);
		if (ptep && pte_present(pte) && pte_user(pte) && (!write || pte_write(pte))) {
			pte_t young = pte_mkyoung(write ? pte_mkdirty(pte) : pte);

			if (young == pte || cmpxchg(ptep, pte, young) == pte) {
				struct page *page = pfn_to_page(
					sys->pool, pte_pfn(pte) + huge_offset(pte, addr));

				e->mm_id = mm->id;
				e->vpn = vpn;
				e->gen = gen;
				e->frame = page_address(sys->pool, page);
				e->writable = pte_write(pte);
				rcu_read_unlock();
				copy_bytes(e->frame, off, buf, n, write);
				tlb_access_end(&cpu->window);
				cpu->tlb_misses++;
				return 0;
			}
			/* The PTE changed under the walk: walk again. */
			rcu_read_unlock();
			tlb_access_end(&cpu->window);
			continue;
		}
		rcu_read_unlock();
		tlb_access_end(&cpu->window);
		cpu->faults++;
		err = handle_mm_fault(mm, addr, write ? FAULT_FLAG_WRITE : 0);
		if (err)
			return err;
	}
}

int mmu_access(struct cow_task *task, unsigned long addr, void *buf, unsigned long len, bool write)
{
	char *p = buf;

	if (addr + len < addr || addr + len > TASK_SIZE)
		return COW_EFAULT;
	while (len > 0) {
		unsigned long n = PAGE_SIZE - (addr & ~PAGE_MASK);
		int err;

		if (unlikely(sync_explorer != NULL) && n > ACCESS_CHUNK - (addr % ACCESS_CHUNK))
			n = ACCESS_CHUNK - (addr % ACCESS_CHUNK);
		if (n > len)
			n = len;
		err = access_one_page(task, addr, p, n, write);
		if (err)
			return err;
		addr += n;
		p += n;
		len -= n;
	}
	return 0;
}
