package legacy

// DebugPortSize is the range each debug port device occupies. A wider write
// (outw, outl) lands at offset 0 with a longer p.
const DebugPortSize = 1

// maxValueBytes is the widest write a debug port decodes: an outl.
const maxValueBytes = 4

// portValue decodes a little-endian write of 1 to 4 bytes at offset 0. Other
// offsets and sizes are not a value.
func portValue(off uint64, p []byte) (uint32, bool) {
	if off != 0 || len(p) == 0 || len(p) > maxValueBytes {
		return 0, false
	}
	var v uint32
	for i, b := range p {
		v |= uint32(b) << (8 * i)
	}
	return v, true
}

// DebugExit ends the VM on the test guest's request: a write of value v
// (1, 2 or 4 bytes, little endian) calls OnExit(v), and govm exits with
// status v. Reads return zero.
type DebugExit struct {
	// OnExit may be nil. It may be called from several vCPUs at once.
	OnExit func(v uint32)
}

// Read implements machine.Device.
func (d *DebugExit) Read(off uint64, p []byte) { clear(p) }

// Write implements machine.Device.
func (d *DebugExit) Write(off uint64, p []byte) {
	if v, ok := portValue(off, p); ok && d.OnExit != nil {
		d.OnExit(v)
	}
}

// Benchmark marks written to a DebugMark port by the test guest.
const (
	MarkBegin = 1
	MarkEnd   = 2
)

// DebugMark passes benchmark marks to the VMM: a write of value v calls
// OnMark(v). govm records a timestamp for MarkBegin and MarkEnd. Reads
// return zero.
type DebugMark struct {
	// OnMark may be nil. It may be called from several vCPUs at once.
	OnMark func(v uint32)
}

// Read implements machine.Device.
func (d *DebugMark) Read(off uint64, p []byte) { clear(p) }

// Write implements machine.Device.
func (d *DebugMark) Write(off uint64, p []byte) {
	if v, ok := portValue(off, p); ok && d.OnMark != nil {
		d.OnMark(v)
	}
}

// Sink ignores writes and reads as zero: the cheapest possible device, the
// target of the exit-cost benchmark.
type Sink struct{}

// Read implements machine.Device.
func (Sink) Read(off uint64, p []byte) { clear(p) }

// Write implements machine.Device.
func (Sink) Write(off uint64, p []byte) {}
