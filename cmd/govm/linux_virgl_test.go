package main

// End-to-end tests of --gpu virgl with the GL guest (build/guest-gl, made by
// scripts/build-gl-guest.sh): the guest's Mesa renders kmscube through its
// virtio_gpu driver, the commands go to virglrenderer on the host's GL, and
// the frame comes back to the --screenshot PNG. Like the other TestLinux
// tests they need real KVM (scripts/nested.sh provides it). There, llvmpipe
// itself runs under TCG, so the cube turns at about one frame per second.

import (
	"fmt"
	"image"
	"image/color"
	"path/filepath"
	"testing"

	"github.com/govm/govm/internal/testenv"
)

const (
	// virglTimeout bounds one run: the boot with the 250 MB GL layer takes
	// about 20 s of guest time, kmscube's start-up (shader compilation in
	// llvmpipe under TCG) tens of seconds more; a whole run 30-55 s in the
	// harness. It is a boot the nested fault has stopped that reaches it,
	// and each costs the whole timeout (and the rerun another), so it
	// stays within about 5x of a run.
	virglTimeout = "240s"
	// virglGuestMem holds the unpacked GL layer (about 250 MB in the
	// initramfs), its compressed copy while it is unpacked, and Mesa.
	virglGuestMem = "1536M"
	// cubeFrames: the guest prints cubeDoneMarker once kmscube reports
	// this many frames (guest-images/linux-gl/tests/cube, govm.cubeframes).
	cubeFrames = 20
	// cubeDoneMarker: the cube is on the screen, still turning.
	cubeDoneMarker = "GOVM-CUBE-DONE"

	// Screenshot checks. bgTolerance is the largest per-channel difference
	// from the corner colour that still counts as background; cornerSize
	// is the side of the square checked at each corner.
	bgTolerance = 8
	cornerSize  = 16
	// cubeClear is kmscube's clear colour, glClearColor(0.5, 0.5, 0.5, 1).
	cubeClear = 128
	// minCubeShare: at least this share of the centre region (the middle
	// third of the frame in each direction) is not background.
	minCubeShare = 0.2
	// A pixel is saturated when its largest and smallest channels differ
	// by at least minChroma and its largest is at least minBright.
	minChroma = 64
	minBright = 64
	// hueBins sectors of the colour wheel; the cube must fill at least
	// minHues of them with at least minHueShare of the centre region each.
	hueBins     = 12
	minHues     = 3
	minHueShare = 0.01
)

// glGuest is the GL guest's kernel and initrd, or the test is skipped (or
// fails under GOVM_REQUIRE_KVM) with the command that builds it.
func glGuest(t *testing.T) (govm, kernel, initrd string) {
	t.Helper()
	g := needLinuxGuest(t)
	dir := filepath.Join(testenv.RepoRoot(t), "build/guest-gl")
	kernel = testenv.RequireFile(t, filepath.Join(dir, "vmlinuz"), "run 'make guest-gl'")
	initrd = testenv.RequireFile(t, filepath.Join(dir, "initrd.img"), "run 'make guest-gl'")
	return g.govm, kernel, initrd
}

func TestLinuxVirglCube(t *testing.T)     { testVirglCube(t, "virgl") }
func TestLinuxVirglCubeGLES(t *testing.T) { testVirglCube(t, "virgl,gles") }

// testVirglCube boots the GL guest with --gpu mode, lets kmscube turn the
// cube, and checks the driver's features, the GL renderer and the picture.
func testVirglCube(t *testing.T, mode string) {
	govm, kernel, initrd := glGuest(t)
	shot := filepath.Join(t.TempDir(), "cube.png")
	code, out, errOut := govmRun(t, govm, "run", "--kernel", kernel, "--initrd", initrd,
		"--mem", virglGuestMem, "--timeout", virglTimeout,
		"--gpu", mode, "--display", "headless", "--resolution", fmt.Sprintf("%dx%d", gpuW, gpuH),
		"--expect", cubeDoneMarker, "--screenshot", shot,
		"--append", cmdline(false, "govm.test=cube", fmt.Sprintf("govm.cubeframes=%d", cubeFrames)))
	if code != 0 {
		t.Fatalf("exit status %d\nstderr:\n%s\nconsole:\n%s", code, errOut, out)
	}
	checkVirglConsole(t, out)
	checkCube(t, readPNG(t, shot))
}

// checkCube checks that img shows kmscube's cube (see cubeProblems).
func checkCube(t *testing.T, img image.Image) {
	t.Helper()
	problems, stats := cubeProblems(img)
	t.Log(stats)
	for _, p := range problems {
		t.Error(p)
	}
}

// cubeProblems says what is wrong with img as a picture of kmscube's cube:
// the corners must be kmscube's grey background, and the centre must hold
// a large object with several distinct saturated colours (the default
// "smooth" mode shades each face from the colours of its corners). stats
// describes what was measured.
func cubeProblems(img image.Image) (problems []string, stats string) {
	b := img.Bounds()
	if b.Dx() != gpuW || b.Dy() != gpuH {
		return []string{fmt.Sprintf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), gpuW, gpuH)}, ""
	}
	br, bg, bb := rgbAt(img, b.Min.X, b.Min.Y)
	isBackground := func(x, y int) bool {
		r, g, bl := rgbAt(img, x, y)
		return absDiff(r, br) <= bgTolerance && absDiff(g, bg) <= bgTolerance && absDiff(bl, bb) <= bgTolerance
	}
	if absDiff(br, cubeClear) > bgTolerance || absDiff(bg, cubeClear) > bgTolerance || absDiff(bb, cubeClear) > bgTolerance {
		problems = append(problems, fmt.Sprintf("the background is rgb(%d,%d,%d), not kmscube's grey rgb(%d,%d,%d)",
			br, bg, bb, cubeClear, cubeClear, cubeClear))
	}
	corners := []image.Point{{b.Min.X, b.Min.Y}, {b.Max.X - cornerSize, b.Min.Y},
		{b.Min.X, b.Max.Y - cornerSize}, {b.Max.X - cornerSize, b.Max.Y - cornerSize}}
