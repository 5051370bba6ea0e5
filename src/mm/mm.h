/*
 * The memory manager's core objects: the system (one simulated machine),
 * its CPUs with their software TLBs, processes and tasks, address spaces
 * (struct mm_struct), VMAs and the anonymous reverse map (anon_vma and
 * anon_vma_chain).  Each .c file of src/mm that works on these includes
 * this header; the public API in include/cowlab.h wraps them.
 *
 * Each field's comment names what protects it by a letter, (M+P) for two
 * locks together: here (M) the mm's mmap_lock (read to use, write to
 * change), (P) its page_table_lock (pgt.lock), (R) the root anon_vma's
 * rwsem, (S) the system's lock, (K) the KSM mutex; (C) constant after
 * creation, (A) atomic, (O) owned by the CPU (its TLB is written only by
 * the CPU itself).  The letters, and the order in which the locks nest,
 * are defined once, in src/sync/lockrank.h.
 */
#ifndef COW_MM_MM_H
#define COW_MM_MM_H

#include "base/list.h"
#include "mm/page.h"
#include "mm/pgtable.h"
#include "mm/policy.h"
#include "mm/swap.h"

/* ---- VMAs ------------------------------------------------------------------ */

#define VM_READ 0x1UL
#define VM_WRITE 0x2UL
#define VM_SHARED 0x8UL
#define VM_MAYWRITE 0x20UL
#define VM_DONTCOPY 0x20000UL	   /* MADV_DONTFORK */
#define VM_HUGETLB 0x400000UL	   /* MAP_HUGETLB: pages of the hugetlb pool */
#define VM_SOFTDIRTY 0x8000000UL   /* not soft-dirty tracked since clear_refs */
#define VM_HUGEPAGE 0x20000000UL   /* MADV_HUGEPAGE: THP where the era has them */
#define VM_NOHUGEPAGE 0x40000000UL /* MADV_NOHUGEPAGE */
#define VM_MERGEABLE 0x80000000UL  /* MADV_MERGEABLE: KSM may merge its pages */

struct shmem_object;

struct vm_area_struct {
	unsigned long vm_start, vm_end;	 /* (M) [start, end), page aligned */
	unsigned long vm_flags;		 /* (M) VM_* */
	unsigned long vm_pgoff;		 /* (M) page index of vm_start */
	struct mm_struct *vm_mm;	 /* (C) */
	struct anon_vma *anon_vma;	 /* (M+P) set on the first anon fault */
	struct list_head anon_vma_chain; /* (M) anon_vma_chain.same_vma */
	/* (C) shared anonymous memory, or the page cache of the file a
	 * mapping maps (shared or private) */
	struct shmem_object *shm;
	/* hugetlb: the reservations this VMA owns (NULL in a child's, or
	 * once given back), and HUGETLB_* bits (A) */
	struct hugetlb_resv *resv;
	unsigned long hugetlb_flags;
	struct hugetlb_file *hfile; /* (C) a shared hugetlb mapping's pages */
};

/* Can a huge PMD map part of this VMA (THP asked for, or hugetlb)? */
static inline bool vma_may_be_huge(const struct vm_area_struct *vma)
{
	return vma->vm_flags & (VM_HUGEPAGE | VM_NOHUGEPAGE | VM_HUGETLB);
}

/* PTE bits for a page mapped in vma, before any write permission: no user
 * access in a PROT_NONE mapping (a forced access may fault one in). */
static inline pte_t vma_pte_bits(const struct vm_area_struct *vma)
{
	return (vma->vm_flags & (VM_READ | VM_WRITE)) ? PAGE_READONLY : _PAGE_PRESENT;
}

