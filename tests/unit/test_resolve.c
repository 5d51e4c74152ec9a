/* Unit tests of the resolver: small Packages indices written to a temp
 * folder, solved with libsolv, walked into a closure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "resolve.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int setup(void **state)
{
	return th_resolve_setup(state, "resolve", "deb", "amd64");
}

/* One stanza: the fields every index has, then extra ("Depends: x\n"). */
static char *stanza(const char *name, const char *version, const char *arch, const char *extra)
{
	char hex[DOS_SHA256_HEX];
	_cleanup_free_ char *id = dos_xasprintf("%s=%s", name, version);

	dos_sha256_buf(id, strlen(id), hex);
	return dos_xasprintf("Package: %s\nVersion: %s\nArchitecture: %s\n%s"
			     "Filename: pool/main/%s_%s_%s.deb\nSize: %zu\nSHA256: %s\n"
			     "Installed-Size: 10\nDescription: %s\n  a test package\n\n",
			     name, version, arch, extra ? extra : "", name, version, arch,
			     1000 + strlen(name), hex, name);
}

/* Writes the stanzas (a NULL-terminated list, each freed) as an index and
 * adds it. */
static int add_index(struct th_resolve *f, const char *repo, int priority, ...)
{
	_cleanup_free_ char *path = dos_xasprintf("%s/%s.Packages", f->dir, repo);
	_cleanup_free_ char *url = dos_xasprintf("file://%s/%s/", f->dir, repo);
	FILE *out = fopen(path, "w");
	va_list ap;
	char *s;

	assert_non_null(out);
	va_start(ap, priority);
	while ((s = va_arg(ap, char *))) {
		fputs(s, out);
		free(s);
	}
	va_end(ap);
	assert_int_equal(fclose(out), 0);
	return dos_resolver_add_deb_index(f->r, repo, path, url, priority);
}

/* Solves for the names in wanted (space separated), with the platform
 * and ignored names. */
static int closure(struct th_resolve *f, const char *wanted, const char *platform,
		   const char *ignored)
{
	struct dos_strv lists[3] = { { 0 } };
	const char *texts[3] = { wanted, platform, ignored };
	int ret;

	for (int i = 0; i < 3; i++) {
		_cleanup_free_ char *copy = dos_xstrdup(texts[i] ? texts[i] : "");
		char *save = NULL;

		for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
			dos_strv_push(&lists[i], w);
	}
	struct dos_closure_request req = {
		.wanted = &lists[0], .platform = &lists[1], .ignored = &lists[2],
	};
	dos_closure_release(&f->c);
	ret = dos_resolver_closure(f->r, &req, &f->c);
	for (int i = 0; i < 3; i++)
		dos_strv_release(&lists[i]);
	return ret;
}

/* The closure's names, space separated (sorted, as the closure is). */
static char *names(struct th_resolve *f)
{
	char *text = dos_xstrdup("");

	for (size_t i = 0; i < f->c.n; i++) {
		char *t = dos_xasprintf("%s%s%s", text, i ? " " : "", f->c.pkgs[i].name);

		free(text);
		text = t;
	}
	return text;
}

static void assert_closure(struct th_resolve *f, const char *want)
{
	_cleanup_free_ char *got = names(f);

	assert_string_equal(got, want);
}

/* Solves as closure() does, which must work, and asserts the names. */
static void expect_closure(struct th_resolve *f, const char *wanted, const char *platform,
			   const char *ignored, const char *want)
{
	assert_int_equal(closure(f, wanted, platform, ignored), 0);
	assert_closure(f, want);
}

static const struct dos_resolved_pkg *find(struct th_resolve *f, const char *name)
{
	const struct dos_resolved_pkg *p = dos_closure_find(&f->c, name);

	assert_non_null(p);
	return p;
}

