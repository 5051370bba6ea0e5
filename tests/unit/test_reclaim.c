/*
 * Tests of src/mm/reclaim.c and swap-in (fault.c): pages swapped out
 * through the reverse map and back in, across fork, under each policy's
 * reclaim and reuse rules, with GUP references held, and with injected
 * swap I/O errors that must lose nothing.
 */
#include "mmtest.h"

#define FRAMES 256

struct rt {
	struct cow_system *sys;
	struct cow_process *p;
	struct cow_task *t;
	unsigned long a;
};

static struct rt rt_new(const char *policy)
{
	struct rt r;

	r.sys = mmt_system(policy, FRAMES, 4, true);
	r.p = mmt_process(r.sys, "parent");
	r.t = mmt_task(r.p, 0);
	r.a = mmt_map(r.t, 4, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	return r;
}

static void rt_free(struct rt *r)
{
	assert_system_ok(r->sys);
	cow_task_destroy(r->t);
	cow_process_exit(r->p);
	assert_all_frames_free(r->sys, FRAMES);
	if (r->sys->swap)
		assert_int_equal(swap_device_nr_free(r->sys->swap), swap_device_size(r->sys->swap));
	cow_system_destroy(r->sys);
}

static bool swapped(struct cow_process *p, unsigned long addr)
{
	return is_swap_pte(mmt_pte(p, addr));
}

static void test_swap_out_and_in(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct rt r = rt_new(mm_policies[i]);
		unsigned long before;

		assert_int_equal(mmt_fill(r.t, r.a, 0x5a, 2 * PAGE_SIZE), 0);
		before = cow_system_free_frames(r.sys);
		assert_int_equal(cow_swapout(r.t, r.a, 2 * PAGE_SIZE), 0);
		assert_true(swapped(r.p, r.a) && swapped(r.p, r.a + PAGE_SIZE));
		assert_int_equal(cow_system_free_frames(r.sys), before + 2);
		assert_system_ok(r.sys);
		/* A read faults the data back in, read-only unless exclusive. */
		assert_true(mmt_holds(r.t, r.a, 0x5a, 2 * PAGE_SIZE));
		assert_false(swapped(r.p, r.a));
		assert_system_ok(r.sys);
		assert_int_equal(mmt_fill(r.t, r.a, 0x6b, PAGE_SIZE), 0);
		assert_true(mmt_holds(r.t, r.a, 0x6b, PAGE_SIZE));
		assert_int_equal(cow_swapout(r.t, 0x1000, PAGE_SIZE), 0); /* nothing there */
		assert_int_equal(cow_swapout(r.t, r.a, 0), COW_EINVAL);
		rt_free(&r);
	}
}

/* Swapped out while shared after fork: both PTEs become swap entries, and
 * copy-on-write still holds in both directions after swap-in. */
