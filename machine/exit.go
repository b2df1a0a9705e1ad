package machine

import (
	"encoding/binary"

	"github.com/govm/govm/kvm"
)

// action is what the vCPU loop does after an exit.
type action int

const (
	actContinue action = iota
	actPowerOff        // the guest asked to power off (KVM system event)
	actReset           // the guest asked to reset (KVM system event)
	actCrash           // triple fault, failed entry, internal error, guest crash
)

// handleExit services one exit against the port and MMIO buses. It is a pure
// function of its inputs (tested with a table of made-up exits) and never
// touches the vCPU: register dumps are the caller's job for actCrash.
func handleExit(pio, mmio *Bus, e kvm.Exit, st *vcpuStats) action {
	st.kinds[e.Kind].Add(1)
	switch e.Kind {
	case kvm.ExitIO:
		st.pio(e.Port)
		for i := 0; i < e.Count; i++ {
			p := e.Data[i*e.Size : (i+1)*e.Size]
			if e.Write {
				pio.Write(uint64(e.Port), p)
			} else {
				pio.Read(uint64(e.Port), p)
			}
		}
		return actContinue
	case kvm.ExitMMIO:
		st.mmio(e.Addr)
		if e.Write {
			mmio.Write(e.Addr, e.Data)
		} else {
			mmio.Read(e.Addr, e.Data)
		}
		return actContinue
	case kvm.ExitInterrupted, kvm.ExitHLT:
		// HLT exits only without an in-kernel LAPIC; the loop re-enters
		// (and stops if the machine is stopping).
		return actContinue
	case kvm.ExitSystemEvent:
		switch e.EventType {
		case kvm.SystemEventShutdown:
			return actPowerOff
		case kvm.SystemEventReset:
			return actReset
		}
		return actCrash
	case kvm.ExitShutdown, kvm.ExitFailEntry, kvm.ExitInternalError:
		return actCrash
	}
	return actCrash
}

// le32 reads a little-endian value of 1, 2 or 4 bytes.
func le32(p []byte) uint32 {
	var b [4]byte
	copy(b[:], p)
	return binary.LittleEndian.Uint32(b[:])
}
