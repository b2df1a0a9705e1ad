package machine

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/govm/govm/devices/virtio"
	"github.com/govm/govm/machine/acpi"
)

// VirtioDevice is a virtio device to attach, with a name for errors and
// statistics ("virtio-blk0").
type VirtioDevice struct {
	Name string
	Dev  virtio.Device
}

// maxVirtioGSI is the last GSI a virtio device may take: KVM's in-kernel
// IOAPIC has 24 inputs, and the last one is the power button's.
const maxVirtioGSI = PowerButtonGSI - 1

// virtioSlot is where the i-th virtio device lives: its MMIO window and its
// interrupt.
func virtioSlot(i int) (base uint64, gsi uint32) {
	return VirtioMMIOBase + uint64(i)*VirtioMMIOSize, VirtioIRQBase + uint32(i)
}

// irqfd is a virtio.Interrupt backed by an eventfd registered with
// KVM_IRQFD: a write injects an edge on the GSI with no exit.
type irqfd struct{ fd int }

func (q irqfd) Trigger() error {
	var one [8]byte
	binary.LittleEndian.PutUint64(one[:], 1)
	_, err := unix.Write(q.fd, one[:])
	if err == unix.EAGAIN { // counter saturated: an interrupt is pending anyway
		return nil
	}
	return err
}

type virtioAttached struct {
	name      string
	transport *virtio.MMIO
	irq       irqfd
}

// virtioLayout is where the virtio devices go: their ACPI descriptions and
// the kernel command-line fragment (for kernels that take
// virtio_mmio.device=). It needs no KVM, so the boot plan can be made while
// the VM is being created.
func virtioLayout(devs []VirtioDevice) ([]acpi.MMIODevice, string, error) {
	var (
		descs []acpi.MMIODevice
		cmd   strings.Builder
	)
	for i := range devs {
		base, gsi := virtioSlot(i)
		if gsi > maxVirtioGSI {
			return nil, "", fmt.Errorf("too many virtio devices: %d, at most %d", len(devs), maxVirtioGSI-VirtioIRQBase+1)
		}
		descs = append(descs, acpi.MMIODevice{Base: base, Size: VirtioMMIOSize, GSI: gsi})
		fmt.Fprintf(&cmd, " virtio_mmio.device=4K@%#x:%d", base, gsi)
	}
	return descs, cmd.String(), nil
}

// addVirtio puts each virtio device at its virtioLayout slot on the MMIO
// bus, with its irqfd and one ioeventfd per queue.
func (m *Machine) addVirtio() error {
	for i, vd := range m.cfg.Virtio {
		base, gsi := virtioSlot(i)
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			return fmt.Errorf("%s: eventfd: %w", vd.Name, err)
		}
		irq := irqfd{fd: efd}
		a := &virtioAttached{name: vd.Name, irq: irq}
		m.virtio = append(m.virtio, a)
		if err := m.vm.IRQFD(efd, gsi); err != nil {
			return fmt.Errorf("%s: %w", vd.Name, err)
		}
		if a.transport, err = virtio.NewMMIO(vd.Dev, m.mem, irq); err != nil {
			return fmt.Errorf("%s: %w", vd.Name, err)
		}
		name := vd.Name
		a.transport.OnError = func(err error) {
			fmt.Fprintf(m.cfg.Warn, "\r\ngovm: %s: the guest broke the device, which needs a reset: %v\r\n", name, err)
		}
		if err := m.mmio.Insert(a.transport, vd.Name, base, VirtioMMIOSize); err != nil {
			return err
		}
		for q := range vd.Dev.QueueSizes() {
			match := uint64(q)
			if err := m.vm.IOEventFD(a.transport.NotifyEventFD(q), base+virtio.RegQueueNotify, 4, false, &match); err != nil {
				return fmt.Errorf("%s queue %d: %w", vd.Name, q, err)
			}
		}
	}
	return nil
}

// closeVirtio stops the transports (and their workers), then closes the
// devices, so that, for example, a disk is flushed after its last request.
func (m *Machine) closeVirtio() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, a := range m.virtio {
		if a.transport != nil {
			keep(a.transport.Close())
		}
		keep(unix.Close(a.irq.fd))
	}
	m.virtio = nil
	keep(closeDevices(m.cfg.Virtio))
	m.cfg.Virtio = nil
	return first
}

// closeDevices closes the devices that hold resources (files, taps).
func closeDevices(devs []VirtioDevice) error {
	var first error
	for _, d := range devs {
		if c, ok := d.Dev.(io.Closer); ok {
			if err := c.Close(); err != nil && first == nil {
				first = fmt.Errorf("%s: %w", d.Name, err)
			}
		}
	}
	return first
}