/* Private mappings that may become writable are copy-on-write. */
static inline bool is_cow_mapping(unsigned long flags)
{
	return (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE;
}

/* The anonymous reverse map, as Linux's: an anon_vma collects the VMAs
 * (through anon_vma_chain links) whose pages may be mapped by any of them;
 * fork gives the child VMA its own anon_vma under the parent's root and
 * links it to every anon_vma of the parent's chain, so a page faulted in
 * any generation is found from its anon_vma in every descendant. */
struct anon_vma {
	struct anon_vma *root;	   /* (C) the first generation's */
	struct rw_semaphore rwsem; /* used on the root only */
	atomic_t refcount;	   /* (A) chains linking it + children */
	struct list_head head;	   /* (R) anon_vma_chain.same_anon_vma */
	struct rcu_head rcu;
};

struct anon_vma_chain {
	struct vm_area_struct *vma;
	struct anon_vma *anon_vma;
	struct list_head same_vma;	/* (M) on vma->anon_vma_chain */
	struct list_head same_anon_vma; /* (R) on anon_vma->head */
};

/* ---- address spaces ------------------------------------------------------------ */

#define MMF_HAS_PINNED 0   /* bit in mm->flags: has ever FOLL_PIN'd (sticky) */
#define MMF_VM_MERGEABLE 1 /* bit in mm->flags: registered with KSM (K) */
#define MMF_HAS_THP 2	   /* bit in mm->flags: has had a huge PMD, THP or hugetlb (sticky) */

/* The fields every access reads come first; the ones every fault writes
 * (mmap_lock's count, nr_anon) each start a cache line of their own, so
 * that two CPUs faulting in one mm do not also bounce the read-mostly
 * line (docs/performance.md). */
struct mm_struct {
	struct cow_system *sys;	      /* (C) */
	uint64_t id;		      /* (C) unique: tags TLB entries */
	atomic_long_t tlb_gen;	      /* (A) bumped by every shootdown */
	unsigned long flags;	      /* (A) MMF_* */
	struct vm_area_struct **vmas; /* (M) sorted by vm_start */
	int nr_vmas, cap_vmas;	      /* (M) */
	seqcount_t write_protect_seq; /* fork writes it over COW copies */
	struct list_head mmlist;      /* (S) on sys->mms, from birth to teardown */
	struct list_head ksm_node;    /* (K) on sys->ksm_mms while MMF_VM_MERGEABLE */
	struct pgtable pgt;	      /* pgt.lock is the page_table_lock */
	struct rw_semaphore mmap_lock cacheline_aligned;
	/* mmlock-2009 only: direct I/O holds it for read from GUP to
	 * completion, fork for write, exit waits for it (outside mmap_lock;
	 * released by whichever task completes the I/O, so no lock rank). */
	struct rw_semaphore dio_sem;
	atomic_long_t nr_anon cacheline_aligned; /* (A) resident anonymous pages */
} cacheline_aligned;

/* ---- CPUs and the software TLB -------------------------------------------------- */

#define TLB_ENTRIES 64

struct tlb_entry {
	uint64_t mm_id;	   /* 0: empty */
	unsigned long vpn; /* virtual page number */
	long gen;	   /* mm->tlb_gen when filled */
	char *frame;	   /* host address of the frame */
	bool writable;
};

struct cow_cpu {
	struct tlb_window window;		    /* (O) the shootdown handshake */
	struct tlb_entry tlb[TLB_ENTRIES];	    /* (O) */
	unsigned long tlb_hits, tlb_misses, faults; /* (O) statistics */
} __attribute__((aligned(64)));

/* ---- the system ------------------------------------------------------------------- */

struct cow_process {
	struct cow_system *sys; /* (C) */
	struct mm_struct *mm;	/* (C) until exit */
	int pid;		/* (C) */
	char name[32];		/* (C) */
	struct list_head node;	/* (S) on sys->processes */
};

struct cow_task {
	struct cow_process *proc; /* (C) */
	int cpu;		  /* (C) the simulated CPU it runs on */
};

struct ksm_stable;

/* How many systems cow_system_create made on this thread out of one that
 * cow_system_destroy kept (system.c); for tests. */
unsigned long system_reuses(void);

struct cow_system {
	struct cow_system_opts opts;	 /* (C) as made, defaults filled in, no policy name */
	struct frame_pool *pool;	 /* (C) */
	const struct cow_policy *policy; /* (C) */
	int nr_cpus;			 /* (C) */
	struct cow_cpu *cpus;		 /* (C) nr_cpus entries */
	struct page *zero_page;		 /* (C) NULL when disabled */
	/* (A) The huge zero page's head: made on the first read fault that
	 * wants it (never without zero_page), then kept to the end. */
	struct page *huge_zero_page;
	spinlock_t lock;		  /* the process and mm lists, pids */
	struct list_head processes;	  /* (S) */
	struct list_head mms;		  /* (S) every mm, also mid-fork */
	struct shmem_object *file_caches; /* (S) page caches of mapped files */
	int next_pid;			  /* (S) */
	atomic_long_t next_mm_id;	  /* (A) */
	atomic_t *ext_refs;		  /* (A) per pfn: references GUP handed out */
	struct swap_device *swap;      /* (A) made on first swap-out (under lock), then constant */
	unsigned long swap_slots;      /* (C) its size */
	bool mem_devices;	       /* (C) the swap device in host memory */
	struct step_state *step_state; /* system_check_touched's, in the explorer's context */
	bool frames_stored;	     /* explore: bytes went into frames through a page set (io.c) */
	atomic_long_t pins_acquired; /* (A) FOLL_PIN references taken ... */
	atomic_long_t pins_released; /* (A) ... and given back */
	struct mutex ksm_lock;	     /* (K): KSM's state, one pass at a time */
	struct list_head ksm_mms;    /* (K) mms with mergeable memory */
	struct ksm_stable *ksm_stable; /* (K) the KSM pages' nodes */
	struct mutex hugetlb_mutex;    /* (G) hugetlb faults, one at a time */
	/* (C) Where the decisions go (cow_system_set_decisions), or NULL. */
	void (*decide_fn)(void *arg, const char *text);
	void *decide_arg;
};

/* ---- describe.c: decisions for traces ----------------------------------------- */

/* Report a decision the code took and why, "do_wp_page: mapcount 1,
 * reuse", to the trace that listens (cow_system_set_decisions).  Costs one
 * test when nobody listens; the arguments are not evaluated then. */
#define mm_decide(sys, ...)                                 \
	do {                                                \
		if (unlikely((sys)->decide_fn != NULL))     \
			mm_decide_text((sys), __VA_ARGS__); \
	} while (0)
void mm_decide_text(struct cow_system *sys, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A page and its counts as a trace prints them, "pfn 5 [ref 2 map 1 pin 0
 * excl]", read without a yield point (for decisions, which are made in a
 * task's context); buf. */
const char *mm_page_counts(struct cow_system *sys, const struct page *page, char *buf, size_t len);
/* Its references beyond its mappings and the swap cache's, read so. */
int mm_page_extra_refs(const struct page *page);

/* ---- vma.c, mprotect.c, madvise.c: address spaces and mappings ------------------ */

int mm_alloc(struct cow_system *sys, struct mm_struct **out);
/* Tear down an address space nobody runs in: zap every mapping, free the
 * VMAs, the page tables and the mm. */
void mm_destroy(struct mm_struct *mm);
/* The VMA containing addr, or NULL; O(log n).  mmap_lock held. */
struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr);
/* Insert a VMA (mmap_lock held for write); COW_ENOMEM on failure. */
int vma_insert(struct mm_struct *mm, struct vm_area_struct *vma);
void vma_free(struct vm_area_struct *vma);
/* Merge the VMAs around and inside [start, end) that nothing tells apart
 * any more (madvise after it changed their flags); mmap_lock held for
 * write. */
