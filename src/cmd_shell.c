/* diracos shell: an interactive shell in the build root (placeholder). */
#include "cmd.h"
#include "opts.h"

static int run_shell(struct cmd_args *args)
{
	int r = cmd_parse_options(args, &cmd_shell, NULL, NULL, NULL);

	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	return dos_error(args->ctx, DOS_ENOTIMPL, "'shell' is not built yet (issue 4)");
}

const struct cmd cmd_shell = {
	"shell", run_shell, NEEDS_NOTHING,
	"an interactive shell in the build root",
	"usage: diracos shell [CONFIG]\n\n"
	"Opens a shell in a fresh build root with the local repository available.\n",
};