static void test_swap_across_fork(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct rt r = rt_new(mm_policies[i]);
		struct cow_process *c;
		struct cow_task *ct;

		assert_int_equal(mmt_fill(r.t, r.a, 0x11, 2 * PAGE_SIZE), 0);
		assert_int_equal(cow_fork(r.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_int_equal(cow_swapout(r.t, r.a, 2 * PAGE_SIZE), 0);
		assert_true(swapped(r.p, r.a) && swapped(c, r.a));
		assert_system_ok(r.sys);
		/* The child swaps in and writes; the parent keeps its data. */
		assert_int_equal(mmt_fill(ct, r.a, 0x22, PAGE_SIZE), 0);
		assert_true(mmt_holds(r.t, r.a, 0x11, PAGE_SIZE));
		/* The parent writes page 1 first: no leak into the child. */
		assert_int_equal(mmt_fill(r.t, r.a + PAGE_SIZE, 0x33, PAGE_SIZE), 0);
		assert_true(mmt_holds(ct, r.a + PAGE_SIZE, 0x11, PAGE_SIZE));
		assert_true(mmt_holds(ct, r.a, 0x22, PAGE_SIZE));
		/* Fork of a swap PTE. */
		assert_int_equal(cow_swapout(r.t, r.a + 2 * PAGE_SIZE, PAGE_SIZE), 0);
		assert_system_ok(r.sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		rt_free(&r);
	}
}

/* A pinned page under reclaim: linux-6.5 keeps it mapped (5.11/5.19), so
 * the pin and the page table still agree after the next write.
 * linux-2.6.29 unmaps it; the page stays in the swap cache (the pin's
 * reference), and swap-in with mapcount + swapcount == 1 reuses it, so
 * the pin still agrees: the 2009 thread's "safe" case of ab967d86015a. */
/* Each era's reclaim rule, with a long-term pin and then with a plain
 * reference (direct I/O until 6.5): linux-2.6.7 keeps any page with a
 * raised refcount mapped (2.6.7's rule), linux-2.6.29 unmaps both,
 * linux-6.5 keeps the maybe-pinned page only. */
static void test_pinned_page_under_reclaim(void **state)
{
	static const char *const policies[] = {"linux-2.6.7", "linux-2.6.29", "linux-6.5"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		struct rt r = rt_new(policies[i]);
		enum reclaim_rule rule = r.sys->policy->reclaim;
		bool keeps = rule != RECLAIM_UNMAP_ANY;
		struct page *ref;
		struct cow_pages *pin;
		unsigned char seen;

		assert_int_equal(mmt_fill(r.t, r.a, 0x11, PAGE_SIZE), 0);
		assert_int_equal(cow_gup(r.t, r.a, PAGE_SIZE,
					 COW_GUP_PIN | COW_GUP_LONGTERM | COW_GUP_WRITE, &pin),
				 0);
		assert_int_equal(cow_swapout(r.t, r.a, PAGE_SIZE), 0);
		assert_int_equal(swapped(r.p, r.a), !keeps);
		assert_system_ok(r.sys);
		assert_int_equal(mmt_fill(r.t, r.a, 0x44, PAGE_SIZE), 0);
		cow_pages_read(pin, 0, &seen, 1);
		assert_int_equal(seen, 0x44);
		cow_pages_release(pin);
		/* A plain reference on the second page. */
		assert_int_equal(mmt_fill(r.t, r.a + PAGE_SIZE, 0x55, PAGE_SIZE), 0);
		assert_int_equal(get_user_pages(r.p->mm, r.a + PAGE_SIZE, 1, FOLL_GET, &ref), 1);
		assert_int_equal(cow_swapout(r.t, r.a + PAGE_SIZE, PAGE_SIZE), 0);
		assert_int_equal(swapped(r.p, r.a + PAGE_SIZE),
				 rule != RECLAIM_KEEP_RAISED_REFCOUNT);
		assert_system_ok(r.sys);
		gup_put_pages(r.sys, &ref, 1, FOLL_GET);
		assert_true(mmt_holds(r.t, r.a + PAGE_SIZE, 0x55, PAGE_SIZE));
		rt_free(&r);
	}
}

/* A failed swap write keeps the page: nothing is lost, and a failed read
 * fails the access with an error, once. */
static void test_swap_io_errors_lose_nothing(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct rt r = rt_new(mm_policies[i]);
		unsigned char b;

		assert_int_equal(mmt_fill(r.t, r.a, 0x77, 2 * PAGE_SIZE), 0);
		/* Make the device, then fail every write. */
		assert_int_equal(cow_swapout(r.t, r.a + PAGE_SIZE, PAGE_SIZE), 0);
		swap_inject_errors(r.sys->swap, 0, 1);
		assert_int_equal(cow_swapout(r.t, r.a, PAGE_SIZE), 0);
		assert_system_ok(r.sys);
		assert_true(mmt_holds(r.t, r.a, 0x77, PAGE_SIZE));
		/* Now fail the next read: the fault reports it. */
		swap_inject_errors(r.sys->swap, 1, 0);
		assert_int_equal(cow_read(r.t, r.a + PAGE_SIZE, &b, 1), COW_EIO);
		swap_inject_errors(r.sys->swap, 0, 0);
		assert_true(mmt_holds(r.t, r.a + PAGE_SIZE, 0x77, PAGE_SIZE));
		rt_free(&r);
	}
}

/* Reclaim and accesses race on threads. */
struct race {
	struct rt r;
	struct cow_task *t2;
	int iters;
	bool passed; /* explore: the verdict held, teardown may run */
};

/* No room in the swap cache for a page being swapped out (an injected
 * COW_ENOMEM of swap_cache_add): its slot goes back and the page stays
 * mapped, its data in place.  Once add_to_swap asserted that inserting
 * a fresh slot always succeeds, and aborted. */
static void test_swap_cache_insert_failure_keeps_page(void **state)
{
	struct rt r = rt_new("linux-6.5");

	(void)state;
	assert_int_equal(mmt_fill(r.t, r.a, 0x3c, PAGE_SIZE), 0);
	cow_fault_arm(1, FI_SWAP_CACHE_ADD);
	assert_int_equal(cow_swapout(r.t, r.a, PAGE_SIZE), COW_ENOMEM);
	assert_int_equal(cow_fault_fired(), FI_SWAP_CACHE_ADD);
	cow_fault_disarm();
	assert_false(swapped(r.p, r.a));
	assert_int_equal(swap_device_nr_free(r.sys->swap), swap_device_size(r.sys->swap));
	assert_int_equal(page_ref_count(mmt_page(r.p, r.a)), 1);
	assert_system_ok(r.sys);
	assert_true(mmt_holds(r.t, r.a, 0x3c, PAGE_SIZE));
	/* The next try swaps it out. */
	assert_int_equal(cow_swapout(r.t, r.a, PAGE_SIZE), 0);
	assert_true(swapped(r.p, r.a));
	assert_true(mmt_holds(r.t, r.a, 0x3c, PAGE_SIZE));
	rt_free(&r);
}

/* Swap full: the pages that found a slot are swapped out, the others
 * stay, and the caller hears COW_ENOMEM (MADV_PAGEOUT would say 0). */
static void test_swapout_with_swap_full_says_so(void **state)
{
	struct cow_system *sys = mmt_system_swap("linux-6.5", FRAMES, 1, 2);
	struct cow_process *p = mmt_process(sys, "p");
	struct cow_task *t = mmt_task(p, 0);
	unsigned long a = mmt_map(t, 2, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);

	(void)state;
	assert_int_equal(mmt_fill(t, a, 0x42, 2 * PAGE_SIZE), 0);
	assert_int_equal(cow_swapout(t, a, 2 * PAGE_SIZE), COW_ENOMEM);
	assert_true(swapped(p, a));
	assert_false(swapped(p, a + PAGE_SIZE));
	assert_system_ok(sys);
	assert_true(mmt_holds(t, a, 0x42, 2 * PAGE_SIZE));
	cow_task_destroy(t);
	cow_process_exit(p);
	assert_all_frames_free(sys, FRAMES);
	cow_system_destroy(sys);
}

static void race_thread(void *arg)
{
	struct race *x = arg;

	for (int i = 0; i < x->iters; i++) {
		if (smp_processor_id() == 0)
			task_check(cow_swapout(x->r.t, x->r.a, 4 * PAGE_SIZE) == 0);
		else
			task_check(mmt_fill(x->t2, x->r.a + (unsigned long)(i % 4) * PAGE_SIZE,
					    (i % 4) + 1, PAGE_SIZE) == 0);
	}
}

static void test_reclaim_races_writers_stress(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct race x = {rt_new(mm_policies[i]), NULL, 2000};

		x.t2 = mmt_task(x.r.p, 1);
		stress_run(2, race_thread, &x);
		for (int k = 0; k < 4; k++)
			assert_true(mmt_holds(x.r.t, x.r.a + (unsigned long)k * PAGE_SIZE, k + 1,
					      PAGE_SIZE));
		cow_task_destroy(x.t2);
		rt_free(&x.r);
	}
}

