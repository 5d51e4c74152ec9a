/* Build roots: mmdebstrap, a content-keyed tarball cache, and fresh copies.
 *
 * A root is requested by (suite, arch, variant, components, packages) from
 * a mirror. Its key adds the sha256 of the mirror's verified InRelease, so
 * a new point release makes a new root while the same archive state always
 * reuses the cached one. mmdebstrap writes the tarball under a temporary
 * name that is renamed into place; an flock on <key>.lock makes parallel
 * builds wait for one mmdebstrap instead of running several.
 *
 * An instance is a writable copy. As root, the tarball is unpacked once
 * more into <key>/ in the cache and each instance is an overlay mount on it
 * (milliseconds; writes go to the instance's upper/ folder). Without the
 * rights, or when the kernel refuses, the tarball is unpacked into the
 * instance (seconds). The tarball is ours (made by mmdebstrap from verified
 * packages) but the cache is a folder anyone with the rights may touch, so
 * unpacking still refuses paths leaving the root and writes through no
 * symlink. */
#include "rootfs.h"
#include "dist.h"
#include "fetch.h"
#include "mirror.h"
#include "progress.h"
#include "repo.h"
#include "run.h"
#include "untar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* Changed whenever what a root holds for the same inputs changes (the
 * mmdebstrap options below): old cached roots are then not reused. */
#define ROOTFS_FORMAT "diracos-rootfs 2"

#define APT_NO_VALID_UNTIL "Acquire::Check-Valid-Until \"false\";"

#define ROOTFS_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* What one request resolved to. */
struct rootfs_req {
	const struct dos_rootfs_opts *o;
	const char *suite, *arch, *variant;
	const char *keyring;        /* the mirror's signers; NULL: Debian's */
	char *mirror;
	struct dos_strv packages;   /* extra packages, sorted, without duplicates */
	char *dir;                  /* <cache root>/rootfs */
	char key[DOS_SHA256_HEX];
	char *tarball;              /* <dir>/<key>.tar */
	char *tree;                 /* <dir>/<key>: the unpacked tree overlays use */
	char *what;                 /* "root filesystem 'bookworm/buildd'", for messages */
};

/* --- the key --- */

/* Each field with its NUL: no two different field lists hash alike. */
static void key_field(struct dos_sha256 *h, const char *s)
{
	dos_sha256_update(h, s ? s : "", strlen(s ? s : "") + 1);
}

/* A sorted copy without duplicates. */
static void strv_sorted_unique(struct dos_strv *out, const struct dos_strv *in)
{
	struct dos_strv tmp = { 0 };

	for (size_t i = 0; in && i < in->n; i++)
		dos_strv_push(&tmp, in->v[i]);
	dos_strv_sort(&tmp);
	for (size_t i = 0; i < tmp.n; i++)
		if (i == 0 || strcmp(tmp.v[i], tmp.v[i - 1]))
			dos_strv_push(out, tmp.v[i]);
	dos_strv_release(&tmp);
}

static void key_list(struct dos_sha256 *h, const struct dos_strv *list)
{
	struct dos_strv sorted = { 0 };
	char count[32];

	strv_sorted_unique(&sorted, list);
	snprintf(count, sizeof(count), "%zu", sorted.n);
	key_field(h, count);
	for (size_t i = 0; i < sorted.n; i++)
		key_field(h, sorted.v[i]);
	dos_strv_release(&sorted);
}

void dos_rootfs_key(const char *suite, const char *arch, const char *variant,
		    const struct dos_strv *components, const char *inrelease_sha256,
		    const struct dos_strv *packages, char key[DOS_SHA256_HEX])
{
	struct dos_sha256 *h = dos_sha256_new();

	key_field(h, ROOTFS_FORMAT);
	key_field(h, suite);
	key_field(h, arch);
	key_field(h, variant);
	key_list(h, components);
	key_field(h, inrelease_sha256);
	key_list(h, packages);
	dos_sha256_final(h, key);
}

/* --- the request --- */

/* A name apt and mmdebstrap take as one package (NAME[:ARCH][=VERSION] or
 * NAME/SUITE): never an option, a list separator or a space. */
