#!/bin/sh
# diracos packages, the real thing: two recipes built from a local source
# tarball in bookworm build roots (mmdebstrap, cached in the user's cache),
# a library and a program that build-depends on it through the local
# repository; content keys decide what is rebuilt; a failing recipe leaves
# the repository as it was; the bundle takes the program from the local
# repository and it runs.
. "$(dirname "$0")/lib.sh"

need_build_roots
plan 49

# --- the sources and the recipes
mkdir -p "$TMP/greet-1.0" "$TMP/recipes"
cat >"$TMP/greet-1.0/greet.h" <<'C'
const char *greet_text(void);
C
cat >"$TMP/greet-1.0/libgreet.c" <<'C'
#include "greet.h"
const char *greet_text(void) { return "hello from libgreet"; }
C
cat >"$TMP/greet-1.0/greet.c" <<'C'
#include <stdio.h>
#include <greet.h>
int main(void) { puts(greet_text()); return 0; }
C
tar czf "$TMP/greet-1.0.tar.gz" -C "$TMP" greet-1.0
SHA=$(sha256sum "$TMP/greet-1.0.tar.gz" | cut -d' ' -f1)

cat >"$TMP/recipes/libgreet.sh" <<'SH'
L=$DESTDIR/usr/lib/x86_64-linux-gnu
gcc -shared -fPIC -Wl,-soname,libgreet.so.1 -o libgreet.so.1.0 libgreet.c
install -d "$L" "$DESTDIR/usr/include"
install -m644 libgreet.so.1.0 "$L/"
ln -s libgreet.so.1.0 "$L/libgreet.so.1"
ln -s libgreet.so.1 "$L/libgreet.so"
install -m644 greet.h "$DESTDIR/usr/include/"
echo "env: pwd=$(pwd) sources=$(ls "$SOURCES") prefix=$PREFIX opt=$DIRACOS_OPT_FLAVOUR"
SH
cat >"$TMP/recipes/greet.sh" <<'SH'
gcc -o greet greet.c -lgreet
install -D -m755 greet "$DESTDIR/usr/bin/greet"
SH

config() { # config DISTRIBUTION-PACKAGES [EXTRA-PACKAGE-JSON]
	cat >"$TMP/diracos.json" <<EOF
{"name": "greetbundle", "version": "1", "platform": {"suite": "bookworm"},
 "workDir": "$TMP/work", "output": {"directory": "$TMP/out", "compression": ["gzip"]},
 "distributionPackages": $1,
 "sources": [{"urls": ["file://$TMP/greet-1.0.tar.gz"], "sha256": "$SHA"}],
 "packages": [
  {"name": "libgreet", "version": "1.0", "recipe": "recipes/libgreet.sh", "flavour": "mild"},
  {"name": "greet", "version": "1.0", "recipe": "recipes/greet.sh",
   "buildDependencies": ["libgreet"]}$2
 ]}
EOF
}
config '["greet"]'
REPO="$TMP/work/repo"

run packages --help
is "$STATUS" 0 "packages --help exits 0"

# --- the first build
run packages "$TMP/diracos.json"
is "$STATUS" 0 "the first run builds"
[ "$STATUS" = 0 ] || diag "$ERR"
like "$OUT" "^libgreet: built \([0-9]+ s\)$" "libgreet is built"
like "$OUT" "^greet: built \([0-9]+ s\)$" "greet is built"
is "$(grep '^Package:' "$REPO/Packages" | sort | tr '\n' ' ')" \
	"Package: greet Package: libgreet " "both are in the repository's index"
DEPENDS=$(sed -n '/^Package: greet$/,/^$/s/^Depends: //p' "$REPO/Packages")
like "$DEPENDS" "(^|, )libgreet(,|$)" "greet depends on libgreet (from its DT_NEEDED)"
like "$DEPENDS" "(^|, )libc6(,|$)" "and on libc6"
GREET_DEB="$REPO/$(sed -n '/^Package: greet$/,/^$/s/^Filename: //p' "$REPO/Packages")"
dpkg-deb -c "$GREET_DEB" | grep -q ' root/root .* ./usr/bin/greet$'
ok $? "the greet package holds ./usr/bin/greet owned by root"
LOG=$(cat "$REPO/records/libgreet.log")
like "$LOG" "env: pwd=/diracos/build/greet-1.0 sources=greet-1.0.tar.gz prefix=/usr opt=mild" \
	"the recipe ran in the source's top folder, with SOURCES, PREFIX and its options"
is "$(ls "$TMP/work/build" 2>/dev/null)" "" "nothing is left in the build folder"

# --- nothing changed: nothing is rebuilt
T0=$(date +%s)
run packages "$TMP/diracos.json"
T1=$(date +%s)
is "$STATUS" 0 "the second run succeeds"
is "$OUT" "libgreet: up to date
greet: up to date" "nothing is rebuilt"
[ $((T1 - T0)) -le 3 ] 
ok $? "and it is quick ($((T1 - T0)) s)"

# --- a change to greet's recipe rebuilds greet only
echo "# a comment" >>"$TMP/recipes/greet.sh"
run packages "$TMP/diracos.json"
like "$OUT" "^libgreet: up to date$" "greet's recipe changed: libgreet is not rebuilt"
like "$OUT" "^greet: built" "greet is rebuilt"

# --- a change to libgreet's recipe rebuilds both
echo "# a comment" >>"$TMP/recipes/libgreet.sh"
run packages "$TMP/diracos.json"
like "$OUT" "^libgreet: built" "libgreet's recipe changed: libgreet is rebuilt"
like "$OUT" "^greet: built" "and greet, built on it"

