package suites

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

// env is the run the specs drive; Run and Execute set it before Ginkgo
// starts and clear it after.
var env *Env

// flow is one spec's walk through a flow: the subscriptions it bought and
// where the shared records stood when it began, so it judges only what it
// caused.
type flow struct {
	ctx       context.Context
	subs      []string
	logMark   int
	exchMark  int
	delivMark int
	blocked   *foundationResult // set when the spec stopped on a broken foundation
	// onBehalf is set when the spec runs on a subscription Microsoft's side
	// activated because the landing path is broken: the spec judges only
	// what does not depend on the app having activated it, and violations
	// of the path's root cause are left to the spec that owns it.
	onBehalf *foundationResult
	// noteUnchecked: the report already says the view was not compared.
	noteUnchecked bool
	// warnedEarly are the 429s (by request id) already warned of as
	// retried too soon (production.go).
	warnedEarly map[string]bool
}

// current is the spec running now (specs run one at a time): the fail
// handler reads its violations to name the cause of a failure.
var current *flow

// begin starts a spec, skipping it with the reason when the target lacks a
// capability it needs.
func begin(ctx context.Context, needs ...target.Capability) *flow {
	GinkgoHelper()
	Expect(env).NotTo(BeNil(), "the suites run only through suites.Run or suites.Execute")
	for _, c := range needs {
		if !env.Target.Has(c) {
			Skip(fmt.Sprintf("capability %q is off in the target config (capabilities: %v)", c, env.Target.Capabilities))
		}
	}
	f := &flow{ctx: ctx, logMark: env.MS.Log.Len(), exchMark: len(env.MS.Exchanges()), delivMark: len(env.Sender.Deliveries())}
	current = f
	DeferCleanup(func() {
		f.report()
		current = nil
	})
	return f
}

// needProbe skips the spec when the target has no state probe: a spec
// whose point is the app's own account would otherwise pass without
// looking at it.
func (f *flow) needProbe() {
	GinkgoHelper()
	if env.Probe == nil {
		Skip("no publisher.probe in the target config: this spec checks the app's own account, which cannot be read without one")
	}
}

// viewUnchecked notes, once per spec, that the app's own view was not
// compared (no probe), so a pass is not read as more than it is.
func (f *flow) viewUnchecked() {
	if f.noteUnchecked {
		return
	}
	f.noteUnchecked = true
	msg := "the app's own view of the subscription was not compared with Microsoft's: the target has no publisher.probe"
	AddReportEntry("not checked", msg)
	By(msg)
}

// needAction skips the spec when the target cannot be made to act.
func (f *flow) needAction(name string) *target.Action {
	GinkgoHelper()
	act := actionNamed(name)
	if act == nil {
		Skip(fmt.Sprintf("no publisher.actions.%s in the target config: the publisher cannot be asked to do it", name))
	}
	return act
}

// actionNamed is the configured action of that YAML name, or nil.
func actionNamed(name string) *target.Action {
	a := env.Target.Publisher.Actions
	if a == nil {
		return nil
	}
	switch name {
	case "activate":
		return a.Activate
	case "changePlan":
		return a.ChangePlan
	case "changeQuantity":
		return a.ChangeQuantity
	case "cancel":
		return a.Cancel
	case "reconcile":
		return a.Reconcile
	}
	return nil
}

// violations are the ones this spec caused: recorded since it began, on its
// subscriptions or on none.
func (f *flow) violations() []violation.Violation {
	all := env.MS.Log.All()
	var out []violation.Violation
	for _, v := range all[min(f.logMark, len(all)):] {
		if f.onBehalf != nil && v.Rule == f.onBehalf.cause.Rule {
			continue // the landing path's root cause, reported by its owner
		}
		if v.SubscriptionID == "" || f.owns(v.SubscriptionID) {
			out = append(out, v)
		}
	}
	return out
}

func (f *flow) owns(id string) bool {
	return slices.ContainsFunc(f.subs, func(s string) bool { return strings.EqualFold(s, id) })
}

// report attaches the spec's violations to its report, pass or fail.
func (f *flow) report() {
	if vs := f.violations(); len(vs) > 0 {
		AddReportEntry("violations", vs, ReportEntryVisibilityNever)
	}
}

