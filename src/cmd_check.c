/* diracos check: the static audit of a bundle, printed for people or as
 * JSON; exit 1 when it found any failure. */
#include "check.h"
#include "cmd.h"
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_CONFIG = 1, OPT_STRICT };

struct check_args {
	const char *config;
	bool strict;
};

static int on_option(struct cmd_args *args, int id, const char *value, void *data)
{
	struct check_args *ca = data;

	if (id == OPT_CONFIG)
		ca->config = value;
	else
		ca->strict = true;
	return 0;
}

/* --- JSON --- */

static json_t *items_json(const struct dos_check_list *l, const char *k1, const char *k2)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", k1, l->v[i].path, k2,
						   l->v[i].detail));
	return a;
}

static json_t *strv_json(const struct dos_strv *sv)
{
	json_t *a = json_array();

	for (size_t i = 0; i < sv->n; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	return a;
}

static json_t *platforms_json(const struct dos_check_report *r)
{
	json_t *a = json_array();

	for (size_t i = 0; i < r->n_platforms; i++) {
		const struct dos_check_platform *p = &r->platforms[i];
		json_array_append_new(a, json_pack("{s:s, s:o, s:s}", "name", p->name,
			"glibc", p->glibc ? json_string(p->glibc) : json_null(),
			"status", !p->glibc ? "unknown" : p->ok ? "ok" : "too old"));
	}
	return a;
}

static json_t *nullable(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *summary_json(const struct dos_check_report *r)
{
	json_t *largest = json_array();

	for (size_t i = 0; i < r->n_largest; i++)
		json_array_append_new(largest, json_pack("{s:s, s:I}", "path", r->largest[i].path,
							 "bytes", (json_int_t)r->largest[i].bytes));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}",
		"files", (json_int_t)r->files, "folders", (json_int_t)r->folders,
		"symlinks", (json_int_t)r->symlinks, "bytes", (json_int_t)r->bytes,
		"elfFiles", (json_int_t)r->elf_files, "largestFolders", largest);
}

static json_t *python_json(const struct dos_check_report *r)
{
	return json_pack("{s:o, s:I, s:I, s:o, s:o, s:o, s:o}",
		"versions", strv_json(&r->pythons), "sources", (json_int_t)r->py_sources,
		"validBytecode", (json_int_t)r->bytecode_ok,
		"noBytecode", items_json(&r->no_bytecode, "path", "reason"),
		"orphans", items_json(&r->orphan_bytecode, "path", "reason"),
		"knownNoBytecode", items_json(&r->known_no_bytecode, "path", "reason"),
		"stale", strv_json(&r->stale_no_bytecode));
}

static json_t *report_json(const struct dos_check_report *r, const char *source)
{
	size_t failures = dos_check_failures(r);

	return json_pack("{s:s, s:s, s:s, s:b, s:I, s:b,"
			 " s:{s:o, s:o, s:o, s:o, s:o, s:o},"
			 " s:{s:o, s:o, s:o},"
			 " s:{s:o, s:o, s:o, s:o},"
			 " s:{s:o, s:o, s:o},"
			 " s:{s:o, s:o, s:o},"
			 " s:o, s:o, s:o}",
		"bundle", r->name, "source", source, "kind", r->tarball ? "tarball" : "folder",
		"ok", failures == 0, "failures", (json_int_t)failures, "strict", r->strict,
		"links",
		"absolute", items_json(&r->absolute_links, "path", "target"),
		"outside", items_json(&r->outside_links, "path", "target"),
		"broken", items_json(&r->broken_links, "path", "target"),
		"hard", items_json(&r->hard_links, "path", "detail"),
		"knownBroken", items_json(&r->known_broken_links, "path", "target"),
		"stale", strv_json(&r->stale_broken_links),
		"libraries",
		"missing", items_json(&r->missing_libraries, "file", "library"),
		"knownMissing", items_json(&r->known_missing_libraries, "file", "library"),
		"stale", strv_json(&r->stale_missing_libraries),
		"glibc",
		"floor", nullable(r->glibc_floor), "requiredBy", nullable(r->glibc_floor_file),
		"platforms", platforms_json(r), "private", strv_json(&r->glibc_private),
		"leaks",
		"searched", strv_json(&r->leak_strings),
		"files", items_json(&r->leaks, "path", "string"),
		"shebangs", items_json(&r->shebangs, "path", "interpreter"),
		"permissions",
		"setuid", items_json(&r->setuid, "path", "bits"),
		"worldWritable", items_json(&r->world_writable, "path", "mode"),
		"special", items_json(&r->special_files, "path", "type"),
		"python", python_json(r),
		"warnings", strv_json(&r->warnings),
		"summary", summary_json(r));
}

