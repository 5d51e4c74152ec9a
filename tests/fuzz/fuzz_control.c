/* Control files (Packages, Sources, a deb822 .sources file): the stanza
 * parser of dist.c, then what build_src.c picks from a Sources index,
 * dpkg's version order between the versions the input holds, and the
 * mirror found in the input taken as the host's apt sources (mirror.c, as
 * a deb822 .sources file and as a one-line sources.list). The same text
 * is also read as a maintainer script (the update-alternatives commands
 * extraction acts on) and as a copyright file. */
#include "fuzz.h"

#include "build.h"
#include "dist.h"
#include "extract_internal.h"
#include "mirror.h"

#include <sys/stat.h>
#include <unistd.h>

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

/* The stanzas: each field named, its value as long as it says, found by
 * name; every version compared with the previous one both ways. */
static char *stanzas_check(struct dos_ctx *ctx, const uint8_t *data, size_t size)
{
	struct dos_control_parser p;
	struct dos_control c = { 0 };
	char *prev = NULL, *first_name = NULL;
	size_t stanzas = 0;
	int r;

	dos_control_parser_init(&p, (const char *)data, size, "file 'Fuzz'");
	while ((r = dos_control_parse_next(ctx, &p, &c)) > 0) {
		const char *v = dos_control_get(&c, "Version"), *name = dos_control_get(&c, "Package");
		FUZZ_ASSERT(++stanzas <= size);
		for (size_t i = 0; i < c.n; i++) {
			FUZZ_ASSERT(c.fields[i].name && c.fields[i].value);
			FUZZ_ASSERT(strlen(c.fields[i].value) == c.fields[i].len);
			FUZZ_ASSERT(dos_control_get(&c, c.fields[i].name));
		}
		if (v && prev) {
			FUZZ_ASSERT(sign(dos_deb_version_compare(v, prev)) ==
				    -sign(dos_deb_version_compare(prev, v)));
			FUZZ_ASSERT(dos_deb_version_compare(v, v) == 0);
		}
		if (v) {
			free(prev);
			prev = strdup(v);
		}
		if (name && !first_name)
			first_name = strdup(name);
	}
	FUZZ_ASSERT(r == 0 || (r < 0 && ctx->msg[0]));
	dos_control_release(&c);
	free(prev);
	return first_name;
}

/* Whether a relative path has a ".." component ("..foo" is a name). */
static bool dotdot_component(const char *path)
{
	for (const char *p = path; *p; p += strcspn(p, "/"), p += *p == '/')
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
			return true;
	return false;
}

/* build_src.c's choice of a stanza, for the first package the input names
 * (so that the fuzzer reaches the checks of Directory and the file list). */
static void sources_scan(struct dos_ctx *ctx, const uint8_t *data, size_t size, char *name)
{
	struct dos_build_src_spec specs[2] = { { .name = name }, { .name = name, .version = "1.0-1" } };
	struct dos_build_src_pick picks[2] = { { 0 } };

	if (dos_build_src_scan(ctx, (const char *)data, size, "file 'Sources'", specs, 2, picks) == 0) {
		for (int i = 0; i < 2; i++) {
			if (!picks[i].version)
				continue;
			FUZZ_ASSERT(picks[i].directory && picks[i].directory[0] != '/');
			FUZZ_ASSERT(!dotdot_component(picks[i].directory));
			for (size_t j = 0; j < picks[i].n_files; j++)
				FUZZ_ASSERT(!strchr(picks[i].files[j].name, '/'));
		}
	}
	for (int i = 0; i < 2; i++)
		dos_build_src_pick_release(&picks[i]);
}

/* The input as apt_dir/sources.list.d/fuzz.sources, then as
 * apt_dir/sources.list: a mirror found is an absolute URI. */
static void apt_sources(const uint8_t *data, size_t size)
{
	static char *apt, *list, *d822, *dir;
	struct dos_ctx ctx;
	char *m;

	if (!apt) {
		apt = dos_xasprintf("%s/apt", fuzz_scratch());
		list = dos_xasprintf("%s/sources.list", apt);
		d822 = dos_xasprintf("%s/sources.list.d/fuzz.sources", apt);
		FUZZ_ASSERT(mkdir(apt, 0755) == 0);
		dir = dos_xasprintf("%s/sources.list.d", apt);
		FUZZ_ASSERT(mkdir(dir, 0755) == 0);
	}
	for (int pass = 0; pass < 2; pass++) {
		unlink(list);
		unlink(d822);
		fuzz_write(pass ? list : d822, data, size);
		fuzz_ctx(&ctx);
		m = dos_mirror_from_sources_dir(&ctx, apt, "bookworm");
		if (m) {
			char *sec = dos_mirror_security_from_sources_dir(&ctx, apt, m, "bookworm");
			FUZZ_ASSERT(m[0] && m[strlen(m) - 1] != '/');
			free(sec);
		} else {
			FUZZ_ASSERT(ctx.msg[0]);
		}
		free(m);
	}
}

/* Alternatives are made as links inside the bundle from these: the link
 * and the path must be absolute, a slave must follow a master. */
static void scripts_read(const char *text)
{
	struct dos_alternative *alts = NULL;
	size_t n = 0;

	dos_extract_parse_alternatives(text, "fuzz", &alts, &n);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(alts[i].link && alts[i].link[0] == '/');
		FUZZ_ASSERT(alts[i].path && alts[i].path[0] == '/');
		FUZZ_ASSERT(alts[i].name && alts[i].package);
		FUZZ_ASSERT(!alts[i].master || i > 0);
		extract_alternative_release(&alts[i]);
	}
	free(alts);
	free(dos_extract_parse_license(text));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dos_ctx ctx;
	struct dos_build_src_spec spec;
	char *name, *line;

	fuzz_ctx(&ctx);
	apt_sources(data, size);
	name = stanzas_check(&ctx, data, size);
	if (name)
		sources_scan(&ctx, data, size, name);
	free(name);

	/* The first line as a "src" package string: NAME[=VERSION][@SUITE]. */
	line = fuzz_strndup(data, size);
	scripts_read(line);
	line[strcspn(line, "\n")] = '\0';
	memset(&spec, 0, sizeof(spec));
	if (dos_build_src_parse(&ctx, line, &spec) == 0)
		FUZZ_ASSERT(spec.name && spec.name[0]);
	dos_build_src_spec_release(&spec);
	free(line);
	return 0;
}
