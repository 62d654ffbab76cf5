// Package cli is the saasconform command: argument parsing, exit codes and
// report paths around suites.Execute. main only calls Main.
package cli

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Exit codes.
const (
	ExitPassed = 0 // every spec that ran passed
	ExitFailed = 1 // a spec failed (or the run was interrupted)
	ExitSetup  = 2 // bad flags, a bad target file, or the run could not start
)

// Version is the release, set at build time with
// -ldflags "-X github.com/saasconform/saasconform/cmd/saasconform/internal/cli.Version=v1.2.3";
// without it the module version or VCS revision is shown.
var Version = ""

const usage = `saasconform plays Microsoft's side of the commercial-marketplace SaaS
Fulfillment API v2 against your app and reports every contract violation.

Usage:
  saasconform run -c target.yaml [flags]   run the conformance suites
  saasconform serve [flags]                run the fakes for hand testing (-h: flags)
  saasconform rules [-brief]               list the rules, the specs that check them
                                           and the reference-publisher mistakes that break them
  saasconform shim node [-o DIR]           print (or write into DIR) the Node.js preload that sends
                                           Microsoft's hosts through the proxy (NODE_OPTIONS=--require)
  saasconform version                      print the version
  saasconform help [run]                   print this help, or run's flags

Exit codes: 0 all specs passed, 1 a spec failed, 2 bad flags, a bad target
file, or the run could not start. Target files: see fixtures/targets/.
`

// Main runs the command with args (without the program name) and returns
// the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitSetup
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return runCommand(rest, stdout, stderr)
	case "serve":
		return serveCommand(rest, stdout, stderr)
	case "rules":
		return rulesCommand(rest, stdout, stderr)
	case "shim":
		return shimCommand(rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "saasconform", version())
		return ExitPassed
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] == "run" {
			newRunFlags(io.Discard).usage(stdout)
			return ExitPassed
		}
		fmt.Fprint(stdout, usage)
		return ExitPassed
	default:
		fmt.Fprintf(stderr, "saasconform: unknown command %q\n\n%s", cmd, usage)
		return ExitSetup
	}
}

// version is Version, else what the Go toolchain recorded in the binary.
func version() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		v = "devel " + rev[:min(12, len(rev))] + dirty
	}
	if v == "" {
		v = "(devel)"
	}
	return strings.TrimSpace(v + " " + info.GoVersion)
}
