#!/bin/sh
# The second shipped configuration, configs/python3.13.json (issue 7): a
# client environment on our CPython 3.13, newer than bookworm's 3.11.
# `diracos build` of it as shipped (its workDir and output folder moved to
# $TMP) rebuilds Boost.Python and XRootD's Python bindings against 3.13,
# takes gfal2's C library and plugins, davix, the XRootD client and the
# pure-Python packages from the distribution, and runs check; the unpacked
# bundle imports XRootD.client by full path, and `diracos test` passes on
# bookworm and trixie.
#
# Python itself is not built here: its local repository starts as a copy
# (hard links) of the shared one (shared_python in lib.sh, which t0070
# uses too), where python3.13 is up to date; boost-python and
# xrootd-python are built into the copy, never into the shared repository.
# About 5 minutes with Python shared (boost's tarball, 77 MB, is most of
# it); 11 more the first time on a machine. DIRACOS_SKIP_SLOW=1 skips it.
. "$(dirname "$0")/lib.sh"
# psutil 7.1 and Cython 3.1 (pip sources) are only in forky, whose signed
# InRelease is past its Valid-Until on this archive's frozen copy: the
# configuration pins both by sha256, which is what lets it take them.
unset DIRACOS_CHECK_VALID_UNTIL

skip_if_slow "builds boost-python and xrootd-python, and Python once"
need_build_roots
plan 26

now() { date +%s; }

# --- python3.13, shared; the repository a copy of the shared one
T0=$(now)
STATUS=0
SHARED=$(shared_python 2>"$TMP/shared.err") || STATUS=$?
diag "shared python3.13: $(($(now) - T0)) s"
is "$STATUS" 0 "python3.13 is built in the shared repository (or up to date)"
[ "$STATUS" = 0 ] || diag "$(cat "$TMP/shared.err")"
# The repository writes its files by rename, never in place, so hard links
# are safe, but for its lock: a linked .lock would be the shared
# repository's own, and this build would hold it for minutes.
cp -al "$SHARED" "$TMP/repo" 2>/dev/null || { rm -rf "$TMP/repo" && cp -a "$SHARED" "$TMP/repo"; }
rm -f "$TMP/repo/.lock"
test ! -e "$TMP/repo/.lock" && test -s "$TMP/repo/Packages"
ok $? "the shared repository is copied, all but its lock"

SRC=$DIRACOS_SRC
json_edit "$SRC/configs/python3.13.json" "$TMP/py313.json" "
c['workDir'] = '$TMP/work'; c['repo'] = '$TMP/repo'; c['patchDir'] = '$SRC/patches'
c['output'] = {'directory': '$TMP/out', 'compression': ['gzip']}
for g in c['packageGroups']:
    for p in g['packages']:
        if 'recipe' in p: p['recipe'] = p['recipe'].replace('../', '$SRC/', 1)"
CFG=$TMP/py313.json

# --- diracos build: the two rebuilt packages, the bundle, check
T0=$(now)
mkdir -p "$TMP/cwd"
STATUS=0
(cd "$TMP/cwd" && "$DIRACOS_BIN" build "$CFG") >"$TMP/build.out" 2>"$TMP/build.err" || STATUS=$?
diag "diracos build: $(($(now) - T0)) s"
OUT=$(cat "$TMP/build.out")
is "$STATUS" 0 "diracos build of configs/python3.13.json succeeds"
[ "$STATUS" = 0 ] || diag "$OUT" "$(tail -40 "$TMP/build.err")"
# build reports each package on stderr, with its progress
ERR=$(cat "$TMP/build.err")
like "$ERR" "^python3\.13: up to date$" "python3.13 is the shared build, not rebuilt"
like "$ERR" "^boost-python: built \([0-9]+ s\)$" "boost-python is built"
like "$ERR" "^xrootd-python: built \([0-9]+ s\)$" "xrootd-python is built"
test ! -e "$SHARED/records/boost-python.json" && test ! -e "$SHARED/records/xrootd-python.json"
ok $? "and neither entered the shared repository"
like "$OUT" "^check: no failures$" "build runs check, which finds no failure"

# --- the rebuilt packages
stanza() { sed -n "/^Package: $1\$/,/^\$/p" "$TMP/repo/Packages"; }
deb() { echo "$TMP/repo/$(stanza "$1" | sed -n 's/^Filename: //p')"; }
dpkg-deb -c "$(deb boost-python)" | awk '{ print $6 }' >"$TMP/boost.list"
grep -qx './usr/lib/x86_64-linux-gnu/libboost_python313.so.1.83.0' "$TMP/boost.list"
ok $? "boost-python holds libboost_python313.so.1.83.0"
is "$(grep -c '\.a$\|/include/' "$TMP/boost.list")" 0 "and no static library or header"
like "$(stanza boost-python | sed -n 's/^Depends: //p')" "(^|, )python3\.13(,|$)" \
	"boost-python depends on python3.13"
