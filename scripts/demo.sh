#!/usr/bin/env bash
# demo.sh: what `make demo` runs after building govm and the guests.
#
# Boots the tiny Linux guest (the stock Debian kernel and a busybox
# initramfs) under govm with a virtio-gpu screen:
#   - where this host's KVM runs guest kernel code natively and $DISPLAY is
#     set, in an SDL window, with the guest's shell on this terminal
#     (Ctrl-A x quits; closing the window powers the guest off);
#   - otherwise headless, ending with a PNG screenshot of the guest's screen
#     in build/demo-screen.png.
# Where the KVM here only emulates ring 0 (`govm probe` says "emulated"),
# the boot goes through the nested-KVM harness, headless.
set -euo pipefail
cd "$(dirname "$0")/.."
GOVM=build/govm
K=build/guest/vmlinuz
I=build/guest/initrd.img
SHOT=$PWD/build/demo-screen.png

echo "demo: the project's own test guest on this host's /dev/kvm (ring 3, native speed):" >&2
$GOVM run --kernel build/testguest/testguest.elf --mem 64M --append hello

verdict=$($GOVM probe --verdict)
echo "demo: govm probe: guest ring-0 code is $verdict here" >&2
args=(run --kernel "$K" --initrd "$I" --mem 512M --cpus 2 --gpu 2d)
if [[ $verdict == native ]]; then
	if [[ -n ${DISPLAY:-} && -t 0 ]]; then
		echo "demo: a window with the guest's screen; its shell is here. 'poweroff' or closing the window ends it" >&2
		exec $GOVM "${args[@]}" --display sdl --append "console=ttyS0 console=tty0 panic=-1"
	fi
	$GOVM "${args[@]}" --display headless --screenshot "$SHOT" --stats --timeout 300s \
		--append "console=ttyS0 console=tty0 panic=-1 govm.test=hello"
else
	echo "demo: booting Linux under real KVM inside the nested harness (QEMU TCG + nested SVM, about a minute)" >&2
	rm -f "$SHOT"
	scripts/nested.sh --timeout 900 --share "$(dirname "$SHOT")" -- \
		"$GOVM ${args[*]} --display headless --screenshot $SHOT --stats --timeout 300s --append 'console=ttyS0 console=tty0 panic=-1 govm.test=hello'"
fi
echo "demo: the guest's screen at the end: $SHOT" >&2
