//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package auth

import (
	"errors"
	"os"
)

// Without a terminal API the password is read as a line (echoed on a
// console): pipe it in there.
func isTerminal(*os.File) bool { return false }

func noEcho(*os.File) (func(), error) { return nil, errors.New("not supported") }
