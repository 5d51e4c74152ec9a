#include "config_internal.h"
#include "builtin.h"
#include "jsonpos.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* What a key holds. */
enum key_type {
	K_STRING, K_BOOL, K_STRLIST, K_STRMAP, K_SOURCES, K_PLATFORM, K_OUTPUT,
	K_TESTS, K_GROUPS, K_PACKAGES, K_REQUIREMENTS, K_ANY,
};

/* Where a key may appear. Package options may also be set globally and on
 * groups, and are inherited; bundle keys only at the top. */
enum key_scope { S_BUNDLE = 1, S_PACKAGE = 2, S_BOTH = 3 };

struct key_spec {
	const char *name;
	enum key_type type;
	enum key_scope scope;
	bool is_path;      /* relative to the configuration's folder */
};

static const struct key_spec keys[] = {
	{ "name", K_STRING, S_BOTH, false },
	{ "version", K_STRING, S_BOTH, false },
	{ "comment", K_STRING, S_BOTH, false },
	{ "platform", K_PLATFORM, S_BUNDLE, false },
	{ "packageGroups", K_GROUPS, S_BUNDLE, false },
	{ "packages", K_PACKAGES, S_BUNDLE, false },
	{ "distributionPackages", K_STRLIST, S_BUNDLE, false },
	{ "manualDependencies", K_STRLIST, S_BUNDLE, false },
	{ "ignoredPackages", K_STRLIST, S_BUNDLE, false },
	{ "removedFolders", K_STRLIST, S_BUNDLE, false },
	{ "pipRequirements", K_REQUIREMENTS, S_BUNDLE, true },
	{ "pipBuildDependencies", K_STRLIST, S_BUNDLE, false },
	{ "pipSources", K_SOURCES, S_BUNDLE, false },
	{ "pipOptions", K_STRLIST, S_BUNDLE, false },
	{ "environment", K_STRMAP, S_BUNDLE, false },
	{ "unsetEnvironment", K_STRLIST, S_BUNDLE, false },
	{ "output", K_OUTPUT, S_BUNDLE, false },
	{ "tests", K_TESTS, S_BUNDLE, false },
	{ "extensionName", K_STRING, S_BUNDLE, false },
	{ "diracOsVersion", K_STRING, S_BUNDLE, false },
	{ "repo", K_STRING, S_BOTH, true },
	{ "patchDir", K_STRING, S_BOTH, true },
	{ "routineDir", K_STRING, S_BOTH, true },
	{ "workDir", K_STRING, S_BOTH, true },
	{ "src", K_STRING, S_PACKAGE, false },
	{ "recipe", K_STRING, S_PACKAGE, true },
	{ "sources", K_SOURCES, S_PACKAGE, false },
	{ "buildDependencies", K_STRLIST, S_PACKAGE, false },
	{ "depends", K_STRLIST, S_PACKAGE, false },
	{ "buildOnly", K_BOOL, S_PACKAGE, false },
	{ "pkgList", K_STRLIST, S_PACKAGE, false },
	{ "excludePatterns", K_STRLIST, S_PACKAGE, false },
	{ "preRoutine", K_STRING, S_PACKAGE, false },
	{ "postRoutine", K_STRING, S_PACKAGE, false },
	{ "routine", K_STRING, S_PACKAGE, false },
	{ "buildOptions", K_STRLIST, S_PACKAGE, false },
};

/* Keys of the top level that describe the bundle itself and are not
 * inherited by packages even though packages have keys of the same name. */
static bool is_bundle_identity(const char *key)
{
	return !strcmp(key, "name") || !strcmp(key, "version") || !strcmp(key, "comment");
}

static const struct key_spec *key_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

