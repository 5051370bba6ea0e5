/*
 * Tests of src/mm/gup.c and src/io/io.c: references and pins taken by
 * get_user_pages and gup-fast, the rules of each policy (COW broken by a
 * write GUP, unshare before a R/O pin, early copy at fork for pinned
 * pages), the reference accounting the invariants rely on, and the
 * direct-I/O engine moving data into the frames it pinned.
 */
#include "mmtest.h"

#define FRAMES 512

struct gt {
	struct cow_system *sys;
	struct cow_process *p;
	struct cow_task *t;
	unsigned long a;
};

static struct gt gt_new(const char *policy)
{
	struct gt g;

	g.sys = mmt_system(policy, FRAMES, 4, true);
	g.p = mmt_process(g.sys, "parent");
	g.t = mmt_task(g.p, 0);
	g.a = mmt_map(g.t, 4, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	return g;
}

static void gt_free(struct gt *g)
{
	assert_system_ok(g->sys);
	assert_int_equal(cow_system_pins_held(g->sys), 0);
	cow_task_destroy(g->t);
	cow_process_exit(g->p);
	assert_all_frames_free(g->sys, FRAMES);
	cow_system_destroy(g->sys);
}

static void test_gup_faults_pages_in_and_counts(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct gt g = gt_new(mm_policies[i]);
		struct cow_pages *pg;
		struct page *page;
		unsigned char b[8];

		assert_int_equal(cow_gup(g.t, g.a + 100, 2 * PAGE_SIZE, COW_GUP_WRITE, &pg), 0);
		page = mmt_page(g.p, g.a);
		assert_non_null(page);
		assert_int_equal(page_ref_count(page), 2); /* the mapping and ours */
		assert_int_equal(atomic_read(&g.sys->ext_refs[page_to_pfn(g.sys->pool, page)]), 1);
		/* The strict invariants account for the reference. */
		assert_system_ok(g.sys);
		/* A device write lands in the frame, seen through the mapping. */
		cow_pages_write(pg, 0, "dma!", 4);
		assert_int_equal(cow_read(g.t, g.a + 100, b, 4), 0);
		assert_memory_equal(b, "dma!", 4);
		assert_int_equal(cow_pages_len(pg), 2 * PAGE_SIZE);
		cow_pages_release(pg);
		assert_int_equal(page_ref_count(page), 1);
		gt_free(&g);
	}
}

static void test_gup_bad_arguments(void **state)
{
	struct gt g = gt_new("linux-6.5");
	struct cow_pages *pg;
	struct page *pages[1];

	(void)state;
	assert_int_equal(cow_gup(g.t, g.a, 0, 0, &pg), COW_EINVAL);
	assert_int_equal(cow_gup(g.t, 0x1000, PAGE_SIZE, 0, &pg), COW_EFAULT);
	assert_int_equal(get_user_pages(g.p->mm, g.a, 1, FOLL_GET | FOLL_PIN, pages), COW_EINVAL);
	assert_int_equal(get_user_pages(g.p->mm, g.a, 1, 0, pages), COW_EINVAL);
	{
		unsigned long ro = mmt_map(g.t, 1, COW_PROT_READ, COW_MAP_PRIVATE);

		assert_int_equal(cow_gup(g.t, ro, PAGE_SIZE, COW_GUP_WRITE, &pg), COW_EFAULT);
		assert_int_equal(cow_gup(g.t, ro, PAGE_SIZE, 0, &pg), 0); /* the zero page */
		cow_pages_release(pg);
	}
	gt_free(&g);
}

/* A fault that fails part way (no frame for the second page) gives back
 * the references taken for the pages before it, and only those: once
 * the loop counted the failed page too, and released whatever its slot
 * of the array held. */
