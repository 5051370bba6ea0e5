/*
 * A small JSON reader for the files cowlab writes itself (shard results,
 * src/cli/shard.c): the whole document into a tree, with the accessors a
 * reader of known fields needs.  Strict: what RFC 8259 allows, nesting at
 * most 64 deep, strings with NUL escaped (\u0000) refused.
 */
#ifndef COW_CLI_JSON_H
#define COW_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

struct json {
	enum json_type type;
	char *key;  /* its name, in an object; else NULL */
	char *text; /* JSON_STR: the string, decoded; JSON_NUM: the number as written */
	bool b;	    /* JSON_BOOL */
	struct json *child, *next; /* JSON_ARR, JSON_OBJ: the elements, in order */
};

/* Parse len bytes of text: 0 and *out, or COW_EINVAL with "line L: why"
 * in err, or COW_ENOMEM. */
int json_parse(const char *text, size_t len, struct json **out, char *err, size_t errlen);
void json_free(struct json *j);

/* The member key of object obj (the first, if repeated), or NULL. */
const struct json *json_get(const struct json *obj, const char *key);
/* The member as a string, or NULL if absent or not a string. */
const char *json_get_str(const struct json *obj, const char *key);
/* The member as an unsigned integer / a boolean: false if absent or not
 * one (a number with a fraction, a sign or out of range is not). */
bool json_get_u64(const struct json *obj, const char *key, uint64_t *out);
bool json_get_bool(const struct json *obj, const char *key, bool *out);

#endif
