#!/usr/bin/env bash
# blk-inner.sh: the block benchmark proper, run where a stock Linux guest boots
# under KVM (inside the nested-KVM L1 of scripts/nested.sh; bench/blk.sh
# starts it). It boots the guest test "blkbench" with govm and with QEMU
# (microvm, virtio-blk-device) in turn, each on the same 1 GiB raw image in
# this machine's /tmp, and appends one line per load to OUT/results.txt:
#   VMM ROUND OP BYTES NS OPS
#
# Usage: blk-inner.sh --out DIR --tool TAR [--rounds N] [--mib N] [--rand N]
#                     [--timeout SEC]
#
# Cache modes: govm does plain pread/pwrite on the image (the host page
# cache); QEMU gets cache=writeback, its default, which is the same. The image
# lives on tmpfs, where O_DIRECT (cache=none) is not possible anyway.
set -uo pipefail
PROG=blk-inner
GOVM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$GOVM_ROOT" || exit 1

out= tool= rounds=2 mib=256 rand=20000 timeout_s=300
while [[ $# -gt 0 ]]; do
	case $1 in
	--out) out=$2 ;;
	--tool) tool=$2 ;;
	--rounds) rounds=$2 ;;
	--mib) mib=$2 ;;
	--rand) rand=$2 ;;
	--timeout) timeout_s=$2 ;;
	*)
		echo "$PROG: unknown argument $1" >&2
		exit 2
		;;
	esac
	shift 2 || exit 2
done
[[ -n $out && -n $tool ]] || {
	echo "$PROG: --out DIR and --tool TAR are required" >&2
	exit 2
}

readonly GUEST_MEM_MIB=512
readonly IMAGE_MIB=1024
readonly KERNEL=build/guest/vmlinuz INITRD=build/guest/initrd.img
readonly CMDLINE="console=ttyS0 panic=-1 quiet govm.test=blkbench govm.blkmib=$mib govm.blkrand=$rand"

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

mkdir -p "$out/logs" || exit 1
results=$out/results.txt
: >"$results"

# Images on L1's tmpfs: 9p is pathologically slow for a disk.
work=$(mktemp -d -t govm-blk.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
img=$work/disk.img
tar=$work/ioload.tar
cp "$tool" "$tar" || exit 1
# Allocate every page up front, so no VMM reads holes that the other wrote.
fallocate -l "${IMAGE_MIB}M" "$img" 2>/dev/null ||
	dd if=/dev/zero of="$img" bs=1M count="$IMAGE_MIB" status=none || exit 1

{
	echo "qemu: $(qemu-system-x86_64 --version | head -1)"
	echo "kernel: $(cat build/guest/kernel-version 2>/dev/null)"
	echo "cpu: $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) vCPUs"
} >"$out/env.txt"

# run_one VMM ROUND: boot the test once, record its load lines.
run_one() {
	local vmm=$1 round=$2 logf=$out/logs/$1-$2.log cmd rc=0
	case $vmm in
	govm)
		cmd=(build/govm run --kernel "$KERNEL" --initrd "$INITRD" --mem "${GUEST_MEM_MIB}M" --cpus 1
			--rng=false --disk "$img" --disk "$tar,ro" --append "$CMDLINE") ;;
	qemu)
		cmd=(qemu-system-x86_64 -M microvm -enable-kvm -cpu host -m "$GUEST_MEM_MIB" -smp 1
			-nographic -no-reboot -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE"
			-global virtio-mmio.force-legacy=false
			-drive "id=d0,file=$img,format=raw,if=none,cache=writeback"
			-device virtio-blk-device,drive=d0
			-drive "id=d1,file=$tar,format=raw,if=none,readonly=on"
			-device virtio-blk-device,drive=d1) ;;
	esac
	printf '%q ' "${cmd[@]}" >"$out/logs/$vmm.cmd"
	log "round $round: $vmm"
	timeout -k 5 "$timeout_s" "${cmd[@]}" </dev/null >"$logf" 2>&1 || rc=$?
	tr -d '\r' <"$logf" | awk -v v="$vmm" -v r="$round" '
		/GOVM-BLK op=/ {
			for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			print v, r, f["op"], f["bytes"], f["ns"], f["ops"]
		}' >>"$results"
	grep -a 'GOVM-TEST-DONE' "$logf" | tr -d '\r' | sed "s/^/$PROG: $vmm: /" >&2
	grep -a 'blkbench:' "$logf" | tr -d '\r' | sed "s/^/$PROG: $vmm: /" >&2
	((rc == 0)) || log "$vmm round $round exited with status $rc (log $logf)"
}

for ((r = 1; r <= rounds; r++)); do
	# Alternate who goes first, so neither always runs on a warmer machine.
	if ((r % 2)); then order=(govm qemu); else order=(qemu govm); fi
	for v in "${order[@]}"; do run_one "$v" "$r"; done
done
cat "$results"
