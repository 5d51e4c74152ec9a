#!/bin/sh
# The library under valgrind: every unit test of the plain (gcc) build run
# by memcheck, failing on any memory error and on any definite or indirect
# leak. The ASan+UBSan build checks the same code in the rest of the suite;
# valgrind also sees uninitialized reads and needs no instrumented build.
# Forked children stay under memcheck (they are checked too); exec'd
# programs (gcc, dpkg-deb, mmdebstrap...) are not traced. No test is
# excluded: the sandbox and rootfs tests run too (valgrind follows clone()
# into new namespaces).
# DIRACOS_VALGRIND_TESTS limits the run to the unit tests named there.
. "$(dirname "$0")/lib.sh"

dir=$DIRACOS_SRC/build/tests
tests=${DIRACOS_VALGRIND_TESTS:-$(cd "$dir" 2>/dev/null && find . -maxdepth 1 -name 'test_*' \
	-type f -perm -u+x | sed 's,^\./,,' | sort)}
if [ -z "$tests" ] || ! command -v valgrind >/dev/null; then
	echo "1..0 # SKIP no unit tests in $dir, or no valgrind"
	exit 0
fi
tests=$(printf "%s\n" $tests)
bin=$DIRACOS_SRC/build/src/diracos
# The command line too, on what needs no network: configurations parsed,
# inherited and printed.
commands="--help
config
config $DIRACOS_SRC/configs/python3.13.json
config --default"
plan $(($(echo "$tests" | wc -l) + $(echo "$commands" | wc -l)))

export CMOCKA_MESSAGE_OUTPUT=TAP
# ASan's options mean nothing here; a plain build reads no sanitizer variable.
unset ASAN_OPTIONS UBSAN_OPTIONS
cd "$DIRACOS_SRC"
for t in $tests; do
	STATUS=0
	timeout 1800 valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		--trace-children=no "$dir/$t" >"$TMP/$t.log" 2>&1 || STATUS=$?
	if [ "$STATUS" -eq 0 ]; then
		ok 0 "$t: no memory error, no leak under valgrind"
	else
		ok 1 "$t under valgrind (status $STATUS: 99 is a valgrind report)"
		diag "$(grep -E '^==[0-9]+==|^not ok|^# ' "$TMP/$t.log" | head -60)"
	fi
done
# A here-document, not a pipe: the loop must run in this shell to count.
while read -r args; do
	STATUS=0
	# shellcheck disable=SC2086
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		"$bin" $args </dev/null >"$TMP/cmd.log" 2>&1 || STATUS=$?
	if [ "$STATUS" -eq 0 ]; then
		ok 0 "diracos $args: no memory error, no leak under valgrind"
	else
		ok 1 "diracos $args under valgrind (status $STATUS)"
		diag "$(grep -E '^==[0-9]+==' "$TMP/cmd.log" | head -60)"
	fi
done <<EOF
$commands
EOF
finish
