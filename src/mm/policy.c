/*
 * The table of policy presets (see policy.h).  Adding an era is adding a
 * row here and, where its rule is new, a value to a rule enum and a case at
 * the decision point that reads it.
 */
#include "policy.h"

#include "cowlab.h"
#include "sync/sync.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rule groups shared by several presets.  Each preset names every rule
 * exactly once (through a group or by itself). */
#define NO_PINS                                                                 \
	.anon_exclusive = false, .dio_pin = DIO_FOLL_GET, .dio_mm_lock = false, \
	.clear_refs_skip_pinned = false
#define PINS_511 /* 5.11 .. 5.18 */                                                    \
	.fork = FORK_COPY_PINNED, .anon_exclusive = false, .gup = GUP_PLAIN,           \
	.gupfast = GUPFAST_RECHECK_SEQ, .dio_pin = DIO_FOLL_GET, .dio_mm_lock = false, \
	.reclaim = RECLAIM_SKIP_PINNED, .clear_refs_skip_pinned = true
#define EXCLUSIVE_519 /* 5.19+ */                                                                 \
	.wp_reuse = REUSE_EXCLUSIVE, .fork = FORK_COPY_PINNED_EXCLUSIVE, .anon_exclusive = true,  \
	.gupfast = GUPFAST_RECHECK_SEQ, .dio_mm_lock = false, .reclaim = RECLAIM_SHARE_EXCLUSIVE, \
	.clear_refs_skip_pinned = true

