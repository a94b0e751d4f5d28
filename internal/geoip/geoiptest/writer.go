// Package geoiptest writes small MaxMind DB files for tests: the format
// internal/geoip reads, built from a list of networks and their data,
// with a choice of record size, IP version and string pointers, so the
// reader's paths are each exercised by a file a test makes itself.
package geoiptest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"os"
	"sort"
)

// Network is one network and what a lookup in it returns.
type Network struct {
	Prefix netip.Prefix
	Data   map[string]any
}

// Options shape the file.
type Options struct {
	RecordSize   int    // 24 (default), 28 or 32
	IPVersion    int    // 6 (default: IPv4 at ::/96) or 4
	DatabaseType string // default "GeoLite2-City"
	Pointers     bool   // repeated strings become pointers, as in real files
}

// City is the data of a GeoLite2-City record with English names.
func City(country, state, city string, lat, lon float64) map[string]any {
	names := func(s string) map[string]any {
		return map[string]any{"names": map[string]any{"en": s, "de": s + "-de"}}
	}
	m := map[string]any{
		"country":  names(country),
		"location": map[string]any{"latitude": lat, "longitude": lon, "accuracy_radius": uint16(100)},
	}
	if state != "" {
		m["subdivisions"] = []any{names(state)}
	}
	if city != "" {
		m["city"] = names(city)
	}
	return m
}

type node struct {
	child [2]*node
	data  int // index into the data offsets + 1, 0 = none
}

// Build returns the bytes of a database of nets.
func Build(nets []Network, o Options) ([]byte, error) {
	if o.RecordSize == 0 {
		o.RecordSize = 24
	}
	if o.IPVersion == 0 {
		o.IPVersion = 6
	}
	if o.DatabaseType == "" {
		o.DatabaseType = "GeoLite2-City"
	}
	// Data section first: each network's data, encoded once.
	var data bytes.Buffer
	e := &encoder{out: &data, pointers: o.Pointers, seen: map[string]int{}}
	offs := make([]int, len(nets))
	for i, n := range nets {
		offs[i] = data.Len()
		if err := e.encode(n.Data); err != nil {
			return nil, err
		}
	}
	// The trie of the networks' bits.
	root := &node{}
	for i, n := range nets {
		p := n.Prefix.Masked()
		a, bits := p.Addr(), p.Bits()
		var raw []byte
		switch {
		case o.IPVersion == 4 && a.Is4():
			b := a.As4()
			raw = b[:]
		case o.IPVersion == 4:
			return nil, fmt.Errorf("%s in an IPv4 database", p)
		case a.Is4():
			b := netip.AddrFrom16(netip.AddrFrom4(a.As4()).As16()).As16()
			for k := 10; k < 12; k++ {
				b[k] = 0 // ::a.b.c.d, not ::ffff:a.b.c.d
			}
			raw, bits = b[:], bits+96
		default:
			b := a.As16()
			raw = b[:]
		}
		cur := root
		for k := 0; k < bits; k++ {
			bit := raw[k/8] >> (7 - uint(k%8)) & 1
			if cur.child[bit] == nil {
				cur.child[bit] = &node{}
			}
			cur = cur.child[bit]
		}
		cur.data = i + 1
	}
	// Number the inner nodes breadth first; leaves are records.
	var order []*node
	index := map[*node]int{}
	queue := []*node{root}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n.data != 0 && n != root {
			continue
		}
		index[n] = len(order)
		order = append(order, n)
		for _, c := range n.child {
			if c != nil {
				queue = append(queue, c)
			}
		}
	}
	count := uint32(len(order))
	rec := func(c *node) uint32 {
		switch {
		case c == nil:
			return count
		case c.data != 0:
			return count + 16 + uint32(offs[c.data-1])
		}
		return uint32(index[c])
	}
	var tree bytes.Buffer
	for _, n := range order {
		l, r := rec(n.child[0]), rec(n.child[1])
		switch o.RecordSize {
		case 24:
			tree.Write([]byte{byte(l >> 16), byte(l >> 8), byte(l), byte(r >> 16), byte(r >> 8), byte(r)})
		case 28:
			tree.Write([]byte{byte(l >> 16), byte(l >> 8), byte(l), byte(l>>20)&0xF0 | byte(r>>24)&0x0F, byte(r >> 16), byte(r >> 8), byte(r)})
		case 32:
			var b [8]byte
			binary.BigEndian.PutUint32(b[:4], l)
			binary.BigEndian.PutUint32(b[4:], r)
			tree.Write(b[:])
		default:
			return nil, fmt.Errorf("record size %d", o.RecordSize)
		}
	}
	var out bytes.Buffer
	out.Write(tree.Bytes())
	out.Write(make([]byte, 16))
	out.Write(data.Bytes())
	out.WriteString("\xAB\xCD\xEFMaxMind.com")
	me := &encoder{out: &out, seen: map[string]int{}}
	meta := map[string]any{
		"node_count":                  count,
		"record_size":                 uint16(o.RecordSize),
		"ip_version":                  uint16(o.IPVersion),
		"database_type":               o.DatabaseType,
		"languages":                   []any{"de", "en"},
		"binary_format_major_version": uint16(2),
		"binary_format_minor_version": uint16(0),
		"build_epoch":                 uint64(1700000000),
		"description":                 map[string]any{"en": "breakglass test database"},
	}
	if err := me.encode(meta); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Write builds the database and writes it to path.
