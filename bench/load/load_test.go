package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunSmall drives both mixes briefly with tiny numbers: the driver must
// send requests, see no errors and leave no contract violations.
func TestRunSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Run(ctx, Config{Duration: 500 * time.Millisecond, Concurrency: 2, Subs: 6, Mix: "all"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Phases) != 2 {
		t.Fatalf("phases = %d, want 2", len(r.Phases))
	}
	for _, p := range r.Phases {
		if p.Ops == 0 || p.Requests == 0 {
			t.Errorf("%s: %d ops, %d requests; want > 0", p.Mix, p.Ops, p.Requests)
		}
		if p.Errors != 0 {
			t.Errorf("%s: %d errors, first: %s", p.Mix, p.Errors, p.FirstError)
		}
	}
	if r.Violations != 0 {
		t.Errorf("%d contract violations recorded", r.Violations)
	}
	if r.Seeded != 6 {
		t.Errorf("seeded %d, want 6", r.Seeded)
	}
	var out bytes.Buffer
	printResult(&out, r)
	if !strings.Contains(out.String(), "GET mix requests/s") || !strings.Contains(out.String(), "lifecycles/s") {
		t.Errorf("table lacks rows:\n%s", out.String())
	}
}
