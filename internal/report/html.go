package report

// The HTML report: one self-contained file (inline CSS, a few lines of
// inline JavaScript that only add copy buttons and open collapsed sections
// before printing) that reads well at 3 a.m., offline, on a phone and on
// paper. Everything the report says comes from posture.Report; every value
// goes through html/template, so a hostile display name or evidence value is
// text, never markup. A Content-Security-Policy with the hashes of the
// inline style and script forbids the page to load or run anything else.

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"breakglass/internal/posture"
)

var (
	//go:embed html.tmpl
	htmlTemplateText string
	//go:embed html.css
	htmlCSS string
	//go:embed html.js
	htmlJS string

	htmlTemplate = template.Must(template.New("html").Funcs(template.FuncMap{
		"brk":      breakable,
		"sentence": sentence,
	}).Parse(htmlTemplateText))

	// htmlCSP allows exactly the inline style and script above: a report
	// opened from a mail attachment or a share can fetch nothing.
	htmlCSP = "default-src 'none'; style-src '" + cspHash(htmlCSS) + "'; script-src '" + cspHash(htmlJS) +
		"'; img-src 'none'; base-uri 'none'; form-action 'none'"
)

func init() {
	Register("html", RendererFunc(func(w io.Writer, rep *posture.Report, _ Options) error {
		return renderHTML(w, rep)
	}))
}

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// breakable escapes s and lets the browser break a long id, UPN, path or
// JSON value after '.', '/', '_', ',' and ':' and before '@' (a <wbr>,
// which copies as nothing), instead of in the middle of a word or not at
// all.
func breakable(s string) template.HTML {
	var b strings.Builder
	start := 0
	cut := func(i int) {
		if i > start && i < len(s) {
			b.WriteString(template.HTMLEscapeString(s[start:i]))
			b.WriteString("<wbr>")
			start = i
		}
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.', '/', '_', ',', ':':
			cut(i + 1)
		case '@':
			cut(i)
		}
	}
	b.WriteString(template.HTMLEscapeString(s[start:]))
	return template.HTML(b.String())
}

// sentence ends s with a full stop unless it ends with punctuation.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s[len(s)-1:], ".!?") {
		return s
	}
	return s + "."
}

// maxValueLen bounds one evidence value on the page; the JSON report keeps
// it whole.
const maxValueLen = 2000

// expiresSoon is how close to its expiry an exception is flagged.
const expiresSoon = 14 * 24 * time.Hour

// renderHTML writes the report as one HTML document. It renders into memory
// first, so a failure writes nothing.
func renderHTML(w io.Writer, rep *posture.Report) error {
	if rep == nil {
		return errors.New("html report: no report")
	}
	v := buildHTMLView(rep)
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, v); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	if _, err := w.Write(visibleControls(buf.Bytes())); err != nil {
		return fmt.Errorf("html report: write: %w", err)
	}
	return nil
}

// visibleControls spells out the control characters a hostile value could
// carry (a terminal escape reaches whoever runs cat on the file; bidi
// overrides reorder what the page shows) as \x1b or \u202e, and makes
// invalid UTF-8 U+FFFD. The template, style and script have none of them,
// so only data is changed; tabs and line breaks stay.
func visibleControls(b []byte) []byte {
	if utf8.Valid(b) && bytes.IndexFunc(b, isHTMLControl) < 0 {
		return b
	}
	b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	var out bytes.Buffer
	out.Grow(len(b) + 64)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if isHTMLControl(r) {
			out.WriteString(quoteRune(r))
		} else {
			out.Write(b[:n])
		}
		b = b[n:]
	}
	return out.Bytes()
}

func isHTMLControl(r rune) bool { return r != '\n' && r != '\r' && r != '\t' && isControl(r) }

type htmlView struct {
	PageTitle   string
	CSP         string
	CSS         template.CSS
	JS          template.JS
	TenantName  string
	TenantID    string
	Domain      string
	Generated   string
	Collected   string
	DataAge     string
	Source      string
	CAMode      string
	CAModeHelp  string
	ToolVersion string

	Verdict     verdictView
	Tiles       []tileView
	Total       int
	Unknown     int // results whose status is none of posture.Statuses
	BySeverity  []severityCount
	Action      []*resultView
	Accounts    []*accountCard
	TenantWide  []*resultView
	Skipped     []*resultView
	Exceptions  []exceptionView
	Expired     int
	ExpiredNote string
}

type verdictView struct {
	Class    string
	Headline string
	Detail   string
}

