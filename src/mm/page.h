/*
 * Frames and struct page.
 *
 * A frame pool is one host mapping of nr 4 KiB frames, page aligned so real
 * O_DIRECT I/O can land in frame memory, plus one struct page per frame
 * (at most 64 bytes, checked at build time).  A frame number (pfn) is the
 * index of the frame in the pool.  Page-table pages come from the same
 * pool, as in a kernel.
 *
 * What protects each field of struct page, by the letters of
 * src/sync/lockrank.h (which defines them and the lock order once):
 *   (A) atomic, no lock        (L) the page lock (PG_locked)
 *   (F) owned by the allocator while the frame is free (PG_free set)
 *   (U) the lock of the LRU list the page is on, while PG_lru is set
 *   (T) page-table pages only: set up at allocation, ptl is the split lock
 *       (a table is never a compound page, so ptl shares its place with
 *       the compound pin count)
 *
 * Reference counting (Linux's rules, kept explicit so that refcount-based
 * policies misfire where Linux's did):
 *   refcount  every PTE mapping, the swap cache, each FOLL_GET reference,
 *             each FOLL_PIN (GUP_PIN_COUNTING_BIAS on small pages) and
 *             transient speculative references (reclaim's isolation);
 *   mapcount  the number of PTEs that map the page (0 when unmapped;
 *             Linux stores it biased by -1, cowlab does not);
 *   pincount  FOLL_PIN count of a large folio (below).
 *
 * Large folios (compound pages): 2^order frames, aligned to their size,
 * allocated and freed as one (alloc_folio()), as Linux keeps them:
 *   head      page[0], PG_head: the folio's refcount, its pincount (one per
 *             FOLL_PIN, each pin also one reference: no bias), its LRU
 *             links and flags, its anon_vma and index, and subpage 0's own
 *             mapcount;
 *   tails     page[1..], PG_tail, refcount 0; lru.next holds the tail's
 *             offset from the head (so compound_head() needs no pool);
 *             each keeps its own mapcount (PTEs that map that subpage)
 *             and its own PG_anon_exclusive;
 *   page[1]   also the folio's order (private) and its entire mapcount
 *             (the PMDs that map the whole folio).
 * A reference or a pin taken through any subpage is the folio's: the
 * count functions below go to the head.  page_mapcount() of a subpage is
 * its own mapcount plus the entire mapcount, as Linux's was before 6.9.
 * Only heads go on the LRU; tails are never free-listed one by one.
 *
 * The LRU: anonymous pages live on one list per simulated CPU, each under
 * its own lock, as Linux splits its LRU into an lruvec per node and memory
 * cgroup: a page goes on the list of the CPU that adds it, newest at the
 * head, and the list's number is kept in the page's flags
 * (PG_LRU_LIST_SHIFT).  Reclaim takes victims from the tails, the lists in
 * turn.  A list holds no reference.  Isolation takes a reference unless
 * the count is already zero and clears PG_lru; the last put_page() of a
 * page still on a list takes it off before the frame is freed.  So a page
 * is on a list iff PG_lru is set.  (One list under one lock put a global
 * lock on every fault: docs/performance.md.)
 *
 * Allocation: alloc_page() takes a frame from the calling CPU's cache, which
 * refills from and drains to the pool's free list in batches; each cache
 * has its own lock, so CPUs do not share a lock on the fast path (Linux's
 * per-cpu page lists since 5.18 work the same way).
 */
#ifndef COW_MM_PAGE_H
#define COW_MM_PAGE_H

#include "base/base.h"
#include "base/faultinj.h"
#include "sync/sync.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define GUP_PIN_COUNTING_BIAS 1024

