package console

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns the controller and the terminal side of a new pty.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pts: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return ptmx, tty
}

func TestMakeRawPTY(t *testing.T) {
	_, tty := openPTY(t)
	fd := int(tty.Fd())
	if !IsTerminal(fd) {
		t.Fatal("pty is not a terminal")
	}
	before, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	restore, err := MakeRaw(fd)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Errorf("lflag %#x still has ICANON/ECHO/ISIG", raw.Lflag)
	}
	if raw.Iflag&(unix.ICRNL|unix.IXON) != 0 {
		t.Errorf("iflag %#x still has ICRNL/IXON", raw.Iflag)
	}
	if raw.Oflag&unix.OPOST == 0 {
		t.Errorf("oflag %#x lost OPOST", raw.Oflag)
	}
	if raw.Cc[unix.VMIN] != 1 || raw.Cc[unix.VTIME] != 0 {
		t.Errorf("VMIN/VTIME = %d/%d", raw.Cc[unix.VMIN], raw.Cc[unix.VTIME])
	}
	for i := range 3 { // idempotent
		if err := restore(); err != nil {
			t.Fatalf("restore #%d: %v", i, err)
		}
	}
	after, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag || after.Cflag != before.Cflag {
		t.Errorf("restore left %+v, want %+v", after, before)
	}
}

func TestMakeRawNotATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	for _, f := range []*os.File{r, devNull} {
		restore, err := MakeRaw(int(f.Fd()))
		if err != nil {
			t.Fatalf("%s: %v", f.Name(), err)
		}
		if err := restore(); err != nil {
			t.Fatalf("%s: restore: %v", f.Name(), err)
		}
		if IsTerminal(int(f.Fd())) {
			t.Fatalf("%s is a terminal?", f.Name())
		}
	}
}

func TestMakeRawBadFD(t *testing.T) {
	if _, err := MakeRaw(-1); err == nil {
		t.Fatal("MakeRaw(-1) succeeded")
	}
}
