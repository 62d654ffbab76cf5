package suites

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/saasconform/saasconform/harness/violation"
)

// Every failure message begins with its cause: a CI user reads the first
// line of JUnit's <failure message>, and "Expected 502 to be < 500" names
// neither the rule the app broke nor what to change.
//
//   - a spec that recorded an error violation fails with
//     "RULE: summary — fix: …" on the first line, then the detail;
//   - a spec blocked by a broken foundation fails with "blocked: RULE —
//     summary; fix: …" (requireFoundation), which is left as it is;
//   - an assertion that fails with no violation recorded is prefixed with
//     the rules the spec checks, and its own text says what the harness
//     expected the app to do and what it saw.

// fail is Ginkgo's Fail with the cause named first.
func fail(message string) {
	GinkgoHelper()
	Fail(withCause(message))
}

// failWithCause is the Gomega fail handler of a run (RegisterFailHandler).
func failWithCause(message string, callerSkip ...int) {
	skip := 1
	if len(callerSkip) > 0 {
		skip += callerSkip[0]
	}
	Fail(withCause(message), skip)
}

// withCause puts the running spec's cause before message.
func withCause(message string) string {
	if strings.HasPrefix(message, "blocked: ") {
		return message
	}
	f := current
	if f == nil || f.blocked != nil {
		return message
	}
	for _, v := range f.violations() {
		if v.Severity != violation.Error {
			continue
		}
		head := causeLine(v)
		if strings.HasPrefix(message, head) {
			return message
		}
		return head + "\n" + message
	}
	var rules []string
	for _, l := range CurrentSpecReport().Labels() {
		if IsRuleID(l) {
			rules = append(rules, l)
		}
	}
	if len(rules) == 0 || strings.HasPrefix(message, rules[0]) {
		return message
	}
	return strings.Join(rules, ", ") + ": " + message
}

// causeLine is a violation as the first line of a failure.
func causeLine(v violation.Violation) string {
	line := v.Rule + ": " + v.Summary
	if v.Fix != "" {
		line += " — fix: " + v.Fix
	}
	return line
}
