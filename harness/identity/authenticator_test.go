package identity

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/saasconform/saasconform/harness/clock"
)

func authFixture(t *testing.T, opts ...AuthOption) (*Issuer, *MarketplaceAuth, *clock.Fake, App) {
	t.Helper()
	clk := clock.NewFake(time.Now().Truncate(time.Second))
	i, err := New(WithClock(clk), WithURL("https://login.test"))
	if err != nil {
		t.Fatal(err)
	}
	app := App{Name: "contoso-saas", TenantID: uuid.NewString(), ClientID: uuid.NewString(), Secret: "s3cret", PublisherID: "contoso"}
	if err := i.Register(app); err != nil {
		t.Fatal(err)
	}
	a, err := NewMarketplaceAuth(i, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return i, a, clk, app
}

func withHeader(h string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/saas/subscriptions", nil)
	if h != "" {
		r.Header.Set("Authorization", h)
	}
	return r
}

// accessToken mints what the token endpoint would give app for aud.
func accessToken(t *testing.T, i *Issuer, app App, aud string, v TokenVersion) string {
	t.Helper()
	tok, _, err := i.AccessToken(app, aud, v)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestMarketplaceAuthAcceptsRealTokens(t *testing.T) {
	i, a, _, app := authFixture(t)
	for _, v := range []TokenVersion{V1, V2} {
		tok := accessToken(t, i, app, MarketplaceAppID, v)
		p, rej := a.Authenticate(withHeader("Bearer " + tok))
		if rej != nil {
			t.Fatalf("v%d: refused: %+v", v, rej.Violation)
		}
		if p.PublisherID != "contoso" || p.TenantID != app.TenantID || p.AppID != app.ClientID || p.Audience != MarketplaceAppID {
			t.Errorf("v%d: principal = %+v", v, p)
		}
	}
}

func TestMarketplaceAuthRefusals(t *testing.T) {
	i, a, clk, app := authFixture(t)
	forged, err := i.Forgeries(app, V2)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, f := range forged {
		byName[f.Name] = f.Header
	}
	stranger := App{TenantID: uuid.NewString(), ClientID: uuid.NewString(), Secret: "x"}
	strangerTok, err := i.Sign(i.Claims(stranger.TenantID, MarketplaceAppID, stranger.ClientID, V2), i.CurrentKey())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, header, rule string
		inSummary, inFix   string
	}{
		{"no header", "", "AUTH-03", "no Authorization header", "/.default"},
		{"basic", "Basic dXNlcjpwYXNz", "AUTH-03", "not a Bearer token", ""},
		{"malformed", "Bearer abc.def", "AUTH-03", "not a JWT", "access_token"},
		{"alg none", byName[ForgeAlgNone], "AUTH-03", "not signed by Entra ID", ""},
		{"hs256", byName[ForgeHS256], "AUTH-03", "not signed by Entra ID", ""},
		{"unknown key", byName[ForgeUnknownKey], "AUTH-03", "not signed by Entra ID", ""},
		{"wrong audience", "Bearer " + accessToken(t, i, app, "https://management.azure.com/", V2), "AUTH-01",
			"audience is https://management.azure.com/", MarketplaceAppID + "/.default"},
		{"legacy audience", "Bearer " + accessToken(t, i, app, LegacyMarketplaceAppID, V1), "AUTH-01", LegacyMarketplaceAppID, ""},
		{"unregistered app", "Bearer " + strangerTok, "AUTH-02", "not registered", "technical configuration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, rej := a.Authenticate(withHeader(tc.header))
			if rej == nil {
				t.Fatal("accepted")
			}
			v := rej.Violation
			if rej.Status != http.StatusForbidden || v.Rule != tc.rule || !strings.Contains(v.Summary, tc.inSummary) || !strings.Contains(v.Fix, tc.inFix) {
				t.Errorf("got %d %s %q fix %q; want 403 %s …%s… fix …%s…", rej.Status, v.Rule, v.Summary, v.Fix, tc.rule, tc.inSummary, tc.inFix)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		tok := accessToken(t, i, app, MarketplaceAppID, V2)
		clk.Advance(59 * time.Minute)
		if _, rej := a.Authenticate(withHeader("Bearer " + tok)); rej != nil {
			t.Fatalf("refused before expiry: %+v", rej.Violation)
		}
		clk.Advance(time.Minute + ExpiryLeeway/2)
		if _, rej := a.Authenticate(withHeader("Bearer " + tok)); rej != nil {
			t.Fatalf("refused a token that lapsed in transit (%s after exp): %+v", ExpiryLeeway/2, rej.Violation)
		}
		clk.Advance(ExpiryLeeway + time.Second) // exp is rounded up to the second
		_, rej := a.Authenticate(withHeader("Bearer " + tok))
		if rej == nil || rej.Violation.Rule != "AUTH-04" || !strings.Contains(rej.Violation.Fix, "before exp") {
			t.Fatalf("expired token: %+v", rej)
		}
		if !strings.Contains(rej.Violation.Got, "T") {
			t.Errorf("the violation does not name the token's exp: got %q", rej.Violation.Got)
		}
	})
	t.Run("issuer of another tenant", func(t *testing.T) {
		c := i.Claims(app.TenantID, MarketplaceAppID, app.ClientID, V2)
		c["iss"] = i.IssuerFor(uuid.NewString(), V2)
		tok, _ := i.Sign(c, i.CurrentKey())
		_, rej := a.Authenticate(withHeader("Bearer " + tok))
		if rej == nil || rej.Violation.Rule != "AUTH-03" || !strings.Contains(rej.Violation.Summary, "issuer") {
			t.Fatalf("got %+v", rej)
		}
	})
}

func TestMarketplaceAuthOptions(t *testing.T) {
	i, a, _, app := authFixture(t, WithFailureStatus(http.StatusUnauthorized), WithLegacyAudience())
	if _, rej := a.Authenticate(withHeader("")); rej == nil || rej.Status != 401 {
		t.Fatalf("401 quirk: %+v", rej)
	}
	tok := accessToken(t, i, app, LegacyMarketplaceAppID, V1)
	if _, rej := a.Authenticate(withHeader("Bearer " + tok)); rej != nil {
		t.Fatalf("legacy audience refused with the quirk on: %+v", rej.Violation)
	}
	if _, err := NewMarketplaceAuth(i, WithFailureStatus(500)); err == nil {
		t.Error("status 500 accepted")
	}
	if _, err := NewMarketplaceAuth(nil); err == nil {
		t.Error("nil issuer accepted")
	}
}

// TestAcceptedTokensAreCachedButStillExpire: a token checked once is not
// checked again in full, yet its lifetime is, on every call.
func TestAcceptedTokensAreCachedButStillExpire(t *testing.T) {
	i, a, clk, app := authFixture(t)
	tok := accessToken(t, i, app, MarketplaceAppID, V2)
	for n := 0; n < 3; n++ {
		if _, rej := a.Authenticate(withHeader("Bearer " + tok)); rej != nil {
			t.Fatalf("call %d refused: %+v", n, rej.Violation)
		}
	}
	if len(a.accepted) != 1 {
		t.Fatalf("cache holds %d tokens, want 1", len(a.accepted))
	}
	clk.Advance(61 * time.Minute) // past the 1h default lifetime
	_, rej := a.Authenticate(withHeader("Bearer " + tok))
	if rej == nil || rej.Violation.Rule != "AUTH-04" {
		t.Fatalf("a cached token past its exp: %+v", rej)
	}
	wrong := accessToken(t, i, app, "https://management.azure.com/", V2)
	for n := 0; n < 2; n++ {
		if _, rej := a.Authenticate(withHeader("Bearer " + wrong)); rej == nil || rej.Violation.Rule != "AUTH-01" {
			t.Fatalf("refused token, call %d: %+v", n, rej)
		}
	}
	if _, ok := a.accepted[wrong]; ok {
		t.Fatal("a refused token was cached")
	}
}
