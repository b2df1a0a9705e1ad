package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/govm/govm/devices/gpu"
	"github.com/govm/govm/devices/gpu/display"
	"github.com/govm/govm/devices/gpu/display/sdl"
	"github.com/govm/govm/devices/gpu/virgl"
	"github.com/govm/govm/machine"
	"github.com/govm/govm/machine/console"
	"github.com/govm/govm/machine/control"
)

const (
	defaultAppend       = "console=ttyS0 panic=-1"
	defaultAppendVirtio = "console=hvc0 panic=-1"
)

type runFlags struct {
	kernel, initrd, appendLine string
	mem                        string
	cpus                       int
	consoleLog                 string
	expect                     string
	timeout                    time.Duration
	stats                      bool
	onReboot                   string
	quiet                      bool
	disks, nets                []string
	console                    string
	rng, virtioCmdline         bool
	gpu, display, resolution   string
	gpuMem, screenshot         string
	control                    string
}

func runCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run --kernel IMAGE [flags]",
		Short: "Boot a kernel in a new virtual machine",
		Long: `run boots a kernel (a Linux bzImage, or an ELF image with a PVH entry note)
with its serial console (COM1, ttyS0) on your terminal. Press Ctrl-A x to
quit, Ctrl-A h for help.

For CI, --expect waits for a line on the console, --timeout bounds the run,
and --console-log keeps a copy of everything the guest printed.

Send govm SIGPWR to press the guest's ACPI power button (kill -PWR PID): a
guest that handles it powers off, and govm exits 0.

Exit status:
  0  the guest powered off (or rebooted), or --expect matched
  1  govm could not start or run the VM (bad kernel, no /dev/kvm, ...)
  2  bad command line
  3  --timeout expired (govm then says what each vCPU and virtio queue was doing)
  4  the guest crashed (triple fault, KVM internal error); registers are printed
  5  the guest stopped before --expect matched
  N  the test guest's own status, written to the debug-exit port 0xf4`,
		Example: `  # Boot a kernel and an initramfs, console on this terminal
  govm run --kernel bzImage --initrd initrd.img --mem 1G --cpus 2

  # CI smoke test: succeed when the marker appears, fail after 60 s
  govm run --kernel bzImage --initrd initrd.img \
      --expect 'GOVM-GUEST-READY' --timeout 60s --console-log boot.log

  # What did the guest make the hypervisor do?
  govm run --kernel bzImage --initrd initrd.img --append 'console=ttyS0 govm.poweroff' --stats`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return run(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kernel, "kernel", "", "kernel image: bzImage or PVH ELF (required)")
	fl.StringVar(&f.initrd, "initrd", "", "initial ramdisk")
	fl.StringVar(&f.appendLine, "append", defaultAppend, "kernel command line")
	fl.StringVar(&f.mem, "mem", "512M", "guest memory: MiB, or with a unit (512M, 2G)")
	fl.IntVar(&f.cpus, "cpus", 1, "number of vCPUs")
	fl.StringVar(&f.consoleLog, "console-log", "", "also write the guest console to `FILE`")
	fl.StringVar(&f.expect, "expect", "", "stop and exit 0 when the console shows a match for `REGEX`")
	fl.DurationVar(&f.timeout, "timeout", 0, "stop and exit 3 after `DURATION` (e.g. 90s, 5m); 0 means none")
	fl.BoolVar(&f.stats, "stats", false, "when the VM ends, print exits by kind and the busiest ports and MMIO addresses")
	fl.StringVar(&f.onReboot, "on-reboot", "exit", "what a guest reboot does: exit (status 0) or restart")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "do not copy the guest console to stdout")
	fl.StringArrayVar(&f.disks, "disk", nil, "virtio-blk disk: `PATH[,ro][,id=SERIAL]`, a raw image; repeatable (vda, vdb, ...)")
	fl.StringArrayVar(&f.nets, "net", nil, "virtio-net on a tap device: `tap=NAME[,mac=MAC]`; repeatable")
	fl.StringVar(&f.console, "console", "serial", "the console the guest uses: serial (COM1, ttyS0) or virtio (hvc0)")
	fl.BoolVar(&f.rng, "rng", true, "give the guest a virtio-rng entropy source")
	fl.BoolVar(&f.virtioCmdline, "virtio-cmdline", false, "also list the virtio devices on the kernel command line (virtio_mmio.device=), for kernels built without ACPI")
	fl.StringVar(&f.gpu, "gpu", "none", "the guest's graphics (virtio-gpu, with a virtio keyboard and tablet): none, 2d, virgl (OpenGL through the host's GL), or virgl,gles (through OpenGL ES)")
	fl.StringVar(&f.display, "display", displayAuto, "where the guest's screen goes: sdl (a window), headless, none; auto picks sdl when $DISPLAY is set")
	fl.StringVar(&f.resolution, "resolution", "1280x800", "the guest display's preferred mode, `WxH`")
	fl.StringVar(&f.gpuMem, "gpu-mem", "", "host memory the GPU may spend on the guest's resources (default 256M, 1G with virgl)")
	fl.StringVar(&f.screenshot, "screenshot", "", "write the guest's screen to `FILE.png` when the VM ends (--expect matched, timeout, power off)")
	fl.StringVar(&f.control, "control", "", "listen on a Unix socket `PATH` for commands while the VM runs (see 'govm ctl --help')")
	return cmd
}

