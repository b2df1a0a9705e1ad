package machine

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govm/govm/devices/gpu"
	"github.com/govm/govm/devices/gpu/display"
	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/internal/testenv"
)

// The test guest's virtio-gpu tests (guest-images/testguest/README.md).
const (
	gpuTestWidth, gpuTestHeight   = 640, 480  // small: the pixel check is faster
	gpuBenchWidth, gpuBenchHeight = 1280, 800 // the default mode, what Linux gets
)

// presentClock is a Sink that passes frames to another and records when
// and for how long Present ran: the device calls it during RESOURCE_FLUSH,
// before the guest sees the response.
type presentClock struct {
	gpu.Sink
	mu          sync.Mutex
	frames      int
	first, last time.Time
	inPresent   time.Duration
}

func (p *presentClock) Present(n uint32, f gpu.Frame) error {
	start := time.Now()
	err := p.Sink.Present(n, f)
	end := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.Width != 0 {
		if p.frames == 0 {
			p.first = start
		}
		p.frames++
		p.last = start
		p.inPresent += end.Sub(start)
	}
	return err
}

// counts returns how many frames were presented and the time spent in
// Present, under the lock (the device's goroutine writes them).
func (p *presentClock) counts() (frames int, inPresent time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frames, p.inPresent
}

// gpuRun is one run of the test guest with a virtio-gpu device alone (so
// at VirtioMMIOBase) of size w×h, drawing into a Headless sink.
type gpuRun struct {
	res      Result
	out      string
	m        *Machine
	headless *display.Headless
	clock    *presentClock
	dev      *gpu.Device
}

func runGPUGuest(t testing.TB, cmdline string, w, h int) gpuRun {
	t.Helper()
	headless := display.NewHeadless()
	r := runGPUGuestSink(t, cmdline, w, h, headless)
	r.headless = headless
	return r
}

