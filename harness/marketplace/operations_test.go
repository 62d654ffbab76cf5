package marketplace

import (
	"errors"
	"testing"
	"time"
)

func opPath(subID, opID string) string {
	return "/saas/subscriptions/" + subID + "/operations/" + opID + av
}

func TestAckWindow(t *testing.T) {
	cases := []struct {
		name      string
		action    func(m *Marketplace, id string) (Operation, error)
		suspend   bool
		answer    string // "" = silence
		after     time.Duration
		code      int
		rule      string
		opStatus  OperationStatus
		subStatus SubscriptionStatus
		plan      string
		qty       int64
	}{
		{"plan: silence auto-accepts", changePlan("seats-yearly"), false, "", 10 * time.Second, 0, "", OpSucceeded, Subscribed, "seats-yearly", 5},
		{"plan: not yet at 9.9s", changePlan("seats-yearly"), false, "", 9900 * time.Millisecond, 0, "", OpInProgress, Subscribed, "seats-monthly", 3},
		{"plan: PATCH Success in window", changePlan("seats-yearly"), false, "Success", 5 * time.Second, 200, "", OpSucceeded, Subscribed, "seats-yearly", 5},
		{"plan: PATCH Failure in window", changePlan("seats-yearly"), false, "Failure", 5 * time.Second, 200, "", OpFailed, Subscribed, "seats-monthly", 3},
		{"plan: PATCH after window", changePlan("seats-yearly"), false, "Failure", 10 * time.Second, 409, "FUL-OP-01", OpSucceeded, Subscribed, "seats-yearly", 5},
		{"qty: PATCH Success", changeQty(42), false, "Success", 0, 200, "", OpSucceeded, Subscribed, "seats-monthly", 42},
		{"qty: silence", changeQty(42), false, "", time.Minute, 0, "", OpSucceeded, Subscribed, "seats-monthly", 42},
		{"qty: Failure", changeQty(42), false, "Failure", time.Second, 200, "", OpFailed, Subscribed, "seats-monthly", 3},
		{"reinstate: Success", (*Marketplace).Reinstate, true, "Success", time.Second, 200, "", OpSucceeded, Subscribed, "seats-monthly", 3},
		{"reinstate: silence", (*Marketplace).Reinstate, true, "", 10 * time.Second, 0, "", OpSucceeded, Subscribed, "seats-monthly", 3},
		{"reinstate: Failure", (*Marketplace).Reinstate, true, "Failure", time.Second, 200, "", OpFailed, Suspended, "seats-monthly", 3},
		{"reinstate: late PATCH", (*Marketplace).Reinstate, true, "Success", 11 * time.Second, 409, "FUL-OP-01", OpSucceeded, Subscribed, "seats-monthly", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, clk := newFake(t)
			p, _ := m.Purchase(PurchaseRequest{OfferID: offer, PlanID: "seats-monthly", Quantity: 3})
			resolveToken(t, m, p.Token)
			do(t, m, "POST", "/saas/subscriptions/"+p.SubscriptionID+"/activate"+av, activateBody(p))
			if tc.suspend {
				if _, err := m.Suspend(p.SubscriptionID); err != nil {
					t.Fatal(err)
				}
			}
			op, err := tc.action(m, p.SubscriptionID)
			if err != nil || op.Status != OpInProgress || op.OperationRequestSource != SourceAzure {
				t.Fatalf("action = %+v, %v", op, err)
			}
			clk.Advance(tc.after)
			if tc.answer != "" {
				rec := do(t, m, "PATCH", opPath(p.SubscriptionID, op.ID), `{"status":"`+tc.answer+`"}`)
				if rec.Code != tc.code || (rec.Code == 200 && rec.Body.Len() != 0) {
					t.Fatalf("PATCH op = %d %q, want %d", rec.Code, rec.Body, tc.code)
				}
			}
			var want []string
			if tc.rule != "" {
				want = []string{tc.rule}
			}
			if got := rulesOf(m.Violations().All()); !sameStrings(got, want) {
				t.Fatalf("rules = %v, want %v", m.Violations().All(), want)
			}
			got, _ := m.Operation(p.SubscriptionID, op.ID)
			if got.Status != tc.opStatus {
				t.Fatalf("op status = %s, want %s", got.Status, tc.opStatus)
			}
			s := mustStatus(t, m, p.SubscriptionID, tc.subStatus)
			if s.PlanID != tc.plan || s.Quantity == nil || *s.Quantity != tc.qty {
				t.Fatalf("subscription plan %s qty %v, want %s %d", s.PlanID, fmtQty(s.Quantity), tc.plan, tc.qty)
			}
		})
	}
}

func changePlan(plan string) func(*Marketplace, string) (Operation, error) {
	return func(m *Marketplace, id string) (Operation, error) { return m.ChangePlan(id, plan) }
}

func changeQty(q int64) func(*Marketplace, string) (Operation, error) {
	return func(m *Marketplace, id string) (Operation, error) { return m.ChangeQuantity(id, q) }
}