func run(cmd *cobra.Command, f runFlags) error {
	if f.kernel == "" {
		return withCode(exitUsage, errors.New("--kernel is required (see 'govm run --help')"))
	}
	if f.console != "serial" && f.console != "virtio" {
		return withCode(exitUsage, fmt.Errorf("--console %q: want serial or virtio", f.console))
	}
	if f.console == "virtio" && !cmd.Flags().Changed("append") {
		f.appendLine = defaultAppendVirtio
	}
	if err := checkGPUFlags(&f); err != nil {
		return err
	}
	f.display = pickDisplay(f.display)
	if f.onReboot != "exit" && f.onReboot != "restart" {
		return withCode(exitUsage, fmt.Errorf("--on-reboot %q: want exit or restart", f.onReboot))
	}
	mem, err := parseSize(f.mem)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--mem: %w", err))
	}
	if f.timeout < 0 {
		return withCode(exitUsage, fmt.Errorf("--timeout %v: must not be negative", f.timeout))
	}
	var re *regexp.Regexp
	if f.expect != "" {
		if re, err = regexp.Compile(f.expect); err != nil {
			return withCode(exitUsage, fmt.Errorf("--expect: %w", err))
		}
	}
	cfg := machine.Config{
		Kernel: f.kernel, Initrd: f.initrd, Cmdline: f.appendLine,
		Memory: mem, CPUs: f.cpus, Stats: f.stats, Warn: os.Stderr, Start: processStart,
		VirtioCmdline: f.virtioCmdline,
	}
	if err := cfg.Validate(); err != nil {
		return withCode(exitUsage, err)
	}

	// The console: stdout, the log file, the expect watcher.
	var out io.Writer = os.Stdout
	if f.quiet {
		out = io.Discard
	}
	tee, err := console.NewTee(out, f.consoleLog, func(err error) {
		fmt.Fprintf(os.Stderr, "\r\ngovm: %v (console log stopped)\r\n", err)
	})
	if err != nil {
		return fmt.Errorf("--console-log: %w", err)
	}
	defer tee.Close()
	cfg.Console = tee
	var exp *console.Expect
	if re != nil {
		exp = console.NewExpect(re)
		cfg.Console = fanout{tee, exp}
	}

	// Raw terminal for the guest's console, restored on every way out.
	restore := func() error { return nil }
	interactive := console.IsTerminal(int(os.Stdin.Fd()))
	if interactive {
		if restore, err = console.MakeRaw(int(os.Stdin.Fd())); err != nil {
			return err
		}
	}
	defer restore()

	sess := &session{f: f, exp: exp, interactive: interactive}
	if f.gpu != "none" && f.display == displaySDL {
		return sess.withWindow(func() error { return sess.loop(cfg, tee, restore) })
	}
	return sess.loop(cfg, tee, restore)
}

// session is one `govm run`: one or more boots (with --on-reboot restart).
type session struct {
	f           runFlags
	exp         *console.Expect
	interactive bool
	win         *sdl.Window // the window, with --display sdl
}

// withWindow opens the SDL window and runs its event loop on this, the
// main, goroutine (SDL requires it) while vm runs the VM on another.
func (s *session) withWindow(vm func() error) error {
	w, h, err := display.ParseResolution(s.f.resolution)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--resolution: %w", err))
	}
	o := sdl.Options{Title: "govm: " + filepath.Base(s.f.kernel), Width: w, Height: h}
	if strings.HasPrefix(s.f.gpu, "virgl") {
		// GL mode: virgl renders into textures the window draws.
		o.GL, o.GLES = true, s.f.gpu == "virgl,gles"
		s.win, err = sdl.New(o)
		if err != nil {
			fmt.Fprintf(os.Stderr, "govm: window: %v; frames will be copied through the CPU\n", err)
		} else {
			sh, _ := s.win.SharedGL()
			virglShare = &virgl.SharedGL{Display: sh.Display, Config: sh.Config, Context: sh.Context, GLES: sh.GLES}
		}
		o.GL, o.GLES = false, false
	}
	if s.win == nil {
		if s.win, err = sdl.New(o); err != nil {
			return fmt.Errorf("--display sdl: %w", err)
		}
	}
	defer s.win.Close()
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(done)
		errc <- vm()
	}()
	if err := s.win.Run(done); err != nil && !errors.Is(err, sdl.ErrForceQuit) {
		fmt.Fprintf(os.Stderr, "\r\ngovm: window: %v\r\n", err)
	}
	// The window is gone (closed twice, or broken) or the VM ended; in the
	// first cases the VM loop notices through Closed and stops the VM.
	err = <-errc
	closeVirgl()
	return err
}

