/* Unit tests of the ELF reader and the DT_RPATH writer, on real programs
 * and libraries compiled with gcc here, on system binaries, on synthetic
 * ELF32/ELF64 big/little-endian images, and on hostile inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"

#include "elffile.h"
#include "run.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A plain write: dos_write_file_atomic() fsyncs, too slow for hundreds. */
static void bytes_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0755), 0);
}

static off_t file_size(const char *dir, const char *name)
{
	char *p = dos_path_join(dir, name);
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	free(p);
	return st.st_size;
}

static int set_rpath(const char *dir, const char *name, const char *rpath)
{
	struct dos_ctx ctx;
	char *p = dos_path_join(dir, name);
	int r;

	dos_ctx_init(&ctx);
	r = dos_elf_set_rpath(&ctx, p, rpath);
	if (r < 0)
		fprintf(stderr, "# %s\n", ctx.msg);
	free(p);
	return r;
}

/* Asserts that cmd prints want (its first line). */
static void assert_output(const char *dir, const char *libpath, const char *cmd, const char *want)
{
	char *out = NULL;

	assert_int_equal(th_sh_in(dir, libpath, &out, "%s", cmd), 0);
	assert_non_null(out);
	if (strncmp(out, want, strlen(want)))
		fprintf(stderr, "# '%s' printed '%s', expected '%s'\n", cmd, out, want);
	assert_true(!strncmp(out, want, strlen(want)));
	free(out);
}

static void assert_readelf_rpath(const char *dir, const char *name, const char *rpath)
{
	char *out = NULL, *want = dos_xasprintf("Library rpath: [%s]", rpath);

	assert_int_equal(th_sh_in(dir, NULL, &out, "readelf -dW %s", name), 0);
	assert_non_null(strstr(out, "(RPATH)"));
	assert_non_null(strstr(out, want));
	assert_null(strstr(out, "RUNPATH"));
	free(out);
	free(want);
}

static const char foo_c[] = "const char *foo(void) { return \"real foo\"; }\n";
static const char evil_c[] = "const char *foo(void) { return \"HIJACKED\"; }\n";
static const char prog_c[] =
	"#include <stdio.h>\nconst char *foo(void);\n"
	"int main(void) { printf(\"%s\\n\", foo()); return 0; }\n";

/* bin/ + lib/libfoo.so.1 and evil/libfoo.so.1, a library with the same
 * soname that LD_LIBRARY_PATH will point at. */
static char *tree_with_libfoo(void)
{
	char *dir = th_tmpdir("elf");

	th_write_at(dir, "foo.c", foo_c, 0644);
	th_write_at(dir, "evil.c", evil_c, 0644);
	th_write_at(dir, "prog.c", prog_c, 0644);
	assert_int_equal(th_sh_in(dir, NULL, NULL, "mkdir -p bin lib evil && "
			       "gcc -shared -fPIC -Wl,-soname,libfoo.so.1 -o lib/libfoo.so.1 foo.c && "
			       "gcc -shared -fPIC -Wl,-soname,libfoo.so.1 -o evil/libfoo.so.1 evil.c && "
			       "gcc -c -o prog.o prog.c"), 0);
	return dir;
}

static void check_program(const char *dir, const char *name, const char *ldflags)
{
	char *cmd = dos_xasprintf("./bin/%s", name);

	assert_int_equal(th_sh_in(dir, NULL, NULL, "gcc %s -o bin/%s prog.o -Llib -l:libfoo.so.1",
			       ldflags, name), 0);
	/* Without an rpath the program cannot even start... */
	assert_int_not_equal(th_sh_in(dir, NULL, NULL, "./bin/%s 2>/dev/null", name), 0);
	assert_int_equal(set_rpath(dir, cmd + 2, "$ORIGIN/../lib"), DOS_ELF_RPATH_SET);
	/* ...with one it runs, and LD_LIBRARY_PATH cannot hijack it. */
	assert_output(dir, NULL, cmd, "real foo");
	assert_output(dir, "evil", cmd, "real foo");
	assert_readelf_rpath(dir, cmd + 2, "$ORIGIN/../lib");
	assert_int_equal(set_rpath(dir, cmd + 2, "$ORIGIN/../lib"), DOS_ELF_RPATH_UNCHANGED);
	free(cmd);
}

