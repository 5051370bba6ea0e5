/*
 * Whole-structure validators of the mm layer: the frame pool (invariants
 * F1..F4 of page.c), page tables (P1..P4 of pgtable.h) and the whole
 * system (S1..S7 below), and the step checker, which checks the same
 * between two explored steps reading only what the steps touched (last
 * section).  They sit beside the structures they check and are called by
 * tests, by the explorer where a schedule branches and by scenarios at
 * their end, so they never panic: a broken invariant comes back as
 * COW_ECORRUPT with one line naming the frame (or address) and the rule
 * it breaks.
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

/* F5 for the folio headed at pfn (its head's refcount is > 0 already). */
static int check_folio(struct frame_pool *pool, unsigned long pfn, char *msg, size_t len)
{
	const unsigned long head_only = BIT_MASK(PG_free) | BIT_MASK(PG_lru) | BIT_MASK(PG_locked) |
					BIT_MASK(PG_swapcache) | BIT_MASK(PG_ksm) |
					BIT_MASK(PG_table) | BIT_MASK(PG_head) | PG_LRU_LIST_MASK;
	struct page *head = &pool->pages[pfn];
	unsigned long order = pfn + 1 < pool->nr ? READ_ONCE(head[1].private) : 0, n = 1UL << order;
	int pin = atomic_read(&head->_pincount), entire;

	if (order < 1 || order > MAX_FOLIO_ORDER || pfn % n || pfn + n > pool->nr)
		return corrupt(msg, len, "pfn %lu: a folio head of order %lu (F5)", pfn, order);
	entire = atomic_read(&head[1]._entire_mapcount);
	if (pin < 0 || pin > atomic_read(&head->_refcount) || entire < 0)
		return corrupt(
			msg, len,
			"pfn %lu: folio with refcount %d, pincount %d, entire mapcount %d (F5)",
			pfn, atomic_read(&head->_refcount), pin, entire);
	for (unsigned long i = 1; i < n; i++) {
		struct page *tail = head + i;
		unsigned long flags = READ_ONCE(tail->flags);

		if (!(flags & BIT_MASK(PG_tail)) || (flags & head_only) || tail->lru.next != i ||
		    atomic_read(&tail->_refcount) || (i > 1 && atomic_read(&tail->_pincount)))
			return corrupt(msg, len,
				       "pfn %lu: tail %lu of the folio at pfn %lu has flags 0x%lx, "
				       "offset %u, refcount %d (F5)",
				       pfn + i, i, pfn, flags, tail->lru.next,
				       atomic_read(&tail->_refcount));
	}
	return 0;
}

/* F1, F3 and F5 frame by frame; counts the PG_free frames into *nfree and
 * the PG_lru ones into *nlru. */
