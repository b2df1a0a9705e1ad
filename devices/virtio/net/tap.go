package net

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// tunDevice is the clone device every tap is opened through.
const tunDevice = "/dev/net/tun"

// maxIfName is the longest interface name Linux accepts (IFNAMSIZ-1: the
// kernel's buffer holds a terminating NUL).
const maxIfName = unix.IFNAMSIZ - 1

// Tap is a Linux tap interface opened for one virtio-net device. Frames
// read from and written to it carry the same 12-byte virtio_net_hdr_v1 the
// virtqueues carry (IFF_VNET_HDR with TUNSETVNETHDRSZ 12), so they pass
// between the guest and the host without conversion.
//
// The file descriptor is nonblocking and registered with Go's netpoller, so
// a blocked Read parks a goroutine, not a thread, and SetReadDeadline
// interrupts it.
type Tap struct {
	name string
	f    *os.File
}

// tapError is an OpenTap failure: a message written for the user, wrapping
// the system error so errors.Is(err, fs.ErrPermission) and friends work.
type tapError struct {
	msg string
	err error
}

func (e *tapError) Error() string { return e.msg }
func (e *tapError) Unwrap() error { return e.err }

// OpenTap attaches to the tap interface name, creating it if it does not
// exist (which needs CAP_NET_ADMIN). An empty name lets the kernel choose
// one (tap0, tap1, ...); Name reports it.
func OpenTap(name string) (*Tap, error) {
	if err := checkIfName(name); err != nil {
		return nil, err
	}
	fd, err := unix.Open(tunDevice, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
			return nil, &tapError{fmt.Sprintf("tap %q: no %s (is the tun module loaded? try 'modprobe tun'): %v", name, tunDevice, err), err}
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			return nil, permissionError(name, err)
		}
		return nil, fmt.Errorf("tap %q: open %s: %w", name, tunDevice, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil { // checkIfName already rejected what NewIfreq rejects
		unix.Close(fd)
		return nil, fmt.Errorf("tap %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
			return nil, permissionError(name, err)
		case errors.Is(err, unix.EBUSY):
			return nil, &tapError{fmt.Sprintf("tap %q: busy (another process has it open)", name), err}
		case errors.Is(err, unix.EINVAL):
			return nil, &tapError{fmt.Sprintf("tap %q: invalid (the interface exists but is not a single-queue tap, or the name is not valid): %v", name, err), err}
		}
		return nil, fmt.Errorf("tap %q: TUNSETIFF: %w", name, err)
	}
	name = ifr.Name()
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, hdrLen); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tap %q: TUNSETVNETHDRSZ %d: %w", name, hdrLen, err)
	}
	return newTap(name, os.NewFile(uintptr(fd), tunDevice)), nil
}

// newTap wraps an open, nonblocking, packet-preserving file (a tap, or a
// socketpair end in tests).
func newTap(name string, f *os.File) *Tap {
	return &Tap{name: name, f: f}
}

func permissionError(name string, err error) error {
	shown := name
	if shown == "" {
		shown = "NAME"
	}
	return &tapError{
		fmt.Sprintf("tap %q: permission denied (need CAP_NET_ADMIN, or create it with 'ip tuntap add %s mode tap user $USER')", name, shown),
		err,
	}
}

// checkIfName rejects what the kernel's dev_valid_name would, with a
// clearer message than its EINVAL.
func checkIfName(name string) error {
	if len(name) > maxIfName {
		return fmt.Errorf("tap %q: name longer than %d bytes: %w", name, maxIfName, unix.EINVAL)
	}
	if name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n\r\v\f\x00") {
		return fmt.Errorf("tap %q: not a valid interface name: %w", name, unix.EINVAL)
	}
	return nil
}

// Name is the interface name.
func (t *Tap) Name() string { return t.name }

// Read reads one frame, with its virtio-net header, into p.
func (t *Tap) Read(p []byte) (int, error) { return t.f.Read(p) }

// Write writes one frame, with its virtio-net header.
func (t *Tap) Write(p []byte) (int, error) { return t.f.Write(p) }

// setReadDeadline makes a blocked or future Read return a timeout error.
func (t *Tap) setReadDeadline(d time.Time) error { return t.f.SetReadDeadline(d) }

// Close closes the tap. A tap the process created (not a persistent one)
// disappears with it.
func (t *Tap) Close() error { return t.f.Close() }
