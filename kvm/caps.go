package kvm

import (
	"fmt"
	"strings"
)

// Cap is a KVM capability number for KVM_CHECK_EXTENSION.
type Cap uintptr

// The capabilities govm uses (include/uapi/linux/kvm.h).
const (
	CapIRQChip            Cap = 0
	CapHLT                Cap = 1
	CapUserMemory         Cap = 3
	CapSetTSSAddr         Cap = 4
	CapExtCPUID           Cap = 7
	CapNRVCPUs            Cap = 9
	CapMPState            Cap = 14
	CapCoalescedMMIO      Cap = 15
	CapIRQRouting         Cap = 25
	CapIRQFD              Cap = 32
	CapPIT2               Cap = 33
	CapIOEventFD          Cap = 36
	CapSetIdentityMapAddr Cap = 37
	CapMaxVCPUs           Cap = 66
	CapTSCDeadlineTimer   Cap = 72
	CapSplitIRQChip       Cap = 121
	CapX2APICAPI          Cap = 129
	CapImmediateExit      Cap = 136
)

var capNames = map[Cap]string{
	CapIRQChip: "KVM_CAP_IRQCHIP", CapHLT: "KVM_CAP_HLT", CapUserMemory: "KVM_CAP_USER_MEMORY",
	CapSetTSSAddr: "KVM_CAP_SET_TSS_ADDR", CapExtCPUID: "KVM_CAP_EXT_CPUID", CapNRVCPUs: "KVM_CAP_NR_VCPUS",
	CapMPState: "KVM_CAP_MP_STATE", CapCoalescedMMIO: "KVM_CAP_COALESCED_MMIO",
	CapIRQRouting: "KVM_CAP_IRQ_ROUTING", CapIRQFD: "KVM_CAP_IRQFD", CapPIT2: "KVM_CAP_PIT2",
	CapIOEventFD: "KVM_CAP_IOEVENTFD", CapSetIdentityMapAddr: "KVM_CAP_SET_IDENTITY_MAP_ADDR",
	CapMaxVCPUs: "KVM_CAP_MAX_VCPUS", CapTSCDeadlineTimer: "KVM_CAP_TSC_DEADLINE_TIMER",
	CapSplitIRQChip: "KVM_CAP_SPLIT_IRQCHIP", CapX2APICAPI: "KVM_CAP_X2APIC_API",
	CapImmediateExit: "KVM_CAP_IMMEDIATE_EXIT",
}

func (c Cap) String() string {
	if n, ok := capNames[c]; ok {
		return n
	}
	return fmt.Sprintf("KVM_CAP(%d)", uintptr(c))
}

// RequiredCaps are the capabilities govm cannot run without.
var RequiredCaps = []Cap{
	CapIRQChip, CapUserMemory, CapSetTSSAddr, CapExtCPUID, CapPIT2,
	CapIRQFD, CapIOEventFD, CapSetIdentityMapAddr, CapImmediateExit, CapMPState,
}

// MissingCapError names every required capability the host lacks.
type MissingCapError struct{ Missing []Cap }

func (e *MissingCapError) Error() string {
	names := make([]string, len(e.Missing))
	for i, c := range e.Missing {
		names[i] = c.String()
	}
	return "kvm: host lacks required capabilities: " + strings.Join(names, ", ")
}
