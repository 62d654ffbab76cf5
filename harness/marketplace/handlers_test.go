package marketplace

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/violation"
)

const av = "?api-version=2018-08-31"

func TestActivateChecksBody(t *testing.T) {
	cases := []struct {
		name     string
		plan     string
		resolve  bool
		body     string
		code     int
		rules    []string
		severity violation.Severity
		status   SubscriptionStatus
	}{
		{"correct flat", "flat-monthly", true, `{"planId":"flat-monthly"}`, 200, nil, "", Subscribed},
		{"correct per-seat", "seats-yearly", true, `{"planId":"seats-yearly","quantity":5}`, 200, nil, "", Subscribed},
		// The current docs need only the subscription id: a body without
		// the plan or the seats activates, with a warning (spec/README.md).
		{"no planId", "flat-monthly", true, `{}`, 200, []string{"FUL-ACTIVATE-01"}, violation.Warning, Subscribed},
		{"zero-byte body", "flat-monthly", true, ``, 200, []string{"FUL-ACTIVATE-01"}, violation.Warning, Subscribed},
		{"per-seat empty object", "seats-yearly", true, `{}`, 200, []string{"FUL-ACTIVATE-01"}, violation.Warning, Subscribed},
		{"per-seat without quantity", "seats-yearly", true, `{"planId":"seats-yearly"}`, 200, []string{"FUL-ACTIVATE-01"}, violation.Warning, Subscribed},
		{"per-seat quantity without planId", "seats-yearly", true, `{"quantity":5}`, 200, []string{"FUL-ACTIVATE-01"}, violation.Warning, Subscribed},
		{"no planId before resolve", "flat-monthly", false, `{}`, 200, []string{"FUL-ACTIVATE-01", "FUL-ACTIVATE-02"}, violation.Warning, Subscribed},
		// A value that differs from the purchase stays an error, and 400.
		{"other plan", "flat-monthly", true, `{"planId":"flat-yearly"}`, 400, []string{"FUL-ACTIVATE-01"}, violation.Error, PendingFulfillmentStart},
		{"empty-string planId", "flat-monthly", true, `{"planId":""}`, 400, []string{"FUL-ACTIVATE-01"}, violation.Error, PendingFulfillmentStart},
		{"per-seat wrong quantity without planId", "seats-yearly", true, `{"quantity":6}`, 400, []string{"FUL-ACTIVATE-01"}, violation.Error, PendingFulfillmentStart},
		{"per-seat wrong quantity", "seats-yearly", true, `{"planId":"seats-yearly","quantity":6}`, 400, []string{"FUL-ACTIVATE-01"}, violation.Error, PendingFulfillmentStart},
		{"flat with quantity warns", "flat-monthly", true, `{"planId":"flat-monthly","quantity":1}`, 200, []string{"FUL-ACTIVATE-01"}, violation.Warning, Subscribed},
		{"before resolve", "flat-monthly", false, `{"planId":"flat-monthly"}`, 200, []string{"FUL-ACTIVATE-02"}, violation.Error, Subscribed},
		{"before resolve and wrong plan", "flat-monthly", false, `{"planId":"x"}`, 400, []string{"FUL-ACTIVATE-01", "FUL-ACTIVATE-02"}, violation.Error, PendingFulfillmentStart},
		{"malformed JSON", "flat-monthly", true, `{"planId":`, 400, nil, "", PendingFulfillmentStart},
		{"wrong JSON type", "flat-monthly", true, `{"planId":42}`, 400, nil, "", PendingFulfillmentStart},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newFake(t)
			p := buy(t, m, tc.plan)
			if tc.resolve {
				resolveToken(t, m, p.Token)
			}
			rec := do(t, m, "POST", "/saas/subscriptions/"+p.SubscriptionID+"/activate"+av, tc.body)
			if rec.Code != tc.code {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
			vs := m.Violations().All()
			if got := rulesOf(vs); !sameStrings(got, tc.rules) {
				t.Fatalf("rules = %v, want %v (%v)", got, tc.rules, vs)
			}
			if len(vs) > 0 && vs[0].Severity != tc.severity {
				t.Fatalf("severity = %s, want %s", vs[0].Severity, tc.severity)
			}
			for _, v := range vs {
				if v.Fix == "" || v.Summary == "" || v.SubscriptionID != p.SubscriptionID || v.Status != tc.code || v.Method != "POST" {
					t.Errorf("incomplete violation %+v", v)
				}
			}
			s := mustStatus(t, m, p.SubscriptionID, tc.status)
			if tc.status == Subscribed {
				if s.Term.StartDate == nil || !s.Term.StartDate.Equal(t0) || s.Term.EndDate == nil {
					t.Fatalf("term = %+v", s.Term)
				}
				wantEnd := t0.AddDate(0, 1, 0)
				if tc.plan == "seats-yearly" {
					wantEnd = t0.AddDate(1, 0, 0)
				}
				if !s.Term.EndDate.Equal(wantEnd) {
					t.Fatalf("endDate = %v, want %v", s.Term.EndDate, wantEnd)
				}
			} else if s.Term.StartDate != nil {
				t.Fatalf("term started without activation: %+v", s.Term)
			}
		})
	}
}

