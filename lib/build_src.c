/* Distribution source packages: "src": "NAME[=VERSION][@SUITE]". See
 * build.h. The stanza is chosen from the suite's signed Sources index
 * (when the plan is made, so that the content key follows the archive),
 * its files are fetched and verified by sha256, and in a sandboxed buildd
 * root of the platform's suite:
 *
 *   dpkg-source --no-check -x /diracos/sources/<dsc> /diracos/build/src
 *   patch -p1 -i /diracos/package.patch       when <patchDir>/<name>.patch exists
 *   sh -e /diracos/preRoutine.sh              when preRoutine is set
 *   apt-get build-dep -y ./                   the only step with the network
 *   dpkg-buildpackage -b -us -uc              (or sh -e /diracos/routine.sh)
 *   sh -e /diracos/postRoutine.sh             when postRoutine is set
 *
 * then the .deb files pkgList and excludePatterns keep (never a dbgsym)
 * are committed to the local repository with the build record. */
#include "build.h"
#include "build_rpm.h"
#include "dist.h"
#include "mirror.h"
#include "rootfs.h"
#include "sandbox.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define SRC_RESOLVED "srcResolved"
#define SOURCES_MAX ((size_t)1 << 31)

/* --- Debian versions, as dpkg compares them (lib/dpkg/version.c) --- */

/* '~' sorts before everything, even the end; letters before the rest. */
static int ver_order(int c)
{
	if (isdigit(c))
		return 0;
	if (isalpha(c))
		return c;
	if (c == '~')
		return -1;
	return c ? c + 256 : 0;
}

static int verrevcmp(const char *a, const char *b)
{
	while (*a || *b) {
		int first_diff = 0;
		while ((*a && !isdigit((unsigned char)*a)) || (*b && !isdigit((unsigned char)*b))) {
			int ac = ver_order((unsigned char)*a), bc = ver_order((unsigned char)*b);
			if (ac != bc)
				return ac - bc;
			a++;
			b++;
		}
		while (*a == '0')
			a++;
		while (*b == '0')
			b++;
		while (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			if (!first_diff)
				first_diff = *a - *b;
			a++;
			b++;
		}
		if (isdigit((unsigned char)*a))
			return 1;
		if (isdigit((unsigned char)*b))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
}

struct ver {
	unsigned long long epoch;
	char *upstream;        /* owned; the revision is cut off it */
	const char *revision;  /* "" when there is none */
};

static void ver_split(const char *s, struct ver *v)
{
	const char *colon = strchr(s, ':');
	char *dash;

	v->epoch = 0;
	if (colon && colon > s && strspn(s, "0123456789") == (size_t)(colon - s)) {
		v->epoch = strtoull(s, NULL, 10);
		s = colon + 1;
	}
	v->upstream = dos_xstrdup(s);
	dash = strrchr(v->upstream, '-');
	v->revision = "";
	if (dash) {
		*dash = '\0';
		v->revision = dash + 1;
	}
}

int dos_deb_version_compare(const char *a, const char *b)
{
	struct ver va, vb;
	int r;

	ver_split(a, &va);
	ver_split(b, &vb);
	if (va.epoch != vb.epoch)
		r = va.epoch < vb.epoch ? -1 : 1;
	else if (!(r = verrevcmp(va.upstream, vb.upstream)))
		r = verrevcmp(va.revision, vb.revision);
	free(va.upstream);
	free(vb.upstream);
	return (r > 0) - (r < 0);
}

/* --- the "src" string --- */

static bool suite_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || !isalnum((unsigned char)s[0]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

static int spec_error(struct dos_ctx *ctx, const char *text, const char *why)
{
	return dos_error(ctx, DOS_ECONFIG, "\"src\" '%s': %s; expected NAME[=VERSION][@SUITE]",
			 text, why);
}

int dos_build_src_parse(struct dos_ctx *ctx, const char *text, struct dos_build_src_spec *spec)
{
	_cleanup_free_ char *s = dos_xstrdup(text);
	char *at = strchr(s, '@'), *eq = strchr(s, '=');

	memset(spec, 0, sizeof(*spec));
	if (at)
		*at++ = '\0';
	if (eq && (!at || eq < at))
		*eq++ = '\0';
	else
		eq = NULL;
	if (!dos_build_name_valid(s))
		return spec_error(ctx, text, "the name is not a Debian source package name");
	if (eq && !dos_build_version_valid(eq))
		return spec_error(ctx, text, "the version is not a Debian version");
	if (at && !suite_valid(at))
		return spec_error(ctx, text, "the suite is not a suite name");
	spec->name = dos_xstrdup(s);
	spec->version = eq ? dos_xstrdup(eq) : NULL;
	spec->suite = at ? dos_xstrdup(at) : NULL;
	return 0;
}

void dos_build_src_spec_release(struct dos_build_src_spec *spec)
{
	free(spec->name);
	free(spec->version);
	free(spec->suite);
	memset(spec, 0, sizeof(*spec));
}

/* --- the stanza in a Sources index --- */

void dos_build_src_pick_release(struct dos_build_src_pick *pick)
{
	for (size_t i = 0; i < pick->n_files; i++)
		free(pick->files[i].name);
	free(pick->files);
	free(pick->package);
	free(pick->version);
	free(pick->suite);
	free(pick->directory);
	memset(pick, 0, sizeof(*pick));
}

static bool filename_ok(const char *s)
{
	return *s && strlen(s) < 256 && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* A pool folder: relative, plain components, no "..". */
static bool directory_ok(const char *d)
{
	if (!*d || d[0] == '/' || strlen(d) > 512 || strstr(d, "//"))
		return false;
	for (const char *p = d; *p; p += strcspn(p, "/"), p += *p == '/')
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2]))
			return false;
	return strspn(d, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_~/") ==
	       strlen(d);
}

static void pick_file_add(struct dos_build_src_pick *pick, const char *name, const char *sha,
			  unsigned long long size)
{
	struct dos_build_src_file *f;

	pick->files = dos_xrealloc(pick->files, (pick->n_files + 1) * sizeof(*pick->files));
	f = &pick->files[pick->n_files++];
	f->name = dos_xstrdup(name);
	memcpy(f->sha256, sha, DOS_SHA256_HEX);
	f->size = size;
}

static bool is_dsc(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, ".dsc");
}

