//go:build cgo

package sdl

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image/color"
	"math/bits"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/govm/govm/devices/gpu"
	"github.com/govm/govm/devices/input"
	"github.com/govm/govm/internal/testenv"
)

const (
	testW, testH = 640, 400
	xTimeout     = 10 * time.Second
)

// needTool returns the path of an X tool, or skips/fails the test.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		testenv.Missing(t, name+" (apt-get install xvfb xdotool x11-apps)")
	}
	return path
}

// startXvfb starts a virtual X server on a free display, points DISPLAY
// at it, and stops it when the test ends.
func startXvfb(t *testing.T) {
	t.Helper()
	xvfb := needTool(t, "Xvfb")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// -displayfd: Xvfb picks a free display and writes its number to fd 3.
	cmd := exec.Command(xvfb, "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Xvfb: %v", err)
	}
	w.Close()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case n := <-line:
		if n == "" {
			t.Fatalf("Xvfb gave no display number: %s", stderr.String())
		}
		t.Setenv("DISPLAY", ":"+n)
	case <-time.After(xTimeout):
		t.Fatalf("Xvfb did not start: %s", stderr.String())
	}
	t.Setenv("SDL_VIDEODRIVER", "x11")
}

// openWindow starts Xvfb and a window running its loop on the main thread;
// everything is torn down at the end of the test.
func openWindow(t *testing.T) (w *Window, x, y int) {
	t.Helper()
	return openWindowWith(t, Options{Title: "govm-test", Width: testW, Height: testH})
}

