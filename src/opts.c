#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OWN 32

enum { OPT_JSON = 1000, OPT_VERSION, OPT_HELP, OPT_OWN_BASE = 2000 };

static const struct option global_long[] = {
	{ "jobs", required_argument, NULL, 'j' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
};
#define N_GLOBAL (sizeof(global_long) / sizeof(global_long[0]))

static int parse_jobs(struct dos_ctx *ctx, const char *value)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (errno || *end || n < 1 || n > 1024)
		return dos_error(ctx, DOS_EUSAGE, "-j: '%s' is not a number of jobs (1 to 1024)", value);
	ctx->jobs = (int)n;
	return 0;
}

/* Handles one global option; returns 1 if it was one, 0 if not, <0 on error. */
static int handle_global(struct dos_ctx *ctx, int c, const char *value)
{
	switch (c) {
	case 'j':
		return parse_jobs(ctx, value) < 0 ? DOS_EUSAGE : 1;
	case 'v':
		ctx->log_level = DOS_LOG_DEBUG;
		return 1;
	case 'q':
		ctx->log_level = DOS_LOG_ERROR;
		ctx->progress = false;
		return 1;
	case OPT_JSON:
		ctx->json = true;
		ctx->progress = false;
		return 1;
	case 'C':
		if (chdir(value) < 0)
			return dos_error_errno(ctx, DOS_EUSAGE, errno, "-C: cannot change to '%s'", value);
		return 1;
	}
	return 0;
}

int opts_parse_global(struct dos_ctx *ctx, int argc, char **argv)
{
	int c, r;

	opterr = 0;
	optind = 1;
	/* '+': stop at the command name; what follows is the command's. */
	while ((c = getopt_long(argc, argv, "+:C:j:vqh", global_long, NULL)) != -1) {
		if (c == 'h')
			return OPTS_HELP;
		if (c == OPT_VERSION)
			return OPTS_VERSION;
		if (c == '?')
			return dos_error(ctx, DOS_EUSAGE, "unknown option '%s'; see 'diracos --help'",
					 argv[optind - 1]);
		if (c == ':')
			return dos_error(ctx, DOS_EUSAGE, "option '%s' needs a value", argv[optind - 1]);
		r = handle_global(ctx, c, optarg);
		if (r < 0)
			return r;
	}
	return optind;
}

/* Builds the getopt tables: the command's own options, then the globals. */
static void build_tables(const struct cmd_option *own, struct option *longs, char *shorts)
{
	size_t n = 0, s = 0;

	shorts[s++] = '+';
	shorts[s++] = ':';
	for (const struct cmd_option *o = own; o && o->name; o++, n++) {
		longs[n] = (struct option){ o->name, o->has_arg, NULL, OPT_OWN_BASE + (int)n };
		if (o->short_name) {
			shorts[s++] = (char)o->short_name;
			if (o->has_arg)
				shorts[s++] = ':';
		}
	}
	memcpy(longs + n, global_long, sizeof(global_long));
	memset(longs + n + N_GLOBAL, 0, sizeof(struct option));
	strcpy(shorts + s, "C:j:vqh");
}

static int own_index_of(const struct cmd_option *own, int c)
{
	if (c >= OPT_OWN_BASE)
		return c - OPT_OWN_BASE;
	for (int i = 0; own && own[i].name; i++)
		if (own[i].short_name == c)
			return i;
	return -1;
}

static size_t count_own(const struct cmd_option *own)
{
	size_t n = 0;

	while (own && own[n].name)
		n++;
	return n;
}

int cmd_parse_options(struct cmd_args *args, const struct cmd *cmd,
		      const struct cmd_option *own, cmd_option_fn fn, void *data)
{
	struct option longs[MAX_OWN + N_GLOBAL + 1];
	char shorts[2 * MAX_OWN + 16];
	struct dos_ctx *ctx = args->ctx;
	int c, r, idx;

	if (count_own(own) > MAX_OWN)
		return dos_error(ctx, DOS_EFAIL, "%s: too many options", cmd->name);
	build_tables(own, longs, shorts);
	opterr = 0;
	optind = 0; /* 0, not 1: makes GNU getopt forget main's '+' mode */
	for (;;) {
		/* Options may follow positional arguments: permute by hand, so
		 * that `diracos resolve cfg.json --why x` works as expected. */
		c = getopt_long(args->argc, args->argv, shorts + 1, longs, NULL);
		if (c == -1)
			break;
		if (c == 'h') {
			fputs(cmd->usage, stdout);
			return OPTS_HELP;
		}
		if (c == '?')
			return dos_error(ctx, DOS_EUSAGE, "%s: unknown option '%s'; see 'diracos %s --help'",
					 cmd->name, args->argv[optind - 1], cmd->name);
		if (c == ':')
			return dos_error(ctx, DOS_EUSAGE, "%s: option '%s' needs a value", cmd->name,
					 args->argv[optind - 1]);
		r = handle_global(ctx, c, optarg);
		if (r < 0)
			return r;
		if (r == 1)
			continue;
		idx = own_index_of(own, c);
		if (idx < 0 || !fn)
			return dos_error(ctx, DOS_EUSAGE, "%s: unexpected option", cmd->name);
		r = fn(args, own[idx].id, optarg, data);
		if (r < 0)
			return r;
	}
	args->argc -= optind;
	args->argv += optind;
	return 0;
}
