/*
 * Unlinked O_DIRECT host files (see hostfile.h).
 */
#define _GNU_SOURCE
#include "hostfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/vfs.h>
#include <unistd.h>

#define TMPFS_MAGIC_NR 0x01021994

static int open_in(const char *dir, int flags)
{
	char path[4096];
	int fd;

	if (snprintf(path, sizeof(path), "%s/cowlab-data.XXXXXX", dir) >= (int)sizeof(path))
		return -1;
	fd = mkostemp(path, flags);
	if (fd >= 0)
		unlink(path);
	return fd;
}

int host_tmpfile(int *direct)
{
	const char *dirs[] = {getenv("COWLAB_TMPDIR"), "/var/tmp", "."};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct statfs st;
		int fd;

		if (!dirs[i] || !*dirs[i])
			continue;
		fd = open_in(dirs[i], O_DIRECT);
		if (fd >= 0) {
			*direct = !(fstatfs(fd, &st) == 0 && st.f_type == TMPFS_MAGIC_NR);
			return fd;
		}
		if (errno == EINVAL) { /* no O_DIRECT here: buffered, and say so */
			fd = open_in(dirs[i], 0);
			if (fd >= 0) {
				*direct = 0;
				return fd;
			}
		}
	}
	return -1;
}

int fd_write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t fd_read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}