static void test_gup_failing_fault_releases_only_taken_pages(void **state)
{
	struct gt g = gt_new("linux-6.5");
	struct page *pages[2], *first;

	(void)state;
	assert_int_equal(mmt_fill(g.t, g.a, 0x5a, PAGE_SIZE), 0);
	first = mmt_page(g.p, g.a);
	/* The failed page's slot holds a live page, as a reused array may. */
	pages[1] = first;
	cow_fault_arm(1, FI_FRAME_ALLOC); /* the second page's fault */
	assert_int_equal(get_user_pages(g.p->mm, g.a, 2, FOLL_GET | FOLL_WRITE, pages), COW_ENOMEM);
	assert_int_equal(cow_fault_fired(), FI_FRAME_ALLOC);
	cow_fault_disarm();
	assert_int_equal(page_ref_count(first), 1);
	assert_int_equal(atomic_read(&g.sys->ext_refs[page_to_pfn(g.sys->pool, first)]), 0);
	assert_true(mmt_holds(g.t, g.a, 0x5a, PAGE_SIZE));
	gt_free(&g);
}

/* A write GUP on a page shared after fork breaks COW for the caller. */
static void test_write_gup_breaks_cow(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct gt g = gt_new(mm_policies[i]);
		struct cow_process *c;
		struct cow_pages *pg;
		struct page *shared;

		assert_int_equal(mmt_fill(g.t, g.a, 0x11, PAGE_SIZE), 0);
		assert_int_equal(cow_fork(g.t, "child", &c), 0);
		shared = mmt_page(g.p, g.a);
		assert_int_equal(cow_gup(g.t, g.a, PAGE_SIZE, COW_GUP_WRITE, &pg), 0);
		assert_ptr_not_equal(mmt_page(g.p, g.a), shared);
		assert_ptr_equal(mmt_page(c, g.a), shared);
		cow_pages_write(pg, 0, "\x22", 1);
		assert_int_equal(mmt_byte(g.t, g.a), 0x22);
		cow_pages_release(pg);
		cow_process_exit(c);
		gt_free(&g);
	}
}

/* The pin-then-fork case of cow.c ("fork() with an iouring fixed
 * buffer"): linux-6.5 keeps the pinned page with the parent, 2.6.29 lets
 * the parent's next write move it away from the pin. */
static void test_pin_then_fork(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct gt g = gt_new(mm_policies[i]);
		bool fixed = g.sys->policy->fork == FORK_COPY_PINNED_EXCLUSIVE;
		struct cow_process *c;
		struct cow_task *ct;
		struct cow_pages *pin;
		unsigned char seen;

		assert_int_equal(mmt_fill(g.t, g.a, 0x11, PAGE_SIZE), 0);
		assert_int_equal(cow_gup(g.t, g.a, PAGE_SIZE,
					 COW_GUP_PIN | COW_GUP_LONGTERM | COW_GUP_WRITE, &pin),
				 0);
		assert_true(test_bit(MMF_HAS_PINNED, &g.p->mm->flags));
		assert_true(page_maybe_dma_pinned(mmt_page(g.p, g.a)));
		assert_int_equal(cow_system_pins_held(g.sys), 1);
		assert_int_equal(cow_fork(g.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_int_equal(mmt_fill(g.t, g.a, 0x22, PAGE_SIZE), 0);
		cow_pages_read(pin, 0, &seen, 1);
		assert_int_equal(seen, fixed ? 0x22 : 0x11);
		assert_true(mmt_holds(ct, g.a, 0x11, PAGE_SIZE));
		assert_system_ok(g.sys);
		cow_pages_release(pin);
		cow_task_destroy(ct);
		cow_process_exit(c);
		gt_free(&g);
	}
}

/* A R/O pin of a page shared with a child (cow.c "R/O GUP pin on
 * R/O-mapped shared page"): 5.19+ unshares first, so the parent's later
 * write stays visible through the pin. */
static void test_ro_pin_of_shared_page(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		for (int fast = 0; fast < 2; fast++) {
			struct gt g = gt_new(mm_policies[i]);
			bool unshare = g.sys->policy->gup == GUP_UNSHARE_RO_PIN ||
				       g.sys->policy->gup == GUP_UNSHARE_ALL;
			struct cow_process *c;
			struct cow_pages *pin;
			unsigned char seen;

			assert_int_equal(mmt_fill(g.t, g.a, 0x11, PAGE_SIZE), 0);
			assert_int_equal(cow_fork(g.t, "child", &c), 0);
			assert_int_equal(
				cow_gup(g.t, g.a, PAGE_SIZE,
					COW_GUP_PIN | COW_GUP_LONGTERM | (fast ? COW_GUP_FAST : 0),
					&pin),
				0);
			if (unshare)
				assert_true(PageFlag(mmt_page(g.p, g.a), PG_anon_exclusive));
			assert_int_equal(mmt_fill(g.t, g.a, 0x33, PAGE_SIZE), 0);
			cow_pages_read(pin, 0, &seen, 1);
			assert_int_equal(seen, unshare ? 0x33 : 0x11);
			cow_pages_release(pin);
			cow_process_exit(c);
			gt_free(&g);
		}
	}
}

