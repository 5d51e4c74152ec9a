#!/bin/sh
# Fuzzing in CI: scripts/fuzz builds the libFuzzer targets (tests/fuzz, clang,
# ASan+UBSan) and runs each for a short budget after replaying its
# regression inputs (every crash found so far, fixed). One check per
# target: no crash, no hang, no leak, no broken invariant.
# DIRACOS_FUZZ_TIME sets the seconds per target (default 20).
. "$(dirname "$0")/lib.sh"

targets=$(cd "$DIRACOS_SRC/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//')
plan $(($(echo "$targets" | wc -l) + 1))

STATUS=0
FUZZ_TIME=${DIRACOS_FUZZ_TIME:-20} FUZZ_BUILD=$DIRACOS_SRC/build-fuzz \
	"$DIRACOS_SRC/scripts/fuzz" >"$TMP/fuzz.out" 2>"$TMP/fuzz.err" || STATUS=$?
diag "$(cat "$TMP/fuzz.out")"

for t in $targets; do
	line=$(grep "^$t " "$TMP/fuzz.out" || true)
	# target executions exec/s regress crashes result
	set -- $line
	if [ -n "$line" ] && [ "$5" = 0 ] && [ "$2" -gt 0 ]; then
		ok 0 "$t: $2 executions, $4 regression inputs, no crash"
	else
		ok 1 "$t: ran without a crash"
		diag "${line:-not run}" "$(tail -40 "$TMP/fuzz.err")"
	fi
done
is "$STATUS" 0 "scripts/fuzz exits 0"
finish
