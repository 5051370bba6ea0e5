/*
 * Tests of fork and copy-on-write across processes (src/mm/fork.c with
 * fault.c, mmu.c and rmap.c underneath), for every implemented policy:
 * COW in both directions, grandchildren, munmap on either side, a large
 * process forked three generations deep, and the same races on real
 * threads (stress) and under the explorer with the invariants checked
 * after every step.  The stale-TLB test has a negative control: with the
 * shootdown at the end of fork disabled, the explorer must catch a write
 * that leaks into the child.
 */
#include "mmtest.h"

#define FRAMES 1024

static void test_cow_both_directions(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct cow_system *sys = mmt_system(mm_policies[i], FRAMES, 4, true);
		struct cow_process *p = mmt_process(sys, "parent"), *c;
		struct cow_task *pt = mmt_task(p, 0), *ct;
		unsigned long a = mmt_map(pt, 8, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);

		assert_int_equal(mmt_fill(pt, a, 0x11, 8 * PAGE_SIZE), 0);
		assert_int_equal(cow_fork(pt, "child", &c), 0);
		ct = mmt_task(c, 1);
		/* The parent writes pages 0-3, the child pages 2-5. */
		assert_int_equal(mmt_fill(pt, a, 0x22, 4 * PAGE_SIZE), 0);
		assert_int_equal(mmt_fill(ct, a + 2 * PAGE_SIZE, 0x33, 4 * PAGE_SIZE), 0);
		assert_true(mmt_holds(pt, a, 0x22, 4 * PAGE_SIZE));
		assert_true(mmt_holds(pt, a + 4 * PAGE_SIZE, 0x11, 4 * PAGE_SIZE));
		assert_true(mmt_holds(ct, a, 0x11, 2 * PAGE_SIZE));
		assert_true(mmt_holds(ct, a + 2 * PAGE_SIZE, 0x33, 4 * PAGE_SIZE));
		assert_true(mmt_holds(ct, a + 6 * PAGE_SIZE, 0x11, 2 * PAGE_SIZE));
		/* Untouched pages are still shared, one frame for both. */
		assert_ptr_equal(mmt_page(p, a + 7 * PAGE_SIZE), mmt_page(c, a + 7 * PAGE_SIZE));
		assert_ptr_not_equal(mmt_page(p, a + 2 * PAGE_SIZE),
				     mmt_page(c, a + 2 * PAGE_SIZE));
		assert_system_ok(sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		assert_true(mmt_holds(pt, a + 6 * PAGE_SIZE, 0x11, 2 * PAGE_SIZE));
		cow_task_destroy(pt);
		cow_process_exit(p);
		assert_all_frames_free(sys, FRAMES);
		cow_system_destroy(sys);
	}
}

static void test_grandchildren(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct cow_system *sys = mmt_system(mm_policies[i], FRAMES, 4, true);
		struct cow_process *p[3];
		struct cow_task *t[3];
		unsigned long a;

		p[0] = mmt_process(sys, "gen0");
		t[0] = mmt_task(p[0], 0);
		a = mmt_map(t[0], 4, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		assert_int_equal(mmt_fill(t[0], a, 0xa0, 4 * PAGE_SIZE), 0);
		for (int g = 1; g < 3; g++) {
			assert_int_equal(cow_fork(t[g - 1], "gen", &p[g]), 0);
			t[g] = mmt_task(p[g], g);
		}
		/* Each generation writes page g; page 3 stays shared by all. */
		for (int g = 0; g < 3; g++)
			assert_int_equal(mmt_fill(t[g], a + (unsigned long)g * PAGE_SIZE, 0xb0 + g,
						  PAGE_SIZE),
					 0);
		for (int g = 0; g < 3; g++) {
			for (int k = 0; k < 3; k++)
				assert_true(mmt_holds(t[g], a + (unsigned long)k * PAGE_SIZE,
						      k == g ? 0xb0 + g : 0xa0, PAGE_SIZE));
			assert_true(mmt_holds(t[g], a + 3 * PAGE_SIZE, 0xa0, PAGE_SIZE));
		}
		assert_int_equal(page_mapcount(mmt_page(p[0], a + 3 * PAGE_SIZE)), 3);
		assert_system_ok(sys);
		/* The middle generation exits first: the others are intact. */
		cow_task_destroy(t[1]);
		cow_process_exit(p[1]);
		assert_true(mmt_holds(t[2], a, 0xa0, PAGE_SIZE));
		assert_true(mmt_holds(t[0], a, 0xb0, PAGE_SIZE));
		assert_system_ok(sys);
		for (int g = 0; g < 3; g += 2) {
			cow_task_destroy(t[g]);
			cow_process_exit(p[g]);
		}
		assert_all_frames_free(sys, FRAMES);
		cow_system_destroy(sys);
	}
}

