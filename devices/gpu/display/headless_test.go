package display

import (
	"errors"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/govm/govm/devices/gpu"
)

// solid is a w x h B8G8R8X8 frame of one colour, with stride padding.
func solid(w, h int, c color.RGBA) gpu.Frame {
	const pad = 8
	stride := w*4 + pad
	pix := make([]byte, stride*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := pix[y*stride+x*4:]
			p[0], p[1], p[2], p[3] = c.B, c.G, c.R, 0
		}
	}
	return gpu.Frame{Width: w, Height: h, Stride: stride, Format: gpu.FormatB8G8R8X8, Pix: pix}
}

var red = color.RGBA{0xff, 0, 0, 0xff}
var blue = color.RGBA{0, 0, 0xff, 0xff}

func TestHeadlessKeepsACopy(t *testing.T) {
	h := NewHeadless()
	if h.Events() != nil {
		t.Error("Events not nil")
	}
	f := solid(3, 2, red)
	if err := h.Present(0, f); err != nil {
		t.Fatal(err)
	}
	// The sink must not keep f.Pix: scribbling on it changes nothing.
	for i := range f.Pix {
		f.Pix[i] = 0xff
	}
	img, ok := h.Screenshot(0)
	if !ok {
		t.Fatal("no screenshot")
	}
	if b := img.Bounds(); b.Dx() != 3 || b.Dy() != 2 {
		t.Fatalf("bounds %v", b)
	}
	if got := color.RGBAModel.Convert(img.At(2, 1)); got != red {
		t.Errorf("pixel %v, want %v", got, red)
	}
	if _, ok := h.Screenshot(1); ok {
		t.Error("screenshot of an unused scanout")
	}
}

func TestHeadlessReusesBuffer(t *testing.T) {
	h := NewHeadless()
	if err := h.Present(0, solid(4, 4, red)); err != nil {
		t.Fatal(err)
	}
	first := &h.scanouts[0].pix[0]
	if err := h.Present(0, solid(4, 4, blue)); err != nil {
		t.Fatal(err)
	}
	if &h.scanouts[0].pix[0] != first {
		t.Error("same-size frame reallocated the buffer")
	}
	if err := h.Present(0, solid(2, 2, blue)); err != nil {
		t.Fatal(err)
	}
	if len(h.scanouts[0].pix) != 2*2*4 {
		t.Errorf("buffer is %d bytes after a 2x2 frame", len(h.scanouts[0].pix))
	}
	img, _ := h.Screenshot(0)
	if got := color.RGBAModel.Convert(img.At(1, 1)); got != blue {
		t.Errorf("pixel %v, want %v", got, blue)
	}
}

func TestHeadlessRejects(t *testing.T) {
	h := NewHeadless()
	if err := h.Present(MaxScanouts, solid(1, 1, red)); err == nil {
		t.Error("scanout out of range accepted")
	}
	bad := solid(2, 2, red)
	bad.Pix = bad.Pix[:3]
	if err := h.Present(0, bad); !errors.Is(err, ErrBadFrame) {
		t.Errorf("short frame: %v", err)
	}
	if _, ok := h.Screenshot(0); ok {
		t.Error("a rejected frame became a screenshot")
	}
	if _, ok := h.Screenshot(1 << 31); ok {
		t.Error("screenshot of a scanout out of range")
	}
}

// A guest that disables its scanout (Linux at power-off) leaves the last
// frame in place for the screenshot taken when the VM ends.
func TestHeadlessKeepsLastFrameWhenDisabled(t *testing.T) {
	h := NewHeadless()
	if err := h.Present(0, solid(2, 2, red)); err != nil {
		t.Fatal(err)
	}
	if err := h.Present(0, gpu.Frame{}); err != nil {
		t.Fatal(err)
	}
	img, ok := h.Screenshot(0)
	if !ok {
		t.Fatal("no screenshot after the scanout was disabled")
	}
	if r, _, _, _ := img.At(1, 1).RGBA(); r>>8 != 0xff {
		t.Errorf("pixel %v, want the last frame's red", img.At(1, 1))
	}
	if err := h.WritePNG(filepath.Join(t.TempDir(), "x.png"), 0); err != nil {
		t.Errorf("WritePNG: %v", err)
	}
}

func TestWritePNG(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shot.png")
	h := NewHeadless()

	err := h.WritePNG(path, 0)
	if !errors.Is(err, ErrNoFrame) {
		t.Fatalf("before any frame: %v", err)
	}
	if want := "no frame on scanout 0 yet: the guest has not drawn anything"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("a file was written without a frame")
	}

	if err := h.Present(0, solid(5, 3, blue)); err != nil {
		t.Fatal(err)
	}
	if err := h.WritePNG(path, 0); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path, 5, 3, blue)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestWritePNGBadDirectory(t *testing.T) {
	h := NewHeadless()
	if err := h.Present(0, solid(1, 1, red)); err != nil {
		t.Fatal(err)
	}
	err := h.WritePNG(filepath.Join(t.TempDir(), "missing", "x.png"), 0)
	if err == nil || !strings.Contains(err.Error(), "screenshot") {
		t.Errorf("err = %v", err)
	}
	// A directory in the way of the rename: the temporary file is removed.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "x.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := h.WritePNG(filepath.Join(dir, "x.png"), 0); err == nil {
		t.Error("rename over a directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestHeadlessConcurrent(t *testing.T) {
	h := NewHeadless()
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				c := red
				if j%2 == 0 {
					c = blue
				}
				if err := h.Present(uint32(i%2), solid(8+j%3, 8, c)); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for range 20 {
				h.Screenshot(uint32(i % 2))
				if err := h.WritePNG(filepath.Join(dir, "c.png"), 0); err != nil && !errors.Is(err, ErrNoFrame) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Screenshot(0); ok {
		t.Error("frame kept after Close")
	}
}

// WriteFramePNG writes a guest frame (padded stride) as it is, and refuses
// a frame it cannot convert without leaving a file.
func TestWriteFramePNG(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "frame.png")
	if err := WriteFramePNG(path, solid(3, 2, red)); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path, 3, 2, red)

	bad := filepath.Join(dir, "bad.png")
	if err := WriteFramePNG(bad, gpu.Frame{}); !errors.Is(err, ErrBadFrame) {
		t.Errorf("empty frame: %v", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Error("a file was written for a bad frame")
	}
}

// checkPNG checks that path is a w x h PNG whose last pixel is want.
func checkPNG(t *testing.T, path string, w, h int, want color.RGBA) {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	img, err := png.Decode(file)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("bounds %v, want %dx%d", b, w, h)
	}
	if got := color.RGBAModel.Convert(img.At(w-1, h-1)); got != want {
		t.Errorf("pixel %v, want %v", got, want)
	}
}
