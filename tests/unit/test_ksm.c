/*
 * Tests of src/mm/ksm.c: identical pages of mergeable mappings become one
 * KSM page across processes, writes copy, frames are given back; pages
 * with GUP references (a pin, a direct-I/O reference) are never merged,
 * and without write_protect_page's count check a pinned page would be
 * (the negative control).
 */
#include "mmtest.h"

#include "scenario/interp.h"

#define FRAMES 128

static unsigned long mergeable(struct cow_task *t, unsigned long pages)
{
	unsigned long a = mmt_map(t, pages, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);

	assert_int_equal(cow_madvise(t, a, pages * PAGE_SIZE, COW_MADV_MERGEABLE), 0);
	return a;
}

static void test_ksm_merges_identical_pages(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct cow_system *sys = mmt_system(mm_policies[i], FRAMES, 2, true);
		struct cow_process *p = mmt_process(sys, "p"), *q = mmt_process(sys, "q");
		struct cow_task *tp = mmt_task(p, 0), *tq = mmt_task(q, 1);
		unsigned long a = mergeable(tp, 3), b = mergeable(tq, 3), merged, before;
		struct page *k;

		assert_int_equal(mmt_fill(tp, a, 0x5a, 2 * PAGE_SIZE), 0);
		assert_int_equal(mmt_fill(tp, a + 2 * PAGE_SIZE, 0x01, PAGE_SIZE), 0);
		assert_int_equal(mmt_fill(tq, b, 0x5a, 2 * PAGE_SIZE), 0);
		assert_int_equal(mmt_fill(tq, b + 2 * PAGE_SIZE, 0x02, PAGE_SIZE), 0);
		before = cow_system_free_frames(sys);
		assert_int_equal(cow_ksm_merge(tp, &merged), 0);
		/* p's second page into p's first (now KSM), q's two into it;
		 * the third pages differ. */
		assert_int_equal(merged, 3);
		assert_int_equal(cow_system_free_frames(sys), before + 3);
		k = mmt_page(p, a);
		assert_true(PageFlag(k, PG_ksm));
		assert_int_equal(page_mapcount(k), 4);
		assert_ptr_equal(mmt_page(p, a + PAGE_SIZE), k);
		assert_ptr_equal(mmt_page(q, b), k);
		assert_ptr_equal(mmt_page(q, b + PAGE_SIZE), k);
		assert_false(pte_write(mmt_pte(q, b)));
		assert_false(PageFlag(mmt_page(q, b + 2 * PAGE_SIZE), PG_ksm));
		assert_system_ok(sys);
		/* A second pass finds nothing new. */
		assert_int_equal(cow_ksm_merge(tq, &merged), 0);
		assert_int_equal(merged, 0);
		/* Writes copy, each side keeps its bytes. */
		assert_int_equal(mmt_fill(tq, b, 0x77, PAGE_SIZE), 0);
		assert_ptr_not_equal(mmt_page(q, b), k);
		assert_true(mmt_holds(tp, a, 0x5a, 2 * PAGE_SIZE));
		assert_true(mmt_holds(tq, b + PAGE_SIZE, 0x5a, PAGE_SIZE));
		assert_true(mmt_holds(tq, b, 0x77, PAGE_SIZE));
		assert_int_equal(page_mapcount(k), 3);
		assert_system_ok(sys);
		cow_task_destroy(tq);
		cow_process_exit(q);
		cow_task_destroy(tp);
		cow_process_exit(p);
		assert_all_frames_free(sys, FRAMES);
		cow_system_destroy(sys);
	}
}

/* Three identical pages, the first held by GUP (a long-term pin, or a
 * plain reference as direct I/O took until 6.5): the held page is the
 * unstable tree's node for those bytes and cannot be merged, so neither
 * can the other two (Linux never adds a second node for the same bytes),
 * and a write after the pass reaches the held page.  With the count
 * check switched off, linux-2.6.29 merges all three and the write lands
 * beside the pin; linux-6.5 still refuses, because the pinned page cannot
 * give up its exclusivity (5.19). */
