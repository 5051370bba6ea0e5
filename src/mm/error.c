/*
 * Error names for the public COW_E* codes.  Lives in mm because mm is the
 * library's core; the command and the scenario layer only print these.
 */
#include "cowlab.h"

const char *cow_strerror(int err)
{
	switch (err) {
	case COW_OK: return "success";
	case COW_EINVAL: return "invalid argument";
	case COW_ENOMEM:
		return "out of memory (no frame free or reclaimable: swap full, or every page in "
		       "use)";
	case COW_EFAULT: return "bad address";
	case COW_EBUSY: return "object busy";
	case COW_EAGAIN: return "try again";
	case COW_EIO: return "I/O error";
	case COW_ENOTSUP: return "not supported";
	case COW_ECORRUPT: return "invariant broken";
	case COW_ENOENT: return "no such object";
	case COW_EDEADLK: return "deadlock";
	case COW_ELIVELOCK: return "livelock (step limit reached)";
	case COW_EOVERWRITE: return "a page that must not change was written";
	case COW_ESIGBUS: return "no huge page for a hugetlb mapping (SIGBUS)";
	}
	return "unknown error";
}

const char *cow_version(void)
{
	return COWLAB_VERSION;
}
