package fn

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/kql/value"
)

// Dynamic (array and property bag) functions
// (https://learn.microsoft.com/kusto/query/dynamic-functions). Arrays built
// here are bounded by maxElems.

// maxElems caps an array or bag a function builds (Kusto's default
// make_set / make_list cap).
const maxElems = 1 << 20

func init() {
	Register(
		&Scalar{Name: "array_length", Aliases: []string{"arraylength"}, Min: 1, Max: 1, Result: sig(value.Long, kDyn),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if arr, ok := asArray(a[0]); ok {
					return long(int64(len(arr)))
				}
				return nullLong
			}},
		&Scalar{Name: "pack", Aliases: []string{"bag_pack"}, Min: 2, Max: -1, Result: packType, Call: pack},
		&Scalar{Name: "pack_array", Min: 1, Max: -1, Result: sig(value.Dynamic, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				out := make([]any, len(a))
				for i, v := range a {
					out[i] = v.Dynamic()
				}
				return dyn(out)
			}},
		&Scalar{Name: "pack_all", Min: 0, Max: 1, Result: sig(value.Dynamic, kBool),
			// the engine gives pack_all the row; without one it is an empty bag.
			Call: func(*Ctx, []value.Value) value.Value { return dyn(map[string]any{}) }},
		&Scalar{Name: "bag_keys", Min: 1, Max: 1, Result: sig(value.Dynamic, kDyn),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				m, ok := asBag(a[0])
				if !ok {
					return nullDyn
				}
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				out := make([]any, len(keys))
				for i, k := range keys {
					out[i] = k
				}
				return dyn(out)
			}},
		&Scalar{Name: "bag_has_key", Min: 2, Max: 2, Result: sig(value.Bool, kDyn, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				m, ok := asBag(a[0])
				if !ok {
					return boolean(false)
				}
				_, has := m[text(a[1])]
				return boolean(has)
			}},
		&Scalar{Name: "bag_merge", Min: 2, Max: 64, Result: sig(value.Dynamic, kDyn),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				out := map[string]any{}
				for _, v := range a {
					m, _ := asBag(v)
					for k, e := range m {
						if _, dup := out[k]; !dup { // the first bag wins
							out[k] = e
						}
					}
				}
				return dyn(out)
			}},
		&Scalar{Name: "bag_remove_keys", Min: 2, Max: 2, Result: sig(value.Dynamic, kDyn, kDyn),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				m, ok := asBag(a[0])
				if !ok {
					return nullDyn
				}
				drop := map[string]bool{}
				keys, _ := asArray(a[1])
				for _, k := range keys {
					if s, ok := k.(string); ok {
						drop[s] = true
					}
				}
				out := map[string]any{}
				for k, e := range m {
					if !drop[k] {
						out[k] = e
					}
				}
				return dyn(out)
			}},
		&Scalar{Name: "array_concat", Min: 1, Max: 64, Result: sig(value.Dynamic, kDyn),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				var out []any
				for _, v := range a {
					arr, ok := asArray(v)
					if !ok {
						return nullDyn
					}
					out = append(out, arr...)
					if len(out) > maxElems {
						out = out[:maxElems]
						break
					}
				}
				if out == nil {
					out = []any{}
				}
				return dyn(out)
			}},
		&Scalar{Name: "set_union", Min: 2, Max: 64, Result: sig(value.Dynamic, kDyn), Call: setUnion},
		&Scalar{Name: "set_intersect", Min: 2, Max: 64, Result: sig(value.Dynamic, kDyn), Call: setIntersect},
		&Scalar{Name: "set_difference", Min: 2, Max: 64, Result: sig(value.Dynamic, kDyn), Call: setDifference},
		&Scalar{Name: "set_has_element", Min: 2, Max: 2, Result: sig(value.Bool, kDyn, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				arr, ok := asArray(a[0])
				if !ok {
					return nullBool
				}
				return boolean(indexIn(arr, a[1]) >= 0)
			}},
		&Scalar{Name: "array_index_of", Min: 2, Max: 5, Const: []int{4}, Result: sig(value.Long, kDyn, kAny, kInt, kInt, kInt),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				arr, ok := asArray(a[0])
				if !ok {
					return nullLong
				}
				start := int64(0)
				if len(a) > 2 {
					if start, ok = intArg(a[2]); !ok {
						return nullLong
					}
					if start < 0 {
						start = max(0, start+int64(len(arr)))
					}
					if start > int64(len(arr)) {
						return nullLong
					}
				}
				i := indexIn(arr[start:], a[1])
				if i < 0 {
					return long(-1)
				}
				return long(start + int64(i))
			}},
		&Scalar{Name: "array_slice", Min: 3, Max: 3, Result: sig(value.Dynamic, kDyn, kInt, kInt),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				arr, ok := asArray(a[0])
				s, ok1 := intArg(a[1])
				e, ok2 := intArg(a[2])
				if !ok || !ok1 || !ok2 {
					return nullDyn
				}
				n := int64(len(arr))
				if s < 0 {
					s += n
				}
				if e < 0 {
					e += n
				}
				s, e = max(s, 0), min(e, n-1)
				if s > e {
					return dyn([]any{})
				}
				return dyn(append([]any{}, arr[s:e+1]...))
			}},
		&Scalar{Name: "array_reverse", Min: 1, Max: 1, Result: sig(value.Dynamic, kDyn),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				arr, ok := asArray(a[0])
				if !ok {
					return nullDyn
				}
				out := make([]any, len(arr))
				for i, e := range arr {
					out[len(arr)-1-i] = e
				}
				return dyn(out)
			}},
		&Scalar{Name: "array_sort_asc", Min: 1, Max: 2, Const: []int{1}, Result: sig(value.Dynamic, kDyn, kBool), Call: func(_ *Ctx, a []value.Value) value.Value { return arraySort(a, false) }},
		&Scalar{Name: "array_sort_desc", Min: 1, Max: 2, Const: []int{1}, Result: sig(value.Dynamic, kDyn, kBool), Call: func(_ *Ctx, a []value.Value) value.Value { return arraySort(a, true) }},
		&Scalar{Name: "array_sum", Min: 1, Max: 1, Result: sig(value.Real, kDyn),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				arr, ok := asArray(a[0])
				if !ok {
					return nullReal
				}
				sum := 0.0
				for _, e := range arr {
					f, ok := toReal(value.FromDynamic(e))
					if !ok {
						return nullReal
					}
					sum += f
				}
				return real(sum)
			}},
		&Scalar{Name: "range", Min: 2, Max: 3, Result: sig(value.Dynamic, kNum|kDT|kTS), Call: rangeArray},
		&Scalar{Name: "zip", Min: 2, Max: 16, Result: sig(value.Dynamic, kDyn), Call: zip},
		&Scalar{Name: "parse_url", Aliases: []string{"parseurl"}, Min: 1, Max: 1, Result: sig(value.Dynamic, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value { return dyn(ParseURL(text(a[0]))) }},
		&Scalar{Name: "parse_urlquery", Min: 1, Max: 1, Result: sig(value.Dynamic, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				return dyn(map[string]any{"Query Parameters": queryParams(strings.TrimPrefix(text(a[0]), "?"))})
			}},
		&Scalar{Name: "parse_path", Min: 1, Max: 1, Result: sig(value.Dynamic, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value { return dyn(ParsePath(text(a[0]))) }},
		&Scalar{Name: "extract_json", Aliases: []string{"extractjson"}, Min: 2, Max: 3, Const: []int{0, 2}, Result: extractType2, ResultConst: extractJSONType, Call: extractJSON},
	)
}

