/* versions.txt, the SPDX SBOM, and diracosrc sourced by real shells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "report.h"
#include "run.h"
#include "util.h"
#include "version.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EPOCH 1700000000 /* 2023-11-14T22:13:20Z */
#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct dos_report_pkg pkgs[] = {
	{ "zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1", "Zlib", SHA_A,
	  "http://mirror.invalid/pool/main/z/zlib/zlib1g_1.2.13.dfsg-1_amd64.deb" },
	{ "libstdc++6", "12.2.0-14", "amd64", "gcc-12", "12.2.0-14",
	  "GPL-3+ with GCC-exception", NULL, NULL },
	{ "bash", "5.2.15-2+b2", "amd64", "bash", "5.2.15-2", "GPL-3+", SHA_A, NULL },
	{ "perl-base", "5.36.0-7", "amd64", "perl", NULL, "GPL-1+ or Artistic, and BSD-3-clause",
	  "not-a-sha", NULL },
	{ "tzdata", "2024a-0+deb12u1", "all", NULL, NULL, "public-domain", NULL, NULL },
	{ "libc6", "2.36-9", "i386", "glibc", "2.36-9", "LGPL-2.1+", NULL, NULL },
	{ "foo+bar", "1.0", "amd64", NULL, NULL, NULL, NULL, NULL },
	{ "foo-bar", "1.0", "amd64", NULL, NULL, "Expat", NULL, NULL },
};
#define N_PKGS (sizeof(pkgs) / sizeof(pkgs[0]))

static const struct dos_report_pkg python_pkgs[] = {
	{ .name = "requests", .version = "2.31.0", .source = "https://pypi.invalid/simple",
	  .license = "Apache-2.0" },
	{ .name = "PyYAML", .version = "6.0.1", .source = "file:///src/PyYAML-6.0.1.tar.gz",
	  .sha256 = SHA_A },
};

static void input_init(struct dos_report_input *in, json_t *env, struct dos_strv *unset)
{
	memset(in, 0, sizeof(*in));
	in->bundle_name = "diracos";
	in->bundle_version = "2.50";
	in->arch = "amd64";
	in->date = EPOCH;
	in->pkgs = pkgs;
	in->n_pkgs = N_PKGS;
	in->python_pkgs = python_pkgs;
	in->n_python_pkgs = 2;
	in->environment = env;
	in->unset_environment = unset;
	in->python_version = "3.11";
}

static char *read_text(const char *dir, const char *name)
{
	struct dos_ctx ctx;
	char *path = dos_path_join(dir, name);
	char *data = NULL;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_read_file(&ctx, path, 1 << 20, &data, NULL), 0);
	free(path);
	return data;
}

static void test_versions(void **state)
{
	struct dos_ctx ctx;
	struct dos_report_input in;
	char *dir = th_tmpdir("report");
	char *text;

	dos_ctx_init(&ctx);
	input_init(&in, NULL, NULL);
	assert_int_equal(dos_report_write_versions(&ctx, dir, &in), 0);
	text = read_text(dir, "versions.txt");
	assert_string_equal(text,
		"name diracos\nversion 2.50\ndate 2023-11-14T22:13:20Z\narch amd64\npython 3.11\n"
		"\n# packages: 8\n"
		"bash 5.2.15-2+b2\nfoo+bar 1.0\nfoo-bar 1.0\nlibc6:i386 2.36-9\n"
		"libstdc++6 12.2.0-14\nperl-base 5.36.0-7\ntzdata 2024a-0+deb12u1\n"
		"zlib1g 1:1.2.13.dfsg-1\n"
		"\n# python distributions: 2\n"
		"PyYAML 6.0.1 file:///src/PyYAML-6.0.1.tar.gz\n"
		"requests 2.31.0 https://pypi.invalid/simple\n");
	free(text);
	dos_rm_rf(&ctx, dir);
	free(dir);
}

