/*
 * Helpers shared by the cowlab command's files (main.c: run, replay,
 * policies, demo; explore_cmd.c: explore; matrix_cmd.c: matrix).
 */
#ifndef COW_CLI_H
#define COW_CLI_H

#include "sched/explore.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define EXIT_FOUND 1
#define EXIT_USAGE 2

double now_seconds(void);
/* A non-negative decimal; prints why and returns -1 if it is not one. */
int parse_u64(const char *opt, const char *text, uint64_t *out);
bool is_help(const char *arg);
void print_token(const struct explore_token *t);
/* s as a JSON string literal, quotes included. */
void json_string(FILE *f, const char *s);
/* Write all n bytes (0), or fail (-1). */
int write_full(int fd, const void *buf, size_t n);
/* Read a whole message of n bytes; fewer at the end of the stream. */
ssize_t read_full(int fd, void *buf, size_t n);

/* An explore program by name: a scenario file, or one of the demo
 * programs (cowlab demo).  On success *p is the program and *policy the
 * policy it runs under; release with explore_target_free.  On failure a
 * message went to stderr and the exit code is returned. */
struct explore_target;
int explore_target_open(const char *name, const char *policy, const char *cmd,
			struct explore_target **out, const struct explore_prog **p,
			const char **policy_used);
/* The same for a scenario already parsed (s stays the caller's and must
 * outlive the target); the policy must exist. */
struct scenario;
int explore_target_scenario(const struct scenario *s, const char *policy, const char *cmd,
			    struct explore_target **out, const struct explore_prog **p,
			    const char **policy_used);
void explore_target_free(struct explore_target *t);

int cmd_explore(int argc, char **argv);
int cmd_matrix(int argc, char **argv);

#endif
