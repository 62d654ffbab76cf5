package suites

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/harness/violation"
)

// rolloverGrace is how long, in real time, a publisher may keep refusing a
// token signed with a key Entra has just rolled over to. Apps may throttle
// their JWKS refreshes (once per 30 s is common; Microsoft.IdentityModel
// waits 5 minutes by default) and Microsoft retries a refused notification
// for eight hours, so a throttled refresh is survivable; the harness waits
// the flow timeout, and at least 35 s, with a retry every
// rolloverRetryEvery. A target whose app throttles longer raises
// timeouts.flow.
func rolloverGrace() time.Duration { return max(env.Target.Timeouts.Flow, 35*time.Second) }

const rolloverRetryEvery = 2 * time.Second

// The key rollover runs in every profile: Entra documents that its signing
// keys roll over periodically and, in an emergency, at once
// (https://learn.microsoft.com/entra/identity-platform/signing-key-rollover),
// so a strict reading of the documents already includes it.
var _ = Describe("Signing key rollover", Label("flow:webhookAuth", "WH-AUTH-02"), func() {
	It("accepts a genuine webhook signed with a key Entra rolled over to mid-run, and acts on it",
		Label("STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapSuspend, target.CapReinstate, target.CapWebhookAuth)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: plans().Flat})

			// The app reads Entra's keys (if it has not yet) for a token
			// signed with the key it could have known since it started.
			_, d := f.customer(marketplace.ActionSuspend, p.SubscriptionID)
			f.expectAcked(d)
			f.settledView(p.SubscriptionID, "after a Suspend signed with the key before the rollover", false)

			old := env.MS.Identity.CurrentKey()
			k := env.MS.Identity.Rotate()
			// Later specs sign with the old key again, whatever the order:
			// an app that never refreshes fails this spec alone.
			DeferCleanup(func() {
				if _, err := env.MS.Identity.RollBack(); err != nil {
					AddReportEntry("key rollover", "could not roll Entra's keys back: "+err.Error())
				}
			})
			By(fmt.Sprintf("Entra rolls its signing keys over: kid %s signs from now on (kid %s is still listed)", k.ID, old.ID))
			keysRead := len(f.entraReads(identity.OpKeys))

			op, err := env.MS.Marketplace.Reinstate(p.SubscriptionID)
			Expect(err).NotTo(HaveOccurred())
			By("Microsoft notifies the webhook: Reinstate, with a token signed with the new key")
			d, judged := f.deliverAfterRollover(f.event(op.ID), k.ID, keysRead)
			if !judged {
				// Refused throughout without reading the keys again: a
				// warning is recorded, and nothing after it can be judged
				// fairly (the app never saw the Reinstate).
				f.done()
				return
			}
			f.expectAcked(d)
			op = f.awaitAnswer(p.SubscriptionID, op.ID)
			Expect(op.Status).To(Equal(marketplace.OpSucceeded), "the Reinstate signed with the new key was not accepted\n%s", f.violationText())
			f.waitStatus(p.SubscriptionID, marketplace.Subscribed)
			f.settledView(p.SubscriptionID, "after a Reinstate signed with the new key", false)
			f.done()
		})
})