/* --- for people --- */

static void size_format(char *buf, size_t n, uint64_t bytes)
{
	if (bytes >= 1u << 20)
		snprintf(buf, n, "%.1f MiB", (double)bytes / (1 << 20));
	else
		snprintf(buf, n, "%.1f KiB", (double)bytes / 1024);
}

static void section(FILE *out, const char *name, size_t failures)
{
	if (failures)
		fprintf(out, "%s: %zu failure%s\n", name, failures, failures == 1 ? "" : "s");
	else
		fprintf(out, "%s: ok\n", name);
}

/* Lines "  TAG what: path SEP detail" for every item. */
static void items_print(FILE *out, const char *tag, const char *what,
			const struct dos_check_list *l, const char *sep)
{
	for (size_t i = 0; i < l->n; i++)
		fprintf(out, "  %-4s %s: %s%s%s\n", tag, what, l->v[i].path, sep, l->v[i].detail);
}

static void stale_print(FILE *out, const struct dos_check_report *r, const char *key,
			const struct dos_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		fprintf(out, "  %-4s stale %s entry: %s\n", r->strict ? "FAIL" : "warn", key, sv->v[i]);
}

static void links_print(FILE *out, const struct dos_check_report *r)
{
	section(out, "links", r->absolute_links.n + r->outside_links.n + r->broken_links.n +
		r->hard_links.n + (r->strict ? r->stale_broken_links.n : 0));
	items_print(out, "FAIL", "absolute symlink", &r->absolute_links, " -> ");
	items_print(out, "FAIL", "symlink leaving the bundle", &r->outside_links, " -> ");
	items_print(out, "FAIL", "broken symlink", &r->broken_links, " -> ");
	items_print(out, "ok", "known broken symlink", &r->known_broken_links, " -> ");
	stale_print(out, r, "knownBrokenLinks", &r->stale_broken_links);
	for (size_t i = 0; i < r->hard_links.n; i++)
		fprintf(out, "  FAIL hard link: %s (%s)\n", r->hard_links.v[i].path,
			r->hard_links.v[i].detail);
}

static void libraries_print(FILE *out, const struct dos_check_report *r)
{
	section(out, "libraries", r->missing_libraries.n +
		(r->strict ? r->stale_missing_libraries.n : 0));
	items_print(out, "FAIL", "missing library", &r->missing_libraries, " needs ");
	items_print(out, "ok", "known missing library", &r->known_missing_libraries, " needs ");
	stale_print(out, r, "knownMissingDependencies", &r->stale_missing_libraries);
}

static void glibc_print(FILE *out, const struct dos_check_report *r)
{
	section(out, "glibc", r->too_old_platforms.n);
	if (r->glibc_floor)
		fprintf(out, "       needs glibc %s or newer (%s)\n", r->glibc_floor,
			r->glibc_floor_file);
	else
		fprintf(out, "       needs no versioned glibc symbol\n");
	for (size_t i = 0; i < r->n_platforms; i++) {
		const struct dos_check_platform *p = &r->platforms[i];
		if (!p->glibc)
			fprintf(out, "  warn %s: unknown platform, glibc version not known\n", p->name);
		else
			fprintf(out, "  %-4s %s: glibc %s%s\n", p->ok ? "ok" : "FAIL", p->name,
				p->glibc, p->ok ? "" : ", too old");
	}
	for (size_t i = 0; i < r->glibc_private.n; i++)
		fprintf(out, "  warn %s needs GLIBC_PRIVATE: tied to one glibc build\n",
			r->glibc_private.v[i]);
}