// asArray returns a dynamic array's elements.
func asArray(v value.Value) ([]any, bool) {
	if v.T != value.Dynamic || v.Null {
		return nil, false
	}
	arr, ok := v.D.([]any)
	return arr, ok
}

func asBag(v value.Value) (map[string]any, bool) {
	if v.T != value.Dynamic || v.Null {
		return nil, false
	}
	m, ok := v.D.(map[string]any)
	return m, ok
}

func packType(args []value.Type) (value.Type, error) {
	if len(args)%2 != 0 {
		return value.Dynamic, fmt.Errorf("pack takes key, value pairs: an even number of arguments")
	}
	for i := 0; i < len(args); i += 2 {
		if !kStr.has(args[i]) {
			return value.Dynamic, fmt.Errorf("argument %d: a key must be a string, got %s", i+1, args[i])
		}
	}
	return value.Dynamic, nil
}

// pack: https://learn.microsoft.com/kusto/query/pack-function
// (bag_pack("Level", "Information", "ProcessID", 1234) is
// {"Level":"Information","ProcessID":1234}).
func pack(_ *Ctx, a []value.Value) value.Value {
	out := make(map[string]any, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		out[text(a[i])] = a[i+1].Dynamic()
	}
	return dyn(out)
}

// dynKey is the identity of a dynamic element for the set functions (the
// JSON text, so 1 and "1" differ).
func dynKey(e any) string { return value.JSON(e) }

