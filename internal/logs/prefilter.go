package logs

import (
	"bytes"
	"encoding/binary"
	"slices"

	"breakglass/internal/entra"
)

// Prefilter decides from raw bytes whether a record may concern one of the
// break-glass accounts. It must never say no to a record that full decoding
// would match; it may say yes to records that do not match (they are then
// decoded and discarded). A record can only match if one of the accounts'
// ids or UPNs appears in it, ASCII-case-insensitively (entra.FoldASCII is
// how accounts are compared), unless a JSON \u escape hides it, so records
// with \u escapes are always passed on.
//
// The search is Wu–Manber: a window as long as the shortest needle slides
// over the record, and a table indexed by the case-folded last two bytes of
// the window says how far it may jump. Most bigrams of a log record occur in
// no needle, so most of the record is jumped over, like grep's Boyer–Moore.
type Prefilter struct {
	needles [][]byte // folded
	m       int      // shortest needle length: the window
	shift   []uint8  // by folded bigram; 0 means "a needle may end here"
	bucket  map[uint16][]int
}

var escU = []byte(`\u`)

// fold maps A-Z to a-z and every other byte to itself.
var fold = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i + 'a' - 'A')
		}
	}
	return
}()

// NewPrefilter builds a prefilter for the needles (ids and UPNs).
func NewPrefilter(needles []string) *Prefilter {
	p := &Prefilter{bucket: map[uint16][]int{}}
	// A set, not a scan per needle: a break-glass group of many members
	// gives hundreds of thousands of needles.
	seen := make(map[string]bool, len(needles))
	for _, n := range needles {
		n := entra.FoldASCII(n)
		if n != "" && !seen[n] {
			seen[n] = true
			p.needles = append(p.needles, []byte(n))
		}
	}
	if len(p.needles) == 0 {
		return p
	}
	p.m = len(p.needles[0])
	for _, n := range p.needles {
		p.m = min(p.m, len(n))
	}
	if p.m < 2 {
		return p // one-byte needles: fall back to the plain search
	}
	// Windows longer than 255 cannot be expressed in a uint8 shift.
	p.m = min(p.m, 255)
	p.shift = make([]uint8, 1<<16)
	def := uint8(p.m - 1)
	for i := range p.shift {
		p.shift[i] = def
	}
	for ni, n := range p.needles {
		for j := 0; j+2 <= p.m; j++ {
			bg := uint16(n[j]) | uint16(n[j+1])<<8
			s := uint8(p.m - 2 - j)
			if s < p.shift[bg] {
				p.shift[bg] = s
			}
			if s == 0 {
				p.bucket[bg] = append(p.bucket[bg], ni)
			}
		}
	}
	return p
}

// Match reports whether rec may concern an account.
func (p *Prefilter) Match(rec []byte) bool {
	if len(p.needles) == 0 {
		return false
	}
	if bytes.Contains(rec, escU) {
		return true
	}
	if p.shift == nil {
		lower := lowerASCII(nil, rec)
		for _, n := range p.needles {
			if bytes.Contains(lower, n) {
				return true
			}
		}
		return false
	}
	m := p.m
	for pos := m - 2; pos+1 < len(rec); {
		bg := uint16(fold[rec[pos]]) | uint16(fold[rec[pos+1]])<<8
		if s := p.shift[bg]; s != 0 {
			pos += int(s)
			continue
		}
		start := pos + 2 - m
		for _, ni := range p.bucket[bg] {
			if equalFold(rec[start:], p.needles[ni]) {
				return true
			}
		}
		pos++
	}
	return false
}

// equalFold reports whether s starts with the folded needle n.
func equalFold(s, n []byte) bool {
	if len(s) < len(n) {
		return false
	}
	for i, c := range n {
		if fold[s[i]] != c {
			return false
		}
	}
	return true
}

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// lowerASCII writes src with A-Z folded to a-z into dst, eight bytes at a
// time. Bytes >= 0x80 are left alone, matching entra.FoldASCII.
func lowerASCII(dst, src []byte) []byte {
	dst = slices.Grow(dst[:0], len(src))[:len(src)]
	i := 0
	for ; i+8 <= len(src); i += 8 {
		w := binary.LittleEndian.Uint64(src[i:])
		w7 := w &^ high
		a := w7 + (0x7f-'Z')*ones // high bit set where byte > 'Z'
		b := w7 + (0x80-'A')*ones // high bit set where byte >= 'A'
		mask := b &^ a &^ w & high
		binary.LittleEndian.PutUint64(dst[i:], w|mask>>2)
	}
	for ; i < len(src); i++ {
		c := src[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
	return dst
}
