package accountlist

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"breakglass/internal/entra"
)

// sentinelColumns are the watchlist's columns. Microsoft's Sentinel content
// names break-glass users in two ways, and the CSV carries both so the one
// file serves either:
//
//   - "User Principal Name", "User AAD Object Id" and "Tags" are the VIP
//     Users watchlist template (Microsoft Learn, "Microsoft Sentinel
//     built-in watchlist template schemas"; UPN mandatory), which the
//     Microsoft Entra ID solution's rules read, e.g. "NRT Authentication
//     Methods Changed for VIP Users": _GetWatchlist('VIPUsers') | distinct
//     ["User Principal Name"].
//   - "UserPrincipalName" and "UserId" are what the break-glass analytic
//     rules "Azure break glass account authenticated in the portal"
//     (8c047697-ad35-4d9b-97b5-008a5d51c3e9) and "Multiple break glass
//     account authentication failures" (679ca3e1-82b4-455a-ae41-7244e5638486)
//     read from the watchlist aliased breakGlassAccounts.
//
// A rule may match on either the id or the UPN, so every row needs both:
// a row with one missing is an account that rule never sees.
var sentinelColumns = []string{"User Principal Name", "User AAD Object Id", "UserPrincipalName", "UserId", "Tags"}

const sentinelTags = `["break-glass"]`

func exportSentinel(w io.Writer, accounts []entra.Account, dir Directory) error {
	var rows [][]string
	var problems []error
	seen := map[string]bool{}
	add := func(id, upn string) {
		if seen[strings.ToLower(id)] {
			return // a user both listed and in a listed group: one row
		}
		seen[strings.ToLower(id)] = true
		rows = append(rows, []string{upn, id, upn, id, sentinelTags})
	}
	for i, a := range accounts {
		name := entryName(i, a)
		if a.IsGroup() {
			if dir == nil {
				problems = append(problems, fmt.Errorf("%s: a watchlist lists users, and a group's members are known only to Graph; pass --snapshot DIR of a collect with this config", name))
				continue
			}
			members, err := dir.Members(a.Group)
			if err != nil {
				problems = append(problems, fmt.Errorf("%s: %w", name, err))
				continue
			}
			for _, m := range members {
				if m.ID == "" || m.UPN == "" || !entra.IsGUID(m.ID) {
					problems = append(problems, fmt.Errorf("%s: member %s has no UPN in the snapshot", name, m.Label()))
					continue
				}
				add(m.ID, m.UPN)
			}
			continue
		}
		id, upn := a.ID, a.UPN
		if (id == "" || upn == "") && dir != nil {
			key := id
			if key == "" {
				key = upn
			}
			if u, ok := dir.User(key); ok {
				id, upn = cmp.Or(id, u.ID), cmp.Or(upn, u.UPN)
			}
		}
		if id == "" || upn == "" || !entra.IsGUID(id) {
			missing := "object id"
			if upn == "" {
				missing = "UPN"
			}
			hint := "add it to the entry"
			if dir == nil {
				hint += ", or pass --snapshot DIR of a collect that resolved it"
			}
			problems = append(problems, fmt.Errorf("%s: a watchlist row needs both the object id and the UPN (rules match on either); the %s is unknown: %s", name, missing, hint))
			continue
		}
		add(id, upn)
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(sentinelColumns); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

func init() {
	Register(Format{
		Name:   "sentinel-watchlist",
		Title:  "Microsoft Sentinel watchlist CSV (VIP Users template and break-glass rule columns)",
		Export: exportSentinel,
	})
}
