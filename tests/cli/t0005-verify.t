#!/bin/sh
# diracos verify: a damaged cached file and a leftover temporary are found,
# and --fix removes them.
. "$(dirname "$0")/lib.sh"
set +e

plan 7
export DIRACOS_CACHE="$TMP/cache"
good=$(printf 'good content' | sha256sum | cut -d' ' -f1)
bad=$(printf 'original' | sha256sum | cut -d' ' -f1)
mkdir -p "$TMP/cache/sha256/${good%${good#??}}" "$TMP/cache/sha256/${bad%${bad#??}}" "$TMP/cache/tmp"
printf 'good content' >"$TMP/cache/sha256/${good%${good#??}}/$good"
run verify
is "$STATUS" 0 "a sound cache verifies"
like "$OUT" "1 files verified, 0 problems" "and counts its files"

printf 'tampered' >"$TMP/cache/sha256/${bad%${bad#??}}/$bad"
: >"$TMP/cache/tmp/partial.XXXX"
run verify
is "$STATUS" 1 "a damaged cache fails"
like "$OUT" "$bad: content does not match" "the damaged file is named"
like "$OUT" "partial.XXXX: temporary file" "the leftover temporary is named"
run verify --fix
[ ! -e "$TMP/cache/sha256/${bad%${bad#??}}/$bad" ] && [ ! -e "$TMP/cache/tmp/partial.XXXX" ]
ok $? "--fix removes both"
[ -e "$TMP/cache/sha256/${good%${good#??}}/$good" ]; ok $? "and keeps the sound file"
finish
