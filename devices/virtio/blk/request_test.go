package blk

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

const imgSize = 64 * SectorSize // 32 KiB, capacity 64

func TestReadWriteRoundTrip(t *testing.T) {
	orig := pattern(imgSize, 1)
	p := tempImage(t, orig)
	r := newRig(t, mustOpen(t, Options{Path: p}))

	data := pattern(3*SectorSize, 0x5a)
	// Data in three buffers of uneven sizes (sector multiples in total).
	res := r.run([][]byte{header(TypeOut, 5), data[:100], data[100:1000], data[1000:]}, 1)
	if res.status != StatusOK || res.written != 1 {
		t.Fatalf("OUT: status %d written %d", res.status, res.written)
	}
	want := append([]byte(nil), orig...)
	copy(want[5*SectorSize:], data)
	if got := readFile(t, p); !bytes.Equal(got, want) {
		t.Fatal("image after OUT differs from the expected content")
	}

	// Read back sectors 4..8, with the status byte sharing the last buffer.
	res = r.run([][]byte{header(TypeIn, 4)}, 1000, 4*SectorSize-1000+1)
	if res.status != StatusOK || res.written != 4*SectorSize+1 {
		t.Fatalf("IN: status %d written %d", res.status, res.written)
	}
	got := cat(res.out...)
	if !bytes.Equal(got[:4*SectorSize], want[4*SectorSize:8*SectorSize]) {
		t.Fatal("IN returned the wrong bytes")
	}
}

func TestLastSectorAndOutOfRange(t *testing.T) {
	orig := pattern(imgSize, 2)
	p := tempImage(t, orig)
	r := newRig(t, mustOpen(t, Options{Path: p}))
	capacity := uint64(imgSize / SectorSize)

	res := r.run([][]byte{header(TypeIn, capacity-1)}, SectorSize, 1)
	if res.status != StatusOK || !bytes.Equal(res.out[0], orig[imgSize-SectorSize:]) {
		t.Fatalf("reading the last sector: status %d", res.status)
	}
	for _, tc := range []struct {
		name   string
		typ    uint32
		sector uint64
		n      int
	}{
		{"read one past the end", TypeIn, capacity, SectorSize},
		{"read across the end", TypeIn, capacity - 1, 2 * SectorSize},
		{"write one past the end", TypeOut, capacity, SectorSize},
		{"sector overflows when shifted", TypeIn, 1 << 63, SectorSize},
		{"sector max", TypeOut, ^uint64(0), SectorSize},
		{"read not a multiple of 512", TypeIn, 0, 100},
		{"write not a multiple of 512", TypeOut, 0, 513},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res result
			if tc.typ == TypeIn {
				res = r.run([][]byte{header(tc.typ, tc.sector)}, tc.n, 1)
			} else {
				res = r.run([][]byte{header(tc.typ, tc.sector), make([]byte, tc.n)}, 1)
			}
			if res.status != StatusIOErr || res.written != 1 {
				t.Fatalf("status %d written %d, want IOERR and 1", res.status, res.written)
			}
		})
	}
	if !bytes.Equal(readFile(t, p), orig) {
		t.Fatal("a rejected request changed the image")
	}
}

