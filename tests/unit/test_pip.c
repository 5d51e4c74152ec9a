/* What the pip step fixes after pip (no build path left: RECORD,
 * direct_url.json, distlib launchers) and the CA bundle wiring (the CA
 * file, the .pth, certifi's cacert.pem). pip itself runs in t0080-pip.t. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pip.h"
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct dos_ctx ctx;

static char *tmpdir(void)
{
	char t[] = "/tmp/test_pip.XXXXXX";

	assert_non_null(mkdtemp(t));
	return dos_xstrdup(t);
}

static void put(const char *root, const char *rel, const char *text, mode_t mode)
{
	char *path = dos_path_join(root, rel), *dir = dos_path_dirname(path);

	assert_int_equal(dos_mkdir_p(&ctx, dir, 0755), 0);
	assert_int_equal(dos_write_file_atomic(&ctx, path, text, strlen(text), mode), 0);
	free(path);
	free(dir);
}

static char *get(const char *root, const char *rel)
{
	char *path = dos_path_join(root, rel), *text = NULL;
	size_t len = 0;

	assert_int_equal(dos_read_file(&ctx, path, 1 << 20, &text, &len), 0);
	free(path);
	return text;
}

#define SP "usr/lib/python3.13/site-packages"

static void test_fix_tree(void **state)
{
	char *root = tmpdir();
	char *record = dos_xasprintf("foo/__init__.py,sha256=x,1\n"
				     "%s/usr/bin/foo,sha256=y,2\n"
				     "foo-1.0.dist-info/direct_url.json,,\n"
				     "foo-1.0.dist-info/RECORD,,\n", root);
	char *launcher = dos_xasprintf("#!/bin/sh\n'''exec' \"%s/usr/bin/python3.13\" \"$0\" \"$@\"\n"
				       "' '''\nimport foo\nfoo.main()\n", root);
	char *want = dos_xasprintf("#!%s/usr/bin/python3.13\nimport foo\nfoo.main()\n", root);
	char *text, *direct;
	struct stat sb;

	(void)state;
	dos_ctx_init(&ctx);
	put(root, SP "/foo-1.0.dist-info/RECORD", record, 0644);
	put(root, SP "/foo-1.0.dist-info/direct_url.json", "{\"url\": \"file:///x\"}", 0644);
	put(root, "usr/bin/foo", launcher, 0755);
	put(root, "usr/bin/other", "#!/bin/sh\necho other\n", 0755);
	assert_int_equal(dos_pip_fix_tree(&ctx, root), 0);

	text = get(root, SP "/foo-1.0.dist-info/RECORD");
	assert_string_equal(text, "foo/__init__.py,sha256=x,1\n../../../bin/foo,sha256=y,2\n"
			    "foo-1.0.dist-info/RECORD,,\n");
	free(text);
	direct = dos_path_join(root, SP "/foo-1.0.dist-info/direct_url.json");
	assert_int_equal(lstat(direct, &sb), -1);
	free(direct);
	text = get(root, "usr/bin/foo");
	assert_string_equal(text, want);
	free(text);
	text = get(root, "usr/bin/other");
	assert_string_equal(text, "#!/bin/sh\necho other\n");
	free(text);
	dos_rm_rf(&ctx, root);
	free(root);
	free(record);
	free(launcher);
	free(want);
}

static void test_tls(void **state)
{
	char *root = tmpdir(), *text, *pem, target[PATH_MAX];
	ssize_t n;

	(void)state;
	dos_ctx_init(&ctx);
	/* No CA files: nothing to do. */
	put(root, SP "/certifi/__init__.py", "", 0644);
	assert_int_equal(dos_pip_tls(&ctx, root), 0);
	pem = dos_path_join(root, SP "/certifi/cacert.pem");
	assert_int_equal(access(pem, F_OK), -1);

	put(root, "usr/share/ca-certificates/mozilla/b.crt", "B\n", 0644);
	put(root, "usr/share/ca-certificates/mozilla/a.crt", "A", 0644);
	assert_int_equal(dos_pip_tls(&ctx, root), 0);
	text = get(root, "etc/ssl/certs/ca-certificates.crt");
	assert_string_equal(text, "A\nB\n");
	free(text);
	n = readlink(pem, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "../../../../../etc/ssl/certs/ca-certificates.crt");
	text = get(root, SP "/diracos-ca-certificates.pth");
	assert_non_null(strstr(text, "SSL_CERT_FILE"));
	assert_non_null(strstr(text, "sys.base_prefix"));
	free(text);
	/* Debian's certifi names the host's file: made relative. */
	put(root, "usr/lib/python3/dist-packages/certifi/core.py",
	    "DEBIAN_CA_CERTS_PATH = '/etc/ssl/certs/ca-certificates.crt'\n", 0644);
	assert_int_equal(dos_pip_tls(&ctx, root), 0);
	text = get(root, "usr/lib/python3/dist-packages/certifi/core.py");
	assert_null(strstr(text, "/etc/ssl"));
	assert_non_null(strstr(text, "'cacert.pem')"));
	free(text);
	text = get(root, "usr/lib/python3/dist-packages/certifi/cacert.pem");
	assert_string_equal(text, "A\nB\n");
	free(text);
	/* Again: the same, no error on what is there. */
	assert_int_equal(dos_pip_tls(&ctx, root), 0);
	free(pem);
	dos_rm_rf(&ctx, root);
	free(root);
}

