package blk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/govm/govm/devices/virtio"
	"golang.org/x/sys/unix"
)

// flatMem is guest memory as one byte slice at guest-physical 0.
type flatMem []byte

func (m flatMem) Slice(gpa, n uint64) ([]byte, error) {
	if gpa > uint64(len(m)) || n > uint64(len(m))-gpa {
		return nil, fmt.Errorf("%#x+%#x outside %#x bytes of guest memory", gpa, n, len(m))
	}
	return m[gpa : gpa+n : gpa+n], nil
}

const testMemSize = 4 << 20

// rig lays requests out in flat guest memory and serves them directly,
// without a queue: the request logic on its own.
type rig struct {
	t   *testing.T
	d   *Device
	mem flatMem
}

func newRig(t *testing.T, d *Device) *rig {
	t.Helper()
	r := &rig{t: t, d: d, mem: make(flatMem, testMemSize)}
	d.mem = r.mem
	d.features = d.Features()
	return r
}

// result is what a served request left behind.
type result struct {
	written uint32
	out     [][]byte // the writable buffers after the request
	status  byte     // last writable byte; 0xff if there is none
}

// run serves one chain: readable buffers with the given contents, writable
// ones with the given lengths (pre-filled with 0xee to show what changed).
func (r *rig) run(readable [][]byte, writable ...int) result {
	r.t.Helper()
	c, outs := r.build(readable, writable...)
	written, err := r.d.serve(c)
	if err != nil {
		r.t.Fatalf("serve: %v", err)
	}
	res := result{written: written, out: outs, status: 0xff}
	for i := len(outs) - 1; i >= 0; i-- {
		if len(outs[i]) > 0 {
			res.status = outs[i][len(outs[i])-1]
			break
		}
	}
	return res
}

// build lays out a chain and returns it with its writable buffers.
func (r *rig) build(readable [][]byte, writable ...int) (*virtio.Chain, [][]byte) {
	c := &virtio.Chain{Head: 0}
	next := uint64(0)
	for _, b := range readable {
		copy(r.mem[next:], b)
		c.Readable = append(c.Readable, virtio.Descriptor{Addr: next, Len: uint32(len(b))})
		next += uint64(len(b)) + 64 // gaps catch writes past a buffer
	}
	var outs [][]byte
	for _, n := range writable {
		b := r.mem[next : next+uint64(n)]
		for i := range b {
			b[i] = 0xee
		}
		c.Writable = append(c.Writable, virtio.Descriptor{Addr: next, Len: uint32(n), Writable: true})
		outs = append(outs, b)
		next += uint64(n) + 64
	}
	return c, outs
}

func header(typ uint32, sector uint64) []byte {
	b := make([]byte, headerSize)
	binary.LittleEndian.PutUint32(b[hdrType:], typ)
	binary.LittleEndian.PutUint64(b[hdrSector:], sector)
	return b
}

func seg(sector uint64, num, flags uint32) []byte {
	b := make([]byte, segmentSize)
	binary.LittleEndian.PutUint64(b[segSector:], sector)
	binary.LittleEndian.PutUint32(b[segNum:], num)
	binary.LittleEndian.PutUint32(b[segFlags:], flags)
	return b
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// pattern is recognisable, position-dependent content.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i/SectorSize) ^ byte(i) ^ seed
	}
	return b
}

// tempImage writes content to a new file and returns its path.
func tempImage(t testing.TB, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustOpen(t *testing.T, o Options) *Device {
	t.Helper()
	d, err := Open(o)
	if err != nil {
		t.Fatalf("Open(%+v): %v", o, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mkfifo(p string) error { return unix.Mkfifo(p, 0o600) }