static bool package_name_valid(const char *s)
{
	if (!s[0] || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	return s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.:~=/")]
	       == '\0';
}

static int packages_check(struct dos_ctx *ctx, const struct dos_strv *pkgs, const char *what)
{
	for (size_t i = 0; pkgs && i < pkgs->n; i++)
		if (!package_name_valid(pkgs->v[i]))
			return dos_error(ctx, DOS_ECONFIG, "%s: '%s' is not a package name", what,
					 pkgs->v[i]);
	return 0;
}

static bool word_valid(const char *s)
{
	return s && s[0] && s[0] != '-' && !s[strcspn(s, " \t\n\r,'\"\\")];
}

static int req_check(struct dos_ctx *ctx, struct rootfs_req *rq)
{
	const struct dos_config *cfg = rq->o->cfg;
	const char *backend = cfg->platform.backend ? cfg->platform.backend : "";

	if (strcmp(backend, "deb"))
		return dos_error(ctx, DOS_ECONFIG, "platform backend '%s': build roots are made "
				 "for 'deb' only", backend);
	if (!word_valid(rq->suite) || !word_valid(rq->arch))
		return dos_error(ctx, DOS_ECONFIG, "%s: bad suite or architecture", rq->what);
	if (rq->variant[strspn(rq->variant, "abcdefghijklmnopqrstuvwxyz")] || !rq->variant[0])
		return dos_error(ctx, DOS_EUSAGE, "%s: bad variant", rq->what);
	for (size_t i = 0; i < cfg->platform.components.n; i++)
		if (!word_valid(cfg->platform.components.v[i]))
			return dos_error(ctx, DOS_ECONFIG, "%s: bad component '%s'", rq->what,
					 cfg->platform.components.v[i]);
	return packages_check(ctx, rq->o->extra_packages, rq->what);
}

/* The sha256 of the mirror's InRelease, downloaded and verified now. */
static int inrelease_digest(struct dos_ctx *ctx, struct rootfs_req *rq, const char *cache_root,
			    char hex[DOS_SHA256_HEX])
{
	struct dos_cache *cache = NULL;
	struct dos_archive *a = NULL;
	int r;

	r = dos_cache_open(ctx, cache_root, &cache);
	if (r == 0)
		r = dos_archive_open(ctx, cache, rq->mirror, rq->suite, rq->keyring, &a);
	if (r == 0)
		r = dos_sha256_file(ctx, a->inrelease_path, hex);
	dos_archive_free(a);
	dos_cache_free(cache);
	return r < 0 ? dos_error_prefix(ctx, "%s", rq->what) : 0;
}

static int req_paths(struct dos_ctx *ctx, struct rootfs_req *rq, char **cache_root)
{
	_cleanup_free_ char *def = dos_cache_default_dir();

	if (!def)
		return dos_error(ctx, DOS_ECONFIG, "no cache folder: set DIRACOS_CACHE or HOME");
	*cache_root = dos_path_absolute(NULL, def);
	rq->dir = dos_path_join(*cache_root, "rootfs");
	return dos_mkdir_p(ctx, rq->dir, 0755);
}

static void req_release(struct rootfs_req *rq)
{
	free(rq->mirror);
	dos_strv_release(&rq->packages);
	free(rq->dir);
	free(rq->tarball);
	free(rq->tree);
	free(rq->what);
}

static int req_init(struct dos_ctx *ctx, struct rootfs_req *rq, const struct dos_rootfs_opts *o)
{
	_cleanup_free_ char *cache_root = NULL;
	char inrelease[DOS_SHA256_HEX];
	int r;

	*rq = (struct rootfs_req){ .o = o };
	rq->suite = o->suite ? o->suite : o->cfg->platform.suite;
	rq->arch = o->cfg->platform.arch;
	rq->variant = o->variant ? o->variant : "buildd";
	rq->keyring = o->keyring ? o->keyring : getenv("DIRACOS_KEYRING");
	if (rq->keyring && !rq->keyring[0])
		rq->keyring = NULL;
	rq->what = dos_xasprintf("root filesystem '%s/%s'", rq->suite ? rq->suite : "",
				 rq->variant);
	strv_sorted_unique(&rq->packages, o->extra_packages);
	if ((r = req_check(ctx, rq)) < 0 || (r = req_paths(ctx, rq, &cache_root)) < 0)
		return r;
	rq->mirror = dos_mirror_for(ctx, o->cfg->platform.mirror, rq->suite);
	if (!rq->mirror)
		return dos_error_prefix(ctx, "%s", rq->what);
	if (!word_valid(rq->mirror))
		return dos_error(ctx, DOS_ECONFIG, "%s: bad mirror '%s'", rq->what, rq->mirror);
	if ((r = inrelease_digest(ctx, rq, cache_root, inrelease)) < 0)
		return r;
	dos_rootfs_key(rq->suite, rq->arch, rq->variant, &o->cfg->platform.components, inrelease,
		       &rq->packages, rq->key);
	rq->tarball = dos_xasprintf("%s/%s.tar", rq->dir, rq->key);
	rq->tree = dos_path_join(rq->dir, rq->key);
	return 0;
}

/* --- locking and atomic names --- */

/* Holds <dir>/<key>.lock exclusively; the fd is the lock. */
static int lock_take(struct dos_ctx *ctx, const struct rootfs_req *rq, int *fd_out)
{
	_cleanup_free_ char *path = dos_xasprintf("%s/%s.lock", rq->dir, rq->key);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "%s: cannot open '%s'", rq->what, path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		dos_info(ctx, "%s: waiting for another diracos making it", rq->what);
		while (flock(fd, LOCK_EX) < 0)
			if (errno != EINTR) {
				close(fd);
				return dos_error_errno(ctx, DOS_EIO, errno, "%s: cannot lock '%s'",
						       rq->what, path);
			}
	}
	*fd_out = fd;
	return 0;
}

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* A whole unpacked tree: one syncfs() rather than an fsync per file. */
static int syncfs_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = syncfs(fd);
	close(fd);
	return r;
}

