package main

// End-to-end tests of --gpu 2d with the tiny Linux guest: the guest's
// virtio_gpu driver, its frame buffer console, exact pixels from /dev/fb0 to
// the --screenshot PNG, the SDL window under Xvfb, and input from the window
// to the guest's /dev/input/event*. Like the other TestLinux tests they need
// real KVM (scripts/nested.sh provides it).
//
// The guest cannot generate the test image quickly with busybox alone, so
// the test writes it to a raw disk image that the guest copies to /dev/fb0
// (guest-images/linux/tests/gpu-lib.sh).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govm/govm/internal/testenv"
)

const (
	// gpuW, gpuH is the guest's display mode in these tests: small, so
	// that every boot stays fast.
	gpuW, gpuH = 640, 480
	// fbBytesPerPixel: the DRM fbdev emulation gives /dev/fb0 XRGB8888.
	fbBytesPerPixel = 4
	// gpuTimeout bounds one govm run (a boot under nested KVM is 20-40 s).
	gpuTimeout = "150s"
	// gpuGuestMem is enough for the initramfs and the frame buffers.
	gpuGuestMem = "512M"
	// fbDoneMarker is printed by the guest once the image is on /dev/fb0
	// and flushed to the virtio-gpu.
	fbDoneMarker = "GOVM-FB-DONE"
	// fbconDoneMarker is printed by gpuinfo once text is on tty1.
	fbconDoneMarker = "GOVM-FBCON-DONE"
	// inputDoneMarker ends the input test (GOVM-INPUT-DONE rc=N). The
	// --expect pattern includes the rc: govm stops the guest as soon as
	// the console matches, and the rest of the line is lost.
	inputDoneMarker = "GOVM-INPUT-DONE"
	// minTextPixels and minTextRows: how much of the frame the console
	// text must cover for the screen not to count as blank. gpuinfo
	// writes about 20 lines of 8x16 glyphs, tens of thousands of pixels.
	minTextPixels = 2000
	minTextRows   = 64
	// windowTolerance is the largest per-channel difference allowed
	// between the window's content and the headless frame, and
	// windowMatchFraction the share of pixels that must be within it
	// (scaling, if any, smears the pattern's sharp wrap-around edges).
	windowTolerance     = 24
	windowMatchFraction = 0.99
	// xWait bounds each wait on the X server (window shown, frame drawn).
	xWait = 30 * time.Second
	// inputWait bounds the wait for the guest to report the input.
	inputWait = 90 * time.Second
	// keyA is the evdev code of the A key (KEY_A).
	keyA = 30
	// tabletMax is the tablet's largest absolute coordinate (input.AbsMax).
	tabletMax = 32767
	// pointerX, pointerY is where, in window pixels, the test moves the
	// pointer: away from the window's centre, where X starts the pointer.
	pointerX, pointerY = 100, 50
	// nobody is the uid and gid Xvfb runs as when the test is root.
	nobody = 65534
	// xSocketDir holds the X servers' Unix sockets.
	xSocketDir = "/tmp/.X11-unix"
)

// fbPattern is the test image's colour at (x, y): blue x, green y, red
// x^y, each modulo 256. Every pixel of a row and of a column differs from
// its neighbours, so an offset, a swapped channel or a lost row shows.
func fbPattern(x, y int) (r, g, b uint8) {
	return uint8(x ^ y), uint8(y), uint8(x)
}

