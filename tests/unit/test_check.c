/* Unit tests of the audit: a small bundle made by hand (a gcc-built
 * program and library with an $ORIGIN RPATH, a diracosrc, a diracos.json),
 * checked clean, then with one fault planted at a time, as a folder and as
 * a tarball packed with GNU tar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "check.h"
#include "run.h"
#include "siphash.h"
#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The group's folder: src/ (sources), proto/top (the clean bundle), and a
 * fresh copy per test in b/top; the build path is <tmp>/work. */
static char *tmp;

static const char *const prog_c =
	"#include <pthread.h>\n#include <stdio.h>\n"
	"const char *foo_text(void);\n"
	"static void *run(void *a) { puts(foo_text()); return a; }\n"
	"int main(void) { pthread_t t; pthread_create(&t, 0, run, 0); "
	"pthread_join(t, 0); return 0; }\n";

static const char *diracos_json(const char *platforms, const char *broken, const char *missing)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{\"bundle\": {\"name\": \"top\", \"workDir\": \"%s/work\", \"tests\": {"
		 "\"platforms\": [%s], \"knownBrokenLinks\": [%s], "
		 "\"knownMissingDependencies\": [%s]}}, \"packages\": []}\n",
		 tmp, platforms, broken, missing);
	return buf;
}

/* libc's fstat, interposed: a file named "swapped" looks like a fifo (one
 * put there between the walk and the read), with a stale errno. */
int fstat(int fd, struct stat *st)
{
	int (*real)(int, struct stat *);
	char link[64], path[4096];
	ssize_t n;
	int r;

	*(void **)&real = dlsym(RTLD_NEXT, "fstat");
	r = real(fd, st);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (r == 0 && n > 8 && !memcmp(path + n - 8, "/swapped", 8)) {
		st->st_mode = S_IFIFO | 0644;
		errno = ENOENT;
	}
	return r;
}

static int group_setup(void **state)
{
	(void)state;
	tmp = th_tmpdir("check");
	assert_int_equal(th_sh_at(tmp, "mkdir -p src proto/top/usr/bin proto/top/usr/lib "
			    "proto/top/usr/share/data"), 0);
	th_write_at(tmp, "src/prog.c", prog_c, 0644);
	th_write_at(tmp, "src/foo.c", "const char *foo_text(void) { return \"foo\"; }\n", 0644);
	/* Relative names: the objects' STT_FILE symbols must not hold tmp. */
	assert_int_equal(th_sh_at(tmp, "cd src && gcc -shared -fPIC -Wl,-soname,libfoo.so.1 -o "
			    "../proto/top/usr/lib/libfoo.so.1.0 foo.c && "
			    "ln -s libfoo.so.1.0 ../proto/top/usr/lib/libfoo.so.1 && "
			    "gcc -o ../proto/top/usr/bin/prog prog.c -pthread "
			    "-L../proto/top/usr/lib -l:libfoo.so.1 "
			    "-Wl,-rpath,'$ORIGIN/../lib' -Wl,--disable-new-dtags"), 0);
	th_write_at(tmp, "proto/top/diracosrc", "DIRACOS=$(pwd)\nexport DIRACOS\n", 0644);
	th_write_at(tmp, "proto/top/diracos.json", diracos_json("\"bookworm\", \"nowhere-os\"", "", ""),
		   0644);
	th_write_at(tmp, "proto/top/usr/bin/run.sh", "#!/bin/sh\necho run\n", 0755);
	th_write_at(tmp, "proto/top/usr/bin/env.sh", "#!/usr/bin/env python3\nprint(1)\n", 0755);
	th_write_at(tmp, "proto/top/usr/share/data/notes.txt", "notes\n", 0644);
	assert_int_equal(th_sh_at(tmp, "ln -s ../lib/libfoo.so.1 proto/top/usr/bin/foo-link && "
			    "ln -s prog proto/top/usr/bin/prog-link"), 0);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	th_tmpdir_remove(tmp);
	return 0;
}

/* A fresh copy of the clean bundle in b/top. */
static int test_setup(void **state)
{
	(void)state;
	return th_sh_at(tmp, "rm -rf b t.tgz t.tar && mkdir b && cp -a proto/top b/top") ? -1 : 0;
}

static char *bundle_path(const char *rel)
{
	return dos_path_join(tmp, rel);
}

/* Runs the check on b/top (or the tarball rel) and returns the report. */
static void check(const char *rel, const struct dos_check_opts *extra,
		  struct dos_check_report *rep)
{
	struct dos_ctx ctx;
	char *path = bundle_path(rel ? rel : "b/top");
	struct dos_check_opts o = { 0 };
	int r;

	if (extra)
		o = *extra;
	o.bundle = path;
	dos_ctx_init(&ctx);
	r = dos_check_run(&ctx, &o, rep);
	if (r < 0)
		fail_msg("check '%s' failed: %s", path, ctx.msg);
	free(path);
}

