/*
 * A generated block of a document: the text between two marker lines in
 * a file under docs/, which a test program writes from the one list it
 * comes from (--write-doc) and checks on every run.  Shared by
 * test_lockrank (the lock order) and test_ops (the scenario operations).
 * Run both from the repository root.
 */
#ifndef COW_TEST_DOCBLOCK_H
#define COW_TEST_DOCBLOCK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct docblock {
	const char *path;	 /* "docs/architecture.md" */
	const char *begin, *end; /* the marker lines, each with its '\n' */
	const char *source;	 /* the list it is generated from */
	const char *writer;	 /* the command that writes it, for messages */
	char *(*generate)(void); /* the block, markers included (malloc'd) */
};

/* The whole of a file (malloc'd, NUL-terminated), or NULL. */
static inline char *docblock_read(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, n;
	char chunk[4096];
	FILE *out;

	if (!f)
		return NULL;
	out = open_memstream(&buf, &len);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, out);
	fclose(f);
	fclose(out);
	return buf;
}

/* Where the block lies in doc, markers included: [*at, *past), or false
 * if a marker is missing or out of order. */
static inline bool docblock_find(const struct docblock *d, const char *doc, const char **at,
				 const char **past)
{
	*at = strstr(doc, d->begin);
	*past = *at ? strstr(*at, d->end) : NULL;
	if (!*past)
		return false;
	*past += strlen(d->end);
	return true;
}

/* Replace the block in the file with a generated one; 0 or 1. */
static inline int docblock_write(const struct docblock *d)
{
	char *doc = docblock_read(d->path), *block = d->generate(), tmp[256];
	const char *at, *past;
	FILE *f;
	int rc = 1;

	if (!doc || !docblock_find(d, doc, &at, &past)) {
		fprintf(stderr, "%s: %s\n", d->path,
			doc ? "no markers" : "cannot read it (run from the repository root)");
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->path);
	f = fopen(tmp, "w");
	if (!f || fwrite(doc, 1, (size_t)(at - doc), f) != (size_t)(at - doc) ||
	    fputs(block, f) == EOF || fputs(past, f) == EOF || fclose(f) != 0 ||
	    rename(tmp, d->path) != 0) {
		perror(d->path);
		goto out;
	}
	printf("wrote %s\n", d->path);
	rc = 0;
out:
	free(doc);
	free(block);
	return rc;
}

/* NULL if the file holds the generated block between the markers, else
 * what is wrong and how to mend it (a static buffer). */
static inline const char *docblock_differs(const struct docblock *d)
{
	static char msg[512];
	char *doc = docblock_read(d->path), *block = d->generate();
	const char *at, *past, *why = NULL;

	if (!doc)
		why = "cannot be read: run the tests from the repository root";
	else if (!docblock_find(d, doc, &at, &past))
		why = "has no block between the markers";
	else if (strlen(block) != (size_t)(past - at) || memcmp(at, block, strlen(block)) != 0)
		why = "differs from";
	free(doc);
	free(block);
	if (!why)
		return NULL;
	snprintf(msg, sizeof(msg), "%s %s %s: run %s", d->path, why, d->source, d->writer);
	return msg;
}

#endif /* COW_TEST_DOCBLOCK_H */
