/*
 * Page tables: four levels of 512 entries (PGD, PUD, PMD, PTE table), 48-bit
 * virtual addresses, 4 KiB pages.  This sits just above the frame pool
 * (page.h): every table is one frame of the pool flagged PG_table, and the
 * address-space layer (struct mm) embeds a struct pgtable.  Everything that
 * reads or writes an entry goes through src/sync, so explore mode sees each
 * access as a yield point.
 *
 * Entry encoding (our own, x86-like).  One type, pte_t, serves all levels.
 *
 *   present leaf     bit 0 present, 1 write, 2 user, 5 accessed, 6 dirty,
 *                    7 PSE (a PMD that maps 2 MiB itself: a huge leaf),
 *                    9 special, 11 soft-dirty, PFN in bits 12..51;
 *   swap entry       any non-zero leaf with bit 0 clear: bit 1 soft-dirty,
 *                    bit 2 exclusive, bit 3 a marker that is always set (so
 *                    type 0 offset 0 is not pte_none), bits 4..8 the swap
 *                    type (the top three: a migration entry, whose offset
 *                    is a pfn), bits 12..61 the offset;
 *   upper level      0, or a table's PFN with _PAGE_TABLE; a PMD may
 *                    instead be a huge leaf (PSE set), mapping the 512
 *                    frames of a PMD-sized folio from its head's PFN.
 *
 * Locks (their letters and ranks are defined in src/sync/lockrank.h):
 *   (C) constant after pgtable_init()      (A) atomic
 *   (P) pgt->lock, like Linux's mm->page_table_lock: serialises populating
 *       and clearing upper-level entries.  It ranks above the PT lock,
 *       so it is never taken while a PT lock is held (a debug build
 *       panics if it is); and nothing is taken while it is held: a new
 *       table's frame is allocated before it is taken.
 *   (E) the PT lock: the split lock of one PTE table (struct page.ptl of
 *       the table's frame) serialises changes to that table's 512 leaf
 *       PTEs.
 *
 * Invariants (checked by pgtable_check() in check.c):
 *   P1  every table is a frame with PG_table, not PG_free, whose private
 *       word points at the pool, referenced by exactly one upper entry
 *       (the PGD by pgd_pfn);
 *   P2  an upper entry is 0 or mk_table_entry(pfn of a table), or at
 *       the PMD level a huge leaf;
 *   P3  nr_tables counts the reachable tables, PGD included, whenever
 *       pgt->lock is free (populate and free update both under it);
 *   P4  a present leaf maps an allocated frame (refcount > 0); a non-present
 *       non-zero leaf is a well-formed swap entry (a migration entry names
 *       a frame of the pool that is not free); a huge leaf maps the
 *       head of a PMD-sized folio;
 *   P5  a table unlinked by free_pgd_range() stays a table (PG_table, not
 *       reused) until an RCU grace period has passed, so a lockless walker
 *       inside rcu_read_lock() never reads a reused frame;
 *   P6  while pgt->lock is free, one table is deposited per huge PMD.
 */
#ifndef COW_MM_PGTABLE_H
#define COW_MM_PGTABLE_H

#include "mm/page.h"

typedef uint64_t pte_t;

/* ---- geometry ------------------------------------------------------------ */

/* Levels, numbered from the leaves up so that a level's shift is
 * PAGE_SHIFT + level * TABLE_SHIFT. */
enum pt_level {
	PT_PTE, /* a PTE table: 512 leaf PTEs, 4 KiB each */
	PT_PMD, /* entries point at PTE tables, 2 MiB each */
	PT_PUD, /* entries point at PMD tables, 1 GiB each */
	PT_PGD, /* the root: entries point at PUD tables, 512 GiB each */
	PT_LEVELS
};

#define TABLE_SHIFT 9
#define PTRS_PER_TABLE (1 << TABLE_SHIFT)
#define PMD_SHIFT (PAGE_SHIFT + TABLE_SHIFT)
#define PUD_SHIFT (PMD_SHIFT + TABLE_SHIFT)
#define PGDIR_SHIFT (PUD_SHIFT + TABLE_SHIFT)
#define PMD_SIZE (1UL << PMD_SHIFT)
#define PUD_SIZE (1UL << PUD_SHIFT)
#define PGDIR_SIZE (1UL << PGDIR_SHIFT)
#define PMD_MASK (~(PMD_SIZE - 1))
#define PUD_MASK (~(PUD_SIZE - 1))
#define PGDIR_MASK (~(PGDIR_SIZE - 1))

