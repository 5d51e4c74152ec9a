/* What repo.c (the repository: indices, records, the pool, commits) and
 * repo_deb.c (the package files it takes) share; not part of the API (see
 * repo.h). */
#pragma once

#include "repo.h"

#include <stdbool.h>
#include <stddef.h>

#define REPO_NAME_MAX 200              /* bytes of a package name */
#define REPO_READ_BLOCK (1 << 16)

/* A package's control stanza, checked: what the indices are made of. */
struct repo_control {
	char *text;      /* the checked stanza, ending in one newline */
	char *package, *version, *arch;
};

int repo_control_parse(struct dos_ctx *ctx, const char *raw, size_t len, struct repo_control *c);
void repo_control_release(struct repo_control *c);
/* The control text of the .deb at path; with whole, its data member is
 * read through too, so that a truncated or corrupt one fails here. */
int repo_deb_read(struct dos_ctx *ctx, const char *path, bool whole, char **text, size_t *len);
