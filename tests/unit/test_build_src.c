/* Unit tests of distribution source packages: Debian version order
 * against `dpkg --compare-versions`, the "src" string, choosing a stanza
 * in a Sources index, the .deb output filter, DEB_BUILD_OPTIONS, and,
 * against a real signed archive served over loopback, the plan-time pin
 * (the content key follows the archive) and the 404 error of a missing
 * source file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "build.h"
#include "config.h"
#include "plan.h"
#include "repo.h"
#include "run.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* --- Debian versions --- */

struct vcase {
	const char *a, *b;
	int expect;
};

static const struct vcase vcases[] = {
	{ "1.0", "1.0", 0 },
	{ "1.0", "1.1", -1 },
	{ "1.0~rc1", "1.0", -1 },
	{ "1.0", "1.0+b1", -1 },
	{ "1:0.1", "2.0", 1 },
	{ "1:1.0", "2:0.1", -1 },
	{ "0:1.0", "1.0", 0 },
	{ "1.0-1", "1.0-2", -1 },
	{ "1.0-1", "1.0.1-1", -1 },
	{ "1.9.4-1", "1.10.0-4", -1 },
	{ "1.0a", "1.0", 1 },
	{ "1.0", "1.0~", 1 },
	{ "1.0~~", "1.0~", -1 },
	{ "1.0~~a", "1.0~~", 1 },
	{ "2.28.1+dfsg-1", "2.28.1-1", 1 },
	{ "1.0-0", "1.0", 0 },
	{ "1.01", "1.1", 0 },
	{ "1.0.0", "1.0", 1 },
	{ "1.2-3-4", "1.2-3", 1 },
	{ "10", "9", 1 },
	{ "1.0-1~bpo12+1", "1.0-1", -1 },
	{ "7.88.1-10+deb12u5", "7.88.1-10", 1 },
	{ "1.0+", "1.0.", -1 },
	{ "1.0A", "1.0a", -1 },
	{ "1.0-a", "1.0-A", 1 },
	{ "2.0-1", "10.0-1", -1 },
	{ "1.0.9", "1.0.10", -1 },
	{ "1.0~beta1~svn1245", "1.0~beta1", -1 },
	{ "3.0.2-1+b1", "3.0.2-1", 1 },
	{ "4:1.0", "3:9.9", 1 },
	{ "0.0001", "0.1", 0 },
	{ "1:1.0-1", "1.0-1", 1 },
	{ "1.0-1+b10", "1.0-1+b9", 1 },
};

static bool dpkg_says(const char *a, const char *op, const char *b)
{
	struct dos_ctx ctx;
	char *argv[] = { "dpkg", "--compare-versions", (char *)a, (char *)op, (char *)b, NULL };
	struct dos_run_opts o = { .log_path = "/dev/null" };

	dos_ctx_init(&ctx);
	ctx.log_level = DOS_LOG_ERROR;
	return dos_run(&ctx, argv, &o) == 0;
}

static void test_version_compare(void **state)
{
	bool have_dpkg = access("/usr/bin/dpkg", X_OK) == 0;

	(void)state;
	for (size_t i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		const struct vcase *c = &vcases[i];
		if (dos_deb_version_compare(c->a, c->b) != c->expect)
			fail_msg("%s vs %s: got %d, expected %d", c->a, c->b,
				 dos_deb_version_compare(c->a, c->b), c->expect);
		assert_int_equal(dos_deb_version_compare(c->b, c->a), -c->expect);
		if (have_dpkg) {
			const char *op = c->expect < 0 ? "lt" : c->expect > 0 ? "gt" : "eq";
			if (!dpkg_says(c->a, op, c->b))
				fail_msg("dpkg disagrees: %s %s %s", c->a, op, c->b);
		}
	}
	/* malformed versions (never chosen: the scan checks them) do not crash */
	assert_int_equal(dos_deb_version_compare("", ""), 0);
	assert_int_equal(dos_deb_version_compare("a:b-c", "a:b-c"), 0);
	assert_int_equal(dos_deb_version_compare("99999999999999999999999:1", "1:1"), 1);
}

