package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/config"
	"breakglass/internal/evidence"
	"breakglass/internal/evidence/report"
	"breakglass/internal/incident"
	"breakglass/internal/store"
)

func init() {
	incidentsExtra = append(incidentsExtra, newIncidentsExportCmd, newIncidentsReportCmd)
}

// Names of the reports inside an export bundle.
const (
	bundleReportMD   = report.BundleMarkdown
	bundleReportHTML = report.BundleHTML
	bundleReportJSON = report.BundleJSON
)

type incidentsExportFlags struct {
	config, out, format string
}

func newIncidentsExportCmd() *cobra.Command {
	var f incidentsExportFlags
	cmd := &cobra.Command{
		Use:   "export ID --out FILE.zip [--format table|json]",
		Short: "Write an incident's evidence bundle for auditors and incident responders",
		Long: `export writes one zip with everything about the incident:

  records.ndjson   the raw records, one per line, exactly as received
                   (a record with line breaks also as records/SEQ.json)
  chain.json       the incident's part of the evidence chain, linked entry
                   by entry to its head, and the head with its signature
  head.statement   the text the head's signature covers; head.sig and
  head.pub.pem     the signature and key, to check with openssl
  report.md, report.html, report.json   the readable timeline
  SHA256SUMS       the SHA-256 of every file, in sha256sum format

It first verifies the whole evidence log and refuses to export from a
broken one. The bundle is written atomically (nothing is left under FILE if
it fails) and never over an existing file. Check it anywhere, without a
store, with 'sha256sum -c SHA256SUMS' in the extracted bundle and with
'breakglass evidence verify --bundle FILE.zip'.

The head is signed with evidence.signing_key when it can be read here;
otherwise the bundle ends at the last head serve published (signed) if that
covers the incident, else its head is unsigned (said on stderr).

Exit status: 0 written; 1 the incident was not found, or the evidence log is
broken; 2 usage, configuration or I/O error.`,
		Example: `  breakglass incidents export -c breakglass.yaml inc-3f2a9c0d1b4e --out inc-3f2a9c0d1b4e.zip`,
		Args:    oneIncidentArg,
		RunE:    func(cmd *cobra.Command, args []string) error { return runIncidentsExport(cmd, f, args[0]) },
	}
	addConfigFlag(cmd, &f.config)
	cmd.Flags().StringVar(&f.out, "out", "", "the bundle file to write (.zip)")
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

// exportSummary is what export prints.
type exportSummary struct {
	Incident string `json:"incident"`
	Bundle   string `json:"bundle"`
	SHA256   string `json:"sha256"`
	Records  int    `json:"records"`
	First    int64  `json:"first_seq"`
	Head     string `json:"head"`
	Signed   bool   `json:"signed"`
}

func runIncidentsExport(cmd *cobra.Command, f incidentsExportFlags, id string) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	if f.out == "" {
		return usageErrorf("--out FILE.zip is required: where to write the bundle")
	}
	if _, err := os.Lstat(f.out); err == nil {
		return usageErrorf("%s exists; export never overwrites a bundle (choose another --out)", f.out)
	}
	if dir := filepath.Dir(f.out); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return usageErrorf("--out %s: directory %s does not exist", f.out, dir)
		}
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	st, err := openExistingStore(ctx, f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	if inc, err := st.Incident(ctx, id); err != nil {
		return incidentErr(id, err)
	} else if err := refusePrunedExport(inc); err != nil {
		return err
	}
	key, keyNote := exportKey(cfg)
	heads, headsErr := evidence.LoadHeads(cfg.Evidence.HeadsFile)
	var damaged *evidence.HeadsError
	switch {
	case headsErr == nil, errors.Is(headsErr, fs.ErrNotExist):
	case errors.As(headsErr, &damaged):
		return exitCodeError{exitFailure, fmt.Sprintf("not exporting: %v; run 'breakglass evidence verify'", headsErr)}
	default:
		return usageErrorf("heads file: %v", headsErr)
	}
	// A bundle from a broken log would carry the break: refuse, and say
	// where it is.
	refs := make([]evidence.HeadRef, len(heads))
	for i, h := range heads {
		refs[i] = h.Ref()
	}
	res, err := evidence.Verify(ctx, st, refs)
	if err != nil {
		return storeError(err)
	}
	if !res.OK() {
		return exitCodeError{exitFailure, fmt.Sprintf("not exporting: %v; run 'breakglass evidence verify' and keep the store as it is", res.Break)}
	}
	if m, err := incident.CheckStoreLog(ctx, st, id); err != nil {
		return storeError(err)
	} else if m != nil {
		return exitCodeError{exitFailure, fmt.Sprintf("not exporting: %v; run 'breakglass evidence verify' and keep the store as it is", m)}
	}
	seg, ok, err := evidence.Segment(ctx, st, id)
	if err != nil {
		return storeError(err)
	}
	if !ok {
		return exitCodeError{exitFailure, fmt.Sprintf("incident %s has no entries in the evidence log: nothing to export (was it opened before evidence was logged?)", id)}
	}
	now := time.Now().UTC()
	head, seg, note := bundleHead(seg, key, heads, id, now)
	if keyNote != "" && note != "" {
		note = keyNote + "; " + note
	}
	rep, err := report.Build(ctx, st, id, now)
	if err != nil {
		return incidentErr(id, err)
	}
	rep.Head = &report.Head{Seq: head.Seq, Hash: head.Hash, Signed: head.Signed()}
	files := map[string][]byte{}
	for name, render := range map[string]func(io.Writer, *report.Report) error{
		bundleReportMD: report.Markdown, bundleReportHTML: report.HTML, bundleReportJSON: report.JSON,
	} {
		var b bytes.Buffer
		if err := render(&b, rep); err != nil {
			return fmt.Errorf("rendering %s: %w", name, err)
		}
		files[name] = b.Bytes()
	}
	if err := evidence.WriteBundleFile(f.out, evidence.Export{Incident: id, Entries: seg, Head: head, Files: files, Now: now}); err != nil {
		return usageErrorf("--out %s: %v", f.out, err)
	}
	sum, err := fileSHA256(f.out)
	if err != nil {
		return usageErrorf("--out %s: %v", f.out, err)
	}
	if err := recordExport(ctx, st, id, f.out, sum, seg, now); err != nil {
		return storeError(err)
	}
	records := 0
	for _, e := range seg {
		if e.Incident == id && (e.Kind == store.LogRecord || e.Kind == store.LogPull) {
			records++
		}
	}
	out := exportSummary{Incident: id, Bundle: f.out, SHA256: sum, Records: records, First: seg[0].Seq, Head: head.Ref().String(), Signed: head.Signed()}
	if note != "" {
		fmt.Fprintln(cmd.ErrOrStderr(), "breakglass: note:", note)
	}
	w := cmd.OutOrStdout()
	if f.format == "json" {
		return json.NewEncoder(w).Encode(out)
	}
	sig := "unsigned"
	if out.Signed {
		sig = "signed"
	}
	_, err = fmt.Fprintf(w, "wrote %s: incident %s, %d raw records, chain entries %d to %s (%s)\nsha256 of the bundle: %s\ncheck it: breakglass evidence verify --bundle %s\n",
		out.Bundle, id, records, out.First, out.Head, sig, sum, out.Bundle)
	return err
}

