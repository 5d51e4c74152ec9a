#!/bin/sh
# The pip step (issue 6, step 5): a bundle of our Python 3.13 gets real
# sdists from the Debian archive's upstream tarballs (setuptools as the
# build backend, certifi pure Python, psutil with a C extension) and a
# local one with a console script, installed by the bundle's own pip in the
# build root without the network. Unpacked elsewhere and run by full path
# without diracosrc, everything imports from the bundle, the console script
# runs, TLS uses the bundle's CA file, no file names the build path, and
# diracos check passes. A warm rebuild builds no wheel; fix-pip-versions
# pins what was installed; a missing source, a wrong sha256 and a
# requirement nothing satisfies are clear errors with no tarball.
# Needs the shared Python (5 to 11 minutes once per machine):
# DIRACOS_SKIP_SLOW=1 skips this test; DIRACOS_TEST_PYTHON_REPO names an
# existing local repository holding python3.13 instead.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mkrepo.sh"

skip_if_slow "needs our CPython build"
need_build_roots
plan 42

# psutil 7.1 is in forky only (trixie's upstream tarball is missing from the
# archive reachable here), and forky's InRelease is past its Valid-Until on
# this frozen mirror.
DIRACOS_CHECK_VALID_UNTIL=0
export DIRACOS_CHECK_VALID_UNTIL

now() { date +%s; }

if [ -n "${DIRACOS_TEST_PYTHON_REPO:-}" ]; then
	REPO=$DIRACOS_TEST_PYTHON_REPO
	STATUS=0
else
	STATUS=0
	REPO=$(shared_python 2>"$TMP/build.err") || STATUS=$?
fi
is "$STATUS" 0 "our python3.13 is in a local repository"
[ "$STATUS" = 0 ] || { diag "$(cat "$TMP/build.err")"; finish; exit 1; }

# --- a local sdist with a console script, served over HTTP
mkdir -p "$TMP/www" "$TMP/hello/hello_diracos-1.0"
H=$TMP/hello/hello_diracos-1.0
cat >"$H/PKG-INFO" <<'EOF'
Metadata-Version: 2.1
Name: hello_diracos
Version: 1.0
EOF
cat >"$H/pyproject.toml" <<'EOF'
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "hello_diracos"
version = "1.0"

[project.scripts]
hello-diracos = "hello_diracos:main"
EOF
cat >"$H/hello_diracos.py" <<'EOF'
import sys


def main():
    print("hello from", __file__, "with", sys.executable)
EOF
tar -C "$TMP/hello" -cf - hello_diracos-1.0 | gzip -n >"$TMP/www/hello_diracos-1.0.tar.gz"
HELLO_SHA=$(sha256sum "$TMP/www/hello_diracos-1.0.tar.gz" | cut -d' ' -f1)
httpd_start "$TMP/www"
trap 'kill $HTTPD_PID 2>/dev/null; rm -rf "$TMP"' EXIT
URL=http://127.0.0.1:$HTTP_PORT

# config NAME REQUIREMENTS EXTRA-SOURCE: a configuration in $TMP/NAME.json
config() {
	cat >"$TMP/$1.json" <<EOF
{
  "name": "piptest",
  "version": "1.0",
  "platform": {"suite": "bookworm", "arch": "amd64", "components": ["main"],
               "platformPackages": ["libc6"]},
  "workDir": "$TMP/work",
  "repo": "$REPO",
  "distributionPackages": ["python3.13", "ca-certificates"],
  "ignoredPackages": ["dpkg", "debconf", "openssl"],
  "pipRequirements": [$2],
  "pipSources": [
    {"debianSource": "setuptools", "suite": "trixie"},
    {"debianSource": "python-certifi", "suite": "trixie"},
    {"debianSource": "python-psutil", "suite": "forky", "filename": "psutil-7.1.0.tar.gz"},
    {"urls": ["$URL/hello_diracos-1.0.tar.gz"], "sha256": "$HELLO_SHA"}$3
  ],
  "output": {"directory": "$TMP/out-$1", "compression": ["gzip"]}
}
EOF
}
config good '"psutil", "certifi", "hello_diracos"' ""

