package cli

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mainEnv makes the test binary act as the saasconform command: suites
// can run once per process (Ginkgo), so every test that reaches the specs
// runs the command in a child process.
const mainEnv = "SAASCONFORM_CLI_TEST_MAIN"

func TestMain(m *testing.M) {
	// The stand-in first: it inherits the CLI child's environment.
	if addr := os.Getenv(standInEnv); addr != "" {
		standIn(addr)
		return
	}
	if os.Getenv(mainEnv) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// standInEnv makes the test binary a publisher whose landing page never
// answers: a run against it is certainly inside a spec once the stand-in
// says the landing page was asked for.
const standInEnv = "SAASCONFORM_TEST_STANDIN"

// standInModeEnv "crash" makes the stand-in exit when the landing page is
// asked for, instead of hanging.
const standInModeEnv = "SAASCONFORM_TEST_STANDIN_MODE"

func standIn(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(os.Stderr, "stand-in: landing page requested")
		if os.Getenv(standInModeEnv) == "crash" {
			os.Exit(3) // dies in the middle of the visit
		}
		<-r.Context().Done()
	})
	srv := &http.Server{Addr: addr, Handler: mux}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		<-ch
		srv.Close()
	}()
	_ = srv.ListenAndServe()
}

// run calls Main in this process: only for runs that stop before the specs.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpAndVersion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help"}, "saasconform run -c target.yaml"},
		{[]string{"--help"}, "saasconform run -c target.yaml"},
		{[]string{"-h"}, "Exit codes"},
		{[]string{"help", "run"}, "-label-filter"},
		{[]string{"run", "--help"}, "-label-filter"},
		{[]string{"run", "-h"}, "-junit"},
		{[]string{"run", "-h"}, "REPORTS/report.html"},
		{[]string{"run", "-h"}, "REPORTS/summary.md"},
		{[]string{"run", "-h"}, "REPORTS/saasconform.json"},
		{[]string{"version"}, "saasconform "},
	} {
		code, out, errs := run(t, tc.args...)
		if code != ExitPassed || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and %q on stdout", tc.args, code, out, errs, tc.want)
		}
	}
}

func TestBadUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"run"}, "missing -c"},
		{[]string{"run", "target.yaml"}, `unexpected argument "target.yaml"`},
		{[]string{"run", "-c", "x.yaml", "--label-filter", "flow:landing &&"}, "--label-filter"},
		{[]string{"run", "-c", "x.yaml", "--focus", "("}, "-focus"},
	} {
		code, _, errs := run(t, tc.args...)
		if code != ExitSetup || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

// writeTarget writes a target file in a fresh folder (its reports go there
// too) and returns its path.
func writeTarget(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "target.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		want []string // each on its own line of stderr
	}{
		{"missing file", filepath.Join(dir, "nope.yaml"), []string{"nope.yaml: no such file — copy an example from fixtures/targets/"}},
		{"unreadable file", dir, []string{dir + ": read " + dir + ": is a directory"}},
		{"unknown key", writeTarget(t, "publisher:\n  landingPage: http://127.0.0.1:1/landing\n  webhook: http://127.0.0.1:1/webhook\n  landng: {mode: http}\n"),
			[]string{"target.yaml:4: publisher.landng: unknown field", `did you mean "landing"?`}},
		{"bad URLs", writeTarget(t, "publisher:\n  landingPage: /landing\n  webhook: 127.0.0.1:8443/webhook\n"),
			[]string{"target.yaml:2: publisher.landingPage:", "target.yaml:3: publisher.webhook:", "is not an absolute http(s) URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := run(t, "run", "-c", tc.path)
			if code != ExitSetup {
				t.Errorf("exit %d, want 2; stderr:\n%s", code, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if tc.name == "bad URLs" && strings.Count(strings.TrimSpace(errs), "\n") != 1 {
				t.Errorf("want the two problems on two lines:\n%s", errs)
			}
		})
	}
}

// freePort is a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestUnreachableTarget(t *testing.T) {
	port := freePort(t)
	t.Run("start command does not exist", func(t *testing.T) {
		path := writeTarget(t, fmt.Sprintf(`publisher:
  landingPage: http://127.0.0.1:%[1]d/landing
  webhook: http://127.0.0.1:%[1]d/webhook
  start:
    command: ["./no-such-publisher"]
    ready: http://127.0.0.1:%[1]d/healthz
`, port))
		code, _, errs := run(t, "run", "-c", path)
		if code != ExitSetup || !strings.Contains(errs, "no-such-publisher") {
			t.Errorf("exit %d, want 2 naming the command; stderr:\n%s", code, errs)
		}
	})
	t.Run("ready URL never answers", func(t *testing.T) {
		path := writeTarget(t, fmt.Sprintf(`publisher:
  landingPage: http://127.0.0.1:%[1]d/landing
  webhook: http://127.0.0.1:%[1]d/webhook
  start:
    command: ["sh", "-c", "echo publisher up but deaf; exec sleep 60"]
    ready: http://127.0.0.1:%[1]d/healthz
    readyTimeout: 1s
    stopTimeout: 1s
`, port))
		start := time.Now()
		code, _, errs := run(t, "run", "-c", path)
		if code != ExitSetup || !strings.Contains(errs, "setup failed") {
			t.Errorf("exit %d, want 2 and a setup failure; stderr:\n%s", code, errs)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("took %s with a 1s readyTimeout", d)
		}
		logs, err := os.ReadFile(filepath.Join(filepath.Dir(path), "reports", "publisher.log"))
		if err != nil || !strings.Contains(string(logs), "publisher up but deaf") {
			t.Errorf("publisher.log = %q, %v; want the publisher's output", logs, err)
		}
	})
}

// command runs the saasconform command in a child process.
func command(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1", "NO_COLOR=1")
	return cmd
}

const referenceTarget = "../../../../fixtures/targets/reference-publisher.yaml"

type junitSuites struct {
	Suites []struct {
		Cases []struct {
			Name    string    `xml:"name,attr"`
			Status  string    `xml:"status,attr"`
			Failure *struct{} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitSuites {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("JUnit report: %v", err)
	}
	var j junitSuites
	if err := xml.Unmarshal(data, &j); err != nil {
		t.Fatalf("JUnit report %s: %v", path, err)
	}
	return j
}

// TestRunReferencePublisher runs the activation specs against the example
// publisher (go run ./examples/publisher) and reads the reports back.
func TestRunReferencePublisher(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the reference publisher with go run")
	}
	reports := t.TempDir()
	cmd := command(t, "run", "-c", referenceTarget, "--label-filter", "flow:activation", "--reports-dir", reports)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("saasconform run: %v\n%s", err, out)
	}

	j := readJUnit(t, filepath.Join(reports, "junit.xml"))
	ran := 0
	found := false
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			if c.Status == "passed" {
				ran++
			}
			if c.Failure != nil {
				t.Errorf("failed: %s", c.Name)
			}
			if strings.Contains(c.Name, "FUL-ACTIVATE-01") {
				found = true
			}
		}
	}
	if ran == 0 || !found {
		t.Errorf("%d passed testcases, one naming FUL-ACTIVATE-01: %v\n%s", ran, found, out)
	}

	var rep struct {
		Count      int `json:"count"`
		Errors     int `json:"errors"`
		Violations []struct {
			Rule string `json:"rule"`
		} `json:"violations"`
	}
	data, err := os.ReadFile(filepath.Join(reports, "violations.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("violations.json: %v\n%s", err, data)
	}
	if rep.Errors != 0 || rep.Violations == nil {
		t.Errorf("the reference publisher broke rules (or violations is not a list): %s", data)
	}
	var ginkgo []map[string]any
	if data, err = os.ReadFile(filepath.Join(reports, "report.json")); err != nil || json.Unmarshal(data, &ginkgo) != nil || len(ginkgo) != 1 {
		t.Errorf("report.json: %v, %d suites", err, len(ginkgo))
	}
	if fi, err := os.Stat(filepath.Join(reports, "publisher.log")); err != nil || fi.Size() == 0 {
		t.Errorf("publisher.log: %v (empty?)", err)
	}
	var ours struct {
		Verdict string `json:"verdict"`
		Totals  struct {
			Passed int `json:"passed"`
		} `json:"totals"`
	}
	if data, err = os.ReadFile(filepath.Join(reports, "saasconform.json")); err != nil || json.Unmarshal(data, &ours) != nil ||
		ours.Verdict != "passed" || ours.Totals.Passed == 0 {
		t.Errorf("saasconform.json: %v, %+v; want passed with specs that passed", err, ours)
	}
	for _, name := range []string{"report.html", "summary.md"} {
		if data, err := os.ReadFile(filepath.Join(reports, name)); err != nil || !strings.Contains(string(data), "passed") {
			t.Errorf("%s: %v, or no word of the verdict", name, err)
		}
		if !strings.Contains(string(out), filepath.Join(reports, name)) {
			t.Errorf("the command did not print the path of %s:\n%s", name, out)
		}
	}
}

