#!/bin/sh
# diracos packages and bundle with platform.backend "rpm": a bundle built
# entirely from rpm-md repositories made in the test (rpmbuild +
# createrepo_c, served on loopback) and from the local rpm-md repository
# the tool writes: a .src.rpm rebuilt by the tool (patched, pkgList
# filtering its -devel package out), a recipe made into an .rpm, a
# build-only recipe kept apart. gzip, xz and zstd payloads are extracted
# securely, the absolute symlink made relative, the hard link a copy, the
# %ghost file absent; the bundle passes diracos check and runs relocated.
# The build root is a Debian one (mmdebstrap) with rpm installed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mkrepo.sh"
. "$(dirname "$0")/mkrpm.sh"

if ! command -v mmdebstrap >/dev/null 2>&1 || ! command -v rpmbuild >/dev/null 2>&1; then
	echo "1..0 # SKIP mmdebstrap or rpmbuild is not installed"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (mmdebstrap --mode=root)"
	exit 0
fi
set -e

plan 42

mkrpm_init "$TMP/top"
mkrpm_glibc
mkrpm_build "$RPM_SPECS/libhello.spec" xz
mkrpm_build "$RPM_SPECS/hello.spec" zstd
mkrpm_publish "$TMP/repo/os"
httpd_start "$TMP/repo"
trap 'kill $HTTPD_PID 2>/dev/null; rm -rf "$TMP"' EXIT

# The source package the tool rebuilds, and a patch to its spec.
mkdir -p "$TMP/greet-1.0" "$TMP/patches" "$TMP/recipes" "$TMP/p/a/SPECS" "$TMP/p/b/SPECS"
cat >"$TMP/greet-1.0/greet.c" <<'C'
#include <stdio.h>
int main(void) { puts(GREETING); return 0; }
C
echo 'void greet(void);' >"$TMP/greet-1.0/greet.h"
tar czf "$TMP/greet-1.0.tar.gz" -C "$TMP" greet-1.0
mkrpm_init "$TMP/srctop"
mkrpm_srpm "$RPM_SPECS/greet.spec" "$TMP/greet-1.0.tar.gz"
cp "$RPM_SPECS/greet.spec" "$TMP/p/a/SPECS/greet.spec"
sed 's/hello from the srpm/hello from the patched srpm/' "$RPM_SPECS/greet.spec" >"$TMP/p/b/SPECS/greet.spec"
(cd "$TMP/p" && diff -u a/SPECS/greet.spec b/SPECS/greet.spec >"$TMP/patches/greet.patch") || true

cat >"$TMP/recipes/notes.sh" <<'SH'
cat >notes.c <<'C'
#include <stdio.h>
int main(void) { puts("notes from the recipe rpm"); return 0; }
C
gcc -o notes notes.c
install -D -m755 notes "$DESTDIR/usr/bin/notes"
install -d "$DESTDIR/usr/share/notes"
echo "data" >"$DESTDIR/usr/share/notes/data.txt"
SH
cat >"$TMP/recipes/gentool.sh" <<'SH'
install -d "$DESTDIR/usr/share/gentool"
echo "a build-only tool" >"$DESTDIR/usr/share/gentool/README"
SH
set +e
unset SOURCE_DATE_EPOCH
# The user's cache: build roots are made once per machine.
CACHE=${DIRACOS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diracos}

cat >"$TMP/diracos.json" <<JSON
{
  "name": "tinyrpm", "version": "1.0",
  "platform": {"backend": "rpm", "suite": "el9", "mirror": "http://127.0.0.1:$HTTP_PORT",
               "components": ["os"]},
  "distributionPackages": ["hello", "greet", "notes"],
  "workDir": "work",
  "output": {"directory": "out", "compression": ["gzip"]},
  "packages": [
    {"name": "greet", "src": "$TMP/srctop/SRPMS/greet-1.0-1.src.rpm", "pkgList": ["greet"]},
    {"name": "notes", "version": "2.0-3", "recipe": "recipes/notes.sh", "license": "MIT"},
    {"name": "gentool", "version": "1.0", "recipe": "recipes/gentool.sh", "buildOnly": true}
  ]
}
JSON

run packages "$TMP/diracos.json"
is "$STATUS" 0 "packages: the .src.rpm and the recipes build"
[ "$STATUS" -eq 0 ] || diag "$OUT$ERR"
R="$TMP/work/repo"
[ -f "$R/rpm/greet-1.0-1.x86_64.rpm" ]; ok $? "the rebuilt source package's binary package is in the local rpm repository"
[ ! -e "$R/rpm/greet-devel-1.0-1.x86_64.rpm" ]; ok $? "pkgList leaves greet-devel out"
is "$(rpm -qp --qf '%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE} %{LICENSE}' "$R/rpm/notes-2.0-3.x86_64.rpm" 2>/dev/null)" \
	"notes (none):2.0-3 MIT" "the recipe's install tree is an .rpm named after the package and its version"
rpm -qp --requires "$R/rpm/notes-2.0-3.x86_64.rpm" 2>/dev/null | grep -q '^libc.so.6'
ok $? "with rpm's automatic requirements of its ELF files"
[ -f "$R/rpm-buildonly/gentool-1.0-1.x86_64.rpm" ] && [ ! -e "$R/rpm/gentool-1.0-1.x86_64.rpm" ]
ok $? "the build-only recipe's package is kept apart"
[ -f "$R/rpm/repodata/repomd.xml" ] && [ -f "$R/rpm-buildonly/repodata/repomd.xml" ]
ok $? "createrepo_c wrote both sections' metadata"
grep -q '"rpm/greet-1.0-1.x86_64.rpm"' "$R/records/greet.json"; ok $? "the record lists the outputs"
run packages "$TMP/diracos.json"
like "$OUT" "greet: up to date" "an unchanged package is not rebuilt"
grep -q '"srcSha256"' "$R/records/greet.json"; ok $? "the .src.rpm enters the content key by its sha256"
# New content under the same file name: rebuilt.
echo '/* changed */' >>"$TMP/greet-1.0/greet.c"
tar czf "$TMP/greet-1.0.tar.gz" -C "$TMP" greet-1.0
mkrpm_srpm "$RPM_SPECS/greet.spec" "$TMP/greet-1.0.tar.gz"
run packages "$TMP/diracos.json"
like "$OUT" "greet: built" "a .src.rpm with new content is rebuilt"
like "$OUT" "notes: up to date" "and only it"

