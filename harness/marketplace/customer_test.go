package marketplace

import (
	"errors"
	"testing"
	"time"
)

type act struct {
	name string
	do   func(m *Marketplace, id string) (Operation, error)
}

var customerActions = []act{
	{"ChangePlan", changePlan("seats-yearly")},
	{"ChangeQuantity", changeQty(8)},
	{"Suspend", (*Marketplace).Suspend},
	{"Reinstate", (*Marketplace).Reinstate},
	{"Renew", (*Marketplace).Renew},
	{"Unsubscribe", (*Marketplace).Unsubscribe},
}

// TestCustomerActionsByState: which action is allowed from which status, and
// what it leaves behind.
func TestCustomerActionsByState(t *testing.T) {
	type result struct {
		err    error // nil = allowed
		op     OperationStatus
		status SubscriptionStatus // right after the call
	}
	ok := func(op OperationStatus, s SubscriptionStatus) result { return result{nil, op, s} }
	no := result{err: ErrInvalidState}
	want := map[string]map[state]result{
		"ChangePlan":     {sPending: no, sSubscribed: ok(OpInProgress, Subscribed), sSuspended: no, sUnsubscribed: no},
		"ChangeQuantity": {sPending: no, sSubscribed: ok(OpInProgress, Subscribed), sSuspended: no, sUnsubscribed: no},
		"Suspend":        {sPending: no, sSubscribed: ok(OpSucceeded, Suspended), sSuspended: no, sUnsubscribed: no},
		"Reinstate":      {sPending: no, sSubscribed: no, sSuspended: ok(OpInProgress, Suspended), sUnsubscribed: no},
		"Renew":          {sPending: no, sSubscribed: ok(OpSucceeded, Subscribed), sSuspended: no, sUnsubscribed: no},
		"Unsubscribe":    {sPending: ok(OpSucceeded, Unsubscribed), sSubscribed: ok(OpSucceeded, Unsubscribed), sSuspended: ok(OpSucceeded, Unsubscribed), sUnsubscribed: no},
	}
	for _, a := range customerActions {
		for _, s := range allStates {
			t.Run(a.name+"/"+string(s), func(t *testing.T) {
				m, _ := newFake(t)
				f := setupSeats(t, m, s)
				before := len(m.Events())
				op, err := a.do(m, f.id)
				if s == sUnknown {
					if !errors.Is(err, ErrNotFound) {
						t.Fatalf("err = %v, want ErrNotFound", err)
					}
					return
				}
				w := want[a.name][s]
				if w.err != nil {
					var e *Error
					if !errors.Is(err, w.err) || !errors.As(err, &e) || e.Field == "" || e.SubscriptionID != f.id {
						t.Fatalf("err = %v, want %v naming a field", err, w.err)
					}
					if len(m.Events()) != before {
						t.Fatal("a refused action sent an event")
					}
					return
				}
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if op.Status != w.op || op.OperationRequestSource != SourceAzure || op.SubscriptionID != f.id {
					t.Fatalf("op = %+v, want status %s", op, w.op)
				}
				mustStatus(t, m, f.id, w.status)
				evs := m.Events()
				if len(evs) != before+1 {
					t.Fatalf("events = %d, want %d", len(evs), before+1)
				}
				e := evs[len(evs)-1]
				if e.Payload.ID != op.ID || e.Payload.Action != op.Action || e.Payload.Subscription.ID != f.id ||
					e.Payload.PurchaseToken != nil || e.Payload.PublisherID != "contoso" || e.Payload.ActivityID == "" {
					t.Fatalf("event = %+v", e)
				}
				wantEvStatus := OpSucceeded
				if a.name == "ChangePlan" || a.name == "ChangeQuantity" || a.name == "Reinstate" {
					wantEvStatus = OpInProgress
				}
				if e.Payload.Status != wantEvStatus {
					t.Fatalf("event status = %s, want %s", e.Payload.Status, wantEvStatus)
				}
			})
		}
	}
}