static void leaks_print(FILE *out, const struct dos_check_report *r)
{
	section(out, "leaks", r->leaks.n + r->shebangs.n);
	items_print(out, "FAIL", "build path", &r->leaks, " holds ");
	items_print(out, "FAIL", "interpreter not in the bundle", &r->shebangs, ": #!");
}

static void permissions_print(FILE *out, const struct dos_check_report *r)
{
	section(out, "permissions", r->setuid.n + r->world_writable.n + r->special_files.n);
	for (size_t i = 0; i < r->setuid.n; i++)
		fprintf(out, "  FAIL %s: %s\n", r->setuid.v[i].detail, r->setuid.v[i].path);
	items_print(out, "FAIL", "world-writable", &r->world_writable, " mode ");
	for (size_t i = 0; i < r->special_files.n; i++)
		fprintf(out, "  FAIL %s: %s\n", r->special_files.v[i].detail,
			r->special_files.v[i].path);
}

#define PRINT_MAX 20   /* lines per kind of Python finding; --json has them all */

static void items_print_some(FILE *out, const char *tag, const char *what,
			     const struct dos_check_list *l)
{
	for (size_t i = 0; i < l->n && i < PRINT_MAX; i++)
		fprintf(out, "  %-4s %s: %s: %s\n", tag, what, l->v[i].path, l->v[i].detail);
	if (l->n > PRINT_MAX)
		fprintf(out, "  %-4s ... and %zu more %s (--json lists them all)\n", tag,
			l->n - PRINT_MAX, what);
}

static void python_print(FILE *out, const struct dos_check_report *r)
{
	if (!r->pythons.n) {
		fprintf(out, "python: no python3.X in usr/bin, bytecode not checked\n");
		return;
	}
	section(out, "python", r->no_bytecode.n + r->orphan_bytecode.n +
		(r->strict ? r->stale_no_bytecode.n : 0));
	fprintf(out, "       ");
	for (size_t i = 0; i < r->pythons.n; i++)
		fprintf(out, "%s%s", i ? ", " : "", r->pythons.v[i]);
	fprintf(out, ": %llu sources, %llu valid .pyc files\n", (unsigned long long)r->py_sources,
		(unsigned long long)r->bytecode_ok);
	items_print_some(out, "FAIL", "no valid bytecode", &r->no_bytecode);
	items_print_some(out, "FAIL", "bytecode without its source", &r->orphan_bytecode);
	items_print_some(out, "ok", "known without bytecode", &r->known_no_bytecode);
	stale_print(out, r, "knownNoBytecode", &r->stale_no_bytecode);
	if (r->no_bytecode.n)
		fprintf(out, "       a source that does not compile (the bundle step's notes name "
			"them) goes in tests.knownNoBytecode\n");
}

static void summary_print(FILE *out, const struct dos_check_report *r)
{
	char size[32];

	size_format(size, sizeof(size), r->bytes);
	fprintf(out, "summary: %llu files, %s, %llu folders, %llu symlinks, %llu ELF files\n",
		(unsigned long long)r->files, size, (unsigned long long)r->folders,
		(unsigned long long)r->symlinks, (unsigned long long)r->elf_files);
	for (size_t i = 0; i < r->n_largest; i++) {
		size_format(size, sizeof(size), r->largest[i].bytes);
		fprintf(out, "  %10s  %s\n", size, r->largest[i].path);
	}
}

