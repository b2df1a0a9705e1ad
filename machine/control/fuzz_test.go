package control

import (
	"strings"
	"testing"
)

// FuzzExecute checks that any command line gets a well-formed reply: one
// "ok" or "error ..." line, or "ok", body lines none of which is a lone
// ".", and a final ".".
func FuzzExecute(f *testing.F) {
	for _, s := range []string{"stats", "help", "quit", "screenshot /a.png", "screenshot x", "powerbutton", "fly", " stats ", "\x00"} {
		f.Add(s)
	}
	s := &Server{h: &fakeVM{stats: ".\n..\nx\r\n\n", shotErr: nil}}
	f.Fuzz(func(t *testing.T, line string) {
		reply, _ := s.execute(line)
		lines := strings.Split(reply, "\n")
		first := lines[0]
		if first != replyOK && !strings.HasPrefix(first, replyError+" ") {
			t.Fatalf("reply starts with %q", first)
		}
		if len(lines) == 1 {
			return
		}
		if lines[len(lines)-1] != endOfBody {
			t.Fatalf("multi-line reply does not end with %q: %q", endOfBody, reply)
		}
		for _, l := range lines[1 : len(lines)-1] {
			if l == endOfBody || strings.Contains(l, "\r") {
				t.Fatalf("bad body line %q in %q", l, reply)
			}
		}
	})
}
