/*
 * Tests of transparent huge pages (src/mm/huge_memory.c with fault.c,
 * fork.c, gup.c and vma.c): the huge PMD a fault maps, the fallback to
 * small pages, fork of a huge PMD, the write fault's reuse rule of each
 * era (the PMD twin of CVE-2020-29374 under 5.9 .. 5.17), the split of a
 * pinned THP at fork (5.9), splits by munmap and mprotect, GUP and
 * gup-fast through a huge PMD, the checker's folio invariants, a fork
 * racing a writer under the explorer, the huge zero page, the whole-page
 * copy before 5.8, the read GUP that dirtied a huge PMD before 4.15, and
 * the split of a folio (partly unmapped, pinned, shared after fork) and
 * the reclaim that splits a THP before it swaps it out.
 */
#include "mmtest.h"

#define FRAMES 2048
#define HUGE (HPAGE_PMD_NR * PAGE_SIZE)
#define RW (COW_PROT_READ | COW_PROT_WRITE)

/* Presets with THP, and each era's rule; linux-2.6.29 has none. */
static const char *const thp_policies[] = {"linux-5.8", "linux-5.9", "linux-5.18", "linux-6.5"};

static unsigned long map_thp(struct cow_task *t, unsigned long len)
{
	unsigned long a;

	assert_int_equal(cow_mmap(t, 0, len, RW, COW_MAP_PRIVATE | COW_MAP_THP, &a), 0);
	assert_int_equal(a % HUGE, 0);
	return a;
}

/* Does every page of [a, a + len) in t's process have these page-state
 * bits (of COW_PAGE_HUGE | COW_PAGE_LARGE)? */
static bool pages_are(struct cow_task *t, unsigned long a, unsigned long len, int want)
{
	for (unsigned long off = 0; off < len; off += PAGE_SIZE) {
		int st = cow_page_state(t, a + off);

		if (!(st & COW_PAGE_PRESENT) || (st & (COW_PAGE_HUGE | COW_PAGE_LARGE)) != want)
			return false;
	}
	return true;
}

/* The strict check, once the page tables munmap freed have left
 * through RCU (their frames go back to the pool in a callback). */
#define assert_quiet_system_ok(sys)    \
	do {                           \
		rcu_barrier();         \
		assert_system_ok(sys); \
	} while (0)

#define PMD_MAPPED (COW_PAGE_HUGE | COW_PAGE_LARGE)
#define PTE_MAPPED_THP COW_PAGE_LARGE

/* The folio head a huge PMD or PTE maps at a in p. */
static struct page *folio_at(struct cow_process *p, unsigned long a)
{
	pte_t e = mmt_pte(p, a);

	assert_true(pte_present(e));
	return compound_head(pfn_to_page(p->sys->pool, pte_pfn(e) + huge_offset(e, a)));
}

struct thp_env {
	struct cow_system *sys;
	struct cow_process *p;
	struct cow_task *t;
	unsigned long a;
};

static struct thp_env thp_env(const char *policy, unsigned long len)
{
	struct thp_env e;

	e.sys = mmt_system(policy, FRAMES, 4, false);
	e.p = mmt_process(e.sys, "parent");
	e.t = mmt_task(e.p, 0);
	e.a = map_thp(e.t, len);
	return e;
}

static void thp_env_end(struct thp_env *e)
{
	assert_quiet_system_ok(e->sys);
	cow_task_destroy(e->t);
	cow_process_exit(e->p);
	assert_all_frames_free(e->sys, FRAMES);
	cow_system_destroy(e->sys);
}

/* A fault maps a whole zeroed folio by one PMD where the era has THP and
 * the mapping asked; small pages elsewhere and in 2.6.29. */
static void test_fault_maps_huge_pmd(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(thp_policies); i++) {
		struct thp_env e = thp_env(thp_policies[i], HUGE);
		unsigned long plain = mmt_map(e.t, 4, RW, COW_MAP_PRIVATE);
		struct page *head;

		assert_true(mmt_holds(e.t, e.a + 12345, 0, 100)); /* a read fault */
		assert_true(pages_are(e.t, e.a, HUGE, PMD_MAPPED));
		assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
		assert_int_equal(mmt_fill(e.t, plain, 0x22, 4 * PAGE_SIZE), 0);
		assert_true(pages_are(e.t, plain, 4 * PAGE_SIZE, 0));
		head = folio_at(e.p, e.a + 77 * PAGE_SIZE);
		assert_ptr_equal(head, folio_at(e.p, e.a));
		assert_int_equal(folio_order(head), HPAGE_PMD_ORDER);
		assert_int_equal(page_ref_count(head), 1);
		assert_int_equal(folio_entire_mapcount(head), 1);
		assert_int_equal(page_mapcount(head + 300), 1);
		assert_int_equal(atomic_read(&head[300]._mapcount), 0);
		/* Tracked in every era, as for small pages. */
		assert_true(PageFlag(head + 300, PG_anon_exclusive));
		assert_true(mmt_holds(e.t, e.a, 0x11, HUGE));
		thp_env_end(&e);
	}
	/* No THP in 2.6.29: the same mapping faults small pages. */
	struct thp_env e = thp_env("linux-2.6.29", HUGE);

	assert_int_equal(mmt_fill(e.t, e.a, 0x11, 8 * PAGE_SIZE), 0);
	assert_true(pages_are(e.t, e.a, 8 * PAGE_SIZE, 0));
	thp_env_end(&e);
}

/* A pool with no aligned block of 512 free frames: small pages, the
 * same data. */
static void test_fault_falls_back_without_a_block(void **state)
{
	struct cow_system *sys = mmt_system("linux-6.5", 600, 2, false);
	struct cow_process *p = mmt_process(sys, "p");
	struct cow_task *t = mmt_task(p, 0);
	unsigned long a = map_thp(t, HUGE);

	(void)state;
	assert_int_equal(mmt_fill(t, a, 0x5a, 64 * PAGE_SIZE), 0);
	assert_true(pages_are(t, a, 64 * PAGE_SIZE, 0));
	assert_true(mmt_holds(t, a, 0x5a, 64 * PAGE_SIZE));
	assert_quiet_system_ok(sys);
	cow_task_destroy(t);
	cow_process_exit(p);
	assert_all_frames_free(sys, 600);
	cow_system_destroy(sys);
}

/* Fork shares the folio by a write-protected PMD on both sides; a write
 * splits the writer's PMD and copies the one subpage; the rest stays
 * shared, PTE-mapped on the writer's side and PMD-mapped on the other. */
