/*
 * Tests of src/mm/page.c: the frame pool (allocation, per-CPU caches,
 * exhaustion, leaks), reference counts, the FOLL_PIN bias and
 * page_maybe_dma_pinned, and the page lock, under both back ends.
 */
#include "testutil.h"

#include "mm/page.h"
#include "sched/sched.h"

static struct frame_pool *pool_new(unsigned long nr, int cpus)
{
	struct frame_pool *pool;

	assert_int_equal(frame_pool_create(&pool, nr, cpus), 0);
	return pool;
}

static void assert_pool_healthy(struct frame_pool *pool)
{
	char msg[256] = "";

	if (frames_check(pool, msg, sizeof(msg)) != 0)
		fail_msg("frames_check: %s", msg);
}

static void test_create_rejects_bad_sizes(void **state)
{
	struct frame_pool *pool = (void *)1;

	(void)state;
	assert_int_equal(frame_pool_create(&pool, 0, 1), COW_EINVAL);
	assert_null(pool);
	assert_int_equal(frame_pool_create(&pool, 16, 0), COW_EINVAL);
	assert_int_equal(frame_pool_create(&pool, 16, SYNC_MAX_CPUS + 1), COW_EINVAL);
	assert_int_equal(frame_pool_create(&pool, 1UL << 40, 1), COW_EINVAL);
}

static void test_struct_page_fits_64_bytes(void **state)
{
	(void)state;
	assert_true(sizeof(struct page) <= 64);
}

static void test_alloc_gives_fresh_aligned_frames(void **state)
{
	struct frame_pool *pool = pool_new(64, 1);
	struct page *page = alloc_page(pool, GFP_ZERO);
	char *mem;

	(void)state;
	assert_non_null(page);
	assert_int_equal(page_ref_count(page), 1);
	assert_int_equal(page_mapcount(page), 0);
	assert_false(PageFlag(page, PG_free));
	mem = page_address(pool, page);
	assert_int_equal((uintptr_t)mem % PAGE_SIZE, 0);
	for (size_t i = 0; i < PAGE_SIZE; i++)
		assert_int_equal(mem[i], 0);
	assert_ptr_equal(virt_to_page(pool, mem + 100), page);
	assert_ptr_equal(pfn_to_page(pool, page_to_pfn(pool, page)), page);
	assert_null(virt_to_page(pool, (char *)pool));
	assert_true(pfn_valid(pool, 63));
	assert_false(pfn_valid(pool, 64));
	assert_int_equal(frame_pool_nr_free(pool), 63);
	/* Dirty the frame; a GFP_ZERO allocation must clean it again. */
	memset(mem, 0xab, PAGE_SIZE);
	put_page(pool, page);
	assert_int_equal(frame_pool_nr_free(pool), 64);
	page = alloc_page(pool, GFP_ZERO);
	mem = page_address(pool, page);
	for (size_t i = 0; i < PAGE_SIZE; i++)
		assert_int_equal(mem[i], 0);
	put_page(pool, page);
	assert_pool_healthy(pool);
	frame_pool_destroy(pool);
}

/* copy_frame() copies every byte, and no byte beyond the frame. */
static void test_copy_frame_copies_every_byte(void **state)
{
	struct frame_pool *pool = pool_new(4, 1);
	struct page *from = alloc_page(pool, 0), *to = alloc_page(pool, 0);
	struct page *next = alloc_page(pool, 0);
	unsigned char *src = page_address(pool, from), *dst = page_address(pool, to);
	unsigned char *after = page_address(pool, next);

	(void)state;
	for (size_t i = 0; i < PAGE_SIZE; i++)
		src[i] = (unsigned char)(i * 7 + i / 256 + 3);
	memset(dst, 0xab, PAGE_SIZE);
	memset(after, 0xcd, PAGE_SIZE);
	copy_frame(pool, to, from);
	assert_memory_equal(dst, src, PAGE_SIZE);
	for (size_t i = 0; i < PAGE_SIZE; i++)
		assert_int_equal(after[i], 0xcd);
	put_page(pool, from);
	put_page(pool, to);
	put_page(pool, next);
	frame_pool_destroy(pool);
}

