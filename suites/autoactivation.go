package suites

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/spec"
)

// Plans with automatic activation (spec/README.md): Microsoft activates the
// purchase itself and sends a Subscribe notification; no landing visit or
// activate call is needed, though a landing visit still works ("Manage
// account").
var _ = Describe("Automatic activation", Label("flow:autoActivation"), func() {
	It("acknowledges a Subscribe notification and provisions the account without a landing visit",
		Label("WH-SUBSCRIBE-01", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapAutoActivation)
			p := f.buyAuto()
			f.expectSubscribed(p)
			f.done()
		})

	It("lets the customer manage an automatically activated account from the landing page, without activating it",
		Label("FUL-RESOLVE-02", "FUL-ACTIVATE-05"), func(ctx SpecContext) {
			f := begin(ctx, target.CapAutoActivation, target.CapLanding)
			f.requireFoundation()
			p := f.buyAuto()
			d := f.notify(*p.Subscribe)
			f.expectAcked(d)
			f.awaitQuiet(300 * time.Millisecond)

			By("the customer opens the account from the portal with the purchase's token")
			v := f.visit(p.Token)
			if v.Landing.Status >= 500 {
				f.record(violationFor("FUL-RESOLVE-02", p.SubscriptionID,
					"the landing page answered a server error for a subscription Microsoft activated itself",
					statusText(v.Landing.Status), "a page that shows the customer's account",
					"resolve the token and, when it shows Subscribed, show the account; never activate it, and "+
						"if an activate call fails because the subscription is already active, carry on"))
				fail(fmt.Sprintf("FUL-RESOLVE-02: the landing page answered %d:\n%s\n%s",
					v.Landing.Status, clip(v.Landing.Body), f.violationText()))
			}
			if !f.resolvedOK(p.SubscriptionID) {
				f.record(violationFor("FUL-RESOLVE-02", p.SubscriptionID,
					"the landing page never resolved the token of a subscription Microsoft activated itself",
					"no successful resolve", "resolve → 200 with saasSubscriptionStatus Subscribed",
					"resolve every token the landing page receives, whatever the subscription's status"))
				fail("FUL-RESOLVE-02: the landing page did not resolve the token\n" + f.violationText())
			}
			// An activate call here draws only the FUL-ACTIVATE-05 warning
			// (the real service refuses it; a publisher must shrug it off).
			Expect(f.sub(p.SubscriptionID).SaasSubscriptionStatus).To(Equal(marketplace.Subscribed))
			f.expectView(p.SubscriptionID, "after a manage-account visit")
			f.done()
		})

	It("handles Suspend and Unsubscribe on an automatically activated subscription",
		Label("WH-ACK-01", "STATE-03", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapAutoActivation, target.CapSuspend, target.CapUnsubscribe)
			f.needProbe()
			p := f.buyAuto()
			d := f.notify(*p.Subscribe)
			f.expectAcked(d)
			f.settledView(p.SubscriptionID, "after Subscribe", false)

			_, d = f.customer(marketplace.ActionSuspend, p.SubscriptionID)
			f.expectAcked(d)
			f.expectSuspendedKept(p.SubscriptionID)

			_, d = f.customer(marketplace.ActionUnsubscribe, p.SubscriptionID)
			f.expectAcked(d)
			f.settledView(p.SubscriptionID, "after Unsubscribe", false)
			f.done()
		})
})

// buyAuto buys the catalog's plan with automatic activation, skipping the
// spec when the catalog has none. Microsoft has activated it on return.
func (f *flow) buyAuto() marketplace.Purchase {
	GinkgoHelper()
	auto := plans().Auto
	if auto == "" {
		Skip(fmt.Sprintf("offer %s has no public plan with autoActivation: true (marketplace.offers); "+
			"add one to check how the app takes automatically activated purchases", plans().Offer))
	}
	p := f.buy(marketplace.PurchaseRequest{PlanID: auto})
	Expect(p.Subscribe).NotTo(BeNil(), "Microsoft made no Subscribe operation for plan %s", auto)
	Expect(p.Subscription.SaasSubscriptionStatus).To(Equal(marketplace.Subscribed))
	return p
}