static void test_fork_shares_then_splits_on_write(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(thp_policies); i++) {
		struct thp_env e = thp_env(thp_policies[i], HUGE);
		struct cow_process *c;
		struct cow_task *ct;
		struct page *head;

		assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
		head = folio_at(e.p, e.a);
		assert_int_equal(cow_fork(e.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_ptr_equal(folio_at(c, e.a), head);
		assert_int_equal(folio_entire_mapcount(head), 2);
		assert_int_equal(page_ref_count(head), 2);
		assert_false(pte_write(mmt_pte(e.p, e.a)) || pte_write(mmt_pte(c, e.a)));
		assert_false(PageFlag(head + 9, PG_anon_exclusive));
		assert_quiet_system_ok(e.sys);

		assert_int_equal(mmt_fill(e.t, e.a + 5 * PAGE_SIZE, 0x22, PAGE_SIZE), 0);
		assert_true(pages_are(e.t, e.a + 5 * PAGE_SIZE, PAGE_SIZE, 0));
		assert_true(pages_are(e.t, e.a, 5 * PAGE_SIZE, PTE_MAPPED_THP));
		assert_true(pages_are(ct, e.a, HUGE, PMD_MAPPED));
		assert_true(mmt_holds(ct, e.a, 0x11, HUGE));
		assert_true(mmt_holds(e.t, e.a + 5 * PAGE_SIZE, 0x22, PAGE_SIZE));
		assert_true(mmt_holds(e.t, e.a + 6 * PAGE_SIZE, 0x11, PAGE_SIZE));
		/* 511 PTEs of the parent, the child's PMD. */
		assert_int_equal(page_ref_count(head), 512);
		assert_quiet_system_ok(e.sys);

		/* The child writes too: its own copy of another subpage. */
		assert_int_equal(mmt_fill(ct, e.a + 7 * PAGE_SIZE, 0x33, PAGE_SIZE), 0);
		assert_true(mmt_holds(e.t, e.a + 7 * PAGE_SIZE, 0x11, PAGE_SIZE));
		assert_true(mmt_holds(ct, e.a + 7 * PAGE_SIZE, 0x33, PAGE_SIZE));
		assert_quiet_system_ok(e.sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		assert_true(mmt_holds(e.t, e.a + 7 * PAGE_SIZE, 0x11, PAGE_SIZE));
		thp_env_end(&e);
	}
}

/* Once the child has gone, the folio is the parent's alone again and
 * every era reuses it in place, still PMD-mapped. */
static void test_reuse_after_the_child_exits(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(thp_policies); i++) {
		struct thp_env e = thp_env(thp_policies[i], HUGE);
		struct cow_process *c;
		struct page *head;

		assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
		head = folio_at(e.p, e.a);
		assert_int_equal(cow_fork(e.t, "child", &c), 0);
		cow_process_exit(c);
		assert_int_equal(mmt_fill(e.t, e.a + 3 * PAGE_SIZE, 0x44, PAGE_SIZE), 0);
		assert_ptr_equal(folio_at(e.p, e.a), head);
		assert_true(pages_are(e.t, e.a, HUGE, PMD_MAPPED));
		assert_true(pte_write(mmt_pte(e.p, e.a)));
		thp_env_end(&e);
	}
}

/* Matrix row 7 with a PMD-mapped THP: the child takes a read-only GUP
 * reference (vmsplice) on a page it shares with the parent, unmaps its
 * mapping, and the parent writes.  5.9 .. 5.17 reuse a folio mapped once,
 * whatever references GUP holds, so the parent's write reaches the
 * child's pipe (the PMD twin of CVE-2020-29374); 5.8 broke COW at GUP
 * time, 5.18 counts references, 5.19+ exclusivity. */
static void test_vmsplice_leak_by_era(void **state)
{
	static const struct {
		const char *policy;
		bool leaks;
	} cases[] = {{"linux-5.8", false},
		     {"linux-5.9", true},
		     {"linux-5.11", true},
		     {"linux-5.18", false},
		     {"linux-6.5", false}};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct thp_env e = thp_env(cases[i].policy, HUGE);
		struct cow_process *c;
		struct cow_task *ct;
		struct cow_pages *pipe;
		unsigned char b;

		assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
		assert_int_equal(cow_fork(e.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_int_equal(cow_gup(ct, e.a + 3 * PAGE_SIZE, PAGE_SIZE, 0, &pipe), 0);
		assert_int_equal(cow_munmap(ct, e.a, HUGE), 0);
		assert_int_equal(mmt_fill(e.t, e.a + 3 * PAGE_SIZE, 0x22, PAGE_SIZE), 0);
		cow_pages_read(pipe, 100, &b, 1);
		if (b != (cases[i].leaks ? 0x22 : 0x11))
			fail_msg("%s: the pipe holds 0x%02x", cases[i].policy, b);
		assert_true(mmt_holds(e.t, e.a + 3 * PAGE_SIZE, 0x22, PAGE_SIZE));
		assert_quiet_system_ok(e.sys);
		cow_pages_release(pipe);
		cow_task_destroy(ct);
		cow_process_exit(c);
		thp_env_end(&e);
	}
}

/* A pinned THP at fork: 5.9+ split the parent's PMD and copy the pinned
 * subpages for the child, so the pin keeps seeing the parent's writes;
 * 5.8 shares the folio and the parent's write copies away from the pin. */
static void test_pinned_thp_is_split_at_fork(void **state)
{
	static const struct {
		const char *policy;
		bool pin_follows;
	} cases[] = {{"linux-5.8", false}, {"linux-5.9", true}, {"linux-6.5", true}};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct thp_env e = thp_env(cases[i].policy, HUGE);
		struct cow_process *c;
		struct cow_task *ct;
		struct cow_pages *pin;
		unsigned char b;

		assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
		assert_int_equal(cow_gup(e.t, e.a + 2 * PAGE_SIZE, PAGE_SIZE,
					 COW_GUP_PIN | COW_GUP_WRITE | COW_GUP_LONGTERM, &pin),
				 0);
		assert_int_equal(cow_fork(e.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_true(pages_are(e.t, e.a, HUGE,
				      cases[i].pin_follows ? PTE_MAPPED_THP : PMD_MAPPED));
		assert_true(mmt_holds(ct, e.a, 0x11, HUGE));
		assert_int_equal(mmt_fill(e.t, e.a + 2 * PAGE_SIZE, 0x33, PAGE_SIZE), 0);
		cow_pages_read(pin, 0, &b, 1);
		if (b != (cases[i].pin_follows ? 0x33 : 0x11))
			fail_msg("%s: the pin holds 0x%02x", cases[i].policy, b);
		assert_true(mmt_holds(ct, e.a + 2 * PAGE_SIZE, 0x11, PAGE_SIZE));
		assert_quiet_system_ok(e.sys);
		cow_pages_release(pin);
		cow_task_destroy(ct);
		cow_process_exit(c);
		thp_env_end(&e);
	}
}

/* munmap of part of a huge PMD and mprotect of one page split it; the
 * rest stays mapped, PTE-mapped, with its data. */
static void test_partial_munmap_and_mprotect_split(void **state)
{
	struct thp_env e = thp_env("linux-6.5", 2 * HUGE);

	(void)state;
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, 2 * HUGE), 0);
	assert_true(pages_are(e.t, e.a, 2 * HUGE, PMD_MAPPED));
	assert_int_equal(cow_munmap(e.t, e.a, PAGE_SIZE), 0);
	assert_int_equal(cow_page_state(e.t, e.a), 0);
	assert_true(pages_are(e.t, e.a + PAGE_SIZE, HUGE - PAGE_SIZE, PTE_MAPPED_THP));
	assert_true(mmt_holds(e.t, e.a + PAGE_SIZE, 0x11, HUGE - PAGE_SIZE));
	assert_int_equal(cow_mprotect(e.t, e.a + HUGE + 8 * PAGE_SIZE, PAGE_SIZE, COW_PROT_READ),
			 0);
	assert_true(pages_are(e.t, e.a + HUGE, HUGE, PTE_MAPPED_THP));
	assert_int_equal(cow_write(e.t, e.a + HUGE + 8 * PAGE_SIZE, "x", 1), COW_EFAULT);
	assert_int_equal(mmt_fill(e.t, e.a + HUGE + 9 * PAGE_SIZE, 0x22, PAGE_SIZE), 0);
	assert_true(mmt_holds(e.t, e.a + HUGE + 8 * PAGE_SIZE, 0x11, PAGE_SIZE));
	assert_quiet_system_ok(e.sys);
	/* munmap of the whole second 2 MiB zaps its PTEs and frees it. */
	assert_int_equal(cow_munmap(e.t, e.a + HUGE, HUGE), 0);
	assert_quiet_system_ok(e.sys);
	thp_env_end(&e);
}

/* A VMA split inside a huge PMD splits the PMD first: after MADV_DONTFORK
 * on all but the first page, fork gives the child that page alone. */
static void test_vma_split_splits_the_pmd(void **state)
{
	struct thp_env e = thp_env("linux-6.5", HUGE);
	struct cow_process *c;
	struct cow_task *ct;

	(void)state;
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
	assert_int_equal(cow_madvise(e.t, e.a + PAGE_SIZE, HUGE - PAGE_SIZE, COW_MADV_DONTFORK), 0);
	assert_true(pages_are(e.t, e.a, HUGE, PTE_MAPPED_THP));
	assert_int_equal(cow_fork(e.t, "child", &c), 0);
	ct = mmt_task(c, 1);
	assert_true(mmt_holds(ct, e.a, 0x11, PAGE_SIZE));
	assert_int_equal(cow_page_state(ct, e.a + PAGE_SIZE), 0);
	assert_int_equal(mmt_byte(ct, e.a + PAGE_SIZE), -1); /* no mapping there */
	/* Partially shared: subpage 0 by both, the rest by the parent. */
	assert_false(PageFlag(mmt_page(e.p, e.a), PG_anon_exclusive));
	assert_true(PageFlag(mmt_page(e.p, e.a + PAGE_SIZE), PG_anon_exclusive));
	assert_quiet_system_ok(e.sys);
	cow_task_destroy(ct);
	cow_process_exit(c);
	thp_env_end(&e);
}

/* A split takes the table deposited with the huge PMD: with not one
 * frame left in the pool, munmap of one page of a THP still splits it. */
static void test_split_needs_no_memory(void **state)
{
	struct thp_env e = thp_env("linux-6.5", HUGE);
	struct page *taken[FRAMES];
	unsigned long n = 0;

	(void)state;
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
	assert_int_equal(e.p->mm->pgt.nr_deposit, 1);
	while ((taken[n] = alloc_page(e.sys->pool, GFP_NOINJECT)) != NULL)
		n++;
	assert_int_equal(cow_munmap(e.t, e.a + 5 * PAGE_SIZE, PAGE_SIZE), 0);
	assert_int_equal(e.p->mm->pgt.nr_deposit, 0);
	assert_true(pages_are(e.t, e.a, 5 * PAGE_SIZE, PTE_MAPPED_THP));
	assert_true(mmt_holds(e.t, e.a + 6 * PAGE_SIZE, 0x11, PAGE_SIZE));
	while (n > 0)
		put_page(e.sys->pool, taken[--n]);
	thp_env_end(&e);
}

/* A forced write (as ptrace's) into a PROT_NONE mapping that asked for
 * THP faults in a huge PMD the process itself may not use. */
static void test_forced_write_into_prot_none(void **state)
{
	struct thp_env e = thp_env("linux-6.5", HUGE);
	struct cow_pages *pg;

	(void)state;
	assert_int_equal(cow_mprotect(e.t, e.a, HUGE, 0), 0);
	assert_int_equal(cow_gup(e.t, e.a, PAGE_SIZE, COW_GUP_FORCE | COW_GUP_WRITE, &pg), 0);
	assert_true(pages_are(e.t, e.a, HUGE, PMD_MAPPED));
	cow_pages_write(pg, 0, "Q", 1);
	cow_pages_release(pg);
	assert_int_equal(mmt_byte(e.t, e.a), -1);
	assert_int_equal(cow_mprotect(e.t, e.a, HUGE, COW_PROT_READ), 0);
	assert_int_equal(mmt_byte(e.t, e.a), 'Q');
	thp_env_end(&e);
}

/* GUP and gup-fast through a huge PMD take the subpage of each address,
 * as references and pins on the folio. */
static void test_gup_and_gup_fast_through_a_pmd(void **state)
{
	struct thp_env e = thp_env("linux-6.5", HUGE);
	struct cow_pages *fast, *slow;
	struct page *head;
	unsigned char buf[3];

	(void)state;
	for (unsigned long k = 0; k < HPAGE_PMD_NR; k++)
		assert_int_equal(
			cow_write(e.t, e.a + k * PAGE_SIZE, &(unsigned char){(unsigned char)k}, 1),
			0);
	head = folio_at(e.p, e.a);
	assert_int_equal(cow_gup(e.t, e.a + 510 * PAGE_SIZE, 2 * PAGE_SIZE,
				 COW_GUP_FAST | COW_GUP_PIN | COW_GUP_WRITE, &fast),
			 0);
	assert_int_equal(cow_gup(e.t, e.a + 7 * PAGE_SIZE, PAGE_SIZE, 0, &slow), 0);
	assert_int_equal(atomic_read(&head->_pincount), 2);
	assert_int_equal(page_ref_count(head), 4);
	assert_true(page_maybe_dma_pinned(head + 100));
	cow_pages_read(fast, 0, &buf[0], 1);
	cow_pages_read(fast, PAGE_SIZE, &buf[1], 1);
	cow_pages_read(slow, 0, &buf[2], 1);
	assert_int_equal(buf[0], 510 % 256);
	assert_int_equal(buf[1], 511 % 256);
	assert_int_equal(buf[2], 7);
	/* A store through the pin is the process's byte. */
	cow_pages_write(fast, 1, "Z", 1);
	assert_int_equal(mmt_byte(e.t, e.a + 510 * PAGE_SIZE + 1), 'Z');
	assert_true(pages_are(e.t, e.a, HUGE, PMD_MAPPED));
	assert_quiet_system_ok(e.sys);
	cow_pages_release(fast);
	cow_pages_release(slow);
	assert_int_equal(page_ref_count(head), 1);
	thp_env_end(&e);
}

/* MADV_COLLAPSE (6.1+) maps a PTE-mapped THP by a huge PMD again, in a
 * new folio, data kept; the old folio goes.  Before 6.1 the advice does
 * not exist. */
static void test_collapse_pte_mapped_thp(void **state)
{
	struct thp_env e = thp_env("linux-6.5", HUGE);
	struct page *old;

	(void)state;
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
	assert_int_equal(mmt_fill(e.t, e.a + 7 * PAGE_SIZE, 0x77, PAGE_SIZE), 0);
	old = folio_at(e.p, e.a);
	assert_int_equal(cow_mprotect(e.t, e.a + PAGE_SIZE, PAGE_SIZE, COW_PROT_READ), 0);
	assert_int_equal(cow_mprotect(e.t, e.a + PAGE_SIZE, PAGE_SIZE, RW), 0);
	assert_true(pages_are(e.t, e.a, HUGE, PTE_MAPPED_THP));
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_COLLAPSE), 0);
	assert_true(pages_are(e.t, e.a, HUGE, PMD_MAPPED));
	assert_ptr_not_equal(folio_at(e.p, e.a), old);
	assert_true(PageFlag(folio_at(e.p, e.a) + 9, PG_anon_exclusive));
	assert_true(mmt_holds(e.t, e.a, 0x11, 7 * PAGE_SIZE));
	assert_true(mmt_holds(e.t, e.a + 7 * PAGE_SIZE, 0x77, PAGE_SIZE));
	assert_true(mmt_holds(e.t, e.a + 8 * PAGE_SIZE, 0x11, HUGE - 8 * PAGE_SIZE));
	/* Huge already: nothing to do. */
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_COLLAPSE), 0);
	assert_quiet_system_ok(e.sys);
	thp_env_end(&e);

	e = thp_env("linux-5.19", HUGE);
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, PAGE_SIZE), 0);
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_COLLAPSE), COW_ENOTSUP);
	thp_env_end(&e);
}

