/*
 * Tests of src/mm/pgtable.c: the entry encodings, mapping and lookup at
 * the edges of the address space, range walks, table freeing, exhaustion
 * of the frame pool, concurrent population on real threads and under the
 * explorer, and the RCU rule for freeing tables while a lockless walker
 * is inside -- with a negative control that breaks the rule through the
 * test-only hook and shows the explorer catches it.
 */
#include "testutil.h"

#include "mm/page.h"
#include "mm/pgtable.h"
#include "sched/sched.h"

#define POOL_FRAMES 1024
#define EXPLORE_RUNS 300

struct fixture {
	struct frame_pool *pool;
	struct pgtable pgt;
	struct page *data;	 /* the frame every test leaf maps */
	unsigned long pool_free; /* nr_free before pgtable_init */
};

static void fixture_init(struct fixture *fx, unsigned long frames, int cpus)
{
	assert_int_equal(frame_pool_create(&fx->pool, frames, cpus), 0);
	fx->pool_free = frame_pool_nr_free(fx->pool);
	assert_int_equal(pgtable_init(&fx->pgt, fx->pool), 0);
	fx->data = alloc_page(fx->pool, GFP_ZERO);
	assert_non_null(fx->data);
}

static unsigned long data_pfn(const struct fixture *fx)
{
	return page_to_pfn(fx->pool, fx->data);
}

static pte_t data_pte(const struct fixture *fx)
{
	return pfn_pte(data_pfn(fx), PAGE_READWRITE);
}

static void assert_checks_pass(struct fixture *fx)
{
	char msg[256] = "";
	int err = pgtable_check(&fx->pgt, PGTABLE_CHECK_QUIESCENT, msg, sizeof(msg));

	if (err)
		fail_msg("pgtable_check: %s", msg);
	err = frames_check(fx->pool, msg, sizeof(msg));
	if (err)
		fail_msg("frames_check: %s", msg);
}

/* Map addr to the data frame (one reference per mapping); returns the PTE
 * pointer, valid while the table exists. */
static pte_t *map_data(struct fixture *fx, unsigned long addr)
{
	spinlock_t *ptl;
	pte_t *ptep = pte_alloc_map_lock(&fx->pgt, addr, &ptl);

	assert_non_null(ptep);
	assert_true(pte_none(ptep_get(ptep)));
	get_page(fx->data);
	set_pte(ptep, data_pte(fx));
	pte_unmap_unlock(ptep, ptl);
	return ptep;
}

/* Clear one leaf, dropping the reference a present one holds. */
static int zap_one(unsigned long addr, pte_t *ptep, void *arg)
{
	struct fixture *fx = arg;
	pte_t old = ptep_get_and_clear(ptep);

	(void)addr;
	if (pte_present(old))
		put_page(fx->pool, pfn_to_page(fx->pool, pte_pfn(old)));
	return 0;
}

static void zap_range(struct fixture *fx, unsigned long start, unsigned long end)
{
	assert_int_equal(pgtable_walk_range(&fx->pgt, start, end, zap_one, fx), 0);
}

/* Zap everything, free all tables and the pool; every frame must have come
 * back. */
static void fixture_fini(struct fixture *fx)
{
	zap_range(fx, 0, VA_END);
	free_pgd_range(&fx->pgt, 0, VA_END);
	assert_int_equal(atomic_long_read(&fx->pgt.nr_tables), 1);
	put_page(fx->pool, fx->data);
	pgtable_destroy(&fx->pgt);
	rcu_barrier();
	assert_int_equal(frame_pool_nr_free(fx->pool), fx->pool_free);
	assert_int_equal(frames_check(fx->pool, NULL, 0), 0);
	frame_pool_destroy(fx->pool);
}

static long nr_tables(struct fixture *fx)
{
	return atomic_long_read(&fx->pgt.nr_tables);
}

/* ---- encodings ------------------------------------------------------------- */

static void test_geometry_and_indices(void **state)
{
	unsigned long addr = (3UL << PGDIR_SHIFT) | (5UL << PUD_SHIFT) | (7UL << PMD_SHIFT) |
			     (9UL << PAGE_SHIFT) | 0x123;

	(void)state;
	assert_int_equal(pgd_index(addr), 3);
	assert_int_equal(pud_index(addr), 5);
	assert_int_equal(pmd_index(addr), 7);
	assert_int_equal(pte_index(addr), 9);
	assert_int_equal(pgd_index(VA_END - 1), 511);
	assert_int_equal(pgd_index(TASK_SIZE - 1), 255);
	assert_int_equal(pgd_index(TASK_SIZE), 256);
	assert_int_equal(pte_index(VA_END - 1), 511);
	assert_true(pt_level_size(PT_PTE) == PAGE_SIZE);
	assert_true(pt_level_size(PT_PMD) == PMD_SIZE && PMD_SIZE == 2UL << 20);
	assert_true(pt_level_size(PT_PUD) == PUD_SIZE && PUD_SIZE == 1UL << 30);
	assert_true(pt_level_size(PT_PGD) == PGDIR_SIZE && PGDIR_SIZE == 1UL << 39);
	assert_true(PGDIR_SIZE * PTRS_PER_TABLE == VA_END);
}

