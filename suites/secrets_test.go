package suites

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
)

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPublisherLogHidesTheRunsSecrets starts an app that prints its client
// secret and a purchase token it was given, and reads publisher.log's
// stream: neither may be there, the last line (no newline) included.
func TestPublisherLogHidesTheRunsSecrets(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	yaml := `publisher:
  landingPage: http://127.0.0.1:1/landing
  webhook: http://127.0.0.1:1/webhook
  start:
    command: ["sh", "-c", "for i in 1 2 3; do echo \"secret=$CS\"; done; while [ ! -s ` + tokenFile + ` ]; do sleep 0.05; done; echo \"token=$(cat ` + tokenFile + `)\"; printf 'last %s' \"$CS\"; exec sleep 60"]
    env:
      CS: "{{.ClientSecret}}"
capabilities: [landing]
`
	path := filepath.Join(dir, "target.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := target.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	e, err := Prepare(context.Background(), Config{Target: cfg, Logs: &logs})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	pl := plansOf(e.MS.Marketplace.Catalog().Offers()[0], cfg.Publisher.Rejects)
	p, err := e.MS.Marketplace.Purchase(marketplace.PurchaseRequest{OfferID: pl.Offer, PlanID: pl.Flat})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(p.Token), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(string(e.PublisherLogs()), "last ") {
		if time.Now().After(deadline) {
			t.Fatalf("the app printed %q", e.PublisherLogs())
		}
		<-time.After(10 * time.Millisecond)
	}
	if err := e.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	out := logs.String()
	secret := e.MS.App.Secret
	if strings.Contains(out, secret) || strings.Contains(out, p.Token) {
		t.Errorf("publisher.log holds a secret of the run:\n%s", out)
	}
	if strings.Count(out, "secret=<redacted client secret>") != 3 || !strings.Contains(out, "token=<redacted purchase token>") ||
		!strings.HasSuffix(out, "last <redacted client secret>") {
		t.Errorf("publisher.log does not show the redactions in place:\n%s", out)
	}
}
