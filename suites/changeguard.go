package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
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
})

// guardTarget is a plan to ask for that the marketplace would otherwise allow.
func guardTarget(pl Plans) string {
	for _, id := range []string{pl.OtherFlat, pl.Seat, pl.Trial, pl.Refused} {
		if id != "" {
			return id
		}
	}
	return pl.Flat
}
