package scan

import (
	"bytes"
	"compress/gzip"
	"context"
	"strings"
	"testing"
	"unicode/utf16"
)

// Adversarial inputs found by trying to make the watcher miss a record that
// concerns a break-glass account (issue 7, items 1 and 12). Each case failed
// before its fix.

func utf16Bytes(s string, bigEndian, bom bool) []byte {
	var out []byte
	put := func(u uint16) {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	if bom {
		put(0xfeff)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		put(u)
	}
	return out
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestAdversarialEncodings: Windows PowerShell 5.1 writes UTF-16LE with a
// BOM (Out-File, ">", Export-Csv), and a log shipper may gzip a .gz file
// again. Before, each of these read as invalid_json and raised nothing.
func TestAdversarialEncodings(t *testing.T) {
	for _, shape := range sortedKeys(signInShapes) {
		rec := string(signInShapes[shape](okSignIn())) + "\r\n"
		// A character outside the BMP (a surrogate pair in UTF-16) before
		// the identity must not shift what follows.
		recEmoji := string(signInShapes[shape](signIn{time: "2024-06-20T05:12:33Z", userID: bg1, upn: bg1UPN, display: "Break \U0001F510 Glass", status: fields{{"errorCode", 0}}})) + "\r\n"
		cases := map[string][]byte{
			"utf-16le with BOM":             utf16Bytes(rec, false, true),
			"utf-16be with BOM":             utf16Bytes(rec, true, true),
			"utf-16le without BOM":          utf16Bytes(rec, false, false),
			"utf-16be without BOM":          utf16Bytes(rec, true, false),
			"utf-16le, surrogate pair":      utf16Bytes(recEmoji, false, true),
			"gzip inside gzip":              gz(t, gz(t, []byte(rec))),
			"gzip of utf-16le":              gz(t, utf16Bytes(rec, false, true)),
			"utf-16le, odd trailing byte":   append(utf16Bytes(rec, false, true), 'x'),
			"utf-8, NUL block (not utf-16)": append(bytes.Repeat([]byte{0}, 64), rec...),
		}
		for _, name := range sortedKeys(cases) {
			t.Run(shape+"/"+name, func(t *testing.T) {
				rule := "bg.signin"
				if name == "utf-8, NUL block (not utf-16)" && shape == "la-csv" {
					rule = "bg.unparsed" // a CSV header behind junk cannot be read
				}
				got := adversarialAlerts(t, cases[name])
				if len(got) != 1 || got[0].Alert.Rule != rule || got[0].Alert.AccountID != bg1 {
					t.Fatalf("alerts %v, want one %s for %s", rulesOf(got), rule, bg1)
				}
			})
		}
	}
}

func adversarialAlerts(t *testing.T, in []byte) []Finding {
	t.Helper()
	var got []Finding
	for _, exhaustive := range []bool{false, true} {
		s := New(Options{Accounts: testAccounts(), Exhaustive: exhaustive, FinalInputs: true})
		var st Stats
		var fs []Finding
		if err := s.Scan(context.Background(), "in", bytes.NewReader(in), &st, func(f Finding) error { fs = append(fs, f); return nil }); err != nil {
			t.Fatal(err)
		}
		if exhaustive && len(fs) != len(got) {
			t.Fatalf("fast path found %v, exhaustive %v", rulesOf(got), rulesOf(fs))
		}
		got = fs
	}
	return got
}

func rulesOf(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Alert.Rule+" "+f.Alert.AccountID)
	}
	return out
}

// TestAdversarialJunkBeforeArray: junk before a one-line JSON array (a
// minified Log Analytics export behind a NUL block or a torn line) cost
// every element: the whole line became one bg.unparsed. Each element must
// raise its own rule.
func TestAdversarialJunkBeforeArray(t *testing.T) {
	el := func(id string) string {
		return j(fields{{"TenantId", "t"}, {"TimeGenerated", "2024-06-20T05:12:33Z"}, {"Id", id}, {"UserPrincipalName", bg1UPN},
			{"UserId", bg1}, {"ResultType", "0"}, {"Type", "SigninLogs"}})
	}
	arr := "[" + el("si-1") + ", " + el("si-2") + "]\n"
	for name, junk := range map[string]string{"NUL block": "\x00\x00\x00\x00", "torn line": `{"Id":"x","User`, "stray bracket": "}", "text": "garbage "} {
		t.Run(name, func(t *testing.T) {
			got := adversarialAlerts(t, []byte(junk+arr))
			ids := map[string]bool{}
			for _, f := range got {
				if f.Alert.Rule == "bg.signin" {
					ids[f.Alert.EventID] = true
				}
			}
			if !ids["si-1"] || !ids["si-2"] {
				t.Fatalf("alerts %v, want bg.signin for si-1 and si-2", rulesOf(got))
			}
		})
	}
}

// TestAdversarialLegacyAuditIdentity: the legacy Audit category with the
// initiator's identity inside properties (as well as, or instead of, at the
// top level). Before, properties.identity was ignored: with the envelope's
// identity naming someone else, or absent, the account's activity raised
// only bg.unparsed or nothing.
func TestAdversarialLegacyAuditIdentity(t *testing.T) {
	rec := func(envIdentity, propIdentity any) []byte {
		return []byte(j(fields{{"time", "2016-06-20T05:12:33Z"}, {"operationName", "Update user"}, {"category", "Audit"}, {"identity", envIdentity},
			{"properties", fields{{"identity", propIdentity}, {"identityType", "UPN"}, {"targetResourceType", "UPN"}, {"targetResourceName", "carol@contoso.com"}}}}))
	}
	cases := []struct {
		name     string
		env, prp any
		rule     string
	}{
		{"only inside properties", missing, bg1UPN, "bg.activity"},
		{"inside properties, NA at the top", "NA", bg1UPN, "bg.activity"},
		{"inside properties, someone else at the top", aliceUPN, bg1UPN, "bg.activity"},
		{"at the top, someone else inside properties", bg1UPN, aliceUPN, "bg.activity"},
		{"both the account", bg1UPN, strings.ToUpper(bg1UPN), "bg.activity"},
		{"trap: someone else in both", aliceUPN, aliceUPN, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := adversarialAlerts(t, rec(tc.env, tc.prp))
			if tc.rule == "" {
				if len(got) != 0 {
					t.Fatalf("trap alerted: %v", rulesOf(got))
				}
				return
			}
			if len(got) != 1 || got[0].Alert.Rule != tc.rule || got[0].Alert.AccountID != bg1 {
				t.Fatalf("alerts %v, want one %s for %s", rulesOf(got), tc.rule, bg1)
			}
		})
	}
}
