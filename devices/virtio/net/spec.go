package net

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrSpec is wrapped by every ParseSpec error.
var ErrSpec = errors.New("bad network spec")

// ParseSpec parses a command-line network spec, "tap=NAME[,mac=aa:bb:cc:dd:ee:ff]".
// mac is nil when the spec has none (New then picks a random address).
func ParseSpec(s string) (tapName string, mac net.HardwareAddr, err error) {
	seen := map[string]bool{}
	for _, field := range strings.Split(s, ",") {
		key, val, ok := strings.Cut(field, "=")
		if !ok {
			return "", nil, fmt.Errorf("%w %q: %q is not key=value", ErrSpec, s, field)
		}
		if seen[key] {
			return "", nil, fmt.Errorf("%w %q: %s given twice", ErrSpec, s, key)
		}
		seen[key] = true
		switch key {
		case "tap":
			if val == "" {
				return "", nil, fmt.Errorf("%w %q: empty tap name", ErrSpec, s)
			}
			if err := checkIfName(val); err != nil {
				return "", nil, fmt.Errorf("%w %q: %w", ErrSpec, s, err)
			}
			tapName = val
		case "mac":
			m, err := net.ParseMAC(val)
			if err != nil {
				return "", nil, fmt.Errorf("%w %q: %w", ErrSpec, s, err)
			}
			if err := validMAC(m); err != nil {
				return "", nil, fmt.Errorf("%w %q: %w", ErrSpec, s, err)
			}
			mac = m
		default:
			return "", nil, fmt.Errorf("%w %q: unknown key %q (want tap=NAME[,mac=ADDR])", ErrSpec, s, key)
		}
	}
	if tapName == "" {
		return "", nil, fmt.Errorf("%w %q: no tap=NAME", ErrSpec, s)
	}
	return tapName, mac, nil
}
