/* Unit tests of the finalize pass: a fake bundle with links of every kind,
 * hard links, setuid files, bytecode, scripts and real ELF files built
 * with gcc, relocated, then moved elsewhere and run from there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "elffile.h"
#include "relocate.h"
#include "run.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void assert_output_has(const char *dir, const char *libpath, const char *cmd,
			      const char *want)
{
	char *out = NULL;

	assert_int_equal(th_sh_in(dir, libpath, &out, "%s", cmd), 0);
	if (!strstr(out, want))
		fail_msg("'%s' printed '%s', expected '%s' in it", cmd, out, want);
	free(out);
}

static void assert_rpath(const char *root, const char *rel, const char *want)
{
	struct dos_ctx ctx;
	struct dos_elf_info info;
	char *p = dos_path_join(root, rel);

	dos_ctx_init(&ctx);
	assert_int_equal(dos_elf_read(&ctx, p, &info), 0);
	if (!info.rpath || strcmp(info.rpath, want))
		fail_msg("'%s' has DT_RPATH '%s', expected '%s'", rel, info.rpath, want);
	assert_null(info.runpath);
	dos_elf_info_release(&info);
	free(p);
}

static void test_relpath(void **state)
{
	static const char *const cases[][3] = {
		{ "usr/bin", "usr/lib", "../lib" },
		{ "usr/bin", "usr/bin", "." },
		{ "usr/lib", "usr/lib/x86_64-linux-gnu", "x86_64-linux-gnu" },
		{ "usr/libx", "usr/lib", "../lib" },
		{ "", "usr/lib", "usr/lib" },
		{ "usr/bin", "", "../.." },
		{ "usr/lib/python3/dist-packages/foo", "usr/lib/x86_64-linux-gnu",
		  "../../../x86_64-linux-gnu" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = dos_relocate_relpath(cases[i][0], cases[i][1]);
		assert_string_equal(r, cases[i][2]);
		free(r);
	}
}

static const char foo_c[] = "const char *foo(void) { return \"real foo\"; }\n";
static const char evil_c[] = "const char *foo(void) { return \"HIJACKED\"; }\n";
static const char bar_c[] = "const char *foo(void);\nconst char *bar(void) { return foo(); }\n";
static const char prog_c[] =
	"#include <stdio.h>\nconst char *foo(void);\nconst char *bar(void);\n"
	"int main(void) { printf(\"%s %s\\n\", foo(), bar()); return 0; }\n";

/* Libraries and programs, as a distribution would lay them out. */
static void bundle_add_elf(const char *src, const char *root)
{
	th_write_at(src, "foo.c", foo_c, 0644);
	th_write_at(src, "evil.c", evil_c, 0644);
	th_write_at(src, "bar.c", bar_c, 0644);
	th_write_at(src, "prog.c", prog_c, 0644);
	assert_int_equal(th_sh_in(src, NULL, NULL,
		"L=%s/usr/lib/x86_64-linux-gnu && mkdir -p $L %s/usr/bin %s/usr/lib/plugins evil "
		"%s/opt/other && "
		"gcc -shared -fPIC -Wl,-soname,libfoo.so.1 -o $L/libfoo.so.1.0 foo.c && "
		"ln -s libfoo.so.1.0 $L/libfoo.so.1 && ln -s /usr/lib/x86_64-linux-gnu/libfoo.so.1 "
		"$L/libfoo.so && cp $L/libfoo.so.1.0 %s/opt/other/libfoo.so.1 && "
		"gcc -shared -fPIC -Wl,-soname,libbar.so.1 -o $L/libbar.so.1 bar.c -L$L -l:libfoo.so.1 && "
		"gcc -shared -fPIC -o %s/usr/lib/plugins/plug.so bar.c -L$L -l:libbar.so.1 -l:libfoo.so.1 && "
		"gcc -o %s/usr/bin/prog prog.c -L$L -l:libbar.so.1 -l:libfoo.so.1 && "
		"gcc -shared -fPIC -Wl,-soname,libfoo.so.1 -o evil/libfoo.so.1 evil.c",
		root, root, root, root, root, root, root), 0);
}

