package logs

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func benchInput(b *testing.B, name string, copies int) []byte {
	in, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		b.Fatal(err)
	}
	return bytes.Repeat(in, copies)
}

func benchSplit(b *testing.B, name string) {
	in := benchInput(b, name, 200)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		sp, _ := NewSplitter(bytes.NewReader(in))
		for {
			if _, err := sp.Next(); err == io.EOF {
				break
			}
		}
	}
}

func BenchmarkSplitNDJSON(b *testing.B)   { benchSplit(b, "PT1H.json") }
func BenchmarkSplitEventHub(b *testing.B) { benchSplit(b, "eventhub.json") }
func BenchmarkSplitPretty(b *testing.B)   { benchSplit(b, "graph-audit-page.json") }

func BenchmarkClassify(b *testing.B) {
	recs := benchRecords(b)
	b.ResetTimer()
	for b.Loop() {
		for _, r := range recs {
			Classify(r)
		}
	}
}

func BenchmarkPrefilter(b *testing.B) {
	recs := benchRecords(b)
	p := NewPrefilter([]string{"6a1e3f0c-2b7d-4c59-9e84-0d2f5a7b1c93", "bg-alpha@contoso.onmicrosoft.com",
		"c4f8b2d1-7e3a-4a06-8b5d-91e2f0c3a7d4", "bg-bravo@contoso.onmicrosoft.com"})
	var n int64
	for _, r := range recs {
		n += int64(len(r))
	}
	b.SetBytes(n)
	b.ResetTimer()
	for b.Loop() {
		for _, r := range recs {
			p.Match(r)
		}
	}
}

func benchRecords(b *testing.B) [][]byte {
	recs, _ := collect(b, benchInput(b, "PT1H.json", 1))
	var out [][]byte
	for _, r := range recs {
		out = append(out, r.Data)
	}
	return out
}