/* Small pages and holes collapse too (holes read as zeroes); a pinned
 * page, whose references exceed its mappings, makes it fail with
 * COW_EAGAIN and leaves every PTE as it was. */
static void test_collapse_small_pages_unless_pinned(void **state)
{
	struct thp_env e = thp_env("linux-6.5", HUGE);
	struct cow_pages *pin;

	(void)state;
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_NOHUGEPAGE), 0);
	assert_int_equal(mmt_fill(e.t, e.a + 3 * PAGE_SIZE, 0x33, PAGE_SIZE), 0);
	assert_int_equal(mmt_fill(e.t, e.a + 300 * PAGE_SIZE, 0x44, PAGE_SIZE), 0);
	assert_int_equal(cow_page_state(e.t, e.a + 3 * PAGE_SIZE) & PMD_MAPPED, 0);
	/* VM_NOHUGEPAGE refuses it. */
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_COLLAPSE), COW_EINVAL);
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_HUGEPAGE), 0);
	assert_int_equal(cow_gup(e.t, e.a + 300 * PAGE_SIZE, PAGE_SIZE,
				 COW_GUP_PIN | COW_GUP_WRITE | COW_GUP_LONGTERM, &pin),
			 0);
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_COLLAPSE), COW_EAGAIN);
	assert_int_equal(cow_page_state(e.t, e.a + 300 * PAGE_SIZE) & PMD_MAPPED, 0);
	assert_true(mmt_holds(e.t, e.a + 300 * PAGE_SIZE, 0x44, PAGE_SIZE));
	assert_quiet_system_ok(e.sys);
	cow_pages_release(pin);
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_COLLAPSE), 0);
	assert_true(pages_are(e.t, e.a, HUGE, PMD_MAPPED));
	assert_true(mmt_holds(e.t, e.a, 0, 3 * PAGE_SIZE));
	assert_true(mmt_holds(e.t, e.a + 3 * PAGE_SIZE, 0x33, PAGE_SIZE));
	assert_true(mmt_holds(e.t, e.a + 300 * PAGE_SIZE, 0x44, PAGE_SIZE));
	assert_quiet_system_ok(e.sys);
	thp_env_end(&e);
}

