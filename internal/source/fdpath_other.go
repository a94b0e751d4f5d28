//go:build !linux

package source

import "os"

// openedPath is unknown here; callers fall back to resolving the path.
func openedPath(*os.File) (string, bool) { return "", false }
