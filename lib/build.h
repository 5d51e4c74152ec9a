/* Steps 1-3: building the configured packages into the local repository.
 *
 * A recipe build: the sources are fetched into the cache (verified) and
 * linked into <workDir>/build/<name>/sources, the first one is unpacked
 * into <workDir>/build/<name>/src, a fresh build root (variant buildd) gets
 * the buildDependencies (the local repository, both sections, pinned
 * first), and then, in the sandbox without the network, each step runs in
 * the unpacked source's top folder:
 *
 *   patch -p1 -i /diracos/package.patch   when <patchDir>/<name>.patch exists
 *   sh -e /diracos/preRoutine.sh          when preRoutine is set
 *   sh -e /diracos/recipe.sh              (or /diracos/routine.sh: routine replaces it)
 *   sh -e /diracos/postRoutine.sh         when postRoutine is set
 *
 * with SOURCES=/diracos/sources (read-only), the source tree read-write at
 * /diracos/build, DESTDIR=/diracos/destdir, PREFIX=/usr, JOBS, HOME=/tmp,
 * LC_ALL=C.UTF-8, SOURCE_DATE_EPOCH, and every keyed option (see plan.h)
 * as DIRACOS_OPT_<KEY> (the key upper-cased, other characters '_'; JSON
 * text when not a string). The install tree becomes one .deb named after
 * the package, committed to the repository with its record and log. The
 * log is <workDir>/logs/<name>.log, kept when the build fails. */
#pragma once

#include "config.h"
#include "context.h"
#include "fetch.h"
#include "plan.h"
#include "repo.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* A recipe's default time limit; the option "timeout" (seconds) or a
 * buildOptions entry "timeout=SECONDS" overrides it. */
#define DOS_BUILD_TIMEOUT_S (2 * 3600)
/* SOURCE_DATE_EPOCH when the environment gives none: 2024-01-01. */
#define DOS_BUILD_EPOCH 1704067200

/* --- .deb files from install trees --- */

struct dos_deb_opts {
	const char *tree;                 /* the install tree (DESTDIR) */
	const char *package;              /* Package: */
	const char *version;              /* Version: */
	const char *arch;                 /* Architecture: when an ELF file is in the tree, else "all" */
	const struct dos_strv *depends;   /* declared, added to the computed ones (may be NULL) */
	/* A root whose var/lib/dpkg/info/ *.list say which package ships the
	 * libraries the tree's ELF files need (NULL: none is looked up). */
	const char *dpkg_root;
	int64_t mtime;                    /* every entry's mtime */
	const char *out_path;             /* the .deb, written atomically */
};

struct dos_deb_result {
	char *arch;                       /* what Architecture: became */
	struct dos_strv depends;          /* Depends:, in order */
	struct dos_strv missing;          /* "path: soname" no package provides */
	uint64_t installed_kib;
	uint64_t entries;
};

/* Writes a .deb as dpkg-deb would (ar: debian-binary, control.tar.xz,
 * data.tar.xz; GNU tar members, sorted, "./" paths, uid/gid 0, mtime
 * fixed): the same tree gives the same bytes. Only folders, regular files
 * and symlinks may be in the tree. Depends: the packages shipping the
 * sonames the ELF files need (DT_NEEDED, in the library folders of
 * dpkg_root), less those the tree ships itself, then the declared ones. */
int dos_build_deb(struct dos_ctx *ctx, const struct dos_deb_opts *o, struct dos_deb_result *res);
void dos_deb_result_release(struct dos_deb_result *res);

/* Whether s is a valid Debian package name / version. */
bool dos_build_name_valid(const char *s);
bool dos_build_version_valid(const char *s);

/* --- one package --- */

struct dos_build_opts {
	const struct dos_config *cfg;
	const struct dos_package *pkg;
	const char *key;                  /* its content key */
	json_t *inputs;                   /* what went into it (borrowed) */
	struct dos_repo *repo;            /* where it is committed */
	struct dos_cache *cache;          /* where sources are fetched to */
	int jobs;                         /* JOBS inside */
};

