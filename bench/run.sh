#!/usr/bin/env bash
# run.sh: govm's benchmarks, as `make bench` runs them.
#
#   1. exit cost on this machine's /dev/kvm (bench/exits.sh)
#   2. boot: the same Linux guest (build/guest) booted by govm, QEMU microvm,
#      gokvm and, given KVMTOOL=/path/to/lkvm, kvmtool, interleaved, in one
#      run of bench/boot-inner.sh: inside the nested-KVM harness
#      (scripts/nested.sh) unless `govm probe` says ring-0 code runs natively
#      here. Time to the guest's ready marker, VMM start-up (process start to
#      the first KVM_RUN) and VMM memory overhead, as ratios against QEMU.
#
# Environment:
#   BENCH_RUNS           boot runs per VMM (default 3)
#   BENCH_STARTUP_RUNS   extra start-up runs per VMM under strace (default 0;
#                        slow in the harness)
#   BENCH_PEER_TIMEOUT   seconds a peer gets to reach the marker (default 60)
#   BENCH_WAIT           seconds to wait for other VMs to finish, before each
#                        of the two benchmarks (default 180)
#   BENCH_WRITE_DOCS     1 (default): rewrite the results in docs/BENCHMARKS.md
#   BENCH_SKIP_EXITS=1   skip the exit-cost benchmark
#   BENCH_REPORT_ONLY=1  skip both runs: rebuild the boot tables (and the doc
#                        section) from the last build/bench/boot/results.txt
#   KVMTOOL              an lkvm binary to include as a peer
# Results and logs: build/bench/.
set -euo pipefail
PROG=bench
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$GOVM_ROOT"
export PATH=$PATH:/usr/local/go/bin

RUNS=${BENCH_RUNS:-3}
STARTUP_RUNS=${BENCH_STARTUP_RUNS:-0}
PEER_TIMEOUT=${BENCH_PEER_TIMEOUT:-60}
WAIT=${BENCH_WAIT:-180}
WRITE=${BENCH_WRITE_DOCS:-1}
for v in RUNS STARTUP_RUNS PEER_TIMEOUT WAIT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, not '${!v}'"
done
# Targets from the issue.
readonly TARGET_STARTUP_MS=10
readonly TARGET_OVERHEAD_MIB=20
# A govm or QEMU boot gets this long (they take about 20 s in the harness).
readonly BOOT_TIMEOUT=180
readonly GOKVM_MODULE=github.com/bobuhiro11/gokvm

[[ -x build/govm ]] || die "build/govm is missing: run make build"
[[ -r build/guest/vmlinuz && -r build/guest/initrd.img ]] || die "build/guest is missing: run make guest"
mkdir -p "$BENCH_OUT"

# --- 1. exit cost -------------------------------------------------------------

REPORT_ONLY=${BENCH_REPORT_ONLY:-}
if [[ ${BENCH_SKIP_EXITS:-} != 1 && $REPORT_ONLY != 1 ]]; then
	log "exit cost (bench/exits.sh)"
	BENCH_WRITE_DOCS=$WRITE BENCH_WAIT=$WAIT bench/exits.sh || log "the exit-cost benchmark failed"
fi

# --- 2. boot ----------------------------------------------------------------

peers=$GOVM_ROOT/build/peers
mkdir -p "$peers"
gokvm_note=
if [[ ! -x $peers/gokvm ]]; then
	log "building gokvm from the Go module proxy"
	if ! GOBIN=$peers GOFLAGS=-mod=mod go install "$GOKVM_MODULE@latest" >"$BENCH_OUT/gokvm-install.log" 2>&1; then
		gokvm_note="go install $GOKVM_MODULE@latest failed: $(tail -1 "$BENCH_OUT/gokvm-install.log")"
		log "$gokvm_note"
	fi
fi
gokvm_version=$(go version -m "$peers/gokvm" 2>/dev/null | awk '$1 == "mod" { print $3; exit }')

