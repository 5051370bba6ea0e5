/*
 * Tests of src/mm/swapfile.c: the swap device's slots and counts, page I/O
 * through the real file, injected I/O errors, the validator, and
 * concurrent use under both back ends.
 */
#include "testutil.h"

#include "mm/page.h"
#include "mm/swap.h"
#include "sched/sched.h"

/* A device on a host file, or with state pointing to true, in memory. */
static struct swap_device *dev_on(void **state, unsigned long nr)
{
	struct swap_device *sd;
	bool in_memory = state && *state && *(bool *)*state;

	assert_int_equal(swap_device_create(1, nr, in_memory, &sd), 0);
	return sd;
}

static struct swap_device *dev_new(unsigned long nr)
{
	return dev_on(NULL, nr);
}

static bool in_memory = true;

static void assert_swap_ok(struct swap_device *sd, const unsigned long *refs)
{
	char msg[256];

	if (swap_check(sd, refs, false, msg, sizeof(msg)) != 0)
		fail_msg("swap_check: %s", msg);
}

static void test_create_rejects_bad_arguments(void **state)
{
	struct swap_device *sd = (void *)1;

	(void)state;
	assert_int_equal(swap_device_create(MAX_SWAPFILES, 8, false, &sd), COW_EINVAL);
	assert_null(sd);
	assert_int_equal(swap_device_create(0, 0, true, &sd), COW_EINVAL);
	sd = dev_new(16);
	assert_int_equal(swap_device_size(sd), 16);
	assert_int_equal(swap_device_nr_free(sd), 16);
	swap_device_destroy(sd);
}

static void test_slots_until_full(void **state)
{
	struct swap_device *sd = dev_new(8);
	swp_entry_t e[8], more;

	(void)state;
	for (int i = 0; i < 8; i++) {
		assert_int_equal(swap_alloc_slot(sd, &e[i]), 0);
		assert_int_equal(swp_type(e[i]), 1);
		assert_true(swap_has_cache(sd, e[i]));
		assert_int_equal(swap_count(sd, e[i]), 0);
		for (int j = 0; j < i; j++)
			assert_true(swp_offset(e[j]) != swp_offset(e[i]));
	}
	assert_int_equal(swap_device_nr_free(sd), 0);
	assert_int_equal(swap_alloc_slot(sd, &more), COW_ENOMEM);
	for (int i = 0; i < 8; i++)
		swapcache_free(sd, e[i]);
	assert_int_equal(swap_device_nr_free(sd), 8);
	assert_swap_ok(sd, NULL);
	swap_device_destroy(sd);
}

/* The life of a slot: the swap cache holds it, two PTEs come to refer to
 * it, the cache page goes, then the PTEs. */
static void test_counts_lifecycle(void **state)
{
	struct swap_device *sd = dev_new(4);
	unsigned long refs[4] = {0};
	swp_entry_t e;

	(void)state;
	assert_int_equal(swap_alloc_slot(sd, &e), 0);
	assert_int_equal(swap_duplicate(sd, e), 0);
	assert_int_equal(swap_duplicate(sd, e), 0);
	refs[swp_offset(e)] = 2;
	assert_int_equal(swap_count(sd, e), 2);
	assert_swap_ok(sd, refs);
	swapcache_free(sd, e);
	assert_false(swap_has_cache(sd, e));
	assert_int_equal(swap_device_nr_free(sd), 3);
	swap_free(sd, e);
	swap_free(sd, e);
	assert_int_equal(swap_device_nr_free(sd), 4);
	/* A free slot cannot be duplicated, nor freed again. */
	assert_int_equal(swap_duplicate(sd, e), COW_EINVAL);
	expect_panic(swap_free(sd, e), "no PTE count");
	expect_panic(swapcache_free(sd, e), "no swap cache page");
	expect_panic(swap_count(sd, swp_entry(2, 0)), "not of this device");
	swap_device_destroy(sd);
}

/* One page written alone. */
static int write1(struct swap_device *sd, swp_entry_t e, void *frame)
{
	int err = -1;

	swap_write_pages(sd, &e, &frame, 1, &err);
	return err;
}