# --- the bundle
T0=$(now)
run -v bundle "$TMP/good.json"
T1=$(now)
diag "bundle (wheels built): $((T1 - T0)) s"
is "$STATUS" 0 "bundle with pipRequirements succeeds"
[ "$STATUS" = 0 ] || diag "$ERR"
like "$ERR" "pip: building wheels from 4 source archives" "the wheels are built from the 4 sources"
like "$ERR" "pip: 3 Python distributions installed" "pip installs the 3 requirements"
TARBALL=$TMP/out-good/piptest-1.0-x86_64.tar.gz
test -s "$TARBALL"
ok $? "the tarball is there"
ls "$TMP/work/pip/sources" >"$TMP/sources.txt" 2>&1
like "$(cat "$TMP/sources.txt")" "^psutil-7\.1\.0\.tar\.gz$" \
	"the .tar.xz upstream tarball is repacked as NAME-VERSION.tar.gz for find-links"
like "$(cat "$TMP/sources.txt")" "^setuptools-78\.1\.1\.tar\.gz$" \
	"and the Debian .orig.tar.gz under its PKG-INFO name"

# --- unpacked elsewhere, run by full path without diracosrc
mkdir -p "$TMP/elsewhere/deep"
tar xzf "$TARBALL" -C "$TMP/elsewhere/deep"
B=$TMP/elsewhere/deep/piptest
OUT=$(env -i "$B/usr/bin/python3" -c "
import psutil, certifi, hello_diracos, os
print('psutil', psutil.__version__, psutil.__file__)
print('ext', psutil._psutil_linux.__file__)
print('cpus', psutil.cpu_count() > 0)
print('certifi', certifi.where(), os.path.isfile(certifi.where()))
print('hello', hello_diracos.__file__)" 2>&1)
like "$OUT" "^psutil 7\.1\.0 $B/usr/lib/python3\.13/site-packages/psutil/__init__\.py$" \
	"psutil imports from the bundle"
like "$OUT" "^ext $B/usr/lib/python3\.13/site-packages/psutil/_psutil_linux\.abi3\.so$" \
	"and its C extension is the bundle's"
like "$OUT" "^cpus True$" "and works"
like "$OUT" "^certifi $B/usr/lib/python3\.13/site-packages/certifi/cacert\.pem True$" \
	"certifi.where() names a file inside the bundle"
REAL=$(readlink -f "$B/usr/lib/python3.13/site-packages/certifi/cacert.pem")
is "$REAL" "$B/etc/ssl/certs/ca-certificates.crt" "a link to the bundle's CA bundle"
like "$OUT" "^hello $B/usr/lib/python3\.13/site-packages/hello_diracos\.py$" \
	"the local sdist's module imports"
OUT=$(env -i "$B/usr/bin/hello-diracos" 2>&1)
like "$OUT" "^hello from $B/usr/lib/python3\.13/site-packages/hello_diracos\.py with $B/usr/bin/python3" \
	"the console script runs by its path with the bundle's Python"
OUT=$(env -i "$B/usr/bin/python3" -c "
import ssl
print('cafile', ssl.get_default_verify_paths().cafile)
print('cas', ssl.create_default_context().cert_store_stats()['x509_ca'] > 50)" 2>&1)
like "$OUT" "^cafile $B/etc/ssl/certs/ca-certificates\.crt$" \
	"the ssl module's default CA file is the bundle's"
like "$OUT" "^cas True$" "and a default context loads its certificates"
mv "$TMP/elsewhere" "$TMP/moved"
B=$TMP/moved/deep/piptest
OUT=$(env -i "$B/usr/bin/hello-diracos" 2>&1)
like "$OUT" "^hello from $B/" "the console script still runs after the bundle moved"
# diracos.json, the effective configuration, names workDir by design.
HITS=$(grep -rl --exclude=diracos.json "$TMP/work" "$B" 2>/dev/null)
is "$HITS" "" "no file holds the build-time path"
run check "$B"
is "$STATUS" 0 "diracos check passes"
[ "$STATUS" = 0 ] || diag "$OUT"
V=$(cat "$B/versions.txt")
like "$V" "^# python distributions: 3$" "versions.txt lists the Python distributions"
like "$V" "^psutil 7\.1\.0 http://.*/python-psutil_7\.1\.0\.orig\.tar\.xz$" \
	"with their exact versions and source archives"
like "$V" "^hello_diracos 1\.0 $URL/hello_diracos-1\.0\.tar\.gz$" "the local one too"
grep -q '"name": "psutil"' "$B/sbom.spdx.json"
ok $? "the SBOM lists psutil"

# --- fix-pip-versions
run fix-pip-versions "$TMP/good.json"
is "$STATUS" 0 "fix-pip-versions succeeds"
like "$OUT" "^psutil==7\.1\.0$" "and pins psutil"
like "$OUT" "^certifi==2025\.1\.31$" "and certifi"

# --- a warm rebuild: the wheels are reused, pip's files all there
T0=$(now)
run -v bundle "$TMP/good.json"
T1=$(now)
diag "warm bundle: $((T1 - T0)) s"
is "$STATUS" 0 "a second bundle succeeds"
case $ERR in *"building wheels"*) R=1 ;; *) R=0 ;; esac
ok $R "and builds no wheel"
rm -rf "$TMP/again" && mkdir "$TMP/again" && tar xzf "$TARBALL" -C "$TMP/again"
OUT=$(env -i "$TMP/again/piptest/usr/bin/python3" -c "import psutil, certifi, hello_diracos; print('ok')" 2>&1)
is "$OUT" "ok" "and the rebuilt bundle imports them"

