package backup

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSplitHeads: whatever the heads file holds (torn lines, garbage, huge
// sequence numbers), splitting never panics, keeps every line that is not
// a head past lastSeq byte for byte, and moves the whole file aside.
func FuzzSplitHeads(f *testing.F) {
	f.Add([]byte(`{"seq":5,"hash":"`+string(bytes.Repeat([]byte("a"), 64))+`","at":"2026-01-01T00:00:00Z"}`+"\n"), int64(3))
	f.Add([]byte("not a head\n{\"seq\":1,\"hash\":\"x\"}\n{\"seq\":"), int64(0))
	f.Add([]byte("\n\n\r\n"), int64(-1))
	f.Fuzz(func(t *testing.T, data []byte, last int64) {
		dir := t.TempDir()
		file := filepath.Join(dir, "heads")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		hr, err := splitHeads(file, file+".aside", last)
		if err != nil {
			t.Fatal(err)
		}
		aside, err := os.ReadFile(file + ".aside")
		if err != nil || !bytes.Equal(aside, data) {
			t.Fatalf("the file moved aside differs: %v", err)
		}
		kept, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if hr.Kept+hr.Past != lines {
			t.Errorf("kept %d + past %d != %d lines", hr.Kept, hr.Past, lines)
		}
		for _, l := range bytes.SplitAfter(kept, []byte("\n")) {
			if len(l) > 0 && !bytes.Contains(data, bytes.TrimSuffix(l, []byte("\n"))) {
				t.Errorf("kept line %q is not in the original", l)
			}
		}
	})
}