void vma_merge_range(struct mm_struct *mm, unsigned long start, unsigned long end);
/* Unmap the pages of [start, end) inside vma: clear PTEs, shoot down the
 * TLBs, drop the mappings' references. */
void zap_page_range(struct vm_area_struct *vma, unsigned long start, unsigned long end);

struct vm_area_struct *vma_alloc(struct mm_struct *mm, unsigned long start, unsigned long end,
				 unsigned long flags, unsigned long pgoff);
/* Call fn on every PTE slot of [start, end) inside vma that has a PTE
 * table, holding each table's PT lock while its slots are visited. */
typedef void (*pte_range_fn)(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep,
			     void *arg);
void walk_pte_range(struct vm_area_struct *vma, unsigned long start, unsigned long end,
		    pte_range_fn fn, void *arg);
/* The system calls, on an mm (they take the mmap_lock themselves). */
int do_mmap(struct mm_struct *mm, unsigned long addr, unsigned long len, int prot, int flags,
	    const struct cow_file *file, unsigned long *out);
int do_munmap(struct mm_struct *mm, unsigned long addr, unsigned long len);
int do_mprotect(struct mm_struct *mm, unsigned long addr, unsigned long len, int prot);
int do_madvise(struct mm_struct *mm, unsigned long addr, unsigned long len, int advice);
/* clear_refs soft-dirty (see mprotect.c). */
int clear_refs_soft_dirty(struct mm_struct *mm);
/* Replace bits of a present PTE atomically (PT lock held); the simulated
 * hardware may set accessed/dirty bits concurrently. */
