package main

import (
	"fmt"
	"io"
	"os"

	"github.com/govm/govm/devices/virtio/blk"
	vcon "github.com/govm/govm/devices/virtio/console"
	vnet "github.com/govm/govm/devices/virtio/net"
	"github.com/govm/govm/devices/virtio/rng"
	"github.com/govm/govm/machine"
)

// inputSink is where console input goes: the UART or the virtio console.
type inputSink interface {
	Enqueue(b []byte) int
}

// openDevices opens the virtio devices the flags ask for. On error it closes
// what it opened. The machine owns the devices once it is built.
func openDevices(f runFlags, console io.Writer) (devs []machine.VirtioDevice, vc *vcon.Device, err error) {
	defer func() {
		if err != nil {
			closeAll(devs)
			devs = nil
		}
	}()
	for i, spec := range f.disks {
		o, err := blk.ParseSpec(spec)
		if err != nil {
			return devs, nil, withCode(exitUsage, fmt.Errorf("--disk %q: %w", spec, err))
		}
		d, err := blk.Open(o)
		if err != nil {
			return devs, nil, fmt.Errorf("--disk: %w", err)
		}
		if n := d.IgnoredTailBytes(); n > 0 {
			fmt.Fprintf(os.Stderr, "govm: disk %q: the last %d bytes are not a whole 512-byte sector and are not visible to the guest\n", o.Path, n)
		}
		devs = append(devs, machine.VirtioDevice{Name: fmt.Sprintf("virtio-blk%d", i), Dev: d})
	}
	for i, spec := range f.nets {
		name, mac, err := vnet.ParseSpec(spec)
		if err != nil {
			return devs, nil, withCode(exitUsage, fmt.Errorf("--net %q: %w", spec, err))
		}
		tap, err := vnet.OpenTap(name)
		if err != nil {
			return devs, nil, fmt.Errorf("--net: %w", err)
		}
		devs = append(devs, machine.VirtioDevice{Name: fmt.Sprintf("virtio-net%d", i), Dev: vnet.New(tap, mac)})
	}
	if f.console == "virtio" {
		vc = vcon.New(console)
		devs = append(devs, machine.VirtioDevice{Name: "virtio-console", Dev: vc})
	}
	if f.rng {
		devs = append(devs, machine.VirtioDevice{Name: "virtio-rng", Dev: rng.New()})
	}
	return devs, vc, nil
}

// closeAll closes the devices that hold resources.
func closeAll(devs []machine.VirtioDevice) {
	for _, d := range devs {
		if c, ok := d.Dev.(io.Closer); ok {
			c.Close()
		}
	}
}
