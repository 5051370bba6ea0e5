/*
 * Naming the objects the explorer's steps operate on, for traces: a
 * struct page field with the page's counts, a PTE with the address it
 * maps and what it holds, a field of an mm.  Called in the explorer's
 * scheduler context, where every task is stopped at a yield point.
 */
#include "mm.h"
#include "swap.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const char *page_field(size_t off)
{
	if (off < offsetof(struct page, _refcount))
		return "flags";
	if (off < offsetof(struct page, _mapcount))
		return "refcount";
	if (off < offsetof(struct page, mapping))
		return "mapcount";
	if (off < offsetof(struct page, private))
		return "mapping";
	if (off < offsetof(struct page, index))
		return "private";
	if (off < offsetof(struct page, ptl))
		return "index";
	return "ptl/pincount";
}

static void describe_page(struct cow_system *sys, struct page *page, const char *field, char *buf,
			  size_t len)
{
	unsigned long pfn = page_to_pfn(sys->pool, page);

	if (PageFlag(page, PG_table)) {
		snprintf(buf, len, "table pfn %lu.%s", pfn, field);
		return;
	}
	snprintf(buf, len, "page pfn %lu.%s [ref %d map %d pin %d%s%s]", pfn, field,
		 page_ref_count(page), page_mapcount(page), atomic_read(&page->_pincount),
		 PageFlag(page, PG_anon_exclusive) ? " excl" : "",
		 PageFlag(page, PG_swapcache) ? " swapcache" : "");
}

/* The address the PTE table in frame pfn translates from, found by
 * walking the upper levels of pgt; false if no entry points to it. */
static bool table_base(struct frame_pool *pool, unsigned long table_pfn, enum pt_level level,
		       unsigned long pfn, unsigned long base, unsigned long *out)
{
	const pte_t *table = page_address(pool, pfn_to_page(pool, table_pfn));

	for (unsigned long i = 0; i < PTRS_PER_TABLE; i++) {
		pte_t e = table[i];
		unsigned long addr = base + i * pt_level_size(level);

		if (pte_none(e) || table_entry_bad(e) || !pfn_valid(pool, pte_pfn(e)))
			continue;
		if (level == PT_PMD && pte_pfn(e) == pfn) {
			*out = addr;
			return true;
		}
		if (level > PT_PMD && table_base(pool, pte_pfn(e), level - 1, pfn, addr, out))
			return true;
	}
	return false;
}

static void pte_value(pte_t pte, char *buf, size_t len)
{
	if (pte_none(pte))
		snprintf(buf, len, "none");
	else if (is_migration_pte(pte))
		snprintf(buf, len, "migration entry pfn %lu", swp_offset(pte_to_swp_entry(pte)));
	else if (!pte_present(pte))
		snprintf(buf, len, "swap slot %lu", swp_offset(pte_to_swp_entry(pte)));
	else
		snprintf(buf, len, "pfn %lu %s%s", pte_pfn(pte), pte_write(pte) ? "W" : "RO",
			 pte_dirty(pte) ? " D" : "");
}

/* obj lies in the frame of page: a PTE if it is a PTE table, else data.
 * Returns whether it is a PTE or data (not an upper table entry). */
static int describe_frame(struct cow_system *sys, struct page *page, const void *obj, char *buf,
			  size_t len)
{
	struct frame_pool *pool = sys->pool;
	size_t off = (size_t)((const char *)obj - (const char *)page_address(pool, page));
	struct mm_struct *mm;
	char val[48];

	if (!PageFlag(page, PG_table)) {
		/* A chunk of page contents (frame_chunk): a row with the
		 * page's other steps. */
		snprintf(buf, len, "page pfn %lu.data+%zu", page_to_pfn(pool, page), off);
		return 1;
	}
	pte_value(*(const pte_t *)obj, val, sizeof(val));
	list_for_each_entry(mm, &sys->mms, mmlist)
	{
		unsigned long base;

		if (table_base(pool, mm->pgt.pgd_pfn, PT_PGD, page_to_pfn(pool, page), 0, &base)) {
			snprintf(buf, len, "pte@0x%lx mm%llu = %s",
				 base + off / sizeof(pte_t) * PAGE_SIZE, (unsigned long long)mm->id,
				 val);
			return 1;
		}
	}
	snprintf(buf, len, "table entry pfn %lu[%zu] = %s", page_to_pfn(pool, page),
		 off / sizeof(pte_t), val);
	return 0;
}

static bool within(const void *obj, const void *base, size_t size)
{
	return (const char *)obj >= (const char *)base &&
	       (const char *)obj < (const char *)base + size;
}