# --- an option changes the key too
sed -i 's/"mild"/"hot"/' "$TMP/diracos.json"
run packages "$TMP/diracos.json"
like "$OUT" "^libgreet: built" "an option changed: rebuilt"
like "$(cat "$REPO/records/libgreet.log")" "opt=hot" "with the new option in its environment"

# --- a patch (patchDir/<name>.patch) rebuilds its package and what builds on it
mkdir -p "$TMP/patches"
cat >"$TMP/patches/libgreet.patch" <<'P'
--- a/libgreet.c
+++ b/libgreet.c
@@ -1,2 +1,2 @@
 #include "greet.h"
-const char *greet_text(void) { return "hello from libgreet"; }
+const char *greet_text(void) { return "hello from the patched libgreet"; }
P
run packages "$TMP/diracos.json"
like "$OUT" "^libgreet: built" "libgreet's patch appeared: libgreet is rebuilt"
like "$OUT" "^greet: built" "and greet, built on it"
like "$(cat "$REPO/records/libgreet.log")" "patch" "the patch step is in libgreet's log"
run packages "$TMP/diracos.json"
is "$OUT" "libgreet: up to date
greet: up to date" "a second run rebuilds nothing"
cat >"$TMP/patches/greet.patch" <<'P'
--- a/greet.c
+++ b/greet.c
@@ -1,3 +1,4 @@
 #include <stdio.h>
 #include <greet.h>
+/* patched */
 int main(void) { puts(greet_text()); return 0; }
P
run packages "$TMP/diracos.json"
like "$OUT" "^libgreet: up to date$" "greet's patch appeared: libgreet is not rebuilt"
like "$OUT" "^greet: built" "greet is"
rm -r "$TMP/patches"
run packages "$TMP/diracos.json"
like "$OUT" "^libgreet: built" "the patches removed: libgreet is rebuilt"
like "$OUT" "^greet: built" "and greet"

# --- --force rebuilds; what builds on it keeps its key
run packages "$TMP/diracos.json" --force libgreet
is "$STATUS" 0 "--force succeeds"
like "$OUT" "^libgreet: built" "--force libgreet rebuilds it"
like "$OUT" "^greet: up to date$" "and greet keeps its key"

# --- naming a package: only it and what builds on it
run packages "$TMP/diracos.json" greet
is "$OUT" "greet: up to date" "naming greet lists greet only"
run packages "$TMP/diracos.json" nosuch
is "$STATUS" 2 "an unknown name exits 2"
like "$ERR" "package 'nosuch' is not configured" "and names it"

# --- a failing recipe leaves the repository as it was
cp "$REPO/Packages" "$TMP/Packages.before"
cp "$TMP/recipes/greet.sh" "$TMP/greet.sh.ok"
printf 'echo "the last words of greet"\nexit 3\n' >>"$TMP/recipes/greet.sh"
run packages "$TMP/diracos.json"
is "$STATUS" 1 "a failing recipe exits 1"
like "$OUT" "^greet: FAILED$" "and is reported FAILED"
like "$ERR" "package 'greet': recipe '.*greet.sh' \(sh -e /diracos/recipe.sh, in /diracos/build/greet-1.0\) exited with status 3" \
	"the error names the package, the recipe, its command and exit status"
like "$ERR" "^the last words of greet$" "and quotes the log's last lines"
cmp -s "$TMP/Packages.before" "$REPO/Packages"
ok $? "the index is byte-identical"
grep -q "the last words of greet" "$TMP/work/logs/greet.log"
ok $? "the log is kept in workDir/logs"
cp "$TMP/greet.sh.ok" "$TMP/recipes/greet.sh"

# --- the bundle takes greet from the local repository, and it runs
run bundle "$TMP/diracos.json"
is "$STATUS" 0 "bundle succeeds"
[ "$STATUS" = 0 ] || diag "$ERR"
mkdir -p "$TMP/unpacked"
tar xzf "$TMP/out/greetbundle-1-x86_64.tar.gz" -C "$TMP/unpacked" 2>/dev/null
is "$("$TMP/unpacked/greetbundle/usr/bin/greet" 2>&1)" "hello from libgreet" \
	"the bundle's greet runs with the bundle's libgreet"

# --- build: the packages (up to date), then the bundle
rm -rf "$TMP/out"
run build "$TMP/diracos.json"
is "$STATUS" 0 "build succeeds"
like "$ERR" "^greet: up to date$" "build reports the packages up to date (on stderr)"
test -s "$TMP/out/greetbundle-1-x86_64.tar.gz"
ok $? "and makes the bundle"
run --json build "$TMP/diracos.json"
is "$STATUS" 0 "build --json succeeds"
is "$(printf '%s' "$OUT" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(sorted(d), [p["status"] for p in d["packages"]], d["check"]["ok"],
      [t["path"].endswith(".tar.gz") for t in d["bundle"]["tarballs"]])' 2>&1)" \
	"['bundle', 'check', 'packages'] ['up-to-date', 'up-to-date'] True [True]" \
	"build --json prints one document: the packages, the bundle, the check"

# --- a package no longer configured is removed
cat >"$TMP/diracos.json" <<EOF
{"name": "greetbundle", "version": "1", "platform": {"suite": "bookworm"},
 "workDir": "$TMP/work",
 "packages": [{"name": "libgreet", "version": "1.0", "recipe": "recipes/libgreet.sh",
   "flavour": "hot", "sources": [{"urls": ["file://$TMP/greet-1.0.tar.gz"], "sha256": "$SHA"}]}]}
EOF
run packages "$TMP/diracos.json"
like "$OUT" "^greet: removed$" "greet, no longer configured, is removed"
grep -q "^Package: greet$" "$REPO/Packages"
ok $((! $?)) "and is gone from the index"
test ! -e "$REPO/records/greet.json"
ok $? "with its record"

finish
