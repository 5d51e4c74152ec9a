#!/bin/sh
# The sandbox's own tests (tests/unit/test_sandbox.c: a build cannot write to
# or read from the host outside its binds, reach the network, or see or
# signal host processes; its whole process tree ends with it) run again as
# an unprivileged user: the namespaces are the user's own, no setuid helper.
# Run as root, they run as nobody (setpriv); run as a user, as that user.
. "$(dirname "$0")/lib.sh"

UNIT=$DIRACOS_SRC/build/tests/test_sandbox
if [ ! -x "$UNIT" ]; then
	echo "1..0 # SKIP $UNIT is not built"
	exit 0
fi
if [ "$(id -u)" = 0 ] && ! command -v setpriv >/dev/null 2>&1; then
	echo "1..0 # SKIP setpriv (util-linux) is not installed"
	exit 0
fi
plan 4

as_user() { # as_user CMD...: runs CMD as nobody when root, else as is
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"
	else
		"$@"
	fi
}

# Run from a folder nobody owns (the tests make their scratch folders in /tmp).
WORK=$TMP/nobody
mkdir -p "$WORK"
[ "$(id -u)" = 0 ] && chown 65534:65534 "$WORK"
chmod 755 "$TMP"

STATUS=0
(cd "$WORK" && as_user env -i PATH=/usr/bin:/bin CMOCKA_MESSAGE_OUTPUT=TAP "$UNIT") >"$TMP/out" 2>&1 || STATUS=$?
OUT=$(cat "$TMP/out")
is "$STATUS" 0 "test_sandbox passes as uid $( [ "$(id -u)" = 0 ] && echo 65534 || id -u)"
[ "$STATUS" = 0 ] || diag "$OUT"
like "$OUT" "^1\.\.1[0-9]$" "it ran its whole plan"
is "$(printf '%s\n' "$OUT" | grep -c '^not ok')" 0 "no test failed"
is "$(printf '%s\n' "$OUT" | grep -c '^ok .*# SKIP')" 0 \
	"none was skipped (user namespaces are available to the user)"
finish