/* Other linkers lay files out differently; run when they are installed. */
static void check_program_if(const char *dir, const char *name, const char *ldflags)
{
	if (th_sh_in(dir, NULL, NULL, "gcc %s -o bin/%s prog.o -Llib -l:libfoo.so.1 2>/dev/null",
		  ldflags, name) != 0) {
		fprintf(stderr, "# '%s' does not link here: skipped\n", ldflags);
		return;
	}
	check_program(dir, name, ldflags);
}

static void test_rpath_pie_nopie_and_layouts(void **state)
{
	char *dir = tree_with_libfoo();
	char *out = NULL;

	check_program(dir, "pie", "-pie");
	check_program(dir, "nopie", "-no-pie");
	check_program(dir, "separate", "-Wl,-z,separate-code");
	check_program(dir, "noseparate", "-Wl,-z,noseparate-code");
	check_program(dir, "gnuhash", "-Wl,--hash-style=gnu");
	check_program(dir, "sysvhash", "-Wl,--hash-style=sysv");
	check_program(dir, "relro", "-Wl,-z,relro,-z,now");
	check_program(dir, "norelro", "-Wl,-z,norelro");
	check_program(dir, "bigpage", "-Wl,-z,max-page-size=0x200000");
	check_program_if(dir, "gold", "-fuse-ld=gold");
	check_program_if(dir, "goldnopie", "-fuse-ld=gold -no-pie");
	check_program_if(dir, "lld", "-fuse-ld=lld");
	check_program_if(dir, "lldnopie", "-fuse-ld=lld -no-pie");
	assert_int_equal(th_sh_in(dir, NULL, &out, "ldd bin/pie"), 0);
	assert_non_null(strstr(out, "bin/../lib/libfoo.so.1"));
	free(out);
	th_tmpdir_remove(dir);
}

static void test_rpath_in_place_and_append(void **state)
{
	char *dir = tree_with_libfoo();
	const char *longer = "$ORIGIN/../lib:/a/much/longer/folder/than/anything/the/linker/wrote";
	off_t size;
	char *out = NULL;

	/* The linker writes DT_RUNPATH: a shorter DT_RPATH replaces it in place. */
	assert_int_equal(th_sh_in(dir, NULL, NULL, "gcc -o bin/prog prog.o -Llib -l:libfoo.so.1 "
			       "-Wl,--enable-new-dtags,-rpath,/nonexistent/build/prefix/lib"), 0);
	assert_int_equal(th_sh_in(dir, NULL, &out, "readelf -dW bin/prog"), 0);
	assert_non_null(strstr(out, "RUNPATH"));
	free(out);
	size = file_size(dir, "bin/prog");
	assert_int_equal(set_rpath(dir, "bin/prog", "$ORIGIN/../lib"), DOS_ELF_RPATH_SET);
	assert_int_equal(file_size(dir, "bin/prog"), size);
	assert_readelf_rpath(dir, "bin/prog", "$ORIGIN/../lib");
	assert_output(dir, "evil", "./bin/prog", "real foo");

	/* A longer one does not fit: appended in a new segment. */
	assert_int_equal(set_rpath(dir, "bin/prog", longer), DOS_ELF_RPATH_SET);
	assert_true(file_size(dir, "bin/prog") > size);
	assert_readelf_rpath(dir, "bin/prog", longer);
	assert_output(dir, "evil", "./bin/prog", "real foo");

	/* Longer again: our own segment is rewritten, no new header needed;
	 * then shorter: in place inside it. */
	size = file_size(dir, "bin/prog");
	assert_int_equal(set_rpath(dir, "bin/prog", "/x:$ORIGIN/../lib:/a/much/longer/folder/yet"
				   "/than/anything/the/linker/wrote"), DOS_ELF_RPATH_SET);
	assert_true(file_size(dir, "bin/prog") < size + 200);
	assert_output(dir, "evil", "./bin/prog", "real foo");
	size = file_size(dir, "bin/prog");
	assert_int_equal(set_rpath(dir, "bin/prog", "$ORIGIN/../lib"), DOS_ELF_RPATH_SET);
	assert_int_equal(file_size(dir, "bin/prog"), size);
	assert_readelf_rpath(dir, "bin/prog", "$ORIGIN/../lib");
	assert_output(dir, "evil", "./bin/prog", "real foo");
	th_tmpdir_remove(dir);
}

