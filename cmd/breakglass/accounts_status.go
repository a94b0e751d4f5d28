package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/preserve"
)

type accountsStatusFlags struct {
	config, format string
}

func newAccountsStatusCmd() *cobra.Command {
	var f accountsStatusFlags
	cmd := &cobra.Command{
		Use:   "status [--config F] [--format table|json]",
		Short: "Show each break-glass account's last sign-in and last incident, from the store",
		Long: `status prints, for each configured break-glass account (and each member of a
configured group that has an incident), its last sign-in and its last
incident with its state and review classification.

It reads only the store: the sign-in alerts and the sign-ins pulled into
incident evidence. So it still answers after Entra has forgotten the
sign-in (30 days, 7 on the Free tier). "none recorded" means breakglass has
kept no sign-in of the account, not that there was none before it watched.

With --format json it prints one object per account per line.

Exit status: 0 printed; 2 usage or configuration error, or the store
cannot be read.`,
		Example: `  breakglass accounts status -c breakglass.yaml
  breakglass accounts status -c breakglass.yaml --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAccountsStatus(cmd, f) },
	}
	addConfigFlag(cmd, &f.config)
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

func runAccountsStatus(cmd *cobra.Command, f accountsStatusFlags) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	st, err := openCLIStore(ctx, cfg, false, "run serve first (status never creates a store)") // storedriver.go
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := preserve.Status(ctx, st, cfg.Users())
	if err != nil {
		return storeError(err)
	}
	return printAccountsStatus(cmd.OutOrStdout(), rows, f.format)
}

func printAccountsStatus(w io.Writer, rows []preserve.AccountStatus, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return fmt.Errorf("writing status: %w", err)
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tLAST SIGN-IN (UTC)\tRESULT\tAPP\tLAST INCIDENT\tSTATE\tCLASSIFICATION")
	for _, r := range rows {
		name := r.AccountUPN
		if name == "" {
			name = r.AccountID
		}
		if !r.Configured {
			name += " (group member)"
		}
		signIn, result, app := "none recorded", "-", "-"
		if s := r.LastSignIn; s != nil {
			signIn, result, app = s.Time.UTC().Format(time.DateTime), orDash(s.Result), orDash(s.App)
		}
		inc, state, class := "none", "-", "-"
		if l := r.LastIncident; l != nil {
			inc, state, class = l.ID, l.State, orDash(l.Classification)
			if l.Classification == "" {
				class = "not reviewed"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(name), signIn, printable(result), printable(app),
			printable(inc), printable(state), printable(class))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
