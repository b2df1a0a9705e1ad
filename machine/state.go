package machine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/govm/govm/kvm"
)

// WriteState describes what the guest was doing when the machine stopped:
// each vCPU's run state, instruction pointer and interrupt state (local
// APIC), the IOAPIC pins govm uses, and each virtio device's rings. It
// answers "why did the guest hang?" (a halted vCPU with nothing pending,
// a request the device never took, an interrupt nobody acknowledged).
// Call it after Run has returned, before Close.
func (m *Machine) WriteState(w io.Writer) {
	m.writeState(w, "govm: the machine's state when it stopped:")
}

func (m *Machine) writeState(w io.Writer, header string) {
	fmt.Fprintln(w, header)
	for _, v := range m.cpus {
		m.writeVCPUState(w, v)
	}
	m.writeIOAPICState(w)
	for i, a := range m.virtio {
		base, gsi := virtioSlot(i)
		fmt.Fprintf(w, "  %s (virtio-mmio at %#x, GSI %d):\n", a.name, base, gsi)
		a.transport.State().Write(w, "    ")
	}
}

var mpStateNames = map[uint32]string{
	kvm.MPStateRunnable:      "running",
	kvm.MPStateUninitialized: "not started (waiting for INIT/SIPI)",
	kvm.MPStateInitReceived:  "INIT received",
	kvm.MPStateHalted:        "halted (HLT: waiting for an interrupt)",
	kvm.MPStateSIPIReceived:  "SIPI received",
}

// Local APIC register offsets (Intel SDM vol. 3, table 11-1).
const (
	apicTPR   = 0x80
	apicISR   = 0x100
	apicIRR   = 0x200
	apicLVTT  = 0x320
	apicTMICT = 0x380
	apicTMCCT = 0x390

	msrTSCDeadline = 0x6e0
	rflagsIF       = 1 << 9
)

func (m *Machine) writeVCPUState(w io.Writer, v *vcpu) {
	id := v.cpu.ID()
	st := "unknown"
	if s, err := v.cpu.MPState(); err == nil {
		if n, ok := mpStateNames[s]; ok {
			st = n
		} else {
			st = fmt.Sprintf("MP state %d", s)
		}
	}
	fmt.Fprintf(w, "  vcpu %d: %s", id, st)
	r, errR := v.cpu.Regs()
	if errR == nil {
		fmt.Fprintf(w, ", rip %#x, interrupts %s", r.RIP, onOff(r.RFLAGS&rflagsIF != 0, "enabled", "disabled"))
	}
	s, errS := v.cpu.Sregs()
	if errS == nil {
		fmt.Fprintf(w, ", ring %d", s.CS.Selector&3)
	}
	var total uint64
	for k := range v.stats.kinds {
		total += v.stats.kinds[k].Load()
	}
	fmt.Fprintf(w, ", exits so far: %d\n", total)
	if errR == nil && errS == nil {
		fmt.Fprintf(w, "    code at rip: %s\n", m.codeAt(s, r.RIP))
	}
	if l, err := v.cpu.LAPIC(); err == nil {
		fmt.Fprintf(w, "    local APIC: %s\n", describeLAPIC(&l, v.cpu))
	}
}

