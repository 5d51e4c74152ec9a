/* The rpm side of the resolver (see resolve.h): rpm-md repositories
 * (repodata/repomd.xml and its primary metadata) read with libsolv's
 * rpm-md parsers into a pool made with dos_resolver_new(ctx, "rpm", ...).
 *
 * Trust: rpm-md repositories are not signed here (no repomd.xml.asc is
 * checked). repomd.xml is taken from the configured URL as the root of
 * trust; the primary metadata must have the sha256 repomd.xml names, and
 * every package the sha256 its primary entry names. */
#pragma once

#include "context.h"
#include "util.h"

#include <stdint.h>

struct dos_resolver;

/* What repomd.xml says about one of its data files. */
struct dos_rpmmd_data {
	char *location;               /* relative to the repository's base URL */
	char sha256[DOS_SHA256_HEX];  /* of the file as stored (compressed) */
	uint64_t size;                /* 0: not given */
};

/* Reads repomd.xml at repomd_path and finds the data file of the given
 * type ("primary"). DOS_EFORMAT when it is missing, has no sha256
 * checksum, or its location is unsafe (absolute, "..", control
 * characters). */
int dos_rpmmd_find_data(struct dos_ctx *ctx, const char *repomd_path, const char *type,
			struct dos_rpmmd_data *out);
void dos_rpmmd_data_release(struct dos_rpmmd_data *d);

/* Adds the packages of a primary metadata file (plain, .gz, .xz or .zst:
 * by its name's suffix, as primary_name gives it) as a repository named
 * repo_name; base_url is where its location hrefs start. Source packages
 * (arch src/nosrc) are left out. A higher priority wins over a higher
 * version, as in dos_resolver_add_deb_index(). */
int dos_resolver_add_rpmmd(struct dos_resolver *r, const char *repo_name,
			   const char *primary_path, const char *primary_name,
			   const char *base_url, int priority);

/* rpm's version comparison (rpmvercmp with epochs: "1:1.0-1" > "2.0-1",
 * "1.10" > "1.9", "2.0~rc1" < "2.0"): <0, 0, >0. For the tests and
 * messages. */
int dos_rpm_evrcmp(const char *a, const char *b);
