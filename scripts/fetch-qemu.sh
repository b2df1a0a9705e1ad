#!/usr/bin/env bash
# fetch-qemu.sh: another L0 QEMU for the nested harness (the QEMU that runs L1).
#
# For comparing L0s: `GOVM_NESTED_QEMU=backports scripts/nested.sh ...`
# runs L1 on bookworm-backports' QEMU 10 instead of Debian's 7.2. (It shows
# the same nested SVM fault as 7.2: README, "Tests".) This script fetches
# that QEMU's packages into build/qemu with a private apt state (nothing is
# installed into the host and the host's apt sources are left alone) and
# prints the path of its qemu-system-x86_64. The shared libraries it links
# come from the host: deps.sh installs Debian's qemu-system-x86, which pulls
# them in.
#
# Once fetched it works offline. Exit status 1 when it cannot: nested.sh
# then says so and uses the host's qemu-system-x86_64.
set -euo pipefail
PROG=fetch-qemu
# shellcheck source=lib-debian.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-debian.sh"

DIR=${GOVM_QEMU_DIR:-$GOVM_ROOT/build/qemu}
SUITE=bookworm-backports
MIRROR=${GOVM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PKGS=(qemu-system-x86 qemu-system-common qemu-system-data)
BIN=$DIR/root/usr/bin/qemu-system-x86_64

# works: the unpacked QEMU starts and prints its version.
works() { "$BIN" --version 2>/dev/null | head -n1 | grep -q '^QEMU emulator version'; }

if [[ -e $DIR/.ready ]] && works; then
	printf '%s\n' "$BIN"
	exit 0
fi
need_tools apt-get dpkg-deb
mkdir -p "$DIR" || die "cannot create $DIR"
exec 9>"$DIR/.lock"
command -v flock >/dev/null && { flock 9 || die "cannot lock $DIR/.lock"; }
if [[ -e $DIR/.ready ]] && works; then # fetched while we waited for the lock
	printf '%s\n' "$BIN"
	exit 0
fi

apt_dir=$DIR/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
printf 'deb %s %s main\ndeb %s bookworm main\n' "$MIRROR" "$SUITE" "$MIRROR" >"$apt_dir/sources.list"
apt_opts=(
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::Cache=$apt_dir" -o "Dir::Cache::archives=$apt_dir/archives"
	-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
	-o "APT::Sandbox::User=root" -q
)
log "fetching QEMU from Debian $SUITE into $DIR (once; about 14 MB)"
apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 ||
	die "apt-get update for $SUITE failed (see $apt_dir/update.log)"
rm -rf "$DIR/debs" "$DIR/root"
mkdir -p "$DIR/debs" "$DIR/root"
(cd "$DIR/debs" && apt-get "${apt_opts[@]}" download "${PKGS[@]/%//$SUITE}" >"$apt_dir/download.log" 2>&1) ||
	die "apt-get download ${PKGS[*]} from $SUITE failed (see $apt_dir/download.log)"
for deb in "$DIR"/debs/*.deb; do
	dpkg-deb -x "$deb" "$DIR/root" || die "dpkg-deb -x $deb failed"
done
missing=$(ldd "$BIN" 2>/dev/null | awk '/not found/ { print $1 }' | paste -sd' ') || true
[[ -z $missing ]] || die "$BIN needs libraries the host lacks: $missing (install qemu-system-x86)"
works || die "$BIN does not start"
touch "$DIR/.ready"
log "$("$BIN" --version | head -n1)"
printf '%s\n' "$BIN"