func TestPatchOperationSecondTimeIs409(t *testing.T) {
	m, _ := newFake(t)
	p := subscribed(t, m, "flat-monthly")
	op, _ := m.ChangePlan(p.SubscriptionID, "flat-yearly")
	if rec := do(t, m, "PATCH", opPath(p.SubscriptionID, op.ID), `{"status":"Success"}`); rec.Code != 200 {
		t.Fatalf("first = %d", rec.Code)
	}
	if rec := do(t, m, "PATCH", opPath(p.SubscriptionID, op.ID), `{"status":"Failure"}`); rec.Code != 409 {
		t.Fatalf("second = %d", rec.Code)
	}
	if s := mustStatus(t, m, p.SubscriptionID, Subscribed); s.PlanID != "flat-yearly" {
		t.Fatalf("plan = %s", s.PlanID)
	}
	if got := rulesOf(m.Violations().All()); !sameStrings(got, []string{"FUL-OP-01"}) {
		t.Fatalf("rules = %v", got)
	}
}

func TestPatchOperationBadStatusAndForeignOperation(t *testing.T) {
	m, _ := newFake(t)
	a := subscribed(t, m, "flat-monthly")
	b := subscribed(t, m, "flat-monthly")
	op, _ := m.ChangePlan(a.SubscriptionID, "flat-yearly")
	for _, body := range []string{`{"status":"Succeeded"}`, `{"status":""}`, `{}`, `{"status":"success"}`} {
		if rec := do(t, m, "PATCH", opPath(a.SubscriptionID, op.ID), body); rec.Code != 400 {
			t.Errorf("%s = %d, want 400", body, rec.Code)
		}
	}
	// planId and quantity are accepted and ignored (CONTRACT D4).
	if rec := do(t, m, "GET", opPath(b.SubscriptionID, op.ID), ""); rec.Code != 404 {
		t.Fatalf("GET op via another subscription = %d", rec.Code)
	}
	if rec := do(t, m, "PATCH", opPath(b.SubscriptionID, op.ID), `{"status":"Success"}`); rec.Code != 404 {
		t.Fatalf("PATCH op via another subscription = %d", rec.Code)
	}
	if rec := do(t, m, "PATCH", opPath(a.SubscriptionID, op.ID), `{"status":"Success","planId":"ignored","quantity":3}`); rec.Code != 200 {
		t.Fatalf("PATCH with extra fields = %d %s", rec.Code, rec.Body)
	}
	if m.Violations().Len() != 0 {
		t.Fatalf("violations: %v", m.Violations().All())
	}
}

func TestOperationLatencyAndSetOutcome(t *testing.T) {
	cases := []struct {
		name      string
		outcome   OperationStatus
		body      string
		wantOp    OperationStatus
		wantPlan  string
		wantState SubscriptionStatus
	}{
		{"plan succeeds", "", `{"planId":"flat-yearly"}`, OpSucceeded, "flat-yearly", Subscribed},
		{"plan fails", OpFailed, `{"planId":"flat-yearly"}`, OpFailed, "flat-monthly", Subscribed},
		{"plan conflicts", OpConflict, `{"planId":"flat-yearly"}`, OpConflict, "flat-monthly", Subscribed},
		{"outcome cleared", OpSucceeded, `{"planId":"flat-yearly"}`, OpSucceeded, "flat-yearly", Subscribed},
		{"delete succeeds", "", "", OpSucceeded, "flat-monthly", Unsubscribed},
		{"delete fails", OpFailed, "", OpFailed, "flat-monthly", Subscribed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, clk := newFake(t, WithOperationLatency(30*time.Second), WithOutstandingOnlyReinstate(false))
			p := subscribed(t, m, "flat-monthly")
			if tc.outcome != "" {
				m.SetOutcome(p.SubscriptionID, OpFailed)
				m.SetOutcome(p.SubscriptionID, tc.outcome) // the last call wins
			}
			method := "PATCH"
			if tc.body == "" {
				method = "DELETE"
			}
			rec := do(t, m, method, "/saas/subscriptions/"+p.SubscriptionID+av, tc.body)
			if rec.Code != 202 {
				t.Fatalf("%s = %d", method, rec.Code)
			}
			ops := m.Operations(p.SubscriptionID)
			opID := ops[len(ops)-1].ID
			clk.Advance(29 * time.Second)
			if op, _ := m.Operation(p.SubscriptionID, opID); op.Status != OpInProgress {
				t.Fatalf("before latency: %s", op.Status)
			}
			list := decodeBody[OperationList](t, do(t, m, "GET", "/saas/subscriptions/"+p.SubscriptionID+"/operations"+av, ""))
			if len(list.Operations) != 1 || list.Operations[0].ID != opID {
				t.Fatalf("in-progress list = %+v", list)
			}
			clk.Advance(time.Second)
			op := decodeBody[Operation](t, do(t, m, "GET", opPath(p.SubscriptionID, opID), ""))
			if op.Status != tc.wantOp {
				t.Fatalf("op = %s, want %s", op.Status, tc.wantOp)
			}
			if s := mustStatus(t, m, p.SubscriptionID, tc.wantState); s.PlanID != tc.wantPlan {
				t.Fatalf("plan = %s, want %s", s.PlanID, tc.wantPlan)
			}
			// The outcome is used up: the next operation succeeds.
			if tc.wantState == Subscribed {
				next := `{"planId":"seats-monthly"}`
				if rec := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+av, next); rec.Code != 202 {
					t.Fatalf("next PATCH = %d %s", rec.Code, rec.Body)
				}
				clk.Advance(30 * time.Second)
				if s := mustStatus(t, m, p.SubscriptionID, Subscribed); s.PlanID != "seats-monthly" || *s.Quantity != 1 {
					t.Fatalf("next op did not succeed: %+v", s)
				}
			}
		})
	}
}

