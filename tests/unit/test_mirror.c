/* Unit tests of mirror discovery from apt sources written by the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "mirror.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
	struct th_dir *f = th_dir_new("mirror");
	char *d = dos_path_join(f->dir, "sources.list.d");

	assert_int_equal(dos_mkdir_p(&f->ctx, d, 0755), 0);
	free(d);
	unsetenv("DIRACOS_MIRROR");
	unsetenv("DIRACOS_SECURITY_MIRROR");
	*state = f;
	return 0;
}

static void put(struct th_dir *f, const char *name, const char *text)
{
	char *path = dos_path_join(f->dir, name);

	assert_int_equal(dos_write_file_atomic(&f->ctx, path, text, strlen(text), 0644), 0);
	free(path);
}

static void assert_mirror(struct th_dir *f, const char *suite, const char *expect)
{
	char *m = dos_mirror_from_sources_dir(&f->ctx, f->dir, suite);

	assert_non_null(m);
	assert_string_equal(m, expect);
	free(m);
}

static const char deb822[] =
	"Types: deb\n"
	"# a comment inside the stanza\n"
	"URIs: http://mirror.example/debian/\n"
	"Suites: bookworm bookworm-updates\n"
	"Components: main contrib\n"
	"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
	"\n"
	"Types: deb deb-src\n"
	"URIs: http://mirror.example/debian-security\n"
	"Suites: bookworm-security\n"
	"Components: main\n";

static void test_deb822(void **state)
{
	struct th_dir *f = *state;
	char *m;

	put(f, "sources.list.d/debian.sources", deb822);
	assert_mirror(f, "bookworm", "http://mirror.example/debian");
	assert_mirror(f, "bookworm-security", "http://mirror.example/debian-security");
	/* Another suite: the first Debian entry that is not the security one. */
	assert_mirror(f, "trixie", "http://mirror.example/debian");
	m = dos_mirror_security_from_sources_dir(&f->ctx, f->dir, "http://x/debian", "bookworm");
	assert_string_equal(m, "http://mirror.example/debian-security");
	free(m);
}

static void test_one_line(void **state)
{
	struct th_dir *f = *state;

	put(f, "sources.list",
	    "# deb http://commented.example/debian bookworm main\n"
	    "deb-src http://src.example/debian bookworm main\n"
	    "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian/ bookworm main # tail\n"
	    "deb [ trusted=yes ] http://two.example/debian bullseye main\n"
	    "deb cdrom:[Debian]/ bookworm main\n");
	assert_mirror(f, "bookworm", "http://one.example/debian");
	assert_mirror(f, "bullseye", "http://two.example/debian");
	assert_mirror(f, "sid", "http://one.example/debian");
}

static void test_skips_third_party(void **state)
{
	struct th_dir *f = *state;
	char *m;

	/* Sorted before the Debian file, and one even names a Debian suite. */
	put(f, "sources.list.d/a-docker.list",
	    "deb [arch=amd64] https://download.example/linux/debian bookworm stable\n");
	put(f, "sources.list.d/b-google.list",
	    "deb https://packages.example/apt cloud-sdk-bookworm main\n");
	put(f, "sources.list.d/c-node.sources",
	    "Types: deb\nURIs: https://node.example/node_20.x\nSuites: nodistro\n"
	    "Components: main\n");
	put(f, "sources.list.d/z-debian.sources", deb822);
	put(f, "sources.list.d/disabled.sources.disabled", "Types: deb\nURIs: http://no/\n"
	    "Suites: bookworm\nComponents: main\n");
	assert_mirror(f, "bookworm", "http://mirror.example/debian");
	assert_mirror(f, "trixie", "http://mirror.example/debian");
	/* Only third-party repositories: no mirror, and a clear error. */
	put(f, "sources.list.d/z-debian.sources", "Types: deb\nURIs: http://x/\nSuites: bookworm\n"
	    "Components: main\nEnabled: no\n");
	m = dos_mirror_from_sources_dir(&f->ctx, f->dir, "trixie");
	assert_null(m);
	assert_int_equal(f->ctx.code, DOS_ECONFIG);
	assert_non_null(strstr(f->ctx.msg, "suite 'trixie': no mirror"));
	assert_non_null(strstr(f->ctx.msg, "DIRACOS_MIRROR"));
}

static void test_malformed_file_skipped(void **state)
{
	struct th_dir *f = *state;

	put(f, "sources.list.d/a-broken.sources", "Types deb\n\0\n");
	put(f, "sources.list.d/b.list", "deb\n\n[\ndeb [unterminated\n");
	put(f, "sources.list.d/debian.sources", deb822);
	assert_mirror(f, "bookworm", "http://mirror.example/debian");
}

static void test_env_and_configured(void **state)
{
	struct th_dir *f = *state;
	char *m;

	setenv("DIRACOS_MIRROR", "http://env.example/debian/", 1);
	m = dos_mirror_for(&f->ctx, "http://conf.example/debian", "bookworm");
	assert_string_equal(m, "http://env.example/debian");
	free(m);
	unsetenv("DIRACOS_MIRROR");
	m = dos_mirror_for(&f->ctx, "http://conf.example/debian/", "bookworm");
	assert_string_equal(m, "http://conf.example/debian");
	free(m);
	setenv("DIRACOS_SECURITY_MIRROR", "file:///srv/sec/", 1);
	m = dos_mirror_security_for(&f->ctx, "http://conf.example/debian", "bookworm");
	assert_string_equal(m, "file:///srv/sec");
	free(m);
	unsetenv("DIRACOS_SECURITY_MIRROR");
}

static void test_security_derived(void **state)
{
	struct th_dir *f = *state;
	char *m;

	put(f, "sources.list", "deb http://one.example/debian bookworm main\n");
	m = dos_mirror_security_from_sources_dir(&f->ctx, f->dir, "http://one.example/debian/",
						 "bookworm");
	assert_string_equal(m, "http://one.example/debian-security");
	free(m);
	m = dos_mirror_security_from_sources_dir(&f->ctx, f->dir, "http://one.example/deb",
						 "bookworm");
	assert_null(m);
	assert_non_null(strstr(f->ctx.msg, "suite 'bookworm-security': no security mirror"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deb822, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_one_line, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_skips_third_party, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_file_skipped, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_env_and_configured, setup, th_dir_teardown),
		cmocka_unit_test_setup_teardown(test_security_derived, setup, th_dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