/* Matrix row 23 (cow.c's "collapsing after fork (lower shared)"): the
 * THP is PTE-mapped, its lower half shared with a child (MADV_DONTFORK
 * on the upper half across fork), the upper half exclusive.  Collapse
 * copies into a new exclusive THP; the parent's writes stay its own and
 * the child keeps its snapshot.  A fully shared range has no writable
 * PTE and is refused. */
static void test_collapse_after_fork_lower_shared(void **state)
{
	struct thp_env e = thp_env("linux-6.5", HUGE);
	struct cow_process *c;
	struct cow_task *ct;

	(void)state;
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
	assert_int_equal(cow_madvise(e.t, e.a + HUGE / 2, HUGE / 2, COW_MADV_DONTFORK), 0);
	assert_int_equal(cow_fork(e.t, "child", &c), 0);
	ct = mmt_task(c, 1);
	assert_int_equal(cow_madvise(e.t, e.a + HUGE / 2, HUGE / 2, COW_MADV_DOFORK), 0);
	assert_int_equal(find_vma(e.p->mm, e.a)->vm_end, e.a + HUGE); /* merged again */
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_COLLAPSE), 0);
	assert_true(pages_are(e.t, e.a, HUGE, PMD_MAPPED));
	assert_int_equal(mmt_fill(e.t, e.a, 0x22, HUGE), 0);
	assert_true(mmt_holds(ct, e.a, 0x11, HUGE / 2));
	assert_true(mmt_holds(e.t, e.a, 0x22, HUGE));
	assert_quiet_system_ok(e.sys);
	cow_task_destroy(ct);
	cow_process_exit(c);
	thp_env_end(&e);

	/* Fully shared: every PTE read-only (SCAN_PAGE_RO). */
	e = thp_env("linux-6.5", HUGE);
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
	assert_int_equal(cow_mprotect(e.t, e.a, PAGE_SIZE, COW_PROT_READ), 0);
	assert_int_equal(cow_mprotect(e.t, e.a, PAGE_SIZE, RW), 0);
	assert_int_equal(cow_fork(e.t, "child", &c), 0);
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_COLLAPSE), COW_EINVAL);
	assert_true(pages_are(e.t, e.a, HUGE, PTE_MAPPED_THP));
	assert_quiet_system_ok(e.sys);
	cow_process_exit(c);
	thp_env_end(&e);
}

/* The checker counts a huge PMD's maps and the folio's references: a
 * wrong entire mapcount, a tail's stray mapcount or a missing reference
 * each fail it. */
