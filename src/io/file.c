/*
 * Data files on the host, for direct I/O: each is a real file opened with
 * O_DIRECT, so a device transfer moves bytes between the disk and frame
 * memory without the page cache, as the 2009 reproducers did.  The file is
 * unlinked as soon as it is open, so nothing is left behind, also when the
 * process is killed.
 *
 * Where: see base/hostfile.h.  tmpfs accepts O_DIRECT but silently
 * buffers; cow_file_direct() says whether the file's filesystem really
 * bypasses the cache (the scenario layer reports it), and a filesystem
 * that refuses O_DIRECT gets a buffered file with the same report.
 *
 * The explorer runs a scenario hundreds of thousands of times; its devices
 * hold their bytes in memory (cow_file_create_mem), and the engine moves
 * the same sectors at the same steps with memcpy.  Sequential and stress
 * runs, and the host backend, keep the real O_DIRECT file.
 *
 * Layer: src/io, the outside world; it uses no mm internals.
 */
#define _GNU_SOURCE
#include "cowlab.h"

#include "base/faultinj.h"
#include "base/hostfile.h"
#include "sync/sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALIGN 4096

struct cow_file {
	int fd;		    /* the host file, or -1 for a device in memory */
	unsigned char *mem; /* the bytes of a device in memory */
	unsigned long size;
	int direct;
};

int cow_file_create_mem(unsigned long size, int fill, struct cow_file **out)
{
	struct cow_file *f;

	*out = NULL;
	if (size == 0 || size % 512)
		return COW_EINVAL;
	f = FAULT_HIT(FI_DIO_OPEN) ? NULL : calloc(1, sizeof(*f));
	if (!f || !(f->mem = malloc(size))) {
		free(f);
		return COW_ENOMEM;
	}
	memset(f->mem, fill, size);
	f->fd = -1;
	f->size = size;
	f->direct = 1; /* no cache between the device and the frames */
	*out = f;
	return 0;
}

int cow_file_create(unsigned long size, int fill, struct cow_file **out)
{
	struct cow_file *f;
	unsigned char *buf;
	int err = 0;

	*out = NULL;
	if (size == 0 || size % 512)
		return COW_EINVAL;
	f = FAULT_HIT(FI_DIO_OPEN) ? NULL : calloc(1, sizeof(*f));
	if (!f || posix_memalign((void **)&buf, ALIGN, ALIGN) != 0) {
		free(f);
		return COW_ENOMEM;
	}
	f->size = size;
	f->fd = host_tmpfile(&f->direct);
	if (f->fd < 0) {
		err = COW_EIO;
		goto out_free;
	}
	memset(buf, fill, ALIGN);
	for (unsigned long off = 0; off < size && !err; off += ALIGN) {
		unsigned long n = size - off < ALIGN ? size - off : ALIGN;

		if (pwrite(f->fd, buf, n, (off_t)off) != (ssize_t)n)
			err = COW_EIO;
	}
	if (err) {
		close(f->fd);
		goto out_free;
	}
	free(buf);
	*out = f;
	return 0;

out_free:
	free(buf);
	free(f);
	return err;
}

void cow_file_close(struct cow_file *f)
{
	if (!f)
		return;
	if (f->mem)
		free(f->mem);
	else
		close(f->fd);
	free(f);
}

int cow_file_direct(const struct cow_file *f)
{
	return f->direct;
}

unsigned long cow_file_size(const struct cow_file *f)
{
	return f->size;
}

int cow_file_fd(const struct cow_file *f)
{
	return f->fd;
}

/* Any offset and length: through an aligned bounce buffer of whole
 * sectors, as O_DIRECT wants. */
int cow_file_read(const struct cow_file *f, unsigned long off, void *buf, unsigned long len)
{
	unsigned char *bounce;
	unsigned long start = off & ~511UL, end = (off + len + 511) & ~511UL;
	int err = 0;

	if (off + len > f->size || off + len < off)
		return COW_EINVAL;
	if (f->mem) {
		/* Under the explorer, a step per sector that names the file:
		 * it conflicts with the devices' steps (sync_dma_step), which
		 * move the file's sectors. */
		for (unsigned long at = off, n; at < off + len; at += n) {
			n = 512 - at % 512;
			if (n > off + len - at)
				n = off + len - at;
			sync_dma_step(f);
			memcpy((char *)buf + (at - off), f->mem + at, n);
		}
		return 0;
	}
	if (posix_memalign((void **)&bounce, ALIGN, end - start) != 0)
		return COW_ENOMEM;
	sync_dma_step(f);
	if (pread(f->fd, bounce, end - start, (off_t)start) != (ssize_t)(end - start))
		err = COW_EIO;
	else
		memcpy(buf, bounce + (off - start), len);
	free(bounce);
	return err;
}

int cow_file_sector_io(struct cow_file *f, unsigned long off, void *mem, unsigned long len,
		       int to_memory)
{
	ssize_t n;

	if ((off | len) % 512 || off + len > f->size || off + len < off)
		return COW_EINVAL;
	if (f->mem) {
		if (to_memory)
			memcpy(mem, f->mem + off, len);
		else
			memcpy(f->mem + off, mem, len);
		return 0;
	}
	if (to_memory)
		n = pread(f->fd, mem, len, (off_t)off);
	else
		n = pwrite(f->fd, mem, len, (off_t)off);
	return n == (ssize_t)len ? 0 : COW_EIO;
}
