package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// marks are the table's status column, readable without colour.
var marks = map[Status]string{OK: "[ ok ]", Warn: "[warn]", Fail: "[FAIL]", Skip: "[skip]"}

// WriteTable writes the report for people: one block per finding, the
// fix under it, and a last line that says what to do.
func WriteTable(w io.Writer, rep Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "breakglass doctor: %s\n\n", rep.Config)
	for _, r := range rep.Results {
		head := r.Check
		if r.Item != "" {
			head += ": " + r.Item
		}
		fmt.Fprintf(&b, "%s %s\n", marks[r.Status], head)
		for line := range strings.SplitSeq(r.Detail, "\n") {
			if line != "" {
				fmt.Fprintf(&b, "       %s\n", line)
			}
		}
		if r.Fix != "" {
			fmt.Fprintf(&b, "       fix: %s\n", r.Fix)
		}
	}
	fmt.Fprintf(&b, "\n%s\n", summary(rep))
	_, err := io.WriteString(w, b.String())
	return err
}

// summary is the last line: the counts and what to do next.
func summary(rep Report) string {
	counts := fmt.Sprintf("%d ok, %s, %d failed, %d skipped", rep.Counts[OK], plural(rep.Counts[Warn], "warning"), rep.Counts[Fail], rep.Counts[Skip])
	switch {
	case rep.ConfigInvalid:
		return counts + ": the configuration is invalid; fix it first, then run doctor again"
	case !rep.OK:
		return counts + ": fix each FAIL above, then run doctor again"
	case rep.Counts[Warn] > 0:
		return counts + ": every check passed; read the warnings"
	}
	return counts + ": every check passed"
}

// WriteJSON writes the report for machines.
func WriteJSON(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
