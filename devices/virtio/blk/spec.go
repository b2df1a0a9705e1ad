package blk

import (
	"fmt"
	"strings"
)

// ParseSpec parses a --disk argument: PATH[,ro][,id=SERIAL].
//
//	disk.img               read-write, serial "disk.img"
//	disk.img,ro            read-only
//	disk.img,ro,id=boot    read-only, serial "boot"
//
// Options come after the first comma, so PATH cannot contain a comma (use a
// symlink). Unknown, empty or repeated options are errors, as is an id that
// Open would reject.
func ParseSpec(s string) (Options, error) {
	path, rest, hasOpts := strings.Cut(s, ",")
	if path == "" {
		return Options{}, fmt.Errorf("disk %q: empty path", s)
	}
	o := Options{Path: path}
	if !hasOpts {
		return o, nil
	}
	seen := map[string]bool{}
	for opt := range strings.SplitSeq(rest, ",") {
		key, val, hasVal := strings.Cut(opt, "=")
		if seen[key] {
			return Options{}, fmt.Errorf("disk %q: option %q given twice", s, key)
		}
		seen[key] = true
		switch {
		case key == "ro" && !hasVal:
			o.ReadOnly = true
		case key == "id" && hasVal && val != "":
			o.ID = val
		case key == "":
			return Options{}, fmt.Errorf("disk %q: empty option", s)
		default:
			return Options{}, fmt.Errorf("disk %q: unknown option %q (want ro or id=SERIAL)", s, opt)
		}
	}
	if _, err := makeID(o); err != nil {
		return Options{}, err
	}
	return o, nil
}
