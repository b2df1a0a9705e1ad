// Package blk implements a virtio block device (virtio 1.2 section 5.2)
// backed by a raw disk image: a regular file or a host block device.
//
// The device has one request queue. Requests are served synchronously on
// the transport's worker goroutine with pread/pwrite straight between the
// image and the guest's buffers, so no request allocates memory in
// proportion to what the guest asks for.
//
// The image is locked with flock(2) while it is open: exclusively for a
// read-write disk, shared for a read-only one. Two read-only users can share
// an image; a writer excludes everybody else. flock locks belong to the open
// file description, so two Opens in one process also exclude each other.
package blk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/govm/govm/devices/virtio"
)

// SectorSize is the unit of the virtio-blk protocol: capacity, sector
// numbers and data lengths all count 512-byte sectors.
const SectorSize = 512

const sectorShift = 9 // log2(SectorSize)

// Feature bits of the block device (virtio 1.2 section 5.2.3).
const (
	FeatureSizeMax     = 1 << 1  // VIRTIO_BLK_F_SIZE_MAX
	FeatureSegMax      = 1 << 2  // VIRTIO_BLK_F_SEG_MAX
	FeatureRO          = 1 << 5  // VIRTIO_BLK_F_RO
	FeatureBlkSize     = 1 << 6  // VIRTIO_BLK_F_BLK_SIZE
	FeatureFlush       = 1 << 9  // VIRTIO_BLK_F_FLUSH
	FeatureDiscard     = 1 << 13 // VIRTIO_BLK_F_DISCARD
	FeatureWriteZeroes = 1 << 14 // VIRTIO_BLK_F_WRITE_ZEROES
)

// Request types (virtio 1.2 section 5.2.6).
const (
	TypeIn          = 0  // VIRTIO_BLK_T_IN: read sectors
	TypeOut         = 1  // VIRTIO_BLK_T_OUT: write sectors
	TypeFlush       = 4  // VIRTIO_BLK_T_FLUSH
	TypeGetID       = 8  // VIRTIO_BLK_T_GET_ID
	TypeDiscard     = 11 // VIRTIO_BLK_T_DISCARD
	TypeWriteZeroes = 13 // VIRTIO_BLK_T_WRITE_ZEROES
)

// Request status values, the last byte of every request.
const (
	StatusOK     = 0 // VIRTIO_BLK_S_OK
	StatusIOErr  = 1 // VIRTIO_BLK_S_IOERR
	StatusUnsupp = 2 // VIRTIO_BLK_S_UNSUPP
)

// Limits the device advertises.
const (
	// QueueSize is the size of the one request queue.
	QueueSize = 256
	// segMax is the most data buffers in one request: the queue minus the
	// header and status descriptors, so a request always fits in the ring
	// even without indirect descriptors.
	segMax = QueueSize - 2
	// sizeMax bounds each data buffer, so that segMax*sizeMax plus header
	// and status stays below virtio.MaxChainBytes: a driver that follows
	// the limits can never build a chain the queue rejects.
	sizeMax = 1 << 20
	// blkSize is the block size the guest should use for best results.
	blkSize = SectorSize

	// Discard and write-zeroes limits. A discard is a cheap fallocate;
	// write-zeroes may fall back to writing zeroes, so it is kept smaller.
	maxDiscardSectors      = 1 << 22 // 2 GiB per segment
	maxDiscardSeg          = 32
	discardSectorAlignment = 8       // 4 KiB, a typical file-system block
	maxWriteZeroesSectors  = 1 << 16 // 32 MiB per segment
	maxWriteZeroesSeg      = 8
	writeZeroesMayUnmap    = 1 // an unmap write-zeroes punches a hole

	// IDBytes is the length of the GET_ID answer (VIRTIO_BLK_ID_BYTES).
	IDBytes = 20
)

