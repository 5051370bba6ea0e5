/*
 * The frame pool: one host mapping of 4 KiB frames and their struct pages,
 * a free list under the pool lock and a cache of free frames per simulated
 * CPU (see page.h).  This is the bottom of the mm layer; everything else
 * in src/mm allocates frames here, page-table pages included.
 *
 * Invariants (checked by frames_check() in check.c):
 *   F1  a frame is PG_free iff it is on the free list (its bit is set in
 *       free_map) or in one CPU cache,
 *       and then its refcount, mapcount and pincount are 0 and no other
 *       flag is set;
 *   F2  pool->nr_free counts the PG_free frames;
 *   F3  an allocated frame has refcount > 0;
 *   F4  each LRU list is a doubly linked list of allocated frames, nr
 *       long, and a frame is on a list iff PG_lru is set, the list's
 *       number in its flags;
 *   F5  a PG_head frame heads a folio of order 1..MAX_FOLIO_ORDER aligned
 *       to its size, whose other frames are PG_tail with their offset,
 *       refcount 0, no pincount and none of the head's flags (free, lru,
 *       locked, swapcache, ksm, table); no PG_tail frame is outside one;
 *       the folio's pincount and entire mapcount are >= 0, and its
 *       pincount is at most its refcount.
 */
#include "page.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

_Static_assert(sizeof(struct page) <= 64, "struct page must fit in 64 bytes");

/* The frames of the last pool this thread destroyed, kept for the next
 * pool of the same size: the explorer builds a system for every run, and
 * mapping fresh memory each time costs a host page fault per frame used.
 * Frames hold stale bytes then, as real frames do: every allocation that
 * needs zeroes asks for GFP_ZERO. */
#define SPARE_MAX_BYTES (64ul << 20)
static __thread char *spare_mem;
static __thread unsigned long spare_nr;

