package notify

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/store"
)

// A coalesced message carries every alert a rate limit held back for one
// channel (Notification.Coalesced). It is rendered with the embedded
// templates/coalesced_<form>.tmpl, never with configured templates: a
// custom template written for one alert would name only the first, and a
// coalesced message must name or count every alert it carries.

// ListCommand is what a message points to when it cannot link each alert.
const ListCommand = "breakglass alerts list"

// maxSpokenAccounts bounds the accounts a coalesced call reads out.
const maxSpokenAccounts = 4

// CoalescedData is what the coalesced templates see besides the lead
// alert's own MessageData.
type CoalescedData struct {
	// Count is how many alerts the message carries; More is Count-1, the
	// alerts besides the lead (the most severe, described at the top).
	Count, More int
	// Firing and Resolved count the carried alerts by status.
	Firing, ResolvedCount int
	// Alerts are every carried alert's data, oldest first, the lead among
	// them.
	Alerts []CarriedAlert
	// RuleCounts says what the others are, most frequent first: "12
	// bg.signin, 7 bg.activity"; SpokenCounts the same in words for a call.
	RuleCounts, SpokenCounts string
	// Accounts lists the distinct accounts, short form; AccountsShort the
	// same with a UPN's domain left out (for SMS); SpokenAccounts up to
	// four of them as a call reads them.
	Accounts, AccountsShort []string
	SpokenAccounts          string
	// First and Last are the times of the oldest and newest alert
	// ("03:12"); Span is "03:12–03:17 UTC" or "03:12 UTC".
	First, Last, Span string
	// Links is true when every alert has its acknowledge link.
	Links bool
	// ListCommand lists them in breakglass (ListCommand).
	ListCommand string
}

// CarriedAlert is one alert of a coalesced message: its place in the list
// (N, from 1) and its own MessageData.
type CarriedAlert struct {
	N int
	*MessageData
}

// coalescedView is what a coalesced template executes on: the lead's
// fields at the top level (.Title, .Severity, ...) and .C for the set.
type coalescedView struct {
	*MessageData
	C *CoalescedData
}

