/* The dependency resolver: a pool of package indices, libsolv's solver to
 * pick one consistent set, then the closure the bundle ships: what the
 * requested packages need, stopping at the platform set.
 *
 * resolve.c and resolve_index.c are the only files that include libsolv; nothing here exposes
 * its types. */
#pragma once

#include "context.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dos_resolver;

/* backend: "deb" or "rpm" (rpm-md repositories: resolve_rpm.h). arch: the
 * distribution's name for it ("amd64", "x86_64"); "all" and "noarch"
 * packages are installable too. */
int dos_resolver_new(struct dos_ctx *ctx, const char *backend, const char *arch,
		     struct dos_resolver **out);
void dos_resolver_free(struct dos_resolver *r);

/* Adds an uncompressed Debian Packages index as a repository named
 * repo_name (used in messages and in dos_resolved_pkg.repo). base_url is
 * where its Filename: paths start (a mirror URI, or file:// of a local flat
 * repository). A higher priority wins over a higher version: the local
 * repository gets a higher one than the distribution. */
int dos_resolver_add_deb_index(struct dos_resolver *r, const char *repo_name,
			       const char *packages_path, const char *base_url, int priority);

/* The number of packages loaded, over all repositories. */
size_t dos_resolver_count(const struct dos_resolver *r);

struct dos_resolved_pkg {
	char *name, *version, *arch;
	char *source;          /* source package (Source: field, or the name) */
	char *source_version;  /* from "Source: foo (1.2-3)", or the version */
	char *repo;            /* repo_name it came from */
	char *url;             /* base_url + "/" + Filename */
	char *filename;        /* basename of Filename */
	char *sha256;          /* 64 lowercase hex digits, from the index */
	uint64_t size;         /* of the .deb, bytes (Size:) */
	uint64_t installed_size; /* bytes (Installed-Size: is in KiB) */
	char *why;             /* the package that pulled it in first; NULL when requested */
	char *reason;          /* "requested", "manual", or the dependency text
				* that pulled it: "libcurl4 (>= 7.16.2)" */
	bool multiarch_same;   /* Multi-Arch: same */
	char *license;         /* the repository metadata's (rpm-md's <rpm:license>);
				* NULL from a Debian index, which has none */
};

/* Sorted by name; names are unique. */
struct dos_closure {
	struct dos_resolved_pkg *pkgs;
	size_t n;
};

struct dos_closure_request {
	const struct dos_strv *wanted;   /* distributionPackages */
	const struct dos_strv *manual;   /* manualDependencies: requested too */
	const struct dos_strv *platform; /* platformPackages: neither in the closure nor descended into */
	const struct dos_strv *ignored;  /* ignoredPackages: the same, by the user's choice */
};

/* Solves for wanted + manual (any of the four may be NULL), then walks the
 * dependencies of the chosen packages breadth first from the requested
 * ones. A dependency satisfied by a platform or ignored package, or by one
 * already in the closure, adds nothing. Errors: DOS_ERESOLVE for a name no
 * repository has or dependencies that cannot be satisfied (the message
 * names what is missing and which package needs it), DOS_EFORMAT for an
 * index entry the closure cannot use (no SHA256, a hostile Filename). */
int dos_resolver_closure(struct dos_resolver *r, const struct dos_closure_request *req,
			 struct dos_closure *out);
void dos_closure_release(struct dos_closure *c);

const struct dos_resolved_pkg *dos_closure_find(const struct dos_closure *c, const char *name);

/* "curl <- libcurl4 <- libnghttp2-14": from a requested package down to
 * name. NULL when name is not in the closure; the caller frees. */
char *dos_closure_why(const struct dos_closure *c, const char *name);

/* The bundle's own Python, as dos_resolver_python_takeover found it. */
struct dos_python_info {
	char *name, *version;   /* our python3.X package; NULL: there is none */
	int minor;              /* X; -1 when there is none */
	char *dist_version;     /* the distribution's python3, or NULL */
	int dist_minor;         /* its minor version; -1 when it has none */
};

/* Call after every index is added. A local package named python3.X is the
 * bundle's Python. When the distribution's python3 is 3.X too, ours
 * provides the names of the distribution's interpreter packages (python3,
 * python3.X, python3-minimal, libpython3.X, ... at their versions) and
 * those leave the pool; otherwise ours provides python3 at its own version,
 * for pure-Python packages. Fills info (release it). */
int dos_resolver_python_takeover(struct dos_resolver *r, const char *local_repo,
				 struct dos_python_info *info);
void dos_python_info_release(struct dos_python_info *info);

/* After solving: with our Python and the distribution's at different minor
 * versions, a closure holding the distribution's interpreter means a
 * compiled module built for it: DOS_ERESOLVE naming that package and both
 * versions. */
int dos_python_check_closure(struct dos_ctx *ctx, const struct dos_closure *c,
			     const struct dos_python_info *info, const char *local_repo);