/* Links of every kind, a hard link pair, a setuid file, doc and bytecode. */
static void bundle_add_files(const char *root, const char *outside)
{
	assert_int_equal(th_sh_in(root, NULL, NULL,
		"mkdir -p usr/share/doc/pkg usr/lib/python3/dist-packages/m/__pycache__ etc && "
		"echo data > usr/share/data.txt && echo doc > usr/share/doc/pkg/README && "
		"ln -s /usr/share/data.txt usr/share/abs && "
		"ln -s /usr/share/abs usr/share/chain && "
		"ln -s ../../../../../../usr/share/data.txt usr/share/climb && "
		"ln -s data.txt usr/share/good && "
		"ln -s /nonexistent/diracos/file usr/share/dangling && "
		"ln -s loop2 usr/share/loop1 && ln -s loop1 usr/share/loop2 && "
		"ln -s /etc/passwd etc/hostpasswd && ln -s /etc/shadow etc/hostshadow && "
		"ln -s /proc/cpuinfo etc/cpuinfo && "
		"ln -s ../../../../../../../etc/passwd etc/climbpasswd && "
		"ln -s / usr/share/toroot && "
		"echo hard > usr/share/hard1 && ln usr/share/hard1 usr/share/hard2 && "
		"cp /bin/true usr/bin/suid && chmod 4755 usr/bin/suid && "
		"echo x > usr/lib/python3/dist-packages/m/__init__.py && "
		"echo x > usr/lib/python3/dist-packages/m/__pycache__/m.cpython-311.pyc && "
		"echo x > usr/lib/python3/dist-packages/m/old.pyc && "
		"echo x > usr/lib/python3/dist-packages/m/old.pyo && "
		"mkdir %s/victim && echo keep > %s/victim/file && ln -s %s/victim ext",
		outside, outside, outside), 0);
}

static struct dos_relocate_report relocate(const char *root, const char *build_prefix, int rc)
{
	struct dos_strv removed = { 0 };
	struct dos_relocate_report rep;
	struct dos_ctx ctx;
	struct dos_relocate_opts o = {
		.root = root, .removed_folders = &removed, .build_prefix = build_prefix, .threads = 3,
	};

	dos_ctx_init(&ctx);
	ctx.log_level = DOS_LOG_ERROR;
	dos_strv_push(&removed, "usr/share/doc");
	dos_strv_push(&removed, "usr/share/man");
	dos_strv_push(&removed, "ext/victim");
	dos_strv_push(&removed, "../outside");
	assert_int_equal(dos_relocate_tree(&ctx, &o, &rep), rc);
	dos_strv_release(&removed);
	return rep;
}

static void check_links(const char *root, const struct dos_relocate_report *rep)
{
	th_assert_link(root, "usr/share/abs", "data.txt");
	th_assert_link(root, "usr/share/chain", "data.txt");
	th_assert_link(root, "usr/share/climb", "data.txt");
	th_assert_link(root, "usr/share/good", "data.txt");
	th_assert_link(root, "usr/share/toroot", "../..");
	th_assert_link(root, "usr/lib/x86_64-linux-gnu/libfoo.so", "libfoo.so.1.0");
	assert_true(dos_strv_contains(&rep->relinked, "usr/share/abs"));
	assert_true(dos_strv_contains(&rep->relinked, "usr/share/climb"));
	assert_false(dos_strv_contains(&rep->relinked, "usr/share/good"));
	assert_false(th_exists_at(root, "usr/share/dangling"));
	assert_false(th_exists_at(root, "usr/share/loop1"));
	assert_false(th_exists_at(root, "ext"));
	assert_true(dos_strv_contains(&rep->broken_links, "usr/share/dangling"));
	assert_true(dos_strv_contains(&rep->broken_links, "usr/share/loop2"));
	assert_true(dos_strv_contains(&rep->broken_links, "ext"));
	assert_true(dos_strv_contains(&rep->broken_links, "etc/hostshadow"));
	assert_true(dos_strv_contains(&rep->broken_links, "etc/cpuinfo"));
	assert_true(S_ISREG(th_lstat_at(root, "etc/hostpasswd").st_mode));
	assert_true(S_ISREG(th_lstat_at(root, "etc/climbpasswd").st_mode));
	assert_true(dos_strv_contains(&rep->copied_links, "etc/hostpasswd"));
	assert_true(dos_strv_contains(&rep->copied_links, "etc/climbpasswd"));
}

