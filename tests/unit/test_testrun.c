/* Unit tests of diracos test's pure parts: the matrix (tests, labels,
 * slugs, platforms), the glibc floor decision, platform names to suites,
 * the shell text each test runs (run here with the host's sh, and python3
 * when there is one), the JSON shape; then whole
 * runs that need no root filesystem (every platform below the floor or
 * rpm-based) on a gcc-built bundle, as a folder and as a tarball, and the
 * errors for hostile tarballs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "run.h"
#include "testrun.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;

static void tests_fill(struct dos_tests *t)
{
	memset(t, 0, sizeof(*t));
	dos_strv_push(&t->imports, "json");
	dos_strv_push(&t->commands, "hello");
	dos_strv_push(&t->commands, "test \"$(hello)\" = 'Hello, World!'");
	dos_strv_push(&t->commands, "hello");
	dos_strv_push(&t->commands, "for i in 1 2; do\n\techo $i\ndone");
	dos_strv_push(&t->scripts, "checks/env.sh");
	dos_strv_push(&t->platforms, "bookworm");
	dos_strv_push(&t->platforms, "debian11");
	dos_strv_push(&t->platforms, "el9");
}

static void tests_free(struct dos_tests *t)
{
	dos_strv_release(&t->imports);
	dos_strv_release(&t->commands);
	dos_strv_release(&t->scripts);
	dos_strv_release(&t->platforms);
}

static void test_matrix_init(void **state)
{
	struct dos_testrun_matrix m;
	struct dos_tests t;

	(void)state;
	tests_fill(&t);
	dos_testrun_matrix_init(&m, &t, &t.platforms, "/conf");
	assert_int_equal(m.n_tests, 6);
	assert_int_equal(m.tests[0].kind, DOS_TESTRUN_IMPORT);
	assert_string_equal(m.tests[0].label, "import json");
	assert_string_equal(m.tests[0].slug, "1-import-json");
	assert_string_equal(m.tests[1].label, "hello");
	assert_string_equal(m.tests[2].slug, "3-command-test-hello-hello-world");
	/* the same command twice: labels stay unique, they key the JSON */
	assert_string_equal(m.tests[3].label, "hello (#4)");
	assert_string_equal(m.tests[3].slug, "4-command-hello");
	/* a command on several lines is one row */
	assert_string_equal(m.tests[4].label, "for i in 1 2; do  echo $i done");
	assert_string_equal(m.tests[4].spec, "for i in 1 2; do\n\techo $i\ndone");
	assert_string_equal(m.tests[4].slug, "5-command-for-i-in-1-2-do-echo-i-done");
	assert_int_equal(m.tests[5].kind, DOS_TESTRUN_SCRIPT);
	assert_string_equal(m.tests[5].label, "script checks/env.sh");
	assert_string_equal(m.tests[5].script, "/conf/checks/env.sh");
	assert_string_equal(m.tests[5].inside, DOS_TESTRUN_SCRIPT_DIR "/6/env.sh");
	assert_string_equal(m.tests[5].slug, "6-script-env-sh");
	assert_null(m.tests[1].script);
	assert_int_equal(m.n_platforms, 3);
	assert_string_equal(m.platforms[1].name, "debian11");
	assert_string_equal(m.platforms[1].suite, "bullseye");
	assert_string_equal(m.platforms[1].glibc, "2.31");
	assert_null(m.platforms[2].suite);
	for (size_t p = 0; p < 3; p++)
		for (size_t i = 0; i < 6; i++)
			assert_int_equal(dos_testrun_result(&m, p, i)->status, DOS_TESTRUN_PENDING);
	dos_testrun_matrix_release(&m);
	tests_free(&t);
}

static void assert_floor(const char *floor, const char *platform, enum dos_testrun_status want,
			 const char *want_detail)
{
	const char *glibc;
	char *detail;

	assert_int_equal(dos_testrun_floor(floor, platform, &glibc, &detail), want);
	if (want_detail)
		assert_string_equal(detail, want_detail);
	else
		assert_null(detail);
	free(detail);
}

