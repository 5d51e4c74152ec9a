/* diracos packages: steps 1-3, the configured packages into the local
 * repository. */
#include "build.h"
#include "cmd.h"
#include "opts.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum { OPT_FORCE = 1 };

static int on_option(struct cmd_args *args, int id, const char *value, void *data)
{
	dos_strv_push(data, value);
	return 0;
}

static const char *status_word(enum dos_build_status s)
{
	static const char *const words[] = { "up-to-date", "built", "failed", "skipped",
					     "removed", "not-selected" };

	return words[s];
}

static void print_json(struct cmd_args *args, const struct dos_build_report *rep)
{
	json_t *list = json_array(), *j;

	for (size_t i = 0; i < rep->n; i++) {
		const struct dos_build_item *it = &rep->items[i];
		if (it->status == DOS_BUILD_UNSELECTED)
			continue;
		json_array_append_new(list, json_pack("{s:s, s:s, s:s?, s:f, s:s?}", "name", it->name,
						      "status", status_word(it->status),
						      "key", it->key[0] ? it->key : NULL,
						      "seconds", it->seconds, "error", it->error));
	}
	j = json_pack("{s:o}", "packages", list);
	cmd_emit_json(args, NULL, j);
	json_decref(j);
}

static void print_lines(struct dos_ctx *ctx, const struct dos_build_report *rep, bool quiet)
{
	for (size_t i = 0; i < rep->n; i++) {
		const struct dos_build_item *it = &rep->items[i];
		char line[256];
		if (it->status == DOS_BUILD_UNSELECTED)
			continue;
		if (it->status == DOS_BUILD_BUILT)
			snprintf(line, sizeof(line), "%s: built (%.0f s)", it->name, it->seconds);
		else if (it->status == DOS_BUILD_SKIPPED)
			snprintf(line, sizeof(line), "%s: skipped (what it builds on failed)", it->name);
		else
			snprintf(line, sizeof(line), "%s: %s", it->name, dos_build_status_name(it->status));
		if (quiet)
			dos_info(ctx, "%s", line);
		else
			printf("%s\n", line);
	}
	fflush(stdout);
}

int cmd_packages_run(struct cmd_args *args, const struct dos_strv *names,
		     const struct dos_strv *force, bool quiet)
{
	struct dos_build_all_opts o = { .names = names, .force = force };
	struct dos_build_report rep;
	int r;

	r = dos_build_packages(args->ctx, args->cfg, &o, &rep);
	/* build's lines are progress on stderr; its JSON document has them. */
	if (args->ctx->json && r == 0 && (!quiet || args->json_doc))
		print_json(args, &rep);
	else if (!args->ctx->json)
		print_lines(args->ctx, &rep, quiet);
	dos_build_report_release(&rep);
	return r;
}

/* The first positional argument is CONFIG when it looks like a file. */
static bool is_config(const char *arg)
{
	struct stat st;
	size_t n = strlen(arg);

	return strchr(arg, '/') || (n > 5 && !strcmp(arg + n - 5, ".json")) ||
	       (stat(arg, &st) == 0 && S_ISREG(st.st_mode));
}

static int run_packages(struct cmd_args *args)
{
	static const struct cmd_option own[] = {
		{ "force", required_argument, 'f', OPT_FORCE },
		{ 0 },
	};
	struct dos_strv force = { 0 }, names = { 0 };
	const char *config = NULL;
	int r;

	r = cmd_parse_options(args, &cmd_packages, own, on_option, &force);
	if (r == 0 && args->argc > 0 && is_config(args->argv[0]))
		config = args->argv[0];
	for (int i = config ? 1 : 0; r == 0 && i < args->argc; i++)
		dos_strv_push(&names, args->argv[i]);
	if (r == 0)
		r = cmd_load_config(args, config);
	if (r == 0)
		r = cmd_packages_run(args, &names, &force, false);
	dos_strv_release(&force);
	dos_strv_release(&names);
	return r == OPTS_HELP ? 0 : r;
}

const struct cmd cmd_packages = {
	"packages", run_packages, NEEDS_NOTHING,
	"steps 1-3: build the configured packages",
	"usage: diracos packages [CONFIG] [NAME...] [--force NAME]\n"
	"\n"
	"Builds the configured packages into the local repository, in dependency\n"
	"order (independent ones in parallel, -j at once), each in a fresh\n"
	"sandboxed build root. A package whose content key (recipe, sources,\n"
	"patch, routines, options, and the keys of the packages it builds on) is\n"
	"unchanged is not rebuilt. With NAMEs, only those and what builds on them;\n"
	"what they build on must have been built. Packages no longer configured\n"
	"are removed from the repository. Prints one line per package: up to\n"
	"date, built (N s), FAILED, skipped, removed. With no CONFIG, the\n"
	"built-in default.\n"
	"\n"
	"  -f, --force NAME   rebuild NAME even when its key is unchanged (what\n"
	"                     builds on it keeps its key, so it is not rebuilt)\n"
	"      --json         the result as JSON\n",
};
