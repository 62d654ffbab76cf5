package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/saasconform/saasconform/harness/violation"
)

const (
	rootSpec    = "Foundation purchases, lands, resolves and activates a subscription"
	scopeFix    = "request the scope 20e940b3-4c77-4b0b-9a53-9e16a1b010a7/.default"
	wrongAud    = "bearer token was issued for another API"
	blockedLine = "blocked: AUTH-01 — " + wrongAud + "; fix: " + scopeFix
)

// subID is the n-th synthetic subscription ID.
func subID(n int) string { return fmt.Sprintf("%08x-4345-438f-b0bd-03d40d28c7e0", 0x10000000+n) }

// cascade is a run broken by one root cause: the foundation flow fails with
// AUTH-01 and blocks 30 specs; 28 specs fail with the same STATE-06
// difference (quantity 0 where Microsoft has none) on 28 subscriptions after
// different flows; one fails with a different STATE-06 difference; two pass,
// one skips, one was filtered out.
func cascade(withRoot bool) (types.Report, RunData) {
	var specs types.SpecReports
	it := func(container, flow, text string, labels ...string) types.SpecReport {
		return types.SpecReport{ContainerHierarchyTexts: []string{container}, ContainerHierarchyLabels: [][]string{{"flow:" + flow}},
			LeafNodeType: types.NodeTypeIt, LeafNodeText: text, LeafNodeLabels: labels, RunTime: 10 * time.Millisecond}
	}
	entry := func(vs ...violation.Violation) types.ReportEntries {
		return types.ReportEntries{{Name: "violations", Value: types.WrapEntryValue(vs)}}
	}
	var all []violation.Violation
	if withRoot {
		auth := violation.Violation{Rule: "AUTH-01", Severity: violation.Error, Summary: wrongAud, Field: "token.aud",
			Got: "00000003-0000-0000-c000-000000000000", Want: "20e940b3-4c77-4b0b-9a53-9e16a1b010a7", Fix: scopeFix,
			Method: "POST", Path: "/api/saas/subscriptions/resolve?api-version=2018-08-31", Status: 401, At: at(100)}
		all = append(all, auth)
		s := it("Foundation", "foundation", "purchases, lands, resolves and activates a subscription", "AUTH-01", "FUL-RESOLVE-01")
		s.State = types.SpecStateFailed
		s.Failure = types.Failure{Message: "AUTH-01: " + wrongAud + " — " + scopeFix + "\nviolations:\n  " + auth.String(),
			Location: types.CodeLocation{FileName: "/src/suites/foundation.go", LineNumber: 30}}
		s.ReportEntries = entry(auth)
		specs = append(specs, s)
	}
	flows := []string{"suspend", "renew", "changeplan", "unsubscribe", "changequantity"}
	for i := range 30 {
		f := flows[i%len(flows)]
		s := it(strings.ToUpper(f[:1])+f[1:], f, fmt.Sprintf("blocked spec %02d", i), "WH-ACK-01")
		s.State = types.SpecStateFailed
		s.Failure = types.Failure{Message: blockedLine + "\nthe foundation flow failed in \"" + rootSpec + "\"; this spec needs an activated subscription",
			Location: types.CodeLocation{FileName: "/src/suites/flow.go", LineNumber: 80}}
		specs = append(specs, s)
	}
	whens := []string{"after activation", "after the Renew notification", "after ChangeQuantity"}
	for i := range 28 {
		sub := subID(i)
		v := violation.Violation{Rule: "STATE-06", Severity: violation.Error,
			Summary: "publisher's view differs from Microsoft's " + whens[i%len(whens)], Field: "quantity",
			Got: "quantity=0", Want: "quantity=none", Fix: "apply every notification to your own records after GETting the operation, and reconcile from the subscription list",
			SubscriptionID: sub, At: at(1000 + i)}
		all = append(all, v)
		s := it("State", "state", fmt.Sprintf("keeps its record of subscription %s %02d", sub, i), "STATE-06")
		s.State = types.SpecStateFailed
		s.Failure = types.Failure{Message: "STATE-06: " + v.Summary + " — " + v.Fix + "\n  quantity: Microsoft none, publisher 0 (subscription " + sub + ")"}
		s.ReportEntries = entry(v)
		specs = append(specs, s)
	}
	plan := violation.Violation{Rule: "STATE-06", Severity: violation.Error, Summary: "publisher's view differs from Microsoft's after ChangePlan",
		Field: "planId", Got: "planId=gold", Want: "planId=silver", Fix: "apply every notification", SubscriptionID: subID(99), At: at(2000)}
	all = append(all, plan)
	other := it("Change plan", "changeplan", "applies the plan of a ChangePlan notification", "STATE-06")
	other.State = types.SpecStateFailed
	other.Failure = types.Failure{Message: "STATE-06: " + plan.Summary + " — " + plan.Fix}
	other.ReportEntries = entry(plan)
	specs = append(specs, other)

	for i, f := range []string{"landing", "webhook"} {
		s := it(f, f, fmt.Sprintf("passing spec %d", i))
		s.State = types.SpecStatePassed
		specs = append(specs, s)
	}
	skip := it("Suspend", "suspend", "skips without the capability")
	skip.State, skip.Failure = types.SpecStateSkipped, types.Failure{Message: `capability "suspend" is off`}
	filtered := it("Renewal", "renew", "was filtered out")
	filtered.State = types.SpecStateSkipped
	specs = append(specs, skip, filtered)

	r := types.Report{SuitePath: "suites", SuiteDescription: "SaaS fulfillment conformance",
		StartTime: t0, EndTime: t0.Add(9 * time.Second), RunTime: 9 * time.Second, SpecReports: specs}
	return r, RunData{Target: "fixtures/targets/broken.yaml", ToolVersion: "v0.0.0-test", Violations: all}
}