// exportKey is evidence.signing_key if this user can read it.
func exportKey(cfg *config.Config) (ed25519.PrivateKey, string) {
	if cfg.Evidence.SigningKey == "" {
		return nil, ""
	}
	k, err := evidence.LoadPrivateKey(cfg.Evidence.SigningKey)
	if err != nil {
		return nil, fmt.Sprintf("evidence.signing_key cannot be read here (%v)", err)
	}
	return k, ""
}

// bundleHead picks the head a bundle is bound to and cuts the segment
// there: the current head signed with key; else the newest head serve
// published signed, if the incident's entries all come before it; else
// the current head, unsigned (note says so).
func bundleHead(seg []store.LogEntry, key ed25519.PrivateKey, heads []evidence.SignedHead, id string, now time.Time) (evidence.SignedHead, []store.LogEntry, string) {
	last := seg[len(seg)-1]
	cur := evidence.SignedHead{Seq: last.Seq, Hash: last.Hash, At: now}
	if key != nil {
		return cur.Sign(key), seg, ""
	}
	var lastOwn int64
	for _, e := range seg {
		if e.Incident == id {
			lastOwn = e.Seq
		}
	}
	for i := len(heads) - 1; i >= 0; i-- {
		h := heads[i]
		if !h.Signed() || h.Seq < lastOwn || h.Seq > last.Seq {
			continue
		}
		for j, e := range seg {
			if e.Seq == h.Seq && e.Hash == h.Hash {
				return h, seg[:j+1], ""
			}
		}
	}
	return cur, seg, "the bundle's head is not signed (no readable evidence.signing_key, and no signed head published after the incident's last entry): it proves its files agree, not that serve wrote them"
}

