/*
 * The system (one simulated machine), its processes and tasks, and the
 * public cow_* entry points of include/cowlab.h that operate on them.  The
 * entry points only translate handles and check arguments; the work is
 * done in vma.c, mmu.c, fault.c and fork.c.
 */
#include "mm/mm.h"
#include "mm/swap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_FRAMES 4096
#define DEFAULT_CPUS 4

unsigned long long cow_system_memory(const struct cow_system_opts *opts)
{
	unsigned long long frames = opts && opts->frames ? opts->frames : DEFAULT_FRAMES;

	return frames * (PAGE_SIZE + sizeof(struct page) + sizeof(atomic_t));
}

/* The last system this thread destroyed while it was as good as new (no
 * process, every frame free, no pin or cache left), kept for the next
 * cow_system_create with the same options: the explorer makes a system
 * for every run, and allocating and freeing one cost up to a tenth of a
 * short run.  system_init makes it new again, so that nothing of its last
 * use shows: the same state, in the same order, as a system just
 * allocated (tests/unit/test_system.c compares the two). */
#define SPARE_MAX_BYTES (64ull << 20) /* a bigger system is freed, not kept */
static __thread struct cow_system *spare_sys;
static __thread unsigned long nr_reused;

unsigned long system_reuses(void)
{
	return nr_reused;
}

static bool same_opts(const struct cow_system *sys, const struct cow_system_opts *o,
		      const struct cow_policy *policy)
{
	const struct cow_system_opts *a = &sys->opts;

	return sys->policy == policy && a->frames == o->frames && a->cpus == o->cpus &&
	       !a->no_zero_page == !o->no_zero_page && a->swap_slots == o->swap_slots &&
	       !a->mem_devices == !o->mem_devices && a->hugepages == o->hugepages;
}

/* Allocate a system's parts for o; their state is system_init's. */
static int system_alloc(const struct cow_system_opts *o, struct cow_system **out)
{
	struct cow_system *sys = calloc(1, sizeof(*sys));
	int err = COW_ENOMEM;

	if (!sys)
		return COW_ENOMEM;
	sys->cpus = aligned_alloc(64, sizeof(struct cow_cpu) * (size_t)o->cpus);
	if (!sys->cpus)
		goto out_free_sys;
	err = frame_pool_create(&sys->pool, o->frames, o->cpus);
	if (err)
		goto out_free_cpus;
	sys->ext_refs = calloc(o->frames, sizeof(*sys->ext_refs));
	if (!sys->ext_refs) {
		frame_pool_destroy(sys->pool);
		err = COW_ENOMEM;
		goto out_free_cpus;
	}
	*out = sys;
	return 0;

out_free_cpus:
	free(sys->cpus);
out_free_sys:
	free(sys);
	return err;
}

static void system_free(struct cow_system *sys)
{
	frame_pool_destroy(sys->pool);
	step_state_free(sys);
	free(sys->ext_refs);
	free(sys->cpus);
	free(sys);
}

/* A new system's state, on parts just allocated or on a spare whose pool
 * was reset: everything below but the parts and the step checker's
 * buffers (which it fills anew) is set here. */
