package blk

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Errors Open reports, wrapped with the path.
var (
	ErrLocked   = errors.New("in use by another process (locked)")
	ErrNotDisk  = errors.New("not a regular file or block device")
	ErrTooSmall = errors.New("smaller than one sector")
)

type image struct {
	file     *os.File
	fd       int
	blockDev bool
	size     int64
}

// openImage opens, checks and locks the image.
//
// It opens with O_NONBLOCK so that a FIFO or a device that would block in
// open(2) is rejected instead of hanging; the flag is cleared once fstat
// says the file is a regular file or a block device.
func openImage(path string, readOnly bool) (img image, err error) {
	mode, lock := unix.O_RDWR, unix.LOCK_EX
	if readOnly {
		mode, lock = unix.O_RDONLY, unix.LOCK_SH
	}
	fd, err := unix.Open(path, mode|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if errors.Is(err, unix.EISDIR) {
		return img, fmt.Errorf("disk %q is a directory: %w", path, ErrNotDisk)
	}
	if err != nil {
		return img, fmt.Errorf("disk %q: open: %w", path, err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd) // best effort: the open failed anyway
		}
	}()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return img, fmt.Errorf("disk %q: stat: %w", path, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFBLK:
		img.blockDev = true
	case unix.S_IFDIR:
		return img, fmt.Errorf("disk %q is a directory: %w", path, ErrNotDisk)
	default:
		return img, fmt.Errorf("disk %q: %w", path, ErrNotDisk)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		return img, fmt.Errorf("disk %q: %w", path, err)
	}
	if err := unix.Flock(fd, lock|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return img, fmt.Errorf("disk %q is %w", path, ErrLocked)
		}
		return img, fmt.Errorf("disk %q: flock: %w", path, err)
	}
	// Seeking to the end gives the size of block devices too.
	size, err := unix.Seek(fd, 0, unix.SEEK_END)
	if err != nil {
		return img, fmt.Errorf("disk %q: size: %w", path, err)
	}
	if size < SectorSize {
		return img, fmt.Errorf("disk %q is %w (%d bytes)", path, ErrTooSmall, size)
	}
	img.fd, img.size = fd, size
	img.file = os.NewFile(uintptr(fd), path)
	return img, nil
}

func fdatasync(fd int) error {
	for {
		err := unix.Fdatasync(fd)
		if err != unix.EINTR {
			return err
		}
	}
}

func fallocate(fd int, mode uint32, off, n int64) error {
	for {
		err := unix.Fallocate(fd, mode, off, n)
		if err != unix.EINTR {
			return err
		}
	}
}

// unsupported reports whether err says the file system or device cannot do
// an operation at all (so a fallback is in order), as opposed to failing.
func unsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) ||
		errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL)
}
