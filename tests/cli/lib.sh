# TAP helpers for the end-to-end tests, which run the real binary.
# Each test script: `. "$(dirname "$0")/lib.sh"`, then `plan N`, checks, done.

: "${DIRACOS_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${DIRACOS_BIN:=$DIRACOS_SRC/build/src/diracos}"
: "${DIRACOS_HTTPD:=$DIRACOS_SRC/build/tests/httpd}"
export DIRACOS_SRC DIRACOS_BIN DIRACOS_HTTPD

TEST_N=0
TEST_FAILED=0
TMP=$(mktemp -d /tmp/diracos-cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

plan() { echo "1..$1"; }

ok() { # ok CONDITION-STATUS DESCRIPTION
	TEST_N=$((TEST_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $TEST_N - $2"
	else
		echo "not ok $TEST_N - $2"
		TEST_FAILED=$((TEST_FAILED + 1))
	fi
}

diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# run ARGS...: runs diracos, keeping stdout, stderr and the status.
run() {
	STATUS=0
	"$DIRACOS_BIN" "$@" >"$TMP/.stdout" 2>"$TMP/.stderr" || STATUS=$?
	OUT=$(cat "$TMP/.stdout")
	ERR=$(cat "$TMP/.stderr")
}

is() { # is GOT EXPECTED DESCRIPTION
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"
		diag "got:      $1" "expected: $2"
	fi
}

like() { # like TEXT PATTERN(grep -E) DESCRIPTION
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else
		ok 1 "$3"
		diag "text:    $1" "pattern: $2"
	fi
}

finish() { [ "$TEST_FAILED" -eq 0 ]; }

# shared_python: our CPython 3.13 (configs/python3.13.json), built once per
# machine into a workDir that every test and every later run shares, since
# the build takes 5 to 11 minutes on 2 cores. The folder is named by a hash
# of the configuration and its recipe, so checkouts with other versions of
# them do not rebuild each other's; later calls find the content key
# unchanged and build nothing. Prints the local repository's path (for a
# test configuration's "repo"); fails with the build's output on stderr.
# DIRACOS_TEST_SHARED moves the shared folder (default /var/tmp/diracos-tests).
shared_python() {
	_sp_cfg=$DIRACOS_SRC/configs/python3.13.json
	_sp_recipe=$(sed -n 's|.*"recipe": "\.\./\(recipes/[^"]*\)".*|\1|p' "$_sp_cfg")
	_sp_key=$(cat "$_sp_cfg" "$DIRACOS_SRC/$_sp_recipe" | sha256sum | cut -c1-12)
	_sp_dir=${DIRACOS_TEST_SHARED:-/var/tmp/diracos-tests}/python3.13-$_sp_key
	mkdir -p "$_sp_dir" || return 1
	sed -e "s|\"workDir\": \"../diracos-work\"|\"workDir\": \"$_sp_dir/work\"|" \
		-e "s|\"\.\./recipes/|\"$DIRACOS_SRC/recipes/|" \
		"$_sp_cfg" >"$_sp_dir/python.json.new" &&
		mv "$_sp_dir/python.json.new" "$_sp_dir/python.json" || return 1
	if ! flock "$_sp_dir/lock" "$DIRACOS_BIN" packages "$_sp_dir/python.json" \
		>"$_sp_dir/last.log" 2>&1; then
		tail -30 "$_sp_dir/last.log" >&2
		return 1
	fi
	echo "$_sp_dir/work/repo"
}

# need_build_roots: skips the whole test (a TAP plan of 0) unless build roots
# can be made here: mmdebstrap installed, and root (mmdebstrap --mode=root).
need_build_roots() {
	if ! command -v mmdebstrap >/dev/null 2>&1; then
		echo "1..0 # SKIP mmdebstrap is not installed"
		exit 0
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP needs root (mmdebstrap --mode=root)"
		exit 0
	fi
}

# skip_if_slow WHY: skips the whole test when DIRACOS_SKIP_SLOW=1.
skip_if_slow() {
	if [ "${DIRACOS_SKIP_SLOW:-0}" = 1 ]; then
		echo "1..0 # SKIP DIRACOS_SKIP_SLOW=1 ($1)"
		exit 0
	fi
}
