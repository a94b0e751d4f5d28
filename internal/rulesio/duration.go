// Package rulesio carries breakglass's KQL alert rules (config.Rule) to and
// from Azure: it exports them as Azure Monitor scheduled query rules and
// action groups (an ARM template or Bicep), so a team can keep Azure Monitor
// as a second, independent path, and it imports Azure scheduled query rules
// (ARM JSON, 2018 and 2021+ forms) and Microsoft Sentinel analytic rules
// (YAML) as a rules: block, saying per rule what did not carry over.
package rulesio

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FormatISO writes d as an ISO 8601 duration as Azure writes them: PT5M,
// PT1H, PT1H30M, P1D, P1DT12H. Zero is PT0S. Sub-second parts are dropped
// (no Azure field takes them).
func FormatISO(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	d = d.Truncate(time.Second)
	if d == 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteByte('P')
	if days := d / (24 * time.Hour); days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10) + "D")
		d -= days * 24 * time.Hour
	}
	if d > 0 {
		b.WriteByte('T')
		h := d / time.Hour
		m := (d % time.Hour) / time.Minute
		s := (d % time.Minute) / time.Second
		if h > 0 {
			b.WriteString(strconv.FormatInt(int64(h), 10) + "H")
		}
		if m > 0 {
			b.WriteString(strconv.FormatInt(int64(m), 10) + "M")
		}
		if s > 0 {
			b.WriteString(strconv.FormatInt(int64(s), 10) + "S")
		}
	}
	return b.String()
}

// FormatConfig writes d the way a person writes it in breakglass's
// configuration, and the way config reads it back: 5m, 1h30m, 1d.
func FormatConfig(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String() // 1h30m0s, 1m30s, 2h0m0s
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// maxDuration bounds parsed durations well below time.Duration's range: no
// alert rule looks back further than a year.
const maxDuration = 366 * 24 * time.Hour

var errDuration = errors.New("not a duration: use ISO 8601 (PT5M, PT1H, P1D) or 5m, 1h, 1d")

// ParseDuration reads the durations real rule files hold: ISO 8601 (PT5M,
// P1D, P1DT2H, pt5m) and the short forms Sentinel YAML and people write
// (5m, 1h, 14d, 90s, 1h30m).
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty duration")
	}
	var d time.Duration
	var err error
	if t[0] == 'P' || t[0] == 'p' {
		d, err = parseISO(strings.ToUpper(t))
	} else {
		d, err = parseShort(strings.ToLower(t))
	}
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return d, nil
}

func parseISO(s string) (time.Duration, error) {
	rest := s[1:]
	if rest == "" {
		return 0, errDuration
	}
	var total time.Duration
	inTime := false
	units := "WD" // allowed units before T, in order
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return 0, errDuration
			}
			inTime = true
			units = "HMS"
			rest = rest[1:]
			if rest == "" {
				return 0, errDuration
			}
			continue
		}
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) || i > 6 {
			return 0, errDuration
		}
		n, _ := strconv.Atoi(rest[:i])
		u := rest[i]
		k := strings.IndexByte(units, u)
		if k < 0 {
			return 0, errDuration
		}
		units = units[k+1:] // each unit once, largest first
		var unit time.Duration
		switch {
		case !inTime && u == 'W':
			unit = 7 * 24 * time.Hour
		case !inTime && u == 'D':
			unit = 24 * time.Hour
		case u == 'H':
			unit = time.Hour
		case u == 'M':
			unit = time.Minute
		case u == 'S':
			unit = time.Second
		}
		total += time.Duration(n) * unit
		if total > maxDuration {
			return 0, errors.New("longer than a year")
		}
		rest = rest[i+1:]
	}
	return total, nil
}

func parseShort(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n < 0 {
			return 0, errDuration
		}
		if n > 366 {
			return 0, errors.New("longer than a year")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errDuration
	}
	if d > maxDuration {
		return 0, errors.New("longer than a year")
	}
	return d, nil
}
