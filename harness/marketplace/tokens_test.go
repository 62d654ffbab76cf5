package marketplace

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTokenShapeLikeMicrosofts(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		tok := newToken()
		raw, err := base64.StdEncoding.DecodeString(tok)
		if err != nil || len(raw) != tokenLen {
			t.Fatalf("token %q: %d bytes, %v", tok, len(raw), err)
		}
		if !strings.Contains(tok, "+") || !strings.Contains(tok, "/") || !strings.HasSuffix(tok, "==") {
			t.Fatalf("token %q lacks '+', '/' or '==' suffix", tok)
		}
		if seen[tok] {
			t.Fatalf("token repeated: %q", tok)
		}
		seen[tok] = true
	}
}

func TestResolveReturnsThePurchase(t *testing.T) {
	m, _ := newFake(t)
	p := buy(t, m, "seats-monthly")
	rec := resolveToken(t, m, p.Token)
	if rec.Code != 200 {
		t.Fatalf("resolve = %d %s", rec.Code, rec.Body)
	}
	got := decodeBody[ResolvedSubscription](t, rec)
	if got.ID != p.SubscriptionID || got.PlanID != "seats-monthly" || got.OfferID != offer ||
		got.Quantity == nil || *got.Quantity != 1 || got.Subscription.ID != p.SubscriptionID || got.SubscriptionName != p.Subscription.Name {
		t.Fatalf("resolved = %+v", got)
	}
	if m.Violations().Len() != 0 {
		t.Fatalf("violations: %v", m.Violations().All())
	}
}

func TestResolveExpiry(t *testing.T) {
	cases := []struct {
		name    string
		advance time.Duration
		want    int
	}{
		{"fresh", 0, 200},
		{"a second before expiry", time.Hour - time.Second, 200},
		{"exactly at expiry", time.Hour, 400},
		{"long after", 48 * time.Hour, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, clk := newFake(t, WithTokenLifetime(time.Hour))
			p := buy(t, m, "flat-monthly")
			clk.Advance(tc.advance)
			if rec := resolveToken(t, m, p.Token); rec.Code != tc.want {
				t.Fatalf("resolve after %v = %d, want %d", tc.advance, rec.Code, tc.want)
			}
			if m.Violations().Len() != 0 {
				t.Fatalf("an expired token is not the publisher's mistake: %v", m.Violations().All())
			}
		})
	}
}

func TestIssueTokenGivesAFreshTokenForAVisit(t *testing.T) {
	m, clk := newFake(t, WithTokenLifetime(time.Hour))
	p := subscribed(t, m, "flat-monthly")
	clk.Advance(2 * time.Hour)
	if rec := resolveToken(t, m, p.Token); rec.Code != 400 {
		t.Fatalf("old token = %d, want 400", rec.Code)
	}
	tok, err := m.IssueToken(p.SubscriptionID)
	if err != nil || tok == p.Token {
		t.Fatalf("IssueToken = %q, %v", tok, err)
	}
	if rec := resolveToken(t, m, tok); rec.Code != 200 {
		t.Fatalf("new token = %d", rec.Code)
	}
	if _, err := m.IssueToken("no-such"); err == nil {
		t.Fatal("IssueToken for an unknown subscription succeeded")
	}
}

func TestResolveCatchesTokenDecodingBugs(t *testing.T) {
	cases := []struct {
		name    string
		mangle  func(string) string
		summary string
	}{
		{"decoded twice", func(s string) string { u, _ := url.QueryUnescape(s); return u }, "URL-decoded twice"},
		{"plus became space", func(s string) string { return strings.ReplaceAll(s, "+", " ") }, "URL-decoded twice"},
		{"not decoded", url.QueryEscape, "not URL-decoded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newFake(t)
			p := buy(t, m, "flat-monthly")
			sent := tc.mangle(p.Token)
			rec := do(t, m, "POST", "/saas/subscriptions/resolve?api-version=2018-08-31", "",
				hdrToken, sent, hdrCorrelationID, "c0ffee00-0000-4000-8000-000000000001", hdrRequestID, "c0ffee00-0000-4000-8000-000000000002")
			if rec.Code != 400 {
				t.Fatalf("status = %d, want 400", rec.Code)
			}
			vs := m.Violations().All()
			if len(vs) != 1 {
				t.Fatalf("violations = %v", vs)
			}
			v := vs[0]
			if v.Rule != "FUL-RESOLVE-01" || !strings.Contains(v.Summary, tc.summary) || v.Want != p.Token ||
				v.Got != sent || v.Fix == "" || v.Method != "POST" ||
				v.Path != "/api/saas/subscriptions/resolve?api-version=2018-08-31" || v.Status != 400 ||
				v.SubscriptionID != p.SubscriptionID || v.CorrelationID != "c0ffee00-0000-4000-8000-000000000001" ||
				v.RequestID != "c0ffee00-0000-4000-8000-000000000002" || !v.ClockAt.Equal(t0) {
				t.Fatalf("violation = %+v", v)
			}
			// The bug does not burn the token: resolving it right still works.
			if rec := resolveToken(t, m, p.Token); rec.Code != 200 {
				t.Fatalf("correct resolve after a bad one = %d", rec.Code)
			}
		})
	}
}

func TestResolveRejectsMissingAndUnknownTokens(t *testing.T) {
	m, _ := newFake(t)
	buy(t, m, "flat-monthly")
	for _, tok := range []string{"", "not-a-token", newToken()} {
		if rec := resolveToken(t, m, tok); rec.Code != 400 {
			t.Errorf("resolve(%q) = %d, want 400", tok, rec.Code)
		}
	}
	if m.Violations().Len() != 0 {
		t.Fatalf("violations: %v", m.Violations().All())
	}
}

func TestExpireTokenWithoutMovingTheClock(t *testing.T) {
	m, clk := newFake(t)
	p, err := m.Purchase(PurchaseRequest{OfferID: offer, PlanID: "flat-monthly"})
	if err != nil {
		t.Fatal(err)
	}
	before := clk.Now()
	if err := m.ExpireToken(p.Token); err != nil {
		t.Fatal(err)
	}
	if rec := do(t, m, "POST", "/saas/subscriptions/resolve"+av, "", hdrToken, p.Token); rec.Code != 400 {
		t.Fatalf("resolve of an expired token = %d", rec.Code)
	}
	if !clk.Now().Equal(before) {
		t.Fatal("the clock moved")
	}
	if err := m.ExpireToken("nope"); err == nil {
		t.Fatal("unknown token accepted")
	}
}

func TestPurchaseTokensListsEveryIssuedToken(t *testing.T) {
	m, _ := newFake(t)
	p := buy(t, m, "seats-monthly")
	again, err := m.IssueToken(p.SubscriptionID)
	if err != nil {
		t.Fatal(err)
	}
	got := m.PurchaseTokens()
	if len(got) != 2 || !slices.Contains(got, p.Token) || !slices.Contains(got, again) {
		t.Errorf("PurchaseTokens() = %d tokens, want the purchase's and the reissued one", len(got))
	}
}
