#!/bin/sh
# diracos check on a real bundle (built from a signed loopback archive made
# in the test): clean, it exits 0; with an absolute symlink, a hard link, a
# removed library, a file holding the build path and a setuid file planted,
# it reports each one and exits 1, for the unpacked folder and for a
# re-packed tarball alike.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mkrepo.sh"
set -e

plan 32

# --- the archive: libc6 (the platform), libhello1, hello
mkrepo_init "$TMP/repo"
mkrepo_hello_stage
ln -s /usr/bin/hello "$TMP/st/hello/usr/bin/hello-abs"
mkrepo_hello_debs
mkrepo_publish testsuite
mkrepo_serve

set +e
export DIRACOS_CACHE="$TMP/cache"

cat >"$TMP/diracos.json" <<JSON
{
  "name": "tiny", "version": "1.0",
  "platform": {"suite": "testsuite"},
  "distributionPackages": ["hello"],
  "workDir": "work",
  "output": {"directory": "out", "compression": ["gzip"]},
  "tests": {"platforms": ["bookworm", "trixie", "plan9"]}
}
JSON

run bundle "$TMP/diracos.json"
is "$STATUS" 0 "bundle exits 0"
[ "$STATUS" -eq 0 ] || diag "$ERR"
GZ="$TMP/out/tiny-1.0-x86_64.tar.gz"

# --- clean: the tarball as built, and unpacked
run check "$GZ"
is "$STATUS" 0 "check of the clean tarball exits 0"
[ "$STATUS" -eq 0 ] || diag "$OUT"
like "$OUT" "^check: no failures$" "and says so"
like "$OUT" "^bundle 'tiny' \(tarball " "it names the bundle and the kind of input"
like "$OUT" "ok +bookworm: glibc 2.36" "bookworm's glibc is new enough"
like "$OUT" "warn plan9: unknown platform" "an unknown platform is a warning"
like "$OUT" "^summary: 7 files" "the summary counts the files"
like "$OUT" "needs glibc 2.34 or newer \\(usr/bin/hello\\)" "the glibc floor names a file that needs it"

mkdir -p "$TMP/u"
tar -C "$TMP/u" -xzf "$GZ"
B="$TMP/u/tiny"
run check "$B"
is "$STATUS" 0 "check of the clean folder exits 0"
[ "$STATUS" -eq 0 ] || diag "$OUT"
run --json check "$B"
like "$OUT" '"ok": true' "--json says ok"
like "$OUT" '"kind": "folder"' "--json names the kind of input"

# --- the faults
ln -s /etc/passwd "$B/usr/bin/abs"
ln "$B/usr/bin/hello" "$B/usr/bin/hello-hard"
rm "$B/usr/lib/x86_64-linux-gnu/libhello.so.1.0" "$B/usr/lib/x86_64-linux-gnu/libhello.so.1"
mkdir -p "$B/usr/share"
echo "prefix=$TMP/work/bundle/tiny/usr" >"$B/usr/share/leak.pc"
cp "$B/diracosrc" "$B/usr/bin/suid"
chmod 4755 "$B/usr/bin/suid"

check_faults() { # KIND
	is "$STATUS" 1 "$1: check exits 1"
	like "$OUT" "FAIL absolute symlink: usr/bin/abs -> /etc/passwd" "$1: the absolute symlink"
	like "$OUT" "FAIL hard link: usr/bin/hello" "$1: the hard link"
	like "$OUT" "FAIL missing library: usr/bin/hello needs libhello.so.1" "$1: the removed library"
	like "$OUT" "FAIL build path: usr/share/leak.pc holds $TMP/work/bundle/tiny" \
		"$1: the file holding the build path"
	like "$OUT" "FAIL setuid: usr/bin/suid" "$1: the setuid file"
}

run check "$B"
check_faults folder
like "$OUT" "^check: 7 failures$" "folder: both names of the hard link count"

tar -C "$TMP/u" -czf "$TMP/repacked.tar.gz" tiny
run check "$TMP/repacked.tar.gz"
check_faults tarball
like "$OUT" "^check: 5 failures$" "tarball: the hard link is one entry"

run --json check "$TMP/repacked.tar.gz"
like "$OUT" '"failures": 5' "--json counts the failures"
like "$OUT" '"library": "libhello.so.1"' "--json lists the missing library"

# -c CONFIG: tests settings from the configuration: a known missing library,
# and a platform whose glibc is too old
sed 's/"platforms": \["bookworm", "trixie", "plan9"\]/"platforms": ["el7"], "knownMissingDependencies": ["libhello.so.1"]/' \
	"$TMP/diracos.json" >"$TMP/known.json"
run check -c "$TMP/known.json" "$B"
like "$OUT" "ok +known missing library: usr/bin/hello needs libhello.so.1" \
	"-c CONFIG: a listed missing library is known"
like "$OUT" "FAIL el7: glibc 2.17, too old" "-c CONFIG: el7's glibc is older than the floor"
like "$OUT" "^check: 6 failures$" "the known library is no failure, el7 is"

# --- usage
run check
is "$STATUS" 2 "no BUNDLE is a usage error"
run check "$TMP/nowhere"
is "$STATUS" 2 "a BUNDLE that does not exist is a usage error"

finish