static void test_checker_sees_folio_counts(void **state)
{
	struct thp_env e = thp_env("linux-6.5", HUGE);
	struct page *head;
	char msg[512] = "";

	(void)state;
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
	head = folio_at(e.p, e.a);
	assert_quiet_system_ok(e.sys);
	atomic_inc(&head[1]._entire_mapcount);
	assert_int_equal(cow_system_check(e.sys, 1, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "(S2)"));
	atomic_dec(&head[1]._entire_mapcount);
	atomic_inc(&head[40]._mapcount);
	assert_int_equal(cow_system_check(e.sys, 1, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "pfn"));
	atomic_dec(&head[40]._mapcount);
	atomic_inc(&head->_refcount);
	assert_int_equal(cow_system_check(e.sys, 1, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "(S3)"));
	atomic_dec(&head->_refcount);
	ClearPageFlag(head + 200, PG_anon_exclusive);
	assert_int_equal(cow_system_check(e.sys, 1, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "(S4)"));
	SetPageFlag(head + 200, PG_anon_exclusive);
	e.p->mm->pgt.nr_deposit++;
	assert_int_equal(cow_system_check(e.sys, 1, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "(P6)"));
	e.p->mm->pgt.nr_deposit--;
	thp_env_end(&e);
}

/* ---- fork races a writer of the THP, under the explorer ---------------------------- */

#define RACE_NAME "thp-fork-writer-6.5"

static struct cow_system *race_system(void)
{
	return mmt_system("linux-6.5", FRAMES, 2, false);
}

static unsigned long race_map(struct cow_task *t)
{
	return map_thp(t, HUGE);
}

#include "fork_writer_race.h"

static void test_fork_races_writer_explore(void **state)
{
	(void)state;
	assert_explore_clean(&race_prog, 1, 200);
}

/* ---- the huge zero page ---------------------------------------------------- */

static struct thp_env zero_env(const char *policy, int prot)
{
	struct thp_env e;

	e.sys = mmt_system(policy, FRAMES, 4, true);
	e.p = mmt_process(e.sys, "parent");
	e.t = mmt_task(e.p, 0);
	assert_int_equal(cow_mmap(e.t, 0, HUGE, prot, COW_MAP_PRIVATE | COW_MAP_THP, &e.a), 0);
	assert_int_equal(e.a % HUGE, 0);
	return e;
}

static bool huge_zero_clean(const struct cow_system *sys)
{
	const unsigned char *z = page_address(sys->pool, sys->huge_zero_page);

	for (unsigned long i = 0; i < HUGE; i++)
		if (z[i])
			return false;
	return true;
}

/* A read fault maps the huge zero page by a read-only, clean, special
 * PMD (no reference, no mapcount; `huge` but not `pte-mapped`, as on the
 * host); fork copies that PMD; a write maps a
 * new zeroed THP before 5.8 and splits the PMD into PTEs of the small
 * zero page from 5.8, copying only the page written. */
static void test_huge_zero_page(void **state)
{
	static const struct {
		const char *policy;
		bool new_thp;
	} cases[] = {{"linux-4.14", true}, {"linux-5.8", false}, {"linux-6.5", false}};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct thp_env e = zero_env(cases[i].policy, RW);
		struct cow_process *c;
		struct cow_task *ct;
		struct page *zero;
		unsigned long b;
		pte_t pmd;

		assert_true(mmt_holds(e.t, e.a + 12345, 0, 100));
		pmd = mmt_pte(e.p, e.a);
		zero = e.sys->huge_zero_page;
		assert_non_null(zero);
		assert_true(is_huge_zero_pmd(pmd));
		assert_false(pte_write(pmd) || pte_dirty(pmd));
		assert_int_equal(pte_pfn(pmd), page_to_pfn(e.sys->pool, zero));
		/* Mapped by a huge PMD, but no large folio of anyone's. */
		assert_true(pages_are(e.t, e.a, HUGE, COW_PAGE_HUGE));
		assert_int_equal(page_ref_count(zero), 1);
		assert_int_equal(folio_entire_mapcount(zero), 0);
		/* A second mapping shares it. */
		assert_int_equal(cow_mmap(e.t, 0, HUGE, RW, COW_MAP_PRIVATE | COW_MAP_THP, &b), 0);
		assert_true(mmt_holds(e.t, b, 0, 8));
		assert_int_equal(mmt_pte(e.p, b), pmd);
		assert_int_equal(cow_fork(e.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_int_equal(mmt_pte(c, e.a), pmd);
		assert_quiet_system_ok(e.sys);

		assert_int_equal(mmt_fill(e.t, e.a + 5 * PAGE_SIZE, 0x22, PAGE_SIZE), 0);
		if (cases[i].new_thp) {
			assert_true(pages_are(e.t, e.a, HUGE, PMD_MAPPED));
			assert_ptr_not_equal(folio_at(e.p, e.a), zero);
		} else {
			assert_true(pages_are(e.t, e.a + 5 * PAGE_SIZE, PAGE_SIZE, 0));
			assert_true(pte_special(mmt_pte(e.p, e.a)));
			assert_false(pmd_trans_huge(mmt_pte(e.p, e.a)));
			assert_int_equal(pte_pfn(mmt_pte(e.p, e.a)),
					 page_to_pfn(e.sys->pool, e.sys->zero_page));
		}
		assert_true(mmt_holds(e.t, e.a, 0, 5 * PAGE_SIZE));
		assert_true(mmt_holds(e.t, e.a + 5 * PAGE_SIZE, 0x22, PAGE_SIZE));
		assert_true(mmt_holds(e.t, e.a + 6 * PAGE_SIZE, 0, HUGE - 6 * PAGE_SIZE));
		assert_true(mmt_holds(ct, e.a, 0, HUGE));
		assert_int_equal(mmt_pte(c, e.a), pmd);
		assert_true(huge_zero_clean(e.sys));
		assert_quiet_system_ok(e.sys);

		/* munmap of part splits it; of all of it zaps it. */
		assert_int_equal(cow_munmap(ct, e.a, PAGE_SIZE), 0);
		assert_true(mmt_holds(ct, e.a + PAGE_SIZE, 0, 8));
		assert_int_equal(cow_munmap(e.t, b, HUGE), 0);
		assert_quiet_system_ok(e.sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		thp_env_end(&e);
	}
}

/* Before 5.8 a write fault that does not reuse a huge page copies all
 * 2 MiB into a new one: both sides stay PMD-mapped (5.8 splits, see
 * test_fork_shares_then_splits_on_write). */
static void test_huge_copy_before_5_8(void **state)
{
	struct thp_env e = thp_env("linux-4.14", HUGE);
	struct cow_process *c;
	struct cow_task *ct;
	struct page *head;

	(void)state;
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
	head = folio_at(e.p, e.a);
	assert_int_equal(cow_fork(e.t, "child", &c), 0);
	ct = mmt_task(c, 1);
	assert_int_equal(mmt_fill(e.t, e.a + 5 * PAGE_SIZE, 0x22, PAGE_SIZE), 0);
	assert_ptr_not_equal(folio_at(e.p, e.a), head);
	assert_ptr_equal(folio_at(c, e.a), head);
	assert_true(pages_are(e.t, e.a, HUGE, PMD_MAPPED));
	assert_true(pages_are(ct, e.a, HUGE, PMD_MAPPED));
	assert_int_equal(folio_entire_mapcount(head), 1);
	assert_int_equal(page_ref_count(head), 1);
	assert_true(pte_write(mmt_pte(e.p, e.a)));
	assert_true(mmt_holds(e.t, e.a, 0x11, 5 * PAGE_SIZE));
	assert_true(mmt_holds(e.t, e.a + 5 * PAGE_SIZE, 0x22, PAGE_SIZE));
	assert_true(mmt_holds(e.t, e.a + 6 * PAGE_SIZE, 0x11, HUGE - 6 * PAGE_SIZE));
	assert_true(mmt_holds(ct, e.a, 0x11, HUGE));
	assert_quiet_system_ok(e.sys);
	cow_task_destroy(ct);
	cow_process_exit(c);
	thp_env_end(&e);
}

/* FOLL_TOUCH: until 4.15 (a8f97366452e) a read GUP marks a huge PMD
 * dirty, the huge zero page's too; from then on only a write does. */
static void test_read_gup_dirties_huge_pmd_before_4_15(void **state)
{
	static const struct {
		const char *policy;
		bool dirties;
	} cases[] = {{"linux-4.14", true}, {"linux-5.8", false}, {"linux-6.5", false}};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct thp_env e = zero_env(cases[i].policy, COW_PROT_READ);
		struct cow_pages *pages;

		assert_int_equal(cow_gup(e.t, e.a + PAGE_SIZE, PAGE_SIZE, 0, &pages), 0);
		assert_true(is_huge_zero_pmd(mmt_pte(e.p, e.a)));
		if (pte_dirty(mmt_pte(e.p, e.a)) != cases[i].dirties)
			fail_msg("%s: the PMD is %s", cases[i].policy,
				 cases[i].dirties ? "clean" : "dirty");
		cow_pages_release(pages);
		thp_env_end(&e);
	}
}

/* ---- khugepaged --------------------------------------------------------------------- */

/* A 2 MiB of small pages in a mapping that asked for THP afterwards; with
 * the child of a fork sharing it, of which the parent then rewrote the
 * first `written` pages (its own copies now). */
static struct thp_env small_pages_env(const char *policy, struct cow_process **child,
				      unsigned long written)
{
	struct thp_env e = thp_env(policy, HUGE);

	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_NOHUGEPAGE), 0);
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_HUGEPAGE), 0);
	assert_true(pages_are(e.t, e.a, HUGE, 0));
	if (child) {
		assert_int_equal(cow_fork(e.t, "child", child), 0);
		assert_int_equal(mmt_fill(e.t, e.a, 0x33, written * PAGE_SIZE), 0);
	}
	return e;
}

