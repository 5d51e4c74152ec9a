/* Finds the archive's URI in the host's apt sources, both formats: one-line
 * ("deb [opts] URI SUITE COMPONENTS...") and deb822 stanzas (Types, URIs,
 * Suites, Components). Third-party repositories often list a Debian
 * codename as their suite (docker: "bookworm stable"), so an entry with a
 * "main" component wins over one without. */
#include "mirror.h"
#include "dist.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SOURCES_FILE_MAX (1 << 20)

struct apt_entry {
	char *uri;
	struct dos_strv suites;
	bool has_main;
};

struct apt_sources {
	struct apt_entry *v;
	size_t n;
};

static void sources_release(struct apt_sources *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].uri);
		dos_strv_release(&s->v[i].suites);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Only what libcurl can fetch: no cdrom:, mirror+, tor+ or the like. */
static bool uri_usable(const char *uri)
{
	return !strncmp(uri, "http://", 7) || !strncmp(uri, "https://", 8) ||
	       !strncmp(uri, "file:/", 6);
}

static char *uri_clean(const char *uri)
{
	size_t n = strlen(uri);

	while (n > 0 && uri[n - 1] == '/')
		n--;
	return dos_xasprintf("%.*s", (int)n, uri);
}

static void sources_add(struct apt_sources *s, const char *uri, char **suites, size_t n_suites,
			bool has_main)
{
	struct apt_entry *e;

	if (!uri_usable(uri) || n_suites == 0)
		return;
	s->v = dos_xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	e = &s->v[s->n++];
	memset(e, 0, sizeof(*e));
	e->uri = uri_clean(uri);
	e->has_main = has_main;
	for (size_t i = 0; i < n_suites; i++)
		dos_strv_push(&e->suites, suites[i]);
}

/* Splits on blanks into sv. */
static void split_words(const char *text, struct dos_strv *sv)
{
	const char *p = text;

	while (*p) {
		size_t n;
		p += strspn(p, " \t\n");
		n = strcspn(p, " \t\n");
		if (n)
			dos_strv_push_owned(sv, dos_xasprintf("%.*s", (int)n, p));
		p += n;
	}
}

/* "deb [ options ] URI SUITE [COMPONENT...]" */
static void parse_one_line(struct apt_sources *s, char *line)
{
	struct dos_strv w = { 0 };
	bool has_main = false;
	size_t i = 1;

	line[strcspn(line, "#")] = '\0';
	split_words(line, &w);
	if (w.n < 3 || strcmp(w.v[0], "deb")) {
		dos_strv_release(&w);
		return;
	}
	if (w.v[1][0] == '[') {
		while (i < w.n && !strchr(w.v[i], ']'))
			i++;
		i++;
	}
	for (size_t c = i + 2; c < w.n; c++)
		has_main = has_main || !strcmp(w.v[c], "main");
	if (i + 1 < w.n)
		sources_add(s, w.v[i], &w.v[i + 1], 1, has_main);
	dos_strv_release(&w);
}

static void parse_list_file(struct apt_sources *s, char *data)
{
	char *save = NULL;

	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		parse_one_line(s, line);
}

static void parse_stanza(struct apt_sources *s, const struct dos_control *c)
{
	const char *types = dos_control_get(c, "Types");
	const char *uris = dos_control_get(c, "URIs");
	const char *suites = dos_control_get(c, "Suites");
	const char *components = dos_control_get(c, "Components");
	const char *enabled = dos_control_get(c, "Enabled");
	struct dos_strv t = { 0 }, u = { 0 }, su = { 0 }, co = { 0 };

	if (types && uris && suites && !(enabled && !strcasecmp(enabled, "no"))) {
		split_words(types, &t);
		split_words(uris, &u);
		split_words(suites, &su);
		split_words(components ? components : "", &co);
		for (size_t i = 0; dos_strv_contains(&t, "deb") && i < u.n; i++)
			sources_add(s, u.v[i], su.v, su.n, dos_strv_contains(&co, "main"));
	}
	dos_strv_release(&t);
	dos_strv_release(&u);
	dos_strv_release(&su);
	dos_strv_release(&co);
}

/* A malformed file is skipped with a warning, as one bad third-party file
 * should not hide the distribution's own entries. */
