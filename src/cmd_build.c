/* diracos build: the whole pipeline: steps 1-3 (the configured packages,
 * see cmd_packages.c), then steps 4-6 (the bundle). */
#include "cmd.h"
#include "opts.h"

#include <jansson.h>

static int run_build(struct cmd_args *args)
{
	_cleanup_free_ char *root = NULL;
	int r = cmd_parse_options(args, &cmd_build, NULL, NULL, NULL);

	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	if (args->argc > 1)
		return dos_error(args->ctx, DOS_EUSAGE, "build: takes at most one CONFIG");
	r = cmd_load_config(args, args->argc ? args->argv[0] : NULL);
	if (r < 0)
		return r;
	if (args->ctx->json)
		args->json_doc = json_object();
	/* Run even with no package configured: it removes what is no longer. */
	r = cmd_packages_run(args, NULL, NULL, true);
	if (r == 0)
		r = cmd_bundle_run(args, &root);
	if (r == 0)
		r = cmd_check_after_build(args, root);
	/* One document, {"packages", "bundle", "check"}; on an error, main's
	 * {"error"} is the document instead. */
	if (args->json_doc && r >= 0)
		cmd_print_json(args->json_doc);
	json_decref(args->json_doc);
	args->json_doc = NULL;
	return r;
}

const struct cmd cmd_build = {
	"build", run_build, NEEDS_NOTHING,
	"the whole pipeline, incremental",
	"usage: diracos build [CONFIG]\n"
	"\n"
	"Runs every step: the local repository, our own Python, the configured\n"
	"packages, then the bundle (extraction, pip, finalize, pack), then\n"
	"`diracos check` on it. With no CONFIG, builds the built-in default\n"
	"bundle (see `diracos config --default`). Packages whose content key is\n"
	"unchanged are not rebuilt (see `diracos packages --help`). Prints the\n"
	"tarballs with their sizes, and the check's verdict; with --json, one\n"
	"document: {\"packages\": [...], \"bundle\": {...}, \"check\": {...}}.\n"
	"\n"
	"exit status: 0 built and checked, 1 a step failed or check found failures,\n"
	"2 bad usage or configuration.\n",
};
