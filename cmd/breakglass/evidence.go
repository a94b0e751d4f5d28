package main

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/config"
	"breakglass/internal/evidence"
	"breakglass/internal/evidence/report"
	"breakglass/internal/store"
)

func newEvidenceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Verify the tamper-evident evidence log and export bundles, and make a head-signing key",
		Long: `Every incident's evidence (raw records, alerts, transitions, notifications)
goes into an append-only log in the store. Each entry carries the SHA-256 of
its content and of the entry before it, so any later edit, deletion,
insertion or reordering breaks the chain. serve publishes the chain's head
(its newest entry) to evidence.heads_file and its log, signed when
evidence.signing_key is set, so that deleting the newest entries is
detected too.

Exit status of verify: 0 intact; 1 broken (the first broken entry is
named); 2 usage, configuration or I/O error.`,
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q\nRun '%s --help' for usage.", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(newEvidenceVerifyCmd(), newEvidenceKeygenCmd(), newEvidenceHeadCmd())
	return cmd
}

type evidenceVerifyFlags struct {
	config, incident, bundle, publicKey, headsFile, format string
	heads                                                  []string
}

func newEvidenceVerifyCmd() *cobra.Command {
	var f evidenceVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify [--incident ID] [--bundle FILE.zip] [--head SEQ:HASH] [--format table|json]",
		Short: "Check that the evidence log, or an exported bundle, was not changed",
		Long: `verify walks the evidence log of the store from its first entry,
recomputing every hash, and checks it against every head published in
evidence.heads_file and given with --head (as the daemon logs them:
"head=SEQ:HASH"). It names the first broken entry and what is wrong with it.
It then checks each incident in the store (its state, review and alerts)
against what the log recorded for it, and names an incident that differs
or that was deleted from the store.

With --bundle it checks an exported bundle instead, with no store and no
configuration needed: every file against the manifest, the chain segment
entry by entry up to its head (from the incident's opening), the head's
signature, the raw records, and that the reports are the chain's.

Heads are checked against --public-key, else evidence.public_key, else the
public half of evidence.signing_key when it can be read. Without a trusted
key a bundle's signature only proves it matches the key the bundle names.`,
		Example: `  breakglass evidence verify -c breakglass.yaml
  breakglass evidence verify -c breakglass.yaml --head 1234:3f2a9c...
  breakglass evidence verify --bundle incident-inc-3f2a.zip --public-key evidence-key.pub`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runEvidenceVerify(cmd, f) },
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.StringVar(&f.incident, "incident", "", "also check that this incident's entries are in the log")
	fl.StringVar(&f.bundle, "bundle", "", "verify this exported bundle (.zip) instead of the store")
	fl.StringArrayVar(&f.heads, "head", nil, "a published head SEQ:HASH the log must hold (repeatable)")
	fl.StringVar(&f.publicKey, "public-key", "", "the public key heads must be signed with: a file (PEM or base64), or the base64 itself")
	fl.StringVar(&f.headsFile, "heads-file", "", "published heads to check (default evidence.heads_file)")
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

// verifyReport is verify's JSON output.
type verifyReport struct {
	OK       bool   `json:"ok"`
	Store    string `json:"store,omitempty"`
	Bundle   string `json:"bundle,omitempty"`
	Incident string `json:"incident,omitempty"`
	// IncidentEntries counts the incident's entries (with --incident).
	IncidentEntries int                     `json:"incident_entries,omitempty"`
	Chain           evidence.Result         `json:"chain"`
	Bundled         *evidence.BundleResult  `json:"bundle_result,omitempty"`
	HeadsFile       string                  `json:"heads_file,omitempty"`
	HeadsPublished  int                     `json:"heads_published"`
	Problem         *evidence.BundleProblem `json:"problem,omitempty"`
	Warnings        []string                `json:"warnings,omitempty"`
}

func runEvidenceVerify(cmd *cobra.Command, f evidenceVerifyFlags) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	var given []evidence.HeadRef
	for _, h := range f.heads {
		r, err := evidence.ParseHeadRef(h)
		if err != nil {
			return usageErrorf("--head %q: %v", h, err)
		}
		given = append(given, r)
	}
	if f.bundle != "" && (f.incident != "" || f.headsFile != "") {
		return usageErrorf("--bundle checks the bundle alone: --incident and --heads-file need the store")
	}
	var cfg *config.Config
	var err error
	if f.bundle != "" {
		cfg, err = loadOptionalConfig(f.config)
	} else {
		cfg, err = loadConfig(f.config)
	}
	if err != nil {
		return err
	}
	var rep verifyReport
	trusted, note, err := trustedKey(cfg, f.publicKey)
	if err != nil {
		return err
	}
	if note != "" {
		rep.Warnings = append(rep.Warnings, note)
	}
	if f.bundle != "" {
		err = verifyBundle(&rep, f.bundle, trusted, given)
	} else {
		err = verifyStore(cmd, &rep, cfg, f, trusted, given)
	}
	if err != nil {
		return err
	}
	rep.OK = rep.Chain.OK() && rep.Problem == nil && (rep.Bundled == nil || rep.Bundled.OK())
	if err := printVerify(cmd.OutOrStdout(), f.format, rep); err != nil {
		return err
	}
	if !rep.OK {
		return exitCodeError{exitFailure, "evidence is broken: " + brokenLine(rep)}
	}
	return nil
}

