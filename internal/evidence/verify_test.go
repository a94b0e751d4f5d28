package evidence

import (
	"context"
	"errors"
	"strings"
	"testing"

	"breakglass/internal/store"
)

func TestVerifyIntact(t *testing.T) {
	for _, n := range []int{0, 1, 7, PageSize, 2*PageSize + 3} {
		m := &memLog{}
		fill(m, n)
		var heads []HeadRef
		if n > 0 {
			heads = []HeadRef{{int64(n), m.entries[n-1].Hash}, {1, m.entries[0].Hash}}
		}
		res, err := Verify(context.Background(), m, heads)
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() || res.Entries != int64(n) || res.HeadsChecked != len(heads) {
			t.Errorf("n=%d: %+v %+v", n, res, res.Break)
		}
		if n > 0 && res.Last.Seq != int64(n) {
			t.Errorf("n=%d: last %v", n, res.Last)
		}
	}
}

// Each tampering kind, done to the entries as an attacker with write access
// to the store would (the SQLite versions are in tamper_test.go).
func TestVerifyTampering(t *testing.T) {
	rehash := func(es []store.LogEntry, from int) { // an attacker who recomputes hashes onward
		for i := from; i < len(es); i++ {
			es[i].ContentSHA256 = store.ContentHash(es[i].Content)
			if i > 0 {
				es[i].Prev = es[i-1].Hash
			}
			es[i].Hash = es[i].ComputeHash()
		}
	}
	tests := []struct {
		name   string
		tamper func(es []store.LogEntry) []store.LogEntry
		heads  func(orig []store.LogEntry) []HeadRef
		kind   string
		seq    int64
		detail string
	}{
		{"edited content", func(es []store.LogEntry) []store.LogEntry {
			es[4].Content = []byte(`{"n":999}`)
			return es
		}, nil, BrokenContent, 5, "content"},
		{"edited content and its hash", func(es []store.LogEntry) []store.LogEntry {
			es[4].Content = []byte(`{"n":999}`)
			es[4].ContentSHA256 = store.ContentHash(es[4].Content)
			return es
		}, nil, BrokenHeader, 5, "hash does not match"},
		{"edited content, rehashed entry", func(es []store.LogEntry) []store.LogEntry {
			es[4].Content = []byte(`{"n":999}`)
			es[4].ContentSHA256 = store.ContentHash(es[4].Content)
			es[4].Hash = es[4].ComputeHash()
			return es
		}, nil, BrokenLink, 6, "does not link to entry 5"},
		{"edited header field", func(es []store.LogEntry) []store.LogEntry {
			es[2].Incident = "inc-other"
			return es
		}, nil, BrokenHeader, 3, "hash does not match"},
		{"edited time", func(es []store.LogEntry) []store.LogEntry {
			es[2].At = es[2].At.Add(1)
			return es
		}, nil, BrokenHeader, 3, "hash does not match"},
		{"deleted entry", func(es []store.LogEntry) []store.LogEntry {
			return append(es[:3:3], es[4:]...)
		}, nil, BrokenMissing, 4, "entry 4 missing"},
		{"deleted entries", func(es []store.LogEntry) []store.LogEntry {
			return append(es[:3:3], es[6:]...)
		}, nil, BrokenMissing, 4, "entries 4 to 6 missing"},
		{"deleted first entry", func(es []store.LogEntry) []store.LogEntry {
			return es[1:]
		}, nil, BrokenMissing, 1, "entry 1 missing"},
		{"deleted entry, renumbered", func(es []store.LogEntry) []store.LogEntry {
			es = append(es[:3:3], es[4:]...)
			for i := 3; i < len(es); i++ {
				es[i].Seq--
			}
			return es
		}, nil, BrokenReordered, 4, "written as entry 5"},
		{"deleted entry, rechained", func(es []store.LogEntry) []store.LogEntry {
			es = append(es[:3:3], es[4:]...)
			for i := 3; i < len(es); i++ {
				es[i].Seq--
			}
			rehash(es, 3)
			return es
		}, func(orig []store.LogEntry) []HeadRef {
			return []HeadRef{{orig[len(orig)-1].Seq, orig[len(orig)-1].Hash}}
		}, BrokenTruncated, 10, "log ends at entry 9"},
		{"inserted entry", func(es []store.LogEntry) []store.LogEntry {
			ins := store.LogEntry{Seq: 5, Incident: "inc-a", Kind: store.LogRecord, Ref: "forged", At: es[3].At, Content: []byte(`{"forged":1}`)}
			ins.ContentSHA256 = store.ContentHash(ins.Content)
			ins.Prev = es[3].Hash
			ins.Hash = ins.ComputeHash()
			rest := append([]store.LogEntry{ins}, es[4:]...)
			for i := 1; i < len(rest); i++ {
				rest[i].Seq++
			}
			return append(es[:4:4], rest...)
		}, nil, BrokenInserted, 5, "entry 5 was inserted (1 inserted in all, entries 5 to 5): entry 6 was written as entry 5"},
		{"inserted entry, same seq", func(es []store.LogEntry) []store.LogEntry {
			ins := es[4]
			ins.Ref = "forged"
			return append(es[:5:5], append([]store.LogEntry{ins}, es[5:]...)...)
		}, nil, BrokenInserted, 5, "repeats"},
		{"swapped order", func(es []store.LogEntry) []store.LogEntry {
			es[4], es[5] = es[5], es[4]
			es[4].Seq, es[5].Seq = 5, 6
			return es
		}, nil, BrokenReordered, 5, "written as entry 6"},
		{"truncated tail", func(es []store.LogEntry) []store.LogEntry {
			return es[:7]
		}, func(orig []store.LogEntry) []HeadRef {
			return []HeadRef{{10, orig[9].Hash}}
		}, BrokenTruncated, 8, "entries 8 to 10 deleted"},
		{"truncated to nothing", func(es []store.LogEntry) []store.LogEntry {
			return nil
		}, func(orig []store.LogEntry) []HeadRef {
			return []HeadRef{{10, orig[9].Hash}}
		}, BrokenTruncated, 1, "log ends at entry 0"},
		{"rewritten tail", func(es []store.LogEntry) []store.LogEntry {
			es[8].Content = []byte(`{"n":"x"}`)
			rehash(es, 8)
			return es
		}, func(orig []store.LogEntry) []HeadRef {
			return []HeadRef{{10, orig[9].Hash}}
		}, BrokenHead, 10, "was published for it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &memLog{}
			fill(m, 10)
			orig := append([]store.LogEntry(nil), m.entries...)
			m.entries = tt.tamper(append([]store.LogEntry(nil), m.entries...))
			var heads []HeadRef
			if tt.heads != nil {
				heads = tt.heads(orig)
			}
			res, err := Verify(context.Background(), m, heads)
			if err != nil {
				t.Fatal(err)
			}
			b := res.Break
			if b == nil {
				t.Fatalf("tampering not detected: %+v", res)
			}
			if b.Kind != tt.kind || b.Seq != tt.seq || !strings.Contains(b.Detail, tt.detail) {
				t.Errorf("got %s at %d: %s\nwant %s at %d containing %q", b.Kind, b.Seq, b.Detail, tt.kind, tt.seq, tt.detail)
			}
			if !strings.Contains(b.Error(), "entry") {
				t.Errorf("error %q names no entry", b.Error())
			}
		})
	}
}

