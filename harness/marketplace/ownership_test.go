package marketplace

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/saasconform/saasconform/harness/contract"
)

// asPublisher sends a request as the contract layer does after an
// authenticator vouched for the caller's publisher.
func asPublisher(t *testing.T, m *Marketplace, publisher, method, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "/api"+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req = req.WithContext(contract.WithPrincipal(context.Background(), contract.Principal{PublisherID: publisher}))
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	return rec
}

func TestPublishersSeeOnlyTheirOwnSubscriptions(t *testing.T) {
	m, _ := newFake(t)
	ours, err := m.Purchase(PurchaseRequest{OfferID: offer, PlanID: "flat-monthly"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := m.Purchase(PurchaseRequest{OfferID: offer, PlanID: "flat-monthly", PublisherID: "fabrikam"})
	if err != nil {
		t.Fatal(err)
	}
	if theirs.Subscription.PublisherID != "fabrikam" || ours.Subscription.PublisherID != "contoso" {
		t.Fatalf("publishers = %s, %s", ours.Subscription.PublisherID, theirs.Subscription.PublisherID)
	}
	cases := []struct {
		name, method, path string
		header             []string
		status             int
		rule               string
	}{
		{"get own", "GET", "/saas/subscriptions/" + ours.SubscriptionID + av, nil, 200, ""},
		{"get foreign", "GET", "/saas/subscriptions/" + theirs.SubscriptionID + av, nil, 403, "AUTH-02"},
		{"plans of foreign", "GET", "/saas/subscriptions/" + theirs.SubscriptionID + "/listAvailablePlans" + av, nil, 403, "AUTH-02"},
		{"delete foreign", "DELETE", "/saas/subscriptions/" + theirs.SubscriptionID + av, nil, 403, "AUTH-02"},
		{"resolve foreign token", "POST", "/saas/subscriptions/resolve" + av, []string{hdrToken, theirs.Token}, 403, "AUTH-02"},
		{"unknown stays 404", "GET", "/saas/subscriptions/00000000-0000-4000-8000-000000000001" + av, nil, 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m.Violations().Reset()
			rec := asPublisher(t, m, "contoso", tc.method, tc.path, tc.header...)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			got := rulesOf(m.Violations().All())
			if (tc.rule == "" && len(got) != 0) || (tc.rule != "" && !sameStrings(got, []string{tc.rule})) {
				t.Fatalf("rules = %v, want %q", got, tc.rule)
			}
		})
	}
	if s, _ := m.Subscription(theirs.SubscriptionID); s.SaasSubscriptionStatus != PendingFulfillmentStart {
		t.Errorf("foreign subscription changed: %s", s.SaasSubscriptionStatus)
	}
	list := asPublisher(t, m, "contoso", "GET", "/saas/subscriptions"+av)
	if body := list.Body.String(); !strings.Contains(body, ours.SubscriptionID) || strings.Contains(body, theirs.SubscriptionID) {
		t.Errorf("contoso's list = %s", body)
	}
	// Without a vouched-for publisher (no authenticator), everything shows.
	req := httptest.NewRequest(http.MethodGet, "/api/saas/subscriptions"+av, nil)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	if body := rec.Body.String(); !strings.Contains(body, theirs.SubscriptionID) {
		t.Errorf("unauthenticated list hides fabrikam's: %s", body)
	}
}

func TestPagingSkipsOtherPublishers(t *testing.T) {
	m, _ := newFake(t, WithPageSize(1))
	var ours []string
	for i, pub := range []string{"contoso", "fabrikam", "fabrikam", "contoso", "fabrikam"} {
		p, err := m.Purchase(PurchaseRequest{OfferID: offer, PlanID: "flat-monthly", PublisherID: pub})
		if err != nil {
			t.Fatal(i, err)
		}
		if pub == "contoso" {
			ours = append(ours, p.SubscriptionID)
		}
	}
	var seen []string
	next := "/saas/subscriptions" + av
	for pages := 0; next != "" && pages < 5; pages++ {
		page := decodeBody[SubscriptionPage](t, asPublisher(t, m, "contoso", "GET", next))
		for _, s := range page.Subscriptions {
			seen = append(seen, s.ID)
		}
		next = ""
		if page.NextLink != "" {
			next = page.NextLink[strings.Index(page.NextLink, "/saas/"):]
		}
	}
	if !sameStrings(seen, ours) {
		t.Fatalf("contoso paged through %v, want %v", seen, ours)
	}
}
