package fn

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"
	_ "time/tzdata" // datetime_utc_to_local works without the host's zone files
	"unicode/utf8"

	"breakglass/internal/kql/value"
)

// Less common functions detections use: strcmp, indexof_regex, new_guid,
// rand, array_iff, array_split, array_rotate/shift, bag_set_key, bag_zip,
// to_utf8 and the code point functions, base64 of arrays, time zones.

func init() {
	Register(
		&Scalar{Name: "strcmp", Min: 2, Max: 2, Result: sig(value.Long, kAny, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return long(int64(strings.Compare(text(a[0]), text(a[1])))) }},
		&Scalar{Name: "indexof_regex", Min: 2, Max: 5, Const: []int{1, 4}, Result: sig(value.Long, kAny, kStr, kInt, kInt, kInt),
			ResultConst: regexChecked(1, plain(sig(value.Long, kAny, kStr, kInt, kInt, kInt)), nil), Call: indexOfRegex},
		&Scalar{Name: "new_guid", Min: 0, Max: 0, Result: sig(value.Guid),
			Call: func(*Ctx, []value.Value) value.Value {
				var b [16]byte
				_, _ = rand.Read(b[:])
				b[6] = b[6]&0x0f | 0x40
				b[8] = b[8]&0x3f | 0x80
				g, _ := value.NewGuid(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]))
				return g
			}},
		&Scalar{Name: "rand", Min: 0, Max: 1, Result: sig(value.Real, kInt),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				if len(a) == 0 {
					return real(mrand.Float64())
				}
				n, ok := intArg(a[0])
				if !ok || n <= 0 {
					return nullReal
				}
				return real(float64(mrand.Int64N(n)))
			}},
		&Scalar{Name: "array_iff", Aliases: []string{"array_iif"}, Min: 3, Max: 3, Result: sig(value.Dynamic, kDyn, kAny, kAny), Call: arrayIff},
		&Scalar{Name: "array_split", Min: 2, Max: 2, Result: sig(value.Dynamic, kDyn, kInt|kDyn), Call: arraySplit},
		&Scalar{Name: "array_rotate_left", Min: 2, Max: 2, Result: sig(value.Dynamic, kDyn, kInt), Call: func(_ *Ctx, a []value.Value) value.Value { return arrayMove(a, -1, true) }},
		&Scalar{Name: "array_rotate_right", Min: 2, Max: 2, Result: sig(value.Dynamic, kDyn, kInt), Call: func(_ *Ctx, a []value.Value) value.Value { return arrayMove(a, 1, true) }},
		&Scalar{Name: "array_shift_left", Min: 2, Max: 3, Result: sig(value.Dynamic, kDyn, kInt, kAny), Call: func(_ *Ctx, a []value.Value) value.Value { return arrayMove(a, -1, false) }},
		&Scalar{Name: "array_shift_right", Min: 2, Max: 3, Result: sig(value.Dynamic, kDyn, kInt, kAny), Call: func(_ *Ctx, a []value.Value) value.Value { return arrayMove(a, 1, false) }},
		&Scalar{Name: "bag_set_key", Min: 3, Max: 3, Const: []int{1}, Result: sig(value.Dynamic, kDyn, kStr, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				m, ok := asBag(a[0])
				if !ok {
					return nullDyn
				}
				out := make(map[string]any, len(m)+1)
				for k, v := range m {
					out[k] = v
				}
				out[text(a[1])] = a[2].Dynamic()
				return dyn(out)
			}},
		&Scalar{Name: "bag_zip", Min: 2, Max: 2, Result: sig(value.Dynamic, kDyn, kDyn),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				keys, ok1 := asArray(a[0])
				vals, ok2 := asArray(a[1])
				if !ok1 || !ok2 {
					return nullDyn
				}
				out := map[string]any{}
				for i, k := range keys {
					s, ok := k.(string)
					if !ok {
						continue
					}
					if i < len(vals) {
						out[s] = vals[i]
					} else {
						out[s] = nil
					}
				}
				return dyn(out)
			}},
		&Scalar{Name: "to_utf8", Min: 1, Max: 1, Result: sig(value.Dynamic, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				s := text(a[0])
				out := make([]any, 0, len(s))
				for i := 0; i < len(s); i++ {
					out = append(out, int64(s[i]))
				}
				return dyn(out)
			}},
		&Scalar{Name: "unicode_codepoints_from_string", Min: 1, Max: 1, Result: sig(value.Dynamic, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				var out []any
				for _, r := range text(a[0]) {
					out = append(out, int64(r))
				}
				if out == nil {
					out = []any{}
				}
				return dyn(out)
			}},
		&Scalar{Name: "unicode_codepoints_to_string", Min: 1, Max: -1, Result: sig(value.String, kInt|kDyn),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				var b strings.Builder
				add := func(v value.Value) bool {
					i, ok := toLong(v)
					if !ok || i < 0 || i > utf8.MaxRune {
						return false
					}
					b.WriteRune(rune(i))
					return true
				}
				for _, v := range a {
					if arr, ok := asArray(v); ok {
						for _, e := range arr {
							if !add(value.FromDynamic(e)) {
								return str("")
							}
						}
					} else if !add(v) {
						return str("")
					}
				}
				return str(b.String())
			}},
		&Scalar{Name: "base64_encode_fromarray", Min: 1, Max: 1, Result: sig(value.String, kDyn),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				arr, ok := asArray(a[0])
				if !ok {
					return str("")
				}
				b := make([]byte, 0, len(arr))
				for _, e := range arr {
					i, ok := toLong(value.FromDynamic(e))
					if !ok || i < 0 || i > 255 {
						return str("")
					}
					b = append(b, byte(i))
				}
				return str(base64.StdEncoding.EncodeToString(b))
			}},
		&Scalar{Name: "base64_decode_toarray", Min: 1, Max: 1, Result: sig(value.Dynamic, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				b, err := base64.StdEncoding.DecodeString(text(a[0]))
				if err != nil {
					return nullDyn
				}
				out := make([]any, len(b))
				for i, c := range b {
					out[i] = int64(c)
				}
				return dyn(out)
			}},
		&Scalar{Name: "datetime_utc_to_local", Min: 2, Max: 2, Result: sig(value.DateTime, kDT, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value { return zoneShift(a, true) }},
		&Scalar{Name: "datetime_local_to_utc", Min: 2, Max: 2, Result: sig(value.DateTime, kDT, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value { return zoneShift(a, false) }},
	)
}

