/* What a bundle carries about itself: versions.txt, an SPDX 2.3 SBOM, and
 * the diracosrc files a shell sources to use the bundle. */
#include "report.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *str(const char *s)
{
	return s ? s : "";
}

static void iso_date(int64_t epoch, char buf[32])
{
	time_t t = (time_t)epoch;
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- packages, in a fixed order --- */

static int pkg_cmp(const void *a, const void *b)
{
	const struct dos_report_pkg *x = *(const struct dos_report_pkg *const *)a;
	const struct dos_report_pkg *y = *(const struct dos_report_pkg *const *)b;
	int c = strcmp(str(x->name), str(y->name));

	if (c == 0)
		c = strcmp(str(x->version), str(y->version));
	if (c == 0)
		c = strcmp(str(x->arch), str(y->arch));
	return c;
}

/* Pointers to the packages, sorted by name, version, arch; caller frees. */
static const struct dos_report_pkg **pkgs_sorted(const struct dos_report_pkg *pkgs, size_t n)
{
	const struct dos_report_pkg **v = dos_xcalloc(n + 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = &pkgs[i];
	dos_qsort(v, n, sizeof(*v), pkg_cmp);
	return v;
}

/* --- versions.txt --- */

/* One "name version" line per package; with_origin adds where it came
 * from (the Python distributions' source archives). */
static void versions_section(FILE *f, const char *title, const struct dos_report_pkg *pkgs,
			     size_t n, const char *bundle_arch, bool with_origin)
{
	_cleanup_free_ const struct dos_report_pkg **v = pkgs_sorted(pkgs, n);

	fprintf(f, "\n# %s: %zu\n", title, n);
	for (size_t i = 0; i < n; i++) {
		const char *arch = v[i]->arch;
		/* A foreign-architecture package says so; "all" and ours do not. */
		bool foreign = arch && *arch && strcmp(arch, "all") && strcmp(arch, str(bundle_arch));

		fprintf(f, "%s%s%s %s", str(v[i]->name), foreign ? ":" : "", foreign ? arch : "",
			str(v[i]->version));
		if (with_origin && (v[i]->url || v[i]->source))
			fprintf(f, " %s", v[i]->url ? v[i]->url : v[i]->source);
		fputc('\n', f);
	}
}

static char *versions_text(const struct dos_report_input *in)
{
	char *text = NULL;
	size_t len = 0;
	char date[32];
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	iso_date(in->date, date);
	fprintf(f, "name %s\nversion %s\ndate %s\narch %s\n", str(in->bundle_name),
		str(in->bundle_version), date, str(in->arch));
	if (in->python_version)
		fprintf(f, "python %s\n", in->python_version);
	versions_section(f, "packages", in->pkgs, in->n_pkgs, in->arch, false);
	if (in->n_python_pkgs > 0)
		versions_section(f, "python distributions", in->python_pkgs, in->n_python_pkgs,
				 NULL, true);
	fclose(f);
	return text;
}

static int report_write(struct dos_ctx *ctx, const char *root, const char *name,
			const char *text, mode_t mode)
{
	_cleanup_free_ char *path = dos_path_join(root, name);
	int r = dos_write_file_atomic(ctx, path, text, strlen(text), mode);

	if (r < 0)
		return dos_error_prefix(ctx, "bundle file '%s'", name);
	return 0;
}

int dos_report_write_versions(struct dos_ctx *ctx, const char *root, const struct dos_report_input *in)
{
	_cleanup_free_ char *text = versions_text(in);

	return report_write(ctx, root, "versions.txt", text, 0644);
}

/* --- licenses: Debian's short names to SPDX --- */

/* The SPDX identifiers we recognize, in their canonical spelling. A name
 * matching one of them case-insensitively is that license. */
static const char *const spdx_ids[] = {
	"GPL-1.0-only", "GPL-1.0-or-later", "GPL-2.0-only", "GPL-2.0-or-later",
	"GPL-3.0-only", "GPL-3.0-or-later", "LGPL-2.0-only", "LGPL-2.0-or-later",
	"LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later",
	"AGPL-1.0-only", "AGPL-1.0-or-later", "AGPL-3.0-only", "AGPL-3.0-or-later",
	"GFDL-1.1-only", "GFDL-1.1-or-later", "GFDL-1.2-only", "GFDL-1.2-or-later",
	"GFDL-1.3-only", "GFDL-1.3-or-later",
	"0BSD", "Apache-1.0", "Apache-1.1", "Apache-2.0", "Artistic-1.0", "Artistic-1.0-Perl",
	"Artistic-2.0", "Beerware", "BSD-1-Clause", "BSD-2-Clause", "BSD-3-Clause",
	"BSD-4-Clause", "BSL-1.0", "bzip2-1.0.6", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0",
	"CC-BY-SA-4.0", "CC0-1.0", "CDDL-1.0", "CDDL-1.1", "curl", "EPL-1.0", "EPL-2.0", "FTL",
	"HPND", "ICU", "IJG", "Info-ZIP", "ISC", "Libpng", "libpng-2.0", "libtiff", "LPPL-1.3c",
	"MirOS", "MIT", "MIT-0", "MPL-1.0", "MPL-1.1", "MPL-2.0", "MS-PL", "NTP", "OFL-1.1",
	"OLDAP-2.8", "OpenSSL", "PHP-3.01", "PostgreSQL", "PSF-2.0", "Python-2.0", "Ruby",
	"Sleepycat", "TCL", "Unicode-DFS-2016", "Unlicense", "Vim", "WTFPL", "X11", "Zlib",
};

/* Debian's names that are not SPDX's. */
static const struct {
	const char *debian, *spdx;
} license_aliases[] = {
	{ "Expat", "MIT" }, { "Artistic", "Artistic-1.0-Perl" }, { "Apache-2", "Apache-2.0" },
	{ "PSF-2", "PSF-2.0" }, { "Python", "Python-2.0" }, { "BSL", "BSL-1.0" },
	{ "Boost-1.0", "BSL-1.0" }, { "CC0", "CC0-1.0" }, { "MPL-2", "MPL-2.0" },
	{ "OpenLDAP-2.8", "OLDAP-2.8" }, { "zlib/libpng", "Zlib" }, { "BSD-2", "BSD-2-Clause" },
	{ "BSD-3", "BSD-3-Clause" }, { "BSD-4", "BSD-4-Clause" }, { "MIT/X11", "MIT" },
};

static const char *spdx_canonical(const char *name)
{
	for (size_t i = 0; i < sizeof(spdx_ids) / sizeof(spdx_ids[0]); i++)
		if (!strcasecmp(spdx_ids[i], name))
			return spdx_ids[i];
	return NULL;
}

/* The GNU family: "GPL-2", "GPL-2+", "LGPL-2.1+", "GFDL-1.3", "GPL-2.0+". */
static const char *license_gnu(const char *name)
{
	static const char *const families[] = { "AGPL", "LGPL", "GPL", "GFDL" };
	char buf[64];
	const char *p = NULL, *family = NULL;
	int major, minor = 0, n = 0;

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]) && !p; i++) {
		size_t len = strlen(families[i]);
		if (!strncasecmp(name, families[i], len) && name[len] == '-') {
			family = families[i];
			p = name + len + 1;
		}
	}
	if (!p || sscanf(p, "%d%n", &major, &n) != 1)
		return NULL;
	p += n;
	if (*p == '.' && sscanf(p + 1, "%d%n", &minor, &n) == 1)
		p += 1 + n;
	if (*p && strcmp(p, "+"))
		return NULL;
	snprintf(buf, sizeof(buf), "%s-%d.%d-%s", family, major, minor, *p ? "or-later" : "only");
	return spdx_canonical(buf);
}

