#!/bin/sh
# The command line: help, version, the command table, exit statuses.
. "$(dirname "$0")/lib.sh"
set -e

COMMANDS="build packages bundle resolve config check test extension shell fix-pip-versions verify"
plan 30

run --help
is "$STATUS" 0 "--help exits 0"
for c in $COMMANDS; do
	printf '%s\n' "$OUT" | grep -Eq "^  $c " || { ok 1 "--help lists $c"; continue; }
	ok 0 "--help lists $c"
done

for c in $COMMANDS; do
	run "$c" --help
	if [ "$STATUS" -eq 0 ] && printf '%s\n' "$OUT" | grep -q "^usage: diracos $c"; then
		ok 0 "$c --help prints its usage"
	else
		ok 1 "$c --help prints its usage"
		diag "status $STATUS" "$OUT" "$ERR"
	fi
done

run --version
like "$OUT" '^diracos [0-9]+\.[0-9]+' "--version prints the version"

run frobnicate
is "$STATUS" 2 "an unknown command exits 2"
like "$ERR" "'frobnicate' is not a diracos command" "and names it"

run --no-such-option
is "$STATUS" 2 "an unknown global option exits 2"

run -j zero config
is "$STATUS" 2 "a bad -j value exits 2"

run extension
is "$STATUS" 2 "extension without its CONFIG exits 2"
like "$ERR" "extension: takes one CONFIG" "and says so"

finish
