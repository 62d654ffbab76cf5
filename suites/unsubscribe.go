package suites

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/spec"
)

var _ = Describe("Cancellation", Label("flow:unsubscribe"), func() {
	It("deprovisions the account when the customer cancels",
		Label("WH-ACK-01", "STATE-01", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapUnsubscribe)
			f.needProbe()
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: plans().Flat})
			_, d := f.customer(marketplace.ActionUnsubscribe, p.SubscriptionID)
			f.expectAcked(d)
			f.settledView(p.SubscriptionID, "after Unsubscribe", false)
			f.done()
		})

	It("cancels with DELETE and follows the operation until it completes",
		Label("FUL-DELETE-01", "FUL-UPDATE-02", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapPublisherActions)
			f.needAction("cancel")
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: plans().Flat})
			status, body := f.act("cancel", p.SubscriptionID, "", 0)
			Expect(status).To(BeNumerically("<", 300), "cancel action answered %d: %s\n%s", status, clip(body), f.violationText())
			Expect(status).To(BeNumerically(">=", 200), "cancel action answered %d: %s", status, clip(body))
			f.expectNoRule("FUL-DELETE-01")

			del, opID := -1, ""
			xs := f.exchanges()
			for i, e := range xs {
				if e.Operation == spec.OpDeleteSubscription && strings.EqualFold(e.SubscriptionID, p.SubscriptionID) && e.Status == 202 {
					del, opID = i, operationIDFrom(e)
					break
				}
			}
			Expect(del).To(BeNumerically(">=", 0), "the publisher never cancelled %s with DELETE (202); its calls:\n%s",
				p.SubscriptionID, callList(xs))
			followed := false
			for _, e := range xs[del+1:] {
				if e.Operation == spec.OpGetOperation && (opID == "" || strings.Contains(e.URL, opID)) {
					followed = true
				}
			}
			if !followed {
				f.record(violationFor("FUL-UPDATE-02", p.SubscriptionID,
					"DELETE answered 202 but the publisher never followed Operation-Location",
					"no GET operation after the DELETE", "GET "+opID+" until Succeeded or Failed",
					"after a 202, poll the Operation-Location URL until the operation is final; do not assume success"))
				fail("FUL-UPDATE-02: the publisher did not follow the DELETE's operation\n" + f.violationText())
			}
			f.waitStatus(p.SubscriptionID, marketplace.Unsubscribed)
			f.settledView(p.SubscriptionID, "after the publisher cancelled", false)
			f.done()
		})
})

// operationIDFrom is the operation id at the end of a 202's Operation-Location.
func operationIDFrom(e contract.Exchange) string {
	loc := e.ResponseHeader.Get("Operation-Location")
	if i := strings.Index(loc, "?"); i >= 0 {
		loc = loc[:i]
	}
	if i := strings.LastIndex(loc, "/"); i >= 0 {
		return loc[i+1:]
	}
	return ""
}

// callList is a short transcript of the publisher's calls.
func callList(xs []contract.Exchange) string {
	if len(xs) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, e := range xs {
		fmt.Fprintf(&b, "  %s %s → %d\n", e.Method, e.URL, e.Status)
	}
	return b.String()
}
