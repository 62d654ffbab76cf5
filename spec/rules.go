package spec

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"

	"github.com/saasconform/saasconform/harness/profile"

	"gopkg.in/yaml.v3"
)

//go:embed rules.yaml
var rulesYAML []byte

// Rule is one entry of the rule catalogue (rules.yaml).
type Rule struct {
	ID        string   `yaml:"id"`
	Severity  string   `yaml:"severity"` // error or warning
	Doc       string   `yaml:"doc"`
	Statement string   `yaml:"statement"`
	Specs     []string `yaml:"specs,omitempty"`   // full texts of the specs that check it
	Mutants   []string `yaml:"mutants,omitempty"` // reference-publisher mistake switches that break it
	// NotCheckable says why no spec can check the rule from outside.
	NotCheckable string `yaml:"notCheckable,omitempty"`
	// Profiles are the marketplace profiles (harness/profile: strict,
	// production) the rule is checked in; empty means every profile.
	Profiles []string `yaml:"profiles,omitempty"`
	// Source is where the behaviour the rule guards against is reported,
	// when that is not the doc page (a thread, the emulator, or "none").
	Source string `yaml:"source,omitempty"`
}

// CheckedIn reports whether the rule is checked in profile p ("" is strict).
func (r Rule) CheckedIn(p string) bool {
	if p == "" {
		p = string(profile.Strict)
	}
	return len(r.Profiles) == 0 || slices.Contains(r.Profiles, p)
}

// Rules returns the catalogue in file order.
func Rules() ([]Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(rulesYAML))
	dec.KnownFields(true)
	var doc struct {
		Rules []Rule `yaml:"rules"`
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("spec: rules.yaml: %w", err)
	}
	seen := map[string]bool{}
	for i, r := range doc.Rules {
		switch {
		case r.ID == "" || r.Statement == "" || r.Doc == "":
			return nil, fmt.Errorf("spec: rules.yaml: rule %d (%q) needs id, statement and doc", i+1, r.ID)
		case seen[r.ID]:
			return nil, fmt.Errorf("spec: rules.yaml: rule %s listed twice", r.ID)
		case r.Severity != "error" && r.Severity != "warning":
			return nil, fmt.Errorf("spec: rules.yaml: rule %s: severity %q is not error or warning", r.ID, r.Severity)
		}
		for _, p := range r.Profiles {
			if _, err := profile.Parse(p); err != nil || p == "" {
				return nil, fmt.Errorf("spec: rules.yaml: rule %s: profiles: unknown profile %q (want %s or %s)", r.ID, p, profile.Strict, profile.Production)
			}
		}
		seen[r.ID] = true
	}
	return doc.Rules, nil
}

// RuleByID finds a rule in the catalogue.
func RuleByID(id string) (Rule, bool) {
	rules, err := Rules()
	if err != nil {
		return Rule{}, false
	}
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}
