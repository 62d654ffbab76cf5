package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
)

var _ = Describe("Renewal", Label("flow:renew"), func() {
	It("acknowledges a renewal and keeps the account active into the new term",
		Label("WH-ACK-01", "STATE-05", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapRenew)
			f.needProbe()
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: plans().Flat})
			before := f.sub(p.SubscriptionID).Term.EndDate
			_, d := f.customer(marketplace.ActionRenew, p.SubscriptionID)
			f.expectAcked(d)
			after := f.sub(p.SubscriptionID)
			Expect(after.SaasSubscriptionStatus).To(Equal(marketplace.Subscribed))
			if before != nil && after.Term.EndDate != nil {
				Expect(after.Term.EndDate.After(*before)).To(BeTrue(), "Microsoft's term end did not move")
			}
			// The term end counts when the probe maps it (driver.CompareTermEnd).
			f.settledView(p.SubscriptionID, "after Renew", true)
			f.done()
		})
})