/* Page flags: bit numbers in struct page.flags. */
enum pageflags {
	PG_locked,    /* the page lock (a bit lock with waiting) */
	PG_free,      /* on a free list or a CPU cache */
	PG_table,     /* a page-table page */
	PG_anon,      /* anonymous memory; mapping is an anon_vma */
	PG_swapcache, /* in the swap cache; private is the swap entry */
	PG_dirty,
	PG_lru,		   /* on an LRU list */
	PG_ksm,		   /* a KSM stable page */
	PG_anon_exclusive, /* mapped by exactly one process, may be written */
	PG_gup,		   /* 2009 forkfix: touched by get_user_pages */
	PG_dontcow,	   /* 2009 Nick Piggin: never COW-share again */
	PG_head,	   /* head of a compound (huge) page */
	PG_zero,	   /* the shared zero page */
	PG_tail,	   /* a tail of a large folio (lru.next: its offset) */
	PG_hugetlb,	   /* head of a folio of the hugetlb pool */
	NR_PAGEFLAGS
};

/* The top bits of flags: the number of the LRU list a PG_lru page is on. */
#define PG_LRU_LIST_SHIFT 56
#define PG_LRU_LIST_MASK (~0UL << PG_LRU_LIST_SHIFT)
_Static_assert(NR_PAGEFLAGS <= PG_LRU_LIST_SHIFT && SYNC_MAX_CPUS <= 256,
	       "the LRU list number fits above the page flags");

struct page {
	unsigned long flags;   /* (A) PG_* bits */
	atomic_t _refcount;    /* (A) */
	atomic_t _mapcount;    /* (A) */
	unsigned long mapping; /* (L) anon: its anon_vma */
	unsigned long private; /* (L) swap cache: the swap entry; tables: the pool */
	union {
		struct {
			unsigned long index; /* (L) anon: page index for the rmap */
			struct {	     /* (F) free list / (U) LRU links */
				uint32_t next, prev;
			} lru;
		};
		struct rcu_head rcu; /* (T) freeing a page table through RCU */
	};
	union {
		spinlock_t ptl;		   /* (T) split PT lock of a PTE table */
		atomic_t _pincount;	   /* (A) folio head: FOLL_PIN count */
		atomic_t _entire_mapcount; /* (A) folio page[1]: PMD mappings */
	};
};

/* A CPU's cache of free frames: a stack of pfns under its own lock. */
#define PCP_BATCH 32
#define PCP_HIGH (3 * PCP_BATCH)
struct pcp {
	spinlock_t lock;
	unsigned int count;
	uint32_t pfns[PCP_HIGH];
} __attribute__((aligned(64)));

#define PFN_NONE UINT32_MAX

/* The order of a PMD-sized folio (2 MiB of 4 KiB frames), the largest the
 * pool gives. */
#define HPAGE_PMD_ORDER 9
#define HPAGE_PMD_NR (1UL << HPAGE_PMD_ORDER)
#define MAX_FOLIO_ORDER HPAGE_PMD_ORDER

/* One LRU list (one per simulated CPU), on a cache line of its own. */
struct lru_list {
	spinlock_t lock;  /* the list, and PG_lru of the pages on it */
	uint32_t head;	  /* newest */
	uint32_t tail;	  /* oldest */
	unsigned long nr; /* under lock; lru_size() reads it without */
} __attribute__((aligned(64)));

/* The pool (fields for page.c and check.c only). */
struct frame_pool {
	char *mem;	    /* nr * PAGE_SIZE bytes, page aligned */
	struct page *pages; /* nr entries */
	unsigned long nr;
	int cpus;
	spinlock_t lock;	   /* protects the free list */
	unsigned long *free_map;   /* the free list: a bit per frame */
	unsigned long free_cursor; /* no free frame in a word below it */
	unsigned long nr_free_list;
	atomic_long_t nr_free;	   /* free list + caches */
	struct pcp *pcp;	   /* cpus entries */
	struct lru_list *lru;	   /* cpus entries */
	atomic_t lru_next;	   /* the list reclaim isolates from next */
	atomic_long_t nr_isolated; /* taken off the LRU by reclaim, not back yet */
	/* The hugetlb pool (under lock): huge folios set aside from the
	 * frames, as Linux's hstate.  A free one keeps its folio layout,
	 * with refcount 0, PG_head and PG_hugetlb; huge_free stacks them. */
	uint32_t *huge_free;   /* nr / HPAGE_PMD_NR entries */
	unsigned long nr_huge; /* folios in the pool */
	unsigned long nr_huge_free;
	unsigned long resv_huge; /* free ones promised to mappings */
};

