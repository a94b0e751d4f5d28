package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/store"
)

// shownAudit is one audit-trail entry as audit-log prints it.
type shownAudit struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Via     string    `json:"via"`
	Remote  string    `json:"remote,omitempty"`
	Action  string    `json:"action"`
	Target  string    `json:"target,omitempty"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
}

func newAuditLogCmd() *cobra.Command {
	var (
		cfgPath, since, actor, action, format string
		limit                                 int
	)
	cmd := &cobra.Command{
		Use:   "audit-log [--since 24h|TIME] [--actor NAME] [--action A] [--limit N] [--format table|json]",
		Short: "List the audit trail: who did what, when and from where (sign-ins, users, tokens, acknowledgements)",
		Long: `audit-log lists the write actions done through serve's web pages and API
and through the users and tokens commands, newest first: sign-ins (and
failed or refused ones), sign-outs, user and token changes,
acknowledgements, and requests refused for a missing role or CSRF token.
(The posture audit is breakglass audit.)

--since takes a duration back from now (24h) or an RFC 3339 time.
Actions: login, logout, user.add, user.passwd, user.remove, token.create,
token.revoke, alert.ack, request (a refused write).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			f := store.AuditFilter{Actor: actor, Action: action, Limit: limit}
			if limit < 1 || limit > 100000 {
				return usageErrorf("--limit: %d is outside 1..100000", limit)
			}
			if since != "" {
				if d, err := time.ParseDuration(since); err == nil && d > 0 {
					f.Since = time.Now().Add(-d)
				} else if t, err := time.Parse(time.RFC3339, since); err == nil {
					f.Since = t
				} else {
					return usageErrorf("--since: %q is neither a duration (24h) nor an RFC 3339 time (2026-01-02T15:04:05Z)", since)
				}
			}
			ctx := cmd.Context()
			st, err := openAuthStore(ctx, cfgPath)
			if err != nil {
				return err
			}
			defer st.Close()
			es, err := st.AuditLog(ctx, f)
			if err != nil {
				return storeError(err)
			}
			shown := []shownAudit{}
			for _, e := range es {
				shown = append(shown, shownAudit{Seq: e.Seq, At: e.At.UTC(), Actor: e.Actor, Via: e.Via, Remote: e.Remote,
					Action: e.Action, Target: e.Target, Outcome: e.Outcome, Detail: e.Detail})
			}
			w := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(shown)
			}
			if len(shown) == 0 {
				_, err := fmt.Fprintln(w, "No audit entries match.")
				return err
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tACTOR\tVIA\tFROM\tACTION\tTARGET\tOUTCOME\tDETAIL")
			for _, e := range shown {
				from := e.Remote
				if from == "" {
					from = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Format(tableTime), printable(e.Actor), e.Via, printable(from),
					e.Action, printable(e.Target), e.Outcome, printable(e.Detail))
			}
			return tw.Flush()
		},
	}
	addConfigFlag(cmd, &cfgPath)
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "only entries from this long ago (24h) or this time (RFC 3339) on")
	fl.StringVar(&actor, "actor", "", "only this actor (a user name, token:NAME, cli:LOGIN)")
	fl.StringVar(&action, "action", "", "only this action (login, alert.ack, ...)")
	fl.IntVar(&limit, "limit", 100, "at most this many entries, newest first")
	fl.StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}
