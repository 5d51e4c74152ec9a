/* Unit tests of .deb extraction: real packages from dpkg-deb, hostile ones
 * written entry by entry with libarchive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "assemble.h"
#include "extract.h"
#include "run.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* --- helpers --- */

static void write_file(const char *dir, const char *rel, const char *content, mode_t mode)
{
	char *path = dos_path_join(dir, rel);
	const struct timespec ts[2] = { { TH_MTIME, 0 }, { TH_MTIME, 0 } };

	th_write(path, content, mode);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	free(path);
}

static void assert_text(const char *dir, const char *rel, const char *expected)
{
	char *got = th_read_at(dir, rel);

	assert_non_null(got);
	assert_string_equal(got, expected);
	free(got);
}

static int setup(void **state)
{
	*state = th_dir_new("extract");
	return 0;
}

static const char control_fmt[] =
	"Package: %s\nVersion: 1.0\nArchitecture: all\n"
	"Maintainer: Test <test@example.org>\nDescription: a test package\n";

/* A real package: dpkg-deb builds staging/<name> into dir/<name>.deb. */
static char *dpkg_build(const char *dir, const char *name, const char *comp)
{
	char *staging = dos_xasprintf("%s/staging-%s", dir, name);
	char *out = dos_xasprintf("%s/%s-%s.deb", dir, name, comp);
	char *log = dos_xasprintf("%s/dpkg-deb.log", dir);
	char *control = dos_xasprintf(control_fmt, name);

	write_file(staging, "DEBIAN/control", control, 0644);
	th_dpkg_deb(staging, out, comp, log);
	free(staging);
	free(log);
	free(control);
	return out;
}

/* A hand-made package: control.tar.gz (control and an optional postinst),
 * and data.tar[.<filter>] cut to keep_percent. */
static char *deb_write(const char *dir, const char *name, const struct th_tent *ents, size_t n,
		       const char *filter, const char *postinst, int keep_percent)
{
	char *path = dos_xasprintf("%s/%s.deb", dir, name);
	char *control = dos_xasprintf(control_fmt, name);
	const struct th_deb deb = { .control = control, .postinst = postinst, .ents = ents,
				    .n = n, .filter = filter, .keep_percent = keep_percent };

	th_deb_write(path, &deb);
	free(control);
	return path;
}

static int extract(struct dos_ctx *ctx, const char *root, const struct dos_extract_pkg *pkgs,
		   size_t n, int threads, struct dos_extract_result *res)
{
	dos_ctx_init(ctx);
	ctx->log_level = DOS_LOG_ERROR;   /* the expected warnings stay quiet */
	return dos_extract_debs(ctx, root, pkgs, n, threads, res);
}

/* --- real packages --- */

static const char voms_postinst[] =
	"#!/bin/sh\nset -e\n\n"
	"update-alternatives --install /usr/bin/voms-proxy-init \\\n"
	"  voms-proxy-init /usr/bin/voms-proxy-init3 50 \\\n"
	"  --slave /usr/share/man/man1/voms-proxy-init.1.gz voms-proxy-init-man \\\n"
	"  /usr/share/man/man1/voms-proxy-init3.1.gz\n";

static const char copyright_dep5[] =
	"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
	"Upstream-Name: tool\n\n"
	"Files: debian/*\nCopyright: 2020 Someone\nLicense: GPL-2+\n\n"
	"Files: *\nCopyright: 2019 Upstream\nLicense: Apache-2.0\n"
	" Licensed under the Apache License...\n\n"
	"License: Apache-2.0\n On Debian systems...\n";