/* Checksums-Sha256: " <sha256> <size> <name>" lines, one .dsc among them. */
static int pick_files(struct dos_ctx *ctx, const char *sums, struct dos_build_src_pick *pick)
{
	char sha[DOS_SHA256_HEX], name[256], extra;
	unsigned long long size;
	size_t dscs = 0;

	for (const char *l = sums; l && *l; l += strcspn(l, "\n"), l += *l == '\n') {
		_cleanup_free_ char *line = dos_xasprintf("%.*s", (int)strcspn(l, "\n"), l);
		if (!line[strspn(line, " \t")])
			continue;
		if (sscanf(line, "%64s %llu %255s %c", sha, &size, name, &extra) != 3 ||
		    !dos_sha256_valid(sha) || !filename_ok(name))
			return dos_error(ctx, DOS_EFORMAT, "Checksums-Sha256 line '%.100s' is not "
					 "'<sha256> <size> <file name>'", line);
		for (size_t i = 0; i < pick->n_files; i++)
			if (!strcmp(pick->files[i].name, name))
				return dos_error(ctx, DOS_EFORMAT, "file '%s' is listed twice", name);
		if (is_dsc(name) && dscs++ == 0)
			memcpy(pick->dsc_sha256, sha, DOS_SHA256_HEX);
		pick_file_add(pick, name, sha, size);
	}
	if (dscs != 1)
		return dos_error(ctx, DOS_EFORMAT, "%zu .dsc files in Checksums-Sha256, expected one",
				 dscs);
	return 0;
}

/* The stanza c (Package: and Version: checked) as a pick. */
static int pick_from(struct dos_ctx *ctx, const struct dos_control *c, const char *what,
		     struct dos_build_src_pick *pick)
{
	const char *dir = dos_control_get(c, "Directory");
	const char *name = dos_control_get(c, "Package"), *version = dos_control_get(c, "Version");
	int r;

	memset(pick, 0, sizeof(*pick));
	pick->package = dos_xstrdup(name);
	pick->version = dos_xstrdup(version);
	if (!dir || !directory_ok(dir))
		r = dos_error(ctx, DOS_EFORMAT, "Directory '%s' is not a relative pool path",
			      dir ? dir : "(none)");
	else
		r = pick_files(ctx, dos_control_get(c, "Checksums-Sha256"), pick);
	pick->directory = dos_xstrdup(dir ? dir : "");
	if (r < 0) {
		dos_build_src_pick_release(pick);
		return dos_error_prefix(ctx, "%s, line %zu: source package '%s' %s", what, c->line,
					name, version);
	}
	return 0;
}

/* Whether stanza c is a better candidate for spec than *best. */
static bool stanza_better(const struct dos_control *c, const struct dos_build_src_spec *spec,
			  const struct dos_build_src_pick *best)
{
	const char *name = dos_control_get(c, "Package"), *version = dos_control_get(c, "Version");
	const char *extra = dos_control_get(c, "Extra-Source-Only");

	if (!name || !version || strcmp(name, spec->name) || !dos_build_version_valid(version))
		return false;
	if (spec->version)
		return dos_deb_version_compare(version, spec->version) == 0 && !best->version;
	if (extra && !strcmp(extra, "yes"))
		return false;
	return !best->version || dos_deb_version_compare(version, best->version) > 0;
}

static int stanza_take(struct dos_ctx *ctx, const struct dos_control *c,
		       const struct dos_build_src_spec *specs, size_t n, const char *what,
		       struct dos_build_src_pick *picks)
{
	for (size_t i = 0; i < n; i++) {
		struct dos_build_src_pick cand;
		if (!stanza_better(c, &specs[i], &picks[i]))
			continue;
		if (pick_from(ctx, c, what, &cand) < 0)
			return DOS_EFORMAT;
		cand.suite = dos_xstrdup(picks[i].suite ? picks[i].suite : "");
		dos_build_src_pick_release(&picks[i]);
		picks[i] = cand;
	}
	return 0;
}

