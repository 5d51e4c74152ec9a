/* diracos check: the static audit of a bundle (placeholder). */
#include "cmd.h"
#include "opts.h"

static int run_check(struct cmd_args *args)
{
	int r = cmd_parse_options(args, &cmd_check, NULL, NULL, NULL);

	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	return dos_error(args->ctx, DOS_ENOTIMPL, "'check' is not built yet (issue 5)");
}

const struct cmd cmd_check = {
	"check", run_check, NEEDS_NOTHING,
	"audit a bundle without running it",
	"usage: diracos check [-c CONFIG] BUNDLE\n\n"
	"Audits a bundle tarball, or an unpacked bundle's top folder: links,\n"
	"libraries, glibc floor, leaks, permissions. Exit 1 on any failure.\n",
};