static void test_pte_bit_helpers(void **state)
{
	const unsigned long pfns[] = {0, 1, 0x12345, (1UL << 40) - 1};

	(void)state;
	assert_true(pte_none(0));
	assert_false(pte_present(0));
	for (size_t i = 0; i < ARRAY_SIZE(pfns); i++) {
		pte_t ro = pfn_pte(pfns[i], PAGE_READONLY);
		pte_t rw = pfn_pte(pfns[i], PAGE_READWRITE);

		assert_true(pte_present(ro) && pte_user(ro) && !pte_write(ro));
		assert_true(pte_present(rw) && pte_write(rw));
		assert_false(pte_none(ro));
		assert_true(pte_pfn(ro) == pfns[i] && pte_pfn(rw) == pfns[i]);
		assert_false(pte_dirty(rw) || pte_young(rw) || pte_soft_dirty(rw) ||
			     pte_special(rw));

		/* Each helper changes its own bit and nothing else. */
		assert_true(pte_mkwrite(ro) == rw && pte_wrprotect(rw) == ro);
		assert_true(pte_dirty(pte_mkdirty(rw)));
		/* As on x86, dirtying marks soft-dirty too; cleaning keeps it. */
		assert_true(pte_soft_dirty(pte_mkdirty(rw)));
		assert_true(pte_mkclean(pte_mkdirty(rw)) == pte_mksoft_dirty(rw));
		assert_true(pte_young(pte_mkyoung(rw)));
		assert_true(pte_mkold(pte_mkyoung(rw)) == rw);
		assert_true(pte_soft_dirty(pte_mksoft_dirty(rw)));
		assert_true(pte_clear_soft_dirty(pte_mksoft_dirty(rw)) == rw);
		assert_true(pte_special(pte_mkspecial(rw)));
		assert_true(pte_pfn(pte_mkspecial(
				    pte_mksoft_dirty(pte_mkyoung(pte_mkdirty(ro))))) == pfns[i]);
		assert_true((pte_mkdirty(rw) ^ rw) == (_PAGE_DIRTY | _PAGE_SOFT_DIRTY));
		assert_true((pte_mkyoung(rw) ^ rw) == _PAGE_ACCESSED);
		assert_true((pte_mksoft_dirty(rw) ^ rw) == _PAGE_SOFT_DIRTY);
		assert_false(is_swap_pte(rw));

		/* Upper-level entries. */
		assert_false(table_entry_bad(mk_table_entry(pfns[i])));
		assert_true(pte_pfn(mk_table_entry(pfns[i])) == pfns[i]);
		assert_true(table_entry_bad(rw));
	}
	assert_false(table_entry_bad(0));
	/* Bits 12..51 hold the PFN, and only those. */
	assert_true(PTE_PFN_MASK == 0x000ffffffffff000ULL);
	assert_true(pfn_pte((1UL << 40) - 1, 0) == PTE_PFN_MASK);
	assert_true(pfn_pte(0, ~0ULL) == PTE_FLAGS_MASK);
}

static void check_swap_roundtrip(unsigned int type, unsigned long offset)
{
	for (int excl = 0; excl < 2; excl++) {
		for (int sd = 0; sd < 2; sd++) {
			swp_entry_t e = swp_entry(type, offset), back;
			pte_t pte = swp_entry_to_pte(e);

			if (excl)
				pte = pte_swp_mkexclusive(pte);
			if (sd)
				pte = pte_swp_mksoft_dirty(pte);
			assert_false(pte_none(pte));
			assert_false(pte_present(pte));
			assert_true(is_swap_pte(pte));
			assert_false(swap_pte_bad(pte));
			assert_int_equal(pte_swp_exclusive(pte), excl);
			assert_int_equal(pte_swp_soft_dirty(pte), sd);
			back = pte_to_swp_entry(pte);
			assert_true(back.val == e.val);
			assert_int_equal(swp_type(back), type);
			assert_true(swp_offset(back) == offset);

			/* Clearing a bit changes that bit only. */
			assert_false(pte_swp_exclusive(pte_swp_clear_exclusive(pte)));
			assert_int_equal(pte_swp_soft_dirty(pte_swp_clear_exclusive(pte)), sd);
			assert_false(pte_swp_soft_dirty(pte_swp_clear_soft_dirty(pte)));
			assert_int_equal(pte_swp_exclusive(pte_swp_clear_soft_dirty(pte)), excl);
			assert_true(pte_to_swp_entry(pte_swp_clear_exclusive(pte)).val == e.val);
			assert_true(pte_swp_clear_soft_dirty(pte_swp_clear_exclusive(pte)) ==
				    swp_entry_to_pte(e));
		}
	}
}

static void test_swap_entry_roundtrip(void **state)
{
	const unsigned long offsets[] = {
		0,
		1,
		2,
		0x1234,
		1UL << 20,
		(1UL << 40) - 1,
		1UL << 40,
		SWP_OFFSET_MASK - 1,
		SWP_OFFSET_MASK,
	};
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	/* The marker bit keeps the all-zero entry from reading as none. */
	assert_false(pte_none(swp_entry_to_pte(swp_entry(0, 0))));
	assert_true(SWP_OFFSET_BITS >= 40);
	for (unsigned int type = 0; type < MAX_SWAPFILES; type++) {
		for (size_t i = 0; i < ARRAY_SIZE(offsets); i++)
			check_swap_roundtrip(type, offsets[i]);
		for (int i = 0; i < 64; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			check_swap_roundtrip(type, (unsigned long)(x >> 11) & SWP_OFFSET_MASK);
		}
	}
}

/* ---- mapping and lookup ---------------------------------------------------- */

static void test_init_destroy_and_enomem(void **state)
{
	struct frame_pool *pool;
	struct pgtable a, b;

	(void)state;
	assert_int_equal(frame_pool_create(&pool, 1, 1), 0);
	assert_int_equal(pgtable_init(&a, pool), 0);
	assert_int_equal(atomic_long_read(&a.nr_tables), 1);
	assert_true(PageFlag(pfn_to_page(pool, a.pgd_pfn), PG_table));
	assert_int_equal(pgtable_init(&b, pool), COW_ENOMEM);
	pgtable_destroy(&b); /* a no-op after a failed init */
	assert_int_equal(pgtable_check(&a, PGTABLE_CHECK_QUIESCENT, NULL, 0), 0);
	pgtable_destroy(&a);
	assert_int_equal(frame_pool_nr_free(pool), 1);
	assert_int_equal(frames_check(pool, NULL, 0), 0);
	frame_pool_destroy(pool);
}

