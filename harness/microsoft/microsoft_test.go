package microsoft

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/spec"
)

func TestSideServesTokensAndTheAPIOverTLS(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.MarketplaceURL, "https://127.0.0.1:") || !strings.HasSuffix(s.MarketplaceURL, "/api") ||
		!strings.HasPrefix(s.AuthorityURL, "https://127.0.0.1:") {
		t.Fatalf("urls %s %s", s.MarketplaceURL, s.AuthorityURL)
	}
	if _, err := os.Stat(s.CAFile); err != nil {
		t.Fatal(err)
	}
	c := s.HTTPClient()
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
	if resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token endpoint: %d", resp.StatusCode)
	}
	buy, err := s.Marketplace.Purchase(marketplacePurchase())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", s.MarketplaceURL+"/saas/subscriptions/"+buy.SubscriptionID+"?api-version=2018-08-31", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET subscription: %d; violations %v", resp.StatusCode, s.Log.All())
	}
	// Entra's exchange is in the transcript, before the marketplace call,
	// under an operation no marketplace filter matches.
	xs := s.Exchanges()
	if len(xs) != 2 || xs[0].Operation != identity.OpToken || xs[0].Status != 200 ||
		xs[1].Operation != spec.OpGetSubscription || xs[1].SubscriptionID != buy.SubscriptionID {
		t.Fatalf("exchanges = %+v", xs)
	}
	if xs[0].At.After(xs[1].At) {
		t.Errorf("Entra's exchange at %v is after the marketplace call at %v: not in wall-time order", xs[0].At, xs[1].At)
	}
	// No x-ms ids were sent: warnings only.
	if errs := s.Log.Errors(); len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	dir := s.CAFile
	s.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary CA file left behind: %v", err)
	}
}

func marketplacePurchase() marketplace.PurchaseRequest {
	return marketplace.PurchaseRequest{OfferID: "contoso-notes", PlanID: "flat-monthly"}
}

func TestStartOnABusyAddressFailsCleanly(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s, err := Start(Options{MarketplaceAddr: busy.Addr().String()})
	if err == nil || s != nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("Start on a busy address: %v, %v", s, err)
	}
}

func TestMaxExchangesKeepsTheNewest(t *testing.T) {
	s := &Side{maxExch: 3}
	for i := 0; i < 10; i++ {
		s.keep(contract.Exchange{Status: i})
	}
	got := s.Exchanges()
	if len(got) != 3 || got[0].Status != 7 || got[2].Status != 9 {
		t.Fatalf("kept %+v, want the last three", got)
	}
	if len(s.exchanges) > 3 {
		t.Fatalf("the ring holds %d, want at most the bound", len(s.exchanges))
	}
	for i := 10; i < 14; i++ { // round the ring again
		s.keep(contract.Exchange{Status: i})
		if got := s.Exchanges(); len(got) != 3 || got[0].Status != i-2 || got[1].Status != i-1 || got[2].Status != i {
			t.Fatalf("after %d: kept %+v, want the last three in order", i, got)
		}
	}
	unbounded := &Side{}
	for i := 0; i < 10; i++ {
		unbounded.keep(contract.Exchange{Status: i})
	}
	if len(unbounded.Exchanges()) != 10 {
		t.Fatal("without a bound every exchange is kept")
	}
}

// A token request Entra refuses is a violation of the run, and in its
// transcript: a publisher that sends it as a GET learns why it got no token.
func TestSideRecordsRefusedTokenRequests(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.App.ClientID},
		"client_secret": {s.App.Secret}, "scope": {identity.MarketplaceAppID + "/.default"}}
	resp, err := s.HTTPClient().Get(s.AuthorityURL + "/" + s.App.TenantID + "/oauth2/v2.0/token?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET token request: %d", resp.StatusCode)
	}
	vs := s.Log.ForRule(identity.RuleTokenRequest)
	if len(vs) != 1 || !strings.Contains(vs[0].Got, "AADSTS900561") || strings.Contains(vs[0].String(), s.App.Secret) {
		t.Fatalf("violations %v, want one AUTH-05 with AADSTS900561 and no secret", s.Log.All())
	}
	xs := s.Exchanges()
	if len(xs) != 1 || xs[0].Operation != identity.OpToken || xs[0].Method != http.MethodGet || len(xs[0].Violations) != 1 {
		t.Fatalf("exchanges = %+v", xs)
	}
}
