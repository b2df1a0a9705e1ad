#!/usr/bin/env bash
# build-gl-guest.sh [OUTDIR]: build the OpenGL guest: the tiny Linux guest
# (build/guest) plus Mesa with its virtio_gpu driver, kmscube and
# glmark2-es2-drm, from Debian packages, without installing them into the host.
#
# OUTDIR (default build/guest-gl) receives:
#   vmlinuz, kernel-version  the tiny guest's kernel (copied)
#   initrd.img   two concatenated initramfs archives: the tiny guest's
#                (busybox, modules, init) and a zstd layer with the GL
#                userland and guest-images/linux-gl/tests/ under /tests
#   packages.txt the Debian packages in the layer, with their versions
# The layer is one initramfs rather than a disk image: the guest needs no
# block device or mount, and the harness need not copy a disk image into
# L1's tmpfs (see guest-images/linux-gl/README.md for the measurements).
# The .deb files stay in build/debs, so reruns are fast and offline.
set -euo pipefail
PROG=build-gl-guest
# shellcheck source=lib-debian.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-debian.sh"

SRC=$GOVM_ROOT/guest-images/linux-gl
TINY=${GOVM_TINY_GUEST:-$GOVM_ROOT/build/guest}
OUT=${1:-$GOVM_ROOT/build/guest-gl}
case $OUT in -h | --help)
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac
# The packages the guest asks for; their Depends and Pre-Depends follow.
mapfile -t WANT < <(read_list "$SRC/packages.txt")
# The ELF files that must load in the guest: checked in a chroot.
CHECK_ELF=(
	usr/bin/kmscube
	usr/bin/glmark2-es2-drm
	usr/lib/x86_64-linux-gnu/dri/virtio_gpu_dri.so
	usr/lib/x86_64-linux-gnu/libEGL_mesa.so.0
	usr/lib/x86_64-linux-gnu/libGLESv2.so.2
	usr/bin/stdbuf
)
# Single files taken from a package without the rest of it (nor its
# dependencies): stdbuf makes kmscube's stdout line-buffered into a file,
# so that the cube test can follow its frame count.
PICK_PKG=coreutils
PICK_FILES=(usr/bin/stdbuf usr/libexec/coreutils/libstdbuf.so)
# What the guest never reads: documentation, translations, and the iso-codes
# tables (pulled in by GStreamer, which kmscube links for its video mode).
PRUNE=(usr/share/doc usr/share/man usr/share/info usr/share/locale usr/share/lintian
	usr/share/bug usr/share/gtk-doc usr/share/iso-codes usr/share/xml/iso-codes usr/share/i18n)
# zstd level for the layer: the guest kernel decompresses zstd several times
# faster than gzip, and level 10 keeps the build at a few seconds.
ZSTD_LEVEL=10

mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
need_tools apt-get apt-cache dpkg-deb cpio zstd chroot ldconfig awk

t0=$SECONDS
if [[ ! -s $TINY/initrd.img || ! -s $TINY/vmlinuz ]]; then
	log "step 0/6: the tiny guest is missing: scripts/build-linux-guest.sh $TINY"
	"$GOVM_ROOT/scripts/build-linux-guest.sh" "$TINY"
fi
cache_lock
ensure_apt_lists

# resolve PKG...: print PKG... and everything they need through Depends and
# Pre-Depends, each once. apt-cache follows every alternative and virtual
# package; that only adds a few small libraries.
resolve() {
	apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances "$@" 2>/dev/null |
		awk '/^[a-z0-9]/ { print $1 }' | LC_ALL=C sort -u
}

