# XRootD's Python bindings alone (bindings/python of the xrootd source
# tarball), built for our CPython 3.X against the distribution's XRootD
# client library and headers (libxrootd-client-dev), so the package
# depends on the distribution's libXrdCl instead of rebuilding all of
# XRootD. Installs the modules XRootD, XRootD.client and pyxrootd (with
# its extension pyxrootd/client.cpython-3X-<multiarch>.so) and their
# dist-info in /usr/lib/python3.X/site-packages.
#
# Why not setup.py: xrootd 5.5.3's bindings/python has only setup.py.in, a
# template that XRootD's own CMake build fills in with its source and build
# trees (the include folders XRD_SRCINCDIR and XRD_BININCDIR, the library
# folders, the compilers); it finds no installed XRootD. It also needs
# setuptools, which Python 3.13 no longer carries. The extension is a
# handful of C++ files: they are compiled here with the flags setup.py
# would use (python3.X-config's, -std=c++14, without -Wstrict-prototypes).
#
# Options (package keys in the configuration):
#   pythonVersion: "3.13"   the Python to build for (default 3.13)

PY=${DIRACOS_OPT_PYTHONVERSION:-3.13}
case $PY in
3.[0-9]*) ;;
*) echo "recipes/xrootd-python.sh: pythonVersion must be 3.X, not '$PY'" >&2; exit 1 ;;
esac
python=/usr/bin/python$PY
for f in "$python" /usr/include/xrootd/XrdCl/XrdClFileSystem.hh; do
	[ -e "$f" ] || {
		echo "recipes/xrootd-python.sh: $f is missing: add python$PY and libxrootd-client-dev to buildDependencies" >&2
		exit 1
	}
done

version=$(cat VERSION 2>/dev/null || true)
case $version in
[0-9]*) ;;
*) version=$(basename "$PWD" | sed 's/^xrootd-//') ;;
esac
top=$PWD
cd bindings/python || exit 1

suffix=$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
site=$DESTDIR$PREFIX/lib/python$PY/site-packages
mkdir -p "$site/pyxrootd" /tmp/obj

# The headers: the distribution's first (XrdVersion.hh is generated there),
# then the source tree's for the private ones the bindings use
# (XrdClPostMaster.hh), as setup.py.in's XRD_SRCINCDIR: the same release,
# 5.5.3, as the library they are linked to.
# The compile flags of the Python's sysconfig (as distutils takes them),
# less the C-only -Wstrict-prototypes.
cflags=$("$python" -c 'import sysconfig as s
v = s.get_config_vars()
print(" ".join(f for f in (v["CFLAGS"] + " " + v["CCSHARED"]).split() if f != "-Wstrict-prototypes"))')
inc=$("$python" -c 'import sysconfig; print(sysconfig.get_path("include"))')

# One compiler per source file, $JOBS at once.
cat >/tmp/cxx.sh <<EOF
o=/tmp/obj/\$(basename "\$1" .cc).o
echo "g++ \$1"
exec g++ $cflags -std=c++14 -g0 -I$inc -I/usr/include/xrootd -I$top/src -c "\$1" -o "\$o"
EOF
find src -name '*.cc' -print0 | xargs -0 -n1 -P "${JOBS:-1}" sh -e /tmp/cxx.sh
g++ -shared -Wl,-z,relro -Wl,--as-needed /tmp/obj/*.o -lXrdCl -lXrdUtils -ldl \
	-o "$site/pyxrootd/client$suffix"

# The Python packages, as setup.py's package_dir maps them.
cp src/__init__.py "$site/pyxrootd/"
mkdir -p "$site/XRootD/client"
cp libs/*.py "$site/XRootD/"
cp libs/client/*.py "$site/XRootD/client/"

# The distribution's metadata (pip list, importlib.metadata, the SBOM).
dist=$site/xrootd-$version.dist-info
mkdir -p "$dist"
printf 'Metadata-Version: 2.1\nName: xrootd\nVersion: %s\nSummary: XRootD Python bindings\nHome-page: http://xrootd.org\nLicense: LGPLv3+\n' \
	"$version" >"$dist/METADATA"
printf 'diracos\n' >"$dist/INSTALLER"
printf 'pyxrootd\nXRootD\n' >"$dist/top_level.txt"
printf 'Wheel-Version: 1.0\nGenerator: diracos recipes/xrootd-python.sh\nRoot-Is-Purelib: false\nTag: cp%s-cp%s-linux_x86_64\n' \
	"${PY%%.*}${PY#*.}" "${PY%%.*}${PY#*.}" >"$dist/WHEEL"
# RECORD: every file with its sha256 (urlsafe base64, no padding) and size.
(cd "$site" && "$python" -c 'import base64, hashlib, os, sys
out = []
for top in ("pyxrootd", "XRootD", sys.argv[1]):
    for d, _, fs in os.walk(top):
        for f in sorted(fs):
            p = os.path.join(d, f)
            data = open(p, "rb").read()
            h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            out.append(f"{p},sha256={h},{len(data)}")
out.append(sys.argv[1] + "/RECORD,,")
open(sys.argv[1] + "/RECORD", "w").write("\n".join(sorted(out)) + "\n")' "xrootd-$version.dist-info")

# Byte-compiled as the Python's own modules (hash-based: SOURCE_DATE_EPOCH).
"$python" -m compileall -q "$site/pyxrootd" "$site/XRootD"

# What was built, for the log: it imports with the installed tree.
PYTHONPATH=$site "$python" -c 'import XRootD.client, pyxrootd.client as c
print("XRootD", c.XrdVersion_cpp(), "imports from", XRootD.client.__file__)'
ldd "$site/pyxrootd/client$suffix" | grep -i xrd
