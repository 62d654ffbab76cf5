package marketplace

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzServeHTTP throws arbitrary methods, paths, bodies and tokens at a bare
// Marketplace: it must answer every one with a status and never panic.
func FuzzServeHTTP(f *testing.F) {
	f.Add(uint8(0), "/saas/subscriptions/resolve", "", "x")
	f.Add(uint8(1), "/saas/subscriptions/{id}/activate", `{"planId":"seats-monthly","quantity":1}`, "")
	f.Add(uint8(2), "/saas/subscriptions/{id}", `{"quantity":3}`, "")
	f.Add(uint8(3), "/saas/subscriptions/{id}/operations/{op}", `{"status":"Success"}`, "")
	f.Add(uint8(4), "/saas/subscriptions?continuationToken=c2MxLjE", "", "")
	f.Add(uint8(5), "/saas/subscriptions/{id}", "", "")
	methods := []string{"POST", "POST", "PATCH", "PATCH", "GET", "DELETE", "PUT", "HEAD"}
	f.Fuzz(func(t *testing.T, mi uint8, path, body, token string) {
		m, _ := newFake(t, WithMaxBodyBytes(4096))
		p := subscribed(t, m, "seats-monthly")
		op, _ := m.ChangeQuantity(p.SubscriptionID, 2)
		path = strings.NewReplacer("{id}", p.SubscriptionID, "{op}", op.ID, "{token}", p.Token).Replace(path)
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req := httptest.NewRequest("GET", "/", strings.NewReader(body))
		req.Method = methods[int(mi)%len(methods)]
		u, err := req.URL.Parse("/api" + path)
		if err != nil {
			return
		}
		req.URL = u
		req.Header.Set(hdrToken, token)
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Code >= 500 {
			t.Fatalf("server error %d for %s %s: %s", rec.Code, req.Method, path, rec.Body)
		}
	})
}
