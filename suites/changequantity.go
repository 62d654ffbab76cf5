package suites

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
)

var _ = Describe("Change quantity", Label("flow:changeQuantity"), func() {
	It("acknowledges a customer's seat change, reads the operation, and reflects the new seat count once it completes",
		Label("WH-ACK-01", "WH-VERIFY-01", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangeQuantity)
			pl := qtyPlans()
			to := qtySeatsTo(pl, pl.SeatMin)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Seat, Quantity: pl.SeatMin})
			op, d := f.customer(marketplace.ActionChangeQuantity, p.SubscriptionID, to)
			f.expectAcked(d)
			f.chgExpectRead(p.SubscriptionID, op.ID)
			op = f.chgAwaitAnswer(p.SubscriptionID, op.ID)
			Expect(op.Status).To(Equal(marketplace.OpSucceeded),
				"the publisher refused %d seats, within its own limit (rejects.maxSeats)\n%s", to, f.violationText())
			Expect(qtyText(f.sub(p.SubscriptionID).Quantity)).To(Equal(fmt.Sprint(to)), "after the change was accepted Microsoft should show %d seats", to)
			f.blamedView(p.SubscriptionID, "after the customer's seat change", nil)
			f.done()
		})

	It("refuses more seats than it sells by PATCHing the operation with Failure within the window, never with a 5xx",
		Label("WH-ACK-02"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangeQuantity)
			pl := qtyPlans()
			if pl.SeatRefuse == 0 {
				Skip("publisher.rejects.maxSeats is not set below the plan's maximum: no seat count the publisher refuses")
			}
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Seat, Quantity: pl.SeatMin})
			op, d := f.customer(marketplace.ActionChangeQuantity, p.SubscriptionID, pl.SeatRefuse)
			f.chgExpectRefused(p.SubscriptionID, op.ID, d, fmt.Sprintf("a change to %d seats", pl.SeatRefuse))
			Expect(qtyText(f.sub(p.SubscriptionID).Quantity)).To(Equal(fmt.Sprint(pl.SeatMin)), "Microsoft keeps the old seat count")
			f.blamedView(p.SubscriptionID, "after refusing a seat change", nil)
			f.done()
		})

	It("changes seats on its own initiative by PATCHing quantity alone and following Operation-Location to the end",
		Label("FUL-UPDATE-01", "FUL-UPDATE-02", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangeQuantity, target.CapPublisherActions)
			f.needAction("changeQuantity")
			pl := qtyPlans()
			to := qtySeatsTo(pl, pl.SeatMin)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Seat, Quantity: pl.SeatMin})
			status, body := f.act("changeQuantity", p.SubscriptionID, "", to)
			f.expectNoRule("FUL-UPDATE-01")
			Expect(status).To(BeNumerically("~", 250, 50), "the publisher's seat change answered %d: %s\n%s", status, clip(body), f.violationText())
			opID := f.chgExpectFollowed(p.SubscriptionID)
			Expect(f.waitOp(p.SubscriptionID, opID).Status).To(Equal(marketplace.OpSucceeded),
				"the app's own change of seats (operation %s) should complete", opID)
			Expect(qtyText(f.sub(p.SubscriptionID).Quantity)).To(Equal(fmt.Sprint(to)), "after the app's change Microsoft should show %d seats", to)
			f.blamedView(p.SubscriptionID, "after the publisher's own seat change", nil)
			f.done()
		})

	It("does not assume its own seat change happened when Microsoft's operation fails",
		Label("FUL-UPDATE-02", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangeQuantity, target.CapPublisherActions)
			f.needAction("changeQuantity")
			f.needProbe()
			pl := qtyPlans()
			to := qtySeatsTo(pl, pl.SeatMin)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Seat, Quantity: pl.SeatMin})
			f.chgFailNext(p.SubscriptionID)
			status, body := f.act("changeQuantity", p.SubscriptionID, "", to)
			By(fmt.Sprintf("the publisher reported %d: %s", status, clip(body)))
			f.expectNoRule("FUL-UPDATE-01")
			opID := f.chgExpectFollowed(p.SubscriptionID)
			Expect(f.waitOp(p.SubscriptionID, opID).Status).To(Equal(marketplace.OpFailed),
				"Microsoft was set to fail the app's change (operation %s)", opID)
			f.blamedView(p.SubscriptionID, "after its own seat change failed",
				chgAssumed(fmt.Sprint(pl.SeatMin), fmt.Sprint(to), "quantity"))
			f.done()
		})

	It("moves a per-seat subscription to another per-seat plan by PATCHing planId alone, never with the quantity",
		Label("FUL-UPDATE-01", "FUL-UPDATE-02", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangePlan, target.CapPublisherActions)
			f.needAction("changePlan")
			pl := qtyPlans()
			if pl.OtherSeat == "" {
				Skip("the offer has only one per-seat plan the publisher accepts")
			}
			seats := qtyCommonSeats(pl)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Seat, Quantity: seats})
			status, body := f.act("changePlan", p.SubscriptionID, pl.OtherSeat, 0)
			f.expectNoRule("FUL-UPDATE-01")
			Expect(status).To(BeNumerically("~", 250, 50), "the publisher's plan change answered %d: %s\n%s", status, clip(body), f.violationText())
			opID := f.chgExpectFollowed(p.SubscriptionID)
			Expect(f.waitOp(p.SubscriptionID, opID).Status).To(Equal(marketplace.OpSucceeded),
				"the app's own change of plan (operation %s) should complete", opID)
			Expect(f.sub(p.SubscriptionID).PlanID).To(Equal(pl.OtherSeat), "after the app's change Microsoft should show plan %s", pl.OtherSeat)
			f.blamedView(p.SubscriptionID, "after the publisher moved a per-seat subscription to another plan", nil)
			f.done()
		})
})

// qtyPlans is plans() for a spec that needs a per-seat plan.
func qtyPlans() Plans {
	GinkgoHelper()
	pl := plans()
	if pl.Seat == "" {
		Skip("the offer has no per-seat plan the publisher accepts")
	}
	return pl
}

// qtySeatsTo is a new seat count for a subscription with from seats: within
// the plan's range and the publisher's own limit.
func qtySeatsTo(pl Plans, from int64) int64 {
	GinkgoHelper()
	hi := pl.SeatMax
	if m := env.Target.Publisher.Rejects.MaxSeats; m > 0 && m < hi {
		hi = m
	}
	for _, q := range []int64{from + 2, from + 1, from - 1} {
		if q >= pl.SeatMin && q <= hi && q != from {
			return q
		}
	}
	Skip(fmt.Sprintf("plan %s allows no other seat count than %d", pl.Seat, from))
	return 0
}

// qtyCommonSeats is a seat count both per-seat plans allow, so the plan
// change keeps it; the Seat plan's minimum when there is none.
func qtyCommonSeats(pl Plans) int64 {
	lo, hi := pl.SeatMin, pl.SeatMax
	if o, ok := env.MS.Marketplace.Catalog().Plan(pl.Offer, pl.OtherSeat); ok {
		lo, hi = max(lo, deref(o.MinQuantity, 1)), min(hi, deref(o.MaxQuantity, hi))
	}
	if lo > hi {
		return pl.SeatMin
	}
	return lo
}
