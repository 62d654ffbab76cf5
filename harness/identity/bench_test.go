package identity

import (
	"net/http"
	"testing"
)

func BenchmarkAccessToken(b *testing.B) {
	i, _ := newTestIssuer(b, WithURL("https://login.test"))
	app := fixtureApp(b, i, "contoso")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := i.AccessToken(app, MarketplaceAppID, V2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	i, _ := newTestIssuer(b, WithURL("https://login.test"))
	app := fixtureApp(b, i, "contoso")
	tok, _, err := i.AccessToken(app, MarketplaceAppID, V2)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := i.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenEndpoint is a whole v2 token request through the handler
// (form parsing, checks, mint, JSON), without the network.
func BenchmarkTokenEndpoint(b *testing.B) {
	i, _ := newTestIssuer(b, WithURL("https://login.test"))
	app := fixtureApp(b, i, "contoso")
	form := v2Form(app, MarketplaceAppID+"/.default openid offline_access profile")
	path := "/" + app.TenantID + "/oauth2/v2.0/token"
	b.ReportAllocs()
	for b.Loop() {
		if w := postForm(i, path, form, nil); w.Code != http.StatusOK {
			b.Fatal(w.Body.String())
		}
	}
}
