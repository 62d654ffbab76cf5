package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/saasconform/saasconform/examples/publisher/app"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/profile"
)

// expect waits until both the publisher's probe and Microsoft's view show
// what a flow should leave behind (STATE-06).
func expect(t *testing.T, p *pub, id string, state string, status marketplace.SubscriptionStatus, check func(probe, marketplace.Subscription) bool) {
	t.Helper()
	eventually(t, "subscription "+id+" reaches "+state+"/"+string(status), func() (bool, string) {
		got, ok := p.probe(id)
		sub, _ := p.e.m.Subscription(id)
		if !ok || got.State != state || sub.SaasSubscriptionStatus != status {
			return false, fmtState(got, ok) + " fake=" + string(sub.SaasSubscriptionStatus)
		}
		if check != nil && !check(got, sub) {
			return false, fmtState(got, ok) + " fake plan=" + sub.PlanID
		}
		return true, ""
	})
}

// deliver POSTs the event of op to the webhook as Microsoft would.
func deliver(t *testing.T, p *pub, op marketplace.Operation, v identity.TokenVersion) marketplace.Event {
	t.Helper()
	ev := p.e.eventFor(op.ID)
	if status, body := p.webhook(ev.Payload, p.e.genuine(v)); status != http.StatusOK {
		t.Fatalf("webhook %s: %d %s", op.Action, status, body)
	}
	return ev
}

func TestEndToEndLifecycle(t *testing.T) {
	e := newEnv(t)
	p := e.publisher(func(c *app.Config) { c.RejectPlans = []string{"private-enterprise"} })

	// Purchase a flat plan and activate it through the landing page.
	buy := e.purchase(marketplace.PurchaseRequest{PlanID: "flat-monthly"})
	p.activate(buy)
	id := buy.SubscriptionID
	expect(t, p, id, "active", marketplace.Subscribed, func(got probe, sub marketplace.Subscription) bool {
		return got.Plan == "flat-monthly" && got.Seats == nil && got.CustomerTenant == sub.Beneficiary.TenantID
	})

	// A "Manage account" revisit resolves but never activates again.
	tok, err := e.m.IssueToken(id)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := p.get("/landing?token=" + url.QueryEscape(tok)); status != http.StatusOK || !strings.Contains(body, "Manage your account") {
		t.Fatalf("revisit: %d %s", status, body)
	}

	// ChangePlan, accepted.
	op, err := e.m.ChangePlan(id, "flat-yearly")
	if err != nil {
		t.Fatal(err)
	}
	ev := deliver(t, p, op, identity.V2)
	expect(t, p, id, "active", marketplace.Subscribed, func(got probe, sub marketplace.Subscription) bool {
		return got.Plan == "flat-yearly" && sub.PlanID == "flat-yearly"
	})
	// The same notification again: a duplicate changes nothing and is not
	// answered a second time (that would be a FUL-OP-01 violation).
	if status, _ := p.webhook(ev.Payload, e.genuine(identity.V2)); status != http.StatusOK {
		t.Fatalf("duplicate delivery: %d", status)
	}

	// ChangePlan to a plan the publisher refuses: PATCH Failure.
	op, err = e.m.ChangePlan(id, "private-enterprise")
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, p, op, identity.V1) // a v1 token is as good as a v2 one
	eventually(t, "rejected ChangePlan fails", func() (bool, string) {
		o, _ := e.m.Operation(id, op.ID)
		return o.Status == marketplace.OpFailed, string(o.Status)
	})
	if got, _ := p.probe(id); got.Plan != "flat-yearly" {
		t.Fatalf("plan after rejection = %q", got.Plan)
	}

	// Suspend, Reinstate, Renew.
	op, err = e.m.Suspend(id)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, p, op, identity.V2)
	expect(t, p, id, "suspended", marketplace.Suspended, nil)

	op, err = e.m.Reinstate(id)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, p, op, identity.V2)
	expect(t, p, id, "active", marketplace.Subscribed, nil)
	if o, _ := e.m.Operation(id, op.ID); o.Status != marketplace.OpSucceeded {
		t.Fatalf("Reinstate operation %s, want Succeeded by the publisher's PATCH", o.Status)
	}

	op, err = e.m.Renew(id)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, p, op, identity.V2)
	expect(t, p, id, "active", marketplace.Subscribed, func(got probe, _ marketplace.Subscription) bool { return got.Renewals == 1 })

	// A per-seat purchase and a ChangeQuantity.
	seats := e.purchase(marketplace.PurchaseRequest{PlanID: "seats-monthly", Quantity: 5})
	p.activate(seats)
	expect(t, p, seats.SubscriptionID, "active", marketplace.Subscribed, func(got probe, _ marketplace.Subscription) bool {
		return got.Seats != nil && *got.Seats == 5
	})
	op, err = e.m.ChangeQuantity(seats.SubscriptionID, 8)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, p, op, identity.V2)
	expect(t, p, seats.SubscriptionID, "active", marketplace.Subscribed, func(got probe, sub marketplace.Subscription) bool {
		return got.Seats != nil && *got.Seats == 8 && sub.Quantity != nil && *sub.Quantity == 8
	})

	// Unsubscribe.
	op, err = e.m.Unsubscribe(id)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, p, op, identity.V2)
	expect(t, p, id, "cancelled", marketplace.Unsubscribed, nil)

	// An action the publisher does not know is acknowledged and ignored.
	unknown := ev.Payload
	unknown.ID, unknown.Action = "00000000-0000-4000-8000-000000000001", "Transfer"
	if status, _ := p.webhook(unknown, e.genuine(identity.V2)); status != http.StatusOK {
		t.Fatalf("unknown action: %d", status)
	}

	// A CSP purchase: the account belongs to the beneficiary.
	csp := e.purchase(marketplace.PurchaseRequest{PlanID: "flat-monthly", Kind: marketplace.CSP})
	p.activate(csp)
	expect(t, p, csp.SubscriptionID, "active", marketplace.Subscribed, func(got probe, sub marketplace.Subscription) bool {
		return got.CustomerTenant == sub.Beneficiary.TenantID && got.CustomerTenant != sub.Purchaser.TenantID
	})

	// Close drains the worker, so every answer to Microsoft has been sent.
	p.a.Close()
	e.noErrors()
}

