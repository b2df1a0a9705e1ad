package main

import (
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

// graphics is the guest's screen and input: the virtio-gpu device, the
// headless frame buffer that screenshots come from, and the keyboard and
// tablet that window events go to.
type graphics struct {
	gpu      *gpu.Device
	headless *display.Headless
	keyboard *vinput.Device
	tablet   *vinput.Device
	sink     gpu.Sink
}

// newGraphics builds the GPU for --gpu 2d. win, if not nil, is the SDL
// window; frames also always go to a headless buffer, for screenshots.
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
	g := &graphics{headless: display.NewHeadless()}
	sinks := []gpu.Sink{g.headless}
	if win != nil {
		sinks = append(sinks, win)
	}
	g.sink = display.Multi(sinks...)
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
	if ev := g.sink.Events(); ev != nil {
		go routeInput(ev, g.keyboard, g.tablet)
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

// screenshot writes scanout 0 as a PNG.
func (g *graphics) screenshot(path string) error {
	if g == nil {
		return fmt.Errorf("no display: start govm with --gpu 2d")
	}
	if err := g.headless.WritePNG(path, 0); err != nil {
		return err
	}
	return nil
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
// makes it once and keeps it across guest reboots.
var (
	virglOnce sync.Once
	virglR    *virgl.Renderer
	virglErr  error
)

func virglRenderer(gles bool) (*virgl.Renderer, error) {
	virglOnce.Do(func() { virglR, virglErr = virgl.New(virgl.Options{GLES: gles}) })
	return virglR, virglErr
}
