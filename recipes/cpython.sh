# CPython 3.X from its release tarball, for the package named python3.X
# ($DIRACOS_PACKAGE): installed under /usr with versioned names only
# (python3.X, pip3.X, libpython3.X.so.1.0, /usr/lib/python3.X), so it sits
# beside the distribution's python3 without sharing a file. The resolver
# makes a local python3.X the bundle's Python (see docs/python.md).
#
# Sources: the upstream tarball (a Debian source package's "orig" file) and,
# optionally, that package's "debian" tarball: its patch series from the
# first CVE-* patch on is applied (the security fixes Debian backported;
# the patches before it change Debian's layout and are left out).
#
# Options (package keys in the configuration):
#   optimize: true   PGO and LTO (--enable-optimizations --with-lto): about
#                    twice the build time, 10-20 % faster Python
#   debugInfo: true  keep the ELF files' debug information (not stripped)
#   unversionedNames: true   also /usr/bin/python3, pip3, pydoc3, idle3 and
#                    python3-config, linked to the 3.X ones (they clash with
#                    the distribution's python3 and python3-pip)
#   debianPatches: "none"   skip the security patches of the debian tarball

X=${DIRACOS_PACKAGE#python}
case $X in
3.[0-9]*) ;;
*) echo "recipes/cpython.sh builds a package named python3.X, not '$DIRACOS_PACKAGE'" >&2; exit 1 ;;
esac

apply_debian_security_patches() {
	set -- "$SOURCES"/*.debian.tar.*
	[ -f "$1" ] && [ "$DIRACOS_OPT_DEBIANPATCHES" != none ] || return 0
	mkdir -p /tmp/debian-src
	tar -xf "$1" -C /tmp/debian-src
	d=/tmp/debian-src/debian/patches
	sed -n '/^CVE-/,$p' "$d/series" | sed 's/[[:space:]]*#.*//' | while read -r p; do
		[ -n "$p" ] || continue
		echo "applying debian/patches/$p"
		patch -p1 --forward --no-backup-if-mismatch <"$d/$p" >/dev/null
		sed -n 's|^+++ b/\(Modules/[^/]*\.c\).*|\1|p' "$d/$p" >>/tmp/debian-src/touched
	done
	# A fix backported from a later branch may use internal headers in a
	# module that this branch's setup.py builds as a plain extension
	# (CVE-2026-4224's pycore_ceval.h in 3.11's pyexpat.c): such a module
	# then declares itself part of the core, as later branches' modules do.
	[ -f setup.py ] || return 0
	sort -u /tmp/debian-src/touched | while read -r f; do
		grep -q "[\"']${f#Modules/}[\"']" setup.py || continue
		if grep -q '^#include "pycore_' "$f" && ! grep -q 'Py_BUILD_CORE' "$f"; then
			echo "$f: uses internal headers: built with Py_BUILD_CORE_MODULE"
			sed -i '1i #ifndef Py_BUILD_CORE_BUILTIN\n#  define Py_BUILD_CORE_MODULE 1\n#endif' "$f"
		fi
	done
}
apply_debian_security_patches

opts="--prefix=$PREFIX --enable-shared --without-static-libpython"
opts="$opts --with-ensurepip=install --disable-test-modules"
# bookworm has no mpdecimal (its python3.11 bundles it too): the bundled copy.
opts="$opts --with-system-expat --without-system-libmpdec --with-readline=readline"
opts="$opts --enable-loadable-sqlite-extensions"
if [ "$DIRACOS_OPT_OPTIMIZE" = true ]; then
	opts="$opts --enable-optimizations --with-lto"
fi

# The build links the interpreter against the libpython it has just made;
# the installed one finds it in /usr/lib, where ld.so looks anyway.
# shellcheck disable=SC2086 # opts is a list of words
./configure $opts
if [ "$DIRACOS_OPT_OPTIMIZE" = true ]; then
	# The PGO training run is CPython's test suite, against the build root's
	# libraries: a failing test must not stop the build, as in Debian's own
	# builds (bookworm's expat 2.5.0-1+deb12u5, with the reparse deferral
	# backported, fails three of test_xml_etree's XMLPullParserTest).
	# shellcheck disable=SC2016 # $(TESTTIMEOUT) is make's
	make -j"$JOBS" PROFILE_TASK='-m test --pgo --timeout=$(TESTTIMEOUT) || true'
else
	make -j"$JOBS"
fi
# altinstall: no python3, pip3, python3.pc... (the distribution's names).
make -j"$JOBS" altinstall DESTDIR="$DESTDIR"

lib=$DESTDIR$PREFIX/lib/python$X

# Nothing static, no test suites (--without-static-libpython and
# --disable-test-modules leave them out already: this holds if they change).
find "$DESTDIR" -name '*.a' -type f -delete
for d in test idlelib/idle_test tkinter/test lib2to3/tests; do
	rm -rf "${lib:?}/$d"
done
# The bytecode of python -O and -OO (two thirds of it, 29 MB) is seldom used.
find "$lib" -name '*.opt-[12].pyc' -delete
# Debug information is most of the ELF files' size (libpython: 31 MB, not 6).
if [ "$DIRACOS_OPT_DEBUGINFO" != true ]; then
	strip --strip-debug "$DESTDIR$PREFIX/bin/python$X" "$DESTDIR$PREFIX/lib/libpython$X.so.1.0" \
		"$DESTDIR$PREFIX/lib/libpython3.so" "$lib"/lib-dynload/*.so
fi

# Scripts name our interpreter: pip's installer writes "#!/usr/bin/python"
# when it runs from the build tree. Modules are not programs: without the
# execute bit, a module's own #! line (cgi.py's /usr/local/bin/python)
# names nothing the bundle has to ship.
for f in "$DESTDIR$PREFIX"/bin/*; do
	[ -f "$f" ] && [ ! -L "$f" ] || continue
	case $(head -n 1 "$f") in
	'#!'*python*) sed -i "1s|.*|#!$PREFIX/bin/python$X|" "$f" ;;
	esac
done
find "$lib" -name '*.py' -type f -perm /111 -exec chmod a-x {} +

# The distribution's Python packages (python3-*) install their modules in
# /usr/lib/python3/dist-packages: ours imports them too. The path is
# relative to site-packages, so it holds wherever the bundle lies.
echo "../../python3/dist-packages" >"$lib/site-packages/distribution-packages.pth"

if [ "$DIRACOS_OPT_UNVERSIONEDNAMES" = true ]; then
	for n in python3 pip3 pydoc3 idle3 python3-config; do
		ln -sf "${n%3*}$X${n#*3}" "$DESTDIR$PREFIX/bin/$n"
	done
fi

# What was built, for the log; a module left out fails the build here.
LD_LIBRARY_PATH=$DESTDIR$PREFIX/lib "$DESTDIR$PREFIX/bin/python$X" -B -c 'import sys, ssl, sqlite3
import ctypes, lzma, bz2, readline, decimal, uuid, zlib, pyexpat, curses, hashlib
print(sys.version); print(ssl.OPENSSL_VERSION); print("sqlite", sqlite3.sqlite_version)'
