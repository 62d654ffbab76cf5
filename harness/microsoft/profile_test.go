package microsoft

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/profile"
)

// In production the whole stack answers a bad token 401 with a bare
// string, a foreign subscription still 403, and no answer is a harness bug.
func TestProductionProfileAnswers401AndRealErrorShapes(t *testing.T) {
	for _, tc := range []struct {
		prof       profile.Profile
		badToken   int
		bareString bool
	}{{profile.Strict, 403, false}, {profile.Production, 401, true}} {
		s, err := Start(Options{Profile: tc.prof, Marketplace: []marketplace.Option{marketplace.WithTransientFaults(0, 0)}})
		if err != nil {
			t.Fatal(err)
		}
		c := s.HTTPClient()
		buy, err := s.Marketplace.Purchase(marketplacePurchase())
		if err != nil {
			t.Fatal(err)
		}
		get := func(token string) (int, string) {
			req, _ := http.NewRequest("GET", s.MarketplaceURL+"/saas/subscriptions/"+buy.SubscriptionID+"?api-version=2018-08-31", nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		for _, bad := range []string{"", "not-a-jwt"} {
			code, body := get(bad)
			var str string
			isString := json.Unmarshal([]byte(body), &str) == nil
			if code != tc.badToken || isString != tc.bareString {
				t.Errorf("%s, token %q: %d %s; want %d, bare string %v", tc.prof, bad, code, body, tc.badToken, tc.bareString)
			}
		}
		// A good token passes.
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.App.ClientID},
			"client_secret": {s.App.Secret}, "scope": {identity.MarketplaceAppID + "/.default"}}
		resp, err := c.PostForm(s.AuthorityURL+"/"+s.App.TenantID+"/oauth2/v2.0/token", form)
		if err != nil {
			t.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		if code, body := get(tok.AccessToken); code != 200 {
			t.Errorf("%s: good token: %d %s", tc.prof, code, body)
		}
		if bugs := s.API.HarnessBugs(); len(bugs) != 0 {
			t.Errorf("%s: harness bugs %v", tc.prof, bugs)
		}
		s.Close()
	}
}