/* prog -> libbar (lib/) -> libfoo (lib/sub/): libbar's own $ORIGIN rpath
 * finds libfoo, the program's does not. */
static void test_rpath_library_chain(void **state)
{
	char *dir = tree_with_libfoo();

	th_write_at(dir, "bar.c", "const char *foo(void);\nconst char *bar(void) { return foo(); }\n", 0644);
	th_write_at(dir, "main.c", "#include <stdio.h>\nconst char *bar(void);\n"
		   "int main(void) { puts(bar()); return 0; }\n", 0644);
	assert_int_equal(th_sh_in(dir, NULL, NULL, "mkdir lib/sub && mv lib/libfoo.so.1 lib/sub/ && "
			       "gcc -shared -fPIC -Wl,-soname,libbar.so.1 -o lib/libbar.so.1 bar.c "
			       "-Llib/sub -l:libfoo.so.1 && "
			       "gcc -o bin/main main.c -Llib -l:libbar.so.1 -Wl,-rpath-link,lib/sub"), 0);
	assert_int_equal(set_rpath(dir, "bin/main", "$ORIGIN/../lib"), DOS_ELF_RPATH_SET);
	assert_int_not_equal(th_sh_in(dir, NULL, NULL, "./bin/main 2>/dev/null"), 0);
	assert_int_equal(set_rpath(dir, "lib/libbar.so.1", "$ORIGIN/sub"), DOS_ELF_RPATH_SET);
	assert_output(dir, "evil", "./bin/main", "real foo");
	assert_readelf_rpath(dir, "lib/libbar.so.1", "$ORIGIN/sub");
	th_tmpdir_remove(dir);
}

static void test_rpath_skips(void **state)
{
	char *dir = tree_with_libfoo();
	struct dos_ctx ctx;

	dos_ctx_init(&ctx);
	th_write_at(dir, "leaf.c", "int leaf(void) { return 1; }\n", 0644);
	assert_int_equal(th_sh_in(dir, NULL, NULL, "gcc -shared -fPIC -nostdlib -o lib/libleaf.so leaf.c && "
			       "cp -L /lib64/ld-linux-x86-64.so.2 lib/ && "
			       "echo 'not an ELF file' > lib/text"), 0);
	assert_int_equal(set_rpath(dir, "lib/libleaf.so", "$ORIGIN"), DOS_ELF_SKIP_NO_NEEDED);
	assert_int_equal(set_rpath(dir, "lib/ld-linux-x86-64.so.2", "$ORIGIN"), DOS_ELF_SKIP_LOADER);
	if (th_sh_in(dir, NULL, NULL, "gcc -static -o bin/static prog.c foo.c 2>/dev/null") == 0)
		assert_int_equal(set_rpath(dir, "bin/static", "$ORIGIN"), DOS_ELF_SKIP_STATIC);
	else
		fprintf(stderr, "# no static libc: static executable case skipped\n");
	char *text = dos_path_join(dir, "lib/text");
	assert_int_equal(dos_elf_set_rpath(&ctx, text, "$ORIGIN"), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "not an ELF file"));
	free(text);
	th_tmpdir_remove(dir);
}

/* Turns every PT_NOTE into an unknown type, as some toolchains leave files
 * with no note at all. */
