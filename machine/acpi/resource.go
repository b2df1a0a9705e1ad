package acpi

import (
	"encoding/binary"
	"fmt"
)

// Resource data descriptors (ACPI 6.5 section 6.4), the byte streams inside
// a _CRS ResourceTemplate buffer. Small descriptors carry their length in
// the tag byte; large ones have a 16-bit length after the tag.
const (
	tagIRQNoFlags    = 0x22 // small, IRQ, 2 bytes of mask
	tagIO            = 0x47 // small, I/O port, 7 bytes
	tagEnd           = 0x79 // small, End Tag, 1 byte (checksum)
	tagMemory32Fixed = 0x86 // large, Fixed Memory Range
	tagExtInterrupt  = 0x89 // large, Extended Interrupt

	memory32FixedLen = 9 // bytes after the tag and the length
	extIntFixedLen   = 2 // flags and count, before the 32-bit numbers
	extIntNumLen     = 4

	memReadWrite   = 1 << 0 // Memory32Fixed information: writeable
	ioDecode16     = 1 << 0 // IO information: decodes 16 address bits
	isaIRQs        = 16     // IRQNoFlags describes ISA IRQs 0..15
	endTagChecksum = 0      // 0: "treat the template as checksummed"

	// Extended Interrupt flag bits.
	intConsumer    = 1 << 0
	intEdge        = 1 << 1 // 0: level triggered
	intActiveLow   = 1 << 2 // 0: active high
	intShared      = 1 << 3 // 0: exclusive
	intWakeCapable = 1 << 4
)

// memory32Fixed encodes Memory32Fixed(ReadWrite, base, size).
func memory32Fixed(base, size uint32) []byte {
	b := []byte{tagMemory32Fixed, memory32FixedLen, 0, memReadWrite}
	b = binary.LittleEndian.AppendUint32(b, base)
	return binary.LittleEndian.AppendUint32(b, size)
}

// extendedInterrupt encodes Interrupt(ResourceConsumer, ...) {gsi} with the
// given trigger/polarity/sharing flags.
func extendedInterrupt(flags byte, gsi uint32) []byte {
	const n = extIntFixedLen + extIntNumLen
	b := []byte{tagExtInterrupt, n, 0, intConsumer | flags, 1}
	return binary.LittleEndian.AppendUint32(b, gsi)
}

// ioPort encodes IO(Decode16, port, port, align, length): a fixed range.
func ioPort(port uint16, align, length uint8) []byte {
	b := []byte{tagIO, ioDecode16}
	b = binary.LittleEndian.AppendUint16(b, port)
	b = binary.LittleEndian.AppendUint16(b, port)
	return append(b, align, length)
}

// irqNoFlags encodes IRQNoFlags() {irq}: an ISA IRQ, edge, active high.
func (e *encoder) irqNoFlags(irq uint8) []byte {
	if irq >= isaIRQs {
		return e.fail(fmt.Errorf("%w: IRQNoFlags(%d) is not an ISA IRQ", ErrAML, irq))
	}
	return binary.LittleEndian.AppendUint16([]byte{tagIRQNoFlags}, 1<<irq)
}

// resourceTemplate wraps descriptors in a buffer with an End Tag.
func (e *encoder) resourceTemplate(descs ...[]byte) []byte {
	return e.buffer(concat(concat(descs...), []byte{tagEnd, endTagChecksum}))
}
