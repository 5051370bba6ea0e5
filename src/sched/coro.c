/*
 * Coroutine switch (see coro.h).  The x86-64 version keeps the System V
 * callee-saved registers on the suspended stack; a fresh stack is laid out
 * as if coro_switch had suspended inside coro_start, so the first switch-in
 * "returns" into coro_start, which calls entry(arg) with a 16-byte aligned
 * stack.
 */
#include "coro.h"

#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__)

void coro_start(void);

__asm__(".text\n"
	".globl coro_switch\n"
	".type coro_switch,@function\n"
	"coro_switch:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	movq %rsp, (%rdi)\n"
	"	movq (%rsi), %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size coro_switch, .-coro_switch\n"
	".globl coro_start\n"
	".type coro_start,@function\n"
	"coro_start:\n"
	"	movq %r13, %rdi\n"
	"	callq *%r12\n"
	"	ud2\n"
	".size coro_start, .-coro_start\n");

void coro_init(struct coro *c, void *stack, size_t size, void (*entry)(void *), void *arg)
{
	uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
	uint64_t *sp = (uint64_t *)top;

	*--sp = (uint64_t)(uintptr_t)coro_start; /* return address */
	*--sp = 0;				 /* rbp */
	*--sp = 0;				 /* rbx */
	*--sp = (uint64_t)(uintptr_t)entry;	 /* r12 */
	*--sp = (uint64_t)(uintptr_t)arg;	 /* r13 */
	*--sp = 0;				 /* r14 */
	*--sp = 0;				 /* r15 */
	c->sp = sp;
}

#else /* portable fallback */

static void coro_trampoline(unsigned int lo, unsigned int hi, unsigned int alo, unsigned int ahi)
{
	void (*entry)(void *) = (void (*)(void *))(((uintptr_t)hi << 32) | lo);
	void *arg = (void *)(((uintptr_t)ahi << 32) | alo);

	entry(arg);
	abort();
}

void coro_init(struct coro *c, void *stack, size_t size, void (*entry)(void *), void *arg)
{
	uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;

	getcontext(&c->uc);
	c->uc.uc_stack.ss_sp = stack;
	c->uc.uc_stack.ss_size = size;
	c->uc.uc_link = NULL;
	makecontext(&c->uc, (void (*)(void))coro_trampoline, 4, (unsigned int)e,
		    (unsigned int)(e >> 32), (unsigned int)a, (unsigned int)(a >> 32));
}

void coro_switch(struct coro *from, struct coro *to)
{
	swapcontext(&from->uc, &to->uc);
}

#endif