// setupSeats is setup on a per-seat plan (so ChangeQuantity can apply).
func setupSeats(t *testing.T, m *Marketplace, s state) fixture {
	t.Helper()
	f := setup(t, m, s)
	if s == sUnknown {
		return f
	}
	// Replace with a per-seat purchase driven to the same state.
	p := buy(t, m, "seats-monthly")
	resolveToken(t, m, p.Token)
	if s != sPending {
		do(t, m, "POST", "/saas/subscriptions/"+p.SubscriptionID+"/activate"+av, activateBody(p))
	}
	switch s {
	case sSuspended:
		m.Suspend(p.SubscriptionID)
	case sUnsubscribed:
		m.Unsubscribe(p.SubscriptionID)
	}
	mustStatus(t, m, p.SubscriptionID, SubscriptionStatus(s))
	return fixture{id: p.SubscriptionID, token: p.Token, plan: "seats-monthly"}
}

func TestChangeValidation(t *testing.T) {
	m, _ := newFake(t)
	p := subscribed(t, m, "seats-monthly")
	cases := []struct {
		name string
		call func() (Operation, error)
		kind error
	}{
		{"unknown plan", func() (Operation, error) { return m.ChangePlan(p.SubscriptionID, "gold") }, ErrUnknownPlan},
		{"same plan", func() (Operation, error) { return m.ChangePlan(p.SubscriptionID, "seats-monthly") }, ErrInvalidArgument},
		{"same quantity", func() (Operation, error) { return m.ChangeQuantity(p.SubscriptionID, 1) }, ErrInvalidArgument},
		{"too many seats", func() (Operation, error) { return m.ChangeQuantity(p.SubscriptionID, 101) }, ErrQuantity},
		{"zero seats", func() (Operation, error) { return m.ChangeQuantity(p.SubscriptionID, 0) }, ErrQuantity},
	}
	for _, tc := range cases {
		if _, err := tc.call(); !errors.Is(err, tc.kind) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.kind)
		}
	}
	flat := subscribed(t, m, "flat-monthly")
	if _, err := m.ChangeQuantity(flat.SubscriptionID, 2); !errors.Is(err, ErrQuantity) {
		t.Errorf("quantity on flat plan: %v", err)
	}
	if _, err := m.ChangePlan(p.SubscriptionID, "flat-yearly"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ChangeQuantity(p.SubscriptionID, 4); !errors.Is(err, ErrOperationPending) {
		t.Errorf("second change while one is in progress: %v", err)
	}
}

func TestPlanChangeAdjustsQuantity(t *testing.T) {
	m, clk := newFake(t)
	p := subscribed(t, m, "seats-monthly") // 1 seat
	m.ChangePlan(p.SubscriptionID, "seats-yearly")
	clk.Advance(10 * time.Second)
	s := mustStatus(t, m, p.SubscriptionID, Subscribed)
	if s.PlanID != "seats-yearly" || *s.Quantity != 5 || s.Term.TermUnit != "P1Y" {
		t.Fatalf("after per-seat change: plan %s qty %d unit %s", s.PlanID, *s.Quantity, s.Term.TermUnit)
	}
	m.ChangePlan(p.SubscriptionID, "flat-monthly")
	clk.Advance(10 * time.Second)
	if s := mustStatus(t, m, p.SubscriptionID, Subscribed); s.Quantity != nil || s.Term.TermUnit != "P1M" {
		t.Fatalf("flat plan kept a quantity: %+v", s)
	}
}

func TestRenewMovesTheTerm(t *testing.T) {
	m, _ := newFake(t)
	p := subscribed(t, m, "flat-yearly")
	if _, err := m.Renew(p.SubscriptionID); err != nil {
		t.Fatal(err)
	}
	s := mustStatus(t, m, p.SubscriptionID, Subscribed)
	if !s.Term.StartDate.Equal(t0.AddDate(1, 0, 0)) || !s.Term.EndDate.Equal(t0.AddDate(2, 0, 0)) {
		t.Fatalf("term = %v – %v", s.Term.StartDate, s.Term.EndDate)
	}
	off := false
	q, _ := m.Purchase(PurchaseRequest{OfferID: offer, PlanID: "flat-monthly", AutoRenew: &off})
	resolveToken(t, m, q.Token)
	do(t, m, "POST", "/saas/subscriptions/"+q.SubscriptionID+"/activate"+av, activateBody(q))
	var e *Error
	if _, err := m.Renew(q.SubscriptionID); !errors.As(err, &e) || e.Field != "autoRenew" {
		t.Fatalf("renew without autoRenew: %v", err)
	}
}