func TestCausesOfACascade(t *testing.T) {
	r := Build(cascade(true))
	if r.Verdict != Failed {
		t.Errorf("verdict %s", r.Verdict)
	}
	want := Totals{Specs: 63, Passed: 2, Failed: 30, Blocked: 30, Skipped: 1, NotRun: 1}
	if got := r.Totals; got.Specs != want.Specs || got.Passed != want.Passed || got.Failed != want.Failed ||
		got.Blocked != want.Blocked || got.Skipped != want.Skipped || got.NotRun != want.NotRun {
		t.Errorf("totals %+v; want %+v", got, want)
	}
	if len(r.Causes) != 3 {
		for _, c := range r.Causes {
			t.Logf("cause %+v", c)
		}
		t.Fatalf("%d causes; want 3", len(r.Causes))
	}
	root, state, plan := r.Causes[0], r.Causes[1], r.Causes[2]
	if root.Kind != CauseBlocked || root.Rule != "AUTH-01" || root.Summary != wrongAud || root.Fix != scopeFix ||
		root.Count != 31 || root.Blocked != 30 || root.Own() != 1 || len(root.Specs) != 31 || root.Specs[0] != rootSpec ||
		root.Doc != violation.DocFor("AUTH-01") {
		t.Errorf("root cause %+v; want AUTH-01 blocking 30 specs, with the spec that failed with it first", root)
	}
	for _, s := range root.Specs[1:] {
		if !strings.HasPrefix(s, strings.ToUpper(s[:1])) || !strings.Contains(s, "blocked spec") {
			t.Errorf("root cause lists %q among the blocked specs", s)
		}
	}
	const diff = "quantity: publisher 0, Microsoft none"
	if state.Kind != CauseViolation || state.Rule != "STATE-06" || state.Count != 28 || state.Blocked != 0 || len(state.Specs) != 28 ||
		!strings.Contains(state.Summary, diff) || strings.Contains(state.Summary, "after") || !strings.HasPrefix(state.Fix, "apply every notification") {
		t.Errorf("STATE-06 cause %+v; want the 28 quantity mismatches as one cause naming %q", state, diff)
	}
	if plan.Rule != "STATE-06" || plan.Count != 1 || !strings.Contains(plan.Summary, "planId: publisher gold, Microsoft silver") {
		t.Errorf("other cause %+v; want the planId mismatch on its own", plan)
	}

	// Own failures, then blocked, then passed, then skipped.
	var order []string
	for _, s := range r.Specs {
		st := s.State
		if s.FailedOwn() {
			st = "own"
		}
		if len(order) == 0 || order[len(order)-1] != st {
			order = append(order, st)
		}
	}
	if got := strings.Join(order, ","); got != "own,blocked,passed,skipped" {
		t.Errorf("spec order %s; want own,blocked,passed,skipped", got)
	}
	for _, s := range r.Specs {
		if !s.Blocked() {
			if s.BlockedBy != nil {
				t.Errorf("%q: blockedBy without being blocked", s.Text)
			}
			continue
		}
		if !s.Failed() || s.FailedOwn() || len(s.Violations) != 0 {
			t.Errorf("%q: blocked spec must count as failed, not as its own failure, with no violations", s.Text)
		}
		if b := s.BlockedBy; b == nil || *b != (BlockedBy{Rule: "AUTH-01", Summary: wrongAud, Fix: scopeFix}) {
			t.Errorf("%q blockedBy %+v", s.Text, s.BlockedBy)
		}
		if h := s.Headline(); h != "blocked by AUTH-01: "+wrongAud {
			t.Errorf("headline %q", h)
		}
	}
	flows := map[string]Flow{}
	for _, f := range r.Flows {
		flows[f.Name] = f
	}
	if f := flows["suspend"]; f.Blocked != 6 || f.Failed != 0 || f.Skipped != 1 {
		t.Errorf("suspend flow %+v; want 6 blocked, 1 skipped", f)
	}
	if f := flows["foundation"]; f.Failed != 1 || f.Blocked != 0 {
		t.Errorf("foundation flow %+v", f)
	}
}

