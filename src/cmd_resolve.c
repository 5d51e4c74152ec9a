/* diracos resolve: the closure (placeholder until resolve.c lands). */
#include "cmd.h"
#include "opts.h"

static int run_resolve(struct cmd_args *args)
{
	int r = cmd_parse_options(args, &cmd_resolve, NULL, NULL, NULL);

	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	return dos_error(args->ctx, DOS_ENOTIMPL, "'resolve' is not built yet (issue 3)");
}

const struct cmd cmd_resolve = {
	"resolve", run_resolve, NEEDS_NOTHING,
	"print the closure, versions, and why each package is in it",
	"usage: diracos resolve [CONFIG] [--why NAME]\n"
	"\n"
	"Prints every package of the bundle's closure with its version and size.\n"
	"  --why NAME   the chain of dependencies that pulled NAME in\n",
};