func TestUpdateSubscriptionChecks(t *testing.T) {
	cases := []struct {
		name    string
		plan    string
		allowed []string
		busy    bool // a customer change is in progress
		body    string
		code    int
		rule    string
	}{
		{"change plan", "flat-monthly", nil, false, `{"planId":"flat-yearly"}`, 202, ""},
		{"change quantity", "seats-monthly", nil, false, `{"quantity":7}`, 202, ""},
		{"both fields", "seats-monthly", nil, false, `{"planId":"seats-yearly","quantity":7}`, 400, "FUL-UPDATE-01"},
		{"neither field", "seats-monthly", nil, false, `{}`, 400, "FUL-UPDATE-01"},
		{"update not allowed", "flat-monthly", []string{"Read", "Delete"}, false, `{"planId":"flat-yearly"}`, 400, "FUL-UPDATE-03"},
		{"operation in progress", "flat-monthly", nil, true, `{"planId":"flat-yearly"}`, 409, "FUL-UPDATE-02"},
		{"unknown plan", "flat-monthly", nil, false, `{"planId":"gold"}`, 400, "FUL-UPDATE-03"},
		{"same plan", "flat-monthly", nil, false, `{"planId":"flat-monthly"}`, 400, "FUL-UPDATE-03"},
		{"quantity on flat plan", "flat-monthly", nil, false, `{"quantity":3}`, 400, "FUL-UPDATE-03"},
		{"quantity above max", "seats-monthly", nil, false, `{"quantity":101}`, 400, "FUL-UPDATE-03"},
		{"quantity below min", "seats-monthly", nil, false, `{"quantity":0}`, 400, "FUL-UPDATE-03"},
		{"same quantity", "seats-monthly", nil, false, `{"quantity":1}`, 400, "FUL-UPDATE-03"},
		{"malformed JSON", "flat-monthly", nil, false, `{"planId"`, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newFake(t)
			p, err := m.Purchase(PurchaseRequest{OfferID: offer, PlanID: tc.plan, AllowedCustomerOperations: tc.allowed})
			if err != nil {
				t.Fatal(err)
			}
			resolveToken(t, m, p.Token)
			do(t, m, "POST", "/saas/subscriptions/"+p.SubscriptionID+"/activate"+av, activateBody(p))
			if tc.busy {
				if _, err := m.ChangePlan(p.SubscriptionID, "private-enterprise"); err != nil {
					t.Fatal(err)
				}
			}
			rec := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+av, tc.body)
			if rec.Code != tc.code {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
			var want []string
			if tc.rule != "" {
				want = []string{tc.rule}
			}
			if got := rulesOf(m.Violations().All()); !sameStrings(got, want) {
				t.Fatalf("rules = %v, want %v", m.Violations().All(), want)
			}
			loc := rec.Header().Get("Operation-Location")
			if tc.code == 202 {
				if rec.Body.Len() != 0 || !strings.HasPrefix(loc, "http://example.com/api/saas/subscriptions/"+p.SubscriptionID+"/operations/") ||
					!strings.HasSuffix(loc, "?api-version=2018-08-31") {
					t.Fatalf("202 body %q Operation-Location %q", rec.Body, loc)
				}
			} else if loc != "" {
				t.Fatalf("Operation-Location on %d", rec.Code)
			}
			// A rejected PATCH changes nothing.
			if tc.code != 202 {
				if s := mustStatus(t, m, p.SubscriptionID, Subscribed); s.PlanID != tc.plan {
					t.Fatalf("plan changed to %s", s.PlanID)
				}
			}
		})
	}
}

