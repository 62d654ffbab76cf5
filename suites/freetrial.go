package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
)

var _ = Describe("Free trials", Label("flow:freeTrial"), func() {
	It("activates a free-trial purchase with its plan and carries the trial through",
		Label("FUL-ACTIVATE-01", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapFreeTrial)
			pl := plans()
			if pl.Trial == "" {
				Skip("the offer has no plan with hasFreeTrials")
			}
			p := f.buy(marketplace.PurchaseRequest{PlanID: pl.Trial, Kind: marketplace.FreeTrial})
			Expect(p.Subscription.IsFreeTrial).To(BeTrue(), "Microsoft marks the purchase as a free trial")
			f.activate(p)
			s := f.sub(p.SubscriptionID)
			Expect(s.IsFreeTrial).To(BeTrue(), "the subscription is still a free trial after activation")
			Expect(s.PlanID).To(Equal(pl.Trial), "the activated trial should keep plan %s", pl.Trial)
			f.blamedView(p.SubscriptionID, "after activating a free trial", nil)
			f.done()
		})

	It("activates a test purchase like any other",
		Label("FUL-ACTIVATE-01", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate)
			p := f.buy(marketplace.PurchaseRequest{PlanID: plans().Flat, Kind: marketplace.Test})
			Expect(p.Subscription.IsTest).To(BeTrue(), "Microsoft marks the purchase as a test")
			f.activate(p)
			Expect(f.sub(p.SubscriptionID).IsTest).To(BeTrue(), "the subscription is still a test after activation")
			f.blamedView(p.SubscriptionID, "after activating a test purchase", nil)
			f.done()
		})
})
