/* The built-in default configuration and the files it names (recipes,
 * patches), compiled into the binary from the source tree (configs/,
 * recipes/: see lib/meson.build), so that `diracos build` with no
 * configuration works from the binary alone. */
#pragma once

#include "config.h"
#include "context.h"

#include <stddef.h>

struct dos_builtin_file {
	const char *path;   /* relative to the source tree: "configs/default.json" */
	const char *data;   /* NUL-terminated */
	size_t size;
};

/* The first is configs/default.json; a NULL path ends the table. */
extern const struct dos_builtin_file dos_builtin_files[];

/* Writes the files once under <cache>/builtin/<key>/ (key: a hash of them
 * all; written in a temporary folder, then renamed) and loads
 * configs/default.json from there, so its relative paths find its recipes.
 * Its workDir and output.directory start from the current folder. */
int dos_builtin_load(struct dos_ctx *ctx, struct dos_config **out);
