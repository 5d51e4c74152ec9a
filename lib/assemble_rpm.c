/* Step 4a for platform.backend "rpm": the repositories the closure is
 * resolved against are rpm-md ones (see resolve_rpm.h for the trust
 * model).
 *
 * The distribution: platform.mirror (DIRACOS_RPM_MIRROR overrides) is a
 * base URL, and each of platform.components names a repository under it
 * (".": the mirror itself), e.g. "BaseOS/x86_64/os". Its repomd.xml is
 * downloaded afresh on every run; the primary metadata goes through the
 * cache under the sha256 repomd.xml names. The local repository is the one
 * createrepo_c wrote in <cfg->repo>/rpm (repo_rpm.h); its build-only
 * section is never read here. */
#include "assemble_rpm.h"
#include "repo_rpm.h"
#include "resolve_rpm.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* As in assemble.c: the local repository wins over the distribution. */
#define PRIORITY_LOCAL 100
#define PRIORITY_DISTRIBUTION 0

static char *mirror_for(const struct dos_config *cfg)
{
	const char *env = getenv("DIRACOS_RPM_MIRROR");
	const char *m = env && *env ? env : cfg->platform.mirror;
	size_t n;

	if (!m || !*m)
		return NULL;
	n = strlen(m);
	while (n > 0 && m[n - 1] == '/')
		n--;
	return dos_xasprintf("%.*s", (int)n, m);
}

static char *repo_url(const char *mirror, const char *component)
{
	if (!strcmp(component, ".") || !*component)
		return dos_xstrdup(mirror);
	return dos_xasprintf("%s/%s", mirror, component);
}

/* The primary's name as repomd.xml gives it: its suffix tells the
 * compression. */
static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int fetch_repomd(struct dos_ctx *ctx, struct dos_assembly *as, const char *url,
			char **path)
{
	char key[DOS_SHA256_HEX];
	_cleanup_free_ char *dir = NULL;
	_cleanup_free_ char *from = dos_xasprintf("%s/repodata/repomd.xml", url);
	int r;

	dos_sha256_buf(url, strlen(url), key);
	dir = dos_xasprintf("%s/rpmmd/%.16s", as->cache->root, key);
	r = dos_mkdir_p(ctx, dir, 0755);
	if (r < 0)
		return r;
	*path = dos_path_join(dir, "repomd.xml");
	r = dos_fetch_to_file(ctx, from, *path);
	if (r < 0)
		dos_error_prefix(ctx, "rpm-md repository '%s'", url);
	return r < 0 ? ctx->code : 0;
}

static int fetch_primary(struct dos_ctx *ctx, struct dos_assembly *as, const char *url,
			 const struct dos_rpmmd_data *d, char **path)
{
	_cleanup_free_ char *from = dos_xasprintf("%s/%s", url, d->location);
	_cleanup_free_ char *what = dos_xasprintf("index '%s'", base_name(d->location));
	struct dos_fetch_item item = { .url = from, .sha256 = d->sha256, .size = d->size,
				       .name = what };
	int r = dos_fetch_many(ctx, as->cache, &item, 1, "metadata");

	if (r == 0)
		*path = dos_steal(&item.path);
	dos_fetch_items_release(&item, 1);
	return r;
}

static int add_remote(struct dos_ctx *ctx, struct dos_assembly *as, const char *url,
		      const char *name)
{
	_cleanup_free_ char *repomd = NULL, *primary = NULL;
	struct dos_rpmmd_data d = { 0 };
	int r = fetch_repomd(ctx, as, url, &repomd);

	if (r == 0)
		r = dos_rpmmd_find_data(ctx, repomd, "primary", &d);
	if (r == 0)
		r = fetch_primary(ctx, as, url, &d, &primary);
	if (r == 0)
		r = dos_resolver_add_rpmmd(as->resolver, name, primary, base_name(d.location), url,
					   PRIORITY_DISTRIBUTION);
	if (r == 0)
		dos_strv_push(&as->repos, name);
	dos_rpmmd_data_release(&d);
	return r;
}

static int add_distribution(struct dos_ctx *ctx, const struct dos_config *cfg,
			    struct dos_assembly *as)
{
	_cleanup_free_ char *mirror = mirror_for(cfg);

	if (!mirror)
		return dos_error(ctx, DOS_ECONFIG, "platform backend 'rpm': no repository URL: set "
				 "platform.mirror (or DIRACOS_RPM_MIRROR)");
	for (size_t i = 0; i < cfg->platform.components.n; i++) {
		const char *comp = cfg->platform.components.v[i];
		_cleanup_free_ char *url = repo_url(mirror, comp);
		_cleanup_free_ char *name = dos_xasprintf("%s %s", cfg->platform.suite, comp);
		int r = add_remote(ctx, as, url, name);

		if (r < 0)
			return r;
	}
	return 0;
}

/* The local repository's metadata is ours: read in place, its primary
 * still checked against repomd.xml (a half-written repository fails). */
static int add_local(struct dos_ctx *ctx, const struct dos_config *cfg, struct dos_assembly *as)
{
	_cleanup_free_ char *dir = dos_repo_rpm_dir(cfg->repo, false);
	_cleanup_free_ char *repomd = dos_xasprintf("%s/repodata/repomd.xml", dir);
	_cleanup_free_ char *base = dos_xasprintf("file://%s", dir);
	_cleanup_free_ char *primary = NULL;
	struct dos_rpmmd_data d = { 0 };
	char got[DOS_SHA256_HEX];
	int r;

	if (access(repomd, R_OK) < 0)
		return 0;
	r = dos_rpmmd_find_data(ctx, repomd, "primary", &d);
	if (r == 0) {
		primary = dos_path_join(dir, d.location);
		r = dos_sha256_file(ctx, primary, got);
	}
	if (r == 0 && strcmp(got, d.sha256))
		r = dos_error(ctx, DOS_ECHECKSUM, "local repository '%s': primary metadata '%s': "
			      "sha256 mismatch (expected %s, got %s)", dir, d.location,
			      d.sha256, got);
	if (r == 0)
		r = dos_resolver_add_rpmmd(as->resolver, "local", primary, base_name(d.location), base,
					   PRIORITY_LOCAL);
	if (r == 0)
		dos_strv_push(&as->repos, "local");
	dos_rpmmd_data_release(&d);
	return r;
}

int dos_assemble_rpm_repos(struct dos_ctx *ctx, const struct dos_config *cfg,
			   struct dos_assembly *as)
{
	int r = add_local(ctx, cfg, as);

	return r < 0 ? r : add_distribution(ctx, cfg, as);
}