/* root/rel: a link to dir/target. */
static void link_out(const char *root, const char *rel, const char *dir, const char *target)
{
	char *from = dos_path_join(root, rel), *to = dos_path_join(dir, target);
	char *parent = dos_path_dirname(from);

	assert_int_equal(dos_mkdir_p(&ctx, parent, 0755), 0);
	assert_int_equal(symlink(to, from), 0);
	free(from);
	free(to);
	free(parent);
}

static bool exists(const char *dir, const char *rel)
{
	char *path = dos_path_join(dir, rel);
	bool there = access(path, F_OK) == 0;

	free(path);
	return there;
}

/* Builds ran in the bundle root and could leave links to host folders:
 * the fixes write through none of them. */
static void test_links_out(void **state)
{
	static const char core[] = "X = '/etc/ssl/certs/ca-certificates.crt'\n";
	char *root = tmpdir(), *host = tmpdir(), *text, *script;

	(void)state;
	dos_ctx_init(&ctx);
	put(root, "etc/ssl/certs/ca-certificates.crt", "A\n", 0644);
	put(root, SP "/ok.py", "", 0644);
	put(host, "site/certifi/core.py", core, 0644);
	put(host, "site/foo-1.0.dist-info/direct_url.json", "{}", 0644);
	put(host, "site/foo-1.0.dist-info/RECORD", "x,,\n", 0644);
	script = dos_xasprintf("#!/bin/sh\n'''exec' %s/usr/bin/python3 \"$0\" \"$@\"\n' '''\n", root);
	put(host, "bin/tool", script, 0755);
	/* A whole site folder, a package and a distribution in ours, and
	 * usr/bin lead out. */
	link_out(root, "usr/local/lib/python3.13/dist-packages", host, "site");
	link_out(root, SP "/certifi", host, "site/certifi");
	link_out(root, SP "/foo-1.0.dist-info", host, "site/foo-1.0.dist-info");
	link_out(root, "usr/bin", host, "bin");

	assert_int_equal(dos_pip_fix_tree(&ctx, root), 0);
	assert_int_equal(dos_pip_tls(&ctx, root), 0);
	text = get(host, "site/certifi/core.py");
	assert_string_equal(text, core);
	free(text);
	text = get(host, "bin/tool");
	assert_string_equal(text, script);
	free(text);
	assert_false(exists(host, "site/diracos-ca-certificates.pth"));
	assert_false(exists(host, "site/certifi/cacert.pem"));
	assert_true(exists(host, "site/foo-1.0.dist-info/direct_url.json"));
	/* Our own site folder is still served. */
	text = get(root, SP "/diracos-ca-certificates.pth");
	assert_non_null(strstr(text, "SSL_CERT_FILE"));
	free(text);

	/* The CA file's folder itself leading out is an error. */
	text = dos_path_join(root, "etc/ssl/certs");
	assert_int_equal(dos_rm_rf(&ctx, text), 0);
	free(text);
	link_out(root, "etc/ssl/certs", host, "site");
	assert_int_equal(dos_pip_tls(&ctx, root), DOS_EFAIL);
	assert_non_null(strstr(ctx.msg, "leads out of the bundle"));
	free(script);
	dos_rm_rf(&ctx, root);
	dos_rm_rf(&ctx, host);
	free(root);
	free(host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fix_tree),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_links_out),
	};
	return cmocka_run_group_tests_name("pip", tests, NULL, NULL);
}
