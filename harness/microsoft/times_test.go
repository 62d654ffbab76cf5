package microsoft

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/identity"
)

// TestTranscriptAndViolationsCarryWallTime runs with a harness clock that
// stands still, far in the past, as a run's injected clock does: the
// transcript's and the violations' times must still be when things
// happened, each its own, and durations measured.
func TestTranscriptAndViolationsCarryWallTime(t *testing.T) {
	past := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := Start(Options{Clock: clock.NewFake(past)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := time.Now()
	c := s.HTTPClient()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.App.ClientID},
		"client_secret": {s.App.Secret}, "scope": {identity.MarketplaceAppID + "/.default"}}
	resp, err := c.PostForm(s.AuthorityURL+"/"+s.App.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	buy, err := s.Marketplace.Purchase(marketplacePurchase())
	if err != nil {
		t.Fatal(err)
	}
	// No token and no x-ms ids: violations on the marketplace call.
	req, _ := http.NewRequest("GET", s.MarketplaceURL+"/saas/subscriptions/"+buy.SubscriptionID+"?api-version=2018-08-31", nil)
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	after := time.Now()

	xs := s.Exchanges()
	if len(xs) != 2 {
		t.Fatalf("%d exchanges, want 2", len(xs))
	}
	for _, x := range xs {
		if x.At.Before(before) || x.At.After(after) {
			t.Errorf("%s %s at %v: not between %v and %v (wall time)", x.Method, x.URL, x.At, before, after)
		}
		if x.Duration <= 0 {
			t.Errorf("%s %s took %v: not measured", x.Method, x.URL, x.Duration)
		}
		if !x.ClockAt.Equal(past) {
			t.Errorf("%s %s: harness clock %v, want %v", x.Method, x.URL, x.ClockAt, past)
		}
	}
	if !xs[0].At.Before(xs[1].At) {
		t.Errorf("the token request at %v is not before the marketplace call at %v", xs[0].At, xs[1].At)
	}
	vs := s.Log.All()
	if len(vs) == 0 {
		t.Fatal("no violation recorded")
	}
	for _, v := range vs {
		if v.At.Before(before) || v.At.After(after) {
			t.Errorf("%s at %v: not between %v and %v (wall time)", v.Rule, v.At, before, after)
		}
	}
}
