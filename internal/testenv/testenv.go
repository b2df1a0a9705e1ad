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

// RepoRoot finds the repository root (the directory with go.mod) from the
// test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(dir + "/go.mod"); err == nil {
			return dir
		}
		parent := dir[:max(0, lastSlash(dir))]
		if parent == "" || parent == dir {
			t.Fatal("repository root (go.mod) not found")
		}
		dir = parent
	}
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

// TestGuest returns the path of the project's freestanding test guest
// (build/testguest/testguest.elf, built by `make guest`).
func TestGuest(t testing.TB) string {
	t.Helper()
	return RequireFile(t, RepoRoot(t)+"/build/testguest/testguest.elf", "run 'make guest'")
}