static void test_simple_chain(void **state)
{
	struct th_resolve *f = *state;
	const struct dos_resolved_pkg *p;
	char hex[DOS_SHA256_HEX];
	_cleanup_free_ char *url = NULL;

	assert_int_equal(add_index(f, "main", 0,
		stanza("app", "1.0-1", "amd64", "Depends: libfoo (>= 1.0)\n"),
		stanza("libfoo", "1.2-3", "amd64", "Pre-Depends: libbar\n"),
		stanza("libbar", "0.5", "all", NULL),
		stanza("unrelated", "1", "amd64", NULL), NULL), 0);
	assert_int_equal(dos_resolver_count(f->r), 4);
	expect_closure(f, "app", NULL, NULL, "app libbar libfoo");

	p = find(f, "app");
	assert_null(p->why);
	assert_string_equal(p->reason, "requested");
	p = find(f, "libfoo");
	assert_string_equal(p->why, "app");
	assert_string_equal(p->reason, "libfoo (>= 1.0)");
	assert_string_equal(p->version, "1.2-3");
	assert_string_equal(p->arch, "amd64");
	assert_string_equal(p->repo, "main");
	assert_string_equal(p->source, "libfoo");
	assert_string_equal(p->source_version, "1.2-3");
	assert_string_equal(p->filename, "libfoo_1.2-3_amd64.deb");
	url = dos_xasprintf("file://%s/main/pool/main/libfoo_1.2-3_amd64.deb", f->dir);
	assert_string_equal(p->url, url);
	dos_sha256_buf("libfoo=1.2-3", strlen("libfoo=1.2-3"), hex);
	assert_string_equal(p->sha256, hex);
	assert_int_equal(p->size, 1006);
	assert_int_equal(p->installed_size, 10 * 1024);
	assert_false(p->multiarch_same);
	p = find(f, "libbar");
	assert_string_equal(p->why, "libfoo");
	assert_string_equal(p->arch, "all");
	assert_null(dos_closure_find(&f->c, "unrelated"));
}

static void test_alternative(void **state)
{
	struct th_resolve *f = *state;

	/* The first alternative wins when it can be had, whatever the names'
	 * order; a missing first alternative falls through to the next. */
	assert_int_equal(add_index(f, "main", 0,
		stanza("app", "1", "amd64", "Depends: zz-first | aa-second, nothere | other\n"),
		stanza("zz-first", "1", "amd64", NULL),
		stanza("aa-second", "1", "amd64", NULL),
		stanza("other", "1", "amd64", NULL), NULL), 0);
	expect_closure(f, "app", NULL, NULL, "app other zz-first");
	assert_string_equal(find(f, "zz-first")->reason, "zz-first | aa-second");
	assert_string_equal(find(f, "other")->reason, "nothere | other");
}

static void test_alternative_avoids_conflict(void **state)
{
	struct th_resolve *f = *state;

	assert_int_equal(add_index(f, "main", 0,
		stanza("app", "1", "amd64", "Depends: impl-a | impl-b, base\n"),
		stanza("impl-a", "1", "amd64", "Conflicts: base\n"),
		stanza("impl-b", "1", "amd64", NULL),
		stanza("base", "1", "amd64", "Breaks: impl-old\n"), NULL), 0);
	expect_closure(f, "app", NULL, NULL, "app base impl-b");
}

static void test_virtual_provide(void **state)
{
	struct th_resolve *f = *state;

	assert_int_equal(add_index(f, "main", 0,
		stanza("app", "1", "amd64", "Depends: mail-transport-agent\n"),
		stanza("tiny-mta", "2", "amd64", "Provides: mail-transport-agent\n"),
		stanza("viewer", "1", "amd64", NULL), NULL), 0);
	expect_closure(f, "app", NULL, NULL, "app tiny-mta");
	assert_string_equal(find(f, "tiny-mta")->reason, "mail-transport-agent");

	/* The package of a dependency's name wins over other providers. */
	assert_int_equal(add_index(f, "more", 0,
		stanza("tool", "1", "amd64", "Depends: libsys (>= 2)\n"),
		stanza("libsys", "2", "amd64", NULL),
		stanza("aaa-libsys-alt", "3", "amd64", "Provides: libsys (= 2)\n"), NULL), 0);
	expect_closure(f, "tool", NULL, NULL, "libsys tool");

	/* A requested virtual name installs its provider, as apt does. */
	expect_closure(f, "mail-transport-agent", NULL, NULL, "tiny-mta");
	assert_string_equal(find(f, "tiny-mta")->reason, "requested");
}

