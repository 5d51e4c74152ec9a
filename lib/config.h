/* The bundle description (diracos.json): parsing, type checking, and the
 * inheritance of package options: global -> group -> package.
 *
 * Errors name the file, the line and column, and what was expected:
 *   diracos.json:12:20: 'buildOnly' must be a boolean, not a string */
#pragma once

#include "context.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>

struct dos_source {
	struct dos_strv urls;      /* {"urls": [...], "sha256": ...} */
	char *sha256;
	char *filename;            /* optional name to store it under */
	char *debian_source;       /* {"debianSource": NAME, "suite": ..., "file": "orig"} */
	char *suite;
	char *file;
};

/* Whether s is a plain file name (no '/', not "." or "..", under 256
 * bytes): what a source's "filename" must be, as it names a file in a
 * folder the tool writes. */
bool dos_config_filename_ok(const char *s);

struct dos_package {
	char *name;
	char *group;               /* the group it came from, NULL for none */
	json_t *options;           /* effective options after inheritance (owned) */
	/* Typed views into options (borrowed from it, may be NULL). */
	const char *src;
	const char *recipe;        /* absolute path of the build script */
	const char *version;
	bool build_only;
	struct dos_source *sources;
	size_t n_sources;
	struct dos_strv build_dependencies, depends, pkg_list, exclude_patterns;
};

struct dos_platform {
	char *backend;             /* "deb" or "rpm" */
	char *suite;
	char *arch;
	char *mirror;              /* NULL: the host's apt sources, or DIRACOS_MIRROR */
	struct dos_strv components;
	struct dos_strv platform_packages;
};

struct dos_tests {
	struct dos_strv platforms, imports, commands, scripts;
	struct dos_strv known_broken_links, known_missing_dependencies;
	struct dos_strv known_no_bytecode;   /* Python sources that need no .pyc (check) */
};

struct dos_config {
	char *path;                /* as given, or "<built-in>" */
	char *dir;                 /* absolute folder relative paths start from */
	json_t *root;              /* the parsed file */
	json_t *bundle;            /* effective bundle-level keys, defaults filled in */

	char *name, *version, *comment;
	struct dos_platform platform;
	char *repo, *patch_dir, *routine_dir, *work_dir;  /* absolute */
	struct dos_package *packages;
	size_t n_packages;

	struct dos_strv distribution_packages, manual_dependencies, ignored_packages;
	struct dos_strv removed_folders;
	char *pip_requirements;    /* absolute path, or NULL */
	struct dos_strv pip_requirement_lines; /* when given inline as a list */
	struct dos_strv pip_build_dependencies, pip_options;
	struct dos_source *pip_sources;
	size_t n_pip_sources;
	json_t *environment;       /* object of strings (borrowed from bundle) */
	struct dos_strv unset_environment;
	struct dos_strv compression;     /* "zstd", "gzip", "xz" */
	char *output_directory;    /* absolute */
	struct dos_tests tests;
	char *extension_name, *diracos_version;
};

/* Parses a configuration file. On error, ctx holds the one-line message
 * with file:line:column and the code is DOS_ECONFIG (or DOS_EIO). */
int dos_config_load_file(struct dos_ctx *ctx, const char *path, struct dos_config **out);

/* The same, naming it name in messages (NULL: path), with workDir and
 * output.directory relative to run_dir (NULL: the file's folder) while its
 * other paths start from the file's folder. */
int dos_config_load_file_at(struct dos_ctx *ctx, const char *path, const char *name,
			    const char *run_dir, struct dos_config **out);

/* Parses configuration text; name is used in messages, base_dir is where
 * relative paths start. */
int dos_config_load_text(struct dos_ctx *ctx, const char *text, size_t len, const char *name,
			 const char *base_dir, struct dos_config **out);

/* The built-in default configuration's text, as embedded in the binary,
 * and that text parsed alone (its recipes are not written out: see
 * builtin.h for a configuration that builds). */
const char *dos_config_default_text(void);
int dos_config_load_default(struct dos_ctx *ctx, struct dos_config **out);

void dos_config_free(struct dos_config *cfg);

/* The effective configuration: {"bundle": {...}, "packages": [{...}, ...]}.
 * The caller owns the result. */
json_t *dos_config_effective(const struct dos_config *cfg);

/* Appends the strings of the JSON array arr to sv (other items, or an arr
 * that is no array, add nothing): a configuration's lists, as check.c
 * reads the bundle's own copy of them. */
void dos_config_strv_from_json(struct dos_strv *sv, const json_t *arr);
const struct dos_package *dos_config_find_package(const struct dos_config *cfg, const char *name);