static void test_exhaustion_returns_null_and_recovers(void **state)
{
	enum { NR = 200 };
	struct frame_pool *pool = pool_new(NR, 2);
	struct page *pages[NR];

	(void)state;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < NR; i++) {
			/* Alternate CPUs so frames sit in both caches. */
			sync_cpu = i % 2;
			pages[i] = alloc_page(pool, 0);
			assert_non_null(pages[i]);
		}
		assert_null(alloc_page(pool, 0));
		assert_null(alloc_page(pool, GFP_ZERO));
		assert_int_equal(frame_pool_nr_free(pool), 0);
		assert_pool_healthy(pool);
		for (int i = 0; i < NR; i++) {
			sync_cpu = (i / 7) % 2;
			put_page(pool, pages[i]);
		}
		assert_int_equal(frame_pool_nr_free(pool), NR);
		assert_pool_healthy(pool);
	}
	sync_cpu = 0;
	frame_pool_destroy(pool);
}

static void test_frames_in_other_caches_are_found(void **state)
{
	struct frame_pool *pool = pool_new(40, 2);
	struct page *page;

	(void)state;
	/* CPU 1 takes a batch into its cache and gives the frame back: 39
	 * frames sit in its cache, 8 on the free list. */
	sync_cpu = 1;
	page = alloc_page(pool, 0);
	put_page(pool, page);
	sync_cpu = 0;
	for (int i = 0; i < 40; i++)
		assert_non_null(alloc_page(pool, 0));
	assert_null(alloc_page(pool, 0));
	frame_pool_destroy(pool);
}

static void test_drain_empties_caches(void **state)
{
	struct frame_pool *pool = pool_new(100, 3);
	struct page *p[10];

	(void)state;
	for (int c = 0; c < 3; c++) {
		sync_cpu = c;
		for (int i = 0; i < 10; i++)
			p[i] = alloc_page(pool, 0);
		for (int i = 0; i < 10; i++)
			put_page(pool, p[i]);
	}
	sync_cpu = 0;
	assert_true(pool->nr_free_list < 100);
	frame_pool_drain(pool);
	for (int c = 0; c < 3; c++)
		assert_int_equal(pool->pcp[c].count, 0);
	assert_int_equal(pool->nr_free_list, 100);
	assert_pool_healthy(pool);
	frame_pool_destroy(pool);
}

static void test_refcount_get_put(void **state)
{
	struct frame_pool *pool = pool_new(8, 1);
	struct page *page = alloc_page(pool, 0);

	(void)state;
	get_page(page);
	assert_true(get_page_unless_zero(page));
	assert_int_equal(page_ref_count(page), 3);
	put_page(pool, page);
	put_page(pool, page);
	assert_int_equal(frame_pool_nr_free(pool), 7);
	put_page(pool, page);
	assert_int_equal(frame_pool_nr_free(pool), 8);
	/* A speculative reference on a freed frame must fail. */
	assert_false(get_page_unless_zero(page));
	assert_int_equal(page_ref_count(page), 0);
	frame_pool_destroy(pool);
}

static void test_pin_bias_and_maybe_pinned(void **state)
{
	struct frame_pool *pool = pool_new(8, 1);
	struct page *page = alloc_page(pool, 0);

	(void)state;
	assert_false(page_maybe_dma_pinned(page));
	page_pin(page);
	assert_int_equal(page_ref_count(page), 1 + GUP_PIN_COUNTING_BIAS);
	assert_true(page_maybe_dma_pinned(page));
	unpin_user_page(pool, page);
	assert_false(page_maybe_dma_pinned(page));
	/* Linux's false positive: 1023 plain references look like a pin. */
	for (int i = 0; i < GUP_PIN_COUNTING_BIAS - 1; i++)
		get_page(page);
	assert_true(page_maybe_dma_pinned(page));
	page_ref_sub(pool, page, GUP_PIN_COUNTING_BIAS - 1);
	assert_false(page_maybe_dma_pinned(page));
	put_page(pool, page);
	assert_int_equal(frame_pool_nr_free(pool), 8);
	frame_pool_destroy(pool);
}

/* frames_check() fails, naming the invariant. */
static void assert_pool_corrupt(struct frame_pool *pool, const char *what)
{
	char msg[256] = "";

	assert_int_equal(frames_check(pool, msg, sizeof(msg)), COW_ECORRUPT);
	if (!strstr(msg, what))
		fail_msg("frames_check said '%s', not '%s'", msg, what);
}