static void test_versioned_choice(void **state)
{
	struct th_resolve *f = *state;

	/* The solver would take the newest libv; the dependency needs the old. */
	assert_int_equal(add_index(f, "main", 0,
		stanza("app", "1", "amd64", "Depends: libv (<< 2.0~), libw (>= 1:0.7)\n"),
		stanza("libv", "1.5-1", "amd64", NULL),
		stanza("libv", "3.0-1", "amd64", NULL),
		stanza("libw", "0.9", "amd64", NULL),
		stanza("libw", "1:0.8", "amd64", NULL), NULL), 0);
	expect_closure(f, "app", NULL, NULL, "app libv libw");
	assert_string_equal(find(f, "libv")->version, "1.5-1");
	assert_string_equal(find(f, "libw")->version, "1:0.8");

	assert_int_equal(closure(f, "libv", NULL, NULL), 0);
	assert_string_equal(find(f, "libv")->version, "3.0-1");
}

static void test_architectures(void **state)
{
	struct th_resolve *f = *state;

	assert_int_equal(add_index(f, "main", 0,
		stanza("app", "1", "amd64", "Depends: data, python3:any (>= 3.11)\n"),
		stanza("data", "2", "i386", NULL),
		stanza("data", "1", "all", "Multi-Arch: foreign\n"),
		stanza("python3", "3.11.2-1", "amd64", "Multi-Arch: allowed\n"),
		stanza("libm", "1", "amd64", "Multi-Arch: same\n"), NULL), 0);
	expect_closure(f, "app libm", NULL, NULL, "app data libm python3");
	assert_string_equal(find(f, "data")->arch, "all");
	assert_string_equal(find(f, "python3")->reason, "python3:any (>= 3.11)");
	assert_true(find(f, "libm")->multiarch_same);
}

static void test_platform_stop(void **state)
{
	struct th_resolve *f = *state;

	assert_int_equal(add_index(f, "main", 0,
		stanza("app", "1", "amd64", "Depends: libc6 (>= 2.34), zlib1g\n"),
		stanza("zlib1g", "1:1.2.13", "amd64", "Depends: libc6 (>= 2.14)\n"),
		stanza("libc6", "2.36-9", "amd64", "Depends: libgcc-s1\n"),
		stanza("libgcc-s1", "12.2.0", "amd64", "Depends: gcc-12-base\n"),
		stanza("gcc-12-base", "12.2.0", "amd64", NULL),
		stanza("cxxapp", "1", "amd64", "Depends: libgcc-s1 (>= 3.0), libc6\n"), NULL), 0);
	expect_closure(f, "app", "libc6", NULL, "app zlib1g");
	expect_closure(f, "app", NULL, NULL, "app gcc-12-base libc6 libgcc-s1 zlib1g");
	/* A direct need of something in the closure stays in. */
	expect_closure(f, "app cxxapp", "libc6", NULL, "app cxxapp gcc-12-base libgcc-s1 zlib1g");
	assert_string_equal(find(f, "libgcc-s1")->why, "cxxapp");
}

static void test_ignored(void **state)
{
	struct th_resolve *f = *state;

	assert_int_equal(add_index(f, "main", 0,
		stanza("app", "1", "amd64", "Depends: libfoo, docs, virt\n"),
		stanza("libfoo", "1", "amd64", "Depends: common\n"),
		stanza("docs", "1", "all", "Depends: common, docs-extra\n"),
		stanza("docs-extra", "1", "all", NULL),
		stanza("common", "1", "all", NULL),
		/* The only provider of virt: no error when ignored. */
		stanza("virt-impl", "1", "amd64", "Provides: virt\n"), NULL), 0);
	expect_closure(f, "app", NULL, "docs virt-impl", "app common libfoo");
	/* Ignoring a requested package leaves it out too. */
	expect_closure(f, "app docs", NULL, "docs virt-impl", "app common libfoo");
}

