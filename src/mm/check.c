/*
 * Whole-structure validators of the mm layer: the frame pool (invariants
 * F1..F4 of page.c), page tables (P1..P4 of pgtable.h) and the whole
 * system (S1..S5 below).  They sit beside
 * the structures they check and are called by tests, by the explorer after
 * every step and by scenarios at their end, so they never panic: a broken
 * invariant comes back as COW_ECORRUPT with one line naming the frame (or
 * address) and the rule it breaks.
 *
 * They read shared fields through src/sync like everyone else.  Called in
 * an explore scheduler's own context, those reads are not yield points, so
 * a check sees one consistent moment between two steps; in stress mode the
 * caller makes the structure quiescent first.
 */
#include "mm/mm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static COW_PRINTF(3, 4) int corrupt(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return COW_ECORRUPT;
}

static int no_memory(char *msg, size_t len, const char *who)
{
	if (msg && len)
		snprintf(msg, len, "%s: no host memory for a scratch bitmap", who);
	return COW_ENOMEM;
}

/* A private bitmap with a bit per frame: "have we met this pfn already?". */
static unsigned long *seen_alloc(const struct frame_pool *pool)
{
	return calloc(frame_map_words(pool), sizeof(unsigned long));
}

/* Mark bit; returns whether it was marked already. */
static bool seen_mark(unsigned long *seen, unsigned long bit)
{
	unsigned long mask = 1UL << (bit % FRAME_MAP_BITS);
	bool was = (seen[bit / FRAME_MAP_BITS] & mask) != 0;

	seen[bit / FRAME_MAP_BITS] |= mask;
	return was;
}

/* ---- the frame pool -------------------------------------------------------- */

/* F1 and F3 frame by frame; counts the PG_free frames into *nfree and
 * the PG_lru ones into *nlru. */
static int check_each_frame(struct frame_pool *pool, unsigned long *nfree, unsigned long *nlru,
			    char *msg, size_t len)
{
	for (unsigned long pfn = 0; pfn < pool->nr; pfn++) {
		struct page *page = &pool->pages[pfn];
		unsigned long flags = READ_ONCE(page->flags);
		int ref = atomic_read(&page->_refcount);
		int map = atomic_read(&page->_mapcount);
		int pin = atomic_read(&page->_pincount);

		if (!(flags & BIT_MASK(PG_free))) {
			*nlru += (flags & BIT_MASK(PG_lru)) != 0;
			if (ref <= 0)
				return corrupt(msg, len,
					       "pfn %lu: allocated frame has refcount %d (F3)", pfn,
					       ref);
			continue;
		}
		if (flags != BIT_MASK(PG_free))
			return corrupt(msg, len,
				       "pfn %lu: free frame has flags 0x%lx besides "
				       "PG_free (F1)",
				       pfn, flags & ~BIT_MASK(PG_free));
		if (ref || map || pin)
			return corrupt(msg, len,
				       "pfn %lu: free frame has refcount %d, mapcount "
				       "%d, pincount %d (F1)",
				       pfn, ref, map, pin);
		(*nfree)++;
	}
	return 0;
}

/* One frame met on the free list (cpu < 0) or in cpu's cache: in the
 * pool, PG_free, and met for the first time. */
static int check_listed(struct frame_pool *pool, unsigned long *seen, unsigned long pfn, int cpu,
			char *msg, size_t len)
{
	char where[32] = "the free list";
	bool in_pool = pfn < pool->nr, twice = in_pool && seen_mark(seen, pfn);

	if (in_pool && !twice && PageFlag(&pool->pages[pfn], PG_free))
		return 0;
	if (cpu >= 0) /* named only when something is wrong: checks run often */
		snprintf(where, sizeof(where), "cpu %d's cache", cpu);
	if (!in_pool)
		return corrupt(msg, len, "%s holds pfn %lu, beyond the pool of %lu", where, pfn,
			       pool->nr);
	if (twice)
		return corrupt(msg, len, "%s: pfn %lu is on the free list or a cache twice (F1)",
			       where, pfn);
	return corrupt(msg, len, "%s holds pfn %lu, which is not PG_free (F1)", where, pfn);
}

