package cli

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// seedStale leaves a previous run's passing reports in dir.
func seedStale(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"junit.xml":        `<testsuites tests="46"><testsuite name="SaaS fulfillment conformance" tests="46"><testcase name="STALE passed" status="passed"></testcase></testsuite></testsuites>`,
		"saasconform.json": `{"verdict":"passed","totals":{"passed":46},"stale":true}`,
		"report.json":      `[{"stale":true}]`,
		"violations.json":  `{"stale":true}`,
		"summary.md":       "STALE 46 passed",
		"report.html":      "STALE 46 passed",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkNotStartedReports checks that dir holds this run's reports, each
// saying the run did not get to its specs, with want in the JUnit failure.
func checkNotStartedReports(t *testing.T, dir, want string) {
	t.Helper()
	var j struct {
		Suites []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil || xml.Unmarshal(data, &j) != nil || len(j.Suites) != 1 || len(j.Suites[0].Cases) != 1 {
		t.Fatalf("junit.xml: %v; want one suite with one testcase:\n%s", err, data)
	}
	c := j.Suites[0].Cases[0]
	if c.Failure == nil || !strings.Contains(c.Failure.Message, want) {
		t.Errorf("junit.xml's testcase %q does not fail with %q:\n%s", c.Name, want, data)
	}
	var ours struct {
		Verdict string `json:"verdict"`
		Reason  string `json:"reason"`
		Stale   bool   `json:"stale"`
	}
	data, err = os.ReadFile(filepath.Join(dir, "saasconform.json"))
	verdict := "not started"
	if want == "interrupted" {
		verdict = "interrupted"
	}
	if err != nil || json.Unmarshal(data, &ours) != nil || ours.Stale || ours.Verdict != verdict || !strings.Contains(ours.Reason, want) {
		t.Errorf("saasconform.json: %v, %+v; want a fresh report with verdict %q that says %q", err, ours, verdict, want)
	}
	for _, name := range []string{"report.json", "violations.json"} {
		var v any
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || json.Unmarshal(data, &v) != nil || bytes.Contains(data, []byte("stale")) {
			t.Errorf("%s: %v, or not this run's: %.200s", name, err, data)
		}
	}
	for _, name := range []string{"summary.md", "report.html"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || bytes.Contains(data, []byte("STALE")) || !bytes.Contains(data, []byte(want)) {
			t.Errorf("%s: %v, or not this run's, or does not say %q", name, err, want)
		}
	}
}

// A run that could not start used to leave the previous run's reports in
// place: a CI step would publish "46 passed". They are now replaced by a
// report of the failed start.
func TestFailedStartReplacesThePreviousReports(t *testing.T) {
	port := freePort(t)
	path := writeTarget(t, fmt.Sprintf(`publisher:
  landingPage: http://127.0.0.1:%[1]d/landing
  webhook: http://127.0.0.1:%[1]d/webhook
  start:
    command: ["sh", "-c", "echo publisher up but deaf; exec sleep 60"]
    ready: http://127.0.0.1:%[1]d/healthz
    readyTimeout: 1s
    stopTimeout: 1s
`, port))
	reports := filepath.Join(filepath.Dir(path), "reports")
	if err := os.MkdirAll(reports, 0o755); err != nil {
		t.Fatal(err)
	}
	seedStale(t, reports)
	code, _, errs := run(t, "run", "-c", path)
	if code != ExitSetup {
		t.Fatalf("exit %d, want 2; stderr:\n%s", code, errs)
	}
	checkNotStartedReports(t, reports, "did not start")
	if !strings.Contains(errs, filepath.Join(reports, "publisher.log")) {
		t.Errorf("the publisher printed something, but stderr does not point to its log:\n%s", errs)
	}
}

// When the run stops before any publisher was started (here: the fake
// marketplace's port is taken), pointing at publisher.log sent people to
// an empty file. Say that no publisher was started, and why.
func TestNoPublisherStartedSaysSo(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := freePort(t)
	path := writeTarget(t, fmt.Sprintf(`publisher:
  landingPage: http://127.0.0.1:%[1]d/landing
  webhook: http://127.0.0.1:%[1]d/webhook
  start:
    command: ["sh", "-c", "echo started; exec sleep 60"]
    ready: http://127.0.0.1:%[1]d/healthz
marketplace: {listen: %[2]q}
`, port, l.Addr().String()))
	code, _, errs := run(t, "run", "-c", path)
	if code != ExitSetup {
		t.Fatalf("exit %d, want 2; stderr:\n%s", code, errs)
	}
	if strings.Contains(errs, "publisher.log") || !strings.Contains(errs, "no publisher was started") {
		t.Errorf("stderr points to publisher.log, or does not say no publisher was started:\n%s", errs)
	}
	checkNotStartedReports(t, filepath.Join(filepath.Dir(path), "reports"), "did not start")
}

// Ctrl-C while the publisher is not yet ready used to exit 2 after
// promising reports it never wrote. It is an interruption: exit 1, and the
// reports say the run was interrupted before any spec ran.
func TestInterruptWhileWaitingForReady(t *testing.T) {
	port := freePort(t)
	path := writeTarget(t, fmt.Sprintf(`publisher:
  landingPage: http://127.0.0.1:%[1]d/landing
  webhook: http://127.0.0.1:%[1]d/webhook
  start:
    command: ["sh", "-c", "echo publisher started; exec sleep 60"]
    ready: http://127.0.0.1:%[1]d/healthz
    readyTimeout: 2m
    stopTimeout: 1s
`, port))
	reports := t.TempDir()
	seedStale(t, reports)
	cmd := command(t, "run", "-c", path, "--reports-dir", reports)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(reports, "publisher.log"))
		if bytes.Contains(b, []byte("publisher started")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the publisher never started:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling another process's output
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30s after SIGINT:\n%s", out.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != ExitFailed {
		t.Errorf("exit: %v, want code 1\n%s", err, out.String())
	}
	checkNotStartedReports(t, reports, "interrupted")
}
