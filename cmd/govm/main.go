// Command govm runs a Linux kernel (or the project's test guest) in a KVM
// virtual machine. See `govm --help`.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Exit codes, documented in `govm run --help`.
const (
	exitOK      = 0 // powered off, or --expect matched
	exitError   = 1 // govm could not start or run the VM
	exitUsage   = 2 // bad command line
	exitTimeout = 3 // --timeout expired
	exitCrash   = 4 // the guest crashed (triple fault, KVM internal error)
	exitNoMatch = 5 // the guest stopped before --expect matched
)

// exitError carries an exit code through cobra.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &codeError{code: code, err: err} }

var version = "dev"

func init() {
	// SDL's window and event loop must run on the process's main thread:
	// keep the main goroutine on it (see session.withWindow).
	runtime.LockOSThread()
}

// processStart is taken as early as Go allows, for the start-up figure.
var processStart = time.Now()

func main() {
	root := &cobra.Command{
		Use:   "govm",
		Short: "govm: a small KVM hypervisor with a built-in virtio-gpu",
		Long: `govm boots a Linux kernel in a KVM virtual machine, with its console on
your terminal. It is small enough to read, and built for CI smoke tests:
wait for a console marker, take the exit code, done.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runCmd(), probeCmd(), ctlCmd(), versionCmd())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(exitUsage, fmt.Errorf("%w (see '%s --help')", err, c.CommandPath()))
	})
	err := root.Execute()
	if err == nil {
		return
	}
	code := exitError
	var ce *codeError
	if errors.As(err, &ce) {
		code = ce.code
	} else if isUsageError(err) {
		code = exitUsage
	}
	if err.Error() != "" {
		fmt.Fprintf(os.Stderr, "govm: %v\n", err)
	}
	os.Exit(code)
}

// isUsageError recognises cobra's own argument errors.
func isUsageError(err error) bool {
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires "} {
		if strings.Contains(err.Error(), p) {
			return true
		}
	}
	return false
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print govm's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Printf("govm %s\n", version)
		},
	}
}
