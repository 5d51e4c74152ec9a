/* After pip: no file keeps the build path, and the CA bundle inside the
 * bundle serves the ssl module and certifi wherever the bundle lies. See
 * pip.h (dos_pip_fix_tree, dos_pip_tls). */
#include "pip.h"
#include "relocate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_FILE "etc/ssl/certs/ca-certificates.crt"
#define CA_SOURCE "usr/share/ca-certificates"
#define PTH_NAME "diracos-ca-certificates.pth"
#define FILE_MAX (1 << 26)

/* The Python library folders of the bundle (relative to root): our own
 * Python's site-packages, and the distribution's dist-packages. Only those
 * that resolve inside root: the pip step's builds ran in it and could have
 * left a link to a host folder, which the fixes below would then write to. */
static void site_dirs(const char *root, bool dist_too, struct dos_strv *out)
{
	/* Ours, and where the distribution's Python has pip install. */
	static const char *const patterns[] = { "usr/lib/python3*/site-packages",
						"usr/local/lib/python3*/dist-packages" };
	_cleanup_free_ char *dist = dos_path_join(root, "usr/lib/python3/dist-packages");
	size_t rl = strlen(root) + 1;
	struct stat sb;

	for (size_t k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++) {
		_cleanup_free_ char *pattern = dos_path_join(root, patterns[k]);
		glob_t g;
		if (glob(pattern, GLOB_ONLYDIR, NULL, &g) == 0)
			for (size_t i = 0; i < g.gl_pathc; i++)
				if (dos_path_within(root, g.gl_pathv[i]))
					dos_strv_push(out, g.gl_pathv[i] + rl);
		globfree(&g);
	}
	if (dist_too && stat(dist, &sb) == 0 && S_ISDIR(sb.st_mode) && dos_path_within(root, dist))
		dos_strv_push(out, dist + rl);
}

/* --- RECORD and direct_url.json --- */

/* path (absolute, under root) relative to folder sp (relative to root). */
static char *rel_from(const char *root, const char *sp, const char *path)
{
	const char *rel = path + strlen(root) + 1;
	_cleanup_free_ char *dir = dos_path_dirname(rel);
	_cleanup_free_ char *up = dos_relocate_relpath(sp, strcmp(dir, ".") ? dir : "");
	const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;

	return dos_xasprintf("%s/%s", up, base);
}

/* RECORD lines whose path is under root become relative to the
 * site-packages folder; direct_url.json's line goes with the file. */
static int record_fix(struct dos_ctx *ctx, const char *root, const char *sp, const char *path,
		      bool drop_direct_url)
{
	_cleanup_free_ char *text = NULL, *out = NULL;
	size_t len = 0, olen = 0, rl = strlen(root);
	FILE *f;
	int r = dos_read_file(ctx, path, FILE_MAX, &text, &len);

	if (r < 0 || (!memmem(text, len, root, rl) && !drop_direct_url))
		return r;
	f = open_memstream(&out, &olen);
	for (char *l = text; *l; l += strcspn(l, "\n"), l += *l == '\n') {
		size_t n = strcspn(l, "\n"), field = strcspn(l, ",\n");
		_cleanup_free_ char *p = dos_xasprintf("%.*s", (int)field, l);
		if (drop_direct_url && strstr(p, ".dist-info/direct_url.json"))
			continue;
		if (!strncmp(p, root, rl) && p[rl] == '/') {
			_cleanup_free_ char *rel = rel_from(root, sp, p);
			fprintf(f, "%s%.*s\n", rel, (int)(n - field), l + field);
		} else {
			fprintf(f, "%.*s\n", (int)n, l);
		}
	}
	fclose(f);
	return dos_write_file_atomic(ctx, path, out, olen, 0644);
}

static int dist_info_fix(struct dos_ctx *ctx, const char *root, const char *sp,
			 const char *dir)
{
	_cleanup_free_ char *direct = dos_path_join(dir, "direct_url.json");
	_cleanup_free_ char *record = dos_path_join(dir, "RECORD");
	_cleanup_free_ char *text = NULL;
	bool drop = false;
	size_t len = 0;

	/* It names where pip took the distribution from: a build path. */
	if (dos_read_file(ctx, direct, FILE_MAX, &text, &len) == 0) {
		if (unlink(direct) < 0)
			return dos_error_errno(ctx, DOS_EIO, errno, "cannot remove '%s'", direct);
		drop = true;
	}
	dos_error_clear(ctx);
	if (access(record, F_OK) < 0)
		return 0;
	return record_fix(ctx, root, sp, record, drop);
}

static int site_fix(struct dos_ctx *ctx, const char *root, const char *sp)
{
	_cleanup_free_ char *path = dos_path_join(root, sp);
	DIR *d = opendir(path);
	struct dirent *de;
	int r = 0;

	while (r == 0 && d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		_cleanup_free_ char *dir = NULL;
		if (n < 11 || strcmp(de->d_name + n - 10, ".dist-info"))
			continue;
		dir = dos_path_join(path, de->d_name);
		if (dos_path_within(root, dir))
			r = dist_info_fix(ctx, root, sp, dir);
	}
	if (d)
		closedir(d);
	return r;
}

