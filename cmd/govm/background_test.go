package main

import (
	"errors"
	"fmt"
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
	t.Cleanup(b.kill)
	return b
}

// waitFor waits until the console shows s, or fails the test if govm
// exits first or within passes.
func (b *background) waitFor(t *testing.T, s string, within time.Duration) {
	t.Helper()
	if err := b.boot(s, within); err != nil {
		t.Fatalf("%v\n%s", err, b.logs())
	}
}

// startBooted starts govm like startBackground and waits until its console
// shows marker. Inside the nested harness a boot that dies the way that
// stack's own failures look (nestedFlake: a triple fault, govm's
// --timeout) or shows no marker within `within` (a stuck guest) is
// killed and started again, like govmRun does, at most nestedRetries
// times, each logged as NESTED-FLAKE.
func startBooted(t *testing.T, govm string, env []string, marker string, within time.Duration, args ...string) *background {
	t.Helper()
	for attempt := 1; ; attempt++ {
		b := startBackground(t, govm, env, args...)
		why := b.boot(marker, within)
		if why == nil {
			return b
		}
		var flake flakeError
		if !errors.As(why, &flake) || attempt > nestedRetries || !nested() {
			t.Fatalf("%v\n%s", why, b.logs())
		}
		b.kill()
		logFlake(t, why.Error(), attempt, b.errOut.String(), b.out.String())
	}
}

// flakeError is a boot failure that looks like the nested stack's.
type flakeError struct{ why string }

func (e flakeError) Error() string { return e.why }

// boot waits until the console shows marker and says why not if it does
// not.
func (b *background) boot(marker string, within time.Duration) error {
	deadline := time.After(within)
	for !strings.Contains(b.out.String(), marker) {
		select {
		case <-b.exited:
			code := -1
			var ee *exec.ExitError
			if errors.As(b.err, &ee) {
				code = ee.ExitCode()
			}
			if why := nestedFlake(code, b.errOut.String()); why != "" {
				return flakeError{why}
			}
			return fmt.Errorf("govm exited (%v) before the console showed %q", b.err, marker)
		case <-deadline:
			return flakeError{fmt.Sprintf("the console did not show %q within %v", marker, within)}
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// kill stops govm and waits for it.
func (b *background) kill() {
	select {
	case <-b.exited:
	default:
		_ = b.cmd.Process.Kill()
		<-b.exited
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
