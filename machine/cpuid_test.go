package machine

import (
	"testing"

	"github.com/govm/govm/kvm"
)

func TestVCPUCPUID(t *testing.T) {
	sup := []kvm.CPUIDEntry{
		{Function: 0x1, EBX: 0xff00_0800, EDX: edxHTT},
		{Function: 0xa, EAX: 0x7300403},
		{Function: 0xb, Index: 0}, {Function: 0xb, Index: 1}, {Function: 0xb, Index: 2},
		{Function: 0x1f, Index: 0},
		{Function: 0x80000008, ECX: 0x7007},
	}
	got := vcpuCPUID(sup, 2, 3)
	find := func(fn, idx uint32) kvm.CPUIDEntry {
		for _, e := range got {
			if e.Function == fn && e.Index == idx {
				return e
			}
		}
		t.Fatalf("leaf %#x.%d missing", fn, idx)
		return kvm.CPUIDEntry{}
	}
	if e := find(1, 0); e.EBX>>24 != 2 || (e.EBX>>16)&0xff != 3 || e.ECX&ecxHypervisor == 0 || e.EBX&0xffff != 0x0800 {
		t.Errorf("leaf 1: %+v", e)
	}
	if e := find(0xa, 0); e.EAX != 0 {
		t.Errorf("PMU not hidden: %+v", e)
	}
	if e := find(0xb, 1); e.EBX != 3 || e.EAX != 2 || e.EDX != 2 || e.ECX != 0x201 {
		t.Errorf("leaf 0xb.1: %+v", e)
	}
	if e := find(0xb, 0); e.EBX != 1 || e.ECX != 0x100 || e.EDX != 2 {
		t.Errorf("leaf 0xb.0: %+v", e)
	}
	if e := find(0x80000008, 0); e.ECX != 0x2002 {
		t.Errorf("leaf 0x80000008: %#x", e.ECX)
	}
	for _, e := range got {
		if e.Function == 0x1f {
			t.Error("leaf 0x1f kept")
		}
	}
	if e := vcpuCPUID(sup, 0, 1)[0]; e.EDX&edxHTT != 0 {
		t.Error("HTT set for one CPU")
	}
}
