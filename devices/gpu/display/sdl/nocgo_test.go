//go:build !cgo

package sdl

import (
	"errors"
	"testing"
)

func TestNoCgo(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrNoCgo) {
		t.Fatalf("New = %v, want ErrNoCgo", err)
	}
}
