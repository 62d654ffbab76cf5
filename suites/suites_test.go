package suites_test

import (
	"os"
	"testing"

	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/suites"
)

// TestReferencePublisherConforms runs every spec against examples/publisher:
// a correct integration must pass with no violation.
func TestReferencePublisherConforms(t *testing.T) {
	cfg, err := target.Load("../fixtures/targets/reference-publisher.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var logs *os.File
	if testing.Verbose() {
		logs = os.Stderr
	}
	c := suites.Config{Target: cfg}
	if logs != nil {
		c.Logs = logs
	}
	suites.Run(t, c)
}
