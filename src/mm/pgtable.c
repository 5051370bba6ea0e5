/*
 * Page tables (see pgtable.h for the encoding, the locks and the
 * invariants P1..P5).  Above the frame pool, below the address-space layer:
 * faults, fork, GUP, reclaim and KSM find and change PTEs through the
 * functions here, and gup-fast walks the tree with no lock at all.
 *
 * Why tables are freed through RCU.  gup-fast reads the PGD, PUD and PMD
 * entries and then the PTE with nothing but rcu_read_lock() held.  Between
 * two of those reads munmap may unlink the table the walker is about to
 * read.  If the frame went straight back to the pool it could be reused --
 * as another process's page table or as user data -- and the walker would
 * read a PTE out of garbage and pin whatever page that names.  So
 * free_pgd_range() clears the upper entry (a walker sees the old table or
 * none), and the frame is put back only after a grace period, when no
 * walker that could have seen the old entry is left.  Linux does the same
 * with tlb_remove_table() under CONFIG_MMU_GATHER_RCU_TABLE_FREE; x86 got
 * away without it for years only because its TLB-flush IPIs, which
 * gup-fast blocks by disabling interrupts, acted as the grace period.
 *
 * Why upper entries are read with an acquire load.  pgtable_populate()
 * zeroes the new table, then publishes it with a release store;
 * a walker must see the zeroes, not the frame's previous contents.  Linux
 * relies on the address dependency from the entry to the table; C11
 * compilers do not honour dependency ordering, so pxd_get() asks for
 * acquire, which is free on x86 and one cheap barrier on arm64.
 */
#include "pgtable.h"

bool pgtable_test_free_immediately;

/* ---- table frames ---------------------------------------------------------- */

static pte_t *table_of_page(const struct pgtable *pgt, struct page *page)
{
	return page_address(pgt->pool, page);
}

static struct page *entry_page(const struct pgtable *pgt, pte_t entry)
{
	return pfn_to_page(pgt->pool, pte_pfn(entry));
}

static pte_t *entry_table(const struct pgtable *pgt, pte_t entry)
{
	return table_of_page(pgt, entry_page(pgt, entry));
}

static pte_t *pgd_table(const struct pgtable *pgt)
{
	return table_of_page(pgt, pfn_to_page(pgt->pool, pgt->pgd_pfn));
}

/* Read an upper-level entry; the acquire pairs with the release store in
 * pgtable_populate() (see the top of the file). */
static pte_t pxd_get(pte_t *entry)
{
	return smp_load_acquire(entry);
}

/* A zeroed frame becomes a table.  The private word, unused by table
 * pages otherwise, remembers the pool for the RCU callback, which gets
 * nothing but the struct page. */
static struct page *table_alloc(struct pgtable *pgt)
{
	struct frame_pool *pool = pgt->pool;
	struct page *page;

	if (FAULT_HIT(FI_PGTABLE_ALLOC))
		return NULL;
	page = pgt->alloc ? pgt->alloc(pgt->alloc_ctx) : alloc_page(pool, GFP_ZERO);
	if (!page)
		return NULL;
	page->private = (unsigned long)pool;
	spin_lock_init_rank(&page->ptl, RANK_PTL);
	SetPageFlag(page, PG_table);
	return page;
}

static void table_free_now(struct page *page)
{
	struct frame_pool *pool = (struct frame_pool *)page->private;

	ClearPageFlag(page, PG_table);
	page->private = 0;
	put_page(pool, page);
}

static void table_free_rcu(struct rcu_head *head)
{
	table_free_now(container_of(head, struct page, rcu));
}

/* Free a table that is no longer reachable from the tree. */
static void table_free_deferred(struct page *page)
{
	/* Plain read: the hook changes only while no thread walks (see
	 * pgtable.h). */
	if (unlikely(pgtable_test_free_immediately))
		table_free_now(page);
	else
		call_rcu(&page->rcu, table_free_rcu);
}

