package legacy

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/govm/govm/internal/testenv"
)

// irqRecorder checks that the reported level alternates and remembers it.
type irqRecorder struct {
	t       testing.TB
	level   atomic.Bool
	changes atomic.Int64
}

func (r *irqRecorder) set(level bool) {
	if r.level.Swap(level) == level {
		r.t.Errorf("irq called with unchanged level %v", level)
	}
	r.changes.Add(1)
}

const (
	opWrite = iota
	opRead
	opEnqueue
)

// Level expectations for a step.
const (
	levelAny = iota
	levelLow
	levelHigh
)

type serialStep struct {
	name  string
	op    int
	off   uint64
	val   byte   // value written, or expected on read
	mask  byte   // read: compare val&mask (0 means 0xff)
	data  string // enqueue
	level int    // irq level after the step
	out   string // all output so far, checked when non-empty
}

// TestSerial8250LinuxSequence drives the UART the way Linux's 8250 driver
// does: autoconfig probe, baud setup, transmit with THRE interrupts, receive
// with RDA interrupts.
func TestSerial8250LinuxSequence(t *testing.T) {
	steps := []serialStep{
		// autoconfig: IER read-back
		{name: "IER clear", op: opWrite, off: regIER, val: 0},
		{name: "IER reads 0", op: opRead, off: regIER, val: 0, level: levelLow},
		{name: "IER all", op: opWrite, off: regIER, val: 0xff},
		{name: "IER low nibble only", op: opRead, off: regIER, val: 0x0f},
		{name: "IER clear again", op: opWrite, off: regIER, val: 0, level: levelLow},
		// autoconfig: loopback test
		{name: "MCR loop|OUT2|RTS", op: opWrite, off: regMCR, val: mcrLoop | mcrOUT2 | mcrRTS},
		{name: "MSR loopback lines", op: opRead, off: regMSR, val: msrDCD | msrCTS, mask: 0xf0},
		{name: "MCR restore", op: opWrite, off: regMCR, val: 0},
		{name: "MSR outside loopback", op: opRead, off: regMSR, val: msrDCD | msrDSR | msrCTS, mask: 0xf0},
		// autoconfig: EFR probe, then FIFO type
		{name: "LCR conf mode B", op: opWrite, off: regLCR, val: 0xbf},
		{name: "EFR write", op: opWrite, off: regIIR, val: 0},
		{name: "LCR 0", op: opWrite, off: regLCR, val: 0},
		{name: "FCR enable", op: opWrite, off: regIIR, val: fcrEnable},
		{name: "IIR says 16550A", op: opRead, off: regIIR, val: iirFIFOsOn | iirNone},
		{name: "FCR 64-byte bit", op: opWrite, off: regIIR, val: fcrEnable | 0x20},
		{name: "IIR bit 5 clear (not 16750)", op: opRead, off: regIIR, val: iirFIFOsOn | iirNone},
		{name: "SCR write", op: opWrite, off: regSCR, val: 0xa5},
		{name: "SCR read", op: opRead, off: regSCR, val: 0xa5},
		{name: "LSR idle", op: opRead, off: regLSR, val: lsrTHRE | lsrTEMT},
		// baud rate through DLAB
		{name: "LCR DLAB 8N1", op: opWrite, off: regLCR, val: lcrDLAB | 0x03},
		{name: "DLL", op: opWrite, off: regData, val: 0x01},
		{name: "DLM", op: opWrite, off: regIER, val: 0x00},
		{name: "DLL read", op: opRead, off: regData, val: 0x01},
		{name: "DLM read", op: opRead, off: regIER, val: 0x00},
		{name: "LCR 8N1", op: opWrite, off: regLCR, val: 0x03},
		{name: "LCR read", op: opRead, off: regLCR, val: 0x03},
		{name: "IER untouched by DLM", op: opRead, off: regIER, val: 0},
		// transmit
		{name: "THR h", op: opWrite, off: regData, val: 'h', out: "h", level: levelLow},
		{name: "LSR after tx", op: opRead, off: regLSR, val: lsrTHRE | lsrTEMT},
		{name: "IER THRI raises at once", op: opWrite, off: regIER, val: ierTHRE, level: levelHigh},
		{name: "IIR THRE", op: opRead, off: regIIR, val: iirFIFOsOn | iirTHRE, level: levelLow},
		{name: "IIR read cleared THRE", op: opRead, off: regIIR, val: iirFIFOsOn | iirNone},
		{name: "THR i raises THRE", op: opWrite, off: regData, val: 'i', out: "hi", level: levelHigh},
		{name: "stop_tx", op: opWrite, off: regIER, val: 0, level: levelLow},
		{name: "re-enable THRI (Linux THRE test)", op: opWrite, off: regIER, val: ierTHRE, level: levelHigh},
		{name: "IER off", op: opWrite, off: regIER, val: 0, level: levelLow},
		// receive
		{name: "input while RDA masked", op: opEnqueue, data: "ab", level: levelLow},
		{name: "LSR DR", op: opRead, off: regLSR, val: lsrDR | lsrTHRE | lsrTEMT},
		{name: "IER RDA", op: opWrite, off: regIER, val: ierRDA, level: levelHigh},
		{name: "IIR RDA", op: opRead, off: regIIR, val: iirFIFOsOn | iirRDA, level: levelHigh},
		{name: "RBR a", op: opRead, off: regData, val: 'a', level: levelHigh},
		{name: "RBR b drops irq", op: opRead, off: regData, val: 'b', level: levelLow},
		{name: "LSR empty", op: opRead, off: regLSR, val: lsrTHRE | lsrTEMT},
		{name: "IIR none", op: opRead, off: regIIR, val: iirFIFOsOn | iirNone},
		// priority: RDA above THRE
		{name: "IER RDA|THRE", op: opWrite, off: regIER, val: ierRDA | ierTHRE, level: levelHigh},
		{name: "input c", op: opEnqueue, data: "c", level: levelHigh},
		{name: "IIR RDA first", op: opRead, off: regIIR, val: iirFIFOsOn | iirRDA},
		{name: "RBR c", op: opRead, off: regData, val: 'c', level: levelHigh},
		{name: "IIR then THRE", op: opRead, off: regIIR, val: iirFIFOsOn | iirTHRE, level: levelLow},
		{name: "IER off 2", op: opWrite, off: regIER, val: 0, level: levelLow},
		// FIFO clear drops pending input
		{name: "input d", op: opEnqueue, data: "d"},
		{name: "FCR clear rx", op: opWrite, off: regIIR, val: fcrEnable | fcrClearRx},
		{name: "LSR cleared", op: opRead, off: regLSR, val: lsrTHRE | lsrTEMT},
		// loopback data path
		{name: "MCR loop", op: opWrite, off: regMCR, val: mcrLoop},
		{name: "THR in loopback", op: opWrite, off: regData, val: 'z', out: "hi"},
		{name: "LSR DR from loopback", op: opRead, off: regLSR, val: lsrDR | lsrTHRE | lsrTEMT},
		{name: "RBR z", op: opRead, off: regData, val: 'z'},
		// modem status interrupt
		{name: "MSR deltas of entering loopback", op: opRead, off: regMSR, val: msrDCTS | msrDDSR | msrDDCD, mask: 0x0f},
		{name: "MSR deltas cleared", op: opRead, off: regMSR, val: 0, mask: 0x0f},
		{name: "IER MSI", op: opWrite, off: regIER, val: ierMSI, level: levelLow},
		{name: "raise RTS in loop", op: opWrite, off: regMCR, val: mcrLoop | mcrRTS, level: levelHigh},
		{name: "IIR MSI", op: opRead, off: regIIR, val: iirFIFOsOn | iirMSI},
		{name: "MSR DCTS", op: opRead, off: regMSR, val: msrCTS | msrDCTS, level: levelLow},
		{name: "FIFOs off", op: opWrite, off: regIIR, val: 0},
		{name: "IIR without FIFO bits", op: opRead, off: regIIR, val: iirNone},
	}

	var out testenv.Buffer
	rec := &irqRecorder{t: t}
	s := NewSerial8250(&out, rec.set)
	for _, st := range steps {
		switch st.op {
		case opWrite:
			s.Write(st.off, []byte{st.val})
		case opRead:
			p := []byte{0}
			s.Read(st.off, p)
			mask := st.mask
			if mask == 0 {
				mask = 0xff
			}
			if p[0]&mask != st.val {
				t.Fatalf("%s: read off %d = %#02x (&%#02x), want %#02x", st.name, st.off, p[0], mask, st.val)
			}
		case opEnqueue:
			if n := s.Enqueue([]byte(st.data)); n != len(st.data) {
				t.Fatalf("%s: Enqueue accepted %d of %d", st.name, n, len(st.data))
			}
		}
		switch st.level {
		case levelLow:
			if rec.level.Load() {
				t.Fatalf("%s: irq level high, want low", st.name)
			}
		case levelHigh:
			if !rec.level.Load() {
				t.Fatalf("%s: irq level low, want high", st.name)
			}
		}
		if st.out != "" && out.String() != st.out {
			t.Fatalf("%s: output %q, want %q", st.name, out.String(), st.out)
		}
	}
}

