package report

import (
	"encoding/json"
	"io"

	"breakglass/internal/posture"
)

func init() { Register("json", RendererFunc(renderJSON)) }

// renderJSON writes posture.Report's own JSON (the schema the README
// documents), indented, one document ending in a newline. Lists are
// always arrays, never null, so a consumer can iterate without checking.
func renderJSON(w io.Writer, rep *posture.Report, _ Options) error {
	out := *rep
	out.Accounts = nonNil(out.Accounts)
	out.Exceptions = nonNil(out.Exceptions)
	out.Results = make([]posture.Result, len(rep.Results))
	for i, r := range rep.Results {
		r.Evidence = nonNil(r.Evidence)
		out.Results[i] = r
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(&out)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