/* --- the src string --- */

static void parse_ok(const char *text, const char *name, const char *version, const char *suite)
{
	struct dos_ctx ctx;
	struct dos_build_src_spec s;

	dos_ctx_init(&ctx);
	if (dos_build_src_parse(&ctx, text, &s) < 0)
		fail_msg("'%s': %s", text, ctx.msg);
	assert_string_equal(s.name, name);
	if (version)
		assert_string_equal(s.version, version);
	else
		assert_null(s.version);
	if (suite)
		assert_string_equal(s.suite, suite);
	else
		assert_null(s.suite);
	dos_build_src_spec_release(&s);
}

static void parse_bad(const char *text, const char *part)
{
	struct dos_ctx ctx;
	struct dos_build_src_spec s;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_build_src_parse(&ctx, text, &s), DOS_ECONFIG);
	if (!strstr(ctx.msg, part) || !strstr(ctx.msg, "NAME[=VERSION][@SUITE]"))
		fail_msg("'%s': %s", text, ctx.msg);
	assert_null(s.name);
}

static void test_parse(void **state)
{
	(void)state;
	parse_ok("lz4", "lz4", NULL, NULL);
	parse_ok("lz4=1.9.4-1", "lz4", "1.9.4-1", NULL);
	parse_ok("lz4@trixie", "lz4", NULL, "trixie");
	parse_ok("lz4=1.10.0-4@trixie", "lz4", "1.10.0-4", "trixie");
	parse_ok("libxml2=2.9.14+dfsg-1.3~deb12u1@bookworm-security", "libxml2",
		 "2.9.14+dfsg-1.3~deb12u1", "bookworm-security");
	parse_ok("gcc-12=1:12.2.0-14@stable", "gcc-12", "1:12.2.0-14", "stable");
	parse_bad("", "name");
	parse_bad("=1.0", "name");
	parse_bad("@trixie", "name");
	parse_bad("Lz4", "name");
	parse_bad("l", "name");
	parse_bad("lz4/x", "name");
	parse_bad("lz4=", "version");
	parse_bad("lz4=x1.0", "version");
	parse_bad("lz4=1.0=2", "version");
	parse_bad("lz4@", "suite");
	parse_bad("lz4@a@b", "suite");
	parse_bad("lz4@../x", "suite");
	parse_bad("lz4@tri/xie", "suite");
	parse_bad("lz4@trixie=1.0", "suite");
}

/* --- choosing the stanza --- */

#define SHA_A "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_B "2222222222222222222222222222222222222222222222222222222222222222"
#define SHA_C "3333333333333333333333333333333333333333333333333333333333333333"

static const char sources_text[] =
	"Package: lz4\n"
	"Version: 1.9.4-1\n"
	"Directory: pool/main/l/lz4\n"
	"Checksums-Sha256:\n"
	" " SHA_A " 1900 lz4_1.9.4-1.dsc\n"
	" " SHA_B " 350000 lz4_1.9.4.orig.tar.gz\n"
	"\n"
	"Package: lz4\n"
	"Version: 1.10.0-4\n"
	"Directory: pool/main/l/lz4\n"
	"Checksums-Sha256:\n"
	" " SHA_C " 1941 lz4_1.10.0-4.dsc\n"
	" " SHA_B " 387114 lz4_1.10.0.orig.tar.gz\n"
	" " SHA_A " 8080 lz4_1.10.0-4.debian.tar.xz\n"
	"\n"
	"Package: lz4\n"
	"Version: 9.0-1\n"
	"Extra-Source-Only: yes\n"
	"Directory: pool/main/l/lz4\n"
	"Checksums-Sha256:\n"
	" " SHA_A " 10 lz4_9.0-1.dsc\n"
	"\n"
	"Package: lz4-java\n"
	"Version: 99-1\n"
	"Directory: pool/main/l/lz4-java\n"
	"Checksums-Sha256:\n"
	" " SHA_A " 10 lz4-java_99-1.dsc\n"
	"\n"
	"Package: evil\n"
	"Version: 1.0-1\n"
	"Directory: pool/../../etc\n"
	"Checksums-Sha256:\n"
	" " SHA_A " 10 evil_1.0-1.dsc\n"
	"\n"
	"Package: twodsc\n"
	"Version: 1.0-1\n"
	"Directory: pool/main/t/twodsc\n"
	"Checksums-Sha256:\n"
	" " SHA_A " 10 a.dsc\n"
	" " SHA_B " 10 b.dsc\n"
	"\n"
	"Package: badname\n"
	"Version: 1.0-1\n"
	"Directory: pool/main/b/badname\n"
	"Checksums-Sha256:\n"
	" " SHA_A " 10 ../badname.dsc\n";