static void test_floor(void **state)
{
	(void)state;
	assert_floor("2.34", "bullseye", DOS_TESTRUN_BELOW_FLOOR,
		     "below the glibc floor (needs 2.34, has 2.31)");
	assert_floor("2.34", "bookworm", DOS_TESTRUN_OK, NULL);
	assert_floor("2.36", "debian:bookworm", DOS_TESTRUN_OK, NULL);
	assert_floor("2.36", "el9", DOS_TESTRUN_BELOW_FLOOR,
		     "below the glibc floor (needs 2.36, has 2.34)");
	/* 2.2.5 is older than 2.17: not a string comparison */
	assert_floor("2.2.5", "el7", DOS_TESTRUN_OK, NULL);
	assert_floor("2.17.1", "el7", DOS_TESTRUN_BELOW_FLOOR,
		     "below the glibc floor (needs 2.17.1, has 2.17)");
	assert_floor(NULL, "buster", DOS_TESTRUN_OK, NULL);
	/* an unknown platform cannot be judged: it runs */
	assert_floor("2.40", "mydistro", DOS_TESTRUN_OK, NULL);
}

static void assert_suite(const char *platform, const char *want)
{
	char *s = dos_testrun_suite(platform);

	if (want)
		assert_string_equal(s, want);
	else
		assert_null(s);
	free(s);
}

static void test_suite(void **state)
{
	(void)state;
	assert_suite("bookworm", "bookworm");
	assert_suite("Bookworm", "bookworm");
	assert_suite("debian12", "bookworm");
	assert_suite("debian-13", "trixie");
	assert_suite("debian:trixie", "trixie");
	assert_suite("ubuntu22.04", "jammy");
	assert_suite("el9", NULL);
	assert_suite("almalinux:9", NULL);
	assert_suite("rocky8", NULL);
	assert_suite("elephant", "elephant");
	assert_suite("mysuite", "mysuite");
}

/* The shell text of t, run with the host's sh in a fake mount (a folder
 * holding diracosrc); returns its exit status, its output in *out. */
static int shell_run(const struct dos_testrun_test *t, const char *mount, const char *python,
		     char **out)
{
	char *text = dos_testrun_shell(t, mount, python), *end;
	char *argv[] = { "sh", "-c", "sh -c \"$1\"; echo \"exit=$?\"", "sh", NULL, NULL };
	char *log = dos_path_join(tmp, "shell.log");
	struct dos_run_opts o = { .log_path = log };
	struct dos_ctx ctx;
	int status;

	assert_non_null(text);
	argv[4] = text;
	dos_ctx_init(&ctx);
	assert_int_equal(dos_run_capture(&ctx, argv, &o, out, NULL), 0);
	free(text);
	free(log);
	end = strstr(*out, "exit=");
	assert_non_null(end);
	status = atoi(end + 5);
	*end = '\0';
	return status;
}

static void test_shell_command(void **state)
{
	struct dos_testrun_test t = { .kind = DOS_TESTRUN_COMMAND,
				      .spec = "echo \"from $DIRACOS\"; test -n \"$DIRACOS\"" };
	char *mount = dos_path_join(tmp, "it's here"), *out = NULL, *text;

	(void)state;
	assert_int_equal(th_sh_at(tmp, "mkdir -p \"it's here\""), 0);
	th_write_at(tmp, "it's here/diracosrc", "DIRACOS=marked\nexport DIRACOS\n", 0644);
	assert_int_equal(shell_run(&t, mount, NULL, &out), 0);
	assert_string_equal(out, "from marked\n");
	free(out);
	/* a diracosrc that fails stops the test */
	th_write_at(tmp, "it's here/diracosrc", "false\n", 0644);
	text = dos_testrun_shell(&t, mount, NULL);
	assert_non_null(strstr(text, "exit 125"));
	free(text);
	free(mount);
}

