package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govm/govm/internal/testenv"
)

// A real SDL window under Xvfb, with the test guest drawing into it: what
// the X server shows must be what the headless copy (--screenshot) holds,
// and both the guest's pattern.
const (
	tgWinWidth, tgWinHeight = 640, 480
	tgHoldSeconds           = 6   // gpuhold: how long the guest keeps the window up
	tgMaxDiff               = 2   // per channel, X capture against the headless PNG
	tgMaxBadPercent         = 0.1 // of the pixels may differ by more
	tgXStartTimeout         = 10 * time.Second
	tgDrawTimeout           = 30 * time.Second // until the guest says it drew
)

// tgXTool returns the path of an X or ImageMagick tool, or skips/fails the
// test like any missing prerequisite.
func tgXTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		testenv.Missing(t, name+" (apt-get install "+pkg+")")
	}
	return path
}

// tgStartXvfb starts a virtual X server on a free display and returns its
// DISPLAY value; the server is stopped when the test ends.
func tgStartXvfb(t *testing.T) string {
	t.Helper()
	xvfb := tgXTool(t, "Xvfb", "xvfb")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// -displayfd 3: Xvfb picks a free display and writes its number there.
	cmd := exec.Command(xvfb, "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Xvfb: %v", err)
	}
	w.Close()
	t.Cleanup(func() {
		cmd.Process.Kill() // ours; it only exits when told
		cmd.Wait()
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
	case <-time.After(tgXStartTimeout):
		t.Fatalf("Xvfb did not start: %s", stderr.String())
	}
	return ""
}

// tgWindowRect finds the top-level window called title with xwininfo.
func tgWindowRect(t *testing.T, env []string, title string) (image.Rectangle, error) {
	t.Helper()
	cmd := exec.Command(tgXTool(t, "xwininfo", "x11-utils"), "-name", title)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return image.Rectangle{}, fmt.Errorf("xwininfo: %w: %s", err, out)
	}
	field := func(name string) (int, error) {
		m := regexp.MustCompile(`(?m)^\s*` + name + `:\s*(-?\d+)`).FindSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("xwininfo output lacks %q:\n%s", name, out)
		}
		return strconv.Atoi(string(m[1]))
	}
	var v [4]int
	for i, name := range []string{"Absolute upper-left X", "Absolute upper-left Y", "Width", "Height"} {
		if v[i], err = field(name); err != nil {
			return image.Rectangle{}, err
		}
	}
	return image.Rect(v[0], v[1], v[0]+v[2], v[1]+v[3]), nil
}

// tgCaptureRoot takes a screenshot of the whole X screen with ImageMagick.
func tgCaptureRoot(t *testing.T, env []string) (image.Image, error) {
	t.Helper()
	cmd := exec.Command(tgXTool(t, "import", "imagemagick"), "-window", "root", "png:-")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("import: %w: %s", err, stderr.String())
	}
	return png.Decode(bytes.NewReader(out))
}

