/*
 * The anonymous reverse map: from a page to every PTE that maps it.
 *
 * As in Linux (mm/rmap.c), an anonymous page records the anon_vma of the
 * VMA it was faulted into (page->mapping) and its linear index
 * (page->index, the address's page number in that VMA's pgoff space).  An
 * anon_vma lists, through anon_vma_chain links, every VMA that may map its
 * pages: the VMA it belongs to and every descendant VMA made by fork.  A
 * walk visits those VMAs, computes the page's address in each, and looks
 * the PTE up.  fork gives the child VMA a new anon_vma (pages the child
 * faults later are found only from the child's side) and links it to all
 * anon_vmas of the parent's chain.
 *
 * Locking: the chain lists of one family are protected by the root
 * anon_vma's rwsem (write to link or unlink, read to walk).  vma->anon_vma
 * is set once, under the mm's page_table_lock.  An anon_vma is freed through
 * RCU when its last link and child are gone, so a walker that found it
 * from a page under rcu_read_lock() can take a reference safely.
 *
 * Counts: page_add_new_anon_rmap() sets mapcount to 1; fork adds one per
 * shared mapping; page_remove_rmap() drops one.  Every change happens under
 * the PT lock of the PTE that is being set or cleared.
 */
#include "mm/mm.h"

#include <stdlib.h>

/* ---- anon_vma lifetime --------------------------------------------------------- */

static struct anon_vma *anon_vma_alloc(struct anon_vma *root)
{
	struct anon_vma *av = FAULT_HIT(FI_ANON_VMA_ALLOC) ? NULL : calloc(1, sizeof(*av));

	if (!av)
		return NULL;
	av->root = root ? root : av;
	init_rwsem_rank(&av->rwsem, RANK_ANON_VMA);
	atomic_set(&av->refcount, 1); /* the caller's */
	INIT_LIST_HEAD(&av->head);
	if (root)
		atomic_inc(&root->refcount); /* a child keeps its root's lock alive */
	return av;
}

static void anon_vma_free_rcu(struct rcu_head *rcu)
{
	free(container_of(rcu, struct anon_vma, rcu));
}

static void put_anon_vma(struct anon_vma *av)
{
	struct anon_vma *root = av->root;

	if (!atomic_dec_and_test(&av->refcount))
		return;
	COW_CHECK(list_empty(&av->head), "anon_vma freed with VMAs linked");
	call_rcu(&av->rcu, anon_vma_free_rcu);
	if (root != av)
		put_anon_vma(root);
}

static void anon_vma_lock_write(struct anon_vma *av)
{
	down_write(&av->root->rwsem);
}

static void anon_vma_unlock_write(struct anon_vma *av)
{
	up_write(&av->root->rwsem);
}

/* Link vma to av; the root's rwsem is held for write. */
static int anon_vma_chain_link(struct vm_area_struct *vma, struct anon_vma *av)
{
	struct anon_vma_chain *avc = FAULT_HIT(FI_AVC_ALLOC) ? NULL : malloc(sizeof(*avc));

	if (!avc)
		return COW_ENOMEM;
	avc->vma = vma;
	avc->anon_vma = av;
	list_add(&avc->same_vma, &vma->anon_vma_chain);
	list_add_tail(&avc->same_anon_vma, &av->head);
	atomic_inc(&av->refcount);
	return 0;
}

int anon_vma_prepare(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	struct anon_vma *av;
	int err;

	if (likely(READ_ONCE(vma->anon_vma)))
		return 0;
	av = anon_vma_alloc(NULL);
	if (!av)
		return COW_ENOMEM;
	anon_vma_lock_write(av);
	spin_lock(&mm->pgt.lock);
	if (vma->anon_vma) {
		/* Another thread of this mm faulted first. */
		spin_unlock(&mm->pgt.lock);
		anon_vma_unlock_write(av);
		put_anon_vma(av);
		return 0;
	}
	err = anon_vma_chain_link(vma, av);
	if (!err)
		WRITE_ONCE(vma->anon_vma, av);
	spin_unlock(&mm->pgt.lock);
	anon_vma_unlock_write(av);
	put_anon_vma(av); /* the link holds it now */
	return err;
}

