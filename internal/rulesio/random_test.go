package rulesio

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"breakglass/internal/config"
)

// TestRoundTripRandom: seeded random rules, every field in use, survive
// export (ARM and Bicep, which must agree) and import unchanged.
func TestRoundTripRandom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	durs := func(ds []time.Duration) time.Duration { return ds[r.IntN(len(ds))] }
	for round := 0; round < 50; round++ {
		var rules []config.Rule
		for i := 0; i < 1+r.IntN(4); i++ {
			ru := config.Rule{
				Name:  fmt.Sprintf("r%d-%s", i, pick("a", "b.c", "d_e", "Sign-in")),
				Query: pick(`SigninLogs | where UserId == "x"`, "AuditLogs\n| summarize n = count() by OperationName", `SigninLogs | where UserPrincipalName has "$" or AppDisplayName == '[it''s]'`),
			}
			if r.IntN(2) == 0 {
				ru.Description = pick("d", "quote ' and \\ and ${x}", "line\nbreak")
			}
			ru.Frequency = durs(azureFrequencies)
			ru.Period = durs(azureWindows)
			sev := r.IntN(5)
			ru.Severity = &sev
			if r.IntN(2) == 0 {
				op := pick(">", ">=", "<", "<=", "==")
				ru.Threshold = &config.RuleThreshold{Operator: op, Value: float64(r.IntN(100)) / pick2(r, 1, 4)}
				if r.IntN(2) == 0 {
					ru.Threshold.Column = "n"
				}
				if op == ">" && ru.Threshold.Value == 0 && ru.Threshold.Column == "" {
					ru.Threshold.Value = 1
				}
				ru.AutoResolve = r.IntN(2) == 0
			}
			if r.IntN(2) == 0 {
				ru.MuteFor = durs(azureMutes)
			}
			if r.IntN(2) == 0 {
				ru.Dimensions = []string{pick("OperationName", "UserId")}
			}
			if r.IntN(2) == 0 {
				of := 1 + r.IntN(5)
				ru.Violations = &config.RuleViolations{Of: of, Min: 1 + r.IntN(of)}
			}
			if r.IntN(2) == 0 {
				ru.Labels = map[string]string{"team": pick("id", "a'b", "[x]")}
			}
			rules = append(rules, ru)
		}
		e, err := Export(&config.Config{Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		if e.Rules != len(rules) {
			t.Fatalf("round %d: %d of %d rules exported: %v", round, e.Rules, len(rules), e.Problems)
		}
		got, err := parseBicep(string(e.Bicep()))
		if err != nil {
			t.Fatalf("round %d: Bicep: %v\n%s", round, err, e.Bicep())
		}
		var arm map[string]any
		if err := json.Unmarshal(e.ARM(), &arm); err != nil {
			t.Fatalf("round %d: ARM: %v", round, err)
		}
		for i, res := range arm["resources"].([]any) {
			delete(res.(map[string]any), "dependsOn")
			delete(got["resources"].([]any)[i].(map[string]any), "$refs")
		}
		gj, _ := json.Marshal(got["resources"])
		aj, _ := json.Marshal(arm["resources"])
		if string(gj) != string(aj) {
			t.Fatalf("round %d: Bicep and ARM differ:\n%s\n%s", round, gj, aj)
		}
		ims, err := Import("x.json", e.ARM())
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var back []config.Rule
		for _, im := range ims {
			back = append(back, normal(im.Rule))
		}
		var want []config.Rule
		for _, ru := range rules {
			want = append(want, normal(ru))
		}
		if !reflect.DeepEqual(back, want) {
			gb, _ := json.Marshal(back)
			wb, _ := json.Marshal(want)
			t.Fatalf("round %d:\n got %s\nwant %s", round, gb, wb)
		}
		y, err := RulesYAML(ims)
		if err != nil || !strings.HasPrefix(string(y), "rules:\n") {
			t.Fatalf("round %d: YAML: %v", round, err)
		}
	}
}

func pick2(r *rand.Rand, a, b float64) float64 {
	if r.IntN(2) == 0 {
		return a
	}
	return b
}
