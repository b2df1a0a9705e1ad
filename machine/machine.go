// Package machine assembles a KVM virtual machine: guest memory, the
// in-kernel interrupt controllers, vCPU threads, the port and MMIO buses with
// the legacy devices, ACPI tables, and the kernel loaded into memory.
package machine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/govm/govm/bootparam"
	"github.com/govm/govm/kvm"
	"github.com/govm/govm/machine/acpi"
	"github.com/govm/govm/machine/legacy"
)

// Limits on what a user may ask for.
const (
	MinMemory = 16 << 20
	MaxCPUs   = acpi.MaxCPUs
	MiB       = 1 << 20
)

// Config describes a machine.
type Config struct {
	Kernel  string // bzImage, or an ELF with a PVH note
	Initrd  string // optional
	Cmdline string
	Memory  uint64 // bytes
	CPUs    int
	Console io.Writer // where the serial port's output goes (nil: discard)
	Stats   bool      // count exits by port and MMIO address too
	// Warn receives non-fatal messages (nil: discard).
	Warn io.Writer
	// Virtio devices, in order: the i-th gets MMIO window
	// VirtioMMIOBase+i*VirtioMMIOSize and GSI VirtioIRQBase+i.
	Virtio []VirtioDevice
	// VirtioCmdline also lists the virtio devices on the kernel command
	// line (virtio_mmio.device=), for kernels built without ACPI. The
	// ACPI tables always describe them; a kernel that has both would see
	// each device twice, and one without CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES
	// prints "unknown parameter 'device' ignored" for each.
	VirtioCmdline bool
	// Start is when the VMM process started, for the start-up measurement
	// (zero: when New is called).
	Start time.Time
}

// StopReason says why the machine stopped.
type StopReason int

// The ways a machine ends.
const (
	StopNone      StopReason = iota
	StopPowerOff             // the guest powered off (ACPI S5 or KVM system event)
	StopReset                // the guest asked for a reset or reboot
	StopDebugExit            // the test guest wrote a status to the debug-exit port
	StopCrash                // triple fault, internal error, failed entry
	StopRequested            // Stop was called (expect matched, timeout, Ctrl-A x, signal)
)

func (r StopReason) String() string {
	return [...]string{"running", "power off", "reset", "debug exit", "crash", "stopped"}[r]
}

// Result is how a machine ended.
type Result struct {
	Reason StopReason
	Code   int    // the debug-exit status, or the code passed to Stop
	Detail string // for a crash: the exit and the registers
}

// Machine is a configured VM, ready to Run once.
type Machine struct {
	cfg    Config
	sys    *kvm.System
	vm     *kvm.VM
	mem    *Memory
	cpus   []*vcpu
	pio    Bus
	mmio   Bus
	uart   *legacy.Serial8250
	virtio []*virtioAttached
	plan   *bootparam.Plan
	pid    int
	start  time.Time

	stopOnce sync.Once
	stopping atomic.Bool
	stopped  chan struct{} // closed when stopping is set
	result   Result
	done     chan struct{}

	// Pausing for LiveState: pauseMu makes one pause at a time; the
	// vCPUs park while pause is set. immMu orders the pause's clearing of
	// the immediate-exit flags with stop's setting them.
	pauseMu sync.Mutex
	pause   atomic.Pointer[pause]
	immMu   sync.Mutex

	marks    [3]atomic.Int64 // DebugMark timestamps (ns since start), by mark value
	firstRun atomic.Int64    // ns from New to the first KVM_RUN
}

type vcpu struct {
	cpu   *kvm.VCPU
	tid   atomic.Int32
	stats *vcpuStats
}

// Validate checks a Config without touching KVM, so the CLI can report bad
// input before anything starts.
func (c *Config) Validate() error {
	if c.Kernel == "" {
		return errors.New("no kernel given")
	}
	if c.CPUs < 1 || c.CPUs > MaxCPUs {
		return fmt.Errorf("%d vCPUs: want 1 to %d", c.CPUs, MaxCPUs)
	}
	if c.Memory < MinMemory {
		return fmt.Errorf("memory %d MiB is too small: govm needs at least %d MiB", c.Memory>>20, MinMemory>>20)
	}
	if total := hostMemory(); total > 0 && c.Memory > total {
		return fmt.Errorf("memory %d MiB is more than this host has (%d MiB)", c.Memory>>20, total>>20)
	}
	return nil
}

func hostMemory() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return si.Totalram * uint64(si.Unit)
}

