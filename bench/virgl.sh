#!/usr/bin/env bash
# virgl.sh: kmscube frames per second in the GL guest (build/guest-gl, test
# "cube" with govm.frames=N), with virtio-gpu + virgl on the host's llvmpipe:
#
#   govm       build/govm run --gpu virgl --display headless
#   govm gles  build/govm run --gpu virgl,gles --display headless
#   QEMU       qemu-system-x86_64 -M microvm,pit=on -enable-kvm
#              -device virtio-gpu-gl-device
#              -display egl-headless,rendernode=/dev/null
#
# All inside one run of the nested-KVM harness (scripts/nested.sh), where a
# stock Linux guest boots under real KVM, interleaved run by run. The figure
# is kmscube's own: its last line, "Rendered N frames in S sec (F fps)",
# which leaves out the first frame (shader compilation). In the harness L1
# itself runs under QEMU's TCG, and so does the host side's llvmpipe: the
# numbers compare the VMMs with each other, not with real hardware.
#
# The native ceiling (kmscube straight on the host's llvmpipe) cannot be
# measured here: kmscube needs a DRM/KMS device and this host has no
# /dev/dri. Where /dev/dri/card0 exists, it is measured too.
#
# Environment:
#   BENCH_VIRGL_FRAMES  frames per kmscube run (default 100)
#   BENCH_VIRGL_RUNS    runs per VMM (default 2; the median is reported)
#   BENCH_VIRGL_RES     display size WxH (default 640x480)
#   BENCH_VIRGL_QEMU    1 (default) or 0: also measure QEMU
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

# kmscube_fps LOG: the frame rate of kmscube's last "Rendered" line.
kmscube_fps() {
	sed -n 's/^Rendered [0-9]* frames in [0-9.]* sec (\([0-9.]*\) fps).*/\1/p' "$1" | tail -1
}

# inner DIR: the measurement proper, inside the harness. Writes one line
# per run, "VMM fps wall_s", to DIR/results.txt.
inner() {
	local dir=$1 i vmm log t0 fps
	mkdir -p "$dir"
	: >"$dir/results.txt"
	for ((i = 1; i <= RUNS; i++)); do
		for vmm in govm govm-gles qemu; do
			[[ $vmm == qemu && $WITH_QEMU != 1 ]] && continue
			log=$dir/$vmm-$i.log
			log "run $i: $vmm"
			t0=$SECONDS
			case $vmm in
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
			fps=$(kmscube_fps "$log")
			grep -q GOVM-CUBE-DONE "$log" || fps=
			echo "$vmm ${fps:--} $((SECONDS - t0))" >>"$dir/results.txt"
			log "run $i: $vmm: ${fps:-failed} fps, $((SECONDS - t0)) s"
		done
	done
	# The native ceiling, where the host has a DRM device.
	if [[ -e /dev/dri/card0 ]] && command -v kmscube >/dev/null; then
		timeout 120 kmscube -c "$FRAMES" </dev/null >"$dir/native.log" 2>&1 || true
		echo "native $(kmscube_fps "$dir/native.log" || echo -) -" >>"$dir/results.txt"
	fi
}

if [[ ${1:-} == --inner ]]; then
	[[ -n ${2:-} ]] || die "--inner wants a directory"
	inner "$2"
	exit 0
fi

[[ -x $GOVM ]] || die "$GOVM is missing: run make build"
[[ -s $GUEST/initrd.img ]] || die "$GUEST/initrd.img is missing: run make guest-gl"
mkdir -p "$out"
rm -f "$out"/*.log "$out"/results.txt
# The share is where the harness writes back: the run's logs and results.
timeout_s=$((RUNS * 3 * (RUN_TIMEOUT + 20) + 300))
log "running $RUNS x (govm, govm gles$([[ $WITH_QEMU == 1 ]] && echo ", QEMU")) in the nested harness, $FRAMES frames each"
scripts/nested.sh --timeout "$timeout_s" --share "$out" -- \
	env BENCH_VIRGL_FRAMES="$FRAMES" BENCH_VIRGL_RUNS="$RUNS" BENCH_VIRGL_RES="$RES" \
	BENCH_VIRGL_QEMU="$WITH_QEMU" BENCH_VIRGL_TIMEOUT="$RUN_TIMEOUT" \
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
if grep -q '^native ' "$out/results.txt"; then
	read -r f _ _ <<<"$(row native)"
	printf '| native (L1) | %s | - | - | kmscube on L1'"'"'s own DRM device |\n' "$(fmt "$f" %.1f)"
else
	printf '| native | - | - | - | not measurable: kmscube needs /dev/dri (DRM/KMS), which neither this host nor L1 has |\n'
fi
printf '\ngovm/QEMU: %s\n' "$(ratio "$(row govm | cut -d' ' -f1)" "$(row qemu | cut -d' ' -f1)")"
