#!/usr/bin/env bash
# extract-vmlinux.sh BZIMAGE OUT: unpack the ELF vmlinux that a bzImage
# carries compressed (Debian's is xz), so govm can also boot the same kernel
# through its PVH entry note. Finds the first xz stream whose output is an
# ELF file.
set -euo pipefail
in=${1:?usage: extract-vmlinux.sh BZIMAGE OUT}
out=${2:?usage: extract-vmlinux.sh BZIMAGE OUT}
# The xz stream header magic: FD 37 7A 58 5A 00.
for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$in" | cut -d: -f1); do
	# xz complains about the bytes after the stream; the output is whole.
	tail -c +$((off + 1)) "$in" | xz -dc 2>/dev/null >"$out.tmp" || true
	if [[ $(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' ') == 7f454c46 ]]; then
		mv "$out.tmp" "$out"
		exit 0
	fi
done
rm -f "$out.tmp"
echo "extract-vmlinux: no xz-compressed ELF found in $in" >&2
exit 1