static void held_page(const char *policy, unsigned int foll, bool skip_check, bool want_merged)
{
	struct cow_system *sys = mmt_system(policy, FRAMES, 2, true);
	struct cow_process *p = mmt_process(sys, "p");
	struct cow_task *t = mmt_task(p, 0);
	unsigned long a = mergeable(t, 3), merged;
	struct page *held;

	assert_int_equal(mmt_fill(t, a, 0x11, 3 * PAGE_SIZE), 0);
	assert_int_equal(get_user_pages(p->mm, a, 1, foll | FOLL_WRITE, &held), 1);
	ksm_test_skip_count_check = skip_check;
	assert_int_equal(cow_ksm_merge(t, &merged), 0);
	ksm_test_skip_count_check = false;
	assert_int_equal(PageFlag(mmt_page(p, a), PG_ksm), want_merged);
	assert_int_equal(merged, want_merged ? 2 : 0);
	assert_int_equal(mmt_fill(t, a, 0x22, PAGE_SIZE), 0);
	assert_int_equal(*(unsigned char *)page_address(sys->pool, held),
			 want_merged ? 0x11 : 0x22);
	assert_int_equal(mmt_page(p, a) == held, !want_merged);
	gup_put_pages(sys, &held, 1, foll);
	assert_system_ok(sys);
	cow_task_destroy(t);
	cow_process_exit(p);
	assert_all_frames_free(sys, FRAMES);
	cow_system_destroy(sys);
}

/* No memory for a merged pair's stable node: both mappings get their own
 * pages back and the pass says COW_ENOMEM (it once returned 0, as if
 * nothing had been worth merging); the next pass merges them. */
static void test_ksm_pass_reports_its_allocation_failure(void **state)
{
	struct cow_system *sys = mmt_system("linux-6.5", FRAMES, 2, true);
	struct cow_process *p = mmt_process(sys, "p");
	struct cow_task *t = mmt_task(p, 0);
	unsigned long a = mergeable(t, 2), merged;

	(void)state;
	assert_int_equal(mmt_fill(t, a, 0x5a, 2 * PAGE_SIZE), 0);
	cow_fault_arm(1, FI_KSM_NODE_ALLOC);
	assert_int_equal(cow_ksm_merge(t, &merged), COW_ENOMEM);
	assert_int_equal(cow_fault_fired(), FI_KSM_NODE_ALLOC);
	cow_fault_disarm();
	assert_int_equal(merged, 0);
	assert_false(PageFlag(mmt_page(p, a), PG_ksm));
	assert_false(PageFlag(mmt_page(p, a + PAGE_SIZE), PG_ksm));
	assert_system_ok(sys);
	assert_true(mmt_holds(t, a, 0x5a, 2 * PAGE_SIZE));
	assert_int_equal(cow_ksm_merge(t, &merged), 0);
	assert_int_equal(merged, 1);
	cow_task_destroy(t);
	cow_process_exit(p);
	assert_all_frames_free(sys, FRAMES);
	cow_system_destroy(sys);
}

static void test_ksm_leaves_held_pages(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		held_page(mm_policies[i], FOLL_PIN | FOLL_LONGTERM, false, false);
		held_page(mm_policies[i], FOLL_GET, false, false);
	}
}

static void test_ksm_count_check_is_what_protects(void **state)
{
	(void)state;
	held_page("linux-2.6.29", FOLL_PIN | FOLL_LONGTERM, true, true);
	held_page("linux-2.6.29", FOLL_GET, true, true);
	held_page("linux-6.5", FOLL_PIN | FOLL_LONGTERM, true, false);
}

/* page is a KSM page at rest: mapped n times, referenced by nothing else. */
static void assert_ksm_page(struct page *page, int n)
{
	assert_true(PageFlag(page, PG_ksm));
	assert_int_equal(page_mapcount(page), n);
	assert_int_equal(page_ref_count(page), n);
}

/* Each process exits (tasks[i] being procs[i]'s), last first; every frame
 * comes back. */
static void exit_all(struct cow_system *sys, struct cow_task **tasks, struct cow_process **procs,
		     int n)
{
	while (n-- > 0) {
		cow_task_destroy(tasks[n]);
		cow_process_exit(procs[n]);
	}
	assert_all_frames_free(sys, FRAMES);
	cow_system_destroy(sys);
}

/* A page fork shares is mapped by two PTEs, and KSM holds one reference
 * to it while it compares it (Linux's follow_page for the item, or
 * get_mergeable_page for the unstable tree's node), not one per PTE: the
 * count check sees mapcount 2 + 1 == refcount 3 and the page merges.
 * First as the page that becomes the KSM page: p's a+4K, written before
 * fork, meets a, written after, in the tree. */
