/* Commands whose pipeline steps are not built yet. Each has its place in the
 * command table and its --help, and says plainly that it cannot run yet. */
#include "cmd.h"
#include "opts.h"

static int not_built(struct cmd_args *args, const struct cmd *cmd, const char *issue)
{
	int r = cmd_parse_options(args, cmd, NULL, NULL, NULL);

	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	return dos_error(args->ctx, DOS_ENOTIMPL, "'%s' is not built yet (%s)", cmd->name, issue);
}

#define STUB(var, cname, summary_text, usage_text, issue)                  \
	static int run_##var(struct cmd_args *args);                       \
	const struct cmd cmd_##var = { cname, run_##var, NEEDS_NOTHING,    \
				       summary_text, usage_text };         \
	static int run_##var(struct cmd_args *args)                        \
	{                                                                  \
		return not_built(args, &cmd_##var, issue);                 \
	}

STUB(extension, "extension", "a pip-only extension tarball on a base bundle",
     "usage: diracos extension CONFIG\n\n"
     "Builds an extension: the files pip adds on top of a base bundle.\n",
     "issue 6")