static void test_map_lookup_clear(void **state)
{
	struct fixture fx;
	unsigned long addr = 0x7f1234567000UL;
	spinlock_t *ptl, *ptl2;
	pte_t *ptep, *found, v;

	(void)state;
	fixture_init(&fx, POOL_FRAMES, 1);
	ptep = pte_alloc_map_lock(&fx.pgt, addr, &ptl);
	assert_non_null(ptep);
	assert_true(spin_is_locked(ptl));
	assert_ptr_equal(ptl, pte_lockptr(&fx.pgt, ptep));
	assert_true(ptl == &virt_to_page(fx.pool, ptep)->ptl);
	assert_true(pte_none(ptep_get(ptep)));
	get_page(fx.data);
	set_pte(ptep, data_pte(&fx));
	pte_unmap_unlock(ptep, ptl);
	assert_false(spin_is_locked(ptl));
	assert_int_equal(nr_tables(&fx), 4);

	/* A second lookup, locked and lockless, finds the same slot. */
	found = pte_offset_map_lock(&fx.pgt, addr, &ptl2);
	assert_ptr_equal(found, ptep);
	assert_ptr_equal(ptl2, ptl);
	assert_true(ptep_get(found) == data_pte(&fx));
	pte_unmap_unlock(found, ptl2);
	found = pte_alloc_map_lock(&fx.pgt, addr + 0xfff, &ptl2);
	assert_ptr_equal(found, ptep);
	pte_unmap_unlock(found, ptl2);
	assert_int_equal(nr_tables(&fx), 4);

	rcu_read_lock();
	found = pgtable_walk_lockless(&fx.pgt, addr, &v);
	rcu_read_unlock();
	assert_ptr_equal(found, ptep);
	assert_true(v == data_pte(&fx));
	assert_checks_pass(&fx);

	/* Clearing leaves the tables; the walkers still find the slot. */
	found = pte_offset_map_lock(&fx.pgt, addr, &ptl2);
	v = ptep_get_and_clear(found);
	pte_unmap_unlock(found, ptl2);
	assert_true(v == data_pte(&fx));
	put_page(fx.pool, fx.data);
	rcu_read_lock();
	found = pgtable_walk_lockless(&fx.pgt, addr, &v);
	rcu_read_unlock();
	assert_ptr_equal(found, ptep);
	assert_true(pte_none(v));
	assert_checks_pass(&fx);
	fixture_fini(&fx);
}

static void test_address_edges_and_boundaries(void **state)
{
	/* Each address, and how many tables the tree has after mapping it. */
	static const struct {
		unsigned long addr;
		long tables;
	} steps[] = {
		{0, 4},			      /* PUD, PMD and PTE table */
		{PMD_SIZE - PAGE_SIZE, 4},    /* last slot of the same table */
		{PMD_SIZE, 5},		      /* next PTE table */
		{PUD_SIZE - PAGE_SIZE, 6},    /* last PTE table of the PMD */
		{PUD_SIZE, 8},		      /* next PMD */
		{PGDIR_SIZE - PAGE_SIZE, 10}, /* last PMD of the PUD... */
		{PGDIR_SIZE, 13},	      /* ...then a new PUD */
		{TASK_SIZE - PAGE_SIZE, 16},  /* top of user space */
		{TASK_SIZE, 19},	      /* first kernel-half page */
		{VA_END - PAGE_SIZE, 22},     /* the very last page */
	};
	pte_t *ptes[ARRAY_SIZE(steps)];
	struct fixture fx;

	(void)state;
	fixture_init(&fx, POOL_FRAMES, 1);
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		ptes[i] = map_data(&fx, steps[i].addr);
		assert_int_equal(nr_tables(&fx), steps[i].tables);
		assert_int_equal(pgtable_check(&fx.pgt, PGTABLE_CHECK_QUIESCENT, NULL, 0), 0);
	}
	/* Slots 0 and 511 of one table, then a different table. */
	assert_true(ptes[1] == ptes[0] + 511);
	assert_true(virt_to_page(fx.pool, ptes[2]) != virt_to_page(fx.pool, ptes[0]));
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		spinlock_t *ptl;
		pte_t v, *p;

		rcu_read_lock();
		p = pgtable_walk_lockless(&fx.pgt, steps[i].addr, &v);
		rcu_read_unlock();
		assert_ptr_equal(p, ptes[i]);
		assert_true(v == data_pte(&fx));
		p = pte_offset_map_lock(&fx.pgt, steps[i].addr + PAGE_SIZE - 1, &ptl);
		assert_ptr_equal(p, ptes[i]);
		pte_unmap_unlock(p, ptl);
	}
	assert_int_equal(page_ref_count(fx.data), 1 + (int)ARRAY_SIZE(steps));
	assert_checks_pass(&fx);
	fixture_fini(&fx);
}

