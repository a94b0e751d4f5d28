package main

import "github.com/spf13/cobra"

// placeholder until the command lands.
func newConfigCmd() *cobra.Command {
	return &cobra.Command{Use: "config", Short: "(not yet implemented)", Hidden: true}
}