/* Words of the free list's bitmap (and of any bitmap over the frames). */
#define FRAME_MAP_BITS (8 * sizeof(unsigned long))
static inline unsigned long frame_map_words(const struct frame_pool *pool)
{
	return (pool->nr + FRAME_MAP_BITS - 1) / FRAME_MAP_BITS;
}

/* Create a pool of nr frames for cpus simulated CPUs (1..SYNC_MAX_CPUS).
 * Returns 0, COW_EINVAL for a zero size or bad cpu count, COW_ENOMEM when
 * the host cannot provide the memory. */
int frame_pool_create(struct frame_pool **out, unsigned long nr, int cpus);
/* Make every frame free again, as frame_pool_create leaves them: the
 * free list in pfn order, the CPU caches and LRU lists empty, every
 * struct page cleared but for PG_free.  The frames' bytes stay (stale, as
 * a new pool's may be).  Only for a pool nobody uses. */
void frame_pool_reset(struct frame_pool *pool);
/* Free the pool.  Frames still allocated are the caller's leak; the pool
 * is unmapped regardless. */
void frame_pool_destroy(struct frame_pool *pool);

unsigned long frame_pool_size(const struct frame_pool *pool);
/* Free frames, counting those held in CPU caches. */
unsigned long frame_pool_nr_free(const struct frame_pool *pool);
/* Move every CPU cache back to the free list (for teardown and checks). */
void frame_pool_drain(struct frame_pool *pool);

/* Allocation flags. */
#define GFP_ZERO 1u /* fill the frame with zeroes */
/* The caller passed the frame_alloc fault site already (direct reclaim's
 * retries are one allocation, which an injected failure fails whole, as
 * Linux's fail_page_alloc fails it before any reclaim). */
#define GFP_NOINJECT 2u

/* A frame with refcount 1 and no flags, or NULL when the pool is empty
 * (or the frame_alloc fault site fails).  Never sleeps, never takes a
 * global lock while the caller's CPU cache has frames. */
struct page *alloc_page(struct frame_pool *pool, unsigned int gfp);
/* A large folio of 2^order frames (order 1..MAX_FOLIO_ORDER), aligned to
 * its size: the head with refcount 1, the tails set up as page.h says.
 * NULL when no aligned run of free frames exists (the pool does not
 * compact: callers fall back to small pages, as a THP fault does) or the
 * frame_alloc fault site fails. */
struct page *alloc_folio(struct frame_pool *pool, unsigned int order, unsigned int gfp);
/* The hugetlb pool (as nr_hugepages and Linux's hstate counts).  Grow it
 * by nr huge folios taken from the free frames: 0, or COW_ENOMEM when no
 * aligned block is left (the folios taken so far stay). */
int hugetlb_pool_grow(struct frame_pool *pool, unsigned long nr);
/* Give every huge folio of the pool back to the frames, if every one is
 * free and none is promised (a system's teardown); false, and nothing
 * done, otherwise. */
bool hugetlb_pool_release(struct frame_pool *pool);
/* Promise n free huge pages to a mapping (hugetlb_acct_memory): 0, or
 * COW_ENOMEM when fewer than n free ones are unpromised. */
int hugetlb_reserve(struct frame_pool *pool, unsigned long n);
void hugetlb_unreserve(struct frame_pool *pool, unsigned long n);
/* A huge folio of the pool, refcount 1, bytes stale: one promised to the
 * caller (reserved: it consumes the promise), or else one nobody was
 * promised; NULL when there is none. */
struct page *alloc_hugetlb_folio(struct frame_pool *pool, bool reserved);
/* Free huge pages of the pool (promised ones included). */
unsigned long hugetlb_pool_nr_free(const struct frame_pool *pool);
/* A folio whose refcount the caller froze at zero, and that nothing maps,
 * becomes small pages: each tail a page of its own with refcount 1 (the
 * caller's to drop), its flags, index, anon_vma and mapcount kept; the
 * head a small page, its refcount still zero for the caller to restore.
 * One step for the explorer: no yield point inside. */