static void test_missing_level_returns_null(void **state)
{
	/* Missing PUD entry (other PGD slot), PMD entry (other PUD slot) and
	 * PTE table (other PMD slot) once PUD_SIZE + PMD_SIZE is mapped, and
	 * addresses beyond 48 bits. */
	static const unsigned long missing[] = {
		PGDIR_SIZE + PUD_SIZE + PMD_SIZE,
		2 * PUD_SIZE,
		PUD_SIZE + 2 * PMD_SIZE,
		PUD_SIZE,
		VA_END,
		VA_END + PUD_SIZE + PMD_SIZE,
		~0UL,
	};
	struct fixture fx;
	spinlock_t *ptl = NULL;
	pte_t v = 1;

	(void)state;
	fixture_init(&fx, POOL_FRAMES, 1);
	/* An empty tree: the PGD entry is missing. */
	assert_null(pte_offset_map_lock(&fx.pgt, 0x400000, &ptl));
	rcu_read_lock();
	assert_null(pgtable_walk_lockless(&fx.pgt, 0x400000, &v));
	rcu_read_unlock();
	assert_int_equal(nr_tables(&fx), 1);

	map_data(&fx, PUD_SIZE + PMD_SIZE);
	for (size_t i = 0; i < ARRAY_SIZE(missing); i++) {
		assert_null(pte_offset_map_lock(&fx.pgt, missing[i], &ptl));
		rcu_read_lock();
		assert_null(pgtable_walk_lockless(&fx.pgt, missing[i], &v));
		rcu_read_unlock();
	}
	assert_int_equal(nr_tables(&fx), 4);
	assert_true(v == 1); /* untouched on failure */
	assert_null(ptl);
	fixture_fini(&fx);
}

/* ---- range walks and freeing ------------------------------------------------ */

struct visits {
	unsigned long addr[32];
	int n;
	int stop_at; /* return 7 at this visit (1-based), or 0 */
};

static int record_visit(unsigned long addr, pte_t *ptep, void *arg)
{
	struct visits *v = arg;

	assert_false(pte_none(ptep_get(ptep)));
	assert_true(v->n < (int)ARRAY_SIZE(v->addr));
	v->addr[v->n++] = addr;
	return v->n == v->stop_at ? 7 : 0;
}

static void expect_visits(struct fixture *fx, unsigned long start, unsigned long end,
			  const unsigned long *want, int nwant)
{
	struct visits v = {.n = 0};

	assert_int_equal(pgtable_walk_range(&fx->pgt, start, end, record_visit, &v), 0);
	assert_int_equal(v.n, nwant);
	for (int i = 0; i < nwant; i++)
		assert_true(v.addr[i] == want[i]);
}

static void test_walk_range_visits_mapped_slots(void **state)
{
	static const unsigned long mapped[] = {
		0,
		0x5000,
		PMD_SIZE - PAGE_SIZE,
		PMD_SIZE,
		PUD_SIZE + 0x3000,
		PGDIR_SIZE,
		TASK_SIZE - PAGE_SIZE,
		VA_END - PAGE_SIZE,
	};
	const unsigned long swap_addr = 2 * PMD_SIZE + 0x7000;
	const unsigned long all[] = {
		0,
		0x5000,
		PMD_SIZE - PAGE_SIZE,
		PMD_SIZE,
		swap_addr,
		PUD_SIZE + 0x3000,
		PGDIR_SIZE,
		TASK_SIZE - PAGE_SIZE,
		VA_END - PAGE_SIZE,
	};
	struct visits v = {.n = 0, .stop_at = 3};
	struct fixture fx;
	spinlock_t *ptl;
	pte_t *ptep;

	(void)state;
	fixture_init(&fx, POOL_FRAMES, 1);
	for (size_t i = 0; i < ARRAY_SIZE(mapped); i++)
		map_data(&fx, mapped[i]);
	/* A swap entry is not none: the walk visits it too. */
	ptep = pte_alloc_map_lock(&fx.pgt, swap_addr, &ptl);
	set_pte(ptep, pte_swp_mkexclusive(swp_entry_to_pte(swp_entry(3, 77))));
	pte_unmap_unlock(ptep, ptl);

	expect_visits(&fx, 0, VA_END, all, ARRAY_SIZE(all));
	expect_visits(&fx, 0x1000, PMD_SIZE, (const unsigned long[]){0x5000, PMD_SIZE - PAGE_SIZE},
		      2);
	/* A page that overlaps the range at all is visited. */
	expect_visits(&fx, 0x5800, 0x5801, (const unsigned long[]){0x5000}, 1);
	expect_visits(&fx, 0x6000, PMD_SIZE - PAGE_SIZE, NULL, 0);
	expect_visits(&fx, PMD_SIZE, PMD_SIZE, NULL, 0);
	expect_visits(&fx, PMD_SIZE + PAGE_SIZE, TASK_SIZE,
		      (const unsigned long[]){swap_addr, PUD_SIZE + 0x3000, PGDIR_SIZE,
					      TASK_SIZE - PAGE_SIZE},
		      4);
	/* Stops at fn's first non-zero return and passes it on. */
	assert_int_equal(pgtable_walk_range(&fx.pgt, 0, VA_END, record_visit, &v), 7);
	assert_int_equal(v.n, 3);
	assert_int_equal(pgtable_walk_range(&fx.pgt, 2, 1, record_visit, &v), COW_EINVAL);
	assert_int_equal(pgtable_walk_range(&fx.pgt, 0, VA_END + 1, record_visit, &v), COW_EINVAL);
	assert_int_equal(v.n, 3);
	assert_checks_pass(&fx);
	fixture_fini(&fx);
}

