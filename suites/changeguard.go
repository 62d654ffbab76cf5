package suites

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

var _ = Describe("Changes the marketplace would refuse", Label("flow:changeGuard"), func() {
	It("asks Microsoft for a plan change only while the subscription is Subscribed",
		Label("STATE-02", "FUL-UPDATE-03"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapSuspend, target.CapPublisherActions)
			f.needAction("changePlan")
			pl := plans()
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Flat})
			_, d := f.customer(marketplace.ActionSuspend, p.SubscriptionID)
			f.expectAcked(d)
			f.expectView(p.SubscriptionID, "after Suspend")
			to := guardTarget(pl)
			By("the publisher is asked to change the plan of the suspended subscription")
			f.act("changePlan", p.SubscriptionID, to, 0)
			f.expectNoRule("STATE-02")
			Expect(f.sub(p.SubscriptionID).PlanID).To(Equal(pl.Flat),
				"the app should not change the plan of a suspended subscription; Microsoft's plan changed")
			f.done()
		})

	It("asks Microsoft for a change only where allowedCustomerOperations permits it",
		Label("FUL-UPDATE-03"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapCSP, target.CapPublisherActions)
			f.needAction("changePlan")
			pl := plans()
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Flat, Kind: marketplace.CSP})
			Expect(f.sub(p.SubscriptionID).AllowedCustomerOperations).To(Equal([]string{"Read"}))
			By("the publisher is asked to change a reseller's subscription, which only the reseller may change")
			f.act("changePlan", p.SubscriptionID, guardTarget(pl), 0)
			if env.Target.Publisher.Actions.Cancel != nil {
				f.act("cancel", p.SubscriptionID, "", 0)
			}
			f.expectNoRule("FUL-UPDATE-03")
			Expect(f.sub(p.SubscriptionID).SaasSubscriptionStatus).To(Equal(marketplace.Subscribed),
				"the app should leave a reseller's subscription alone (allowedCustomerOperations: Read); its status changed")
			f.done()
		})

	It(`asks for a change while another is pending and keeps its records when Microsoft refuses it (409 in the documents, 400 "locked" in production)`,
		Label("FUL-UPDATE-02", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangeQuantity, target.CapChangePlan, target.CapPublisherActions)
			f.needAction("changePlan")
			f.needProbe()
			pl := qtyPlans()
			if pl.OtherSeat == "" {
				Skip("the offer has only one per-seat plan the publisher accepts")
			}
			seats := qtyCommonSeats(pl)
			to := qtySeatsTo(pl, seats)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Seat, Quantity: seats})
			sub := p.SubscriptionID

			By(fmt.Sprintf("the customer changes to %d seats; the notification is held back, so the operation stays InProgress", to))
			op, err := env.MS.Marketplace.ChangeQuantity(sub, to)
			Expect(err).NotTo(HaveOccurred(), "customer seat change on %s", sub)
			// The app was not told of the customer's operation, so its asking
			// is not its fault: while the operation is pending, the fake's own
			// refusal of an overlap (409, or 400 "locked" in production) is
			// armed as a fault, which does not blame the app for asking; the
			// spec judges how often it asks and what it keeps (guardPatches,
			// guardKeptRefused).
			Expect(env.MS.Marketplace.InjectFault(env.MS.Marketplace.LockedFault(sub, 10*guardMaxPatches))).To(Succeed())
			DeferCleanup(env.MS.Marketplace.ClearFaults)
			By(fmt.Sprintf("the publisher is asked to move the subscription to plan %s while the seat change is pending", pl.OtherSeat))
			status, body := f.act("changePlan", sub, pl.OtherSeat, 0)
			By(fmt.Sprintf("the publisher reported %d: %s", status, clip(body)))
			f.awaitQuiet(chgQuiet)
			f.guardPatches(sub)

			env.MS.Marketplace.ClearFaults()
			By("Microsoft now notifies the customer's seat change")
			d := f.notify(op)
			f.expectAcked(d)
			done := f.chgAwaitAnswer(sub, op.ID)
			Expect(done.Status).To(Equal(marketplace.OpSucceeded),
				"the publisher refused %d seats, within its own limit (rejects.maxSeats)\n%s", to, f.violationText())
			f.awaitQuiet(chgQuiet)
			f.guardPatches(sub)
			f.blamedView(sub, "after its overlapping change was refused and the customer's seat change completed",
				guardKeptRefused(pl.OtherSeat))
			f.done()
		})
})

// guardMaxPatches bounds the PATCHes of one subscription a spec allows: an
// app that takes a refused overlap as "not now" asks again a few times at
// most, or once the pending operation is over.
const guardMaxPatches = 5

// guardPatches records FUL-UPDATE-02 when the app PATCHed subscription
// subID more than guardMaxPatches times in this spec: hammering a
// subscription that is locked by a pending operation.
func (f *flow) guardPatches(subID string) {
	GinkgoHelper()
	n, refused := 0, 0
	for _, e := range f.exchanges() {
		if e.Operation != spec.OpUpdateSubscription || !strings.EqualFold(e.SubscriptionID, subID) {
			continue
		}
		n++
		if e.Status >= 400 && e.Status < 500 {
			refused++
		}
	}
	By(fmt.Sprintf("the app PATCHed the subscription %d time(s), %d refused", n, refused))
	if n <= guardMaxPatches {
		return
	}
	f.record(violationFor("FUL-UPDATE-02", subID,
		"kept PATCHing a subscription while another operation on it was pending",
		fmt.Sprintf("%d PATCHes, %d refused", n, refused), fmt.Sprintf("at most %d", guardMaxPatches),
		"take a 409 or 400 \"locked\" as \"not now\": wait for the pending operation to finish, then try again once or tell the user"))
	fail(fmt.Sprintf("FUL-UPDATE-02: %d PATCHes of subscription %s while another operation was pending (at most %d)\n%s",
		n, subID, guardMaxPatches, f.violationText()))
}

// guardKeptRefused blames a view that shows plan to, the app's own refused
// change, when Microsoft does not.
func guardKeptRefused(to string) func(marketplace.Subscription, driver.View) *violation.Violation {
	return func(sub marketplace.Subscription, v driver.View) *violation.Violation {
		if v.PlanID != to || sub.PlanID == to {
			return nil
		}
		vi := violationFor("FUL-UPDATE-02", sub.ID, "the publisher recorded its own plan change although Microsoft refused it",
			"planId "+to, "planId "+sub.PlanID,
			"a 4xx to the PATCH means nothing changed: keep your records until an operation you followed says Succeeded")
		return &vi
	}
}

// guardTarget is a plan to ask for that the marketplace would otherwise allow.
func guardTarget(pl Plans) string {
	for _, id := range []string{pl.OtherFlat, pl.Seat, pl.Trial, pl.Refused} {
		if id != "" {
			return id
		}
	}
	return pl.Flat
}
