/*
 * Tests of src/mm/check.c: the validators pass on healthy structures and
 * report COW_ECORRUPT, naming the frame and the rule, for each kind of
 * damage done to a frame pool or a page-table tree on purpose.  The
 * damage is done by hand, behind the allocator's back, so each test works
 * on its own small pool and repairs or discards it afterwards.
 */
#include "testutil.h"

#include "mm/page.h"
#include "mm/pgtable.h"

#define FRAMES 256

struct fixture {
	struct frame_pool *pool;
	struct pgtable pgt;
	struct page *data;
	char msg[256];
};

static struct fixture *fixture_new(int cpus)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(frame_pool_create(&fx->pool, FRAMES, cpus), 0);
	assert_int_equal(pgtable_init(&fx->pgt, fx->pool), 0);
	fx->data = alloc_page(fx->pool, GFP_ZERO);
	assert_non_null(fx->data);
	return fx;
}

static pte_t *map(struct fixture *fx, unsigned long addr, pte_t pte)
{
	spinlock_t *ptl;
	pte_t *ptep = pte_alloc_map_lock(&fx->pgt, addr, &ptl);

	assert_non_null(ptep);
	if (pte_present(pte))
		get_page(pfn_to_page(fx->pool, pte_pfn(pte)));
	set_pte(ptep, pte);
	pte_unmap_unlock(ptep, ptl);
	return ptep;
}

static pte_t data_pte(struct fixture *fx)
{
	return pfn_pte(page_to_pfn(fx->pool, fx->data), PAGE_READWRITE);
}

static int zap_one(unsigned long addr, pte_t *ptep, void *arg)
{
	struct fixture *fx = arg;
	pte_t old = ptep_get_and_clear(ptep);

	(void)addr;
	if (pte_present(old))
		put_page(fx->pool, pfn_to_page(fx->pool, pte_pfn(old)));
	return 0;
}

/* Undo everything and make sure the structures were healthy again. */
static void fixture_free(struct fixture *fx)
{
	assert_int_equal(pgtable_walk_range(&fx->pgt, 0, VA_END, zap_one, fx), 0);
	free_pgd_range(&fx->pgt, 0, VA_END);
	put_page(fx->pool, fx->data);
	pgtable_destroy(&fx->pgt);
	rcu_barrier();
	assert_int_equal(frame_pool_nr_free(fx->pool), FRAMES);
	assert_int_equal(frames_check(fx->pool, fx->msg, sizeof(fx->msg)), 0);
	frame_pool_destroy(fx->pool);
	free(fx);
}

static void expect_frames_ok(struct fixture *fx)
{
	int err = frames_check(fx->pool, fx->msg, sizeof(fx->msg));

	if (err)
		fail_msg("frames_check: %s", fx->msg);
}

static void expect_pgtable_ok(struct fixture *fx, unsigned int flags)
{
	int err = pgtable_check(&fx->pgt, flags, fx->msg, sizeof(fx->msg));

	if (err)
		fail_msg("pgtable_check: %s", fx->msg);
}

/* The validator reports corruption and its message contains both words
 * (the frame or address, and the rule). */
static void expect_corrupt(struct fixture *fx, int err, const char *what, const char *rule)
{
	print_message("# %s\n", fx->msg);
	assert_int_equal(err, COW_ECORRUPT);
	assert_non_null(strstr(fx->msg, what));
	if (rule)
		assert_non_null(strstr(fx->msg, rule));
}

/* ---- frames_check ------------------------------------------------------- */

static void test_frames_check_healthy(void **state)
{
	struct fixture *fx = fixture_new(2);
	struct page *pages[100];

	(void)state;
	expect_frames_ok(fx);
	/* Frames spread over the free list and both CPU caches. */
	for (int i = 0; i < 100; i++) {
		pages[i] = alloc_page(fx->pool, 0);
		assert_non_null(pages[i]);
	}
	expect_frames_ok(fx);
	for (int i = 0; i < 100; i += 2)
		put_page(fx->pool, pages[i]);
	expect_frames_ok(fx);
	frame_pool_drain(fx->pool);
	expect_frames_ok(fx);
	for (int i = 1; i < 100; i += 2)
		put_page(fx->pool, pages[i]);
	expect_frames_ok(fx);
	fixture_free(fx);
}

