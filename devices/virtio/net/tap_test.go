package net

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// childEnv names the test a re-executed test binary should run for real.
const childEnv = "GOVM_NET_TEST_CHILD"

// inChild re-runs the calling test in a child process started through
// wrapper (unshare -n, so taps are created in a fresh network namespace and
// the host's is never touched). It returns true in the child, where the
// test does its work, and false in the parent, which has already reported
// the child's result.
func inChild(t *testing.T, wrapper ...string) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	if _, err := exec.LookPath(wrapper[0]); err != nil {
		t.Skipf("no %s: %v", wrapper[0], err)
	}
	args := append(append([]string{}, wrapper...), os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("child %q:\n%s", args, out)
	switch {
	case err != nil:
		t.Fatalf("child failed: %v", err)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()):
		t.Skip("skipped in the child")
	case !strings.Contains(string(out), "--- PASS: "+t.Name()):
		t.Fatal("child did not run the test")
	}
	return false
}

func TestCheckIfName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"", true}, // the kernel picks one
		{"tap0", true},
		{"tap%d", true},
		{"abcdefghijklmno", true}, // 15 bytes
		{"abcdefghijklmnop", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"a:b", false},
		{"a b", false},
		{"a\x00", false},
	} {
		err := checkIfName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("checkIfName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestOpenTapNameTooLong(t *testing.T) {
	_, err := OpenTap("averyveryverylongname")
	if err == nil || !strings.Contains(err.Error(), "longer than 15") {
		t.Fatalf("err = %v, want a name-too-long error", err)
	}
}

// TestOpenTapNetns opens a real tap in a fresh network namespace, and
// checks the busy and wrong-type errors there.
func TestOpenTapNetns(t *testing.T) {
	if !inChild(t, "unshare", "-n") {
		return
	}
	tap, err := OpenTap("govmt0")
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	if tap.Name() != "govmt0" {
		t.Errorf("Name = %q", tap.Name())
	}
	sz, err := unix.IoctlGetInt(int(tap.f.Fd()), unix.TUNGETVNETHDRSZ)
	if err != nil || sz != hdrLen {
		t.Errorf("TUNGETVNETHDRSZ = %d, %v; want %d", sz, err, hdrLen)
	}

	_, err = OpenTap("govmt0")
	if !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), "busy") {
		t.Errorf("second open: %v, want busy", err)
	}
	_, err = OpenTap("lo")
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "not a single-queue tap") {
		t.Errorf("open lo: %v, want invalid", err)
	}

	auto, err := OpenTap("")
	if err != nil {
		t.Fatal(err)
	}
	defer auto.Close()
	if !strings.HasPrefix(auto.Name(), "tap") {
		t.Errorf("kernel-chosen name %q", auto.Name())
	}
}

// TestOpenTapPermission drops CAP_NET_ADMIN (in a fresh network namespace
// owned by the initial user namespace) and expects the helpful message.
func TestOpenTapPermission(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("no setpriv")
	}
	if !inChild(t, "unshare", "-n", "setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin") {
		return
	}
	_, err := OpenTap("govmt1")
	want := `tap "govmt1": permission denied (need CAP_NET_ADMIN, or create it with 'ip tuntap add govmt1 mode tap user $USER')`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("errors.Is(err, fs.ErrPermission) = false for %v", err)
	}
}

// TestOpenTapNoDevice hides /dev/net/tun under a tmpfs in a private mount
// namespace.
func TestOpenTapNoDevice(t *testing.T) {
	if !inChild(t, "unshare", "-m", "-n", "sh", "-c", `mount -t tmpfs none /dev/net && exec "$0" "$@"`) {
		return
	}
	_, err := OpenTap("govmt2")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no /dev/net/tun") {
		t.Fatalf("err = %v, want no /dev/net/tun", err)
	}
}
