package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"breakglass/internal/accountlist"
	"breakglass/internal/config"
	"breakglass/internal/entra"
	"breakglass/internal/graph/collect"
)

// maxImportFile bounds what import reads: these files are a few kilobytes,
// and a mistaken argument (a log, a disk image) should fail fast.
const maxImportFile = 16 << 20

func newAccountsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "accounts",
		Short: "Write the break-glass list for other tools, or read theirs",
		Long: `The break-glass list in the configuration is the one list. accounts export
writes it in the format another tool reads (Maester, ScubaGear, the Zero Trust
Assessment, a Microsoft Sentinel watchlist); accounts import reads such a
file and prints the accounts: block to paste into the configuration.`,
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				hint := ""
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					hint = fmt.Sprintf("\nDid you mean %q?", s[0])
				}
				return usageErrorf("unknown command %q for %q%s\nRun '%s --help' for usage.", args[0], cmd.CommandPath(), hint, cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(newAccountsExportCmd(), newAccountsImportCmd(), newAccountsStatusCmd()) // status: accounts_status.go
	return cmd
}

type exportFlags struct {
	config, format, output, snapshot string
}

func newAccountsExportCmd() *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export --config F --format " + strings.Join(accountlist.Exporters(), "|") + " [--output FILE] [--snapshot DIR]",
		Short: "Write the configured break-glass accounts in another tool's format",
		Long: `export writes the accounts: list of the configuration for another tool:

  maester             maester-config.json: GlobalSettings.EmergencyAccessAccounts
  zta                 the Zero Trust Assessment's zt-config.json (same shape)
  scubagear           ScubaGear YAML: Aad: CapExclusions under every policy
                      that takes them, RoleExclusions under MS.AAD.7.4v1
  sentinel-watchlist  CSV for a Sentinel watchlist, one row per user

The output is a whole file (--output replaces FILE in one step, mode 0600):
merge it into an existing configuration of that tool by hand. ScubaGear takes object ids only, and a watchlist lists users
with both id and UPN, so an entry the configuration gives only by UPN (or only
by id), or a group, needs --snapshot DIR: a snapshot written by collect with
this configuration, which resolved it. What cannot be resolved fails the
export naming the entry; nothing is left out silently.

Exit status: 0 written; 1 the output or snapshot could not be read or
written; 2 usage or configuration error, or an entry the format cannot hold.`,
		Example: `  breakglass accounts export -c breakglass.yaml --format maester --output maester-config.json
  breakglass accounts export -c breakglass.yaml --format scubagear --snapshot snap/ > scuba-bg.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAccountsExport(cmd, f) },
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "", "output format: "+strings.Join(accountlist.Exporters(), ", "))
	fl.StringVarP(&f.output, "output", "o", "", "file to write (default standard output)")
	fl.StringVar(&f.snapshot, "snapshot", "", "snapshot directory from collect, to resolve UPNs, ids and group members")
	return cmd
}

func runAccountsExport(cmd *cobra.Command, f exportFlags) error {
	format, ok := accountlist.Lookup(f.format)
	if !ok || format.Export == nil {
		if f.format == "" {
			return usageErrorf("--format: required: one of %s", strings.Join(accountlist.Exporters(), ", "))
		}
		return usageErrorf("--format %q: not one of %s", f.format, strings.Join(accountlist.Exporters(), ", "))
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	var dir accountlist.Directory
	if f.snapshot != "" {
		snap, err := collect.Load(f.snapshot)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return usageErrorf("--snapshot: %w", err)
			}
			return fmt.Errorf("--snapshot: %w", err)
		}
		if err := sameTenant(cfg, snap); err != nil {
			return usageError{err}
		}
		dir = accountlist.SnapshotDirectory(snap)
	}
	if len(cfg.Tenants) > 0 {
		// A list is one tenant's; a merged one would hand a tool another
		// tenant's accounts, and the top level has none.
		return usageErrorf("%s: accounts export writes one tenant's list, and this file has tenants:; export from a file with that tenant's accounts: at the top level", cfg.Path)
	}
	var buf bytes.Buffer
	if err := format.Export(&buf, cfg.Accounts, dir); err != nil {
		return usageError{fmt.Errorf("%s: cannot write the list as %s:\n%w", cfg.Path, f.format, err)}
	}
	if f.output == "" {
		_, err := cmd.OutOrStdout().Write(buf.Bytes())
		return err
	}
	if err := writeFileAtomic(f.output, buf.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d %s as %s to %s\n", len(cfg.Accounts), plural(len(cfg.Accounts), "entry", "entries"), f.format, f.output)
	return nil
}

// sameTenant refuses a snapshot of another tenant: its ids would be
// written into this tenant's lists.
func sameTenant(cfg *config.Config, snap *collect.Snapshot) error {
	want := cfg.Graph.TenantID
	if want == "" {
		want = cfg.TenantID
	}
	got := snap.Manifest.TenantID
	if entra.IsGUID(want) && entra.IsGUID(got) && !strings.EqualFold(want, got) {
		return fmt.Errorf("--snapshot %s is of tenant %s, but %s is for tenant %s", snap.Dir, got, cfg.Path, want)
	}
	return nil
}

// writeFileAtomic replaces path in one step, so a tool reading it never
// sees half a list.
func writeFileAtomic(path string, data []byte) error {
	// Named plainly: CreateTemp would name a file the user never gave.
	if dir := filepath.Dir(path); !isDir(dir) {
		return fmt.Errorf("--output %s: directory %s does not exist; create it first", path, dir)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("--output: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

type importFlags struct {
	from string
}

func newAccountsImportCmd() *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "import --from " + strings.Join(accountlist.Importers(), "|") + " FILE",
		Short: "Read another tool's break-glass list and print the accounts: block for the configuration",
		Long: `import reads the break-glass accounts from another tool's configuration file
