package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"breakglass/internal/posture"
)

// FuzzRenderers feeds tenant text (display names, messages, evidence, fix
// commands) of any bytes to every format but html (s3-html fuzzes its
// own): no panic, JSON and SARIF stay valid JSON, JUnit stays well-formed
// XML, the plain table and the Markdown carry no escape character, and
// Markdown text outside code has no raw HTML.
func FuzzRenderers(f *testing.F) {
	for _, s := range []string{"", "plain", "a|b*c_`d`", "<script>alert(1)</script>", "\x1b[31mred\x1b[0m", "line\nbreak\r\n", "\u202eevil", "\xff\xfe", "]]>", "```"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		rep := &posture.Report{
			Tenant:   posture.TenantInfo{ID: a, DisplayName: b},
			Source:   a,
			Accounts: []posture.AccountInfo{{Entry: a, ID: b, UPN: a, DisplayName: b}},
			Results: []posture.Result{
				{Check: a, Title: b, Status: posture.StatusFail, Severity: posture.Severity(b), AccountID: b, AccountUPN: a, Message: a + b,
					Rationale: b, Requirements: []string{a}, Evidence: []posture.Evidence{{Object: a, Field: b, Value: a, Source: b, Note: a}},
					Remediation: posture.Remediation{Summary: a, Portal: b, Graph: a, PowerShell: b},
					Exception:   &posture.Exception{Check: a, Account: b, Reason: a, AcceptedBy: b, Where: a}},
				{Check: b, Status: posture.Status(a), Message: b},
				{Check: a, Status: posture.StatusAccepted, Message: b},
				{Check: a, Status: posture.StatusSkip, Message: b},
			},
			Exceptions: []posture.ExceptionUse{{Exception: posture.Exception{Check: a, Account: b, Reason: b, AcceptedBy: a, Where: b}}},
		}
		rep.Summary = posture.Summarize(rep.Results)
		for _, format := range []string{"table", "markdown", "json", "sarif", "junit"} {
			var buf bytes.Buffer
			if err := Render(&buf, format, rep, Options{}); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			out := buf.Bytes()
			switch format {
			case "json", "sarif":
				if !json.Valid(out) {
					t.Fatalf("%s: invalid JSON", format)
				}
			case "junit":
				d := xml.NewDecoder(bytes.NewReader(out))
				for {
					if _, err := d.Token(); err != nil {
						if err.Error() == "EOF" {
							break
						}
						t.Fatalf("junit: %v", err)
					}
				}
			case "table":
				if bytes.ContainsAny(out, "\x1b\r\u202e") {
					t.Fatalf("table carries a control character: %q", out)
				}
			case "markdown":
				// Text outside code is escaped; code spans and blocks show
				// '<' literally, so only the text helper is held to it.
				if bytes.ContainsAny(out, "\x1b\r\u202e") {
					t.Fatalf("markdown carries a control character")
				}
				if m := mdText(a); strings.ContainsAny(m, "<>\n") {
					t.Fatalf("mdText(%q) = %q", a, m)
				}
				if c := mdCode(a); strings.Contains(c, "\n") || !strings.HasPrefix(c, "`") {
					t.Fatalf("mdCode(%q) = %q", a, c)
				}
			}
		}
	})
}
