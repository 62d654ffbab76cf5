package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/saasconform/saasconform/spec"
)

func TestVerifyTimeBoundsOnTheFakeClock(t *testing.T) {
	i, clk := newTestIssuer(t, WithURL("https://login.test"), WithTokenLifetime(time.Hour))
	app := fixtureApp(t, i, "contoso")
	tok, exp, err := i.AccessToken(app, MarketplaceAppID, V1)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(testStart.Add(time.Hour)) {
		t.Errorf("expires = %v, want %v", exp, testStart.Add(time.Hour))
	}
	if _, err := i.Verify(tok); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	clk.Advance(time.Hour - time.Second)
	if _, err := i.Verify(tok); err != nil {
		t.Fatalf("one second before exp: %v", err)
	}
	clk.Advance(time.Second)
	if _, err := i.Verify(tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("at exp: err = %v, want ErrExpired", err)
	}

	// A token whose nbf is a minute ahead.
	c := i.Claims(app.TenantID, MarketplaceAppID, app.ClientID, V2)
	nbf := clk.Now().Add(time.Minute)
	c["nbf"] = nbf.Unix()
	c["exp"] = nbf.Add(time.Hour).Unix()
	early, err := i.Sign(c, i.CurrentKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := i.Verify(early); !errors.Is(err, ErrNotYetValid) {
		t.Fatalf("before nbf: err = %v, want ErrNotYetValid", err)
	}
	clk.Advance(time.Minute)
	if _, err := i.Verify(early); err != nil {
		t.Fatalf("at nbf: %v", err)
	}
}

func TestVerifyRejectsForgeries(t *testing.T) {
	i, _ := newTestIssuer(t, WithURL("https://login.test"))
	app := fixtureApp(t, i, "contoso")
	good, _, err := i.AccessToken(app, MarketplaceAppID, V2)
	if err != nil {
		t.Fatal(err)
	}
	claims := func() jwt.MapClaims { return i.Claims(app.TenantID, MarketplaceAppID, app.ClientID, V2) }
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	current := i.CurrentKey()
	sign := func(m jwt.SigningMethod, c jwt.MapClaims, kid any, key any) string {
		t.Helper()
		tk := jwt.NewWithClaims(m, c)
		if kid != nil {
			tk.Header["kid"] = kid
		}
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	parts := strings.Split(good, ".")
	flip := func(s string) string { // change one character, keeping base64url
		b := []byte(s)
		if b[10] == 'A' {
			b[10] = 'B'
		} else {
			b[10] = 'A'
		}
		return string(b)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&current.Private.PublicKey)
	noExp := claims()
	delete(noExp, "exp")
	badExp := claims()
	badExp["exp"] = "tomorrow"

	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrMalformed},
		{"not a JWT", "hello", ErrMalformed},
		{"bad base64 header", "!!!." + parts[1] + "." + parts[2], ErrMalformed},
		{"tampered payload", parts[0] + "." + retarget(t, parts[1]) + "." + parts[2], ErrSignature},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), ErrSignature},
		{"signature stripped", parts[0] + "." + parts[1] + ".", ErrSignature},
		{"stranger key, current kid", sign(jwt.SigningMethodRS256, claims(), current.ID, stranger), ErrSignature},
		{"unknown kid", sign(jwt.SigningMethodRS256, claims(), "not-a-kid", current.Private), ErrSignature},
		{"no kid", sign(jwt.SigningMethodRS256, claims(), nil, current.Private), ErrSignature},
		{"kid not a string", sign(jwt.SigningMethodRS256, claims(), 7, current.Private), ErrSignature},
		{"alg none", sign(jwt.SigningMethodNone, claims(), current.ID, jwt.UnsafeAllowNoneSignatureType), ErrSignature},
		{"HS256 keyed with the public key", sign(jwt.SigningMethodHS256, claims(), current.ID, pubDER), ErrSignature},
		{"RS512 with the right key", sign(jwt.SigningMethodRS512, claims(), current.ID, current.Private), ErrSignature},
		{"PS256 with the right key", sign(jwt.SigningMethodPS256, claims(), current.ID, current.Private), ErrSignature},
		{"no exp", sign(jwt.SigningMethodRS256, noExp, current.ID, current.Private), ErrMalformed},
		{"exp not a number", sign(jwt.SigningMethodRS256, badExp, current.ID, current.Private), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := i.Verify(tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if c != nil {
				t.Errorf("claims returned with an error: %v", c)
			}
			for _, other := range []error{ErrMalformed, ErrSignature, ErrExpired, ErrNotYetValid} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("err %v also matches %v", err, other)
				}
			}
		})
	}
	if _, err := i.Verify(good); err != nil {
		t.Fatalf("the untouched token: %v", err)
	}
}

