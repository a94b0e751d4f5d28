package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"breakglass/internal/kql/eval"
	"breakglass/internal/kql/value"
)

// rowWriter prints query results as a table, JSON lines or CSV.
type rowWriter struct {
	w      *bufio.Writer
	format string
	blocks int // results written
}

func newRowWriter(w io.Writer, format string) *rowWriter {
	return &rowWriter{w: bufio.NewWriter(w), format: format}
}

// begin announces the next query of a multi-query text (table and csv
// only: JSON lines stay one object per row).
func (r *rowWriter) begin(n, line int) {
	switch r.format {
	case "table":
		if r.blocks > 0 {
			r.w.WriteString("\n")
		}
		fmt.Fprintf(r.w, "query %d (line %d):\n", n, line)
	case "csv":
		if r.blocks > 0 {
			r.w.WriteString("\n")
		}
	}
}

func (r *rowWriter) write(res *eval.Result) error {
	r.blocks++
	var err error
	switch r.format {
	case "json":
		err = writeJSONRows(r.w, res)
	case "csv":
		err = writeCSVRows(r.w, res)
	default:
		err = writeTableRows(r.w, res)
	}
	if err != nil {
		return err
	}
	return r.w.Flush()
}

func (r *rowWriter) flush() error { return r.w.Flush() }

// writeJSONRows writes one object per row, keys in column order.
func writeJSONRows(w io.Writer, res *eval.Result) error {
	var b bytes.Buffer
	for _, row := range res.Rows {
		b.Reset()
		b.WriteByte('{')
		for i, c := range res.Columns {
			if i > 0 {
				b.WriteByte(',')
			}
			jsonString(&b, c.Name)
			b.WriteByte(':')
			var v value.Value
			if i < len(row) {
				v = row[i]
			}
			jsonValue(&b, v)
		}
		b.WriteString("}\n")
		if _, err := w.Write(b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func jsonString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
}

// jsonValue writes a value as JSON: null for a null, numbers and bools as
// such, datetimes in RFC 3339, timespans as Kusto writes them, dynamic
// values as their JSON.
func jsonValue(b *bytes.Buffer, v value.Value) {
	if v.IsNull() {
		b.WriteString("null")
		return
	}
	switch v.T {
	case value.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case value.Int, value.Long:
		b.WriteString(strconv.FormatInt(v.I, 10))
	case value.Real, value.Decimal:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			jsonString(b, value.FormatReal(v.F)) // JSON has no NaN
			return
		}
		b.WriteString(strconv.FormatFloat(v.F, 'g', -1, 64))
	case value.DateTime:
		jsonString(b, v.Time().Format(time.RFC3339Nano))
	case value.Dynamic:
		b.WriteString(value.JSON(v.D))
	default: // string, guid, timespan
		jsonString(b, v.String())
	}
}

// cellText is a value as CSV and the table show it: "" for null, datetimes
// in RFC 3339, dynamic values as JSON (a dynamic string as its text).
func cellText(v value.Value) string {
	if v.IsNull() {
		return ""
	}
	if v.T == value.DateTime {
		return v.Time().Format(time.RFC3339Nano)
	}
	return v.String()
}

func writeCSVRows(w io.Writer, res *eval.Result) error {
	cw := csv.NewWriter(w)
	rec := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		rec[i] = c.Name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	for _, row := range res.Rows {
		for i := range rec {
			rec[i] = ""
			if i < len(row) {
				rec[i] = cellText(row[i])
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// maxCell bounds a table cell: a whole TargetResources array would make
// the table unreadable; json or csv show everything.
const maxCell = 60

func writeTableRows(w io.Writer, res *eval.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, c := range res.Columns {
		if i > 0 {
			io.WriteString(tw, "\t")
		}
		io.WriteString(tw, printable(c.Name))
	}
	io.WriteString(tw, "\n")
	for _, row := range res.Rows {
		for i := range res.Columns {
			if i > 0 {
				io.WriteString(tw, "\t")
			}
			if i < len(row) {
				io.WriteString(tw, shorten(printable(cellText(row[i])), maxCell))
			}
		}
		io.WriteString(tw, "\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch n := len(res.Rows); n {
	case 0:
		_, err := io.WriteString(w, "(no rows)\n")
		return err
	case 1:
		_, err := io.WriteString(w, "(1 row)\n")
		return err
	default:
		_, err := fmt.Fprintf(w, "(%d rows)\n", n)
		return err
	}
}

// shorten cuts s to n runes, marking the cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
