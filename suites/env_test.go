package suites

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/report"
	"github.com/saasconform/saasconform/harness/target"
)

// A publisher that prints far more than a report keeps must not cost the
// harness that much memory: 229 MB of app output once made an 860 MB
// harness. What is kept is bounded, says how much was left out, and keeps
// the start and the end.
func TestPublisherOutputIsBounded(t *testing.T) {
	const size = 40 << 20
	cfg, err := target.Parse([]byte(fmt.Sprintf(`publisher:
  landingPage: http://127.0.0.1:1/landing
  webhook: http://127.0.0.1:1/webhook
  start:
    command: ["sh", "-c", "echo FIRST; head -c %d /dev/zero | tr '\\0' x; echo; echo LAST; exec sleep 60"]
    stopTimeout: 1s
marketplace: {tls: false}
`, size)), "flood.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := Prepare(context.Background(), Config{Target: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	deadline := time.Now().Add(30 * time.Second)
	for !bytes.HasSuffix(e.PublisherLogs(), []byte("LAST\n")) {
		if time.Now().After(deadline) {
			t.Fatalf("the publisher's last line never arrived (%d bytes kept)", len(e.PublisherLogs()))
		}
		time.Sleep(20 * time.Millisecond) // polling a process's output, bounded by the deadline
	}
	logs := e.PublisherLogs()
	if len(logs) > report.MaxPublisherLog {
		t.Errorf("kept %d bytes of the publisher's output; a report keeps %d", len(logs), report.MaxPublisherLog)
	}
	if !bytes.HasPrefix(logs, []byte("FIRST\n")) || !bytes.Contains(logs, []byte("bytes of the publisher's output left out")) {
		t.Errorf("the kept output does not begin with the first line and say what was left out: %.200q…", logs)
	}
}

// A port the publisher's ready URL names that something outside its tree
// still holds after it stopped is named, with the holder, not left silent.
func TestPortStillHeldIsReported(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("port holders are read from /proc")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	cfg, err := target.Parse([]byte(fmt.Sprintf(`publisher:
  landingPage: %[1]s/landing
  webhook: %[1]s/webhook
  start:
    command: ["sh", "-c", "echo started; exec sleep 60"]
    ready: %[1]s/healthz
    stopTimeout: 1s
marketplace: {tls: false}
`, srv.URL)), "held.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := Prepare(context.Background(), Config{Target: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.stopPublisher(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("is still held by process %d", os.Getpid())
	if len(e.warnings) != 1 || !strings.Contains(e.warnings[0], want) {
		t.Errorf("warnings = %q, want one saying the port %s", e.warnings, want)
	}
	if !bytes.Contains(e.PublisherLogs(), []byte("[saasconform: port ")) {
		t.Errorf("the publisher's log does not carry the warning:\n%s", e.PublisherLogs())
	}
}
