//go:build !unix

package suites

// quietStdout does nothing where file descriptors cannot be swapped.
func quietStdout() func() { return func() {} }
