package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/saasconform/saasconform/harness/proxy"
)

// output is one file serve writes, and the flag that puts it where it is.
type output struct {
	flag string // "-state"
	what string // what the file is, when it is not the flag's own file
	path string
	// replaced: serve replaces the file whole, so only a regular file or
	// a new name will do (statefile checks the state's own files).
	replaced bool
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
		outs = append(outs, output{"-state", "", f.state, false},
			output{"-state", "its lock file", f.state + ".lock", false},
			output{"-state", "its compaction file", f.state + ".tmp", false})
	}
	if f.violations != "" {
		// Not checked for a regular file: -violations /dev/stdout works.
		outs = append(outs, output{"-violations", "", f.violations, false})
	}
	if caDir != "" {
		outs = append(outs, output{"-ca-dir", "the CA file", filepath.Join(caDir, "saasconform-ca.pem"), true},
			output{"-ca-dir", "the environment file", filepath.Join(caDir, "saasconform.env"), true})
		if f.proxy != "" {
			outs = append(outs, output{"-ca-dir", "the Node.js preload", filepath.Join(caDir, proxy.NodePreloadName), true})
		}
	}
	return outs
}

// checkOutputs refuses two outputs of different flags that are one file,
// whatever the spelling, link or hard link that makes them one: the later
// write would destroy the earlier (the violations over the state, say). It
// also refuses a file serve replaces that is a link, a device, a pipe or a
// folder, so that serve stops before writing anything.
func checkOutputs(outs []output) error {
	for _, o := range outs {
		if st, err := os.Lstat(o.path); o.replaced && err == nil && !st.Mode().IsRegular() {
			what := "not a regular file"
			switch {
			case st.Mode()&fs.ModeSymlink != 0:
				target, _ := os.Readlink(o.path)
				what = "a symbolic link (to " + target + "), which serve would replace, not write through"
			case st.Mode().IsDir():
				what = "a folder"
			}
			return fmt.Errorf("%s: %s is %s; move it away", o, o.path, what)
		}
	}
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
