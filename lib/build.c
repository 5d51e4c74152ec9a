/* Steps 1-3: recipe builds in the sandbox, and the whole set of configured
 * packages over the plan. See build.h; the .deb writer is build_deb.c. */
#include "build.h"
#include "build_rpm.h"
#include "repo_rpm.h"
#include "dist.h"
#include "mirror.h"
#include "pack.h"
#include "progress.h"
#include "rootfs.h"
#include "sandbox.h"
#include "source.h"
#include "untar.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_BLOCK (1 << 16)
#define LOG_TAIL_LINES 15
#define LOG_TAIL_BYTES 1200

/* --- small helpers --- */

static int copy_file(struct dos_ctx *ctx, const char *src, const char *dest, bool append)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = -1;

	if (in < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot open '%s'", src);
	out = open(dest, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC | O_EXCL), 0644);
	if (out < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot create '%s'", dest);
	return dos_fd_copy(ctx, in, out, src);
}

/* The last lines of a log, at most LOG_TAIL_BYTES of them so that the
 * end survives in an error message; the caller frees. */
static char *log_tail(const char *path, int lines)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[LOG_TAIL_BYTES + 1], *p;
	off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	off_t start = end > LOG_TAIL_BYTES ? end - LOG_TAIL_BYTES : 0;
	ssize_t n = end > 0 ? pread(fd, buf, (size_t)(end - start), start) : 0;
	int seen = 0;

	buf[n > 0 ? n : 0] = '\0';
	for (n = n > 0 ? n : 0; n && buf[n - 1] == '\n'; n--)
		buf[n - 1] = '\0';
	for (p = buf + n; p > buf; p--)
		if (p[-1] == '\n' && ++seen >= lines)
			break;
	if (p == buf && start > 0)
		p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n');
	return dos_xstrdup(p);
}

/* --- one recipe build --- */

struct build {
	struct dos_ctx *ctx;
	const struct dos_build_opts *o;
	const char *name;
	char *dir, *sources, *src, *destdir, *log, *deb;
	char *cwd;                       /* inside the sandbox */
	struct dos_strv files;           /* the sources in sources/, in order */
	struct dos_strv env;
	struct dos_rootfs_instance *inst;
	int timeout_s;
	int64_t epoch;
};

static void build_release(struct build *b)
{
	dos_rootfs_instance_free(b->inst);
	free(b->dir);
	free(b->sources);
	free(b->src);
	free(b->destdir);
	free(b->log);
	free(b->deb);
	free(b->cwd);
	dos_strv_release(&b->files);
	dos_strv_release(&b->env);
}

/* Seconds from text, 0 when not a positive number; what does not fit an
 * int is the longest limit, never its low bits. */
static long long timeout_parse(const char *s)
{
	long long v = strtoll(s, NULL, 10);   /* saturates at LLONG_MAX */

	return v > 0 ? v : 0;
}

static int timeout_clamp(long long v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

static int timeout_of(const struct dos_package *p)
{
	const json_t *t = json_object_get(p->options, "timeout"), *v;
	size_t i;

	if (json_is_integer(t) && json_integer_value(t) > 0)
		return timeout_clamp(json_integer_value(t));
	if (json_is_string(t) && timeout_parse(json_string_value(t)) > 0)
		return timeout_clamp(timeout_parse(json_string_value(t)));
	json_array_foreach(json_object_get(p->options, "buildOptions"), i, v)
		if (json_is_string(v) && !strncmp(json_string_value(v), "timeout=", 8) &&
		    timeout_parse(json_string_value(v) + 8) > 0)
			return timeout_clamp(timeout_parse(json_string_value(v) + 8));
	return DOS_BUILD_TIMEOUT_S;
}

/* Shared with build_src.c (see build.h). */
int dos_build_timeout(const struct dos_package *p)
{
	return timeout_of(p);
}

char *dos_build_log_tail(const char *path)
{
	return log_tail(path, LOG_TAIL_LINES);
}

int dos_build_step_failed(struct dos_ctx *ctx, const char *what, char *const argv[],
			  const char *cwd, int status, const char *log)
{
	_cleanup_free_ char *tail = log_tail(log, LOG_TAIL_LINES);
	char cmd[512] = "";
	size_t used = 0;

	for (int i = 0; argv[i] && used < sizeof(cmd); i++)
		used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, "%s%s", i ? " " : "", argv[i]);
	return dos_error(ctx, DOS_ECHILD, "%s (%s, in %s) exited with status %d; the end of "
			 "'%s':\n%s", what, cmd, cwd, status, log, tail);
}