static int scan(struct dos_ctx *ctx, const char *src, struct dos_build_src_pick *pick)
{
	struct dos_build_src_spec spec;
	int r;

	assert_int_equal(dos_build_src_parse(ctx, src, &spec), 0);
	memset(pick, 0, sizeof(*pick));
	pick->suite = dos_xstrdup("test");
	r = dos_build_src_scan(ctx, sources_text, strlen(sources_text), "file 'Sources'", &spec, 1,
			       pick);
	dos_build_src_spec_release(&spec);
	return r;
}

static void test_scan(void **state)
{
	struct dos_ctx ctx;
	struct dos_build_src_pick p;
	json_t *j;

	(void)state;
	dos_ctx_init(&ctx);
	/* the highest version, not the Extra-Source-Only one */
	assert_int_equal(scan(&ctx, "lz4", &p), 0);
	assert_string_equal(p.version, "1.10.0-4");
	assert_string_equal(p.directory, "pool/main/l/lz4");
	assert_string_equal(p.dsc_sha256, SHA_C);
	assert_int_equal(p.n_files, 3);
	assert_string_equal(p.files[2].name, "lz4_1.10.0-4.debian.tar.xz");
	assert_int_equal(p.files[2].size, 8080);
	j = dos_build_src_pick_json(&p);
	assert_string_equal(json_string_value(json_object_get(j, "dsc")), SHA_C);
	assert_string_equal(json_string_value(json_object_get(j, "suite")), "test");
	assert_int_equal(json_array_size(json_object_get(j, "files")), 3);
	json_decref(j);
	dos_build_src_pick_release(&p);
	/* an exact version, even an Extra-Source-Only one */
	assert_int_equal(scan(&ctx, "lz4=1.9.4-1", &p), 0);
	assert_string_equal(p.dsc_sha256, SHA_A);
	dos_build_src_pick_release(&p);
	assert_int_equal(scan(&ctx, "lz4=9.0-1", &p), 0);
	assert_string_equal(p.version, "9.0-1");
	dos_build_src_pick_release(&p);
	/* not there: no version */
	assert_int_equal(scan(&ctx, "lz4=1.0-1", &p), 0);
	assert_null(p.version);
	dos_build_src_pick_release(&p);
	assert_int_equal(scan(&ctx, "nosuch", &p), 0);
	assert_null(p.version);
	dos_build_src_pick_release(&p);
	/* hostile stanzas */
	assert_int_equal(scan(&ctx, "evil", &p), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "Directory 'pool/../../etc'"));
	assert_non_null(strstr(ctx.msg, "source package 'evil' 1.0-1"));
	dos_build_src_pick_release(&p);
	assert_int_equal(scan(&ctx, "twodsc", &p), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "2 .dsc files"));
	dos_build_src_pick_release(&p);
	assert_int_equal(scan(&ctx, "badname", &p), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "../badname.dsc"));
	dos_build_src_pick_release(&p);
}

/* --- the .deb files kept --- */

static const char *const produced[] = {
	"lz4_1.10.0-4_amd64.deb", "liblz4-1_1.10.0-4_amd64.deb", "liblz4-dev_1.10.0-4_amd64.deb",
	"liblz4-1-dbgsym_1.10.0-4_amd64.deb", "lz4-dbgsym_1.10.0-4_amd64.deb",
	"lz4_1.10.0-4_amd64.buildinfo", "lz4_1.10.0-4_amd64.changes", "lz4-udeb_1.10.0-4_amd64.udeb",
	NULL,
};