static char *frames_map(unsigned long nr)
{
	char *mem;

	if (spare_mem && spare_nr == nr) {
		mem = spare_mem;
		spare_mem = NULL;
		return mem;
	}
	mem = mmap(NULL, nr * PAGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return mem == MAP_FAILED ? NULL : mem;
}

static void frames_unmap(char *mem, unsigned long nr)
{
	if (!spare_mem && nr * PAGE_SIZE <= SPARE_MAX_BYTES) {
		spare_mem = mem;
		spare_nr = nr;
		return;
	}
	munmap(mem, nr * PAGE_SIZE);
}

int frame_pool_create(struct frame_pool **out, unsigned long nr, int cpus)
{
	struct frame_pool *pool;

	*out = NULL;
	if (nr == 0 || nr >= PFN_NONE || cpus < 1 || cpus > SYNC_MAX_CPUS)
		return COW_EINVAL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return COW_ENOMEM;
	pool->nr = nr;
	pool->cpus = cpus;
	pool->mem = frames_map(nr);
	if (!pool->mem)
		goto out_free_pool;
	pool->pages = calloc(nr, sizeof(struct page));
	if (!pool->pages)
		goto out_unmap;
	pool->pcp = aligned_alloc(64, sizeof(struct pcp) * (size_t)cpus);
	if (!pool->pcp)
		goto out_free_pages;
	pool->lru = aligned_alloc(64, sizeof(struct lru_list) * (size_t)cpus);
	if (!pool->lru)
		goto out_free_pcp;
	pool->free_map = calloc(frame_map_words(pool), sizeof(unsigned long));
	if (!pool->free_map)
		goto out_free_lru;
	pool->huge_free = calloc(nr / HPAGE_PMD_NR + 1, sizeof(uint32_t));
	if (!pool->huge_free)
		goto out_free_map;
	frame_pool_reset(pool);
	*out = pool;
	return 0;

out_free_map:
	free(pool->free_map);
out_free_lru:
	free(pool->lru);
out_free_pcp:
	free(pool->pcp);
out_free_pages:
	free(pool->pages);
out_unmap:
	frames_unmap(pool->mem, nr);
out_free_pool:
	free(pool);
	return COW_ENOMEM;
}

void frame_pool_reset(struct frame_pool *pool)
{
	unsigned long nr = pool->nr;
	int cpus = pool->cpus;

	spin_lock_init_rank(&pool->lock, RANK_FRAME_POOL);
	memset(pool->pages, 0, nr * sizeof(struct page));
	memset(pool->free_map, 0, frame_map_words(pool) * sizeof(unsigned long));
	for (unsigned long pfn = 0; pfn < nr; pfn++) {
		pool->pages[pfn].flags = BIT_MASK(PG_free);
		pool->free_map[pfn / FRAME_MAP_BITS] |= 1UL << (pfn % FRAME_MAP_BITS);
	}
	pool->free_cursor = 0;
	pool->nr_free_list = nr;
	pool->nr_free.counter = (long)nr;
	memset(pool->pcp, 0, sizeof(struct pcp) * (size_t)cpus);
	memset(pool->lru, 0, sizeof(struct lru_list) * (size_t)cpus);
	for (int c = 0; c < cpus; c++) {
		spin_lock_init_rank(&pool->pcp[c].lock, RANK_FRAME_CACHE);
		spin_lock_init_rank(&pool->lru[c].lock, RANK_LRU);
		pool->lru[c].head = pool->lru[c].tail = PFN_NONE;
	}
	pool->lru_next.counter = 0;
	pool->nr_isolated.counter = 0;
	pool->nr_huge = pool->nr_huge_free = pool->resv_huge = 0;
}

void frame_pool_destroy(struct frame_pool *pool)
{
	if (!pool)
		return;
	frames_unmap(pool->mem, pool->nr);
	free(pool->huge_free);
	free(pool->free_map);
	free(pool->lru);
	free(pool->pcp);
	free(pool->pages);
	free(pool);
}

unsigned long frame_pool_size(const struct frame_pool *pool)
{
	return pool->nr;
}

unsigned long frame_pool_nr_free(const struct frame_pool *pool)
{
	return (unsigned long)atomic_long_read(&pool->nr_free);
}

bool pfn_valid(const struct frame_pool *pool, unsigned long pfn)
{
	return pfn < pool->nr;
}

void copy_frame_chunked(const struct frame_pool *pool, struct page *to, const struct page *from)
{
	char *d = page_address(pool, to);
	const char *s = page_address(pool, from);

	for (unsigned int off = 0; off < PAGE_SIZE; off += ACCESS_CHUNK) {
		sync_point(SYNC_READ, s + off);
		memcpy(d + off, s + off, ACCESS_CHUNK);
	}
}

void read_frame_chunked(const struct frame_pool *pool, const struct page *page, unsigned long off,
			void *buf, unsigned long n)
{
	const char *s = page_address(pool, page);
	char *d = buf;

	COW_ASSERT(off + n <= PAGE_SIZE);
	if (sync_explorer == NULL) {
		memcpy(d, s + off, n);
		return;
	}
	for (unsigned long at = off, k; at < off + n; at += k) {
		k = ACCESS_CHUNK - at % ACCESS_CHUNK;
		if (k > off + n - at)
			k = off + n - at;
		sync_point(SYNC_READ, frame_chunk(s, at));
		memcpy(d + (at - off), s + at, k);
	}
}

struct page *virt_to_page(const struct frame_pool *pool, const void *addr)
{
	const char *p = addr;

	if (p < pool->mem || p >= pool->mem + pool->nr * PAGE_SIZE)
		return NULL;
	return &pool->pages[(unsigned long)(p - pool->mem) / PAGE_SIZE];
}

/* ---- free list (pool lock held) ---------------------------------------- */

/* The free list is a bitmap searched first-fit: a refill takes the
 * lowest free frames, in address order, and a batch given back only sets
 * its bits.  free_cursor is a low-water mark: no free frame lies in a word
 * below it, so a search starts there and skips the allocated words only
 * once.  Consecutive allocations thus get consecutive frames whatever
 * order frames were freed in, as a buddy allocator's blocks give them,
 * and the lowest frames, the ones used last, are used again first.  The
 * host's caches and prefetchers reward both: zeroing 4 KiB frames in
 * scattered order ran at 40% of zeroing them in order
 * (docs/performance.md).  A refill puts the lowest frame on top of the
 * CPU's stack, so it is taken first. */
static unsigned int take_from_free_list(struct frame_pool *pool, uint32_t *pfns, unsigned int want)
{
	unsigned long words = frame_map_words(pool), w = pool->free_cursor;
	unsigned int got = 0;

	if (want > pool->nr_free_list)
		want = (unsigned int)pool->nr_free_list;
	for (; got < want && w < words; w++) {
		unsigned long bits = pool->free_map[w];

		for (; bits && got < want; bits &= bits - 1)
			pfns[got++] = (uint32_t)(w * FRAME_MAP_BITS +
						 (unsigned long)__builtin_ctzl(bits));
		pool->free_map[w] = bits; /* the frames not taken */
		if (bits)
			break;
	}
	pool->free_cursor = w;
	for (unsigned int i = 0; i < got / 2; i++) {
		uint32_t t = pfns[i];

		pfns[i] = pfns[got - 1 - i];
		pfns[got - 1 - i] = t;
	}
	pool->nr_free_list -= got;
	return got;
}

static void give_to_free_list(struct frame_pool *pool, const uint32_t *pfns, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		unsigned long w = pfns[i] / FRAME_MAP_BITS;

		pool->free_map[w] |= 1UL << (pfns[i] % FRAME_MAP_BITS);
		if (w < pool->free_cursor)
			pool->free_cursor = w;
	}
	pool->nr_free_list += n;
}

