package microsoft

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/golang-jwt/jwt/v5"

	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/inprocess"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/violation"
)

// TestProxyServesMicrosoftsOwnNames: with the proxy, an app that knows only
// Microsoft's real hosts — MSAL for Go with instance discovery left on, a
// client that follows @nextLink — gets its token and its pages from the
// fakes, and sees Microsoft's own names everywhere; a host the harness does
// not play is refused and reported.
func TestProxyServesMicrosoftsOwnNames(t *testing.T) {
	s, err := Start(Options{Proxy: true, Marketplace: []marketplace.Option{marketplace.WithPageSize(1)}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.MarketplaceURL != "https://marketplaceapi.microsoft.com/api" || s.AuthorityURL != "https://login.microsoftonline.com" ||
		!strings.HasPrefix(s.ProxyURL, "http://127.0.0.1:") {
		t.Fatalf("URLs: %s %s %s", s.MarketplaceURL, s.AuthorityURL, s.ProxyURL)
	}
	proxyURL, _ := url.Parse(s.ProxyURL)
	app := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: s.CA.Pool()}}}

	cred, err := confidential.NewCredFromSecret(s.App.Secret)
	if err != nil {
		t.Fatal(err)
	}
	msal, err := confidential.New("https://login.microsoftonline.com/"+s.App.TenantID, s.App.ClientID, cred,
		confidential.WithHTTPClient(app)) // instance discovery on, as MSAL ships
	if err != nil {
		t.Fatal(err)
	}
	tok, err := msal.AcquireTokenByCredential(context.Background(), []string{identity.MarketplaceAppID + "/.default"})
	if err != nil {
		t.Fatalf("MSAL through the proxy: %v", err)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok.AccessToken, claims); err != nil {
		t.Fatal(err)
	}
	if iss := claims["iss"]; iss != "https://login.microsoftonline.com/"+strings.ToLower(s.App.TenantID)+"/v2.0" {
		t.Errorf("iss = %v, want Entra's own", iss)
	}
	sawDiscovery := false
	for _, e := range s.Exchanges() {
		sawDiscovery = sawDiscovery || e.Operation == identity.OpInstance
	}
	if !sawDiscovery {
		t.Error("MSAL's instance discovery did not reach the fake")
	}

	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, app, "https://login.microsoftonline.com/"+s.App.TenantID+"/v2.0/.well-known/openid-configuration", "", &doc)
	if !strings.HasPrefix(doc.JWKSURI, "https://login.microsoftonline.com/") || !strings.HasPrefix(doc.Issuer, "https://login.microsoftonline.com/") {
		t.Errorf("discovery document: %+v", doc)
	}

	for range 2 {
		if _, err := s.Marketplace.Purchase(marketplace.PurchaseRequest{OfferID: "contoso-notes", PlanID: "flat-monthly"}); err != nil {
			t.Fatal(err)
		}
	}
	var page struct {
		NextLink string `json:"@nextLink"`
	}
	getJSON(t, app, s.MarketplaceURL+"/saas/subscriptions?api-version=2018-08-31", tok.AccessToken, &page)
	if !strings.HasPrefix(page.NextLink, "https://marketplaceapi.microsoft.com/api/") {
		t.Fatalf("@nextLink = %q, want Microsoft's host", page.NextLink)
	}
	getJSON(t, app, page.NextLink, tok.AccessToken, &page) // followed as given
	for _, v := range s.Log.All() {
		if v.Severity == violation.Error {
			t.Errorf("violation: %v", v)
		}
	}

	if _, err := app.Get("https://graph.microsoft.com/v1.0/me"); err == nil {
		t.Error("a host the harness does not play was reached")
	}
	got := s.Log.ForRule(RuleProxyHost)
	if len(got) != 1 || got[0].Severity != violation.Warning || !strings.Contains(got[0].Summary, "graph.microsoft.com") {
		t.Errorf("refusal recorded as %+v", got)
	}
}

func getJSON(t *testing.T, c *http.Client, u, token string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, out) != nil {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
}

func TestProxyAndInProcessNetworkDoNotMix(t *testing.T) {
	if s, err := Start(Options{Proxy: true, Network: inprocess.New()}); err == nil {
		s.Close()
		t.Fatal("started")
	}
}