// done is the end of every spec: no violation of error severity.
func (f *flow) done() {
	GinkgoHelper()
	f.expectNoViolations()
}

func (f *flow) expectNoViolations() {
	GinkgoHelper()
	var errs []string
	for _, v := range f.violations() {
		if v.Severity == violation.Error {
			errs = append(errs, v.String())
		}
	}
	if len(errs) > 0 {
		fail(fmt.Sprintf("%d contract violation(s):\n  %s", len(errs), strings.Join(errs, "\n  ")))
	}
}

// expectRule passes when this spec recorded no violation of rule (used for
// specs whose point is one rule).
func (f *flow) expectNoRule(rule string) {
	GinkgoHelper()
	var hits []string
	for _, v := range f.violations() {
		if v.Rule == rule {
			hits = append(hits, v.String())
		}
	}
	if len(hits) > 0 {
		fail(fmt.Sprintf("%s broken:\n  %s", rule, strings.Join(hits, "\n  ")))
	}
}

// record adds a violation the spec itself found. Nothing is recorded once
// the spec is interrupted: what a cut-short wait saw says nothing about the
// app.
func (f *flow) record(v violation.Violation) {
	if f.ctx.Err() != nil {
		return
	}
	if v.At.IsZero() {
		v.At, v.ClockAt = time.Now(), env.MS.Clock.Now()
	}
	env.MS.Log.Record(v)
}

// --- plans -----------------------------------------------------------------

// Plans are the catalog's plans by the role a spec needs them in.
type Plans struct {
	Offer      string
	Flat       string // flat rate, not refused by the publisher
	OtherFlat  string // another such plan, a change target
	Refused    string // a plan the publisher refuses (rejects.plans), "" if none
	Seat       string // per seat
	OtherSeat  string // another per-seat plan
	Trial      string // with a free trial
	SeatMin    int64
	SeatMax    int64
	SeatRefuse int64 // a quantity above rejects.maxSeats within the plan's range, 0 if none
	// Auto is a plan with automatic activation, "" if none. Microsoft
	// activates its purchases itself, so it never stands in for another
	// role: a spec that buys Flat expects to activate it.
	Auto string
}

func plans() Plans {
	GinkgoHelper()
	offers := env.MS.Marketplace.Catalog().Offers()
	Expect(offers).NotTo(BeEmpty(), "the catalog has no offers")
	return plansOf(offers[0], env.Target.Publisher.Rejects)
}

// plansOf sorts an offer's plans by the roles specs need them in.
func plansOf(o marketplace.Offer, rejects target.Rejects) Plans {
	var p Plans
	p.Offer = o.ID
	refused := map[string]bool{}
	for _, id := range rejects.Plans {
		refused[id] = true
	}
	for _, pl := range o.Plans {
		if pl.IsStopSell || pl.IsPrivate {
			continue
		}
		switch {
		case pl.AutoActivation:
			if p.Auto == "" {
				p.Auto = pl.PlanID
			}
		case refused[pl.PlanID]:
			if p.Refused == "" {
				p.Refused = pl.PlanID
			}
		case pl.HasFreeTrials:
			if p.Trial == "" {
				p.Trial = pl.PlanID
			}
		case pl.IsPricePerSeat && p.Seat == "":
			p.Seat, p.SeatMin, p.SeatMax = pl.PlanID, deref(pl.MinQuantity, 1), deref(pl.MaxQuantity, 1)
		case pl.IsPricePerSeat && p.OtherSeat == "":
			p.OtherSeat = pl.PlanID
		case !pl.IsPricePerSeat && p.Flat == "":
			p.Flat = pl.PlanID
		case !pl.IsPricePerSeat && p.OtherFlat == "":
			p.OtherFlat = pl.PlanID
		}
	}
	if rejects.MaxSeats > 0 && rejects.MaxSeats < p.SeatMax {
		p.SeatRefuse = rejects.MaxSeats + 1
	}
	return p
}

func deref(p *int64, def int64) int64 {
	if p == nil {
		return def
	}
	return *p
}

// --- purchases and the landing page ------------------------------------------

