/*
 * hugetlb scenarios that test_interp.c runs on the model and
 * test_kernel.c on the host, written once: after fork, with a pool of
 * one, the child's write that needs a copy raises SIGBUS (CHILD_WRITES)
 * and the owner's takes the page back so that the child's next access
 * does (PARENT_WRITES); and the shared mapping's cases (fork shares the
 * page, MADV_DONTNEED keeps it, the last unmap gives it back).
 */
#ifndef COW_TESTS_HUGETLB_SCENARIOS_H
#define COW_TESTS_HUGETLB_SCENARIOS_H

#define HUGETLB_CHILD_WRITES                \
	"system hugepages=1\n"              \
	"process P\n"                       \
	"  map buf 2M hugetlb\n"            \
	"  write buf 0x11\n"                \
	"  fork C\n"                        \
	"process C\n"                       \
	"  write buf[4K..8K] 0x22 sigbus\n" \
	"  check leak buf == 0x11\n"        \
	"process P\n"                       \
	"  check corrupt buf == 0x11\n"

#define HUGETLB_PARENT_WRITES                   \
	"system hugepages=1\n"                  \
	"process P\n"                           \
	"  map buf 2M hugetlb\n"                \
	"  write buf 0x11\n"                    \
	"  fork C\n"                            \
	"  write buf[0..4K] 0x22\n"             \
	"  check corrupt buf[0..4K] == 0x22\n"  \
	"  check corrupt buf[4K..8K] == 0x11\n" \
	"process C\n"                           \
	"  check leak buf sigbus\n"             \
	"  read buf[2093056..2M] sigbus\n"

#define HUGETLB_SHARED_CHILD_WRITES             \
	"system hugepages=1\n"                  \
	"process P\n"                           \
	"  map buf 2M shared hugetlb\n"         \
	"  write buf 0x11\n"                    \
	"  fork C\n"                            \
	"process C\n"                           \
	"  write buf[0..4K] 0x22\n"             \
	"process P\n"                           \
	"  check corrupt buf[0..4K] == 0x22\n"  \
	"  check corrupt buf[4K..8K] == 0x11\n" \
	"  check corrupt buf hugetlb\n"         \
	"  check corrupt buf huge\n"            \
	"  check corrupt buf shared\n"          \
	"  madvise buf dontneed\n"              \
	"  check corrupt buf[0..4K] == 0x22\n"  \
	"process C\n"                           \
	"  check corrupt buf[0..4K] == 0x22\n"

#define HUGETLB_SHARED_PARENT_WRITES                 \
	"system hugepages=1\n"                       \
	"process P\n"                                \
	"  map buf 2M hugetlb shared\n"              \
	"  fork C\n"                                 \
	"  write buf 0x11\n"                         \
	"process C\n"                                \
	"  check corrupt buf == 0x11\n"              \
	"  madvise buf dontneed\n"                   \
	"  check corrupt buf[2093056..2M] == 0x11\n" \
	"  write buf[0..4K] 0x33\n"                  \
	"process P\n"                                \
	"  check corrupt buf[0..4K] == 0x33\n"

#define HUGETLB_SHARED_LAST_UNMAP     \
	"system hugepages=1\n"        \
	"process P\n"                 \
	"  map a 2M shared hugetlb\n" \
	"  write a 0x11\n"            \
	"  fork C\n"                  \
	"  munmap a\n"                \
	"process C\n"                 \
	"  check corrupt a == 0x11\n" \
	"  exit\n"                    \
	"process P\n"                 \
	"  map b 2M shared hugetlb\n" \
	"  check corrupt b == 0x00\n" \
	"  write b 0x44\n"            \
	"  check corrupt b hugetlb\n"

#endif
