/* Unit tests of the .deb writer: real trees with gcc-built ELF files,
 * checked with dpkg-deb and with the repository's own reader; Depends
 * computed from a fake dpkg database in a temp root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "build.h"
#include "repo.h"
#include "run.h"
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
	struct dos_ctx ctx;
	char *dir;
	char *tree, *root, *deb;
};

static int setup(void **state)
{
	struct fixture *f = dos_xcalloc(1, sizeof(*f));

	th_ctx_quiet(&f->ctx);
	f->dir = th_tmpdir("build");
	f->tree = dos_path_join(f->dir, "tree");
	f->root = dos_path_join(f->dir, "root");
	f->deb = dos_path_join(f->dir, "out.deb");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	th_tmpdir_remove(f->dir);
	free(f->tree);
	free(f->root);
	free(f->deb);
	free(f);
	return 0;
}

static char *capture(struct fixture *f, const char *cmd)
{
	char *out = NULL;
	struct th_sh o = { .cwd = f->dir, .out = &out, .errexit = true };

	assert_int_equal(th_sh(&o, "%s", cmd), 0);
	return out;
}

/* tree/usr/bin/tool needs libfoo.so.1 (not in the tree), libown.so.1 (in
 * the tree) and libc. */
static void make_elf_tree(struct fixture *f)
{
	th_sh_ok(f->dir, "mkdir -p tree/usr/bin tree/usr/lib/x86_64-linux-gnu lib\n"
		 "echo 'int foo(void) { return 1; }' > foo.c\n"
		 "echo 'int own(void) { return 2; }' > own.c\n"
		 "echo 'int foo(void); int own(void); int main(void) { return foo() + own() - 3; }' > tool.c\n"
		 "gcc -shared -fPIC -Wl,-soname,libfoo.so.1 -o lib/libfoo.so.1 foo.c\n"
		 "gcc -shared -fPIC -Wl,-soname,libown.so.1 -o tree/usr/lib/x86_64-linux-gnu/libown.so.1.0 own.c\n"
		 "ln -s libown.so.1.0 tree/usr/lib/x86_64-linux-gnu/libown.so.1\n"
		 "gcc -o tree/usr/bin/tool tool.c lib/libfoo.so.1 tree/usr/lib/x86_64-linux-gnu/libown.so.1\n");
}

/* A build root whose dpkg database knows libfoo1, libc6 and a decoy that
 * ships files of the same names outside the amd64 library folders. */
static void make_dpkg_root(struct fixture *f)
{
	static const char *const files[][2] = {
		{ "libfoo1:amd64.list", "/.\n/usr\n/usr/lib\n/usr/lib/x86_64-linux-gnu\n"
					"/usr/lib/x86_64-linux-gnu/libfoo.so.1\n" },
		{ "libc6:amd64.list", "/lib/x86_64-linux-gnu/libc.so.6\n/lib64/ld-linux-x86-64.so.2\n" },
		{ "aaa-decoy.list", "/usr/share/aaa/libfoo.so.1\n/usr/lib/x86_64-linux-gnu/sub/libc.so.6\n"
				    "/usr/lib32/libc.so.6\n/usr/lib/i386-linux-gnu/libfoo.so.1\n" },
		{ "libfoo1:amd64.md5sums", "0 /usr/lib/x86_64-linux-gnu/libc.so.6\n" },
	};
	char *info = dos_path_join(f->root, "var/lib/dpkg/info");

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		th_write_at(info, files[i][0], files[i][1], 0644);
	free(info);
}

static void build_ok(struct fixture *f, const struct dos_deb_opts *o, struct dos_deb_result *res)
{
	if (dos_build_deb(&f->ctx, o, res) < 0)
		fail_msg("%s", f->ctx.msg);
}