/* Gives tmp (a file, or a tree when dir) its final name, durably: its
 * content is on disk before the name says it is whole. */
static int publish(struct dos_ctx *ctx, const struct rootfs_req *rq, const char *tmp,
		   const char *final, bool dir)
{
	if ((dir ? syncfs_path(tmp) : fsync_path(tmp, 0)) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "%s: cannot sync '%s'", rq->what, tmp);
	if (rename(tmp, final) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "%s: cannot rename '%s'", rq->what, tmp);
	fsync_path(rq->dir, O_DIRECTORY);
	return 0;
}

/* --- mmdebstrap --- */

static char *join_commas(const struct dos_strv *sv)
{
	char *out = dos_xstrdup("");

	for (size_t i = 0; sv && i < sv->n; i++) {
		char *next = dos_xasprintf("%s%s%s", out, i ? "," : "", sv->v[i]);
		free(out);
		out = next;
	}
	return out;
}

/* The command line: the mode that needs no setup for the caller (root:
 * chroot; otherwise a user namespace from /etc/subuid), no device nodes in
 * the tarball (the sandbox makes /dev), the package lists kept (an install
 * then downloads only what changed), no translations. */
static void mmdebstrap_argv(struct dos_strv *argv, const struct rootfs_req *rq, const char *out)
{
	const char *prog = getenv("DIRACOS_MMDEBSTRAP");
	_cleanup_free_ char *comps = join_commas(&rq->o->cfg->platform.components);
	_cleanup_free_ char *incl = join_commas(&rq->packages);

	dos_strv_push(argv, prog && *prog ? prog : "mmdebstrap");
	dos_strv_push(argv, geteuid() == 0 ? "--mode=root" : "--mode=unshare");
	dos_strv_push_owned(argv, dos_xasprintf("--variant=%s", rq->variant));
	dos_strv_push_owned(argv, dos_xasprintf("--architectures=%s", rq->arch));
	dos_strv_push_owned(argv, dos_xasprintf("--components=%s", comps[0] ? comps : "main"));
	if (incl[0])
		dos_strv_push_owned(argv, dos_xasprintf("--include=%s", incl));
	if (rq->keyring)
		dos_strv_push_owned(argv, dos_xasprintf("--keyring=%s", rq->keyring));
	dos_strv_push(argv, "--skip=output/dev");
	dos_strv_push(argv, "--skip=cleanup/apt/lists");
	dos_strv_push(argv, "--aptopt=Acquire::Languages \"none\"");
	if (dos_archive_valid_until_ignored())
		dos_strv_push(argv, "--aptopt=" APT_NO_VALID_UNTIL);
	dos_strv_push(argv, "--format=tar");
	dos_strv_push(argv, rq->suite);
	dos_strv_push(argv, out);
	dos_strv_push(argv, rq->mirror);
}

static int mmdebstrap_run(struct dos_ctx *ctx, const struct rootfs_req *rq)
{
	/* Per process: a killed diracos's mmdebstrap may still be writing its
	 * own, which nobody will publish. */
	_cleanup_free_ char *tmp = dos_xasprintf("%s.tmp-%ld", rq->tarball, (long)getpid());
	_cleanup_free_ char *log = dos_xasprintf("%s/%s.log", rq->dir, rq->key);
	_cleanup_free_ char *tmpdir = dos_path_join(rq->dir, "tmp");
	_cleanup_free_ char *tmpenv = dos_xasprintf("TMPDIR=%s", tmpdir);
	char *envp[] = { ROOTFS_PATH, "HOME=/root", "LC_ALL=C.UTF-8", "TZ=UTC", tmpenv, NULL };
	struct dos_run_opts ro = { .log_path = log, .envp = envp, .tail_lines = 15 };
	struct dos_strv argv = { 0 };
	int64_t t0 = dos_now_ms();
	int r;

	/* mmdebstrap's chroot (hundreds of MB) lands beside the cache, not in a small /tmp. */
	if ((r = dos_mkdir_p(ctx, tmpdir, 0755)) < 0)
		return r;
	unlink(tmp);
	unlink(log);
	mmdebstrap_argv(&argv, rq, tmp);
	dos_info(ctx, "%s: running mmdebstrap, about a minute (log: %s)", rq->what, log);
	r = dos_run(ctx, argv.v, &ro);
	dos_strv_release(&argv);
	if (r == 0)
		r = publish(ctx, rq, tmp, rq->tarball, false);
	else
		dos_error_prefix(ctx, "%s", rq->what);
	unlink(tmp);
	if (r == 0)
		dos_info(ctx, "%s: made in %.1f s", rq->what, (double)(dos_now_ms() - t0) / 1000);
	return r;
}