func TestEndToEndLandingEdgeCases(t *testing.T) {
	e := newEnv(t)
	p := e.publisher(nil)

	// An unknown or expired token is the customer's problem to fix: 400, a
	// friendly page, never 500.
	status, body := p.get("/landing?token=" + url.QueryEscape("bm90+YS9yZWFs/dG9rZW4="))
	if status != http.StatusBadRequest || !strings.Contains(body, "expired") {
		t.Fatalf("bad token: %d %s", status, body)
	}
	// Confirming something never resolved is refused without an API call.
	if status, _ := p.postForm("/landing/activate", url.Values{"subscriptionId": {"00000000-0000-4000-8000-000000000000"}}); status != http.StatusBadRequest {
		t.Fatalf("confirm without resolve: %d", status)
	}
	// Confirming twice: the second is a revisit.
	buy := e.purchase(marketplace.PurchaseRequest{PlanID: "seats-yearly", Quantity: 7})
	p.activate(buy)
	status, body = p.postForm("/landing/activate", url.Values{"subscriptionId": {buy.SubscriptionID}})
	if status != http.StatusOK || !strings.Contains(body, "Manage your account") {
		t.Fatalf("second confirm: %d %s", status, body)
	}
	activates := 0
	for _, x := range e.Exchanges() {
		if x.Operation == "activate" {
			activates++
		}
	}
	if activates != 1 {
		t.Fatalf("activate called %d times, want 1", activates)
	}
	e.noErrors()
}

// TestEndToEndUnknownActions: Transfer (in Microsoft's accelerator, never
// documented) and an action nobody has invented yet are acknowledged and
// change nothing, though the operation they name is unknown to Microsoft.
func TestEndToEndUnknownActions(t *testing.T) {
	e := newEnv(t)
	p := e.publisher(nil)
	buy := e.purchase(marketplace.PurchaseRequest{PlanID: "flat-monthly"})
	p.activate(buy)
	id := buy.SubscriptionID
	expect(t, p, id, "active", marketplace.Subscribed, nil)
	op, err := e.m.Renew(id)
	if err != nil {
		t.Fatal(err)
	}
	template := deliver(t, p, op, identity.V2).Payload
	for _, action := range []marketplace.Action{"Transfer", "FutureAction"} {
		ev := template
		ev.ID, ev.ActivityID, ev.Action = uuid.NewString(), uuid.NewString(), action
		if status, body := p.webhook(ev, e.genuine(identity.V2)); status != http.StatusOK {
			t.Fatalf("%s: %d %s", action, status, body)
		}
	}
	p.a.Close()
	for _, x := range e.Exchanges() {
		if x.Method == http.MethodPatch || x.Method == http.MethodDelete {
			t.Errorf("an unknown action caused %s %s", x.Method, x.URL)
		}
	}
	got, ok := p.probe(id)
	if sub, _ := e.m.Subscription(id); !ok || got.State != "active" || sub.SaasSubscriptionStatus != marketplace.Subscribed {
		t.Fatalf("after unknown actions: %s, Microsoft %s", fmtState(got, ok), sub.SaasSubscriptionStatus)
	}
	e.noErrors()
}