func TestPublisherPatchFollowsOperationLocation(t *testing.T) {
	m, clk := newFake(t, WithOperationLatency(5*time.Second))
	var events []Event
	m.OnEvent(func(e Event) { events = append(events, e) })
	p := subscribed(t, m, "seats-monthly")
	rec := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+av, `{"quantity":9}`)
	if rec.Code != 202 {
		t.Fatalf("PATCH = %d", rec.Code)
	}
	loc := rec.Header().Get("Operation-Location")
	path := strings.TrimPrefix(loc, "http://example.com/api")
	op := decodeBody[Operation](t, do(t, m, "GET", path, ""))
	if op.Status != OpInProgress || op.Action != ActionChangeQuantity || op.OperationRequestSource != SourcePartner || *op.Quantity != 9 {
		t.Fatalf("op = %+v", op)
	}
	if s := mustStatus(t, m, p.SubscriptionID, Subscribed); *s.Quantity != 1 {
		t.Fatal("quantity changed before the operation completed")
	}
	// The publisher may not answer its own operation.
	if rec := do(t, m, "PATCH", path, `{"status":"Success"}`); rec.Code != 400 || !sameStrings(rulesOf(m.Violations().All()), []string{"FUL-OP-01"}) {
		t.Fatalf("PATCH own op = %d, violations %v", rec.Code, m.Violations().All())
	}
	clk.Advance(5 * time.Second)
	op = decodeBody[Operation](t, do(t, m, "GET", path, ""))
	if op.Status != OpSucceeded {
		t.Fatalf("after latency op = %s", op.Status)
	}
	if s := mustStatus(t, m, p.SubscriptionID, Subscribed); *s.Quantity != 9 {
		t.Fatalf("quantity = %d, want 9", *s.Quantity)
	}
	if len(events) != 1 || events[0].Payload.OperationRequestSource != SourcePartner || events[0].Payload.Action != ActionChangeQuantity {
		t.Fatalf("events = %+v", events)
	}
}

func TestPartnerNotificationsOff(t *testing.T) {
	m, _ := newFake(t, WithPartnerNotifications(false))
	p := subscribed(t, m, "flat-monthly")
	if rec := do(t, m, "DELETE", "/saas/subscriptions/"+p.SubscriptionID+av, ""); rec.Code != 202 {
		t.Fatalf("DELETE = %d", rec.Code)
	}
	if n := len(m.Events()); n != 0 {
		t.Fatalf("events = %d, want 0", n)
	}
}

func TestDeleteSubscription(t *testing.T) {
	t.Run("completes to Unsubscribed and fails other ops", func(t *testing.T) {
		m, _ := newFake(t)
		p := subscribed(t, m, "flat-monthly")
		rec := do(t, m, "DELETE", "/saas/subscriptions/"+p.SubscriptionID+av, "")
		if rec.Code != 202 || rec.Header().Get("Operation-Location") == "" {
			t.Fatalf("DELETE = %d", rec.Code)
		}
		mustStatus(t, m, p.SubscriptionID, Unsubscribed) // latency 0: settled on the next call
		ops := m.Operations(p.SubscriptionID)
		if len(ops) != 1 || ops[0].Action != ActionUnsubscribe || ops[0].Status != OpSucceeded {
			t.Fatalf("ops = %+v", ops)
		}
	})
	t.Run("Delete not allowed", func(t *testing.T) {
		m, _ := newFake(t)
		p, _ := m.Purchase(PurchaseRequest{OfferID: offer, PlanID: "flat-monthly", AllowedCustomerOperations: []string{"Read"}})
		if rec := do(t, m, "DELETE", "/saas/subscriptions/"+p.SubscriptionID+av, ""); rec.Code != 400 {
			t.Fatalf("DELETE = %d", rec.Code)
		}
		if got := rulesOf(m.Violations().All()); !sameStrings(got, []string{"FUL-UPDATE-03"}) {
			t.Fatalf("rules = %v", got)
		}
	})
	t.Run("plan change in progress is no obstacle", func(t *testing.T) {
		m, clk := newFake(t)
		p := subscribed(t, m, "flat-monthly")
		change, err := m.ChangePlan(p.SubscriptionID, "flat-yearly")
		if err != nil {
			t.Fatal(err)
		}
		if rec := do(t, m, "DELETE", "/saas/subscriptions/"+p.SubscriptionID+av, ""); rec.Code != 202 {
			t.Fatalf("DELETE = %d", rec.Code)
		}
		if vs := m.Violations().All(); len(vs) != 0 {
			t.Fatalf("violations = %v", vs)
		}
		clk.Advance(time.Millisecond)
		m.Settle()
		if op, _ := m.Operation(p.SubscriptionID, change.ID); op.Status != OpFailed {
			t.Fatalf("pending plan change after cancellation = %s, want Failed", op.Status)
		}
		if s, _ := m.Subscription(p.SubscriptionID); s.SaasSubscriptionStatus != Unsubscribed || s.PlanID != "flat-monthly" {
			t.Fatalf("subscription = %s %s", s.SaasSubscriptionStatus, s.PlanID)
		}
	})
	t.Run("second DELETE while the first runs", func(t *testing.T) {
		m, _ := newFake(t, WithOperationLatency(time.Minute))
		p := subscribed(t, m, "flat-monthly")
		if rec := do(t, m, "DELETE", "/saas/subscriptions/"+p.SubscriptionID+av, ""); rec.Code != 202 {
			t.Fatalf("first DELETE = %d", rec.Code)
		}
		if rec := do(t, m, "DELETE", "/saas/subscriptions/"+p.SubscriptionID+av, ""); rec.Code != 409 {
			t.Fatalf("second DELETE = %d", rec.Code)
		}
		if got := rulesOf(m.Violations().All()); !sameStrings(got, []string{"FUL-UPDATE-02"}) {
			t.Fatalf("rules = %v", got)
		}
	})
}