/* ---- set-up and teardown --------------------------------------------------- */

int pgtable_init(struct pgtable *pgt, struct frame_pool *pool)
{
	struct page *pgd;

	pgt->pool = pool;
	spin_lock_init_rank(&pgt->lock, RANK_PAGE_TABLE);
	atomic_long_set(&pgt->nr_tables, 0);
	pgt->pgd_pfn = PFN_NONE;
	pgt->alloc = NULL;
	pgt->alloc_ctx = NULL;
	pgt->deposit = PFN_NONE;
	pgt->nr_deposit = 0;
	pgd = table_alloc(pgt);
	if (!pgd)
		return COW_ENOMEM;
	pgt->pgd_pfn = page_to_pfn(pool, pgd);
	atomic_long_set(&pgt->nr_tables, 1);
	return 0;
}

void pgtable_set_allocator(struct pgtable *pgt, struct page *(*alloc)(void *ctx), void *ctx)
{
	pgt->alloc = alloc;
	pgt->alloc_ctx = ctx;
}

/* Free the table in page and every table below it; returns how many.
 * The tree is private to the caller now (pgtable_destroy's contract), so
 * entries are read without yield points. */
static long destroy_table(struct pgtable *pgt, struct page *page, enum pt_level level)
{
	pte_t *table = table_of_page(pgt, page);
	long n = 1;

	for (unsigned int i = table_next_used(table, 0); i < PTRS_PER_TABLE;
	     i = table_next_used(table, i + 1)) {
		pte_t e = READ_PRIVATE(table[i]);

		COW_CHECK(level > PT_PTE && !(level == PT_PMD && pmd_trans_huge(e)),
			  "pgtable_destroy: a %s is still set (0x%llx); zap it first",
			  level == PT_PTE ? "PTE" : "huge PMD", (unsigned long long)e);
		n += destroy_table(pgt, entry_page(pgt, e), level - 1);
	}
	table_free_now(page);
	return n;
}

void pgtable_destroy(struct pgtable *pgt)
{
	long freed;

	if (pgt->pgd_pfn == PFN_NONE)
		return; /* pgtable_init() failed or already destroyed */
	COW_CHECK(pgt->nr_deposit == 0, "pgtable_destroy: %ld tables still deposited for huge PMDs",
		  pgt->nr_deposit);
	freed = destroy_table(pgt, pfn_to_page(pgt->pool, pgt->pgd_pfn), PT_PGD);
	COW_CHECK(freed == atomic_long_read(&pgt->nr_tables),
		  "pgtable_destroy: freed %ld tables but nr_tables was %ld", freed,
		  atomic_long_read(&pgt->nr_tables));
	atomic_long_set(&pgt->nr_tables, 0);
	pgt->pgd_pfn = PFN_NONE;
}

/* ---- finding and populating ------------------------------------------------ */

/* Make *entry point at a new, empty table unless a racing thread did
 * first.  The frame is allocated before taking pgt->lock, which stays a
 * leaf lock; the loser of a race gives its frame straight back, since no
 * walker can have seen it. */
static int pgtable_populate(struct pgtable *pgt, pte_t *entry)
{
	struct page *page = table_alloc(pgt);

	if (!page)
		return COW_ENOMEM;
	spin_lock(&pgt->lock);
	if (pte_none(pxd_get(entry))) {
		atomic_long_inc(&pgt->nr_tables);
		/* The zeroed table, its flags and its PT lock before the
		 * entry that publishes it; pairs with the acquire in
		 * pxd_get().  A release store rather than smp_wmb() and a
		 * plain one: the same instructions on x86, and the pairing
		 * is on the entry itself, which ThreadSanitizer can see. */
		smp_store_release(entry, mk_table_entry(page_to_pfn(pgt->pool, page)));
		page = NULL;
	}
	spin_unlock(&pgt->lock);
	if (page)
		table_free_now(page);
	return 0;
}