static void strv_of(struct dos_strv *sv, const char *const *v)
{
	memset(sv, 0, sizeof(*sv));
	for (; v && *v; v++)
		dos_strv_push(sv, *v);
}

/* Runs the filter; returns its code and the kept files joined by spaces. */
static int filter(const char *const *list, const char *const *pats, char **out, char **msg)
{
	struct dos_ctx ctx;
	struct dos_strv files, pl, ex, kept = { 0 };
	char *s = dos_xstrdup(""), *next;
	int r;

	dos_ctx_init(&ctx);
	strv_of(&files, produced);
	strv_of(&pl, list);
	strv_of(&ex, pats);
	r = dos_build_src_filter(&ctx, &files, &pl, &ex, &kept);
	for (size_t i = 0; i < kept.n; i++) {
		next = dos_xasprintf("%s%s%s", s, i ? " " : "", kept.v[i]);
		free(s);
		s = next;
	}
	*out = s;
	*msg = dos_xstrdup(ctx.msg);
	dos_strv_release(&files);
	dos_strv_release(&pl);
	dos_strv_release(&ex);
	dos_strv_release(&kept);
	return r;
}

static void filter_is(const char *const *list, const char *const *pats, const char *expect)
{
	char *out, *msg;

	if (filter(list, pats, &out, &msg) < 0)
		fail_msg("filter: %s", msg);
	assert_string_equal(out, expect);
	free(out);
	free(msg);
}

static void filter_fails(const char *const *list, const char *const *pats, int code,
			 const char *part)
{
	char *out, *msg;

	assert_int_equal(filter(list, pats, &out, &msg), code);
	if (!strstr(msg, part))
		fail_msg("'%s' not in: %s", part, msg);
	free(out);
	free(msg);
}

static void test_filter(void **state)
{
	(void)state;
	/* everything but dbgsym packages and non-.deb files */
	filter_is(NULL, NULL, "liblz4-1_1.10.0-4_amd64.deb liblz4-dev_1.10.0-4_amd64.deb "
		  "lz4_1.10.0-4_amd64.deb");
	filter_is((const char *const[]){ "liblz4-1", "lz4", NULL }, NULL,
		  "liblz4-1_1.10.0-4_amd64.deb lz4_1.10.0-4_amd64.deb");
	filter_is(NULL, (const char *const[]){ "-dev_", NULL },
		  "liblz4-1_1.10.0-4_amd64.deb lz4_1.10.0-4_amd64.deb");
	filter_is(NULL, (const char *const[]){ ".*-dbgsym_.*", "^lz4_", NULL },
		  "liblz4-1_1.10.0-4_amd64.deb liblz4-dev_1.10.0-4_amd64.deb");
	/* a dbgsym package stays out even when pkgList names it */
	filter_fails((const char *const[]){ "lz4-dbgsym", NULL }, NULL, DOS_EFAIL,
		     "pkgList names 'lz4-dbgsym'");
	filter_fails((const char *const[]){ "lz4", "liblz4-tool", NULL }, NULL, DOS_EFAIL,
		     "pkgList names 'liblz4-tool', which the build did not produce");
	filter_fails((const char *const[]){ "lz4", NULL }, (const char *const[]){ "^lz4_", NULL },
		     DOS_EFAIL, "or excludePatterns dropped");
	filter_fails(NULL, (const char *const[]){ "\\.deb$", NULL }, DOS_EFAIL,
		     "no .deb file is left");
	filter_fails(NULL, (const char *const[]){ "-dev_", "(", NULL }, DOS_ECONFIG,
		     "excludePatterns '(' is not a POSIX extended regular expression");
}

/* --- DEB_BUILD_OPTIONS --- */