static void test_manual(void **state)
{
	struct th_resolve *f = *state;
	struct dos_strv wanted = { 0 }, manual = { 0 };
	struct dos_closure_request req = { .wanted = &wanted, .manual = &manual };

	assert_int_equal(add_index(f, "main", 0,
		stanza("app", "1", "amd64", NULL),
		stanza("ca-certificates", "2023", "all", NULL), NULL), 0);
	dos_strv_push(&wanted, "app");
	dos_strv_push(&manual, "ca-certificates");
	assert_int_equal(dos_resolver_closure(f->r, &req, &f->c), 0);
	assert_closure(f, "app ca-certificates");
	assert_string_equal(find(f, "ca-certificates")->reason, "manual");
	dos_strv_release(&wanted);
	dos_strv_release(&manual);
}

static void test_local_preferred(void **state)
{
	struct th_resolve *f = *state;
	_cleanup_free_ char *url = NULL;

	assert_int_equal(add_index(f, "bookworm main", 100,
		stanza("app", "1", "amd64", "Depends: libfoo (>= 1.0) | libalt\n"),
		stanza("libalt", "1", "amd64", NULL),
		stanza("libfoo", "2.0-1", "amd64", NULL), NULL), 0);
	assert_int_equal(add_index(f, "local", 500,
		stanza("libfoo", "1.5-1+diracos1", "amd64", NULL), NULL), 0);
	assert_int_equal(closure(f, "app", NULL, NULL), 0);
	assert_string_equal(find(f, "libfoo")->version, "1.5-1+diracos1");
	assert_string_equal(find(f, "libfoo")->repo, "local");
	url = dos_xasprintf("file://%s/local/pool/main/libfoo_1.5-1+diracos1_amd64.deb", f->dir);
	assert_string_equal(find(f, "libfoo")->url, url);
	assert_string_equal(find(f, "app")->repo, "bookworm main");
	assert_null(dos_closure_find(&f->c, "libalt"));
}

static void test_unknown_package(void **state)
{
	struct th_resolve *f = *state;

	assert_int_equal(add_index(f, "bookworm main", 0, stanza("app", "1", "amd64", NULL), NULL), 0);
	assert_int_equal(add_index(f, "local", 10, stanza("mine", "1", "amd64", NULL), NULL), 0);
	assert_int_equal(closure(f, "app nosuchpkg", NULL, NULL), DOS_ERESOLVE);
	assert_string_equal(f->ctx.msg,
			    "package 'nosuchpkg' is not in any repository (bookworm main, local)");
	assert_int_equal(f->c.n, 0);
}

