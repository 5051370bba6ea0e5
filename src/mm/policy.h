/*
 * Policies: the historical rules of copy-on-write as data.
 *
 * A policy is a named preset over orthogonal rules, one field per rule; the
 * memory manager asks the active policy at each decision point ("reuse or
 * copy" in a write fault, "share or copy" at fork) instead of carrying a
 * copied code path per era.  The rules and their eras are documented in
 * docs/memory-manager.md and printed by `cowlab policies`, with the commits
 * behind them.
 *
 * Each enum holds only the choices that the code implements; a later
 * change that implements another era's rule adds its value and the presets
 * that use it.
 */
#ifndef COW_MM_POLICY_H
#define COW_MM_POLICY_H

#include "base/base.h"

/* Write fault on a present, write-protected anonymous page: reuse it in
 * place, or copy it? */
enum wp_reuse_rule {
	/* 2.4 .. 2.6.12 (can_share_swap_page before c475a8ab625d): a
	 * trylock of the page lock, copy if it is taken; reuse iff the
	 * refcount is 1, or 2 for a swap-cache page whose slot no swap PTE
	 * refers to.  Any GUP reference forces a copy. */
	REUSE_REFCOUNT_TRYLOCK,
	/* 2.6.13 .. 2.6.28 (c475a8ab625d): the same trylock, copy if the page
	 * is locked; reuse iff mapcount + swapcount == 1, so a GUP reference
	 * no longer forces a copy. */
	REUSE_MAPCOUNT_TRYLOCK,
	/* 2.6.29 .. 5.8 (ab967d86015a, c475a8ab625d): take the page lock,
	 * sleeping for it; reuse iff mapcount + swapcount == 1.  References
	 * from GUP are invisible to the decision. */
	REUSE_MAPCOUNT_LOCK,
	/* The 2009 thread's page-count proposal (Linus, 16 Mar 2009): the
	 * sleeping page lock of 2.6.29, and reuse iff the refcount is 1 once
	 * an unshared swap cache lets go (reuse_swap_page && page_count). */
	REUSE_REFCOUNT_LOCK,
	/* 5.9 .. 5.17 (09854ba94c6a): reuse iff not KSM, refcount == 1, the
	 * page lock is free (trylock) and mapcount == 1; a swap-cache page
	 * (refcount 2) is copied.  Swap-in still decides by mapcount +
	 * swapcount (reuse_swap_page), the hole CVE-2020-29374 kept open. */
	REUSE_REFCOUNT,
	/* 5.18 (COW fixes part 1): the refcount rule everywhere, swap-in
	 * included, after dropping an unshared swap cache's reference. */
	REUSE_REFCOUNT_ALL,
	/* 5.19+ (6c287605fd56): reuse at once if PG_anon_exclusive; else
	 * (not KSM) drop the references the kernel can drop, trylock, and
	 * reuse iff refcount == 1, claiming exclusivity; else copy. */
	REUSE_EXCLUSIVE,
	/* Deliberately wrong, no kernel's: reuse every anonymous page.  The
	 * sanity row of the history matrix; every COW check must catch it. */
	REUSE_ALWAYS,
};

/* What fork does with a present anonymous page of a COW mapping. */
enum fork_rule {
	/* Share it read-only with the child, always (until 5.8). */
	FORK_SHARE,
	/* Andrea Arcangeli's 2009 forkfix: write-protect the parent's PTE
	 * first, then copy for the child a page GUP has flagged (PG_gup)
	 * whose refcount exceeds mapcount + swap cache, or whose lock is
	 * taken; the parent keeps its page writable. */
	FORK_COPY_GUP_FLAGGED,
	/* Nick Piggin's 2009 patch: a page marked PG_dontcow is never shared
	 * again; the child gets a copy at once. */
	FORK_COPY_DONTCOW,
	/* 5.9 .. 5.18 (70e806e4e645): in an mm that has pinned, a page that
	 * may be pinned (page_maybe_dma_pinned) is copied for the child. */
	FORK_COPY_PINNED,
	/* 5.19+ (70e806e4e645, 6c287605fd56): share it after clearing
	 * PG_anon_exclusive, unless it is exclusive and may be pinned for
	 * DMA in an mm that has pinned (page_needs_cow_for_dma): then the
	 * child gets a copy at once and the parent keeps its page writable. */
	FORK_COPY_PINNED_EXCLUSIVE,
};

