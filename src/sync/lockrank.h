/*
 * The lock order, written once.
 *
 * Every lock of the memory manager has a rank: its place in the list
 * below, outermost first.  A CPU may take a lock only while every lock it
 * holds ranks above it (earlier in the list); the one exception is the
 * annotated nesting of two PT locks (fork: the child's, then the parent's;
 * spin_lock_nested).  Debug builds check every acquisition (src/sync/sync.h,
 * lockdep_acquire in locks.c).
 *
 * This list is the only copy.  From it come enum lock_rank (RANK_<ID>, in
 * sync.h), the names lockdep's panics use, the order those panics print,
 * and the table in docs/architecture.md (rewritten by
 * `build/tests/test_lockrank --write-doc`; test_lockrank fails when the
 * document and this list differ).  A new kind of lock takes a line here
 * and its RANK_<ID> where it is initialised, nothing more.
 *
 * Each lock also has a letter.  The comments of src/mm's structures name
 * what protects a field by these letters, "(M)" for mmap_lock, "(M+P)"
 * for mmap_lock and page_table_lock together; COW_FIELD_MARKS lists the
 * letters that name no lock.  Each letter means one thing everywhere
 * (test_lockrank checks that every mark used in src/mm is defined here).
 *
 * X(ID, short name, name with its article, letter, what it protects)
 */
#ifndef COW_SYNC_LOCKRANK_H
#define COW_SYNC_LOCKRANK_H

#define COW_LOCK_RANKS(X)                                                                          \
	X(KSM, "KSM mutex", "the KSM mutex", 'K',                                                  \
	  "KSM's state (its list of mms, its stable pages): one KSM pass at a time")               \
	X(MMAP_LOCK, "mmap_lock", "mmap_lock", 'M',                                                \
	  "an mm's VMAs (an rwsem: read to use them, write to change them)")                       \
	X(HUGETLB_FAULT, "hugetlb fault mutex", "the hugetlb fault mutex", 'G',                    \
	  "hugetlb faults, one at a time (Linux hashes it by page), and the reservation "          \
	  "bits of a hugetlb mapping")                                                             \
	X(PAGE_LOCK, "page lock", "a page lock", 'L',                                              \
	  "a page's mapping, index and swap entry (PG_locked, a bit lock)")                        \
	X(ANON_VMA, "anon_vma", "an anon_vma lock", 'R',                                           \
	  "the reverse map: the chains of an anon_vma tree, under its root's rwsem")               \
	X(PAGE_TABLE, "page_table_lock", "a page_table_lock", 'P',                                 \
	  "an mm's upper-level table entries (populating and clearing them), its "                 \
	  "huge PMDs (the PMD lock), and vma->anon_vma")                                           \
	X(PTL, "PT lock", "a PT lock", 'E',                                                        \
	  "the 512 leaf entries of one PTE table (split: one lock per table)")                     \
	X(SHMEM, "shmem", "a shmem lock", 'H',                                                     \
	  "the page array of a shared-memory object or of a file's page cache")                    \
	X(SWAP_CACHE, "swap cache", "the swap-cache lock", 'W',                                    \
	  "the swap device: its slot counts, its search cursor and the swap cache")                \
	X(SYSTEM, "system lists", "the system's list lock", 'S',                                   \
	  "the system's lists of processes, mms and file caches, and the next pid")                \
	X(LRU, "LRU", "the LRU lock", 'U',                                                         \
	  "one CPU's LRU list: its ends and count, the links and PG_lru of its pages")             \
	X(FRAME_CACHE, "frame cache", "a frame-cache lock", 'Q', "one CPU's cache of free frames") \
	X(FRAME_POOL, "frame pool", "the frame-pool lock", 'B',                                    \
	  "the pool's free list (a bitmap) and its cursor and count, and the hugetlb pool")

/* The letters of field comments that name no lock: X(letter, meaning). */
#define COW_FIELD_MARKS(X)                                                     \
	X('C', "constant after creation")                                      \
	X('A', "atomic: read and written with atomics, under no lock")         \
	X('O', "owned by its CPU: written only by that CPU")                   \
	X('F', "owned by the allocator while the frame is free (PG_free set)") \
	X('T', "page-table pages only: set up when the table is allocated")

#endif