/* As reclaim's look at the accessed bits leaves them: cleared, and no TLB
 * holding a translation that would spare the next access the walk. */
static void clear_young(struct cow_process *p, unsigned long a, unsigned long len)
{
	for (unsigned long off = 0; off < len; off += PAGE_SIZE) {
		spinlock_t *ptl;
		pte_t *ptep = pte_offset_map_lock(&p->mm->pgt, a + off, &ptl);

		assert_non_null(ptep);
		ptep_modify(ptep, _PAGE_ACCESSED, 0);
		pte_unmap_unlock(ptep, ptl);
	}
	flush_tlb_mm(p->mm);
}

/* khugepaged collapses small pages of a mapping that asked for THP into a
 * new THP; with a child sharing some of the pages, 5.8+ collapse while at
 * most 256 are shared (the child keeps its pages), and 4.14 does not
 * collapse a range with any shared page. */
static void test_khugepaged(void **state)
{
	static const struct {
		const char *policy;
		bool shared_ok;
	} cases[] = {{"linux-4.14", false}, {"linux-5.8", true}, {"linux-6.5", true}};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct thp_env e = small_pages_env(cases[i].policy, NULL, 0);
		struct cow_process *c;
		struct cow_task *ct;
		unsigned long n;

		assert_int_equal(cow_khugepaged(e.t, &n), 0);
		assert_int_equal(n, 1);
		assert_true(pages_are(e.t, e.a, HUGE, PMD_MAPPED));
		assert_true(mmt_holds(e.t, e.a, 0x11, HUGE));
		assert_quiet_system_ok(e.sys);
		thp_env_end(&e);

		/* 300 of the 512 pages are the parent's own: 212 shared. */
		e = small_pages_env(cases[i].policy, &c, 300);
		ct = mmt_task(c, 1);
		assert_int_equal(cow_khugepaged(e.t, &n), 0);
		assert_int_equal(n, cases[i].shared_ok);
		assert_true(pages_are(e.t, e.a, HUGE, cases[i].shared_ok ? PMD_MAPPED : 0));
		assert_true(mmt_holds(e.t, e.a, 0x33, 300 * PAGE_SIZE));
		assert_true(mmt_holds(e.t, e.a + 300 * PAGE_SIZE, 0x11, HUGE - 300 * PAGE_SIZE));
		assert_true(mmt_holds(ct, e.a, 0x11, HUGE));
		assert_true(pages_are(ct, e.a, HUGE, 0));
		assert_quiet_system_ok(e.sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		thp_env_end(&e);

		/* 100 of them: 412 shared, more than khugepaged takes. */
		e = small_pages_env(cases[i].policy, &c, 100);
		assert_int_equal(cow_khugepaged(e.t, &n), 0);
		assert_int_equal(n, 0);
		cow_process_exit(c);
		thp_env_end(&e);
	}
	/* No THP, no khugepaged. */
	struct thp_env e = thp_env("linux-2.6.29", HUGE);
	unsigned long n;

	assert_int_equal(cow_khugepaged(e.t, &n), COW_ENOTSUP);
	thp_env_end(&e);
}

/* khugepaged leaves a range no access used since the last look, one with
 * a pinned page (its references), a read-only one, and one of a mapping
 * that took back its THP advice or never asked for THP. */
static void test_khugepaged_leaves(void **state)
{
	struct thp_env e = small_pages_env("linux-6.5", NULL, 0);
	struct cow_pages *pin;
	unsigned long n, plain;

	(void)state;
	/* No page used since the last look: none worth a huge page. */
	clear_young(e.p, e.a, HUGE);
	assert_int_equal(cow_khugepaged(e.t, &n), 0);
	assert_int_equal(n, 0);
	assert_true(mmt_holds(e.t, e.a + 9 * PAGE_SIZE, 0x11, 8));
	assert_int_equal(
		cow_gup(e.t, e.a + 7 * PAGE_SIZE, PAGE_SIZE, COW_GUP_PIN | COW_GUP_LONGTERM, &pin),
		0);
	assert_int_equal(cow_khugepaged(e.t, &n), 0);
	assert_int_equal(n, 0);
	cow_pages_release(pin);
	assert_int_equal(cow_mprotect(e.t, e.a, HUGE, COW_PROT_READ), 0);
	assert_int_equal(cow_khugepaged(e.t, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cow_mprotect(e.t, e.a, HUGE, RW), 0);
	assert_int_equal(mmt_fill(e.t, e.a, 0x22, PAGE_SIZE), 0); /* a writable PTE again */
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_NOHUGEPAGE), 0);
	assert_int_equal(cow_khugepaged(e.t, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_HUGEPAGE), 0);
	assert_int_equal(cow_khugepaged(e.t, &n), 0);
	assert_int_equal(n, 1);
	assert_true(mmt_holds(e.t, e.a, 0x22, PAGE_SIZE));
	assert_true(mmt_holds(e.t, e.a + PAGE_SIZE, 0x11, HUGE - PAGE_SIZE));
	/* A mapping that never asked, then asks. */
	assert_int_equal(cow_mmap(e.t, 0, 2 * HUGE, RW, COW_MAP_PRIVATE, &plain), 0);
	plain = (plain + HUGE - 1) & ~(HUGE - 1);
	assert_int_equal(mmt_fill(e.t, plain, 0x44, HUGE), 0);
	assert_int_equal(cow_khugepaged(e.t, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cow_madvise(e.t, plain, HUGE, COW_MADV_HUGEPAGE), 0);
	assert_int_equal(cow_khugepaged(e.t, &n), 0);
	assert_int_equal(n, 1);
	assert_true(pages_are(e.t, plain, HUGE, PMD_MAPPED));
	assert_true(mmt_holds(e.t, plain, 0x44, HUGE));
	thp_env_end(&e);
}

