//go:build unix

package backup

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// shmDMSOffset is the byte of a WAL database's -shm file on which every
// connection holds a shared lock while it has the database open (SQLite's
// "dead man switch", UNIX_SHM_DMS in os_unix.c: UNIX_SHM_BASE 120 plus
// SQLITE_SHM_NLOCK 8).
const shmDMSOffset = 128

// heldOpen reports whether some process has the WAL database at db open:
// taking a write lock on the -shm file's DMS byte fails while any
// connection holds its shared lock. POSIX locks are per process and a
// close drops all of the process's locks on the file, so this must not
// run in a process that has db open itself (restore does not).
func heldOpen(db string) (bool, error) {
	f, err := os.OpenFile(db+"-shm", os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // nobody has it open in WAL mode
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: shmDMSOffset, Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
			return true, nil
		}
		return false, err
	}
	lk.Type = syscall.F_UNLCK
	_ = syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
	return false, nil
}
