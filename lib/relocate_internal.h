/* What relocate.c (the pass: the walk, links, ELF files) and
 * relocate_scripts.c (shebangs) share; not part of the API (see
 * relocate.h). */
#pragma once

#include "relocate.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct entry {
	char *rel;
	mode_t mode;
	nlink_t nlink;
	off_t size;
	bool gone;      /* removed since the walk */
};

/* A shared-library file name and the folder holding it. */
struct lib_ref {
	const char *name, *dir;
};

struct tree {
	const char *root;
	const char *build_prefix;
	struct entry *v;
	size_t n, alloc;
	struct lib_ref *libs;
	size_t nlibs;
};

/* --- relocate.c --- */

/* root/rel; the root itself for "". */
char *relocate_full_path(const struct tree *t, const char *rel);
/* The folder part of a root-relative path ("" at the top). */
char *relocate_rel_dirname(const char *rel);
const char *relocate_base_name(const char *path);
/* An absolute path under build_prefix or under the root itself names a
 * bundle path: "/build/x/usr/lib/y" -> "/usr/lib/y". */
char *relocate_map_absolute(const struct tree *t, const char *path);
/* Resolves target as seen from folder dir, following symlinks inside the
 * root (at most LINKS_FOLLOWED_MAX), ".." at the top staying at the top.
 * True, with the real path in *out, when it exists; climbed tells whether a
 * ".." tried to leave the root. */
bool relocate_bundle_resolve(const struct tree *t, const char *dir, const char *target,
			     char **out, bool *climbed);
/* Replaces path with head + rest. */
int relocate_file_write_replace(struct dos_ctx *ctx, const char *path, mode_t mode,
				const char *head, size_t head_len, const char *rest,
				size_t rest_len);

/* --- relocate_scripts.c --- */

/* Gives every executable script whose #! line names an interpreter in the
 * bundle a header that finds it relative to the script (rep lists them);
 * one that cannot be made relocatable is a warning. */
int relocate_scripts_fix(struct dos_ctx *ctx, const struct tree *t,
			 struct dos_relocate_report *rep);
