#!/bin/sh
# kill -9 of diracos during the download, the extraction and the packing of
# a bundle, and during a recipe build in the sandbox: no file under a final
# name is partial, the cache and the repository stay consistent (diracos
# verify), no process of the build survives, and a rerun completes with the
# same tarball, byte for byte, as an undisturbed run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mkrepo.sh"
set -e

ORIG_CACHE=${DIRACOS_CACHE:-}   # the machine's cache, for its build roots
BUILD=1
if ! command -v mmdebstrap >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
	BUILD=0   # the build part needs mmdebstrap and root, as t0060 does
fi
plan $((23 + BUILD * 10))

# --- a loopback archive with one package big enough for each stage to take
# a moment: 20 MB that does not compress and 8000 small files.
mkrepo_init "$TMP/repo"
mkdir -p "$TMP/st/libc6/usr/share/libc6" "$TMP/st/big/usr/share/big"
echo platform >"$TMP/st/libc6/usr/share/libc6/marker"
head -c 20000000 /dev/urandom >"$TMP/st/big/usr/share/big/blob"
(
	cd "$TMP/st/big/usr/share/big"
	for d in $(seq 0 7); do
		mkdir "d$d"
		for f in $(seq 0 999); do echo "$d $f" >"d$d/f$f"; done
	done
)
mkrepo_deb libc6 2.36-9 "" "$TMP/st/libc6"
mkrepo_deb big 1.0-1 "" "$TMP/st/big" "-Zgzip -z1"   # xz would take long over 20 MB of noise
mkrepo_publish testsuite

RULES="$TMP/rules"
LOG="$TMP/httpd.log"
mkrepo_serve --rules "$RULES" --log "$LOG"
trap 'kill $HTTPD_PID 2>/dev/null; [ -n "$TOOL" ] && kill -9 $TOOL 2>/dev/null; rm -rf "$TMP"' EXIT

set +e
export DIRACOS_CACHE="$TMP/cache"
unset SOURCE_DATE_EPOCH
cat >"$TMP/diracos.json" <<JSON
{
  "name": "killed", "version": "1.0",
  "platform": {"suite": "testsuite"},
  "distributionPackages": ["big"],
  "workDir": "work",
  "output": {"directory": "out", "compression": ["gzip"]}
}
JSON
TARBALL="$TMP/out/killed-1.0-x86_64.tar.gz"

# The reference: an undisturbed run (then its work folder, output and
# cache go: each case below starts from nothing).
"$DIRACOS_BIN" -v bundle "$TMP/diracos.json" >/dev/null 2>"$TMP/ref.err"
ok $? "an undisturbed run makes the reference tarball"
diag "$(grep -E '^debug: [a-z]+: [0-9.]+ s$' "$TMP/ref.err" | tr '\n' ' ')"
REF="$TMP/reference.tar.gz"
mv "$TARBALL" "$REF"
rm -rf "$TMP/work" "$TMP/out" "$TMP/cache"

# start: diracos bundle -v in the background (TOOL: its pid; its stderr in
# $TMP/bg.err).
start() {
	: >"$TMP/bg.err"
	"$DIRACOS_BIN" -v bundle "$TMP/diracos.json" >/dev/null 2>"$TMP/bg.err" &
	TOOL=$!
}

# wait_for CMD...: polls CMD every 20 ms for up to 60 s.
wait_for() {
	for _ in $(seq 3000); do
		"$@" && return 0
		kill -0 "$TOOL" 2>/dev/null || return 1
		sleep 0.02
	done
	return 1
}

in_err() { grep -q "$1" "$TMP/bg.err"; }
downloading() { grep -q "^GET .*/big_1.0-1_amd64.deb" "$LOG"; }

# killed STAGE: kills the tool, then the checks of a consistent state.
killed() {
	kill -9 "$TOOL"
	wait "$TOOL" 2>/dev/null
	TOOL=
	[ ! -e "$TARBALL" ]; ok $? "$1: no tarball under its final name"
	run verify
	is "$STATUS" 0 "$1: the cache verifies after the kill"
	[ "$STATUS" -eq 0 ] || diag "$OUT"
}

# rerun STAGE: the rerun completes and gives the reference.
rerun() {
	run bundle "$TMP/diracos.json"
	is "$STATUS" 0 "$1: the rerun completes"
	[ "$STATUS" -eq 0 ] || diag "$ERR"
	cmp -s "$TARBALL" "$REF"; ok $? "$1: and gives the reference tarball, byte for byte"
	is "$(ls -A "$TMP/out")" "$(basename "$TARBALL")" "$1: the output folder holds the tarball only"
	run verify
	is "$STATUS" 0 "$1: the cache verifies after the rerun"
	[ "$STATUS" -eq 0 ] || diag "$OUT"
}