static const struct cow_policy presets[] = {
	{
		.name = "linux-2.4",
		.thp = THP_NONE,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = false,
		.hugetlb = HUGETLB_NONE,
		.hugetlb_fork_copy = false,
		.madv_collapse = false,
		.summary = "refcount-based reuse under a page-lock trylock; direct I/O holds "
			   "the page lock until completion, so reclaim cannot unmap the page",
		.commits = "2.4 direct I/O (page lock held to end_io), as Andrea recalls it "
			   "in the 2009 thread; no gup-fast",
		.wp_reuse = REUSE_REFCOUNT_TRYLOCK,
		.fork = FORK_SHARE,
		.gup = GUP_PLAIN,
		.gupfast = GUPFAST_ABSENT,
		.anon_exclusive = false,
		.dio_pin = DIO_LOCK_PAGES,
		.dio_mm_lock = false,
		.reclaim = RECLAIM_UNMAP_ANY,
		.clear_refs_skip_pinned = false,
		.force = FORCE_MKWRITE,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
	{
		.name = "linux-2.6.7",
		.thp = THP_NONE,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = false,
		.hugetlb = HUGETLB_NO_COW,
		.hugetlb_fork_copy = false,
		.madv_collapse = false,
		.summary = "refcount-based reuse under a page-lock trylock; reclaim never "
			   "unmaps a page GUP holds (2.6.7's rule, gone in 2.6.13)",
		.commits = "try_to_unmap_one's page_count back-out (v2.6.7), removed by "
			   "c475a8ab625d (v2.6.13)",
		.wp_reuse = REUSE_REFCOUNT_TRYLOCK,
		.fork = FORK_SHARE,
		.gup = GUP_PLAIN,
		.gupfast = GUPFAST_ABSENT,
		NO_PINS,
		.reclaim = RECLAIM_KEEP_RAISED_REFCOUNT,
		.force = FORCE_DROP_WRITE,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
	{
		.name = "linux-2.6.13",
		.thp = THP_NONE,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = false,
		.hugetlb = HUGETLB_NO_COW,
		.hugetlb_fork_copy = false,
		.madv_collapse = false,
		.summary = "mapcount-based reuse under a page-lock trylock (a locked page "
			   "is copied); reclaim unmaps any page",
		.commits = "c475a8ab625d (v2.6.13); the trylock until ab967d86015a (v2.6.29)",
		.wp_reuse = REUSE_MAPCOUNT_TRYLOCK,
		.fork = FORK_SHARE,
		.gup = GUP_PLAIN,
		.gupfast = GUPFAST_ABSENT,
		NO_PINS,
		.reclaim = RECLAIM_UNMAP_ANY,
		.force = FORCE_DROP_WRITE,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
	{
		.name = "linux-2.6.29",
		.thp = THP_NONE,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = false,
		.hugetlb = HUGETLB_REUSE_REFCOUNT,
		.hugetlb_fork_copy = false,
		.madv_collapse = false,
		.summary = "mapcount-based reuse under the sleeping page lock; fork "
			   "shares every anonymous page (the 2009 thread's baseline)",
		.commits = "c475a8ab625d (v2.6.13), x86 gup-fast (v2.6.27), ab967d86015a "
			   "(v2.6.29)",
		.wp_reuse = REUSE_MAPCOUNT_LOCK,
		.fork = FORK_SHARE,
		.gup = GUP_PLAIN,
		.gupfast = GUPFAST_NONE,
		NO_PINS,
		.reclaim = RECLAIM_UNMAP_ANY,
		.force = FORCE_DROP_WRITE,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
	{
		.name = "forkfix-2009",
		.thp = THP_NONE,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = false,
		.hugetlb = HUGETLB_REUSE_REFCOUNT,
		.hugetlb_fork_copy = true,
		.madv_collapse = false,
		.summary = "Andrea's patch: GUP flags pages (PG_gup) and de-COWs them even "
			   "for reads; fork copies flagged pages with extra references "
			   "for the child; gup-fast re-checks the PTE",
		.commits = "\"[PATCH] fork vs gup(-fast) fix\", linux-mm, 11-17 Mar 2009; "
			   "never merged",
		.wp_reuse = REUSE_MAPCOUNT_LOCK,
		.fork = FORK_COPY_GUP_FLAGGED,
		.gup = GUP_DECOW_FLAG,
		.gupfast = GUPFAST_RECHECK,
		NO_PINS,
		.reclaim = RECLAIM_UNMAP_ANY,
		.force = FORCE_DROP_WRITE,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
	{
		.name = "dontcow-2009",
		.thp = THP_NONE,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = false,
		.hugetlb = HUGETLB_REUSE_REFCOUNT,
		.hugetlb_fork_copy = false,
		.madv_collapse = false,
		.summary = "Nick's patch: GUP de-COWs every anon page and marks it "
			   "PG_dontcow forever; fork copies dontcow pages for the child; "
			   "gup-fast only for dontcow pages",
		.commits = "Nick Piggin's alternative in the same thread, Mar 2009; never "
			   "merged",
		.wp_reuse = REUSE_MAPCOUNT_LOCK,
		.fork = FORK_COPY_DONTCOW,
		.gup = GUP_DECOW_DONTCOW,
		.gupfast = GUPFAST_NONE,
		NO_PINS,
		.reclaim = RECLAIM_UNMAP_ANY,
		.force = FORCE_DROP_WRITE,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
	{
		.name = "pagecount-2009",
		.thp = THP_NONE,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = false,
		.hugetlb = HUGETLB_REUSE_REFCOUNT,
		.hugetlb_fork_copy = false,
		.madv_collapse = false,
		.summary = "Linus's proposal: reuse iff the page count is 1, with 2.6.7's "
			   "rule that reclaim never unmaps a page with a raised count",
		.commits = "Linus Torvalds, 16-17 Mar 2009 (reuse_swap_page && page_count == "
			   "1); Andrea's condition: the 2.6.7 reclaim rule; never merged",
		.wp_reuse = REUSE_REFCOUNT_LOCK,
		.fork = FORK_SHARE,
		.gup = GUP_PLAIN,
		.gupfast = GUPFAST_NONE,
		NO_PINS,
		.reclaim = RECLAIM_KEEP_RAISED_REFCOUNT,
		.force = FORCE_DROP_WRITE,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
	{
		.name = "mmlock-2009",
		.thp = THP_NONE,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = false,
		.hugetlb = HUGETLB_REUSE_REFCOUNT,
		.hugetlb_fork_copy = false,
		.madv_collapse = false,
		.summary = "linux-2.6.29 plus an mm-wide lock outside GUP: direct I/O holds it "
			   "for read from GUP to completion, fork takes it for write",
		.commits = "Linus's per-mm lock idea and KOSAKI Motohiro's directio_sem "
			   "(Mar-Apr 2009); never merged",
		.wp_reuse = REUSE_MAPCOUNT_LOCK,
		.fork = FORK_SHARE,
		.gup = GUP_PLAIN,
		.gupfast = GUPFAST_NONE,
		.anon_exclusive = false,
		.dio_pin = DIO_FOLL_GET,
		.dio_mm_lock = true,
		.reclaim = RECLAIM_UNMAP_ANY,
		.clear_refs_skip_pinned = false,
		.force = FORCE_DROP_WRITE,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
	{
		.name = "linux-4.14",
		.thp = THP_REUSE_MAPCOUNT,
		.thp_touch_dirty = true,
		.thp_cow_huge = true,
		.khugepaged_shared = false,
		.hugetlb = HUGETLB_REUSE_MAPCOUNT,
		.hugetlb_fork_copy = false,
		.madv_collapse = false,
		.summary = "mapcount-based reuse for small pages, THP and hugetlb; Dirty COW "
			   "fixed by FOLL_COW, but a read GUP dirties a huge PMD (Huge Dirty COW)",
		.commits = "19be0eaffa3a (v4.9, FOLL_COW), 8310d48b125d (FOLL_COW for THP), "
			   "x86 generic gup-fast (v4.13); the touch fixed by a8f97366452e "
			   "(v4.15)",
		.wp_reuse = REUSE_MAPCOUNT_LOCK,
		.fork = FORK_SHARE,
		.gup = GUP_PLAIN,
		.gupfast = GUPFAST_RECHECK,
		NO_PINS,
		.reclaim = RECLAIM_UNMAP_ANY,
		.force = FORCE_COW_DIRTY,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
	{
		.name = "linux-5.8",
		.thp = THP_REUSE_MAPCOUNT,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = true,
		.hugetlb = HUGETLB_REUSE_MAPCOUNT,
		.hugetlb_fork_copy = false,
		.madv_collapse = false,
		.summary = "mapcount-based reuse; GUP in a COW mapping breaks COW even for "
			   "reads, gup-fast takes only writable PTEs",
		.commits = "17839856fd58 (v5.8, CVE-2020-29374); generic gup-fast PTE "
			   "re-check 2667f50e8b81",
		.wp_reuse = REUSE_MAPCOUNT_LOCK,
		.fork = FORK_SHARE,
		.gup = GUP_FORCE_COW,
		.gupfast = GUPFAST_RECHECK,
		NO_PINS,
		.reclaim = RECLAIM_UNMAP_ANY,
		.force = FORCE_COW_DIRTY,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
	{
		.name = "linux-5.9",
		.thp = THP_REUSE_MAPCOUNT,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = true,
		.hugetlb = HUGETLB_REUSE_MAPCOUNT,
		.hugetlb_fork_copy = false,
		.madv_collapse = false,
		.summary = "refcount-based reuse (swap-in still by mapcount); fork copies "
			   "maybe-pinned pages for the child; no forced COW in GUP",
		.commits = "09854ba94c6a, a308c71bf1e6, 008cfe4418b3, 70e806e4e645, "
			   "d042035eaf5f (v5.9)",
		.wp_reuse = REUSE_REFCOUNT,
		.fork = FORK_COPY_PINNED,
		.gup = GUP_PLAIN,
		.gupfast = GUPFAST_RECHECK,
		NO_PINS,
		.reclaim = RECLAIM_UNMAP_ANY,
		.force = FORCE_COW_DIRTY,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
	{
		.name = "linux-5.11",
		.thp = THP_REUSE_MAPCOUNT,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = true,
		.hugetlb = HUGETLB_REUSE_MAPCOUNT,
		.hugetlb_fork_copy = false,
		.madv_collapse = false,
		.summary = "5.9 plus gup-fast's write_protect_seq, no pinned page into the "
			   "swap cache, clear_refs leaves pinned pages",
		.commits = "57efa1fe5957, feb889fb40fa, \"mm: don't play games with pinned "
			   "pages in clear_page_refs\" (v5.11)",
		.wp_reuse = REUSE_REFCOUNT,
		PINS_511,
		.force = FORCE_COW_DIRTY,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
	{
		.name = "linux-5.18",
		.thp = THP_REUSE_REFCOUNT,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = true,
		.hugetlb = HUGETLB_REUSE_MAPCOUNT,
		.hugetlb_fork_copy = true,
		.madv_collapse = false,
		.summary = "the refcount rule everywhere, swap-in included, after dropping "
			   "an unshared swap cache",
		.commits = "\"mm: COW fixes part 1\" (Hildenbrand, v5.18): reuse_swap_page() "
			   "removed",
		.wp_reuse = REUSE_REFCOUNT_ALL,
		PINS_511,
		.force = FORCE_COW_DIRTY,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = true,
	},
	{
		.name = "linux-5.19",
		.thp = THP_REUSE_EXCLUSIVE,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = true,
		.hugetlb = HUGETLB_REUSE_MAPCOUNT,
		.hugetlb_fork_copy = true,
		.madv_collapse = false,
		.summary = "PG_anon_exclusive decides reuse, else refcount == 1; R/O pins "
			   "unshare first; fork copies maybe-pinned exclusive pages",
		.commits = "6c287605fd56, c89357e27f20, a7f226604170, 1493a1913e34 (v5.19)",
		EXCLUSIVE_519,
		.gup = GUP_UNSHARE_RO_PIN,
		.dio_pin = DIO_FOLL_GET,
		.force = FORCE_COW_DIRTY,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = true,
	},
	{
		.name = "linux-6.2",
		.thp = THP_REUSE_EXCLUSIVE,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = true,
		.hugetlb = HUGETLB_REUSE_MAPCOUNT,
		.hugetlb_fork_copy = true,
		.madv_collapse = true,
		.summary = "5.19 plus R/O long-term pins that unshare the zero page too",
		.commits = "84209e87c696 (v6.2), on 5.19's",
		EXCLUSIVE_519,
		.gup = GUP_UNSHARE_ALL,
		.dio_pin = DIO_FOLL_GET,
		.force = FORCE_EXCLUSIVE,
		.mprotect_upgrade = true,
		.fork_copy_coherent = false,
		.uffd_dirty = true,
	},
	{
		.name = "linux-6.5",
		.thp = THP_REUSE_EXCLUSIVE,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = true,
		.hugetlb = HUGETLB_REUSE_MAPCOUNT,
		.hugetlb_fork_copy = true,
		.madv_collapse = true,
		.summary = "PG_anon_exclusive decides reuse, else refcount == 1; fork "
			   "copies maybe-pinned exclusive pages; direct I/O pins",
		.commits = "09854ba94c6a (v5.9), 70e806e4e645 (v5.9), 57efa1fe5957 "
			   "(v5.11), 6c287605fd56 (v5.19), c89357e27f20 (v5.19), "
			   "84209e87c696 (v6.2), a7e689dd1c06 (v6.5)",
		EXCLUSIVE_519,
		.gup = GUP_UNSHARE_ALL,
		.dio_pin = DIO_FOLL_PIN,
		.force = FORCE_EXCLUSIVE,
		.mprotect_upgrade = true,
		.fork_copy_coherent = false,
		.uffd_dirty = true,
	},
	{
		.name = "fork-coherent-2025",
		.thp = THP_REUSE_EXCLUSIVE,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = true,
		.hugetlb = HUGETLB_REUSE_MAPCOUNT,
		.hugetlb_fork_copy = true,
		.madv_collapse = true,
		.summary = "linux-6.5 plus a coherent snapshot at fork: the parent's PTE is "
			   "write-protected and flushed before its page is copied for the child",
		.commits = "\"mm/memory: ensure fork child sees coherent memory snapshot\" "
			   "(Jann Horn, linux-mm, 2025), on linux-6.5's rules",
		EXCLUSIVE_519,
		.gup = GUP_UNSHARE_ALL,
		.dio_pin = DIO_FOLL_PIN,
		.force = FORCE_EXCLUSIVE,
		.mprotect_upgrade = true,
		.fork_copy_coherent = true,
		.uffd_dirty = true,
	},
	{
		.name = "broken-always-reuse",
		.thp = THP_REUSE_ALWAYS,
		.thp_touch_dirty = false,
		.thp_cow_huge = false,
		.khugepaged_shared = true,
		.hugetlb = HUGETLB_REUSE_ALWAYS,
		.hugetlb_fork_copy = false,
		.madv_collapse = true,
		.summary = "deliberately wrong: a write fault always reuses the page, so "
			   "writes after fork leak into the other process (a negative control)",
		.commits = "none: no kernel shipped this rule",
		.wp_reuse = REUSE_ALWAYS,
		.fork = FORK_SHARE,
		.gup = GUP_PLAIN,
		.gupfast = GUPFAST_NONE,
		NO_PINS,
		.reclaim = RECLAIM_UNMAP_ANY,
		.force = FORCE_EXCLUSIVE,
		.mprotect_upgrade = false,
		.fork_copy_coherent = false,
		.uffd_dirty = false,
	},
};

static const struct cow_policy *custom_find(const char *spec);
static const struct cow_policy *alias_find(const char *name);

const struct cow_policy *cow_policy_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(presets); i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return strchr(name, '+') ? custom_find(name) : alias_find(name);
}

const struct cow_policy *cow_policy_default(void)
{
	return cow_policy_find("linux-6.5");
}

const struct cow_policy *cow_policy_list(int *nr)
{
	*nr = (int)ARRAY_SIZE(presets);
	return presets;
}

int cow_policy_count(void)
{
	return (int)ARRAY_SIZE(presets);
}

const struct cow_policy *cow_policy_at(int i)
{
	return i >= 0 && i < (int)ARRAY_SIZE(presets) ? &presets[i] : NULL;
}

const char *cow_policy_name(const struct cow_policy *p)
{
	return p->name;
}

const char *cow_policy_summary(const struct cow_policy *p)
{
	return p->summary;
}

const char *cow_policy_commits(const struct cow_policy *p)
{
	return p->commits;
}

/* A value of a rule: its short name (what a rule set writes) and the
 * words `cowlab policies` prints for it.  Indexed by the enum's value. */
struct rule_value {
	const char *name, *text;
};

static const struct rule_value off_on[] = {{"off", ""}, {"on", ""}};
static const struct rule_value wp_reuse_values[] = {
	[REUSE_REFCOUNT_TRYLOCK] = {"refcount-trylock", "reuse iff refcount == 1 (+ an unshared "
							"swap cache), page lock trylock"},
	[REUSE_MAPCOUNT_TRYLOCK] = {"mapcount-trylock",
				    "reuse iff mapcount + swapcount == 1, page lock trylock"},
	[REUSE_MAPCOUNT_LOCK] = {"mapcount-lock",
				 "reuse iff mapcount + swapcount == 1 (page lock)"},
	[REUSE_REFCOUNT_LOCK] = {"refcount-lock",
				 "reuse iff refcount == 1 (+ an unshared swap cache), page lock"},
	[REUSE_REFCOUNT] = {"refcount", "reuse iff refcount == 1 and mapcount == 1 (swap-in: "
					"mapcount + swapcount)"},
	[REUSE_REFCOUNT_ALL] = {"refcount-all", "reuse iff refcount == 1, swap-in too, after "
						"dropping the swap cache"},
	[REUSE_EXCLUSIVE] = {"exclusive", "reuse if exclusive, else iff refcount == 1"},
	[REUSE_ALWAYS] = {"always", "always reuse (deliberately wrong)"},
};
static const struct rule_value fork_values[] = {
	[FORK_SHARE] = {"share", "share every anonymous page"},
	[FORK_COPY_GUP_FLAGGED] = {"copy-gup-flagged", "copy PG_gup pages with references beyond "
						       "mapcount + swap cache"},
	[FORK_COPY_DONTCOW] = {"copy-dontcow", "copy PG_dontcow pages for the child"},
	[FORK_COPY_PINNED] = {"copy-pinned", "copy maybe-pinned pages for the child"},
	[FORK_COPY_PINNED_EXCLUSIVE] = {"copy-pinned-exclusive",
					"copy maybe-pinned exclusive pages for the child"},
};
static const struct rule_value gup_values[] = {
	[GUP_PLAIN] = {"plain", "write GUP breaks COW, read GUP takes the page as is"},
	[GUP_DECOW_FLAG] = {"decow-flag", "break COW for reads too, flag pages PG_gup"},
	[GUP_DECOW_DONTCOW] = {"decow-dontcow",
			       "break COW for reads too, mark pages PG_dontcow forever"},
	[GUP_FORCE_COW] = {"force-cow", "every GUP in a COW mapping breaks COW as for a write"},
	[GUP_UNSHARE_RO_PIN] = {"unshare-ro-pin",
				"also unshare before a R/O pin of a maybe-shared page"},
	[GUP_UNSHARE_ALL] = {"unshare-all", "also unshare before a R/O pin of a maybe-shared page "
					    "or the zero page"},
};
static const struct rule_value gupfast_values[] = {
	[GUPFAST_ABSENT] = {"absent", "none (no gup-fast: the slow path)"},
	[GUPFAST_NONE] = {"none", "the PTE as read, no re-check"},
	[GUPFAST_RECHECK] = {"recheck", "PTE re-check after the reference"},
	[GUPFAST_RECHECK_SEQ] = {"recheck-seq", "PTE re-check, write_protect_seq for pins"},
};
static const struct rule_value force_values[] = {
	[FORCE_MKWRITE] = {"mkwrite", "the COW fault maps the private copy writable, even "
				      "without VM_WRITE"},
	[FORCE_DROP_WRITE] = {"drop-write", "after the COW fault, retry as a read (Dirty COW)"},
	[FORCE_COW_DIRTY] = {"cow-dirty", "FOLL_COW: a read-only PTE only if dirty"},
	[FORCE_EXCLUSIVE] = {"exclusive", "a read-only PTE only onto an exclusive anon page"},
};
static const struct rule_value dio_pin_values[] = {
	[DIO_LOCK_PAGES] = {"lock-pages", "a plain reference and the page lock until completion"},
	[DIO_FOLL_GET] = {"foll-get", "FOLL_GET (a plain reference)"},
	[DIO_FOLL_PIN] = {"foll-pin", "FOLL_PIN"},
};
static const struct rule_value reclaim_values[] = {
	[RECLAIM_KEEP_RAISED_REFCOUNT] = {"keep-raised-refcount",
					  "never unmap a page with a raised refcount"},
	[RECLAIM_UNMAP_ANY] = {"unmap-any", "unmap any unlocked page, GUP references or not"},
	[RECLAIM_SKIP_PINNED] = {"skip-pinned", "keep maybe-pinned pages out of the swap cache"},
	[RECLAIM_SHARE_EXCLUSIVE] = {"share-exclusive", "keep maybe-pinned pages mapped"},
};
static const struct rule_value thp_values[] = {
	[THP_NONE] = {"none", "none (small pages only)"},
	[THP_REUSE_MAPCOUNT] = {"reuse-mapcount", "PMD write fault reuses iff mapped once"},
	[THP_REUSE_REFCOUNT] = {"reuse-refcount", "PMD write fault reuses iff refcount == 1"},
	[THP_REUSE_EXCLUSIVE] = {"reuse-exclusive",
				 "PMD write fault reuses if exclusive or refcount == 1"},
	[THP_REUSE_ALWAYS] = {"reuse-always", "PMD write fault always reuses (deliberately wrong)"},
};
static const struct rule_value hugetlb_values[] = {
	[HUGETLB_NONE] = {"none", "none (small pages only)"},
	[HUGETLB_NO_COW] = {"no-cow", "no COW: fork shares private huge pages writable"},
	[HUGETLB_REUSE_REFCOUNT] = {"reuse-refcount",
				    "write fault reuses iff refcount == 1, else copies"},
	[HUGETLB_REUSE_MAPCOUNT] = {"reuse-mapcount",
				    "write fault reuses iff mapped once, else copies"},
	[HUGETLB_REUSE_ALWAYS] = {"reuse-always", "write fault always reuses (deliberately wrong)"},
};

/* The words of value v of a table of n, "?" for one it does not name. */
static const char *value_text(const struct rule_value *t, size_t n, int v)
{
	return v >= 0 && (size_t)v < n && t[v].text ? t[v].text : "?";
}
#define RULE_TEXT(table, v) value_text(table, ARRAY_SIZE(table), (int)(v))

const char *wp_reuse_rule_name(enum wp_reuse_rule r)
{
	return RULE_TEXT(wp_reuse_values, r);
}

const char *fork_rule_name(enum fork_rule r)
{
	return RULE_TEXT(fork_values, r);
}

const char *cow_policy_rules(const struct cow_policy *p, char *buf, unsigned long len)
{
	snprintf(buf, len,
		 "write-fault reuse: %s\n"
		 "fork:              %s\n"
		 "anon-exclusive:    %s\n"
		 "get_user_pages:    %s\n"
		 "gup-fast guard:    %s\n"
		 "direct I/O holds:  %s\n"
		 "dio vs fork:       %s\n"
		 "forced write:      %s\n"
		 "UFFDIO_CONTINUE:   %s\n"
		 "reclaim:           %s\n"
		 "clear_refs:        %s\n"
		 "mprotect +write:   %s\n"
		 "fork's early copy: %s\n"
		 "huge pages (THP): %s\n"
		 "GUP's touch:       %s\n"
		 "THP copy-on-write: %s\n"
		 "khugepaged:        %s\n"
		 "hugetlb:           %s\n"
		 "hugetlb at fork:   %s\n"
		 "MADV_COLLAPSE:     %s\n",
		 wp_reuse_rule_name(p->wp_reuse), fork_rule_name(p->fork),
		 p->anon_exclusive ? "tracked and checked (PG_anon_exclusive)" : "not used",
		 RULE_TEXT(gup_values, p->gup), RULE_TEXT(gupfast_values, p->gupfast),
		 RULE_TEXT(dio_pin_values, p->dio_pin),
		 p->dio_mm_lock ? "an mm rwsem: I/O holds it for read, fork for write" : "no lock",
		 RULE_TEXT(force_values, p->force),
		 p->uffd_dirty ? "installs the PTE dirty (5.16+)" : "installs the PTE clean",
		 RULE_TEXT(reclaim_values, p->reclaim),
		 p->clear_refs_skip_pinned ? "skips maybe-pinned pages (5.11)"
					   : "write-protects every page",
		 p->mprotect_upgrade ? "maps exclusive anon pages writable at once (6.0)"
				     : "leaves private pages to the write fault",
		 p->fork_copy_coherent ? "write-protects and flushes first (a coherent snapshot)"
				       : "the parent's PTE stays writable meanwhile",
		 RULE_TEXT(thp_values, p->thp),
		 p->thp == THP_NONE   ? "no huge PMDs (no THP)"
		 : p->thp_touch_dirty ? "dirties a huge PMD, even for a read (before 4.15)"
				      : "dirties a huge PMD only for a write (4.15)",
		 p->thp == THP_NONE ? "none (no THP)"
		 : p->thp_cow_huge  ? "a new THP, copied whole (a new zeroed one for the huge "
				      "zero page; before 5.8)"
				    : "split the PMD, copy the page touched (5.8)",
		 p->thp == THP_NONE	? "none (no THP)"
		 : p->khugepaged_shared ? "collapses shared pages too, up to 256 (5.8)"
					: "stops at a page with a reference beyond its mapping",
		 RULE_TEXT(hugetlb_values, p->hugetlb),
		 p->hugetlb_fork_copy ? "copied for the child where a small page would be"
				      : "always shared",
		 p->madv_collapse ? "copies PTE-mapped pages into a new THP (6.1)"
				  : "none (EINVAL)");
	return buf;
}

/* ---- the rules as knobs ----------------------------------------------------------
 *
 * Every rule field of struct cow_policy, by the name a user sets it with
 * (`--policy linux-6.5+fork=share`) and the short names of its values, in
 * the order the hash reads them.  An enum rule's values are its table of
 * rule_value above, indexed by the enum; a bool rule's are off and on. */

struct policy_knob {
	const char *name;
	const char *what; /* the line of `cowlab policies` it is */
	size_t offset;	  /* of the field in struct cow_policy */
	bool is_bool;
	const struct rule_value *values;
	int nr_values;
};

#define ENUM_KNOB(field, what, vals)                                                            \
	{                                                                                       \
#field, what, offsetof(struct cow_policy, field), false, vals, ARRAY_SIZE(vals) \
	}
#define BOOL_KNOB(field, what)                                                    \
	{                                                                         \
#field, what, offsetof(struct cow_policy, field), true, off_on, 2 \
	}

static const struct policy_knob knobs[] = {
	ENUM_KNOB(wp_reuse, "write-fault reuse", wp_reuse_values),
	ENUM_KNOB(fork, "fork", fork_values),
	BOOL_KNOB(anon_exclusive, "PG_anon_exclusive tracked and checked (5.19)"),
	ENUM_KNOB(gup, "get_user_pages", gup_values),
	ENUM_KNOB(gupfast, "gup-fast guard", gupfast_values),
	ENUM_KNOB(force, "forced write", force_values),
	BOOL_KNOB(uffd_dirty, "UFFDIO_CONTINUE installs the PTE dirty (5.16)"),
	ENUM_KNOB(dio_pin, "direct I/O holds", dio_pin_values),
	BOOL_KNOB(dio_mm_lock, "dio vs fork: an mm rwsem (mmlock-2009)"),
	ENUM_KNOB(reclaim, "reclaim", reclaim_values),
	BOOL_KNOB(clear_refs_skip_pinned, "clear_refs skips maybe-pinned pages (5.11)"),
	BOOL_KNOB(mprotect_upgrade, "mprotect +write maps exclusive pages writable (6.0)"),
	BOOL_KNOB(fork_copy_coherent, "fork's early copy write-protects and flushes first"),
	ENUM_KNOB(thp, "huge pages (THP)", thp_values),
	BOOL_KNOB(thp_touch_dirty, "GUP's touch dirties a huge PMD even for a read (< 4.15)"),
	BOOL_KNOB(thp_cow_huge, "THP copy-on-write copies the whole huge page (< 5.8)"),
	BOOL_KNOB(khugepaged_shared, "khugepaged collapses shared pages too (5.8)"),
	ENUM_KNOB(hugetlb, "hugetlb", hugetlb_values),
	BOOL_KNOB(hugetlb_fork_copy, "fork copies a maybe-pinned hugetlb page (5.12)"),
	BOOL_KNOB(madv_collapse, "MADV_COLLAPSE (6.1)"),
};

static int knob_get(const struct cow_policy *p, const struct policy_knob *k)
{
	const char *field = (const char *)p + k->offset;

	if (k->is_bool)
		return *(const bool *)field;
	return (int)*(const enum fork_rule *)field; /* every rule enum is int-sized */
}

static void knob_set(struct cow_policy *p, const struct policy_knob *k, int v)
{
	char *field = (char *)p + k->offset;

	if (k->is_bool)
		*(bool *)field = v != 0;
	else
		*(enum fork_rule *)field = (enum fork_rule)v;
}

_Static_assert(sizeof(enum wp_reuse_rule) == sizeof(enum fork_rule) &&
		       sizeof(enum gup_rule) == sizeof(enum fork_rule) &&
		       sizeof(enum gupfast_guard) == sizeof(enum fork_rule) &&
		       sizeof(enum force_rule) == sizeof(enum fork_rule) &&
		       sizeof(enum dio_pin_rule) == sizeof(enum fork_rule) &&
		       sizeof(enum reclaim_rule) == sizeof(enum fork_rule) &&
		       sizeof(enum thp_rule) == sizeof(enum fork_rule) &&
		       sizeof(enum hugetlb_rule) == sizeof(enum fork_rule),
	       "every rule enum is read as one int-sized type");

int cow_policy_knob_count(void)
{
	return (int)ARRAY_SIZE(knobs);
}

const char *cow_policy_knob(int i, const char **what, int *nr_values)
{
	if (i < 0 || i >= (int)ARRAY_SIZE(knobs))
		return NULL;
	*what = knobs[i].what;
	*nr_values = knobs[i].nr_values;
	return knobs[i].name;
}

const char *cow_policy_knob_value(int i, int v, const char **text)
{
	const struct policy_knob *k = &knobs[i];

	if (v < 0 || v >= k->nr_values)
		return NULL;
	*text = k->values[v].text ? k->values[v].text : "?";
	return k->values[v].name;
}

int cow_policy_knob_get(const struct cow_policy *p, int i)
{
	return knob_get(p, &knobs[i]);
}

unsigned long long cow_policy_hash(const struct cow_policy *p)
{
	/* Every rule field by value, in the knobs' order, then the words
	 * `cowlab policies` prints for the rules: a rule added to the struct
	 * and the listing but not to the knobs still changes the hash. */
	uint32_t rules[ARRAY_SIZE(knobs)];
	char text[COW_POLICY_RULES_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++)
		rules[i] = (uint32_t)knob_get(p, &knobs[i]);
	cow_policy_rules(p, text, sizeof(text));
	return cow_fnv1a(cow_fnv1a(COW_FNV_BASIS, rules, sizeof(rules)), text, strlen(text));
}

/* ---- rule sets of the user's ------------------------------------------------------
 *
 * "BASE+RULE=VALUE+...": a preset with some rules changed.  Each is made
 * once, under its canonical name (the base, then each rule that differs
 * from the base's, in the knobs' order), and kept until the process ends,
 * so that a pointer to it is as good as a preset's.  Made where a name is
 * checked (the command line, a scenario's policy line), outside the
 * explorer's tasks, so that a run's lookups only read the list, with no
 * yield point; two threads that make the same one at once may each keep
 * a copy, both right. */

struct custom_policy {
	struct cow_policy p;
	struct custom_policy *next;
	char name[COW_POLICY_NAME_MAX];
	char summary[COW_POLICY_NAME_MAX + 64];
};

static struct custom_policy *customs;

static const struct cow_policy *preset_find(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(presets); i++)
		if (strlen(presets[i].name) == len && strncmp(presets[i].name, name, len) == 0)
			return &presets[i];
	return NULL;
}

/* Parse spec into *out and its canonical name; 0, or COW_EINVAL with the
 * reason in err. */
static int spec_parse(const char *spec, struct cow_policy *out, char *name, size_t namelen,
		      char *err, size_t errlen)
{
	const char *plus = strchr(spec, '+'), *p;
	const struct cow_policy *base;
	bool set[ARRAY_SIZE(knobs)] = {false};
	size_t used;

	base = preset_find(spec, plus ? (size_t)(plus - spec) : strlen(spec));
	if (!base) {
		snprintf(err, errlen, "unknown preset '%.*s' (cowlab policies lists them)",
			 plus ? (int)(plus - spec) : (int)strlen(spec), spec);
		return COW_EINVAL;
	}
	*out = *base;
	for (p = plus; p && *p;) {
		const char *eq, *end = strchr(p + 1, '+');
		size_t klen, vlen;
		int k, v;

		end = end ? end : p + strlen(p);
		eq = memchr(p + 1, '=', (size_t)(end - p - 1));
		if (!eq) {
			snprintf(err, errlen, "'%.*s' is not RULE=VALUE", (int)(end - p - 1),
				 p + 1);
			return COW_EINVAL;
		}
		klen = (size_t)(eq - p - 1);
		vlen = (size_t)(end - eq - 1);
		for (k = 0; k < (int)ARRAY_SIZE(knobs); k++)
			if (strlen(knobs[k].name) == klen &&
			    strncmp(knobs[k].name, p + 1, klen) == 0)
				break;
		if (k == (int)ARRAY_SIZE(knobs)) {
			snprintf(err, errlen,
				 "unknown rule '%.*s' (cowlab policies --rules lists them)",
				 (int)klen, p + 1);
			return COW_EINVAL;
		}
		if (set[k]) {
			snprintf(err, errlen, "rule '%s' is set twice", knobs[k].name);
			return COW_EINVAL;
		}
		for (v = 0; v < knobs[k].nr_values; v++)
			if (knobs[k].values[v].name && strlen(knobs[k].values[v].name) == vlen &&
			    strncmp(knobs[k].values[v].name, eq + 1, vlen) == 0)
				break;
		if (v == knobs[k].nr_values) {
			used = (size_t)snprintf(err, errlen,
						"rule '%s' has no value '%.*s' (one of",
						knobs[k].name, (int)vlen, eq + 1);
			for (int i = 0; i < knobs[k].nr_values && used < errlen; i++)
				used += (size_t)snprintf(err + used, errlen - used, "%s %s",
							 i ? "," : "", knobs[k].values[i].name);
			if (used < errlen)
				snprintf(err + used, errlen - used, ")");
			return COW_EINVAL;
		}
		set[k] = true;
		knob_set(out, &knobs[k], v);
		p = end;
	}
	used = (size_t)snprintf(name, namelen, "%s", base->name);
	for (size_t k = 0; k < ARRAY_SIZE(knobs) && used < namelen; k++) {
		int v = knob_get(out, &knobs[k]);

		if (v != knob_get(base, &knobs[k]))
			used += (size_t)snprintf(name + used, namelen - used, "+%s=%s",
						 knobs[k].name, knobs[k].values[v].name);
	}
	if (used >= namelen) {
		snprintf(err, errlen, "the rule set's name is longer than %d characters",
			 COW_POLICY_NAME_MAX - 1);
		return COW_EINVAL;
	}
	return 0;
}

int cow_policy_check(const char *spec, char *err, unsigned long errlen)
{
	struct cow_policy p;
	char name[COW_POLICY_NAME_MAX];

	return spec_parse(spec, &p, name, sizeof(name), err, errlen);
}

static const struct cow_policy *custom_find(const char *spec)
{
	struct custom_policy *c, *head;
	struct cow_policy p;
	char name[COW_POLICY_NAME_MAX], err[256];
	const struct cow_policy *base;

	if (spec_parse(spec, &p, name, sizeof(name), err, sizeof(err)) != 0)
		return NULL;
	base = preset_find(name, strlen(name));
	if (base)
		return base; /* nothing differs from the preset */
	for (c = READ_PRIVATE(customs); c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return &c->p;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->p = p;
	snprintf(c->name, sizeof(c->name), "%s", name);
	base = preset_find(spec, strcspn(spec, "+"));
	snprintf(c->summary, sizeof(c->summary), "a rule set of the user's: %s with %s", base->name,
		 name + strlen(base->name) + 1);
	c->p.name = c->name;
	c->p.summary = c->summary;
	c->p.commits = "none: the user's rule set; its preset's are listed under it";
	do {
		head = READ_PRIVATE(customs);
		c->next = head;
	} while (cmpxchg(&customs, head, c) != head);
	return &c->p;
}

/* Names the user gave rule sets (cow_policy_define), kept as the rule
 * sets are, and defined as they are: before the runs. */
struct policy_alias {
	char name[COW_POLICY_NAME_MAX];
	const struct cow_policy *p;
	struct policy_alias *next;
};

static struct policy_alias *aliases;

static const struct cow_policy *alias_find(const char *name)
{
	for (struct policy_alias *a = READ_PRIVATE(aliases); a; a = a->next)
		if (strcmp(a->name, name) == 0)
			return a->p;
	return NULL;
}

int cow_policy_define(const char *name, const char *spec, char *err, unsigned long errlen)
{
	struct policy_alias *a, **tail;
	const struct cow_policy *p;
	size_t n = strlen(name);

	if (n == 0 || n >= COW_POLICY_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz"
			 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") != n) {
		snprintf(err, errlen,
			 "'%s' is not a name for a rule set (letters, digits, '.', '_', '-')",
			 name);
		return COW_EINVAL;
	}
	if (preset_find(name, n) || alias_find(name)) {
		snprintf(err, errlen, "'%s' is %s already", name,
			 preset_find(name, n) ? "a preset" : "defined");
		return COW_EINVAL;
	}
	if (cow_policy_check(spec, err, errlen) != 0)
		return COW_EINVAL;
	p = cow_policy_find(spec);
	a = calloc(1, sizeof(*a));
	if (!p || !a) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return COW_ENOMEM;
	}
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->p = p;
	for (tail = &aliases; *tail; tail = &(*tail)->next)
		;
	*tail = a;
	return 0;
}

const char *cow_policy_alias(int i, const struct cow_policy **p)
{
	for (struct policy_alias *a = aliases; a; a = a->next)
		if (i-- == 0) {
			*p = a->p;
			return a->name;
		}
	return NULL;
}
