package kqlrule

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/kql/value"
)

// Annotations of KQL rule alerts.
const (
	// AnnRows is the JSON array of the result rows that made the rule fire
	// (at most MaxAlertRows), each an object of column to value in the
	// result's column order.
	AnnRows = "kql_rows"
	// AnnRowCount is how many rows there were in all.
	AnnRowCount = "kql_row_count"
	// AnnQuery is the rule's query.
	AnnQuery = "kql_query"
	// AnnWindow is the evaluated window, "(from, to]" by ingestion time.
	AnnWindow = "kql_window"
	// AnnCondition says what held: "rows 3 > 0", "Failures 7 > 5".
	AnnCondition = "kql_condition"
	// AnnDimensions is the dimension values of the alert, "A=x, B=y".
	AnnDimensions = "kql_dimensions"
)

// maxCell bounds one value in an alert's rows: a dynamic column can be
// kilobytes of JSON, and an alert is read on a phone.
const maxCell = 2000

func meta(r *Rule) detect.Meta {
	return detect.Meta{ID: r.ID, Severity: r.Cfg.Sev(), Title: title(r), Description: r.Cfg.Description}
}

func title(r *Rule) string {
	if d := strings.TrimSpace(r.Cfg.Description); d != "" && len(d) <= 120 && !strings.Contains(d, "\n") {
		return "KQL rule " + r.Cfg.Name + ": " + d
	}
	return "KQL rule " + r.Cfg.Name + " fired"
}

// newAlert is the part of every alert of r that does not depend on what
// fired it.
func newAlert(r *Rule, acct entra.Account, now time.Time) alert.Alert {
	a := alert.Alert{
		Rule:       r.ID,
		Severity:   r.Cfg.Sev(),
		Title:      title(r),
		AccountID:  acct.ID,
		AccountUPN: acct.UPN,
		Account:    acct.Name,
		Detected:   now,
		Labels:     map[string]string{},
		Annotations: map[string]string{
			AnnQuery: r.Cfg.Query,
		},
	}
	for k, v := range r.Cfg.Labels {
		a.Labels[k] = v
	}
	if d := strings.TrimSpace(r.Cfg.Description); d != "" {
		a.Annotations["description"] = d
	}
	return a
}

// rowsJSON renders rows (capped at MaxAlertRows) as a JSON array of
// objects in column order.
func rowsJSON(cols []value.Column, rows [][]value.Value) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, row := range rows {
		if i == MaxAlertRows {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		writeRow(&b, cols, row)
	}
	b.WriteByte(']')
	return b.String()
}

func writeRow(b *bytes.Buffer, cols []value.Column, row []value.Value) {
	b.WriteByte('{')
	for j, c := range cols {
		if j >= len(row) {
			break
		}
		if j > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(c.Name)
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(cellJSON(row[j]))
	}
	b.WriteByte('}')
}

// cellJSON is one value as JSON: numbers and bools as such, datetimes
// RFC 3339, dynamic values as JSON, everything capped at maxCell.
func cellJSON(v value.Value) string {
	if v.IsNull() && v.T != value.String {
		return "null"
	}
	switch v.T {
	case value.Bool, value.Int, value.Long:
		return v.String()
	case value.Real, value.Decimal:
		s := v.String()
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			q, _ := json.Marshal(s) // NaN, infinities
			return string(q)
		}
		return s
	case value.DateTime:
		q, _ := json.Marshal(v.Time().UTC().Format(time.RFC3339Nano))
		return string(q)
	case value.Dynamic:
		s := value.JSON(v.D)
		if len(s) > maxCell {
			q, _ := json.Marshal(s[:maxCell] + "...")
			return string(q)
		}
		return s
	}
	s := v.String()
	if len(s) > maxCell {
		s = s[:maxCell] + "..."
	}
	q, _ := json.Marshal(s)
	return string(q)
}

// rowKey is a row's identity for dedupe: its values, exactly.
func rowKey(row []value.Value) string {
	var b bytes.Buffer
	for _, v := range row {
		b.WriteString(v.T.String())
		b.WriteByte(':')
		if v.IsNull() {
			b.WriteString("\x00null")
		} else if v.T == value.Dynamic {
			b.WriteString(value.JSON(v.D))
		} else {
			b.WriteString(v.String())
		}
		b.WriteByte('\x1f')
	}
	return b.String()
}
