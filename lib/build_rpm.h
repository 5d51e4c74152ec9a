/* Step 3 for platform.backend "rpm" (see build_rpm.c).
 *
 * The build root is a Debian root (mmdebstrap, variant buildd, of the
 * suite in the option "buildRootSuite", default "bookworm", from the
 * host's apt mirror or DIRACOS_MIRROR) with `rpm` installed, since no EL
 * mirror is at hand: rpmbuild runs there, in the sandbox, without the
 * network. BuildRequires are not checked (rpmbuild --nodeps): the build
 * dependencies are the package's buildDependencies, Debian packages. */
#pragma once

#include "build.h"
#include "rootfs.h"

/* A fresh instance of the Debian build root (with rpm) for package p of an
 * rpm configuration, at dir (see dos_rootfs_instance); one made at a time
 * in the process. */
int dos_build_rpm_root_instance(struct dos_ctx *ctx, const struct dos_config *cfg,
				const struct dos_package *p, const char *dir,
				struct dos_rootfs_instance **out);

/* What a recipe build hands over: its install tree, made into one .rpm. */
struct dos_build_rpm_tree {
	const struct dos_build_opts *o;
	const struct dos_rootfs_instance *inst;
	const char *destdir;          /* the install tree (host path) */
	const char *workdir;          /* the build's scratch folder */
	const char *log;
	int64_t epoch;                /* SOURCE_DATE_EPOCH */
	int timeout_s;
};

/* Writes a spec (Name, Version and Release from the package's "version":
 * "1.2" is 1.2-1, "1.2-3" is 1.2-3; Requires: its depends; rpm's automatic
 * requirements from the ELF files), runs rpmbuild -bb over the tree in
 * the sandbox and commits the package (repo_rpm.h). */
int dos_build_rpm_tree_commit(struct dos_ctx *ctx, const struct dos_build_rpm_tree *t);

/* "src" naming a .src.rpm (a path, relative to the configuration, or a
 * file://, http:// or https:// URL): rebuilt in the sandbox as mock
 * --rebuild would, `<patchDir>/<name>.patch` applied with -p1 in the
 * folder holding SPECS/ and SOURCES/ after `rpm -i` unpacked it; the
 * binary packages kept by pkgList/excludePatterns (debuginfo and
 * debugsource packages never) are committed, to the build-only section
 * when buildOnly is set. */
int dos_build_rpm_src_package(struct dos_ctx *ctx, const struct dos_build_opts *o);

/* Whether s names a .src.rpm. */
bool dos_build_rpm_is_srpm(const char *s);

/* For the plan (called by dos_build_src_pin on its copy of the packages):
 * a .src.rpm given by path enters the content key by its content, as the
 * option "srcSha256" (checked again when the build reads the file).
 * Errors: a .src.rpm that cannot be read. */
int dos_build_rpm_pin(struct dos_ctx *ctx, const struct dos_config *cfg, struct dos_package *pinned);
