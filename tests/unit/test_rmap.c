/*
 * Tests of src/mm/rmap.c: the anonymous reverse map.  The oracle is a
 * full scan of every process's page tables: for a page, the set of
 * (mm, address) PTEs that rmap_walk() finds (confirmed by
 * page_vma_mapped()) must equal the set the scan finds mapping its pfn.
 * The tests check it across generations of fork, after COW copies, after
 * page_move_anon_rmap (linux-6.5), after munmap and VMA splits, along a
 * random history of a process family, and under the explorer while a
 * fork runs concurrently with walks.
 */
#include "mmtest.h"

#include "sched/sched.h"

#define FRAMES 1024
#define RW (COW_PROT_READ | COW_PROT_WRITE)
#define BASE 0x40000000UL
#define MAX_REFS 64

/* ---- the oracle ------------------------------------------------------------ */

struct pte_ref {
	struct mm_struct *mm;
	unsigned long addr;
};

struct ref_set {
	int nr;
	bool overflow;
	struct pte_ref r[MAX_REFS];
};

static void set_add(struct ref_set *s, struct mm_struct *mm, unsigned long addr)
{
	if (s->nr == MAX_REFS) {
		s->overflow = true;
		return;
	}
	s->r[s->nr].mm = mm;
	s->r[s->nr].addr = addr;
	s->nr++;
}