static void notes_hide(const char *dir, const char *name)
{
	char *path = dos_path_join(dir, name), *data = NULL;
	struct dos_ctx ctx;
	uint64_t phoff;
	uint16_t phnum;
	size_t len;

	dos_ctx_init(&ctx);
	assert_int_equal(dos_read_file(&ctx, path, 1 << 24, &data, &len), 0);
	memcpy(&phoff, data + 32, 8);
	memcpy(&phnum, data + 56, 2);
	for (uint16_t i = 0; i < phnum; i++) {
		uint32_t *type = (uint32_t *)(data + phoff + 56u * i);
		if (*type == 4)
			*type = 0x6fff0000;
	}
	bytes_write(path, data, len);
	free(data);
	free(path);
}

/* With no PT_NOTE and no PT_NULL to take, the program header table moves
 * into the new segment, one entry longer. */
static void test_rpath_no_spare_header(void **state)
{
	char *dir = tree_with_libfoo();
	char *out = NULL;

	th_write_at(dir, "bar.c", "const char *foo(void);\nconst char *bar(void) { return foo(); }\n", 0644);
	th_write_at(dir, "main.c", "#include <stdio.h>\nconst char *bar(void);\n"
		   "int main(void) { puts(bar()); return 0; }\n", 0644);
	assert_int_equal(th_sh_in(dir, NULL, NULL, "gcc -shared -fPIC -o lib/libbar.so bar.c "
			       "-Llib -l:libfoo.so.1 && gcc -o bin/pie main.c -Llib -lbar -Wl,-rpath-link,lib && "
			       "gcc -no-pie -o bin/nopie main.c -Llib -lbar -Wl,-rpath-link,lib"), 0);
	notes_hide(dir, "bin/pie");
	notes_hide(dir, "bin/nopie");
	notes_hide(dir, "lib/libbar.so");
	assert_int_equal(set_rpath(dir, "bin/pie", "$ORIGIN/../lib"), DOS_ELF_RPATH_SET);
	assert_int_equal(set_rpath(dir, "bin/nopie", "$ORIGIN/../lib"), DOS_ELF_RPATH_SET);
	assert_int_equal(set_rpath(dir, "lib/libbar.so", "$ORIGIN"), DOS_ELF_RPATH_SET);
	assert_output(dir, "evil", "./bin/pie", "real foo");
	assert_output(dir, "evil", "./bin/nopie", "real foo");
	assert_int_equal(th_sh_in(dir, NULL, &out, "readelf -lW bin/pie"), 0);
	assert_non_null(strstr(out, "PHDR"));
	free(out);
	/* Again, longer: the block and the table in it are rewritten. */
	assert_int_equal(set_rpath(dir, "bin/pie", "/nowhere/at/all/really:$ORIGIN/../lib"),
			 DOS_ELF_RPATH_SET);
	assert_int_equal(set_rpath(dir, "lib/libbar.so", "/nowhere/at/all/really:$ORIGIN"),
			 DOS_ELF_RPATH_SET);
	assert_output(dir, "evil", "./bin/pie", "real foo");
	assert_readelf_rpath(dir, "lib/libbar.so", "/nowhere/at/all/really:$ORIGIN");
	th_tmpdir_remove(dir);
}

static bool is_glibc_part(const char *name)
{
	static const char *const parts[] = {
		"libc.so", "ld-linux", "libm.so", "libpthread.so", "libdl.so", "librt.so",
		"libresolv.so", "libutil.so", "libanl.so", NULL,
	};

	for (int i = 0; parts[i]; i++)
		if (!strncmp(name, parts[i], strlen(parts[i])))
			return true;
	return false;
}

/* Copies the libraries ldd lists for prog (but glibc's) into libdir. */
static size_t copy_needed_libraries(const char *dir, const char *prog, const char *libdir)
{
	char *out = NULL, *save = NULL;
	size_t n = 0;

	assert_int_equal(th_sh_in(dir, NULL, &out, "ldd %s | awk '/=> \\//{print $1 \" \" $3}'", prog), 0);
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *space = strchr(line, ' ');
		assert_non_null(space);
		*space = '\0';
		if (is_glibc_part(line))
			continue;
		assert_int_equal(th_sh_in(dir, NULL, NULL, "cp -L '%s' '%s/%s'", space + 1, libdir, line), 0);
		n++;
	}
	free(out);
	return n;
}

