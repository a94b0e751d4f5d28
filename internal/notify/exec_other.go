//go:build !unix

package notify

import "os/exec"

// killGroup: without process groups only the command itself is killed on
// timeout (exec.CommandContext's default).
func killGroup(*exec.Cmd) {}