// trustedKey is the key heads must be signed with, if one is known.
func trustedKey(cfg *config.Config, flag string) (ed25519.PublicKey, string, error) {
	if flag != "" {
		if k, err := evidence.ParsePublicKey([]byte(flag)); err == nil {
			return k, "", nil // the base64 that keygen prints
		}
		k, err := evidence.LoadPublicKey(flag)
		if err != nil {
			return nil, "", usageErrorf("--public-key: %v", err)
		}
		return k, "", nil
	}
	if cfg == nil {
		return nil, "", nil
	}
	if p := cfg.Evidence.PublicKey; p != "" {
		k, err := evidence.LoadPublicKey(p)
		if err != nil {
			return nil, "", usageErrorf("%s: evidence.public_key: %v", cfg.Path, err)
		}
		return k, "", nil
	}
	if p := cfg.Evidence.SigningKey; p != "" {
		k, err := evidence.LoadPrivateKey(p)
		if err != nil {
			// The operator may not be allowed to read the daemon's key.
			return nil, fmt.Sprintf("signatures not checked against a trusted key: evidence.signing_key cannot be read (%v); set evidence.public_key or pass --public-key", err), nil
		}
		return k.Public().(ed25519.PublicKey), "", nil
	}
	return nil, "", nil
}

func verifyBundle(rep *verifyReport, path string, trusted ed25519.PublicKey, given []evidence.HeadRef) error {
	rep.Bundle = path
	fh, err := os.Open(path)
	if err != nil {
		return usageErrorf("--bundle: %v", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return usageErrorf("--bundle: %v", err)
	}
	if !st.Mode().IsRegular() {
		return usageErrorf("--bundle %s: not a regular file", path)
	}
	res, err := evidence.ReadBundle(fh, st.Size(), evidence.BundleOptions{Trusted: trusted, Heads: given, CheckFiles: report.CheckBundle})
	if err != nil {
		return usageErrorf("--bundle %s: %v", path, err)
	}
	rep.Bundled, rep.Chain, rep.Problem, rep.Incident = &res, res.Chain, res.Problem, res.Incident
	for _, h := range given {
		if res.Chain.Entries > 0 && h.Seq < res.Chain.First.Seq {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("head %d is older than the bundle's first entry (%d): not checked", h.Seq, res.Chain.First.Seq))
		}
	}
	if res.OK() && !res.Signed {
		rep.Warnings = append(rep.Warnings, "the bundle's head is not signed: it proves the files match each other, not who made them; compare its head with one the daemon published")
	} else if res.OK() && !res.KeyTrusted {
		rep.Warnings = append(rep.Warnings, "the head is signed by key "+res.Head.Key+", which was not checked against a trusted key (pass --public-key)")
	}
	return nil
}