dpkg-deb -c "$(deb xrootd-python)" | awk '{ print $6 }' >"$TMP/xrd.list"
grep -qx './usr/lib/python3.13/site-packages/pyxrootd/client.cpython-313-x86_64-linux-gnu.so' \
	"$TMP/xrd.list" && grep -qx './usr/lib/python3.13/site-packages/XRootD/client/__init__.py' "$TMP/xrd.list"
ok $? "xrootd-python holds pyxrootd's extension for 3.13 and XRootD.client"
grep -q '^\./usr/lib/python3.13/site-packages/xrootd-5\.5\.3\.dist-info/METADATA$' "$TMP/xrd.list"
ok $? "and the xrootd 5.5.3 dist-info"
DEPENDS=$(stanza xrootd-python | sed -n 's/^Depends: //p')
like "$DEPENDS" "(^|, )libxrdcl3(,|$)" "xrootd-python depends on the distribution's libxrdcl3 (from DT_NEEDED)"
like "$DEPENDS" "(^|, )xrootd-client-plugins(,|$)" "and on xrootd-client-plugins"

# --- the bundle, unpacked elsewhere, by full path
TARBALL=$(ls "$TMP/out"/python3.13-3.13.*-x86_64.tar.gz 2>/dev/null)
test -s "$TARBALL"
ok $? "the tarball is in the output folder"
mkdir -p "$TMP/elsewhere/x"
tar xzf "$TARBALL" -C "$TMP/elsewhere/x" 2>/dev/null
B=$TMP/elsewhere/x/python3.13
OUT=$(cd / && env -i "$B/usr/bin/python3" -c 'import XRootD.client, pyxrootd.client, sys
print("file", XRootD.client.__file__); print("ext", pyxrootd.client.__file__)
print("version", pyxrootd.client.XrdVersion_cpp())
u = XRootD.client.URL("root://eos.example.org:1094//a/b"); print("url", u.hostname, u.port, u.path)
maps = {l.split()[-1] for l in open("/proc/self/maps") if ".so" in l}
print("\n".join("map " + m for m in sorted(maps)))' 2>&1)
like "$OUT" "^file $B/usr/lib/python3\.13/site-packages/XRootD/client/__init__\.py$" \
	"import XRootD.client works from the unpacked bundle by full path, no diracosrc"
like "$OUT" "^version v?5\.5\.3" "it is XRootD 5.5.3"
like "$OUT" "^url eos\.example\.org 1094 /?a/b$" "XRootD.client.URL parses a URL"
like "$OUT" "^map $B/usr/lib/x86_64-linux-gnu/libXrdCl\.so\.3" "libXrdCl is the bundle's"
FOREIGN=$(printf '%s\n' "$OUT" | sed -n 's/^map //p' | grep -v "^$B/" |
	grep -Ev '/(libc\.so\.6|libm\.so\.6|ld-linux-x86-64\.so\.2)$')
is "$FOREIGN" "" "no library comes from the host"
OUT=$(env -i "$B/usr/bin/python3" -c 'import requests, six, certifi, sys
print("requests", requests.__file__); print("ca", requests.certs.where())' 2>&1)
like "$OUT" "^requests $B/usr/lib/python3/dist-packages/requests/__init__\.py$" \
	"the distribution's requests imports into 3.13 from the bundle"
OUT=$(env -i "$B/usr/bin/python3" -c 'import ctypes, sys
ctypes.CDLL(sys.prefix + "/lib/x86_64-linux-gnu/libboost_python313.so.1.83.0"); print("boost ok")' 2>&1)
like "$OUT" "^boost ok$" "libboost_python313 loads into the bundle's python3"

# --- check and the configuration's tests on bookworm and trixie
run check "$B"
is "$STATUS" 0 "diracos check passes on the unpacked bundle"
[ "$STATUS" = 0 ] || diag "$OUT"
T0=$(now)
run test -c "$CFG" "$TARBALL"
diag "test on bookworm and trixie: $(($(now) - T0)) s"
is "$STATUS" 0 "diracos test passes on bookworm and trixie"
[ "$STATUS" = 0 ] || diag "$OUT" "$ERR"
like "$OUT" "^import XRootD\.client +ok +ok$" "XRootD.client imports on both"

finish
