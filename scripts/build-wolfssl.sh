#!/bin/sh
# build-wolfssl.sh: build Debian's wolfSSL source with Debian's own feature
# set plus the x86_64 assembly (AES-NI, AVX/AVX2 SHA and ChaCha20-Poly1305,
# SP ECC/RSA/DH), static and -fPIC, into third_party/wolfssl-aesni/.
#
# Why: Debian's libwolfssl is built without any of it (no WOLFSSL_AESNI in
# its options.h), so every TLS record costs software AES-GCM + GHASH and
# every handshake generic big-number code (docs/tls.md). The proxy's
# meson.build picks this build up from that prefix when it exists
# (-Dwolfssl_backend, default auto).
#
# The assembly is chosen at run time from CPUID (AES-NI, PCLMULQDQ, AVX,
# AVX2, BMI2, ADX), so the library runs on any x86_64 CPU; the build
# machine's own CPU does not matter. On another architecture the assembly
# options are left out and the build is Debian's, static.
#
# The source comes from `apt-get source` with a private apt configuration
# (scripts/debsrc.sh): the machine's apt sources and state are not touched.
# Debian's patches (security fixes included) are applied by dpkg-source.
# Idempotent: does nothing if the prefix already holds the same version
# built with the same flags. Installs its build dependencies (autoconf,
# automake, libtool: the Debian tarball has no configure script) with
# apt-get when they are missing.
#
# Environment:
#   WOLFSSL_VERSION  Debian version to build (default: the installed
#                    libwolfssl-dev version, else the apt candidate)
#   FORCE=1          rebuild even if the stamp matches
set -eu

die() { echo "build-wolfssl: error: $*" >&2; exit 1; }
log() { echo "build-wolfssl: $*"; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TP=$ROOT/third_party
PREFIX=$TP/wolfssl-aesni
SRC=$TP/src/wolfssl
WORK=$TP/build/wolfssl
APTDIR=$TP/build/apt-wolfssl

# debian/rules (5.5.4-2): dh_auto_configure -- --enable-distro
# --enable-pkcs11 --disable-examples. --enable-distro is --enable-all minus
# early data, shared and static.
DEBIAN_FLAGS="--enable-distro --enable-pkcs11 --disable-examples"
case $(uname -m) in
x86_64 | amd64)
	# intelasm: AES-NI (+ AVX1/AVX2 AES-GCM), AVX SHA-256/512, AVX2
	# ChaCha20/Poly1305; sp-asm: P-256/384, RSA and DH in x86_64
	# assembly (BMI2/ADX variants picked at run time).
	FAST_FLAGS="--enable-aesni --enable-intelasm --enable-sp --enable-sp-asm" ;;
*)
	FAST_FLAGS="" ;;
esac
OUR_FLAGS="--disable-shared --enable-static --with-pic"
CONFIGURE_FLAGS="$DEBIAN_FLAGS $FAST_FLAGS $OUR_FLAGS"
# Debian's hardening flags (debian/rules: hardening=+all), as dpkg-buildflags
# gives them on Debian 12; -fPIC for the static archive.
BUILD_CFLAGS="-g -O2 -fstack-protector-strong -Wformat -Werror=format-security -fPIC"
BUILD_CPPFLAGS="-D_FORTIFY_SOURCE=2"
FLAGS_ID="v1 $CONFIGURE_FLAGS $BUILD_CFLAGS $BUILD_CPPFLAGS"

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

VERSION=${WOLFSSL_VERSION:-}
if [ -z "$VERSION" ]; then
	VERSION=$(dpkg-query -W -f '${Version}' libwolfssl-dev 2>/dev/null || true)
fi
if [ -z "$VERSION" ]; then
	VERSION=$(apt-cache policy libwolfssl-dev 2>/dev/null |
		awk '/Candidate:/ { print $2; exit }')
fi
[ -n "$VERSION" ] && [ "$VERSION" != "(none)" ] ||
	die "cannot tell which wolfSSL version to build; set WOLFSSL_VERSION"

STAMP_WANT="wolfssl $VERSION | $FLAGS_ID"
if [ "${FORCE:-0}" != 1 ] && [ -f "$PREFIX/.rampart-stamp" ] &&
	[ "$(cat "$PREFIX/.rampart-stamp")" = "$STAMP_WANT" ] &&
	[ -f "$PREFIX/lib/libwolfssl.a" ]; then
	log "already built: $STAMP_WANT in $PREFIX"
	exit 0
fi

# --- build dependencies ----------------------------------------------------
missing=
for p in autoconf automake libtool make gcc dpkg-dev; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	log "installing build dependencies:$missing"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $missing >/dev/null 2>&1 ||
		{ as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 &&
		  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends $missing >/dev/null; } ||
		die "cannot install$missing"