static void test_gup_fast_takes_only_what_it_may(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct gt g = gt_new(mm_policies[i]);
		struct page *pages[4];
		struct cow_process *c;
		long n;

		/* Nothing mapped yet: gup-fast takes nothing. */
		assert_int_equal(gup_fast(g.p->mm, 0, g.a, 4, FOLL_GET, pages), 0);
		assert_int_equal(mmt_fill(g.t, g.a, 0x11, 2 * PAGE_SIZE), 0);
		n = gup_fast(g.p->mm, 0, g.a, 4, FOLL_GET | FOLL_WRITE, pages);
		assert_int_equal(n, 2);
		for (long k = 0; k < n; k++)
			gup_put_pages(g.sys, &pages[k], 1, FOLL_GET);
		/* After fork the PTEs are read-only: no write gup-fast. */
		assert_int_equal(cow_fork(g.t, "child", &c), 0);
		assert_int_equal(gup_fast(g.p->mm, 0, g.a, 2, FOLL_PIN | FOLL_WRITE, pages), 0);
		/* The combined path falls back and succeeds, breaking COW. */
		n = get_user_pages_fast(g.p->mm, 0, g.a, 4, FOLL_PIN | FOLL_WRITE, pages);
		assert_int_equal(n, 4);
		assert_ptr_not_equal(pages[0], mmt_page(c, g.a));
		for (long k = 0; k < n; k++)
			gup_put_pages(g.sys, &pages[k], 1, FOLL_PIN);
		cow_process_exit(c);
		gt_free(&g);
	}
}

/* The direct-I/O engine against a real O_DIRECT file and against a
 * device in memory (odd i): a read lands in the pinned frames 512 bytes a
 * step; a write copies the frames into the file; io_uring (or, in
 * memory, the same steps at once) does it in one go. */