func TestListAvailablePlans(t *testing.T) {
	m, _ := newFake(t)
	p := buy(t, m, "flat-monthly")
	all := decodeBody[PlanList](t, do(t, m, "GET", "/saas/subscriptions/"+p.SubscriptionID+"/listAvailablePlans"+av, ""))
	o, _ := m.Catalog().Offer(offer)
	if len(all.Plans) != len(o.Plans) {
		t.Fatalf("plans = %d, want %d", len(all.Plans), len(o.Plans))
	}
	one := decodeBody[PlanList](t, do(t, m, "GET", "/saas/subscriptions/"+p.SubscriptionID+"/listAvailablePlans"+av+"&planId=seats-yearly", ""))
	if len(one.Plans) != 1 || one.Plans[0].PlanID != "seats-yearly" || *one.Plans[0].MinQuantity != 5 || !one.Plans[0].IsPricePerSeat {
		t.Fatalf("filtered = %+v", one.Plans)
	}
	none := do(t, m, "GET", "/saas/subscriptions/"+p.SubscriptionID+"/listAvailablePlans"+av+"&planId=nope", "")
	if strings.TrimSpace(none.Body.String()) != `{"plans":[]}` {
		t.Fatalf("unknown plan filter = %s", none.Body)
	}
}

func TestHeadersEchoedOrMadeUp(t *testing.T) {
	m, _ := newFake(t)
	rec := do(t, m, "GET", "/saas/subscriptions"+av, "", hdrRequestID, "r-1", hdrCorrelationID, "c-1")
	if rec.Header().Get(hdrRequestID) != "r-1" || rec.Header().Get(hdrCorrelationID) != "c-1" {
		t.Fatalf("headers = %v", rec.Header())
	}
	for _, path := range []string{"/saas/subscriptions" + av, "/nowhere"} {
		rec = do(t, m, "GET", path, "")
		if len(rec.Header().Get(hdrRequestID)) != 36 || len(rec.Header().Get(hdrCorrelationID)) != 36 {
			t.Fatalf("%s: generated ids = %v", path, rec.Header())
		}
	}
}

func TestUnknownRoutesAreJSON404(t *testing.T) {
	m, _ := newFake(t)
	p := buy(t, m, "flat-monthly")
	for _, tc := range []struct{ method, path string }{
		{"GET", "/saas/nothing"},
		{"PUT", "/saas/subscriptions/" + p.SubscriptionID}, // v1 activation shape
		{"POST", "/saas/subscriptions/" + p.SubscriptionID},
		{"GET", "/saas/subscriptions/" + p.SubscriptionID + "/activate"},
		{"GET", "/saas/subscriptions/a/b/c/d/e"},
		{"GET", "/saas//subscriptions"},
		{"GET", "/saas/subscriptions/../subscriptions"},
	} {
		rec := do(t, m, tc.method, tc.path+av, "")
		if rec.Code != 404 || decodeBody[ErrorResponse](t, rec).Error.Code != "NotFound" {
			t.Errorf("%s %s = %d %s", tc.method, tc.path, rec.Code, rec.Body)
		}
	}
	req := httptest.NewRequest("GET", "/elsewhere", nil)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	if rec.Code != 404 {
		t.Fatalf("outside base path = %d", rec.Code)
	}
}