static void test_deb_with_depends(void **state)
{
	struct fixture *f = *state;
	struct dos_strv declared = { 0 };
	struct dos_deb_result res;
	char *out, *control = NULL, *field, *longdir;

	make_elf_tree(f);
	make_dpkg_root(f);
	longdir = dos_path_join(f->tree, "usr/share/greet/a-rather-long-folder-name-for-a-tar-header/"
				"and-another-one-to-pass-one-hundred-bytes");
	th_write(longdir, "long\n", 0644);
	th_sh_ok(f->dir, "mkdir tree/usr/share/empty; ln -s ../bin/tool tree/usr/share/tool-link");
	dos_strv_push(&declared, "python3-x (>= 1)");
	dos_strv_push(&declared, "libc6");
	struct dos_deb_opts o = { .tree = f->tree, .package = "greet", .version = "1.0-1",
				  .arch = "amd64", .depends = &declared, .dpkg_root = f->root,
				  .mtime = 1700000000, .out_path = f->deb };
	build_ok(f, &o, &res);
	assert_string_equal(res.arch, "amd64");
	assert_int_equal(res.depends.n, 3);
	assert_string_equal(res.depends.v[0], "libc6");
	assert_string_equal(res.depends.v[1], "libfoo1");
	assert_string_equal(res.depends.v[2], "python3-x (>= 1)");
	assert_int_equal(res.missing.n, 0);

	out = capture(f, "dpkg-deb -f out.deb Package Version Architecture Depends");
	assert_string_equal(out, "Package: greet\nVersion: 1.0-1\nArchitecture: amd64\n"
				 "Depends: libc6, libfoo1, python3-x (>= 1)\n");
	free(out);
	out = capture(f, "dpkg-deb -c out.deb");
	assert_non_null(strstr(out, "root/root         0 2023-11-14 22:13 ./usr/share/empty/"));
	assert_non_null(strstr(out, "./usr/bin/tool\n"));
	assert_non_null(strstr(out, "./usr/share/tool-link -> ../bin/tool"));
	assert_non_null(strstr(out, "a-rather-long-folder-name-for-a-tar-header/and-another-one"));
	assert_non_null(strstr(out, "./usr/lib/x86_64-linux-gnu/libown.so.1 -> libown.so.1.0"));
	free(out);
	/* dpkg-deb extracts it whole, and the program runs from it. */
	th_sh_ok(f->dir, "dpkg-deb -x out.deb x && cmp x/usr/bin/tool tree/usr/bin/tool && "
		 "LD_LIBRARY_PATH=lib:x/usr/lib/x86_64-linux-gnu x/usr/bin/tool");
	assert_int_equal(dos_repo_deb_control(&f->ctx, f->deb, &control), 0);
	field = dos_repo_control_field(control, "Depends");
	assert_string_equal(field, "libc6, libfoo1, python3-x (>= 1)");
	free(field);
	field = dos_repo_control_field(control, "Installed-Size");
	assert_non_null(field);
	assert_true(atoi(field) >= 8);
	free(field);
	free(control);
	dos_deb_result_release(&res);
	dos_strv_release(&declared);
	free(longdir);
}

/* The same tree gives the same bytes, whatever its files' times. */
static void test_deb_reproducible(void **state)
{
	struct fixture *f = *state;
	struct dos_deb_result res;
	char a[DOS_SHA256_HEX], b[DOS_SHA256_HEX];

	make_elf_tree(f);
	struct dos_deb_opts o = { .tree = f->tree, .package = "greet", .version = "2",
				  .arch = "amd64", .mtime = 1700000000, .out_path = f->deb };
	build_ok(f, &o, &res);
	dos_deb_result_release(&res);
	assert_int_equal(dos_sha256_file(&f->ctx, f->deb, a), 0);
	th_sh_ok(f->dir, "touch -d @1000 tree/usr/bin/tool tree/usr; touch tree/usr/lib");
	build_ok(f, &o, &res);
	/* No dpkg root: nothing provides libfoo.so.1 or libc.so.6. */
	assert_int_equal(res.missing.n, 2);
	assert_string_equal(res.missing.v[0], "usr/bin/tool: libfoo.so.1");
	dos_deb_result_release(&res);
	assert_int_equal(dos_sha256_file(&f->ctx, f->deb, b), 0);
	assert_string_equal(a, b);
}