int dos_build_src_scan(struct dos_ctx *ctx, const char *text, size_t len, const char *what,
		       const struct dos_build_src_spec *specs, size_t n,
		       struct dos_build_src_pick *picks)
{
	struct dos_control_parser p;
	struct dos_control c = { 0 };
	int r;

	dos_control_parser_init(&p, text, len, what);
	while ((r = dos_control_parse_next(ctx, &p, &c)) > 0)
		if ((r = stanza_take(ctx, &c, specs, n, what, picks)) < 0)
			break;
	dos_control_release(&c);
	return r < 0 ? r : 0;
}

/* --- choosing the stanzas when the plan is made --- */

static const char *spec_suite(const struct dos_config *cfg, const struct dos_build_src_spec *s)
{
	return s->suite ? s->suite : cfg->platform.suite;
}

static int index_scan(struct dos_ctx *ctx, struct dos_archive *a, const char *comp,
		      const struct dos_build_src_spec *specs, size_t n,
		      struct dos_build_src_pick *picks)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	_cleanup_free_ char *what = dos_xasprintf("%s's index '%s/source/Sources'", a->suite, comp);
	size_t len = 0;
	int r = dos_archive_sources_index(ctx, a, comp, &path);

	if (r == 0)
		r = dos_read_file(ctx, path, SOURCES_MAX, &text, &len);
	if (r == 0)
		r = dos_build_src_scan(ctx, text, len, what, specs, n, picks);
	return r;
}

/* Reads every component's Sources of one suite once, for all its specs. */
static int suite_resolve(struct dos_ctx *ctx, const struct dos_config *cfg,
			 struct dos_cache *cache, const char *suite,
			 const struct dos_build_src_spec *specs, size_t n,
			 struct dos_build_src_pick *picks)
{
	const struct dos_strv *comps = &cfg->platform.components;
	_cleanup_free_ char *mirror = dos_mirror_for(ctx, cfg->platform.mirror, suite);
	struct dos_archive *a = NULL;
	int r = mirror ? dos_archive_open(ctx, cache, mirror, suite, getenv("DIRACOS_KEYRING"), &a)
		       : DOS_ECONFIG;

	for (size_t c = 0; r == 0 && c < (comps->n ? comps->n : 1); c++)
		r = index_scan(ctx, a, comps->n ? comps->v[c] : "main", specs, n, picks);
	dos_archive_free(a);
	return r;
}

/* The error for a spec no index had. */
static int pick_missing(struct dos_ctx *ctx, const struct dos_config *cfg,
			const struct dos_build_src_spec *s)
{
	const struct dos_strv *comps = &cfg->platform.components;
	char list[256] = "main";
	size_t used = 0;

	for (size_t i = 0; i < comps->n && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
					 comps->v[i]);
	if (s->version)
		return dos_error(ctx, DOS_EFAIL, "source package '%s' version '%s' is not in the "
				 "Sources index of '%s' (%s)", s->name, s->version, spec_suite(cfg, s),
				 list);
	return dos_error(ctx, DOS_EFAIL, "source package '%s' is not in the Sources index of '%s' "
			 "(%s)", s->name, spec_suite(cfg, s), list);
}

/* The specs whose suite is picks[first]'s, resolved together. */
static int suite_group(struct dos_ctx *ctx, const struct dos_config *cfg,
		       struct dos_cache *cache, const struct dos_build_src_spec *specs, size_t n,
		       size_t first, struct dos_build_src_pick *picks)
{
	const char *suite = picks[first].suite;
	struct dos_build_src_spec *gs = dos_xcalloc(n + 1, sizeof(*gs));
	struct dos_build_src_pick *gp = dos_xcalloc(n + 1, sizeof(*gp));
	size_t *where = dos_xcalloc(n + 1, sizeof(*where)), m = 0;
	int r;

	for (size_t k = first; k < n; k++)
		if (!strcmp(picks[k].suite, suite)) {
			gs[m] = specs[k];
			gp[m] = picks[k];
			where[m++] = k;
		}
	r = suite_resolve(ctx, cfg, cache, suite, gs, m, gp);
	for (size_t j = 0; j < m; j++)
		picks[where[j]] = gp[j];
	if (r < 0)
		dos_error_prefix(ctx, "source package '%s' (%s)", specs[first].name, suite);
	free(gs);
	free(gp);
	free(where);
	return r;
}

static bool suite_seen(const struct dos_build_src_pick *picks, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (!strcmp(picks[k].suite, picks[i].suite))
			return true;
	return false;
}

int dos_build_src_resolve(struct dos_ctx *ctx, const struct dos_config *cfg,
			  struct dos_cache *cache, const struct dos_build_src_spec *specs,
			  size_t n, struct dos_build_src_pick *picks)
{
	int r = 0;

	for (size_t i = 0; i < n; i++)
		picks[i] = (struct dos_build_src_pick){ .suite = dos_xstrdup(spec_suite(cfg, &specs[i])) };
	for (size_t i = 0; r == 0 && i < n; i++)
		if (!suite_seen(picks, i))
			r = suite_group(ctx, cfg, cache, specs, n, i, picks);
	return r;
}