/* The same race under the explorer, the invariants checked after every
 * step (mapcount, refcount with the swap cache, swap counts). */
static void *race_setup(struct sched *s, const char *policy)
{
	struct race *x = calloc(1, sizeof(*x));

	x->r = rt_new(policy);
	x->t2 = mmt_task(x->r.p, 1);
	x->iters = 3;
	assert_int_equal(mmt_fill(x->r.t, x->r.a, 0x09, 4 * PAGE_SIZE), 0);
	sched_spawn(s, "reclaim", 0, race_thread, x, 0);
	sched_spawn(s, "writer", 1, race_thread, x, 0);
	return x;
}

static void *race_setup_old(struct sched *s)
{
	return race_setup(s, "linux-2.6.29");
}

static void *race_setup_new(struct sched *s)
{
	return race_setup(s, "linux-6.5");
}

static int race_check(void *state, char *msg, size_t len)
{
	return mmt_step_check(((struct race *)state)->r.sys, msg, len);
}

static int race_verdict(void *state, char *msg, size_t len)
{
	struct race *x = state;

	for (int k = 0; k < 3; k++)
		if (!mmt_holds(x->r.t, x->r.a + (unsigned long)k * PAGE_SIZE, k + 1, PAGE_SIZE)) {
			snprintf(msg, len, "page %d lost its write", k);
			return 1;
		}
	x->passed = cow_system_check(x->r.sys, 1, msg, len) == 0;
	return !x->passed;
}

