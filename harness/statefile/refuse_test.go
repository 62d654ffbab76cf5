//go:build unix

package statefile

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// snapshot describes every entry of dir: its type, a link's target, a
// regular file's bytes. Two equal snapshots mean nothing on disk changed.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	must(t, err)
	var lines []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		st, err := os.Lstat(p)
		must(t, err)
		line := fmt.Sprintf("%s %v", e.Name(), st.Mode())
		switch {
		case st.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " → " + target
		case st.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %q", b)
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestOpenRefusesWhatIsNotARegularFile: a state path must be a regular file
// or a new name. Open used to take anything of size 0 (a device, a FIFO, a
// link to an empty file) for a new journal and rename a fresh file over it.
func TestOpenRefusesWhatIsNotARegularFile(t *testing.T) {
	cases := []struct {
		name string
		make func(t *testing.T, dir, path string)
		want string
	}{
		{"fifo", func(t *testing.T, dir, path string) { must(t, syscall.Mkfifo(path, 0o600)) }, "named pipe"},
		{"device", func(t *testing.T, dir, path string) {
			if os.Getuid() != 0 {
				t.Skip("making a device node needs root")
			}
			must(t, syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|3)) // as /dev/null
		}, "device"},
		{"link to an empty file", func(t *testing.T, dir, path string) {
			must(t, os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
			must(t, os.Symlink("empty", path))
		}, "symbolic link"},
		{"link to a state file", func(t *testing.T, dir, path string) {
			sf := open(t, filepath.Join(dir, "real"), Options{})
			must(t, sf.Append(Record{Kind: "sub", ID: "a", Value: val(1)}))
			must(t, sf.Close())
			must(t, os.Symlink("real", path))
		}, "symbolic link"},
		{"dangling link", func(t *testing.T, dir, path string) { must(t, os.Symlink("nowhere", path)) }, "symbolic link"},
		{"folder", func(t *testing.T, dir, path string) { must(t, os.Mkdir(path, 0o700)) }, "folder"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state")
			c.make(t, dir, path)
			before := snapshot(t, dir)
			sf, err := Open(path, Options{})
			if err == nil {
				sf.Close()
				t.Fatalf("Open accepted a %s", c.name)
			}
			// The test's folder name holds the case's name: look past it.
			if msg := err.Error(); !strings.Contains(strings.ReplaceAll(msg, path, ""), c.want) || !strings.Contains(msg, path) {
				t.Errorf("Open(%s) = %q, want an error naming the path and saying %q", c.name, err, c.want)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("refusing a %s changed the folder:\nbefore:\n%s\nafter:\n%s", c.name, before, after)
			}
		})
	}
}

// TestRefusalKeepsEverySibling: refusing a file touches nothing, not even a
// <file>.tmp beside it, which may well be the user's.
func TestRefusalKeepsEverySibling(t *testing.T) {
	damaged := string(headerLine()) + "garbage\n" + `{"k":"sub","id":"b","v":2}` + "\n"
	for name, content := range map[string]string{
		"not a state file": "my notes\n",
		"another version":  `{"k":"saasconform-state","id":"","v":99}` + "\n",
		"damaged":          damaged,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "notes")
			must(t, os.WriteFile(path, []byte(content), 0o644))
			must(t, os.WriteFile(path+".tmp", []byte("draft, keep me\n"), 0o644))
			before := snapshot(t, dir)
			if sf, err := Open(path, Options{}); err == nil {
				sf.Close()
				t.Fatal("Open accepted it")
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("the refusal changed the folder:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// TestALeftoverOfOursIsStillCleanedUp: the .tmp of a compaction that died
// half-way is removed once the journal is accepted.
func TestALeftoverOfOursIsStillCleanedUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	must(t, open(t, path, Options{}).Close())
	must(t, os.WriteFile(tmpPath(path), append(headerLine(), `{"k":"sub","id":"a","v":`...), 0o600))
	sf := open(t, path, Options{})
	defer sf.Close()
	if _, err := os.Lstat(tmpPath(path)); !os.IsNotExist(err) {
		t.Errorf("the half-written compaction file is still there (%v)", err)
	}
}

// TestASecondOpenIsRefusedWhileTheFirstHoldsTheFile: two writers on one
// journal interleave their appends; the second Open must say who holds it.
func TestASecondOpenIsRefusedWhileTheFirstHoldsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	first := open(t, path, Options{})
	must(t, first.Append(Record{Kind: "sub", ID: "a", Value: val(1)}))
	before, _ := os.ReadFile(path)
	second, err := Open(path, Options{})
	if err == nil {
		second.Close()
		t.Fatal("a second Open of a file in use succeeded")
	}
	if !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second Open = %q, want it to say the file is in use by pid %d", err, os.Getpid())
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("the refused Open changed the journal: %q → %q", before, after)
	}
	must(t, first.Close())
	again := open(t, path, Options{})
	defer again.Close()
	if got := contents(again.Loaded()); got["sub/a"] != "1" {
		t.Errorf("after the first closed, the file holds %v", got)
	}
}

// TestTheHoldIsReleasedByKill9 holds a journal in a child process, checks
// that Open names that process, kills it with SIGKILL and opens the file.
func TestTheHoldIsReleasedByKill9(t *testing.T) {
	if p := os.Getenv("STATEFILE_HOLDER"); p != "" {
		sf, err := Open(p, Options{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		defer sf.Close()
		fmt.Println("holding")
		select {} // until killed
	}
	path := filepath.Join(t.TempDir(), "state")
	cmd := exec.Command(os.Args[0], "-test.run=^TestTheHoldIsReleasedByKill9$")
	cmd.Env = append(os.Environ(), "STATEFILE_HOLDER="+path)
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "holding\n" {
		t.Fatalf("the holder said %q", line)
	}
	_, err = Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("Open while another process holds the file = %v, want an error naming pid %d", err, cmd.Process.Pid)
	}
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()
	sf := open(t, path, Options{})
	must(t, sf.Close())
}
