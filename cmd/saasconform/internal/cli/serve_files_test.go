//go:build unix

package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/statefile"
)

// upWriter is stdout for an in-process serve: up is closed once the banner
// is out, which means serve accepted its flags and files.
type upWriter struct {
	syncBuffer
	once sync.Once
	up   chan struct{}
}

func (w *upWriter) Write(p []byte) (int, error) {
	n, err := w.syncBuffer.Write(p)
	if strings.Contains(w.String(), "violations are printed below") {
		w.once.Do(func() { close(w.up) })
	}
	return n, err
}

// serveOnce runs serve in this process on free ports. A serve that comes up
// is stopped at once and reported with up = true; the tests below expect a
// refusal.
func serveOnce(t *testing.T, args ...string) (code int, stderr string, up bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &upWriter{up: make(chan struct{})}
	var errs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, append([]string{"-marketplace-addr", "127.0.0.1:0", "-identity-addr", "127.0.0.1:0",
			"-control-addr", "127.0.0.1:0"}, args...), stdout, &errs)
	}()
	select {
	case code = <-done:
		return code, errs.String(), false
	case <-stdout.up:
		cancel()
		return <-done, errs.String(), true
	case <-time.After(30 * time.Second):
		t.Fatalf("serve neither refused nor came up in 30 s; stderr:\n%s", errs.String())
		return 0, "", false
	}
}