/* A failed run may leave locks held by abandoned tasks: only a run that
 * passed is torn down (a failure fails the test anyway). */
static void race_teardown(void *state)
{
	struct race *x = state;

	if (x->passed) {
		cow_task_destroy(x->t2);
		rt_free(&x->r);
	}
	free(x);
}

static const struct explore_prog race_old = {
	"reclaim-writer-2.6.29", 3, race_setup_old, race_check, race_verdict, race_teardown,
};
static const struct explore_prog race_new = {
	"reclaim-writer-6.5", 3, race_setup_new, race_check, race_verdict, race_teardown,
};

/* Four times as much memory as there are frames: faults reclaim the
 * oldest pages on demand, every page keeps its own bytes through swap-out
 * and swap-in, fork works under the pressure, and at the end every frame
 * and every slot is free. */
static void test_memory_larger_than_the_pool(void **state)
{
	enum { SMALL = 48, PAGES = 4 * SMALL };

	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct cow_system *sys = mmt_system_swap(mm_policies[i], SMALL, 8 * SMALL, 2);
		struct cow_process *p, *c;
		struct cow_task *t, *ct;
		unsigned long a;

		p = mmt_process(sys, "p");
		t = mmt_task(p, 0);
		a = mmt_map(t, PAGES, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		for (unsigned long n = 0; n < PAGES; n++)
			assert_int_equal(mmt_fill(t, a + n * PAGE_SIZE, (int)n, PAGE_SIZE), 0);
		assert_true(swap_device_nr_free(sys->swap) < swap_device_size(sys->swap));
		for (unsigned long n = 0; n < PAGES; n++)
			assert_true(mmt_holds(t, a + n * PAGE_SIZE, (int)n, PAGE_SIZE));
		assert_system_ok(sys);
		assert_int_equal(cow_fork(t, "c", &c), 0);
		ct = mmt_task(c, 1);
		for (unsigned long n = 0; n < PAGES; n += 2)
			assert_int_equal(mmt_fill(ct, a + n * PAGE_SIZE, 0xff - (int)n, PAGE_SIZE),
					 0);
		for (unsigned long n = 0; n < PAGES; n++) {
			int mine = n % 2 ? (int)n : 0xff - (int)n;

			assert_true(mmt_holds(t, a + n * PAGE_SIZE, (int)n, PAGE_SIZE));
			assert_true(mmt_holds(ct, a + n * PAGE_SIZE, mine, PAGE_SIZE));
		}
		assert_system_ok(sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		cow_task_destroy(t);
		cow_process_exit(p);
		assert_all_frames_free(sys, SMALL);
		swap_cache_drain(sys);
		assert_int_equal(swap_device_nr_free(sys->swap), swap_device_size(sys->swap));
		cow_system_destroy(sys);
	}
}

/* A page swapped in while shared, whose other swap PTE went away since:
 * a write reuses it.  linux-2.6.29 counts mapcount + swap count == 1;
 * linux-6.5 first drops the swap cache's reference, no swap PTE needing
 * it (5.18), so that its refcount test sees 1. */
static void test_write_reuses_swapcache_page_nobody_else_needs(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct rt r = rt_new(mm_policies[i]);
		struct cow_process *c;
		struct page *page;

		assert_int_equal(mmt_fill(r.t, r.a, 0x5a, PAGE_SIZE), 0);
		assert_int_equal(cow_fork(r.t, "child", &c), 0);
		assert_int_equal(cow_swapout(r.t, r.a, PAGE_SIZE), 0);
		assert_true(swapped(r.p, r.a) && swapped(c, r.a));
		assert_true(mmt_holds(r.t, r.a, 0x5a, PAGE_SIZE));
		page = mmt_page(r.p, r.a);
		assert_true(PageFlag(page, PG_swapcache));
		cow_process_exit(c);
		assert_int_equal(mmt_fill(r.t, r.a, 0x6b, PAGE_SIZE), 0);
		assert_ptr_equal(mmt_page(r.p, r.a), page);
		assert_false(PageFlag(page, PG_swapcache));
		rt_free(&r);
	}
}

