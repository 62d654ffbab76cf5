package contract_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/violation"
)

// stack is the fake marketplace behind the contract layer, sharing one
// violation log and one fake clock, as the suites use them.
type stack struct {
	m     *marketplace.Marketplace
	v     *contract.Validator
	log   *violation.Log
	clock *clock.Fake
}

func newStack(t testing.TB, opts ...marketplace.Option) *stack {
	t.Helper()
	log := &violation.Log{}
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	m, err := marketplace.New(append([]marketplace.Option{marketplace.WithClock(clk), marketplace.WithViolations(log),
		marketplace.WithBaseURL("https://marketplace.test/api")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	v, err := contract.New(m, contract.WithViolations(log), contract.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return &stack{m: m, v: v, log: log, clock: clk}
}

// call sends a well-formed request (auth, ids, api-version) unless the test
// overrides a header.
func (s *stack) call(t testing.TB, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	target := path
	if !strings.Contains(path, "api-version=") {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		target += sep + "api-version=2018-08-31"
	}
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	req.Header.Set("Authorization", "Bearer test-token")
	req.Header.Set("x-ms-requestid", "5f0c7d1e-2b3a-4c5d-8e9f-a0b1c2d3e4f5")
	req.Header.Set("x-ms-correlationid", "6a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	s.v.ServeHTTP(rec, req)
	return rec
}

func (s *stack) noBugs(t testing.TB) {
	t.Helper()
	for _, b := range s.v.HarnessBugs() {
		t.Errorf("harness bug: %v", b)
	}
}

func (s *stack) buy(t testing.TB, plan string, kind marketplace.PurchaseKind) marketplace.Purchase {
	t.Helper()
	p, err := s.m.Purchase(marketplace.PurchaseRequest{OfferID: s.m.Catalog().Offers()[0].ID, PlanID: plan, Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// perSeatPlan and flatPlan find plans of the first offer by kind, so the
// tests do not depend on fixture names.
func plans(t testing.TB, m *marketplace.Marketplace) (flat, flat2, seat string) {
	t.Helper()
	for _, p := range m.Catalog().Offers()[0].Plans {
		switch {
		case p.IsPricePerSeat && seat == "":
			seat = p.PlanID
		case !p.IsPricePerSeat && !p.HasFreeTrials && !p.IsPrivate && flat == "":
			flat = p.PlanID
		case !p.IsPricePerSeat && !p.HasFreeTrials && !p.IsPrivate && flat2 == "":
			flat2 = p.PlanID
		}
	}
	if flat == "" || flat2 == "" || seat == "" {
		t.Fatalf("fixtures lack two flat plans and a per-seat plan: %q %q %q", flat, flat2, seat)
	}
	return flat, flat2, seat
}

// TestCorrectPublisherJourneyHasNoViolations walks every operation the way a
// correct publisher does and checks that every answer the fake gives fits
// our spec.
func TestCorrectPublisherJourneyHasNoViolations(t *testing.T) {
	s := newStack(t, marketplace.WithPageSize(1))
	flat, flat2, _ := plans(t, s.m)
	p := s.buy(t, flat, marketplace.Direct)
	s.buy(t, flat, marketplace.Direct) // a second one, so the list has two pages
	sub := "/api/saas/subscriptions/" + p.SubscriptionID

	steps := []struct {
		method, path, body string
		header             []string
		status             int
	}{
		{"POST", "/api/saas/subscriptions/resolve", "", []string{"x-ms-marketplace-token", p.Token}, 200},
		{"GET", sub + "/listAvailablePlans", "", nil, 200},
		{"GET", sub + "/listAvailablePlans?planId=" + flat2, "", nil, 200},
		{"POST", sub + "/activate", `{"planId":"` + flat + `"}`, nil, 200},
		{"GET", sub, "", nil, 200},
		{"GET", "/api/saas/subscriptions", "", nil, 200},
		{"PATCH", sub, `{"planId":"` + flat2 + `"}`, nil, 202},
		{"GET", sub + "/operations", "", nil, 200},
		{"DELETE", sub, "", nil, 202},
	}
	for _, st := range steps {
		rec := s.call(t, st.method, st.path, st.body, st.header...)
		if rec.Code != st.status {
			t.Fatalf("%s %s = %d, want %d: %s", st.method, st.path, rec.Code, st.status, rec.Body)
		}
		if loc := rec.Header().Get("Operation-Location"); loc != "" {
			opPath := strings.TrimPrefix(loc, "https://marketplace.test")
			if got := s.call(t, "GET", opPath, ""); got.Code != 200 || !strings.Contains(got.Body.String(), `"Succeeded"`) {
				t.Fatalf("GET %s = %d %s", opPath, got.Code, got.Body)
			}
		}
	}
	// Follow @nextLink to the end.
	next, pages := "/api/saas/subscriptions", 0
	for next != "" && pages < 5 {
		rec := s.call(t, "GET", next, "")
		pages++
		body := rec.Body.String()
		next = ""
		if i := strings.Index(body, `"@nextLink":"`); i >= 0 {
			link := body[i+len(`"@nextLink":"`):]
			link = strings.ReplaceAll(link[:strings.Index(link, `"`)], `\u0026`, "&")
			next = strings.TrimPrefix(link, "https://marketplace.test")
		}
	}
	if pages != 2 {
		t.Errorf("pages = %d, want 2 with page size 1 and two subscriptions", pages)
	}
	if got, ok := s.m.Subscription(p.SubscriptionID); !ok || got.SaasSubscriptionStatus != marketplace.Unsubscribed || got.PlanID != flat2 {
		t.Errorf("final state = %+v", got)
	}
	for _, v := range s.log.All() {
		t.Errorf("violation on a correct journey: %s", v)
	}
	s.noBugs(t)
}

// TestEveryAnswerFitsTheSpec sends each operation in each subscription state
// through the full stack; whatever the status, the fake's answer must fit
// our own document.
func TestEveryAnswerFitsTheSpec(t *testing.T) {
	s := newStack(t)
	flat, flat2, seat := plans(t, s.m)
	subs := map[string]string{"unknown": "00000000-0000-4000-8000-000000000000"}
	pending := s.buy(t, flat, marketplace.Direct)
	subs["pending"] = pending.SubscriptionID
	for _, state := range []string{"subscribed", "suspended", "unsubscribed"} {
		p := s.buy(t, seat, marketplace.Direct)
		s.call(t, "POST", "/api/saas/subscriptions/resolve", "", "x-ms-marketplace-token", p.Token)
		q := *p.Subscription.Quantity
		if rec := s.call(t, "POST", "/api/saas/subscriptions/"+p.SubscriptionID+"/activate", `{"planId":"`+seat+`","quantity":`+itoa(q)+`}`); rec.Code != 200 {
			t.Fatalf("activate: %d %s", rec.Code, rec.Body)
		}
		switch state {
		case "suspended":
			mustOp(t)(s.m.Suspend(p.SubscriptionID))
		case "unsubscribed":
			mustOp(t)(s.m.Unsubscribe(p.SubscriptionID))
		}
		subs[state] = p.SubscriptionID
	}
	for state, id := range subs {
		sub := "/api/saas/subscriptions/" + id
		op := "/operations/11111111-2222-4333-8444-555555555555"
		for _, c := range []struct{ method, path, body string }{
			{"GET", sub, ""}, {"GET", sub + "/listAvailablePlans", ""}, {"POST", sub + "/activate", `{"planId":"` + flat + `"}`},
			{"PATCH", sub, `{"planId":"` + flat2 + `"}`}, {"PATCH", sub, `{"quantity":7}`}, {"DELETE", sub, ""},
			{"GET", sub + "/operations", ""}, {"GET", sub + op, ""}, {"PATCH", sub + op, `{"status":"Success"}`},
		} {
			rec := s.call(t, c.method, c.path, c.body)
			if rec.Code >= 500 {
				t.Errorf("%s: %s %s = %d %s", state, c.method, c.path, rec.Code, rec.Body)
			}
		}
	}
	s.noBugs(t)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustOp(t testing.TB) func(marketplace.Operation, error) {
	return func(_ marketplace.Operation, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkRoundTrip is one GET subscription through the whole stack: request
// validation, the fake, response validation and recording.
func BenchmarkRoundTrip(b *testing.B) {
	s := newStack(b)
	flat, _, _ := plans(b, s.m)
	p := s.buy(b, flat, marketplace.Direct)
	path := "/api/saas/subscriptions/" + p.SubscriptionID
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := s.call(b, "GET", path, ""); rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkRoundTripPatch is a publisher plan change through the whole stack.
func BenchmarkRoundTripPatch(b *testing.B) {
	s := newStack(b)
	flat, flat2, _ := plans(b, s.m)
	p := s.buy(b, flat, marketplace.Direct)
	s.call(b, "POST", "/api/saas/subscriptions/resolve", "", "x-ms-marketplace-token", p.Token)
	s.call(b, "POST", "/api/saas/subscriptions/"+p.SubscriptionID+"/activate", `{"planId":"`+flat+`"}`)
	path := "/api/saas/subscriptions/" + p.SubscriptionID
	target := []string{flat2, flat}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := s.call(b, "PATCH", path, `{"planId":"`+target[i%2]+`"}`); rec.Code != 202 {
			b.Fatalf("status %d %s", rec.Code, rec.Body)
		}
		s.clock.Advance(time.Millisecond) // let the operation complete
	}
}
