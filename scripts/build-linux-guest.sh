#!/usr/bin/env bash
# build-linux-guest.sh [OUTDIR]: build the tiny Linux guest from Debian
# packages, without installing them into the host.
#
# OUTDIR (default build/guest) receives:
#   vmlinuz         the stock Debian bzImage (linux-image-amd64's kernel)
#   vmlinux         the same kernel as an ELF, for govm's PVH entry
#   kernel-version  its release string, e.g. 6.1.0-56-amd64
#   initrd.img      gzip newc cpio: busybox-static, the virtio/drm/evdev
#                   modules with their dependencies, guest-images/linux/init
#                   and guest-images/linux/tests/
# The .deb files stay in build/debs, so reruns are fast and offline.
set -euo pipefail
PROG=build-linux-guest
# shellcheck source=lib-debian.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-debian.sh"

SRC=$GOVM_ROOT/guest-images/linux
OUT=${1:-$GOVM_ROOT/build/guest}
case $OUT in -h | --help)
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)

need_tools apt-get apt-cache dpkg-deb cpio gzip awk
cache_lock
ensure_apt_lists

log "step 1/5: busybox-static"
BB=$(busybox_from_deb)

log "step 2/5: kernel package"
read -r KDIR KVER <<<"$(kernel_tree)"
log "kernel $KVER"

log "step 3/5: root tree"
STAGE=$OUT/.rootfs
rm -rf "$STAGE"
mkdir -p "$STAGE"/{etc,proc,sys,dev,tmp,root,tests}
chmod 1777 "$STAGE/tmp"
install_busybox "$BB" "$STAGE"
console_node "$STAGE"
install -m 755 "$SRC/init" "$STAGE/init"
for t in "$SRC"/tests/*; do
	install -m 755 "$t" "$STAGE/tests/$(basename "$t")"
done

log "step 4/5: modules"
mapfile -t MODS < <(read_list "$SRC/modules-guest.txt")
MODDIR=$STAGE/lib/modules/$KVER
copy_modules "$KDIR/lib/modules/$KVER" "$MODDIR" "${MODS[@]}" >/dev/null
run_depmod "$STAGE" "$KVER"
printf '%s\n' "${MODS[@]}" >"$STAGE/etc/govm-modules"
log "$(find "$MODDIR" -name '*.ko' | wc -l) modules, $(du -sk "$MODDIR" | cut -f1) KiB"

log "step 5/5: initrd.img and vmlinuz"
make_cpio "$STAGE" "$OUT/initrd.img"
cp "$KDIR/boot/vmlinuz-$KVER" "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
printf '%s\n' "$KVER" >"$OUT/kernel-version"
rm -rf "$STAGE"
if [[ ! -s $OUT/vmlinux || $OUT/vmlinux -ot $OUT/vmlinuz ]]; then
	log "extracting the ELF vmlinux (for the PVH boot path)"
	"$GOVM_ROOT/scripts/extract-vmlinux.sh" "$OUT/vmlinuz" "$OUT/vmlinux"
fi
log "done: $OUT/vmlinuz ($KVER), $OUT/initrd.img ($(du -k "$OUT/initrd.img" | cut -f1) KiB)"