static int system_init(struct cow_system *sys, const struct cow_system_opts *o,
		       const struct cow_policy *policy)
{
	sys->opts = *o;
	sys->opts.policy = NULL; /* the caller's string; policy is the preset */
	sys->policy = policy;
	sys->nr_cpus = o->cpus;
	spin_lock_init_rank(&sys->lock, RANK_SYSTEM);
	ksm_init(sys);
	mutex_init_rank(&sys->hugetlb_mutex, RANK_HUGETLB_FAULT);
	INIT_LIST_HEAD(&sys->processes);
	INIT_LIST_HEAD(&sys->mms);
	sys->file_caches = NULL;
	sys->next_pid = 1;
	atomic_long_set(&sys->next_mm_id, 0);
	memset(sys->cpus, 0, sizeof(struct cow_cpu) * (size_t)o->cpus);
	memset(sys->ext_refs, 0, o->frames * sizeof(*sys->ext_refs));
	/* The swap device (a host file) is made on first use: most runs
	 * never swap, and an explorer makes thousands of systems. */
	sys->swap = NULL;
	sys->swap_slots = o->swap_slots ? o->swap_slots : o->frames;
	sys->mem_devices = o->mem_devices != 0;
	sys->frames_stored = false;
	atomic_long_set(&sys->pins_acquired, 0);
	atomic_long_set(&sys->pins_released, 0);
	sys->zero_page = NULL;
	sys->huge_zero_page = NULL;
	if (!o->no_zero_page) {
		sys->zero_page = alloc_page(sys->pool, GFP_ZERO);
		if (!sys->zero_page)
			return COW_ENOMEM;
		SetPageFlag(sys->zero_page, PG_zero);
	}
	/* The hugetlb pool, set aside before anything can fragment the
	 * frames (as nr_hugepages at boot). */
	return hugetlb_pool_grow(sys->pool, o->hugepages);
}

int cow_system_create(const struct cow_system_opts *opts, struct cow_system **out)
{
	struct cow_system_opts o = {DEFAULT_FRAMES, DEFAULT_CPUS, NULL, 0};
	const struct cow_policy *policy;
	struct cow_system *sys = NULL;
	int err;

	*out = NULL;
	if (opts)
		o = *opts;
	if (o.frames == 0)
		o.frames = DEFAULT_FRAMES;
	if (o.cpus == 0)
		o.cpus = DEFAULT_CPUS;
	if (o.cpus < 1 || o.cpus > SYNC_MAX_CPUS)
		return COW_EINVAL;
	policy = o.policy ? cow_policy_find(o.policy) : cow_policy_default();
	if (!policy)
		return COW_EINVAL;
	sync_init();
	if (spare_sys && same_opts(spare_sys, &o, policy)) {
		sys = spare_sys;
		spare_sys = NULL;
		nr_reused++;
		frame_pool_reset(sys->pool);
		step_state_forget(sys);
		cow_system_set_decisions(sys, NULL, NULL); /* its last trace's */
	} else {
		err = system_alloc(&o, &sys);
		if (err)
			return err;
	}
	err = system_init(sys, &o, policy);
	if (err) {
		system_free(sys);
		return err;
	}
	*out = sys;
	return 0;
}

void cow_system_destroy(struct cow_system *sys)
{
	struct cow_process *p, *n;
	bool clean;

	if (!sys)
		return;
	list_for_each_entry_safe(p, n, &sys->processes, node) cow_process_exit(p);
	cow_system_drop_caches(sys);
	if (sys->huge_zero_page)
		huge_zero_page_free(sys->pool, sys->huge_zero_page);
	if (sys->zero_page) {
		ClearPageFlag(sys->zero_page, PG_zero);
		put_page(sys->pool, sys->zero_page);
	}
	/* Page tables and anon_vmas freed through RCU must be back before
	 * the pool goes. */
	rcu_barrier();
	if (sys->swap) {
		swap_cache_drain(sys);
		swap_device_destroy(sys->swap);
		sys->swap = NULL;
	}
	ksm_destroy(sys);
	clean = hugetlb_pool_release(sys->pool) &&
		cow_system_memory(&sys->opts) <= SPARE_MAX_BYTES && list_empty(&sys->mms) &&
		!sys->file_caches && frame_pool_nr_free(sys->pool) == frame_pool_size(sys->pool) &&
		atomic_long_read(&sys->pins_acquired) == atomic_long_read(&sys->pins_released);
	if (!clean) {
		system_free(sys);
		return;
	}
	if (spare_sys) /* the newer is likelier to be asked for again */
		system_free(spare_sys);
	spare_sys = sys;
}

const struct cow_policy *cow_system_policy(const struct cow_system *sys)
{
	return sys->policy;
}

