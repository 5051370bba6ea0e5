/*
 * Circular doubly linked lists (Linux's list_head), for the memory
 * manager's object graphs: VMAs of an anon_vma, processes of a system.
 * Plain memory: callers provide the locking.
 */
#ifndef COW_BASE_LIST_H
#define COW_BASE_LIST_H

#include "base.h"

struct list_head {
	struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name)     \
	{                        \
		&(name), &(name) \
	}

static inline void INIT_LIST_HEAD(struct list_head *l)
{
	l->next = l;
	l->prev = l;
}

static inline bool list_empty(const struct list_head *l)
{
	return l->next == l;
}

static inline void list_insert(struct list_head *n, struct list_head *prev, struct list_head *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}

static inline void list_add(struct list_head *n, struct list_head *head)
{
	list_insert(n, head, head->next);
}

static inline void list_add_tail(struct list_head *n, struct list_head *head)
{
	list_insert(n, head->prev, head);
}

static inline void list_del(struct list_head *n)
{
	n->next->prev = n->prev;
	n->prev->next = n->next;
	n->next = n->prev = n;
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)

/*
 * The iterators form an entry pointer only for a real element, never for
 * the head: the head lives inside some other structure (a struct
 * cow_system, a vma), so container_of() applied to it yields an address
 * that is no object of pos's type, typically misaligned for it (struct
 * mm_struct is cache-line aligned), which is undefined behaviour even
 * unused, and UBSan's alignment check reports it.  So the loop walks a
 * list_head cursor (named after pos, so nested loops do not shadow each
 * other) and tests it against the head before computing pos.  After a
 * loop that ran to its end, pos is the last element (unset if the list
 * was empty), not Linux's head-derived pointer: no caller may use it then.
 */
#define list_for_each_entry(pos, head, member)                               \
	for (struct list_head *pos##_node_ = (head)->next;                   \
	     pos##_node_ != (head) &&                                        \
	     ((pos = list_entry(pos##_node_, __typeof__(*pos), member)), 1); \
	     pos##_node_ = pos##_node_->next)

/* As list_for_each_entry, and the body may delete (and free) pos: the next
 * node is read before the body runs.  n is the next entry, or NULL when pos
 * is the last. */
#define list_for_each_entry_safe(pos, n, head, member)                                          \
	for (struct list_head *pos##_node_ = (head)->next, *n##_node_ = pos##_node_->next;      \
	     pos##_node_ != (head) &&                                                           \
	     ((pos = list_entry(pos##_node_, __typeof__(*pos), member)),                        \
	      (n = n##_node_ != (head) ? list_entry(n##_node_, __typeof__(*n), member) : NULL), \
	      1);                                                                               \
	     pos##_node_ = n##_node_, n##_node_ = pos##_node_->next)

#endif
