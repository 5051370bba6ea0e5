/*
 * A system destroyed as good as new is kept and made new again for the
 * next cow_system_create with the same options (system.c): it must be
 * indistinguishable from a system just allocated, in its state and in
 * what the same operations then do.
 */
#include "mmtest.h"

#define FRAMES 96
#define CPUS 3

static struct cow_system *make(const char *policy, bool zero_page)
{
	struct cow_system_opts o = {FRAMES, CPUS, policy, !zero_page, 0, 1};
	struct cow_system *sys;

	assert_int_equal(cow_system_create(&o, &sys), 0);
	return sys;
}

/* Work that leaves traces everywhere a system keeps state: pids and mm
 * ids, page tables, the CPU caches and LRU lists, TLBs, a child, a pin,
 * swap (the device made on first use), KSM's tree.  Returns the pfns
 * that back the parent's pages at the end, into pfns[0..8). */
static void use(struct cow_system *sys, unsigned long *pfns)
{
	struct cow_process *p = mmt_process(sys, "p"), *c;
	struct cow_task *t = mmt_task(p, 0), *ct;
	unsigned long addr = mmt_map(t, 8, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	struct cow_pages *pin;

	assert_int_equal(mmt_fill(t, addr, 0x11, 8 * PAGE_SIZE), 0);
	assert_int_equal(cow_fork(t, "c", &c), 0);
	ct = mmt_task(c, 1);
	assert_int_equal(mmt_fill(ct, addr + PAGE_SIZE, 0x22, PAGE_SIZE), 0);
	assert_int_equal(
		cow_gup(t, addr + 2 * PAGE_SIZE, PAGE_SIZE, COW_GUP_PIN | COW_GUP_WRITE, &pin), 0);
	assert_int_equal(mmt_fill(t, addr + 2 * PAGE_SIZE, 0x33, PAGE_SIZE), 0);
	cow_pages_release(pin);
	assert_int_equal(cow_swapout(t, addr + 3 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
	assert_int_equal(cow_madvise(t, addr, 8 * PAGE_SIZE, COW_MADV_MERGEABLE), 0);
	assert_int_equal(cow_ksm_merge(t, NULL), 0);
	assert_true(mmt_holds(t, addr + 3 * PAGE_SIZE, 0x11, PAGE_SIZE));
	assert_int_equal(mmt_fill(t, addr + 5 * PAGE_SIZE, 0x44, PAGE_SIZE), 0);
	for (int i = 0; i < 8; i++) {
		struct page *page = mmt_page(p, addr + (unsigned long)i * PAGE_SIZE);

		pfns[i] = page ? page_to_pfn(sys->pool, page) : PFN_NONE;
	}
	assert_int_equal(cow_process_pid(c), 2);
	assert_system_ok(sys);
	cow_task_destroy(ct);
	cow_process_exit(c);
	cow_task_destroy(t);
	/* p is left for cow_system_destroy to exit. */
}

/* The state a new system starts from, a against b. */
static void assert_same_state(struct cow_system *a, struct cow_system *b)
{
	struct frame_pool *pa = a->pool, *pb = b->pool;

	assert_int_equal(pa->nr, pb->nr);
	assert_memory_equal(pa->pages, pb->pages, pa->nr * sizeof(struct page));
	assert_memory_equal(pa->free_map, pb->free_map,
			    frame_map_words(pa) * sizeof(unsigned long));
	assert_int_equal(pa->free_cursor, pb->free_cursor);
	assert_int_equal(pa->nr_free_list, pb->nr_free_list);
	assert_int_equal(atomic_long_read(&pa->nr_free), atomic_long_read(&pb->nr_free));
	assert_memory_equal(pa->pcp, pb->pcp, sizeof(struct pcp) * (size_t)pa->cpus);
	assert_memory_equal(pa->lru, pb->lru, sizeof(struct lru_list) * (size_t)pa->cpus);
	assert_int_equal(atomic_read(&pa->lru_next), atomic_read(&pb->lru_next));
	assert_int_equal(atomic_long_read(&pa->nr_isolated), atomic_long_read(&pb->nr_isolated));
	assert_memory_equal(a->cpus, b->cpus, sizeof(struct cow_cpu) * (size_t)a->nr_cpus);
	assert_memory_equal(a->ext_refs, b->ext_refs, pa->nr * sizeof(*a->ext_refs));
	assert_ptr_equal(a->policy, b->policy);
	assert_int_equal(a->next_pid, b->next_pid);
	assert_int_equal(atomic_long_read(&a->next_mm_id), atomic_long_read(&b->next_mm_id));
	assert_int_equal(a->zero_page ? (long)page_to_pfn(pa, a->zero_page) : -1,
			 b->zero_page ? (long)page_to_pfn(pb, b->zero_page) : -1);
	assert_null(a->swap);
	assert_null(b->swap);
	assert_null(a->file_caches);
	assert_null(a->ksm_stable);
	assert_true(list_empty(&a->processes) && list_empty(&a->mms) && list_empty(&a->ksm_mms));
	assert_int_equal(a->frames_stored, b->frames_stored);
	assert_int_equal(atomic_long_read(&a->pins_acquired), 0);
	assert_int_equal(atomic_long_read(&a->pins_released), 0);
}

/* After the same work: every frame in the same state (the pointers a
 * struct page may hold, to an anon_vma or a pool, aside). */
static void assert_same_frames(struct cow_system *a, struct cow_system *b)
{
	for (unsigned long pfn = 0; pfn < FRAMES; pfn++) {
		const struct page *x = &a->pool->pages[pfn], *y = &b->pool->pages[pfn];

		assert_int_equal(x->flags, y->flags);
		assert_int_equal(atomic_read(&x->_refcount), atomic_read(&y->_refcount));
		assert_int_equal(atomic_read(&x->_mapcount), atomic_read(&y->_mapcount));
		if (x->flags & BIT_MASK(PG_swapcache))
			assert_int_equal(x->private, y->private);
		if (!(x->flags & BIT_MASK(PG_table))) {
			assert_int_equal(x->index, y->index);
			assert_int_equal(x->lru.next, y->lru.next);
			assert_int_equal(x->lru.prev, y->lru.prev);
		}
	}
	assert_memory_equal(a->pool->free_map, b->pool->free_map,
			    frame_map_words(a->pool) * sizeof(unsigned long));
	assert_memory_equal(a->pool->pcp, b->pool->pcp, sizeof(struct pcp) * CPUS);
}

static void test_reused_system_is_as_new(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++)
		for (int zero = 0; zero < 2; zero++) {
			unsigned long before = system_reuses(), pa[8], pb[8], unused[8];
			struct cow_system *used = make(mm_policies[i], zero), *a, *b;

			use(used, unused);
			cow_system_destroy(used);
			a = make(mm_policies[i], zero);
			assert_int_equal(system_reuses(), before + 1);
			b = make(mm_policies[i], zero); /* the spare is taken: a new one */
			assert_int_equal(system_reuses(), before + 1);
			assert_same_state(a, b);
			/* The same work gives the same frames and the same
			 * state after it. */
			use(a, pa);
			use(b, pb);
			assert_memory_equal(pa, pb, sizeof(pa));
			assert_same_frames(a, b);
			cow_system_destroy(a);
			cow_system_destroy(b); /* the spare now, a freed */
			a = make(mm_policies[i], zero);
			assert_int_equal(system_reuses(), before + 2);
			assert_ptr_equal(a, b);
			cow_system_destroy(a);
		}
}

/* Did the last cow_system_create take the spare?  *count: the reuses
 * before it, brought up to date. */
static bool was_reused(unsigned long *count)
{
	bool reused = system_reuses() != *count;

	*count = system_reuses();
	return reused;
}

/* Only a system left as good as new is kept, and only options that are
 * the same in every respect take it. */
static void test_only_a_clean_system_is_kept(void **state)
{
	struct cow_system_opts big = {(64ul << 20) / PAGE_SIZE + 1, CPUS, "linux-6.5", 1};
	struct cow_system *sys = make("linux-6.5", true), *other;
	unsigned long before;
	struct page *leaked;

	(void)state;
	/* A frame still allocated: not kept. */
	leaked = alloc_page(sys->pool, 0);
	assert_non_null(leaked);
	cow_system_destroy(sys);
	before = system_reuses();
	sys = make("linux-6.5", true);
	assert_false(was_reused(&before));
	/* A pin taken and never given back (the count, not a frame). */
	atomic_long_inc(&sys->pins_acquired);
	cow_system_destroy(sys);
	sys = make("linux-6.5", true);
	assert_false(was_reused(&before));
	cow_system_destroy(sys); /* clean: kept */
	/* A system over 64 MiB: freed, not kept. */
	assert_int_equal(cow_system_create(&big, &other), 0);
	cow_system_destroy(other);
	assert_int_equal(cow_system_create(&big, &other), 0);
	assert_false(was_reused(&before));
	cow_system_destroy(other);
	/* Other options make a new system and leave the spare be ... */
	other = make("linux-2.6.29", true);
	assert_false(was_reused(&before));
	sys = make("linux-6.5", true);
	assert_true(was_reused(&before));
	cow_system_destroy(sys);
	/* ... until a newer spare replaces it. */
	sys = make("linux-6.5", false);
	assert_false(was_reused(&before));
	cow_system_destroy(sys);
	sys = make("linux-6.5", true);
	assert_false(was_reused(&before));
	cow_system_destroy(other);
	other = make("linux-2.6.29", true);
	assert_true(was_reused(&before));
	cow_system_destroy(other);
	cow_system_destroy(sys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reused_system_is_as_new),
		cmocka_unit_test(test_only_a_clean_system_is_kept),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