static void test_free_pgd_range_frees_empty_tables(void **state)
{
	struct fixture fx;
	unsigned long base;
	pte_t v;

	(void)state;
	fixture_init(&fx, POOL_FRAMES, 1);
	map_data(&fx, 0);
	map_data(&fx, PMD_SIZE);
	assert_int_equal(nr_tables(&fx), 5);
	base = frame_pool_nr_free(fx.pool);

	/* A table that still maps something stays. */
	free_pgd_range(&fx.pgt, 0, TASK_SIZE);
	assert_int_equal(nr_tables(&fx), 5);

	/* An empty PTE table entirely inside the range goes, after a grace
	 * period; its PMD, which still has the other table, stays. */
	zap_range(&fx, 0, PAGE_SIZE);
	free_pgd_range(&fx.pgt, 0, PMD_SIZE);
	assert_int_equal(nr_tables(&fx), 4);
	rcu_barrier();
	assert_int_equal(frame_pool_nr_free(fx.pool), base + 1);
	rcu_read_lock();
	assert_null(pgtable_walk_lockless(&fx.pgt, 0, &v));
	assert_non_null(pgtable_walk_lockless(&fx.pgt, PMD_SIZE, &v));
	rcu_read_unlock();
	assert_checks_pass(&fx);

	/* An empty table only partly inside the range stays. */
	zap_range(&fx, PMD_SIZE, 2 * PMD_SIZE);
	free_pgd_range(&fx.pgt, PMD_SIZE + PAGE_SIZE, 2 * PMD_SIZE);
	free_pgd_range(&fx.pgt, PMD_SIZE, 2 * PMD_SIZE - 1);
	assert_int_equal(nr_tables(&fx), 4);
	assert_checks_pass(&fx);

	/* The whole user half: PTE table, PMD and PUD go; the PGD never. */
	free_pgd_range(&fx.pgt, 0, TASK_SIZE);
	assert_int_equal(nr_tables(&fx), 1);
	rcu_barrier();
	assert_int_equal(frame_pool_nr_free(fx.pool), base + 4);
	assert_checks_pass(&fx);

	/* The tree is usable again afterwards. */
	map_data(&fx, PMD_SIZE);
	assert_int_equal(nr_tables(&fx), 4);
	fixture_fini(&fx);
}

/* ---- exhaustion ------------------------------------------------------------ */

static void test_enomem_while_populating(void **state)
{
	(void)state;
	/* Pools of 1..8 frames: the PGD takes one, each new PGD slot needs
	 * three more.  Every failure returns NULL, keeps the tree valid and
	 * loses no frame: free frames plus tables always equal the pool. */
	for (unsigned long frames = 1; frames <= 8; frames++) {
		struct frame_pool *pool;
		struct pgtable pgt;
		char msg[256] = "";
		int mapped = 0;

		assert_int_equal(frame_pool_create(&pool, frames, 1), 0);
		assert_int_equal(pgtable_init(&pgt, pool), 0);
		for (unsigned long slot = 0; slot < 4; slot++) {
			spinlock_t *ptl;
			pte_t *ptep = pte_alloc_map_lock(&pgt, slot * PGDIR_SIZE, &ptl);

			if (ptep) {
				mapped++;
				pte_unmap_unlock(ptep, ptl);
			}
			assert_int_equal(frame_pool_nr_free(pool) +
						 (unsigned long)atomic_long_read(&pgt.nr_tables),
					 frames);
			if (pgtable_check(&pgt, PGTABLE_CHECK_QUIESCENT, msg, sizeof(msg)))
				fail_msg("%lu frames: %s", frames, msg);
		}
		assert_int_equal(mapped, (int)(frames - 1) / 3);
		assert_int_equal(frames_check(pool, NULL, 0), 0);
		pgtable_destroy(&pgt);
		assert_int_equal(frame_pool_nr_free(pool), frames);
		frame_pool_destroy(pool);
	}
}

/* ---- assertions at the boundary --------------------------------------------- */

static jmp_buf panic_jmp;
static char panic_msg[512];

static void catch_panic(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	snprintf(panic_msg, sizeof(panic_msg), "%s", msg);
	longjmp(panic_jmp, 1);
}

static void test_misuse_panics(void **state)
{
	struct fixture fx;
	spinlock_t *ptl;
	cow_panic_fn old;

	(void)state;
	fixture_init(&fx, POOL_FRAMES, 1);
	map_data(&fx, 0x10000);
	old = cow_set_panic_handler(catch_panic);
	panic_msg[0] = '\0';
	if (setjmp(panic_jmp) == 0) {
		pgtable_destroy(&fx.pgt);
		fail_msg("pgtable_destroy accepted a tree with a mapped PTE");
	}
	assert_non_null(strstr(panic_msg, "zap it first"));
	panic_msg[0] = '\0';
	if (setjmp(panic_jmp) == 0) {
		pte_alloc_map_lock(&fx.pgt, VA_END, &ptl);
		fail_msg("pte_alloc_map_lock accepted an address beyond 48 bits");
	}
	assert_non_null(strstr(panic_msg, "beyond"));
	panic_msg[0] = '\0';
	if (setjmp(panic_jmp) == 0) {
		free_pgd_range(&fx.pgt, PMD_SIZE, 0);
		fail_msg("free_pgd_range accepted a reversed range");
	}
	assert_non_null(strstr(panic_msg, "bad range"));
	cow_set_panic_handler(old);
	/* The failed destroy freed nothing. */
	assert_checks_pass(&fx);
	fixture_fini(&fx);
}

/* ---- concurrent population on real threads ---------------------------------- */

#define POPULATE_THREADS 4
#define POPULATE_SHARED 48 /* addresses every thread maps */
#define POPULATE_OWN 32	   /* addresses only one thread maps */
#define POPULATE_ROUNDS 20

struct populate {
	struct fixture fx;
	atomic_long_t installed; /* leaves set by any thread */
	bool alloc_failed;
};

static unsigned long shared_addr(int k)
{
	/* One PUD slot each, so every address races on a PMD and a PTE
	 * table of its own. */
	return (unsigned long)k * PUD_SIZE + (unsigned long)(k % 7) * PMD_SIZE + 0x1000;
}

static unsigned long own_addr(int cpu, int k)
{
	return (unsigned long)(cpu + 1) * PGDIR_SIZE + (unsigned long)k * PMD_SIZE;
}

