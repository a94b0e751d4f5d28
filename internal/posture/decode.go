package posture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/graph/collect"
)

// The audit's own datasets, named where collect defines them.
const (
	DatasetMemberOf                 = collect.DatasetMemberOf
	DatasetPrincipalRoleAssignments = collect.DatasetPrincipalRoleAssignments
	DatasetCAGroups                 = collect.DatasetCAGroups
	DatasetWorkflowScope            = collect.DatasetWorkflowScope
	DatasetRoleApprovers            = collect.DatasetRoleApprovers
)

// NotFoundMarker is the field an item of role_approvers carries, true,
// when the approver a PIM rule names does not exist any more.
const NotFoundMarker = collect.NotFoundMarker

const odataPrefix = "#microsoft.graph."

// FromSnapshot decodes a snapshot for the checks. It is lenient per item:
// an item that is not an object, or a field of the wrong type, is recorded
// in Tenant.Problems (dataset, index, field) and in the object's Invalid
// map, and everything else is still decoded, so one odd item never hides
// the others. The error is reserved for a snapshot that cannot be audited
// at all (nil).
func FromSnapshot(s *collect.Snapshot) (*Tenant, error) {
	if s == nil {
		return nil, errors.New("posture: no snapshot")
	}
	d := &decoder{
		t: &Tenant{
			Snapshot:           s,
			Collected:          s.Manifest.Collected,
			Users:              map[string]*User{},
			Groups:             map[string]*Group{},
			GroupMembers:       map[string][]string{},
			MemberOf:           map[string][]string{},
			AuthMethods:        map[string][]AuthMethod{},
			Registration:       map[string]*RegistrationDetails{},
			CertificateUserIDs: map[string][]string{},
			WorkflowScope:      map[string][]string{},
		},
		s:      s,
		users:  map[string]*rawObj{},
		groups: map[string]*rawObj{},
	}
	d.decode()
	return d.t, nil
}

type decoder struct {
	t      *Tenant
	s      *collect.Snapshot
	users  map[string]*rawObj
	groups map[string]*rawObj
	// userOrder and groupOrder keep the first-seen order, so Problems
	// come out in a stable order.
	userOrder, groupOrder []string
}

func (d *decoder) problem(format string, args ...any) {
	d.t.Problems = append(d.t.Problems, fmt.Sprintf(format, args...))
}

// rawObj is one Graph object as the datasets sent it: field by field, with
// where each field was read, so objects seen in several datasets merge
// (the first dataset's value of a field wins) and a problem names its
// place.
type rawObj struct {
	fields  map[string]json.RawMessage
	where   map[string]string
	source  string
	raw     json.RawMessage
	invalid map[string]string
}

// object decodes item index i of dataset ds into its fields; ok is false
// (and a problem recorded) when it is not a JSON object.
func (d *decoder) object(ds string, i int, raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		d.problem("%s: %s is not an object (%s)", place(ds, i), shortJSON(raw), kindOf(raw))
		return nil, false
	}
	return m, true
}

func place(ds string, i int) string {
	if i < 0 {
		return ds
	}
	return ds + "[" + strconv.Itoa(i) + "]"
}

