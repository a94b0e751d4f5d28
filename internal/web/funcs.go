package web

import (
	"fmt"
	"html/template"
	"time"

	"breakglass/internal/alert"
)

func funcs(now func() time.Time) template.FuncMap {
	return template.FuncMap{
		// ts is a time for people on call: UTC, to the second.
		"ts": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"ago": func(t time.Time) string { return ago(now(), t) },
		// sev names a severity in words as well as a number: colour is
		// never the only signal.
		"sev":      func(s alert.Severity) string { return fmt.Sprintf("Sev%d %s", int(s), s.Words()) },
		"sevclass": func(s alert.Severity) string { return fmt.Sprintf("sev%d", int(s)) },
		"short":    func(s string) string { return short(s, 12) },
	}
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ago says how long before now t was, in the largest whole unit.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d.Hours()))
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}