void folio_split_frozen(struct frame_pool *pool, struct page *head);
/* Return a frame (or a folio, by its head) whose refcount has reached zero
 * to the pool (a hugetlb folio to the hugetlb pool). */
void free_page(struct frame_pool *pool, struct page *page);

static inline struct page *pfn_to_page(const struct frame_pool *pool, unsigned long pfn)
{
	COW_ASSERT(pfn < pool->nr);
	return &pool->pages[pfn];
}
static inline unsigned long page_to_pfn(const struct frame_pool *pool, const struct page *page)
{
	COW_ASSERT(page >= pool->pages && page < pool->pages + pool->nr);
	return (unsigned long)(page - pool->pages);
}
/* The frame's memory (PAGE_SIZE bytes, page aligned). */
static inline void *page_address(const struct frame_pool *pool, const struct page *page)
{
	return pool->mem + page_to_pfn(pool, page) * PAGE_SIZE;
}
/* Start loading the first lines of a frame the caller is about to read
 * (write: to write) whole, so that the cache misses overlap with the
 * work before the copy; the host's prefetcher streams the rest of the
 * frame (docs/performance.md). */
static inline void prefetch_frame(const struct frame_pool *pool, const struct page *page, int lines,
				  bool write)
{
	const char *p = page_address(pool, page);

	for (int i = 0; i < lines; i++) {
		if (write)
			__builtin_prefetch(p + i * 64, 1);
		else
			__builtin_prefetch(p + i * 64, 0);
	}
}
/* Zero a page, and copy a page, as Linux's clear_page() and
 * copy_page(): loops of eight-word stores (and loads), which the compiler
 * may widen.  In the fault paths they ran 1.4-1.7x as fast as the string
 * instructions (rep stosq, rep movsq) a constant-size memset or memcpy
 * becomes (docs/performance.md).  cowbench's limits use them too. */
static inline void clear_page(void *to)
{
	uint64_t *d = to;

	for (unsigned int i = 0; i < PAGE_SIZE / 8; i += 8)
		d[i] = d[i + 1] = d[i + 2] = d[i + 3] = d[i + 4] = d[i + 5] = d[i + 6] = d[i + 7] =
			0;
}
static inline void copy_page(void *restrict to, const void *restrict from)
{
	uint64_t *d = to;
	const uint64_t *s = from;

	for (unsigned int i = 0; i < PAGE_SIZE / 8; i += 8) {
		uint64_t w0 = s[i], w1 = s[i + 1], w2 = s[i + 2], w3 = s[i + 3];
		uint64_t w4 = s[i + 4], w5 = s[i + 5], w6 = s[i + 6], w7 = s[i + 7];

		d[i] = w0, d[i + 1] = w1, d[i + 2] = w2, d[i + 3] = w3;
		d[i + 4] = w4, d[i + 5] = w5, d[i + 6] = w6, d[i + 7] = w7;
	}
}
/* The unit in which the explorer interleaves a copy or a user access of
 * memory: 512 bytes, a disk sector, the unit the direct-I/O engine moves
 * per step (docs/explorer.md says why). */
#define ACCESS_CHUNK 512
/* The word a step on a frame's bytes names: the first byte of the chunk
 * (of ACCESS_CHUNK) that holds byte off of frame memory at frame.  A
 * step's bytes lie in one chunk, so steps on two chunks of a frame are
 * independent, as a DMA into a page's first sector and a store to its
 * last are. */
static inline const void *frame_chunk(const void *frame, unsigned long off)
{
	return (const char *)frame + (off & ~(unsigned long)(ACCESS_CHUNK - 1));
}
/* A page copy under the explorer: a yield point that reads from's chunk
 * before each chunk is copied, so that another CPU's store (a parent
 * thread writing through a still-writable PTE, a device's DMA) can land
 * between two chunks and tear the copy, as it can tear a real memcpy. */
