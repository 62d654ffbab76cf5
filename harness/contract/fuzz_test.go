package contract_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/saasconform/saasconform/harness/marketplace"
)

// FuzzMarketplace throws arbitrary requests at the fake behind the contract
// layer. Whatever arrives, the stack must answer (no panic, no hang), and
// every answer must fit our own spec: a harness bug is a fuzz failure.
func FuzzMarketplace(f *testing.F) {
	s := newStack(f)
	flat, _, _ := plans(f, s.m)
	p := s.buy(f, flat, marketplace.Direct)
	id := p.SubscriptionID
	for _, seed := range []struct {
		method uint8
		path   string
		query  string
		body   []byte
		token  string
	}{
		{0, "/api/saas/subscriptions/resolve", "api-version=2018-08-31", nil, p.Token},
		{1, "/api/saas/subscriptions/" + id + "/activate", "api-version=2018-08-31", []byte(`{"planId":"` + flat + `"}`), ""},
		{2, "/api/saas/subscriptions/" + id, "api-version=2018-08-31", []byte(`{"planId":"x","quantity":2}`), ""},
		{3, "/api/saas/subscriptions/" + id, "api-version=2018-08-31", nil, ""},
		{4, "/api/saas/subscriptions", "api-version=2018-08-31&continuationToken=%ff", nil, ""},
		{2, "/api/saas/subscriptions/" + id + "/operations/" + id, "api-version=2018-08-31", []byte(`{"status":"Failure"}`), ""},
		{5, "/api/saas/subscriptions/" + id, "api-version=2017-04-15", []byte(`{"planId":"` + flat + `"}`), p.Token},
		{4, "/api/saas/subscriptions/" + id + "/listAvailablePlans", "api-version=2018-08-31&planId=%00", nil, ""},
		{1, "/api/saas/subscriptions/" + id + "/activate", "api-version=2018-08-31", []byte(`{"planId":` + string(bytes.Repeat([]byte("["), 300))), ""},
	} {
		f.Add(seed.method, seed.path, seed.query, seed.body, seed.token)
	}
	methods := []string{"POST", "POST", "PATCH", "DELETE", "GET", "PUT", "HEAD", "OPTIONS"}
	f.Fuzz(func(t *testing.T, method uint8, path, query string, body []byte, token string) {
		req, err := http.NewRequest(methods[int(method)%len(methods)], "http://fake", bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.URL.Path, req.URL.RawQuery = path, query
		req.Header.Set("Authorization", "Bearer fuzz")
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("x-ms-marketplace-token", token)
		}
		rec := httptest.NewRecorder()
		s.v.ServeHTTP(rec, req)
		if rec.Code < 100 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		if bugs := s.v.HarnessBugs(); len(bugs) > 0 {
			t.Fatalf("harness bug for %s %s?%s %q: %v", req.Method, path, query, body, bugs[len(bugs)-1])
		}
	})
}
