package marketplace

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/saasconform/saasconform/harness/statefile"
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

// BenchmarkJournalledLifecycle is purchase → resolve → activate with every
// change journalled to a state file, with 100 and with 10,000 subscriptions
// already stored: the journal's cost per change must not grow with them.
func BenchmarkJournalledLifecycle(b *testing.B) {
	for _, stored := range []int{100, 10000} {
		b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
			sf, err := statefile.Open(filepath.Join(b.TempDir(), "state"), statefile.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer sf.Close()
			m, _ := newFake(b, WithJournal(sf))
			for i := 0; i < stored; i++ {
				buy(b, m, "flat-monthly")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				subscribed(b, m, "seats-monthly")
			}
		})
	}
}

// BenchmarkGetWithChangesInFlight reads a subscription while 10 or 10,000
// customer changes wait on the publisher: every call settles first, and
// that must look only at what is due, not at everything in flight.
func BenchmarkGetWithChangesInFlight(b *testing.B) {
	for _, waiting := range []int{10, 10000} {
		b.Run(fmt.Sprintf("inflight=%d", waiting), func(b *testing.B) {
			m, _ := newFake(b)
			var id string
			for i := 0; i < waiting; i++ {
				id = subscribed(b, m, "seats-monthly").SubscriptionID
				if _, err := m.ChangeQuantity(id, 7); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				if _, ok := m.Subscription(id); !ok {
					b.Fatal("missing")
				}
			}
		})
	}
}
