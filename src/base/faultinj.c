/*
 * Fault injection (see faultinj.h): the countdown, the counts per site,
 * and COW_FAULT_AT / COW_FAULT_SITE read when the program starts.
 */
#include "base/faultinj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fault_active;

static struct {
	unsigned long target;  /* the passage that fails (0: none) */
	enum fault_site site;  /* ... through this site, or FI_ANY */
	unsigned long passed;  /* passages through the armed site(s) */
	enum fault_site fired; /* FI_ANY until the failure happened */
	bool announce;	       /* armed from the environment: say so */
	bool pending;	       /* an allocation site failed (fault_take_injected) */
	unsigned long per_site[FI_NR_SITES];
} fi = {.site = FI_ANY, .fired = FI_ANY};

static const char *const site_names[FI_NR_SITES] = {
	[FI_FRAME_ALLOC] = "frame_alloc",
	[FI_PGTABLE_ALLOC] = "pgtable_alloc",
	[FI_MM_ALLOC] = "mm_alloc",
	[FI_VMA_ALLOC] = "vma_alloc",
	[FI_ANON_VMA_ALLOC] = "anon_vma_alloc",
	[FI_AVC_ALLOC] = "avc_alloc",
	[FI_SHMEM_ALLOC] = "shmem_alloc",
	[FI_PROC_ALLOC] = "proc_alloc",
	[FI_SWAP_DEVICE] = "swap_device",
	[FI_SWAP_SLOT] = "swap_slot",
	[FI_SWAP_CACHE_ADD] = "swap_cache_add",
	[FI_SWAP_WRITE] = "swap_write",
	[FI_SWAP_READ] = "swap_read",
	[FI_GUP_ALLOC] = "gup_alloc",
	[FI_DIO_OPEN] = "dio_open",
	[FI_DIO_SUBMIT] = "dio_submit",
	[FI_DIO_STEP] = "dio_step",
	[FI_DIO_COMPLETE] = "dio_complete",
	[FI_KSM_ITEM_ALLOC] = "ksm_item_alloc",
	[FI_KSM_NODE_ALLOC] = "ksm_node_alloc",
};

bool fault_hit_slow(enum fault_site site)
{
	fi.per_site[site]++;
	if (fi.site != FI_ANY && fi.site != site)
		return false;
	fi.passed++;
	if (fi.passed != fi.target)
		return false;
	fi.fired = site;
	/* The I/O sites report errors; the others are allocations. */
	fi.pending = site != FI_SWAP_DEVICE && site != FI_SWAP_WRITE && site != FI_SWAP_READ &&
		     site != FI_DIO_OPEN && site != FI_DIO_STEP && site != FI_DIO_COMPLETE;
	if (fi.announce)
		fprintf(stderr, "cowlab: COW_FAULT_AT=%lu: injected a failure at %s\n", fi.target,
			site_names[site]);
	return true;
}

bool fault_take_injected(void)
{
	bool was = fi.pending;

	fi.pending = false;
	return was;
}

void fault_forget_injected(void)
{
	fi.pending = false;
}

void cow_fault_arm(unsigned long n, enum fault_site site)
{
	memset(fi.per_site, 0, sizeof(fi.per_site));
	fi.target = n;
	fi.site = site;
	fi.passed = 0;
	fi.fired = FI_ANY;
	fi.pending = false;
	fi.announce = false;
	fault_active = 1;
}

void cow_fault_count_start(void)
{
	cow_fault_arm(0, FI_ANY);
}

void cow_fault_disarm(void)
{
	fault_active = 0;
	fi.target = 0;
}

unsigned long cow_fault_count(void)
{
	return fi.passed;
}

unsigned long cow_fault_site_count(enum fault_site site)
{
	return site >= 0 && site < FI_NR_SITES ? fi.per_site[site] : 0;
}

enum fault_site cow_fault_fired(void)
{
	return fi.fired;
}

const char *cow_fault_site_name(enum fault_site site)
{
	return site >= 0 && site < FI_NR_SITES ? site_names[site] : NULL;
}

int cow_fault_site_find(const char *name)
{
	if (strcmp(name, "any") == 0)
		return FI_ANY;
	for (int i = 0; i < FI_NR_SITES; i++)
		if (strcmp(name, site_names[i]) == 0)
			return i;
	return -2;
}

/* COW_FAULT_AT=N [COW_FAULT_SITE=name]: arm before main() runs.  A bad
 * value is reported and ignored (injection is a test aid, never a reason
 * for a program not to start). */
__attribute__((constructor)) static void fault_from_env(void)
{
	const char *at = getenv("COW_FAULT_AT"), *name = getenv("COW_FAULT_SITE");
	char *end;
	unsigned long n;
	int site = FI_ANY;

	if (!at || !*at)
		return;
	n = strtoul(at, &end, 10);
	if (*end || n == 0) {
		fprintf(stderr, "cowlab: COW_FAULT_AT=%s ignored: not a positive number\n", at);
		return;
	}
	if (name && *name) {
		site = cow_fault_site_find(name);
		if (site == -2) {
			fprintf(stderr, "cowlab: COW_FAULT_SITE=%s ignored: no such site\n", name);
			return;
		}
	}
	cow_fault_arm(n, (enum fault_site)site);
	fi.announce = true;
}
