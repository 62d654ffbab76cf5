package suites

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/harness/violation"
)

var _ = Describe("Suspend and reinstate", Label("flow:suspend"), func() {
	It("acknowledges a Suspend notification and suspends the account without deleting it",
		Label("WH-ACK-01", "WH-VERIFY-01", "STATE-03", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapSuspend)
			f.needProbe()
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: plans().Flat})
			op, d := f.customer(marketplace.ActionSuspend, p.SubscriptionID)
			f.expectAcked(d)
			f.expectReadsOperation(p.SubscriptionID, op.ID)
			f.expectSuspendedKept(p.SubscriptionID)
			f.done()
		})

	It("restores the account when a suspended subscription is reinstated",
		Label("STATE-04", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapSuspend, target.CapReinstate)
			f.needProbe()
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: plans().Flat})
			sop, d := f.customer(marketplace.ActionSuspend, p.SubscriptionID)
			f.expectAcked(d)
			f.expectReadsOperation(p.SubscriptionID, sop.ID)
			f.expectSuspendedKept(p.SubscriptionID)

			op, d := f.customer(marketplace.ActionReinstate, p.SubscriptionID)
			f.expectAcked(d)
			op = f.awaitAnswer(p.SubscriptionID, op.ID)
			if op.Status != marketplace.OpSucceeded {
				f.record(violationFor("STATE-04", p.SubscriptionID,
					"the publisher could not reinstate a suspended subscription",
					fmt.Sprintf("Reinstate operation %s (PATCHes: %s)", op.Status, strings.Join(f.patchesOf(op.ID), "; ")),
					"Reinstate Succeeded",
					"keep the account's data while it is suspended, so a Reinstate can restore it; accept the Reinstate with PATCH Success"))
				fail(fmt.Sprintf("STATE-04: the Reinstate operation ended %s\n%s", op.Status, f.violationText()))
			}
			f.waitStatus(p.SubscriptionID, marketplace.Subscribed)
			f.settledView(p.SubscriptionID, "after Reinstate", false)
			f.done()
		})
})

// expectSuspendedKept waits until the publisher shows the subscription
// Suspended. Showing it ended instead is STATE-03 (the account must survive
// the grace period) as well as a STATE-06 difference.
func (f *flow) expectSuspendedKept(subID string) {
	GinkgoHelper()
	f.blamedView(subID, "after Suspend", func(_ marketplace.Subscription, v driver.View) *violation.Violation {
		if v.Status != string(marketplace.Unsubscribed) {
			return nil
		}
		ended := violationFor("STATE-03", subID,
			"a suspended subscription was treated as cancelled",
			"publisher status "+v.Status, string(marketplace.Suspended)+", data kept",
			"on Suspend block access but keep the account and its data: the customer may pay and be reinstated within the grace period")
		return &ended
	})
}