/* A read fault on a swapped-out page decides nothing in any era: it maps
 * the page read-only and leaves it in the swap cache (reuse_swap_page and
 * should_try_to_free_swap run for write faults only).  Before 5.19 the
 * page is not made exclusive either; 5.19+ takes exclusivity from the swap
 * PTE's bit.  The write that follows then meets do_wp_page: 2.6.29 reuses
 * (mapcount + swap count == 1), 5.9 .. 5.17 copy (the swap cache's
 * reference makes the count 2: an unnecessary COW of that era), 5.18
 * drops the cache first and reuses, 6.5 reuses the exclusive page. */
static void test_swapin_read_fault_decides_nothing(void **state)
{
	static const struct {
		const char *policy;
		bool exclusive_on_read, copied_on_write;
	} eras[] = {
		{"linux-2.6.29", false, false},
		{"linux-5.9", false, true},
		{"linux-5.18", false, false},
		{"linux-6.5", true, false},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(eras); i++) {
		struct rt r = rt_new(eras[i].policy);
		struct page *page;

		assert_int_equal(mmt_fill(r.t, r.a, 0x5a, PAGE_SIZE), 0);
		assert_int_equal(cow_swapout(r.t, r.a, PAGE_SIZE), 0);
		assert_true(swapped(r.p, r.a));
		assert_int_equal(mmt_byte(r.t, r.a), 0x5a);
		page = mmt_page(r.p, r.a);
		assert_non_null(page);
		if (!PageFlag(page, PG_swapcache))
			fail_msg("%s: a read fault took the page out of the swap cache",
				 eras[i].policy);
		assert_false(pte_write(mmt_pte(r.p, r.a)));
		assert_int_equal(PageFlag(page, PG_anon_exclusive), eras[i].exclusive_on_read);
		assert_system_ok(r.sys);
		assert_int_equal(mmt_fill(r.t, r.a, 0x6b, PAGE_SIZE), 0);
		assert_int_equal(mmt_page(r.p, r.a) != page, eras[i].copied_on_write);
		assert_true(mmt_holds(r.t, r.a, 0x6b, PAGE_SIZE));
		rt_free(&r);
	}
}

/* A page a read fault swapped in stays in the swap cache; when its last
 * mapping goes (munmap), the cache lets go of it and of its slot
 * (free_swap_cache), or every swap-in by a read would leak a slot. */
