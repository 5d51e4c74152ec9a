#!/bin/sh
# Our own Python, the real thing (issue 4, step 2): configs/python3.13.json's
# bootstrap group builds CPython 3.13 from the upstream tarball of trixie's python3.13
# source package in a bookworm build root; the .deb installs with apt in a
# fresh root and its modules import; a bundle of it runs unpacked
# elsewhere, by full path, and passes diracos check and diracos test on
# bookworm and trixie. The CPython build takes 5 to 11 minutes on 2 cores:
# DIRACOS_SKIP_SLOW=1 skips this test.
. "$(dirname "$0")/lib.sh"

skip_if_slow "the CPython build takes 5 to 11 minutes"
need_build_roots
plan 41

MODULES="ssl, sqlite3, ctypes, lzma, bz2, readline, decimal, uuid, zlib"
now() { date +%s; }

# --- the package: built once per machine (shared_python in lib.sh)
T0=$(now)
STATUS=0
REPO=$(shared_python 2>"$TMP/build.err") || STATUS=$?
T1=$(now)
diag "packages python3.13: $((T1 - T0)) s"
is "$STATUS" 0 "python3.13 builds (or its content key is unchanged)"
[ "$STATUS" = 0 ] || diag "$(cat "$TMP/build.err")"
like "$(cat "$(dirname "$(dirname "$REPO")")/last.log")" \
	"^python3\.13: (built \([0-9]+ s\)|up to date)$" "and is reported built or up to date"

# The shared configuration (configs/python3.13.json cut down to python3.13
# alone, see shared_python), its work and output folders in $TMP, its local
# repository the shared one.
json_edit "$(dirname "$(dirname "$REPO")")/python.json" "$TMP/python.json" "
c['workDir'] = '$TMP/work'; c['repo'] = '$REPO'
c['output'] = {'directory': '$TMP/out', 'compression': ['gzip']}"
CFG=$TMP/python.json
run config "$CFG"
like "$OUT" "\"repo\": \"$REPO\"" "the test configuration takes the shared repository"
like "$OUT" "\"directory\": \"$TMP/out\"" "and writes its bundle in \$TMP"
like "$OUT" "\"packageGroup\": \"bootstrap\"" "python3.13 is in the bootstrap group"

STANZA=$(sed -n '/^Package: python3\.13$/,/^$/p' "$REPO/Packages")
like "$STANZA" "^Version: 3\.13\.[0-9]+$" "its version is 3.13.x"
like "$STANZA" "^Architecture: amd64$" "its architecture is amd64"
DEPENDS=$(printf '%s\n' "$STANZA" | sed -n 's/^Depends: //p')
for lib in libssl3 libsqlite3-0 libffi8 liblzma5 libbz2-1.0 libreadline8 libexpat1; do
	like "$DEPENDS" "(^|, )$lib(,|$)" "it depends on $lib (from DT_NEEDED)"
done
DEB=$REPO/$(printf '%s\n' "$STANZA" | sed -n 's/^Filename: //p')
dpkg-deb -c "$DEB" >"$TMP/listing"
awk '{ print $6 }' "$TMP/listing" >"$TMP/contents"
grep -qx './usr/bin/python3.13' "$TMP/contents" && grep -qx './usr/bin/pip3.13' "$TMP/contents" &&
	grep -qx './usr/lib/libpython3.13.so.1.0' "$TMP/contents" &&
	grep -q '^\./usr/lib/python3\.13/site-packages/pip/' "$TMP/contents"
ok $? "it holds python3.13, pip3.13, libpython3.13.so.1.0 and pip"
is "$(grep -c '\.a$' "$TMP/contents")" 0 "no static library"
is "$(grep -Ec '^\./usr/lib/python3\.13/(test|idlelib/idle_test|tkinter/test)/' "$TMP/contents")" 0 \
	"no test suite"
is "$(grep -c '\.opt-[12]\.pyc$' "$TMP/contents")" 0 "no bytecode for python -O and -OO"
SIZE=$(awk '$6 == "./usr/lib/libpython3.13.so.1.0" { print $3 }' "$TMP/listing")
[ "${SIZE:-0}" -gt 1000000 ] && [ "$SIZE" -lt 15000000 ]
ok $? "libpython3.13.so.1.0 is stripped of its debug information ($SIZE bytes)"
grep -qx './usr/bin/python3' "$TMP/contents" && ! grep -q '^\./usr/lib/python3/' "$TMP/contents" &&
	! grep -q '^\./usr/lib/python3\.11/' "$TMP/contents"
ok $? "python3 is ours (unversionedNames) and nothing is in the distribution's folders"

