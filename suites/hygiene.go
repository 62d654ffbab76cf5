package suites

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

// maxTokenWait is the longest token lifetime the token-reuse check waits
// out in real time.
const maxTokenWait = 10 * time.Second

// maxPagedPurchases bounds how many purchases the paging spec makes.
const maxPagedPurchases = 200

var _ = Describe("API hygiene", Label("flow:hygiene"), func() {
	It("reuses a marketplace token only until it expires",
		Label("AUTH-04"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate)
			life := env.Target.Identity.TokenLifetime
			if life > maxTokenWait {
				Skip(fmt.Sprintf("identity.tokenLifetime is %s: the check waits in real time until every token the app holds has expired, "+
					"and waits of more than %s are not made; set it to %s or less (the default is %s)",
					life, maxTokenWait, maxTokenWait, target.DefaultTokenLifetime))
			}
			pl := plans()
			f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Flat})
			// Tokens live on the wall clock, which the app's cache reads
			// too: the check waits for real expiry rather than moving a
			// clock the app cannot see.
			lapsed := env.MS.Identity.LatestExpiry().Add(identity.ExpiryLeeway + 50*time.Millisecond)
			By(fmt.Sprintf("every token the app was given expires (in real time, %s from now)", time.Until(lapsed).Round(time.Millisecond)))
			Eventually(func() bool { return time.Now().After(lapsed) }).WithContext(f.ctx).
				WithTimeout(maxTokenWait + 2*identity.ExpiryLeeway + 2*time.Second).WithPolling(20 * time.Millisecond).Should(BeTrue())
			mark := len(f.exchanges())
			p := f.buy(marketplace.PurchaseRequest{PlanID: pl.Flat})
			f.activate(p)
			f.expectNoRule("AUTH-04")
			calls := 0
			for _, e := range f.exchanges()[mark:] {
				if !identity.IsOperation(e.Operation) {
					calls++
				}
			}
			if calls == 0 {
				fail("the app made no marketplace call after its tokens expired, so their reuse could not be checked")
			}
			f.done()
		})

	It("reads every page of the subscription list",
		Label("FUL-LIST-01"), func(ctx SpecContext) {
			f := begin(ctx, target.CapReconcile)
			f.needAction("reconcile")
			size := env.Target.Marketplace.PageSize
			if size > maxPagedPurchases {
				Skip(fmt.Sprintf("marketplace.pageSize is %d: more than %d purchases would be needed to fill a second page", size, maxPagedPurchases))
			}
			pl := plans()
			By(fmt.Sprintf("customers buy %d subscriptions, more than one page of %d", size+1, size))
			for range size + 1 {
				p, err := env.MS.Marketplace.Purchase(marketplace.PurchaseRequest{OfferID: pl.Offer, PlanID: pl.Flat})
				Expect(err).NotTo(HaveOccurred())
				f.subs = append(f.subs, p.SubscriptionID)
			}
			status, body := f.act("reconcile", "", "", 0)
			Expect(status).To(BeNumerically("<", 300), "reconcile answered %d: %s\n%s", status, clip(body), f.violationText())
			lists, next := 0, 0
			for _, e := range f.exchanges() {
				if e.Operation == spec.OpListSubscriptions {
					lists++
					if strings.Contains(e.URL, "continuationToken=") {
						next++
					}
				}
			}
			Expect(lists).To(BeNumerically(">", 0), "reconcile never listed the subscriptions")
			if next == 0 {
				f.record(violationFor("FUL-LIST-01", "",
					"the publisher read only the first page of the subscription list",
					fmt.Sprintf("%d list call(s), none with continuationToken", lists), "a request for every @nextLink until it is absent",
					"follow @nextLink (it carries continuationToken) until a page comes back without one"))
				fail("FUL-LIST-01: the subscription list has more than one page and the publisher never asked for the next\n" + f.violationText())
			}
			f.done()
		})

	It("calls the marketplace only with api-version, request ids and a token for the marketplace's app",
		Label("FUL-API-01", "FUL-API-02", "FUL-API-03", "FUL-API-04", "FUL-API-05", "AUTH-01", "AUTH-02", "AUTH-03", "AUTH-05", "AUTH-06", "NET-01"),
		func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate)
			f.buyActive(marketplace.PurchaseRequest{PlanID: plans().Flat})
			calls := 0
			for _, e := range f.exchanges() {
				if !identity.IsOperation(e.Operation) {
					calls++
				}
			}
			Expect(calls).To(BeNumerically(">", 0), "the landing flow should call the marketplace (resolve, activate); the app made no marketplace call, so the ground rules of its calls could not be checked")
			// A token per call shows over many calls: the whole run so far
			// is judged (and the whole run again when it ends).
			judgeTokenChurn(env)
			var errs, warns []string
			for _, v := range f.violations() {
				if !hygieneRule(v.Rule) {
					continue
				}
				if v.Severity == violation.Warning {
					warns = append(warns, v.String())
				} else {
					errs = append(errs, v.String())
				}
			}
			if len(warns) > 0 {
				AddReportEntry("warnings", warns)
				By(fmt.Sprintf("%d recommendation(s) not followed:\n  %s", len(warns), strings.Join(warns, "\n  ")))
			}
			if len(errs) > 0 {
				fail(fmt.Sprintf("%d call(s) broke the API's ground rules:\n  %s", len(errs), strings.Join(errs, "\n  ")))
			}
			f.done()
		})
})

// hygieneRule says whether a rule is about how every call is made rather than
// what it asks for.
func hygieneRule(rule string) bool {
	return strings.HasPrefix(rule, "FUL-API-") || strings.HasPrefix(rule, "AUTH-") || strings.HasPrefix(rule, "NET-")
}