static int ref_cmp(const void *a, const void *b)
{
	const struct pte_ref *x = a, *y = b;

	if (x->mm != y->mm)
		return (uintptr_t)x->mm < (uintptr_t)y->mm ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void set_sort(struct ref_set *s)
{
	qsort(s->r, (size_t)s->nr, sizeof(s->r[0]), ref_cmp);
}

static bool set_has(const struct ref_set *s, struct mm_struct *mm, unsigned long addr)
{
	for (int i = 0; i < s->nr; i++)
		if (s->r[i].mm == mm && s->r[i].addr == addr)
			return true;
	return false;
}

struct scan_ctx {
	struct ref_set *set;
	struct mm_struct *mm;
	unsigned long pfn;
};

static int scan_one(unsigned long addr, pte_t *ptep, void *arg)
{
	struct scan_ctx *c = arg;
	pte_t pte = ptep_get(ptep);

	if (pte_present(pte) && !pte_special(pte) && pte_pfn(pte) == c->pfn)
		set_add(c->set, c->mm, addr);
	return 0;
}

/* Every PTE of every process that maps pfn (the system is quiescent). */
static void scan_set(struct cow_system *sys, unsigned long pfn, struct ref_set *set)
{
	struct cow_process *p;

	set->nr = 0;
	set->overflow = false;
	list_for_each_entry(p, &sys->processes, node)
	{
		struct scan_ctx c = {set, p->mm, pfn};

		pgtable_walk_range(&p->mm->pgt, 0, TASK_SIZE, scan_one, &c);
	}
	set_sort(set);
}

struct walk_ctx {
	struct ref_set *set;
	int visited; /* VMAs the walk looked at */
};

static int walk_one(struct page *page, struct vm_area_struct *vma, unsigned long addr, void *arg)
{
	struct walk_ctx *c = arg;
	spinlock_t *ptl;
	pte_t *ptep = page_vma_mapped(page, vma, addr, &ptl);

	c->visited++;
	if (ptep) {
		set_add(c->set, vma->vm_mm, addr);
		pte_unmap_unlock(ptep, ptl);
	}
	return 0;
}

/* The PTEs the reverse map finds; returns the number of VMAs visited. */
static int walk_set(struct page *page, struct ref_set *set)
{
	struct walk_ctx c = {set, 0};

	set->nr = 0;
	set->overflow = false;
	assert_int_equal(rmap_walk(page, walk_one, &c), 0);
	set_sort(set);
	return c.visited;
}

/* Does the walk find exactly the PTEs the scan finds?  Explains in msg. */
static bool walk_matches_scan(struct cow_system *sys, struct page *page, char *msg, size_t len)
{
	struct ref_set walk, scan;
	unsigned long pfn = page_to_pfn(sys->pool, page);

	walk_set(page, &walk);
	scan_set(sys, pfn, &scan);
	if (walk.overflow || scan.overflow) {
		snprintf(msg, len, "pfn %lu: more than %d PTEs", pfn, MAX_REFS);
		return false;
	}
	for (int i = 0; i < scan.nr; i++)
		if (i >= walk.nr || ref_cmp(&walk.r[i], &scan.r[i]) != 0) {
			snprintf(msg, len,
				 "pfn %lu: the walk found %d PTEs, the scan %d; first "
				 "difference at scan entry %d (%#lx)",
				 pfn, walk.nr, scan.nr, i, scan.r[i].addr);
			return false;
		}
	if (walk.nr != scan.nr) {
		snprintf(msg, len, "pfn %lu: the walk found %d PTEs (extra %#lx), the scan %d", pfn,
			 walk.nr, walk.r[scan.nr].addr, scan.nr);
		return false;
	}
	return true;
}

#define assert_walk_exact(sys, page)                                      \
	do {                                                              \
		char m_[256] = "";                                        \
		if (!walk_matches_scan((sys), (page), m_, sizeof(m_)))    \
			fail_msg("rmap walk != page-table scan: %s", m_); \
	} while (0)

/* The number of PTEs mapping page (by the scan). */
static int scan_count(struct cow_system *sys, struct page *page)
{
	struct ref_set s;

	scan_set(sys, page_to_pfn(sys->pool, page), &s);
	return s.nr;
}

static bool scan_finds(struct cow_system *sys, struct page *page, struct cow_process *p,
		       unsigned long addr)
{
	struct ref_set s;

	scan_set(sys, page_to_pfn(sys->pool, page), &s);
	return set_has(&s, p->mm, addr);
}

/* Every anonymous page mapped anywhere: walk == scan.  Returns how many
 * pages were checked. */
static int assert_all_walks_exact(struct cow_system *sys)
{
	struct frame_pool *pool = sys->pool;
	unsigned long *maps = calloc(pool->nr, sizeof(*maps));
	struct cow_process *p;
	int pages = 0;

	assert_non_null(maps);
	list_for_each_entry(p, &sys->processes, node)
		assert_int_equal(pgtable_count_maps(&p->mm->pgt, maps, pool->nr), 0);
	for (unsigned long pfn = 0; pfn < pool->nr; pfn++) {
		struct page *page = pfn_to_page(pool, pfn);

		if (!maps[pfn] || !PageFlag(page, PG_anon))
			continue;
		assert_walk_exact(sys, page);
		pages++;
	}
	free(maps);
	return pages;
}

/* ---- fixtures ----------------------------------------------------------------- */

#define MAX_PROCS 16

struct family {
	struct cow_system *sys;
	int nr;
	struct cow_process *p[MAX_PROCS];
	struct cow_task *t[MAX_PROCS];
};

static void fam_init(struct family *f, const char *policy)
{
	memset(f, 0, sizeof(*f));
	f->sys = mmt_system(policy, FRAMES, 4, true);
	f->p[0] = mmt_process(f->sys, "p0");
	f->t[0] = mmt_task(f->p[0], 0);
	f->nr = 1;
}

/* Process i forks; returns the child's index (the slot of an exited
 * process is reused). */
static int fam_fork(struct family *f, int i)
{
	char name[16];
	int c = 0;

	while (c < f->nr && f->p[c])
		c++;
	assert_true(c < MAX_PROCS);
	if (c == f->nr)
		f->nr++;
	snprintf(name, sizeof(name), "p%d", c);
	assert_int_equal(cow_fork(f->t[i], name, &f->p[c]), 0);
	f->t[c] = mmt_task(f->p[c], c % 4);
	return c;
}

static void fam_exit(struct family *f, int i)
{
	cow_task_destroy(f->t[i]);
	cow_process_exit(f->p[i]);
	f->t[i] = NULL;
	f->p[i] = NULL;
}

static void fam_finish(struct family *f)
{
	assert_system_ok(f->sys);
	for (int i = 0; i < f->nr; i++)
		if (f->p[i])
			fam_exit(f, i);
	assert_system_ok(f->sys);
	assert_all_frames_free(f->sys, FRAMES);
	cow_system_destroy(f->sys);
}

/* The anon_vma of p's VMA at addr, as an rmap word (page->mapping). */
static unsigned long anon_vma_of(struct cow_process *p, unsigned long addr)
{
	struct vm_area_struct *vma;
	unsigned long av;

	down_read(&p->mm->mmap_lock);
	vma = find_vma(p->mm, addr);
	assert_non_null(vma);
	av = (unsigned long)vma->anon_vma;
	up_read(&p->mm->mmap_lock);
	return av;
}

static void write_byte(struct cow_task *t, unsigned long addr, int v)
{
	assert_int_equal(mmt_fill(t, addr, v, 1), 0);
}

/* ---- tests ------------------------------------------------------------------------- */

/* A page faulted in the parent is found in children and grandchildren. */
static void test_rmap_fork_generations(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		struct family f;
		unsigned long out;
		struct page *pg[4];
		int c1, c2, g1, g2, gg;

		fam_init(&f, mm_policies[pol]);
		assert_int_equal(cow_mmap(f.t[0], BASE, 4 * PAGE_SIZE, RW, COW_MAP_PRIVATE, &out),
				 0);
		for (int i = 0; i < 4; i++)
			write_byte(f.t[0], BASE + (unsigned long)i * PAGE_SIZE, 0x10 + i);
		for (int i = 0; i < 4; i++) {
			pg[i] = mmt_page(f.p[0], BASE + (unsigned long)i * PAGE_SIZE);
			assert_non_null(pg[i]);
			assert_walk_exact(f.sys, pg[i]);
			assert_int_equal(scan_count(f.sys, pg[i]), 1);
		}
		c1 = fam_fork(&f, 0);
		c2 = fam_fork(&f, 0);
		g1 = fam_fork(&f, c1);
		g2 = fam_fork(&f, c1);
		gg = fam_fork(&f, g1);
		for (int i = 0; i < 4; i++) {
			assert_walk_exact(f.sys, pg[i]);
			assert_int_equal(scan_count(f.sys, pg[i]), 6);
			assert_int_equal(page_mapcount(pg[i]), 6);
			for (int p = 0; p < f.nr; p++)
				assert_ptr_equal(
					mmt_page(f.p[p], BASE + (unsigned long)i * PAGE_SIZE),
					pg[i]);
		}
		/* Every descendant reads the parent's data through them. */
		assert_int_equal(mmt_byte(f.t[gg], BASE + 2 * PAGE_SIZE), 0x12);
		assert_int_equal(mmt_byte(f.t[g2], BASE + 3 * PAGE_SIZE), 0x13);
		assert_int_equal(mmt_byte(f.t[c2], BASE), 0x10);
		/* A page no one maps as anonymous memory has no rmap. */
		{
			struct ref_set s;

			assert_int_equal(walk_set(f.sys->zero_page, &s), 0);
			assert_int_equal(s.nr, 0);
		}
		fam_finish(&f);
	}
}

