// Package legacy holds the PC port-I/O devices govm gives a guest: a 16550A
// UART for the console, a minimal i8042 keyboard controller (only for the
// reset line), and the tiny debug ports of the project's test guest.
//
// Every device implements machine.Device: Read and Write get an offset
// relative to the base the device was inserted at. All of them are safe for
// concurrent use by many vCPU threads, and none of them panics on a bad
// access: unknown offsets read as all ones and drop writes.
package legacy

import (
	"io"
	"sync"
)

// SerialSize is the number of ports a Serial8250 occupies (0x3f8..0x3ff for
// COM1).
const SerialSize = 8

// RxBufferSize bounds the bytes waiting for the guest to read. Enqueue never
// grows it; it accepts what fits.
const RxBufferSize = 4096

// Register offsets. Offsets 0 and 1 are the divisor latch when LCR.DLAB is set.
const (
	regData = 0 // read: RBR, receive buffer; write: THR, transmit holding; DLAB: DLL
	regIER  = 1 // interrupt enable; DLAB: DLM
	regIIR  = 2 // read: interrupt identification; write: FCR, FIFO control
	regLCR  = 3 // line control
	regMCR  = 4 // modem control
	regLSR  = 5 // line status
	regMSR  = 6 // modem status
	regSCR  = 7 // scratch
)

// IER bits.
const (
	ierRDA   = 0x01 // received data available
	ierTHRE  = 0x02 // transmit holding register empty
	ierRLS   = 0x04 // receiver line status
	ierMSI   = 0x08 // modem status
	ierValid = 0x0f // the 16550A implements only the low nibble
)

// IIR values: bit 0 set means nothing pending; bits 1-3 name the source.
const (
	iirNone      = 0x01
	iirRLS       = 0x06 // highest priority
	iirRDA       = 0x04
	iirTHRE      = 0x02
	iirMSI       = 0x00 // lowest priority
	iirFIFOsOn   = 0xc0 // both bits set: "16550A with working FIFOs"
	fcrEnable    = 0x01
	fcrClearRx   = 0x02
	fcrClearTx   = 0x04
	fcrStoreMask = 0xc9 // enable, DMA mode and trigger level are remembered
	lcrDLAB      = 0x80
)

// MCR bits.
const (
	mcrDTR  = 0x01
	mcrRTS  = 0x02
	mcrOUT1 = 0x04
	mcrOUT2 = 0x08
	mcrLoop = 0x10
	mcrMask = 0x1f
)

// LSR bits.
const (
	lsrDR   = 0x01 // data ready
	lsrOE   = 0x02 // overrun error
	lsrTHRE = 0x20 // transmit holding register empty
	lsrTEMT = 0x40 // transmitter empty
)

// MSR bits: deltas in the low nibble, line states in the high one.
const (
	msrDCTS = 0x01
	msrDDSR = 0x02
	msrTERI = 0x04 // trailing edge of RI
	msrDDCD = 0x08
	msrCTS  = 0x10
	msrDSR  = 0x20
	msrRI   = 0x40
	msrDCD  = 0x80
)

// defaultDivisor is 115200/9600: the divisor latch value after reset. Baud
// rate has no effect here; the guest only needs to read back what it wrote.
const defaultDivisor = 12

// Serial8250 is a 16550A UART as Linux's 8250 driver expects it.
//
// Transmission is instantaneous: a byte written to THR goes straight to the
// output writer, so LSR always reports THRE|TEMT and a THR-empty interrupt is
// pending after every transmitted byte. In loopback mode (MCR bit 4) written
// bytes go into the receive buffer instead and the modem outputs are wired to
// the modem inputs, as Linux's autoconfig probe expects. Input from Enqueue
// keeps arriving in loopback mode too.
//
// The receive buffer is one bounded queue of RxBufferSize bytes whether or
// not the guest enabled the FIFOs; the guest drains it while LSR.DR is set.
//
// The interrupt output is a level: IIR has something pending. Unlike a PC
// board, MCR.OUT2 does not gate it (QEMU does the same).
type Serial8250 struct {
	irq func(level bool)

	mu         sync.Mutex // guards the registers below
	level      bool       // last level reported to irq
	ier        byte
	lcr        byte
	mcr        byte
	fcr        byte
	scr        byte
	dll, dlm   byte
	lsrErr     byte // sticky error bits of LSR (only OE here)
	msrDelta   byte // pending MSR delta bits
	thrPending bool // THR-empty interrupt condition, cleared by reading IIR
	rx         [RxBufferSize]byte
	rxHead     int // index of the oldest byte
	rxLen      int
	room       chan struct{}

	outMu  sync.Mutex // serialises writes to out, in register-write order
	out    io.Writer
	outBuf [1]byte
	outErr error // first error of out, kept for WriteErr
}

