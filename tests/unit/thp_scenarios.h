/*
 * A THP scenario that test_interp.c runs on the model and test_kernel.c
 * on the host, written once: after fork the parent rewrites 300 of the
 * 512 small pages of a range that asked for THP, so that 212 stay shared
 * with the child, and khugepaged collapses the range (from 5.8, and on
 * the host, at most 256 shared pages are allowed; the child keeps its
 * pages).  The frames line is the model's; the host ignores it.
 */
#ifndef COW_TESTS_THP_SCENARIOS_H
#define COW_TESTS_THP_SCENARIOS_H

#define THP_KHUGEPAGED_PARTLY_SHARED               \
	"system frames=3072\n"                     \
	"process P\n"                              \
	"  map buf 2M thp\n"                       \
	"  madvise buf nohugepage\n"               \
	"  write buf 0x11\n"                       \
	"  madvise buf hugepage\n"                 \
	"  fork C\n"                               \
	"  write buf[0..1200K] 0x33\n"             \
	"  khugepaged\n"                           \
	"  check corrupt buf huge\n"               \
	"  check corrupt buf[0..1200K] == 0x33\n"  \
	"  check corrupt buf[1200K..2M] == 0x11\n" \
	"process C\n"                              \
	"  check leak buf == 0x11\n"

#endif /* COW_TESTS_THP_SCENARIOS_H */