/* After a COW copy the old page's walk no longer finds the writer, and
 * the new page is found only in the writer (and its later children). */
static void test_rmap_cow_drops_writer(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		struct page *old, *new;
		struct family f;
		unsigned long out, a = BASE + PAGE_SIZE;
		int c1, c2, g1, gx;

		fam_init(&f, mm_policies[pol]);
		assert_int_equal(cow_mmap(f.t[0], BASE, 2 * PAGE_SIZE, RW, COW_MAP_PRIVATE, &out),
				 0);
		write_byte(f.t[0], a, 0x21);
		old = mmt_page(f.p[0], a);
		c1 = fam_fork(&f, 0);
		c2 = fam_fork(&f, 0);
		g1 = fam_fork(&f, c1);
		assert_true(scan_finds(f.sys, old, f.p[c1], a));
		write_byte(f.t[c1], a, 0x22);
		new = mmt_page(f.p[c1], a);
		assert_ptr_not_equal(new, old);
		assert_walk_exact(f.sys, old);
		assert_walk_exact(f.sys, new);
		assert_false(scan_finds(f.sys, old, f.p[c1], a));
		assert_int_equal(scan_count(f.sys, old), 3); /* p0, c2, g1 */
		assert_true(scan_finds(f.sys, old, f.p[g1], a));
		assert_int_equal(scan_count(f.sys, new), 1);
		/* The new page belongs to c1's anon_vma; a child of c1 forked
		 * now shares it and is found. */
		assert_int_equal(new->mapping, anon_vma_of(f.p[c1], a));
		gx = fam_fork(&f, c1);
		assert_walk_exact(f.sys, new);
		assert_true(scan_finds(f.sys, new, f.p[gx], a));
		/* The parent writing copies too (others still share old). */
		write_byte(f.t[0], a, 0x23);
		assert_walk_exact(f.sys, old);
		assert_int_equal(scan_count(f.sys, old), 2); /* c2, g1 */
		assert_walk_exact(f.sys, mmt_page(f.p[0], a));
		/* Everyone sees their own data. */
		assert_int_equal(mmt_byte(f.t[0], a), 0x23);
		assert_int_equal(mmt_byte(f.t[c1], a), 0x22);
		assert_int_equal(mmt_byte(f.t[gx], a), 0x22);
		assert_int_equal(mmt_byte(f.t[c2], a), 0x21);
		assert_int_equal(mmt_byte(f.t[g1], a), 0x21);
		assert_all_walks_exact(f.sys);
		fam_finish(&f);
	}
}

/* Reuse after the others are gone: linux-6.5 moves the page to the
 * writer's own anon_vma (page_move_anon_rmap), so the walk looks only
 * there; linux-2.6.29 leaves it where it was.  Both stay exact. */