func TestListOperationsShowsOnlyReinstateUnlessAskedForAll(t *testing.T) {
	for _, quirk := range []bool{false, true} {
		m, _ := newFake(t, WithOutstandingOnlyReinstate(quirk))
		a := subscribed(t, m, "flat-monthly")
		b := subscribed(t, m, "flat-monthly")
		m.ChangePlan(a.SubscriptionID, "flat-yearly")
		m.Suspend(b.SubscriptionID)
		m.Reinstate(b.SubscriptionID)
		na := len(decodeBody[OperationList](t, do(t, m, "GET", "/saas/subscriptions/"+a.SubscriptionID+"/operations"+av, "")).Operations)
		nb := len(decodeBody[OperationList](t, do(t, m, "GET", "/saas/subscriptions/"+b.SubscriptionID+"/operations"+av, "")).Operations)
		wantA := 1
		if quirk {
			wantA = 0
		}
		if na != wantA || nb != 1 {
			t.Fatalf("quirk=%v: listed %d ChangePlan and %d Reinstate, want %d and 1", quirk, na, nb, wantA)
		}
	}
}

func TestCompleteOperation(t *testing.T) {
	m, _ := newFake(t)
	p := subscribed(t, m, "flat-monthly")
	op, _ := m.ChangePlan(p.SubscriptionID, "flat-yearly")
	if err := m.CompleteOperation(p.SubscriptionID, op.ID, OpInProgress); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("non-final status: %v", err)
	}
	if err := m.CompleteOperation(p.SubscriptionID, op.ID, OpFailed); err != nil {
		t.Fatal(err)
	}
	if err := m.CompleteOperation(p.SubscriptionID, op.ID, OpSucceeded); !errors.Is(err, ErrOperationFinal) {
		t.Fatalf("second completion: %v", err)
	}
	if s := mustStatus(t, m, p.SubscriptionID, Subscribed); s.PlanID != "flat-monthly" {
		t.Fatal("rejected change applied")
	}
	sus, _ := m.Suspend(p.SubscriptionID)
	if err := m.CompleteOperation(p.SubscriptionID, sus.ID, OpFailed); !errors.Is(err, ErrOperationFinal) {
		t.Fatalf("suspend: %v", err)
	}
	if err := m.CompleteOperation(p.SubscriptionID, "nope", OpFailed); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown op: %v", err)
	}
	if err := m.CompleteOperation("nope", op.ID, OpFailed); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown sub: %v", err)
	}
	// Superseded: the change waits while the subscription gets suspended.
	q := subscribed(t, m, "flat-monthly")
	cp, _ := m.ChangePlan(q.SubscriptionID, "flat-yearly")
	m.Suspend(q.SubscriptionID)
	if err := m.CompleteOperation(q.SubscriptionID, cp.ID, OpSucceeded); !errors.Is(err, ErrSuperseded) {
		t.Fatalf("superseded: %v", err)
	}
	if got, _ := m.Operation(q.SubscriptionID, cp.ID); got.Status != OpConflict {
		t.Fatalf("superseded op = %s", got.Status)
	}
	// A publisher-initiated op cannot be completed by the webhook sender.
	m2, _ := newFake(t, WithOperationLatency(time.Hour))
	s := subscribed(t, m2, "flat-monthly")
	do(t, m2, "PATCH", "/saas/subscriptions/"+s.SubscriptionID+av, `{"planId":"flat-yearly"}`)
	pop := m2.Operations(s.SubscriptionID)[0]
	if err := m2.CompleteOperation(s.SubscriptionID, pop.ID, OpSucceeded); !errors.Is(err, ErrOperationImmutable) {
		t.Fatalf("partner op: %v", err)
	}
}

func TestSupersededPatchAnswers409WithoutViolation(t *testing.T) {
	m, _ := newFake(t)
	p := subscribed(t, m, "flat-monthly")
	cp, _ := m.ChangePlan(p.SubscriptionID, "flat-yearly")
	m.Suspend(p.SubscriptionID)
	if rec := do(t, m, "PATCH", opPath(p.SubscriptionID, cp.ID), `{"status":"Success"}`); rec.Code != 409 {
		t.Fatalf("PATCH = %d", rec.Code)
	}
	if m.Violations().Len() != 0 {
		t.Fatalf("violations: %v", m.Violations().All())
	}
	if s := mustStatus(t, m, p.SubscriptionID, Suspended); s.PlanID != "flat-monthly" {
		t.Fatal("plan changed on a suspended subscription")
	}
}