func verifyStore(cmd *cobra.Command, rep *verifyReport, cfg *config.Config, f evidenceVerifyFlags, trusted ed25519.PublicKey, given []evidence.HeadRef) error {
	ctx := cmd.Context()
	st, err := openExistingStore(ctx, f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	rep.Store = cfg.Store.Path
	if isPostgres(cfg) { // storedriver.go
		rep.Store = cfg.Store.Describe()
	}
	rep.HeadsFile = cfg.Evidence.HeadsFile
	if f.headsFile != "" {
		rep.HeadsFile = f.headsFile
	}
	heads, err := evidence.LoadHeads(rep.HeadsFile)
	var damaged *evidence.HeadsError
	switch {
	case errors.Is(err, fs.ErrNotExist) && len(given) > 0:
		// The heads given with --head are checked; the file adds nothing.
	case errors.Is(err, fs.ErrNotExist):
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("no published heads (%s does not exist): a deleted tail of the log cannot be detected; serve publishes them, or pass one with --head SEQ:HASH", rep.HeadsFile))
	case errors.As(err, &damaged):
		// Someone edited the heads file, or a crash tore a line: the heads
		// before it are still checked.
		rep.Problem = &evidence.BundleProblem{File: fmt.Sprintf("%s:%d", damaged.Name, damaged.Line), Detail: "the heads file is damaged: " + damaged.Err.Error()}
	case err != nil:
		return usageErrorf("heads file: %v", err)
	}
	rep.HeadsPublished = len(heads)
	refs := append([]evidence.HeadRef(nil), given...)
	unsigned := 0
	for i, h := range heads {
		switch err := h.CheckSignature(trusted); {
		case errors.Is(err, evidence.ErrUnsigned):
			unsigned++
		case err != nil && (trusted != nil || h.Key != ""):
			if rep.Problem == nil {
				rep.Problem = &evidence.BundleProblem{File: fmt.Sprintf("%s:%d", rep.HeadsFile, i+1), Detail: fmt.Sprintf("head %s: %v", h.Ref(), err)}
			}
		}
		refs = append(refs, h.Ref())
	}
	if unsigned > 0 && trusted != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d published heads are not signed", unsigned))
	}
	rep.Chain, err = evidence.Verify(ctx, st, refs)
	if err != nil {
		return storeError(err)
	}
	if f.incident != "" {
		rep.Incident = f.incident
		own, err := st.IncidentLog(ctx, f.incident)
		if err != nil {
			return storeError(err)
		}
		rep.IncidentEntries = len(own)
		if len(own) == 0 {
			if _, err := st.Incident(ctx, f.incident); errors.Is(err, store.ErrNotFound) {
				return exitCodeError{exitFailure, incidentNotFound(f.incident).Error()}
			}
			if rep.Problem == nil {
				rep.Problem = &evidence.BundleProblem{File: "incident " + f.incident, Detail: "has no entries in the evidence log: its evidence was never logged or was removed"}
			}
		}
	}
	return checkIncidentTable(ctx, st, rep, f.incident)
}

func brokenLine(rep verifyReport) string {
	if b := rep.Chain.Break; b != nil {
		return b.Error()
	}
	if rep.Problem != nil {
		return rep.Problem.Error()
	}
	if rep.Bundled != nil && rep.Bundled.Problem != nil {
		return rep.Bundled.Problem.Error()
	}
	return "unknown"
}