/* The tables translate 48 bits; user space is the lower half, as on
 * x86-64.  Addresses at or above VA_END cannot be mapped at all. */
#define VA_BITS 48
#define VA_END (1UL << VA_BITS)
#define TASK_SIZE (1UL << (VA_BITS - 1))

/* Bytes mapped by one entry of a table at this level. */
static inline unsigned long pt_level_size(enum pt_level level)
{
	return 1UL << (PAGE_SHIFT + TABLE_SHIFT * (unsigned int)level);
}

/* The index of addr's entry in its table at this level. */
static inline unsigned int pt_index(unsigned long addr, enum pt_level level)
{
	return (unsigned int)(addr >> (PAGE_SHIFT + TABLE_SHIFT * (unsigned int)level)) &
	       (PTRS_PER_TABLE - 1);
}

static inline unsigned int pgd_index(unsigned long addr)
{
	return pt_index(addr, PT_PGD);
}
static inline unsigned int pud_index(unsigned long addr)
{
	return pt_index(addr, PT_PUD);
}
static inline unsigned int pmd_index(unsigned long addr)
{
	return pt_index(addr, PT_PMD);
}
static inline unsigned int pte_index(unsigned long addr)
{
	return pt_index(addr, PT_PTE);
}

/* ---- PTE bits ------------------------------------------------------------ */

#define _PAGE_BIT_PRESENT 0
#define _PAGE_BIT_RW 1
#define _PAGE_BIT_USER 2
#define _PAGE_BIT_ACCESSED 5
#define _PAGE_BIT_DIRTY 6
#define _PAGE_BIT_PSE 7
#define _PAGE_BIT_SPECIAL 9
#define _PAGE_BIT_SOFT_DIRTY 11

#define _PAGE_PRESENT (1ULL << _PAGE_BIT_PRESENT)
#define _PAGE_RW (1ULL << _PAGE_BIT_RW)
#define _PAGE_USER (1ULL << _PAGE_BIT_USER)
#define _PAGE_ACCESSED (1ULL << _PAGE_BIT_ACCESSED)
#define _PAGE_DIRTY (1ULL << _PAGE_BIT_DIRTY)
#define _PAGE_PSE (1ULL << _PAGE_BIT_PSE)
#define _PAGE_SPECIAL (1ULL << _PAGE_BIT_SPECIAL)
#define _PAGE_SOFT_DIRTY (1ULL << _PAGE_BIT_SOFT_DIRTY)

#define PTE_PFN_SHIFT PAGE_SHIFT
#define PTE_PFN_MASK (((1ULL << 52) - 1) & ~((1ULL << PTE_PFN_SHIFT) - 1))
/* The bits of a present PTE other than the PFN. */
#define PTE_FLAGS_MASK (~PTE_PFN_MASK)

/* An upper-level entry: the table below is present, writable and user
 * accessible; permissions are decided at the leaves only. */
#define _PAGE_TABLE (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED)

/* Protections for pfn_pte(). */
#define PAGE_READONLY (_PAGE_PRESENT | _PAGE_USER)
#define PAGE_READWRITE (_PAGE_PRESENT | _PAGE_USER | _PAGE_RW)

static inline bool pte_none(pte_t pte)
{
	return pte == 0;
}
static inline bool pte_present(pte_t pte)
{
	return (pte & _PAGE_PRESENT) != 0;
}
static inline bool pte_write(pte_t pte)
{
	return (pte & _PAGE_RW) != 0;
}
static inline bool pte_user(pte_t pte)
{
	return (pte & _PAGE_USER) != 0;
}
static inline bool pte_dirty(pte_t pte)
{
	return (pte & _PAGE_DIRTY) != 0;
}
static inline bool pte_young(pte_t pte)
{
	return (pte & _PAGE_ACCESSED) != 0;
}
static inline bool pte_soft_dirty(pte_t pte)
{
	return (pte & _PAGE_SOFT_DIRTY) != 0;
}
static inline bool pte_special(pte_t pte)
{
	return (pte & _PAGE_SPECIAL) != 0;
}
static inline unsigned long pte_pfn(pte_t pte)
{
	return (unsigned long)((pte & PTE_PFN_MASK) >> PTE_PFN_SHIFT);
}
/* A PTE mapping pfn with the bits of prot (which should include
 * _PAGE_PRESENT; PAGE_READONLY and PAGE_READWRITE do). */
