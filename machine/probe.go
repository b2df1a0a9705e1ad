package machine

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/govm/govm/kvm"
)

// Ring0Verdict says whether this host's KVM runs guest kernel code natively.
type Ring0Verdict string

// The verdicts Probe can reach.
const (
	Ring0Native   Ring0Verdict = "native"
	Ring0Emulated Ring0Verdict = "emulated"
)

// probe loop parameters: a real-mode `dec ecx; jnz` loop, then OUT. On
// hardware virtualisation the loop runs at hundreds of millions of iterations
// a second; an instruction emulator manages about a million.
const (
	probeIterations = 300000
	probePort       = 0x80
	probeCodeAddr   = 0x1000
	probeMemSize    = 0x10000
	// nativeThreshold is the rate (iterations/s) above which ring-0 code
	// counts as native. The emulated rate measured here is ~0.6 M/s, nested
	// SVM under TCG ~237 M/s, bare metal several G/s.
	nativeThreshold = 20e6
)

// Ring0Probe is the result of MeasureRing0.
type Ring0Probe struct {
	Iterations int
	Elapsed    time.Duration
	Rate       float64 // iterations per second
	Verdict    Ring0Verdict
}

func (p Ring0Probe) String() string {
	return fmt.Sprintf("%s (%.1f M iterations/s of a ring-0 loop, %d iterations in %v)",
		p.Verdict, p.Rate/1e6, p.Iterations, p.Elapsed.Round(time.Microsecond))
}

// probeRuns is how many times the loop runs; the fastest counts. The first
// run in a fresh VM can be slow for reasons that are not emulation (page
// faults, a busy host), so one run alone can misjudge a real KVM.
const probeRuns = 3

// MeasureRing0 runs a tight loop in a guest's real mode (ring 0) on sys a
// few times and keeps the fastest.
func MeasureRing0(sys *kvm.System) (Ring0Probe, error) {
	var best Ring0Probe
	for i := 0; i < probeRuns; i++ {
		p, err := measureRing0Once(sys)
		if err != nil {
			return Ring0Probe{}, err
		}
		if p.Rate > best.Rate {
			best = p
		}
		if best.Verdict == Ring0Native {
			break // conclusive: an emulator is never this fast
		}
	}
	return best, nil
}

func measureRing0Once(sys *kvm.System) (Ring0Probe, error) {
	vm, err := sys.CreateVM()
	if err != nil {
		return Ring0Probe{}, err
	}
	defer vm.Close()
	mem, err := unix.Mmap(-1, 0, probeMemSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return Ring0Probe{}, err
	}
	defer unix.Munmap(mem)
	n := uint32(probeIterations)
	code := []byte{
		0x66, 0xb9, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), // mov ecx, n
		0x66, 0x49, // dec ecx
		0x75, 0xfc, // jnz -4
		0xe6, probePort, // out 0x80, al
		0xf4, // hlt
	}
	copy(mem[probeCodeAddr:], code)
	if err := vm.SetUserMemoryRegion(0, 0, mem); err != nil {
		return Ring0Probe{}, err
	}
	cpu, err := vm.CreateVCPU(0)
	if err != nil {
		return Ring0Probe{}, err
	}
	defer cpu.Close()
	s, err := cpu.Sregs()
	if err != nil {
		return Ring0Probe{}, err
	}
	s.CS.Base, s.CS.Selector = 0, 0
	if err := cpu.SetSregs(s); err != nil {
		return Ring0Probe{}, err
	}
	if err := cpu.SetRegs(kvm.Regs{RIP: probeCodeAddr, RFLAGS: rflagsReserved}); err != nil {
		return Ring0Probe{}, err
	}
	t0 := time.Now()
	for {
		e, err := cpu.Run()
		if err != nil {
			return Ring0Probe{}, err
		}
		if e.Kind == kvm.ExitInterrupted {
			continue
		}
		if e.Kind != kvm.ExitIO || e.Port != probePort {
			return Ring0Probe{}, fmt.Errorf("probe guest: unexpected %v", e)
		}
		break
	}
	p := Ring0Probe{Iterations: probeIterations, Elapsed: time.Since(t0)}
	p.Rate = float64(p.Iterations) / p.Elapsed.Seconds()
	p.Verdict = Ring0Emulated
	if p.Rate >= nativeThreshold {
		p.Verdict = Ring0Native
	}
	return p, nil
}
