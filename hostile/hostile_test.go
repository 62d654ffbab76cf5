package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// bin holds the saasconform command and the hostile publisher, built once.
var bin struct{ saasconform, publisher string }

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hostile-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin.saasconform = filepath.Join(dir, "saasconform")
	bin.publisher = filepath.Join(dir, "hostile-publisher")
	for out, pkg := range map[string]string{bin.saasconform: "./cmd/saasconform", bin.publisher: "./fixtures/apps/hostile-publisher"} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Dir = ".."
		if b, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, b)
			return 1
		}
	}
	return m.Run()
}

// The one spec each run is focused on: it visits the landing page, where
// most of the misbehaviours live, and fails fast when the app does.
const focus = "activates a flat-rate purchase with the plan resolve returned"

// wallLimit is how long any one case may take. Each target's timeouts are
// a few seconds; the limit leaves room for a loaded machine.
const wallLimit = 45 * time.Second

// hostileCase is one misbehaviour and what the harness must do about it.
type hostileCase struct {
	mode  string
	exit  int
	env   map[string]string // more environment for the publisher
	ready string            // readyTimeout
	// interrupt sends SIGINT to the command once the publisher runs.
	interrupt bool
	check     func(t *testing.T, r *result)
}

// result is what one run of the command left behind.
type result struct {
	exit    int
	elapsed time.Duration
	output  string
	reports string
	port    int
	maxRSS  int64 // bytes
}

func (r *result) file(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.reports, name))
	if err != nil {
		t.Errorf("%s: %v", name, err)
	}
	return b
}

