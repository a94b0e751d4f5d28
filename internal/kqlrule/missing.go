package kqlrule

import (
	"fmt"
	"strings"

	"breakglass/internal/config"
	"breakglass/internal/kql/eval"
)

// openTablesOnly refuses a rule whose query reads no table breakglass
// has, only tables outside the six that a union isfuzzy=true skips (a
// Sentinel rule over CommonSecurityLog, SecurityEvent, ...). Such a rule
// would load, run and never fire: fail closed. A rule that reads one of
// the six as well runs on that part (Rule.Missing names the rest).
func openTablesOnly(cfg *config.Config, i int, q *eval.Query, read []string) error {
	missing := q.MissingTables()
	if len(missing) == 0 || len(read) > 0 {
		return nil
	}
	c := &cfg.Rules[i]
	return &config.Error{File: cfg.Path, Line: c.Line("query"), Field: fmt.Sprintf("rules[%d].query", i),
		Msg: fmt.Sprintf("rule %q reads only tables breakglass does not have (%s): it would never fire; "+
			"query SigninLogs, AADNonInteractiveUserSignInLogs, AADServicePrincipalSignInLogs, "+
			"AADManagedIdentitySignInLogs, AuditLogs or MicrosoftGraphActivityLogs", c.Name, strings.Join(missing, ", "))}
}