func kindOf(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "empty"
	}
	switch t[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func shortJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	s := string(bytes.TrimSpace(raw))
	if json.Compact(&b, raw) == nil {
		s = b.String()
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// items returns a list dataset's items; ok is false when it is absent
// or not a list (a problem then).
func (d *decoder) items(ds string) ([]json.RawMessage, bool) {
	items, ok, err := d.s.Items(ds)
	if err != nil {
		d.problem("%s: %v", ds, err)
		return nil, false
	}
	return items, ok
}

// keyed returns the members of a keyed family sorted by key. Keys are
// object ids, which the checks compare in any case: two members whose
// keys differ only in case would overwrite each other (the later one
// hiding, say, a phone method), so neither is used and the object's data
// reads as unknown.
func (d *decoder) keyed(family string) []string {
	byLower := map[string][]string{}
	for k := range d.s.Keyed(family) {
		byLower[strings.ToLower(k)] = append(byLower[strings.ToLower(k)], k)
	}
	var keys []string
	for _, ks := range byLower {
		if len(ks) > 1 {
			sort.Strings(ks)
			d.problem("%s: %s name one object in different case: neither is used", collect.KeyedName(family, ks[0]), strings.Join(ks, ", "))
			continue
		}
		keys = append(keys, ks[0])
	}
	sort.Strings(keys)
	return keys
}

// addObj merges item i of ds into objs by its id and returns the
// lower-case id ("" when the item has no usable id: a problem).
func (d *decoder) addObj(objs map[string]*rawObj, order *[]string, ds string, i int, raw json.RawMessage) string {
	m, ok := d.object(ds, i, raw)
	if !ok {
		return ""
	}
	return d.addFields(objs, order, ds, place(ds, i), raw, m)
}

// addFields is addObj for an item already split into fields; at names
// it in problems (e.g. "role_assignments[3].principal").
func (d *decoder) addFields(objs map[string]*rawObj, order *[]string, ds, at string, raw json.RawMessage, m map[string]json.RawMessage) string {
	var id string
	if err := json.Unmarshal(m["id"], &id); err != nil || id == "" {
		d.problem("%s.id: missing or not a string: the object is left out", at)
		return ""
	}
	key := strings.ToLower(id)
	o, ok := objs[key]
	if !ok {
		o = &rawObj{fields: map[string]json.RawMessage{}, where: map[string]string{}, source: ds, raw: raw}
		objs[key] = o
		*order = append(*order, key)
	}
	for f, v := range m {
		if _, have := o.fields[f]; !have {
			o.fields[f] = v
			o.where[f] = at
		}
	}
	return key
}

// field readers: each returns the zero value for an absent or null field
// and records a wrong-typed one in o.invalid and the problems.

func (d *decoder) bad(o *rawObj, f, want string) {
	if o.invalid == nil {
		o.invalid = map[string]string{}
	}
	msg := fmt.Sprintf("%s.%s: want %s, got %s %s", o.where[f], f, want, kindOf(o.fields[f]), shortJSON(o.fields[f]))
	o.invalid[f] = msg
	d.problem("%s", msg)
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func (d *decoder) strp(o *rawObj, f string) *string {
	raw, ok := o.fields[f]
	if !ok || isNull(raw) {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.bad(o, f, "a string")
		return nil
	}
	return &s
}

func (d *decoder) str(o *rawObj, f string) string {
	if p := d.strp(o, f); p != nil {
		return *p
	}
	return ""
}

func (d *decoder) boolp(o *rawObj, f string) *bool {
	raw, ok := o.fields[f]
	if !ok || isNull(raw) {
		return nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		d.bad(o, f, "a boolean")
		return nil
	}
	return &b
}

func (d *decoder) boolv(o *rawObj, f string) bool {
	p := d.boolp(o, f)
	return p != nil && *p
}

func (d *decoder) intv(o *rawObj, f string) int {
	raw, ok := o.fields[f]
	if !ok || isNull(raw) {
		return 0
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		d.bad(o, f, "an integer")
		return 0
	}
	return n
}

func (d *decoder) timep(o *rawObj, f string) *time.Time {
	p := d.strp(o, f)
	if p == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *p)
	if err != nil {
		d.bad(o, f, "an RFC 3339 date-time")
		return nil
	}
	return &t
}

func (d *decoder) strs(o *rawObj, f string) []string {
	raw, ok := o.fields[f]
	if !ok || isNull(raw) {
		return nil
	}
	var l []*string
	if err := json.Unmarshal(raw, &l); err != nil {
		d.bad(o, f, "an array of strings")
		return nil
	}
	out := make([]string, 0, len(l))
	for _, s := range l {
		if s == nil {
			d.bad(o, f, "an array of strings")
			return nil
		}
		out = append(out, *s)
	}
	return out
}

func (d *decoder) raws(o *rawObj, f string) []json.RawMessage {
	raw, ok := o.fields[f]
	if !ok || isNull(raw) {
		return nil
	}
	var l []json.RawMessage
	if err := json.Unmarshal(raw, &l); err != nil {
		d.bad(o, f, "an array")
		return nil
	}
	return l
}

// sub returns the nested object in field f, as its own rawObj (nil when
// absent, null or not an object: the last is a problem).
func (d *decoder) sub(o *rawObj, f string) *rawObj {
	raw, ok := o.fields[f]
	if !ok || isNull(raw) {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		d.bad(o, f, "an object")
		return nil
	}
	where := map[string]string{}
	for k := range m {
		where[k] = o.where[f] + "." + f
	}
	return &rawObj{fields: m, where: where, source: o.source, raw: raw}
}

func present(o *rawObj) map[string]bool {
	p := make(map[string]bool, len(o.fields))
	for f := range o.fields {
		p[f] = true
	}
	return p
}

// odataType is @odata.type without the "#microsoft.graph." prefix.
func (d *decoder) odataType(o *rawObj) string {
	return normalODataType(d.str(o, "@odata.type"))
}

// knownODataTypes are the @odata.type names the checks compare with, as
// Graph spells them.
var knownODataTypes = []string{
	"user", "group", "servicePrincipal",
	"passwordAuthenticationMethod", "fido2AuthenticationMethod", "windowsHelloForBusinessAuthenticationMethod",
	"platformCredentialAuthenticationMethod", "temporaryAccessPassAuthenticationMethod", "phoneAuthenticationMethod",
	"emailAuthenticationMethod", "microsoftAuthenticatorAuthenticationMethod", "passwordlessMicrosoftAuthenticatorAuthenticationMethod",
	"softwareOathAuthenticationMethod", "hardwareOathAuthenticationMethod", "externalAuthenticationMethod",
	"qrCodePinAuthenticationMethod", "x509CertificateAuthenticationMethod",
}

// odataIs reports whether an @odata.type names the type want (written
// "#microsoft.graph.x"), however the namespace and case are written.
func odataIs(got, want string) bool {
	return strings.EqualFold(normalODataType(got), normalODataType(want))
}

// normalODataType strips the namespace from an @odata.type however it is
// written ("#microsoft.graph.x", "microsoft.graph.x", "x", any case) and
// spells a known type as Graph does, so a variant never slips past a
// comparison (a phone method that is not recognised would pass
// no-personal-methods).
func normalODataType(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	if len(s) >= len(odataPrefix)-1 && strings.EqualFold(s[:len(odataPrefix)-1], odataPrefix[1:]) {
		s = s[len(odataPrefix)-1:]
	}
	for _, k := range knownODataTypes {
		if strings.EqualFold(k, s) {
			return k
		}
	}
	return s
}

func (d *decoder) decode() {
	d.organization()
	d.domains()

	// Users: the break-glass users first, so their fully selected fields
	// win over the few fields other datasets select.
	d.userList(collect.DatasetBreakGlassUsers)
	d.groupList(collect.DatasetBreakGlassGroups)
	d.groupList(DatasetCAGroups)
	d.memberOf()
	d.groupMembers()
	d.roles()
	d.userList(DatasetRoleApprovers)
	d.workflowScope()
	d.authMethods()
	d.registration()
	d.authorizationInfo()

	t := d.t
	t.ConditionalAccessPolicies = d.rawList(collect.DatasetConditionalAccessPolicies)
	t.AuthStrengthPolicies = d.rawList(collect.DatasetAuthStrengthPolicies)
	t.RoleManagementPolicies = d.rawList(collect.DatasetRoleManagementPolicies)
	t.LifecycleWorkflows = d.rawList(collect.DatasetLifecycleWorkflows)
	t.AccessReviewDefinitions = d.rawList(collect.DatasetAccessReviewDefinitions)
	t.NamedLocations = d.rawList(collect.DatasetNamedLocations)
	t.AuthMethodsPolicy = d.rawObject(collect.DatasetAuthMethodsPolicy)
	t.SecurityDefaults = d.rawObject(collect.DatasetSecurityDefaults)

	for _, key := range d.userOrder {
		t.Users[key] = d.user(d.users[key])
	}
	for _, key := range d.groupOrder {
		t.Groups[key] = d.group(d.groups[key])
	}
	d.accounts()
}

// rawList keeps every item of a dataset the checks decode themselves,
// odd ones included: dropping an item would hide a policy from them.
func (d *decoder) rawList(ds string) []json.RawMessage {
	items, _ := d.items(ds)
	for i, it := range items {
		if kindOf(it) != "object" {
			d.problem("%s: %s is not an object (%s)", place(ds, i), shortJSON(it), kindOf(it))
		}
	}
	return items
}

func (d *decoder) rawObject(ds string) json.RawMessage {
	raw, ok := d.s.Datasets[ds]
	if !ok {
		return nil
	}
	if kindOf(raw) != "object" {
		d.problem("%s: not an object (%s)", ds, kindOf(raw))
	}
	return raw
}

func (d *decoder) organization() {
	d.t.Info.ID = d.s.Manifest.TenantID
	items, _ := d.items(collect.DatasetOrganization)
	for i, it := range items {
		m, ok := d.object(collect.DatasetOrganization, i, it)
		if !ok {
			continue
		}
		o := &rawObj{fields: m, where: fieldsAt(m, place(collect.DatasetOrganization, i))}
		if id := d.str(o, "id"); d.t.Info.ID == "" {
			d.t.Info.ID = id
		}
		if d.t.Info.DisplayName == "" {
			d.t.Info.DisplayName = d.str(o, "displayName")
		}
		for j, vd := range d.raws(o, "verifiedDomains") {
			vm, ok := d.object(place(collect.DatasetOrganization, i)+".verifiedDomains", j, vd)
			if !ok {
				continue
			}
			v := &rawObj{fields: vm, where: fieldsAt(vm, place(place(collect.DatasetOrganization, i)+".verifiedDomains", j))}
			if d.boolv(v, "isInitial") && d.t.Info.InitialDomain == "" {
				d.t.Info.InitialDomain = d.str(v, "name")
			}
		}
	}
}

func fieldsAt(m map[string]json.RawMessage, where string) map[string]string {
	w := make(map[string]string, len(m))
	for k := range m {
		w[k] = where
	}
	return w
}

func (d *decoder) domains() {
	const ds = collect.DatasetDomains
	items, _ := d.items(ds)
	for i, it := range items {
		m, ok := d.object(ds, i, it)
		if !ok {
			continue
		}
		o := &rawObj{fields: m, where: fieldsAt(m, place(ds, i)), raw: it}
		dom := Domain{
			ID:                 d.str(o, "id"),
			AuthenticationType: d.str(o, "authenticationType"),
			IsInitial:          d.boolv(o, "isInitial"),
			IsDefault:          d.boolv(o, "isDefault"),
			IsVerified:         d.boolv(o, "isVerified"),
			Raw:                it,
		}
		if dom.ID == "" {
			d.problem("%s.id: missing or not a string: the domain is left out", place(ds, i))
			continue
		}
		d.t.Domains = append(d.t.Domains, dom)
		// The domains list is authoritative for the initial domain.
		if dom.IsInitial {
			d.t.Info.InitialDomain = dom.ID
		}
	}
}

func (d *decoder) userList(ds string) {
	items, _ := d.items(ds)
	for i, it := range items {
		m, ok := d.object(ds, i, it)
		if !ok {
			continue
		}
		if ds == DatasetRoleApprovers {
			var nf bool
			if json.Unmarshal(m[NotFoundMarker], &nf) == nil && nf {
				var id string
				if json.Unmarshal(m["id"], &id) != nil || id == "" {
					d.problem("%s.id: missing or not a string", place(ds, i))
					continue
				}
				d.t.ApproversNotFound = append(d.t.ApproversNotFound, strings.ToLower(id))
				continue
			}
		}
		d.addFields(d.users, &d.userOrder, ds, place(ds, i), it, m)
	}
}

func (d *decoder) groupList(ds string) {
	items, _ := d.items(ds)
	for i, it := range items {
		d.addObj(d.groups, &d.groupOrder, ds, i, it)
	}
}

func (d *decoder) memberOf() {
	d.keyedObjects(DatasetMemberOf, d.groups, &d.groupOrder, d.t.MemberOf)
}

func (d *decoder) groupMembers() {
	d.keyedObjects(collect.DatasetGroupMembers, d.users, &d.userOrder, d.t.GroupMembers)
}

func (d *decoder) workflowScope() {
	d.keyedObjects(DatasetWorkflowScope, d.users, &d.userOrder, d.t.WorkflowScope)
}

// keyedObjects decodes every dataset of a keyed family (member_of.<user>,
// group_members.<group>, workflow_scope.<workflow>): each item is added to
// objs, and into maps the lower-case key to the ids of its items.
func (d *decoder) keyedObjects(family string, objs map[string]*rawObj, order *[]string, into map[string][]string) {
	for _, key := range d.keyed(family) {
		ds := collect.KeyedName(family, key)
		items, ok := d.items(ds)
		if !ok {
			continue
		}
		ids := []string{}
		for i, it := range items {
			if id := d.addObj(objs, order, ds, i, it); id != "" {
				ids = append(ids, id)
			}
		}
		into[strings.ToLower(key)] = ids
	}
}

// principal decodes an expanded principal, adds it to the users or groups
// it names, and returns its type ("" when not expanded).
func (d *decoder) principal(o *rawObj, ds string, i int) string {
	p := d.sub(o, "principal")
	if p == nil {
		return ""
	}
	typ := d.odataType(p)
	switch typ {
	case "user":
		d.addFields(d.users, &d.userOrder, ds, place(ds, i)+".principal", p.raw, p.fields)
	case "group":
		d.addFields(d.groups, &d.groupOrder, ds, place(ds, i)+".principal", p.raw, p.fields)
	}
	return typ
}

func (d *decoder) roles() {
	t := d.t
	t.RoleAssignments = d.assignments(collect.DatasetRoleAssignments)
	t.PrincipalRoles = d.assignments(DatasetPrincipalRoleAssignments)
	t.AssignmentSchedules = d.schedules(collect.DatasetRoleAssignmentSchedules)
	t.AssignmentInstances = d.schedules(collect.DatasetRoleAssignmentInstances)
	t.EligibilitySchedules = d.schedules(collect.DatasetRoleEligibilitySchedules)
	t.EligibilityInstances = d.schedules(collect.DatasetRoleEligibilityInstances)
}

func (d *decoder) assignments(ds string) []RoleAssignment {
	items, _ := d.items(ds)
	var out []RoleAssignment
	for i, it := range items {
		m, ok := d.object(ds, i, it)
		if !ok {
			continue
		}
		o := &rawObj{fields: m, where: fieldsAt(m, place(ds, i)), raw: it}
		a := RoleAssignment{
			ID:               d.str(o, "id"),
			RoleDefinitionID: strings.ToLower(d.str(o, "roleDefinitionId")),
			PrincipalID:      strings.ToLower(d.str(o, "principalId")),
			PrincipalType:    d.principal(o, ds, i),
			DirectoryScopeID: d.str(o, "directoryScopeId"),
			Raw:              it,
		}
		if a.RoleDefinitionID == "" || a.PrincipalID == "" {
			d.problem("%s: no roleDefinitionId or principalId: the assignment is left out", place(ds, i))
			continue
		}
		out = append(out, a)
	}
	return out
}

func (d *decoder) schedules(ds string) []RoleSchedule {
	items, _ := d.items(ds)
	var out []RoleSchedule
	for i, it := range items {
		m, ok := d.object(ds, i, it)
		if !ok {
			continue
		}
		o := &rawObj{fields: m, where: fieldsAt(m, place(ds, i)), raw: it}
		r := RoleSchedule{
			ID:               d.str(o, "id"),
			RoleDefinitionID: strings.ToLower(d.str(o, "roleDefinitionId")),
			PrincipalID:      strings.ToLower(d.str(o, "principalId")),
			PrincipalType:    d.principal(o, ds, i),
			DirectoryScopeID: d.str(o, "directoryScopeId"),
			AssignmentType:   d.str(o, "assignmentType"),
			MemberType:       d.str(o, "memberType"),
			Status:           d.str(o, "status"),
			StartDateTime:    d.timep(o, "startDateTime"),
			EndDateTime:      d.timep(o, "endDateTime"),
			Raw:              it,
		}
		if si := d.sub(o, "scheduleInfo"); si != nil {
			if r.StartDateTime == nil {
				r.StartDateTime = d.timep(si, "startDateTime")
			}
			if ex := d.sub(si, "expiration"); ex != nil {
				r.ExpirationType = d.str(ex, "type")
				if r.EndDateTime == nil {
					r.EndDateTime = d.timep(ex, "endDateTime")
				}
				if len(ex.invalid) > 0 || len(si.invalid) > 0 {
					r.Invalid = true
				}
			} else if len(si.invalid) > 0 {
				r.Invalid = true
			}
		}
		if len(o.invalid) > 0 {
			r.Invalid = true
		}
		if r.RoleDefinitionID == "" || r.PrincipalID == "" {
			d.problem("%s: no roleDefinitionId or principalId: the schedule is left out", place(ds, i))
			continue
		}
		out = append(out, r)
	}
	return out
}

func (d *decoder) authMethods() {
	for _, uid := range d.keyed(collect.DatasetAuthMethods) {
		ds := collect.KeyedName(collect.DatasetAuthMethods, uid)
		items, ok := d.items(ds)
		if !ok {
			continue
		}
		methods := []AuthMethod{}
		for i, it := range items {
			m, ok := d.object(ds, i, it)
			if !ok {
				// Kept as an unknown method so a check never reads the
				// list as complete.
				methods = append(methods, AuthMethod{Type: "", Raw: it, Invalid: true})
				continue
			}
			o := &rawObj{fields: m, where: fieldsAt(m, place(ds, i)), raw: it}
			am := AuthMethod{
				Type:              d.odataType(o),
				ID:                d.str(o, "id"),
				DisplayName:       d.str(o, "displayName"),
				AAGUID:            strings.ToLower(d.str(o, "aaGuid")),
				Model:             d.str(o, "model"),
				PhoneNumber:       d.str(o, "phoneNumber"),
				PhoneType:         d.str(o, "phoneType"),
				Email:             d.str(o, "emailAddress"),
				IsUsable:          d.boolp(o, "isUsable"),
				StartDateTime:     d.timep(o, "startDateTime"),
				LifetimeInMinutes: d.intv(o, "lifetimeInMinutes"),
				Raw:               it,
			}
			am.Invalid = len(o.invalid) > 0 || am.Type == ""
			methods = append(methods, am)
		}
		d.t.AuthMethods[strings.ToLower(uid)] = methods
	}
}

func (d *decoder) registration() {
	const ds = collect.DatasetUserRegistrationDetails
	items, _ := d.items(ds)
	for i, it := range items {
		m, ok := d.object(ds, i, it)
		if !ok {
			continue
		}
		o := &rawObj{fields: m, where: fieldsAt(m, place(ds, i)), raw: it}
		r := &RegistrationDetails{
			ID:                                   d.str(o, "id"),
			UPN:                                  d.str(o, "userPrincipalName"),
			IsAdmin:                              d.boolp(o, "isAdmin"),
			IsMfaRegistered:                      d.boolp(o, "isMfaRegistered"),
			IsPasswordlessCapable:                d.boolp(o, "isPasswordlessCapable"),
			IsSsprRegistered:                     d.boolp(o, "isSsprRegistered"),
			IsSsprEnabled:                        d.boolp(o, "isSsprEnabled"),
			MethodsRegistered:                    d.strs(o, "methodsRegistered"),
			SystemPreferredAuthenticationMethods: d.strs(o, "systemPreferredAuthenticationMethods"),
			UserPreferredMethodForSecondaryAuthentication: d.str(o, "userPreferredMethodForSecondaryAuthentication"),
			Raw: it,
		}
		r.Invalid = o.invalid
		if r.ID == "" {
			d.problem("%s.id: missing or not a string: the entry is left out", place(ds, i))
			continue
		}
		d.t.Registration[strings.ToLower(r.ID)] = r
	}
}

func (d *decoder) authorizationInfo() {
	const ds = collect.DatasetUserAuthorizationInfo
	items, _ := d.items(ds)
	for i, it := range items {
		m, ok := d.object(ds, i, it)
		if !ok {
			continue
		}
		o := &rawObj{fields: m, where: fieldsAt(m, place(ds, i)), raw: it}
		id := d.str(o, "id")
		if id == "" {
			d.problem("%s.id: missing or not a string: the entry is left out", place(ds, i))
			continue
		}
		ids := []string{}
		if ai := d.sub(o, "authorizationInfo"); ai != nil {
			ids = d.strs(ai, "certificateUserIds")
			if ai.invalid != nil {
				// Unknown, not "none": leave the user out of the map.
				continue
			}
			if ids == nil {
				ids = []string{}
			}
		} else if o.invalid != nil {
			continue
		}
		d.t.CertificateUserIDs[strings.ToLower(id)] = ids
	}
}

func (d *decoder) user(o *rawObj) *User {
	u := &User{
		ID:                         d.str(o, "id"),
		UPN:                        d.str(o, "userPrincipalName"),
		DisplayName:                d.str(o, "displayName"),
		UserType:                   d.str(o, "userType"),
		AccountEnabled:             d.boolp(o, "accountEnabled"),
		OnPremisesSyncEnabled:      d.boolp(o, "onPremisesSyncEnabled"),
		OnPremisesImmutableID:      d.strp(o, "onPremisesImmutableId"),
		PasswordPolicies:           d.strp(o, "passwordPolicies"),
		LastPasswordChangeDateTime: d.timep(o, "lastPasswordChangeDateTime"),
		CreatedDateTime:            d.timep(o, "createdDateTime"),
		Mail:                       d.strp(o, "mail"),
		OtherMails:                 d.strs(o, "otherMails"),
		MobilePhone:                d.strp(o, "mobilePhone"),
		BusinessPhones:             d.strs(o, "businessPhones"),
		AssignedLicenses:           d.raws(o, "assignedLicenses"),
		Present:                    present(o),
		Source:                     o.source,
		Raw:                        o.raw,
	}
	if sa := d.sub(o, "signInActivity"); sa != nil {
		u.SignInActivity = &SignInActivity{
			LastSignInDateTime:               d.timep(sa, "lastSignInDateTime"),
			LastNonInteractiveSignInDateTime: d.timep(sa, "lastNonInteractiveSignInDateTime"),
			LastSuccessfulSignInDateTime:     d.timep(sa, "lastSuccessfulSignInDateTime"),
		}
		for f, msg := range sa.invalid {
			o.invalid = withInvalid(o.invalid, "signInActivity."+f, msg)
		}
	}
	u.Invalid = o.invalid
	return u
}

func withInvalid(m map[string]string, f, msg string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[f] = msg
	return m
}

func (d *decoder) group(o *rawObj) *Group {
	g := &Group{
		ID:                     d.str(o, "id"),
		DisplayName:            d.str(o, "displayName"),
		IsAssignableToRole:     d.boolp(o, "isAssignableToRole"),
		IsManagementRestricted: d.boolp(o, "isManagementRestricted"),
		SecurityEnabled:        d.boolp(o, "securityEnabled"),
		MembershipRule:         d.strp(o, "membershipRule"),
		GroupTypes:             d.strs(o, "groupTypes"),
		OnPremisesSyncEnabled:  d.boolp(o, "onPremisesSyncEnabled"),
		Present:                present(o),
		Source:                 o.source,
		Raw:                    o.raw,
	}
	g.Invalid = o.invalid
	return g
}

// accounts lists the configured entries, resolved and not, in
// configuration order, one AccountInfo per break-glass user.
func (d *decoder) accounts() {
	m := d.s.Manifest
	type entry struct {
		a   AccountInfo
		seq int
	}
	var list []entry
	unresolved := map[string]string{}
	for _, u := range m.Unresolved {
		if _, dup := unresolved[u.Entry]; !dup {
			unresolved[u.Entry] = u.Reason
		}
	}
	_, haveUsers := d.s.Datasets[collect.DatasetBreakGlassUsers]
	for _, r := range m.Accounts {
		a := AccountInfo{Entry: r.Entry, ID: r.ID, UPN: r.UPN, Resolved: true}
		key := strings.ToLower(r.ID)
		switch {
		case r.ID == "":
			a.Resolved, a.Reason = false, "the snapshot records no object id for this entry; run collect again"
		case unresolved[r.Entry] != "":
			// The entry resolved to a user, but not to the configured
			// one: it is named as configured, so it never passes as the
			// user it found.
			a.Resolved, a.Reason = false, unresolved[r.Entry]
			if id, upn := entryTarget(r.Entry); id != "" || upn != "" {
				a.ID, a.UPN = id, upn
			}
			unresolved[r.Entry] = ""
		case haveUsers && (d.users[key] == nil || d.users[key].source != collect.DatasetBreakGlassUsers):
			// Seen only as a group member, role principal or approver:
			// those datasets select a few fields and are no proof the
			// account was read as a break-glass user.
			a.Resolved, a.Reason = false, "the manifest lists this user but breakglass_users does not hold it; run collect again"
		}
		if u := d.t.Users[key]; u != nil && a.Resolved {
			a.DisplayName = u.DisplayName
			if a.UPN == "" {
				a.UPN = u.UPN
			}
		}
		list = append(list, entry{a, entrySeq(r.Entry)})
	}
	for _, u := range m.Unresolved {
		reason, left := unresolved[u.Entry]
		if !left || reason == "" {
			continue
		}
		unresolved[u.Entry] = ""
		a := AccountInfo{Entry: u.Entry, Reason: reason}
		a.ID, a.UPN = entryTarget(u.Entry)
		list = append(list, entry{a, entrySeq(u.Entry)})
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	d.t.Accounts = make([]AccountInfo, 0, len(list))
	seen := map[string]int{} // lower-case id of a resolved account -> index
	for _, e := range list {
		key := strings.ToLower(e.a.ID)
		if e.a.Resolved {
			if i, dup := seen[key]; dup {
				// Two entries name one user: one account, both entries.
				d.t.Accounts[i].Entry += "; " + e.a.Entry
				continue
			}
			seen[key] = len(d.t.Accounts)
		}
		d.t.Accounts = append(d.t.Accounts, e.a)
	}
}

// entrySeq orders configuration entries ("accounts[3] …", "groups[0] …"):
// accounts before groups, then by position; unknown forms last.
func entrySeq(entry string) int {
	name, rest, ok := strings.Cut(entry, "[")
	if !ok {
		return 3 << 20
	}
	num, _, ok := strings.Cut(rest, "]")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 0 || n >= 1<<20 {
		return 3 << 20
	}
	switch name {
	case "accounts":
		return n
	case "groups":
		return 1<<20 + n
	}
	return 2<<20 + n
}

// entryTarget reads the configured id or UPN back from an entry such as
// "accounts[2] upn x@y", so an unresolved account still has a name.
func entryTarget(entry string) (id, upn string) {
	f := strings.Fields(entry)
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "id", "group":
			if id == "" {
				id = f[i+1]
			}
		case "upn":
			if upn == "" {
				upn = f[i+1]
			}
		}
	}
	return id, upn
}

// User returns the user with the id, in any case (nil when the snapshot
// does not hold it).
func (t *Tenant) User(id string) *User { return t.Users[strings.ToLower(id)] }

// Group returns the group with the id, in any case.
func (t *Tenant) Group(id string) *Group { return t.Groups[strings.ToLower(id)] }

// ProblemsIn returns the problems recorded for a dataset (or any member
// of a keyed family when ds is the family name).
func (t *Tenant) ProblemsIn(ds string) []string {
	var out []string
	for _, p := range t.Problems {
		if strings.HasPrefix(p, ds+"[") || strings.HasPrefix(p, ds+":") || strings.HasPrefix(p, ds+".") {
			out = append(out, p)
		}
	}
	return slices.Clip(out)
}