func onOff(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// describeLAPIC says which vectors are pending (IRR) and in service (ISR),
// the task priority, and whether the timer is armed.
func describeLAPIC(l *kvm.LAPICState, c *kvm.VCPU) string {
	reg := func(off int) uint32 { return binary.LittleEndian.Uint32(l.Regs[off:]) }
	vectors := func(base int) string {
		var vs []string
		for i := 0; i < 8; i++ {
			bits := reg(base + 0x10*i)
			for b := 0; b < 32; b++ {
				if bits&(1<<b) != 0 {
					vs = append(vs, fmt.Sprintf("%#x", i*32+b))
				}
			}
		}
		if len(vs) == 0 {
			return "none"
		}
		return strings.Join(vs, " ")
	}
	s := fmt.Sprintf("pending vectors %s, in service %s, TPR %#x, timer ", vectors(apicIRR), vectors(apicISR), reg(apicTPR)&0xff)
	lvtt := reg(apicLVTT)
	switch mode := lvtt >> 17 & 3; {
	case lvtt&(1<<16) != 0:
		s += "masked"
	case mode == 2: // TSC deadline
		d := []kvm.MSR{{Index: msrTSCDeadline}}
		if err := c.MSRs(d); err != nil || d[0].Data == 0 {
			s += "TSC-deadline, not armed"
		} else {
			s += fmt.Sprintf("TSC-deadline, armed (deadline %#x)", d[0].Data)
		}
	default:
		s += fmt.Sprintf("%s, count %d of %d", onOff(mode == 1, "periodic", "one-shot"), reg(apicTMCCT), reg(apicTMICT))
	}
	return s + fmt.Sprintf(" (vector %#x)", lvtt&0xff)
}

// writeIOAPICState lists the IOAPIC pins that have a line asserted or
// latched, or are routed (unmasked).
func (m *Machine) writeIOAPICState(w io.Writer) {
	st, err := m.vm.IOAPIC()
	if err != nil {
		fmt.Fprintf(w, "  IOAPIC: unreadable: %v\n", err)
		return
	}
	names := map[uint32]string{COM1IRQ: "COM1", PowerButtonGSI: "power button"}
	for i, a := range m.virtio {
		_, gsi := virtioSlot(i)
		names[gsi] = a.name
	}
	var pins []string
	for pin := uint32(0); pin < kvm.IOAPICPins; pin++ {
		e := st.Redirect[pin]
		irr := st.IRR&(1<<pin) != 0
		masked := e&(1<<16) != 0
		if masked && !irr {
			continue
		}
		p := fmt.Sprintf("%d", pin)
		if n, ok := names[pin]; ok {
			p += " (" + n + ")"
		}
		p += fmt.Sprintf(": vector %#x %s", e&0xff, onOff(e&(1<<15) != 0, "level", "edge"))
		if masked {
			p += " masked"
		}
		if irr {
			p += ", line asserted/latched"
		}
		if e&(1<<14) != 0 {
			p += ", awaiting EOI"
		}
		pins = append(pins, p)
	}
	if len(pins) == 0 {
		fmt.Fprintf(w, "  IOAPIC: every pin masked, none asserted\n")
		return
	}
	fmt.Fprintf(w, "  IOAPIC pins: %s\n", strings.Join(pins, "; "))
}

// x86-64 paging (Intel SDM vol. 3, 4.5): what translate needs.
const (
	pteAddrMask = 0x000ffffffffff000
	cr4LA57     = 1 << 12
	codeBytes   = 16
)

// translate walks the guest's 4- or 5-level page tables from CR3 to turn
// the virtual address va into a guest-physical one. It handles long mode
// only (the state report's use); elsewhere it gives up.
func (m *Machine) translate(s kvm.Sregs, va uint64) (uint64, error) {
	if s.CR0&cr0PG == 0 {
		return va, nil // paging off: virtual is physical
	}
	if s.EFER&eferLMA == 0 {
		return 0, fmt.Errorf("not in long mode")
	}
	levels := 4
	if s.CR4&cr4LA57 != 0 {
		levels = 5
	}
	table := s.CR3 & pteAddrMask
	for level := levels; level >= 1; level-- {
		shift := 12 + 9*uint(level-1)
		b, err := m.mem.Slice(table+8*(va>>shift&0x1ff), 8)
		if err != nil {
			return 0, err
		}
		e := binary.LittleEndian.Uint64(b)
		if e&pteP == 0 {
			return 0, fmt.Errorf("not mapped (level %d entry %#x)", level, e)
		}
		if level == 1 || (level <= 3 && e&ptePS != 0) {
			return e&pteAddrMask&^(1<<shift-1) | va&(1<<shift-1), nil
		}
		table = e & pteAddrMask
	}
	return 0, fmt.Errorf("page walk did not end")
}

// codeAt is the guest's instruction bytes at rip, in hex, or why not.
func (m *Machine) codeAt(s kvm.Sregs, rip uint64) string {
	gpa, err := m.translate(s, rip)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	// Stay inside the page: the next one may map elsewhere.
	n := min(codeBytes, 0x1000-rip&0xfff)
	b, err := m.mem.Slice(gpa, n)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return fmt.Sprintf("% x (guest-physical %#x)", b, gpa)
}

// ErrStopped is LiveState's answer once the machine is stopping.
var ErrStopped = errors.New("the machine has stopped")

// LiveState pauses the running machine's vCPUs, writes WriteState's
// report to w, and lets them go on: a look at what the guest is doing
// now, for `govm ctl state`. The guest loses the time the report takes
// (a few milliseconds). It fails with ErrStopped if the machine stops
// first.
func (m *Machine) LiveState(w io.Writer) error {
	m.pauseMu.Lock()
	defer m.pauseMu.Unlock()
	if m.stopping.Load() {
		return ErrStopped
	}
	p := &pause{parked: make(chan struct{}, len(m.cpus)), resume: make(chan struct{})}
	m.pause.Store(p)
	m.kickAll()
	defer m.unpause(p)
	for range m.cpus {
		select {
		case <-p.parked:
		case <-m.stopped:
			return ErrStopped
		}
	}
	m.writeState(w, fmt.Sprintf("govm: the machine's state at %v of uptime (vCPUs paused for this look):",
		m.Uptime().Round(time.Millisecond)))
	return nil
}

// pause is one LiveState pause: each vCPU that sees it sends on parked
// (buffered: never blocks) and waits for resume.
type pause struct {
	parked chan struct{}
	resume chan struct{}
}

// unpause clears the immediate-exit flags the pause set (unless the
// machine is stopping, which needs them) and releases the vCPUs.
func (m *Machine) unpause(p *pause) {
	m.immMu.Lock()
	if !m.stopping.Load() {
		for _, v := range m.cpus {
			v.cpu.SetImmediateExit(false)
		}
	}
	m.immMu.Unlock()
	m.pause.Store(nil)
	close(p.resume)
}

// park holds a vCPU, out of KVM_RUN, until pause p ends or the machine
// stops.
func (m *Machine) park(p *pause) {
	p.parked <- struct{}{}
	select {
	case <-p.resume:
	case <-m.stopped:
	}
}
