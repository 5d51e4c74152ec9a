/* Option parsing shared by main and the commands: the global options
 * (-C, -j, -v, -q, --json) are accepted before the command and after it. */
#pragma once

#include "cmd.h"

#include <getopt.h>

enum {
	OPTS_HELP = -1000,
	OPTS_VERSION = -1001,
};

/* Parses global options up to the command name. Returns the index of the
 * command name, OPTS_HELP / OPTS_VERSION, or a negative error code. */
int opts_parse_global(struct dos_ctx *ctx, int argc, char **argv);

/* A command's own option: its long name, whether it takes an argument, its
 * short letter (0 for none) and an id passed to the handler. */
struct cmd_option {
	const char *name;
	int has_arg;
	int short_name;
	int id;
};

typedef int (*cmd_option_fn)(struct cmd_args *args, int id, const char *value, void *data);

/* Parses args->argv (argv[0] is the command name) for the command's own
 * options plus the global ones and --help. Leaves the positional arguments
 * in args->argc/argv (argv[0] the first positional). Returns 0, OPTS_HELP
 * after printing the command's help, or DOS_EUSAGE. */
int cmd_parse_options(struct cmd_args *args, const struct cmd *cmd,
		      const struct cmd_option *own, cmd_option_fn fn, void *data);