const char *dos_report_spdx_license(const char *name)
{
	const char *id = spdx_canonical(name);

	for (size_t i = 0; !id && i < sizeof(license_aliases) / sizeof(license_aliases[0]); i++)
		if (!strcasecmp(license_aliases[i].debian, name))
			id = license_aliases[i].spdx;
	return id ? id : license_gnu(name);
}

/* "LicenseRef-<name>" for a license SPDX has no identifier for, recorded
 * in refs (id -> name) for hasExtractedLicensingInfos. */
static char *license_ref(const char *name, json_t *refs)
{
	char *id = dos_xasprintf("LicenseRef-%s", name);

	for (char *c = id + strlen("LicenseRef-"); *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'))
			*c = '-';
	if (!json_object_get(refs, id))
		json_object_set_new(refs, id, json_string(name));
	return id;
}

static char *license_one(const char *name, json_t *refs)
{
	const char *id = dos_report_spdx_license(name);

	return id ? dos_xstrdup(id) : license_ref(name, refs);
}

/* One comma-separated part of a Debian expression: "A", "A or B",
 * "A and B". Returns NULL when it is not that simple. */
static char *license_group(char *group, bool *compound, json_t *refs)
{
	_cleanup_free_ char *out = NULL;
	bool want_name = true;
	char *save = NULL;

	*compound = false;
	for (char *w = strtok_r(group, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		bool is_op = !strcasecmp(w, "and") || !strcasecmp(w, "or");
		char *part, *next;

		if (is_op == want_name)
			return NULL;
		part = is_op ? dos_xstrdup(!strcasecmp(w, "and") ? "AND" : "OR")
			     : license_one(w, refs);
		next = dos_xasprintf("%s%s%s", out ? out : "", out ? " " : "", part);
		free(part);
		free(out);
		out = next;
		*compound |= is_op;
		want_name = !want_name;
	}
	return want_name ? NULL : dos_steal(&out);
}

/* Joins a group to what came before: "A or B, and C" is (A OR B) AND C. */
static char *license_join(char *acc, const char *op, const char *group, bool compound,
			  bool acc_compound)
{
	char *r = dos_xasprintf("%s%s%s %s %s%s%s", acc_compound ? "(" : "", acc,
				acc_compound ? ")" : "", op, compound ? "(" : "", group,
				compound ? ")" : "");
	free(acc);
	return r;
}

/* A Debian license field as an SPDX expression; anything we cannot read
 * (exceptions, parentheses) becomes one LicenseRef. */
static char *license_expression(const char *text, json_t *refs)
{
	_cleanup_free_ char *copy = dos_xstrdup(text);
	char *acc = NULL, *save = NULL;
	bool acc_compound = false;

	if (strpbrk(text, "()") || strcasestr(text, " with "))
		return license_ref(text, refs);
	for (char *g = strtok_r(copy, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
		const char *op = "AND";
		bool compound;
		char *part;

		g += strspn(g, " \t\n");
		if (!strncasecmp(g, "and ", 4) || !strncasecmp(g, "or ", 3)) {
			op = (g[0] == 'a' || g[0] == 'A') ? "AND" : "OR";
			g += strlen(op) + 1;
		}
		part = license_group(g, &compound, refs);
		if (!part) {
			free(acc);
			return license_ref(text, refs);
		}
		if (!acc) {
			acc = part;
			acc_compound = compound;
		} else {
			acc = license_join(acc, op, part, compound, acc_compound);
			acc_compound = true;
			free(part);
		}
	}
	return acc ? acc : license_ref(text, refs);
}

/* --- the SBOM --- */

/* Percent-encoding for a purl component. */
static char *purl_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = dos_xmalloc(3 * strlen(s) + 1), *o = out;

	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr(".-_~", *c)) {
			*o++ = (char)*c;
		} else {
			*o++ = '%';
			*o++ = hex[*c >> 4];
			*o++ = hex[*c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* pypi names are case-insensitive and '_' is '-' (PEP 503). */
static char *pypi_name(const char *name)
{
	char *n = dos_xstrdup(name);

	for (char *c = n; *c; c++) {
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
		else if (*c == '_' || *c == '.')
			*c = '-';
	}
	return n;
}

static char *purl(const struct dos_report_pkg *p, bool python, const char *bundle_arch, bool rpm)
{
	_cleanup_free_ char *name = python ? pypi_name(str(p->name)) : dos_xstrdup(str(p->name));
	_cleanup_free_ char *ename = purl_encode(name);
	_cleanup_free_ char *ever = purl_encode(str(p->version));
	const char *arch = p->arch && *p->arch ? p->arch : str(bundle_arch);

	if (python)
		return dos_xasprintf("pkg:pypi/%s@%s", ename, ever);
	if (rpm)
		return dos_xasprintf("pkg:rpm/%s@%s?arch=%s", ename, ever, arch);
	return dos_xasprintf("pkg:deb/debian/%s@%s?arch=%s", ename, ever, arch);
}

/* SPDXRef-Package-deb-<name>: only letters, digits, '.' and '-' are
 * allowed, so "libstdc++6" is "libstdc--6"; a clash gets "-2", "-3"... */
static char *spdx_id(const char *kind, const char *name, json_t *used)
{
	char *id = dos_xasprintf("SPDXRef-Package-%s-%s", kind, name);

	for (char *c = id; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'))
			*c = '-';
	for (int i = 2; json_object_get(used, id); i++) {
		char *base = id;
		id = dos_xasprintf("%s-%d", base, i);
		if (!json_object_get(used, id)) {
			free(base);
			break;
		}
		free(id);
		id = base;
	}
	json_object_set_new(used, id, json_true());
	return id;
}

static json_t *sbom_checksums(const char *sha256)
{
	if (!sha256 || !dos_sha256_valid(sha256))
		return NULL;
	return json_pack("[{s:s, s:s}]", "algorithm", "SHA256", "checksumValue", sha256);
}

static char *source_info(const struct dos_report_pkg *p, bool python)
{
	if (python)
		return p->source ? dos_xasprintf("installed by pip from %s", p->source) : NULL;
	return dos_xasprintf("built from source package %s %s",
			     p->source && *p->source ? p->source : str(p->name),
			     p->source_version && *p->source_version ? p->source_version
								     : str(p->version));
}

/* A file:// URL is the local repository on the build machine: a build
 * path, which the bundle must not hold, and no place to download from. */
static const char *download_location(const char *url)
{
	return url && *url && strncmp(url, "file:", 5) != 0 ? url : "NOASSERTION";
}

static json_t *sbom_package(const struct dos_report_pkg *p, bool python,
			    const struct dos_report_input *in, json_t *used, json_t *refs)
{
	_cleanup_free_ char *id = spdx_id(python ? "pypi" : in->rpm ? "rpm" : "deb", str(p->name), used);
	_cleanup_free_ char *locator = purl(p, python, in->arch, in->rpm);
	_cleanup_free_ char *lic = p->license && *p->license ? license_expression(p->license, refs)
							     : NULL;
	_cleanup_free_ char *info = source_info(p, python);
	json_t *sums = sbom_checksums(p->sha256);
	json_t *pkg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}",
				"SPDXID", id, "name", str(p->name), "versionInfo", str(p->version),
				"supplier", "NOASSERTION",
				"downloadLocation", download_location(p->url),
				"filesAnalyzed", 0, "licenseConcluded", "NOASSERTION",
				"licenseDeclared", lic ? lic : "NOASSERTION",
				"copyrightText", "NOASSERTION", "externalRefs",
				"referenceCategory", "PACKAGE-MANAGER", "referenceType", "purl",
				"referenceLocator", locator);

	if (sums)
		json_object_set_new(pkg, "checksums", sums);
	if (info)
		json_object_set_new(pkg, "sourceInfo", json_string(info));
	return pkg;
}

static void sbom_add_packages(json_t *doc, const struct dos_report_pkg *pkgs, size_t n,
			      bool python, const struct dos_report_input *in, json_t *used,
			      json_t *refs)
{
	_cleanup_free_ const struct dos_report_pkg **v = pkgs_sorted(pkgs, n);
	json_t *packages = json_object_get(doc, "packages");
	json_t *rels = json_object_get(doc, "relationships");

	for (size_t i = 0; i < n; i++) {
		json_t *pkg = sbom_package(v[i], python, in, used, refs);
		json_array_append_new(rels, json_pack("{s:s, s:s, s:O}",
			"spdxElementId", "SPDXRef-DOCUMENT", "relationshipType", "DESCRIBES",
			"relatedSpdxElement", json_object_get(pkg, "SPDXID")));
		json_array_append_new(packages, pkg);
	}
}

/* Every LicenseRef used, with the name the package gave it. */
static json_t *sbom_extracted(json_t *refs)
{
	json_t *list = json_array();
	struct dos_strv ids = { 0 };
	const char *id;
	json_t *name;

	json_object_foreach(refs, id, name)
		dos_strv_push(&ids, id);
	dos_strv_sort(&ids);
	for (size_t i = 0; i < ids.n; i++) {
		const char *n = json_string_value(json_object_get(refs, ids.v[i]));
		_cleanup_free_ char *text = dos_xasprintf("The license a package's copyright "
							  "file names '%s'.", n);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "licenseId", ids.v[i],
						      "name", n, "extractedText", text));
	}
	dos_strv_release(&ids);
	return list;
}

/* The namespace is the bundle's name and version and a digest of
 * versions.txt: the same bundle gives the same document. */
static json_t *sbom_document(const struct dos_report_input *in)
{
	_cleanup_free_ char *text = versions_text(in);
	_cleanup_free_ char *name = dos_xasprintf("%s-%s-%s", str(in->bundle_name),
						  str(in->bundle_version), str(in->arch));
	_cleanup_free_ char *ns = NULL;
	char hex[DOS_SHA256_HEX], date[32];

	dos_sha256_buf(text, strlen(text), hex);
	ns = dos_xasprintf("https://diracos.invalid/spdx/%s-%s-%s", str(in->bundle_name),
			   str(in->bundle_version), hex);
	iso_date(in->date, date);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:[s]}, s:[], s:[]}",
			 "spdxVersion", "SPDX-2.3", "dataLicense", "CC0-1.0",
			 "SPDXID", "SPDXRef-DOCUMENT", "name", name, "documentNamespace", ns,
			 "creationInfo", "created", date, "creators", "Tool: diracos-" DIRACOS_VERSION,
			 "packages", "relationships");
}

