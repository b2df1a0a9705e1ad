package machine

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/devices/virtio/blk"
	"github.com/govm/govm/internal/testenv"
)

// The test guest's virtio-blk tests (guest-images/testguest/README.md).
const (
	guestBlkSectors    = 8 // what "blk" writes with no N: sectors 1..8
	guestBlkShowBytes  = 16
	guestBlkBenchBytes = 4096
	testDiskSectors    = 2048 // a 1 MiB image
	guestTimeout       = 2 * time.Minute
)

// sector0Pattern is what the host writes at the start of sector 0 for the
// guest to print.
var sector0Pattern = []byte("govm sector 0 !\x00")

// newTestDisk makes a raw image of testDiskSectors sectors: sector 0 starts
// with sector0Pattern and every other byte is fill.
func newTestDisk(t testing.TB, fill byte) string {
	t.Helper()
	img := bytes.Repeat([]byte{fill}, testDiskSectors*blk.SectorSize)
	copy(img, sector0Pattern)
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runBlkGuest boots the test guest with cmdline and one virtio-blk device on
// the image at path, and returns how it ended, its console and the machine
// (closed by the test's cleanup).
func runBlkGuest(t testing.TB, cmdline, path string) (Result, string, *Machine) {
	t.Helper()
	testenv.RequireKVM(t)
	elf := testenv.TestGuest(t)
	dev, err := blk.Open(blk.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	m, err := New(Config{
		Kernel: elf, Cmdline: cmdline, Memory: 64 * MiB, CPUs: 1,
		Console: &syncBuffer{b: &out}, Stats: true,
		Virtio: []VirtioDevice{{Name: "virtio-blk0", Dev: dev}},
	})
	if err != nil {
		t.Fatal(err) // New closed dev
	}
	t.Cleanup(func() { m.Close() })
	done := make(chan Result, 1)
	go func() { done <- m.Run() }()
	select {
	case r := <-done:
		return r, out.String(), m
	case <-time.After(guestTimeout):
		m.Stop(99, "test timeout")
		<-done
		t.Fatalf("test guest %q did not finish; console so far:\n%s", cmdline, out.String())
	}
	return Result{}, "", nil
}

// guestSector is what "blk" writes to sector s: word k is s<<8 | k, little
// endian, so byte 2k is k and byte 2k+1 is s.
func guestSector(s int) []byte {
	b := make([]byte, blk.SectorSize)
	for k := 0; k < blk.SectorSize/2; k++ {
		b[2*k] = byte(k)
		b[2*k+1] = byte(s)
	}
	return b
}

func TestTestGuestVirtioBlk(t *testing.T) {
	const fill = 0xee
	path := newTestDisk(t, fill)
	r, out, m := runBlkGuest(t, "blk", path)
	if r.Reason != StopDebugExit || r.Code != 0 {
		t.Fatalf("result %+v, console:\n%s", r, out)
	}
	for _, want := range []string{
		"testguest: blk sector0 " + hex.EncodeToString(sector0Pattern[:guestBlkShowBytes]) + "\n",
		fmt.Sprintf("testguest: blk ok capacity=%d\n", testDiskSectors),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
	if err := m.Close(); err != nil { // flushes and unlocks the image
		t.Fatal(err)
	}
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(img, sector0Pattern) {
		t.Errorf("sector 0 changed: % x", img[:len(sector0Pattern)])
	}
	for s := 1; s <= guestBlkSectors; s++ {
		got := img[s*blk.SectorSize : (s+1)*blk.SectorSize]
		if want := guestSector(s); !bytes.Equal(got, want) {
			t.Errorf("sector %d on the host:\n% x\nwant\n% x", s, got[:32], want[:32])
		}
	}
	for i := (guestBlkSectors + 1) * blk.SectorSize; i < len(img); i++ {
		if img[i] != fill {
			t.Errorf("byte %d past the guest's sectors changed to %#x", i, img[i])
			break
		}
	}
}

// TestTestGuestVirtioBlkErrors checks that the guest fails cleanly, with the
// documented status, when the disk or its argument does not fit.
func TestTestGuestVirtioBlkErrors(t *testing.T) {
	for _, tc := range []struct {
		cmdline string
		sectors int
		code    int
		line    string
	}{
		{"blk 17", testDiskSectors, 29, "testguest: blk error: N above 16"},
		{"blk 8", 8, 23, "testguest: blk error: disk too small"},
		{"blkbench 1", 15, 23, "testguest: blk error: disk too small"},
	} {
		t.Run(tc.cmdline, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "small.img")
			if err := os.WriteFile(path, make([]byte, tc.sectors*blk.SectorSize), 0o600); err != nil {
				t.Fatal(err)
			}
			r, out, _ := runBlkGuest(t, tc.cmdline, path)
			if r.Reason != StopDebugExit || r.Code != tc.code || !strings.Contains(out, tc.line) {
				t.Fatalf("result %+v, want status %d and %q; console:\n%s", r, tc.code, tc.line, out)
			}
		})
	}
}

// TestTestGuestVirtioBlkNoDevice: with no virtio device, the window reads
// as zeros and the guest says so.
func TestTestGuestVirtioBlkNoDevice(t *testing.T) {
	r, out, _ := runTestGuest(t, "blk", 1)
	const line = "testguest: blk error: no virtio-blk device at 0xd0000000"
	if r.Reason != StopDebugExit || r.Code != 20 || !strings.Contains(out, line) {
		t.Fatalf("result %+v, want status 20 and %q; console:\n%s", r, line, out)
	}
}

func TestTestGuestVirtioBlkHostile(t *testing.T) {
	path := newTestDisk(t, 0)
	r, out, m := runBlkGuest(t, "blkbad", path)
	if r.Reason != StopDebugExit || r.Code != 0 {
		t.Fatalf("result %+v (govm must keep running and the guest exit 0), console:\n%s", r, out)
	}
	// What govm does with each case: a broken ring or chain needs a reset,
	// a bad sector is an I/O error.
	for _, want := range []string{
		"testguest: blkbad desc-beyond-ram: needs-reset\n",
		"testguest: blkbad chain-loop: needs-reset\n",
		"testguest: blkbad avail-jump: needs-reset\n",
		"testguest: blkbad sector-beyond-capacity: ioerr\n",
		"testguest: blkbad sector-wraps: ioerr\n",
		"testguest: blkbad ok\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
	// The transport keeps the first reason the device needed a reset.
	if err := m.virtio[0].transport.Err(); !errors.Is(err, virtio.ErrBadDescriptor) {
		t.Errorf("transport error %v, want the first case's %v", err, virtio.ErrBadDescriptor)
	}
}

// blkRequestRate runs "blkbench n" and returns the guest's request rate
// between its marks.
func blkRequestRate(t testing.TB, n int) (float64, time.Duration, Stats) {
	t.Helper()
	path := newTestDisk(t, 0x5a)
	r, out, m := runBlkGuest(t, fmt.Sprintf("blkbench %d", n), path)
	if r.Reason != StopDebugExit || r.Code != 0 {
		t.Fatalf("result %+v, console:\n%s", r, out)
	}
	if want := fmt.Sprintf("testguest: blkbench %d done\n", n); !strings.Contains(out, want) {
		t.Fatalf("console lacks %q:\n%s", want, out)
	}
	tm := m.Timing()
	d := tm.MarkEnd - tm.MarkBegin
	if tm.MarkBegin == 0 || d <= 0 {
		t.Fatalf("marks not recorded: %+v", tm)
	}
	return float64(n) / d.Seconds(), d, m.Stats()
}

// TestTestGuestVirtioBlkBench is a short run of the request benchmark, so
// that `go test` exercises it and logs the rate.
func TestTestGuestVirtioBlkBench(t *testing.T) {
	const n = 2000
	rate, d, st := blkRequestRate(t, n)
	t.Logf("%d virtio-blk %d-byte reads from ring 3 in %v: %.0f requests/s, %v per request",
		n, guestBlkBenchBytes, d, rate, d/n)
	// QueueNotify must reach the device through the ioeventfd, not as an
	// MMIO exit; the other exits are set-up and status polls.
	notify := uint64(VirtioMMIOBase + virtio.RegQueueNotify)
	if got := st.MMIO[notify]; got != 0 {
		t.Errorf("%d QueueNotify writes exited to govm; the ioeventfd should take them", got)
	}

	// The same run's cost of one plain MMIO exit from ring 3, to read the
	// request rate against on a loaded or nested host.
	const exits = 2000
	r, out, m := runTestGuest(t, fmt.Sprintf("mmio %d", exits), 1)
	if r.Reason != StopDebugExit || r.Code != 0 {
		t.Fatalf("mmio reference: result %+v, console:\n%s", r, out)
	}
	tm := m.Timing()
	perExit := (tm.MarkEnd - tm.MarkBegin) / exits
	t.Logf("one MMIO exit: %v; one request costs %.1f exits", perExit, float64(d/n)/float64(perExit))
}

// BenchmarkTestGuestBlkRequest measures a whole virtio-blk request from the
// guest's ring 3: descriptors, avail ring, QueueNotify (ioeventfd), the
// device's pread, the used-ring poll. One guest boot runs b.N requests.
func BenchmarkTestGuestBlkRequest(b *testing.B) {
	rate, d, _ := blkRequestRate(b, b.N)
	b.ReportMetric(rate, "requests/s")
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "ns/op")
}

// The virtio devices are on the kernel command line only when asked for
// (the ACPI tables always list them).
func TestVirtioCmdline(t *testing.T) {
	testenv.RequireKVM(t)
	elf := testenv.TestGuest(t)
	for _, on := range []bool{false, true} {
		dev, err := blk.Open(blk.Options{Path: newTestDisk(t, 0)})
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(Config{
			Kernel: elf, Cmdline: "console=ttyS0", Memory: 64 * MiB, CPUs: 1,
			Virtio: []VirtioDevice{{Name: "virtio-blk0", Dev: dev}}, VirtioCmdline: on,
		})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		if _, err := m.Memory().ReadAt(buf, CmdlineAddr); err != nil {
			t.Fatal(err)
		}
		m.Close()
		got := string(buf[:bytes.IndexByte(buf, 0)])
		want := "console=ttyS0"
		if on {
			want += fmt.Sprintf(" virtio_mmio.device=4K@%#x:%d", VirtioMMIOBase, VirtioIRQBase)
		}
		if got != want {
			t.Errorf("VirtioCmdline %v: command line %q, want %q", on, got, want)
		}
	}
}
