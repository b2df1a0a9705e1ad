package console

import "io"

// EscapeChar is the console escape key, Ctrl-A, as in QEMU.
const EscapeChar = 0x01

// The keys that may follow EscapeChar.
const (
	escQuit  = 'x'
	escHelp  = 'h'
	escHelp2 = '?'
)

// HelpText lists the escape keys; print it when Filter reports help.
const HelpText = "\r\n" +
	"C-a h    print this help\r\n" +
	"C-a x    exit govm\r\n" +
	"C-a C-a  send C-a to the guest\r\n"

// PrintHelp writes HelpText to w.
func PrintHelp(w io.Writer) error {
	_, err := io.WriteString(w, HelpText)
	return err
}

// Escape filters the user's keystrokes on their way to the guest, handling
// the Ctrl-A escape keys:
//
//	Ctrl-A x       quit
//	Ctrl-A h or ?  help
//	Ctrl-A Ctrl-A  one Ctrl-A to the guest
//	Ctrl-A other   both bytes go to the guest
//
// The last rule differs from QEMU, which drops unknown escape sequences:
// here a Ctrl-A that was not meant as an escape (bash or emacs
// "beginning of line", followed by typing) still reaches the guest intact.
//
// An Escape remembers a trailing Ctrl-A across calls, so a sequence split
// over two reads works. The zero value is ready to use. It is not safe for
// concurrent use; one stdin reader owns it.
type Escape struct {
	pending bool // the last byte seen was an unconsumed Ctrl-A
}

// Filter returns the bytes of in that go to the guest. quit reports Ctrl-A x:
// bytes before it are returned, the rest of in is dropped. help reports that
// Ctrl-A h (or ?) was seen at least once in in.
func (e *Escape) Filter(in []byte) (toGuest []byte, quit bool, help bool) {
	toGuest = make([]byte, 0, len(in)+1)
	for _, c := range in {
		if !e.pending {
			if c == EscapeChar {
				e.pending = true
			} else {
				toGuest = append(toGuest, c)
			}
			continue
		}
		e.pending = false
		switch c {
		case escQuit:
			return toGuest, true, help
		case escHelp, escHelp2:
			help = true
		case EscapeChar:
			toGuest = append(toGuest, EscapeChar)
		default:
			toGuest = append(toGuest, EscapeChar, c)
		}
	}
	return toGuest, false, help
}
