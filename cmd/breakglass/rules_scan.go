package main

import (
	"breakglass/internal/config"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/kqlrule"
)

// scanRules are the record rules scan runs: the built-ins, plus the KQL
// filter rules of cfg (rules:), which judge one record at a time like the
// built-ins. Scheduled rules need serve (or `rules test`): scan says how
// many it leaves out. nil means the built-ins only.
func scanRules(cfg *config.Config, accounts *entra.AccountSet) (rules []detect.Rule, scheduled int, err error) {
	if cfg == nil || len(cfg.Rules) == 0 {
		return nil, 0, nil
	}
	compiled, err := kqlrule.Compile(cfg)
	if err != nil {
		return nil, 0, usageError{err}
	}
	filters := kqlrule.FilterRules(compiled, func() *entra.AccountSet { return accounts })
	scheduled = len(compiled) - len(filters)
	if len(filters) == 0 {
		return nil, scheduled, nil
	}
	return append(detect.Builtins(accounts), filters...), scheduled, nil
}