// tgRGB is one pixel's 8-bit red, green and blue.
func tgRGB(img image.Image, x, y int) [3]int {
	r, g, b, _ := img.At(x, y).RGBA()
	return [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
}

// tgCompareScaled compares the window area of a screen capture with want,
// mapping each window pixel to want's nearest pixel (the identity when the
// window is want's size). It returns the number of pixels where a channel
// differs by more than tgMaxDiff, and the first such one.
func tgCompareScaled(screen image.Image, win image.Rectangle, want image.Image) (int, string) {
	wb := want.Bounds()
	bad, first := 0, ""
	for y := 0; y < win.Dy(); y++ {
		for x := 0; x < win.Dx(); x++ {
			wx := wb.Min.X + x*wb.Dx()/win.Dx()
			wy := wb.Min.Y + y*wb.Dy()/win.Dy()
			g, w := tgRGB(screen, win.Min.X+x, win.Min.Y+y), tgRGB(want, wx, wy)
			for c := range g {
				if d := g[c] - w[c]; d > tgMaxDiff || d < -tgMaxDiff {
					if bad == 0 {
						first = fmt.Sprintf("window pixel (%d,%d) is %v, headless (%d,%d) is %v", x, y, g, wx, wy, w)
					}
					bad++
					break
				}
			}
		}
	}
	return bad, first
}

// tgPattern is the test guest's "gpu" picture as 8-bit red, green, blue.
func tgPattern(x, y int) [3]int { return [3]int{(x ^ y) & 255, y & 255, x & 255} }

func TestWindowTestGuest(t *testing.T) {
	testenv.RequireKVM(t)
	root := testenv.RepoRoot(t)
	govm := testenv.RequireFile(t, filepath.Join(root, "build/govm"), "run 'make build'")
	tg := testenv.TestGuest(t)
	display := tgStartXvfb(t)
	env := append(os.Environ(), "DISPLAY="+display, "SDL_VIDEODRIVER=x11")
	shot := filepath.Join(t.TempDir(), "headless.png")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, govm, "run", "--kernel", tg, "--mem", "64M", "--rng=false",
		"--gpu", "2d", "--display", "sdl", "--resolution", fmt.Sprintf("%dx%d", tgWinWidth, tgWinHeight),
		"--screenshot", shot, "--append", fmt.Sprintf("gpuhold %d", tgHoldSeconds))
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The console, line by line: wait for the guest to have drawn.
	var console bytes.Buffer
	drawn := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(io.TeeReader(stdout, &console))
		signalled := false
		for sc.Scan() {
			if !signalled && strings.HasPrefix(sc.Text(), "testguest: gpu ok ") {
				close(drawn)
				signalled = true
			}
		}
	}()
	wait := func() int {
		<-copied
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatalf("govm: %v", err)
		}
		return 0
	}
	select {
	case <-drawn:
	case <-copied:
		code := wait()
		t.Fatalf("govm ended (status %d) before the guest drew; stderr:\n%s\nconsole:\n%s", code, stderr.String(), console.String())
	case <-time.After(tgDrawTimeout):
		cmd.Process.Kill()
		wait()
		t.Fatalf("the guest did not draw within %v; stderr:\n%s\nconsole:\n%s", tgDrawTimeout, stderr.String(), console.String())
	}

	// The window shows the frame once SDL has presented it: look until it
	// does, while the guest holds (it exits after tgHoldSeconds).
	title := "govm: " + filepath.Base(tg)
	var screen image.Image
	var win image.Rectangle
	deadline := time.Now().Add(tgHoldSeconds * time.Second / 2)
	for {
		win, err = tgWindowRect(t, env, title)
		if err == nil {
			screen, err = tgCaptureRoot(t, env)
		}
		if err == nil {
			// The pattern's bottom-right pixel: drawn, not just mapped.
			x, y := win.Dx()-1, win.Dy()-1
			if win.Dx() == tgWinWidth && win.Dy() == tgWinHeight && tgRGB(screen, win.Min.X+x, win.Min.Y+y) == tgPattern(x, y) {
				break
			}
		}
		if time.Now().After(deadline) {
			break // compare what there is; the checks below say what is wrong
		}
		time.Sleep(100 * time.Millisecond)
	}
	code := wait()
	if code != 0 {
		t.Fatalf("govm exit status %d; stderr:\n%s\nconsole:\n%s", code, stderr.String(), console.String())
	}
	if want := fmt.Sprintf("testguest: gpuhold %d done\n", tgHoldSeconds); !strings.Contains(console.String(), want) {
		t.Errorf("console lacks %q:\n%s", want, console.String())
	}
	if err != nil {
		t.Fatalf("no window capture: %v", err)
	}
	t.Logf("window %q at %v on %s", title, win, display)
	if !win.In(screen.Bounds()) {
		t.Fatalf("window %v is not inside the screen %v", win, screen.Bounds())
	}

	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("--screenshot: %v", err)
	}
	defer f.Close()
	headless, err := png.Decode(f)
	if err != nil {
		t.Fatalf("--screenshot %s: %v", shot, err)
	}
	hb := headless.Bounds()
	if hb.Dx() != tgWinWidth || hb.Dy() != tgWinHeight {
		t.Fatalf("headless screenshot is %dx%d, want %dx%d", hb.Dx(), hb.Dy(), tgWinWidth, tgWinHeight)
	}
	for y := range tgWinHeight {
		for x := range tgWinWidth {
			if got, want := tgRGB(headless, hb.Min.X+x, hb.Min.Y+y), tgPattern(x, y); got != want {
				t.Fatalf("headless pixel (%d,%d) is %v, want the guest's %v", x, y, got, want)
			}
		}
	}

	if win.Dx() != tgWinWidth || win.Dy() != tgWinHeight {
		t.Logf("the window is %dx%d, the guest's screen %dx%d: comparing scaled", win.Dx(), win.Dy(), tgWinWidth, tgWinHeight)
	}
	bad, first := tgCompareScaled(screen, win, headless)
	total := win.Dx() * win.Dy()
	t.Logf("%d of %d window pixels differ from the headless copy by more than %d", bad, total, tgMaxDiff)
	if float64(bad) > float64(total)*tgMaxBadPercent/100 {
		t.Errorf("%d of %d window pixels differ from the headless screenshot; first: %s", bad, total, first)
	}
}