/* Each frame the free list's bitmap holds is a free frame listed once;
 * *n receives how many it holds. */
static int check_free_map(struct frame_pool *pool, unsigned long *seen, unsigned long *n, char *msg,
			  size_t len)
{
	*n = 0;
	for (unsigned long w = 0; w < frame_map_words(pool); w++)
		for (unsigned long bits = READ_ONCE(pool->free_map[w]); bits; bits &= bits - 1) {
			unsigned long pfn =
				w * FRAME_MAP_BITS + (unsigned long)__builtin_ctzl(bits);
			int err = check_listed(pool, seen, pfn, -1, msg, len);

			if (err)
				return err;
			(*n)++;
		}
	return 0;
}

/* F4 for list c: a well-linked list of allocated PG_lru frames that name
 * it, nr long; *n receives its length. */
static int check_lru_list(struct frame_pool *pool, int c, unsigned long *seen, unsigned long *n,
			  char *msg, size_t len)
{
	const struct lru_list *list = &pool->lru[c];
	uint32_t prev = PFN_NONE;

	*n = 0;
	for (uint32_t pfn = READ_ONCE(list->head); pfn != PFN_NONE;
	     prev = pfn, pfn = READ_ONCE(pool->pages[pfn].lru.next), (*n)++) {
		const struct page *page = &pool->pages[pfn];
		unsigned long flags = READ_ONCE(page->flags);

		if (pfn >= pool->nr || seen_mark(seen, pfn))
			return corrupt(msg, len,
				       "LRU list %d holds pfn %u twice, or one beyond the pool, or "
				       "has a cycle, or shares it with another list (F4)",
				       c, pfn);
		if (!(flags & BIT_MASK(PG_lru)) || (flags & BIT_MASK(PG_free)))
			return corrupt(msg, len, "pfn %u is on LRU list %d but %s (F4)", pfn, c,
				       (flags & BIT_MASK(PG_free)) ? "free" : "not PG_lru");
		if ((flags & PG_LRU_LIST_MASK) >> PG_LRU_LIST_SHIFT != (unsigned long)c)
			return corrupt(msg, len, "pfn %u is on LRU list %d but names list %lu (F4)",
				       pfn, c, (flags & PG_LRU_LIST_MASK) >> PG_LRU_LIST_SHIFT);
		if (READ_ONCE(page->lru.prev) != prev)
			return corrupt(msg, len,
				       "LRU list %d: pfn %u's back link is %u, not %u (F4)", c, pfn,
				       READ_ONCE(page->lru.prev), prev);
	}
	if (prev != READ_ONCE(list->tail) || *n != READ_ONCE(list->nr))
		return corrupt(msg, len,
			       "LRU list %d has %lu pages ending at pfn %u, but its count is %lu "
			       "and its tail pfn %u (F4)",
			       c, *n, prev, READ_ONCE(list->nr), READ_ONCE(list->tail));
	return 0;
}

/* F4 for every LRU list whose lock is free (lru_add and lru_del change a
 * list over several steps); *nlisted receives how many pages they hold,
 * *all whether every list was checked. */
static int check_lru(struct frame_pool *pool, unsigned long *seen, unsigned long *nlisted,
		     bool *all, char *msg, size_t len)
{
	*nlisted = 0;
	*all = true;
	for (int c = 0; c < pool->cpus; c++) {
		unsigned long n;
		int err;

		if (spin_is_locked(&pool->lru[c].lock)) {
			*all = false;
			continue;
		}
		err = check_lru_list(pool, c, seen, &n, msg, len);
		if (err)
			return err;
		*nlisted += n;
	}
	return 0;
}

/* What holds at every step: every frame on the free list or in a cache
 * whose lock is free is PG_free with no counts, and none is listed twice.
 * Allocation and freeing move a frame between "listed" and "allocated"
 * over several steps outside the locks, so F2, F3 and "every PG_free frame
 * is listed" hold only when the pool is quiescent. */
