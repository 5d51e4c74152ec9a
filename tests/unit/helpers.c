/* What the unit tests share: see helpers.h. */
#include "helpers.h"

#include "run.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- folders, contexts --- */

char *th_tmpdir(const char *name)
{
	char *t = dos_xasprintf("/tmp/diracos-test-%s-XXXXXX", name);

	assert_non_null(mkdtemp(t));
	return t;
}

void th_tmpdir_remove(char *dir)
{
	struct dos_ctx ctx;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_rm_rf(&ctx, dir), 0);
	free(dir);
}

void th_ctx_quiet(struct dos_ctx *ctx)
{
	dos_ctx_init(ctx);
	ctx->progress = false;
	ctx->log_level = DOS_LOG_ERROR;
}

struct th_dir *th_dir_new(const char *name)
{
	struct th_dir *f = dos_xcalloc(1, sizeof(*f));

	th_ctx_quiet(&f->ctx);
	f->dir = th_tmpdir(name);
	f->root = dos_path_join(f->dir, "root");
	return f;
}

int th_dir_teardown(void **state)
{
	struct th_dir *f = *state;

	th_tmpdir_remove(f->dir);
	free(f->root);
	free(f);
	return 0;
}

/* --- shell commands --- */

int th_vsh(const struct th_sh *o, const char *fmt, va_list ap)
{
	struct dos_ctx ctx;
	struct dos_run_opts ro = { .cwd = o->cwd, .log_path = o->log, .envp = o->envp };
	char *cmd, *captured = NULL;
	int r;

	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	char *argv[] = { "sh", o->errexit ? "-ec" : "-c", cmd, NULL };
	dos_ctx_init(&ctx);
	if (o->out)
		r = dos_run_capture(&ctx, argv, &ro, &captured, NULL);
	else
		r = dos_run(&ctx, argv, &ro);
	if (r < 0 && !strstr(cmd, "2>/dev/null"))
		fprintf(stderr, "# command failed: %s: %s\n", cmd, ctx.msg);
	if (o->out)
		*o->out = captured;
	free(cmd);
	return r;
}

int th_sh(const struct th_sh *o, const char *fmt, ...)
{
	return TH_VSH(o, fmt);
}

int th_sh_in(const char *dir, const char *libpath, char **out, const char *fmt, ...)
{
	char *ldp = libpath ? dos_xasprintf("LD_LIBRARY_PATH=%s", libpath) : NULL;
	char *env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", ldp, NULL };
	struct th_sh o = { .cwd = dir, .envp = env, .out = out };
	int r;

	r = TH_VSH(&o, fmt);
	free(ldp);
	return r;
}

int th_sh_at(const char *dir, const char *fmt, ...)
{
	struct th_sh o = { .cwd = dir, .errexit = true };

	return TH_VSH(&o, fmt);
}

void th_sh_ok(const char *dir, const char *fmt, ...)
{
	struct th_sh o = { .cwd = dir, .errexit = true };

	assert_int_equal(TH_VSH(&o, fmt), 0);
}

void th_sh_gpg(const char *dir, const char *home, const char *fmt, ...)
{
	char *log = dos_path_join(dir, "sh.log");
	char *gh = dos_xasprintf("GNUPGHOME=%s", home);
	char *h = dos_xasprintf("HOME=%s", dir);
	char *env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", h, gh, NULL };
	struct th_sh o = { .log = log, .envp = env };
	int r;

	r = TH_VSH(&o, fmt);
	assert_int_equal(r, 0);
	free(log);
	free(gh);
	free(h);
}

/* --- files --- */

void th_write(const char *path, const char *text, mode_t mode)
{
	struct dos_ctx ctx;
	char *dir = dos_path_dirname(path);
	FILE *f;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_mkdir_p(&ctx, dir, 0755), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	free(dir);
}

void th_write_at(const char *dir, const char *rel, const char *text, mode_t mode)
{
	char *path = dos_path_join(dir, rel);

	th_write(path, text, mode);
	free(path);
}

char *th_read(const char *path)
{
	struct dos_ctx ctx;
	char *data = NULL;

	dos_ctx_init(&ctx);
	return dos_read_file(&ctx, path, 1 << 24, &data, NULL) < 0 ? NULL : data;
}

char *th_read_at(const char *dir, const char *rel)
{
	char *path = dos_path_join(dir, rel);
	char *data = th_read(path);

	free(path);
	return data;
}

bool th_exists_at(const char *dir, const char *rel)
{
	char *path = dos_path_join(dir, rel);
	struct stat st;
	bool r = lstat(path, &st) == 0;

	free(path);
	return r;
}

struct stat th_lstat_at(const char *dir, const char *rel)
{
	char *path = dos_path_join(dir, rel);
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("cannot lstat '%s'", path);
	free(path);
	return st;
}

size_t th_count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

void th_assert_link(const char *dir, const char *rel, const char *target)
{
	char *path = dos_path_join(dir, rel), buf[4096];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	if (n >= 0)
		buf[n] = '\0';
	if (n < 0 || strcmp(buf, target))
		fail_msg("link '%s' points to '%s', expected '%s'", rel, n < 0 ? "(none)" : buf, target);
	free(path);
}

/* --- packages --- */