type tileView struct {
	Status string
	Label  string
	Count  int
	Help   string
}

type severityCount struct {
	Severity string
	Label    string
	Count    int
}

type countView struct {
	Status string
	Label  string
	Count  int
}

type resultView struct {
	Anchor        string
	Status        string // CSS class and data attribute: a known status or "unknown"
	RawStatus     string
	StatusLabel   string
	Severity      string
	SeverityLabel string
	Check         string
	Title         string
	Account       string
	Message       string
	Rationale     string
	Requirements  []string
	Evidence      []evidenceView
	Fix           posture.Remediation
	HasFix        bool
	Exception     *exceptionView
	Compact       bool // pass and skip: one line, details on demand
	Failing       bool

	index  int
	rank   int
	sevRnk int
	id     string
	upn    string
}

type evidenceView struct {
	Object string
	Field  string
	Value  string
	Source string
	Note   string
}

type exceptionView struct {
	Check      string
	Account    string
	Reason     string
	AcceptedBy string
	Expires    string
	Relative   string
	Expired    bool
	Soon       bool
	Unused     bool
	Matched    int
	Used       string // what it did in this run, for the exceptions table
	Where      string
}

type accountCard struct {
	Anchor      string
	Name        string
	DisplayName string
	ID          string
	Entry       string
	Resolved    bool
	Reason      string
	Orphan      bool // results name an account the report's list does not have
	Worst       string
	WorstLabel  string
	Counts      []countView
	Results     []*resultView

	index int
	rank  int
}

var statusLabels = map[posture.Status]string{
	posture.StatusFail:     "FAIL",
	posture.StatusError:    "ERROR",
	posture.StatusWarn:     "WARN",
	posture.StatusSkip:     "SKIPPED",
	posture.StatusAccepted: "ACCEPTED",
	posture.StatusPass:     "PASS",
}

var statusHelp = map[posture.Status]string{
	posture.StatusFail:     "set up against the guidance: fix these",
	posture.StatusError:    "could not be judged (e.g. an account that does not resolve): treat as failing",
	posture.StatusWarn:     "works, but review",
	posture.StatusSkip:     "not checked: data unavailable or not applicable. Unknown, not passed",
	posture.StatusAccepted: "failing on purpose: accepted by a configured exception",
	posture.StatusPass:     "as the guidance asks",
}

var caModeHelp = map[string]string{
	posture.CAModeExcludeAll:        "the accounts must be excluded from every Conditional Access policy that can target users",
	posture.CAModePhishingResistant: "the accounts must be covered by a policy requiring phishing-resistant authentication and blocked by no other",
	posture.CAModeBoth:              "both: excluded from every other policy, and covered by one requiring phishing-resistant authentication",
}

// statusRank orders statuses worst first; an unknown status sorts before
// everything, because nobody knows what it means.
func statusRank(s posture.Status) int {
	if i := slices.Index(posture.Statuses, s); i >= 0 {
		return i
	}
	return -1
}

func statusClass(s posture.Status) string {
	if statusRank(s) < 0 {
		return "unknown"
	}
	return string(s)
}

func statusLabel(s posture.Status) string {
	if l, ok := statusLabels[s]; ok {
		return l
	}
	return "UNKNOWN STATUS " + strconv.Quote(string(s))
}

func severityLabel(s posture.Severity) string {
	if s.Rank() >= len(posture.Severities) {
		if s == "" {
			return "NO SEVERITY"
		}
		return "SEVERITY " + strconv.Quote(string(s))
	}
	return strings.ToUpper(string(s))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return "no expiry date"
	}
	return t.UTC().Format("2006-01-02")
}

// humanDuration rounds d for a reader: "3 days", "5 hours", "12 minutes".
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	unit := func(n int64, s string) string {
		if n == 1 {
			return "1 " + s
		}
		return strconv.FormatInt(n, 10) + " " + s + "s"
	}
	switch {
	case d >= 48*time.Hour:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return unit(int64(d/time.Minute), "minute")
	}
	return "less than a minute"
}

// evidenceValue shows a value as Graph sent it (JSON), bounded.
func evidenceValue(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		s = "null"
	case json.RawMessage:
		var compact bytes.Buffer
		if json.Compact(&compact, x) == nil {
			s = compact.String()
		} else {
			s = string(x)
		}
	default:
		// The page escapes for HTML itself; JSON's \u003c would only make
		// a value harder to read.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			// Not %v: a value JSON cannot encode may be cyclic.
			s = fmt.Sprintf("(a %T that is not JSON: %v)", v, err)
		} else {
			s = strings.TrimSuffix(buf.String(), "\n")
		}
	}
	return truncate(s, maxValueLen)
}

