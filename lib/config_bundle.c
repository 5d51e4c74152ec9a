/* The bundle level of a configuration, its defaults filled in: the
 * effective "bundle" object (platform, output, tests, pip settings) and
 * the typed fields of struct dos_config read from it. See config.h. */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>

static json_t *strlist(const char *const *items)
{
	json_t *a = json_array();

	for (; *items; items++)
		json_array_append_new(a, json_string(*items));
	return a;
}

static void set_default(json_t *obj, const char *key, json_t *value)
{
	if (!json_object_get(obj, key))
		json_object_set_new(obj, key, value);
	else
		json_decref(value);
}

static json_t *platform_effective(const json_t *given)
{
	static const char *const main_only[] = { "main", NULL };
	static const char *const libc_deb[] = { "libc6", NULL };
	static const char *const libc_rpm[] = { "glibc", NULL };
	json_t *pl = given ? json_deep_copy(given) : json_object();
	bool rpm;

	set_default(pl, "backend", json_string("deb"));
	rpm = !strcmp(json_string_value(json_object_get(pl, "backend")), "rpm");
	set_default(pl, "suite", json_string(rpm ? "el9" : "bookworm"));
	set_default(pl, "arch", json_string(rpm ? "x86_64" : "amd64"));
	set_default(pl, "components", strlist(main_only));
	set_default(pl, "platformPackages", strlist(rpm ? libc_rpm : libc_deb));
	return pl;
}

/* A folder key of the top level, made absolute, or its default. */
static void bundle_set_path(struct parser *p, json_t *b, const char *key, const char *fallback)
{
	const json_t *given = json_object_get(p->cfg->root, key);
	const char *base = strcmp(key, "workDir") ? p->cfg->dir : p->run_dir;
	_cleanup_free_ char *abs = dos_path_absolute(base,
		given ? json_string_value(given) : fallback);

	json_object_set_new(b, key, json_string(abs));
}

static void bundle_set_paths(struct parser *p, json_t *b)
{
	_cleanup_free_ char *repo = NULL;

	bundle_set_path(p, b, "workDir", "diracos-work");
	repo = dos_path_join(json_string_value(json_object_get(b, "workDir")), "repo");
	bundle_set_path(p, b, "repo", repo);
	bundle_set_path(p, b, "patchDir", "patches");
	bundle_set_path(p, b, "routineDir", "routines");
}

static json_t *output_effective(struct parser *p, const json_t *given)
{
	static const char *const methods[] = { "zstd", "gzip", NULL };
	json_t *out = given ? json_deep_copy(given) : json_object();
	const json_t *dir = json_object_get(out, "directory");
	_cleanup_free_ char *abs = dos_path_absolute(p->run_dir, dir ? json_string_value(dir) : ".");

	set_default(out, "compression", strlist(methods));
	json_object_set_new(out, "directory", json_string(abs));
	return out;
}

/* Test scripts are files next to the configuration: made absolute, so
 * that the copy stored inside the bundle still names them. */
static void tests_scripts_absolute(struct parser *p, json_t *t)
{
	json_t *scripts = json_object_get(t, "scripts");
	json_t *item;
	size_t i;

	json_array_foreach(scripts, i, item)
		json_array_set_new(scripts, i, config_resolve_path_value(p, item));
}

static json_t *tests_effective(struct parser *p, const json_t *given, const json_t *platform)
{
	static const char *const lists[] = { "imports", "commands", "scripts",
					     "knownBrokenLinks", "knownMissingDependencies",
					     "knownNoBytecode", NULL };
	json_t *t = given ? json_deep_copy(given) : json_object();
	json_t *platforms = json_array();

	json_array_append(platforms, json_object_get(platform, "suite"));
	set_default(t, "platforms", platforms);
	for (const char *const *k = lists; *k; k++)
		set_default(t, *k, json_array());
	tests_scripts_absolute(p, t);
	return t;
}

/* Bundle-level keys that are copied as given (after type checks). */
static const char *const bundle_plain_keys[] = {
	"distributionPackages", "manualDependencies", "ignoredPackages", "pipBuildDependencies",
	"pipSources", "pipOptions", "environment", "unsetEnvironment", "extensionName",
	"diracOsVersion", NULL,
};

