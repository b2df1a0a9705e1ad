package machine

import "github.com/govm/govm/kvm"

// Model-specific registers set at boot, as a real BIOS would leave them.
const (
	msrIA32TSC           = 0x10
	msrIA32SysenterCS    = 0x174
	msrIA32SysenterESP   = 0x175
	msrIA32SysenterEIP   = 0x176
	msrIA32MiscEnable    = 0x1a0
	msrMTRRDefType       = 0x2ff
	msrSTAR              = 0xc0000081
	msrLSTAR             = 0xc0000082
	msrCSTAR             = 0xc0000083
	msrSyscallMask       = 0xc0000084
	msrKernelGSBase      = 0xc0000102
	miscEnableFastString = 1 << 0
	mtrrEnable           = 1 << 11
	mtrrTypeWB           = 6
)

// bootMSRs is the initial MSR state of every vCPU: syscall MSRs cleared,
// fast strings on, and MTRRs enabled with write-back as the default type
// (without it Linux maps all RAM uncached).
func bootMSRs() []kvm.MSR {
	return []kvm.MSR{
		{Index: msrIA32SysenterCS}, {Index: msrIA32SysenterESP}, {Index: msrIA32SysenterEIP},
		{Index: msrSTAR}, {Index: msrLSTAR}, {Index: msrCSTAR}, {Index: msrSyscallMask},
		{Index: msrKernelGSBase}, {Index: msrIA32TSC},
		{Index: msrIA32MiscEnable, Data: miscEnableFastString},
		{Index: msrMTRRDefType, Data: mtrrEnable | mtrrTypeWB},
	}
}