func truncate(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d more bytes: see the JSON report)", len(s)-cut)
}

func buildException(e posture.Exception, generated time.Time) exceptionView {
	v := exceptionView{
		Check:      e.Check,
		Account:    e.Account,
		Reason:     e.Reason,
		AcceptedBy: e.AcceptedBy,
		Expires:    formatDate(e.Expires),
		Expired:    e.Expired,
		Where:      e.Where,
	}
	if v.Account == "" {
		v.Account = "every account"
	}
	if !e.Expires.IsZero() && !generated.IsZero() {
		left := e.Expires.Sub(generated)
		switch {
		case left < 0:
			v.Relative = "expired " + humanDuration(left) + " before this audit"
		case e.Expired:
			v.Relative = "marked expired, though the date is after the audit: check the clocks"
		default:
			v.Relative = "expires in " + humanDuration(left)
			v.Soon = left <= expiresSoon
		}
	}
	return v
}

func buildResult(i int, r posture.Result, generated time.Time) *resultView {
	v := &resultView{
		Anchor:        "r-" + strconv.Itoa(i),
		Status:        statusClass(r.Status),
		RawStatus:     string(r.Status),
		StatusLabel:   statusLabel(r.Status),
		Severity:      string(r.Severity),
		SeverityLabel: severityLabel(r.Severity),
		Check:         r.Check,
		Title:         cmp.Or(r.Title, r.Check, "(untitled check)"),
		Account:       cmp.Or(r.AccountUPN, r.AccountID),
		Message:       r.Message,
		Rationale:     r.Rationale,
		Requirements:  r.Requirements,
		Fix:           r.Remediation,
		HasFix:        r.Remediation != (posture.Remediation{}),
		Compact:       r.Status == posture.StatusPass || r.Status == posture.StatusSkip,
		Failing:       r.Failing() || statusRank(r.Status) < 0,
		index:         i,
		rank:          statusRank(r.Status),
		sevRnk:        r.Severity.Rank(),
		id:            r.AccountID,
		upn:           r.AccountUPN,
	}
	if v.Severity == "" || r.Severity.Rank() >= len(posture.Severities) {
		v.Severity = "unknown"
	}
	for _, e := range r.Evidence {
		v.Evidence = append(v.Evidence, evidenceView{
			Object: e.Object,
			Field:  e.Field,
			Value:  evidenceValue(e.Value),
			Source: e.Source,
			Note:   e.Note,
		})
	}
	if r.Exception != nil {
		e := buildException(*r.Exception, generated)
		v.Exception = &e
	}
	return v
}

// byStatus orders results worst first, then most severe, then as the
// report listed them.
func byStatus(a, b *resultView) int {
	return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.sevRnk, b.sevRnk), cmp.Compare(a.index, b.index))
}

// bySeverity orders failing results most severe first.
func bySeverity(a, b *resultView) int {
	return cmp.Or(cmp.Compare(a.sevRnk, b.sevRnk), cmp.Compare(a.rank, b.rank), cmp.Compare(a.index, b.index))
}