/* ---- allocation ---------------------------------------------------------- */

static struct pcp *this_pcp(struct frame_pool *pool)
{
	/* A CPU id beyond the pool's shares a cache; its lock keeps that
	 * correct, just slower. */
	return &pool->pcp[smp_processor_id() % pool->cpus];
}

/* Take one frame for the calling CPU, refilling its cache from the free
 * list; PFN_NONE when both are empty. */
static uint32_t take_frame(struct frame_pool *pool, struct pcp *pcp)
{
	uint32_t pfn = PFN_NONE;

	spin_lock(&pcp->lock);
	if (pcp->count == 0) {
		spin_lock(&pool->lock);
		pcp->count = take_from_free_list(pool, pcp->pfns, PCP_BATCH);
		spin_unlock(&pool->lock);
	}
	if (pcp->count > 0)
		pfn = pcp->pfns[--pcp->count];
	if (pcp->count > 0) /* the next allocation's frame */
		prefetch_frame(pool, &pool->pages[pcp->pfns[pcp->count - 1]], 4, true);
	spin_unlock(&pcp->lock);
	return pfn;
}

struct page *alloc_page(struct frame_pool *pool, unsigned int gfp)
{
	struct pcp *pcp = this_pcp(pool);
	struct page *page;
	uint32_t pfn;

	if (!(gfp & GFP_NOINJECT) && FAULT_HIT(FI_FRAME_ALLOC))
		return NULL;
	pfn = take_frame(pool, pcp);
	if (unlikely(pfn == PFN_NONE)) {
		/* Free frames may sit in other CPUs' caches: give them all
		 * back before failing (Linux drains remote per-cpu lists on
		 * the way to an allocation failure too). */
		frame_pool_drain(pool);
		pfn = take_frame(pool, pcp);
		if (pfn == PFN_NONE)
			return NULL;
	}

	page = &pool->pages[pfn];
	COW_ASSERT(page->flags == BIT_MASK(PG_free));
	atomic_long_dec(&pool->nr_free);
	page->mapping = 0;
	page->private = 0;
	page->index = 0;
	page->lru.next = page->lru.prev = PFN_NONE;
	spin_lock_init(&page->ptl);
	atomic_set(&page->_mapcount, 0);
	atomic_set(&page->_pincount, 0);
	if (gfp & GFP_ZERO)
		clear_page(page_address(pool, page));
	/* The refcount goes up last: a speculative get_page_unless_zero()
	 * that races with allocation sees either 0 or a ready page. */
	ClearPageFlag(page, PG_free);
	smp_wmb(); /* pairs with the barrier in the speculative getter */
	atomic_set(&page->_refcount, 1);
	return page;
}

/* Is the block of n frames at pfn (n a power of two, pfn a multiple of n)
 * all on the free list?  Pool lock held. */
static bool block_free(const struct frame_pool *pool, unsigned long pfn, unsigned long n)
{
	const unsigned long *w = &pool->free_map[pfn / FRAME_MAP_BITS];

	if (n < FRAME_MAP_BITS) {
		unsigned long mask = ((1UL << n) - 1) << (pfn % FRAME_MAP_BITS);

		return (*w & mask) == mask;
	}
	for (unsigned long i = 0; i < n / FRAME_MAP_BITS; i++)
		if (w[i] != ~0UL)
			return false;
	return true;
}

