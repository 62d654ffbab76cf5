package suites

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/spec"
)

var _ = Describe("Landing page", Label("flow:landing"), func() {
	It("resolves the purchase token exactly as the marketplace sent it, URL-decoded once",
		Label("FUL-RESOLVE-01"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding)
			f.requireFoundation()
			p := f.buy(marketplace.PurchaseRequest{PlanID: plans().Flat})
			v := f.visit(p.Token)
			Expect(v.Landing.Status).To(BeNumerically("<", 500), "the landing page should answer the customer without a server error; it answered %d:\n%s",
				v.Landing.Status, clip(v.Landing.Body))
			f.expectNoRule("FUL-RESOLVE-01")
			resolved := false
			for _, e := range f.exchanges() {
				if e.Operation == spec.OpResolve && e.Status == 200 && e.SubscriptionID == p.SubscriptionID {
					resolved = true
				}
			}
			Expect(resolved).To(BeTrue(), "the landing page never resolved the token successfully\n%s", f.violationText())
			f.done()
		})

	It("shows the customer a clear page, not a server error, when the token has expired",
		Label("FUL-RESOLVE-03"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding)
			f.requireFoundation()
			p := f.buy(marketplace.PurchaseRequest{PlanID: plans().Flat})
			Expect(env.MS.Marketplace.ExpireToken(p.Token)).To(Succeed())
			v := f.visit(p.Token)
			// The check means something only if the app asked Microsoft
			// about the token and was told it expired.
			if !f.triedResolve() {
				fail(fmt.Sprintf("the app never tried to resolve the expired purchase token, so how it handles the 400 could not be seen "+
					"(the landing page answered %d); the landing page must resolve every token it receives", v.Landing.Status))
			}
			if v.Landing.Status >= 500 {
				f.record(violationFor("FUL-RESOLVE-03", p.SubscriptionID,
					"landing page answered a server error for an expired purchase token",
					statusText(v.Landing.Status), "a page (2xx or 4xx) that tells the customer what to do",
					"catch the 400 from resolve and show a page that sends the customer back to the Azure portal or Microsoft 365 admin center"))
			}
			Expect(f.sub(p.SubscriptionID).SaasSubscriptionStatus).To(Equal(marketplace.PendingFulfillmentStart), "nothing may be activated")
			f.done()
		})

	It("does not activate again when an active customer returns to manage the account",
		Label("FUL-ACTIVATE-02", "FUL-RESOLVE-02"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: plans().Flat})
			token, err := env.MS.Marketplace.IssueToken(p.SubscriptionID)
			Expect(err).NotTo(HaveOccurred())
			By("the customer opens the SaaS account again from the portal")
			v := f.visit(token)
			Expect(v.Landing.Status).To(BeNumerically("<", 500), "manage-account visit:\n%s", clip(v.Landing.Body))
			f.expectNoRule("FUL-ACTIVATE-02")
			f.expectView(p.SubscriptionID, "after a manage-account visit")
			f.done()
		})
})

// triedResolve reports whether the app called resolve during the spec.
func (f *flow) triedResolve() bool {
	for _, e := range f.exchanges() {
		if e.Operation == spec.OpResolve {
			return true
		}
	}
	return false
}
