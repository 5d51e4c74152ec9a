/* Unit tests of the configuration: the grammar, inheritance, and errors
 * that name file, line and column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct dos_config *load_ok(const char *text)
{
	struct dos_ctx ctx;
	struct dos_config *cfg = NULL;
	int r;

	dos_ctx_init(&ctx);
	r = dos_config_load_text(&ctx, text, strlen(text), "t.json", "/base", &cfg);
	if (r < 0)
		fail_msg("unexpected error: %s", ctx.msg);
	return cfg;
}

/* Loads text that must fail; returns the message. */
static char *load_err(const char *text)
{
	static char msg[DOS_ERRMSG_MAX];
	struct dos_ctx ctx;
	struct dos_config *cfg = NULL;
	int r;

	dos_ctx_init(&ctx);
	r = dos_config_load_text(&ctx, text, strlen(text), "t.json", "/base", &cfg);
	assert_int_equal(r, DOS_ECONFIG);
	assert_null(cfg);
	assert_null(strchr(ctx.msg, '\n'));
	strcpy(msg, ctx.msg);
	return msg;
}

static const char three_groups[] =
	"{\n"
	"  \"name\": \"b\", \"version\": \"1\",\n"
	"  \"excludePatterns\": [\"-dbg$\"],\n"
	"  \"myOption\": \"global\",\n"
	"  \"buildOnly\": false,\n"
	"  \"packageGroups\": [\n"
	"    {\"name\": \"g1\", \"myOption\": \"g1\", \"packages\": [\n"
	"      {\"name\": \"a\", \"src\": \"lz4@trixie\"},\n"
	"      {\"name\": \"b\", \"src\": \"zlib\", \"myOption\": \"own\"}\n"
	"    ]},\n"
	"    {\"name\": \"g2\", \"buildOnly\": true, \"patchDir\": \"p2\", \"packages\": [\n"
	"      {\"name\": \"c\", \"recipe\": \"recipes/c.sh\", \"version\": \"2.0\"},\n"
	"      {\"name\": \"d\", \"src\": \"x\", \"buildOnly\": false, \"excludePatterns\": []}\n"
	"    ]},\n"
	"    {\"name\": \"g3\", \"packages\": [\n"
	"      {\"name\": \"e\", \"src\": \"y\", \"comment\": \"why e\"}\n"
	"    ]}\n"
	"  ],\n"
	"  \"packages\": [{\"name\": \"f\", \"src\": \"z\"}]\n"
	"}\n";

static const char *opt(const struct dos_config *cfg, const char *pkg, const char *key)
{
	const struct dos_package *p = dos_config_find_package(cfg, pkg);

	assert_non_null(p);
	return json_string_value(json_object_get(p->options, key));
}

static void test_inheritance_three_groups(void **state)
{
	struct dos_config *cfg = load_ok(three_groups);
	const struct dos_package *d;

	assert_int_equal(cfg->n_packages, 6);
	/* global -> group -> package, each level overriding the one before */
	assert_string_equal(opt(cfg, "a", "myOption"), "g1");
	assert_string_equal(opt(cfg, "b", "myOption"), "own");
	assert_string_equal(opt(cfg, "c", "myOption"), "global");
	assert_string_equal(opt(cfg, "f", "myOption"), "global");
	assert_true(dos_config_find_package(cfg, "c")->build_only);
	assert_false(dos_config_find_package(cfg, "d")->build_only);
	assert_false(dos_config_find_package(cfg, "e")->build_only);
	/* folders are made absolute from the configuration's folder */
	assert_string_equal(opt(cfg, "c", "patchDir"), "/base/p2");
	assert_string_equal(opt(cfg, "a", "patchDir"), "/base/patches");
	assert_string_equal(opt(cfg, "c", "recipe"), "/base/recipes/c.sh");
	assert_string_equal(dos_config_find_package(cfg, "c")->version, "2.0");
	/* the bundle's own name and version are not package options */
	assert_null(opt(cfg, "a", "version"));
	assert_string_equal(opt(cfg, "a", "name"), "a");
	/* a list overridden by an empty one */
	d = dos_config_find_package(cfg, "d");
	assert_int_equal(d->exclude_patterns.n, 0);
	assert_int_equal(dos_config_find_package(cfg, "a")->exclude_patterns.n, 1);
	assert_string_equal(opt(cfg, "e", "comment"), "why e");
	assert_string_equal(opt(cfg, "e", "packageGroup"), "g3");
	assert_string_equal(dos_config_find_package(cfg, "a")->src, "lz4@trixie");
	dos_config_free(cfg);
}