static void options_is(const char *json, int jobs, const char *expect, const char *profiles)
{
	json_t *j = json ? json_loads(json, 0, NULL) : NULL;
	char *prof = NULL, *opts = dos_build_src_deb_options(j, jobs, &prof);

	assert_string_equal(opts, expect);
	assert_string_equal(prof, profiles);
	free(opts);
	free(prof);
	json_decref(j);
}

static void test_deb_options(void **state)
{
	(void)state;
	options_is(NULL, 4, "nocheck nodoc parallel=4", "nocheck nodoc");
	options_is("[]", 0, "nocheck nodoc parallel=1", "nocheck nodoc");
	options_is("[\"check\"]", 2, "nodoc parallel=2", "nodoc");
	options_is("[\"doc check\"]", 2, "parallel=2", "");
	options_is("[\"nostrip\", \"parallel=8\", \"timeout=99\"]", 2,
		   "nocheck nodoc nostrip parallel=8", "nocheck nodoc");
	options_is("[\"noopt\", \"noopt\"]", 3, "nocheck nodoc parallel=3 noopt", "nocheck nodoc");
}

/* --- against a signed archive: the pin, and a missing file --- */

struct fixture {
	struct dos_ctx ctx;
	char *dir, *root, *dists, *home, *keyring, *mirror;
	struct th_httpd srv;
	struct dos_cache *cache;
};

static int group_setup(void **state)
{
	struct fixture *f = dos_xcalloc(1, sizeof(*f));

	dos_ctx_init(&f->ctx);
	f->ctx.progress = false;
	f->ctx.log_level = DOS_LOG_ERROR;
	f->dir = th_tmpdir("build-src");
	f->root = dos_path_join(f->dir, "root");
	f->dists = dos_path_join(f->root, "dists/test");
	f->keyring = dos_path_join(f->dir, "keyring.gpg");
	f->home = dos_path_join(f->dir, "gnupg");
	mkdir(f->home, 0700);
	mkdir(f->root, 0755);
	th_sh_gpg(f->dir, f->home, "gpg --batch --passphrase '' --quick-gen-key 'diracos test <t@invalid>' ed25519 "
	   "sign never && gpg --export > '%s'", f->keyring);
	th_httpd_start(&f->srv, f->dir, f->root, NULL);
	f->mirror = dos_xasprintf("http://127.0.0.1:%d", f->srv.port);
	assert_int_equal(dos_cache_open(&f->ctx, f->dir, &f->cache), 0);
	f->cache->retry_delay_ms = 10;
	setenv("DIRACOS_KEYRING", f->keyring, 1);
	unsetenv("DIRACOS_MIRROR");
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;

	th_httpd_stop(&f->srv);
	th_sh_gpg(f->dir, f->home, "gpgconf --kill gpg-agent");
	dos_cache_free(f->cache);
	assert_int_equal(dos_rm_rf(&f->ctx, f->dir), 0);
	unsetenv("DIRACOS_KEYRING");
	free(f->dir);
	free(f->root);
	free(f->dists);
	free(f->home);
	free(f->keyring);
	free(f->mirror);
	free(f);
	return 0;
}

/* A pool file, its sha256 into hex. */
static void pool_file(struct fixture *f, const char *rel, const char *text, char hex[DOS_SHA256_HEX])
{
	char *path = dos_path_join(f->root, rel), *dir = dos_path_dirname(path);

	assert_int_equal(dos_mkdir_p(&f->ctx, dir, 0755), 0);
	assert_int_equal(dos_write_file_atomic(&f->ctx, path, text, strlen(text), 0644), 0);
	dos_sha256_buf(text, strlen(text), hex);
	free(dir);
	free(path);
}

/* The archive "test": Sources with hello at version, signed. When
 * orig_missing, the orig tarball is listed but not in the pool. */
