package control

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeVM is a Handler that records what it was asked.
type fakeVM struct {
	mu          sync.Mutex
	shots       []string
	shotErr     error
	stats       string
	state       string
	stateErr    error
	powerErr    error
	powerPushes int
	quits       atomic.Int32
	onQuit      func()
}

func (v *fakeVM) Screenshot(path string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.shots = append(v.shots, path)
	return v.shotErr
}

func (v *fakeVM) Stats() string { return v.stats }

func (v *fakeVM) State() (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.state, v.stateErr
}

func (v *fakeVM) setState(s string, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.state, v.stateErr = s, err
}

func (v *fakeVM) PowerButton() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.powerPushes++
	return v.powerErr
}

func (v *fakeVM) Quit() {
	v.quits.Add(1)
	if v.onQuit != nil {
		v.onQuit()
	}
}

// start listens on a fresh socket with test-sized limits.
func start(t *testing.T, vm *fakeVM, cfg config) (*Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctl.sock")
	if cfg.maxConns == 0 {
		cfg.maxConns = defaultMaxConns
	}
	if cfg.idleTimeout == 0 {
		cfg.idleTimeout = 5 * time.Second
	}
	s, err := listen(path, vm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// rawConn is a client speaking the protocol by hand.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, path string) *rawConn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) line() string {
	r.t.Helper()
	l, err := r.r.ReadString('\n')
	if err != nil {
		r.t.Fatalf("reading a reply: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\n")
}

// expectEOF checks that the server closed the connection.
func (r *rawConn) expectEOF() {
	r.t.Helper()
	if l, err := r.r.ReadString('\n'); err == nil {
		r.t.Fatalf("connection still open, got %q", l)
	}
}

func TestCommands(t *testing.T) {
	vm := &fakeVM{stats: "exits 12\n.hidden 3\n"}
	_, path := start(t, vm, config{})
	c := dial(t, path)

	c.send("screenshot /tmp/a b.png\n")
	if got := c.line(); got != "ok" {
		t.Errorf("screenshot: %q", got)
	}
	c.send("  screenshot   /tmp/x/../c.png  \r\n")
	if got := c.line(); got != "ok" {
		t.Errorf("screenshot: %q", got)
	}
	if fmt.Sprint(vm.shots) != "[/tmp/a b.png /tmp/c.png]" {
		t.Errorf("shots %q", vm.shots)
	}

	c.send("\n   \nstats\n")
	for _, want := range []string{"ok", "exits 12", "..hidden 3", "."} {
		if got := c.line(); got != want {
			t.Errorf("stats line %q, want %q", got, want)
		}
	}
	c.send("powerbutton\n")
	if got := c.line(); got != "ok" || vm.powerPushes != 1 {
		t.Errorf("powerbutton: %q, %d pushes", got, vm.powerPushes)
	}
	c.send("help\n")
	if got := c.line(); got != "ok" {
		t.Errorf("help: %q", got)
	}
	for l := c.line(); l != "."; l = c.line() {
	}
	for _, tt := range []struct{ cmd, want string }{
		{"reboot", "error unknown command"},
		{"SCREENSHOT /x.png", "error unknown command"},
		{"\x00\xff\xfe", "error unknown command"},
		{"screenshot", "error screenshot needs an absolute path"},
		{"screenshot rel.png", "error screenshot needs an absolute path"},
		{"stats now", "error stats takes no argument"},
		{"quit please", "error quit takes no argument"},
		{"powerbutton 2", "error powerbutton takes no argument"},
	} {
		c.send(tt.cmd + "\n")
		if got := c.line(); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.cmd, got, tt.want)
		}
	}
	c.send("quit\n")
	if got := c.line(); got != "ok" {
		t.Errorf("quit: %q", got)
	}
	c.expectEOF()
	waitFor(t, func() bool { return vm.quits.Load() == 1 })
}

func TestHandlerErrors(t *testing.T) {
	vm := &fakeVM{
		shotErr:  errors.New("no frame on scanout 0 yet:\nthe guest has not drawn anything"),
		powerErr: errors.New("no ACPI"),
	}
	_, path := start(t, vm, config{})
	c := dial(t, path)
	c.send("screenshot /x.png\npowerbutton\n")
	if got, want := c.line(), "error no frame on scanout 0 yet: the guest has not drawn anything"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := c.line(); got != "error no ACPI" {
		t.Errorf("got %q", got)
	}
}

func TestLineTooLong(t *testing.T) {
	_, path := start(t, &fakeVM{}, config{})
	c := dial(t, path)
	c.send("stats " + strings.Repeat("x", MaxLine) + "\n")
	if got := c.line(); got != "error line too long" {
		t.Errorf("got %q", got)
	}
	c.expectEOF()

	// The longest line allowed still works.
	c = dial(t, path)
	c.send("screenshot /" + strings.Repeat("y", MaxLine-len("screenshot /")-1) + "\n")
	if got := c.line(); got != "ok" {
		t.Errorf("longest line: %q", got)
	}
}

