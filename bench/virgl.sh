#!/usr/bin/env bash
# virgl.sh: kmscube frames per second in the GL guest (build/guest-gl, test
# "cube" with govm.frames=N), with virtio-gpu + virgl on the host's llvmpipe:
#
#   govm       build/govm run --gpu virgl --display headless
#   govm gles  build/govm run --gpu virgl,gles --display headless
#   QEMU       qemu-system-x86_64 -M microvm,pit=on -enable-kvm
#              -device virtio-gpu-gl-device
#              -display egl-headless,rendernode=/dev/null
#   native     kmscube -D /dev/dri/card0 -v WxH -c N in L1 itself, straight
#              on llvmpipe (Mesa's kms_swrast): the ceiling, no VMM at all
#
# All inside one run of the nested-KVM harness (scripts/nested.sh), where a
# stock Linux guest boots under real KVM, interleaved run by run. The figure
# is kmscube's own: its last line, "Rendered N frames in S sec (F fps)",
# which leaves out the first frame (shader compilation). In the harness L1
# itself runs under QEMU's TCG, and so does the host side's llvmpipe: the
# numbers compare the VMMs with each other, not with real hardware.
#
# kmscube needs a DRM/KMS device. This host has none, nor has L1 on its
# own, and Debian's kernel is built without vkms (CONFIG_DRM_VKMS is not
# set); but QEMU gives L1 a standard VGA card (PCI 1234:1111). So for the
# native runs only, the inner part loads its driver, bochs-drm, from the
# L1 kernel's own package (modprobe -d build/debs/x/linux-image-*), and
# removes it again before the VMMs run. bochs-drm makes card0 and no render
# node, so govm, which takes /dev/dri/renderD128 when it exists, could not
# pick it up anyway; the script checks both. kmscube runs with the
# bench/gbm-linear.c shim preloaded (see there: without it the first mode
# set fails with EINVAL). Where /dev/dri/card0 already exists, it is used
# as it is.
#
# Environment:
#   BENCH_VIRGL_FRAMES  frames per kmscube run (default 100)
#   BENCH_VIRGL_RUNS    runs per VMM (default 2; the median is reported)
#   BENCH_VIRGL_RES     display size WxH (default 640x480)
#   BENCH_VIRGL_QEMU    1 (default) or 0: also measure QEMU
#   BENCH_VIRGL_NATIVE  1 (default) or 0: also measure kmscube natively
#
# Prints a table; raw logs go to build/bench/virgl/. Exit status 0 when govm
# was measured (a QEMU failure is reported in the table).
# Internal: "virgl.sh --inner DIR" is what runs inside the harness.
set -euo pipefail
PROG=virgl
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$GOVM_ROOT"

FRAMES=${BENCH_VIRGL_FRAMES:-100}
RUNS=${BENCH_VIRGL_RUNS:-2}
RES=${BENCH_VIRGL_RES:-640x480}
WITH_QEMU=${BENCH_VIRGL_QEMU:-1}
WITH_NATIVE=${BENCH_VIRGL_NATIVE:-1}
for v in FRAMES RUNS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number, not '${!v}'"
done
[[ $RES =~ ^([0-9]+)x([0-9]+)$ ]] || die "BENCH_VIRGL_RES must be WxH, not '$RES'"
W=${BASH_REMATCH[1]} H=${BASH_REMATCH[2]}

readonly GUEST_MEM=1536M
GUEST=build/guest-gl
GOVM=build/govm
QEMU=qemu-system-x86_64
# One run: boot (~20 s in the harness), kmscube start-up (~5 s), the frames
# (llvmpipe under TCG: tens of frames per second, QEMU about one).
RUN_TIMEOUT=${BENCH_VIRGL_TIMEOUT:-$((FRAMES * 2 + 240))}
CMDLINE="console=ttyS0 quiet panic=-1 govm.test=cube govm.frames=$FRAMES"
out=$BENCH_OUT/virgl
# The native runs: the DRM driver of QEMU's standard VGA, which L1 has,
# and the LD_PRELOAD shim (bench/gbm-linear.c), built into the share.
readonly NATIVE_DRIVER=bochs
SHIM=gbm-linear.so
# How long to wait for /dev/dri/card0 after modprobe, in tenths of a second.
readonly CARD_WAIT_TENTHS=50