unsigned long cow_system_free_frames(const struct cow_system *sys)
{
	/* The zero pages are the system's own, not a leak; a free huge
	 * page of the hugetlb pool is free memory. */
	return frame_pool_nr_free(sys->pool) + (sys->zero_page ? 1 : 0) +
	       (sys->huge_zero_page ? HPAGE_PMD_NR : 0) +
	       hugetlb_pool_nr_free(sys->pool) * HPAGE_PMD_NR;
}

unsigned long cow_system_swap_in_use(struct cow_system *sys)
{
	struct swap_device *sd = READ_ONCE(sys->swap);

	if (!sd)
		return 0;
	swap_cache_drain(sys);
	return swap_device_size(sd) - swap_device_nr_free(sd);
}

int cow_system_check(struct cow_system *sys, int strict, char *msg, unsigned long len)
{
	return system_check(sys, strict != 0, msg, len);
}

int cow_system_check_touched(struct cow_system *sys, const struct sync_touch *touched,
			     unsigned long n, char *msg, unsigned long len)
{
	return system_check_touched(sys, touched, n, msg, len);
}

/* ---- processes and tasks ----------------------------------------------------- */

static int process_new(struct cow_system *sys, const char *name, struct mm_struct *mm,
		       struct cow_process **out)
{
	struct cow_process *p = FAULT_HIT(FI_PROC_ALLOC) ? NULL : calloc(1, sizeof(*p));

	if (!p)
		return COW_ENOMEM;
	p->sys = sys;
	p->mm = mm;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "process");
	spin_lock(&sys->lock);
	p->pid = sys->next_pid++;
	list_add_tail(&p->node, &sys->processes);
	spin_unlock(&sys->lock);
	*out = p;
	return 0;
}

int cow_process_create(struct cow_system *sys, const char *name, struct cow_process **out)
{
	struct mm_struct *mm;
	int err;

	*out = NULL;
	err = mm_alloc(sys, &mm);
	if (err)
		return err;
	err = process_new(sys, name, mm, out);
	if (err)
		mm_destroy(mm);
	return err;
}

void cow_process_exit(struct cow_process *proc)
{
	struct cow_system *sys = proc->sys;

	spin_lock(&sys->lock);
	list_del(&proc->node);
	spin_unlock(&sys->lock);
	mm_destroy(proc->mm);
	free(proc);
	/* Swap-cache pages whose last swap PTE went with this mm. */
	if (READ_ONCE(sys->swap))
		swap_cache_drain(sys);
}

const char *cow_process_name(const struct cow_process *proc)
{
	return proc->name;
}

int cow_process_pid(const struct cow_process *proc)
{
	return proc->pid;
}

int cow_task_create(struct cow_process *proc, int cpu, struct cow_task **out)
{
	struct cow_task *t;

	*out = NULL;
	if (cpu < 0 || cpu >= proc->sys->nr_cpus)
		return COW_EINVAL;
	t = FAULT_HIT(FI_PROC_ALLOC) ? NULL : calloc(1, sizeof(*t));
	if (!t)
		return COW_ENOMEM;
	t->proc = proc;
	t->cpu = cpu;
	*out = t;
	return 0;
}

void cow_task_destroy(struct cow_task *task)
{
	free(task);
}

struct cow_process *cow_task_process(const struct cow_task *task)
{
	return task->proc;
}

/* ---- memory operations ------------------------------------------------------------ */

int cow_mmap(struct cow_task *task, unsigned long addr, unsigned long len, int prot, int flags,
	     unsigned long *out)
{
	return do_mmap(task->proc->mm, addr, len, prot, flags, NULL, out);
}

int cow_mmap_file(struct cow_task *task, unsigned long len, int prot, int flags,
		  const struct cow_file *file, unsigned long *out)
{
	return do_mmap(task->proc->mm, 0, len, prot, flags, file, out);
}