// openWindowWith is openWindow with options o.
func openWindowWith(t *testing.T, o Options) (w *Window, x, y int) {
	t.Helper()
	startXvfb(t)
	var err error
	onMain(func() {
		w, err = New(o)
		if err == nil {
			x32, y32 := w.win.GetPosition()
			x, y = int(x32), int(y32)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("renderer %q, window at %d,%d", w.RendererName(), x, y)
	done := make(chan struct{})
	var runErr error
	ran := goMain(func() { runErr = w.Run(done) })
	t.Cleanup(func() {
		close(done)
		<-ran
		if runErr != nil {
			t.Errorf("Run: %v", runErr)
		}
		onMain(func() { _ = w.Close() })
	})
	return w, x, y
}

// quadrants is a test pattern: red, green / blue, white quadrants.
var quadrants = [4]color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {255, 255, 255, 255}}

// pattern draws quadrants in a w x h frame of format f (byte order order).
func pattern(w, h int, f gpu.Format, order string) gpu.Frame {
	stride := w*4 + 64 // padded rows, as a guest may have
	pix := make([]byte, stride*h)
	for y := range h {
		for x := range w {
			c := quadrants[2*(2*y/h)+2*x/w]
			for i, ch := range order {
				pix[y*stride+x*4+i] = map[rune]byte{'R': c.R, 'G': c.G, 'B': c.B, 'X': 0x5a, 'A': 0}[ch]
			}
		}
	}
	return gpu.Frame{Width: w, Height: h, Stride: stride, Format: f, Pix: pix}
}

// screenshot is the root window, read from xwd's output.
type screenshot struct {
	w, h, bpl, bpp int
	lsb            bool
	masks          [3]uint32
	pix            []byte
}

// xwdHeaderWords is the number of 32-bit words in an XWD file header.
const xwdHeaderWords = 25

func takeScreenshot(t *testing.T) *screenshot {
	t.Helper()
	out, err := exec.Command(needTool(t, "xwd"), "-root", "-silent").Output()
	if err != nil {
		t.Fatalf("xwd: %v", err)
	}
	s, err := parseXWD(out)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// parseXWD decodes a ZPixmap XWD dump with 24- or 32-bit true colour pixels.
func parseXWD(b []byte) (*screenshot, error) {
	if len(b) < xwdHeaderWords*4 {
		return nil, errors.New("xwd: short header")
	}
	hdr := make([]uint32, xwdHeaderWords)
	for i := range hdr {
		hdr[i] = binary.BigEndian.Uint32(b[i*4:])
	}
	headerSize, format, width, height := hdr[0], hdr[2], hdr[4], hdr[5]
	byteOrder, bpp, bpl, ncolors := hdr[7], hdr[11], hdr[12], hdr[19]
	const zPixmap, xwdColorSize = 2, 12
	if format != zPixmap || (bpp != 32 && bpp != 24) {
		return nil, fmt.Errorf("xwd: format %d with %d bits per pixel not handled", format, bpp)
	}
	off := uint64(headerSize) + uint64(ncolors)*xwdColorSize
	if off+uint64(bpl)*uint64(height) > uint64(len(b)) {
		return nil, errors.New("xwd: short image")
	}
	return &screenshot{
		w: int(width), h: int(height), bpl: int(bpl), bpp: int(bpp),
		lsb:   byteOrder == 0,
		masks: [3]uint32{hdr[14], hdr[15], hdr[16]},
		pix:   b[off:],
	}, nil
}

func (s *screenshot) at(x, y int) color.RGBA {
	if x < 0 || y < 0 || x >= s.w || y >= s.h {
		return color.RGBA{}
	}
	var p [4]byte
	n := s.bpp / 8
	copy(p[:n], s.pix[y*s.bpl+x*n:])
	var v uint32
	if s.lsb {
		v = binary.LittleEndian.Uint32(p[:])
	} else {
		v = binary.BigEndian.Uint32(p[:]) >> (32 - s.bpp)
	}
	ch := func(m uint32) uint8 { return uint8((v & m) >> bits.TrailingZeros32(m)) }
	return color.RGBA{ch(s.masks[0]), ch(s.masks[1]), ch(s.masks[2]), 255}
}

// probe is a screen position and the colour expected there.
type probe struct {
	x, y int
	want color.RGBA
}

// waitPixels takes screenshots until every probe matches, or fails.
func waitPixels(t *testing.T, what string, probes []probe) {
	t.Helper()
	deadline := time.Now().Add(xTimeout)
	for {
		s := takeScreenshot(t)
		var bad []string
		for _, p := range probes {
			if got := s.at(p.x, p.y); got != p.want {
				bad = append(bad, fmt.Sprintf("(%d,%d)=%v want %v", p.x, p.y, got, p.want))
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: wrong pixels: %s", what, strings.Join(bad, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// quadrantProbes checks the centre of each quadrant of a frame shown at
// (x, y) with size w x h.
func quadrantProbes(x, y, w, h int) []probe {
	return []probe{
		{x + w/4, y + h/4, quadrants[0]},
		{x + 3*w/4, y + h/4, quadrants[1]},
		{x + w/4, y + 3*h/4, quadrants[2]},
		{x + 3*w/4, y + 3*h/4, quadrants[3]},
	}
}

func TestWindowShowsFrames(t *testing.T) {
	// SDL's own choice (OpenGL through Mesa under Xvfb), and the software
	// renderer used when there is no GPU.
	for _, driver := range []string{"", "software"} {
		t.Run("renderer="+driver, func(t *testing.T) {
			t.Setenv("SDL_RENDER_DRIVER", driver)
			testShowsFrames(t)
		})
	}
}

func testShowsFrames(t *testing.T) {
	w, x, y := openWindow(t)
	black := color.RGBA{0, 0, 0, 255}

	if err := w.Present(0, pattern(testW, testH, gpu.FormatB8G8R8X8, "BGRX")); err != nil {
		t.Fatal(err)
	}
	waitPixels(t, "B8G8R8X8 frame", quadrantProbes(x, y, testW, testH))

	// Another byte order, with a zero alpha that must be ignored.
	if err := w.Present(0, pattern(testW, testH, gpu.FormatR8G8B8A8, "RGBA")); err != nil {
		t.Fatal(err)
	}
	waitPixels(t, "R8G8B8A8 frame", quadrantProbes(x, y, testW, testH))

	// A frame half as wide: a new texture, letterboxed with bars of
	// testW/4 left and right.
	if err := w.Present(0, pattern(testW/4, testH/2, gpu.FormatX8R8G8B8, "XRGB")); err != nil {
		t.Fatal(err)
	}
	probes := append(quadrantProbes(x+testW/4, y, testW/2, testH),
		probe{x + testW/8, y + testH/2, black}, probe{x + testW - testW/8, y + testH/2, black})
	waitPixels(t, "letterboxed X8R8G8B8 frame", probes)

	// Scanout disabled: black.
	if err := w.Present(0, gpu.Frame{}); err != nil {
		t.Fatal(err)
	}
	waitPixels(t, "disabled scanout", []probe{{x + testW/4, y + testH/4, black}})

	// A frame for another scanout is ignored; a bad one is refused.
	if err := w.Present(1, pattern(8, 8, gpu.FormatB8G8R8X8, "BGRX")); err != nil {
		t.Errorf("Present(1): %v", err)
	}
	if err := w.Present(0, gpu.Frame{Width: 8, Height: 8, Stride: 32, Format: gpu.FormatB8G8R8X8}); err == nil {
		t.Error("frame without pixels accepted")
	}
}

func TestWindowInput(t *testing.T) {
	w, x, y := openWindow(t)
	xdotool := needTool(t, "xdotool")
	if err := w.Present(0, pattern(testW, testH, gpu.FormatB8G8R8X8, "BGRX")); err != nil {
		t.Fatal(err)
	}
	waitPixels(t, "frame", quadrantProbes(x, y, testW, testH))

	// The pointer to the middle of the window, then press and release A
	// (X sends keys to the window under the pointer).
	mx, my := testW/2, testH/4
	for _, args := range [][]string{
		{"mousemove", "--sync", fmt.Sprint(x + mx), fmt.Sprint(y + my)},
		{"key", "a"},
	} {
		if out, err := exec.Command(xdotool, args...).CombinedOutput(); err != nil {
			t.Fatalf("xdotool %v: %v: %s", args, err, out)
		}
	}

	wantX, wantY := absPos(mx, 0, testW), absPos(my, 0, testH)
	var absX, absY int32 = -1, -1
	var keys []input.Event
	timeout := time.After(xTimeout)
	for len(keys) < 2 {
		select {
		case e := <-w.Events():
			switch e.Type {
			case input.EvAbs:
				if e.Value < 0 || e.Value > input.AbsMax {
					t.Errorf("abs event %+v out of range", e)
				}
				if e.Code == input.AbsX {
					absX = e.Value
				} else if e.Code == input.AbsY {
					absY = e.Value
				}
			case input.EvKey:
				keys = append(keys, e)
			}
		case <-timeout:
			t.Fatalf("timed out: ABS %d,%d, keys %v", absX, absY, keys)
		}
	}
	if absX != wantX || absY != wantY {
		t.Errorf("pointer at ABS %d,%d, want %d,%d", absX, absY, wantX, wantY)
	}
	const keyA = 30
	want := []input.Event{{Type: input.EvKey, Code: keyA, Value: 1}, {Type: input.EvKey, Code: keyA, Value: 0}}
	if keys[0] != want[0] || keys[1] != want[1] {
		t.Errorf("keys %v, want %v", keys, want)
	}
}

func TestWindowCloseWhileRunning(t *testing.T) {
	startXvfb(t)
	var w *Window
	var err error
	onMain(func() { w, err = New(Options{Title: "govm-test"}) })
	if err != nil {
		t.Fatal(err)
	}
	var runErr error
	ran := goMain(func() { runErr = w.Run(nil) })
	if err := w.Present(0, pattern(testW, testH, gpu.FormatB8G8R8X8, "BGRX")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // from the test goroutine, not the main one
		t.Fatal(err)
	}
	select {
	case <-ran:
	case <-time.After(xTimeout):
		t.Fatal("Run did not return after Close")
	}
	if !errors.Is(runErr, ErrClosed) {
		t.Errorf("Run = %v, want ErrClosed", runErr)
	}
	for range w.Events() { // closed by Close
	}
	if err := w.Present(0, pattern(testW, testH, gpu.FormatB8G8R8X8, "BGRX")); !errors.Is(err, ErrClosed) {
		t.Errorf("Present after Close = %v, want ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
