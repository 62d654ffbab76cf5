package target

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func startHelper(t *testing.T, s *StartSpec, logs *watcher) *Process {
	t.Helper()
	p, err := Start(context.Background(), s, "", nil, logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(time.Second) })
	return p
}

func waitExited(t *testing.T, p *Process) {
	t.Helper()
	select {
	case <-p.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("the process did not exit")
	}
}

// signalOf is the signal that ended the process, or 0.
func signalOf(err error) syscall.Signal {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ws.Signal()
		}
	}
	return 0
}

func TestStartCapturesBothStreams(t *testing.T) {
	w := newWatcher()
	p := startHelper(t, helperSpec(t, "print", "HELPER_EXIT=3"), w)
	if p.ExitErr() != nil {
		t.Errorf("ExitErr before exit = %v, want nil", p.ExitErr())
	}
	waitExited(t, p)
	var ee *exec.ExitError
	if !errors.As(p.ExitErr(), &ee) || ee.ExitCode() != 3 {
		t.Errorf("ExitErr = %v, want exit status 3", p.ExitErr())
	}
	for _, line := range []string{"out line 1", "out line 3", "err line 1", "err line 3"} {
		if !bytes.Contains(p.Logs(), []byte(line)) {
			t.Errorf("Logs() lacks %q:\n%s", line, p.Logs())
		}
		if !strings.Contains(w.String(), line) {
			t.Errorf("log writer lacks %q", line)
		}
	}
	if tail := p.LogTail(1); tail != "err line 3" && tail != "out line 3" {
		t.Errorf("LogTail(1) = %q", tail)
	}
}

