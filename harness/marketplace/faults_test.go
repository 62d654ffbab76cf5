package marketplace

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

func TestFaultStatusAndCount(t *testing.T) {
	m, _ := newFake(t)
	a := buy(t, m, "flat-monthly")
	b := buy(t, m, "flat-monthly")
	if err := m.InjectFault(Fault{Op: OpGetSubscription, SubscriptionID: a.SubscriptionID, Count: 2, Status: 503}); err != nil {
		t.Fatal(err)
	}
	if err := m.InjectFault(Fault{Op: OpResolve, Count: 1, Status: 500, Code: "Boom", Message: "kaput"}); err != nil {
		t.Fatal(err)
	}
	get := func(id string) int { return do(t, m, "GET", "/saas/subscriptions/"+id+av, "").Code }
	if c := get(b.SubscriptionID); c != 200 {
		t.Fatalf("other subscription = %d, want 200 (filter)", c)
	}
	for i := 0; i < 2; i++ {
		rec := do(t, m, "GET", "/saas/subscriptions/"+a.SubscriptionID+av, "")
		if rec.Code != 503 || decodeBody[ErrorResponse](t, rec).Error.Code != "ServiceUnavailable" {
			t.Fatalf("call %d = %d %s", i, rec.Code, rec.Body)
		}
	}
	if c := get(a.SubscriptionID); c != 200 {
		t.Fatalf("after Count calls = %d, want 200", c)
	}
	rec := resolveToken(t, m, a.Token)
	if e := decodeBody[ErrorResponse](t, rec).Error; rec.Code != 500 || e.Code != "Boom" || e.Message != "kaput" {
		t.Fatalf("resolve fault = %d %+v", rec.Code, e)
	}
	if rec := resolveToken(t, m, a.Token); rec.Code != 200 {
		t.Fatalf("resolve after fault = %d", rec.Code)
	}
	// ClearFaults disarms the rest.
	m.InjectFault(Fault{Op: OpGetSubscription, Count: 5, Status: 500})
	m.ClearFaults()
	if c := get(a.SubscriptionID); c != 200 {
		t.Fatalf("after ClearFaults = %d", c)
	}
}

func TestFaultOnResolveFiltersByTokenSubscription(t *testing.T) {
	m, _ := newFake(t)
	a := buy(t, m, "flat-monthly")
	b := buy(t, m, "flat-monthly")
	m.InjectFault(Fault{Op: OpResolve, SubscriptionID: b.SubscriptionID, Count: 1, Status: 500})
	if c := resolveToken(t, m, a.Token).Code; c != 200 {
		t.Fatalf("a = %d", c)
	}
	if c := resolveToken(t, m, b.Token).Code; c != 500 {
		t.Fatalf("b = %d", c)
	}
}

func TestFaultDelayThenProceed(t *testing.T) {
	m, _ := newFake(t)
	p := buy(t, m, "flat-monthly")
	m.InjectFault(Fault{Op: OpGetSubscription, Count: 1, Delay: time.Millisecond})
	if c := do(t, m, "GET", "/saas/subscriptions/"+p.SubscriptionID+av, "").Code; c != 200 {
		t.Fatalf("slow call = %d", c)
	}
}

func TestFaultDelayAbandonedWhenClientGivesUp(t *testing.T) {
	m, _ := newFake(t)
	p := subscribed(t, m, "seats-monthly")
	m.InjectFault(Fault{Op: OpUpdateSubscription, Count: 1, Delay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("PATCH", "/api/saas/subscriptions/"+p.SubscriptionID+av, nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		m.ServeHTTP(rec, req)
		close(done)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a safety net for a broken fake, not a wait
		t.Fatal("ServeHTTP still waiting after the request context was cancelled")
	}
	if rec.Body.Len() != 0 {
		t.Fatalf("answered an abandoned request: %d %s", rec.Code, rec.Body)
	}
	if ops := m.Operations(p.SubscriptionID); len(ops) != 0 {
		t.Fatalf("abandoned request changed state: %+v", ops)
	}
	// The fault was used up.
	if rec := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+av, `{"quantity":2}`); rec.Code != 202 {
		t.Fatalf("next call = %d", rec.Code)
	}
}

func TestInjectFaultValidates(t *testing.T) {
	m, _ := newFake(t)
	for _, f := range []Fault{
		{Op: OpGetSubscription, Count: 0, Status: 500},
		{Op: OpGetSubscription, Count: -1, Status: 500},
		{Op: "nope", Count: 1, Status: 500},
		{Op: OpGetSubscription, Count: 1, Status: 200},
		{Op: OpGetSubscription, Count: 1, Delay: -time.Second},
	} {
		if err := m.InjectFault(f); err == nil {
			t.Errorf("InjectFault(%+v) accepted", f)
		}
	}
}