// Offsets in the configuration space (struct virtio_blk_config).
const (
	cfgCapacity               = 0  // le64, sectors
	cfgSizeMax                = 8  // le32
	cfgSegMax                 = 12 // le32
	cfgGeometry               = 16 // not offered
	cfgBlkSize                = 20 // le32
	cfgTopology               = 24 // not offered
	cfgWriteback              = 32 // u8, CONFIG_WCE not offered
	cfgNumQueues              = 34 // le16, MQ not offered
	cfgMaxDiscardSectors      = 36 // le32
	cfgMaxDiscardSeg          = 40 // le32
	cfgDiscardSectorAlignment = 44 // le32
	cfgMaxWriteZeroesSectors  = 48 // le32
	cfgMaxWriteZeroesSeg      = 52 // le32
	cfgWriteZeroesMayUnmap    = 56 // u8
	configSize                = 60 // through unused1[3]; later fields are for features not offered
)

// Options say which image to open and how.
type Options struct {
	Path     string
	ReadOnly bool
	// ID is the serial number GET_ID returns: printable ASCII, at most
	// IDBytes bytes. Empty means the image's base name (cut to IDBytes).
	ID string
}

// Device is a virtio block device. It implements virtio.Device.
type Device struct {
	path     string
	file     *os.File
	fd       int
	readOnly bool
	blockDev bool
	capacity uint64 // in sectors
	tail     int64  // bytes past the last whole sector, not visible to the guest
	id       [IDBytes]byte
	config   [configSize]byte

	// Hooks, replaced by tests.
	syncFile  func() error                           // fdatasync
	fallocate func(mode uint32, off, n int64) error  // regular files
	blkIoctl  func(req uintptr, off, n uint64) error // block devices

	mu       sync.Mutex // held while serving requests, and by Close/Activate/Reset
	closed   bool
	active   bool
	broken   bool // the guest broke the ring; ignore kicks until Reset
	mem      virtio.GuestMemory
	queue    *virtio.Queue
	signal   virtio.Signaller
	features uint64

	// Scratch space reused by every request, bounded by the queue size.
	readable, writable iovec
}

var _ virtio.Device = (*Device)(nil)

// Open opens and locks the image o.Path.
func Open(o Options) (*Device, error) {
	id, err := makeID(o)
	if err != nil {
		return nil, err
	}
	img, err := openImage(o.Path, o.ReadOnly)
	if err != nil {
		return nil, err
	}
	d := &Device{
		path:     o.Path,
		file:     img.file,
		fd:       img.fd,
		readOnly: o.ReadOnly,
		blockDev: img.blockDev,
		capacity: uint64(img.size) >> sectorShift,
		tail:     img.size % SectorSize,
		id:       id,
	}
	d.syncFile = func() error { return fdatasync(d.fd) }
	d.fallocate = func(mode uint32, off, n int64) error { return fallocate(d.fd, mode, off, n) }
	d.blkIoctl = func(req uintptr, off, n uint64) error { return blockRangeIoctl(d.fd, req, off, n) }
	d.fillConfig()
	return d, nil
}

// makeID returns the GET_ID string, NUL-padded.
func makeID(o Options) ([IDBytes]byte, error) {
	var id [IDBytes]byte
	s := o.ID
	if s == "" {
		s = filepath.Base(o.Path)
		if len(s) > IDBytes {
			s = s[:IDBytes]
		}
		b := []byte(s)
		for i, c := range b {
			if !printableASCII(c) {
				b[i] = '_'
			}
		}
		s = string(b)
	}
	if len(s) > IDBytes {
		return id, fmt.Errorf("disk %q: id %q is longer than %d bytes", o.Path, s, IDBytes)
	}
	for i := 0; i < len(s); i++ {
		if !printableASCII(s[i]) {
			return id, fmt.Errorf("disk %q: id %q is not printable ASCII", o.Path, s)
		}
	}
	copy(id[:], s)
	return id, nil
}

func printableASCII(c byte) bool { return c >= ' ' && c <= '~' }