static void test_rmap_move_anon_rmap(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		bool moves = cow_policy_find(mm_policies[pol])->wp_reuse == REUSE_EXCLUSIVE;
		struct family f;
		struct ref_set s;
		struct page *pg, *pc;
		unsigned long out, a = BASE, b = BASE + PAGE_SIZE, root_av;
		int c, sib, ch;

		fam_init(&f, mm_policies[pol]);
		assert_int_equal(cow_mmap(f.t[0], BASE, 2 * PAGE_SIZE, RW, COW_MAP_PRIVATE, &out),
				 0);
		write_byte(f.t[0], a, 0x31);
		write_byte(f.t[0], b, 0x32);
		pg = mmt_page(f.p[0], a);
		pc = mmt_page(f.p[0], b);
		root_av = pg->mapping;

		/* The parent writes with its only child gone: reused in place
		 * (no copy), the walk finds the parent alone. */
		c = fam_fork(&f, 0);
		fam_exit(&f, c);
		write_byte(f.t[0], a, 0x33);
		assert_ptr_equal(mmt_page(f.p[0], a), pg);
		assert_int_equal(pg->mapping, anon_vma_of(f.p[0], a));
		assert_walk_exact(f.sys, pg);
		assert_int_equal(scan_count(f.sys, pg), 1);

		/* A middle generation: the parent forks ch and sib, exits;
		 * sib copies page b for itself; ch then writes b, which
		 * only ch maps now. */
		ch = fam_fork(&f, 0);
		sib = fam_fork(&f, 0);
		fam_exit(&f, 0);
		write_byte(f.t[sib], b, 0x34);
		assert_ptr_not_equal(mmt_page(f.p[sib], b), pc);
		assert_int_equal(pc->mapping, root_av);
		write_byte(f.t[ch], b, 0x35);
		assert_ptr_equal(mmt_page(f.p[ch], b), pc); /* reused, not copied */
		assert_walk_exact(f.sys, pc);
		if (moves) {
			/* Only ch's own anon_vma is searched: one VMA. */
			assert_int_equal(pc->mapping, anon_vma_of(f.p[ch], b));
			assert_int_not_equal(pc->mapping, root_av);
			assert_int_equal(walk_set(pc, &s), 1);
		} else {
			/* The root anon_vma: ch's VMA and sib's are searched. */
			assert_int_equal(pc->mapping, root_av);
			assert_int_equal(walk_set(pc, &s), 2);
		}
		assert_int_equal(s.nr, 1);
		assert_ptr_equal(s.r[0].mm, f.p[ch]->mm);
		/* A fork of ch after the move still finds both. */
		c = fam_fork(&f, ch);
		assert_walk_exact(f.sys, pc);
		assert_int_equal(scan_count(f.sys, pc), 2);
		assert_int_equal(mmt_byte(f.t[c], b), 0x35);
		assert_int_equal(mmt_byte(f.t[sib], b), 0x34);
		assert_all_walks_exact(f.sys);
		fam_finish(&f);
	}
}

/* munmap (and DONTNEED, and exit) in one process drop it from the walk. */
static void test_rmap_munmap_drops(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		struct family f;
		struct page *pg[3];
		unsigned long out;
		int c, g, h;

		fam_init(&f, mm_policies[pol]);
		assert_int_equal(cow_mmap(f.t[0], BASE, 3 * PAGE_SIZE, RW, COW_MAP_PRIVATE, &out),
				 0);
		for (int i = 0; i < 3; i++) {
			write_byte(f.t[0], BASE + (unsigned long)i * PAGE_SIZE, 0x40 + i);
			pg[i] = mmt_page(f.p[0], BASE + (unsigned long)i * PAGE_SIZE);
		}
		c = fam_fork(&f, 0);
		g = fam_fork(&f, c);
		h = fam_fork(&f, 0);
		/* The child unmaps the middle page: its VMA splits, and the
		 * page's walk no longer finds it. */
		assert_int_equal(cow_munmap(f.t[c], BASE + PAGE_SIZE, PAGE_SIZE), 0);
		assert_walk_exact(f.sys, pg[1]);
		assert_false(scan_finds(f.sys, pg[1], f.p[c], BASE + PAGE_SIZE));
		assert_int_equal(scan_count(f.sys, pg[1]), 3);
		for (int i = 0; i < 3; i += 2) {
			assert_walk_exact(f.sys, pg[i]);
			assert_int_equal(scan_count(f.sys, pg[i]), 4);
		}
		/* The parent unmaps everything: its VMA leaves the anon_vma
		 * that the pages point to, yet the others are still found. */
		assert_int_equal(cow_munmap(f.t[0], BASE, 3 * PAGE_SIZE), 0);
		for (int i = 0; i < 3; i++)
			assert_walk_exact(f.sys, pg[i]);
		assert_int_equal(scan_count(f.sys, pg[0]), 3);
		/* DONTNEED drops a PTE too. */
		assert_int_equal(cow_madvise(f.t[g], BASE, PAGE_SIZE, COW_MADV_DONTNEED), 0);
		assert_walk_exact(f.sys, pg[0]);
		assert_int_equal(scan_count(f.sys, pg[0]), 2); /* c, h */
		/* And exit drops all of a process's. */
		fam_exit(&f, h);
		for (int i = 0; i < 3; i++)
			assert_walk_exact(f.sys, pg[i]);
		assert_int_equal(scan_count(f.sys, pg[0]), 1);
		assert_int_equal(scan_count(f.sys, pg[1]), 1); /* g */
		assert_int_equal(mmt_byte(f.t[g], BASE + PAGE_SIZE), 0x41);
		assert_all_walks_exact(f.sys);
		fam_finish(&f);
	}
}

