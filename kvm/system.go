package kvm

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// APIVersion is the only KVM API version there has ever been in mainline.
const APIVersion = 12

// DevicePath is where the KVM device lives.
const DevicePath = "/dev/kvm"

// System is an open /dev/kvm.
type System struct {
	fd       int
	mmapSize int
}

// maxCPUIDEntries bounds KVM_GET_SUPPORTED_CPUID; the kernel caps it at 256.
const maxCPUIDEntries = 256

// Open opens /dev/kvm, checks the API version and the capabilities govm
// needs. Every error says what to do about it.
func Open() (*System, error) {
	return OpenPath(DevicePath)
}

// OpenPath is Open on another device node (for tests).
func OpenPath(path string) (*System, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ENOENT):
			return nil, fmt.Errorf("kvm: %s does not exist: load the kvm module or enable virtualisation: %w", path, err)
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			return nil, fmt.Errorf("kvm: no permission to open %s: add yourself to the kvm group: %w", path, err)
		}
		return nil, fmt.Errorf("kvm: open %s: %w", path, err)
	}
	s := &System{fd: fd}
	v, err := ioctl(fd, kvmGetAPIVersion, 0)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("kvm: %s is not a KVM device: %w", path, err)
	}
	if v != APIVersion {
		s.Close()
		return nil, fmt.Errorf("kvm: API version %d, want %d", v, APIVersion)
	}
	n, err := ioctl(fd, kvmGetVCPUMmapSize, 0)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.mmapSize = int(n)
	return s, nil
}

// Close closes /dev/kvm. VMs created from it stay valid.
func (s *System) Close() error { return unix.Close(s.fd) }

// APIVersion returns KVM_GET_API_VERSION.
func (s *System) APIVersion() (int, error) {
	v, err := ioctl(s.fd, kvmGetAPIVersion, 0)
	return int(v), err
}

// Check returns KVM_CHECK_EXTENSION for c: 0 means unsupported, a positive
// value is supported (some capabilities return a count).
func (s *System) Check(c Cap) (int, error) {
	v, err := ioctl(s.fd, kvmCheckExtension, uintptr(c))
	return int(v), err
}

// CheckRequired reports every missing capability in one error.
func (s *System) CheckRequired() error {
	var missing []Cap
	for _, c := range RequiredCaps {
		if v, err := s.Check(c); err != nil || v <= 0 {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return &MissingCapError{Missing: missing}
	}
	return nil
}

// VCPUMmapSize is the size of each vCPU's shared kvm_run area.
func (s *System) VCPUMmapSize() int { return s.mmapSize }

// SupportedCPUID returns KVM_GET_SUPPORTED_CPUID.
func (s *System) SupportedCPUID() ([]CPUIDEntry, error) {
	return getCPUID(s.fd, maxCPUIDEntries)
}

// CreateVM creates a VM.
func (s *System) CreateVM() (*VM, error) {
	fd, err := ioctl(s.fd, kvmCreateVM, 0)
	if err != nil {
		return nil, err
	}
	return &VM{fd: int(fd), mmapSize: s.mmapSize}, nil
}

// Available reports whether /dev/kvm can be opened read-write here.
func Available() bool {
	f, err := os.OpenFile(DevicePath, os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
