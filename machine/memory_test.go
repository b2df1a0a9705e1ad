package machine

import (
	"errors"
	"testing"
)

func TestMemoryBounds(t *testing.T) {
	m := NewMemoryFromSlices(Region{GPA: 0, Host: make([]byte, 0x1000)}, Region{GPA: 0x10000, Host: make([]byte, 0x1000)})
	ok := []struct{ gpa, n uint64 }{{0, 0x1000}, {0xfff, 1}, {0x10000, 0x1000}, {0x1000, 0}, {0x10800, 0x800}}
	for _, c := range ok {
		if _, err := m.Slice(c.gpa, c.n); err != nil {
			t.Errorf("Slice(%#x,%#x): %v", c.gpa, c.n, err)
		}
	}
	bad := []struct{ gpa, n uint64 }{{0xfff, 2}, {0x1000, 1}, {0x8000, 0x10}, {0x10fff, 2}, {^uint64(0), 2}, {0x10000, ^uint64(0)}, {1, ^uint64(0)}}
	for _, c := range bad {
		if _, err := m.Slice(c.gpa, c.n); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Slice(%#x,%#x) = %v, want ErrOutOfRange", c.gpa, c.n, err)
		}
	}
	if _, err := m.WriteAt([]byte{1, 2}, 0xfff); err == nil {
		t.Error("WriteAt across the end accepted")
	}
	if _, err := m.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("negative ReadAt accepted")
	}
	if n, err := m.WriteAt([]byte{7}, 0x10001); err != nil || n != 1 || m.Regions[1].Host[1] != 7 {
		t.Errorf("WriteAt: %d %v", n, err)
	}
}

func TestRAMRanges(t *testing.T) {
	if r := RAMRanges(512 << 20); len(r) != 1 || r[0][1] != 512<<20 {
		t.Errorf("512 MiB: %v", r)
	}
	r := RAMRanges(4 << 30)
	if len(r) != 2 || r[0][1] != MMIOGapStart || r[1][0] != MMIOGapEnd || r[0][1]+r[1][1] != 4<<30 {
		t.Errorf("4 GiB: %#x", r)
	}
}

func TestBus(t *testing.T) {
	var b Bus
	d := &recDev{}
	if err := b.Insert(d, "a", 0x100, 0x10); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ base, size uint64 }{{0x100, 1}, {0xf8, 0x10}, {0x10f, 4}, {0x50, 0x1000}} {
		if err := b.Insert(d, "b", c.base, c.size); !errors.Is(err, ErrOverlap) {
			t.Errorf("Insert(%#x,%#x) = %v, want overlap", c.base, c.size, err)
		}
	}
	if err := b.Insert(d, "z", 0x200, 0); !errors.Is(err, ErrZeroSize) {
		t.Errorf("zero size: %v", err)
	}
	if err := b.Insert(d, "w", ^uint64(0)-1, 4); err == nil {
		t.Error("wrapping range accepted")
	}
	if err := b.Insert(d, "c", 0x110, 0x10); err != nil {
		t.Fatal(err)
	}
	b.Write(0x112, []byte{9})
	if d.lastOff != 2 {
		t.Errorf("offset %d, want 2", d.lastOff)
	}
	p := []byte{0}
	if b.Read(0x300, p) || p[0] != 0xff {
		t.Errorf("unmapped read: %v %x", b.Read(0x300, p), p)
	}
}

type recDev struct{ lastOff uint64 }

func (r *recDev) Read(off uint64, p []byte)  { r.lastOff = off }
func (r *recDev) Write(off uint64, p []byte) { r.lastOff = off }
