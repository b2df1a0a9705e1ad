// Package testenv decides whether tests that need /dev/kvm (or a Linux guest
// image) run, skip, or fail. In CI, GOVM_REQUIRE_KVM=1 turns every such skip
// into a failure, so a green run means the tests really ran.
package testenv

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// RequireKVM skips t when /dev/kvm cannot be opened, or fails it when
// GOVM_REQUIRE_KVM=1.
func RequireKVM(t testing.TB) {
	t.Helper()
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
		return
	}
	Missing(t, "/dev/kvm: "+err.Error())
}

// Missing skips or (under GOVM_REQUIRE_KVM=1) fails t for a missing
// prerequisite.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("GOVM_REQUIRE_KVM") == "1" {
		t.Fatalf("required for this test but missing: %s", what)
	}
	t.Skipf("skipping: %s (set GOVM_REQUIRE_KVM=1 to make this a failure)", what)
}

// RequireFile returns path if it exists, else skips/fails like Missing.
func RequireFile(t testing.TB, path, hint string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, path+" ("+hint+")")
	}
	return path
}