// expectSubscribed checks WH-SUBSCRIBE-01 for a purchase Microsoft
// activated: the Subscribe notification is acknowledged with a 2xx, the
// app reads the subscription (or the operation) from Microsoft, and its
// account shows the subscription active on the purchased plan.
func (f *flow) expectSubscribed(p marketplace.Purchase) {
	GinkgoHelper()
	op := *p.Subscribe
	d := f.notify(op)
	if !d.Acked() {
		last := d.Attempts[len(d.Attempts)-1]
		f.record(violationFor("WH-SUBSCRIBE-01", p.SubscriptionID,
			"the webhook did not acknowledge a Subscribe notification",
			fmt.Sprintf("HTTP %d %s after %d attempt(s)", last.Status, last.Err, len(d.Attempts)), "2xx",
			"answer 200 to Subscribe (it cannot be refused), then provision the account"))
		f.expectAcked(d)
	}
	f.expectReadsSubscription(p.SubscriptionID, op.ID)
	f.expectProvisioned(p.SubscriptionID)
}

// expectProvisioned waits until the app's view matches Microsoft's after a
// Subscribe. An app with no active account on the purchased plan (the probe
// does not know the subscription, or shows it otherwise) breaks
// WH-SUBSCRIBE-01 as well as STATE-06.
func (f *flow) expectProvisioned(subID string) {
	GinkgoHelper()
	if env.Probe == nil {
		f.viewUnchecked()
		return
	}
	gap, why := f.viewGap(subID, false)
	if gap == nil {
		env.noteView(false)
		return
	}
	s := f.sub(subID)
	v, err := env.Probe.Read(f.ctx, subID)
	if err != nil || v.Status != string(marketplace.Subscribed) || (v.Known["planId"] && v.PlanID != s.PlanID) {
		got := fmt.Sprintf("publisher status %q, plan %q", v.RawStatus, v.PlanID)
		if err != nil {
			got = err.Error()
		}
		f.record(violationFor("WH-SUBSCRIBE-01", subID,
			"the app did not provision the account of a subscription Microsoft activated itself",
			got, "Subscribed on plan "+s.PlanID,
			"on Subscribe, GET the subscription and provision the account from it: no landing visit or activate call will follow"))
		why += "; WH-SUBSCRIBE-01: the account was not provisioned"
	}
	f.failView(subID, "after Subscribe", gap, why)
}

// expectReadsSubscription waits until the app has read, after a Subscribe
// notification, what Microsoft holds: the subscription, the operation the
// notification named, or the subscription list. The webhook page asks
// publishers to check a notification with Microsoft before acting on it;
// for Subscribe, which needs no answer, reading the subscription is enough.
func (f *flow) expectReadsSubscription(subID, opID string) {
	GinkgoHelper()
	f.awaitRead(subID, func() bool { return f.readFromMicrosoft(subID, opID) }, func() {
		f.record(violationFor("WH-SUBSCRIBE-01", subID,
			"the app never read the subscription from Microsoft after its Subscribe notification",
			"no GET of subscription "+subID+" or of operation "+opID, "GET the subscription (or the operation), then provision",
			"a notification is only a hint: read the subscription from the Fulfillment API and provision from what it says"))
		fail("WH-SUBSCRIBE-01: the app did not read subscription " + subID + " after Subscribe\n" + f.violationText())
	})
}

// readFromMicrosoft reports whether the app has asked for the subscription,
// the operation opID or the subscription list since the spec began. A call
// the fake refused counts: its own violation names what was wrong with it.
func (f *flow) readFromMicrosoft(subID, opID string) bool {
	for _, e := range f.exchanges() {
		switch e.Operation {
		case spec.OpGetSubscription:
			if strings.EqualFold(e.SubscriptionID, subID) {
				return true
			}
		case spec.OpGetOperation:
			if strings.Contains(strings.ToLower(e.URL), strings.ToLower(opID)) {
				return true
			}
		case spec.OpListSubscriptions:
			return true
		}
	}
	return false
}

// resolvedOK reports whether the app resolved a token of subID successfully
// since the spec began.
func (f *flow) resolvedOK(subID string) bool {
	for _, e := range f.exchanges() {
		if e.Operation == spec.OpResolve && e.Status == 200 && strings.EqualFold(e.SubscriptionID, subID) {
			return true
		}
	}
	return false
}