/* Splitting VMAs (mprotect of a part) keeps every walk exact, before and
 * after later forks and COW copies in the split parts. */
static void test_rmap_split_keeps_exact(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++) {
		const int n = 8;
		struct family f;
		unsigned long out;
		int c, g;

		fam_init(&f, mm_policies[pol]);
		assert_int_equal(cow_mmap(f.t[0], BASE, (unsigned long)n * PAGE_SIZE, RW,
					  COW_MAP_PRIVATE, &out),
				 0);
		for (int i = 0; i < n; i++)
			write_byte(f.t[0], BASE + (unsigned long)i * PAGE_SIZE, i);
		c = fam_fork(&f, 0);
		/* Split the parent in half, the child in three. */
		assert_int_equal(
			cow_mprotect(f.t[0], BASE + 4 * PAGE_SIZE, 4 * PAGE_SIZE, COW_PROT_READ),
			0);
		assert_int_equal(
			cow_mprotect(f.t[c], BASE + 2 * PAGE_SIZE, 4 * PAGE_SIZE, COW_PROT_READ),
			0);
		assert_int_equal(f.p[0]->mm->nr_vmas, 2);
		assert_int_equal(f.p[c]->mm->nr_vmas, 3);
		assert_all_walks_exact(f.sys);
		for (int i = 0; i < n; i++)
			assert_int_equal(
				scan_count(f.sys,
					   mmt_page(f.p[0], BASE + (unsigned long)i * PAGE_SIZE)),
				2);
		/* A grandchild inherits the split VMAs. */
		g = fam_fork(&f, c);
		assert_all_walks_exact(f.sys);
		/* COW copies in every part of the split. */
		write_byte(f.t[0], BASE + 1 * PAGE_SIZE, 0x51);
		write_byte(f.t[c], BASE + 0 * PAGE_SIZE, 0x52);
		write_byte(f.t[c], BASE + 7 * PAGE_SIZE, 0x53);
		write_byte(f.t[g], BASE + 6 * PAGE_SIZE, 0x54);
		assert_int_equal(mmt_fill(f.t[g], BASE + 3 * PAGE_SIZE, 0x55, 1), COW_EFAULT);
		assert_all_walks_exact(f.sys);
		/* Back to read-write over both parts (more splits in g), then
		 * a write in the formerly read-only part. */
		assert_int_equal(cow_mprotect(f.t[g], BASE + PAGE_SIZE, 6 * PAGE_SIZE, RW), 0);
		write_byte(f.t[g], BASE + 3 * PAGE_SIZE, 0x56);
		assert_all_walks_exact(f.sys);
		assert_int_equal(mmt_byte(f.t[0], BASE + 3 * PAGE_SIZE), 3);
		assert_int_equal(mmt_byte(f.t[c], BASE + 3 * PAGE_SIZE), 3);
		assert_int_equal(mmt_byte(f.t[g], BASE + 3 * PAGE_SIZE), 0x56);
		/* The split halves of the parent each map their own pages. */
		assert_int_equal(cow_munmap(f.t[0], BASE + 3 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
		assert_int_equal(f.p[0]->mm->nr_vmas, 2);
		assert_all_walks_exact(f.sys);
		fam_finish(&f);
	}
}

/* The oracle has teeth: point a page at the wrong anon_vma and the
 * comparison must fail (then restore it). */
static void test_rmap_oracle_has_teeth(void **state)
{
	struct family f;
	struct page *pg;
	unsigned long out, saved;
	char msg[256];
	int c;

	(void)state;
	fam_init(&f, "linux-6.5");
	assert_int_equal(cow_mmap(f.t[0], BASE, PAGE_SIZE, RW, COW_MAP_PRIVATE, &out), 0);
	write_byte(f.t[0], BASE, 1);
	pg = mmt_page(f.p[0], BASE);
	c = fam_fork(&f, 0);
	assert_true(walk_matches_scan(f.sys, pg, msg, sizeof(msg)));
	/* The child's own anon_vma does not lead to the parent's VMA. */
	saved = pg->mapping;
	pg->mapping = anon_vma_of(f.p[c], BASE);
	assert_false(walk_matches_scan(f.sys, pg, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "the walk found 1 PTEs, the scan 2"));
	/* A wrong index makes the walk look at the wrong address. */
	pg->mapping = saved;
	pg->index++;
	assert_false(walk_matches_scan(f.sys, pg, msg, sizeof(msg)));
	pg->index--;
	assert_true(walk_matches_scan(f.sys, pg, msg, sizeof(msg)));
	fam_finish(&f);
}

/* ---- a random family ------------------------------------------------------------------ */

#define RND_PAGES 12
#define RND_STEPS 500
#define RND_MAX_ALIVE 8

struct model {
	int byte[RND_PAGES]; /* expected first byte; -1 unmapped */
	bool ro[RND_PAGES];
};

static unsigned int rnd_next(unsigned int *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 16) & 0x7fff;
}

