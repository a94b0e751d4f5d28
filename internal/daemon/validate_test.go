package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"breakglass/internal/config"
	"breakglass/internal/graph"
	"breakglass/internal/logging"
	"breakglass/internal/store/sqlite"
)

type nopLister struct{}

func (nopLister) Get(context.Context, graph.Version, string, graph.Query, any) error { return nil }
func (nopLister) List(context.Context, graph.Version, string, graph.Query, func([]json.RawMessage) error) error {
	return nil
}

// TestAcceptedConfigBuilds: config is the one validator. Whatever `config
// check` accepts (every good fixture of the config package) must build: no
// runtime constructor may reject what config let through.
func TestAcceptedConfigBuilds(t *testing.T) {
	files, err := filepath.Glob("../config/testdata/good/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	env := map[string]string{"BG_UPN": "alice@contoso.com", "BG_ID": "0f8fad5b-d9cb-469f-a165-70867728950e", "BG_EMPTY": "", "BG_LEVEL": "debug", "BG_SECRET": "s3cr3t",
		"BG_PG_DSN": "postgres://bg@db.example:5432/breakglass?sslmode=verify-full"}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(file, data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := buildNotifiers(cfg, &bytes.Buffer{}, nil, nil); err != nil {
				t.Errorf("notifiers: %v", err)
			}
			d := &Daemon{cfg: cfg, o: Options{Graph: nopLister{}}, log: logging.New(&bytes.Buffer{}, logging.Options{}), st: st}
			srcs, err := d.buildSources()
			if err != nil {
				t.Errorf("sources: %v", err)
			}
			if len(srcs) != len(cfg.AllSources()) {
				t.Errorf("%d sources built for %d configured", len(srcs), len(cfg.AllSources()))
			}
		})
	}
}

// FuzzAcceptedConfigBuilds: for any document config accepts, building the
// daemon's channels and sources succeeds.
func FuzzAcceptedConfigBuilds(f *testing.F) {
	files, _ := filepath.Glob("../config/testdata/*/*.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "bg.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	log := logging.New(&bytes.Buffer{}, logging.Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse("fuzz.yaml", data, func(k string) (string, bool) { return "x", true })
		if err != nil {
			return
		}
		if _, _, err := buildNotifiers(cfg, &bytes.Buffer{}, nil, nil); err != nil {
			t.Fatalf("config accepted but notifiers fail: %v\n%s", err, data)
		}
		d := &Daemon{cfg: cfg, o: Options{Graph: nopLister{}}, log: log, st: st}
		if _, err := d.buildSources(); err != nil {
			t.Fatalf("config accepted but sources fail: %v\n%s", err, data)
		}
	})
}