// buy is a customer purchase; the spec owns the subscription from here on.
func (f *flow) buy(req marketplace.PurchaseRequest) marketplace.Purchase {
	GinkgoHelper()
	if req.OfferID == "" {
		req.OfferID = plans().Offer
	}
	p, err := env.MS.Marketplace.Purchase(req)
	Expect(err).NotTo(HaveOccurred(), "buying %s/%s", req.OfferID, req.PlanID)
	f.subs = append(f.subs, p.SubscriptionID)
	By(fmt.Sprintf("a customer bought %s (%s)", req.PlanID, p.SubscriptionID))
	return p
}

// visit opens the landing page with token as the customer's browser does.
func (f *flow) visit(token string) driver.Visit {
	GinkgoHelper()
	v, err := env.Visitor.Visit(f.ctx, env.Target.Publisher.LandingPage, token)
	if err != nil {
		// The error is the cause: it goes on the first line, which JUnit
		// and the summary show.
		fail(visitFailure(err))
	}
	return v
}

// activate walks a purchase through the landing page (and the back-office
// step, when the target names one) and waits until Microsoft shows it
// Subscribed. A spec gets here only when the path works (requireFoundation);
// if this purchase stalls all the same, the failure says where it stopped.
func (f *flow) activate(p marketplace.Purchase) driver.Visit {
	GinkgoHelper()
	f.requireFoundation()
	v, verr := env.Visitor.Visit(f.ctx, env.Target.Publisher.LandingPage, p.Token)
	var actStatus int
	var actBody string
	if verr == nil && env.Target.Publisher.Actions != nil && env.Target.Publisher.Actions.Activate != nil {
		actStatus, actBody = f.callAction("activate", p.SubscriptionID, "", 0)
	}
	st := f.awaitStatus(p.SubscriptionID, marketplace.Subscribed)
	if !st.reached {
		if f.ctx.Err() != nil {
			return v
		}
		if !f.brokeOn(p.SubscriptionID) && verr == nil {
			f.record(violationFor("FUL-ACTIVATE-04", p.SubscriptionID,
				"a purchase the customer configured on the landing page was never activated",
				"Microsoft still shows "+string(st.status)+" "+st.why, "an activate call that turns it Subscribed", activationFix(v)))
		}
		fail("the purchase was not activated through the landing page\n" + f.diagnose(p, v, verr, actStatus, actBody, st))
	}
	return v
}

// buyActive is a purchase activated through the landing page.
func (f *flow) buyActive(req marketplace.PurchaseRequest) marketplace.Purchase {
	GinkgoHelper()
	p := f.buy(req)
	f.activate(p)
	return p
}

// --- Microsoft's view ----------------------------------------------------------

func (f *flow) sub(id string) marketplace.Subscription {
	GinkgoHelper()
	s, ok := env.MS.Marketplace.Subscription(id)
	Expect(ok).To(BeTrue(), "subscription %s is unknown to the fake", id)
	return s
}

// waitStatus waits (within the flow timeout) for Microsoft's status. It
// gives up early once an error violation lands on the subscription: a
// refused call will not fix itself.
func (f *flow) waitStatus(id string, want marketplace.SubscriptionStatus) {
	GinkgoHelper()
	Eventually(func() marketplace.SubscriptionStatus {
		s, _ := env.MS.Marketplace.Subscription(id)
		if s.SaasSubscriptionStatus != want && f.brokeOn(id) {
			StopTrying(fmt.Sprintf("Microsoft's status of %s is %s and will not become %s; violations:\n%s",
				id, s.SaasSubscriptionStatus, want, f.violationText())).Now()
		}
		return s.SaasSubscriptionStatus
	}).WithTimeout(env.Target.Timeouts.Flow).WithPolling(20*time.Millisecond).Should(Equal(want),
		"Microsoft's status of %s; violations so far:\n%s", id, f.violationText())
}

// brokeOn reports whether this spec recorded an error violation on the
// subscription, or on no subscription at all (a call refused before the
// fake could tell which one it was about, e.g. without api-version).
func (f *flow) brokeOn(id string) bool {
	for _, v := range f.violations() {
		if v.Severity == violation.Error && (v.SubscriptionID == "" || strings.EqualFold(v.SubscriptionID, id)) {
			return true
		}
	}
	return false
}

