package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
)

var _ = Describe("Activation", Label("flow:activation"), func() {
	It("activates a flat-rate purchase with the plan resolve returned",
		Label("FUL-ACTIVATE-01", "FUL-ACTIVATE-02", "FUL-ACTIVATE-04", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate)
			// The path every other spec stands on: when it is broken, this
			// spec names the root cause and the others are blocked by it.
			f.ownFoundation()
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: plans().Flat})
			f.expectView(p.SubscriptionID, "after activation")
			f.done()
		})

	It("activates a per-seat purchase with the plan and the seats resolve returned",
		Label("FUL-ACTIVATE-01", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate)
			pl := plans()
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Seat, Quantity: pl.SeatMin + 2})
			f.expectView(p.SubscriptionID, "after activation")
			f.done()
		})

	It("never activates a subscription whose customer has not been through the landing page",
		Label("FUL-ACTIVATE-02"), func(ctx SpecContext) {
			f := begin(ctx, target.CapActivate, target.CapReconcile)
			p := f.buy(marketplace.PurchaseRequest{PlanID: plans().Flat})
			status, body := f.act("reconcile", "", "", 0)
			Expect(status).To(BeNumerically("<", 500), "reconcile: %s", body)
			Expect(f.sub(p.SubscriptionID).SaasSubscriptionStatus).To(Equal(marketplace.PendingFulfillmentStart),
				"reconciling activated a purchase nobody configured\n%s", f.violationText())
			f.done()
		})
})