func TestSerial8250InputBounded(t *testing.T) {
	s := NewSerial8250(nil, nil)
	big := make([]byte, RxBufferSize+1000)
	for i := range big {
		big[i] = byte(i)
	}
	if n := s.Enqueue(big); n != RxBufferSize {
		t.Fatalf("Enqueue accepted %d, want %d", n, RxBufferSize)
	}
	if n := s.Enqueue([]byte("more")); n != 0 {
		t.Fatalf("Enqueue on full buffer accepted %d", n)
	}
	select {
	case <-s.Room():
		t.Fatal("Room fired before the guest read anything")
	default:
	}
	p := []byte{0}
	s.Read(regData, p)
	if p[0] != 0 {
		t.Fatalf("first byte %d, want 0", p[0])
	}
	select {
	case <-s.Room():
	default:
		t.Fatal("Room did not fire after a read")
	}
	if n := s.Enqueue([]byte{0xee, 0xef}); n != 1 {
		t.Fatalf("Enqueue after one read accepted %d, want 1", n)
	}
	for i := 1; i < RxBufferSize; i++ {
		s.Read(regData, p)
		if p[0] != byte(i) {
			t.Fatalf("byte %d = %d", i, p[0])
		}
	}
	s.Read(regData, p)
	if p[0] != 0xee {
		t.Fatalf("last byte %#x, want 0xee", p[0])
	}
	s.Read(regLSR, p)
	if p[0]&lsrDR != 0 {
		t.Fatal("LSR.DR set on an empty buffer")
	}
}