func Write(path string, nets []Network, o Options) error {
	b, err := Build(nets, o)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

type encoder struct {
	out      *bytes.Buffer
	pointers bool
	seen     map[string]int // string -> its offset, for pointers
}

func (e *encoder) control(typ, size int) {
	var ext []byte
	ctrl := byte(typ << 5)
	if typ > 7 {
		ctrl = 0
		ext = []byte{byte(typ - 7)}
	}
	var more []byte
	switch {
	case size < 29:
		ctrl |= byte(size)
	case size < 285:
		ctrl |= 29
		more = []byte{byte(size - 29)}
	case size < 65821:
		ctrl |= 30
		v := size - 285
		more = []byte{byte(v >> 8), byte(v)}
	default:
		ctrl |= 31
		v := size - 65821
		more = []byte{byte(v >> 16), byte(v >> 8), byte(v)}
	}
	e.out.WriteByte(ctrl)
	e.out.Write(ext)
	e.out.Write(more)
}

func (e *encoder) pointer(p int) {
	switch {
	case p < 2048:
		e.out.Write([]byte{1<<5 | byte(p>>8)&7, byte(p)})
	case p < 526336:
		q := p - 2048
		e.out.Write([]byte{1<<5 | 1<<3 | byte(q>>16)&7, byte(q >> 8), byte(q)})
	case p < 134744064:
		q := p - 526336
		e.out.Write([]byte{1<<5 | 2<<3 | byte(q>>24)&7, byte(q >> 16), byte(q >> 8), byte(q)})
	default:
		e.out.Write([]byte{1<<5 | 3<<3, byte(p >> 24), byte(p >> 16), byte(p >> 8), byte(p)})
	}
}

func (e *encoder) uint(typ int, v uint64) {
	var b []byte
	for ; v > 0; v >>= 8 {
		b = append([]byte{byte(v)}, b...)
	}
	e.control(typ, len(b))
	e.out.Write(b)
}

func (e *encoder) encode(x any) error {
	switch v := x.(type) {
	case string:
		if e.pointers {
			if off, ok := e.seen[v]; ok {
				e.pointer(off)
				return nil
			}
			e.seen[v] = e.out.Len()
		}
		e.control(2, len(v))
		e.out.WriteString(v)
	case float64:
		e.control(3, 8)
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], math.Float64bits(v))
		e.out.Write(b[:])
	case float32:
		e.control(15, 4)
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], math.Float32bits(v))
		e.out.Write(b[:])
	case []byte:
		e.control(4, len(v))
		e.out.Write(v)
	case uint16:
		e.uint(5, uint64(v))
	case uint32:
		e.uint(6, uint64(v))
	case uint64:
		e.uint(9, v)
	case int32:
		e.control(8, 4)
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(v))
		e.out.Write(b[:])
	case bool:
		n := 0
		if v {
			n = 1
		}
		e.control(14, n)
	case []any:
		e.control(11, len(v))
		for _, el := range v {
			if err := e.encode(el); err != nil {
				return err
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		e.control(7, len(v))
		for _, k := range keys {
			if err := e.encode(k); err != nil {
				return err
			}
			if err := e.encode(v[k]); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("geoiptest: cannot encode %T", x)
	}
	return nil
}