static inline pte_t pfn_pte(unsigned long pfn, uint64_t prot)
{
	COW_ASSERT(pfn <= PTE_PFN_MASK >> PTE_PFN_SHIFT);
	return (((pte_t)pfn << PTE_PFN_SHIFT) & PTE_PFN_MASK) | (prot & PTE_FLAGS_MASK);
}

static inline pte_t pte_mkwrite(pte_t pte)
{
	return pte | _PAGE_RW;
}
static inline pte_t pte_wrprotect(pte_t pte)
{
	return pte & ~_PAGE_RW;
}
/* As on x86, dirtying also marks the PTE soft-dirty. */
static inline pte_t pte_mkdirty(pte_t pte)
{
	return pte | _PAGE_DIRTY | _PAGE_SOFT_DIRTY;
}
static inline pte_t pte_mkclean(pte_t pte)
{
	return pte & ~_PAGE_DIRTY;
}
static inline pte_t pte_mkyoung(pte_t pte)
{
	return pte | _PAGE_ACCESSED;
}
static inline pte_t pte_mkold(pte_t pte)
{
	return pte & ~_PAGE_ACCESSED;
}
static inline pte_t pte_mksoft_dirty(pte_t pte)
{
	return pte | _PAGE_SOFT_DIRTY;
}
static inline pte_t pte_clear_soft_dirty(pte_t pte)
{
	return pte & ~_PAGE_SOFT_DIRTY;
}
static inline pte_t pte_mkspecial(pte_t pte)
{
	return pte | _PAGE_SPECIAL;
}

/* A PMD that maps a 2 MiB folio itself (Linux's pmd_trans_huge). */
static inline bool pmd_trans_huge(pte_t pmd)
{
	return (pmd & (_PAGE_PRESENT | _PAGE_PSE)) == (_PAGE_PRESENT | _PAGE_PSE);
}
static inline pte_t pmd_mkhuge(pte_t pmd)
{
	return pmd | _PAGE_PSE;
}
/* Where addr's frame lies from the frame a leaf names: its subpage's
 * index in a huge PMD's folio, 0 for a PTE. */
static inline unsigned long huge_offset(pte_t leaf, unsigned long addr)
{
	return pmd_trans_huge(leaf) ? pte_index(addr) : 0;
}

/* Upper-level entries (PGD, PUD, PMD) point at the table one level down. */
static inline pte_t mk_table_entry(unsigned long pfn)
{
	return pfn_pte(pfn, _PAGE_TABLE);
}
/* Neither none nor a well-formed table entry (P2); a huge leaf is bad
 * here too, and the PMD level tests for it first. */
static inline bool table_entry_bad(pte_t entry)
{
	return !pte_none(entry) && (entry & PTE_FLAGS_MASK) != _PAGE_TABLE;
}

/* Are the 64 entries from t on all none?  Sixteen-byte loads into four
 * accumulators: a scan of a mostly empty table is the checker's hottest
 * loop, and this is four times faster than one entry at a time. */
typedef pte_t pte_pair __attribute__((vector_size(16)));
static inline bool table_block_empty(const pte_t *t)
{
	pte_pair a = {0, 0}, b = a, c = a, d = a;

	for (int j = 0; j < 64; j += 8) {
		pte_pair w, x, y, z;

		__builtin_memcpy(&w, t + j, sizeof(w));
		__builtin_memcpy(&x, t + j + 2, sizeof(x));
		__builtin_memcpy(&y, t + j + 4, sizeof(y));
		__builtin_memcpy(&z, t + j + 6, sizeof(z));
		a |= w, b |= x, c |= y, d |= z;
	}
	a |= b | c | d;
	return (a[0] | a[1]) == 0;
}

/* Are the 64 entries from t equal to the 64 from u? */
static inline bool table_block_same(const pte_t *t, const pte_t *u)
{
	pte_pair a = {0, 0}, b = a;

	for (int j = 0; j < 64; j += 4) {
		pte_pair w, x, y, z;

		__builtin_memcpy(&w, t + j, sizeof(w));
		__builtin_memcpy(&x, t + j + 2, sizeof(x));
		__builtin_memcpy(&y, u + j, sizeof(y));
		__builtin_memcpy(&z, u + j + 2, sizeof(z));
		a |= w ^ y, b |= x ^ z;
	}
	a |= b;
	return (a[0] | a[1]) == 0;
}