func TestSerial8250LoopbackOverrun(t *testing.T) {
	s := NewSerial8250(nil, nil)
	s.Enqueue(make([]byte, RxBufferSize))
	s.Write(regIER, []byte{ierRLS})
	s.Write(regMCR, []byte{mcrLoop})
	s.Write(regData, []byte{'x'})
	p := []byte{0}
	s.Read(regIIR, p)
	if p[0] != iirRLS {
		t.Fatalf("IIR %#x, want RLS %#x", p[0], iirRLS)
	}
	s.Read(regLSR, p)
	if p[0]&lsrOE == 0 {
		t.Fatalf("LSR %#x lacks OE", p[0])
	}
	s.Read(regLSR, p)
	if p[0]&lsrOE != 0 {
		t.Fatal("OE not cleared by reading LSR")
	}
}

type failingWriter struct{}

var errBroken = errors.New("broken console")

func (failingWriter) Write(p []byte) (int, error) { return 0, errBroken }

func TestSerial8250WriterError(t *testing.T) {
	s := NewSerial8250(failingWriter{}, nil)
	s.Write(regData, []byte{'a'})
	s.Write(regData, []byte{'b'})
	if !errors.Is(s.WriteErr(), errBroken) {
		t.Fatalf("WriteErr = %v, want %v", s.WriteErr(), errBroken)
	}
}

