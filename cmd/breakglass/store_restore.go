package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"breakglass/internal/store/backup"
)

func init() { addStoreSubcommand(newStoreRestoreCmd) }

func newStoreRestoreCmd() *cobra.Command {
	var cfgPath, from, format string
	cmd := &cobra.Command{
		Use:   "restore --from FILE [--config F] [--format table|json]",
		Short: "Put a backup in place of the store (serve stopped); the old store is kept",
		Long: `restore puts the backup FILE (from store backup) in place of the SQLite
store (store.path). Stop serve first: restore refuses while something
answers on server.listen or a process has the store open.

It checks the backup first (integrity, schema version, evidence chain) and
refuses one written by a newer breakglass; then it moves the current store
aside, with its -wal and -shm files, to STORE.before-restore-<UTC time>
(kept: delete it yourself once the restored store serves), copies the
backup into place and checks it again; if that fails the old store is put
back. Start serve next: it runs any migrations the backup is behind.

With store.driver: postgres it prints the pg_restore command instead and
exits 2.

Exit status: 0 restored and checked, 1 refused (the backup fails its check
or is newer, the store is in use) or failed, 2 usage, configuration or
PostgreSQL.`,
		Example: `  systemctl stop breakglass
  breakglass store restore -c /etc/breakglass/breakglass.yaml --from /var/backups/breakglass-20261202T060000Z.db
  systemctl start breakglass`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if from == "" {
				return usageErrorf("--from FILE is required: the backup to restore")
			}
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if isPostgres(cfg) {
				return usageError{errors.New(backup.PostgresGuidance(cfg.Store, cfg.Path, "restore", from))}
			}
			stderr := cmd.ErrOrStderr()
			res, err := backup.Restore(cmd.Context(), cfg.Store.Path, from, cfg.Server.Listen, cfg.Evidence.HeadsFile, backup.Options{
				Progress: func(s string) { fmt.Fprintln(stderr, "restore:", s) },
			})
			if err != nil {
				return err
			}
			return printRestore(cmd.OutOrStdout(), format, cfg.Path, res)
		},
	}
	addConfigFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&from, "from", "", "the backup file to restore")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func printRestore(w io.Writer, format, cfgPath string, res backup.RestoreResult) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	c := res.Restored
	fmt.Fprintf(w, "restored:  %s (schema %d)\n", res.Store, c.Schema)
	fmt.Fprintf(w, "from:      %s\n", res.From)
	aside := res.MovedAside
	if aside == "" {
		aside = "(there was no store)"
	}
	fmt.Fprintf(w, "old store: %s\n", aside)
	fmt.Fprintf(w, "checked:   %s\n", checkLine(c))
	fmt.Fprintf(w, "holds:     %s\n", countsLine(c))
	fmt.Fprintf(w, "next:      start serve, then: breakglass evidence verify -c %s\n", cfgPath)
	return nil
}