int dos_build_end(struct dos_ctx *ctx, int r, const char *log, struct dos_rootfs_instance **inst,
		  const char *dir)
{
	if (r < 0)
		dos_log_append(log, "diracos: failed: %s\n", ctx->msg);
	dos_rootfs_instance_free(dos_steal(inst));
	if (r == 0)
		dos_rm_rf(ctx, dir);
	return r;
}

/* A leftover instance of a crashed run may still be mounted. */
static int workdir_fresh(struct build *b)
{
	_cleanup_free_ char *root = dos_path_join(b->dir, "instance/root");
	_cleanup_free_ char *logs = dos_path_dirname(b->log);
	int r;

	umount2(root, MNT_DETACH);
	if ((r = dos_rm_rf(b->ctx, b->dir)) < 0 || (r = dos_mkdir_p(b->ctx, b->sources, 0755)) < 0 ||
	    (r = dos_mkdir_p(b->ctx, b->src, 0755)) < 0 || (r = dos_mkdir_p(b->ctx, b->destdir, 0755)) < 0 ||
	    (r = dos_mkdir_p(b->ctx, logs, 0755)) < 0)
		return r;
	return dos_write_file_atomic(b->ctx, b->log, "", 0, 0644);
}

static int build_init(struct dos_ctx *ctx, struct build *b, const struct dos_build_opts *o)
{
	const char *work = o->cfg->work_dir;
	_cleanup_free_ char *logname = dos_xasprintf("logs/%s.log", o->pkg->name);

	memset(b, 0, sizeof(*b));
	b->ctx = ctx;
	b->o = o;
	b->name = o->pkg->name;
	b->dir = dos_xasprintf("%s/build/%s", work, b->name);
	b->sources = dos_path_join(b->dir, "sources");
	b->src = dos_path_join(b->dir, "src");
	b->destdir = dos_path_join(b->dir, "destdir");
	b->deb = dos_xasprintf("%s/%s.deb", b->dir, b->name);
	b->log = dos_path_join(work, logname);
	b->cwd = dos_xstrdup("/diracos/build");
	b->timeout_s = timeout_of(o->pkg);
	b->epoch = dos_pack_source_date_epoch(DOS_BUILD_EPOCH);
	return workdir_fresh(b);
}

/* --- sources --- */

/* Into sources/: a hard link to the cache file, else a copy. */
static int source_place(struct build *b, const char *cache_path, const char *filename)
{
	_cleanup_free_ char *dest = dos_path_join(b->sources, filename);

	if (!dos_config_filename_ok(filename))
		return dos_error(b->ctx, DOS_ECONFIG, "source file name '%s' is not a plain file name; "
				 "set \"filename\"", filename);
	if (dos_strv_contains(&b->files, dest))
		return dos_error(b->ctx, DOS_ECONFIG, "two sources are named '%s'; set \"filename\"",
				 filename);
	if (link(cache_path, dest) < 0 && copy_file(b->ctx, cache_path, dest, false) < 0)
		return DOS_EIO;
	dos_strv_push(&b->files, dest);
	dos_log_append(b->log, "diracos: source '%s' (%s)\n", filename, cache_path);
	return 0;
}

static int sources_get(struct build *b)
{
	const struct dos_package *p = b->o->pkg;

	for (size_t i = 0; i < p->n_sources; i++) {
		_cleanup_free_ char *path = NULL, *name = NULL;
		int r = dos_source_fetch(b->ctx, b->o->cfg, b->o->cache, &p->sources[i], b->log,
					 &path, &name);
		if (r < 0 || (r = source_place(b, path, name)) < 0)
			return r;
	}
	return 0;
}

/* --- unpacking the first source --- */