func buildHTMLView(rep *posture.Report) *htmlView {
	v := &htmlView{
		CSP:         htmlCSP,
		CSS:         template.CSS(htmlCSS),
		JS:          template.JS(htmlJS),
		TenantName:  cmp.Or(rep.Tenant.DisplayName, rep.Tenant.InitialDomain, rep.Tenant.ID, "unknown tenant"),
		TenantID:    rep.Tenant.ID,
		Domain:      rep.Tenant.InitialDomain,
		Generated:   formatTime(rep.Generated),
		Collected:   formatTime(rep.Collected),
		Source:      cmp.Or(rep.Source, "unknown"),
		CAMode:      cmp.Or(rep.ConditionalAccessMode, "not stated"),
		CAModeHelp:  caModeHelp[rep.ConditionalAccessMode],
		ToolVersion: rep.ToolVersion,
	}
	if !rep.Generated.IsZero() && !rep.Collected.IsZero() {
		if d := rep.Generated.Sub(rep.Collected); d >= 0 {
			v.DataAge = "data " + humanDuration(d) + " old at the audit"
		} else {
			v.DataAge = "collected after the audit time: check the clocks"
		}
	}

	// The counts come from the results themselves, so the page can never
	// show a summary its results contradict.
	sum := posture.Summarize(rep.Results)
	v.Total = sum.Total
	known := 0
	for _, st := range posture.Statuses {
		n := sum.Count(st)
		known += n
		v.Tiles = append(v.Tiles, tileView{Status: string(st), Label: statusLabels[st], Count: n, Help: statusHelp[st]})
	}
	v.Unknown = sum.Total - known

	failing := 0
	sevCounts := make([]int, len(posture.Severities)+1)
	results := make([]*resultView, len(rep.Results))
	for i, r := range rep.Results {
		rv := buildResult(i, r, rep.Generated)
		results[i] = rv
		if rv.Failing {
			failing++
			sevCounts[min(r.Severity.Rank(), len(posture.Severities))]++
		}
	}
	for i, s := range posture.Severities {
		v.BySeverity = append(v.BySeverity, severityCount{Severity: string(s), Label: strings.ToUpper(string(s)), Count: sevCounts[i]})
	}
	if n := sevCounts[len(posture.Severities)]; n > 0 {
		v.BySeverity = append(v.BySeverity, severityCount{Severity: "unknown", Label: "UNKNOWN SEVERITY", Count: n})
	}

	// Needs action: failing results most severe first, then warnings.
	var warns []*resultView
	for _, rv := range results {
		switch {
		case rv.Failing:
			v.Action = append(v.Action, rv)
		case rv.RawStatus == string(posture.StatusWarn):
			warns = append(warns, rv)
		}
		if rv.RawStatus == string(posture.StatusSkip) {
			v.Skipped = append(v.Skipped, rv)
		}
	}
	slices.SortStableFunc(v.Action, bySeverity)
	slices.SortStableFunc(warns, bySeverity)
	v.Action = append(v.Action, warns...)

	v.Accounts, v.TenantWide = groupByAccount(rep.Accounts, results)

	reported := 0
	for _, e := range rep.Exceptions {
		ev := buildException(e.Exception, rep.Generated)
		ev.Matched = e.Matched
		ev.Unused = e.Matched == 0 && !ev.Expired
		findings := "findings"
		if e.Matched == 1 {
			findings = "finding"
		}
		switch {
		case ev.Expired && e.Matched > 0:
			ev.Used = fmt.Sprintf("no longer accepts %d %s: reported again", e.Matched, findings)
		case ev.Expired:
			ev.Used = "matches nothing"
		case ev.Unused:
			ev.Used = "matches nothing"
		default:
			ev.Used = fmt.Sprintf("accepts %d %s", e.Matched, findings)
		}
		if ev.Expired {
			v.Expired++
			reported += e.Matched
		}
		v.Exceptions = append(v.Exceptions, ev)
	}
	if v.Expired > 0 {
		n := "1 exception has"
		if v.Expired > 1 {
			n = strconv.Itoa(v.Expired) + " exceptions have"
		}
		switch {
		case reported == 1:
			v.ExpiredNote = n + " expired: the finding it accepted is reported again. Fix it, or renew the exception in the configuration."
		case reported > 1:
			v.ExpiredNote = n + fmt.Sprintf(" expired: the %d findings they accepted are reported again. Fix them, or renew the exceptions in the configuration.", reported)
		default:
			v.ExpiredNote = n + " expired and accepts nothing now: remove or renew it in the configuration."
		}
	}

	v.Verdict = verdict(v, sum, failing, len(warns))
	v.PageTitle = fmt.Sprintf("%s: break-glass audit, %s", v.TenantName, strings.ToLower(v.Verdict.Headline))
	return v
}

