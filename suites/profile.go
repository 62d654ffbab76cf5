package suites

import "os"

// productionWebhooks reports whether the run plays the webhook side of
// Microsoft as the real service is reported to behave, beyond what the
// documents promise: Microsoft's full retry schedule, and a notification
// delivered a second time at once, as when an acknowledgement is lost.
//
// Temporary: it reads SAASCONFORM_PROFILE=production until the target's
// marketplace.profile key exists; the two are to be joined when that lands,
// and this function is the one place that changes.
func productionWebhooks() bool {
	return os.Getenv("SAASCONFORM_PROFILE") == "production"
}