json_t *dos_report_sbom(const struct dos_report_input *in)
{
	json_t *doc = sbom_document(in);
	json_t *used = json_object(), *refs = json_object();

	sbom_add_packages(doc, in->pkgs, in->n_pkgs, false, in, used, refs);
	sbom_add_packages(doc, in->python_pkgs, in->n_python_pkgs, true, in, used, refs);
	if (json_object_size(refs) > 0)
		json_object_set_new(doc, "hasExtractedLicensingInfos", sbom_extracted(refs));
	json_decref(used);
	json_decref(refs);
	return doc;
}

int dos_report_write_sbom(struct dos_ctx *ctx, const char *root, const struct dos_report_input *in)
{
	json_t *doc = dos_report_sbom(in);
	char *dump = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	_cleanup_free_ char *text = dos_xasprintf("%s\n", dump);

	free(dump);
	json_decref(doc);
	return report_write(ctx, root, "sbom.spdx.json", text, 0644);
}

/* --- diracosrc --- */

static bool env_name_valid(const char *s)
{
	if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* The environment's names, sorted, after checking every name and value:
 * a value must be a string without a newline (csh cannot quote one). */
static int env_names(struct dos_ctx *ctx, const struct dos_report_input *in, struct dos_strv *names)
{
	const char *key;
	json_t *v;

	if (in->environment && !json_is_object(in->environment))
		return dos_error(ctx, DOS_ECONFIG, "environment: not an object");
	json_object_foreach((json_t *)in->environment, key, v) {
		if (!env_name_valid(key))
			return dos_error(ctx, DOS_ECONFIG, "environment variable '%s': not a valid name", key);
		if (!json_is_string(v))
			return dos_error(ctx, DOS_ECONFIG, "environment variable '%s': not a string", key);
		if (strchr(json_string_value(v), '\n'))
			return dos_error(ctx, DOS_ECONFIG, "environment variable '%s': value has a newline", key);
		dos_strv_push(names, key);
	}
	for (size_t i = 0; in->unset_environment && i < in->unset_environment->n; i++)
		if (!env_name_valid(in->unset_environment->v[i]))
			return dos_error(ctx, DOS_ECONFIG, "unsetEnvironment '%s': not a valid name",
					 in->unset_environment->v[i]);
	dos_strv_sort(names);
	return 0;
}

/* The next "$DIRACOS" or "${DIRACOS}" in v (not "$DIRACOSX"): where it
 * starts (the end of v when none) and its length in *len. */
static const char *env_find_ref(const char *v, size_t *len)
{
	const char *p;

	for (p = strchr(v, '$'); p; p = strchr(p + 1, '$')) {
		char after = p[8];
		if (!strncmp(p, "${DIRACOS}", 10)) {
			*len = 10;
			return p;
		}
		if (!strncmp(p, "$DIRACOS", 8) && !(after == '_' || (after >= '0' && after <= '9') ||
						     (after >= 'A' && after <= 'Z') ||
						     (after >= 'a' && after <= 'z'))) {
			*len = 8;
			return p;
		}
	}
	*len = 0;
	return v + strlen(v);
}

/* Literal text in single quotes; a quote is '\''. csh also expands '!'
 * (history) inside single quotes: there it is \!. */
static void env_quote(FILE *f, const char *s, size_t n, bool csh)
{
	fputc('\'', f);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'')
			fputs("'\\''", f);
		else if (s[i] == '!' && csh)
			fputs("\\!", f);
		else
			fputc(s[i], f);
	}
	fputc('\'', f);
}