func (s *session) loop(cfg machine.Config, tee *console.Tee, restore func() error) error {
	for {
		res, stats, timing, err := s.boot(cfg)
		if err != nil {
			return err
		}
		if res.Reason == machine.StopReset && s.f.onReboot == "restart" {
			fmt.Fprintln(os.Stderr, "\r\ngovm: guest rebooted; restarting")
			continue
		}
		restore()
		tee.Close()
		if s.f.stats {
			stats.WriteTo(os.Stderr)
			printTiming(os.Stderr, stats, timing)
			if g := res.gpu; g != nil {
				if g.Textures+g.Frames == 0 {
					fmt.Fprintf(os.Stderr, "gpu: %d scanout flushes, none copied (no window)\n", g.Flushes)
				} else {
					fmt.Fprintf(os.Stderr, "gpu: %d scanout flushes: %d shown as GL textures (no copy), %d read back as pixels\n",
						g.Flushes, g.Textures, g.Frames)
				}
			}
		}
		return errors.Join(outcome(res.Result, s.f, s.exp), res.screenshotErr)
	}
}

// bootResult is how one boot ended.
type bootResult struct {
	machine.Result
	screenshotErr error
	gpu           *gpu.PresentStats // with --gpu
}

// forceStopAfter is how long a guest gets to power off after the window
// was closed (the ACPI power button was pressed) before govm stops it.
const forceStopAfter = 15 * time.Second

// boot runs one machine to its end.
func (s *session) boot(cfg machine.Config) (bootResult, machine.Stats, machine.Timing, error) {
	f := s.f
	// Catch the stop signals before anything is opened (a disk is locked
	// from here on): one that comes before the guest runs stops it at once,
	// and the clean-up below still runs.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	devs, vc, err := openDevices(f, cfg.Console)
	if err != nil {
		return bootResult{}, machine.Stats{}, machine.Timing{}, err
	}
	var gfx *graphics
	if f.gpu != "none" {
		var win gpu.Sink
		if s.win != nil {
			win = s.win
		}
		var gdevs []machine.VirtioDevice
		if gfx, gdevs, err = newGraphics(f, win); err != nil {
			closeAll(devs)
			return bootResult{}, machine.Stats{}, machine.Timing{}, err
		}
		devs = append(devs, gdevs...)
	}
	cfg.Virtio = devs
	m, err := machine.New(cfg)
	if err != nil {
		return bootResult{}, machine.Stats{}, machine.Timing{}, err
	}
	defer m.Close()

	var ctl *control.Server
	if f.control != "" {
		if ctl, err = control.Listen(f.control, &controlHandler{m: m, gfx: gfx}); err != nil {
			return bootResult{}, machine.Stats{}, machine.Timing{}, fmt.Errorf("--control: %w", err)
		}
		defer ctl.Close()
	}

	var in inputSink = m.Serial()
	if vc != nil {
		in = vc
	}
	go forwardInput(m, in, s.interactive)
	// SIGPWR (Linux's "power failure" signal) presses the guest's ACPI
	// power button: the guest shuts down on its own terms.
	power := make(chan os.Signal, 1)
	signal.Notify(power, unix.SIGPWR)
	defer signal.Stop(power)
	var timeout <-chan time.Time
	if f.timeout > 0 {
		t := time.NewTimer(f.timeout)
		defer t.Stop()
		timeout = t.C
	}
	var matched <-chan struct{}
	if s.exp != nil {
		matched = s.exp.Matched()
	}
	var windowClosed <-chan struct{}
	if s.win != nil {
		windowClosed = s.win.Closed()
	}
	var forceStop <-chan time.Time
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		for {
			select {
			case <-m.Done():
			case <-power:
				if err := m.PressPowerButton(); err != nil {
					fmt.Fprintf(os.Stderr, "\r\ngovm: %v\r\n", err)
				}
				continue
			case <-windowClosed:
				// Like a PC's power button: the guest shuts down
				// cleanly, and govm exits when it powers off.
				windowClosed = nil
				if err := m.PressPowerButton(); err != nil {
					fmt.Fprintf(os.Stderr, "\r\ngovm: %v\r\n", err)
				}
				forceStop = time.After(forceStopAfter)
				continue
			case <-forceStop:
				m.Stop(exitOK, fmt.Sprintf("the guest did not power off within %v of the window closing; stopped it", forceStopAfter))
			case sig := <-sigs:
				sn := sig.(syscall.Signal)
				m.Stop(128+int(sn), "stopped by signal "+unix.SignalName(sn))
			case <-timeout:
				m.Stop(exitTimeout, fmt.Sprintf("timeout: the guest ran for %v", f.timeout)+expectHint(f))
			case <-matched:
				m.Stop(exitOK, "")
			}
			return
		}
	}()
	res := bootResult{Result: m.Run()}
	<-watcher // it may be pressing the power button: Close must wait
	if res.Reason == machine.StopRequested && res.Code == exitTimeout {
		// Why did the guest not finish? Say what it was doing.
		m.WriteState(os.Stderr)
	}
	if f.screenshot != "" {
		if err := gfx.screenshot(f.screenshot); err != nil {
			res.screenshotErr = withCode(exitError, fmt.Errorf("--screenshot: %w", err))
		}
	}
	if gfx != nil {
		st := gfx.gpu.PresentStats()
		res.gpu = &st
	}
	if ctl != nil {
		ctl.Close()
	}
	st, t := m.Stats(), m.Timing()
	if err := m.Close(); err != nil {
		// For example a disk whose final flush failed: the guest's data
		// may not be on disk, which the user must hear about.
		return res, st, t, fmt.Errorf("closing the VM: %w", err)
	}
	return res, st, t, nil
}