static void test_rpath_system_binary(void **state)
{
	static const char *const progs[][2] = {
		{ "/usr/bin/curl", "curl " }, { "/usr/bin/git", "git version" },
		{ "/usr/bin/ls", "ls (GNU coreutils)" },
	};
	const char *const *prog = NULL;
	char *dir = th_tmpdir("elf"), *cmd, *out = NULL;
	const char *libdir = "usr/lib/x86_64-linux-gnu";

	for (size_t i = 0; i < 3 && !prog; i++)
		if (access(progs[i][0], X_OK) == 0)
			prog = progs[i];
	assert_non_null(prog);
	assert_int_equal(th_sh_in(dir, NULL, NULL, "mkdir -p usr/bin %s && cp %s usr/bin/", libdir, prog[0]), 0);
	cmd = dos_xasprintf("usr/bin/%s", strrchr(prog[0], '/') + 1);
	if (copy_needed_libraries(dir, prog[0], libdir) == 0)
		fprintf(stderr, "# %s needs only glibc\n", prog[0]);
	assert_int_equal(set_rpath(dir, cmd, "$ORIGIN/../lib/x86_64-linux-gnu"), DOS_ELF_RPATH_SET);
	assert_int_equal(th_sh_in(dir, NULL, &out, "for f in %s/*; do echo $f; done", libdir), 0);
	for (char *save = NULL, *f = strtok_r(out, "\n", &save); f; f = strtok_r(NULL, "\n", &save))
		assert_true(set_rpath(dir, f, "$ORIGIN") >= 0);
	free(out);
	free(cmd);
	cmd = dos_xasprintf("./usr/bin/%s --version", strrchr(prog[0], '/') + 1);
	assert_output(dir, NULL, cmd, prog[1]);
	free(cmd);
	/* Every library but glibc's now comes from the tree. */
	assert_int_equal(th_sh_in(dir, NULL, &out, "ldd ./usr/bin/%s | grep '=> /' | grep -v -e libc.so "
			       "-e libm.so -e libpthread -e libdl.so -e librt.so -e libresolv "
			       "| grep -v -F /usr/bin/../lib/ | wc -l", strrchr(prog[0], '/') + 1), 0);
	assert_int_equal(atoi(out), 0);
	free(out);
	th_tmpdir_remove(dir);
}

/* --- synthetic images: every class and byte order --- */

struct synth {
	uint8_t buf[512];
	size_t len;
	bool is64, be;
	unsigned w;                  /* address size */
	size_t phoff_at, phnum_at, shoff_at, str_off, vn_off, dyn_off;
};

/* The dynamic string table: offsets 0, 1, 11, 21, 30, 40, 50; size 61. */
static const char synth_strs[61] =
	"\0libx.so.1\0liby.so.2\0/opt/lib\0libc.so.6\0GLIBC_2.4\0GLIBC_2.17";

static void sput(struct synth *s, size_t off, unsigned size, uint64_t v)
{
	for (unsigned i = 0; i < size; i++)
		s->buf[off + i] = (uint8_t)(v >> (s->be ? 8 * (size - 1 - i) : 8 * i));
}

static void synth_phdr(struct synth *s, size_t at, uint64_t type, uint64_t off, uint64_t size)
{
	unsigned w = s->w;

	sput(s, at, 4, type);
	sput(s, at + (s->is64 ? 4 : 24), 4, 6); /* R+W */
	sput(s, at + (s->is64 ? 8 : 4), w, off);
	sput(s, at + (s->is64 ? 16 : 8), w, off);     /* vaddr == offset */
	sput(s, at + (s->is64 ? 24 : 12), w, off);
	sput(s, at + (s->is64 ? 32 : 16), w, size);
	sput(s, at + (s->is64 ? 40 : 20), w, size);
	sput(s, at + (s->is64 ? 48 : 28), w, type == 1 ? 0x1000 : 8);
}

static void synth_dyn(struct synth *s, size_t i, uint64_t tag, uint64_t val)
{
	sput(s, s->dyn_off + i * 2 * s->w, s->w, tag);
	sput(s, s->dyn_off + i * 2 * s->w + s->w, s->w, val);
}