static int check_error(const char *rel, char *msg, size_t n)
{
	struct dos_ctx ctx;
	struct dos_check_report rep;
	char *path = bundle_path(rel);
	struct dos_check_opts o = { .bundle = path };
	int r;

	dos_ctx_init(&ctx);
	r = dos_check_run(&ctx, &o, &rep);
	snprintf(msg, n, "%s", ctx.msg);
	dos_check_report_release(&rep);
	free(path);
	return r;
}

static void assert_item(const struct dos_check_list *l, const char *path, const char *detail)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].path, path) && (!detail || strstr(l->v[i].detail, detail)))
			return;
	fail_msg("no finding '%s' (%s) among %zu", path, detail ? detail : "-", l->n);
}

static void assert_strv_has(const struct dos_strv *sv, const char *s)
{
	if (!dos_strv_contains(sv, s))
		fail_msg("'%s' is not listed (%zu entries)", s, sv->n);
}

static void test_clean(void **state)
{
	struct dos_check_report rep;

	(void)state;
	check(NULL, NULL, &rep);
	for (size_t i = 0; i < rep.warnings.n; i++)
		fprintf(stderr, "# warning: %s\n", rep.warnings.v[i]);
	assert_int_equal(dos_check_failures(&rep), 0);
	assert_string_equal(rep.name, "top");
	assert_false(rep.tarball);
	assert_int_equal(rep.warnings.n, 0);
	assert_int_equal(rep.elf_files, 2);
	assert_int_equal(rep.symlinks, 3);
	assert_int_equal(rep.files, 7);
	assert_int_equal(rep.leak_strings.n, 2);
	assert_non_null(strstr(rep.leak_strings.v[0], "/work/bundle/top"));
	/* bookworm is known and new enough; nowhere-os is unknown, no failure */
	assert_int_equal(rep.n_platforms, 2);
	assert_true(rep.platforms[0].ok);
	assert_null(rep.platforms[1].glibc);
	assert_true(rep.n_largest >= 2);
	assert_string_equal(rep.largest[0].path, "usr");
	dos_check_report_release(&rep);
}

static void plant_links(void)
{
	assert_int_equal(th_sh_at(tmp, "cd b/top/usr/bin && ln -s /usr/bin/prog abs && "
			    "ln -s ../../../../etc/passwd out && ln -s nowhere broken && "
			    "ln -s loop1 loop2 && ln -s loop2 loop1"), 0);
}

static void test_links(void **state)
{
	struct dos_check_report rep;

	(void)state;
	plant_links();
	check(NULL, NULL, &rep);
	assert_item(&rep.absolute_links, "usr/bin/abs", "/usr/bin/prog");
	assert_item(&rep.outside_links, "usr/bin/out", "../../../../etc/passwd");
	assert_item(&rep.broken_links, "usr/bin/broken", "nowhere");
	assert_item(&rep.broken_links, "usr/bin/loop1", NULL);
	assert_int_equal(rep.absolute_links.n, 1);
	assert_int_equal(rep.outside_links.n, 1);
	assert_int_equal(rep.broken_links.n, 3);
	assert_int_equal(dos_check_failures(&rep), 5);
	dos_check_report_release(&rep);
}

static void test_known_broken(void **state)
{
	struct dos_check_report rep;

	(void)state;
	assert_int_equal(th_sh_at(tmp, "cd b/top/usr/bin && ln -s nowhere broken"), 0);
	th_write_at(tmp, "b/top/brokenLinks.txt", "usr/lib/removed.so\n", 0644);
	check(NULL, NULL, &rep);
	assert_item(&rep.broken_links, "usr/bin/broken", "nowhere");
	assert_item(&rep.broken_links, "usr/lib/removed.so", "removed");
	dos_check_report_release(&rep);

	th_write_at(tmp, "b/top/diracos.json", diracos_json("", "\"./usr/bin/broken\", "
		   "\"usr/lib/removed.so\", \"usr/bin/fine-now\"", ""), 0644);
	check(NULL, NULL, &rep);
	assert_int_equal(rep.broken_links.n, 0);
	assert_item(&rep.known_broken_links, "usr/bin/broken", "nowhere");
	assert_item(&rep.known_broken_links, "usr/lib/removed.so", NULL);
	assert_int_equal(rep.stale_broken_links.n, 1);
	assert_strv_has(&rep.stale_broken_links, "usr/bin/fine-now");
	assert_int_equal(dos_check_failures(&rep), 0);
	dos_check_report_release(&rep);
}

static void test_hard_link(void **state)
{
	struct dos_check_report rep;

	(void)state;
	assert_int_equal(th_sh_at(tmp, "ln b/top/usr/bin/run.sh b/top/usr/bin/run2.sh"), 0);
	check(NULL, NULL, &rep);
	assert_item(&rep.hard_links, "usr/bin/run.sh", "2 links");
	assert_item(&rep.hard_links, "usr/bin/run2.sh", "2 links");
	assert_int_equal(dos_check_failures(&rep), 2);
	dos_check_report_release(&rep);
}

