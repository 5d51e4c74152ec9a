/* Unit tests of the rpm side of the resolver: rpm's version order,
 * repomd.xml's data files, and closures over hand-written primary
 * metadata (epochs, versioned virtual provides, rich dependencies,
 * hostile entries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "resolve.h"
#include "resolve_rpm.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA1_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static int setup(void **state)
{
	return th_resolve_setup(state, "rpmmd", "rpm", "x86_64");
}

static char *write_file(struct th_resolve *f, const char *name, const char *text)
{
	char *path = dos_path_join(f->dir, name);

	assert_int_equal(dos_write_file_atomic(&f->ctx, path, text, strlen(text), 0644), 0);
	return path;
}

/* One <package> of primary.xml; deps: "<rpm:requires>...</rpm:requires>" etc. */
static char *pkg_xml(const char *name, const char *epoch, const char *ver, const char *rel,
		     const char *sumtype, const char *href, const char *deps)
{
	return dos_xasprintf(
		"<package type=\"rpm\"><name>%s</name><arch>x86_64</arch>"
		"<version epoch=\"%s\" ver=\"%s\" rel=\"%s\"/>"
		"<checksum type=\"%s\" pkgid=\"YES\">%s</checksum>"
		"<summary>s</summary><description>d</description><packager/><url/>"
		"<time file=\"1\" build=\"1\"/><size package=\"1000\" installed=\"2000\" archive=\"3000\"/>"
		"<location href=\"%s\"/><format><rpm:license>MIT</rpm:license>"
		"<rpm:sourcerpm>%s-%s-%s.src.rpm</rpm:sourcerpm>"
		"<rpm:provides><rpm:entry name=\"%s\" flags=\"EQ\" epoch=\"%s\" ver=\"%s\" rel=\"%s\"/></rpm:provides>"
		"%s</format></package>\n",
		name, epoch, ver, rel, sumtype, sumtype[3] == '2' ? SHA_A : SHA1_B, href, name, ver, rel,
		name, epoch, ver, rel, deps ? deps : "");
}

static char *primary(const char *body, int n)
{
	return dos_xasprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			     "<metadata xmlns=\"http://linux.duke.edu/metadata/common\" "
			     "xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"%d\">\n%s</metadata>\n",
			     n, body);
}

static void add_primary(struct th_resolve *f, const char *const *pkgs, int n)
{
	char *body = dos_xstrdup("");

	for (int i = 0; i < n; i++) {
		char *more = dos_xasprintf("%s%s", body, pkgs[i]);
		free(body);
		body = more;
	}
	_cleanup_free_ char *text = primary(body, n);
	_cleanup_free_ char *path = write_file(f, "primary.xml", text);
	free(body);
	assert_int_equal(dos_resolver_add_rpmmd(f->r, "os", path, "primary.xml",
						"http://example.invalid/os/", 0), 0);
}

static const char *version_of(struct th_resolve *f, const char *name)
{
	const struct dos_resolved_pkg *p = dos_closure_find(&f->c, name);

	return p ? p->version : NULL;
}

static void test_evrcmp(void **state)
{
	(void)state;
	assert_true(dos_rpm_evrcmp("1:1.0-1", "2.0-1") > 0);
	assert_true(dos_rpm_evrcmp("1.10-1", "1.9-1") > 0);
	assert_true(dos_rpm_evrcmp("2.0~rc1-1", "2.0-1") < 0);
	assert_true(dos_rpm_evrcmp("2.0^post1-1", "2.0-1") > 0);
	assert_true(dos_rpm_evrcmp("1.0a-1", "1.0-1") > 0);
	assert_true(dos_rpm_evrcmp("1.0-1", "1.0-1") == 0);
	assert_true(dos_rpm_evrcmp("0:1.0-1", "1.0-1") == 0);
}

