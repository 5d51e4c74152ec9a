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
