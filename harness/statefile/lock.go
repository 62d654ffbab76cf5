package statefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// holdLock is the lock on a journal: an exclusive lock on path.lock, a file
// that also names the process holding it. It is a separate file because
// compaction replaces the journal by rename, which a lock on the journal
// itself would not survive.
type holdLock struct {
	path    string
	f       *os.File
	created bool // Open made the file, so a refusal removes it again
}

func lockPath(path string) string { return path + ".lock" }

// claim writes who holds the lock into the lock file, once the journal is
// accepted: until then a refusal leaves an older lock file as it was.
func (l *holdLock) claim() error {
	who := strconv.Itoa(os.Getpid()) + " " + program() + "\n"
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("state file lock %s: %w", l.path, err)
	}
	if _, err := l.f.WriteAt([]byte(who), 0); err != nil {
		return fmt.Errorf("state file lock %s: %w", l.path, err)
	}
	return nil
}

// release drops the lock. The file goes too on Close (remove) or when Open
// made it; it is unlinked before the lock is dropped, so whoever locks the
// old file next sees it is gone and starts over.
func (l *holdLock) release(remove bool) {
	if remove || l.created {
		if st, err := os.Lstat(l.path); err == nil {
			if fst, err := l.f.Stat(); err == nil && os.SameFile(st, fst) {
				os.Remove(l.path)
			}
		}
	}
	l.f.Close()
}

// holder describes the process named in a lock file.
func holder(f *os.File) string {
	b := make([]byte, 256)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "another process"
	}
	pid, prog, _ := strings.Cut(strings.TrimSpace(string(b[:n])), " ")
	if _, err := strconv.Atoi(pid); err != nil {
		return "another process (it has not written its pid yet)"
	}
	if prog == "" {
		return "pid " + pid
	}
	return "pid " + pid + " (" + prog + ")"
}

// program is how the lock file names this process: the command and, when
// there is one, its subcommand ("saasconform serve").
func program() string {
	if len(os.Args) == 0 {
		return ""
	}
	p := filepath.Base(os.Args[0])
	if len(os.Args) > 1 && os.Args[1] != "" && !strings.HasPrefix(os.Args[1], "-") {
		p += " " + os.Args[1]
	}
	// One line, whatever the arguments hold.
	return strings.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, p)
}

// lockFileError says what is wrong with a lock file that cannot be used.
func lockFileError(state, path string, err error) error {
	if st, lerr := os.Lstat(path); lerr == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("state file %s: its lock file %s is not a regular file (%v); remove it", state, path, st.Mode().Type()&fs.ModeType)
	}
	return fmt.Errorf("state file %s: its lock file: %w", state, err)
}