/* A PMD-sized folio: aligned, head and tails as page.h lays them out,
 * zeroed whole with GFP_ZERO, freed whole by the last put through any
 * page, and the pool sound throughout. */
static void test_folio_layout_and_free(void **state)
{
	struct frame_pool *pool = pool_new(3 * HPAGE_PMD_NR, 1);
	struct page *small = alloc_page(pool, 0), *head;
	unsigned long pfn;
	char *mem;

	(void)state;
	head = alloc_folio(pool, HPAGE_PMD_ORDER, 0);
	assert_non_null(head);
	pfn = page_to_pfn(pool, head);
	assert_int_equal(pfn, HPAGE_PMD_NR); /* pfn 0's block holds the small page */
	assert_int_equal(frame_pool_nr_free(pool), 2 * HPAGE_PMD_NR - 1);
	assert_true(PageFlag(head, PG_head) && !PageFlag(head, PG_tail));
	assert_int_equal(folio_order(head), HPAGE_PMD_ORDER);
	assert_int_equal(folio_nr_pages(head), HPAGE_PMD_NR);
	assert_int_equal(folio_order(small), 0);
	assert_ptr_equal(compound_head(small), small);
	for (unsigned long i = 0; i < HPAGE_PMD_NR; i++) {
		struct page *p = head + i;

		assert_ptr_equal(compound_head(p), head);
		assert_true(PageCompound(p));
		assert_int_equal(PageFlag(p, PG_tail), i > 0);
		assert_int_equal(page_ref_count(p), 1);
		assert_int_equal(page_mapcount(p), 0);
	}
	assert_pool_healthy(pool);
	/* Dirty every frame; GFP_ZERO must clean the whole folio. */
	mem = page_address(pool, head);
	memset(mem, 0xab, HPAGE_PMD_NR * PAGE_SIZE);
	put_page(pool, head + 77); /* the last reference, through a tail */
	assert_int_equal(frame_pool_nr_free(pool), 3 * HPAGE_PMD_NR - 1);
	assert_true(PageFlag(head + 77, PG_free) && !PageFlag(head + 77, PG_tail));
	assert_pool_healthy(pool);
	head = alloc_folio(pool, HPAGE_PMD_ORDER, GFP_ZERO);
	assert_int_equal(page_to_pfn(pool, head), pfn);
	for (unsigned long i = 0; i < HPAGE_PMD_NR * PAGE_SIZE; i++)
		if (mem[i] != 0)
			fail_msg("byte %lu of a GFP_ZERO folio is 0x%x", i, (unsigned char)mem[i]);
	/* Small orders too, aligned to their size. */
	struct page *four = alloc_folio(pool, 2, 0);
	assert_int_equal(page_to_pfn(pool, four) % 4, 0);
	assert_true(page_to_pfn(pool, four) < HPAGE_PMD_NR);
	assert_int_equal(folio_nr_pages(four), 4);
	assert_pool_healthy(pool);
	put_page(pool, four);
	put_page(pool, head);
	put_page(pool, small);
	assert_int_equal(frame_pool_nr_free(pool), 3 * HPAGE_PMD_NR);
	assert_pool_healthy(pool);
	frame_pool_destroy(pool);
}

/* References, pins and the lock taken through any page are the folio's;
 * a subpage's mapcount adds the folio's entire mapcount. */