/* Take the lowest free aligned block of n frames off the free list;
 * PFN_NONE if there is none.  Pool lock held. */
static uint32_t take_block(struct frame_pool *pool, unsigned long n)
{
	unsigned long first = pool->free_cursor * FRAME_MAP_BITS & ~(n - 1);

	if (pool->nr_free_list < n)
		return PFN_NONE;
	for (unsigned long pfn = first; pfn + n <= pool->nr; pfn += n) {
		if (!block_free(pool, pfn, n))
			continue;
		for (unsigned long i = pfn; i < pfn + n; i++)
			pool->free_map[i / FRAME_MAP_BITS] &= ~(1UL << (i % FRAME_MAP_BITS));
		pool->nr_free_list -= n;
		return (uint32_t)pfn;
	}
	return PFN_NONE;
}

static uint32_t take_folio_frames(struct frame_pool *pool, unsigned long n)
{
	uint32_t pfn;

	spin_lock(&pool->lock);
	pfn = take_block(pool, n);
	spin_unlock(&pool->lock);
	return pfn;
}

struct page *alloc_folio(struct frame_pool *pool, unsigned int order, unsigned int gfp)
{
	unsigned long n = 1UL << order;
	struct page *head;
	uint32_t pfn;

	COW_ASSERT(order >= 1 && order <= MAX_FOLIO_ORDER);
	if (!(gfp & GFP_NOINJECT) && FAULT_HIT(FI_FRAME_ALLOC))
		return NULL;
	pfn = take_folio_frames(pool, n);
	if (pfn == PFN_NONE) {
		/* Free frames in the CPU caches may complete a block. */
		frame_pool_drain(pool);
		pfn = take_folio_frames(pool, n);
		if (pfn == PFN_NONE)
			return NULL;
	}
	atomic_long_sub((long)n, &pool->nr_free);
	head = &pool->pages[pfn];
	for (unsigned long i = 0; i < n; i++) {
		struct page *page = head + i;

		COW_ASSERT(page->flags == BIT_MASK(PG_free));
		memset(page, 0, sizeof(*page));
		if (i > 0) {
			page->flags = BIT_MASK(PG_tail);
			page->lru.next = (uint32_t)i;
			page->lru.prev = PFN_NONE;
		}
		if (gfp & GFP_ZERO)
			clear_page(page_address(pool, page));
	}
	head->lru.next = head->lru.prev = PFN_NONE;
	head[1].private = order;
	/* As alloc_page: the refcount goes up last. */
	head->flags = BIT_MASK(PG_head);
	smp_wmb();
	atomic_set(&head->_refcount, 1);
	return head;
}

void folio_split_frozen(struct frame_pool *pool, struct page *head)
{
	unsigned long n = folio_nr_pages(head);

	COW_CHECK(READ_PRIVATE(head->_refcount.counter) == 0 &&
			  READ_PRIVATE(head->_pincount.counter) == 0 &&
			  READ_PRIVATE(head[1]._entire_mapcount.counter) == 0,
		  "split of folio pfn %lu that is not frozen and unmapped",
		  page_to_pfn(pool, head));
	for (unsigned long i = 1; i < n; i++) {
		struct page *page = head + i;

		WRITE_PRIVATE(page->flags, READ_PRIVATE(page->flags) & ~BIT_MASK(PG_tail));
		WRITE_PRIVATE(page->lru.next, PFN_NONE);
		WRITE_PRIVATE(page->_refcount.counter, 1);
	}
	WRITE_PRIVATE(head[1].private, 0UL);
	clear_bit_private(PG_head, &head->flags);
}

/* The frames of a folio (refcount 0) back on the free list, as one
 * block. */
static void folio_to_free_list(struct frame_pool *pool, struct page *head)
{
	unsigned long pfn = page_to_pfn(pool, head), n = folio_nr_pages(head);

	for (unsigned long i = 0; i < n; i++) {
		memset(head + i, 0, sizeof(*head));
		WRITE_ONCE(head[i].flags, BIT_MASK(PG_free));
	}
	spin_lock(&pool->lock);
	for (unsigned long i = pfn; i < pfn + n; i++)
		pool->free_map[i / FRAME_MAP_BITS] |= 1UL << (i % FRAME_MAP_BITS);
	if (pfn / FRAME_MAP_BITS < pool->free_cursor)
		pool->free_cursor = pfn / FRAME_MAP_BITS;
	pool->nr_free_list += n;
	atomic_long_add((long)n, &pool->nr_free);
	spin_unlock(&pool->lock);
}