static void stage_tool(const char *dir)
{
	char *staging = dos_xasprintf("%s/staging-tool", dir);
	char *link = dos_xasprintf("%s/usr/lib/libtool.so.1", staging);
	char *priv = dos_xasprintf("%s/var/lib/tool", staging);
	const struct timespec ts[2] = { { TH_MTIME, 0 }, { TH_MTIME, 0 } };

	write_file(staging, "usr/bin/voms-proxy-init3", "#!/bin/sh\necho tool\n", 0755);
	write_file(staging, "usr/lib/libtool.so.1.0", "ELF-ish", 0644);
	write_file(staging, "usr/share/doc/tool/copyright", copyright_dep5, 0644);
	write_file(staging, "var/lib/tool/state", "", 0600);
	write_file(staging, "DEBIAN/postinst", voms_postinst, 0755);
	assert_int_equal(symlink("libtool.so.1.0", link), 0);
	assert_int_equal(utimensat(AT_FDCWD, link, ts, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(chmod(priv, 0750), 0);
	free(staging);
	free(link);
	free(priv);
}

static void check_tool(const char *root, const struct dos_extract_result *res)
{
	char link[64] = "";
	char *path = dos_path_join(root, "usr/lib/libtool.so.1");
	struct stat st;

	assert_text(root, "usr/bin/voms-proxy-init3", "#!/bin/sh\necho tool\n");
	assert_int_equal(th_lstat_at(root, "usr/bin/voms-proxy-init3").st_mode & 07777, 0755);
	assert_int_equal(th_lstat_at(root, "usr/lib/libtool.so.1.0").st_mode & 07777, 0644);
	assert_int_equal(th_lstat_at(root, "var/lib/tool/state").st_mode & 07777, 0600);
	assert_int_equal(th_lstat_at(root, "var/lib/tool").st_mode & 07777, 0750);
	assert_true(S_ISLNK(th_lstat_at(root, "usr/lib/libtool.so.1").st_mode));
	assert_true(readlink(path, link, sizeof(link) - 1) > 0);
	assert_string_equal(link, "libtool.so.1.0");
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mtime, TH_MTIME);
	free(path);
	path = dos_path_join(root, "usr/bin/voms-proxy-init3");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mtime, TH_MTIME);
	assert_int_equal(st.st_uid, getuid());
	free(path);
	assert_int_equal(res->n_pkgs, 1);
	assert_string_equal(res->pkgs[0].license, "Apache-2.0");
	assert_true(dos_strv_contains(&res->pkgs[0].paths, "usr/bin/voms-proxy-init3"));
	assert_true(dos_strv_contains(&res->pkgs[0].paths, "usr/lib/libtool.so.1"));
	assert_true(dos_strv_contains(&res->pkgs[0].paths, "var/lib/tool"));
	for (size_t i = 1; i < res->pkgs[0].paths.n; i++)
		assert_true(strcmp(res->pkgs[0].paths.v[i - 1], res->pkgs[0].paths.v[i]) < 0);
	assert_int_equal(res->n_alternatives, 2);
	assert_string_equal(res->alternatives[0].link, "/usr/bin/voms-proxy-init");
	assert_string_equal(res->alternatives[0].package, "tool");
	assert_null(res->alternatives[0].master);
	assert_string_equal(res->alternatives[1].master, "voms-proxy-init");
	assert_int_equal(res->alternatives[1].priority, 50);
	assert_int_equal(res->n_conflicts + res->n_setids + res->n_skipped, 0);
	assert_int_equal(res->files, 4);
}

static void test_dpkg_deb_compressions(void **state)
{
	struct th_dir *f = *state;
	static const char *const comps[] = { "gzip", "xz", "zstd", "none" };

	stage_tool(f->dir);
	for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
		struct dos_ctx ctx;
		struct dos_extract_result res;
		char *deb = dpkg_build(f->dir, "tool", comps[i]);
		char *root = dos_xasprintf("%s/root-%s", f->dir, comps[i]);
		struct dos_extract_pkg pkg = { "tool", deb };

		assert_int_equal(extract(&ctx, root, &pkg, 1, 2, &res), 0);
		check_tool(root, &res);
		assert_int_equal(dos_extract_apply_alternatives(&ctx, root, &res), 2);
		assert_true(S_ISLNK(th_lstat_at(root, "usr/bin/voms-proxy-init").st_mode));
		dos_extract_result_release(&res);
		free(root);
		free(deb);
	}
}

static void test_not_a_deb(void **state)
{
	struct th_dir *f = *state;
	struct dos_ctx ctx;
	struct dos_extract_result res;
	struct dos_extract_pkg pkgs[] = { { "ghost", "/nonexistent/ghost.deb" } };

	assert_true(extract(&ctx, f->root, pkgs, 1, 1, &res) < 0);
	assert_non_null(strstr(ctx.msg, "package 'ghost' (/nonexistent/ghost.deb)"));
	write_file(f->dir, "plain.deb", "just text, not an archive\n", 0644);
	pkgs[0].path = dos_path_join(f->dir, "plain.deb");
	assert_int_equal(extract(&ctx, f->root, pkgs, 1, 1, &res), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "not a Debian package"));
	free((char *)pkgs[0].path);
}

/* --- hand-made packages --- */

