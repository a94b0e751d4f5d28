package logs

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The Log Analytics query API (api.loganalytics.io/v1/workspaces/{id}/query,
// and the Azure Monitor "Logs - Query" REST call behind the portal, Logic
// Apps and many SIEM connectors) answers with a columns+rows table, not one
// object per row:
//
//	{"tables":[{"name":"PrimaryResult",
//	  "columns":[{"name":"TimeGenerated","type":"datetime"},...],
//	  "rows":[["2024-06-20T08:00:00Z",...],...]}]}
//
// Azure Data Explorer's v1 REST answer (which Log Analytics also speaks) is
// the same in PascalCase: {"Tables":[{"TableName":..,"Columns":[{"ColumnName":
// ..,"DataType":..}],"Rows":[...]}]}. Each row is turned into an object keyed
// by column name, exactly as a Log Analytics JSON export holds it, so that
// the rest of the scanner sees one form (dynamic columns arrive as JSON
// text, which the decoders read). Responders save these answers to files and
// hand them over, so before this they were one unknown-shape record.

// keyTables reports whether key (quoted) is "tables" in any casing.
func keyTables(key []byte) bool {
	return len(key) == 8 && bytes.EqualFold(key[1:7], []byte("tables"))
}

// frameKey reports whether key, the first of an object, marks a table
// frame of an ADX v2 answer. Machines write FrameType first; a re-encoded
// answer (keys sorted, as Go and jq -S write them) starts with Columns.
func frameKey(key []byte) bool {
	switch string(key) {
	case `"FrameType"`, `"Columns"`, `"columns"`, `"TableId"`, `"TableKind"`, `"TableName"`:
		return true
	}
	return false
}

// tableRows yields the rows of a table document one at a time, so that
// memory stays at the document plus one row however the rows expand
// (every row repeats every column name: long names and short cells would
// otherwise multiply a 64 MiB document many times over).
type tableRows struct {
	doc    []byte // a copy of the document
	off    int64  // input offset of doc[0]
	line   int    // line of doc[lpos]
	lpos   int
	single bool // doc is one table (an ADX v2 frame), not {"tables":[...]}
	tpos   int  // in the tables array: where the next table may start; -1 when done
	names  []string
	rpos   int // in the current table's rows array; -1 when between tables
}

// tables starts yielding the rows of the table document buf[start:end]
// (already validated as JSON): {"tables":[...]}, or with single one table
// object (an ADX v2 DataTable frame). A document that is not the table
// shape after all (no columns and rows, columns without names, rows not
// arrays) is returned whole as a plain record: the classifier then treats
// it as any unknown shape (bg.unparsed when it names an account).
func (s *Splitter) tables(start, end int, single bool) (Record, error) {
	doc := s.buf[start:end]
	ok := true
	if single {
		_, _, ok = tableAt(doc, 0, true)
	} else {
		seen := false
		ok = eachMember(doc, 0, func(key []byte, v, vend int) bool {
			if !keyTables(key) {
				return true // another member: nothing of ours
			}
			if seen {
				return false // two "tables": read as one unknown record, fail closed
			}
			seen = true
			return doc[v] == '[' && eachElement(doc, v, func(t, tend int) bool {
				_, _, ok := tableAt(doc, t, true)
				return ok
			})
		})
	}
	if !ok {
		return Record{Data: doc, Line: s.lineAt(start), Offset: s.off + int64(start)}, nil
	}
	tr := &tableRows{doc: append([]byte(nil), doc...), off: s.off + int64(start), line: s.lineAt(start), single: single, rpos: -1}
	if single {
		tr.tpos = 0
	} else {
		tr.tpos = -1
		eachMember(tr.doc, 0, func(key []byte, v, vend int) bool {
			if keyTables(key) && tr.tpos < 0 {
				tr.tpos = v + 1 // the first "tables" member (the classifier's rule too)
			}
			return true
		})
	}
	s.rows = tr
	return s.Next()
}

// tableAt reads the table object at doc[t]: its column names, and where
// its rows array starts. With check, every row must be an array.
func tableAt(doc []byte, t int, check bool) (names []string, rowsAt int, ok bool) {
	if doc[t] != '{' {
		return nil, 0, false
	}
	colsAt, rowsAt := -1, -1
	if !eachMember(doc, t, func(key []byte, v, vend int) bool {
		switch {
		case bytes.EqualFold(key, []byte(`"columns"`)):
			if colsAt >= 0 {
				return false // duplicates: not a table we can read one way
			}
			colsAt = v
		case bytes.EqualFold(key, []byte(`"rows"`)):
			if rowsAt >= 0 {
				return false
			}
			rowsAt = v
		}
		return true
	}) {
		return nil, 0, false
	}
	if colsAt < 0 || rowsAt < 0 || doc[colsAt] != '[' || doc[rowsAt] != '[' {
		return nil, 0, false
	}
	if !eachElement(doc, colsAt, func(c, cend int) bool {
		var col struct {
			Name       string `json:"name"`
			ColumnName string `json:"ColumnName"`
		}
		if doc[c] != '{' || json.Unmarshal(doc[c:cend], &col) != nil {
			return false
		}
		n := col.Name
		if n == "" {
			n = col.ColumnName
		}
		names = append(names, n)
		return n != ""
	}) {
		return nil, 0, false
	}
	if check && !eachElement(doc, rowsAt, func(r, rend int) bool { return doc[r] == '[' }) {
		return nil, 0, false
	}
	return names, rowsAt, true
}

// lineOf is the line of doc[i]; calls come in increasing i.
func (tr *tableRows) lineOf(i int) int {
	tr.line += bytes.Count(tr.doc[tr.lpos:i], []byte{'\n'})
	tr.lpos = i
	return tr.line
}

// nextRow returns the next row as a record, a row that does not fit its
// columns (or is too large as a record) as a *RecordError, or ok false
// when no rows are left.
func (s *Splitter) nextRow() (Record, bool, error) {
	tr := s.rows
	doc := tr.doc
	for {
		if tr.rpos < 0 {
			// Between tables: find the next one.
			if tr.tpos < 0 {
				s.rows = nil
				return Record{}, false, nil
			}
			t := skipSpace(doc, tr.tpos)
			if !tr.single {
				if t < len(doc) && doc[t] == ',' {
					t = skipSpace(doc, t+1)
				}
				if t >= len(doc) || doc[t] == ']' {
					tr.tpos = -1
					continue
				}
			}
			names, rowsAt, _ := tableAt(doc, t, false) // checked in tables
			tend, _, _ := skipValue(doc, t, nil)
			tr.names, tr.rpos = names, rowsAt+1
			tr.tpos = tend
			if tr.single {
				tr.tpos = -1
			}
			continue
		}
		r := skipSpace(doc, tr.rpos)
		if r < len(doc) && doc[r] == ',' {
			r = skipSpace(doc, r+1)
		}
		if r >= len(doc) || doc[r] == ']' {
			tr.rpos = -1
			continue
		}
		rend, _, _ := skipValue(doc, r, nil)
		tr.rpos = rend
		line, off := tr.lineOf(r), tr.off+int64(r)
		obj := make([]byte, 0, min(rend-r+len(tr.names)*24, s.max+1))
		obj = append(obj, '{')
		n := 0
		eachElement(doc, r, func(c, cend int) bool {
			if n < len(tr.names) && len(obj) <= s.max {
				if cell := doc[c:cend]; !bytes.Equal(cell, []byte("null")) {
					if len(obj) > 1 {
						obj = append(obj, ',')
					}
					obj = appendJSONString(obj, tr.names[n])
					obj = append(obj, ':')
					obj = append(obj, cell...)
				}
			}
			n++
			return true
		})
		obj = append(obj, '}')
		var reason string
		var err error
		switch {
		case n != len(tr.names):
			reason, err = ReasonUnknownShape, fmt.Errorf("table row has %d cells for %d columns", n, len(tr.names))
		case len(obj) > s.max:
			reason, err = ReasonTooLarge, fmt.Errorf("table row as a record exceeds %d bytes", s.max)
		}
		if err != nil {
			re := &RecordError{Line: line, Offset: off, Reason: reason, Err: err}
			s.startPiece()
			s.addPiece(doc[r:rend])
			return Record{}, true, s.endPiece(re)
		}
		return Record{Data: obj, Table: true, Line: line, Offset: off}, true, nil
	}
}

// eachMember calls fn for each member of the object at b[i] (valid JSON),
// with the quoted key and the span of its value, until fn returns false.
func eachMember(b []byte, i int, fn func(key []byte, v, vend int) bool) bool {
	j := skipSpace(b, i+1)
	if j < len(b) && b[j] == '}' {
		return true
	}
	for j < len(b) {
		kend, err := skipString(b, j)
		if err != nil {
			return false
		}
		k := skipSpace(b, kend)
		if k >= len(b) || b[k] != ':' {
			return false
		}
		v := skipSpace(b, k+1)
		vend, _, err := skipValue(b, v, nil)
		if err != nil {
			return false
		}
		if !fn(b[j:kend], v, vend) {
			return false
		}
		j = skipSpace(b, vend)
		if j >= len(b) || b[j] == '}' {
			return j < len(b)
		}
		if b[j] != ',' {
			return false
		}
		j = skipSpace(b, j+1)
	}
	return false
}

// eachElement calls fn for each element of the array at b[i] (valid JSON)
// until fn returns false.
func eachElement(b []byte, i int, fn func(v, vend int) bool) bool {
	j := skipSpace(b, i+1)
	if j < len(b) && b[j] == ']' {
		return true
	}
	for j < len(b) {
		vend, _, err := skipValue(b, j, nil)
		if err != nil {
			return false
		}
		if !fn(j, vend) {
			return false
		}
		j = skipSpace(b, vend)
		if j >= len(b) || b[j] == ']' {
			return j < len(b)
		}
		if b[j] != ',' {
			return false
		}
		j = skipSpace(b, j+1)
	}
	return false
}