static void test_unmap_frees_swap_cache_of_read_page(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct rt r = rt_new(mm_policies[i]);

		assert_int_equal(mmt_fill(r.t, r.a, 0x5a, PAGE_SIZE), 0);
		assert_int_equal(cow_swapout(r.t, r.a, PAGE_SIZE), 0);
		assert_int_equal(mmt_byte(r.t, r.a), 0x5a);
		assert_true(PageFlag(mmt_page(r.p, r.a), PG_swapcache));
		assert_int_equal(cow_munmap(r.t, r.a, PAGE_SIZE), 0);
		assert_int_equal(swap_device_nr_free(r.sys->swap), swap_device_size(r.sys->swap));
		assert_system_ok(r.sys);
		rt_free(&r);
	}
}

/* S7, the negative control: a pinned page that reclaim unmapped into the
 * swap cache is what the 5.19+ rules forbid.  Made by swapping out under
 * 2.6.29's reclaim rule, which unmaps pinned pages, then judged under
 * linux-6.5's. */
static void test_check_finds_pinned_page_in_swap(void **state)
{
	struct rt r = rt_new("linux-6.5");
	const struct cow_policy *own = r.sys->policy;
	struct cow_pages *pin;
	char msg[512] = "";

	(void)state;
	assert_int_equal(mmt_fill(r.t, r.a, 0x11, PAGE_SIZE), 0);
	assert_int_equal(
		cow_gup(r.t, r.a, PAGE_SIZE, COW_GUP_PIN | COW_GUP_LONGTERM | COW_GUP_WRITE, &pin),
		0);
	r.sys->policy = cow_policy_find("linux-2.6.29");
	assert_int_equal(cow_swapout(r.t, r.a, PAGE_SIZE), 0);
	assert_true(swapped(r.p, r.a));
	assert_int_equal(cow_system_check(r.sys, 1, msg, sizeof(msg)), 0);
	r.sys->policy = own;
	assert_int_not_equal(cow_system_check(r.sys, 1, msg, sizeof(msg)), 0);
	if (!strstr(msg, "(S7)"))
		fail_msg("expected S7, got: %s", msg);
	/* Swap-in maps the page again, and the state is sound once more. */
	assert_int_equal(mmt_byte(r.t, r.a), 0x11);
	assert_system_ok(r.sys);
	cow_pages_release(pin);
	rt_free(&r);
}

/* Memory pressure with a failing swap device: every third write and
 * every fourth read fail.  Direct reclaim keeps a page whose write failed
 * (it stays in the swap cache) and tries others; a failed read fails that
 * access with COW_EIO, and the next try reads the data.  Nothing is lost. */
static void test_pressure_with_swap_errors(void **state)
{
	enum { SMALL = 48, PAGES = 3 * SMALL };

	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct cow_system *sys = mmt_system_swap(mm_policies[i], SMALL, 8 * SMALL, 2);
		struct cow_process *p;
		struct cow_task *t;
		unsigned long a, eio = 0;

		p = mmt_process(sys, "p");
		t = mmt_task(p, 0);
		a = mmt_map(t, PAGES, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		assert_int_equal(mmt_fill(t, a, 0xee, PAGE_SIZE), 0);
		assert_int_equal(cow_swapout(t, a, PAGE_SIZE), 0); /* makes the device */
		swap_inject_errors(sys->swap, 4, 3);
		for (unsigned long n = 0; n < PAGES; n++) {
			int err;

			while ((err = mmt_fill(t, a + n * PAGE_SIZE, (int)n, PAGE_SIZE)) == COW_EIO)
				eio++;
			assert_int_equal(err, 0);
		}
		for (unsigned long n = 0; n < PAGES; n++) {
			unsigned char b[PAGE_SIZE];
			int err;

			while ((err = cow_read(t, a + n * PAGE_SIZE, b, PAGE_SIZE)) == COW_EIO)
				eio++;
			assert_int_equal(err, 0);
			for (unsigned long k = 0; k < PAGE_SIZE; k++)
				if (b[k] != (unsigned char)n)
					fail_msg("%s: page %lu byte %lu is 0x%02x", mm_policies[i],
						 n, k, b[k]);
		}
		assert_true(eio > 0);
		swap_inject_errors(sys->swap, 0, 0);
		assert_system_ok(sys);
		cow_task_destroy(t);
		cow_process_exit(p);
		assert_all_frames_free(sys, SMALL);
		assert_int_equal(cow_system_swap_in_use(sys), 0);
		cow_system_destroy(sys);
	}
}

