#!/bin/sh
# build-libsrtp.sh: build Debian's libsrtp2 source with the OpenSSL crypto
# backend, static and -fPIC, into third_party/libsrtp2-openssl/.
#
# Why: Debian's libsrtp2 is built on NSS and is several times slower per
# packet than the same library on OpenSSL's libcrypto (docs/srtp.md).
# mediad/meson.build picks the build up from that prefix when it exists.
#
# The source comes from `apt-get source` with a private apt configuration
# (own deb-src list, own lists/cache dirs), derived from the Debian mirror the
# machine already uses; the machine's apt sources and state are not touched.
# Idempotent: does nothing if the prefix already holds the same version built
# with the same flags. Needs: dpkg-dev (dpkg-source), libssl-dev, make, a C
# compiler.
#
# Environment:
#   LIBSRTP_VERSION  Debian version to build (default: the installed
#                    libsrtp2-1 version, else the apt candidate)
#   FORCE=1          rebuild even if the stamp matches
#   RUN_TESTS=1      also run libsrtp's own test suite (make runtest)
set -eu

die() { echo "build-libsrtp: error: $*" >&2; exit 1; }
log() { echo "build-libsrtp: $*"; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TP=$ROOT/third_party
PREFIX=$TP/libsrtp2-openssl
SRC=$TP/src/libsrtp2
WORK=$TP/build/libsrtp2
APTDIR=$TP/build/apt
CONFIGURE_FLAGS="--enable-openssl --disable-debug-logging"
BUILD_CFLAGS="-O2 -g -fPIC"
FLAGS_ID="v2 aes192-kdf-fix $CONFIGURE_FLAGS $BUILD_CFLAGS"

for tool in apt-get dpkg-source make cc patch; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "'$tool' not found (apt-get install dpkg-dev build-essential)"
done
pkg-config --exists libcrypto 2>/dev/null || [ -e /usr/include/openssl/evp.h ] ||
	die "OpenSSL headers not found (apt-get install libssl-dev)"

VERSION=${LIBSRTP_VERSION:-}
if [ -z "$VERSION" ]; then
	VERSION=$(dpkg-query -W -f '${Version}' libsrtp2-1 2>/dev/null || true)
fi
if [ -z "$VERSION" ]; then
	VERSION=$(apt-cache policy libsrtp2-1 2>/dev/null |
		awk '/Candidate:/ { print $2; exit }')
fi
[ -n "$VERSION" ] && [ "$VERSION" != "(none)" ] ||
	die "cannot tell which libsrtp2 version to build; set LIBSRTP_VERSION"

STAMP_WANT="libsrtp2 $VERSION | $FLAGS_ID"
if [ "${FORCE:-0}" != 1 ] && [ -f "$PREFIX/.rampart-stamp" ] &&
	[ "$(cat "$PREFIX/.rampart-stamp")" = "$STAMP_WANT" ] &&
	[ -f "$PREFIX/lib/libsrtp2.a" ]; then
	log "already built: $STAMP_WANT in $PREFIX"
	exit 0
fi

mkdir -p "$TP/build" "$TP/src"
# One build at a time (several developers share the tree).
exec 9>"$TP/build/.libsrtp.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9 || die "cannot lock $TP/build/.libsrtp.lock"
fi

# --- fetch and unpack (private apt configuration: scripts/debsrc.sh) -------
. "$ROOT/scripts/debsrc.sh"
debsrc_prepare "$APTDIR"
debsrc_fetch "$APTDIR" "$SRC" libsrtp2 "$VERSION"
UNPACKED=
for d in "$SRC"/libsrtp2-*/; do
	[ -f "$d/configure" ] && UNPACKED=${d%/}
done
[ -n "$UNPACKED" ] || die "no unpacked libsrtp2 source tree with a configure script in $SRC"

# --- build -----------------------------------------------------------------
rm -rf "$WORK"
cp -a "$UNPACKED" "$WORK"
cd "$WORK"

# libsrtp up to 2.7 derives AES-192 session keys with the AES-256 PRF over
# key || salt, so AES_192_CM_* does not interoperate with RFC 6188 peers
# (libsrtp issue 763, fixed upstream in 2025). Our own one-line fix; skipped
# when the source already has a fix of its own.
if grep -q 'kdf_keylen = 46; /\* AES-CTR mode is always used for KDF \*/' srtp/srtp.c &&
	! grep -q 'Rampart: AES-192' srtp/srtp.c &&
	! grep -q 'kdf_keylen = 38' srtp/srtp.c; then
	patch -p1 --no-backup-if-mismatch >"$WORK/rampart-patch.log" 2>&1 <<'PATCH' ||
--- a/srtp/srtp.c
+++ b/srtp/srtp.c
@@ -1005,6 +1005,13 @@
         kdf_keylen = 46; /* AES-CTR mode is always used for KDF */
     }
 
