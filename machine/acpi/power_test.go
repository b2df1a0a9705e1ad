package acpi

import (
	"bytes"
	"testing"
)

// The bus Device interface of package machine (not imported: machine will
// import this package).
var _ interface {
	Read(off uint64, p []byte)
	Write(off uint64, p []byte)
} = (*PowerDevice)(nil)

func TestS5Value(t *testing.T) {
	if S5SleepType > slpTypMask>>slpTypShift {
		t.Fatalf("S5SleepType %d does not fit SLP_TYP", S5SleepType)
	}
	// What Linux's acpi_hw_extended_sleep writes for S5.
	if v := S5SleepType<<slpTypShift | slpEn; v != 0x34 {
		t.Errorf("S5 SLEEP_CONTROL value %#x, want 0x34", v)
	}
}

func TestPowerDevice(t *testing.T) {
	tests := []struct {
		name        string
		off         uint64
		data        []byte
		off5, reset int
	}{
		{"S5", SleepControlOffset, []byte{0x34}, 1, 0},
		{"S5 without SLP_EN", SleepControlOffset, []byte{0x14}, 0, 0},
		{"S3", SleepControlOffset, []byte{3<<2 | 0x20}, 0, 0},
		{"S0 wake prep", SleepControlOffset, []byte{0x20}, 0, 0},
		{"clear WAK_STS", SleepStatusOffset, []byte{wakSts}, 0, 0},
		{"reset", ResetOffset, []byte{1}, 0, 1},
		{"wrong reset value", ResetOffset, []byte{2}, 0, 0},
		{"word write: WAK_STS clear then S5", SleepControlOffset, []byte{0x34, wakSts}, 1, 0},
		{"dword write over all three", SleepControlOffset, []byte{0x34, 0, 1, 0xff}, 1, 1},
		{"outside the registers", PowerPortsSize, []byte{0x34, 1}, 0, 0},
		{"huge offset", ^uint64(0), []byte{0x34, 0x34, 0x34}, 0, 0},
		{"empty write", ResetOffset, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var off5, reset int
			d := &PowerDevice{OnPowerOff: func() { off5++ }, OnReset: func() { reset++ }, ResetValue: 1}
			d.Write(tt.off, tt.data)
			if off5 != tt.off5 || reset != tt.reset {
				t.Errorf("power-offs %d resets %d, want %d %d", off5, reset, tt.off5, tt.reset)
			}
		})
	}
}

func TestPowerDeviceNoCallbacks(t *testing.T) {
	var d PowerDevice
	d.Write(SleepControlOffset, []byte{0x34, 0x80, 0x00}) // must not panic
	p := []byte{0xff, 0xff, 0xff}
	d.Read(SleepControlOffset, p)
	if !bytes.Equal(p, []byte{0, 0, 0}) {
		t.Errorf("Read = % x, want zeros (WAK_STS never set)", p)
	}
}
