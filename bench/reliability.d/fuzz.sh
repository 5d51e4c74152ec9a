#!/bin/sh
# The fuzzing figures of the reliability benchmark (bench/reliability runs
# every bench/reliability.d/*.sh; this one also runs alone):
#   - per target: executions and executions per second in FUZZ_TIME seconds
#     (default 30) from its seed corpus, after its regression inputs;
#   - crashes found and fixed: the bugs listed in tests/fuzz/README.md,
#     and the regression inputs kept for them, per target (each an input
#     that once crashed, hung or broke an invariant, replayed on every run);
#   - crashes in this run (0 expected; the inputs go to build-fuzz/crashes).
# Exits 1 when a target crashed.
set -eu
cd "$(dirname "$0")/../.."

echo "== fuzzing (libFuzzer, ASan+UBSan; ${FUZZ_TIME:-30} s per target)"
status=0
scripts/fuzz >/tmp/diracos-fuzz-bench.$$ 2>&1 || status=$?
cat /tmp/diracos-fuzz-bench.$$
rm -f /tmp/diracos-fuzz-bench.$$

inputs=0
for d in tests/fuzz/regressions/*/; do
	[ -d "$d" ] || continue
	n=$(find "$d" -type f | wc -l)
	inputs=$((inputs + n))
	echo "regression inputs of $(basename "$d"): $n"
done
# One row per bug in the table of tests/fuzz/README.md ("Found and fixed").
bugs=$(sed -n '/^Found and fixed/,$p' tests/fuzz/README.md | grep -c '^| fuzz_' || true)
targets=$(ls tests/fuzz/fuzz_*.c | wc -l)
echo "fuzz figures: $targets targets, $bugs crashes found and fixed, $inputs regression inputs replayed on every run"
exit "$status"
