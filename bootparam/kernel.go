package bootparam

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// MaxKernelFile bounds the size of a kernel file LoadKernel will read. A
// Debian bzImage is about 8 MiB and a vmlinux with debug info a few hundred.
const MaxKernelFile = 1 << 30

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

// Kernel is a parsed kernel image. Its byte slices alias the file's data.
type Kernel struct {
	Format Format

	// bzImage only.
	Header  *SetupHeader // the parsed setup header
	hdrRaw  []byte       // the setup header bytes, file offsets 0x1f1 up to its end
	Payload []byte       // the protected-mode kernel: the file after the setup sectors

	// ELF only.
	LoadSegments []LoadSegment // PT_LOAD segments with a non-zero memory size
	PVHEntry     uint32        // XEN_ELFNOTE_PHYS32_ENTRY: 32-bit entry point
}

// LoadSegment is one ELF PT_LOAD segment: FileData is copied to Addr and the
// rest, up to MemSize, is zero.
type LoadSegment struct {
	Addr     uint64 // p_paddr
	FileData []byte // p_filesz bytes of the file
	MemSize  uint64 // p_memsz >= len(FileData)
}

// LoadKernel reads the file at path and parses it as an ELF image (if it
// starts with the ELF magic) or a bzImage. Errors name the file.
func LoadKernel(path string) (*Kernel, error) {
	data, err := readBounded(path, MaxKernelFile)
	if err != nil {
		return nil, fmt.Errorf("kernel %q: %w", path, err)
	}
	k, err := ParseKernel(data)
	if err != nil {
		return nil, fmt.Errorf("kernel %q: %w", path, err)
	}
	return k, nil
}

// ParseKernel parses an in-memory image: ELF if it starts with the ELF magic,
// bzImage otherwise.
func ParseKernel(data []byte) (*Kernel, error) {
	if bytes.HasPrefix(data, []byte(elfMagic)) {
		return ParseELF(data)
	}
	return ParseBzImage(data)
}

// readBounded reads a whole file, refusing one larger than limit.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Size the buffer from the file, so a 60 MiB vmlinux is read in one
	// allocation instead of a doubling io.ReadAll.
	var data []byte
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() <= limit {
		data = make([]byte, st.Size())
		if _, err := io.ReadFull(f, data); err != nil {
			return nil, err
		}
		// The file may have grown since Stat: the limit still applies.
		var one [1]byte
		if n, _ := f.Read(one[:]); n > 0 {
			rest, err := io.ReadAll(io.LimitReader(f, limit))
			if err != nil {
				return nil, err
			}
			data = append(append(data, one[0]), rest...)
		}
	} else if data, err = io.ReadAll(io.LimitReader(f, limit+1)); err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: file larger than %s", ErrNotKernel, fmtSize(uint64(limit)))
	}
	return data, nil
}