static void test_handmade_filters(void **state)
{
	struct th_dir *f = *state;
	static const char *const filters[] = { "gzip", "xz", "zstd", "bzip2", NULL };
	const struct th_tent ents[] = {
		{ "./", AE_IFDIR, 0755, NULL, 0 },
		{ "./usr/", AE_IFDIR, 0755, NULL, 0 },
		{ "./usr/share/data.txt", AE_IFREG, 0644, "payload\n", 0 },
		{ "./usr/share/empty", AE_IFREG, 0644, "", 0 },
	};

	for (size_t i = 0; i < 5; i++) {
		struct dos_ctx ctx;
		struct dos_extract_result res;
		char *name = dos_xasprintf("f%zu", i);
		char *deb = deb_write(f->dir, name, ents, 4, filters[i], NULL, 100);
		char *root = dos_xasprintf("%s/root-%s", f->dir, name);
		struct dos_extract_pkg pkg = { name, deb };

		assert_int_equal(extract(&ctx, root, &pkg, 1, 1, &res), 0);
		assert_text(root, "usr/share/data.txt", "payload\n");
		assert_text(root, "usr/share/empty", "");
		assert_int_equal(res.bytes, 8);
		dos_extract_result_release(&res);
		free(root);
		free(deb);
		free(name);
	}
}

static void test_hardlink_becomes_copy(void **state)
{
	struct th_dir *f = *state;
	const struct th_tent ents[] = {
		{ "./usr/bin/git", AE_IFREG, 0755, "the git binary", 0 },
		{ "./usr/lib/git-core/git-add", 0, 0755, "./usr/bin/git", 0 },
		{ "./usr/bin/evil-link", 0, 0755, "/etc/passwd", 0 },
	};
	struct dos_ctx ctx;
	struct dos_extract_result res;
	char *deb = deb_write(f->dir, "git", ents, 2, "gzip", NULL, 100);
	struct dos_extract_pkg pkg = { "git", deb };
	char *path;
	struct stat st;

	assert_int_equal(extract(&ctx, f->root, &pkg, 1, 1, &res), 0);
	assert_text(f->root, "usr/lib/git-core/git-add", "the git binary");
	path = dos_path_join(f->root, "usr/lib/git-core/git-add");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_mode & 07777, 0755);
	dos_extract_result_release(&res);
	free(path);
	free(deb);

	/* A hard link to something outside the package is refused. */
	deb = deb_write(f->dir, "evil", ents + 2, 1, "gzip", NULL, 100);
	pkg = (struct dos_extract_pkg){ "evil", deb };
	assert_int_equal(extract(&ctx, f->root, &pkg, 1, 1, &res), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "package 'evil'"));
	assert_non_null(strstr(ctx.msg, "absolute"));
	free(deb);
}

/* An .rpm whose hard-link set holds only empty files: the set is held to
 * the end of the payload, and its empty content is written without
 * reading the archive, then at its end. */
static const char empty_links_spec[] =
	"Name: hl\nVersion: 1\nRelease: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\n"
	"%description\nt\n%install\nmkdir -p %{buildroot}/usr/share/hl\n"
	": > %{buildroot}/usr/share/hl/a\n"
	"ln %{buildroot}/usr/share/hl/a %{buildroot}/usr/share/hl/b\n"
	"echo hi > %{buildroot}/usr/share/hl/c\n%files\n/usr/share/hl\n";

static void test_rpm_empty_hardlinks(void **state)
{
	struct th_dir *f = *state;
	struct dos_ctx ctx;
	struct dos_extract_result res;
	char *rpm = dos_xasprintf("%s/top/RPMS/noarch/hl-1-1.noarch.rpm", f->dir);
	struct dos_extract_pkg pkg = { "hl", rpm };

	if (th_sh_at(f->dir, "command -v rpmbuild >/dev/null") != 0) {
		free(rpm);
		skip();
	}
	th_write_at(f->dir, "hl.spec", empty_links_spec, 0644);
	th_sh_ok(f->dir, "rpmbuild --define \"_topdir $PWD/top\" --nodeps --quiet -bb hl.spec "
			 ">rpmbuild.log 2>&1");
	assert_int_equal(extract(&ctx, f->root, &pkg, 1, 1, &res), 0);
	assert_text(f->root, "usr/share/hl/a", "");
	assert_text(f->root, "usr/share/hl/b", "");
	assert_text(f->root, "usr/share/hl/c", "hi\n");
	dos_extract_result_release(&res);
	free(rpm);
}

