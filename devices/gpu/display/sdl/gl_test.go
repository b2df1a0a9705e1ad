//go:build cgo

package sdl

import (
	"image/color"
	"testing"

	"github.com/govm/govm/devices/gpu"
	"github.com/govm/govm/devices/gpu/virgl"
)

// TestWindowGLShowsVirglTextures opens the window in GL mode, starts virgl
// in the window's share group, and checks that a virgl resource's texture
// reaches the screen without a read back: whole, in part, then a frame
// from the CPU, then black.
func TestWindowGLShowsVirglTextures(t *testing.T) {
	for _, gles := range []bool{false, true} {
		name := "gl"
		if gles {
			name = "gles"
		}
		t.Run(name, func(t *testing.T) { testGLTextures(t, gles) })
	}
}

func testGLTextures(t *testing.T, gles bool) {
	w, x, y := openWindowWith(t, Options{Title: "govm-test", Width: testW, Height: testH, GL: true, GLES: gles})
	sh, ok := w.SharedGL()
	if !ok {
		t.Fatal("GL mode window has no shared context")
	}
	r, err := virgl.New(virgl.Options{GLES: gles, Share: &virgl.SharedGL{
		Display: sh.Display, Config: sh.Config, Context: sh.Context, GLES: sh.GLES}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() }) // before the window's cleanup
	vendor, renderer, version := r.RendererString()
	t.Logf("window %s, virgl on %q %q %q", w.RendererName(), vendor, renderer, version)

	// A resource holding the quadrants, uploaded the way the guest does.
	const id = 1
	f := pattern(testW, testH, gpu.FormatB8G8R8X8, "BGRX")
	packed := make([]byte, testW*testH*4)
	for row := range testH {
		copy(packed[row*testW*4:(row+1)*testW*4], f.Pix[row*f.Stride:])
	}
	full := gpu.Rect{Width: testW, Height: testH}
	if err := r.CreateResource2D(id, gpu.FormatB8G8R8X8, testW, testH); err != nil {
		t.Fatal(err)
	}
	if err := r.AttachBacking(id, [][]byte{packed}); err != nil {
		t.Fatal(err)
	}
	if err := r.TransferToHost2D(id, full, 0, nil); err != nil {
		t.Fatal(err)
	}
	tex, err := r.Texture(id)
	if err != nil {
		t.Fatal(err)
	}
	tex.Rect = full
	if err := w.PresentTexture(0, tex); err != nil {
		t.Fatal(err)
	}
	waitPixels(t, "virgl texture", quadrantProbes(x, y, testW, testH))

	// The top right quadrant alone fills the window (same aspect).
	tex.Rect = gpu.Rect{X: testW / 2, Width: testW / 2, Height: testH / 2}
	if err := w.PresentTexture(0, tex); err != nil {
		t.Fatal(err)
	}
	waitPixels(t, "part of a virgl texture", []probe{
		{x + testW/8, y + testH/8, quadrants[1]}, {x + testW - testW/8, y + testH - testH/8, quadrants[1]}})

	// A rectangle outside the texture is refused.
	tex.Rect = gpu.Rect{X: 1, Width: testW, Height: testH}
	if err := w.PresentTexture(0, tex); err == nil {
		t.Error("rectangle outside the texture accepted")
	}

	// A frame from the CPU (another byte order) still shows in GL mode.
	if err := w.Present(0, pattern(testW, testH, gpu.FormatR8G8B8A8, "RGBA")); err != nil {
		t.Fatal(err)
	}
	waitPixels(t, "CPU frame in GL mode", quadrantProbes(x, y, testW, testH))

	if err := w.Present(0, gpu.Frame{}); err != nil {
		t.Fatal(err)
	}
	waitPixels(t, "disabled scanout", []probe{{x + testW/4, y + testH/4, color.RGBA{0, 0, 0, 255}}})
}