func indexIn(arr []any, v value.Value) int {
	want := dynKey(v.Dynamic())
	for i, e := range arr {
		if dynKey(e) == want {
			return i
		}
	}
	return -1
}

// setUnion: https://learn.microsoft.com/kusto/query/set-union-function
// (set_union(dynamic([1,2,3]), dynamic([3,4])) is [1,2,3,4]).
func setUnion(_ *Ctx, a []value.Value) value.Value {
	seen := map[string]bool{}
	out := []any{}
	for _, v := range a {
		arr, ok := asArray(v)
		if !ok {
			return nullDyn
		}
		for _, e := range arr {
			k := dynKey(e)
			if !seen[k] && len(out) < maxElems {
				seen[k] = true
				out = append(out, e)
			}
		}
	}
	return dyn(out)
}

// setIntersect: https://learn.microsoft.com/kusto/query/set-intersect-function
func setIntersect(_ *Ctx, a []value.Value) value.Value {
	first, ok := asArray(a[0])
	if !ok {
		return nullDyn
	}
	var rest []map[string]bool
	for _, v := range a[1:] {
		arr, ok := asArray(v)
		if !ok {
			return nullDyn
		}
		m := map[string]bool{}
		for _, e := range arr {
			m[dynKey(e)] = true
		}
		rest = append(rest, m)
	}
	seen := map[string]bool{}
	out := []any{}
outer:
	for _, e := range first {
		k := dynKey(e)
		if seen[k] {
			continue
		}
		seen[k] = true
		for _, m := range rest {
			if !m[k] {
				continue outer
			}
		}
		out = append(out, e)
	}
	return dyn(out)
}

// setDifference: https://learn.microsoft.com/kusto/query/set-difference-function
// (set_difference(dynamic([1,2,3]), dynamic([1,2])) is [3]).
func setDifference(_ *Ctx, a []value.Value) value.Value {
	first, ok := asArray(a[0])
	if !ok {
		return nullDyn
	}
	drop := map[string]bool{}
	for _, v := range a[1:] {
		arr, ok := asArray(v)
		if !ok {
			return nullDyn
		}
		for _, e := range arr {
			drop[dynKey(e)] = true
		}
	}
	out := []any{}
	for _, e := range first {
		k := dynKey(e)
		if !drop[k] {
			drop[k] = true
			out = append(out, e)
		}
	}
	return dyn(out)
}

func arraySort(a []value.Value, desc bool) value.Value {
	arr, ok := asArray(a[0])
	if !ok {
		return nullDyn
	}
	nullsLast := true
	if len(a) > 1 && a[1].T == value.Bool && !a[1].IsNull() {
		nullsLast = a[1].Bool()
	}
	out := append([]any{}, arr...)
	sort.SliceStable(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x == nil || y == nil {
			if x == nil && y == nil {
				return false
			}
			return (y == nil) == nullsLast
		}
		c := compare(value.FromDynamic(x), value.FromDynamic(y))
		if value.FromDynamic(x).T != value.FromDynamic(y).T && !(numRank(value.FromDynamic(x).T) > 0 && numRank(value.FromDynamic(y).T) > 0) {
			c = strings.Compare(dynKey(x), dynKey(y))
		}
		if desc {
			return c > 0
		}
		return c < 0
	})
	return dyn(out)
}

