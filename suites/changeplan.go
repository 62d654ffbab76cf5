package suites

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

var _ = Describe("Change plan", Label("flow:changePlan"), func() {
	It("acknowledges a customer's plan change, reads the operation, and reflects the new plan once it completes",
		Label("WH-ACK-01", "WH-VERIFY-01", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangePlan)
			pl := plans()
			to := chgTarget(pl, pl.Flat)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Flat})
			op, d := f.customer(marketplace.ActionChangePlan, p.SubscriptionID, to)
			f.expectAcked(d)
			f.chgExpectRead(p.SubscriptionID, op.ID)
			op = f.chgAwaitAnswer(p.SubscriptionID, op.ID)
			Expect(op.Status).To(Equal(marketplace.OpSucceeded),
				"the publisher refused a plan change its config does not refuse (rejects.plans)\n%s", f.violationText())
			Expect(f.sub(p.SubscriptionID).PlanID).To(Equal(to), "after the change was accepted Microsoft should show plan %s", to)
			f.blamedView(p.SubscriptionID, "after the customer's plan change", nil)
			f.done()
		})

	It("refuses a plan change it does not sell by PATCHing the operation with Failure within the window, never with a 5xx",
		Label("WH-ACK-02"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangePlan)
			pl := plans()
			if pl.Refused == "" {
				Skip("no plan of the offer is in publisher.rejects.plans: nothing the publisher refuses")
			}
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Flat})
			op, d := f.customer(marketplace.ActionChangePlan, p.SubscriptionID, pl.Refused)
			f.chgExpectRefused(p.SubscriptionID, op.ID, d, "a change to plan "+pl.Refused)
			Expect(f.sub(p.SubscriptionID).PlanID).To(Equal(pl.Flat), "Microsoft keeps the old plan")
			f.blamedView(p.SubscriptionID, "after refusing a plan change", nil)
			f.done()
		})

	It("acts on the operation it reads from Microsoft, not on the planId in the notification",
		Label("WH-VERIFY-01"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangePlan)
			f.needProbe()
			pl := plans()
			targets := chgTargets(pl, pl.Flat)
			if len(targets) < 2 {
				Skip("the offer needs two more plans the publisher accepts: one to change to, one to forge")
			}
			to, forged := targets[0], targets[1]
			p := f.buyForWebhook(marketplace.PurchaseRequest{PlanID: pl.Flat})
			op, err := env.MS.Marketplace.ChangePlan(p.SubscriptionID, to)
			Expect(err).NotTo(HaveOccurred())
			tampered := f.event(op.ID)
			tampered.PlanID = forged
			body, err := json.Marshal(tampered)
			Expect(err).NotTo(HaveOccurred())
			By(fmt.Sprintf("Microsoft's signed notification says %s, but the operation is a change to %s", forged, to))
			if f.onBehalf != nil {
				_, err := quietSender().DeliverBody(f.ctx, tampered, body)
				Expect(err).NotTo(HaveOccurred())
				f.expectNotActedOnPayload(p.SubscriptionID, op.ID, to, forged)
				f.settleWindow()
				f.done()
				return
			}
			d, err := env.Sender.DeliverBody(f.ctx, tampered, body)
			Expect(err).NotTo(HaveOccurred())
			f.expectAcked(d)
			f.chgExpectRead(p.SubscriptionID, op.ID)
			op = f.chgAwaitAnswer(p.SubscriptionID, op.ID)
			Expect(op.Status).To(Equal(marketplace.OpSucceeded), "the change to %s was not accepted\n%s", to, f.violationText())
			f.blamedView(p.SubscriptionID, "after a notification whose planId disagrees with its operation",
				func(sub marketplace.Subscription, v driver.View) *violation.Violation {
					if v.PlanID != forged {
						return nil
					}
					vi := violationFor("WH-VERIFY-01", sub.ID, "the publisher applied the notification's planId, not the operation's",
						"plan "+forged+" (from the payload)", "plan "+to+" (from GET operation)",
						"GET the operation named in the notification and act on what it says; treat the payload as a hint")
					return &vi
				})
			f.done()
		})

	It("changes a plan on its own initiative by PATCHing planId and following Operation-Location to the end",
		Label("FUL-UPDATE-01", "FUL-UPDATE-02", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangePlan, target.CapPublisherActions)
			f.needAction("changePlan")
			pl := plans()
			to := chgTarget(pl, pl.Flat)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Flat})
			status, body := f.act("changePlan", p.SubscriptionID, to, 0)
			f.expectNoRule("FUL-UPDATE-01")
			Expect(status).To(BeNumerically("~", 250, 50), "the publisher's plan change answered %d: %s\n%s", status, clip(body), f.violationText())
			opID := f.chgExpectFollowed(p.SubscriptionID)
			Expect(f.waitOp(p.SubscriptionID, opID).Status).To(Equal(marketplace.OpSucceeded),
				"the app's own change of plan (operation %s) should complete", opID)
			Expect(f.sub(p.SubscriptionID).PlanID).To(Equal(to), "after the app's change Microsoft should show plan %s", to)
			f.blamedView(p.SubscriptionID, "after the publisher's own plan change", nil)
			f.done()
		})

	It("does not assume its own plan change happened when Microsoft's operation fails",
		Label("FUL-UPDATE-02", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangePlan, target.CapPublisherActions)
			f.needAction("changePlan")
			f.needProbe()
			pl := plans()
			to := chgTarget(pl, pl.Flat)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Flat})
			f.chgFailNext(p.SubscriptionID)
			status, body := f.act("changePlan", p.SubscriptionID, to, 0)
			By(fmt.Sprintf("the publisher reported %d: %s", status, clip(body)))
			f.expectNoRule("FUL-UPDATE-01")
			opID := f.chgExpectFollowed(p.SubscriptionID)
			Expect(f.waitOp(p.SubscriptionID, opID).Status).To(Equal(marketplace.OpFailed),
				"Microsoft was set to fail the app's change (operation %s)", opID)
			f.blamedView(p.SubscriptionID, "after its own plan change failed", chgAssumed(pl.Flat, to, "plan"))
			f.done()
		})
})

