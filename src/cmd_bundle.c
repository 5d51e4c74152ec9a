/* diracos bundle: steps 4-6, from what the repositories hold. */
#include "assemble.h"
#include "cmd.h"
#include "opts.h"

#include <stdio.h>

static json_t *strv_json(const struct dos_strv *sv)
{
	json_t *a = json_array();

	for (size_t i = 0; i < sv->n; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	return a;
}

static void print_result_json(struct cmd_args *args, const struct dos_bundle_result *res)
{
	json_t *tarballs = json_array();
	json_t *j;

	for (size_t i = 0; i < res->tarballs.n; i++)
		json_array_append_new(tarballs, json_pack("{s:s, s:I}", "path", res->tarballs.v[i],
							  "size", (json_int_t)res->tarball_sizes[i]));
	j = json_pack("{s:o, s:s, s:I, s:I, s:I, s:o, s:o, s:o}",
		      "tarballs", tarballs, "root", res->root,
		      "packages", (json_int_t)res->n_packages, "files", (json_int_t)res->files,
		      "bytes", (json_int_t)res->bytes, "brokenLinks", strv_json(&res->broken_links),
		      "conflicts", strv_json(&res->conflicts), "notes", strv_json(&res->notes));
	cmd_emit_json(args, "bundle", j);
	json_decref(j);
}

static void print_result(struct dos_ctx *ctx, const struct dos_bundle_result *res)
{
	for (size_t i = 0; i < res->conflicts.n; i++)
		dos_warn(ctx, "%s", res->conflicts.v[i]);
	for (size_t i = 0; i < res->notes.n; i++)
		dos_info(ctx, "note: %s", res->notes.v[i]);
	if (res->broken_links.n)
		dos_info(ctx, "%zu broken links removed (listed in brokenLinks.txt)",
			 res->broken_links.n);
	for (size_t i = 0; i < res->tarballs.n; i++)
		printf("%s (%.1f MiB)\n", res->tarballs.v[i],
		       (double)res->tarball_sizes[i] / (1 << 20));
}

/* Shared with `build` (see cmd.h). */
int cmd_bundle_run(struct cmd_args *args, char **root)
{
	struct dos_bundle_result res;
	int r;

	r = dos_assemble_bundle(args->ctx, args->cfg, &res);
	if (r == 0 && args->ctx->json)
		print_result_json(args, &res);
	else if (r == 0)
		print_result(args->ctx, &res);
	if (r == 0 && root)
		*root = dos_xstrdup(res.root);
	dos_bundle_result_release(&res);
	return r;
}

static int run_bundle(struct cmd_args *args)
{
	int r = cmd_parse_options(args, &cmd_bundle, NULL, NULL, NULL);

	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	if (args->argc > 1)
		return dos_error(args->ctx, DOS_EUSAGE, "bundle: takes at most one CONFIG");
	r = cmd_load_config(args, args->argc ? args->argv[0] : NULL);
	if (r < 0)
		return r;
	return cmd_bundle_run(args, NULL);
}

const struct cmd cmd_bundle = {
	"bundle", run_bundle, NEEDS_NOTHING,
	"steps 4-6: resolve, extract, finalize and pack the bundle",
	"usage: diracos bundle [CONFIG]\n"
	"\n"
	"Resolves the closure of the bundle's packages (the local repository\n"
	"first, then the distribution), downloads and verifies them, extracts\n"
	"them, makes the tree relocatable (relative links, $ORIGIN RPATHs,\n"
	"relocatable shebangs), writes diracosrc, versions.txt and an SBOM, and\n"
	"packs reproducible tarballs NAME-VERSION-ARCH.tar.zst / .tar.gz into\n"
	"output.directory. With no CONFIG, the built-in default.\n"
	"\n"
	"  --json   the result (tarballs, sizes, counts, notes) as JSON\n",
};
