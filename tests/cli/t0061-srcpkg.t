#!/bin/sh
# Distribution source packages, the real thing: lz4 rebuilt from trixie's
# sources onto bookworm ("src": "lz4@trixie") in a bookworm build root,
# only liblz4-1 and lz4 kept; the local repository holds them at trixie's
# version, `diracos resolve` takes them from there, and the bundle's lz4
# runs relocated. Then the errors: a source package whose files the archive
# lacks (HTTP 404), an unknown one, a malformed "src".
. "$(dirname "$0")/lib.sh"

need_build_roots
plan 27

config() { # config FILE WORKDIR PACKAGE-JSON
	cat >"$1" <<EOF
{"name": "lz4bundle", "version": "1", "platform": {"suite": "bookworm"},
 "workDir": "$2", "output": {"directory": "$TMP/out", "compression": ["gzip"]},
 "distributionPackages": ["lz4"],
 "packages": [$3]}
EOF
}
config "$TMP/diracos.json" "$TMP/work" \
	'{"name": "lz4", "src": "lz4@trixie", "pkgList": ["liblz4-1", "lz4"]}'
REPO="$TMP/work/repo"

# --- the build
T0=$(date +%s)
run packages "$TMP/diracos.json"
T1=$(date +%s)
is "$STATUS" 0 "lz4@trixie builds"
[ "$STATUS" = 0 ] || diag "$ERR"
diag "lz4 from trixie's sources built in $((T1 - T0)) s"
like "$OUT" "^lz4: built \([0-9]+ s\)$" "and is reported built"
is "$(grep '^Package:' "$REPO/Packages" | sort | tr '\n' ' ')" \
	"Package: liblz4-1 Package: lz4 " "the index holds liblz4-1 and lz4 only (pkgList)"
REC="$REPO/records/lz4.json"
# srcResolved's keys are sorted: its version follows its suite.
VERSION=$(sed -n '/^ *"suite": "trixie",$/{n;s/^ *"version": "\(.*\)"$/\1/p;}' "$REC")
SUITE=$(sed -n 's/^ *"suite": "\(.*\)",\{0,1\}$/\1/p' "$REC" | head -n 1)
DSC=$(sed -n 's/^ *"dsc": "\(.*\)",\{0,1\}$/\1/p' "$REC" | head -n 1)
is "$SUITE" "trixie" "the record names the suite the source came from"
like "$DSC" "^[0-9a-f]{64}$" "and the .dsc's sha256 (in the content key's inputs)"
dpkg --compare-versions "$VERSION" gt 1.9.4-1
ok $? "trixie's lz4 ($VERSION) is newer than bookworm's"
is "$(sed -n '/^Package: lz4$/,/^$/s/^Version: //p' "$REPO/Packages")" "$VERSION" \
	"lz4 has the source's version, as is"
is "$(sed -n '/^Package: liblz4-1$/,/^$/s/^Version: //p' "$REPO/Packages")" "$VERSION" \
	"and so has liblz4-1"
like "$(sed -n '/^Package: lz4$/,/^$/s/^Depends: //p' "$REPO/Packages")" \
	"liblz4-1 \(= $VERSION\)" "lz4 depends on the rebuilt liblz4-1"
LZ4_DEB="$REPO/$(sed -n '/^Package: lz4$/,/^$/s/^Filename: //p' "$REPO/Packages")"
dpkg-deb -c "$LZ4_DEB" | grep ' ./usr/bin/lz4$' >/dev/null
ok $? "the lz4 package holds ./usr/bin/lz4"
ls "$REPO"/pool/*/ | grep -q -e dbgsym -e liblz4-dev
ok $((! $?)) "no dbgsym or -dev package reached the pool"
grep -q "dpkg-buildpackage" "$REPO/records/lz4.log"
ok $? "the build log is kept with the record"
is "$(ls "$TMP/work/build" 2>/dev/null)" "" "nothing is left in the build folder"

# --- nothing changed: nothing is rebuilt
T0=$(date +%s)
run packages "$TMP/diracos.json"
T1=$(date +%s)
is "$OUT" "lz4: up to date" "the second run rebuilds nothing"
[ $((T1 - T0)) -le 10 ]
ok $? "and is quick ($((T1 - T0)) s, the Sources index read again)"

# --- resolve prefers the local repository
run resolve "$TMP/diracos.json"
is "$STATUS" 0 "resolve succeeds"
like "$OUT" "^lz4 +$VERSION .* local$" "lz4 comes from the local repository"
like "$OUT" "^liblz4-1 +$VERSION .* local$" "and so does liblz4-1"

# --- the bundle's lz4 runs relocated
run bundle "$TMP/diracos.json"
is "$STATUS" 0 "bundle succeeds"
[ "$STATUS" = 0 ] || diag "$ERR"
mkdir -p "$TMP/unpacked"
tar xzf "$TMP/out/lz4bundle-1-x86_64.tar.gz" -C "$TMP/unpacked" 2>/dev/null
mv "$TMP/unpacked/lz4bundle" "$TMP/elsewhere"
like "$(env -i "$TMP/elsewhere/usr/bin/lz4" --version 2>&1)" "lz4 v${VERSION%%-*}" \
	"the bundle's lz4 runs from a new place, at the rebuilt version"
is "$(echo hello | env -i "$TMP/elsewhere/usr/bin/lz4" -z | env -i "$TMP/elsewhere/usr/bin/lz4" -d)" \
	"hello" "and round-trips data"

# --- a source whose files the archive lacks: the URL and the 404
config "$TMP/e404.json" "$TMP/work-e" '{"name": "requests", "src": "requests@bookworm"}'
run packages "$TMP/e404.json"
is "$STATUS" 1 "a source file answering 404 fails the build"
like "$ERR" "package 'requests': source package 'requests' [^ ]+ \(bookworm\): file '[^']+' from http[^ ]*/pool/main/r/requests/[^ ]+: HTTP 404" \
	"the error names the package, the source, the URL and the status"

# --- an unknown source package, a malformed src
config "$TMP/e-unknown.json" "$TMP/work-e" '{"name": "x", "src": "nosuch-srcpkg@trixie"}'
run packages "$TMP/e-unknown.json"
is "$STATUS" 1 "an unknown source package fails"
is "$ERR" "diracos: package 'x': source package 'nosuch-srcpkg' is not in the Sources index of 'trixie' (main)" \
	"and the error says where it was looked for"
config "$TMP/e-bad.json" "$TMP/work-e" '{"name": "x", "src": "lz4@tri/xie"}'
run packages "$TMP/e-bad.json"
is "$STATUS" 2 "a malformed src is a configuration error"
like "$ERR" "\"src\" 'lz4@tri/xie': the suite is not a suite name; expected NAME\[=VERSION\]\[@SUITE\]" \
	"naming the text and the part"

finish
