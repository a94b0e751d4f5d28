// Package geoip reads MaxMind DB files (the .mmdb format of GeoLite2-City
// and its kin) with the standard library only, for KQL's
// geo_info_from_ip_address(). It is a reader of the public MaxMind DB
// format, version 2: the binary search tree over the address bits, the
// data section's typed fields and the metadata at the end of the file.
//
// Every read is bounds-checked and nesting is limited, so a damaged or
// hostile file gives an error naming the offset, never a crash or a loop.
package geoip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"sync"

	"breakglass/internal/kql/fn"
)

// metadataMarker starts the metadata section, near the end of the file.
var metadataMarker = []byte("\xAB\xCD\xEFMaxMind.com")

const (
	// metadataSearch is how far from the end the marker may be (the
	// format's bound: the metadata is at most 128 KiB).
	metadataSearch = 128 << 10
	// MaxFileBytes bounds the file read (GeoLite2-City is about 60 MB).
	MaxFileBytes = 1 << 30
	// maxDepth bounds maps and arrays within maps and arrays, and
	// pointers followed: a cycle in a hostile file ends here.
	maxDepth = 32
	// dataSeparator is the 16 zero bytes between the tree and the data.
	dataSeparator = 16
)

// Metadata is the database's description of itself.
type Metadata struct {
	DatabaseType string   // "GeoLite2-City", ...
	IPVersion    int      // 4 or 6
	RecordSize   int      // bits per tree record: 24, 28 or 32
	NodeCount    uint32   // nodes in the search tree
	BuildEpoch   uint64   // seconds since 1970
	Languages    []string // the languages of the names maps
	Major, Minor int      // binary format version (2.x)
}

// DB is an opened database. It is safe for concurrent lookups.
type DB struct {
	Meta      Metadata
	buf       []byte
	treeSize  int
	dataStart int
	dataEnd   int    // the metadata marker's offset
	ipv4Start uint32 // the node of ::0.0.0.0/96 in an IPv6 tree
	ipv4Depth int
}

// Error is a problem with the file, at a byte offset.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string {
	if e.Offset < 0 {
		return "mmdb: " + e.Msg
	}
	return fmt.Sprintf("mmdb: offset %d: %s", e.Offset, e.Msg)
}

func errAt(off int, format string, args ...any) error {
	return &Error{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// Open reads and checks the database file at path.
func Open(path string) (*DB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a GeoIP database", path, MaxFileBytes)
	}
	db, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return db, nil
}

var (
	cacheMu sync.Mutex
	cache   = map[string]cached{}
)

type cached struct {
	size int64
	mod  int64
	db   *DB
}

// Load is Open with a cache by path, size and modification time: the
// rules, the query command and the daemon share one copy of a file.
func Load(path string) (*DB, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if c, ok := cache[path]; ok && c.size == st.Size() && c.mod == st.ModTime().UnixNano() {
		return c.db, nil
	}
	db, err := Open(path)
	if err != nil {
		return nil, err
	}
	cache[path] = cached{st.Size(), st.ModTime().UnixNano(), db}
	return db, nil
}

// Parse checks a database held in memory (b is kept, not copied).
func Parse(b []byte) (*DB, error) {
	from := max(0, len(b)-metadataSearch)
	i := bytes.LastIndex(b[from:], metadataMarker)
	if i < 0 {
		return nil, &Error{Offset: -1, Msg: "no metadata marker: not a MaxMind DB file"}
	}
	mstart := from + i + len(metadataMarker)
	d := decoder{buf: b, base: mstart, end: len(b)}
	raw, _, err := d.decode(mstart, 0)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, errAt(mstart, "metadata is a %T, not a map", raw)
	}
	db := &DB{buf: b, dataEnd: from + i}
	meta := &db.Meta
	num := func(key string) (uint64, error) {
		v, ok := m[key]
		if !ok {
			return 0, errAt(mstart, "metadata has no %s", key)
		}
		switch n := v.(type) {
		case uint64:
			return n, nil
		case int64:
			if n >= 0 {
				return uint64(n), nil
			}
		}
		return 0, errAt(mstart, "metadata %s is %v, not a number", key, v)
	}
	var n uint64
	if n, err = num("node_count"); err != nil {
		return nil, err
	}
	if n == 0 || n > math.MaxUint32 {
		return nil, errAt(mstart, "node_count %d is out of range", n)
	}
	meta.NodeCount = uint32(n)
	if n, err = num("record_size"); err != nil {
		return nil, err
	}
	if n != 24 && n != 28 && n != 32 {
		return nil, errAt(mstart, "record_size %d: the format has 24, 28 or 32", n)
	}
	meta.RecordSize = int(n)
	if n, err = num("ip_version"); err != nil {
		return nil, err
	}
	if n != 4 && n != 6 {
		return nil, errAt(mstart, "ip_version %d: want 4 or 6", n)
	}
	meta.IPVersion = int(n)
	if n, err = num("binary_format_major_version"); err != nil {
		return nil, err
	}
	if n != 2 {
		return nil, errAt(mstart, "binary format version %d: this reader knows version 2", n)
	}
	meta.Major = 2
	if n, err := num("binary_format_minor_version"); err == nil {
		meta.Minor = int(min(n, 1<<20))
	}
	if n, err := num("build_epoch"); err == nil {
		meta.BuildEpoch = n
	}
	if s, ok := m["database_type"].(string); ok {
		meta.DatabaseType = s
	}
	if ls, ok := m["languages"].([]any); ok {
		for _, l := range ls {
			if s, ok := l.(string); ok {
				meta.Languages = append(meta.Languages, s)
			}
		}
	}
	nodeBytes := meta.RecordSize * 2 / 8
	tree := uint64(meta.NodeCount) * uint64(nodeBytes)
	if tree+dataSeparator > uint64(db.dataEnd) {
		return nil, errAt(0, "the search tree (%d nodes of %d bytes) is longer than the file", meta.NodeCount, nodeBytes)
	}
	db.treeSize = int(tree)
	db.dataStart = db.treeSize + dataSeparator
	if meta.IPVersion == 6 {
		// IPv4 addresses live at ::a.b.c.d: 96 zero bits down the tree.
		node := uint32(0)
		depth := 0
		for ; depth < 96 && node < meta.NodeCount; depth++ {
			node = db.record(node, 0)
		}
		db.ipv4Start, db.ipv4Depth = node, depth
	}
	return db, nil
}

