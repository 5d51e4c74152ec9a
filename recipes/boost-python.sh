# Boost.Python alone, from the boost release tarball (a Debian source
# package's "orig" file), built with b2 for our CPython 3.X, which is a
# build dependency (the local package python3.X, in /usr). Installs
# libboost_python3X.so.<boost version> (and its .so link) in the multiarch
# library folder, as Debian's libboost-python packages do; nothing else of
# boost is built. The ABI tag in the name (python313) keeps it apart from
# the distribution's (python311).
#
# Options (package keys in the configuration):
#   pythonVersion: "3.13"   the Python to build against (default 3.13)
#   headers: true           also install boost's headers (about 15,000
#                           files) and the CMake files, for building
#                           against it (gfal2-python); off by default, as
#                           the bundle needs only the library

PY=${DIRACOS_OPT_PYTHONVERSION:-3.13}
case $PY in
3.[0-9]*) ;;
*) echo "recipes/boost-python.sh: pythonVersion must be 3.X, not '$PY'" >&2; exit 1 ;;
esac
if [ ! -x "/usr/bin/python$PY" ] || [ ! -f "/usr/include/python$PY/Python.h" ]; then
	echo "recipes/boost-python.sh: /usr/bin/python$PY or its headers are missing: add python$PY to buildDependencies" >&2
	exit 1
fi

# b2 itself (its engine is C++, built with the build root's g++). Debian's
# orig tarball lacks the engine's generated parser (jamgram.cpp, jamgram.hpp):
# made from its grammar with bison, as Debian's rules do.
if [ ! -f tools/build/src/engine/jamgram.cpp ]; then
	(cd tools/build && bison -y -d -o src/engine/jamgram.cpp src/engine/jamgram.y)
fi
./bootstrap.sh --with-toolset=gcc --with-libraries=python \
	--with-python="/usr/bin/python$PY" --with-python-version="$PY"

# Only our Python: an explicit user-config, so b2 does not go looking for
# others (the build root has none, but a configured one is unambiguous).
cat >/tmp/user-config.jam <<EOF
using python : $PY : /usr/bin/python$PY : /usr/include/python$PY : /usr/lib ;
EOF

# numpy is not installed: b2 leaves boost_numpy out (it says so and
# carries on). -d1: the log holds each command's name, not its full text.
b2="./b2 -j$JOBS -d1 --user-config=/tmp/user-config.jam --with-python python=$PY
	toolset=gcc variant=release link=shared threading=multi runtime-link=shared
	--layout=system"
# shellcheck disable=SC2086 # b2 is a list of words
$b2 stage

multiarch=$(gcc -print-multiarch)
libdir=$DESTDIR$PREFIX/lib/$multiarch
mkdir -p "$libdir"
# The real file and the unversioned link (the SONAME is the full name).
cp -P stage/lib/libboost_python*.so* "$libdir/"
strip --strip-unneeded "$libdir"/libboost_python*.so.*.*
if [ "$DIRACOS_OPT_HEADERS" = true ]; then
	# shellcheck disable=SC2086
	$b2 install --prefix="$DESTDIR$PREFIX" --libdir="$libdir"
	rm -f "$libdir"/*.a
fi

# What was built, for the log: the library loads into our Python.
ls -l "$libdir"
LD_LIBRARY_PATH=$libdir "/usr/bin/python$PY" -c "import ctypes, sys
ctypes.CDLL('libboost_python${PY%%.*}${PY#*.}.so'); print('libboost_python loads into', sys.version)"
