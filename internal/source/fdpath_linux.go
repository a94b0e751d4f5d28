//go:build linux

package source

import (
	"os"
	"strconv"
)

// openedPath returns the path of the file f refers to, as the kernel
// resolved it when f was opened: no later change of a link can fool it.
func openedPath(f *os.File) (string, bool) {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	return p, err == nil
}