# --- an extension: setuptools (pure Python) on top of that bundle
cat >"$TMP/ext.json" <<EOF
{
  "name": "piptest", "extensionName": "stext", "version": "0.1", "diracOsVersion": "1.0",
  "platform": {"suite": "bookworm", "arch": "amd64", "components": ["main"]},
  "workDir": "$TMP/work",
  "pipRequirements": ["setuptools"],
  "pipSources": [{"debianSource": "setuptools", "suite": "trixie"}],
  "output": {"directory": "$TMP/out-good", "compression": ["gzip"]}
}
EOF
T0=$(now)
run extension "$TMP/ext.json"
T1=$(now)
diag "extension: $((T1 - T0)) s"
is "$STATUS" 0 "diracos extension succeeds"
[ "$STATUS" = 0 ] || diag "$ERR"
EXT=$TMP/out-good/stext-0.1.tar.gz
test -s "$EXT"
ok $? "it writes stext-0.1.tar.gz"
like "$(cat "$TMP/out-good/stext_versions.txt" 2>&1)" "^setuptools 78\.1\.1 http" \
	"and stext_versions.txt lists what it added"
tar tzf "$EXT" >"$TMP/ext.list" 2>/dev/null
is "$(grep -c -e psutil -e 'bin/python' "$TMP/ext.list")" 0 "the extension holds only what it adds"
SIZE_E=$(stat -c %s "$EXT" 2>/dev/null || echo 0)
SIZE_B=$(stat -c %s "$TARBALL" 2>/dev/null || echo 0)
[ "$SIZE_E" -gt 0 ] && [ "$SIZE_E" -lt $((SIZE_B / 5)) ]
ok $? "and is small ($SIZE_E bytes, the base $SIZE_B)"
mkdir -p "$TMP/both"
tar xzf "$TARBALL" -C "$TMP/both" && tar xzf "$EXT" -C "$TMP/both"
OUT=$(env -i "$TMP/both/piptest/usr/bin/python3" -c "import setuptools, psutil; print(setuptools.__file__)" 2>&1)
like "$OUT" "^$TMP/both/piptest/usr/lib/python3\.13/site-packages/setuptools/__init__\.py$" \
	"base and extension unpacked in one folder import the extension's package"
run check "$TMP/both/piptest"
is "$STATUS" 0 "and pass diracos check"
[ "$STATUS" = 0 ] || diag "$OUT"

# --- clear errors, no tarball
NOSUCH_SHA=1111111111111111111111111111111111111111111111111111111111111111
config missing '"certifi"' ", {\"urls\": [\"$URL/nosuch-1.0.tar.gz\"], \"sha256\": \"$NOSUCH_SHA\"}"
run bundle "$TMP/missing.json"
like "$ERR" "$URL/nosuch-1\.0\.tar\.gz.*HTTP 404" "a missing source names its URL and the HTTP status"
test ! -e "$TMP/out-missing/piptest-1.0-x86_64.tar.gz"
ok $? "and no tarball is written"
BAD=0000000000000000000000000000000000000000000000000000000000000000
sed "s/$HELLO_SHA/$BAD/" "$TMP/good.json" | sed "s|out-good|out-badsum|" >"$TMP/badsum.json"
run bundle "$TMP/badsum.json"
like "$ERR" "sha256" "a source whose sha256 differs is a clear error"
test ! -e "$TMP/out-badsum/piptest-1.0-x86_64.tar.gz"
ok $? "and no tarball is written"
config unsat '"certifi", "nosuchdist>=1"' ""
run bundle "$TMP/unsat.json"
like "$ERR" "nosuchdist" "a requirement nothing satisfies is an error naming it"
test ! -e "$TMP/out-unsat/piptest-1.0-x86_64.tar.gz"
ok $? "and no tarball is written"

finish