/* What get_user_pages does with a page it returns. */
enum gup_rule {
	/* Until 5.7: a write GUP faults until the PTE is writable (breaking
	 * COW), a read GUP takes the page as it is, shared or not. */
	GUP_PLAIN,
	/* Andrea's 2009 forkfix: also a read GUP breaks COW of an anonymous
	 * page whose PTE is read-only, and every anon page GUP returns gets
	 * the sticky hint PG_gup (gup-fast sets it too, needs a writable PTE
	 * and re-checks it after taking its reference). */
	GUP_DECOW_FLAG,
	/* Nick Piggin's 2009 patch: every anonymous page GUP returns is
	 * de-COWed first and marked PG_dontcow forever; gup-fast takes only
	 * anon pages marked so (the slow path marks the rest). */
	GUP_DECOW_DONTCOW,
	/* 5.8 (17839856fd58): GUP with FOLL_GET or FOLL_PIN in a COW mapping
	 * breaks COW as for a write, and gup-fast takes only writable PTEs. */
	GUP_FORCE_COW,
	/* 5.19+ (a7f226604170): a R/O FOLL_PIN of an anon page that may be
	 * shared triggers an unshare fault first, so a pin only ever holds an
	 * exclusive page. */
	GUP_UNSHARE_RO_PIN,
	/* 6.2+ (84209e87c696): as 5.19, and a R/O long-term pin of the shared
	 * zero page in a private mapping unshares it too (a fresh exclusive
	 * page is mapped first). */
	GUP_UNSHARE_ALL,
};

/* How lockless gup-fast guards against a concurrent fork or unmap. */
enum gupfast_guard {
	/* Before 2.6.27 there was no gup-fast: every GUP took the slow path
	 * under the mmap_lock. */
	GUPFAST_ABSENT,
	/* 2.6.27 .. 3.18 on x86: only the PTE it read; interrupts off keep
	 * the page from being freed, nothing stops fork from sharing it
	 * after the read. */
	GUPFAST_NONE,
	/* Andrea's 2009 forkfix, and the generic gup-fast (2667f50e8b81,
	 * x86 from 4.13): re-check the PTE after taking the reference. */
	GUPFAST_RECHECK,
	/* 5.11+ (57efa1fe5957): also sample mm->write_protect_seq around
	 * the walk of a FOLL_PIN and fall back when a fork ran meanwhile. */
	GUPFAST_RECHECK_SEQ,
};

/* How a FOLL_FORCE write (ptrace, /proc/PID/mem) goes through a read-only
 * PTE of a private mapping it may not write (no VM_WRITE) once the fault
 * it took has given the process a private copy. */
enum force_rule {
	/* 2.4: there is no maybe_mkwrite; break_cow (and every fault that
	 * writes) installs the private copy writable, so the retried lookup
	 * finds a writable PTE and writes the private copy, even after a
	 * racing MADV_DONTNEED (the next forced fault makes a new copy).  No
	 * Dirty COW, but a different bug: a mapping without VM_WRITE gets a
	 * writable PTE, and the process can then store into it. */
	FORCE_MKWRITE,
	/* 2.6 (Feb 2004, "restore protections after forced fault in
	 * get_user_pages") until 4.9: the retry after that fault drops FOLL_WRITE and takes
	 * whatever page the PTE maps as if for a read; if MADV_DONTNEED
	 * zapped the copy meanwhile, that is the page cache's page, and the
	 * kernel writes into it (Dirty COW, CVE-2016-5195). */
	FORCE_DROP_WRITE,
	/* 4.9 .. 5.19 (19be0eaffa3a): keep FOLL_WRITE, set FOLL_COW, and
	 * accept a read-only PTE only if it is dirty (the private copy). */
	FORCE_COW_DIRTY,
	/* 6.0+ (5535be309971): accept a read-only PTE only onto an exclusive
	 * anonymous page; FOLL_COW is gone. */
	FORCE_EXCLUSIVE,
};

/* How the direct-I/O engine holds the user pages during a transfer. */
enum dio_pin_rule {
	/* 2.4: a plain reference, and the page lock held until completion,
	 * so reclaim cannot unmap the page (Andrea, 2009). */
	DIO_LOCK_PAGES,
	DIO_FOLL_GET, /* 2.6 .. 6.4: a plain reference, invisible to fork */
	DIO_FOLL_PIN, /* 6.5 (a7e689dd1c06): a pin, page_maybe_dma_pinned() */
};

