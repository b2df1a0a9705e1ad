package acpi

import (
	"errors"
	"fmt"
	"strings"
)

// A tiny AML (ACPI Machine Language) encoder: just enough to declare named
// objects, devices and resource templates, and the one small method the
// power button needs (Method, If, LEqual, Notify, Arg0). ACPI 6.5 chapter 20
// defines the grammar; the opcodes used here are listed below.
const (
	zeroOp         = 0x00
	oneOp          = 0x01
	nameOp         = 0x08
	bytePrefix     = 0x0a
	wordPrefix     = 0x0b
	dwordPrefix    = 0x0c
	stringPrefix   = 0x0d
	qwordPrefix    = 0x0e
	scopeOp        = 0x10
	bufferOp       = 0x11
	packageOp      = 0x12
	methodOp       = 0x14
	extOpPrefix    = 0x5b
	arg0Op         = 0x68 // Arg0..Arg6 are 0x68..0x6e
	deviceOp       = 0x82 // follows extOpPrefix
	notifyOp       = 0x86
	lEqualOp       = 0x93
	ifOp           = 0xa0
	rootChar       = '\\'
	dualNamePrefix = 0x2e
	multiNamePfx   = 0x2f
	nameSegLen     = 4

	// PkgLength: a one-byte encoding holds up to 63 in bits 5..0. Longer
	// ones put the count of extra bytes (1..3) in bits 7..6 of the lead
	// byte, the low nibble of the length in its bits 3..0, and the rest of
	// the length, 8 bits at a time, in the extra bytes.
	pkgLenMax1      = 1<<6 - 1
	pkgLenMax       = 1<<28 - 1
	pkgLenCountShft = 6
	maxPkgElements  = 255 // Package's NumElements is one byte

	// MethodFlags: bits 2..0 the argument count, bit 3 Serialized, bits
	// 7..4 the SyncLevel. The methods here are NotSerialized, SyncLevel 0.
	maxMethodArgs = 7
)

// ErrAML reports an object the encoder cannot express.
var ErrAML = errors.New("acpi: cannot encode AML")

