/* The bundle's bytecode, compiled by its own Python (see bytecode.h). */
#include "bytecode.h"
#include "build.h"
#include "rootfs.h"
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* compileall in one process: a pool of workers would compile each module
 * after a varying set of others, and marshal's references (FLAG_REF)
 * depend on what the process interned before. */
#define COMPILE_TIMEOUT_S 1800

char *dos_bytecode_find_python(const char *root)
{
	_cleanup_free_ char *bin = dos_path_join(root, "usr/bin");
	DIR *d = opendir(bin);
	struct dirent *de;
	int best = -1;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *full = dos_path_join(bin, de->d_name);
		int minor = dos_python3_minor(de->d_name);
		struct stat st;

		/* stat follows the relative links relocation left: the file they
		 * name must be inside the bundle, executable. */
		if (minor <= best || stat(full, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
			continue;
		if (dos_path_within(root, full))
			best = minor;
	}
	if (d)
		closedir(d);
	return best < 0 ? NULL : dos_xasprintf("usr/bin/python3.%d", best);
}

/* The module folders that exist: the interpreter's, the distribution's. */
static void module_dirs(const char *root, const char *python, struct dos_strv *dirs)
{
	_cleanup_free_ char *own = dos_xasprintf("%s/usr/lib/%s", root, python + strlen("usr/bin/"));
	_cleanup_free_ char *dist = dos_path_join(root, "usr/lib/python3/dist-packages");
	struct stat st;

	if (stat(own, &st) == 0 && S_ISDIR(st.st_mode))
		dos_strv_push(dirs, own);
	if (stat(dist, &st) == 0 && S_ISDIR(st.st_mode))
		dos_strv_push(dirs, dist);
}

static void argv_make(struct dos_strv *argv, const char *root, const char *python,
		      const struct dos_strv *dirs)
{
	dos_strv_push_owned(argv, dos_path_join(root, python));
	/* -E -s: no PYTHON* variable, no user site; -B: compileall's own
	 * imports leave no bytecode of their own. */
	for (const char *const *a = (const char *const[]){ "-E", "-s", "-B", "-m", "compileall",
			"-q", "-j", "1", "--invalidation-mode", "unchecked-hash", "-s", NULL }; *a; a++)
		dos_strv_push(argv, *a);
	dos_strv_push(argv, root);
	dos_strv_push(argv, "-p");
	dos_strv_push(argv, "/");
	for (size_t i = 0; i < dirs->n; i++)
		dos_strv_push(argv, dirs->v[i]);
}

static char *const compile_env[] = {
	"PATH=/usr/bin:/bin", "HOME=/tmp", "LC_ALL=C.UTF-8", "TZ=UTC", "PYTHONHASHSEED=0", NULL,
};

/* "*** Error compiling '/usr/lib/...'" lines: the sources that failed. */
static void failures_read(const char *log, struct dos_bytecode_report *rep)
{
	_cleanup_fclose_ FILE *f = fopen(log, "re");
	char line[4096];

	while (f && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "*** Error compiling '");
		char *end;

		if (!p)
			continue;
		p += strlen("*** Error compiling '");
		end = strrchr(p, '\'');
		if (end && end > p)
			dos_strv_push_owned(&rep->failed, strndup(*p == '/' ? p + 1 : p,
								  (size_t)(end - p) - (*p == '/')));
	}
}

static int count_pyc(const char *path, uint64_t *n, int depth)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d || depth > 64)
		return d ? closedir(d), 0 : 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' && (len == 1 || (len == 2 && de->d_name[1] == '.')))
			continue;
		if (de->d_type == DT_DIR) {
			_cleanup_free_ char *sub = dos_path_join(path, de->d_name);
			count_pyc(sub, n, depth + 1);
		} else if (len > 4 && !strcmp(de->d_name + len - 4, ".pyc")) {
			(*n)++;
		}
	}
	closedir(d);
	return 0;
}

static int compile_in_root(struct dos_ctx *ctx, const struct dos_config *cfg, const char *root,
			   const struct dos_strv *argv, const char *log)
{
	struct dos_rootfs_opts ro = { .cfg = cfg, .variant = "buildd" };
	_cleanup_free_ char *dir = dos_path_join(cfg->work_dir, "bytecode");
	struct dos_rootfs_instance *inst = NULL;
	int r, status = 0;

	r = dos_rm_rf(ctx, dir);
	if (r == 0)
		r = dos_rootfs_instance(ctx, &ro, dir, &inst);
	if (r == 0) {
		struct dos_sandbox_bind bind = { root, root, true };
		struct dos_sandbox_opts so = {
			.root = inst->root, .binds = &bind, .n_binds = 1, .argv = argv->v,
			.envp = compile_env, .cwd = "/tmp", .log_path = log,
			.timeout_s = COMPILE_TIMEOUT_S,
		};
		r = dos_sandbox_run(ctx, &so, &status);
	}
	dos_rootfs_instance_free(inst);
	dos_rm_rf(ctx, dir);
	if (r == 0 && status != 0 && status != 1) {
		_cleanup_free_ char *tail = dos_build_log_tail(log);
		r = dos_error(ctx, DOS_ECHILD, "bytecode: '%s -m compileall' exited with status %d; "
			      "the end of '%s':\n%s", argv->v[0], status, log, tail);
	}
	return r;
}

int dos_bytecode_compile(struct dos_ctx *ctx, const struct dos_config *cfg, const char *root,
			 const struct dos_strv *only, struct dos_bytecode_report *rep)
{
	_cleanup_free_ char *log = NULL, *logdir = dos_path_join(cfg->work_dir, "logs");
	struct dos_strv dirs = { 0 }, argv = { 0 };
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->python = dos_bytecode_find_python(root);
	if (!rep->python)
		return 0;
	if (only)
		for (size_t i = 0; i < only->n; i++)
			dos_strv_push(&dirs, only->v[i]);
	else
		module_dirs(root, rep->python, &dirs);
	if (dirs.n == 0)
		return 0;
	log = dos_path_join(logdir, "bytecode.log");
	r = dos_mkdir_p(ctx, logdir, 0755);
	if (r == 0 && unlink(log) < 0 && errno != ENOENT)
		r = dos_error_errno(ctx, DOS_EIO, errno, "cannot remove '%s'", log);
	if (r == 0) {
		argv_make(&argv, root, rep->python, &dirs);
		r = compile_in_root(ctx, cfg, root, &argv, log);
	}
	if (r == 0) {
		failures_read(log, rep);
		for (size_t i = 0; !only && i < dirs.n; i++)
			count_pyc(dirs.v[i], &rep->compiled, 0);
		if (only)
			rep->compiled = only->n - rep->failed.n;
	}
	dos_strv_release(&dirs);
	dos_strv_release(&argv);
	return r;
}

void dos_bytecode_report_release(struct dos_bytecode_report *rep)
{
	free(rep->python);
	dos_strv_release(&rep->failed);
	memset(rep, 0, sizeof(*rep));
}
