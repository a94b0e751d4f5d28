// Package sbom writes a software bill of materials (CycloneDX 1.5 JSON) for
// a Go binary from the build information the Go linker embeds in it: the
// main module, every dependency module with its version and go.sum hash, the
// Go toolchain and the build settings. It reads the binary itself, so users
// can audit any breakglass binary, not only the one they run, and it needs no
// network and no source tree.
//
// The output is deterministic: the same binary always gives the same bytes
// (no timestamps; the serial number is derived from the binary's digest), so
// release SBOMs are as reproducible as the binaries they describe.
package sbom

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
)

// Binary is what an SBOM describes: one Go binary's build information and,
// when the file was read, its size and SHA-256.
type Binary struct {
	Name   string // the file's base name, e.g. breakglass-linux-amd64
	Info   *debug.BuildInfo
	SHA256 []byte // of the whole file; nil when only Info is known
	Size   int64
}

// Tool names the program that generates the SBOM (metadata.tools).
type Tool struct{ Name, Version string }

// ReadFile reads the build information of the Go binary at path and its
// SHA-256. A file that is not a Go binary, or carries no build information,
// is an error naming the file.
func ReadFile(path string) (Binary, error) {
	f, err := os.Open(path)
	if err != nil {
		return Binary{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Binary{}, err
	}
	if !fi.Mode().IsRegular() {
		return Binary{}, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := Read(f, fi.Size())
	if err != nil {
		return Binary{}, fmt.Errorf("%s: %w", path, err)
	}
	b.Name = baseName(path)
	return b, nil
}

// Read reads the build information and the SHA-256 of a binary of size
// bytes from r. It streams the file, so memory does not grow with its size.
func Read(r io.ReaderAt, size int64) (Binary, error) {
	info, err := buildinfo.Read(r)
	if err != nil {
		return Binary{}, fmt.Errorf("no Go build information (not a Go binary, or built without module support): %w", err)
	}
	if info == nil || info.Main.Path == "" && info.Path == "" {
		return Binary{}, errors.New("the Go build information names no module")
	}
	h := sha256.New()
	n, err := io.Copy(h, io.NewSectionReader(r, 0, size))
	if err != nil {
		return Binary{}, fmt.Errorf("hashing: %w", err)
	}
	return Binary{Info: info, SHA256: h.Sum(nil), Size: n}, nil
}

func baseName(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[i+1:]
	}
	return path
}

// The CycloneDX 1.5 JSON document, as much of it as a Go binary fills.
// Field order here is the output's order.
type (
	document struct {
		BOMFormat    string       `json:"bomFormat"`
		SpecVersion  string       `json:"specVersion"`
		SerialNumber string       `json:"serialNumber"`
		Version      int          `json:"version"`
		Metadata     metadata     `json:"metadata"`
		Components   []component  `json:"components"`
		Dependencies []dependency `json:"dependencies"`
	}
	metadata struct {
		Tools     tools     `json:"tools"`
		Component component `json:"component"`
	}
	tools struct {
		Components []component `json:"components"`
	}
	component struct {
		Type       string     `json:"type"`
		BOMRef     string     `json:"bom-ref,omitempty"`
		Name       string     `json:"name"`
		Version    string     `json:"version,omitempty"`
		Purl       string     `json:"purl,omitempty"`
		Hashes     []hash     `json:"hashes,omitempty"`
		Properties []property `json:"properties,omitempty"`
	}
	hash struct {
		Alg     string `json:"alg"`
		Content string `json:"content"`
	}
	property struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	dependency struct {
		Ref       string   `json:"ref"`
		DependsOn []string `json:"dependsOn"`
	}
)

// versionVar is where the Makefile stamps the release version. A binary
// built outside a git checkout reports "(devel)" as its main module
// version; when its build information kept -ldflags (built without
// -trimpath, which drops them), the stamped version names it instead.
const versionVar = "breakglass/internal/version.Version"

// CycloneDX returns the binary's SBOM as indented CycloneDX 1.5 JSON,
// ending in a newline.
func CycloneDX(b Binary, tool Tool) ([]byte, error) {
	if b.Info == nil {
		return nil, errors.New("no build information")
	}
	bi := b.Info
	mainPath := bi.Main.Path
	if mainPath == "" {
		mainPath = bi.Path
	}
	mainVersion := bi.Main.Version
	if mainVersion == "" || mainVersion == "(devel)" {
		if v := stampedVersion(bi); v != "" {
			mainVersion = v
		}
	}
	if mainVersion == "" {
		mainVersion = "(devel)"
	}
	app := component{
		Type:    "application",
		Name:    mainPath,
		Version: mainVersion,
		Purl:    purl(mainPath, mainVersion),
	}
	app.BOMRef = app.Purl
	if b.SHA256 != nil {
		app.Hashes = []hash{{"SHA-256", hex.EncodeToString(b.SHA256)}}
	}
	if b.Name != "" {
		app.Properties = append(app.Properties, property{"breakglass:file:name", b.Name})
	}
	if b.SHA256 != nil {
		app.Properties = append(app.Properties, property{"breakglass:file:size", fmt.Sprint(b.Size)})
	}
	if bi.Path != "" {
		app.Properties = append(app.Properties, property{"breakglass:go:package", bi.Path})
	}
	if bi.Main.Sum != "" {
		app.Properties = append(app.Properties, property{"breakglass:go:sum", bi.Main.Sum})
	}
	goVer, goExtra, _ := strings.Cut(bi.GoVersion, " ")
	app.Properties = append(app.Properties, property{"breakglass:go:toolchain", bi.GoVersion})
	for _, s := range bi.Settings {
		app.Properties = append(app.Properties, property{"breakglass:go:build:" + s.Key, s.Value})
	}

	var comps []component
	refs := []string{}
	seen := map[string]bool{app.BOMRef: true} // a module listed twice, or as the main module too, is one component
	if goVer != "" {
		std := component{Type: "library", Name: "std", Version: goVer, Purl: purl("std", goVer)}
		std.BOMRef = std.Purl
		std.Properties = []property{{"breakglass:go:role", "toolchain"}}
		if goExtra != "" {
			std.Properties = append(std.Properties, property{"breakglass:go:toolchain:extra", goExtra})
		}
		comps = append(comps, std)
		refs = append(refs, std.BOMRef)
		seen[std.BOMRef] = true
	}
	deps := append([]*debug.Module(nil), bi.Deps...)
	sort.SliceStable(deps, func(i, j int) bool { return modKey(deps[i]) < modKey(deps[j]) })
	for _, d := range deps {
		if d == nil {
			continue
		}
		c := moduleComponent(d)
		if c.BOMRef == "" || seen[c.BOMRef] {
			continue // repeated: listed once
		}
		seen[c.BOMRef] = true
		comps = append(comps, c)
		refs = append(refs, c.BOMRef)
	}

	doc := document{
		BOMFormat:    "CycloneDX",
		SpecVersion:  "1.5",
		SerialNumber: serial(b),
		Version:      1,
		Metadata: metadata{
			Tools:     tools{Components: []component{{Type: "application", Name: tool.Name, Version: tool.Version}}},
			Component: app,
		},
		Components: comps,
		Dependencies: []dependency{
			{Ref: app.BOMRef, DependsOn: refs},
		},
	}
	// Only the main module's edges are known: the build information lists
	// the modules linked in, not who requires whom, so the modules get no
	// entries of their own (CycloneDX reads a missing entry as unknown, an
	// empty one as "depends on nothing", which would be a claim).
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func modKey(m *debug.Module) string {
	if m == nil {
		return ""
	}
	return m.Path + "@" + m.Version
}

// moduleComponent describes one dependency. A replaced module is described
// by what was built (the replacement), naming the original in properties; a
// replacement by a local directory has no version, so it gets no purl and
// no hash, and says so.
func moduleComponent(d *debug.Module) component {
	m := d
	var props []property
	if d.Replace != nil {
		m = d.Replace
		props = append(props, property{"breakglass:go:replaces", modKey(d)})
	}
	c := component{Type: "library", Name: m.Path, Version: m.Version}
	if m.Version == "" {
		c.BOMRef = "breakglass:go:local:" + m.Path
		props = append(props, property{"breakglass:go:local", "replaced by a local directory: no version or hash to check"})
	} else {
		c.Purl = purl(m.Path, m.Version)
		c.BOMRef = c.Purl
	}
	if m.Sum != "" {
		if h, ok := h1Hex(m.Sum); ok {
			c.Hashes = []hash{{"SHA-256", h}}
		}
		props = append(props, property{"breakglass:go:sum", m.Sum})
	}
	c.Properties = props
	return c
}

// h1Hex turns a go.sum "h1:" hash (base64 SHA-256 of the module's file
// tree listing) into hex, the form CycloneDX hashes take.
func h1Hex(sum string) (string, bool) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != sha256.Size {
		return "", false
	}
	return hex.EncodeToString(raw), true
}

// stampedVersion finds "-X breakglass/internal/version.Version=V" in the
// recorded -ldflags.
func stampedVersion(bi *debug.BuildInfo) string {
	for _, s := range bi.Settings {
		if s.Key != "-ldflags" {
			continue
		}
		f := strings.Fields(s.Value)
		for i, w := range f {
			if w == "-X" && i+1 < len(f) {
				if v, ok := strings.CutPrefix(f[i+1], versionVar+"="); ok {
					return strings.Trim(v, `'"`)
				}
			}
			if v, ok := strings.CutPrefix(w, "-X="+versionVar+"="); ok {
				return strings.Trim(v, `'"`)
			}
		}
	}
	return ""
}

// purl is the package URL of a Go module: pkg:golang/<path>@<version>, each
// path segment and the version percent-encoded.
func purl(path, version string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = pctEncode(s)
	}
	p := "pkg:golang/" + strings.Join(segs, "/")
	if version != "" {
		p += "@" + pctEncode(version)
	}
	return p
}