static void populate_one(struct populate *p, unsigned long addr)
{
	spinlock_t *ptl;
	pte_t *ptep = pte_alloc_map_lock(&p->fx.pgt, addr, &ptl);

	if (!ptep) {
		WRITE_ONCE(p->alloc_failed, true);
		return;
	}
	if (pte_none(ptep_get(ptep))) {
		get_page(p->fx.data);
		set_pte(ptep, data_pte(&p->fx));
		atomic_long_inc(&p->installed);
	}
	pte_unmap_unlock(ptep, ptl);
}

static void populate_worker(void *arg)
{
	struct populate *p = arg;
	int cpu = smp_processor_id();

	/* Interleave own and shared addresses, each thread starting at a
	 * different shared address and going its own direction. */
	for (int k = 0; k < POPULATE_SHARED; k++) {
		int j = cpu % 2 ? POPULATE_SHARED - 1 - k : k;

		populate_one(p, shared_addr((j + cpu * 5) % POPULATE_SHARED));
		if (k < POPULATE_OWN)
			populate_one(p, own_addr(cpu, k));
	}
}

static void test_concurrent_populate_stress(void **state)
{
	/* PGD, then per shared address a PMD and a PTE table under one
	 * PUD; per thread a PUD, a PMD and one PTE table per address. */
	const long want_tables =
		1 + (1 + 2 * POPULATE_SHARED) + POPULATE_THREADS * (2 + POPULATE_OWN);
	const long want_leaves = POPULATE_SHARED + POPULATE_THREADS * POPULATE_OWN;
	struct populate p;

	(void)state;
	fixture_init(&p.fx, POOL_FRAMES, POPULATE_THREADS);
	for (int round = 0; round < POPULATE_ROUNDS; round++) {
		unsigned long before = frame_pool_nr_free(p.fx.pool);

		atomic_long_set(&p.installed, 0);
		p.alloc_failed = false;
		stress_run(POPULATE_THREADS, populate_worker, &p);
		assert_false(p.alloc_failed);
		assert_int_equal(atomic_long_read(&p.installed), want_leaves);
		assert_int_equal(nr_tables(&p.fx), want_tables);
		/* Frames taken are exactly the new tables: the losers of
		 * populate races gave theirs back. */
		assert_int_equal(before - frame_pool_nr_free(p.fx.pool), want_tables - 1);
		assert_int_equal(page_ref_count(p.fx.data), 1 + want_leaves);
		assert_checks_pass(&p.fx);
		zap_range(&p.fx, 0, VA_END);
		free_pgd_range(&p.fx.pgt, 0, VA_END);
		rcu_barrier();
		assert_int_equal(frame_pool_nr_free(p.fx.pool), before);
	}
	fixture_fini(&p.fx);
}

/* ---- freeing tables under a lockless walker: stress ------------------------- */

#define RCU_STRESS_ITERS 3000
#define RCU_STRESS_ADDR (PUD_SIZE + 5 * PMD_SIZE + 0x3000)

struct rcu_stress {
	struct fixture fx;
	int done;
	atomic_long_t walks_inside; /* walks that found the table */
};

static void rcu_stress_mutator(struct rcu_stress *r)
{
	for (int i = 0; i < RCU_STRESS_ITERS; i++) {
		unsigned long other;
		spinlock_t *ptl;
		pte_t *ptep = pte_alloc_map_lock(&r->fx.pgt, RCU_STRESS_ADDR, &ptl);

		if (!ptep) {
			/* Frames are waiting for their grace period. */
			rcu_barrier();
			continue;
		}
		get_page(r->fx.data);
		set_pte(ptep, data_pte(&r->fx));
		pte_unmap_unlock(ptep, ptl);
		/* Map in a neighbour PGD slot too, so that frames freed by
		 * earlier rounds come back as tables of other levels. */
		other = PGDIR_SIZE + (unsigned long)(i % 512) * PUD_SIZE;
		ptep = pte_alloc_map_lock(&r->fx.pgt, other, &ptl);
		if (ptep)
			pte_unmap_unlock(ptep, ptl);

		ptep = pte_offset_map_lock(&r->fx.pgt, RCU_STRESS_ADDR, &ptl);
		task_check(ptep != NULL);
		if (!ptep)
			break;
		put_page(r->fx.pool, pfn_to_page(r->fx.pool, pte_pfn(ptep_get_and_clear(ptep))));
		pte_unmap_unlock(ptep, ptl);
		free_pgd_range(&r->fx.pgt, 0, TASK_SIZE);
	}
	WRITE_ONCE(r->done, 1);
}

static void rcu_stress_walker(struct rcu_stress *r)
{
	const pte_t want = data_pte(&r->fx);
	long inside = 0;

	while (!READ_ONCE(r->done)) {
		struct page *table;
		pte_t v, *ptep;

		rcu_read_lock();
		ptep = pgtable_walk_lockless(&r->fx.pgt, RCU_STRESS_ADDR, &v);
		if (ptep) {
			inside++;
			table = virt_to_page(r->fx.pool, ptep);
			for (int k = 0; k < 16; k++) {
				task_check(PageFlag(table, PG_table) && !PageFlag(table, PG_free));
				v = ptep_get(ptep);
				task_check(v == 0 || v == want);
				cpu_relax();
			}
		}
		rcu_read_unlock();
	}
	atomic_long_add(inside, &r->walks_inside);
}

static void rcu_stress_worker(void *arg)
{
	if (smp_processor_id() == 0)
		rcu_stress_mutator(arg);
	else
		rcu_stress_walker(arg);
}