func TestSerial8250OddAccesses(t *testing.T) {
	s := NewSerial8250(nil, nil)
	for off := uint64(0); off < 2*SerialSize; off++ {
		for size := 0; size <= 9; size++ {
			p := bytes.Repeat([]byte{0xff}, size)
			s.Write(off, p)
			s.Read(off, p)
		}
	}
	s.Read(^uint64(0), make([]byte, 8))
	s.Write(^uint64(0)-2, make([]byte, 8)) // offsets wrap: still no panic
	p := []byte{0}
	s.Read(SerialSize, p)
	if p[0] != 0xff {
		t.Fatalf("read beyond the range = %#x, want 0xff", p[0])
	}
}

func TestSerial8250WideAccessSplits(t *testing.T) {
	s := NewSerial8250(nil, nil)
	s.Write(regLCR, []byte{0x03, mcrLoop}) // LCR then MCR
	p := make([]byte, 2)
	s.Read(regLCR, p)
	if p[0] != 0x03 || p[1] != mcrLoop {
		t.Fatalf("LCR,MCR = %#x,%#x", p[0], p[1])
	}
}

// TestSerial8250Concurrent hammers the device from "vCPUs" and an input
// goroutine at once; run it with -race.
func TestSerial8250Concurrent(t *testing.T) {
	const (
		vcpus   = 4
		perVCPU = 2000
		input   = 20000
	)
	var out testenv.Buffer
	rec := &irqRecorder{t: t}
	s := NewSerial8250(&out, rec.set)
	s.Write(regIER, []byte{ierRDA | ierTHRE})

	var wg sync.WaitGroup
	for v := 0; v < vcpus; v++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := []byte{0}
			for i := 0; i < perVCPU; i++ {
				s.Write(regData, []byte{'.'})
				s.Read(regIIR, p)
				s.Read(regLSR, p)
			}
		}()
	}
	done := make(chan struct{})
	received := 0
	go func() { // the guest's receive path
		defer close(done)
		p := []byte{0}
		for received < input {
			s.Read(regLSR, p)
			if p[0]&lsrDR != 0 {
				s.Read(regData, p)
				received++
			}
		}
	}()
	chunk := []byte("0123456789abcdef")
	for sent := 0; sent < input; {
		n := min(len(chunk), input-sent)
		sent += s.Enqueue(chunk[:n])
	}
	wg.Wait()
	<-done
	if got := len(out.String()); got != vcpus*perVCPU {
		t.Fatalf("output %d bytes, want %d", got, vcpus*perVCPU)
	}
	if rec.changes.Load() == 0 {
		t.Fatal("irq never changed")
	}
}

// FuzzSerial8250 runs arbitrary register sequences; it must never panic and
// never hold more than RxBufferSize bytes.
func FuzzSerial8250(f *testing.F) {
	f.Add([]byte{0x13, 0x1a, 0x16, 0x00, 0x82, 0x0f, 0x00, 'a', 0x8d, 0x05})
	f.Add([]byte{0x03, 0x80, 0x00, 0x01, 0x44, 0x10, 0x00, 'z'})
	f.Fuzz(func(t *testing.T, ops []byte) {
		s := NewSerial8250(nil, func(bool) {})
		for i := 0; i+1 < len(ops); i += 2 {
			op, v := ops[i], ops[i+1]
			off := uint64(op & 0x0f)
			switch op >> 6 {
			case 0:
				s.Write(off, []byte{v})
			case 1:
				s.Enqueue(bytes.Repeat([]byte{v}, int(v)*32))
			default:
				s.Read(off, []byte{0})
			}
		}
		if s.rxLen > RxBufferSize {
			t.Fatalf("rxLen %d > %d", s.rxLen, RxBufferSize)
		}
	})
}
