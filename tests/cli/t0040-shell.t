#!/bin/sh
# diracos shell, the real thing: a bookworm build root made by mmdebstrap
# from the host's mirror (about a minute and ~100 MB the first time; the
# cache makes later runs fast), a shell reading its commands from stdin,
# its exit status, no network unless asked, nothing left behind.
. "$(dirname "$0")/lib.sh"

need_build_roots
plan 12

cat >"$TMP/cfg.json" <<EOF
{"name": "shell-test", "version": "1", "platform": {"suite": "bookworm"},
 "workDir": "$TMP/work"}
EOF
MARK="diracos-shell-test-$$"

run shell --help
is "$STATUS" 0 "shell --help exits 0"
like "$OUT" "--network" "and tells about --network"

# The mirror's host name, read inside from the sources diracos wrote.
PROBE='host=$(sed -n "s|^deb [a-z]*://\([^/:]*\).*|\1|p" /etc/apt/sources.list.d/diracos-debian.list)
getent hosts "$host" >/dev/null && echo resolved || echo unresolved
echo "interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\n" " ")"'

STATUS=0
"$DIRACOS_BIN" shell "$TMP/cfg.json" >"$TMP/out" 2>"$TMP/err" <<EOF || STATUS=$?
echo inside
cat /etc/debian_version
echo x > /tmp/$MARK
$PROBE
exit 3
EOF
OUT=$(cat "$TMP/out")
is "$STATUS" 3 "the shell's exit status is diracos's"
[ "$STATUS" = 3 ] || diag "$(cat "$TMP/err")"
like "$OUT" "^inside$" "the shell read its commands from stdin"
like "$OUT" "^12\.[0-9]+$" "the root is bookworm"
like "$OUT" "^unresolved$" "no name resolution inside"
like "$OUT" "^interfaces: lo $" "only the loopback interface inside"
test ! -e "/tmp/$MARK"
ok $? "a file written in the shell's /tmp is not on the host"
is "$(ls "$TMP/work" | grep -c '^shell-')" 0 "the build root is removed at exit"

STATUS=0
"$DIRACOS_BIN" shell --network "$TMP/cfg.json" >"$TMP/out" 2>"$TMP/err" <<EOF || STATUS=$?
$PROBE
EOF
OUT=$(cat "$TMP/out")
is "$STATUS" 0 "shell --network exits 0"
like "$OUT" "^resolved$" "--network: the mirror's host name resolves"
like "$OUT" "^interfaces: .*[^ ] .*[^ ]" "--network: the host's interfaces are there"

finish