func TestUnsubscribeFailsInFlightOperations(t *testing.T) {
	m, clk := newFake(t)
	p := subscribed(t, m, "flat-monthly")
	cp, _ := m.ChangePlan(p.SubscriptionID, "flat-yearly")
	if _, err := m.Unsubscribe(p.SubscriptionID); err != nil {
		t.Fatal(err)
	}
	if op, _ := m.Operation(p.SubscriptionID, cp.ID); op.Status != OpFailed {
		t.Fatalf("in-flight op = %s", op.Status)
	}
	clk.Advance(time.Minute) // the ack window must not revive it
	if s := mustStatus(t, m, p.SubscriptionID, Unsubscribed); s.PlanID != "flat-monthly" {
		t.Fatal("failed change applied")
	}
}

func TestEventsListenersAndHistory(t *testing.T) {
	m, _ := newFake(t)
	var got []Event
	m.OnEvent(func(e Event) {
		got = append(got, e)
		// Listeners run outside the lock: calling back must not deadlock.
		if _, ok := m.Subscription(e.Payload.SubscriptionID); !ok {
			t.Error("listener cannot see the subscription")
		}
	})
	p := subscribed(t, m, "flat-monthly")
	m.ChangePlan(p.SubscriptionID, "flat-yearly")
	hist := m.Events()
	if len(got) != 1 || len(hist) != 1 || got[0].Seq != hist[0].Seq || !got[0].At.Equal(t0) {
		t.Fatalf("listener %+v history %+v", got, hist)
	}
	e := hist[0]
	// The snapshot is the subscription as it is: still on the old plan.
	if e.Payload.PlanID != "flat-yearly" || e.Payload.Subscription.PlanID != "flat-monthly" || e.Payload.OfferID != offer {
		t.Fatalf("payload = %+v", e.Payload)
	}
	m.Suspend(p.SubscriptionID)
	if h := m.Events(); len(h) != 2 || h[1].Seq <= h[0].Seq {
		t.Fatalf("seq not increasing: %+v", h)
	}
	// History is a copy.
	hist[0].Payload.Subscription.AllowedCustomerOperations[0] = "X"
	if m.Events()[0].Payload.Subscription.AllowedCustomerOperations[0] == "X" {
		t.Fatal("Events shares memory with the store")
	}
}

// TestActivateOnBehalf: a pending purchase turns Subscribed with no
// operation and no notification; anything else is refused.
func TestActivateOnBehalf(t *testing.T) {
	m, _ := newFake(t)
	p := buy(t, m, "flat-monthly")
	events := len(m.Events())
	s, err := m.ActivateOnBehalf(p.SubscriptionID)
	if err != nil || s.SaasSubscriptionStatus != Subscribed {
		t.Fatalf("ActivateOnBehalf = %v, %v", s.SaasSubscriptionStatus, err)
	}
	mustStatus(t, m, p.SubscriptionID, Subscribed)
	if len(m.Events()) != events || len(m.Operations(p.SubscriptionID)) != 0 {
		t.Errorf("an activation on behalf made events %d→%d or operations %d", events, len(m.Events()), len(m.Operations(p.SubscriptionID)))
	}
	if _, err := m.ActivateOnBehalf(p.SubscriptionID); !errors.Is(err, ErrInvalidState) {
		t.Errorf("second activation: %v, want ErrInvalidState", err)
	}
	if _, err := m.ActivateOnBehalf("00000000-0000-0000-0000-000000000000"); err == nil {
		t.Error("an unknown subscription was activated")
	}
}