static void test_shell_script(void **state)
{
	struct dos_testrun_test t = { .kind = DOS_TESTRUN_SCRIPT, .spec = "a.sh",
				      .inside = "/diracos-tests/5/a.sh" };
	char *text;

	(void)state;
	text = dos_testrun_shell(&t, "/m", NULL);
	assert_non_null(strstr(text, "\nsh '/diracos-tests/5/a.sh'\n"));
	free(text);
	t.direct = true;
	text = dos_testrun_shell(&t, "/m", NULL);
	assert_non_null(strstr(text, "\n'/diracos-tests/5/a.sh'\n"));
	assert_non_null(strstr(text, ". '/m/diracosrc' || "));
	free(text);
}

static void test_shell_import(void **state)
{
	struct dos_testrun_test t = { .kind = DOS_TESTRUN_IMPORT, .spec = "mymod" };
	char *mount = dos_path_join(tmp, "b"), *out = NULL, *rc;

	(void)state;
	/* not a module name, or no python3: nothing to run */
	t.spec = "os; import x";
	assert_null(dos_testrun_shell(&t, mount, "/usr/bin/python3"));
	t.spec = "mymod";
	assert_null(dos_testrun_shell(&t, mount, NULL));
	if (access("/usr/bin/python3", X_OK) != 0) {
		free(mount);
		skip();
	}
	assert_int_equal(th_sh_at(tmp, "mkdir -p b/lib && echo 'x = 1' >b/lib/mymod.py"), 0);
	rc = dos_xasprintf("PYTHONPATH=%s/lib\nexport PYTHONPATH\n", mount);
	th_write_at(tmp, "b/diracosrc", rc, 0644);
	free(rc);
	assert_int_equal(shell_run(&t, mount, "/usr/bin/python3", &out), 0);
	assert_non_null(strstr(out, "module mymod: "));
	free(out);
	/* a module from outside the bundle (the host's) fails */
	t.spec = "json";
	assert_int_equal(shell_run(&t, mount, "/usr/bin/python3", &out), 1);
	free(out);
	assert_int_equal(th_sh_at(tmp, "grep -q 'module json comes from .*, outside the bundle' shell.log"), 0);
	/* a builtin module has no file: it passes */
	t.spec = "sys";
	assert_int_equal(shell_run(&t, mount, "/usr/bin/python3", &out), 0);
	assert_non_null(strstr(out, "module sys: built in"));
	free(out);
	t.spec = "no_such_module";
	assert_int_equal(shell_run(&t, mount, "/usr/bin/python3", &out), 1);
	free(out);
	free(mount);
}

/* A matrix with every kind of cell. */
static void matrix_sample(struct dos_testrun_matrix *m)
{
	struct dos_tests t = { 0 };
	struct dos_testrun_result *r;

	dos_strv_push(&t.commands, "hello");
	dos_strv_push(&t.commands, "false");
	dos_strv_push(&t.platforms, "bookworm");
	dos_strv_push(&t.platforms, "bullseye");
	dos_strv_push(&t.platforms, "el9");
	dos_strv_push(&t.platforms, "trixie");
	dos_testrun_matrix_init(m, &t, &t.platforms, "/");
	tests_free(&t);
	m->bundle = dos_xstrdup("tiny");
	m->glibc_floor = dos_xstrdup("2.34");
	m->mount = dos_xstrdup("/cvmfs/diracos.test/00000000/tiny");
	m->log_dir = dos_xstrdup("/w/test-logs");
	dos_testrun_result(m, 0, 0)->status = DOS_TESTRUN_OK;
	r = dos_testrun_result(m, 0, 1);
	r->status = DOS_TESTRUN_FAIL;
	r->detail = dos_xstrdup("exit status 1");
	r->log = dos_xstrdup("/w/test-logs/bookworm/2-command-false.log");
	r->seconds = 0.5;
	m->platforms[1].status = DOS_TESTRUN_BELOW_FLOOR;
	m->platforms[1].detail = dos_xstrdup("below the glibc floor (needs 2.34, has 2.31)");
	m->platforms[2].status = DOS_TESTRUN_SKIPPED;
	m->platforms[2].detail = dos_xstrdup("no test root");
	m->platforms[3].status = DOS_TESTRUN_ERROR;
	m->platforms[3].detail = dos_xstrdup("root filesystem 'trixie/minbase': HTTP 404");
	for (size_t i = 0; i < 2; i++) {
		dos_testrun_result(m, 1, i)->status = DOS_TESTRUN_BELOW_FLOOR;
		dos_testrun_result(m, 2, i)->status = DOS_TESTRUN_SKIPPED;
		dos_testrun_result(m, 3, i)->status = DOS_TESTRUN_ERROR;
	}
}