# kmscube_fps LOG: the frame rate of kmscube's last "Rendered" line.
kmscube_fps() {
	sed -n 's/^Rendered [0-9]* frames in [0-9.]* sec (\([0-9.]*\) fps).*/\1/p' "$1" | tail -1
}

# native_up LOG: make /dev/dri/card0 exist for the native run: the
# machine's own, or in the nested harness L1's standard VGA through
# NATIVE_DRIVER, loaded from the unpacked package of the kernel L1 runs
# (read-only, seen through the harness's 9p root). Sets native_tree when it
# loaded the driver. On failure it says why in LOG and returns 1.
native_tree=
native_up() {
	local log=$1 kver tree i
	[[ -e /dev/dri/card0 ]] && return 0
	if [[ -z ${GOVM_NESTED:-} ]]; then
		echo "native: no /dev/dri/card0" >>"$log"
		return 1
	fi
	kver=$(uname -r)
	tree=$(compgen -G "$GOVM_ROOT/build/debs/x/linux-image-${kver}_*" | head -n1) || true
	if [[ -z $tree || ! -e $tree/lib/modules/$kver/modules.dep ]]; then
		echo "native: no unpacked kernel package for $kver with a modules.dep under build/debs/x" >>"$log"
		return 1
	fi
	if ! modprobe -d "$tree" "$NATIVE_DRIVER" >>"$log" 2>&1; then
		echo "native: modprobe -d $tree $NATIVE_DRIVER failed" >>"$log"
		return 1
	fi
	native_tree=$tree
	for ((i = 0; i < CARD_WAIT_TENTHS; i++)); do
		[[ -e /dev/dri/card0 ]] && return 0
		sleep 0.1
	done
	echo "native: $NATIVE_DRIVER loaded but no /dev/dri/card0 (no standard VGA in L1?)" >>"$log"
	return 1
}

# native_down LOG: unload what native_up loaded (the driver and the DRM
# modules it pulled in). Returns 1 if a DRM device is left behind.
native_down() {
	local log=$1
	[[ -n $native_tree ]] || return 0
	modprobe -r -d "$native_tree" "$NATIVE_DRIVER" >>"$log" 2>&1 ||
		echo "native: modprobe -r $NATIVE_DRIVER failed" >>"$log"
	native_tree=
	if compgen -G '/dev/dri/*' >/dev/null; then
		echo "native: a DRM device is left after unloading $NATIVE_DRIVER: $(echo /dev/dri/*)" >>"$log"
		return 1
	fi
	return 0
}

# native_run LOG: kmscube on /dev/dri/card0 as the guest runs it (same
# frames, legacy page flips, the mode matching the guest's display), on
# this machine's llvmpipe. Sets fps (empty on failure). Returns 1 when the
# DRM device could not be removed again: no more native runs then, since
# the VMMs must not run next to it.
native_run() {
	local log=$1 fifo rc=0 shim=
	fps=
	: >"$log"
	if ! native_up "$log"; then
		native_down "$log"
		return
	fi
	[[ -e /dev/dri/renderD128 ]] && echo "native: warning: /dev/dri/renderD128 exists" >>"$log"
	[[ -e $SHIM ]] && shim=$SHIM
	# kmscube stops at the first byte it can read on stdin, and /dev/null is
	# always readable: give it an empty FIFO, held open read-write.
	fifo=$(mktemp -u /tmp/virgl-stdin.XXXXXX)
	mkfifo "$fifo"
	exec 3<>"$fifo"
	rm -f "$fifo"
	MESA_SHADER_CACHE_DISABLE=true LD_PRELOAD=$shim \
		timeout -k 10 "$RUN_TIMEOUT" kmscube -D /dev/dri/card0 -v "$RES" -c "$FRAMES" <&3 >>"$log" 2>&1 || rc=$?
	exec 3<&-
	[[ $rc == 0 ]] && fps=$(kmscube_fps "$log")
	[[ $rc == 0 ]] || echo "native: kmscube exited with status $rc" >>"$log"
	native_down "$log"
}

