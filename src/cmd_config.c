/* diracos config: the effective configuration, every inherited option
 * resolved, as DIRACOS's dump of its package configuration did. */
#include "cmd.h"
#include "opts.h"

#include <stdio.h>
#include <string.h>

enum { OPT_DEFAULT = 1, OPT_PACKAGE };

struct config_opts {
	int print_default;
	const char *package;
};

static int on_option(struct cmd_args *args, int id, const char *value, void *data)
{
	struct config_opts *o = data;

	if (id == OPT_DEFAULT)
		o->print_default = 1;
	else if (id == OPT_PACKAGE)
		o->package = value;
	return 0;
}

static int print_package(struct cmd_args *args, const char *name)
{
	const struct dos_package *pkg = dos_config_find_package(args->cfg, name);

	if (!pkg)
		return dos_error(args->ctx, DOS_EUSAGE, "config: no package named '%s' in %s",
				 name, args->cfg->path);
	cmd_print_json(pkg->options);
	return 0;
}

static int run_config(struct cmd_args *args)
{
	static const struct cmd_option own[] = {
		{ "default", no_argument, 0, OPT_DEFAULT },
		{ "package", required_argument, 'p', OPT_PACKAGE },
		{ 0 },
	};
	struct config_opts o = { 0 };
	json_t *eff;
	int r;

	r = cmd_parse_options(args, &cmd_config, own, on_option, &o);
	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	if (args->argc > 1)
		return dos_error(args->ctx, DOS_EUSAGE, "config: takes at most one CONFIG");
	if (o.print_default) {
		fputs(dos_config_default_text(), stdout);
		return 0;
	}
	r = cmd_load_config(args, args->argc ? args->argv[0] : NULL);
	if (r < 0)
		return r;
	if (o.package)
		return print_package(args, o.package);
	eff = dos_config_effective(args->cfg);
	cmd_print_json(eff);
	json_decref(eff);
	return 0;
}

const struct cmd cmd_config = {
	"config", run_config, NEEDS_NOTHING,
	"print the effective configuration, after inheritance",
	"usage: diracos config [CONFIG] [--package NAME] [--default]\n"
	"\n"
	"Prints the effective configuration as JSON: the bundle-level keys with\n"
	"their defaults, and one object per package with every option inherited\n"
	"(global, then its group's, then its own) and folders made absolute.\n"
	"With no CONFIG, the built-in default configuration.\n"
	"\n"
	"  -p, --package NAME  only that package's effective options\n"
	"      --default       print the built-in default configuration's text,\n"
	"                      to copy and start your own\n",
};
