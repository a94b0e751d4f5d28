// Command naivescan is the baseline for `make bench`: it finds break-glass
// records the obvious way, by fully decoding every record with encoding/json
// into generic maps, and reports what it found. It is not part of the
// product; it exists so the fast path has an honest yardstick.
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: naivescan ID[,ID...] FILE...")
		os.Exit(2)
	}
	ids := map[string]bool{}
	for _, id := range strings.Split(os.Args[1], ",") {
		ids[strings.ToLower(id)] = true
	}
	var records, matched int
	for _, name := range os.Args[2:] {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var r io.Reader = bufio.NewReaderSize(f, 1<<20)
		if strings.HasSuffix(name, ".gz") {
			if r, err = gzip.NewReader(r); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		dec := json.NewDecoder(r)
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); err == io.EOF {
				break
			} else if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			var recs []any
			if rs, ok := doc["records"].([]any); ok {
				recs = rs
			} else if vs, ok := doc["value"].([]any); ok {
				recs = vs
			} else {
				recs = []any{doc}
			}
			for _, rec := range recs {
				records++
				if match(rec, ids) {
					matched++
				}
			}
		}
		f.Close()
	}
	fmt.Printf("records %d matched %d\n", records, matched)
}

// match looks where the product looks: the user of a sign-in, the initiator
// and the targets of an audit event.
func match(rec any, ids map[string]bool) bool {
	m, _ := rec.(map[string]any)
	if p, ok := m["properties"].(map[string]any); ok {
		m = p
	}
	str := func(v any) string { s, _ := v.(string); return strings.ToLower(s) }
	if ids[str(m["userId"])] {
		return true
	}
	if ib, ok := m["initiatedBy"].(map[string]any); ok {
		if u, ok := ib["user"].(map[string]any); ok && ids[str(u["id"])] {
			return true
		}
	}
	if ts, ok := m["targetResources"].([]any); ok {
		for _, t := range ts {
			if tm, ok := t.(map[string]any); ok && ids[str(tm["id"])] {
				return true
			}
		}
	}
	return false
}