fi

mkdir -p "$TP/build" "$TP/src"
# One build at a time (several developers share the tree).
exec 9>"$TP/build/.wolfssl.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9 || die "cannot lock $TP/build/.wolfssl.lock"
fi
# Someone else may have finished the same build while we waited.
if [ "${FORCE:-0}" != 1 ] && [ -f "$PREFIX/.rampart-stamp" ] &&
	[ "$(cat "$PREFIX/.rampart-stamp")" = "$STAMP_WANT" ]; then
	log "already built: $STAMP_WANT in $PREFIX"
	exit 0
fi

# --- fetch and unpack ------------------------------------------------------
. "$ROOT/scripts/debsrc.sh"
debsrc_prepare "$APTDIR"
debsrc_fetch "$APTDIR" "$SRC" wolfssl "$VERSION"
UNPACKED=
for d in "$SRC"/wolfssl-*/; do
	[ -f "$d/configure.ac" ] && [ -d "$d/debian" ] && UNPACKED=${d%/}
done
[ -n "$UNPACKED" ] || die "no unpacked wolfSSL source tree in $SRC"

# --- build -----------------------------------------------------------------
rm -rf "$WORK"
cp -a "$UNPACKED" "$WORK"
cd "$WORK"
# --enable-distro forces the shared library on as well: every file would be
# compiled twice for a .so we never link. Static only.
sed -i '/^if test "$ENABLED_DISTRO" = "yes"$/,/^fi$/ s/^\( *\)enable_shared=yes$/\1enable_shared=no/' configure.ac
log "autoreconf"
autoreconf -fi >"$WORK/rampart-autoreconf.log" 2>&1 ||
	{ tail -40 "$WORK/rampart-autoreconf.log" >&2; die "autoreconf failed"; }
log "configure $CONFIGURE_FLAGS"
# shellcheck disable=SC2086
./configure --prefix="$PREFIX" $CONFIGURE_FLAGS \
	CFLAGS="$BUILD_CFLAGS" CPPFLAGS="$BUILD_CPPFLAGS" \
	>"$WORK/rampart-configure.log" 2>&1 ||
	{ tail -40 "$WORK/rampart-configure.log" >&2; die "configure failed (see $WORK/config.log)"; }
if [ -n "$FAST_FLAGS" ]; then
	for d in WOLFSSL_AESNI USE_INTEL_SPEEDUP WOLFSSL_SP_X86_64_ASM; do
		grep -q "^#define $d\$" wolfssl/options.h ||
			die "configure did not enable $d (wolfssl/options.h)"
	done
fi
JOBS=$(nproc 2>/dev/null || echo 2)
# Only the library: no test suite, benchmark or examples (CI time).
log "make src/libwolfssl.la (-j$JOBS)"
make -j"$JOBS" src/libwolfssl.la >"$WORK/rampart-make.log" 2>&1 ||
	{ tail -40 "$WORK/rampart-make.log" >&2; die "make failed"; }

# Install into a staging dir and move it into place, so a failed install
# never leaves a half-written prefix that looks usable. install-exec and
# install-data do not rebuild 'all' (test programs).
STAGE=$TP/build/wolfssl-stage
rm -rf "$STAGE"
make install-exec install-data DESTDIR="$STAGE" >"$WORK/rampart-install.log" 2>&1 ||
	{ tail -40 "$WORK/rampart-install.log" >&2; die "make install failed"; }
[ -f "$STAGE$PREFIX/lib/libwolfssl.a" ] || die "install produced no libwolfssl.a"
# A distro build does not install options.h (Multi-Arch); Debian's
# libwolfssl-dev.install copies it by hand, and so do we: it is the file that
# tells our code which features the library has.
install -m 644 wolfssl/options.h "$STAGE$PREFIX/include/wolfssl/options.h"
[ -f cyassl/options.h ] && install -m 644 cyassl/options.h "$STAGE$PREFIX/include/cyassl/options.h"
rm -f "$STAGE$PREFIX"/lib/libwolfssl.so* "$STAGE$PREFIX"/lib/libwolfssl.la
rm -rf "$STAGE$PREFIX/share" "$STAGE$PREFIX/bin"
rm -rf "$PREFIX"
mv "$STAGE$PREFIX" "$PREFIX"
rm -rf "$STAGE"
echo "$STAMP_WANT" >"$PREFIX/.rampart-stamp"
log "installed $STAMP_WANT into $PREFIX"
if [ -n "$FAST_FLAGS" ] && ! grep -qw aes /proc/cpuinfo 2>/dev/null; then
	log "note: this CPU has no AES-NI; the library falls back to its C AES at run time"
fi
log "meson picks it up by itself (wolfssl_backend=auto); reconfigure the build dir"
