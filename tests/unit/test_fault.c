/*
 * Tests of src/mm/fault.c: anonymous faults, the zero page, and above all
 * the write-fault decision "reuse or copy" of each policy, observed through
 * the frame a virtual address maps before and after a write.  The cases
 * that tell the presets apart are the ones the 2009 thread argued about:
 * a page with an extra (GUP-like) reference, and a pinned page at fork.
 */
#include "mmtest.h"

#include <pthread.h>

#define FRAMES 512

struct one {
	struct cow_system *sys;
	struct cow_process *p;
	struct cow_task *t;
	unsigned long addr;
};

static struct one one_new(const char *policy, bool zero_page)
{
	struct one o;

	o.sys = mmt_system(policy, FRAMES, 4, zero_page);
	o.p = mmt_process(o.sys, "parent");
	o.t = mmt_task(o.p, 0);
	o.addr = mmt_map(o.t, 4, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	return o;
}

static void one_free(struct one *o)
{
	assert_system_ok(o->sys);
	cow_task_destroy(o->t);
	cow_process_exit(o->p);
	assert_all_frames_free(o->sys, FRAMES);
	cow_system_destroy(o->sys);
}

static void test_write_fault_maps_fresh_exclusive_page(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct one o = one_new(mm_policies[i], true);
		struct page *page;
		pte_t pte;

		assert_int_equal(mmt_fill(o.t, o.addr, 0x5a, PAGE_SIZE), 0);
		pte = mmt_pte(o.p, o.addr);
		page = mmt_page(o.p, o.addr);
		assert_true(pte_present(pte) && pte_write(pte) && pte_dirty(pte));
		assert_true(PageFlag(page, PG_anon));
		assert_true(PageFlag(page, PG_anon_exclusive));
		assert_int_equal(page_mapcount(page), 1);
		assert_int_equal(page_ref_count(page), 1);
		assert_true(mmt_holds(o.t, o.addr, 0x5a, PAGE_SIZE));
		/* Untouched neighbours are still empty. */
		assert_true(pte_none(mmt_pte(o.p, o.addr + PAGE_SIZE)));
		one_free(&o);
	}
}

static void test_read_fault_maps_zero_page(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct one o = one_new(mm_policies[i], true);
		pte_t pte;

		assert_true(mmt_holds(o.t, o.addr, 0, 2 * PAGE_SIZE));
		pte = mmt_pte(o.p, o.addr);
		assert_true(pte_present(pte) && !pte_write(pte) && pte_special(pte));
		assert_ptr_equal(mmt_page(o.p, o.addr), o.sys->zero_page);
		assert_ptr_equal(mmt_page(o.p, o.addr + PAGE_SIZE), o.sys->zero_page);
		/* A write replaces the zero page by a fresh page; the zero
		 * page itself stays zero (the system check verifies it). */
		assert_int_equal(mmt_fill(o.t, o.addr, 0xee, PAGE_SIZE), 0);
		assert_ptr_not_equal(mmt_page(o.p, o.addr), o.sys->zero_page);
		assert_true(mmt_holds(o.t, o.addr, 0xee, PAGE_SIZE));
		assert_true(mmt_holds(o.t, o.addr + PAGE_SIZE, 0, PAGE_SIZE));
		one_free(&o);
	}
}

static void test_no_zero_page_maps_fresh_pages(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct one o = one_new(mm_policies[i], false);
		unsigned long before = cow_system_free_frames(o.sys);
		pte_t pte;

		assert_null(o.sys->zero_page);
		assert_true(mmt_holds(o.t, o.addr, 0, PAGE_SIZE));
		pte = mmt_pte(o.p, o.addr);
		/* A host without a zero page maps a private page, writable. */
		assert_true(pte_present(pte) && !pte_special(pte) && pte_write(pte));
		/* the page, and the PUD, PMD and PTE tables above it */
		assert_int_equal(cow_system_free_frames(o.sys), before - 4);
		one_free(&o);
	}
}