/* Through the host file, and (prestate in_memory) through memory. */
static void test_page_io_round_trip(void **state)
{
	struct frame_pool *pool;
	struct swap_device *sd = dev_on(state, 8);
	struct page *a, *b;
	swp_entry_t e1, e2;

	(void)state;
	assert_int_equal(frame_pool_create(&pool, 4, 1), 0);
	a = alloc_page(pool, 0);
	b = alloc_page(pool, GFP_ZERO);
	memset(page_address(pool, a), 0x5c, PAGE_SIZE);
	assert_int_equal(swap_alloc_slot(sd, &e1), 0);
	assert_int_equal(swap_alloc_slot(sd, &e2), 0);
	assert_int_equal(write1(sd, e1, page_address(pool, a)), 0);
	memset(page_address(pool, a), 0x11, PAGE_SIZE);
	assert_int_equal(write1(sd, e2, page_address(pool, a)), 0);
	assert_int_equal(swap_read_page(sd, e1, page_address(pool, b)), 0);
	for (size_t i = 0; i < PAGE_SIZE; i++)
		assert_int_equal(((unsigned char *)page_address(pool, b))[i], 0x5c);
	assert_int_equal(swap_read_page(sd, e2, page_address(pool, b)), 0);
	assert_int_equal(((unsigned char *)page_address(pool, b))[100], 0x11);
	swapcache_free(sd, e1);
	swapcache_free(sd, e2);
	put_page(pool, a);
	put_page(pool, b);
	frame_pool_destroy(pool);
	swap_device_destroy(sd);
}

/* Injected errors are reported, and a failed write does not disturb what
 * other slots hold. */