/* The index of table's first non-none entry at or after i, or
 * PTRS_PER_TABLE, skipping empty blocks of 64 and groups of 8.  Plain
 * loads and no yield points: only for a table no task stores to
 * meanwhile (the explorer's checker runs between steps; a table being
 * torn down has no other user). */
static inline unsigned int table_next_used(const pte_t *table, unsigned int i)
{
	while (i < PTRS_PER_TABLE) {
		if (i % 64 == 0 && table_block_empty(table + i)) {
			i += 64;
		} else if (i % 8 == 0 &&
			   (table[i] | table[i + 1] | table[i + 2] | table[i + 3] | table[i + 4] |
			    table[i + 5] | table[i + 6] | table[i + 7]) == 0) {
			i += 8;
		} else if (pte_none(table[i])) {
			i++;
		} else {
			return i;
		}
	}
	return PTRS_PER_TABLE;
}

/* ---- swap entries -------------------------------------------------------- */

/* An arch-independent swap entry: type in the top bits, offset below. */
typedef struct {
	unsigned long val;
} swp_entry_t;

#define SWP_TYPE_SHIFT 5
#define SWP_TYPES (1U << SWP_TYPE_SHIFT)
/* The top three types are not devices but migration entries (below), as
 * Linux takes its SWP_MIGRATION_* types from the top of the type field. */
#define MAX_SWAPFILES (SWP_TYPES - 3)
#define SWP_MIGRATION_READ MAX_SWAPFILES
#define SWP_MIGRATION_READ_EXCLUSIVE (MAX_SWAPFILES + 1)
#define SWP_MIGRATION_WRITE (MAX_SWAPFILES + 2)
#define SWP_OFFSET_BITS 50
#define SWP_OFFSET_MASK ((1UL << SWP_OFFSET_BITS) - 1)

#define _PAGE_SWP_SOFT_DIRTY (1ULL << 1)
#define _PAGE_SWP_EXCLUSIVE (1ULL << 2)
#define _PAGE_SWP_MARKER (1ULL << 3)
#define _PAGE_SWP_TYPE_SHIFT 4
#define _PAGE_SWP_OFFSET_SHIFT PAGE_SHIFT
/* Every bit a swap PTE may have set. */
#define _PAGE_SWP_MASK                                                   \
	(_PAGE_SWP_SOFT_DIRTY | _PAGE_SWP_EXCLUSIVE | _PAGE_SWP_MARKER | \
	 ((pte_t)(SWP_TYPES - 1) << _PAGE_SWP_TYPE_SHIFT) |              \
	 ((pte_t)SWP_OFFSET_MASK << _PAGE_SWP_OFFSET_SHIFT))

static inline swp_entry_t swp_entry(unsigned int type, unsigned long offset)
{
	swp_entry_t e = {((unsigned long)type << SWP_OFFSET_BITS) | offset};

	COW_ASSERT(type < SWP_TYPES && offset <= SWP_OFFSET_MASK);
	return e;
}
static inline unsigned int swp_type(swp_entry_t entry)
{
	return (unsigned int)(entry.val >> SWP_OFFSET_BITS);
}
static inline unsigned long swp_offset(swp_entry_t entry)
{
	return entry.val & SWP_OFFSET_MASK;
}

/* A leaf that is neither none nor present holds a swap entry. */
static inline bool is_swap_pte(pte_t pte)
{
	return !pte_none(pte) && !pte_present(pte);
}
/* A swap PTE with the exclusive and soft-dirty bits clear. */
static inline pte_t swp_entry_to_pte(swp_entry_t entry)
{
	return _PAGE_SWP_MARKER | ((pte_t)swp_type(entry) << _PAGE_SWP_TYPE_SHIFT) |
	       ((pte_t)swp_offset(entry) << _PAGE_SWP_OFFSET_SHIFT);
}
/* The entry of a swap PTE, without its exclusive and soft-dirty bits. */
static inline swp_entry_t pte_to_swp_entry(pte_t pte)
{
	COW_ASSERT(is_swap_pte(pte));
	return swp_entry((unsigned int)(pte >> _PAGE_SWP_TYPE_SHIFT) & (SWP_TYPES - 1),
			 (unsigned long)(pte >> _PAGE_SWP_OFFSET_SHIFT) & SWP_OFFSET_MASK);
}
/* Not a swap PTE we could have made (checked by pgtable_check). */
static inline bool swap_pte_bad(pte_t pte)
{
	return !(pte & _PAGE_SWP_MARKER) || (pte & ~_PAGE_SWP_MASK);
}