/* Whether reclaim may unmap a page that GUP may hold. */
enum reclaim_rule {
	/* 2.6.7 .. 2.6.12 (Andrea Arcangeli, 2004): try_to_unmap_one backs
	 * out of a swap-cache page whose refcount is raised above mapcount +
	 * the cache + the reclaimer, so a page GUP holds stays mapped. */
	RECLAIM_KEEP_RAISED_REFCOUNT,
	/* 2.4, 2.6.13 .. 5.10 (c475a8ab625d): unmap anything not locked. */
	RECLAIM_UNMAP_ANY,
	/* 5.11 .. 5.18 (feb889fb40fa): a maybe-pinned page does not enter the
	 * swap cache. */
	RECLAIM_SKIP_PINNED,
	/* 5.19+: in addition, an exclusive page is unmapped only if
	 * exclusivity can be given up, which fails when it may be pinned. */
	RECLAIM_SHARE_EXCLUSIVE,
};

/* Transparent huge pages: whether an anonymous fault in a mapping that
 * allows them maps a PMD-sized folio, and what a write fault on a
 * write-protected huge PMD does (do_huge_pmd_wp_page): reuse the folio,
 * or not (then what, thp_cow_huge says). */
enum thp_rule {
	/* Before 2.6.38, which brought THP: such a mapping faults small
	 * pages. */
	THP_NONE,
	/* 2.6.38 .. 5.17: reuse iff the folio is mapped once
	 * (reuse_swap_page through page_trans_huge_mapcount): references
	 * from GUP are invisible, the PMD twin of CVE-2020-29374 that 5.9
	 * closed for small pages only. */
	THP_REUSE_MAPCOUNT,
	/* 5.18 ("mm: COW fixes part 1", "streamline COW logic in
	 * do_huge_pmd_wp_page()"): reuse iff the folio's refcount is 1. */
	THP_REUSE_REFCOUNT,
	/* 5.19+ (6c287605fd56): reuse if the head is PG_anon_exclusive,
	 * else iff the refcount is 1, claiming exclusivity. */
	THP_REUSE_EXCLUSIVE,
	/* broken-always-reuse's rule for huge PMDs too. */
	THP_REUSE_ALWAYS,
};

/* hugetlb (MAP_HUGETLB, 2 MiB pages of the hugetlb pool): what a write
 * (or unshare) fault on a write-protected huge page of a private mapping
 * does.  Where it does not reuse the page it copies all 2 MiB into a new
 * huge page; with none to spare, SIGBUS (the mapping's owner first takes
 * the page from the children that share it, as unmap_ref_private). */
enum hugetlb_rule {
	/* 2.4: no hugetlb; such a mapping gets small pages. */
	HUGETLB_NONE,
	/* 2.6 until 2.6.16: no copy-on-write for hugetlb; a private
	 * mapping's pages are shared with the child at fork, writable, as a
	 * shared mapping's are. */
	HUGETLB_NO_COW,
	/* 2.6.16 (1e8f889b10d8, "Hugetlb: Copy on Write support") .. 2.6.35:
	 * reuse iff page_count == 1, so a GUP reference forces a copy. */
	HUGETLB_REUSE_REFCOUNT,
	/* 2.6.36 (0fe6e20b9c4c, "hugetlb, rmap: add reverse mapping for
	 * hugepage") to this day: reuse iff mapped once (page_mapcount), so
	 * GUP references are invisible; the vmsplice leak of
	 * CVE-2020-29374 stays open for hugetlb (cow.c marks it XFAIL). */
	HUGETLB_REUSE_MAPCOUNT,
	/* broken-always-reuse's rule for hugetlb too. */
	HUGETLB_REUSE_ALWAYS,
};

/* Every rule field below name, summary and commits also joins
 * cow_policy_hash() (policy.c), which replay tokens carry, and the
 * listing of cow_policy_rules(). */