static void test_injected_errors(void **state)
{
	struct swap_device *sd = dev_new(4);
	static unsigned char buf[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
	swp_entry_t e1, e2;

	(void)state;
	assert_int_equal(swap_alloc_slot(sd, &e1), 0);
	assert_int_equal(swap_alloc_slot(sd, &e2), 0);
	memset(buf, 0x42, sizeof(buf));
	assert_int_equal(write1(sd, e1, buf), 0);
	swap_inject_errors(sd, 0, 1);
	memset(buf, 0x43, sizeof(buf));
	assert_int_equal(write1(sd, e2, buf), COW_EIO);
	assert_int_equal(write1(sd, e1, buf), COW_EIO);
	swap_inject_errors(sd, 2, 0);
	assert_int_equal(swap_read_page(sd, e1, buf), 0);
	assert_int_equal(buf[0], 0x42); /* the failed write changed nothing */
	assert_int_equal(swap_read_page(sd, e1, buf), COW_EIO);
	swap_inject_errors(sd, 0, 0);
	assert_int_equal(swap_read_page(sd, e1, buf), 0);
	swapcache_free(sd, e1);
	swapcache_free(sd, e2);
	assert_swap_ok(sd, NULL);
	swap_device_destroy(sd);
}

/* A batch in no particular slot order, with gaps between slots and an
 * injected failure in the middle of a run: every page that did not fail
 * lands in its own slot, and the failed one leaves its slot as it was. */
static void test_batch_write(void **state)
{
	enum { N = 6, SLOTS = 8 };
	static unsigned char frames[N][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
	static unsigned char buf[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
	/* In slot order, every third page fails: slots 0-1 go in one write,
	 * slot 2 fails, 4-5 go in one write, 7 fails. */
	static const unsigned int slot_of_page[N] = {5, 0, 2, 7, 1, 4};
	struct swap_device *sd = dev_on(state, SLOTS);
	swp_entry_t all[SLOTS], entries[N];
	void *ptrs[N];
	int errs[N];

	(void)state;
	for (unsigned int s = 0; s < SLOTS; s++)
		assert_int_equal(swap_alloc_slot(sd, &all[s]), 0);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(write1(sd, all[2], buf), 0); /* what the failing slots */
	assert_int_equal(write1(sd, all[7], buf), 0); /* held before */
	for (unsigned int i = 0; i < N; i++) {
		entries[i] = all[slot_of_page[i]];
		memset(frames[i], 0x10 + (int)i, PAGE_SIZE);
		ptrs[i] = frames[i];
		errs[i] = -1;
	}
	swap_inject_errors(sd, 0, 3);
	swap_write_pages(sd, entries, ptrs, N, errs);
	swap_inject_errors(sd, 0, 0);
	for (unsigned int i = 0; i < N; i++) {
		bool failed = slot_of_page[i] == 2 || slot_of_page[i] == 7;

		assert_int_equal(errs[i], failed ? COW_EIO : 0);
		assert_int_equal(swap_read_page(sd, entries[i], buf), 0);
		assert_int_equal(buf[0], failed ? 0xee : 0x10 + i);
		assert_int_equal(buf[PAGE_SIZE - 1], failed ? 0xee : 0x10 + i);
	}
	for (unsigned int s = 0; s < SLOTS; s++)
		swapcache_free(sd, all[s]);
	assert_swap_ok(sd, NULL);
	swap_device_destroy(sd);
}

static void test_check_finds_mismatches(void **state)
{
	struct swap_device *sd = dev_new(4);
	unsigned long refs[4] = {0};
	char msg[256];
	swp_entry_t e;

	(void)state;
	assert_int_equal(swap_alloc_slot(sd, &e), 0);
	assert_int_equal(swap_duplicate(sd, e), 0);
	assert_int_equal(swap_check(sd, refs, false, msg, sizeof(msg)), COW_ECORRUPT);
	assert_non_null(strstr(msg, "(W2)"));
	refs[swp_offset(e)] = 1;
	assert_int_equal(swap_check(sd, refs, false, msg, sizeof(msg)), 0);
	swap_free(sd, e);
	swapcache_free(sd, e);
	swap_device_destroy(sd);
	expect_panic(
		{
			struct swap_device *busy = dev_new(2);
			swp_entry_t x;

			swap_alloc_slot(busy, &x);
			swap_device_destroy(busy);
		},
		"slots in use");
}

/* Several CPUs allocate, duplicate and free slots at once. */
struct churn {
	struct swap_device *sd;
	int iters;
};

static void churn_worker(void *arg)
{
	struct churn *c = arg;
	swp_entry_t held[8];
	int n = 0;

	for (int i = 0; i < c->iters; i++) {
		if (n < 8 && (i % 3) != 2 && swap_alloc_slot(c->sd, &held[n]) == 0) {
			task_check(swap_duplicate(c->sd, held[n]) == 0);
			swapcache_free(c->sd, held[n]);
			n++;
		} else if (n > 0) {
			swap_free(c->sd, held[--n]);
		}
	}
	while (n > 0)
		swap_free(c->sd, held[--n]);
}

static void test_churn_stress(void **state)
{
	struct churn c = {dev_new(16), 20000};

	(void)state;
	stress_run(4, churn_worker, &c);
	assert_int_equal(swap_device_nr_free(c.sd), 16);
	assert_swap_ok(c.sd, NULL);
	swap_device_destroy(c.sd);
}

static void *churn_setup(struct sched *s)
{
	struct churn *c = calloc(1, sizeof(*c));

	assert_int_equal(swap_device_create(1, 6, false, &c->sd), 0);
	c->iters = 10;
	sched_spawn(s, "cpu0", 0, churn_worker, c, 0);
	sched_spawn(s, "cpu1", 1, churn_worker, c, 0);
	return c;
}

static int churn_verdict(void *state, char *msg, size_t len)
{
	struct churn *c = state;

	if (swap_device_nr_free(c->sd) != 6) {
		snprintf(msg, len, "%lu of 6 slots free", swap_device_nr_free(c->sd));
		return 1;
	}
	return swap_check(c->sd, NULL, false, msg, len);
}

static void churn_teardown(void *state)
{
	struct churn *c = state;

	if (swap_device_nr_free(c->sd) == 6)
		swap_device_destroy(c->sd);
	free(c);
}

static const struct explore_prog churn_prog = {
	"swap-churn", 2, churn_setup, NULL, churn_verdict, churn_teardown,
};

static void test_churn_explore(void **state)
{
	(void)state;
	assert_explore_clean(&churn_prog, 1, 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_rejects_bad_arguments),
		cmocka_unit_test(test_slots_until_full),
		cmocka_unit_test(test_counts_lifecycle),
		cmocka_unit_test(test_page_io_round_trip),
		cmocka_unit_test_prestate(test_page_io_round_trip, &in_memory),
		cmocka_unit_test(test_injected_errors),
		cmocka_unit_test(test_batch_write),
		cmocka_unit_test_prestate(test_batch_write, &in_memory),
		cmocka_unit_test(test_check_finds_mismatches),
		cmocka_unit_test(test_churn_stress),
		cmocka_unit_test(test_churn_explore),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
