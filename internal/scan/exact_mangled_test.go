package scan

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"breakglass/internal/entra"
	"breakglass/internal/logs"
	"breakglass/internal/simulate"
)

var (
	reGUID = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	reTime = regexp.MustCompile(`"(time|createdDateTime|activityDateTime)": ?"[^"]*"`)
	reUID  = regexp.MustCompile(`"userId": ?"[^"]*"`)
	reUPN  = regexp.MustCompile(`"userPrincipalName": ?"([^"@]*)@`)
)

// mangle applies one random corruption of the kinds exports really have.
func mangle(rng *rand.Rand, line []byte) []byte {
	switch rng.Intn(6) {
	case 0: // GUIDs in braces
		return reGUID.ReplaceAllFunc(line, func(g []byte) []byte { return []byte("{" + string(g) + "}") })
	case 1: // GUIDs without hyphens, upper-cased
		return reGUID.ReplaceAllFunc(line, func(g []byte) []byte { return bytes.ToUpper(bytes.ReplaceAll(g, []byte("-"), nil)) })
	case 2: // unusable times
		return reTime.ReplaceAll(line, []byte(`"$1":"garbage"`))
	case 3: // a wrong-typed user id
		return reUID.ReplaceAll(line, []byte(`"userId":12345`))
	case 4: // an escaped UPN
		return reUPN.ReplaceAllFunc(line, func(m []byte) []byte {
			i := bytes.IndexByte(m, ':') + 1
			for m[i] != '"' {
				i++
			}
			return []byte(string(m[:i+1]) + `\u00` + strconv.FormatInt(int64(m[i+1]), 16) + string(m[i+2:]))
		})
	default: // epoch times
		return reTime.ReplaceAll(line, []byte(`"$1":1718860353`))
	}
}

// TestFastPathExactMangled extends the fast-path proof to the fail-closed
// paths: on simulated storage logs with a third of the lines corrupted, the
// prefilter finds exactly what decoding every record finds, and every
// corrupted line that still names an account (in any decoration) alerts.
func TestFastPathExactMangled(t *testing.T) {
	seed := rand.Int63()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	accounts := simulate.DemoAccounts()
	var in bytes.Buffer
	if _, err := simulate.Generate(context.Background(), &in, simulate.Options{Seed: seed, Count: 3000, Shape: simulate.ShapeStorage, BGShare: 0.05, Accounts: accounts}, nil); err != nil {
		t.Fatal(err)
	}
	set := entra.NewAccountSet(accounts)
	pre := logs.NewPrefilter(set.Needles())
	var out bytes.Buffer
	mustAlert := map[int]bool{}
	mangled := 0
	for i, line := range bytes.SplitAfter(in.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		named := pre.Find(line) >= 0
		if rng.Intn(3) == 0 {
			line = mangle(rng, line)
			mangled++
		}
		if named && pre.Find(line) >= 0 {
			mustAlert[i+1] = true
		}
		out.Write(line)
	}
	scanAll := func(exhaustive bool) (map[string]bool, map[int]bool) {
		s := New(Options{Accounts: set, Exhaustive: exhaustive})
		var st Stats
		got, lines := map[string]bool{}, map[int]bool{}
		err := s.Scan(context.Background(), "sim", bytes.NewReader(out.Bytes()), &st, func(f Finding) error {
			got[f.Alert.Rule+" "+f.Alert.EventID] = true
			n, _ := strconv.Atoi(strings.TrimPrefix(f.Alert.Source, "sim:"))
			lines[n] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, lines
	}
	t.Logf("%d lines mangled, %d lines name an account", mangled, len(mustAlert))
	fast, fastLines := scanAll(false)
	full, _ := scanAll(true)
	if !maps.Equal(fast, full) {
		t.Fatalf("fast path and full decode differ:\nonly fast %v\nonly full %v", diff(fast, full), diff(full, fast))
	}
	if len(mustAlert) == 0 {
		t.Fatal("no break-glass lines generated")
	}
	var missed []string
	for n := range mustAlert {
		if !fastLines[n] {
			missed = append(missed, fmt.Sprint(n))
		}
	}
	if len(missed) > 0 {
		lines := bytes.Split(out.Bytes(), []byte("\n"))
		n, _ := strconv.Atoi(missed[0])
		t.Fatalf("%d lines naming an account raised nothing, e.g. line %d: %s", len(missed), n, lines[n-1])
	}
}
