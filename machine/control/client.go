package control

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"
)

// Client-side limits.
const (
	dialTimeout = 5 * time.Second
	// replyTimeout bounds a whole exchange; a screenshot is the slowest
	// command (encoding a PNG takes well under a second).
	replyTimeout = 30 * time.Second
	// maxBodyLines bounds a multi-line reply.
	maxBodyLines = 10000
)

// RemoteError is an "error <msg>" reply from the VM.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// Do sends one command to the control socket at path and returns the
// reply's body: empty for a plain "ok", the lines of a multi-line reply
// (stats, state, help) otherwise. An "error <msg>" reply comes back as a
// *RemoteError. A relative screenshot path is made absolute against the
// caller's working directory, since the VM's may differ.
func Do(path, command string) (string, error) {
	command = strings.TrimSpace(command)
	if command == "" || strings.ContainsAny(command, "\r\n") {
		return "", fmt.Errorf("control: bad command %q: want one non-empty line", command)
	}
	verb, arg, _ := strings.Cut(command, " ")
	arg = strings.TrimSpace(arg)
	if verb == cmdScreenshot && arg != "" && !filepath.IsAbs(arg) {
		abs, err := filepath.Abs(arg)
		if err != nil {
			return "", fmt.Errorf("control: %w", err)
		}
		command = cmdScreenshot + " " + abs
	}
	if len(command)+1 > MaxLine {
		return "", fmt.Errorf("control: command longer than %d bytes", MaxLine-1)
	}

	c, err := net.DialTimeout("unix", path, dialTimeout)
	if err != nil {
		return "", fmt.Errorf("control: is the VM running with --control %s? %w", path, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(replyTimeout)); err != nil {
		return "", fmt.Errorf("control: %w", err)
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, MaxLine), MaxLine)
	if _, werr := fmt.Fprintf(c, "%s\n", command); werr != nil {
		// The server may have refused the connection with a reply
		// ("error too many connections") and closed it: show that.
		if status, err := readLine(sc); err == nil && strings.HasPrefix(status, replyError+" ") {
			return "", &RemoteError{Msg: strings.TrimPrefix(status, replyError+" ")}
		}
		return "", fmt.Errorf("control: sending %q: %w", verb, werr)
	}
	status, err := readLine(sc)
	if err != nil {
		return "", err
	}
	if msg, ok := strings.CutPrefix(status, replyError+" "); ok {
		return "", &RemoteError{Msg: msg}
	}
	if status != replyOK {
		return "", fmt.Errorf("control: unexpected reply %q", status)
	}
	if verb != cmdStats && verb != cmdState && verb != cmdHelp {
		return "", nil
	}
	var body strings.Builder
	for range maxBodyLines {
		line, err := readLine(sc)
		if err != nil {
			return "", err
		}
		if line == endOfBody {
			return body.String(), nil
		}
		body.WriteString(strings.TrimPrefix(line, endOfBody)) // undo the stuffing
		body.WriteByte('\n')
	}
	return "", fmt.Errorf("control: reply longer than %d lines", maxBodyLines)
}

// readLine reads one reply line; the connection closing is an error.
func readLine(sc *bufio.Scanner) (string, error) {
	if sc.Scan() {
		return sc.Text(), nil
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("control: reading reply: %w", err)
	}
	return "", errors.New("control: the VM closed the connection without a full reply")
}