static int entry_rebase(struct dos_ctx *ctx, struct archive_entry *e, const char *root,
			const char *what)
{
	const char *rel = dos_untar_rel(archive_entry_pathname(e)), *link = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);

	if (!rel || (link && !dos_untar_rel(link)))
		return dos_error(ctx, DOS_EFORMAT, "%s: entry '%s' leaves the source folder", what,
				 archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
	if (!rel[0] || (!link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK))
		return 1;
	dos_untar_place(e, root);
	archive_entry_set_perm(e, archive_entry_perm(e) & 01777);
	return 0;
}

static int unpack_entries(struct dos_ctx *ctx, struct archive *in, struct archive *out,
			  const char *root, const char *what)
{
	struct archive_entry *e;
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		int p = entry_rebase(ctx, e, root, what);
		if (p < 0)
			return p;
		if (p > 0)
			continue;
		if (archive_write_header(out, e) < ARCHIVE_OK)
			return dos_error(ctx, DOS_EFORMAT, "%s: %s", what, archive_error_string(out));
		while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
			if (archive_write_data_block(out, buf, len, off) < ARCHIVE_OK)
				return dos_error(ctx, DOS_EIO, "%s: %s", what, archive_error_string(out));
		if (r != ARCHIVE_EOF || archive_write_finish_entry(out) < ARCHIVE_OK)
			return dos_error(ctx, DOS_EFORMAT, "%s: %s", what, archive_error_string(in));
	}
	return r == ARCHIVE_EOF ? 0 : dos_error(ctx, DOS_EFORMAT, "%s: %s", what, archive_error_string(in));
}

/* Shared with the extension command (see build.h). */
int dos_build_unpack(struct dos_ctx *ctx, const char *archive_path, const char *dest)
{
	int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		    ARCHIVE_EXTRACT_SECURE_NODOTDOT;
	_cleanup_free_ char *what = dos_xasprintf("source '%s'", archive_path);
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	int r;

	/* pax paths are UTF-8: read them in C.UTF-8 whatever the process's
	 * locale, as pack.c writes them. */
	locale_t loc = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
	locale_t old = loc ? uselocale(loc) : (locale_t)0;

	archive_read_support_format_all(in);
	archive_read_support_filter_all(in);
	archive_write_disk_set_options(out, flags);
	if (archive_read_open_filename(in, archive_path, IO_BLOCK) != ARCHIVE_OK)
		r = dos_error(ctx, DOS_EFORMAT, "%s: %s", what, archive_error_string(in));
	else
		r = unpack_entries(ctx, in, out, dest, what);
	if (archive_write_close(out) != ARCHIVE_OK && r == 0)
		r = dos_error(ctx, DOS_EIO, "%s: %s", what, archive_error_string(out));
	archive_write_free(out);
	archive_read_free(in);
	if (loc) {
		uselocale(old);
		freelocale(loc);
	}
	return r;
}

/* The working folder: src/'s single top folder when it has one. */
static int source_unpack(struct build *b)
{
	DIR *d;
	struct dirent *e;
	char *top = NULL;
	size_t n = 0;
	struct stat st;
	int r;

	if (b->files.n == 0)
		return 0;
	if ((r = dos_build_unpack(b->ctx, b->files.v[0], b->src)) < 0 || !(d = opendir(b->src)))
		return r < 0 ? r : dos_error_errno(b->ctx, DOS_EIO, errno, "cannot read '%s'", b->src);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && n++ == 0)
			top = dos_xstrdup(e->d_name);
	closedir(d);
	if (n == 1) {
		_cleanup_free_ char *path = dos_path_join(b->src, top);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			free(b->cwd);
			b->cwd = dos_xasprintf("/diracos/build/%s", top);
		}
	}
	free(top);
	return 0;
}

/* --- the build root --- */

static void env_push(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void env_push(struct build *b, const char *fmt, ...)
{
	char *s;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	dos_strv_push_owned(&b->env, s);
}

static void env_options(struct build *b)
{
	const json_t *opts = json_object_get(b->o->inputs, "options");
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)opts, k, v) {
		_cleanup_free_ char *key = dos_xstrdup(k);
		_cleanup_free_ char *text = json_is_string(v) ? dos_xstrdup(json_string_value(v))
			: json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
		for (char *c = key; *c; c++)
			*c = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_';
		env_push(b, "DIRACOS_OPT_%s=%s", key, text ? text : "");
	}
}

