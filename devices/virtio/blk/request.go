package blk

import (
	"encoding/binary"
	"fmt"

	"github.com/govm/govm/devices/virtio"
	"golang.org/x/sys/unix"
)

// Request layout (struct virtio_blk_req): a 16-byte header the device
// reads, the data, and one status byte the device writes last.
const (
	headerSize   = 16
	hdrType      = 0 // le32
	hdrSector    = 8 // le64 (bytes 4..7 are the reserved/ioprio field)
	statusSize   = 1
	segmentSize  = 16 // struct virtio_blk_discard_write_zeroes
	segSector    = 0  // le64
	segNum       = 8  // le32
	segFlags     = 12 // le32
	segFlagUnmap = 1  // the only defined flag
	maxSegments  = max(maxDiscardSeg, maxWriteZeroesSeg)
	// zeroChunk bounds each write of the write-zeroes fallback.
	zeroChunk = 64 << 10
)

// zeroes is the source of the write-zeroes fallback; it is never written.
var zeroes [zeroChunk]byte

// serve handles one request chain and returns how many bytes it wrote into
// the chain. An error means the chain itself is unusable (the transport
// resets the device); mistakes inside a request only set its status.
func (d *Device) serve(c *virtio.Chain) (uint32, error) {
	var err error
	if d.readable, err = mapBuffers(d.mem, d.readable[:0], c.Readable); err != nil {
		return 0, err
	}
	if d.writable, err = mapBuffers(d.mem, d.writable[:0], c.Writable); err != nil {
		return 0, err
	}
	data, status := d.writable.splitLast()
	if status == nil {
		// No byte to report a status in: give the chain back unwritten.
		return 0, nil
	}
	if d.closed {
		status[0] = StatusIOErr
		return statusSize, nil
	}
	var hdr [headerSize]byte
	if d.readable.gather(hdr[:]) < headerSize {
		status[0] = StatusIOErr
		return statusSize, nil
	}
	typ := binary.LittleEndian.Uint32(hdr[hdrType:])
	sector := binary.LittleEndian.Uint64(hdr[hdrSector:])
	st, n := d.do(typ, sector, d.readable.drop(headerSize), data)
	status[0] = st
	return n + statusSize, nil
}

// do runs a request whose header said typ and sector. in is the readable
// data after the header, out the writable data before the status byte. It
// returns the status and how many bytes of out it filled.
func (d *Device) do(typ uint32, sector uint64, in, out iovec) (status byte, n uint32) {
	switch typ {
	case TypeIn:
		if in.size() != 0 {
			return StatusIOErr, 0
		}
		return d.read(sector, out)
	case TypeOut:
		if d.readOnly || out.size() != 0 {
			return StatusIOErr, 0
		}
		return d.write(sector, in), 0
	case TypeFlush:
		if d.readOnly {
			return StatusOK, 0 // nothing was written
		}
		if err := d.syncFile(); err != nil {
			return StatusIOErr, 0
		}
		return StatusOK, 0
	case TypeGetID:
		return StatusOK, uint32(out.scatter(d.id[:]))
	case TypeDiscard, TypeWriteZeroes:
		if d.readOnly || out.size() != 0 {
			return StatusIOErr, 0
		}
		return d.ranges(typ, in), 0
	default:
		return StatusUnsupp, 0
	}
}

// inRange reports whether n sectors from sector lie on the disk.
func (d *Device) inRange(sector, n uint64) bool {
	return sector <= d.capacity && n <= d.capacity-sector
}

// dataRange checks an IN/OUT data length and returns the byte offset.
func (d *Device) dataRange(sector, size uint64) (int64, bool) {
	if size%SectorSize != 0 || !d.inRange(sector, size>>sectorShift) {
		return 0, false
	}
	return int64(sector << sectorShift), true
}

// read preads the sectors straight into the guest's buffers.
func (d *Device) read(sector uint64, out iovec) (byte, uint32) {
	size := out.size()
	off, ok := d.dataRange(sector, size)
	if !ok {
		return StatusIOErr, 0
	}
	for _, b := range out {
		if _, err := d.file.ReadAt(b, off); err != nil {
			return StatusIOErr, 0
		}
		off += int64(len(b))
	}
	// size fits: a chain is at most virtio.MaxChainBytes.
	return StatusOK, uint32(size)
}

