package console

import (
	"bytes"
	"regexp"
	"sync"
)

// Look-back limits of Expect.
const (
	// ExpectWindow bounds the bytes of one line Expect keeps: a longer
	// line is matched on its last ExpectWindow bytes.
	ExpectWindow = 64 << 10
	// partialLineMax bounds the unterminated line Expect re-matches after
	// every write. Markers are short; a longer partial line waits for its
	// newline. This keeps byte-at-a-time console output linear.
	partialLineMax = 4 << 10
)

// Expect is an io.Writer that watches console output for a regular
// expression and closes Matched() the first time it matches.
//
// Matching is per line: the pattern sees each line without its "\n" and
// without a "\r" just before it, so "\r\n" output and `^...$` anchors work.
// The current, unterminated line is matched too after every write (when it is
// at most 4 KiB), so a marker printed without a newline is found; a pattern
// ending in `$` may then match a line prefix that ends at a write boundary.
// A pattern cannot span lines.
//
// Expect only watches: it changes nothing, never returns an error and always
// consumes all of p, so it can sit first in an io.MultiWriter. After the match
// it ignores further output. It is safe for concurrent use.
type Expect struct {
	re *regexp.Regexp

	mu      sync.Mutex
	line    []byte // the current line so far, at most ExpectWindow bytes
	done    bool
	match   string
	matched chan struct{}
}

// NewExpect returns an Expect for re.
func NewExpect(re *regexp.Regexp) *Expect {
	return &Expect{re: re, matched: make(chan struct{})}
}

// Matched is closed once the pattern has matched.
func (e *Expect) Matched() <-chan struct{} { return e.matched }

// Line returns the line that matched, without its line ending, or "" before a
// match.
func (e *Expect) Line() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.match
}

// Write implements io.Writer.
func (e *Expect) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return len(p), nil
	}
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			e.appendLine(rest)
			if len(e.line) <= partialLineMax {
				e.check()
			}
			break
		}
		e.appendLine(rest[:i])
		if e.check() {
			break
		}
		e.line = e.line[:0]
		rest = rest[i+1:]
	}
	return len(p), nil
}

// appendLine adds b to the current line, keeping its last ExpectWindow bytes.
func (e *Expect) appendLine(b []byte) {
	if len(b) >= ExpectWindow {
		e.line = append(e.line[:0], b[len(b)-ExpectWindow:]...)
		return
	}
	if over := len(e.line) + len(b) - ExpectWindow; over > 0 {
		e.line = append(e.line[:0], e.line[over:]...)
	}
	e.line = append(e.line, b...)
}

// check matches the current line and reports (and records) a match.
func (e *Expect) check() bool {
	l := bytes.TrimSuffix(e.line, []byte{'\r'})
	if !e.re.Match(l) {
		return false
	}
	e.done = true
	e.match = string(l)
	e.line = nil
	close(e.matched)
	return true
}