(maester-config.json, zt-config.json, or a ScubaGear YAML or JSON file) and
prints, on standard output, the accounts: block to paste into the breakglass
configuration. It never edits any file.

Every problem in FILE is reported as file:line:col. Lines starting with
"# check:" in the output are things to verify before pasting, for example an
account that only some ScubaGear policies exclude (possibly a service account
rather than a break-glass account).

Exit status: 0 printed; 1 FILE could not be read; 2 usage error or a problem
in FILE.`,
		Example: `  breakglass accounts import --from maester maester-config.json
  breakglass accounts import --from scubagear ScubaGear.yaml > accounts.yaml   # paste it in place of accounts:`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("%s takes one FILE, got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runAccountsImport(cmd, f, args[0]) },
	}
	cmd.Flags().StringVar(&f.from, "from", "", "format of FILE: "+strings.Join(accountlist.Importers(), ", "))
	return cmd
}

func runAccountsImport(cmd *cobra.Command, f importFlags, path string) error {
	format, ok := accountlist.Lookup(f.from)
	if !ok || format.Import == nil {
		if f.from == "" {
			return usageErrorf("--from: required: one of %s", strings.Join(accountlist.Importers(), ", "))
		}
		return usageErrorf("--from %q: not one of %s", f.from, strings.Join(accountlist.Importers(), ", "))
	}
	data, err := readLimited(path, maxImportFile)
	if err != nil {
		return err
	}
	im, err := format.Import(path, data)
	if err != nil {
		var list accountlist.ErrorList
		if errors.As(err, &list) && len(list) > 1 {
			return usageError{fmt.Errorf("%s: %d problems:\n%w", path, len(list), err)}
		}
		return usageError{err}
	}
	out, err := accountsBlock(path, f.from, im)
	if err != nil {
		return err
	}
	// The block must load as configuration: the config's own rules are the
	// last word, whatever the importer checked.
	if _, err := config.Parse(path+" (imported)", out, nil); err != nil {
		return usageError{fmt.Errorf("the imported list does not pass the configuration's checks:\n%w", err)}
	}
	if _, err := cmd.OutOrStdout().Write(out); err != nil {
		return err
	}
	if n := len(im.Notes); n > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "%d %s to check before pasting (the \"# check:\" lines)\n", n, plural(n, "thing", "things"))
	}
	return nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, usageErrorf("%s: larger than %d MiB; that is not a break-glass list", path, limit>>20)
	}
	return data, nil
}

// accountsBlock renders the imported list as a configuration accounts:
// block, with the notes as comments next to what they concern.
func accountsBlock(path, from string, im *accountlist.Imported) ([]byte, error) {
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	var head []string
	for i, note := range im.Notes {
		if im.NoteFor[i] < 0 {
			head = append(head, "check: "+note)
		}
	}
	for i, a := range im.Accounts {
		m := &yaml.Node{Kind: yaml.MappingNode}
		add := func(k, v string) {
			if v != "" {
				m.Content = append(m.Content, str(k), str(v))
			}
		}
		add("id", a.ID)
		add("upn", a.UPN)
		add("group", a.Group)
		add("name", a.Name)
		var notes []string
		for j, note := range im.Notes {
			if im.NoteFor[j] == i {
				notes = append(notes, "check: "+note)
			}
		}
		m.HeadComment = strings.Join(notes, "\n")
		seq.Content = append(seq.Content, m)
	}
	key := str("accounts")
	key.HeadComment = strings.Join(append([]string{
		fmt.Sprintf("Break-glass accounts imported from %s (%s) by breakglass accounts import.", filepath.Base(path), from),
		"Paste into the configuration in place of its accounts: list.",
	}, head...), "\n")
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Content: []*yaml.Node{key, seq}}}}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("rendering the accounts block: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("rendering the accounts block: %w", err)
	}
	return buf.Bytes(), nil
}