static void fork_shared_becomes_ksm(const char *policy)
{
	struct cow_system *sys = mmt_system(policy, FRAMES, 2, true);
	struct cow_process *p = mmt_process(sys, "p"), *q;
	struct cow_task *tp = mmt_task(p, 0), *tq;
	unsigned long a = mergeable(tp, 2), merged, before;
	struct page *shared;

	assert_int_equal(mmt_fill(tp, a + PAGE_SIZE, 0x5a, PAGE_SIZE), 0);
	assert_int_equal(cow_fork(tp, "q", &q), 0);
	tq = mmt_task(q, 1);
	assert_int_equal(mmt_fill(tp, a, 0x5a, PAGE_SIZE), 0);
	shared = mmt_page(p, a + PAGE_SIZE);
	assert_ptr_equal(mmt_page(q, a + PAGE_SIZE), shared);
	assert_int_equal(page_mapcount(shared), 2);
	assert_int_equal(page_ref_count(shared), 2);
	before = cow_system_free_frames(sys);
	assert_int_equal(cow_ksm_merge(tp, &merged), 0);
	assert_int_equal(merged, 1);
	assert_ksm_page(shared, 3);
	assert_ptr_equal(mmt_page(p, a), shared);
	assert_ptr_equal(mmt_page(q, a + PAGE_SIZE), shared);
	assert_int_equal(cow_system_free_frames(sys), before + 1);
	assert_system_ok(sys);
	exit_all(sys, (struct cow_task *[]){tp, tq}, (struct cow_process *[]){p, q}, 2);
}

/* Then as the unstable tree's node: p's page, shared with q, is met
 * first; q's mapping of it is no node of its own (the same page: Linux's
 * "don't substitute a ksm page for a forked page"); r's identical page,
 * met last, merges with it.  q's mapping follows in the next pass, from
 * the stable tree. */
static void fork_shared_is_the_node(const char *policy)
{
	struct cow_system *sys = mmt_system(policy, FRAMES, 3, true);
	struct cow_process *p = mmt_process(sys, "p"), *q, *r;
	struct cow_task *tp = mmt_task(p, 0), *tq, *tr;
	unsigned long a = mergeable(tp, 1), b, merged, before;
	struct page *shared, *k;

	assert_int_equal(mmt_fill(tp, a, 0x5a, PAGE_SIZE), 0);
	assert_int_equal(cow_fork(tp, "q", &q), 0);
	tq = mmt_task(q, 1);
	r = mmt_process(sys, "r");
	tr = mmt_task(r, 2);
	b = mergeable(tr, 1);
	assert_int_equal(mmt_fill(tr, b, 0x5a, PAGE_SIZE), 0);
	shared = mmt_page(p, a);
	k = mmt_page(r, b);
	before = cow_system_free_frames(sys);
	assert_int_equal(cow_ksm_merge(tp, &merged), 0);
	assert_int_equal(merged, 1);
	assert_ksm_page(k, 2);
	assert_ptr_equal(mmt_page(p, a), k);
	assert_ptr_equal(mmt_page(q, a), shared);
	assert_false(PageFlag(shared, PG_ksm));
	assert_int_equal(page_mapcount(shared), 1);
	assert_int_equal(page_ref_count(shared), 1);
	assert_int_equal(cow_system_free_frames(sys), before);
	assert_system_ok(sys);
	assert_int_equal(cow_ksm_merge(tp, &merged), 0);
	assert_int_equal(merged, 1);
	assert_ptr_equal(mmt_page(q, a), k);
	assert_ksm_page(k, 3);
	assert_int_equal(cow_system_free_frames(sys), before + 1);
	assert_system_ok(sys);
	exit_all(sys, (struct cow_task *[]){tp, tq, tr}, (struct cow_process *[]){p, q, r}, 3);
}

static void test_ksm_merges_fork_shared_page(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		fork_shared_becomes_ksm(mm_policies[i]);
		fork_shared_is_the_node(mm_policies[i]);
	}
}

/* NR_SAME identical pages and a pair of other bytes; the page at index
 * pinned is pinned.  Linux's unstable tree holds one node per content:
 * when the first page of those bytes is the pinned one, it is the node,
 * every later page meets it, fails to merge with it and is given a page
 * of its own again, and none merge (the host merges none of 63).  A
 * pinned page met later is no node, and the others merge around it. */
#define NR_SAME 12

