package blk

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/govm/govm/internal/testenv"
)

// TestLoopDevice runs requests against a host block device: a loop device
// over a temporary file. It needs root and losetup (util-linux).
func TestLoopDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root, to attach a loop device")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		testenv.Missing(t, "losetup (apt-get install util-linux)")
	}
	backing := tempImage(t, pattern(imgSize, 12))
	out, err := exec.Command("losetup", "--find", "--show", backing).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "--detach", dev).Run() })

	d := mustOpen(t, Options{Path: dev})
	if !d.blockDev || d.Capacity() != imgSize/SectorSize {
		t.Fatalf("block device %v, capacity %d", d.blockDev, d.Capacity())
	}
	if _, err := Open(Options{Path: dev, ReadOnly: true}); err == nil {
		t.Fatal("second open of the block device succeeded")
	}
	r := newRig(t, d)
	var ioctlErrs []error
	real := d.blkIoctl
	d.blkIoctl = func(req uintptr, off, n uint64) error {
		err := real(req, off, n)
		ioctlErrs = append(ioctlErrs, err)
		return err
	}
	data := pattern(2*SectorSize, 13)
	if res := r.run([][]byte{header(TypeOut, 4), data}, 1); res.status != StatusOK {
		t.Fatalf("write: status %d", res.status)
	}
	if res := r.run([][]byte{header(TypeIn, 4)}, 2*SectorSize, 1); res.status != StatusOK || !bytes.Equal(res.out[0][:2*SectorSize], data) {
		t.Fatalf("read: status %d", res.status)
	}
	if res := r.run([][]byte{header(TypeWriteZeroes, 0), seg(8, 8, 0)}, 1); res.status != StatusOK {
		t.Fatalf("write zeroes: status %d", res.status)
	}
	if res := r.run([][]byte{header(TypeDiscard, 0), seg(16, 8, 0)}, 1); res.status != StatusOK {
		t.Fatalf("discard: status %d", res.status)
	}
	if len(ioctlErrs) != 2 || ioctlErrs[0] != nil || ioctlErrs[1] != nil {
		t.Fatalf("BLKZEROOUT, BLKDISCARD: %v", ioctlErrs)
	}
	if res := r.run([][]byte{header(TypeFlush, 0)}, 1); res.status != StatusOK {
		t.Fatalf("flush: status %d", res.status)
	}
	if res := r.run([][]byte{header(TypeIn, 8)}, 8*SectorSize, 1); res.status != StatusOK || !bytes.Equal(res.out[0][:8*SectorSize], make([]byte, 8*SectorSize)) {
		t.Fatalf("zeroed range: status %d", res.status)
	}
}