int frames_check_step(struct frame_pool *pool, char *msg, size_t len)
{
	unsigned long *seen = seen_alloc(pool);
	int err = 0;

	if (!seen)
		return no_memory(msg, len, "frames_check_step");
	if (!spin_is_locked(&pool->lock)) {
		unsigned long n = 0;

		err = check_free_map(pool, seen, &n, msg, len);
		if (!err && n != READ_ONCE(pool->nr_free_list))
			err = corrupt(msg, len,
				      "frame pool: the free list has %lu frames but "
				      "nr_free_list is %lu",
				      n, READ_ONCE(pool->nr_free_list));
	}
	if (!err) {
		unsigned long *lru_seen = seen_alloc(pool), n;
		bool all;

		err = lru_seen ? check_lru(pool, lru_seen, &n, &all, msg, len)
			       : no_memory(msg, len, "frames_check_step");
		free(lru_seen);
	}
	for (int c = 0; c < pool->cpus && !err; c++) {
		struct pcp *pcp = &pool->pcp[c];

		if (spin_is_locked(&pcp->lock))
			continue;
		for (unsigned int i = 0; i < READ_ONCE(pcp->count) && !err; i++) {
			unsigned long pfn = READ_ONCE(pcp->pfns[i]);

			err = check_listed(pool, seen, pfn, c, msg, len);
			if (!err && (atomic_read(&pool->pages[pfn]._refcount) ||
				     atomic_read(&pool->pages[pfn]._mapcount)))
				err = corrupt(msg, len,
					      "cpu %d's cache holds pfn %lu with counts (F1)", c,
					      pfn);
		}
	}
	free(seen);
	return err;
}

int frames_check(struct frame_pool *pool, char *msg, size_t len)
{
	unsigned long nfree = 0, nlru = 0, listed = 0, nr_free_list, lru_listed;
	bool all;
	long nr_free = atomic_long_read(&pool->nr_free);
	unsigned long *seen;
	int err;

	err = check_each_frame(pool, &nfree, &nlru, msg, len);
	if (err)
		return err;
	if ((long)nfree != nr_free)
		return corrupt(msg, len,
			       "frame pool: %lu frames are PG_free but nr_free is %ld "
			       "(F2)",
			       nfree, nr_free);

	seen = seen_alloc(pool);
	if (!seen)
		return no_memory(msg, len, "frames_check");
	err = check_lru(pool, seen, &lru_listed, &all, msg, len);
	if (!err && all && lru_listed != nlru)
		err = corrupt(msg, len, "%lu frames are PG_lru but the LRU lists %lu (F4)", nlru,
			      lru_listed);
	if (err)
		goto out_free_seen;
	memset(seen, 0, frame_map_words(pool) * sizeof(*seen));
	/* Bounded by the pool size, so a cycle is caught by seen_mark()
	 * before the loop could run forever. */
	nr_free_list = READ_ONCE(pool->nr_free_list);
	err = check_free_map(pool, seen, &listed, msg, len);
	if (err)
		goto out_free_seen;
	if (listed != nr_free_list) {
		err = corrupt(msg, len,
			      "frame pool: the free list has %lu frames but "
			      "nr_free_list is %lu",
			      listed, nr_free_list);
		goto out_free_seen;
	}
	for (int c = 0; c < pool->cpus; c++) {
		struct pcp *pcp = &pool->pcp[c];
		unsigned int count = READ_ONCE(pcp->count);

		if (count > PCP_HIGH) {
			err = corrupt(msg, len, "cpu %d's cache holds %u frames, more than %d", c,
				      count, PCP_HIGH);
			goto out_free_seen;
		}
		for (unsigned int i = 0; i < count; i++) {
			err = check_listed(pool, seen, READ_ONCE(pcp->pfns[i]), c, msg, len);
			if (err)
				goto out_free_seen;
		}
		listed += count;
	}
	/* Every listed frame is PG_free and distinct, so equal counts mean
	 * every PG_free frame is listed somewhere. */
	if (listed != nfree)
		err = corrupt(msg, len,
			      "frame pool: %lu frames are PG_free but %lu are on the "
			      "free list and in caches (F1)",
			      nfree, listed);
out_free_seen:
	free(seen);
	return err;
}