json_t *dos_build_src_pick_json(const struct dos_build_src_pick *pick)
{
	json_t *files = json_array();

	for (size_t i = 0; i < pick->n_files; i++)
		json_array_append_new(files, json_pack("{s:s, s:s, s:I}", "name", pick->files[i].name,
						       "sha256", pick->files[i].sha256,
						       "size", (json_int_t)pick->files[i].size));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "package", pick->package,
			 "version", pick->version, "suite", pick->suite, "directory",
			 pick->directory, "dsc", pick->dsc_sha256, "files", files);
}

/* The inverse, checking everything again: options are the user's too. */
static int pick_from_json(struct dos_ctx *ctx, const json_t *j, struct dos_build_src_pick *pick)
{
	const char *pkg = NULL, *ver = NULL, *suite = NULL, *dir = NULL, *dsc = NULL;
	json_t *files = NULL, *f;
	size_t i;

	memset(pick, 0, sizeof(*pick));
	if (json_unpack((json_t *)j, "{s:s, s:s, s:s, s:s, s:s, s:o}", "package", &pkg, "version",
			&ver, "suite", &suite, "directory", &dir, "dsc", &dsc, "files", &files) < 0 ||
	    !json_is_array(files) || !directory_ok(dir) || !dos_sha256_valid(dsc))
		return dos_error(ctx, DOS_ECONFIG, "option \"" SRC_RESOLVED "\" is malformed");
	*pick = (struct dos_build_src_pick){ .package = dos_xstrdup(pkg), .version = dos_xstrdup(ver),
					     .suite = dos_xstrdup(suite), .directory = dos_xstrdup(dir) };
	memcpy(pick->dsc_sha256, dsc, DOS_SHA256_HEX);
	json_array_foreach(files, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *sha = json_string_value(json_object_get(f, "sha256"));
		json_int_t size = json_integer_value(json_object_get(f, "size"));
		if (!name || !filename_ok(name) || !sha || !dos_sha256_valid(sha) || size < 0) {
			dos_build_src_pick_release(pick);
			return dos_error(ctx, DOS_ECONFIG, "option \"" SRC_RESOLVED "\" is malformed");
		}
		pick_file_add(pick, name, sha, (unsigned long long)size);
	}
	return 0;
}

static bool is_src_package(const struct dos_package *p)
{
	return p->src && !p->recipe;
}

static int src_spec_of(struct dos_ctx *ctx, const struct dos_config *cfg,
		       const struct dos_package *p, struct dos_build_src_spec *spec)
{
	size_t n = strlen(p->src);

	if (strcmp(cfg->platform.backend ? cfg->platform.backend : "deb", "deb") ||
	    (n > 8 && !strcmp(p->src + n - 8, ".src.rpm")))
		return dos_error(ctx, DOS_ENOTIMPL, "package '%s': .src.rpm packages (\"src\": '%s') "
				 "are not built yet", p->name, p->src);
	if (dos_build_src_parse(ctx, p->src, spec) < 0)
		return dos_error_prefix(ctx, "package '%s'", p->name);
	return 0;
}

/* The specs of cfg's src packages, and where each is in cfg. */
static int specs_collect(struct dos_ctx *ctx, const struct dos_config *cfg,
			 struct dos_build_src_spec *specs, size_t *where, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < cfg->n_packages; i++) {
		/* rpm: a .src.rpm needs no Sources index (build_rpm.c). */
		if (!is_src_package(&cfg->packages[i]) || !strcmp(cfg->platform.backend, "rpm"))
			continue;
		int r = src_spec_of(ctx, cfg, &cfg->packages[i], &specs[*n]);
		if (r < 0)
			return r;
		where[(*n)++] = i;
	}
	return 0;
}

static void pinned_fill(const struct dos_config *cfg, struct dos_package *out,
			const struct dos_build_src_pick *picks, const size_t *where, size_t n)
{
	for (size_t i = 0; i < cfg->n_packages; i++) {
		out[i] = cfg->packages[i];
		json_incref(out[i].options);
	}
	for (size_t k = 0; k < n; k++) {
		struct dos_package *p = &out[where[k]];
		json_t *o = json_deep_copy(p->options);
		json_decref(p->options);
		json_object_set_new(o, SRC_RESOLVED, dos_build_src_pick_json(&picks[k]));
		p->options = o;
	}
}

int dos_build_src_pin(struct dos_ctx *ctx, const struct dos_config *cfg, struct dos_cache *cache,
		      struct dos_package **out)
{
	size_t n = 0, cap = cfg->n_packages + 1;
	struct dos_build_src_spec *specs = dos_xcalloc(cap, sizeof(*specs));
	struct dos_build_src_pick *picks = dos_xcalloc(cap, sizeof(*picks));
	size_t *where = dos_xcalloc(cap, sizeof(*where));
	int r = specs_collect(ctx, cfg, specs, where, &n);

