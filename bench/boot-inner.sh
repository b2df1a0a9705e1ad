#!/usr/bin/env bash
# boot-inner.sh: the boot benchmark proper, run where a stock Linux guest
# boots under KVM (inside the nested-KVM L1 of scripts/nested.sh; bench/run.sh
# starts it). It boots the same guest with each VMM, interleaved, and writes
# one result line per run to OUT/results.txt (read back by bench/run.sh).
#
# Usage: boot-inner.sh --out DIR [--runs N] [--startup-runs N]
#                      [--timeout SEC] [--peer-timeout SEC]
#                      [--gokvm PATH] [--kvmtool PATH]
#
# Per boot run (VMM output read line by line, wall clock in this script):
#   marker_s   process start to the GOVM-GUEST-READY line on the console
#   uptime_s   the guest's own "govm: uptime" line
#   exit_s     process start to the VMM process being gone (the guest powers
#              off; includes the KVM VM teardown)
#   memory     at the marker the VMM is stopped (SIGSTOP) for a snapshot of
#              /proc/PID/status and /proc/PID/smaps, then continued: the guest
#              RAM's share of the RSS is the Rss of the guest-RAM mapping
#              (the mapping whose size is the guest RAM size, to 16 MiB more)
#   startup_ms process start to the first VM entry: ftrace's kvm:kvm_entry
#              event, the first one after a trace_marker written just before
#              the VMM is started (low overhead; needs root and tracefs)
#   govm_startup_ms  govm's own --stats figure (from the Go runtime's start)
# --startup-runs N adds N runs per VMM under strace, stopped at the first
# KVM_RUN (startup lines: the VMM's execve to its first ioctl(KVM_RUN)). Off by
# default: in the nested harness strace's stops cost seconds each.
set -uo pipefail
PROG=boot-inner
GOVM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$GOVM_ROOT" || exit 1

out= runs=3 startup_runs=0 timeout_s=120 peer_timeout=60
gokvm=$GOVM_ROOT/build/peers/gokvm kvmtool=
while [[ $# -gt 0 ]]; do
	case $1 in
	--out) out=$2 ;;
	--runs) runs=$2 ;;
	--startup-runs) startup_runs=$2 ;;
	--timeout) timeout_s=$2 ;;
	--peer-timeout) peer_timeout=$2 ;;
	--gokvm) gokvm=$2 ;;
	--kvmtool) kvmtool=$2 ;;
	*)
		echo "$PROG: unknown argument $1" >&2
		exit 2
		;;
	esac
	shift 2 || exit 2
done
[[ -n $out ]] || {
	echo "$PROG: --out DIR is required" >&2
	exit 2
}