static void test_defaults(void **state)
{
	struct dos_config *cfg = load_ok("{}");

	assert_string_equal(cfg->platform.backend, "deb");
	assert_string_equal(cfg->platform.suite, "bookworm");
	assert_string_equal(cfg->platform.platform_packages.v[0], "libc6");
	assert_string_equal(cfg->repo, "/base/diracos-work/repo");
	assert_int_equal(cfg->removed_folders.n, 3);
	assert_int_equal(cfg->compression.n, 2);
	assert_string_equal(cfg->output_directory, "/base");
	assert_string_equal(cfg->tests.platforms.v[0], "bookworm");
	dos_config_free(cfg);

	cfg = load_ok("{\"platform\": {\"backend\": \"rpm\"}}");
	assert_string_equal(cfg->platform.platform_packages.v[0], "glibc");
	dos_config_free(cfg);
}

static void test_bundle_keys(void **state)
{
	struct dos_config *cfg = load_ok(
		"{\"distributionPackages\": [\"curl\"], \"ignoredPackages\": [\"perl\"],\n"
		" \"environment\": {\"X\": \"$DIRACOS/x\"}, \"pipRequirements\": \"req.txt\",\n"
		" \"pipSources\": [{\"urls\": [\"file:///a.tar.gz\"], \"sha256\": \"" 
		"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\"},\n"
		"                {\"debianSource\": \"pyyaml\", \"suite\": \"trixie\"}],\n"
		" \"output\": {\"compression\": [\"gzip\"], \"directory\": \"out\"},\n"
		" \"tests\": {\"imports\": [\"ssl\"], \"knownBrokenLinks\": [\"a\"],\n"
		"            \"scripts\": [\"t/run.sh\"], \"knownNoBytecode\": [\"b.py\"]},\n"
		" \"unknownThing\": {\"kept\": true}}");

	assert_string_equal(cfg->distribution_packages.v[0], "curl");
	assert_string_equal(cfg->pip_requirements, "/base/req.txt");
	assert_int_equal(cfg->n_pip_sources, 2);
	/* digests are kept in lowercase */
	assert_string_equal(cfg->pip_sources[0].sha256,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_string_equal(cfg->pip_sources[1].debian_source, "pyyaml");
	assert_string_equal(cfg->output_directory, "/base/out");
	assert_string_equal(json_string_value(json_object_get(cfg->environment, "X")), "$DIRACOS/x");
	assert_int_equal(cfg->tests.imports.n, 1);
	assert_string_equal(cfg->tests.scripts.v[0], "/base/t/run.sh");
	assert_string_equal(cfg->tests.known_no_bytecode.v[0], "b.py");
	assert_int_equal(cfg->compression.n, 1);
	dos_config_free(cfg);
}

static void test_syntax_error_position(void **state)
{
	char *m = load_err("{\n  \"name\": \"x\",\n  \"version\" \"1\"\n}\n");

	assert_non_null(strstr(m, "t.json:3:"));
}

static void test_wrong_type_position(void **state)
{
	char *m = load_err("{\n  \"packages\": [\n    {\"name\": \"a\", \"buildOnly\": \"yes\"}\n  ]\n}\n");

	assert_string_equal(m, "t.json:3:32: 'buildOnly' must be a boolean (true or false), not a string");
	m = load_err("{\"distributionPackages\": [\"a\", 3]}");
	assert_string_equal(m, "t.json:1:32: 'distributionPackages' must be an array of strings, "
			       "but item 1 is a number");
	m = load_err("{\"platform\": {\"suite\": 12}}");
	assert_string_equal(m, "t.json:1:24: 'platform.suite' must be a string, not a number");
}

static void test_missing_name(void **state)
{
	char *m = load_err("{\"packages\": [\n  {\"src\": \"curl\"}\n]}");

	assert_string_equal(m, "t.json:2:3: package has no \"name\"; expected a string naming it");
	m = load_err("{\"packageGroups\": [{\"packages\": []}]}");
	assert_non_null(strstr(m, "t.json:1:20: package group has no \"name\""));
}

static void test_duplicate_name(void **state)
{
	char *m = load_err("{\"packageGroups\": [\n"
			   "  {\"name\": \"g\", \"packages\": [{\"name\": \"a\", \"src\": \"a\"}]}],\n"
			   " \"packages\": [{\"name\": \"a\", \"src\": \"b\"}]}");

	assert_string_equal(m, "t.json:3:24: duplicate package name 'a'; names must be unique");
}

static void test_src_and_recipe(void **state)
{
	char *m = load_err("{\"packages\": [\n  {\"name\": \"a\", \"src\": \"a\", \"recipe\": \"a.sh\"}]}");

	assert_string_equal(m, "t.json:2:3: package 'a' has both \"src\" and \"recipe\"; "
			       "expected one of them");
}

static void test_unknown_backend(void **state)
{
	char *m = load_err("{\"platform\": {\n   \"backend\": \"apk\"}}");

	assert_string_equal(m, "t.json:2:15: unknown platform.backend 'apk'; expected \"deb\" or \"rpm\"");
}

static void test_other_errors(void **state)
{
	assert_non_null(strstr(load_err("[1]"), "must be a JSON object, not an array"));
	assert_non_null(strstr(load_err("{\"packages\": [{\"name\": \"a\", \"platform\": {}}]}"),
			       "'platform' is a bundle-level key; it cannot be set in a package"));
	assert_non_null(strstr(load_err("{\"output\": {\"compression\": [\"lz4\"]}}"),
			       "'output.compression' has an unknown value 'lz4'"));
	assert_non_null(strstr(load_err("{\"tests\": {\"imprts\": []}}"), "unknown key 'imprts' in 'tests'"));
	assert_non_null(strstr(load_err("{\"pipSources\": [{\"urls\": [\"x\"]}]}"), "needs its \"sha256\""));
	assert_non_null(strstr(load_err("{\"pipSources\": [{\"urls\": [\"x\"], \"sha256\": \"12\"}]}"),
			       "64 hexadecimal digits"));
	assert_non_null(strstr(load_err("{\"packages\": [{\"name\": \"a b\"}]}"),
			       "package name 'a b' must be"));
	assert_non_null(strstr(load_err("{\"name\": \"a\", \"name\": \"b\"}"), "duplicate object key"));
}

/* A source's "filename" names a file in a folder the tool writes as root:
 * a path is refused when the configuration is loaded, naming the source. */
static void test_source_filename_is_a_name(void **state)
{
	static const char *const bad[] = { "../../../../etc/cron.d/x-1.tar.gz", "a/b.tar.gz",
					   "..", ".", "" };
	char text[1024];
	char *m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(text, sizeof(text),
			 "{\"pipSources\": [\n {\"urls\": [\"file:///a.tar.gz\"], \"sha256\": \"%064d\","
			 " \"filename\": \"%s\"}]}", 0, bad[i]);
		m = load_err(text);
		assert_non_null(strstr(m, "t.json:2:"));
		assert_non_null(strstr(m, "'pipSources' source 'file:///a.tar.gz'"));
		assert_non_null(strstr(m, "must be a file name"));
		if (*bad[i])
			assert_non_null(strstr(m, bad[i]));
	}
	m = load_err("{\"packages\": [{\"name\": \"p\", \"recipe\": \"p.sh\", \"sources\": [\n"
		     " {\"debianSource\": \"zlib\", \"filename\": \"../x\"}]}]}");
	assert_non_null(strstr(m, "'sources' source 'zlib'"));
	assert_non_null(strstr(m, "'../x'"));
	snprintf(text, sizeof(text),
		 "{\"pipSources\": [{\"urls\": [\"file:///a.tar.gz\"], \"sha256\": \"%064d\","
		 " \"filename\": \"x-1.tar.gz\"}]}", 0);
	dos_config_free(load_ok(text));
}

static void test_effective_json(void **state)
{
	struct dos_config *cfg = load_ok(three_groups);
	json_t *eff = dos_config_effective(cfg);

	assert_int_equal(json_array_size(json_object_get(eff, "packages")), 6);
	assert_string_equal(json_string_value(json_object_get(json_object_get(eff, "bundle"), "name")), "b");
	json_decref(eff);
	dos_config_free(cfg);
}

static void test_builtin_default_parses(void **state)
{
	struct dos_ctx ctx;
	struct dos_config *cfg = NULL;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_config_load_default(&ctx, &cfg), 0);
	assert_true(cfg->distribution_packages.n > 0);
	dos_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inheritance_three_groups),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bundle_keys),
		cmocka_unit_test(test_syntax_error_position),
		cmocka_unit_test(test_wrong_type_position),
		cmocka_unit_test(test_missing_name),
		cmocka_unit_test(test_duplicate_name),
		cmocka_unit_test(test_src_and_recipe),
		cmocka_unit_test(test_unknown_backend),
		cmocka_unit_test(test_other_errors),
		cmocka_unit_test(test_source_filename_is_a_name),
		cmocka_unit_test(test_effective_json),
		cmocka_unit_test(test_builtin_default_parses),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