func TestMalformedRequests(t *testing.T) {
	orig := pattern(imgSize, 3)
	p := tempImage(t, orig)
	r := newRig(t, mustOpen(t, Options{Path: p}))

	for _, tc := range []struct {
		name     string
		readable [][]byte
		writable []int
		status   byte
	}{
		{"short header", [][]byte{header(TypeIn, 0)[:10]}, []int{SectorSize, 1}, StatusIOErr},
		{"no header", nil, []int{1}, StatusIOErr},
		{"header split in two", [][]byte{header(TypeFlush, 0)[:5], header(TypeFlush, 0)[5:]}, []int{1}, StatusOK},
		{"unknown type", [][]byte{header(99, 0)}, []int{1}, StatusUnsupp},
		{"get lifetime unsupported", [][]byte{header(10, 0)}, []int{6, 1}, StatusUnsupp},
		{"read with readable data", [][]byte{header(TypeIn, 0), make([]byte, SectorSize)}, []int{SectorSize, 1}, StatusIOErr},
		{"write with writable data", [][]byte{header(TypeOut, 0), make([]byte, SectorSize)}, []int{SectorSize, 1}, StatusIOErr},
		{"empty buffers are skipped", [][]byte{header(TypeFlush, 0), {}}, []int{1, 0}, StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.run(tc.readable, tc.writable...)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d", res.status, tc.status)
			}
		})
	}
	if !bytes.Equal(readFile(t, p), orig) {
		t.Fatal("a malformed request changed the image")
	}
}

func TestNoStatusByte(t *testing.T) {
	orig := pattern(imgSize, 4)
	p := tempImage(t, orig)
	r := newRig(t, mustOpen(t, Options{Path: p}))
	res := r.run([][]byte{header(TypeOut, 0), make([]byte, SectorSize)})
	if res.written != 0 {
		t.Fatalf("written %d, want 0", res.written)
	}
	res = r.run([][]byte{header(TypeIn, 0)}, 0)
	if res.written != 0 {
		t.Fatalf("written %d, want 0", res.written)
	}
	if !bytes.Equal(readFile(t, p), orig) {
		t.Fatal("a request without a status byte changed the image")
	}
}

func TestFlushSyncsBeforeCompletion(t *testing.T) {
	r := newRig(t, mustOpen(t, Options{Path: tempImage(t, make([]byte, imgSize))}))
	calls := 0
	r.d.syncFile = func() error { calls++; return nil }
	if res := r.run([][]byte{header(TypeFlush, 0)}, 1); res.status != StatusOK || calls != 1 {
		t.Fatalf("status %d, %d syncs", res.status, calls)
	}
	r.d.syncFile = func() error { return unix.EIO }
	if res := r.run([][]byte{header(TypeFlush, 0)}, 1); res.status != StatusIOErr {
		t.Fatalf("failed sync: status %d, want IOERR", res.status)
	}
}

func TestGetID(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"from base name", Options{Path: "disk.img"}, "disk.img"},
		{"explicit", Options{Path: "x", ID: "serial-1"}, "serial-1"},
		{"exactly 20 bytes, no NUL", Options{Path: "x", ID: "abcdefghijklmnopqrst"}, "abcdefghijklmnopqrst"},
		{"long base name cut", Options{Path: "a-very-long-image-name.raw"}, "a-very-long-image-na"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tempImage(t, make([]byte, imgSize))
			o := tc.o
			if o.ID == "" {
				// The default id comes from the base name: use it.
				d := t.TempDir() + "/" + o.Path
				if err := os.Rename(p, d); err != nil {
					t.Fatal(err)
				}
				p = d
			}
			o.Path = p
			r := newRig(t, mustOpen(t, o))
			res := r.run([][]byte{header(TypeGetID, 0)}, IDBytes, 1)
			want := make([]byte, IDBytes)
			copy(want, tc.want)
			if res.status != StatusOK || res.written != IDBytes+1 || !bytes.Equal(res.out[0], want) {
				t.Fatalf("status %d written %d id %q, want %q", res.status, res.written, res.out[0], want)
			}
		})
	}
}

func TestIDValidation(t *testing.T) {
	for _, id := range []string{"abcdefghijklmnopqrstu", "tab\there", "nul\x00"} {
		if _, err := makeID(Options{Path: "x", ID: id}); err == nil {
			t.Errorf("id %q accepted", id)
		}
	}
	id, err := makeID(Options{Path: "/dir/d\x01sk"})
	if err != nil || string(id[:4]) != "d_sk" {
		t.Errorf("non-printable base name: %q, %v", id, err)
	}
}