static void test_table_free_rcu_stress(void **state)
{
	struct rcu_stress r = {.done = 0};

	(void)state;
	fixture_init(&r.fx, 4096, 3);
	stress_run(3, rcu_stress_worker, &r);
	print_message("# %ld lockless walks found the table\n", atomic_long_read(&r.walks_inside));
	/* The last round's tables may still be on their way to the free
	 * list from the RCU callback thread: the pool is at rest only after
	 * those callbacks have run. */
	rcu_barrier();
	assert_checks_pass(&r.fx);
	fixture_fini(&r.fx);
}

/* ---- freeing tables under a lockless walker: explore ------------------------
 * The walker enters rcu_read_lock(), finds the PTE, and stays inside until
 * it sees the unmapper's free_pgd_range() unlink the table (its own walk
 * then stops at the PMD), checking all along that the frame it holds a
 * pointer into is still a page table.  The unmapper clears the PTE under
 * the PT lock and frees the whole user half's tables. */

#define EXPLORE_ADDR (3 * PUD_SIZE + 17 * PMD_SIZE + 0x5000)
#define EXPLORE_FRAMES 64

struct rcu_run {
	struct fixture fx;
	bool clean; /* the verdict passed: the tree may be destroyed */
};

static void walker_check_table(struct rcu_run *r, struct page *table, pte_t *ptep)
{
	pte_t v;

	if (!PageFlag(table, PG_table) || PageFlag(table, PG_free))
		sched_fail(sync_explorer,
			   "walker: PTE table pfn %lu was freed (flags %#lx) "
			   "while the walker was inside rcu_read_lock",
			   page_to_pfn(r->fx.pool, table), table->flags);
	v = ptep_get(ptep);
	if (v != 0 && v != data_pte(&r->fx))
		sched_fail(sync_explorer, "walker: read PTE %#llx from a reused table",
			   (unsigned long long)v);
}

static void rcu_walker_task(void *arg)
{
	struct rcu_run *r = arg;
	struct page *table;
	pte_t v, *ptep;

	rcu_read_lock();
	ptep = pgtable_walk_lockless(&r->fx.pgt, EXPLORE_ADDR, &v);
	if (ptep) {
		table = virt_to_page(r->fx.pool, ptep);
		for (int i = 0; i < 100000 && pgtable_walk_lockless(&r->fx.pgt, EXPLORE_ADDR, &v);
		     i++)
			walker_check_table(r, table, ptep);
		/* Unlinked now, and the frees are on their way: stay a while. */
		for (int i = 0; i < 8; i++) {
			cpu_relax();
			walker_check_table(r, table, ptep);
		}
	}
	rcu_read_unlock();
}

static void rcu_unmapper_task(void *arg)
{
	struct rcu_run *r = arg;
	spinlock_t *ptl;
	pte_t *ptep = pte_offset_map_lock(&r->fx.pgt, EXPLORE_ADDR, &ptl);
	pte_t old;

	COW_CHECK(ptep != NULL, "unmapper: the PTE table is missing");
	old = ptep_get_and_clear(ptep);
	pte_unmap_unlock(ptep, ptl);
	put_page(r->fx.pool, pfn_to_page(r->fx.pool, pte_pfn(old)));
	free_pgd_range(&r->fx.pgt, 0, TASK_SIZE);
}

static void *rcu_run_setup(struct sched *s)
{
	struct rcu_run *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (frame_pool_create(&r->fx.pool, EXPLORE_FRAMES, 2) != 0)
		goto out_free_run;
	r->fx.pool_free = frame_pool_nr_free(r->fx.pool);
	if (pgtable_init(&r->fx.pgt, r->fx.pool) != 0)
		goto out_destroy_pool;
	r->fx.data = alloc_page(r->fx.pool, GFP_ZERO);
	if (!r->fx.data)
		goto out_destroy_pool;
	map_data(&r->fx, EXPLORE_ADDR);
	put_page(r->fx.pool, r->fx.data); /* the mapping holds the only reference */
	sched_spawn(s, "walker", 0, rcu_walker_task, r, 0);
	sched_spawn(s, "unmapper", 1, rcu_unmapper_task, r, 0);
	return r;

out_destroy_pool:
	frame_pool_destroy(r->fx.pool);
out_free_run:
	free(r);
	return NULL;
}

static int rcu_run_check(void *state, char *msg, size_t len)
{
	struct rcu_run *r = state;

	return pgtable_check(&r->fx.pgt, 0, msg, len);
}

/* After the run, callbacks included: the data frame and the three tables
 * are back, so the pool holds all but the PGD. */
static int rcu_run_verdict(void *state, char *msg, size_t len)
{
	struct rcu_run *r = state;
	unsigned long nfree = frame_pool_nr_free(r->fx.pool);
	int err;

	if (nfree != r->fx.pool_free - 1) {
		snprintf(msg, len, "%lu frames free after the run, want %lu", nfree,
			 r->fx.pool_free - 1);
		return COW_ECORRUPT;
	}
	err = pgtable_check(&r->fx.pgt, PGTABLE_CHECK_QUIESCENT, msg, len);
	if (!err)
		err = frames_check(r->fx.pool, msg, len);
	if (!err && atomic_long_read(&r->fx.pgt.nr_tables) != 1) {
		snprintf(msg, len, "%ld tables left, want the PGD only",
			 atomic_long_read(&r->fx.pgt.nr_tables));
		err = COW_ECORRUPT;
	}
	r->clean = err == 0;
	return err;
}

/* After a failed run tasks were abandoned, perhaps holding locks: drop the
 * whole pool without touching the tree. */
static void rcu_run_teardown(void *state)
{
	struct rcu_run *r = state;

	if (r->clean)
		pgtable_destroy(&r->fx.pgt);
	frame_pool_destroy(r->fx.pool);
	free(r);
}