static void pinned_among_identical(const char *policy, int pinned, unsigned long want_merged)
{
	struct cow_system *sys = mmt_system(policy, FRAMES, 2, true);
	struct cow_process *p = mmt_process(sys, "p");
	struct cow_task *t = mmt_task(p, 0);
	unsigned long a = mergeable(t, NR_SAME + 2), merged, before;
	unsigned long pair = a + NR_SAME * PAGE_SIZE;
	struct page *pin;

	assert_int_equal(mmt_fill(t, a, 0x11, NR_SAME * PAGE_SIZE), 0);
	assert_int_equal(mmt_fill(t, pair, 0x33, 2 * PAGE_SIZE), 0);
	assert_int_equal(get_user_pages(p->mm, a + pinned * PAGE_SIZE, 1,
					FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE, &pin),
			 1);
	for (int pass = 0; pass < 2; pass++) {
		before = cow_system_free_frames(sys);
		assert_int_equal(cow_ksm_merge(t, &merged), 0);
		/* The second pass finds nothing new. */
		assert_int_equal(merged, pass == 0 ? want_merged + 1 : 0);
		assert_int_equal(cow_system_free_frames(sys), before + merged);
		assert_true(PageFlag(mmt_page(p, pair), PG_ksm));
		assert_ptr_equal(mmt_page(p, pair + PAGE_SIZE), mmt_page(p, pair));
		assert_ptr_equal(mmt_page(p, a + pinned * PAGE_SIZE), pin);
		assert_false(PageFlag(pin, PG_ksm));
		for (int i = 0; i < NR_SAME && want_merged == 0; i++) {
			struct page *page = mmt_page(p, a + i * PAGE_SIZE);

			/* Each its own page, exclusive, as the host's
			 * /proc/kpageflags shows them. */
			assert_false(PageFlag(page, PG_ksm));
			assert_true(PageFlag(page, PG_anon_exclusive));
			assert_int_equal(page_mapcount(page), 1);
		}
		assert_system_ok(sys);
	}
	assert_int_equal(mmt_fill(t, a, 0x22, NR_SAME * PAGE_SIZE), 0);
	assert_int_equal(*(unsigned char *)page_address(sys->pool, pin), 0x22);
	gup_put_pages(sys, &pin, 1, FOLL_PIN | FOLL_LONGTERM);
	/* Written and unpinned, the page can be the node: all merge. */
	assert_int_equal(cow_ksm_merge(t, &merged), 0);
	assert_int_equal(merged, NR_SAME - 1);
	assert_system_ok(sys);
	exit_all(sys, &t, &p, 1);
}

static void test_ksm_pinned_node_blocks_its_bytes(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		pinned_among_identical(mm_policies[i], 0, 0);
		/* Page 1 pinned: page 0 is the node, 2 .. NR_SAME-1 merge. */
		pinned_among_identical(mm_policies[i], 1, NR_SAME - 2);
	}
}

/* A pair that breaks up after its first half became a KSM page: the
 * node's page is pinned, the item's page is one fork shares.  break_cow
 * gives p's address a copy; q's PTE stays on the KSM page, which never
 * got a node, so no later page merges into it (nor, being a KSM page
 * already, is it compared again: Linux's write_protect_page finds no
 * anon_vma for it), until q writes it. */