static void archive_make(struct fixture *f, const char *version, bool orig_missing)
{
	char dsc[DOS_SHA256_HEX], orig[DOS_SHA256_HEX], rel[DOS_SHA256_HEX];
	char *dscname = dos_xasprintf("pool/main/h/hello/hello_%s.dsc", version);
	char *dsctext = dos_xasprintf("Source: hello\nVersion: %s\n", version);
	char *text, *release, *path;

	pool_file(f, dscname, dsctext, dsc);
	pool_file(f, "pool/main/h/hello/hello_2.10.orig.tar.gz", "not really a tarball\n", orig);
	if (orig_missing) {
		path = dos_path_join(f->root, "pool/main/h/hello/hello_2.10.orig.tar.gz");
		unlink(path);
		free(path);
	}
	text = dos_xasprintf("Package: hello\nVersion: 2.9-1\nDirectory: pool/main/h/hello\n"
			     "Checksums-Sha256:\n " SHA_A " 10 hello_2.9-1.dsc\n\n"
			     "Package: hello\nVersion: %s\nDirectory: pool/main/h/hello\n"
			     "Checksums-Sha256:\n %s %zu hello_%s.dsc\n %s 21 hello_2.10.orig.tar.gz\n",
			     version, dsc, strlen(dsctext), version, orig);
	path = dos_path_join(f->dists, "main/source/Sources");
	assert_int_equal(dos_mkdir_p(&f->ctx, f->dists, 0755), 0);
	pool_file(f, "dists/test/main/source/Sources", text, rel);
	release = dos_xasprintf("Origin: diracos-test\nSuite: test\nCodename: test\n"
				"Components: main\nSHA256:\n %s %zu main/source/Sources\n",
				rel, strlen(text));
	pool_file(f, "dists/test/Release", release, rel);
	th_sh_gpg(f->dir, f->home, "cd '%s' && gpg --batch --yes --clearsign -o InRelease Release", f->dists);
	free(path);
	free(release);
	free(text);
	free(dsctext);
	free(dscname);
}

static struct dos_config *config_load(struct fixture *f, const char *packages)
{
	char *text = dos_xasprintf("{\"platform\": {\"suite\": \"test\", \"mirror\": \"%s\"}, "
				   "\"workDir\": \"%s/work\", \"packages\": [%s]}", f->mirror,
				   f->dir, packages);
	struct dos_config *cfg = NULL;

	if (dos_config_load_text(&f->ctx, text, strlen(text), "t.json", f->dir, &cfg) < 0)
		fail_msg("%s", f->ctx.msg);
	free(text);
	return cfg;
}

/* The key of the first package after pinning. */
static int pinned_key(struct fixture *f, struct dos_config *cfg, char key[DOS_SHA256_HEX],
		      char **version)
{
	struct dos_package *pinned = NULL;
	struct dos_config view = *cfg;
	struct dos_plan *plan = NULL;
	int r = dos_build_src_pin(&f->ctx, cfg, f->cache, &pinned);

	if (r < 0)
		return r;
	view.packages = pinned;
	assert_int_equal(dos_plan_new(&f->ctx, &view, NULL, &plan), 0);
	memcpy(key, plan->nodes[0].key, DOS_SHA256_HEX);
	*version = dos_xstrdup(json_string_value(json_object_get(
		json_object_get(pinned[0].options, "srcResolved"), "version")));
	/* the configuration itself is untouched */
	assert_null(json_object_get(cfg->packages[0].options, "srcResolved"));
	dos_plan_free(plan);
	dos_build_src_pinned_free(pinned, cfg->n_packages);
	return 0;
}

static void test_pin_follows_archive(void **state)
{
	struct fixture *f = *state;
	struct dos_config *cfg = config_load(f, "{\"name\": \"hello\", \"src\": \"hello\"}, "
					     "{\"name\": \"other\", \"src\": \"hello=2.9-1@test\"}");
	char k1[DOS_SHA256_HEX], k2[DOS_SHA256_HEX], k3[DOS_SHA256_HEX];
	char *v = NULL;

	archive_make(f, "2.10-1", false);
	assert_int_equal(pinned_key(f, cfg, k1, &v), 0);
	assert_string_equal(v, "2.10-1");
	free(v);
	assert_int_equal(pinned_key(f, cfg, k2, &v), 0);
	assert_string_equal(k1, k2);
	free(v);
	/* the archive moves on: the key changes */
	archive_make(f, "2.10-2", false);
	assert_int_equal(pinned_key(f, cfg, k3, &v), 0);
	assert_string_equal(v, "2.10-2");
	assert_string_not_equal(k1, k3);
	free(v);
	dos_config_free(cfg);
}

