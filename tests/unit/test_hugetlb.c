/*
 * Tests of hugetlb (src/mm/hugetlb.c with page.c's pool, vma.c, fork.c
 * and gup.c): the pool and mmap's reservations, the huge PMD a fault
 * maps, the write fault's reuse rule of each era (matrix row 8, the
 * vmsplice leak Linux still accepts for hugetlb), SIGBUS when no page is
 * spare and the owner taking its page back from a child, fork's early
 * copy of a pinned huge page (5.12), GUP and gup-fast through a hugetlb
 * PMD, aligned munmap, mprotect and MADV_DONTNEED, and the checker's
 * account of the pool.
 */
#include "mmtest.h"

#define FRAMES 4096
#define HUGE (HPAGE_PMD_NR * PAGE_SIZE)
#define RW (COW_PROT_READ | COW_PROT_WRITE)

#define assert_quiet_system_ok(sys)    \
	do {                           \
		rcu_barrier();         \
		assert_system_ok(sys); \
	} while (0)

struct env {
	struct cow_system *sys;
	struct cow_process *p;
	struct cow_task *t;
	unsigned long a;
};

static struct cow_system *hugetlb_system(const char *policy, unsigned long hugepages)
{
	struct cow_system_opts o = {FRAMES, 4, policy, true};
	struct cow_system *sys;

	o.hugepages = hugepages;
	assert_int_equal(cow_system_create(&o, &sys), 0);
	return sys;
}

/* A system with a pool of hugepages and a process with len bytes of
 * hugetlb mapped. */
static struct env env(const char *policy, unsigned long hugepages, unsigned long len)
{
	struct env e;

	e.sys = hugetlb_system(policy, hugepages);
	e.p = mmt_process(e.sys, "parent");
	e.t = mmt_task(e.p, 0);
	assert_int_equal(cow_mmap(e.t, 0, len, RW, COW_MAP_PRIVATE | COW_MAP_HUGETLB, &e.a), 0);
	assert_int_equal(e.a % HUGE, 0);
	return e;
}

static void env_end(struct env *e)
{
	assert_quiet_system_ok(e->sys);
	cow_task_destroy(e->t);
	cow_process_exit(e->p);
	assert_all_frames_free(e->sys, FRAMES);
	cow_system_destroy(e->sys);
}

static struct page *head_at(struct cow_process *p, unsigned long a)
{
	pte_t e = mmt_pte(p, a);

	assert_true(pte_present(e) && pmd_trans_huge(e));
	return pfn_to_page(p->sys->pool, pte_pfn(e));
}

/* The pool is set aside at creation; mmap reserves a page per 2 MiB and
 * fails when the pool cannot promise them; munmap gives back what was
 * never faulted; a free huge page counts as free memory. */
static void test_pool_and_reservations(void **state)
{
	struct env e = env("linux-6.5", 3, 2 * HUGE);
	unsigned long b, c;

	(void)state;
	assert_int_equal(hugetlb_pool_nr_free(e.sys->pool), 3);
	assert_int_equal(e.sys->pool->resv_huge, 2);
	assert_int_equal(cow_system_free_frames(e.sys),
			 frame_pool_nr_free(e.sys->pool) + 3 * HPAGE_PMD_NR);
	/* One page is left unpromised. */
	assert_int_equal(cow_mmap(e.t, 0, 2 * HUGE, RW, COW_MAP_PRIVATE | COW_MAP_HUGETLB, &b),
			 COW_ENOMEM);
	assert_int_equal(cow_mmap(e.t, 0, 1, RW, COW_MAP_PRIVATE | COW_MAP_HUGETLB, &b), 0);
	assert_int_equal(e.sys->pool->resv_huge, 3);
	/* A fault consumes its reservation. */
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, PAGE_SIZE), 0);
	assert_int_equal(hugetlb_pool_nr_free(e.sys->pool), 2);
	assert_int_equal(e.sys->pool->resv_huge, 2);
	/* Not 2 MiB aligned: neither an address nor a split. */
	assert_int_equal(cow_mmap(e.t, b + HUGE + PAGE_SIZE, HUGE, RW,
				  COW_MAP_PRIVATE | COW_MAP_HUGETLB, &c),
			 COW_EINVAL);
	assert_int_equal(cow_munmap(e.t, e.a + PAGE_SIZE, PAGE_SIZE), COW_EINVAL);
	assert_int_equal(cow_mprotect(e.t, e.a, PAGE_SIZE, COW_PROT_READ), COW_EINVAL);
	/* munmap of the unfaulted half gives its reservation back. */
	assert_int_equal(cow_munmap(e.t, e.a + HUGE, HUGE), 0);
	assert_int_equal(e.sys->pool->resv_huge, 1);
	assert_int_equal(cow_munmap(e.t, b, HUGE), 0);
	assert_int_equal(e.sys->pool->resv_huge, 0);
	assert_true(mmt_holds(e.t, e.a, 0x11, PAGE_SIZE));
	/* Neither THP nor KSM advice changes a hugetlb mapping. */
	assert_int_equal(cow_madvise(e.t, e.a, HUGE, COW_MADV_MERGEABLE), 0);
	assert_int_equal(find_vma(e.p->mm, e.a)->vm_flags & VM_MERGEABLE, 0);
	env_end(&e);
}

