#!/bin/sh
# diracos bundle with platform.backend "rpm": a bundle built entirely from
# rpm-md repositories made in the test (rpmbuild + createrepo_c, served on
# loopback): gzip, xz and zstd payloads extracted securely, the absolute
# symlink made relative, the hard link a copy, the %ghost file absent; it
# passes diracos check and runs relocated.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mkrepo.sh"
. "$(dirname "$0")/mkrpm.sh"
set -e

plan 16

mkrpm_init "$TMP/top"
mkrpm_glibc
mkrpm_build "$RPM_SPECS/libhello.spec" xz
mkrpm_build "$RPM_SPECS/hello.spec" zstd
mkrpm_publish "$TMP/repo/os"
httpd_start "$TMP/repo"
trap 'kill $HTTPD_PID 2>/dev/null; rm -rf "$TMP"' EXIT
set +e
export DIRACOS_CACHE="$TMP/cache"
unset SOURCE_DATE_EPOCH

cat >"$TMP/diracos.json" <<JSON
{
  "name": "tinyrpm", "version": "1.0",
  "platform": {"backend": "rpm", "suite": "el9", "mirror": "http://127.0.0.1:$HTTP_PORT",
               "components": ["os"]},
  "distributionPackages": ["hello"],
  "workDir": "work",
  "output": {"directory": "out", "compression": ["gzip"]}
}
JSON

run bundle "$TMP/diracos.json"
is "$STATUS" 0 "bundle from rpm-md repositories exits 0"
[ "$STATUS" -eq 0 ] || diag "$ERR"
GZ="$TMP/out/tinyrpm-1.0-x86_64.tar.gz"
[ -f "$GZ" ]; ok $? "the tarball is written"

mkdir -p "$TMP/elsewhere/deep"
tar -C "$TMP/elsewhere/deep" -xzf "$GZ"
B="$TMP/elsewhere/deep/tinyrpm"
out=$("$B/usr/bin/hello" 2>&1)
is "$out" "hello from the rpm bundle" "the program from the zstd payload runs relocated with the xz one's library"
out=$("$B/usr/bin/hello-hard" 2>&1)
is "$out" "hello from the rpm bundle" "the hard link (content in the set's last cpio member) is a whole copy"
[ -f "$B/usr/bin/hello-hard" ] && [ ! -L "$B/usr/bin/hello-hard" ]; ok $? "the hard link is a plain file"
cmp -s "$B/usr/bin/hello" "$B/usr/bin/hello-hard"; ok $? "with the program's content"
is "$(readlink "$B/usr/bin/hello-abs")" "hello" "the absolute symlink becomes relative"
[ ! -e "$B/var/log/hello.log" ]; ok $? "the %ghost file is not in the bundle"
readelf -d "$B/usr/bin/hello" | grep -q '(RPATH).*\$ORIGIN/../lib64'
ok $? "the program has an \$ORIGIN-relative DT_RPATH to lib64"
[ ! -e "$B/usr/share/glibc-test" ]; ok $? "the platform package (glibc) is not extracted"
grep -q "^libhello 1.0-1" "$B/versions.txt"; ok $? "versions.txt lists the rpm packages"
tar -tvzf "$GZ" | grep -q '^h'; [ $? -ne 0 ]; ok $? "no hard links in the tarball"

run check -c "$TMP/diracos.json" "$B"
is "$STATUS" 0 "diracos check passes"
[ "$STATUS" -eq 0 ] || diag "$OUT$ERR"

# A package whose payload was tampered with in the cache: caught.
rpmfile=$(grep -rl -m1 'hello' "$TMP/cache/sha256" | while read -r f; do
	[ "$(head -c4 "$f" | od -An -tx1 | tr -d ' ')" = "edabeedb" ] && echo "$f"; done | head -1)
printf 'X' | dd of="$rpmfile" bs=1 seek=2000 conv=notrunc 2>/dev/null
rm -rf "$TMP/out"
run bundle "$TMP/diracos.json"
like "$ERR" "in the cache .*sha256 mismatch" "a tampered rpm in the cache is a clear error"
[ ! -e "$GZ" ]; ok $? "and leaves no tarball"

# An rpm-md repository that is not there: a clear error naming it.
sed "s|\"os\"\]|\"os\", \"missing\"]|" "$TMP/diracos.json" >"$TMP/missing.json"
run bundle "$TMP/missing.json"
like "$ERR" "rpm-md repository 'http://127.0.0.1:$HTTP_PORT/missing'.*404" "a missing repository names its URL"

finish