static void test_pin_errors(void **state)
{
	struct fixture *f = *state;
	struct dos_config *cfg;
	char key[DOS_SHA256_HEX], *v = NULL;

	archive_make(f, "2.10-1", false);
	cfg = config_load(f, "{\"name\": \"x\", \"src\": \"nosuch\"}");
	assert_int_equal(pinned_key(f, cfg, key, &v), DOS_EFAIL);
	assert_string_equal(f->ctx.msg, "package 'x': source package 'nosuch' is not in the Sources "
			    "index of 'test' (main)");
	dos_config_free(cfg);
	cfg = config_load(f, "{\"name\": \"x\", \"src\": \"hello=3.0-1\"}");
	assert_int_equal(pinned_key(f, cfg, key, &v), DOS_EFAIL);
	assert_non_null(strstr(f->ctx.msg, "source package 'hello' version '3.0-1' is not in"));
	dos_config_free(cfg);
	cfg = config_load(f, "{\"name\": \"x\", \"src\": \"Hello\"}");
	assert_int_equal(pinned_key(f, cfg, key, &v), DOS_ECONFIG);
	assert_non_null(strstr(f->ctx.msg, "package 'x': \"src\" 'Hello'"));
	dos_config_free(cfg);
	cfg = config_load(f, "{\"name\": \"x\", \"src\": \"hello@nosuite\"}");
	assert_true(pinned_key(f, cfg, key, &v) < 0);
	assert_non_null(strstr(f->ctx.msg, "source package 'hello' (nosuite)"));
	assert_non_null(strstr(f->ctx.msg, "HTTP 404"));
	dos_config_free(cfg);
}

/* A file the Sources index lists but the pool lacks: the build stops
 * before any build root is made, naming the URL and the status. */
static void test_missing_file(void **state)
{
	struct fixture *f = *state;
	struct dos_config *cfg = config_load(f, "{\"name\": \"hello\", \"src\": \"hello\"}");
	struct dos_package *pinned = NULL;
	struct dos_repo *repo = NULL;
	char *repo_dir = dos_path_join(f->dir, "repo"), *url;
	struct dos_build_opts o = { .cfg = cfg, .key = SHA_A, .cache = f->cache, .jobs = 1 };

	archive_make(f, "2.10-3", true);
	assert_int_equal(dos_repo_open(&f->ctx, repo_dir, 0, &repo), 0);
	assert_int_equal(dos_build_src_pin(&f->ctx, cfg, f->cache, &pinned), 0);
	o.pkg = &pinned[0];
	o.repo = repo;
	assert_int_equal(dos_build_package(&f->ctx, &o), DOS_ENET);
	url = dos_xasprintf("%s/pool/main/h/hello/hello_2.10.orig.tar.gz: HTTP 404", f->mirror);
	if (!strstr(f->ctx.msg, url) || !strstr(f->ctx.msg, "package 'hello': source package "
						"'hello' 2.10-3 (test): "))
		fail_msg("%s", f->ctx.msg);
	/* without the pin, the build chooses the stanza itself */
	o.pkg = &cfg->packages[0];
	assert_int_equal(dos_build_package(&f->ctx, &o), DOS_ENET);
	assert_non_null(strstr(f->ctx.msg, url));
	free(url);
	dos_build_src_pinned_free(pinned, cfg->n_packages);
	dos_repo_free(repo);
	free(repo_dir);
	dos_config_free(cfg);
}

/* One group (one TAP plan, as prove expects): the archive fixture is set up
 * once for all; the pure tests do not use it. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_compare),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_deb_options),
		cmocka_unit_test(test_pin_follows_archive),
		cmocka_unit_test(test_pin_errors),
		cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests_name("build_src", tests, group_setup, group_teardown);
}