static void tar_add(struct archive *a, const struct th_tent *t)
{
	struct archive_entry *e = archive_entry_new();
	size_t len = t->len ? t->len : t->data ? strlen(t->data) : 0;

	archive_entry_set_pathname(e, t->name);
	archive_entry_set_perm(e, t->perm);
	archive_entry_set_mtime(e, TH_MTIME, 0);
	archive_entry_set_filetype(e, t->type ? t->type : AE_IFREG);
	if (t->type == 0)
		archive_entry_set_hardlink(e, t->data);
	if (t->type == AE_IFLNK)
		archive_entry_set_symlink(e, t->data);
	if (t->type == AE_IFCHR)
		archive_entry_set_rdev(e, makedev(1, 3));
	if (t->type == AE_IFREG)
		archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (t->type == AE_IFREG)
		assert_int_equal(archive_write_data(a, t->data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

size_t th_tar(const struct th_tent *ents, size_t n, const char *filter, char *buf, size_t cap)
{
	struct archive *a = archive_write_new();
	size_t used = 0;

	archive_write_set_format_pax_restricted(a);
	if (filter)
		assert_int_equal(archive_write_add_filter_by_name(a, filter), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++)
		tar_add(a, &ents[i]);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	return used;
}

static void ar_add(struct archive *a, const char *name, const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, TH_MTIME, 0);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

/* data.tar's member name for a libarchive filter name. */
static char *data_member(const char *filter)
{
	static const char *const ext[][2] = {
		{ "gzip", "gz" }, { "bzip2", "bz2" }, { "zstd", "zst" },
	};

	if (!filter)
		return dos_xstrdup("data.tar");
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (!strcmp(filter, ext[i][0]))
			return dos_xasprintf("data.tar.%s", ext[i][1]);
	return dos_xasprintf("data.tar.%s", filter);
}

#define TH_TAR_CAP (32 << 20)

void th_deb_write(const char *path, const struct th_deb *d)
{
	size_t clen = d->control_len ? d->control_len : strlen(d->control);
	struct th_tent ctl[] = {
		{ "./control", AE_IFREG, 0644, d->control, clen },
		{ "./postinst", AE_IFREG, 0755, d->postinst, 0 },
	};
	char *cbuf = dos_xmalloc(TH_TAR_CAP), *dbuf = dos_xmalloc(TH_TAR_CAP);
	char *member = data_member(d->filter);
	size_t cused = th_tar(ctl, d->postinst ? 2 : 1, "gzip", cbuf, TH_TAR_CAP);
	size_t dused = th_tar(d->ents, d->n, d->filter, dbuf, TH_TAR_CAP);
	int keep = d->keep_percent ? d->keep_percent : 100;
	struct archive *a = archive_write_new();

	archive_write_set_format_ar_svr4(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	ar_add(a, "debian-binary", "2.0\n", 4);
	ar_add(a, "control.tar.gz", cbuf, cused);
	ar_add(a, member, dbuf, dused * (size_t)keep / 100);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	free(cbuf);
	free(dbuf);
	free(member);
}

void th_dpkg_deb(const char *staging, const char *out, const char *comp, const char *log)
{
	struct dos_ctx ctx;
	char *z = dos_xasprintf("-Z%s", comp);
	char *argv[] = { "dpkg-deb", "--root-owner-group", z, "--build", (char *)staging,
			 (char *)out, NULL };
	struct dos_run_opts opts = { .log_path = log };
	int r;

	dos_ctx_init(&ctx);
	r = dos_run(&ctx, argv, &opts);
	if (r < 0)
		fail_msg("%s", ctx.msg);
	free(z);
}

/* --- the loopback httpd helper --- */

/* The helper, built beside the running test. */
static char *httpd_path(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *dir, *path;

	assert_true(n > 0);
	exe[n] = '\0';
	dir = dos_path_dirname(exe);
	path = dos_path_join(dir, "httpd");
	free(dir);
	return path;
}

void th_httpd_start(struct th_httpd *s, const char *dir, const char *root, const char *fault)
{
	struct dos_ctx ctx;
	char *portfile = dos_path_join(dir, "port");
	char *exe = httpd_path();
	char *data = NULL;

	dos_ctx_init(&ctx);
	unlink(portfile);
	s->log = dos_path_join(dir, "httpd.log");
	unlink(s->log);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execl(exe, "httpd", portfile, root, "--log", s->log,
		      fault ? "--fault" : NULL, fault, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && access(portfile, F_OK) != 0; i++)
		usleep(10000);
	assert_int_equal(dos_read_file(&ctx, portfile, 100, &data, NULL), 0);
	s->port = atoi(data);
	free(data);
	free(portfile);
	free(exe);
}

void th_httpd_stop(struct th_httpd *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
	free(s->log);
	s->log = NULL;
}

int th_httpd_count(const struct th_httpd *s, const char *needle)
{
	struct dos_ctx ctx;
	char *data = NULL, *p;
	int n = 0;

	dos_ctx_init(&ctx);
	if (dos_read_file(&ctx, s->log, 1 << 20, &data, NULL) < 0)
		return 0;
	for (p = data; (p = strstr(p, needle)); p++)
		n++;
	free(data);
	return n;
}

/* --- the resolver fixture --- */

int th_resolve_setup(void **state, const char *name, const char *backend, const char *arch)
{
	struct th_resolve *f = dos_xcalloc(1, sizeof(*f));

	th_ctx_quiet(&f->ctx);
	f->dir = th_tmpdir(name);
	assert_int_equal(dos_resolver_new(&f->ctx, backend, arch, &f->r), 0);
	*state = f;
	return 0;
}

int th_resolve_teardown(void **state)
{
	struct th_resolve *f = *state;

	dos_closure_release(&f->c);
	dos_resolver_free(f->r);
	assert_int_equal(dos_rm_rf(&f->ctx, f->dir), 0);
	free(f->dir);
	free(f);
	return 0;
}
