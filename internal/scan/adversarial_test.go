package scan

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
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

// TestAdversarialCSVDialects: a CSV export re-saved by Excel: semicolons
// (locales with a decimal comma), its "sep=" hint line, tab-separated
// "Unicode text" (UTF-16LE). Before, each raised only bg.unparsed (or,
// UTF-16, nothing) instead of the rule.
func TestAdversarialCSVDialects(t *testing.T) {
	header := []string{"TenantId", "TimeGenerated [UTC]", "Id", "UserPrincipalName", "UserId", "AppDisplayName", "ResultType", "Type"}
	row := []string{"t", "4/28/2021, 2:08:45.221 PM", "si-1", bg1UPN, bg1, "Azure Portal", "0", "SigninLogs"}
	render := func(sep string) string {
		q := func(cells []string) string {
			out := make([]string, len(cells))
			for i, c := range cells {
				if strings.ContainsAny(c, sep+`",`) {
					c = `"` + strings.ReplaceAll(c, `"`, `""`) + `"`
				}
				out[i] = c
			}
			return strings.Join(out, sep) + "\r\n"
		}
		return q(header) + q(row)
	}
	cases := map[string][]byte{
		"semicolons":                  []byte(render(";")),
		"sep=; hint":                  []byte("sep=;\r\n" + render(";")),
		"sep=, hint":                  []byte("sep=,\r\n" + render(",")),
		"tabs":                        []byte(render("\t")),
		"Excel Unicode text (utf-16)": utf16Bytes(render("\t"), false, true),
		"utf-8 BOM, semicolons":       append([]byte("\xef\xbb\xbf"), render(";")...),
	}
	for _, name := range sortedKeys(cases) {
		t.Run(name, func(t *testing.T) {
			got := adversarialAlerts(t, cases[name])
			if len(got) != 1 || got[0].Alert.Rule != "bg.signin" || got[0].Alert.AccountID != bg1 || got[0].Alert.EventID != "si-1" {
				t.Fatalf("alerts %v, want one bg.signin for %s", rulesOf(got), bg1)
			}
		})
	}
}