/* What killed runs left: their mmdebstrap's output (done or not), unless
 * that process still lives. Called with the lock held. */
static void stale_temporaries_remove(const struct rootfs_req *rq)
{
	_cleanup_free_ char *pattern = dos_xasprintf("%s.tmp*", rq->tarball);
	size_t n = strlen(rq->tarball) + strlen(".tmp");
	glob_t g;

	if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *rest = g.gl_pathv[i] + n;
		long pid = *rest == '-' ? strtol(rest + 1, NULL, 10) : 0;
		if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			unlink(g.gl_pathv[i]);
	}
	globfree(&g);
}

static int tarball_ensure(struct dos_ctx *ctx, const struct rootfs_req *rq)
{
	_cleanup_close_ int lock = -1;
	int r;

	if (access(rq->tarball, F_OK) == 0)
		return 0;
	if ((r = lock_take(ctx, rq, &lock)) < 0)
		return r;
	if (access(rq->tarball, F_OK) == 0)
		return 0; /* made while we waited */
	stale_temporaries_remove(rq);
	return mmdebstrap_run(ctx, rq);
}

int dos_rootfs_ensure(struct dos_ctx *ctx, const struct dos_rootfs_opts *o, char **tarball_path)
{
	struct rootfs_req rq;
	int r;

	r = req_init(ctx, &rq, o);
	if (r == 0)
		r = tarball_ensure(ctx, &rq);
	if (r == 0)
		*tarball_path = dos_steal(&rq.tarball);
	req_release(&rq);
	return r;
}

/* --- unpacking --- */

struct place {
	const char *root, *tarball;
};

/* Points e at root/<its path> (and its hard link target too); 1 to skip
 * it (the root itself, device nodes, FIFOs, sockets). */
static int entry_place(struct dos_ctx *ctx, struct archive_entry *e, void *arg)
{
	const struct place *pl = arg;
	const char *root = pl->root, *tarball = pl->tarball;
	const char *orig = archive_entry_pathname(e), *rel = dos_untar_rel(orig);
	const char *link = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);

	if (!rel || (link && !dos_untar_rel(link)))
		return dos_error(ctx, DOS_EFORMAT, "tarball '%s': entry '%s' leaves the root",
				 tarball, orig ? orig : "");
	/* A hard link's type may be unset: it is whatever its target is. */
	if (!rel[0] || (!link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK))
		return 1;
	dos_untar_place(e, root);
	return 0;
}

/* Unpacks tarball into the existing folder dest: owners kept when we are
 * root (the ids are the root's own), no fsync (a copy is remade at will). */
static int unpack_tarball(struct dos_ctx *ctx, const char *tarball, const char *dest)
{
	int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
		    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
		    (geteuid() == 0 ? ARCHIVE_EXTRACT_OWNER : 0);
	_cleanup_free_ char *root = realpath(dest, NULL);
	_cleanup_free_ char *what = dos_xasprintf("tarball '%s'", tarball);
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	int r;

	archive_read_support_format_tar(in);
	archive_read_support_filter_all(in);
	archive_write_disk_set_options(out, flags);
	if (!root)
		r = dos_error_errno(ctx, DOS_EIO, errno, "cannot open '%s'", dest);
	else if (archive_read_open_filename(in, tarball, 1 << 20) != ARCHIVE_OK)
		r = dos_error(ctx, DOS_EIO, "tarball '%s': %s", tarball, archive_error_string(in));
	else
		r = dos_untar_entries(ctx, in, out, what, entry_place,
				      &(struct place){ .root = root, .tarball = tarball });
	if (archive_write_close(out) != ARCHIVE_OK && r == 0)
		r = dos_error(ctx, DOS_EIO, "tarball '%s': %s", tarball, archive_error_string(out));
	archive_write_free(out);
	archive_read_free(in);
	return r;
}

/* --- overlays --- */

/* Whether instances may be overlays: root, not turned off, and the kernel
 * said yes once (a probe on empty folders in the instance folder). */
static atomic_int overlay_state; /* 0: not probed, 1: works, -1: does not */

static bool overlay_option_safe(const char *path)
{
	return !path[strcspn(path, ",:\\")];
}

