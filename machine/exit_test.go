package machine

import (
	"testing"

	"github.com/govm/govm/kvm"
)

type regDev struct {
	val    []byte
	writes [][]byte
}

func (d *regDev) Read(off uint64, p []byte)  { copy(p, d.val) }
func (d *regDev) Write(off uint64, p []byte) { d.writes = append(d.writes, append([]byte(nil), p...)) }

// handleExit against a table of made-up exits.
func TestHandleExit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		exit   kvm.Exit
		want   action
		writes int    // writes the port/mmio device must see
		read   []byte // what Data must hold afterwards
	}{
		{"out byte", kvm.Exit{Kind: kvm.ExitIO, Port: 0x10, Write: true, Size: 1, Count: 1, Data: []byte{1}}, actContinue, 1, nil},
		{"rep outsw", kvm.Exit{Kind: kvm.ExitIO, Port: 0x10, Write: true, Size: 2, Count: 3, Data: make([]byte, 6)}, actContinue, 3, nil},
		{"in dword", kvm.Exit{Kind: kvm.ExitIO, Port: 0x10, Size: 4, Count: 1, Data: make([]byte, 4)}, actContinue, 0, []byte{0xaa, 0xbb, 0xcc, 0xdd}},
		{"in from nothing", kvm.Exit{Kind: kvm.ExitIO, Port: 0x99, Size: 2, Count: 1, Data: make([]byte, 2)}, actContinue, 0, []byte{0xff, 0xff}},
		{"mmio write", kvm.Exit{Kind: kvm.ExitMMIO, Addr: 0x1000, Write: true, Size: 4, Data: make([]byte, 4)}, actContinue, 1, nil},
		{"mmio read", kvm.Exit{Kind: kvm.ExitMMIO, Addr: 0x1004, Size: 2, Data: make([]byte, 2)}, actContinue, 0, []byte{0xaa, 0xbb}},
		{"mmio read unmapped", kvm.Exit{Kind: kvm.ExitMMIO, Addr: 0x9000, Size: 1, Data: make([]byte, 1)}, actContinue, 0, []byte{0xff}},
		{"hlt", kvm.Exit{Kind: kvm.ExitHLT}, actContinue, 0, nil},
		{"interrupted", kvm.Exit{Kind: kvm.ExitInterrupted}, actContinue, 0, nil},
		{"triple fault", kvm.Exit{Kind: kvm.ExitShutdown}, actCrash, 0, nil},
		{"failed entry", kvm.Exit{Kind: kvm.ExitFailEntry, HardwareReason: 0x80000021}, actCrash, 0, nil},
		{"internal error", kvm.Exit{Kind: kvm.ExitInternalError, Suberror: 1}, actCrash, 0, nil},
		{"system shutdown", kvm.Exit{Kind: kvm.ExitSystemEvent, EventType: kvm.SystemEventShutdown}, actPowerOff, 0, nil},
		{"system reset", kvm.Exit{Kind: kvm.ExitSystemEvent, EventType: kvm.SystemEventReset}, actReset, 0, nil},
		{"system crash", kvm.Exit{Kind: kvm.ExitSystemEvent, EventType: kvm.SystemEventCrash}, actCrash, 0, nil},
		{"unknown reason", kvm.Exit{Kind: kvm.ExitOther, Reason: 77}, actCrash, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pio, mmio Bus
			pd := &regDev{val: []byte{0xaa, 0xbb, 0xcc, 0xdd}}
			md := &regDev{val: []byte{0xaa, 0xbb, 0xcc, 0xdd}}
			if err := pio.Insert(pd, "p", 0x10, 1); err != nil {
				t.Fatal(err)
			}
			if err := mmio.Insert(md, "m", 0x1000, 0x100); err != nil {
				t.Fatal(err)
			}
			st := newVCPUStats(true)
			if got := handleExit(&pio, &mmio, tc.exit, st); got != tc.want {
				t.Fatalf("action %d, want %d", got, tc.want)
			}
			if n := len(pd.writes) + len(md.writes); n != tc.writes {
				t.Errorf("%d device writes, want %d", n, tc.writes)
			}
			if tc.read != nil && string(tc.exit.Data) != string(tc.read) {
				t.Errorf("data %x, want %x", tc.exit.Data, tc.read)
			}
			if st.kinds[tc.exit.Kind].Load() != 1 {
				t.Errorf("exit not counted")
			}
		})
	}
}
