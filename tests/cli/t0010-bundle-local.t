#!/bin/sh
# diracos bundle and resolve against a real, signed Debian archive made in
# the test (gcc + dpkg-deb + gpg) and served on loopback: the closure stops
# at the platform, the bundle runs relocated with a hostile LD_LIBRARY_PATH,
# tarballs are reproducible, and hostile cases give clear errors and no
# tarball.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mkrepo.sh"
set -e

plan 27

# --- the archive: libc6 (the platform), libhello1, hello, a tool with links
mkrepo_init "$TMP/repo"
mkrepo_hello_stage
# and a library of the same soname that LD_LIBRARY_PATH will point at
cat >"$TMP/src/bad.c" <<'C'
const char *hello_text(void) { return "HIJACKED"; }
C
mkdir -p "$TMP/bad"
gcc -shared -fPIC -Wl,-soname,libhello.so.1 -o "$TMP/bad/libhello.so.1" "$TMP/src/bad.c"
ln -s /usr/bin/hello "$TMP/st/hello/usr/bin/hello-abs"
ln -s /usr/lib/nowhere "$TMP/st/hello/usr/bin/dangling"
mkdir -p "$TMP/st/hello/DEBIAN"
cat >"$TMP/st/hello/DEBIAN/postinst" <<'SH'
#!/bin/sh
update-alternatives --install /usr/bin/greet greet /usr/bin/hello 50
SH
chmod 755 "$TMP/st/hello/DEBIAN/postinst"
mkrepo_hello_debs
mkrepo_publish testsuite
mkrepo_serve

set +e
export DIRACOS_CACHE="$TMP/cache"
unset SOURCE_DATE_EPOCH

cat >"$TMP/diracos.json" <<JSON
{
  "name": "tiny", "version": "1.0",
  "platform": {"suite": "testsuite"},
  "distributionPackages": ["hello"],
  "workDir": "work",
  "environment": {"HELLO_HOME": "\$DIRACOS/usr/share"},
  "output": {"directory": "out", "compression": ["zstd", "gzip"]}
}
JSON

run resolve "$TMP/diracos.json"
is "$STATUS" 0 "resolve exits 0"
like "$OUT" "^hello +1.0-1" "hello is in the closure"
like "$OUT" "^libhello1 +1.0-1" "with the library it needs"
if printf '%s\n' "$OUT" | grep -q "^libc6 "; then ok 1 "the platform package stays out"; else ok 0 "the platform package stays out"; fi
run resolve "$TMP/diracos.json" --why libhello1
is "$OUT" "hello <- libhello1" "--why gives the chain"

run bundle "$TMP/diracos.json"
is "$STATUS" 0 "bundle exits 0"
[ "$STATUS" -eq 0 ] || diag "$ERR"
ZST="$TMP/out/tiny-1.0-x86_64.tar.zst"
GZ="$TMP/out/tiny-1.0-x86_64.tar.gz"
[ -f "$ZST" ] && [ -f "$GZ" ]; ok $? "both tarballs are written"

# Unpacked at a path never used before, with a hostile LD_LIBRARY_PATH.
mkdir -p "$TMP/elsewhere/deep"
tar -C "$TMP/elsewhere/deep" -xzf "$GZ"
B="$TMP/elsewhere/deep/tiny"
out=$(LD_LIBRARY_PATH="$TMP/bad" "$B/usr/bin/hello" 2>&1) || true
is "$out" "hello from the bundle" "the program runs by its full path, RPATH beats LD_LIBRARY_PATH"
out=$(LD_LIBRARY_PATH="$TMP/bad" sh -c ". '$B/diracosrc' && hello && echo \"\$HELLO_HOME\" && echo \"\${LD_LIBRARY_PATH:-unset}\"" 2>&1) || true
is "$out" "hello from the bundle
$B/usr/share
unset" "diracosrc sets PATH and the environment and unsets LD_LIBRARY_PATH"
is "$(readlink "$B/usr/bin/hello-abs")" "hello" "an absolute link inside the bundle becomes relative"
is "$(readlink "$B/usr/bin/greet")" "hello" "the alternative from the postinst is a relative link"
[ ! -e "$B/usr/bin/dangling" ] && [ ! -L "$B/usr/bin/dangling" ]; ok $? "a dangling link is removed"
grep -q "usr/bin/dangling" "$B/brokenLinks.txt"; ok $? "and listed in brokenLinks.txt"
readelf -d "$B/usr/bin/hello" | grep -q '(RPATH).*\$ORIGIN/../lib/x86_64-linux-gnu'
ok $? "the program has an \$ORIGIN-relative DT_RPATH"
grep -q "^hello 1.0-1" "$B/versions.txt"; ok $? "versions.txt lists the packages"
grep -q '"SPDX-2.3"' "$B/sbom.spdx.json"; ok $? "an SPDX 2.3 SBOM is written"
grep -q '"distributionPackages"' "$B/diracos.json"; ok $? "the effective configuration is stored in the bundle"
[ ! -e "$B/usr/share/libc6" ]; ok $? "the platform package is not extracted"
tar -tvzf "$GZ" | grep -q '^h'; [ $? -ne 0 ]; ok $? "no hard links in the tarball"
tar -tvzf "$GZ" | grep -Eq -- '-> /'; [ $? -ne 0 ]; ok $? "no absolute symlinks in the tarball"

# Reproducible: a second run gives byte-identical tarballs.
cp "$ZST" "$TMP/first.zst"; cp "$GZ" "$TMP/first.gz"
sleep 1
run bundle "$TMP/diracos.json"
cmp -s "$ZST" "$TMP/first.zst" && cmp -s "$GZ" "$TMP/first.gz"
ok $? "two runs give byte-identical tarballs"

# Hostile cases: each a clear error, and no tarball.
rm -rf "$TMP/out"
sed 's/"hello"\]/"hello", "nosuchpkg"]/' "$TMP/diracos.json" >"$TMP/unknown.json"
run bundle "$TMP/unknown.json"
is "$STATUS" 1 "an unknown package exits 1"
like "$ERR" "package 'nosuchpkg' is not in any repository" "and names it"

deb=$(grep -rl --include='*' -m1 '^!<arch>' "$TMP/cache/sha256" | head -1)
printf 'X' | dd of="$deb" bs=1 seek=100 conv=notrunc 2>/dev/null
run bundle "$TMP/diracos.json"
like "$ERR" "in the cache .*sha256 mismatch" "a tampered package file in the cache is a clear error"
[ ! -e "$TMP/out/tiny-1.0-x86_64.tar.zst" ]; ok $? "and leaves no tarball"

# An index that does not match the signed InRelease.
rm -rf "$TMP/cache"
printf '\n' >>"$TMP/repo/dists/testsuite/main/binary-amd64/Packages"
xz -kf "$TMP/repo/dists/testsuite/main/binary-amd64/Packages"
run bundle "$TMP/diracos.json"
like "$ERR" "index .*Packages.*(sha256|size) mismatch" "an index whose checksum does not match is a clear error"
[ ! -e "$TMP/out/tiny-1.0-x86_64.tar.zst" ]; ok $? "and leaves no tarball"

finish