static int overlay_mount(const char *lower, const char *upper, const char *work, const char *at)
{
	_cleanup_free_ char *data = NULL;

	if (!overlay_option_safe(lower) || !overlay_option_safe(upper) ||
	    !overlay_option_safe(work) || !overlay_option_safe(at)) {
		errno = EINVAL;
		return -1;
	}
	data = dos_xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
	return mount("overlay", at, "overlay", MS_NOSUID | MS_NODEV, data);
}

static bool overlay_probe(struct dos_ctx *ctx, const char *dir)
{
	static const char *const names[] = { "probe-l", "probe-u", "probe-w", "probe-m" };
	_cleanup_free_ char *base = dos_path_join(dir, "probe");
	char *p[4];
	bool ok;

	dos_mkdir_p(ctx, base, 0755);
	for (int i = 0; i < 4; i++) {
		p[i] = dos_path_join(base, names[i]);
		mkdir(p[i], 0755);
	}
	ok = overlay_mount(p[0], p[1], p[2], p[3]) == 0;
	if (ok)
		umount2(p[3], MNT_DETACH);
	else
		dos_debug(ctx, "overlay mounts fail here (%s): instances are full copies",
			  strerror(errno));
	for (int i = 0; i < 4; i++)
		free(p[i]);
	dos_rm_rf(ctx, base);
	return ok;
}

static bool overlay_usable(struct dos_ctx *ctx, const char *dir)
{
	const char *env = getenv("DIRACOS_ROOTFS_OVERLAY");

	if (geteuid() != 0 || (env && !strcmp(env, "0")))
		return false;
	if (atomic_load(&overlay_state) == 0)
		atomic_store(&overlay_state, overlay_probe(ctx, dir) ? 1 : -1);
	return atomic_load(&overlay_state) > 0;
}

/* The cached unpacked tree, made once from the tarball. */
static int tree_ensure(struct dos_ctx *ctx, const struct rootfs_req *rq)
{
	_cleanup_free_ char *tmp = dos_xasprintf("%s.tmp", rq->tree);
	_cleanup_close_ int lock = -1;
	int r;

	if (access(rq->tree, F_OK) == 0)
		return 0;
	if ((r = lock_take(ctx, rq, &lock)) < 0)
		return r;
	if (access(rq->tree, F_OK) == 0)
		return 0;
	if ((r = dos_rm_rf(ctx, tmp)) < 0 || (r = dos_mkdir_p(ctx, tmp, 0755)) < 0)
		return r;
	r = unpack_tarball(ctx, rq->tarball, tmp);
	if (r == 0)
		r = publish(ctx, rq, tmp, rq->tree, true);
	if (r < 0)
		dos_rm_rf(ctx, tmp);
	return r;
}

/* 1 when inst->root is now an overlay on the cached tree, 0 when it must
 * be a copy instead. */
static int instance_overlay(struct dos_ctx *ctx, const struct rootfs_req *rq,
			    struct dos_rootfs_instance *inst)
{
	_cleanup_free_ char *upper = dos_path_join(inst->dir, "upper");
	_cleanup_free_ char *work = dos_path_join(inst->dir, "work");
	int r;

	if (!overlay_usable(ctx, inst->dir))
		return 0;
	if ((r = tree_ensure(ctx, rq)) < 0 || (r = dos_mkdir_p(ctx, upper, 0755)) < 0 ||
	    (r = dos_mkdir_p(ctx, work, 0755)) < 0)
		return r;
	if (overlay_mount(rq->tree, upper, work, inst->root) < 0) {
		dos_debug(ctx, "%s: overlay on '%s' failed (%s): unpacking a copy", rq->what,
			  inst->root, strerror(errno));
		return 0;
	}
	inst->overlay = true;
	return 1;
}

/* --- files inside the root --- */

/* An fd of the folder rel (relative) inside root_fd, created when
 * missing. A symlink on the way is refused: never a write outside. */
static int dir_open_in(int root_fd, const char *rel)
{
	char buf[256], *save = NULL, *tok;
	int cur = fcntl(root_fd, F_DUPFD_CLOEXEC, 3), next;

	snprintf(buf, sizeof(buf), "%s", rel);
	for (tok = strtok_r(buf, "/", &save); cur >= 0 && tok; tok = strtok_r(NULL, "/", &save)) {
		if (mkdirat(cur, tok, 0755) < 0 && errno != EEXIST) {
			close(cur);
			return -1;
		}
		next = openat(cur, tok, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(cur);
		cur = next;
	}
	return cur;
}

/* Writes root/<dir>/<name> afresh (a symlink there is replaced, not followed). */
static int write_data_in_root(struct dos_ctx *ctx, const char *root, const char *dir,
			      const char *name, const void *data, size_t len)
{
	_cleanup_close_ int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int dir_fd = -1, fd = -1;

	if (root_fd >= 0)
		dir_fd = dir_open_in(root_fd, dir);
	if (dir_fd >= 0 && (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT))
		fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot write '%s/%s/%s'", root, dir,
				       name);
	return 0;
}