/* Builds one package (a recipe, or a src package: see below) and commits
 * it. On failure the repository is unchanged, the log stays, and the error
 * names the package, the step, its command and exit status, and quotes the
 * log's last lines. */
int dos_build_package(struct dos_ctx *ctx, const struct dos_build_opts *o);

/* Shared by recipe and src builds: the time limit of each step in seconds
 * ("timeout", a buildOptions "timeout=S", else DOS_BUILD_TIMEOUT_S), and a
 * log's last lines for an error message (the caller frees). */
int dos_build_timeout(const struct dos_package *p);
/* Unpacks an archive (any format and filter libarchive reads) into dest:
 * folders, files, links only, no entry outside dest, no setuid bit. */
int dos_build_unpack(struct dos_ctx *ctx, const char *archive_path, const char *dest);
char *dos_build_log_tail(const char *path);
/* The error for a step of a build that ran argv in cwd and exited with
 * status: what it was, its command line, and the end of its log. */
int dos_build_step_failed(struct dos_ctx *ctx, const char *what, char *const argv[],
			  const char *cwd, int status, const char *log);
struct dos_rootfs_instance;
/* The end of one package's build, whatever its kind, r its result: a
 * failure noted in the log, the build root dropped (*inst NULL after), and
 * the work folder dir removed after a success only (kept for a look after
 * a failure). Returns r. */
int dos_build_end(struct dos_ctx *ctx, int r, const char *log, struct dos_rootfs_instance **inst,
		  const char *dir);

/* --- distribution source packages (build_src.c) ---
 *
 * "src": "NAME[=VERSION][@SUITE]": the stanza NAME (at VERSION, else the
 * highest version) of SUITE's (default: platform.suite) signed Sources
 * index, every component, is chosen when the plan is made and pinned in
 * the package's options as "srcResolved" {package, version, suite,
 * directory, dsc, files}, so the content key changes with the archive.
 * The build fetches the files (sha256-verified) from
 * <mirror>/<Directory>/<file>, and in a buildd root of platform.suite runs
 * dpkg-source --no-check -x, patch -p1 (<patchDir>/<name>.patch), apt-get
 * build-dep ./ (network on), dpkg-buildpackage -b -us -uc (network off),
 * then commits the .deb files dos_build_src_filter() keeps. */

struct dos_build_src_spec {
	char *name;
	char *version;   /* NULL: the highest */
	char *suite;     /* NULL: platform.suite */
};

/* Parses NAME[=VERSION][@SUITE]; DOS_ECONFIG naming the text and the part. */
int dos_build_src_parse(struct dos_ctx *ctx, const char *text, struct dos_build_src_spec *spec);
void dos_build_src_spec_release(struct dos_build_src_spec *spec);

/* dpkg's order: <0, 0 or >0 (normalized to -1, 0, 1), as `dpkg
 * --compare-versions a lt|eq|gt b`: epoch, then upstream, then revision,
 * '~' before anything, even the end. */
int dos_deb_version_compare(const char *a, const char *b);

struct dos_build_src_file {
	char *name;
	char sha256[DOS_SHA256_HEX];
	uint64_t size;
};

struct dos_build_src_pick {
	char *package, *version, *suite, *directory;   /* version NULL: none found */
	char dsc_sha256[DOS_SHA256_HEX];
	struct dos_build_src_file *files;              /* Checksums-Sha256, one .dsc */
	size_t n_files;
};

/* Scans a Sources index (text, len; what names it in errors): for each
 * spec, picks[i] becomes the stanza of its name (Extra-Source-Only ones
 * only when a version is asked) that beats what picks[i] holds. A chosen
 * stanza with an unsafe Directory or file name, or not one .dsc, is
 * DOS_EFORMAT. */