static void check_files(const char *root, const char *outside,
			const struct dos_relocate_report *rep)
{
	char *victim = dos_path_join(outside, "victim/file");

	assert_int_equal(access(victim, F_OK), 0); /* never removed through a link */
	free(victim);
	assert_false(th_exists_at(root, "usr/share/doc"));
	assert_true(dos_strv_contains(&rep->removed, "usr/share/doc"));
	assert_int_equal(rep->removed.n, 1);
	assert_false(th_exists_at(root, "usr/lib/python3/dist-packages/m/__pycache__"));
	assert_false(th_exists_at(root, "usr/lib/python3/dist-packages/m/old.pyc"));
	assert_false(th_exists_at(root, "usr/lib/python3/dist-packages/m/old.pyo"));
	assert_true(th_exists_at(root, "usr/lib/python3/dist-packages/m/__init__.py"));
	assert_int_equal(rep->bytecode_removed, 3);
	assert_int_equal(th_lstat_at(root, "usr/share/hard1").st_nlink, 1);
	assert_int_equal(th_lstat_at(root, "usr/share/hard2").st_nlink, 1);
	assert_int_equal(th_lstat_at(root, "usr/share/hard2").st_size, 5);
	assert_int_equal(rep->hardlinks_split.n, 1);
	assert_int_equal(th_lstat_at(root, "usr/bin/suid").st_mode & 07777, 0755);
	assert_true(dos_strv_contains(&rep->setuid_cleared, "usr/bin/suid"));
}

static void check_elf(const char *root, const struct dos_relocate_report *rep)
{
	assert_rpath(root, "usr/bin/prog", "$ORIGIN/../lib/x86_64-linux-gnu");
	assert_rpath(root, "usr/lib/x86_64-linux-gnu/libbar.so.1", "$ORIGIN");
	assert_rpath(root, "usr/lib/plugins/plug.so", "$ORIGIN/../x86_64-linux-gnu");
	assert_int_equal(rep->rpaths_set, 3);
	if (rep->elf_files < 6)
		fail_msg("%lu ELF files", (unsigned long)rep->elf_files);
	assert_int_equal(rep->rpath_failed.n, 0);
}

static void test_relocate_tree(void **state)
{
	char *src = th_tmpdir("relocate"), *outside = th_tmpdir("relocate"), *root = dos_path_join(src, "root");
	char *moved = dos_path_join(outside, "moved");
	char *prog = dos_path_join(moved, "usr/bin/prog"), *evil = dos_path_join(src, "evil");
	struct dos_relocate_report rep;

	assert_int_equal(mkdir(root, 0755), 0);
	bundle_add_elf(src, root);
	bundle_add_files(root, outside);
	rep = relocate(root, NULL, 0);
	check_links(root, &rep);
	check_files(root, outside, &rep);
	check_elf(root, &rep);
	dos_relocate_report_release(&rep);

	/* Moved elsewhere, the program finds its libraries, not the host's. */
	assert_int_equal(rename(root, moved), 0);
	assert_output_has(src, evil, prog, "real foo real foo");
	assert_output_has(moved, NULL, "cat usr/share/climb usr/share/chain", "data\ndata");

	/* A second pass changes nothing. */
	rep = relocate(moved, NULL, 0);
	assert_int_equal(rep.rpaths_set, 0);
	assert_int_equal(rep.relinked.n + rep.copied_links.n + rep.broken_links.n, 0);
	assert_int_equal(rep.scripts_fixed.n + rep.hardlinks_split.n + rep.setuid_cleared.n, 0);
	dos_relocate_report_release(&rep);
	free(prog);
	free(evil);
	free(moved);
	free(root);
	th_tmpdir_remove(src);
	th_tmpdir_remove(outside);
}

/* Shipped interpreters: python (when the host has one to copy), perl and
 * bash; scripts named through links, in other folders, with arguments. */
static bool bundle_add_interpreters(const char *root, bool *have_python)
{
	*have_python = access("/usr/bin/python3", X_OK) == 0;
	if (!*have_python)
		fprintf(stderr, "# no /usr/bin/python3 on this host: python scripts not run\n");
	assert_int_equal(th_sh_in(root, NULL, NULL, "mkdir -p usr/bin bin usr/lib/tool usr/local/bin && "
			       "cp -L /usr/bin/perl usr/bin/perl && cp -L /bin/bash bin/bash && "
			       "{ [ ! -x /usr/bin/python3 ] || cp -L /usr/bin/python3 usr/bin/python3; }"), 0);
	th_write_at(root, "usr/bin/py", "#!/usr/bin/python3 -E\nimport sys\n"
		   "print('py', sys.executable, sys.argv[1:], sys.flags.ignore_environment)\n", 0755);
	th_write_at(root, "usr/lib/tool/run.py", "#!/usr/bin/python3\n# comment\nprint('deep ok')\n",
		   0755);
	th_write_at(root, "usr/bin/future", "#!/usr/bin/python3\n# c\n\"\"\"Doc.\"\"\"\n"
		   "from __future__ import annotations\nprint(1)\n", 0755);
	th_write_at(root, "usr/bin/bp", "#!/build/prefix/usr/bin/python3\nprint('bp ok')\n", 0755);
	th_write_at(root, "usr/bin/pl", "#!/usr/bin/perl -w\nprint \"perl $^X @ARGV\\n\";\n", 0755);
	th_write_at(root, "usr/bin/b.sh", "#!/bin/bash\necho \"bash $BASH $*\"\n", 0755);
	th_write_at(root, "usr/bin/envpy", "#!/usr/bin/env python3\nprint(1)\n", 0755);
	th_write_at(root, "usr/bin/tcl", "#!/usr/bin/tclsh\nputs 1\n", 0755);
	th_write_at(root, "usr/bin/notexec", "#!/usr/bin/python3\nprint(1)\n", 0644);
	char *link = dos_path_join(root, "usr/local/bin/py-link");
	assert_int_equal(symlink("../../bin/py", link), 0);
	free(link);
	return true;
}

