package suites

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
)

var _ = Describe("Reseller (CSP) purchases", Label("flow:csp"), func() {
	It("activates a purchase a reseller made for its customer and keys the account on the customer's tenant",
		Label("FUL-ACTIVATE-01", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapCSP)
			f.needProbe()
			p := f.cspBuyActive()
			f.blamedView(p.SubscriptionID, "after activating a CSP purchase", nil)
			f.done()
		})

	It("reflects Microsoft suspending a reseller's subscription",
		Label("WH-ACK-01", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapCSP, target.CapSuspend)
			f.needProbe()
			p := f.cspBuyActive()
			f.blamedView(p.SubscriptionID, "after activating a CSP purchase", nil)
			// The reseller's customer may only read the subscription
			// (allowedCustomerOperations: Read): the spec changes it only
			// from Microsoft's side.
			op, d := f.customer(marketplace.ActionSuspend, p.SubscriptionID)
			f.expectAcked(d)
			Expect(op.Status).To(Equal(marketplace.OpSucceeded), "Microsoft's Suspend operation should have succeeded")
			Expect(f.sub(p.SubscriptionID).SaasSubscriptionStatus).To(Equal(marketplace.Suspended), "Microsoft should show the subscription Suspended")
			f.blamedView(p.SubscriptionID, "after Microsoft suspended a CSP subscription", nil)
			f.done()
		})
})

// cspBuyActive is a reseller's purchase for a customer in another tenant,
// activated through the landing page.
func (f *flow) cspBuyActive() marketplace.Purchase {
	GinkgoHelper()
	p := f.buy(marketplace.PurchaseRequest{PlanID: plans().Flat, Kind: marketplace.CSP})
	s := p.Subscription
	Expect(strings.EqualFold(s.Purchaser.TenantID, s.Beneficiary.TenantID)).To(BeFalse(), "a CSP purchaser is the reseller's tenant")
	Expect(s.AllowedCustomerOperations).To(Equal([]string{"Read"}))
	By("the reseller " + s.Purchaser.EmailID + " bought for the customer " + s.Beneficiary.EmailID)
	if env.Probe != nil && env.Probe.Fields[driver.FieldBeneficiary] == "" {
		By("the probe does not map beneficiaryTenantId: which tenant the account belongs to cannot be compared")
	}
	f.activate(p)
	return p
}
