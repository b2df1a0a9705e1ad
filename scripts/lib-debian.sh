# shellcheck shell=bash
# lib-debian.sh: helpers shared by build-linux-guest.sh and build-l1.sh.
#
# They fetch Debian packages into a cache with `apt-get download` and unpack
# them with `dpkg-deb -x`, so nothing is installed into the host. Source this
# file; it expects bash with `set -euo pipefail`.
#
# Layout of the cache (default build/debs, override with GOVM_DEB_CACHE):
#   build/debs/*.deb           the downloaded packages
#   build/debs/x/<deb>/        each package unpacked (the kernel gets depmod)
#   build/debs/.lock           serialises concurrent builds

GOVM_ROOT=${GOVM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
DEB_CACHE=${GOVM_DEB_CACHE:-$GOVM_ROOT/build/debs}
# The metapackage that names the current Debian kernel.
KERNEL_META=linux-image-amd64

log() { printf '%s: %s\n' "${PROG:-govm}" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "${PROG:-govm}" "$*" >&2
	exit 1
}

# cache_lock takes an exclusive lock on the package cache for the rest of
# the script, so that two builds started by `make -j` do not unpack the same
# package at the same time.
cache_lock() {
	mkdir -p "$DEB_CACHE" || die "cannot create $DEB_CACHE"
	exec 9>"$DEB_CACHE/.lock"
	command -v flock >/dev/null || return 0
	flock 9 || die "cannot lock $DEB_CACHE/.lock"
}

# ensure_apt_lists runs `apt-get update` once when the package lists are empty.
ensure_apt_lists() {
	if compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		return 0
	fi
	log "apt lists are empty: running apt-get update"
	apt-get -o DPkg::Lock::Timeout=600 update >&2 ||
		die "apt-get update failed (are you root, is deb.debian.org reachable?)"
}

# resolve_kernel_pkg prints the real kernel package behind linux-image-amd64.
resolve_kernel_pkg() {
	local pkg
	pkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[[ -n $pkg ]] || die "cannot resolve $KERNEL_META with apt-cache depends"
	printf '%s\n' "$pkg"
}

# fetch_deb PKG prints the path of PKG's .deb in the cache, downloading it
# when the cache does not hold the candidate version yet. When apt cannot
# tell the candidate (no lists, offline), the newest cached file is used.
fetch_deb() {
	local pkg=$1 uri file
	uri=$(apt-get download --print-uris "$pkg" 2>/dev/null | head -n1) || true
	if [[ -z $uri ]]; then
		file=$(compgen -G "$DEB_CACHE/${pkg}_*.deb" | sort -V | tail -n1) || true
		[[ -n $file ]] || die "cannot find package $pkg (apt-get download --print-uris failed, nothing cached)"
		log "using cached $(basename "$file") (apt cannot resolve $pkg)"
		printf '%s\n' "$file"
		return 0
	fi
	file=$(awk '{ print $2 }' <<<"$uri")
	if [[ ! -s $DEB_CACHE/$file ]]; then
		log "downloading $pkg ($file)"
		# apt's _apt sandbox user may not write here; ignore that warning.
		(cd "$DEB_CACHE" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
			die "apt-get download $pkg failed"
		[[ -s $DEB_CACHE/$file ]] || die "apt-get download $pkg did not produce $file"
	else
		log "cached $file"
	fi
	printf '%s\n' "$DEB_CACHE/$file"
}

# unpack_deb DEB prints a directory holding DEB unpacked (cached).
unpack_deb() {
	local deb=$1 dir
	dir=$DEB_CACHE/x/$(basename "$deb" .deb)
	if [[ ! -e $dir/.unpacked ]]; then
		log "unpacking $(basename "$deb")"
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir" || die "dpkg-deb -x $deb failed"
		touch "$dir/.unpacked"
	fi
	printf '%s\n' "$dir"
}

# busybox_from_deb prints the path of the static busybox binary, unpacked
# from the busybox-static package.
busybox_from_deb() {
	local deb dir
	deb=$(fetch_deb busybox-static)
	dir=$(unpack_deb "$deb")
	[[ -x $dir/bin/busybox ]] || die "busybox-static package has no bin/busybox"
	printf '%s\n' "$dir/bin/busybox"
}

# kernel_tree prints "DIR VERSION": the unpacked kernel package with a
# modules.dep built by depmod (the package ships none; its postinst makes it).
kernel_tree() {
	local pkg deb dir ver
	pkg=$(resolve_kernel_pkg)
	deb=$(fetch_deb "$pkg")
	dir=$(unpack_deb "$deb")
	ver=$(basename "$(compgen -G "$dir/lib/modules/*" | head -n1)")
	[[ -n $ver && -e $dir/boot/vmlinuz-$ver ]] || die "$pkg has no lib/modules/<version> or boot/vmlinuz"
	if [[ ! -e $dir/.depmod ]]; then
		log "depmod for $ver"
		run_depmod "$dir" "$ver"
		touch "$dir/.depmod"
	fi
	printf '%s %s\n' "$dir" "$ver"
}

# run_depmod BASEDIR VERSION writes modules.dep, modules.alias... under
# BASEDIR/lib/modules/VERSION. It uses the host's kmod depmod when there is
# one, or else busybox's.
run_depmod() {
	local base=$1 ver=$2
	if command -v depmod >/dev/null; then
		depmod -b "$base" "$ver" || die "depmod -b $base $ver failed"
	elif command -v /sbin/depmod >/dev/null; then
		/sbin/depmod -b "$base" "$ver" || die "depmod -b $base $ver failed"
	else
		"$(busybox_from_deb)" depmod -b "$base" "$ver" || die "busybox depmod failed"
	fi
}

# module_closure MODDIR NAME... prints the module files (relative to MODDIR)
# that NAME... need, dependencies first, each once. Names may use - or _.
# Names that are built into the kernel are skipped; unknown names fail.
module_closure() {
	local moddir=$1
	shift
	awk -v want="$*" -v builtin="$moddir/modules.builtin" '
		function norm(s) { gsub(/-/, "_", s); return s }
		function modname(path,   n) {
			n = path; sub(/.*\//, "", n); sub(/\.ko(\.(xz|gz|zst))?$/, "", n)
			return norm(n)
		}
		function visit(name,   i, n, d) {
			if (name in done) return
			done[name] = 1
			n = split(deps[name], d, " ")
			for (i = 1; i <= n; i++) visit(modname(d[i]))
			print file[name]
		}
		BEGIN {
			while ((getline line < builtin) > 0) isbuiltin[modname(line)] = 1
		}
		{
			path = $1; sub(/:$/, "", path)
			name = modname(path)
			file[name] = path
			$1 = ""
			deps[name] = $0
		}
		END {
			n = split(want, w, " ")
			for (i = 1; i <= n; i++) {
				m = norm(w[i])
				if (m in file) visit(m)
				else if (m in isbuiltin) continue
				else { print "unknown module: " w[i] > "/dev/stderr"; bad = 1 }
			}
			exit bad
		}' "$moddir/modules.dep"
}

# read_list FILE prints the words of FILE, without # comments.
read_list() {
	sed -e 's/#.*//' "$1" | tr -s ' \t' '\n\n' | sed '/^$/d'
}

# copy_modules SRCMODDIR DSTMODDIR NAME... copies the closure of NAME... and
# the module index files, decompressing .ko.xz/.ko.gz/.ko.zst so that busybox
# insmod/modprobe can load them, and reruns depmod on the small tree. It
# prints the copied files (relative, .ko), dependencies first.
copy_modules() {
	local src=$1 dst=$2 f out list
	shift 2
	list=$(module_closure "$src" "$@") || die "cannot resolve modules: $*"
	mkdir -p "$dst"
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		[[ -e $src/$f ]] && cp "$src/$f" "$dst/$f"
	done
	while read -r f; do
		[[ -n $f ]] || continue
		out=${f%.xz}
		out=${out%.gz}
		out=${out%.zst}
		mkdir -p "$dst/$(dirname "$out")"
		case $f in
		*.ko.xz) xz -dc "$src/$f" >"$dst/$out" ;;
		*.ko.gz) gzip -dc "$src/$f" >"$dst/$out" ;;
		*.ko.zst) zstd -qdc "$src/$f" >"$dst/$out" ;;
		*) cp "$src/$f" "$dst/$out" ;;
		esac || die "cannot copy module $f"
		printf '%s\n' "$out"
	done <<<"$list"
}