static void test_reclaim_races_writers_explore(void **state)
{
	(void)state;
	assert_explore_clean(&race_old, 1, 200);
	assert_explore_clean(&race_new, 1, 200);
}

/* Linux 2.4's direct I/O holds the page lock until the transfer completes,
 * so reclaim (which only trylocks) cannot swap the page out under the
 * device; once the transfer is done it can.  linux-2.6.13 takes no lock
 * and unmaps the page under the device. */
static void test_dio_page_lock_keeps_page_mapped(void **state)
{
	static const char *const policies[] = {"linux-2.4", "linux-2.6.13"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		struct rt r = rt_new(policies[i]);
		bool locks = r.sys->policy->dio_pin == DIO_LOCK_PAGES;
		struct cow_file *file;
		struct cow_dio *d;

		assert_int_equal(cow_file_create(4096, 0x5a, &file), 0);
		assert_int_equal(mmt_fill(r.t, r.a, 0x11, PAGE_SIZE), 0);
		assert_int_equal(cow_dio_submit(r.t, r.a, 2048, file, 0, 1, &d), 0);
		assert_int_equal(PageLocked(mmt_page(r.p, r.a)), locks);
		assert_int_equal(cow_swapout(r.t, r.a, PAGE_SIZE), 0);
		assert_int_equal(swapped(r.p, r.a), !locks);
		while (cow_dio_step(d))
			;
		assert_int_equal(cow_dio_error(d), 0);
		cow_dio_free(d);
		assert_int_equal(cow_swapout(r.t, r.a, PAGE_SIZE), 0);
		assert_true(swapped(r.p, r.a));
		/* Nothing is lost either way: where the page went out under
		 * the device, the device wrote the swap-cache page, which the
		 * swap-in finds again. */
		assert_true(mmt_holds(r.t, r.a, 0x5a, 2048));
		assert_true(mmt_holds(r.t, r.a + 2048, 0x11, 2048));
		cow_file_close(file);
		rt_free(&r);
	}
}

/* A range of several reclaim batches goes out in batched writes, with
 * every seventh write failing: each page either went to its slot or
 * stayed in the swap cache, and every page reads back what was written. */