// pkgLength encodes the PkgLength of a package whose body (what follows the
// PkgLength) is n bytes long. The encoded length counts its own bytes too.
func pkgLength(n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: negative package length %d", ErrAML, n)
	}
	if n+1 <= pkgLenMax1 {
		return []byte{byte(n + 1)}, nil
	}
	for extra := 1; extra <= 3; extra++ {
		total := n + 1 + extra
		if total < 1<<(4+8*extra) {
			out := make([]byte, 1+extra)
			out[0] = byte(extra<<pkgLenCountShft) | byte(total&0x0f)
			for i := 1; i <= extra; i++ {
				out[i] = byte(total >> (4 + 8*(i-1)))
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: package body of %d bytes exceeds PkgLength maximum %d", ErrAML, n, pkgLenMax)
}

// encoder builds AML terms. The first error sticks (like bufio.Writer): the
// term functions then return nil and the caller checks err once at the end.
type encoder struct{ err error }

func (e *encoder) fail(err error) []byte {
	if e.err == nil {
		e.err = err
	}
	return nil
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// pkg returns op, then the PkgLength of body, then body.
func (e *encoder) pkg(op []byte, body ...[]byte) []byte {
	b := concat(body...)
	pl, err := pkgLength(len(b))
	if err != nil {
		return e.fail(err)
	}
	return concat(op, pl, b)
}

// validSeg reports whether s is a NameSeg: a lead character A-Z or '_',
// then three of A-Z, 0-9 or '_'.
func validSeg(s string) bool {
	if len(s) != nameSegLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		ok := c == '_' || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// nameString encodes a path such as "\_SB_.COM1", "_HID" or "\_S5_".
// Every segment must be exactly four characters.
func (e *encoder) nameString(path string) []byte {
	var out []byte
	if strings.HasPrefix(path, string(rootChar)) {
		out = append(out, rootChar)
		path = path[1:]
	}
	segs := strings.Split(path, ".")
	for _, s := range segs {
		if !validSeg(s) {
			return e.fail(fmt.Errorf("%w: bad name segment %q", ErrAML, s))
		}
	}
	switch n := len(segs); {
	case n == 1:
	case n == 2:
		out = append(out, dualNamePrefix)
	case n <= maxPkgElements:
		out = append(out, multiNamePfx, byte(n))
	default:
		return e.fail(fmt.Errorf("%w: name path of %d segments", ErrAML, n))
	}
	return append(out, strings.Join(segs, "")...)
}

// integer encodes v in the smallest form.
func integer(v uint64) []byte {
	switch {
	case v == 0:
		return []byte{zeroOp}
	case v == 1:
		return []byte{oneOp}
	case v <= 0xff:
		return []byte{bytePrefix, byte(v)}
	case v <= 0xffff:
		return []byte{wordPrefix, byte(v), byte(v >> 8)}
	case v <= 0xffff_ffff:
		return []byte{dwordPrefix, byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
	}
	out := []byte{qwordPrefix}
	for i := range 8 {
		out = append(out, byte(v>>(8*i)))
	}
	return out
}

// str encodes an ASCII string constant (NUL-terminated in AML).
func (e *encoder) str(s string) []byte {
	for i := range len(s) {
		if s[i] == 0 || s[i] > 0x7f {
			return e.fail(fmt.Errorf("%w: string %q is not plain ASCII", ErrAML, s))
		}
	}
	return concat([]byte{stringPrefix}, []byte(s), []byte{0})
}

// eisaID compresses a PNP id such as "PNP0501" into the 32-bit EISA form:
// three letters, 5 bits each ('A' is 1), big-endian in the first two bytes,
// then the four hex digits as two bytes.
func (e *encoder) eisaID(id string) []byte {
	const letters, digits = 3, 4
	if len(id) != letters+digits {
		return e.fail(fmt.Errorf("%w: EISA id %q is not 7 characters", ErrAML, id))
	}
	var mfg uint16
	for i := range letters {
		c := id[i]
		if c < 'A' || c > 'Z' {
			return e.fail(fmt.Errorf("%w: EISA id %q: bad letter", ErrAML, id))
		}
		mfg = mfg<<5 | uint16(c-'@')
	}
	var prod uint16
	for i := letters; i < len(id); i++ {
		var d byte
		switch c := id[i]; {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return e.fail(fmt.Errorf("%w: EISA id %q: bad hex digit", ErrAML, id))
		}
		prod = prod<<4 | uint16(d)
	}
	v := uint32(byte(mfg>>8)) | uint32(byte(mfg))<<8 | uint32(byte(prod>>8))<<16 | uint32(byte(prod))<<24
	return integer(uint64(v))
}

// name encodes Name(path, obj).
func (e *encoder) name(path string, obj []byte) []byte {
	return concat([]byte{nameOp}, e.nameString(path), obj)
}

// scope encodes Scope(path) { body }.
func (e *encoder) scope(path string, body ...[]byte) []byte {
	return e.pkg([]byte{scopeOp}, append([][]byte{e.nameString(path)}, body...)...)
}

// device encodes Device(path) { body }.
func (e *encoder) device(path string, body ...[]byte) []byte {
	return e.pkg([]byte{extOpPrefix, deviceOp}, append([][]byte{e.nameString(path)}, body...)...)
}

// pkgOf encodes Package() { elems }.
func (e *encoder) pkgOf(elems ...[]byte) []byte {
	if len(elems) > maxPkgElements {
		return e.fail(fmt.Errorf("%w: package of %d elements", ErrAML, len(elems)))
	}
	return e.pkg([]byte{packageOp}, append([][]byte{{byte(len(elems))}}, elems...)...)
}

// buffer encodes Buffer() { data }.
func (e *encoder) buffer(data []byte) []byte {
	return e.pkg([]byte{bufferOp}, integer(uint64(len(data))), data)
}

// method encodes Method(path, nargs, NotSerialized) { body }.
func (e *encoder) method(path string, nargs int, body ...[]byte) []byte {
	if nargs < 0 || nargs > maxMethodArgs {
		return e.fail(fmt.Errorf("%w: method %s with %d arguments, at most %d", ErrAML, path, nargs, maxMethodArgs))
	}
	return e.pkg([]byte{methodOp}, append([][]byte{e.nameString(path), {byte(nargs)}}, body...)...)
}

// ifThen encodes If (predicate) { body }.
func (e *encoder) ifThen(predicate []byte, body ...[]byte) []byte {
	return e.pkg([]byte{ifOp}, append([][]byte{predicate}, body...)...)
}

// lEqual encodes LEqual(a, b), in ASL 2.0 (a == b).
func lEqual(a, b []byte) []byte {
	return concat([]byte{lEqualOp}, a, b)
}

// arg0 is the method's first argument.
func arg0() []byte { return []byte{arg0Op} }

// notify encodes Notify(path, value): queue notification value for the
// device at path, to be delivered to its driver.
func (e *encoder) notify(path string, value uint64) []byte {
	return concat([]byte{notifyOp}, e.nameString(path), integer(value))
}