static void test_permission_faults(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct one o = one_new(mm_policies[i], true);
		unsigned long ro = mmt_map(o.t, 1, COW_PROT_READ, COW_MAP_PRIVATE);
		unsigned long none = mmt_map(o.t, 1, 0, COW_MAP_PRIVATE);
		unsigned char b = 1;

		assert_int_equal(cow_write(o.t, ro, &b, 1), COW_EFAULT);
		assert_int_equal(cow_read(o.t, ro, &b, 1), 0);
		assert_int_equal(b, 0);
		assert_int_equal(cow_read(o.t, none, &b, 1), COW_EFAULT);
		assert_int_equal(cow_read(o.t, 0x1000, &b, 1), COW_EFAULT);
		assert_int_equal(cow_write(o.t, TASK_SIZE - 1, &b, 2), COW_EFAULT);
		one_free(&o);
	}
}

/* Fork, let the child exit: the parent's page is mapped once again but no
 * longer marked exclusive.  Both presets reuse it on the next write. */
static void test_reuse_after_child_exit(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct one o = one_new(mm_policies[i], true);
		struct cow_process *c;
		struct page *page;

		assert_int_equal(mmt_fill(o.t, o.addr, 1, PAGE_SIZE), 0);
		page = mmt_page(o.p, o.addr);
		assert_int_equal(cow_fork(o.t, "child", &c), 0);
		assert_int_equal(page_mapcount(page), 2);
		assert_false(PageFlag(page, PG_anon_exclusive));
		assert_false(pte_write(mmt_pte(o.p, o.addr)));
		cow_process_exit(c);
		assert_int_equal(mmt_fill(o.t, o.addr, 2, PAGE_SIZE), 0);
		assert_ptr_equal(mmt_page(o.p, o.addr), page);
		assert_true(pte_write(mmt_pte(o.p, o.addr)));
		one_free(&o);
	}
}

/* The 2009 question itself.  A page mapped once, not exclusive, with one
 * extra reference (what get_user_pages takes for direct I/O).  The
 * mapcount rule reuses it: the reference holder keeps seeing the page the
 * process writes.  The refcount rule of 5.9+ copies it away from the
 * reference ("wrong COW" for the holder, but never a leak). */
static void test_extra_reference_reuse_or_copy(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct one o = one_new(mm_policies[i], true);
		bool mapcount_rule = o.sys->policy->wp_reuse == REUSE_MAPCOUNT_LOCK;
		struct cow_process *c;
		struct page *page;

		assert_int_equal(mmt_fill(o.t, o.addr, 1, PAGE_SIZE), 0);
		page = mmt_page(o.p, o.addr);
		assert_int_equal(cow_fork(o.t, "child", &c), 0);
		cow_process_exit(c);
		get_page(page); /* the GUP-like reference */
		assert_int_equal(mmt_fill(o.t, o.addr, 2, PAGE_SIZE), 0);
		if (mapcount_rule) {
			assert_ptr_equal(mmt_page(o.p, o.addr), page);
			assert_int_equal(*(unsigned char *)page_address(o.sys->pool, page), 2);
		} else {
			assert_ptr_not_equal(mmt_page(o.p, o.addr), page);
			/* The holder still sees the old data. */
			assert_int_equal(*(unsigned char *)page_address(o.sys->pool, page), 1);
			assert_int_equal(page_mapcount(page), 0);
		}
		put_page(o.sys->pool, page);
		assert_true(mmt_holds(o.t, o.addr, 2, PAGE_SIZE));
		one_free(&o);
	}
}

/* A page that is still shared after fork: whoever writes first copies,
 * under every policy, and the other side keeps the original. */
