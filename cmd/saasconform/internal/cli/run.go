package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/suites"
)

// runFlags are the flags of `saasconform run`.
type runFlags struct {
	fs           *flag.FlagSet
	config       string
	reportsDir   string
	junit        string
	json         string
	violations   string
	html         string
	markdown     string
	report       string
	publisherLog string
	labelFilter  string
	focus        []string
	seed         int64
	verbose      bool
	noColor      bool
}

func newRunFlags(output io.Writer) *runFlags {
	f := &runFlags{fs: flag.NewFlagSet("saasconform run", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(output)
	fs.Usage = func() {} // printed by the caller, to stdout for -h and stderr otherwise
	fs.StringVar(&f.config, "c", "", "the target file (YAML) that describes your app `target.yaml` (required)")
	fs.StringVar(&f.config, "config", "", "same as -c")
	fs.StringVar(&f.reportsDir, "reports-dir", "", "folder for the reports below (default: reports.dir of the target file, relative to that file)")
	fs.StringVar(&f.junit, "junit", "", "JUnit XML report `path` (default REPORTS/junit.xml)")
	fs.StringVar(&f.json, "json", "", "JSON report `path`: Ginkgo's machine-readable report (default REPORTS/report.json)")
	fs.StringVar(&f.violations, "violations", "", "every violation of the run as JSON, `path` (default REPORTS/violations.json)")
	fs.StringVar(&f.html, "html", "", "the report to read first: one self-contained HTML page with what failed, how to fix it, every call and webhook, `path` (default REPORTS/report.html)")
	fs.StringVar(&f.markdown, "markdown", "", "a short Markdown summary for a pull-request comment, `path` (default REPORTS/summary.md)")
	fs.StringVar(&f.report, "report", "", "saasconform's JSON report: specs, violations, transcript, webhooks, logs (schema: harness/report/SCHEMA.md), `path` (default REPORTS/saasconform.json)")
	fs.StringVar(&f.publisherLog, "publisher-log", "", "what the started publisher printed, `path` (default REPORTS/publisher.log)")
	fs.StringVar(&f.labelFilter, "label-filter", "", "run only specs whose labels match `EXPR`, e.g. \"flow:activation\" or \"FUL-RESOLVE-01 || flow:webhook\"")
	fs.Int64Var(&f.seed, "seed", 0, "order the specs with this random `N` (printed and kept in the reports by every run) to repeat a run's order; 0 picks one")
	fs.Func("focus", "run only specs whose text matches `REGEX` (repeatable)", func(s string) error {
		if _, err := regexp.Compile(s); err != nil {
			return err
		}
		f.focus = append(f.focus, s)
		return nil
	})
	fs.BoolVar(&f.verbose, "v", false, "print every spec as it runs, and the publisher's output on stderr")
	fs.BoolVar(&f.noColor, "no-color", false, "no ANSI colours (also NO_COLOR=1)")
	return f
}

func (f *runFlags) usage(w io.Writer) {
	fmt.Fprint(w, `Usage: saasconform run -c target.yaml [flags]

Runs the conformance suites against the app the target file describes,
starting it first when the file says how. Report paths given as flags are
relative to the current folder; REPORTS is the target file's reports.dir.

Flags:
`)
	f.fs.SetOutput(w)
	f.fs.PrintDefaults()
	fmt.Fprint(w, `
Exit codes: 0 every spec that ran passed, 1 a spec failed or the run was
interrupted, 2 bad flags, a bad target file, or the run could not start.
`)
}

func runCommand(args []string, stdout, stderr io.Writer) int {
	f := newRunFlags(stderr)
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			f.usage(stdout)
			return ExitPassed
		}
		fmt.Fprintln(stderr, "see: saasconform run -h")
		return ExitSetup
	}
	if f.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "saasconform run: unexpected argument %q (the target file goes after -c)\nsee: saasconform run -h\n", f.fs.Arg(0))
		return ExitSetup
	}
	if f.config == "" {
		fmt.Fprintln(stderr, "saasconform run: missing -c target.yaml (examples: fixtures/targets/)\nsee: saasconform run -h")
		return ExitSetup
	}
	if f.labelFilter != "" {
		// Ginkgo would exit the process on a bad filter, skipping teardown.
		if _, err := types.ParseLabelFilter(f.labelFilter); err != nil {
			fmt.Fprintf(stderr, "saasconform run: --label-filter %q: %v\n", f.labelFilter, err)
			return ExitSetup
		}
	}

	cfg, err := target.Load(f.config)
	if err != nil {
		printConfigErrors(stderr, err)
		return ExitSetup
	}

	dir := f.reportsDir
	if dir == "" {
		dir = cfg.ReportsDir()
	}
	paths := map[*string]string{&f.junit: "junit.xml", &f.json: "report.json", &f.violations: "violations.json",
		&f.html: "report.html", &f.markdown: "summary.md", &f.report: "saasconform.json", &f.publisherLog: "publisher.log"}
	for p, name := range paths {
		if *p == "" {
			*p = filepath.Join(dir, name)
		}
	}
	logFile, err := createFile(f.publisherLog)
	if err != nil {
		fmt.Fprintf(stderr, "saasconform run: publisher log: %v\n", err)
		return ExitSetup
	}
	defer logFile.Close()
	// Bounded: an app can print gigabytes; the log keeps its start and its
	// end and says how much of the middle it left out.
	pubLog := target.NewLogFile(logFile, publisherLogLimit, publisherLogTail)
	defer pubLog.Close()
	var logs io.Writer = pubLog
	if f.verbose {
		logs = io.MultiWriter(pubLog, stderr)
	}

	// The publisher runs in its own process group, so Ctrl-C reaches only
	// us: cancelling ctx stops it, Ginkgo (which sees the signal too) ends
	// the running spec and writes the reports, and Execute tears down.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupted := make(chan struct{})
	target.StopOnSignal(ctx, func() {
		close(interrupted)
		fmt.Fprintln(stderr, "saasconform: interrupted — stopping the publisher and writing the reports (Ctrl-C again to quit at once)")
		cancel()
	})

	passed, err := suites.Execute(ctx, suites.Config{Target: cfg, Logs: logs}, suites.Options{
		JUnit: f.junit, JSON: f.json, Violations: f.violations, HTML: f.html, Markdown: f.markdown, Report: f.report,
		ToolVersion: version(),
		Console:     stderr,
		LabelFilter: f.labelFilter, Focus: f.focus, Seed: f.seed, Verbose: f.verbose, NoColor: f.noColor || !terminal(os.Stdout),
	})
	if err != nil {
		fmt.Fprintf(stderr, "saasconform: %v\n", err)
		if errors.Is(err, suites.ErrNoSpecs) {
			printReports(stderr, f)
			return ExitSetup
		}
		switch {
		case cfg.Publisher.Start == nil:
		case !suites.PublisherStarted(err):
			fmt.Fprintln(stderr, "no publisher was started: the run stopped before it could start it, for the reason above")
		case empty(f.publisherLog):
			fmt.Fprintln(stderr, "the publisher was started but printed nothing")
		default:
			fmt.Fprintf(stderr, "the publisher's output is in %s\n", f.publisherLog)
		}
		fmt.Fprintf(stderr, "the reports say the run did not start: %s %s\n", f.html, f.junit)
		return ExitSetup
	}
	printReports(stderr, f)
	select {
	case <-interrupted:
		fmt.Fprintln(stderr, "saasconform: the run was interrupted; the reports cover the specs that ran")
		return ExitFailed
	default:
	}
	if !passed {
		return ExitFailed
	}
	return ExitPassed
}

// publisher.log keeps the first publisherLogLimit bytes of the app's
// output and its last publisherLogTail bytes.
const (
	publisherLogLimit = 32 << 20
	publisherLogTail  = 2 << 20
)

// printReports lists the files the run wrote, the HTML report first: it
// is the one to open.
func printReports(w io.Writer, f *runFlags) {
	fmt.Fprintf(w, "report:  %s\n", f.html)
	fmt.Fprintf(w, "summary: %s\n", f.markdown)
	fmt.Fprintf(w, "also:    %s %s %s %s (publisher log: %s)\n", f.report, f.junit, f.json, f.violations, f.publisherLog)
}

// printConfigErrors lists every problem in the target file, one a line.
func printConfigErrors(w io.Writer, err error) {
	var list target.Errors
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintln(w, err)
}

// empty reports whether the file at path has no content (or cannot be read).
func empty(path string) bool {
	fi, err := os.Stat(path)
	return err != nil || fi.Size() == 0
}

func createFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.Create(path)
}

// terminal reports whether f is a terminal: Ginkgo's colours only garble a
// CI log or a file.
func terminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