static void test_closure_dnf(void **state)
{
	struct th_resolve *f = *state;
	const char *req = "<rpm:requires><rpm:entry name=\"libepoch\" flags=\"GE\" epoch=\"1\" ver=\"1.0\"/>"
			  "<rpm:entry name=\"webserver\" flags=\"GE\" epoch=\"0\" ver=\"2\"/>"
			  "<rpm:entry name=\"(richa &gt;= 2 or richb)\"/>"
			  "<rpm:entry name=\"glibc\"/></rpm:requires>";
	_cleanup_free_ char *tool = pkg_xml("tool", "0", "1.0", "1", "sha256", "Packages/tool.rpm", req);
	_cleanup_free_ char *e0 = pkg_xml("libepoch", "0", "2.0", "1", "sha256", "e0.rpm", NULL);
	_cleanup_free_ char *e1 = pkg_xml("libepoch", "1", "1.0", "1", "sha256", "e1.rpm", NULL);
	_cleanup_free_ char *w1 = pkg_xml("httpd-lite", "0", "3.0", "1", "sha256", "w1.rpm",
		"<rpm:provides><rpm:entry name=\"webserver\" flags=\"EQ\" epoch=\"0\" ver=\"1\"/></rpm:provides>");
	_cleanup_free_ char *w2 = pkg_xml("nginx-ish", "0", "1.0", "1", "sha256", "w2.rpm",
		"<rpm:provides><rpm:entry name=\"webserver\" flags=\"EQ\" epoch=\"0\" ver=\"2.5\"/></rpm:provides>");
	_cleanup_free_ char *ra = pkg_xml("richa", "0", "1.0", "1", "sha256", "ra.rpm", NULL);
	_cleanup_free_ char *rb = pkg_xml("richb", "0", "1.0", "1", "sha256", "rb.rpm", NULL);
	_cleanup_free_ char *gl = pkg_xml("glibc", "0", "2.34", "1", "sha256", "gl.rpm", NULL);
	const char *pkgs[] = { tool, e0, e1, w1, w2, ra, rb, gl };
	struct dos_strv wanted = { 0 }, platform = { 0 };

	add_primary(f, pkgs, 8);
	dos_strv_push(&wanted, "tool");
	dos_strv_push(&platform, "glibc");
	struct dos_closure_request req_ = { .wanted = &wanted, .platform = &platform };
	assert_int_equal(dos_resolver_closure(f->r, &req_, &f->c), 0);
	assert_int_equal(f->c.n, 4);
	assert_string_equal(version_of(f, "libepoch"), "1:1.0-1");
	assert_non_null(version_of(f, "nginx-ish"));
	assert_non_null(version_of(f, "richb"));
	assert_null(version_of(f, "httpd-lite"));
	assert_null(version_of(f, "glibc"));
	assert_string_equal(dos_closure_find(&f->c, "tool")->url,
			    "http://example.invalid/os/Packages/tool.rpm");
	assert_string_equal(dos_closure_find(&f->c, "tool")->sha256, SHA_A);
	assert_int_equal(dos_closure_find(&f->c, "tool")->size, 1000);
	dos_strv_release(&wanted);
	dos_strv_release(&platform);
}

static void closure_fails(struct th_resolve *f, const char *pkg, const char *msg)
{
	const char *pkgs[] = { pkg };
	struct dos_strv wanted = { 0 };

	add_primary(f, pkgs, 1);
	dos_strv_push(&wanted, "bad");
	struct dos_closure_request req = { .wanted = &wanted };
	assert_int_equal(dos_resolver_closure(f->r, &req, &f->c), DOS_EFORMAT);
	assert_non_null(strstr(f->ctx.msg, msg));
	dos_strv_release(&wanted);
}

static void test_sha1_refused(void **state)
{
	struct th_resolve *f = *state;
	_cleanup_free_ char *p = pkg_xml("bad", "0", "1", "1", "sha", "bad.rpm", NULL);

	closure_fails(f, p, "no SHA256");
}

static void test_hostile_href(void **state)
{
	struct th_resolve *f = *state;
	_cleanup_free_ char *p = pkg_xml("bad", "0", "1", "1", "sha256", "../../etc/x.rpm", NULL);

	closure_fails(f, p, "unsafe Filename");
}

static char *repomd(const char *type, const char *sumtype, const char *href)
{
	return dos_xasprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>1</revision>"
		"<data type=\"%s\"><checksum type=\"%s\">%s</checksum>"
		"<location href=\"%s\"/><timestamp>1</timestamp><size>42</size></data></repomd>\n",
		type, sumtype, sumtype[3] == '2' ? SHA_A : SHA1_B, href);
}

static void test_repomd(void **state)
{
	struct th_resolve *f = *state;
	_cleanup_free_ char *good = repomd("primary", "sha256", "repodata/p-primary.xml.gz");
	_cleanup_free_ char *sha1 = repomd("primary", "sha1", "repodata/p-primary.xml.gz");
	_cleanup_free_ char *evil = repomd("primary", "sha256", "../../../etc/passwd");
	_cleanup_free_ char *other = repomd("other", "sha256", "repodata/o.xml.gz");
	_cleanup_free_ char *p1 = write_file(f, "good.xml", good);
	_cleanup_free_ char *p2 = write_file(f, "sha1.xml", sha1);
	_cleanup_free_ char *p3 = write_file(f, "evil.xml", evil);
	_cleanup_free_ char *p4 = write_file(f, "other.xml", other);
	struct dos_rpmmd_data d;

	assert_int_equal(dos_rpmmd_find_data(&f->ctx, p1, "primary", &d), 0);
	assert_string_equal(d.location, "repodata/p-primary.xml.gz");
	assert_string_equal(d.sha256, SHA_A);
	assert_int_equal(d.size, 42);
	dos_rpmmd_data_release(&d);
	assert_int_equal(dos_rpmmd_find_data(&f->ctx, p2, "primary", &d), DOS_EFORMAT);
	assert_non_null(strstr(f->ctx.msg, "no sha256 checksum"));
	assert_int_equal(dos_rpmmd_find_data(&f->ctx, p3, "primary", &d), DOS_EFORMAT);
	assert_non_null(strstr(f->ctx.msg, "unsafe location"));
	assert_int_equal(dos_rpmmd_find_data(&f->ctx, p4, "primary", &d), DOS_EFORMAT);
	assert_non_null(strstr(f->ctx.msg, "no 'primary' data"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evrcmp),
		cmocka_unit_test_setup_teardown(test_closure_dnf, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_sha1_refused, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_href, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_repomd, setup, th_resolve_teardown),
	};

	return cmocka_run_group_tests_name("rpmmd", tests, NULL, NULL);
}