static void test_missing_library(void **state)
{
	struct dos_check_report rep;
	struct dos_tests tests = { 0 };
	struct dos_check_opts o = { .tests = &tests };

	(void)state;
	assert_int_equal(th_sh_at(tmp, "rm b/top/usr/lib/libfoo.so.1.0 b/top/usr/lib/libfoo.so.1 "
			    "b/top/usr/bin/foo-link"), 0);
	check(NULL, NULL, &rep);
	assert_item(&rep.missing_libraries, "usr/bin/prog", "libfoo.so.1");
	assert_int_equal(dos_check_failures(&rep), 1);
	dos_check_report_release(&rep);

	/* Listed by name, or as path:name: no failure. */
	dos_strv_push(&tests.known_missing_dependencies, "libfoo.so.1");
	check(NULL, &o, &rep);
	assert_int_equal(dos_check_failures(&rep), 0);
	assert_item(&rep.known_missing_libraries, "usr/bin/prog", "libfoo.so.1");
	assert_int_equal(rep.stale_missing_libraries.n, 0);
	dos_check_report_release(&rep);
	dos_strv_release(&tests.known_missing_dependencies);
	dos_strv_push(&tests.known_missing_dependencies, "usr/bin/prog:libfoo.so.1");
	dos_strv_push(&tests.known_missing_dependencies, "usr/bin/other:libfoo.so.1");
	check(NULL, &o, &rep);
	assert_int_equal(dos_check_failures(&rep), 0);
	assert_strv_has(&rep.stale_missing_libraries, "usr/bin/other:libfoo.so.1");
	dos_check_report_release(&rep);
	dos_strv_release(&tests.known_missing_dependencies);
}

static void test_stale_missing(void **state)
{
	struct dos_check_report rep;
	struct dos_tests tests = { 0 };
	struct dos_check_opts o = { .tests = &tests };

	(void)state;
	dos_strv_push(&tests.known_missing_dependencies, "libfoo.so.1");
	check(NULL, &o, &rep);
	assert_strv_has(&rep.stale_missing_libraries, "libfoo.so.1");
	assert_int_equal(dos_check_failures(&rep), 0);
	/* no diracos.json read, no build path given: no leak search */
	assert_int_equal(rep.leak_strings.n, 0);
	dos_check_report_release(&rep);
	o.strict = true;
	check(NULL, &o, &rep);
	assert_int_equal(dos_check_failures(&rep), 1);
	dos_check_report_release(&rep);
	dos_strv_release(&tests.known_missing_dependencies);
}

/* ld.so looks in $ORIGIN folders only: an absolute RPATH is the host's, a
 * library of another class does not count. */
static void test_search_paths(void **state)
{
	struct dos_check_report rep;

	(void)state;
	assert_int_equal(th_sh_at(tmp, "cd src && gcc -o ../b/top/usr/bin/abs-rpath prog.c -pthread "
			    "-L../b/top/usr/lib -l:libfoo.so.1 -Wl,-rpath,/usr/lib && "
			    "gcc -o ../b/top/usr/bin/runpath prog.c -pthread -L../b/top/usr/lib "
			    "-l:libfoo.so.1 -Wl,-rpath,'${ORIGIN}/../lib' -Wl,--enable-new-dtags && "
			    "mkdir ../b/top/usr/lib32 && cp ../b/top/usr/bin/run.sh "
			    "../b/top/usr/lib32/libfoo.so.1 && "
			    "gcc -o ../b/top/usr/bin/wrong prog.c -pthread -L../b/top/usr/lib "
			    "-l:libfoo.so.1 -Wl,-rpath,'$ORIGIN/../lib32' -Wl,--disable-new-dtags"), 0);
	check(NULL, NULL, &rep);
	assert_item(&rep.missing_libraries, "usr/bin/abs-rpath", "libfoo.so.1");
	assert_item(&rep.missing_libraries, "usr/bin/wrong", "libfoo.so.1");
	assert_int_equal(rep.missing_libraries.n, 2);
	dos_check_report_release(&rep);
}

static void test_bad_elf(void **state)
{
	struct dos_check_report rep;

	(void)state;
	assert_int_equal(th_sh_at(tmp, "head -c 3000 b/top/usr/lib/libfoo.so.1.0 >b/top/usr/lib/libbad.so && "
			    "printf '\\177ELF' >b/top/usr/lib/tiny.so"), 0);
	check(NULL, NULL, &rep);
	assert_int_equal(dos_check_failures(&rep), 0);
	assert_int_equal(rep.elf_files, 4);
	assert_int_equal(rep.warnings.n, 2);
	assert_non_null(strstr(rep.warnings.v[0], "usr/lib/libbad.so"));
	assert_non_null(strstr(rep.warnings.v[1], "usr/lib/tiny.so"));
	dos_check_report_release(&rep);
}