func TestCausesComeFirst(t *testing.T) {
	r := Build(cascade(true))
	var md, page, con bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteConsole(&con, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "cascade-summary.md", md.Bytes())
	golden(t, "cascade-console.txt", con.Bytes())

	m := md.String()
	if !strings.HasPrefix(m, "## ❌ saasconform: 60 of 62 specs failed (30 blocked) — 3 causes\n") {
		t.Errorf("markdown headline: %q", strings.SplitN(m, "\n", 2)[0])
	}
	causes, failed := strings.Index(m, "### 3 causes"), strings.Index(m, "### Failed specs")
	if causes < 0 || failed < causes {
		t.Errorf("markdown: causes at %d, failed specs at %d; want the causes first", causes, failed)
	}
	first := m[causes:]
	first = first[:strings.Index(first, "<details>")]
	for i, want := range []string{"**31 specs** — [`AUTH-01`]", "**28 specs** — [`STATE-06`]", "**1 spec** — [`STATE-06`]"} {
		if !strings.Contains(first, want) {
			t.Errorf("markdown cause %d lacks %q:\n%s", i, want, first)
		}
	}
	if !strings.Contains(first, "root cause**: 1 failed, 30 blocked; **fix:** request the scope") {
		t.Errorf("markdown root cause line:\n%s", first)
	}
	if strings.Contains(m[failed:], "blocked spec") {
		t.Error("markdown lists a blocked spec among the failed specs")
	}
	for i := range 30 {
		if n := strings.Count(m, fmt.Sprintf("blocked spec %02d _(blocked)_", i)); n != 1 {
			t.Errorf("markdown lists blocked spec %02d %d times; want once, under its cause", i, n)
		}
	}

	h := page.String()
	hc, hf := strings.Index(h, `<section id="causes">`), strings.Index(h, `<section id="failed">`)
	if hc < 0 || hf < hc {
		t.Errorf("HTML: causes at %d, failed at %d; want the causes first", hc, hf)
	}
	causesHTML := h[hc:hf]
	for _, want := range []string{"<h2>3 causes</h2>", `<span class="count">31 specs</span> <span class="rule">AUTH-01</span>`,
		"root cause</span> 1 failed, 30 blocked", "<details class=\"cause-specs\"><summary>The 31 specs</summary>",
		"blocked spec 29 <span class=\"pill blocked\">blocked</span>", "quantity: publisher 0, Microsoft none"} {
		if !strings.Contains(causesHTML, want) {
			t.Errorf("HTML causes section lacks %q", want)
		}
	}
	if strings.Contains(h[hf:strings.Index(h, `<section id="flows">`)], "blocked spec") {
		t.Error("HTML lists a blocked spec in What failed")
	}
	if strings.Count(h, `data-state="blocked"`) != 30 {
		t.Error("HTML spec table: want 30 rows with data-state blocked")
	}

	c := con.String()
	lines := strings.Split(strings.TrimSuffix(c, "\n"), "\n")
	if len(lines) > 15 || strings.Contains(c, "\x1b") {
		t.Errorf("console: %d lines (want at most 15), no colours:\n%s", len(lines), c)
	}
	if lines[0] != "saasconform: FAILED — 2 passed, 30 failed, 30 blocked, 1 skipped, 1 not run" || lines[1] != "3 causes:" ||
		!strings.HasPrefix(lines[2], "  31 specs  AUTH-01 "+wrongAud+" (root cause: 1 failed, 30 blocked); fix: "+scopeFix) ||
		!strings.HasPrefix(lines[3], "  28 specs  STATE-06 ") || !strings.HasPrefix(lines[4], "   1 spec   STATE-06 ") {
		t.Errorf("console:\n%s", c)
	}
}

