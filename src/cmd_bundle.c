/* diracos bundle: steps 4-6 (placeholder until assemble.c lands). */
#include "cmd.h"
#include "opts.h"

static int run_bundle(struct cmd_args *args)
{
	int r = cmd_parse_options(args, &cmd_bundle, NULL, NULL, NULL);

	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	return dos_error(args->ctx, DOS_ENOTIMPL, "'bundle' is not built yet (issue 3)");
}

const struct cmd cmd_bundle = {
	"bundle", run_bundle, NEEDS_NOTHING,
	"steps 4-6: resolve, extract, finalize and pack the bundle",
	"usage: diracos bundle [CONFIG]\n"
	"\n"
	"Resolves the closure of the bundle's packages (the local repository first,\n"
	"then the distribution), extracts them, makes the tree relocatable and\n"
	"packs the tarballs.\n",
};
