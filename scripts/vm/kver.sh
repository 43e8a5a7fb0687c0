#!/bin/sh
# Print the version of the Debian kernel the VM harness boots and rampart.ko
# is built against (e.g. 6.1.0-56-amd64).  The host may run another kernel
# (with no headers), so `uname -r` is the wrong answer here.
#
# Order: $RAMPART_KVER if set; the version the linux-image-amd64 metapackage
# depends on; else the newest /lib/modules/<v> that has /boot/vmlinuz-<v>.
# Exits 1 (printing nothing) when there is no such kernel.
set -u

if [ -n "${RAMPART_KVER:-}" ]; then
	echo "$RAMPART_KVER"
	exit 0
fi

if command -v dpkg-query >/dev/null 2>&1; then
	v=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null |
		sed -n 's/^.*linux-image-\([0-9][^ ,]*\).*$/\1/p')
	if [ -n "$v" ] && [ -d "/lib/modules/$v" ]; then
		echo "$v"
		exit 0
	fi
fi

best=
for v in $(ls /lib/modules 2>/dev/null | sort -V); do
	[ -f "/boot/vmlinuz-$v" ] && best=$v
done
[ -n "$best" ] || exit 1
echo "$best"