static void test_spdx_license_names(void **state)
{
	static const char *const map[][2] = {
		{ "GPL-2+", "GPL-2.0-or-later" }, { "GPL-2", "GPL-2.0-only" },
		{ "GPL-3.0+", "GPL-3.0-or-later" }, { "LGPL-2.1+", "LGPL-2.1-or-later" },
		{ "LGPL-2", "LGPL-2.0-only" }, { "GFDL-1.3+", "GFDL-1.3-or-later" },
		{ "AGPL-3", "AGPL-3.0-only" }, { "GPL-2.0-or-later", "GPL-2.0-or-later" },
		{ "Expat", "MIT" }, { "MIT", "MIT" }, { "BSD-3-clause", "BSD-3-Clause" },
		{ "Apache-2.0", "Apache-2.0" }, { "curl", "curl" }, { "zlib", "Zlib" },
		{ "Artistic", "Artistic-1.0-Perl" }, { "PSF-2", "PSF-2.0" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const char *got = dos_report_spdx_license(map[i][0]);
		assert_non_null(got);
		assert_string_equal(got, map[i][1]);
	}
	assert_null(dos_report_spdx_license("GPL-4+"));
	assert_null(dos_report_spdx_license("public-domain"));
	assert_null(dos_report_spdx_license("GPL"));
	assert_null(dos_report_spdx_license("GPL-2x"));
}

static bool spdx_id_valid(const char *s)
{
	if (strncmp(s, "SPDXRef-", 8))
		return false;
	return strspn(s + 8, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
	       strlen(s + 8) && s[8];
}

static json_t *find_pkg(json_t *doc, const char *name)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(doc, "packages"), i, p)
		if (!strcmp(json_string_value(json_object_get(p, "name")), name))
			return p;
	fail_msg("package '%s' missing from the SBOM", name);
	return NULL;
}

static const char *pkg_str(json_t *doc, const char *name, const char *key)
{
	return json_string_value(json_object_get(find_pkg(doc, name), key));
}

static const char *pkg_purl(json_t *doc, const char *name)
{
	json_t *refs = json_object_get(find_pkg(doc, name), "externalRefs");

	assert_int_equal(json_array_size(refs), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(refs, 0),
							      "referenceType")), "purl");
	return json_string_value(json_object_get(json_array_get(refs, 0), "referenceLocator"));
}

/* Every package has what SPDX 2.3 requires, with valid unique ids, and
 * the document describes each one. */
static void check_sbom_structure(json_t *doc)
{
	json_t *packages = json_object_get(doc, "packages");
	json_t *rels = json_object_get(doc, "relationships");
	json_t *seen = json_object();
	size_t i;
	json_t *p;

	assert_int_equal(json_array_size(packages), N_PKGS + 2);
	assert_int_equal(json_array_size(rels), N_PKGS + 2);
	json_array_foreach(packages, i, p) {
		const char *id = json_string_value(json_object_get(p, "SPDXID"));
		json_t *rel = json_array_get(rels, i);

		assert_non_null(id);
		assert_true(spdx_id_valid(id));
		assert_null(json_object_get(seen, id));
		json_object_set_new(seen, id, json_true());
		assert_non_null(json_string_value(json_object_get(p, "name")));
		assert_non_null(json_string_value(json_object_get(p, "versionInfo")));
		assert_non_null(json_string_value(json_object_get(p, "downloadLocation")));
		assert_true(json_is_false(json_object_get(p, "filesAnalyzed")));
		assert_string_equal(json_string_value(json_object_get(p, "licenseConcluded")),
				    "NOASSERTION");
		assert_non_null(json_string_value(json_object_get(p, "licenseDeclared")));
		assert_string_equal(json_string_value(json_object_get(rel, "spdxElementId")),
				    "SPDXRef-DOCUMENT");
		assert_string_equal(json_string_value(json_object_get(rel, "relationshipType")),
				    "DESCRIBES");
		assert_string_equal(json_string_value(json_object_get(rel, "relatedSpdxElement")), id);
	}
	json_decref(seen);
}

