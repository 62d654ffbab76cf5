//go:build !unix

package statefile

import (
	"fmt"
	"os"
)

// oNoFollow is 0 where the system has no O_NOFOLLOW; Open still refuses a
// link it sees before opening.
const oNoFollow = 0

// lock makes the lock file but cannot lock it where flock does not exist:
// two processes on one journal are not caught there.
func lock(state string) (*holdLock, error) {
	path := lockPath(state)
	_, err := os.Lstat(path)
	created := os.IsNotExist(err)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state file %s: its lock file: %w", state, err)
	}
	return &holdLock{path: path, f: f, created: created}, nil
}