// runGPUGuestSink is runGPUGuest with the frames going to sink.
func runGPUGuestSink(t testing.TB, cmdline string, w, h int, sink gpu.Sink) gpuRun {
	t.Helper()
	testenv.RequireKVM(t)
	elf := testenv.TestGuest(t)
	r := gpuRun{clock: &presentClock{Sink: sink}}
	dev, err := gpu.New(gpu.Options{Width: w, Height: h, Sink: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	r.dev = dev
	var out bytes.Buffer
	m, err := New(Config{
		Kernel: elf, Cmdline: cmdline, Memory: 64 * MiB, CPUs: 1,
		Console: &syncBuffer{b: &out}, Stats: true,
		Virtio: []VirtioDevice{{Name: "virtio-gpu", Dev: dev}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	r.m = m
	done := make(chan Result, 1)
	go func() { done <- m.Run() }()
	select {
	case r.res = <-done:
	case <-time.After(guestTimeout):
		m.Stop(99, "test timeout")
		<-done
		t.Fatalf("test guest %q did not finish; console so far:\n%s", cmdline, out.String())
	}
	r.out = out.String()
	return r
}

// guestPixel is the test guest's pattern (test "gpu") as RGBA: blue x&255,
// green y&255, red (x^y)&255; the X byte shows as opaque.
func guestPixel(x, y int) [4]byte {
	return [4]byte{byte(x ^ y), byte(y), byte(x), 0xff}
}

// checkGuestPattern compares img with the guest's pattern, pixel by pixel,
// and reports the first few differences.
func checkGuestPattern(t *testing.T, img image.Image, w, h int) {
	t.Helper()
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	bad := 0
	for y := range h {
		for x := range w {
			r, g, b, a := img.At(img.Bounds().Min.X+x, img.Bounds().Min.Y+y).RGBA()
			got := [4]byte{byte(r >> 8), byte(g >> 8), byte(b >> 8), byte(a >> 8)}
			if want := guestPixel(x, y); got != want {
				if bad < 5 {
					t.Errorf("pixel (%d,%d) = %v, want %v", x, y, got, want)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d pixels differ", bad, w*h)
	}
}

func TestTestGuestGPUPixels(t *testing.T) {
	r := runGPUGuest(t, "gpu", gpuTestWidth, gpuTestHeight)
	if r.res.Reason != StopDebugExit || r.res.Code != 0 {
		t.Fatalf("result %+v, console:\n%s", r.res, r.out)
	}
	mode := fmt.Sprintf("%dx%d", gpuTestWidth, gpuTestHeight)
	for _, want := range []string{"testguest: gpu display " + mode + "\n", "testguest: gpu ok " + mode + "\n"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("console lacks %q:\n%s", want, r.out)
		}
	}
	img, ok := r.headless.Screenshot(0)
	if !ok {
		t.Fatal("the headless sink got no frame")
	}
	checkGuestPattern(t, img, gpuTestWidth, gpuTestHeight)
	// The device's own copy agrees (it reads the resource, not the sink).
	f, ok := r.dev.Screenshot(0)
	if !ok {
		t.Fatal("the device has no frame on scanout 0")
	}
	checkGuestPattern(t, display.ToImage(f), gpuTestWidth, gpuTestHeight)
	if frames, _ := r.clock.counts(); frames != 1 {
		t.Errorf("%d frames presented, want 1 (one RESOURCE_FLUSH)", frames)
	}
	if err := r.dev.SinkErr(); err != nil {
		t.Errorf("sink error: %v", err)
	}
}

// TestTestGuestGPUErrors: the guest fails cleanly with no GPU, and with a
// mode larger than its framebuffer.
func TestTestGuestGPUErrors(t *testing.T) {
	r, out, _ := runTestGuest(t, "gpu", 1)
	const line = "testguest: gpu error: setup: no virtio-gpu device (govm or QEMU microvm virtio-mmio windows)"
	if r.Reason != StopDebugExit || r.Code != 40 || !strings.Contains(out, line) {
		t.Errorf("no device: result %+v, want status 40 and %q; console:\n%s", r, line, out)
	}
	g := runGPUGuest(t, "gpu", 2048, 1536) // 12 MiB: over the guest's 8 MiB
	const mode = "testguest: gpu error: GET_DISPLAY_INFO: scanout 0 disabled, empty, or larger than 8 MiB"
	if g.res.Reason != StopDebugExit || g.res.Code != 47 || !strings.Contains(g.out, mode) {
		t.Errorf("large mode: result %+v, want status 47 and %q; console:\n%s", g.res, mode, g.out)
	}
}

// gpuBadAnswers is what govm answers to each of gpubad's cases.
var gpuBadAnswers = []string{
	"transfer-unknown-resource: 0x1203",     // ERR_INVALID_RESOURCE_ID
	"flush-unknown-resource: 0x1203",        //
	"scanout-unknown-resource: 0x1203",      //
	"transfer-rect-beyond-resource: 0x1205", // ERR_INVALID_PARAMETER
	"flush-rect-beyond-resource: 0x1205",    //
	"scanout-rect-beyond-resource: 0x1205",  //
	"transfer-beyond-backing: 0x1205",       //
	"scanout-id-7: 0x1202",                  // ERR_INVALID_SCANOUT_ID
	"backing-beyond-ram: 0x1200",            // ERR_UNSPEC
	"backing-16385-entries: 0x1205",         //
	"backing-entries-missing: 0x1200",       // a short request
	"backing-twice: 0x1200",                 //
	"create-65535x65535: 0x1205",            //
	"create-16384x16384: 0x1201",            // ERR_OUT_OF_MEMORY: over the 256 MiB limit
	"create-id-0: 0x1203",                   //
	"create-existing-id: 0x1203",            //
	"create-format-0: 0x1205",               //
	"3d-command: 0x1200",                    //
	"short-command: 0x1200",                 //
	"response-too-small: 0x1200",            // room for a header only
	"response-under-header: none",           // nothing written, used length 0
	"response-missing: none",                //
	"response-beyond-ram: needs-reset",      // a broken chain
}

func TestTestGuestGPUHostile(t *testing.T) {
	r := runGPUGuest(t, "gpubad", gpuTestWidth, gpuTestHeight)
	if r.res.Reason != StopDebugExit || r.res.Code != 0 {
		t.Fatalf("result %+v (govm must keep running and the guest exit 0), console:\n%s", r.res, r.out)
	}
	for _, a := range append(gpuBadAnswers, "ok") {
		if want := "testguest: gpubad " + a + "\n"; !strings.Contains(r.out, want) {
			t.Errorf("console lacks %q:\n%s", want, r.out)
		}
	}
	if err := r.m.virtio[0].transport.Err(); !errors.Is(err, virtio.ErrBadDescriptor) {
		t.Errorf("transport error %v, want the broken chain's %v", err, virtio.ErrBadDescriptor)
	}
	// After all that, and a reset, the screen shows the pattern again.
	img, ok := r.headless.Screenshot(0)
	if !ok {
		t.Fatal("the headless sink got no frame")
	}
	checkGuestPattern(t, img, gpuTestWidth, gpuTestHeight)
}

// gpuFrameRate runs "gpubench n" at w×h with the frames going to sink and
// returns the frames per second between the marks, the time per frame,
// and the sink's clock.
func gpuFrameRate(t testing.TB, n, w, h int, sink gpu.Sink) (float64, time.Duration, *presentClock) {
	t.Helper()
	r := runGPUGuestSink(t, fmt.Sprintf("gpubench %d", n), w, h, sink)
	if r.res.Reason != StopDebugExit || r.res.Code != 0 {
		t.Fatalf("result %+v, console:\n%s", r.res, r.out)
	}
	if want := fmt.Sprintf("testguest: gpubench %d done\n", n); !strings.Contains(r.out, want) {
		t.Fatalf("console lacks %q:\n%s", want, r.out)
	}
	tm := r.m.Timing()
	d := tm.MarkEnd - tm.MarkBegin
	if tm.MarkBegin == 0 || d <= 0 {
		t.Fatalf("marks not recorded: %+v", tm)
	}
	if got, _ := r.clock.counts(); got != n+1 { // + the set-up's frame
		t.Errorf("%d frames presented, want %d", got, n+1)
	}
	return float64(n) / d.Seconds(), d / time.Duration(max(n, 1)), r.clock
}

// perFrame is the mean time in Present per frame.
func perFrame(c *presentClock) time.Duration {
	frames, in := c.counts()
	return in / time.Duration(max(frames, 1))
}

// TestTestGuestGPUBench is a short run of the frame benchmark, so that `go
// test` exercises it and logs the rate.
func TestTestGuestGPUBench(t *testing.T) {
	const n = 50
	fps, per, clock := gpuFrameRate(t, n, gpuBenchWidth, gpuBenchHeight, display.NewHeadless())
	t.Logf("%d full-screen %dx%d frames (TRANSFER_TO_HOST_2D + RESOURCE_FLUSH) from ring 3: %.0f frames/s, %v per frame, %v of it in Present",
		n, gpuBenchWidth, gpuBenchHeight, fps, per, perFrame(clock))
}

// BenchmarkTestGuestGPUFrame measures a full-screen 1280x800 frame from the
// guest's ring 3: TRANSFER_TO_HOST_2D of 4 MB and RESOURCE_FLUSH, each a
// request round trip, the flush presenting to a Headless sink (what govm
// run always has) or to a sink that drops frames (the device's own cost).
// The guest cannot timestamp, so the flush→Present latency is bounded by
// the time per frame; present-ns/frame is the part spent inside
// Sink.Present.
func BenchmarkTestGuestGPUFrame(b *testing.B) {
	for _, bc := range []struct {
		name string
		sink func() gpu.Sink
	}{
		{"headless", func() gpu.Sink { return display.NewHeadless() }},
		{"null", display.Null},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fps, per, clock := gpuFrameRate(b, b.N, gpuBenchWidth, gpuBenchHeight, bc.sink())
			b.ReportMetric(fps, "frames/s")
			b.ReportMetric(float64(per.Nanoseconds()), "ns/op") // one frame; the boot is not counted
			b.ReportMetric(float64(perFrame(clock).Nanoseconds()), "present-ns/frame")
		})
	}
}