void ptep_modify(pte_t *ptep, pte_t clear, pte_t set);

/* vma.c's range helpers, for mprotect.c and madvise.c: a page-aligned
 * range inside the address space; len rounded up to pages; the index of
 * the first VMA that ends above addr; split the VMAs so that none
 * straddles start or end (mmap_lock held for write); is [start, end)
 * covered by VMAs without a hole? */
bool range_ok(unsigned long addr, unsigned long len);
unsigned long round_len(unsigned long len);
int vma_index(const struct mm_struct *mm, unsigned long addr);
int split_at_edges(struct mm_struct *mm, unsigned long start, unsigned long end);
bool range_is_mapped(struct mm_struct *mm, unsigned long start, unsigned long end);

/* ---- shmem.c ------------------------------------------------------------------------- */

/* A shmem object of nr pages, one reference; NULL without memory. */
struct shmem_object *shmem_create(unsigned long nr);
/* A VMA lets go of the object; the last reference frees its pages. */
void shmem_put(struct cow_system *sys, struct shmem_object *shm);
/* The page cache of file, made on first use, with a reference for the
 * VMA; NULL without memory. */
struct shmem_object *file_cache_get(struct cow_system *sys, const struct cow_file *file);
/* Shared anonymous memory: the page at index, allocated zeroed on first
 * use, with a reference for the caller; NULL when the pool is empty. */
struct page *shmem_get_page(struct cow_system *sys, struct shmem_object *shm, unsigned long index);
/* One more VMA refers to the object (NULL is ignored). */
void shmem_get(struct shmem_object *shm);

/* ---- mmu.c: the TLB and shootdowns -------------------------------------------------- */

/* Make every CPU forget mm's translations, and wait until no CPU is still
 * inside an access that may have used one (the IPI's acknowledgement). */
void flush_tlb_mm(struct mm_struct *mm);
/* A load (write false) or store of len bytes at addr by task, through its
 * CPU's TLB, the page tables and the fault handler. */
int mmu_access(struct cow_task *task, unsigned long addr, void *buf, unsigned long len, bool write);

/* ---- fault.c ------------------------------------------------------------------------- */

#define FAULT_FLAG_WRITE 0x1u
#define FAULT_FLAG_UNSHARE 0x2u /* make the page exclusive, keep it R/O */
/* A FOLL_FORCE write (ptrace, /proc/pid/mem) to a private mapping without
 * VM_WRITE: break COW into a private anon copy that stays read-only. */
#define FAULT_FLAG_FORCE 0x4u

/* Resolve a fault at addr: the mmap_lock is taken for read inside.
 * Returns 0 (retry the access), COW_EFAULT (no mapping, or no permission:
 * the access would raise SIGSEGV) or COW_ENOMEM. */