static int check_each_frame(struct frame_pool *pool, unsigned long *nfree, unsigned long *nlru,
			    unsigned long *nhuge_free, char *msg, size_t len)
{
	for (unsigned long pfn = 0; pfn < pool->nr; pfn++) {
		struct page *page = &pool->pages[pfn];
		unsigned long flags = READ_ONCE(page->flags);
		int ref = atomic_read(&page->_refcount);
		int map = atomic_read(&page->_mapcount);
		int pin = atomic_read(&page->_pincount);

		if (flags & BIT_MASK(PG_tail))
			return corrupt(msg, len, "pfn %lu: a tail outside any folio (F5)", pfn);
		if (!(flags & BIT_MASK(PG_free))) {
			*nlru += (flags & BIT_MASK(PG_lru)) != 0;
			if (ref == 0 && flags == (BIT_MASK(PG_head) | BIT_MASK(PG_hugetlb))) {
				/* A free page of the hugetlb pool (F6). */
				int err = check_folio(pool, pfn, msg, len);

				if (err)
					return err;
				(*nhuge_free)++;
				pfn += folio_nr_pages(page) - 1;
				continue;
			}
			if (ref <= 0)
				return corrupt(msg, len,
					       "pfn %lu: allocated frame has refcount %d (F3)", pfn,
					       ref);
			if (flags & BIT_MASK(PG_head)) {
				int err = check_folio(pool, pfn, msg, len);

				if (err)
					return err;
				pfn += folio_nr_pages(page) - 1;
			}
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

/* Every frame in a CPU cache whose lock is free is PG_free with no
 * counts, and met once (seen holds the free list's frames). */
static int check_pcps(struct frame_pool *pool, unsigned long *seen, char *msg, size_t len)
{
	for (int c = 0; c < pool->cpus; c++) {
		struct pcp *pcp = &pool->pcp[c];

		if (spin_is_locked(&pcp->lock))
			continue;
		for (unsigned int i = 0; i < READ_ONCE(pcp->count); i++) {
			unsigned long pfn = READ_ONCE(pcp->pfns[i]);
			int err = check_listed(pool, seen, pfn, c, msg, len);

			if (!err && (atomic_read(&pool->pages[pfn]._refcount) ||
				     atomic_read(&pool->pages[pfn]._mapcount)))
				err = corrupt(msg, len,
					      "cpu %d's cache holds pfn %lu with counts (F1)", c,
					      pfn);
			if (err)
				return err;
		}
	}
	return 0;
}

/* What holds at every step: every frame on the free list or in a cache
 * whose lock is free is PG_free with no counts, and none is listed twice;
 * every LRU list whose lock is free is sound.  Allocation and freeing move
 * a frame between "listed" and "allocated" over several steps outside the
 * locks, so F2, F3 and "every PG_free frame is listed" hold only when the
 * pool is quiescent.  free_lists false: the LRU lists only.  scratch: a
 * bitmap over the frames, or NULL. */
int frames_check_step(struct frame_pool *pool, unsigned long *scratch, bool free_lists, char *msg,
		      size_t len)
{
	unsigned long *seen = scratch ? scratch : seen_alloc(pool), n;
	size_t bytes = frame_map_words(pool) * sizeof(*seen);
	bool all;
	int err = 0;

	if (!seen)
		return no_memory(msg, len, "frames_check_step");
	memset(seen, 0, bytes);
	err = check_lru(pool, seen, &n, &all, msg, len);
	if (err || !free_lists)
		goto out;
	memset(seen, 0, bytes);
	if (!spin_is_locked(&pool->lock)) {
		err = check_free_map(pool, seen, &n, msg, len);
		if (!err && n != READ_ONCE(pool->nr_free_list))
			err = corrupt(msg, len,
				      "frame pool: the free list has %lu frames but "
				      "nr_free_list is %lu",
				      n, READ_ONCE(pool->nr_free_list));
	}
	if (!err)
		err = check_pcps(pool, seen, msg, len);
out:
	if (!scratch)
		free(seen);
	return err;
}

int frames_check(struct frame_pool *pool, char *msg, size_t len)
{
	unsigned long nfree = 0, nlru = 0, nhuge_free = 0, listed = 0, nr_free_list, lru_listed;
	bool all;
	long nr_free = atomic_long_read(&pool->nr_free);
	unsigned long *seen;
	int err;

	err = check_each_frame(pool, &nfree, &nlru, &nhuge_free, msg, len);
	if (err)
		return err;
	if (!spin_is_locked(&pool->lock) &&
	    (nhuge_free != pool->nr_huge_free || pool->nr_huge_free > pool->nr_huge ||
	     pool->resv_huge > pool->nr_huge_free))
		return corrupt(msg, len,
			       "hugetlb pool: %lu free huge pages found, %lu counted free of %lu, "
			       "%lu reserved (F6)",
			       nhuge_free, pool->nr_huge_free, pool->nr_huge, pool->resv_huge);
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
	long huge;   /* huge PMDs met */
	char *msg;
	size_t len;
	int (*leaf)(unsigned long addr, pte_t *ptep, void *arg); /* optional */
	/* optional: every sound table, before its entries */
	void (*table)(unsigned long pfn, enum pt_level level, unsigned long base, void *arg);
	void *leaf_arg; /* of both */
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
		if (is_migration_pte(pte)) {
			pfn = swp_offset(pte_to_swp_entry(pte));
			if (!pfn_valid(c->pool, pfn) ||
			    (READ_ONCE(pfn_to_page(c->pool, pfn)->flags) & BIT_MASK(PG_free)))
				return corrupt(c->msg, c->len,
					       "migration entry for 0x%lx names pfn %lu, which "
					       "is free or beyond the pool (P4)",
					       addr, pfn);
		}
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

/* A huge PMD maps the head of a live PMD-sized folio (P4). */
static int check_huge_leaf(struct pgtable_check_ctx *c, unsigned long addr, pte_t pmd)
{
	unsigned long pfn = pte_pfn(pmd);
	struct page *head;

	if (!pfn_valid(c->pool, pfn) || pfn % HPAGE_PMD_NR || !pfn_valid(c->pool, pfn + 1))
		return corrupt(c->msg, c->len, "huge PMD for 0x%lx maps pfn %lu (P4)", addr, pfn);
	head = pfn_to_page(c->pool, pfn);
	if (!PageFlag(head, PG_head) || folio_order(head) != HPAGE_PMD_ORDER ||
	    page_ref_count(head) <= 0)
		return corrupt(c->msg, c->len,
			       "huge PMD for 0x%lx maps pfn %lu, not the head of a live "
			       "PMD-sized folio (flags 0x%lx, refcount %d) (P4)",
			       addr, pfn, READ_ONCE(head->flags), page_ref_count(head));
	/* P6 counts THP's PMDs: hugetlb deposits no table. */
	c->huge += !(READ_ONCE(head->flags) & BIT_MASK(PG_hugetlb));
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
	if (c->table)
		c->table(pfn, level, base, c->leaf_arg);

	table = page_address(c->pool, page);
	/* The checker runs in the explorer's scheduler context, where no
	 * task runs, or on a quiescent system. */
	for (unsigned int i = table_next_used(table, 0); i < PTRS_PER_TABLE;
	     i = table_next_used(table, i + 1)) {
		unsigned long addr = base + i * size;
		pte_t e = READ_PRIVATE(table[i]);

		if (level == PT_PTE || (level == PT_PMD && pmd_trans_huge(e))) {
			err = level == PT_PTE ? check_leaf(c, addr, e)
					      : check_huge_leaf(c, addr, e);
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
				int (*leaf)(unsigned long addr, pte_t *ptep, void *arg),
				void (*table)(unsigned long pfn, enum pt_level level,
					      unsigned long base, void *arg),
				void *arg, char *msg, size_t len)
{
	struct pgtable_check_ctx c = {
		.pgt = pgt,
		.pool = pgt->pool,
		.flags = flags,
		.msg = msg,
		.len = len,
		.leaf = leaf,
		.table = table,
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
	else if (!locked && c.huge != pgt->nr_deposit)
		err = corrupt(msg, len, "page tables: %ld huge PMDs but %ld tables deposited (P6)",
			      c.huge, pgt->nr_deposit);
out_free_seen:
	free(c.seen);
	return err;
}

int pgtable_check(struct pgtable *pgt, unsigned int flags, char *msg, size_t len)
{
	return pgtable_check_leaves(pgt, flags, NULL, NULL, NULL, msg, len);
}

struct count_maps_ctx {
	unsigned long *counts;
	unsigned long nr;
};

static int count_one(unsigned long addr, pte_t *ptep, void *arg)
{
	struct count_maps_ctx *c = arg;
	pte_t pte = ptep_get(ptep);

	unsigned long n = pmd_trans_huge(pte) ? HPAGE_PMD_NR : 1;

	(void)addr;
	if (!pte_present(pte) || pte_special(pte))
		return 0;
	if (pte_pfn(pte) + n > c->nr)
		return COW_EINVAL;
	for (unsigned long i = 0; i < n; i++)
		c->counts[pte_pfn(pte) + i]++;
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

/* What the step checker keeps between two checks of a run (below). */
struct step_state {
	bool valid;	      /* built by a full scan, nothing lost since */
	unsigned long nr;     /* frames */
	unsigned long nslots; /* swap slots counted: 0 before the device exists */
	unsigned long *maps;  /* per pfn: the PTEs that map it, special ones aside */
	unsigned long *wmaps; /* per pfn: the writable ones in tables whose lock was free */
	unsigned long *swaps; /* per slot: the swap PTEs that refer to it */
	unsigned long *maps2, *wmaps2, *swaps2; /* the next sums, while tables are scanned */
	unsigned long nr_swap_ptes;
	pte_t **shadow;		     /* per pfn: a PTE table's entries at its last scan */
	unsigned long *base;	     /* per pfn: the address a PTE table translates from */
	unsigned long *shadowed;     /* bitmap: shadow[pfn] is current */
	unsigned long *was_locked;   /* bitmap: its PT lock was held at that scan */
	unsigned long nr_locked;     /* PTE tables locked at their last scan */
	unsigned long other_locked;  /* other tables' PT locks held at the last full scan */
	unsigned long pgt_locked;    /* page_table_locks held at the last scan of the mms */
	unsigned long *dirty;	     /* bitmap: frames to check again */
	unsigned long *inexact;	     /* bitmap: frames last checked while a PT lock was held */
	unsigned long *dirty_tables; /* bitmap: PTE tables to scan again */
	unsigned long *scratch;	     /* a bitmap for frames_check_step */
	unsigned long *free_seen;    /* the free list's bitmap as last checked */
	unsigned long nr_listed;     /* the frames it holds */
	bool any_dirty, pool_dirty, swap_dirty, zero_dirty;
	bool reshaped; /* the tables' shape changed: scan them all again */
	/* The CPU caches as last checked: a copy of each whose lock was free
	 * (pcp_valid), and the frames they hold (cached); pcp_dirty, the
	 * caches whose lock was used since. */
	unsigned long *cached;
	uint64_t pcp_valid, pcp_dirty;
	struct pcp *pcp_copy;
	/* The mms at the last scan of the tables, in list order, and the
	 * tables each reached (P3 compares it with nr_tables).  The system
	 * lock (which also guards the list of processes) or an mm's
	 * pgt->lock and nr_tables being used ask for them to be compared
	 * (mms_dirty, p3_dirty), not for a scan. */
	struct step_mm {
		const struct mm_struct *mm;
		unsigned long pgd_pfn;
		long tables;
	} * mms;
	int nr_mms, max_mms, cur_mm;
	bool mms_dirty, p3_dirty;
};

struct sys_check {
	struct cow_system *sys;
	unsigned long *maps;  /* PTEs per pfn */
	unsigned long *wmaps; /* writable PTEs per pfn in unlocked tables, or NULL */
	unsigned long *swaps; /* swap PTEs per slot */
	unsigned long nr_swap_ptes;
	unsigned long locked_tables; /* tables whose PT lock is held (scan_tables) */
	unsigned long pgt_locked;    /* mms whose page_table_lock (PMD lock) is held */
	bool any_locked;	     /* some PT or PMD lock is held */
	struct pgtable *cur_pgt;     /* the tables scan_tables is in */
	struct step_state *st;	     /* a full scan for the step checker, or NULL */
	char *msg;
	size_t len;
	int err;
};

/* S4 and S5's second half for a present PTE in a table whose lock is free. */
static int check_pte_rules(struct sys_check *c, unsigned long addr, pte_t pte)
{
	struct frame_pool *pool = c->sys->pool;
	struct page *page = pfn_to_page(pool, pte_pfn(pte));
	unsigned long n = pmd_trans_huge(pte) ? HPAGE_PMD_NR : 1; /* frames it maps */

	if (READ_ONCE(page->flags) & BIT_MASK(PG_zero)) {
		if (pte_write(pte))
			return corrupt(c->msg, c->len,
				       "the %szero page is mapped writable at 0x%lx (S5)",
				       pmd_trans_huge(pte) ? "huge " : "", addr);
		return 0;
	}
	for (unsigned long i = 0; i < n; i++)
		if (c->sys->policy->anon_exclusive && pte_write(pte) &&
		    PageFlag(page + i, PG_anon) && !PageFlag(page + i, PG_anon_exclusive))
			return corrupt(c->msg, c->len,
				       "writable %s at 0x%lx maps pfn %lu, which is not exclusive "
				       "(mapcount %d, refcount %d) (S4)",
				       pmd_trans_huge(pte) ? "huge PMD" : "PTE",
				       addr + i * PAGE_SIZE, page_to_pfn(pool, page + i),
				       page_mapcount(page + i), page_ref_count(page));
	return 0;
}

/* The full scan's leaf: counts, then the rules. */
static int check_pte_excl(unsigned long addr, pte_t *ptep, void *arg)
{
	struct sys_check *c = arg;
	struct frame_pool *pool = c->sys->pool;
	struct page *table = virt_to_page(pool, ptep);
	pte_t pte = ptep_get(ptep);

	if (is_migration_pte(pte))
		return 0; /* no mapping, no slot: a split in flight */
	if (!pte_present(pte)) {
		unsigned long slot = swp_offset(pte_to_swp_entry(pte));

		if (c->swaps && slot < swap_device_size(c->sys->swap))
			c->swaps[slot]++;
		c->nr_swap_ptes++;
		return 0;
	}
	if (pmd_trans_huge(pte)) {
		/* A huge PMD maps each of its 512 frames once; S4 while its
		 * PMD lock is free. */
		bool unlocked = !spin_is_locked(&c->cur_pgt->lock);

		for (unsigned long i = 0; i < HPAGE_PMD_NR && !pte_special(pte); i++) {
			c->maps[pte_pfn(pte) + i]++;
			if (c->wmaps && unlocked && pte_write(pte))
				c->wmaps[pte_pfn(pte) + i]++;
		}
		return unlocked ? check_pte_rules(c, addr, pte) : 0;
	}
	if (!pte_special(pte))
		c->maps[pte_pfn(pte)]++;
	if (spin_is_locked(&table->ptl))
		return 0;
	if (c->wmaps && !pte_special(pte) && pte_write(pte) &&
	    pfn_to_page(pool, pte_pfn(pte)) != c->sys->zero_page)
		c->wmaps[pte_pfn(pte)]++;
	return check_pte_rules(c, addr, pte);
}

static unsigned long pt_locks_held(struct frame_pool *pool)
{
	unsigned long n = 0;

	for (unsigned long pfn = 0; pfn < pool->nr; pfn++) {
		struct page *page = &pool->pages[pfn];

		n += PageFlag(page, PG_table) && spin_is_locked(&page->ptl);
	}
	return n;
}

/* S2, S3, S4 (an exclusive page mapped once) and S7 for one frame. */
static int check_frame(struct sys_check *c, unsigned long pfn, bool strict)
{
	struct cow_system *sys = c->sys;
	struct page *page = &sys->pool->pages[pfn];
	unsigned long flags = READ_ONCE(page->flags);
	int ref = page_ref_count(page), map = page_mapcount(page);
	bool exact = strict || !c->any_locked;
	int want, mapped, gup;

	if (flags & (BIT_MASK(PG_free) | BIT_MASK(PG_table) | BIT_MASK(PG_zero)))
		return 0;
	if (ref == 0 && (flags & BIT_MASK(PG_hugetlb)))
		return 0; /* a free page of the hugetlb pool (F6) */
	if (ref == 0 && !strict)
		return 0; /* its last reference is being dropped */
	if ((unsigned long)map < c->maps[pfn] || (exact && (unsigned long)map != c->maps[pfn]))
		return corrupt(c->msg, c->len, "pfn %lu: mapcount %d but %lu PTEs map it (S2)", pfn,
			       map, c->maps[pfn]);
	if (flags & BIT_MASK(PG_tail))
		goto s4; /* S3 is its folio's, checked at the head */
	gup = atomic_read(&sys->ext_refs[pfn]);
	mapped = map;
	if (flags & BIT_MASK(PG_head)) {
		/* A folio: a reference per PTE of any subpage, one per huge
		 * PMD, GUP's on any subpage. */
		mapped = folio_entire_mapcount(page);
		for (unsigned long i = 0; i < folio_nr_pages(page); i++) {
			mapped += atomic_read(&page[i]._mapcount);
			gup += i ? atomic_read(&sys->ext_refs[pfn + i]) : 0;
		}
	}
	want = mapped + ((flags & BIT_MASK(PG_anon)) ? 0 : 1) +
	       ((flags & BIT_MASK(PG_swapcache)) ? 1 : 0) + gup;
	if (ref < want || (strict && ref != want))
		return corrupt(c->msg, c->len,
			       "pfn %lu: refcount %d, want %s%d (mapcount %d%s, GUP %d) (S3)", pfn,
			       ref, strict ? "" : "at least ", want, mapped,
			       (flags & BIT_MASK(PG_anon)) ? "" : " + page cache", gup);
s4:
	if (sys->policy->anon_exclusive && exact && (flags & BIT_MASK(PG_anon_exclusive)) &&
	    map > 1)
		return corrupt(c->msg, c->len, "pfn %lu is exclusive but mapped %d times (S4)", pfn,
			       map);
	if (sys->policy->anon_exclusive && exact && c->swaps && (flags & BIT_MASK(PG_swapcache)) &&
	    page_maybe_dma_pinned(page)) {
		unsigned long slot = swp_offset((swp_entry_t){page->private});

		if (slot < swap_device_size(sys->swap) && c->swaps[slot] > 0)
			return corrupt(c->msg, c->len,
				       "pfn %lu may be pinned (refcount %d) but was unmapped "
				       "into the swap cache: %lu swap PTEs refer to slot %lu "
				       "(S7)",
				       pfn, ref, c->swaps[slot], slot);
	}
	return 0;
}

/* S6 and S7's sweep, the swap counts exact while no PT lock is held (a
 * swap count goes up before its PTE appears and down after it is gone). */
static int check_swap(struct sys_check *c, bool strict)
{
	struct cow_system *sys = c->sys;
	bool exact = strict || !c->any_locked;

	if (!sys->swap && c->nr_swap_ptes)
		return corrupt(c->msg, c->len, "%lu swap PTEs but no swap device (S6)",
			       c->nr_swap_ptes);
	if (sys->swap &&
	    (c->nr_swap_ptes || swap_device_nr_free(sys->swap) != swap_device_size(sys->swap)))
		return swap_check(sys->swap, exact ? c->swaps : NULL, strict, c->msg, c->len);
	return 0;
}

/* S5's first half: the zero pages hold zeroes. */
static int check_zero_bytes(const unsigned char *z, size_t size, const char *what, char *msg,
			    size_t len)
{
	static const unsigned char zeroes[PAGE_SIZE];

	for (size_t off = 0; off < size; off += PAGE_SIZE) {
		if (memcmp(z + off, zeroes, PAGE_SIZE) == 0)
			continue;
		for (size_t i = off;; i++)
			if (z[i]) {
				corrupt(msg, len, "the %s holds 0x%02x at offset %zu (S5)", what,
					z[i], i);
				return COW_EOVERWRITE;
			}
	}
	return 0;
}

static int check_zero_page(struct cow_system *sys, char *msg, size_t len)
{
	struct page *huge = READ_PRIVATE(sys->huge_zero_page);
	int err = 0;

	if (sys->zero_page)
		err = check_zero_bytes(page_address(sys->pool, sys->zero_page), PAGE_SIZE,
				       "zero page", msg, len);
	if (!err && huge)
		err = check_zero_bytes(page_address(sys->pool, huge), PMD_SIZE, "huge zero page",
				       msg, len);
	return err;
}

static void step_record_table(unsigned long pfn, enum pt_level level, unsigned long base,
			      void *arg);

/* Every mm's tables (P1..P4), counting their PTEs into c's sums and
 * applying S4 and S5 to their leaves; with c->st set, a copy of each PTE
 * table is kept. */
/* The step checker's record of the mms: mm is next, and the tables the
 * scan reaches from here on (step_record_table) are its. */
static int step_mm_add(struct step_state *st, const struct mm_struct *mm)
{
	if (st->nr_mms == st->max_mms) {
		int max = st->max_mms ? 2 * st->max_mms : 8;
		struct step_mm *more = realloc(st->mms, sizeof(*more) * (size_t)max);

		if (!more)
			return COW_ENOMEM;
		st->mms = more;
		st->max_mms = max;
	}
	st->cur_mm = st->nr_mms++;
	st->mms[st->cur_mm] = (struct step_mm){mm, mm->pgt.pgd_pfn, 0};
	return 0;
}

/* The mms with huge PMDs whose page_table_lock is held: a huge PMD's
 * counts may be moving then, as a PTE's are under its PT lock.  (In an
 * mm that never had one the lock guards upper entries alone, which move
 * no count.) */
static unsigned long pgt_locks_held(struct cow_system *sys)
{
	struct mm_struct *mm;
	unsigned long n = 0;

	list_for_each_entry(mm, &sys->mms, mmlist)
	{
		n += test_bit(MMF_HAS_THP, &mm->flags) && spin_is_locked(&mm->pgt.lock);
	}
	return n;
}

static int scan_tables(struct sys_check *c, bool strict)
{
	struct mm_struct *mm;

	c->locked_tables = pt_locks_held(c->sys->pool);
	c->pgt_locked = pgt_locks_held(c->sys);
	c->any_locked = c->locked_tables + c->pgt_locked != 0;
	if (c->st)
		c->st->nr_mms = 0;
	list_for_each_entry(mm, &c->sys->mms, mmlist)
	{
		int err;

		if (c->st && step_mm_add(c->st, mm) != 0)
			return no_memory(c->msg, c->len, "system_check_touched");
		c->cur_pgt = &mm->pgt;
		err = pgtable_check_leaves(&mm->pgt, strict ? PGTABLE_CHECK_QUIESCENT : 0,
					   check_pte_excl, c->st ? step_record_table : NULL, c,
					   c->msg, c->len);

		if (err) {
			if (err != COW_ECORRUPT)
				corrupt(c->msg, c->len, "mm %llu: page-table scan failed: %s",
					(unsigned long long)mm->id, cow_strerror(err));
			return COW_ECORRUPT;
		}
	}
	return c->err ? no_memory(c->msg, c->len, "system_check_touched") : 0;
}

/* Everything, once; with c->st set, what the step checker keeps is
 * rebuilt on the way (its arrays are c's). */
static int system_scan(struct sys_check *c, bool strict)
{
	struct cow_system *sys = c->sys;
	struct frame_pool *pool = sys->pool;
	int err;

	err = strict ? frames_check(pool, c->msg, c->len)
		     : frames_check_step(pool, c->st ? c->st->scratch : NULL, true, c->msg, c->len);
	if (!err)
		err = scan_tables(c, strict);
	for (unsigned long pfn = 0; pfn < pool->nr && !err; pfn++)
		err = check_frame(c, pfn, strict);
	if (!err)
		err = check_swap(c, strict);
	if (!err)
		err = check_zero_page(sys, c->msg, c->len);
	return err;
}

int system_check(struct cow_system *sys, bool strict, char *msg, size_t len)
{
	struct sys_check c = {.sys = sys, .msg = msg, .len = len};
	int err;

	c.maps = calloc(sys->pool->nr, sizeof(*c.maps));
	c.swaps = sys->swap ? calloc(swap_device_size(sys->swap), sizeof(*c.swaps)) : NULL;
	if (!c.maps || (sys->swap && !c.swaps))
		err = no_memory(msg, len, "system_check");
	else
		err = system_scan(&c, strict);
	free(c.maps);
	free(c.swaps);
	return err;
}

/* ---- the step checker -------------------------------------------------------
 *
 * The explorer checks the system at every state of a run where the
 * schedule branches: hundreds of times a run.  system_check() reads every
 * frame, table and list each time; system_check_touched() reads what the
 * steps since the previous check touched, which the scheduler logs (the
 * word of each step's shared access, struct sync_touch), and keeps from
 * one check to the next what a full scan would recompute: a copy of every
 * PTE table as it last saw it (and whether its PT lock was held), the
 * PTEs mapping each frame, the writable ones in unlocked tables, and the
 * swap PTEs of each slot.
 *
 * What a step may change, and how the checker learns of it:
 *   - a frame's struct page and its GUP count: atomic operations and
 *     lock operations on the page (PG_locked), each a logged access to
 *     the struct page (or ext_refs[pfn]); plain stores to a page's other
 *     fields happen under its lock, or before the page is published;
 *   - a PTE table: stores under its PT lock, logged as the lock's release
 *     (or as stores to the table's memory); the table is scanned again
 *     and compared with its copy, and every frame whose PTEs changed is
 *     checked;
 *   - the free list and the LRU lists: under the pool's locks (and its
 *     counters), logged as accesses to the pool; a CPU cache: under its
 *     own lock, logged as an access to that cache (the cache is read
 *     again against its copy of the last check; a frame a step touched
 *     that an unchanged cache holds is checked on its own);
 *   - the swap device: under its lock, logged as accesses to it;
 *   - the shape of the tables (an upper level, a table allocated or
 *     freed): any store to an upper table, any access to a table's struct
 *     page or to an mm's table root makes the next check scan every
 *     table again (step_retables) and check the frames whose PTE counts
 *     that moved;
 *   - the set of mms (under the system lock) and each mm's table count
 *     (under its pgt->lock): the list is compared with the one the last
 *     scan saw (a different list is a new shape), and the count with the
 *     tables that scan reached (P3); the swap device's creation makes
 *     the check a full scan;
 *   - the zero page's bytes: after any device step (it may write any
 *     frame, past the page tables), a DMA or swap step or any logged
 *     store into one of its chunks, and any store through a page set
 *     (io.c's copies raise sys->frames_stored).
 * Any other access (VMAs, rmap, KSM's trees, tasks) touches nothing the
 * invariants read.  When the log overflowed (one task ran alone for a
 * long stretch) the check is a full scan.
 *
 * A state the step checker passes is one the full scan passes, given the
 * premise above; `cowlab explore --checks both` runs both at every
 * branch and reports any disagreement; the test suite runs it over
 * every bundled scenario, and test_stepcheck damages the state under the
 * explorer for both to find.  Every run ends with the strict full check.
 */

#define BIT_SET(map, i) ((map)[(i) / FRAME_MAP_BITS] |= 1UL << ((i) % FRAME_MAP_BITS))
#define BIT_CLEAR(map, i) ((map)[(i) / FRAME_MAP_BITS] &= ~(1UL << ((i) % FRAME_MAP_BITS)))
#define BIT_TEST(map, i) (((map)[(i) / FRAME_MAP_BITS] >> ((i) % FRAME_MAP_BITS)) & 1)

void step_state_free(struct cow_system *sys)
{
	struct step_state *st = sys->step_state;

	if (!st)
		return;
	for (unsigned long pfn = 0; st->shadow && pfn < st->nr; pfn++)
		free(st->shadow[pfn]);
	free(st->shadow);
	free(st->base);
	free(st->maps);
	free(st->wmaps);
	free(st->swaps);
	free(st->maps2);
	free(st->wmaps2);
	free(st->swaps2);
	free(st->shadowed);
	free(st->was_locked);
	free(st->dirty);
	free(st->inexact);
	free(st->dirty_tables);
	free(st->scratch);
	free(st->free_seen);
	free(st->mms);
	free(st->cached);
	free(st->pcp_copy);
	free(st);
	sys->step_state = NULL;
}

void step_state_forget(struct cow_system *sys)
{
	if (sys->step_state)
		sys->step_state->valid = false;
}

static struct step_state *step_state_get(struct cow_system *sys)
{
	struct step_state *st = sys->step_state;
	unsigned long nr = sys->pool->nr, words = frame_map_words(sys->pool);

	if (st)
		return st;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	sys->step_state = st;
	st->nr = nr;
	st->shadow = calloc(nr, sizeof(*st->shadow));
	st->base = calloc(nr, sizeof(*st->base));
	st->maps = calloc(nr, sizeof(*st->maps));
	st->wmaps = calloc(nr, sizeof(*st->wmaps));
	st->maps2 = calloc(nr, sizeof(*st->maps2));
	st->wmaps2 = calloc(nr, sizeof(*st->wmaps2));
	st->shadowed = calloc(words, sizeof(unsigned long));
	st->was_locked = calloc(words, sizeof(unsigned long));
	st->dirty = calloc(words, sizeof(unsigned long));
	st->inexact = calloc(words, sizeof(unsigned long));
	st->dirty_tables = calloc(words, sizeof(unsigned long));
	st->scratch = calloc(words, sizeof(unsigned long));
	st->free_seen = calloc(words, sizeof(unsigned long));
	st->cached = calloc(words, sizeof(unsigned long));
	st->pcp_copy = calloc((size_t)sys->pool->cpus, sizeof(*st->pcp_copy));
	if (!st->cached || !st->pcp_copy || !st->shadow || !st->base || !st->maps || !st->wmaps ||
	    !st->maps2 || !st->wmaps2 || !st->shadowed || !st->was_locked || !st->dirty ||
	    !st->inexact || !st->dirty_tables || !st->scratch || !st->free_seen) {
		step_state_free(sys);
		return NULL;
	}
	return st;
}

/* The full scan's hook: keep a copy of every PTE table. */
static void step_record_table(unsigned long pfn, enum pt_level level, unsigned long base, void *arg)
{
	struct sys_check *c = arg;
	struct step_state *st = c->st;
	struct page *page = pfn_to_page(c->sys->pool, pfn);

	st->mms[st->cur_mm].tables++;
	if (level != PT_PTE)
		return;
	if (!st->shadow[pfn]) {
		st->shadow[pfn] = malloc(PAGE_SIZE);
		if (!st->shadow[pfn]) {
			c->err = COW_ENOMEM;
			return;
		}
	}
	memcpy(st->shadow[pfn], page_address(c->sys->pool, page), PAGE_SIZE);
	st->base[pfn] = base;
	BIT_SET(st->shadowed, pfn);
	if (spin_is_locked(&page->ptl)) {
		BIT_SET(st->was_locked, pfn);
		st->nr_locked++;
	}
}

/* Before a scan of the tables: no copies, no locks seen, and the sums
 * the scan counts into (c's, zeroed) are maps, wmaps and swaps. */
static void step_tables_reset(struct step_state *st, struct sys_check *c, unsigned long *maps,
			      unsigned long *wmaps, unsigned long *swaps)
{
	size_t words = frame_map_words(c->sys->pool);

	memset(maps, 0, st->nr * sizeof(*maps));
	memset(wmaps, 0, st->nr * sizeof(*wmaps));
	if (st->nslots)
		memset(swaps, 0, st->nslots * sizeof(*swaps));
	memset(st->shadowed, 0, words * sizeof(unsigned long));
	memset(st->was_locked, 0, words * sizeof(unsigned long));
	memset(st->dirty_tables, 0, words * sizeof(unsigned long));
	st->nr_locked = 0;
	c->maps = maps;
	c->wmaps = wmaps;
	c->swaps = swaps;
	c->nr_swap_ptes = 0;
}

/* Record the caches whose lock is free as they are now (after a full
 * scan has checked them). */
static void step_record_pcps(struct step_state *st, struct frame_pool *pool)
{
	memset(st->cached, 0, frame_map_words(pool) * sizeof(unsigned long));
	st->pcp_valid = st->pcp_dirty = 0;
	for (int c = 0; c < pool->cpus; c++) {
		struct pcp *pcp = &pool->pcp[c], *copy = &st->pcp_copy[c];

		if (spin_is_locked(&pcp->lock))
			continue;
		copy->count = READ_ONCE(pcp->count);
		for (unsigned int i = 0; i < copy->count && i < PCP_HIGH; i++) {
			copy->pfns[i] = READ_ONCE(pcp->pfns[i]);
			if (copy->pfns[i] < pool->nr)
				BIT_SET(st->cached, copy->pfns[i]);
		}
		st->pcp_valid |= 1ull << c;
	}
}

static int step_rebuild(struct cow_system *sys, struct step_state *st, char *msg, size_t len)
{
	struct sys_check c = {.sys = sys, .msg = msg, .len = len, .st = st};
	unsigned long words = frame_map_words(sys->pool);
	unsigned long nslots = sys->swap ? swap_device_size(sys->swap) : 0;
	int err;

	st->valid = false;
	if (nslots != st->nslots) {
		free(st->swaps);
		free(st->swaps2);
		st->swaps = nslots ? calloc(nslots, sizeof(*st->swaps)) : NULL;
		st->swaps2 = nslots ? calloc(nslots, sizeof(*st->swaps2)) : NULL;
		st->nslots = st->swaps && st->swaps2 ? nslots : 0;
		if (nslots && !st->nslots)
			return no_memory(msg, len, "system_check_touched");
	}
	step_tables_reset(st, &c, st->maps, st->wmaps, st->swaps);
	memset(st->dirty, 0, words * sizeof(unsigned long));
	sys->frames_stored = false; /* the scan reads the zero page */
	st->any_dirty = st->pool_dirty = st->swap_dirty = st->zero_dirty = st->reshaped = false;
	st->mms_dirty = st->p3_dirty = false;
	err = system_scan(&c, false);
	st->nr_swap_ptes = c.nr_swap_ptes;
	st->other_locked = c.locked_tables - st->nr_locked;
	st->pgt_locked = c.pgt_locked;
	/* The free list as the scan saw it (nothing, if it was locked: the
	 * next check then reads all of it). */
	memset(st->free_seen, 0, words * sizeof(unsigned long));
	st->nr_listed = 0;
	if (!err && !spin_is_locked(&sys->pool->lock)) {
		memcpy(st->free_seen, sys->pool->free_map, words * sizeof(unsigned long));
		st->nr_listed = READ_ONCE(sys->pool->nr_free_list);
	}
	step_record_pcps(st, sys->pool);
	/* With a PT lock held, S2 was checked as an inequality only. */
	memset(st->inexact, c.any_locked ? 0xff : 0, words * sizeof(unsigned long));
	st->valid = err == 0;
	return err;
}

static void step_dirty_frame(struct step_state *st, unsigned long pfn)
{
	BIT_SET(st->dirty, pfn);
	st->any_dirty = true;
}

/* What one logged access may have changed. */
static void step_touch(struct cow_system *sys, struct step_state *st, const struct sync_touch *t)
{
	struct frame_pool *pool = sys->pool;
	const void *obj = t->obj;
	struct mm_struct *mm;
	unsigned long pfn;

	switch (t->op) {
	case SYNC_READ:
	case SYNC_YIELD:
	case SYNC_RCU: /* a callback's own steps are logged */ return;
	case SYNC_DEVICE:
		st->zero_dirty = true; /* DMA writes frames past any table */
		return;
	default: break; /* a DMA or swap step: its chunk, below */
	}
	if (ptr_within(obj, pool->pages, pool->nr * sizeof(struct page))) {
		pfn = ((uintptr_t)obj - (uintptr_t)pool->pages) / sizeof(struct page);
		if (BIT_TEST(st->shadowed, pfn) && obj == &pool->pages[pfn].ptl)
			BIT_SET(st->dirty_tables, pfn);
		else if (BIT_TEST(st->shadowed, pfn) || PageFlag(&pool->pages[pfn], PG_table))
			st->reshaped = true; /* a table allocated, freed or locked unseen */
		else
			step_dirty_frame(st, pfn);
	} else if (ptr_within(obj, pool->mem, pool->nr * PAGE_SIZE)) {
		pfn = ((uintptr_t)obj - (uintptr_t)pool->mem) / PAGE_SIZE;
		if (BIT_TEST(st->shadowed, pfn))
			BIT_SET(st->dirty_tables, pfn);
		else if (PageFlag(&pool->pages[pfn], PG_table))
			st->reshaped = true; /* an upper level */
		else
			step_dirty_frame(st, pfn); /* a chunk of page contents (frame_chunk) */
		if (PageFlag(&pool->pages[pfn], PG_zero))
			st->zero_dirty = true;
	} else if (ptr_within(obj, sys->ext_refs, pool->nr * sizeof(*sys->ext_refs))) {
		step_dirty_frame(st,
				 ((uintptr_t)obj - (uintptr_t)sys->ext_refs) / sizeof(atomic_t));
	} else if (ptr_within(obj, pool->pcp, (size_t)pool->cpus * sizeof(*pool->pcp))) {
		st->pcp_dirty |= 1ull
				 << (((uintptr_t)obj - (uintptr_t)pool->pcp) / sizeof(struct pcp));
	} else if (ptr_within(obj, pool, sizeof(*pool)) ||
		   ptr_within(obj, pool->lru, (size_t)pool->cpus * sizeof(*pool->lru)) ||
		   ptr_within(obj, pool->free_map, frame_map_words(pool) * sizeof(unsigned long))) {
		st->pool_dirty = true;
	} else if (sys->swap && swap_device_owns(sys->swap, obj)) {
		st->swap_dirty = true;
	} else if (obj == &sys->lock) {
		st->mms_dirty = true; /* the list of mms (a new swap device: a rebuild) */
	} else {
		list_for_each_entry(mm, &sys->mms, mmlist)
		{
			/* mm->flags: MMF_HAS_THP, set with the PMD lock held,
			 * makes that lock one the counts in flight hide
			 * behind (pgt_locks_held()). */
			if (obj == &mm->pgt.lock || obj == &mm->pgt.nr_tables || obj == &mm->flags)
				st->p3_dirty = true;
			else if (ptr_within(obj, &mm->pgt, sizeof(mm->pgt)))
				st->reshaped = true;
		}
	}
}

/* The system lock or an mm's table lock and count were used, and nothing
 * changed the tables' shape: if the mms are not those of the last scan,
 * they must all be scanned again; else P3 for each mm whose lock is free,
 * against the tables that scan reached. */
static int step_mms(struct sys_check *c)
{
	struct step_state *st = c->st;
	struct mm_struct *mm;
	unsigned long held;
	int i = 0;

	st->mms_dirty = st->p3_dirty = false;
	held = pgt_locks_held(c->sys);
	if (held != st->pgt_locked) {
		/* A PMD lock was taken or let go: count the maps again, so
		 * that S4 leaves out a huge PMD whose lock is held (fork
		 * clears its folio's exclusive bits before it write-protects
		 * it) and checks it once the change is over. */
		st->reshaped = true;
		return 0;
	}
	st->pgt_locked = held;
	list_for_each_entry(mm, &c->sys->mms, mmlist)
	{
		if (i == st->nr_mms || st->mms[i].mm != mm ||
		    st->mms[i].pgd_pfn != mm->pgt.pgd_pfn) {
			st->reshaped = true;
			return 0;
		}
		i++;
	}
	if (i != st->nr_mms) {
		st->reshaped = true;
		return 0;
	}
	for (i = 0; i < st->nr_mms; i++) {
		const struct pgtable *pgt = &st->mms[i].mm->pgt;
		long nr = atomic_long_read(&pgt->nr_tables);

		if (!spin_is_locked(&pgt->lock) && nr != st->mms[i].tables)
			return corrupt(c->msg, c->len,
				       "page tables: %ld tables are reachable but nr_tables is "
				       "%ld (P3)",
				       st->mms[i].tables, nr);
	}
	return 0;
}

/* Count pte (in a table locked or not) into the sums, or out of them
 * (by -1); the frames it maps are to be checked again. */
static void step_count(struct cow_system *sys, struct step_state *st, pte_t pte, bool locked,
		       long by)
{
	if (pte_none(pte))
		return;
	if (is_migration_pte(pte)) {
		/* No mapping and no slot; its page's counts changed. */
		if (pfn_valid(sys->pool, swp_offset(pte_to_swp_entry(pte))))
			step_dirty_frame(st, swp_offset(pte_to_swp_entry(pte)));
		return;
	}
	if (!pte_present(pte)) {
		unsigned long slot = swp_offset(pte_to_swp_entry(pte));

		if (slot < st->nslots)
			st->swaps[slot] += (unsigned long)by;
		st->nr_swap_ptes += (unsigned long)by;
		st->swap_dirty = true;
		return;
	}
	if (pte_special(pte) || !pfn_valid(sys->pool, pte_pfn(pte)))
		return;
	st->maps[pte_pfn(pte)] += (unsigned long)by;
	if (!locked && pte_write(pte) && pfn_to_page(sys->pool, pte_pfn(pte)) != sys->zero_page)
		st->wmaps[pte_pfn(pte)] += (unsigned long)by;
	step_dirty_frame(st, pte_pfn(pte));
}

/* Scan a PTE table again: the entries that differ from its copy (all of
 * them when its lock was taken or released) move the sums, and are
 * checked as the full scan checks a leaf. */
static int step_rescan(struct sys_check *c, unsigned long tpfn)
{
	struct cow_system *sys = c->sys;
	struct step_state *st = c->st;
	struct page *page = pfn_to_page(sys->pool, tpfn);
	unsigned long flags = READ_ONCE(page->flags);
	bool locked, was = BIT_TEST(st->was_locked, tpfn);
	pte_t *table = page_address(sys->pool, page), *copy = st->shadow[tpfn];
	struct pgtable_check_ctx pc = {.pool = sys->pool, .msg = c->msg, .len = c->len};
	int err = 0;

	if (!(flags & BIT_MASK(PG_table)) || (flags & BIT_MASK(PG_free))) {
		st->reshaped = true;
		return 0;
	}
	locked = spin_is_locked(&page->ptl);
	for (unsigned long i = 0; i < PTRS_PER_TABLE && !err; i++) {
		pte_t e;

		/* Mostly one entry of 512 changed, and most are empty: skip
		 * blocks of 64 that are equal to their copy (or, when the
		 * lock changed hands, empty in both); plain loads, as
		 * check_table's. */
		if (i % 64 == 0 &&
		    (locked == was ? table_block_same(table + i, copy + i)
				   : table_block_empty(table + i) && table_block_empty(copy + i))) {
			i += 63;
			continue;
		}
		e = READ_PRIVATE(table[i]);
		if (e == copy[i] && locked == was)
			continue;
		step_count(sys, st, copy[i], was, -1);
		copy[i] = e;
		if (pte_none(e))
			continue;
		err = check_leaf(&pc, st->base[tpfn] + i * PAGE_SIZE, e);
		if (!err && pte_present(e) && !locked)
			err = check_pte_rules(c, st->base[tpfn] + i * PAGE_SIZE, e);
		if (!err)
			step_count(sys, st, e, locked, 1);
	}
	if (locked != was) {
		if (locked) {
			BIT_SET(st->was_locked, tpfn);
			st->nr_locked++;
		} else {
			BIT_CLEAR(st->was_locked, tpfn);
			st->nr_locked--;
		}
	}
	return err;
}

/* The tables' shape changed (a table allocated, linked or freed, an mm
 * come or gone): scan every table again, as the full check does, into
 * fresh sums and fresh copies; the frames and slots whose sums moved are
 * checked after, with the frames the steps touched. */
static int step_retables(struct sys_check *c)
{
	struct step_state *st = c->st;
	unsigned long *t;
	int err;

	step_tables_reset(st, c, st->maps2, st->wmaps2, st->swaps2);
	err = scan_tables(c, false);
	if (err)
		return err;
	for (unsigned long pfn = 0; pfn < st->nr; pfn++)
		if (st->maps2[pfn] != st->maps[pfn] || st->wmaps2[pfn] != st->wmaps[pfn])
			step_dirty_frame(st, pfn);
	st->swap_dirty |=
		c->nr_swap_ptes != st->nr_swap_ptes ||
		(st->nslots && memcmp(st->swaps, st->swaps2, st->nslots * sizeof(*st->swaps)) != 0);
	t = st->maps, st->maps = st->maps2, st->maps2 = t;
	t = st->wmaps, st->wmaps = st->wmaps2, st->wmaps2 = t;
	t = st->swaps, st->swaps = st->swaps2, st->swaps2 = t;
	st->nr_swap_ptes = c->nr_swap_ptes;
	st->other_locked = c->locked_tables - st->nr_locked;
	st->pgt_locked = c->pgt_locked;
	st->reshaped = st->mms_dirty = st->p3_dirty = false;
	return 0;
}

/* The frame-side halves of P4 and S4 for a frame whose state or PTEs
 * changed: no PTE maps a free frame or a table, and no writable PTE in an
 * unlocked table maps a shared anonymous page. */
static int step_check_frame(struct sys_check *c, unsigned long pfn)
{
	struct cow_system *sys = c->sys;
	struct step_state *st = c->st;
	struct page *page = &sys->pool->pages[pfn];
	unsigned long flags = READ_ONCE(page->flags);

	if (st->maps[pfn] &&
	    ((flags & (BIT_MASK(PG_free) | BIT_MASK(PG_table))) || page_ref_count(page) <= 0))
		return corrupt(
			c->msg, c->len, "%lu PTEs map pfn %lu, which is %s (refcount %d) (P4)",
			st->maps[pfn], pfn, (flags & BIT_MASK(PG_table)) ? "a page table" : "free",
			page_ref_count(page));
	if (sys->policy->anon_exclusive && st->wmaps[pfn] && (flags & BIT_MASK(PG_anon)) &&
	    !(flags & BIT_MASK(PG_anon_exclusive)))
		return corrupt(c->msg, c->len,
			       "%lu writable PTEs map pfn %lu, which is not exclusive "
			       "(mapcount %d, refcount %d) (S4)",
			       st->wmaps[pfn], pfn, page_mapcount(page), page_ref_count(page));
	return check_frame(c, pfn, false);
}

/* A frame a CPU cache holds: PG_free with no counts (F1); cpu, for the
 * message. */
static int step_cached_frame(struct frame_pool *pool, unsigned long pfn, int cpu, char *msg,
			     size_t len)
{
	if (!PageFlag(&pool->pages[pfn], PG_free))
		return corrupt(msg, len, "cpu %d's cache holds pfn %lu, which is not PG_free (F1)",
			       cpu, pfn);
	if (atomic_read(&pool->pages[pfn]._refcount) || atomic_read(&pool->pages[pfn]._mapcount))
		return corrupt(msg, len, "cpu %d's cache holds pfn %lu with counts (F1)", cpu, pfn);
	return 0;
}

/* frames_check_step's free-list part, reading only what changed since
 * the last check: the caches whose lock was used, the free list's bitmap
 * words that changed (and the frames a step touched that it holds: they
 * must still be PG_free), and the frames a step touched that an unchanged
 * cache holds.  No frame may be on the free list and in a cache, or in
 * two caches, or twice in one (F1): a changed cache is read against the
 * others and the free list, a frame new on the free list against the
 * caches.  As in the full check, a cache whose lock is held is not read,
 * nor the free list while the pool's lock is. */
static int step_free_lists(struct step_state *st, struct frame_pool *pool, char *msg, size_t len)
{
	unsigned long words = frame_map_words(pool);
	bool locked = spin_is_locked(&pool->lock);
	int err = 0;

	/* The changed caches leave the record. */
	for (uint64_t dirty = st->pcp_dirty & st->pcp_valid; dirty; dirty &= dirty - 1) {
		const struct pcp *copy = &st->pcp_copy[__builtin_ctzll(dirty)];

		for (unsigned int i = 0; i < copy->count && i < PCP_HIGH; i++)
			if (copy->pfns[i] < pool->nr)
				BIT_CLEAR(st->cached, copy->pfns[i]);
	}
	st->pcp_valid &= ~st->pcp_dirty;
	for (unsigned long w = 0; w < words && !locked; w++) {
		unsigned long now = READ_ONCE(pool->free_map[w]), was = st->free_seen[w];

		for (unsigned long bits = now & (~was | st->dirty[w]); bits; bits &= bits - 1) {
			unsigned long pfn =
				w * FRAME_MAP_BITS + (unsigned long)__builtin_ctzl(bits);

			if (pfn >= pool->nr || !PageFlag(&pool->pages[pfn], PG_free)) {
				memset(st->scratch, 0, words * sizeof(unsigned long));
				return check_listed(pool, st->scratch, pfn, -1, msg, len);
			}
			if ((now & ~was) >> (pfn % FRAME_MAP_BITS) & 1 && BIT_TEST(st->cached, pfn))
				return corrupt(
					msg, len,
					"the free list: pfn %lu is on the free list or a cache "
					"twice (F1)",
					pfn);
		}
		st->nr_listed += (unsigned long)__builtin_popcountl(now);
		st->nr_listed -= (unsigned long)__builtin_popcountl(was);
		st->free_seen[w] = now;
	}
	if (!locked && st->nr_listed != READ_ONCE(pool->nr_free_list))
		return corrupt(msg, len,
			       "frame pool: the free list has %lu frames but nr_free_list is %lu",
			       st->nr_listed, READ_ONCE(pool->nr_free_list));
	/* The changed caches whose lock is free, against the rest. */
	for (unsigned long w = 0; w < words; w++)
		st->scratch[w] = st->cached[w] | (locked ? 0 : st->free_seen[w]);
	for (uint64_t dirty = st->pcp_dirty; dirty && !err; dirty &= dirty - 1) {
		int c = __builtin_ctzll(dirty);
		struct pcp *pcp = &pool->pcp[c], *copy = &st->pcp_copy[c];

		if (c >= pool->cpus || spin_is_locked(&pcp->lock))
			continue;
		copy->count = READ_ONCE(pcp->count);
		for (unsigned int i = 0; i < copy->count && i < PCP_HIGH && !err; i++) {
			unsigned long pfn = copy->pfns[i] = READ_ONCE(pcp->pfns[i]);

			err = check_listed(pool, st->scratch, pfn, c, msg, len);
			if (!err)
				err = step_cached_frame(pool, pfn, c, msg, len);
			if (!err)
				BIT_SET(st->cached, pfn);
		}
		st->pcp_valid |= 1ull << c;
	}
	st->pcp_dirty = 0;
	/* The touched frames the unchanged caches hold. */
	for (int c = 0; c < pool->cpus && !err && st->any_dirty; c++) {
		const struct pcp *copy = &st->pcp_copy[c];

		for (unsigned int i = 0; (st->pcp_valid >> c & 1) && i < copy->count && !err; i++)
			if (copy->pfns[i] < pool->nr && BIT_TEST(st->dirty, copy->pfns[i]))
				err = step_cached_frame(pool, copy->pfns[i], c, msg, len);
	}
	return err;
}

/* Does a dirty frame ask for the free list and the caches to be read? */
static bool step_frame_listed(const struct step_state *st, struct frame_pool *pool,
			      unsigned long pfn)
{
	return PageFlag(&pool->pages[pfn], PG_free) || BIT_TEST(st->cached, pfn) ||
	       ((READ_ONCE(pool->free_map[pfn / FRAME_MAP_BITS]) >> (pfn % FRAME_MAP_BITS)) & 1);
}

int system_check_touched(struct cow_system *sys, const struct sync_touch *touched, size_t n,
			 char *msg, size_t len)
{
	struct step_state *st = step_state_get(sys);
	struct sys_check c = {.sys = sys, .msg = msg, .len = len, .st = st};
	struct frame_pool *pool = sys->pool;
	unsigned long words = frame_map_words(pool);
	bool listed = false;
	int err = 0;

	if (!st)
		return no_memory(msg, len, "system_check_touched");
	if (!touched || !st->valid || (sys->swap ? swap_device_size(sys->swap) : 0) != st->nslots)
		return step_rebuild(sys, st, msg, len);
	for (size_t i = 0; i < n; i++)
		step_touch(sys, st, &touched[i]);
	/* Stores through a page set (a forced write, a pinned buffer) make
	 * no logged access of their own. */
	st->zero_dirty |= sys->frames_stored;
	sys->frames_stored = false;
	c.maps = st->maps;
	c.wmaps = st->wmaps;
	c.swaps = st->swaps;
	for (unsigned long w = 0; w < words && !err && !st->reshaped; w++)
		for (unsigned long bits = st->dirty_tables[w]; bits && !err; bits &= bits - 1)
			err = step_rescan(&c,
					  w * FRAME_MAP_BITS + (unsigned long)__builtin_ctzl(bits));
	if (!err && !st->reshaped && (st->mms_dirty || st->p3_dirty))
		err = step_mms(&c);
	if (!err && st->reshaped)
		err = step_retables(&c);
	c.maps = st->maps;
	c.wmaps = st->wmaps;
	c.swaps = st->swaps;
	c.any_locked = st->nr_locked + st->other_locked + st->pgt_locked != 0;
	/* A tail's counts (its mapcount, GUP's references to it) enter its
	 * folio's S3, checked at the head. */
	for (unsigned long w = 0; st->any_dirty && w < words; w++)
		for (unsigned long bits = st->dirty[w]; bits; bits &= bits - 1) {
			unsigned long pfn =
				w * FRAME_MAP_BITS + (unsigned long)__builtin_ctzl(bits);

			if (pfn < pool->nr && PageFlag(&pool->pages[pfn], PG_tail))
				BIT_SET(st->dirty,
					page_to_pfn(pool, compound_head(&pool->pages[pfn])));
		}
	for (unsigned long w = 0; w < words; w++) {
		/* No PT lock held: the counts are exact again (S2), also for
		 * the frames last checked while one was. */
		if (!c.any_locked) {
			st->dirty[w] |= st->inexact[w];
			st->any_dirty |= st->inexact[w] != 0;
			st->inexact[w] = 0;
		} else {
			st->inexact[w] |= st->dirty[w];
		}
	}
	for (unsigned long w = 0; st->any_dirty && w < words && !listed; w++)
		for (unsigned long bits = st->dirty[w]; bits && !listed; bits &= bits - 1) {
			unsigned long pfn =
				w * FRAME_MAP_BITS + (unsigned long)__builtin_ctzl(bits);

			listed = pfn < pool->nr && step_frame_listed(st, pool, pfn);
		}
	if (!err && (st->pool_dirty || st->any_dirty))
		err = frames_check_step(pool, st->scratch, false, msg, len);
	if (!err && (st->pool_dirty || st->pcp_dirty || listed))
		err = step_free_lists(st, pool, msg, len);
	for (unsigned long w = 0; st->any_dirty && w < words && !err; w++)
		for (unsigned long bits = st->dirty[w]; bits && !err; bits &= bits - 1) {
			unsigned long pfn =
				w * FRAME_MAP_BITS + (unsigned long)__builtin_ctzl(bits);

			if (pfn < pool->nr)
				err = step_check_frame(&c, pfn);
		}
	if (!err && st->swap_dirty) {
		c.nr_swap_ptes = st->nr_swap_ptes;
		err = check_swap(&c, false);
		/* S7 needs each swap-cache page's slot count: every frame. */
		for (unsigned long pfn = 0; pfn < pool->nr && !err; pfn++)
			if (PageFlag(&pool->pages[pfn], PG_swapcache))
				err = check_frame(&c, pfn, false);
	}
	if (!err && st->zero_dirty)
		err = check_zero_page(sys, msg, len);
	memset(st->dirty, 0, words * sizeof(unsigned long));
	memset(st->dirty_tables, 0, words * sizeof(unsigned long));
	st->any_dirty = st->pool_dirty = st->swap_dirty = st->zero_dirty = false;
	st->valid = err == 0;
	return err;
}
