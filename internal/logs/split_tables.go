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

// queued is a record or error the splitter has produced ahead of the
// caller, from a table document.
type queued struct {
	rec Record
	err error
}

// tables turns the table document buf[start:end] (already validated as
// JSON) into records, queued for Next. A document that is not the table
// shape after all (columns without names, rows not arrays) is returned
// whole as a plain record: the classifier then treats it as any unknown
// shape (bg.unparsed when it names an account). A row whose cell count
// differs from the columns is a piece of its own (unknown_shape), matched
// like any skipped input.
func (s *Splitter) tables(start, end int) (Record, error) {
	whole := Record{Data: s.buf[start:end], Line: s.lineAt(start), Offset: s.off + int64(start)}
	doc := s.buf[start:end]
	var q []queued
	ok := eachMember(doc, 0, func(key []byte, v, vend int) bool {
		if !keyTables(key) {
			return true // another member: nothing of ours
		}
		if doc[v] != '[' {
			return false
		}
		return eachElement(doc, v, func(t, tend int) bool {
			if doc[t] != '{' {
				return false
			}
			var colsAt, rowsAt = -1, -1
			if !eachMember(doc, t, func(key []byte, v, vend int) bool {
				switch {
				case bytes.EqualFold(key, []byte(`"columns"`)):
					colsAt = v
				case bytes.EqualFold(key, []byte(`"rows"`)):
					rowsAt = v
				}
				return true
			}) {
				return false
			}
			if colsAt < 0 || rowsAt < 0 || doc[colsAt] != '[' || doc[rowsAt] != '[' {
				return false
			}
			var names []string
			if !eachElement(doc, colsAt, func(c, cend int) bool {
				var col struct {
					Name       string `json:"name"`
					ColumnName string `json:"ColumnName"`
				}
				if json.Unmarshal(doc[c:cend], &col) != nil {
					return false
				}
				n := col.Name
				if n == "" {
					n = col.ColumnName
				}
				names = append(names, n)
				return n != ""
			}) {
				return false
			}
			return eachElement(doc, rowsAt, func(r, rend int) bool {
				if doc[r] != '[' {
					return false
				}
				obj := make([]byte, 0, rend-r+len(names)*24)
				obj = append(obj, '{')
				n := 0
				eachElement(doc, r, func(c, cend int) bool {
					if n < len(names) {
						if cell := doc[c:cend]; !bytes.Equal(cell, []byte("null")) {
							if len(obj) > 1 {
								obj = append(obj, ',')
							}
							obj = appendJSONString(obj, names[n])
							obj = append(obj, ':')
							obj = append(obj, cell...)
						}
					}
					n++
					return true
				})
				obj = append(obj, '}')
				if n != len(names) {
					err := fmt.Errorf("table row has %d cells for %d columns", n, len(names))
					q = append(q, queued{err: s.pieceErr(start+r, start+rend, ReasonUnknownShape, err)})
					return true
				}
				q = append(q, queued{rec: Record{Data: obj, Table: true, Line: s.lineAt(start + r), Offset: s.off + int64(start+r)}})
				return true
			})
		})
	})
	if !ok {
		return whole, nil
	}
	if len(q) == 0 {
		return s.Next()
	}
	s.queue = q[1:]
	return q[0].rec, q[0].err
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
