package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/tlsca"
)

// referenceValidator is what a correct publisher's webhook does, written
// with go-oidc: discover Entra's keys from the authority, verify signature,
// issuer, audience and lifetime, then check tid and the calling app.
func referenceValidator(t *testing.T, ctx context.Context, i *Issuer, app App, v TokenVersion, now func() time.Time) func(header string) error {
	t.Helper()
	provider, err := oidc.NewProvider(ctx, i.IssuerFor(app.TenantID, v))
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: app.ClientID, Now: now})
	return func(header string) error {
		raw, ok := strings.CutPrefix(header, "Bearer ")
		if !ok {
			return errors.New("no bearer token")
		}
		tok, err := verifier.Verify(ctx, raw)
		if err != nil {
			return err
		}
		var c struct {
			Tid   string `json:"tid"`
			Azp   string `json:"azp"`
			Appid string `json:"appid"`
			Nbf   int64  `json:"nbf"`
		}
		if err := tok.Claims(&c); err != nil {
			return err
		}
		caller := c.Azp
		if v == V1 {
			caller = c.Appid
		}
		switch {
		case c.Tid != app.TenantID:
			return fmt.Errorf("tid %s", c.Tid)
		case caller != MarketplaceAppID:
			return fmt.Errorf("caller %s", caller)
		case c.Nbf > now().Unix():
			return errors.New("not valid yet")
		}
		return nil
	}
}

func TestEveryForgeryIsRefusedByAReferenceValidator(t *testing.T) {
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now().Truncate(time.Second))
	i, err := New(WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Serve(i, false)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := i.SetURL(srv.URL); err != nil {
		t.Fatal(err)
	}
	app := App{Name: "contoso-saas", TenantID: uuid.NewString(), ClientID: uuid.NewString(), Secret: "s", PublisherID: "contoso"}
	if err := i.Register(app); err != nil {
		t.Fatal(err)
	}
	ctx := oidc.ClientContext(context.Background(), ca.Client())
	want := []string{ForgeNoToken, ForgeMalformed, ForgeAlgNone, ForgeHS256, ForgeUnknownKey, ForgeWrongKid,
		ForgeWrongAud, ForgeWrongTenant, ForgeWrongCaller, ForgeWrongIssuer, ForgeExpired, ForgeNotYetValid}
	for _, v := range []TokenVersion{V1, V2} {
		validate := referenceValidator(t, ctx, i, app, v, clk.Now)
		good, err := i.WebhookToken(app, v)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate("Bearer " + good); err != nil {
			t.Fatalf("v%d: the genuine webhook token was refused: %v", v, err)
		}
		forged, err := i.Forgeries(app, v)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range forged {
			names = append(names, f.Name)
			if f.Check == "" {
				t.Errorf("%s: no Check text", f.Name)
			}
			if err := validate(f.Header); err == nil {
				t.Errorf("v%d: forgery %s was accepted by the reference validator", v, f.Name)
			}
		}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("forgeries = %v, want %v", names, want)
		}
	}
}

// TestForgeriesBreakOneThingEach makes sure each forgery differs from the
// genuine token only where it says: a validator that skips one check lets
// exactly that forgery through.
func TestForgeriesBreakOneThingEach(t *testing.T) {
	clk := clock.NewFake(time.Now().Truncate(time.Second))
	i, err := New(WithClock(clk), WithURL("https://login.test"))
	if err != nil {
		t.Fatal(err)
	}
	app := App{TenantID: uuid.NewString(), ClientID: uuid.NewString(), Secret: "s", PublisherID: "contoso"}
	forged, err := i.Forgeries(app, V2)
	if err != nil {
		t.Fatal(err)
	}
	good := i.webhookClaims(app, V2, clk.Now())
	changed := map[string][]string{
		ForgeWrongAud: {"aud"}, ForgeWrongTenant: {"iss", "tid"}, ForgeWrongCaller: {"azp"},
		ForgeWrongIssuer: {"iss"}, ForgeExpired: {"exp", "iat", "nbf"}, ForgeNotYetValid: {"exp", "iat", "nbf"},
	}
	for _, f := range forged {
		keys, ok := changed[f.Name]
		if !ok {
			continue
		}
		claims, err := i.Verify(strings.TrimPrefix(f.Header, "Bearer "))
		if f.Name == ForgeExpired || f.Name == ForgeNotYetValid {
			if err == nil {
				t.Errorf("%s: Verify accepted it", f.Name)
			}
		} else if err != nil {
			t.Errorf("%s: signature should verify: %v", f.Name, err)
			continue
		}
		if claims == nil {
			continue
		}
		var diff []string
		for k, v := range good {
			if k == "uti" || k == "aio" || k == "rh" { // random per token
				continue
			}
			if !sameClaim(claims[k], v) {
				diff = append(diff, k)
			}
		}
		if strings.Join(sorted(diff), ",") != strings.Join(keys, ",") {
			t.Errorf("%s changes %v, want %v", f.Name, sorted(diff), keys)
		}
	}
}

// sameClaim compares a claim as minted (int64 times) with one parsed back
// from JSON (float64).
func sameClaim(a, b any) bool {
	num := func(x any) (float64, bool) {
		switch n := x.(type) {
		case int64:
			return float64(n), true
		case float64:
			return n, true
		}
		return 0, false
	}
	if x, ok := num(a); ok {
		y, ok := num(b)
		return ok && x == y
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// TestWebhookTokensUseTheWebhookClock: the harness may move its clock a day
// ahead; webhook tokens and their forgeries must stay on the publisher's
// (wall) time while access tokens follow the harness.
func TestWebhookTokensUseTheWebhookClock(t *testing.T) {
	wall := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	harness := clock.NewFake(wall.Now().Add(24 * time.Hour))
	i, err := New(WithClock(harness), WithWebhookClock(wall), WithURL("https://login.test"))
	if err != nil {
		t.Fatal(err)
	}
	app := App{TenantID: uuid.NewString(), ClientID: uuid.NewString(), Secret: "s", PublisherID: "contoso"}
	if err := i.Register(app); err != nil {
		t.Fatal(err)
	}
	iat := func(tok string) int64 {
		t.Helper()
		var c struct {
			Iat int64 `json:"iat"`
		}
		parts := strings.Split(tok, ".")
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil || json.Unmarshal(raw, &c) != nil {
			t.Fatalf("token payload: %v", err)
		}
		return c.Iat
	}
	hook, _ := i.WebhookToken(app, V2)
	access, _, _ := i.AccessToken(app, MarketplaceAppID, V2)
	if iat(hook) != wall.Now().Unix() || iat(access) != harness.Now().Unix() {
		t.Fatalf("iat: webhook %d (want wall %d), access %d (want harness %d)", iat(hook), wall.Now().Unix(), iat(access), harness.Now().Unix())
	}
	forged, _ := i.Forgeries(app, V2)
	for _, f := range forged {
		if f.Name == ForgeExpired {
			if got := iat(strings.TrimPrefix(f.Header, "Bearer ")); got >= wall.Now().Unix() {
				t.Fatalf("expired forgery issued at %d, not before the wall clock's now", got)
			}
		}
	}
}
