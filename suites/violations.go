package suites

import (
	"fmt"

	"github.com/saasconform/saasconform/harness/violation"
)

// violationFor is a violation a spec found by looking, not one the fake
// recorded on a request.
func violationFor(rule, subID, summary, got, want, fix string) violation.Violation {
	return violation.Violation{Rule: rule, Summary: summary, Got: got, Want: want, Fix: fix, SubscriptionID: subID}
}

func statusText(code int) string { return fmt.Sprintf("HTTP %d", code) }
