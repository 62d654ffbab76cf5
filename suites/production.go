package suites

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/harness/violation"
)

// The production profile (spec/README.md, "The production profile"): the
// fake answers as the real service is reported to. Every other spec runs
// in it too when the target sets marketplace.profile: production, so the
// landing, change and cancel flows are checked against 401s, the real error
// bodies, the empty operations list and the transient faults on reads; the
// specs here aim one fault at a flow and look at how the app takes it.
var _ = Describe("Production profile", Label("flow:production", "profile:production"), func() {
	It("retries a read answered 503, 429 or 500, waiting out Retry-After, and still completes its own plan change",
		Label("FUL-RETRY-01", "FUL-RETRY-02", "STATE-06"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate, target.CapChangePlan, target.CapPublisherActions)
			needProduction()
			f.needAction("changePlan")
			pl := plans()
			to := chgTarget(pl, pl.Flat)
			p := f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Flat})
			// One of each transient answer, in turn, to whoever reads the
			// operation first: the app's own polling, or its webhook.
			for _, fault := range []marketplace.Fault{
				{Op: marketplace.OpGetOperation, SubscriptionID: p.SubscriptionID, Count: 1, Status: http.StatusServiceUnavailable},
				{Op: marketplace.OpGetOperation, SubscriptionID: p.SubscriptionID, Count: 1, Status: http.StatusTooManyRequests, RetryAfter: time.Second},
				{Op: marketplace.OpGetOperation, SubscriptionID: p.SubscriptionID, Count: 1, Status: http.StatusInternalServerError},
			} {
				Expect(env.MS.Marketplace.InjectFault(fault)).To(Succeed())
			}
			status, body := f.act("changePlan", p.SubscriptionID, to, 0)
			By(fmt.Sprintf("the publisher reported %d: %s", status, clip(body)))
			f.expectRetried(p.SubscriptionID)
			Expect(status).To(BeNumerically("~", 250, 50),
				"the app's plan change should succeed although three reads of the operation failed once each: it answered %d: %s\n%s",
				status, clip(body), f.violationText())
			Eventually(func() string { return f.sub(p.SubscriptionID).PlanID }).WithTimeout(env.Target.Timeouts.Flow).
				Should(Equal(to), "after the app's change Microsoft should show plan %s", to)
			f.blamedView(p.SubscriptionID, "after its own plan change met transient faults", nil)
			f.done()
		})
})

// needProduction skips a spec of the production profile in strict.
func needProduction() {
	GinkgoHelper()
	if env.Target.Marketplace.Profile != target.ProfileProduction {
		Skip(fmt.Sprintf("marketplace.profile is %q: only the production profile answers reads with transient faults (set marketplace.profile: production)",
			env.Target.Marketplace.Profile))
	}
}

// retryQuiet is how long the app may sit idle after a transient fault
// before the spec concludes it gave up: Retry-After (1 s) and a back-off.
const retryQuiet = 3 * time.Second

// expectRetried waits until every read of subscription subID this spec saw
// answered 5xx or 429 was asked again by the same flow (same URL and, when
// the app sends one, correlation id), and records FUL-RETRY-01 for each
// that never was. A retry sooner than the 429's Retry-After is a warning
// (FUL-RETRY-02).
func (f *flow) expectRetried(subID string) {
	GinkgoHelper()
	deadline := time.Now().Add(env.Target.Timeouts.Flow)
	w := chgWatch()
	var open []contract.Exchange
	for {
		open = f.unretried(subID)
		if len(open) == 0 || time.Now().After(deadline) || (w.quiet() && time.Since(w.since) >= retryQuiet) || !f.chgPause() {
			break
		}
	}
	for _, e := range open {
		f.record(violationFor("FUL-RETRY-01", subID,
			fmt.Sprintf("the app did not ask again after a transient %d to %s %s", e.Status, e.Method, e.Operation),
			fmt.Sprintf("HTTP %d, then no retry of the same call", e.Status), "the same GET again, after Retry-After if the answer names one",
			"retry reads answered 500, 502, 503, 504 or 429 with a back-off, honouring Retry-After; a transient fault on a GET is not final"))
	}
	if len(open) > 0 {
		fail(fmt.Sprintf("FUL-RETRY-01: %d transient fault(s) on reads of subscription %s were never retried\n%s", len(open), subID, f.violationText()))
	}
}

// unretried are this spec's transient faults on reads of subID with no
// later call to the same URL from the same flow; it also warns, once per
// fault, of a retry that came before Retry-After.
func (f *flow) unretried(subID string) []contract.Exchange {
	ex := f.exchanges()
	var open []contract.Exchange
	for i, e := range ex {
		if e.Method != http.MethodGet || !strings.EqualFold(e.SubscriptionID, subID) || !transient(e.Status) {
			continue
		}
		next := -1
		for j := i + 1; j < len(ex); j++ {
			if ex[j].URL == e.URL && sameFlow(e, ex[j]) {
				next = j
				break
			}
		}
		if next < 0 {
			open = append(open, e)
			continue
		}
		if e.Status == http.StatusTooManyRequests && !f.warnedEarly[e.RequestID] {
			if gap := ex[next].At.Sub(e.At); gap < time.Second-50*time.Millisecond {
				f.warnedEarly = markEarly(f.warnedEarly, e.RequestID)
				v := violationFor("FUL-RETRY-02", subID, "retried a read refused with 429 before its Retry-After (1 s) had passed",
					"retried after "+gap.Round(time.Millisecond).String(), "at least 1 s",
					"wait the Retry-After the answer names before asking again")
				v.Severity = violation.Warning
				f.record(v)
			}
		}
	}
	return open
}

func markEarly(m map[string]bool, id string) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	m[id] = true
	return m
}

// sameFlow: the app's own correlation id matches, or it sends none.
func sameFlow(a, b contract.Exchange) bool {
	ca, cb := a.RequestHeader.Get("x-ms-correlationid"), b.RequestHeader.Get("x-ms-correlationid")
	return ca == "" || cb == "" || strings.EqualFold(ca, cb)
}

func transient(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusInternalServerError ||
		status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}
