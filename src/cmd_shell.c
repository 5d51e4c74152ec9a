/* diracos shell: a shell in a fresh build root, the local repository at
 * DOS_ROOTFS_REPO_PATH, in the sandbox; the root is removed at exit and the
 * shell's exit status is ours. */
#include "cmd.h"
#include "opts.h"
#include "rootfs.h"
#include "sandbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_NETWORK = 1 };

static int on_option(struct cmd_args *args, int id, const char *value, void *data)
{
	*(bool *)data = true;
	return 0;
}

/* A folder of its own under the work folder, for the instance. */
static char *instance_dir(struct dos_ctx *ctx, const struct dos_config *cfg)
{
	char *dir;

	if (dos_mkdir_p(ctx, cfg->work_dir, 0755) < 0)
		return NULL;
	dir = dos_path_join(cfg->work_dir, "shell-XXXXXX");
	if (!mkdtemp(dir)) {
		dos_error_errno(ctx, DOS_EIO, errno, "cannot create a folder in '%s'",
				cfg->work_dir);
		free(dir);
		return NULL;
	}
	return dir;
}

/* bash when the root has it. Interactive on a terminal; otherwise it reads
 * its commands from stdin, as `sh` does. */
static void shell_argv(const char *root, char *argv[3])
{
	_cleanup_free_ char *bash = dos_path_join(root, "usr/bin/bash");
	bool tty = isatty(STDIN_FILENO);

	argv[0] = access(bash, X_OK) == 0 ? "/bin/bash" : "/bin/sh";
	argv[1] = tty ? "-i" : NULL;
	argv[2] = NULL;
}

static int shell_run(struct dos_ctx *ctx, const struct dos_rootfs_instance *inst, bool network,
		     int *status)
{
	const char *term = getenv("TERM");
	_cleanup_free_ char *term_var = dos_xasprintf("TERM=%s", term && *term ? term : "dumb");
	char *envp[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "LC_ALL=C.UTF-8", "TZ=UTC", term_var,
		"debian_chroot=diracos", /* Debian's bash prompt shows it */
		NULL,
	};
	char *argv[3];
	struct dos_sandbox_opts so = {
		.root = inst->root, .binds = inst->binds, .n_binds = inst->n_binds,
		.network = network, .root_writable = true, .envp = envp, .cwd = "/root",
	};

	shell_argv(inst->root, argv);
	so.argv = argv;
	if (isatty(STDIN_FILENO))
		dos_info(ctx, "a shell in a fresh build root (network %s%s); removed at exit",
			 network ? "on" : "off", inst->repo ? ", the local repository at "
			 DOS_ROOTFS_REPO_PATH : "");
	return dos_sandbox_run(ctx, &so, status);
}

static int shell_in_root(struct cmd_args *args, bool network)
{
	struct dos_rootfs_opts ro = { .cfg = args->cfg, .variant = "buildd" };
	struct dos_rootfs_instance *inst = NULL;
	_cleanup_free_ char *dir = instance_dir(args->ctx, args->cfg);
	int r, status = 0;

	if (!dir)
		return DOS_EIO;
	r = dos_rootfs_instance(args->ctx, &ro, dir, &inst);
	if (r < 0) {
		rmdir(dir);
		return r;
	}
	r = shell_run(args->ctx, inst, network, &status);
	dos_rootfs_instance_free(inst);
	return r < 0 ? r : status;
}

static int run_shell(struct cmd_args *args)
{
	static const struct cmd_option own[] = {
		{ "network", no_argument, 'n', OPT_NETWORK },
		{ 0 },
	};
	const char *why = NULL;
	bool network = false;
	int r;

	r = cmd_parse_options(args, &cmd_shell, own, on_option, &network);
	if (r == OPTS_HELP)
		return 0;
	if (r < 0)
		return r;
	if (args->argc > 1)
		return dos_error(args->ctx, DOS_EUSAGE, "shell: takes at most one CONFIG");
	if (!dos_sandbox_available(&why))
		return dos_error(args->ctx, DOS_EFAIL, "shell: the sandbox cannot run here: %s", why);
	r = cmd_load_config(args, args->argc ? args->argv[0] : NULL);
	if (r < 0)
		return r;
	return shell_in_root(args, network);
}

const struct cmd cmd_shell = {
	"shell", run_shell, NEEDS_NOTHING,
	"an interactive shell in the build root",
	"usage: diracos shell [CONFIG] [--network]\n"
	"\n"
	"Opens a shell (bash) in a fresh build root: the platform's suite, variant\n"
	"buildd, made by mmdebstrap and cached (the first time takes about a\n"
	"minute). The local repository, when it holds packages, is at\n"
	"/diracos-repo, and apt prefers it to the distribution. The shell runs in\n"
	"the sandbox as root, without the network unless asked; the root is\n"
	"removed when it exits, and its exit status is diracos's. When stdin is\n"
	"not a terminal the shell reads its commands from it. With no CONFIG, the\n"
	"built-in default.\n"
	"\n"
	"  -n, --network   share the host's network (e.g. for apt-get install)\n",
};