struct cow_policy {
	const char *name;
	const char *summary; /* one line */
	const char *commits; /* the commits behind the rules */
	enum wp_reuse_rule wp_reuse;
	enum fork_rule fork;
	/* Maintain and check PG_anon_exclusive (5.19+): a writable anon PTE
	 * implies an exclusive page. */
	bool anon_exclusive;
	enum gup_rule gup;
	enum gupfast_guard gupfast;
	enum force_rule force;
	/* UFFDIO_CONTINUE installs its PTE dirty (9ae0f87d009c, 5.16+). */
	bool uffd_dirty;
	enum dio_pin_rule dio_pin;
	/* mmlock-2009: direct I/O holds the mm's dio_sem for read from GUP
	 * to completion, and fork takes it for write (the mm-wide lock
	 * outside GUP of the 2009 thread, KOSAKI's directio_sem). */
	bool dio_mm_lock;
	enum reclaim_rule reclaim;
	/* clear_refs soft-dirty leaves maybe-pinned anonymous pages of an mm
	 * that has pinned writable (5.11, "mm: don't play games
	 * with pinned pages in clear_page_refs"); before, every present PTE
	 * was write-protected (soft-dirty tracking itself dates from 3.11;
	 * the 2.6.29 preset gets that first rule). */
	bool clear_refs_skip_pinned;
	/* mprotect giving write back maps an exclusive anonymous page of a
	 * private mapping writable at once, without waiting for a write
	 * fault (can_change_pte_writable, 64fe24a3e05e, 6.0).  Before, only
	 * the write fault makes such a PTE writable again. */
	bool mprotect_upgrade;
	/* Before fork copies a page for the child (the early copy of a
	 * maybe-pinned page), it write-protects the parent's PTE and shoots
	 * the TLBs down, so no thread of the parent writes the page during
	 * the copy; the parent's next write faults, waits for fork to end and
	 * reuses its exclusive page.  The 2025 linux-mm proposal "ensure fork
	 * child sees coherent memory snapshot" (Jann Horn); until then the
	 * parent's PTE stays writable and a parent thread's stores can tear
	 * the child's copy.  (The 2009 forkfix write-protects and flushes as
	 * part of its own fork rule.) */
	bool fork_copy_coherent;
	/* Transparent huge pages (fork of a huge PMD follows the fork rule:
	 * a folio fork would copy for the child is split first, and its
	 * PTEs copied one by one, as d042035eaf5f did from 5.9). */
	enum thp_rule thp;
	/* GUP's FOLL_TOUCH marks a huge PMD dirty even for a read
	 * (touch_pmd() until a8f97366452e, 4.15): the dirty bit 4.9's
	 * FOLL_COW test takes for a forced write's private copy then stands
	 * on the huge zero page (Huge Dirty COW, CVE-2017-1000405).  After
	 * the fix, only a write dirties it. */
	bool thp_touch_dirty;
	/* 2.6.38 .. 5.7: a write fault on a huge PMD that does not reuse its
	 * folio copies all 2 MiB into a new THP, and one on the huge zero
	 * page maps a new zeroed THP (split to PTEs only when no THP can be
	 * had).  From 5.8 (3917c80280c9, "thp: change CoW semantics for
	 * anon-THP") the PMD is split and the PTE fault copies the page
	 * touched (6.13 maps a new THP for the huge zero page again). */
	bool thp_cow_huge;
	/* khugepaged collapses a range whose pages other processes map too
	 * (up to max_ptes_shared, 256) and the pages of a PTE-mapped THP
	 * (5.8: 71a2c112a0f6 "khugepaged: introduce 'max_ptes_shared'
	 * tunable", "khugepaged: allow to collapse PTE-mapped compound
	 * pages").  Before, a page with a reference beyond its one mapping
	 * (page_count != 1 + swap cache: shared after fork, or held by GUP)
	 * or a page of a large folio stops the collapse. */
	bool khugepaged_shared;
	enum hugetlb_rule hugetlb;
	/* fork copies a hugetlb page for the child where the fork rule
	 * would copy a small page (5.12, 4eae4efa2c29 "hugetlb: do early cow
	 * when page pinned on src mm"; the 2009 forkfix's
	 * copy_hugetlb_page_range too).  Otherwise every hugetlb page is
	 * shared. */
	bool hugetlb_fork_copy;
	/* MADV_COLLAPSE (6.1, 7d8faaf15545): collapse a range mapped by
	 * PTEs into a THP, copied into a new folio. */
	bool madv_collapse;
};

/* The preset of that name, or NULL. */
const struct cow_policy *cow_policy_find(const char *name);
/* The default preset (linux-6.5). */
const struct cow_policy *cow_policy_default(void);
/* Presets in historical order; *nr receives their number. */
const struct cow_policy *cow_policy_list(int *nr);

const char *wp_reuse_rule_name(enum wp_reuse_rule r);
const char *fork_rule_name(enum fork_rule r);

#endif /* COW_MM_POLICY_H */
