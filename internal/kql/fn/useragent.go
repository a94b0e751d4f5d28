package fn

import (
	"fmt"
	"regexp"
	"strings"

	"breakglass/internal/kql/value"
)

// parse_user_agent, best effort
// (https://learn.microsoft.com/kusto/query/parse-user-agent-function).
// Kusto uses the uap-core rule set; this is a small hand-written subset
// that names the browser and operating system families sign-in logs
// carry (Edge, Chrome, Firefox, Safari, IE, Opera, Samsung Internet,
// curl, Python Requests, ...; Windows, Mac OS X, iOS, Android, Linux,
// Chrome OS). An agent it does not know gives the family "Other", as
// uap-core does.

func init() {
	Register(&Scalar{Name: "parse_user_agent", Min: 2, Max: 2, Const: []int{1}, Result: sig(value.Dynamic, kStr, kStr|kDyn),
		ResultConst: func(args []value.Type, consts []value.Value) (value.Type, error) {
			if err := check(args, kStr, kStr|kDyn); err != nil {
				return value.Dynamic, err
			}
			var parts []string
			if arr, ok := asArray(consts[1]); ok {
				for _, e := range arr {
					parts = append(parts, value.FromDynamic(e).String())
				}
			} else if consts[1].T == value.String {
				parts = []string{consts[1].S}
			}
			for _, p := range parts {
				switch strings.ToLower(p) {
				case "browser", "os", "device":
				default:
					return value.Dynamic, fmt.Errorf("argument 2: %q is not a part parse_user_agent knows (browser, os, device)", p)
				}
			}
			return value.Dynamic, nil
		},
		Call: func(_ *Ctx, a []value.Value) value.Value {
			var want []string
			if arr, ok := asArray(a[1]); ok {
				for _, e := range arr {
					if s, ok := e.(string); ok {
						want = append(want, s)
					}
				}
			} else {
				want = []string{text(a[1])}
			}
			return dyn(ParseUserAgent(text(a[0]), want))
		}})
}

type uaRule struct {
	re   *regexp.Regexp
	name string // "" takes the name from group 1
}

// Order matters: the first rule that matches wins (Edge and Opera carry
// "Chrome/", Chrome carries "Safari/").
var browserRules = []uaRule{
	{regexp.MustCompile(`AdobeAIR/(\d+)(?:\.(\d+))?(?:\.(\d+))?`), "AdobeAIR"},
	{regexp.MustCompile(`(?:Edge|Edg|EdgA|EdgiOS)/(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?`), "Edge"},
	{regexp.MustCompile(`(?:OPR|Opera)/(\d+)(?:\.(\d+))?(?:\.(\d+))?`), "Opera"},
	{regexp.MustCompile(`SamsungBrowser/(\d+)(?:\.(\d+))?(?:\.(\d+))?`), "Samsung Internet"},
	{regexp.MustCompile(`FxiOS/(\d+)(?:\.(\d+))?(?:\.(\d+))?`), "Firefox iOS"},
	{regexp.MustCompile(`(?:Mobile|Tablet).*Firefox/(\d+)(?:\.(\d+))?(?:\.(\d+))?`), "Firefox Mobile"},
	{regexp.MustCompile(`Firefox/(\d+)(?:\.(\d+))?(?:\.(\d+))?`), "Firefox"},
	{regexp.MustCompile(`CriOS/(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?`), "Chrome Mobile iOS"},
	{regexp.MustCompile(`Chrome/(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))? Mobile`), "Chrome Mobile"},
	{regexp.MustCompile(`Chrome/(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?`), "Chrome"},
	{regexp.MustCompile(`Version/(\d+)(?:\.(\d+))?(?:\.(\d+))?.*Mobile/\S+ Safari/`), "Mobile Safari"},
	{regexp.MustCompile(`Version/(\d+)(?:\.(\d+))?(?:\.(\d+))?.*Safari/`), "Safari"},
	{regexp.MustCompile(`MSIE (\d+)(?:\.(\d+))?`), "IE"},
	{regexp.MustCompile(`Trident/7\.0.*rv:(\d+)(?:\.(\d+))?`), "IE"},
	{regexp.MustCompile(`(?:iPhone|iPad).*AppleWebKit`), "Mobile Safari UI/WKWebView"},
	{regexp.MustCompile(`^curl/(\d+)(?:\.(\d+))?(?:\.(\d+))?`), "curl"},
	{regexp.MustCompile(`python-requests/(\d+)(?:\.(\d+))?(?:\.(\d+))?`), "Python Requests"},
	{regexp.MustCompile(`WindowsPowerShell/(\d+)(?:\.(\d+))?(?:\.(\d+))?`), "Windows PowerShell"},
	{regexp.MustCompile(`PowerShell/(\d+)(?:\.(\d+))?(?:\.(\d+))?`), "PowerShell"},
	{regexp.MustCompile(`okhttp/(\d+)(?:\.(\d+))?(?:\.(\d+))?`), "okhttp"},
	{regexp.MustCompile(`Go-http-client/(\d+)(?:\.(\d+))?`), "Go-http-client"},
}