func TestEndToEndAdminChanges(t *testing.T) {
	e := newEnv(t)
	p := e.publisher(nil)

	buy := e.purchase(marketplace.PurchaseRequest{PlanID: "flat-monthly"})
	p.activate(buy)
	id := buy.SubscriptionID

	// Publisher-initiated plan change: PATCH → 202 → follow Operation-Location.
	status, body := p.post("/admin/subscriptions/" + id + "/plan?to=flat-yearly")
	if status != http.StatusOK {
		t.Fatalf("admin plan: %d %s", status, body)
	}
	var res struct{ OperationID, Status string }
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.Status != "Succeeded" || res.OperationID == "" {
		t.Fatalf("admin plan answer %s (%v)", body, err)
	}
	expect(t, p, id, "active", marketplace.Subscribed, func(got probe, sub marketplace.Subscription) bool {
		return got.Plan == "flat-yearly" && sub.PlanID == "flat-yearly"
	})
	// Microsoft also tells the webhook (operationRequestSource Partner);
	// the publisher must not PATCH its own operation.
	ev := e.eventFor(res.OperationID)
	if ev.Payload.OperationRequestSource != marketplace.SourcePartner {
		t.Fatalf("event source %q", ev.Payload.OperationRequestSource)
	}
	if status, _ := p.webhook(ev.Payload, e.genuine(identity.V2)); status != http.StatusOK {
		t.Fatalf("partner webhook: %d", status)
	}
	polled := false
	for _, x := range e.Exchanges() {
		if x.Operation == "getOperation" && strings.Contains(x.URL, res.OperationID) {
			polled = true
		}
	}
	if !polled {
		t.Fatal("the publisher never followed Operation-Location")
	}

	// An operation that fails: the publisher's view does not move.
	e.m.SetOutcome(id, marketplace.OpFailed)
	status, body = p.post("/admin/subscriptions/" + id + "/plan?to=flat-monthly")
	if status != http.StatusConflict || !strings.Contains(body, "Failed") {
		t.Fatalf("failed change: %d %s", status, body)
	}
	if got, _ := p.probe(id); got.Plan != "flat-yearly" {
		t.Fatalf("plan after failed operation = %q", got.Plan)
	}

	// A refused PATCH (same plan) is a 502 carrying the marketplace status.
	status, body = p.post("/admin/subscriptions/" + id + "/plan?to=flat-yearly")
	if status != http.StatusBadGateway || !strings.Contains(body, `"status":400`) {
		t.Fatalf("refused change: %d %s", status, body)
	}
	e.log.Reset() // that refusal was provoked on purpose (FUL-UPDATE-03)

	// Seats on a per-seat subscription.
	seats := e.purchase(marketplace.PurchaseRequest{PlanID: "seats-monthly", Quantity: 3})
	p.activate(seats)
	if status, body := p.post("/admin/subscriptions/" + seats.SubscriptionID + "/seats?to=9"); status != http.StatusOK {
		t.Fatalf("admin seats: %d %s", status, body)
	}
	expect(t, p, seats.SubscriptionID, "active", marketplace.Subscribed, func(got probe, sub marketplace.Subscription) bool {
		return got.Seats != nil && *got.Seats == 9 && *sub.Quantity == 9
	})

	// Cancel.
	if status, body := p.post("/admin/subscriptions/" + id + "/cancel"); status != http.StatusOK {
		t.Fatalf("admin cancel: %d %s", status, body)
	}
	expect(t, p, id, "cancelled", marketplace.Unsubscribed, nil)

	// Unknown subscription.
	if status, _ := p.get("/admin/subscriptions/00000000-0000-4000-8000-000000000000"); status != http.StatusNotFound {
		t.Fatalf("unknown probe: %d", status)
	}
	p.a.Close()
	e.noErrors()
}

func TestEndToEndReconcileFollowsNextLink(t *testing.T) {
	e := newEnv(t, marketplace.WithPageSize(1))
	p := e.publisher(nil)

	a := e.purchase(marketplace.PurchaseRequest{PlanID: "flat-monthly"})
	b := e.purchase(marketplace.PurchaseRequest{PlanID: "seats-monthly", Quantity: 4})
	c := e.purchase(marketplace.PurchaseRequest{PlanID: "flat-yearly"})
	p.activate(a)
	p.activate(b)
	// Microsoft changed b behind the publisher's back (a missed webhook).
	if _, err := e.m.Suspend(b.SubscriptionID); err != nil {
		t.Fatal(err)
	}

	status, body := p.post("/admin/reconcile")
	if status != http.StatusOK {
		t.Fatalf("reconcile: %d %s", status, body)
	}
	var res struct{ Subscriptions, Pages int }
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.Subscriptions != 3 || res.Pages != 3 {
		t.Fatalf("reconcile answer %s (%v), want 3 subscriptions on 3 pages", body, err)
	}
	continued := 0
	for _, x := range e.Exchanges() {
		if x.Operation == "listSubscriptions" && strings.Contains(x.URL, "continuationToken=") {
			continued++
		}
	}
	if continued != 2 {
		t.Fatalf("list calls with continuationToken = %d, want 2", continued)
	}
	if got, _ := p.probe(b.SubscriptionID); got.State != "suspended" {
		t.Fatalf("b after reconcile: %s", fmtState(got, true))
	}
	if got, ok := p.probe(c.SubscriptionID); !ok || got.State != "pending" {
		t.Fatalf("c after reconcile: %s", fmtState(got, ok))
	}
	if got, _ := p.probe(a.SubscriptionID); got.State != "active" {
		t.Fatalf("a after reconcile: %s", fmtState(got, true))
	}
	e.noErrors()
}

