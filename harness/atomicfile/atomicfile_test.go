package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	for _, content := range []string{"one\n", "two, longer\n", ""} {
		if err := Write(path, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != content {
			t.Fatalf("read back %q, %v; want %q", b, err, content)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the folder holds %d entries, want the file alone", len(entries))
	}
}

func TestWriteRefusesWhatIsNotARegularFile(t *testing.T) {
	for name, make := range map[string]func(t *testing.T, dir, path string) error{
		"symbolic link": func(t *testing.T, dir, path string) error {
			os.WriteFile(filepath.Join(dir, "victim"), []byte("precious"), 0o600)
			return os.Symlink("victim", path)
		},
		"dangling link": func(t *testing.T, dir, path string) error { return os.Symlink("nowhere", path) },
		"folder":        func(t *testing.T, dir, path string) error { return os.Mkdir(path, 0o700) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if err := make(t, dir, path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(path)
			err := Write(path, []byte("new"), 0o600)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), strings.Fields(name)[len(strings.Fields(name))-1]) {
				t.Fatalf("Write over a %s = %v, want a refusal naming it", name, err)
			}
			if after, _ := os.Lstat(path); after.Mode() != before.Mode() {
				t.Errorf("the %s became %v", name, after.Mode())
			}
			if b, err := os.ReadFile(filepath.Join(dir, "victim")); err == nil && string(b) != "precious" {
				t.Errorf("written through the link: %q", b)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".f.") {
					t.Errorf("a temporary file was left: %s", e.Name())
				}
			}
		})
	}
}