run resolve "$TMP/diracos.json"
like "$OUT" "^greet +1.0-1 .*local" "resolve takes greet from the local repository"
if printf '%s\n' "$OUT" | grep -q "^gentool"; then ok 1 "the build-only package is not in the closure"; else ok 0 "the build-only package is not in the closure"; fi

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
is "$("$B/usr/bin/hello-cap" 2>&1)" "hello from the rpm bundle" "a file with %caps is extracted as a plain file, without them"
readelf -d "$B/usr/bin/hello" | grep -q '(RPATH).*\$ORIGIN/../lib64'
ok $? "the program has an \$ORIGIN-relative DT_RPATH to lib64"
[ ! -e "$B/usr/share/glibc-test" ]; ok $? "the platform package (glibc) is not extracted"
grep -q "^libhello 1.0-1" "$B/versions.txt"; ok $? "versions.txt lists the rpm packages"
grep -q '"pkg:rpm/libhello@1.0-1?arch=x86_64"' "$B/sbom.spdx.json"; ok $? "the SBOM names rpm packages with pkg:rpm purls"
lic=$(python3 -c 'import json, sys
d = {p["name"]: p["licenseDeclared"] for p in json.load(open(sys.argv[1]))["packages"]}
print(d["hello"], "|", d["libhello"], "|", d["notes"])' "$B/sbom.spdx.json" 2>&1)
is "$lic" "MIT AND BSD-3-Clause | MIT | MIT" "the SBOM gives rpm packages their header's License, as SPDX expressions"
is "$("$B/usr/bin/greet" 2>&1)" "hello from the patched srpm" "the program rebuilt from the patched .src.rpm runs relocated"
is "$("$B/usr/bin/notes" 2>&1)" "notes from the recipe rpm" "the recipe's program runs relocated"
is "$(cat "$B/usr/share/notes/data.txt")" "data" "with its data file"
tar -tvzf "$GZ" | grep -q '^h'; [ $? -ne 0 ]; ok $? "no hard links in the tarball"

run check -c "$TMP/diracos.json" "$B"
is "$STATUS" 0 "diracos check passes"
[ "$STATUS" -eq 0 ] || diag "$OUT$ERR"

# A package whose payload was tampered with in the cache: caught.
sha=$(sha256sum "$TMP/repo/os/hello-1.0-1.x86_64.rpm" | cut -d' ' -f1)
rpmfile="$CACHE/sha256/$(echo "$sha" | cut -c1-2)/$sha"
printf 'X' | dd of="$rpmfile" bs=1 seek=2000 conv=notrunc 2>/dev/null
rm -rf "$TMP/out"
run bundle "$TMP/diracos.json"
like "$ERR" "in the cache .*sha256 mismatch" "a tampered rpm in the cache is a clear error"
[ ! -e "$GZ" ]; ok $? "and leaves no tarball"

# diracos verify checks the rpm outputs of the local repository.
# (an empty download cache: only the repository is checked)
export DIRACOS_CACHE="$TMP/nocache"
run verify "$TMP/diracos.json"
is "$STATUS" 0 "verify: the local rpm repository is whole"
printf 'X' | dd of="$R/rpm/notes-2.0-3.x86_64.rpm" bs=1 seek=500 conv=notrunc 2>/dev/null
run verify "$TMP/diracos.json"
like "$OUT$ERR" "rpm/notes-2.0-3.x86_64.rpm': sha256 differs from record 'notes'" "a damaged local .rpm is found"

# An rpm-md repository that is not there: a clear error naming it.
sed "s|\"os\"\]|\"os\", \"missing\"]|" "$TMP/diracos.json" >"$TMP/missing.json"
run bundle "$TMP/missing.json"
like "$ERR" "rpm-md repository 'http://127.0.0.1:$HTTP_PORT/missing'.*404" "a missing repository names its URL"

# A package no longer configured: its .rpm and metadata entry go.
unset DIRACOS_CACHE
grep -v '"name": "notes"' "$TMP/diracos.json" | sed 's/, "notes"\]/]/' >"$TMP/fewer.json"
run packages "$TMP/fewer.json"
like "$OUT" "notes: removed" "packages removes a package no longer configured"
[ ! -e "$R/rpm/notes-2.0-3.x86_64.rpm" ] && [ ! -e "$R/records/notes.json" ]; ok $? "its .rpm and record are gone"
zcat "$R/rpm/repodata/"*primary.xml.gz | grep -q '<name>notes</name>'; [ $? -ne 0 ]; ok $? "and the metadata no longer names it"

# Two configured packages producing the same binary package: refused.
sed "s|\"packages\": \[|\"packages\": [\n    {\"name\": \"greet-again\", \"src\": \"$TMP/srctop/SRPMS/greet-1.0-1.src.rpm\", \"pkgList\": [\"greet\"]},|" \
	"$TMP/fewer.json" >"$TMP/twice.json"
run packages "$TMP/twice.json"
like "$ERR" "binary package 'greet' is already built by the configured package 'greet" "a binary package two configured packages build is refused"

finish
