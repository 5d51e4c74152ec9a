/* What a bundle carries about itself: versions.txt (what is in it),
 * sbom.spdx.json (the same as an SPDX 2.3 document), and diracosrc /
 * diracosrc.csh (how a shell starts using it).
 *
 * Every file is a pure function of the input: same input, same bytes. */
#pragma once

#include "context.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct dos_report_pkg {
	const char *name, *version, *arch;
	const char *source, *source_version;  /* the source package (NULL: same name, version) */
	const char *license;                  /* Debian or SPDX short name(s), or NULL */
	const char *sha256;                   /* of the .deb (or the pip archive), or NULL */
	const char *url;                      /* where it was downloaded from, or NULL */
};

struct dos_report_input {
	const char *bundle_name, *bundle_version, *arch;
	int64_t date;                          /* SOURCE_DATE_EPOCH */
	const struct dos_report_pkg *pkgs;
	size_t n_pkgs;
	/* pip-installed: name, version, source (where it came from) */
	const struct dos_report_pkg *python_pkgs;
	size_t n_python_pkgs;
	const json_t *environment;             /* object: NAME -> value using $DIRACOS */
	const struct dos_strv *unset_environment;
	const char *python_version;            /* "3.11", or NULL: no Python in the bundle */
	bool rpm;                              /* the packages are RPMs: pkg:rpm purls */
};

/* root/versions.txt: the bundle, then "name version" per package, sorted,
 * then the Python distributions. */
int dos_report_write_versions(struct dos_ctx *ctx, const char *root, const struct dos_report_input *in);

/* root/sbom.spdx.json: SPDX 2.3, JSON, keys sorted, indent 2. */
int dos_report_write_sbom(struct dos_ctx *ctx, const char *root, const struct dos_report_input *in);

/* root/diracosrc (POSIX sh, bash, zsh) and root/diracosrc.csh (csh, tcsh). */
int dos_report_write_diracosrc(struct dos_ctx *ctx, const char *root, const struct dos_report_input *in);

/* The SPDX expression for a license as Debian names it ("GPL-2+" ->
 * "GPL-2.0-or-later"); NULL when it has none we know. Exposed for tests. */
const char *dos_report_spdx_license(const char *debian);

/* The SBOM as JSON (the caller owns it), for tests and `diracos check`. */
json_t *dos_report_sbom(const struct dos_report_input *in);
