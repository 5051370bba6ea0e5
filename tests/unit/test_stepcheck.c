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

#include "sched/explore.h"
#include "sched/sched.h"

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

/* P3: an mm's table count off by one, found from the count's word; and
 * an mm listed since the last check (the system lock's release) is one
 * the next check knows: its count, damaged too, is found. */
static void test_table_count_and_new_mm(void **state)
{
	struct sc c = sc_new();
	struct pgtable *pgt = &c.p->mm->pgt;
	struct cow_process *q = mmt_process(c.sys, "q");

	(void)state;
	assert_int_equal(touched(&c, SYNC_UNLOCK, &c.sys->lock), 0);
	atomic_long_inc(&pgt->nr_tables);
	assert_found(&c, touched(&c, SYNC_RMW, &pgt->nr_tables), "(P3)");
	atomic_long_dec(&pgt->nr_tables);
	assert_int_equal(touched(&c, SYNC_RMW, &pgt->nr_tables), 0);
	cow_process_exit(q);
	assert_int_equal(touched(&c, SYNC_UNLOCK, &c.sys->lock), 0);
	q = mmt_process(c.sys, "q2");
	atomic_long_inc(&q->mm->pgt.nr_tables);
	assert_found(&c, touched(&c, SYNC_UNLOCK, &c.sys->lock), "(P3)");
	atomic_long_dec(&q->mm->pgt.nr_tables);
	cow_process_exit(q);
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

/* The CPU caches (F1), read again only where their lock was used or a
 * frame they hold was touched: a cached frame no longer free, a frame
 * cached twice, a cached frame put on the free list too.  Each is found
 * from its own access, and the full check agrees. */
static void test_cache_damage(void **state)
{
	struct sc c = sc_new();
	struct frame_pool *pool = c.sys->pool;
	struct pcp *pcp = NULL;
	unsigned long pfn, word;
	uint32_t saved;

	(void)state;
	for (int cpu = 0; cpu < pool->cpus && !pcp; cpu++)
		if (pool->pcp[cpu].count >= 2)
			pcp = &pool->pcp[cpu];
	assert_non_null(pcp);
	pfn = pcp->pfns[0];
	word = pfn / FRAME_MAP_BITS;

	/* Not free any more: found from the struct page's access. */
	clear_bit(PG_free, &pool->pages[pfn].flags);
	assert_full_finds(&c, "(F1)");
	assert_found(&c, touched(&c, SYNC_RMW, &pool->pages[pfn].flags), "(F1)");
	set_bit(PG_free, &pool->pages[pfn].flags);
	assert_int_equal(touched(&c, SYNC_RMW, &pool->pages[pfn].flags), 0);

	/* Twice in one cache: found from the cache's lock. */
	saved = pcp->pfns[1];
	pcp->pfns[1] = (uint32_t)pfn;
	assert_full_finds(&c, "(F1)");
	assert_found(&c, touched(&c, SYNC_UNLOCK, &pcp->lock), "twice (F1)");
	pcp->pfns[1] = saved;
	assert_int_equal(touched(&c, SYNC_UNLOCK, &pcp->lock), 0);

	/* In a cache and on the free list: found from the free list's word,
	 * the cache unchanged. */
	pool->free_map[word] |= 1UL << (pfn % FRAME_MAP_BITS);
	pool->nr_free_list++;
	assert_full_finds(&c, "(F1)");
	assert_found(&c, touched(&c, SYNC_WRITE, &pool->free_map[word]), "twice (F1)");
	pool->free_map[word] &= ~(1UL << (pfn % FRAME_MAP_BITS));
	pool->nr_free_list--;
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

/* ---- damage under the explorer ------------------------------------------
 *
 * The tests above damage a quiet system.  Here tasks fork, write, pin and
 * unmap under the explorer, and at every check one word the invariants
 * read is damaged at every other check (a refcount, a mapcount,
 * PG_anon_exclusive, a GUP count, a PTE's write bit, the free list's
 * bitmap, a zero-page byte), the
 * damage's access is added to the steps' log, and both checkers look: the
 * full check must never find what the step checker passes, nor the other
 * way round.  The damage is undone before the run goes on (and the undoing
 * logged for the next check).  Mid-operation states (PT locks held,
 * frames half allocated) are where the step checker's shortcuts are. */

#define DAMAGE_LOG 300

struct dmg {
	struct cow_system *sys;
	struct cow_process *p, *child;
	struct cow_task *t0, *t1, *ct;
	struct sched *s;
	unsigned long a; /* 4 pages */
	uint64_t rng;
	struct sync_touch undo; /* the last undoing, for the next log */
	bool have_undo;
	struct sync_touch log[DAMAGE_LOG + 2];
	/* what the checks found */
	unsigned long checks, found, missed, false_alarms;
	char miss[512];
};

static struct dmg dmg_totals;

static uint64_t dmg_next(struct dmg *d)
{
	d->rng = d->rng * 6364136223846793005ull + 1442695040888963407ull;
	return d->rng >> 33;
}

static void dmg_forker(void *arg)
{
	struct dmg *d = arg;

	task_check(cow_fork(d->t0, "child", &d->child) == 0);
	task_check(cow_task_create(d->child, 0, &d->ct) == 0);
	task_check(mmt_fill(d->ct, d->a + PAGE_SIZE, 0x33, 512) == 0);
	task_check(mmt_fill(d->t0, d->a, 0x44, 512) == 0);
}

static void dmg_writer(void *arg)
{
	struct dmg *d = arg;
	struct cow_pages *pg;

	task_check(mmt_fill(d->t1, d->a + 2 * PAGE_SIZE, 0x55, 512) == 0);
	task_check(cow_gup(d->t1, d->a + PAGE_SIZE, PAGE_SIZE,
			   COW_GUP_PIN | COW_GUP_WRITE | COW_GUP_FAST, &pg) == 0);
	cow_pages_release(pg);
	task_check(cow_munmap(d->t1, d->a + 3 * PAGE_SIZE, PAGE_SIZE) == 0);
}

static void *dmg_setup(struct sched *s, const char *policy)
{
	struct dmg *d = calloc(1, sizeof(*d));

	d->sys = mmt_system(policy, FRAMES, 2, true);
	d->p = mmt_process(d->sys, "p");
	d->t0 = mmt_task(d->p, 0);
	d->t1 = mmt_task(d->p, 1);
	d->a = mmt_map(d->t0, 4, COW_PROT_READ | COW_PROT_WRITE, COW_MAP_PRIVATE);
	assert_int_equal(mmt_fill(d->t0, d->a, 0x11, 4 * PAGE_SIZE), 0);
	d->s = s;
	d->rng = dmg_totals.checks * 2654435761u + 1;
	sched_spawn(s, "forker", 0, dmg_forker, d, 0);
	sched_spawn(s, "writer", 1, dmg_writer, d, 0);
	return d;
}

static void *dmg_setup_old(struct sched *s)
{
	return dmg_setup(s, "linux-2.6.29");
}

static void *dmg_setup_new(struct sched *s)
{
	return dmg_setup(s, "linux-6.5");
}

/* A random allocated frame that is not a table or the zero page, or -1. */
static long dmg_frame(struct dmg *d)
{
	struct frame_pool *pool = d->sys->pool;

	for (int tries = 0; tries < 64; tries++) {
		unsigned long pfn = dmg_next(d) % pool->nr;
		unsigned long flags = READ_ONCE(pool->pages[pfn].flags);

		if (!(flags & (BIT_MASK(PG_free) | BIT_MASK(PG_table) | BIT_MASK(PG_zero))))
			return (long)pfn;
	}
	return -1;
}

/* Damage one word: *word and its *size are what to put *old back into;
 * *t is the access that did it.  false if the chosen damage had no
 * target. */
static bool dmg_apply(struct dmg *d, struct sync_touch *t, void **word, unsigned long *old,
		      size_t *size)
{
	struct frame_pool *pool = d->sys->pool;
	long pfn = dmg_frame(d);
	struct page *page = pfn >= 0 ? &pool->pages[pfn] : NULL;
	unsigned int kind = (unsigned int)(dmg_next(d) % 7);
	pte_t pte = 0, *ptep = NULL;

	if (kind == 4)
		ptep = pgtable_walk_lockless(&d->p->mm->pgt, d->a + (dmg_next(d) % 4) * PAGE_SIZE,
					     &pte);
	if ((kind < 6 && kind != 4 && !page) || (kind == 2 && !PageFlag(page, PG_anon_exclusive)) ||
	    (kind == 4 && (!ptep || !pte_present(pte) || pte_write(pte))))
		return false;
	*word = kind == 0   ? (void *)&page->_refcount
		: kind == 1 ? (void *)&page->_mapcount
		: kind == 2 ? (void *)&page->flags
		: kind == 3 ? (void *)&d->sys->ext_refs[pfn]
		: kind == 4 ? (void *)ptep
		: kind == 5 ? (void *)&pool->free_map[pfn / FRAME_MAP_BITS]
			    : page_address(pool, d->sys->zero_page);
	*size = kind <= 1 || kind == 3 ? sizeof(int) : sizeof(unsigned long);
	*old = 0;
	memcpy(old, *word, *size);
	*t = (struct sync_touch){kind == 6 ? SYNC_DEVICE : SYNC_RMW, *word};
	switch (kind) {
	case 0: /* a reference dropped */ atomic_dec(&page->_refcount); break;
	case 1: /* a mapcount raised */ atomic_inc(&page->_mapcount); break;
	case 2: /* PG_anon_exclusive cleared */ ClearPageFlag(page, PG_anon_exclusive); break;
	case 3: /* a GUP reference counted without its page reference */
		atomic_inc(&d->sys->ext_refs[pfn]);
		break;
	case 4: /* a PTE made writable */ WRITE_ONCE(*ptep, pte_mkwrite(pte)); break;
	case 5: /* an allocated frame on the free list */
		pool->free_map[pfn / FRAME_MAP_BITS] |= 1UL << (pfn % FRAME_MAP_BITS);
		break;
	default: /* a byte of the zero page, by a device */ *(unsigned char *)*word = 0x5a; break;
	}
	return true;
}

static int dmg_check(void *state, char *msg, size_t len)
{
	struct dmg *d = state;
	char sm[512], fm[512];
	size_t n, m = 0;
	const struct sync_touch *t = sched_touched(d->s, &n);
	unsigned long old = 0;
	void *word = NULL;
	size_t size = 0;
	int serr, ferr;

	(void)msg;
	(void)len;
	if (t && n <= DAMAGE_LOG) {
		memcpy(d->log, t, n * sizeof(*t));
		m = n;
		if (d->have_undo)
			d->log[m++] = d->undo;
	}
	d->have_undo = false;
	/* Every other check only: a check that finds damage leaves the step
	 * checker to scan everything at the next one, which is then clean,
	 * so that damage meets the step checker's own path, not a scan. */
	if (dmg_totals.checks % 2 && dmg_apply(d, &d->log[m], &word, &old, &size))
		m++;
	serr = system_check_touched(d->sys, t && n <= DAMAGE_LOG ? d->log : NULL, m, sm,
				    sizeof(sm));
	ferr = system_check(d->sys, false, fm, sizeof(fm));
	dmg_totals.checks++;
	dmg_totals.found += ferr != 0;
	if (ferr && !serr && !dmg_totals.missed++)
		snprintf(dmg_totals.miss, sizeof(dmg_totals.miss), "missed: %.480s", fm);
	if (serr && !ferr && !dmg_totals.false_alarms++)
		snprintf(dmg_totals.miss, sizeof(dmg_totals.miss), "false alarm: %.480s", sm);
	if (word) {
		memcpy(word, &old, size);
		d->undo = (struct sync_touch){SYNC_RMW, word};
		d->have_undo = true;
	}
	return 0;
}

static int dmg_verdict(void *state, char *msg, size_t len)
{
	(void)state;
	(void)msg;
	(void)len;
	return 0;
}

/* Abandoned tasks may hold locks when a run is cut: tear down what can
 * be, as the explorer's own programs do after a pass. */
static void dmg_teardown(void *state)
{
	struct dmg *d = state;

	cow_task_destroy(d->ct);
	cow_task_destroy(d->t0);
	cow_task_destroy(d->t1);
	if (d->child)
		cow_process_exit(d->child);
	cow_process_exit(d->p);
	cow_system_destroy(d->sys);
	free(d);
}

static void test_damage_under_the_explorer(void **state)
{
	static const struct explore_prog progs[] = {
		{"damage-2.6.29", 4, dmg_setup_old, dmg_check, dmg_verdict, dmg_teardown},
		{"damage-6.5", 4, dmg_setup_new, dmg_check, dmg_verdict, dmg_teardown},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
		struct explore_opts o = {.algo = SCHED_RANDOM, .runs = 300, .seed = 1};
		struct explore_result r;

		memset(&dmg_totals, 0, sizeof(dmg_totals));
		assert_int_equal(explore_run_search(&progs[i], NULL, &o, &r), 0);
		print_message("# %s: %lu checks, the full check found damage at %lu, the step "
			      "checker missed %lu, false alarms %lu\n",
			      progs[i].name, dmg_totals.checks, dmg_totals.found, dmg_totals.missed,
			      dmg_totals.false_alarms);
		if (dmg_totals.missed || dmg_totals.false_alarms)
			fail_msg("%s", dmg_totals.miss);
		assert_false(r.failed);
		/* The test has teeth: at least a quarter of the checks (half
		 * of the damaged ones) met damage the full check saw. */
		assert_true(dmg_totals.found * 4 > dmg_totals.checks);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passes_after_unwatched_work),
		cmocka_unit_test(test_gup_count_without_reference),
		cmocka_unit_test(test_mapcount_high),
		cmocka_unit_test(test_table_count_and_new_mm),
		cmocka_unit_test(test_pte_to_free_frame),
		cmocka_unit_test(test_mapped_frame_freed),
		cmocka_unit_test(test_writable_shared_page),
		cmocka_unit_test(test_free_list_damage),
		cmocka_unit_test(test_cache_damage),
		cmocka_unit_test(test_zero_page_written),
		cmocka_unit_test(test_damage_under_the_explorer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