func TestDo(t *testing.T) {
	vm := &fakeVM{stats: "a 1\nb 2\n.c\n", powerErr: errors.New("off already")}
	_, path := start(t, vm, config{})

	out, err := Do(path, "stats")
	if err != nil || out != "a 1\nb 2\n.c\n" {
		t.Errorf("stats: %q, %v", out, err)
	}
	if out, err := Do(path, "screenshot out.png"); err != nil || out != "" {
		t.Errorf("screenshot: %q, %v", out, err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(wd, "out.png"); len(vm.shots) != 1 || vm.shots[0] != want {
		t.Errorf("relative path sent as %q, want %q", vm.shots, want)
	}
	vm.setState("vcpu 0: halted\n", nil)
	if out, err := Do(path, "state"); err != nil || out != "vcpu 0: halted\n" {
		t.Errorf("state: %q, %v", out, err)
	}
	var re *RemoteError
	vm.setState("", errors.New("the machine has stopped"))
	if _, err := Do(path, "state"); !errors.As(err, &re) || re.Msg != "the machine has stopped" {
		t.Errorf("state of a stopped VM: %v", err)
	}
	if _, err := Do(path, "powerbutton"); !errors.As(err, &re) || re.Msg != "off already" {
		t.Errorf("powerbutton: %v", err)
	}
	if _, err := Do(path, "fly"); !errors.As(err, &re) || re.Msg != "unknown command" {
		t.Errorf("fly: %v", err)
	}
	for _, bad := range []string{"", "  ", "stats\nquit", "screenshot /" + strings.Repeat("z", MaxLine)} {
		if _, err := Do(path, bad); err == nil {
			t.Errorf("Do(%.20q) succeeded", bad)
		}
	}
	if _, err := Do(filepath.Join(t.TempDir(), "none.sock"), "stats"); err == nil ||
		!strings.Contains(err.Error(), "--control") {
		t.Errorf("no socket: %v", err)
	}
}

func TestQuitMayCloseServer(t *testing.T) {
	vm := &fakeVM{}
	s, path := start(t, vm, config{})
	closed := make(chan error, 1)
	vm.onQuit = func() { closed <- s.Close() }
	if _, err := Do(path, "quit"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close from Quit deadlocked")
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left after Close: %v", err)
	}
}

func TestSocketFile(t *testing.T) {
	s, path := start(t, &fakeVM{}, config{})
	if s.Path() != path {
		t.Errorf("Path %q", s.Path())
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != socketMode {
		t.Errorf("mode %v", fi.Mode())
	}
	// A second server on a live socket is refused, and the first keeps it.
	if _, err := Listen(path, &fakeVM{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Listen: %v", err)
	}
	if _, err := Do(path, "stats"); err != nil {
		t.Errorf("first server broken: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left after Close: %v", err)
	}
}

func TestStaleSocketRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false) // as if the process had died
	ln.Close()
	s, err := Listen(path, &fakeVM{})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer s.Close()
	if _, err := Do(path, "stats"); err != nil {
		t.Error(err)
	}
}

func TestRefusesNonSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "precious.txt")
	if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, &fakeVM{}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Error("file clobbered")
	}
	if _, err := Listen(filepath.Join(t.TempDir(), "no", "dir.sock"), &fakeVM{}); err == nil {
		t.Error("Listen in a missing directory succeeded")
	}
	if _, err := Listen(filepath.Join(t.TempDir(), "x.sock"), nil); err == nil {
		t.Error("nil handler accepted")
	}
}

func TestTooManyConnections(t *testing.T) {
	_, path := start(t, &fakeVM{}, config{maxConns: 2})
	a, b := dial(t, path), dial(t, path)
	// Make sure both are being served before the third arrives.
	a.send("quit please\n")
	a.line()
	b.send("quit please\n")
	b.line()
	c := dial(t, path)
	if got := c.line(); got != "error too many connections" {
		t.Errorf("third connection: %q", got)
	}
	c.expectEOF()
	var re *RemoteError
	if _, err := Do(path, "stats"); !errors.As(err, &re) || re.Msg != "too many connections" {
		t.Errorf("Do while full: %v", err)
	}
	// Freeing a slot lets a new client in.
	a.c.Close()
	waitFor(t, func() bool { _, err := Do(path, "stats"); return err == nil })
}

func TestIdleTimeout(t *testing.T) {
	_, path := start(t, &fakeVM{}, config{idleTimeout: 100 * time.Millisecond})
	c := dial(t, path)
	c.send("stats\n")
	for l := c.line(); l != "."; l = c.line() {
	}
	c.expectEOF() // after 100ms of silence
}

func TestCloseWithOpenConnections(t *testing.T) {
	before := runtime.NumGoroutine()
	vm := &fakeVM{}
	path := filepath.Join(t.TempDir(), "ctl.sock")
	s, err := Listen(path, vm)
	if err != nil {
		t.Fatal(err)
	}
	conns := []*rawConn{dial(t, path), dial(t, path), dial(t, path)}
	conns[0].send("stats\n") // one busy with half a conversation
	conns[1].send("scree")   // one in the middle of a line
	conns[0].line()
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung on open connections")
	}
	for _, c := range conns[1:] {
		c.expectEOF()
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
}

func TestConcurrentClients(t *testing.T) {
	vm := &fakeVM{stats: "x 1\n"}
	_, path := start(t, vm, config{maxConns: 4})
	var wg sync.WaitGroup
	var ok, busy atomic.Int32
	for i := range 16 {
		wg.Go(func() {
			for range 10 {
				cmd := "stats"
				if i%2 == 0 {
					cmd = fmt.Sprintf("screenshot /tmp/%d.png", i)
				}
				_, err := Do(path, cmd)
				var re *RemoteError
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &re) && re.Msg == "too many connections":
					busy.Add(1)
				default:
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() == 0 || ok.Load()+busy.Load() != 160 {
		t.Errorf("%d ok, %d busy", ok.Load(), busy.Load())
	}
	t.Logf("%d ok, %d refused as busy", ok.Load(), busy.Load())
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
