package main

import "github.com/spf13/cobra"

// placeholder until the command lands.
func newSimulateCmd() *cobra.Command {
	return &cobra.Command{Use: "simulate", Short: "(not yet implemented)", Hidden: true}
}
