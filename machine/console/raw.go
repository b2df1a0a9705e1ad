// Package console connects the guest's serial console to the user: raw
// terminal mode for stdin, the Ctrl-A escape keys, a tee to an optional log
// file, and an Expect writer that watches the output for a marker.
package console

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// MakeRaw puts the terminal on fd into raw mode, the way a VMM console
// wants it: no line editing, no echo, no signal keys (Ctrl-C goes to the
// guest; Ctrl-A x quits), 8-bit input, one byte per read. Output processing
// (OPOST) stays on, so the VMM's own "\n" messages still start a new line.
//
// restore puts the saved settings back. It is idempotent and safe for
// concurrent use, so it can be deferred and also called from a signal
// handler goroutine and every other exit path; only the first call acts, and
// later calls return the first call's result.
//
// If fd is not a terminal, MakeRaw does nothing: restore is a no-op and err
// is nil.
func MakeRaw(fd int) (restore func() error, err error) {
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
		return func() error { return nil }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("console: reading terminal settings of fd %d: %w", fd, err)
	}
	raw := *saved
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP |
		unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag |= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("console: setting raw mode on fd %d: %w", fd, err)
	}

	var (
		once       sync.Once
		restoreErr error
	)
	restore = func() error {
		once.Do(func() {
			if err := unix.IoctlSetTermios(fd, unix.TCSETS, saved); err != nil {
				restoreErr = fmt.Errorf("console: restoring terminal settings of fd %d: %w", fd, err)
			}
		})
		return restoreErr
	}
	return restore, nil
}

// IsTerminal reports whether fd is a terminal.
func IsTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
