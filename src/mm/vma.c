/*
 * Address spaces and their mappings: struct mm_struct, VMAs, mmap, munmap,
 * mprotect, madvise, and tearing an address space down.  Shared anonymous
 * memory lives in a small shmem object (a page cache of its own) that the
 * VMAs of every process sharing it point to.
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

/* ---- shared anonymous memory and the page cache of files ---------------------------- */

struct shmem_object {
	atomic_t refcount;   /* VMAs pointing here (and the system, for a file's) */
	spinlock_t lock;     /* RANK_SHMEM */
	unsigned long nr;    /* (C) pages */
	struct page **pages; /* (H) the object's page cache: one reference each */
	/* The file a page's first contents come from, or NULL (zeroes). */
	const struct cow_file *file;
	struct shmem_object *next_file; /* (S) on sys->file_caches */
};

static struct shmem_object *shmem_create(unsigned long nr)
{
	struct shmem_object *shm = FAULT_HIT(FI_SHMEM_ALLOC) ? NULL : calloc(1, sizeof(*shm));

	if (!shm)
		return NULL;
	shm->pages = calloc(nr, sizeof(*shm->pages));
	if (!shm->pages) {
		free(shm);
		return NULL;
	}
	shm->nr = nr;
	atomic_set(&shm->refcount, 1);
	spin_lock_init_rank(&shm->lock, RANK_SHMEM);
	return shm;
}

void shmem_get(struct shmem_object *shm)
{
	if (shm)
		atomic_inc(&shm->refcount);
}

static void shmem_put(struct cow_system *sys, struct shmem_object *shm)
{
	if (!shm || !atomic_dec_and_test(&shm->refcount))
		return;
	for (unsigned long i = 0; i < shm->nr; i++)
		if (shm->pages[i])
			put_page(sys->pool, shm->pages[i]);
	free(shm->pages);
	free(shm);
}

/* A file page's contents as the file holds them (zeroes past its end);
 * false if the file cannot be read. */
static bool file_fill_page(const struct cow_file *file, unsigned long index, void *frame)
{
	unsigned long off = index * PAGE_SIZE, size = cow_file_size(file);

	if (off >= size)
		return true;
	return cow_file_read(file, off, frame, size - off < PAGE_SIZE ? size - off : PAGE_SIZE) ==
	       0;
}

struct page *shmem_get_page(struct cow_system *sys, struct shmem_object *shm, unsigned long index)
{
	struct page *page;

	COW_CHECK(index < shm->nr, "shmem index %lu beyond %lu", index, shm->nr);
	spin_lock(&shm->lock);
	page = shm->pages[index];
	if (!page) {
		page = alloc_page(sys->pool, GFP_ZERO);
		if (page && shm->file &&
		    !file_fill_page(shm->file, index, page_address(sys->pool, page))) {
			put_page(sys->pool, page);
			page = NULL;
		}
		if (page) {
			page->index = index;
			shm->pages[index] = page; /* the cache's reference */
		}
	}
	if (page)
		get_page(page); /* the caller's */
	spin_unlock(&shm->lock);
	return page;
}

/* The page cache of file, created on its first mapping, with a reference
 * for the caller; the system keeps its own until it is destroyed, so the
 * cached pages outlive the mappings (and an overwrite of one stays
 * visible), as a page cache does.  NULL when memory is short. */
static struct shmem_object *file_cache_get(struct cow_system *sys, const struct cow_file *file)
{
	unsigned long nr = (cow_file_size(file) + PAGE_SIZE - 1) / PAGE_SIZE;
	struct shmem_object *shm;

	spin_lock(&sys->lock);
	for (shm = sys->file_caches; shm && shm->file != file; shm = shm->next_file)
		;
	if (!shm) {
		shm = shmem_create(nr);
		if (shm) {
			shm->file = file;
			shm->next_file = sys->file_caches;
			sys->file_caches = shm;
		}
	}
	shmem_get(shm);
	spin_unlock(&sys->lock);
	return shm;
}

void cow_system_drop_caches(struct cow_system *sys)
{
	struct shmem_object **pp = &sys->file_caches, *unused = NULL;

	spin_lock(&sys->lock);
	while (*pp) {
		struct shmem_object *shm = *pp;

		if (atomic_read(&shm->refcount) == 1) { /* the system's alone */
			*pp = shm->next_file;
			shm->next_file = unused;
			unused = shm;
		} else {
			pp = &shm->next_file;
		}
	}
	spin_unlock(&sys->lock);
	while (unused) {
		struct shmem_object *shm = unused;

		unused = shm->next_file;
		shmem_put(sys, shm);
	}
}

int cow_file_read_cached(struct cow_system *sys, const struct cow_file *file, unsigned long off,
			 void *buf, unsigned long len)
{
	struct shmem_object *shm;
	int err = cow_file_read(file, off, buf, len);

	if (err)
		return err;
	spin_lock(&sys->lock);
	for (shm = sys->file_caches; shm && shm->file != file; shm = shm->next_file)
		;
	spin_unlock(&sys->lock);
	for (unsigned long at = off; shm && at < off + len;) {
		unsigned long index = at / PAGE_SIZE, in = at % PAGE_SIZE;
		unsigned long n = PAGE_SIZE - in < off + len - at ? PAGE_SIZE - in : off + len - at;
		struct page *page;

		spin_lock(&shm->lock);
		page = shm->pages[index];
		if (page)
			memcpy((char *)buf + (at - off), (char *)page_address(sys->pool, page) + in,
			       n);
		spin_unlock(&shm->lock);
		at += n;
	}
	return 0;
}

/* ---- the mm -------------------------------------------------------------------------- */

