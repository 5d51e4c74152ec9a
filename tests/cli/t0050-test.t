#!/bin/sh
# diracos test on a real bundle: built from a signed loopback archive (gcc +
# dpkg-deb + gpg, as t0010), tested in minbase roots of real Debian suites.
# Those roots come from the host's Debian mirror (mmdebstrap: a download of
# about 40 MB per suite, once; later runs take them from the cache), so the
# test command runs WITHOUT the loopback archive's DIRACOS_MIRROR and
# DIRACOS_KEYRING. The rootfs cache is $DIRACOS_ROOTFS_CACHE, else the
# user's diracos cache: it is kept between runs. DIRACOS_OFFLINE=1 skips.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mkrepo.sh"
set -e

if [ -n "${DIRACOS_OFFLINE:-}" ]; then
	echo "1..0 # SKIP DIRACOS_OFFLINE is set: the test roots need the Debian mirror"
	exit 0
fi

plan 29

# --- the archive: libc6 (the platform), libhello1, hello
mkrepo_init "$TMP/repo"
mkrepo_hello_stage
mkrepo_hello_debs
mkrepo_publish testsuite
mkrepo_serve   # the bundle step's archive: dtest unsets its variables

# A script test: run with sh from the root, next to the bundle's tools.
mkdir -p "$TMP/tests"
cat >"$TMP/tests/check-env.sh" <<'SH'
# no #!, not executable: run with sh
set -e
test "$(hello)" = "hello from the bundle"
test -z "${LD_LIBRARY_PATH:-}" && test -z "${PYTHONHOME:-}" && test -z "${PYTHONPATH:-}"
case $DIRACOS in /cvmfs/diracos.test/*/tiny) ;; *) echo "DIRACOS=$DIRACOS"; exit 1 ;; esac
if touch "$DIRACOS/written" 2>/dev/null; then echo "the bundle is writable"; exit 1; fi
if touch /written 2>/dev/null; then echo "the root is writable"; exit 1; fi
echo "script ok"
SH

cat >"$TMP/diracos.json" <<JSON
{
  "name": "tiny", "version": "1.0",
  "platform": {"suite": "testsuite"},
  "distributionPackages": ["hello"],
  "workDir": "work",
  "output": {"directory": "out", "compression": ["zstd"]},
  "tests": {
    "platforms": ["bookworm"],
    "commands": ["hello", "test \\"\$(hello)\\" = 'hello from the bundle'"],
    "scripts": ["tests/check-env.sh"]
  }
}
JSON

set +e
export DIRACOS_CACHE="$TMP/cache"
unset SOURCE_DATE_EPOCH
run bundle "$TMP/diracos.json"
is "$STATUS" 0 "bundle exits 0"
[ "$STATUS" -eq 0 ] || diag "$ERR"
ZST="$TMP/out/tiny-1.0-x86_64.tar.zst"
objdump -T "$TMP/st/hello/usr/bin/hello" | grep -q 'GLIBC_2\.3[4-9]'
ok $? "hello needs glibc 2.34 or newer (so bullseye's 2.31 is below the floor)"

# diracos test: the roots come from the real mirror and a lasting cache.
ROOTFS_CACHE=${DIRACOS_ROOTFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diracos}
dtest() {
	STATUS=0
	mkdir -p "$TMP/tmpdir"
	(cd "$TMP" && env -u DIRACOS_MIRROR -u DIRACOS_SECURITY_MIRROR -u DIRACOS_KEYRING \
		DIRACOS_CACHE="$ROOTFS_CACHE" TMPDIR="$TMP/tmpdir" "$DIRACOS_BIN" test "$@") \
		>"$TMP/.stdout" 2>"$TMP/.stderr" || STATUS=$?
	OUT=$(cat "$TMP/.stdout")
	ERR=$(cat "$TMP/.stderr")
}

dtest "$ZST"
is "$STATUS" 0 "test on bookworm (from the bundle's own tests.platforms) exits 0"
[ "$STATUS" -eq 0 ] || diag "$OUT" "$ERR"
like "$OUT" "^ +bookworm" "the matrix has a bookworm column"
like "$OUT" "^hello +ok" "the command 'hello' passes"
like "$OUT" "^test \"\\\$\\(hello\\)\" = 'hello from the bundle' +ok" "the output check passes"
like "$OUT" "^script .*check-env.sh +ok" "the script passes: hostile env undone, bundle and root read-only"
like "$OUT" "glibc floor 2\.3[4-9], seen at /cvmfs/diracos\.test/[0-9a-f]{8}/tiny" \
	"the bundle is seen read-only at a path it has never seen"
like "$OUT" "test: no failures" "no failures"
[ ! -e "$TMP/work/test-logs/bookworm" ]; ok $? "the logs of passing tests are removed"
[ -z "$(ls -A "$TMP/tmpdir")" ]; ok $? "the unpacked tarball and the root instance are removed"

# Warm: the time of a whole run, with the root cached.
t0=$(date +%s%N)
dtest --json --platform bookworm "$ZST"
t1=$(date +%s%N)
diag "diracos test on bookworm, warm: $(( (t1 - t0) / 1000000 )) ms"
is "$STATUS" 0 "--json exits 0"
like "$OUT" '"failures": 0' "the JSON counts no failures"
like "$OUT" '"hello": \{' "results are keyed by platform and test"
like "$OUT" '"status": "ok"' "with a status per cell"

# A failing command, a failing import: FAIL with a kept log, exit 1.
sed -e 's|"hello", |"hello", "hello \| grep -q HIJACKED", |' \
    -e 's|"commands"|"imports": ["json"], "commands"|' "$TMP/diracos.json" >"$TMP/failing.json"
dtest -c "$TMP/failing.json" "$ZST"
is "$STATUS" 1 "a failing test exits 1"
like "$OUT" "^hello \| grep -q HIJACKED +FAIL" "the matrix says FAIL"
like "$OUT" "^import json +FAIL" "an import fails"
like "$OUT" "FAIL bookworm: import json: the bundle has no python3" "because the bundle has no python3"
log=$(printf '%s\n' "$OUT" | sed -n 's/^FAIL bookworm: hello | grep -q HIJACKED: exit status 1 (log: \(.*\))$/\1/p')
[ -n "$log" ] && [ -f "$log" ]; ok $? "the failure names its exit status and its kept log"
case $log in "$TMP/work/test-logs/bookworm/"*) ok 0 "the log is under <workDir>/test-logs/<platform>/" ;;
*) ok 1 "the log is under <workDir>/test-logs/<platform>/"; diag "log: $log" ;; esac
grep -q "grep -q HIJACKED" "$log" && grep -q "exit status 1" "$log"; ok $? "the log says what ran and how it ended"
like "$OUT" "^hello +ok" "the other tests still pass"

# bullseye (glibc 2.31) is below the floor: reported, not run, not a failure;
# trixie runs. The unpacked folder works as the BUNDLE too.
mkdir -p "$TMP/unpacked"
tar -C "$TMP/unpacked" --zstd -xf "$ZST"
dtest --platform bullseye --platform trixie "$TMP/unpacked/tiny"
is "$STATUS" 0 "bullseye below the floor and trixie passing exit 0"
[ "$STATUS" -eq 0 ] || diag "$OUT" "$ERR"
like "$OUT" "^hello +below-floor +ok" "the matrix says below-floor for bullseye and ok for trixie"
like "$OUT" "bullseye: below the glibc floor \(needs 2\.3[4-9], has 2\.31\)" "with the versions"

# Hostile or wrong input: clear errors.
dtest "$TMP/nonexistent.tar.zst"
is "$STATUS" 2 "a missing bundle exits 2"
like "$ERR" "bundle '.*nonexistent.tar.zst'" "and names it"
mkdir -p "$TMP/evil/top"
printf 'x' >"$TMP/evil/top/diracosrc"
printf 'y' >"$TMP/evil/other"
tar -C "$TMP/evil" -czf "$TMP/evil.tar.gz" top other
dtest "$TMP/evil.tar.gz"
like "$ERR" "entry 'other' is outside its one top folder" "a tarball with two top folders is refused"

finish