static void test_same_content_no_conflict(void **state)
{
	struct th_dir *f = *state;
	const struct th_tent ents[] = {
		{ "./usr/share/common/file", AE_IFREG, 0644, "same", 0 },
		{ "./usr/share/common/", AE_IFDIR, 0755, NULL, 0 },
	};
	struct dos_ctx ctx;
	struct dos_extract_result res;
	struct dos_extract_pkg pkgs[] = {
		{ "a", deb_write(f->dir, "a", ents, 2, "gzip", NULL, 100) },
		{ "b", deb_write(f->dir, "b", ents, 2, "xz", NULL, 100) },
	};

	assert_int_equal(extract(&ctx, f->root, pkgs, 2, 2, &res), 0);
	assert_int_equal(res.n_conflicts, 0);
	assert_text(f->root, "usr/share/common/file", "same");
	assert_true(dos_strv_contains(&res.pkgs[1].paths, "usr/share/common/file"));
	dos_extract_result_release(&res);
	free((char *)pkgs[0].path);
	free((char *)pkgs[1].path);
}

/* The first package in the input wins a conflict, whichever thread writes
 * first: the first package carries a big file before the shared one, so
 * the second usually gets there first and must be overwritten. */
static void test_conflict_earlier_wins(void **state)
{
	struct th_dir *f = *state;
	size_t big_len = 6 << 20;
	char *big = malloc(big_len);

	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)(rand() & 0xff);
	const struct th_tent ents_a[] = {
		{ "./opt/big", AE_IFREG, 0644, big, big_len },
		{ "./etc/shared.conf", AE_IFREG, 0644, "from a", 0 },
		{ "./usr/bin/tool", AE_IFLNK, 0777, "tool-a", 0 },
	};
	const struct th_tent ents_b[] = {
		{ "./etc/shared.conf", AE_IFREG, 0644, "from b", 0 },
		{ "./usr/bin/tool", AE_IFLNK, 0777, "tool-b", 0 },
		{ "./usr/share/b/shared-copy", 0, 0644, "./etc/shared.conf", 0 },
	};
	char *deb_a = deb_write(f->dir, "a", ents_a, 3, NULL, NULL, 100);
	char *deb_b = deb_write(f->dir, "b", ents_b, 3, "gzip", NULL, 100);

	for (int round = 0; round < 6; round++) {
		struct dos_ctx ctx;
		struct dos_extract_result res;
		char *root = dos_xasprintf("%s/root%d", f->dir, round);
		bool a_first = round % 2 == 0;
		struct dos_extract_pkg pkgs[2] = { { "a", deb_a }, { "b", deb_b } };
		char link[16] = "";
		char *lpath = dos_path_join(root, "usr/bin/tool");

		if (!a_first)
			pkgs[0] = (struct dos_extract_pkg){ "b", deb_b }, pkgs[1] = (struct dos_extract_pkg){ "a", deb_a };
		assert_int_equal(extract(&ctx, root, pkgs, 2, round < 4 ? 2 : 1, &res), 0);
		assert_text(root, "etc/shared.conf", a_first ? "from a" : "from b");
		assert_true(readlink(lpath, link, sizeof(link) - 1) > 0);
		assert_string_equal(link, a_first ? "tool-a" : "tool-b");
		/* b's hard link copies b's version, even when a's is on disk */
		assert_text(root, "usr/share/b/shared-copy", "from b");
		assert_int_equal(res.n_conflicts, 2);
		assert_string_equal(res.conflicts[0].path, "etc/shared.conf");
		assert_string_equal(res.conflicts[1].path, "usr/bin/tool");
		assert_string_equal(res.conflicts[0].first_pkg, a_first ? "a" : "b");
		assert_string_equal(res.conflicts[0].second_pkg, a_first ? "b" : "a");
		assert_false(th_exists_at(root, "etc/.dos-extract.0.0"));
		dos_extract_result_release(&res);
		free(lpath);
		free(root);
	}
	free(deb_a);
	free(deb_b);
	free(big);
}

/* Extracts one hostile entry list; expects a format error naming the
 * package and the needle. */
static void expect_refused(const char *dir, const struct th_tent *ents, size_t n, const char *needle)
{
	struct dos_ctx ctx;
	struct dos_extract_result res;
	char *root = dos_path_join(dir, "root/bundle");
	char *deb = deb_write(dir, "hostile", ents, n, "gzip", NULL, 100);
	struct dos_extract_pkg pkg = { "hostile", deb };

	assert_int_equal(extract(&ctx, root, &pkg, 1, 1, &res), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "package 'hostile'"));
	if (!strstr(ctx.msg, needle))
		fail_msg("'%s' not in '%s'", needle, ctx.msg);
	assert_null(res.pkgs);
	free(deb);
	free(root);
}

