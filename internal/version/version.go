// Package version reports the build's version and commit, stamped in by the
// linker (see Makefile) or read from the Go build info.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by -ldflags "-X breakglass/internal/version.Version=... -X ...Commit=...".
var (
	Version = "dev"
	Commit  = ""
)

// Info returns version, commit and Go version.
func Info() (ver, commit, goVersion string) {
	ver, commit = Version, Commit
	if commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					commit = s.Value
				}
			}
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	return ver, commit, runtime.Version()
}

// String is the one-line form printed by `breakglass version`.
func String() string {
	v, c, g := Info()
	return fmt.Sprintf("breakglass %s (commit %s, %s)", v, c, g)
}