/* A value as one shell word, $DIRACOS substituted when sourced. */
static void env_value(FILE *f, const char *v, bool csh)
{
	bool any = false;
	size_t len;

	while (*v) {
		const char *ref = env_find_ref(v, &len);
		if (ref > v)
			env_quote(f, v, (size_t)(ref - v), csh);
		if (len)
			fputs(csh ? "\"${DIRACOS}\"" : "\"$DIRACOS\"", f);
		any = true;
		v = ref + len;
	}
	if (!any)
		fputs("''", f);
}

/* Where the bundle is, in order: the path of this very file as bash
 * ($BASH_SOURCE) or zsh (%x) give it, or the file the shell holds open
 * while reading it (/proc/$$/fd: dash, ksh, busybox); else $DIRACOS when
 * set; else $0. The file itself wins over a preset $DIRACOS because one
 * left by an earlier bundle in the same shell must not redirect this one;
 * plain sh without /proc cannot know the file: set DIRACOS there. */
static const char sh_locate[] =
	"_diracos_src=\n"
	"if [ -n \"${BASH_VERSION:-}\" ]; then\n"
	"\t_diracos_src=${BASH_SOURCE:-}\n"
	"elif [ -n \"${ZSH_VERSION:-}\" ]; then\n"
	"\teval '_diracos_src=${(%):-%x}'\n"
	"fi\n"
	"case $_diracos_src in\n"
	"*diracosrc) ;;\n"
	"*)\n"
	"\t_diracos_src=\n"
	"\tfor _diracos_fd in /proc/$$/fd/*; do\n"
	"\t\t_diracos_src=$(readlink \"$_diracos_fd\" 2>/dev/null) || _diracos_src=\n"
	"\t\tcase $_diracos_src in\n"
	"\t\t*/diracosrc) break ;;\n"
	"\t\tesac\n"
	"\t\t_diracos_src=\n"
	"\tdone\n"
	"\t;;\n"
	"esac\n"
	"if [ -z \"$_diracos_src\" ] && [ -n \"${DIRACOS:-}\" ]; then\n"
	"\t_diracos_src=$DIRACOS/diracosrc\n"
	"fi\n"
	"case ${_diracos_src:-$0} in\n"
	"*/*) DIRACOS=${_diracos_src:-$0}; DIRACOS=${DIRACOS%/*} ;;\n"
	"*) DIRACOS=. ;;\n"
	"esac\n"
	"DIRACOS=$(CDPATH= cd -P -- \"${DIRACOS:-/}\" >/dev/null 2>&1 && pwd -P) || DIRACOS=\n"
	"unset _diracos_src _diracos_fd\n"
	"if [ -z \"$DIRACOS\" ] || [ ! -f \"$DIRACOS/diracosrc\" ]; then\n"
	"\techo \"diracosrc: cannot find the bundle's folder; set DIRACOS to it and source this file again\" >&2\n"
	"\tunset DIRACOS\n"
	"\treturn 1 2>/dev/null || exit 1\n"
	"fi\n"
	"export DIRACOS\n"
	"\n"
	"PATH=\"$DIRACOS/bin:$DIRACOS/usr/bin:$DIRACOS/sbin:$DIRACOS/usr/sbin${PATH:+:$PATH}\"\n"
	"export PATH\n"
	"unset LD_LIBRARY_PATH PYTHONPATH PYTHONHOME\n";