func expectHint(f runFlags) string {
	if f.expect == "" {
		return ""
	}
	return fmt.Sprintf(" without the console showing %q", f.expect)
}

// forwardInput copies stdin to the guest's serial port. On a terminal it
// handles the Ctrl-A escapes; Ctrl-A x stops the VM.
func forwardInput(m *machine.Machine, sink inputSink, interactive bool) {
	var esc console.Escape
	buf := make([]byte, 256)
	for {
		n, err := os.Stdin.Read(buf)
		if n > 0 {
			in := buf[:n]
			if interactive {
				var quit, help bool
				in, quit, help = esc.Filter(in)
				if help {
					console.PrintHelp(os.Stderr)
				}
				if quit {
					m.Stop(exitOK, "")
					return
				}
			}
			for len(in) > 0 {
				k := sink.Enqueue(in)
				in = in[k:]
				if k == 0 {
					select {
					case <-m.Done():
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// outcome turns how the machine ended into govm's exit status.
func outcome(r machine.Result, f runFlags, exp *console.Expect) error {
	switch r.Reason {
	case machine.StopPowerOff, machine.StopReset:
		if exp != nil && !matchedYet(exp) {
			return withCode(exitNoMatch, fmt.Errorf("the guest %s before the console showed %q", verb(r.Reason), f.expect))
		}
		return nil
	case machine.StopDebugExit:
		if r.Code == 0 {
			return nil
		}
		return withCode(r.Code&0xff, errors.New(""))
	case machine.StopCrash:
		return withCode(exitCrash, fmt.Errorf("guest crashed: %s", r.Detail))
	case machine.StopRequested:
		if r.Code == exitOK {
			return nil
		}
		return withCode(r.Code, errors.New(r.Detail))
	}
	return withCode(exitError, fmt.Errorf("machine stopped: %v", r.Reason))
}

func verb(r machine.StopReason) string {
	if r == machine.StopReset {
		return "rebooted"
	}
	return "powered off"
}

// fanout writes console output to each writer; the guest never sees an error.
type fanout []io.Writer

func (w fanout) Write(p []byte) (int, error) {
	for _, x := range w {
		x.Write(p)
	}
	return len(p), nil
}

func matchedYet(e *console.Expect) bool {
	select {
	case <-e.Matched():
		return true
	default:
		return false
	}
}

// printTiming reports start-up cost and, when the test guest wrote benchmark
// marks, the exit rate between them.
func printTiming(w io.Writer, st machine.Stats, t machine.Timing) {
	fmt.Fprintf(w, "startup: %.2f ms from process start to the first KVM_RUN\n", float64(t.FirstRun)/1e6)
	if t.MarkBegin > 0 && t.MarkEnd > t.MarkBegin {
		n := st.Ports[machine.BenchSinkPort] + st.MMIO[machine.BenchMMIOAddr]
		d := (t.MarkEnd - t.MarkBegin).Seconds()
		fmt.Fprintf(w, "bench: %d exits in %.3f s between marks = %.0f exits/s\n", n, d, float64(n)/d)
	}
}
