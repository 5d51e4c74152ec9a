/* What config.c (parsing and checking a configuration) and
 * config_bundle.c (the bundle level with its defaults filled in) share;
 * not part of the API (see config.h). */
#pragma once

#include "config.h"
#include "jsonpos.h"

/* The state of one parse: where messages point. */
struct parser {
	struct dos_ctx *ctx;
	struct dos_config *cfg;
	const char *file;
	const char *run_dir;  /* where workDir and output.directory start */
	struct jsonpos pos;
};

/* --- config.c --- */

/* The string option key of options, or NULL. */
const char *config_opt_string(const json_t *options, const char *key);
/* The "sources" array arr, as sources (checked before). */
void config_sources_from_json(struct dos_source **out, size_t *n, const json_t *arr);
/* A path option made absolute from the configuration's folder (a new
 * reference; a value that is no string is returned as it is). */
json_t *config_resolve_path_value(struct parser *p, const json_t *v);

/* --- config_bundle.c --- */

/* The effective "bundle" object: the top-level keys with every default
 * filled in, paths made absolute. */
json_t *config_bundle_effective(struct parser *p);
/* cfg's typed bundle fields, read from cfg->bundle. */
void config_bundle_fill(struct dos_config *cfg);