static const char sh_certs[] =
	"if [ -f \"$DIRACOS/etc/ssl/certs/ca-certificates.crt\" ]; then\n"
	"\tSSL_CERT_FILE=\"$DIRACOS/etc/ssl/certs/ca-certificates.crt\"\n"
	"\tREQUESTS_CA_BUNDLE=$SSL_CERT_FILE\n"
	"\texport SSL_CERT_FILE REQUESTS_CA_BUNDLE\n"
	"fi\n";

/* csh has no $BASH_SOURCE, and tcsh's $_ holds the previous command line,
 * not the "source" one: the file tcsh holds open (/proc/$$/fd) tells where
 * the bundle is, else a preset $DIRACOS. '!' is history even in quotes. */
static const char csh_locate[] =
	"set _diracos_dir = \"\"\n"
	"if ( -d /proc/$$/fd ) then\n"
	"\tforeach _diracos_fd ( /proc/$$/fd/* )\n"
	"\t\tset _diracos_src = \"`readlink $_diracos_fd:q`\"\n"
	"\t\tif ( \"$_diracos_src:t\" == \"diracosrc.csh\" ) then\n"
	"\t\t\tset _diracos_dir = \"$_diracos_src:h\"\n"
	"\t\t\tbreak\n"
	"\t\tendif\n"
	"\tend\n"
	"endif\n"
	"if ( \"$_diracos_dir\" == \"\" && $?DIRACOS ) then\n"
	"\tset _diracos_dir = \"$DIRACOS\"\n"
	"endif\n"
	"if ( \"$_diracos_dir\" != \"\" ) then\n"
	"\tset _diracos_owd = \"$cwd\"\n"
	"\tcd \"$_diracos_dir\" >& /dev/null && set _diracos_dir = \"`/bin/pwd -P`\"\n"
	"\tcd \"$_diracos_owd\"\n"
	"endif\n"
	"if ( \"$_diracos_dir\" == \"\" || ! -f \"$_diracos_dir/diracosrc.csh\" ) then\n"
	"\techo \"diracosrc.csh: cannot find the bundle's folder; set DIRACOS to it and source this file again\"\n"
	"else\n"
	"\tsetenv DIRACOS \"$_diracos_dir\"\n"
	"\tif ( $?PATH ) then\n"
	"\t\tsetenv PATH \"${DIRACOS}/bin:${DIRACOS}/usr/bin:${DIRACOS}/sbin:${DIRACOS}/usr/sbin:${PATH}\"\n"
	"\telse\n"
	"\t\tsetenv PATH \"${DIRACOS}/bin:${DIRACOS}/usr/bin:${DIRACOS}/sbin:${DIRACOS}/usr/sbin\"\n"
	"\tendif\n"
	"\tunsetenv LD_LIBRARY_PATH\n"
	"\tunsetenv PYTHONPATH\n"
	"\tunsetenv PYTHONHOME\n";