/* Free a folio whose refcount reached zero: a hugetlb folio goes back to
 * the hugetlb pool whole (free_huge_folio), any other to the free list. */
static void free_folio(struct frame_pool *pool, struct page *head)
{
	unsigned long pfn = page_to_pfn(pool, head), n = folio_nr_pages(head);
	bool hugetlb = PageFlag(head, PG_hugetlb);

	COW_CHECK(atomic_read(&head->_pincount) == 0, "freeing folio pfn %lu with pincount %d", pfn,
		  atomic_read(&head->_pincount));
	COW_CHECK(folio_entire_mapcount(head) == 0, "freeing folio pfn %lu with entire mapcount %d",
		  pfn, folio_entire_mapcount(head));
	for (unsigned long i = 0; i < n; i++) {
		struct page *page = head + i;

		COW_CHECK(atomic_read(&page->_mapcount) == 0,
			  "freeing folio pfn %lu whose pfn %lu has mapcount %d", pfn, pfn + i,
			  atomic_read(&page->_mapcount));
		COW_CHECK(i == 0 || PageFlag(page, PG_tail), "folio pfn %lu lost its tail %lu", pfn,
			  pfn + i);
		if (hugetlb && i > 0) {
			/* Back to the layout alloc_folio gave it. */
			page->mapping = page->index = 0;
			WRITE_ONCE(page->flags, BIT_MASK(PG_tail));
		}
	}
	if (!hugetlb) {
		folio_to_free_list(pool, head);
		return;
	}
	head->mapping = head->index = 0;
	WRITE_ONCE(head->flags, BIT_MASK(PG_head) | BIT_MASK(PG_hugetlb));
	spin_lock(&pool->lock);
	pool->huge_free[pool->nr_huge_free++] = (uint32_t)pfn;
	spin_unlock(&pool->lock);
}

int hugetlb_pool_grow(struct frame_pool *pool, unsigned long nr)
{
	for (unsigned long i = 0; i < nr; i++) {
		struct page *head = alloc_folio(pool, HPAGE_PMD_ORDER, GFP_NOINJECT);

		if (!head)
			return COW_ENOMEM;
		SetPageFlag(head, PG_hugetlb);
		spin_lock(&pool->lock);
		pool->nr_huge++;
		spin_unlock(&pool->lock);
		/* The last reference puts it on the pool's free stack. */
		put_page(pool, head);
	}
	return 0;
}

bool hugetlb_pool_release(struct frame_pool *pool)
{
	if (pool->nr_huge_free != pool->nr_huge || pool->resv_huge != 0)
		return false;
	while (pool->nr_huge_free > 0) {
		struct page *head = &pool->pages[pool->huge_free[--pool->nr_huge_free]];

		pool->nr_huge--;
		folio_to_free_list(pool, head);
	}
	return true;
}

int hugetlb_reserve(struct frame_pool *pool, unsigned long n)
{
	int err = COW_ENOMEM;

	spin_lock(&pool->lock);
	if (pool->nr_huge_free - pool->resv_huge >= n) {
		pool->resv_huge += n;
		err = 0;
	}
	spin_unlock(&pool->lock);
	return err;
}

void hugetlb_unreserve(struct frame_pool *pool, unsigned long n)
{
	spin_lock(&pool->lock);
	COW_CHECK(pool->resv_huge >= n, "giving back %lu huge pages of %lu reserved", n,
		  pool->resv_huge);
	pool->resv_huge -= n;
	spin_unlock(&pool->lock);
}

struct page *alloc_hugetlb_folio(struct frame_pool *pool, bool reserved)
{
	struct page *head = NULL;

	spin_lock(&pool->lock);
	COW_CHECK(!reserved || pool->resv_huge > 0, "a reserved huge page nobody reserved");
	if (reserved || pool->nr_huge_free > pool->resv_huge) {
		pool->resv_huge -= reserved;
		head = &pool->pages[pool->huge_free[--pool->nr_huge_free]];
	}
	spin_unlock(&pool->lock);
	if (head)
		atomic_set(&head->_refcount, 1);
	return head;
}

