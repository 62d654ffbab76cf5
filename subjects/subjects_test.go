package subjects

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/saasconform/saasconform/internal/runcheck"
)

// TestIndependentSubjects runs the suites against publishers written apart
// from the reference one, the way ISVs write them (fixtures/apps): the
// correct app must pass with no violation in several spec orders, and each
// broken variant must be reported by its one root cause.
func TestIndependentSubjects(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the subjects")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build(t, root, filepath.Join(bin, "go-publisher"), "./fixtures/apps/go-publisher")
	build(t, root, filepath.Join(bin, "saasconform"), "./cmd/saasconform")
	build(t, root, filepath.Join(bin, "publisher"), "./examples/publisher")
	goApp := func(t *testing.T, file string) string {
		path := filepath.Join(root, "fixtures/apps/go-publisher", file)
		if strings.HasPrefix(file, "../") {
			path = filepath.Join(root, "fixtures/targets", strings.TrimPrefix(file, "../"))
		}
		return subjectTarget(t, root, path,
			`command: ["go", "run", "./fixtures/apps/go-publisher"]`, fmt.Sprintf("command: [%q]", filepath.Join(bin, "go-publisher")))
	}

	pyDir := filepath.Join(root, "fixtures/apps/python-publisher")
	pyApp := func(t *testing.T, file string) string {
		if err := exec.Command("/usr/bin/python3", "-c", "import flask, requests, jwt, cryptography").Run(); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("Debian's python3 with flask, requests, jwt and cryptography is needed (.ci/run installs them): %v", err)
			}
			t.Skip("no /usr/bin/python3 with python3-flask, python3-requests, python3-jwt, python3-cryptography (apt-get install them)")
		}
		path := filepath.Join(pyDir, file)
		if strings.HasPrefix(file, "../") {
			path = filepath.Join(root, "fixtures/targets", strings.TrimPrefix(file, "../"))
		}
		return subjectTarget(t, root, path,
			`command: ["/usr/bin/python3", "app.py"]`, fmt.Sprintf("command: [\"/usr/bin/python3\", %q]", filepath.Join(pyDir, "app.py")))
	}
	// Two runs at a time: each is a saasconform run and an app, mostly
	// waiting on each other, so two share the machine's two cores well
	// (the mutant matrix runs beside this package too).
	sem := make(chan struct{}, 2)
	run := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			f(t)
		})
	}
	nodeDir := filepath.Join(root, "fixtures/apps/node-publisher")
	run("node-publisher with Microsoft's hosts hard-coded, through the proxy and the preload", func(t *testing.T) {
		_, errNode := exec.LookPath("node")
		_, errModules := os.Stat(filepath.Join(nodeDir, "node_modules", "@azure", "msal-node"))
		if errNode != nil || errModules != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("node and the app's modules are needed (.ci/run runs npm ci in %s): %v %v", nodeDir, errNode, errModules)
			}
			t.Skipf("no node, or no node_modules (cd %s && npm ci): %v %v", nodeDir, errNode, errModules)
		}
		cfg := subjectTarget(t, root, filepath.Join(root, "fixtures/targets/node-publisher-proxy.yaml"),
			`command: ["node", "server.js"]`, fmt.Sprintf("command: [\"node\", %q]", filepath.Join(nodeDir, "server.js")))
		o := runSubject(t, bin, cfg, 1)
		if o.exit != 0 || len(o.failed) != 0 || len(o.rules) != 0 {
			t.Errorf("exit %d, failed %v, rules %v\n%s", o.exit, o.failed, o.rules, tail(o.output))
		}
	})
	run("python-publisher correct", func(t *testing.T) {
		o := runSubject(t, bin, pyApp(t, "target.yaml"), 1)
		if o.exit != 0 || len(o.failed) != 0 || len(o.rules) != 0 {
			t.Errorf("exit %d, failed %v, rules %v\n%s", o.exit, o.failed, o.rules, tail(o.output))
		}
	})
	run("python-publisher with Microsoft's hosts hard-coded, through the proxy", func(t *testing.T) {
		o := runSubject(t, bin, pyApp(t, "../python-publisher-proxy.yaml"), 1)
		if o.exit != 0 || len(o.failed) != 0 || len(o.rules) != 0 {
			t.Errorf("exit %d, failed %v, rules %v\n%s", o.exit, o.failed, o.rules, tail(o.output))
		}
	})
	run("python-publisher token request sent as GET: the Entra refusal is the root cause", func(t *testing.T) {
		o := runSubject(t, bin, pyApp(t, "target-token-get.yaml"), 1)
		for _, m := range o.messages {
			if !strings.HasPrefix(m, "AUTH-05: ") && !strings.HasPrefix(m, "blocked: AUTH-05 — ") {
				t.Errorf("a failure that does not name AUTH-05 first: %s", firstLine(m))
			}
		}
		if o.exit != 1 || len(o.messages) < 30 {
			t.Errorf("exit %d, %d failures", o.exit, len(o.messages))
		}
	})
	run("python-publisher never activates: diagnosed in seconds", func(t *testing.T) {
		o := runSubject(t, bin, pyApp(t, "target-never-activates.yaml"), 1)
		if o.exit != 1 || o.elapsed > 60*time.Second || !contains(o.rules, "FUL-ACTIVATE-04") {
			t.Errorf("exit %d after %s, rules %v; want 1 within 60s naming FUL-ACTIVATE-04\n%s", o.exit, o.elapsed, o.rules, tail(o.output))
		}
		// Its webhook's own defects are still found, on subscriptions
		// Microsoft's side activated: any token is accepted, and the
		// payload is acted on without reading the operation.
		for _, rule := range []string{"WH-AUTH-01", "WH-VERIFY-01"} {
			if !contains(o.rules, rule) {
				t.Errorf("the webhook defect %s was not reported (rules %v)", rule, o.rules)
			}
		}
	})
	run("go-publisher correct, two orders", func(t *testing.T) {
		for _, seed := range []int{1, 2} {
			o := runSubject(t, bin, goApp(t, "target.yaml"), seed)
			if o.exit != 0 || len(o.failed) != 0 || len(o.rules) != 0 {
				t.Errorf("seed %d: exit %d, failed %v, rules %v\n%s", seed, o.exit, o.failed, o.rules, tail(o.output))
			}
		}
	})
	run("reference publisher (MSAL for Go, go-oidc) given no Microsoft URL, through the proxy", func(t *testing.T) {
		cfg := subjectTarget(t, root, filepath.Join(root, "fixtures/targets/reference-publisher-proxy.yaml"),
			`command: ["go", "run", "./examples/publisher"]`, fmt.Sprintf("command: [%q]", filepath.Join(bin, "publisher")))
		o := runSubject(t, bin, cfg, 1)
		if o.exit != 0 || len(o.failed) != 0 || len(o.rules) != 0 {
			t.Errorf("exit %d, failed %v, rules %v\n%s", o.exit, o.failed, o.rules, tail(o.output))
		}
	})
	run("reference publisher in the production profile (401s, real error bodies, 400 locked, transient faults on reads)", func(t *testing.T) {
		cfg := subjectTarget(t, root, filepath.Join(root, "fixtures/targets/reference-publisher-production.yaml"),
			`command: ["go", "run", "./examples/publisher"]`, fmt.Sprintf("command: [%q]", filepath.Join(bin, "publisher")))
		o := runSubject(t, bin, cfg, 1)
		if o.exit != 0 || len(o.failed) != 0 || len(o.rules) != 0 {
			t.Errorf("exit %d, failed %v, rules %v\n%s", o.exit, o.failed, o.rules, tail(o.output))
		}
	})
	run("go-publisher with Microsoft's hosts hard-coded, through the proxy", func(t *testing.T) {
		o := runSubject(t, bin, goApp(t, "../go-publisher-proxy.yaml"), 1)
		if o.exit != 0 || len(o.failed) != 0 || len(o.rules) != 0 {
			t.Errorf("exit %d, failed %v, rules %v\n%s", o.exit, o.failed, o.rules, tail(o.output))
		}
	})
	run("go-publisher without a probe: account specs skip with the reason", func(t *testing.T) {
		cfg := goApp(t, "target.yaml")
		text, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		noProbe := regexp.MustCompile(`(?ms)^  probe:\n.*?^  actions:`).ReplaceAllString(string(text), "  actions:")
		if noProbe == string(text) {
			t.Fatal("the target's probe block was not found")
		}
		if err := os.WriteFile(cfg, []byte(noProbe), 0o644); err != nil {
			t.Fatal(err)
		}
		o := runSubject(t, bin, cfg, 1)
		if o.exit != 0 || len(o.failed) != 0 {
			t.Fatalf("exit %d, failed %v\n%s", o.exit, o.failed, tail(o.output))
		}
		data, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "ginkgo.json"))
		if err != nil {
			t.Fatal(err)
		}
		var reports []struct {
			SpecReports []struct {
				LeafNodeText string
				State        string
				Failure      struct{ Message string }
			}
		}
		if err := json.Unmarshal(data, &reports); err != nil || len(reports) != 1 {
			t.Fatalf("ginkgo.json: %v", err)
		}
		// A spec whose title promises the app's account is skipped rather
		// than passed without looking (it used to pass).
		skipped := map[string]bool{}
		for _, r := range reports[0].SpecReports {
			if r.State == "skipped" && strings.Contains(r.Failure.Message, "no publisher.probe") {
				skipped[r.LeafNodeText] = true
			}
		}
		for _, title := range []string{"acknowledges a Suspend notification and suspends the account without deleting it",
			"deprovisions the account when the customer cancels", "restores the account when a suspended subscription is reinstated",
			"acknowledges a renewal and keeps the account active into the new term"} {
			if !skipped[title] {
				t.Errorf("%q was not skipped without a probe", title)
			}
		}
		if len(skipped) < 8 {
			t.Errorf("%d specs skipped for want of a probe, want 8 or more", len(skipped))
		}
	})
	run("go-publisher wrong scope: one root cause, the rest blocked by it", func(t *testing.T) {
		o := runSubject(t, bin, goApp(t, "target-wrong-scope.yaml"), 1)
		if o.exit != 1 {
			t.Fatalf("exit %d\n%s", o.exit, tail(o.output))
		}
		own, blocked := 0, 0
		for _, m := range o.messages {
			switch {
			case strings.HasPrefix(m, "blocked: AUTH-01 — "):
				blocked++
			case strings.HasPrefix(m, "AUTH-01: "):
				own++
			default:
				t.Errorf("a failure that does not name AUTH-01 first: %s", firstLine(m))
			}
		}
		// The webhook-authentication specs run on subscriptions Microsoft's
		// side activated, and pass: the app validates tokens correctly.
		if own == 0 || own > 3 || blocked < 25 {
			t.Errorf("%d own AUTH-01 failures and %d blocked; want 1–3 and the rest blocked", own, blocked)
		}
	})
	run("go-publisher storing the operation's status: STATE-06, judged once the app is quiet", func(t *testing.T) {
		// The app's view never agrees after Suspend; the spec must stop
		// once the app has gone quiet (timeouts.idle), not wait out
		// timeouts.flow (30 s in this target).
		o := runSubject(t, bin, goApp(t, "target-op-status-as-sub-status.yaml"), 1,
			"--focus", "only while the subscription is Subscribed")
		if o.exit != 1 || !contains(o.rules, "STATE-06") {
			t.Fatalf("exit %d, rules %v; want 1 with STATE-06\n%s", o.exit, o.rules, tail(o.output))
		}
		for name, d := range o.runTimes {
			if d >= 30*time.Second {
				t.Errorf("%q ran %s: it waited out the flow timeout instead of stopping when the app went quiet", name, d)
			}
		}
	})
	run("go-publisher reading Entra's keys at most every 5 minutes: a key rollover is a warning, not an error", func(t *testing.T) {
		// As Microsoft.IdentityModel does by default, the app refuses the
		// rolled-over key until its refresh floor has passed, longer than
		// the spec waits: survivable on Microsoft's hours of retries, and
		// within a run not to be told from keys never read again, so a
		// warning, never an error.
		cfg := subjectTarget(t, root, filepath.Join(root, "fixtures/apps/go-publisher/target.yaml"),
			"JWKS_REFRESH_FLOOR: 5s", "JWKS_REFRESH_FLOOR: 5m")
		cfg = subjectTarget(t, root, cfg, `command: ["go", "run", "./fixtures/apps/go-publisher"]`,
			fmt.Sprintf("command: [%q]", filepath.Join(bin, "go-publisher")))
		o := runSubject(t, bin, cfg, 1, "--focus", "rolled over to mid-run")
		if o.exit != 0 || len(o.rules) != 0 || !contains(o.warnings, "WH-AUTH-02") {
			t.Errorf("exit %d, errors %v, warnings %v; want 0, none, a WH-AUTH-02 warning\n%s", o.exit, o.rules, o.warnings, tail(o.output))
		}
	})
	run("go-publisher token cache that never expires: AUTH-04", func(t *testing.T) {
		o := runSubject(t, bin, goApp(t, "target-cache-never-expires.yaml"), 1)
		if o.exit != 1 || !contains(o.rules, "AUTH-04") {
			t.Errorf("exit %d, rules %v; want 1 with AUTH-04\n%s", o.exit, o.rules, tail(o.output))
		}
	})
}