/* --- distlib's launchers --- */

/* "#!/bin/sh\n'''exec' EXE "$0" "$@"\n' '''\n" with EXE under root
 * becomes "#!EXE\n": relocation then makes it relocatable. */
static int launcher_fix(struct dos_ctx *ctx, const char *root, const char *path)
{
	static const char head[] = "#!/bin/sh\n'''exec' ";
	static const char tail[] = " \"$0\" \"$@\"\n' '''\n";
	_cleanup_free_ char *text = NULL, *out = NULL;
	size_t len = 0, hl = sizeof(head) - 1, rl = strlen(root);
	char *exe, *end;
	struct stat sb;

	if (dos_read_file(ctx, path, FILE_MAX, &text, &len) < 0)
		return dos_error_clear(ctx), 0;
	if (len < hl || memcmp(text, head, hl))
		return 0;
	exe = text + hl + (text[hl] == '"');
	end = strstr(exe, tail);
	if (!end || strncmp(exe, root, rl) || exe[rl] != '/')
		return 0;
	if (end[-1] == '"')
		end--;
	if (memchr(exe, ' ', (size_t)(end - exe)) || memchr(exe, '\n', (size_t)(end - exe)))
		return 0;
	out = dos_xasprintf("#!%.*s\n%s", (int)(end - exe), exe,
			    strstr(exe, tail) + sizeof(tail) - 1);
	if (stat(path, &sb) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot stat '%s'", path);
	return dos_write_file_atomic(ctx, path, out, strlen(out), sb.st_mode & 07777);
}

static int launchers_fix(struct dos_ctx *ctx, const char *root)
{
	_cleanup_free_ char *bin = dos_path_join(root, "usr/bin");
	DIR *d = dos_path_within(root, bin) ? opendir(bin) : NULL;
	struct dirent *de;
	int r = 0;

	while (r == 0 && d && (de = readdir(d))) {
		_cleanup_free_ char *path = dos_path_join(bin, de->d_name);
		struct stat sb;
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 0111))
			r = launcher_fix(ctx, root, path);
	}
	if (d)
		closedir(d);
	return r;
}

int dos_pip_fix_tree(struct dos_ctx *ctx, const char *root)
{
	struct dos_strv sps = { 0 };
	int r = 0;

	site_dirs(root, false, &sps);
	for (size_t i = 0; r == 0 && i < sps.n; i++)
		r = site_fix(ctx, root, sps.v[i]);
	dos_strv_release(&sps);
	if (r == 0)
		r = launchers_fix(ctx, root);
	return r;
}

/* --- the CA bundle --- */

static struct dos_strv *ca_list;

static int ca_note(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t n = strlen(path);

	(void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode) && n > 4 && !strcmp(path + n - 4, ".crt"))
		dos_strv_push(ca_list, path);
	return 0;
}

/* What update-ca-certificates makes in ca-certificates' postinst, which
 * extraction does not run: every certificate the package ships (all of
 * them are enabled by default), sorted, concatenated. */
static int ca_file_make(struct dos_ctx *ctx, const char *root, const char *ca)
{
	_cleanup_free_ char *src = dos_path_join(root, CA_SOURCE);
	_cleanup_free_ char *text = NULL, *dir = dos_path_dirname(ca);
	struct dos_strv crts = { 0 };
	size_t len = 0;
	FILE *f;
	int r = 0;

	ca_list = &crts;
	nftw(src, ca_note, 16, FTW_PHYS);
	ca_list = NULL;
	if (crts.n == 0)
		return 0;
	dos_strv_sort(&crts);
	f = open_memstream(&text, &len);
	for (size_t i = 0; r == 0 && i < crts.n; i++) {
		_cleanup_free_ char *pem = NULL;
		size_t n = 0;
		r = dos_read_file(ctx, crts.v[i], FILE_MAX, &pem, &n);
		if (r == 0) {
			fwrite(pem, 1, n, f);
			if (n && pem[n - 1] != '\n')
				fputc('\n', f);
		}
	}
	fclose(f);
	dos_strv_release(&crts);
	if (r == 0)
		r = dos_mkdir_p(ctx, dir, 0755);
	if (r == 0)
		r = dos_write_file_atomic(ctx, ca, text, len, 0644);
	return r < 0 ? dos_error_prefix(ctx, "CA bundle '%s'", CA_FILE) : 0;
}

/* Python's ssl module takes OpenSSL's default verify paths, which name the
 * host's folders: the .pth points SSL_CERT_FILE at the bundle's CA file,
 * found from sys.base_prefix (the bundle's usr, wherever it lies), unless
 * the environment sets it. */