	*out = NULL;
	if (r == 0 && n)
		r = dos_build_src_resolve(ctx, cfg, cache, specs, n, picks);
	for (size_t k = 0; r == 0 && k < n; k++)
		if (!picks[k].version && (r = pick_missing(ctx, cfg, &specs[k])) < 0)
			dos_error_prefix(ctx, "package '%s'", cfg->packages[where[k]].name);
	if (r == 0) {
		*out = dos_xcalloc(cap, sizeof(**out));
		pinned_fill(cfg, *out, picks, where, n);
		if (!strcmp(cfg->platform.backend, "rpm"))
			r = dos_build_rpm_pin(ctx, cfg, *out);
	}
	for (size_t i = 0; i < cap; i++) {
		dos_build_src_spec_release(&specs[i]);
		dos_build_src_pick_release(&picks[i]);
	}
	free(specs);
	free(picks);
	free(where);
	return r;
}

void dos_build_src_pinned_free(struct dos_package *pinned, size_t n)
{
	for (size_t i = 0; pinned && i < n; i++)
		json_decref(pinned[i].options);
	free(pinned);
}

/* --- which .deb files are kept --- */

/* The package name of "<name>_<version>_<arch>.deb", or NULL. */
static char *deb_package(const char *file)
{
	size_t n = strlen(file), u = strcspn(file, "_");
	char *name;

	if (n < 5 || strcmp(file + n - 4, ".deb") || u == n)
		return NULL;
	name = dos_xasprintf("%.*s", (int)u, file);
	if (!dos_build_name_valid(name))
		free(dos_steal(&name));
	return name;
}

static bool is_dbgsym(const char *name)
{
	size_t n = strlen(name);

	return n > 7 && !strcmp(name + n - 7, "-dbgsym");
}

static int patterns_compile(struct dos_ctx *ctx, const struct dos_strv *pats, regex_t *res)
{
	for (size_t i = 0; pats && i < pats->n; i++) {
		int e = regcomp(&res[i], pats->v[i], REG_EXTENDED | REG_NOSUB);
		if (e) {
			char why[128];
			regerror(e, &res[i], why, sizeof(why));
			for (size_t k = 0; k < i; k++)
				regfree(&res[k]);
			return dos_error(ctx, DOS_ECONFIG, "excludePatterns '%s' is not a POSIX extended "
					 "regular expression: %s", pats->v[i], why);
		}
	}
	return 0;
}

static bool excluded(const regex_t *res, size_t n, const char *file)
{
	for (size_t i = 0; i < n; i++)
		if (regexec(&res[i], file, 0, NULL, 0) == 0)
			return true;
	return false;
}

static int list_check(struct dos_ctx *ctx, const struct dos_strv *pkg_list,
		      const struct dos_strv *names, const struct dos_strv *produced)
{
	char got[512] = "";
	size_t used = 0;

	for (size_t i = 0; pkg_list && i < pkg_list->n; i++) {
		if (dos_strv_contains(names, pkg_list->v[i]))
			continue;
		for (size_t k = 0; k < produced->n && used < sizeof(got); k++)
			used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s", k ? ", " : "",
						 produced->v[k]);
		return dos_error(ctx, DOS_EFAIL, "pkgList names '%s', which the build did not produce "
				 "or excludePatterns dropped (produced: %s)", pkg_list->v[i],
				 produced->n ? got : "nothing");
	}
	return 0;
}

int dos_build_src_filter(struct dos_ctx *ctx, const struct dos_strv *files,
			 const struct dos_strv *pkg_list, const struct dos_strv *exclude,
			 struct dos_strv *kept)
{
	size_t np = exclude ? exclude->n : 0;
	regex_t *res = dos_xcalloc(np + 1, sizeof(*res));
	struct dos_strv names = { 0 }, produced = { 0 };
	int r = patterns_compile(ctx, exclude, res);
	bool compiled = r == 0;

	for (size_t i = 0; r == 0 && i < files->n; i++) {
		_cleanup_free_ char *name = deb_package(files->v[i]);
		if (!name)
			continue;
		dos_strv_push(&produced, files->v[i]);
		if (is_dbgsym(name) || excluded(res, np, files->v[i]) ||
		    (pkg_list && pkg_list->n && !dos_strv_contains(pkg_list, name)))
			continue;
		dos_strv_push(kept, files->v[i]);
		dos_strv_push(&names, name);
	}
	if (r == 0)
		r = list_check(ctx, pkg_list, &names, &produced);
	if (r == 0 && kept->n == 0)
		r = dos_error(ctx, DOS_EFAIL, "no .deb file is left after pkgList and excludePatterns "
			      "(%zu produced)", produced.n);
	dos_strv_sort(kept);
	for (size_t i = 0; compiled && i < np; i++)
		regfree(&res[i]);
	free(res);
	dos_strv_release(&names);
	dos_strv_release(&produced);
	return r;
}

/* --- DEB_BUILD_OPTIONS --- */

static void word_drop(struct dos_strv *w, const char *word, size_t prefix)
{
	for (size_t i = 0; i < w->n; i++)
		if (prefix ? !strncmp(w->v[i], word, prefix) : !strcmp(w->v[i], word)) {
			free(w->v[i]);
			memmove(&w->v[i], &w->v[i + 1], (w->n - i) * sizeof(*w->v));
			w->n--;
			i--;
		}
}

