package kvm

import (
	"encoding/binary"
	"fmt"
)

// ExitKind is why KVM_RUN returned.
type ExitKind int

// The exits govm distinguishes. Anything else is ExitOther with the raw
// reason kept in Exit.Reason.
const (
	ExitOther         ExitKind = iota
	ExitIO                     // port I/O (IN/OUT, or string I/O)
	ExitMMIO                   // access to guest-physical memory no slot backs
	ExitHLT                    // HLT with no in-kernel LAPIC to handle it
	ExitShutdown               // triple fault
	ExitFailEntry              // the hardware refused to enter the guest
	ExitInternalError          // KVM could not emulate something
	ExitSystemEvent            // shutdown/reset/crash requested through KVM
	ExitInterrupted            // a signal or immediate_exit stopped KVM_RUN
	numExitKinds
)

var exitKindNames = [numExitKinds]string{
	ExitOther: "other", ExitIO: "io", ExitMMIO: "mmio", ExitHLT: "hlt",
	ExitShutdown: "shutdown", ExitFailEntry: "fail_entry",
	ExitInternalError: "internal_error", ExitSystemEvent: "system_event",
	ExitInterrupted: "interrupted",
}

func (k ExitKind) String() string {
	if k >= 0 && k < numExitKinds {
		return exitKindNames[k]
	}
	return fmt.Sprintf("exit(%d)", int(k))
}

// NumExitKinds is the number of ExitKind values (for counters indexed by kind).
const NumExitKinds = int(numExitKinds)

// Raw kvm_run.exit_reason values (include/uapi/linux/kvm.h).
const (
	reasonUnknown       = 0
	reasonIO            = 2
	reasonHLT           = 5
	reasonMMIO          = 6
	reasonShutdown      = 8
	reasonFailEntry     = 9
	reasonIntr          = 10
	reasonInternalError = 17
	reasonSystemEvent   = 24
)

// System event types (Exit.EventType).
const (
	SystemEventShutdown = 1
	SystemEventReset    = 2
	SystemEventCrash    = 3
)

// Offsets in struct kvm_run (x86-64). They stay inside this package.
const (
	runExitReason = 8
	runUnion      = 32 // the exit-specific union
	// io
	runIODirection  = runUnion + 0
	runIOSize       = runUnion + 1
	runIOPort       = runUnion + 2
	runIOCount      = runUnion + 4
	runIODataOffset = runUnion + 8
	ioDirectionOut  = 1
	// mmio
	runMMIOAddr    = runUnion + 0
	runMMIOData    = runUnion + 8
	runMMIOLen     = runUnion + 16
	runMMIOIsWrite = runUnion + 20
	mmioMaxLen     = 8
	// fail_entry
	runFailReason = runUnion + 0
	runFailCPU    = runUnion + 8
	// internal
	runInternalSuberror = runUnion + 0
	runInternalNData    = runUnion + 4
	runInternalData     = runUnion + 8
	internalMaxData     = 16
	// system_event
	runEventType  = runUnion + 0
	runEventNData = runUnion + 4
	runEventData  = runUnion + 8
	// the smallest kvm_run we can decode
	runMinSize = runUnion + 8 + 16*8
)

// Exit is a decoded KVM_RUN exit. Data aliases the vCPU's shared run area:
// for a read (IN or MMIO read) the caller fills it before the next Run; it is
// valid only until then.
type Exit struct {
	Kind   ExitKind
	Reason uint32 // raw exit_reason

	// ExitIO: Port, Write, Size (1, 2 or 4), Count (>1 for string I/O);
	// Data holds Size*Count bytes. ExitMMIO: Addr, Write, Size (1..8), Data.
	Port  uint16
	Addr  uint64
	Write bool
	Size  int
	Count int
	Data  []byte

	// ExitFailEntry
	HardwareReason uint64
	CPU            uint32
	// ExitInternalError
	Suberror     uint32
	InternalData []uint64
	// ExitSystemEvent
	EventType  uint32
	EventFlags uint64
}

