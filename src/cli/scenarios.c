/*
 * The scenario files a command is given: each FILE as it is, each DIR as
 * its *.cow files sorted by name, each parsed.  Shared by matrix and diff.
 */
#include "cli.h"
#include "scenario/scenario.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int cmp_strings(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static bool is_cow_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 4 && strcmp(name + n - 4, ".cow") == 0;
}

static int add_entry(struct scen_entry **v, int *nr, const char *file)
{
	struct scen_entry *e;
	const char *base = strrchr(file, '/');
	size_t n;
	void *p = realloc(*v, ((size_t)*nr + 1) * sizeof(**v));

	if (!p)
		return -1;
	*v = p;
	e = &(*v)[*nr];
	memset(e, 0, sizeof(*e));
	base = base ? base + 1 : file;
	n = strlen(base);
	if (n > 4 && strcmp(base + n - 4, ".cow") == 0)
		n -= 4;
	e->file = strdup(file);
	e->name = strndup(base, n);
	if (!e->file || !e->name) {
		free(e->file);
		free(e->name);
		return -1;
	}
	(*nr)++;
	return 0;
}

/* The *.cow files of dir, sorted by name. */
static int add_dir(const char *cmd, struct scen_entry **v, int *nr, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0;
	int code = 0;

	if (!d) {
		fprintf(stderr, "cowlab %s: cannot read %s: %s\n", cmd, dir, strerror(errno));
		return EXIT_USAGE;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (!is_cow_name(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			void *p = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*names));

			if (!p)
				goto out_nomem;
			names = p;
		}
		names[n] = strdup(path);
		if (!names[n])
			goto out_nomem;
		n++;
	}
	if (n == 0) {
		fprintf(stderr, "cowlab %s: no .cow files in %s\n", cmd, dir);
		code = EXIT_USAGE;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_strings);
	for (size_t i = 0; i < n && !code; i++)
		if (add_entry(v, nr, names[i]) != 0)
			goto out_nomem;
	goto out_free;
out_nomem:
	fprintf(stderr, "cowlab %s: out of memory\n", cmd);
	code = EXIT_USAGE;
out_free:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return code;
}

int scen_list_paths(const char *cmd, const char *const *paths, int nr_paths,
		    struct scen_entry **out, int *nr)
{
	int code = 0;

	*out = NULL;
	*nr = 0;
	for (int i = 0; i < nr_paths && !code; i++) {
		struct stat st;

		if (stat(paths[i], &st) != 0) {
			fprintf(stderr, "cowlab %s: cannot read %s: %s\n", cmd, paths[i],
				strerror(errno));
			code = EXIT_USAGE;
		} else if (S_ISDIR(st.st_mode)) {
			code = add_dir(cmd, out, nr, paths[i]);
		} else if (add_entry(out, nr, paths[i]) != 0) {
			fprintf(stderr, "cowlab %s: out of memory\n", cmd);
			code = EXIT_USAGE;
		}
	}
	return code;
}

int scen_list_load(const char *cmd, const char *const *paths, int nr_paths, struct scen_entry **out,
		   int *nr)
{
	int code = scen_list_paths(cmd, paths, nr_paths, out, nr);

	for (int i = 0; i < *nr && !code; i++)
		code = scen_load_checked(cmd, (*out)[i].file, &(*out)[i].s);
	return code;
}

void scen_list_free(struct scen_entry *v, int nr)
{
	for (int i = 0; i < nr; i++) {
		scen_free(v[i].s);
		free(v[i].file);
		free(v[i].name);
	}
	free(v);
}
