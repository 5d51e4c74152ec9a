/* diracos fix-pip-versions: a fully pinned requirements file from what the
 * last pip step installed (<workDir>/pip/installed.json), DIRACOS's step
 * for reproducible releases. */
#include "cmd.h"
#include "opts.h"
#include "pip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_OUTPUT = 1 };

static int on_option(struct cmd_args *args, int id, const char *value, void *data)
{
	(void)args;
	if (id == OPT_OUTPUT)
		*(const char **)data = value;
	return 0;
}

static char *pinned_text(const struct dos_config *cfg, const struct dos_pip_result *res)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	fprintf(f, "# %s %s: every Python distribution its pip step installed, pinned\n"
		"# (written by diracos fix-pip-versions)\n", cfg->name, cfg->version);
	for (size_t i = 0; i < res->n; i++)
		fprintf(f, "%s==%s\n", res->dists[i].name, res->dists[i].version);
	fclose(f);
	return text;
}

static int run_fix_pip_versions(struct cmd_args *args)
{
	static const struct cmd_option own[] = {
		{ "output", required_argument, 'o', OPT_OUTPUT },
		{ 0 },
	};
	const char *output = NULL;
	struct dos_pip_result res;
	_cleanup_free_ char *text = NULL;
	int r = cmd_parse_options(args, &cmd_fix_pip_versions, own, on_option, &output);

	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	if (args->argc > 1)
		return dos_error(args->ctx, DOS_EUSAGE, "fix-pip-versions: takes at most one CONFIG");
	r = cmd_load_config(args, args->argc ? args->argv[0] : NULL);
	if (r < 0)
		return r;
	r = dos_pip_installed_read(args->ctx, args->cfg, &res);
	if (r < 0)
		return r;
	text = pinned_text(args->cfg, &res);
	dos_pip_result_release(&res);
	if (!output || !strcmp(output, "-")) {
		fputs(text, stdout);
		return 0;
	}
	r = dos_write_file_atomic(args->ctx, output, text, strlen(text), 0644);
	if (r == 0)
		dos_info(args->ctx, "fix-pip-versions: '%s' written", output);
	return r;
}

const struct cmd cmd_fix_pip_versions = {
	"fix-pip-versions", run_fix_pip_versions, NEEDS_NOTHING,
	"a pinned requirements file from the pip step",
	"usage: diracos fix-pip-versions [CONFIG] [-o FILE]\n"
	"\n"
	"Writes a fully pinned requirements file (NAME==VERSION, one a line) from\n"
	"what the last pip step of CONFIG's bundle installed, on stdout or into\n"
	"FILE (written whole or not at all). Give it to pipRequirements for a\n"
	"reproducible release. See docs/fix-pip-versions.md.\n"
	"\n"
	"options:\n"
	"  -o, --output FILE   write FILE instead of stdout\n",
};