static int perr(struct parser *p, const char *pointer, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct parser *p, const char *pointer, const char *fmt, ...)
{
	char what[1024];
	int line, column;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	jsonpos_lookup(&p->pos, pointer, &line, &column);
	return dos_error(p->ctx, DOS_ECONFIG, "%s:%d:%d: %s", p->file, line, column, what);
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static char *child_pointer(const char *parent, const char *token)
{
	return dos_xasprintf("%s/%s", parent, token);
}

static char *index_pointer(const char *parent, size_t i)
{
	return dos_xasprintf("%s/%zu", parent, i);
}

/* --- type checks of single values --- */

static int expect_string(struct parser *p, const char *ptr, const char *key, const json_t *v)
{
	if (!json_is_string(v))
		return perr(p, ptr, "'%s' must be a string, not %s", key, type_name(v));
	return 0;
}

static int expect_strlist(struct parser *p, const char *ptr, const char *key, const json_t *v)
{
	size_t i;
	json_t *item;

	if (!json_is_array(v))
		return perr(p, ptr, "'%s' must be an array of strings, not %s", key, type_name(v));
	json_array_foreach(v, i, item) {
		if (!json_is_string(item)) {
			_cleanup_free_ char *ip = index_pointer(ptr, i);
			return perr(p, ip, "'%s' must be an array of strings, but item %zu is %s",
				    key, i, type_name(item));
		}
	}
	return 0;
}

static int expect_strmap(struct parser *p, const char *ptr, const char *key, const json_t *v)
{
	const char *k;
	json_t *item;

	if (!json_is_object(v))
		return perr(p, ptr, "'%s' must be an object of strings, not %s", key, type_name(v));
	json_object_foreach((json_t *)v, k, item) {
		if (!json_is_string(item)) {
			_cleanup_free_ char *ip = child_pointer(ptr, k);
			return perr(p, ip, "'%s.%s' must be a string, not %s", key, k, type_name(item));
		}
	}
	return 0;
}

static int expect_enum_list(struct parser *p, const char *ptr, const char *key, const json_t *v,
			    const char *const allowed[], const char *allowed_text)
{
	size_t i;
	json_t *item;
	int r = expect_strlist(p, ptr, key, v);

	if (r < 0)
		return r;
	json_array_foreach(v, i, item) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok |= !strcmp(*a, json_string_value(item));
		if (!ok) {
			_cleanup_free_ char *ip = index_pointer(ptr, i);
			return perr(p, ip, "'%s' has an unknown value '%s'; expected %s", key,
				    json_string_value(item), allowed_text);
		}
	}
	return 0;
}

/* Checks that an object holds only the given keys, each a string list
 * unless listed in string_keys. */
static int expect_fixed_object(struct parser *p, const char *ptr, const char *key, const json_t *v,
			       const char *const list_keys[], const char *const string_keys[])
{
	const char *k;
	json_t *item;
	int r;

	if (!json_is_object(v))
		return perr(p, ptr, "'%s' must be an object, not %s", key, type_name(v));
	json_object_foreach((json_t *)v, k, item) {
		_cleanup_free_ char *ip = child_pointer(ptr, k);
		_cleanup_free_ char *full = dos_xasprintf("%s.%s", key, k);
		bool known = false;
		for (const char *const *a = list_keys; *a && !known; a++)
			if (!strcmp(*a, k)) {
				known = true;
				if ((r = expect_strlist(p, ip, full, item)) < 0)
					return r;
			}
		for (const char *const *a = string_keys; *a && !known; a++)
			if (!strcmp(*a, k)) {
				known = true;
				if ((r = expect_string(p, ip, full, item)) < 0)
					return r;
			}
		if (!known)
			return perr(p, ip, "unknown key '%s' in '%s'", k, key);
	}
	return 0;
}

static int check_platform(struct parser *p, const char *ptr, const json_t *v)
{
	static const char *const lists[] = { "components", "platformPackages", NULL };
	static const char *const strings[] = { "backend", "suite", "arch", "mirror", NULL };
	const json_t *backend;
	int r;

	r = expect_fixed_object(p, ptr, "platform", v, lists, strings);
	if (r < 0)
		return r;
	backend = json_object_get(v, "backend");
	if (backend && strcmp(json_string_value(backend), "deb") &&
	    strcmp(json_string_value(backend), "rpm")) {
		_cleanup_free_ char *bp = child_pointer(ptr, "backend");
		return perr(p, bp, "unknown platform.backend '%s'; expected \"deb\" or \"rpm\"",
			    json_string_value(backend));
	}
	return 0;
}

