package input

import "encoding/binary"

// Configuration space (virtio 1.2 section 5.8.4):
//
//	struct virtio_input_config {
//		u8 select;      // what the driver asks about (a Cfg* value)
//		u8 subsel;      // which one: an event type, an axis...
//		u8 size;        // bytes of the answer in u; 0 = not supported
//		u8 reserved[5];
//		union { char string[128]; u8 bitmap[128];
//		        struct virtio_input_absinfo abs;
//		        struct virtio_input_devids ids; } u;
//	};
//
// The driver writes select and subsel, then reads size and u.
const (
	cfgSelect = 0
	cfgSubsel = 1
	cfgSizeOf = 2
	cfgUnion  = 8
	unionSize = 128
	cfgSize   = cfgUnion + unionSize // 136 bytes in all
)

// The select values (enum virtio_input_config_select).
const (
	CfgUnset    = 0x00
	CfgIDName   = 0x01 // u.string: the device name
	CfgIDSerial = 0x02 // u.string: a serial number
	CfgIDDevids = 0x03 // u.ids: bus type, vendor, product, version
	CfgPropBits = 0x10 // u.bitmap: INPUT_PROP_* bits
	CfgEvBits   = 0x11 // subsel = EV_* type; u.bitmap: its codes
	CfgAbsInfo  = 0x12 // subsel = ABS_* axis; u.abs
)

// Layouts inside the union.
const (
	devidsSize  = 8  // struct virtio_input_devids: four le16
	absinfoSize = 20 // struct virtio_input_absinfo: five le32
)

// DevIDs is struct virtio_input_devids: what the guest sees as the input
// device's bus, vendor, product and version (struct input_id).
type DevIDs struct {
	Bustype, Vendor, Product, Version uint16
}

// AbsInfo is struct virtio_input_absinfo for one absolute axis.
type AbsInfo struct {
	Min, Max, Fuzz, Flat, Res uint32
}

// config is what a device answers through the select/subsel protocol. It
// does not change after construction.
type config struct {
	name, serial string
	ids          DevIDs
	props        []uint16            // INPUT_PROP_* bits set
	evBits       map[uint16][]uint16 // event type → codes supported
	abs          map[uint16]AbsInfo  // axis → range
}

// answer fills the union for (sel, subsel) into u and returns its size;
// 0 means "not supported" (the spec's requirement for unknown pairs).
func (c *config) answer(sel, subsel uint8, u *[unionSize]byte) uint8 {
	clear(u[:])
	switch sel {
	case CfgIDName:
		return putString(u, c.name, subsel)
	case CfgIDSerial:
		return putString(u, c.serial, subsel)
	case CfgIDDevids:
		if subsel != 0 {
			return 0
		}
		binary.LittleEndian.PutUint16(u[0:], c.ids.Bustype)
		binary.LittleEndian.PutUint16(u[2:], c.ids.Vendor)
		binary.LittleEndian.PutUint16(u[4:], c.ids.Product)
		binary.LittleEndian.PutUint16(u[6:], c.ids.Version)
		return devidsSize
	case CfgPropBits:
		if subsel != 0 {
			return 0
		}
		return putBitmap(u, c.props)
	case CfgEvBits:
		return putBitmap(u, c.evBits[uint16(subsel)])
	case CfgAbsInfo:
		a, ok := c.abs[uint16(subsel)]
		if !ok {
			return 0
		}
		for i, v := range []uint32{a.Min, a.Max, a.Fuzz, a.Flat, a.Res} {
			binary.LittleEndian.PutUint32(u[4*i:], v)
		}
		return absinfoSize
	}
	return 0
}

// putString copies s (no terminating NUL: size says how long it is).
func putString(u *[unionSize]byte, s string, subsel uint8) uint8 {
	if subsel != 0 {
		return 0
	}
	return uint8(copy(u[:], s))
}

// putBitmap sets bit c of the byte stream for each code c (byte 0 holds
// codes 0-7, bit 0 first) and returns the bytes up to the last one set;
// an empty set is size 0, "not supported". Codes beyond the union are a
// programming error caught by the tests; they are skipped here.
func putBitmap(u *[unionSize]byte, codes []uint16) uint8 {
	size := 0
	for _, c := range codes {
		i := int(c / 8)
		if i >= unionSize {
			continue
		}
		u[i] |= 1 << (c % 8)
		size = max(size, i+1)
	}
	return uint8(size)
}

// codeRange lists the codes first..last inclusive.
func codeRange(first, last uint16) []uint16 {
	var out []uint16
	for c := int(first); c <= int(last); c++ {
		out = append(out, uint16(c))
	}
	return out
}
