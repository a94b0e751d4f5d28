package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"breakglass/internal/config"
	"breakglass/internal/entra"
	"breakglass/internal/graph/collect"
	"breakglass/internal/posture"
)

type discoverFlags struct {
	config   string
	tenant   string // with tenants: in the file, the one to read
	snapshot string
	format   string
}

func newDiscoverCmd() *cobra.Command {
	var f discoverFlags
	cmd := &cobra.Command{
		Use:   "discover --config F [--tenant T] [--snapshot DIR] [--format table|json]",
		Short: "Suggest which privileged accounts look like break-glass accounts, and why",
		Long: `discover looks at every holder of Global Administrator and Privileged Role
Administrator (active or eligible, directly or through groups) and scores how
much each looks like a break-glass account: permanent active Global
Administrator held directly, cloud-only, enabled, excluded from the
Conditional Access policies that can target users (nested groups honoured;
excludeRoles and groups of more than 20 members are not distinctive), a
FIDO2 key and no phone, email or Authenticator tied to a person. Every
candidate comes with its reasons: "+" for, "-" against, "?" not known.

It only suggests. It prints the accounts: lines for the likely candidates
that the configuration does not list yet; review them before adding them.
Nothing is adopted.

Without --snapshot it reads the tenant live through Graph, read-only,
exactly what collect would write. With --snapshot DIR it reads a snapshot
that collect wrote, and then needs no configuration (how a first one gets
written); a configuration given marks what it already lists. Role holders that accounts: does not list yet are
collected with fewer fields (their sync state is "?"): add them and run
again to know.

Exit status: 0 when candidates were printed (even none); 1 when reading
the tenant failed; 2 for usage, configuration or snapshot errors.`,
		Example: `  breakglass discover --snapshot snapshots/2026-03-04
  breakglass discover --config breakglass.yaml
  breakglass discover -c breakglass.yaml --snapshot snapshots/2026-03-04 --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDiscover(cmd, f)
		},
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.StringVar(&f.tenant, "tenant", "", "with tenants: in the config, the tenant to read (id or name)")
	fl.StringVar(&f.snapshot, "snapshot", "", "read this snapshot directory (written by collect) instead of Graph")
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

func runDiscover(cmd *cobra.Command, f discoverFlags) error {
	if f.format != "table" && f.format != "json" {
		return usageErrorf("--format %q: use table or json", f.format)
	}
	// A snapshot can be judged without a configuration: discover is how a
	// first configuration gets written. Reading Graph live needs one.
	cfg := &config.Config{}
	if f.snapshot == "" || f.config != "" || os.Getenv(configEnv) != "" {
		c, err := loadTenantConfig(f.config, f.tenant)
		if err != nil {
			return err
		}
		cfg = c
	}
	var snap *collect.Snapshot
	var err error
	source := "snapshot " + f.snapshot
	if f.snapshot != "" {
		snap, err = collect.Load(f.snapshot)
		if err != nil {
			return usageError{fmt.Errorf("--snapshot: %w", err)}
		}
	} else {
		source = "Microsoft Graph (live)"
		snap, err = discoverLive(cmd, cfg)
		if err != nil {
			return err
		}
	}
	t, err := posture.FromSnapshot(snap)
	if err != nil {
		return usageError{fmt.Errorf("reading the snapshot: %w", err)}
	}
	stderr := cmd.ErrOrStderr()
	for _, p := range t.Problems {
		fmt.Fprintf(stderr, "warning: snapshot: %s\n", clean(p))
	}
	cands := posture.Discover(t)
	// Configured means listed by this configuration: a user entry, or a
	// member of one of its group entries (as the snapshot knows them).
	set := entra.NewAccountSet(cfg.Users())
	for i := range cands {
		_, cands[i].Configured = set.Match(cands[i].ID, cands[i].UPN)
		for _, g := range cfg.Groups() {
			if slices.ContainsFunc(t.GroupMembers[strings.ToLower(g)], func(m string) bool { return strings.EqualFold(m, cands[i].ID) }) {
				cands[i].Configured = true
			}
		}
	}
	if f.format == "json" {
		return writeDiscoverJSON(cmd.OutOrStdout(), t, source, cands)
	}
	return writeDiscoverTable(cmd.OutOrStdout(), t, source, cands)
}

// discoverLive reads the tenant through Graph in memory, exactly what
// collect writes (collectLive). Graph refusing datasets is recorded in the
// manifest and shows as "?" reasons; an error here is a run that stopped
// (exit 1), or a configuration that cannot reach Graph (exit 2).
func discoverLive(cmd *cobra.Command, cfg *config.Config) (*collect.Snapshot, error) {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	s, err := collectLive(ctx, cfg, cmd.ErrOrStderr())
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("reading the tenant from Graph was interrupted: %w", err)
		}
		return nil, fmt.Errorf("reading the tenant from Graph stopped: %w", err)
	}
	return s, nil
}

type discoverJSON struct {
	Tenant     posture.TenantInfo  `json:"tenant"`
	Source     string              `json:"source"`
	Collected  time.Time           `json:"collected"`
	Candidates []posture.Candidate `json:"candidates"`
	// Accounts is the accounts: YAML to review for the likely candidates
	// not configured yet; empty when there are none.
	Accounts string `json:"accounts_yaml"`
}

func writeDiscoverJSON(w io.Writer, t *posture.Tenant, source string, cands []posture.Candidate) error {
	if cands == nil {
		cands = []posture.Candidate{}
	}
	for i := range cands {
		if cands[i].Reasons == nil {
			cands[i].Reasons = []string{}
		}
	}
	out := discoverJSON{Tenant: t.Info, Source: source, Collected: t.Collected, Candidates: cands, Accounts: accountsYAML(cands)}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing the candidates: %w", err)
	}
	return nil
}

func writeDiscoverTable(w io.Writer, t *posture.Tenant, source string, cands []posture.Candidate) error {
	var b strings.Builder
	tenant := t.Info.DisplayName
	if tenant == "" {
		tenant = orUnknown(t.Info.ID)
	}
	fmt.Fprintf(&b, "Break-glass candidates in %s (%s, collected %s)\n", clean(tenant), source, t.Collected.UTC().Format(time.RFC3339))
	if len(cands) == 0 {
		b.WriteString("\nNo privileged user found in the snapshot: nothing to suggest.\n")
	} else {
		likely := 0
		for _, c := range cands {
			if c.Likely {
				likely++
			}
		}
		fmt.Fprintf(&b, "%d privileged user(s), %d likely break-glass account(s). + for, - against, ? not known.\n\n", len(cands), likely)
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SCORE\tLIKELY\tCONFIGURED\tUPN\tID")
		for _, c := range cands {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", c.Score, yesNo(c.Likely), yesNo(c.Configured), clean(c.UPN), clean(c.ID))
		}
		tw.Flush()
		for _, c := range cands {
			name := clean(c.UPN)
			if c.DisplayName != "" {
				name += " (" + clean(c.DisplayName) + ")"
			}
			fmt.Fprintf(&b, "\n%s, score %d:\n", name, c.Score)
			for _, r := range c.Reasons {
				fmt.Fprintf(&b, "  %s\n", clean(r))
			}
		}
	}
	b.WriteString("\n")
	if y := accountsYAML(cands); y != "" {
		b.WriteString(y)
	} else {
		b.WriteString("# No likely candidate is missing from accounts:.\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing the candidates: %w", err)
	}
	return nil
}

// accountsYAML is the accounts: entries for the likely candidates the
// configuration does not list, for an admin to review and paste. Values
// are JSON-quoted, which YAML reads as double-quoted strings, so a
// hostile display name cannot break out of its line.
func accountsYAML(cands []posture.Candidate) string {
	var b strings.Builder
	for _, c := range cands {
		if !c.Likely || c.Configured {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("# Review before adding: discover suggests, it never adopts. Check each\n")
			b.WriteString("# account with whoever owns it, then add the lines to accounts: and run audit.\n")
			b.WriteString("accounts:\n")
		}
		fmt.Fprintf(&b, "  # review before adding: score %d, %s\n", c.Score, clean(firstAgainst(c.Reasons)))
		fmt.Fprintf(&b, "  - id: %s\n", quoteYAML(c.ID))
		if c.UPN != "" {
			fmt.Fprintf(&b, "    upn: %s\n", quoteYAML(c.UPN))
		}
		if c.DisplayName != "" {
			fmt.Fprintf(&b, "    name: %s\n", quoteYAML(c.DisplayName))
		}
	}
	return b.String()
}

func firstAgainst(reasons []string) string {
	for _, r := range reasons {
		if strings.HasPrefix(r, "-") || strings.HasPrefix(r, "?") {
			return "check: " + strings.TrimSpace(r[1:])
		}
	}
	return "nothing against found"
}

func quoteYAML(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// clean drops control characters (a terminal escape in a display name
// must not reach the terminal).
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
