#!/bin/sh
# A full disk: the cache, the work folder and the output folder, each in
# turn on a small tmpfs. Each run fails with a clear error (the cause and
# the path), nothing corrupt or partial is left (diracos verify, no
# tarball, the tmpfs holds nothing but whole files), and once the tmpfs is
# made bigger a rerun completes with the same tarball as an undisturbed run.
#
# The test runs in its own mount namespace: its mounts go with it.
if [ -z "${DOS_T0093_NS:-}" ]; then
	if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1 ||
	   ! unshare -m --propagation private true 2>/dev/null; then
		echo "1..0 # SKIP needs root and mount namespaces (tmpfs mounts)"
		exit 0
	fi
	DOS_T0093_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mkrepo.sh"
set -e

plan 23

# A package of 12 MB that does not compress, and some small files.
mkrepo_init "$TMP/repo"
mkdir -p "$TMP/st/libc6/usr/share/libc6" "$TMP/st/big/usr/share/big"
echo platform >"$TMP/st/libc6/usr/share/libc6/marker"
head -c 12000000 /dev/urandom >"$TMP/st/big/usr/share/big/blob"
for f in $(seq 1 50); do echo "$f" >"$TMP/st/big/usr/share/big/f$f"; done
mkrepo_deb libc6 2.36-9 "" "$TMP/st/libc6"
mkrepo_deb big 1.0-1 "" "$TMP/st/big"
mkrepo_publish testsuite
mkrepo_serve
trap 'kill $HTTPD_PID 2>/dev/null; umount "$TMP/small" 2>/dev/null; rm -rf "$TMP"' EXIT

set +e
unset SOURCE_DATE_EPOCH
SMALL="$TMP/small"
mkdir -p "$SMALL"

# The configuration, in $TMP/c with the work and output folders beside it:
# always the same place, since the bundle holds the effective configuration
# (absolute paths included). Each case makes work/ or out/ a symlink to the
# small tmpfs.
C="$TMP/c"
mkdir -p "$C"
cat >"$C/diracos.json" <<JSON
{
  "name": "full", "version": "1.0",
  "platform": {"suite": "testsuite"},
  "distributionPackages": ["big"],
  "workDir": "work",
  "output": {"directory": "out", "compression": ["gzip"]}
}
JSON
TARBALL="$C/out/full-1.0-x86_64.tar.gz"
fresh() { rm -rf "$C/work" "$C/out"; }

# The reference, with room everywhere.
DIRACOS_CACHE="$TMP/refcache" run bundle "$C/diracos.json"
is "$STATUS" 0 "with room, the bundle is made"
[ "$STATUS" -eq 0 ] || diag "$ERR"
REF="$TMP/reference.tar.gz"
mv "$TARBALL" "$REF"
fresh

# small SIZE: a fresh tmpfs of SIZE at $SMALL.
small() {
	umount "$SMALL" 2>/dev/null
	mount -t tmpfs -o "size=$1" tmpfs "$SMALL"
}
grow() { mount -o remount,size=256m "$SMALL"; }

# same_as_ref TARBALL DESCRIPTION: byte for byte the reference (else the
# differences, as a diagnostic).
same_as_ref() {
	if cmp -s "$1" "$REF"; then ok 0 "$2"; return; fi
	ok 1 "$2"
	rm -rf "$TMP/x" && mkdir -p "$TMP/x/ref" "$TMP/x/got"
	tar -C "$TMP/x/ref" -xzf "$REF" && tar -C "$TMP/x/got" -xzf "$1"
	diag "$(diff -r "$TMP/x/ref" "$TMP/x/got" | head -20)"
}

# whole_files DIR: every file under DIR is a whole one: no temporary of
# ours ('.NAME.tmp-*') is left.
whole_files() {
	[ -z "$(find "$1" -name '.*.tmp-*')" ]
}

# --- the cache is full: the download fails
small 4m
fresh
export DIRACOS_CACHE="$SMALL/cache"
run bundle "$C/diracos.json"
is "$STATUS" 1 "cache: a full disk fails the bundle"
like "$ERR" "package file 'big_1.0-1_amd64.deb'.*cannot write into '$SMALL/cache/tmp': No space left on device" \
	"cache: the error names the file, the folder and the cause"
[ ! -e "$TARBALL" ]; ok $? "cache: no tarball"
run verify
is "$STATUS" 0 "cache: the cache verifies (no partial file)"
whole_files "$SMALL"; ok $? "cache: no temporary is left"
grow
run bundle "$C/diracos.json"
is "$STATUS" 0 "cache: with room, the rerun completes"
same_as_ref "$TARBALL" "cache: and gives the reference tarball"

# --- the work folder is full: the extraction fails
small 6m
fresh
mkdir "$SMALL/work" && ln -s "$SMALL/work" "$C/work"
export DIRACOS_CACHE="$TMP/cache2"
run bundle "$C/diracos.json"
is "$STATUS" 1 "work: a full disk fails the bundle"
like "$ERR" "package 'big'.*entry 'usr/share/big/blob'.*No space left on device" \
	"work: the error names the package, the entry and the cause"
like "$ERR" "staging tree '$C/work/bundle/full'" "work: and the folder"
[ ! -e "$TARBALL" ]; ok $? "work: no tarball"
run verify
is "$STATUS" 0 "work: the cache verifies"
grow
run bundle "$C/diracos.json"
is "$STATUS" 0 "work: with room, the rerun completes"
[ "$STATUS" -eq 0 ] || diag "$ERR"
same_as_ref "$TARBALL" "work: and gives the reference tarball"

# --- the output folder is full: the packing fails
small 6m
fresh
mkdir "$SMALL/out" && ln -s "$SMALL/out" "$C/out"
export DIRACOS_CACHE="$TMP/cache3"
run bundle "$C/diracos.json"
is "$STATUS" 1 "output: a full disk fails the bundle"
like "$ERR" "tarball '$C/out/full-1.0-x86_64.tar.gz': cannot write: No space left on device" \
	"output: the error names the tarball and the cause"
[ ! -e "$TARBALL" ]; ok $? "output: no tarball under its final name"
whole_files "$SMALL"; ok $? "output: no temporary is left"
is "$(df --output=used -k "$SMALL" | tail -1 | tr -d ' ')" 0 "output: the space is given back"
grow
run bundle "$C/diracos.json"
is "$STATUS" 0 "output: with room, the rerun completes"
[ "$STATUS" -eq 0 ] || diag "$ERR"
same_as_ref "$TARBALL" "output: and gives the reference tarball"
run verify
is "$STATUS" 0 "output: the cache verifies"
umount "$SMALL"
finish
