package kvm

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// VM is a KVM virtual machine.
type VM struct {
	fd       int
	mmapSize int
}

// FD returns the VM file descriptor.
func (vm *VM) FD() int { return vm.fd }

// Close closes the VM. Its vCPUs must be closed first.
func (vm *VM) Close() error { return unix.Close(vm.fd) }

// SetUserMemoryRegion maps mem (which must come from mmap and outlive the VM)
// at guest-physical gpa in slot.
func (vm *VM) SetUserMemoryRegion(slot uint32, gpa uint64, mem []byte) error {
	return setUserMemoryRegion(vm.fd, slot, gpa, mem)
}

// SetTSSAddr sets the three-page region KVM needs for real-mode emulation on
// Intel VMX. It must lie in guest-physical space no slot uses.
func (vm *VM) SetTSSAddr(addr uint32) error {
	_, err := ioctl(vm.fd, kvmSetTSSAddr, uintptr(addr))
	return err
}

// SetIdentityMapAddr sets the one-page EPT identity map (Intel).
func (vm *VM) SetIdentityMapAddr(addr uint64) error {
	a := addr
	return ioctlArg(vm.fd, kvmSetIdentityMapAddr, &a)
}

// CreateIRQChip creates the in-kernel PIC, IOAPIC and per-vCPU LAPICs.
func (vm *VM) CreateIRQChip() error {
	_, err := ioctl(vm.fd, kvmCreateIRQChip, 0)
	return err
}

// irqchipIOAPIC is KVM_IRQCHIP_IOAPIC, the chip id of the IOAPIC.
const irqchipIOAPIC = 2

// IOAPIC reads the in-kernel IOAPIC's state (for diagnostics).
func (vm *VM) IOAPIC() (IOAPICState, error) {
	c := irqchip{ChipID: irqchipIOAPIC}
	if err := ioctlArg(vm.fd, kvmGetIRQChip, &c); err != nil {
		return IOAPICState{}, err
	}
	var s IOAPICState
	if _, err := binary.Decode(c.State[:], binary.LittleEndian, &s); err != nil {
		return IOAPICState{}, err
	}
	return s, nil
}

// CreatePIT2 creates the in-kernel i8254 PIT (speaker port emulated as a
// dummy, as QEMU and Firecracker do).
func (vm *VM) CreatePIT2() error {
	c := pitConfig{Flags: pitSpeakerDummy}
	return ioctlArg(vm.fd, kvmCreatePIT2, &c)
}

// IRQLine sets the level of an interrupt line (GSI) on the in-kernel irqchip.
func (vm *VM) IRQLine(gsi uint32, high bool) error {
	l := irqLevel{IRQ: gsi}
	if high {
		l.Level = 1
	}
	return ioctlArg(vm.fd, kvmIRQLine, &l)
}

// IRQFD makes a write to eventfd efd inject an edge on gsi, without a trip
// through userspace.
func (vm *VM) IRQFD(efd int, gsi uint32) error {
	f := irqfd{FD: uint32(efd), GSI: gsi}
	return ioctlArg(vm.fd, kvmIRQFD, &f)
}

// IOEventFD makes a guest write of length bytes at addr (a port when pio)
// signal eventfd efd instead of exiting to userspace. With match non-nil,
// only writes of that value do.
func (vm *VM) IOEventFD(efd int, addr uint64, length uint32, pio bool, match *uint64) error {
	e := ioeventfd{Addr: addr, Len: length, FD: int32(efd)}
	if pio {
		e.Flags |= ioeventfdFlagPIO
	}
	if match != nil {
		e.Flags |= ioeventfdFlagDatamatch
		e.Datamatch = *match
	}
	return ioctlArg(vm.fd, kvmIOEventFD, &e)
}

// CreateVCPU creates vCPU id and maps its run area.
func (vm *VM) CreateVCPU(id int) (*VCPU, error) {
	fd, err := ioctl(vm.fd, kvmCreateVCPU, uintptr(id))
	if err != nil {
		return nil, err
	}
	run, err := unix.Mmap(int(fd), 0, vm.mmapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(int(fd))
		return nil, fmt.Errorf("kvm: mmap vcpu %d run area: %w", id, err)
	}
	return &VCPU{fd: int(fd), id: id, run: run}, nil
}
