package suites

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

// renewalMargin is how early common token caches (MSAL among them) renew an
// access token before it expires.
const renewalMargin = 5 * time.Minute

// maxPagedPurchases bounds how many purchases the paging spec makes.
const maxPagedPurchases = 200

var _ = Describe("API hygiene", Label("flow:hygiene"), func() {
	It("reuses a marketplace token only until it expires",
		Label("AUTH-04"), func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate)
			life := env.Target.Identity.TokenLifetime
			if life > renewalMargin {
				Skip(fmt.Sprintf("identity.tokenLifetime is %s: MSAL-style caches renew a token only within %s of its expiry, "+
					"so moving the clock past a longer lifetime would blame a correct cache; set it to %s or less to run this check",
					life, renewalMargin, renewalMargin))
			}
			pl := plans()
			f.buyActive(marketplace.PurchaseRequest{PlanID: pl.Flat})
			By(fmt.Sprintf("time passes beyond the token's lifetime (%s + 1m)", life))
			f.awaitQuiet(300 * time.Millisecond)
			env.MS.Clock.Advance(life + time.Minute)
			p := f.buy(marketplace.PurchaseRequest{PlanID: pl.Flat})
			v := f.visit(p.Token)
			f.expectNoRule("AUTH-04")
			Expect(v.Landing.Status).To(BeNumerically("<", 500), "landing page after the token expired:\n%s\n%s",
				clip(v.Landing.Body), f.violationText())
			f.waitStatus(p.SubscriptionID, marketplace.Subscribed)
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
				Fail("FUL-LIST-01: the subscription list has more than one page and the publisher never asked for the next\n" + f.violationText())
			}
			f.done()
		})

	It("calls the marketplace only with api-version, request ids and a token for the marketplace's app",
		Label("FUL-API-01", "FUL-API-02", "FUL-API-03", "FUL-API-04", "FUL-API-05", "AUTH-01", "AUTH-02", "AUTH-03"),
		func(ctx SpecContext) {
			f := begin(ctx, target.CapLanding, target.CapActivate)
			f.buyActive(marketplace.PurchaseRequest{PlanID: plans().Flat})
			Expect(f.exchanges()).NotTo(BeEmpty(), "the landing flow made no marketplace call")
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
				Fail(fmt.Sprintf("%d call(s) broke the API's ground rules:\n  %s", len(errs), strings.Join(errs, "\n  ")))
			}
			f.done()
		})
})

// hygieneRule says whether a rule is about how every call is made rather than
// what it asks for.
func hygieneRule(rule string) bool {
	return strings.HasPrefix(rule, "FUL-API-") || strings.HasPrefix(rule, "AUTH-")
}