// TestAdversarialPreambleBeforeNDJSON: a first line with a comma in it
// (a torn line, a tool's preamble) before NDJSON made the whole file read
// as CSV: every record became invalid_csv and, deduplicated by bytes, one
// bg.unparsed for all. Each record must raise its own rule.
func TestAdversarialPreambleBeforeNDJSON(t *testing.T) {
	rec := func(id string) string {
		return j(fields{{"TimeGenerated", "2024-06-20T05:12:33Z"}, {"Id", id}, {"UserPrincipalName", bg1UPN}, {"UserId", bg1}, {"ResultType", "0"}, {"Type", "SigninLogs"}})
	}
	for name, pre := range map[string]string{
		"preamble":    "Exported by contoso-siem, 2024-06-20\n",
		"torn line":   `{"Id":"x1", "UserPrincipalName"` + "\n",
		"semicolons":  "a;b;c\r\n",
		"blank after": "x,y\n\n  \n",
	} {
		t.Run(name, func(t *testing.T) {
			got := adversarialAlerts(t, []byte(pre+rec("si-1")+"\n"+rec("si-2")+"\n"))
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

// TestAdversarialCorruptGzipCSV: a gzip stream that is corrupt right after
// a CSV header's first bytes made the CSV reader fail on its first row,
// and the splitter asked it for the row's line: a panic that took down
// scan (and a daemon fed the body over HTTP). Found by FuzzSplitter.
func TestAdversarialCorruptGzipCSV(t *testing.T) {
	// FuzzSplitter's crasher (logs/testdata/fuzz/FuzzSplitter/6093414f7b90c0be).
	in := []byte("\x1f\x8b\b0000000\x00\xedY]o\xdb6\x14}߯\x10\xfc\xbaѡ\xbe\xe5b\x18\xe6&\xed`\xa0N\x82\xa6\xed\xb6\x16AA\x91\x94XT2'JJ\xe0\"\xf9ﻤ$[v\x9c9M2\x04A%\x14NE\x8a\xe4\xe1\xe5\xb9\xe7\x90\xd2\b91A''c\xf87)21Z8'c7\xfa%0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000")
	s := New(Options{Accounts: testAccounts(), FinalInputs: true})
	var st Stats
	err := s.Scan(context.Background(), "in", bytes.NewReader(in), &st, func(Finding) error { return nil })
	if err == nil {
		t.Fatalf("corrupt gzip scanned without error: %+v", st)
	}
	t.Logf("error (as expected): %v", err)
}

// TestAdversarialEnvelopeMembers: members of an envelope after its array
// were skipped unread: a second "records" or "value" array, or any member
// naming an account, vanished without a count. Annotations (a nextLink
// that names the account, as a Graph query filtered on it returns) stay
// silent.
func TestAdversarialEnvelopeMembers(t *testing.T) {
	diag := string(diagSignIn(okSignIn()))
	graph := string(signInShapes["graph"](okSignIn()))
	alice := string(signInShapes["graph"](signIn{time: "2024-06-20T05:12:33Z", userID: aliceID, upn: aliceUPN, status: fields{{"errorCode", 0}}}))
	next := `"@odata.nextLink":"https://graph.microsoft.com/v1.0/auditLogs/signIns?$filter=userPrincipalName eq '` + bg1UPN + `'&$skiptoken=x"`
	cases := []struct {
		name, in string
		rule     string
	}{
		{"records after an empty value", `{"value":[],"records":[` + diag + `]}`, "bg.signin"},
		{"value after records", `{"records":[],"value":[` + graph + `]}`, "bg.signin"},
		{"records after value, pretty", "{\n  \"value\": [],\n  \"records\": [\n    " + diag + "\n  ]\n}\n", "bg.signin"},
		{"a member naming the account", `{"value":[` + alice + `],"lastRecord":` + graph + `}`, "bg.unparsed"},
		{"trap: nextLink naming the account", `{"@odata.context":"x","value":[` + alice + `],` + next + `}`, ""},
		{"trap: a member naming no one", `{"value":[` + alice + `],"meta":{"n":1}}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := adversarialAlerts(t, []byte(tc.in))
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

// TestAdversarialCSVMemory: a CSV row of 30 MiB of separators made the CSV
// reader build 30 million fields (2.2 GB peak RSS for a 30 MiB file), and
// a 56 MiB header of 5 million columns cost 650 MB. Both now stay under
// 100 MiB, and both still raise bg.unparsed: the account is named in them.
func TestAdversarialCSVMemory(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("without -race or -short: it streams 30 MiB")
	}
	const env = "BREAKGLASS_ADV_CSV_CHILD"
	if c := os.Getenv(env); c != "" {
		var r io.Reader
		switch c {
		case "fields":
			r = io.MultiReader(strings.NewReader("TimeGenerated,UserPrincipalName\n"),
				&repeatReader{pat: []byte(","), n: 30 << 20}, strings.NewReader(bg1UPN+"\n"))
		case "header":
			r = io.MultiReader(&repeatReader{pat: []byte("Column,"), n: 56 << 20}, strings.NewReader("UserPrincipalName\n"),
				&repeatReader{pat: []byte(","), n: 1 << 20}, strings.NewReader(bg1UPN+"\n"))
		default:
			return
		}
		s := New(Options{Accounts: testAccounts(), FinalInputs: true})
		var st Stats
		rules := 0
		err := s.Scan(context.Background(), c, r, &st, func(f Finding) error {
			if f.Alert.Rule == "bg.unparsed" && f.Alert.AccountID == bg1 {
				rules++
			}
			return nil
		})
		fmt.Printf("CHILD %d unparsed=%d err=%v %v\n", vmHWM(), rules, err, nonZero(st.Skipped))
		return
	}
	if vmHWM() < 0 {
		t.Skip("no /proc/self/status VmHWM")
	}
	const bound = 100 << 20
	for _, c := range []string{"fields", "header"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAdversarialCSVMemory$", "-test.v")
		cmd.Env = append(os.Environ(), env+"="+c)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", c, err, out)
		}
		var rss int64
		var got string
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "CHILD" {
				rss, _ = strconv.ParseInt(f[1], 10, 64)
				got = strings.Join(f[2:], " ")
			}
		}
		t.Logf("%s: peak RSS %d MiB; %s", c, rss>>20, got)
		if rss <= 0 || rss > bound {
			t.Errorf("%s: peak RSS %d MiB, want under %d MiB", c, rss>>20, bound>>20)
		}
		if !strings.Contains(got, "unparsed=1 ") {
			t.Errorf("%s: child saw %q, want one bg.unparsed", c, got)
		}
	}
}

// TestAdversarialTooLargeNamesAccount: a record over the size limit whose
// account is named beyond the kept start raised bg.unparsed without naming
// the account (account "", evidence without the mention). The alert now
// names it and keeps the bytes around the mention.
func TestAdversarialTooLargeNamesAccount(t *testing.T) {
	pad := strings.Repeat("x", 300<<10)
	for _, id := range []string{bg1, strings.ToUpper(bg1), bg1UPN, `\u0062g-admin1@contoso.onmicrosoft.com`} {
		in := `{"category":"SignInLogs","properties":{"pad":"` + pad + `","userId":"` + id + `","more":"` + pad + `"}}` + "\n"
		s := New(Options{Accounts: testAccounts(), MaxRecord: 64 << 10, FinalInputs: true})
		var st Stats
		var got []Finding
		if err := s.Scan(context.Background(), "in", strings.NewReader(in), &st, func(f Finding) error { got = append(got, f); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Alert.Rule != "bg.unparsed" || got[0].Alert.AccountID != bg1 {
			t.Fatalf("%s: alerts %v, want bg.unparsed naming %s", id, rulesOf(got), bg1)
		}
		if raw := got[0].Raw; !bytes.Contains(raw, []byte(id)) || len(raw) > 80<<10 {
			t.Errorf("%s: evidence of %d bytes without the mention", id, len(raw))
		}
	}
}

// TestAdversarialCSVHeaderNamesAccount: a first line with commas that names
// an account, and nothing after it that reads as rows, was taken for a CSV
// header and never looked at again.
func TestAdversarialCSVHeaderNamesAccount(t *testing.T) {
	for _, in := range []string{
		"signin," + bg1UPN + ",2024-06-20T05:12:33Z\n",
		"TimeGenerated,UserId\r\n" + strings.Repeat(",", 10) + "\n" + "x," + strings.ToUpper(bg1) + ",y\n",
	} {
		got := adversarialAlerts(t, []byte(in))
		if len(got) != 1 || got[0].Alert.Rule != "bg.unparsed" || got[0].Alert.AccountID != bg1 {
			t.Errorf("%.40q: alerts %v, want one bg.unparsed for %s", in, rulesOf(got), bg1)
		}
	}
}
