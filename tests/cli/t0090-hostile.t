#!/bin/sh
# Hostile packages, made by hand (tar and ar: dpkg-deb refuses to build
# them), published in a signed loopback archive and bundled one at a time:
# '../' and absolute paths, a symlink then a file written through it (in one
# package and across two), a hard link out of the root, device nodes, setuid
# files, a huge declared size and truncated payloads. Each is refused with
# an error naming the package and the cause, or neutralized; nothing is
# ever written outside the bundle root (canary folders beside the staging
# tree and beside the work folder stay empty) and a refused bundle leaves no
# tarball.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mkrepo.sh"
set -e

plan 64

C="$TMP/work/bundle/canary"   # beside the staging tree <work>/bundle/hostile
C2="$TMP/canary"              # beside the work folder
mkdir -p "$C" "$C2"

# rawdeb NAME DEPENDS DATA: a .deb from the ready-made data member DATA
# (its file name is the member's name: data.tar, data.tar.xz).
rawdeb() {
	_d="$TMP/raw/$1"
	rm -rf "$_d"
	mkdir -p "$_d/ctl"
	{
		echo "Package: $1"
		echo "Version: 1.0-1"
		echo "Architecture: amd64"
		echo "Maintainer: diracos tests <test@diracos.invalid>"
		[ -n "$2" ] && echo "Depends: $2"
		echo "Description: hostile test package $1"
	} >"$_d/ctl/control"
	tar -C "$_d/ctl" --owner=0 --group=0 -czf "$_d/control.tar.gz" ./control
	printf '2.0\n' >"$_d/debian-binary"
	cp "$3" "$_d/"
	(cd "$_d" && ar rc "$REPO/pool/main/${1}_1.0-1_amd64.deb" debian-binary control.tar.gz \
		"$(basename "$3")")
}

# tree NAME: a fresh staging folder with one ordinary file.
tree() {
	T="$TMP/trees/$1"
	rm -rf "$T"
	mkdir -p "$T/usr/share/$1"
	echo "ordinary content" >"$T/usr/share/$1/README"
}

# mktar OUT ARGS...: GNU tar, root-owned, names kept as given (-P).
mktar() {
	_o=$1
	shift
	tar --owner=0 --group=0 -P -cf "$_o" "$@"
}

mkrepo_init "$TMP/repo"
mkdir -p "$TMP/st/libc6/usr/share/libc6" "$TMP/data"
echo platform >"$TMP/st/libc6/usr/share/libc6/marker"
mkrepo_deb libc6 2.36-9 "" "$TMP/st/libc6"

# '../' climbing out of the root, next to a sound file.
tree dotdot
echo pwned >"$T/pwned"
mktar "$TMP/data/dotdot.tar" -C "$T" ./usr --transform 's,^\./pwned$,./../canary/pwned,' ./pwned
mkdir -p "$TMP/data/dd" && mv "$TMP/data/dotdot.tar" "$TMP/data/dd/data.tar"
rawdeb h-dotdot "" "$TMP/data/dd/data.tar"

# An absolute path aimed at the canary.
tree abs
echo pwned >"$T/pwned"
mkdir -p "$TMP/data/abs"
mktar "$TMP/data/abs/data.tar" -C "$T" ./usr --transform "s,^\./pwned\$,$C2/pwned," ./pwned
rawdeb h-abs "" "$TMP/data/abs/data.tar"

# A symlink to the canary (absolute, then relative), then a file under it.
for kind in abs rel; do
	tree link$kind
	if [ $kind = abs ]; then ln -s "$C2" "$T/usr/share/link$kind/out"
	else ln -s ../../../../canary "$T/usr/share/link$kind/out"; fi
	mkdir -p "$T/x" && echo pwned >"$T/x/pwned"
	mkdir -p "$TMP/data/link$kind"
	mktar "$TMP/data/link$kind/data.tar" -C "$T" ./usr \
		--transform "s,^\./x/pwned\$,./usr/share/link$kind/out/pwned," ./x/pwned
	rawdeb h-link$kind "" "$TMP/data/link$kind/data.tar"