# --- installed with apt in a fresh build root
T0=$(now)
STATUS=0
"$DIRACOS_BIN" shell --network "$CFG" >"$TMP/out.txt" 2>"$TMP/err.txt" <<EOF || STATUS=$?
set -e
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.13 >/dev/null
python3.13 -c "import $MODULES; print('imported:', ssl.OPENSSL_VERSION)"
python3.13 -m pip --version
echo "python3: \$(python3 --version)"
EOF
T1=$(now)
diag "apt-get install and run in a fresh root: $((T1 - T0)) s"
OUT=$(cat "$TMP/out.txt")
is "$STATUS" 0 "in a fresh root, apt installs python3.13 from the local repository"
[ "$STATUS" = 0 ] || diag "$(tail -20 "$TMP/err.txt")"
like "$OUT" "^imported: OpenSSL 3\." "and it imports $MODULES"
like "$OUT" "^pip [0-9.]+ from /usr/lib/python3\.13/site-packages/pip \(python 3\.13\)$" \
	"python3.13 -m pip works"
like "$OUT" "^python3: Python 3\.13\.[0-9]+$" "python3 is 3.13"

# --- a bundle of it, unpacked elsewhere, run by full path
T0=$(now)
run bundle "$CFG"
T1=$(now)
diag "bundle: $((T1 - T0)) s"
is "$STATUS" 0 "bundle succeeds"
[ "$STATUS" = 0 ] || diag "$ERR"
TARBALL=$(ls "$TMP/out"/python3.13-3.13.*-x86_64.tar.gz 2>/dev/null)
test -s "$TARBALL"
ok $? "the tarball is there"
mkdir -p "$TMP/elsewhere/deep"
tar xzf "$TARBALL" -C "$TMP/elsewhere/deep" 2>/dev/null
B=$TMP/elsewhere/deep/python3.13
OUT=$(env -i "$B/usr/bin/python3.13" -c "import $MODULES; print(ssl.OPENSSL_VERSION)
import sys; print('prefix', sys.prefix)" 2>&1)
like "$OUT" "^OpenSSL 3\." "the relocated python3.13 imports $MODULES, by full path with no diracosrc"
like "$OUT" "^prefix $B/usr$" "its prefix is where it was unpacked"
# Bytecode compiled by the bundle's Python: hash-based, never checked
# against its source (flags 1), naming /usr/lib/..., not the build path.
PYC=$B/usr/lib/python3.13/__pycache__/os.cpython-313.pyc
is "$(od -An -tx1 -j4 -N4 "$PYC" 2>/dev/null | tr -d ' ')" "01000000" \
	"os.py has unchecked-hash bytecode"
OUT=$(env -i "$B/usr/bin/python3.13" -c 'import json; print(json.__file__, json.__spec__.cached)' 2>&1)
like "$OUT" "^$B/usr/lib/python3\.13/json/__init__\.py $B/usr/lib/python3\.13/json/__pycache__/__init__\.cpython-313\.pyc$" \
	"modules load from the bundle, with their bytecode"
OUT=$(env -i "$B/usr/bin/pip3.13" --version 2>&1)
like "$OUT" "^pip [0-9.]+ from $B/usr/lib/python3\.13/site-packages/pip " \
	"the relocated pip3.13 runs (its #! line made relocatable)"
# Every shared object it maps, glibc's aside, is the bundle's.
OUT=$(env -i "$B/usr/bin/python3.13" -c "import $MODULES, pyexpat, curses
maps = {l.split()[-1] for l in open('/proc/self/maps') if '.so' in l}
print('\\n'.join(sorted(maps)))" 2>&1)
like "$OUT" "^$B/usr/lib/python3\.13/lib-dynload/_ssl\.cpython-313-x86_64-linux-gnu\.so$" \
	"the extension modules are the bundle's"
like "$OUT" "^$B/usr/lib/x86_64-linux-gnu/libssl\.so\.3$" "and so is libssl"
FOREIGN=$(printf '%s\n' "$OUT" | grep -v "^$B/" |
	grep -Ev '/(libc\.so\.6|libm\.so\.6|ld-linux-x86-64\.so\.2)$')
is "$FOREIGN" "" "no other library comes from the host"

# --- the static audit, and the bundle's tests on bookworm and trixie
for what in "$B" "$TARBALL"; do
	run check "$what"
	is "$STATUS" 0 "diracos check passes on ${what#"$TMP/"}"
	[ "$STATUS" = 0 ] || diag "$OUT"
	# "3.13: N sources, N valid .pyc files": the bundle step's bytecode
	PYC=$(printf '%s\n' "$OUT" | sed -n 's/^ *3\.13: \([0-9]*\) sources, \([0-9]*\) valid \.pyc files$/\1 \2/p')
	like "$PYC" '^([1-9][0-9]+) \1$' "and finds valid bytecode for every module source"
done
# Byte-identical on a second run, bytecode included.
cp "$TARBALL" "$TMP/first.tar.gz"
run bundle "$CFG"
cmp -s "$TARBALL" "$TMP/first.tar.gz"
ok $? "a second bundle is byte-identical, bytecode included"
T0=$(now)
run test -c "$CFG" "$TARBALL"
T1=$(now)
diag "test on bookworm and trixie: $((T1 - T0)) s"
is "$STATUS" 0 "diracos test passes: its imports and commands on bookworm and trixie"
[ "$STATUS" = 0 ] || diag "$OUT" "$ERR"
like "$OUT" "^import readline +ok +ok$" "readline imports on both"

finish