static void test_dio_read_and_write(void **state)
{
	(void)state;
	for (int i = 0; i < 2 * NR_MM_POLICIES; i++) {
		struct gt g = gt_new(mm_policies[i / 2]);
		unsigned char back[4096];
		struct cow_file *file;
		struct cow_dio *d;
		int steps = 0;

		assert_int_equal(i % 2 ? cow_file_create_mem(8192, 0x5a, &file)
				       : cow_file_create(8192, 0x5a, &file),
				 0);
		assert_true(i % 2 ? cow_file_fd(file) < 0 : cow_file_fd(file) >= 0);
		assert_int_equal(cow_file_size(file), 8192);
		assert_int_equal(mmt_fill(g.t, g.a, 0x2a, 3 * PAGE_SIZE), 0);
		assert_int_equal(cow_dio_submit(g.t, g.a + 512, 4096, file, 0, 1, &d), 0);
		assert_int_equal(cow_system_pins_held(g.sys),
				 g.sys->policy->dio_pin == DIO_FOLL_PIN ? 2 : 0);
		while (cow_dio_step(d))
			steps++;
		assert_int_equal(steps + 1, 8);
		assert_int_equal(cow_dio_error(d), 0);
		cow_dio_free(d);
		assert_int_equal(cow_system_pins_held(g.sys), 0);
		assert_true(mmt_holds(g.t, g.a, 0x2a, 512));
		assert_true(mmt_holds(g.t, g.a + 512, 0x5a, 4096));
		assert_true(mmt_holds(g.t, g.a + 4608, 0x2a, 512));
		assert_true(PageFlag(mmt_page(g.p, g.a + PAGE_SIZE), PG_dirty));
		/* And back out, through io_uring: the frames into the file. */
		assert_int_equal(mmt_fill(g.t, g.a + 2 * PAGE_SIZE, 0x77, PAGE_SIZE), 0);
		assert_int_equal(cow_dio_submit(g.t, g.a + 2 * PAGE_SIZE, 4096, file, 4096, 0, &d),
				 0);
		assert_int_equal(cow_dio_run_async(d), 0);
		cow_dio_free(d);
		assert_int_equal(cow_file_read(file, 4096, back, sizeof(back)), 0);
		for (size_t k = 0; k < sizeof(back); k++)
			assert_int_equal(back[k], 0x77);
		assert_int_equal(cow_file_read(file, 100, back, 10), 0);
		assert_int_equal(back[0], 0x5a);
		/* O_DIRECT's rules: 512-byte alignment, inside the file. */
		assert_int_equal(cow_dio_submit(g.t, g.a + 100, 512, file, 0, 1, &d), COW_EINVAL);
		assert_int_equal(cow_dio_submit(g.t, g.a, 512, file, 8192, 1, &d), COW_EINVAL);
		{
			struct cow_file *bad;

			assert_int_equal(cow_file_create(100, 0, &bad), COW_EINVAL);
			assert_int_equal(cow_file_create_mem(100, 0, &bad), COW_EINVAL);
		}
		cow_file_close(file);
		gt_free(&g);
	}
}

/* FOLL_FORCE (ptrace, /proc/pid/mem): a write to a read-only private
 * mapping lands in a private copy that stays read-only; a shared snapshot
 * of a child is never touched, and a shared mapping cannot be forced. */
static void test_forced_write(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct gt g = gt_new(mm_policies[i]);
		struct cow_process *c;
		struct cow_task *ct;
		struct cow_pages *pg;
		unsigned long shm;
		unsigned char b = 0x42;

		assert_int_equal(mmt_fill(g.t, g.a, 0x11, PAGE_SIZE), 0);
		assert_int_equal(cow_fork(g.t, "child", &c), 0);
		ct = mmt_task(c, 1);
		assert_int_equal(cow_mprotect(g.t, g.a, 4 * PAGE_SIZE, COW_PROT_READ), 0);
		assert_int_equal(cow_gup(g.t, g.a, PAGE_SIZE, COW_GUP_WRITE, &pg), COW_EFAULT);
		assert_int_equal(cow_gup(g.t, g.a, PAGE_SIZE, COW_GUP_WRITE | COW_GUP_FORCE, &pg),
				 0);
		cow_pages_write(pg, 0, "\x99", 1);
		cow_pages_release(pg);
		assert_int_equal(mmt_byte(g.t, g.a), 0x99);
		assert_false(pte_write(mmt_pte(g.p, g.a)));
		assert_int_equal(cow_write(g.t, g.a, &b, 1), COW_EFAULT);
		assert_true(mmt_holds(ct, g.a, 0x11, PAGE_SIZE));
		/* Forcing an untouched page: a private zeroed copy. */
		assert_int_equal(
			cow_gup(g.t, g.a + PAGE_SIZE, 1, COW_GUP_WRITE | COW_GUP_FORCE, &pg), 0);
		cow_pages_release(pg);
		assert_int_equal(mmt_byte(g.t, g.a + PAGE_SIZE), 0);
		shm = mmt_map(g.t, 1, COW_PROT_READ, COW_MAP_SHARED);
		assert_int_equal(cow_gup(g.t, shm, 1, COW_GUP_WRITE | COW_GUP_FORCE, &pg),
				 COW_EFAULT);
		assert_system_ok(g.sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		gt_free(&g);
	}
}

/* linux-2.4 had no maybe_mkwrite: the forced write's COW fault installs
 * the private copy writable in a mapping without VM_WRITE, so the retried
 * lookup writes the copy (no Dirty COW: a racing MADV_DONTNEED only makes
 * the next forced fault copy again), and the process can afterwards store
 * into its read-only mapping.  2.6's rule keeps the PTE read-only. */