static int write_in_root(struct dos_ctx *ctx, const char *root, const char *dir,
			 const char *name, const char *text)
{
	return write_data_in_root(ctx, root, dir, name, text, strlen(text));
}

/* A mirror signed by other keys than Debian's: apt inside trusts them too. */
static int apt_keyring(struct dos_ctx *ctx, const char *root, const char *keyring)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0, n = strlen(keyring);
	bool armored = n > 4 && !strcmp(keyring + n - 4, ".asc");

	if (dos_read_file(ctx, keyring, 16 << 20, &data, &len) < 0)
		return dos_error_prefix(ctx, "keyring");
	return write_data_in_root(ctx, root, "etc/apt/trusted.gpg.d",
				  armored ? "diracos-mirror.asc" : "diracos-mirror.gpg", data, len);
}

static char *repo_index_dir(const struct dos_config *cfg)
{
	_cleanup_free_ char *index = cfg->repo ? dos_path_join(cfg->repo, "Packages") : NULL;

	return index && access(index, R_OK) == 0 ? dos_xstrdup(cfg->repo) : NULL;
}

/* The local repository: a flat one, unsigned (it is ours), above every
 * version of the distribution: `origin ""` is what apt calls a file: source. */
static int apt_local_repo(struct dos_ctx *ctx, const char *root)
{
	static const char list[] = "deb [trusted=yes] file:" DOS_ROOTFS_REPO_PATH " ./\n";
	static const char pin[] = "# the local repository (" DOS_ROOTFS_REPO_PATH
				  ") wins over the distribution\n"
				  "Package: *\nPin: origin \"\"\nPin-Priority: 1001\n";
	int r;

	r = write_in_root(ctx, root, "etc/apt/sources.list.d", "diracos-repo.list", list);
	if (r == 0)
		r = write_in_root(ctx, root, "etc/apt/preferences.d", "diracos-repo", pin);
	return r;
}

static int apt_sources(struct dos_ctx *ctx, const struct rootfs_req *rq, const char *root,
		       bool local_repo)
{
	const struct dos_strv *comps = &rq->o->cfg->platform.components;
	char *line = dos_xasprintf("deb %s %s", rq->mirror, rq->suite), *next;
	int r;

	for (size_t i = 0; i < comps->n; i++) {
		next = dos_xasprintf("%s %s", line, comps->v[i]);
		free(line);
		line = next;
	}
	next = dos_xasprintf("%s%s\n", line, comps->n ? "" : " main");
	free(line);
	/* mmdebstrap's sources.list names the mirror the root was made from. */
	r = write_in_root(ctx, root, "etc/apt", "sources.list",
			  "# diracos: see sources.list.d/\n");
	if (r == 0)
		r = write_in_root(ctx, root, "etc/apt/sources.list.d", "diracos-debian.list", next);
	free(next);
	if (r == 0 && dos_archive_valid_until_ignored())
		r = write_in_root(ctx, root, "etc/apt/apt.conf.d", "99diracos",
				  APT_NO_VALID_UNTIL "\n");
	if (r == 0 && rq->keyring)
		r = apt_keyring(ctx, root, rq->keyring);
	if (r == 0 && local_repo)
		r = apt_local_repo(ctx, root);
	return r;
}

/* Name resolution for the steps that get the network: the host's. */
static int net_files(struct dos_ctx *ctx, const char *root)
{
	static const char hosts[] = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
				    "ip6-loopback\n127.0.1.1\tdiracos\n";
	_cleanup_free_ char *resolv = NULL;
	struct dos_ctx scratch;
	int r;

	dos_ctx_init(&scratch);
	r = write_in_root(ctx, root, "etc", "hosts", hosts);
	if (r == 0 && dos_read_file(&scratch, "/etc/resolv.conf", 1 << 16, &resolv, NULL) == 0)
		r = write_in_root(ctx, root, "etc", "resolv.conf", resolv);
	return r;
}

/* --- instances --- */

/* Hard links in the view to the pool files the index copy names. 1 when
 * one is gone (a commit replaced it since the index was read: read the
 * index again), 2 when the view is on another filesystem (bind the live
 * pool instead), 0, or an error. */