static void synth_verneed(struct synth *s)
{
	sput(s, s->vn_off, 2, 1);           /* vn_version */
	sput(s, s->vn_off + 2, 2, 2);       /* vn_cnt */
	sput(s, s->vn_off + 4, 4, 30);      /* vn_file: libc.so.6 */
	sput(s, s->vn_off + 8, 4, 16);      /* vn_aux */
	sput(s, s->vn_off + 16 + 8, 4, 40); /* GLIBC_2.4 */
	sput(s, s->vn_off + 16 + 12, 4, 16);
	sput(s, s->vn_off + 32 + 8, 4, 50); /* GLIBC_2.17 */
}

static void synth_build(struct synth *s, bool is64, bool be)
{
	size_t eh = is64 ? 64 : 52, ph = is64 ? 56 : 32, at = is64 ? 54 : 42;

	memset(s, 0, sizeof(*s));
	s->is64 = is64;
	s->be = be;
	s->w = is64 ? 8 : 4;
	memcpy(s->buf, "\177ELF", 4);
	s->buf[4] = is64 ? 2 : 1;
	s->buf[5] = be ? 2 : 1;
	s->buf[6] = 1;
	sput(s, 16, 2, 3);
	sput(s, 18, 2, is64 ? 21 : 20);
	s->phoff_at = 24 + s->w;
	s->shoff_at = 24 + 2 * s->w;
	s->phnum_at = at + 2;
	sput(s, s->phoff_at, s->w, eh);
	sput(s, at, 2, ph);
	sput(s, at + 2, 2, 2);
	sput(s, at + 4, 2, is64 ? 64 : 40);
	s->str_off = eh + 2 * ph;
	memcpy(s->buf + s->str_off, synth_strs, sizeof(synth_strs));
	s->vn_off = (s->str_off + sizeof(synth_strs) + 7) & ~(size_t)7;
	synth_verneed(s);
	s->dyn_off = s->vn_off + 48;
	synth_dyn(s, 0, 1, 1);                 /* DT_NEEDED libx.so.1 */
	synth_dyn(s, 1, 14, 11);               /* DT_SONAME liby.so.2 */
	synth_dyn(s, 2, 29, 21);               /* DT_RUNPATH /opt/lib */
	synth_dyn(s, 3, 5, s->str_off);        /* DT_STRTAB */
	synth_dyn(s, 4, 10, sizeof(synth_strs)); /* DT_STRSZ */
	synth_dyn(s, 5, 0x6ffffffe, s->vn_off); /* DT_VERNEED */
	synth_dyn(s, 6, 0x6fffffff, 1);         /* DT_VERNEEDNUM */
	s->len = s->dyn_off + 8 * 2 * s->w;
	synth_phdr(s, eh, 1, 0, s->len);
	synth_phdr(s, eh + ph, 2, s->dyn_off, 8 * 2 * s->w);
}

static int synth_parse(const struct synth *s, size_t len, const char *want_msg)
{
	struct dos_ctx ctx;
	struct dos_elf_info info;
	int r;

	dos_ctx_init(&ctx);
	r = dos_elf_parse(&ctx, "synthetic.so", s->buf, len, &info);
	if (r == 0) {
		dos_elf_info_release(&info);
	} else {
		assert_int_equal(r, DOS_EFORMAT);
		assert_non_null(strstr(ctx.msg, "synthetic.so"));
	}
	if (want_msg && (r == 0 || !strstr(ctx.msg, want_msg)))
		fail_msg("expected an error with '%s', got %d '%s'", want_msg, r, ctx.msg);
	return r;
}