static void test_forced_write_24_maps_copy_writable(void **state)
{
	static const struct {
		const char *policy;
		bool writable;
	} eras[] = {{"linux-2.4", true}, {"linux-2.6.7", false}, {"linux-6.5", false}};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(eras); i++) {
		struct gt g = gt_new(eras[i].policy);
		struct cow_pages *pg;
		unsigned char b = 0x42;

		assert_int_equal(mmt_fill(g.t, g.a, 0x11, PAGE_SIZE), 0);
		assert_int_equal(cow_mprotect(g.t, g.a, PAGE_SIZE, COW_PROT_READ), 0);
		assert_int_equal(cow_gup(g.t, g.a, PAGE_SIZE, COW_GUP_WRITE | COW_GUP_FORCE, &pg),
				 0);
		cow_pages_write(pg, 0, "\x99", 1);
		cow_pages_release(pg);
		assert_int_equal(mmt_byte(g.t, g.a), 0x99);
		if (pte_write(mmt_pte(g.p, g.a)) != eras[i].writable)
			fail_msg("%s: the forced fault left the PTE %s", eras[i].policy,
				 eras[i].writable ? "read-only" : "writable");
		assert_int_equal(cow_write(g.t, g.a, &b, 1), eras[i].writable ? 0 : COW_EFAULT);
		assert_int_equal(mmt_byte(g.t, g.a), eras[i].writable ? 0x42 : 0x99);
		assert_system_ok(g.sys);
		gt_free(&g);
	}
}

/* A file mapped through the page cache (cow_mmap_file): a private mapping
 * reads the file's bytes from cache pages every mapper shares, and every
 * write, a forced one through a read-only mapping (ptrace,
 * /proc/PID/mem) included, lands in a private anonymous copy, whatever
 * the era's rule for the forced write's retry; the file as read(2) sees
 * it never changes.  A shared mapping writes the cache itself. */