static int check_output(struct parser *p, const char *ptr, const json_t *v)
{
	static const char *const lists[] = { "compression", NULL };
	static const char *const strings[] = { "directory", NULL };
	static const char *const methods[] = { "zstd", "gzip", "xz", NULL };
	const json_t *c;
	int r;

	r = expect_fixed_object(p, ptr, "output", v, lists, strings);
	if (r < 0)
		return r;
	c = json_object_get(v, "compression");
	if (c) {
		_cleanup_free_ char *cp = child_pointer(ptr, "compression");
		return expect_enum_list(p, cp, "output.compression", c, methods,
					"\"zstd\", \"gzip\" or \"xz\"");
	}
	return 0;
}

static int check_tests(struct parser *p, const char *ptr, const json_t *v)
{
	static const char *const lists[] = { "platforms", "imports", "commands", "scripts",
					     "knownBrokenLinks", "knownMissingDependencies",
					     "knownNoBytecode", NULL };
	static const char *const strings[] = { NULL };

	return expect_fixed_object(p, ptr, "tests", v, lists, strings);
}

bool dos_config_filename_ok(const char *s)
{
	return *s && strlen(s) < 256 && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* A "filename" names the file in a folder written as root: a name only. */
static int check_source_filename(struct parser *p, const char *ptr, const char *key,
				 const json_t *v)
{
	const char *name = json_string_value(json_object_get(v, "filename"));
	const json_t *deb = json_object_get(v, "debianSource");
	const char *which = deb ? json_string_value(deb)
				: json_string_value(json_array_get(json_object_get(v, "urls"), 0));
	_cleanup_free_ char *fp = NULL;

	if (!name || dos_config_filename_ok(name))
		return 0;
	fp = child_pointer(ptr, "filename");
	return perr(p, fp, "'%s' source '%.256s': \"filename\" '%.256s' must be a file name "
		    "(no '/', not '.' or '..', under 256 bytes)", key, which ? which : "", name);
}

static int check_source(struct parser *p, const char *ptr, const char *key, const json_t *v)
{
	static const char *const lists[] = { "urls", NULL };
	static const char *const strings[] = { "sha256", "filename", "debianSource", "suite",
					       "file", NULL };
	const json_t *urls = json_object_get(v, "urls");
	const json_t *sha = json_object_get(v, "sha256");
	const json_t *deb = json_object_get(v, "debianSource");
	int r;

	r = expect_fixed_object(p, ptr, key, v, lists, strings);
	if (r < 0)
		return r;
	if (!!urls == !!deb)
		return perr(p, ptr, "each of '%s' needs either \"urls\" (with \"sha256\") or "
			    "\"debianSource\"", key);
	if (urls && json_array_size(urls) == 0)
		return perr(p, ptr, "'%s.urls' must list at least one URL", key);
	if (urls && !sha)
		return perr(p, ptr, "'%s' with \"urls\" needs its \"sha256\"", key);
	if (sha && !dos_sha256_valid(json_string_value(sha))) {
		_cleanup_free_ char *sp = child_pointer(ptr, "sha256");
		return perr(p, sp, "'%s.sha256' must be 64 hexadecimal digits", key);
	}
	return check_source_filename(p, ptr, key, v);
}

static int check_sources(struct parser *p, const char *ptr, const char *key, const json_t *v)
{
	size_t i;
	json_t *item;
	int r;

	if (!json_is_array(v))
		return perr(p, ptr, "'%s' must be an array of source objects, not %s", key,
			    type_name(v));
	json_array_foreach(v, i, item) {
		_cleanup_free_ char *ip = index_pointer(ptr, i);
		if (!json_is_object(item))
			return perr(p, ip, "'%s' items must be objects, not %s", key, type_name(item));
		if ((r = check_source(p, ip, key, item)) < 0)
			return r;
	}
	return 0;
}

static int check_requirements(struct parser *p, const char *ptr, const json_t *v)
{
	if (json_is_string(v))
		return 0;
	if (json_is_array(v))
		return expect_strlist(p, ptr, "pipRequirements", v);
	return perr(p, ptr, "'pipRequirements' must be a file name or an array of requirement "
		    "strings, not %s", type_name(v));
}

/* Checks one key's value against its type; groups and packages are checked
 * by their own functions. */
static int check_value(struct parser *p, const char *ptr, const struct key_spec *spec,
		       const json_t *v)
{
	switch (spec->type) {
	case K_STRING:
		return expect_string(p, ptr, spec->name, v);
	case K_BOOL:
		if (!json_is_boolean(v))
			return perr(p, ptr, "'%s' must be a boolean (true or false), not %s",
				    spec->name, type_name(v));
		return 0;
	case K_STRLIST: return expect_strlist(p, ptr, spec->name, v);
	case K_STRMAP: return expect_strmap(p, ptr, spec->name, v);
	case K_SOURCES: return check_sources(p, ptr, spec->name, v);
	case K_PLATFORM: return check_platform(p, ptr, v);
	case K_OUTPUT: return check_output(p, ptr, v);
	case K_TESTS: return check_tests(p, ptr, v);
	case K_REQUIREMENTS: return check_requirements(p, ptr, v);
	case K_GROUPS:
		if (!json_is_array(v))
			return perr(p, ptr, "'packageGroups' must be an array of groups, not %s",
				    type_name(v));
		return 0;
	case K_PACKAGES:
		if (!json_is_array(v))
			return perr(p, ptr, "'packages' must be an array of packages, not %s",
				    type_name(v));
		return 0;
	case K_ANY:
		return 0;
	}
	return 0;
}

enum level { L_TOP, L_GROUP, L_PACKAGE };

/* Checks every key of an object at one level of the grammar. Unknown keys
 * are kept: they are passed to routines, as DIRACOS did. */
static int check_options(struct parser *p, const char *ptr, const json_t *obj, enum level level)
{
	static const char *const level_name[] = { "the top level", "a package group", "a package" };
	const char *k;
	json_t *v;
	int r;

	json_object_foreach((json_t *)obj, k, v) {
		_cleanup_free_ char *kp = child_pointer(ptr, k);
		const struct key_spec *spec = key_lookup(k);
		if (!spec)
			continue;
		if (level != L_TOP && !(spec->scope & S_PACKAGE) &&
		    !(level == L_GROUP && !strcmp(k, "packages")))
			return perr(p, kp, "'%s' is a bundle-level key; it cannot be set in %s",
				    k, level_name[level]);
		if ((r = check_value(p, kp, spec, v)) < 0)
			return r;
	}
	return 0;
}

/* --- inheritance --- */

json_t *config_resolve_path_value(struct parser *p, const json_t *v)
{
	_cleanup_free_ char *abs = NULL;

	if (!json_is_string(v))
		return json_incref((json_t *)v);
	abs = dos_path_absolute(p->cfg->dir, json_string_value(v));
	return json_string(abs);
}

/* Copies obj's options into eff, later levels overriding earlier ones.
 * skip_identity leaves out the bundle's name/version/comment at the top;
 * group and package names are never options. */
static void merge_options(struct parser *p, json_t *eff, const json_t *obj, enum level level)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		const struct key_spec *spec = key_lookup(k);
		if (spec && !(spec->scope & S_PACKAGE))
			continue;
		if (level == L_TOP && is_bundle_identity(k))
			continue;
		if (level == L_GROUP && !strcmp(k, "name"))
			continue;
		if (spec && spec->is_path)
			json_object_set_new(eff, k, config_resolve_path_value(p, v));
		else
			json_object_set(eff, k, v);
	}
}