// --- helpers shared by the change-plan, change-quantity, CSP and free-trial
// specs. They wait as long as the flow timeout allows, but stop early once
// the publisher has gone quiet: a publisher that makes no call and answers
// no notification for chgQuiet will not fix anything by itself.

// chgQuiet is how long the publisher may sit idle before a spec stops
// waiting. It is a trade-off for speed: a wrong publisher fails in seconds
// rather than the flow timeout, and a right one that pauses longer than
// this between its calls (after reading an operation and before answering
// it, say) is judged too early.
const chgQuiet = 1500 * time.Millisecond

// chgIdle notices the publisher going quiet: no call to the marketplace and
// no webhook delivery finishing.
type chgIdle struct {
	n     int
	since time.Time
}

func chgWatch() *chgIdle { return &chgIdle{n: chgActivity(), since: time.Now()} }

func chgActivity() int { return len(env.MS.Exchanges()) + len(env.Sender.Deliveries()) }

func (w *chgIdle) quiet() bool {
	if n := chgActivity(); n != w.n {
		w.n, w.since = n, time.Now()
		return false
	}
	return time.Since(w.since) >= min(chgQuiet, env.Target.Timeouts.Flow)
}

// chgPause waits one polling interval; false when the spec is over.
func (f *flow) chgPause() bool {
	select {
	case <-f.ctx.Done():
		return false
	case <-time.After(20 * time.Millisecond):
		return true
	}
}

// expectNotActedOnPayload is WH-VERIFY-01 judged on a subscription the app
// never activated (buyForWebhook): whether the app acts on it at all is its
// own business, but if it answers the operation it must have read it
// first, and it must never take the payload's plan for the operation's.
func (f *flow) expectNotActedOnPayload(subID, opID, to, forged string) {
	GinkgoHelper()
	f.awaitQuiet(quietPeriod())
	if get, patch := f.chgOpCalls(opID); patch >= 0 && (get < 0 || patch < get) {
		f.record(violationFor("WH-VERIFY-01", subID, "the webhook answered the operation (PATCH) without reading it first",
			"no GET …/operations/"+opID+" before the PATCH", "GET the operation before acting on the notification",
			"treat the notification as a hint: GET the operation it names and act on what Microsoft says"))
	}
	if v, err := env.Probe.Read(f.ctx, subID); err == nil && strings.EqualFold(v.PlanID, forged) {
		f.record(violationFor("WH-VERIFY-01", subID, "the publisher applied the notification's planId, not the operation's",
			"plan "+forged+" (from the payload)", "plan "+to+" (from GET operation)",
			"GET the operation named in the notification and act on what it says; treat the payload as a hint"))
	}
	f.expectNoRule("WH-VERIFY-01")
}