static void test_file_mappings_and_forced_writes(void **state)
{
	static const char *const policies[] = {"linux-2.6.29", "linux-5.8", "linux-6.5"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		struct cow_system *sys = mmt_system(policies[i], FRAMES, 4, true);
		struct cow_process *p = mmt_process(sys, "p"), *q = mmt_process(sys, "q");
		struct cow_task *pt = mmt_task(p, 0), *qt = mmt_task(q, 1);
		unsigned long ro, rw, sh, qro;
		struct cow_file *file;
		struct cow_pages *pg;
		unsigned char b[2];

		assert_int_equal(cow_file_create(2 * PAGE_SIZE, 0x5a, &file), 0);
		assert_int_equal(
			cow_mmap_file(pt, 3 * PAGE_SIZE, COW_PROT_READ, COW_MAP_PRIVATE, file, &ro),
			COW_EINVAL); /* past the file's last page */
		assert_int_equal(
			cow_mmap_file(pt, 2 * PAGE_SIZE, COW_PROT_READ, COW_MAP_PRIVATE, file, &ro),
			0);
		assert_int_equal(cow_mmap_file(pt, PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE,
					       COW_MAP_PRIVATE, file, &rw),
				 0);
		assert_int_equal(cow_mmap_file(pt, PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE,
					       COW_MAP_SHARED, file, &sh),
				 0);
		assert_int_equal(
			cow_mmap_file(qt, PAGE_SIZE, COW_PROT_READ, COW_MAP_PRIVATE, file, &qro),
			0);
		assert_true(mmt_holds(pt, ro, 0x5a, 2 * PAGE_SIZE));
		assert_true(mmt_holds(qt, qro, 0x5a, PAGE_SIZE));
		/* One cache page behind every mapping, mapped read-only where
		 * the mapping is private. */
		assert_ptr_equal(mmt_page(p, ro), mmt_page(q, qro));
		assert_false(PageFlag(mmt_page(p, ro), PG_anon));
		assert_false(pte_write(mmt_pte(p, ro)));
		/* A write to a private mapping copies. */
		assert_int_equal(mmt_fill(pt, rw, 0x11, PAGE_SIZE), 0);
		assert_true(PageFlag(mmt_page(p, rw), PG_anon));
		assert_true(mmt_holds(qt, qro, 0x5a, PAGE_SIZE));
		/* A forced write through the read-only mapping: a private copy
		 * that stays read-only. */
		assert_int_equal(cow_gup(pt, ro, 1, COW_GUP_WRITE, &pg), COW_EFAULT);
		assert_int_equal(cow_gup(pt, ro, 1, COW_GUP_WRITE | COW_GUP_FORCE, &pg), 0);
		cow_pages_write(pg, 0, "\x99", 1);
		cow_pages_release(pg);
		assert_int_equal(mmt_byte(pt, ro), 0x99);
		assert_true(PageFlag(mmt_page(p, ro), PG_anon));
		assert_false(pte_write(mmt_pte(p, ro)));
		assert_int_equal(mmt_byte(qt, qro), 0x5a);
		assert_int_equal(cow_file_read_cached(sys, file, 0, b, 1), 0);
		assert_int_equal(b[0], 0x5a);
		/* MADV_DONTNEED drops the copy: the file's bytes again. */
		assert_int_equal(cow_madvise(pt, ro, PAGE_SIZE, COW_MADV_DONTNEED), 0);
		assert_int_equal(mmt_byte(pt, ro), 0x5a);
		/* A shared mapping writes the cache: every mapper and read(2)
		 * see it, the file on disk does not (no writeback). */
		assert_int_equal(mmt_fill(pt, sh, 0x33, 1), 0);
		assert_int_equal(mmt_byte(qt, qro), 0x33);
		assert_int_equal(cow_file_read_cached(sys, file, 0, b, 2), 0);
		assert_int_equal(b[0], 0x33);
		assert_int_equal(b[1], 0x5a);
		assert_int_equal(cow_file_read(file, 0, b, 1), 0);
		assert_int_equal(b[0], 0x5a);
		/* fork shares the cache pages and the private copy alike. */
		{
			struct cow_process *c;
			struct cow_task *ct;

			assert_int_equal(cow_fork(pt, "c", &c), 0);
			ct = mmt_task(c, 2);
			assert_ptr_equal(mmt_page(c, ro + PAGE_SIZE), mmt_page(p, ro + PAGE_SIZE));
			assert_true(mmt_holds(ct, rw, 0x11, PAGE_SIZE));
			assert_int_equal(mmt_fill(ct, rw, 0x22, PAGE_SIZE), 0);
			assert_true(mmt_holds(pt, rw, 0x11, PAGE_SIZE));
			assert_system_ok(sys);
			cow_task_destroy(ct);
			cow_process_exit(c);
		}
		assert_system_ok(sys);
		cow_task_destroy(qt);
		cow_task_destroy(pt);
		cow_process_exit(q);
		cow_process_exit(p);
		cow_system_destroy(sys);
		cow_file_close(file);
	}
}

/* UFFDIO_CONTINUE maps the page cache's page into an empty PTE, read-only
 * in a private mapping, dirty from 5.16 on (linux-5.18+), clean before;
 * present PTEs stay; an anonymous mapping has no page cache to map. */