static int alive_count(const struct family *f)
{
	int n = 0;

	for (int i = 0; i < f->nr; i++)
		n += f->p[i] != NULL;
	return n;
}

static int pick_alive(const struct family *f, unsigned int *s)
{
	int k = (int)(rnd_next(s) % (unsigned int)alive_count(f));

	for (int i = 0; i < f->nr; i++)
		if (f->p[i] && k-- == 0)
			return i;
	return -1;
}

static void check_model(struct family *f, struct model *m)
{
	for (int i = 0; i < f->nr; i++) {
		if (!f->p[i])
			continue;
		for (int pg = 0; pg < RND_PAGES; pg++)
			assert_int_equal(mmt_byte(f->t[i], BASE + (unsigned long)pg * PAGE_SIZE),
					 m[i].byte[pg]);
	}
}

static void random_family(const char *policy, unsigned int seed0)
{
	unsigned int seed = seed0;
	struct model m[MAX_PROCS];
	struct family f;
	unsigned long out;
	int forks = 0, writes = 0, copies = 0, exits = 0, checked = 0;

	fam_init(&f, policy);
	assert_int_equal(cow_mmap(f.t[0], BASE, RND_PAGES * PAGE_SIZE, RW, COW_MAP_PRIVATE, &out),
			 0);
	memset(&m[0], 0, sizeof(m[0]));
	for (int step = 0; step < RND_STEPS; step++) {
		int i = pick_alive(&f, &seed), op = (int)(rnd_next(&seed) % 100);
		int pg = (int)(rnd_next(&seed) % RND_PAGES);
		int n = 1 + (int)(rnd_next(&seed) % 4);
		unsigned long addr = BASE + (unsigned long)pg * PAGE_SIZE;
		bool hole = false;

		if (pg + n > RND_PAGES)
			n = RND_PAGES - pg;
		for (int k = pg; k < pg + n; k++)
			hole |= m[i].byte[k] < 0;

		if (op < 15) {
			if (alive_count(&f) < RND_MAX_ALIVE) {
				int c = fam_fork(&f, i);

				m[c] = m[i];
				forks++;
			}
		} else if (op < 55) {
			int v = 1 + (int)(rnd_next(&seed) % 255);
			struct page *before = mmt_page(f.p[i], addr);
			int err = mmt_fill(f.t[i], addr, v, 1);

			if (m[i].byte[pg] < 0 || m[i].ro[pg]) {
				assert_int_equal(err, COW_EFAULT);
			} else {
				assert_int_equal(err, 0);
				m[i].byte[pg] = v;
				writes++;
				copies += before && before != f.sys->zero_page &&
					  before != mmt_page(f.p[i], addr);
			}
		} else if (op < 62) {
			assert_int_equal(cow_munmap(f.t[i], addr, (unsigned long)n * PAGE_SIZE), 0);
			for (int k = pg; k < pg + n; k++)
				m[i].byte[k] = -1;
		} else if (op < 68) {
			/* Map the first hole of the region again (a new VMA
			 * with no anon_vma yet). */
			int k = 0;

			while (k < RND_PAGES && m[i].byte[k] >= 0)
				k++;
			if (k < RND_PAGES) {
				assert_int_equal(cow_mmap(f.t[i],
							  BASE + (unsigned long)k * PAGE_SIZE,
							  PAGE_SIZE, RW, COW_MAP_PRIVATE, &out),
						 0);
				m[i].byte[k] = 0;
				m[i].ro[k] = false;
			}
		} else if (op < 80) {
			bool ro = rnd_next(&seed) % 2;
			int err = cow_mprotect(f.t[i], addr, (unsigned long)n * PAGE_SIZE,
					       ro ? COW_PROT_READ : RW);

			assert_int_equal(err, hole ? COW_ENOMEM : 0);
			if (!hole)
				for (int k = pg; k < pg + n; k++)
					m[i].ro[k] = ro;
		} else if (op < 87) {
			if (!hole) {
				assert_int_equal(cow_madvise(f.t[i], addr,
							     (unsigned long)n * PAGE_SIZE,
							     COW_MADV_DONTNEED),
						 0);
				for (int k = pg; k < pg + n; k++)
					m[i].byte[k] = 0;
			}
		} else if (alive_count(&f) > 1) {
			fam_exit(&f, i);
			exits++;
		}
		assert_system_ok(f.sys);
		checked += assert_all_walks_exact(f.sys);
		if (step % 10 == 0)
			check_model(&f, m);
	}
	check_model(&f, m);
	print_message("# %s seed %u: %d forks, %d exits, %d writes, %d copies, %d walks\n", policy,
		      seed0, forks, exits, writes, copies, checked);
	/* The history must have exercised what it is meant to. */
	assert_true(forks >= 20);
	assert_true(exits >= 10);
	assert_true(writes >= 50);
	assert_true(copies >= 10);
	assert_true(checked >= RND_STEPS);
	fam_finish(&f);
}