int handle_mm_fault(struct mm_struct *mm, unsigned long addr, unsigned int flags);
int do_uffd_continue(struct mm_struct *mm, unsigned long addr, unsigned long len);
/* The same with the mmap_lock already held for read (get_user_pages). */
int handle_mm_fault_locked(struct mm_struct *mm, unsigned long addr, unsigned int flags);
/* An access met the migration entry entry at addr (mmap_lock held for
 * read): wait until the PTE holds something else (the split that put it
 * there is done), then the access retries. */
void migration_entry_wait(struct mm_struct *mm, unsigned long addr, pte_t entry);

/* ---- huge_memory.c: transparent huge pages --------------------------------------------- */

/* What a huge-PMD function returns when the caller should go on with
 * PTEs instead (no THP here, no folio to be had, a PTE table there). */
#define THP_FALLBACK 1
/* The fault's huge-PMD part (mmap_lock held for read): map a new THP at
 * an empty PMD where the mapping allows one, or handle a write (unshare)
 * fault on a write-protected huge PMD.  Returns 0 (retry the access), an
 * error, or THP_FALLBACK. */
int huge_pmd_fault(struct vm_area_struct *vma, unsigned long addr, unsigned int flags);
int do_huge_pmd_anonymous_page(struct vm_area_struct *vma, unsigned long addr, unsigned int flags);
int do_huge_pmd_wp_page(struct vm_area_struct *vma, unsigned long addr, unsigned int flags);
/* Replace the huge PMD that maps addr, if there is one, by a PTE table
 * mapping the same subpages with the same bits (its deposited table:
 * this needs no memory). */
void split_huge_pmd(struct vm_area_struct *vma, unsigned long addr);
/* Give the huge zero page back to the pool (the system's end). */
void huge_zero_page_free(struct frame_pool *pool, struct page *zero);
/* Clear the huge PMD at haddr; returns whether there was one (then the
 * caller shoots the TLBs down), and *headp its folio, whose reference the
 * caller drops after that, or NULL for the huge zero page, which holds
 * none. */
bool zap_huge_pmd(struct vm_area_struct *vma, unsigned long haddr, struct page **headp);
/* A huge PMD that maps the huge zero page: read-only, special (no
 * reference, no mapcount, no reverse map, as for the small zero page). */
static inline bool is_huge_zero_pmd(pte_t pmd)
{
	return pmd_trans_huge(pmd) && pte_special(pmd);
}
/* A leaf (PTE or huge PMD) that maps the small zero page. */
static inline bool is_zero_pte(pte_t leaf)
{
	return pte_special(leaf) && !pmd_trans_huge(leaf);
}
/* addr's leaf entry, locked: its PTE under the PT lock, or the huge PMD
 * that maps it under the PMD lock (then pmd_trans_huge(*leaf) and
 * huge_offset() name the subpage); NULL if there is neither.  Unlock
 * with pte_unmap_unlock(). */
pte_t *leaf_offset_map_lock(struct vm_area_struct *vma, unsigned long addr, spinlock_t **ptlp);
/* fork: the child's PMD at dst_pmdp maps the folio of the parent's huge
 * PMD pmd at src_pmdp (both PMD locks held), its counts up first; in a COW
 * mapping (cow) the folio is shared from now on and both PMDs lose the
 * write bit, otherwise (a shared mapping, hugetlb before 2.6.16) the
 * child's is the parent's. */
void huge_pmd_share(struct mm_struct *dst_mm, pte_t *dst_pmdp, pte_t *src_pmdp, pte_t pmd,
		    bool cow);
/* fork: share the folio of the parent's huge PMD at haddr with the child,
 * write-protecting both.  0, COW_ENOMEM, or THP_FALLBACK when the PMD is
 * not huge (any more). */
int copy_huge_pmd(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma,
		  unsigned long haddr);

/* MADV_COLLAPSE on [start, end) (mmap_lock held for write): every whole
 * 2 MiB that a PTE table maps becomes a THP. */
