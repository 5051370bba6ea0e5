/*
 * The JSON reader (json.h): recursive descent over the text, one node per
 * value.
 */
#include "json.h"

#include "base/base.h"
#include "cowlab.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

struct reader {
	const char *p, *end;
	int line;
	char *err;
	size_t errlen;
	int rc; /* the first error's code */
};

COW_PRINTF(2, 3) static int bad_text(struct reader *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->rc)
		return r->rc;
	r->rc = COW_EINVAL;
	n = snprintf(r->err, r->errlen, "line %d: ", r->line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < r->errlen)
		vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return r->rc;
}

static void skip_blanks(struct reader *r)
{
	for (; r->p < r->end; r->p++) {
		if (*r->p == '\n')
			r->line++;
		else if (*r->p != ' ' && *r->p != '\t' && *r->p != '\r')
			break;
	}
}

static bool take(struct reader *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return false;
	r->p += n;
	return true;
}

static int hex4(struct reader *r, unsigned int *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++, r->p++) {
		char c = r->p < r->end ? *r->p : '\0';

		*out <<= 4;
		if (c >= '0' && c <= '9')
			*out |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*out |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*out |= (unsigned int)(c - 'A' + 10);
		else
			return bad_text(r, "a \\u escape wants four hex digits");
	}
	return 0;
}

static size_t put_utf8(char *o, unsigned int cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at r->p (its opening quote), decoded into *out. */
static int read_string(struct reader *r, char **out)
{
	const char *start = ++r->p;
	char *s, *o;

	/* The decoded string is never longer than the text. */
	while (r->p < r->end && *r->p != '"') {
		if ((unsigned char)*r->p < 0x20)
			return bad_text(r, "a control character in a string");
		r->p += *r->p == '\\' ? 2 : 1;
	}
	if (r->p >= r->end)
		return bad_text(r, "a string without its closing quote");
	s = o = malloc((size_t)(r->p - start) + 1);
	if (!s)
		return r->rc = COW_ENOMEM;
	for (r->p = start; *r->p != '"';) {
		unsigned int cp, lo;

		if (*r->p != '\\') {
			*o++ = *r->p++;
			continue;
		}
		r->p++;
		switch (*r->p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (hex4(r, &cp))
				goto bad;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (!take(r, "\\u") || hex4(r, &lo) || lo < 0xdc00 || lo > 0xdfff) {
					bad_text(r, "a lone surrogate in a \\u escape");
					goto bad;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				bad_text(r, "a lone surrogate in a \\u escape");
				goto bad;
			}
			if (cp == 0) {
				bad_text(r, "a NUL in a string");
				goto bad;
			}
			o += put_utf8(o, cp);
			break;
		default: bad_text(r, "an unknown escape '\\%c'", r->p[-1]); goto bad;
		}
	}
	r->p++;
	*o = '\0';
	*out = s;
	return 0;
bad:
	free(s);
	return r->rc;
}

static int read_number(struct reader *r, char **out)
{
	const char *start = r->p;

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		return bad_text(r, "a number wants a digit");
	if (*r->p == '0')
		r->p++;
	else
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	if (r->p < r->end && *r->p == '.') {
		if (++r->p >= r->end || *r->p < '0' || *r->p > '9')
			return bad_text(r, "a fraction wants a digit");
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return bad_text(r, "an exponent wants a digit");
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	*out = strndup(start, (size_t)(r->p - start));
	return *out ? 0 : (r->rc = COW_ENOMEM);
}

static int read_value(struct reader *r, struct json *j, int depth);

/* The elements of an array or the members of an object, after its
 * opening bracket. */
static int read_items(struct reader *r, struct json *j, char close, int depth)
{
	struct json **tail = &j->child;

	skip_blanks(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		struct json *e = calloc(1, sizeof(*e));

		if (!e)
			return r->rc = COW_ENOMEM;
		*tail = e;
		tail = &e->next;
		skip_blanks(r);
		if (close == '}') {
			if (r->p >= r->end || *r->p != '"')
				return bad_text(r, "a member wants its name in quotes");
			if (read_string(r, &e->key))
				return r->rc;
			skip_blanks(r);
			if (r->p >= r->end || *r->p++ != ':')
				return bad_text(r, "a member's name wants a ':' after it");
		}
		if (read_value(r, e, depth + 1))
			return r->rc;
		skip_blanks(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return 0;
		}
		return bad_text(r, "expected ',' or '%c'", close);
	}
}

static int read_value(struct reader *r, struct json *j, int depth)
{
	if (depth > JSON_MAX_DEPTH)
		return bad_text(r, "nested more than %d deep", JSON_MAX_DEPTH);
	skip_blanks(r);
	if (r->p >= r->end)
		return bad_text(r, "a value is missing");
	switch (*r->p) {
	case '{':
		j->type = JSON_OBJ;
		r->p++;
		return read_items(r, j, '}', depth);
	case '[':
		j->type = JSON_ARR;
		r->p++;
		return read_items(r, j, ']', depth);
	case '"': j->type = JSON_STR; return read_string(r, &j->text);
	default: break;
	}
	if (take(r, "true") || take(r, "false")) {
		j->type = JSON_BOOL;
		j->b = r->p[-2] == 'u'; /* tr(u)e, fal(s)e */
		return 0;
	}
	if (take(r, "null")) {
		j->type = JSON_NULL;
		return 0;
	}
	if (*r->p != '-' && (*r->p < '0' || *r->p > '9'))
		return bad_text(r, "expected a value, found '%c'", *r->p);
	j->type = JSON_NUM;
	return read_number(r, &j->text);
}

int json_parse(const char *text, size_t len, struct json **out, char *err, size_t errlen)
{
	struct reader r = {text, text + len, 1, err, errlen, 0};
	struct json *j = calloc(1, sizeof(*j));

	*out = NULL;
	if (!j)
		return COW_ENOMEM;
	if (read_value(&r, j, 0) == 0) {
		skip_blanks(&r);
		if (r.p != r.end)
			bad_text(&r, "text after the value");
	}
	if (r.rc) {
		if (r.rc == COW_ENOMEM)
			snprintf(err, errlen, "out of memory");
		json_free(j);
		return r.rc;
	}
	*out = j;
	return 0;
}

void json_free(struct json *j)
{
	while (j) {
		struct json *next = j->next;

		json_free(j->child);
		free(j->key);
		free(j->text);
		free(j);
		j = next;
	}
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJ)
		return NULL;
	for (const struct json *e = obj->child; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

const char *json_get_str(const struct json *obj, const char *key)
{
	const struct json *e = json_get(obj, key);

	return e && e->type == JSON_STR ? e->text : NULL;
}

bool json_get_u64(const struct json *obj, const char *key, uint64_t *out)
{
	const struct json *e = json_get(obj, key);
	char *end;

	if (!e || e->type != JSON_NUM || e->text[0] == '-')
		return false;
	errno = 0;
	*out = strtoull(e->text, &end, 10);
	return errno == 0 && *end == '\0';
}

bool json_get_bool(const struct json *obj, const char *key, bool *out)
{
	const struct json *e = json_get(obj, key);

	if (!e || e->type != JSON_BOOL)
		return false;
	*out = e->b;
	return true;
}
