package rulesio

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"breakglass/internal/config"
	"breakglass/internal/kqlrule"
)

// maxRuleName is config's limit on a rule name.
const maxRuleName = 64

var notNameChar = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// RuleName makes a display name ("Break-glass sign-in (Azure)") a rule
// name config accepts (letters, digits, '_', '.', '-', at most 64,
// starting with a letter or digit): Break-glass-sign-in-Azure.
func RuleName(display string) string {
	n := notNameChar.ReplaceAllString(strings.TrimSpace(display), "-")
	n = strings.TrimLeft(n, "-_.")
	if len(n) > maxRuleName {
		n = n[:maxRuleName]
	}
	n = strings.TrimRight(n, "-_.")
	if n == "" {
		n = "imported-rule"
	}
	return n
}

// Rejected is set on an import that the configuration would refuse; it
// is printed commented out, so that pasting the block never breaks the
// configuration, with config's reasons above it.
func (im *Imported) Rejected() bool { return im.rejected }

// placeholderAccounts stands in for the accounts: a real configuration has,
// so that a rule can be checked alone.
const placeholderAccounts = "accounts:\n  - id: 7f3e2d1c-0b9a-4876-9543-210fedcba987\n"

// Check finishes a set of imports before they are printed: names become
// plain words (the display name goes to the description when there is
// none), unique ignoring case, and each rule is checked by config, the
// owner of the rules' validation, alone in a configuration that is valid
// otherwise, then compiled by kqlrule as serve compiles it. A rule either
// refuses is marked Rejected, with the reasons among its problems.
func Check(ims []Imported) {
	seen := map[string]bool{}
	for i := range ims {
		im := &ims[i]
		display := im.Rule.Name
		name := RuleName(display)
		base := name
		for k := 2; seen[strings.ToLower(name)]; k++ {
			suf := "-" + strconv.Itoa(k)
			name = base[:min(len(base), maxRuleName-len(suf))] + suf
		}
		seen[strings.ToLower(name)] = true
		if name != display {
			im.Rule.Name = name
			if im.Rule.Description == "" {
				im.Rule.Description = strings.TrimSpace(display)
			}
			im.note("named %s (rule names are plain words; it was %q)", name, display)
		}
		y, err := rulesYAML([]Imported{*im}, false)
		if err != nil {
			im.reject("cannot be written as YAML: " + err.Error())
			continue
		}
		cfg, err := config.Parse("rule.yaml", []byte(placeholderAccounts+string(y)), func(string) (string, bool) { return "", false })
		if err == nil {
			// The engine compiles it as serve will: unknown columns,
			// type errors, dimensions that are not result columns.
			_, err = kqlrule.Compile(cfg)
		}
		var list config.ErrorList
		switch {
		case errors.As(err, &list):
			for _, e := range list {
				im.reject(fmt.Sprintf("%s: %s", strings.TrimPrefix(e.Field, "rules[0]."), e.Msg))
			}
		case err != nil:
			im.reject(err.Error())
		}
	}
}

func (im *Imported) reject(msg string) {
	im.rejected = true
	im.Parses = im.Parses && !strings.HasPrefix(msg, "query:")
	im.lost("breakglass refuses this rule as it is (commented out below): %s", msg)
}