static const char pth_text[] =
	"import os, sys; _dos_ca = os.path.join(os.path.dirname(sys.base_prefix), 'etc', 'ssl', "
	"'certs', 'ca-certificates.crt'); os.path.isfile(_dos_ca) and "
	"os.environ.setdefault('SSL_CERT_FILE', _dos_ca); del _dos_ca\n";

/* Whether path holds text already: an extension's base keeps its file. */
static bool same_text(const char *path, const char *text)
{
	struct dos_ctx scratch;
	_cleanup_free_ char *old = NULL;
	size_t len = 0;

	dos_ctx_init(&scratch);
	return dos_read_file(&scratch, path, FILE_MAX, &old, &len) == 0 &&
	       len == strlen(text) && !memcmp(old, text, len);
}

/* Debian's certifi (python3-certifi) returns the host's CA file by its
 * absolute path: it names certifi/cacert.pem beside it instead, the link
 * below. Extraction restores the package's file on the next run, and this
 * patches it again. */
static int certifi_core_fix(struct dos_ctx *ctx, const char *pkg)
{
	static const char *const literals[] = { "'/etc/ssl/certs/ca-certificates.crt'",
						"\"/etc/ssl/certs/ca-certificates.crt\"" };
	static const char relative[] = "__import__('os').path.join(__import__('os').path.dirname("
				       "__import__('os').path.abspath(__file__)), 'cacert.pem')";
	_cleanup_free_ char *core = dos_path_join(pkg, "core.py");
	_cleanup_free_ char *text = NULL;
	char *at = NULL, *out;
	size_t len = 0, n = 0;
	struct stat sb;
	int r;

	if (lstat(core, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    dos_read_file(ctx, core, FILE_MAX, &text, &len) < 0)
		return dos_error_clear(ctx), 0;
	for (size_t i = 0; !at && i < sizeof(literals) / sizeof(literals[0]); i++)
		if ((at = strstr(text, literals[i])))
			n = strlen(literals[i]);
	if (!at)
		return 0;
	out = dos_xasprintf("%.*s%s%s", (int)(at - text), text, relative, at + n);
	r = dos_write_file_atomic(ctx, core, out, strlen(out), sb.st_mode & 07777);
	free(out);
	return r;
}

static int certifi_link(struct dos_ctx *ctx, const char *root, const char *sp)
{
	_cleanup_free_ char *pkg_rel = dos_path_join(sp, "certifi");
	_cleanup_free_ char *pkg = dos_path_join(root, pkg_rel);
	_cleanup_free_ char *pem = dos_path_join(pkg, "cacert.pem");
	_cleanup_free_ char *up = NULL, *target = NULL;
	struct stat sb;

	if (stat(pkg, &sb) < 0 || !S_ISDIR(sb.st_mode) || !dos_path_within(root, pkg))
		return 0;
	if (certifi_core_fix(ctx, pkg) < 0)
		return DOS_EIO;
	if (lstat(pem, &sb) == 0)
		return 0;
	/* Debian's certifi source drops cacert.pem; where() names this file. */
	up = dos_relocate_relpath(pkg_rel, "etc/ssl/certs");
	target = dos_xasprintf("%s/ca-certificates.crt", up);
	if (symlink(target, pem) < 0)
		return dos_error_errno(ctx, DOS_EIO, errno, "cannot link '%s' to '%s'", pem, target);
	return 0;
}

int dos_pip_tls(struct dos_ctx *ctx, const char *root)
{
	_cleanup_free_ char *ca = dos_path_join(root, CA_FILE);
	struct dos_strv sps = { 0 };
	_cleanup_free_ char *ca_dir = dos_path_dirname(ca);
	struct stat sb;
	int r = 0;

	if (!dos_path_within(root, ca_dir))
		return dos_error(ctx, DOS_EFAIL, "'%s' leads out of the bundle", CA_FILE);
	if (stat(ca, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		if (lstat(ca, &sb) == 0 && unlink(ca) < 0)
			return dos_error_errno(ctx, DOS_EIO, errno, "cannot remove '%s'", ca);
		r = ca_file_make(ctx, root, ca);
	}
	if (r < 0 || stat(ca, &sb) < 0)
		return r;
	site_dirs(root, true, &sps);
	for (size_t i = 0; r == 0 && i < sps.n; i++) {
		_cleanup_free_ char *dir = dos_path_join(root, sps.v[i]);
		_cleanup_free_ char *pth = dos_path_join(dir, PTH_NAME);
		if (strncmp(sps.v[i], "usr/lib/python3/", 16) && !same_text(pth, pth_text))
			r = dos_write_file_atomic(ctx, pth, pth_text, strlen(pth_text), 0644);
		if (r == 0)
			r = certifi_link(ctx, root, sps.v[i]);
	}
	dos_strv_release(&sps);
	return r;
}