func TestStartEnvironment(t *testing.T) {
	t.Setenv("HELPER_INHERITED", "yes")
	tests := []struct {
		inherit bool
		want    string
	}{
		{true, "A=from-extra\nB=from-spec\nHELPER_INHERITED=yes\n"},
		{false, "A=from-extra\nB=from-spec\nHELPER_INHERITED=\n"},
	}
	for _, tt := range tests {
		s := helperSpec(t, "env", "A=from-spec", "B=from-spec")
		s.InheritEnv = tt.inherit
		p, err := Start(context.Background(), s, "", []string{"A=from-extra"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitExited(t, p)
		if got := string(p.Logs()); got != tt.want {
			t.Errorf("inherit=%v: env\n%s\nwant\n%s", tt.inherit, got, tt.want)
		}
	}
}

func TestLogsBounded(t *testing.T) {
	var total atomic.Int64
	counter := writerFunc(func(b []byte) (int, error) { total.Add(int64(len(b))); return len(b), nil })
	p, err := Start(context.Background(), helperSpec(t, "flood"), "", nil, counter)
	if err != nil {
		t.Fatal(err)
	}
	waitExited(t, p)
	logs := p.Logs()
	if len(logs) != LogLimit || !bytes.HasSuffix(logs, []byte("\nLAST\n")) {
		t.Errorf("Logs() = %d bytes ending %q, want %d ending with LAST", len(logs), logs[max(0, len(logs)-10):], LogLimit)
	}
	if total.Load() <= LogLimit {
		t.Errorf("the log writer got %d bytes, want everything (> %d)", total.Load(), LogLimit)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestTailBuffer(t *testing.T) {
	var out bytes.Buffer
	tb := newTailBuffer(8, &out)
	for _, s := range []string{"abc", "defgh", "ijklmnop", "q", "rstuvwxyz0"} {
		tb.Write([]byte(s))
	}
	all := "abcdefghijklmnopqrstuvwxyz0"
	if got := string(tb.Bytes()); got != all[len(all)-8:] {
		t.Errorf("Bytes() = %q, want %q", got, all[len(all)-8:])
	}
	if out.String() != all {
		t.Errorf("forwarded %q, want everything", out.String())
	}
	if len(tb.buf) > 16 {
		t.Errorf("buffer grew to %d bytes for a limit of 8", len(tb.buf))
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\n", 5, "a\nb"},
		{"", 3, ""},
		{"only", 1, "only"},
	}
	for _, tt := range tests {
		if got := lastLines([]byte(tt.in), tt.n); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestStopSendsTerm(t *testing.T) {
	w := newWatcher()
	p := startHelper(t, helperSpec(t, "sleep"), w)
	w.waitFor(t, "sleeping")
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if sig := signalOf(p.ExitErr()); sig != syscall.SIGTERM {
		t.Errorf("ended by %v (%v), want SIGTERM", sig, p.ExitErr())
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	w := newWatcher()
	p := startHelper(t, helperSpec(t, "ignore-term"), w)
	w.waitFor(t, "ignoring")
	start := time.Now()
	if err := p.Stop(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if sig := signalOf(p.ExitErr()); sig != syscall.SIGKILL {
		t.Errorf("ended by %v (%v), want SIGKILL", sig, p.ExitErr())
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("Stop took %v: it did not wait before SIGKILL", d)
	}
}

// go run and npm start spawn the real server; Stop must reach it.
func TestStopKillsTheGroup(t *testing.T) {
	for _, mode := range []string{"parent", "parent-exit"} {
		t.Run(mode, func(t *testing.T) {
			w := newWatcher()
			p := startHelper(t, helperSpec(t, mode), w)
			pid, err := strconv.Atoi(strings.TrimPrefix(w.waitFor(t, "grandchild "), "grandchild "))
			if err != nil {
				t.Fatal(err)
			}
			if gone(pid) {
				t.Fatalf("grandchild %d is not running", pid)
			}
			if mode == "parent-exit" {
				waitExited(t, p) // the leader went on its own; the grandchild lingers
				if gone(pid) {
					t.Fatalf("grandchild %d died with its parent", pid)
				}
			}
			if err := p.Stop(300 * time.Millisecond); err != nil {
				t.Fatal(err)
			}
			eventually(t, "grandchild "+strconv.Itoa(pid)+" to go", func() bool { return gone(pid) })
		})
	}
}

func TestStopIdempotent(t *testing.T) {
	w := newWatcher()
	p := startHelper(t, helperSpec(t, "print"), w)
	waitExited(t, p) // died on its own
	for i := range 3 {
		if err := p.Stop(time.Second); err != nil {
			t.Errorf("Stop #%d = %v", i+1, err)
		}
	}
	if p.ExitErr() != nil {
		t.Errorf("ExitErr = %v; Stop after a clean exit must not change it", p.ExitErr())
	}

	q := startHelper(t, helperSpec(t, "sleep"), newWatcher())
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- q.Stop(5 * time.Second) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Stop = %v", err)
		}
	}
	waitExited(t, q)
}

func TestStartContextCancelStops(t *testing.T) {
	w := newWatcher()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, helperSpec(t, "sleep"), "", nil, w)
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "sleeping")
	cancel()
	waitExited(t, p)
	if sig := signalOf(p.ExitErr()); sig != syscall.SIGTERM {
		t.Errorf("ended by %v, want SIGTERM", sig)
	}
}

func TestStartErrors(t *testing.T) {
	tests := []struct {
		name string
		spec *StartSpec
		dir  string
		want []string
	}{
		{"not in PATH", &StartSpec{Command: []string{"saasconform-no-such-command"}}, "",
			[]string{`"saasconform-no-such-command" not found in PATH`, "install it", "./saasconform-no-such-command"}},
		{"no such file", &StartSpec{Command: []string{"./no-such-binary"}}, t.TempDir(),
			[]string{`"./no-such-binary" does not exist`}},
		{"no such folder", &StartSpec{Command: []string{"true"}}, "/no/such/folder",
			[]string{"no folder /no/such/folder", "publisher.start.dir"}},
		{"no command", &StartSpec{}, "", []string{"no command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Start(context.Background(), tt.spec, tt.dir, nil, nil)
			if err == nil {
				p.Stop(time.Second)
				t.Fatal("Start succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestWaitReady(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := startHelper(t, helperSpec(t, "serve", "HELPER_ADDR="+addr), newWatcher())
	if err := WaitReady(context.Background(), "http://"+addr+"/healthz", nil, 5*time.Second, p); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(p.Logs(), []byte("bye")) {
		t.Errorf("the publisher did not shut down cleanly on SIGTERM:\n%s", p.Logs())
	}
}

func TestWaitReadyAfterFailures(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := WaitReady(context.Background(), srv.URL, srv.Client(), 5*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d calls, want 3 (two 503s, then 200)", n)
	}
}

func TestWaitReadyProcessExits(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p := startHelper(t, helperSpec(t, "print", "HELPER_EXIT=2"), newWatcher())
	start := time.Now()
	err = WaitReady(context.Background(), "http://127.0.0.1:"+strconv.Itoa(port)+"/healthz", nil, 30*time.Second, p)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("WaitReady took %v: it did not notice the exit", d)
	}
	var re *ReadyError
	if !errors.As(err, &re) || !re.Exited {
		t.Fatalf("err = %v, want a ReadyError for an exit", err)
	}
	for _, want := range []string{"exited (exit status 2)", "/healthz", "err line 3", "out line 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestWaitReadyTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	w := newWatcher()
	p := startHelper(t, helperSpec(t, "sleep"), w)
	w.waitFor(t, "sleeping")
	err := WaitReady(context.Background(), srv.URL+"/healthz", srv.Client(), 300*time.Millisecond, p)
	var re *ReadyError
	if !errors.As(err, &re) || re.Exited || re.Attempts < 2 {
		t.Fatalf("err = %#v, want a ReadyError after several attempts", err)
	}
	for _, want := range []string{"not ready after", srv.URL + "/healthz", "503 Service Unavailable", "readyTimeout", "sleeping"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	// Nothing listening: the last error is the connection's.
	port, _ := FreePort()
	err = WaitReady(context.Background(), "http://127.0.0.1:"+strconv.Itoa(port)+"/", nil, 100*time.Millisecond, nil)
	if !errors.As(err, &re) || !strings.Contains(re.Last, "refused") {
		t.Errorf("err = %v, want connection refused as the last error", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WaitReady(ctx, srv.URL, srv.Client(), time.Second, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled WaitReady = %v, want context.Canceled", err)
	}
}

func TestOutputKeepsHeadAndTail(t *testing.T) {
	o := NewOutput(4, 6)
	for _, s := range []string{"ab", "cdef", "ghij", "klmnopqrst"} {
		o.Write([]byte(s))
	}
	got := string(o.Bytes())
	want := "abcd\n[saasconform: 10 bytes of the publisher's output left out here; the last 6 bytes follow]\nopqrst"
	if got != want || o.Dropped() != 10 {
		t.Errorf("Bytes() = %q, Dropped() = %d; want %q, 10", got, o.Dropped(), want)
	}
	small := NewOutput(4, 6)
	small.Write([]byte("abcdefgh"))
	if got := string(small.Bytes()); got != "abcdefgh" || small.Dropped() != 0 {
		t.Errorf("nothing dropped: Bytes() = %q, Dropped() = %d", got, small.Dropped())
	}
}

func TestLogFileBounded(t *testing.T) {
	var w bytes.Buffer
	l := NewLogFile(&w, 5, 3)
	for _, s := range []string{"12", "345", "67", "89abc"} {
		l.Write([]byte(s))
	}
	if got := w.String(); got != "12345" {
		t.Errorf("before Close: %q, want the first 5 bytes", got)
	}
	l.Note("a note")
	l.Write([]byte("de"))
	l.Close()
	l.Write([]byte("after close"))
	l.Close()
	want := "12345\n[saasconform: 4 bytes of the publisher's output left out here; the last 3 bytes follow]\nabc\n[saasconform: a note]\nde"
	if got := w.String(); got != want {
		t.Errorf("log = %q\nwant  %q", got, want)
	}
}

// A child that left the process group (setsid) escaped Stop's signals and
// kept running, silently, after the run. Stop now finds it through the
// process tree it recorded, stops it and says so.
func TestStopFindsAChildThatLeftTheGroup(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the process tree is read from /proc")
	}
	w := newWatcher()
	p := startHelper(t, helperSpec(t, "escape"), w)
	line := w.waitFor(t, "escaped ")
	pid, err := strconv.Atoi(strings.TrimPrefix(line, "escaped "))
	if err != nil {
		t.Fatal(line)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if err := p.Stop(500 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !gone(pid) {
		t.Errorf("process %d, which left the publisher's group, still runs after Stop", pid)
	}
	left := p.Leftovers()
	if len(left) != 1 || left[0].Pid != pid || !left[0].Stopped || !strings.Contains(left[0].String(), "left its process group") {
		t.Errorf("Leftovers() = %+v, want process %d, stopped", left, pid)
	}
}

func TestPortHolders(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("read from /proc")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	holders := PortHolders(port)
	if len(holders) != 1 || holders[0].Pid != os.Getpid() || holders[0].Command == "" {
		t.Errorf("PortHolders(%d) = %+v, want this process (%d)", port, holders, os.Getpid())
	}
	l.Close()
	if h := PortHolders(port); len(h) != 0 {
		t.Errorf("after Close: PortHolders(%d) = %+v, want none", port, h)
	}
}
