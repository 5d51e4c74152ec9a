/* Choosing a distribution source package's stanza (see build_src.c and
 * build.h): the "src" string, Debian version order as dpkg has it, the
 * stanzas of the suite's signed Sources index, and the choice pinned in
 * the package's options when the plan is made. */
#include "build_src_internal.h"
#include "build_rpm.h"
#include "dist.h"
#include "mirror.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

bool build_src_is_dsc(const char *name)
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
		if (build_src_is_dsc(name) && dscs++ == 0)
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
int build_src_pick_missing(struct dos_ctx *ctx, const struct dos_config *cfg,
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
int build_src_pick_from_json(struct dos_ctx *ctx, const json_t *j,
			     struct dos_build_src_pick *pick)
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

int build_src_spec_of(struct dos_ctx *ctx, const struct dos_config *cfg,
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
		int r = build_src_spec_of(ctx, cfg, &cfg->packages[i], &specs[*n]);
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
		if (!picks[k].version && (r = build_src_pick_missing(ctx, cfg, &specs[k])) < 0)
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