/* ---- folio split and reclaim ---------------------------------------------- */

/* split_folio() with the lock and a reference, as reclaim calls it. */
static int split_at(struct thp_env *e, unsigned long a)
{
	struct page *head = folio_at(e->p, a);
	int err;

	get_page(head);
	lock_page(head);
	err = split_folio(e->sys, head);
	unlock_page(head);
	put_page(e->sys->pool, head);
	return err;
}

/* A PTE-mapped THP, part of it unmapped, splits into small pages: the
 * unmapped ones are freed (the frames munmap could not give back), the
 * rest stay mapped where they were, writable and exclusive, their data
 * whole; a PMD-mapped one splits its PMD first.  In every era with THP. */
static void test_split_folio(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(thp_policies); i++) {
		struct thp_env e = thp_env(thp_policies[i], 2 * HUGE);
		unsigned long before;

		assert_int_equal(mmt_fill(e.t, e.a, 0x11, 2 * HUGE), 0);
		assert_int_equal(cow_munmap(e.t, e.a + 8 * PAGE_SIZE, 8 * PAGE_SIZE), 0);
		assert_true(pages_are(e.t, e.a, 8 * PAGE_SIZE, PTE_MAPPED_THP));
		before = cow_system_free_frames(e.sys);
		assert_int_equal(split_at(&e, e.a), 0);
		/* The 8 pages nobody mapped, and the deposited table the PMD
		 * split gave back earlier is not among them. */
		assert_int_equal(cow_system_free_frames(e.sys), before + 8);
		assert_true(pages_are(e.t, e.a, 8 * PAGE_SIZE, 0));
		assert_true(pages_are(e.t, e.a + 16 * PAGE_SIZE, HUGE - 16 * PAGE_SIZE, 0));
		for (unsigned long off = 0; off < HUGE; off += 37 * PAGE_SIZE) {
			struct page *page;

			if (off >= 8 * PAGE_SIZE && off < 16 * PAGE_SIZE)
				continue;
			page = mmt_page(e.p, e.a + off);
			assert_true(pte_write(mmt_pte(e.p, e.a + off)));
			assert_true(PageFlag(page, PG_anon_exclusive));
			assert_int_equal(page_ref_count(page), 1);
			assert_int_equal(page_mapcount(page), 1);
		}
		assert_true(mmt_holds(e.t, e.a, 0x11, 8 * PAGE_SIZE));
		assert_true(mmt_holds(e.t, e.a + 16 * PAGE_SIZE, 0x11, HUGE - 16 * PAGE_SIZE));
		assert_quiet_system_ok(e.sys);
		/* The second 2 MiB, PMD-mapped: the PMD is split on the way. */
		assert_true(pages_are(e.t, e.a + HUGE, HUGE, PMD_MAPPED));
		assert_int_equal(split_at(&e, e.a + HUGE), 0);
		assert_true(pages_are(e.t, e.a + HUGE, HUGE, 0));
		assert_int_equal(mmt_fill(e.t, e.a + HUGE + 5 * PAGE_SIZE, 0x22, PAGE_SIZE), 0);
		assert_true(mmt_holds(e.t, e.a + HUGE + 4 * PAGE_SIZE, 0x11, PAGE_SIZE));
		thp_env_end(&e);
	}
}

/* A pinned THP is not split (can_split_folio): the call fails and leaves
 * it PMD-mapped, counts as they were.  Once unpinned, it splits. */
static void test_split_folio_refuses_pinned(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(thp_policies); i++) {
		struct thp_env e = thp_env(thp_policies[i], HUGE);
		struct cow_pages *pin;
		struct page *head;

		assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
		assert_int_equal(cow_gup(e.t, e.a + 3 * PAGE_SIZE, PAGE_SIZE,
					 COW_GUP_PIN | COW_GUP_WRITE | COW_GUP_LONGTERM, &pin),
				 0);
		head = folio_at(e.p, e.a);
		assert_int_equal(split_at(&e, e.a), COW_EBUSY);
		assert_true(pages_are(e.t, e.a, HUGE, PMD_MAPPED));
		assert_int_equal(page_ref_count(head), 2);
		assert_int_equal(atomic_read(&head->_pincount), 1);
		assert_quiet_system_ok(e.sys);
		cow_pages_release(pin);
		assert_int_equal(split_at(&e, e.a), 0);
		assert_true(pages_are(e.t, e.a, HUGE, 0));
		thp_env_end(&e);
	}
}

/* After fork both processes map the folio; the split maps each page in
 * both again, read-only and shared (mapcount 2, not exclusive), and the
 * next write copies as for any shared small page. */
