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

# shared_python: our CPython 3.13 (the "bootstrap" package group of
# configs/python3.13.json), built once per machine into a workDir that every
# test and every later run shares, since the build takes 5 to 11 minutes on
# 2 cores. The shared configuration (python.json, beside the repository's
# folder) is the shipped one cut down to that group: python3.13 alone in the
# bundle, the tests that need nothing else (standard modules, pip, python3
# and pip3 --version), no pip step. The folder is named by a hash of that
# cut-down configuration and the recipe, so checkouts with other versions of
# them do not rebuild each other's, and a change elsewhere in the shipped
# configuration (its other packages) does not rebuild Python; later calls
# find the content key unchanged and build nothing. Prints the local
# repository's path (for a test configuration's "repo"; a test that builds
# more packages copies it, cp -al, rather than adding to it); fails with the
# build's output on stderr. DIRACOS_TEST_SHARED moves the shared folder
# (default /var/tmp/diracos-tests).
shared_python() {
	_sp_cfg=$DIRACOS_SRC/configs/python3.13.json
	_sp_base=${DIRACOS_TEST_SHARED:-/var/tmp/diracos-tests}
	mkdir -p "$_sp_base" || return 1
	_sp_tmp=$(mktemp "$_sp_base/python.json.XXXXXX") || return 1
	if ! python3 - "$_sp_cfg" "$DIRACOS_SRC" >"$_sp_tmp" <<'PYEOF'; then
import json, re, sys
cfg = json.load(open(sys.argv[1]))
cfg["packageGroups"] = [g for g in cfg["packageGroups"] if g["name"] == "bootstrap"]
for g in cfg["packageGroups"]:
    for p in g["packages"]:
        p["recipe"] = p["recipe"].replace("../recipes/", sys.argv[2] + "/recipes/")
cfg["distributionPackages"] = ["python3.13"]
for k in ("pipRequirements", "pipSources", "pipBuildDependencies", "pipOptions",
          "environment", "removedFolders", "patchDir"):
    cfg.pop(k, None)
cfg["workDir"] = "@WORKDIR@"
cfg["comment"] = "Our CPython 3.13 alone: the bootstrap group of configs/python3.13.json (tests/cli/lib.sh, shared_python)"
t = cfg.get("tests", {})
t["imports"] = [m for m in t.get("imports", [])
                if m in sys.stdlib_module_names or m == "pip"]
t["commands"] = [c for c in t.get("commands", [])
                 if re.fullmatch(r"(python3[.0-9]*|pip3[.0-9]*)( -m pip)? --version", c)]
json.dump(cfg, sys.stdout, indent=2)
PYEOF
		rm -f "$_sp_tmp"
		return 1
	fi
	_sp_recipe=$DIRACOS_SRC/recipes/cpython.sh
	_sp_key=$(cat "$_sp_tmp" "$_sp_recipe" | sha256sum | cut -c1-12)
	_sp_dir=$_sp_base/python3.13-$_sp_key
	mkdir -p "$_sp_dir" &&
		sed "s|@WORKDIR@|$_sp_dir/work|" "$_sp_tmp" >"$_sp_tmp.new" &&
		mv "$_sp_tmp.new" "$_sp_dir/python.json" || { rm -f "$_sp_tmp" "$_sp_tmp.new"; return 1; }
	rm -f "$_sp_tmp"
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

# json_edit IN OUT CODE: writes OUT, the JSON of IN after the Python
# statements CODE have changed it (named c), e.g.
#   json_edit a.json b.json 'c["workDir"] = "/tmp/w"'
json_edit() {
	python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(c, open(sys.argv[2], "w"), indent=2)' "$@"
}