func TestBodyTooLargeIs413(t *testing.T) {
	m, _ := newFake(t, WithMaxBodyBytes(64))
	p := subscribed(t, m, "seats-monthly")
	body := `{"quantity":2,"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	rec := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+av, body)
	if rec.Code != 413 || decodeBody[ErrorResponse](t, rec).Error.Code != "PayloadTooLarge" {
		t.Fatalf("status = %d %s", rec.Code, rec.Body)
	}
	if ops := m.Operations(p.SubscriptionID); len(ops) != 0 {
		t.Fatalf("oversized PATCH made an operation: %+v", ops)
	}
	if rec := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+av, `{"quantity":2}`); rec.Code != 202 {
		t.Fatalf("small body = %d", rec.Code)
	}
}

func TestMalformedJSONNeverPanics(t *testing.T) {
	m, _ := newFake(t)
	p := subscribed(t, m, "seats-monthly")
	op, _ := m.ChangeQuantity(p.SubscriptionID, 3)
	bodies := []string{`{`, `[]`, `null`, `"x"`, `{"status":1}`, `{"quantity":"many"}`, "\x00\xff", `{"planId":null,"quantity":1e400}`}
	paths := []struct{ method, path string }{
		{"POST", "/saas/subscriptions/" + p.SubscriptionID + "/activate"},
		{"PATCH", "/saas/subscriptions/" + p.SubscriptionID},
		{"PATCH", "/saas/subscriptions/" + p.SubscriptionID + "/operations/" + op.ID},
	}
	for _, pth := range paths {
		for _, b := range bodies {
			rec := do(t, m, pth.method, pth.path+av, b)
			if rec.Code < 400 || rec.Code >= 500 {
				t.Errorf("%s %s %q = %d, want 4xx", pth.method, pth.path, b, rec.Code)
			}
		}
	}
	if got := mustStatus(t, m, p.SubscriptionID, Subscribed); *got.Quantity != 1 {
		t.Fatalf("malformed bodies changed the subscription: %+v", got)
	}
}

func TestBaseURLOptionAndTLS(t *testing.T) {
	m, _ := newFake(t, WithBaseURL("https://127.0.0.1:8443/api/"), WithPageSize(1))
	buy(t, m, "flat-monthly")
	buy(t, m, "flat-monthly")
	page := decodeBody[SubscriptionPage](t, do(t, m, "GET", "/saas/subscriptions"+av, ""))
	if !strings.HasPrefix(page.NextLink, "https://127.0.0.1:8443/api/saas/subscriptions?api-version=2018-08-31&continuationToken=") {
		t.Fatalf("nextLink = %q", page.NextLink)
	}
	m2, _ := newFake(t, WithPageSize(1), WithBasePath("/mp"))
	buy(t, m2, "flat-monthly")
	buy(t, m2, "flat-monthly")
	req := httptest.NewRequest("GET", "https://fake.test/mp/saas/subscriptions/"+av, nil)
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	m2.ServeHTTP(rec, req.WithContext(context.Background()))
	page = decodeBody[SubscriptionPage](t, rec)
	if !strings.HasPrefix(page.NextLink, "https://fake.test/mp/saas/subscriptions?") {
		t.Fatalf("derived nextLink = %q (status %d)", page.NextLink, rec.Code)
	}
}

// TestActivateWithoutPlanSaysWhy: the warning for a body without the plan
// names what the current docs need and what is still recommended, and
// stays one violation however many fields are missing.
func TestActivateWithoutPlanSaysWhy(t *testing.T) {
	for _, body := range []string{``, `{}`} {
		m, _ := newFake(t)
		p := buy(t, m, "seats-yearly")
		resolveToken(t, m, p.Token)
		if rec := do(t, m, "POST", "/saas/subscriptions/"+p.SubscriptionID+"/activate"+av, body); rec.Code != 200 {
			t.Fatalf("%q: status = %d: %s", body, rec.Code, rec.Body)
		}
		vs := m.Violations().All()
		if len(vs) != 1 {
			t.Fatalf("%q: violations = %v, want one warning", body, vs)
		}
		v := vs[0]
		for _, want := range []string{"only the subscription id", "recommended", "seats-yearly", "5"} {
			if !strings.Contains(v.Summary+" "+v.Want+" "+v.Fix, want) {
				t.Errorf("%q: violation %q lacks %q", body, v.String(), want)
			}
		}
		s := mustStatus(t, m, p.SubscriptionID, Subscribed)
		if s.PlanID != "seats-yearly" || s.Quantity == nil || *s.Quantity != 5 {
			t.Errorf("%q: activated as %s × %s, want the purchase", body, s.PlanID, fmtQty(s.Quantity))
		}
	}
}
