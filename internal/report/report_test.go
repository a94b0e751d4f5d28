package report

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/posture"
)

func TestRegistry(t *testing.T) {
	const name = "test-registry-format"
	var got *posture.Report
	Register(name, RendererFunc(func(w io.Writer, rep *posture.Report, o Options) error {
		got = rep
		_, err := io.WriteString(w, "ok")
		return err
	}))
	t.Cleanup(func() { mu.Lock(); delete(renderers, name); mu.Unlock() })

	if _, ok := Lookup(name); !ok {
		t.Fatalf("Lookup(%q) found nothing", name)
	}
	if !slices.Contains(Names(), name) || !slices.IsSorted(Names()) {
		t.Fatalf("Names() = %v: want %q, sorted", Names(), name)
	}
	rep := &posture.Report{}
	var b bytes.Buffer
	if err := Render(&b, name, rep, Options{}); err != nil || b.String() != "ok" || got != rep {
		t.Fatalf("Render = %v, %q", err, b.String())
	}
	if err := Render(&b, "no-such-format", rep, Options{}); err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("unknown format: err %v, want one listing %q", err, name)
	}
	if err := Render(&b, name, nil, Options{}); err == nil {
		t.Fatal("nil report: no error")
	}
	for _, tc := range []struct {
		name string
		r    Renderer
	}{{name, RendererFunc(nil)}, {"", RendererFunc(nil)}, {"x-nil", nil}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q, %v) did not panic", tc.name, tc.r)
				}
			}()
			Register(tc.name, tc.r)
		}()
	}
}
