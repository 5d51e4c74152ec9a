/* diracos packages: steps 1-3 (placeholder). */
#include "cmd.h"
#include "opts.h"

static int run_packages(struct cmd_args *args)
{
	int r = cmd_parse_options(args, &cmd_packages, NULL, NULL, NULL);

	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	return dos_error(args->ctx, DOS_ENOTIMPL, "'packages' is not built yet (issue 4)");
}

const struct cmd cmd_packages = {
	"packages", run_packages, NEEDS_NOTHING,
	"steps 1-3: build the configured packages",
	"usage: diracos packages [CONFIG] [NAME...] [--force NAME]\n\n"
	"Builds the configured packages into the local repository, or only the\n"
	"named ones and what depends on them.\n",
};
