/* diracos build: the whole pipeline. Steps 1-3 (source builds) come with
 * issue 4; until then, configurations that need none are bundled, and the
 * others are refused with a clear message. */
#include "cmd.h"
#include "opts.h"



static int run_build(struct cmd_args *args)
{
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
	if (args->cfg->n_packages > 0)
		return dos_error(args->ctx, DOS_ENOTIMPL, "build: %s configures %zu source packages, "
				 "and source builds (steps 1-3) are not built yet",
				 args->cfg->path, args->cfg->n_packages);
	dos_info(args->ctx, "build: no source packages configured; running steps 4-6");
	return cmd_bundle_run(args);
}

const struct cmd cmd_build = {
	"build", run_build, NEEDS_NOTHING,
	"the whole pipeline, incremental",
	"usage: diracos build [CONFIG]\n"
	"\n"
	"Runs every step: the local repository, our own Python, the configured\n"
	"packages, then the bundle (extraction, pip, finalize, pack). With no\n"
	"CONFIG, builds the built-in default bundle (see `diracos config\n"
	"--default`). Source builds (steps 1-3) are not built yet: a\n"
	"configuration without source packages is bundled directly.\n",
};
