/* diracos extension: a pip-only extension tarball on a base bundle. */
#include "cmd.h"
#include "extension.h"
#include "opts.h"

#include <stdio.h>

static int run_extension(struct cmd_args *args)
{
	struct dos_extension_result res;
	int r = cmd_parse_options(args, &cmd_extension, NULL, NULL, NULL);

	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	if (args->argc != 1)
		return dos_error(args->ctx, DOS_EUSAGE, "extension: takes one CONFIG");
	r = cmd_load_config(args, args->argv[0]);
	if (r < 0)
		return r;
	r = dos_extension_build(args->ctx, args->cfg, &res);
	if (r == 0) {
		printf("extension %s %s on %s: %zu Python distributions, %zu entries\n",
		       args->cfg->extension_name, args->cfg->version, res.base, res.pip.n,
		       res.files);
		for (size_t i = 0; i < res.tarballs.n; i++)
			printf("  %s\n", res.tarballs.v[i]);
		printf("  %s\n", res.versions);
		for (size_t i = 0; i < res.removed.n; i++)
			dos_warn(args->ctx, "extension: '%s' of the base was removed by pip; "
				 "unpacking the extension over the base keeps it", res.removed.v[i]);
	}
	dos_extension_result_release(&res);
	return r;
}

const struct cmd cmd_extension = {
	"extension", run_extension, NEEDS_NOTHING,
	"a pip-only extension tarball on a base bundle",
	"usage: diracos extension CONFIG\n"
	"\n"
	"Builds an extension: the base bundle (diracOsVersion: a version of the\n"
	"bundle in the output folder, a tarball path, or a URL) is unpacked, its\n"
	"own Python installs pipRequirements from pipSources in the build root,\n"
	"and the files added or changed become EXTENSIONNAME-VERSION.tar.gz (and\n"
	"the other output compressions) with EXTENSIONNAME_versions.txt. Unpacked\n"
	"over the base in one folder, they make a working environment. See\n"
	"docs/extension.md.\n",
};