// groupByAccount puts each per-account result on its account's card and
// returns the tenant-wide results apart. A result naming an account the
// list lacks gets a card of its own: nothing is dropped.
func groupByAccount(accounts []posture.AccountInfo, results []*resultView) ([]*accountCard, []*resultView) {
	var cards []*accountCard
	byID := map[string]*accountCard{}
	byUPN := map[string]*accountCard{}
	for i, a := range accounts {
		c := &accountCard{
			Anchor:      "a-" + strconv.Itoa(i),
			Name:        cmp.Or(a.UPN, a.ID, a.Entry, "(unnamed account)"),
			DisplayName: a.DisplayName,
			ID:          a.ID,
			Entry:       a.Entry,
			Resolved:    a.Resolved,
			Reason:      a.Reason,
			index:       i,
		}
		cards = append(cards, c)
		if id := strings.ToLower(a.ID); id != "" && byID[id] == nil {
			byID[id] = c
		}
		if upn := strings.ToLower(a.UPN); upn != "" && byUPN[upn] == nil {
			byUPN[upn] = c
		}
	}
	var tenant []*resultView
	for _, r := range results {
		id, upn := strings.ToLower(r.id), strings.ToLower(r.upn)
		if id == "" && upn == "" {
			tenant = append(tenant, r)
			continue
		}
		var c *accountCard
		if id != "" {
			c = byID[id]
		}
		if u := byUPN[upn]; c == nil && upn != "" && u != nil && (id == "" || u.ID == "") {
			c = u
		}
		if c == nil {
			c = &accountCard{
				Anchor: "a-" + strconv.Itoa(len(cards)),
				Name:   cmp.Or(r.upn, r.id),
				ID:     r.id,
				Orphan: true,
				index:  len(cards),
			}
			cards = append(cards, c)
			if id != "" {
				byID[id] = c
			}
			if upn != "" && byUPN[upn] == nil {
				byUPN[upn] = c
			}
		}
		c.Results = append(c.Results, r)
	}
	for _, c := range cards {
		slices.SortStableFunc(c.Results, byStatus)
		c.rank = len(posture.Statuses)
		counts := map[string]int{}
		var order []string
		for _, r := range c.Results {
			c.rank = min(c.rank, r.rank)
			if counts[r.Status] == 0 {
				order = append(order, r.Status)
			}
			counts[r.Status]++
		}
		if !c.Resolved && !c.Orphan && c.rank > statusRank(posture.StatusError) {
			// An entry that resolved to nobody is an error whether or not a
			// check said so.
			c.rank = statusRank(posture.StatusError)
		}
		switch {
		case c.rank < 0:
			c.Worst, c.WorstLabel = "unknown", "UNKNOWN STATUS"
		case c.rank < len(posture.Statuses):
			st := posture.Statuses[c.rank]
			c.Worst, c.WorstLabel = string(st), statusLabels[st]
		default:
			c.Worst, c.WorstLabel = "none", "NO RESULTS"
		}
		for _, st := range order {
			label := strings.ToLower(statusLabels[posture.Status(st)])
			if label == "" {
				label = "unknown"
			}
			c.Counts = append(c.Counts, countView{Status: st, Label: label, Count: counts[st]})
		}
	}
	// A card without results sorts after those with failures but before
	// passing ones: nothing was checked for it.
	cardRank := func(c *accountCard) int {
		if c.Worst == "none" {
			return statusRank(posture.StatusSkip)
		}
		return c.rank
	}
	slices.SortStableFunc(cards, func(a, b *accountCard) int {
		return cmp.Or(cmp.Compare(cardRank(a), cardRank(b)), cmp.Compare(a.index, b.index))
	})
	slices.SortStableFunc(tenant, byStatus)
	return cards, tenant
}

func verdict(v *htmlView, sum posture.Summary, failing, warns int) verdictView {
	plural := func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + many
	}
	switch {
	case sum.Total == 0:
		return verdictView{"fail", "NO CHECKS RAN",
			"This report proves nothing about the break-glass accounts. Check the configuration and the snapshot, then run the audit again."}
	case failing > 0:
		var parts []string
		for _, s := range v.BySeverity {
			if s.Count > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", s.Count, strings.ToLower(s.Label)))
			}
		}
		return verdictView{"fail", "ACTION NEEDED: " + plural(failing, "failing result", "failing results"),
			strings.Join(parts, ", ") + ". The break-glass accounts may not work on the day you need them. Fix the list below, most severe first."}
	case warns > 0 || sum.Skip > 0 || v.Expired > 0:
		var parts []string
		if warns > 0 {
			parts = append(parts, plural(warns, "warning", "warnings"))
		}
		if sum.Skip > 0 {
			parts = append(parts, plural(sum.Skip, "check not run (unknown, not passed)", "checks not run (unknown, not passed)"))
		}
		if v.Expired > 0 {
			parts = append(parts, plural(v.Expired, "expired exception", "expired exceptions"))
		}
		return verdictView{"warn", "NO FAILURES, REVIEW THE REST", strings.Join(parts, ", ") + "."}
	}
	detail := plural(sum.Pass, "result passes", "results pass")
	if sum.Accepted > 0 {
		detail += "; " + plural(sum.Accepted, "finding is", "findings are") + " accepted by an exception"
	}
	return verdictView{"pass", "ALL CHECKS PASS", detail + "."}
}