// retarget re-encodes a token payload with another aud, leaving it valid
// JSON, so only the signature can catch it.
func retarget(t *testing.T, payload string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	c["aud"] = "https://management.azure.com"
	raw, err = json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

func TestSignSetsHeader(t *testing.T) {
	i, _ := newTestIssuer(t, WithURL("https://login.test"))
	k := i.CurrentKey()
	s, err := i.Sign(jwt.MapClaims{"exp": testStart.Add(time.Hour).Unix()}, k)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := jwt.NewParser().ParseUnverified(s, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Header["alg"] != "RS256" || tok.Header["kid"] != k.ID || tok.Header["typ"] != "JWT" {
		t.Errorf("header = %v", tok.Header)
	}
	if _, err := i.Sign(jwt.MapClaims{}, Key{ID: "x"}); err == nil {
		t.Error("Sign with no private key succeeded")
	}
}

func TestWebhookTokenClaims(t *testing.T) {
	i, _ := newTestIssuer(t, WithURL("https://login.test"))
	contoso := fixtureApp(t, i, "contoso")
	fabrikam := fixtureApp(t, i, "fabrikam")
	for _, v := range []TokenVersion{V1, V2} {
		tok, err := i.WebhookToken(contoso, v)
		if err != nil {
			t.Fatal(err)
		}
		c, err := i.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		caller := map[TokenVersion]string{V1: "appid", V2: "azp"}[v]
		checkClaims(t, c, map[string]any{
			"aud": contoso.ClientID, "tid": contoso.TenantID, caller: MarketplaceAppID,
			"iss": i.IssuerFor(contoso.TenantID, v), "ver": v.String(),
		})
		// The marketplace's service principal: stable per tenant, different
		// across tenants, never the publisher's own.
		again, _ := i.WebhookToken(contoso, v)
		c2, _ := i.Verify(again)
		other, _ := i.WebhookToken(fabrikam, v)
		c3, _ := i.Verify(other)
		if c["oid"] != c2["oid"] || c["oid"] != c["sub"] {
			t.Errorf("oid not stable: %v %v sub %v", c["oid"], c2["oid"], c["sub"])
		}
		if c["oid"] == c3["oid"] || c["oid"] == servicePrincipalID(contoso.TenantID, contoso.ClientID) {
			t.Errorf("oid %v is not the marketplace's per-tenant service principal", c["oid"])
		}
		if !spec.IsGUID(c["oid"].(string)) {
			t.Errorf("oid %v is not a GUID", c["oid"])
		}
		if c["uti"] == c2["uti"] {
			t.Error("two tokens share a uti")
		}
	}
	if _, err := i.WebhookToken(App{}, V2); err == nil {
		t.Error("WebhookToken for an empty app succeeded")
	}
}

func TestMintNeedsAURLForLocalIssuer(t *testing.T) {
	i, _ := newTestIssuer(t)
	app := fixtureApp(t, i, "contoso")
	if got := i.IssuerFor(app.TenantID, V2); got != "" {
		t.Errorf("IssuerFor without URL = %q, want empty", got)
	}
	if _, _, err := i.AccessToken(app, MarketplaceAppID, V2); err == nil {
		t.Error("AccessToken without URL succeeded with a local issuer")
	}
	if _, _, err := i.AccessToken(app, MarketplaceAppID, TokenVersion(3)); err == nil {
		t.Error("AccessToken with version 3 succeeded")
	}
	if err := i.SetURL("https://login.test/"); err != nil {
		t.Fatal(err)
	}
	if got := i.IssuerFor(strings.ToUpper(app.TenantID), V1); got != "https://login.test/"+app.TenantID+"/" {
		t.Errorf("IssuerFor = %q", got)
	}
	if _, _, err := i.AccessToken(app, "", V2); err == nil {
		t.Error("AccessToken with an empty audience succeeded")
	}
	m, _ := newTestIssuer(t, WithIssuerStyle(IssuerMicrosoft))
	if got := m.IssuerFor(app.TenantID, V2); got != "https://login.microsoftonline.com/"+app.TenantID+"/v2.0" {
		t.Errorf("Microsoft IssuerFor = %q", got)
	}
}
