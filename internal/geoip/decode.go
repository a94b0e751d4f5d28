package geoip

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// The data section's field types (MaxMind DB format, "Data Section").
const (
	typeExtended  = 0
	typePointer   = 1
	typeString    = 2
	typeDouble    = 3
	typeBytes     = 4
	typeUint16    = 5
	typeUint32    = 6
	typeMap       = 7
	typeInt32     = 8
	typeUint64    = 9
	typeUint128   = 10
	typeArray     = 11
	typeContainer = 12
	typeEnd       = 13
	typeBool      = 14
	typeFloat     = 15
)

// decoder reads fields from buf[:end]; pointers are offsets from base.
type decoder struct {
	buf       []byte
	base, end int
}

// decode reads the field at off; it returns the value and the offset
// after the field (after the pointer itself, for a pointer).
func (d *decoder) decode(off, depth int) (any, int, error) {
	if depth > maxDepth {
		return nil, 0, errAt(off, "fields nest deeper than %d (or pointers loop)", maxDepth)
	}
	typ, size, next, err := d.control(off)
	if err != nil {
		return nil, 0, err
	}
	if typ == typePointer {
		target, after, err := d.pointer(off, next)
		if err != nil {
			return nil, 0, err
		}
		v, _, err := d.decode(target, depth+1)
		return v, after, err
	}
	return d.value(typ, size, next, depth)
}

// control reads a control byte (with its extended type and size bytes).
func (d *decoder) control(off int) (typ, size, next int, err error) {
	if off < 0 || off >= d.end {
		return 0, 0, 0, errAt(off, "a field starts past the end of its section")
	}
	c := d.buf[off]
	next = off + 1
	typ = int(c >> 5)
	if typ == typePointer {
		return typ, int(c & 0x1F), next, nil
	}
	if typ == typeExtended {
		if next >= d.end {
			return 0, 0, 0, errAt(off, "an extended type byte is missing")
		}
		typ = int(d.buf[next]) + 7
		next++
		if typ < typeInt32 || typ > typeFloat {
			return 0, 0, 0, errAt(off, "unknown field type %d", typ)
		}
	}
	size = int(c & 0x1F)
	if size >= 29 {
		n := size - 28 // 1, 2 or 3 more bytes
		if next+n > d.end {
			return 0, 0, 0, errAt(off, "a field's size bytes are cut off")
		}
		v := 0
		for _, b := range d.buf[next : next+n] {
			v = v<<8 | int(b)
		}
		next += n
		switch n {
		case 1:
			size = 29 + v
		case 2:
			size = 285 + v
		default:
			size = 65821 + v
		}
	}
	return typ, size, next, nil
}

// pointer reads a pointer's target (its control byte at off).
func (d *decoder) pointer(off, next int) (target, after int, err error) {
	c := d.buf[off]
	ss := int(c>>3) & 3
	n := ss + 1
	if next+n > d.end {
		return 0, 0, errAt(off, "a pointer is cut off")
	}
	p := 0
	if ss < 3 {
		p = int(c & 7)
	}
	for _, b := range d.buf[next : next+n] {
		p = p<<8 | int(b)
	}
	switch ss {
	case 1:
		p += 2048
	case 2:
		p += 526336
	}
	target = d.base + p
	if target < d.base || target >= d.end {
		return 0, 0, errAt(off, "a pointer leads outside its section (%d)", p)
	}
	return target, next + n, nil
}

func (d *decoder) value(typ, size, off, depth int) (any, int, error) {
	end := off + size
	fixed := func(want int) error {
		if size != want && !(want < 0 && size <= -want) {
			return errAt(off, "field type %d has size %d", typ, size)
		}
		if end > d.end {
			return errAt(off, "a field of %d bytes runs past the end of its section", size)
		}
		return nil
	}
	be := func() uint64 {
		var v uint64
		for _, b := range d.buf[off:end] {
			v = v<<8 | uint64(b)
		}
		return v
	}
	switch typ {
	case typeString:
		if err := fixed(-size); err != nil {
			return nil, 0, err
		}
		s := d.buf[off:end]
		if !utf8.Valid(s) {
			return nil, 0, errAt(off, "a string is not UTF-8")
		}
		return string(s), end, nil
	case typeBytes:
		if err := fixed(-size); err != nil {
			return nil, 0, err
		}
		return append([]byte(nil), d.buf[off:end]...), end, nil
	case typeDouble:
		if err := fixed(8); err != nil {
			return nil, 0, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(d.buf[off:end])), end, nil
	case typeFloat:
		if err := fixed(4); err != nil {
			return nil, 0, err
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(d.buf[off:end]))), end, nil
	case typeUint16:
		if err := fixed(-2); err != nil {
			return nil, 0, err
		}
		return be(), end, nil
	case typeUint32:
		if err := fixed(-4); err != nil {
			return nil, 0, err
		}
		return be(), end, nil
	case typeUint64:
		if err := fixed(-8); err != nil {
			return nil, 0, err
		}
		return be(), end, nil
	case typeUint128:
		if err := fixed(-16); err != nil {
			return nil, 0, err
		}
		if size > 8 { // beyond uint64: kept as its bytes
			return append([]byte(nil), d.buf[off:end]...), end, nil
		}
		return be(), end, nil
	case typeInt32:
		if err := fixed(-4); err != nil {
			return nil, 0, err
		}
		v := be()
		if size == 4 {
			return int64(int32(uint32(v))), end, nil
		}
		return int64(v), end, nil
	case typeBool:
		if size > 1 {
			return nil, 0, errAt(off, "a boolean of value %d", size)
		}
		return size == 1, off, nil
	case typeMap:
		// Each pair takes at least two bytes: a larger count is a lie.
		if size > (d.end-off)/2 {
			return nil, 0, errAt(off, "a map of %d pairs does not fit", size)
		}
		m := make(map[string]any, min(size, 64))
		for i := 0; i < size; i++ {
			k, next, err := d.decode(off, depth+1)
			if err != nil {
				return nil, 0, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, 0, errAt(off, "a map key is a %T, not a string", k)
			}
			v, after, err := d.decode(next, depth+1)
			if err != nil {
				return nil, 0, err
			}
			m[ks] = v
			off = after
		}
		return m, off, nil
	case typeArray:
		if size > d.end-off {
			return nil, 0, errAt(off, "an array of %d elements does not fit", size)
		}
		a := make([]any, 0, min(size, 64))
		for i := 0; i < size; i++ {
			v, after, err := d.decode(off, depth+1)
			if err != nil {
				return nil, 0, err
			}
			a = append(a, v)
			off = after
		}
		return a, off, nil
	case typeContainer, typeEnd:
		return nil, 0, errAt(off, "field type %d does not belong in data", typ)
	}
	return nil, 0, errAt(off, "unknown field type %d", typ)
}
