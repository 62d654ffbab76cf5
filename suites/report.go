package suites

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/report"
	"github.com/saasconform/saasconform/harness/violation"
)

// finalReport is Ginkgo's report of the run in progress, kept by the
// ReportAfterSuite below for run() to turn into saasconform's reports. run
// holds the lock that serialises runs, so only one run touches it.
var finalReport *types.Report

var _ = ReportAfterSuite("saasconform reports", func(r Report) {
	finalReport = &r
})

// writeReports writes the HTML, Markdown and JSON reports o names from
// Ginkgo's final report and what e recorded. It runs after every run, failed
// or cut short; without Ginkgo's report (it never got that far) the reports
// still hold the violations, exchanges, deliveries and logs recorded.
func writeReports(ctx context.Context, o Options, e *Env) error {
	judgeTokenChurn(e)
	if o.HTML == "" && o.Markdown == "" && o.Report == "" && o.Console == nil {
		return nil
	}
	d := report.RunData{ToolVersion: o.ToolVersion, Violations: e.MS.Log.All(), Exchanges: e.MS.Exchanges(),
		Deliveries: e.Sender.Deliveries(), PublisherLog: e.PublisherLogs(), Secrets: e.Secrets(),
		State: e.StateChecks()}
	if e.Target != nil {
		d.Target = e.Target.Source
	}
	var reasons []string
	if ctx.Err() != nil {
		d.Interrupted = true
		reasons = append(reasons, "the run was cancelled (Ctrl-C or SIGTERM)")
	}
	if e.Proc != nil && ctx.Err() == nil && e.exitedEarly {
		msg := "the publisher exited during the run"
		if err := e.Proc.ExitErr(); err != nil {
			msg += ": " + err.Error()
		}
		reasons = append(reasons, msg+" (its last output is in the publisher log)")
	}
	var gr types.Report
	if finalReport != nil {
		gr = *finalReport
	} else {
		d.Interrupted = true
		reasons = append(reasons, "Ginkgo produced no final report")
	}
	d.Reason = strings.Join(reasons, "; ")
	r := report.Build(gr, d)
	var errs []error
	if o.Console != nil {
		errs = append(errs, report.WriteConsole(o.Console, r))
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer, *report.Report) error
	}{{o.Report, report.WriteJSON}, {o.Markdown, report.WriteMarkdown}, {o.HTML, report.WriteHTML}} {
		if out.path != "" {
			errs = append(errs, writeFile(out.path, r, out.write))
		}
	}
	return errors.Join(errs...)
}

// judgeTokenChurn records AUTH-06 once a run when its transcript shows an
// app that asks Entra ID for a token per call (identity.TokenChurn).
func judgeTokenChurn(e *Env) {
	if e == nil || e.MS == nil || len(e.MS.Log.ForRule(identity.RuleTokenChurn)) > 0 {
		return
	}
	if v, ok := identity.TokenChurn(e.MS.Exchanges()); ok {
		e.MS.Log.Record(v)
	}
}

func writeFile(path string, r *report.Report, write func(io.Writer, *report.Report) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("suites: report: %w", err)
	}
	if err := write(f, r); err != nil {
		f.Close()
		return fmt.Errorf("suites: report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("suites: report: %w", err)
	}
	return nil
}

// writeViolations writes e's violations to path as violations.json.
func writeViolations(path string, e *Env) error {
	target := ""
	if e.Target != nil {
		target = e.Target.Source
	}
	return e.MS.Log.WriteFileFunc(path, target, e.Redactor().RedactViolation)
}

// writeJUnit writes one testcase per spec: the suite's own report nodes
// (ReportAfterSuite) are left out, so a CI dashboard counts requirements.
func writeJUnit(path string) error {
	if path == "" {
		return nil
	}
	r := types.Report{SuiteDescription: "SaaS fulfillment conformance"}
	if finalReport != nil {
		r = *finalReport
	}
	return reporters.GenerateJUnitReportWithConfig(r, path, reporters.JunitReportConfig{OmitSuiteSetupNodes: true})
}

// suiteName is the suite's name in every report.
const suiteName = "SaaS fulfillment conformance"

// writeNotStarted replaces every report o names with one of a run that
// never reached its specs — it could not start, or was interrupted first —
// so no earlier run's reports are left to pass for this one's (a CI step
// would publish a stale pass). e, when not nil, is the closed Env with what
// was recorded before the failure.
func writeNotStarted(o Options, cfg Config, e *Env, why error, interrupted bool) error {
	first, _, _ := strings.Cut(why.Error(), "\n")
	reason, kind, title := "the run did not start: "+first, "not started", "saasconform: the run did not start"
	if interrupted {
		reason = "the run was interrupted (Ctrl-C or SIGTERM) before any spec ran: " + first
		kind, title = "interrupted", "saasconform: the run was interrupted before any spec ran"
	}
	now := time.Now()
	gr := types.Report{SuiteDescription: suiteName, StartTime: now, EndTime: now, SpecialSuiteFailureReasons: []string{reason}}
	d := report.RunData{ToolVersion: o.ToolVersion, Interrupted: interrupted, NotStarted: !interrupted, Reason: reason}
	if cfg.Target != nil {
		d.Target = cfg.Target.Source
	}
	log, redact := &violation.Log{}, func(v violation.Violation) violation.Violation { return v }
	if e != nil {
		d.PublisherLog, d.Secrets = e.PublisherLogs(), e.Secrets()
		redact = e.Redactor().RedactViolation
		if e.MS != nil {
			log = e.MS.Log
			d.Violations, d.Exchanges = e.MS.Log.All(), e.MS.Exchanges()
		}
	}
	r := report.Build(gr, d)
	var errs []error
	for _, out := range []struct {
		path  string
		write func(io.Writer, *report.Report) error
	}{{o.Report, report.WriteJSON}, {o.Markdown, report.WriteMarkdown}, {o.HTML, report.WriteHTML}} {
		if out.path != "" {
			errs = append(errs, writeFile(out.path, r, out.write))
		}
	}
	if o.JSON != "" {
		errs = append(errs, reporters.GenerateJSONReport(gr, o.JSON))
	}
	if o.Violations != "" {
		errs = append(errs, log.WriteFileFunc(o.Violations, d.Target, redact))
	}
	if o.JUnit != "" {
		j := reporters.JUnitTestSuites{Tests: 1, Failures: 1, TestSuites: []reporters.JUnitTestSuite{{
			Name: suiteName, Tests: 1, Failures: 1, Timestamp: now.UTC().Format("2006-01-02T15:04:05"),
			TestCases: []reporters.JUnitTestCase{{Name: title, Classname: suiteName, Status: kind,
				Failure: &reporters.JUnitFailure{Message: reason, Type: kind, Description: why.Error()}}},
		}}}
		b, err := xml.MarshalIndent(j, "", "  ")
		if err == nil {
			err = os.WriteFile(o.JUnit, append([]byte(xml.Header), append(b, '\n')...), 0o644)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("suites: junit report: %w", err))
		}
	}
	return errors.Join(errs...)
}

// redactGinkgoFiles hides the run's secrets in the reports Ginkgo wrote
// itself (its JSON report and the JUnit file), whose failure messages and
// report entries quote what the app sent.
func redactGinkgoFiles(e *Env, paths ...string) error {
	rd := e.Redactor()
	var errs []error
	for _, p := range paths {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			continue // not written (the run stopped before Ginkgo reported)
		}
		errs = append(errs, rd.RedactFile(p))
	}
	return errors.Join(errs...)
}
