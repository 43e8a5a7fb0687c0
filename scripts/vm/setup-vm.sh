#!/bin/sh
# Prepare the kernel-module test VM (idempotent; safe to run again).
#
#   scripts/vm/setup-vm.sh [--no-install]
#
# 1. Installs the Debian packages the harness needs (skipped with
#    --no-install, or when they are all present already).
# 2. Extracts the uncompressed vmlinux from /boot/vmlinuz-<kver>: qemu boots
#    an ELF vmlinux through its PVH entry far faster under TCG than a bzImage.
# 3. Builds a tiny initramfs: static busybox, the 9p/virtio/overlay modules
#    of that kernel, and an /init that overlays a tmpfs on the host's root
#    (shared read-only over 9p) and switch_root's into it.
#
# Output goes to $RAMPART_VM_CACHE (default /var/cache/rampart-vm when
# writable, else ~/.cache/rampart-vm), under a directory named after the
# kernel version.  Prints the path of that directory on the last line.
# Exit codes: 0 ready, 77 cannot be made ready here (reason printed).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/vm-lib.sh"

install=1
[ "${1:-}" = "--no-install" ] && install=0

PKGS="qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static
kmod cpio xz-utils gzip make gcc binutils util-linux
iproute2 ethtool"

missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$install" = 1 ] && [ "$(id -u)" = 0 ]; then
		echo "setup-vm: installing:$missing" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >&2 || true
		# shellcheck disable=SC2086
		apt-get install -y -q --no-install-recommends $missing >&2 ||
			vm_skip "apt-get install$missing failed"
	else
		vm_skip "missing Debian packages:$missing (run scripts/vm/setup-vm.sh as root)"
	fi
fi

kver=$("$here/kver.sh") || vm_skip "no Debian kernel found under /lib/modules + /boot"
vmlinuz=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver
[ -r "$vmlinuz" ] || vm_skip "$vmlinuz not readable"
[ -f "$moddir/modules.dep" ] || vm_skip "$moddir/modules.dep missing"

out=$(vm_cache_dir)/$kver
mkdir -p "$out"

# One setup at a time per cache (meson may start several tests).
exec 9>"$out/.setup.lock"
flock -w 600 9 || vm_skip "timed out waiting for $out/.setup.lock"

# --- vmlinux -------------------------------------------------------------
# A bzImage is a boot stub followed by the compressed kernel; find each xz
# stream magic (FD 37 7A 58 5A 00) and keep the first one that decompresses
# to an ELF image.
extract_vmlinux() {
	src=$1 dst=$2
	for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$src" | cut -d: -f1); do
		tail -c +"$((off + 1))" "$src" | xz -dc --single-stream >"$dst.tmp" 2>/dev/null || true
		if [ "$(head -c 4 "$dst.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
			mv "$dst.tmp" "$dst"
			return 0
		fi
	done
	rm -f "$dst.tmp"
	return 1
}

if [ ! -s "$out/vmlinux" ] || [ "$vmlinuz" -nt "$out/vmlinux" ]; then
	echo "setup-vm: extracting vmlinux from $vmlinuz" >&2
	extract_vmlinux "$vmlinuz" "$out/vmlinux" ||
		vm_skip "no xz-compressed ELF kernel found in $vmlinuz"
fi
# qemu -kernel takes an ELF only through the PVH note (Xen ELF note 18).
if command -v readelf >/dev/null 2>&1; then
	readelf -n "$out/vmlinux" 2>/dev/null | grep -q 'Xen' ||
		vm_skip "$out/vmlinux has no PVH entry note (kernel built without CONFIG_PVH?)"
fi

# --- initramfs -----------------------------------------------------------
# Modules to load, in dependency order.  Some may be built in (nothing to do).
WANT="virtio_pci 9pnet_virtio 9p overlay"

modpath() { # name -> path relative to $moddir, or empty if built in/absent
	sed -n "s#^\(.*/$1\.ko\(\.[a-z]*\)\{0,1\}\):.*#\1#p" "$moddir/modules.dep" | head -n 1
}
moddeps() { # relpath -> its direct dependencies
	grep "^$1:" "$moddir/modules.dep" | cut -d: -f2
}
order=
add_mod() { # relpath: append after its dependencies (depth first, no repeats)
	case " $order " in *" $1 "*) return 0 ;; esac
	for d in $(moddeps "$1"); do add_mod "$d"; done
	case " $order " in *" $1 "*) return 0 ;; esac
	order="$order $1"
}
for m in $WANT; do
	p=$(modpath "$m")
	if [ -z "$p" ]; then
		m2=$(echo "$m" | tr _ -)
		grep -Eq "/($m|$m2)\.ko$" "$moddir/modules.builtin" ||
			vm_skip "kernel $kver has no module $m and does not build it in"
		continue
	fi
	add_mod "$p"
done

stamp="$kver $(cat "$here/setup-vm.sh" "$here/vm-init.sh" | cksum)"
if [ -s "$out/initramfs.cpio.gz" ] && [ "$(cat "$out/initramfs.stamp" 2>/dev/null)" = "$stamp" ] &&
	[ ! "$moddir/modules.dep" -nt "$out/initramfs.cpio.gz" ]; then
	echo "$out"
	exit 0
fi

bb=$(command -v busybox || true)
[ -n "$bb" ] && file_is_static=$(readelf -d "$bb" 2>/dev/null | grep -c NEEDED || true)
[ -n "$bb" ] && [ "${file_is_static:-1}" = 0 ] ||
	vm_skip "static busybox not found (Debian package busybox-static)"

echo "setup-vm: building initramfs for $kver" >&2
root=$(mktemp -d "$out/initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/mods" "$root/proc" "$root/sys" "$root/dev" \
	"$root/lower" "$root/upper" "$root/newroot"
cp "$bb" "$root/bin/busybox"
# The kernel opens /dev/console before /init runs; without it init starts
# with no stdio.  mknod needs root; /init re-opens it from devtmpfs anyway.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
for a in sh mount umount mkdir insmod cat echo sleep switch_root cp ls reboot poweroff; do
	ln -s busybox "$root/bin/$a"
done
i=10
for p in $order; do
	f=$moddir/$p
	n=$(basename "$f")
	case "$n" in
	*.ko.xz) xz -dc "$f" >"$root/mods/$i-${n%.xz}" ;;
	*.ko.zst) zstd -qdc "$f" >"$root/mods/$i-${n%.zst}" ;;
	*.ko.gz) gzip -dc "$f" >"$root/mods/$i-${n%.gz}" ;;
	*) cp "$f" "$root/mods/$i-$n" ;;
	esac
	i=$((i + 1))
done
cp "$here/vm-init.sh" "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
echo "$stamp" >"$out/initramfs.stamp"
echo "$out"