# inner DIR: the measurement proper, inside the harness. Writes one line
# per run, "VMM fps wall_s", to DIR/results.txt, and what the native runs
# ran on (or why they did not) to DIR/native.txt.
inner() {
	local dir=$1 i vmm log t0 fps
	mkdir -p "$dir"
	: >"$dir/results.txt"
	SHIM=$dir/$SHIM
	if [[ $WITH_NATIVE == 1 ]]; then
		if ! command -v kmscube >/dev/null; then
			echo "kmscube is not installed (Debian package kmscube)" >"$dir/native.txt"
			WITH_NATIVE=0
		elif [[ -e /dev/dri/card0 ]]; then
			echo "the machine's own /dev/dri/card0" >"$dir/native.txt"
		else
			echo "bochs-drm (QEMU standard VGA in L1), loaded for these runs only" >"$dir/native.txt"
		fi
	fi
	# Round by round, so that a change in the machine's load hits all alike.
	# The native run comes first and its DRM device is gone before the VMMs
	# start.
	for ((i = 1; i <= RUNS; i++)); do
		for vmm in native govm govm-gles qemu; do
			[[ $vmm == qemu && $WITH_QEMU != 1 ]] && continue
			[[ $vmm == native && $WITH_NATIVE != 1 ]] && continue
			log=$dir/$vmm-$i.log
			log "run $i: $vmm"
			t0=$SECONDS
			case $vmm in
			native)
				native_run "$log" || {
					log "the DRM device for the native runs stays: no more native runs"
					WITH_NATIVE=0
				}
				[[ -n $fps ]] || log "run $i: native failed: $(grep -v extensions: "$log" | tail -3 | tr '\n' ' ')"
				;;
			govm | govm-gles)
				local mode=virgl
				[[ $vmm == govm-gles ]] && mode=virgl,gles
				timeout -k 10 "$RUN_TIMEOUT" "$GOVM" run --kernel "$GUEST/vmlinuz" --initrd "$GUEST/initrd.img" \
					--mem "$GUEST_MEM" --gpu "$mode" --display headless --resolution "$RES" \
					--timeout "${RUN_TIMEOUT}s" --append "$CMDLINE" </dev/null >"$log" 2>&1 || true
				;;
			qemu)
				timeout -k 10 "$RUN_TIMEOUT" "$QEMU" -M microvm,pit=on -enable-kvm -cpu host -m "$GUEST_MEM" \
					-nodefaults -no-reboot -serial stdio \
					-kernel "$GUEST/vmlinuz" -initrd "$GUEST/initrd.img" -append "$CMDLINE" \
					-global virtio-mmio.force-legacy=false \
					-device "virtio-gpu-gl-device,xres=$W,yres=$H" \
					-display egl-headless,rendernode=/dev/null </dev/null >"$log" 2>&1 || true
				;;
			esac
			if [[ $vmm != native ]]; then
				fps=$(kmscube_fps "$log")
				grep -q GOVM-CUBE-DONE "$log" || fps=
			fi
			echo "$vmm ${fps:--} $((SECONDS - t0))" >>"$dir/results.txt"
			log "run $i: $vmm: ${fps:-failed} fps, $((SECONDS - t0)) s"
		done
	done
}

if [[ ${1:-} == --inner ]]; then
	[[ -n ${2:-} ]] || die "--inner wants a directory"
	inner "$2"
	exit 0
fi

