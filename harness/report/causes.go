package report

import (
	"regexp"
	"slices"
	"strings"

	"github.com/saasconform/saasconform/harness/violation"
)

// BlockedPrefix starts the failure message of a spec that failed only
// because a spec it depends on failed. The rest of the first line names the
// root cause: "blocked: RULE-ID — summary; fix: fix text".
const BlockedPrefix = "blocked: "

// Cause kinds.
const (
	CauseViolation = "violation" // specs that failed with the same first error violation
	CauseBlocked   = "blocked"   // a root cause: it blocked specs (and may have failed some itself)
	CauseFailure   = "failure"   // specs that failed without an error violation, by their message's first line
)

// Cause is one reason specs failed, with every spec it made fail: the
// specs' own failures grouped by their first error violation (or, without
// one, their failure message's first line), and specs blocked by a root
// cause grouped with the spec that failed with it.
type Cause struct {
	Kind    string   `json:"kind"`           // violation, blocked, failure
	Rule    string   `json:"rule,omitempty"` // "" when a failure names none
	Summary string   `json:"summary"`        // normalised: ids, times and ports read <id>, <time>, <port>…
	Fix     string   `json:"fix,omitempty"`
	Doc     string   `json:"doc,omitempty"`
	Count   int      `json:"count"`   // specs it made fail, blocked included
	Blocked int      `json:"blocked"` // of those, blocked
	Specs   []string `json:"specs"`   // their texts: own failures first, then blocked
}

// Own is the number of specs that failed with the cause themselves.
func (c Cause) Own() int { return c.Count - c.Blocked }

// ParseBlocked reads a blocked spec's failure message. The message (after
// leading white space) starts with "blocked: "; the rest of its first line
// is "RULE-ID — summary; fix: fix text":
//
//   - the rule is the text before the first " — " (an em dash between
//     spaces) when that text is one word; failing that, a leading rule ID
//     (LETTERS-…) followed by ":" or white space; failing that, none.
//   - the fix is what follows the last "; fix: ", the summary what precedes
//     it; without "; fix: " the whole remainder is the summary.
//
// Later lines are detail and are ignored. ok is false when the message does
// not start with the prefix.
func ParseBlocked(msg string) (b BlockedBy, ok bool) {
	msg = strings.TrimLeft(msg, " \t\r\n")
	if !strings.HasPrefix(msg, BlockedPrefix) {
		return BlockedBy{}, false
	}
	line, _, _ := strings.Cut(msg[len(BlockedPrefix):], "\n")
	rest := strings.TrimSpace(line)
	if i := strings.Index(rest, " — "); i > 0 && !strings.ContainsAny(strings.TrimSpace(rest[:i]), " \t") {
		b.Rule, rest = strings.TrimSpace(rest[:i]), strings.TrimSpace(rest[i+len(" — "):])
	} else if m := leadingRule.FindStringSubmatch(rest); m != nil {
		b.Rule, rest = m[1], strings.TrimSpace(rest[len(m[0]):])
	}
	if i := strings.LastIndex(rest, "; fix: "); i >= 0 {
		b.Summary, b.Fix = strings.TrimSpace(rest[:i]), strings.TrimSpace(rest[i+len("; fix: "):])
	} else {
		b.Summary = rest
	}
	return b, true
}

var (
	leadingRule = regexp.MustCompile(`^([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)(?::\s*|\s+)`)
	// ruleLine is a failure message's first line "RULE-ID: summary — fix".
	ruleLine = regexp.MustCompile(`^([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+): (.+?)(?: — (.+))?$`)
)

// Normalisation of what differs between specs that failed for the same
// reason: the subscription, operation and correlation IDs, times, ports.
var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?`), "<time>"},
	{regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`), "<date>"},
	{regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), "<id>"},
	{regexp.MustCompile(`(?i)((?:\d{1,3}\.){3}\d{1,3}|localhost|\]):\d{1,5}\b`), "$1:<port>"},
	{regexp.MustCompile(`(?i)\b[0-9a-f]{16,}\b`), "<hex>"},
	{regexp.MustCompile(`\b\d{6,}\b`), "<n>"},
}

// failureHeadline is a failure message's first line, and when that line
// only says what the harness was doing (Gomega's Expect(err).NotTo(
// HaveOccurred(), "visiting the landing page")), the error that stopped it
// too: "visiting the landing page: dial tcp …: connection refused".
func failureHeadline(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	head := strings.TrimSpace(lines[0])
	errAt := 1
	if head == "Unexpected error:" {
		head, errAt = "", 0
	}
	if len(lines) <= errAt || strings.TrimSpace(lines[errAt]) != "Unexpected error:" {
		return head
	}
	// Gomega prints the error as "<*T | 0x…>: text", the text on the same
	// line or the next.
	var cause string
	for _, l := range lines[errAt+1:] {
		l = strings.TrimSpace(l)
		if m := gomegaType.FindStringIndex(l); m != nil {
			l = strings.TrimSpace(l[m[1]:])
		}
		if l != "" {
			cause = l
			break
		}
	}
	switch {
	case cause == "":
		return head
	case head == "":
		return cause
	}
	return head + ": " + cause
}

