#!/bin/sh
# diracos config: inheritance over three groups, and one-line errors with
# file, line and column, exit 2.
. "$(dirname "$0")/lib.sh"
set -e

plan 25

mkdir -p "$TMP/cfg"
cat >"$TMP/cfg/diracos.json" <<'JSON'
{
  "name": "mybundle",
  "version": "2.1",
  "patchDir": "mypatches",
  "excludePatterns": [".*-dbg"],
  "routineFlavour": "global",
  "packageGroups": [
    {
      "name": "bootstrap",
      "routineFlavour": "bootstrap",
      "packages": [
        {"name": "python", "recipe": "recipes/python.sh", "version": "3.13.1"},
        {"name": "lz4", "src": "lz4@trixie", "routineFlavour": "lz4's own"}
      ]
    },
    {
      "name": "utilities",
      "buildOnly": true,
      "packages": [
        {"name": "swig", "src": "swig"},
        {"name": "boost", "src": "boost1.81", "buildOnly": false, "pkgList": ["libboost-python1.81.0"]}
      ]
    },
    {
      "name": "grid",
      "patchDir": "gridpatches",
      "packages": [
        {"name": "xrootd", "src": "xrootd", "excludePatterns": []}
      ]
    }
  ]
}
JSON

run config "$TMP/cfg/diracos.json"
is "$STATUS" 0 "config on a valid file exits 0"
printf '%s\n' "$OUT" >"$TMP/eff.json"
get() { # get PACKAGE KEY: the effective value, via jq-less sed on the JSON
	"$DIRACOS_BIN" config "$TMP/cfg/diracos.json" --package "$1" |
		tr -d '\n' | sed -E "s/.*\"$2\": (\"[^\"]*\"|true|false|\[[^]]*\]).*/\1/" | tr -d ' '
}
is "$(get python routineFlavour)" '"bootstrap"' "a group option overrides the global one"
is "$(get lz4 routineFlavour)" "\"lz4'sown\"" "a package option overrides its group's"
is "$(get swig routineFlavour)" '"global"' "a global option reaches a group that does not set it"
is "$(get swig buildOnly)" 'true' "buildOnly inherited from the group"
is "$(get boost buildOnly)" 'false' "buildOnly overridden by the package"
is "$(get xrootd patchDir)" "\"$TMP/cfg/gridpatches\"" "a group's folder, made absolute"
is "$(get lz4 patchDir)" "\"$TMP/cfg/mypatches\"" "the global folder, made absolute"
is "$(get xrootd excludePatterns)" '[]' "a list overridden by an empty one"
is "$(get swig excludePatterns)" '[".*-dbg"]' "a global list inherited"
is "$(get python recipe)" "\"$TMP/cfg/recipes/python.sh\"" "the recipe path, made absolute"
like "$OUT" '"name": "mybundle"' "the bundle-level keys are printed"
like "$OUT" '"platformPackages"' "with their defaults"

run config --default
like "$OUT" '"distributionPackages"' "config --default prints the built-in configuration"
run config
is "$STATUS" 0 "config with no CONFIG takes the built-in default"

# Malformed configurations: one line, file:line:column, exit 2.
bad() { # bad DESCRIPTION EXPECTED-ERROR-REGEX JSON
	printf '%s\n' "$3" >"$TMP/bad.json"
	run config "$TMP/bad.json"
	if [ "$STATUS" -eq 2 ] && [ "$(printf '%s\n' "$ERR" | wc -l)" -eq 1 ] &&
		printf '%s\n' "$ERR" | grep -Eq -- "$2"; then
		ok 0 "$1"
	else
		ok 1 "$1"
		diag "status $STATUS" "$ERR"
	fi
}
bad "a syntax error" "bad.json:3:[0-9]+: " '{
  "name": "x",
  "version" "1"
}'
bad "a wrong type" "bad.json:2:30: 'buildOnly' must be a boolean" '{"packages": [
  {"name": "a", "buildOnly": "yes"}]}'
bad "a missing name" 'bad.json:2:3: package has no "name"' '{"packages": [
  {"src": "curl"}]}'
bad "a duplicate package name" "bad.json:3:24: duplicate package name 'a'" '{"packageGroups": [
  {"name": "g", "packages": [{"name": "a", "src": "a"}]}],
 "packages": [{"name": "a", "src": "b"}]}'
bad "src and recipe on one package" "bad.json:1:15: package 'a' has both \"src\" and \"recipe\"" \
	'{"packages": [{"name": "a", "src": "a", "recipe": "a.sh"}]}'
bad "an unknown backend" "bad.json:1:26: unknown platform.backend 'apk'" \
	'{"platform": {"backend": "apk"}}'
bad "a bundle key in a package" "bad.json:1:50: 'tests' is a bundle-level key" \
	'{"packages": [{"name": "a", "src": "a", "tests": {}}]}'

run config "$TMP/missing.json"
is "$STATUS" 2 "a missing file exits 2"
like "$ERR" "missing.json" "and names it"

run --json config "$TMP/bad.json"
like "$OUT" '"kind": "config"' "--json reports the error as JSON on stdout"

finish