static void test_ksm_half_made_page_gets_no_node(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct cow_system *sys = mmt_system(mm_policies[i], FRAMES, 3, true);
		struct cow_process *p = mmt_process(sys, "p"), *q, *r;
		struct cow_task *tp = mmt_task(p, 0), *tq, *tr;
		unsigned long a = mergeable(tp, 2), b, merged;
		struct page *pin, *half;

		assert_int_equal(mmt_fill(tp, a + PAGE_SIZE, 0x5a, PAGE_SIZE), 0);
		assert_int_equal(cow_fork(tp, "q", &q), 0);
		tq = mmt_task(q, 1);
		assert_int_equal(mmt_fill(tp, a, 0x5a, PAGE_SIZE), 0);
		assert_int_equal(
			get_user_pages(p->mm, a, 1, FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE, &pin),
			1);
		half = mmt_page(q, a + PAGE_SIZE);
		assert_int_equal(cow_ksm_merge(tp, &merged), 0);
		assert_int_equal(merged, 0);
		assert_ptr_not_equal(mmt_page(p, a + PAGE_SIZE), half);
		assert_true(PageFlag(mmt_page(p, a + PAGE_SIZE), PG_anon_exclusive));
		assert_ptr_equal(mmt_page(q, a + PAGE_SIZE), half);
		assert_ksm_page(half, 1);
		assert_false(PageFlag(half, PG_anon_exclusive));
		r = mmt_process(sys, "r");
		tr = mmt_task(r, 2);
		b = mergeable(tr, 1);
		assert_int_equal(mmt_fill(tr, b, 0x5a, PAGE_SIZE), 0);
		assert_int_equal(cow_ksm_merge(tp, &merged), 0);
		assert_int_equal(merged, 0);
		assert_true(PageFlag(mmt_page(r, b), PG_anon_exclusive));
		assert_int_equal(mmt_fill(tq, a + PAGE_SIZE, 0x22, PAGE_SIZE), 0);
		assert_ptr_not_equal(mmt_page(q, a + PAGE_SIZE), half);
		assert_true(mmt_holds(tp, a, 0x5a, 2 * PAGE_SIZE));
		gup_put_pages(sys, &pin, 1, FOLL_PIN | FOLL_LONGTERM);
		assert_system_ok(sys);
		exit_all(sys, (struct cow_task *[]){tp, tq, tr}, (struct cow_process *[]){p, q, r},
			 3);
	}
}

/* A page whose bytes changed between the pass's two scans (its checksum
 * differs) is no node of the unstable tree: it changes often, Linux
 * reasons, and is left for a later pass.  Here a is rewritten to the
 * bytes of a+4K and a+8K between the scans: they merge with each other,
 * a does not.  A match in the stable tree needs no steady checksum: in
 * the next pass b, rewritten the same way, merges into that KSM page. */
static struct cow_task *rewriter;
static unsigned long rewrite_at;

static void rewrite_between_scans(struct cow_system *sys)
{
	(void)sys;
	assert_int_equal(mmt_fill(rewriter, rewrite_at, 0x02, PAGE_SIZE), 0);
}

static void test_ksm_changed_page_is_no_node(void **state)
{
	struct cow_system *sys = mmt_system("linux-6.5", FRAMES, 2, true);
	struct cow_process *p = mmt_process(sys, "p");
	struct cow_task *t = mmt_task(p, 0);
	unsigned long a = mergeable(t, 3), b = mergeable(t, 1), merged;

	(void)state;
	assert_int_equal(mmt_fill(t, a, 0x01, PAGE_SIZE), 0);
	assert_int_equal(mmt_fill(t, a + PAGE_SIZE, 0x02, 2 * PAGE_SIZE), 0);
	assert_int_equal(mmt_fill(t, b, 0x03, PAGE_SIZE), 0);
	rewriter = mmt_task(p, 1);
	rewrite_at = a;
	ksm_test_between_scans = rewrite_between_scans;
	assert_int_equal(cow_ksm_merge(t, &merged), 0);
	assert_int_equal(merged, 1);
	assert_false(PageFlag(mmt_page(p, a), PG_ksm));
	assert_true(PageFlag(mmt_page(p, a + PAGE_SIZE), PG_ksm));
	assert_ptr_equal(mmt_page(p, a + 2 * PAGE_SIZE), mmt_page(p, a + PAGE_SIZE));
	rewrite_at = b;
	assert_int_equal(cow_ksm_merge(t, &merged), 0);
	ksm_test_between_scans = NULL;
	/* a, steady now, and b both merge into the KSM page. */
	assert_int_equal(merged, 2);
	assert_ptr_equal(mmt_page(p, a), mmt_page(p, a + PAGE_SIZE));
	assert_ptr_equal(mmt_page(p, b), mmt_page(p, a + PAGE_SIZE));
	assert_system_ok(sys);
	cow_task_destroy(rewriter);
	exit_all(sys, &t, &p, 1);
}

/* scenarios/ksm_dio.cow: KSM racing a direct-I/O read into one of its
 * candidates.  Without the count check the explorer finds the lost DMA
 * under linux-2.6.29 (a FOLL_GET reference is all that marks the page);
 * linux-6.5's direct I/O pins, and a pinned exclusive page is refused
 * anyway. */
static struct scenario *load_ksm_dio(void)
{
	struct scenario *s;
	char err[512];