static void test_deb_arch_all(void **state)
{
	struct fixture *f = *state;
	struct dos_deb_result res;
	char *path = dos_path_join(f->tree, "usr/share/data/x.txt");
	char *out;

	th_write(path, "data\n", 0644);
	struct dos_deb_opts o = { .tree = f->tree, .package = "data-only", .version = "1",
				  .arch = "amd64", .mtime = 0, .out_path = f->deb };
	build_ok(f, &o, &res);
	assert_string_equal(res.arch, "all");
	assert_int_equal(res.depends.n, 0);
	dos_deb_result_release(&res);
	out = capture(f, "dpkg-deb -I out.deb");
	assert_non_null(strstr(out, " Architecture: all\n"));
	assert_null(strstr(out, "Depends"));
	free(out);
	free(path);
}

static void test_deb_refuses_fifo(void **state)
{
	struct fixture *f = *state;
	struct dos_deb_result res;
	char *fifo = dos_path_join(f->tree, "pipe");

	assert_int_equal(dos_mkdir_p(&f->ctx, f->tree, 0755), 0);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	struct dos_deb_opts o = { .tree = f->tree, .package = "bad", .version = "1",
				  .arch = "amd64", .out_path = f->deb };
	assert_int_equal(dos_build_deb(&f->ctx, &o, &res), DOS_EFORMAT);
	assert_non_null(strstr(f->ctx.msg, "package 'bad': "));
	assert_non_null(strstr(f->ctx.msg, "pipe' is not a file, folder or symlink"));
	assert_int_equal(access(f->deb, F_OK), -1);
	free(fifo);
}

static void test_names_versions(void **state)
{
	(void)state;
	assert_true(dos_build_name_valid("libgreet"));
	assert_true(dos_build_name_valid("g++-12"));
	assert_false(dos_build_name_valid("Greet"));
	assert_false(dos_build_name_valid("a"));
	assert_false(dos_build_name_valid("lib_greet"));
	assert_true(dos_build_version_valid("1.0"));
	assert_true(dos_build_version_valid("2:3.11.4-1~bpo1+b2"));
	assert_false(dos_build_version_valid("v1.0"));
	assert_false(dos_build_version_valid(":1"));
	assert_false(dos_build_version_valid("1.0 beta"));
}

/* The time limit of a step, in seconds: what does not fit an int is the
 * longest one, never the low bits (4294967297 was 1 second). */
static int timeout_for(const char *options)
{
	json_t *o = json_loads(options, 0, NULL);
	struct dos_package p = { .options = o };
	int t;

	assert_non_null(o);
	t = dos_build_timeout(&p);
	json_decref(o);
	return t;
}

static void test_timeout_option(void **state)
{
	(void)state;
	assert_int_equal(timeout_for("{}"), DOS_BUILD_TIMEOUT_S);
	assert_int_equal(timeout_for("{\"timeout\": 60}"), 60);
	assert_int_equal(timeout_for("{\"timeout\": \"90\"}"), 90);
	assert_int_equal(timeout_for("{\"buildOptions\": [\"timeout=99\"]}"), 99);
	assert_int_equal(timeout_for("{\"timeout\": 4294967297}"), INT_MAX);
	assert_int_equal(timeout_for("{\"timeout\": \"4294967297\"}"), INT_MAX);
	assert_int_equal(timeout_for("{\"buildOptions\": [\"timeout=4294967297\"]}"), INT_MAX);
	assert_int_equal(timeout_for("{\"timeout\": 0}"), DOS_BUILD_TIMEOUT_S);
	assert_int_equal(timeout_for("{\"timeout\": \"-5\"}"), DOS_BUILD_TIMEOUT_S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deb_with_depends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deb_reproducible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deb_arch_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deb_refuses_fifo, setup, teardown),
		cmocka_unit_test(test_names_versions),
		cmocka_unit_test(test_timeout_option),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
