package machine

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/govm/govm/kvm"
)

// The state report's page walk reads guest page tables the guest may have
// filled with anything: each bad entry is an error, never a read outside
// guest memory.
func TestTranslateHostileTables(t *testing.T) {
	const (
		size = 4 << 20
		pml4 = 0x1000
		pdpt = 0x2000
		pd   = 0x3000
		page = 0x200000 // a 2 MiB page at 2 MiB
	)
	ram := make([]byte, size)
	m := &Machine{mem: NewMemoryFromSlices(Region{GPA: 0, Host: ram})}
	put := func(gpa, v uint64) { binary.LittleEndian.PutUint64(ram[gpa:], v) }
	// va 0x40201234 -> PML4[0] -> PDPT[1] -> PD[1] (2 MiB page at 2 MiB).
	const va = 1<<30 | 1<<21 | 0x1234
	put(pml4, pdpt|pteP)
	put(pdpt+8*1, pd|pteP)
	put(pd+8*1, page|pteP|ptePS)
	copy(ram[page+0x1234:], []byte{0x90, 0xeb, 0xfe})
	long := kvm.Sregs{CR0: cr0PG, CR3: pml4, EFER: eferLMA}

	if gpa, err := m.translate(long, va); err != nil || gpa != page+0x1234 {
		t.Fatalf("translate(%#x) = %#x, %v; want %#x", va, gpa, err, page+0x1234)
	}
	if got := m.codeAt(long, va); !strings.HasPrefix(got, "90 eb fe") {
		t.Errorf("codeAt = %q", got)
	}
	// The last bytes of a page: no read into the next one.
	if got := m.codeAt(long, 1<<30|1<<21|0x1ffffe); !strings.HasPrefix(got, "00 00 (guest-physical") {
		t.Errorf("codeAt at a page's end = %q", got)
	}
	if gpa, err := m.translate(kvm.Sregs{}, 0x1234); err != nil || gpa != 0x1234 {
		t.Errorf("paging off: %#x, %v", gpa, err)
	}

	for _, tc := range []struct {
		name  string
		sregs kvm.Sregs
		setup func()
		want  string
	}{
		{"not long mode", kvm.Sregs{CR0: cr0PG, CR3: pml4}, nil, "not in long mode"},
		{"CR3 outside RAM", kvm.Sregs{CR0: cr0PG, CR3: 1 << 40, EFER: eferLMA}, nil, "outside"},
		{"entry not present", long, func() { put(pml4, 0) }, "not mapped"},
		{"table outside RAM", long, func() { put(pml4, 1<<40|pteP) }, "outside"},
		// The walk ends at an address outside RAM: codeAt cannot read it.
		{"page outside RAM", long, func() { put(pml4, pdpt|pteP); put(pd+8*1, 1<<40|pteP|ptePS) }, ""},
	} {
		if tc.setup != nil {
			tc.setup()
		}
		if _, err := m.translate(tc.sregs, va); tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
		if got := m.codeAt(tc.sregs, va); !strings.HasPrefix(got, "unreadable: ") {
			t.Errorf("%s: codeAt = %q", tc.name, got)
		}
	}
}
