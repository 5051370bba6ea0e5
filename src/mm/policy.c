/*
 * The table of policy presets (see policy.h).  Adding an era is adding a
 * row here and, where its rule is new, a value to a rule enum and a case at
 * the decision point that reads it.
 */
#include "policy.h"

#include <stdio.h>
#include <string.h>

/* The rules every era before 5.8 shares: fork shares every anonymous page,
 * GUP and gup-fast know no pins, direct I/O takes plain references. */
#define BEFORE_PINS                                                                             \
	.fork = FORK_SHARE, .anon_exclusive = false, .gup = GUP_PLAIN, .gupfast = GUPFAST_NONE, \
	.dio_pin = DIO_FOLL_GET

static const struct cow_policy presets[] = {
	{
		.name = "linux-2.6.7",
		.summary = "refcount-based reuse under a page-lock trylock; reclaim never "
			   "unmaps a page GUP holds (2.6.7's rule, gone in 2.6.13)",
		.commits = "try_to_unmap_one's page_count back-out (v2.6.7), removed by "
			   "c475a8ab625d (v2.6.13)",
		.wp_reuse = REUSE_REFCOUNT_TRYLOCK,
		BEFORE_PINS,
		.reclaim = RECLAIM_KEEP_RAISED_REFCOUNT,
	},
	{
		.name = "linux-2.6.13",
		.summary = "mapcount-based reuse under a page-lock trylock (a locked page "
			   "is copied); reclaim unmaps any page",
		.commits = "c475a8ab625d (v2.6.13); the trylock until ab967d86015a (v2.6.29)",
		.wp_reuse = REUSE_MAPCOUNT_TRYLOCK,
		BEFORE_PINS,
		.reclaim = RECLAIM_UNMAP_ANY,
	},
	{
		.name = "linux-2.6.29",
		.summary = "mapcount-based reuse under the sleeping page lock; fork "
			   "shares every anonymous page (the 2009 thread's baseline)",
		.commits = "c475a8ab625d (v2.6.13), ab967d86015a (v2.6.29)",
		.wp_reuse = REUSE_MAPCOUNT_LOCK,
		BEFORE_PINS,
		.reclaim = RECLAIM_UNMAP_ANY,
	},
	{
		.name = "linux-6.5",
		.summary = "PG_anon_exclusive decides reuse, else refcount == 1; fork "
			   "copies maybe-pinned exclusive pages for the child",
		.commits = "09854ba94c6a (v5.9), 70e806e4e645 (v5.9), 57efa1fe5957 "
			   "(v5.11), 6c287605fd56 (v5.19), c89357e27f20 (v5.19), "
			   "84209e87c696 (v6.2), a7e689dd1c06 (v6.5)",
		.wp_reuse = REUSE_EXCLUSIVE,
		.fork = FORK_COPY_PINNED_EXCLUSIVE,
		.anon_exclusive = true,
		.gup = GUP_UNSHARE_RO_PIN,
		.gupfast = GUPFAST_SEQ_EXCLUSIVE,
		.dio_pin = DIO_FOLL_PIN,
		.reclaim = RECLAIM_SHARE_EXCLUSIVE,
		.clear_refs_skip_pinned = true,
	},
	{
		.name = "broken-always-reuse",
		.summary = "deliberately wrong: a write fault always reuses the page, so "
			   "writes after fork leak into the other process (a negative control)",
		.commits = "none: no kernel shipped this rule",
		.wp_reuse = REUSE_ALWAYS,
		BEFORE_PINS,
		.reclaim = RECLAIM_UNMAP_ANY,
	},
};

const struct cow_policy *cow_policy_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(presets); i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return NULL;
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

const char *wp_reuse_rule_name(enum wp_reuse_rule r)
{
	switch (r) {
	case REUSE_REFCOUNT_TRYLOCK:
		return "reuse iff refcount == 1 (+ an unshared swap cache), page lock trylock";
	case REUSE_MAPCOUNT_TRYLOCK:
		return "reuse iff mapcount + swapcount == 1, page lock trylock";
	case REUSE_MAPCOUNT_LOCK: return "reuse iff mapcount + swapcount == 1 (page lock)";
	case REUSE_EXCLUSIVE: return "reuse if exclusive, else iff refcount == 1";
	case REUSE_ALWAYS: return "always reuse (deliberately wrong)";
	}
	return "?";
}

const char *fork_rule_name(enum fork_rule r)
{
	switch (r) {
	case FORK_SHARE: return "share every anonymous page";
	case FORK_COPY_PINNED_EXCLUSIVE: return "copy maybe-pinned exclusive pages for the child";
	}
	return "?";
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

const char *gup_rule_name(enum gup_rule r)
{
	switch (r) {
	case GUP_PLAIN: return "write GUP breaks COW, read GUP takes the page as is";
	case GUP_UNSHARE_RO_PIN: return "also unshare before a R/O pin of a maybe-shared page";
	}
	return "?";
}

const char *gupfast_guard_name(enum gupfast_guard g)
{
	switch (g) {
	case GUPFAST_NONE: return "write bit only";
	case GUPFAST_SEQ_EXCLUSIVE: return "PTE re-check, write_protect_seq, exclusive pins";
	}
	return "?";
}

const char *dio_pin_rule_name(enum dio_pin_rule d)
{
	switch (d) {
	case DIO_FOLL_GET: return "FOLL_GET (a plain reference)";
	case DIO_FOLL_PIN: return "FOLL_PIN";
	}
	return "?";
}

const char *reclaim_rule_name(enum reclaim_rule r)
{
	switch (r) {
	case RECLAIM_KEEP_RAISED_REFCOUNT: return "never unmap a page with a raised refcount";
	case RECLAIM_UNMAP_ANY: return "unmap any page, GUP references or not";
	case RECLAIM_SHARE_EXCLUSIVE: return "keep maybe-pinned pages mapped";
	}
	return "?";
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
		 "reclaim:           %s\n"
		 "clear_refs:        %s\n",
		 wp_reuse_rule_name(p->wp_reuse), fork_rule_name(p->fork),
		 p->anon_exclusive ? "tracked and checked (PG_anon_exclusive)" : "not used",
		 gup_rule_name(p->gup), gupfast_guard_name(p->gupfast),
		 dio_pin_rule_name(p->dio_pin), reclaim_rule_name(p->reclaim),
		 p->clear_refs_skip_pinned ? "skips maybe-pinned pages (5.11)"
					   : "write-protects every page");
	return buf;
}