static void test_hostile_paths(void **state)
{
	struct th_dir *f = *state;
	char *outside = dos_path_join(f->dir, "outside");
	char *outside_file = dos_path_join(outside, "file");
	const struct th_tent dotdot[] = { { "./usr/../../evil", AE_IFREG, 0644, "x", 0 } };
	const struct th_tent dotdot2[] = { { "../evil", AE_IFREG, 0644, "x", 0 } };
	const struct th_tent absolute[] = { { "/etc/evil", AE_IFREG, 0644, "x", 0 } };
	const struct th_tent through[] = {
		{ "./dir", AE_IFLNK, 0777, outside, 0 },
		{ "./dir/file", AE_IFREG, 0644, "x", 0 },
	};
	const struct th_tent through_deep[] = {
		{ "./dir", AE_IFLNK, 0777, outside, 0 },
		{ "./dir/sub/file", AE_IFREG, 0644, "x", 0 },
	};
	const struct th_tent twice[] = {
		{ "./a", AE_IFREG, 0644, "1", 0 },
		{ "./a", AE_IFREG, 0644, "2", 0 },
	};
	const struct th_tent file_then_dir[] = {
		{ "./a", AE_IFREG, 0644, "1", 0 },
		{ "./a/b", AE_IFREG, 0644, "2", 0 },
	};

	assert_int_equal(mkdir(outside, 0755), 0);
	expect_refused(f->dir, dotdot, 1, "entry './usr/../../evil': a '..' component is refused");
	expect_refused(f->dir, dotdot2, 1, "'..'");
	assert_false(th_exists_at(f->dir, "evil"));
	assert_false(th_exists_at(f->dir, "root/evil"));
	expect_refused(f->dir, absolute, 1, "entry '/etc/evil': an absolute path is refused");
	expect_refused(f->dir, through, 2, "entry 'dir/file': 'dir' is a symlink");
	expect_refused(f->dir, through_deep, 2, "'dir' is a symlink");
	assert_false(th_exists_at(outside, "file"));
	assert_false(th_exists_at(outside, "sub"));
	expect_refused(f->dir, twice, 2, "entry 'a': appears twice");
	expect_refused(f->dir, file_then_dir, 2, "entry 'a/b'");
	free(outside);
	free(outside_file);
}

/* A hostile long hard-link target is cut in messages: the cause stays. */
static void test_long_hardlink_target(void **state)
{
	struct th_dir *f = *state;
	char *abs = dos_xmalloc(3002), *rel = dos_xmalloc(3002);

	abs[0] = '/';
	for (int i = 0; i < 3000; i++) {
		abs[i + 1] = 'a';
		rel[i] = i % 2 ? '/' : 'd';
	}
	abs[3001] = '\0';
	rel[2999] = 'f';
	rel[3000] = '\0';
	const struct th_tent to_abs[] = { { "./x", 0, 0644, abs, 0 } };
	const struct th_tent to_missing[] = { { "./x", 0, 0644, rel, 0 } };

	expect_refused(f->dir, to_abs, 1, "...': an absolute path is refused");
	expect_refused(f->dir, to_missing, 1,
		       "...', which is not a file the package holds before it");
	free(abs);
	free(rel);
}

/* --- a rebuild over an earlier tree --- */

/* The tree of an earlier run is taken over: files keep their inodes (an
 * unchanged one its bytes too), links are kept or replaced, and nothing is
 * written through a hard link to a file elsewhere. */