unsigned long hugetlb_pool_nr_free(const struct frame_pool *pool)
{
	return READ_ONCE(pool->nr_huge_free);
}

void free_page(struct frame_pool *pool, struct page *page)
{
	struct pcp *pcp = this_pcp(pool);
	uint32_t pfn = (uint32_t)page_to_pfn(pool, page);

	COW_CHECK(page_ref_count(page) == 0, "freeing pfn %u with refcount %d", pfn,
		  page_ref_count(page));
	COW_CHECK(page_mapcount(page) == 0, "freeing pfn %u with mapcount %d", pfn,
		  page_mapcount(page));
	COW_CHECK(!PageFlag(page, PG_free), "double free of pfn %u", pfn);
	COW_CHECK(!PageLocked(page), "freeing locked pfn %u", pfn);
	COW_CHECK(!PageFlag(page, PG_tail), "freeing tail pfn %u alone", pfn);
	if (PageFlag(page, PG_head)) {
		free_folio(pool, page);
		return;
	}
	WRITE_ONCE(page->flags, BIT_MASK(PG_free));

	spin_lock(&pcp->lock);
	pcp->pfns[pcp->count++] = pfn;
	/* Counted once it can be taken: a CPU that sees a free frame and
	 * fails to get one knows another CPU took it (direct reclaim's retry
	 * rests on that). */
	atomic_long_inc(&pool->nr_free);
	if (pcp->count == PCP_HIGH) {
		/* Give the oldest batch back, keep the hot frames. */
		spin_lock(&pool->lock);
		give_to_free_list(pool, pcp->pfns, PCP_BATCH);
		spin_unlock(&pool->lock);
		pcp->count -= PCP_BATCH;
		memmove(pcp->pfns, pcp->pfns + PCP_BATCH, pcp->count * sizeof(pcp->pfns[0]));
	}
	spin_unlock(&pcp->lock);
}

void frame_pool_drain(struct frame_pool *pool)
{
	for (int c = 0; c < pool->cpus; c++) {
		struct pcp *pcp = &pool->pcp[c];

		spin_lock(&pcp->lock);
		spin_lock(&pool->lock);
		give_to_free_list(pool, pcp->pfns, pcp->count);
		spin_unlock(&pool->lock);
		pcp->count = 0;
		spin_unlock(&pcp->lock);
	}
}

/* ---- the LRU ----------------------------------------------------------------- */

/* The list a PG_lru page is on. */
static struct lru_list *page_lru_list(struct frame_pool *pool, const struct page *page)
{
	return &pool->lru[(READ_ONCE(page->flags) & PG_LRU_LIST_MASK) >> PG_LRU_LIST_SHIFT];
}

/* Unlink a page from its LRU list; the list's lock held, PG_lru set. */
static void lru_del(struct frame_pool *pool, struct lru_list *list, struct page *page)
{
	uint32_t next = page->lru.next, prev = page->lru.prev;

	if (prev != PFN_NONE)
		pool->pages[prev].lru.next = next;
	else
		list->head = next;
	if (next != PFN_NONE)
		pool->pages[next].lru.prev = prev;
	else
		list->tail = prev;
	clear_mask(BIT_MASK(PG_lru) | PG_LRU_LIST_MASK, &page->flags);
	WRITE_LOCKED(list->nr, list->nr - 1); /* lru_size() reads it unlocked */
}

void lru_add(struct frame_pool *pool, struct page *page)
{
	unsigned long c = (unsigned long)smp_processor_id() % (unsigned long)pool->cpus;
	struct lru_list *list = &pool->lru[c];
	uint32_t pfn = (uint32_t)page_to_pfn(pool, page);

	COW_ASSERT(page_ref_count(page) > 0 && !PageFlag(page, PG_tail));
	spin_lock(&list->lock);
	COW_CHECK(!PageFlag(page, PG_lru), "pfn %u added to the LRU twice", pfn);
	page->lru.prev = PFN_NONE;
	page->lru.next = list->head;
	if (list->head != PFN_NONE)
		pool->pages[list->head].lru.prev = pfn;
	else
		list->tail = pfn;
	list->head = pfn;
	WRITE_LOCKED(list->nr, list->nr + 1);
	set_mask(BIT_MASK(PG_lru) | c << PG_LRU_LIST_SHIFT, &page->flags);
	spin_unlock(&list->lock);
}

