package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/govm/govm/internal/testenv"
)

// background is a govm run that the test talks to while it runs: out is
// its console (stdout), errOut its stderr. exited is closed when it has
// exited, with Wait's result in err. It is killed when the test ends.
type background struct {
	cmd         *exec.Cmd
	out, errOut testenv.Buffer
	exited      chan struct{}
	err         error
}

// startBackground starts govm with args, and extra environment variables
// env added to the test's.
func startBackground(t *testing.T, govm string, env []string, args ...string) *background {
	t.Helper()
	b := &background{cmd: exec.Command(govm, args...), exited: make(chan struct{})}
	if len(env) > 0 {
		b.cmd.Env = append(b.cmd.Environ(), env...)
	}
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.errOut
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		b.err = b.cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-b.exited:
		default:
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
	})
	return b
}

// waitFor waits until the console shows s, or fails the test if govm
// exits first or within passes.
func (b *background) waitFor(t *testing.T, s string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for !strings.Contains(b.out.String(), s) {
		select {
		case <-b.exited:
			t.Fatalf("govm exited (%v) before the console showed %q\n%s", b.err, s, b.logs())
		case <-deadline:
			t.Fatalf("the console did not show %q within %v\n%s", s, within, b.logs())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitExit waits for govm to exit, or fails the test after within.
func (b *background) waitExit(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-b.exited:
		return b.err
	case <-time.After(within):
		t.Fatalf("govm did not exit within %v\n%s", within, b.logs())
		return nil
	}
}

// logs is govm's stderr and console, for a failure message.
func (b *background) logs() string {
	return "stderr:\n" + b.errOut.String() + "\nconsole:\n" + b.out.String()
}
