package logs

import (
	"testing"

	"breakglass/internal/entra"
)

// One fuzz target per decoder of decode_*.go, each forced onto any input in
// every shape it reads (see fuzzDecoder).

func FuzzDecodeGraphActivity(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeDiagnostic, Category: entra.CategoryGraphActivity}, "categories/graphactivity-eventhub.json")
}

func FuzzDecodeGraphActivityLA(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeLogAnalytics, Category: entra.CategoryGraphActivity}, "categories/graphactivity-la.json")
}

func FuzzDecodeRiskEvent(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeDiagnostic, Category: entra.CategoryUserRiskEvents}, "categories/riskevents-pt1h.json")
}

func FuzzDecodeRiskDetectionGraph(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeGraphRisk, Category: entra.CategoryUserRiskEvents}, "categories/riskdetections-graph.json", "categories/riskevents-la.ndjson")
}

func FuzzDecodeRiskyUser(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeDiagnostic, Category: entra.CategoryRiskyUsers}, "categories/riskyusers-pt1h.json")
}

func FuzzDecodeRiskyUserGraph(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeGraphRiskyUser, Category: entra.CategoryRiskyUsers}, "categories/riskyusers-graph.json", "categories/riskyusers-la.json")
}

func FuzzDecodeProvisioning(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeDiagnostic, Category: entra.CategoryProvisioning}, "categories/provisioning-pt1h.json")
}

func FuzzDecodeProvisioningGraph(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeGraphProvisioning, Category: entra.CategoryProvisioning}, "categories/provisioning-graph.json", "categories/provisioning-la.json")
}

func FuzzDecodeADFSSignIn(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeDiagnostic, Category: entra.CategoryADFSSignIn}, "categories/adfs-pt1h.json", "categories/adfs-la.json")
}

func FuzzDecodeLegacyAudit(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeDiagnostic, Category: entra.CategoryLegacyAudit}, "categories/legacy-audit-eventhub.json")
}

func FuzzDecodePortalSignIn(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapePortal, Category: entra.CategorySignIn}, "categories/portal-signins.csv")
}

func FuzzDecodePortalAudit(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapePortal, Category: entra.CategoryAudit}, "categories/portal-audit.csv")
}

func FuzzDecodeDefender(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeDefender, Category: entra.CategorySignIn}, "formats/defender-aadsignineventsbeta.csv", "formats/defender-api-aadsignin.json", "formats/defender-graph-identitylogonevents.json")
}

func FuzzDecodeDefenderStream(f *testing.F) {
	fuzzDecoder(f, Class{Shape: ShapeDefenderStream, Category: entra.CategorySignIn}, "formats/defender-stream-identitylogonevents.json")
}

// FuzzClassifyByContent: the properties scan never panics and only ever
// names a monitored category.
func FuzzClassifyByContent(f *testing.F) {
	f.Add([]byte(`{"activityDisplayName":"x","targetResources":[]}`))
	f.Add([]byte(`"{\"riskEventType\":\"x\"}"`))
	f.Fuzz(func(t *testing.T, in []byte) {
		if c := categoryByContent(in); c != "" && entra.KindOf(c) == entra.KindUnknown {
			t.Fatalf("categoryByContent(%q) = %q, not monitored", in, c)
		}
	})
}