static void test_rmap_random_family(void **state)
{
	(void)state;
	for (int pol = 0; pol < NR_MM_POLICIES; pol++)
		for (unsigned int seed = 1; seed <= 4; seed++)
			random_family(mm_policies[pol], seed);
}

/* ---- under the explorer ------------------------------------------------------------------ */

#define EX_FRAMES 64
#define EX_WALKS 4
#define EX_GAP 60

struct rmap_explore {
	struct cow_system *sys;
	struct cow_process *parent, *child[2];
	struct cow_task *pt;
	struct page *page;
	unsigned long addr;
	int parent_found; /* walks that found the parent's PTE */
	int found;	  /* PTEs found by all walks */
	int walks;
	bool passed;
};

static int explore_walk_one(struct page *page, struct vm_area_struct *vma, unsigned long addr,
			    void *arg)
{
	struct rmap_explore *x = arg;
	struct frame_pool *pool = x->sys->pool;
	spinlock_t *ptl;
	pte_t *ptep = page_vma_mapped(page, vma, addr, &ptl);

	task_check(addr >= vma->vm_start && addr < vma->vm_end);
	if (!ptep)
		return 0;
	/* The PTE really maps the page, and is the one the tables of the
	 * VMA's mm hold for addr. */
	task_check(pte_present(ptep_get(ptep)));
	task_check(pte_pfn(ptep_get(ptep)) == page_to_pfn(pool, page));
	task_check(addr == x->addr);
	if (vma->vm_mm == x->parent->mm)
		x->parent_found++;
	x->found++;
	pte_unmap_unlock(ptep, ptl);
	return 0;
}

/* How many walks, over all runs, found 0, 1, 2, 3 PTEs: shows that the
 * walks did see the fork half done and done. */
static int explore_found_hist[4];

static void explore_walker(void *arg)
{
	struct rmap_explore *x = arg;

	for (int i = 0; i < EX_WALKS; i++) {
		int before = x->parent_found, found = x->found;

		task_check(rmap_walk(x->page, explore_walk_one, x) == 0);
		/* The parent never stops mapping the page, and no more than
		 * one child maps it at any time (c0 copies before c1 is
		 * forked). */
		task_check(x->parent_found == before + 1);
		task_check(x->found - found <= 2);
		explore_found_hist[x->found - found < 3 ? x->found - found : 3]++;
		x->walks++;
		/* Spread the walks over the fork, which takes many steps. */
		for (int k = 0; k < EX_GAP; k++)
			cpu_relax();
	}
}

static void explore_forker(void *arg)
{
	struct rmap_explore *x = arg;
	struct cow_task *ct;
	unsigned char b = 0x99;

	task_check(cow_fork(x->pt, "c0", &x->child[0]) == 0);
	/* The first child copies the page for itself... */
	task_check(cow_task_create(x->child[0], 0, &ct) == 0);
	task_check(cow_write(ct, x->addr, &b, 1) == 0);
	cow_task_destroy(ct);
	/* ...and the parent forks again. */
	task_check(cow_fork(x->pt, "c1", &x->child[1]) == 0);
}