/* ---- page tables ----------------------------------------------------------- */

static const char *const level_name[PT_LEVELS] = {
	[PT_PTE] = "PTE table",
	[PT_PMD] = "PMD",
	[PT_PUD] = "PUD",
	[PT_PGD] = "PGD",
};

struct pgtable_check_ctx {
	struct pgtable *pgt;
	struct frame_pool *pool;
	unsigned long *seen; /* table pfns met so far */
	unsigned int flags;
	long tables; /* reachable tables, PGD included */
	char *msg;
	size_t len;
	int (*leaf)(unsigned long addr, pte_t *ptep, void *arg); /* optional */
	void *leaf_arg;
};

/* A present leaf maps an allocated frame that is not a table (P4). */
static int check_leaf(struct pgtable_check_ctx *c, unsigned long addr, pte_t pte)
{
	unsigned long pfn = pte_pfn(pte);
	struct page *page;
	unsigned long flags;
	int ref;

	if (!pte_present(pte)) {
		if (swap_pte_bad(pte))
			return corrupt(c->msg, c->len,
				       "PTE for 0x%lx is 0x%llx: neither present "
				       "nor a swap entry (P4)",
				       addr, (unsigned long long)pte);
		return 0;
	}
	if (!pfn_valid(c->pool, pfn))
		return corrupt(c->msg, c->len, "PTE for 0x%lx maps pfn %lu, beyond the pool (P4)",
			       addr, pfn);
	page = pfn_to_page(c->pool, pfn);
	flags = READ_ONCE(page->flags);
	ref = page_ref_count(page);
	if ((flags & BIT_MASK(PG_free)) || ref <= 0)
		return corrupt(c->msg, c->len,
			       "PTE for 0x%lx maps pfn %lu, which is free "
			       "(refcount %d) (P4)",
			       addr, pfn, ref);
	if (flags & BIT_MASK(PG_table))
		return corrupt(c->msg, c->len, "PTE for 0x%lx maps pfn %lu, a page table (P4)",
			       addr, pfn);
	return 0;
}

/* Check the table in pfn, at level, translating addresses from base, and
 * everything below it (P1, P2, P4). */
static int check_table(struct pgtable_check_ctx *c, unsigned long pfn, enum pt_level level,
		       unsigned long base)
{
	unsigned long size = pt_level_size(level);
	struct page *page;
	unsigned long flags;
	pte_t *table;
	int err;

	if (!pfn_valid(c->pool, pfn))
		return corrupt(c->msg, c->len, "%s for 0x%lx is pfn %lu, beyond the pool (P1)",
			       level_name[level], base, pfn);
	if (seen_mark(c->seen, pfn))
		return corrupt(c->msg, c->len,
			       "pfn %lu is reachable twice as a page table, "
			       "again as the %s for 0x%lx (P1)",
			       pfn, level_name[level], base);
	page = pfn_to_page(c->pool, pfn);
	flags = READ_ONCE(page->flags);
	if (!(flags & BIT_MASK(PG_table)) || (flags & BIT_MASK(PG_free)))
		return corrupt(c->msg, c->len,
			       "%s for 0x%lx is pfn %lu with flags 0x%lx: not a "
			       "live page table (P1)",
			       level_name[level], base, pfn, flags);
	if (page->private != (unsigned long)c->pool || page_ref_count(page) <= 0)
		return corrupt(c->msg, c->len,
			       "%s for 0x%lx, pfn %lu: private 0x%lx, refcount "
			       "%d; want the pool and > 0 (P1)",
			       level_name[level], base, pfn, page->private, page_ref_count(page));
	if (level == PT_PTE && (c->flags & PGTABLE_CHECK_QUIESCENT) && spin_is_locked(&page->ptl))
		return corrupt(c->msg, c->len,
			       "PTE table for 0x%lx, pfn %lu: its PT lock is "
			       "still held",
			       base, pfn);
	c->tables++;

	table = page_address(c->pool, page);
	for (unsigned long i = 0; i < PTRS_PER_TABLE; i++) {
		unsigned long addr = base + i * size;
		pte_t e;

		/* This loop is the checker's hottest, and tables are mostly
		 * empty: skip eight empty entries at a time.  Plain loads and
		 * no yield points: the checker runs in the explorer's
		 * scheduler context, where no task runs, or on a quiescent
		 * system. */
		if (i % 8 == 0 &&
		    (table[i] | table[i + 1] | table[i + 2] | table[i + 3] | table[i + 4] |
		     table[i + 5] | table[i + 6] | table[i + 7]) == 0) {
			i += 7;
			continue;
		}
		e = READ_PRIVATE(table[i]);
		if (pte_none(e))
			continue;
		if (level == PT_PTE) {
			err = check_leaf(c, addr, e);
			if (!err && c->leaf)
				err = c->leaf(addr, &table[i], c->leaf_arg);
		} else if (table_entry_bad(e)) {
			err = corrupt(c->msg, c->len,
				      "%s entry for 0x%lx is 0x%llx, not a table "
				      "entry (P2)",
				      level_name[level], addr, (unsigned long long)e);
		} else {
			err = check_table(c, pte_pfn(e), level - 1, addr);
		}
		if (err)
			return err;
	}
	return 0;
}