static bool valid_package_name(const char *s)
{
	if (!*s || strlen(s) > 200)
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._", *s))
			return false;
	return true;
}

/* --- packages and groups --- */

void dos_config_strv_from_json(struct dos_strv *sv, const json_t *arr)
{
	size_t i;
	json_t *item;

	json_array_foreach(arr, i, item)
		if (json_is_string(item))
			dos_strv_push(sv, json_string_value(item));
}

static void source_from_json(struct dos_source *s, const json_t *obj)
{
	const json_t *v;

	memset(s, 0, sizeof(*s));
	if ((v = json_object_get(obj, "urls")))
		dos_config_strv_from_json(&s->urls, v);
#define STR_FIELD(field, key) \
	if ((v = json_object_get(obj, key))) \
		s->field = dos_xstrdup(json_string_value(v));
	STR_FIELD(sha256, "sha256")
	STR_FIELD(filename, "filename")
	STR_FIELD(debian_source, "debianSource")
	STR_FIELD(suite, "suite")
	STR_FIELD(file, "file")
#undef STR_FIELD
	if (s->sha256)
		for (char *c = s->sha256; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
}

void config_sources_from_json(struct dos_source **out, size_t *n, const json_t *arr)
{
	size_t i;
	json_t *item;

	*n = json_array_size(arr);
	*out = *n ? dos_xcalloc(*n, sizeof(**out)) : NULL;
	json_array_foreach(arr, i, item)
		source_from_json(&(*out)[i], item);
}

const char *config_opt_string(const json_t *options, const char *key)
{
	return json_string_value(json_object_get(options, key));
}

static void package_fill_views(struct dos_package *pkg)
{
	const json_t *o = pkg->options, *v;

	pkg->src = config_opt_string(o, "src");
	pkg->recipe = config_opt_string(o, "recipe");
	pkg->version = config_opt_string(o, "version");
	pkg->build_only = json_is_true(json_object_get(o, "buildOnly"));
	if ((v = json_object_get(o, "sources")))
		config_sources_from_json(&pkg->sources, &pkg->n_sources, v);
	if ((v = json_object_get(o, "buildDependencies")))
		dos_config_strv_from_json(&pkg->build_dependencies, v);
	if ((v = json_object_get(o, "depends")))
		dos_config_strv_from_json(&pkg->depends, v);
	if ((v = json_object_get(o, "pkgList")))
		dos_config_strv_from_json(&pkg->pkg_list, v);
	if ((v = json_object_get(o, "excludePatterns")))
		dos_config_strv_from_json(&pkg->exclude_patterns, v);
}

/* Directory keys every package shows, from the bundle's effective ones. */
static void package_set_defaults(struct parser *p, json_t *eff)
{
	static const char *const dir_keys[] = { "repo", "patchDir", "routineDir", "workDir" };

	for (size_t i = 0; i < 4; i++)
		if (!json_object_get(eff, dir_keys[i]))
			json_object_set(eff, dir_keys[i], json_object_get(p->cfg->bundle, dir_keys[i]));
	if (!json_object_get(eff, "buildOnly"))
		json_object_set_new(eff, "buildOnly", json_false());
}

static int package_find_index(const struct dos_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_packages; i++)
		if (!strcmp(cfg->packages[i].name, name))
			return (int)i;
	return -1;
}