// CoalescedData builds the set facts of a coalesced notification, nil
// for a single one.
func (r *Renderer) CoalescedData(n Notification) *CoalescedData {
	if len(n.Coalesced) < 2 {
		return nil
	}
	c := &CoalescedData{Count: len(n.Coalesced), More: len(n.Coalesced) - 1, Links: true, ListCommand: ListCommand}
	type rc struct {
		rule, title string
		n           int
		first       int
	}
	var rules []*rc
	seenAcct := map[string]bool{}
	var spoken []string
	var first, last time.Time
	for i, cn := range n.Coalesced {
		d := r.Data(cn)
		c.Alerts = append(c.Alerts, CarriedAlert{N: i + 1, MessageData: d})
		if cn.Status == store.StatusResolved {
			c.ResolvedCount++
		} else {
			c.Firing++
			if d.AckURL == "" {
				c.Links = false
			}
		}
		if j := slices.IndexFunc(rules, func(x *rc) bool { return x.rule == d.Rule }); j >= 0 {
			rules[j].n++
		} else {
			rules = append(rules, &rc{rule: d.Rule, title: d.RuleTitle, n: 1, first: i})
		}
		if a := d.Account.Short; a != "" && !seenAcct[a] {
			seenAcct[a] = true
			c.Accounts = append(c.Accounts, a)
			local, _, _ := strings.Cut(a, "@")
			c.AccountsShort = append(c.AccountsShort, local)
			if len(spoken) < maxSpokenAccounts {
				spoken = append(spoken, d.Account.Spoken)
			}
		}
		if first.IsZero() || d.When.Before(first) {
			first = d.When
		}
		if d.When.After(last) {
			last = d.When
		}
	}
	slices.SortStableFunc(rules, func(x, y *rc) int { return cmp.Or(cmp.Compare(y.n, x.n), cmp.Compare(x.first, y.first)) })
	var counts, words []string
	for _, x := range rules {
		counts = append(counts, strconv.Itoa(x.n)+" "+x.rule)
		words = append(words, strconv.Itoa(x.n)+" "+plural(x.n, "alert", "alerts")+" "+quoteOr(x.title, x.rule))
	}
	c.RuleCounts = strings.Join(counts, ", ")
	c.SpokenCounts = strings.Join(words, ", ")
	c.SpokenAccounts = strings.Join(spoken, ", ")
	if n := len(c.Accounts) - len(spoken); n > 0 {
		c.SpokenAccounts += fmt.Sprintf(" and %d more %s", n, plural(n, "account", "accounts"))
	}
	if c.Firing == 0 {
		c.Links = false
	}
	c.First, c.Last = first.UTC().Format("15:04"), last.UTC().Format("15:04")
	c.Span = c.First + " UTC"
	if c.Last != c.First {
		c.Span = c.First + "–" + c.Last + " UTC"
	}
	return c
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// renderCoalesced renders a coalesced notification with the embedded
// coalesced templates. They are tested against every rule; should one
// still fail, the plain rendering carries every alert.
func (r *Renderer) renderCoalesced(n Notification) (Message, error) {
	d := r.Data(n)
	c := r.CoalescedData(n)
	v := &coalescedView{MessageData: d, C: c}
	var failed bool
	run := func(form string) string {
		out, err := r.coalesced[form].execute(v)
		if err != nil {
			failed = true
			return ""
		}
		return out
	}
	m := Message{
		Subject:  fitLine(run(FormSubject), MaxSubject),
		Text:     cleanText(run(FormText)),
		HTML:     run(FormHTML),
		Short:    run(FormShort),
		Voice:    Speakable(run(FormVoice)),
		Severity: int(n.Alert.Severity),
		Status:   n.Status,
		AckURL:   d.AckURL,
	}
	if failed {
		return RenderDefault(n)
	}
	m.Short = fitShort(m.Short, m.AckURL)
	m.Fields = coalescedFields(d, c)
	return m, nil
}

// coalescedFields are the card fields of a coalesced message: the set,
// then one line per alert.
func coalescedFields(d *MessageData, c *CoalescedData) []Field {
	f := []Field{
		{"Status", strings.ToUpper(d.Status)},
		{"Severity", d.Severity + " " + d.SeverityWords + " (the most severe)"},
		{"Alerts", fmt.Sprintf("%d, held back by a rate limit and sent together: %s", c.Count, c.RuleCounts)},
	}
	for _, a := range c.Alerts {
		f = append(f, Field{fmt.Sprintf("Alert %d", a.N), carriedLine(a.MessageData)})
	}
	f = append(f, Field{"What to do", d.Next})
	return f
}

// carriedLine is one carried alert on one line.
func carriedLine(a *MessageData) string {
	parts := []string{a.WhenUTC, a.Severity, a.Rule, a.Account.Short, a.Title, "alert " + a.AlertID}
	if a.Resolved {
		parts = append([]string{"RESOLVED"}, parts...)
	}
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), " · ")
}

// renderDefaultCoalesced is RenderDefault for a coalesced notification:
// every carried alert on its own lines, no template involved.
func renderDefaultCoalesced(n Notification) (Message, error) {
	a := n.Alert
	subject := fmt.Sprintf("[%s %s] %d break-glass alerts, held back by a rate limit: %s", strings.ToUpper(n.Status), a.Severity, len(n.Coalesced), a.Title)
	var b strings.Builder
	b.WriteString(subject + "\n\n")
	fields := []Field{{"Alerts", strconv.Itoa(len(n.Coalesced))}}
	for i, c := range n.Coalesced {
		who := cmp.Or(c.Alert.AccountUPN, c.Alert.AccountID)
		line := fmt.Sprintf("%s %s %s %s %s: %s (alert %s)", strings.ToUpper(c.Status), c.Alert.EventTime.UTC().Format(time.RFC3339),
			c.Alert.Severity, c.Alert.Rule, who, c.Alert.Title, c.Alert.ID)
		fmt.Fprintf(&b, "%d. %s\n", i+1, line)
		fields = append(fields, Field{fmt.Sprintf("Alert %d", i+1), line})
	}
	fmt.Fprintf(&b, "\nSee them all: %s\n", ListCommand)
	short := fmt.Sprintf("[%s %s] %d break-glass alerts: %s +%d more. %s", strings.ToUpper(n.Status), a.Severity, len(n.Coalesced), a.Title, len(n.Coalesced)-1, ListCommand)
	return Message{
		Subject: subject, Text: b.String(), HTML: "<pre>" + htmlEscape(b.String()) + "</pre>",
		Short: cut(short, MaxShort), Voice: fmt.Sprintf("Break-glass alert. %d alerts. The most severe: %s.", len(n.Coalesced), a.Title),
		Fields: fields, Severity: int(a.Severity), Status: n.Status,
	}, nil
}
