/*
 * cowlab: the public interface.
 *
 * cowlab is a user-space implementation of a Unix kernel's anonymous-memory
 * manager (frames, page tables, copy-on-write fork, get_user_pages, direct
 * I/O, swap, KSM) that runs on real threads or under a deterministic
 * explorer.  This header is the only one a program outside src/ includes:
 * it declares opaque handles, the error codes and the functions of the
 * library.  Everything behind it is internal and may change.
 *
 * Conventions: a fallible function returns 0 or a negative COW_E* code and
 * passes results through out-parameters.  Only a broken internal invariant
 * aborts the process, and the message names the invariant.
 */
#ifndef COWLAB_H
#define COWLAB_H

#ifdef __cplusplus
extern "C" {
#endif

#define COWLAB_VERSION "0.1.0"

/* Error codes.  Keep cow_strerror() and the table in src/mm/error.c in step. */
enum cow_error {
	COW_OK = 0,
	COW_EINVAL = -1,   /* an argument is out of range or malformed */
	COW_ENOMEM = -2,   /* the frame pool (or host memory) is exhausted */
	COW_EFAULT = -3,   /* an address is not mapped, or not with that access */
	COW_EBUSY = -4,    /* the object is in use (locked, pinned, mapped) */
	COW_EAGAIN = -5,   /* a transient condition: try again */
	COW_EIO = -6,      /* a host I/O operation failed */
	COW_ENOTSUP = -7,  /* the operation is not supported (yet, or here) */
	COW_ECORRUPT = -8, /* a validator found a broken invariant */
	COW_ENOENT = -9,   /* no such object (name, entry, token) */
	COW_EDEADLK = -10, /* the explorer found every task blocked */
	COW_ELIVELOCK = -11, /* the explorer stopped a run at its step limit */
};

/* A static, human-readable name for a COW_E* code (or "unknown error"). */
const char *cow_strerror(int err);

/* The library version string, COWLAB_VERSION. */
const char *cow_version(void);

#ifdef __cplusplus
}
#endif

#endif /* COWLAB_H */
