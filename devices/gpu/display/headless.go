package display

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sync"

	"github.com/govm/govm/devices/gpu"
	"github.com/govm/govm/devices/input"
)

// MaxScanouts is the number of scanouts a Headless sink keeps, the
// virtio-gpu maximum (VIRTIO_GPU_MAX_SCANOUTS).
const MaxScanouts = 16

// screenshotMode is the permission of a written PNG file.
const screenshotMode = 0o644

// ErrNoFrame is wrapped by a screenshot of a scanout never drawn on.
var ErrNoFrame = errors.New("the guest has not drawn anything")

// scanout is the last frame presented on one scanout, tightly packed
// (stride = width*4) in the guest's format.
type scanout struct {
	seen   bool // a frame was presented at least once
	width  int
	height int
	format gpu.Format
	pix    []byte
}

// Headless is a Sink that keeps a copy of the last frame of each scanout,
// for screenshots. Memory is bounded: one frame per scanout, and a
// scanout's buffer is reused while its size does not change. It is safe
// for concurrent use.
type Headless struct {
	mu       sync.Mutex
	scanouts [MaxScanouts]scanout
}

var _ gpu.Sink = (*Headless)(nil)

// NewHeadless returns an empty Headless sink.
func NewHeadless() *Headless { return &Headless{} }

// Present copies f. An empty frame (Width 0: the guest disabled the
// scanout, as Linux does when it shuts down) keeps the last frame, the way
// a screenshot taken at power-off should show the last thing on screen.
func (h *Headless) Present(n uint32, f gpu.Frame) error {
	if n >= MaxScanouts {
		return fmt.Errorf("headless: scanout %d out of range (max %d)", n, MaxScanouts-1)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &h.scanouts[n]
	if f.Width == 0 {
		return nil
	}
	if err := CheckFrame(f); err != nil {
		return fmt.Errorf("headless: scanout %d: %w", n, err)
	}
	row := f.Width * bytesPerPixel
	size := row * f.Height
	if len(s.pix) != size {
		s.pix = make([]byte, size)
	}
	for y := 0; y < f.Height; y++ {
		copy(s.pix[y*row:(y+1)*row], f.Pix[y*f.Stride:])
	}
	s.seen = true
	s.width, s.height, s.format = f.Width, f.Height, f.Format
	return nil
}

// Events returns nil: a headless display has no input.
func (h *Headless) Events() <-chan input.Event { return nil }

// Close drops the stored frames.
func (h *Headless) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.scanouts = [MaxScanouts]scanout{}
	return nil
}

// Screenshot converts the last frame of scanout n to an image. It returns
// false if nothing was ever presented there.
func (h *Headless) Screenshot(n uint32) (image.Image, bool) {
	f, err := h.frame(n)
	if err != nil {
		return nil, false
	}
	return ToImage(f), true
}

// frame returns a copy of the last frame of scanout n, so that it can be
// converted without holding the lock.
func (h *Headless) frame(n uint32) (gpu.Frame, error) {
	if n >= MaxScanouts {
		return gpu.Frame{}, fmt.Errorf("scanout %d out of range (max %d)", n, MaxScanouts-1)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &h.scanouts[n]
	if !s.seen {
		return gpu.Frame{}, NoFrameError(n)
	}
	return gpu.Frame{
		Width: s.width, Height: s.height, Stride: s.width * bytesPerPixel,
		Format: s.format, Pix: bytes.Clone(s.pix),
	}, nil
}

// NoFrameError is the error of a screenshot of scanout n when nothing was
// ever shown there; it wraps ErrNoFrame.
func NoFrameError(n uint32) error {
	return fmt.Errorf("no frame on scanout %d yet: %w", n, ErrNoFrame)
}

// WritePNG writes the last frame of scanout n to path as a PNG, like
// WriteFramePNG.
func (h *Headless) WritePNG(path string, n uint32) error {
	f, err := h.frame(n)
	if err != nil {
		return err
	}
	return WriteFramePNG(path, f)
}

// WriteFramePNG writes the guest frame f to path as a PNG (opaque RGBA,
// see ToImage). The file appears whole or not at all, as with WritePNG.
func WriteFramePNG(path string, f gpu.Frame) error {
	if err := CheckFrame(f); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return WritePNG(path, ToImage(f))
}

// WritePNG encodes img to path atomically: it is written to a temporary
// file in the same directory, then renamed.
func WritePNG(path string, img image.Image) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()           // may already be closed; the write error wins
			os.Remove(tmp.Name()) // best effort: the temporary file is ours
		}
	}()
	if err := png.Encode(tmp, img); err != nil {
		return fmt.Errorf("screenshot: encoding %s: %w", path, err)
	}
	if err := tmp.Chmod(screenshotMode); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return nil
}