// indexOfRegex: https://learn.microsoft.com/kusto/query/indexof-regex-function
// (the first match's index, -1 when none).
func indexOfRegex(_ *Ctx, a []value.Value) value.Value {
	re, err := compileRegex(text(a[1]))
	if err != nil {
		return nullLong
	}
	s := text(a[0])
	r := []rune(s)
	start := int64(0)
	if len(a) > 2 {
		var ok bool
		if start, ok = intArg(a[2]); !ok || start < 0 || start > int64(len(r)) {
			return nullLong
		}
	}
	end := int64(len(r))
	if len(a) > 3 {
		n, ok := intArg(a[3])
		if !ok || n < -1 {
			return nullLong
		}
		if n >= 0 && n < end-start {
			end = start + n
		}
	}
	occ := int64(1)
	if len(a) > 4 {
		var ok bool
		if occ, ok = intArg(a[4]); !ok || occ <= 0 {
			return nullLong
		}
	}
	hay := string(r[start:end])
	ms := re.FindAllStringIndex(hay, int(min(occ, 1<<20)))
	if int64(len(ms)) < occ {
		return long(-1)
	}
	return long(start + int64(utf8.RuneCountInString(hay[:ms[occ-1][0]])))
}

// arrayIff: https://learn.microsoft.com/kusto/query/array-iff-function
// (array_iff(dynamic([true,false,true]), dynamic([1,2,3]), dynamic([4,5,6]))
// is [1,5,3]; a scalar branch applies to every element).
func arrayIff(_ *Ctx, a []value.Value) value.Value {
	conds, ok := asArray(a[0])
	if !ok {
		return nullDyn
	}
	pick := func(v value.Value, i int) any {
		if arr, ok := asArray(v); ok {
			if i < len(arr) {
				return arr[i]
			}
			return nil
		}
		return v.Dynamic()
	}
	out := make([]any, len(conds))
	for i, c := range conds {
		b, ok := c.(bool)
		if !ok {
			if n, isNum := c.(int64); isNum {
				b, ok = n != 0, true
			}
		}
		switch {
		case !ok:
			out[i] = nil
		case b:
			out[i] = pick(a[1], i)
		default:
			out[i] = pick(a[2], i)
		}
	}
	return dyn(out)
}

// arraySplit: https://learn.microsoft.com/kusto/query/array-split-function
// (array_split(dynamic([1,2,3,4,5]), dynamic([1,3])) is [[1],[2,3],[4,5]]).
func arraySplit(_ *Ctx, a []value.Value) value.Value {
	arr, ok := asArray(a[0])
	if !ok {
		return nullDyn
	}
	var idx []int64
	if list, ok := asArray(a[1]); ok {
		for _, e := range list {
			i, ok := toLong(value.FromDynamic(e))
			if !ok {
				return nullDyn
			}
			idx = append(idx, i)
		}
	} else if i, ok := intArg(a[1]); ok {
		idx = []int64{i}
	} else {
		return nullDyn
	}
	n := int64(len(arr))
	out := []any{}
	prev := int64(0)
	for _, i := range idx {
		if i < 0 {
			i += n
		}
		i = max(prev, min(i, n))
		out = append(out, append([]any{}, arr[prev:i]...))
		prev = i
	}
	return dyn(append(out, append([]any{}, arr[prev:]...)))
}

// arrayMove rotates or shifts an array by n places (dir -1 left, 1 right);
// shifting fills with null or the fill value.
func arrayMove(a []value.Value, dir int64, rotate bool) value.Value {
	arr, ok := asArray(a[0])
	n, ok2 := intArg(a[1])
	if !ok || !ok2 {
		return nullDyn
	}
	l := int64(len(arr))
	out := make([]any, l)
	if l == 0 {
		return dyn(out)
	}
	var fill any
	if len(a) > 2 {
		fill = a[2].Dynamic()
	}
	n *= dir
	for i := range l {
		src := i - n
		if rotate {
			src = ((src % l) + l) % l
			out[i] = arr[src]
		} else if src >= 0 && src < l {
			out[i] = arr[src]
		} else {
			out[i] = fill
		}
	}
	return dyn(out)
}

// zoneShift converts between UTC and a named time zone (IANA names, as
// Kusto takes them).
func zoneShift(a []value.Value, toLocal bool) value.Value {
	if a[0].IsNull() || a[0].T != value.DateTime {
		return nullDT
	}
	loc, err := time.LoadLocation(text(a[1]))
	if err != nil {
		return nullDT
	}
	t := a[0].Time()
	if toLocal {
		_, off := t.In(loc).Zone()
		return dtValue(t.Add(time.Duration(off) * time.Second))
	}
	wall := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
	return dtValue(wall.UTC())
}