// NewSerial8250 returns a UART in its reset state. out receives transmitted
// bytes (nil discards them). irq is called with the new level whenever the
// interrupt output changes; it is called with the device's lock held, so it
// must not call back into the device. nil means no interrupt line.
func NewSerial8250(out io.Writer, irq func(level bool)) *Serial8250 {
	if out == nil {
		out = io.Discard
	}
	if irq == nil {
		irq = func(bool) {}
	}
	return &Serial8250{
		irq:  irq,
		out:  out,
		dll:  defaultDivisor,
		room: make(chan struct{}, 1),
	}
}

// Read implements machine.Device. A multi-byte access reads consecutive
// registers, as an 8-bit ISA device on a wider access does.
func (s *Serial8250) Read(off uint64, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range p {
		p[i] = s.readReg(off + uint64(i))
	}
	s.updateIRQ()
}

// Write implements machine.Device. A multi-byte access writes consecutive
// registers. The transmitted byte, if any, is written to out after the
// register lock is released, so Enqueue never waits on a slow console.
func (s *Serial8250) Write(off uint64, p []byte) {
	s.mu.Lock()
	tx, send := byte(0), false
	for i, b := range p {
		if c, ok := s.writeReg(off+uint64(i), b); ok {
			tx, send = c, true
		}
	}
	s.updateIRQ()
	if !send {
		s.mu.Unlock()
		return
	}
	// Take outMu before dropping mu so bytes leave in the order they were
	// written to THR, even from different vCPUs.
	s.outMu.Lock()
	s.mu.Unlock()
	defer s.outMu.Unlock()
	s.outBuf[0] = tx
	if _, err := s.out.Write(s.outBuf[:]); err != nil && s.outErr == nil {
		s.outErr = err
	}
}

// WriteErr returns the first error the output writer returned, if any. The
// device keeps transmitting after an error.
func (s *Serial8250) WriteErr() error {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return s.outErr
}

// Enqueue offers input bytes to the guest and returns how many fit in the
// receive buffer. The caller keeps the rest and retries after Room fires.
func (s *Serial8250) Enqueue(b []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.rxPush(b)
	s.updateIRQ()
	return n
}

// Room returns a channel that receives a value after the guest has taken
// bytes out of the receive buffer: a hint to retry a partial Enqueue.
func (s *Serial8250) Room() <-chan struct{} { return s.room }

func (s *Serial8250) readReg(off uint64) byte {
	dlab := s.lcr&lcrDLAB != 0
	switch off {
	case regData:
		if dlab {
			return s.dll
		}
		return s.rxPop()
	case regIER:
		if dlab {
			return s.dlm
		}
		return s.ier
	case regIIR:
		id := s.pending()
		if id == iirTHRE {
			s.thrPending = false // reading IIR acknowledges THR empty
		}
		if s.fcr&fcrEnable != 0 {
			id |= iirFIFOsOn
		}
		return id
	case regLCR:
		return s.lcr
	case regMCR:
		return s.mcr
	case regLSR:
		v := s.lsrErr | lsrTHRE | lsrTEMT
		if s.rxLen > 0 {
			v |= lsrDR
		}
		s.lsrErr = 0 // error bits clear on read
		return v
	case regMSR:
		v := s.modemInputs() | s.msrDelta
		s.msrDelta = 0
		return v
	case regSCR:
		return s.scr
	}
	return 0xff
}