int madvise_collapse(struct mm_struct *mm, unsigned long start, unsigned long end);
/* One khugepaged pass over mm's mappings that asked for THP (mmap_lock
 * not held): every 2 MiB that khugepaged's scan accepts is collapsed as
 * MADV_COLLAPSE does.  *collapsed receives how many.  0, COW_ENOMEM
 * (no folio for a collapse), or COW_ENOTSUP before THP. */
int khugepaged_scan_mm(struct mm_struct *mm, unsigned long *collapsed);
/* split_huge_page(): the anonymous large folio of page, locked by the
 * caller, who holds one reference besides its mappings, becomes small
 * pages.  Its mappings become migration entries (a huge PMD is split
 * first), the refcount is frozen at zero (only the caller's reference may
 * be left), the folio is split and each page mapped again where it was.
 * Pages nobody maps are freed; the others go on the LRU; the caller's
 * lock and reference end on page.  COW_EBUSY, the folio untouched, when it has a
 * reference beyond its mappings and the caller's (GUP: a pinned folio is
 * never split) or is not an anonymous THP; COW_EAGAIN, mapped again, when
 * a reference appeared during the unmap. */
int split_folio(struct cow_system *sys, struct page *head);
/* The bits of a new huge PMD that maps head in vma (writable if the VMA
 * is), and PG_anon_exclusive of all its subpages set or cleared. */
pte_t mk_huge_pmd(struct cow_system *sys, struct page *head, const struct vm_area_struct *vma);
void folio_set_exclusive(struct page *head, bool exclusive);
/* A new PMD-sized folio's subpages become anonymous pages of vma at
 * haddr (the anon_vma and each one's index, on every subpage), exclusive
 * or not. */
void folio_add_new_anon_rmap(struct page *head, struct vm_area_struct *vma, unsigned long haddr,
			     bool exclusive);
/* Map head by the huge PMD value pmd at pmdp (PMD lock held, the PMD
 * empty): its entire mapcount and the mm's count of anon pages go up
 * first, then the entry appears. */
void huge_pmd_install(struct mm_struct *mm, pte_t *pmdp, struct page *head, pte_t pmd);

/* ---- hugetlb.c ------------------------------------------------------------------------- */

/* mmap of a hugetlb mapping: reserve a huge page of the pool for each
 * 2 MiB of vma, which then owns them.  0 or COW_ENOMEM. */
int hugetlb_reserve_pages(struct vm_area_struct *vma);
/* split_vma: tail shares vma's reservations (and a shared mapping's
 * pages). */
void hugetlb_vma_split(struct vm_area_struct *vma, struct vm_area_struct *tail);
/* fork: the child's VMA of a shared hugetlb mapping maps the same pages. */
void hugetlb_vma_dup(struct vm_area_struct *dst, struct vm_area_struct *src);
/* The VMA goes: give back the reservations it still holds. */
void hugetlb_vma_close(struct vm_area_struct *vma);
/* A fault in a hugetlb VMA (mmap_lock held for read): 0 (retry the
 * access), COW_ESIGBUS when no huge page can be had, or an error. */
int hugetlb_fault(struct vm_area_struct *vma, unsigned long addr, unsigned int flags);
/* fork of a hugetlb VMA: share every huge page with the child, or copy
 * it where the fork rule says so (parent's mmap_lock held for write). */
int copy_hugetlb_page_range(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma);
/* fork.c: would fork copy this page for the child rather than share it? */
bool fork_copies_page(struct vm_area_struct *src_vma, struct page *page);

/* ---- rmap.c ---------------------------------------------------------------------------- */

/* Give vma an anon_vma if it has none (first anon fault). */
int anon_vma_prepare(struct vm_area_struct *vma);
/* Link the child VMA into the parent's reverse map (fork). */
int anon_vma_fork(struct vm_area_struct *dst, struct vm_area_struct *src);
/* Splitting vma: the new part shares every anon_vma of src. */
int anon_vma_clone_split(struct vm_area_struct *dst, struct vm_area_struct *src);
/* Detach a VMA from the reverse map before it is freed. */
void unlink_anon_vmas(struct vm_area_struct *vma);
/* A freshly allocated page becomes anon, mapped once at addr of vma. */
void page_add_new_anon_rmap(struct page *page, struct vm_area_struct *vma, unsigned long addr,
			    bool exclusive);