static void test_leaks(void **state)
{
	struct dos_check_report rep;
	char *text = dos_xasprintf("prefix=%s/work/bundle/top/usr\n", tmp);
	char *work = dos_xasprintf("built in %s/work/build/x\n", tmp);

	(void)state;
	th_write_at(tmp, "b/top/usr/share/data/foo.pc", text, 0644);
	th_write_at(tmp, "b/top/usr/share/data/build.txt", work, 0644);
	th_write_at(tmp, "b/top/usr/bin/perl-script", "#!/usr/bin/perl\nprint 1;\n", 0755);
	th_write_at(tmp, "b/top/usr/bin/not-run", "#!/usr/bin/perl\nprint 1;\n", 0644);
	check(NULL, NULL, &rep);
	assert_item(&rep.leaks, "usr/share/data/foo.pc", "/work/bundle/top");
	assert_item(&rep.leaks, "usr/share/data/build.txt", "/work");
	assert_item(&rep.shebangs, "usr/bin/perl-script", "/usr/bin/perl");
	assert_int_equal(rep.leaks.n, 2);
	assert_int_equal(rep.shebangs.n, 1);
	dos_check_report_release(&rep);

	/* A bundle that ships perl may name it (in /usr/bin or merged /bin). */
	assert_int_equal(th_sh_at(tmp, "mkdir b/top/bin && cp b/top/usr/bin/prog b/top/bin/perl"), 0);
	check(NULL, NULL, &rep);
	assert_int_equal(rep.shebangs.n, 0);
	dos_check_report_release(&rep);
	free(text);
	free(work);
}

static void test_permissions(void **state)
{
	struct dos_check_report rep;

	(void)state;
	assert_int_equal(th_sh_at(tmp, "cd b/top/usr/bin && cp run.sh su && chmod 4755 su && "
			    "cp run.sh sg && chmod 2755 sg && chmod 0666 ../share/data/notes.txt && "
			    "mkfifo fifo"), 0);
	check(NULL, NULL, &rep);
	assert_item(&rep.setuid, "usr/bin/su", "setuid");
	assert_item(&rep.setuid, "usr/bin/sg", "setgid");
	assert_item(&rep.world_writable, "usr/share/data/notes.txt", "0666");
	assert_item(&rep.special_files, "usr/bin/fifo", "fifo");
	assert_int_equal(dos_check_failures(&rep), 4);
	dos_check_report_release(&rep);
}

static void test_glibc_floor(void **state)
{
	struct dos_check_report rep;
	struct dos_tests tests = { 0 };
	struct dos_check_opts o = { .tests = &tests };

	(void)state;
	dos_strv_push(&tests.platforms, "bookworm");
	dos_strv_push(&tests.platforms, "bullseye");
	dos_strv_push(&tests.platforms, "el7");
	dos_strv_push(&tests.platforms, "plan9");
	check(NULL, &o, &rep);
	/* pthread_create moved into libc.so.6 as GLIBC_2.34 */
	assert_non_null(rep.glibc_floor);
	assert_true(strcmp(rep.glibc_floor, "2.34") >= 0 && strlen(rep.glibc_floor) == 4);
	assert_non_null(rep.glibc_floor_file);
	assert_int_equal(rep.n_platforms, 4);
	assert_true(rep.platforms[0].ok);
	assert_false(rep.platforms[1].ok);
	assert_string_equal(rep.platforms[1].glibc, "2.31");
	assert_false(rep.platforms[2].ok);
	assert_null(rep.platforms[3].glibc);
	assert_item(&rep.too_old_platforms, "bullseye", "2.31");
	assert_item(&rep.too_old_platforms, "el7", "2.17");
	assert_int_equal(dos_check_failures(&rep), 2);
	dos_check_report_release(&rep);
	dos_strv_release(&tests.platforms);
}

static void test_platform_names(void **state)
{
	(void)state;
	assert_string_equal(dos_check_platform_glibc("bookworm"), "2.36");
	assert_string_equal(dos_check_platform_glibc("trixie"), "2.41");
	assert_string_equal(dos_check_platform_glibc("buster"), "2.28");
	assert_string_equal(dos_check_platform_glibc("el9"), "2.34");
	assert_string_equal(dos_check_platform_glibc("EL-8"), "2.28");
	assert_string_equal(dos_check_platform_glibc("almalinux:9"), "2.34");
	assert_string_equal(dos_check_platform_glibc("debian:bookworm"), "2.36");
	assert_string_equal(dos_check_platform_glibc("centos7"), "2.17");
	assert_null(dos_check_platform_glibc("el"));
	assert_null(dos_check_platform_glibc(""));
	assert_null(dos_check_platform_glibc("bookworm-backports-and-more-and-more-and-more-x"));
	assert_true(dos_check_is_glibc("libc.so.6"));
	assert_true(dos_check_is_glibc("ld-linux-x86-64.so.2"));
	assert_true(dos_check_is_glibc("libnss_files.so.2"));
	assert_false(dos_check_is_glibc("libcrypt.so.1"));
	assert_false(dos_check_is_glibc("libnss_systemd.so.2"));
}