// writeReg stores b in the register at off. It returns the byte to transmit,
// if the write was to THR outside loopback mode.
func (s *Serial8250) writeReg(off uint64, b byte) (byte, bool) {
	dlab := s.lcr&lcrDLAB != 0
	switch off {
	case regData:
		if dlab {
			s.dll = b
			return 0, false
		}
		// Transmission is instantaneous: THR is empty again at once.
		s.thrPending = true
		if s.mcr&mcrLoop != 0 {
			if s.rxPush([]byte{b}) == 0 {
				s.lsrErr |= lsrOE
			}
			return 0, false
		}
		return b, true
	case regIER:
		if dlab {
			s.dlm = b
			return 0, false
		}
		b &= ierValid
		if b&ierTHRE != 0 && s.ier&ierTHRE == 0 {
			// Enabling the THRE interrupt while THR is empty raises it
			// at once; Linux's startup test relies on this.
			s.thrPending = true
		}
		s.ier = b
	case regIIR: // FCR
		if (b^s.fcr)&fcrEnable != 0 || b&fcrClearRx != 0 {
			// Toggling the FIFOs or an explicit clear empties them.
			s.rxHead, s.rxLen = 0, 0
			s.signalRoom()
		}
		s.fcr = b & fcrStoreMask
	case regLCR:
		s.lcr = b
	case regMCR:
		before := s.modemInputs()
		s.mcr = b & mcrMask
		s.noteModemChange(before, s.modemInputs())
	case regSCR:
		s.scr = b
	}
	// LSR and MSR are read-only; writes to them and beyond the range drop.
	return 0, false
}

// modemInputs returns the high nibble of MSR: the line states.
func (s *Serial8250) modemInputs() byte {
	if s.mcr&mcrLoop == 0 {
		// Nothing real is attached: report a ready, connected peer.
		return msrCTS | msrDSR | msrDCD
	}
	var v byte
	if s.mcr&mcrRTS != 0 {
		v |= msrCTS
	}
	if s.mcr&mcrDTR != 0 {
		v |= msrDSR
	}
	if s.mcr&mcrOUT1 != 0 {
		v |= msrRI
	}
	if s.mcr&mcrOUT2 != 0 {
		v |= msrDCD
	}
	return v
}

// noteModemChange sets the MSR delta bits for a change of line states.
func (s *Serial8250) noteModemChange(before, after byte) {
	changed := before ^ after
	if changed&msrCTS != 0 {
		s.msrDelta |= msrDCTS
	}
	if changed&msrDSR != 0 {
		s.msrDelta |= msrDDSR
	}
	if changed&msrDCD != 0 {
		s.msrDelta |= msrDDCD
	}
	if before&msrRI != 0 && after&msrRI == 0 {
		s.msrDelta |= msrTERI
	}
}

// pending returns the IIR identification of the highest-priority enabled
// interrupt condition, or iirNone.
func (s *Serial8250) pending() byte {
	switch {
	case s.ier&ierRLS != 0 && s.lsrErr != 0:
		return iirRLS
	case s.ier&ierRDA != 0 && s.rxLen > 0:
		return iirRDA
	case s.ier&ierTHRE != 0 && s.thrPending:
		return iirTHRE
	case s.ier&ierMSI != 0 && s.msrDelta != 0:
		return iirMSI
	}
	return iirNone
}

// updateIRQ reports the interrupt output to irq when it changed.
func (s *Serial8250) updateIRQ() {
	level := s.pending() != iirNone
	if level != s.level {
		s.level = level
		s.irq(level)
	}
}

func (s *Serial8250) rxPush(b []byte) int {
	n := min(len(b), RxBufferSize-s.rxLen)
	for _, c := range b[:n] {
		s.rx[(s.rxHead+s.rxLen)%RxBufferSize] = c
		s.rxLen++
	}
	return n
}

func (s *Serial8250) rxPop() byte {
	if s.rxLen == 0 {
		return 0
	}
	c := s.rx[s.rxHead]
	s.rxHead = (s.rxHead + 1) % RxBufferSize
	s.rxLen--
	s.signalRoom()
	return c
}

func (s *Serial8250) signalRoom() {
	select {
	case s.room <- struct{}{}:
	default:
	}
}
