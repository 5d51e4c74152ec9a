# Builds a small, real, signed Debian archive for the end-to-end tests:
# packages made with gcc and dpkg-deb, a Packages index, a Release signed
# with a throwaway key into InRelease, and a keyring for gpgv.
#
#   mkrepo_init DIR           the archive's folder and a signing key
#   mkrepo_deb NAME VERSION DEPENDS STAGING   a .deb from a staging tree
#   mkrepo_publish SUITE      indices and InRelease for dists/SUITE

mkrepo_init() {
	REPO=$1
	mkdir -p "$REPO/pool/main" "$REPO/.gnupg"
	chmod 700 "$REPO/.gnupg"
	export GNUPGHOME="$REPO/.gnupg"
	gpg --batch --quiet --passphrase '' --quick-gen-key "diracos test <test@diracos.invalid>" \
		ed25519 sign never 2>/dev/null
	gpg --batch --quiet --export >"$REPO/keyring.gpg"
}

mkrepo_deb() { # NAME VERSION DEPENDS STAGING
	mkdir -p "$4/DEBIAN"
	{
		echo "Package: $1"
		echo "Version: $2"
		echo "Architecture: amd64"
		echo "Maintainer: diracos tests <test@diracos.invalid>"
		[ -n "$3" ] && echo "Depends: $3"
		echo "Description: test package $1"
	} >"$4/DEBIAN/control"
	dpkg-deb --root-owner-group -Zxz --build "$4" "$REPO/pool/main/${1}_${2}_amd64.deb" >/dev/null
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

# httpd_start ROOT: serves ROOT on loopback; sets HTTP_PORT and HTTPD_PID.
httpd_start() {
	rm -f "$TMP/port"
	"$DIRACOS_HTTPD" "$TMP/port" "$1" &
	HTTPD_PID=$!
	for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
	HTTP_PORT=$(cat "$TMP/port")
}