// rangeArray: https://learn.microsoft.com/kusto/query/range-function
// (range(1, 8, 3) is [1,4,7]; range(1h, 5h) steps by 1h; at most 2^20
// elements; datetimes and timespans are carried as their text, as in
// Kusto's dynamic values).
func rangeArray(_ *Ctx, a []value.Value) value.Value {
	start, stop := a[0], a[1]
	if start.IsNull() || stop.IsNull() || len(a) > 2 && a[2].IsNull() {
		return nullDyn
	}
	out := []any{}
	switch start.T {
	case value.DateTime, value.TimeSpan:
		step := int64(time.Hour)
		if len(a) > 2 {
			if a[2].T != value.TimeSpan {
				return nullDyn
			}
			step = a[2].I
		}
		if stop.T != start.T || step == 0 {
			return nullDyn
		}
		for x := start.I; len(out) < maxElems && (step > 0 && x <= stop.I || step < 0 && x >= stop.I); x += step {
			out = append(out, value.Value{T: start.T, I: x}.String())
			if step > 0 && x > math.MaxInt64-step || step < 0 && x < math.MinInt64-step {
				break
			}
		}
		return dyn(out)
	}
	integral := func(v value.Value) bool { return v.T == value.Int || v.T == value.Long }
	if integral(start) && integral(stop) && (len(a) < 3 || integral(a[2])) {
		step := int64(1)
		if len(a) > 2 {
			step = a[2].I
		}
		if step == 0 {
			return nullDyn
		}
		for x := start.I; len(out) < maxElems && (step > 0 && x <= stop.I || step < 0 && x >= stop.I); x += step {
			out = append(out, x)
			if step > 0 && x > math.MaxInt64-step || step < 0 && x < math.MinInt64-step {
				break
			}
		}
		return dyn(out)
	}
	x0, ok1 := toReal(start)
	x1, ok2 := toReal(stop)
	step := 1.0
	ok3 := true
	if len(a) > 2 {
		step, ok3 = toReal(a[2])
	}
	if !ok1 || !ok2 || !ok3 || step == 0 || math.IsNaN(step) || math.IsNaN(x0) || math.IsNaN(x1) {
		return nullDyn
	}
	for i := 0; i < maxElems; i++ {
		x := x0 + float64(i)*step
		if step > 0 && x > x1 || step < 0 && x < x1 {
			break
		}
		out = append(out, x)
	}
	return dyn(out)
}

// zip: https://learn.microsoft.com/kusto/query/zip-function
// (zip(dynamic([1,3,5]), dynamic([2,4,6])) is [[1,2],[3,4],[5,6]]; the
// shorter arrays are padded with null).
func zip(_ *Ctx, a []value.Value) value.Value {
	var arrs [][]any
	n := 0
	for _, v := range a {
		arr, ok := asArray(v)
		if !ok {
			return nullDyn
		}
		arrs = append(arrs, arr)
		n = max(n, len(arr))
	}
	out := make([]any, n)
	for i := range n {
		row := make([]any, len(arrs))
		for j, arr := range arrs {
			if i < len(arr) {
				row[j] = arr[i]
			}
		}
		out[i] = row
	}
	return dyn(out)
}

// ParseURL is parse_url (https://learn.microsoft.com/kusto/query/parse-url-function):
// parse_url("scheme://username:password@host:1234/this/is/a/path?k1=v1&k2=v2#fragment")
// is {"Scheme":"scheme","Host":"host","Port":"1234","Path":"this/is/a/path",
// "Username":"username","Password":"password","Query Parameters":{"k1":"v1","k2":"v2"},
// "Fragment":"fragment"}. Text that is not an absolute URL gives empty fields.
func ParseURL(s string) map[string]any {
	out := map[string]any{"Scheme": "", "Host": "", "Port": "", "Path": "", "Username": "", "Password": "", "Query Parameters": map[string]any{}, "Fragment": ""}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" && u.Opaque != "" {
		return out
	}
	out["Scheme"] = u.Scheme
	out["Host"] = u.Hostname()
	out["Port"] = u.Port()
	// the docs show "Path":"this/is/a/path", without the leading slash
	out["Path"] = strings.TrimPrefix(u.EscapedPath(), "/")
	if u.User != nil {
		out["Username"] = u.User.Username()
		p, _ := u.User.Password()
		out["Password"] = p
	}
	out["Query Parameters"] = queryParams(u.RawQuery)
	out["Fragment"] = u.Fragment
	return out
}