static void plant_faults(void)
{
	char *text = dos_xasprintf("prefix=%s/work/bundle/top/usr\n", tmp);

	assert_int_equal(th_sh_at(tmp, "cd b/top && ln -s /usr/bin/prog usr/bin/abs && "
			    "ln usr/bin/run.sh usr/bin/run2.sh && rm usr/lib/libfoo.so.1* "
			    "usr/bin/foo-link && cp usr/bin/run.sh usr/bin/su && chmod 4755 usr/bin/su"),
			 0);
	th_write_at(tmp, "b/top/usr/share/data/foo.pc", text, 0644);
	/* "bin" sorts before "diracos.json": the tarball holds it first. */
	assert_int_equal(th_sh_at(tmp, "mkdir -p b/top/bin && cp b/top/usr/share/data/foo.pc b/top/bin/early.pc"),
			 0);
	free(text);
}

static void assert_faults(const struct dos_check_report *rep)
{
	assert_item(&rep->absolute_links, "usr/bin/abs", "/usr/bin/prog");
	assert_item(&rep->missing_libraries, "usr/bin/prog", "libfoo.so.1");
	assert_item(&rep->leaks, "usr/share/data/foo.pc", "/work/bundle/top");
	assert_item(&rep->leaks, "bin/early.pc", "/work/bundle/top");
	assert_item(&rep->setuid, "usr/bin/su", "setuid");
	assert_int_equal(rep->hard_links.n, rep->tarball ? 1 : 2);
	assert_int_equal(dos_check_failures(rep), rep->tarball ? 6 : 7);
}

static void test_tarball(void **state)
{
	struct dos_check_report rep;

	(void)state;
	check(NULL, NULL, &rep);
	assert_int_equal(dos_check_failures(&rep), 0);
	dos_check_report_release(&rep);
	assert_int_equal(th_sh_at(tmp, "tar --sort=name -C b -czf t.tgz top"), 0);
	check("t.tgz", NULL, &rep);
	assert_true(rep.tarball);
	assert_int_equal(dos_check_failures(&rep), 0);
	assert_int_equal(rep.elf_files, 2);
	assert_int_equal(rep.files, 7);
	assert_int_equal(rep.platforms[0].ok, true);
	dos_check_report_release(&rep);

	plant_faults();
	check(NULL, NULL, &rep);
	assert_faults(&rep);
	dos_check_report_release(&rep);
	assert_int_equal(th_sh_at(tmp, "rm -f t.tgz && tar --sort=name -C b -czf t.tgz top"), 0);
	check("t.tgz", NULL, &rep);
	assert_true(rep.tarball);
	/* GNU tar stores the second name as a hard link entry */
	assert_item(&rep.hard_links, "usr/bin/run2.sh", "to usr/bin/run.sh");
	assert_faults(&rep);
	dos_check_report_release(&rep);
}

/* A file too large to keep in memory, before diracos.json in the stream:
 * read again once the build path is known. */
static void test_tarball_rescan(void **state)
{
	struct dos_check_report rep;

	(void)state;
	assert_int_equal(th_sh_at(tmp, "mkdir b/top/bin && head -c 70000000 /dev/zero >b/top/bin/big && "
			    "printf '%%s/work/bundle/top' '%s' >>b/top/bin/big && "
			    "tar --sort=name -C b -czf t.tgz top", tmp), 0);
	check("t.tgz", NULL, &rep);
	assert_item(&rep.leaks, "bin/big", "/work/bundle/top");
	dos_check_report_release(&rep);
}

/* A build path split across two blocks of the stream: an uncompressed
 * tarball is read 128 KiB at a time, and big.bin's data starts right after
 * the headers of top/, top/diracos.json and its data. */
static void test_tarball_junction(void **state)
{
	struct dos_check_report rep;
	struct stat st;
	char *json = bundle_path("b/top/diracos.json");
	long start, at;

	(void)state;
	assert_int_equal(stat(json, &st), 0);
	start = 512 * (3 + (st.st_size + 511) / 512);
	at = 131072 - start - 7;
	assert_int_equal(th_sh_at(tmp, "head -c %ld /dev/zero >big.bin && printf '%%s/work/bundle/top' '%s' "
			    ">>big.bin && head -c 200000 /dev/zero >>big.bin && mv big.bin b/top/ && "
			    "tar -C b --no-recursion -cf t.tar top top/diracos.json top/big.bin && "
			    "tar -C b --exclude=top/big.bin --exclude=top/diracos.json -rf t.tar top",
			    at, tmp), 0);
	check("t.tar", NULL, &rep);
	assert_item(&rep.leaks, "big.bin", "/work/bundle/top");
	assert_int_equal(dos_check_failures(&rep), 1);
	dos_check_report_release(&rep);
	free(json);
}

