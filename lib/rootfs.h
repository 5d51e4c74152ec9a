/* Build roots: Debian root filesystems made by mmdebstrap, cached as
 * tarballs under a content key, and handed out as fresh, writable copies
 * (an overlay on a cached unpacked tree when we are root and the kernel
 * lets us, else a full extraction) for the sandbox to run builds in.
 *
 * The cache: <cache root>/rootfs/<key>.tar (cache root from
 * dos_cache_default_dir(): DIRACOS_CACHE, ...), and <key>/ the unpacked
 * tree overlays stand on. Both appear whole or not at all (a temporary
 * name, then rename), under a lock so that parallel builds make each once.
 *
 * Environment: DIRACOS_MMDEBSTRAP names the mmdebstrap program (default:
 * found in PATH); DIRACOS_ROOTFS_OVERLAY=0 disables overlays;
 * DIRACOS_KEYRING and DIRACOS_CHECK_VALID_UNTIL=0 as for the indices. */
#pragma once

#include "config.h"
#include "context.h"
#include "sandbox.h"
#include "util.h"

#include <stdbool.h>

/* Where an instance sees the local repository (a flat apt repository:
 * <repo>/Packages), bound read-only by the caller (see inst->binds). */
#define DOS_ROOTFS_REPO_PATH "/diracos-repo"

struct dos_rootfs_opts {
	const struct dos_config *cfg;             /* platform: suite, arch, mirror, components */
	const char *variant;                      /* "buildd" or "minbase" (NULL: "buildd") */
	const struct dos_strv *extra_packages;    /* installed on top (may be NULL) */
	const char *suite;                        /* NULL: cfg->platform.suite */
	/* The mirror's signers: NULL: DIRACOS_KEYRING, else Debian's. Given
	 * to mmdebstrap, and trusted by apt in instances. */
	const char *keyring;
};

/* How many binds an instance asks for, at most (see binds below): a
 * caller adding its own sizes its array with this. */
#define DOS_ROOTFS_BINDS_MAX 3

struct dos_rootfs_instance {
	char *dir;          /* the instance folder: root/ (and upper/, work/ with an overlay) */
	char *root;         /* the root filesystem: dos_sandbox_opts.root */
	char *key;          /* the content key of the cached root it copies */
	bool overlay;       /* root is an overlay mount on the cached tree */
	char *repo;         /* the local repository (host folder), or NULL */
	/* What the sandbox should bind read-only, when cfg->repo holds a
	 * Packages index: at DOS_ROOTFS_REPO_PATH, view (the instance's copy
	 * of the repository's indices), and in it repo's pools (see
	 * instance_repo_view). */
	struct dos_sandbox_bind binds[DOS_ROOTFS_BINDS_MAX];
	size_t n_binds;
	char *view, *pools[2];
};

/* The content key (64 hex digits) of a root: sha256 over a format tag,
 * suite, arch, variant, components, the sha256 of the mirror's verified
 * InRelease, and the package list sorted without duplicates. A pure
 * function: the same inputs always give the same key. */
void dos_rootfs_key(const char *suite, const char *arch, const char *variant,
		    const struct dos_strv *components, const char *inrelease_sha256,
		    const struct dos_strv *packages, char key[DOS_SHA256_HEX]);

/* The cached tarball of the root o describes, made with mmdebstrap when
 * the cache does not hold it (downloads: about a minute). Reads the
 * mirror's InRelease (verified) to compute the key. *tarball_path is the
 * caller's to free. */
int dos_rootfs_ensure(struct dos_ctx *ctx, const struct dos_rootfs_opts *o, char **tarball_path);

/* A fresh, writable root at dest_dir/root (dest_dir is created; it must
 * not hold a root already), with apt sources for the mirror and, when
 * cfg->repo holds a Packages index, for DOS_ROOTFS_REPO_PATH pinned above
 * the distribution. Instances are independent of each other and of the
 * cache. */
int dos_rootfs_instance(struct dos_ctx *ctx, const struct dos_rootfs_opts *o, const char *dest_dir,
			struct dos_rootfs_instance **out);

/* Runs `apt-get update && apt-get install -y --no-install-recommends
 * PACKAGES` inside the instance, in the sandbox with the network (the only
 * step that gets it), logging to <inst->dir>/install.log. An error quotes
 * the log's last lines. */
int dos_rootfs_install(struct dos_ctx *ctx, struct dos_rootfs_instance *inst,
		       const struct dos_strv *packages);

/* Unmounts and removes the instance folder; NULL is fine. */
void dos_rootfs_instance_free(struct dos_rootfs_instance *inst);