/* Page tables, like pages, come with direct reclaim. */
static struct page *alloc_table_direct(void *sys)
{
	return alloc_page_direct(sys, GFP_ZERO);
}

int mm_alloc(struct cow_system *sys, struct mm_struct **out)
{
	struct mm_struct *mm = FAULT_HIT(FI_MM_ALLOC) ? NULL : aligned_alloc(COW_CACHELINE, sizeof(*mm));
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
static int vma_index(const struct mm_struct *mm, unsigned long addr)
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
		struct vm_area_struct **v =
			FAULT_HIT(FI_VMA_ALLOC) ? NULL : realloc(mm->vmas, (size_t)cap * sizeof(*v));

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

int split_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long addr)
{
	struct vm_area_struct *tail;
	int err;

	COW_CHECK(addr > vma->vm_start && addr < vma->vm_end && !(addr & ~PAGE_MASK),
		  "bad split of [%#lx, %#lx) at %#lx", vma->vm_start, vma->vm_end, addr);
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
	/* The array stays sorted: the tail goes right after vma. */
	vma->vm_end = addr;
	err = vma_insert(mm, tail);
	if (err) {
		vma->vm_end = tail->vm_end;
		vma_free(tail);
	}
	return err;
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
		 * needs it any more. */
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

void zap_page_range(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	struct mmu_gather tlb = {.mm = vma->vm_mm};

	/* Walk in chunks that can never overflow the gather. */
	while (start < end) {
		unsigned long stop = start + (unsigned long)GATHER_MAX * PAGE_SIZE;

		if (stop > end || stop < start)
			stop = end;
		walk_pte_range(vma, start, stop, zap_one, &tlb);
		tlb_flush_and_free(&tlb);
		start = stop;
	}
}

/* ---- mmap, munmap, mprotect, madvise ------------------------------------------------ */

#define MMAP_BASE 0x10000000UL

static bool range_ok(unsigned long addr, unsigned long len)
{
	return !(addr & ~PAGE_MASK) && len > 0 && addr + len > addr && addr + len <= TASK_SIZE;
}

static unsigned long round_len(unsigned long len)
{
	return (len + PAGE_SIZE - 1) & PAGE_MASK;
}

/* The lowest free range of len bytes at or above MMAP_BASE; 0 if none. */
static unsigned long get_unmapped_area(struct mm_struct *mm, unsigned long len)
{
	unsigned long addr = MMAP_BASE;

	for (int i = vma_index(mm, addr); i < mm->nr_vmas; i++) {
		if (mm->vmas[i]->vm_start >= addr + len)
			break;
		addr = mm->vmas[i]->vm_end;
	}
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

	len = round_len(len);
	if (len == 0 || (prot & ~(COW_PROT_READ | COW_PROT_WRITE)) ||
	    (flags != COW_MAP_PRIVATE && flags != COW_MAP_SHARED))
		return COW_EINVAL;
	if (addr && !range_ok(addr, len))
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

	down_write(&mm->mmap_lock);
	if (!addr)
		addr = get_unmapped_area(mm, len);
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
	if (file || flags == COW_MAP_SHARED) {
		vma->shm = file ? file_cache_get(mm->sys, file) : shmem_create(len >> PAGE_SHIFT);
		if (!vma->shm) {
			free(vma);
			err = COW_ENOMEM;
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
static int split_at_edges(struct mm_struct *mm, unsigned long start, unsigned long end)
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
static bool range_is_mapped(struct mm_struct *mm, unsigned long start, unsigned long end)
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
	if (pte_write(pte) || pte_special(pte))
		return;
	/* A PTE that soft-dirty tracking write-protected stays so: the next
	 * write must fault to mark it (can_change_pte_writable). */
	if (!(vma->vm_flags & VM_SOFTDIRTY) && !pte_soft_dirty(pte))
		return;
	/* Gaining write: a shared mapping's page may be mapped writable at
	 * once; a private one's only if it is an exclusive anonymous page
	 * (6.0's can_change_pte_writable); older kernels, 5.19 included,
	 * let the next write fault decide. */
	page = pfn_to_page(pc->sys->pool, pte_pfn(pte));
	if ((vma->vm_flags & VM_SHARED) ||
	    (pc->sys->policy->mprotect_upgrade && PageFlag(page, PG_anon) &&
	     PageFlag(page, PG_anon_exclusive)))
		ptep_modify(ptep, 0, _PAGE_RW);
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
	    page_maybe_dma_pinned(pfn_to_page(c->sys->pool, pte_pfn(pte))))
		return;
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

			zap_page_range(vma, s, e);
		}
		up_read(&mm->mmap_lock);
		return err;
	case COW_MADV_POPULATE_READ:
	case COW_MADV_POPULATE_WRITE:
		return populate_range(mm, addr, end, advice == COW_MADV_POPULATE_WRITE);
	case COW_MADV_DONTFORK:
	case COW_MADV_DOFORK:
	case COW_MADV_MERGEABLE:
	case COW_MADV_UNMERGEABLE:
		/* As Linux: the mapped parts get the advice, and a hole in
		 * the range is reported afterwards as ENOMEM. */
		down_write(&mm->mmap_lock);
		err = split_at_edges(mm, addr, end);
		if (!err) {
			for (int i = vma_index(mm, addr);
			     i < mm->nr_vmas && mm->vmas[i]->vm_start < end; i++) {
				unsigned long flag =
					(advice == COW_MADV_DONTFORK || advice == COW_MADV_DOFORK)
						? VM_DONTCOPY
						: VM_MERGEABLE;

				if (advice == COW_MADV_DONTFORK || advice == COW_MADV_MERGEABLE)
					mm->vmas[i]->vm_flags |= flag;
				else
					mm->vmas[i]->vm_flags &= ~flag;
			}
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