func fileSHA256(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

type incidentsReportFlags struct {
	config, format, out string
}

func newIncidentsReportCmd() *cobra.Command {
	var f incidentsReportFlags
	cmd := &cobra.Command{
		Use:   "report ID [--format markdown|html|json] [--out FILE]",
		Short: "Print what happened in an incident: a timeline, oldest first",
		Long: `report prints the incident's timeline, oldest first, so you can answer
"what happened?" without opening the portal: each sign-in (app, resource,
IP, location, device, client, authentication method and strength,
Conditional Access results, outcome), each audit operation with its targets
and modified properties (old -> new), each alert, notification and
acknowledgement, the incident's transitions and its review.

--format html writes one self-contained page (no scripts, nothing fetched).
Parts of the store that cannot be read are listed at the top, never left
out silently.

Exit status: 0 done; 1 the incident was not found; 2 usage or configuration
error, or the store cannot be read.`,
		Example: `  breakglass incidents report -c breakglass.yaml inc-3f2a9c0d1b4e
  breakglass incidents report -c breakglass.yaml inc-3f2a9c0d1b4e --format html --out inc.html`,
		Args: oneIncidentArg,
		RunE: func(cmd *cobra.Command, args []string) error { return runIncidentsReport(cmd, f, args[0]) },
	}
	addConfigFlag(cmd, &f.config)
	cmd.Flags().StringVar(&f.format, "format", "markdown", "output format: markdown, html or json")
	cmd.Flags().StringVar(&f.out, "out", "", "write to this file instead of standard output")
	return cmd
}

func runIncidentsReport(cmd *cobra.Command, f incidentsReportFlags, id string) error {
	switch f.format {
	case "markdown", "md", "html", "json":
	default:
		return usageErrorf("--format: unknown format %q (want %s)", f.format, strings.Join(report.Formats, ", "))
	}
	ctx := cmd.Context()
	st, err := openExistingStore(ctx, f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	var b bytes.Buffer
	if err := renderIncidentReport(ctx, st, &b, id, f.format, time.Now()); err != nil {
		return err
	}
	if f.out == "" {
		_, err := cmd.OutOrStdout().Write(b.Bytes())
		return err
	}
	if err := writeReportFile(f.out, b.Bytes()); err != nil {
		return usageErrorf("--out %s: %v", f.out, err)
	}
	return nil
}

func renderIncidentReport(ctx context.Context, st cliStore, w io.Writer, id, format string, now time.Time) error {
	rep, err := report.Build(ctx, st, id, now)
	if err != nil {
		return incidentErr(id, err)
	}
	if h, ok, err := st.LogHead(ctx); err == nil && ok {
		rep.Head = &report.Head{Seq: h.Seq, Hash: h.Hash}
	}
	return report.Render(w, rep, format)
}

// writeReportFile writes path through a temporary file and a rename.
func writeReportFile(path string, data []byte) error {
	fh, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		os.Remove(fh.Name())
		return err
	}
	if err := fh.Close(); err != nil {
		os.Remove(fh.Name())
		return err
	}
	if err := os.Chmod(fh.Name(), 0o644); err != nil {
		os.Remove(fh.Name())
		return err
	}
	return os.Rename(fh.Name(), path)
}
