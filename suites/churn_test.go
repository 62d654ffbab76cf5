package suites

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
)

// TestTokenPerCallIsWarned plays two apps against the run's fakes with
// hour-long tokens: one asks Entra ID for a token before every call, one
// keeps its token. The run's report warns (AUTH-06) about the first only,
// and its transcript holds the token requests.
func TestTokenPerCallIsWarned(t *testing.T) {
	for _, tc := range []struct {
		name     string
		perCall  bool
		wantWarn bool
	}{
		{"a token per call", true, true},
		{"one token kept", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "target.yaml")
			yaml := "publisher:\n  landingPage: http://127.0.0.1:1/landing\n  webhook: http://127.0.0.1:1/webhook\n" +
				"identity:\n  tokenLifetime: 1h\ncapabilities: [landing]\n"
			if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := target.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			e, err := Prepare(context.Background(), Config{Target: cfg})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			pl := plansOf(e.MS.Marketplace.Catalog().Offers()[0], cfg.Publisher.Rejects)
			p, err := e.MS.Marketplace.Purchase(marketplace.PurchaseRequest{OfferID: pl.Offer, PlanID: pl.Flat})
			if err != nil {
				t.Fatal(err)
			}
			c := e.MS.HTTPClient()
			token := func() string {
				form := url.Values{"grant_type": {"client_credentials"}, "client_id": {e.MS.App.ClientID},
					"client_secret": {e.MS.App.Secret}, "scope": {identity.MarketplaceAppID + "/.default"}}
				resp, err := c.PostForm(e.MS.AuthorityURL+"/"+e.MS.App.TenantID+"/oauth2/v2.0/token", form)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var tok struct {
					AccessToken string `json:"access_token"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
					t.Fatalf("token: %d %v", resp.StatusCode, err)
				}
				return tok.AccessToken
			}
			tok := token()
			for i := range 8 {
				if tc.perCall && i > 0 {
					tok = token()
				}
				req, _ := http.NewRequest(http.MethodGet, e.MS.MarketplaceURL+"/saas/subscriptions/"+p.SubscriptionID+"?api-version=2018-08-31", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET subscription: %d", resp.StatusCode)
				}
			}
			out := filepath.Join(dir, "saasconform.json")
			if err := writeReports(context.Background(), Options{Report: out}, e); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var rep struct {
				Violations []struct{ Rule, Severity string }
				Exchanges  []struct{ Operation string }
			}
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatal(err)
			}
			warned := false
			for _, v := range rep.Violations {
				warned = warned || v.Rule == "AUTH-06" && v.Severity == "warning"
			}
			if warned != tc.wantWarn {
				t.Errorf("AUTH-06 warning in the report: %v, want %v (violations %+v)", warned, tc.wantWarn, rep.Violations)
			}
			tokens := 0
			for _, x := range rep.Exchanges {
				if x.Operation == identity.OpToken {
					tokens++
				}
			}
			if want := map[bool]int{true: 8, false: 1}[tc.perCall]; tokens != want {
				t.Errorf("the transcript holds %d token requests, want %d", tokens, want)
			}
		})
	}
}
