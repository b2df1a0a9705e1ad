package main

// Host-tier tests of --disk: bad paths, and the image lock that keeps two
// VMs from writing one image. They use the freestanding test guest, which
// runs on the host's /dev/kvm (no Linux needed).

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/govm/govm/internal/testenv"
)

const (
	// busyGuestArgs keep the test guest running (ring-3 port I/O, hours of
	// it) until the test stops it.
	busyGuestArgs = "pio 1000000000"
	// lockWait bounds the wait for a background govm to lock its disk.
	lockWait = 30 * time.Second
	// lockedFailFast is how quickly a govm must give up on a locked disk.
	lockedFailFast = 5 * time.Second
	// sigtermStatus is govm's exit status when SIGTERM stops it (128+15).
	sigtermStatus = 128 + int(syscall.SIGTERM)
	lockedMessage = "in use by another process (locked)"
)

// govmBinary returns build/govm, as TestBadInput finds it.
func govmBinary(t *testing.T) string {
	t.Helper()
	return testenv.RequireFile(t, filepath.Join(testenv.RepoRoot(t), "build/govm"), "run 'make build'")
}

// oneGovmLine checks that stderr is one "govm: " line containing want and
// no Go panic.
func oneGovmLine(t *testing.T, stderr, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "govm: ") {
		t.Errorf("want one 'govm: ' line on stderr, got %q", stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not mention %q", stderr, want)
	}
	if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
		t.Errorf("Go panic output:\n%s", stderr)
	}
}

func TestDiskBadInput(t *testing.T) {
	govm := govmBinary(t)
	tg := testenv.TestGuest(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.img")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	img := newDiskImage(t, 1<<20, nil)
	for _, tc := range []struct {
		name string
		disk string
		want string // in stderr
		code int
	}{
		{"no such file", "/nonexistent", "/nonexistent", exitError},
		{"directory", dir, "is a directory", exitError},
		{"empty file", empty, "smaller than one sector", exitError},
		{"fifo", fifo, "not a regular file or block device", exitError},
		{"unknown option", img + ",frobnicate", "frobnicate", exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, _, stderr := govmRun(t, govm, "run", "--kernel", tg, "--mem", "64M", "--timeout", "20s", "--disk", tc.disk)
			if code != tc.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			oneGovmLine(t, stderr, tc.want)
			if d := time.Since(start); d > lockedFailFast {
				t.Errorf("took %v to reject the disk", d)
			}
		})
	}
}

// bgGovm is a govm running in the background.
type bgGovm struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
}

// startBusyGovm starts a long-running test guest with --disk disk. The
// test's cleanup kills it if it is still running.
func startBusyGovm(t *testing.T, govm, disk string) *bgGovm {
	t.Helper()
	b := &bgGovm{done: make(chan struct{})}
	b.cmd = exec.Command(govm, "run", "--kernel", testenv.TestGuest(t), "--mem", "64M",
		"--timeout", "120s", "--append", busyGuestArgs, "--disk", disk)
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		b.cmd.Process.Kill()
		<-b.done
	})
	return b
}

// stop sends SIGTERM and returns the exit status.
func (b *bgGovm) stop(t *testing.T) int {
	t.Helper()
	if err := b.cmd.Process.Signal(unix.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v (stderr %q)", err, b.stderr.String())
	}
	select {
	case <-b.done:
	case <-time.After(lockWait):
		t.Fatalf("govm still running %v after SIGTERM", lockWait)
	}
	return b.cmd.ProcessState.ExitCode()
}

// imageLocked reports whether some process holds a flock on path that
// conflicts with an exclusive lock.
func imageLocked(t *testing.T, path string) bool {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true
	}
	if err != nil {
		t.Fatalf("flock %s: %v", path, err)
	}
	unix.Flock(fd, unix.LOCK_UN)
	return false
}

// waitLocked waits until b has locked path (or has died).
func waitLocked(t *testing.T, b *bgGovm, path string) {
	t.Helper()
	deadline := time.Now().Add(lockWait)
	for !imageLocked(t, path) {
		select {
		case <-b.done:
			t.Fatalf("the first govm exited (%v) before locking the disk; stderr:\n%s", b.cmd.ProcessState, b.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first govm did not lock %s within %v", path, lockWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// One image, two VMs: a writer excludes everybody; readers (,ro) share.
func TestDiskLock(t *testing.T) {
	testenv.RequireKVM(t)
	govm := govmBinary(t)
	tg := testenv.TestGuest(t)
	for _, tc := range []struct {
		name          string
		first, second string // disk option suffixes ("" or ",ro")
		shared        bool   // both may run at once
	}{
		{"writer then writer", "", "", false},
		{"writer then reader", "", ",ro", false},
		{"reader then writer", ",ro", "", false},
		{"reader then reader", ",ro", ",ro", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := newDiskImage(t, 1<<20, nil)
			first := startBusyGovm(t, govm, img+tc.first)
			waitLocked(t, first, img)

			start := time.Now()
			// With a free image the second guest runs until its --timeout.
			code, _, stderr := govmRun(t, govm, "run", "--kernel", tg, "--mem", "64M",
				"--timeout", "2s", "--append", busyGuestArgs, "--disk", img+tc.second)
			took := time.Since(start)
			if tc.shared {
				if code != exitTimeout {
					t.Errorf("second read-only govm: exit status %d, want %d (it ran until --timeout); stderr %q", code, exitTimeout, stderr)
				}
			} else {
				if code != exitError {
					t.Errorf("second govm: exit status %d, want %d; stderr %q", code, exitError, stderr)
				}
				oneGovmLine(t, stderr, lockedMessage)
				if took > lockedFailFast {
					t.Errorf("second govm took %v to give up on the locked disk", took)
				}
			}

			select {
			case <-first.done:
				t.Fatalf("the first govm exited early (%v); stderr:\n%s", first.cmd.ProcessState, first.stderr.String())
			default:
			}
			if code := first.stop(t); code != sigtermStatus {
				t.Errorf("first govm after SIGTERM: exit status %d, want %d; stderr %q", code, sigtermStatus, first.stderr.String())
			}
			if imageLocked(t, img) {
				t.Errorf("the image is still locked after both govm processes ended")
			}
		})
	}
}