// folderState describes every entry of dir (type, link target, bytes), so
// a test can tell that a refusal changed nothing.
func folderState(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("%s %v", e.Name(), st.Mode())
		if target, err := os.Readlink(p); err == nil {
			line += " → " + target
		} else if st.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %d bytes %q", len(b), b[:min(len(b), 80)])
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// writeState makes a real state file holding one record.
func writeState(t *testing.T, path string) {
	t.Helper()
	sf, err := statefile.Open(path, statefile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sf.Append(statefile.Record{Kind: "test.note", ID: "a", Value: []byte(`"keep me"`)}); err != nil {
		t.Fatal(err)
	}
	if err := sf.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestServeRefusesAStateThatIsNotARegularFile: serve -state on a device, a
// pipe or a link used to replace it with a file holding the fake CA's key.
func TestServeRefusesAStateThatIsNotARegularFile(t *testing.T) {
	cases := []struct {
		name string
		make func(t *testing.T, dir, path string)
		want string
	}{
		{"fifo", func(t *testing.T, dir, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "is a named pipe"},
		{"device", func(t *testing.T, dir, path string) {
			if os.Getuid() != 0 {
				t.Skip("making a device node needs root")
			}
			if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|3); err != nil { // as /dev/null
				t.Fatal(err)
			}
		}, "is a device"},
		{"link to an empty file", func(t *testing.T, dir, path string) {
			if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("empty", path); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "fake.state")
			c.make(t, dir, path)
			before := folderState(t, dir)
			code, stderr, up := serveOnce(t, "-state", path)
			if up || code != ExitSetup || !strings.Contains(stderr, "-state") || !strings.Contains(stderr, c.want) {
				t.Errorf("serve -state on a %s: up %v, exit %d, stderr:\n%s\nwant exit %d and an error saying it %s", c.name, up, code, stderr, ExitSetup, c.want)
			}
			if after := folderState(t, dir); after != before {
				t.Errorf("serve changed the folder:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// TestServeRefusesAStateAnotherServeHolds: two serves on one file used to
// interleave their appends and damage it.
func TestServeRefusesAStateAnotherServeHolds(t *testing.T) {
	state := filepath.Join(t.TempDir(), "fake.state")
	first := startServeChild(t, "-state", state)
	code, stderr, up := serveOnce(t, "-state", state, "-ca-dir", t.TempDir())
	pid := "pid " + strconv.Itoa(first.cmd.Process.Pid)
	if up || code != ExitSetup || !strings.Contains(stderr, "in use") || !strings.Contains(stderr, pid) {
		t.Fatalf("a second serve on the same -state: up %v, exit %d, stderr:\n%s\nwant exit %d naming %s", up, code, stderr, ExitSetup, pid)
	}
	// kill -9 frees the file for the next serve.
	first.kill()
	startServeChild(t, "-state", state)
}

// TestServeRefusesTwoOutputsInOneFile: -violations on the -state file (by
// the same name, another spelling, a link or a hard link) or a state file
// where the CA file goes used to destroy the state.
func TestServeRefusesTwoOutputsInOneFile(t *testing.T) {
	cases := []struct {
		name  string
		args  func(dir, state string) []string
		flags []string
	}{
		{"same name", func(dir, state string) []string { return []string{"-violations", state} }, []string{"-violations", "-state"}},
		{"another spelling", func(dir, state string) []string {
			return []string{"-violations", dir + "/sub/../fake.state"}
		}, []string{"-violations", "-state"}},
		{"symbolic link", func(dir, state string) []string {
			os.Symlink("fake.state", filepath.Join(dir, "violations.json"))
			return []string{"-violations", filepath.Join(dir, "violations.json")}
		}, []string{"-violations", "-state"}},
		{"hard link", func(dir, state string) []string {
			os.Link(state, filepath.Join(dir, "violations.json"))
			return []string{"-violations", filepath.Join(dir, "violations.json")}
		}, []string{"-violations", "-state"}},
		{"the state's lock file", func(dir, state string) []string {
			return []string{"-violations", state + ".lock"}
		}, []string{"-violations", "-state"}},
		{"the CA file", func(dir, state string) []string {
			os.Rename(state, filepath.Join(dir, "saasconform-ca.pem"))
			return []string{"-state", filepath.Join(dir, "saasconform-ca.pem"), "-ca-dir", dir + "/"}
		}, []string{"-state", "-ca-dir"}},
		{"the environment file", func(dir, state string) []string {
			return []string{"-violations", filepath.Join(dir, "saasconform.env")}
		}, []string{"-violations", "-ca-dir"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.Mkdir(filepath.Join(dir, "sub"), 0o755)
			state := filepath.Join(dir, "fake.state")
			writeState(t, state)
			args := c.args(dir, state)
			if args[0] != "-state" {
				args = append([]string{"-state", state}, args...)
			}
			before := folderState(t, dir)
			code, stderr, up := serveOnce(t, args...)
			named := true
			for _, f := range c.flags {
				named = named && strings.Contains(stderr, f)
			}
			if up || code != ExitSetup || !named || !strings.Contains(stderr, "same file") {
				t.Errorf("serve %s: up %v, exit %d, stderr:\n%s\nwant exit %d, an error saying %v name the same file", strings.Join(args, " "), up, code, stderr, ExitSetup, c.flags)
			}
			if after := folderState(t, dir); after != before {
				t.Errorf("serve changed the folder:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// TestServeWritesNoFileThroughALink: the files serve writes beside the
// state (the CA file, the environment file, the Node.js preload) used to be
// written through a link at their name, into whatever it pointed at.
func TestServeWritesNoFileThroughALink(t *testing.T) {
	for _, c := range []struct {
		name  string
		extra []string
	}{
		{"saasconform-ca.pem", nil},
		{"saasconform.env", nil},
		{"saasconform-node-preload.cjs", []string{"-proxy", "127.0.0.1:0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			victim := filepath.Join(dir, "victim.txt")
			if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("victim.txt", filepath.Join(dir, c.name)); err != nil {
				t.Fatal(err)
			}
			code, stderr, up := serveOnce(t, append([]string{"-state", filepath.Join(dir, "fake.state")}, c.extra...)...)
			if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
				t.Errorf("serve wrote through the link %s into the file it points at: %q", c.name, b)
			}
			if target, err := os.Readlink(filepath.Join(dir, c.name)); err != nil || target != "victim.txt" {
				t.Errorf("the link %s was replaced (%q, %v)", c.name, target, err)
			}
			if up || code != ExitSetup || !strings.Contains(stderr, c.name) || !strings.Contains(stderr, "symbolic link") {
				t.Errorf("up %v, exit %d, stderr:\n%s\nwant exit %d and an error saying %s is a symbolic link", up, code, stderr, ExitSetup, c.name)
			}
			// Refused before anything was written: no state file either.
			if _, err := os.Lstat(filepath.Join(dir, "fake.state")); err == nil {
				t.Error("serve refused to start but created the state file")
			}
		})
	}
}