kvmtool_arg=()
if [[ -n ${KVMTOOL:-} ]]; then
	[[ -x $KVMTOOL ]] || die "KVMTOOL=$KVMTOOL is not executable"
	# L1 cannot see the host's /tmp: keep a copy in build/peers.
	cp "$KVMTOOL" "$peers/lkvm"
	kvmtool_arg=(--kvmtool "$peers/lkvm")
fi

out=$BENCH_OUT/boot
inner=(bench/boot-inner.sh --out "$out" --runs "$RUNS" --startup-runs "$STARTUP_RUNS"
	--timeout "$BOOT_TIMEOUT" --peer-timeout "$PEER_TIMEOUT" --gokvm "$peers/gokvm" "${kvmtool_arg[@]}")
verdict=$(build/govm probe --verdict 2>/dev/null || echo unknown)
contended=
if [[ $verdict == native ]]; then
	where="directly on this machine's /dev/kvm"
else
	where="inside the nested-KVM harness (scripts/nested.sh: an L1 QEMU TCG VM with nested SVM; the VMMs run in L1, the guest is L2)"
fi
if [[ $REPORT_ONLY == 1 ]]; then
	[[ -s $out/elapsed ]] && elapsed=$(<"$out/elapsed")
	[[ -e $out/contended ]] && contended=1
else
	rm -rf "$out"
	mkdir -p "$out"
	wait_quiet "$WAIT" || contended=1
	t0=$EPOCHSECONDS
	# Note any other VM that runs meanwhile (ours carry $out on their command line).
	(while sleep 10; do other_vms | grep -v -F -e "$out" -e govm-bench. >>"$out/others.log" || true; done) &
	monitor=$!
	if [[ $verdict == native ]]; then
		log "boot benchmark, $where"
		"${inner[@]}" 2>&1 | tee "$out/inner.log" >&2
	else
		log "boot benchmark, inside the nested-KVM harness (ring-0 code is $verdict on this /dev/kvm)"
		# 1500 s bounds a hung run; a normal one takes about 5 minutes.
		scripts/nested.sh --timeout 1500 --share "$out" -- "$(printf '%q ' "${inner[@]}")" 2>&1 |
			tee "$out/inner.log" >&2 || true
	fi
	elapsed=$((EPOCHSECONDS - t0))
	echo "$elapsed" >"$out/elapsed"
	kill "$monitor" 2>/dev/null || true
	[[ -s $out/others.log ]] && contended=1 && log "other VMs ran during the boot benchmark: see $out/others.log"
	[[ -n $contended ]] && touch "$out/contended"
fi
results=$out/results.txt
[[ -s $results ]] || die "the boot benchmark left no results (see $out/inner.log)"

# --- the tables ---------------------------------------------------------------

