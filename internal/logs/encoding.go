package logs

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// maxGzipLayers bounds how many gzip layers are peeled off an input. A file
// gzipped twice (a .gz gzipped again by a log shipper, or sent with
// Content-Encoding: gzip on top) is common enough; more is hostile.
const maxGzipLayers = 3

// openInput undoes the transport encodings of an input: up to maxGzipLayers
// of gzip, then UTF-16 (Windows PowerShell 5.1's Out-File, ">" and
// Export-Csv write UTF-16LE with a BOM by default, which is how many exports
// reach responders). Left as it is, a UTF-16 file reads as invalid JSON and
// none of its records, nor the bytes the fail-closed matcher looks for,
// can be found.
func openInput(r io.Reader) (io.Reader, bool, error) {
	// A small reader suffices to peek at the magic: plain input is read
	// straight into the splitter's buffer in large reads, past bufio. Only
	// gzip, which reads byte by byte, gets a large buffer.
	br := bufio.NewReaderSize(r, 512)
	gzipped := false
	for layer := 0; layer < maxGzipLayers; layer++ {
		magic, err := br.Peek(2)
		if err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
			break
		}
		zr, err := gzip.NewReader(bufio.NewReaderSize(br, 64<<10))
		if err != nil {
			return nil, gzipped, fmt.Errorf("gzip: %w", err)
		}
		gzipped = true
		br = bufio.NewReaderSize(zr, 512)
	}
	if be, skip, ok := sniffUTF16(br); ok {
		if _, err := br.Discard(skip); err != nil {
			return nil, gzipped, err
		}
		return &utf16Reader{r: br, be: be, in: make([]byte, 32<<10), inTotal: int64(skip)}, gzipped, nil
	}
	return br, gzipped, nil
}

// sniffUTF16 recognises UTF-16 by its BOM, or, without one, by text that
// starts like a record (a brace, bracket, quote or letter) and alternates
// a non-NUL byte and a NUL for its first 32 bytes (ASCII or Latin-1 text):
// a NUL block left by a crashed writer does not alternate, so it is not
// mistaken for UTF-16.
func sniffUTF16(br *bufio.Reader) (be bool, skip int, ok bool) {
	b, _ := br.Peek(32)
	if len(b) >= 2 {
		switch {
		case b[0] == 0xff && b[1] == 0xfe:
			return false, 2, true
		case b[0] == 0xfe && b[1] == 0xff:
			return true, 2, true
		}
	}
	if len(b) < 32 {
		return false, 0, false
	}
	for _, big := range []bool{false, true} {
		hi, lo := 1, 0 // little-endian: the NUL is the second byte
		if big {
			hi, lo = 0, 1
		}
		if c := b[lo]; !(c == '{' || c == '[' || c == '"' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			continue
		}
		alt := true
		for i := 0; i+1 < len(b); i += 2 {
			if b[i+hi] != 0 || b[i+lo] == 0 {
				alt = false
				break
			}
		}
		if alt {
			return big, 0, true
		}
	}
	return false, 0, false
}

// utf16Reader transcodes UTF-16 to UTF-8 as it streams, in bounded memory.
// Unpaired surrogates and a trailing odd byte become U+FFFD.
type utf16Reader struct {
	r      io.Reader
	be     bool
	in     []byte
	n      int // bytes held in in
	out    []byte
	outPos int
	err    error
	// inTotal counts the input bytes read, the BOM included.
	inTotal int64
}

func (u *utf16Reader) unit(i int) uint16 {
	if u.be {
		return uint16(u.in[i])<<8 | uint16(u.in[i+1])
	}
	return uint16(u.in[i+1])<<8 | uint16(u.in[i])
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for u.outPos == len(u.out) {
		if u.err != nil {
			return 0, u.err
		}
		u.out, u.outPos = u.out[:0], 0
		m, err := u.r.Read(u.in[u.n:])
		u.n += m
		u.inTotal += int64(m)
		if err != nil {
			u.err = err
		}
		i := 0
		for i+1 < u.n {
			c := u.unit(i)
			if utf16.IsSurrogate(rune(c)) && c < 0xdc00 {
				if i+3 >= u.n {
					if u.err == nil {
						break // the pair's second half comes with the next read
					}
				} else if d := u.unit(i + 2); 0xdc00 <= d && d < 0xe000 {
					u.out = utf8.AppendRune(u.out, utf16.DecodeRune(rune(c), rune(d)))
					i += 4
					continue
				}
			}
			if utf16.IsSurrogate(rune(c)) {
				u.out = utf8.AppendRune(u.out, utf8.RuneError)
			} else {
				u.out = utf8.AppendRune(u.out, rune(c))
			}
			i += 2
		}
		u.n = copy(u.in, u.in[i:u.n])
		if u.err != nil && u.n > 0 {
			u.out = utf8.AppendRune(u.out, utf8.RuneError)
			u.n = 0
		}
	}
	n := copy(p, u.out[u.outPos:])
	u.outPos += n
	return n, nil
}