[[ -x $GOVM ]] || die "$GOVM is missing: run make build"
[[ -s $GUEST/initrd.img ]] || die "$GUEST/initrd.img is missing: run make guest-gl"
mkdir -p "$out"
rm -f "$out"/*.log "$out"/results.txt "$out"/native.txt "$out/$SHIM"
# The shim for the native runs is built here, where there is a compiler
# (L1 runs this machine's binaries, so it fits there too).
if [[ $WITH_NATIVE == 1 ]]; then
	cc -shared -fPIC -O2 -o "$out/$SHIM" bench/gbm-linear.c -ldl ||
		log "cannot build bench/gbm-linear.c: the native runs go without it (and will likely fail)"
fi
# The share is where the harness writes back: the run's logs and results.
kinds=$((2 + WITH_QEMU + WITH_NATIVE))
timeout_s=$((RUNS * kinds * (RUN_TIMEOUT + 20) + 300))
log "running $RUNS x ($([[ $WITH_NATIVE == 1 ]] && echo "native, ")govm, govm gles$([[ $WITH_QEMU == 1 ]] && echo ", QEMU")) in the nested harness, $FRAMES frames each"
scripts/nested.sh --timeout "$timeout_s" --share "$out" -- \
	env BENCH_VIRGL_FRAMES="$FRAMES" BENCH_VIRGL_RUNS="$RUNS" BENCH_VIRGL_RES="$RES" \
	BENCH_VIRGL_QEMU="$WITH_QEMU" BENCH_VIRGL_NATIVE="$WITH_NATIVE" BENCH_VIRGL_TIMEOUT="$RUN_TIMEOUT" \
	bench/virgl.sh --inner "$out" >"$out/nested.log" 2>&1 ||
	log "the nested run failed (status $?): see $out/nested.log"
[[ -s $out/results.txt ]] || die "no results: see $out/nested.log"

# row VMM: "median_fps runs_ok/runs median_wall_s" for VMM.
row() {
	local fps=() walls=() n=0
	while read -r vmm f wall; do
		[[ $vmm == "$1" ]] || continue
		n=$((n + 1))
		[[ $f == - ]] && continue
		fps+=("$f")
		walls+=("$wall")
	done <"$out/results.txt"
	printf '%s %s/%s %s\n' "$(median "${fps[@]}")" "${#fps[@]}" "$n" "$(median "${walls[@]}")"
}

qemu_name=$("$QEMU" --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9.]*\).*/QEMU \1/p' | head -1) || true
printf '\nkmscube (smooth, %s, legacy page flips), %d frames per run, median over the runs; inside the nested harness\n' "$RES" "$FRAMES"
printf '%s\n\n' "$(machine_desc)"
printf '| VMM | kmscube fps | runs ok | wall s per run | how |\n|---|---|---|---|---|\n'
read -r f ok wall <<<"$(row govm)"
printf '| govm | %s | %s | %s | --gpu virgl (desktop GL on llvmpipe, EGL surfaceless) |\n' "$(fmt "$f" %.1f)" "$ok" "$wall"
read -r f ok wall <<<"$(row govm-gles)"
printf '| govm | %s | %s | %s | --gpu virgl,gles (GLES on llvmpipe) |\n' "$(fmt "$f" %.1f)" "$ok" "$wall"
if [[ $WITH_QEMU == 1 ]]; then
	read -r f ok wall <<<"$(row qemu)"
	printf '| %s | %s | %s | %s | microvm, virtio-gpu-gl-device, egl-headless on llvmpipe |\n' "${qemu_name:-QEMU}" "$(fmt "$f" %.1f)" "$ok" "$wall"
fi
if [[ $WITH_NATIVE == 1 ]]; then
	read -r f ok wall <<<"$(row native)"
	printf '| native (L1) | %s | %s | %s | kmscube -v %s on llvmpipe (kms_swrast), %s |\n' \
		"$(fmt "$f" %.1f)" "$ok" "$wall" "$RES" "$(cat "$out/native.txt" 2>/dev/null || echo '?')"
fi
fps_of() { row "$1" | cut -d' ' -f1; }
printf '\ngovm/QEMU: %s, govm gles/QEMU: %s\n' "$(ratio "$(fps_of govm)" "$(fps_of qemu)")" "$(ratio "$(fps_of govm-gles)" "$(fps_of qemu)")"
if [[ $WITH_NATIVE == 1 ]]; then
	printf 'govm/native: %s, govm gles/native: %s, QEMU/native: %s\n' "$(ratio "$(fps_of govm)" "$(fps_of native)")" \
		"$(ratio "$(fps_of govm-gles)" "$(fps_of native)")" "$(ratio "$(fps_of qemu)" "$(fps_of native)")"
fi
