package doctor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"breakglass/internal/config"
	"breakglass/internal/daemon"
	"breakglass/internal/secret"
)

func init() { register(10, "config", false, checkConfig) }

// checkConfig loads the configuration with the code serve uses, reporting
// every problem at once, and applies the rules config check adds (the
// Graph credential, serve's cross-checks).
func checkConfig(_ context.Context, e *Env) []Result {
	path := e.Opts.ConfigPath
	fix := fmt.Sprintf("correct each line named above, then run `breakglass config check -c %s` until it passes", path)
	cfg, err := config.Load(path)
	if err != nil {
		e.configInvalid = true
		var list config.ErrorList
		detail := err.Error()
		if errors.As(err, &list) && len(list) > 1 {
			detail = fmt.Sprintf("%d problems:\n%s", len(list), err)
		}
		return []Result{{Check: "config", Item: path, Status: Fail, Detail: detail, Fix: fix}}
	}
	e.secrets = collectSecrets(cfg)
	if cfg.Graph.Configured() {
		if _, _, err := daemon.GraphTokens(cfg); err != nil {
			e.configInvalid = true
			return []Result{{Check: "config", Item: path, Status: Fail, Detail: err.Error(), Fix: fix}}
		}
	}
	if err := daemon.CheckConfig(cfg); err != nil {
		e.configInvalid = true
		return []Result{{Check: "config", Item: path, Status: Fail, Detail: err.Error(), Fix: fix}}
	}
	e.Cfg = cfg
	channels := 0
	for _, g := range cfg.Notify.Groups {
		channels += len(g.Channels)
	}
	return []Result{{Check: "config", Item: path, Status: OK,
		Detail: fmt.Sprintf("valid: %s, %s, %s in %s", plural(len(cfg.Accounts), "account"),
			plural(len(cfg.Sources), "source"), plural(channels, "channel"), plural(len(cfg.Notify.Groups), "group"))}}
}

// collectSecrets is every secret value in the configuration, found by
// type, so that a secret added to any section later is covered too.
func collectSecrets(cfg *config.Config) []string {
	var out []string
	secretType := reflect.TypeFor[secret.Secret]()
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if depth > 32 || !v.IsValid() {
			return
		}
		if v.Type() == secretType {
			if s := strings.TrimSpace(v.String()); s != "" {
				out = append(out, s)
			}
			return
		}
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if v.IsNil() {
				return
			}
			if v.Kind() == reflect.Pointer {
				if seen[v.Pointer()] {
					return
				}
				seen[v.Pointer()] = true
			}
			walk(v.Elem(), depth+1)
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i), depth+1)
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		case reflect.Map:
			it := v.MapRange()
			for it.Next() {
				walk(it.Value(), depth+1)
			}
		}
	}
	walk(reflect.ValueOf(cfg), 0)
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