// gomegaType is how Gomega introduces a value: "<*url.Error | 0xc000…>:".
var gomegaType = regexp.MustCompile(`^<[^>]*>:`)

// normalise makes the text of one failure comparable with another's: it
// replaces GUIDs, times, dates, ports, long hex strings and numbers of six
// digits or more with placeholders and collapses white space. Short numbers
// (a quantity, a status code) and quoted values (a plan ID) stay: they tell
// different mistakes apart.
func normalise(s string) string {
	for _, n := range normalisers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return strings.Join(strings.Fields(s), " ")
}

// stateSummary is a STATE-06 violation's cause: what differs, field by
// field, without when it was seen (the same wrong record shows up after
// every flow), e.g. "publisher's view differs from Microsoft's (quantity:
// publisher 0, Microsoft none)".
func stateSummary(v Violation) string {
	base := v.Summary
	const common = "publisher's view differs from Microsoft's"
	if strings.HasPrefix(base, common) {
		base = common
	}
	var parts []string
	for _, m := range mismatches(v) {
		parts = append(parts, m.Field+": publisher "+orEmpty(m.Publisher)+", Microsoft "+orEmpty(m.Microsoft))
	}
	if len(parts) == 0 {
		return base
	}
	return base + " (" + strings.Join(parts, "; ") + ")"
}

func orEmpty(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// ownCause is the cause of a spec's own failure: its first error violation,
// else its failure message's first line.
func ownCause(s Spec) Cause {
	for _, v := range s.Violations {
		if v.Severity != string(violation.Error) {
			continue
		}
		c := Cause{Kind: CauseViolation, Rule: v.Rule, Fix: v.Fix, Doc: v.Doc}
		if v.Rule == "STATE-06" {
			c.Summary = normalise(stateSummary(v))
		} else {
			c.Summary = normalise(v.Summary)
		}
		return c
	}
	c := Cause{Kind: CauseFailure}
	var line string
	if s.Failure != nil {
		line = failureHeadline(s.Failure.Message)
	}
	if m := ruleLine.FindStringSubmatch(line); m != nil {
		c.Rule, c.Summary, c.Fix = m[1], normalise(m[2]), strings.TrimSpace(m[3])
		c.Doc = violation.DocFor(c.Rule)
		return c
	}
	if line == "" {
		line = "the spec " + s.State + " without a message"
	}
	c.Summary = normalise(line)
	return c
}

func causeKey(rule, summary string) string { return rule + "\x00" + summary }

// causes groups the failed specs (in the report's order) by cause, most
// specs first. A root cause that blocked specs joins the own failure with
// the same rule and summary (else the only own failure with the same rule),
// so the spec that broke and those it blocked are one cause.
func causes(specs []Spec) []Cause {
	out := []Cause{}
	own := map[string]int{}
	type group struct {
		by    BlockedBy
		specs []string
	}
	var blocked []*group
	byKey := map[string]*group{}
	for _, s := range specs {
		switch {
		case !s.Failed():
			continue
		case s.Blocked():
			b := *s.BlockedBy
			k := causeKey(b.Rule, normalise(b.Summary))
			g := byKey[k]
			if g == nil {
				g = &group{by: b}
				byKey[k] = g
				blocked = append(blocked, g)
			}
			g.specs = append(g.specs, s.Text)
		default:
			c := ownCause(s)
			k := causeKey(c.Rule, c.Summary)
			i, ok := own[k]
			if !ok {
				i = len(out)
				own[k] = i
				c.Specs = []string{}
				out = append(out, c)
			}
			out[i].Count++
			out[i].Specs = append(out[i].Specs, s.Text)
		}
	}
	nOwn := len(out)
	for _, g := range blocked {
		summary := normalise(g.by.Summary)
		i, ok := own[causeKey(g.by.Rule, summary)]
		if !ok && g.by.Rule != "" {
			i = -1
			for j, c := range out[:nOwn] {
				if c.Rule == g.by.Rule {
					if i >= 0 { // two own causes with the rule: neither is the one
						i = -1
						break
					}
					i = j
				}
			}
			ok = i >= 0
		}
		if !ok {
			doc := ""
			if g.by.Rule != "" {
				doc = violation.DocFor(g.by.Rule)
			}
			i = len(out)
			out = append(out, Cause{Rule: g.by.Rule, Summary: summary, Fix: g.by.Fix, Doc: doc, Specs: []string{}})
		}
		c := &out[i]
		c.Kind = CauseBlocked
		if c.Fix == "" {
			c.Fix = g.by.Fix
		}
		c.Count += len(g.specs)
		c.Blocked += len(g.specs)
		c.Specs = append(c.Specs, g.specs...)
	}
	// Most specs first; at equal counts, root causes first; else as found.
	slices.SortStableFunc(out, func(a, b Cause) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return b.Blocked - a.Blocked
	})
	return out
}
