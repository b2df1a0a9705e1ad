// Package control is a small control socket for a running VM
// (govm run --control PATH): a Unix stream socket speaking a line-oriented
// text protocol, one command per line:
//
//	screenshot /abs/path.png   → ok | error <msg>
//	stats                      → ok, the statistics lines, then a line "."
//	state                      → ok, what the vCPUs and devices are doing, then "."
//	powerbutton                → ok | error <msg>
//	quit                       → ok, then the VM stops
//	help                       → ok, the command list, then "."
//
// Anything else gets "error unknown command". A reply's first line is
// always "ok" or "error <msg>"; the multi-line replies (stats, state, help)
// follow it with their lines and a "." line, and a body line that starts
// with "." gets one more "." in front (as in SMTP), which Do removes.
// Blank lines are ignored. Try it by hand with
// `socat - UNIX-CONNECT:PATH`.
package control

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Handler is what the control socket drives: the VM. Its methods may be
// called from several connections at once.
type Handler interface {
	// Screenshot writes scanout 0 to path (absolute) as a PNG.
	Screenshot(path string) error
	// Stats returns human-readable statistics, one item per line.
	Stats() string
	// State pauses the VM for a moment and describes what its vCPUs and
	// devices are doing.
	State() (string, error)
	// PowerButton presses the ACPI power button (the guest shuts down).
	PowerButton() error
	// Quit stops the VM. It is called after the "ok" has been sent and
	// the connection closed, outside the server's bookkeeping, so it may
	// call Server.Close.
	Quit()
}

// Limits of the protocol and the server.
const (
	// MaxLine is the longest command line accepted, newline included.
	MaxLine = 4096
	// defaultMaxConns is how many connections are served at once; more
	// are told "error too many connections" and closed.
	defaultMaxConns = 4
	// defaultIdleTimeout is how long a connection may wait between lines.
	defaultIdleTimeout = 30 * time.Second
	// writeTimeout bounds sending one reply to a client that does not read.
	writeTimeout = 10 * time.Second
	// probeTimeout bounds the connection attempt that tells a live socket
	// from a stale one.
	probeTimeout = time.Second
	// socketMode is the socket file's permission: the owner only.
	socketMode = 0o600
)

// The protocol's words.
const (
	replyOK    = "ok"
	replyError = "error"
	endOfBody  = "."

	cmdScreenshot  = "screenshot"
	cmdStats       = "stats"
	cmdState       = "state"
	cmdPowerButton = "powerbutton"
	cmdQuit        = "quit"
	cmdHelp        = "help"
)

// helpText is the body of the help reply.
const helpText = `screenshot /abs/path.png  write the display to a PNG file
stats                     VM statistics
state                     what the vCPUs and devices are doing now
powerbutton               press the ACPI power button
quit                      stop the VM
help                      this list`

// config holds the tunables; tests shorten them.
type config struct {
	maxConns    int
	idleTimeout time.Duration
}

// Server is a listening control socket.
type Server struct {
	ln      *net.UnixListener
	path    string
	h       Handler
	cfg     config
	slots   chan struct{} // one token per connection being served
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
	once    sync.Once
	err     error
}

// Listen creates the control socket at path (mode 0600) and serves it
// until Close. It refuses if path is a socket another process is
// listening on, or is not a socket at all; a stale socket (nobody
// listening) is removed first.
func Listen(path string, h Handler) (*Server, error) {
	return listen(path, h, config{maxConns: defaultMaxConns, idleTimeout: defaultIdleTimeout})
}