// New builds the machine: VM, memory, devices, ACPI tables, kernel, vCPUs.
// The machine owns cfg.Virtio's devices from here on: Close (or a failing
// New) closes those that are io.Closers.
func New(cfg Config) (*Machine, error) {
	m, err := newMachine(cfg)
	if err != nil {
		closeDevices(cfg.Virtio)
		return nil, err
	}
	return m, nil
}

func newMachine(cfg Config) (*Machine, error) {
	start := cfg.Start
	if start.IsZero() {
		start = time.Now()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Console == nil {
		cfg.Console = io.Discard
	}
	if cfg.Warn == nil {
		cfg.Warn = io.Discard
	}
	// The kernel and initrd files stay open until setup has read them
	// into guest memory.
	k, err := bootparam.OpenKernel(cfg.Kernel)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	var initrd *io.SectionReader
	if cfg.Initrd != "" {
		f, size, err := openInitrd(cfg.Initrd, cfg.Memory)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		initrd = io.NewSectionReader(f, 0, size)
	}
	m := &Machine{cfg: cfg, pid: os.Getpid(), start: start, done: make(chan struct{}), stopped: make(chan struct{})}
	if err := m.setup(k, initrd); err != nil {
		m.cfg.Virtio = nil // closed by New
		m.Close()
		return nil, err
	}
	return m, nil
}

// setup creates the VM and loads the kernel into it; on error the caller
// closes m.
func (m *Machine) setup(k *bootparam.Kernel, initrd *io.SectionReader) (err error) {
	if m.mem, err = NewMemory(m.cfg.Memory); err != nil {
		return err
	}
	// Creating the VM is mostly waiting: KVM waits for an SRCU grace period
	// (milliseconds) on each change of the VM's IRQ routing or memory slots.
	// Lay the boot out and read the kernel and initrd into guest memory
	// meanwhile.
	created := make(chan error, 1)
	go func() { created <- m.createVM() }()
	err = m.loadBoot(k, initrd)
	if vmErr := <-created; vmErr != nil {
		return vmErr
	}
	if err != nil {
		return err
	}
	if err = m.addDevices(); err != nil {
		return err
	}
	if err = m.addVirtio(); err != nil {
		return err
	}
	return m.createVCPUs()
}

// createVM opens /dev/kvm and creates the VM, its in-kernel interrupt
// controllers and timer, and its memory slots over m.mem.
func (m *Machine) createVM() (err error) {
	if m.sys, err = kvm.Open(); err != nil {
		return err
	}
	if err = m.sys.CheckRequired(); err != nil {
		return err
	}
	if m.vm, err = m.sys.CreateVM(); err != nil {
		return err
	}
	if err = m.vm.SetTSSAddr(TSSAddr); err != nil {
		return err
	}
	if err = m.vm.SetIdentityMapAddr(IdentityMapAddr); err != nil {
		return err
	}
	if err = m.vm.CreateIRQChip(); err != nil {
		return err
	}
	if err = m.vm.CreatePIT2(); err != nil {
		return err
	}
	for i, r := range m.mem.Regions {
		if err = m.vm.SetUserMemoryRegion(uint32(i), r.GPA, r.Host); err != nil {
			return err
		}
	}
	return nil
}

// loadBoot writes the ACPI tables, plans the boot and loads the plan into
// guest memory. It needs guest memory but no KVM.
func (m *Machine) loadBoot(k *bootparam.Kernel, initrd *io.SectionReader) error {
	cfg := m.cfg
	virtioDescs, virtioCmdline, err := virtioLayout(cfg.Virtio)
	if err != nil {
		return err
	}
	rsdp, err := m.writeACPI(virtioDescs)
	if err != nil {
		return err
	}
	cmdline := cfg.Cmdline
	if cfg.VirtioCmdline {
		cmdline += virtioCmdline
	}
	m.plan, err = bootparam.Prepare(k, bootparam.Config{
		Cmdline: cmdline, Initrd: initrd, RAM: e820Map(cfg.Memory), RSDPAddr: rsdp,
		ZeroPageAddr: ZeroPageAddr, CmdlineAddr: CmdlineAddr, CmdlineMax: CmdlineMax,
		PVHInfoAddr: PVHInfoAddr, PVHMemmapAddr: PVHMemmapAddr, KernelAddr: HighMemStart,
	})
	if err != nil {
		return fmt.Errorf("kernel %q: %w", cfg.Kernel, err)
	}
	return loadSegments(m.mem, m.plan.Segments)
}

// loadSegments copies the plan into guest memory. File sections (the kernel,
// the initrd) are read straight into the guest's pages: no copy on the heap,
// and each page is touched once. The bytes past a segment's content stay as
// the fresh mapping gave them, zero.
func loadSegments(mem *Memory, segs []bootparam.Segment) error {
	for _, s := range segs {
		dst, err := mem.Slice(s.Addr, s.ContentSize())
		if err != nil {
			return fmt.Errorf("loading %s: %w", s.Name, err)
		}
		if s.File == nil {
			copy(dst, s.Data)
			continue
		}
		// ReadAt fills dst or says why not; io.EOF here means the file
		// shrank since it was parsed.
		if n, err := s.File.ReadAt(dst, 0); n < len(dst) {
			return fmt.Errorf("loading %s: read %d of %d bytes: %w", s.Name, n, len(dst), err)
		}
	}
	return nil
}

// openInitrd opens the initrd and returns it with its size, refusing a file
// that cannot fit in mem bytes of guest memory.
func openInitrd(path string, mem uint64) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("initrd: %w", err)
	}
	st, err := f.Stat()
	switch {
	case err != nil:
		err = fmt.Errorf("initrd: %w", err)
	case !st.Mode().IsRegular():
		err = fmt.Errorf("initrd %q: not a regular file", path)
	case uint64(st.Size()) >= mem:
		err = fmt.Errorf("initrd %q (%d MiB) does not fit in guest memory (%d MiB): raise --mem",
			path, st.Size()>>20, mem>>20)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// e820Map is the guest's memory map: conventional memory, the reserved
// EBDA/ACPI/BIOS area, RAM above 1 MiB, and RAM above 4 GiB if any.
func e820Map(size uint64) []bootparam.E820Entry {
	ranges := RAMRanges(size)
	low := ranges[0][1]
	m := []bootparam.E820Entry{
		{Addr: 0, Size: EBDAStart, Type: bootparam.E820RAM},
		{Addr: EBDAStart, Size: HighMemStart - EBDAStart, Type: bootparam.E820Reserved},
		{Addr: HighMemStart, Size: low - HighMemStart, Type: bootparam.E820RAM},
	}
	if len(ranges) > 1 {
		m = append(m, bootparam.E820Entry{Addr: ranges[1][0], Size: ranges[1][1], Type: bootparam.E820RAM})
	}
	return m
}

func (m *Machine) addDevices() error {
	m.uart = legacy.NewSerial8250(m.cfg.Console, func(level bool) {
		if err := m.vm.IRQLine(COM1IRQ, level); err != nil {
			fmt.Fprintf(m.cfg.Warn, "govm: serial irq: %v\n", err)
		}
	})
	power := &acpi.PowerDevice{
		OnPowerOff: func() { m.stop(Result{Reason: StopPowerOff}) },
		OnReset:    func() { m.stop(Result{Reason: StopReset}) },
		ResetValue: ACPIResetValue,
	}
	i8042 := legacy.NewI8042(func() { m.stop(Result{Reason: StopReset}) })
	exit := &legacy.DebugExit{OnExit: func(v uint32) { m.stop(Result{Reason: StopDebugExit, Code: int(v)}) }}
	mark := &legacy.DebugMark{OnMark: func(v uint32) {
		if v < uint32(len(m.marks)) {
			m.marks[v].Store(int64(time.Since(m.start)))
		}
	}}
	for _, d := range []struct {
		dev        Device
		name       string
		base, size uint64
	}{
		{m.uart, "COM1", COM1Port, 8},
		{power, "ACPI power", ACPISleepCtlPort, 3},
		{i8042, "i8042", I8042Port, I8042CmdPort - I8042Port + 1},
		{exit, "debug exit", DebugExitPort, 1},
		{mark, "bench mark", DebugMarkPort, 1},
		{legacy.Sink{}, "bench sink", BenchSinkPort, 1},
	} {
		if err := m.pio.Insert(d.dev, d.name, d.base, d.size); err != nil {
			return err
		}
	}
	return nil
}

func (m *Machine) writeACPI(virtio []acpi.MMIODevice) (uint64, error) {
	blob, rsdp, err := acpi.Build(acpi.Config{
		CPUs: m.cfg.CPUs, LAPICAddr: LAPICAddr, IOAPICAddr: IOAPICAddr,
		// Each virtio interrupt is an irqfd pulse, so the IOAPIC pin
		// must latch edges (a level pin would drop a pulse that comes
		// before the guest's EOI).
		Virtio: virtio, VirtioEdgeTriggered: true,
		SleepControlPort: ACPISleepCtlPort, SleepStatusPort: ACPISleepStsPort,
		ResetPort: ACPIResetPort, ResetValue: ACPIResetValue, COM1: true,
		// A Generic Event Device on this GSI: PressPowerButton.
		PowerButtonGSI: PowerButtonGSI,
		// No CMOS RTC: the guest takes wall-clock time from kvmclock, and
		// Linux probing an absent RTC costs tens of thousands of exits.
		NoCMOSRTC: true,
	}, ACPIStart)
	if err != nil {
		return 0, err
	}
	if _, err := m.mem.WriteAt(blob, ACPIStart); err != nil {
		return 0, fmt.Errorf("acpi: %w", err)
	}
	return rsdp, nil
}

func (m *Machine) createVCPUs() error {
	supported, err := m.sys.SupportedCPUID()
	if err != nil {
		return err
	}
	for id := 0; id < m.cfg.CPUs; id++ {
		c, err := m.vm.CreateVCPU(id)
		if err != nil {
			return err
		}
		v := &vcpu{cpu: c, stats: newVCPUStats(m.cfg.Stats)}
		m.cpus = append(m.cpus, v)
		if err := c.SetCPUID(vcpuCPUID(supported, id, m.cfg.CPUs)); err != nil {
			return err
		}
		if err := m.setMSRs(c); err != nil {
			return err
		}
		if err := setLINT(c); err != nil {
			return err
		}
		if err := c.SetFPU(kvm.FPU{FCW: fpuControlWord, MXCSR: mxcsrDefault}); err != nil {
			return err
		}
		if id == 0 {
			if err := m.setBootCPU(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// setMSRs sets the boot MSRs, dropping (with a warning) any the host's KVM
// refuses rather than failing: they are niceties, not requirements.
func (m *Machine) setMSRs(c *kvm.VCPU) error {
	for _, msr := range bootMSRs() {
		if err := c.SetMSRs([]kvm.MSR{msr}); err != nil {
			fmt.Fprintf(m.cfg.Warn, "govm: vcpu %d: MSR %#x not set: %v\n", c.ID(), msr.Index, err)
		}
	}
	return nil
}

// LAPIC local vector table registers and delivery modes.
const (
	lapicLVT0         = 0x350
	lapicLVT1         = 0x360
	lapicDeliveryMask = 0x700
	lapicModeExtINT   = 0x700
	lapicModeNMI      = 0x400
)

// setLINT wires LINT0 to the PIC (ExtINT) and LINT1 to NMI, as a PC BIOS does.
func setLINT(c *kvm.VCPU) error {
	l, err := c.LAPIC()
	if err != nil {
		return err
	}
	set := func(off int, mode uint32) {
		v := le32(l.Regs[off : off+4])
		v = v&^lapicDeliveryMask | mode
		l.Regs[off], l.Regs[off+1], l.Regs[off+2], l.Regs[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	set(lapicLVT0, lapicModeExtINT)
	set(lapicLVT1, lapicModeNMI)
	return c.SetLAPIC(l)
}

func (m *Machine) setBootCPU(c *kvm.VCPU) error {
	s, err := c.Sregs()
	if err != nil {
		return err
	}
	regs := kvm.Regs{RIP: m.plan.Entry, RFLAGS: rflagsReserved}
	switch m.plan.Mode {
	case bootparam.Entry64:
		if err := writeBootGDT(m.mem, true); err != nil {
			return err
		}
		if err := writeIdentityMap(m.mem); err != nil {
			return err
		}
		longModeSregs(&s)
		regs.RSI = m.plan.BootInfo
		regs.RSP, regs.RBP = BootStackAddr, BootStackAddr
	case bootparam.EntryPVH:
		if err := writeBootGDT(m.mem, false); err != nil {
			return err
		}
		pvhSregs(&s)
		regs.RBX = m.plan.BootInfo
	default:
		return fmt.Errorf("unknown entry mode %v", m.plan.Mode)
	}
	if err := c.SetSregs(s); err != nil {
		return err
	}
	return c.SetRegs(regs)
}

// Serial returns the COM1 UART, to feed it console input.
func (m *Machine) Serial() *legacy.Serial8250 { return m.uart }

// Memory returns the guest RAM.
func (m *Machine) Memory() *Memory { return m.mem }

// Plan returns how the kernel was loaded. Its file sections are closed:
// the bytes are in guest memory.
func (m *Machine) Plan() *bootparam.Plan { return m.plan }

// Done is closed when the machine has stopped.
func (m *Machine) Done() <-chan struct{} { return m.done }

// Stop ends the machine with reason StopRequested and code; the first stop
// wins.
func (m *Machine) Stop(code int, detail string) {
	m.stop(Result{Reason: StopRequested, Code: code, Detail: detail})
}

func (m *Machine) stop(r Result) {
	m.stopOnce.Do(func() {
		m.result = r
		m.immMu.Lock()
		m.stopping.Store(true)
		m.immMu.Unlock()
		close(m.stopped)
		m.kickAll()
	})
}

// kickAll makes every vCPU leave KVM_RUN (or not enter it): the next run
// returns at once, and a signal interrupts the current one.
func (m *Machine) kickAll() {
	for _, v := range m.cpus {
		v.cpu.SetImmediateExit(true)
		if tid := v.tid.Load(); tid != 0 {
			// Any signal interrupts KVM_RUN with EINTR. SIGURG is one
			// the Go runtime always handles and otherwise ignores.
			_ = unix.Tgkill(m.pid, int(tid), unix.SIGURG)
		}
	}
}

// Run starts every vCPU and blocks until the machine stops.
func (m *Machine) Run() Result {
	var wg sync.WaitGroup
	for _, v := range m.cpus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.runVCPU(v)
		}()
	}
	wg.Wait()
	close(m.done)
	return m.result
}

func (m *Machine) runVCPU(v *vcpu) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	v.tid.Store(int32(unix.Gettid()))
	m.firstRun.CompareAndSwap(0, int64(time.Since(m.start)))
	for !m.stopping.Load() {
		e, err := v.cpu.Run()
		if err != nil {
			m.stop(Result{Reason: StopCrash, Detail: fmt.Sprintf("vcpu %d: %v", v.cpu.ID(), err)})
			return
		}
		switch handleExit(&m.pio, &m.mmio, e, v.stats) {
		case actPowerOff:
			m.stop(Result{Reason: StopPowerOff})
		case actReset:
			m.stop(Result{Reason: StopReset})
		case actCrash:
			m.stop(Result{Reason: StopCrash, Detail: m.crashReport(v, e)})
		}
		// A LiveState pause kicks every vCPU out as a stop does (kickAll),
		// so it is looked for only after such an exit, not after each one.
		if e.Kind == kvm.ExitInterrupted {
			if p := m.pause.Load(); p != nil {
				m.park(p)
			}
		}
	}
}

func (m *Machine) crashReport(v *vcpu, e kvm.Exit) string {
	what := e.String()
	if e.Kind == kvm.ExitShutdown {
		what = "triple fault (shutdown exit)"
	}
	r, err1 := v.cpu.Regs()
	s, err2 := v.cpu.Sregs()
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Sprintf("vcpu %d: %s (registers unavailable: %v)", v.cpu.ID(), what, err)
	}
	regs := describeRegs(r, s)
	if e.Kind == kvm.ExitShutdown && r.RIP == resetRIP && s.CS.Base == resetCSBase {
		regs += "\n(these are the reset state: KVM on AMD re-initialises a vCPU when the guest triple-faults, " +
			"so the faulting registers are lost; the guest's console log shows what it did last)"
	}
	return fmt.Sprintf("vcpu %d: %s\n%s", v.cpu.ID(), what, regs)
}

// An x86 CPU comes out of reset at CS base 0xffff0000, IP 0xfff0.
const (
	resetRIP    = 0xfff0
	resetCSBase = 0xffff0000
)

// Stats merges the vCPUs' exit counters; call it after Run returns.
func (m *Machine) Stats() Stats { return mergeStats(m.statsList()) }

func (m *Machine) statsList() []*vcpuStats {
	l := make([]*vcpuStats, len(m.cpus))
	for i, v := range m.cpus {
		l[i] = v.stats
	}
	return l
}

// Timing reports start-up and benchmark marks.
type Timing struct {
	FirstRun  time.Duration // from New to the first KVM_RUN
	MarkBegin time.Duration // DebugMark 1, from New (0 if never written)
	MarkEnd   time.Duration // DebugMark 2
}

// Timing returns the machine's timestamps.
func (m *Machine) Timing() Timing {
	return Timing{
		FirstRun:  time.Duration(m.firstRun.Load()),
		MarkBegin: time.Duration(m.marks[legacy.MarkBegin].Load()),
		MarkEnd:   time.Duration(m.marks[legacy.MarkEnd].Load()),
	}
}

// Close releases the vCPUs, the VM and guest memory.
func (m *Machine) Close() error {
	var errs []error
	errs = append(errs, m.closeVirtio())
	for _, v := range m.cpus {
		errs = append(errs, v.cpu.Close())
	}
	m.cpus = nil
	if m.vm != nil {
		errs = append(errs, m.vm.Close())
		m.vm = nil
	}
	if m.sys != nil {
		errs = append(errs, m.sys.Close())
		m.sys = nil
	}
	if m.mem != nil {
		errs = append(errs, m.mem.Close())
		m.mem = nil
	}
	return errors.Join(errs...)
}