func (d *Device) fillConfig() {
	c := d.config[:]
	le := binary.LittleEndian
	le.PutUint64(c[cfgCapacity:], d.capacity)
	le.PutUint32(c[cfgSizeMax:], sizeMax)
	le.PutUint32(c[cfgSegMax:], segMax)
	le.PutUint32(c[cfgBlkSize:], blkSize)
	le.PutUint32(c[cfgMaxDiscardSectors:], maxDiscardSectors)
	le.PutUint32(c[cfgMaxDiscardSeg:], maxDiscardSeg)
	le.PutUint32(c[cfgDiscardSectorAlignment:], discardSectorAlignment)
	le.PutUint32(c[cfgMaxWriteZeroesSectors:], maxWriteZeroesSectors)
	le.PutUint32(c[cfgMaxWriteZeroesSeg:], maxWriteZeroesSeg)
	c[cfgWriteZeroesMayUnmap] = writeZeroesMayUnmap
}

// Capacity is the disk size the guest sees, in sectors.
func (d *Device) Capacity() uint64 { return d.capacity }

// IgnoredTailBytes is how many bytes at the end of the image the guest
// cannot see because the image size is not a multiple of SectorSize.
func (d *Device) IgnoredTailBytes() int64 { return d.tail }

// ReadOnly reports whether the disk was opened read-only.
func (d *Device) ReadOnly() bool { return d.readOnly }

// Close flushes the image to stable storage, closes it and drops the lock.
// Requests that arrive afterwards fail with an I/O error.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errSync error
	if !d.readOnly {
		if err := d.syncFile(); err != nil {
			errSync = fmt.Errorf("disk %q: flush: %w", d.path, err)
		}
	}
	if err := d.file.Close(); err != nil {
		return errors.Join(errSync, fmt.Errorf("disk %q: close: %w", d.path, err))
	}
	return errSync
}

// Type is virtio.TypeBlock.
func (d *Device) Type() virtio.DeviceType { return virtio.TypeBlock }

// Features offers the limits in the configuration space, FLUSH, and either
// RO or DISCARD and WRITE_ZEROES.
func (d *Device) Features() uint64 {
	f := uint64(FeatureSizeMax | FeatureSegMax | FeatureBlkSize | FeatureFlush)
	if d.readOnly {
		f |= FeatureRO
	} else {
		f |= FeatureDiscard | FeatureWriteZeroes
	}
	return f
}

// QueueSizes is one request queue.
func (d *Device) QueueSizes() []uint16 { return []uint16{QueueSize} }

// ReadConfig reads the configuration space; bytes past its end read as 0.
func (d *Device) ReadConfig(off uint64, p []byte) {
	clear(p)
	if off < configSize {
		copy(p, d.config[off:])
	}
}

// WriteConfig ignores writes: no field is writable without CONFIG_WCE.
func (d *Device) WriteConfig(off uint64, p []byte) {}

// Activate starts serving the request queue.
func (d *Device) Activate(a virtio.Activation) error {
	if len(a.Queues) != 1 || a.Queues[0] == nil || !a.Queues[0].Ready {
		return errors.New("virtio-blk: the request queue is not enabled")
	}
	if err := a.Queues[0].Validate(a.Mem); err != nil {
		return fmt.Errorf("virtio-blk: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active, d.broken = true, false
	d.mem, d.queue, d.signal, d.features = a.Mem, a.Queues[0], a.Signal, a.Features
	return nil
}

// Reset forgets the activation. There are no goroutines to stop.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active, d.broken = false, false
	d.mem, d.queue, d.signal, d.features = nil, nil, nil, 0
}

// QueueNotify serves every available request, then interrupts the driver
// once if the queue asks for it.
func (d *Device) QueueNotify(i int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i != 0 || !d.active || d.broken {
		return
	}
	if err := virtio.Drain(d.queue, d.mem, d.signal, d.serve); err != nil {
		d.fail(err)
	}
}

// fail stops the queue after the guest broke it.
func (d *Device) fail(err error) {
	d.broken = true
	d.signal.NeedsReset(fmt.Errorf("virtio-blk: %w", err))
}