// subjectOutcome is one run against a subject, with JUnit's failure
// messages.
type subjectOutcome struct {
	exit     int
	failed   []string // failing specs
	rules    []string // rule IDs of error violations recorded
	warnings []string // rule IDs of warnings recorded
	elapsed  time.Duration
	output   string
	messages []string
	runTimes map[string]time.Duration // each spec's run time, by its full text
}

// subjectTarget copies a subject's target file with its start command
// replaced by a prebuilt binary and its folders made absolute.
func subjectTarget(t *testing.T, root, path, oldCmd, newCmd string) string {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(text), oldCmd, newCmd, 1)
	s = regexp.MustCompile(`(?m)^(\s+dir:) \S+`).ReplaceAllString(s, "$1 "+strconv.Quote(root))
	dir := t.TempDir()
	s = regexp.MustCompile(`(?m)^reports:.*$`).ReplaceAllString(s, "reports: {dir: "+strconv.Quote(dir)+"}")
	out := filepath.Join(dir, "target.yaml")
	if err := os.WriteFile(out, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func runSubject(t *testing.T, bin, cfg string, seed int, args ...string) subjectOutcome {
	t.Helper()
	dir := filepath.Dir(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "saasconform"), "run", "-c", cfg, "--no-color", "--seed", fmt.Sprint(seed),
		"--junit", filepath.Join(dir, "junit.xml"), "--json", filepath.Join(dir, "ginkgo.json"),
		"--violations", filepath.Join(dir, "violations.json"))
	cmd.Args = append(cmd.Args, args...)
	out, _ := cmd.CombinedOutput()
	o := subjectOutcome{exit: cmd.ProcessState.ExitCode(), elapsed: time.Since(start), output: string(out)}
	if ctx.Err() != nil {
		t.Fatalf("the run did not finish in 4 minutes\n%s", tail(o.output))
	}
	var err error
	specs, err := runcheck.Specs(filepath.Join(dir, "ginkgo.json"))
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(o.output))
	}
	if o.failed, err = runcheck.FailedSpecs(filepath.Join(dir, "ginkgo.json")); err != nil {
		t.Fatal(err)
	}
	o.runTimes = map[string]time.Duration{}
	for _, s := range specs {
		o.runTimes[s.Name] = s.RunTime
	}
	if o.rules, err = runcheck.Rules(filepath.Join(dir, "violations.json"), "error"); err != nil {
		t.Fatal(err)
	}
	if o.warnings, err = runcheck.Rules(filepath.Join(dir, "violations.json"), "warning"); err != nil {
		t.Fatal(err)
	}
	var j struct {
		Suites []struct {
			Cases []struct {
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil || xml.Unmarshal(data, &j) != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				o.messages = append(o.messages, c.Failure.Message)
			}
		}
	}
	t.Logf("%s seed %d: exit %d, %d failed, rules %v, %.1fs", filepath.Base(cfg), seed, o.exit, len(o.failed), o.rules, o.elapsed.Seconds())
	return o
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func build(t *testing.T, root, out, pkg string) {
	t.Helper()
	if err := runcheck.Build(root, out, pkg); err != nil {
		t.Fatal(err)
	}
}

var tail = runcheck.Tail
