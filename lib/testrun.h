/* diracos test: a bundle's tests run on each target platform.
 *
 * The bundle (a tarball, unpacked once into a temporary folder, or an
 * unpacked bundle's top folder) is bound read-only at a path it has never
 * seen, /cvmfs/diracos.test/<random>/<name>, in a fresh minbase root of
 * each platform (rootfs.h), itself read-only, without network, in a hostile
 * environment (LD_LIBRARY_PATH, PYTHONPATH and PYTHONHOME point at junk).
 * Every test is one sandbox run of `sh -c` that sources diracosrc first:
 *   - tests.imports: the bundle's python3 imports the module, and the
 *     module's file (when it has one) is inside the bundle;
 *   - tests.commands: a shell command line that must exit 0;
 *   - tests.scripts: a script file (relative to the configuration's
 *     folder) copied into the root and run with sh, or directly when it is
 *     executable and starts with #!; it must exit 0.
 * A platform whose glibc is older than the bundle's floor (check.h) runs
 * nothing: its column says "below-floor", which is reported, not a failure.
 * Failing tests keep their log under <workDir>/test-logs/<platform>/. */
#pragma once

#include "config.h"
#include "context.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>

#define DOS_TESTRUN_TIMEOUT_S 60
/* The bundle's mount point inside is DOS_TESTRUN_MOUNT_BASE/<random>/<name>. */
#define DOS_TESTRUN_MOUNT_BASE "/cvmfs/diracos.test"
/* Where tests.scripts are copied to inside the root. */
#define DOS_TESTRUN_SCRIPT_DIR "/diracos-tests"

enum dos_testrun_kind {
	DOS_TESTRUN_IMPORT,
	DOS_TESTRUN_COMMAND,
	DOS_TESTRUN_SCRIPT,
};

enum dos_testrun_status {
	DOS_TESTRUN_PENDING = 0,   /* not run (yet) */
	DOS_TESTRUN_OK,
	DOS_TESTRUN_FAIL,
	DOS_TESTRUN_BELOW_FLOOR,   /* the platform's glibc is older than the floor */
	DOS_TESTRUN_SKIPPED,       /* no test root for this platform (rpm-based) */
	DOS_TESTRUN_ERROR,         /* the platform's root could not be made */
};

struct dos_testrun_test {
	enum dos_testrun_kind kind;
	char *spec;      /* the module, command line or script path as configured */
	char *label;     /* unique among the tests: "import ssl", "hello", "script t.sh" */
	char *slug;      /* "2-command-hello": its log file's name, without ".log" */
	char *script;    /* a script's host path (absolute); NULL for the others */
	char *inside;    /* a script's path inside: DOS_TESTRUN_SCRIPT_DIR/<n>/<file> */
	bool direct;     /* a script run as its own program (executable, #!) */
};

struct dos_testrun_platform {
	char *name;      /* as tests.platforms or --platform has it */
	char *suite;     /* the suite its root is made of; NULL when none (rpm) */
	char *glibc;     /* NULL: unknown */
	enum dos_testrun_status status; /* OK (its tests ran), BELOW_FLOOR, SKIPPED, ERROR */
	char *detail;    /* why it did not run; NULL when it did */
	double seconds;  /* making its root and running its tests */
};

struct dos_testrun_result {
	enum dos_testrun_status status;
	char *detail;    /* "exit status 1", "timed out after 60 s", ... (NULL when ok) */
	char *log;       /* the kept log; NULL when it was removed or never written */
	double seconds;
};

struct dos_testrun_matrix {
	char *bundle;        /* the bundle's name (its top folder) */
	char *glibc_floor;   /* NULL: no versioned glibc symbol needed */
	char *mount;         /* where the bundle was seen inside */
	char *log_dir;       /* <workDir>/test-logs or ./diracos-test-logs */
	struct dos_testrun_test *tests;
	size_t n_tests;
	struct dos_testrun_platform *platforms;
	size_t n_platforms;
	/* n_platforms x n_tests: results[p * n_tests + t] */
	struct dos_testrun_result *results;
};

struct dos_testrun_opts {
	const char *bundle;                 /* a tarball or an unpacked bundle's top folder */
	/* NULL: the tests settings, platform and workDir come from the
	 * bundle's own diracos.json (relative scripts: from the current
	 * folder). Else from here (diracos test -c CONFIG). */
	const struct dos_config *cfg;
	const struct dos_strv *platforms;   /* non-empty: replaces tests.platforms */
	int timeout_s;                      /* per test; 0: DOS_TESTRUN_TIMEOUT_S */
	bool keep_logs;                     /* keep the logs of passing tests too */
};

/* Runs the tests into m (initialized here; release it after, also on
 * failure). Test failures are data in m, not errors: this fails only when
 * the bundle or the settings cannot be read (DOS_EUSAGE, DOS_EIO,
 * DOS_EFORMAT, DOS_ECONFIG) or on an interrupt (DOS_EINTR). Roots come
 * from the cache or are made (mmdebstrap: a download, once); the mirror is
 * platform.mirror, DIRACOS_MIRROR or the host's apt sources, the keyring
 * DIRACOS_KEYRING or Debian's. */
int dos_testrun_run(struct dos_ctx *ctx, const struct dos_testrun_opts *o,
		    struct dos_testrun_matrix *m);

void dos_testrun_matrix_release(struct dos_testrun_matrix *m);

/* --- the pure parts, for the tests --- */

/* Fills m's tests (imports, commands, scripts in that order; relative
 * script paths from script_base) and platforms; every result pending. */
void dos_testrun_matrix_init(struct dos_testrun_matrix *m, const struct dos_tests *tests,
			     const struct dos_strv *platforms, const char *script_base);

struct dos_testrun_result *dos_testrun_result(const struct dos_testrun_matrix *m, size_t p,
					      size_t t);

/* Decides for one platform against the bundle's glibc floor (NULL: none):
 * DOS_TESTRUN_BELOW_FLOOR with *detail "below the glibc floor (needs X,
 * has Y)", else DOS_TESTRUN_OK (*detail NULL; also for a platform whose
 * glibc is unknown). *glibc: the platform's version or NULL. */
enum dos_testrun_status dos_testrun_floor(const char *floor, const char *platform,
					  const char **glibc, char **detail);

/* The suite a platform's root is made of ("debian12" -> "bookworm",
 * "debian:trixie" -> "trixie", an unknown name as it is), NULL for the
 * rpm-based ones (el9, almalinux:9, ...). The caller frees it. */
char *dos_testrun_suite(const char *platform);

/* The shell text one test runs in the sandbox: source <mount>/diracosrc,
 * then the test. python is the bundle's python3 as seen inside (imports
 * only). NULL for an import of something that is not a module name. */
char *dos_testrun_shell(const struct dos_testrun_test *t, const char *mount, const char *python);

/* The number of failing cells (FAIL and ERROR); below-floor and skipped
 * are not failures. */
size_t dos_testrun_failures(const struct dos_testrun_matrix *m);

const char *dos_testrun_status_name(enum dos_testrun_status s);

/* {"bundle", "glibcFloor", "mount", "logDir", "ok", "failures",
 *  "platforms": [{"name", "suite", "glibc", "status", "detail", "seconds"}],
 *  "tests": [{"name", "kind", "spec"}],
 *  "results": {PLATFORM: {TEST: {"status", "log", "seconds", "detail"}}}} */
json_t *dos_testrun_json(const struct dos_testrun_matrix *m);
