package suites

import "github.com/saasconform/saasconform/harness/target"

// productionWebhooks reports whether the run plays the webhook side of
// Microsoft as the real service is reported to behave, beyond what the
// documents promise: Microsoft's full retry schedule, and a notification
// delivered a second time at once, as when an acknowledgement is lost. It
// is the target's marketplace.profile: production.
func productionWebhooks(t *target.Config) bool {
	return t != nil && t.Marketplace.Profile == target.ProfileProduction
}
