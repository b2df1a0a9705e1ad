package console

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestTeeLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.log")
	var out bytes.Buffer
	tee, err := NewTee(&out, path, func(err error) { t.Errorf("unexpected report: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	tee.Write([]byte("line one\r\n"))
	got, _ := os.ReadFile(path)
	if string(got) != "line one\r\n" {
		t.Fatalf("log after a newline = %q: not flushed", got)
	}
	tee.Write([]byte("partial"))
	if err := tee.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tee.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	tee.Write([]byte(" after close"))
	got, _ = os.ReadFile(path)
	if string(got) != "line one\r\npartial" {
		t.Fatalf("log = %q", got)
	}
	if out.String() != "line one\r\npartial after close" {
		t.Fatalf("out = %q", out.String())
	}
}

func TestTeeNoLog(t *testing.T) {
	var out bytes.Buffer
	tee, err := NewTee(&out, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := tee.Write([]byte("hi")); n != 2 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := tee.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTeeLogErrorReportedOnce(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	var reports []error
	var out bytes.Buffer
	tee, err := NewTee(&out, "/dev/full", func(err error) { reports = append(reports, err) })
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := tee.Write([]byte("boot\n")); err != nil {
			t.Fatalf("log error leaked into Write: %v", err)
		}
	}
	if len(reports) != 1 || !errors.Is(reports[0], syscall.ENOSPC) {
		t.Fatalf("reports = %v, want one ENOSPC", reports)
	}
	if out.String() != "boot\nboot\nboot\n" {
		t.Fatalf("out = %q", out.String())
	}
	if err := tee.Close(); err != nil {
		t.Fatalf("Close after a reported error: %v", err)
	}
}

func TestTeeBadPath(t *testing.T) {
	_, err := NewTee(&bytes.Buffer{}, filepath.Join(t.TempDir(), "no", "such", "dir"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}