static void test_unsatisfiable(void **state)
{
	struct th_resolve *f = *state;

	assert_int_equal(add_index(f, "main", 0,
		stanza("app", "1.0", "amd64", "Depends: libmissing (>= 2)\n"),
		stanza("tool", "3", "amd64", "Depends: libold (>= 2.0)\n"),
		stanza("libold", "1.0", "amd64", NULL),
		stanza("libold", "1.1", "amd64", NULL),
		stanza("a", "1", "amd64", "Conflicts: b\n"),
		stanza("b", "1", "amd64", NULL),
		stanza("front", "1", "amd64", "Depends: tool\n"), NULL), 0);
	assert_int_equal(closure(f, "app", NULL, NULL), DOS_ERESOLVE);
	assert_string_equal(f->ctx.msg, "cannot resolve: package 'app' 1.0 depends on "
			    "'libmissing (>= 2)', which is not in any repository (main)");
	assert_int_equal(closure(f, "tool", NULL, NULL), DOS_ERESOLVE);
	assert_string_equal(f->ctx.msg, "cannot resolve: package 'tool' 3 depends on "
			    "'libold (>= 2.0)', but the repositories (main) have only 1.0, 1.1");
	/* How a requested package leads to the problem. */
	assert_int_equal(closure(f, "front", NULL, NULL), DOS_ERESOLVE);
	assert_string_equal(f->ctx.msg, "cannot resolve front <- tool: package 'tool' 3 depends on "
			    "'libold (>= 2.0)', but the repositories (main) have only 1.0, 1.1");
	assert_int_equal(closure(f, "a b", NULL, NULL), DOS_ERESOLVE);
	assert_string_equal(f->ctx.msg, "cannot resolve: package 'a' 1 conflicts with 'b' 1 "
			    "(Conflicts/Breaks: b)");
	assert_int_equal(closure(f, "app tool", NULL, NULL), DOS_ERESOLVE);
	assert_non_null(strstr(f->ctx.msg, "(and 1 more problem)"));
}

static void test_why_chain(void **state)
{
	struct th_resolve *f = *state;
	char *why;

	assert_int_equal(add_index(f, "main", 0,
		stanza("curl", "7.88", "amd64", "Depends: libcurl4 (= 7.88), libc6\n"),
		stanza("libcurl4", "7.88", "amd64", "Depends: libnghttp2-14, libssl3\n"),
		stanza("libnghttp2-14", "1.52", "amd64", "Depends: libc6\n"),
		stanza("libc6", "2.36", "amd64", NULL),
		/* Also reachable by a longer path: the shortest one is kept. */
		stanza("git", "1", "amd64", "Depends: perl, libc6\n"),
		stanza("perl", "5.36", "amd64", "Depends: libssl3\n"),
		stanza("libssl3", "3.0", "amd64", NULL), NULL), 0);
	assert_int_equal(closure(f, "curl git", NULL, NULL), 0);
	why = dos_closure_why(&f->c, "libnghttp2-14");
	assert_string_equal(why, "curl <- libcurl4 <- libnghttp2-14");
	free(why);
	why = dos_closure_why(&f->c, "libssl3");
	assert_string_equal(why, "curl <- libcurl4 <- libssl3");
	free(why);
	why = dos_closure_why(&f->c, "git");
	assert_string_equal(why, "git");
	free(why);
	assert_null(dos_closure_why(&f->c, "nothere"));
}

static void test_source_field(void **state)
{
	struct th_resolve *f = *state;

	assert_int_equal(add_index(f, "main", 0,
		stanza("libfoo1", "1.2-3+b1", "amd64", "Source: foo (1.2-3)\n"),
		stanza("foo-utils", "1.2-3", "amd64", "Source: foo\n"), NULL), 0);
	assert_int_equal(closure(f, "libfoo1 foo-utils", NULL, NULL), 0);
	assert_string_equal(find(f, "libfoo1")->source, "foo");
	assert_string_equal(find(f, "libfoo1")->source_version, "1.2-3");
	assert_string_equal(find(f, "foo-utils")->source, "foo");
	assert_string_equal(find(f, "foo-utils")->source_version, "1.2-3");
}

