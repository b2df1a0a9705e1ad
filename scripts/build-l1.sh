#!/usr/bin/env bash
# build-l1.sh [OUTDIR]: build the initramfs of the L1 VM that scripts/nested.sh
# boots (default OUTDIR build/l1, file l1.cpio.gz). It holds busybox-static,
# kvm-amd, virtio-pci and 9p modules (guest-images/linux/modules-l1.txt plus
# their dependencies) and guest-images/linux/l1-init as /init. The kernel is
# the same Debian package as the guest's (build-linux-guest.sh).
set -euo pipefail
PROG=build-l1
# shellcheck source=lib-debian.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-debian.sh"

SRC=$GOVM_ROOT/guest-images/linux
OUT=${1:-$GOVM_ROOT/build/l1}
case $OUT in -h | --help)
	sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)

need_tools apt-get apt-cache dpkg-deb cpio gzip awk
cache_lock
ensure_apt_lists

log "step 1/4: busybox-static"
BB=$(busybox_from_deb)

log "step 2/4: kernel package"
read -r KDIR KVER <<<"$(kernel_tree)"
log "kernel $KVER"

log "step 3/4: root tree and modules"
STAGE=$OUT/.rootfs
rm -rf "$STAGE"
mkdir -p "$STAGE"/{etc,proc,sys,dev,tmp,host}
install_busybox "$BB" "$STAGE"
console_node "$STAGE"
install -m 755 "$SRC/l1-init" "$STAGE/init"
mapfile -t MODS < <(read_list "$SRC/modules-l1.txt")
# The load order: each module after its dependencies.
copy_modules "$KDIR/lib/modules/$KVER" "$STAGE/lib/modules" "${MODS[@]}" >"$STAGE/etc/l1-modules"
log "$(wc -l <"$STAGE/etc/l1-modules") modules: $(sed 's|.*/||; s|\.ko$||' "$STAGE/etc/l1-modules" | tr '\n' ' ')"

log "step 4/4: l1.cpio.gz"
make_cpio "$STAGE" "$OUT/l1.cpio.gz"
printf '%s\n' "$KVER" >"$OUT/kernel-version"
rm -rf "$STAGE"
log "done: $OUT/l1.cpio.gz ($(du -k "$OUT/l1.cpio.gz" | cut -f1) KiB) for kernel $KVER"