static void *explore_setup(struct sched *s, const char *policy)
{
	struct rmap_explore *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->sys = mmt_system(policy, EX_FRAMES, 2, true);
	x->parent = mmt_process(x->sys, "parent");
	x->pt = mmt_task(x->parent, 0);
	x->addr = mmt_map(x->pt, 2, RW, COW_MAP_PRIVATE);
	assert_int_equal(mmt_fill(x->pt, x->addr, 0x42, PAGE_SIZE), 0);
	x->page = mmt_page(x->parent, x->addr);
	assert_non_null(x->page);
	sched_spawn(s, "forker", 0, explore_forker, x, 0);
	sched_spawn(s, "walker", 1, explore_walker, x, 0);
	return x;
}

static void *explore_setup_old(struct sched *s)
{
	return explore_setup(s, "linux-2.6.29");
}

static void *explore_setup_new(struct sched *s)
{
	return explore_setup(s, "linux-6.5");
}

static int explore_check(void *state, char *msg, size_t len)
{
	return mmt_step_check(((struct rmap_explore *)state)->sys, msg, len);
}

#define VERDICT_FAIL(...)                        \
	do {                                     \
		snprintf(msg, len, __VA_ARGS__); \
		return 1;                        \
	} while (0)

static int explore_verdict(void *state, char *msg, size_t len)
{
	struct rmap_explore *x = state;
	struct cow_system *sys = x->sys;
	struct page *copy;

	if (x->walks != EX_WALKS || x->parent_found != EX_WALKS)
		VERDICT_FAIL("%d walks, parent found %d times", x->walks, x->parent_found);
	if (cow_system_check(sys, 1, msg, len))
		return 1;
	/* The final state: the page is mapped by the parent and the second
	 * child, the first child has its own copy. */
	if (!walk_matches_scan(sys, x->page, msg, len))
		return 1;
	if (scan_count(sys, x->page) != 2 || !scan_finds(sys, x->page, x->child[1], x->addr))
		VERDICT_FAIL("the page is mapped %d times", scan_count(sys, x->page));
	copy = mmt_page(x->child[0], x->addr);
	if (!copy || copy == x->page || !walk_matches_scan(sys, copy, msg, len) ||
	    scan_count(sys, copy) != 1)
		VERDICT_FAIL("the first child's copy is not its own");
	cow_task_destroy(x->pt);
	cow_process_exit(x->child[0]);
	cow_process_exit(x->child[1]);
	cow_process_exit(x->parent);
	if (cow_system_check(sys, 1, msg, len))
		return 1;
	rcu_barrier();
	if (cow_system_free_frames(sys) != EX_FRAMES)
		VERDICT_FAIL("%lu of %d frames free after exit", cow_system_free_frames(sys),
			     EX_FRAMES);
	x->passed = true;
	return 0;
}

static void explore_teardown(void *state)
{
	struct rmap_explore *x = state;

	/* A failed run may have left locks held by abandoned tasks: then
	 * the system cannot be torn down safely, so it is leaked. */
	if (x->passed)
		cow_system_destroy(x->sys);
	free(x);
}

static const struct explore_prog rmap_fork_old_prog = {
	"rmap-walk-vs-fork-2.6.29", 3, explore_setup_old, explore_check, explore_verdict,
	explore_teardown,
};

static const struct explore_prog rmap_fork_new_prog = {
	"rmap-walk-vs-fork-6.5", 3, explore_setup_new, explore_check, explore_verdict,
	explore_teardown,
};

static void test_rmap_walk_during_fork_explore(void **state)
{
	(void)state;
	memset(explore_found_hist, 0, sizeof(explore_found_hist));
	assert_explore_clean(&rmap_fork_old_prog, 1, 300);
	assert_explore_clean(&rmap_fork_new_prog, 1, 300);
	print_message("# walks finding 0/1/2/3+ PTEs: %d/%d/%d/%d\n", explore_found_hist[0],
		      explore_found_hist[1], explore_found_hist[2], explore_found_hist[3]);
	/* Some walks ran before (or during) a fork, some after. */
	assert_int_equal(explore_found_hist[0], 0);
	assert_true(explore_found_hist[1] > 0);
	assert_true(explore_found_hist[2] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rmap_fork_generations),
		cmocka_unit_test(test_rmap_cow_drops_writer),
		cmocka_unit_test(test_rmap_move_anon_rmap),
		cmocka_unit_test(test_rmap_munmap_drops),
		cmocka_unit_test(test_rmap_split_keeps_exact),
		cmocka_unit_test(test_rmap_oracle_has_teeth),
		cmocka_unit_test(test_rmap_random_family),
		cmocka_unit_test(test_rmap_walk_during_fork_explore),
	};

	test_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