func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// serial is a urn:uuid derived from the binary's digest (or, without one,
// from its build information), as a version 8 UUID: stable for one binary,
// different for any other.
func serial(b Binary) string {
	var sum [32]byte
	if b.SHA256 != nil {
		sum = sha256.Sum256(append([]byte("breakglass sbom\x00"), b.SHA256...))
	} else {
		sum = sha256.Sum256([]byte("breakglass sbom\x00" + b.Info.String()))
	}
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	x := hex.EncodeToString(u)
	return "urn:uuid:" + x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// Module is one row of the human-readable listing.
type Module struct {
	Path, Version, SHA256, Note string
}

// Modules lists what the SBOM lists, for a table: the toolchain first, then
// each module as built (replacements resolved).
func Modules(bi *debug.BuildInfo) []Module {
	var out []Module
	if v, _, _ := strings.Cut(bi.GoVersion, " "); v != "" {
		out = append(out, Module{Path: "std", Version: v, Note: "Go toolchain"})
	}
	deps := append([]*debug.Module(nil), bi.Deps...)
	sort.SliceStable(deps, func(i, j int) bool { return modKey(deps[i]) < modKey(deps[j]) })
	for _, d := range deps {
		if d == nil {
			continue
		}
		m, note := d, ""
		if d.Replace != nil {
			m, note = d.Replace, "replaces "+modKey(d)
		}
		row := Module{Path: m.Path, Version: m.Version, Note: note}
		if h, ok := h1Hex(m.Sum); ok {
			row.SHA256 = h
		} else if m.Version == "" {
			row.Note = strings.TrimSpace(row.Note + " (local directory)")
		}
		out = append(out, row)
	}
	return out
}
