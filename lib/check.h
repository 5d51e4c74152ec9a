/* diracos check: a static audit of a bundle, without running it.
 *
 * The bundle is a tarball (.tar.zst, .tar.gz, .tar.xz: read as one stream
 * with libarchive, never unpacked; ELF headers and dynamic sections are
 * parsed from memory) or an unpacked bundle's top folder (the one holding
 * diracosrc; its files are read by ctx->jobs threads). What is checked:
 *   - links: absolute symlinks, symlinks that leave the bundle, broken
 *     symlinks (those of the tree, and those the bundle step removed and
 *     listed in brokenLinks.txt) unless tests.knownBrokenLinks lists them,
 *     hard links;
 *   - libraries: every DT_NEEDED of every dynamic ELF file, looked up as
 *     ld.so would (DT_RPATH with $ORIGIN when there is no DT_RUNPATH, then
 *     DT_RUNPATH), then among glibc's own libraries; one found nowhere is
 *     missing unless tests.knownMissingDependencies lists it;
 *   - the glibc floor (the newest GLIBC_x.y any file needs) against the
 *     glibc of every platform of tests.platforms;
 *   - leaks: files holding the build-time paths (<workDir>/bundle/<name>,
 *     <workDir>), and executable scripts whose #! names an interpreter
 *     the bundle does not ship (other than /bin/sh and /usr/bin/env);
 *   - Python bytecode, when usr/bin ships a python3.X (the highest one):
 *     every source of usr/lib/python3.X/ and usr/lib/python3/dist-packages/
 *     has a valid __pycache__/NAME.cpython-3X.pyc (hash-based, its magic number and
 *     source hash right) unless tests.knownNoBytecode lists it, and every
 *     __pycache__ .pyc there has its source;
 *   - setuid and setgid files, world-writable files, device files, fifos
 *     and sockets;
 *   - a summary: files, bytes, ELF files, the largest folders.
 * Failures are data in the report, not errors: dos_check_run() fails only
 * when the bundle cannot be read. */
#pragma once

#include "config.h"
#include "context.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct dos_check_opts {
	const char *bundle;             /* a tarball, or an unpacked bundle's top folder */
	/* NULL: the tests settings and the build paths come from the bundle's
	 * own diracos.json. Else from here (diracos check -c CONFIG). */
	const struct dos_tests *tests;
	const char *work_dir;           /* with tests: the build's workDir, or NULL */
	const char *name;               /* with tests: the bundle's name (NULL: the top folder's) */
	bool strict;                    /* stale entries of the known lists are failures */
};

/* One finding: a path relative to the top folder and what about it (a link
 * target, a library name, a leaked string, an interpreter, a kind). */
struct dos_check_item {
	char *path;
	char *detail;
};

struct dos_check_list {
	struct dos_check_item *v;
	size_t n, alloc;
};

struct dos_check_platform {
	char *name;                     /* as tests.platforms has it */
	char *glibc;                    /* "2.36"; NULL for a platform we do not know */
	bool ok;                        /* its glibc is at least the floor */
};

struct dos_check_folder {
	char *path;
	uint64_t bytes;                 /* regular files under it, recursively */
};

#define DOS_CHECK_LARGEST 10

struct dos_check_report {
	char *name;                     /* the top folder's name */
	bool tarball;
	/* failures */
	struct dos_check_list absolute_links, outside_links;   /* detail: target */
	struct dos_check_list broken_links;                    /* detail: target */
	struct dos_check_list hard_links;                      /* detail: "2 links", "to PATH" */
	struct dos_check_list missing_libraries;               /* path: the ELF file, detail: library */
	struct dos_check_list leaks;                           /* detail: the string found */
	struct dos_check_list shebangs;                        /* detail: the interpreter */
	struct dos_check_list setuid;                          /* detail: "setuid", "setgid" */
	struct dos_check_list world_writable;                  /* detail: the mode, "0777" */
	struct dos_check_list special_files;                   /* detail: "fifo", "socket", ... */
	struct dos_check_list too_old_platforms;               /* path: platform, detail: its glibc */
	struct dos_check_list no_bytecode;                     /* path: the source, detail: why */
	struct dos_check_list orphan_bytecode;                 /* path: the .pyc, detail: "no x.py" */
	/* not failures (stale ones are with strict) */
	struct dos_check_list known_broken_links, known_missing_libraries;
	struct dos_strv stale_broken_links, stale_missing_libraries;
	struct dos_check_list known_no_bytecode;               /* detail: why */
	struct dos_strv stale_no_bytecode;
	struct dos_strv warnings;
	/* glibc */
	char *glibc_floor;              /* "2.34"; NULL when no file asks for a version */
	char *glibc_floor_file;         /* a file that needs it */
	struct dos_check_platform *platforms;
	size_t n_platforms;
	struct dos_strv glibc_private;  /* files needing GLIBC_PRIVATE (warnings) */
	/* what the leak search looked for (empty: no build paths known) */
	struct dos_strv leak_strings;
	/* Python: the versions of usr/bin checked ("3.13"), sources looked at
	 * (once each), valid .pyc files found */
	struct dos_strv pythons;
	uint64_t py_sources, bytecode_ok;
	/* summary */
	uint64_t files, folders, symlinks, bytes, elf_files;
	struct dos_check_folder largest[DOS_CHECK_LARGEST];
	size_t n_largest;
	bool strict;
};

/* Audits opts->bundle into report (initialized here; release it after,
 * also on failure). Returns 0, DOS_EUSAGE when the path is neither a file
 * nor a folder holding diracosrc, DOS_EIO or DOS_EFORMAT when the bundle
 * cannot be read (a corrupt tarball, entries outside its one top folder). */
int dos_check_run(struct dos_ctx *ctx, const struct dos_check_opts *opts,
		  struct dos_check_report *report);

void dos_check_report_release(struct dos_check_report *report);

/* The number of failures (stale known entries count with strict). */
size_t dos_check_failures(const struct dos_check_report *report);

/* The glibc version of a platform name ("bookworm", "el9", "debian12",
 * "almalinux:9", ...), NULL when unknown. */
const char *dos_check_platform_glibc(const char *platform);

/* CPython's _imp.source_hash() of a source for Python 3.minor (its bytes
 * little-endian are the .pyc's); 0 for a version whose magic number check
 * does not know. */
uint64_t dos_check_pyc_source_hash(int minor, const void *buf, size_t len);

/* True when soname is one of glibc's own libraries (libc.so.6, ...). */
bool dos_check_is_glibc(const char *soname);
