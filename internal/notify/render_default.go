package notify

import (
	"fmt"
	"strings"
	"time"
)

// RenderDefault is the plain rendering used until message templates are
// configured: every fact the alert carries, no template involved, so it
// cannot fail.
func RenderDefault(n Notification) (Message, error) {
	if len(n.Coalesced) > 1 {
		return renderDefaultCoalesced(n)
	}
	a := n.Alert
	who := a.AccountUPN
	if who == "" {
		who = a.AccountID
	}
	status := strings.ToUpper(n.Status)
	subject := fmt.Sprintf("[%s %s] %s: %s", status, a.Severity, a.Title, who)
	fields := []Field{
		{"Account", strings.TrimSpace(a.AccountUPN + " " + a.AccountID)},
		{"What", a.Title},
		{"Rule", a.Rule},
		{"When (UTC)", a.EventTime.UTC().Format(time.RFC3339)},
		{"Alert", a.ID},
	}
	var b strings.Builder
	b.WriteString(subject + "\n\n")
	for _, f := range fields {
		fmt.Fprintf(&b, "%s: %s\n", f.Label, f.Value)
	}
	short := subject
	if len(short) > 320 {
		short = short[:320]
	}
	return Message{
		Subject: subject, Text: b.String(), HTML: "<pre>" + htmlEscape(b.String()) + "</pre>",
		Short: short, Voice: fmt.Sprintf("Break-glass alert. %s. Account %s.", a.Title, who),
		Fields: fields, Severity: int(a.Severity), Status: n.Status,
	}, nil
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;").Replace(s)
}