static void test_shared_page_is_copied_by_first_writer(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct one o = one_new(mm_policies[i], true);
		struct cow_process *c;
		struct cow_task *ct;
		struct page *page;

		assert_int_equal(mmt_fill(o.t, o.addr, 1, PAGE_SIZE), 0);
		page = mmt_page(o.p, o.addr);
		assert_int_equal(cow_fork(o.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_int_equal(mmt_fill(o.t, o.addr, 2, PAGE_SIZE), 0);
		assert_ptr_not_equal(mmt_page(o.p, o.addr), page);
		assert_ptr_equal(mmt_page(c, o.addr), page);
		assert_true(mmt_holds(ct, o.addr, 1, PAGE_SIZE));
		/* Now the child is the only mapper: its write reuses. */
		assert_int_equal(mmt_fill(ct, o.addr, 3, PAGE_SIZE), 0);
		assert_ptr_equal(mmt_page(c, o.addr), page);
		assert_true(mmt_holds(o.t, o.addr, 2, PAGE_SIZE));
		assert_system_ok(o.sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		one_free(&o);
	}
}

/* A pinned exclusive page at fork.  linux-6.5 copies it for the child and
 * the parent keeps writing to the pinned page without a fault; linux-2.6.29
 * shares it, and the parent's next write moves the parent away from the
 * pin (the RDMA/io_uring case of cow.c, and row 3 of the matrix). */
static void test_pinned_page_at_fork(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct one o = one_new(mm_policies[i], true);
		bool early_copy = o.sys->policy->fork == FORK_COPY_PINNED_EXCLUSIVE;
		struct cow_process *c;
		struct cow_task *ct;
		struct page *page;

		assert_int_equal(mmt_fill(o.t, o.addr, 1, PAGE_SIZE), 0);
		page = mmt_page(o.p, o.addr);
		page_pin(page);
		set_bit(MMF_HAS_PINNED, &o.p->mm->flags);
		assert_int_equal(cow_fork(o.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_true(mmt_holds(ct, o.addr, 1, PAGE_SIZE));
		assert_int_equal(mmt_fill(o.t, o.addr, 2, PAGE_SIZE), 0);
		if (early_copy) {
			assert_ptr_not_equal(mmt_page(c, o.addr), page);
			assert_ptr_equal(mmt_page(o.p, o.addr), page);
			assert_true(PageFlag(page, PG_anon_exclusive));
		} else {
			assert_ptr_equal(mmt_page(c, o.addr), page);
			assert_ptr_not_equal(mmt_page(o.p, o.addr), page);
		}
		/* What the pin sees: the parent's data only with early copy. */
		assert_int_equal(*(unsigned char *)page_address(o.sys->pool, page),
				 early_copy ? 2 : 1);
		assert_true(mmt_holds(ct, o.addr, 1, PAGE_SIZE));
		unpin_user_page(o.sys->pool, page);
		cow_task_destroy(ct);
		cow_process_exit(c);
		one_free(&o);
	}
}

/* FAULT_FLAG_UNSHARE (5.19+): a shared page becomes exclusive to the
 * faulting process, still read-only; the era of 2.6.29 had no such fault. */
static void test_unshare_fault(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct one o = one_new(mm_policies[i], true);
		struct cow_process *c;
		struct page *page, *now;

		assert_int_equal(mmt_fill(o.t, o.addr, 7, PAGE_SIZE), 0);
		page = mmt_page(o.p, o.addr);
		assert_int_equal(cow_fork(o.t, "child", &c), 0);
		assert_int_equal(handle_mm_fault(o.p->mm, o.addr, FAULT_FLAG_UNSHARE), 0);
		now = mmt_page(o.p, o.addr);
		assert_false(pte_write(mmt_pte(o.p, o.addr)));
		if (o.sys->policy->anon_exclusive) {
			assert_ptr_not_equal(now, page);
			assert_true(PageFlag(now, PG_anon_exclusive));
			assert_int_equal(page_mapcount(page), 1);
		} else {
			assert_ptr_equal(now, page);
		}
		assert_true(mmt_holds(o.t, o.addr, 7, PAGE_SIZE));
		assert_system_ok(o.sys);
		cow_process_exit(c);
		one_free(&o);
	}
}

/* The zero page is never written, whatever happens around it. */
static void test_zero_page_never_written(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct one o = one_new(mm_policies[i], true);
		struct cow_process *c;
		struct cow_task *ct;

		assert_true(mmt_holds(o.t, o.addr, 0, 4 * PAGE_SIZE));
		assert_int_equal(cow_fork(o.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_ptr_equal(mmt_page(c, o.addr), o.sys->zero_page);
		assert_int_equal(mmt_fill(ct, o.addr, 0x99, 2 * PAGE_SIZE), 0);
		assert_int_equal(cow_mprotect(o.t, o.addr, 4 * PAGE_SIZE, COW_PROT_READ), 0);
		assert_int_equal(
			cow_mprotect(o.t, o.addr, 4 * PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE),
			0);
		assert_int_equal(mmt_fill(o.t, o.addr + PAGE_SIZE, 0x77, PAGE_SIZE), 0);
		assert_true(mmt_holds(o.t, o.addr, 0, PAGE_SIZE));
		assert_true(mmt_holds(ct, o.addr + 2 * PAGE_SIZE, 0, 2 * PAGE_SIZE));
		assert_true(mmt_holds(ct, o.addr, 0x99, 2 * PAGE_SIZE));
		assert_true(mmt_holds(o.t, o.addr + PAGE_SIZE, 0x77, PAGE_SIZE));
		assert_system_ok(o.sys); /* includes: the zero page holds zeroes */
		cow_task_destroy(ct);
		cow_process_exit(c);
		one_free(&o);
	}
}

/* mprotect read-only then read-write must never make a shared page
 * writable; linux-6.5 may make an exclusive page writable at once. */
static void test_mprotect_never_makes_shared_page_writable(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct one o = one_new(mm_policies[i], true);
		struct cow_process *c;
		struct cow_task *ct;

		assert_int_equal(mmt_fill(o.t, o.addr, 1, 2 * PAGE_SIZE), 0);
		assert_int_equal(cow_fork(o.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		/* Page 0 stays shared.  Page 1: the child copies, the parent's
		 * page is mapped once again but was never re-claimed, so it
		 * is not exclusive.  Page 2: written after fork, exclusive. */
		assert_int_equal(mmt_fill(ct, o.addr + PAGE_SIZE, 2, PAGE_SIZE), 0);
		assert_int_equal(mmt_fill(o.t, o.addr + 2 * PAGE_SIZE, 4, PAGE_SIZE), 0);
		assert_int_equal(cow_mprotect(o.t, o.addr, 3 * PAGE_SIZE, COW_PROT_READ), 0);
		for (int k = 0; k < 3; k++)
			assert_false(pte_write(mmt_pte(o.p, o.addr + k * PAGE_SIZE)));
		assert_int_equal(
			cow_mprotect(o.t, o.addr, 3 * PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE),
			0);
		assert_false(pte_write(mmt_pte(o.p, o.addr)));
		assert_false(pte_write(mmt_pte(o.p, o.addr + PAGE_SIZE)));
		assert_int_equal(pte_write(mmt_pte(o.p, o.addr + 2 * PAGE_SIZE)),
				 o.sys->policy->anon_exclusive);
		assert_int_equal(mmt_fill(o.t, o.addr, 3, 2 * PAGE_SIZE), 0);
		assert_true(mmt_holds(ct, o.addr, 1, PAGE_SIZE));
		assert_true(mmt_holds(ct, o.addr + PAGE_SIZE, 2, PAGE_SIZE));
		assert_true(mmt_holds(o.t, o.addr, 3, 2 * PAGE_SIZE));
		assert_true(mmt_holds(o.t, o.addr + 2 * PAGE_SIZE, 4, PAGE_SIZE));
		assert_system_ok(o.sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		one_free(&o);
	}
}

/* Memory and swap both full: a fault fails with COW_ENOMEM, nothing
 * written before is lost, and freeing part of the mapping makes room. */
static void test_pool_exhaustion_is_enomem(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct cow_system *sys = mmt_system_swap(mm_policies[i], 64, 8, 2);
		struct cow_process *p = mmt_process(sys, "p");
		struct cow_task *t;
		unsigned long addr, n;
		int err = 0;

		t = mmt_task(p, 0);
		addr = mmt_map(t, 100, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		for (n = 0; n < 100 && !err; n++)
			err = mmt_fill(t, addr + n * PAGE_SIZE, (int)n, PAGE_SIZE);
		assert_int_equal(err, COW_ENOMEM);
		/* 64 frames and 8 slots, less the page tables and the zero
		 * page: more than the frames alone, fewer than 72 pages. */
		assert_in_range(n, 60, 72);
		assert_int_equal(cow_madvise(t, addr + n / 2 * PAGE_SIZE, (100 - n / 2) * PAGE_SIZE,
					     COW_MADV_DONTNEED),
				 0);
		for (unsigned long k = 0; k < n / 2; k++)
			assert_true(mmt_holds(t, addr + k * PAGE_SIZE, (int)k, PAGE_SIZE));
		assert_system_ok(sys);
		cow_task_destroy(t);
		cow_process_exit(p);
		assert_all_frames_free(sys, 64);
		cow_system_destroy(sys);
	}
}

static void test_policy_table(void **state)
{
	int nr;
	const struct cow_policy *all = cow_policy_list(&nr);

	(void)state;
	assert_true(nr >= 2);
	assert_string_equal(cow_policy_default()->name, "linux-6.5");
	for (int i = 0; i < nr; i++) {
		assert_ptr_equal(cow_policy_find(all[i].name), &all[i]);
		assert_non_null(all[i].commits);
		assert_string_not_equal(wp_reuse_rule_name(all[i].wp_reuse), "?");
		assert_string_not_equal(fork_rule_name(all[i].fork), "?");
	}
	assert_null(cow_policy_find("linux-0.01"));
	{
		struct cow_system_opts o = {16, 1, "no-such-policy", 0};
		struct cow_system *sys;

		assert_int_equal(cow_system_create(&o, &sys), COW_EINVAL);
	}
}

/* The handles' accessors (public API): a system's preset, a process's
 * name and pid (unique, the child's its own), a task's process. */
static void test_handle_accessors(void **state)
{
	struct one o = one_new("linux-2.6.29", true);
	struct cow_process *child;
	struct cow_task *ct;

	(void)state;
	assert_ptr_equal(cow_system_policy(o.sys), cow_policy_find("linux-2.6.29"));
	assert_string_equal(cow_policy_name(cow_system_policy(o.sys)), "linux-2.6.29");
	assert_string_equal(cow_process_name(o.p), "parent");
	assert_ptr_equal(cow_task_process(o.t), o.p);
	assert_int_equal(cow_fork(o.t, "kid", &child), 0);
	assert_string_equal(cow_process_name(child), "kid");
	assert_true(cow_process_pid(child) > 0);
	assert_int_not_equal(cow_process_pid(child), cow_process_pid(o.p));
	assert_int_equal(cow_task_create(child, 1, &ct), 0);
	assert_ptr_equal(cow_task_process(ct), child);
	cow_task_destroy(ct);
	cow_process_exit(child);
	one_free(&o);
}

/* clear_refs soft-dirty: every PTE loses write and soft-dirty, the next
 * write fault restores both, mprotect R/W leaves a clean PTE read-only;
 * linux-6.5 leaves a maybe-pinned page's PTE as it was, 2.6.29 does not,
 * and the write after clear_refs reuses the pinned page under both. */
static void test_clear_refs_soft_dirty(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct cow_system *sys = mmt_system(mm_policies[i], 64, 2, true);
		struct cow_process *p = mmt_process(sys, "p");
		struct cow_task *t = mmt_task(p, 0);
		unsigned long a = mmt_map(t, 2, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		bool skips = sys->policy->clear_refs_skip_pinned;
		struct page *pinned, *before;

		assert_int_equal(mmt_fill(t, a, 0x11, 2 * PAGE_SIZE), 0);
		assert_true(pte_soft_dirty(mmt_pte(p, a)) && pte_write(mmt_pte(p, a)));
		assert_int_equal(get_user_pages(p->mm, a + PAGE_SIZE, 1,
						FOLL_PIN | FOLL_WRITE | FOLL_LONGTERM, &pinned),
				 1);
		assert_int_equal(cow_clear_refs(t), 0);
		assert_false(pte_write(mmt_pte(p, a)) || pte_soft_dirty(mmt_pte(p, a)));
		assert_true(pte_write(mmt_pte(p, a + PAGE_SIZE)) == skips);
		assert_system_ok(sys);
		/* mprotect R/W does not make the clean PTE writable ... */
		assert_int_equal(cow_mprotect(t, a, 2 * PAGE_SIZE, COW_PROT_READ), 0);
		assert_int_equal(cow_mprotect(t, a, 2 * PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE),
				 0);
		assert_false(pte_write(mmt_pte(p, a)));
		/* ... the write fault does, reusing the page in place. */
		before = mmt_page(p, a);
		assert_int_equal(mmt_fill(t, a, 0x22, 2 * PAGE_SIZE), 0);
		assert_ptr_equal(mmt_page(p, a), before);
		assert_true(pte_soft_dirty(mmt_pte(p, a)) && pte_write(mmt_pte(p, a)));
		/* The pin still sees what the process wrote. */
		assert_ptr_equal(mmt_page(p, a + PAGE_SIZE), pinned);
		assert_int_equal(*(unsigned char *)page_address(sys->pool, pinned), 0x22);
		gup_put_pages(sys, &pinned, 1, FOLL_PIN);
		assert_system_ok(sys);
		cow_task_destroy(t);
		cow_process_exit(p);
		assert_all_frames_free(sys, 64);
		cow_system_destroy(sys);
	}
}

/* After fork and the child's exit, a write to a page a GUP reference
 * holds: the refcount eras (2.4, 2.6.7, pagecount-2009, 5.9 .. 5.18) see
 * the reference and copy, the mapcount eras reuse, 5.19+ find the page
 * not exclusive any more and, with the reference, copy. */
static void test_reuse_rules_of_each_era(void **state)
{
	static const struct {
		const char *policy;
		bool reuses;
	} cases[] = {
		{"linux-2.4", false},
		{"linux-2.6.7", false},
		{"linux-2.6.13", true},
		{"linux-2.6.29", true},
		{"pagecount-2009", false},
		{"mmlock-2009", true},
		{"linux-5.9", false},
		{"linux-5.11", false},
		{"linux-5.18", false},
		{"linux-5.19", false},
		{"linux-6.5", false},
		/* These break COW at GUP time (the page is still mapped by
		 * one process, so the break reuses it), and the write finds
		 * the PTE writable. */
		{"forkfix-2009", true},
		{"dontcow-2009", true},
		{"linux-5.8", true},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cow_system *sys = mmt_system(cases[i].policy, 64, 2, true);
		struct cow_process *p = mmt_process(sys, "p"), *c;
		struct cow_task *t = mmt_task(p, 0);
		unsigned long a = mmt_map(t, 1, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		struct page *page, *ref;

		assert_int_equal(mmt_fill(t, a, 0x11, PAGE_SIZE), 0);
		assert_int_equal(cow_fork(t, "c", &c), 0);
		cow_process_exit(c);
		page = mmt_page(p, a);
		assert_int_equal(get_user_pages(p->mm, a, 1, FOLL_GET, &ref), 1);
		assert_int_equal(mmt_fill(t, a, 0x22, PAGE_SIZE), 0);
		assert_int_equal(mmt_page(p, a) == page, cases[i].reuses);
		gup_put_pages(sys, &ref, 1, FOLL_GET);
		/* Without the reference, every era reuses. */
		page = mmt_page(p, a);
		assert_int_equal(cow_mprotect(t, a, PAGE_SIZE, COW_PROT_READ), 0);
		assert_int_equal(cow_mprotect(t, a, PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE), 0);
		assert_int_equal(mmt_fill(t, a, 0x33, PAGE_SIZE), 0);
		assert_ptr_equal(mmt_page(p, a), page);
		assert_system_ok(sys);
		cow_task_destroy(t);
		cow_process_exit(p);
		assert_all_frames_free(sys, 64);
		cow_system_destroy(sys);
	}
}

/* Another CPU (reclaim, say) holding a page lock until told to let go. */
struct lock_holder {
	struct page *page;
	pthread_barrier_t locked, release;
};

static void *hold_page_lock(void *arg)
{
	struct lock_holder *h = arg;

	lock_page(h->page);
	pthread_barrier_wait(&h->locked);
	pthread_barrier_wait(&h->release);
	unlock_page(h->page);
	return NULL;
}

/* The trylock eras (2.6.7 to 2.6.28) copy a page that is locked at the
 * write fault, even one the process alone maps: the "wrong COW" of the
 * 2006 report that ab967d86015a (2.6.29) ended by sleeping for the lock.
 * (A sleeping era would wait for the holder here, so only these run.) */
static void test_trylock_eras_copy_a_locked_page(void **state)
{
	static const char *const policies[] = {"linux-2.6.7", "linux-2.6.13"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		struct cow_system *sys = mmt_system(policies[i], 64, 2, true);
		struct cow_process *p = mmt_process(sys, "p");
		struct cow_task *t = mmt_task(p, 0);
		unsigned long a = mmt_map(t, 1, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		struct page *page;

		assert_int_equal(mmt_fill(t, a, 0x11, PAGE_SIZE), 0);
		page = mmt_page(p, a);
		assert_int_equal(cow_mprotect(t, a, PAGE_SIZE, COW_PROT_READ), 0);
		assert_int_equal(cow_mprotect(t, a, PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE), 0);
		/* Unlocked, the page is reused. */
		assert_int_equal(mmt_fill(t, a, 0x22, PAGE_SIZE), 0);
		assert_ptr_equal(mmt_page(p, a), page);
		assert_int_equal(cow_mprotect(t, a, PAGE_SIZE, COW_PROT_READ), 0);
		assert_int_equal(cow_mprotect(t, a, PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE), 0);
		/* Locked by another CPU, which holds a reference (as reclaim
		 * does), it is copied. */
		struct lock_holder h = {.page = page};
		pthread_t holder;

		get_page(page);
		pthread_barrier_init(&h.locked, NULL, 2);
		pthread_barrier_init(&h.release, NULL, 2);
		assert_int_equal(pthread_create(&holder, NULL, hold_page_lock, &h), 0);
		pthread_barrier_wait(&h.locked);
		assert_int_equal(mmt_fill(t, a, 0x33, PAGE_SIZE), 0);
		pthread_barrier_wait(&h.release);
		pthread_join(holder, NULL);
		pthread_barrier_destroy(&h.locked);
		pthread_barrier_destroy(&h.release);
		assert_ptr_not_equal(mmt_page(p, a), page);
		put_page(sys->pool, page);
		assert_system_ok(sys);
		cow_task_destroy(t);
		cow_process_exit(p);
		assert_all_frames_free(sys, 64);
		cow_system_destroy(sys);
	}
}

/* A written zero page is the policy's failure (Dirty COW before 4.9 could
 * write it), not the model's: the checker reports it as COW_EOVERWRITE,
 * which a scenario reads as the overwrite verdict. */
static void test_written_zero_page_is_an_overwrite(void **state)
{
	struct cow_system *sys = mmt_system("linux-6.5", 64, 1, true);
	unsigned char *zero = page_address(sys->pool, sys->zero_page);
	char msg[256];

	(void)state;
	assert_int_equal(cow_system_check(sys, 1, msg, sizeof(msg)), 0);
	zero[100] = 0x66;
	assert_int_equal(cow_system_check(sys, 1, msg, sizeof(msg)), COW_EOVERWRITE);
	assert_non_null(strstr(msg, "the zero page holds 0x66 at offset 100"));
	zero[100] = 0;
	assert_int_equal(cow_system_check(sys, 0, msg, sizeof(msg)), 0);
	cow_system_destroy(sys);
}

/* MADV_POPULATE_WRITE faults every page in as a write would: fresh
 * exclusive pages, COW broken after fork (the child keeps its data);
 * POPULATE_READ maps the zero page where there is one.  A hole is
 * COW_ENOMEM, a write to a read-only mapping COW_EFAULT. */
static void test_populate_faults_the_range_in(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct one o = one_new(mm_policies[i], true);
		struct cow_process *c;
		struct cow_task *ct;
		unsigned long ro;

		assert_int_equal(cow_madvise(o.t, o.addr, 4 * PAGE_SIZE, COW_MADV_POPULATE_READ),
				 0);
		for (int k = 0; k < 4; k++) {
			pte_t pte = mmt_pte(o.p, o.addr + k * PAGE_SIZE);

			assert_true(pte_present(pte) && pte_special(pte) && !pte_write(pte));
		}
		assert_int_equal(cow_madvise(o.t, o.addr, 4 * PAGE_SIZE, COW_MADV_POPULATE_WRITE),
				 0);
		for (int k = 0; k < 4; k++) {
			pte_t pte = mmt_pte(o.p, o.addr + k * PAGE_SIZE);

			assert_true(pte_present(pte) && !pte_special(pte) && pte_write(pte));
			assert_int_equal(cow_page_exclusive(o.t, o.addr + k * PAGE_SIZE), 1);
			assert_int_equal(mmt_byte(o.t, o.addr + k * PAGE_SIZE), 0);
		}
		assert_int_equal(mmt_fill(o.t, o.addr, 0x5a, 4 * PAGE_SIZE), 0);
		assert_int_equal(cow_fork(o.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_int_equal(cow_page_exclusive(o.t, o.addr), 0);
		assert_int_equal(cow_madvise(o.t, o.addr, 4 * PAGE_SIZE, COW_MADV_POPULATE_WRITE),
				 0);
		assert_ptr_not_equal(mmt_page(o.p, o.addr), mmt_page(c, o.addr));
		assert_int_equal(cow_page_exclusive(o.t, o.addr + 3 * PAGE_SIZE), 1);
		assert_true(mmt_holds(o.t, o.addr, 0x5a, 4 * PAGE_SIZE));
		assert_true(mmt_holds(ct, o.addr, 0x5a, 4 * PAGE_SIZE));
		assert_system_ok(o.sys);
		/* Errors: past the mapping, and writes to a read-only one. */
		assert_int_equal(cow_madvise(o.t, o.addr, 5 * PAGE_SIZE, COW_MADV_POPULATE_WRITE),
				 COW_ENOMEM);
		ro = mmt_map(o.t, 1, COW_PROT_READ, COW_MAP_PRIVATE);
		assert_int_equal(cow_madvise(o.t, ro, PAGE_SIZE, COW_MADV_POPULATE_WRITE),
				 COW_EFAULT);
		assert_int_equal(cow_madvise(o.t, ro, PAGE_SIZE, COW_MADV_POPULATE_READ), 0);
		cow_task_destroy(ct);
		cow_process_exit(c);
		one_free(&o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_fault_maps_fresh_exclusive_page),
		cmocka_unit_test(test_read_fault_maps_zero_page),
		cmocka_unit_test(test_no_zero_page_maps_fresh_pages),
		cmocka_unit_test(test_permission_faults),
		cmocka_unit_test(test_reuse_after_child_exit),
		cmocka_unit_test(test_extra_reference_reuse_or_copy),
		cmocka_unit_test(test_shared_page_is_copied_by_first_writer),
		cmocka_unit_test(test_pinned_page_at_fork),
		cmocka_unit_test(test_unshare_fault),
		cmocka_unit_test(test_zero_page_never_written),
		cmocka_unit_test(test_mprotect_never_makes_shared_page_writable),
		cmocka_unit_test(test_pool_exhaustion_is_enomem),
		cmocka_unit_test(test_policy_table),
		cmocka_unit_test(test_handle_accessors),
		cmocka_unit_test(test_clear_refs_soft_dirty),
		cmocka_unit_test(test_reuse_rules_of_each_era),
		cmocka_unit_test(test_trylock_eras_copy_a_locked_page),
		cmocka_unit_test(test_written_zero_page_is_an_overwrite),
		cmocka_unit_test(test_populate_faults_the_range_in),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
