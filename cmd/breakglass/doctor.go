package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"breakglass/internal/doctor"
)

type doctorFlags struct {
	config, format, severity string
	send                     bool
}

func newDoctorCmd() *cobra.Command {
	var f doctorFlags
	cmd := &cobra.Command{
		Use:   "doctor --config F [--send] [--format table|json]",
		Short: "Check everything serve depends on, and say how to fix what is wrong",
		Long: `doctor checks, in order: the configuration; the store (schema current, writable,
evidence chain intact); every source (files readable, listen addresses free,
Event Hubs and Kafka brokers reachable with the topic); Microsoft Graph (a token,
the permissions each configured feature needs, read from the token's roles and
proved with one GET each); every notification channel (a dry run: DNS, TCP, TLS,
for email the SMTP session up to AUTH; nothing is sent); the clock against a
configured endpoint; and that the break-glass accounts exist in the tenant.
Each finding says what is wrong and the command or key that fixes it.

doctor changes nothing: a store behind this binary is reported, not
migrated, and only --send sends anything (a TEST notification through every
channel of every group, as notify test does; --severity as there, default
Sev0, the path a real page takes). Progress goes to standard error.

Exit status: 0 every check passed (warnings and skips do not fail); 1 a
check failed; 2 usage error or an invalid configuration.`,
		Example: `  breakglass doctor -c /etc/breakglass/config.yaml
  breakglass doctor -c config.yaml --send
  breakglass doctor -c config.yaml --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDoctor(cmd, f) },
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.BoolVar(&f.send, "send", false, "also send a test notification through every channel of every group")
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	fl.StringVar(&f.severity, "severity", "Sev0", "severity of --send's test notification: Sev0 (critical) .. Sev4, or 0..4")
	return cmd
}

func runDoctor(cmd *cobra.Command, f doctorFlags) error {
	if f.format != "table" && f.format != "json" {
		return usageErrorf("--format: unknown format %q (want table or json)", f.format)
	}
	sev, ok := parseSeverity(f.severity)
	if !ok {
		return usageErrorf("--severity: %q is not Sev0..Sev4 (or 0..4)", f.severity)
	}
	path := f.config
	if path == "" {
		path = os.Getenv(configEnv)
	}
	if path == "" {
		return usageErrorf("no configuration file: pass --config FILE or set %s", configEnv)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := doctor.Run(ctx, doctor.Options{ConfigPath: path, Send: f.send, Severity: sev,
		Progress: cmd.ErrOrStderr(), Console: cmd.ErrOrStderr()})
	write := doctor.WriteTable
	if f.format == "json" {
		write = doctor.WriteJSON
	}
	if err := write(cmd.OutOrStdout(), rep); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	switch code := rep.ExitCode(); code {
	case exitOK:
		return nil
	case exitUsage:
		return exitCodeError{code, "doctor: the configuration is invalid (see above)"}
	default:
		return exitCodeError{code, fmt.Sprintf("doctor: %d of %d findings failed: fix them (see above), then run doctor again", rep.Counts[doctor.Fail], len(rep.Results))}
	}
}