static void test_hostile_entries(void **state)
{
	struct th_resolve *f = *state;
	_cleanup_free_ char *path = dos_xasprintf("%s/flat", f->dir);
	_cleanup_free_ char *text = dos_xasprintf(
		"Package: flat\nVersion: 1\nArchitecture: all\nFilename: ./flat_1_all.deb\n"
		"Size: 5\nSHA256: %064d\n\n"
		"Package: escape\nVersion: 1\nArchitecture: all\nFilename: pool/../../etc/passwd\n"
		"Size: 5\nSHA256: %064d\n\n"
		"Package: nosum\nVersion: 1\nArchitecture: all\nFilename: nosum_1_all.deb\n"
		"MD5sum: 0123456789abcdef0123456789abcdef\n", 1, 2);

	assert_int_equal(dos_write_file_atomic(&f->ctx, path, text, strlen(text), 0644), 0);
	assert_int_equal(dos_resolver_add_deb_index(f->r, "flat", path, "file:///repo", 0), 0);
	assert_int_equal(closure(f, "flat", NULL, NULL), 0);
	assert_string_equal(find(f, "flat")->url, "file:///repo/flat_1_all.deb");
	assert_string_equal(find(f, "flat")->filename, "flat_1_all.deb");
	assert_int_equal(closure(f, "escape", NULL, NULL), DOS_EFORMAT);
	assert_string_equal(f->ctx.msg,
			    "package 'escape' in 'flat': unsafe Filename 'pool/../../etc/passwd'");
	assert_int_equal(closure(f, "nosum", NULL, NULL), DOS_EFORMAT);
	assert_string_equal(f->ctx.msg, "package 'nosum' in 'flat': no SHA256 in the index");
}

static void test_bad_index(void **state)
{
	struct th_resolve *f = *state;
	_cleanup_free_ char *path = dos_xasprintf("%s/bad", f->dir);
	_cleanup_free_ char *missing = dos_xasprintf("%s/missing", f->dir);
	const char *text = "Package: good\nVersion: 1\n\nPackage: two\n lines\nVersion: 1\n";

	assert_int_equal(dos_resolver_add_deb_index(f->r, "x", missing, "file:///x", 0), DOS_EIO);
	assert_non_null(strstr(f->ctx.msg, missing));
	assert_int_equal(dos_write_file_atomic(&f->ctx, path, text, strlen(text), 0644), 0);
	assert_int_equal(dos_resolver_add_deb_index(f->r, "x", path, "file:///x", 0), DOS_EFORMAT);
	assert_non_null(strstr(f->ctx.msg, "malformed stanza of package 'two"));
	/* The failed index is dropped whole. */
	assert_int_equal(dos_resolver_count(f->r), 0);
	assert_int_equal(dos_write_file_atomic(&f->ctx, path, "", 0, 0644), 0);
	assert_int_equal(dos_resolver_add_deb_index(f->r, "empty", path, "file:///x", 0), 0);
	assert_int_equal(dos_resolver_count(f->r), 0);
}

static void test_backend(void **state)
{
	struct dos_ctx ctx;
	struct dos_resolver *r;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_resolver_new(&ctx, "rpm", "x86_64", &r), 0);
	assert_non_null(r);
	dos_resolver_free(r);
	assert_int_equal(dos_resolver_new(&ctx, "pacman", "x86_64", &r), DOS_ECONFIG);
	assert_string_equal(ctx.msg, "resolver: unknown backend 'pacman' (expected deb or rpm)");
}

/* bookworm's Python stack, as its indices describe it (trimmed). */
static int add_bookworm_python(struct th_resolve *f)
{
	return add_index(f, "bookworm main", 100,
		stanza("python3", "3.11.2-1+b1", "amd64",
		       "Multi-Arch: allowed\nDepends: python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1)\n"),
		stanza("libpython3-stdlib", "3.11.2-1+b1", "amd64", "Depends: libpython3.11-stdlib\n"),
		stanza("python3.11", "3.11.2-6+deb12u6", "amd64", "Depends: libpython3.11-stdlib\n"),
		stanza("libpython3.11-stdlib", "3.11.2-6+deb12u6", "amd64", "Depends: libssl3\n"),
		stanza("libssl3", "3.0.17-1~deb12u2", "amd64", NULL),
		stanza("python3-yaml", "6.0-3+b2", "amd64",
		       "Depends: python3 (<< 3.12), python3 (>= 3.11~), python3:any, libyaml-0-2\n"),
		stanza("libyaml-0-2", "0.2.5-1", "amd64", NULL),
		stanza("python3-six", "1.16.0-4", "all", "Depends: python3:any\n"), NULL);
}