/* The entry for addr in the table at level `to` (PT_PMD: the PMD table's
 * entry; PT_PTE: ... never asked), walking down from the PGD; NULL if a
 * level is missing (and alloc is false) or a table could not be
 * allocated (alloc is true). */
static pte_t *find_entry(struct pgtable *pgt, unsigned long addr, enum pt_level to, bool alloc)
{
	pte_t *table = pgd_table(pgt);

	for (int level = PT_PGD; level > (int)to; level--) {
		pte_t *entry = &table[pt_index(addr, level)];
		pte_t e = pxd_get(entry);

		if (pte_none(e)) {
			if (!alloc || pgtable_populate(pgt, entry) != 0)
				return NULL;
			e = pxd_get(entry);
		}
		COW_ASSERT(!table_entry_bad(e));
		table = entry_table(pgt, e);
	}
	return &table[pt_index(addr, to)];
}

/* The struct page of addr's PTE table, or NULL if a level is missing (and
 * alloc is false), a table could not be allocated (alloc is true), or
 * the PMD is a huge leaf. */
static struct page *find_pte_table(struct pgtable *pgt, unsigned long addr, bool alloc)
{
	pte_t *pmdp = find_entry(pgt, addr, PT_PMD, alloc), e;

	if (!pmdp)
		return NULL;
	e = pxd_get(pmdp);
	if (pte_none(e)) {
		if (!alloc || pgtable_populate(pgt, pmdp) != 0)
			return NULL;
		e = pxd_get(pmdp);
	}
	if (pmd_trans_huge(e))
		return NULL;
	COW_ASSERT(!table_entry_bad(e));
	return entry_page(pgt, e);
}

static pte_t *lock_pte(struct pgtable *pgt, struct page *ptable, unsigned long addr,
		       spinlock_t **ptlp, bool nested)
{
	spinlock_t *ptl = &ptable->ptl;

	if (nested)
		spin_lock_nested(ptl);
	else
		spin_lock(ptl);
	*ptlp = ptl;
	return &table_of_page(pgt, ptable)[pte_index(addr)];
}

pte_t *pte_alloc_map_lock(struct pgtable *pgt, unsigned long addr, spinlock_t **ptlp)
{
	struct page *ptable;

	COW_CHECK(addr < VA_END, "pte_alloc_map_lock: address 0x%lx beyond %d bits", addr, VA_BITS);
	ptable = find_pte_table(pgt, addr, true);
	if (!ptable)
		return NULL;
	return lock_pte(pgt, ptable, addr, ptlp, false);
}

static pte_t *offset_map_lock(struct pgtable *pgt, unsigned long addr, spinlock_t **ptlp,
			      bool nested)
{
	struct page *ptable;

	if (addr >= VA_END)
		return NULL;
	ptable = find_pte_table(pgt, addr, false);
	if (!ptable)
		return NULL;
	return lock_pte(pgt, ptable, addr, ptlp, nested);
}

pte_t *pte_offset_map_lock(struct pgtable *pgt, unsigned long addr, spinlock_t **ptlp)
{
	return offset_map_lock(pgt, addr, ptlp, false);
}

pte_t *pte_offset_map_lock_nested(struct pgtable *pgt, unsigned long addr, spinlock_t **ptlp)
{
	return offset_map_lock(pgt, addr, ptlp, true);
}

void pte_unmap_unlock(pte_t *ptep, spinlock_t *ptl)
{
	(void)ptep;
	spin_unlock(ptl);
}

spinlock_t *pte_lockptr(struct pgtable *pgt, pte_t *ptep)
{
	struct page *page = virt_to_page(pgt->pool, ptep);

	COW_CHECK(page != NULL, "pte_lockptr: %p is not in a page table", (void *)ptep);
	return &page->ptl;
}

/* ---- huge PMDs --------------------------------------------------------------- */

