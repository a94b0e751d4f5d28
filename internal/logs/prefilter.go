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
// ids or UPNs appears in it, case-insensitively, unless JSON escapes hide
// it, so records with \u escapes are always passed on.
type Prefilter struct {
	needles [][]byte
	scratch []byte
}

var escU = []byte(`\u`)

// NewPrefilter builds a prefilter for the needles (ids and UPNs).
func NewPrefilter(needles []string) *Prefilter {
	p := &Prefilter{}
	for _, n := range needles {
		n := entra.FoldASCII(n)
		if n != "" {
			p.needles = append(p.needles, []byte(n))
		}
	}
	// Longer needles first: a GUID is more selective than a short UPN.
	slices.SortFunc(p.needles, func(a, b []byte) int { return len(b) - len(a) })
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
	p.scratch = lowerASCII(p.scratch, rec)
	for _, n := range p.needles {
		if bytes.Contains(p.scratch, n) {
			return true
		}
	}
	return false
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
