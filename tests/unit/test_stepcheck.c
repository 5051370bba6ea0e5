/*
 * Tests of the step checker (system_check_touched in src/mm/check.c): it
 * passes where the full check passes, after real work it did not watch
 * (a full scan), and it finds each kind of damage once the access that
 * did it is in its log, naming the rule the full check names.  Without
 * the access in the log it does not look, which is the premise its
 * comment states (every change to what the invariants read is logged);
 * the full check still finds the damage then.
 *
 * The damage is done by hand, behind the memory manager's back, on a
 * small system under linux-6.5 (PG_anon_exclusive, so S4 applies).
 */
#include "mmtest.h"

#define FRAMES 64

struct sc {
	struct cow_system *sys;
	struct cow_process *p;
	struct cow_task *t;
	unsigned long a; /* 4 pages, written */
	char msg[512];
};

static struct sc sc_new(void)
{
	struct sc c = {0};
	char msg[512];

	c.sys = mmt_system("linux-6.5", FRAMES, 2, true);
	c.p = mmt_process(c.sys, "p");
	c.t = mmt_task(c.p, 0);
	c.a = mmt_map(c.t, 4, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	assert_int_equal(mmt_fill(c.t, c.a, 0x11, 4 * PAGE_SIZE), 0);
	/* The first call scans everything and keeps its copies. */
	if (system_check_touched(c.sys, NULL, 0, msg, sizeof(msg)) != 0)
		fail_msg("first check: %s", msg);
	return c;
}

static void sc_free(struct sc *c)
{
	cow_task_destroy(c->t);
	cow_process_exit(c->p);
	cow_system_destroy(c->sys);
}

/* The step check of one logged access. */
static int touched(struct sc *c, enum sync_op op, const void *obj)
{
	struct sync_touch t = {op, obj};

	c->msg[0] = '\0';
	return system_check_touched(c->sys, &t, 1, c->msg, sizeof(c->msg));
}

static void assert_found(struct sc *c, int err, const char *rule)
{
	if (err != COW_ECORRUPT && err != COW_EOVERWRITE)
		fail_msg("the step check passed; want %s", rule);
	if (!strstr(c->msg, rule))
		fail_msg("the step check says '%s'; want %s", c->msg, rule);
}

static void assert_full_finds(struct sc *c, const char *rule)
{
	char msg[512];

	if (system_check(c->sys, false, msg, sizeof(msg)) == 0 || !strstr(msg, rule))
		fail_msg("the full check says '%s'; want %s", msg, rule);
}

/* Healthy work it did not watch: a fork, writes on both sides, an unmap.
 * A NULL log means "anything changed": a full scan, which passes. */
static void test_passes_after_unwatched_work(void **state)
{
	struct sc c = sc_new();
	struct sync_touch none = {SYNC_YIELD, NULL};
	struct cow_process *child;
	struct cow_task *ct;

	(void)state;
	assert_int_equal(cow_fork(c.t, "child", &child), 0);
	ct = mmt_task(child, 1);
	assert_int_equal(mmt_fill(ct, c.a, 0x22, PAGE_SIZE), 0);
	assert_int_equal(mmt_fill(c.t, c.a + PAGE_SIZE, 0x33, PAGE_SIZE), 0);
	assert_int_equal(cow_munmap(c.t, c.a + 3 * PAGE_SIZE, PAGE_SIZE), 0);
	if (system_check_touched(c.sys, NULL, 0, c.msg, sizeof(c.msg)) != 0)
		fail_msg("after a fork: %s", c.msg);
	/* Nothing logged, nothing changed: still passes. */
	assert_int_equal(system_check_touched(c.sys, &none, 0, c.msg, sizeof(c.msg)), 0);
	cow_task_destroy(ct);
	cow_process_exit(child);
	sc_free(&c);
}

/* A GUP reference counted without its page reference: S3 once the
 * count's word is logged, not before. */
static void test_gup_count_without_reference(void **state)
{
	struct sc c = sc_new();
	unsigned long pfn = page_to_pfn(c.sys->pool, mmt_page(c.p, c.a));
	struct sync_touch other = {SYNC_RMW, &c};

	(void)state;
	atomic_inc(&c.sys->ext_refs[pfn]);
	/* An access to a word the invariants do not read: not looked at. */
	assert_int_equal(system_check_touched(c.sys, &other, 1, c.msg, sizeof(c.msg)), 0);
	assert_full_finds(&c, "(S3)");
	assert_found(&c, touched(&c, SYNC_RMW, &c.sys->ext_refs[pfn]), "(S3)");
	atomic_dec(&c.sys->ext_refs[pfn]);
	sc_free(&c);
}

/* A mapcount one too high with no PT lock held: S2 (exact). */
static void test_mapcount_high(void **state)
{
	struct sc c = sc_new();
	struct page *page = mmt_page(c.p, c.a + PAGE_SIZE);

	(void)state;
	atomic_inc(&page->_mapcount);
	assert_found(&c, touched(&c, SYNC_RMW, &page->_mapcount), "(S2)");
	atomic_dec(&page->_mapcount);
	sc_free(&c);
}

/* A PTE rewritten to map a free frame: P4, found from the table's store. */
static void test_pte_to_free_frame(void **state)
{
	struct sc c = sc_new();
	pte_t pte, *ptep = pgtable_walk_lockless(&c.p->mm->pgt, c.a, &pte);
	struct page *spare = alloc_page(c.sys->pool, 0);
	unsigned long pfn = page_to_pfn(c.sys->pool, spare);

	(void)state;
	put_page(c.sys->pool, spare); /* free again */
	assert_non_null(ptep);
	set_pte(ptep, pfn_pte(pfn, PAGE_READWRITE));
	assert_found(&c, touched(&c, SYNC_WRITE, ptep), "(P4)");
	set_pte(ptep, pte);
	sc_free(&c);
}

/* A mapped page's last reference dropped under its PTE: P4 from the
 * frame's side (the PTE did not change; the page's count did). */
static void test_mapped_frame_freed(void **state)
{
	struct sc c = sc_new();
	struct page *page = mmt_page(c.p, c.a + 2 * PAGE_SIZE);
	int ref = atomic_read(&page->_refcount);

	(void)state;
	atomic_set(&page->_refcount, 0);
	assert_found(&c, touched(&c, SYNC_WRITE, &page->_refcount), "(P4)");
	atomic_set(&page->_refcount, ref);
	sc_free(&c);
}

/* S4 both ways: an exclusive page loses PG_anon_exclusive while mapped
 * writable (found from the page), and a shared page's PTE is made
 * writable under its PT lock (found from the lock's release). */
static void test_writable_shared_page(void **state)
{
	struct sc c = sc_new();
	struct page *page = mmt_page(c.p, c.a);
	struct cow_process *child;
	pte_t pte, *ptep;
	spinlock_t *ptl;

	(void)state;
	ClearPageFlag(page, PG_anon_exclusive);
	assert_found(&c, touched(&c, SYNC_RMW, &page->flags), "(S4)");
	SetPageFlag(page, PG_anon_exclusive);
	assert_int_equal(system_check_touched(c.sys, NULL, 0, c.msg, sizeof(c.msg)), 0);

	/* After a fork the page is shared and its PTE read-only. */
	assert_int_equal(cow_fork(c.t, "child", &child), 0);
	assert_int_equal(system_check_touched(c.sys, NULL, 0, c.msg, sizeof(c.msg)), 0);
	ptep = pte_offset_map_lock(&c.p->mm->pgt, c.a, &ptl);
	assert_non_null(ptep);
	pte = ptep_get(ptep);
	assert_false(pte_write(pte));
	set_pte(ptep, pte_mkwrite(pte));
	/* Under the lock the rule is not applied yet ... */
	assert_int_equal(touched(&c, SYNC_LOCK, ptl), 0);
	pte_unmap_unlock(ptep, ptl);
	/* ... and at the release it is. */
	assert_found(&c, touched(&c, SYNC_UNLOCK, ptl), "(S4)");
	set_pte(ptep, pte);
	cow_process_exit(child);
	sc_free(&c);
}

/* An allocated frame put on the free list's bitmap: F1, from the pool. */
static void test_free_list_damage(void **state)
{
	struct sc c = sc_new();
	struct frame_pool *pool = c.sys->pool;
	unsigned long pfn = page_to_pfn(pool, mmt_page(c.p, c.a));

	(void)state;
	pool->free_map[pfn / FRAME_MAP_BITS] |= 1UL << (pfn % FRAME_MAP_BITS);
	assert_found(&c, touched(&c, SYNC_WRITE, &pool->free_map[pfn / FRAME_MAP_BITS]), "(F1)");
	pool->free_map[pfn / FRAME_MAP_BITS] &= ~(1UL << (pfn % FRAME_MAP_BITS));
	sc_free(&c);
}

/* The zero page written by a device: S5 after any device step. */
static void test_zero_page_written(void **state)
{
	struct cow_system *sys = mmt_system("linux-6.5", FRAMES, 2, true);
	unsigned char *z;
	struct sync_touch dev = {SYNC_DEVICE, NULL};
	char msg[512];

	(void)state;
	assert_non_null(sys->zero_page);
	assert_int_equal(system_check_touched(sys, NULL, 0, msg, sizeof(msg)), 0);
	z = page_address(sys->pool, sys->zero_page);
	z[100] = 0x5a;
	assert_int_equal(system_check_touched(sys, &dev, 1, msg, sizeof(msg)), COW_EOVERWRITE);
	assert_non_null(strstr(msg, "(S5)"));
	z[100] = 0;
	cow_system_destroy(sys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passes_after_unwatched_work),
		cmocka_unit_test(test_gup_count_without_reference),
		cmocka_unit_test(test_mapcount_high),
		cmocka_unit_test(test_pte_to_free_frame),
		cmocka_unit_test(test_mapped_frame_freed),
		cmocka_unit_test(test_writable_shared_page),
		cmocka_unit_test(test_free_list_damage),
		cmocka_unit_test(test_zero_page_written),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
