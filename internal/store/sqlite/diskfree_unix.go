//go:build linux || darwin || freebsd

package sqlite

import (
	"path/filepath"
	"syscall"
)

// diskFree returns the bytes an unprivileged writer may still use on the
// filesystem holding path.
func diskFree(path string) (uint64, bool, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		return 0, false, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true, nil
}
