/*
 * Helpers for the memory-manager tests: systems under each implemented
 * policy, byte patterns written and checked through tasks, and the strict
 * invariant check.
 */
#ifndef COW_MMTEST_H
#define COW_MMTEST_H

#include "testutil.h"

#include "mm/mm.h"

/* The presets whose rules are implemented end to end. */
static const char *const mm_policies[] = {"linux-2.6.29", "linux-6.5"};
#define NR_MM_POLICIES ((int)ARRAY_SIZE(mm_policies))

/* A system of frames frames and swap_slots swap slots (0: the default)
 * on cpus CPUs, without the zero page, under policy. */
static inline struct cow_system *mmt_system_swap(const char *policy, unsigned long frames,
						 unsigned long swap_slots, int cpus)
{
	struct cow_system_opts o = {frames, cpus, policy, true, swap_slots};
	struct cow_system *sys;

	assert_int_equal(cow_system_create(&o, &sys), 0);
	return sys;
}

static inline struct cow_system *mmt_system(const char *policy, unsigned long frames, int cpus,
					    bool zero_page)
{
	struct cow_system_opts o = {frames, cpus, policy, !zero_page};
	struct cow_system *sys;

	assert_int_equal(cow_system_create(&o, &sys), 0);
	return sys;
}

static inline struct cow_task *mmt_task(struct cow_process *p, int cpu)
{
	struct cow_task *t;

	assert_int_equal(cow_task_create(p, cpu, &t), 0);
	return t;
}

static inline struct cow_process *mmt_process(struct cow_system *sys, const char *name)
{
	struct cow_process *p;

	assert_int_equal(cow_process_create(sys, name, &p), 0);
	return p;
}

static inline unsigned long mmt_map(struct cow_task *t, unsigned long pages, int prot, int flags)
{
	unsigned long addr;

	assert_int_equal(cow_mmap(t, 0, pages * PAGE_SIZE, prot, flags, &addr), 0);
	return addr;
}

/* Fill [addr, addr+len) with byte through task t; returns the error. */
static inline int mmt_fill(struct cow_task *t, unsigned long addr, int byte, unsigned long len)
{
	unsigned char buf[PAGE_SIZE];
	int err = 0;

	memset(buf, byte, sizeof(buf));
	while (len > 0 && !err) {
		unsigned long n = len < PAGE_SIZE ? len : PAGE_SIZE;

		err = cow_write(t, addr, buf, n);
		addr += n;
		len -= n;
	}
	return err;
}

/* Does [addr, addr+len) hold byte everywhere?  Reads through task t. */
static inline bool mmt_holds(struct cow_task *t, unsigned long addr, int byte, unsigned long len)
{
	unsigned char buf[PAGE_SIZE];

	while (len > 0) {
		unsigned long n = len < PAGE_SIZE ? len : PAGE_SIZE;

		if (cow_read(t, addr, buf, n) != 0)
			return false;
		for (unsigned long i = 0; i < n; i++)
			if (buf[i] != (unsigned char)byte)
				return false;
		addr += n;
		len -= n;
	}
	return true;
}

/* The first byte of the page at addr, read through t (-1 on a fault). */
static inline int mmt_byte(struct cow_task *t, unsigned long addr)
{
	unsigned char b;

	return cow_read(t, addr, &b, 1) == 0 ? b : -1;
}

/* The PTE that maps addr in p (0 if none), read like gup-fast does. */
static inline pte_t mmt_pte(struct cow_process *p, unsigned long addr)
{
	pte_t pte = 0, *ptep;

	rcu_read_lock();
	ptep = pgtable_walk_lockless(&p->mm->pgt, addr, &pte);
	rcu_read_unlock();
	return ptep ? pte : 0;
}

/* The struct page mapped at addr in p, or NULL. */
static inline struct page *mmt_page(struct cow_process *p, unsigned long addr)
{
	pte_t pte = mmt_pte(p, addr);

	return pte_present(pte) ? pfn_to_page(p->sys->pool, pte_pfn(pte)) : NULL;
}

#define assert_system_ok(sys)                                        \
	do {                                                         \
		char m_[512] = "";                                   \
		if (cow_system_check((sys), 1, m_, sizeof(m_)) != 0) \
			fail_msg("system check: %s", m_);            \
	} while (0)

/* Every process exited: the pool must be entirely free again. */
#define assert_all_frames_free(sys, frames)                              \
	do {                                                             \
		rcu_barrier();                                           \
		assert_int_equal(cow_system_free_frames(sys), (frames)); \
	} while (0)

/* For explore programs: a per-step check of the whole system. */
static inline int mmt_step_check(struct cow_system *sys, char *msg, size_t len)
{
	return cow_system_check(sys, 0, msg, len);
}

#endif
