// Package violation holds what the harness found wrong with a publisher: one
// value per broken rule, with enough context to act on it.
//
// Handlers record violations; specs assert on them later. Nothing here fails a
// test by itself.
package violation

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/saasconform/saasconform/harness/window"
)

// Severity says whether a violation fails conformance or only warns.
type Severity string

const (
	// Error breaks a rule the publisher must follow.
	Error Severity = "error"
	// Warning breaks a recommendation (for example a missing x-ms-requestid).
	Warning Severity = "warning"
)

// Violation is one broken rule, seen in one exchange.
type Violation struct {
	Rule     string   `json:"rule"`     // rule ID from CONTRACT.md, e.g. FUL-ACTIVATE-01
	Severity Severity `json:"severity"` // Error unless stated
	Summary  string   `json:"summary"`  // one line: what went wrong
	Field    string   `json:"field,omitempty"`
	Got      string   `json:"got,omitempty"`
	Want     string   `json:"want,omitempty"`
	Fix      string   `json:"fix,omitempty"` // one line: what to change
	Doc      string   `json:"doc,omitempty"` // where the rule is documented

	// The exchange that showed it.
	Method         string    `json:"method,omitempty"`
	Path           string    `json:"path,omitempty"` // path and query as received
	Status         int       `json:"status,omitempty"`
	SubscriptionID string    `json:"subscriptionId,omitempty"`
	CorrelationID  string    `json:"correlationId,omitempty"`
	RequestID      string    `json:"requestId,omitempty"`
	At             time.Time `json:"at"` // wall time it was seen (Record fills a zero one)
	// ClockAt is the harness clock when it was seen, when the recorder
	// knew it: the time the fake acted on, which a test may have moved.
	ClockAt time.Time `json:"clockAt,omitzero"`
}

// String formats the violation on one line:
//
//	FUL-ACTIVATE-01: activate without planId at body.planId (got {} want "gold") — send the plan resolve returned. https://…
func (v Violation) String() string {
	var b strings.Builder
	b.WriteString(v.Rule)
	b.WriteString(": ")
	b.WriteString(v.Summary)
	if v.Field != "" {
		fmt.Fprintf(&b, " at %s", v.Field)
	}
	if v.Got != "" || v.Want != "" {
		fmt.Fprintf(&b, " (got %s want %s)", orNothing(v.Got), orNothing(v.Want))
	}
	if v.Method != "" {
		fmt.Fprintf(&b, " [%s %s]", v.Method, v.Path)
	}
	if v.Fix != "" {
		b.WriteString(" — ")
		b.WriteString(v.Fix)
	}
	if v.Doc != "" {
		b.WriteString(" ")
		b.WriteString(v.Doc)
	}
	return b.String()
}

func orNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// Log collects violations from concurrent handlers. The zero value is ready
// and keeps every violation; Keep bounds it for a long-lived fake.
type Log struct {
	mu       sync.Mutex
	all      []Violation
	max      int // 0: keep all
	dropped  int // violations no longer in all
	watchers []func(Violation)
}

// Keep makes the log keep only the newest n violations (n > 0); the older
// ones are counted by Dropped. Watchers still see every one. A run of the
// suites keeps all; serve and the load tool keep a bounded window, or a
// publisher hammering the fake would grow it without end.
func (l *Log) Keep(n int) {
	l.mu.Lock()
	l.max = max(n, 0)
	l.trimLocked()
	l.mu.Unlock()
}

// trimLocked applies a bound set after violations were recorded.
func (l *Log) trimLocked() {
	if kept := l.keptLocked(); len(kept) < len(l.all) {
		l.dropped += len(l.all) - len(kept)
		l.all = append(kept[:0:0], kept...)
	}
}

// keptLocked is the window of violations the log answers for.
func (l *Log) keptLocked() []Violation { return window.Newest(l.all, l.max) }

// Dropped reports how many of the oldest violations are no longer kept.
func (l *Log) Dropped() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped + len(l.all) - len(l.keptLocked())
}

// Record stores v, filling Severity, Doc and At (with the wall time) when
// they are empty, and tells every watcher.
func (l *Log) Record(v Violation) {
	if v.Severity == "" {
		v.Severity = Error
	}
	if v.Doc == "" {
		v.Doc = DocFor(v.Rule)
	}
	if v.At.IsZero() {
		v.At = time.Now()
	}
	l.mu.Lock()
	var dropped int
	l.all, dropped = window.Append(l.all, v, l.max)
	l.dropped += dropped
	watchers := append([]func(Violation){}, l.watchers...)
	l.mu.Unlock()
	for _, w := range watchers {
		w(v)
	}
}

// Watch calls fn for every violation recorded from now on (for live printing).
func (l *Log) Watch(fn func(Violation)) {
	l.mu.Lock()
	l.watchers = append(l.watchers, fn)
	l.mu.Unlock()
}

// All returns a copy of every violation in the order recorded.
func (l *Log) All() []Violation { return l.Filter(func(Violation) bool { return true }) }

// Errors returns the violations of Error severity.
func (l *Log) Errors() []Violation {
	return l.Filter(func(v Violation) bool { return v.Severity == Error })
}

// ForSubscription returns the violations seen on one subscription.
func (l *Log) ForSubscription(id string) []Violation {
	return l.Filter(func(v Violation) bool { return strings.EqualFold(v.SubscriptionID, id) })
}

// ForCorrelation returns the violations seen under one x-ms-correlationid.
func (l *Log) ForCorrelation(id string) []Violation {
	return l.Filter(func(v Violation) bool { return strings.EqualFold(v.CorrelationID, id) })
}

// ForRule returns the violations of one rule.
func (l *Log) ForRule(rule string) []Violation {
	return l.Filter(func(v Violation) bool { return v.Rule == rule })
}

// Filter returns a copy of the violations keep accepts.
func (l *Log) Filter(keep func(Violation) bool) []Violation {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Violation
	for _, v := range l.keptLocked() {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

// Len reports how many violations the log holds (all recorded, unless Keep
// bounds it).
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keptLocked())
}

// Reset forgets every violation (watchers and the bound stay).
func (l *Log) Reset() {
	l.mu.Lock()
	l.all, l.dropped = nil, 0
	l.mu.Unlock()
}

// Rules returns the distinct rule IDs in vs, in first-seen order.
func Rules(vs []Violation) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range vs {
		if !seen[v.Rule] {
			seen[v.Rule] = true
			out = append(out, v.Rule)
		}
	}
	return out
}