static void test_folio_counts_through_tails(void **state)
{
	struct frame_pool *pool = pool_new(HPAGE_PMD_NR, 1);
	struct page *head = alloc_folio(pool, HPAGE_PMD_ORDER, 0);

	(void)state;
	get_page(head + 5);
	assert_true(get_page_unless_zero(head + 300));
	assert_true(page_ref_add_unless_zero(head + 511, 2));
	assert_int_equal(atomic_read(&head->_refcount), 5);
	assert_int_equal(atomic_read(&head[5]._refcount), 0);
	/* Pins: exact, one reference each, no bias. */
	assert_false(page_maybe_dma_pinned(head + 9));
	page_pin(head + 9);
	page_pin(head + 10);
	assert_int_equal(atomic_read(&head->_pincount), 2);
	assert_int_equal(page_ref_count(head + 400), 7);
	assert_true(page_maybe_dma_pinned(head + 400));
	unpin_user_page(pool, head + 10);
	unpin_user_page(pool, head + 400);
	assert_false(page_maybe_dma_pinned(head));
	assert_int_equal(page_ref_count(head), 5);
	expect_panic(unpin_user_page(pool, head + 3), "unpin of unpinned");
	/* Mapcounts: own PTEs, plus the PMDs that map the whole folio. */
	atomic_inc(&head[3]._mapcount);
	atomic_add(2, &head[1]._entire_mapcount);
	assert_int_equal(page_mapcount(head + 3), 3);
	assert_int_equal(page_mapcount(head + 4), 2);
	assert_int_equal(folio_entire_mapcount(head), 2);
	atomic_dec(&head[3]._mapcount);
	atomic_sub(2, &head[1]._entire_mapcount);
	/* The lock is the head's. */
	assert_true(trylock_page(head + 42));
	assert_true(PageLocked(head) && PageLocked(head + 7));
	assert_false(trylock_page(head));
	unlock_page(head + 1);
	assert_false(PageLocked(head));
	assert_pool_healthy(pool);
	page_ref_sub(pool, head + 2, 4);
	assert_int_equal(frame_pool_nr_free(pool), 0);
	put_page(pool, head + 100);
	assert_int_equal(frame_pool_nr_free(pool), HPAGE_PMD_NR);
	assert_false(get_page_unless_zero(head));
	frame_pool_destroy(pool);
}

/* No aligned block of free frames, no folio; frames parked in CPU caches
 * still count; freeing a mapped or pinned folio is caught. */
static void test_folio_alloc_needs_an_aligned_block(void **state)
{
	struct frame_pool *pool = pool_new(2 * HPAGE_PMD_NR, 2);
	struct page *pages[2 * HPAGE_PMD_NR + 1], *head; /* + the NULL that ends it */
	unsigned long n = 0;

	(void)state;
	while ((pages[n] = alloc_page(pool, 0)) != NULL)
		n++;
	assert_int_equal(n, 2 * HPAGE_PMD_NR);
	/* Keep one frame in each half: 1022 frames free, no block. */
	for (unsigned long i = 0; i < n; i++)
		if (i != 3 && i != HPAGE_PMD_NR + 3)
			put_page(pool, pages[i]);
	assert_null(alloc_folio(pool, HPAGE_PMD_ORDER, 0));
	assert_int_equal(frame_pool_nr_free(pool), 2 * HPAGE_PMD_NR - 2);
	assert_pool_healthy(pool);
	/* The second half's frame goes back to this CPU's cache, not the
	 * free list; the folio must still be found. */
	put_page(pool, pages[HPAGE_PMD_NR + 3]);
	head = alloc_folio(pool, HPAGE_PMD_ORDER, 0);
	assert_non_null(head);
	assert_int_equal(page_to_pfn(pool, head), HPAGE_PMD_NR);
	/* Smaller orders fit beside the kept frame, aligned. */
	assert_int_equal(page_to_pfn(pool, alloc_folio(pool, 8, 0)), HPAGE_PMD_NR / 2);
	assert_int_equal(page_to_pfn(pool, alloc_folio(pool, 1, 0)), 0);
	assert_int_equal(page_to_pfn(pool, alloc_folio(pool, 7, 0)), HPAGE_PMD_NR / 4);
	assert_int_equal(page_to_pfn(pool, alloc_folio(pool, 6, 0)), HPAGE_PMD_NR / 8);
	assert_null(alloc_folio(pool, 6, 0)); /* 0..63 holds frames 0, 1 and 3 */
	assert_pool_healthy(pool);
	atomic_inc(&head[7]._mapcount);
	expect_panic(put_page(pool, head), "mapcount 1");
	frame_pool_destroy(pool);
}

