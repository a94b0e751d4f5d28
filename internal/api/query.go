package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/kql"
	"breakglass/internal/kql/eval"
	"breakglass/internal/kql/value"
	"breakglass/internal/kqlrule"
)

// The query endpoint's limits. A query runs on the daemon that watches
// the accounts: it must not starve it, so it is bounded in time, rows,
// memory and how many run at once.
const (
	DefaultQueryTimeout = 10 * time.Second
	MaxQueryTimeout     = 60 * time.Second
	DefaultQueryRows    = 1000
	MaxQueryRows        = 10000
	// queryGroups bounds summarize/join/distinct state (eval.MaxGroups).
	queryGroups = 200000
	// queriesAtOnce: more wait for none; they are refused (503).
	queriesAtOnce = 2
)

// Error codes of the query endpoint.
const (
	CodeBadQuery    = "bad_query"   // a syntax, name or type error, at line:col
	CodeUnsupported = "unsupported" // valid KQL that breakglass cannot run
	CodeTimeout     = "timeout"     // it ran longer than its timeout
)

// QueryRequest is the body of POST /query.
type QueryRequest struct {
	Query string `json:"query"`
	// Timeout is a Go duration ("10s", "1m"): default 10s, at most 60s.
	Timeout string `json:"timeout,omitempty"`
	// MaxRows: default 1000, at most 10000; Truncated says when cut.
	MaxRows int `json:"max_rows,omitempty"`
}

// QueryColumn is one result column: its name and KQL type.
type QueryColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// QueryResult answers POST /query. Each row is an object from column
// name to value, keys in column order, as `breakglass query --format
// json` prints them: null for null, datetimes in RFC 3339, timespans as
// Kusto writes them, dynamic values as JSON.
type QueryResult struct {
	Columns   []QueryColumn     `json:"columns"`
	Rows      []json.RawMessage `json:"rows"`
	Truncated bool              `json:"truncated"`
	// MaxRows is the row limit the query ran with.
	MaxRows int    `json:"max_rows"`
	Elapsed string `json:"elapsed"`
	// Warnings say what the result cannot show: tables breakglass does not
	// have (union isfuzzy=true skips them), locations without a GeoIP
	// database.
	Warnings []string `json:"warnings,omitempty"`
}

// QueryOutcome is a query's result, for pages rendered beside the API.
type QueryOutcome struct {
	Result   *eval.Result
	MaxRows  int
	Elapsed  time.Duration
	Warnings []string // as QueryResult.Warnings
}

// QueryError is why a query gave no result: the HTTP status and the
// API's error body.
type QueryError struct {
	Status int
	Detail ErrorDetail
}

func (e *QueryError) Error() string { return e.Detail.Message }

func queryRoutes() []Route {
	return []Route{
		{Method: "POST", Path: "/api/v1/query", Role: RoleViewer,
			Summary: "Run a KQL query over the records the store keeps (read-only; default 10 s and 1000 rows, at most 60 s and 10000 rows)",
			Request: QueryRequest{}, Response: QueryResult{}, handler: (*Server).query},
	}
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	var rq QueryRequest
	if !decodeLimit(w, r, &rq, kql.MaxQueryBytes+4<<10) {
		return
	}
	out, qe := s.Query(r.Context(), rq)
	if qe != nil {
		if qe.Status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		}
		writeJSON(w, qe.Status, ErrorBody{Error: qe.Detail})
		return
	}
	res := QueryResult{Columns: []QueryColumn{}, Rows: []json.RawMessage{}, Truncated: out.Result.Truncated,
		MaxRows: out.MaxRows, Elapsed: out.Elapsed.Round(time.Millisecond).String(), Warnings: out.Warnings}
	for _, c := range out.Result.Columns {
		res.Columns = append(res.Columns, QueryColumn{Name: c.Name, Type: c.Type.String()})
	}
	for _, row := range out.Result.Rows {
		res.Rows = append(res.Rows, RowJSON(out.Result.Columns, row))
	}
	writeJSON(w, http.StatusOK, res)
}