static void word_add(struct dos_strv *w, const char *word)
{
	const char *eq = strchr(word, '=');

	if (!strcmp(word, "check") || !strcmp(word, "doc")) {
		_cleanup_free_ char *no = dos_xasprintf("no%s", word);
		word_drop(w, no, 0);
		return;
	}
	if (!strncmp(word, "timeout=", 8))
		return;
	if (eq)
		word_drop(w, word, (size_t)(eq - word + 1));
	if (!dos_strv_contains(w, word))
		dos_strv_push(w, word);
}

static char *words_join(const struct dos_strv *w, const char *sep, bool only_profiles)
{
	char *out = dos_xstrdup(""), *next;

	for (size_t i = 0; i < w->n; i++) {
		if (only_profiles && strcmp(w->v[i], "nocheck") && strcmp(w->v[i], "nodoc"))
			continue;
		next = dos_xasprintf("%s%s%s", out, *out ? sep : "", w->v[i]);
		free(out);
		out = next;
	}
	return out;
}

char *dos_build_src_deb_options(const json_t *build_options, int jobs, char **profiles)
{
	struct dos_strv w = { 0 };
	const json_t *v;
	char *out, par[32];
	size_t i;

	snprintf(par, sizeof(par), "parallel=%d", jobs > 0 ? jobs : 1);
	dos_strv_push(&w, "nocheck");
	dos_strv_push(&w, "nodoc");
	dos_strv_push(&w, par);
	json_array_foreach((json_t *)build_options, i, v) {
		_cleanup_free_ char *text = dos_xstrdup(json_is_string(v) ? json_string_value(v) : "");
		char *save = NULL;
		for (char *t = strtok_r(text, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
			word_add(&w, t);
	}
	out = words_join(&w, " ", false);
	/* The build profiles that go with them: Build-Depends say <!nocheck>. */
	*profiles = words_join(&w, " ", true);
	dos_strv_release(&w);
	return out;
}

/* --- the build --- */

struct sbuild {
	struct dos_ctx *ctx;
	const struct dos_build_opts *o;
	const struct dos_package *p;
	struct dos_build_src_pick pick;
	struct dos_fetch_item *items;    /* the pick's files, in the cache */
	char *dir, *out, *log, *patch, *dsc;
	char *debopts, *profiles;
	struct dos_strv env;
	struct dos_rootfs_instance *inst;
	int timeout_s;
};

static void sbuild_release(struct sbuild *b)
{
	dos_rootfs_instance_free(b->inst);
	if (b->items)
		dos_fetch_items_release(b->items, b->pick.n_files);
	free(b->items);
	dos_build_src_pick_release(&b->pick);
	free(b->dir);
	free(b->out);
	free(b->log);
	free(b->patch);
	free(b->dsc);
	free(b->debopts);
	free(b->profiles);
	dos_strv_release(&b->env);
}

static char *patch_path(const struct dos_package *p)
{
	const char *pdir = json_string_value(json_object_get(p->options, "patchDir"));
	_cleanup_free_ char *name = dos_xasprintf("%s.patch", p->name);
	char *path = pdir ? dos_path_join(pdir, name) : NULL;

	if (path && access(path, F_OK) < 0)
		free(dos_steal(&path));
	return path;
}

static void env_make(struct sbuild *b)
{
	dos_strv_push(&b->env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	dos_strv_push(&b->env, "HOME=/tmp");
	dos_strv_push(&b->env, "LC_ALL=C.UTF-8");
	dos_strv_push(&b->env, "TZ=UTC");
	dos_strv_push(&b->env, "DEBIAN_FRONTEND=noninteractive");
	dos_strv_push_owned(&b->env, dos_xasprintf("DEB_BUILD_OPTIONS=%s", b->debopts));
	if (*b->profiles)
		dos_strv_push_owned(&b->env, dos_xasprintf("DEB_BUILD_PROFILES=%s", b->profiles));
}

/* A leftover instance of a crashed run may still be mounted. */
static int sbuild_init(struct dos_ctx *ctx, struct sbuild *b, const struct dos_build_opts *o)
{
	const char *work = o->cfg->work_dir;
	_cleanup_free_ char *logs = dos_path_join(work, "logs");
	_cleanup_free_ char *root = NULL;
	int r;

	memset(b, 0, sizeof(*b));
	b->ctx = ctx;
	b->o = o;
	b->p = o->pkg;
	b->dir = dos_xasprintf("%s/build/%s", work, b->p->name);
	b->out = dos_path_join(b->dir, "build");
	b->log = dos_xasprintf("%s/%s.log", logs, b->p->name);
	b->patch = patch_path(b->p);
	b->timeout_s = dos_build_timeout(b->p);
	b->debopts = dos_build_src_deb_options(json_object_get(b->p->options, "buildOptions"),
					       o->jobs, &b->profiles);
	env_make(b);
	root = dos_path_join(b->dir, "instance/root");
	umount2(root, MNT_DETACH);
	if ((r = dos_rm_rf(ctx, b->dir)) < 0 || (r = dos_mkdir_p(ctx, b->out, 0755)) < 0 ||
	    (r = dos_mkdir_p(ctx, logs, 0755)) < 0)
		return r;
	return dos_write_file_atomic(ctx, b->log, "", 0, 0644);
}

/* The stanza pinned by the plan, else chosen now. */
static int sbuild_pick(struct sbuild *b)
{
	const json_t *pinned = json_object_get(b->p->options, SRC_RESOLVED);
	struct dos_build_src_spec spec;
	int r;

	if (pinned)
		return pick_from_json(b->ctx, pinned, &b->pick);
	if ((r = src_spec_of(b->ctx, b->o->cfg, b->p, &spec)) < 0)
		return r;
	r = dos_build_src_resolve(b->ctx, b->o->cfg, b->o->cache, &spec, 1, &b->pick);
	if (r == 0 && !b->pick.version)
		r = pick_missing(b->ctx, b->o->cfg, &spec);
	dos_build_src_spec_release(&spec);
	return r;
}

static int sbuild_fetch(struct sbuild *b)
{
	const struct dos_build_src_pick *pk = &b->pick;
	_cleanup_free_ char *mirror = dos_mirror_for(b->ctx, b->o->cfg->platform.mirror, pk->suite);
	struct dos_strv urls = { 0 };
	int r;

	if (!mirror)
		return DOS_ECONFIG;
	b->items = dos_xcalloc(pk->n_files + 1, sizeof(*b->items));
	for (size_t i = 0; i < pk->n_files; i++) {
		dos_strv_push_owned(&urls, dos_xasprintf("%s/%s/%s", mirror, pk->directory,
							 pk->files[i].name));
		b->items[i] = (struct dos_fetch_item){ .url = urls.v[i], .sha256 = pk->files[i].sha256,
						       .size = pk->files[i].size,
						       .name = pk->files[i].name };
		if (is_dsc(pk->files[i].name))
			b->dsc = dos_xstrdup(pk->files[i].name);
		dos_log_append(b->log, "diracos: source file %s\n", urls.v[i]);
	}
	r = dos_fetch_many(b->ctx, b->o->cache, b->items, pk->n_files, "sources");
	for (size_t i = 0; i < pk->n_files; i++)
		b->items[i].url = NULL;
	dos_strv_release(&urls);
	if (r < 0)
		return dos_error_prefix(b->ctx, "source package '%s' %s (%s)", pk->package,
					pk->version, pk->suite);
	return b->dsc ? 0 : dos_error(b->ctx, DOS_EFORMAT, "source package '%s': no .dsc",
				      pk->package);
}

/* apt in the instance sees both sections of the local repository. */
static int root_make(struct sbuild *b)
{
	struct dos_rootfs_opts ro = { .cfg = b->o->cfg, .variant = "buildd" };
	_cleanup_free_ char *dir = dos_path_join(b->dir, "instance");
	_cleanup_free_ char *list = NULL, *path = NULL;
	int r = dos_rootfs_instance(b->ctx, &ro, dir, &b->inst);

	if (r < 0 || !b->inst->repo)
		return r;
	list = dos_repo_sources_list(DOS_ROOTFS_REPO_PATH);
	path = dos_path_join(b->inst->root, "etc/apt/sources.list.d/diracos-repo.list");
	return dos_write_file_atomic(b->ctx, path, list, strlen(list), 0644);
}


/* Runs argv in the build root: the source files read-only in
 * /diracos/sources, the build folder read-write at /diracos/build, and
 * file (a patch or a routine; may be NULL) read-only at dest. */
static int step_run(struct sbuild *b, const char *what, char *const argv[], const char *cwd,
		    bool network, const char *file, const char *dest)
{
	size_t cap = b->inst->n_binds + b->pick.n_files + 3, n = 0;
	struct dos_sandbox_bind *binds = dos_xcalloc(cap, sizeof(*binds));
	struct dos_strv names = { 0 };
	int r, status = 0;

	for (size_t i = 0; i < b->inst->n_binds; i++)
		binds[n++] = b->inst->binds[i];
	for (size_t i = 0; i < b->pick.n_files; i++) {
		dos_strv_push_owned(&names, dos_xasprintf("/diracos/sources/%s", b->pick.files[i].name));
		binds[n++] = (struct dos_sandbox_bind){ b->items[i].path, names.v[i], false };
	}
	binds[n++] = (struct dos_sandbox_bind){ b->out, "/diracos/build", true };
	if (file)
		binds[n++] = (struct dos_sandbox_bind){ file, dest, false };
	struct dos_sandbox_opts so = {
		.root = b->inst->root, .binds = binds, .n_binds = n, .network = network,
		.root_writable = true, .argv = argv, .envp = b->env.v, .cwd = cwd,
		.log_path = b->log, .timeout_s = b->timeout_s,
	};
	dos_log_append(b->log, "diracos: %s\n", what);
	r = dos_sandbox_run(b->ctx, &so, &status);
	free(binds);
	dos_strv_release(&names);
	if (r < 0)
		return dos_error_prefix(b->ctx, "%s (log: '%s')", what, b->log);
	return status ? dos_build_step_failed(b->ctx, what, argv, cwd, status, b->log) : 0;
}

#define TREE "/diracos/build/src"

/* preRoutine, routine or postRoutine, when set: sh -e in the tree. */
static int step_routine(struct sbuild *b, const char *kind, bool *ran)
{
	const char *v = json_string_value(json_object_get(b->p->options, kind));
	const char *dir = json_string_value(json_object_get(b->p->options, "routineDir"));
	_cleanup_free_ char *file = v ? dos_path_absolute(dir, v) : NULL;
	_cleanup_free_ char *dest = dos_xasprintf("/diracos/%s.sh", kind);
	_cleanup_free_ char *what = dos_xasprintf("%s '%s'", kind, file);
	char *argv[] = { "sh", "-e", dest, NULL };

	*ran = file != NULL;
	return file ? step_run(b, what, argv, TREE, false, file, dest) : 0;
}

static int steps_run(struct sbuild *b)
{
	static const char apt[] = "apt-get -q update && apt-get -q build-dep -y "
				  "--no-install-recommends \"$@\" ./";
	_cleanup_free_ char *dsc = dos_xasprintf("/diracos/sources/%s", b->dsc);
	_cleanup_free_ char *prof = dos_xstrdup(b->profiles);
	char *xargv[] = { "dpkg-source", "--no-check", "-x", dsc, TREE, NULL };
	char *pargv[] = { "patch", "-p1", "-i", "/diracos/package.patch", NULL };
	char *aargv[] = { "sh", "-c", (char *)apt, "sh", *prof ? "-P" : NULL, prof, NULL };
	char *bargv[] = { "dpkg-buildpackage", "-b", "-us", "-uc", NULL };
	bool ran = false;
	int r;

	/* apt takes the profiles comma-separated, the environment spaced. */
	for (char *c = prof; *c; c++)
		*c = *c == ' ' ? ',' : *c;
	dos_log_append(b->log, "diracos: DEB_BUILD_OPTIONS='%s' DEB_BUILD_PROFILES='%s'\n", b->debopts,
		   b->profiles);
	r = step_run(b, "dpkg-source", xargv, "/diracos/build", false, NULL, NULL);
	if (r == 0 && b->patch)
		r = step_run(b, "patch", pargv, TREE, false, b->patch, "/diracos/package.patch");
	if (r == 0)
		r = step_routine(b, "preRoutine", &ran);
	if (r == 0)
		r = step_run(b, "installing the build dependencies", aargv, TREE, true, NULL, NULL);
	if (r == 0)
		r = step_routine(b, "routine", &ran);
	if (r == 0 && !ran)
		r = step_run(b, "dpkg-buildpackage", bargv, TREE, false, NULL, NULL);
	return r == 0 ? step_routine(b, "postRoutine", &ran) : r;
}

/* The .deb files dpkg-buildpackage left next to the tree, filtered. */
static int outputs_collect(struct sbuild *b, struct dos_strv *debs)
{
	struct dos_strv files = { 0 }, kept = { 0 };
	DIR *d = opendir(b->out);
	struct stat st;
	struct dirent *e;
	int r;

	if (!d)
		return dos_error_errno(b->ctx, DOS_EIO, errno, "cannot read '%s'", b->out);
	/* Only regular files: a link the build left must not be followed. */
	while ((e = readdir(d)))
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			dos_strv_push(&files, e->d_name);
	closedir(d);
	dos_strv_sort(&files);
	r = dos_build_src_filter(b->ctx, &files, &b->p->pkg_list, &b->p->exclude_patterns, &kept);
	for (size_t i = 0; r == 0 && i < kept.n; i++) {
		dos_strv_push_owned(debs, dos_path_join(b->out, kept.v[i]));
		dos_log_append(b->log, "diracos: output %s\n", kept.v[i]);
	}
	dos_strv_release(&files);
	dos_strv_release(&kept);
	return r;
}

static int outputs_commit(struct sbuild *b)
{
	struct dos_repo_record rec = { .name = b->p->name, .key = b->o->key,
				       .inputs = b->o->inputs, .log_path = b->log,
				       .build_only = b->p->build_only };
	struct dos_strv debs = { 0 };
	int r = outputs_collect(b, &debs);

	if (r == 0)
		r = dos_repo_commit(b->ctx, b->o->repo, &rec, (const char *const *)debs.v, debs.n);
	dos_strv_release(&debs);
	return r;
}

int dos_build_src_package(struct dos_ctx *ctx, const struct dos_build_opts *o)
{
	struct sbuild b;
	int r = sbuild_init(ctx, &b, o);

	if (r == 0)
		r = sbuild_pick(&b);
	if (r == 0) {
		dos_log_append(b.log, "diracos: package %s: source package %s %s (%s), key %s\n",
			   b.p->name, b.pick.package, b.pick.version, b.pick.suite, o->key);
		r = sbuild_fetch(&b);
	}
	if (r == 0)
		r = root_make(&b);
	if (r == 0)
		r = steps_run(&b);
	if (r == 0)
		r = outputs_commit(&b);
	r = dos_build_end(ctx, r, b.log, &b.inst, b.dir);
	sbuild_release(&b);
	return r < 0 ? dos_error_prefix(ctx, "package '%s'", o->pkg->name) : 0;
}