static void assert_starts(const char *root, const char *rel, const char *want)
{
	char *p = dos_path_join(root, rel), *data = NULL;
	struct dos_ctx ctx;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_read_file(&ctx, p, 1 << 20, &data, NULL), 0);
	if (strncmp(data, want, strlen(want)))
		fail_msg("'%s' starts with '%.40s', expected '%s'", rel, data, want);
	free(data);
	free(p);
}

static void test_relocate_scripts(void **state)
{
	char *src = th_tmpdir("relocate"), *root = dos_path_join(src, "root");
	char *moved = dos_path_join(src, "else where"), *want;
	struct dos_relocate_report rep;
	bool py;

	assert_int_equal(mkdir(root, 0755), 0);
	bundle_add_interpreters(root, &py);
	rep = relocate(root, "/build/prefix", 0);
	assert_int_equal(rep.scripts_fixed.n, py ? 5 : 2);
	dos_relocate_report_release(&rep);
	assert_starts(root, "usr/bin/envpy", "#!/usr/bin/env python3\n");
	assert_starts(root, "usr/bin/tcl", "#!/usr/bin/tclsh\n");
	assert_starts(root, "usr/bin/notexec", "#!/usr/bin/python3\n");
	assert_starts(root, "usr/bin/future", "#!/usr/bin/python3\n");
	assert_int_equal(rename(root, moved), 0);

	want = dos_xasprintf("perl %s/usr/bin/perl a b", moved);
	assert_output_has(moved, NULL, "usr/bin/pl a b", want);
	free(want);
	want = dos_xasprintf("bash %s/usr/bin/../../bin/bash 1 2", moved);
	assert_output_has(src, NULL, "'else where/usr/bin/b.sh' 1 2", want);
	free(want);
	if (py) {
		want = dos_xasprintf("py %s/usr/bin/python3 ['a', 'b c'] 1", moved);
		char *cmd = dos_xasprintf("'%s/usr/bin/py' a 'b c'", moved);
		assert_output_has("/", NULL, cmd, want);
		free(cmd);
		assert_output_has(moved, NULL, "usr/local/bin/py-link a 'b c'", want);
		free(want);
		assert_output_has(moved, NULL, "./usr/lib/tool/run.py", "deep ok");
		assert_output_has(moved, NULL, "usr/bin/bp", "bp ok");
	}
	free(moved);
	free(root);
	th_tmpdir_remove(src);
}

/* Many libraries in many folders, processed by several workers. */
static void test_relocate_threads(void **state)
{
	char *src = th_tmpdir("relocate"), *root = dos_path_join(src, "root");
	struct dos_relocate_report rep;
	char rel[64];

	assert_int_equal(mkdir(root, 0755), 0);
	bundle_add_elf(src, root);
	assert_int_equal(th_sh_in(root, NULL, NULL, "for i in $(seq 1 30); do mkdir -p opt/p$i/q && "
			       "cp usr/lib/x86_64-linux-gnu/libbar.so.1 opt/p$i/q/plugin$i.so; done"), 0);
	rep = relocate(root, NULL, 0);
	assert_int_equal(rep.rpaths_set, 33);
	assert_int_equal(rep.rpath_failed.n, 0);
	for (int i = 1; i <= 30; i++) {
		snprintf(rel, sizeof(rel), "opt/p%d/q/plugin%d.so", i, i);
		assert_rpath(root, rel, "$ORIGIN/../../../usr/lib/x86_64-linux-gnu");
	}
	dos_relocate_report_release(&rep);
	free(root);
	th_tmpdir_remove(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relpath),
		cmocka_unit_test(test_relocate_tree),
		cmocka_unit_test(test_relocate_scripts),
		cmocka_unit_test(test_relocate_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