/* One more PTE maps an anon page (fork shares it). */
void page_dup_anon_rmap(struct page *page);
/* One PTE stopped mapping the page. */
void page_remove_rmap(struct page *page);
/* The page's anon_vma becomes vma's (reuse after COW: the page now belongs
 * to this process alone). Page lock held or page exclusive. */
void page_move_anon_rmap(struct page *page, struct vm_area_struct *vma);
/* Call fn for every PTE that maps page; stops at fn's non-zero return. */
typedef int (*rmap_fn)(struct page *page, struct vm_area_struct *vma, unsigned long addr,
		       void *arg);
int rmap_walk(struct page *page, rmap_fn fn, void *arg);
/* The anon_vma of the large folio at head (page lock held), referenced
 * and locked for write, as split_huge_page() holds it for a whole split;
 * *mapped is the number of its mappings (the PMDs that map it whole and
 * the PTEs of every page) read meanwhile.  NULL when nothing maps it. */
struct anon_vma *folio_lock_anon_vma_write(struct page *head, long *mapped);
void folio_unlock_anon_vma_write(struct anon_vma *av);
/* fn for every VMA linked to av, whose lock the caller holds. */
void anon_vma_walk_locked(struct anon_vma *av, void (*fn)(struct vm_area_struct *vma, void *arg),
			  void *arg);
/* For an rmap_walk callback: the PTE at addr of vma if it maps page, with
 * its PT lock held (*ptlp); NULL otherwise. */
pte_t *page_vma_mapped(struct page *page, struct vm_area_struct *vma, unsigned long addr,
		       spinlock_t **ptlp);

/* ---- gup.c -------------------------------------------------------------------------------- */

#define FOLL_WRITE 0x01u    /* the caller will write: break COW first */
#define FOLL_GET 0x02u	    /* a plain reference (put_page) */
#define FOLL_PIN 0x04u	    /* a pin (unpin_user_page), page_maybe_dma_pinned */
#define FOLL_LONGTERM 0x08u /* held indefinitely (io_uring, RDMA) */
#define FOLL_FORCE 0x10u    /* write even where the mapping forbids it (ptrace) */
#define FOLL_COW 0x20u	    /* internal, 4.9 .. 5.19: a forced write's COW fault ran */

/* References to the nr pages from start, into pages[]; exactly one of
 * FOLL_GET and FOLL_PIN.  Takes the mmap_lock for read.  Returns nr, or a
 * COW_E* code with no reference kept. */
long get_user_pages(struct mm_struct *mm, unsigned long start, unsigned long nr, unsigned int flags,
		    struct page **pages);
/* The lockless walk, as CPU cpu: returns how many leading pages it took
 * (possibly 0); the caller falls back for the rest. */
long gup_fast(struct mm_struct *mm, int cpu, unsigned long start, unsigned long nr,
	      unsigned int flags, struct page **pages);
/* gup_fast, then get_user_pages for what it left. */
long get_user_pages_fast(struct mm_struct *mm, int cpu, unsigned long start, unsigned long nr,
			 unsigned int flags, struct page **pages);
/* Give back the references to n pages taken with flags. */
void gup_put_pages(struct cow_system *sys, struct page **pages, unsigned long n,
		   unsigned int flags);

/* ---- reclaim.c ----------------------------------------------------------------------------- */

/* Put a locked anon page into the swap cache (a slot, PG_swapcache, the
 * cache's reference); COW_ENOMEM when swap is full. */