void copy_frame_chunked(const struct frame_pool *pool, struct page *to, const struct page *from);
static inline void copy_frame(const struct frame_pool *pool, struct page *to,
			      const struct page *from)
{
	if (unlikely(sync_explorer != NULL))
		copy_frame_chunked(pool, to, from);
	else
		copy_page(page_address(pool, to), page_address(pool, from));
}
/* A CPU's read of n bytes at off in the frame, into buf: under the
 * explorer a yield point that reads each chunk before it, as mmu.c's
 * accesses have. */
void read_frame_chunked(const struct frame_pool *pool, const struct page *page, unsigned long off,
			void *buf, unsigned long n);
/* The struct page of a frame address inside the pool, or NULL. */
struct page *virt_to_page(const struct frame_pool *pool, const void *addr);
bool pfn_valid(const struct frame_pool *pool, unsigned long pfn);

/* ---- the LRU ---------------------------------------------------------------- */

/* Put a page the caller holds a reference on, and that is on no list, at
 * the head of the calling CPU's LRU list. */
void lru_add(struct frame_pool *pool, struct page *page);
/* Take up to n of the oldest pages into pages[], each with a reference
 * for the caller and off its list (PG_lru clear): from the tail of one
 * list, the next list when that one runs out; each call starts at the
 * list after the one the last call started at.  Pages being freed are
 * skipped.  Returns how many it took. */
unsigned int lru_isolate(struct frame_pool *pool, struct page **pages, unsigned int n);
/* The isolator is done with n pages (put back or freed). */
void lru_isolated_done(struct frame_pool *pool, unsigned int n);
/* Pages isolated by reclaimers now. */
long lru_isolated(const struct frame_pool *pool);
/* Pages on the LRU lists. */
unsigned long lru_size(const struct frame_pool *pool);

/* ---- large folios ------------------------------------------------------- */

static inline bool PageFlag(const struct page *page, enum pageflags f)
{
	return test_bit(f, &page->flags);
}
/* PG_head and PG_tail are set before a folio is handed out and cleared
 * when it is freed or split (folio_split_frozen(), with its refcount
 * frozen at zero and no PTE mapping it), never while anyone holds a
 * reference or a mapping: like a constant field, they are read here
 * without a yield point, so that the count functions below take no more
 * steps under the explorer for a small page than they did before large
 * folios existed.  (A lockless reader that met the folio through a PTE
 * before the split unmapped it has left by then: the unmap's TLB
 * shootdown waits for it; see gup_fast_grab() for the one that grabs.) */
static inline unsigned long folio_bits(const struct page *page)
{
	return READ_STABLE_BITS(page->flags) & (BIT_MASK(PG_head) | BIT_MASK(PG_tail));
}
/* The head of the folio page belongs to (page itself for a small page). */
static inline struct page *compound_head(const struct page *page)
{
	if (unlikely(folio_bits(page) & BIT_MASK(PG_tail)))
		page -= page->lru.next;
	return (struct page *)page;
}
/* A head or tail of a large folio. */
static inline bool PageCompound(const struct page *page)
{
	return folio_bits(page) != 0;
}
/* The order of the folio whose head is head (0 for a small page). */
static inline unsigned int folio_order(const struct page *head)
{
	return (folio_bits(head) & BIT_MASK(PG_head)) ? (unsigned int)head[1].private : 0;
}
static inline unsigned long folio_nr_pages(const struct page *head)
{
	return 1UL << folio_order(head);
}
/* How many PMDs map the whole folio (0 for a small page). */
static inline int folio_entire_mapcount(const struct page *head)
{
	return (folio_bits(head) & BIT_MASK(PG_head)) ? atomic_read(&head[1]._entire_mapcount) : 0;
}

/* ---- reference counts -------------------------------------------------- */

