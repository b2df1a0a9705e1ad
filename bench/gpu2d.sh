#!/usr/bin/env bash
# gpu2d.sh: virtio-gpu 2D frame rate, govm against QEMU, with the same
# ring-3 test guest (guest-images/testguest, test "gpubench N"): N frames,
# each a TRANSFER_TO_HOST_2D of the whole screen (4 MB at 1280x800) and a
# RESOURCE_FLUSH, every request polled to completion.
#
#   govm:  build/govm run --gpu 2d --display headless (frames go to the
#          headless buffer that --screenshot reads)
#   QEMU:  qemu-system-x86_64 -M microvm -accel kvm -device virtio-gpu-device
#          -display none, on the host /dev/kvm; if that fails, inside the
#          nested harness (scripts/nested.sh), marked "nested"
#
# Both are timed the same way: wall time of "gpubench N" minus wall time of
# "gpubench 0" (boot, set-up and the first frame cancel out). For govm, the
# guest's marks (port 0xf5, --stats) give a second, in-VM figure.
#
# Environment:
#   BENCH_GPU_N        frames per run (default 2000)
#   BENCH_GPU_RUNS     runs per VMM (default 3; the median is reported)
#   BENCH_GPU_RES      display size WxH (default 1280x800)
#   BENCH_GPU_QEMU     kvm (default), nested (skip the host try), or none
#   BENCH_WAIT         seconds to wait for other VMs to finish (default 0)
#
# Prints a table; raw logs go to build/bench/gpu2d/. Exit status 0 when
# govm was measured (a QEMU failure is reported in the table).
# Internal: "gpu2d.sh --qemu-only" prints "qemu-ms-per-frame X" (used
# inside the nested harness).
set -euo pipefail
PROG=gpu2d
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$GOVM_ROOT"

N=${BENCH_GPU_N:-2000}
RUNS=${BENCH_GPU_RUNS:-3}
RES=${BENCH_GPU_RES:-1280x800}
QEMU_MODE=${BENCH_GPU_QEMU:-kvm}
WAIT=${BENCH_WAIT:-0}
for v in N RUNS WAIT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, not '${!v}'"
done
((N > 0 && RUNS > 0)) || die "BENCH_GPU_N and BENCH_GPU_RUNS must be positive"
[[ $RES =~ ^([0-9]+)x([0-9]+)$ ]] || die "BENCH_GPU_RES must be WxH, not '$RES'"
W=${BASH_REMATCH[1]} H=${BASH_REMATCH[2]}
case $QEMU_MODE in kvm | nested | none) ;; *) die "BENCH_GPU_QEMU must be kvm, nested or none" ;; esac

readonly GUEST_MEM=64M
# A frame takes about a millisecond on the host; this bounds a hung run.
RUN_TIMEOUT=$((N / 100 + 60))
GOVM=build/govm
GUEST=build/testguest/testguest.elf
QEMU=qemu-system-x86_64
# QEMU's exit status for the guest's "exit 0" through isa-debug-exit.
readonly QEMU_EXIT_OK=1
out=$BENCH_OUT/gpu2d
[[ -r $GUEST ]] || die "$GUEST is missing: run make guest"

# now_ns: a monotonic-enough wall clock, in nanoseconds.
now_ns() { date +%s%N; }

# ms_per_frame T0_NS TN_NS: (TN - T0) / N in milliseconds.
ms_per_frame() { awk -v a="$1" -v b="$2" -v n="$N" 'BEGIN { printf "%.4f\n", (b - a) / n / 1e6 }'; }

# run_qemu FRAMES LOG ACCEL: one QEMU run; fails unless the guest finished.
run_qemu() {
	local n=$1 log=$2 accel=$3 code=0
	timeout "$RUN_TIMEOUT" "$QEMU" -M microvm -accel "$accel" -m "$GUEST_MEM" -nodefaults -no-reboot \
		-display none -serial stdio -kernel "$GUEST" -append "gpubench $n" \
		-global virtio-mmio.force-legacy=false -device "virtio-gpu-device,xres=$W,yres=$H" \
		-device isa-debug-exit,iobase=0xf4,iosize=1 </dev/null >"$log" 2>&1 || code=$?
	[[ $code -eq $QEMU_EXIT_OK ]] && grep -q "testguest: gpubench $n done" "$log"
}

# qemu_series ACCEL: RUNS pairs of runs; prints the median ms per frame.
qemu_series() {
	local accel=$1 i t0 t1 t2 ms=()
	for ((i = 1; i <= RUNS; i++)); do
		t0=$(now_ns)
		run_qemu 0 "$out/qemu-0-$i.log" "$accel" || return 1
		t1=$(now_ns)
		run_qemu "$N" "$out/qemu-$N-$i.log" "$accel" || return 1
		t2=$(now_ns)
		ms+=("$(ms_per_frame $((t1 - t0)) $((t2 - t1)))")
	done
	median "${ms[@]}"
}

