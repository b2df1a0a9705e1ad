package machine

import (
	"fmt"
	"io"
	"sort"
	"sync/atomic"
	"time"

	"github.com/govm/govm/kvm"
)

// vcpuStats counts one vCPU's exits. Only its own thread writes it; the
// machine merges them after the vCPUs stop.
type vcpuStats struct {
	kinds     [kvm.NumExitKinds]atomic.Uint64 // read live by LiveExits
	addresses bool                            // also count by port / MMIO address (--stats)
	ports     map[uint16]uint64
	mmioAddrs map[uint64]uint64
}

func (s *vcpuStats) pio(port uint16) {
	if s.addresses {
		s.ports[port]++
	}
}

func (s *vcpuStats) mmio(addr uint64) {
	if s.addresses {
		s.mmioAddrs[addr]++
	}
}

func newVCPUStats(addresses bool) *vcpuStats {
	s := &vcpuStats{addresses: addresses}
	if addresses {
		s.ports = map[uint16]uint64{}
		s.mmioAddrs = map[uint64]uint64{}
	}
	return s
}

// Stats is what the guest made the hypervisor do.
type Stats struct {
	Exits map[string]uint64 // by exit kind
	Ports map[uint16]uint64 // port I/O exits by port (with Config.Stats)
	MMIO  map[uint64]uint64 // MMIO exits by address (with Config.Stats)
	Total uint64
}

func mergeStats(all []*vcpuStats) Stats {
	st := Stats{Exits: map[string]uint64{}, Ports: map[uint16]uint64{}, MMIO: map[uint64]uint64{}}
	for _, s := range all {
		for k := range s.kinds {
			if n := s.kinds[k].Load(); n > 0 {
				st.Exits[kvm.ExitKind(k).String()] += n
				st.Total += n
			}
		}
		for p, n := range s.ports {
			st.Ports[p] += n
		}
		for a, n := range s.mmioAddrs {
			st.MMIO[a] += n
		}
	}
	return st
}

// portNames labels the ports a Linux guest commonly touches, for the report.
var portNames = map[uint16]string{
	0x3f8: "COM1 data", 0x3f9: "COM1 IER", 0x3fa: "COM1 IIR/FCR", 0x3fb: "COM1 LCR",
	0x3fc: "COM1 MCR", 0x3fd: "COM1 LSR", 0x3fe: "COM1 MSR", 0x3ff: "COM1 scratch",
	0x80: "POST/delay", 0x70: "CMOS index", 0x71: "CMOS data", 0x60: "i8042 data", 0x64: "i8042 cmd",
	0xcf8: "PCI config addr", 0xcfc: "PCI config data", 0x3c0: "ACPI sleep ctl", 0x3c2: "ACPI reset",
	DebugExitPort: "debug exit", DebugMarkPort: "bench mark", BenchSinkPort: "bench sink",
}

// WriteTo prints the report: exits by kind, then the top ports and MMIO
// addresses.
func (st Stats) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	fmt.Fprintf(cw, "exits: %d total\n", st.Total)
	kinds := make([]string, 0, len(st.Exits))
	for k := range st.Exits {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return st.Exits[kinds[i]] > st.Exits[kinds[j]] })
	for _, k := range kinds {
		fmt.Fprintf(cw, "  %-16s %12d\n", k, st.Exits[k])
	}
	const top = 10
	if len(st.Ports) > 0 {
		type kv struct {
			p uint16
			n uint64
		}
		var l []kv
		for p, n := range st.Ports {
			l = append(l, kv{p, n})
		}
		sort.Slice(l, func(i, j int) bool { return l[i].n > l[j].n || l[i].n == l[j].n && l[i].p < l[j].p })
		fmt.Fprintf(cw, "top ports:\n")
		for i := 0; i < len(l) && i < top; i++ {
			fmt.Fprintf(cw, "  %#06x %-16s %12d\n", l[i].p, portNames[l[i].p], l[i].n)
		}
	}
	if len(st.MMIO) > 0 {
		type kv struct {
			a uint64
			n uint64
		}
		var l []kv
		for a, n := range st.MMIO {
			l = append(l, kv{a, n})
		}
		sort.Slice(l, func(i, j int) bool { return l[i].n > l[j].n || l[i].n == l[j].n && l[i].a < l[j].a })
		fmt.Fprintf(cw, "top MMIO addresses:\n")
		for i := 0; i < len(l) && i < top; i++ {
			fmt.Fprintf(cw, "  %#010x %12d\n", l[i].a, l[i].n)
		}
	}
	return cw.n, cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// LiveExits counts exits by kind while the machine runs (the per-address
// counts are only merged once it has stopped).
func (m *Machine) LiveExits() map[string]uint64 {
	out := map[string]uint64{}
	for _, v := range m.cpus {
		for k := range v.stats.kinds {
			if n := v.stats.kinds[k].Load(); n > 0 {
				out[kvm.ExitKind(k).String()] += n
			}
		}
	}
	return out
}

// Uptime is how long ago the machine was created.
func (m *Machine) Uptime() time.Duration { return time.Since(m.start) }
