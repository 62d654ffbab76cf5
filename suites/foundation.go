package suites

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

// The foundation is the path nearly every spec stands on: a customer buys a
// flat-rate plan, opens the landing page, and the app gets a token, resolves
// the purchase and activates it. When that path is broken, every spec that
// needs an active subscription would fail for the same reason under its own
// name. So the first spec that needs the path walks it once, on a purchase
// of its own; the outcome is kept for the run. When it is broken, the spec
// that owns the path ("activates a flat-rate purchase…") fails with the root
// cause and its fix, and every other spec that needs the path fails at once
// with a message that starts "blocked: RULE — summary; fix: …", instead of
// waiting for the flow timeout and failing under its own rule.

// foundationResult is the outcome of walking the path once.
type foundationResult struct {
	ok      bool
	cause   violation.Violation   // why it broke: the root cause
	detail  string                // where the flow stopped, in words
	vs      []violation.Violation // every violation recorded on the way
	elapsed time.Duration
}

// blockedLine is the first line of a blocked spec's failure: the prefix the
// reports recognise, the rule, the summary and the fix.
func (r *foundationResult) blockedLine() string {
	line := "blocked: " + r.cause.Rule + " — " + r.cause.Summary
	if r.cause.Fix != "" {
		line += "; fix: " + r.cause.Fix
	}
	return line
}

var foundation struct {
	mu  sync.Mutex
	res *foundationResult
}

// resetFoundation forgets the outcome: each run walks the path anew.
func resetFoundation() {
	foundation.mu.Lock()
	foundation.res = nil
	foundation.mu.Unlock()
}

// needsFoundation is true when the target claims the landing path at all;
// specs that need it are skipped otherwise.
func needsFoundation() bool {
	return env.Target.Has(target.CapLanding) && env.Target.Has(target.CapActivate)
}

// walkFoundation walks the path once per run and returns the outcome; ran
// says whether it was walked by this call.
func walkFoundation(ctx context.Context) (r *foundationResult, ran bool) {
	foundation.mu.Lock()
	defer foundation.mu.Unlock()
	if foundation.res != nil {
		return foundation.res, false
	}
	r = probeFoundation(ctx)
	if ctx.Err() == nil {
		foundation.res = r // an interrupted walk says nothing: not kept
	}
	return r, true
}

// requireFoundation is where a spec that needs the landing path stops when
// the path is broken: it fails "blocked: …" at once. What the walk recorded
// belongs to the walk, not to the spec that happened to trigger it.
func (f *flow) requireFoundation() {
	GinkgoHelper()
	if !needsFoundation() {
		return
	}
	r, ran := walkFoundation(f.ctx)
	if ran {
		f.logMark, f.exchMark, f.delivMark = env.MS.Log.Len(), len(env.MS.Exchanges()), len(env.Sender.Deliveries())
	}
	if r.ok || f.ctx.Err() != nil {
		return
	}
	f.blocked = r
	Fail(r.blockedLine() + "\n" + r.detail)
}

// ownFoundation is the owner spec's use of the outcome: when the path is
// broken it fails with the root cause itself (the violations the walk
// recorded are attached to it) rather than as blocked.
func (f *flow) ownFoundation() {
	GinkgoHelper()
	r, _ := walkFoundation(f.ctx)
	f.logMark, f.exchMark, f.delivMark = env.MS.Log.Len(), len(env.MS.Exchanges()), len(env.Sender.Deliveries())
	if r.ok || f.ctx.Err() != nil {
		return
	}
	if len(r.vs) > 0 {
		AddReportEntry("violations", r.vs, ReportEntryVisibilityNever)
	}
	head := r.cause.Rule + ": " + r.cause.Summary
	if r.cause.Fix != "" {
		head += " — fix: " + r.cause.Fix
	}
	Fail(head + "\n" + r.detail + "\nEvery other spec that needs an active subscription is blocked by this cause.")
}