int dos_build_src_scan(struct dos_ctx *ctx, const char *text, size_t len, const char *what,
		       const struct dos_build_src_spec *specs, size_t n,
		       struct dos_build_src_pick *picks);
/* The same over the suites' archives (InRelease verified); picks[i].version
 * stays NULL when no index has specs[i]. */
int dos_build_src_resolve(struct dos_ctx *ctx, const struct dos_config *cfg,
			  struct dos_cache *cache, const struct dos_build_src_spec *specs,
			  size_t n, struct dos_build_src_pick *picks);
json_t *dos_build_src_pick_json(const struct dos_build_src_pick *pick);
void dos_build_src_pick_release(struct dos_build_src_pick *pick);

/* A copy of cfg's packages (cfg->n_packages) for the plan: the src
 * packages' options (deep copies) gain "srcResolved". Reads the Sources
 * indices only when there is a src package. Errors: a bad src string, a
 * source package no index has, an archive that cannot be read. */
int dos_build_src_pin(struct dos_ctx *ctx, const struct dos_config *cfg, struct dos_cache *cache,
		      struct dos_package **pinned);
void dos_build_src_pinned_free(struct dos_package *pinned, size_t n);

/* The .deb file names (of files, which may hold others) kept: not a
 * dbgsym package, matching no excludePatterns (POSIX extended regexes
 * searched in the file name), named by pkg_list when it is not empty.
 * Errors: a bad regex (DOS_ECONFIG), a pkg_list name not kept, nothing
 * kept. kept is sorted. */
int dos_build_src_filter(struct dos_ctx *ctx, const struct dos_strv *files,
			 const struct dos_strv *pkg_list, const struct dos_strv *exclude,
			 struct dos_strv *kept);

/* DEB_BUILD_OPTIONS: "nocheck nodoc parallel=JOBS", then the buildOptions
 * words ("check"/"doc" drop "nocheck"/"nodoc", "NAME=..." replaces NAME's
 * value, "timeout=..." is ours). *profiles: DEB_BUILD_PROFILES to match
 * (space-separated, "nocheck nodoc" by default). Both the caller's to free. */
char *dos_build_src_deb_options(const json_t *build_options, int jobs, char **profiles);

/* Builds one src package and commits it, as dos_build_package does. */
int dos_build_src_package(struct dos_ctx *ctx, const struct dos_build_opts *o);

/* --- every configured package --- */

enum dos_build_status {
	DOS_BUILD_UP_TO_DATE,
	DOS_BUILD_BUILT,
	DOS_BUILD_FAILED,
	DOS_BUILD_SKIPPED,     /* something it builds against failed */
	DOS_BUILD_REMOVED,     /* no longer configured: its outputs removed */
	DOS_BUILD_UNSELECTED,  /* not named, not built on a named one */
};

struct dos_build_item {
	char *name;
	enum dos_build_status status;
	double seconds;
	char key[DOS_SHA256_HEX];
	char *error;           /* the message, for FAILED */
};

struct dos_build_report {
	struct dos_build_item *items;  /* configured packages in build order, then removed ones */
	size_t n;
};

struct dos_build_all_opts {
	const struct dos_strv *names;  /* only these and their dependents (NULL/empty: all) */
	const struct dos_strv *force;  /* rebuilt even when their key is unchanged */
};

/* Steps 1-3: opens (creates) the repository, removes the outputs of
 * packages no longer configured, and builds, in parallel (ctx->jobs at
 * once), every selected package whose key differs from its record's. A
 * dependency of a named package that is out of date is rebuilt first; one
 * never built is an error. Returns 0, or the first failure's code with its
 * message; report lists every package either way. */
int dos_build_packages(struct dos_ctx *ctx, const struct dos_config *cfg,
		       const struct dos_build_all_opts *o, struct dos_build_report *report);
void dos_build_report_release(struct dos_build_report *report);
const char *dos_build_status_name(enum dos_build_status s);
