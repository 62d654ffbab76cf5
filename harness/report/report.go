// Package report turns one conformance run — Ginkgo's spec results, the
// violations the harness recorded, the transcript of every call the
// publisher made, every webhook delivery and the publisher's own output —
// into one Report, and writes it as JSON (SCHEMA.md), as a Markdown summary
// for a pull-request comment, and as one self-contained HTML page.
//
// Secrets never reach a writer: Build redacts them by what they are (JWTs,
// Authorization values, token and secret fields, private keys; see
// RedactText) and the run's own secrets (RunData.Secrets: client secrets,
// purchase tokens) by value, in every field, body and log, so a report can
// be attached to a CI run or a bug report as is.
package report

import (
	"encoding/json"
	"fmt"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

// SchemaVersion is the version of the JSON report's shape (SCHEMA.md). It
// changes only when a field is renamed, removed or changes meaning.
const SchemaVersion = 1

// MaxPublisherLog caps the publisher's output kept in a report; the tail is
// kept, since a crash is at the end.
const MaxPublisherLog = 2 << 20

// Report is one run, ready to write.
type Report struct {
	SchemaVersion int       `json:"schemaVersion"`
	ToolVersion   string    `json:"toolVersion"`
	Target        string    `json:"target"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	DurationMs    int64     `json:"durationMs"`
	// Seed is the order the specs ran in: saasconform run --seed repeats it.
	Seed         int64         `json:"seed"`
	Verdict      Verdict       `json:"verdict"`
	Interrupted  bool          `json:"interrupted"`
	Reason       string        `json:"reason,omitempty"`
	Totals       Totals        `json:"totals"`
	Causes       []Cause       `json:"causes"`
	Flows        []Flow        `json:"flows"`
	Specs        []Spec        `json:"specs"`
	Violations   []Violation   `json:"violations"`
	Mismatches   []Mismatch    `json:"mismatches"`
	State        StateChecks   `json:"state"`
	Exchanges    []Exchange    `json:"exchanges"`
	Deliveries   []Delivery    `json:"deliveries"`
	PublisherLog PublisherLog  `json:"publisherLog"`
	Rules        []RuleSummary `json:"rules"`
}

// Verdict is the run's outcome in one word.
type Verdict string

// Verdicts.
const (
	Passed      Verdict = "passed"      // every spec that ran passed
	Failed      Verdict = "failed"      // a spec failed or was blocked
	Interrupted Verdict = "interrupted" // the run was cut short; what ran is reported
	NotStarted  Verdict = "not started" // the run stopped before any spec: the app or a fake did not start
)

// Totals count the specs by outcome and the violations by severity.
type Totals struct {
	Specs      int            `json:"specs"` // specs that ran or were skipped for a reason (not NotRun)
	Passed     int            `json:"passed"`
	Failed     int            `json:"failed"`  // failures of their own
	Blocked    int            `json:"blocked"` // failed only because a spec they depend on failed (State "blocked")
	Skipped    int            `json:"skipped"`
	NotRun     int            `json:"notRun"`     // excluded by --label-filter/--focus, or not reached after an interruption
	Violations map[string]int `json:"violations"` // by severity: "error", "warning"
}

// Flow is one flow's (label flow:NAME) spec outcomes.
type Flow struct {
	Name    string `json:"name"`
	Passed  int    `json:"passed"`
	Failed  int    `json:"failed"`
	Blocked int    `json:"blocked"`
	Skipped int    `json:"skipped"`
}

// Spec is one spec's outcome.
type Spec struct {
	Text       string      `json:"text"`
	Flow       string      `json:"flow,omitempty"`
	Rules      []string    `json:"rules"`
	State      string      `json:"state"` // passed, failed, blocked, skipped, pending, panicked, interrupted, aborted, timedout
	BlockedBy  *BlockedBy  `json:"blockedBy,omitempty"`
	SkipReason string      `json:"skipReason,omitempty"`
	Failure    *Failure    `json:"failure,omitempty"`
	RunTimeMs  int64       `json:"runTimeMs"`
	Violations []Violation `json:"violations"`
}

// Headline is the spec's failure in one line: what blocked it, else its
// first error violation, else the failure message's first line.
func (s Spec) Headline() string {
	if b := s.BlockedBy; b != nil {
		if b.Rule == "" {
			return "blocked: " + b.Summary
		}
		return "blocked by " + b.Rule + ": " + b.Summary
	}
	for _, v := range s.Violations {
		if v.Severity == "error" {
			return v.Rule + ": " + v.Summary
		}
	}
	if s.Failure != nil {
		return failureHeadline(s.Failure.Message)
	}
	return ""
}

// Failed reports whether the spec failed in any way, blocked included: the
// run failed either way. Blocked and FailedOwn tell the two apart.
func (s Spec) Failed() bool {
	return s.State != "passed" && s.State != "skipped" && s.State != "pending"
}

// Blocked reports whether the spec failed only because a spec it depends on
// failed (its failure message started with "blocked: ").
func (s Spec) Blocked() bool { return s.State == StateBlocked }

// FailedOwn reports whether the spec failed of its own accord: failed and
// not blocked.
func (s Spec) FailedOwn() bool { return s.Failed() && !s.Blocked() }

// StateBlocked is the state of a spec that was blocked by another's failure.
const StateBlocked = "blocked"

// BlockedBy is the root cause that blocked a spec, parsed from the first
// line of its failure message (see ParseBlocked).
type BlockedBy struct {
	Rule    string `json:"rule"`
	Summary string `json:"summary"`
	Fix     string `json:"fix,omitempty"`
}

// Failure is why a spec failed and where.
type Failure struct {
	Message  string `json:"message"`
	Location string `json:"location,omitempty"` // file:line, shortened to the last two path elements
}

// Violation is one broken rule (violation.Violation, redacted, with the
// time in UTC).
type Violation struct {
	Rule           string    `json:"rule"`
	Statement      string    `json:"statement,omitempty"` // the rule, from spec/rules.yaml
	Severity       string    `json:"severity"`
	Summary        string    `json:"summary"`
	Field          string    `json:"field,omitempty"`
	Got            string    `json:"got,omitempty"`
	Want           string    `json:"want,omitempty"`
	Fix            string    `json:"fix,omitempty"`
	Doc            string    `json:"doc,omitempty"`
	Method         string    `json:"method,omitempty"`
	Path           string    `json:"path,omitempty"`
	Status         int       `json:"status,omitempty"`
	SubscriptionID string    `json:"subscriptionId,omitempty"`
	CorrelationID  string    `json:"correlationId,omitempty"`
	At             time.Time `json:"at"`               // wall time
	ClockAt        time.Time `json:"clockAt,omitzero"` // harness clock, when the recorder knew it
}

// StateChecks says whether and how often the publisher's own record of a
// subscription (read through the target's probe) was compared with
// Microsoft's.
type StateChecks struct {
	Probe    bool `json:"probe"`    // the target file has a publisher.probe
	Compared int  `json:"compared"` // comparisons made; a spec's wait for the views to agree is one
	Differed int  `json:"differed"` // of those, how many ended in a difference (STATE-06)
}

// StateLine says in one sentence what the comparisons of the app's view
// with Microsoft's found, or that there were none and why.
func (r *Report) StateLine() string {
	s := r.State
	switch {
	case len(r.Mismatches) > 0 && s.Compared > 0:
		return fmt.Sprintf("Your app's view differed from Microsoft's in %d of %s.", max(s.Differed, 1), plural(s.Compared, "comparison", "comparisons"))
	case len(r.Mismatches) > 0:
		return "Your app's view differed from Microsoft's."
	case !s.Probe:
		return "Nothing was compared: the target file has no publisher.probe, so the harness could not read your app's own record of a subscription."
	case s.Compared == 0:
		return "Nothing was compared: the target has a probe, but no spec that reads it ran (they were skipped, filtered out, or the run stopped before them)."
	case s.Compared == 1:
		return "None: in the one comparison made, your app agreed with Microsoft."
	}
	return fmt.Sprintf("None: in all %d comparisons your app agreed with Microsoft.", s.Compared)
}

// RuleSummary is one rule's violations across the run.
type RuleSummary struct {
	Rule      string `json:"rule"`
	Statement string `json:"statement,omitempty"` // the rule, from spec/rules.yaml
	Severity  string `json:"severity"`
	Count     int    `json:"count"`
	Summary   string `json:"summary"` // of the first violation
	Fix       string `json:"fix,omitempty"`
	Doc       string `json:"doc,omitempty"`
}

// Mismatch is one field where the publisher's view of a subscription
// differed from Microsoft's (a STATE-06 violation, one row per field).
type Mismatch struct {
	SubscriptionID string    `json:"subscriptionId"`
	When           string    `json:"when"` // the violation's summary, e.g. "publisher's view differs from Microsoft's after activation"
	Field          string    `json:"field"`
	Microsoft      string    `json:"microsoft"`
	Publisher      string    `json:"publisher"`
	At             time.Time `json:"at"` // wall time
}

// Exchange is one call the publisher made to the fake marketplace or Entra
// ID, redacted.
type Exchange struct {
	At             time.Time           `json:"at"`               // wall time the request arrived
	ClockAt        time.Time           `json:"clockAt,omitzero"` // harness clock then
	DurationMs     int64               `json:"durationMs"`
	DurationUs     int64               `json:"durationUs"` // the same in microseconds: most answers take less than a millisecond
	Operation      string              `json:"operation,omitempty"`
	Method         string              `json:"method"`
	URL            string              `json:"url"`
	RequestHeader  map[string][]string `json:"requestHeader"`
	RequestBody    string              `json:"requestBody,omitempty"`
	Status         int                 `json:"status"`
	ResponseHeader map[string][]string `json:"responseHeader"`
	ResponseBody   string              `json:"responseBody,omitempty"`
	SubscriptionID string              `json:"subscriptionId,omitempty"`
	CorrelationID  string              `json:"correlationId,omitempty"`
	Violations     []Violation         `json:"violations"`
}

// Entra reports whether the call went to the fake Entra ID rather than the
// marketplace.
func (x Exchange) Entra() bool { return identity.IsOperation(x.Operation) }

// Delivery is one webhook notification Microsoft sent the publisher.
type Delivery struct {
	Action         string    `json:"action"`
	SubscriptionID string    `json:"subscriptionId"`
	OperationID    string    `json:"operationId,omitempty"`
	Forgery        string    `json:"forgery,omitempty"` // the forged Authorization's name; "" for a genuine call
	Acked          bool      `json:"acked"`
	Attempts       []Attempt `json:"attempts"`
}

// Attempt is one POST of a delivery.
type Attempt struct {
	At        time.Time `json:"at"`               // wall time
	ClockAt   time.Time `json:"clockAt,omitzero"` // harness clock
	LatencyMs int64     `json:"latencyMs"`
	Status    int       `json:"status"` // 0: no answer
	Error     string    `json:"error,omitempty"`
	TimedOut  bool      `json:"timedOut,omitempty"`
	Response  string    `json:"response,omitempty"` // the answer's start
}

// PublisherLog is what the publisher printed (the tail when it was long).
type PublisherLog struct {
	Text           string `json:"text"`
	TruncatedBytes int    `json:"truncatedBytes"` // bytes dropped from the start
}

// RunData is what the harness recorded during the run besides Ginkgo's
// report.
type RunData struct {
	Target       string // the target file, as given
	ToolVersion  string // "" means the binary's build info
	Violations   []violation.Violation
	Exchanges    []contract.Exchange
	Deliveries   []driver.Delivery
	PublisherLog []byte
	Interrupted  bool
	NotStarted   bool   // the run never reached its specs (Reason says why); not set when interrupted
	Reason       string // why it was interrupted or did not start, or "" (Ginkgo's own reasons are added)
	// State counts the comparisons of the app's own view with Microsoft's.
	State StateChecks
	// Secrets are the run's secrets (client secrets, purchase tokens):
	// Build hides each by value everywhere, besides what it hides by shape.
	Secrets []Secret
}

// ruleLabel picks the labels that are rule IDs.
var ruleLabel = regexp.MustCompile(`^(FUL|WH|AUTH|STATE|NET|MISTAKE)-`)

// Build assembles the report of a run from Ginkgo's final report and what
// the harness recorded. Either may be empty (a run cut short before Ginkgo
// reported still yields a report of what was recorded).
func Build(r types.Report, d RunData) *Report {
	out := &Report{
		SchemaVersion: SchemaVersion,
		ToolVersion:   d.ToolVersion,
		Target:        d.Target,
		Started:       r.StartTime.UTC(),
		Finished:      r.EndTime.UTC(),
		DurationMs:    r.RunTime.Milliseconds(),
		Seed:          r.SuiteConfig.RandomSeed,
		State:         d.State,
		Interrupted:   d.Interrupted,
		Reason:        d.Reason,
		Totals:        Totals{Violations: map[string]int{string(violation.Error): 0, string(violation.Warning): 0}},
		Causes:        []Cause{},
		Flows:         []Flow{},
		Specs:         []Spec{},
		Mismatches:    []Mismatch{},
		Exchanges:     []Exchange{},
		Deliveries:    []Delivery{},
	}
	if out.ToolVersion == "" {
		out.ToolVersion = buildVersion()
	}
	var reasons []string
	for _, s := range r.SpecialSuiteFailureReasons {
		if strings.Contains(strings.ToLower(s), "interrupt") {
			out.Interrupted = true
		}
		if !strings.Contains(out.Reason, s) {
			reasons = append(reasons, s)
		}
	}
	if len(reasons) > 0 {
		out.Reason = strings.TrimPrefix(out.Reason+"; "+strings.Join(reasons, "; "), "; ")
	}

	rd := NewRedactor(d.Secrets...)
	out.Reason = rd.Text(out.Reason)
	all := newViolationSet()
	for _, v := range d.Violations {
		all.add(convert(rd, v))
	}
	flows := map[string]*Flow{}
	var flowOrder []string
	for _, sr := range r.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt && !sr.Failed() {
			continue // suite-level nodes matter only when they broke
		}
		if sr.State == types.SpecStateSkipped && sr.Failure.Message == "" {
			out.Totals.NotRun++
			continue
		}
		s := buildSpec(rd, sr)
		for _, v := range s.Violations {
			all.add(v)
		}
		out.Specs = append(out.Specs, s)
		out.Totals.Specs++
		name := s.Flow
		if name == "" {
			name = "(no flow)"
		}
		f := flows[name]
		if f == nil {
			f = &Flow{Name: name}
			flows[name] = f
			flowOrder = append(flowOrder, name)
		}
		switch {
		case s.State == "passed":
			out.Totals.Passed++
			f.Passed++
		case s.State == "skipped" || s.State == "pending":
			out.Totals.Skipped++
			f.Skipped++
		case s.Blocked():
			out.Totals.Blocked++
			f.Blocked++
		default:
			out.Totals.Failed++
			f.Failed++
		}
	}
	// Failed specs first, then blocked, then passed, then skipped; by text
	// within each.
	slices.SortStableFunc(out.Specs, func(a, b Spec) int {
		if c := specRank(a) - specRank(b); c != 0 {
			return c
		}
		return strings.Compare(a.Text, b.Text)
	})
	slices.Sort(flowOrder)
	for _, name := range flowOrder {
		out.Flows = append(out.Flows, *flows[name])
	}

	out.Violations = all.list
	for _, v := range out.Violations {
		out.Totals.Violations[v.Severity]++
		if v.Rule == "STATE-06" {
			out.Mismatches = append(out.Mismatches, mismatches(v)...)
		}
	}
	out.Rules = summarize(out.Violations)
	out.Causes = causes(out.Specs)
	for _, e := range d.Exchanges {
		x := buildExchange(rd, e)
		for _, v := range out.Violations {
			if sameExchange(v, x) && !slices.Contains(x.Violations, v) {
				x.Violations = append(x.Violations, v)
			}
		}
		out.Exchanges = append(out.Exchanges, x)
	}
	for _, dl := range d.Deliveries {
		out.Deliveries = append(out.Deliveries, buildDelivery(rd, dl))
	}
	out.PublisherLog = buildLog(rd, d.PublisherLog)

	switch {
	case d.NotStarted && !d.Interrupted:
		out.Verdict = NotStarted
	case out.Interrupted:
		out.Verdict = Interrupted
	case out.Totals.Failed > 0 || out.Totals.Blocked > 0:
		out.Verdict = Failed
	default:
		out.Verdict = Passed
	}
	return out
}

func specRank(s Spec) int {
	switch {
	case s.Blocked():
		return 1
	case s.Failed():
		return 0
	case s.State == "passed":
		return 2
	}
	return 3
}

func buildSpec(rd *Redactor, sr types.SpecReport) Spec {
	s := Spec{
		Text:       specText(sr),
		Rules:      []string{},
		State:      sr.State.String(),
		RunTimeMs:  sr.RunTime.Milliseconds(),
		Violations: []Violation{},
	}
	for _, l := range sr.Labels() {
		switch {
		case strings.HasPrefix(l, "flow:"):
			if s.Flow == "" {
				s.Flow = strings.TrimPrefix(l, "flow:")
			}
		case ruleLabel.MatchString(l):
			s.Rules = append(s.Rules, l)
		}
	}
	switch {
	case sr.State == types.SpecStateSkipped || sr.State == types.SpecStatePending:
		s.SkipReason = sr.Failure.Message
		if s.SkipReason == "" && sr.State == types.SpecStatePending {
			s.SkipReason = "pending"
		}
	case sr.Failure.Message != "" || sr.Failed():
		s.Failure = &Failure{Message: rd.Text(sr.Failure.Message), Location: shortLocation(sr.Failure.Location)}
		if sr.Failed() {
			if b, ok := ParseBlocked(s.Failure.Message); ok {
				s.State, s.BlockedBy = StateBlocked, &b
			}
		}
	}
	seen := newViolationSet()
	for _, e := range sr.ReportEntries {
		if e.Name != "violations" {
			continue
		}
		for _, v := range entryViolations(e) {
			c := convert(rd, v)
			seen.add(c)
			if s.Failure != nil && tokenField(v.Field) {
				for raw, short := range map[string]string{v.Got: c.Got, v.Want: c.Want} {
					if raw != "" {
						s.Failure.Message = strings.ReplaceAll(s.Failure.Message, raw, short)
					}
				}
			}
		}
	}
	s.Violations = seen.list
	return s
}

func specText(sr types.SpecReport) string {
	if sr.LeafNodeType != types.NodeTypeIt {
		t := sr.LeafNodeType.String()
		if sr.LeafNodeText != "" {
			t += ": " + sr.LeafNodeText
		}
		return t
	}
	return sr.FullText()
}

// entryViolations decodes a "violations" report entry: the value itself in
// the process that ran the specs, its JSON form otherwise.
func entryViolations(e types.ReportEntry) []violation.Violation {
	if vs, ok := e.GetRawValue().([]violation.Violation); ok {
		return vs
	}
	var vs []violation.Violation
	if e.Value.AsJSON != "" {
		if err := json.Unmarshal([]byte(e.Value.AsJSON), &vs); err == nil {
			return vs
		}
	}
	// A rehydrated raw value is a JSON-decoded []any: round-trip it.
	if raw := e.GetRawValue(); raw != nil {
		if data, err := json.Marshal(raw); err == nil {
			_ = json.Unmarshal(data, &vs)
		}
	}
	return vs
}

func shortLocation(l types.CodeLocation) string {
	if l.FileName == "" {
		return ""
	}
	parts := strings.Split(strings.ReplaceAll(l.FileName, "\\", "/"), "/")
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return fmt.Sprintf("%s:%d", strings.Join(parts, "/"), l.LineNumber)
}

func convert(rd *Redactor, v violation.Violation) Violation {
	sev := string(v.Severity)
	if sev == "" {
		sev = string(violation.Error)
	}
	doc := v.Doc
	if doc == "" {
		doc = violation.DocFor(v.Rule)
	}
	got, want := v.Got, v.Want
	if tokenField(v.Field) {
		got, want = diffWindow(got, want)
	}
	return Violation{Rule: v.Rule, Statement: statement(v.Rule), Severity: sev, Summary: rd.Text(v.Summary), Field: v.Field,
		Got: rd.Text(got), Want: rd.Text(want), Fix: rd.Text(v.Fix), Doc: doc, Method: v.Method,
		Path: rd.Text(v.Path), Status: v.Status, SubscriptionID: v.SubscriptionID,
		CorrelationID: v.CorrelationID, At: v.At.UTC(), ClockAt: utc(v.ClockAt)}
}

// statement is a rule's statement from the catalogue, "" for a rule it
// does not list.
func statement(rule string) string {
	r, ok := spec.RuleByID(rule)
	if !ok {
		return ""
	}
	return r.Statement
}

// tokenField reports whether a violation's got and want are purchase
// tokens, which a report shows only around where they differ.
func tokenField(field string) bool {
	return strings.Contains(strings.ToLower(field), "x-ms-marketplace-token")
}

// diffWindow cuts two tokens down to the few characters around their first
// difference, which is all a reader needs to see what the publisher changed.
func diffWindow(a, b string) (string, string) {
	const around = 8
	ra, rb := []rune(a), []rune(b)
	i := 0
	for i < len(ra) && i < len(rb) && ra[i] == rb[i] {
		i++
	}
	cut := func(r []rune) string {
		if len(r) == 0 {
			return ""
		}
		from, to := max(0, i-around), min(len(r), i+around)
		s := string(r[from:to])
		if from > 0 {
			s = "…" + s
		}
		if to < len(r) {
			s += "…"
		}
		return s
	}
	return cut(ra), cut(rb)
}

// violationSet keeps violations in first-seen order, each once.
type violationSet struct {
	seen map[Violation]bool
	list []Violation
}

func newViolationSet() *violationSet {
	return &violationSet{seen: map[Violation]bool{}, list: []Violation{}}
}

func (s *violationSet) add(v Violation) {
	if !s.seen[v] {
		s.seen[v] = true
		s.list = append(s.list, v)
	}
}

// summarize groups violations by rule, most frequent first; errors before
// warnings at equal counts.
func summarize(vs []Violation) []RuleSummary {
	idx := map[string]int{}
	out := []RuleSummary{}
	for _, v := range vs {
		i, ok := idx[v.Rule]
		if !ok {
			i = len(out)
			idx[v.Rule] = i
			out = append(out, RuleSummary{Rule: v.Rule, Statement: v.Statement, Severity: v.Severity, Summary: v.Summary, Fix: v.Fix, Doc: v.Doc})
		}
		out[i].Count++
		if v.Severity == string(violation.Error) {
			out[i].Severity = v.Severity
		}
	}
	slices.SortStableFunc(out, func(a, b RuleSummary) int {
		if a.Severity != b.Severity {
			if a.Severity == string(violation.Error) {
				return -1
			}
			return 1
		}
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Rule, b.Rule)
	})
	return out
}

// mismatches reads a STATE-06 violation's Got (publisher) and Want
// (Microsoft), both "field=value field=value", into one row per field.
func mismatches(v Violation) []Mismatch {
	var names []string
	if v.Field != "" {
		names = strings.Split(v.Field, ",")
	}
	pub, ms := parsePairs(v.Got, names), parsePairs(v.Want, names)
	if len(names) == 0 {
		for _, p := range append(ms, pub...) {
			if !slices.Contains(names, p[0]) {
				names = append(names, p[0])
			}
		}
	}
	var out []Mismatch
	for _, n := range names {
		out = append(out, Mismatch{SubscriptionID: v.SubscriptionID, When: v.Summary, Field: n,
			Microsoft: lookup(ms, n), Publisher: lookup(pub, n), At: v.At})
	}
	if len(out) == 0 { // not in the expected form: show it whole
		out = append(out, Mismatch{SubscriptionID: v.SubscriptionID, When: v.Summary, Field: v.Field,
			Microsoft: v.Want, Publisher: v.Got, At: v.At})
	}
	return out
}

var pairStart = regexp.MustCompile(`(?:^|\s)([A-Za-z][A-Za-z0-9_.]*)=`)

// parsePairs splits "a=1 b=two words" into pairs. With names known, only
// those start a pair, so a value may hold spaces and '='.
func parsePairs(s string, names []string) [][2]string {
	var out [][2]string
	locs := pairStart.FindAllStringSubmatchIndex(s, -1)
	var starts [][3]int // name start, name end, value start
	for _, l := range locs {
		name := s[l[2]:l[3]]
		if len(names) > 0 && !slices.Contains(names, name) {
			continue
		}
		starts = append(starts, [3]int{l[2], l[3], l[1]})
	}
	for i, st := range starts {
		end := len(s)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		out = append(out, [2]string{s[st[0]:st[1]], strings.TrimSpace(s[st[2]:end])})
	}
	return out
}

func lookup(pairs [][2]string, name string) string {
	for _, p := range pairs {
		if p[0] == name {
			return p[1]
		}
	}
	return ""
}

// maxBody caps one body in the transcript.
const maxBody = 64 << 10

func buildExchange(rd *Redactor, e contract.Exchange) Exchange {
	x := Exchange{At: e.At.UTC(), ClockAt: utc(e.ClockAt), DurationMs: e.Duration.Milliseconds(),
		DurationUs: e.Duration.Microseconds(), Operation: e.Operation, Method: e.Method,
		URL: rd.Text(e.URL), RequestHeader: rd.Header(e.RequestHeader), RequestBody: body(rd, e.RequestBody),
		Status: e.Status, ResponseHeader: rd.Header(e.ResponseHeader), ResponseBody: body(rd, e.ResponseBody),
		SubscriptionID: e.SubscriptionID, CorrelationID: e.CorrelationID, Violations: []Violation{}}
	for _, v := range e.Violations {
		x.Violations = append(x.Violations, convert(rd, v))
	}
	return x
}

// sameExchange reports whether v was seen on x: the same call, told apart
// from its twins by the correlation ID when both carry one.
func sameExchange(v Violation, x Exchange) bool {
	if v.Method == "" || v.Method != x.Method || v.Path != x.URL {
		return false
	}
	if v.CorrelationID != "" && x.CorrelationID != "" {
		return strings.EqualFold(v.CorrelationID, x.CorrelationID)
	}
	if !v.ClockAt.IsZero() && !x.ClockAt.IsZero() {
		// The fake marketplace and the validator read the harness clock
		// at the same moment of the call; their wall times differ.
		return v.Status == x.Status && v.ClockAt.Equal(x.ClockAt)
	}
	return v.Status == x.Status && v.At.Equal(x.At)
}

// utc is t in UTC, the zero time kept zero (omitted from JSON).
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func body(rd *Redactor, b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if len(s) > maxBody {
		s = s[:maxBody] + fmt.Sprintf("… (%d more bytes)", len(s)-maxBody)
	}
	return rd.Text(s)
}

func buildDelivery(rd *Redactor, d driver.Delivery) Delivery {
	out := Delivery{Action: string(d.Payload.Action), SubscriptionID: d.Payload.SubscriptionID,
		OperationID: d.Payload.ID, Forgery: d.Forgery, Acked: d.Acked(), Attempts: []Attempt{}}
	for _, a := range d.Attempts {
		out.Attempts = append(out.Attempts, Attempt{At: a.At.UTC(), ClockAt: utc(a.ClockAt), LatencyMs: a.Latency.Milliseconds(),
			Status: a.Status, Error: rd.Text(a.Err), TimedOut: a.TimedOut, Response: rd.Text(a.Body)})
	}
	return out
}

func buildLog(rd *Redactor, b []byte) PublisherLog {
	var l PublisherLog
	if len(b) > MaxPublisherLog {
		cut := len(b) - MaxPublisherLog
		// Start at a line when one begins near the cut.
		if i := strings.IndexByte(string(b[cut:min(len(b), cut+4096)]), '\n'); i >= 0 {
			cut += i + 1
		}
		l.TruncatedBytes = cut
		b = b[cut:]
	}
	l.Text = rd.Text(strings.ToValidUTF8(string(b), "\uFFFD"))
	return l
}

// buildVersion is the module version or VCS revision the binary was built
// from.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				v = "devel " + s.Value[:min(12, len(s.Value))]
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v
}
