# Builds a small, real, signed Debian archive for the end-to-end tests:
# packages made with gcc and dpkg-deb, a Packages index, a Release signed
# with a throwaway key into InRelease, and a keyring for gpgv.
#
#   mkrepo_init DIR           the archive's folder and a signing key
#   mkrepo_deb NAME VERSION DEPENDS STAGING [COMPRESSION]   a .deb from a staging tree
#   mkrepo_publish SUITE      indices and InRelease for dists/SUITE
#   mkrepo_serve [OPTION...]  serves the archive on loopback, for diracos
#
# and the archive of t0010, t0030 and t0050, a program and its library:
#
#   mkrepo_hello_stage        stages libc6, libhello1 and hello under $TMP/st
#   mkrepo_hello_debs         their .deb files

mkrepo_init() {
	REPO=$1
	mkdir -p "$REPO/pool/main" "$REPO/.gnupg"
	chmod 700 "$REPO/.gnupg"
	export GNUPGHOME="$REPO/.gnupg"
	gpg --batch --quiet --passphrase '' --quick-gen-key "diracos test <test@diracos.invalid>" \
		ed25519 sign never 2>/dev/null
	gpg --batch --quiet --export >"$REPO/keyring.gpg"
}

mkrepo_deb() { # NAME VERSION DEPENDS STAGING [COMPRESSION: dpkg-deb's options, -Zxz]
	mkdir -p "$4/DEBIAN"
	{
		echo "Package: $1"
		echo "Version: $2"
		echo "Architecture: amd64"
		echo "Maintainer: diracos tests <test@diracos.invalid>"
		[ -n "$3" ] && echo "Depends: $3"
		echo "Description: test package $1"
	} >"$4/DEBIAN/control"
	# shellcheck disable=SC2086 # COMPRESSION is words
	dpkg-deb --root-owner-group ${5:--Zxz} --build "$4" "$REPO/pool/main/${1}_${2}_amd64.deb" >/dev/null
}

mkrepo_publish() { # SUITE
	d="$REPO/dists/$1/main/binary-amd64"
	mkdir -p "$d"
	(cd "$REPO" && dpkg-scanpackages --multiversion pool/main /dev/null 2>/dev/null) >"$d/Packages"
	xz -kf "$d/Packages"
	{
		echo "Origin: diracos-test"
		echo "Suite: $1"
		echo "Codename: $1"
		echo "Date: $(LC_ALL=C date -u -R)"
		echo "Architectures: amd64"
		echo "Components: main"
		echo "SHA256:"
		for f in main/binary-amd64/Packages main/binary-amd64/Packages.xz; do
			printf ' %s %s %s\n' "$(sha256sum "$REPO/dists/$1/$f" | cut -d' ' -f1)" \
				"$(stat -c %s "$REPO/dists/$1/$f")" "$f"
		done
	} >"$REPO/dists/$1/Release"
	gpg --batch --quiet --yes --clearsign -o "$REPO/dists/$1/InRelease" "$REPO/dists/$1/Release"
}

# httpd_start ROOT [OPTION...]: serves ROOT on loopback, with the helper's
# OPTIONs (--rules FILE, --log FILE...); sets HTTP_PORT and HTTPD_PID.
httpd_start() {
	rm -f "$TMP/port"
	"$DIRACOS_HTTPD" "$TMP/port" "$@" &
	HTTPD_PID=$!
	for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
	HTTP_PORT=$(cat "$TMP/port")
}

# mkrepo_serve [OPTION...]: serves $REPO on loopback (httpd_start, with the
# OPTIONs), kills the server on exit (a test that has more to clean up sets
# its own trap after this), and points diracos at the archive:
# DIRACOS_MIRROR, DIRACOS_SECURITY_MIRROR (a path where nothing is) and
# DIRACOS_KEYRING.
mkrepo_serve() {
	httpd_start "$REPO" "$@"
	trap 'kill $HTTPD_PID 2>/dev/null; rm -rf "$TMP"' EXIT
	export DIRACOS_MIRROR="http://127.0.0.1:$HTTP_PORT"
	export DIRACOS_SECURITY_MIRROR="http://127.0.0.1:$HTTP_PORT/none"
	export DIRACOS_KEYRING="$REPO/keyring.gpg"
}

# mkrepo_hello_stage: stages the hello archive's packages under $TMP/st
# (their sources in $TMP/src): libc6, the platform (a marker file);
# libhello1, libhello.so.1 in $L; hello, a program that needs it and prints
# "hello from the bundle". A test adds to the trees, then mkrepo_hello_debs.
mkrepo_hello_stage() {
	mkdir -p "$TMP/src"
	cat >"$TMP/src/hello.c" <<'C'
#include <stdio.h>
const char *hello_text(void);
int main(void) { puts(hello_text()); return 0; }
C
	cat >"$TMP/src/libhello.c" <<'C'
const char *hello_text(void) { return "hello from the bundle"; }
C
	L="$TMP/st/libhello1/usr/lib/x86_64-linux-gnu"
	mkdir -p "$L" "$TMP/st/hello/usr/bin" "$TMP/st/libc6/usr/share/libc6"
	gcc -shared -fPIC -Wl,-soname,libhello.so.1 -o "$L/libhello.so.1.0" "$TMP/src/libhello.c"
	ln -s libhello.so.1.0 "$L/libhello.so.1"
	gcc -o "$TMP/st/hello/usr/bin/hello" "$TMP/src/hello.c" -L"$L" -l:libhello.so.1
	echo "platform" >"$TMP/st/libc6/usr/share/libc6/marker"
}

# mkrepo_hello_debs: the staged hello packages into the pool.
mkrepo_hello_debs() {
	mkrepo_deb libc6 2.36-9 "" "$TMP/st/libc6"
	mkrepo_deb libhello1 1.0-1 "libc6 (>= 2.34)" "$TMP/st/libhello1"
	mkrepo_deb hello 1.0-1 "libhello1 (>= 1.0), libc6" "$TMP/st/hello"
}
