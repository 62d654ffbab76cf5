package suites

import (
	"bytes"
	"context"
	"fmt"
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
