package main

import (
	"fmt"
	"image"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cubeWait bounds the wait for kmscube's frames in the window test (the GL
// guest's boot and kmscube's start-up under TCG, as in virglTimeout).
const cubeWait = 8 * time.Minute

func TestLinuxVirglWindow(t *testing.T)     { testVirglWindow(t, "virgl") }
func TestLinuxVirglWindowGLES(t *testing.T) { testVirglWindow(t, "virgl,gles") }

// testVirglWindow runs kmscube in the GL guest with an SDL window on Xvfb:
// virgl's GL contexts share the window's, so the window draws the
// scanout's texture itself. The window must show the cube, govm's --stats
// must count every flush as a texture and none as a read-back, and govm
// must exit 0 when asked to quit.
func testVirglWindow(t *testing.T, mode string) {
	govm, kernel, initrd := glGuest(t)
	display := startXvfb(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	b := startBooted(t, govm, []string{"DISPLAY=" + display, "SDL_VIDEODRIVER=x11"}, cubeDoneMarker, cubeWait,
		"run", "--kernel", kernel, "--initrd", initrd,
		"--mem", virglGuestMem, "--timeout", virglTimeout, "--stats", "--control", sock,
		"--gpu", mode, "--display", "sdl", "--resolution", fmt.Sprintf("%dx%d", gpuW, gpuH),
		"--append", cmdline(false, "govm.test=cube", fmt.Sprintf("govm.cubeframes=%d", cubeFrames)))
	checkVirglConsole(t, b.out.String())

	win := windowRect(t, display)
	fr := frameRect(win, gpuW, gpuH)
	t.Logf("window %v, frame shown at %v", win, fr)
	rootPNG := filepath.Join(dir, "root.png")
	until := time.Now().Add(xWait)
	for {
		xTool(t, display, "import", "-window", "root", "png:"+rootPNG)
		problems, stats := cubeProblems(scaledCrop(readPNG(t, rootPNG), fr, gpuW, gpuH))
		if len(problems) == 0 {
			t.Logf("window: %s", stats)
			break
		}
		if time.Now().After(until) {
			t.Fatalf("the window does not show the cube: %s (%s)", strings.Join(problems, "; "), stats)
		}
		time.Sleep(time.Second)
	}

	// A look at the running guest: its vCPU and its devices, all driven.
	code, state, ctlErr := govmRunOnce(t, govm, "ctl", "--socket", sock, "state")
	if code != 0 {
		t.Fatalf("govm ctl state: status %d: %s", code, ctlErr)
	}
	for _, want := range []string{"vcpu 0: ", "local APIC: ", "virtio-gpu (virtio-mmio at ", "(ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK)"} {
		if !strings.Contains(state, want) {
			t.Errorf("govm ctl state lacks %q:\n%s", want, state)
		}
	}
	if code, _, ctlErr := govmRun(t, govm, "ctl", "--socket", sock, "quit"); code != 0 {
		t.Fatalf("govm ctl quit: status %d: %s", code, ctlErr)
	}
	if err := b.waitExit(t, time.Minute); err != nil {
		t.Fatalf("govm after ctl quit: %v\n%s", err, b.logs())
	}
	m := regexp.MustCompile(`gpu: (\d+) scanout flushes: (\d+) shown as GL textures \(no copy\), (\d+) read back`).
		FindStringSubmatch(b.errOut.String())
	if m == nil {
		t.Fatalf("--stats printed no gpu line:\n%s", b.errOut.String())
	}
	flushes, _ := strconv.Atoi(m[1])
	textures, _ := strconv.Atoi(m[2])
	frames, _ := strconv.Atoi(m[3])
	t.Logf("%d flushes: %d as textures, %d read back", flushes, textures, frames)
	if textures == 0 || frames != 0 {
		t.Errorf("the window did not get every flush as a shared texture: %s\nstderr:\n%s", m[0], b.errOut.String())
	}
}

// checkVirglConsole checks the GL guest's console: the virtio_gpu driver
// negotiated virgl, and kmscube's GL renderer is virgl.
func checkVirglConsole(t *testing.T, out string) {
	t.Helper()
	features := regexp.MustCompile(`(?m)^GOVM-GPU-FEATURES .*$`).FindString(out)
	t.Logf("driver: %s", strings.TrimSpace(features))
	if !strings.Contains(features, "+virgl") {
		t.Errorf("the virtio_gpu driver did not negotiate virgl (no +virgl in its features line):\n%s", out)
	}
	renderer := regexp.MustCompile(`(?m)^\s*renderer: "(.*)"`).FindStringSubmatch(out)
	if renderer == nil {
		t.Fatalf("kmscube printed no GL renderer:\n%s", out)
	}
	t.Logf("GL_RENDERER: %s", renderer[1])
	if !strings.Contains(renderer[1], "virgl") {
		t.Errorf("GL_RENDERER %q is not virgl: Mesa did not use the virtio_gpu driver", renderer[1])
	}
	for _, l := range regexp.MustCompile(`(?m)^Rendered \d+ frames.*$`).FindAllString(out, -1) {
		t.Logf("kmscube: %s", l)
	}
}

// scaledCrop is area r of img resampled (nearest pixel) to w x h.
func scaledCrop(img image.Image, r image.Rectangle, w, h int) image.Image {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			out.Set(x, y, img.At(r.Min.X+x*r.Dx()/w, r.Min.Y+y*r.Dy()/h))
		}
	}
	return out
}
