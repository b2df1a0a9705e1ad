package console

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
)

// logFileMode is the permission of a new console log file.
const logFileMode = 0o644

// Tee writes console output to out (normally stdout) and, optionally, to a
// log file (--console-log FILE).
//
// The log is buffered and flushed at every newline, so a govm that is killed
// loses at most a partial line. A log write error is reported once through
// the report function and then logging stops; the guest never notices. Tee is
// safe for concurrent use.
type Tee struct {
	mu     sync.Mutex
	out    io.Writer
	file   *os.File // nil when there is no log, or after Close or an error
	buf    *bufio.Writer
	report func(error)
}

// NewTee returns a Tee to out and, when logPath is not "", to that file,
// created or truncated. report, which may be nil, is called at most once,
// with the first log-file error.
func NewTee(out io.Writer, logPath string, report func(error)) (*Tee, error) {
	if report == nil {
		report = func(error) {}
	}
	t := &Tee{out: out, report: report}
	if logPath == "" {
		return t, nil
	}
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, logFileMode)
	if err != nil {
		return nil, fmt.Errorf("console: opening log: %w", err)
	}
	t.file = f
	t.buf = bufio.NewWriter(f)
	return t, nil
}

// Write implements io.Writer. It returns out's error, if any; the log file
// never makes it fail. All of p always goes to the log.
func (t *Tee) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.file != nil {
		_, err := t.buf.Write(p)
		if err == nil && bytes.IndexByte(p, '\n') >= 0 {
			err = t.buf.Flush()
		}
		if err != nil {
			t.logFailed(fmt.Errorf("console: writing log %s: %w", t.file.Name(), err))
		}
	}
	return t.out.Write(p)
}

// logFailed reports err and stops logging. Called with t.mu held.
func (t *Tee) logFailed(err error) {
	t.report(err)
	t.file.Close() // the write already failed; this error adds nothing
	t.file, t.buf = nil, nil
}

// Close flushes and closes the log file. It is idempotent and safe to call
// from every exit path; later writes go to out only. It returns the flush or
// close error, if any.
func (t *Tee) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.file == nil {
		return nil
	}
	f, buf := t.file, t.buf
	t.file, t.buf = nil, nil
	var err error
	if ferr := buf.Flush(); ferr != nil {
		err = fmt.Errorf("console: writing log %s: %w", f.Name(), ferr)
	}
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("console: closing log %s: %w", f.Name(), cerr)
	}
	return err
}