func TestDiscardAndWriteZeroes(t *testing.T) {
	const s = SectorSize
	for _, tc := range []struct {
		name     string
		typ      uint32
		segs     [][]byte
		zeroed   [][2]int // sector ranges that must read as zero
		fallback bool     // fallocate says EOPNOTSUPP
	}{
		{"discard", TypeDiscard, [][]byte{seg(8, 16, 0)}, [][2]int{{8, 24}}, false},
		{"discard two segments", TypeDiscard, [][]byte{seg(0, 8, 0), seg(40, 3, 0)}, [][2]int{{0, 8}, {40, 43}}, false},
		{"write zeroes", TypeWriteZeroes, [][]byte{seg(3, 5, 0)}, [][2]int{{3, 8}}, false},
		{"write zeroes unmap", TypeWriteZeroes, [][]byte{seg(16, 16, segFlagUnmap)}, [][2]int{{16, 32}}, false},
		{"write zeroes fallback", TypeWriteZeroes, [][]byte{seg(1, 63, 0)}, [][2]int{{1, 64}}, true},
		{"zero-length segment", TypeWriteZeroes, [][]byte{seg(63, 0, 0)}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := pattern(imgSize, 5)
			p := tempImage(t, orig)
			r := newRig(t, mustOpen(t, Options{Path: p}))
			if tc.fallback {
				r.d.fallocate = func(uint32, int64, int64) error { return unix.EOPNOTSUPP }
			}
			res := r.run(append([][]byte{header(tc.typ, 0)}, cat(tc.segs...)), 1)
			if res.status != StatusOK || res.written != 1 {
				t.Fatalf("status %d written %d", res.status, res.written)
			}
			want := append([]byte(nil), orig...)
			for _, z := range tc.zeroed {
				clear(want[z[0]*s : z[1]*s])
			}
			if got := readFile(t, p); !bytes.Equal(got, want) {
				t.Fatal("image content differs from the expected one")
			}
		})
	}
}

func TestDiscardUnsupportedIsANoop(t *testing.T) {
	orig := pattern(imgSize, 6)
	p := tempImage(t, orig)
	r := newRig(t, mustOpen(t, Options{Path: p}))
	r.d.fallocate = func(uint32, int64, int64) error { return unix.EOPNOTSUPP }
	if res := r.run([][]byte{header(TypeDiscard, 0), seg(0, 8, 0)}, 1); res.status != StatusOK {
		t.Fatalf("status %d", res.status)
	}
	r.d.fallocate = func(uint32, int64, int64) error { return unix.EIO }
	if res := r.run([][]byte{header(TypeDiscard, 0), seg(0, 8, 0)}, 1); res.status != StatusIOErr {
		t.Fatalf("failing fallocate: status %d, want IOERR", res.status)
	}
	if !bytes.Equal(readFile(t, p), orig) {
		t.Fatal("image changed")
	}
}

