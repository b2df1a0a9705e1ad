package console

import (
	"bytes"
	"strings"
	"testing"
)

func TestEscapeFilter(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   string
		quit   bool
		help   bool
	}{
		{"plain", []string{"ls -l\r"}, "ls -l\r", false, false},
		{"quit", []string{"ab\x01xcd"}, "ab", true, false},
		{"quit split", []string{"ab\x01", "xcd"}, "ab", true, false},
		{"double ctrl-a", []string{"\x01\x01"}, "\x01", false, false},
		{"double ctrl-a split", []string{"\x01", "\x01z"}, "\x01z", false, false},
		{"help", []string{"a\x01hb"}, "ab", false, true},
		{"help question mark", []string{"\x01?"}, "", false, true},
		{"help split", []string{"\x01", "h"}, "", false, true},
		{"unknown passes both", []string{"\x01c"}, "\x01c", false, false},
		{"unknown split", []string{"\x01", "c"}, "\x01c", false, false},
		{"trailing escape held", []string{"abc\x01"}, "abc", false, false},
		{"ctrl-c goes through", []string{"\x03"}, "\x03", false, false},
		{"triple ctrl-a then x", []string{"\x01\x01\x01x"}, "\x01", true, false},
		{"empty chunks", []string{"", "\x01", "", "x"}, "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Escape
			var got []byte
			quit, help := false, false
			for _, c := range tt.chunks {
				out, q, h := e.Filter([]byte(c))
				got = append(got, out...)
				help = help || h
				if q {
					quit = true
					break
				}
			}
			if string(got) != tt.want || quit != tt.quit || help != tt.help {
				t.Errorf("got %q quit=%v help=%v, want %q quit=%v help=%v",
					got, quit, help, tt.want, tt.quit, tt.help)
			}
		})
	}
}

// TestEscapeAnySplit checks that where a read boundary falls never changes
// what the guest receives.
func TestEscapeAnySplit(t *testing.T) {
	inputs := []string{
		"echo \x01\x01hi\x01h\x01q done\r",
		"\x01\x01\x01\x01\x01",
		"a\x01b\x01\x01c\x01",
	}
	for _, in := range inputs {
		var whole Escape
		want, _, wantHelp := whole.Filter([]byte(in))
		for i := 0; i <= len(in); i++ {
			for j := i; j <= len(in); j++ {
				var e Escape
				var got []byte
				help := false
				for _, part := range []string{in[:i], in[i:j], in[j:]} {
					out, _, h := e.Filter([]byte(part))
					got = append(got, out...)
					help = help || h
				}
				if !bytes.Equal(got, want) || help != wantHelp {
					t.Fatalf("%q split at %d,%d: got %q help=%v, want %q help=%v", in, i, j, got, help, want, wantHelp)
				}
			}
		}
	}
}

func TestPrintHelp(t *testing.T) {
	var b strings.Builder
	if err := PrintHelp(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "C-a x") {
		t.Fatalf("help text %q lacks the quit key", b.String())
	}
}

func FuzzEscape(f *testing.F) {
	f.Add([]byte("ab\x01xcd"), 2)
	f.Add([]byte("\x01\x01\x01h"), 1)
	f.Fuzz(func(t *testing.T, in []byte, split int) {
		if split < 0 || split > len(in) {
			split = len(in)
		}
		var e Escape
		out, _, _ := e.Filter(in[:split])
		out2, _, _ := e.Filter(in[split:])
		if len(out)+len(out2) > len(in)+1 {
			t.Fatalf("filter grew %d bytes to %d", len(in), len(out)+len(out2))
		}
	})
}
