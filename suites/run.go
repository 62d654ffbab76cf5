// Package suites holds the conformance specs: one file per flow, each spec
// named as the requirement it checks and labelled with its rule IDs and flow.
//
// A Go publisher runs them from its own tests:
//
//	func TestMarketplaceConformance(t *testing.T) {
//		cfg, err := target.Load("saasconform.yaml")
//		if err != nil {
//			t.Fatal(err)
//		}
//		suites.Run(t, suites.Config{Target: cfg})
//	}
//
// and anyone else runs them with `saasconform run -c target.yaml`.
package suites

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"
)

// Options shape one run of the specs.
type Options struct {
	JUnit       string // path of a JUnit XML report, "" for none
	JSON        string // path of Ginkgo's JSON report, "" for none
	Violations  string // path of violations.json (every violation of the run), "" for none
	HTML        string // path of the HTML report (harness/report), "" for none
	Markdown    string // path of the Markdown summary, "" for none
	Report      string // path of saasconform's JSON report (harness/report/SCHEMA.md), "" for none
	ToolVersion string // shown in the reports; "" means the binary's build info
	LabelFilter string // Ginkgo label filter, e.g. "flow:landing || WH-AUTH-01"
	Focus       []string
	// Seed orders the specs (they run in a random order); 0 picks one. The
	// seed used is printed and kept in the reports, so an order can be
	// run again.
	Seed    int64
	Verbose bool
	NoColor bool
	// Console, when set, gets a short plain-text account of the run after
	// it: the verdict, the totals and each cause once, with its fix.
	Console io.Writer
}

// ErrSetup marks failures to bring the run up (config, ports, the publisher
// not starting): the CLI answers them with exit code 2.
var ErrSetup = errors.New("setup failed")

// ErrNoSpecs is a run in which no spec was executed: a filter that matched
// nothing, or every spec skipped. It wraps ErrSetup (exit code 2): a run
// that checked nothing must not read as a pass.
var ErrNoSpecs = fmt.Errorf("%w: no spec ran", ErrSetup)

var once sync.Mutex

// nothingRan says why no spec was executed in r, or "" when one was.
func nothingRan(r *types.Report, o Options) string {
	if r == nil {
		return ""
	}
	skips := map[string]int{}
	var order []string
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		switch s.State {
		case types.SpecStateSkipped, types.SpecStatePending:
			if msg := s.Failure.Message; msg != "" {
				if skips[msg] == 0 {
					order = append(order, msg)
				}
				skips[msg]++
			}
		default:
			return ""
		}
	}
	if len(order) == 0 {
		why := "no spec matched"
		if o.LabelFilter != "" {
			why += fmt.Sprintf(" --label-filter %q", o.LabelFilter)
		}
		if len(o.Focus) > 0 {
			why += fmt.Sprintf(" --focus %q", o.Focus)
		}
		return why + " (saasconform rules lists the specs and their labels)"
	}
	var b strings.Builder
	b.WriteString("every spec that was selected skipped itself:")
	for _, m := range order {
		fmt.Fprintf(&b, "\n  %d × %s", skips[m], m)
	}
	return b.String()
}

// Run runs every spec against cfg's target from a Go test.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	ok, err := run(t, context.Background(), cfg, Options{}, t)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fail()
	}
}

// Execute runs the specs outside `go test` (the CLI). passed is false when
// a spec failed; err is set when the run could not start (wrapping ErrSetup).
func Execute(ctx context.Context, cfg Config, o Options) (passed bool, err error) {
	t := &failRecorder{}
	return run(t, ctx, cfg, o, nil)
}

type failRecorder struct{ failed bool }

func (f *failRecorder) Fail() { f.failed = true }

func run(t GinkgoTestingT, ctx context.Context, cfg Config, o Options, testing *testing.T) (bool, error) {
	once.Lock()
	defer once.Unlock()
	for _, p := range []string{o.JUnit, o.JSON, o.Violations, o.HTML, o.Markdown, o.Report} {
		if p != "" {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return false, fmt.Errorf("%w: report folder: %w", ErrSetup, err)
			}
		}
	}
	e, err := prepare(ctx, cfg)
	if err != nil {
		// Interrupted while starting (Ctrl-C during the readiness wait) is
		// an interruption, not a failed start; either way the reports say
		// what happened.
		interrupted := ctx.Err() != nil
		if e != nil {
			warn(o, testing, e.warnings)
		}
		werr := writeNotStarted(o, cfg, e, err, interrupted)
		if interrupted {
			return false, werr
		}
		return false, errors.Join(fmt.Errorf("%w: %w", ErrSetup, err), werr)
	}
	env = e
	defer func() {
		env = nil
		e.Close()
	}()
	suiteCfg, reporterCfg := GinkgoConfiguration()
	suiteCfg.LabelFilter = o.LabelFilter
	suiteCfg.FocusStrings = o.Focus
	suiteCfg.RandomizeAllSpecs = true
	if o.Seed != 0 {
		suiteCfg.RandomSeed = o.Seed
	}
	reporterCfg.JSONReport = o.JSON
	reporterCfg.NoColor = o.NoColor || testing == nil && os.Getenv("NO_COLOR") != ""
	if o.Verbose {
		reporterCfg.Verbose = true
	}
	RegisterFailHandler(failWithCause)
	finalReport = nil
	resetFoundation()
	passed := RunSpecs(t, "SaaS fulfillment conformance", suiteCfg, reporterCfg)
	// Stopped before the reports are written, so they hold its last words
	// and anything it left behind.
	_ = e.stopPublisher()
	warn(o, testing, e.warnings)
	// Written whatever happened to the specs: the data is what was recorded.
	errs := []error{writeReports(ctx, o, e), writeJUnit(o.JUnit)}
	if o.Violations != "" {
		errs = append(errs, writeViolations(o.Violations, e))
	}
	errs = append(errs, redactGinkgoFiles(e, o.JUnit, o.JSON))
	if err := errors.Join(errs...); err != nil {
		return passed, err
	}
	if ctx.Err() == nil {
		if why := nothingRan(finalReport, o); why != "" {
			return false, fmt.Errorf("%w: %s", ErrNoSpecs, why)
		}
	}
	return passed, nil
}

// warn prints what outlived the publisher: on the console, or in the test's
// log.
func warn(o Options, testing *testing.T, warnings []string) {
	for _, w := range warnings {
		switch {
		case o.Console != nil:
			fmt.Fprintf(o.Console, "saasconform: warning: %s\n", w)
		case testing != nil:
			testing.Logf("saasconform: warning: %s", w)
		}
	}
}