static void test_errors(void **state)
{
	char msg[DOS_ERRMSG_MAX];

	(void)state;
	assert_int_equal(check_error("nothing-here", msg, sizeof(msg)), DOS_EUSAGE);
	assert_int_equal(check_error("b/top/usr", msg, sizeof(msg)), DOS_EUSAGE);
	assert_non_null(strstr(msg, "no diracosrc"));
	assert_int_equal(check_error("b/top/diracos.json", msg, sizeof(msg)), DOS_EFORMAT);
	assert_non_null(strstr(msg, "b/top/diracos.json"));
	assert_int_equal(th_sh_at(tmp, "mkdir -p b/other && echo x >b/other/y && "
			    "tar -C b -czf t.tgz top other"), 0);
	assert_int_equal(check_error("t.tgz", msg, sizeof(msg)), DOS_EFORMAT);
	assert_non_null(strstr(msg, "not under the top folder"));
	assert_int_equal(th_sh_at(tmp, "tar -C b/top -czf t.tgz usr"), 0);
	assert_int_equal(check_error("t.tgz", msg, sizeof(msg)), DOS_EFORMAT);
	assert_non_null(strstr(msg, "no diracosrc"));
	assert_int_equal(th_sh_at(tmp, "tar -P -C b -czf t.tgz top --transform 's,^top/usr,../usr,'"), 0);
	assert_int_equal(check_error("t.tgz", msg, sizeof(msg)), DOS_EFORMAT);
	assert_non_null(strstr(msg, "outside"));
	/* A file that is no longer a regular one when read is named so. */
	th_write_at(tmp, "b/top/usr/share/data/swapped", "x\n", 0644);
	assert_int_equal(check_error("b/top", msg, sizeof(msg)), DOS_EIO);
	assert_string_equal(msg, "file 'usr/share/data/swapped': cannot read: not a regular file");
}

/* --- Python bytecode --- */

/* _imp.source_hash() of the host's python3.11, for the magic numbers of
 * 3.11, 3.12 and 3.13 (the same SipHash-1-3, other keys), over the first
 * n bytes of (i * 7 + 3) & 0xff: every tail length, and a long run. */
static void test_pyc_source_hash(void **state)
{
	static const struct { int minor; size_t n; const char *hex; } want[] = {
		{ 11, 0, "738d9cd5d5e87f73" }, { 11, 1, "de76287e1a4c40ea" },
		{ 11, 7, "7cbf013cc5b2be77" }, { 11, 8, "73bd8981959bc935" },
		{ 11, 9, "a62edf575b6bbc13" }, { 11, 15, "75db1ae16946243b" },
		{ 11, 16, "ae89dc8710032abf" }, { 11, 17, "448fd3c85a13e13e" },
		{ 11, 1000, "5649d06bcf371050" },
		{ 12, 0, "baf18eedc9387a25" }, { 12, 9, "b6ae2e36040da2f8" },
		{ 12, 1000, "8284689a1186eef8" },
		{ 13, 0, "27ec6d312f93b814" }, { 13, 8, "e370c59fa72537bf" },
		{ 13, 17, "7dccdcd61604b60d" }, { 13, 1000, "c5ea39f551e39c5b" },
	};
	uint8_t data[1000], key[16], msg[15];
	struct dos_siphash s;
	char hex[17];

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)((i * 7 + 3) & 0xff);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t h = dos_check_pyc_source_hash(want[i].minor, data, want[i].n);
		for (int k = 0; k < 8; k++)
			snprintf(hex + 2 * k, 3, "%02x", (unsigned)(h >> (8 * k)) & 0xff);
		assert_string_equal(hex, want[i].hex);
	}
	/* Fed in pieces of every size: the same hash. */
	for (size_t step = 1; step < 20; step++) {
		dos_siphash_init(&s, 3495 | ('\r' << 16) | ((uint64_t)'\n' << 24), 0, 1, 3);
		for (size_t off = 0; off < sizeof(data); off += step)
			dos_siphash_feed(&s, data + off, off + step > sizeof(data) ?
					 sizeof(data) - off : step);
		assert_true(dos_siphash_final(&s) == dos_check_pyc_source_hash(11, data, 1000));
	}
	/* SipHash-2-4 (3.8 to 3.10): the paper's test vector. */
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	dos_siphash_init(&s, 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL, 2, 4);
	dos_siphash_feed(&s, msg, sizeof(msg));
	assert_true(dos_siphash_final(&s) == 0xa129ca6149be45e5ULL);
	(void)key;
	assert_true(dos_check_pyc_source_hash(99, data, 10) == 0);
}

/* The host's python3 minor version (the .pyc files are its own). */
static int host_minor;

static void minor_get(void)
{
	FILE *f;

	if (host_minor)
		return;
	f = popen("python3 -c 'import sys; print(sys.version_info[1])'", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &host_minor), 1);
	pclose(f);
}

/* b/top with a usr/bin/python3.X (a script: check does not run it), a
 * python3 link to it, sources in usr/lib/python3.X and dist-packages,
 * compiled as the bundle step does. known: tests.knownNoBytecode's items. */
