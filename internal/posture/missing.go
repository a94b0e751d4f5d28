package posture

import (
	"fmt"
	"slices"
	"strings"

	"breakglass/internal/graph/collect"
)

// Missing reports whether any of the datasets is absent from the snapshot
// (or, for a whole list, written without some of its calls), and why, in words an admin can act on: the endpoint Graph refused, its
// status and the permission or licence to grant. A check that needs the
// datasets reports StatusSkip with this reason.
func (t *Tenant) Missing(datasets ...string) (reason string, missing bool) {
	return t.missing(true, datasets)
}

// absent is Missing for a reader that only looks for positive evidence
// (an item that is there is a fact even in an incomplete list), such as
// discover.
func (t *Tenant) absent(datasets ...string) (reason string, missing bool) {
	return t.missing(false, datasets)
}

func (t *Tenant) missing(complete bool, datasets []string) (reason string, missing bool) {
	var why []string
	for _, name := range datasets {
		if t.Snapshot != nil {
			if _, ok := t.Snapshot.Datasets[name]; ok {
				if f, partial := t.incomplete(name); partial && complete {
					why = append(why, "incomplete: "+describeFailure(name, f))
				}
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

// wholeLists are the datasets the checks read as a complete list (every
// Global Administrator, every policy), each collected with one call per
// role or page set. When some of those calls failed, collect still
// writes the rest with a partial failure; read as complete, the missing
// role's holders would silently not exist. Datasets looked up per object
// (breakglass_users, user_registration_details, ca_groups, …) are not
// here: an object they lack already reads as unknown.
var wholeLists = []string{
	collect.DatasetRoleAssignments, collect.DatasetRoleAssignmentSchedules, collect.DatasetRoleAssignmentInstances,
	collect.DatasetRoleEligibilitySchedules, collect.DatasetRoleEligibilityInstances, collect.DatasetRoleManagementPolicies,
	collect.DatasetConditionalAccessPolicies, collect.DatasetLifecycleWorkflows, collect.DatasetAccessReviewDefinitions,
	collect.DatasetDomains, collect.DatasetAuthStrengthPolicies, collect.DatasetNamedLocations,
}

// incomplete returns the failure of a whole-list dataset that was written
// from only some of its calls.
func (t *Tenant) incomplete(name string) (collect.Failure, bool) {
	if !slices.Contains(wholeLists, name) {
		return collect.Failure{}, false
	}
	for _, f := range t.Snapshot.Manifest.Failed {
		if f.Name == name && f.Field == "" {
			return f, true
		}
	}
	return collect.Failure{}, false
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
