/*
 * Fault injection, as SQLite's test harness does it: every place where the
 * memory manager, the swap device or direct I/O can fail (a frame, a page
 * table, an mm, a VMA or anon_vma, a swap slot, a swap read or write, a
 * direct-I/O step, ...) is a site, and a countdown makes the N-th passage
 * through any site (or through one site) fail as that place fails for
 * real: an allocation returns nothing, an I/O reports an error.  A test
 * runs a workload once disarmed to count the passages, then once per N
 * with the N-th armed, and demands a clean error or a retry each time,
 * never a crash, a leak or lost data (tests/unit/test_faultinj.c).
 *
 * Arming:
 *   cow_fault_arm(n, site)   the n-th passage from now on through site
 *                            (FI_ANY: through any site) fails; n == 0
 *                            disarms.  It also restarts the counts.
 *   COW_FAULT_AT=N           in the environment, arms cow_fault_arm(N,
 *                            FI_ANY) when the program starts;
 *                            COW_FAULT_SITE=name narrows it to one site.
 *                            The failure is announced on stderr.
 *
 * A disarmed site costs one load and one never-taken branch (FAULT_HIT).
 * The state is plain memory, not atomics (this is the bottom layer, below
 * src/sync): the count is exact when one OS thread runs the system (seq
 * and explore modes); under stress the threads' passages race on it, so
 * which one fails is approximate there.
 */
#ifndef COW_BASE_FAULTINJ_H
#define COW_BASE_FAULTINJ_H

#include "base/base.h"

/* Keep cow_fault_site_name's table (faultinj.c) and the table of
 * docs/memory-manager.md in step. */
enum fault_site {
	FI_ANY = -1,
	FI_FRAME_ALLOC,	   /* page.c alloc_page: the pool gives no frame */
	FI_PGTABLE_ALLOC,  /* pgtable.c: a page-table page */
	FI_MM_ALLOC,	   /* vma.c mm_alloc: an address space */
	FI_VMA_ALLOC,	   /* vma.c: a VMA, or room in the mm's VMA array */
	FI_ANON_VMA_ALLOC, /* rmap.c: an anon_vma */
	FI_AVC_ALLOC,	   /* rmap.c: an anon_vma_chain link */
	FI_SHMEM_ALLOC,	   /* shmem.c: a shared-memory object or file cache */
	FI_PROC_ALLOC,	   /* system.c: a process or task */
	FI_SWAP_DEVICE,	   /* swapfile.c: the swap device (its host file) */
	FI_SWAP_SLOT,	   /* swapfile.c: a free swap slot (as if swap were full) */
	FI_SWAP_CACHE_ADD, /* swapfile.c: a swap-cache entry (its tree node) */
	FI_SWAP_WRITE,	   /* swapfile.c: one page's write to its slot */
	FI_SWAP_READ,	   /* swapfile.c: one page's read from its slot */
	FI_GUP_ALLOC,	   /* io.c cow_gup: the page set */
	FI_DIO_OPEN,	   /* file.c: a data file's host file */
	FI_DIO_SUBMIT,	   /* io.c: a direct I/O request */
	FI_DIO_STEP,	   /* io.c: one 512-byte step's transfer */
	FI_DIO_COMPLETE,   /* io.c: the completion reports an error */
	FI_KSM_ITEM_ALLOC, /* ksm.c: room for a pass's items */
	FI_KSM_NODE_ALLOC, /* ksm.c: a stable-tree node */
	FI_NR_SITES,
};

/* Nonzero while passages are counted (cow_fault_arm, cow_fault_count_
 * start); written only while no thread runs a system, read by FAULT_HIT. */
extern int fault_active;

/* The slow path of FAULT_HIT: counts the passage, true if it fails. */
bool fault_hit_slow(enum fault_site site);

/* Should this passage through site fail?  One load and a never-taken
 * branch when nothing counts. */
#define FAULT_HIT(site) (unlikely(fault_active) && fault_hit_slow(site))

/* Did an allocation site fail by injection since the last call (or the
 * last fault_forget_injected)?  True once.  Direct reclaim's retry loops
 * ask it: an injected allocation failure is final, as if reclaim could
 * free nothing, so that it tests the caller's out-of-memory path (a
 * retry would swap pages out and change what the workload sees). */
bool fault_take_injected(void);
/* A new allocation starts: an earlier injected failure, which no retry
 * loop took, is forgotten. */
void fault_forget_injected(void);

/* Arm: the n-th passage from now through site (FI_ANY: any site) fails,
 * once.  n == 0 disarms but keeps counting passages.  Restarts every
 * count. */
void cow_fault_arm(unsigned long n, enum fault_site site);
/* Count passages without failing any (cow_fault_arm(0, FI_ANY)). */
void cow_fault_count_start(void);
/* Stop counting and failing. */
void cow_fault_disarm(void);
/* Passages through every site since the last arm (or through one). */
unsigned long cow_fault_count(void);
unsigned long cow_fault_site_count(enum fault_site site);
/* The site that failed since the last arm, or FI_ANY if none did. */
enum fault_site cow_fault_fired(void);
/* "frame_alloc", ...; NULL for a number out of range. */
const char *cow_fault_site_name(enum fault_site site);
/* The site of that name, or FI_ANY ("any", or an unknown name: -2). */
int cow_fault_site_find(const char *name);

#endif /* COW_BASE_FAULTINJ_H */