static void test_frames_check_free_flag_on_allocated_frame(void **state)
{
	struct fixture *fx = fixture_new(1);
	unsigned long pfn = page_to_pfn(fx->pool, fx->data);
	char want[32];

	(void)state;
	snprintf(want, sizeof(want), "pfn %lu:", pfn);
	SetPageFlag(fx->data, PG_free);
	expect_corrupt(fx, frames_check(fx->pool, fx->msg, sizeof(fx->msg)), want, "F1");
	ClearPageFlag(fx->data, PG_free);
	expect_frames_ok(fx);

	/* A free frame that kept a flag or a count. */
	frame_pool_drain(fx->pool);
	SetPageFlag(&fx->pool->pages[FRAMES - 1], PG_dirty);
	snprintf(want, sizeof(want), "pfn %d:", FRAMES - 1);
	expect_corrupt(fx, frames_check(fx->pool, fx->msg, sizeof(fx->msg)), want, "flags");
	ClearPageFlag(&fx->pool->pages[FRAMES - 1], PG_dirty);
	atomic_set(&fx->pool->pages[FRAMES - 1]._refcount, 1);
	expect_corrupt(fx, frames_check(fx->pool, fx->msg, sizeof(fx->msg)), want, "refcount 1");
	atomic_set(&fx->pool->pages[FRAMES - 1]._refcount, 0);
	atomic_set(&fx->pool->pages[FRAMES - 1]._pincount, 1);
	expect_corrupt(fx, frames_check(fx->pool, fx->msg, sizeof(fx->msg)), want, "pincount 1");
	atomic_set(&fx->pool->pages[FRAMES - 1]._pincount, 0);

	/* An allocated frame whose refcount reached zero without being freed. */
	atomic_set(&fx->data->_refcount, 0);
	snprintf(want, sizeof(want), "pfn %lu:", pfn);
	expect_corrupt(fx, frames_check(fx->pool, fx->msg, sizeof(fx->msg)), want, "F3");
	atomic_set(&fx->data->_refcount, 1);
	expect_frames_ok(fx);
	fixture_free(fx);
}

static void test_frames_check_nr_free_broken(void **state)
{
	struct fixture *fx = fixture_new(1);

	(void)state;
	atomic_long_inc(&fx->pool->nr_free);
	expect_corrupt(fx, frames_check(fx->pool, fx->msg, sizeof(fx->msg)), "nr_free", "F2");
	atomic_long_dec(&fx->pool->nr_free);

	frame_pool_drain(fx->pool);
	fx->pool->nr_free_list--;
	expect_corrupt(fx, frames_check(fx->pool, fx->msg, sizeof(fx->msg)), "nr_free_list", NULL);
	fx->pool->nr_free_list++;
	expect_frames_ok(fx);
	fixture_free(fx);
}

static void test_frames_check_free_list_damage(void **state)
{
	struct fixture *fx = fixture_new(1);
	struct frame_pool *pool = fx->pool;
	unsigned long data = page_to_pfn(pool, fx->data);
	uint32_t second;

	(void)state;
	frame_pool_drain(pool);
	/* An allocated frame marked free in the bitmap. */
	pool->free_map[data / FRAME_MAP_BITS] |= 1UL << (data % FRAME_MAP_BITS);
	expect_corrupt(fx, frames_check(pool, fx->msg, sizeof(fx->msg)), "not PG_free", "F1");
	pool->free_map[data / FRAME_MAP_BITS] &= ~(1UL << (data % FRAME_MAP_BITS));
	/* A free frame missing from it. */
	second = data + 1 < FRAMES ? (uint32_t)data + 1 : 0;
	assert_true(PageFlag(&pool->pages[second], PG_free));
	pool->free_map[second / FRAME_MAP_BITS] &= ~(1UL << (second % FRAME_MAP_BITS));
	expect_corrupt(fx, frames_check(pool, fx->msg, sizeof(fx->msg)), "nr_free_list", NULL);
	pool->free_map[second / FRAME_MAP_BITS] |= 1UL << (second % FRAME_MAP_BITS);
	expect_frames_ok(fx);

	/* A frame both on the free list and in a CPU cache. */
	pool->pcp[0].pfns[pool->pcp[0].count++] = second;
	expect_corrupt(fx, frames_check(pool, fx->msg, sizeof(fx->msg)), "twice", NULL);
	pool->pcp[0].count--;

	/* An allocated frame in a CPU cache. */
	pool->pcp[0].pfns[pool->pcp[0].count++] = (uint32_t)page_to_pfn(pool, fx->data);
	expect_corrupt(fx, frames_check(pool, fx->msg, sizeof(fx->msg)), "not PG_free",
		       "cpu 0's cache");
	pool->pcp[0].count--;
	expect_frames_ok(fx);
	fixture_free(fx);
}

/* ---- pgtable_check -------------------------------------------------------- */

