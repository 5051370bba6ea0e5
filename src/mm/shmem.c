/*
 * Shared anonymous memory and the page cache of files, as Linux's
 * mm/shmem.c and mm/filemap.c: a shmem object is a small page cache of
 * its own, which the VMAs of every process sharing it point to; a mapped
 * file's pages are read into its object on first use and stay until the
 * system drops its caches.
 */
#include "mm/mm.h"

#include <stdlib.h>
#include <string.h>

struct shmem_object {
	atomic_t refcount;   /* VMAs pointing here (and the system, for a file's) */
	spinlock_t lock;     /* RANK_SHMEM */
	unsigned long nr;    /* (C) pages */
	struct page **pages; /* (H) the object's page cache: one reference each */
	/* The file a page's first contents come from, or NULL (zeroes). */
	const struct cow_file *file;
	struct shmem_object *next_file; /* (S) on sys->file_caches */
};

struct shmem_object *shmem_create(unsigned long nr)
{
	struct shmem_object *shm = FAULT_HIT(FI_SHMEM_ALLOC) ? NULL : calloc(1, sizeof(*shm));

	if (!shm)
		return NULL;
	shm->pages = calloc(nr, sizeof(*shm->pages));
	if (!shm->pages) {
		free(shm);
		return NULL;
	}
	shm->nr = nr;
	atomic_set(&shm->refcount, 1);
	spin_lock_init_rank(&shm->lock, RANK_SHMEM);
	return shm;
}

void shmem_get(struct shmem_object *shm)
{
	if (shm)
		atomic_inc(&shm->refcount);
}

void shmem_put(struct cow_system *sys, struct shmem_object *shm)
{
	if (!shm || !atomic_dec_and_test(&shm->refcount))
		return;
	for (unsigned long i = 0; i < shm->nr; i++)
		if (shm->pages[i])
			put_page(sys->pool, shm->pages[i]);
	free(shm->pages);
	free(shm);
}

/* A file page's contents as the file holds them (zeroes past its end);
 * false if the file cannot be read. */
static bool file_fill_page(const struct cow_file *file, unsigned long index, void *frame)
{
	unsigned long off = index * PAGE_SIZE, size = cow_file_size(file);

	if (off >= size)
		return true;
	return cow_file_read(file, off, frame, size - off < PAGE_SIZE ? size - off : PAGE_SIZE) ==
	       0;
}

struct page *shmem_get_page(struct cow_system *sys, struct shmem_object *shm, unsigned long index)
{
	struct page *page;

	COW_CHECK(index < shm->nr, "shmem index %lu beyond %lu", index, shm->nr);
	spin_lock(&shm->lock);
	page = shm->pages[index];
	if (!page) {
		page = alloc_page(sys->pool, GFP_ZERO);
		if (page && shm->file &&
		    !file_fill_page(shm->file, index, page_address(sys->pool, page))) {
			put_page(sys->pool, page);
			page = NULL;
		}
		if (page) {
			page->index = index;
			shm->pages[index] = page; /* the cache's reference */
		}
	}
	if (page)
		get_page(page); /* the caller's */
	spin_unlock(&shm->lock);
	return page;
}

/* The page cache of file, created on its first mapping, with a reference
 * for the caller; the system keeps its own until it is destroyed, so the
 * cached pages outlive the mappings (and an overwrite of one stays
 * visible), as a page cache does.  NULL when memory is short. */
struct shmem_object *file_cache_get(struct cow_system *sys, const struct cow_file *file)
{
	unsigned long nr = (cow_file_size(file) + PAGE_SIZE - 1) / PAGE_SIZE;
	struct shmem_object *shm;

	spin_lock(&sys->lock);
	for (shm = sys->file_caches; shm && shm->file != file; shm = shm->next_file)
		;
	if (!shm) {
		shm = shmem_create(nr);
		if (shm) {
			shm->file = file;
			shm->next_file = sys->file_caches;
			sys->file_caches = shm;
		}
	}
	shmem_get(shm);
	spin_unlock(&sys->lock);
	return shm;
}

void cow_system_drop_caches(struct cow_system *sys)
{
	struct shmem_object **pp = &sys->file_caches, *unused = NULL;

	spin_lock(&sys->lock);
	while (*pp) {
		struct shmem_object *shm = *pp;

		if (atomic_read(&shm->refcount) == 1) { /* the system's alone */
			*pp = shm->next_file;
			shm->next_file = unused;
			unused = shm;
		} else {
			pp = &shm->next_file;
		}
	}
	spin_unlock(&sys->lock);
	while (unused) {
		struct shmem_object *shm = unused;

		unused = shm->next_file;
		shmem_put(sys, shm);
	}
}

int cow_file_read_cached(struct cow_system *sys, const struct cow_file *file, unsigned long off,
			 void *buf, unsigned long len)
{
	struct shmem_object *shm;
	int err = cow_file_read(file, off, buf, len);

	if (err)
		return err;
	spin_lock(&sys->lock);
	for (shm = sys->file_caches; shm && shm->file != file; shm = shm->next_file)
		;
	spin_unlock(&sys->lock);
	for (unsigned long at = off; shm && at < off + len;) {
		unsigned long index = at / PAGE_SIZE, in = at % PAGE_SIZE;
		unsigned long n = PAGE_SIZE - in < off + len - at ? PAGE_SIZE - in : off + len - at;
		struct page *page;

		spin_lock(&shm->lock);
		page = shm->pages[index];
		if (page)
			read_frame_chunked(sys->pool, page, in, (char *)buf + (at - off), n);
		spin_unlock(&shm->lock);
		at += n;
	}
	return 0;
}