static const char *cell(json_t *j, const char *platform, const char *test, const char *key)
{
	json_t *c = json_object_get(json_object_get(json_object_get(j, "results"), platform), test);

	assert_non_null(c);
	return json_string_value(json_object_get(c, key));
}

static void test_json(void **state)
{
	struct dos_testrun_matrix m;
	json_t *j, *p;

	(void)state;
	matrix_sample(&m);
	/* the FAIL cell and the platform that could not be made */
	assert_int_equal(dos_testrun_failures(&m), 2);
	j = dos_testrun_json(&m);
	assert_string_equal(json_string_value(json_object_get(j, "bundle")), "tiny");
	assert_string_equal(json_string_value(json_object_get(j, "glibcFloor")), "2.34");
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(j, "failures")), 2);
	assert_int_equal(json_array_size(json_object_get(j, "tests")), 2);
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(json_object_get(j, "tests"), 1), "kind")), "command");
	p = json_array_get(json_object_get(j, "platforms"), 1);
	assert_string_equal(json_string_value(json_object_get(p, "status")), "below-floor");
	assert_string_equal(json_string_value(json_object_get(p, "glibc")), "2.31");
	assert_string_equal(cell(j, "bookworm", "hello", "status"), "ok");
	assert_null(cell(j, "bookworm", "hello", "log"));
	assert_string_equal(cell(j, "bookworm", "false", "status"), "fail");
	assert_string_equal(cell(j, "bookworm", "false", "log"),
			    "/w/test-logs/bookworm/2-command-false.log");
	assert_string_equal(cell(j, "bookworm", "false", "detail"), "exit status 1");
	assert_string_equal(cell(j, "bullseye", "false", "status"), "below-floor");
	assert_string_equal(cell(j, "el9", "hello", "status"), "skipped");
	assert_string_equal(cell(j, "trixie", "hello", "status"), "error");
	json_decref(j);
	dos_testrun_matrix_release(&m);
}

/* --- whole runs that need no root: below the floor, or rpm --- */

static int run_setup(void **state)
{
	(void)state;
	return th_sh_at(tmp, "rm -rf bundle runtmp && mkdir -p bundle/tiny/usr/bin runtmp && "
		  "printf '#include <stdio.h>\\nint main(void) { puts(\"hi\"); return 0; }\\n' "
		  ">hi.c && gcc -o bundle/tiny/usr/bin/hi hi.c && "
		  "echo 'DIRACOS=x' >bundle/tiny/diracosrc && "
		  "printf '%%s' '{\"bundle\": {\"name\": \"tiny\", \"platform\": {\"suite\": "
		  "\"bookworm\"}, \"tests\": {\"platforms\": [\"bullseye\", \"el9\"], "
		  "\"commands\": [\"hi\"]}}, \"packages\": []}' >bundle/tiny/diracos.json") ? -1 : 0;
}

static int testrun(const char *rel, const struct dos_strv *platforms,
		   struct dos_testrun_matrix *m, char *msg, size_t n)
{
	char *path = dos_path_join(tmp, rel), *tmpdir = dos_path_join(tmp, "runtmp");
	char *old = getenv("TMPDIR") ? dos_xstrdup(getenv("TMPDIR")) : NULL;
	struct dos_testrun_opts o = { .bundle = path, .platforms = platforms };
	struct dos_ctx ctx;
	int r;

