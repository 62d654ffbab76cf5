// Package runcheck reads what a `saasconform run` left behind — Ginkgo's
// JSON report and violations.json — for the tests that run the command
// against whole publishers (mutants/, subjects/).
package runcheck

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Build compiles pkg (relative to root, the repository) into out.
func Build(root, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// Spec is one spec of Ginkgo's JSON report.
type Spec struct {
	Name    string // container texts and the spec's own, joined by spaces
	State   string
	RunTime time.Duration
}

// Specs reads the specs (It nodes) of Ginkgo's JSON report at path.
func Specs(path string) ([]Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("no Ginkgo report: %w", err)
	}
	var reports []struct {
		SpecReports []struct {
			ContainerHierarchyTexts []string
			LeafNodeText            string
			LeafNodeType            string
			State                   string
			RunTime                 time.Duration
		}
	}
	if err := json.Unmarshal(data, &reports); err != nil {
		return nil, fmt.Errorf("Ginkgo report: %w", err)
	}
	var out []Spec
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType == "It" {
				out = append(out, Spec{Name: strings.Join(append(s.ContainerHierarchyTexts, s.LeafNodeText), " "),
					State: s.State, RunTime: s.RunTime})
			}
		}
	}
	return out, nil
}

// FailedSpecs names the specs of Ginkgo's JSON report at path that failed,
// panicked or timed out.
func FailedSpecs(path string) ([]string, error) {
	specs, err := Specs(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range specs {
		if s.State == "failed" || s.State == "panicked" || s.State == "timedout" {
			out = append(out, s.Name)
		}
	}
	return out, nil
}

// Rules lists, sorted and once each, the rules of the violations of one
// severity ("error" or "warning") in the violations.json at path.
func Rules(path, severity string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("no violations file: %w", err)
	}
	var doc struct {
		Violations []struct {
			Rule     string `json:"rule"`
			Severity string `json:"severity"`
		} `json:"violations"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("violations file: %w", err)
	}
	var out []string
	for _, v := range doc.Violations {
		if v.Severity == severity && !slices.Contains(out, v.Rule) {
			out = append(out, v.Rule)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Tail is the last 25 lines of s, for a failure message.
func Tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	return strings.Join(lines, "\n")
}