func (e Exit) String() string {
	switch e.Kind {
	case ExitIO:
		dir := "in"
		if e.Write {
			dir = "out"
		}
		return fmt.Sprintf("io %s port %#x size %d count %d", dir, e.Port, e.Size, e.Count)
	case ExitMMIO:
		dir := "read"
		if e.Write {
			dir = "write"
		}
		return fmt.Sprintf("mmio %s %#x size %d", dir, e.Addr, e.Size)
	case ExitFailEntry:
		return fmt.Sprintf("fail_entry hardware reason %#x on cpu %d", e.HardwareReason, e.CPU)
	case ExitInternalError:
		return fmt.Sprintf("internal_error suberror %d data %#x", e.Suberror, e.InternalData)
	case ExitSystemEvent:
		return fmt.Sprintf("system_event type %d flags %#x", e.EventType, e.EventFlags)
	case ExitOther:
		return fmt.Sprintf("exit reason %d", e.Reason)
	}
	return e.Kind.String()
}

// decodeExit reads the kvm_run area after KVM_RUN returned. It is a pure
// function of the bytes, checked for every length and offset, so it can be
// tested with made-up run areas.
func decodeExit(run []byte) (Exit, error) {
	if len(run) < runMinSize {
		return Exit{}, fmt.Errorf("kvm: run area of %d bytes is too small", len(run))
	}
	le := binary.LittleEndian
	reason := le.Uint32(run[runExitReason:])
	e := Exit{Reason: reason}
	switch reason {
	case reasonIO:
		e.Kind = ExitIO
		e.Write = run[runIODirection] == ioDirectionOut
		e.Size = int(run[runIOSize])
		e.Port = le.Uint16(run[runIOPort:])
		e.Count = int(le.Uint32(run[runIOCount:]))
		off := le.Uint64(run[runIODataOffset:])
		n := uint64(e.Size) * uint64(e.Count)
		if e.Size != 1 && e.Size != 2 && e.Size != 4 || e.Count == 0 || off > uint64(len(run)) || n > uint64(len(run))-off {
			return e, fmt.Errorf("kvm: bad io exit: size %d count %d data offset %#x", e.Size, e.Count, off)
		}
		e.Data = run[off : off+n : off+n]
	case reasonMMIO:
		e.Kind = ExitMMIO
		e.Addr = le.Uint64(run[runMMIOAddr:])
		e.Size = int(le.Uint32(run[runMMIOLen:]))
		e.Write = run[runMMIOIsWrite] != 0
		e.Count = 1
		if e.Size < 1 || e.Size > mmioMaxLen {
			return e, fmt.Errorf("kvm: bad mmio exit: length %d", e.Size)
		}
		e.Data = run[runMMIOData : runMMIOData+e.Size : runMMIOData+e.Size]
	case reasonHLT:
		e.Kind = ExitHLT
	case reasonShutdown:
		e.Kind = ExitShutdown
	case reasonFailEntry:
		e.Kind = ExitFailEntry
		e.HardwareReason = le.Uint64(run[runFailReason:])
		e.CPU = le.Uint32(run[runFailCPU:])
	case reasonInternalError:
		e.Kind = ExitInternalError
		e.Suberror = le.Uint32(run[runInternalSuberror:])
		n := min(int(le.Uint32(run[runInternalNData:])), internalMaxData)
		for i := 0; i < n; i++ {
			e.InternalData = append(e.InternalData, le.Uint64(run[runInternalData+8*i:]))
		}
	case reasonSystemEvent:
		e.Kind = ExitSystemEvent
		e.EventType = le.Uint32(run[runEventType:])
		e.EventFlags = le.Uint64(run[runEventData:])
	case reasonIntr:
		e.Kind = ExitInterrupted
	default:
		e.Kind = ExitOther
	}
	return e, nil
}
