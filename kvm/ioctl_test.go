package kvm

import (
	"encoding/binary"
	"testing"

	"github.com/govm/govm/internal/testenv"
)

// The kernel's values, from <linux/kvm.h> on x86-64.
func TestIoctlNumbers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"KVM_GET_API_VERSION", kvmGetAPIVersion, 0xae00},
		{"KVM_CREATE_VM", kvmCreateVM, 0xae01},
		{"KVM_GET_MSR_INDEX_LIST", kvmGetMSRIndexList, 0xc004ae02},
		{"KVM_CHECK_EXTENSION", kvmCheckExtension, 0xae03},
		{"KVM_GET_VCPU_MMAP_SIZE", kvmGetVCPUMmapSize, 0xae04},
		{"KVM_GET_SUPPORTED_CPUID", kvmGetSupportedCPUID, 0xc008ae05},
		{"KVM_CREATE_VCPU", kvmCreateVCPU, 0xae41},
		{"KVM_SET_USER_MEMORY_REGION", kvmSetUserMemoryRegion, 0x4020ae46},
		{"KVM_SET_TSS_ADDR", kvmSetTSSAddr, 0xae47},
		{"KVM_SET_IDENTITY_MAP_ADDR", kvmSetIdentityMapAddr, 0x4008ae48},
		{"KVM_CREATE_IRQCHIP", kvmCreateIRQChip, 0xae60},
		{"KVM_IRQ_LINE", kvmIRQLine, 0x4008ae61},
		{"KVM_IRQFD", kvmIRQFD, 0x4020ae76},
		{"KVM_CREATE_PIT2", kvmCreatePIT2, 0x4040ae77},
		{"KVM_IOEVENTFD", kvmIOEventFD, 0x4040ae79},
		{"KVM_GET_IRQCHIP", kvmGetIRQChip, 0xc208ae62},
		{"KVM_RUN", kvmRun, 0xae80},
		{"KVM_GET_REGS", kvmGetRegs, 0x8090ae81},
		{"KVM_SET_REGS", kvmSetRegs, 0x4090ae82},
		{"KVM_GET_SREGS", kvmGetSregs, 0x8138ae83},
		{"KVM_SET_SREGS", kvmSetSregs, 0x4138ae84},
		{"KVM_GET_MSRS", kvmGetMSRs, 0xc008ae88},
		{"KVM_SET_MSRS", kvmSetMSRs, 0x4008ae89},
		{"KVM_GET_FPU", kvmGetFPU, 0x81a0ae8c},
		{"KVM_SET_FPU", kvmSetFPU, 0x41a0ae8d},
		{"KVM_GET_LAPIC", kvmGetLAPIC, 0x8400ae8e},
		{"KVM_SET_LAPIC", kvmSetLAPIC, 0x4400ae8f},
		{"KVM_SET_CPUID2", kvmSetCPUID2, 0x4008ae90},
		{"KVM_GET_MP_STATE", kvmGetMPState, 0x8004ae98},
		{"KVM_SET_MP_STATE", kvmSetMPState, 0x4004ae99},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
		if ioctlName(tc.got) != tc.name {
			t.Errorf("ioctlName(%#x) = %q, want %q", tc.got, ioctlName(tc.got), tc.name)
		}
	}
}