static void check_sbom_document(json_t *doc)
{
	const char *ns = json_string_value(json_object_get(doc, "documentNamespace"));
	json_t *ci = json_object_get(doc, "creationInfo");

	assert_string_equal(json_string_value(json_object_get(doc, "spdxVersion")), "SPDX-2.3");
	assert_string_equal(json_string_value(json_object_get(doc, "dataLicense")), "CC0-1.0");
	assert_string_equal(json_string_value(json_object_get(doc, "SPDXID")), "SPDXRef-DOCUMENT");
	assert_string_equal(json_string_value(json_object_get(doc, "name")), "diracos-2.50-amd64");
	assert_non_null(ns);
	assert_int_equal(strncmp(ns, "https://diracos.invalid/spdx/diracos-2.50-", 42), 0);
	assert_true(dos_sha256_valid(ns + 42));
	assert_string_equal(json_string_value(json_object_get(ci, "created")), "2023-11-14T22:13:20Z");
	assert_string_equal(json_string_value(json_array_get(json_object_get(ci, "creators"), 0)),
			    "Tool: diracos-" DIRACOS_VERSION);
}

static void check_sbom_packages(json_t *doc)
{
	json_t *sums = json_object_get(find_pkg(doc, "bash"), "checksums");
	json_t *extracted = json_object_get(doc, "hasExtractedLicensingInfos");

	/* Sorted: bash first, the Python ones after the Debian ones. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(doc, "packages"), 0), "name")), "bash");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(doc, "packages"), N_PKGS), "name")), "PyYAML");
	assert_string_equal(pkg_str(doc, "libstdc++6", "SPDXID"), "SPDXRef-Package-deb-libstdc--6");
	assert_string_equal(pkg_str(doc, "foo+bar", "SPDXID"), "SPDXRef-Package-deb-foo-bar");
	assert_string_equal(pkg_str(doc, "foo-bar", "SPDXID"), "SPDXRef-Package-deb-foo-bar-2");
	assert_string_equal(pkg_str(doc, "PyYAML", "SPDXID"), "SPDXRef-Package-pypi-PyYAML");
	assert_string_equal(pkg_purl(doc, "libstdc++6"), "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64");
	assert_string_equal(pkg_purl(doc, "zlib1g"), "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64");
	assert_string_equal(pkg_purl(doc, "libc6"), "pkg:deb/debian/libc6@2.36-9?arch=i386");
	assert_string_equal(pkg_purl(doc, "PyYAML"), "pkg:pypi/pyyaml@6.0.1");
	assert_string_equal(pkg_str(doc, "bash", "licenseDeclared"), "GPL-3.0-or-later");
	assert_string_equal(pkg_str(doc, "perl-base", "licenseDeclared"),
			    "(GPL-1.0-or-later OR Artistic-1.0-Perl) AND BSD-3-Clause");
	assert_string_equal(pkg_str(doc, "tzdata", "licenseDeclared"), "LicenseRef-public-domain");
	assert_string_equal(pkg_str(doc, "libstdc++6", "licenseDeclared"),
			    "LicenseRef-GPL-3--with-GCC-exception");
	assert_string_equal(pkg_str(doc, "foo+bar", "licenseDeclared"), "NOASSERTION");
	assert_string_equal(pkg_str(doc, "foo-bar", "licenseDeclared"), "MIT");
	assert_string_equal(pkg_str(doc, "requests", "licenseDeclared"), "Apache-2.0");
	assert_string_equal(pkg_str(doc, "zlib1g", "downloadLocation"),
			    "http://mirror.invalid/pool/main/z/zlib/zlib1g_1.2.13.dfsg-1_amd64.deb");
	assert_string_equal(pkg_str(doc, "bash", "downloadLocation"), "NOASSERTION");
	assert_string_equal(pkg_str(doc, "bash", "sourceInfo"), "built from source package bash 5.2.15-2");
	assert_string_equal(pkg_str(doc, "perl-base", "sourceInfo"),
			    "built from source package perl 5.36.0-7");
	assert_string_equal(pkg_str(doc, "requests", "sourceInfo"),
			    "installed by pip from https://pypi.invalid/simple");
	assert_string_equal(json_string_value(json_object_get(json_array_get(sums, 0), "algorithm")), "SHA256");
	assert_string_equal(json_string_value(json_object_get(json_array_get(sums, 0), "checksumValue")), SHA_A);
	assert_null(json_object_get(find_pkg(doc, "perl-base"), "checksums"));
	assert_int_equal(json_array_size(extracted), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(extracted, 0), "licenseId")),
			    "LicenseRef-GPL-3--with-GCC-exception");
	assert_string_equal(json_string_value(json_object_get(json_array_get(extracted, 1), "name")),
			    "public-domain");
	assert_non_null(json_string_value(json_object_get(json_array_get(extracted, 1), "extractedText")));
}

static void test_sbom(void **state)
{
	struct dos_ctx ctx;
	struct dos_report_input in;
	struct dos_report_pkg changed[N_PKGS];
	char *dir = th_tmpdir("report");
	char *path = dos_path_join(dir, "sbom.spdx.json");
	char *first, *second;
	json_error_t err;
	json_t *doc, *doc2;

	dos_ctx_init(&ctx);
	input_init(&in, NULL, NULL);
	assert_int_equal(dos_report_write_sbom(&ctx, dir, &in), 0);
	first = read_text(dir, "sbom.spdx.json");
	assert_int_equal(first[strlen(first) - 1], '\n');
	doc = json_load_file(path, 0, &err);
	assert_non_null(doc);
	check_sbom_document(doc);
	check_sbom_structure(doc);
	check_sbom_packages(doc);

	/* Deterministic; and another package list, another namespace. */
	assert_int_equal(dos_report_write_sbom(&ctx, dir, &in), 0);
	second = read_text(dir, "sbom.spdx.json");
	assert_string_equal(first, second);
	memcpy(changed, pkgs, sizeof(changed));
	changed[2].version = "5.2.15-3";
	in.pkgs = changed;
	doc2 = dos_report_sbom(&in);
	assert_string_not_equal(json_string_value(json_object_get(doc, "documentNamespace")),
				json_string_value(json_object_get(doc2, "documentNamespace")));
	json_decref(doc);
	json_decref(doc2);
	free(first);
	free(second);
	dos_rm_rf(&ctx, dir);
	free(path);
	free(dir);
}

