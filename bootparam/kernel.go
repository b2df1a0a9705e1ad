package bootparam

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// Format says how a kernel image is started.
type Format int

const (
	FormatBzImage Format = iota + 1 // Linux x86 boot protocol, 64-bit entry
	FormatELF                       // ELF with a PVH entry note, 32-bit entry
)

func (f Format) String() string {
	switch f {
	case FormatBzImage:
		return "bzImage"
	case FormatELF:
		return "ELF"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Kernel is a parsed kernel image. The parser reads only the headers; the
// big parts (Payload, LoadSegment.File) are sections of the image, read
// when the machine copies them into guest memory. So a kernel costs no heap
// beyond its headers, and is copied once, from the file to guest RAM.
type Kernel struct {
	Format Format

	// bzImage only.
	Header  *SetupHeader      // the parsed setup header
	hdrRaw  []byte            // the setup header bytes, file offsets 0x1f1 up to its end
	Payload *io.SectionReader // the protected-mode kernel: the file after the setup sectors

	// ELF only.
	LoadSegments []LoadSegment // PT_LOAD segments with a non-zero memory size
	PVHEntry     uint32        // XEN_ELFNOTE_PHYS32_ENTRY: 32-bit entry point

	file *os.File // set by OpenKernel
}

// LoadSegment is one ELF PT_LOAD segment: File is copied to Addr and the
// rest, up to MemSize, is zero.
type LoadSegment struct {
	Addr    uint64
	File    *io.SectionReader // p_filesz bytes of the file
	MemSize uint64            // p_memsz >= File.Size()
}

// OpenKernel opens the file at path and parses it as an ELF image (if it
// starts with the ELF magic) or a bzImage. The file stays open for the
// Kernel's sections: Close it once they are loaded. Errors name the file.
func OpenKernel(path string) (*Kernel, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	k, err := readKernel(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("kernel %q: %w", path, err)
	}
	k.file = f
	return k, nil
}

func readKernel(f *os.File) (*Kernel, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrNotKernel)
	}
	return ReadKernel(f, st.Size())
}

// Close closes the file OpenKernel opened; the sections are unusable after.
func (k *Kernel) Close() error {
	if k.file == nil {
		return nil
	}
	err := k.file.Close()
	k.file = nil
	return err
}

// ParseKernel parses an in-memory image: ELF if it starts with the ELF magic,
// bzImage otherwise.
func ParseKernel(data []byte) (*Kernel, error) {
	return ReadKernel(bytes.NewReader(data), int64(len(data)))
}

// ReadKernel parses the size-byte image in r: ELF if it starts with the ELF
// magic, bzImage otherwise. It reads the headers only.
func ReadKernel(r io.ReaderAt, size int64) (*Kernel, error) {
	magic, err := readHead(r, size, len(elfMagic))
	if err != nil {
		return nil, err
	}
	if string(magic) == elfMagic {
		return readELF(r, size)
	}
	return readBzImage(r, size)
}

// readHead returns the first min(n, size) bytes of r.
func readHead(r io.ReaderAt, size int64, n int) ([]byte, error) {
	return readSection(r, size, 0, uint64(min(int64(n), size)))
}

// readSection reads [off, off+n) of the size-byte image r into a new
// buffer. The range must lie in the image, so a hostile header can make us
// allocate at most the image's size.
func readSection(r io.ReaderAt, size int64, off, n uint64) ([]byte, error) {
	if size < 0 || off > uint64(size) || n > uint64(size)-off {
		return nil, fmt.Errorf("%w: bytes [%#x, +%#x) beyond the %d-byte file", ErrTruncated, off, n, size)
	}
	b := make([]byte, n)
	if got, err := r.ReadAt(b, int64(off)); got < len(b) {
		return nil, fmt.Errorf("%w: reading bytes [%#x, +%#x): %w", ErrTruncated, off, n, err)
	}
	return b, nil
}
