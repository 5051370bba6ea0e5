/*
 * Base definitions shared by every layer: compiler helpers, container_of,
 * the two assertion macros of the house style, and a hash (FNV-1a).  It
 * includes only the public header (for the COW_E* codes); every layer may
 * include it.
 *
 *   COW_ASSERT(cond)   cheap, checked in debug builds (COW_DEBUG=1) only;
 *   COW_CHECK(cond, fmt, ...)  always checked, for module boundaries.
 *
 * A failing assertion calls cow_panic(), which prints the broken invariant
 * and aborts.  Tests may install their own handler with
 * cow_set_panic_handler() to assert that an assertion fires.
 */
#ifndef COW_BASE_H
#define COW_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "cowlab.h"

#ifndef COW_DEBUG
#define COW_DEBUG 1
#endif

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* A macro's value as a string literal: COW_STR(3) is "3". */
#define COW_STR_(x) #x
#define COW_STR(x) COW_STR_(x)
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define COW_UNUSED __attribute__((unused))
/* A field that other CPUs write often starts its own cache line, so that
 * the read-mostly fields before it do not bounce with it (false sharing). */
#define COW_CACHELINE 64
#define cacheline_aligned __attribute__((aligned(COW_CACHELINE)))
#define COW_NORETURN __attribute__((noreturn))
#define COW_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Is p within the size bytes from start? */
static inline bool ptr_within(const void *p, const void *start, size_t size)
{
	return (uintptr_t)p >= (uintptr_t)start && (uintptr_t)p - (uintptr_t)start < size;
}

/* x % n for 1 <= n <= MOD_SMALL_MAX, exactly, without a 64-bit
 * division (Lemire, Kaser and Kurz, "Faster remainder by direct
 * computation", 2019): with M = floor((2^128 - 1) / n) + 1, x % n is the
 * high 64 bits of the 192-bit product of (M * x mod 2^128) and n.  The
 * scheduler's random pick among the runnable tasks, its hottest line. */
#define MOD_SMALL_MAX 64
extern __uint128_t mod_small_magic[MOD_SMALL_MAX + 1];

static inline uint64_t mod_small(uint64_t x, unsigned int n)
{
	__uint128_t low = mod_small_magic[n] * x;
	__uint128_t bottom = ((low & UINT64_MAX) * n) >> 64, top = (low >> 64) * n;

	return (uint64_t)((bottom + top) >> 64);
}

/* SplitMix64 (Steele, Lea and Flood): cow_mix64 scrambles a word, a hash
 * of it; cow_splitmix64 advances the state *x and returns its next
 * pseudo-random word. */
static inline uint64_t cow_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t cow_splitmix64(uint64_t *x)
{
	return cow_mix64(*x += 0x9e3779b97f4a7c15ull);
}

/* 64-bit FNV-1a of n bytes, continuing from h (COW_FNV_BASIS to start):
 * what a replay token carries to name a scenario's text and its rules. */
#define COW_FNV_BASIS 0xcbf29ce484222325ull
uint64_t cow_fnv1a(uint64_t h, const void *buf, size_t n);

typedef void (*cow_panic_fn)(const char *file, int line, const char *msg);

/* Report a broken invariant: calls the installed handler, then aborts. */
COW_NORETURN void cow_panic(const char *file, int line, const char *fmt, ...) COW_PRINTF(3, 4);

/* Replace the panic handler (NULL restores the default).  The handler may
 * longjmp out; if it returns, the process aborts.  Returns the old one. */
cow_panic_fn cow_set_panic_handler(cow_panic_fn fn);

#define COW_CHECK(cond, ...)                                        \
	do {                                                        \
		if (unlikely(!(cond)))                              \
			cow_panic(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#if COW_DEBUG
#define COW_ASSERT(cond) COW_CHECK(cond, "assertion failed: %s", #cond)
#else
#define COW_ASSERT(cond) ((void)sizeof(cond))
#endif

#endif /* COW_BASE_H */