readonly GUEST_MEM_MIB=512
readonly CMDLINE="console=ttyS0 quiet panic=-1 govm.poweroff"
readonly MARKER=GOVM-GUEST-READY
# kvmtool does not exit when the guest powers off: stop it this long after
# the marker (enough for the uptime line).
readonly KVMTOOL_GRACE=3
# Slack for a guest-RAM mapping: QEMU and others may round it up.
readonly GUEST_MAP_SLACK_KIB=$((16 * 1024))
# How often a start-up run looks for the first KVM_RUN in the strace log.
readonly POLL=0.1
# Seconds a VMM gets to exit once its console closed.
readonly EXIT_WAIT=30

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
now() { echo "$EPOCHREALTIME"; }
# now_us sets NOW_US to the time in microseconds without forking: the
# console loop below runs it per line, and under TCG each fork costs
# a tenth of a second or more (which made a VMM that prints more lines,
# such as govm's --stats, look slower to exit).
now_us() { NOW_US=${EPOCHREALTIME/./}; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", a - b }'; }

mkdir -p "$out/logs" || exit 1
results=$out/results.txt
: >"$results"

# The guest images go to a local tmpfs: 9p reads are slow and uneven.
work=$(mktemp -d -t govm-bench.XXXXXX) || exit 1
# Every process started, so that none outlives this script.
started=()
trace_ok= trace_mounted=
cleanup() {
	local p
	for p in "${started[@]}"; do
		# Only a process of ours: its command line names our work directory.
		grep -qaF "$work" "/proc/$p/cmdline" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	done
	if [[ -n $trace_ok ]]; then
		echo 0 >"$TRACE/events/kvm/kvm_entry/enable"
		echo 1 >"$TRACE/options/overwrite"
		: >"$TRACE/trace"
		echo 1 >"$TRACE/tracing_on"
	fi
	[[ -n $trace_mounted ]] && umount "$TRACE"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
cp build/guest/vmlinuz build/guest/initrd.img "$work/" || exit 1
KERNEL=$work/vmlinuz
INITRD=$work/initrd.img

# --- the VMMs ---------------------------------------------------------------

vmms=(govm qemu)
declare -A why_not # a peer that cannot run at all, and why
if [[ -x $gokvm ]]; then
	vmms+=(gokvm)
else
	why_not[gokvm]="no gokvm binary at $gokvm (go install github.com/bobuhiro11/gokvm@latest failed?)"
fi
if [[ -n $kvmtool ]]; then
	if [[ -x $kvmtool ]]; then
		vmms+=(kvmtool)
	else
		why_not[kvmtool]="KVMTOOL=$kvmtool is not an executable here"
	fi
fi

# vmm_cmd NAME: the command line of VMM NAME, in the array CMD.
vmm_cmd() {
	case $1 in
	govm)
		CMD=(build/govm run --kernel "$KERNEL" --initrd "$INITRD" --mem "${GUEST_MEM_MIB}M" --cpus 1
			--append "$CMDLINE" --stats) ;;
	qemu)
		CMD=(qemu-system-x86_64 -M microvm -enable-kvm -cpu host -m "$GUEST_MEM_MIB" -smp 1
			-nographic -no-reboot -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE") ;;
	gokvm)
		CMD=("$gokvm" boot -k "$KERNEL" -i "$INITRD" -m "${GUEST_MEM_MIB}M" -c 1 -p "$CMDLINE") ;;
	kvmtool)
		CMD=("$kvmtool" run -k "$KERNEL" -i "$INITRD" -m "$GUEST_MEM_MIB" -c 1 --console serial -p "$CMDLINE") ;;
	esac
}

# needs_tty NAME: does VMM NAME refuse to run without a terminal?
needs_tty() { [[ $1 == gokvm ]]; }

# q ARGS...: the arguments quoted for sh -c.
q() { printf '%q ' "$@"; }

# spawn NAME ARGS...: start ARGS (under `script` for a VMM that needs a
# terminal) with stdout+stderr readable on the file descriptor FD; sets
# SPAWN_PID to the started process (script for a wrapped one). A FIFO, not
# process substitution: L1 has no /dev/fd.
spawn() {
	local name=$1 fifo=$work/console
	shift
	rm -f "$fifo"
	mkfifo "$fifo" || return 1
	if needs_tty "$name"; then
		script -qfec "exec $(q "$@")" /dev/null </dev/null >"$fifo" 2>&1 &
	else
		"$@" </dev/null >"$fifo" 2>&1 &
	fi
	SPAWN_PID=$!
	exec {FD}<"$fifo"
}

# vmm_pid NAME SPAWNED: the VMM's own pid (a child of script for a wrapped one).
vmm_pid() {
	local p i
	if ! needs_tty "$1"; then
		echo "$2"
		return
	fi
	for ((i = 0; i < 50; i++)); do
		p=$(pgrep -P "$2" | head -1)
		[[ -n $p ]] && echo "$p" && return
		sleep 0.1
	done
	echo "$2"
}