static void python_plant(const char *known)
{
	char json[4096];

	minor_get();
	assert_int_equal(th_sh_at(tmp, "cd b/top && L=usr/lib/python3.%d && D=usr/lib/python3/dist-packages && "
			    "mkdir -p $L/pkg $D usr/lib/python3.9 && "
			    "printf '#!/bin/sh\\n' >usr/bin/python3.%d && chmod 755 usr/bin/python3.%d && "
			    "ln -s python3.%d usr/bin/python3 && cp usr/bin/python3 usr/bin/python3.9 && "
			    "echo 'x = 1' >$L/mod.py && : >$L/pkg/__init__.py && mkdir $L/importlib && "
			    "echo 'z = 1' >$L/pkg/a.b.py && "
			    "cp /usr/lib/python3.%d/importlib/_bootstrap_external.py $L/importlib/ && "
			    "echo 'import json' >$D/dp.py && echo 'y = 2' >usr/lib/python3.9/old.py && "
			    "python3 -m compileall -q --invalidation-mode unchecked-hash -s \"$PWD\" "
			    "-p / $L $D", host_minor, host_minor, host_minor, host_minor, host_minor), 0);
	snprintf(json, sizeof(json), "{\"bundle\": {\"name\": \"top\", \"workDir\": \"%s/work\", "
		 "\"tests\": {\"knownNoBytecode\": [%s]}}, \"packages\": []}\n", tmp, known);
	th_write_at(tmp, "b/top/diracos.json", json, 0644);
}

static void check_both(const struct dos_check_opts *o, void (*verify)(struct dos_check_report *))
{
	struct dos_check_report rep;

	check(NULL, o, &rep);
	verify(&rep);
	dos_check_report_release(&rep);
	assert_int_equal(th_sh_at(tmp, "rm -f t.tgz && tar --sort=name -C b -czf t.tgz top"), 0);
	check("t.tgz", o, &rep);
	verify(&rep);
	dos_check_report_release(&rep);
}

static void verify_clean(struct dos_check_report *rep)
{
	for (size_t i = 0; i < rep->no_bytecode.n; i++)
		fprintf(stderr, "# %s: %s\n", rep->no_bytecode.v[i].path, rep->no_bytecode.v[i].detail);
	assert_int_equal(dos_check_failures(rep), 0);
	assert_int_equal(rep->pythons.n, 1);
	/* python3.9: not the highest, not checked (its old.py neither) */
	assert_int_equal(rep->warnings.n, 1);
	assert_non_null(strstr(rep->warnings.v[0], "usr/bin/python3.9: not the bundle's Python"));
	/* mod.py, pkg/__init__.py (empty), pkg/a.b.py, importlib's (its magic number
	 * the table's), dp.py; not python3.9's old.py */
	assert_int_equal(rep->py_sources, 5);
	assert_int_equal(rep->bytecode_ok, 5);
}

static void test_python_clean(void **state)
{
	(void)state;
	python_plant("");
	check_both(NULL, verify_clean);
}

static char *lib_path(const char *fmt)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), fmt, host_minor);
	return buf;
}

static void verify_faults(struct dos_check_report *rep)
{
	const struct dos_check_list *nb = &rep->no_bytecode;

	assert_item(nb, lib_path("usr/lib/python3.%d/mod.py"), "stale, the source hash differs");
	assert_item(nb, lib_path("usr/lib/python3.%d/pkg/__init__.py"),
		    "no __pycache__/__init__.cpython-3");
	assert_item(nb, "usr/lib/python3/dist-packages/dp.py", "timestamp-based");
	assert_item(nb, "usr/lib/python3/dist-packages/new.py", "magic number 3000");
	assert_item(nb, "usr/lib/python3/dist-packages/short.py", "truncated");
	assert_item(nb, "usr/lib/python3/dist-packages/flags.py", "invalid flags");
	assert_int_equal(nb->n, 6);
	char gone[256];

	snprintf(gone, sizeof(gone), "usr/lib/python3.%d/__pycache__/gone.cpython-3%d.pyc",
		 host_minor, host_minor);
	assert_item(&rep->orphan_bytecode, gone, "no gone.py");
	assert_item(&rep->orphan_bytecode, "usr/lib/python3/dist-packages/__pycache__/"
		    "gone2.cpython-313.opt-1.pyc", "no gone2.py");
	assert_int_equal(rep->orphan_bytecode.n, 2);
	assert_item(&rep->known_no_bytecode, lib_path("usr/lib/python3.%d/bad.py"), NULL);
	assert_item(&rep->known_no_bytecode, "usr/lib/python3/dist-packages/t/data/a.py", NULL);
	assert_int_equal(rep->stale_no_bytecode.n, 1);
	assert_string_equal(rep->stale_no_bytecode.v[0], "usr/lib/nothing.py");
	assert_int_equal(dos_check_failures(rep), 9);
}