/* pgtable_check(), calling leaf(addr, ptep, arg) for every sound non-none
 * leaf on the way (one traversal for callers that inspect leaves too); a
 * non-zero return of leaf ends the check with that value. */
static int pgtable_check_leaves(struct pgtable *pgt, unsigned int flags,
				int (*leaf)(unsigned long addr, pte_t *ptep, void *arg), void *arg,
				char *msg, size_t len)
{
	struct pgtable_check_ctx c = {
		.pgt = pgt,
		.pool = pgt->pool,
		.flags = flags,
		.msg = msg,
		.len = len,
		.leaf = leaf,
		.leaf_arg = arg,
	};
	bool locked;
	long nr;
	int err;

	c.seen = seen_alloc(pgt->pool);
	if (!c.seen)
		return no_memory(msg, len, "pgtable_check");
	err = check_table(&c, pgt->pgd_pfn, PT_PGD, 0);
	if (err)
		goto out_free_seen;
	locked = spin_is_locked(&pgt->lock);
	if (locked && (flags & PGTABLE_CHECK_QUIESCENT)) {
		err = corrupt(msg, len, "page tables: pgt->lock is still held");
		goto out_free_seen;
	}
	/* Populate and free change nr_tables and an entry under the lock,
	 * one after the other: the two agree only while it is free (P3). */
	nr = atomic_long_read(&pgt->nr_tables);
	if (!locked && c.tables != nr)
		err = corrupt(msg, len,
			      "page tables: %ld tables are reachable but nr_tables is "
			      "%ld (P3)",
			      c.tables, nr);
out_free_seen:
	free(c.seen);
	return err;
}

int pgtable_check(struct pgtable *pgt, unsigned int flags, char *msg, size_t len)
{
	return pgtable_check_leaves(pgt, flags, NULL, NULL, msg, len);
}

struct count_maps_ctx {
	unsigned long *counts;
	unsigned long nr;
};

static int count_one(unsigned long addr, pte_t *ptep, void *arg)
{
	struct count_maps_ctx *c = arg;
	pte_t pte = ptep_get(ptep);

	(void)addr;
	if (!pte_present(pte) || pte_special(pte))
		return 0;
	if (pte_pfn(pte) >= c->nr)
		return COW_EINVAL;
	c->counts[pte_pfn(pte)]++;
	return 0;
}

int pgtable_count_maps(struct pgtable *pgt, unsigned long *counts, unsigned long nr)
{
	struct count_maps_ctx c = {counts, nr};

	return pgtable_walk_range(pgt, 0, VA_END, count_one, &c);
}

