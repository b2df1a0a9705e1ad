package machine

import (
	"math/bits"

	"github.com/govm/govm/kvm"
)

// CPUID leaves and bits govm adjusts.
const (
	leafFeatures     = 0x1
	leafCacheParams  = 0x4 // Intel deterministic cache parameters
	leafPMU          = 0xa
	leafTopology     = 0xb // extended topology (x2APIC ids)
	leafTopologyV2   = 0x1f
	leafAMDSizes     = 0x80000008
	leafAMDTopology  = 0x8000001e
	ecxHypervisor    = 1 << 31
	edxHTT           = 1 << 28
	topoLevelSMT     = 1
	topoLevelCore    = 2
	topoLevelTypeSft = 8
)

// vcpuCPUID derives the CPUID table of vCPU id (of n) from what KVM
// supports: one socket, n cores, one thread per core, APIC id == vCPU id.
// It is a pure function, tested in cpuid_test.go.
func vcpuCPUID(supported []kvm.CPUIDEntry, id, n int) []kvm.CPUIDEntry {
	coreBits := uint32(bits.Len(uint(n - 1))) // bits of APIC id that number cores
	out := make([]kvm.CPUIDEntry, 0, len(supported))
	for _, e := range supported {
		switch e.Function {
		case leafFeatures:
			e.EBX = e.EBX&0x0000ffff | uint32(id)<<24 | uint32(n)<<16
			e.ECX |= ecxHypervisor
			if n > 1 {
				e.EDX |= edxHTT
			} else {
				e.EDX &^= edxHTT
			}
		case leafCacheParams:
			// EAX[31:26]: cores per package - 1; [25:14]: threads sharing
			// this cache - 1 (one for L1/L2, all cores for L3).
			level := (e.EAX >> 5) & 7
			e.EAX &= 0x3fff
			e.EAX |= uint32(n-1) << 26
			if level >= 3 {
				e.EAX |= uint32(n-1) << 14
			}
		case leafPMU:
			// No virtual PMU: guest perf falls back to software events.
			e.EAX, e.EBX, e.ECX, e.EDX = 0, 0, 0, 0
		case leafTopology:
			e.EDX = uint32(id)
			switch e.Index {
			case 0:
				e.EAX, e.EBX, e.ECX = 0, 1, topoLevelSMT<<topoLevelTypeSft
			case 1:
				e.EAX, e.EBX, e.ECX = coreBits, uint32(n), topoLevelCore<<topoLevelTypeSft|1
			default:
				e.EAX, e.EBX, e.ECX = 0, 0, e.Index
			}
		case leafTopologyV2:
			continue // Linux prefers 0x1f over 0xb; leaving it out keeps one source
		case leafAMDSizes:
			// ECX[15:12] APIC id size, [7:0] cores - 1.
			e.ECX = e.ECX&^0xf0ff | coreBits<<12 | uint32(n-1)
		case leafAMDTopology:
			e.EAX = uint32(id)
			e.EBX = uint32(id) & 0xff // core id; threads per core - 1 = 0
			e.ECX = 0                 // node 0, one node
		}
		out = append(out, e)
	}
	return out
}
