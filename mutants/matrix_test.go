package mutants

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saasconform/saasconform/examples/publisher/app"
	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/internal/runcheck"
	"github.com/saasconform/saasconform/spec"
)

// outcome is one run of the suites against one publisher.
type outcome struct {
	mistake  string
	exit     int
	failed   []string // failing specs
	rules    []string // rule IDs of error violations recorded
	expected []string // rules the mistake breaks (rules.yaml mutants)
	elapsed  time.Duration
	output   string
	err      error
}

func (o outcome) killed() bool {
	return o.exit == 1 && len(o.failed) > 0 && len(intersect(o.rules, o.expected)) > 0
}

// TestMutantMatrix is the harness's own conformance: the reference
// publisher passes with no violation, and each of its mistake switches
// makes at least one spec fail with a rule the mistake breaks.
func TestMutantMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the matrix builds and runs the publisher once per mistake")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build(t, root, filepath.Join(bin, "publisher"), "./examples/publisher")
	build(t, root, filepath.Join(bin, "saasconform"), "./cmd/saasconform")
	expected := mutantRules(t)

	browser := true
	if _, err := driver.FindChromium(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Chromium for the browser-only mistake (.ci/run installs it): %v", err)
		}
		browser = false
	}

	// SAASCONFORM_MUTANTS=a,b limits the run to those mistakes (and the
	// clean run), for working on one check.
	only := os.Getenv("SAASCONFORM_MUTANTS")
	runs := []string{""}
	for _, m := range app.Mistakes {
		if only == "" || slices.Contains(strings.Split(only, ","), string(m.Name)) {
			runs = append(runs, string(m.Name))
		}
	}
	results := make([]outcome, len(runs))
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for i, m := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			mode := "http"
			if app.Mistake(m).Profile() == "production" {
				// Only the production profile's fake answers reads with
				// transient faults: the strict one cannot show this mistake.
				mode = "production"
			}
			if m == string(app.ResolveFromBrowser) {
				if !browser {
					results[i] = outcome{mistake: m, err: errNoBrowser}
					return
				}
				mode = "browser"
			}
			results[i] = run(t, root, bin, m, mode)
			results[i].expected = expected[m]
		}()
	}
	wg.Wait()

	report := matrix(results)
	t.Log("\n" + report)
	if dir := os.Getenv("SAASCONFORM_MATRIX_OUT"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "mutants.md"), []byte(report), 0o644)
	}

	clean := results[0]
	if clean.err != nil || clean.exit != 0 || len(clean.rules) != 0 {
		t.Errorf("the clean run must pass with no violation: exit %d, rules %v, err %v\n%s", clean.exit, clean.rules, clean.err, tail(clean.output))
	}
	for _, o := range results[1:] {
		switch {
		case o.err == errNoBrowser:
			t.Logf("%s: not run, no Chromium here (CI installs it)", o.mistake)
		case o.err != nil:
			t.Errorf("%s: %v\n%s", o.mistake, o.err, tail(o.output))
		case len(o.expected) == 0:
			t.Errorf("%s: rules.yaml names no rule this mistake breaks", o.mistake)
		case !o.killed():
			t.Errorf("%s SURVIVED: exit %d, failing specs %d, rules seen %v, want one of %v\n%s",
				o.mistake, o.exit, len(o.failed), o.rules, o.expected, tail(o.output))
		}
	}
}

var errNoBrowser = fmt.Errorf("no chromium")

// mutantRules maps each mistake to the rules rules.yaml says it breaks.
func mutantRules(t *testing.T) map[string][]string {
	rules, err := spec.Rules()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rules {
		for _, m := range r.Mutants {
			out[m] = append(out[m], r.ID)
		}
	}
	return out
}

// target is the reference target with the prebuilt publisher and short
// windows, so a slow-webhook mistake shows in seconds. Mode "browser" visits
// the landing page with Chromium; mode "production" starts from the
// production-profile target (fixtures/targets/reference-publisher-production.yaml).
func target(t *testing.T, root, bin, dir, mode string) string {
	t.Helper()
	file := "fixtures/targets/reference-publisher.yaml"
	if mode == "production" {
		file = "fixtures/targets/reference-publisher-production.yaml"
	}
	text, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	s := string(text)
	s = strings.Replace(s, `command: ["go", "run", "./examples/publisher"]`, fmt.Sprintf("command: [%q]", filepath.Join(bin, "publisher")), 1)
	s = strings.Replace(s, "dir: ../..", "dir: "+root, 1)
	s = strings.Replace(s, "      SAAS_MAX_SEATS: \"50\"", "      SAAS_MAX_SEATS: \"50\"\n      SAAS_SLOW_WEBHOOK: 1500ms\n      SAAS_POLL_INTERVAL: 20ms", 1)
	s = regexp.MustCompile(`(?m)^timeouts:.*$`).ReplaceAllString(s, "timeouts: {webhookAck: 1s, flow: 10s, request: 10s}")
	s = regexp.MustCompile(`(?m)^reports:.*$`).ReplaceAllString(s, "reports: {dir: "+dir+"}")
	if mode == "browser" {
		s = strings.Replace(s, "publisher:\n", "publisher:\n  landing: {mode: browser}\n", 1)
	}
	path := filepath.Join(dir, "target.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, root, bin, mistake, mode string) outcome {
	dir := t.TempDir()
	cfg := target(t, root, bin, dir, mode)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "saasconform"), "run", "-c", cfg, "--no-color",
		"--junit", filepath.Join(dir, "junit.xml"), "--json", filepath.Join(dir, "ginkgo.json"),
		"--violations", filepath.Join(dir, "violations.json"))
	cmd.Env = append(os.Environ(), "SAAS_MISTAKE="+mistake)
	out, _ := cmd.CombinedOutput()
	o := outcome{mistake: mistake, exit: cmd.ProcessState.ExitCode(), elapsed: time.Since(start), output: string(out)}
	if ctx.Err() != nil {
		o.err = fmt.Errorf("the run did not finish in 4 minutes")
		return o
	}
	o.failed, o.err = runcheck.FailedSpecs(filepath.Join(dir, "ginkgo.json"))
	if o.err == nil {
		o.rules, o.err = runcheck.Rules(filepath.Join(dir, "violations.json"), "error")
	}
	return o
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// matrix renders the results as a Markdown table.
func matrix(rs []outcome) string {
	var b strings.Builder
	killed, total := 0, 0
	b.WriteString("| mistake | verdict | failing specs | rules seen (expected) | time |\n|---|---|---|---|---|\n")
	for _, o := range rs {
		name, verdict := o.mistake, ""
		switch {
		case name == "":
			name = "(clean)"
			verdict = "PASS"
			if o.exit != 0 || len(o.rules) > 0 {
				verdict = "FAIL"
			}
		case o.err == errNoBrowser:
			verdict = "not run (no Chromium)"
		default:
			total++
			verdict = "SURVIVED"
			if o.killed() {
				verdict = "killed"
				killed++
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s (%s) | %.1fs |\n", name, verdict, len(o.failed),
			strings.Join(o.rules, " "), strings.Join(o.expected, " "), o.elapsed.Seconds())
	}
	fmt.Fprintf(&b, "\nkill rate: %d/%d\n", killed, total)
	return b.String()
}

func build(t *testing.T, root, out, pkg string) {
	t.Helper()
	if err := runcheck.Build(root, out, pkg); err != nil {
		t.Fatal(err)
	}
}

var tail = runcheck.Tail