done

# Across two packages: the first ships the symlink, the second a file
# through it.
tree linkdir
ln -s ../../../../canary "$T/usr/share/linkdir/out"
mkdir -p "$TMP/data/linkdir"
mktar "$TMP/data/linkdir/data.tar" -C "$T" ./usr
rawdeb h-linkdir "" "$TMP/data/linkdir/data.tar"
tree through
mkdir -p "$T/usr/share/linkdir/out" && echo pwned >"$T/usr/share/linkdir/out/pwned"
mkdir -p "$TMP/data/through"
mktar "$TMP/data/through/data.tar" -C "$T" ./usr/share/through ./usr/share/linkdir/out/pwned
rawdeb h-through "h-linkdir" "$TMP/data/through/data.tar"

# A hard link whose target is outside the root.
tree hardlink
echo x >"$T/usr/share/hardlink/a" && ln "$T/usr/share/hardlink/a" "$T/usr/share/hardlink/b"
mkdir -p "$TMP/data/hardlink"
# Turn b into a hard link to ../../canary/passwd: rebuild with a transform
# on link names only (flags 'h').
mktar "$TMP/data/hardlink/data.tar" -C "$T" \
	--transform 's,^\./usr/share/hardlink/a$,./../../canary/passwd,RSh' ./usr/share/hardlink/README \
	./usr/share/hardlink/a ./usr/share/hardlink/b
rawdeb h-hardlink "" "$TMP/data/hardlink/data.tar"

# Device nodes, a FIFO and setuid/setgid files: neutralized.
tree dev
mkdir -p "$T/dev"
mknod "$T/dev/mem" c 1 1 && mknod "$T/dev/sda" b 8 0 && mkfifo "$T/dev/fifo"
mkdir -p "$T/usr/bin" && printf '#!/bin/sh\necho root\n' >"$T/usr/bin/rootme"
cp "$T/usr/bin/rootme" "$T/usr/bin/groupme"
chmod 4755 "$T/usr/bin/rootme" && chmod 2755 "$T/usr/bin/groupme"
mkdir -p "$TMP/data/dev"
mktar "$TMP/data/dev/data.tar" -C "$T" ./usr ./dev
rawdeb h-dev "" "$TMP/data/dev/data.tar"

# A member declaring 1 TiB (base-256 size field, checksum recomputed).
tree huge
echo small >"$T/usr/share/huge/big"
mkdir -p "$TMP/data/huge"
mktar "$TMP/data/huge/data.tar" -C "$T" ./usr/share/huge/big
perl -e '
	open(my $f, "+<", $ARGV[0]) or die; binmode $f;
	read($f, my $h, 512) == 512 or die;
	substr($h, 124, 12) = "\x80" . ("\0" x 5) . "\x01" . ("\0" x 5);   # 2^40 bytes
	substr($h, 148, 8) = " " x 8;
	my $s = 0; $s += $_ for unpack("C*", $h);
	substr($h, 148, 8) = sprintf("%06o\0 ", $s);
	seek($f, 0, 0); print $f $h; close $f;' "$TMP/data/huge/data.tar"
rawdeb h-huge "" "$TMP/data/huge/data.tar"

# Payloads cut short: an xz stream, and a plain tar inside a file's content.
tree truncxz
head -c 300000 /dev/urandom >"$T/usr/share/truncxz/blob"
mkdir -p "$TMP/data/truncxz"
tar --owner=0 --group=0 -C "$T" -cJf "$TMP/data/truncxz/full.tar.xz" ./usr
head -c 150000 "$TMP/data/truncxz/full.tar.xz" >"$TMP/data/truncxz/data.tar.xz"
rawdeb h-truncxz "" "$TMP/data/truncxz/data.tar.xz"
tree trunctar
head -c 300000 /dev/urandom >"$T/usr/share/trunctar/blob"
mkdir -p "$TMP/data/trunctar"
mktar "$TMP/data/trunctar/full.tar" -C "$T" ./usr/share/trunctar/blob
head -c 100000 "$TMP/data/trunctar/full.tar" >"$TMP/data/trunctar/data.tar"
rawdeb h-trunctar "" "$TMP/data/trunctar/data.tar"