static const struct explore_prog rcu_free_prog = {
	"pgtable-rcu-free", 3, rcu_run_setup, NULL, rcu_run_verdict, rcu_run_teardown,
};
static const struct explore_prog rcu_free_checked_prog = {
	"pgtable-rcu-free-checked", 3, rcu_run_setup, rcu_run_check, rcu_run_verdict,
	rcu_run_teardown,
};

static void test_table_free_rcu_explore(void **state)
{
	(void)state;
	assert_explore_clean(&rcu_free_prog, 1, EXPLORE_RUNS);
}

/* The same with pgtable_check() after every step of every run. */
static void test_table_free_rcu_explore_checked(void **state)
{
	(void)state;
	assert_explore_clean(&rcu_free_checked_prog, 1000, 20);
}

/* Negative control: tables freed at once are caught inside the walker. */
static void test_table_free_immediately_is_caught(void **state)
{
	struct explore_result r;

	(void)state;
	pgtable_test_free_immediately = true;
	r = explore_runs(&rcu_free_prog, 1, EXPLORE_RUNS);
	pgtable_test_free_immediately = false;
	assert_true(r.failed);
	assert_int_equal(r.verdict, SCHED_FAILED);
	assert_non_null(strstr(r.message, "was freed"));
}

/* ---- concurrent population: explore ----------------------------------------- */

#define RACE_ADDR (5 * PUD_SIZE + 9 * PMD_SIZE)

static void race_task(void *arg)
{
	struct rcu_run *r = arg;
	spinlock_t *ptl;
	pte_t *ptep;

	/* Both tasks map the same page and a neighbour in the same PTE
	 * table: they race on populating every level. */
	ptep = pte_alloc_map_lock(&r->fx.pgt, RACE_ADDR, &ptl);
	COW_CHECK(ptep != NULL, "race: out of frames");
	if (pte_none(ptep_get(ptep))) {
		get_page(r->fx.data);
		set_pte(ptep, data_pte(&r->fx));
	}
	pte_unmap_unlock(ptep, ptl);
	ptep = pte_alloc_map_lock(&r->fx.pgt,
				  RACE_ADDR + (sched_task_id(sync_explorer) + 1) * PAGE_SIZE, &ptl);
	COW_CHECK(ptep != NULL, "race: out of frames");
	get_page(r->fx.data);
	set_pte(ptep, data_pte(&r->fx));
	pte_unmap_unlock(ptep, ptl);
}

static void *race_setup(struct sched *s)
{
	struct rcu_run *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (frame_pool_create(&r->fx.pool, EXPLORE_FRAMES, 2) != 0) {
		free(r);
		return NULL;
	}
	r->fx.pool_free = frame_pool_nr_free(r->fx.pool);
	if (pgtable_init(&r->fx.pgt, r->fx.pool) != 0 ||
	    !(r->fx.data = alloc_page(r->fx.pool, GFP_ZERO))) {
		frame_pool_destroy(r->fx.pool);
		free(r);
		return NULL;
	}
	sched_spawn(s, "mapper0", 0, race_task, r, 0);
	sched_spawn(s, "mapper1", 1, race_task, r, 0);
	return r;
}

/* Three tables below the PGD, no more (none duplicated) and no frame lost
 * (none leaked): PGD + data + 3 tables taken from the pool. */
static int race_verdict(void *state, char *msg, size_t len)
{
	struct rcu_run *r = state;
	unsigned long nfree = frame_pool_nr_free(r->fx.pool);
	int err;

	if (atomic_long_read(&r->fx.pgt.nr_tables) != 4 || nfree != r->fx.pool_free - 5 ||
	    page_ref_count(r->fx.data) != 4) {
		snprintf(msg, len, "%ld tables, %lu frames free, data refcount %d; want 4, %lu, 4",
			 atomic_long_read(&r->fx.pgt.nr_tables), nfree, page_ref_count(r->fx.data),
			 r->fx.pool_free - 5);
		return COW_ECORRUPT;
	}
	err = pgtable_check(&r->fx.pgt, PGTABLE_CHECK_QUIESCENT, msg, len);
	if (err)
		return err;
	pgtable_walk_range(&r->fx.pgt, 0, VA_END, zap_one, &r->fx);
	put_page(r->fx.pool, r->fx.data);
	free_pgd_range(&r->fx.pgt, 0, VA_END); /* scheduler context: RCU is immediate */
	r->clean = true;
	return 0;
}

static const struct explore_prog populate_race_prog = {
	"pgtable-populate-race", 2, race_setup, rcu_run_check, race_verdict, rcu_run_teardown,
};

static void test_concurrent_populate_explore(void **state)
{
	(void)state;
	assert_explore_clean(&populate_race_prog, 1, EXPLORE_RUNS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry_and_indices),
		cmocka_unit_test(test_pte_bit_helpers),
		cmocka_unit_test(test_swap_entry_roundtrip),
		cmocka_unit_test(test_init_destroy_and_enomem),
		cmocka_unit_test(test_map_lookup_clear),
		cmocka_unit_test(test_address_edges_and_boundaries),
		cmocka_unit_test(test_missing_level_returns_null),
		cmocka_unit_test(test_walk_range_visits_mapped_slots),
		cmocka_unit_test(test_free_pgd_range_frees_empty_tables),
		cmocka_unit_test(test_enomem_while_populating),
		cmocka_unit_test(test_misuse_panics),
		cmocka_unit_test(test_concurrent_populate_stress),
		cmocka_unit_test(test_concurrent_populate_explore),
		cmocka_unit_test(test_table_free_rcu_stress),
		cmocka_unit_test(test_table_free_rcu_explore),
		cmocka_unit_test(test_table_free_rcu_explore_checked),
		cmocka_unit_test(test_table_free_immediately_is_caught),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
