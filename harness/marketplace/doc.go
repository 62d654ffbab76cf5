// Package marketplace is the fake Microsoft commercial marketplace: the SaaS
// Fulfillment API v2 as a strict in-memory http.Handler, plus the customer's
// side of the story (purchases, plan changes, suspensions, cancellations) as
// Go methods the suites call.
//
// The fake keeps Microsoft's state machine (CONTRACT.md §3) and records a
// violation.Violation whenever a publisher's call breaks a rule it can see
// from the server side (a token decoded twice, activate before resolve, PATCH
// of a final operation, ...). Schema-level mistakes (missing api-version, bad
// uuids, unknown fields) are the contract layer's job; it wraps this handler.
//
// Time comes from an injectable clock. Nothing runs in the background: due
// work (auto-accepting an unanswered operation after the ack window,
// completing a publisher-initiated operation after its latency) is applied
// lazily by Settle, which every request and every exported method calls
// first. A suite therefore moves time with clock.Fake.Advance and observes the
// effect on its next call, without sleeping.
package marketplace