static int add_package(struct parser *p, const char *ptr, const json_t *obj,
		       const json_t *group, const char *group_ptr)
{
	struct dos_config *cfg = p->cfg;
	_cleanup_free_ char *name_ptr = child_pointer(ptr, "name");
	const json_t *name;
	struct dos_package *pkg;
	json_t *eff;
	int r;

	if (!json_is_object(obj))
		return perr(p, ptr, "a package must be an object with a \"name\", not %s",
			    type_name(obj));
	if ((r = check_options(p, ptr, obj, L_PACKAGE)) < 0)
		return r;
	name = json_object_get(obj, "name");
	if (!name)
		return perr(p, ptr, "package has no \"name\"; expected a string naming it");
	if (!valid_package_name(json_string_value(name)))
		return perr(p, name_ptr, "package name '%s' must be letters, digits and '+-._'",
			    json_string_value(name));
	if (package_find_index(cfg, json_string_value(name)) >= 0)
		return perr(p, name_ptr, "duplicate package name '%s'; names must be unique",
			    json_string_value(name));

	eff = json_object();
	json_object_set_new(eff, "name", json_string(json_string_value(name)));
	merge_options(p, eff, p->cfg->root, L_TOP);
	if (group)
		merge_options(p, eff, group, L_GROUP);
	merge_options(p, eff, obj, L_PACKAGE);
	if (json_object_get(eff, "src") && json_object_get(eff, "recipe")) {
		json_decref(eff);
		return perr(p, json_object_get(obj, "recipe") ? ptr : group_ptr ? group_ptr : "",
			    "package '%s' has both \"src\" and \"recipe\"; expected one of them",
			    json_string_value(name));
	}
	package_set_defaults(p, eff);
	if (group)
		json_object_set(eff, "packageGroup", json_object_get(group, "name"));

	cfg->packages = dos_xrealloc(cfg->packages, (cfg->n_packages + 1) * sizeof(*pkg));
	pkg = &cfg->packages[cfg->n_packages++];
	memset(pkg, 0, sizeof(*pkg));
	pkg->name = dos_xstrdup(json_string_value(name));
	pkg->group = group ? dos_xstrdup(json_string_value(json_object_get(group, "name"))) : NULL;
	pkg->options = eff;
	package_fill_views(pkg);
	return 0;
}