int add_to_swap(struct cow_system *sys, struct page *page);
/* Take a locked page out of the swap cache and drop the cache's reference. */
void delete_from_swap_cache(struct cow_system *sys, struct page *page);
/* Pages reclaim takes from the LRU at a time, and frames one round of
 * direct reclaim tries to free (Linux's SWAP_CLUSTER_MAX). */
#define SWAP_CLUSTER_MAX 32
/* Rounds of direct reclaim without progress one allocation may ask for. */
#define MAX_RECLAIM_RETRIES 16
/* An allocation found the pool empty: run a round of direct reclaim and
 * say whether the caller should try again: it freed something, or another
 * CPU's reclaim did (waited for), or, nothing being reclaimable now, the
 * caller's *tries (starting at 0) of such rounds is within
 * MAX_RECLAIM_RETRIES.  The caller holds no lock but mmap_locks. */
bool reclaim_before_retry(struct cow_system *sys, int *tries);
/* alloc_page() with direct reclaim: when the pool is empty, reclaim and
 * try again while reclaim makes progress.  For callers that hold no lock
 * but mmap_locks; the pages they hold references on cannot be reclaimed
 * from under them. */
struct page *alloc_page_direct(struct cow_system *sys, unsigned int gfp);
/* A swap PTE to entry went away: drop its count, and the cache page if
 * nothing else needs it. */
void free_swap_and_cache(struct cow_system *sys, swp_entry_t entry);
/* free_swap_cache(): a swap-cache page that its last mapping just let go
 * of (the caller still holds a reference) and that no swap PTE needs
 * leaves the cache, so its slot is free again (a read fault keeps a
 * swapped-in page in the cache).  Under a trylock; no PT lock held. */
void free_swap_cache(struct cow_system *sys, struct page *page);
/* Free cache pages no swap PTE and nobody else refers to any more. */
void swap_cache_drain(struct cow_system *sys);

/* ---- ksm.c ------------------------------------------------------------------------------- */

void ksm_init(struct cow_system *sys);
void ksm_destroy(struct cow_system *sys);
/* Register an mm that has mergeable VMAs (madvise, fork); the caller
 * holds no mmap_lock. */
void ksm_enter(struct mm_struct *mm);
/* Unregister it before it is torn down (waits for a pass in progress). */
void ksm_exit(struct mm_struct *mm);
/* One pass over every registered mm (see ksm.c); *nr_merged receives how
 * many mappings were merged into KSM pages.  0, or COW_ENOMEM if host
 * memory for the pass ran short (what it collected was still scanned). */
int ksm_scan(struct cow_system *sys, unsigned long *nr_merged);
/* Test-only fault injection: write_protect_page skips the count check. */
extern bool ksm_test_skip_count_check;
/* Test-only: called by a pass between its two scans, KSM mutex held. */
extern void (*ksm_test_between_scans)(struct cow_system *sys);

/* ---- fork.c ------------------------------------------------------------------------------ */

int dup_mm(struct mm_struct *oldmm, struct mm_struct **out);
/* Test-only fault injection: fork skips its final TLB shootdown. */
extern bool fork_test_skip_tlb_flush;

/* ---- check.c ------------------------------------------------------------------------------ */

/* The invariants of the whole system (docs/memory-manager.md lists
 * them).  strict: the system is quiescent (no operation in flight), so
 * counts must match exactly; otherwise only what holds at every step.
 * Returns 0 or COW_ECORRUPT with a message. */
int system_check(struct cow_system *sys, bool strict, char *msg, size_t len);
/* The explorer's check between steps (check.c): what the logged accesses
 * touched[0..n) may have changed, against what the previous call kept; a
 * full scan the first time, or when touched is NULL.  Passes where
 * system_check(sys, false) passes. */
int system_check_touched(struct cow_system *sys, const struct sync_touch *touched, size_t n,
			 char *msg, size_t len);
/* What system_check_touched keeps; on destroying the system. */
void step_state_free(struct cow_system *sys);
/* Forget what it kept (its buffers stay): the next call is a full scan,
 * as on a new system. */
void step_state_forget(struct cow_system *sys);

#endif /* COW_MM_MM_H */