/* --- diracosrc, sourced by real shells --- */

#define QUOTED "it's a \"test\"  with $HOME, `date`, \\n and !x"

struct bundle {
	char *dir;      /* the temporary folder */
	char *root;     /* the bundle, with a space in its path */
	char *real;     /* its physical path */
	json_t *env;
	struct dos_strv unset;
};

static void bundle_make(struct bundle *b, bool certs)
{
	struct dos_ctx ctx;
	struct dos_report_input in;
	char *certdir, *cert;
	char real[PATH_MAX];

	dos_ctx_init(&ctx);
	memset(b, 0, sizeof(*b));
	b->dir = th_tmpdir("report");
	b->root = dos_path_join(b->dir, "my bundle/diracos");
	certdir = dos_path_join(b->root, "etc/ssl/certs");
	assert_int_equal(dos_mkdir_p(&ctx, certdir, 0755), 0);
	cert = dos_path_join(certdir, "ca-certificates.crt");
	if (certs)
		assert_int_equal(dos_write_file_atomic(&ctx, cert, "x", 1, 0644), 0);
	assert_non_null(realpath(b->root, real));
	b->real = strdup(real);
	b->env = json_pack("{s:s, s:s, s:s, s:s}", "GFAL_PLUGIN_DIR", "$DIRACOS/usr/lib/gfal2-plugins",
			   "QUOTED", QUOTED, "BRACED", "${DIRACOS}/x:$DIRACOSX", "EMPTY", "");
	dos_strv_push(&b->unset, "DIRACOS_TEST_UNSET");
	input_init(&in, b->env, &b->unset);
	assert_int_equal(dos_report_write_diracosrc(&ctx, b->root, &in), 0);
	free(cert);
	free(certdir);
}

static void bundle_release(struct bundle *b)
{
	struct dos_ctx ctx;

	dos_ctx_init(&ctx);
	dos_rm_rf(&ctx, b->dir);
	free(b->dir);
	free(b->root);
	free(b->real);
	json_decref(b->env);
	dos_strv_release(&b->unset);
}

static bool have(const char *prog)
{
	char *path = dos_xasprintf("/usr/bin/%s", prog);
	bool ok = access(path, X_OK) == 0;

	free(path);
	if (!ok)
		printf("# skipping %s: not installed\n", prog);
	return ok;
}

static char *const test_env[] = {
	"PATH=/usr/bin:/bin", "HOME=/root", "LD_LIBRARY_PATH=/bad", "PYTHONPATH=/bad",
	"DIRACOS_TEST_UNSET=1", NULL,
};

