// Package report renders a posture audit (posture.Report) for people and
// for CI: a terminal table, Markdown, HTML, JSON, SARIF 2.1.0 and JUnit
// XML. Each format is a Renderer in its own file that registers itself in
// an init function, so adding a format touches that file and its tests
// only; `breakglass audit --format` offers whatever is registered.
//
// Every renderer is deterministic: the same report gives the same bytes,
// so golden files and CI diffs are stable. A renderer never drops a
// result: a status it does not know is shown as it is, not as a pass.
package report

import (
	"fmt"
	"io"
	"slices"
	"sync"

	"breakglass/internal/posture"
)

// Renderer writes a report in one format.
type Renderer interface {
	Render(w io.Writer, rep *posture.Report, o Options) error
}

// RendererFunc adapts a function to Renderer.
type RendererFunc func(w io.Writer, rep *posture.Report, o Options) error

// Render calls f.
func (f RendererFunc) Render(w io.Writer, rep *posture.Report, o Options) error {
	return f(w, rep, o)
}

// Options tune a rendering.
type Options struct {
	// Color enables ANSI colour in formats that have it (table). The audit
	// command sets it when stdout is a terminal and NO_COLOR is unset.
	Color bool
	// ConfigFile is the configuration file the audit read, as given on the
	// command line (empty: unknown). SARIF results point at it as their
	// physical location: code-scanning services (GitHub's) refuse results
	// without a file, and the file naming the accounts is where a finding
	// is owned.
	ConfigFile string
}

var (
	mu        sync.RWMutex
	renderers = map[string]Renderer{}
)

// Register adds the renderer for a format name. It panics on an empty or
// duplicate name or a nil renderer, a programming error any test finds.
func Register(name string, r Renderer) {
	mu.Lock()
	defer mu.Unlock()
	if name == "" || r == nil {
		panic("report: Register needs a name and a renderer")
	}
	if _, dup := renderers[name]; dup {
		panic("report: format " + name + " registered twice")
	}
	renderers[name] = r
}

// Lookup returns the renderer for a format name.
func Lookup(name string) (Renderer, bool) {
	mu.RLock()
	defer mu.RUnlock()
	r, ok := renderers[name]
	return r, ok
}

// Names returns the registered format names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(renderers))
	for n := range renderers {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Render writes rep in the named format; an unknown name is an error that
// lists the known ones.
func Render(w io.Writer, format string, rep *posture.Report, o Options) error {
	r, ok := Lookup(format)
	if !ok {
		return fmt.Errorf("unknown report format %q (known: %v)", format, Names())
	}
	if rep == nil {
		return fmt.Errorf("report %s: no report to render", format)
	}
	if err := r.Render(w, rep, o); err != nil {
		return fmt.Errorf("report %s: %w", format, err)
	}
	return nil
}
