package notify

import (
	"strings"

	"breakglass/internal/expect"
)

// The verdicts of a sign-in's expectations (internal/expect), as message
// lines: one fact per expectation, in the order expect gives them, and a
// sentence in What when one broke, so that the reason a sign-in is worse
// than usual is read before anything else.

// expectLabels name each expectation in a message.
var expectLabels = []struct{ kind, label string }{
	{expect.KindDevice, "Approved workstation"},
	{expect.KindNetwork, "Approved network"},
	{expect.KindCountry, "Approved country"},
	{expect.KindPhishingResistant, "Phishing-resistant sign-in"},
	{expect.KindConditionalAccess, "Expected Conditional Access"},
}

// expectFacts are the verdicts present in ann; a broken one is written
// BROKEN so it stands out in every form.
func expectFacts(ann map[string]string) []Field {
	var out []Field
	for _, e := range expectLabels {
		v := oneLine(ann[expect.AnnPrefix+e.kind], 500)
		if v == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(v, string(expect.Broken)+" "); ok {
			v = "BROKEN " + rest
		}
		out = append(out, Field{e.label, v})
	}
	return out
}

// expectWhat is the sentence What gains from the expectations' summary:
// which broke, or that every one held.
func expectWhat(ann map[string]string) string {
	s := oneLine(ann[expect.AnnSummary], 500)
	if rest, ok := strings.CutPrefix(s, string(expect.Broken)+": "); ok {
		return " It did NOT meet what is expected of this account's sign-ins: " + sentence(rest)
	}
	if rest, ok := strings.CutPrefix(s, string(expect.Held)+": "); ok {
		return " It met what is expected of this account's sign-ins: " + sentence(rest)
	}
	return ""
}