/* ---- the whole system -------------------------------------------------------
 *
 *   S1  the frame pool and every process's page tables are sound;
 *   S2  mapcount >= the PTEs that map the page (a full scan of every page
 *       table), and equal when no PT lock is held: every change of a
 *       mapping and its count happens under the PT lock, the count going
 *       up before the PTE appears and down after it is gone;
 *   S3  refcount >= mapcount + the page cache's reference (shared memory)
 *       + the references get_user_pages handed out (a pin counts its bias),
 *       equal when the system is quiescent (no transient references);
 *   S4  under policies with PG_anon_exclusive, a writable PTE of an anon
 *       page in a table whose PT lock is free maps an exclusive page, and
 *       an exclusive page is mapped at most once;
 *   S5  the zero page holds zeroes and is never mapped writable;
 *   S6  the swap device's counts match the swap PTEs (W1-W3 of swapfile.c);
 *   S7  under policies with PG_anon_exclusive, a page that may be pinned
 *       is never unmapped into the swap cache: no swap PTE refers to the
 *       slot of a maybe-pinned swap-cache page (the swap-in after a fork
 *       would find it shared and the next write copy it away from the
 *       pin).  Checked where the swap counts are exact.
 */

struct sys_check {
	struct cow_system *sys;
	unsigned long *maps;  /* PTEs per pfn */
	unsigned long *swaps; /* swap PTEs per slot */
	unsigned long nr_swap_ptes;
	bool any_locked; /* some PT lock is held */
	char *msg;
	size_t len;
	int err;
};

static int check_pte_excl(unsigned long addr, pte_t *ptep, void *arg)
{
	struct sys_check *c = arg;
	struct frame_pool *pool = c->sys->pool;
	struct page *table = virt_to_page(pool, ptep), *page;
	pte_t pte = ptep_get(ptep);

	if (!pte_present(pte)) {
		unsigned long slot = swp_offset(pte_to_swp_entry(pte));

		if (c->swaps && slot < swap_device_size(c->sys->swap))
			c->swaps[slot]++;
		c->nr_swap_ptes++;
		return 0;
	}
	if (!pte_special(pte))
		c->maps[pte_pfn(pte)]++;
	if (spin_is_locked(&table->ptl))
		return 0;
	page = pfn_to_page(pool, pte_pfn(pte));
	if (page == c->sys->zero_page) {
		if (pte_write(pte))
			return corrupt(c->msg, c->len,
				       "the zero page is mapped writable at 0x%lx (S5)", addr);
		return 0;
	}
	if (c->sys->policy->anon_exclusive && pte_write(pte) && PageFlag(page, PG_anon) &&
	    !PageFlag(page, PG_anon_exclusive))
		return corrupt(c->msg, c->len,
			       "writable PTE at 0x%lx maps pfn %lu, which is not exclusive "
			       "(mapcount %d, refcount %d) (S4)",
			       addr, page_to_pfn(pool, page), page_mapcount(page),
			       page_ref_count(page));
	return 0;
}

static bool any_pt_lock_held(struct frame_pool *pool)
{
	for (unsigned long pfn = 0; pfn < pool->nr; pfn++) {
		struct page *page = &pool->pages[pfn];

		if (PageFlag(page, PG_table) && spin_is_locked(&page->ptl))
			return true;
	}
	return false;
}

