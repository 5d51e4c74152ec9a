#!/bin/sh
# Issue 3's twelve packages from the real Debian archive (bookworm), tried
# as a new user would: bundled, unpacked at a path never used before, with
# LD_LIBRARY_PATH pointing at broken copies of libssl and libcurl; every
# command runs after sourcing diracosrc, and by its full path without it.
# Two runs give byte-identical tarballs.
. "$(dirname "$0")/lib.sh"
set +e

COMMANDS="gfal2_version:davix-get --version:xrdcp --version:voms-proxy-init --version:myproxy-info --version:ldapsearch -VV:ssh -V:git --version:curl --version"
plan 25

cat >"$TMP/diracos.json" <<JSON
{
  "name": "grid", "version": "1",
  "platform": {"backend": "deb", "suite": "bookworm", "arch": "amd64"},
  "distributionPackages": [
    "gfal2", "gfal2-plugin-http", "gfal2-plugin-xrootd", "gfal2-plugin-gridftp",
    "davix", "xrootd-client", "voms-clients", "myproxy", "ldap-utils",
    "openssh-client", "git", "curl"
  ],
  "removedFolders": ["usr/share/doc", "usr/share/man", "usr/share/info",
                     "usr/share/libgcrypt20"],
  "tests": {
    "platforms": ["bookworm", "trixie"],
    "commands": ["gfal2_version", "davix-get --version", "xrdcp --version",
                 "voms-proxy-init --version", "myproxy-info --version", "ldapsearch -VV",
                 "ssh -V", "git --version", "curl --version"]
  },
  "workDir": "$TMP/work",
  "output": {"directory": "$TMP/out", "compression": ["zstd", "gzip"]}
}
JSON
export SOURCE_DATE_EPOCH=1700000000

run bundle "$TMP/diracos.json"
is "$STATUS" 0 "bundle of the twelve packages exits 0"
[ "$STATUS" -eq 0 ] || diag "$ERR"
ZST="$TMP/out/grid-1-x86_64.tar.zst"

# Broken copies of libssl and libcurl, where a host LD_LIBRARY_PATH points.
mkdir -p "$TMP/broken"
for l in libssl.so.3 libcrypto.so.3 libcurl.so.4 libcurl-gnutls.so.4; do
	printf '\177ELF broken' >"$TMP/broken/$l"
done
mkdir -p "$TMP/never/used/before"
zstd -dc "$ZST" | tar -C "$TMP/never/used/before" -xf -
B="$TMP/never/used/before/grid"

IFS=:
for c in $COMMANDS; do
	IFS=' '
	out=$(env -i PATH=/usr/bin:/bin HOME="$TMP" LD_LIBRARY_PATH="$TMP/broken" \
		sh -c ". '$B/diracosrc' && $c" 2>&1 </dev/null)
	s=$?
	ok $s "with diracosrc: $c"
	[ $s -eq 0 ] || diag "$out"
	IFS=:
done
for c in $COMMANDS; do
	IFS=' '
	set -- $c
	exe=""
	for d in usr/bin bin usr/sbin; do [ -x "$B/$d/$1" ] && exe="$B/$d/$1" && break; done
	shift
	out=$(env -i PATH=/nonexistent HOME="$TMP" LD_LIBRARY_PATH="$TMP/broken" "$exe" "$@" 2>&1 </dev/null)
	s=$?
	ok $s "by full path, nothing sourced: ${exe#$B/} $*"
	[ $s -eq 0 ] || diag "$out"
	IFS=:
done
IFS=' '

zstd -dc "$ZST" | tar -tvf - | grep -q '^h'; [ $? -ne 0 ]; ok $? "no hard link in the tarball"
zstd -dc "$ZST" | tar -tvf - | grep -Eq -- '-> /'; [ $? -ne 0 ]; ok $? "no symlink that leaves the bundle"

run check "$ZST"
is "$STATUS" 0 "diracos check passes on the tarball"
[ "$STATUS" -eq 0 ] || diag "$OUT"
run test "$ZST" --platform bookworm --platform trixie --platform bullseye
is "$STATUS" 0 "diracos test passes on bookworm and trixie"
[ "$STATUS" -eq 0 ] || diag "$OUT" "$ERR"
like "$OUT" "bullseye.*(below|floor)|below the glibc floor" "and reports bullseye as below the glibc floor"
cp "$ZST" "$TMP/first.zst"
run bundle "$TMP/diracos.json"
cmp -s "$ZST" "$TMP/first.zst"; ok $? "two runs give byte-identical tarballs"
rm -rf "$TMP/work" "$TMP/out"
finish