/* A migration entry stands in a PTE while the page it names (its offset
 * is the pfn) is being split out of its large folio (huge_memory.c): the
 * PTE maps nothing, holds no mapcount and no reference, and counts as no
 * swap slot.  Its type keeps what the mapping allowed: READ_EXCLUSIVE and
 * WRITE carry PG_anon_exclusive, which the page gives up meanwhile, and
 * WRITE the write permission.  An access waits until the entry is gone
 * (migration_entry_wait()); fork copies it read-only; a zap just clears it. */
static inline bool is_migration_entry(swp_entry_t entry)
{
	return swp_type(entry) >= SWP_MIGRATION_READ;
}
static inline bool is_migration_pte(pte_t pte)
{
	return is_swap_pte(pte) && is_migration_entry(pte_to_swp_entry(pte));
}
static inline swp_entry_t make_migration_entry(unsigned long pfn, bool write, bool exclusive)
{
	return swp_entry(write	     ? SWP_MIGRATION_WRITE
			 : exclusive ? SWP_MIGRATION_READ_EXCLUSIVE
				     : SWP_MIGRATION_READ,
			 pfn);
}

/* The exclusive bit of a swap PTE: the swapped-out page was exclusive to
 * this mapping (Linux 5.19), so swap-in may map it writable. */
static inline pte_t pte_swp_mkexclusive(pte_t pte)
{
	return pte | _PAGE_SWP_EXCLUSIVE;
}
static inline bool pte_swp_exclusive(pte_t pte)
{
	return (pte & _PAGE_SWP_EXCLUSIVE) != 0;
}
static inline pte_t pte_swp_clear_exclusive(pte_t pte)
{
	return pte & ~_PAGE_SWP_EXCLUSIVE;
}
static inline pte_t pte_swp_mksoft_dirty(pte_t pte)
{
	return pte | _PAGE_SWP_SOFT_DIRTY;
}
static inline bool pte_swp_soft_dirty(pte_t pte)
{
	return (pte & _PAGE_SWP_SOFT_DIRTY) != 0;
}
static inline pte_t pte_swp_clear_soft_dirty(pte_t pte)
{
	return pte & ~_PAGE_SWP_SOFT_DIRTY;
}

/* ---- accessing an entry --------------------------------------------------
 * Leaf PTEs change under the PT lock, but lockless walkers (gup-fast) and
 * the simulated hardware read them at any time, so every access is one
 * sync operation and a PTE is never torn. */

static inline pte_t ptep_get(pte_t *ptep)
{
	return READ_ONCE(*ptep);
}
/* A release store: what was written to the frame and its struct page
 * before it is mapped (a zeroed or copied page, a swap-in's read) is
 * visible to a lockless walker that finds the PTE (pgtable_walk_lockless()
 * reads the leaf with acquire).  Linux orders it with the smp_wmb() of
 * __folio_mark_uptodate() and the MMU's dependency ordering; C11 has no
 * dependency ordering, and release is a plain store on x86. */
static inline void set_pte(pte_t *ptep, pte_t pte)
{
	smp_store_release(ptep, pte);
}
/* Atomically clear a PTE and return what it held: no hardware-style
 * accessed/dirty update can slip in between read and clear. */
static inline pte_t ptep_get_and_clear(pte_t *ptep)
{
	return xchg(ptep, (pte_t)0);
}
static inline void pte_clear(pte_t *ptep)
{
	WRITE_ONCE(*ptep, (pte_t)0);
}

/* ---- the tree -------------------------------------------------------------- */