func TestVerifyReadError(t *testing.T) {
	m := &memLog{err: errors.New("disk I/O error")}
	if _, err := Verify(context.Background(), m, nil); err == nil || !strings.Contains(err.Error(), "disk I/O error") {
		t.Fatalf("err = %v", err)
	}
}

func TestVerifySegment(t *testing.T) {
	m := &memLog{}
	fill(m, 10)
	seg := append([]store.LogEntry(nil), m.entries[4:]...)
	if r := VerifySegment(seg, 0, []HeadRef{RefOf(m.entries[9])}); !r.OK() || r.HeadsChecked != 1 {
		t.Fatalf("intact segment: %+v", r.Break)
	}
	// Header-only entries are checked by their recorded content hash.
	seg[1].Content = nil
	if r := VerifySegment(seg, 5, nil); !r.OK() {
		t.Fatalf("header-only entry: %+v", r.Break)
	}
	if r := VerifySegment(seg, 4, nil); r.OK() || r.Break.Kind != BrokenMissing {
		t.Fatalf("wrong start: %+v", r)
	}
	seg[2].Content = []byte("x")
	if r := VerifySegment(seg, 5, nil); r.OK() || r.Break.Seq != 7 || r.Break.Kind != BrokenContent {
		t.Fatalf("edited: %+v", r.Break)
	}
}