/* What the sourcing shell prints: one value per line. */
#define SH_PRINT "printf '%s\\n' \"$DIRACOS\" \"$PATH\" \"${LD_LIBRARY_PATH-unset}\" " \
	"\"$GFAL_PLUGIN_DIR\" \"$QUOTED\" \"$BRACED\" \"${DIRACOS_TEST_UNSET-unset}\" " \
	"\"${SSL_CERT_FILE-unset}\" \"[$EMPTY]\" \"${PYTHONPATH-unset}\""

static void check_output(const struct bundle *b, const char *out, bool certs)
{
	const char *r = b->real;
	char *expected = dos_xasprintf(
		"%s\n%s/bin:%s/usr/bin:%s/sbin:%s/usr/sbin:/usr/bin:/bin\nunset\n"
		"%s/usr/lib/gfal2-plugins\n" QUOTED "\n%s/x:$DIRACOSX\nunset\n%s%s\n[]\nunset\n",
		r, r, r, r, r, r, r, certs ? r : "unset",
		certs ? "/etc/ssl/certs/ca-certificates.crt" : "");

	assert_string_equal(out, expected);
	free(expected);
}

static void run_shell(const struct bundle *b, char *argv[], bool certs)
{
	struct dos_ctx ctx;
	struct dos_run_opts opts = { .cwd = "/", .envp = test_env };
	char *out = NULL;

	dos_ctx_init(&ctx);
	if (dos_run_capture(&ctx, argv, &opts, &out, NULL) < 0)
		fail_msg("%s", ctx.msg);
	check_output(b, out, certs);
	free(out);
}

static void test_diracosrc_sh(void **state)
{
	struct bundle b;
	char *rc;

	bundle_make(&b, true);
	rc = dos_path_join(b.root, "diracosrc");
	char *bash_argv[] = { "bash", "-c", ". \"$1\" && " SH_PRINT, "bash", rc, NULL };
	run_shell(&b, bash_argv, true);

	/* dash finds the file it holds open; and with $DIRACOS preset, even
	 * when it reads the file from a pipe. */
	char *dash_argv[] = { "dash", "-c", ". \"$1\" && " SH_PRINT, "dash", rc, NULL };
	run_shell(&b, dash_argv, true);
	char *cmd = dos_xasprintf("cat \"$1\" | DIRACOS='%s/../diracos' dash -c '. /dev/stdin && "
				  "echo \"$DIRACOS\"'", b.root);
	char *pipe_argv[] = { "sh", "-c", cmd, "sh", rc, NULL };
	struct dos_ctx ctx;
	char *out = NULL;
	dos_ctx_init(&ctx);
	struct dos_run_opts opts = { .cwd = "/", .envp = test_env };
	assert_int_equal(dos_run_capture(&ctx, pipe_argv, &opts, &out, NULL), 0);
	char *want = dos_xasprintf("%s\n", b.real);
	assert_string_equal(out, want);
	free(want);
	free(out);
	free(cmd);

	/* A $DIRACOS left by another bundle does not redirect this one. */
	char *stale_argv[] = { "bash", "-c", "DIRACOS=/tmp; . \"$1\" && " SH_PRINT, "bash", rc, NULL };
	run_shell(&b, stale_argv, true);

	if (have("zsh")) {
		char *zsh_argv[] = { "zsh", "-f", "-c", ". \"$1\" && " SH_PRINT, "zsh", rc, NULL };
		run_shell(&b, zsh_argv, true);
	}
	free(rc);
	bundle_release(&b);
}

static void test_diracosrc_not_found(void **state)
{
	struct bundle b;
	struct dos_ctx ctx;
	struct dos_run_opts opts = { .cwd = "/", .envp = test_env };
	char *rc, *out = NULL;

	dos_ctx_init(&ctx);
	bundle_make(&b, false);
	rc = dos_path_join(b.root, "diracosrc");
	/* Read from a pipe with no $DIRACOS: nothing tells where the bundle
	 * is; a clear message and a failure, not a wrong PATH. */
	char *argv[] = { "sh", "-c", "cat \"$1\" | dash -c '. /dev/stdin; echo \"status $? [$DIRACOS]\"' 2>&1",
			 "sh", rc, NULL };
	assert_int_equal(dos_run_capture(&ctx, argv, &opts, &out, NULL), 0);
	assert_non_null(strstr(out, "diracosrc: cannot find the bundle's folder; set DIRACOS"));
	assert_non_null(strstr(out, "status 1 []"));
	free(out);

	/* Without the CA file, no SSL_CERT_FILE. */
	char *bash_argv[] = { "bash", "-c", ". \"$1\" && " SH_PRINT, "bash", rc, NULL };
	run_shell(&b, bash_argv, false);
	free(rc);
	bundle_release(&b);
}