static void describe_mm(struct mm_struct *mm, const void *obj, char *buf, size_t len)
{
	static const struct {
		size_t off, size;
		const char *name;
	} fields[] = {
		{offsetof(struct mm_struct, mmap_lock), sizeof(struct rw_semaphore), "mmap_lock"},
		{offsetof(struct mm_struct, pgt), sizeof(struct pgtable), "page_table_lock"},
		{offsetof(struct mm_struct, write_protect_seq), sizeof(seqcount_t),
		 "write_protect_seq"},
		{offsetof(struct mm_struct, flags), sizeof(unsigned long), "flags"},
		{offsetof(struct mm_struct, tlb_gen), sizeof(atomic_long_t), "tlb_gen"},
		{offsetof(struct mm_struct, nr_anon), sizeof(atomic_long_t), "nr_anon"},
	};
	size_t off = (size_t)((const char *)obj - (const char *)mm);

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		if (off >= fields[i].off && off < fields[i].off + fields[i].size) {
			if (fields[i].off == offsetof(struct mm_struct, write_protect_seq))
				snprintf(buf, len, "mm%llu.write_protect_seq = %u",
					 (unsigned long long)mm->id,
					 mm->write_protect_seq.sequence);
			else
				snprintf(buf, len, "mm%llu.%s", (unsigned long long)mm->id,
					 fields[i].name);
			return;
		}
	snprintf(buf, len, "mm%llu+%zu", (unsigned long long)mm->id, off);
}

int cow_system_describe(struct cow_system *sys, const void *obj, char *buf, unsigned long len)
{
	struct frame_pool *pool = sys->pool;
	struct mm_struct *mm;

	if (within(obj, pool->pages, pool->nr * sizeof(struct page))) {
		size_t off = (size_t)((const char *)obj - (const char *)pool->pages);
		struct page *page = &pool->pages[off / sizeof(struct page)];

		describe_page(sys, page, page_field(off % sizeof(struct page)), buf, len);
		return !PageFlag(page, PG_table) && !PageFlag(page, PG_free);
	}
	if (within(obj, pool->mem, pool->nr * PAGE_SIZE))
		return describe_frame(sys, virt_to_page(pool, obj), obj, buf, len);
	list_for_each_entry(mm, &sys->mms, mmlist)
	{
		if (within(obj, mm, sizeof(*mm))) {
			describe_mm(mm, obj, buf, len);
			return (const char *)obj >= (const char *)&mm->write_protect_seq &&
			       (const char *)obj < (const char *)(&mm->flags + 1);
		}
	}
	if (within(obj, sys->cpus, (size_t)sys->nr_cpus * sizeof(*sys->cpus))) {
		snprintf(buf, len, "cpu%zu TLB",
			 (size_t)((const char *)obj - (const char *)sys->cpus) /
				 sizeof(*sys->cpus));
		return 0;
	}
	if (within(obj, sys->ext_refs, pool->nr * sizeof(*sys->ext_refs))) {
		snprintf(buf, len, "GUP refs of pfn %zu",
			 (size_t)((const atomic_t *)obj - sys->ext_refs));
		return 0;
	}
	if (within(obj, pool, sizeof(*pool)) ||
	    within(obj, pool->pcp, (size_t)pool->cpus * sizeof(*pool->pcp))) {
		snprintf(buf, len, "frame pool");
		return 0;
	}
	if (within(obj, sys, sizeof(*sys))) {
		snprintf(buf, len, "system lists");
		return 0;
	}
	snprintf(buf, len, "word");
	return 0;
}

/* ---- decisions ---------------------------------------------------------------- */

void cow_system_set_decisions(struct cow_system *sys, void (*fn)(void *arg, const char *text),
			      void *arg)
{
	sys->decide_arg = arg;
	sys->decide_fn = fn;
}

void mm_decide_text(struct cow_system *sys, const char *fmt, ...)
{
	char text[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sys->decide_fn(sys->decide_arg, text);
}

/* Plain loads: a decision's words must not add a step to the run they
 * describe (a traced replay takes the steps the run it replays took). */
static int peek_mapcount(const struct page *page)
{
	const struct page *head = compound_head(page);
	int map = READ_PRIVATE(page->_mapcount.counter);

	if (head != page || (READ_PRIVATE(head->flags) & BIT_MASK(PG_head)))
		map += READ_PRIVATE(head[1]._entire_mapcount.counter);
	return map;
}

int mm_page_extra_refs(const struct page *page)
{
	return READ_PRIVATE(compound_head(page)->_refcount.counter) - peek_mapcount(page) -
	       !!(READ_PRIVATE(page->flags) & BIT_MASK(PG_swapcache));
}

const char *mm_page_counts(struct cow_system *sys, const struct page *page, char *buf, size_t len)
{
	const struct page *head = compound_head(page);
	unsigned long flags = READ_PRIVATE(page->flags);

	snprintf(buf, len, "pfn %lu [ref %d map %d pin %d%s%s]", page_to_pfn(sys->pool, page),
		 READ_PRIVATE(head->_refcount.counter), peek_mapcount(page),
		 READ_PRIVATE(head->_pincount.counter),
		 flags & BIT_MASK(PG_anon_exclusive) ? " excl" : "",
		 flags & BIT_MASK(PG_swapcache) ? " swapcache" : "");
	return buf;
}