struct pgtable {
	unsigned long pgd_pfn;	 /* (C) the root table */
	spinlock_t lock;	 /* populating and clearing upper entries */
	struct frame_pool *pool; /* (C) where the tables come from */
	atomic_long_t nr_tables; /* (A), changed under (P): tables, PGD included */
	/* (C) where new tables below the PGD come from: alloc(alloc_ctx),
	 * which returns a zeroed frame or NULL; NULL: the pool as it is. */
	struct page *(*alloc)(void *alloc_ctx);
	void *alloc_ctx;
	/* (P) PTE tables set aside for splitting huge PMDs, one per huge PMD
	 * (Linux's pgtable_trans_huge_deposit), so that a split never needs
	 * memory: a stack linked through the tables' lru.next, and its
	 * length.  Not linked into the tree, not counted in nr_tables. */
	uint32_t deposit;
	long nr_deposit;
};

/* Allocate the PGD.  Returns 0, or COW_ENOMEM when the pool is empty. */
int pgtable_init(struct pgtable *pgt, struct frame_pool *pool);
/* Take tables from alloc(ctx) from now on (the memory manager's allocator
 * with direct reclaim); before any other thread uses the tree.  It is
 * called with no page-table lock held. */
void pgtable_set_allocator(struct pgtable *pgt, struct page *(*alloc)(void *ctx), void *ctx);
/* Free every table at once, the PGD included.  The caller is done with the
 * tree: no walker, locked or lockless, may be inside, and every leaf must
 * be none (zapped) -- a COW_CHECK.  Tables unlinked earlier by
 * free_pgd_range() may still wait for their grace period: rcu_barrier()
 * before destroying the pool.  A no-op after a failed pgtable_init(). */
void pgtable_destroy(struct pgtable *pgt);

/* Return addr's PTE with the PT lock of its table held (*ptlp), allocating
 * missing tables on the way; NULL where addr's PMD is a huge leaf (the
 * caller handles or splits it first).  Upper entries are populated under pgt->lock;
 * a racing thread that populated first wins and our frame goes back to the
 * pool.  Returns NULL when the pool is exhausted: tables populated before
 * that stay in the tree (counted, freed by free_pgd_range() or
 * pgtable_destroy()), nothing leaks.  addr must be below VA_END.  May take
 * the frame pool's locks and pgt->lock (never nested) before the PT lock. */
pte_t *pte_alloc_map_lock(struct pgtable *pgt, unsigned long addr, spinlock_t **ptlp);
/* As pte_alloc_map_lock() without allocating: NULL if a level is missing,
 * the PMD is a huge leaf, or addr is at or above VA_END. */
pte_t *pte_offset_map_lock(struct pgtable *pgt, unsigned long addr, spinlock_t **ptlp);
/* As pte_offset_map_lock() while the PT lock of another table (of the
 * same rank) is held: fork holds the child's, then takes the parent's. */
pte_t *pte_offset_map_lock_nested(struct pgtable *pgt, unsigned long addr, spinlock_t **ptlp);
/* Drop the PT lock taken by the functions above. */
void pte_unmap_unlock(pte_t *ptep, spinlock_t *ptl);
/* The PT lock of the PTE table that holds ptep. */
spinlock_t *pte_lockptr(struct pgtable *pgt, pte_t *ptep);

/* ---- huge PMDs ------------------------------------------------------------
 *
 * A huge leaf is read and changed under the PMD lock, which is pgt->lock
 * (Linux's pmd_lock() without split PMD locks is mm->page_table_lock):
 * installing one, splitting it into a PTE table and zapping it all
 * happen under the lock that populates upper entries, so a PMD changes
 * between none, table and huge leaf only under that lock. */

/* addr's PMD entry with the PMD lock held (*ptlp), allocating missing
 * upper tables on the way (alloc) or not; NULL where a level is missing
 * (or could not be allocated).  nested: the caller holds another mm's
 * PMD lock (fork: the child's, then the parent's). */
pte_t *pmd_lock_entry(struct pgtable *pgt, unsigned long addr, bool alloc, bool nested,
		      spinlock_t **ptlp);
/* Read addr's PMD entry without a lock (0 if a level is missing): the
 * fault path's first look, re-checked under the lock. */
pte_t pmd_peek(struct pgtable *pgt, unsigned long addr);
/* A zeroed PTE table for pgtable_deposit(), allocated with no lock held;
 * NULL when the pool is exhausted. */
struct page *pte_table_alloc(struct pgtable *pgt);
/* Give back a table pte_table_alloc() or pgtable_withdraw() returned that
 * is not linked. */
void pte_table_free(struct page *table);
/* Set a table aside for the split of a huge PMD being installed, and take
 * one back (a split, or the huge PMD's zap); the PMD lock held. */
