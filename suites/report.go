package suites

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/saasconform/saasconform/harness/violation"
)

// violationsReport is violations.json: every violation the run recorded,
// by the fakes on requests and by the specs on what they saw, in the order
// recorded. A richer report (transcripts, state diffs) replaces it later.
type violationsReport struct {
	Target     string                `json:"target,omitempty"` // the target file
	Count      int                   `json:"count"`
	Errors     int                   `json:"errors"` // of Error severity; warnings do not fail conformance
	Violations []violation.Violation `json:"violations"`
}

// writeViolations writes e's violations to path as JSON.
func writeViolations(path string, e *Env) error {
	all := e.MS.Log.All()
	if all == nil {
		all = []violation.Violation{}
	}
	r := violationsReport{Count: len(all), Errors: len(e.MS.Log.Errors()), Violations: all}
	if e.Target != nil {
		r.Target = e.Target.Source
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("suites: violations report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("suites: violations report: %w", err)
	}
	return nil
}