// chgTargets are the plans a subscription on from can move to that the
// publisher does not refuse, best first: another flat-rate plan, then the
// per-seat ones, then the trial plan.
func chgTargets(pl Plans, from string) []string {
	var out []string
	for _, id := range []string{pl.OtherFlat, pl.Flat, pl.Seat, pl.OtherSeat, pl.Trial} {
		if id != "" && id != from && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// chgTarget is the best plan to change from; the spec is skipped without one.
func chgTarget(pl Plans, from string) string {
	GinkgoHelper()
	t := chgTargets(pl, from)
	if len(t) == 0 {
		Skip("the offer has no other plan the publisher accepts to change " + from + " to")
	}
	return t[0]
}

// chgOpCalls finds, among the spec's exchanges, the first GET and the first
// PATCH of operation opID (-1 when absent).
func (f *flow) chgOpCalls(opID string) (get, patch int) {
	get, patch = -1, -1
	id := strings.ToLower(opID)
	for i, e := range f.exchanges() {
		if !strings.Contains(strings.ToLower(e.URL), id) {
			continue
		}
		switch {
		case e.Operation == spec.OpGetOperation && get < 0:
			get = i
		case e.Operation == spec.OpUpdateOperation && patch < 0:
			patch = i
		}
	}
	return get, patch
}

// chgExpectRead checks WH-VERIFY-01 for a notification: the publisher GETs
// the operation before it answers it. It fails as soon as the publisher
// PATCHes the operation unread, or when the acknowledgement window passes
// without a read.
func (f *flow) chgExpectRead(subID, opID string) {
	GinkgoHelper()
	deadline := time.Now().Add(min(env.Target.Timeouts.WebhookAck, env.Target.Timeouts.Flow))
	verdict := "acknowledged the notification and did not read the operation within the window"
	for {
		get, patch := f.chgOpCalls(opID)
		if get >= 0 && (patch < 0 || get < patch) {
			return
		}
		if patch >= 0 {
			verdict = "answered the operation (PATCH) without reading it first"
			break
		}
		if time.Now().After(deadline) || !f.chgPause() {
			break
		}
	}
	f.record(violationFor("WH-VERIFY-01", subID, "the webhook "+verdict,
		"no GET …/operations/"+opID, "GET the operation before acting on the notification",
		"treat the notification as a hint: GET the operation it names and act on what Microsoft says"))
	fail(fmt.Sprintf("WH-VERIFY-01: the publisher %s\n%s", verdict, f.violationText()))
}

// chgAwaitAnswer waits for the publisher to accept or refuse a customer
// change. If it stays silent, the acknowledgement window passes and
// Microsoft accepts the change, as the real marketplace does.
func (f *flow) chgAwaitAnswer(subID, opID string) marketplace.Operation {
	GinkgoHelper()
	w := chgWatch()
	deadline := time.Now().Add(min(env.Target.Timeouts.WebhookAck, env.Target.Timeouts.Flow))
	for {
		op, _ := env.MS.Marketplace.Operation(subID, opID)
		if op.Status.Final() {
			return op
		}
		if w.quiet() || time.Now().After(deadline) || !f.chgPause() {
			break
		}
	}
	By("the publisher did not answer: the window passes and Microsoft accepts the change")
	f.settleWindow()
	return f.waitOp(subID, opID)
}

// chgExpectRefused checks that the publisher refused a customer change the
// right way (WH-ACK-02): PATCH Failure or a 4xx, inside the window; a 5xx or
// no answer is not a refusal.
func (f *flow) chgExpectRefused(subID, opID string, d driver.Delivery, what string) {
	GinkgoHelper()
	refuse := func(summary, got string) {
		f.record(violationFor("WH-ACK-02", subID, summary, got,
			"PATCH the operation with Failure (or answer 4xx) within "+env.Target.Timeouts.WebhookAck.String(),
			`answer the webhook 200, GET the operation, then PATCH it with {"status":"Failure"}`))
		fail(fmt.Sprintf("WH-ACK-02: %s\n%s", summary, f.violationText()))
	}
	if last := d.Attempts[len(d.Attempts)-1]; last.Status >= 500 || last.Status == 0 {
		got := statusText(last.Status)
		if last.Status == 0 {
			got = "no answer: " + last.Err
		}
		refuse(fmt.Sprintf("the webhook answered %s to %s: Microsoft retries a 5xx, it never counts as a refusal", got, what), got)
	}
	w := chgWatch()
	deadline := time.Now().Add(min(env.Target.Timeouts.WebhookAck, env.Target.Timeouts.Flow))
	for {
		op, _ := env.MS.Marketplace.Operation(subID, opID)
		if op.Status.Final() {
			Expect(op.Status).To(Equal(marketplace.OpFailed),
				"the publisher accepted %s, which its config says it refuses (publisher.rejects)\n%s", what, f.violationText())
			return
		}
		if w.quiet() || time.Now().After(deadline) || !f.chgPause() {
			break
		}
	}
	refuse(fmt.Sprintf("the publisher neither PATCHed Failure nor answered 4xx to %s; silence accepts the change", what),
		"operation still InProgress")
}

// chgFailNext makes Microsoft fail the publisher's next PATCH or DELETE on
// subID, and clears that again when the spec ends.
func (f *flow) chgFailNext(subID string) {
	By("Microsoft will fail the publisher's next change to " + subID)
	env.MS.Marketplace.SetOutcome(subID, marketplace.OpFailed)
	DeferCleanup(func() { env.MS.Marketplace.SetOutcome(subID, marketplace.OpSucceeded) })
}

// chgExpectFollowed checks FUL-UPDATE-02 for the publisher's own change: its
// PATCH was answered 202, and it then read the operation from
// Operation-Location until it was final. It returns the operation id.
func (f *flow) chgExpectFollowed(subID string) string {
	GinkgoHelper()
	w := chgWatch()
	deadline := time.Now().Add(env.Target.Timeouts.Flow)
	patch, opID := -1, ""
	for {
		ex := f.exchanges()
		for i, e := range ex {
			if e.Operation == spec.OpUpdateSubscription && strings.EqualFold(e.SubscriptionID, subID) && e.Status == http.StatusAccepted {
				patch, opID = i, chgOpIDOf(e.ResponseHeader.Get("Operation-Location"))
			}
		}
		if opID != "" {
			for _, e := range ex[patch+1:] {
				if e.Operation == spec.OpGetOperation && strings.Contains(strings.ToLower(e.URL), strings.ToLower(opID)) && chgFinalIn(e.ResponseBody) {
					return opID
				}
			}
		}
		if w.quiet() || time.Now().After(deadline) || !f.chgPause() {
			break
		}
	}
	if opID == "" {
		fail(fmt.Sprintf("the publisher made no PATCH of subscription %s that Microsoft accepted (202)\n%s", subID, f.violationText()))
	}
	summary := "the publisher did not follow Operation-Location until operation " + opID + " was final"
	f.record(violationFor("FUL-UPDATE-02", subID, summary, "no GET of the operation showing Succeeded or Failed",
		"GET Operation-Location until the status is Succeeded or Failed",
		"202 means accepted, not done: poll the Operation-Location and update your records only when it says Succeeded"))
	fail(fmt.Sprintf("FUL-UPDATE-02: %s\n%s", summary, f.violationText()))
	return ""
}

func chgOpIDOf(location string) string {
	if location == "" {
		return ""
	}
	return path.Base(strings.SplitN(location, "?", 2)[0])
}

func chgFinalIn(body []byte) bool {
	var op struct {
		Status marketplace.OperationStatus `json:"status"`
	}
	return json.Unmarshal(body, &op) == nil && op.Status.Final()
}

// chgAssumed blames FUL-UPDATE-02 when the publisher's view shows the change
// (field "plan" or "quantity" = to) although Microsoft kept from.
func chgAssumed(from, to, field string) func(marketplace.Subscription, driver.View) *violation.Violation {
	return func(sub marketplace.Subscription, v driver.View) *violation.Violation {
		got := v.PlanID
		if field == "quantity" {
			got = qtyText(v.Quantity)
		}
		if got != to {
			return nil
		}
		vi := violationFor("FUL-UPDATE-02", sub.ID, "the publisher assumed its own change succeeded although Microsoft's operation failed",
			field+" "+to, field+" "+from,
			"after the 202, GET Operation-Location until it is final and change your records only when it says Succeeded")
		return &vi
	}
}

func qtyText(q *int64) string {
	if q == nil {
		return "none"
	}
	return fmt.Sprint(*q)
}