if [[ ${1:-} == --qemu-only ]]; then
	mkdir -p "$out"
	ms=$(qemu_series kvm) || die "QEMU failed: $(tail -3 "$out"/qemu-*.log 2>/dev/null | tail -3)"
	echo "qemu-ms-per-frame $ms"
	exit 0
fi

[[ -x $GOVM ]] || die "$GOVM is missing: run make build"
[[ -w /dev/kvm ]] || die "/dev/kvm is not usable here"
mkdir -p "$out"
rm -f "$out"/*.log
contended=
wait_quiet "$WAIT" || contended=1

# run_govm FRAMES LOG: one govm run; fails unless the guest finished.
run_govm() {
	local n=$1 log=$2
	timeout "$RUN_TIMEOUT" "$GOVM" run --kernel "$GUEST" --mem "$GUEST_MEM" --rng=false \
		--gpu 2d --display headless --resolution "$RES" --append "gpubench $n" --stats \
		</dev/null >"$log" 2>&1 && grep -q "testguest: gpubench $n done" "$log"
}

g_ms=() g_marks=()
for ((i = 1; i <= RUNS; i++)); do
	t0=$(now_ns)
	run_govm 0 "$out/govm-0-$i.log" || die "govm gpubench 0 failed: $(tail -3 "$out/govm-0-$i.log")"
	t1=$(now_ns)
	run_govm "$N" "$out/govm-$N-$i.log" || die "govm gpubench $N failed: $(tail -3 "$out/govm-$N-$i.log")"
	t2=$(now_ns)
	g_ms+=("$(ms_per_frame $((t1 - t0)) $((t2 - t1)))")
	s=$(sed -n 's/^bench: [0-9]* exits in \([0-9.]*\) s between marks.*/\1/p' "$out/govm-$N-$i.log" | tail -1)
	[[ -n $s ]] && g_marks+=("$(awk -v s="$s" -v n="$N" 'BEGIN { printf "%.4f\n", s * 1000 / n }')")
done
govm_ms=$(median "${g_ms[@]}")
govm_marks_ms=$(median "${g_marks[@]}")

qemu_ms=- qemu_note=
if [[ $QEMU_MODE != none ]] && ! command -v "$QEMU" >/dev/null; then
	qemu_note="not installed (apt-get install qemu-system-x86)"
elif [[ $QEMU_MODE == kvm ]]; then
	if ms=$(qemu_series kvm); then
		qemu_ms=$ms qemu_note="microvm, -accel kvm on the host"
	else
		log "QEMU -accel kvm failed on the host (see $out/qemu-*.log); trying the nested harness"
		QEMU_MODE=nested
	fi
fi
if [[ $QEMU_MODE == nested ]]; then
	nlog=$out/qemu-nested.log
	if scripts/nested.sh --timeout $((RUNS * 2 * RUN_TIMEOUT + 300)) -- \
		env BENCH_GPU_N="$N" BENCH_GPU_RUNS="$RUNS" BENCH_GPU_RES="$RES" BENCH_OUT=/tmp/bench \
		bench/gpu2d.sh --qemu-only >"$nlog" 2>&1; then
		qemu_ms=$(sed -n 's/^qemu-ms-per-frame \([0-9.]*\).*/\1/p' "$nlog" | tail -1)
		qemu_note="microvm, -enable-kvm inside the nested harness (L1 under TCG: not comparable with the host)"
	fi
	[[ -n $qemu_ms && $qemu_ms != - ]] || {
		qemu_ms=-
		qemu_note="failed in the nested harness too: see $nlog"
	}
fi
[[ $QEMU_MODE == none ]] && qemu_note="skipped (BENCH_GPU_QEMU=none)"

fps() { if [[ $1 == - ]]; then echo -; else awk -v m="$1" 'BEGIN { printf "%.0f\n", 1000 / m }'; fi; }
govm_fps=$(fps "$govm_ms")
qemu_fps=$(fps "$qemu_ms")

printf '\nvirtio-gpu 2D, %s, %d full-screen frames (TRANSFER_TO_HOST_2D + RESOURCE_FLUSH), median of %d runs%s\n' \
	"$RES" "$N" "$RUNS" "${contended:+ (other VMs were running: contended)}"
printf '%s\n\n' "$(machine_desc)"
printf '| VMM | frames/s | ms/frame | how |\n|---|---|---|---|\n'
printf '| govm | %s | %s | wall time, gpubench %d minus gpubench 0 |\n' "$govm_fps" "$(fmt "$govm_ms" %.3f)" "$N"
printf '| govm (guest marks) | %s | %s | between the guest'"'"'s marks (port 0xf5) |\n' "$(fps "$govm_marks_ms")" "$(fmt "$govm_marks_ms" %.3f)"
qemu_name=$("$QEMU" --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9.]*\).*/QEMU \1/p' | head -1) || true
printf '| %s | %s | %s | %s |\n' "${qemu_name:-QEMU}" "$qemu_fps" "$(fmt "$qemu_ms" %.3f)" "$qemu_note"
printf '\ngovm/QEMU frames/s: %s\n' "$(ratio "$govm_fps" "$qemu_fps")"