# snapshot_read PID DIR: copy /proc/PID/status and smaps to DIR (fast, so
# the VMM is stopped only briefly); snapshot_parse DIR: the memory figures as
# key=value words (empty if the process was gone): VmRSS/VmHWM/RssAnon/
# RssFile/RssShmem from status; guest_kb, the Rss of the guest-RAM mapping.
snapshot_read() {
	rm -f "$2/status" "$2/smaps"
	cat "/proc/$1/status" >"$2/status" 2>/dev/null && cat "/proc/$1/smaps" >"$2/smaps" 2>/dev/null
}
snapshot_parse() {
	[[ -s $1/status && -s $1/smaps ]] || return 0
	awk '/^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem):/ { k = tolower(substr($1, 1, length($1) - 1)); printf "%s_kb=%s ", k, $2 }' "$1/status"
	local line size=0 best=-1 rss lo hi
	local want=$((GUEST_MEM_MIB * 1024))
	while IFS= read -r line; do
		if [[ $line =~ ^([0-9a-f]+)-([0-9a-f]+)\  ]]; then
			lo=${BASH_REMATCH[1]} hi=${BASH_REMATCH[2]}
			size=$(((16#$hi - 16#$lo) / 1024))
		elif [[ $line =~ ^Rss:\ +([0-9]+) ]]; then
			rss=${BASH_REMATCH[1]}
			if ((size >= want && size <= want + GUEST_MAP_SLACK_KIB && rss > best)); then
				best=$rss
			fi
		fi
	done <"$1/smaps"
	((best >= 0)) && printf 'guest_kb=%s ' "$best"
}

# --- start-up through ftrace: the first kvm:kvm_entry event after a marker ---

TRACE=/sys/kernel/tracing
trace_setup() {
	if [[ ! -d $TRACE/events ]]; then
		mount -t tracefs nodev "$TRACE" 2>/dev/null || return 1
		trace_mounted=1
	fi
	[[ -d $TRACE/events/kvm/kvm_entry ]] || return 1
	echo 0 >"$TRACE/tracing_on" &&
		echo mono >"$TRACE/trace_clock" &&
		# Keep the first events when the buffer fills, not the last.
		echo 0 >"$TRACE/options/overwrite" &&
		echo 1 >"$TRACE/events/kvm/kvm_entry/enable" || return 1
	trace_ok=1
}
# trace_start: empty the buffer, start tracing and write the start marker.
trace_start() {
	[[ -n $trace_ok ]] || return 0
	echo 0 >"$TRACE/tracing_on"
	: >"$TRACE/trace"
	echo 1 >"$TRACE/tracing_on"
	echo govm-bench-start >"$TRACE/trace_marker"
}
# trace_startup_ms: ms from the start marker to the first VM entry (the
# first KVM_RUN of the VMM started right after the marker).
trace_startup_ms() {
	[[ -n $trace_ok ]] || return 0
	echo 0 >"$TRACE/tracing_on"
	awk '/tracing_mark_write: govm-bench-start/ && !m { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) m = $i + 0; next }
		m && / kvm_entry: / { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) { printf "%.2f", ($i - m) * 1000; exit } }' "$TRACE/trace"
}

# stop_pid PID: TERM, then KILL after 3 s.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

# boot_run NAME ROUND: boot the guest once with VMM NAME; appends a result
# line; returns 1 when the marker did not appear.
boot_run() {
	local name=$1 round=$2 limit=$timeout_s log line t0 t_marker= t_exit= uptime= mem= paused=0
	local status=ok note= spawned pid deadline left rc i eof=
	[[ $name == gokvm || $name == kvmtool ]] && limit=$peer_timeout
	log="$out/logs/boot-$name-$round.log"
	vmm_cmd "$name"
	trace_start
	t0=$(now)
	spawn "$name" "${CMD[@]}"
	spawned=$SPAWN_PID
	pid=$(vmm_pid "$name" "$spawned")
	started+=("$spawned" "$pid")
	now_us
	deadline=$((NOW_US + limit * 1000000))
	: >"$log"
	while :; do
		now_us
		if ((deadline - NOW_US < 10000)); then
			status=timeout
			break
		fi
		line=
		printf -v left '%d.%06d' $(((deadline - NOW_US) / 1000000)) $(((deadline - NOW_US) % 1000000))
		if IFS= read -r -t "$left" -u "$FD" line; then
			line=${line//$'\r'/}
			printf '%s\n' "$line" >>"$log"
			if [[ -z $t_marker && $line == *"$MARKER"* ]]; then
				t_marker=$(now)
				local p0
				p0=$(now)
				kill -STOP "$pid" 2>/dev/null
				snapshot_read "$pid" "$work"
				kill -CONT "$pid" 2>/dev/null
				paused=$(sub "$(now)" "$p0")
				mem=$(snapshot_parse "$work")
			elif [[ -z $uptime && $line =~ govm:\ uptime\ ([0-9.]+)s ]]; then
				uptime=${BASH_REMATCH[1]}
				[[ $name == kvmtool ]] && now_us && deadline=$((NOW_US + KVMTOOL_GRACE * 1000000))
			fi
		else
			rc=$?
			if ((rc > 128)); then
				[[ $name == kvmtool && -n $t_marker ]] && break
				status=timeout
				break
			fi
			[[ -n $line ]] && printf '%s\n' "${line//$'\r'/}" >>"$log"
			eof=1
			break
		fi
	done
	if [[ $status == timeout ]]; then
		[[ -z $mem ]] && snapshot_read "$pid" "$work" && mem=$(snapshot_parse "$work")
		note="no marker within ${limit}s"
	fi
	# The console closing means the VMM is exiting: the exit time is when the
	# process is gone (its KVM VM torn down), within EXIT_WAIT seconds.
	if [[ -n $eof ]]; then
		for ((i = 0; i < EXIT_WAIT * 20; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$pid" 2>/dev/null || t_exit=$(now)
	fi
	if [[ -z $t_exit ]]; then
		stop_pid "$pid"
		[[ $spawned != "$pid" ]] && stop_pid "$spawned"
		[[ $name == kvmtool && -n $t_marker ]] && note="stopped by the benchmark after the marker (kvmtool does not exit on poweroff)"
	fi
	wait "$spawned" 2>/dev/null
	exec {FD}<&-
	local startup_ms
	startup_ms=$(trace_startup_ms)
	[[ -z $t_marker && $status == ok ]] && status=nomarker && note="exited without the marker"
	if [[ $status != ok && $name == gokvm ]] && grep -q "RSDP was not found" "$log"; then
		note="$note (the guest says \"A valid RSDP was not found\": gokvm gives it no ACPI)"
	fi
	local startup=
	[[ $name == govm ]] && startup=$(sed -n 's/^startup: \([0-9.]*\) ms.*/\1/p' "$log" | tail -1)
	{
		printf 'boot vmm=%s round=%s status=%s' "$name" "$round" "$status"
		[[ -n $t_marker ]] && printf ' marker_s=%s' "$(sub "$t_marker" "$t0")"
		[[ -n $uptime ]] && printf ' uptime_s=%s' "$uptime"
		[[ -n $t_exit ]] && printf ' exit_s=%s' "$(sub "$(sub "$t_exit" "$t0")" "$paused")"
		[[ -n $startup ]] && printf ' govm_startup_ms=%s' "$startup"
		[[ -n $startup_ms ]] && printf ' startup_ms=%s' "$startup_ms"
		printf ' paused_s=%s %s' "$paused" "$mem"
		[[ -n $note ]] && printf 'note=%s' "${note// /_}"
		echo
	} >>"$results"
	tail -1 "$results" >&2
	[[ -n $t_marker ]]
}

# startup_run NAME ROUND: time from the VMM's execve to its first KVM_RUN,
# from an strace log; the VMM is stopped as soon as it got there.
startup_run() {
	local name=$1 round=$2 trace spawned vpid first exec_t run_t i limit
	trace=$out/logs/strace-$name-$round.txt
	rm -f "$trace"
	vmm_cmd "$name"
	limit=$(awk -v t="$peer_timeout" -v p="$POLL" 'BEGIN { print int(t / p) }')
	spawn "$name" strace -f --seccomp-bpf -qq -e trace=execve,ioctl -e signal=none -ttt -o "$trace" -- "${CMD[@]}"
	spawned=$SPAWN_PID
	started+=("$spawned")
	for ((i = 0; i < limit; i++)); do
		grep -q 'KVM_RUN' "$trace" 2>/dev/null && break
		kill -0 "$spawned" 2>/dev/null || break
		sleep "$POLL"
	done
	# The VMM is the process whose execve strace saw first.
	first=$(awk '/execve\(/ && / = 0/ { print; exit }' "$trace" 2>/dev/null)
	vpid=${first%% *}
	[[ $vpid =~ ^[0-9]+$ ]] && started+=("$vpid")
	[[ $vpid =~ ^[0-9]+$ ]] && stop_pid "$vpid"
	stop_pid "$spawned"
	wait "$spawned" 2>/dev/null
	exec {FD}<&-
	exec_t=$(awk '{ print $2 }' <<<"$first")
	run_t=$(awk '/KVM_RUN/ { print $2; exit }' "$trace" 2>/dev/null)
	if [[ -n $exec_t && -n $run_t ]]; then
		printf 'startup vmm=%s round=%s status=ok ms=%s\n' "$name" "$round" \
			"$(awk -v a="$run_t" -v b="$exec_t" 'BEGIN { printf "%.2f", (a - b) * 1000 }')" >>"$results"
	else
		printf 'startup vmm=%s round=%s status=fail note=no_KVM_RUN_in_the_strace_log\n' "$name" "$round" >>"$results"
	fi
	tail -1 "$results" >&2
}

# --- the environment ----------------------------------------------------------

{
	echo "cpu: $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) CPUs"
	echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "kernel: $(uname -r)"
	for m in kvm_amd kvm_intel kvm_pvm; do [[ -d /sys/module/$m ]] && echo "kvm: $m"; done
	echo "nested: ${GOVM_NESTED:-0}"
	echo "qemu: $(qemu-system-x86_64 --version | head -1)"
	echo "strace: $(strace -V | head -1)"
	for n in "${!why_not[@]}"; do echo "unavailable $n: ${why_not[$n]}"; done
} >"$out/env.txt"
cat "$out/env.txt" >&2

# Warm the page cache (the binaries come over 9p in L1) with one harmless run each.
build/govm --help >/dev/null 2>&1
qemu-system-x86_64 --version >/dev/null 2>&1
[[ -x $gokvm ]] && "$gokvm" --help >/dev/null 2>&1
[[ -n $kvmtool && -x $kvmtool ]] && "$kvmtool" version >/dev/null 2>&1
strace -V >/dev/null 2>&1

for n in "${!why_not[@]}"; do
	printf 'boot vmm=%s round=1 status=unavailable note=%s\n' "$n" "${why_not[$n]// /_}" >>"$results"
done

if trace_setup; then
	echo "startup: ftrace kvm:kvm_entry" >>"$out/env.txt"
else
	log "no ftrace kvm:kvm_entry event here: start-up comes only from govm's --stats (and strace runs, if any)"
fi

# --- boot runs, interleaved ---------------------------------------------------

declare -A failed
for ((r = 1; r <= runs; r++)); do
	for name in "${vmms[@]}"; do
		if [[ -n ${failed[$name]:-} ]]; then
			# A peer that could not boot is not retried: it would only spend
			# its timeout again.
			continue
		fi
		log "boot $name, round $r/$runs"
		boot_run "$name" "$r" || { [[ $name != govm && $name != qemu ]] && failed[$name]=1; }
	done
done

# --- start-up runs (under strace), interleaved ------------------------------------

for ((r = 1; r <= startup_runs; r++)); do
	for name in "${vmms[@]}"; do
		log "start-up $name, round $r/$startup_runs"
		startup_run "$name" "$r"
	done
done
log "done"