static int check_counts(struct sys_check *c, bool strict)
{
	struct cow_system *sys = c->sys;
	struct frame_pool *pool = sys->pool;
	bool exact = strict || !c->any_locked;

	for (unsigned long pfn = 0; pfn < pool->nr; pfn++) {
		struct page *page = &pool->pages[pfn];
		unsigned long flags = READ_ONCE(page->flags);
		int ref = page_ref_count(page), map = page_mapcount(page);
		int want;

		if (flags & (BIT_MASK(PG_free) | BIT_MASK(PG_table) | BIT_MASK(PG_zero)))
			continue;
		if (ref == 0 && !strict)
			continue; /* its last reference is being dropped */
		if ((unsigned long)map < c->maps[pfn] ||
		    (exact && (unsigned long)map != c->maps[pfn]))
			return corrupt(c->msg, c->len,
				       "pfn %lu: mapcount %d but %lu PTEs map it (S2)", pfn, map,
				       c->maps[pfn]);
		want = map + ((flags & BIT_MASK(PG_anon)) ? 0 : 1) +
		       ((flags & BIT_MASK(PG_swapcache)) ? 1 : 0) +
		       atomic_read(&sys->ext_refs[pfn]);
		if (ref < want || (strict && ref != want))
			return corrupt(
				c->msg, c->len,
				"pfn %lu: refcount %d, want %s%d (mapcount %d%s, GUP %d) (S3)", pfn,
				ref, strict ? "" : "at least ", want, map,
				(flags & BIT_MASK(PG_anon)) ? "" : " + page cache",
				atomic_read(&sys->ext_refs[pfn]));
		if (sys->policy->anon_exclusive && exact && (flags & BIT_MASK(PG_anon_exclusive)) &&
		    map > 1)
			return corrupt(c->msg, c->len,
				       "pfn %lu is exclusive but mapped %d times (S4)", pfn, map);
		if (sys->policy->anon_exclusive && exact && c->swaps &&
		    (flags & BIT_MASK(PG_swapcache)) && page_maybe_dma_pinned(page)) {
			unsigned long slot = swp_offset((swp_entry_t){page->private});

			if (slot < swap_device_size(sys->swap) && c->swaps[slot] > 0)
				return corrupt(
					c->msg, c->len,
					"pfn %lu may be pinned (refcount %d) but was unmapped "
					"into the swap cache: %lu swap PTEs refer to slot %lu "
					"(S7)",
					pfn, ref, c->swaps[slot], slot);
		}
	}
	return 0;
}

int system_check(struct cow_system *sys, bool strict, char *msg, size_t len)
{
	struct sys_check c = {.sys = sys, .msg = msg, .len = len};
	struct frame_pool *pool = sys->pool;
	struct mm_struct *mm;
	int err;

	err = strict ? frames_check(pool, msg, len) : frames_check_step(pool, msg, len);
	if (err)
		return err;
	c.maps = calloc(pool->nr, sizeof(*c.maps));
	c.swaps = sys->swap ? calloc(swap_device_size(sys->swap), sizeof(*c.swaps)) : NULL;
	if (!c.maps || (sys->swap && !c.swaps)) {
		free(c.maps);
		free(c.swaps);
		return no_memory(msg, len, "system_check");
	}
	c.any_locked = any_pt_lock_held(pool);
	list_for_each_entry(mm, &sys->mms, mmlist)
	{
		struct pgtable *pgt = &mm->pgt;

		err = pgtable_check_leaves(pgt, strict ? PGTABLE_CHECK_QUIESCENT : 0,
					   check_pte_excl, &c, msg, len);
		if (err) {
			if (err != COW_ECORRUPT)
				corrupt(msg, len, "mm %llu: page-table scan failed: %s",
					(unsigned long long)mm->id, cow_strerror(err));
			err = COW_ECORRUPT;
			goto out_free;
		}
	}
	err = check_counts(&c, strict);
	/* W1-W3; the counts exactly only while no PT lock is held (a swap
	 * count goes up before its PTE appears and down after it is gone). */
	if (!err && !sys->swap && c.nr_swap_ptes)
		err = corrupt(msg, len, "%lu swap PTEs but no swap device (S6)", c.nr_swap_ptes);
	else if (!err && sys->swap &&
		 (c.nr_swap_ptes || swap_device_nr_free(sys->swap) != swap_device_size(sys->swap)))
		err = swap_check(sys->swap, (strict || !c.any_locked) ? c.swaps : NULL, strict, msg,
				 len);
	if (!err && sys->zero_page) {
		static const unsigned char zeroes[PAGE_SIZE];
		const unsigned char *z = page_address(pool, sys->zero_page);

		for (size_t i = 0; memcmp(z, zeroes, PAGE_SIZE) != 0 && i < PAGE_SIZE; i++)
			if (z[i]) {
				corrupt(msg, len, "the zero page holds 0x%02x at offset %zu (S5)",
					z[i], i);
				err = COW_EOVERWRITE;
				break;
			}
	}
out_free:
	free(c.maps);
	free(c.swaps);
	return err;
}
