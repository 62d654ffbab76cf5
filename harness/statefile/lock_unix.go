//go:build unix

package statefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// oNoFollow makes an open fail on a symbolic link instead of following it.
const oNoFollow = syscall.O_NOFOLLOW

// lock takes the exclusive lock of the journal at state, or says who holds
// it. flock locks belong to the open file, so the kernel drops them when
// the holder dies, kill -9 included.
func lock(state string) (*holdLock, error) {
	path := lockPath(state)
	for attempt := 0; attempt < 10; attempt++ {
		created := true
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
		if errors.Is(err, fs.ErrExist) {
			created = false
			f, err = os.OpenFile(path, os.O_RDWR|oNoFollow, 0)
			if errors.Is(err, fs.ErrNotExist) {
				continue // its holder just removed it
			}
		}
		if err != nil {
			return nil, lockFileError(state, path, err)
		}
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			f.Close()
			return nil, lockFileError(state, path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			who := holder(f)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("state file %s is in use by %s, which holds %s; stop it, or give this one another state file", state, who, path)
			}
			return nil, fmt.Errorf("state file %s: locking %s: %w", state, path, err)
		}
		// The holder may have removed the file between our open and our
		// lock: a lock on a file no longer at path guards nothing.
		st, err := os.Lstat(path)
		fst, ferr := f.Stat()
		if err == nil && ferr == nil && os.SameFile(st, fst) {
			return &holdLock{path: path, f: f, created: created}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("state file %s: its lock file %s keeps being replaced; is another process starting and stopping on it?", state, path)
}
