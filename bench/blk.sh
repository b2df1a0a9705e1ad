#!/usr/bin/env bash
# blk.sh: virtio-blk throughput, govm against QEMU (microvm,
# virtio-blk-device), same guest, same nested-KVM run (scripts/nested.sh).
#
# Usage: bench/blk.sh [--rounds N] [--mib N] [--rand N]
#
# Builds the static guest tool guest-images/linux/tools/ioload.c into
# build/blk/, packs it in a tar that the guest sees as a read-only second
# disk, then runs bench/blk-inner.sh in L1: guest test "blkbench" on a 1 GiB
# raw image in L1's tmpfs: dd O_DIRECT 1 MiB sequential write and read of
# --mib MiB, and --rand 4 KiB O_DIRECT random reads at queue depth 1. Prints
# a Markdown table (medians over the rounds) to stdout; raw results and logs
# stay in build/bench/blk/.
set -euo pipefail
PROG=blk
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$GOVM_ROOT"

rounds=2 mib=256 rand=20000
while [[ $# -gt 0 ]]; do
	case $1 in
	--rounds) rounds=$2 ;;
	--mib) mib=$2 ;;
	--rand) rand=$2 ;;
	*) die "unknown argument $1" ;;
	esac
	shift 2 || die "missing value"
done

# Wall time for the whole L1 run: one boot is ~20-30 s in L1, plus the loads.
readonly NESTED_TIMEOUT=$((300 + rounds * 2 * 240))

out=$BENCH_OUT/blk
mkdir -p "$out" build/blk
[[ -x build/govm ]] || die "build/govm is missing (make build)"
gcc -static -O2 -Wall -o build/blk/ioload guest-images/linux/tools/ioload.c || die "building ioload failed"
tar -C build/blk -cf build/blk/ioload.tar ioload

log "nested run: $rounds round(s), ${mib} MiB sequential, $rand random reads"
scripts/nested.sh --timeout "$NESTED_TIMEOUT" --share "$out" -- \
	"bench/blk-inner.sh --out $out --tool build/blk/ioload.tar --rounds $rounds --mib $mib --rand $rand" >"$out/nested.out" 2>&1 ||
	log "nested run failed (status $?); see $out/nested.out"
[[ -s $out/results.txt ]] || die "no results (see $out/nested.out)"

# vals VMM OP FIELD: per-round rates: MB/s (10^6 bytes) or IOPS.
vals() {
	awk -v v="$1" -v op="$2" -v f="$3" '$1 == v && $3 == op && $5 > 0 {
		if (f == "mbs") printf "%.1f\n", $4 / ($5 / 1e9) / 1e6
		else printf "%.0f\n", $6 / ($5 / 1e9) }' "$out/results.txt"
}

{
	echo "| metric | govm | QEMU | govm/QEMU |"
	echo "|---|---|---|---|"
	for row in "seqwrite mbs sequential write, 1 MiB O_DIRECT (MB/s)" \
		"seqread mbs sequential read, 1 MiB O_DIRECT (MB/s)" \
		"randread iops random read, 4 KiB O_DIRECT, QD1 (IOPS)"; do
		read -r op f label <<<"$row"
		mapfile -t g < <(vals govm "$op" "$f")
		mapfile -t q < <(vals qemu "$op" "$f")
		gm=$(median "${g[@]}") qm=$(median "${q[@]}")
		printf '| %s | %s (%s) | %s (%s) | %s |\n' "$label" \
			"$(fmt "$gm" '%.1f')" "${g[*]:-}" "$(fmt "$qm" '%.1f')" "${q[*]:-}" "$(ratio "$gm" "$qm")"
	done
	echo
	echo "Median of $rounds round(s) (each round's value in parentheses)."
	echo "Guest: Debian kernel $(cat build/guest/kernel-version), busybox initramfs, 512 MiB, 1 vCPU; 1 GiB raw image on L1's tmpfs."
	echo "govm: pread/pwrite on the image (host page cache); QEMU $(sed -n 's/^qemu: QEMU emulator version //p' "$out/env.txt") -M microvm virtio-blk-device, cache=writeback (its default: also the host page cache)."
	# A VMM run that failed leaves its loads out of the table: say so.
	fails=$(sed -n 's/^blk-inner: \(.*exited with status.*\) (log .*/\1/p' "$out/nested.out" | paste -sd ';' -)
	[[ -z $fails ]] || echo "Failed runs (their missing loads are not in the table): ${fails//;/; }."
} | tee "$out/table.md"
