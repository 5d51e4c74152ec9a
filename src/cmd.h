/* What every command gets, and the command table's entry type. */
#pragma once

#include "config.h"
#include "context.h"
#include "util.h"

#include <stdbool.h>

/* What main() opens for a command before calling it. */
enum cmd_needs {
	NEEDS_NOTHING = 0,
	NEEDS_CONFIG = 1,   /* first argument, or the built-in default */
};

struct cmd_args {
	struct dos_ctx *ctx;
	int argc;                   /* the command's own arguments, after its name */
	char **argv;
	struct dos_config *cfg;     /* when the command needs it */
	/* build --json: the one document (a json_t object) its steps add to,
	 * printed at the end; NULL for every other command. */
	void *json_doc;
};

struct cmd {
	const char *name;
	int (*run)(struct cmd_args *args);
	enum cmd_needs needs;
	const char *summary;        /* one line for `diracos --help` */
	const char *usage;          /* the text of `diracos NAME --help` */
};

extern const struct cmd cmd_build, cmd_packages, cmd_bundle, cmd_resolve, cmd_config;
extern const struct cmd cmd_check, cmd_test, cmd_extension, cmd_shell;
extern const struct cmd cmd_fix_pip_versions, cmd_verify;

/* Loads CONFIG (or the built-in default when path is NULL) into args->cfg.
 * Commands with their own option parsing call it after parsing. */
int cmd_load_config(struct cmd_args *args, const char *path);

/* Prints a JSON value on stdout (indented), followed by a newline. */
void cmd_print_json(const void *json_value);

/* A step's JSON result: printed as it is, or, within build (args->json_doc),
 * added to build's document under key (key NULL: its members merged in). */
void cmd_emit_json(struct cmd_args *args, const char *key, void *json_value);

/* Steps 4-6 on args->cfg, with the result printed (bundle and build).
 * root (may be NULL) gets the finished tree's path (the caller frees). */
int cmd_bundle_run(struct cmd_args *args, char **root);

/* `diracos check` of bundle with args->cfg's tests settings, for build:
 * the verdict on one line, the whole report when something fails (or the
 * report as JSON). Returns 1 on failures, like check. */
int cmd_check_after_build(struct cmd_args *args, const char *bundle);

/* Steps 1-3 on args->cfg: every configured package, or only `names` and
 * what depends on them; `force` rebuilds those named (packages and build). */
int cmd_packages_run(struct cmd_args *args, const struct dos_strv *names,
		     const struct dos_strv *force, bool quiet);