static void env_build(struct build *b)
{
	env_push(b, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env_push(b, "HOME=/tmp");
	env_push(b, "LC_ALL=C.UTF-8");
	env_push(b, "TZ=UTC");
	env_push(b, "SOURCE_DATE_EPOCH=%lld", (long long)b->epoch);
	env_push(b, "SOURCES=/diracos/sources");
	env_push(b, "DESTDIR=/diracos/destdir");
	env_push(b, "PREFIX=/usr");
	env_push(b, "JOBS=%d", b->o->jobs > 0 ? b->o->jobs : 1);
	env_push(b, "DIRACOS_PACKAGE=%s", b->name);
	env_options(b);
}

/* The instance's apt sees the build-only section of the repository too:
 * build dependencies often live there. */
static int root_sources_list(struct build *b)
{
	_cleanup_free_ char *list = dos_repo_sources_list(DOS_ROOTFS_REPO_PATH);
	_cleanup_free_ char *path = dos_path_join(b->inst->root,
						  "etc/apt/sources.list.d/diracos-repo.list");
	_cleanup_close_ int fd = -1;

	if (!b->inst->repo)
		return 0;
	fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return dos_error_errno(b->ctx, DOS_EIO, errno, "cannot write '%s'", path);
	return dos_fd_write(b->ctx, fd, list, strlen(list), path);
}

static bool is_rpm(const struct dos_config *cfg)
{
	return cfg->platform.backend && !strcmp(cfg->platform.backend, "rpm");
}

static int root_make(struct build *b)
{
	struct dos_rootfs_opts ro = { .cfg = b->o->cfg, .variant = "buildd" };
	_cleanup_free_ char *dir = dos_path_join(b->dir, "instance");
	_cleanup_free_ char *install_log = NULL;
	struct dos_ctx scratch;
	int r;

	/* One at a time: dist.c's temporary InRelease name is per process,
	 * and the first use of a root runs mmdebstrap once anyway. */
	if (is_rpm(b->o->cfg))
		r = dos_build_rpm_root_instance(b->ctx, b->o->cfg, b->o->pkg, dir, &b->inst);
	else {
		pthread_mutex_lock(&dos_archive_lock);
		r = dos_rootfs_instance(b->ctx, &ro, dir, &b->inst);
		pthread_mutex_unlock(&dos_archive_lock);
	}
	if (r == 0)
		r = root_sources_list(b);
	if (r < 0 || b->o->pkg->build_dependencies.n == 0)
		return r;
	dos_log_append(b->log, "diracos: installing the build dependencies\n");
	r = dos_rootfs_install(b->ctx, b->inst, &b->o->pkg->build_dependencies);
	/* Into the build log when there is one: a scratch context, so that a
	 * failed install keeps its own message rather than "cannot open". */
	install_log = dos_path_join(b->inst->dir, "install.log");
	dos_ctx_init(&scratch);
	if (access(install_log, F_OK) == 0)
		copy_file(&scratch, install_log, b->log, true);
	return r;
}

/* --- the steps in the sandbox --- */


/* Runs argv in the build root with the script (or patch) file bound at dest. */
static int step_run(struct build *b, const char *what, const char *file, const char *dest,
		    char *const argv[])
{
	const struct dos_rootfs_instance *inst = b->inst;
	struct dos_sandbox_bind binds[DOS_ROOTFS_BINDS_MAX + 4];
	size_t n = 0;
	int r, status = 0;

	for (size_t i = 0; i < inst->n_binds; i++)
		binds[n++] = inst->binds[i];
	binds[n++] = (struct dos_sandbox_bind){ b->sources, "/diracos/sources", false };
	binds[n++] = (struct dos_sandbox_bind){ b->src, "/diracos/build", true };
	binds[n++] = (struct dos_sandbox_bind){ b->destdir, "/diracos/destdir", true };
	binds[n++] = (struct dos_sandbox_bind){ file, dest, false };
	struct dos_sandbox_opts so = {
		.root = inst->root, .binds = binds, .n_binds = n, .network = false,
		.root_writable = true, .argv = argv, .envp = b->env.v, .cwd = b->cwd,
		.log_path = b->log, .timeout_s = b->timeout_s,
	};
	dos_log_append(b->log, "diracos: %s\n", what);
	r = dos_sandbox_run(b->ctx, &so, &status);
	if (r < 0)
		return dos_error_prefix(b->ctx, "%s (log: '%s')", what, b->log);
	return status ? dos_build_step_failed(b->ctx, what, argv, b->cwd, status, b->log) : 0;
}

static int step_script(struct build *b, const char *kind, const char *file)
{
	_cleanup_free_ char *dest = dos_xasprintf("/diracos/%s.sh", kind);
	_cleanup_free_ char *what = dos_xasprintf("%s '%s'", kind, file);
	char *argv[] = { "sh", "-e", dest, NULL };

	return step_run(b, what, file, dest, argv);
}

static char *routine_path(const struct dos_package *p, const char *kind)
{
	const char *v = json_string_value(json_object_get(p->options, kind));
	const char *dir = json_string_value(json_object_get(p->options, "routineDir"));

	return v ? dos_path_absolute(dir, v) : NULL;
}

static int steps_run(struct build *b)
{
	const struct dos_package *p = b->o->pkg;
	const char *pdir = json_string_value(json_object_get(p->options, "patchDir"));
	_cleanup_free_ char *pname = dos_xasprintf("%s.patch", p->name);
	_cleanup_free_ char *patch = pdir ? dos_path_join(pdir, pname) : NULL;
	_cleanup_free_ char *pre = routine_path(p, "preRoutine");
	_cleanup_free_ char *post = routine_path(p, "postRoutine");
	_cleanup_free_ char *routine = routine_path(p, "routine");
	char *pargv[] = { "patch", "-p1", "-i", "/diracos/package.patch", NULL };
	int r = 0;

	env_build(b);
	if (patch && access(patch, F_OK) == 0)
		r = step_run(b, "patch", patch, "/diracos/package.patch", pargv);
	if (r == 0 && pre)
		r = step_script(b, "preRoutine", pre);
	if (r == 0)
		r = routine ? step_script(b, "routine", routine) : step_script(b, "recipe", p->recipe);
	if (r == 0 && post)
		r = step_script(b, "postRoutine", post);
	return r;
}

/* --- package and commit --- */

/* platform.backend "rpm": the tree becomes an .rpm (build_rpm.c). */
static int package_commit_rpm(struct build *b)
{
	struct dos_build_rpm_tree t = {
		.o = b->o, .inst = b->inst, .destdir = b->destdir, .workdir = b->dir,
		.log = b->log, .epoch = b->epoch, .timeout_s = b->timeout_s,
	};

	return dos_build_rpm_tree_commit(b->ctx, &t);
}

static int package_commit(struct build *b)
{
	const struct dos_package *p = b->o->pkg;
	struct dos_deb_opts d = {
		.tree = b->destdir, .package = p->name, .version = p->version,
		.arch = b->o->cfg->platform.arch, .depends = &p->depends,
		.dpkg_root = b->inst->root, .mtime = b->epoch, .out_path = b->deb,
	};
	struct dos_repo_record rec = { .name = p->name, .key = b->o->key, .inputs = b->o->inputs,
				       .log_path = b->log, .build_only = p->build_only };
	const char *debs[] = { b->deb };
	struct dos_deb_result res;
	int r;

	if (is_rpm(b->o->cfg))
		return package_commit_rpm(b);
	r = dos_build_deb(b->ctx, &d, &res);
	if (r < 0)
		return r;
	for (size_t i = 0; i < res.missing.n; i++)
		dos_warn(b->ctx, "package '%s': %s: no package in the build root provides it",
			 p->name, res.missing.v[i]);
	dos_log_append(b->log, "diracos: %s %s (%s), %llu KiB, Depends: %zu packages\n", p->name,
		   p->version, res.arch, (unsigned long long)res.installed_kib, res.depends.n);
	dos_deb_result_release(&res);
	return dos_repo_commit(b->ctx, b->o->repo, &rec, debs, 1);
}

static int build_check(struct dos_ctx *ctx, const struct dos_package *p)
{
	if (!p->recipe)
		return dos_error(ctx, DOS_ECONFIG, "neither \"recipe\" nor \"src\" is set; expected "
				 "one of them");
	if (!p->version)
		return dos_error(ctx, DOS_ECONFIG, "a recipe package needs a \"version\" (its .deb's)");
	if (!dos_build_version_valid(p->version))
		return dos_error(ctx, DOS_ECONFIG, "version '%s' is not a Debian version (a digit "
				 "first, then letters, digits and '.+~-')", p->version);
	if (!dos_build_name_valid(p->name))
		return dos_error(ctx, DOS_ECONFIG, "'%s' is not a Debian package name (lowercase "
				 "letters, digits and '+-.', two at least)", p->name);
	return 0;
}

int dos_build_package(struct dos_ctx *ctx, const struct dos_build_opts *o)
{
	struct build b;
	int r;

	if (o->pkg->src && !o->pkg->recipe && is_rpm(o->cfg))
		return dos_build_rpm_src_package(ctx, o);
	if (o->pkg->src && !o->pkg->recipe)
		return dos_build_src_package(ctx, o);
	r = build_check(ctx, o->pkg);
	if (r < 0)
		return dos_error_prefix(ctx, "package '%s'", o->pkg->name);
	r = build_init(ctx, &b, o);
	if (r == 0) {
		dos_log_append(b.log, "diracos: package %s %s, key %s\n", b.name, o->pkg->version, o->key);
		r = sources_get(&b);
	}
	if (r == 0)
		r = source_unpack(&b);
	if (r == 0)
		r = root_make(&b);
	if (r == 0)
		r = steps_run(&b);
	if (r == 0)
		r = package_commit(&b);
	r = dos_build_end(ctx, r, b.log, &b.inst, b.dir);
	build_release(&b);
	return r < 0 ? dos_error_prefix(ctx, "package '%s'", o->pkg->name) : 0;
}

/* --- every configured package --- */

struct all {
	struct dos_ctx *ctx;
	const struct dos_config *cfg;
	struct dos_plan *plan;
	struct dos_repo *repo;
	struct dos_cache *cache;
	struct dos_package *pinned;      /* the plan's packages: src ones pinned */
	struct dos_build_item *items;    /* one per plan node */
	bool *todo, *forced;
};

const char *dos_build_status_name(enum dos_build_status s)
{
	static const char *const names[] = { "up to date", "built", "FAILED", "skipped",
					     "removed", "not selected" };

	return s <= DOS_BUILD_UNSELECTED ? names[s] : "?";
}

/* For each configured package, the binary packages its record lists. */
static struct dos_strv *records_provides(struct all *a)
{
	struct dos_strv *prov = dos_xcalloc(a->cfg->n_packages + 1, sizeof(*prov));

	for (size_t i = 0; i < a->cfg->n_packages; i++) {
		json_t *rec = dos_repo_record_get(a->repo, a->cfg->packages[i].name), *out;
		size_t k;
		json_array_foreach(json_object_get(rec, "outputs"), k, out)
			if (json_is_string(json_object_get(out, "package")))
				dos_strv_push(&prov[i], json_string_value(json_object_get(out, "package")));
		json_decref(rec);
	}
	return prov;
}

static int plan_make(struct all *a)
{
	struct dos_strv *prov = records_provides(a);
	struct dos_config view = *a->cfg;
	int r = dos_build_src_pin(a->ctx, a->cfg, a->cache, &a->pinned);

	/* The src packages' keys include the source version the archive has. */
	view.packages = a->pinned;
	if (r == 0)
		r = dos_plan_new(a->ctx, &view, prov, &a->plan);

	for (size_t i = 0; i < a->cfg->n_packages; i++)
		dos_strv_release(&prov[i]);
	free(prov);
	return r;
}

static void report_add(struct dos_build_report *rep, const char *name, enum dos_build_status st)
{
	rep->items = dos_xrealloc(rep->items, (rep->n + 1) * sizeof(*rep->items));
	memset(&rep->items[rep->n], 0, sizeof(rep->items[0]));
	rep->items[rep->n].name = dos_xstrdup(name);
	rep->items[rep->n++].status = st;
}

/* Packages with a record that are no longer configured. */
static int stale_remove(struct all *a, struct dos_build_report *rep)
{
	struct dos_strv names = { 0 };
	int r = dos_repo_names(a->ctx, a->repo, &names);

	for (size_t i = 0; r == 0 && i < names.n; i++) {
		if (dos_config_find_package(a->cfg, names.v[i]))
			continue;
		dos_info(a->ctx, "package '%s': no longer configured; removing its outputs", names.v[i]);
		if (is_rpm(a->cfg))
			r = dos_repo_rpm_remove(a->ctx, dos_repo_path(a->repo), names.v[i]);
		else
			r = dos_repo_remove(a->ctx, a->repo, names.v[i]);
		if (r == 0)
			report_add(rep, names.v[i], DOS_BUILD_REMOVED);
	}
	dos_strv_release(&names);
	return r;
}

static int names_mark(struct all *a, const struct dos_strv *names, bool *mark, bool dependents)
{
	for (size_t k = 0; names && k < names->n; k++) {
		int i = dos_plan_find(a->plan, names->v[k]);
		if (i < 0)
			return dos_error(a->ctx, DOS_EUSAGE, "package '%s' is not configured in %s",
					 names->v[k], a->cfg->path);
		if (dependents)
			dos_plan_mark_dependents(a->plan, (size_t)i, mark);
		else
			mark[i] = true;
	}
	return 0;
}

static bool node_current(struct all *a, size_t i)
{
	_cleanup_free_ char *key = dos_repo_key(a->repo, a->plan->nodes[i].pkg->name);

	return key && !strcmp(key, a->plan->nodes[i].key);
}

/* What the selected packages build against must be up to date: an old
 * build is rebuilt first, a package never built is an error. */
static int deps_check(struct all *a, bool *sel)
{
	size_t n = a->plan->n;
	bool *deps = dos_xcalloc(n + 1, sizeof(*deps));
	int r = 0;

	for (size_t i = 0; i < n; i++)
		if (sel[i])
			dos_plan_mark_dependencies(a->plan, i, deps);
	for (size_t d = 0; r == 0 && d < n; d++) {
		const char *name = a->plan->nodes[d].pkg->name;
		_cleanup_free_ char *key = NULL;
		if (!deps[d] || sel[d] || node_current(a, d))
			continue;
		key = dos_repo_key(a->repo, name);
		if (!key)
			r = dos_error(a->ctx, DOS_EFAIL, "package '%s' was never built, and the packages "
				      "named build against it: name it too, or build them all", name);
		sel[d] = true;
	}
	free(deps);
	return r;
}

static int select_todo(struct all *a, const struct dos_build_all_opts *o)
{
	size_t n = a->plan->n;
	bool *sel = dos_xcalloc(n + 1, sizeof(*sel));
	bool all = !o || !o->names || o->names->n == 0;
	int r = names_mark(a, o ? o->force : NULL, a->forced, false);

	if (r == 0 && !all)
		r = names_mark(a, o->names, sel, true);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (all || a->forced[i])
			dos_plan_mark_dependents(a->plan, i, sel);
	if (r == 0 && !all)
		r = deps_check(a, sel);
	for (size_t i = 0; r == 0 && i < n; i++) {
		a->todo[i] = sel[i] && (a->forced[i] || !node_current(a, i));
		a->items[i].status = !sel[i] ? DOS_BUILD_UNSELECTED : DOS_BUILD_UP_TO_DATE;
	}
	free(sel);
	return r;
}

static int build_node(void *data, size_t i)
{
	struct all *a = data;
	struct dos_build_item *it = &a->items[i];
	const struct dos_plan_node *node = &a->plan->nodes[i];
	struct dos_ctx ctx = *a->ctx;
	struct dos_build_opts bo = { .cfg = a->cfg, .pkg = node->pkg, .key = node->key,
				     .inputs = node->inputs, .repo = a->repo, .cache = a->cache,
				     .jobs = a->ctx->jobs };
	int64_t t0 = dos_now_ms();
	int r;

	dos_error_clear(&ctx);
	ctx.progress = false;
	dos_info(a->ctx, "package '%s': building (key %.12s)", it->name, node->key);
	r = dos_build_package(&ctx, &bo);
	it->seconds = (double)(dos_now_ms() - t0) / 1000.0;
	it->status = r < 0 ? DOS_BUILD_FAILED : DOS_BUILD_BUILT;
	if (r < 0)
		it->error = dos_xstrdup(ctx.msg);
	else
		dos_info(a->ctx, "package '%s': built in %.0f s", it->name, it->seconds);
	return r;
}

/* The report in build order, results from the executor; the first failure's
 * message becomes ctx's. */
static int report_fill(struct all *a, const int *results, int r, struct dos_build_report *rep)
{
	bool first = true;

	for (size_t k = 0; k < a->plan->n; k++) {
		struct dos_build_item *it = &a->items[a->plan->order[k]];
		if (results[a->plan->order[k]] == DOS_PLAN_SKIPPED)
			it->status = DOS_BUILD_SKIPPED;
		if (it->error && first && r < 0) {
			dos_error(a->ctx, r, "%s", r == DOS_EINTR ? "interrupted" : it->error);
			first = false;
		}
		rep->items = dos_xrealloc(rep->items, (rep->n + 1) * sizeof(*rep->items));
		rep->items[rep->n++] = *it;
		memset(it, 0, sizeof(*it));
	}
	return r;
}

static int all_run(struct all *a, const struct dos_build_all_opts *o, struct dos_build_report *rep)
{
	int *results;
	int r = plan_make(a);

	if (r < 0)
		return r;
	a->items = dos_xcalloc(a->plan->n + 1, sizeof(*a->items));
	a->todo = dos_xcalloc(a->plan->n + 1, sizeof(bool));
	a->forced = dos_xcalloc(a->plan->n + 1, sizeof(bool));
	for (size_t i = 0; i < a->plan->n; i++) {
		a->items[i].name = dos_xstrdup(a->plan->nodes[i].pkg->name);
		memcpy(a->items[i].key, a->plan->nodes[i].key, DOS_SHA256_HEX);
	}
	for (size_t i = 0; i < a->plan->n; i++)
		if (a->plan->nodes[i].pkg->recipe && build_check(a->ctx, a->plan->nodes[i].pkg) < 0)
			return dos_error_prefix(a->ctx, "package '%s'", a->plan->nodes[i].pkg->name);
	if ((r = select_todo(a, o)) < 0 || (r = stale_remove(a, rep)) < 0)
		return r;
	results = dos_xcalloc(a->plan->n + 1, sizeof(*results));
	r = dos_plan_execute(a->ctx, a->plan, a->todo, a->ctx->jobs, build_node, a, results);
	r = report_fill(a, results, r, rep);
	free(results);
	return r;
}

static bool repo_exists(const struct dos_config *cfg)
{
	_cleanup_free_ char *index = dos_path_join(cfg->repo, "Packages");

	return access(index, F_OK) == 0;
}

int dos_build_packages(struct dos_ctx *ctx, const struct dos_config *cfg,
		       const struct dos_build_all_opts *o, struct dos_build_report *report)
{
	struct all a = { .ctx = ctx, .cfg = cfg };
	int r;

	memset(report, 0, sizeof(*report));
	if (cfg->n_packages == 0 && !repo_exists(cfg))
		return 0;
	/* Another diracos using the repository (a bundle reading it, a build
	 * writing it) is waited for, with a message, as its work is whole. */
	r = dos_repo_open(ctx, cfg->repo, DOS_REPO_WAIT, &a.repo);
	if (r == 0)
		r = dos_cache_open(ctx, NULL, &a.cache);
	if (r == 0)
		r = all_run(&a, o, report);
	for (size_t i = 0; a.items && i < a.plan->n; i++) {
		free(a.items[i].name);
		free(a.items[i].error);
	}
	free(a.items);
	free(a.todo);
	free(a.forced);
	dos_plan_free(a.plan);
	dos_build_src_pinned_free(a.pinned, cfg->n_packages);
	dos_cache_free(a.cache);
	dos_repo_free(a.repo);
	return r;
}

void dos_build_report_release(struct dos_build_report *report)
{
	for (size_t i = 0; i < report->n; i++) {
		free(report->items[i].name);
		free(report->items[i].error);
	}
	free(report->items);
	memset(report, 0, sizeof(*report));
}
