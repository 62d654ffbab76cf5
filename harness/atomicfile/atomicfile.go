// Package atomicfile writes a whole file by renaming a new one over it, so
// a reader sees the old contents or the new, and a link, device or pipe at
// the name is never written through.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write puts data at path with permissions perm. Where path exists it must
// be a regular file: a symbolic link, a device, a pipe or a folder there is
// refused and left as it was, as writing the file would otherwise go where
// the link points or destroy the node.
func Write(path string, data []byte, perm fs.FileMode) error {
	if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
		return &fs.PathError{Op: "write", Path: path, Err: fmt.Errorf("is %s, not a regular file; move it away", kind(path, st.Mode()))}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// The new file goes in the same folder: a rename does not cross file
	// systems. A link put at path meanwhile is replaced, not followed.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	return nil
}

func kind(path string, mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSymlink != 0:
		target, _ := os.Readlink(path)
		return "a symbolic link (to " + target + ")"
	case mode.IsDir():
		return "a folder"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case mode&fs.ModeDevice != 0:
		return "a device"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}