static void test_pgtable_check_healthy(void **state)
{
	struct fixture *fx = fixture_new(1);
	spinlock_t *ptl;
	pte_t *ptep;

	(void)state;
	expect_pgtable_ok(fx, PGTABLE_CHECK_QUIESCENT);
	map(fx, 0x1000, data_pte(fx));
	map(fx, TASK_SIZE - PAGE_SIZE, pte_mkdirty(data_pte(fx)));
	map(fx, 0x2000, pte_swp_mkexclusive(swp_entry_to_pte(swp_entry(1, 42))));
	map(fx, 0x3000, swp_entry_to_pte(swp_entry(0, 0)));
	expect_pgtable_ok(fx, PGTABLE_CHECK_QUIESCENT);

	/* A held PT lock is damage only when the caller says the tree is
	 * quiescent. */
	ptep = pte_offset_map_lock(&fx->pgt, 0x1000, &ptl);
	expect_pgtable_ok(fx, 0);
	expect_corrupt(fx,
		       pgtable_check(&fx->pgt, PGTABLE_CHECK_QUIESCENT, fx->msg, sizeof(fx->msg)),
		       "PT lock", NULL);
	pte_unmap_unlock(ptep, ptl);
	spin_lock(&fx->pgt.lock);
	expect_pgtable_ok(fx, 0);
	expect_corrupt(fx,
		       pgtable_check(&fx->pgt, PGTABLE_CHECK_QUIESCENT, fx->msg, sizeof(fx->msg)),
		       "pgt->lock", NULL);
	spin_unlock(&fx->pgt.lock);
	expect_pgtable_ok(fx, PGTABLE_CHECK_QUIESCENT);
	fixture_free(fx);
}

/* The PMD entry that leads to addr's PTE table. */
static pte_t *pmd_entry(struct fixture *fx, unsigned long addr)
{
	pte_t *table = page_address(fx->pool, pfn_to_page(fx->pool, fx->pgt.pgd_pfn));

	for (int level = PT_PGD; level > PT_PMD; level--) {
		pte_t e = table[pt_index(addr, level)];

		assert_false(pte_none(e));
		table = page_address(fx->pool, pfn_to_page(fx->pool, pte_pfn(e)));
	}
	return &table[pmd_index(addr)];
}

static void test_pgtable_check_bad_upper_entries(void **state)
{
	struct fixture *fx = fixture_new(1);
	unsigned long data = page_to_pfn(fx->pool, fx->data);
	pte_t *pmd, saved;
	char want[32];

	(void)state;
	map(fx, PMD_SIZE, data_pte(fx));
	pmd = pmd_entry(fx, PMD_SIZE);
	saved = *pmd;

	/* A PMD entry pointing at a frame that is not a page table. */
	set_pte(pmd, mk_table_entry(data));
	snprintf(want, sizeof(want), "pfn %lu", data);
	expect_corrupt(fx, pgtable_check(&fx->pgt, 0, fx->msg, sizeof(fx->msg)), want,
		       "not a live page table");
	/* ...or beyond the pool, or not a table entry at all. */
	set_pte(pmd, mk_table_entry(FRAMES + 1));
	expect_corrupt(fx, pgtable_check(&fx->pgt, 0, fx->msg, sizeof(fx->msg)), "beyond the pool",
		       "P1");
	set_pte(pmd, pte_wrprotect(saved));
	expect_corrupt(fx, pgtable_check(&fx->pgt, 0, fx->msg, sizeof(fx->msg)),
		       "not a table entry", "P2");

	/* Two PMD entries sharing one PTE table. */
	set_pte(pmd, saved);
	set_pte(pmd - 1, saved);
	expect_corrupt(fx, pgtable_check(&fx->pgt, 0, fx->msg, sizeof(fx->msg)), "reachable twice",
		       "P1");
	pte_clear(pmd - 1);

	/* A table that lost its flag. */
	ClearPageFlag(pfn_to_page(fx->pool, pte_pfn(saved)), PG_table);
	expect_corrupt(fx, pgtable_check(&fx->pgt, 0, fx->msg, sizeof(fx->msg)),
		       "PTE table for 0x200000", "not a live page table");
	SetPageFlag(pfn_to_page(fx->pool, pte_pfn(saved)), PG_table);
	expect_pgtable_ok(fx, PGTABLE_CHECK_QUIESCENT);
	fixture_free(fx);
}

static void test_pgtable_check_nr_tables(void **state)
{
	struct fixture *fx = fixture_new(1);

	(void)state;
	map(fx, 0, data_pte(fx));
	atomic_long_inc(&fx->pgt.nr_tables);
	expect_corrupt(fx, pgtable_check(&fx->pgt, 0, fx->msg, sizeof(fx->msg)),
		       "4 tables are reachable but nr_tables is 5", "P3");
	/* While pgt->lock is held a populate may be half done: not damage
	 * for a check between explore steps. */
	spin_lock(&fx->pgt.lock);
	expect_pgtable_ok(fx, 0);
	spin_unlock(&fx->pgt.lock);
	atomic_long_dec(&fx->pgt.nr_tables);
	expect_pgtable_ok(fx, PGTABLE_CHECK_QUIESCENT);
	fixture_free(fx);
}

