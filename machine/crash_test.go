package machine

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govm/govm/internal/testenv"
)

// pvhELF builds a minimal ELF64 image whose PVH entry runs code at 1 MiB.
func pvhELF(code []byte) []byte {
	const (
		ehdrSize = 64
		phdrSize = 56
		loadAddr = 0x100000
		noteOff  = ehdrSize + 2*phdrSize
	)
	note := make([]byte, 12+4+4)
	binary.LittleEndian.PutUint32(note[0:], 4)  // namesz "Xen\0"
	binary.LittleEndian.PutUint32(note[4:], 4)  // descsz
	binary.LittleEndian.PutUint32(note[8:], 18) // XEN_ELFNOTE_PHYS32_ENTRY
	copy(note[12:], "Xen\x00")
	binary.LittleEndian.PutUint32(note[16:], loadAddr)
	codeOff := noteOff + len(note)
	f := make([]byte, codeOff+len(code))
	copy(f, "\x7fELF")
	f[4], f[5], f[6] = 2, 1, 1 // 64-bit, little endian, version 1
	le := binary.LittleEndian
	le.PutUint16(f[16:], 2)    // ET_EXEC
	le.PutUint16(f[18:], 0x3e) // x86-64
	le.PutUint32(f[20:], 1)
	le.PutUint64(f[24:], loadAddr)
	le.PutUint64(f[32:], ehdrSize) // phoff
	le.PutUint16(f[52:], ehdrSize)
	le.PutUint16(f[54:], phdrSize)
	le.PutUint16(f[56:], 2) // phnum
	ph := f[ehdrSize:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 5) // R+X
	le.PutUint64(ph[8:], uint64(codeOff))
	le.PutUint64(ph[16:], loadAddr)
	le.PutUint64(ph[24:], loadAddr)
	le.PutUint64(ph[32:], uint64(len(code)))
	le.PutUint64(ph[40:], uint64(len(code)))
	le.PutUint64(ph[48:], 0x1000)
	ph = ph[phdrSize:]
	le.PutUint32(ph[0:], 4) // PT_NOTE
	le.PutUint64(ph[8:], noteOff)
	le.PutUint64(ph[32:], uint64(len(note)))
	le.PutUint64(ph[48:], 4)
	copy(f[noteOff:], note)
	copy(f[codeOff:], code)
	return f
}

// A guest that loads an empty IDT and executes UD2 triple-faults; govm must
// stop with a crash report that has the registers.
func TestTripleFaultReportsRegisters(t *testing.T) {
	testenv.RequireKVM(t)
	code := []byte{
		0xb8, 0x44, 0x33, 0x22, 0x11, // mov eax, 0x11223344 (visible in the dump)
		0x0f, 0x01, 0x1d, 0x00, 0x01, 0x10, 0x00, // lidt [0x100100] (zero limit)
		0x0f, 0x0b, // ud2
	}
	img := make([]byte, 0x110)
	copy(img, code)
	elf := filepath.Join(t.TempDir(), "crash.elf")
	if err := os.WriteFile(elf, pvhELF(img), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Kernel: elf, Memory: 32 * MiB, CPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	done := make(chan Result, 1)
	go func() { done <- m.Run() }()
	select {
	case r := <-done:
		if r.Reason != StopCrash {
			t.Fatalf("result %+v, want a crash", r)
		}
		if !strings.Contains(r.Detail, "rax=0x0000000011223344") || !strings.Contains(r.Detail, "rip=") {
			t.Errorf("crash report lacks the registers:\n%s", r.Detail)
		}
		t.Logf("crash report:\n%s", r.Detail)
	case <-time.After(time.Minute):
		m.Stop(1, "")
		t.Fatal("guest did not crash")
	}
}