// deliverAfterRollover delivers a genuine notification signed with the
// rolled-over key kid. While the app refuses it as unauthenticated, it is
// sent again every rolloverRetryEvery until rolloverGrace has passed, as
// Microsoft keeps retrying. The refusals meanwhile are not WH-ACK-01: an
// app that refreshes its keys only every so often is allowed a few, with a
// WH-AUTH-02 warning. Still refused after the grace, the verdict depends on
// what the app did: it read Entra's keys again and still refuses — a
// WH-AUTH-02 error; it never read them — a warning, and judged is false:
// a refresh throttled for minutes (Microsoft.IdentityModel's default) is
// survivable in production and cannot be told apart, within a run, from a
// key set never refreshed, so it is not blamed as an error.
func (f *flow) deliverAfterRollover(p marketplace.WebhookPayload, kid string, keysRead int) (d driver.Delivery, judged bool) {
	GinkgoHelper()
	s := env.Sender
	quiet := &driver.Sender{URL: s.URL, Client: s.Client, Issuer: s.Issuer, App: s.App, Version: s.Version, Clock: s.Clock,
		Market: s.Market, AckWindow: s.AckWindow, Attempts: 1}
	began := time.Now()
	deadline := began.Add(rolloverGrace())
	var refusals []int
	for {
		d, err := quiet.Deliver(f.ctx, p)
		Expect(err).NotTo(HaveOccurred())
		last := d.Attempts[len(d.Attempts)-1]
		unauthenticated := last.Status == http.StatusUnauthorized || last.Status == http.StatusForbidden
		if !unauthenticated {
			if len(refusals) > 0 && d.Acked() {
				// Survivable, as Microsoft retries; each refusal still
				// delays the notification by a retry interval.
				v := violationFor("WH-AUTH-02", p.SubscriptionID,
					fmt.Sprintf("the webhook accepted Entra's new key (kid %s) only after refusing it %d time(s)", kid, len(refusals)),
					fmt.Sprintf("%d refusals (%s) over %s, then %s", len(refusals), statusText(refusals[0]),
						time.Since(began).Round(time.Second), statusText(last.Status)),
					"2xx on the first delivery signed with the new key",
					"fetch Entra's JWKS again as soon as a token names an unknown kid; throttle those refreshes to seconds, not tens of seconds or minutes")
				v.Severity = violation.Warning
				f.record(v)
			}
			if !d.Acked() {
				f.record(violationFor("WH-ACK-01", p.SubscriptionID,
					fmt.Sprintf("webhook answered %d to a %s notification after a key rollover", last.Status, p.Action),
					statusText(last.Status)+" "+clip(strings.TrimSpace(last.Body+" "+last.Err)), "200",
					"acknowledge every Reinstate with 200"))
			}
			return d, true
		}
		refusals = append(refusals, last.Status)
		if time.Now().After(deadline) || f.ctx.Err() != nil {
			if f.ctx.Err() != nil {
				return d, false
			}
			got := fmt.Sprintf("%d refusals (%s) over %s", len(refusals), statusText(last.Status), rolloverGrace())
			if n := len(f.entraReads(identity.OpKeys)) - keysRead; n > 0 {
				f.record(violationFor("WH-AUTH-02", p.SubscriptionID,
					fmt.Sprintf("the webhook refused Microsoft's genuine token signed with Entra's new key (kid %s) although it read Entra's keys %d time(s) since", kid, n),
					got, "2xx once the app has read the JWKS again",
					"validate against the key set you fetched: pick the key by the token's kid from the refreshed JWKS, never from a copy kept from before"))
				fail("WH-AUTH-02: the webhook refused a genuine token after Entra rolled its keys over\n" + f.violationText())
			}
			v := violationFor("WH-AUTH-02", p.SubscriptionID,
				fmt.Sprintf("the webhook refused Microsoft's genuine token signed with Entra's new key (kid %s) for %s and did not read Entra's keys again", kid, rolloverGrace()),
				got, "a fresh read of Entra's JWKS when a token names an unknown kid, then 2xx",
				"fetch Entra's JWKS again when a token names a kid you do not know (throttled to seconds or a few minutes, never for the life of the process); "+
					"if your library throttles refreshes for minutes (Microsoft.IdentityModel: 5 min), Microsoft's retries will get through, and this warning can stand")
			v.Severity = violation.Warning
			f.record(v)
			AddReportEntry("key rollover", "not judged further: the app refused the new key throughout and did not read Entra's keys again within "+rolloverGrace().String())
			return d, false
		}
		select {
		case <-f.ctx.Done():
		case <-time.After(rolloverRetryEvery):
		}
	}
}

// entraReads are the spec's calls to one of Entra's endpoints.
func (f *flow) entraReads(op string) []string {
	var out []string
	for _, e := range f.exchanges() {
		if e.Operation == op {
			out = append(out, e.URL)
		}
	}
	return out
}