/* A read fault maps a zeroed huge page read-only by one PMD; the first
 * write reuses it.  2.4 has no hugetlb: small pages. */
static void test_fault_maps_a_huge_pmd(void **state)
{
	struct env e = env("linux-6.5", 1, HUGE);
	struct page *head;
	int st;

	(void)state;
	assert_true(mmt_holds(e.t, e.a + 12345, 0, 100));
	head = head_at(e.p, e.a);
	assert_false(pte_write(mmt_pte(e.p, e.a)));
	st = cow_page_state(e.t, e.a + 300 * PAGE_SIZE);
	assert_int_equal(st & (COW_PAGE_HUGE | COW_PAGE_HUGETLB | COW_PAGE_LARGE),
			 COW_PAGE_HUGE | COW_PAGE_HUGETLB);
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
	assert_ptr_equal(head_at(e.p, e.a), head);
	assert_true(pte_write(mmt_pte(e.p, e.a)));
	assert_true(PageFlag(head, PG_hugetlb));
	assert_int_equal(page_ref_count(head), 1);
	assert_int_equal(folio_entire_mapcount(head), 1);
	assert_true(PageFlag(head + 300, PG_anon_exclusive));
	assert_true(mmt_holds(e.t, e.a, 0x11, HUGE));
	env_end(&e);

	e = env("linux-2.4", 1, HUGE);
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, 4 * PAGE_SIZE), 0);
	assert_int_equal(cow_page_state(e.t, e.a) & (COW_PAGE_HUGE | COW_PAGE_HUGETLB), 0);
	assert_int_equal(hugetlb_pool_nr_free(e.sys->pool), 1);
	env_end(&e);
}

/* Matrix row 8: after fork the child takes a read-only GUP reference
 * (vmsplice) on a huge page it shares with the parent and unmaps it; the
 * parent writes.  A mapcount rule reuses the page the pipe holds (2.6.36
 * to this day), no COW at all shares it (before 2.6.16); a page_count
 * rule (2.6.16 .. 2.6.35), 5.8's COW break in GUP and the forkfix's
 * de-COW in GUP keep the pipe's page the child's. */
static void test_vmsplice_leak_by_era(void **state)
{
	static const struct {
		const char *policy;
		bool leaks;
	} cases[] = {
		{"linux-2.4", false},	 {"linux-2.6.7", true},	       {"linux-2.6.13", true},
		{"linux-2.6.29", false}, {"forkfix-2009", false},      {"pagecount-2009", false},
		{"linux-5.8", false},	 {"linux-5.9", true},	       {"linux-5.18", true},
		{"linux-6.5", true},	 {"broken-always-reuse", true}};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct env e = env(cases[i].policy, 2, HUGE);
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
		env_end(&e);
	}
}

/* Plain COW after fork, each side keeps its data, by era; before 2.6.16
 * the child sees the parent's write (no COW for hugetlb). */
