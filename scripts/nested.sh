#!/usr/bin/env bash
# nested.sh [--timeout SEC] [--silence SEC] [--share DIR] -- COMMAND...
#
# Run COMMAND (one shell command line; several words are joined by spaces)
# inside a QEMU TCG VM ("L1") with nested SVM, where /dev/kvm is real KVM
# and a stock Linux guest boots. See /work/shared/KVM-HERE.md.
#
# L1 sees the host's root read-only, with a tmpfs over /tmp, and the share
# DIR writable at the same path (default: a fresh temporary directory,
# removed afterwards). COMMAND runs in the caller's working directory with
# the caller's PATH, HOME=/tmp, GOVM_NESTED=1 and the caller's GOVM_*
# variables; stdin is /dev/null, stdout and stderr both come back on stdout.
#
# Exit status: COMMAND's; 124 on timeout (default 1500 s); 125 when L1 does
# not start or dies, or (with --silence) prints nothing for SEC seconds, as
# an L1 that the nested fault has hung does (README, "Tests"). Progress and
# timings go to stderr, prefixed "nested:".
# Set GOVM_NESTED_KEEP=1 to keep the raw serial log of a successful run.
set -euo pipefail
PROG=nested
# shellcheck source=lib-debian.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-debian.sh"

# Exit statuses of the harness itself, as timeout(1) and env(1) use them.
readonly EXIT_TIMEOUT=124
readonly EXIT_HARNESS=125
readonly DEFAULT_TIMEOUT=1500
# Seconds between SIGTERM and SIGKILL when the timeout expires.
readonly KILL_GRACE=10
# Lines of the raw serial log shown when L1 fails.
readonly LOG_TAIL=40
# L1 resources, as measured in KVM-HERE.md.
readonly L1_MEM_MB=4096
readonly L1_CPUS=2

fail() { # fail MSG: a harness failure (exit 125)
	printf 'nested: error: %s\n' "$*" >&2
	exit "$EXIT_HARNESS"
}
usage() {
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit "${1:-$EXIT_HARNESS}"
}

timeout_s=$DEFAULT_TIMEOUT
silence_s=0
share=
while [[ $# -gt 0 ]]; do
	case $1 in
	--timeout) timeout_s=${2:-} && shift 2 || usage ;;
	--timeout=*) timeout_s=${1#*=} && shift ;;
	--share) share=${2:-} && shift 2 || usage ;;
	--share=*) share=${1#*=} && shift ;;
	--silence) silence_s=${2:-} && shift 2 || usage ;;
	--silence=*) silence_s=${1#*=} && shift ;;
	-h | --help) usage 0 ;;
	--) shift && break ;;
	*) break ;;
	esac