static int add_package_list(struct parser *p, const char *ptr, const json_t *list,
			    const json_t *group, const char *group_ptr)
{
	size_t i;
	json_t *item;
	int r;

	json_array_foreach(list, i, item) {
		_cleanup_free_ char *ip = index_pointer(ptr, i);
		if ((r = add_package(p, ip, item, group, group_ptr)) < 0)
			return r;
	}
	return 0;
}

static int add_group(struct parser *p, const char *ptr, const json_t *group)
{
	_cleanup_free_ char *pkgs_ptr = child_pointer(ptr, "packages");
	const json_t *name, *pkgs;
	int r;

	if (!json_is_object(group))
		return perr(p, ptr, "a package group must be an object with \"name\" and "
			    "\"packages\", not %s", type_name(group));
	if ((r = check_options(p, ptr, group, L_GROUP)) < 0)
		return r;
	name = json_object_get(group, "name");
	if (!name)
		return perr(p, ptr, "package group has no \"name\"; expected a string naming it");
	pkgs = json_object_get(group, "packages");
	if (!pkgs)
		return perr(p, ptr, "package group '%s' has no \"packages\"; expected an array",
			    json_string_value(name));
	if (!json_is_array(pkgs))
		return perr(p, pkgs_ptr, "'packages' must be an array of packages, not %s",
			    type_name(pkgs));
	return add_package_list(p, pkgs_ptr, pkgs, group, ptr);
}

static int add_all_packages(struct parser *p)
{
	const json_t *groups = json_object_get(p->cfg->root, "packageGroups");
	const json_t *pkgs = json_object_get(p->cfg->root, "packages");
	size_t i;
	json_t *g;
	int r;

	json_array_foreach(groups, i, g) {
		_cleanup_free_ char *gp = index_pointer("/packageGroups", i);
		if ((r = add_group(p, gp, g)) < 0)
			return r;
	}
	if (pkgs)
		return add_package_list(p, "/packages", pkgs, NULL, NULL);
	return 0;
}

/* --- entry points --- */

static int parse_root(struct parser *p, const char *text, size_t len)
{
	json_error_t jerr;

	p->cfg->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!p->cfg->root)
		return dos_error(p->ctx, DOS_ECONFIG, "%s:%d:%d: %s", p->file, jerr.line,
				 jerr.column, jerr.text);
	jsonpos_scan(&p->pos, text, len);
	if (!json_is_object(p->cfg->root))
		return perr(p, "", "the configuration must be a JSON object, not %s",
			    type_name(p->cfg->root));
	return check_options(p, "", p->cfg->root, L_TOP);
}