static void test_parse_synthetic(void **state)
{
	for (int k = 0; k < 4; k++) {
		struct synth s;
		struct dos_ctx ctx;
		struct dos_elf_info info;

		synth_build(&s, k & 1, k & 2);
		dos_ctx_init(&ctx);
		assert_true(dos_elf_is_elf(s.buf, s.len));
		assert_int_equal(dos_elf_parse(&ctx, "synthetic.so", s.buf, s.len, &info), 0);
		assert_int_equal(info.bits, k & 1 ? 64 : 32);
		assert_int_equal(info.big_endian, !!(k & 2));
		assert_int_equal(info.type, DOS_ELF_ET_DYN);
		assert_true(info.dynamic);
		assert_null(info.interp);
		assert_int_equal(info.needed.n, 1);
		assert_string_equal(info.needed.v[0], "libx.so.1");
		assert_string_equal(info.soname, "liby.so.2");
		assert_string_equal(info.runpath, "/opt/lib");
		assert_null(info.rpath);
		assert_int_equal(info.n_verneed, 1);
		assert_string_equal(info.verneed[0].file, "libc.so.6");
		assert_int_equal(info.verneed[0].versions.n, 2);
		assert_string_equal(info.verneed[0].versions.v[0], "GLIBC_2.4");
		assert_string_equal(info.verneed[0].versions.v[1], "GLIBC_2.17");
		dos_elf_info_release(&info);
	}
}

static void test_parse_hostile_synthetic(void **state)
{
	for (int k = 0; k < 4; k++) {
		struct synth s;

		synth_build(&s, k & 1, k & 2);
		for (size_t len = 0; len < s.len; len++)
			assert_int_equal(synth_parse(&s, len, NULL), DOS_EFORMAT);
		sput(&s, s.phoff_at, s.w, s.is64 ? UINT64_MAX - 8 : UINT32_MAX - 8);
		synth_parse(&s, s.len, "program header table");
		synth_build(&s, k & 1, k & 2);
		sput(&s, s.phnum_at, 2, 0xffff);
		synth_parse(&s, s.len, "extended program header count");
		sput(&s, s.phnum_at, 2, 1000);
		synth_parse(&s, s.len, "program header table");
		synth_build(&s, k & 1, k & 2);
		sput(&s, s.shoff_at, s.w, s.len + 100);
		synth_parse(&s, s.len, "section header table");
		synth_build(&s, k & 1, k & 2);
		synth_dyn(&s, 4, 10, 0xfffffff0);
		synth_parse(&s, s.len, "dynamic string table");
		synth_dyn(&s, 4, 10, 25); /* "/opt/lib" loses its NUL */
		synth_parse(&s, s.len, "DT_RUNPATH string");
		synth_build(&s, k & 1, k & 2);
		synth_dyn(&s, 0, 1, 5000);
		synth_parse(&s, s.len, "DT_NEEDED string at offset 0x1388");
		synth_build(&s, k & 1, k & 2);
		sput(&s, s.vn_off + 2, 2, 0xffff); /* a long chain that walks off the end */
		sput(&s, s.vn_off + 32 + 12, 4, 1000);
		synth_parse(&s, s.len, "auxiliary entry");
		synth_build(&s, k & 1, k & 2);
		sput(&s, s.vn_off + 4, 4, 999);
		synth_parse(&s, s.len, "version need file");
		synth_build(&s, k & 1, k & 2);
		synth_dyn(&s, 7, 1, 1); /* DT_NULL overwritten */
		synth_parse(&s, s.len, "no DT_NULL");
	}
}

/* Random bytes anywhere: never a crash, never a read out of bounds (run
 * this test under valgrind or ASan to see the latter). */
static void test_parse_fuzz(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15u;

	for (int iter = 0; iter < 40000; iter++) {
		struct synth s;
		int flips;

		synth_build(&s, iter & 1, iter & 2);
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		flips = 1 + (int)(seed >> 60) % 4;
		for (int i = 0; i < flips; i++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			s.buf[(seed >> 33) % s.len] = (uint8_t)(seed >> 13);
		}
		synth_parse(&s, s.len, NULL);
	}
}

