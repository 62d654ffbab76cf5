//go:build unix

package suites

import (
	"os"
	"syscall"
)

// quietStdout sends file descriptor 1 to /dev/null until the returned
// function runs: Ginkgo writes its progress there even in a dry run.
func quietStdout() func() {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return func() {}
	}
	saved, err := syscall.Dup(1)
	if err != nil {
		devnull.Close()
		return func() {}
	}
	if err := syscall.Dup2(int(devnull.Fd()), 1); err != nil {
		syscall.Close(saved)
		devnull.Close()
		return func() {}
	}
	return func() {
		_ = syscall.Dup2(saved, 1)
		syscall.Close(saved)
		devnull.Close()
	}
}