func TestStructSizes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"kvm_regs", sizeOf[Regs](), 0x90},
		{"kvm_sregs", sizeOf[Sregs](), 0x138},
		{"kvm_fpu", sizeOf[FPU](), 0x1a0},
		{"kvm_cpuid_entry2", sizeOf[CPUIDEntry](), 0x28},
		{"kvm_lapic_state", sizeOf[LAPICState](), 0x400},
		{"kvm_irqchip", sizeOf[irqchip](), 520},
		{"kvm_ioapic_state", sizeOf[IOAPICState](), 216},
		{"kvm_pit_config", sizeOf[pitConfig](), 0x40},
		{"kvm_ioeventfd", sizeOf[ioeventfd](), 0x40},
		{"kvm_irqfd", sizeOf[irqfd](), 0x20},
		{"kvm_userspace_memory_region", sizeOf[userspaceMemoryRegion](), 0x20},
		{"kvm_segment", sizeOf[Segment](), 24},
	} {
		if tc.got != tc.want {
			t.Errorf("sizeof(%s) = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}

func runArea() []byte { return make([]byte, 4096) }

func TestDecodeExit(t *testing.T) {
	le := binary.LittleEndian
	t.Run("io out", func(t *testing.T) {
		r := runArea()
		le.PutUint32(r[runExitReason:], reasonIO)
		r[runIODirection] = ioDirectionOut
		r[runIOSize] = 1
		le.PutUint16(r[runIOPort:], 0x3f8)
		le.PutUint32(r[runIOCount:], 1)
		le.PutUint64(r[runIODataOffset:], 0x1000-8)
		r[0x1000-8] = 'A'
		e, err := decodeExit(r)
		if err != nil || e.Kind != ExitIO || !e.Write || e.Port != 0x3f8 || len(e.Data) != 1 || e.Data[0] != 'A' {
			t.Fatalf("got %+v, %v", e, err)
		}
	})
	t.Run("mmio read", func(t *testing.T) {
		r := runArea()
		le.PutUint32(r[runExitReason:], reasonMMIO)
		le.PutUint64(r[runMMIOAddr:], 0xd0000070)
		le.PutUint32(r[runMMIOLen:], 4)
		e, err := decodeExit(r)
		if err != nil || e.Kind != ExitMMIO || e.Write || e.Addr != 0xd0000070 || len(e.Data) != 4 {
			t.Fatalf("got %+v, %v", e, err)
		}
		e.Data[0] = 0x55 // the VMM's answer lands in the run area
		if r[runMMIOData] != 0x55 {
			t.Fatal("mmio data does not alias the run area")
		}
	})
	bad := []struct {
		name string
		set  func(r []byte)
	}{
		{"io data offset beyond run area", func(r []byte) {
			le.PutUint32(r[runExitReason:], reasonIO)
			r[runIOSize] = 4
			le.PutUint32(r[runIOCount:], 1)
			le.PutUint64(r[runIODataOffset:], 1<<40)
		}},
		{"io count overflows", func(r []byte) {
			le.PutUint32(r[runExitReason:], reasonIO)
			r[runIOSize] = 4
			le.PutUint32(r[runIOCount:], 0xffffffff)
			le.PutUint64(r[runIODataOffset:], 0x100)
		}},
		{"io size 3", func(r []byte) {
			le.PutUint32(r[runExitReason:], reasonIO)
			r[runIOSize] = 3
			le.PutUint32(r[runIOCount:], 1)
			le.PutUint64(r[runIODataOffset:], 0x100)
		}},
		{"mmio length 9", func(r []byte) {
			le.PutUint32(r[runExitReason:], reasonMMIO)
			le.PutUint32(r[runMMIOLen:], 9)
		}},
		{"mmio length 0", func(r []byte) {
			le.PutUint32(r[runExitReason:], reasonMMIO)
		}},
	}
	for _, tc := range bad {
		r := runArea()
		tc.set(r)
		if _, err := decodeExit(r); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	for _, tc := range []struct {
		reason uint32
		kind   ExitKind
	}{
		{reasonHLT, ExitHLT}, {reasonShutdown, ExitShutdown}, {reasonFailEntry, ExitFailEntry},
		{reasonInternalError, ExitInternalError}, {reasonSystemEvent, ExitSystemEvent},
		{reasonIntr, ExitInterrupted}, {reasonUnknown, ExitOther}, {999, ExitOther},
	} {
		r := runArea()
		le.PutUint32(r[runExitReason:], tc.reason)
		le.PutUint32(r[runInternalNData:], 1000) // must be clamped
		e, err := decodeExit(r)
		if err != nil || e.Kind != tc.kind {
			t.Errorf("reason %d: got %v, %v; want %v", tc.reason, e.Kind, err, tc.kind)
		}
		if len(e.InternalData) > internalMaxData {
			t.Errorf("internal data not clamped: %d", len(e.InternalData))
		}
	}
	if _, err := decodeExit(make([]byte, 10)); err == nil {
		t.Error("short run area accepted")
	}
}

func FuzzDecodeExit(f *testing.F) {
	f.Add(uint32(reasonIO), uint64(0x100), uint32(1), byte(4))
	f.Add(uint32(reasonMMIO), uint64(0), uint32(8), byte(1))
	f.Fuzz(func(t *testing.T, reason uint32, off uint64, count uint32, size byte) {
		r := runArea()
		le := binary.LittleEndian
		le.PutUint32(r[runExitReason:], reason)
		r[runIOSize] = size
		le.PutUint32(r[runIOCount:], count)
		le.PutUint64(r[runIODataOffset:], off)
		le.PutUint32(r[runMMIOLen:], count)
		e, err := decodeExit(r)
		if err == nil && len(e.Data) > len(r) {
			t.Fatal("data beyond run area")
		}
	})
}

// A real VM on /dev/kvm: a two-instruction real-mode guest writes a byte to
// a port, which must come back as a typed IO exit.
func TestRealModeOut(t *testing.T) {
	testenv.RequireKVM(t)
	sys, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if err := sys.CheckRequired(); err != nil {
		t.Fatal(err)
	}
	vm, err := sys.CreateVM()
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	mem, err := mmapAnon(0x10000)
	if err != nil {
		t.Fatal(err)
	}
	// mov al, 0x42; out 0x80, al; hlt
	copy(mem[0x1000:], []byte{0xb0, 0x42, 0xe6, 0x80, 0xf4})
	if err := vm.SetUserMemoryRegion(0, 0, mem); err != nil {
		t.Fatal(err)
	}
	cpu, err := vm.CreateVCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	s, err := cpu.Sregs()
	if err != nil {
		t.Fatal(err)
	}
	s.CS.Base, s.CS.Selector = 0, 0
	if err := cpu.SetSregs(s); err != nil {
		t.Fatal(err)
	}
	if err := cpu.SetRegs(Regs{RIP: 0x1000, RFLAGS: 2}); err != nil {
		t.Fatal(err)
	}
	e, err := cpu.Run()
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != ExitIO || !e.Write || e.Port != 0x80 || e.Size != 1 || e.Data[0] != 0x42 {
		t.Fatalf("got %v data %x", e, e.Data)
	}
	e, err = cpu.Run()
	if err != nil || e.Kind != ExitHLT {
		t.Fatalf("second exit: %v, %v", e, err)
	}
	// immediate_exit makes KVM_RUN return at once.
	cpu.SetImmediateExit(true)
	e, err = cpu.Run()
	if err != nil || e.Kind != ExitInterrupted {
		t.Fatalf("immediate exit: %v, %v", e, err)
	}
}