/* frames_check() catches each way a folio can be malformed (F5). */
static void test_folio_invariants_catch_corruption(void **state)
{
	struct frame_pool *pool = pool_new(HPAGE_PMD_NR, 1);
	struct page *head = alloc_folio(pool, 4, 0);

	(void)state;
	assert_pool_healthy(pool);
	head[3].lru.next = 2;
	assert_pool_corrupt(pool, "tail 3 of the folio at pfn 0");
	head[3].lru.next = 3;
	atomic_set(&head[15]._refcount, 1);
	assert_pool_corrupt(pool, "tail 15");
	atomic_set(&head[15]._refcount, 0);
	SetPageFlag(&head[2], PG_lru);
	assert_pool_corrupt(pool, "tail 2");
	ClearPageFlag(&head[2], PG_lru);
	head[1].private = 12;
	assert_pool_corrupt(pool, "folio head of order 12");
	head[1].private = 4;
	atomic_set(&head->_pincount, 2);
	assert_pool_corrupt(pool, "pincount 2");
	atomic_set(&head->_pincount, 0);
	assert_pool_healthy(pool);
	/* A tail left behind by a folio that is no more. */
	struct page *small = alloc_page(pool, 0);
	SetPageFlag(small, PG_tail);
	assert_pool_corrupt(pool, "a tail outside any folio");
	ClearPageFlag(small, PG_tail);
	put_page(pool, small);
	put_page(pool, head);
	assert_pool_healthy(pool);
	frame_pool_destroy(pool);
}

static void test_misuse_is_caught(void **state)
{
	struct frame_pool *pool = pool_new(8, 1);
	struct page *page = alloc_page(pool, 0);

	(void)state;
	expect_panic(unpin_user_page(pool, page), "holds no pin");
	put_page(pool, page);
	expect_panic(free_page(pool, page), "double free");
	expect_panic(put_page(pool, page), "went negative");
	frame_pool_destroy(pool);
}

/* Threads allocate, stamp, verify and free frames from a pool too small
 * for all of them: no frame is ever handed to two owners, exhaustion is
 * survived, and nothing leaks. */
struct churn {
	struct frame_pool *pool;
	int iters;
	long failures;
};

static void churn_worker(void *arg)
{
	struct churn *c = arg;
	struct page *held[48];
	int n = 0;
	unsigned int rnd = (unsigned int)smp_processor_id() * 2654435761u + 1;

	for (int i = 0; i < c->iters; i++) {
		rnd = rnd * 1103515245u + 12345u;
		if (n < 48 && (rnd >> 16) % 3 != 0) {
			struct page *p = alloc_page(c->pool, 0);

			if (!p) {
				__atomic_fetch_add(&c->failures, 1, __ATOMIC_RELAXED);
				continue;
			}
			memset(page_address(c->pool, p), smp_processor_id() + 1, 64);
			held[n++] = p;
		} else if (n > 0) {
			struct page *p = held[--n];
			unsigned char *m = page_address(c->pool, p);

			for (int b = 0; b < 64; b++)
				task_check(m[b] == smp_processor_id() + 1);
			put_page(c->pool, p);
		}
	}
	while (n > 0)
		put_page(c->pool, held[--n]);
}

static void test_churn_stress(void **state)
{
	struct churn c = {pool_new(40, 4), 100000, 0};

	(void)state;
	stress_run(4, churn_worker, &c);
	assert_int_equal(frame_pool_nr_free(c.pool), 40);
	assert_true(c.failures > 0); /* one thread alone can empty it */
	assert_pool_healthy(c.pool);
	frame_pool_destroy(c.pool);
}

static void *churn_setup(struct sched *s)
{
	struct churn *c = calloc(1, sizeof(*c));

	c->pool = pool_new(40, 2);
	c->iters = 12;
	sched_spawn(s, "cpu0", 0, churn_worker, c, 0);
	sched_spawn(s, "cpu1", 1, churn_worker, c, 0);
	return c;
}

static int churn_check(void *state, char *msg, size_t len)
{
	return frames_check_step(((struct churn *)state)->pool, NULL, true, msg, len);
}

static int churn_verdict(void *state, char *msg, size_t len)
{
	struct churn *c = state;

	if (frame_pool_nr_free(c->pool) == 40)
		return frames_check(c->pool, msg, len);
	snprintf(msg, len, "leak: %lu of 40 frames free", frame_pool_nr_free(c->pool));
	return 1;
}

static void churn_teardown(void *state)
{
	struct churn *c = state;

	frame_pool_destroy(c->pool);
	free(c);
}

