/*
 * Coroutines for the explore back end: a saved stack pointer and a switch.
 * On x86-64 the switch is eight instructions of assembly that save the
 * callee-saved registers (no signal mask, no system call); elsewhere it
 * falls back to ucontext.  Used only by sched.c.
 */
#ifndef COW_CORO_H
#define COW_CORO_H

#include <stddef.h>

#if defined(__x86_64__)
struct coro {
	void *sp;
};
#else
#include <ucontext.h>
struct coro {
	ucontext_t uc;
};
#endif

/* Prepare c to run entry(arg) on the given stack at its first switch-in.
 * entry must never return; it switches away for the last time instead. */
void coro_init(struct coro *c, void *stack, size_t size, void (*entry)(void *), void *arg);
/* Save the running context into from and resume to. */
void coro_switch(struct coro *from, struct coro *to);

#endif /* COW_CORO_H */