static void test_python_takeover(void **state)
{
	struct th_resolve *f = *state;
	struct dos_python_info py;

	assert_int_equal(add_bookworm_python(f), 0);
	assert_int_equal(add_index(f, "local", 500,
		stanza("python3.11", "3.11.2-6+diracos1", "amd64", "Depends: libssl3\n"), NULL), 0);
	assert_int_equal(dos_resolver_python_takeover(f->r, "local", &py), 0);
	assert_string_equal(py.name, "python3.11");
	assert_int_equal(py.minor, 11);
	assert_int_equal(py.dist_minor, 11);
	assert_int_equal(closure(f, "python3-yaml python3-six", NULL, NULL), 0);
	/* Ours in place of python3, python3.11 and their stdlib packages. */
	assert_closure(f, "libssl3 libyaml-0-2 python3-six python3-yaml python3.11");
	assert_string_equal(find(f, "python3.11")->repo, "local");
	assert_int_equal(dos_python_check_closure(&f->ctx, &f->c, &py, "local"), 0);
	dos_python_info_release(&py);
}

static void test_python_newer_than_distribution(void **state)
{
	struct th_resolve *f = *state;
	struct dos_python_info py;

	assert_int_equal(add_bookworm_python(f), 0);
	assert_int_equal(add_index(f, "local", 500,
		stanza("python3.13", "3.13.5", "amd64", "Depends: libssl3\n"), NULL), 0);
	assert_int_equal(dos_resolver_python_takeover(f->r, "local", &py), 0);
	assert_int_equal(py.minor, 13);
	assert_int_equal(py.dist_minor, 11);
	assert_string_equal(py.dist_version, "3.11.2-1+b1");
	/* A pure-Python package takes ours. */
	expect_closure(f, "python3.13 python3-six", NULL, NULL, "libssl3 python3-six python3.13");
	assert_int_equal(dos_python_check_closure(&f->ctx, &f->c, &py, "local"), 0);
	/* A compiled one needs the distribution's 3.11: an error naming both. */
	assert_int_equal(closure(f, "python3.13 python3-yaml", NULL, NULL), 0);
	assert_non_null(dos_closure_find(&f->c, "python3"));
	assert_int_equal(dos_python_check_closure(&f->ctx, &f->c, &py, "local"), DOS_ERESOLVE);
	assert_non_null(strstr(f->ctx.msg, "package 'python3-yaml' (6.0-3+b2)"));
	assert_non_null(strstr(f->ctx.msg, "Python 3.11 (python3 3.11.2-1+b1)"));
	assert_non_null(strstr(f->ctx.msg, "Python 3.13 (python3.13 3.13.5)"));
	dos_python_info_release(&py);
}

static void test_python_none(void **state)
{
	struct th_resolve *f = *state;
	struct dos_python_info py;

	assert_int_equal(add_bookworm_python(f), 0);
	assert_int_equal(add_index(f, "local", 500, stanza("tool", "1", "amd64", NULL), NULL), 0);
	assert_int_equal(dos_resolver_python_takeover(f->r, "local", &py), 0);
	assert_null(py.name);
	expect_closure(f, "python3-six", NULL, NULL, "libpython3-stdlib libpython3.11-stdlib libssl3 python3 python3-six "
		       "python3.11");
	assert_int_equal(dos_python_check_closure(&f->ctx, &f->c, &py, "local"), 0);
	dos_python_info_release(&py);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_simple_chain, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_alternative, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_alternative_avoids_conflict, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_virtual_provide, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_versioned_choice, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_architectures, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_platform_stop, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_ignored, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_manual, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_local_preferred, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_package, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_unsatisfiable, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_why_chain, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_source_field, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_entries, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_bad_index, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_python_takeover, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_python_newer_than_distribution, setup, th_resolve_teardown),
		cmocka_unit_test_setup_teardown(test_python_none, setup, th_resolve_teardown),
		cmocka_unit_test(test_backend),
	};
	return cmocka_run_group_tests_name("resolve", tests, NULL, NULL);
}
