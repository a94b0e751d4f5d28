package fn

import (
	"strconv"
	"testing"

	"breakglass/internal/kql/value"
)

// Benchmarks of the per-row cost of the functions detections use most.

func benchCall(b *testing.B, name string, args ...value.Value) {
	f := Lookup(name)
	c := &Ctx{Now: testNow}
	b.ReportAllocs()
	for b.Loop() {
		_ = f.Call(c, args)
	}
}

func BenchmarkTostring(b *testing.B) { benchCall(b, "tostring", Y(`{"a":[1,2,"x"]}`)) }
func BenchmarkTolower(b *testing.B)  { benchCall(b, "tolower", S("BreakGlass@Contoso.com")) }
func BenchmarkParseJSON(b *testing.B) {
	benchCall(b, "parse_json", S(`{"displayName":"Azure Portal","id":"c44b4083-3bb0-49c1-b47d-974e53cbdf3c","tags":["a","b"]}`))
}
func BenchmarkExtract(b *testing.B) {
	benchCall(b, "extract", S(`@([a-zA-Z.]+)$`), L(1), S("breakglass1@contoso.onmicrosoft.com"))
}
func BenchmarkBinDatetime(b *testing.B) { benchCall(b, "bin", D("2024-05-06 07:08:09"), TS("1h")) }
func BenchmarkAgo(b *testing.B)         { benchCall(b, "ago", TS("1h")) }
func BenchmarkParseUserAgent(b *testing.B) {
	benchCall(b, "parse_user_agent", S("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"), S("browser"))
}

func BenchmarkDcount(b *testing.B) {
	vals := make([][]value.Value, 1000)
	for i := range vals {
		vals[i] = []value.Value{S("user" + strconv.Itoa(i%300) + "@contoso.com")}
	}
	b.ReportAllocs()
	for b.Loop() {
		st := LookupAgg("dcount").New(&Ctx{}, nil)
		for _, v := range vals {
			st.Add(v)
		}
		_ = st.Result()
	}
}