// Without the spec that failed with it (filtered out), a root cause is still
// one cause, of blocked specs only, and the run fails.
func TestOnlyBlocked(t *testing.T) {
	r, d := cascade(false)
	r.SpecReports = r.SpecReports[:30]
	rep := Build(r, d)
	if rep.Verdict != Failed || rep.Totals.Failed != 0 || rep.Totals.Blocked != 30 {
		t.Errorf("verdict %s, totals %+v; want failed with 30 blocked", rep.Verdict, rep.Totals)
	}
	if len(rep.Causes) != 1 || rep.Causes[0].Kind != CauseBlocked || rep.Causes[0].Count != 30 || rep.Causes[0].Own() != 0 ||
		rep.Causes[0].Doc == "" {
		t.Errorf("causes %+v", rep.Causes)
	}
	var con bytes.Buffer
	if err := WriteConsole(&con, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(con.String(), "(root cause: 30 blocked)") {
		t.Errorf("console:\n%s", con.String())
	}
}

func TestParseBlocked(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want BlockedBy
		ok   bool
	}{
		{blockedLine + "\nmore detail", BlockedBy{"AUTH-01", wrongAud, scopeFix}, true},
		{"  blocked: FUL-RESOLVE-01 — resolve answered 401; fix: send the token as is\r\n", BlockedBy{"FUL-RESOLVE-01", "resolve answered 401", "send the token as is"}, true},
		{"blocked: AUTH-01 — a; b; fix: c; fix: d", BlockedBy{"AUTH-01", "a; b; fix: c", "d"}, true},
		{"blocked: AUTH-01: summary only", BlockedBy{"AUTH-01", "summary only", ""}, true},
		{"blocked: the foundation flow failed — see above", BlockedBy{"", "the foundation flow failed — see above", ""}, true},
		{"Blocked: AUTH-01 — x", BlockedBy{}, false},
		{"AUTH-01: x — blocked: y", BlockedBy{}, false},
	} {
		got, ok := ParseBlocked(tc.msg)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseBlocked(%q) = %+v, %v; want %+v, %v", tc.msg, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNormalise(t *testing.T) {
	for in, want := range map[string]string{
		"subscription 37f9dea2-4345-438f-b0bd-03d40d28c7e0 not found": "subscription <id> not found",
		"GET http://127.0.0.1:34567/x: connection refused":            "GET http://127.0.0.1:<port>/x: connection refused",
		"termEnd 2025-04-13 at 2025-03-14T09:26:53.123Z":              "termEnd <date> at <time>",
		"operation 1234567 quantity 5 status 400":                     "operation <n> quantity 5 status 400",
		`planId "gold"  got   "silver"`:                               `planId "gold" got "silver"`,
	} {
		if got := normalise(in); got != want {
			t.Errorf("normalise(%q) = %q, want %q", in, got, want)
		}
	}
}

// Failures without an error violation group by their first line, with IDs
// normalised; a "RULE-ID: summary — fix" line names its rule.
func TestFailureCauses(t *testing.T) {
	specs := []Spec{
		{Text: "a", State: "panicked", Failure: &Failure{Message: "Test Panicked: no subscription " + subID(1) + "\nstack"}},
		{Text: "b", State: "panicked", Failure: &Failure{Message: "Test Panicked: no subscription " + subID(2)}},
		{Text: "c", State: "failed", Failure: &Failure{Message: "WH-ACK-01: the webhook did not answer within 10s — answer within 10 seconds\ndetail"},
			Violations: []Violation{{Rule: "FUL-HEADERS-01", Severity: "warning", Summary: "warning only"}}},
		{Text: "d", State: "timedout"},
		{Text: "e", State: "passed"},
	}
	cs := causes(specs)
	if len(cs) != 3 {
		t.Fatalf("causes %+v; want 3", cs)
	}
	if c := cs[0]; c.Kind != CauseFailure || c.Count != 2 || c.Summary != "Test Panicked: no subscription <id>" || c.Rule != "" {
		t.Errorf("panics: %+v", c)
	}
	if c := cs[1]; c.Kind != CauseFailure || c.Rule != "WH-ACK-01" || c.Summary != "the webhook did not answer within 10s" ||
		c.Fix != "answer within 10 seconds" || c.Doc != violation.DocFor("WH-ACK-01") {
		t.Errorf("rule line: %+v", c)
	}
	if c := cs[2]; c.Summary != "the spec timedout without a message" || c.Specs[0] != "d" {
		t.Errorf("no message: %+v", c)
	}
}