// probeFoundation buys a flat-rate plan and takes it through the landing
// page (and the back-office step, when the target names one) until
// Microsoft shows it Subscribed, the app goes quiet, or the flow timeout.
func probeFoundation(ctx context.Context) *foundationResult {
	start := time.Now()
	g := &flow{ctx: ctx, logMark: env.MS.Log.Len(), exchMark: len(env.MS.Exchanges()), delivMark: len(env.Sender.Deliveries())}
	pl, err := foundationPlan()
	if err != nil {
		return &foundationResult{cause: setupCause(err.Error(), "give marketplace.offers a flat-rate plan the app sells"), detail: err.Error()}
	}
	p, err := env.MS.Marketplace.Purchase(marketplace.PurchaseRequest{OfferID: pl.Offer, PlanID: pl.Flat})
	if err != nil {
		return &foundationResult{cause: setupCause("the fake marketplace could not sell "+pl.Flat+": "+err.Error(), "check marketplace.offers"), detail: err.Error()}
	}
	g.subs = append(g.subs, p.SubscriptionID)
	visit, verr := env.Visitor.Visit(ctx, env.Target.Publisher.LandingPage, p.Token)
	var actStatus int
	var actBody string
	if verr == nil && env.Target.Publisher.Actions != nil && env.Target.Publisher.Actions.Activate != nil {
		actStatus, actBody = g.callAction("activate", p.SubscriptionID, "", 0)
	}
	st := g.awaitStatus(p.SubscriptionID, marketplace.Subscribed)
	r := &foundationResult{vs: g.violations(), elapsed: time.Since(start)}
	if st.reached {
		r.ok = true
		return r
	}
	r.detail = g.diagnose(p, visit, verr, actStatus, actBody, st)
	for _, v := range r.vs {
		if v.Severity == violation.Error {
			r.cause = v
			return r
		}
	}
	switch {
	case verr != nil:
		r.cause = setupCause(visitFailure(verr), visitFix(verr))
	default:
		r.cause = violationFor("FUL-ACTIVATE-04", p.SubscriptionID,
			"a purchase the customer configured on the landing page was never activated",
			"Microsoft still shows "+string(st.status)+" "+st.why, "an activate call that turns it Subscribed",
			activationFix(visit))
		if ctx.Err() == nil {
			env.MS.Log.Record(r.cause)
			r.vs = append(r.vs, r.cause)
		}
	}
	return r
}

// setupCause is a root cause that is the run's set-up, not the app's
// contract: the target file or the offers.
// visitFailure says why the visitor stopped: the page could not be
// opened, or it was opened and gave the visitor a URL it could not follow
// (a form action or redirect the app wrote).
func visitFailure(err error) string {
	if ue := (*driver.URLError)(nil); errors.As(err, &ue) {
		return "the landing page opened, but gave the visitor a URL it cannot follow: " + err.Error()
	}
	return "the landing page could not be opened: " + err.Error()
}

func visitFix(err error) string {
	if ue := (*driver.URLError)(nil); errors.As(err, &ue) {
		return "make every form action and redirect on the landing page an http or https URL a browser can follow"
	}
	return "check publisher.landingPage in the target file and that the app is up"
}

func setupCause(summary, fix string) violation.Violation {
	return violation.Violation{Rule: "SETUP", Severity: violation.Error, Summary: summary, Fix: fix}
}

// foundationPlan is the flat-rate plan the path is walked with.
func foundationPlan() (Plans, error) {
	offers := env.MS.Marketplace.Catalog().Offers()
	if len(offers) == 0 {
		return Plans{}, fmt.Errorf("the catalog has no offers")
	}
	pl := plansOf(offers[0], env.Target.Publisher.Rejects)
	if pl.Flat == "" {
		return Plans{}, fmt.Errorf("offer %s has no flat-rate plan the app sells", pl.Offer)
	}
	return pl, nil
}

// activationFix says what to change when a configured purchase stays
// pending, from what the landing page showed.
func activationFix(v driver.Visit) string {
	a := env.Target.Publisher.Actions
	switch {
	case env.MS.ProxyURL != "" && noAppCalls():
		return "the app reached neither Entra ID nor the marketplace: give it HTTPS_PROXY={{.ProxyURL}} and NO_PROXY=127.0.0.1,localhost, " +
			"make it trust {{.CAFile}}, and on Node.js before 24 add NODE_OPTIONS=--require {{.NodePreload}}"
	case a != nil && a.Activate != nil:
		return "publisher.actions.activate was called: make it activate the subscription (POST …/activate with the resolved plan)"
	case !env.Target.Publisher.Landing.ConfirmForm:
		return "publisher.landing.confirmForm is off, so nothing was confirmed on the page: turn it on if the page has a confirm form, " +
			"or set publisher.actions.activate if your app activates from a back office"
	case v.Confirm == nil && env.Target.Publisher.Landing.Click != "":
		return "make the element publisher.landing.click names start the activation, or correct the selector; " +
			"if your app activates from a back office, set publisher.actions.activate"
	case v.Confirm == nil:
		return "activate from the landing page or its confirm form; if your app activates from a back office, set publisher.actions.activate; " +
			"if the page's button is outside a form, set publisher.landing.mode: browser and publisher.landing.click"
	default:
		return "call activate (POST /saas/subscriptions/{id}/activate with the resolved planId) once the account is provisioned; " +
			"if your app activates from a back office, set publisher.actions.activate"
	}
}