	if (scen_load("scenarios/ksm_dio.cow", &s, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return s;
}

static void test_ksm_dio_race_needs_the_count_check(void **state)
{
	struct scen_opts o = {.mode = SCEN_EXPLORE, .algo = SCHED_AUTO, .runs = 2000, .seed = 1};
	struct scenario *s = load_ksm_dio();
	struct scen_result r;

	(void)state;
	ksm_test_skip_count_check = true;
	o.policy = "linux-2.6.29";
	assert_int_equal(scen_run(s, &o, &r), 0);
	assert_true(r.failed);
	assert_string_equal(r.verdict, "corrupt");
	o.policy = "linux-6.5";
	assert_int_equal(scen_run(s, &o, &r), 0);
	ksm_test_skip_count_check = false;
	if (r.failed)
		fail_msg("linux-6.5: %s", r.message);
	scen_free(s);
}

/* A write fault of the old eras that sleeps for the page lock while ksmd
 * makes the page a KSM page must not reuse it once it has the lock: ksmd
 * then merges another page into it, and the in-flight DMA writes both.
 * PCT from seed 1 reaches that schedule at run 223 of ksm_dio.cow under
 * linux-2.6.29 when reuse_locked_page forgets the PG_ksm test. */
static void test_locked_reuse_refuses_a_ksm_page(void **state)
{
	struct scen_opts o = {.mode = SCEN_EXPLORE,
			      .policy = "linux-2.6.29",
			      .algo = SCHED_PCT,
			      .depth = 3,
			      .runs = 4000,
			      .seed = 1};
	struct scenario *s = load_ksm_dio();
	struct scen_result r;

	(void)state;
	assert_int_equal(scen_run(s, &o, &r), 0);
	if (r.failed)
		fail_msg("%s", r.message);
	scen_free(s);
}

/* Unmergeable memory is left alone, and an mm that exits is forgotten. */
static void test_ksm_respects_advice(void **state)
{
	struct cow_system *sys = mmt_system("linux-6.5", FRAMES, 2, true);
	struct cow_process *p = mmt_process(sys, "p"), *q;
	struct cow_task *t = mmt_task(p, 0), *tq;
	unsigned long a = mergeable(t, 2), merged;
	unsigned long b = mmt_map(t, 2, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);

	(void)state;
	assert_int_equal(mmt_fill(t, b, 0x5a, 2 * PAGE_SIZE), 0);
	assert_int_equal(mmt_fill(t, a, 0x6b, 2 * PAGE_SIZE), 0);
	assert_int_equal(cow_madvise(t, a, 2 * PAGE_SIZE, COW_MADV_UNMERGEABLE), 0);
	assert_int_equal(cow_ksm_merge(t, &merged), 0);
	assert_int_equal(merged, 0);
	/* A child inherits mergeable mappings and is scanned; its exit
	 * leaves KSM with nothing to trip over. */
	assert_int_equal(cow_madvise(t, a, 2 * PAGE_SIZE, COW_MADV_MERGEABLE), 0);
	assert_int_equal(cow_fork(t, "q", &q), 0);
	tq = mmt_task(q, 1);
	assert_int_equal(mmt_fill(tq, a, 0x6b, PAGE_SIZE), 0); /* a private copy */
	assert_int_equal(cow_ksm_merge(t, &merged), 0);
	assert_true(merged >= 1);
	cow_task_destroy(tq);
	cow_process_exit(q);
	assert_int_equal(cow_ksm_merge(t, &merged), 0);
	assert_true(mmt_holds(t, a, 0x6b, 2 * PAGE_SIZE));
	assert_true(mmt_holds(t, b, 0x5a, 2 * PAGE_SIZE));
	assert_system_ok(sys);
	exit_all(sys, &t, &p, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ksm_merges_identical_pages),
		cmocka_unit_test(test_ksm_leaves_held_pages),
		cmocka_unit_test(test_ksm_pass_reports_its_allocation_failure),
		cmocka_unit_test(test_ksm_count_check_is_what_protects),
		cmocka_unit_test(test_ksm_merges_fork_shared_page),
		cmocka_unit_test(test_ksm_pinned_node_blocks_its_bytes),
		cmocka_unit_test(test_ksm_half_made_page_gets_no_node),
		cmocka_unit_test(test_ksm_changed_page_is_no_node),
		cmocka_unit_test(test_ksm_respects_advice),
		cmocka_unit_test(test_ksm_dio_race_needs_the_count_check),
		cmocka_unit_test(test_locked_reuse_refuses_a_ksm_page),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