// writeFBImage writes the test image as /dev/fb0 wants it (packed
// XRGB8888 rows: B, G, R, X bytes in memory) to a disk image for the
// guest, and returns its path.
func writeFBImage(t *testing.T, w, h int) string {
	t.Helper()
	pix := make([]byte, w*h*fbBytesPerPixel)
	for y := range h {
		for x := range w {
			r, g, b := fbPattern(x, y)
			i := (y*w + x) * fbBytesPerPixel
			pix[i], pix[i+1], pix[i+2] = b, g, r
		}
	}
	const sector = 512
	if pad := len(pix) % sector; pad != 0 {
		pix = append(pix, make([]byte, sector-pad)...)
	}
	path := filepath.Join(t.TempDir(), "fb.img")
	if err := os.WriteFile(path, pix, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readPNG decodes a PNG file.
func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	return img
}

// rgbAt is the 8-bit colour of img at (x, y).
func rgbAt(img image.Image, x, y int) (r, g, b uint8) {
	r32, g32, b32, _ := img.At(x, y).RGBA()
	return uint8(r32 >> 8), uint8(g32 >> 8), uint8(b32 >> 8)
}

// checkExactPattern compares every pixel of img with the test pattern.
func checkExactPattern(t *testing.T, img image.Image) {
	t.Helper()
	bounds := img.Bounds()
	if bounds.Dx() != gpuW || bounds.Dy() != gpuH {
		t.Fatalf("screenshot is %dx%d, want %dx%d", bounds.Dx(), bounds.Dy(), gpuW, gpuH)
	}
	bad, first := 0, ""
	for y := range gpuH {
		for x := range gpuW {
			r, g, b := rgbAt(img, bounds.Min.X+x, bounds.Min.Y+y)
			wr, wg, wb := fbPattern(x, y)
			if r != wr || g != wg || b != wb {
				if bad == 0 {
					first = fmt.Sprintf("(%d,%d) is rgb(%d,%d,%d), want rgb(%d,%d,%d)", x, y, r, g, b, wr, wg, wb)
				}
				bad++
			}
		}
	}
	if bad != 0 {
		t.Errorf("%d of %d pixels differ from the image the guest drew; the first: %s", bad, gpuW*gpuH, first)
	}
}

// checkFBMode checks the mode the guest reported for /dev/fb0.
func checkFBMode(t *testing.T, out string) {
	t.Helper()
	want := fmt.Sprintf("GOVM-FB-MODE %dx%d stride=%d bpp=32", gpuW, gpuH, gpuW*fbBytesPerPixel)
	if !strings.Contains(out, want) {
		t.Errorf("the guest's frame buffer mode is not %q:\n%s", want, out)
	}
}

// The guest draws a known image on /dev/fb0; the --screenshot PNG, taken
// when the guest says the image is flushed, must hold exactly that image.
func TestLinuxGPUExactPixels(t *testing.T) {
	g := needLinuxGuest(t)
	disk := writeFBImage(t, gpuW, gpuH)
	shot := filepath.Join(t.TempDir(), "fb.png")
	code, out, errOut := govmRun(t, g.govm, "run", "--kernel", g.kernel, "--initrd", g.initrd,
		"--mem", gpuGuestMem, "--timeout", gpuTimeout, "--disk", disk+",ro",
		"--gpu", "2d", "--display", "headless", "--resolution", fmt.Sprintf("%dx%d", gpuW, gpuH),
		"--expect", fbDoneMarker, "--screenshot", shot, "--append", cmdline(false, "govm.test=gpufb"))
	if code != 0 {
		t.Fatalf("exit status %d\nstderr:\n%s\nconsole:\n%s", code, errOut, out)
	}
	checkFBMode(t, out)
	checkExactPattern(t, readPNG(t, shot))
}

// The virtio_gpu driver binds with EDID, and the frame buffer console
// draws text that reaches the screenshot.
func TestLinuxGPUDriverAndConsole(t *testing.T) {
	g := needLinuxGuest(t)
	shot := filepath.Join(t.TempDir(), "fbcon.png")
	// console=tty0 first: the last console= is /dev/console, which init
	// (and so the markers) must keep on the serial port.
	code, out, errOut := govmRun(t, g.govm, "run", "--kernel", g.kernel, "--initrd", g.initrd,
		"--mem", gpuGuestMem, "--timeout", gpuTimeout,
		"--gpu", "2d", "--display", "headless", "--resolution", fmt.Sprintf("%dx%d", gpuW, gpuH),
		"--expect", fbconDoneMarker, "--screenshot", shot,
		"--append", "console=tty0 "+cmdline(false, "govm.test=gpuinfo"))
	if code != 0 {
		t.Fatalf("exit status %d\nstderr:\n%s\nconsole:\n%s", code, errOut, out)
	}
	features := regexp.MustCompile(`(?m)^.*\[drm\] features:.*$`).FindString(out)
	t.Logf("driver: %s", strings.TrimSpace(features))
	if !strings.Contains(features, "+edid") {
		t.Errorf("the virtio_gpu driver's features line lacks +edid:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^\d+ virtio_gpudrmfb`).MatchString(out) {
		t.Errorf("/proc/fb lacks virtio_gpudrmfb:\n%s", out)
	}

	// The console draws light text on black: count what is not black.
	img := readPNG(t, shot)
	b := img.Bounds()
	lit, litRows := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		rowLit := false
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl := rgbAt(img, x, y); r|g|bl != 0 {
				lit++
				rowLit = true
			}
		}
		if rowLit {
			litRows++
		}
	}
	t.Logf("console text: %d lit pixels in %d rows of %dx%d", lit, litRows, b.Dx(), b.Dy())
	if lit < minTextPixels || litRows < minTextRows {
		t.Errorf("the console looks blank: %d lit pixels in %d rows, want at least %d in %d rows",
			lit, litRows, minTextPixels, minTextRows)
	}
}