static void test_parse_real_program(void **state)
{
	char *dir = tree_with_libfoo();
	char *path = dos_path_join(dir, "bin/prog");
	struct dos_elf_info info;
	struct dos_ctx ctx;
	bool glibc = false;

	dos_ctx_init(&ctx);
	assert_int_equal(th_sh_in(dir, NULL, NULL, "gcc -o bin/prog prog.o -Llib -l:libfoo.so.1"), 0);
	assert_int_equal(dos_elf_read(&ctx, path, &info), 0);
	assert_int_equal(info.bits, 64);
	assert_int_equal(info.machine, DOS_ELF_EM_X86_64);
	assert_int_equal(info.type, DOS_ELF_ET_DYN);
	assert_string_equal(info.interp, "/lib64/ld-linux-x86-64.so.2");
	assert_true(dos_strv_contains(&info.needed, "libfoo.so.1"));
	assert_true(dos_strv_contains(&info.needed, "libc.so.6"));
	for (size_t i = 0; i < info.n_verneed; i++)
		if (!strcmp(info.verneed[i].file, "libc.so.6"))
			glibc = !strncmp(info.verneed[i].versions.v[0], "GLIBC_2.", 8);
	assert_true(glibc);
	dos_elf_info_release(&info);
	free(path);
	path = dos_path_join(dir, "lib/libfoo.so.1");
	assert_int_equal(dos_elf_read(&ctx, path, &info), 0);
	assert_string_equal(info.soname, "libfoo.so.1");
	assert_null(info.interp);
	dos_elf_info_release(&info);
	free(path);
	path = dos_path_join(dir, "prog.c");
	assert_int_equal(dos_elf_read(&ctx, path, &info), DOS_EFORMAT);
	assert_non_null(strstr(ctx.msg, "not an ELF file"));
	free(path);
	th_tmpdir_remove(dir);
}

/* Truncated and corrupted copies of a real program: the reader reports
 * them, and the writer neither crashes nor replaces a truncated file. */
static void test_hostile_real_program(void **state)
{
	char *dir = tree_with_libfoo();
	char *path = dos_path_join(dir, "bin/prog"), *victim = dos_path_join(dir, "bin/victim");
	struct dos_elf_info info;
	struct dos_ctx ctx;
	char *data = NULL;
	size_t len;
	uint64_t seed = 42;

	dos_ctx_init(&ctx);
	assert_int_equal(th_sh_in(dir, NULL, NULL, "gcc -o bin/prog prog.o -Llib -l:libfoo.so.1"), 0);
	assert_int_equal(dos_read_file(&ctx, path, 1 << 24, &data, &len), 0);
	for (size_t n = 0; n < len; n += n < 1024 ? 1 : 61) {
		assert_int_equal(dos_elf_parse(&ctx, "truncated", data, n, &info), DOS_EFORMAT);
		assert_non_null(strstr(ctx.msg, "truncated"));
	}
	for (size_t n = 100; n < len; n += len / 7) {
		bytes_write(victim, data, n);
		assert_int_equal(dos_elf_set_rpath(&ctx, victim, "$ORIGIN/../lib"), DOS_EFORMAT);
		assert_int_equal(file_size(dir, "bin/victim"), (off_t)n);
	}
	for (int iter = 0; iter < 300; iter++) {
		char *copy = dos_xmalloc(len);
		memcpy(copy, data, len);
		for (int i = 0; i < 4; i++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			copy[(seed >> 33) % 2048] = (char)(seed >> 13);
		}
		bytes_write(victim, copy, len);
		int r = dos_elf_set_rpath(&ctx, victim, "$ORIGIN/../lib/with/a/long/enough/path");
		assert_true(r >= 0 || r == DOS_EFORMAT);
		free(copy);
	}
	free(data);
	free(path);
	free(victim);
	th_tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_synthetic),
		cmocka_unit_test(test_parse_hostile_synthetic),
		cmocka_unit_test(test_parse_fuzz),
		cmocka_unit_test(test_parse_real_program),
		cmocka_unit_test(test_hostile_real_program),
		cmocka_unit_test(test_rpath_pie_nopie_and_layouts),
		cmocka_unit_test(test_rpath_in_place_and_append),
		cmocka_unit_test(test_rpath_library_chain),
		cmocka_unit_test(test_rpath_skips),
		cmocka_unit_test(test_rpath_no_spare_header),
		cmocka_unit_test(test_rpath_system_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
