/*
 * The explore back end's side of src/sync: yield points and modelled
 * waiting, delegated to the scheduler in src/sched.  Each function here is
 * called only while sync_explorer is set, i.e. from an explore task.
 */
#include "sync.h"

#include "sched/sched.h"

int sync_explore_owner_tag(void)
{
	return SYNC_OWNER_BASE + sched_task_id(sync_explorer);
}

void sync_explore_point(enum sync_op op, const void *obj)
{
	sched_yield_point(sync_explorer, op, obj);
}

void sync_explore_block(enum sync_op op, const void *arg, const void *obj, sync_pred_fn ready,
			const char *what)
{
	sched_wait_on(sync_explorer, ready, arg, op, obj, what, NULL);
}

void sync_explore_wait(enum sync_op op, const void *obj, sync_pred_fn ready, const char *what,
		       const int *owner)
{
	sched_yield_point(sync_explorer, op, obj);
	/* The scheduler re-evaluates ready() when it picks this task, and
	 * nothing runs between that and our return: the caller may take
	 * the object without a further check. */
	sched_wait_on(sync_explorer, ready, obj, op, obj, what, owner);
}
