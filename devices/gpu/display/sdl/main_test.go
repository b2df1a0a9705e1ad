//go:build cgo

package sdl

import (
	"os"
	"runtime"
	"testing"
)

// SDL must run on the main OS thread. Locking it in init keeps the main
// goroutine there; TestMain runs the tests on another goroutine and serves
// onMain's requests on the main one.
func init() { runtime.LockOSThread() }

var mainFuncs = make(chan func())

func TestMain(m *testing.M) {
	result := make(chan int)
	go func() { result <- m.Run() }()
	for {
		select {
		case f := <-mainFuncs:
			f()
		case code := <-result:
			os.Exit(code)
		}
	}
}

// goMain starts f on the main thread and returns a channel closed when f
// returns. Only one function runs on the main thread at a time.
func goMain(f func()) <-chan struct{} {
	done := make(chan struct{})
	mainFuncs <- func() {
		defer close(done)
		f()
	}
	return done
}

// onMain runs f on the main thread and waits for it.
func onMain(f func()) { <-goMain(f) }
