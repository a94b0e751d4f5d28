package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"breakglass/internal/store/backup"
)

func init() { addStoreSubcommand(newStoreBackupCmd) }

func newStoreBackupCmd() *cobra.Command {
	var cfgPath, out, format string
	cmd := &cobra.Command{
		Use:   "backup --out FILE [--config F] [--format table|json]",
		Short: "Back up the store while serve runs: a consistent, checked copy",
		Long: `backup writes a consistent copy of the SQLite store (store.path) to FILE
while serve keeps running: SQLite's VACUUM INTO reads one snapshot on a
connection of its own and never blocks the daemon. The copy is written to
FILE.tmp (mode 0600), synced, checked (integrity_check, schema version,
evidence chain) and only then renamed to FILE. It never overwrites FILE.
Progress goes to stderr, the summary to stdout.

With store.driver: postgres it prints the pg_dump command to run instead
(with the connection string read from store.dsn_file or
$BREAKGLASS_STORE_DSN, never printed) and exits 2.

Exit status: 0 written and checked, 1 the copy could not be made or failed
its check (nothing written), 2 usage, configuration, FILE exists, or
PostgreSQL.`,
		Example: `  breakglass store backup -c /etc/breakglass/breakglass.yaml --out /var/backups/breakglass-$(date -u +%Y%m%dT%H%M%SZ).db`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if out == "" {
				return usageErrorf("--out FILE is required: where to write the backup")
			}
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if isPostgres(cfg) {
				return usageError{errors.New(backup.PostgresGuidance(cfg.Store, cfg.Path, "backup", out))}
			}
			stderr := cmd.ErrOrStderr()
			res, err := backup.Backup(cmd.Context(), cfg.Store.Path, out, backup.Options{
				Progress: func(s string) { fmt.Fprintln(stderr, "backup:", s) },
			})
			if errors.Is(err, backup.ErrExists) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			return printBackup(cmd.OutOrStdout(), format, cfg.Path, res)
		},
	}
	addConfigFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&out, "out", "", "file to write the backup to (never overwritten)")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func printBackup(w io.Writer, format, cfgPath string, res backup.Result) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	c := res.Check
	fmt.Fprintf(w, "backup:    %s (%s, schema %d)\n", res.Out, humanBytes(c.Bytes), c.Schema)
	fmt.Fprintf(w, "of store:  %s\n", res.Store)
	fmt.Fprintf(w, "checked:   %s\n", checkLine(c))
	fmt.Fprintf(w, "holds:     %s\n", countsLine(c))
	fmt.Fprintf(w, "next:      keep it off this machine; restore with: breakglass store restore -c %s --from %s\n", cfgPath, res.Out)
	return nil
}

func checkLine(c backup.Check) string {
	return fmt.Sprintf("integrity %s, evidence chain intact (%d entries)", c.Integrity, c.Evidence.Entries)
}

func countsLine(c backup.Check) string {
	return fmt.Sprintf("%d alerts, %d incidents, %d evidence entries, %d notifications still to send",
		c.Counts.Alerts, c.Counts.Incidents, c.Counts.EvidenceEntries, c.Counts.PendingOutbox)
}