	dos_ctx_init(&ctx);
	ctx.log_level = DOS_LOG_ERROR;
	setenv("TMPDIR", tmpdir, 1);
	r = dos_testrun_run(&ctx, &o, m);
	if (old)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	snprintf(msg, n, "%s", ctx.msg);
	/* the temporary folder (an unpacked tarball) is gone */
	assert_int_equal(th_sh_at(tmp, "test -z \"$(ls -A runtmp)\""), 0);
	free(old);
	free(path);
	free(tmpdir);
	return r;
}

static void assert_no_root_needed(const struct dos_testrun_matrix *m)
{
	assert_string_equal(m->bundle, "tiny");
	assert_non_null(m->glibc_floor);
	assert_int_equal(m->n_platforms, 2);
	assert_int_equal(m->n_tests, 1);
	assert_int_equal(m->platforms[0].status, DOS_TESTRUN_BELOW_FLOOR);
	assert_non_null(strstr(m->platforms[0].detail, "has 2.31)"));
	assert_int_equal(dos_testrun_result(m, 0, 0)->status, DOS_TESTRUN_BELOW_FLOOR);
	/* el9 (2.34) is not below a bookworm-built floor of 2.34, but rpm */
	assert_int_equal(m->platforms[1].status, DOS_TESTRUN_SKIPPED);
	assert_int_equal(dos_testrun_failures(m), 0);
	assert_non_null(strstr(m->mount, DOS_TESTRUN_MOUNT_BASE "/"));
	assert_non_null(strstr(m->mount, "/tiny"));
}

static void test_run_folder(void **state)
{
	struct dos_testrun_matrix m;
	char msg[DOS_ERRMSG_MAX];

	(void)state;
	assert_int_equal(testrun("bundle/tiny", NULL, &m, msg, sizeof(msg)), 0);
	assert_no_root_needed(&m);
	dos_testrun_matrix_release(&m);
}

static void test_run_tarball(void **state)
{
	struct dos_testrun_matrix m;
	struct dos_strv platforms = { 0 };
	char msg[DOS_ERRMSG_MAX];

	(void)state;
	assert_int_equal(th_sh_at(tmp, "tar -C bundle -czf t.tar.gz tiny"), 0);
	assert_int_equal(testrun("t.tar.gz", NULL, &m, msg, sizeof(msg)), 0);
	assert_no_root_needed(&m);
	dos_testrun_matrix_release(&m);
	/* --platform replaces tests.platforms */
	dos_strv_push(&platforms, "buster");
	assert_int_equal(testrun("t.tar.gz", &platforms, &m, msg, sizeof(msg)), 0);
	assert_int_equal(m.n_platforms, 1);
	assert_string_equal(m.platforms[0].name, "buster");
	assert_int_equal(m.platforms[0].status, DOS_TESTRUN_BELOW_FLOOR);
	dos_testrun_matrix_release(&m);
	dos_strv_release(&platforms);
	/* A non-ASCII name in a pax header (UTF-8, as the pack step writes
	 * it; ca-certificates has some), read in this process's "C" locale */
	assert_int_equal(th_sh_at(tmp, "python3 -c 'import io, tarfile\n"
			    "t = tarfile.open(\"u.tar.gz\", \"w:gz\", format=tarfile.PAX_FORMAT)\n"
			    "t.add(\"bundle/tiny\", arcname=\"tiny\")\n"
			    "i = tarfile.TarInfo(\"tiny/F\\u0151tan\\u00fas\\u00edtv\\u00e1ny.crt\")\n"
			    "i.size = 2\n"
			    "t.addfile(i, io.BytesIO(b\"ok\"))\n"
			    "t.close()'"), 0);
	assert_int_equal(testrun("u.tar.gz", NULL, &m, msg, sizeof(msg)), 0);
	assert_no_root_needed(&m);
	dos_testrun_matrix_release(&m);
}

static void assert_run_error(const char *rel, int code, const char *text)
{
	struct dos_testrun_matrix m;
	char msg[DOS_ERRMSG_MAX];

	assert_int_equal(testrun(rel, NULL, &m, msg, sizeof(msg)), code);
	if (!strstr(msg, text))
		fail_msg("'%s' is not in '%s'", text, msg);
	dos_testrun_matrix_release(&m);
}