// noAppCalls reports whether the app has made no call to the fakes in the
// whole run.
func noAppCalls() bool { return len(env.MS.Exchanges()) == 0 }

// statusWait is how a wait for Microsoft's status ended.
type statusWait struct {
	reached bool
	status  marketplace.SubscriptionStatus
	why     string    // "after the app was quiet for 2s", …
	lastAt  time.Time // the app's last call to the fakes
}

// awaitStatus waits for Microsoft's status of id without waiting for
// nothing: it stops once the app has been quiet (no call to the fakes, no
// notification in flight) for timeouts.idle — sooner once an error
// violation is recorded, since a refused call does not fix itself — or when
// the flow timeout passes.
func (f *flow) awaitStatus(id string, want marketplace.SubscriptionStatus) statusWait {
	deadline := time.Now().Add(env.Target.Timeouts.Flow)
	idle := env.Target.Timeouts.Idle
	n, since := f.activity(), time.Now()
	for {
		s, _ := env.MS.Marketplace.Subscription(id)
		if s.SaasSubscriptionStatus == want {
			return statusWait{reached: true, status: want}
		}
		if m := f.activity(); m != n {
			n, since = m, time.Now()
		}
		quietFor := idle
		if f.brokeOn(id) {
			quietFor = min(idle, 300*time.Millisecond)
		}
		now := time.Now()
		switch {
		case now.Sub(since) >= quietFor:
			return statusWait{status: s.SaasSubscriptionStatus, why: fmt.Sprintf("after the app made no call for %s", quietFor.Round(time.Millisecond)), lastAt: since}
		case now.After(deadline):
			return statusWait{status: s.SaasSubscriptionStatus, why: fmt.Sprintf("after %s (timeouts.flow)", env.Target.Timeouts.Flow), lastAt: since}
		}
		select {
		case <-f.ctx.Done():
			return statusWait{status: s.SaasSubscriptionStatus, why: "when the run was interrupted"}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// activity counts what the app did that a wait must see: its calls to the
// fakes (Entra ID included) and webhook deliveries in flight or finished.
func (f *flow) activity() int {
	return len(env.MS.Exchanges()) + len(env.Sender.Deliveries()) + env.Sender.InFlight()
}

// diagnose says where the path stopped, step by step, from what the
// harness saw: the landing page, the app's calls, and what was left undone.
func (f *flow) diagnose(p marketplace.Purchase, v driver.Visit, verr error, actStatus int, actBody string, st statusWait) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Where the flow stopped (purchase of %s, subscription %s):\n", p.Subscription.PlanID, p.SubscriptionID)
	if verr != nil {
		fmt.Fprintf(&b, "- %s\n", visitFailure(verr))
	} else {
		fmt.Fprintf(&b, "- the landing page answered %d (%d bytes)", v.Landing.Status, len(v.Landing.Body))
		switch {
		case v.Confirm != nil:
			fmt.Fprintf(&b, "; the visitor %s, which answered %d\n", v.Action, v.Confirm.Status)
		case v.Action != "":
			b.WriteString("; " + v.Action + "\n")
		default:
			b.WriteString("\n")
		}
	}
	if actStatus != 0 {
		fmt.Fprintf(&b, "- publisher.actions.activate answered %d: %s\n", actStatus, clip(strings.TrimSpace(actBody)))
	}
	xs := slices.Clone(f.exchanges())
	slices.SortStableFunc(xs, func(a, b contract.Exchange) int { return a.At.Compare(b.At) })
	if len(xs) == 0 {
		b.WriteString("- the app made no call to Entra ID or the marketplace\n")
		if env.MS.ProxyURL != "" {
			fmt.Fprintf(&b, "- nor through the proxy (%s): check that the app has HTTPS_PROXY and NO_PROXY, trusts the run's CA (%s), "+
				"and, on Node.js before 24, NODE_OPTIONS=--require %s\n", env.MS.ProxyURL, env.MS.CAFile, env.MS.NodePreload)
		}
	}
	sawResolve, sawActivate := false, false
	for _, e := range xs {
		who := "marketplace"
		if identity.IsOperation(e.Operation) {
			who = "Entra ID"
		}
		fmt.Fprintf(&b, "- %s %s: %s %s → %d%s\n", e.At.Format("15:04:05.000"), who, e.Method, shortURL(e.URL), e.Status, exchangeNote(e))
		switch e.Operation {
		case spec.OpResolve:
			sawResolve = sawResolve || e.Status == http.StatusOK
		case spec.OpActivate:
			sawActivate = true
		}
	}
	switch {
	case sawResolve && !sawActivate:
		b.WriteString("- resolve succeeded, but no activate call followed\n")
	case !sawResolve && len(xs) > 0:
		b.WriteString("- the purchase token was never resolved successfully\n")
	}
	fmt.Fprintf(&b, "- Microsoft's status: %s %s\n", st.status, st.why)
	if verr == nil && v.Landing.Body != "" {
		fmt.Fprintf(&b, "- the landing page began: %s\n", firstChars(v.Landing.Body, 300))
	}
	return strings.TrimRight(b.String(), "\n")
}

// exchangeNote is what a refused call said, in a few words.
func exchangeNote(e contract.Exchange) string {
	for _, v := range e.Violations {
		if v.Severity == violation.Error {
			return " (" + v.Rule + ": " + v.Summary + ")"
		}
	}
	return ""
}

func shortURL(u string) string {
	if i := strings.Index(u, "?"); i >= 0 {
		u = u[:i]
	}
	return u
}

// firstChars is the start of a page with its white space folded.
func firstChars(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// buyForWebhook is buyActive for specs that judge the webhook on its own
// (authentication, acting on the operation rather than the payload). With
// a working landing path it is buyActive. With a broken one the spec is not
// blocked: the customer still visits the landing page (so the app may
// record the purchase), Microsoft's side then activates the subscription
// itself, and the report says so. Such a spec judges only what does not
// depend on the app having activated the subscription.
func (f *flow) buyForWebhook(req marketplace.PurchaseRequest) marketplace.Purchase {
	GinkgoHelper()
	r, ran := walkFoundation(f.ctx)
	if ran {
		f.logMark, f.exchMark, f.delivMark = env.MS.Log.Len(), len(env.MS.Exchanges()), len(env.Sender.Deliveries())
	}
	if r.ok || f.ctx.Err() != nil {
		return f.buyActive(req)
	}
	f.onBehalf = r
	p := f.buy(req)
	note := fmt.Sprintf("subscription %s was activated by Microsoft's side, not by the app: its landing path is broken (%s: %s), "+
		"so this spec checks only what does not depend on the app having activated it", p.SubscriptionID, r.cause.Rule, r.cause.Summary)
	AddReportEntry("activated on behalf", note)
	By(note)
	if _, err := env.Visitor.Visit(f.ctx, env.Target.Publisher.LandingPage, p.Token); err != nil {
		By(visitFailure(err))
	}
	f.awaitQuiet(300 * time.Millisecond)
	if _, err := env.MS.Marketplace.ActivateOnBehalf(p.SubscriptionID); err != nil {
		fail(fmt.Sprintf("Microsoft's side could not activate %s: %v (the app changed it from the landing page: status %s)",
			p.SubscriptionID, err, f.sub(p.SubscriptionID).SaasSubscriptionStatus))
	}
	return p
}

// quietSender delivers genuine notifications without judging the
// acknowledgement: on a subscription the app never activated, a 404 for
// "unknown subscription" is no breach of WH-ACK-01.
func quietSender() *driver.Sender {
	s := env.Sender
	return &driver.Sender{URL: s.URL, Client: s.Client, Issuer: s.Issuer, App: s.App, Version: s.Version, Clock: s.Clock,
		AckWindow: s.AckWindow, Attempts: 1, Backoff: s.Backoff}
}

// expectGenuineAccepted is the other half of a refusal check on a
// subscription activated on behalf: a webhook that also refuses Microsoft's
// genuine call with 401 or 403 refuses everything, so its refusals of
// forged calls prove nothing.
func (f *flow) expectGenuineAccepted(d driver.Delivery) {
	GinkgoHelper()
	if len(d.Attempts) == 0 {
		fail("the genuine notification was never sent")
	}
	a := d.Attempts[len(d.Attempts)-1]
	if a.Status == http.StatusUnauthorized || a.Status == http.StatusForbidden {
		f.record(violationFor("WH-AUTH-01", d.Payload.SubscriptionID,
			"the webhook refused Microsoft's genuine token as well as the forged ones",
			statusText(a.Status), "2xx (or a 4xx other than 401/403 for a subscription it does not know)",
			"validate the token against Entra's keys with aud = your app id, tid = your tenant and azp/appid = the marketplace app; accept tokens that pass"))
		fail("WH-AUTH-01: the webhook refused a genuine notification too\n" + f.violationText())
	}
}