corners:
	for _, c := range corners {
		for y := c.Y; y < c.Y+cornerSize; y++ {
			for x := c.X; x < c.X+cornerSize; x++ {
				if !isBackground(x, y) {
					r, g, bl := rgbAt(img, x, y)
					problems = append(problems, fmt.Sprintf("the corners are not one background colour: (%d,%d) is rgb(%d,%d,%d), (0,0) rgb(%d,%d,%d)",
						x, y, r, g, bl, br, bg, bb))
					break corners
				}
			}
		}
	}

	centre := image.Rect(b.Min.X+b.Dx()/3, b.Min.Y+b.Dy()/3, b.Min.X+2*b.Dx()/3, b.Min.Y+2*b.Dy()/3)
	total := centre.Dx() * centre.Dy()
	object := 0
	var hues [hueBins]int
	for y := centre.Min.Y; y < centre.Max.Y; y++ {
		for x := centre.Min.X; x < centre.Max.X; x++ {
			if isBackground(x, y) {
				continue
			}
			object++
			if h, ok := hueBin(rgbAt(img, x, y)); ok {
				hues[h]++
			}
		}
	}
	distinct := 0
	for _, n := range hues {
		if float64(n) >= minHueShare*float64(total) {
			distinct++
		}
	}
	stats = fmt.Sprintf("background rgb(%d,%d,%d); centre %v: %d of %d pixels are not background; saturated pixels by hue sector: %v",
		br, bg, bb, centre, object, total, hues)
	if float64(object) < minCubeShare*float64(total) {
		problems = append(problems, fmt.Sprintf("the centre is mostly background (%d of %d pixels): no cube on the screen", object, total))
	}
	if distinct < minHues {
		problems = append(problems, fmt.Sprintf("the centre has %d distinct saturated colours, want at least %d (hue sectors %v)", distinct, minHues, hues))
	}
	return problems, stats
}

// The cube check itself, on made-up frames (no VM): it must accept a
// colourful object on kmscube's grey and reject a grey, a black or a
// one-colour frame.
func TestCubeCheck(t *testing.T) {
	grey := color.RGBA{cubeClear, cubeClear, cubeClear, 0xff}
	frame := func(draw func(x, y int) color.RGBA) image.Image {
		img := image.NewRGBA(image.Rect(0, 0, gpuW, gpuH))
		for y := range gpuH {
			for x := range gpuW {
				img.SetRGBA(x, y, draw(x, y))
			}
		}
		return img
	}
	// inCube: a square of side gpuH/2 around the centre.
	inCube := func(x, y int) bool {
		return absInt(x-gpuW/2) < gpuH/4 && absInt(y-gpuH/2) < gpuH/4
	}
	tests := []struct {
		name string
		img  image.Image
		ok   bool
	}{
		{"cube", frame(func(x, y int) color.RGBA {
			if !inCube(x, y) {
				return grey
			}
			// Red to blue across, more green downwards: many hues.
			return color.RGBA{uint8(255 * (gpuW - x) / gpuW), uint8(255 * y / gpuH), uint8(255 * x / gpuW), 0xff}
		}), true},
		{"grey", frame(func(x, y int) color.RGBA { return grey }), false},
		{"black", frame(func(x, y int) color.RGBA { return color.RGBA{A: 0xff} }), false},
		{"one colour", frame(func(x, y int) color.RGBA {
			if inCube(x, y) {
				return color.RGBA{0xff, 0, 0, 0xff}
			}
			return grey
		}), false},
		{"small", image.NewRGBA(image.Rect(0, 0, gpuW/2, gpuH/2)), false},
	}
	for _, tc := range tests {
		problems, stats := cubeProblems(tc.img)
		if (len(problems) == 0) != tc.ok {
			t.Errorf("%s: problems %q, want ok=%v (%s)", tc.name, problems, tc.ok, stats)
		}
	}
}

// hueBin returns the hue sector (0 to hueBins-1) of a saturated colour, and
// false for a grey, dark or washed-out one.
func hueBin(r, g, b uint8) (int, bool) {
	hi, lo := max(r, g, b), min(r, g, b)
	chroma := int(hi) - int(lo)
	if chroma < minChroma || hi < minBright {
		return 0, false
	}
	// The hue in degrees, from the channel that is largest.
	var h float64
	switch hi {
	case r:
		h = 60 * float64(int(g)-int(b)) / float64(chroma)
	case g:
		h = 120 + 60*float64(int(b)-int(r))/float64(chroma)
	default:
		h = 240 + 60*float64(int(r)-int(g))/float64(chroma)
	}
	if h < 0 {
		h += 360
	}
	return min(int(h*hueBins/360), hueBins-1), true
}