func TestEndToEndAutoActivation(t *testing.T) {
	e := newEnv(t)
	p := e.publisher(nil)
	auto := marketplace.PurchaseRequest{PlanID: "auto-monthly"}

	// Microsoft activated the purchase and sends Subscribe: the account is
	// provisioned from the subscription as Microsoft holds it.
	buy := e.purchase(auto)
	if buy.Subscribe == nil {
		t.Fatal("auto-monthly made no Subscribe operation")
	}
	deliver(t, p, *buy.Subscribe, identity.V2)
	expect(t, p, buy.SubscriptionID, "active", marketplace.Subscribed, func(got probe, sub marketplace.Subscription) bool {
		return got.Plan == "auto-monthly" && got.CustomerTenant == sub.Beneficiary.TenantID
	})
	if e.calls("getSubscription", buy.SubscriptionID) == 0 {
		t.Fatal("provisioned without reading the subscription")
	}
	// "Manage account" with the purchase's token: the account, no activate.
	if status, body := landingStatus(p, buy); status != http.StatusOK || !strings.Contains(body, "Manage your account") {
		t.Fatalf("manage visit: %d %s", status, body)
	}

	// The customer is faster than the notification: the landing visit
	// provisions the account, and the late Subscribe changes nothing.
	early := e.purchase(auto)
	if status, body := landingStatus(p, early); status != http.StatusOK || !strings.Contains(body, "Manage your account") {
		t.Fatalf("visit before Subscribe: %d %s", status, body)
	}
	expect(t, p, early.SubscriptionID, "active", marketplace.Subscribed, nil)
	deliver(t, p, *early.Subscribe, identity.V2)
	expect(t, p, early.SubscriptionID, "active", marketplace.Subscribed, nil)

	// Suspend and Unsubscribe work on it like on any other.
	deliver(t, p, must[marketplace.Operation](t)(e.m.Suspend(buy.SubscriptionID)), identity.V2)
	expect(t, p, buy.SubscriptionID, "suspended", marketplace.Suspended, nil)
	deliver(t, p, must[marketplace.Operation](t)(e.m.Unsubscribe(buy.SubscriptionID)), identity.V2)
	expect(t, p, buy.SubscriptionID, "cancelled", marketplace.Unsubscribed, nil)

	if n := e.calls("activate", ""); n != 0 {
		t.Fatalf("activate called %d times on automatically activated subscriptions", n)
	}
	e.noErrors()
	if vs := e.log.All(); len(vs) != 0 {
		t.Fatalf("violations: %v", vs)
	}
}

// TestEndToEndRetriesTransientReads: a read answered 503, 500 or 429 is
// asked again (after Retry-After for the 429) and the flow completes, in the
// production profile with its real error shapes.
func TestEndToEndRetriesTransientReads(t *testing.T) {
	e := newEnv(t, marketplace.WithProfile(profile.Production), marketplace.WithTransientFaults(0, 0))
	p := e.publisher(nil)
	buy := e.purchase(marketplace.PurchaseRequest{PlanID: "flat-monthly"})
	p.activate(buy)
	id := buy.SubscriptionID
	for _, f := range []marketplace.Fault{
		{Op: marketplace.OpGetOperation, SubscriptionID: id, Count: 1, Status: 503},
		{Op: marketplace.OpGetOperation, SubscriptionID: id, Count: 1, Status: 429, RetryAfter: time.Second},
		{Op: marketplace.OpGetOperation, SubscriptionID: id, Count: 1, Status: 500},
	} {
		if err := e.m.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	status, body := p.post("/admin/subscriptions/" + id + "/plan?to=flat-yearly")
	if status != http.StatusOK {
		t.Fatalf("admin plan with three transient faults on GET operation: %d %s", status, body)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("the change took %v: the 429's Retry-After of 1s was not waited for", took)
	}
	if n := e.calls("getOperation", id); n < 4 {
		t.Errorf("%d GET operation calls, want the three refused ones and at least one more", n)
	}
	if w := e.log.ForRule("FUL-RETRY-02"); len(w) != 0 {
		t.Errorf("retry before Retry-After: %v", w)
	}
}