static void test_swapout_in_batches(void **state)
{
	enum { PAGES = 2 * SWAP_CLUSTER_MAX + 16 };
	struct rt r = rt_new("linux-6.5");
	unsigned long a = mmt_map(r.t, PAGES, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	unsigned long before;

	(void)state;
	for (int i = 0; i < PAGES; i++)
		assert_int_equal(mmt_fill(r.t, a + (unsigned long)i * PAGE_SIZE, i, PAGE_SIZE), 0);
	assert_int_equal(cow_swapout(r.t, a, PAGE_SIZE), 0); /* makes the device */
	before = cow_system_free_frames(r.sys);
	swap_inject_errors(r.sys->swap, 0, 7);
	assert_int_equal(cow_swapout(r.t, a, PAGES * PAGE_SIZE), 0);
	swap_inject_errors(r.sys->swap, 0, 0);
	/* The first page was out already; of the others, every seventh
	 * write failed and its page stays in the swap cache. */
	assert_int_equal(cow_system_free_frames(r.sys), before + (PAGES - 1) - (PAGES - 1) / 7);
	for (int i = 0; i < PAGES; i++)
		assert_true(swapped(r.p, a + (unsigned long)i * PAGE_SIZE));
	assert_system_ok(r.sys);
	for (int i = 0; i < PAGES; i++)
		assert_true(mmt_holds(r.t, a + (unsigned long)i * PAGE_SIZE, i, PAGE_SIZE));
	assert_system_ok(r.sys);
	assert_int_equal(cow_munmap(r.t, a, PAGES * PAGE_SIZE), 0);
	rt_free(&r);
}

/* Is the slot the swap PTE at addr refers to in the swap cache? */
static bool in_swap_cache(struct rt *r, unsigned long addr)
{
	return swap_has_cache(r->sys->swap, pte_to_swp_entry(mmt_pte(r->p, addr)));
}

/* Swap-in reads the faulting page's aligned cluster of 8 slots at once:
 * the neighbours wait in the swap cache, and their own faults read
 * nothing more.  A neighbour whose read fails leaves the cache, and its
 * own fault reads it again. */
static void test_swapin_reads_ahead(void **state)
{
	enum { PAGES = 16 };
	struct rt r = rt_new("linux-6.5");
	unsigned long a = mmt_map(r.t, PAGES, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	unsigned long before;

	(void)state;
	for (int i = 0; i < PAGES; i++)
		assert_int_equal(
			mmt_fill(r.t, a + (unsigned long)i * PAGE_SIZE, 0x40 + i, PAGE_SIZE), 0);
	assert_int_equal(cow_swapout(r.t, a, PAGES * PAGE_SIZE), 0);
	before = cow_system_free_frames(r.sys);
	/* Page 0's fault brings pages 1-7 along, not 8-15. */
	assert_true(mmt_holds(r.t, a, 0x40, PAGE_SIZE));
	assert_int_equal(cow_system_free_frames(r.sys), before - 8);
	for (int i = 1; i < PAGES; i++) {
		assert_true(swapped(r.p, a + (unsigned long)i * PAGE_SIZE));
		assert_int_equal(in_swap_cache(&r, a + (unsigned long)i * PAGE_SIZE), i < 8);
	}
	assert_system_ok(r.sys);
	/* With every read failing, pages 1-7 still come in: from the cache. */
	swap_inject_errors(r.sys->swap, 1, 0);
	for (int i = 1; i < 8; i++)
		assert_true(mmt_holds(r.t, a + (unsigned long)i * PAGE_SIZE, 0x40 + i, PAGE_SIZE));
	/* In the second cluster every second read fails: page 8's own is
	 * the first and succeeds, pages 9, 11, 13 and 15 are not kept. */
	swap_inject_errors(r.sys->swap, 2, 0);
	assert_true(mmt_holds(r.t, a + 8 * PAGE_SIZE, 0x48, PAGE_SIZE));
	for (int i = 9; i < PAGES; i++)
		assert_int_equal(in_swap_cache(&r, a + (unsigned long)i * PAGE_SIZE), i % 2 == 0);
	swap_inject_errors(r.sys->swap, 0, 0);
	assert_system_ok(r.sys);
	for (int i = 9; i < PAGES; i++)
		assert_true(mmt_holds(r.t, a + (unsigned long)i * PAGE_SIZE, 0x40 + i, PAGE_SIZE));
	assert_system_ok(r.sys);
	assert_int_equal(cow_munmap(r.t, a, PAGES * PAGE_SIZE), 0);
	rt_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_swap_out_and_in),
		cmocka_unit_test(test_swap_across_fork),
		cmocka_unit_test(test_pinned_page_under_reclaim),
		cmocka_unit_test(test_dio_page_lock_keeps_page_mapped),
		cmocka_unit_test(test_swap_io_errors_lose_nothing),
		cmocka_unit_test(test_swap_cache_insert_failure_keeps_page),
		cmocka_unit_test(test_swapout_with_swap_full_says_so),
		cmocka_unit_test(test_swapout_in_batches),
		cmocka_unit_test(test_swapin_reads_ahead),
		cmocka_unit_test(test_reclaim_races_writers_stress),
		cmocka_unit_test(test_reclaim_races_writers_explore),
		cmocka_unit_test(test_swapin_read_fault_decides_nothing),
		cmocka_unit_test(test_check_finds_pinned_page_in_swap),
		cmocka_unit_test(test_unmap_frees_swap_cache_of_read_page),
		cmocka_unit_test(test_memory_larger_than_the_pool),
		cmocka_unit_test(test_write_reuses_swapcache_page_nobody_else_needs),
		cmocka_unit_test(test_pressure_with_swap_errors),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
