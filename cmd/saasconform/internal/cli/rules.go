package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/saasconform/saasconform/spec"
	"github.com/saasconform/saasconform/suites"
)

// rulesCommand prints the rule catalogue: each rule, the specs that check
// it and the reference-publisher mistakes that break it.
func rulesCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brief := fs.Bool("brief", false, "one line a rule: ID, severity, profiles, spec count, mutants")
	if err := fs.Parse(args); err != nil {
		return ExitSetup
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "saasconform rules: unexpected argument %q\n", fs.Arg(0))
		return ExitSetup
	}
	rules, err := spec.Rules()
	if err != nil {
		fmt.Fprintln(stderr, "saasconform rules:", err)
		return ExitSetup
	}
	specs, err := suites.Catalog()
	if err != nil {
		fmt.Fprintln(stderr, "saasconform rules:", err)
		return ExitSetup
	}
	checkedBy := map[string][]string{}
	for _, s := range specs {
		for _, r := range s.Rules {
			checkedBy[r] = append(checkedBy[r], s.Text)
		}
	}
	if *brief {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RULE\tSEVERITY\tPROFILES\tSPECS\tMUTANTS")
		for _, r := range rules {
			n := fmt.Sprint(len(checkedBy[r.ID]))
			if r.NotCheckable != "" {
				n = "not checkable"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Severity, profiles(r), n, strings.Join(r.Mutants, ", "))
		}
		tw.Flush()
		return ExitPassed
	}
	for _, r := range rules {
		fmt.Fprintf(stdout, "%s (%s) %s\n  %s\n", r.ID, r.Severity, r.Statement, r.Doc)
		if len(r.Profiles) > 0 {
			fmt.Fprintf(stdout, "  profiles: %s (checked only with marketplace.profile set to one of them)\n", strings.Join(r.Profiles, ", "))
		}
		if r.Source != "" {
			fmt.Fprintf(stdout, "  source: %s\n", r.Source)
		}
		if r.NotCheckable != "" {
			fmt.Fprintf(stdout, "  not checkable from outside: %s\n", r.NotCheckable)
		}
		for _, s := range checkedBy[r.ID] {
			fmt.Fprintf(stdout, "  spec:   %s\n", s)
		}
		for _, m := range r.Mutants {
			fmt.Fprintf(stdout, "  mutant: %s\n", m)
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "%d rules, %d specs\n", len(rules), len(specs))
	return ExitPassed
}

// profiles is the PROFILES column: the rule's profiles, or "all".
func profiles(r spec.Rule) string {
	if len(r.Profiles) == 0 {
		return "all"
	}
	return strings.Join(r.Profiles, ",")
}
