package legacy

import (
	"sync/atomic"
	"testing"
)

// kbcCommand sends cmd (and a data byte if withData) the way Linux's
// i8042_command does and returns the reply byte, if one is expected.
func kbcCommand(t *testing.T, k *I8042, cmd byte, data []byte, wantReply bool) byte {
	t.Helper()
	p := []byte{0}
	k.Read(i8042StatusOff, p)
	if p[0]&0x02 != 0 {
		t.Fatalf("cmd %#x: input buffer busy", cmd)
	}
	k.Write(i8042StatusOff, []byte{cmd})
	if len(data) > 0 {
		k.Write(i8042DataOff, data)
	}
	k.Read(i8042StatusOff, p)
	if !wantReply {
		if p[0]&i8042StatusOBF != 0 {
			t.Fatalf("cmd %#x: unexpected reply pending", cmd)
		}
		return 0
	}
	if p[0]&i8042StatusOBF == 0 {
		t.Fatalf("cmd %#x: no reply (status %#x)", cmd, p[0])
	}
	k.Read(i8042DataOff, p)
	return p[0]
}

func TestI8042LinuxProbe(t *testing.T) {
	var resets atomic.Int32
	k := NewI8042(func() { resets.Add(1) })

	p := []byte{0}
	k.Read(i8042StatusOff, p)
	if p[0]&i8042StatusOBF != 0 {
		t.Fatalf("status %#x: data pending at power-on", p[0])
	}
	if p[0]&i8042StatusUnlock == 0 {
		t.Fatalf("status %#x: keylock active", p[0])
	}

	tests := []struct {
		name      string
		cmd       byte
		data      []byte
		wantReply bool
		want      byte
	}{
		{"self test", i8042CmdSelfTest, nil, true, i8042SelfTestOK},
		{"read CTR", i8042CmdReadCTR, nil, true, i8042CtrReset},
		{"write CTR", i8042CmdWriteCTR, []byte{0x45}, false, 0},
		{"CTR read back", i8042CmdReadCTR, nil, true, 0x45},
		{"AUX loop fails", i8042CmdAuxLoop, []byte{0x5a}, true, i8042AuxLoopNone},
		{"AUX test says absent", i8042CmdAuxTest, nil, true, i8042AuxTestFail},
		{"kbd test", i8042CmdKbdTest, nil, true, i8042PortTestOK},
		{"kbd disable", i8042CmdKbdDisable, nil, false, 0},
		{"CTR has KBDDIS", i8042CmdReadCTR, nil, true, 0x45 | i8042CtrKbdDis},
		{"kbd enable", i8042CmdKbdEnable, nil, false, 0},
		{"aux disable", i8042CmdAuxDisable, nil, false, 0},
		{"CTR has AUXDIS", i8042CmdReadCTR, nil, true, 0x45 | i8042CtrAuxDis},
		{"kbd loop echoes", i8042CmdKbdLoop, []byte{0x33}, true, 0x33},
		{"read output port", i8042CmdReadOutput, nil, true, i8042OutputReset},
		{"aux send swallowed", i8042CmdAuxSend, []byte{0xf4}, false, 0},
		{"unknown command", 0xc0, nil, false, 0},
		{"pulse nothing", 0xff, nil, false, 0},
	}
	for _, tt := range tests {
		if got := kbcCommand(t, k, tt.cmd, tt.data, tt.wantReply); got != tt.want {
			t.Errorf("%s: reply %#x, want %#x", tt.name, got, tt.want)
		}
	}

	// A keyboard command (atkbd's GETID) gets no answer: no keyboard.
	k.Write(i8042DataOff, []byte{0xf2})
	k.Read(i8042StatusOff, p)
	if p[0]&i8042StatusOBF != 0 {
		t.Fatal("keyboard byte produced a reply")
	}
	if resets.Load() != 0 {
		t.Fatalf("reset called %d times during probe", resets.Load())
	}

	k.Write(i8042StatusOff, []byte{i8042CmdPulseReset})
	if resets.Load() != 1 {
		t.Fatalf("0xfe: %d resets, want 1", resets.Load())
	}
	kbcCommand(t, k, i8042CmdWriteOutput, []byte{i8042OutA20}, false)
	if resets.Load() != 2 {
		t.Fatalf("output port bit 0 cleared: %d resets, want 2", resets.Load())
	}
}

func TestI8042ReplyQueueBounded(t *testing.T) {
	k := NewI8042(nil)
	for i := 0; i < 100; i++ {
		k.Write(i8042StatusOff, []byte{i8042CmdSelfTest})
	}
	if len(k.out) > i8042OutQueueMax {
		t.Fatalf("reply queue grew to %d", len(k.out))
	}
	k.Write(i8042StatusOff, []byte{i8042CmdPulseReset}) // nil OnReset: no panic
}

func TestI8042OddAccesses(t *testing.T) {
	k := NewI8042(func() {})
	for off := uint64(0); off < 2*I8042Size; off++ {
		for size := 0; size <= 9; size++ {
			p := make([]byte, size)
			k.Read(off, p)
			k.Write(off, p)
		}
	}
	k.Read(^uint64(0), make([]byte, 4))
	p := []byte{0}
	k.Read(1, p)
	if p[0] != 0xff {
		t.Fatalf("port 0x61 reads %#x, want 0xff", p[0])
	}
}
