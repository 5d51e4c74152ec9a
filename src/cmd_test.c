/* diracos test: a bundle's tests on each target platform (placeholder). */
#include "cmd.h"
#include "opts.h"

static int run_test(struct cmd_args *args)
{
	int r = cmd_parse_options(args, &cmd_test, NULL, NULL, NULL);

	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	return dos_error(args->ctx, DOS_ENOTIMPL, "'test' is not built yet (issue 5)");
}

const struct cmd cmd_test = {
	"test", run_test, NEEDS_NOTHING,
	"run a bundle's tests on each target platform",
	"usage: diracos test [-c CONFIG] BUNDLE [--platform SUITE...]\n\n"
	"Runs the bundle's tests, mounted read-only in root filesystems of the\n"
	"target distributions.\n",
};