# make_cpio DIR OUT writes DIR as a gzip-compressed newc cpio archive owned
# by root, with sorted entries and no timestamps in the gzip header.
make_cpio() {
	local dir=$1 out=$2
	(cd "$dir" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0) | gzip -9n >"$out.tmp" ||
		die "cannot write $out"
	mv "$out.tmp" "$out"
}

# console_node DIR creates DIR/dev/console, so that the kernel can give init
# its stdio before devtmpfs is mounted. It needs root; without it, init
# reopens /dev/console itself after mounting devtmpfs.
console_node() {
	mkdir -p "$1/dev"
	mknod -m 600 "$1/dev/console" c 5 1 2>/dev/null ||
		log "note: cannot mknod dev/console (not root?); init reopens it after mounting devtmpfs"
}

# install_busybox BUSYBOX DIR copies busybox to DIR/bin and links every
# applet at its usual place (/bin/sh, /sbin/modprobe, /usr/bin/...).
install_busybox() {
	local bb=$1 dir=$2 a
	mkdir -p "$dir/bin" "$dir/sbin" "$dir/usr/bin" "$dir/usr/sbin"
	cp "$bb" "$dir/bin/busybox"
	for a in $("$bb" --list-full); do
		[[ $a == bin/busybox ]] && continue
		ln -sf /bin/busybox "$dir/$a"
	done
}

need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || die "missing host tool: $t"
	done
}