static const char csh_certs[] =
	"\tif ( -f \"${DIRACOS}/etc/ssl/certs/ca-certificates.crt\" ) then\n"
	"\t\tsetenv SSL_CERT_FILE \"${DIRACOS}/etc/ssl/certs/ca-certificates.crt\"\n"
	"\t\tsetenv REQUESTS_CA_BUNDLE \"${DIRACOS}/etc/ssl/certs/ca-certificates.crt\"\n"
	"\tendif\n";

static void rc_header(FILE *f, const struct dos_report_input *in, bool csh)
{
	fprintf(f, "# %s: source this file to use the bundle, from %s:\n"
		"#   %s /path/to/%s/%s\n"
		"# %s %s (%s), written by diracos " DIRACOS_VERSION ".\n"
		"# The bundle is this file's own folder when the shell can tell (%s);\n"
		"# else set DIRACOS to the bundle's folder before sourcing this file. A\n"
		"# DIRACOS already set is used only then: it may be another bundle's.\n\n",
		csh ? "diracosrc.csh" : "diracosrc", csh ? "csh or tcsh" : "sh, bash or zsh",
		csh ? "source" : ".", str(in->bundle_name), csh ? "diracosrc.csh" : "diracosrc",
		str(in->bundle_name), str(in->bundle_version), str(in->arch),
		csh ? "tcsh on Linux" : "bash, zsh, and dash on Linux");
}

