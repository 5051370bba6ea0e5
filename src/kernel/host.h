/*
 * What the host kernel is like (host.c).
 */
#ifndef COW_KERNEL_HOST_H
#define COW_KERNEL_HOST_H

#include <stdbool.h>
#include <stddef.h>

/* Does the host map the shared zero page on a read fault of anonymous
 * memory?  1 or 0; -1 when it cannot tell (the PFNs in
 * /proc/self/pagemap read as 0 without CAP_SYS_ADMIN). */
int kern_host_zero_page(void);

/* Transparent huge pages for map ... thp and madvise hugepage: why the
 * host gives none (its THP setting is "never"), or NULL.  A kernel
 * without THP at all shows when the run asks (MADV_HUGEPAGE: EINVAL). */
const char *kern_thp_unavailable(void);
/* Does this kernel know MADV_COLLAPSE (6.1+, with THP)?  Then its EINVAL
 * is a refusal of the range (a read-only range, a page that is not
 * anonymous), an error as in the model; on an older kernel or one
 * without THP the advice itself is unknown, and the run skips. */
bool kern_host_knows_madv_collapse(void);

/* What /proc/self/smaps says of the VMA holding an address: its bounds
 * and how much of it huge PMDs map (AnonHugePages counts PMD-mapped
 * anonymous THPs only; the huge zero page is not among them). */
struct vma_thp {
	unsigned long start, end; /* end 0: not read yet */
	unsigned long pmd_bytes;
};
/* Read the VMA holding addr into *v: 0, or -1 if /proc/self/smaps cannot
 * be read or has no AnonHugePages line for it (a kernel without THP). */
int kern_smaps_thp(unsigned long addr, struct vma_thp *v);

/* The hugetlb pool for map ... hugetlb (2 MiB pages: /proc/sys/vm/
 * nr_hugepages and /proc/meminfo, whose default size must be 2 MiB).
 * unavailable: why a scenario that needs n pages cannot run on this host
 * as it is (no hugetlb, another default size, too few free pages and not
 * root), or NULL (a static text, or the last reason in a buffer of
 * host.c's).  The coordinator prepares the pool for a run: it takes a
 * lock (a flock on nr_hugepages: one cowlab run changes the pool at a
 * time), checks the pool again under it (fit: with n free pages or
 * more; or exactly n and no overcommit where the scenario's premise is
 * a pool that runs dry: an expected SIGBUS, or maps that ask more pages
 * than the pool has, one of which fails), and as root raises
 * nr_hugepages by the shortfall of free unreserved pages: 0, or 1 with
 * the reason to skip (the host could not give them).  restore writes back
 * the old nr_hugepages and drops the lock (also from a signal handler:
 * pwrite and close only); a worker forgets the lock it inherited (closes
 * it, without restoring anything). */
enum kern_hp_fit {
	KERN_HP_AT_LEAST, /* n free huge pages, or more */
	KERN_HP_SIGBUS,	  /* exactly n: an expected SIGBUS needs the pool dry */
	KERN_HP_DRY_MAP,  /* exactly n: the maps ask more, and one must fail */
};
const char *kern_hugetlb_unavailable(unsigned long n);
int kern_hugetlb_prepare(unsigned long n, enum kern_hp_fit fit, char *why, size_t len);
void kern_hugetlb_restore(void);
void kern_hugetlb_forget(void);

/* Is a swap area active (/proc/swaps)? */
bool kern_swap_active(void);
/* Make sure swap is active for a run's swapout: when none is but other
 * cowlab runs' temporary swap files (which go away when those runs end),
 * and we are root, create and enable a temporary swap file of pages 4 KiB
 * pages (at least 10, in $COWLAB_TMPDIR, else /var/tmp).  0, or 1 with
 * the reason the run must skip in why. */
int kern_swap_on(unsigned long pages, char *why, size_t len);
/* Disable and remove the swap file kern_swap_on made, if any; safe in a
 * signal handler (swapoff and unlink only). */
void kern_swap_off(void);

/* KSM passes for ksm_merge: why the host cannot drive them, or NULL.
 * The coordinator saves and changes the settings of /sys/kernel/mm/ksm
 * for a run (prepare: 0, or 1 with the reason to skip) and restores them
 * (also from a signal handler: open, write and close only); a worker runs
 * a pass (two full scans of ksmd, then stopped again): 0, or -1 if it did
 * not finish within timeout_ms. */
const char *kern_ksm_unavailable(void);
int kern_ksm_prepare(char *why, size_t len);
void kern_ksm_restore(void);
int kern_ksm_pass(unsigned int timeout_ms);

/* khugepaged passes, as KSM's: why the host cannot drive them (no THP,
 * THP [never], not root), or NULL; the coordinator saves the settings of
 * /sys/kernel/mm/transparent_hugepage/khugepaged (prepare: 0, or 1 with
 * the reason to skip) and writes them back (restore, also from a signal
 * handler); a worker runs a pass: every page of every registered process
 * in each scan and no sleep between scans until two full scans have
 * ended, then the old settings again: 0, or -1 if they did not end
 * within timeout_ms.  khugepaged scans every process that asked for THP,
 * not only the scenario's. */
const char *kern_khugepaged_unavailable(void);
int kern_khugepaged_prepare(char *why, size_t len);
void kern_khugepaged_restore(void);
int kern_khugepaged_pass(unsigned int timeout_ms);

#endif /* COW_KERNEL_HOST_H */
