/*
 * Host files for data that must really go to a disk: the data files of
 * direct I/O (src/io) and the swap device (src/mm).  A file is created
 * with O_DIRECT in $COWLAB_TMPDIR, else /var/tmp, else the working
 * directory, and unlinked at once, so nothing is ever left behind.
 */
#ifndef COW_BASE_HOSTFILE_H
#define COW_BASE_HOSTFILE_H

/* An open, unlinked, empty file, or -1 with errno set.  *direct is 1 if
 * O_DIRECT really bypasses the page cache there, 0 if the filesystem
 * buffers it (tmpfs) or refused it (the file is then opened without). */
int host_tmpfile(int *direct);

#endif
