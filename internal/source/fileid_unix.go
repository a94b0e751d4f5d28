//go:build unix

package source

import (
	"io/fs"
	"strconv"
	"syscall"
)

// fileID identifies a file independently of its name, so that a path that
// now names another file (rotation) is told apart from one that grew.
type fileID struct{ dev, ino uint64 }

func (id fileID) String() string {
	return strconv.FormatUint(id.dev, 10) + ":" + strconv.FormatUint(id.ino, 10)
}

func identity(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)} // Dev is 32-bit on some platforms
	}
	return fileID{}
}
