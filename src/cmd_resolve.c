/* diracos resolve: the closure, versions, and why each package is in it. */
#include "assemble.h"
#include "cmd.h"
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_WHY = 1 };

static int on_option(struct cmd_args *args, int id, const char *value, void *data)
{
	*(const char **)data = value;
	return 0;
}

static void format_size(char *buf, size_t n, uint64_t bytes)
{
	if (bytes >= 10u << 20)
		snprintf(buf, n, "%.0f MiB", (double)bytes / (1 << 20));
	else
		snprintf(buf, n, "%.0f KiB", (double)bytes / 1024);
}

static json_t *package_json(const struct dos_assembly *as, const struct dos_resolved_pkg *p)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}",
		"name", p->name, "version", p->version, "arch", p->arch,
		"source", p->source, "sourceVersion", p->source_version, "repo", p->repo,
		"size", (json_int_t)p->size, "installedSize", (json_int_t)p->installed_size,
		"sha256", p->sha256, "url", p->url);

	json_object_set_new(j, "pulledBy", p->why ? json_string(p->why) : json_null());
	json_object_set_new(j, "reason", json_string(p->reason ? p->reason : "requested"));
	if (p->license)
		json_object_set_new(j, "license", json_string(p->license));
	if (dos_cache_has(as->cache, p->sha256)) {
		_cleanup_free_ char *file = dos_cache_path(as->cache, p->sha256);
		json_object_set_new(j, "file", json_string(file));
	}
	return j;
}

static void print_closure_json(const struct dos_assembly *as)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < as->closure.n; i++)
		json_array_append_new(arr, package_json(as, &as->closure.pkgs[i]));
	cmd_print_json(arr);
	json_decref(arr);
}

static void print_closure(const struct dos_assembly *as)
{
	uint64_t total = 0, download = 0;
	char size[32];

	for (size_t i = 0; i < as->closure.n; i++) {
		const struct dos_resolved_pkg *p = &as->closure.pkgs[i];
		format_size(size, sizeof(size), p->installed_size);
		printf("%-36s %-32s %9s  %s\n", p->name, p->version, size, p->repo);
		total += p->installed_size;
		download += p->size;
	}
	format_size(size, sizeof(size), total);
	printf("%zu packages, %s installed", as->closure.n, size);
	format_size(size, sizeof(size), download);
	printf(", %s to download\n", size);
}

static int print_why(struct cmd_args *args, const struct dos_assembly *as, const char *name)
{
	_cleanup_free_ char *chain = dos_closure_why(&as->closure, name);

	if (!chain)
		return dos_error(args->ctx, DOS_EFAIL, "package '%s' is not in the closure", name);
	if (args->ctx->json) {
		json_t *j = json_pack("{s:s, s:s}", "package", name, "chain", chain);
		cmd_print_json(j);
		json_decref(j);
	} else {
		printf("%s\n", chain);
	}
	return 0;
}

static int run_resolve(struct cmd_args *args)
{
	static const struct cmd_option own[] = {
		{ "why", required_argument, 'w', OPT_WHY },
		{ 0 },
	};
	const char *why = NULL;
	struct dos_assembly as;
	int r;

	r = cmd_parse_options(args, &cmd_resolve, own, on_option, &why);
	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	if (args->argc > 1)
		return dos_error(args->ctx, DOS_EUSAGE, "resolve: takes at most one CONFIG");
	r = cmd_load_config(args, args->argc ? args->argv[0] : NULL);
	if (r < 0)
		return r;
	r = dos_assemble_resolve(args->ctx, args->cfg, &as);
	if (r == 0 && why)
		r = print_why(args, &as, why);
	else if (r == 0 && args->ctx->json)
		print_closure_json(&as);
	else if (r == 0)
		print_closure(&as);
	dos_assembly_release(&as);
	return r;
}

const struct cmd cmd_resolve = {
	"resolve", run_resolve, NEEDS_NOTHING,
	"print the closure, versions, and why each package is in it",
	"usage: diracos resolve [CONFIG] [--why NAME]\n"
	"\n"
	"Resolves the closure of the bundle's distributionPackages and\n"
	"manualDependencies over the local repository (preferred) and the\n"
	"distribution, stopping at platform.platformPackages, without\n"
	"ignoredPackages; prints each package with its version, installed size\n"
	"and repository. With no CONFIG, the built-in default.\n"
	"\n"
	"  -w, --why NAME   the chain of dependencies that pulled NAME in\n"
	"      --json       the closure as JSON (with each file's cache path)\n",
};
