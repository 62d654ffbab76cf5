package driver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/violation"
)

// TestMicrosoftBackoffSpansEightHours: 500 retries over about eight hours,
// the only thing Microsoft documents about its schedule.
func TestMicrosoftBackoffSpansEightHours(t *testing.T) {
	var total time.Duration
	for n := 1; n < MicrosoftAttempts; n++ {
		d := MicrosoftBackoff(n)
		if d <= 0 || d > time.Minute {
			t.Fatalf("retry %d waits %v, want (0, 1m]", n, d)
		}
		total += d
	}
	if total < 7*time.Hour+50*time.Minute || total > 8*time.Hour+10*time.Minute {
		t.Errorf("500 retries span %v, want about 8h", total)
	}
	if MicrosoftBackoff(1) > 5*time.Second {
		t.Errorf("first retry after %v: a transient failure should be retried soon", MicrosoftBackoff(1))
	}
}

// activeSubscription buys a subscription and activates it as a publisher
// would, so operations can be started on it.
func activeSubscription(t *testing.T, m *marketplace.Marketplace) string {
	t.Helper()
	buy, err := m.Purchase(marketplace.PurchaseRequest{OfferID: "contoso-notes", PlanID: "flat-monthly"})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/api/saas/subscriptions/resolve?api-version=2018-08-31", nil)
	req.Header.Set("x-ms-marketplace-token", buy.Token)
	m.ServeHTTP(httptest.NewRecorder(), req)
	req = httptest.NewRequest("POST", "/api/saas/subscriptions/"+buy.SubscriptionID+"/activate?api-version=2018-08-31", strings.NewReader(`{"planId":"flat-monthly"}`))
	m.ServeHTTP(httptest.NewRecorder(), req)
	return buy.SubscriptionID
}

// TestSenderRetriesA503OnMicrosoftsScheduleWithoutWaiting: an app that
// answers 503 once and then 200 gets the notification again after the
// first back-off step, on the harness clock (no real wait), and a 503 to a
// ChangePlan is no rejection: the operation stays open for the app.
func TestSenderRetriesA503OnMicrosoftsScheduleWithoutWaiting(t *testing.T) {
	var calls atomic.Int32
	s, clk, log, m := senderFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	s.Attempts, s.Backoff = MicrosoftAttempts, MicrosoftBackoff
	sub := activeSubscription(t, m)
	op, err := m.ChangePlan(sub, "flat-yearly")
	if err != nil {
		t.Fatal(err)
	}
	ev := m.Events()[len(m.Events())-1]
	start, wall := clk.Now(), time.Now()
	d, err := s.Deliver(context.Background(), ev.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Attempts) != 2 || !d.Acked() || d.Attempts[0].Status != http.StatusServiceUnavailable {
		t.Fatalf("attempts = %+v, want 503 then 200", d.Attempts)
	}
	if moved := clk.Now().Sub(start); moved != MicrosoftBackoff(1) {
		t.Errorf("the retry moved the harness clock %v, want %v", moved, MicrosoftBackoff(1))
	}
	if took := time.Since(wall); took > 900*time.Millisecond {
		t.Errorf("the retry took %v of real time: the back-off must run on the harness clock", took)
	}
	if got, _ := m.Operation(sub, op.ID); got.Status != marketplace.OpInProgress {
		t.Errorf("operation %s after 503 then 200, want InProgress: a 5xx is not a rejection", got.Status)
	}
	if got := log.ForRule("WH-ACK-01"); len(got) != 1 || !strings.Contains(got[0].Summary, "answered 503") {
		t.Errorf("violations = %v, want the one 503", got)
	}
}

// TestSenderGivesUpAfterItsWallBudget: with Microsoft's 501 attempts, an
// app that keeps failing slowly does not hold the run for 501 answers.
func TestSenderGivesUpAfterItsWallBudget(t *testing.T) {
	var calls atomic.Int32
	s, _, _, _ := senderFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(30 * time.Millisecond)
		w.WriteHeader(http.StatusBadGateway)
	}))
	s.Attempts, s.Backoff, s.GiveUpAfter = MicrosoftAttempts, MicrosoftBackoff, 100*time.Millisecond
	d, _ := s.Deliver(context.Background(), payload(marketplace.ActionSuspend, marketplace.OpSucceeded))
	if n := len(d.Attempts); n < 2 || n > 6 {
		t.Errorf("%d attempts in a 100ms budget of 30ms answers, want a handful", n)
	}
	if d.Acked() {
		t.Error("acked without a 2xx")
	}
}

// TestSenderRedeliversAnAcknowledgedNotification: with Redeliver the app
// gets the notification twice, each with its own token, and the second
// delivery is kept apart, marked Duplicate.
func TestSenderRedeliversAnAcknowledgedNotification(t *testing.T) {
	var mu sync.Mutex
	var tokens []string
	s, _, log, _ := senderFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokens = append(tokens, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	s.Redeliver = true
	p := payload(marketplace.ActionRenew, marketplace.OpSucceeded)
	d, err := s.Deliver(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if d.Duplicate || !d.Acked() || len(d.Attempts) != 1 {
		t.Fatalf("first delivery = %+v", d)
	}
	all := s.DeliveriesFor(p.SubscriptionID)
	if len(all) != 2 || all[0].Duplicate || !all[1].Duplicate || !all[1].Acked() {
		t.Fatalf("deliveries = %+v, want the original and a duplicate", all)
	}
	if len(tokens) != 2 || tokens[0] == tokens[1] {
		t.Errorf("the duplicate reused the first token (%d POSTs)", len(tokens))
	}
	if log.Len() != 0 {
		t.Errorf("violations: %v", log.All())
	}

	// A notification the app refused is retried, not duplicated.
	var refused atomic.Int32
	s2, _, _, _ := senderFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	s2.Redeliver, s2.Attempts = true, 1
	if _, err := s2.Deliver(context.Background(), payload(marketplace.ActionRenew, marketplace.OpSucceeded)); err != nil {
		t.Fatal(err)
	}
	if refused.Load() != 1 {
		t.Errorf("a refused notification was sent %d times with one attempt, want 1", refused.Load())
	}
}

// TestSenderRecordsAFailingDeliveryOnce: an app that answers 500 to every
// one of Microsoft's retries is one finding, not one per retry: the first
// failed attempts are recorded each, the rest in one line that counts them.
func TestSenderRecordsAFailingDeliveryOnce(t *testing.T) {
	s, _, log, _ := senderFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	s.Attempts = 40
	d, err := s.Deliver(context.Background(), payload(marketplace.ActionSuspend, marketplace.OpSucceeded))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Attempts) != 40 {
		t.Fatalf("%d attempts, want 40", len(d.Attempts))
	}
	acks := log.Filter(func(v violation.Violation) bool { return v.Rule == "WH-ACK-01" })
	if len(acks) > maxAckRecords+1 {
		t.Errorf("%d WH-ACK-01 violations for one delivery, want at most %d", len(acks), maxAckRecords+1)
	}
	if last := acks[len(acks)-1]; !strings.Contains(last.Summary, "37 more attempts") {
		t.Errorf("the last violation does not count the rest: %q", last.Summary)
	}
}