static int view_link_pool(struct dos_ctx *ctx, const char *repo, const char *view,
			  const char *index)
{
	int r;

	for (const char *l = index; *l; l += strcspn(l, "\n"), l += *l == '\n') {
		size_t n = strcspn(l, "\n");
		_cleanup_free_ char *fn = NULL, *from = NULL, *to = NULL, *dir = NULL;
		if (n < 11 || strncmp(l, "Filename: ", 10))
			continue;
		fn = dos_xasprintf("%.*s", (int)(n - 10), l + 10);
		if (!dos_repo_filename_ok(fn))
			continue; /* apt will not find it: its error names it */
		from = dos_path_join(repo, fn);
		to = dos_path_join(view, fn);
		dir = dos_path_dirname(to);
		if ((r = dos_mkdir_p(ctx, dir, 0755)) < 0)
			return r;
		if (link(from, to) == 0 || errno == EEXIST)
			continue;
		if (errno == ENOENT)
			return 1;
		if (errno == EXDEV || errno == EPERM)
			return 2;
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot link '%s' to '%s'", to, from);
	}
	return 0;
}

/* The repository as it is now, for the instance: parallel builds add
 * packages to it while this one runs, and apt refuses a file: source whose
 * index changed since `apt-get update` ("Can't find a source to
 * download"). A bind of the live index file does not hold: the rename that
 * replaces it detaches a mount on it. Nor does a bind of the live pool: a
 * commit that replaces a package removes its old file, which this
 * instance's index may name. So the instance gets a folder of its own with
 * copies of the indices and hard links to the files they name; on another
 * filesystem than the repository, the live pools are bound instead. */
static int view_section(struct dos_ctx *ctx, const char *repo, const char *view,
			const char *section, bool *bind_pool)
{
	_cleanup_free_ char *from = dos_xasprintf("%s/%sPackages", repo, section);
	_cleanup_free_ char *to = dos_xasprintf("%s/%sPackages", view, section);
	_cleanup_free_ char *pool = dos_xasprintf("%s/%spool", view, section);
	int r = dos_mkdir_p(ctx, pool, 0755);

	if (r < 0)
		return r;
	r = 1;
	for (int attempt = 0; r == 1 && attempt < 10; attempt++) {
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		if (access(from, R_OK) == 0 && (r = dos_read_file(ctx, from, SIZE_MAX, &data, &len)) < 0)
			return r;
		if ((r = dos_write_file_atomic(ctx, to, data ? data : "", len, 0644)) < 0)
			return r;
		r = data ? view_link_pool(ctx, repo, view, data) : 0;
	}
	if (r == 1)
		return dos_error(ctx, DOS_EFAIL, "'%s' keeps changing under this build", from);
	*bind_pool = r == 2;
	return r < 0 ? r : 0;
}

static int instance_repo_view(struct dos_ctx *ctx, struct dos_rootfs_instance *inst)
{
	static const char *const sections[] = { "", "buildonly/" };
	_cleanup_free_ char *view = dos_path_join(inst->dir, "repo");
	bool bind_pool[2] = { false, false };

	for (size_t i = 0; i < 2; i++)
		if (view_section(ctx, inst->repo, view, sections[i], &bind_pool[i]) < 0)
			return dos_error_prefix(ctx, "local repository index");
	inst->view = dos_xstrdup(view);
	inst->pools[0] = dos_path_join(inst->repo, "pool");
	inst->pools[1] = dos_path_join(inst->repo, "buildonly/pool");
	inst->binds[inst->n_binds++] = (struct dos_sandbox_bind){
		.src = inst->view, .dest = DOS_ROOTFS_REPO_PATH };
	for (size_t i = 0; i < 2; i++)
		if (bind_pool[i] && access(inst->pools[i], F_OK) == 0)
			inst->binds[inst->n_binds++] = (struct dos_sandbox_bind){
				.src = inst->pools[i],
				.dest = i == 0 ? DOS_ROOTFS_REPO_PATH "/pool"
					       : DOS_ROOTFS_REPO_PATH "/buildonly/pool" };
	return 0;
}

static int instance_binds(struct dos_ctx *ctx, struct dos_rootfs_instance *inst,
			  const struct dos_config *cfg)
{
	inst->repo = repo_index_dir(cfg);
	return inst->repo ? instance_repo_view(ctx, inst) : 0;
}

static int instance_fill(struct dos_ctx *ctx, const struct rootfs_req *rq,
			 struct dos_rootfs_instance *inst)
{
	int64_t t0 = dos_now_ms();
	int r;

	r = instance_overlay(ctx, rq, inst);
	if (r == 0)
		r = unpack_tarball(ctx, rq->tarball, inst->root);
	if (r < 0)
		return r;
	if ((r = instance_binds(ctx, inst, rq->o->cfg)) < 0 ||
	    (r = apt_sources(ctx, rq, inst->root, inst->repo != NULL)) < 0 ||
	    (r = net_files(ctx, inst->root)) < 0)
		return r;
	dos_debug(ctx, "%s: instance at '%s' (%s) in %lld ms", rq->what, inst->root,
		  inst->overlay ? "overlay" : "copy", (long long)(dos_now_ms() - t0));
	return 0;
}

