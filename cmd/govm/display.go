package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/govm/govm/devices/gpu"
	"github.com/govm/govm/devices/gpu/display"
	"github.com/govm/govm/devices/gpu/virgl"
	"github.com/govm/govm/devices/input"
	vinput "github.com/govm/govm/devices/virtio/input"
	"github.com/govm/govm/machine"
)

// Display choices for --display.
const (
	displayAuto     = "auto"
	displaySDL      = "sdl"
	displayHeadless = "headless"
	displayNone     = "none"
)

// pickDisplay resolves --display auto: a window when there is a desktop to
// open one on, headless otherwise.
func pickDisplay(choice string) string {
	if choice != displayAuto {
		return choice
	}
	if os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "" {
		return displaySDL
	}
	return displayHeadless
}

// graphics is the guest's screen and input: the virtio-gpu device (that
// screenshots are read from), the window if there is one, and the
// keyboard and tablet that window events go to.
type graphics struct {
	gpu      *gpu.Device
	keyboard *vinput.Device
	tablet   *vinput.Device
	sink     gpu.Sink // the window; nil for --display headless or none
}

// newGraphics builds the GPU for --gpu 2d. win, if not nil, is the SDL
// window, the only sink: with none, flushed frames are not copied at all,
// and a screenshot reads the GPU's resource when it is taken.
func newGraphics(f runFlags, win gpu.Sink) (*graphics, []machine.VirtioDevice, error) {
	w, h, err := display.ParseResolution(f.resolution)
	if err != nil {
		return nil, nil, withCode(exitUsage, fmt.Errorf("--resolution: %w", err))
	}
	memFlag := f.gpuMem
	if memFlag == "" {
		// 3D resources are charged an upper bound of their texels (mip
		// levels, 16-byte formats), so virgl needs a larger budget.
		memFlag = "256M"
		if strings.HasPrefix(f.gpu, "virgl") {
			memFlag = "1G"
		}
	}
	mem, err := parseSize(memFlag)
	if err != nil {
		return nil, nil, withCode(exitUsage, fmt.Errorf("--gpu-mem: %w", err))
	}
	g := &graphics{sink: win}
	var backend gpu.Backend
	if strings.HasPrefix(f.gpu, "virgl") {
		r, err := virglRenderer(f.gpu == "virgl,gles")
		if err != nil {
			return nil, nil, fmt.Errorf("--gpu %s: %w", f.gpu, err)
		}
		backend = r
	}
	if g.gpu, err = gpu.New(gpu.Options{Width: w, Height: h, MemLimit: mem, Sink: g.sink, Backend: backend}); err != nil {
		return nil, nil, withCode(exitUsage, fmt.Errorf("--gpu: %w", err))
	}
	g.keyboard, g.tablet = vinput.NewKeyboard(), vinput.NewTablet()
	devs := []machine.VirtioDevice{
		{Name: "virtio-gpu", Dev: g.gpu},
		{Name: "virtio-keyboard", Dev: g.keyboard},
		{Name: "virtio-tablet", Dev: g.tablet},
	}
	if g.sink != nil {
		if ev := g.sink.Events(); ev != nil {
			go routeInput(ev, g.keyboard, g.tablet)
		}
	}
	return g, devs, nil
}

// routeInput sends each group of window events (ended by SYN_REPORT) to the
// keyboard or to the tablet: keys to the keyboard; pointer motion, buttons
// and the wheel to the tablet.
func routeInput(events <-chan input.Event, kbd, tab *vinput.Device) {
	var group []input.Event
	toTablet := false
	for e := range events {
		group = append(group, e)
		if e.Type == input.EvAbs || e.Type == input.EvRel || e.Type == input.EvKey && e.Code >= input.BtnLeft {
			toTablet = true
		}
		if e.Type != input.EvSyn {
			continue
		}
		if toTablet {
			tab.Send(group)
		} else {
			kbd.Send(group)
		}
		group, toTablet = group[:0:0], false
	}
}

// screenshot writes scanout 0 as a PNG: what it shows, or the last thing
// it showed before the guest turned it off (at power-off).
func (g *graphics) screenshot(path string) error {
	if g == nil {
		return fmt.Errorf("no display: start govm with --gpu 2d")
	}
	const scanout = 0
	f, ok := g.gpu.Screenshot(scanout)
	if !ok {
		return display.NoFrameError(scanout)
	}
	return display.WriteFramePNG(path, f)
}

// checkGPUFlags validates --gpu and --display.
func checkGPUFlags(f *runFlags) error {
	switch f.gpu {
	case "none", "2d", "virgl", "virgl,gles":
	default:
		return withCode(exitUsage, fmt.Errorf("--gpu %q: want none, 2d, virgl or virgl,gles", f.gpu))
	}
	switch f.display {
	case displayAuto, displaySDL, displayHeadless, displayNone:
	default:
		return withCode(exitUsage, fmt.Errorf("--display %q: want sdl, headless, none or auto", f.display))
	}
	if f.screenshot != "" && f.gpu == "none" {
		return withCode(exitUsage, fmt.Errorf("--screenshot needs a display: add --gpu 2d"))
	}
	if f.screenshot != "" && !strings.HasSuffix(strings.ToLower(f.screenshot), ".png") {
		return withCode(exitUsage, fmt.Errorf("--screenshot %q: the file name must end in .png", f.screenshot))
	}
	return nil
}

// controlHandler answers the --control socket for one running machine.
type controlHandler struct {
	m   *machine.Machine
	gfx *graphics
}

func (h *controlHandler) Screenshot(path string) error { return h.gfx.screenshot(path) }
func (h *controlHandler) PowerButton() error           { return h.m.PressPowerButton() }
func (h *controlHandler) Quit()                        { h.m.Stop(exitOK, "") }

func (h *controlHandler) State() (string, error) {
	var b strings.Builder
	err := h.m.LiveState(&b)
	return b.String(), err
}

func (h *controlHandler) Stats() string {
	var b strings.Builder
	fmt.Fprintf(&b, "uptime %v\n", h.m.Uptime().Round(time.Millisecond))
	exits := h.m.LiveExits()
	kinds := make([]string, 0, len(exits))
	for k := range exits {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "exits %s %d\n", k, exits[k])
	}
	return b.String()
}

// The virgl renderer is process-wide state (one GL context thread); govm
// makes it once and keeps it across guest reboots. With a window in GL
// mode, virglShare is the window's context, set before the first boot:
// virgl's contexts join its share group and the window draws scanouts
// straight from their textures.
var (
	virglOnce  sync.Once
	virglR     *virgl.Renderer
	virglErr   error
	virglShare *virgl.SharedGL
)

func virglRenderer(gles bool) (*virgl.Renderer, error) {
	virglOnce.Do(func() {
		virglR, virglErr = virgl.New(virgl.Options{GLES: gles, Share: virglShare})
	})
	return virglR, virglErr
}

// closeVirgl shuts the renderer down, if it was made. It must run before
// the window that shares its GL goes: closing the window ends its EGL
// display, and virgl's contexts with it.
func closeVirgl() {
	virglOnce.Do(func() { virglErr = errors.New("virgl: closed") })
	if virglR != nil {
		_ = virglR.Close()
	}
}
