#!/bin/sh
# /init of the test VM's initramfs (busybox sh; copied in by setup-vm.sh).
# Loads the 9p/virtio/overlay modules, mounts the host's root (9p, read-only)
# under a tmpfs overlay and switch_root's into it, so the guest runs the
# host's own binaries and the freshly built module while all writes stay in
# guest RAM.  switch_root, not chroot: the kernel's module autoloader runs
# /sbin/modprobe in the real root, which must be the host's view.
# Stage 2 (written below into the overlay) runs the test command given by
# run-in-vm.sh through RAMPART_VM_DIR (set from the kernel command line).
PATH=/bin
export PATH

die() {
	echo "@@RAMPART-VM-ERROR $*@@"
	reboot -f
	sleep 5
	echo b >/proc/sysrq-trigger
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
for m in /mods/*.ko; do
	[ -e "$m" ] || continue
	insmod "$m" || die "insmod $m failed"
done

n=0
until mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose \
	hostroot /lower 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 50 ] || die "cannot mount 9p hostroot"
	sleep 0.1
done
mount -t tmpfs -o size=70% tmpfs /upper || die "tmpfs"
mkdir -p /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /newroot ||
	die "cannot mount overlay"

mkdir -p /newroot/.rampart-vm
cp /bin/busybox /newroot/.rampart-vm/busybox
cat >/newroot/.rampart-vm/stage2 <<'STAGE2'
bb=/.rampart-vm/busybox
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
HOME=/root
export PATH HOME
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
$bb mkdir -p /dev/pts /dev/shm
$bb mount -t devpts devpts /dev/pts
$bb mount -t tmpfs tmpfs /dev/shm
$bb mount -t tmpfs tmpfs /run
$bb hostname rampart-vm
$bb ip link set lo up
dir=$RAMPART_VM_DIR
rc=255
if [ -r "$dir/cmd" ]; then
	cd "$($bb cat "$dir/cwd")" || cd /
	[ -r "$dir/env" ] && . "$dir/env"
	echo "@@RAMPART-VM-BEGIN@@"
	/bin/sh "$dir/cmd" </dev/null 2>&1
	rc=$?
else
	echo "@@RAMPART-VM-ERROR no command at $dir/cmd@@"
fi
taint=$($bb cat /proc/sys/kernel/tainted)
echo "@@RAMPART-VM-DMESG@@"
$bb dmesg
echo "@@RAMPART-VM-END rc=$rc taint=$taint@@"
$bb sync
$bb reboot -f
$bb sleep 5
echo b >/proc/sysrq-trigger
STAGE2

umount /proc /sys /dev 2>/dev/null
exec switch_root /newroot /.rampart-vm/busybox sh /.rampart-vm/stage2
