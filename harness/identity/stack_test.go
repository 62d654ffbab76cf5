package identity

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/violation"
)

// TestMarketplaceBehindRealTokens puts the authenticator in front of the fake
// marketplace, as a run does, and calls it with genuine and wrong tokens.
func TestMarketplaceBehindRealTokens(t *testing.T) {
	clk := clock.NewFake(time.Now().Truncate(time.Second))
	log := &violation.Log{}
	i, err := New(WithClock(clk), WithURL("https://login.test"))
	if err != nil {
		t.Fatal(err)
	}
	contoso := App{Name: "contoso", TenantID: uuid.NewString(), ClientID: uuid.NewString(), Secret: "a", PublisherID: "contoso"}
	fabrikam := App{Name: "fabrikam", TenantID: uuid.NewString(), ClientID: uuid.NewString(), Secret: "b", PublisherID: "fabrikam"}
	for _, a := range []App{contoso, fabrikam} {
		if err := i.Register(a); err != nil {
			t.Fatal(err)
		}
	}
	m, err := marketplace.New(marketplace.WithClock(clk), marketplace.WithViolations(log))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := NewMarketplaceAuth(i)
	if err != nil {
		t.Fatal(err)
	}
	api, err := contract.New(m, contract.WithAuthenticator(auth), contract.WithViolations(log), contract.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	buy, err := m.Purchase(marketplace.PurchaseRequest{OfferID: "contoso-notes", PlanID: "flat-monthly", PublisherID: "contoso"})
	if err != nil {
		t.Fatal(err)
	}
	get := func(token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/api/saas/subscriptions/"+buy.SubscriptionID+"?api-version=2018-08-31", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("x-ms-requestid", uuid.NewString())
		req.Header.Set("x-ms-correlationid", uuid.NewString())
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		return rec
	}
	tok := func(a App, aud string) string {
		s, _, err := i.AccessToken(a, aud, V2)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		token  string
		status int
		rule   string
	}{
		{"owner", tok(contoso, MarketplaceAppID), 200, ""},
		{"another publisher", tok(fabrikam, MarketplaceAppID), 403, "AUTH-02"},
		{"wrong audience", tok(contoso, "https://management.azure.com/"), 403, "AUTH-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log.Reset()
			rec := get(tc.token)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			errs := log.Errors()
			if tc.rule == "" {
				if len(errs) != 0 {
					t.Fatalf("violations: %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Rule != tc.rule || errs[0].SubscriptionID != buy.SubscriptionID {
				t.Fatalf("violations = %v, want one %s on the subscription", errs, tc.rule)
			}
		})
	}
	if bugs := api.HarnessBugs(); len(bugs) > 0 {
		t.Fatalf("harness bugs: %v", bugs)
	}
}
