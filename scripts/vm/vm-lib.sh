# Shared helpers for the VM harness scripts (sourced, not run).

# Print a loud SKIP line and exit 77 (meson's and automake's "skipped").
vm_skip() {
	echo "SKIP: $*"
	echo "SKIP: $*" >&2
	exit 77
}

# Where the extracted kernel and the initramfs are kept.
vm_cache_dir() {
	if [ -n "${RAMPART_VM_CACHE:-}" ]; then
		echo "$RAMPART_VM_CACHE"
	elif mkdir -p /var/cache/rampart-vm 2>/dev/null && [ -w /var/cache/rampart-vm ]; then
		echo /var/cache/rampart-vm
	else
		echo "${XDG_CACHE_HOME:-$HOME/.cache}/rampart-vm"
	fi
}