pte_t *pmd_lock_entry(struct pgtable *pgt, unsigned long addr, bool alloc, bool nested,
		      spinlock_t **ptlp)
{
	pte_t *pmdp;

	COW_CHECK(addr < VA_END, "pmd_lock_entry: address 0x%lx beyond %d bits", addr, VA_BITS);
	pmdp = find_entry(pgt, addr, PT_PMD, alloc);
	if (!pmdp)
		return NULL;
	if (nested)
		spin_lock_nested(&pgt->lock);
	else
		spin_lock(&pgt->lock);
	*ptlp = &pgt->lock;
	return pmdp;
}

pte_t pmd_peek(struct pgtable *pgt, unsigned long addr)
{
	pte_t *pmdp = addr < VA_END ? find_entry(pgt, addr, PT_PMD, false) : NULL;

	return pmdp ? pxd_get(pmdp) : 0;
}

struct page *pte_table_alloc(struct pgtable *pgt)
{
	return table_alloc(pgt);
}

void pte_table_free(struct page *table)
{
	table_free_now(table);
}

void pgtable_deposit(struct pgtable *pgt, struct page *table)
{
	table->lru.next = pgt->deposit;
	pgt->deposit = (uint32_t)page_to_pfn(pgt->pool, table);
	pgt->nr_deposit++;
}

struct page *pgtable_withdraw(struct pgtable *pgt)
{
	struct page *table;

	COW_CHECK(pgt->deposit != PFN_NONE, "pgtable_withdraw: no table deposited");
	table = pfn_to_page(pgt->pool, pgt->deposit);
	pgt->deposit = table->lru.next;
	table->lru.next = PFN_NONE;
	pgt->nr_deposit--;
	return table;
}

pte_t *pte_table_entries(struct pgtable *pgt, struct page *table)
{
	return table_of_page(pgt, table);
}

void pmd_populate_locked(struct pgtable *pgt, pte_t *pmdp, struct page *table)
{
	atomic_long_inc(&pgt->nr_tables);
	/* The filled table before the entry that publishes it (as
	 * pgtable_populate). */
	smp_store_release(pmdp, mk_table_entry(page_to_pfn(pgt->pool, table)));
}

struct page *pmd_unlink_table_locked(struct pgtable *pgt, pte_t *pmdp)
{
	pte_t e = pxd_get(pmdp);

	if (pte_none(e) || pmd_trans_huge(e))
		return NULL;
	COW_ASSERT(!table_entry_bad(e));
	ptep_get_and_clear(pmdp);
	atomic_long_dec(&pgt->nr_tables);
	return entry_page(pgt, e);
}

pte_t *pgtable_walk_lockless(struct pgtable *pgt, unsigned long addr, pte_t *out)
{
	pte_t *table, *ptep;

	if (addr >= VA_END)
		return NULL;
	table = pgd_table(pgt);
	for (int level = PT_PGD; level > PT_PTE; level--) {
		pte_t e = pxd_get(&table[pt_index(addr, level)]);

		/* An entry cleared under us reads as 0: stop.  One that is
		 * cleared after this read still points at a table that
		 * stays one until our rcu_read_unlock() (P5). */
		if (!pte_present(e))
			return NULL;
		if (level == PT_PMD && pmd_trans_huge(e)) {
			*out = e;
			return &table[pt_index(addr, level)];
		}
		table = entry_table(pgt, e);
	}
	ptep = &table[pte_index(addr)];
	/* Acquire, as for the upper levels: the caller reads the frame the
	 * PTE maps, which must show what was written before set_pte(). */
	*out = smp_load_acquire(ptep);
	return ptep;
}

/* ---- walking and freeing a range ------------------------------------------- */

/* The end of the entry at this level that holds addr, or end if sooner
 * (Linux's pmd_addr_end() and friends).  Addresses stay below VA_END, so
 * nothing overflows. */
static unsigned long entry_end(unsigned long addr, unsigned long end, enum pt_level level)
{
	unsigned long boundary = (addr | (pt_level_size(level) - 1)) + 1;

	return boundary < end ? boundary : end;
}