void pgtable_deposit(struct pgtable *pgt, struct page *table);
struct page *pgtable_withdraw(struct pgtable *pgt);
/* The PTEs of a table not linked yet (the caller fills it before
 * pmd_populate_locked() publishes it). */
pte_t *pte_table_entries(struct pgtable *pgt, struct page *table);
/* Replace the PMD at pmdp (PMD lock held) by a link to table, publishing
 * the entries the caller wrote into it. */
void pmd_populate_locked(struct pgtable *pgt, pte_t *pmdp, struct page *table);
/* Unlink the PTE table the PMD at pmdp links to (PMD lock held) and
 * return it, still whole, or NULL if the PMD links none (collapse:
 * pmdp_collapse_flush(); the caller shoots the TLBs down before it
 * trusts that no lockless walker still reads the table). */
struct page *pmd_unlink_table_locked(struct pgtable *pgt, pte_t *pmdp);

/* The gup-fast walk.  The caller holds rcu_read_lock(); no lock is taken.
 * Each level is read once; returns addr's PTE pointer and its value in
 * *out, or NULL if a level is missing (or addr >= VA_END).  A huge PMD is
 * returned as the leaf itself: the pointer to the PMD, *out with PSE set
 * (pmd_trans_huge), mapping addr at pte_pfn(*out) + pte_index(addr).  The pointer
 * stays valid, pointing into a frame that is still a page table, until
 * rcu_read_unlock(); the table may meanwhile have been unlinked, so a
 * caller that acts on the value must re-check it (as gup-fast does). */
pte_t *pgtable_walk_lockless(struct pgtable *pgt, unsigned long addr, pte_t *out);

/* Unlink and free every PTE, PMD and PUD table that lies entirely inside
 * [start, end) and has no non-none entry left; never the PGD.  Entries are
 * cleared under pgt->lock and the frames freed through call_rcu (P5).  The
 * caller excludes every locked walker and every populator of the range
 * (in Linux: the VMAs are gone and mmap_lock is held); lockless walkers
 * may be inside.  end must not exceed VA_END. */
void free_pgd_range(struct pgtable *pgt, unsigned long start, unsigned long end);

/* Call fn(addr, ptep, arg) for every PTE in [start, end) that is not none,
 * in address order, skipping missing tables; a huge PMD that maps part of
 * the range is passed once, as (its first address, its PMD).  The caller provides the
 * exclusion (PT locks are not taken).  Stops at and returns fn's first
 * non-zero return; returns 0, or COW_EINVAL for a bad range. */
int pgtable_walk_range(struct pgtable *pgt, unsigned long start, unsigned long end,
		       int (*fn)(unsigned long addr, pte_t *ptep, void *arg), void *arg);

/* Test-only fault injection: when true, free_pgd_range() frees table
 * frames at once instead of after a grace period, breaking P5.  The unit
 * tests set it to show that their RCU test catches the use-after-free.
 * Change it only while no other thread uses page tables. */
extern bool pgtable_test_free_immediately;

/* ---- validation (check.c) ------------------------------------------------ */

/* pgtable_check() flags. */
#define PGTABLE_CHECK_QUIESCENT 1u /* also: no PT lock or pgt->lock held */

/* Check P1..P4 over the whole tree: table frames, entry encodings, no
 * table reachable twice, nr_tables, leaves.  Without
 * PGTABLE_CHECK_QUIESCENT it may run between the steps of an explore run
 * (locks may be held then; the nr_tables check is skipped while pgt->lock
 * is).  Returns 0, COW_ECORRUPT with a one-line message in msg, or
 * COW_ENOMEM if the host cannot give it scratch memory. */
int pgtable_check(struct pgtable *pgt, unsigned int flags, char *msg, size_t len);

/* Add 1 to counts[pfn] for every present leaf PTE that is not special
 * (special PTEs, like the zero page's, are not counted in mapcount, as in
 * Linux's vm_normal_page()), and to each of the 512 frames a huge PMD
 * maps.  The tree must be quiescent.  Returns 0, or
 * COW_EINVAL when a pfn is not below nr (counts are then partly added). */
int pgtable_count_maps(struct pgtable *pgt, unsigned long *counts, unsigned long nr);

#endif /* COW_MM_PGTABLE_H */