static const struct explore_prog churn_prog = {
	"frame-churn", 2, churn_setup, churn_check, churn_verdict, churn_teardown,
};

static void test_churn_explore_checked_every_step(void **state)
{
	(void)state;
	assert_explore_clean(&churn_prog, 1, 500);
}

/* The page lock excludes, and wait_on_page_locked waits. */
struct locker {
	struct frame_pool *pool;
	struct page *page;
	int inside;
	long count;
	int iters;
};

static void lock_worker(void *arg)
{
	struct locker *l = arg;

	for (int i = 0; i < l->iters; i++) {
		lock_page(l->page);
		task_check(READ_ONCE(l->inside) == 0);
		WRITE_ONCE(l->inside, 1);
		WRITE_ONCE(l->count, READ_ONCE(l->count) + 1);
		WRITE_ONCE(l->inside, 0);
		unlock_page(l->page);
		wait_on_page_locked(l->page);
		/* refcount updates do not disturb the lock bit */
		get_page(l->page);
		put_page(l->pool, l->page);
	}
}

static void test_page_lock_stress(void **state)
{
	struct locker l = {.pool = pool_new(8, 4), .iters = 50000};

	(void)state;
	l.page = alloc_page(l.pool, 0);
	assert_true(trylock_page(l.page));
	assert_false(trylock_page(l.page));
	assert_true(PageLocked(l.page));
	unlock_page(l.page);
	stress_run(4, lock_worker, &l);
	assert_int_equal(l.count, 4 * 50000);
	assert_false(PageLocked(l.page));
	put_page(l.pool, l.page);
	frame_pool_destroy(l.pool);
}

static void *locker_setup(struct sched *s)
{
	struct locker *l = calloc(1, sizeof(*l));

	l->pool = pool_new(8, 2);
	l->page = alloc_page(l->pool, 0);
	l->iters = 3;
	sched_spawn(s, "cpu0", 0, lock_worker, l, 0);
	sched_spawn(s, "cpu1", 1, lock_worker, l, 0);
	return l;
}

static int locker_verdict(void *state, char *msg, size_t len)
{
	struct locker *l = state;

	if (l->count == 6 && !PageLocked(l->page))
		return 0;
	snprintf(msg, len, "count %ld", l->count);
	return 1;
}

static void locker_teardown(void *state)
{
	struct locker *l = state;

	frame_pool_destroy(l->pool);
	free(l);
}

static const struct explore_prog locker_prog = {
	"page-lock", 2, locker_setup, NULL, locker_verdict, locker_teardown,
};

static void test_page_lock_explore(void **state)
{
	(void)state;
	assert_explore_clean(&locker_prog, 1, 2000);
}

/* The LRU: newest at the head, isolation from the tail with a reference,
 * the last put of a listed page takes it off, F4 catches a broken list. */
static void test_lru(void **state)
{
	struct frame_pool *pool = pool_new(16, 1);
	struct page *p[4], *got[4];
	char msg[256];

	(void)state;
	for (int i = 0; i < 4; i++) {
		p[i] = alloc_page(pool, 0);
		lru_add(pool, p[i]);
		assert_true(PageFlag(p[i], PG_lru));
	}
	assert_int_equal(lru_size(pool), 4);
	assert_pool_healthy(pool);
	/* Freed while listed: off the list, and the frame is clean. */
	put_page(pool, p[1]);
	assert_int_equal(lru_size(pool), 3);
	assert_pool_healthy(pool);
	/* Oldest first, each with a reference of the isolator's. */
	assert_int_equal(lru_isolate(pool, got, 2), 2);
	assert_ptr_equal(got[0], p[0]);
	assert_ptr_equal(got[1], p[2]);
	assert_int_equal(page_ref_count(p[0]), 2);
	assert_false(PageFlag(p[0], PG_lru));
	assert_int_equal(lru_size(pool), 1);
	assert_pool_healthy(pool);
	/* p[0] goes back, now the newest; p[2] stays off the list. */
	lru_add(pool, got[0]);
	put_page(pool, got[0]);
	put_page(pool, got[1]);
	assert_int_equal(lru_isolate(pool, got, 4), 2);
	assert_ptr_equal(got[0], p[3]);
	assert_ptr_equal(got[1], p[0]);
	/* Negative control: a PG_lru page the list does not hold. */
	SetPageFlag(p[3], PG_lru);
	assert_int_equal(frames_check(pool, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "(F4)"));
	ClearPageFlag(p[3], PG_lru);
	for (int i = 0; i < 2; i++)
		put_page(pool, got[i]);
	put_page(pool, p[0]);
	put_page(pool, p[2]);
	put_page(pool, p[3]);
	assert_int_equal(frame_pool_nr_free(pool), 16);
	assert_pool_healthy(pool);
	frame_pool_destroy(pool);
}

