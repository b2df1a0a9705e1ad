package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govm/govm/internal/testenv"
)

// Each bad input gives one clear line on stderr and a non-zero exit status,
// never a Go panic or a hang.
func TestBadInput(t *testing.T) {
	root := testenv.RepoRoot(t)
	govm := testenv.RequireFile(t, filepath.Join(root, "build/govm"), "run 'make build'")
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("this is not a kernel\n"), 0o644)
	trunc := filepath.Join(dir, "trunc")
	// A bzImage cut short: a valid-looking setup header, no kernel.
	hdr := make([]byte, 0x400)
	hdr[0x1f1] = 4 // setup_sects
	copy(hdr[0x1fe:], []byte{0x55, 0xaa})
	copy(hdr[0x202:], "HdrS")
	hdr[0x206], hdr[0x207] = 0x0f, 0x02
	os.WriteFile(trunc, hdr, 0o644)
	big := filepath.Join(dir, "big.img")
	f, _ := os.Create(big)
	f.Truncate(64 << 20)
	f.Close()
	tg := testenv.TestGuest(t)

	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
		code int
	}{
		{"no such kernel", []string{"run", "--kernel", "/nonexistent"}, "/nonexistent", exitError},
		{"truncated bzImage", []string{"run", "--kernel", trunc}, "trunc", exitError},
		{"text file as kernel", []string{"run", "--kernel", text}, "notes.txt", exitError},
		{"mem 1", []string{"run", "--kernel", tg, "--mem", "1"}, "too small", exitUsage},
		{"cpus 0", []string{"run", "--kernel", tg, "--cpus", "0"}, "vCPUs", exitUsage},
		{"initrd larger than memory", []string{"run", "--kernel", tg, "--mem", "32M", "--initrd", big}, "does not fit", exitError},
		{"no kernel", []string{"run"}, "--kernel", exitUsage},
		{"bad flag", []string{"run", "--frobnicate"}, "unknown flag", exitUsage},
		{"bad mem", []string{"run", "--kernel", tg, "--mem", "lots"}, "--mem", exitUsage},
		{"bad expect", []string{"run", "--kernel", tg, "--expect", "("}, "--expect", exitUsage},
		{"unknown command", []string{"frobnicate"}, "unknown command", exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := govmRun(t, govm, tc.args...)
			if code != tc.code {
				t.Errorf("exit status %d, want %d", code, tc.code)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "govm: ") {
				t.Errorf("want one 'govm: ' line on stderr, got %q", stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tc.want)
			}
			if strings.Contains(stderr+stdout, "goroutine") || strings.Contains(stderr+stdout, "panic") {
				t.Errorf("Go panic output:\n%s", stderr)
			}
		})
	}
}