static void instance_release(struct dos_rootfs_instance *inst, bool remove)
{
	struct dos_ctx ctx;

	dos_ctx_init(&ctx);
	if (inst->overlay && umount2(inst->root, 0) < 0 && umount2(inst->root, MNT_DETACH) < 0)
		dos_warn(&ctx, "cannot unmount '%s': %s", inst->root, strerror(errno));
	else if (remove && dos_rm_rf(&ctx, inst->dir) < 0)
		dos_warn(&ctx, "%s", ctx.msg);
	free(inst->dir);
	free(inst->root);
	free(inst->key);
	free(inst->repo);
	free(inst->view);
	free(inst->pools[0]);
	free(inst->pools[1]);
	free(inst);
}

int dos_rootfs_instance(struct dos_ctx *ctx, const struct dos_rootfs_opts *o, const char *dest_dir,
			struct dos_rootfs_instance **out)
{
	struct dos_rootfs_instance *inst;
	struct rootfs_req rq;
	int r;

	*out = NULL;
	r = req_init(ctx, &rq, o);
	if (r == 0)
		r = tarball_ensure(ctx, &rq);
	if (r < 0) {
		req_release(&rq);
		return r;
	}
	inst = dos_xcalloc(1, sizeof(*inst));
	inst->dir = dos_path_absolute(NULL, dest_dir);
	inst->root = dos_path_join(inst->dir, "root");
	inst->key = dos_xstrdup(rq.key);
	/* A folder already holding a root is someone else's: left alone. */
	if ((r = dos_mkdir_p(ctx, inst->dir, 0755)) < 0 || mkdir(inst->root, 0755) < 0) {
		if (r == 0)
			r = dos_error_errno(ctx, DOS_EIO, errno, "%s: cannot create '%s'",
					    rq.what, inst->root);
		instance_release(inst, false);
	} else if ((r = instance_fill(ctx, &rq, inst)) < 0) {
		instance_release(inst, true);
	} else {
		*out = inst;
	}
	req_release(&rq);
	return r;
}

void dos_rootfs_instance_free(struct dos_rootfs_instance *inst)
{
	if (inst)
		instance_release(inst, true);
}

/* --- installing packages --- */

/* The last lines of a log, for an error message. */
static char *log_tail(const char *path, int lines)
{
	struct dos_ctx scratch;
	char *data = NULL, *p;
	size_t len = 0;
	int seen = 0;

	dos_ctx_init(&scratch);
	if (dos_read_file(&scratch, path, 64 << 20, &data, &len) < 0)
		return dos_xstrdup("");
	while (len && data[len - 1] == '\n')
		data[--len] = '\0';
	for (p = data + len; p > data && seen <= lines; p--)
		if (p[-1] == '\n' && ++seen > lines)
			break;
	memmove(data, p, strlen(p) + 1);
	return data;
}

static char *const install_env[] = {
	ROOTFS_PATH, "HOME=/root", "LC_ALL=C.UTF-8", "TZ=UTC",
	"DEBIAN_FRONTEND=noninteractive", NULL,
};

int dos_rootfs_install(struct dos_ctx *ctx, struct dos_rootfs_instance *inst,
		       const struct dos_strv *packages)
{
	static const char script[] = "apt-get -q update && "
				     "apt-get -q install -y --no-install-recommends \"$@\"";
	_cleanup_free_ char *log = dos_path_join(inst->dir, "install.log");
	_cleanup_free_ char *names = NULL, *tail = NULL;
	struct dos_strv argv = { 0 };
	struct dos_sandbox_opts so = {
		.root = inst->root, .binds = inst->binds, .n_binds = inst->n_binds,
		.network = true, .root_writable = true, .envp = install_env, .log_path = log,
	};
	int r, status = 0;

	if (!packages || packages->n == 0)
		return 0;
	if ((r = packages_check(ctx, packages, "build dependencies")) < 0)
		return r;
	dos_strv_push(&argv, "sh");
	dos_strv_push(&argv, "-c");
	dos_strv_push(&argv, script);
	dos_strv_push(&argv, "sh");
	for (size_t i = 0; i < packages->n; i++)
		dos_strv_push(&argv, packages->v[i]);
	so.argv = argv.v;
	r = dos_sandbox_run(ctx, &so, &status);
	dos_strv_release(&argv);
	names = join_commas(packages);
	if (r < 0)
		return dos_error_prefix(ctx, "installing '%s'", names);
	if (status == 0)
		return 0;
	tail = log_tail(log, 10);
	return dos_error(ctx, DOS_ECHILD, "installing '%s': apt-get exited with status %d; "
			 "the end of '%s':\n%s", names, status, log, tail);
}
