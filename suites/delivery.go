package suites

import (
	"encoding/json"
	"fmt"
	"net/http"
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

var _ = Describe("Webhook delivery", Label("flow:delivery"), func() {
	It("handles a duplicate delivery of a notification without a second effect",
		Label("WH-IDEMP-01", "FUL-OP-01", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangePlan)
			pl := plans()
			to := dlvChangeTarget(pl)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Flat})
			op, d := f.customer(marketplace.ActionChangePlan, p.SubscriptionID, to)
			f.expectAcked(d)
			op = f.awaitAnswer(p.SubscriptionID, op.ID)
			Expect(op.Status).To(Equal(marketplace.OpSucceeded), "the change to %s was not accepted\n%s", to, f.violationText())
			f.settledView(p.SubscriptionID, "after the plan change", false)

			By("Microsoft delivers the same notification again")
			mark := len(f.exchanges())
			again := f.notify(op)
			f.expectAcked(again)
			f.expectNoSecondAnswer(p.SubscriptionID, op.ID, mark)
			f.settledView(p.SubscriptionID, "after the duplicate delivery", false)
			f.done()
		})

	// The spec above redelivers once the operation is final. In production
	// a duplicate can also come straight after the first delivery, while
	// the app is still acting on it: Microsoft delivers at least once and
	// retries whenever it misses the acknowledgement (plausible, not
	// documented as such; see spec/README.md). An app that deduplicates only
	// by what it has finished answers the operation twice.
	It("handles a notification delivered twice at once, as when its acknowledgement is lost, without a second effect",
		Label("WH-IDEMP-01", "FUL-OP-01", "STATE-06"), func(ctx SpecContext) {
			if !productionWebhooks(env.Target) {
				Skip("marketplace.profile: production only: an immediate duplicate of an acknowledged notification is what the real service is reported to do, not what the documents describe")
			}
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangePlan)
			pl := plans()
			to := dlvChangeTarget(pl)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Flat})
			op, err := env.MS.Marketplace.ChangePlan(p.SubscriptionID, to)
			Expect(err).NotTo(HaveOccurred())
			s := env.Sender
			twice := &driver.Sender{URL: s.URL, Client: s.Client, Issuer: s.Issuer, App: s.App, Version: s.Version,
				Clock: s.Clock, Log: s.Log, Market: s.Market, AckWindow: s.AckWindow, Attempts: s.Attempts,
				Backoff: s.Backoff, GiveUpAfter: s.GiveUpAfter, Redeliver: true}
			By("Microsoft notifies the webhook: ChangePlan, and at once again with a fresh token (the first acknowledgement was lost)")
			d, err := twice.Deliver(f.ctx, f.event(op.ID))
			Expect(err).NotTo(HaveOccurred())
			f.expectAcked(d)
			dups := twice.DeliveriesFor(p.SubscriptionID)
			Expect(dups).To(HaveLen(2), "the notification was not delivered a second time")
			f.expectAcked(dups[1])
			op = f.awaitAnswer(p.SubscriptionID, op.ID)
			Expect(op.Status).To(Equal(marketplace.OpSucceeded), "the change to %s was not accepted\n%s", to, f.violationText())
			f.expectAnsweredOnce(p.SubscriptionID, op.ID)
			f.settledView(p.SubscriptionID, "after a notification delivered twice", false)
			f.done()
		})

	It("accepts a notification that carries fields it does not know",
		Label("WH-PAYLOAD-02", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangePlan)
			pl := plans()
			to := dlvChangeTarget(pl)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Flat})
			op, err := env.MS.Marketplace.ChangePlan(p.SubscriptionID, to)
			Expect(err).NotTo(HaveOccurred())
			payload := f.event(op.ID)
			body := withExtraFields(payload, map[string]any{
				"operationRequestedSource": string(payload.OperationRequestSource), // the emulator's spelling (CONTRACT D7)
				"futureField":              map[string]any{"x": 1},
			})
			By("Microsoft notifies the webhook: ChangePlan, with two fields the publisher has never seen")
			d, err := env.Sender.DeliverBody(f.ctx, payload, body)
			Expect(err).NotTo(HaveOccurred())
			if !d.Acked() {
				last := d.Attempts[len(d.Attempts)-1]
				f.record(violationFor("WH-PAYLOAD-02", p.SubscriptionID,
					"webhook refused a notification with fields it does not know",
					fmt.Sprintf("%s %s", statusText(last.Status), clip(strings.TrimSpace(last.Body+" "+last.Err))), "200",
					"decode webhook payloads leniently: ignore unknown fields (Microsoft adds fields without notice)"))
				fail(fmt.Sprintf("WH-PAYLOAD-02: the webhook refused a payload with extra fields:\n%s", f.violationText()))
			}
			op = f.awaitAnswer(p.SubscriptionID, op.ID)
			Expect(op.Status).To(Equal(marketplace.OpSucceeded), "the change to %s was not applied\n%s", to, f.violationText())
			f.settledView(p.SubscriptionID, "after a notification with extra fields", false)
			f.done()
		})

	It("answers a notification with 2xx within the acknowledgement window",
		Label("WH-ACK-01"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapSuspend, target.CapRenew, target.CapUnsubscribe)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: plans().Flat})
			// The notifications nobody may refuse, in an order the
			// subscription allows without waiting on the publisher.
			for _, action := range []marketplace.Action{marketplace.ActionRenew, marketplace.ActionSuspend,
				marketplace.ActionUnsubscribe} {
				_, d := f.customer(action, p.SubscriptionID)
				f.expectNoRule("WH-ACK-01")
				f.expectTimelyAck(d)
			}
			f.done()
		})
})