+    /* Rampart: AES-192 keys take the AES-192 PRF (RFC 6188 section 7.4),
+     * not AES-256 over key || salt (libsrtp issue 763). */
+    if (kdf_keylen == 46 && rtp_keylen > 30 && rtp_keylen <= 38 &&
+        rtcp_keylen <= 38 && input_keylen <= 38) {
+        kdf_keylen = 38;
+    }
+
     debug_print(mod_srtp, "input key len: %d", input_keylen);
     debug_print(mod_srtp, "srtp key len: %d", rtp_keylen);
     debug_print(mod_srtp, "srtcp key len: %d", rtcp_keylen);
PATCH
		{ cat "$WORK/rampart-patch.log" >&2; die "the AES-192 KDF fix does not apply to libsrtp2 $VERSION"; }
	log "applied the AES-192 KDF fix"
fi
log "configure $CONFIGURE_FLAGS (CFLAGS=$BUILD_CFLAGS)"
# shellcheck disable=SC2086
./configure --prefix="$PREFIX" $CONFIGURE_FLAGS CFLAGS="$BUILD_CFLAGS" \
	>"$WORK/rampart-configure.log" 2>&1 ||
	{ tail -40 "$WORK/rampart-configure.log" >&2; die "configure failed (see $WORK/config.log)"; }
grep -q '^#define OPENSSL 1' crypto/include/config.h 2>/dev/null ||
	grep -q '^#define OPENSSL 1' config.h 2>/dev/null ||
	die "configure did not enable the OpenSSL backend"
JOBS=$(nproc 2>/dev/null || echo 2)
make -j"$JOBS" libsrtp2.a >"$WORK/rampart-make.log" 2>&1 ||
	{ tail -40 "$WORK/rampart-make.log" >&2; die "make failed"; }
if [ "${RUN_TESTS:-0}" = 1 ]; then
	make -j"$JOBS" runtest >"$WORK/rampart-test.log" 2>&1 ||
		{ tail -40 "$WORK/rampart-test.log" >&2; die "libsrtp's own tests failed"; }
	log "libsrtp runtest passed"
fi

# Install into a staging dir and move it into place, so a failed install
# never leaves a half-written prefix that looks usable.
STAGE=$TP/build/libsrtp2-stage
rm -rf "$STAGE"
make install DESTDIR="$STAGE" >"$WORK/rampart-install.log" 2>&1 ||
	{ tail -40 "$WORK/rampart-install.log" >&2; die "make install failed"; }
[ -f "$STAGE$PREFIX/lib/libsrtp2.a" ] || die "install produced no libsrtp2.a"
# Static library: only the archive, so nothing can pick a shared copy.
rm -f "$STAGE$PREFIX"/lib/libsrtp2.so*
rm -rf "$PREFIX"
mv "$STAGE$PREFIX" "$PREFIX"
rm -rf "$STAGE"
echo "$STAMP_WANT" >"$PREFIX/.rampart-stamp"
log "installed $STAMP_WANT into $PREFIX"
log "meson picks it up by itself (srtp_backend=auto); pkg-config: PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig"
