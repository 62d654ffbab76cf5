package marketplace

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/violation"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const offer = "contoso-notes"

// newFake returns a Marketplace on a fake clock.
func newFake(t testing.TB, opts ...Option) (*Marketplace, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	m, err := New(append([]Option{WithClock(clk)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m, clk
}

// do sends one request below the base path and returns the recorder.
func do(t testing.TB, m http.Handler, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "/api"+path, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	return rec
}

func decodeBody[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, rec.Body.String(), err)
	}
	return v
}

func buy(t testing.TB, m *Marketplace, plan string) Purchase {
	t.Helper()
	p, err := m.Purchase(PurchaseRequest{OfferID: offer, PlanID: plan})
	if err != nil {
		t.Fatalf("Purchase(%s): %v", plan, err)
	}
	return p
}

func resolveToken(t testing.TB, m *Marketplace, tok string) *httptest.ResponseRecorder {
	t.Helper()
	return do(t, m, "POST", "/saas/subscriptions/resolve?api-version=2018-08-31", "", hdrToken, tok)
}

// activateBody is the correct activate body for a purchase.
func activateBody(p Purchase) string {
	b, _ := json.Marshal(ActivateRequest{PlanID: p.Subscription.PlanID, Quantity: p.Subscription.Quantity})
	return string(b)
}

// subscribed buys plan and runs the correct landing-page flow.
func subscribed(t testing.TB, m *Marketplace, plan string) Purchase {
	t.Helper()
	p := buy(t, m, plan)
	if rec := resolveToken(t, m, p.Token); rec.Code != 200 {
		t.Fatalf("resolve: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, m, "POST", "/saas/subscriptions/"+p.SubscriptionID+"/activate?api-version=2018-08-31", activateBody(p)); rec.Code != 200 {
		t.Fatalf("activate: %d %s", rec.Code, rec.Body)
	}
	return p
}

func rulesOf(vs []violation.Violation) []string { return violation.Rules(vs) }

func mustStatus(t testing.TB, m *Marketplace, id string, want SubscriptionStatus) Subscription {
	t.Helper()
	s, ok := m.Subscription(id)
	if !ok {
		t.Fatalf("subscription %s missing", id)
	}
	if s.SaasSubscriptionStatus != want {
		t.Fatalf("status = %s, want %s", s.SaasSubscriptionStatus, want)
	}
	return s
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// stripAPI lets do (which prefixes /api) reach a Marketplace served at the root.
type stripAPI struct{ h http.Handler }

func (s stripAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.URL.Path = strings.TrimPrefix(r.URL.Path, "/api")
	s.h.ServeHTTP(w, r)
}
