package cli

import (
	"flag"
	"fmt"
	"io"

	"github.com/saasconform/saasconform/harness/proxy"
)

// shimCommand is `saasconform shim node [-o DIR]`: the Node.js preload, for
// a run or a serve session whose app is started by hand. Runs started by
// saasconform name it as {{.NodePreload}} themselves.
func shimCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "node" {
		fmt.Fprintln(stderr, "saasconform shim: the one shim is node: saasconform shim node [-o DIR]")
		return ExitSetup
	}
	fs := flag.NewFlagSet("saasconform shim node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("o", "", "write "+proxy.NodePreloadName+" into `DIR` instead of printing it")
	if err := fs.Parse(args[1:]); err != nil {
		return ExitSetup
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "saasconform shim node: unexpected argument %q\n", fs.Arg(0))
		return ExitSetup
	}
	if *dir == "" {
		_, _ = stdout.Write(proxy.NodePreload)
		return ExitPassed
	}
	path, err := proxy.WriteNodePreload(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "saasconform shim node: %v\n", err)
		return ExitSetup
	}
	fmt.Fprintf(stdout, "%s\nuse it with: NODE_OPTIONS=\"--require %s\" HTTPS_PROXY=<the proxy> NODE_EXTRA_CA_CERTS=<the CA file>\n", path, path)
	return ExitPassed
}