# The same path twice: a file, then a symlink out of the root over it.
tree twice
mkdir -p "$T/x" && ln -s "$C2" "$T/x/README"
mkdir -p "$TMP/data/twice"
mktar "$TMP/data/twice/data.tar" -C "$T" ./usr/share/twice/README \
	--transform 's,^\./x/README$,./usr/share/twice/README,' ./x/README
rawdeb h-twice "" "$TMP/data/twice/data.tar"

# A path longer than PATH_MAX (GNU tar's long-name extension).
tree long
mkdir -p "$TMP/data/long"
long=$(printf 'a%.0s' $(seq 1 250))
long="$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long"
mktar "$TMP/data/long/data.tar" -C "$T" --transform "s,^\./usr/share/long/README\$,./$long/README," \
	./usr/share/long/README
rawdeb h-long "" "$TMP/data/long/data.tar"

# A symlink loop and a chain of symlinks: links only, never followed.
tree loop
ln -s self "$T/usr/share/loop/self"
ln -s b "$T/usr/share/loop/a" && ln -s a "$T/usr/share/loop/b"
ln -s ../../../../../../../../../.. "$T/usr/share/loop/up"
mkdir -p "$TMP/data/loop"
mktar "$TMP/data/loop/data.tar" -C "$T" ./usr
rawdeb h-loop "" "$TMP/data/loop/data.tar"

# A newline in a name (dpkg refuses them too): it would forge lines in
# the bundle's lists, one path a line (brokenLinks.txt, ...).
tree newline
printf 'x\n' >"$T/usr/share/newline/a
b"
mkdir -p "$TMP/data/newline"
mktar "$TMP/data/newline/data.tar" -C "$T" ./usr
rawdeb h-newline "" "$TMP/data/newline/data.tar"

mkrepo_publish testsuite
mkrepo_serve

set +e
export DIRACOS_CACHE="$TMP/cache"
TARBALL="$TMP/out/hostile-1.0-x86_64.tar.gz"

# bundle_one PACKAGE: bundles a configuration holding only PACKAGE.
bundle_one() {
	cat >"$TMP/$1.json" <<JSON
{
  "name": "hostile", "version": "1.0",
  "platform": {"suite": "testsuite"},
  "distributionPackages": ["$1"],
  "workDir": "work",
  "output": {"directory": "out", "compression": ["gzip"]}
}
JSON
	rm -rf "$TMP/out"
	run bundle "$TMP/$1.json"
}

