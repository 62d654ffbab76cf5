package target

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperEnv switches the test binary into a stand-in publisher, so process
// tests need no tools beyond the binary itself.
const helperEnv = "SAASCONFORM_TARGET_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		helper(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helper(mode string) {
	switch mode {
	case "print": // three lines on each stream, then exit HELPER_EXIT
		for i := 1; i <= 3; i++ {
			fmt.Printf("out line %d\n", i)
			fmt.Fprintf(os.Stderr, "err line %d\n", i)
		}
		code, _ := strconv.Atoi(os.Getenv("HELPER_EXIT"))
		os.Exit(code)
	case "env":
		for _, k := range []string{"A", "B", "HELPER_INHERITED"} {
			fmt.Printf("%s=%s\n", k, os.Getenv(k))
		}
	case "flood": // more than LogLimit, last line last
		line := bytes.Repeat([]byte("x"), 1023)
		line = append(line, '\n')
		for range LogLimit/1024 + 512 {
			os.Stdout.Write(line)
		}
		fmt.Println("LAST")
	case "serve": // answer /healthz until SIGTERM
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		l, err := net.Listen("tcp", os.Getenv("HELPER_ADDR"))
		if err != nil {
			fmt.Println("listen:", err)
			os.Exit(1)
		}
		go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		fmt.Println("listening")
		<-sig
		fmt.Println("bye")
	case "sleep":
		fmt.Println("sleeping")
		time.Sleep(time.Hour)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring")
		time.Sleep(time.Hour)
	case "parent", "parent-exit": // start a grandchild that ignores SIGTERM
		self, _ := os.Executable()
		gc := exec.Command(self)
		gc.Env = append(os.Environ(), helperEnv+"=ignore-term", "GORACE=atexit_sleep_ms=0")
		gc.Stdout, gc.Stderr = os.Stdout, os.Stderr
		if err := gc.Start(); err != nil {
			fmt.Println("grandchild:", err)
			os.Exit(1)
		}
		// Wait until it ignores SIGTERM before telling the test.
		for !ignoresTerm(gc.Process.Pid) {
			time.Sleep(time.Millisecond)
		}
		fmt.Printf("grandchild %d\n", gc.Process.Pid)
		if mode == "parent" {
			time.Sleep(time.Hour)
		}
	case "escape": // start a grandchild in a session of its own that ignores SIGTERM
		self, _ := os.Executable()
		gc := exec.Command(self)
		gc.Env = append(os.Environ(), helperEnv+"=ignore-term", "GORACE=atexit_sleep_ms=0")
		gc.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := gc.Start(); err != nil {
			fmt.Println("grandchild:", err)
			os.Exit(1)
		}
		for !ignoresTerm(gc.Process.Pid) {
			time.Sleep(time.Millisecond)
		}
		fmt.Printf("escaped %d\n", gc.Process.Pid)
		time.Sleep(time.Hour)
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		os.Exit(2)
	}
}

// ignoresTerm reads SigIgn from /proc/PID/status.
func ignoresTerm(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<(uint(syscall.SIGTERM)-1)) != 0
		}
	}
	return false
}

// helperSpec runs the test binary in mode with extra environment.
func helperSpec(t *testing.T, mode string, env ...string) *StartSpec {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s := &StartSpec{Command: []string{self}, InheritEnv: true, StopTimeout: 5 * time.Second,
		// The race runtime waits a second at exit unless told not to.
		Env: map[string]string{helperEnv: mode, "GORACE": "atexit_sleep_ms=0"}}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		s.Env[k] = v
	}
	return s
}

// watcher is a log writer a test can wait on, without sleeping.
type watcher struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newWatcher() *watcher { return &watcher{changed: make(chan struct{}, 1)} }

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor blocks until the output contains s and returns the line holding it.
func (w *watcher) waitFor(t *testing.T, s string) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		out := w.String()
		if i := strings.Index(out, s); i >= 0 {
			line, _, _ := strings.Cut(out[i:], "\n")
			return line
		}
		select {
		case <-w.changed:
		case <-deadline:
			t.Fatalf("no %q in output:\n%s", s, out)
		}
	}
}

// gone reports whether pid no longer runs (reaped, or a zombie nobody reaps).
func gone(pid int) bool {
	return syscall.Kill(pid, 0) != nil || zombie(pid)
}

// eventually polls cond for up to 2s: a killed process takes a moment to go.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
