package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"
)

// ReadyError says why a publisher never became ready.
type ReadyError struct {
	URL      string
	Waited   time.Duration
	Attempts int
	Last     string // the last answer ("503 Service Unavailable") or request error
	Exited   bool   // the process ended before it was ready
	ExitErr  error  // how it ended, when Exited
	LogTail  string // its last lines of output
}

// Error says what was tried, what came back last and what the publisher
// printed.
func (e *ReadyError) Error() string {
	var b strings.Builder
	if e.Exited {
		how := "exit status 0"
		if e.ExitErr != nil {
			how = e.ExitErr.Error()
		}
		fmt.Fprintf(&b, "target: the publisher exited (%s) before %s answered 2xx", how, e.URL)
	} else {
		fmt.Fprintf(&b, "target: the publisher was not ready after %s: GET %s %d times", e.Waited.Round(time.Millisecond), e.URL, e.Attempts)
	}
	if e.Last != "" {
		fmt.Fprintf(&b, "; last: %s", e.Last)
	}
	if !e.Exited {
		b.WriteString(" — check publisher.start.ready, or raise publisher.start.readyTimeout")
	}
	if e.LogTail != "" {
		b.WriteString("\nlast lines of its output:\n  " + strings.ReplaceAll(e.LogTail, "\n", "\n  "))
	}
	return b.String()
}

// logTailLines is how much output a ReadyError quotes.
const logTailLines = 20

// WaitReady polls url with GET until it answers 2xx, timeout passes, ctx
// ends or — when p is not nil — the process exits. The wait is on a real
// process, so it uses real time: intervals start at 20ms and double to
// 500ms. Failures are *ReadyError (or ctx's error).
func WaitReady(ctx context.Context, url string, client *http.Client, timeout time.Duration, p *Process) error {
	if client == nil {
		client = http.DefaultClient
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var exited <-chan struct{}
	if p != nil {
		exited = p.Exited()
	}
	re := &ReadyError{URL: url}
	interval := 20 * time.Millisecond
	for {
		re.Attempts++
		ok, last := tryReady(ctx, client, url, exited)
		if ok {
			return nil
		}
		if last != "" {
			re.Last = last
		}
		select {
		case <-exited:
			re.Exited = true
			re.ExitErr = p.ExitErr()
			re.LogTail = p.LogTail(logTailLines)
			return re
		case <-ctx.Done():
			if ctx.Err() == context.Canceled {
				return fmt.Errorf("target: waiting for %s: %w", url, ctx.Err())
			}
			re.Waited = time.Since(start)
			if p != nil {
				re.LogTail = p.LogTail(logTailLines)
			}
			return re
		case <-time.After(interval):
		}
		interval = min(2*interval, 500*time.Millisecond)
	}
}

// attemptTimeout bounds one readiness GET, so one hung request cannot eat
// the whole wait.
const attemptTimeout = 2 * time.Second

// tryReady makes one GET, bounded by attemptTimeout, and abandoned if the
// process exits meanwhile. It returns what the attempt met: "" when it was
// cut short by the caller or the process's exit, which says nothing about
// the URL.
func tryReady(ctx context.Context, client *http.Client, url string, exited <-chan struct{}) (bool, string) {
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	var died atomic.Bool
	go func() {
		select {
		case <-exited:
			died.Store(true)
			cancel()
		case <-actx.Done():
		}
	}()
	var connected atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, trace), http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		if died.Load() || errors.Is(ctx.Err(), context.Canceled) {
			return false, ""
		}
		var ne net.Error
		if actx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
			waited := time.Since(start).Round(10 * time.Millisecond)
			if connected.Load() {
				return false, fmt.Sprintf("GET %s: connected, but no answer within %s (timeout awaiting response headers)", url, waited)
			}
			return false, fmt.Sprintf("GET %s: no connection within %s", url, waited)
		}
		return false, err.Error()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return true, ""
	}
	return false, resp.Status
}