log "step 1/6: resolving ${WANT[*]}"
mapfile -t PKGS < <(resolve "${WANT[@]}")
((${#PKGS[@]} > ${#WANT[@]})) || die "apt-cache depends resolved nothing (apt lists missing?)"
log "${#PKGS[@]} packages"

log "step 2/6: fetching and unpacking"
# One apt-get call for all the URIs and one for all the missing files:
# apt-get takes about a second per call, whatever it does.
mapfile -t URIS < <(apt-get download --print-uris "${PKGS[@]}" 2>/dev/null | awk '{ print $2 }')
((${#URIS[@]} == ${#PKGS[@]})) || die "apt-get download --print-uris gave ${#URIS[@]} files for ${#PKGS[@]} packages"
MISSING=()
for f in "${URIS[@]}"; do
	[[ -s $DEB_CACHE/$f ]] || MISSING+=("$(cut -d_ -f1 <<<"$f")")
done
if ((${#MISSING[@]})); then
	log "downloading ${#MISSING[@]} packages into $DEB_CACHE"
	(cd "$DEB_CACHE" && apt-get download "${MISSING[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
		die "apt-get download failed"
fi
DIRS=()
i=0
for f in "${URIS[@]}"; do
	i=$((i + 1))
	[[ -s $DEB_CACHE/$f ]] || die "apt-get download did not produce $f"
	DIRS+=("$(unpack_deb "$DEB_CACHE/$f" 2>/dev/null)")
	if [[ -t 2 ]]; then
		printf '\r%s: [%d/%d] %-60s' "$PROG" "$i" "${#URIS[@]}" "$f" >&2
	elif ((i % 10 == 0 || i == ${#URIS[@]})); then
		log "[$i/${#URIS[@]}] $f"
	fi
done
[[ -t 2 ]] && printf '\n' >&2

log "step 3/6: the GL layer"
STAGE=$OUT/.layer
rm -rf "$STAGE"
mkdir -p "$STAGE/tests" "$STAGE/etc"
: >"$OUT/packages.txt.tmp"
for d in "${DIRS[@]}"; do
	# Hard links into the cache (-l): fast, and Mesa's drivers, which are
	# hard links of one file, stay one file in the archive. The layer's
	# /bin, /usr/bin... must stay real directories, as in the tiny guest.
	(cd "$d" && find . -mindepth 1 ! -name .unpacked ! -name .depmod | cpio --quiet -pdml "$STAGE") ||
		die "cannot copy $d"
	basename "$d" | sed 's/_amd64$\|_all$//; s/%3a/:/; s/_/ /' >>"$OUT/packages.txt.tmp"
done
LC_ALL=C sort -o "$OUT/packages.txt" "$OUT/packages.txt.tmp" && rm -f "$OUT/packages.txt.tmp"
for p in "${PRUNE[@]}"; do rm -rf "${STAGE:?}/$p"; done
pick=$(unpack_deb "$(fetch_deb "$PICK_PKG")")
for f in "${PICK_FILES[@]}"; do
	install -D -m 755 "$pick/$f" "$STAGE/$f" || die "$PICK_PKG has no /$f"
done
echo "$(basename "$pick" | sed 's/_amd64$//; s/%3a/:/; s/_/ /') (only ${PICK_FILES[*]})" >>"$OUT/packages.txt"
for t in "$SRC"/tests/*; do
	install -m 755 "$t" "$STAGE/tests/$(basename "$t")"
done
# The loader finds the libraries through ld.so.cache; libc-bin, which
# ships ld.so.conf, is not a dependency of anything here.
printf 'include /etc/ld.so.conf.d/*.conf\n' >"$STAGE/etc/ld.so.conf"
ldconfig -r "$STAGE" || die "ldconfig -r $STAGE failed"
log "layer: $(du -sm "$STAGE" | cut -f1) MiB in $(find "$STAGE" -type f | wc -l) files"

log "step 4/6: checking that every binary and driver loads (chroot)"
for f in "${CHECK_ELF[@]}"; do
	[[ -e $STAGE/$f ]] || die "the layer lacks /$f"
	out=$(chroot "$STAGE" /lib64/ld-linux-x86-64.so.2 --list "/$f" 2>&1) || die "/$f does not load: $out"
	if grep -q 'not found' <<<"$out"; then
		die "/$f misses libraries: $(grep 'not found' <<<"$out" | tr -s ' \t\n' ' ')"
	fi
	log "  /$f: $(grep -c '=>' <<<"$out") libraries"
done

log "step 5/6: initrd.img (tiny guest + zstd -$ZSTD_LEVEL layer)"
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) |
	zstd -q -T0 "-$ZSTD_LEVEL" -o "$OUT/layer.cpio.zst.tmp" -f || die "cannot write the layer"
cat "$TINY/initrd.img" "$OUT/layer.cpio.zst.tmp" >"$OUT/initrd.img.tmp" || die "cannot write initrd.img"
mv "$OUT/initrd.img.tmp" "$OUT/initrd.img"
rm -f "$OUT/layer.cpio.zst.tmp"

log "step 6/6: kernel"
cp "$TINY/vmlinuz" "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
cp "$TINY/kernel-version" "$OUT/kernel-version"
rm -rf "$STAGE"
log "done in $((SECONDS - t0)) s: $OUT/initrd.img ($(du -m "$OUT/initrd.img" | cut -f1) MiB)"
