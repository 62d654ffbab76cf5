package marketplace

import (
	"fmt"
	"sync"
	"testing"
)

func TestConcurrentPurchasesAndRequests(t *testing.T) {
	m, clk := newFake(t, WithPageSize(7))
	var events sync.Map
	m.OnEvent(func(e Event) { events.Store(e.Seq, e) })
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n*4)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := subscribed(t, m, "seats-monthly")
			if rec := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+av, fmt.Sprintf(`{"quantity":%d}`, 2+i%50)); rec.Code != 202 {
				errs <- fmt.Errorf("PATCH %d", rec.Code)
			}
			// Suspend may land before or after the PATCH completes; both are legal.
			_, _ = m.Suspend(p.SubscriptionID)
			walk(t, m, func(int) {})
			do(t, m, "GET", "/saas/subscriptions/"+p.SubscriptionID+"/operations"+av, "")
			clk.Advance(0)
			m.Settle()
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ids := walk(t, m, func(int) {})
	if len(ids) != n {
		t.Fatalf("listed %d subscriptions, want %d", len(ids), n)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
	count := 0
	events.Range(func(any, any) bool { count++; return true })
	if count != len(m.Events()) {
		t.Fatalf("listeners saw %d events, history has %d", count, len(m.Events()))
	}
}

func TestResetForgetsStateButKeepsConfiguration(t *testing.T) {
	m, _ := newFake(t, WithPageSize(3))
	var heard int
	m.OnEvent(func(Event) { heard++ })
	p := subscribed(t, m, "flat-monthly")
	m.Suspend(p.SubscriptionID)
	m.SetOutcome(p.SubscriptionID, OpFailed)
	m.InjectFault(Fault{Op: OpGetSubscription, Count: 5, Status: 500})
	do(t, m, "POST", "/saas/subscriptions/"+p.SubscriptionID+"/activate"+av, `{}`) // a violation
	if m.Violations().Len() == 0 || len(m.Events()) == 0 {
		t.Fatal("setup made no violations or events")
	}
	m.Reset()
	if _, ok := m.Subscription(p.SubscriptionID); ok {
		t.Fatal("subscription survived Reset")
	}
	if m.Violations().Len() != 0 || len(m.Events()) != 0 || len(m.Operations(p.SubscriptionID)) != 0 {
		t.Fatal("violations, events or operations survived Reset")
	}
	if rec := resolveToken(t, m, p.Token); rec.Code != 400 {
		t.Fatalf("old token resolves after Reset: %d", rec.Code)
	}
	q := subscribed(t, m, "flat-monthly")
	if c := do(t, m, "GET", "/saas/subscriptions/"+q.SubscriptionID+av, "").Code; c != 200 {
		t.Fatalf("fault survived Reset: %d", c)
	}
	m.Suspend(q.SubscriptionID)
	if heard != 2 {
		t.Fatalf("listener heard %d events, want 2 (it survives Reset)", heard)
	}
	if m.cfg.pageSize != 3 {
		t.Fatal("options lost")
	}
}