static void parse_deb822_file(struct dos_ctx *ctx, struct apt_sources *s, const char *path,
			      const char *data, size_t len)
{
	_cleanup_free_ char *what = dos_xasprintf("file '%s'", path);
	struct dos_control_parser p;
	struct dos_control c = { 0 };
	struct dos_ctx scratch;
	int r;

	dos_ctx_init(&scratch);
	dos_control_parser_init(&p, data, len, what);
	while ((r = dos_control_parse_next(&scratch, &p, &c)) > 0)
		parse_stanza(s, &c);
	if (r < 0)
		dos_warn(ctx, "%s (file skipped)", scratch.msg);
	dos_control_release(&c);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static void parse_file(struct dos_ctx *ctx, struct apt_sources *s, const char *path)
{
	struct dos_ctx scratch;
	_cleanup_free_ char *data = NULL;
	size_t len;

	dos_ctx_init(&scratch);
	if (dos_read_file(&scratch, path, SOURCES_FILE_MAX, &data, &len) < 0) {
		if (errno != ENOENT)
			dos_debug(ctx, "%s", scratch.msg);
		return;
	}
	if (ends_with(path, ".sources"))
		parse_deb822_file(ctx, s, path, data, len);
	else
		parse_list_file(s, data);
}

/* apt's order: sources.list, then sources.list.d/ by name. */
static void sources_load(struct dos_ctx *ctx, const char *apt_dir, struct apt_sources *s)
{
	_cleanup_free_ char *list = dos_path_join(apt_dir, "sources.list");
	_cleanup_free_ char *d = dos_path_join(apt_dir, "sources.list.d");
	struct dos_strv names = { 0 };
	DIR *dir = opendir(d);
	struct dirent *de;

	parse_file(ctx, s, list);
	while (dir && (de = readdir(dir)))
		if (de->d_name[0] != '.' &&
		    (ends_with(de->d_name, ".list") || ends_with(de->d_name, ".sources")))
			dos_strv_push(&names, de->d_name);
	if (dir)
		closedir(dir);
	dos_strv_sort(&names);
	for (size_t i = 0; i < names.n; i++) {
		_cleanup_free_ char *path = dos_path_join(d, names.v[i]);
		parse_file(ctx, s, path);
	}
	dos_strv_release(&names);
}

/* --- choosing --- */

static const char *const debian_codenames[] = {
	"buzz", "rex", "bo", "hamm", "slink", "potato", "woody", "sarge", "etch", "lenny",
	"squeeze", "wheezy", "jessie", "stretch", "buster", "bullseye", "bookworm", "trixie",
	"forky", "duke", "sid", "stable", "oldstable", "oldoldstable", "testing", "unstable",
	"experimental", NULL,
};

/* A suite of Debian's main archive: a codename, plain or -updates or
 * -backports (not -security, which another archive serves). */
static bool suite_is_debian_main(const char *suite)
{
	size_t n = strcspn(suite, "-/");
	const char *rest = suite + n;

	if (*rest && strcmp(rest, "-updates") && strcmp(rest, "-backports") &&
	    strcmp(rest, "-proposed-updates") && strcmp(rest, "-backports-sloppy"))
		return false;
	for (int i = 0; debian_codenames[i]; i++)
		if (strlen(debian_codenames[i]) == n && !strncmp(suite, debian_codenames[i], n))
			return true;
	return false;
}

static bool entry_debian(const struct apt_entry *e)
{
	for (size_t i = 0; i < e->suites.n; i++)
		if (suite_is_debian_main(e->suites.v[i]))
			return true;
	return false;
}

/* pass 0: lists suite, has main; 1: lists suite; 2: Debian-looking. */
static const struct apt_entry *sources_pick(const struct apt_sources *s, const char *suite,
					    int last_pass)
{
	for (int pass = 0; pass <= last_pass; pass++) {
		for (size_t i = 0; i < s->n; i++) {
			const struct apt_entry *e = &s->v[i];
			bool lists = dos_strv_contains(&e->suites, suite);
			if ((pass == 0 && lists && e->has_main) || (pass == 1 && lists) ||
			    (pass == 2 && e->has_main && entry_debian(e)))
				return e;
		}
	}
	return NULL;
}

char *dos_mirror_from_sources_dir(struct dos_ctx *ctx, const char *apt_dir, const char *suite)
{
	struct apt_sources s = { 0 };
	const struct apt_entry *e;
	char *uri = NULL;

	sources_load(ctx, apt_dir, &s);
	e = sources_pick(&s, suite, 2);
	if (e)
		uri = dos_xstrdup(e->uri);
	else
		dos_error(ctx, DOS_ECONFIG,
			  "suite '%s': no mirror: set platform.mirror or DIRACOS_MIRROR (no Debian "
			  "'deb' entry in %s/sources.list or %s/sources.list.d)", suite, apt_dir,
			  apt_dir);
	sources_release(&s);
	return uri;
}

char *dos_mirror_security_from_sources_dir(struct dos_ctx *ctx, const char *apt_dir,
					   const char *main_mirror, const char *suite)
{
	_cleanup_free_ char *sec = dos_xasprintf("%s-security", suite);
	_cleanup_free_ char *main_uri = main_mirror ? uri_clean(main_mirror) : NULL;
	struct apt_sources s = { 0 };
	const struct apt_entry *e;
	char *uri = NULL;

	sources_load(ctx, apt_dir, &s);
	e = sources_pick(&s, sec, 1);
	if (e)
		uri = dos_xstrdup(e->uri);
	else if (main_uri && ends_with(main_uri, "/debian"))
		uri = dos_xasprintf("%s-security", main_uri);
	else
		dos_error(ctx, DOS_ECONFIG,
			  "suite '%s': no security mirror: set DIRACOS_SECURITY_MIRROR (none in the "
			  "apt sources, and none derived from '%s')", sec,
			  main_mirror ? main_mirror : "");
	sources_release(&s);
	return uri;
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

char *dos_mirror_for(struct dos_ctx *ctx, const char *configured, const char *suite)
{
	const char *v = env_nonempty("DIRACOS_MIRROR");

	if (v)
		return uri_clean(v);
	if (configured && *configured)
		return uri_clean(configured);
	return dos_mirror_from_sources_dir(ctx, "/etc/apt", suite);
}

char *dos_mirror_security_for(struct dos_ctx *ctx, const char *main_mirror, const char *suite)
{
	const char *v = env_nonempty("DIRACOS_SECURITY_MIRROR");

	if (v)
		return uri_clean(v);
	return dos_mirror_security_from_sources_dir(ctx, "/etc/apt", main_mirror, suite);
}