func queryParams(q string) map[string]any {
	m := map[string]any{}
	for _, kv := range strings.Split(q, "&") {
		if kv == "" || len(m) >= 10000 {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		m[k] = v
	}
	return m
}

// ParsePath is parse_path (https://learn.microsoft.com/kusto/query/parse-path-function):
// parse_path(@"C:\temp\file.txt") is {"Scheme":"","RootPath":"C:",
// "DirectoryPath":"C:\\temp","DirectoryName":"temp","Filename":"file.txt",
// "Extension":"txt","AlternateDataStreamName":""}; a UNC share has no
// RootPath, and file://C:/temp/file.txt:some.exe has the Scheme "file",
// the RootPath "C:" and the AlternateDataStreamName "some.exe".
func ParsePath(p string) map[string]any {
	out := map[string]any{"Scheme": "", "RootPath": "", "DirectoryPath": "", "DirectoryName": "", "Filename": "", "Extension": "", "AlternateDataStreamName": ""}
	rest := p
	if i := strings.Index(rest, "://"); i > 0 && !strings.ContainsAny(rest[:i], `/\`) {
		out["Scheme"] = rest[:i]
		rest = rest[i+3:]
	}
	sep := "\\"
	if !strings.Contains(rest, "\\") {
		sep = "/"
	}
	cut := strings.LastIndex(rest, sep)
	dir, file := "", rest
	if cut >= 0 {
		dir, file = rest[:cut], rest[cut+1:]
	}
	switch {
	case len(rest) >= 2 && rest[1] == ':':
		out["RootPath"] = rest[:2]
	}
	if name, ads, ok := strings.Cut(file, ":"); ok && len(rest) > 2 {
		file = name
		out["AlternateDataStreamName"] = ads
	}
	out["DirectoryPath"] = dir
	if i := strings.LastIndex(dir, sep); i >= 0 {
		out["DirectoryName"] = dir[i+1:]
	} else {
		out["DirectoryName"] = dir
	}
	out["Filename"] = file
	if i := strings.LastIndex(file, "."); i >= 0 {
		out["Extension"] = file[i+1:]
	}
	return out
}

func extractType2(args []value.Type) (value.Type, error) {
	return extractJSONType(args, make([]value.Value, len(args)))
}

func extractJSONType(args []value.Type, consts []value.Value) (value.Type, error) {
	if err := check(args, kStr, kStr, kStr); err != nil {
		return value.String, err
	}
	if len(consts) > 2 && consts[2].T == value.String && consts[2].S != "" {
		if t, ok := value.ParseType(consts[2].S); ok {
			return t, nil
		}
		return value.String, fmt.Errorf("argument 3: unknown type %q", consts[2].S)
	}
	return value.String, nil
}

// extractJSON: https://learn.microsoft.com/kusto/query/extract-json-function
// (extract_json("$.hosts[1].AvailableMB", json, typeof(int))); the path
// subset supported is $, .name, ['name'] and [index].
func extractJSON(_ *Ctx, a []value.Value) value.Value {
	want := value.String
	if len(a) > 2 {
		if t, ok := value.ParseType(text(a[2])); ok {
			want = t
		}
	}
	doc := parseJSON(a[1])
	x, ok := jsonPath(doc.D, text(a[0]))
	if !ok || x == nil || doc.IsNull() {
		return value.NullOf(want)
	}
	if want == value.Dynamic {
		return dyn(x)
	}
	if s, ok := x.(string); ok {
		return convertText(s, want)
	}
	return convertText(value.JSON(x), want)
}

func jsonPath(x any, p string) (any, bool) {
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "$") {
		return nil, false
	}
	p = p[1:]
	for p != "" {
		switch {
		case p[0] == '.':
			p = p[1:]
			i := strings.IndexAny(p, ".[")
			if i < 0 {
				i = len(p)
			}
			m, ok := x.(map[string]any)
			if !ok {
				return nil, false
			}
			x, p = m[p[:i]], p[i:]
		case strings.HasPrefix(p, "['"):
			end := strings.Index(p, "']")
			if end < 0 {
				return nil, false
			}
			m, ok := x.(map[string]any)
			if !ok {
				return nil, false
			}
			x, p = m[p[2:end]], p[end+2:]
		case p[0] == '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return nil, false
			}
			i, err := strconv.Atoi(p[1:end])
			arr, ok := x.([]any)
			if err != nil || !ok || i < 0 || i >= len(arr) {
				return nil, false
			}
			x, p = arr[i], p[end+1:]
		default:
			return nil, false
		}
	}
	return x, true
}
