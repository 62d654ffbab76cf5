package spec_test

import (
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/saasconform/saasconform/examples/publisher/app"
	"github.com/saasconform/saasconform/spec"
	"github.com/saasconform/saasconform/suites"
)

var updateRules = flag.Bool("update-rules", false, "rewrite the specs lists in rules.yaml from the suites' labels")

// TestRuleCatalogueMatchesTheSuites keeps rules.yaml honest: every rule a
// spec cites is catalogued, every catalogued rule is checked by a spec or
// says why it cannot be, the specs lists are exactly what the labels say,
// and every mutant of the reference publisher is accounted for.
func TestRuleCatalogueMatchesTheSuites(t *testing.T) {
	rules, err := spec.Rules()
	if err != nil {
		t.Fatal(err)
	}
	specs, err := suites.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]spec.Rule{}
	for _, r := range rules {
		known[r.ID] = r
	}
	checkedBy := map[string][]string{}
	for _, s := range specs {
		if len(s.Rules) == 0 {
			t.Errorf("spec %q cites no rule", s.Text)
		}
		if s.Flow == "" {
			t.Errorf("spec %q has no flow: label", s.Text)
		}
		for _, id := range s.Rules {
			if _, ok := known[id]; !ok {
				t.Errorf("spec %q cites %s, which rules.yaml does not know", s.Text, id)
			}
			checkedBy[id] = append(checkedBy[id], s.Text)
		}
	}
	if *updateRules {
		rewriteSpecs(t, checkedBy)
		return
	}
	for _, r := range rules {
		want := checkedBy[r.ID]
		slices.Sort(want)
		switch {
		case len(want) == 0 && r.NotCheckable == "":
			t.Errorf("%s has no spec and no notCheckable reason", r.ID)
		case len(want) > 0 && r.NotCheckable != "":
			t.Errorf("%s is marked notCheckable but %d spec(s) cite it", r.ID, len(want))
		case !slices.Equal(r.Specs, want):
			t.Errorf("%s: rules.yaml lists specs %q, the suites say %q (go test ./spec -run RuleCatalogue -update-rules)", r.ID, r.Specs, want)
		}
	}
	mutantRules := map[string][]string{}
	for _, r := range rules {
		for _, m := range r.Mutants {
			mutantRules[m] = append(mutantRules[m], r.ID)
		}
	}
	for _, m := range app.Mistakes {
		got := mutantRules[string(m.Name)]
		if len(got) == 0 {
			t.Errorf("mistake %s is not listed under any rule's mutants", m.Name)
			continue
		}
		for _, want := range strings.Split(m.Rules, ",") {
			if want = strings.TrimSpace(want); want != "" && !slices.Contains(got, want) {
				t.Errorf("mistake %s breaks %s (per its table) but rules.yaml lists it under %v", m.Name, want, got)
			}
		}
		delete(mutantRules, string(m.Name))
	}
	for m := range mutantRules {
		t.Errorf("rules.yaml names mutant %q, which the reference publisher does not have", m)
	}
}

// rewriteSpecs replaces every rule's specs list in rules.yaml.
func rewriteSpecs(t *testing.T, checkedBy map[string][]string) {
	data, err := os.ReadFile("rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	id := regexp.MustCompile(`^  - id: (\S+)`)
	var out []string
	cur := ""
	flush := func() {
		if specs := checkedBy[cur]; cur != "" && len(specs) > 0 {
			slices.Sort(specs)
			out = append(out, "    specs:")
			for _, s := range specs {
				out = append(out, "      - "+quote(s))
			}
		}
	}
	skipping := false
	for _, l := range lines {
		if m := id.FindStringSubmatch(l); m != nil {
			flush()
			cur = m[1]
		}
		if l == "    specs:" {
			skipping = true
			continue
		}
		if skipping && strings.HasPrefix(l, "      - ") {
			continue
		}
		skipping = false
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	flush()
	if err := os.WriteFile("rules.yaml", []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}