static char *rc_text(const struct dos_report_input *in, const struct dos_strv *names, bool csh)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	rc_header(f, in, csh);
	fputs(csh ? csh_locate : sh_locate, f);
	for (size_t i = 0; in->unset_environment && i < in->unset_environment->n; i++)
		fprintf(f, csh ? "\tunsetenv %s\n" : "unset %s\n", in->unset_environment->v[i]);
	if (in->python_version)
		fputs(csh ? csh_certs : sh_certs, f);
	for (size_t i = 0; i < names->n; i++) {
		fprintf(f, csh ? "\tsetenv %s " : "export %s=", names->v[i]);
		env_value(f, json_string_value(json_object_get(in->environment, names->v[i])), csh);
		fputc('\n', f);
	}
	if (csh)
		fputs("endif\nunset _diracos_dir _diracos_src _diracos_fd _diracos_owd\n", f);
	fclose(f);
	return text;
}

int dos_report_write_diracosrc(struct dos_ctx *ctx, const char *root, const struct dos_report_input *in)
{
	struct dos_strv names = { 0 };
	char *sh = NULL, *csh = NULL;
	int r;

	r = env_names(ctx, in, &names);
	if (r == 0) {
		sh = rc_text(in, &names, false);
		csh = rc_text(in, &names, true);
		r = report_write(ctx, root, "diracosrc", sh, 0644);
	}
	if (r == 0)
		r = report_write(ctx, root, "diracosrc.csh", csh, 0644);
	free(sh);
	free(csh);
	dos_strv_release(&names);
	return r;
}
