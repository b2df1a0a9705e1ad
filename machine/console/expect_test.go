package console

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func matched(e *Expect) bool {
	select {
	case <-e.Matched():
		return true
	default:
		return false
	}
}

func TestExpect(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		output  string
		want    bool
		line    string
	}{
		{"simple", `GOVM-INIT-OK`, "boot\r\nGOVM-INIT-OK\r\nmore\r\n", true, "GOVM-INIT-OK"},
		{"anchored with crlf", `^GOVM-INIT-OK$`, "x\r\nGOVM-INIT-OK\r\n", true, "GOVM-INIT-OK"},
		{"anchored lf only", `^marker$`, "a\nmarker\nb\n", true, "marker"},
		{"partial line at end", `login: `, "Debian\r\nhost login: ", true, "host login: "},
		{"no match", `panic`, "all fine\r\n", false, ""},
		{"not across lines", `foo.bar`, "foo\nbar\n", false, ""},
		{"anchor needs the whole line", `^ok$`, "not ok\r\n", false, ""},
		{"submatch in line", `exit code (\d+)`, "[ 1.0] exit code 3\r\n", true, "[ 1.0] exit code 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := regexp.MustCompile(tt.pattern)
			// Every way of cutting the output in two, and byte by byte.
			for cut := 0; cut <= len(tt.output); cut++ {
				e := NewExpect(re)
				e.Write([]byte(tt.output[:cut]))
				e.Write([]byte(tt.output[cut:]))
				if matched(e) != tt.want || e.Line() != tt.line {
					t.Fatalf("cut %d: matched=%v line=%q, want %v %q", cut, matched(e), e.Line(), tt.want, tt.line)
				}
			}
			e := NewExpect(re)
			for i := range len(tt.output) {
				n, err := e.Write([]byte{tt.output[i]})
				if n != 1 || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if matched(e) != tt.want {
				t.Fatalf("byte by byte: matched=%v, want %v", matched(e), tt.want)
			}
		})
	}
}

func TestExpectLongLineBounded(t *testing.T) {
	e := NewExpect(regexp.MustCompile(`END`))
	junk := bytes.Repeat([]byte("x"), 1000)
	for range 3 * ExpectWindow / len(junk) {
		e.Write(junk)
		if len(e.line) > ExpectWindow {
			t.Fatalf("window grew to %d", len(e.line))
		}
	}
	e.Write([]byte("END"))
	if matched(e) {
		t.Fatal("matched a partial line longer than the partial-line limit early")
	}
	e.Write([]byte("\n"))
	if !matched(e) {
		t.Fatal("marker at the end of a long line not found at its newline")
	}
}

func TestExpectOnceAndAfter(t *testing.T) {
	e := NewExpect(regexp.MustCompile(`m`))
	e.Write([]byte("m\nm\n"))
	e.Write([]byte("m\n")) // no second close: no panic
	if !matched(e) || e.Line() != "m" {
		t.Fatalf("matched=%v line=%q", matched(e), e.Line())
	}
}

func TestExpectConcurrent(t *testing.T) {
	e := NewExpect(regexp.MustCompile(`^DONE$`))
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				e.Write([]byte("noise\n"))
			}
		}()
	}
	wg.Wait()
	e.Write([]byte("DONE\r\n"))
	<-e.Matched()
	if !strings.HasPrefix(e.Line(), "DONE") {
		t.Fatalf("line %q", e.Line())
	}
}