static void test_pgtable_check_bad_leaves(void **state)
{
	struct fixture *fx = fixture_new(1);
	struct page *spare = alloc_page(fx->pool, 0);
	unsigned long spare_pfn = page_to_pfn(fx->pool, spare);
	pte_t *ptep;
	char want[48];

	(void)state;
	ptep = map(fx, 0x7000, data_pte(fx));

	/* A PTE still mapping a frame that went back to the pool. */
	set_pte(ptep, pfn_pte(spare_pfn, PAGE_READWRITE));
	put_page(fx->pool, spare);
	snprintf(want, sizeof(want), "maps pfn %lu, which is free", spare_pfn);
	expect_corrupt(fx, pgtable_check(&fx->pgt, 0, fx->msg, sizeof(fx->msg)), want, "P4");
	/* ...a frame beyond the pool, a page table, a malformed swap entry. */
	set_pte(ptep, pfn_pte(FRAMES + 3, PAGE_READWRITE));
	expect_corrupt(fx, pgtable_check(&fx->pgt, 0, fx->msg, sizeof(fx->msg)), "PTE for 0x7000",
		       "beyond the pool");
	set_pte(ptep, pfn_pte(fx->pgt.pgd_pfn, PAGE_READONLY));
	expect_corrupt(fx, pgtable_check(&fx->pgt, 0, fx->msg, sizeof(fx->msg)), "a page table",
		       "P4");
	set_pte(ptep, swp_entry_to_pte(swp_entry(2, 9)) & ~_PAGE_SWP_MARKER);
	expect_corrupt(fx, pgtable_check(&fx->pgt, 0, fx->msg, sizeof(fx->msg)),
		       "neither present nor a swap entry", "P4");
	set_pte(ptep, data_pte(fx));
	expect_pgtable_ok(fx, PGTABLE_CHECK_QUIESCENT);
	fixture_free(fx);
}

/* ---- pgtable_count_maps ---------------------------------------------------- */

static void test_count_maps(void **state)
{
	struct fixture *fx = fixture_new(1);
	struct page *other = alloc_page(fx->pool, 0);
	unsigned long data = page_to_pfn(fx->pool, fx->data);
	unsigned long opfn = page_to_pfn(fx->pool, other);
	unsigned long counts[FRAMES] = {0};

	(void)state;
	map(fx, 0x1000, data_pte(fx));
	map(fx, PUD_SIZE, pte_wrprotect(data_pte(fx)));
	map(fx, TASK_SIZE - PAGE_SIZE, data_pte(fx));
	map(fx, 0x2000, pfn_pte(opfn, PAGE_READONLY));
	map(fx, 0x3000, swp_entry_to_pte(swp_entry(0, data)));	      /* not present */
	map(fx, 0x4000, pte_mkspecial(pfn_pte(opfn, PAGE_READONLY))); /* zero-page style */
	assert_int_equal(pgtable_count_maps(&fx->pgt, counts, FRAMES), 0);
	assert_int_equal(counts[data], 3);
	assert_int_equal(counts[opfn], 1);
	for (unsigned long pfn = 0; pfn < FRAMES; pfn++)
		if (pfn != data && pfn != opfn)
			assert_int_equal(counts[pfn], 0);
	/* It adds: a second pass doubles. */
	assert_int_equal(pgtable_count_maps(&fx->pgt, counts, FRAMES), 0);
	assert_int_equal(counts[data], 6);
	/* An array too short for a mapped pfn. */
	assert_int_equal(pgtable_count_maps(&fx->pgt, counts, data < opfn ? opfn : data),
			 COW_EINVAL);
	expect_pgtable_ok(fx, PGTABLE_CHECK_QUIESCENT);
	assert_int_equal(pgtable_walk_range(&fx->pgt, 0, VA_END, zap_one, fx), 0);
	put_page(fx->pool, other);
	fixture_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_check_healthy),
		cmocka_unit_test(test_frames_check_free_flag_on_allocated_frame),
		cmocka_unit_test(test_frames_check_nr_free_broken),
		cmocka_unit_test(test_frames_check_free_list_damage),
		cmocka_unit_test(test_pgtable_check_healthy),
		cmocka_unit_test(test_pgtable_check_bad_upper_entries),
		cmocka_unit_test(test_pgtable_check_nr_tables),
		cmocka_unit_test(test_pgtable_check_bad_leaves),
		cmocka_unit_test(test_count_maps),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
