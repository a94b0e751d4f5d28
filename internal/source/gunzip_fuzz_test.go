package source

import (
	"bytes"
	"compress/gzip"
	"errors"
	"testing"
)

// FuzzGunzip: decompressing gzip input never yields more than the limit,
// whatever it holds (nested, multi-member, corrupt), and never panics.
// Input that is not gzip is returned as is (the caller bounds its size).
func FuzzGunzip(f *testing.F) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(bytes.Repeat([]byte(`{"a":1}`+"\n"), 100))
	zw.Close()
	f.Add(b.Bytes(), int64(100))
	f.Add(append(b.Bytes(), b.Bytes()...), int64(1000))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, int64(10))
	f.Fuzz(func(t *testing.T, in []byte, limit int64) {
		limit = max(1, limit%(1<<20))
		out, err := gunzip(in, limit)
		if !isGzipBytes(in) {
			if !bytes.Equal(out, in) || err != nil {
				t.Fatalf("plain input changed: %v", err)
			}
			return
		}
		if int64(len(out)) > limit {
			t.Fatalf("%d bytes out with limit %d", len(out), limit)
		}
		if errors.Is(err, errTooLarge) && out != nil {
			t.Fatal("too large, yet data returned")
		}
	})
}