int cow_page_state(struct cow_task *task, unsigned long addr)
{
	struct mm_struct *mm = task->proc->mm;
	struct vm_area_struct *vma;
	spinlock_t *ptl;
	pte_t *ptep, pte;
	int ret = 0;

	down_read(&mm->mmap_lock);
	vma = find_vma(mm, addr);
	ptep = vma ? leaf_offset_map_lock(vma, addr & PAGE_MASK, &ptl) : NULL;
	if (ptep) {
		pte = ptep_get(ptep);
		if (pte_present(pte)) {
			struct page *page =
				pfn_to_page(mm->sys->pool, pte_pfn(pte) + huge_offset(pte, addr));

			ret = COW_PAGE_PRESENT;
			if (pmd_trans_huge(pte)) /* the huge zero page too */
				ret |= COW_PAGE_HUGE;
			/* KPF_THP for a THP's pages, KPF_HUGE for hugetlb's. */
			if (!pte_special(pte) && PageCompound(page))
				ret |= PageFlag(compound_head(page), PG_hugetlb) ? COW_PAGE_HUGETLB
										 : COW_PAGE_LARGE;
			if (!pte_special(pte) && PageFlag(page, PG_anon) &&
			    PageFlag(page, PG_anon_exclusive))
				ret |= COW_PAGE_EXCLUSIVE;
			if (!pte_special(pte) && PageFlag(page, PG_ksm))
				ret |= COW_PAGE_KSM;
		} else if (is_swap_pte(pte) && !is_migration_pte(pte)) {
			ret = COW_PAGE_SWAPPED;
		}
		pte_unmap_unlock(ptep, ptl);
	}
	up_read(&mm->mmap_lock);
	return ret;
}

int cow_page_exclusive(struct cow_task *task, unsigned long addr)
{
	int st = cow_page_state(task, addr);

	if (!(st & COW_PAGE_PRESENT))
		return COW_EFAULT;
	return !!(st & COW_PAGE_EXCLUSIVE);
}

int cow_uffd_continue(struct cow_task *task, unsigned long addr, unsigned long len)
{
	return do_uffd_continue(task->proc->mm, addr, len);
}

int cow_munmap(struct cow_task *task, unsigned long addr, unsigned long len)
{
	return do_munmap(task->proc->mm, addr, len);
}

int cow_mprotect(struct cow_task *task, unsigned long addr, unsigned long len, int prot)
{
	return do_mprotect(task->proc->mm, addr, len, prot);
}

int cow_ksm_merge(struct cow_task *task, unsigned long *merged)
{
	unsigned long n;
	int err = ksm_scan(task->proc->sys, &n);

	if (merged)
		*merged = n;
	return err;
}

int cow_khugepaged(struct cow_task *task, unsigned long *collapsed)
{
	unsigned long n;
	int err = khugepaged_scan_mm(task->proc->mm, &n);

	if (collapsed)
		*collapsed = n;
	return err;
}

int cow_clear_refs(struct cow_task *task)
{
	return clear_refs_soft_dirty(task->proc->mm);
}

int cow_madvise(struct cow_task *task, unsigned long addr, unsigned long len, int advice)
{
	return do_madvise(task->proc->mm, addr, len, advice);
}

int cow_read(struct cow_task *task, unsigned long addr, void *buf, unsigned long len)
{
	return mmu_access(task, addr, buf, len, false);
}

int cow_write(struct cow_task *task, unsigned long addr, const void *buf, unsigned long len)
{
	/* The MMU copies out of buf for a store; it never writes it. */
	return mmu_access(task, addr, (void *)(uintptr_t)buf, len, true);
}

int cow_fork(struct cow_task *task, const char *name, struct cow_process **child)
{
	struct mm_struct *mm;
	int err;

	*child = NULL;
	err = dup_mm(task->proc->mm, &mm);
	if (err)
		return err;
	err = process_new(task->proc->sys, name, mm, child);
	if (err)
		mm_destroy(mm);
	return err;
}