# vals VMM KIND FIELD [STATUS]: the values of FIELD in KIND lines of VMM with
# STATUS (default ok).
vals() {
	awk -v vmm="$1" -v kind="$2" -v field="$3" -v st="${4:-ok}" '
		$1 == kind && $0 ~ " vmm=" vmm " " && $0 ~ " status=" st "( |$)" {
			for (i = 2; i <= NF; i++) if (index($i, field "=") == 1) print substr($i, length(field) + 2) }' "$results"
}
# med VMM KIND FIELD: the median of vals (or "-").
med() {
	local v
	mapfile -t v < <(vals "$@")
	median "${v[@]}"
}
# overheads VMM FIELD: FIELD (a kB figure) minus guest_kb, in MiB, per ok run.
overheads() {
	awk -v vmm="$1" -v f="$2" '$1 == "boot" && $0 ~ " vmm=" vmm " " && / status=ok / {
		a = ""; g = ""
		for (i = 2; i <= NF; i++) {
			if (index($i, f "=") == 1) a = substr($i, length(f) + 2)
			if (index($i, "guest_kb=") == 1) g = substr($i, 10)
		}
		if (a != "" && g != "") printf "%.1f\n", (a - g) / 1024 }' "$results"
}
list() { # list VALUES...: "a, b, c" or "-"
	if [[ $# -eq 0 ]]; then echo -; else
		local IFS=,
		echo "$*" | sed 's/,/, /g'
	fi
}
mib() { fmt "$(awk -v k="$1" 'BEGIN { if (k == "-") print "-"; else print k / 1024 }')" %.1f; }

mapfile -t vmms < <(awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^vmm=/) print substr($i, 5) }' "$results" | awk '!seen[$0]++')
order=()
for v in govm qemu gokvm kvmtool; do
	printf '%s\n' "${vmms[@]}" | grep -qx "$v" && order+=("$v")
done

declare -A marker uptime startup over ok_runs
for v in "${order[@]}"; do
	marker[$v]=$(med "$v" boot marker_s)
	uptime[$v]=$(med "$v" boot uptime_s)
	startup[$v]=$(med "$v" boot startup_ms)
	mapfile -t o < <(overheads "$v" vmhwm_kb)
	over[$v]=$(median "${o[@]}")
	ok_runs[$v]=$(vals "$v" boot marker_s | wc -l)
done

# failure VMM: why VMM has no boot result, from its notes.
failure() {
	awk -v vmm="$1" '$1 == "boot" && $0 ~ " vmm=" vmm " " && !/ status=ok / {
		n = ""; s = ""
		for (i = 2; i <= NF; i++) {
			if ($i ~ /^note=/) n = substr($i, 6)
			if ($i ~ /^status=/) s = substr($i, 8)
		}
		gsub("_", " ", n); print "round " $3 ": " s ": " n }' "$results" | sed 's/round=//' | paste -sd';' | sed 's/;/; /g'
}

verdict_below() { # verdict_below A B: "met" if A < B
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "n/a"; else print (a + 0 < b + 0) ? "met" : "not met" }'
}