// waitOp waits for an operation to leave InProgress and returns it.
func (f *flow) waitOp(subID, opID string) marketplace.Operation {
	GinkgoHelper()
	var op marketplace.Operation
	Eventually(func() bool {
		op, _ = env.MS.Marketplace.Operation(subID, opID)
		return op.Status.Final()
	}).WithTimeout(env.Target.Timeouts.Flow).WithPolling(20*time.Millisecond).Should(BeTrue(),
		"operation %s is still %s", opID, op.Status)
	return op
}

// awaitQuiet waits (within the flow timeout) until the publisher has made
// no marketplace call for quiet, so moving the harness clock cannot land in
// the middle of work it is still doing for an earlier flow.
func (f *flow) awaitQuiet(quiet time.Duration) {
	deadline := time.Now().Add(env.Target.Timeouts.Flow)
	n, since := len(env.MS.Exchanges()), time.Now()
	for time.Now().Before(deadline) {
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(25 * time.Millisecond):
		}
		if m := len(env.MS.Exchanges()); m != n {
			n, since = m, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
	}
}

// settleWindow lets the acknowledgement window pass on the harness clock, so
// a change nobody refused is accepted as Microsoft does.
func (f *flow) settleWindow() {
	env.MS.Clock.Advance(env.Target.Timeouts.WebhookAck + time.Second)
	env.MS.Marketplace.Settle()
}

// --- webhooks ------------------------------------------------------------------

// event finds the notification Microsoft emitted for an operation.
func (f *flow) event(opID string) marketplace.WebhookPayload {
	GinkgoHelper()
	for _, e := range slices.Backward(env.MS.Marketplace.Events()) {
		if e.Payload.ID == opID {
			return e.Payload
		}
	}
	fail("no webhook event for operation " + opID)
	return marketplace.WebhookPayload{}
}

// notify delivers the notification for op to the publisher's webhook.
func (f *flow) notify(op marketplace.Operation) driver.Delivery {
	GinkgoHelper()
	By(fmt.Sprintf("Microsoft notifies the webhook: %s", op.Action))
	d, err := env.Sender.Deliver(f.ctx, f.event(op.ID))
	Expect(err).NotTo(HaveOccurred())
	return d
}

// customer performs a customer-side action and notifies the publisher.
func (f *flow) customer(action marketplace.Action, subID string, arg ...any) (marketplace.Operation, driver.Delivery) {
	GinkgoHelper()
	m := env.MS.Marketplace
	var op marketplace.Operation
	var err error
	switch action {
	case marketplace.ActionChangePlan:
		op, err = m.ChangePlan(subID, arg[0].(string))
	case marketplace.ActionChangeQuantity:
		op, err = m.ChangeQuantity(subID, arg[0].(int64))
	case marketplace.ActionSuspend:
		op, err = m.Suspend(subID)
	case marketplace.ActionReinstate:
		op, err = m.Reinstate(subID)
	case marketplace.ActionRenew:
		op, err = m.Renew(subID)
	case marketplace.ActionUnsubscribe:
		op, err = m.Unsubscribe(subID)
	default:
		fail("unknown customer action " + string(action))
	}
	Expect(err).NotTo(HaveOccurred(), "customer action %s on %s", action, subID)
	return op, f.notify(op)
}

// expectAcked fails unless the delivery was acknowledged with a 2xx.
func (f *flow) expectAcked(d driver.Delivery) {
	GinkgoHelper()
	if !d.Acked() {
		last := d.Attempts[len(d.Attempts)-1]
		fail(fmt.Sprintf("the webhook did not acknowledge %s: status %d %s after %d attempt(s)\n%s",
			d.Payload.Action, last.Status, last.Err, len(d.Attempts), f.violationText()))
	}
}

// expectGotOperation checks WH-VERIFY-01: the publisher read the operation
// before acting on a notification.
func (f *flow) expectGotOperation(subID, opID string) {
	GinkgoHelper()
	Eventually(func() bool {
		for _, e := range env.MS.Exchanges()[f.exchMark:] {
			if e.Operation == spec.OpGetOperation && strings.Contains(e.URL, opID) {
				return true
			}
		}
		return false
	}).WithTimeout(env.Target.Timeouts.Flow).WithPolling(20 * time.Millisecond).Should(BeTrue())
}