/* Link dst to every anon_vma src is linked to (same root). */
static int anon_vma_clone(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma_chain *pavc;
	int err = 0;

	anon_vma_lock_write(src->anon_vma);
	list_for_each_entry(pavc, &src->anon_vma_chain, same_vma)
	{
		err = anon_vma_chain_link(dst, pavc->anon_vma);
		if (err)
			break;
	}
	anon_vma_unlock_write(src->anon_vma);
	return err;
}

int anon_vma_fork(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma *av;
	int err;

	dst->anon_vma = NULL;
	if (!src->anon_vma)
		return 0;
	err = anon_vma_clone(dst, src);
	if (err)
		goto out_unlink;
	av = anon_vma_alloc(src->anon_vma->root);
	if (!av) {
		err = COW_ENOMEM;
		goto out_unlink;
	}
	anon_vma_lock_write(av);
	err = anon_vma_chain_link(dst, av);
	anon_vma_unlock_write(av);
	if (!err)
		dst->anon_vma = av;
	put_anon_vma(av);
	if (err)
		goto out_unlink;
	return 0;

out_unlink:
	unlink_anon_vmas(dst);
	return err;
}

/* Split: the new VMA shares every anon_vma of the old one. */
int anon_vma_clone_split(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	int err;

	dst->anon_vma = src->anon_vma;
	if (!src->anon_vma)
		return 0;
	err = anon_vma_clone(dst, src);
	if (err)
		unlink_anon_vmas(dst);
	return err;
}

void unlink_anon_vmas(struct vm_area_struct *vma)
{
	struct anon_vma_chain *avc, *next;
	struct anon_vma *root;

	if (list_empty(&vma->anon_vma_chain))
		return;
	avc = list_entry(vma->anon_vma_chain.next, struct anon_vma_chain, same_vma);
	root = avc->anon_vma->root;
	down_write(&root->rwsem);
	list_for_each_entry(avc, &vma->anon_vma_chain, same_vma) list_del(&avc->same_anon_vma);
	up_write(&root->rwsem);
	/* Drop the references outside the lock: the last one may free the
	 * root, whose rwsem we just released. */
	list_for_each_entry_safe(avc, next, &vma->anon_vma_chain, same_vma)
	{
		list_del(&avc->same_vma);
		put_anon_vma(avc->anon_vma);
		free(avc);
	}
	vma->anon_vma = NULL;
}

/* ---- page counts ------------------------------------------------------------------ */