done
[[ $# -gt 0 ]] || usage
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || fail "--timeout wants a number of seconds, not '$timeout_s'"
[[ $silence_s =~ ^[0-9]+$ ]] || fail "--silence wants a number of seconds, not '$silence_s'"
command_line="$*"

# --- host prerequisites -----------------------------------------------------

# The L0 QEMU is the host's qemu-system-x86 (Debian's 7.2). bookworm-
# backports' QEMU 10 was tried as L0: it shows the same nested SVM fault
# (README, "Tests").
ensure_qemu() {
	command -v qemu-system-x86_64 >/dev/null && return 0
	[[ $(id -u) == 0 ]] || fail "qemu-system-x86_64 is missing; install qemu-system-x86 (needs root)"
	ensure_apt_lists
	log "installing qemu-system-x86 (waits for the dpkg lock if an install is running)"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=1200 install -y qemu-system-x86 >&2 ||
		fail "apt-get install qemu-system-x86 failed"
}

# stale OUT SRC...: is OUT missing or older than one of SRC...?
stale() {
	local out=$1 f
	shift
	[[ -e $out ]] || return 0
	for f in "$@"; do
		[[ $f -nt $out ]] && return 0
	done
	return 1
}

KERNEL=$GOVM_ROOT/build/guest/vmlinuz
L1_INITRD=$GOVM_ROOT/build/l1/l1.cpio.gz
SRC=$GOVM_ROOT/guest-images/linux

ensure_qemu
if [[ ! -e $KERNEL ]]; then
	log "building the guest kernel and initrd (scripts/build-linux-guest.sh)"
	"$GOVM_ROOT/scripts/build-linux-guest.sh" || fail "build-linux-guest.sh failed"
fi
if stale "$L1_INITRD" "$SRC/l1-init" "$SRC/modules-l1.txt" "$GOVM_ROOT/scripts/build-l1.sh" "$GOVM_ROOT/scripts/lib-debian.sh"; then
	log "building the L1 initramfs (scripts/build-l1.sh)"
	"$GOVM_ROOT/scripts/build-l1.sh" || fail "build-l1.sh failed"
fi
[[ $(cat "$GOVM_ROOT/build/guest/kernel-version") == $(cat "$GOVM_ROOT/build/l1/kernel-version") ]] ||
	fail "build/guest and build/l1 are for different kernels: rerun scripts/build-linux-guest.sh and scripts/build-l1.sh"

# --- the job ----------------------------------------------------------------

# L1 mounts a tmpfs over /tmp, so the host's /tmp is invisible there, except
# for the share, which is mounted on top.
under() { [[ $1 == "$2" || $1 == "$2"/* ]]; }

own_share=
if [[ -z $share ]]; then
	share=$(mktemp -d -t govm-nested.XXXXXX) || fail "mktemp failed"
	own_share=1
else
	mkdir -p "$share" || fail "cannot create the share $share"
fi
share=$(realpath -e "$share") || fail "cannot resolve the share $share"
# The path goes on the kernel command line and into a -virtfs option.
[[ $share =~ ^/[A-Za-z0-9._/+-]+$ ]] || fail "the share path '$share' must be plain (no spaces, commas or quotes)"
[[ $share != / ]] || fail "the share cannot be /"

cwd=$(pwd -P)
if under "$cwd" /tmp && ! under "$cwd" "$share"; then
	fail "the working directory $cwd is under /tmp, which L1 hides under a tmpfs; run from elsewhere or pass it as --share"
fi

work=$(mktemp -d -t govm-nested-run.XXXXXX) || fail "mktemp failed"
qpid=
cleanup() {
	[[ -n $qpid ]] && kill -TERM "$qpid" 2>/dev/null
	[[ -n $own_share ]] && rm -rf "$share"
	[[ -n ${keep_work:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

job=$share/.govm-nested
rm -rf "$job"
mkdir -p "$job" || fail "cannot write to the share $share"
token=$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
printf '%s\n' "$token" >"$job/token"
printf '%s\n' "$command_line" >"$job/cmd.sh"

q() { # q STRING: STRING quoted for sh
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}
{
	echo '# Written by scripts/nested.sh; run by the L1 init inside chroot /host.'
	echo "export PATH=$(q "$PATH")"
	echo 'export HOME=/tmp TMPDIR=/tmp TERM=dumb GOVM_NESTED=1'
	[[ -n ${LANG:-} ]] && echo "export LANG=$(q "$LANG")"
	# The caller's GOVM_* settings, such as GOVM_REQUIRE_KVM.
	while IFS='=' read -r name _; do
		[[ $name == GOVM_NESTED ]] && continue
		echo "export $name=$(q "${!name}")"
	done < <(env | grep -E '^GOVM_[A-Za-z0-9_]*=' || true)
	# Go: the module cache is read-only in L1 and there is no network; the
	# build cache must be writable, so it starts empty in L1's /tmp.
	if command -v go >/dev/null; then
		echo "export GOMODCACHE=$(q "$(go env GOMODCACHE)") GOCACHE=/tmp/go-build GOPROXY=off GOTOOLCHAIN=local"
		[[ -n ${GOFLAGS:-} ]] && echo "export GOFLAGS=$(q "$GOFLAGS")"
	fi
	echo "cd $(q "$cwd") || { echo 'nested: cannot cd to $cwd in L1'; exit $EXIT_HARNESS; }"
	echo "exec /bin/sh $(q "$job/cmd.sh")"
} >"$job/run.sh"

# --- run L1 -----------------------------------------------------------------

now_us() { local t=${EPOCHREALTIME/./}; echo "${t#0}"; }
secs() { # secs FROM_US [TO_US]: elapsed seconds with one decimal
	local d=$((${2:-$(now_us)} - $1))
	printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000))
}

fifo=$work/serial
rawlog=$work/serial.log
mkfifo "$fifo"
t0=$(now_us)
log "starting L1 on $(qemu-system-x86_64 --version | head -n1 | sed 's/ (.*//') (timeout ${timeout_s}s, share $share)"
# -nodefaults: no default CD-ROM (L1 needs no disk), whose AHCI probe cost
# QEMU 10's SeaBIOS a 31 s timeout.
timeout -k "$KILL_GRACE" "$timeout_s" \
	qemu-system-x86_64 -M q35 -nodefaults -accel tcg,thread=multi -smp "$L1_CPUS" -cpu EPYC,+svm \
	-m "$L1_MEM_MB" -nographic -no-reboot -monitor none -serial stdio -nic none \
	-kernel "$KERNEL" -initrd "$L1_INITRD" \
	-append "console=ttyS0 quiet panic=-1 govm.share=$share" \
	-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$share,mount_tag=share,security_model=none,multidevs=remap" \
	</dev/null >"$fifo" 2>"$work/qemu.err" &
qpid=$!

begin=GOVM-NESTED-BEGIN-$token
end=GOVM-NESTED-END-$token
state=boot # boot → run → done
marker_rc=
t_ready=
t_done=
hung=
carry= # a line's start, read before a --silence wait ran out
read_opts=()
((silence_s == 0)) || read_opts=(-t "$silence_s")
exec 4>"$rawlog"
while :; do
	rrc=0
	IFS= read -r "${read_opts[@]}" line || rrc=$?
	if ((rrc > 128)); then # --silence ran out
		if [[ -n $line ]]; then
			carry+=$line
			continue
		fi
		hung=1
		log "L1 printed nothing for ${silence_s} s (phase: $state): stopping it as hung"
		pkill -TERM -P "$qpid" 2>/dev/null || true
		break
	fi
	((rrc == 0)) || [[ -n $line ]] || break # end of output
	line=$carry${line%$'\r'}
	carry=
	printf '%s\n' "$line" >&4
	case $state in
	boot)
		if [[ $line == *"$begin"* ]]; then
			state=run
			t_ready=$(now_us)
			log "L1 ready after $(secs "$t0" "$t_ready") s"
		fi
		;;
	run)
		if [[ $line == *"$end"* ]]; then
			# The command's last line may lack a newline: keep its text.
			[[ -n ${line%%"$end"*} ]] && printf '%s\n' "${line%%"$end"*}"
			marker_rc=${line##*"$end" rc=}
			state=done
			t_done=$(now_us)
		else
			printf '%s\n' "$line"
		fi
		;;
	esac
done <"$fifo"
exec 4>&-

qrc=0
wait "$qpid" || qrc=$?
qpid=

show_log() {
	keep_work=1
	log "last lines of the L1 serial log ($rawlog):"
	tail -n "$LOG_TAIL" "$rawlog" | sed 's/^/  | /' >&2
	grep -v "TCG doesn.t support requested feature" "$work/qemu.err" | sed "s/^/  qemu: /" >&2
	return 0
}

if [[ -n $hung ]]; then
	show_log
	exit "$EXIT_HARNESS"
fi
if [[ $qrc == "$EXIT_TIMEOUT" || $qrc == 137 ]]; then
	log "TIMEOUT: killed L1 after ${timeout_s} s (phase: $state)"
	[[ $state == boot ]] && show_log
	exit "$EXIT_TIMEOUT"
fi

rc=
[[ -r $job/rc ]] && rc=$(cat "$job/rc")
[[ $rc =~ ^[0-9]+$ ]] || rc=$marker_rc
case $state in
boot)
	log "L1 failed to start (qemu exit status $qrc)"
	show_log
	exit "$EXIT_HARNESS"
	;;
run)
	log "L1 stopped before the command finished (qemu exit status $qrc)"
	show_log
	exit "$EXIT_HARNESS"
	;;
esac
[[ $rc =~ ^[0-9]+$ ]] || {
	log "the command finished but left no exit status"
	show_log
	exit "$EXIT_HARNESS"
}
[[ -n ${GOVM_NESTED_KEEP:-} ]] && keep_work=1 && log "serial log kept in $rawlog"
log "command exit status $rc; command $(secs "$t_ready" "$t_done") s; total $(secs "$t0") s"
exit "$rc"
