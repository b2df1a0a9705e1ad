#!/usr/bin/env bash
# deps.sh: install what building and testing govm needs on a fresh Debian
# bookworm machine, and nothing when it is all there already (so reruns
# work offline). Needs root for apt-get.
#
#   Go           the go command; go.mod's toolchain line fetches a newer Go
#                through the module proxy when the installed one is older
#   Debian       gcc (test guest, C exit-loop baseline), cpio/xz/zstd/kmod
#                (guest images), busybox-static, qemu-system-x86 (the
#                nested-KVM harness and the peer benchmarks), acpica-tools
#                (ACPI table tests), util-linux (script, for gokvm),
#                libsdl2-dev (the SDL window), Xvfb, xdotool, ImageMagick
#                (testing the window as a person would), virglrenderer, EGL
#                and Mesa (the virgl 3D backend; llvmpipe without a GPU)
set -euo pipefail

PKGS=(gcc libc6-dev make cpio xz-utils zstd kmod busybox-static qemu-system-x86
	acpica-tools util-linux bsdextrautils ca-certificates iproute2 iputils-ping strace
	libsdl2-dev xvfb xauth xdotool x11-apps imagemagick edid-decode
	libvirglrenderer-dev libepoxy-dev libegl-dev libgles-dev libgl-dev libgbm-dev
	libegl-mesa0 libgl1-mesa-dri mesa-utils)

log() { printf 'deps: %s\n' "$*" >&2; }

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ! command -v go >/dev/null && [[ ! -x /usr/local/go/bin/go ]]; then
	missing+=(golang-go)
fi
if ((${#missing[@]})); then
	if [[ $(id -u) != 0 ]]; then
		log "missing Debian packages: ${missing[*]}; run: sudo apt-get install ${missing[*]}"
		exit 1
	fi
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -q >&2
	apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >&2
else
	log "all Debian packages present"
fi
