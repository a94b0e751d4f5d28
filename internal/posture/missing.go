package posture

import (
	"fmt"
	"strings"

	"breakglass/internal/graph/collect"
)

// Missing reports whether any of the datasets is absent from the snapshot,
// and why, in words an admin can act on: the endpoint Graph refused, its
// status and the permission or licence to grant. A check that needs the
// datasets reports StatusSkip with this reason.
func (t *Tenant) Missing(datasets ...string) (reason string, missing bool) {
	var why []string
	for _, name := range datasets {
		if t.Snapshot != nil {
			if _, ok := t.Snapshot.Datasets[name]; ok {
				continue
			}
			if f, ok := t.Snapshot.Failure(name); ok {
				why = append(why, describeFailure(name, f))
				continue
			}
		}
		why = append(why, fmt.Sprintf("%s is not in the snapshot (collected by an older version, or not applicable); run collect again", name))
	}
	return strings.Join(why, "; "), len(why) > 0
}

// Partial reports whether dataset was written without field (e.g.
// breakglass_users without signInActivity), and why.
func (t *Tenant) Partial(dataset, field string) (reason string, partial bool) {
	if t.Snapshot == nil {
		return "", false
	}
	for _, f := range t.Snapshot.Manifest.Failed {
		if f.Name == dataset && f.Partial && (field == "" || strings.EqualFold(f.Field, field)) {
			return describeFailure(dataset, f), true
		}
	}
	return "", false
}

func describeFailure(name string, f collect.Failure) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s unavailable: GET %s", name, f.Endpoint)
	switch f.Reason {
	case collect.ReasonLicence:
		b.WriteString(" needs a licence the tenant lacks")
	case collect.ReasonPermission:
		b.WriteString(" was refused")
	case collect.ReasonNotFound:
		b.WriteString(" was not found")
	default:
		b.WriteString(" failed")
	}
	if f.Status != 0 {
		fmt.Fprintf(&b, " (%d", f.Status)
		if f.Code != "" {
			b.WriteString(" " + f.Code)
		}
		b.WriteString(")")
	}
	if f.Hint != "" {
		b.WriteString(": " + f.Hint)
	}
	return b.String()
}