/* The count of the folio the page belongs to. */
static inline int page_ref_count(const struct page *page)
{
	return atomic_read(&compound_head(page)->_refcount);
}
/* The PTEs that map this page, plus the PMDs that map its whole folio. */
static inline int page_mapcount(const struct page *page)
{
	int n = atomic_read(&page->_mapcount);

	if (unlikely(PageCompound(page)))
		n += folio_entire_mapcount(compound_head(page));
	return n;
}
static inline void get_page(struct page *page)
{
	page = compound_head(page);
	COW_ASSERT(atomic_read(&page->_refcount) > 0);
	atomic_inc(&page->_refcount);
}
/* A speculative reference, for lockless lookups (gup-fast): fails if the
 * page is being freed.  The caller must re-check that the page is still
 * the one it looked up. */
static inline bool get_page_unless_zero(struct page *page)
{
	return atomic_inc_not_zero(&compound_head(page)->_refcount);
}
/* Add refs references unless the count is zero (a frame being freed):
 * gup-fast's speculative grab.  Returns whether it added.  (A tail read
 * racing with the folio's freeing can name the wrong head; the caller's
 * re-check of the entry catches that, as Linux's try_grab_folio does.) */
static inline bool page_ref_add_unless_zero(struct page *page, int refs)
{
	return atomic_add_unless(&compound_head(page)->_refcount, refs, 0);
}
/* Drop a reference; the last one frees the frame. */
void put_page(struct frame_pool *pool, struct page *page);
/* Drop n references at once (an unpin drops the bias). */
void page_ref_sub(struct frame_pool *pool, struct page *page, int n);

static inline void SetPageFlag(struct page *page, enum pageflags f)
{
	set_bit(f, (unsigned long *)&page->flags);
}
static inline void ClearPageFlag(struct page *page, enum pageflags f)
{
	clear_bit(f, (unsigned long *)&page->flags);
}

/* ---- pins ------------------------------------------------------------- */

/* Take a FOLL_PIN reference: GUP_PIN_COUNTING_BIAS on a small page, or the
 * folio's exact pincount plus one reference on a large folio (through
 * any of its pages). */
void page_pin(struct page *page);
/* Drop a FOLL_PIN reference taken by page_pin(). */
void unpin_user_page(struct frame_pool *pool, struct page *page);
/* May the page be pinned for DMA?  Linux's semantics: false positives are
 * allowed (1024 plain references look like a pin), false negatives not. */
bool page_maybe_dma_pinned(const struct page *page);

/* ---- the page lock ------------------------------------------------------ */

/* The lock of a large folio is its head's, whichever page names it. */
static inline void lock_page(struct page *page)
{
	bit_lock(&compound_head(page)->flags, PG_locked);
}
static inline bool trylock_page(struct page *page)
{
	return bit_trylock(&compound_head(page)->flags, PG_locked);
}
static inline void unlock_page(struct page *page)
{
	bit_unlock(&compound_head(page)->flags, PG_locked);
}
/* The page lock held for an I/O (2.4's direct I/O): see bit_lock_io. */
static inline void lock_page_io(struct page *page)
{
	bit_lock_io(&page->flags, PG_locked);
}
static inline void unlock_page_io(struct page *page)
{
	bit_unlock_io(&page->flags, PG_locked);
}
static inline void wait_on_page_locked(struct page *page)
{
	bit_wait_unlocked(&compound_head(page)->flags, PG_locked);
}
static inline bool PageLocked(const struct page *page)
{
	return PageFlag(compound_head(page), PG_locked);
}

/* ---- validation (check.c) ------------------------------------------------ */

/* Check every frame of the pool: free frames have no counts and no other
 * flags, the free count matches, cache and free-list links are sane.
 * Returns 0 or COW_ECORRUPT with a message in msg.  The pool must be
 * quiescent (no concurrent allocation). */
int frames_check(struct frame_pool *pool, char *msg, size_t len);
/* The part of frames_check() that holds between any two steps of an
 * explore run, with operations in flight: the LRU lists, and with
 * free_lists the free list and the CPU caches.  scratch: a bitmap of
 * frame_map_words() words to use, or NULL. */
int frames_check_step(struct frame_pool *pool, unsigned long *scratch, bool free_lists, char *msg,
		      size_t len);

#endif /* COW_MM_PAGE_H */