// TestInterruptStopsPublisher sends SIGTERM while specs run: the command
// must stop the publisher, still write the JUnit report, and exit 1.
func TestInterruptStopsPublisher(t *testing.T) {
	port := freePort(t)
	// A publisher (this binary as a stand-in) whose landing page hangs, so
	// the signal certainly arrives in the middle of a spec.
	cfg := fmt.Sprintf(`publisher:
  port: %d
  landingPage: http://127.0.0.1:{{.PublisherPort}}/landing
  webhook: http://127.0.0.1:{{.PublisherPort}}/webhook
  start:
    command: [%q]
    env: {%s: "127.0.0.1:{{.PublisherPort}}"}
    ready: http://127.0.0.1:{{.PublisherPort}}/healthz
capabilities: [landing, activate]
timeouts: {request: 5m, flow: 5m}
`, port, os.Args[0], standInEnv)
	path := writeTarget(t, cfg)
	reports := t.TempDir()

	cmd := command(t, "run", "-c", path, "--reports-dir", reports, "-v")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), "stand-in: landing page requested") {
		if time.Now().After(deadline) {
			t.Fatalf("no spec reached the landing page:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling another process's output
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		t.Fatalf("still running 90s after SIGTERM:\n%s", out.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != ExitFailed {
		t.Errorf("exit: %v, want code 1\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "interrupted") {
		t.Errorf("no word of the interruption:\n%s", out.String())
	}
	readJUnit(t, filepath.Join(reports, "junit.xml"))
	// Being interrupted is not the app's fault: no violation may say so.
	var vs struct {
		Errors     int `json:"errors"`
		Violations []struct {
			Rule, Summary string
		} `json:"violations"`
	}
	if data, err := os.ReadFile(filepath.Join(reports, "violations.json")); err != nil || json.Unmarshal(data, &vs) != nil {
		t.Errorf("violations.json: %v", err)
	} else if vs.Errors != 0 {
		t.Errorf("the interruption was recorded against the app: %+v", vs.Violations)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Errorf("the publisher still listens on %d after the command exited", port)
	}
}

// TestRulesCommand lists the catalogue in a child process (it runs Ginkgo,
// which runs once per process).
func TestRulesCommand(t *testing.T) {
	out, err := command(t, "rules", "-brief").CombinedOutput()
	if err != nil {
		t.Fatalf("rules -brief: %v\n%s", err, out)
	}
	for _, want := range []string{"FUL-RESOLVE-01", "decode-token-twice", "not checkable", "WH-AUTH-01", "PROFILES", "production"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rules -brief lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "SUCCESS") {
		t.Errorf("Ginkgo's progress leaked into the listing:\n%s", out)
	}
	full, err := command(t, "rules").CombinedOutput()
	if err != nil || !strings.Contains(string(full), "spec:   Landing page resolves the purchase token") ||
		!strings.Contains(string(full), "profiles: production") {
		t.Fatalf("rules: %v\n%s", err, full)
	}
	if code, _, _ := run(t, "rules", "extra"); code != ExitSetup {
		t.Errorf("rules extra: exit %d, want %d", code, ExitSetup)
	}
}

// standInTarget is a target whose publisher is this binary as a stand-in.
func standInTarget(t *testing.T, port int, mode, timeouts string) string {
	t.Helper()
	return writeTarget(t, fmt.Sprintf(`publisher:
  port: %d
  landingPage: http://127.0.0.1:{{.PublisherPort}}/landing
  webhook: http://127.0.0.1:{{.PublisherPort}}/webhook
  start:
    command: [%q]
    env: {%s: "127.0.0.1:{{.PublisherPort}}", %s: %q}
    ready: http://127.0.0.1:{{.PublisherPort}}/healthz
capabilities: [landing, activate]
timeouts: %s
`, port, os.Args[0], standInEnv, standInModeEnv, mode, timeouts))
}

// TestReportsSurviveABrokenTarget: whether the publisher dies in the middle
// of a flow or stops answering, the run ends with exit 1, every report is
// written with what happened, and no process is left behind.
func TestReportsSurviveABrokenTarget(t *testing.T) {
	for _, tc := range []struct {
		mode, timeouts, inReport string
	}{
		{"crash", "{request: 5s, flow: 5s}", "the publisher exited during the run"},
		{"hang", "{request: 1s, flow: 2s}", "Client.Timeout"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			port := freePort(t)
			reports := t.TempDir()
			cmd := command(t, "run", "-c", standInTarget(t, port, tc.mode, tc.timeouts), "--reports-dir", reports)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != ExitFailed {
				t.Fatalf("exit: %v, want code 1\n%s", err, out)
			}
			readJUnit(t, filepath.Join(reports, "junit.xml"))
			for _, name := range []string{"report.html", "summary.md", "saasconform.json", "violations.json", "publisher.log"} {
				if _, err := os.Stat(filepath.Join(reports, name)); err != nil {
					t.Errorf("%s not written: %v", name, err)
				}
			}
			report, _ := os.ReadFile(filepath.Join(reports, "saasconform.json"))
			if !strings.Contains(string(report), tc.inReport) {
				t.Errorf("saasconform.json does not say %q:\n%.2000s", tc.inReport, report)
			}
			log, _ := os.ReadFile(filepath.Join(reports, "publisher.log"))
			if !strings.Contains(string(log), "stand-in: landing page requested") {
				t.Errorf("publisher.log lacks the publisher's output:\n%s", log)
			}
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
				c.Close()
				t.Errorf("the publisher still listens on %d after the run", port)
			}
		})
	}
}

func TestShimNode(t *testing.T) {
	code, out, _ := run(t, "shim", "node")
	if code != ExitPassed || !strings.Contains(out, "saasconform") {
		t.Errorf("print: exit %d\n%s", code, out)
	}
	dir := t.TempDir()
	code, out, _ = run(t, "shim", "node", "-o", dir)
	if b, err := os.ReadFile(filepath.Join(dir, "saasconform-node-preload.cjs")); code != ExitPassed || err != nil || len(b) == 0 ||
		!strings.Contains(out, "NODE_OPTIONS") {
		t.Errorf("write: exit %d, %v\n%s", code, err, out)
	}
	for _, args := range [][]string{{"shim"}, {"shim", "python"}, {"shim", "node", "extra"}, {"shim", "node", "-o", filepath.Join(dir, "no", "such")}} {
		if code, _, errs := run(t, args...); code != ExitSetup || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
}