static void test_uffd_continue_installs_cache_pages(void **state)
{
	static const char *const policies[] = {"linux-5.11", "linux-5.19"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		struct cow_system *sys = mmt_system(policies[i], FRAMES, 2, false);
		struct cow_process *p = mmt_process(sys, "p");
		struct cow_task *t = mmt_task(p, 0);
		unsigned long f, anon = mmt_map(t, 1, COW_PROT_READ, COW_MAP_PRIVATE);
		struct cow_file *file;
		pte_t pte;

		assert_int_equal(cow_file_create(2 * PAGE_SIZE, 0x5a, &file), 0);
		assert_int_equal(
			cow_mmap_file(t, 2 * PAGE_SIZE, COW_PROT_READ, COW_MAP_PRIVATE, file, &f),
			0);
		assert_true(pte_none(mmt_pte(p, f)));
		assert_int_equal(cow_uffd_continue(t, f, PAGE_SIZE), 0);
		pte = mmt_pte(p, f);
		assert_true(pte_present(pte));
		assert_false(pte_write(pte));
		assert_int_equal(pte_dirty(pte) != 0, sys->policy->uffd_dirty);
		assert_false(PageFlag(mmt_page(p, f), PG_anon));
		assert_true(pte_none(mmt_pte(p, f + PAGE_SIZE)));
		assert_int_equal(cow_uffd_continue(t, f, 2 * PAGE_SIZE), 0); /* the first stays */
		assert_int_equal(mmt_pte(p, f), pte);
		assert_true(mmt_holds(t, f, 0x5a, 2 * PAGE_SIZE));
		assert_int_equal(cow_uffd_continue(t, anon, PAGE_SIZE), COW_EINVAL);
		assert_int_equal(cow_uffd_continue(t, f + 1, PAGE_SIZE), COW_EINVAL);
		assert_system_ok(sys);
		cow_task_destroy(t);
		cow_process_exit(p);
		cow_system_destroy(sys);
		cow_file_close(file);
	}
}

/* gup-fast walks the upper levels once per PTE table: a range that
 * crosses a table boundary gets every page, in order, and one whose
 * second table is missing stops at the boundary. */
static void test_gup_fast_crosses_page_tables(void **state)
{
	struct cow_system *sys = mmt_system("linux-6.5", 64, 2, false);
	struct cow_process *p = mmt_process(sys, "p");
	struct cow_task *t = mmt_task(p, 0);
	unsigned long a, want = PMD_SIZE - 3 * PAGE_SIZE;
	struct page *pages[6];

	(void)state;
	assert_int_equal(cow_mmap(t, want, 6 * PAGE_SIZE, COW_PROT_READ | COW_PROT_WRITE,
				  COW_MAP_PRIVATE, &a),
			 0);
	assert_int_equal(a, want);
	assert_int_equal(mmt_fill(t, a, 0x33, 3 * PAGE_SIZE), 0);
	/* The second table does not exist yet. */
	assert_int_equal(gup_fast(p->mm, 0, a, 6, FOLL_PIN | FOLL_WRITE, pages), 3);
	gup_put_pages(sys, pages, 3, FOLL_PIN);
	assert_int_equal(mmt_fill(t, a + 3 * PAGE_SIZE, 0x44, 2 * PAGE_SIZE), 0);
	/* A hole in the second table stops the walk there. */
	assert_int_equal(gup_fast(p->mm, 0, a, 6, FOLL_PIN | FOLL_WRITE, pages), 5);
	for (int k = 0; k < 5; k++)
		assert_ptr_equal(pages[k], mmt_page(p, a + k * PAGE_SIZE));
	assert_int_equal(cow_system_pins_held(sys), 5);
	gup_put_pages(sys, pages, 5, FOLL_PIN);
	assert_int_equal(cow_system_pins_held(sys), 0);
	assert_system_ok(sys);
	cow_task_destroy(t);
	cow_process_exit(p);
	assert_all_frames_free(sys, 64);
	cow_system_destroy(sys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gup_faults_pages_in_and_counts),
		cmocka_unit_test(test_gup_bad_arguments),
		cmocka_unit_test(test_gup_failing_fault_releases_only_taken_pages),
		cmocka_unit_test(test_write_gup_breaks_cow),
		cmocka_unit_test(test_pin_then_fork),
		cmocka_unit_test(test_ro_pin_of_shared_page),
		cmocka_unit_test(test_gup_fast_takes_only_what_it_may),
		cmocka_unit_test(test_gup_fast_crosses_page_tables),
		cmocka_unit_test(test_dio_read_and_write),
		cmocka_unit_test(test_forced_write),
		cmocka_unit_test(test_forced_write_24_maps_copy_writable),
		cmocka_unit_test(test_file_mappings_and_forced_writes),
		cmocka_unit_test(test_uffd_continue_installs_cache_pages),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