static unsigned long linear_page_index(const struct vm_area_struct *vma, unsigned long addr)
{
	return ((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
}

void page_add_new_anon_rmap(struct page *page, struct vm_area_struct *vma, unsigned long addr,
			    bool exclusive)
{
	struct anon_vma *av = READ_ONCE(vma->anon_vma); /* set once, maybe by another CPU */

	COW_ASSERT(av != NULL);
	/* The page is on the LRU already, so reclaim's rmap walk may look at
	 * it now (page_get_anon_vma(), rmap_walk() read these unlocked). */
	WRITE_ONCE(page->mapping, (unsigned long)av);
	WRITE_ONCE(page->index, linear_page_index(vma, addr));
	SetPageFlag(page, PG_anon);
	if (exclusive)
		SetPageFlag(page, PG_anon_exclusive);
	atomic_set(&page->_mapcount, 1);
}

void page_dup_anon_rmap(struct page *page)
{
	atomic_inc(&page->_mapcount);
}

void page_remove_rmap(struct page *page)
{
	COW_CHECK(atomic_dec_return(&page->_mapcount) >= 0, "mapcount went negative");
}

void page_move_anon_rmap(struct page *page, struct vm_area_struct *vma)
{
	COW_ASSERT(vma->anon_vma != NULL);
	WRITE_ONCE(page->mapping, (unsigned long)vma->anon_vma);
}

/* ---- the walk --------------------------------------------------------------------- */

/* Take a reference on the anon_vma of a mapped page (Linux's
 * page_get_anon_vma): NULL if the page is not mapped any more. */
static struct anon_vma *page_get_anon_vma(struct page *page)
{
	struct anon_vma *av = NULL;

	rcu_read_lock();
	if (PageFlag(page, PG_anon) && page_mapcount(page) > 0) {
		av = (struct anon_vma *)READ_ONCE(page->mapping);
		if (av && !atomic_inc_not_zero(&av->refcount))
			av = NULL;
		/* The page may have been unmapped and its anon_vma reused
		 * meanwhile; then the walk below finds no PTE, which is the
		 * right answer for an unmapped page. */
	}
	rcu_read_unlock();
	return av;
}

int rmap_walk(struct page *page, rmap_fn fn, void *arg)
{
	struct anon_vma *av;

	/* A KSM page's mapping is its stable node; reclaim keeps KSM pages
	 * and nothing else walks them. */
	COW_ASSERT(!PageFlag(page, PG_ksm));
	av = page_get_anon_vma(page);
	struct anon_vma_chain *avc;
	int ret = 0;

	if (!av)
		return 0;
	down_read(&av->root->rwsem);
	list_for_each_entry(avc, &av->head, same_anon_vma)
	{
		struct vm_area_struct *vma = avc->vma;
		unsigned long addr, index = READ_ONCE(page->index);

		if (index < vma->vm_pgoff)
			continue;
		addr = vma->vm_start + ((index - vma->vm_pgoff) << PAGE_SHIFT);
		if (addr >= vma->vm_end)
			continue;
		ret = fn(page, vma, addr, arg);
		if (ret)
			break;
	}
	up_read(&av->root->rwsem);
	put_anon_vma(av);
	return ret;
}

struct anon_vma *folio_lock_anon_vma_write(struct page *head, long *mapped)
{
	struct anon_vma *av = NULL;
	long n;

	rcu_read_lock();
	n = folio_entire_mapcount(head);
	for (unsigned long i = 0; i < folio_nr_pages(head); i++)
		n += atomic_read(&head[i]._mapcount);
	/* Mapped during this read-side section: the anon_vma lives at least
	 * until its end (a VMA that maps a page keeps it), so the reference
	 * may be tried. */
	if (n > 0) {
		av = (struct anon_vma *)READ_ONCE(head->mapping);
		if (av && !atomic_inc_not_zero(&av->refcount))
			av = NULL;
	}
	rcu_read_unlock();
	*mapped = n;
	if (av)
		anon_vma_lock_write(av);
	return av;
}

void folio_unlock_anon_vma_write(struct anon_vma *av)
{
	anon_vma_unlock_write(av);
	put_anon_vma(av);
}

void anon_vma_walk_locked(struct anon_vma *av, void (*fn)(struct vm_area_struct *vma, void *arg),
			  void *arg)
{
	struct anon_vma_chain *avc;

	list_for_each_entry(avc, &av->head, same_anon_vma)
	{
		fn(avc->vma, arg);
	}
}

pte_t *page_vma_mapped(struct page *page, struct vm_area_struct *vma, unsigned long addr,
		       spinlock_t **ptlp)
{
	struct mm_struct *mm = vma->vm_mm;
	pte_t *ptep = pte_offset_map_lock(&mm->pgt, addr, ptlp);
	pte_t pte;

	if (!ptep)
		return NULL;
	pte = ptep_get(ptep);
	if (pte_present(pte) && pte_pfn(pte) == page_to_pfn(mm->pgt.pool, page))
		return ptep;
	pte_unmap_unlock(ptep, *ptlp);
	return NULL;
}