static int walk_range_level(struct pgtable *pgt, pte_t *table, enum pt_level level,
			    unsigned long start, unsigned long end,
			    int (*fn)(unsigned long, pte_t *, void *), void *arg)
{
	unsigned long addr, next;
	int ret;

	for (addr = start; addr < end; addr = next) {
		pte_t *entry = &table[pt_index(addr, level)];

		next = entry_end(addr, end, level);
		if (level == PT_PTE) {
			if (pte_none(ptep_get(entry)))
				continue;
			ret = fn(addr & PAGE_MASK, entry, arg);
		} else {
			pte_t e = pxd_get(entry);

			if (pte_none(e))
				continue;
			if (level == PT_PMD && pmd_trans_huge(e))
				ret = fn(addr & PMD_MASK, entry, arg);
			else
				ret = walk_range_level(pgt, entry_table(pgt, e), level - 1, addr,
						       next, fn, arg);
		}
		if (ret)
			return ret;
	}
	return 0;
}

int pgtable_walk_range(struct pgtable *pgt, unsigned long start, unsigned long end,
		       int (*fn)(unsigned long addr, pte_t *ptep, void *arg), void *arg)
{
	if (start > end || end > VA_END)
		return COW_EINVAL;
	return walk_range_level(pgt, pgd_table(pgt), PT_PGD, start, end, fn, arg);
}

static bool pte_table_empty(pte_t *table)
{
	for (int i = 0; i < PTRS_PER_TABLE; i++)
		if (!pte_none(ptep_get(&table[i])))
			return false;
	return true;
}

/* Unlink the table in child from *entry, which held expect, and free it
 * after a grace period.  The exchange rather than a plain store lets us
 * check the caller's promise that nobody populates the range. */
static void unlink_table(struct pgtable *pgt, pte_t *entry, pte_t expect, struct page *child)
{
	pte_t old;

	spin_lock(&pgt->lock);
	/* A lockless walker reads the old entry or 0, never a torn one. */
	old = ptep_get_and_clear(entry);
	atomic_long_dec(&pgt->nr_tables);
	spin_unlock(&pgt->lock);
	COW_CHECK(old == expect,
		  "free_pgd_range: entry changed from 0x%llx to 0x%llx while freeing; "
		  "someone populated a range being freed",
		  (unsigned long long)expect, (unsigned long long)old);
	table_free_deferred(child);
}

/* Free the tables below table (at level, above PT_PTE) that lie entirely
 * inside [start, end) and are empty.  Returns whether every entry of table
 * visited, i.e. in [start, end), is none afterwards; when the table lies
 * entirely inside the range that means the table is empty. */
static bool free_range_level(struct pgtable *pgt, pte_t *table, enum pt_level level,
			     unsigned long start, unsigned long end)
{
	unsigned long addr, next;
	bool empty = true;

	for (addr = start; addr < end; addr = next) {
		pte_t *entry = &table[pt_index(addr, level)];
		pte_t e = pxd_get(entry);
		struct page *child;
		bool whole, child_empty;

		next = entry_end(addr, end, level);
		if (pte_none(e))
			continue;
		if (level == PT_PMD && pmd_trans_huge(e)) {
			empty = false; /* a mapping, not a table: the caller zaps those */
			continue;
		}
		child = entry_page(pgt, e);
		whole = next - addr == pt_level_size(level);
		if (level == PT_PMD)
			child_empty = whole && pte_table_empty(table_of_page(pgt, child));
		else
			child_empty = free_range_level(pgt, table_of_page(pgt, child), level - 1,
						       addr, next);
		if (whole && child_empty)
			unlink_table(pgt, entry, e, child);
		else
			empty = false;
	}
	return empty;
}

void free_pgd_range(struct pgtable *pgt, unsigned long start, unsigned long end)
{
	COW_CHECK(start <= end && end <= VA_END, "free_pgd_range: bad range 0x%lx-0x%lx", start,
		  end);
	free_range_level(pgt, pgd_table(pgt), PT_PGD, start, end);
}