// dlvChangeTarget is a plan a Flat subscription can change to and the
// publisher accepts (not in rejects.plans); the spec is skipped without one.
func dlvChangeTarget(pl Plans) string {
	GinkgoHelper()
	for _, id := range []string{pl.OtherFlat, pl.Seat, pl.OtherSeat} {
		if id != "" && id != pl.Flat {
			return id
		}
	}
	Skip("the offer has no other plan the publisher accepts: nothing to change " + pl.Flat + " to")
	return ""
}

// withExtraFields is the payload's JSON with more top-level fields.
func withExtraFields(p marketplace.WebhookPayload, extra map[string]any) []byte {
	GinkgoHelper()
	raw, err := json.Marshal(p)
	Expect(err).NotTo(HaveOccurred())
	var m map[string]any
	Expect(json.Unmarshal(raw, &m)).To(Succeed())
	for k, v := range extra {
		m[k] = v
	}
	out, err := json.Marshal(m)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// expectTimelyAck checks WH-ACK-01 on one delivery: one attempt, a 2xx,
// inside the acknowledgement window.
func (f *flow) expectTimelyAck(d driver.Delivery) {
	GinkgoHelper()
	window := env.Target.Timeouts.WebhookAck
	Expect(d.Attempts).NotTo(BeEmpty(), "the %s notification was never sent", d.Payload.Action)
	a := d.Attempts[0]
	Expect(a.Status).To(BeNumerically(">=", 200), "%s notification, first attempt: status %d %s", d.Payload.Action, a.Status, a.Err)
	Expect(a.Status).To(BeNumerically("<", 300), "%s notification, first attempt: status %d", d.Payload.Action, a.Status)
	Expect(a.Latency).To(BeNumerically("<", window), "%s notification answered after %s (window %s)", d.Payload.Action, a.Latency, window)
	Expect(d.Attempts).To(HaveLen(1), "the %s notification needed %d attempts", d.Payload.Action, len(d.Attempts))
}

// expectNoSecondAnswer watches, for a bounded time after a redelivery, that
// the publisher does not answer the operation again (WH-IDEMP-01; a second
// PATCH of a final operation is also FUL-OP-01, which the fake records).
func (f *flow) expectNoSecondAnswer(subID, opID string, mark int) {
	GinkgoHelper()
	watch := min(max(env.Target.Timeouts.WebhookAck/10, 300*time.Millisecond), time.Second)
	deadline := time.Now().Add(watch)
	for {
		for _, e := range f.exchanges()[mark:] {
			if e.Operation == spec.OpUpdateOperation && strings.Contains(e.URL, opID) {
				f.record(violationFor("WH-IDEMP-01", subID,
					"a redelivered notification was handled again: the operation was answered a second time",
					fmt.Sprintf("%s %s → %d", e.Method, e.URL, e.Status), "no second PATCH of operation "+opID,
					"remember the operation ids you have handled and acknowledge a repeat with 200 and nothing else"))
				f.expectNoRule("FUL-OP-01")
				fail("WH-IDEMP-01: the publisher answered operation " + opID + " again on a duplicate delivery\n" + f.violationText())
			}
		}
		f.expectNoRule("FUL-OP-01")
		if time.Now().After(deadline) {
			return
		}
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// expectAnsweredOnce watches, for as long as expectNoSecondAnswer does,
// that the publisher PATCHes an operation at most once although it was
// notified twice (WH-IDEMP-01; the second PATCH of a final operation is
// also FUL-OP-01, which the fake records).
func (f *flow) expectAnsweredOnce(subID, opID string) {
	GinkgoHelper()
	watch := min(max(env.Target.Timeouts.WebhookAck/10, 300*time.Millisecond), time.Second)
	deadline := time.Now().Add(watch)
	var seen time.Time
	for {
		// The fake records FUL-OP-01 while it handles the PATCH and keeps
		// the exchange when it answers: once the rule shows, keep looking
		// at the PATCHes a moment longer, so the duplicate is named as such.
		if seen.IsZero() && slices.ContainsFunc(f.violations(), func(v violation.Violation) bool { return v.Rule == "FUL-OP-01" }) {
			seen = time.Now()
		}
		if patches := f.patchesOf(opID); len(patches) > 1 {
			f.record(violationFor("WH-IDEMP-01", subID,
				"a notification delivered twice was handled twice: the operation was answered more than once",
				strings.Join(patches, "; "), "one PATCH of operation "+opID,
				"mark an operation id as taken when its notification arrives, before acting, so a duplicate arriving meanwhile is acknowledged with 200 and nothing else"))
			fail("WH-IDEMP-01: the publisher answered operation " + opID + " twice after a duplicate delivery\n" + f.violationText())
		}
		if seen.IsZero() || time.Since(seen) > 200*time.Millisecond {
			f.expectNoRule("FUL-OP-01")
		}
		if seen.IsZero() && time.Now().After(deadline) {
			return
		}
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// --- waiting on the publisher without waiting forever ------------------------

// quietPeriod is how long the publisher may sit idle — no call to the
// marketplace about the subscription, no notification in flight, no change
// in its own view or Microsoft's — before a spec concludes it will not act.
// Every way a publisher can learn something new goes through one of those, so
// a publisher that has done nothing for this long is done. It keeps mutant
// runs short: a wrong view fails in seconds, not after the flow timeout.
func quietPeriod() time.Duration {
	return min(max(env.Target.Timeouts.Flow/10, 2*time.Second), 5*time.Second)
}

// activityKey changes whenever anything that could move the publisher's
// view happens.
func (f *flow) activityKey(subID string, v driver.View, err error) string {
	calls := 0
	for _, e := range f.exchanges() {
		if strings.EqualFold(e.SubscriptionID, subID) || strings.Contains(strings.ToLower(e.URL), strings.ToLower(subID)) {
			calls++
		}
	}
	s, _ := env.MS.Marketplace.Subscription(subID)
	q := "none"
	if v.Quantity != nil {
		q = fmt.Sprint(*v.Quantity)
	}
	ms := "none"
	if s.Quantity != nil {
		ms = fmt.Sprint(*s.Quantity)
	}
	return fmt.Sprintf("%d|%d|%s|%s|%s|%s|%s|%s|%s|%s|%v", calls, len(env.Sender.DeliveriesFor(subID)),
		s.SaasSubscriptionStatus, s.PlanID, ms, v.RawStatus, v.PlanID, q, v.Beneficiary, v.TermEnd, err)
}

// viewGap polls the publisher's view until it matches Microsoft's (with the
// term end when withTerm), the publisher goes quiet, or the flow timeout
// passes. It returns the mismatches left (nil when they agree) and why the
// wait ended. A publisher that shows an account ended while Microsoft does
// not is not waited on: Unsubscribed is final (STATE-01).
func (f *flow) viewGap(subID string, withTerm bool) (gap []driver.Mismatch, why string) {
	GinkgoHelper()
	f.awaitPartnerNotices(subID)
	deadline := time.Now().Add(env.Target.Timeouts.Flow)
	idle := quietPeriod()
	mark, since := "", time.Now()
	for {
		sub := f.sub(subID)
		v, err := env.Probe.Read(f.ctx, subID)
		if err == nil {
			gap = driver.Compare(sub, v)
			if withTerm {
				if m := driver.CompareTermEnd(sub, v); m != nil {
					gap = append(gap, *m)
				}
			}
			if len(gap) == 0 {
				return nil, ""
			}
			if v.Status == string(marketplace.Unsubscribed) && sub.SaasSubscriptionStatus != marketplace.Unsubscribed {
				return gap, "and the publisher has already ended the account (Unsubscribed is final)"
			}
		} else {
			gap = []driver.Mismatch{{Field: "subscription", Microsoft: string(sub.SaasSubscriptionStatus), Publisher: err.Error()}}
		}
		if k := f.activityKey(subID, v, err); k != mark {
			mark, since = k, time.Now()
		}
		now := time.Now()
		if now.Sub(since) >= idle {
			return gap, fmt.Sprintf("and the publisher did nothing more for %s", idle)
		}
		if now.After(deadline) {
			return gap, fmt.Sprintf("after %s", env.Target.Timeouts.Flow)
		}
		select {
		case <-f.ctx.Done():
			return gap, "when the spec was interrupted"
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// awaitPartnerNotices waits until every notification Microsoft sent the
// app about its own changes to subID (operationRequestSource Partner; they
// are sent while the spec goes on) has been delivered and answered, and
// the app has then been quiet for a moment. A view judged before that is
// judged too early: an app that applies a failed operation from the
// notification that arrives a moment later would pass.
func (f *flow) awaitPartnerNotices(subID string) {
	deadline := time.Now().Add(env.Target.Timeouts.Flow)
	for {
		waiting, seen := 0, 0
		delivered := map[string]bool{}
		for _, d := range env.Sender.DeliveriesFor(subID) {
			delivered[d.Payload.ID+"|"+string(d.Payload.Status)] = true
		}
		for _, ev := range env.MS.Marketplace.Events() {
			p := ev.Payload
			if p.OperationRequestSource != marketplace.SourcePartner || !strings.EqualFold(p.SubscriptionID, subID) {
				continue
			}
			seen++
			if !delivered[p.ID+"|"+string(p.Status)] {
				waiting++
			}
		}
		if waiting == 0 {
			if seen > 0 {
				f.awaitQuiet(200 * time.Millisecond)
			}
			return
		}
		if time.Now().After(deadline) {
			return
		}
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// settledView is expectView that stops waiting once the publisher is quiet;
// with withTerm the term end counts too (after a renewal). A difference is
// recorded as STATE-06 and fails the spec.
func (f *flow) settledView(subID, when string, withTerm bool) {
	GinkgoHelper()
	if env.Probe == nil {
		f.viewUnchecked()
		return
	}
	gap, why := f.viewGap(subID, withTerm)
	if gap == nil {
		env.noteView(false)
		return
	}
	f.failView(subID, when, gap, why)
}

// blamedView is settledView for a change of plan or seats: blame, when set,
// may name the rule a remaining difference breaks besides STATE-06 (the
// publisher assumed its own change took effect, say).
func (f *flow) blamedView(subID, when string, blame func(marketplace.Subscription, driver.View) *violation.Violation) {
	GinkgoHelper()
	if env.Probe == nil {
		f.viewUnchecked()
		return
	}
	gap, why := f.viewGap(subID, false)
	if gap == nil {
		env.noteView(false)
		return
	}
	if blame != nil {
		if v, err := env.Probe.Read(f.ctx, subID); err == nil {
			if bv := blame(f.sub(subID), v); bv != nil {
				f.record(*bv)
				why += "; " + bv.Rule + ": " + bv.Summary
			}
		}
	}
	f.failView(subID, when, gap, why)
}

func (f *flow) failView(subID, when string, gap []driver.Mismatch, why string) {
	GinkgoHelper()
	if f.ctx.Err() == nil {
		env.noteView(true)
	}
	f.record(driver.MismatchViolation(f.sub(subID), gap, when))
	fail(fmt.Sprintf("STATE-06: the publisher's view differs from Microsoft's %s, %s:\n%sviolations:\n%s",
		when, why, sideBySide(gap), f.violationText()))
}

// expectReadsOperation checks WH-VERIFY-01: after a notification the
// publisher GETs the operation it names. A publisher that goes quiet without
// reading it is recorded and fails at once.
func (f *flow) expectReadsOperation(subID, opID string) {
	GinkgoHelper()
	f.awaitRead(subID, func() bool { return f.gotOperation(opID) }, func() {
		f.record(violationFor("WH-VERIFY-01", subID,
			"the publisher never read the operation its notification named",
			"no GET /saas/subscriptions/"+subID+"/operations/"+opID, "GET operation, then act on what it says",
			"a notification only says which operation to look at: GET it and act on the operation, never on the payload alone"))
		fail("WH-VERIFY-01: the publisher never read operation " + opID + " after its notification\n" + f.violationText())
	})
}

// awaitRead polls until read reports the app has asked Microsoft for what a
// notification named; missed runs once the app has gone quiet (no call, no
// change in its view) for quietPeriod, or the flow timeout has passed.
func (f *flow) awaitRead(subID string, read func() bool, missed func()) {
	GinkgoHelper()
	deadline := time.Now().Add(env.Target.Timeouts.Flow)
	idle := quietPeriod()
	mark, since := "", time.Now()
	for !read() {
		var v driver.View
		var err error
		if env.Probe != nil {
			v, err = env.Probe.Read(f.ctx, subID)
		}
		if k := f.activityKey(subID, v, err); k != mark {
			mark, since = k, time.Now()
		}
		if now := time.Now(); now.Sub(since) >= idle || now.After(deadline) {
			missed()
			return
		}
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// awaitAnswer waits for the publisher to answer an operation Microsoft holds
// open (ChangePlan, ChangeQuantity, Reinstate): a PATCH, or a 4xx to the
// notification. A publisher that stays silent for the acknowledgement window
// has accepted, as Microsoft treats silence; the window is waited out in real
// time, as Microsoft gives it, before the harness clock is moved past it.
func (f *flow) awaitAnswer(subID, opID string) marketplace.Operation {
	GinkgoHelper()
	deadline := time.Now().Add(env.Target.Timeouts.WebhookAck)
	for time.Now().Before(deadline) {
		if op, ok := env.MS.Marketplace.Operation(subID, opID); ok && op.Status.Final() {
			return op
		}
		select {
		case <-f.ctx.Done():
			return f.waitOp(subID, opID)
		case <-time.After(20 * time.Millisecond):
		}
	}
	By("the publisher stayed silent for the acknowledgement window: Microsoft accepts")
	f.settleWindow()
	return f.waitOp(subID, opID)
}

// patchesOf lists the publisher's PATCHes of an operation since the spec
// began, oldest first.
func (f *flow) patchesOf(opID string) []string {
	var out []string
	for _, e := range f.exchanges() {
		if e.Operation == spec.OpUpdateOperation && e.Method == http.MethodPatch && strings.Contains(e.URL, opID) {
			out = append(out, fmt.Sprintf("%s → %d", strings.TrimSpace(string(e.RequestBody)), e.Status))
		}
	}
	return out
}