#define CSH_PRINT "printenv DIRACOS; printenv PATH; printenv LD_LIBRARY_PATH || echo unset; " \
	"printenv GFAL_PLUGIN_DIR; printenv QUOTED; printenv BRACED; " \
	"printenv DIRACOS_TEST_UNSET || echo unset; printenv SSL_CERT_FILE; " \
	"echo \"[`printenv EMPTY`]\"; printenv PYTHONPATH || echo unset"

static void test_diracosrc_csh(void **state)
{
	struct bundle b;
	char *rc, *cmd, *copy;

	if (!have("tcsh"))
		return;
	bundle_make(&b, true);
	rc = dos_path_join(b.root, "diracosrc.csh");
	cmd = dos_xasprintf("source '%s'; " CSH_PRINT, rc);
	char *argv[] = { "tcsh", "-f", "-c", cmd, NULL };
	run_shell(&b, argv, true);
	free(cmd);

	/* A copy under another name outside the bundle: only a preset
	 * $DIRACOS can tell where the bundle is. (Not a pipe: tcsh may print
	 * job numbers for a pipeline ending in a builtin.) */
	copy = dos_path_join(b.dir, "copy.csh");
	cmd = dos_xasprintf("cp '%s' '%s' && setenv DIRACOS '%s' && source '%s'; " CSH_PRINT,
			    rc, copy, b.root, copy);
	char *argv2[] = { "tcsh", "-f", "-c", cmd, NULL };
	run_shell(&b, argv2, true);
	free(cmd);
	free(copy);
	free(rc);
	bundle_release(&b);
}

static void test_environment_errors(void **state)
{
	struct dos_ctx ctx;
	struct dos_report_input in;
	struct dos_strv unset = { 0 };
	char *dir = th_tmpdir("report");
	json_t *env;

	dos_ctx_init(&ctx);
	env = json_pack("{s:s}", "BAD-NAME", "x");
	input_init(&in, env, NULL);
	assert_int_equal(dos_report_write_diracosrc(&ctx, dir, &in), DOS_ECONFIG);
	assert_string_equal(ctx.msg, "environment variable 'BAD-NAME': not a valid name");
	json_decref(env);
	env = json_pack("{s:s}", "X", "a\nb");
	in.environment = env;
	assert_int_equal(dos_report_write_diracosrc(&ctx, dir, &in), DOS_ECONFIG);
	assert_string_equal(ctx.msg, "environment variable 'X': value has a newline");
	json_decref(env);
	env = json_pack("{s:i}", "X", 3);
	in.environment = env;
	assert_int_equal(dos_report_write_diracosrc(&ctx, dir, &in), DOS_ECONFIG);
	json_decref(env);
	in.environment = NULL;
	dos_strv_push(&unset, "1X");
	in.unset_environment = &unset;
	assert_int_equal(dos_report_write_diracosrc(&ctx, dir, &in), DOS_ECONFIG);
	assert_string_equal(ctx.msg, "unsetEnvironment '1X': not a valid name");
	/* Nothing written on an error. */
	assert_int_not_equal(access(dir, F_OK), -1);
	char *rc = dos_path_join(dir, "diracosrc");
	assert_int_equal(access(rc, F_OK), -1);
	free(rc);
	dos_strv_release(&unset);
	dos_rm_rf(&ctx, dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_spdx_license_names),
		cmocka_unit_test(test_sbom),
		cmocka_unit_test(test_diracosrc_sh),
		cmocka_unit_test(test_diracosrc_not_found),
		cmocka_unit_test(test_diracosrc_csh),
		cmocka_unit_test(test_environment_errors),
	};
	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