static void test_split_folio_after_fork(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(thp_policies); i++) {
		struct thp_env e = thp_env(thp_policies[i], HUGE);
		struct cow_process *c;
		struct cow_task *ct;
		struct page *page;

		assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
		assert_int_equal(cow_fork(e.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_int_equal(split_at(&e, e.a), 0);
		assert_true(pages_are(e.t, e.a, HUGE, 0));
		assert_true(pages_are(ct, e.a, HUGE, 0));
		page = mmt_page(e.p, e.a + 9 * PAGE_SIZE);
		assert_ptr_equal(page, mmt_page(c, e.a + 9 * PAGE_SIZE));
		assert_int_equal(page_mapcount(page), 2);
		assert_int_equal(page_ref_count(page), 2);
		assert_false(PageFlag(page, PG_anon_exclusive));
		assert_false(pte_write(mmt_pte(e.p, e.a + 9 * PAGE_SIZE)));
		assert_int_equal(mmt_fill(e.t, e.a + 9 * PAGE_SIZE, 0x22, PAGE_SIZE), 0);
		assert_true(mmt_holds(ct, e.a + 9 * PAGE_SIZE, 0x11, PAGE_SIZE));
		assert_true(mmt_holds(e.t, e.a + 9 * PAGE_SIZE, 0x22, PAGE_SIZE));
		assert_quiet_system_ok(e.sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		thp_env_end(&e);
	}
}

/* MADV_PAGEOUT of a THP splits it and swaps every page out; the data
 * comes back on access.  A pinned one stays whole and in memory. */
static void test_swapout_splits_thp(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(thp_policies); i++) {
		struct thp_env e;
		struct cow_pages *pin;
		unsigned long free_before;

		e.sys = mmt_system_swap(thp_policies[i], FRAMES, 1024, 4);
		e.p = mmt_process(e.sys, "parent");
		e.t = mmt_task(e.p, 0);
		e.a = map_thp(e.t, HUGE);
		assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
		assert_int_equal(mmt_fill(e.t, e.a + 7 * PAGE_SIZE, 0x77, PAGE_SIZE), 0);
		assert_int_equal(cow_gup(e.t, e.a, PAGE_SIZE, COW_GUP_PIN | COW_GUP_WRITE, &pin),
				 0);
		assert_int_equal(cow_swapout(e.t, e.a, HUGE), 0);
		assert_true(pages_are(e.t, e.a, HUGE, PMD_MAPPED));
		cow_pages_release(pin);
		free_before = cow_system_free_frames(e.sys);
		assert_int_equal(cow_swapout(e.t, e.a, HUGE), 0);
		for (unsigned long off = 0; off < HUGE; off += PAGE_SIZE)
			assert_int_equal(cow_page_state(e.t, e.a + off), COW_PAGE_SWAPPED);
		assert_true(cow_system_free_frames(e.sys) >= free_before + HPAGE_PMD_NR);
		assert_true(mmt_holds(e.t, e.a + 7 * PAGE_SIZE, 0x77, PAGE_SIZE));
		assert_true(mmt_holds(e.t, e.a + 8 * PAGE_SIZE, 0x11, HUGE - 8 * PAGE_SIZE));
		thp_env_end(&e);
	}
}

/* Pages of [a, a + len) that are KSM pages. */
static unsigned long ksm_pages(struct cow_task *t, unsigned long a, unsigned long len)
{
	unsigned long n = 0;

	for (unsigned long off = 0; off < len; off += PAGE_SIZE)
		n += (cow_page_state(t, a + off) & COW_PAGE_KSM) != 0;
	return n;
}

/* KSM merges the pages of THPs, splitting each folio first
 * (try_to_merge_one_page).  Two pages of one folio cannot merge with each
 * other in the pass that meets them (each holds the folio against the
 * other's split): the folio is split after the attempt
 * (cmp_and_merge_page), and its second page merges on the next pass.  A
 * pinned THP is never split, so none of its pages merge, and the pin
 * still sees the process's writes. */
static void test_ksm_splits_thp(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(thp_policies); i++) {
		struct thp_env e = thp_env(thp_policies[i], 2 * HUGE);
		unsigned long b = e.a + HUGE, merged;
		struct cow_pages *pin;
		unsigned char byte;

		assert_int_equal(cow_madvise(e.t, e.a, 2 * HUGE, COW_MADV_MERGEABLE), 0);
		assert_int_equal(mmt_fill(e.t, e.a, 0x11, 2 * HUGE), 0);
		assert_int_equal(cow_ksm_merge(e.t, &merged), 0);
		assert_int_equal(ksm_pages(e.t, e.a, 2 * HUGE), 2 * HPAGE_PMD_NR - 1);
		assert_int_equal(ksm_pages(e.t, e.a + PAGE_SIZE, PAGE_SIZE), 0);
		assert_int_equal(cow_ksm_merge(e.t, &merged), 0);
		assert_int_equal(ksm_pages(e.t, e.a, 2 * HUGE), 2 * HPAGE_PMD_NR);
		assert_true(pages_are(e.t, e.a, 2 * HUGE, 0));
		assert_int_equal(mmt_fill(e.t, b, 0x22, PAGE_SIZE), 0);
		assert_true(mmt_holds(e.t, e.a, 0x11, HUGE));
		assert_quiet_system_ok(e.sys);
		assert_int_equal(cow_munmap(e.t, e.a, 2 * HUGE), 0);

		/* A pinned THP, and beside it one that merges. */
		e.a = map_thp(e.t, 2 * HUGE);
		b = e.a + HUGE;
		assert_int_equal(cow_madvise(e.t, e.a, 2 * HUGE, COW_MADV_MERGEABLE), 0);
		assert_int_equal(mmt_fill(e.t, e.a, 0x33, HUGE), 0);
		assert_int_equal(mmt_fill(e.t, b, 0x55, HUGE), 0);
		assert_int_equal(cow_gup(e.t, e.a + 3 * PAGE_SIZE, PAGE_SIZE,
					 COW_GUP_PIN | COW_GUP_WRITE | COW_GUP_LONGTERM, &pin),
				 0);
		assert_int_equal(cow_ksm_merge(e.t, &merged), 0);
		assert_int_equal(cow_ksm_merge(e.t, &merged), 0);
		assert_int_equal(ksm_pages(e.t, e.a, HUGE), 0);
		assert_true(pages_are(e.t, e.a, HUGE, PTE_MAPPED_THP));
		assert_int_equal(ksm_pages(e.t, b, HUGE), HPAGE_PMD_NR);
		assert_int_equal(mmt_fill(e.t, e.a + 3 * PAGE_SIZE, 0x44, PAGE_SIZE), 0);
		cow_pages_read(pin, 0, &byte, 1);
		assert_int_equal(byte, 0x44);
		assert_quiet_system_ok(e.sys);
		cow_pages_release(pin);
		thp_env_end(&e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_maps_huge_pmd),
		cmocka_unit_test(test_fault_falls_back_without_a_block),
		cmocka_unit_test(test_fork_shares_then_splits_on_write),
		cmocka_unit_test(test_reuse_after_the_child_exits),
		cmocka_unit_test(test_vmsplice_leak_by_era),
		cmocka_unit_test(test_pinned_thp_is_split_at_fork),
		cmocka_unit_test(test_partial_munmap_and_mprotect_split),
		cmocka_unit_test(test_vma_split_splits_the_pmd),
		cmocka_unit_test(test_split_needs_no_memory),
		cmocka_unit_test(test_forced_write_into_prot_none),
		cmocka_unit_test(test_gup_and_gup_fast_through_a_pmd),
		cmocka_unit_test(test_collapse_pte_mapped_thp),
		cmocka_unit_test(test_collapse_small_pages_unless_pinned),
		cmocka_unit_test(test_collapse_after_fork_lower_shared),
		cmocka_unit_test(test_checker_sees_folio_counts),
		cmocka_unit_test(test_fork_races_writer_explore),
		cmocka_unit_test(test_huge_zero_page),
		cmocka_unit_test(test_huge_copy_before_5_8),
		cmocka_unit_test(test_read_gup_dirties_huge_pmd_before_4_15),
		cmocka_unit_test(test_khugepaged),
		cmocka_unit_test(test_khugepaged_leaves),
		cmocka_unit_test(test_split_folio),
		cmocka_unit_test(test_split_folio_refuses_pinned),
		cmocka_unit_test(test_split_folio_after_fork),
		cmocka_unit_test(test_swapout_splits_thp),
		cmocka_unit_test(test_ksm_splits_thp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
