/* diracos: the command table, global options, and the only place that
 * decides how the process exits. */
#include "cmd.h"
#include "opts.h"
#include "sandbox.h"

#include "version.h"

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct cmd *const commands[] = {
	&cmd_build, &cmd_packages, &cmd_bundle, &cmd_resolve, &cmd_config,
	&cmd_check, &cmd_test, &cmd_extension, &cmd_shell,
	&cmd_fix_pip_versions, &cmd_verify,
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_main_help(FILE *out)
{
	fputs("usage: diracos [-C DIR] [-j N] [-v | -q] [--json] COMMAND [ARGS]\n"
	      "\n"
	      "Builds a relocatable, self-contained Python environment (a bundle) from a\n"
	      "bundle description (diracos.json).\n"
	      "\n"
	      "commands:\n", out);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-17s %s\n", commands[i]->name, commands[i]->summary);
	fputs("\n"
	      "global options:\n"
	      "  -C DIR            run as if started in DIR\n"
	      "  -j, --jobs N      run N jobs at once (default: one per CPU)\n"
	      "  -v, --verbose     say more (debug messages)\n"
	      "  -q, --quiet       say only errors; no progress display\n"
	      "      --json        machine-readable output on stdout\n"
	      "  -h, --help        this help; `diracos COMMAND --help` for a command\n"
	      "      --version     the version\n"
	      "\n"
	      "exit status: 0 success, 1 failure, 2 bad usage or bad configuration,\n"
	      "130 interrupted.\n"
	      "See docs/ for a page per command.\n", out);
}

static const struct cmd *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

/* Reports the error held by ctx and returns the exit status for it. */
static int report_failure(struct dos_ctx *ctx, int code)
{
	if (ctx->msg[0] == '\0')
		snprintf(ctx->msg, sizeof(ctx->msg), "failed (%s)", dos_code_name(code));
	if (ctx->json) {
		json_t *j = json_pack("{s:s, s:s, s:i}", "error", ctx->msg,
				      "kind", dos_code_name(code), "exit", dos_exit_status(code));
		cmd_print_json(j);
		json_decref(j);
	}
	fprintf(stderr, "diracos: %s\n", ctx->msg);
	return dos_exit_status(code);
}

static int run_command(struct dos_ctx *ctx, const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_args args = { .ctx = ctx, .argc = argc, .argv = argv };
	int r;

	r = cmd->run(&args);
	if (args.cfg)
		dos_config_free(args.cfg);
	if (r < 0)
		return report_failure(ctx, r);
	return r; /* 0, or a positive status a command chose (check: 1) */
}

static void own_mount_namespace(struct dos_ctx *ctx)
{
	int r = dos_mount_namespace_own();

	if (r < 0) /* a container without CAP_SYS_ADMIN: mounts stay ours to undo */
		dos_debug(ctx, "no mount namespace of our own: %s", strerror(-r));
}

int main(int argc, char **argv)
{
	struct dos_ctx ctx;
	const struct cmd *cmd;
	int first;

	/* Package file names are UTF-8 (ca-certificates ships
	 * "...Főtanúsítvány.crt"): libarchive converts names to the locale's
	 * character set, which the C locale of a clean environment lacks. */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");
	dos_ctx_init(&ctx);
	first = opts_parse_global(&ctx, argc, argv);
	if (first == OPTS_HELP) {
		print_main_help(stdout);
		return 0;
	}
	if (first == OPTS_VERSION) {
		printf("diracos %s\n", DIRACOS_VERSION);
		return 0;
	}
	if (first < 0)
		return report_failure(&ctx, first);
	if (first >= argc) {
		print_main_help(stderr);
		return 2;
	}
	cmd = find_command(argv[first]);
	if (!cmd)
		return report_failure(&ctx, dos_error(&ctx, DOS_EUSAGE,
			"'%s' is not a diracos command; see 'diracos --help'", argv[first]));
	/* Before any thread: unshare(CLONE_NEWNS) moves the calling thread only. */
	if (geteuid() == 0)
		own_mount_namespace(&ctx);
	return run_command(&ctx, cmd, argc - first, argv + first);
}
