package bootparam

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/govm/govm/internal/testenv"
)

// debianKernelPath is where the project's guest build puts the Debian
// linux-image-amd64 bzImage. GOVM_TEST_BZIMAGE overrides it.
const debianKernelPath = "../build/guest/vmlinuz"

// TestDebianKernelBzImage parses and prepares the real Debian kernel. It is
// skipped only when the file does not exist.
func TestDebianKernelBzImage(t *testing.T) {
	path := debianKernelPath
	if p := os.Getenv("GOVM_TEST_BZIMAGE"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		testenv.Missing(t, path+" (run 'make guest')")
	}
	k, err := OpenKernel(path)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	h := k.Header
	t.Logf("boot protocol %d.%02d, setup_sects %d, payload %s, init_size %s, pref_address %#x, alignment %#x, relocatable %v, xloadflags %#x, cmdline_size %d, initrd_addr_max %#x",
		h.Version>>8, h.Version&0xff, h.SetupSects, fmtSize(uint64(k.Payload.Size())), fmtSize(uint64(h.InitSize)),
		h.PrefAddress, h.KernelAlignment, h.RelocatableKernel, h.XLoadflags, h.CmdlineSize, h.InitrdAddrMax)
	if h.Version < 0x020f || h.XLoadflags&XLFKernel64 == 0 || !h.RelocatableKernel || h.CmdlineSize < 2047 {
		t.Errorf("unexpected header for a Debian 6.x kernel: %+v", h)
	}

	cfg := testConfig(512 * mib)
	cfg.Initrd = zeros(8 * mib)
	p, err := Prepare(k, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("entry %#x, kernel end %#x, initrd at %#x", p.Entry, p.KernelEnd, p.InitrdAddr)
	if p.Entry != cfg.KernelAddr+0x200 || p.InitrdAddr+p.InitrdSize != 512*mib {
		t.Errorf("plan %+v", p)
	}

	// 64 MiB cannot hold this kernel's decompression area plus a 64 MiB initrd.
	cfg = testConfig(64 * mib)
	cfg.Initrd = zeros(64 * mib)
	if _, err := Prepare(k, cfg); !errors.Is(err, ErrDoesNotFit) {
		t.Errorf("64 MiB initrd in 64 MiB guest: %v", err)
	}
}

// debianVmlinuxPath is an uncompressed Debian vmlinux (ELF with a PVH note),
// if the guest build extracts one. GOVM_TEST_VMLINUX overrides it.
const debianVmlinuxPath = "../build/guest/vmlinux"

// TestDebianVmlinuxPVH parses and prepares a real vmlinux for the PVH entry.
// It is skipped only when the file does not exist.
func TestDebianVmlinuxPVH(t *testing.T) {
	path := debianVmlinuxPath
	if p := os.Getenv("GOVM_TEST_VMLINUX"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		testenv.Missing(t, path+" (run 'make guest')")
	}
	k, err := OpenKernel(path)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	t.Logf("PVH entry %#x, %d loadable segments", k.PVHEntry, len(k.LoadSegments))
	cfg := testConfig(512 * mib)
	cfg.Initrd = zeros(8 * mib)
	p, err := Prepare(k, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel end %#x, initrd at %#x, modlist at %#x", p.KernelEnd, p.InitrdAddr, p.ModlistAddr)
	if p.Mode != EntryPVH || p.Entry != uint64(k.PVHEntry) || p.BootInfo != cfg.PVHInfoAddr {
		t.Errorf("plan %v entry %#x", p.Mode, p.Entry)
	}
}
