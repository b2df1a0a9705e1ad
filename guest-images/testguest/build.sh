#!/bin/sh
# Build the freestanding test guest.
# Usage: guest-images/testguest/build.sh OUT_DIR   (e.g. build/testguest)
# Produces OUT_DIR/testguest.elf. Needs only gcc (as, ld) from binutils.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out"
gcc -c -o "$out/testguest.o" "$src/testguest.S"
ld -nostdlib -static -n --no-warn-rwx-segments -T "$src/linker.ld" -o "$out/testguest.elf" "$out/testguest.o"