// record reads one of node's two records (bit 0 left, 1 right).
func (db *DB) record(node uint32, bit int) uint32 {
	b := db.buf
	switch db.Meta.RecordSize {
	case 24:
		o := int(node)*6 + bit*3
		return uint32(b[o])<<16 | uint32(b[o+1])<<8 | uint32(b[o+2])
	case 28:
		o := int(node) * 7
		if bit == 0 {
			return uint32(b[o+3]&0xF0)<<20 | uint32(b[o])<<16 | uint32(b[o+1])<<8 | uint32(b[o+2])
		}
		return uint32(b[o+3]&0x0F)<<24 | uint32(b[o+4])<<16 | uint32(b[o+5])<<8 | uint32(b[o+6])
	}
	o := int(node)*8 + bit*4
	return uint32(b[o])<<24 | uint32(b[o+1])<<16 | uint32(b[o+2])<<8 | uint32(b[o+3])
}

// ErrNotFound: the address is in no network of the database.
var ErrNotFound = errors.New("mmdb: address not in the database")

// Lookup returns the data recorded for the network holding ip: maps are
// map[string]any, arrays []any, strings string, integers uint64 or int64,
// floats float64, bytes []byte, booleans bool. ErrNotFound when none.
func (db *DB) Lookup(ip netip.Addr) (any, error) {
	if !ip.IsValid() {
		return nil, errors.New("mmdb: not an IP address")
	}
	ip = ip.Unmap()
	var bits []byte
	node, depth := uint32(0), 0
	switch {
	case ip.Is4() && db.Meta.IPVersion == 6:
		a := ip.As4()
		bits, node, depth = a[:], db.ipv4Start, db.ipv4Depth
		if depth < 96 { // the tree ends above the IPv4 subtree
			return db.resolve(node)
		}
	case ip.Is4():
		a := ip.As4()
		bits = a[:]
	case db.Meta.IPVersion == 4:
		return nil, ErrNotFound // an IPv6 address in an IPv4 database
	default:
		a := ip.As16()
		bits = a[:]
	}
	for i := 0; i < len(bits)*8 && node < db.Meta.NodeCount; i++ {
		bit := int(bits[i/8]>>(7-uint(i%8))) & 1
		node = db.record(node, bit)
	}
	return db.resolve(node)
}

// resolve turns a record past the tree into its data.
func (db *DB) resolve(rec uint32) (any, error) {
	nc := db.Meta.NodeCount
	switch {
	case rec == nc:
		return nil, ErrNotFound
	case rec < nc:
		return nil, errAt(-1, "the search tree is deeper than the address: a damaged file")
	}
	off := int(rec-nc) - dataSeparator + db.dataStart
	if off < db.dataStart || off >= db.dataEnd {
		return nil, errAt(off, "a tree record points outside the data section")
	}
	d := decoder{buf: db.buf, base: db.dataStart, end: db.dataEnd}
	v, _, err := d.decode(off, 0)
	return v, err
}

// City is what geo_info_from_ip_address reports (Kusto's fields).
type City struct {
	Country, State, City string
	Latitude, Longitude  float64
	HasLocation          bool
}

// City looks ip up in a City database: the English names of the
// country, the first subdivision and the city, and the location.
func (db *DB) City(ip netip.Addr) (City, error) {
	v, err := db.Lookup(ip)
	if err != nil {
		return City{}, err
	}
	m, _ := v.(map[string]any)
	var c City
	c.Country = name(m["country"])
	if c.Country == "" {
		c.Country = name(m["registered_country"])
	}
	if subs, ok := m["subdivisions"].([]any); ok && len(subs) > 0 {
		c.State = name(subs[0])
	}
	c.City = name(m["city"])
	if loc, ok := m["location"].(map[string]any); ok {
		lat, ok1 := loc["latitude"].(float64)
		lon, ok2 := loc["longitude"].(float64)
		if ok1 && ok2 {
			c.Latitude, c.Longitude, c.HasLocation = lat, lon, true
		}
	}
	return c, nil
}

// name is x.names.en.
func name(x any) string {
	m, _ := x.(map[string]any)
	names, _ := m["names"].(map[string]any)
	s, _ := names["en"].(string)
	return s
}

// GeoInfo is City in the shape KQL's geo_info_from_ip_address takes
// (fn.Geo): false when the address is not in the database or the
// database cannot say (a damaged record).
func (db *DB) GeoInfo(ip netip.Addr) (fn.GeoPlace, bool) {
	c, err := db.City(ip)
	if err != nil {
		return fn.GeoPlace{}, false
	}
	return fn.GeoPlace{Country: c.Country, State: c.State, City: c.City, Latitude: c.Latitude, Longitude: c.Longitude, HasLocation: c.HasLocation}, true
}
