#!/bin/sh
# diracos resolve with platform.backend "rpm" over an rpm-md repository
# made in the test (rpmbuild + createrepo_c, served on loopback): the
# closure dnf would install for a small case with epochs, rpm's version
# order (1.10 > 1.9, 2.0~rc1 < 2.0), a versioned virtual provide and a
# rich dependency, each choice checked against rpm's own rpm.vercmp.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mkrepo.sh"
. "$(dirname "$0")/mkrpm.sh"
set -e

plan 18

mkrpm_init "$TMP/top"
mkrpm_glibc
mkrpm_meta tool 1.0-1 "Requires: libepoch >= 1:1.0" "Requires: webserver >= 2" \
	"Requires: ver" "Requires: pre" "Requires: (richa >= 2 or richb)" "Requires: glibc"
mkrpm_meta libepoch 2.0-1
mkrpm_meta libepoch 1:1.0-1
mkrpm_meta httpd-lite 3.0-1 "Provides: webserver = 1"
mkrpm_meta nginx-ish 1.0-1 "Provides: webserver = 2.5"
mkrpm_meta ver 1.9-1
mkrpm_meta ver 1.10-1
mkrpm_meta pre 2.0~rc1-1
mkrpm_meta pre 2.0-1
mkrpm_meta richa 1.0-1
mkrpm_meta richb 1.0-1
mkrpm_publish "$TMP/repo/os"
httpd_start "$TMP/repo"
trap 'kill $HTTPD_PID 2>/dev/null; rm -rf "$TMP"' EXIT
set +e
export DIRACOS_CACHE="$TMP/cache"

# rpm's own comparison, for each choice the closure makes.
vercmp() { rpm --eval "%{lua: print(rpm.vercmp('$1', '$2'))}"; }
is "$(vercmp 1:1.0-1 2.0-1)" 1 "rpm: an epoch beats a higher version"
is "$(vercmp 1.10-1 1.9-1)" 1 "rpm: 1.10 is newer than 1.9"
is "$(vercmp 2.0~rc1-1 2.0-1)" -1 "rpm: 2.0~rc1 is older than 2.0"

cat >"$TMP/diracos.json" <<JSON
{
  "name": "r", "version": "1",
  "platform": {"backend": "rpm", "mirror": "http://127.0.0.1:$HTTP_PORT", "components": ["os"]},
  "distributionPackages": ["tool"],
  "workDir": "work"
}
JSON

run resolve "$TMP/diracos.json"
is "$STATUS" 0 "resolve exits 0"
[ "$STATUS" -eq 0 ] || diag "$ERR"
names=$(printf '%s\n' "$OUT" | awk 'NF >= 2 && $2 ~ /[0-9]/ { print $1 " " $2 }')
is "$names" "libepoch 1:1.0-1
nginx-ish 1.0-1
pre 2.0-1
richb 1.0-1
tool 1.0-1
ver 1.10-1" "the closure is dnf's: epoch, vercmp, virtual provide, rich dependency"
like "$OUT" "^libepoch +1:1.0-1" "libepoch: epoch 1 wins over 2.0 with no epoch"
like "$OUT" "^ver +1.10-1" "ver: 1.10 over 1.9"
like "$OUT" "^pre +2.0-1" "pre: the release over 2.0~rc1"
like "$OUT" "^nginx-ish " "webserver >= 2: the provider of webserver = 2.5"
if printf '%s\n' "$OUT" | grep -q "^httpd-lite"; then ok 1 "not the provider of webserver = 1"; else ok 0 "not the provider of webserver = 1"; fi
like "$OUT" "^richb " "(richa >= 2 or richb): richb, richa being 1.0"
if printf '%s\n' "$OUT" | grep -q "^glibc"; then ok 1 "the platform (glibc by default) stays out"; else ok 0 "the platform (glibc by default) stays out"; fi
run resolve "$TMP/diracos.json" --why nginx-ish
is "$OUT" "tool <- nginx-ish" "--why gives the chain through the virtual provide"
run resolve "$TMP/diracos.json" --json
printf '%s' "$OUT" | grep -q '"reason": *"webserver >= 2"'
ok $? "the reason is the requirement in rpm's spelling"
printf '%s' "$OUT" | grep -q '"reason": *"libepoch >= 1:1.0"'
ok $? "with its epoch"

# A requirement no version satisfies: a clear error.
sed 's/"tool"\]/"tool", "nosuch"]/' "$TMP/diracos.json" >"$TMP/unknown.json"
run resolve "$TMP/unknown.json"
like "$ERR" "package 'nosuch' is not in any repository" "an unknown package is named"

# repomd.xml naming a primary whose content differs: refused.
p=$(ls "$TMP/repo/os/repodata/"*-primary.xml.gz)
gzip -dc "$p" | sed 's/<summary>resolver test package/<summary>tampered/' | gzip >"$p.new"
mv "$p.new" "$p"
rm -rf "$TMP/cache"
run resolve "$TMP/diracos.json"
is "$STATUS" 1 "a primary that does not match repomd.xml fails"
like "$ERR" "primary.*(sha256|size) mismatch" "with a checksum error"

finish
