#!/bin/sh
# The built-in default bundle, end to end, as a new user runs it: in an
# empty folder, `diracos build` with no configuration builds our CPython
# 3.11 (bookworm's upstream tarball with Debian's security fixes), bundles
# it with gfal2, XRootD, davix, VOMS, MyProxy, LDAP, ssh, git, curl and the
# distribution's Python packages, builds M2Crypto, PyYAML and psutil by
# pip from source archives, and checks it; the bundle's own tests
# pass on bookworm and trixie (read-only, at a path it has never seen); its
# Python and tools run by full path, without diracosrc, after the bundle
# moved. The CPython build takes 10 to 15 minutes on 2 cores:
# DIRACOS_SKIP_SLOW=1 skips this test.
. "$(dirname "$0")/lib.sh"

skip_if_slow "the CPython build takes 10 to 15 minutes"
need_build_roots
plan 21

now() { date +%s; }
mkdir -p "$TMP/run"
cd "$TMP/run" || exit 1

# --- the cold build
T0=$(now)
run build
T1=$(now)
diag "cold build: $((T1 - T0)) s"
is "$STATUS" 0 "diracos build, no configuration: the built-in default builds"
[ "$STATUS" = 0 ] || diag "$OUT" "$ERR"
like "$ERR" "^python3\.11: built" "our python3.11 is built"
ZST=$(ls "$TMP"/run/diracos-*-x86_64.tar.zst 2>/dev/null)
GZ=$(ls "$TMP"/run/diracos-*-x86_64.tar.gz 2>/dev/null)
test -s "$ZST" && test -s "$GZ"
ok $? "the zstd and gzip tarballs are in the current folder"
like "$OUT" "diracos-.*-x86_64\.tar\.zst \([0-9.]+ MiB\)" "their paths and sizes are printed"
like "$OUT" "^check: no failures$" "and check's verdict"
like "$ERR" "^pip: 3 Python distributions installed" "pip installs M2Crypto, PyYAML and psutil"
test -d "$TMP/run/diracos-work/repo"
ok $? "the work folder is in the current folder"

# --- the resolver took our Python for the distribution's
run resolve
like "$OUT" "python3\.11 .*local" "python3.11 comes from the local repository"
! printf '%s\n' "$OUT" | grep -Eq "^(python3|python3-minimal|libpython3\.11-stdlib|python3\.11-minimal) "
ok $? "and none of the distribution's interpreter packages is in the closure"

# --- moved and run by full path, without diracosrc
mkdir -p "$TMP/moved/deeper"
tar --zstd -xf "$ZST" -C "$TMP/moved/deeper"
B=$TMP/moved/deeper/diracos
OUT=$(env -i "$B/usr/bin/python3" -c 'import sys, ssl, gfal2, XRootD.client, requests
print(sys.version.split()[0], sys.prefix)' 2>&1)
like "$OUT" "^3\.11\.[0-9]+ $B/usr$" \
	"the moved python3 imports ssl, gfal2, XRootD.client, requests by full path"
OUT=$(env -i sh -c ". '$B/diracosrc' && python3 -c 'import gfal2
print(sorted(gfal2.creat_context().get_plugin_names()))'" 2>&1)
like "$OUT" "'file-.*'gridftp-.*'http-.*'xrootd-" \
	"with diracosrc, gfal2 finds its file, gridftp, http and xrootd plugins in the bundle"
# gfal-ls is a #!/bin/sh script that looks for a python with gfal2 on PATH:
# diracosrc's PATH leads it to the bundle's.
OUT=$(env -i sh -c ". '$B/diracosrc' && cd / && gfal-ls --help" 2>&1)
like "$OUT" "usage: gfal-ls" "with diracosrc, gfal-ls runs on the bundle's python"
OUT=$(env -i "$B/usr/bin/python3" -c 'import M2Crypto.m2, psutil, yaml
print(M2Crypto.m2.OPENSSL_VERSION_TEXT, yaml.__with_libyaml__, psutil.__version__)' 2>&1)
like "$OUT" "^OpenSSL 3\.[0-9.]+ .* True 7\." \
	"M2Crypto on the bundled OpenSSL, PyYAML with libyaml, psutil 7, by full path"
OUT=$(env -i "$B/usr/bin/xrdcp" --version 2>&1)
like "$OUT" "^v5\." "xrdcp runs by full path"
OUT=$(env -i sh -c ". '$B/diracosrc' && git --exec-path" 2>&1)
is "$OUT" "$B/usr/lib/git-core" "with diracosrc, git's helpers are the bundle's"

# --- the bundle's own tests, on bookworm and trixie, read-only
T0=$(now)
run test "$ZST"
T1=$(now)
diag "test on bookworm and trixie: $((T1 - T0)) s"
is "$STATUS" 0 "diracos test passes on bookworm and trixie"
[ "$STATUS" = 0 ] || diag "$OUT" "$ERR"
like "$OUT" "^import gfal2 +ok +ok$" "gfal2 imports on both"
like "$OUT" "^echo hello >/tmp/src && gfal-copy file://.* +ok +ok$" "a local gfal-copy works on both"

# --- the warm build: nothing to do but the bundle
T0=$(now)
run build
T1=$(now)
diag "warm build: $((T1 - T0)) s"
is "$STATUS" 0 "a second diracos build succeeds"
like "$ERR" "^python3\.11: up to date$" "and rebuilds nothing"
[ $((T1 - T0)) -le 120 ]
ok $? "in under two minutes ($((T1 - T0)) s; bench/default measures it)"

finish
