/* Step 5: the Python distributions pip installs into the bundle.
 *
 * After extraction (and before relocation), the bundle's own Python runs
 * in a sandboxed build root (variant buildd, pipBuildDependencies on top,
 * no network) with the staging tree bound read-write at its own path, and
 * installs pipRequirements into the bundle's site-packages. See
 * docs/pip.md.
 *
 * pipSources (the forms of recipe sources, see source.h) are fetched,
 * verified and repacked as NAME-VERSION.tar.gz (PKG-INFO's Name and
 * Version, or the source's "filename") into a find-links folder: pip reads
 * no other names there. Wheels are built from every one of them, in the
 * configured order (build backends first: each wheel is importable by the
 * builds after it, with --no-build-isolation), once per key: the bundle's
 * Python packages, the sources' sha256s, pipOptions, pipBuildDependencies.
 * Each run then installs the requirements from those wheels alone. */
#pragma once

#include "config.h"
#include "context.h"
#include "fetch.h"
#include "resolve.h"
#include "util.h"

/* One pip source, fetched and repacked. */
struct dos_pip_source {
	char *archive;                  /* NAME-VERSION.tar.gz in the find-links folder */
	char *url;                      /* where it came from */
	char sha256[DOS_SHA256_HEX];    /* of the file fetched */
};

/* One Python distribution the pip step installed. */
struct dos_pip_dist {
	char *name, *version;
	char *url, *sha256;             /* its source archive (NULL: not known) */
};

struct dos_pip_result {
	struct dos_pip_dist *dists;     /* sorted by name */
	size_t n;
};

/* Whether cfg asks for the pip step (pipRequirements given). */
bool dos_pip_wanted(const struct dos_config *cfg);

/* Fetches cfg's pipSources into dir (created, emptied first) as
 * NAME-VERSION.tar.gz; *out in the configured order. log may be NULL. */
int dos_pip_sources_prepare(struct dos_ctx *ctx, const struct dos_config *cfg,
			    struct dos_cache *cache, const char *dir, const char *log,
			    struct dos_pip_source **out, size_t *n);
void dos_pip_sources_release(struct dos_pip_source *v, size_t n);

/* The pip step on the staging tree root (see above), then the CA bundle
 * wiring (dos_pip_tls). res lists what was installed, also kept in
 * <workDir>/pip/installed.json for fix-pip-versions. */
int dos_pip_step(struct dos_ctx *ctx, const struct dos_config *cfg, struct dos_cache *cache,
		 const struct dos_closure *closure, const char *root, struct dos_pip_result *res);
/* The same where no closure says which Python the wheels are for (an
 * extension on a base bundle): python_key names it instead (the base
 * tarball's sha256), in the wheels' key; work replaces <workDir>/pip. */
int dos_pip_step_keyed(struct dos_ctx *ctx, const struct dos_config *cfg,
		       struct dos_cache *cache, const char *python_key, const char *work,
		       const char *root, struct dos_pip_result *res);
void dos_pip_result_release(struct dos_pip_result *res);

/* What pip leaves that would keep the build path (root): direct_url.json
 * files, RECORD lines naming root, and distlib's "#!/bin/sh ... exec
 * ROOT/usr/bin/python" launchers (for a long #! line), made plain #! lines
 * that relocation makes relocatable. */
int dos_pip_fix_tree(struct dos_ctx *ctx, const char *root);

/* The CA bundle inside the bundle for the ssl module's defaults and for
 * certifi, wherever the bundle lies: etc/ssl/certs/ca-certificates.crt
 * (made from usr/share/ca-certificates when ca-certificates' postinst
 * did not run), a .pth in each of the Python's site-packages that points
 * SSL_CERT_FILE at it (when not set), and certifi/cacert.pem, when
 * missing, a relative link to it. Nothing to do without the CA files. */
int dos_pip_tls(struct dos_ctx *ctx, const char *root);

/* <workDir>/pip/installed.json, what the last pip step installed. */
int dos_pip_installed_read(struct dos_ctx *ctx, const struct dos_config *cfg,
			   struct dos_pip_result *res);
