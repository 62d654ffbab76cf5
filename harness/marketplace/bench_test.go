package marketplace

import (
	"net/http/httptest"
	"testing"
)

func BenchmarkHandlerGetSubscription(b *testing.B) {
	m, _ := newFake(b)
	p := buy(b, m, "seats-monthly")
	for i := 0; i < 1000; i++ { // a store that is not trivially small
		buy(b, m, "flat-monthly")
	}
	req := httptest.NewRequest("GET", "/api/saas/subscriptions/"+p.SubscriptionID+av, nil)
	req.Header.Set(hdrRequestID, "5f0c1d2e-0000-4000-8000-000000000001")
	req.Header.Set(hdrCorrelationID, "5f0c1d2e-0000-4000-8000-000000000002")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkPurchaseResolveActivate(b *testing.B) {
	m, _ := newFake(b)
	b.ReportAllocs()
	for b.Loop() {
		subscribed(b, m, "seats-monthly")
	}
}