func printVerify(w io.Writer, format string, rep verifyReport) error {
	if format == "json" {
		return json.NewEncoder(w).Encode(rep)
	}
	var b strings.Builder
	what := "evidence log of " + rep.Store
	if rep.Bundle != "" {
		what = "bundle " + rep.Bundle
		if rep.Incident != "" {
			what += " (incident " + rep.Incident + ")"
		}
	}
	c := rep.Chain
	switch {
	case rep.OK:
		fmt.Fprintf(&b, "OK: %s is intact\n", what)
	default:
		fmt.Fprintf(&b, "BROKEN: %s was changed after it was written\n", what)
	}
	if c.Entries > 0 {
		fmt.Fprintf(&b, "  entries:   %d checked (%d to %d)\n", c.Entries, c.First.Seq, c.Last.Seq)
		fmt.Fprintf(&b, "  head:      %s\n", c.Last)
		if c.Pruned != nil {
			fmt.Fprintf(&b, "  pruned:    %s\n", c.Pruned)
		}
	} else if rep.Problem == nil {
		fmt.Fprintf(&b, "  entries:   none\n")
	}
	if rep.Bundle == "" {
		fmt.Fprintf(&b, "  published: %d heads in %s, %d checked\n", rep.HeadsPublished, rep.HeadsFile, c.HeadsChecked)
	} else if bd := rep.Bundled; bd != nil && bd.Problem == nil {
		sig := "unsigned"
		if bd.Signed && bd.KeyTrusted {
			sig = "signed, trusted key"
		} else if bd.Signed {
			sig = "signed by " + bd.Head.Key + " (not a trusted key)"
		}
		fmt.Fprintf(&b, "  files:     %d match the manifest\n  bundle head: %s (%s), exported %s\n", bd.Files, bd.Head.Ref(), sig, bd.Exported.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if rep.Incident != "" && rep.Bundle == "" {
		fmt.Fprintf(&b, "  incident:  %s, %d entries\n", rep.Incident, rep.IncidentEntries)
	}
	if br := c.Break; br != nil {
		fmt.Fprintf(&b, "  FIRST BROKEN ENTRY: %d (%s)\n    %s\n", br.Seq, br.Kind, br.Detail)
		if br.Incident != "" || br.Ref != "" {
			fmt.Fprintf(&b, "    entry: incident %q, kind %s, ref %q\n", br.Incident, br.EntryKind, br.Ref)
		}
	}
	if p := rep.Problem; p != nil {
		fmt.Fprintf(&b, "  PROBLEM: %s\n", p.Error())
	}
	for _, wn := range rep.Warnings {
		fmt.Fprintf(&b, "  note: %s\n", wn)
	}
	if !rep.OK {
		b.WriteString("  Next: keep the file exactly as it is (copy it; do not repair or re-export it), and treat the break-glass account's use as unexplained until the change is explained.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type evidenceKeygenFlags struct {
	config, out, format string
}

func newEvidenceKeygenCmd() *cobra.Command {
	var f evidenceKeygenFlags
	cmd := &cobra.Command{
		Use:   "keygen [--out FILE] [--format table|json]",
		Short: "Make an Ed25519 key pair for signing evidence heads",
		Long: `keygen writes a new Ed25519 private key to FILE (PEM PKCS#8, mode 0600) and
its public key to FILE.pub (PEM), and prints the public key. Without --out
it writes to evidence.signing_key of the configuration. Point
evidence.signing_key at FILE for serve, and give auditors FILE.pub (or the
printed base64) for evidence verify --public-key. It never overwrites a
file. The same with openssl:

  ` + evidence.OpenSSLKeygen,
		Example: `  breakglass evidence keygen --out /etc/breakglass/evidence-key.pem
  breakglass evidence keygen -c breakglass.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(f.format); err != nil {
				return err
			}
			out := f.out
			if out == "" {
				cfg, err := loadOptionalConfig(f.config)
				if err != nil {
					return err
				}
				if cfg == nil || cfg.Evidence.SigningKey == "" {
					return usageErrorf("--out FILE is required (or a configuration with evidence.signing_key): where to write the private key")
				}
				out = cfg.Evidence.SigningKey
			}
			return runKeygen(cmd.OutOrStdout(), out, f.format)
		},
	}
	addConfigFlag(cmd, &f.config)
	cmd.Flags().StringVar(&f.out, "out", "", "file to write the private key to (its public key goes to FILE.pub); default evidence.signing_key")
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

func runKeygen(w io.Writer, out, format string) error {
	pub, priv, err := evidence.GenerateKey()
	if err != nil {
		return err
	}
	privPEM, err := evidence.PrivateKeyPEM(priv)
	if err != nil {
		return err
	}
	pubPEM, err := evidence.PublicKeyPEM(pub)
	if err != nil {
		return err
	}
	pubPath := out + ".pub"
	for _, p := range []string{out, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return usageErrorf("%s exists; keygen never overwrites a key (choose another --out, or remove it yourself)", p)
		}
	}
	if err := writeNew(out, privPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(pubPath, pubPEM, 0o644); err != nil {
		os.Remove(out)
		return err
	}
	if format == "json" {
		return json.NewEncoder(w).Encode(map[string]string{"private_key_file": out, "public_key_file": pubPath, "public_key": evidence.KeyText(pub)})
	}
	fmt.Fprintf(w, "private key: %s (for serve alone; set evidence.signing_key: %s)\npublic key:  %s\n%s", out, out, pubPath, pubPEM)
	fmt.Fprintf(w, "public key (base64, for --public-key or evidence.public_key): %s\n", evidence.KeyText(pub))
	return nil
}

// writeNew creates path with data, failing if it exists.
func writeNew(path string, data []byte, mode os.FileMode) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return usageErrorf("%s exists; keygen never overwrites a key", path)
		}
		return usageErrorf("%v", err)
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return fh.Close()
}

type evidenceHeadFlags struct {
	config, format string
}

func newEvidenceHeadCmd() *cobra.Command {
	var f evidenceHeadFlags
	cmd := &cobra.Command{
		Use:   "head [--format table|json]",
		Short: "Print the evidence log's head (SEQ:HASH) to record outside the store",
		Long: `head prints the newest entry of the evidence log as SEQ:HASH, signed with
evidence.signing_key when it can be read. Keep it somewhere the store's
owner cannot reach (a ticket, an e-mail): evidence verify --head SEQ:HASH
later proves that nothing up to it was changed or cut off.

Exit status: 0 printed; 1 the log is empty; 2 usage, configuration or store
error.`,
		Example: `  breakglass evidence head -c breakglass.yaml`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(f.format); err != nil {
				return err
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
			key, note := exportKey(cfg)
			h, ok, err := evidence.Head(ctx, st, key, time.Now())
			if err != nil {
				return storeError(err)
			}
			if !ok {
				return exitCodeError{exitFailure, "the evidence log is empty: no incident has been recorded yet"}
			}
			if note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "breakglass: note: head not signed:", note)
			}
			w := cmd.OutOrStdout()
			if f.format == "json" {
				return json.NewEncoder(w).Encode(h)
			}
			_, err = fmt.Fprintf(w, "%s\n", h.Ref())
			return err
		},
	}
	addConfigFlag(cmd, &f.config)
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}
