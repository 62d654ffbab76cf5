package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/saasconform/saasconform/harness/proxy"
)

// output is one file serve writes, and the flag that puts it where it is.
type output struct {
	flag string // "-state"
	what string // what the file is, when it is not the flag's own file
	path string
}

func (o output) String() string {
	if o.what == "" {
		return o.flag
	}
	return o.flag + " (" + o.what + ")"
}

// serveOutputs lists every file serve writes or replaces, given the flags
// and the CA folder they lead to.
func serveOutputs(f *serveFlags, caDir string) []output {
	var outs []output
	if f.state != "" {
		outs = append(outs, output{"-state", "", f.state},
			output{"-state", "its lock file", f.state + ".lock"},
			output{"-state", "its compaction file", f.state + ".tmp"})
	}
	if f.violations != "" {
		outs = append(outs, output{"-violations", "", f.violations})
	}
	if caDir != "" {
		outs = append(outs, output{"-ca-dir", "the CA file", filepath.Join(caDir, "saasconform-ca.pem")},
			output{"-ca-dir", "the environment file", filepath.Join(caDir, "saasconform.env")},
			output{"-ca-dir", "the Node.js preload", filepath.Join(caDir, proxy.NodePreloadName)})
	}
	return outs
}

// checkOutputs refuses two outputs of different flags that are one file,
// whatever the spelling, link or hard link that makes them one: the later
// write would destroy the earlier (the violations over the state, say).
func checkOutputs(outs []output) error {
	for i, a := range outs {
		for _, b := range outs[i+1:] {
			if a.flag != b.flag && sameFile(a.path, b.path) {
				return fmt.Errorf("%s and %s are the same file (%s and %s): one would overwrite the other; give them different paths", a, b, a.path, b.path)
			}
		}
	}
	return nil
}

// sameFile tells whether a and b are one file: by identity when both exist,
// else by their absolute paths with the links in them resolved.
func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	return resolvedPath(a) == resolvedPath(b)
}

// resolvedPath is p made absolute, its links resolved as far as the path
// exists: the whole path, else its folder.
func resolvedPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = filepath.Clean(p)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(d, filepath.Base(abs))
	}
	return abs
}