// startXvfb starts a virtual X server on a free display and returns its
// DISPLAY value; the server stops when the test ends.
func startXvfb(t *testing.T) string {
	t.Helper()
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		testenv.Missing(t, "Xvfb (apt-get install xvfb)")
	}
	for _, tool := range []string{"xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool+" (apt-get install xdotool imagemagick)")
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// -displayfd: Xvfb picks a free display and writes its number to fd 3.
	cmd := exec.Command(xvfb, "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	if os.Geteuid() == 0 {
		// As root, Xvfb writes its compiled keymap to /var/lib/xkb,
		// which is read-only inside scripts/nested.sh, and then fails
		// ("Failed to activate virtual core keyboard"). As another user
		// it writes to /tmp. Its socket directory must then exist.
		if err := os.Mkdir(xSocketDir, 0o777|os.ModeSticky); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
		if err := os.Chmod(xSocketDir, 0o777|os.ModeSticky); err != nil {
			t.Fatal(err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	var stderr testenv.Buffer
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
		return ":" + n
	case <-time.After(xWait):
		t.Fatalf("Xvfb did not start: %s", stderr.String())
	}
	return ""
}

// xTool runs an X client with DISPLAY set and returns its stdout.
func xTool(t *testing.T, display string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), xWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, stderr.String())
	}
	return stdout.String()
}

// windowRect is where the govm window is on the X screen.
func windowRect(t *testing.T, display string) image.Rectangle {
	t.Helper()
	out := xTool(t, display, "xdotool", "search", "--sync", "--onlyvisible", "--name", "^govm", "getwindowgeometry", "--shell")
	v := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		k, val, ok := strings.Cut(strings.TrimSpace(l), "=")
		if n, err := strconv.Atoi(val); ok && err == nil {
			v[k] = n
		}
	}
	r := image.Rect(v["X"], v["Y"], v["X"]+v["WIDTH"], v["Y"]+v["HEIGHT"])
	if r.Empty() {
		t.Fatalf("no geometry for the govm window: %q", out)
	}
	return r
}

// frameRect is where a fw x fh frame is shown in window r: as large as fits
// with its aspect ratio kept, centred (what the SDL window does).
func frameRect(r image.Rectangle, fw, fh int) image.Rectangle {
	w, h := r.Dx(), r.Dx()*fh/fw
	if h > r.Dy() {
		w, h = r.Dy()*fw/fh, r.Dy()
	}
	x, y := r.Min.X+(r.Dx()-w)/2, r.Min.Y+(r.Dy()-h)/2
	return image.Rect(x, y, x+w, y+h)
}

