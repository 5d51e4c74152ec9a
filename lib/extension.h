/* Extensions: the files pip adds or changes on top of a base bundle, as a
 * tarball of their own (diracos extension, docs/extension.md).
 *
 * The base (diracOsVersion: a version of cfg->name in the output folder,
 * a tarball path, or a URL) is unpacked into <workDir>/extension/<ext>/base;
 * its own Python installs pipRequirements from pipSources in the build
 * root (the pip step, pip.h, with the base tarball's sha256 in the wheels'
 * key); the tree is relocated; whatever is new or changed (compared by
 * inode, size, mode, mtime and link target with a snapshot taken after
 * unpacking) goes into <ext>-<version>.tar.gz/.zst under the base's top
 * folder, with <ext>_versions.txt, also written beside the tarballs. */
#pragma once

#include "config.h"
#include "context.h"
#include "pip.h"
#include "util.h"

struct dos_extension_result {
	char *base;                   /* the base tarball used */
	struct dos_strv tarballs;
	char *versions;               /* <output>/<ext>_versions.txt */
	size_t files;                 /* entries in the extension */
	struct dos_strv removed;      /* base files pip removed (an upgrade): not expressible */
	struct dos_pip_result pip;
};

int dos_extension_build(struct dos_ctx *ctx, const struct dos_config *cfg,
			struct dos_extension_result *res);
void dos_extension_result_release(struct dos_extension_result *res);