func TestHostilePublishers(t *testing.T) {
	cases := []hostileCase{
		{mode: "hang", exit: 2, ready: "3s", check: func(t *testing.T, r *result) {
			// The ready URL took connections but never answered: that is
			// the cause to name, not a refusal from the first attempt.
			if !strings.Contains(r.output, "timeout awaiting response headers") || strings.Contains(r.output, "connection refused") {
				t.Errorf("the readiness error does not name the last attempt's failure:\n%s", tail(r.output))
			}
			junitFailureSays(t, r, "not ready")
		}},
		{mode: "exit", exit: 2, check: func(t *testing.T, r *result) {
			junitFailureSays(t, r, "exited (exit status 4)")
			if !strings.Contains(string(r.file(t, "publisher.log")), "giving up before listening") {
				t.Errorf("publisher.log lacks the publisher's last words")
			}
		}},
		{mode: "hang", exit: 1, ready: "60s", interrupt: true, check: func(t *testing.T, r *result) {
			if !strings.Contains(string(r.file(t, "saasconform.json")), "interrupted") {
				t.Errorf("saasconform.json does not say the run was interrupted")
			}
			junitFailureSays(t, r, "interrupted")
		}},
		{mode: "drip", exit: 1},
		{mode: "garbage", exit: 1},
		{mode: "huge", exit: 1},
		{mode: "crash", exit: 1, check: func(t *testing.T, r *result) {
			if !strings.Contains(string(r.file(t, "saasconform.json")), "the publisher exited during the run") {
				t.Errorf("saasconform.json does not say the publisher exited")
			}
			if !strings.Contains(string(r.file(t, "publisher.log")), "crashes on purpose") {
				t.Errorf("publisher.log lacks the crash's output")
			}
		}},
		{mode: "bad-action", exit: 1, check: func(t *testing.T, r *result) {
			// The page's form action does not parse: the cause names it
			// (no panic, no "could not be opened").
			if !strings.Contains(r.output, "gave the visitor a URL it cannot follow") ||
				!strings.Contains(r.output, `form action "//::1/activate" is not a URL`) ||
				strings.Contains(r.output, "PANICKED") || strings.Contains(r.output, "[PANICKED]") {
				t.Errorf("the cause does not name the form action:\n%s", tail(r.output))
			}
		}},
		{mode: "fork", exit: 1},
		{mode: "setsid", exit: 1, check: func(t *testing.T, r *result) {
			if !strings.Contains(r.output, "left its process group") {
				t.Errorf("no word of the child that left the publisher's process group:\n%s", tail(r.output))
			}
		}},
		{mode: "ignore-term", exit: 1},
		{mode: "flood-logs", exit: 1, env: map[string]string{"HOSTILE_FLOOD_MB": "160"}, ready: "30s", check: func(t *testing.T, r *result) {
			// The output is read, kept bounded, and the log says how much
			// of it was left out; the end of it is kept.
			t.Logf("peak RSS %d MiB", r.maxRSS>>20)
			if r.maxRSS > 120<<20 {
				t.Errorf("the harness's peak RSS was %d MiB for 160 MiB of app output", r.maxRSS>>20)
			}
			log := r.file(t, "publisher.log")
			if len(log) > 40<<20 || !bytes.Contains(log, []byte("bytes of the publisher's output left out")) ||
				!bytes.Contains(log, []byte("FLOOD DONE")) {
				t.Errorf("publisher.log: %d bytes, says what was left out: %v, has the last line: %v", len(log),
					bytes.Contains(log, []byte("left out")), bytes.Contains(log, []byte("FLOOD DONE")))
			}
		}},
	}
	for _, c := range cases {
		name := c.mode
		if c.interrupt {
			name += "/interrupted while waiting for ready"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := runCase(t, c)
			if r.elapsed > wallLimit {
				t.Errorf("the run took %s (limit %s)", r.elapsed, wallLimit)
			}
			if r.exit != c.exit {
				t.Errorf("exit %d, want %d\n%s", r.exit, c.exit, tail(r.output))
			}
			reportsParse(t, r)
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

var runs atomic.Int64

// runCase writes a target for c, seeds its reports folder with a stale
// passing run, runs the command, and checks that nothing of the publisher
// outlives it.
func runCase(t *testing.T, c hostileCase) *result {
	t.Helper()
	dir := t.TempDir()
	r := &result{reports: filepath.Join(dir, "reports"), port: freePort(t)}
	seedStaleReports(t, r.reports)
	marker := fmt.Sprintf("%d-%d", os.Getpid(), runs.Add(1))
	env := fmt.Sprintf("HOSTILE: %q, HOSTILE_ADDR: \"127.0.0.1:{{.PublisherPort}}\", HOSTILE_RUN: %q", c.mode, marker)
	for k, v := range c.env {
		env += fmt.Sprintf(", %s: %q", k, v)
	}
	ready := c.ready
	if ready == "" {
		ready = "10s"
	}
	cfg := fmt.Sprintf(`publisher:
  port: %d
  landingPage: http://127.0.0.1:{{.PublisherPort}}/landing
  webhook: http://127.0.0.1:{{.PublisherPort}}/webhook
  start:
    command: [%q]
    env: {%s}
    ready: http://127.0.0.1:{{.PublisherPort}}/healthz
    readyTimeout: %s
    stopTimeout: 1s
marketplace: {tls: false}
capabilities: [landing, activate]
timeouts: {request: 2s, flow: 4s, idle: 1s, webhookAck: 2s}
`, r.port, bin.publisher, env, ready)
	path := filepath.Join(dir, "target.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*wallLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin.saasconform, "run", "-c", path, "--reports-dir", r.reports, "--focus", focus, "--no-color")
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if c.interrupt {
		// The publisher runs and never answers: the command is waiting for
		// it to be ready.
		waitFor(t, 20*time.Second, "the publisher to start", func() bool { return len(processesOf(marker)) > 0 })
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
	}
	err := cmd.Wait()
	r.elapsed = time.Since(start)
	r.output = out.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.exit = exit.ExitCode()
	default:
		t.Fatalf("saasconform run: %v", err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss << 10
	}
	if ctx.Err() != nil {
		t.Errorf("killed after %s: the run did not end", 2*wallLimit)
	}

	// Nothing the publisher started may outlive the command. Poll briefly:
	// a process killed last may take a moment to vanish from /proc.
	deadline := time.Now().Add(3 * time.Second)
	for left := processesOf(marker); len(left) > 0; left = processesOf(marker) {
		if time.Now().After(deadline) {
			t.Errorf("processes of the publisher outlived the run: %v\n%s", left, tail(r.output))
			killAll(left)
			break
		}
		time.Sleep(20 * time.Millisecond) // polling /proc, bounded by the deadline
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), time.Second); err == nil {
		c.Close()
		t.Errorf("port %d is still held after the run", r.port)
	}
	return r
}

// seedStaleReports leaves a previous run's passing reports in dir: every
// run must replace them, whatever happens to it.
func seedStaleReports(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := map[string]string{
		"junit.xml":        `<testsuites tests="46"><testsuite name="stale" tests="46"><testcase name="STALE passed" status="passed"></testcase></testsuite></testsuites>`,
		"saasconform.json": `{"verdict":"passed","stale":true}`,
		"report.json":      `[{"stale":true}]`,
		"violations.json":  `{"stale":true}`,
		"summary.md":       "STALE passed",
		"report.html":      "STALE passed",
		"publisher.log":    "STALE",
	}
	for name, text := range stale {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type junitReport struct {
	Suites []struct {
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// reportsParse checks every report is there, fresh, and parses.
func reportsParse(t *testing.T, r *result) {
	t.Helper()
	var j junitReport
	if err := xml.Unmarshal(r.file(t, "junit.xml"), &j); err != nil {
		t.Errorf("junit.xml: %v", err)
	}
	cases, failed := 0, 0
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			cases++
			if strings.Contains(c.Name, "STALE") {
				t.Errorf("junit.xml is the previous run's")
			}
			if c.Failure != nil || c.Error != nil {
				failed++
			}
		}
	}
	if cases == 0 || failed == 0 {
		t.Errorf("junit.xml has %d testcases, %d failed; want a failed one", cases, failed)
	}
	var ours struct {
		Verdict string `json:"verdict"`
		Stale   bool   `json:"stale"`
	}
	if err := json.Unmarshal(r.file(t, "saasconform.json"), &ours); err != nil || ours.Stale || ours.Verdict == "passed" {
		t.Errorf("saasconform.json: %v, verdict %q, stale %v", err, ours.Verdict, ours.Stale)
	}
	for _, name := range []string{"report.json", "violations.json"} {
		var v any
		if b := r.file(t, name); json.Unmarshal(b, &v) != nil || bytes.Contains(b, []byte(`"stale"`)) {
			t.Errorf("%s does not parse or is the previous run's: %.200s", name, b)
		}
	}
	for _, name := range []string{"summary.md", "report.html"} {
		if b := r.file(t, name); len(b) == 0 || bytes.Contains(b, []byte("STALE")) {
			t.Errorf("%s is empty or the previous run's", name)
		}
	}
	if b := r.file(t, "publisher.log"); bytes.Equal(b, []byte("STALE")) {
		t.Errorf("publisher.log is the previous run's")
	}
}

// junitFailureSays checks that a failed testcase's message has want.
func junitFailureSays(t *testing.T, r *result, want string) {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(r.reports, "junit.xml"))
	if !bytes.Contains(b, []byte(want)) {
		t.Errorf("junit.xml does not say %q:\n%.1000s", want, b)
	}
}

// process is one live process of a hostile run.
type process struct {
	pid     int
	command string
}

func (p process) String() string { return fmt.Sprintf("%d %s", p.pid, p.command) }

// processesOf lists the live (not zombie) processes whose environment has
// HOSTILE_RUN=marker: the publisher and everything it spawned, whatever
// session or group they moved to.
func processesOf(marker string) []process {
	want := []byte("HOSTILE_RUN=" + marker)
	entries, _ := os.ReadDir("/proc")
	var found []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil || !containsField(env, want) {
			continue
		}
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && len(stat) > i+2 && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		found = append(found, process{pid, strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))})
	}
	return found
}

func containsField(env, want []byte) bool {
	for _, f := range bytes.Split(env, []byte{0}) {
		if bytes.Equal(f, want) {
			return true
		}
	}
	return false
}

func killAll(ps []process) {
	for _, p := range ps {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // polling another process, bounded by the deadline
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tail is the end of a long output, for failure messages.
func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}
