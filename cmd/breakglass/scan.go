package main

import "github.com/spf13/cobra"

// placeholder until the command lands.
func newScanCmd() *cobra.Command {
	return &cobra.Command{Use: "scan", Short: "(not yet implemented)", Hidden: true}
}