static int config_parse(struct dos_ctx *ctx, const char *text, size_t len, const char *name,
			const char *base_dir, const char *run_dir, struct dos_config **out)
{
	struct dos_config *cfg = dos_xcalloc(1, sizeof(*cfg));
	_cleanup_free_ char *run = NULL;
	struct parser p = { .ctx = ctx, .cfg = cfg, .file = name };
	int r;

	cfg->path = dos_xstrdup(name);
	cfg->dir = dos_path_absolute(NULL, base_dir ? base_dir : ".");
	run = run_dir ? dos_path_absolute(NULL, run_dir) : dos_xstrdup(cfg->dir);
	p.run_dir = run;
	r = parse_root(&p, text, len);
	if (r == 0) {
		cfg->bundle = config_bundle_effective(&p);
		config_bundle_fill(cfg);
		r = add_all_packages(&p);
	}
	jsonpos_release(&p.pos);
	if (r < 0) {
		dos_config_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

int dos_config_load_text(struct dos_ctx *ctx, const char *text, size_t len, const char *name,
			 const char *base_dir, struct dos_config **out)
{
	return config_parse(ctx, text, len, name, base_dir, NULL, out);
}

int dos_config_load_file_at(struct dos_ctx *ctx, const char *path, const char *name,
			    const char *run_dir, struct dos_config **out)
{
	_cleanup_free_ char *text = NULL, *dir = NULL;
	size_t len = 0;
	int r;

	r = dos_read_file(ctx, path, 16 << 20, &text, &len);
	if (r < 0) {
		/* An unreadable configuration is a configuration error (exit 2). */
		ctx->code = DOS_ECONFIG;
		return dos_error_prefix(ctx, "configuration");
	}
	dir = dos_path_dirname(path);
	return config_parse(ctx, text, len, name ? name : path, dir, run_dir, out);
}

int dos_config_load_file(struct dos_ctx *ctx, const char *path, struct dos_config **out)
{
	return dos_config_load_file_at(ctx, path, NULL, NULL, out);
}

const char *dos_config_default_text(void)
{
	return dos_builtin_files[0].data;
}

int dos_config_load_default(struct dos_ctx *ctx, struct dos_config **out)
{
	return dos_config_load_text(ctx, dos_builtin_files[0].data, dos_builtin_files[0].size,
				    "<built-in>", NULL, out);
}

static void source_release(struct dos_source *s)
{
	dos_strv_release(&s->urls);
	free(s->sha256);
	free(s->filename);
	free(s->debian_source);
	free(s->suite);
	free(s->file);
}

static void package_release(struct dos_package *pkg)
{
	free(pkg->name);
	free(pkg->group);
	json_decref(pkg->options);
	for (size_t i = 0; i < pkg->n_sources; i++)
		source_release(&pkg->sources[i]);
	free(pkg->sources);
	dos_strv_release(&pkg->build_dependencies);
	dos_strv_release(&pkg->depends);
	dos_strv_release(&pkg->pkg_list);
	dos_strv_release(&pkg->exclude_patterns);
}

static void platform_release(struct dos_platform *pl)
{
	free(pl->backend);
	free(pl->suite);
	free(pl->arch);
	free(pl->mirror);
	dos_strv_release(&pl->components);
	dos_strv_release(&pl->platform_packages);
}

static void tests_release(struct dos_tests *t)
{
	dos_strv_release(&t->platforms);
	dos_strv_release(&t->imports);
	dos_strv_release(&t->commands);
	dos_strv_release(&t->scripts);
	dos_strv_release(&t->known_broken_links);
	dos_strv_release(&t->known_missing_dependencies);
	dos_strv_release(&t->known_no_bytecode);
}

void dos_config_free(struct dos_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_packages; i++)
		package_release(&cfg->packages[i]);
	free(cfg->packages);
	for (size_t i = 0; i < cfg->n_pip_sources; i++)
		source_release(&cfg->pip_sources[i]);
	free(cfg->pip_sources);
	platform_release(&cfg->platform);
	tests_release(&cfg->tests);
	struct dos_strv *lists[] = {
		&cfg->distribution_packages, &cfg->manual_dependencies, &cfg->ignored_packages,
		&cfg->removed_folders, &cfg->pip_requirement_lines, &cfg->pip_build_dependencies,
		&cfg->pip_options, &cfg->unset_environment, &cfg->compression,
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		dos_strv_release(lists[i]);
	char *strings[] = {
		cfg->path, cfg->dir, cfg->name, cfg->version, cfg->comment, cfg->repo,
		cfg->patch_dir, cfg->routine_dir, cfg->work_dir, cfg->pip_requirements,
		cfg->output_directory, cfg->extension_name, cfg->diracos_version,
	};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		free(strings[i]);
	json_decref(cfg->bundle);
	json_decref(cfg->root);
	free(cfg);
}

json_t *dos_config_effective(const struct dos_config *cfg)
{
	json_t *pkgs = json_array();

	for (size_t i = 0; i < cfg->n_packages; i++)
		json_array_append(pkgs, cfg->packages[i].options);
	return json_pack("{s:O, s:o}", "bundle", cfg->bundle, "packages", pkgs);
}

const struct dos_package *dos_config_find_package(const struct dos_config *cfg, const char *name)
{
	int i = package_find_index(cfg, name);

	return i < 0 ? NULL : &cfg->packages[i];
}
