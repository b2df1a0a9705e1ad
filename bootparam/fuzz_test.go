package bootparam

import (
	"debug/elf"
	"testing"
)

// The fuzz targets parse arbitrary bytes and, when that succeeds, prepare a
// boot with a fixed small memory map. Neither step may panic, and a plan that
// comes back must respect the RAM map. Seeds: the synthetic images from
// images_test.go, added here, plus any files in testdata/fuzz/<Target>/.
//
//	go test -run '^$' -fuzz FuzzParseBzImage -fuzztime 30s -fuzzminimizetime 2s ./bootparam
//	go test -run '^$' -fuzz FuzzParseELF -fuzztime 30s -fuzzminimizetime 2s ./bootparam
//
// The seeds are a few KiB (a bzImage needs at least 5 sectors), and the
// default minimization budget (60 s per new input) would eat the whole run:
// keep -fuzzminimizetime short.

const fuzzRAM = 24 * mib

func fuzzPrepare(t *testing.T, k *Kernel) {
	cfg := testConfig(fuzzRAM)
	cfg.Initrd = zeros(64 * kib)
	p, err := Prepare(k, cfg)
	if err != nil {
		return
	}
	for _, s := range p.Segments {
		if s.Size > 0 && !inRAM(cfg.RAM, s.Addr, s.Addr+s.Size) {
			t.Fatalf("segment %s [%#x, +%#x) outside RAM", s.Name, s.Addr, s.Size)
		}
		if s.ContentSize() > s.Size {
			t.Fatalf("segment %s: %#x bytes of content in %#x", s.Name, s.ContentSize(), s.Size)
		}
		if s.File != nil {
			content(t, s) // a file section must lie inside the image
		}
	}
	if p.InitrdAddr < p.KernelEnd {
		t.Fatalf("initrd at %#x below kernel end %#x", p.InitrdAddr, p.KernelEnd)
	}
}

func FuzzParseBzImage(f *testing.F) {
	o := defaultBzOpts()
	o.payloadLen = 64 // small seeds fuzz faster
	f.Add(makeBzImage(o))
	o.setupSects, o.version, o.relocatable = 0, 0x0206, false
	f.Add(makeBzImage(o))
	o = defaultBzOpts()
	o.payloadLen = 64
	o.initSize, o.prefAddress = 0x10000000, 0
	f.Add(makeBzImage(o))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseBzImage(data)
		if err != nil {
			return
		}
		fuzzPrepare(t, k)
	})
}

func FuzzParseELF(f *testing.F) {
	f.Add(makeELF(defaultELF()))
	o := defaultELF()
	o.class, o.machine = elf.ELFCLASS32, elf.EM_386
	o.segs[1].data = pvhNote(0x100000, 4)
	f.Add(makeELF(o))
	o = defaultELF()
	o.segs[1].align = 8
	o.segs = append(o.segs, elfSeg{typ: elf.PT_LOAD, paddr: 0x200000, data: []byte("data"), memsz: 0x10000})
	f.Add(makeELF(o))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKernel(data)
		if err != nil {
			return
		}
		fuzzPrepare(t, k)
	})
}