# --- during the download (the server sends 1 KiB each 50 ms)
printf '*/big_*.deb slow\n' >"$RULES"
: >"$LOG"
start
wait_for downloading && sleep 0.5
ok $? "download: the tool is downloading the package"
killed download
rm -f "$RULES"
rerun download

# --- during the extraction (after the download lap, before the extract one)
rm -rf "$TMP/out" "$TMP/work"
start
wait_for in_err "download: [0-9.]* s"
in_err "extract: [0-9.]* s"; [ $? -ne 0 ]; ok $? "extract: the tool is extracting"
killed extract
rerun extract

# --- during the packing
rm -rf "$TMP/out"
start
wait_for in_err "finalize: [0-9.]* s"
in_err "pack: [0-9.]* s"; [ $? -ne 0 ]; ok $? "pack: the tool is packing"
killed pack
[ -z "$(ls -A "$TMP/out" 2>/dev/null)" ]; ok $? "pack: nothing is left in the output folder"
rerun pack

kill "$HTTPD_PID"
[ "$BUILD" -eq 1 ] || { finish; exit; }

# --- during a recipe build in the sandbox. The build roots are the
# machine's (shared with the other tests, as in t0060); the rest of the
# cache is this test's.
unset DIRACOS_MIRROR DIRACOS_SECURITY_MIRROR DIRACOS_KEYRING
# As dos_cache_default_dir: DIRACOS_CACHE, else XDG_CACHE_HOME, else HOME.
case "${XDG_CACHE_HOME:-}" in /*) XDG=$XDG_CACHE_HOME ;; *) XDG=$HOME/.cache ;; esac
SHARED_CACHE=${ORIG_CACHE:-$XDG/diracos}
mkdir -p "$SHARED_CACHE/rootfs" "$TMP/bcache"
ln -s "$SHARED_CACHE/rootfs" "$TMP/bcache/rootfs"
export DIRACOS_CACHE="$TMP/bcache"
mkdir -p "$TMP/recipes"
# The nap's length marks the processes of the build: 6.4242 seconds.
cat >"$TMP/recipes/sleepy.sh" <<'SH'
echo napping
sleep 6.4242 &
sleep 6.4242
wait
mkdir -p "$DESTDIR/usr/share/sleepy"
echo awake >"$DESTDIR/usr/share/sleepy/state"
SH
cat >"$TMP/build.json" <<EOF
{"name": "sleepy", "version": "1", "platform": {"suite": "bookworm"},
 "workDir": "$TMP/bwork", "output": {"directory": "$TMP/bout", "compression": ["gzip"]},
 "distributionPackages": [],
 "packages": [{"name": "sleepy", "version": "1.0", "recipe": "recipes/sleepy.sh"}]}
EOF
napping() { grep -l '6\.424[2]' /proc/[0-9]*/cmdline >/dev/null 2>&1; }

"$DIRACOS_BIN" packages "$TMP/build.json" >/dev/null 2>"$TMP/bg.err" &
TOOL=$!
wait_for napping
st=$?
ok $st "build: the recipe is running in the sandbox"
[ $st -eq 0 ] || diag "$(tail -5 "$TMP/bg.err")"
kill -9 "$TOOL"
wait "$TOOL" 2>/dev/null
TOOL=
gone=1
for _ in $(seq 50); do napping || { gone=0; break; }; sleep 0.1; done
ok $gone "build: no process of the build survives the kill"
# The build root's overlay lives in diracos's own mount namespace: the
# kill takes it away, no rerun needed.
mount | grep -q " $TMP/"; [ $? -ne 0 ]; ok $? "build: the kill leaves no mount behind"
[ ! -s "$TMP/bwork/repo/Packages" ] && [ -z "$(find "$TMP/bwork/repo" -name '*.deb')" ]
ok $? "build: nothing is published"
run verify "$TMP/build.json"
is "$STATUS" 0 "build: the repository and the cache verify after the kill"
[ "$STATUS" -eq 0 ] || diag "$OUT" "$ERR"

run packages "$TMP/build.json"
is "$STATUS" 0 "build: the rerun completes"
[ "$STATUS" -eq 0 ] || diag "$ERR"
like "$OUT" "^sleepy: built" "build: and builds the package"
run verify "$TMP/build.json"
is "$STATUS" 0 "build: the repository and the cache verify after the rerun"
[ "$STATUS" -eq 0 ] || diag "$OUT" "$ERR"
DEB=$(find "$TMP/bwork/repo/pool" -name 'sleepy_*.deb')
cp "$DEB" "$TMP/first.deb"
run packages "$TMP/build.json" --force sleepy
cmp -s "$(find "$TMP/bwork/repo/pool" -name 'sleepy_*.deb')" "$TMP/first.deb"
ok $? "build: the package is the same, byte for byte, as an undisturbed build's"
mount | grep -q " $TMP/"; [ $? -ne 0 ]; ok $? "build: no mount is left under the test's folder"
finish
