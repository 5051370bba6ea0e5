/*
 * Host files for data that must really go to a disk: the data files of
 * direct I/O (src/io) and the swap device (src/mm).  A file is created
 * with O_DIRECT in $COWLAB_TMPDIR, else /var/tmp, else the working
 * directory, and unlinked at once, so nothing is ever left behind.  And
 * whole reads and writes on any descriptor (files, pipes).
 */
#ifndef COW_BASE_HOSTFILE_H
#define COW_BASE_HOSTFILE_H

#include <stddef.h>
#include <sys/types.h>

/* An open, unlinked, empty file, or -1 with errno set.  *direct is 1 if
 * O_DIRECT really bypasses the page cache there, 0 if the filesystem
 * buffers it (tmpfs) or refused it (the file is then opened without). */
int host_tmpfile(int *direct);

/* Write all n bytes to fd (0), or fail (-1); EINTR is retried. */
int fd_write_full(int fd, const void *buf, size_t n);
/* Read n bytes from fd; fewer only at the end of the stream or on an
 * error.  Returns the bytes read. */
ssize_t fd_read_full(int fd, void *buf, size_t n);

#endif
