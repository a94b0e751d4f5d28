package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"breakglass/internal/config"
	"breakglass/internal/evidence"
	"breakglass/internal/store"
	"breakglass/internal/store/backend"
	"breakglass/internal/store/migrate"
)

func init() { addStoreSubcommand(newStoreMigrateCmd) }

// storeDSNEnv holds the DSN of a postgres: store given without one.
const storeDSNEnv = "BREAKGLASS_STORE_DSN"

type storeMigrateFlags struct {
	from, to, fromDSNFile, toDSNFile, headsFile, format string
}

func newStoreMigrateCmd() *cobra.Command {
	var f storeMigrateFlags
	cmd := &cobra.Command{
		Use:   "migrate --from sqlite:PATH --to postgres:[DSN] [--format table|json]",
		Short: "Move the whole store to another backend (SQLite to PostgreSQL, or back)",
		Long: `migrate copies everything the store at --from holds into the empty store at
--to: alerts with their evidence and state changes, deliveries with their
state (pending ones are still sent after the move, delivered ones never
again), checkpoints, conditions, incidents, the evidence log byte for byte,
drills, users, tokens and sessions (as stored: hashes only) and the records
kept for KQL rules. Before it commits, it verifies the evidence log of the
copy against the source and against the heads serve published (--heads-file,
default the SQLite file's .heads); a source whose own log does not verify is
not moved (keep it as it is, and see evidence verify). The way back works the same: --from postgres:
--to sqlite:NEWFILE.

Stop serve, and every scan, on the source first: a write to it during the
copy fails the copy. The copy is one transaction: when it fails, the target
is left empty, and migrate can run again. A target that holds any data is
refused: point --to at a new database or schema, or drop and recreate the
one you mean (DROP SCHEMA ... CASCADE; CREATE SCHEMA ...).

The DSN is a secret: pass it as --to postgres: with the DSN in $` + storeDSNEnv + `
or in --to-dsn-file FILE, not on the command line, where ps shows it. It is
never printed. Progress goes to stderr.

Exit status: 0 moved and verified; 1 the copy failed (target not empty,
source written meanwhile, a store could not be reached, the evidence log
differs), and the target holds nothing of it unless the verify failed; 2
usage error (flags, a missing source, no DSN).`,
		Example: `  BREAKGLASS_STORE_DSN='postgres://breakglass@db.internal:5432/breakglass?sslmode=verify-full' \
    breakglass store migrate --from sqlite:data/breakglass.db --to postgres:
  breakglass store migrate --from sqlite:/var/lib/breakglass/breakglass.db --to postgres: --to-dsn-file /etc/breakglass/dsn --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runStoreMigrate(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "the store to copy: sqlite:PATH or postgres:[DSN]")
	fl.StringVar(&f.to, "to", "", "the empty store to fill: postgres:[DSN] (without DSN: $"+storeDSNEnv+" or --to-dsn-file) or sqlite:PATH")
	fl.StringVar(&f.fromDSNFile, "from-dsn-file", "", "file holding the DSN of a --from postgres: store")
	fl.StringVar(&f.toDSNFile, "to-dsn-file", "", "file holding the DSN of the --to postgres: store")
	fl.StringVar(&f.headsFile, "heads-file", "", "heads serve published for the source (default: the SQLite file's .heads, if any)")
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

// storeSpec is a parsed --from or --to.
type storeSpec struct {
	cfg  config.StoreConfig
	name string // what messages call it, without a secret
}

// maxDSNFile bounds a DSN file read: a DSN is a line.
const maxDSNFile = 64 << 10

// parseStoreSpec reads sqlite:PATH or postgres:[DSN] (a postgres:// URL
// counts as postgres: with that DSN). flag names the flag for errors;
// dsnFile is its --*-dsn-file. Errors never quote a DSN.
func parseStoreSpec(flag, v, dsnFile string, envUsed *bool) (storeSpec, error) {
	driver, rest, ok := strings.Cut(v, ":")
	if strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://") {
		driver, rest, ok = config.StorePostgres, v, true
	}
	switch {
	case v == "":
		return storeSpec{}, usageErrorf("--%s is required: sqlite:PATH or postgres:", flag)
	case !ok:
		return storeSpec{}, usageErrorf("--%s: want sqlite:PATH or postgres:[DSN], got no driver prefix", flag)
	}
	switch driver {
	case config.StoreSQLite:
		if dsnFile != "" {
			return storeSpec{}, usageErrorf("--%s-dsn-file is for a postgres: store; --%s is sqlite", flag, flag)
		}
		if rest == "" {
			return storeSpec{}, usageErrorf("--%s sqlite: needs the file: sqlite:PATH", flag)
		}
		return storeSpec{cfg: config.StoreConfig{Driver: config.StoreSQLite, Path: rest}, name: "sqlite " + rest}, nil
	case config.StorePostgres, "postgresql":
	default:
		// The text before the colon is named only when it looks like a
		// driver: it may be the start of a DSN, password and all.
		if !driverLike(driver) {
			return storeSpec{}, usageErrorf("--%s: want sqlite:PATH or postgres:[DSN], got an unknown prefix (not shown: it may hold a password)", flag)
		}
		return storeSpec{}, usageErrorf("--%s: unknown driver %q; use sqlite:PATH or postgres:[DSN]", flag, driver)
	}
	dsn, from := rest, "--"+flag
	switch {
	case dsn != "" && dsnFile != "":
		return storeSpec{}, usageErrorf("--%s gives a DSN and --%s-dsn-file another: give one", flag, flag)
	case dsnFile != "":
		b, err := readDSNFile(dsnFile)
		if err != nil {
			return storeSpec{}, usageErrorf("--%s-dsn-file: %v", flag, err) // names the file, never its content
		}
		dsn, from = strings.TrimSpace(string(b)), dsnFile
		if dsn == "" {
			return storeSpec{}, usageErrorf("--%s-dsn-file %s is empty; write the DSN in it", flag, dsnFile)
		}
	case dsn == "":
		if *envUsed {
			return storeSpec{}, usageErrorf("--from and --to are both postgres: without a DSN, and $%s holds one DSN: give the other with --%s-dsn-file", storeDSNEnv, flag)
		}
		dsn, from = strings.TrimSpace(os.Getenv(storeDSNEnv)), "$"+storeDSNEnv
		if dsn == "" {
			return storeSpec{}, usageErrorf("--%s postgres: without a DSN: set $%s or pass --%s-dsn-file FILE", flag, storeDSNEnv, flag)
		}
		*envUsed = true
	}
	if err := config.CheckStoreDSN(dsn); err != nil {
		return storeSpec{}, usageErrorf("%s: %v", from, err)
	}
	return storeSpec{cfg: config.StoreConfig{Driver: config.StorePostgres, DSN: config.Secret(dsn)}, name: "postgres (" + from + ")"}, nil
}

// driverLike reports whether s could be a driver name: a short word.
func driverLike(s string) bool {
	if s == "" || len(s) > 12 {
		return false
	}
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// readDSNFile reads a DSN file, refusing one larger than maxDSNFile.
func readDSNFile(path string) ([]byte, error) {
	const limit = maxDSNFile
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes; it should hold one DSN", path, limit)
	}
	return b, nil
}

// migrateReport is migrate's JSON output.
type migrateReport struct {
	OK            bool                 `json:"ok"`
	From          string               `json:"from"`
	To            string               `json:"to"`
	SchemaVersion int                  `json:"schema_version"`
	Tables        []migrate.TableCount `json:"tables"`
	Derived       []string             `json:"derived,omitempty"`
	Rows          int64                `json:"rows"`
	Elapsed       migrate.Duration     `json:"elapsed"`
	Evidence      migrate.Chain        `json:"evidence"`
	HeadsFile     string               `json:"heads_file,omitempty"`
	Warnings      []string             `json:"warnings,omitempty"`
	Error         string               `json:"error,omitempty"`
}

func runStoreMigrate(cmd *cobra.Command, f storeMigrateFlags) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	var envUsed bool
	from, err := parseStoreSpec("from", f.from, f.fromDSNFile, &envUsed)
	if err != nil {
		return err
	}
	to, err := parseStoreSpec("to", f.to, f.toDSNFile, &envUsed)
	if err != nil {
		return err
	}
	if from.cfg.Driver == to.cfg.Driver {
		return usageErrorf("--from and --to are both %s: migrate moves a store to the other backend (to copy a store, back it up)", from.cfg.Driver)
	}
	if from.cfg.Driver == config.StoreSQLite {
		fi, err := os.Stat(from.cfg.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return usageErrorf("--from %s: no such file (migrate never creates the source)", from.name)
		case err != nil:
			return usageErrorf("--from: %v", err)
		case !fi.Mode().IsRegular():
			return usageErrorf("--from %s: not a regular file", from.name)
		}
	}
	// A new SQLite target that the copy does not fill is removed again, so
	// a failure leaves no empty store behind to be mistaken for the copy.
	var created string
	if to.cfg.Driver == config.StoreSQLite {
		if _, err := os.Stat(to.cfg.Path); errors.Is(err, fs.ErrNotExist) {
			created = to.cfg.Path
		}
	}
	ctx := cmd.Context()
	src, err := backend.Open(ctx, from.cfg)
	if err != nil {
		return fmt.Errorf("opening the source, %s: %w", from.name, err)
	}
	defer src.Close()
	dumper, ok := src.(migrate.Source)
	if !ok {
		return usageErrorf("--from %s: this store cannot be read whole", from.name)
	}
	dst, err := backend.Open(ctx, to.cfg)
	if err != nil {
		return fmt.Errorf("opening the target, %s: %w", to.name, err)
	}
	defer dst.Close()
	loader, ok := dst.(migrate.Target)
	if !ok {
		return usageErrorf("--to %s: this store cannot be filled whole", to.name)
	}

	rep := migrateReport{From: from.name, To: to.name}
	heads, err := sourceHeads(&rep, f.headsFile, from.cfg)
	if err != nil {
		return err
	}
	res, err := migrate.Copy(ctx, dumper, loader, migrate.Options{Progress: cmd.ErrOrStderr(), Heads: heads})
	rep.SchemaVersion, rep.Tables, rep.Derived, rep.Rows, rep.Elapsed = res.SchemaVersion, res.Tables, res.Derived, res.Rows, res.Elapsed
	if err != nil {
		if created != "" {
			dst.Close()
			for _, p := range []string{created, created + "-wal", created + "-shm"} {
				os.Remove(p)
			}
		}
		err = migrateFailed(err, to.name)
		if f.format == "json" {
			// What CI reads: nothing was kept, so no table counts.
			fail := migrateReport{From: from.name, To: to.name, Error: err.Error(), Warnings: rep.Warnings}
			if perr := printMigrate(cmd.OutOrStdout(), f.format, fail); perr != nil {
				return perr
			}
		}
		return err
	}
	// Copy verified the log before it committed; this reads back what was
	// committed, through the store's own reads.
	chain, verr := migrate.Verify(ctx, src, dst, heads)
	rep.Evidence = chain
	if verr != nil {
		rep.Error = verr.Error()
	}
	rep.OK = verr == nil
	if err := printMigrate(cmd.OutOrStdout(), f.format, rep); err != nil {
		return err
	}
	if verr != nil {
		return exitCodeError{exitFailure, fmt.Sprintf("the copy is in %s, but its evidence log does not check out: %v. Keep the source as it is and do not start serve on the target; compare both with breakglass evidence verify", to.name, verr)}
	}
	return nil
}

// sourceHeads loads the heads published for the source, so the copy's
// chain is checked against them too.
func sourceHeads(rep *migrateReport, flag string, from config.StoreConfig) ([]evidence.HeadRef, error) {
	path := flag
	if path == "" && from.Driver == config.StoreSQLite {
		path = from.Path + config.DefaultHeadsSuffix
	}
	if path == "" {
		return nil, nil
	}
	signed, err := evidence.LoadHeads(path)
	var damaged *evidence.HeadsError
	switch {
	case errors.Is(err, fs.ErrNotExist) && flag == "":
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("no published heads (%s does not exist): the copy's chain is checked against the source only", path))
		return nil, nil
	case errors.As(err, &damaged):
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the heads file is damaged at %s:%d (%v): the heads before it are checked", damaged.Name, damaged.Line, damaged.Err))
	case err != nil:
		return nil, usageErrorf("--heads-file: %v", err)
	}
	rep.HeadsFile = path
	refs := make([]evidence.HeadRef, len(signed))
	for i, h := range signed {
		refs[i] = h.Ref()
	}
	return refs, nil
}

// migrateFailed says what a failed copy means and what to do next.
func migrateFailed(err error, to string) error {
	var next string
	switch {
	case errors.Is(err, store.ErrNotEmpty):
		next = "nothing was copied. Point --to at a new, empty database or schema, or, if it holds nothing you need, drop and recreate it (DROP SCHEMA ... CASCADE; CREATE SCHEMA ...) and run migrate again"
	case errors.Is(err, store.ErrChanged):
		next = "nothing was kept in the target. Stop serve and every scan on the source, then run migrate again"
	case errors.Is(err, context.Canceled):
		next = "interrupted; nothing was kept in the target. Run migrate again"
	default:
		next = "nothing was kept in the target (the copy is one transaction). Fix the cause and run migrate again"
	}
	return exitCodeError{exitFailure, fmt.Sprintf("store migrate to %s failed: %v; %s", to, err, next)}
}

func printMigrate(w io.Writer, format string, rep migrateReport) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(rep)
	}
	var b strings.Builder
	if rep.OK {
		fmt.Fprintf(&b, "OK: moved %d rows of %d tables from %s to %s in %s\n", rep.Rows, len(rep.Tables), rep.From, rep.To, rep.Elapsed.String())
	} else {
		fmt.Fprintf(&b, "COPIED, NOT VERIFIED: %d rows of %d tables from %s to %s\n", rep.Rows, len(rep.Tables), rep.From, rep.To)
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TABLE\tROWS")
	for _, t := range rep.Tables {
		fmt.Fprintf(tw, "  %s\t%d\n", t.Table, t.Rows)
	}
	for _, d := range rep.Derived {
		fmt.Fprintf(tw, "  %s\t(rebuilt)\n", d)
	}
	tw.Flush()
	e := rep.Evidence
	if e.Entries == 0 {
		b.WriteString("  evidence log: empty\n")
	} else {
		fmt.Fprintf(&b, "  evidence log: %d entries, head %s", e.Entries, e.Head)
		if e.Pruned > 0 {
			fmt.Fprintf(&b, ", %d pruned", e.Pruned)
		}
		if rep.OK {
			b.WriteString(", the same on both")
		}
		if e.HeadsChecked > 0 {
			fmt.Fprintf(&b, ", %d published heads checked", e.HeadsChecked)
		}
		b.WriteString("\n")
	}
	if rep.Error != "" {
		fmt.Fprintf(&b, "  PROBLEM: %s\n", rep.Error)
	}
	for _, wn := range rep.Warnings {
		fmt.Fprintf(&b, "  note: %s\n", wn)
	}
	if rep.OK {
		steps := []string{"set store.driver: postgres and store.dsn (or store.dsn_file) in the configuration"}
		if strings.HasPrefix(rep.To, config.StoreSQLite) {
			steps[0] = "set store.driver: sqlite and store.path: " + strings.TrimPrefix(rep.To, config.StoreSQLite+" ") + " in the configuration"
		}
		if rep.HeadsFile != "" {
			steps = append(steps, "set evidence.heads_file: "+rep.HeadsFile+", so the heads already published keep being checked")
		}
		steps = append(steps, "run breakglass config check, then start serve")
		for i, st := range steps {
			lead := "        "
			if i == 0 {
				lead = "  Next: "
			}
			fmt.Fprintf(&b, "%s%d. %s\n", lead, i+1, st)
		}
		b.WriteString("        Keep the old store, unchanged, until the new setup has run a while.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