static void test_over_earlier_tree(void **state)
{
	struct th_dir *f = *state;
	const struct th_tent v1[] = {
		{ "./usr/bin/tool", AE_IFREG, 0755, "version one, the longer text\n", 0 },
		{ "./etc/same.conf", AE_IFREG, 0644, "same\n", 0 },
		{ "./usr/lib/libx.so", AE_IFLNK, 0777, "libx.so.1", 0 },
		{ "./usr/lib/libx.so.1", AE_IFREG, 0644, "old lib\n", 0 },
		{ "./usr/lib/libk.so", AE_IFLNK, 0777, "libx.so.1", 0 },
		{ "./usr/share/old/gone.txt", AE_IFREG, 0644, "gone\n", 0 },
	};
	const struct th_tent v2[] = {
		{ "./usr/bin/tool", AE_IFREG, 0700, "v2\n", 0 },
		{ "./etc/same.conf", AE_IFREG, 0644, "same\n", 0 },
		{ "./usr/lib/libx.so", AE_IFLNK, 0777, "libx.so.2", 0 },
		{ "./usr/lib/libx.so.1", AE_IFREG, 0644, "new lib\n", 0 },
		{ "./usr/lib/libx.so.2", AE_IFREG, 0644, "lib two\n", 0 },
		{ "./usr/lib/libk.so", AE_IFLNK, 0777, "libx.so.1", 0 },
		{ "./usr/share/keep/", AE_IFDIR, 0755, NULL, 0 },
	};
	struct dos_ctx ctx;
	struct dos_extract_result res;
	char *deb1 = deb_write(f->dir, "v1", v1, 6, "gzip", NULL, 100);
	char *deb2 = deb_write(f->dir, "v2", v2, 7, "xz", NULL, 100);
	struct dos_extract_pkg pkg = { "v1", deb1 };
	char *outside = dos_path_join(f->dir, "outside.txt");
	char *lib1 = dos_path_join(f->root, "usr/lib/libx.so.1");
	char *libdir = dos_path_join(f->root, "usr/lib");
	ino_t tool, same, link_k;

	assert_int_equal(extract(&ctx, f->root, &pkg, 1, 1, &res), 0);
	dos_extract_result_release(&res);
	tool = th_lstat_at(f->root, "usr/bin/tool").st_ino;
	same = th_lstat_at(f->root, "etc/same.conf").st_ino;
	link_k = th_lstat_at(f->root, "usr/lib/libk.so").st_ino;
	write_file(f->dir, "outside.txt", "outside\n", 0644);
	assert_int_equal(unlink(lib1), 0);
	assert_int_equal(link(outside, lib1), 0);
	write_file(f->root, "stale.txt", "stale\n", 0644);
	assert_int_equal(chmod(libdir, 0700), 0);

	pkg = (struct dos_extract_pkg){ "v2", deb2 };
	assert_int_equal(extract(&ctx, f->root, &pkg, 1, 2, &res), 0);
	assert_text(f->root, "usr/bin/tool", "v2\n");
	assert_int_equal(th_lstat_at(f->root, "usr/bin/tool").st_ino, tool);
	assert_int_equal(th_lstat_at(f->root, "usr/bin/tool").st_mode & 07777, 0700);
	assert_text(f->root, "etc/same.conf", "same\n");
	assert_int_equal(th_lstat_at(f->root, "etc/same.conf").st_ino, same);
	assert_text(f->dir, "outside.txt", "outside\n");
	assert_text(f->root, "usr/lib/libx.so.1", "new lib\n");
	th_assert_link(f->root, "usr/lib/libx.so", "libx.so.2");
	assert_int_equal(th_lstat_at(f->root, "usr/lib/libk.so").st_ino, link_k);

	/* What the earlier run left and no package ships goes. */
	assert_true(th_exists_at(f->root, "stale.txt"));
	assert_int_equal(dos_assemble_prune(&ctx, f->root, &res), 0);
	assert_false(th_exists_at(f->root, "stale.txt"));
	assert_false(th_exists_at(f->root, "usr/share/old"));
	assert_true(th_exists_at(f->root, "usr/share/keep"));
	assert_true(th_exists_at(f->root, "usr/bin/tool"));
	assert_true(th_exists_at(f->root, "usr/lib/libx.so.2"));
	/* A folder no package lists is 0755, as in a new tree. */
	assert_int_equal(th_lstat_at(f->root, "usr/lib").st_mode & 07777, 0755);
	dos_extract_result_release(&res);

	/* A folder where a file now goes: the caller starts over. */
	pkg = (struct dos_extract_pkg){ "v1", deb1 };
	free(lib1);
	lib1 = dos_path_join(f->root, "etc/same.conf");
	assert_int_equal(unlink(lib1), 0);
	write_file(f->root, "etc/same.conf/inside", "", 0644);
	assert_true(extract(&ctx, f->root, &pkg, 1, 1, &res) < 0);
	assert_non_null(strstr(ctx.msg, "etc/same.conf"));
	free(libdir);
	free(lib1);
	free(outside);
	free(deb1);
	free(deb2);
}