func TestSegmentValidation(t *testing.T) {
	orig := pattern(imgSize, 7)
	p := tempImage(t, orig)
	r := newRig(t, mustOpen(t, Options{Path: p}))
	many := func(n int) []byte {
		var b []byte
		for range n {
			b = append(b, seg(0, 1, 0)...)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		typ    uint32
		data   []byte
		status byte
	}{
		{"no segment", TypeDiscard, nil, StatusIOErr},
		{"partial segment", TypeDiscard, seg(0, 1, 0)[:10], StatusIOErr},
		{"too many discard segments", TypeDiscard, many(maxDiscardSeg + 1), StatusIOErr},
		{"too many write-zeroes segments", TypeWriteZeroes, many(maxWriteZeroesSeg + 1), StatusIOErr},
		{"discard with unmap", TypeDiscard, seg(0, 1, segFlagUnmap), StatusUnsupp},
		{"reserved flag", TypeWriteZeroes, seg(0, 1, 2), StatusUnsupp},
		{"discard too long", TypeDiscard, seg(0, maxDiscardSectors+1, 0), StatusIOErr},
		{"write zeroes too long", TypeWriteZeroes, seg(0, maxWriteZeroesSectors+1, 0), StatusIOErr},
		{"past the end", TypeWriteZeroes, seg(60, 5, 0), StatusIOErr},
		{"sector overflow", TypeDiscard, seg(^uint64(0)-1, 4, 0), StatusIOErr},
		// The good first segment must not be carried out either.
		{"second segment bad", TypeWriteZeroes, cat(seg(0, 8, 0), seg(64, 1, 0)), StatusIOErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.run([][]byte{header(tc.typ, 0), tc.data}, 1)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d", res.status, tc.status)
			}
		})
	}
	if !bytes.Equal(readFile(t, p), orig) {
		t.Fatal("a rejected request changed the image")
	}
	// Without the negotiated feature the request is unsupported.
	r.d.features = 0
	if res := r.run([][]byte{header(TypeDiscard, 0), seg(0, 1, 0)}, 1); res.status != StatusUnsupp {
		t.Fatalf("discard without the feature: status %d", res.status)
	}
}

func TestReadOnlyRejectsWrites(t *testing.T) {
	orig := pattern(imgSize, 8)
	p := tempImage(t, orig)
	d := mustOpen(t, Options{Path: p, ReadOnly: true})
	r := newRig(t, d)
	r.d.features |= FeatureDiscard | FeatureWriteZeroes // even if a driver claims them
	syncs := 0
	d.syncFile = func() error { syncs++; return nil }
	for _, rq := range [][][]byte{
		{header(TypeOut, 0), make([]byte, SectorSize)},
		{header(TypeDiscard, 0), seg(0, 8, 0)},
		{header(TypeWriteZeroes, 0), seg(0, 8, 0)},
		{header(TypeWriteZeroes, 0), seg(0, 8, segFlagUnmap)},
	} {
		if res := r.run(rq, 1); res.status != StatusIOErr {
			t.Errorf("type %d on a read-only disk: status %d, want IOERR", rq[0][0], res.status)
		}
	}
	if res := r.run([][]byte{header(TypeIn, 1)}, SectorSize, 1); res.status != StatusOK ||
		!bytes.Equal(res.out[0], orig[SectorSize:2*SectorSize]) {
		t.Errorf("read on a read-only disk: status %d", res.status)
	}
	if res := r.run([][]byte{header(TypeFlush, 0)}, 1); res.status != StatusOK || syncs != 0 {
		t.Errorf("flush on a read-only disk: status %d, %d syncs", res.status, syncs)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, p), orig) {
		t.Fatal("the read-only image changed")
	}
}

func TestClosedDeviceFailsRequests(t *testing.T) {
	d := mustOpen(t, Options{Path: tempImage(t, make([]byte, imgSize))})
	r := newRig(t, d)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if res := r.run([][]byte{header(TypeIn, 0)}, SectorSize, 1); res.status != StatusIOErr {
		t.Fatalf("status %d after Close", res.status)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestRequestsDoNotAllocate(t *testing.T) {
	r := newRig(t, mustOpen(t, Options{Path: tempImage(t, make([]byte, imgSize))}))
	chain, _ := r.build([][]byte{header(TypeIn, 0)}, 4*SectorSize, 4*SectorSize, 1)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := r.d.serve(chain); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("a read allocates %v times", allocs)
	}
}

func TestUnsupportedErrors(t *testing.T) {
	for _, err := range []error{unix.EOPNOTSUPP, unix.ENOSYS, unix.ENOTTY, unix.EINVAL} {
		if !unsupported(err) {
			t.Errorf("%v not taken as unsupported", err)
		}
	}
	if unsupported(unix.EIO) || unsupported(errors.New("x")) {
		t.Error("EIO taken as unsupported")
	}
}