tables() {
	local v peer_fail=() line
	echo "### Time to the guest's ready marker"
	echo
	echo "Wall clock from the VMM's process start to \`GOVM-GUEST-READY\` on its console,"
	echo "measured by the script reading the console; \"guest uptime\" is the guest's own"
	echo "\`/proc/uptime\` when it printed the marker; \"process gone\" is when the VMM process"
	echo "had exited after the guest powered off (less the time it was stopped for the"
	echo "memory snapshot), KVM VM teardown included. Medians over the runs that reached"
	echo "the marker."
	echo
	echo "| VMM | runs ok | to marker (s) | vs QEMU | guest uptime (s) | vs QEMU | process gone (s) | all runs, to marker (s) |"
	echo "|---|---:|---:|---:|---:|---:|---:|---|"
	for v in "${order[@]}"; do
		if [[ ${ok_runs[$v]} == 0 ]]; then
			echo "| $v | 0 | failed | - | - | - | - | $(failure "$v") |"
			peer_fail+=("$v")
			continue
		fi
		mapfile -t all < <(vals "$v" boot marker_s)
		echo "| $v | ${ok_runs[$v]} | $(fmt "${marker[$v]}" %.2f) | $(ratio "${marker[$v]}" "${marker[qemu]:--}")× | $(fmt "${uptime[$v]}" %.2f) | $(ratio "${uptime[$v]}" "${uptime[qemu]:--}")× | $(fmt "$(med "$v" boot exit_s)" %.2f) | $(list "${all[@]}") |"
	done
	echo
	echo "### VMM start-up: process start to the first KVM_RUN"
	echo
	echo "In the boot runs: the script writes a marker into the kernel's trace buffer"
	echo "(ftrace \`trace_marker\`, clock \`mono\`) right before it starts the VMM, with the"
	echo "event \`kvm:kvm_entry\` enabled; start-up is the time from that marker to the"
	echo "first \`kvm_entry\`, the first VM entry of the VMM's first KVM_RUN. Tracing"
	echo "costs next to nothing, and the same for every VMM. govm's own \`--stats\`"
	echo "figure (from the Go runtime's start) is shown too."
	echo
	echo "| VMM | start-up (ms) | vs QEMU | all runs (ms) |"
	echo "|---|---:|---:|---|"
	for v in "${order[@]}"; do
		mapfile -t all < <(vals "$v" boot startup_ms)
		[[ ${#all[@]} -gt 0 ]] || mapfile -t all < <(vals "$v" boot startup_ms timeout)
		[[ ${#all[@]} -gt 0 ]] || continue
		[[ ${ok_runs[$v]} == 0 ]] && startup[$v]=$(median "${all[@]}")
		echo "| $v$([[ ${ok_runs[$v]} == 0 ]] && echo ' (its boot failed later)') | $(fmt "${startup[$v]}" %.1f) | $(ratio "${startup[$v]}" "${startup[qemu]:--}")× | $(list "${all[@]}") |"
	done
	mapfile -t all < <(vals govm boot govm_startup_ms)
	echo "| govm (its \`--stats\` line) | $(fmt "$(median "${all[@]}")" %.1f) | | $(list "${all[@]}") |"
	local strace_rows=0
	for v in "${order[@]}"; do
		mapfile -t all < <(vals "$v" startup ms)
		[[ ${#all[@]} -gt 0 ]] || continue
		((strace_rows++ == 0)) && echo "| *under strace (BENCH_STARTUP_RUNS), execve to ioctl(KVM_RUN):* | | | |"
		echo "| $v (strace) | $(fmt "$(median "${all[@]}")" %.1f) | | $(list "${all[@]}") |"
	done
	echo
	echo "### VMM memory overhead"
	echo
	echo "At the marker the VMM is stopped (SIGSTOP) for a moment while the script reads"
	echo "\`/proc/PID/status\` and \`/proc/PID/smaps\`. Guest RAM touched = the Rss of the"
	echo "guest-RAM mapping (the mapping whose size is the guest's 512 MiB, or up to 16 MiB"
	echo "more). Overhead = peak RSS (VmHWM) − guest RAM touched; the file-backed part"
	echo "(RssFile: the binary and its shared libraries) is shown separately. Medians; MiB."
	echo
	echo "| VMM | peak RSS | guest RAM touched | overhead | vs QEMU | of which file-backed |"
	echo "|---|---:|---:|---:|---:|---:|"
	for v in "${order[@]}"; do
		[[ ${ok_runs[$v]} == 0 ]] && continue
		echo "| $v | $(mib "$(med "$v" boot vmhwm_kb)") | $(mib "$(med "$v" boot guest_kb)") | $(fmt "${over[$v]}" %.1f) | $(ratio "${over[$v]}" "${over[qemu]:--}")× | $(mib "$(med "$v" boot rssfile_kb)") |"
	done
	for v in "${peer_fail[@]}"; do
		line=$(grep -m1 "^boot vmm=$v .*vmhwm_kb=" "$results" || true)
		[[ -n $line ]] || continue
		local h g
		h=$(sed -n 's/.* vmhwm_kb=\([0-9]*\).*/\1/p' <<<"$line")
		g=$(sed -n 's/.* guest_kb=\([0-9]*\).*/\1/p' <<<"$line")
		echo "| $v (at its timeout, no marker) | $(mib "$h") | $(mib "${g:--}") | $(fmt "$(awk -v h="$h" -v g="${g:-0}" 'BEGIN { print (h - g) / 1024 }')" %.1f) | | |"
	done
	echo
	echo "### Targets"
	echo
	local peers_ok=() worst=-
	for v in "${order[@]}"; do
		[[ $v == govm || ${ok_runs[$v]} == 0 ]] && continue
		peers_ok+=("$v")
		if [[ $worst == - ]] || awk -v a="${marker[$v]}" -v b="$worst" 'BEGIN { exit !(a < b) }'; then worst=${marker[$v]}; fi
	done
	echo "| target | govm | verdict |"
	echo "|---|---|---|"
	echo "| time to marker below every peer's ($(list "${peers_ok[@]}") booted; fastest $(fmt "$worst" %.2f) s) | $(fmt "${marker[govm]:--}" %.2f) s | $(verdict_below "${marker[govm]:--}" "$worst") |"
	echo "| start-up ≤ $TARGET_STARTUP_MS ms (ftrace method) | $(fmt "${startup[govm]:--}" %.1f) ms | $(verdict_below "${startup[govm]:--}" "$(awk -v t=$TARGET_STARTUP_MS 'BEGIN { print t + 0.0001 }')") |"
	echo "| memory overhead ≤ $TARGET_OVERHEAD_MIB MiB | $(fmt "${over[govm]:--}" %.1f) MiB | $(verdict_below "${over[govm]:--}" "$(awk -v t=$TARGET_OVERHEAD_MIB 'BEGIN { print t + 0.0001 }')") |"
	if [[ ${#peer_fail[@]} -gt 0 ]]; then
		echo
		echo "Peers that did not boot:"
		echo
		for v in "${peer_fail[@]}"; do
			echo "- **$v**: $(failure "$v")"
		done
	fi
}

report=$out/report.md
tables >"$report"
echo
cat "$report"
[[ -n $contended ]] && echo "(other VMs ran during the measurement: the numbers are contended)"

if [[ $WRITE == 1 ]]; then
	{
		echo "## Boot"
		echo
		echo "The same guest, booted by each VMM: the Debian kernel \`build/guest/vmlinuz\`"
		echo "($(cat build/guest/kernel-version 2>/dev/null || echo '?')) and the busybox initramfs \`build/guest/initrd.img\`, whose init prints"
		echo "\`GOVM-GUEST-READY\`, then \`govm: uptime <s>s\`, then powers off (\`govm.poweroff\`)."
		echo "512 MiB, 1 vCPU. Runs are interleaved (govm, QEMU, gokvm, govm, ...), $RUNS per"
		echo "VMM; a peer that fails its first boot is not retried."
		echo
		echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); the whole run took ${elapsed} s"
		echo "- Host: $(machine_desc)"
		echo "- Where: $where"
		if [[ -s $out/env.txt ]]; then
			echo "- Where the VMMs ran: $(grep -E '^(cpu|memory|kernel|kvm):' "$out/env.txt" | paste -sd';' | sed 's/;/; /g')"
			echo "- $(grep '^qemu:' "$out/env.txt" | sed 's/^qemu: /QEMU: /'); gokvm: ${gokvm_version:-not built} (\`go install $GOKVM_MODULE@latest\`)$([[ -n ${KVMTOOL:-} ]] && echo "; kvmtool: the given \`$KVMTOOL\`")"
		fi
		[[ -n $gokvm_note ]] && echo "- gokvm: $gokvm_note"
		[[ -n $contended ]] && echo "- **Contended:** other VMs ran on this 2-CPU machine during the measurement."
		echo "- Command: \`make bench\` (\`bench/run.sh\`), which runs \`$(printf '%q ' "${inner[@]}" | sed -e "s|$GOVM_ROOT/||g" -e 's/ $//')\`"
		echo "  $([[ $verdict == native ]] || echo "through \`scripts/nested.sh --share build/bench/boot\`"). The VMM command lines, with the guest images copied to a tmpfs first:"
		echo
		echo '  ```'
		echo "  build/govm run --kernel vmlinuz --initrd initrd.img --mem 512M --cpus 1 --append '$(sed -n 's/^readonly CMDLINE="\(.*\)"/\1/p' bench/boot-inner.sh)' --stats"
		echo "  qemu-system-x86_64 -M microvm -enable-kvm -cpu host -m 512 -smp 1 -nographic -no-reboot -kernel vmlinuz -initrd initrd.img -append '...'"
		echo "  script -qfec \"gokvm boot -k vmlinuz -i initrd.img -m 512M -c 1 -p '...'\" /dev/null"
		echo "  lkvm run -k vmlinuz -i initrd.img -m 512 -c 1 --console serial -p '...'"
		echo '  ```'
		echo "- Raw results: \`build/bench/boot/results.txt\`, console (and strace) logs in \`build/bench/boot/logs/\`"
		echo
		sed 's/^### /### /' "$report"
		echo
	} | doc_section boot
	log "updated $DOC (section boot)"
fi