// Query runs one KQL query over Options.Catalog with the endpoint's
// limits. Errors name the place: line:col in the text sent.
func (s *Server) Query(ctx context.Context, rq QueryRequest) (QueryOutcome, *QueryError) {
	bad := func(field, msg string) *QueryError {
		return &QueryError{http.StatusBadRequest, ErrorDetail{Code: CodeBadRequest, Message: field + ": " + msg, Field: field}}
	}
	if s.o.Catalog == nil {
		return QueryOutcome{}, &QueryError{http.StatusServiceUnavailable, ErrorDetail{Code: CodeUnavailable,
			Message: "this server does not run queries; use breakglass query --store on the host"}}
	}
	timeout := DefaultQueryTimeout
	if rq.Timeout != "" {
		d, err := time.ParseDuration(rq.Timeout)
		if err != nil || d <= 0 || d > MaxQueryTimeout {
			return QueryOutcome{}, bad("timeout", fmt.Sprintf("%q is not a positive duration up to 60s, such as 10s", rq.Timeout))
		}
		timeout = d
	}
	maxRows := DefaultQueryRows
	if rq.MaxRows != 0 {
		if rq.MaxRows < 1 || rq.MaxRows > MaxQueryRows {
			return QueryOutcome{}, bad("max_rows", fmt.Sprintf("%d is not a number from 1 to %d", rq.MaxRows, MaxQueryRows))
		}
		maxRows = rq.MaxRows
	}
	if len(rq.Query) > kql.MaxQueryBytes {
		return QueryOutcome{}, bad("query", "larger than 1 MiB; that is not a query")
	}
	blocks := kql.SplitBlocks(rq.Query)
	switch {
	case len(blocks) == 0:
		return QueryOutcome{}, &QueryError{http.StatusBadRequest, ErrorDetail{Code: CodeBadQuery, Field: "query",
			Message: "query: empty; write one, such as SigninLogs | take 10"}}
	case len(blocks) > 1:
		return QueryOutcome{}, &QueryError{http.StatusBadRequest, ErrorDetail{Code: CodeBadQuery, Field: "query", Line: blocks[1].Line, Col: 1,
			Message: fmt.Sprintf("query:%d:1: a second query starts here (a blank line separates queries); send one at a time", blocks[1].Line)}}
	}
	b := blocks[0]
	select {
	case s.queries <- struct{}{}:
		defer func() { <-s.queries }()
	default:
		return QueryOutcome{}, &QueryError{http.StatusServiceUnavailable, ErrorDetail{Code: CodeUnavailable,
			Message: fmt.Sprintf("%d queries are already running; try again in a few seconds", queriesAtOnce)}}
	}
	start := s.o.Now()
	sc, err := kql.Parse(b.Text)
	var q *eval.Query
	if err == nil {
		q, err = eval.Compile(sc, markedCatalog{s.o.Catalog}, eval.Options{Now: start.UTC(), Watchlists: s.o.Watchlists, Geo: s.o.Geo, MaxRows: maxRows, MaxGroups: queryGroups})
	}
	if err != nil {
		return QueryOutcome{}, s.queryError(b, err, timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := q.Run(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return QueryOutcome{}, s.queryError(b, context.DeadlineExceeded, timeout)
		}
		return QueryOutcome{}, s.queryError(b, err, timeout)
	}
	return QueryOutcome{Result: res, MaxRows: maxRows, Elapsed: s.o.Now().Sub(start), Warnings: kqlrule.Warnings(q, s.o.Geo)}, nil
}

// markedCatalog marks the errors of reading the catalog (the store), so
// they are answered as the server's failure, not the query's.
type markedCatalog struct{ eval.Catalog }

type catalogError struct{ err error }

func (e catalogError) Error() string { return e.err.Error() }
func (e catalogError) Unwrap() error { return e.err }

func (c markedCatalog) Scan(ctx context.Context, table string, fn func([]value.Value) error) error {
	var fnErr error
	err := c.Catalog.Scan(ctx, table, func(row []value.Value) error {
		fnErr = fn(row)
		return fnErr
	})
	if err != nil && (fnErr == nil || !errors.Is(err, fnErr)) && ctx.Err() == nil {
		return catalogError{err}
	}
	return err
}

// queryError places an engine or parser error in the whole text.
func (s *Server) queryError(b kql.Block, err error, timeout time.Duration) *QueryError {
	at := func(code string, p kql.Pos, msg string) *QueryError {
		line := b.Line + p.Line - 1
		return &QueryError{http.StatusBadRequest, ErrorDetail{Code: code, Field: "query", Line: line, Col: p.Col,
			Message: fmt.Sprintf("query:%d:%d: %s", line, p.Col, printable(msg))}}
	}
	var se *kql.SyntaxError
	var ue *kql.UnsupportedError
	var ee *eval.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &QueryError{http.StatusGatewayTimeout, ErrorDetail{Code: CodeTimeout, Field: "timeout",
			Message: fmt.Sprintf("the query ran longer than %s and was stopped; narrow it (a where on TimeGenerated, | take N) or raise timeout (at most 60s)", timeout)}}
	case errors.As(err, new(catalogError)):
		// The store path or SQL text is not the caller's business.
		s.o.Logger.Error("api: a query could not read the store", "err", err)
		return &QueryError{http.StatusInternalServerError, ErrorDetail{Code: CodeInternal,
			Message: "reading the store's records failed; the daemon's log says why"}}
	case errors.As(err, &ue):
		qe := at(CodeUnsupported, ue.Pos, "valid KQL, but breakglass cannot run it: "+ue.Msg)
		qe.Status = http.StatusUnprocessableEntity
		return qe
	case errors.As(err, &se):
		return at(CodeBadQuery, se.Pos, se.Msg)
	case errors.As(err, &ee):
		return at(CodeBadQuery, ee.Pos, ee.Msg)
	}
	// A run-time failure without a place (too many groups, a store read):
	// the caller's query is the likelier cause; the message is the
	// engine's, without internals of the store.
	return &QueryError{http.StatusBadRequest, ErrorDetail{Code: CodeBadQuery, Field: "query",
		Message: "the query failed while running: " + printable(err.Error())}}
}

// printable keeps control characters out of messages (a query may hold
// anything).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// RowJSON writes one result row as a JSON object, keys in column order.
func RowJSON(cols []value.Column, row []value.Value) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range cols {
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
	b.WriteByte('}')
	return b.Bytes()
}

func jsonString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
}

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
		js := value.JSON(v.D)
		if !json.Valid([]byte(js)) {
			jsonString(b, js)
			return
		}
		b.WriteString(js)
	default: // string, guid, timespan
		jsonString(b, v.String())
	}
}

// CellText is a value as the dashboard's result table shows it: "" for
// null, datetimes in RFC 3339, dynamic values as JSON.
func CellText(v value.Value) string {
	if v.IsNull() {
		return ""
	}
	if v.T == value.DateTime {
		return v.Time().Format(time.RFC3339Nano)
	}
	return v.String()
}