# untouched: the canaries are empty and no 'pwned' file is anywhere but
# inside the staging tree.
untouched() {
	_in=$(find "$C" "$C2" -mindepth 1)
	[ -z "$_in" ] || { diag "in the canaries: $_in"; return 1; }
	[ -z "$(find "$TMP" -name 'pwned*' -not -path "$TMP/work/bundle/hostile/*" \
		-not -path "$TMP/trees/*" -not -path "$TMP/raw/*" -not -path "$TMP/data/*")" ] &&
	[ -z "$(find "$TMP" -name passwd -not -path "$TMP/trees/*")" ]
}

# refused PACKAGE PATTERN [NAMED]: exit 1, an error naming the package and the
# cause, no tarball, nothing outside the root.
refused() {
	_failed=$TEST_FAILED
	bundle_one "$1"
	is "$STATUS" 1 "$1: refused"
	like "$(printf '%s' "$ERR" | tr '\n' ' ')" "package '${3:-$1}'.*$2" \
		"$1: the error names the package and the cause"
	[ ! -e "$TARBALL" ] && [ -z "$(ls -A "$TMP/out" 2>/dev/null)" ]
	ok $? "$1: no tarball"
	untouched; ok $? "$1: nothing written outside the bundle root"
	CASES=$((CASES + 1))
	[ "$TEST_FAILED" -eq "$_failed" ] && GOOD=$((GOOD + 1))
}
CASES=0 GOOD=0

refused h-dotdot "'\./\.\./canary/pwned'.*'\.\.' component is refused"
refused h-abs "'$C2/pwned'.*absolute path is refused"
refused h-linkabs "usr/share/linkabs/out.*symlink: nothing is written through one"
refused h-linkrel "usr/share/linkrel/out.*symlink: nothing is written through one"
# (extracted in parallel: whichever comes first, the other is refused)
refused h-through "usr/share/linkdir/out.*(symlink: nothing is written through one|a folder is in the way)" "h-(linkdir|through)"
refused h-hardlink "hard link to '\./\.\./\.\./canary/passwd'.*'\.\.' component"
refused h-huge "declares 1099511627776 bytes, more than the [0-9]+ free"
refused h-truncxz "(truncated|corrupt)"
refused h-trunctar "(truncated|corrupt)"
refused h-twice "usr/share/twice/README.*appears twice"
refused h-long "path too long"
refused h-newline "usr/share/newline/a b': a newline in a name is refused"

# Neutralized: device nodes and the FIFO are skipped with a warning naming
# the package, setuid and setgid bits are dropped and reported.
_failed=$TEST_FAILED
bundle_one h-dev
is "$STATUS" 0 "h-dev: bundled"
like "$ERR" "package 'h-dev': entry 'dev/mem': character device not extracted" \
	"h-dev: a character device is skipped, with a warning naming it"
like "$ERR" "package 'h-dev': entry 'dev/sda': block device not extracted" "h-dev: a block device too"
like "$ERR" "package 'h-dev': entry 'dev/fifo': FIFO not extracted" "h-dev: a FIFO too"
listing=$(tar -tvzf "$TARBALL")
printf '%s\n' "$listing" | grep -Eq '^[cbp]'; [ $? -ne 0 ]; ok $? "h-dev: no special file in the tarball"
printf '%s\n' "$listing" | grep -Eq '^-..[sS]|^-.....[sS]'; [ $? -ne 0 ]
ok $? "h-dev: no setuid or setgid bit in the tarball"
printf '%s\n' "$listing" | grep -q 'hostile/usr/bin/rootme'; ok $? "h-dev: the setuid file itself is shipped"
like "$ERR" "usr/bin/rootme \(h-dev\): setuid bit dropped" "h-dev: the dropped setuid bit is reported"
like "$ERR" "usr/bin/groupme \(h-dev\): setgid bit dropped" "h-dev: the dropped setgid bit is reported"
untouched; ok $? "h-dev: nothing written outside the bundle root"
CASES=$((CASES + 1))
[ "$TEST_FAILED" -eq "$_failed" ] && GOOD=$((GOOD + 1))

# Symlink loops and links climbing out are kept as links or dropped as
# dangling: nothing follows them.
_failed=$TEST_FAILED
bundle_one h-loop
is "$STATUS" 0 "h-loop: bundled"
[ "$STATUS" -eq 0 ] || diag "$ERR"
listing=$(tar -tvzf "$TARBALL")
printf '%s\n' "$listing" | grep -q 'hostile/usr/share/loop/README'; ok $? "h-loop: the ordinary file is shipped"
printf '%s\n' "$listing" | grep -Eq -- '-> (/|(\.\./){9})'; [ $? -ne 0 ]
ok $? "h-loop: no link in the tarball points out of the bundle"
untouched; ok $? "h-loop: nothing written outside the bundle root"
CASES=$((CASES + 1))
[ "$TEST_FAILED" -eq "$_failed" ] && GOOD=$((GOOD + 1))

# The same staging tree still serves a sound bundle after all of this.
bundle_one h-linkdir
is "$STATUS" 0 "a sound package bundles in the same work folder afterwards"
untouched; ok $? "and the canaries are still empty"

# Read by bench/reliability.
echo "# figures: malicious cases tried $CASES, refused or neutralized $GOOD"
finish
