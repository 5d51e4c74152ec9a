#!/bin/sh
# Download faults: the loopback server (tests/helpers/httpd --rules) fails
# with 500 or 404, stalls, truncates, serves wrong bytes or is merely slow,
# per path, on a small signed archive. Transient faults are retried and the
# bundle is the same, byte for byte, as with a sound server; lasting ones
# end in a clear error naming the file and the cause, after the retries,
# with no tarball; and the cache holds only verified files (diracos verify).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mkrepo.sh"
set -e

plan 70

mkrepo_init "$TMP/repo"
mkdir -p "$TMP/st/libc6/usr/share/libc6" "$TMP/st/big/usr/share/big" "$TMP/st/small/usr/share/small"
echo platform >"$TMP/st/libc6/usr/share/libc6/marker"
head -c 100000 /dev/urandom >"$TMP/st/big/usr/share/big/blob"   # incompressible: ~100 KB .deb
echo small >"$TMP/st/small/usr/share/small/README"
mkrepo_deb libc6 2.36-9 "" "$TMP/st/libc6"
mkrepo_deb big 1.0-1 "small" "$TMP/st/big"
mkrepo_deb small 1.0-1 "" "$TMP/st/small"
mkrepo_publish testsuite

RULES="$TMP/rules"
LOG="$TMP/httpd.log"
mkrepo_serve --rules "$RULES" --log "$LOG"

set +e
export DIRACOS_STALL_TIMEOUT=2
unset SOURCE_DATE_EPOCH
cat >"$TMP/diracos.json" <<JSON
{
  "name": "faults", "version": "1.0",
  "platform": {"suite": "testsuite"},
  "distributionPackages": ["big"],
  "workDir": "work",
  "output": {"directory": "out", "compression": ["gzip"]}
}
JSON
TARBALL="$TMP/out/faults-1.0-x86_64.tar.gz"
DEB=big_1.0-1_amd64.deb

# rules LINE...: the server's fault rules from now on (written atomically).
rules() {
	printf '%s\n' "$@" >"$RULES.new" && mv "$RULES.new" "$RULES"
}

# attempt NAME: a bundle with a fresh cache (all downloaded again) and an
# empty request log; GETS is then the number of requests for the .deb.
N=0
attempt() {
	N=$((N + 1))
	export DIRACOS_CACHE="$TMP/cache-$N"
	rm -rf "$TMP/out"
	: >"$LOG"
	run bundle "$TMP/diracos.json"
	GETS=$(grep -c "^GET .*/$DEB " "$LOG")
}

# cache_sound: diracos verify finds every cached file whole and no temporary.
cache_sound() {
	run verify
	[ "$STATUS" -eq 0 ] && printf '%s\n' "$OUT" | grep -q ", 0 problems" && return 0
	diag "$OUT" "$ERR"
	return 1
}

# deb_cached: the package file is in the cache (under its digest).
DEB_SHA=$(sha256sum "$TMP/repo/pool/main/$DEB" | cut -d' ' -f1)
deb_cached() {
	[ -e "$DIRACOS_CACHE/sha256/${DEB_SHA%"${DEB_SHA#??}"}/$DEB_SHA" ]
}

SURVIVED=0 TRIED=0
# survived NAME FAILED-BEFORE: counts a fault case whose checks all passed.
survived() {
	TRIED=$((TRIED + 1))
	[ "$TEST_FAILED" -eq "$2" ] && SURVIVED=$((SURVIVED + 1))
}

# --- a sound server: the reference tarball
rules "# none"
attempt
is "$STATUS" 0 "with a sound server the bundle is made"
[ "$STATUS" -eq 0 ] || diag "$ERR"
cp "$TARBALL" "$TMP/reference.tar.gz"
is "$GETS" 1 "with one request for the package file"

# transient CASE RULE EXPECTED-GETS: the fault lapses; the bundle is made
# after retries and is the reference.
transient() {
	_f=$TEST_FAILED
	rules "$2"
	attempt
	is "$STATUS" 0 "$1 then sound: the bundle is made"
	[ "$STATUS" -eq 0 ] || diag "$ERR"
	cmp -s "$TARBALL" "$TMP/reference.tar.gz"; ok $? "$1 then sound: the tarball is the reference"
	is "$GETS" "$3" "$1 then sound: $3 requests for the package file"
	cache_sound; ok $? "$1 then sound: the cache verifies"
	survived "$1" "$_f"
}

# lasting CASE RULE PATTERN EXPECTED-GETS: the fault stays; a clear error,
# no tarball, a sound cache without the package file.
lasting() {
	_f=$TEST_FAILED
	rules "$2"
	attempt
	is "$STATUS" 1 "$1: the bundle fails"
	like "$ERR" "$3" "$1: the error names the file and the cause"
	[ ! -e "$TARBALL" ]; ok $? "$1: no tarball"
	[ -z "$4" ] || is "$GETS" "$4" "$1: $4 requests for the package file"
	cache_sound; ok $? "$1: the cache verifies"
	deb_cached; [ $? -ne 0 ]; ok $? "$1: the package file is not in the cache"
	survived "$1" "$_f"
}

F="package file '$DEB' from http://127.0.0.1:$HTTP_PORT/pool/main/$DEB"
transient "HTTP 500 twice" "*/big_*.deb 500 2" 3
lasting "HTTP 500" "*/big_*.deb 500" "$F: HTTP 500 \(after 3 tries\)" 3
lasting "HTTP 404" "*/big_*.deb 404" "$F: HTTP 404$" 1
transient "a stall" "*/big_*.deb stall 1" 2
lasting "stalls" "*/big_*.deb stall" "$F: stalled: no data for 2 seconds \(after 3 tries\)" 3
transient "a truncated body" "*/big_*.deb truncate 1" 2
lasting "truncated bodies" "*/big_*.deb truncate" "$F: .*\(after 3 tries\)" 3
transient "wrong bytes" "*/big_*.deb corrupt 1" 2
lasting "wrong bytes always" "*/big_*.deb corrupt" "$F: sha256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\)" 2

# A slow server that keeps sending is not a stall (1 KiB each 50 ms: about
# 5 seconds, longer than DIRACOS_STALL_TIMEOUT).
transient "a slow server" "*/big_*.deb slow" 1

# The index files.
lasting "InRelease HTTP 500" "*/InRelease 500" "InRelease.*HTTP 500 \(after 3 tries\)" ""
lasting "a stalled InRelease" "*/InRelease stall" "InRelease.*stalled: no data for 2 seconds" ""
lasting "a wrong Packages index" "*/Packages* corrupt" "Packages.*(sha256|size) mismatch" ""

# After all of this, a sound server and the cache of a failed attempt: the
# bundle completes and is the reference.
rules "# none"
rm -rf "$TMP/out"
run bundle "$TMP/diracos.json"
is "$STATUS" 0 "a rerun against a sound server completes, with a cache left by failures"
cmp -s "$TARBALL" "$TMP/reference.tar.gz"; ok $? "and gives the reference tarball"
cache_sound; ok $? "and the cache verifies"

# Read by bench/reliability.
echo "# figures: fault cases tried $TRIED, survived with nothing lost $SURVIVED"
finish