static void test_devices_setuid(void **state)
{
	struct th_dir *f = *state;
	const struct th_tent ents[] = {
		{ "./dev/null2", AE_IFCHR, 0666, NULL, 0 },
		{ "./run/fifo", AE_IFIFO, 0644, NULL, 0 },
		{ "./usr/bin/su-ish", AE_IFREG, 04755, "setuid!", 0 },
		{ "./var/mail/", AE_IFDIR, 02775, NULL, 0 },
	};
	struct dos_ctx ctx;
	struct dos_extract_result res;
	char *deb = deb_write(f->dir, "special", ents, 4, "gzip", NULL, 100);
	struct dos_extract_pkg pkg = { "special", deb };

	assert_int_equal(extract(&ctx, f->root, &pkg, 1, 1, &res), 0);
	assert_false(th_exists_at(f->root, "dev/null2"));
	assert_false(th_exists_at(f->root, "run/fifo"));
	assert_int_equal(res.n_skipped, 2);
	assert_string_equal(res.skipped[0].path, "dev/null2");
	assert_true(S_ISCHR(res.skipped[0].mode));
	assert_true(S_ISFIFO(res.skipped[1].mode));
	assert_int_equal(th_lstat_at(f->root, "usr/bin/su-ish").st_mode & 07777, 0755);
	assert_int_equal(th_lstat_at(f->root, "var/mail").st_mode & 07777, 0775);
	assert_int_equal(res.n_setids, 2);
	assert_string_equal(res.setids[0].path, "usr/bin/su-ish");
	assert_string_equal(res.setids[0].package, "special");
	assert_int_equal(res.setids[0].mode & 07777, 04755);
	assert_int_equal(res.setids[1].mode & 07777, 02775);
	assert_false(dos_strv_contains(&res.pkgs[0].paths, "dev/null2"));
	dos_extract_result_release(&res);
	free(deb);
}

static void test_truncated(void **state)
{
	struct th_dir *f = *state;
	char content[40000];
	const struct th_tent ents[] = {
		{ "./usr/share/blob", AE_IFREG, 0644, content, sizeof(content) },
	};
	struct dos_ctx ctx;
	struct dos_extract_result res;
	struct dos_extract_pkg pkg = { "cut", NULL };
	char *deb;

	for (size_t i = 0; i < sizeof(content); i++)
		content[i] = (char)('a' + i % 26);
	deb = deb_write(f->dir, "cut", ents, 1, NULL, NULL, 50);
	pkg.path = deb;
	assert_true(extract(&ctx, f->root, &pkg, 1, 1, &res) < 0);
	assert_non_null(strstr(ctx.msg, "package 'cut'"));
	assert_non_null(strstr(ctx.msg, "entry 'usr/share/blob': truncated"));
	free(deb);

	/* A compressed stream cut short. */
	deb = deb_write(f->dir, "cutgz", ents, 1, "xz", NULL, 60);
	pkg = (struct dos_extract_pkg){ "cutgz", deb };
	assert_true(extract(&ctx, f->root, &pkg, 1, 1, &res) < 0);
	assert_non_null(strstr(ctx.msg, "package 'cutgz'"));
	free(deb);

	/* The .deb file itself cut short. */
	deb = deb_write(f->dir, "cutdeb", ents, 1, NULL, NULL, 100);
	assert_int_equal(truncate(deb, 20000), 0);
	pkg = (struct dos_extract_pkg){ "cutdeb", deb };
	assert_true(extract(&ctx, f->root, &pkg, 1, 1, &res) < 0);
	assert_non_null(strstr(ctx.msg, "package 'cutdeb'"));
	free(deb);
}

/* --- alternatives and licenses --- */

static void test_parse_alternatives(void **state)
{
	static const char script[] =
		"#!/bin/sh\n"
		"if [ \"$1\" = configure ]; then update-alternatives --quiet --install /usr/bin/x x "
		"/usr/bin/x1 20 || true; fi\n"
		"for f in a b; do update-alternatives --install /usr/bin/$f $f /usr/bin/$f.1 10; done\n"
		"# update-alternatives --install /usr/bin/c c /usr/bin/c1 10\n"
		"update-alternatives --remove x /usr/bin/x0\n"
		"/usr/bin/update-alternatives --install '/usr/bin/y' y \"/usr/bin/y 2\" 30 \\\n"
		"    --slave /usr/bin/yy yy /usr/bin/yy2 \\\n"
		"    --slave relative zz /usr/bin/zz2\n"
		"update-alternatives --install /usr/bin/z z /usr/bin/z1 notanumber\n";
	struct dos_alternative *alts = NULL;
	size_t n = 0;

	dos_extract_parse_alternatives(script, "pkg", &alts, &n);
	assert_int_equal(n, 3);
	assert_string_equal(alts[0].link, "/usr/bin/x");
	assert_string_equal(alts[0].path, "/usr/bin/x1");
	assert_int_equal(alts[0].priority, 20);
	assert_string_equal(alts[1].name, "y");
	assert_string_equal(alts[1].path, "/usr/bin/y 2");
	assert_string_equal(alts[2].link, "/usr/bin/yy");
	assert_string_equal(alts[2].master, "y");
	assert_int_equal(alts[2].priority, 30);
	for (size_t i = 0; i < n; i++) {
		free(alts[i].link);
		free(alts[i].name);
		free(alts[i].path);
		free(alts[i].package);
		free(alts[i].master);
	}
	free(alts);
}