static void test_cow_after_fork(void **state)
{
	static const char *const policies[] = {"linux-2.6.7", "linux-2.6.29", "linux-5.9",
					       "linux-6.5"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		struct env e = env(policies[i], 2, HUGE);
		bool shared = strcmp(policies[i], "linux-2.6.7") == 0;
		struct cow_process *c;
		struct cow_task *ct;

		assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
		assert_int_equal(cow_fork(e.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_int_equal(pte_write(mmt_pte(e.p, e.a)), shared);
		assert_int_equal(mmt_fill(e.t, e.a + 5 * PAGE_SIZE, 0x22, PAGE_SIZE), 0);
		assert_int_equal(mmt_byte(ct, e.a + 5 * PAGE_SIZE), shared ? 0x22 : 0x11);
		assert_int_equal(mmt_fill(ct, e.a + 9 * PAGE_SIZE, 0x33, PAGE_SIZE), 0);
		assert_int_equal(mmt_byte(e.t, e.a + 9 * PAGE_SIZE), shared ? 0x33 : 0x11);
		assert_int_equal(hugetlb_pool_nr_free(e.sys->pool), shared ? 1 : 0);
		assert_quiet_system_ok(e.sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		env_end(&e);
	}
}

/* One huge page in the pool, shared after fork: the child (no
 * reservations) cannot copy and gets SIGBUS; the owner takes the page
 * away from the child and reuses it, and the child's next access gets
 * SIGBUS.  With a spare page both copy. */
static void test_sigbus_without_a_spare_page(void **state)
{
	(void)state;
	for (int spare = 0; spare < 2; spare++) {
		struct env e = env("linux-6.5", 1 + spare, HUGE);
		struct cow_process *c;
		struct cow_task *ct;
		struct page *head;

		assert_int_equal(mmt_fill(e.t, e.a, 0x11, HUGE), 0);
		head = head_at(e.p, e.a);
		assert_int_equal(cow_fork(e.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_int_equal(mmt_fill(ct, e.a, 0x33, PAGE_SIZE), spare ? 0 : COW_ESIGBUS);
		assert_int_equal(mmt_fill(e.t, e.a, 0x22, PAGE_SIZE), 0);
		assert_true(mmt_holds(e.t, e.a, 0x22, PAGE_SIZE));
		if (spare) {
			/* The child copied; the parent is alone and reuses. */
			assert_ptr_equal(head_at(e.p, e.a), head);
			assert_true(mmt_holds(ct, e.a, 0x33, PAGE_SIZE));
			assert_true(mmt_holds(ct, e.a + PAGE_SIZE, 0x11, PAGE_SIZE));
		} else {
			assert_ptr_equal(head_at(e.p, e.a), head);
			assert_int_equal(mmt_pte(c, e.a), 0);
			assert_int_equal(cow_read(ct, e.a, &(char){0}, 1), COW_ESIGBUS);
		}
		assert_quiet_system_ok(e.sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		env_end(&e);
	}
}

/* A pinned huge page at fork: from 5.12 (presets 5.18+) the child gets a
 * copy and the parent keeps its page writable, so the pin sees the
 * parent's writes; 5.11 shares it, and the parent's write copies away
 * from the pin. */
static void test_fork_copies_a_pinned_page(void **state)
{
	static const struct {
		const char *policy;
		bool pin_follows;
	} cases[] = {{"linux-5.11", false}, {"linux-5.18", true}, {"linux-6.5", true}};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct env e = env(cases[i].policy, 2, HUGE);
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
		assert_int_equal(pte_write(mmt_pte(e.p, e.a)), cases[i].pin_follows);
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
		env_end(&e);
	}
}

/* GUP and gup-fast take the subpage of a hugetlb PMD and count a pin in
 * the folio's pincount; the pages are the process's. */
static void test_gup_and_gup_fast(void **state)
{
	struct env e = env("linux-6.5", 1, HUGE);
	struct cow_pages *fast, *slow;
	struct page *head;
	unsigned char buf[2];

	(void)state;
	for (unsigned long k = 0; k < HPAGE_PMD_NR; k += 100)
		assert_int_equal(
			cow_write(e.t, e.a + k * PAGE_SIZE, &(unsigned char){(unsigned char)k}, 1),
			0);
	head = head_at(e.p, e.a);
	assert_int_equal(cow_gup(e.t, e.a + 300 * PAGE_SIZE, PAGE_SIZE,
				 COW_GUP_FAST | COW_GUP_PIN | COW_GUP_WRITE, &fast),
			 0);
	assert_int_equal(cow_gup(e.t, e.a + 500 * PAGE_SIZE, PAGE_SIZE, 0, &slow), 0);
	assert_int_equal(atomic_read(&head->_pincount), 1);
	assert_int_equal(page_ref_count(head), 3);
	cow_pages_read(fast, 0, &buf[0], 1);
	cow_pages_read(slow, 0, &buf[1], 1);
	assert_int_equal(buf[0], 300 % 256);
	assert_int_equal(buf[1], 500 % 256);
	cow_pages_write(fast, 1, "Z", 1);
	assert_int_equal(mmt_byte(e.t, e.a + 300 * PAGE_SIZE + 1), 'Z');
	assert_quiet_system_ok(e.sys);
	cow_pages_release(fast);
	cow_pages_release(slow);
	assert_int_equal(page_ref_count(head), 1);
	env_end(&e);
}

/* mprotect write-protects the huge PMD and the next write reuses the
 * page; MADV_DONTNEED of whole huge pages frees them to the pool (a
 * refault reads zeroes), and wants an aligned start. */
static void test_mprotect_and_dontneed(void **state)
{
	struct env e = env("linux-6.5", 2, 2 * HUGE);
	struct page *head;

	(void)state;
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, 2 * HUGE), 0);
	head = head_at(e.p, e.a);
	assert_int_equal(cow_mprotect(e.t, e.a, 2 * HUGE, COW_PROT_READ), 0);
	assert_false(pte_write(mmt_pte(e.p, e.a)));
	assert_int_equal(mmt_fill(e.t, e.a, 0x22, PAGE_SIZE), COW_EFAULT);
	assert_int_equal(cow_mprotect(e.t, e.a, 2 * HUGE, RW), 0);
	assert_false(pte_write(mmt_pte(e.p, e.a)));
	assert_int_equal(mmt_fill(e.t, e.a, 0x22, PAGE_SIZE), 0);
	assert_ptr_equal(head_at(e.p, e.a), head);
	assert_int_equal(cow_madvise(e.t, e.a + PAGE_SIZE, HUGE, COW_MADV_DONTNEED), COW_EINVAL);
	/* The end is rounded down: only the first huge page goes. */
	assert_int_equal(cow_madvise(e.t, e.a, HUGE + PAGE_SIZE, COW_MADV_DONTNEED), 0);
	assert_int_equal(mmt_pte(e.p, e.a), 0);
	assert_int_equal(hugetlb_pool_nr_free(e.sys->pool), 1);
	assert_true(mmt_holds(e.t, e.a + HUGE, 0x11, PAGE_SIZE));
	/* Its reservation was consumed: the refault takes the free page. */
	assert_true(mmt_holds(e.t, e.a, 0, PAGE_SIZE));
	assert_int_equal(hugetlb_pool_nr_free(e.sys->pool), 0);
	env_end(&e);
}

/* A shared hugetlb mapping: one page for parent and child, written by
 * both without a copy; MADV_DONTNEED drops the mapping, not the page,
 * which stays with the mapping until its last VMA goes; mprotect takes
 * the write bit and the next write gives it back, no copy either. */
static void test_shared_mapping(void **state)
{
	struct cow_system *sys = hugetlb_system("linux-6.5", 2);
	struct cow_process *p = mmt_process(sys, "parent"), *c;
	struct cow_task *t = mmt_task(p, 0), *ct;
	struct page *head;
	unsigned long a;

	(void)state;
	assert_int_equal(cow_mmap(t, 0, HUGE, RW, COW_MAP_SHARED | COW_MAP_HUGETLB, &a), 0);
	assert_int_equal(sys->pool->resv_huge, 1);
	assert_int_equal(mmt_fill(t, a, 0x11, HUGE), 0);
	assert_int_equal(sys->pool->resv_huge, 0);
	head = head_at(p, a);
	assert_false(PageFlag(head, PG_anon));
	assert_int_equal(cow_page_state(t, a) & (COW_PAGE_HUGETLB | COW_PAGE_EXCLUSIVE),
			 COW_PAGE_HUGETLB);
	assert_int_equal(cow_fork(t, "child", &c), 0);
	ct = mmt_task(c, 1);
	assert_ptr_equal(head_at(c, a), head);
	assert_true(pte_write(mmt_pte(p, a)));
	assert_int_equal(page_ref_count(head), 3); /* the file and two PMDs */
	assert_int_equal(mmt_fill(ct, a, 0x22, PAGE_SIZE), 0);
	assert_true(mmt_holds(t, a, 0x22, PAGE_SIZE));
	assert_int_equal(mmt_fill(t, a + PAGE_SIZE, 0x33, PAGE_SIZE), 0);
	assert_true(mmt_holds(ct, a + PAGE_SIZE, 0x33, PAGE_SIZE));
	assert_int_equal(cow_madvise(t, a, HUGE, COW_MADV_DONTNEED), 0);
	assert_int_equal(mmt_pte(p, a), 0);
	assert_int_equal(hugetlb_pool_nr_free(sys->pool), 1);
	assert_true(mmt_holds(t, a, 0x22, PAGE_SIZE));
	assert_ptr_equal(head_at(p, a), head);
	assert_int_equal(cow_mprotect(t, a, HUGE, COW_PROT_READ), 0);
	assert_int_equal(mmt_fill(t, a, 0x44, PAGE_SIZE), COW_EFAULT);
	assert_int_equal(cow_mprotect(t, a, HUGE, RW), 0);
	assert_int_equal(mmt_fill(t, a, 0x44, PAGE_SIZE), 0);
	assert_ptr_equal(head_at(p, a), head);
	assert_true(mmt_holds(ct, a, 0x44, PAGE_SIZE));
	assert_quiet_system_ok(sys);
	/* The page stays while the child maps it, then goes back. */
	assert_int_equal(cow_munmap(t, a, HUGE), 0);
	assert_int_equal(hugetlb_pool_nr_free(sys->pool), 1);
	cow_task_destroy(ct);
	cow_process_exit(c);
	assert_int_equal(hugetlb_pool_nr_free(sys->pool), 2);
	assert_int_equal(sys->pool->resv_huge, 0);
	/* Three huge pages are more than the pool has. */
	assert_int_equal(cow_mmap(t, 0, 3 * HUGE, RW, COW_MAP_SHARED | COW_MAP_HUGETLB, &a),
			 COW_ENOMEM);
	assert_quiet_system_ok(sys);
	cow_task_destroy(t);
	cow_process_exit(p);
	assert_all_frames_free(sys, FRAMES);
	cow_system_destroy(sys);
}

/* The checker accounts for the pool: a free huge page lost from the
 * count, or promised beyond the free ones, fails it (F6). */
static void test_checker_sees_the_pool(void **state)
{
	struct env e = env("linux-6.5", 2, HUGE);
	struct frame_pool *pool = e.sys->pool;
	char msg[256];

	(void)state;
	assert_int_equal(mmt_fill(e.t, e.a, 0x11, PAGE_SIZE), 0);
	assert_quiet_system_ok(e.sys);
	pool->nr_huge_free--;
	assert_int_equal(cow_system_check(e.sys, 1, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "(F6)"));
	pool->nr_huge_free++;
	pool->resv_huge += 2;
	assert_int_equal(cow_system_check(e.sys, 1, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "(F6)"));
	pool->resv_huge -= 2;
	/* A mapped huge page's reference nobody holds (S3). */
	atomic_inc(&head_at(e.p, e.a)->_refcount);
	assert_int_equal(cow_system_check(e.sys, 1, msg, sizeof(msg)), COW_ECORRUPT);
	if (!strstr(msg, "(S3)"))
		fail_msg("%s", msg);
	atomic_dec(&head_at(e.p, e.a)->_refcount);
	env_end(&e);
}

/* ---- fork races a writer of a hugetlb page, under the explorer ------------------------ */

#define RACE_NAME "hugetlb-fork-writer-6.5"

static struct cow_system *race_system(void)
{
	return hugetlb_system("linux-6.5", 2);
}

static unsigned long race_map(struct cow_task *t)
{
	unsigned long a;

	assert_int_equal(cow_mmap(t, 0, HUGE, RW, COW_MAP_PRIVATE | COW_MAP_HUGETLB, &a), 0);
	return a;
}

#include "fork_writer_race.h"

static void test_fork_races_writer_explore(void **state)
{
	(void)state;
	assert_explore_clean(&race_prog, 1, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_and_reservations),
		cmocka_unit_test(test_fault_maps_a_huge_pmd),
		cmocka_unit_test(test_vmsplice_leak_by_era),
		cmocka_unit_test(test_cow_after_fork),
		cmocka_unit_test(test_sigbus_without_a_spare_page),
		cmocka_unit_test(test_fork_copies_a_pinned_page),
		cmocka_unit_test(test_gup_and_gup_fast),
		cmocka_unit_test(test_mprotect_and_dontneed),
		cmocka_unit_test(test_shared_mapping),
		cmocka_unit_test(test_checker_sees_the_pool),
		cmocka_unit_test(test_fork_races_writer_explore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