static void report_print(const struct dos_check_report *r, const char *source, FILE *out)
{
	size_t failures = dos_check_failures(r);

	fprintf(out, "bundle '%s' (%s %s)\n", r->name, r->tarball ? "tarball" : "folder", source);
	links_print(out, r);
	libraries_print(out, r);
	glibc_print(out, r);
	leaks_print(out, r);
	permissions_print(out, r);
	python_print(out, r);
	for (size_t i = 0; i < r->warnings.n; i++)
		fprintf(out, "warning: %s\n", r->warnings.v[i]);
	summary_print(out, r);
	if (failures)
		fprintf(out, "check: %zu failure%s\n", failures, failures == 1 ? "" : "s");
	else
		fprintf(out, "check: no failures\n");
}

/* --- after build --- */

int cmd_check_after_build(struct cmd_args *args, const char *bundle)
{
	struct dos_check_opts o = { .bundle = bundle, .tests = &args->cfg->tests,
				    .work_dir = args->cfg->work_dir, .name = args->cfg->name };
	struct dos_check_report rep;
	size_t failures;
	int r = dos_check_run(args->ctx, &o, &rep);

	if (r < 0)
		return r;
	failures = dos_check_failures(&rep);
	if (args->ctx->json) {
		json_t *j = report_json(&rep, bundle);
		cmd_emit_json(args, "check", j);
		json_decref(j);
	} else if (failures) {
		report_print(&rep, bundle, stdout);
	} else {
		printf("check: no failures\n");
	}
	dos_check_report_release(&rep);
	return failures ? 1 : 0;
}

/* --- the command --- */

static int run_check(struct cmd_args *args)
{
	static const struct cmd_option own[] = {
		{ "config", required_argument, 'c', OPT_CONFIG },
		{ "strict", no_argument, 0, OPT_STRICT },
		{ 0 },
	};
	struct check_args ca = { 0 };
	struct dos_check_opts o = { 0 };
	struct dos_check_report rep;
	int r;

	r = cmd_parse_options(args, &cmd_check, own, on_option, &ca);
	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	if (args->argc != 1)
		return dos_error(args->ctx, DOS_EUSAGE, "check: takes one BUNDLE (a tarball or a "
				 "folder); see 'diracos check --help'");
	if (ca.config) {
		r = cmd_load_config(args, ca.config);
		if (r < 0)
			return r;
		o.tests = &args->cfg->tests;
		o.work_dir = args->cfg->work_dir;
		o.name = args->cfg->name;
	}
	o.bundle = args->argv[0];
	o.strict = ca.strict;
	r = dos_check_run(args->ctx, &o, &rep);
	if (r == 0 && args->ctx->json) {
		json_t *j = report_json(&rep, o.bundle);
		cmd_print_json(j);
		json_decref(j);
	} else if (r == 0) {
		report_print(&rep, o.bundle, stdout);
	}
	if (r == 0)
		r = dos_check_failures(&rep) ? 1 : 0;
	dos_check_report_release(&rep);
	return r;
}

const struct cmd cmd_check = {
	"check", run_check, NEEDS_NOTHING,
	"audit a bundle without running it",
	"usage: diracos check [-c CONFIG] [--strict] BUNDLE\n"
	"\n"
	"Audits a bundle tarball (.tar.zst, .tar.gz, .tar.xz; read, not unpacked)\n"
	"or an unpacked bundle's top folder (the one holding diracosrc): links,\n"
	"libraries as the dynamic loader finds them, the glibc floor against the\n"
	"tests.platforms, leaks of build-time paths, #! interpreters, setuid,\n"
	"world-writable and special files, Python bytecode (every module source\n"
	"with its valid hash-based .pyc, no .pyc without source); then a summary.\n"
	"\n"
	"  -c, --config CONFIG  take tests settings and build paths from CONFIG,\n"
	"                       not from the bundle's own diracos.json\n"
	"      --strict         stale knownBrokenLinks, knownMissingDependencies and\n"
	"                       knownNoBytecode entries are failures too\n"
	"      --json           the report as JSON on stdout\n"
	"\n"
	"exit status: 0 no failures, 1 failures (or an unreadable bundle), 2 bad usage.\n",
};