/* One LRU list per CPU: a page goes on the list of the CPU that adds it,
 * a put from another CPU takes it off the right list, isolation takes the
 * lists in turn, and F4 catches a page that names the wrong list. */
static void test_lru_per_cpu(void **state)
{
	struct frame_pool *pool = pool_new(16, 2);
	struct page *p[4], *got[4];
	char msg[256];

	(void)state;
	for (int i = 0; i < 4; i++) { /* p[0], p[2] on CPU 0's list; p[1], p[3] on CPU 1's */
		sync_cpu = i % 2;
		p[i] = alloc_page(pool, 0);
		lru_add(pool, p[i]);
	}
	sync_cpu = 0;
	assert_int_equal(lru_size(pool), 4);
	assert_pool_healthy(pool);
	put_page(pool, p[3]); /* CPU 0 frees a page on CPU 1's list */
	assert_int_equal(lru_size(pool), 3);
	assert_pool_healthy(pool);
	/* A batch from the first list, the rest from the next. */
	assert_int_equal(lru_isolate(pool, got, 3), 3);
	assert_ptr_equal(got[0], p[0]);
	assert_ptr_equal(got[1], p[2]);
	assert_ptr_equal(got[2], p[1]);
	for (int i = 0; i < 3; i++) {
		lru_add(pool, got[i]); /* back, on CPU 0's list */
		put_page(pool, got[i]);
	}
	lru_isolated_done(pool, 3);
	/* The next call starts at CPU 1's list, empty now: CPU 0's oldest. */
	assert_int_equal(lru_isolate(pool, got, 1), 1);
	assert_ptr_equal(got[0], p[0]);
	lru_add(pool, got[0]);
	put_page(pool, got[0]);
	lru_isolated_done(pool, 1);
	/* Negative control: a listed page that names another list. */
	p[2]->flags ^= 1UL << PG_LRU_LIST_SHIFT;
	assert_int_equal(frames_check(pool, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "names list 1 (F4)"));
	p[2]->flags ^= 1UL << PG_LRU_LIST_SHIFT;
	assert_pool_healthy(pool);
	for (int i = 0; i < 3; i++)
		put_page(pool, p[i]);
	assert_int_equal(lru_size(pool), 0);
	assert_int_equal(frame_pool_nr_free(pool), 16);
	assert_pool_healthy(pool);
	frame_pool_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_rejects_bad_sizes),
		cmocka_unit_test(test_struct_page_fits_64_bytes),
		cmocka_unit_test(test_alloc_gives_fresh_aligned_frames),
		cmocka_unit_test(test_copy_frame_copies_every_byte),
		cmocka_unit_test(test_exhaustion_returns_null_and_recovers),
		cmocka_unit_test(test_frames_in_other_caches_are_found),
		cmocka_unit_test(test_drain_empties_caches),
		cmocka_unit_test(test_refcount_get_put),
		cmocka_unit_test(test_pin_bias_and_maybe_pinned),
		cmocka_unit_test(test_folio_layout_and_free),
		cmocka_unit_test(test_folio_counts_through_tails),
		cmocka_unit_test(test_folio_alloc_needs_an_aligned_block),
		cmocka_unit_test(test_folio_invariants_catch_corruption),
		cmocka_unit_test(test_misuse_is_caught),
		cmocka_unit_test(test_churn_stress),
		cmocka_unit_test(test_churn_explore_checked_every_step),
		cmocka_unit_test(test_page_lock_stress),
		cmocka_unit_test(test_page_lock_explore),
		cmocka_unit_test(test_lru),
		cmocka_unit_test(test_lru_per_cpu),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