static void test_python_faults(void **state)
{
	struct dos_check_opts strict = { .strict = true };
	struct dos_check_report rep;
	char known[512];

	(void)state;
	minor_get();
	snprintf(known, sizeof(known), "\"/usr/lib/python3.%d/bad.py\", "
		 "\"./usr/lib/python3/dist-packages/t/\", \"usr/lib/nothing.py\"", host_minor);
	python_plant(known);
	assert_int_equal(th_sh_at(tmp, "cd b/top && L=usr/lib/python3.%d && D=usr/lib/python3/dist-packages && "
			    "echo 'x = 3' >$L/mod.py && rm $L/pkg/__pycache__/__init__.*.pyc && "
			    "echo 'def' >$L/bad.py && mkdir -p $D/t/data && "
			    "echo 'print 1' >$D/t/data/a.py && "
			    "echo 'g = 1' >$L/gone.py && env -u SOURCE_DATE_EPOCH python3 -m py_compile "
			    "$L/gone.py $D/dp.py && rm $L/gone.py && "
			    ": >$D/__pycache__/gone2.cpython-313.opt-1.pyc && echo 'n = 1' >$D/new.py && "
			    "printf '\\270\\013\\r\\n\\001\\000\\000\\000\\0\\0\\0\\0\\0\\0\\0\\0' "
			    ">$D/__pycache__/new.cpython-3%d.pyc && echo 's = 1' >$D/short.py && "
			    "printf 'abc' >$D/__pycache__/short.cpython-3%d.pyc && "
			    "echo 'f = 1' >$D/flags.py && python3 -m compileall -q "
			    "--invalidation-mode unchecked-hash $D/flags.py && "
			    "printf '\\004' | dd of=$D/__pycache__/flags.cpython-3%d.pyc bs=1 seek=4 "
			    "conv=notrunc 2>/dev/null",
			    host_minor, host_minor, host_minor, host_minor), 0);
	/* not strict: the stale entry is no failure */
	check(NULL, NULL, &rep);
	assert_int_equal(dos_check_failures(&rep), 8);
	assert_int_equal(rep.stale_no_bytecode.n, 1);
	dos_check_report_release(&rep);
	check_both(&strict, verify_faults);
}

/* The bundle's importlib states another magic number than the table's:
 * a warning, nothing checked. */
static void verify_other_magic(struct dos_check_report *rep)
{
	assert_int_equal(rep->pythons.n, 0);
	assert_int_equal(dos_check_failures(rep), 0);
	assert_int_equal(rep->warnings.n, 2);
	assert_non_null(strstr(rep->warnings.v[1], "magic number 3400, not the"));
}

static void test_python_magic(void **state)
{
	(void)state;
	python_plant("");
	assert_int_equal(th_sh_at(tmp, "cd b/top/usr/lib/python3.%d && rm -r __pycache__ && "
			    "printf 'x = 1\\nMAGIC_NUMBER = (3400).to_bytes(2, \\047little\\047)\\n' "
			    ">importlib/_bootstrap_external.py", host_minor), 0);
	check_both(NULL, verify_other_magic);
}

/* Without a python3.X in usr/bin, sources need no bytecode. */
static void verify_no_python(struct dos_check_report *rep)
{
	assert_int_equal(rep->pythons.n, 0);
	assert_int_equal(rep->py_sources, 0);
	assert_int_equal(dos_check_failures(rep), 0);
}

static void test_python_none(void **state)
{
	(void)state;
	python_plant("");
	assert_int_equal(th_sh_at(tmp, "cd b/top && rm usr/bin/python3 usr/bin/python3.9 usr/bin/python3.%d && "
			    "find usr/lib -name __pycache__ -exec rm -r {} +", host_minor), 0);
	check_both(NULL, verify_no_python);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_clean, test_setup),
		cmocka_unit_test_setup(test_links, test_setup),
		cmocka_unit_test_setup(test_known_broken, test_setup),
		cmocka_unit_test_setup(test_hard_link, test_setup),
		cmocka_unit_test_setup(test_missing_library, test_setup),
		cmocka_unit_test_setup(test_stale_missing, test_setup),
		cmocka_unit_test_setup(test_search_paths, test_setup),
		cmocka_unit_test_setup(test_bad_elf, test_setup),
		cmocka_unit_test_setup(test_leaks, test_setup),
		cmocka_unit_test_setup(test_permissions, test_setup),
		cmocka_unit_test_setup(test_glibc_floor, test_setup),
		cmocka_unit_test(test_platform_names),
		cmocka_unit_test_setup(test_tarball, test_setup),
		cmocka_unit_test_setup(test_tarball_rescan, test_setup),
		cmocka_unit_test_setup(test_tarball_junction, test_setup),
		cmocka_unit_test_setup(test_errors, test_setup),
		cmocka_unit_test(test_pyc_source_hash),
		cmocka_unit_test_setup(test_python_clean, test_setup),
		cmocka_unit_test_setup(test_python_faults, test_setup),
		cmocka_unit_test_setup(test_python_magic, test_setup),
		cmocka_unit_test_setup(test_python_none, test_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