json_t *config_bundle_effective(struct parser *p)
{
	static const char *const removed[] = { "usr/share/doc", "usr/share/man",
					       "usr/share/info", NULL };
	const json_t *root = p->cfg->root, *v;
	json_t *b = json_object();

	json_object_set_new(b, "name", json_string(config_opt_string(root, "name") ?: "diracos"));
	json_object_set_new(b, "version", json_string(config_opt_string(root, "version") ?: "dev"));
	if ((v = json_object_get(root, "comment")))
		json_object_set(b, "comment", (json_t *)v);
	json_object_set_new(b, "platform", platform_effective(json_object_get(root, "platform")));
	bundle_set_paths(p, b);
	for (const char *const *k = bundle_plain_keys; *k; k++)
		if ((v = json_object_get(root, *k)))
			json_object_set(b, *k, (json_t *)v);
	if ((v = json_object_get(root, "pipRequirements")))
		json_object_set_new(b, "pipRequirements",
				    json_is_string(v) ? config_resolve_path_value(p, v) : json_incref((json_t *)v));
	v = json_object_get(root, "removedFolders");
	json_object_set_new(b, "removedFolders", v ? json_incref((json_t *)v) : strlist(removed));
	json_object_set_new(b, "output", output_effective(p, json_object_get(root, "output")));
	json_object_set_new(b, "tests", tests_effective(p, json_object_get(root, "tests"),
							json_object_get(b, "platform")));
	return b;
}

static char *dup_opt(const json_t *obj, const char *key)
{
	const char *s = config_opt_string(obj, key);

	return s ? dos_xstrdup(s) : NULL;
}

static void strv_opt(struct dos_strv *sv, const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (v)
		dos_config_strv_from_json(sv, v);
}

static void platform_fill(struct dos_platform *pl, const json_t *obj)
{
	pl->backend = dup_opt(obj, "backend");
	pl->suite = dup_opt(obj, "suite");
	pl->arch = dup_opt(obj, "arch");
	pl->mirror = dup_opt(obj, "mirror");
	strv_opt(&pl->components, obj, "components");
	strv_opt(&pl->platform_packages, obj, "platformPackages");
}

static void tests_fill(struct dos_tests *t, const json_t *obj)
{
	strv_opt(&t->platforms, obj, "platforms");
	strv_opt(&t->imports, obj, "imports");
	strv_opt(&t->commands, obj, "commands");
	strv_opt(&t->scripts, obj, "scripts");
	strv_opt(&t->known_broken_links, obj, "knownBrokenLinks");
	strv_opt(&t->known_missing_dependencies, obj, "knownMissingDependencies");
	strv_opt(&t->known_no_bytecode, obj, "knownNoBytecode");
}

void config_bundle_fill(struct dos_config *cfg)
{
	const json_t *b = cfg->bundle, *v;

	cfg->name = dup_opt(b, "name");
	cfg->version = dup_opt(b, "version");
	cfg->comment = dup_opt(b, "comment");
	platform_fill(&cfg->platform, json_object_get(b, "platform"));
	cfg->repo = dup_opt(b, "repo");
	cfg->patch_dir = dup_opt(b, "patchDir");
	cfg->routine_dir = dup_opt(b, "routineDir");
	cfg->work_dir = dup_opt(b, "workDir");
	strv_opt(&cfg->distribution_packages, b, "distributionPackages");
	strv_opt(&cfg->manual_dependencies, b, "manualDependencies");
	strv_opt(&cfg->ignored_packages, b, "ignoredPackages");
	strv_opt(&cfg->removed_folders, b, "removedFolders");
	v = json_object_get(b, "pipRequirements");
	if (json_is_string(v))
		cfg->pip_requirements = dos_xstrdup(json_string_value(v));
	else if (v)
		dos_config_strv_from_json(&cfg->pip_requirement_lines, v);
	strv_opt(&cfg->pip_build_dependencies, b, "pipBuildDependencies");
	strv_opt(&cfg->pip_options, b, "pipOptions");
	if ((v = json_object_get(b, "pipSources")))
		config_sources_from_json(&cfg->pip_sources, &cfg->n_pip_sources, v);
	cfg->environment = json_object_get(b, "environment");
	strv_opt(&cfg->unset_environment, b, "unsetEnvironment");
	strv_opt(&cfg->compression, json_object_get(b, "output"), "compression");
	cfg->output_directory = dup_opt(json_object_get(b, "output"), "directory");
	tests_fill(&cfg->tests, json_object_get(b, "tests"));
	cfg->extension_name = dup_opt(b, "extensionName");
	cfg->diracos_version = dup_opt(b, "diracOsVersion");
}
