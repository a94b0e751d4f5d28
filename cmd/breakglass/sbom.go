package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"breakglass/internal/sbom"
	"breakglass/internal/version"
)

func newSBOMCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "sbom [BINARY] [--format json|table]",
		Short: "Print the software bill of materials (CycloneDX 1.5) of a breakglass binary",
		Long: `sbom reads the build information the Go linker embedded in BINARY (default:
this breakglass binary itself) and prints its software bill of materials as
CycloneDX 1.5 JSON: the binary's SHA-256, version and build settings, the Go
toolchain, and every module linked in with its version, package URL and
go.sum hash. It reads only the file: no network, no source tree. Any Go
binary works, for any platform, so you can check a release binary before
you install it; the release's own .cdx.json files are this command's output.

--format table lists the modules instead, one per line.

Exit status: 0 printed; 1 the file cannot be read or is not a Go binary;
2 usage error.`,
		Example: `  breakglass sbom
  breakglass sbom dist/breakglass-linux-arm64 > breakglass-linux-arm64.cdx.json
  breakglass sbom /usr/local/bin/breakglass --format table`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("%s takes at most one BINARY, got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "json" && format != "table" {
				return usageErrorf("--format: unknown format %q (want json or table)", format)
			}
			path := ""
			if len(args) == 1 {
				path = args[0]
			} else {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("finding this binary: %w (name it: breakglass sbom PATH)", err)
				}
				path = exe
			}
			bin, err := sbom.ReadFile(path)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "table" {
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "MODULE\tVERSION\tSHA-256 (go.sum h1)\tNOTE")
				for _, m := range sbom.Modules(bin.Info) {
					h := m.SHA256
					if h == "" {
						h = "-"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Path, m.Version, h, m.Note)
				}
				return tw.Flush()
			}
			v, _, _ := version.Info()
			doc, err := sbom.CycloneDX(bin, sbom.Tool{Name: "breakglass", Version: v})
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			_, err = out.Write(doc)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "json", "output format: json (CycloneDX 1.5) or table")
	return cmd
}