// gotOperation reports whether the publisher has read the operation.
func (f *flow) gotOperation(opID string) bool {
	for _, e := range env.MS.Exchanges()[f.exchMark:] {
		if e.Operation == spec.OpGetOperation && strings.Contains(e.URL, opID) {
			return true
		}
	}
	return false
}

// exchanges are the calls the publisher made since the spec began.
func (f *flow) exchanges() []contract.Exchange {
	all := env.MS.Exchanges()
	return all[min(f.exchMark, len(all)):]
}

// --- the publisher's own view --------------------------------------------------

// expectView waits until the publisher's view of the subscription matches
// Microsoft's (STATE-06); on timeout the difference is recorded and shown
// side by side.
func (f *flow) expectView(subID, when string) {
	GinkgoHelper()
	if env.Probe == nil {
		f.viewUnchecked()
		return
	}
	var last []driver.Mismatch
	var lastErr error
	ok := false
	deadline := time.Now().Add(env.Target.Timeouts.Flow)
	// An app that has gone quiet (no call to the fakes, no notification in
	// flight) and whose view stopped changing will not agree by waiting:
	// stop after timeouts.idle, as awaitStatus does, not the flow timeout.
	n, since, seen := f.activity(), time.Now(), ""
	for time.Now().Before(deadline) {
		sub := f.sub(subID)
		v, err := env.Probe.Read(f.ctx, subID)
		lastErr = err
		if err == nil {
			if last = driver.Compare(sub, v); len(last) == 0 {
				ok = true
				break
			}
		}
		now := fmt.Sprint(sub.SaasSubscriptionStatus, last, err)
		if m := f.activity(); m != n || now != seen {
			n, since, seen = m, time.Now(), now
		} else if time.Since(since) >= env.Target.Timeouts.Idle {
			break
		}
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(25 * time.Millisecond):
		}
	}
	if ok {
		env.noteView(false)
		return
	}
	if f.ctx.Err() == nil {
		env.noteView(true)
	}
	sub := f.sub(subID)
	if lastErr != nil && last == nil {
		last = []driver.Mismatch{{Field: "subscription", Microsoft: string(sub.SaasSubscriptionStatus), Publisher: lastErr.Error()}}
	}
	f.record(driver.MismatchViolation(sub, last, when))
	fail(fmt.Sprintf("the publisher's view differs from Microsoft's %s:\n%s", when, sideBySide(last)))
}

func sideBySide(ms []driver.Mismatch) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-22s %-28s %s\n", "field", "Microsoft", "publisher")
	for _, m := range ms {
		fmt.Fprintf(&b, "  %-22s %-28s %s\n", m.Field, m.Microsoft, m.Publisher)
	}
	return b.String()
}

// --- asking the publisher to act ---------------------------------------------

// act calls one of the publisher's action endpoints and returns its status.
func (f *flow) act(name, subID, planID string, qty int64) (int, string) {
	GinkgoHelper()
	f.needAction(name)
	status, body := f.callAction(name, subID, planID, qty)
	if status == 0 {
		fail(fmt.Sprintf("the harness asked the app to %s (publisher.actions.%s) and got no answer: %s", name, name, body))
	}
	By(fmt.Sprintf("the publisher was asked to %s: %d", name, status))
	return status, body
}

// callAction calls a configured action and returns its status and the
// start of its body; status 0 and the error text when there was no answer.
func (f *flow) callAction(name, subID, planID string, qty int64) (int, string) {
	a := actionNamed(name)
	if a == nil {
		return 0, "no publisher.actions." + name
	}
	url, err := target.RenderURL(a.URL, env.Vars, target.SubVars{SubscriptionID: subID, PlanID: planID, Quantity: qty})
	if err != nil {
		return 0, err.Error()
	}
	req, err := http.NewRequestWithContext(f.ctx, a.Method, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := env.Client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(body)
}

func (f *flow) violationText() string {
	var lines []string
	for _, v := range f.violations() {
		lines = append(lines, "  "+v.String())
	}
	if len(lines) == 0 {
		return "  (none)"
	}
	return strings.Join(lines, "\n")
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}