/* Isolate up to n pages from the tail of one list into pages[]. */
static unsigned int isolate_from(struct frame_pool *pool, struct lru_list *list,
				 struct page **pages, unsigned int n)
{
	unsigned int got = 0;

	spin_lock(&list->lock);
	for (uint32_t pfn = list->tail; pfn != PFN_NONE && got < n;) {
		struct page *page = &pool->pages[pfn];

		pfn = page->lru.prev;
		/* A page whose count reached zero is being freed; its last
		 * put takes it off the list as soon as we let go. */
		if (!get_page_unless_zero(page))
			continue;
		/* Counted before it leaves the list: a CPU that finds the
		 * lists empty sees who has the pages. */
		atomic_long_inc(&pool->nr_isolated);
		lru_del(pool, list, page);
		pages[got++] = page;
	}
	spin_unlock(&list->lock);
	return got;
}

unsigned int lru_isolate(struct frame_pool *pool, struct page **pages, unsigned int n)
{
	unsigned int got = 0, first = (unsigned int)atomic_inc_return(&pool->lru_next) - 1;

	for (int i = 0; i < pool->cpus && got < n; i++) {
		struct lru_list *list =
			&pool->lru[(first + (unsigned int)i) % (unsigned int)pool->cpus];

		got += isolate_from(pool, list, pages + got, n - got);
	}
	return got;
}

void lru_isolated_done(struct frame_pool *pool, unsigned int n)
{
	atomic_long_sub(n, &pool->nr_isolated);
}

long lru_isolated(const struct frame_pool *pool)
{
	return atomic_long_read(&pool->nr_isolated);
}

unsigned long lru_size(const struct frame_pool *pool)
{
	unsigned long n = 0;

	for (int c = 0; c < pool->cpus; c++)
		n += READ_ONCE(pool->lru[c].nr);
	return n;
}

/* ---- references and pins ------------------------------------------------ */

void page_ref_sub(struct frame_pool *pool, struct page *page, int n)
{
	int left;

	page = compound_head(page);
	left = atomic_sub_return(n, &page->_refcount);

	COW_CHECK(left >= 0, "refcount of pfn %lu went negative (%d)", page_to_pfn(pool, page),
		  left);
	if (left != 0)
		return;
	/* Nobody can isolate a page with no references, so PG_lru is
	 * stable here; the list itself needs the lock. */
	if (PageFlag(page, PG_lru)) {
		struct lru_list *list = page_lru_list(pool, page);

		spin_lock(&list->lock);
		lru_del(pool, list, page);
		spin_unlock(&list->lock);
	}
	free_page(pool, page);
}

void put_page(struct frame_pool *pool, struct page *page)
{
	page_ref_sub(pool, page, 1);
}

void page_pin(struct page *page)
{
	page = compound_head(page);
	COW_ASSERT(page_ref_count(page) > 0);
	if (PageFlag(page, PG_head)) {
		atomic_inc(&page->_pincount);
		atomic_inc(&page->_refcount);
	} else {
		atomic_add(GUP_PIN_COUNTING_BIAS, &page->_refcount);
	}
}

void unpin_user_page(struct frame_pool *pool, struct page *page)
{
	page = compound_head(page);
	if (PageFlag(page, PG_head)) {
		COW_CHECK(atomic_read(&page->_pincount) > 0, "unpin of unpinned folio pfn %lu",
			  page_to_pfn(pool, page));
		atomic_dec(&page->_pincount);
		put_page(pool, page);
	} else {
		COW_CHECK(page_ref_count(page) >= GUP_PIN_COUNTING_BIAS,
			  "unpin of pfn %lu that holds no pin (refcount %d)",
			  page_to_pfn(pool, page), page_ref_count(page));
		page_ref_sub(pool, page, GUP_PIN_COUNTING_BIAS);
	}
}

bool page_maybe_dma_pinned(const struct page *page)
{
	page = compound_head(page);
	if (PageFlag(page, PG_head))
		return atomic_read(&page->_pincount) > 0;
	/* 1024 ordinary references are indistinguishable from a pin: a
	 * false positive Linux accepts. */
	return page_ref_count(page) >= GUP_PIN_COUNTING_BIAS;
}