static void test_apply_alternatives(void **state)
{
	struct th_dir *f = *state;
	struct dos_alternative alts[] = {
		{ "/usr/bin/editor", "editor", "/usr/bin/ed-a", 50, "a", NULL },
		{ "/usr/share/man/man1/editor.1", "editor.1", "/usr/share/man/man1/ed-a.1", 50, "a", "editor" },
		{ "/usr/bin/editor", "editor", "/usr/lib/b/bin/ed-b", 70, "b", NULL },
		{ "/usr/bin/pager", "pager", "/usr/bin/less", 10, "a", NULL },
		{ "/usr/bin/pager", "pager", "/usr/bin/more", 10, "b", NULL },
		{ "/usr/bin/../../etc/evil", "evil", "/usr/bin/x", 10, "b", NULL },
		{ "/usr/bin/file", "file", "/usr/bin/x", 10, "b", NULL },
	};
	struct dos_extract_result res = { .alternatives = alts, .n_alternatives = 7 };
	struct dos_ctx ctx;
	char link[64];
	char *path;

	dos_ctx_init(&ctx);
	ctx.log_level = DOS_LOG_ERROR;
	write_file(f->dir, "usr/bin/file", "a real file", 0755);
	path = dos_path_join(f->dir, "usr/bin/pager");
	assert_int_equal(symlink("stale", path), 0);
	assert_int_equal(dos_extract_apply_alternatives(&ctx, f->dir, &res), 2);
	free(path);
	path = dos_path_join(f->dir, "usr/bin/editor");
	memset(link, 0, sizeof(link));
	assert_true(readlink(path, link, sizeof(link) - 1) > 0);
	assert_string_equal(link, "../lib/b/bin/ed-b");
	free(path);
	path = dos_path_join(f->dir, "usr/bin/pager");
	memset(link, 0, sizeof(link));
	assert_true(readlink(path, link, sizeof(link) - 1) > 0);
	assert_string_equal(link, "less");
	free(path);
	assert_false(th_exists_at(f->dir, "usr/share/man/man1/editor.1"));   /* a's slave lost with a */
	assert_false(th_exists_at(f->dir, "etc"));
	assert_text(f->dir, "usr/bin/file", "a real file");
}

static void test_parse_license(void **state)
{
	char *lic = dos_extract_parse_license(copyright_dep5);

	assert_string_equal(lic, "Apache-2.0");
	free(lic);
	lic = dos_extract_parse_license("Format: http://www.debian.org/doc/packaging-manuals/"
					"copyright-format/1.0\nLicense: MIT\n\nFiles: src/*\nLicense: BSD\n");
	assert_string_equal(lic, "MIT");   /* no "Files: *": the header's */
	free(lic);
	lic = dos_extract_parse_license("Format: https://www.debian.org/doc/packaging-manuals/"
					"copyright-format/1.0/\n\nFiles: * debian/*\r\nLicense: GPL-3+ \r\n");
	assert_string_equal(lic, "GPL-3+");
	free(lic);
	assert_null(dos_extract_parse_license("This is free software.\n\nFiles: *\nLicense: GPL\n"));
	assert_null(dos_extract_parse_license(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dpkg_deb_compressions, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_not_a_deb, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_handmade_filters, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_hardlink_becomes_copy, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_rpm_empty_hardlinks, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_same_content_no_conflict, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_conflict_earlier_wins, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_paths, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_long_hardlink_target, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_over_earlier_tree, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_devices_setuid, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, th_dir_teardown),
		cmocka_unit_test(test_parse_alternatives),
		cmocka_unit_test_setup_teardown(test_apply_alternatives, setup, th_dir_teardown),
		cmocka_unit_test(test_parse_license),
	};
	return cmocka_run_group_tests_name("extract", tests, NULL, NULL);
}
