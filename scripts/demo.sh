#!/usr/bin/env bash
# demo.sh: what `make demo` runs after building govm and the guests.
#
# Boots the tiny Linux guest (the stock Debian kernel and a busybox
# initramfs) under govm. Where this host's KVM runs guest kernel code
# natively and you are at a terminal, you get the guest's shell (Ctrl-A x
# quits). Where it only emulates ring 0 (`govm probe` says "emulated"), the
# boot goes through the nested-KVM harness, non-interactively.
set -euo pipefail
cd "$(dirname "$0")/.."
GOVM=build/govm
K=build/guest/vmlinuz
I=build/guest/initrd.img

echo "demo: the project's own test guest on this host's /dev/kvm (ring 3, native speed):" >&2
$GOVM run --kernel build/testguest/testguest.elf --mem 64M --append hello

verdict=$($GOVM probe --verdict)
echo "demo: govm probe: guest ring-0 code is $verdict here" >&2
if [[ $verdict == native ]]; then
	if [[ -t 0 && -t 1 ]]; then
		echo "demo: booting Linux with a shell on the console; Ctrl-A x quits, 'poweroff' ends it" >&2
		exec $GOVM run --kernel $K --initrd $I --mem 512M --cpus 2
	fi
	exec $GOVM run --kernel $K --initrd $I --mem 512M --cpus 2 --stats --timeout 300s \
		--append "console=ttyS0 panic=-1 govm.test=hello"
fi
echo "demo: booting Linux under real KVM inside the nested harness (QEMU TCG + nested SVM, about a minute)" >&2
exec scripts/nested.sh --timeout 900 -- \
	"$GOVM run --kernel $K --initrd $I --mem 512M --cpus 2 --stats --timeout 300s --append 'console=ttyS0 panic=-1 govm.test=hello'"
