# Shell functions shared by the gpu* tests (sourced; the dot in the name
# keeps init from running it as a test).

# fb_console_off: hide the cursor and unbind the frame buffer console
# (fbcon) from its VT, so that nothing but the test draws on /dev/fb0.
fb_console_off() {
	printf '\033[?25l' >/dev/tty1 2>/dev/null
	for v in /sys/class/vtconsole/vtcon*; do
		[ -e "$v/name" ] || continue
		if grep -q 'frame buffer' "$v/name"; then
			echo 0 >"$v/bind" || echo "GOVM-FB-ERROR cannot unbind $(cat "$v/name")"
		fi
		echo "govm: $(basename "$v"): $(cat "$v/name") bind=$(cat "$v/bind")"
	done
}

# fb_draw DISK: copy the image on the block device DISK (packed rows in
# /dev/fb0's own pixel format, made by the host test) to /dev/fb0, then give
# the DRM fbdev damage worker time to flush it to the virtio-gpu.
fb_draw() {
	fb=/sys/class/graphics/fb0
	if [ ! -e $fb ]; then
		echo "GOVM-FB-ERROR no /dev/fb0"
		return 1
	fi
	size=$(cat $fb/virtual_size) stride=$(cat $fb/stride) bpp=$(cat $fb/bits_per_pixel)
	w=${size%,*} h=${size#*,}
	echo "GOVM-FB-MODE ${w}x${h} stride=$stride bpp=$bpp"
	disk=$(($(cat "/sys/block/$(basename "$1")/size") * 512))
	rows=$((disk / stride))
	[ "$rows" -gt "$h" ] && rows=$h
	if [ "$bpp" != 32 ] || [ "$stride" != $((w * 4)) ] || [ "$rows" -lt 1 ]; then
		echo "GOVM-FB-ERROR mode ${w}x${h} stride $stride bpp $bpp, image $disk bytes"
		return 1
	fi
	# One write for the whole image. Not row by row: Linux 6.1's fbdev
	# emulation turns a write of exactly one whole line into an empty
	# damage rectangle (drm_fb_helper_memory_range_to_clip), so such writes
	# never reach the device and the screen stays black.
	dd if="$1" of=/dev/fb0 bs=$((stride * rows)) count=1 2>/dev/null || {
		echo "GOVM-FB-ERROR dd failed"
		return 1
	}
	# Read the frame buffer back: a mismatch is the guest's side.
	if [ "$(dd if="$1" bs=$((stride * rows)) count=1 2>/dev/null | md5sum)" = \
		"$(dd if=/dev/fb0 bs=$((stride * rows)) count=1 2>/dev/null | md5sum)" ]; then
		echo "govm: /dev/fb0 reads back the image"
	else
		echo "GOVM-FB-ERROR /dev/fb0 does not read back the image"
	fi
	# Writes to /dev/fb0 land in the fbdev shadow buffer; a worker copies
	# the damaged rows to the GEM buffer and sends TRANSFER_TO_HOST_2D and
	# RESOURCE_FLUSH. It runs at once, but give it time under nested KVM.
	sleep 1
}
