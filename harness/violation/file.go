package violation

import (
	"encoding/json"
	"fmt"
	"os"
)

// File is violations.json: every violation a log recorded, in the order
// recorded. `saasconform run` and `saasconform serve` both write it.
type File struct {
	Target     string      `json:"target,omitempty"` // the target file, when there is one
	Count      int         `json:"count"`
	Errors     int         `json:"errors"`            // of Error severity; warnings do not fail conformance
	Dropped    int         `json:"dropped,omitempty"` // older violations a bounded log no longer held
	Violations []Violation `json:"violations"`
}

// WriteFile writes the log's violations to path as a File.
func (l *Log) WriteFile(path, target string) error { return l.WriteFileFunc(path, target, nil) }

// WriteFileFunc is WriteFile with each violation passed through each
// first (nil: as recorded), e.g. to hide the run's secrets in it.
func (l *Log) WriteFileFunc(path, target string, each func(Violation) Violation) error {
	all := l.All()
	if all == nil {
		all = []Violation{}
	}
	if each != nil {
		for i, v := range all {
			all[i] = each(v)
		}
	}
	f := File{Target: target, Count: len(all), Violations: all, Dropped: l.Dropped()}
	for _, v := range all {
		if v.Severity == Error {
			f.Errors++
		}
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("violations file: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("violations file: %w", err)
	}
	return nil
}
