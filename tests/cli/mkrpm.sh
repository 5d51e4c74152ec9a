# Builds real RPMs with rpmbuild from spec files and publishes them as
# rpm-md repositories with createrepo_c, for the rpm backend's tests.
#
#   mkrpm_init DIR              rpmbuild's top folder
#   mkrpm_build SPEC [PAYLOAD]  binary packages (PAYLOAD: gzip, xz, zstd)
#   mkrpm_glibc                 the platform stand-in (see rpm/glibc.spec)
#   mkrpm_publish DEST          the built packages, and repodata/, into DEST

RPM_SPECS=${RPM_SPECS:-"$(dirname "$0")/rpm"}

mkrpm_init() {
	RPMTOP=$1
	mkdir -p "$RPMTOP"
}

mkrpm_payload() {
	case $1 in
	xz) echo "w6.xzdio" ;;
	zstd) echo "w19.zstdio" ;;
	*) echo "w9.gzdio" ;;
	esac
}

mkrpm_build() { # SPEC [PAYLOAD]
	rpmbuild --define "_topdir $RPMTOP" --define "_binary_payload $(mkrpm_payload "${2:-gzip}")" \
		--nodeps --quiet -bb "$1" >"$RPMTOP/build.log" 2>&1 || { cat "$RPMTOP/build.log" >&2; return 1; }
}

mkrpm_srpm() { # SPEC [SOURCE...]: a source package, into $RPMTOP/SRPMS
	spec=$1
	shift
	mkdir -p "$RPMTOP/SOURCES"
	for f in "$@"; do cp "$f" "$RPMTOP/SOURCES/"; done
	rpmbuild --define "_topdir $RPMTOP" --nodeps --quiet -bs "$spec" >"$RPMTOP/build.log" 2>&1 ||
		{ cat "$RPMTOP/build.log" >&2; return 1; }
}

# glibc provides what the host's libc provides: rpmbuild's automatic
# requirements (libc.so.6(GLIBC_2.34)(64bit), rtld(GNU_HASH)) resolve.
mkrpm_glibc() {
	libc=$(ls /lib/x86_64-linux-gnu/libc.so.6 /lib64/libc.so.6 2>/dev/null | head -1)
	{
		echo "Provides: rtld(GNU_HASH)"
		/usr/lib/rpm/elfdeps --provides "$libc" | sort -u | sed 's/^/Provides: /'
	} >"$RPMTOP/glibc.provides"
	awk -v f="$RPMTOP/glibc.provides" '/^@PROVIDES@$/ { while ((getline l <f) > 0) print l; next } { print }' \
		"$RPM_SPECS/glibc.spec" >"$RPMTOP/glibc.spec"
	mkrpm_build "$RPMTOP/glibc.spec"
}

mkrpm_publish() { # DEST
	mkdir -p "$1"
	find "$RPMTOP/RPMS" -name '*.rpm' -exec cp {} "$1/" \;
	createrepo_c --quiet --checksum sha256 "$1" >/dev/null
}

# mkrpm_meta NAME [EPOCH:]VERSION-RELEASE [Requires|Provides: VALUE]...: a
# noarch package with no files, only dependencies (for the resolver).
mkrpm_meta() {
	name=$1 evr=$2
	shift 2
	epoch=${evr%%:*}
	[ "$epoch" = "$evr" ] && epoch=""
	vr=${evr#*:}
	spec="$RPMTOP/$name-$vr.spec"
	{
		echo "Name: $name"
		[ -n "$epoch" ] && echo "Epoch: $epoch"
		echo "Version: ${vr%-*}"
		echo "Release: ${vr##*-}"
		echo "Summary: resolver test package"
		echo "License: MIT"
		echo "BuildArch: noarch"
		for dep in "$@"; do echo "$dep"; done
		printf '%%description\nA resolver test package.\n%%files\n'
	} >"$spec"
	mkrpm_build "$spec"
}