static void test_munmap_on_either_side(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct cow_system *sys = mmt_system(mm_policies[i], FRAMES, 4, true);
		struct cow_process *p = mmt_process(sys, "parent"), *c;
		struct cow_task *pt = mmt_task(p, 0), *ct;
		unsigned long a = mmt_map(pt, 4, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		unsigned char b;

		assert_int_equal(mmt_fill(pt, a, 0x5c, 4 * PAGE_SIZE), 0);
		assert_int_equal(cow_fork(pt, "child", &c), 0);
		ct = mmt_task(c, 1);
		/* The parent unmaps pages 0-1, the child pages 2-3. */
		assert_int_equal(cow_munmap(pt, a, 2 * PAGE_SIZE), 0);
		assert_int_equal(cow_munmap(ct, a + 2 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
		assert_int_equal(cow_read(pt, a, &b, 1), COW_EFAULT);
		assert_int_equal(cow_read(ct, a + 3 * PAGE_SIZE, &b, 1), COW_EFAULT);
		assert_true(mmt_holds(ct, a, 0x5c, 2 * PAGE_SIZE));
		assert_true(mmt_holds(pt, a + 2 * PAGE_SIZE, 0x5c, 2 * PAGE_SIZE));
		/* Each is now the only mapper of what it kept: writes reuse. */
		{
			struct page *pg = mmt_page(c, a);

			assert_int_equal(page_mapcount(pg), 1);
			assert_int_equal(mmt_fill(ct, a, 0x6d, PAGE_SIZE), 0);
			assert_ptr_equal(mmt_page(c, a), pg);
		}
		assert_system_ok(sys);
		cow_task_destroy(ct);
		cow_process_exit(c);
		cow_task_destroy(pt);
		cow_process_exit(p);
		assert_all_frames_free(sys, FRAMES);
		cow_system_destroy(sys);
	}
}

/* 1,000 written pages, forked three generations deep; every generation
 * writes its own pattern into a part and checks every byte it can see. */
static void test_thousand_pages_three_generations(void **state)
{
	enum { PAGES = 1000, GENS = 4, BIG = 8192 };

	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct cow_system *sys = mmt_system(mm_policies[i], BIG, 4, true);
		struct cow_process *p[GENS];
		struct cow_task *t[GENS];
		unsigned char *expect[GENS];
		unsigned long a;

		p[0] = mmt_process(sys, "gen0");
		t[0] = mmt_task(p[0], 0);
		a = mmt_map(t[0], PAGES, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		expect[0] = malloc(PAGES);
		for (unsigned long k = 0; k < PAGES; k++) {
			expect[0][k] = (unsigned char)(k * 7 + 1);
			assert_int_equal(mmt_fill(t[0], a + k * PAGE_SIZE, expect[0][k], PAGE_SIZE),
					 0);
		}
		for (int g = 1; g < GENS; g++) {
			assert_int_equal(cow_fork(t[g - 1], "gen", &p[g]), 0);
			t[g] = mmt_task(p[g], g % 4);
			expect[g] = malloc(PAGES);
			memcpy(expect[g], expect[g - 1], PAGES);
			/* Every generation, the parent too, writes every third
			 * page after the fork, offset by its generation. */
			for (int w = g - 1; w <= g; w++)
				for (unsigned long k = (unsigned long)g; k < PAGES; k += 3) {
					unsigned char v = (unsigned char)(0x40 + 16 * w + g);

					assert_int_equal(
						mmt_fill(t[w], a + k * PAGE_SIZE, v, PAGE_SIZE), 0);
					expect[w][k] = v;
				}
		}
		for (int g = 0; g < GENS; g++)
			for (unsigned long k = 0; k < PAGES; k++)
				if (!mmt_holds(t[g], a + k * PAGE_SIZE, expect[g][k], PAGE_SIZE))
					fail_msg("%s: generation %d, page %lu is not 0x%02x",
						 mm_policies[i], g, k, expect[g][k]);
		assert_system_ok(sys);
		for (int g = 0; g < GENS; g++) {
			cow_task_destroy(t[g]);
			cow_process_exit(p[g]);
			free(expect[g]);
		}
		assert_all_frames_free(sys, BIG);
		cow_system_destroy(sys);
	}
}

/* The same family three generations deep, with two threads per process
 * writing halves of the pages concurrently, and every byte checked by
 * both threads. */
#define GGENS_MAX 4

struct gens {
	struct cow_system *sys;
	struct cow_process *p[4];
	struct cow_task *t[4][2];
	unsigned long a;
	int gen; /* the generation being written */
	unsigned long pages;
	atomic_t done[GGENS_MAX]; /* explore: threads done with each round */
	bool passed;
};

enum { GPAGES = 1000, GGENS = GGENS_MAX, GPAGES_EXPLORE = 48 };

static unsigned char gens_value(int owner, int gen, unsigned long k)
{
	return (unsigned char)(k * 7 + 1 + 32 * owner + 5 * gen);
}

/* What process w holds in page k once generation g has been written.
 * Round gen forks process gen from gen - 1, then both write the pages with
 * k % 3 == gen % 3; every later process descends from process gen and
 * inherits its value. */
static unsigned char gens_expect(int w, int g, unsigned long k)
{
	unsigned char v = gens_value(0, 0, k);

	for (int gen = 1; gen <= g; gen++) {
		if (k % 3 != (unsigned long)gen % 3 || w < gen - 1)
			continue;
		v = gens_value(w == gen - 1 ? gen - 1 : gen, gen, k);
	}
	return v;
}

/* Thread half of process w writes its half of the pages of generation g. */
static void gens_write(struct gens *G, int w, int half)
{
	int g = G->gen;

	for (unsigned long k = (unsigned long)half; k < G->pages; k += 2)
		if (g == 0 || k % 3 == (unsigned long)g % 3)
			task_check(mmt_fill(G->t[w][half], G->a + k * PAGE_SIZE,
					    gens_value(w, g, k), PAGE_SIZE) == 0);
}

static bool gens_verify(struct gens *G, int w, int half)
{
	for (unsigned long k = 0; k < G->pages; k++)
		if (!mmt_holds(G->t[w][half], G->a + k * PAGE_SIZE, gens_expect(w, G->gen, k),
			       PAGE_SIZE)) {
			printf("# generation %d, page %lu: 0x%02x, want 0x%02x\n", w, k,
			       mmt_byte(G->t[w][half], G->a + k * PAGE_SIZE),
			       gens_expect(w, G->gen, k));
			return false;
		}
	return true;
}

/* Process w's two tasks run on CPUs 2 * (w % 2) and 2 * (w % 2) + 1, so a
 * parent and its child never share a CPU (one OS thread per CPU). */
static int gens_cpu(int w, int half)
{
	return 2 * (w % 2) + half;
}

static void gens_thread(void *arg)
{
	struct gens *G = arg;
	int cpu = smp_processor_id(), g = G->gen;

	for (int w = g > 0 ? g - 1 : 0; w <= g; w++)
		if (gens_cpu(w, 0) <= cpu && cpu <= gens_cpu(w, 1))
			gens_write(G, w, cpu - gens_cpu(w, 0));
}

static struct gens *gens_new(const char *policy, unsigned long pages)
{
	struct gens *G = calloc(1, sizeof(*G));

	assert_non_null(G);
	G->pages = pages;
	G->sys = mmt_system(policy, 8192, 4, true);
	G->p[0] = mmt_process(G->sys, "gen0");
	G->t[0][0] = mmt_task(G->p[0], gens_cpu(0, 0));
	G->t[0][1] = mmt_task(G->p[0], gens_cpu(0, 1));
	G->a = mmt_map(G->t[0][0], pages, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	return G;
}

static void gens_fork(struct gens *G, int g)
{
	task_check(cow_fork(G->t[g - 1][0], "gen", &G->p[g]) == 0);
	task_check(cow_task_create(G->p[g], gens_cpu(g, 0), &G->t[g][0]) == 0);
	task_check(cow_task_create(G->p[g], gens_cpu(g, 1), &G->t[g][1]) == 0);
	WRITE_ONCE(G->gen, g);
}

static void gens_free(struct gens *G)
{
	for (int g = 0; g < GGENS; g++) {
		cow_task_destroy(G->t[g][0]);
		cow_task_destroy(G->t[g][1]);
		cow_process_exit(G->p[g]);
	}
	assert_all_frames_free(G->sys, 8192);
	cow_system_destroy(G->sys);
	free(G);
}

/* Explore: task half h does half h's writes of both processes of every
 * round; task 0 forks; a round starts when both finished the last. */
struct gens_round {
	struct gens *G;
	int g;
};

/* The fork of round g happened (task 0 forks only once the last round is
 * done).  A wait reads one word: gen here, done[g - 1] below. */
static bool gens_round_ready(const void *arg)
{
	const struct gens_round *r = arg;

	return READ_IN_PREDICATE(r->G->gen) == r->g;
}

static bool gens_forked_ready(const void *arg)
{
	const struct gens_round *r = arg;

	return READ_IN_PREDICATE(r->G->done[r->g - 1].counter) == 2;
}

static void gens_explore_task(void *arg)
{
	struct gens *G = arg;
	int half = smp_processor_id();

	for (int g = 0; g < GGENS; g++) {
		struct gens_round r = {G, g};

		if (half == 0 && g > 0) {
			sync_wait_cond_on(&r, &G->done[g - 1], gens_forked_ready,
					  "the previous round");
			gens_fork(G, g);
		}
		if (g > 0)
			sync_wait_cond_on(&r, &G->gen, gens_round_ready, "the fork of this round");
		for (int w = g > 0 ? g - 1 : 0; w <= g; w++)
			gens_write(G, w, half);
		atomic_inc(&G->done[g]); /* both halves: one step each */
	}
}

static void *gens_setup(struct sched *s, const char *policy)
{
	struct gens *G = gens_new(policy, GPAGES_EXPLORE);

	sched_spawn(s, "half0", 0, gens_explore_task, G, 0);
	sched_spawn(s, "half1", 1, gens_explore_task, G, 0);
	return G;
}

static void *gens_setup_old(struct sched *s)
{
	return gens_setup(s, "linux-2.6.29");
}

static void *gens_setup_new(struct sched *s)
{
	return gens_setup(s, "linux-6.5");
}

static int gens_check(void *state, char *msg, size_t len)
{
	return mmt_step_check(((struct gens *)state)->sys, msg, len);
}

static int gens_verdict(void *state, char *msg, size_t len)
{
	struct gens *G = state;
	int err = cow_system_check(G->sys, 1, msg, len);

	for (int w = 0; w < GGENS && !err; w++)
		for (int half = 0; half < 2 && !err; half++)
			if (!gens_verify(G, w, half)) {
				snprintf(msg, len, "generation %d lost a write", w);
				err = 1;
			}
	G->passed = err == 0;
	return err;
}

static void gens_teardown(void *state)
{
	struct gens *G = state;

	if (G->passed)
		gens_free(G);
	else
		free(G);
}

static const struct explore_prog gens_old = {
	"generations-2.6.29", 4, gens_setup_old, gens_check, gens_verdict, gens_teardown,
};
static const struct explore_prog gens_new_prog = {
	"generations-6.5", 4, gens_setup_new, gens_check, gens_verdict, gens_teardown,
};

/* Each run is long (a thousand pages over three generations, every store
 * a step): under the sanitizers, several times slower, a quarter of the
 * runs, so that the sanitizer suite fits CI's time. */
#ifdef __SANITIZE_ADDRESS__
#define GEN_RUNS 5
#else
#define GEN_RUNS 20
#endif

static void test_generations_explore(void **state)
{
	(void)state;
	assert_explore_clean(&gens_old, 1, GEN_RUNS);
	assert_explore_clean(&gens_new_prog, 1, GEN_RUNS);
}

static void test_thousand_pages_three_generations_stress(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct gens *G = gens_new(mm_policies[i], GPAGES);

		stress_run(2, gens_thread, G);
		for (int g = 1; g < GGENS; g++) {
			gens_fork(G, g);
			stress_run(4, gens_thread, G);
		}
		for (int w = 0; w < GGENS; w++)
			for (int half = 0; half < 2; half++)
				assert_true(gens_verify(G, w, half));
		assert_system_ok(G->sys);
		gens_free(G);
	}
}

/* ---- races on real threads ----------------------------------------------------- */

struct race {
	struct cow_system *sys;
	struct cow_process *p;
	struct cow_task *forker, *writer;
	unsigned long a;
	int forks; /* stress: how many forks */
	int stop;
	int written;	  /* the writer's last value */
	int child_ready;  /* explore: the child read its snapshot once */
	int child_saw[2]; /* explore: the child's page-0 byte, read twice */
	int child_page1;
	bool passed;
};

/* The writer stores increasing values into the first ACCESS_CHUNK bytes
 * of page 0 of the parent: one store the explorer does not split (a
 * store of a whole page is many, and a fork may copy it half written). */
static void race_writer(struct race *r, int n)
{
	/* In stress mode: at least 100 writes, then until the forker stops. */
	for (int v = 1; n ? v <= n : (v <= 100 || !READ_ONCE(r->stop)); v++) {
		int b = v % 250 + 1;

		task_check(mmt_fill(r->writer, r->a, b, ACCESS_CHUNK) == 0);
		WRITE_ONCE(r->written, v);
	}
}

/* Fork, then check the child's snapshot is one value the parent had and
 * that it never changes afterwards, and that the child's own writes stay
 * its own. */
static void race_fork_once(struct race *r, int slot)
{
	struct cow_process *c;
	struct cow_task *ct;
	int first, again;

	task_check(cow_fork(r->forker, "child", &c) == 0);
	task_check(cow_task_create(c, 2, &ct) == 0);
	first = mmt_byte(ct, r->a);
	task_check(mmt_holds(ct, r->a, first, ACCESS_CHUNK));
	WRITE_ONCE(r->child_ready, 1);
	for (int k = 0; k < 3; k++)
		cpu_relax();
	again = mmt_byte(ct, r->a);
	task_check(again == first); /* no write after fork reaches the child */
	task_check(mmt_fill(ct, r->a + PAGE_SIZE, 0xc0, PAGE_SIZE) == 0);
	task_check(mmt_holds(ct, r->a + PAGE_SIZE, 0xc0, PAGE_SIZE));
	if (slot >= 0) {
		r->child_saw[0] = first;
		r->child_saw[1] = again;
		r->child_page1 = mmt_byte(ct, r->a + PAGE_SIZE);
	}
	cow_task_destroy(ct);
	cow_process_exit(c);
}

static void race_stress_thread(void *arg)
{
	struct race *r = arg;

	if (smp_processor_id() == 1) {
		race_writer(r, 0);
		return;
	}
	for (int k = 0; k < r->forks; k++)
		race_fork_once(r, -1);
	WRITE_ONCE(r->stop, 1);
}

static struct race *race_new(const char *policy)
{
	struct race *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->sys = mmt_system(policy, 256, 4, true);
	r->p = mmt_process(r->sys, "parent");
	r->forker = mmt_task(r->p, 0);
	r->writer = mmt_task(r->p, 1);
	r->a = mmt_map(r->forker, 2, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	assert_int_equal(mmt_fill(r->forker, r->a, 0x11, 2 * PAGE_SIZE), 0);
	return r;
}

static void race_free(struct race *r)
{
	cow_task_destroy(r->forker);
	cow_task_destroy(r->writer);
	cow_process_exit(r->p);
	assert_all_frames_free(r->sys, 256);
	cow_system_destroy(r->sys);
	free(r);
}

static void test_fork_races_writer_stress(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct race *r = race_new(mm_policies[i]);

		r->forks = 300;
		stress_run(2, race_stress_thread, r);
		assert_true(mmt_holds(r->forker, r->a + PAGE_SIZE, 0x11, PAGE_SIZE));
		assert_int_equal(mmt_byte(r->forker, r->a), r->written % 250 + 1);
		assert_system_ok(r->sys);
		race_free(r);
	}
}

/* ---- the same race under the explorer ------------------------------------------ */

static void explore_forker(void *arg)
{
	race_fork_once(arg, 0);
}

static bool child_ready(const void *arg)
{
	return ((const struct race *)arg)->child_ready != 0;
}

/* Three writes race with the fork itself, three more with the child's
 * reads of its snapshot. */
static void explore_writer(void *arg)
{
	struct race *r = arg;

	race_writer(r, 3);
	sync_wait_cond_on(r, &r->child_ready, child_ready, "the child's first read");
	for (int v = 4; v <= 6; v++) {
		task_check(mmt_fill(r->writer, r->a, v, ACCESS_CHUNK) == 0);
		WRITE_ONCE(r->written, v);
	}
}

static void *race_setup(struct sched *s, const char *policy)
{
	struct race *r = race_new(policy);

	/* The writer's TLB holds a writable entry before the fork starts. */
	assert_int_equal(mmt_fill(r->writer, r->a, 0x11, PAGE_SIZE), 0);
	sched_spawn(s, "forker", 0, explore_forker, r, 0);
	sched_spawn(s, "writer", 1, explore_writer, r, 0);
	return r;
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
	return mmt_step_check(((struct race *)state)->sys, msg, len);
}

static int race_verdict(void *state, char *msg, size_t len)
{
	struct race *r = state;
	int err = cow_system_check(r->sys, 1, msg, len);

	if (err)
		return err;
	if (mmt_byte(r->forker, r->a) != 6 ||
	    !mmt_holds(r->forker, r->a + PAGE_SIZE, 0x11, PAGE_SIZE)) {
		snprintf(msg, len, "parent holds 0x%02x / 0x%02x, want 0x06 / 0x11",
			 mmt_byte(r->forker, r->a), mmt_byte(r->forker, r->a + PAGE_SIZE));
		return 1;
	}
	if (r->child_page1 != 0xc0) {
		snprintf(msg, len, "the child lost its own write: 0x%02x", r->child_page1);
		return 1;
	}
	r->passed = true;
	return 0;
}

/* A failed run may leave locks held by abandoned tasks: tear down only
 * what passed, and let a failure's state go (the test fails anyway). */
static void race_teardown(void *state)
{
	struct race *r = state;

	if (r->passed) {
		cow_task_destroy(r->forker);
		cow_task_destroy(r->writer);
		cow_process_exit(r->p);
		cow_system_destroy(r->sys);
	}
	free(r);
}

static const struct explore_prog race_old = {
	"fork-writer-2.6.29", 4, race_setup_old, race_check, race_verdict, race_teardown,
};
static const struct explore_prog race_new_prog = {
	"fork-writer-6.5", 4, race_setup_new, race_check, race_verdict, race_teardown,
};

static void test_fork_races_writer_explore(void **state)
{
	(void)state;
	assert_explore_clean(&race_old, 1, 300);
	assert_explore_clean(&race_new_prog, 1, 300);
}

/* ---- a coherent snapshot at fork (matrix row 25) --------------------------------
 *
 * A parent with a pinned page (so that fork copies it for the child from
 * 5.9 on) forks while another of its threads writes the page: first a
 * chunk at the low end, then one at the high end (in the same page, or in
 * the next page, also pinned).  The child may see neither write, the low
 * one or both, never the high one without the low one.  Copies and
 * stores move ACCESS_CHUNK bytes a step under the explorer, so a copy made
 * while the parent's PTE is writable can be torn: 5.9 .. 6.5 and Nick's
 * 2009 patch.  Andrea's 2009 patch and the 2025 proposal write-protect the
 * parent's PTE and flush before the copy.  The forkfix makes the parent's
 * PTE writable again right after copying its page, so a write to the
 * next page can land before fork copies that one: its copy of each page
 * is atomic, its snapshot of two pages is not.  The 2025 proposal keeps
 * the parent's PTEs read-only until fork is done. */

struct snap {
	struct cow_system *sys;
	struct cow_process *p, *c;
	struct cow_task *forker, *writer;
	struct cow_pages *pin;
	unsigned long a, high; /* high: the offset of the second write */
	bool passed;
};

static void snap_fork(void *arg)
{
	struct snap *x = arg;

	task_check(cow_fork(x->forker, "child", &x->c) == 0);
}

static void snap_write(void *arg)
{
	struct snap *x = arg;

	task_check(mmt_fill(x->writer, x->a, 0x22, ACCESS_CHUNK) == 0);
	task_check(mmt_fill(x->writer, x->a + x->high, 0x22, ACCESS_CHUNK) == 0);
}

static void *snap_setup(struct sched *s, const char *policy, unsigned long high)
{
	struct snap *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->sys = mmt_system(policy, 256, 4, true);
	x->p = mmt_process(x->sys, "parent");
	x->forker = mmt_task(x->p, 0);
	x->writer = mmt_task(x->p, 1);
	x->a = mmt_map(x->forker, 2, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	x->high = high;
	assert_int_equal(mmt_fill(x->writer, x->a, 0x11, 2 * PAGE_SIZE), 0);
	assert_int_equal(cow_gup(x->forker, x->a, 2 * PAGE_SIZE,
				 COW_GUP_PIN | COW_GUP_LONGTERM | COW_GUP_WRITE, &x->pin),
			 0);
	sched_spawn(s, "forker", 0, snap_fork, x, 0);
	sched_spawn(s, "writer", 1, snap_write, x, 0);
	return x;
}

static int snap_check(void *state, char *msg, size_t len)
{
	return mmt_step_check(((struct snap *)state)->sys, msg, len);
}

static int snap_verdict(void *state, char *msg, size_t len)
{
	struct snap *x = state;
	struct cow_task *ct;
	int low, high, err = cow_system_check(x->sys, 1, msg, len);

	if (err)
		return err;
	assert_int_equal(cow_task_create(x->c, 2, &ct), 0);
	low = mmt_byte(ct, x->a);
	high = mmt_byte(ct, x->a + x->high);
	cow_task_destroy(ct);
	if (!mmt_holds(x->forker, x->a, 0x22, ACCESS_CHUNK) ||
	    !mmt_holds(x->forker, x->a + x->high, 0x22, ACCESS_CHUNK)) {
		snprintf(msg, len, "the parent lost a write");
		return 1;
	}
	if (low == 0x11 && high == 0x22) {
		snprintf(msg, len,
			 "torn snapshot: the child sees the high write (offset %lu) "
			 "without the low one",
			 x->high);
		return 1;
	}
	x->passed = true;
	return 0;
}

static void snap_teardown(void *state)
{
	struct snap *x = state;

	if (x->passed) {
		cow_pages_release(x->pin);
		cow_task_destroy(x->forker);
		cow_task_destroy(x->writer);
		cow_process_exit(x->c);
		cow_process_exit(x->p);
		cow_system_destroy(x->sys);
	}
	free(x);
}

#define SNAP_PROG(id, policy, high)                                                           \
	static void *snap_setup_##id(struct sched *s)                                         \
	{                                                                                     \
		return snap_setup(s, policy, high);                                           \
	}                                                                                     \
	static const struct explore_prog snap_##id = {                                        \
		"snapshot-" #id, 3, snap_setup_##id, snap_check, snap_verdict, snap_teardown, \
	}
SNAP_PROG(page_65, "linux-6.5", PAGE_SIZE - ACCESS_CHUNK);
SNAP_PROG(pages_65, "linux-6.5", PAGE_SIZE);
SNAP_PROG(page_dontcow, "dontcow-2009", PAGE_SIZE - ACCESS_CHUNK);
SNAP_PROG(page_forkfix, "forkfix-2009", PAGE_SIZE - ACCESS_CHUNK);
SNAP_PROG(pages_forkfix, "forkfix-2009", PAGE_SIZE);
SNAP_PROG(page_2025, "fork-coherent-2025", PAGE_SIZE - ACCESS_CHUNK);
SNAP_PROG(pages_2025, "fork-coherent-2025", PAGE_SIZE);

/* A store of a whole page is many steps under the explorer (ACCESS_CHUNK
 * bytes each), as a memcpy is many stores: a reader on another CPU that
 * loads the first byte and then the last can see the first written and
 * the last not yet.  With one step per store it never could. */
struct torn_store {
	struct cow_system *sys;
	struct cow_process *p;
	struct cow_task *writer, *reader;
	unsigned long a;
	int first, last;
};

static void torn_write(void *arg)
{
	struct torn_store *x = arg;

	task_check(mmt_fill(x->writer, x->a, 0x22, PAGE_SIZE) == 0);
}

static void torn_read(void *arg)
{
	struct torn_store *x = arg;

	x->first = mmt_byte(x->reader, x->a);
	x->last = mmt_byte(x->reader, x->a + PAGE_SIZE - 1);
}

static void *torn_setup(struct sched *s)
{
	struct torn_store *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->sys = mmt_system("linux-6.5", 64, 4, true);
	x->p = mmt_process(x->sys, "p");
	x->writer = mmt_task(x->p, 1);
	x->reader = mmt_task(x->p, 2);
	x->a = mmt_map(x->writer, 1, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	assert_int_equal(mmt_fill(x->writer, x->a, 0x11, PAGE_SIZE), 0);
	sched_spawn(s, "writer", 1, torn_write, x, 0);
	sched_spawn(s, "reader", 2, torn_read, x, 0);
	return x;
}

static int torn_check(void *state, char *msg, size_t len)
{
	return mmt_step_check(((struct torn_store *)state)->sys, msg, len);
}

static int torn_verdict(void *state, char *msg, size_t len)
{
	struct torn_store *x = state;

	if (x->first == 0x22 && x->last == 0x11) {
		snprintf(msg, len, "torn store: first byte written, last not yet");
		return 1;
	}
	return 0;
}

static void torn_teardown(void *state)
{
	struct torn_store *x = state;

	cow_task_destroy(x->writer);
	cow_task_destroy(x->reader);
	cow_process_exit(x->p);
	cow_system_destroy(x->sys);
	free(x);
}

static const struct explore_prog torn_prog = {
	"torn-store", 3, torn_setup, torn_check, torn_verdict, torn_teardown,
};

static void test_page_store_is_many_steps(void **state)
{
	struct explore_opts o = {.algo = SCHED_DFS, .preemptions = 1};
	struct explore_result r;

	(void)state;
	assert_int_equal(explore_run_search(&torn_prog, NULL, &o, &r), 0);
	if (!r.failed)
		fail_msg("no torn store in %llu runs", (unsigned long long)r.runs);
	assert_non_null(strstr(r.message, "torn store"));
}

static void test_fork_snapshot_coherence(void **state)
{
	static const struct {
		const struct explore_prog *prog;
		bool torn;
	} cases[] = {
		{&snap_page_65, true},	     {&snap_pages_65, true},
		{&snap_page_dontcow, true},  {&snap_page_forkfix, false},
		{&snap_pages_forkfix, true}, {&snap_page_2025, false},
		{&snap_pages_2025, false},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct explore_opts o = {.algo = SCHED_DFS, .preemptions = 2};
		struct explore_result r;

		assert_int_equal(explore_run_search(cases[i].prog, NULL, &o, &r), 0);
		if (r.failed != cases[i].torn)
			fail_msg("%s: %s after %llu runs%s%s", cases[i].prog->name,
				 r.failed ? "failed" : "passed", (unsigned long long)r.runs,
				 r.failed ? ": " : "", r.failed ? r.message : "");
		if (r.failed)
			assert_non_null(strstr(r.message, "torn snapshot"));
		else
			assert_true(r.dfs_done);
	}
}

static void test_stale_tlb_is_caught_without_shootdown(void **state)
{
	struct explore_result r;

	(void)state;
	fork_test_skip_tlb_flush = true;
	r = explore_runs(&race_new_prog, 1, 2000);
	fork_test_skip_tlb_flush = false;
	assert_true(r.failed);
	assert_non_null(strstr(r.message, "again == first"));
}

/* ---- a family of processes, on threads and under the explorer -----------------
 * Two threads of a parent race: one forks a child, the child forks a
 * grandchild, and both write, munmap, mprotect and read untouched memory;
 * the other thread writes, mprotects and writes a MADV_DONTFORK page.
 * Every process must see exactly its own writes and a stable snapshot of
 * what was there at its fork; nobody's write may reach another process. */

enum { FA, FZ = 4, FD = 6, FPAGES = 7 };

struct family {
	struct cow_system *sys;
	struct cow_process *p;
	struct cow_task *t0, *t1;
	unsigned long a;
	bool passed;
};

static unsigned long fam_page(struct family *f, int k)
{
	return f->a + (unsigned long)k * PAGE_SIZE;
}

/* The parent's writer thread owns pages 1-3 of region A and page D. */
static void family_writer(struct family *f)
{
	task_check(mmt_fill(f->t1, fam_page(f, FA + 1), 0xb1, PAGE_SIZE) == 0);
	task_check(mmt_fill(f->t1, fam_page(f, FA + 2), 0xb2, PAGE_SIZE) == 0);
	task_check(cow_mprotect(f->t1, fam_page(f, FA + 3), PAGE_SIZE, COW_PROT_READ) == 0);
	task_check(cow_mprotect(f->t1, fam_page(f, FA + 3), PAGE_SIZE,
				COW_PROT_READ | COW_PROT_WRITE) == 0);
	task_check(mmt_fill(f->t1, fam_page(f, FA + 3), 0xb3, PAGE_SIZE) == 0);
	task_check(mmt_holds(f->t1, fam_page(f, FZ), 0, 2 * PAGE_SIZE));
	task_check(mmt_fill(f->t1, fam_page(f, FD), 0xd1, PAGE_SIZE) == 0);
}

/* Page k's byte must be the parent's value before or after its write. */
static bool snapshot_ok(int k, int byte)
{
	static const int after[4] = {0xa0, 0xb1, 0xb2, 0xb3};

	return byte == 0xa0 || byte == after[k];
}

static void family_forker(struct family *f)
{
	struct cow_process *c, *g;
	struct cow_task *ct, *gt;
	int snap[4];
	unsigned char b;

	task_check(cow_fork(f->t0, "child", &c) == 0);
	task_check(cow_task_create(c, 2, &ct) == 0);
	for (int k = 0; k < 4; k++) {
		snap[k] = mmt_byte(ct, fam_page(f, FA + k));
		task_check(snapshot_ok(k, snap[k]));
		task_check(mmt_holds(ct, fam_page(f, FA + k), snap[k], PAGE_SIZE));
	}
	task_check(cow_fork(ct, "grandchild", &g) == 0);
	task_check(cow_task_create(g, 3, &gt) == 0);
	task_check(mmt_fill(ct, fam_page(f, FA), 0xc0, PAGE_SIZE) == 0);
	task_check(mmt_fill(gt, fam_page(f, FA), 0x60, PAGE_SIZE) == 0);
	task_check(cow_munmap(ct, fam_page(f, FA + 3), PAGE_SIZE) == 0);
	task_check(cow_mprotect(gt, fam_page(f, FA + 2), PAGE_SIZE, COW_PROT_READ) == 0);
	task_check(cow_mprotect(gt, fam_page(f, FA + 2), PAGE_SIZE,
				COW_PROT_READ | COW_PROT_WRITE) == 0);
	task_check(mmt_fill(gt, fam_page(f, FA + 2), 0x62, PAGE_SIZE) == 0);

	task_check(mmt_holds(ct, fam_page(f, FA), 0xc0, PAGE_SIZE));
	task_check(mmt_holds(gt, fam_page(f, FA), 0x60, PAGE_SIZE));
	task_check(mmt_holds(ct, fam_page(f, FA + 1), snap[1], PAGE_SIZE));
	task_check(mmt_holds(gt, fam_page(f, FA + 1), snap[1], PAGE_SIZE));
	task_check(mmt_holds(ct, fam_page(f, FA + 2), snap[2], PAGE_SIZE));
	task_check(mmt_holds(gt, fam_page(f, FA + 2), 0x62, PAGE_SIZE));
	task_check(cow_read(ct, fam_page(f, FA + 3), &b, 1) == COW_EFAULT);
	task_check(mmt_holds(gt, fam_page(f, FA + 3), snap[3], PAGE_SIZE));
	task_check(mmt_holds(ct, fam_page(f, FZ), 0, 2 * PAGE_SIZE));
	task_check(mmt_holds(gt, fam_page(f, FZ), 0, 2 * PAGE_SIZE));
	/* MADV_DONTFORK: neither descendant has the page at all. */
	task_check(cow_read(ct, fam_page(f, FD), &b, 1) == COW_EFAULT);
	task_check(cow_read(gt, fam_page(f, FD), &b, 1) == COW_EFAULT);
	cow_task_destroy(gt);
	cow_process_exit(g);
	cow_task_destroy(ct);
	cow_process_exit(c);
}

static struct family *family_new(const char *policy)
{
	struct family *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->sys = mmt_system(policy, 256, 4, true);
	f->p = mmt_process(f->sys, "parent");
	f->t0 = mmt_task(f->p, 0);
	f->t1 = mmt_task(f->p, 1);
	f->a = mmt_map(f->t0, FPAGES, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	return f;
}

/* Set the parent's memory up for one round. */
static void family_prepare(struct family *f)
{
	assert_int_equal(mmt_fill(f->t0, fam_page(f, FA), 0xa0, 4 * PAGE_SIZE), 0);
	assert_int_equal(cow_madvise(f->t0, fam_page(f, FZ), 2 * PAGE_SIZE, COW_MADV_DONTNEED), 0);
	assert_int_equal(mmt_fill(f->t0, fam_page(f, FD), 0xd0, PAGE_SIZE), 0);
	assert_int_equal(cow_madvise(f->t0, fam_page(f, FD), PAGE_SIZE, COW_MADV_DONTFORK), 0);
}

static int family_result(struct family *f, char *msg, size_t len)
{
	static const int want[FPAGES] = {0xa0, 0xb1, 0xb2, 0xb3, 0, 0, 0xd1};
	int err = cow_system_check(f->sys, 1, msg, len);

	if (err)
		return err;
	for (int k = 0; k < FPAGES; k++)
		if (!mmt_holds(f->t0, fam_page(f, k), want[k], PAGE_SIZE)) {
			snprintf(msg, len, "parent page %d holds 0x%02x, want 0x%02x", k,
				 mmt_byte(f->t0, fam_page(f, k)), want[k]);
			return 1;
		}
	return 0;
}

static void family_thread(void *arg)
{
	if (smp_processor_id() == 0)
		family_forker(arg);
	else
		family_writer(arg);
}

static void test_family_stress(void **state)
{
	(void)state;
	for (int i = 0; i < NR_MM_POLICIES; i++) {
		struct family *f = family_new(mm_policies[i]);
		char msg[512];

		for (int round = 0; round < 200; round++) {
			family_prepare(f);
			stress_run(2, family_thread, f);
			if (family_result(f, msg, sizeof(msg)))
				fail_msg("%s, round %d: %s", mm_policies[i], round, msg);
		}
		cow_task_destroy(f->t0);
		cow_task_destroy(f->t1);
		cow_process_exit(f->p);
		assert_all_frames_free(f->sys, 256);
		cow_system_destroy(f->sys);
		free(f);
	}
}

static void explore_family_forker(void *arg)
{
	family_forker(arg);
}

static void explore_family_writer(void *arg)
{
	family_writer(arg);
}

static void *family_setup(struct sched *s, const char *policy)
{
	struct family *f = family_new(policy);

	family_prepare(f);
	sched_spawn(s, "forker", 0, explore_family_forker, f, 0);
	sched_spawn(s, "writer", 1, explore_family_writer, f, 0);
	return f;
}

static void *family_setup_old(struct sched *s)
{
	return family_setup(s, "linux-2.6.29");
}

static void *family_setup_new(struct sched *s)
{
	return family_setup(s, "linux-6.5");
}

static int family_check(void *state, char *msg, size_t len)
{
	return mmt_step_check(((struct family *)state)->sys, msg, len);
}

static int family_verdict(void *state, char *msg, size_t len)
{
	struct family *f = state;
	int err = family_result(f, msg, len);

	f->passed = err == 0;
	return err;
}

static void family_teardown(void *state)
{
	struct family *f = state;

	if (f->passed) {
		cow_task_destroy(f->t0);
		cow_task_destroy(f->t1);
		cow_process_exit(f->p);
		cow_system_destroy(f->sys);
	}
	free(f);
}

static void *family_setup_broken(struct sched *s)
{
	return family_setup(s, "broken-always-reuse");
}

static const struct explore_prog family_broken = {
	"family-broken", 4, family_setup_broken, family_check, family_verdict, family_teardown,
};
static const struct explore_prog family_old = {
	"family-2.6.29", 4, family_setup_old, family_check, family_verdict, family_teardown,
};
static const struct explore_prog family_new_prog = {
	"family-6.5", 4, family_setup_new, family_check, family_verdict, family_teardown,
};

static void test_family_explore(void **state)
{
	(void)state;
	assert_explore_clean(&family_old, 1, 200);
	assert_explore_clean(&family_new_prog, 1, 200);
}

/* With the reuse rule broken, the same checks must fail at once. */
static void test_broken_reuse_rule_is_caught(void **state)
{
	struct cow_system *sys = mmt_system("broken-always-reuse", FRAMES, 4, true);
	struct cow_process *p = mmt_process(sys, "parent"), *c;
	struct cow_task *pt = mmt_task(p, 0), *ct;
	unsigned long a = mmt_map(pt, 1, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	struct explore_result r;

	(void)state;
	assert_int_equal(mmt_fill(pt, a, 0x11, PAGE_SIZE), 0);
	assert_int_equal(cow_fork(pt, "child", &c), 0);
	ct = mmt_task(c, 1);
	assert_int_equal(mmt_fill(pt, a, 0x22, PAGE_SIZE), 0);
	assert_true(mmt_holds(ct, a, 0x22, PAGE_SIZE)); /* the leak */
	cow_task_destroy(ct);
	cow_process_exit(c);
	cow_task_destroy(pt);
	cow_process_exit(p);
	cow_system_destroy(sys);

	r = explore_runs(&family_broken, 1, 50);
	assert_true(r.failed);
}

/* The 2009 patches take the page GUP holds out of COW at fork: under
 * forkfix-2009 a read GUP de-COWs and flags the page (PG_gup), and fork
 * copies it for the child while the reference is held, the parent keeping
 * it writable; once the reference is gone the flag is only a hint, and fork
 * shares again.  Under dontcow-2009 the mark is forever: fork copies even
 * after the reference is gone.  linux-2.6.29 shares in every case. */
static void test_2009_patches_copy_gup_pages_at_fork(void **state)
{
	static const char *const policies[] = {"forkfix-2009", "dontcow-2009", "linux-2.6.29"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		struct cow_system *sys = mmt_system(policies[i], FRAMES, 4, true);
		struct cow_process *p = mmt_process(sys, "parent"), *c1, *c2;
		struct cow_task *pt = mmt_task(p, 0);
		unsigned long a = mmt_map(pt, 1, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		enum fork_rule rule = sys->policy->fork;
		bool copies = rule != FORK_SHARE;
		struct page *ref;

		assert_int_equal(mmt_fill(pt, a, 0x11, PAGE_SIZE), 0);
		assert_int_equal(get_user_pages(p->mm, a, 1, FOLL_GET, &ref), 1);
		assert_ptr_equal(ref, mmt_page(p, a));
		assert_int_equal(PageFlag(ref, PG_gup), rule == FORK_COPY_GUP_FLAGGED);
		assert_int_equal(PageFlag(ref, PG_dontcow), rule == FORK_COPY_DONTCOW);
		assert_int_equal(cow_fork(pt, "child1", &c1), 0);
		assert_int_equal(mmt_page(c1, a) != ref, copies);
		assert_ptr_equal(mmt_page(p, a), ref); /* the parent keeps its page */
		assert_int_equal(pte_write(mmt_pte(p, a)), copies);
		assert_true(mmt_holds(pt, a, 0x11, PAGE_SIZE));
		gup_put_pages(sys, &ref, 1, FOLL_GET);
		assert_system_ok(sys);
		/* The reference is gone: only the mark counts now. */
		cow_process_exit(c1);
		assert_int_equal(cow_fork(pt, "child2", &c2), 0);
		assert_int_equal(mmt_page(c2, a) != mmt_page(p, a), rule == FORK_COPY_DONTCOW);
		assert_system_ok(sys);
		cow_process_exit(c2);
		cow_task_destroy(pt);
		cow_process_exit(p);
		assert_all_frames_free(sys, FRAMES);
		cow_system_destroy(sys);
	}
}

/* A read GUP of a COW-shared page: the 2009 patches and linux-5.8 break
 * COW first, so the reference is to the caller's own copy; linux-2.6.29
 * takes the shared page as it is. */
static void test_read_gup_breaks_cow_by_era(void **state)
{
	static const char *const policies[] = {"forkfix-2009", "dontcow-2009", "linux-5.8",
					       "linux-2.6.29"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		struct cow_system *sys = mmt_system(policies[i], FRAMES, 4, true);
		struct cow_process *p = mmt_process(sys, "parent"), *c;
		struct cow_task *pt = mmt_task(p, 0);
		unsigned long a = mmt_map(pt, 1, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
		bool breaks = sys->policy->gup != GUP_PLAIN;
		struct page *ref;

		assert_int_equal(mmt_fill(pt, a, 0x11, PAGE_SIZE), 0);
		assert_int_equal(cow_fork(pt, "child", &c), 0);
		assert_ptr_equal(mmt_page(p, a), mmt_page(c, a));
		assert_int_equal(get_user_pages(p->mm, a, 1, FOLL_GET, &ref), 1);
		assert_int_equal(ref != mmt_page(c, a), breaks);
		assert_ptr_equal(ref, mmt_page(p, a));
		gup_put_pages(sys, &ref, 1, FOLL_GET);
		assert_system_ok(sys);
		cow_process_exit(c);
		cow_task_destroy(pt);
		cow_process_exit(p);
		assert_all_frames_free(sys, FRAMES);
		cow_system_destroy(sys);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_2009_patches_copy_gup_pages_at_fork),
		cmocka_unit_test(test_read_gup_breaks_cow_by_era),
		cmocka_unit_test(test_cow_both_directions),
		cmocka_unit_test(test_grandchildren),
		cmocka_unit_test(test_munmap_on_either_side),
		cmocka_unit_test(test_thousand_pages_three_generations),
		cmocka_unit_test(test_thousand_pages_three_generations_stress),
		cmocka_unit_test(test_generations_explore),
		cmocka_unit_test(test_fork_races_writer_stress),
		cmocka_unit_test(test_fork_races_writer_explore),
		cmocka_unit_test(test_stale_tlb_is_caught_without_shootdown),
		cmocka_unit_test(test_fork_snapshot_coherence),
		cmocka_unit_test(test_page_store_is_many_steps),
		cmocka_unit_test(test_family_stress),
		cmocka_unit_test(test_family_explore),
		cmocka_unit_test(test_broken_reuse_rule_is_caught),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