/* A tarball: tiny/, tiny/diracosrc, then an entry at path (a hard link
 * to link when given), written with libarchive as a hostile tool would. */
static void tar_hostile(const char *rel, const char *path, const char *link)
{
	char *file = dos_path_join(tmp, rel);
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	const char *names[] = { "tiny/", "tiny/diracosrc", path };

	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, file), ARCHIVE_OK);
	for (int i = 0; i < 3; i++) {
		archive_entry_clear(e);
		archive_entry_set_pathname(e, names[i]);
		archive_entry_set_filetype(e, i == 0 ? AE_IFDIR : AE_IFREG);
		archive_entry_set_perm(e, i == 0 ? 0755 : 0644);
		archive_entry_set_size(e, i == 1 ? 2 : 0);
		if (i == 2 && link)
			archive_entry_set_hardlink(e, link);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (i == 1)
			assert_int_equal(archive_write_data(a, "x\n", 2), 2);
	}
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	free(file);
}

static void test_run_errors(void **state)
{
	(void)state;
	assert_run_error("nothing-here", DOS_EUSAGE, "bundle '");
	assert_int_equal(th_sh_at(tmp, "mkdir -p empty"), 0);
	assert_run_error("empty", DOS_EUSAGE, "no diracosrc");
	/* two top folders */
	assert_int_equal(th_sh_at(tmp, "mkdir -p two/a two/b && touch two/a/diracosrc two/b/x && "
			    "tar -C two -cf two.tar a b"), 0);
	assert_run_error("two.tar", DOS_EFORMAT, "entry 'b/' is outside its one top folder");
	/* a path with .., an absolute path, a hard link leaving the top */
	tar_hostile("dots.tar", "tiny/../../escaped", NULL);
	assert_run_error("dots.tar", DOS_EFORMAT, "entry 'tiny/../../escaped' is outside");
	tar_hostile("abs.tar", "/tmp/escaped", NULL);
	assert_run_error("abs.tar", DOS_EFORMAT, "entry '/tmp/escaped' is outside");
	tar_hostile("hard.tar", "tiny/passwd", "../etc/passwd");
	assert_run_error("hard.tar", DOS_EFORMAT, "entry 'tiny/passwd' is outside");
	assert_int_equal(th_sh_at(tmp, "test ! -e escaped && test ! -e ../escaped && "
			    "test ! -e /tmp/escaped"), 0);
	assert_int_equal(th_sh_at(tmp, "printf 'not a tarball' >junk.tar.zst"), 0);
	assert_run_error("junk.tar.zst", DOS_EFORMAT, "bundle '");
	/* a platform name that would lead the logs elsewhere */
	{
		struct dos_strv bad = { 0 };
		struct dos_testrun_matrix m;
		char msg[DOS_ERRMSG_MAX];

		dos_strv_push(&bad, "../../etc");
		assert_int_equal(testrun("bundle/tiny", &bad, &m, msg, sizeof(msg)), DOS_EUSAGE);
		assert_non_null(strstr(msg, "platform '../../etc': not a platform name"));
		dos_testrun_matrix_release(&m);
		dos_strv_release(&bad);
	}
	/* no diracos.json and no -c */
	assert_int_equal(th_sh_at(tmp, "rm bundle/tiny/diracos.json"), 0);
	assert_run_error("bundle/tiny", DOS_ECONFIG, "has no diracos.json");
}

static int group_setup(void **state)
{
	(void)state;
	tmp = th_tmpdir("testrun");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	th_tmpdir_remove(tmp);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix_init),
		cmocka_unit_test(test_floor),
		cmocka_unit_test(test_suite),
		cmocka_unit_test(test_shell_command),
		cmocka_unit_test(test_shell_script),
		cmocka_unit_test(test_shell_import),
		cmocka_unit_test(test_json),
		cmocka_unit_test_setup(test_run_folder, run_setup),
		cmocka_unit_test_setup(test_run_tarball, run_setup),
		cmocka_unit_test_setup(test_run_errors, run_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