func listen(path string, h Handler, cfg config) (*Server, error) {
	if h == nil {
		return nil, errors.New("control: nil handler")
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	// Between bind and chmod the socket has mode 0777 minus the umask;
	// with the usual umask (022) nobody else may write to it, which is
	// what connecting takes.
	if err := os.Chmod(path, socketMode); err != nil {
		ln.Close() // also removes the socket file
		return nil, fmt.Errorf("control: %w", err)
	}
	s := &Server{
		ln: ln, path: path, h: h, cfg: cfg,
		slots: make(chan struct{}, cfg.maxConns),
		conns: make(map[net.Conn]struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// removeStale makes path free for a new socket: nothing there, or a
// socket nobody listens on (which it removes).
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("control: %s exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, probeTimeout)
	if err == nil {
		c.Close()
		return fmt.Errorf("control: %s is in use by another process (another govm?)", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("control: cannot tell whether %s is in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("control: removing stale socket: %w", err)
	}
	return nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Close stops listening, closes every connection, waits for their
// goroutines and removes the socket file. Calling it again returns the
// first result.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closing = true
		for c := range s.conns {
			c.Close() // unblocks the connection's read
		}
		s.mu.Unlock()
		// Closing a listener made by ListenUnix also unlinks its path.
		if err := s.ln.Close(); err != nil {
			s.err = fmt.Errorf("control: %w", err)
		}
		s.wg.Wait()
	})
	return s.err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure (out of file descriptors): back off
			// rather than spin.
			time.Sleep(acceptBackoff)
			continue
		}
		select {
		case s.slots <- struct{}{}:
		default:
			c.SetWriteDeadline(time.Now().Add(writeTimeout))
			io.WriteString(c, replyError+" too many connections\n")
			c.Close()
			continue
		}
		if !s.track(c) {
			<-s.slots
			c.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			quit := s.serve(c)
			s.untrack(c)
			<-s.slots
			s.wg.Done()
			if quit {
				s.h.Quit() // outside the WaitGroup: Quit may call Close
			}
		}()
	}
}

// acceptBackoff is the pause after a failed Accept.
const acceptBackoff = 50 * time.Millisecond

// track registers c so that Close can close it; false if closing.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

// serve runs one connection's commands until EOF, an error or quit, and
// reports whether the client asked to quit.
func (s *Server) serve(c net.Conn) (quit bool) {
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, MaxLine), MaxLine)
	w := bufio.NewWriter(c)
	for {
		c.SetReadDeadline(time.Now().Add(s.cfg.idleTimeout))
		if !sc.Scan() {
			if errors.Is(sc.Err(), bufio.ErrTooLong) {
				s.reply(c, w, replyError+" line too long")
			}
			return false
		}
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		reply, quit := s.execute(line)
		if !s.reply(c, w, reply) || quit {
			return quit
		}
	}
}

// reply sends text (one or more lines, without the final newline).
func (s *Server) reply(c net.Conn, w *bufio.Writer, text string) bool {
	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	w.WriteString(text)
	w.WriteByte('\n')
	return w.Flush() == nil
}

// execute runs one command line and returns its reply.
func (s *Server) execute(line string) (reply string, quit bool) {
	verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	switch verb {
	case cmdScreenshot:
		if arg == "" || !filepath.IsAbs(arg) {
			return errorReply("screenshot needs an absolute path"), false
		}
		if err := s.h.Screenshot(filepath.Clean(arg)); err != nil {
			return errorReply(err.Error()), false
		}
		return replyOK, false
	case cmdStats, cmdHelp:
		if arg != "" {
			return errorReply(verb + " takes no argument"), false
		}
		body := helpText
		if verb == cmdStats {
			body = s.h.Stats()
		}
		return replyOK + "\n" + stuff(body) + endOfBody, false
	case cmdState:
		if arg != "" {
			return errorReply(verb + " takes no argument"), false
		}
		body, err := s.h.State()
		if err != nil {
			return errorReply(err.Error()), false
		}
		return replyOK + "\n" + stuff(body) + endOfBody, false
	case cmdPowerButton:
		if arg != "" {
			return errorReply(verb + " takes no argument"), false
		}
		if err := s.h.PowerButton(); err != nil {
			return errorReply(err.Error()), false
		}
		return replyOK, false
	case cmdQuit:
		if arg != "" {
			return errorReply(verb + " takes no argument"), false
		}
		return replyOK, true
	}
	return errorReply("unknown command"), false
}

// errorReply makes an error line; msg loses any line breaks so that the
// reply stays one line.
func errorReply(msg string) string {
	return replyError + " " + strings.Join(strings.Fields(msg), " ")
}

// stuff turns body into reply lines, each ending in a newline, with an
// extra "." in front of any line that starts with ".".
func stuff(body string) string {
	body = strings.TrimRight(body, "\n")
	if body == "" {
		return ""
	}
	var b strings.Builder
	for line := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(line, endOfBody) {
			b.WriteString(endOfBody)
		}
		b.WriteString(strings.TrimSuffix(line, "\r"))
		b.WriteByte('\n')
	}
	return b.String()
}
