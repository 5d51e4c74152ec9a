/* A repository's Packages index as the resolver loads it: our scan of the
 * stanzas (sizes, SHA256, Source:) beside libsolv's parse, the two paired
 * up, then the closure of the first package the index names (which checks
 * each entry's Filename and SHA256 before any URL is made of it). */
#include "fuzz.h"

#include "resolve.h"

/* The value of the first "Package:" line, or NULL. */
static char *first_package(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *p = strstr(text, "Package:"), *name = NULL;

	if (p) {
		p += 8;
		p += strspn(p, " \t");
		name = strndup(p, strcspn(p, " \t\r\n"));
	}
	free(text);
	return name;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *path;
	struct dos_ctx ctx;
	struct dos_resolver *r = NULL;
	struct dos_closure cl = { 0 };
	char *name;

	if (!path)
		path = dos_xasprintf("%s/Packages", fuzz_scratch());
	fuzz_write(path, data, size);
	fuzz_ctx(&ctx);
	if (dos_resolver_new(&ctx, "deb", "amd64", &r) < 0)
		abort();
	if (dos_resolver_add_deb_index(r, "fuzz", path, "http://mirror.invalid/debian/", 1) == 0 &&
	    (name = first_package(data, size))) {
		struct dos_strv wanted = { 0 };
		struct dos_closure_request req = { .wanted = &wanted };
		dos_strv_push(&wanted, name);
		if (dos_resolver_closure(r, &req, &cl) == 0) {
			for (size_t i = 0; i < cl.n; i++) {
				const struct dos_resolved_pkg *p = &cl.pkgs[i];
				FUZZ_ASSERT(p->name && p->url && p->filename && p->sha256);
				FUZZ_ASSERT(dos_sha256_valid(p->sha256));
				FUZZ_ASSERT(!strchr(p->filename, '/'));
				FUZZ_ASSERT(!strstr(p->url, "/../"));
			}
			dos_closure_release(&cl);
		}
		dos_strv_release(&wanted);
		free(name);
	}
	dos_resolver_free(r);
	return 0;
}