// write pwrites the guest's buffers straight to the image.
func (d *Device) write(sector uint64, in iovec) byte {
	off, ok := d.dataRange(sector, in.size())
	if !ok {
		return StatusIOErr
	}
	for _, b := range in {
		if _, err := d.file.WriteAt(b, off); err != nil {
			return StatusIOErr
		}
		off += int64(len(b))
	}
	return StatusOK
}

type segment struct {
	sector, num uint64
	unmap       bool
}

// ranges serves DISCARD and WRITE_ZEROES: every segment is checked before
// any is acted on.
func (d *Device) ranges(typ uint32, in iovec) byte {
	feature, maxSeg, maxSectors := uint64(FeatureDiscard), maxDiscardSeg, uint64(maxDiscardSectors)
	if typ == TypeWriteZeroes {
		feature, maxSeg, maxSectors = FeatureWriteZeroes, maxWriteZeroesSeg, maxWriteZeroesSectors
	}
	if d.features&feature == 0 {
		return StatusUnsupp
	}
	size := in.size()
	if size == 0 || size%segmentSize != 0 || size/segmentSize > uint64(maxSeg) {
		return StatusIOErr
	}
	var raw [maxSegments * segmentSize]byte
	var segs [maxSegments]segment
	count := int(size / segmentSize)
	in.gather(raw[:size])
	le := binary.LittleEndian
	for i := range count {
		r := raw[i*segmentSize:]
		s := segment{sector: le.Uint64(r[segSector:]), num: uint64(le.Uint32(r[segNum:]))}
		flags := le.Uint32(r[segFlags:])
		s.unmap = flags&segFlagUnmap != 0
		if flags&^segFlagUnmap != 0 || (typ == TypeDiscard && s.unmap) {
			return StatusUnsupp
		}
		if s.num > maxSectors || !d.inRange(s.sector, s.num) {
			return StatusIOErr
		}
		segs[i] = s
	}
	for _, s := range segs[:count] {
		if s.num == 0 {
			continue
		}
		off, n := int64(s.sector<<sectorShift), int64(s.num<<sectorShift)
		var err error
		if typ == TypeDiscard {
			err = d.discard(off, n)
		} else {
			err = d.writeZeroes(off, n, s.unmap)
		}
		if err != nil {
			return StatusIOErr
		}
	}
	return StatusOK
}

// discard deallocates a range if the image supports it. Where it does not,
// discard does nothing: the driver may not assume anything about the data
// read after a discard (virtio 1.2 section 5.2.6.2), and writing zeroes
// instead would turn a cheap hint (mkfs discards the whole disk) into a
// full write.
func (d *Device) discard(off, n int64) error {
	var err error
	if d.blockDev {
		err = d.blkIoctl(unix.BLKDISCARD, uint64(off), uint64(n))
	} else {
		err = d.fallocate(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	}
	if err != nil && !unsupported(err) {
		return fmt.Errorf("discard: %w", err)
	}
	return nil
}

// writeZeroes makes a range read as zeroes: with a hole when the driver
// allows unmapping, else with a zeroed allocated range, and when the image
// supports neither, by writing zeroes.
func (d *Device) writeZeroes(off, n int64, unmap bool) error {
	var err error
	switch {
	case d.blockDev:
		err = d.blkIoctl(unix.BLKZEROOUT, uint64(off), uint64(n))
	case unmap:
		err = d.fallocate(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	default:
		err = d.fallocate(unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	}
	if err == nil {
		return nil
	}
	if !unsupported(err) {
		return fmt.Errorf("write zeroes: %w", err)
	}
	for n > 0 {
		chunk := min(n, zeroChunk)
		if _, err := d.file.WriteAt(zeroes[:chunk], off); err != nil {
			return fmt.Errorf("write zeroes: %w", err)
		}
		off += chunk
		n -= chunk
	}
	return nil
}