// windowDiff compares the screen's area fr with frame (scaled to fr by
// sampling the nearest frame pixel) and returns how many pixels are within
// windowTolerance, the total, and the first one that is not.
func windowDiff(screen image.Image, fr image.Rectangle, frame image.Image) (ok, total int, first string) {
	fb := frame.Bounds()
	for y := fr.Min.Y; y < fr.Max.Y; y++ {
		for x := fr.Min.X; x < fr.Max.X; x++ {
			fx := fb.Min.X + (x-fr.Min.X)*fb.Dx()/fr.Dx()
			fy := fb.Min.Y + (y-fr.Min.Y)*fb.Dy()/fr.Dy()
			sr, sg, sb := rgbAt(screen, x, y)
			wr, wg, wb := rgbAt(frame, fx, fy)
			total++
			if absDiff(sr, wr) <= windowTolerance && absDiff(sg, wg) <= windowTolerance && absDiff(sb, wb) <= windowTolerance {
				ok++
			} else if first == "" {
				first = fmt.Sprintf("screen (%d,%d) is rgb(%d,%d,%d), frame (%d,%d) is rgb(%d,%d,%d)",
					x, y, sr, sg, sb, fx, fy, wr, wg, wb)
			}
		}
	}
	return ok, total, first
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// tabletPos is the tablet coordinate of window pixel p in a frame shown
// from origin with size pixels: the first pixel is 0, the last tabletMax.
func tabletPos(p, origin, size int) int {
	span := size - 1
	return min(max(((p-origin)*tabletMax+span/2)/span, 0), tabletMax)
}

// The guest draws the test image in a real SDL window on Xvfb; the window
// must show what the headless frame holds. Then a key press and a pointer
// move injected into the window must reach the guest's evdev devices.
func TestLinuxGPUWindowAndInput(t *testing.T) {
	g := needLinuxGuest(t)
	display := startXvfb(t)
	disk := writeFBImage(t, gpuW, gpuH)
	dir := t.TempDir()
	shot := filepath.Join(dir, "headless.png")

	start := time.Now()
	b := startBooted(t, g.govm, []string{"DISPLAY=" + display, "SDL_VIDEODRIVER=x11"}, fbDoneMarker, 4*time.Minute,
		"run", "--kernel", g.kernel, "--initrd", g.initrd,
		"--mem", gpuGuestMem, "--timeout", gpuTimeout, "--disk", disk+",ro",
		"--gpu", "2d", "--display", "sdl", "--resolution", fmt.Sprintf("%dx%d", gpuW, gpuH),
		"--expect", inputDoneMarker+` rc=\d+`, "--screenshot", shot, "--append", cmdline(false, "govm.test=gpuinput"))
	t.Logf("%s after %v", fbDoneMarker, time.Since(start).Round(time.Millisecond))
	checkFBMode(t, b.out.String())
	win := windowRect(t, display)
	fr := frameRect(win, gpuW, gpuH)
	t.Logf("window %v, frame shown at %v", win, fr)

	// The window redraws on its own loop: retry until it shows the frame.
	want := image.NewRGBA(image.Rect(0, 0, gpuW, gpuH))
	for y := range gpuH {
		for x := range gpuW {
			r, g, b := fbPattern(x, y)
			i := want.PixOffset(x, y)
			want.Pix[i], want.Pix[i+1], want.Pix[i+2], want.Pix[i+3] = r, g, b, 0xff
		}
	}
	rootPNG := filepath.Join(dir, "root.png")
	deadline := time.Now().Add(xWait)
	for {
		xTool(t, display, "import", "-window", "root", "png:"+rootPNG)
		ok, total, first := windowDiff(readPNG(t, rootPNG), fr, want)
		if float64(ok) >= windowMatchFraction*float64(total) {
			t.Logf("window: %d of %d pixels within %d of the frame", ok, total, windowTolerance)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the window does not show the frame: %d of %d pixels within %d; the first bad: %s",
				ok, total, windowTolerance, first)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Input: X sends keys to the window under the pointer.
	b.waitFor(t, "GOVM-INPUT-WAITING", time.Minute)
	px, py := win.Min.X+pointerX, win.Min.Y+pointerY
	xTool(t, display, "xdotool", "mousemove", "--sync", strconv.Itoa(px), strconv.Itoa(py))
	xTool(t, display, "xdotool", "key", "a")
	b.waitFor(t, inputDoneMarker, inputWait)
	waitErr := b.waitExit(t, time.Minute)
	t.Logf("govm: %v in %v", waitErr, time.Since(start).Round(time.Millisecond))
	console := b.out.String()
	if waitErr != nil {
		t.Fatalf("govm: %v\n%s", waitErr, b.logs())
	}
	if !strings.Contains(console, inputDoneMarker+" rc=0") {
		t.Errorf("the guest did not see both a key press and a pointer move:\n%s", console)
	}
	if !strings.Contains(console, fmt.Sprintf("GOVM-KEY code=%d value=1", keyA)) {
		t.Errorf("the guest saw no press of KEY_A:\n%s", console)
	}
	if !strings.Contains(console, fmt.Sprintf("GOVM-KEY code=%d value=0", keyA)) {
		t.Errorf("the guest saw no release of KEY_A:\n%s", console)
	}
	m := regexp.MustCompile(`GOVM-ABS x=(-?\d+) y=(-?\d+)`).FindStringSubmatch(console)
	if m == nil {
		t.Fatalf("the guest reported no pointer position:\n%s", console)
	}
	gotX, _ := strconv.Atoi(m[1])
	gotY, _ := strconv.Atoi(m[2])
	wantX, wantY := tabletPos(px, fr.Min.X, fr.Dx()), tabletPos(py, fr.Min.Y, fr.Dy())
	// One frame pixel of slack, for rounding.
	slackX, slackY := tabletMax/(fr.Dx()-1)+1, tabletMax/(fr.Dy()-1)+1
	t.Logf("pointer at window (%d,%d): the guest saw ABS %d,%d, want %d,%d", pointerX, pointerY, gotX, gotY, wantX, wantY)
	if absInt(gotX-wantX) > slackX || absInt(gotY-wantY) > slackY {
		t.Errorf("the guest saw the pointer at ABS %d,%d, want %d,%d (±%d,%d)", gotX, gotY, wantX, wantY, slackX, slackY)
	}

	// The headless frame, taken when the VM stopped, is the exact image,
	// and the window showed it.
	headless := readPNG(t, shot)
	checkExactPattern(t, headless)
	if ok, total, first := windowDiff(readPNG(t, rootPNG), fr, headless); float64(ok) < windowMatchFraction*float64(total) {
		t.Errorf("the window differs from the headless frame: %d of %d pixels within %d; the first bad: %s",
			ok, total, windowTolerance, first)
	}
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