var windowsNT = map[string]string{"10.0": "10", "6.3": "8.1", "6.2": "8", "6.1": "7", "6.0": "Vista", "5.1": "XP"}

var (
	reWinNT   = regexp.MustCompile(`Windows NT (\d+\.\d+)`)
	reMac     = regexp.MustCompile(`Mac OS X (\d+)(?:[_.](\d+))?(?:[_.](\d+))?`)
	reIOS     = regexp.MustCompile(`(?:iPhone|CPU) OS (\d+)(?:_(\d+))?(?:_(\d+))?`)
	reAndroid = regexp.MustCompile(`Android (\d+)(?:\.(\d+))?(?:\.(\d+))?`)
	reCrOS    = regexp.MustCompile(`CrOS \S+ (\d+)(?:\.(\d+))?(?:\.(\d+))?`)
)

// uaVersion builds a part as the docs show it: {"Family", "MajorVersion",
// "MinorVersion", "Patch"}, and for an operating system "PatchMinor" too.
func uaVersion(family string, m []string, patchMinor bool) map[string]any {
	get := func(i int) string {
		if i < len(m) {
			return m[i]
		}
		return ""
	}
	out := map[string]any{"Family": family, "MajorVersion": get(1), "MinorVersion": get(2), "Patch": get(3)}
	if patchMinor {
		out["PatchMinor"] = get(4)
	}
	return out
}

// ParseUserAgent returns the bag parse_user_agent gives for the parts
// wanted ("browser", "os", "device").
func ParseUserAgent(ua string, want []string) map[string]any {
	if len(ua) > 4096 {
		ua = ua[:4096]
	}
	out := map[string]any{}
	for _, w := range want {
		switch strings.ToLower(w) {
		case "browser":
			out["Browser"] = uaBrowser(ua)
		case "os":
			out["OperatingSystem"] = uaOS(ua)
		case "device":
			out["Device"] = uaDevice(ua)
		}
	}
	return out
}

func uaBrowser(ua string) map[string]any {
	for _, r := range browserRules {
		if m := r.re.FindStringSubmatch(ua); m != nil {
			return uaVersion(r.name, m, false)
		}
	}
	return uaVersion("Other", nil, false)
}

func uaOS(ua string) map[string]any {
	if m := reWinNT.FindStringSubmatch(ua); m != nil {
		name := "Windows"
		if v, ok := windowsNT[m[1]]; ok {
			name = "Windows " + v
		}
		maj, mi, _ := strings.Cut(m[1], ".")
		return uaVersion(name, []string{"", maj, mi}, true)
	}
	if m := reIOS.FindStringSubmatch(ua); m != nil && (strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad") || strings.Contains(ua, "iPod")) {
		return uaVersion("iOS", m, true)
	}
	if m := reMac.FindStringSubmatch(ua); m != nil {
		return uaVersion("Mac OS X", m, true)
	}
	if m := reAndroid.FindStringSubmatch(ua); m != nil {
		return uaVersion("Android", m, true)
	}
	if m := reCrOS.FindStringSubmatch(ua); m != nil {
		return uaVersion("Chrome OS", m, true)
	}
	switch {
	case strings.Contains(ua, "Windows"):
		return uaVersion("Windows", nil, true)
	case strings.Contains(ua, "Linux"):
		return uaVersion("Linux", nil, true)
	}
	return uaVersion("Other", nil, true)
}

func uaDevice(ua string) map[string]any {
	dev := func(f, b, m string) map[string]any { return map[string]any{"Family": f, "Brand": b, "Model": m} }
	switch {
	case strings.Contains(ua, "iPhone"):
		return dev("iPhone", "Apple", "iPhone")
	case strings.Contains(ua, "iPad"):
		return dev("iPad", "Apple", "iPad")
	case strings.Contains(ua, "Macintosh"):
		return dev("Mac", "Apple", "Mac")
	case strings.Contains(ua, "Android") && strings.Contains(ua, "Mobile"):
		return dev("Generic Smartphone", "Generic", "Smartphone")
	case strings.Contains(ua, "Android"):
		return dev("Generic Tablet", "Generic", "Tablet")
	}
	return dev("Other", "", "")
}
