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
)

// Each mistake switch, run against the harness: the harness must see it
// from outside the way README.md's table says. (The webhook-skip-* switches
// are covered by the forgery tests in webhookauth_test.go.)

// hasRule reports whether the violation log holds rule.
func (e *env) hasRule(rule string) bool { return len(e.log.ForRule(rule)) > 0 }

func (e *env) wantRule(rule string) {
	e.t.Helper()
	eventually(e.t, "violation "+rule, func() (bool, string) {
		return e.hasRule(rule), strings.Join(rulesOf(e), ",")
	})
}

func rulesOf(e *env) []string {
	var out []string
	for _, v := range e.log.All() {
		out = append(out, v.Rule)
	}
	return out
}

// calls counts exchanges of an operationId whose URL contains sub.
func (e *env) calls(op, sub string) int {
	n := 0
	for _, x := range e.Exchanges() {
		if x.Operation == op && strings.Contains(x.URL, sub) {
			n++
		}
	}
	return n
}

// landingStatus visits the landing page with a fresh purchase's token.
func landingStatus(p *pub, buy marketplace.Purchase) (int, string) {
	return p.get("/landing?token=" + url.QueryEscape(buy.Token))
}

func confirm(p *pub, buy marketplace.Purchase) (int, string) {
	return p.postForm("/landing/activate", url.Values{"subscriptionId": {buy.SubscriptionID}})
}

func mustDeliver(t *testing.T, p *pub, op marketplace.Operation, want int) marketplace.Event {
	t.Helper()
	ev := p.e.eventFor(op.ID)
	if status, body := p.webhook(ev.Payload, p.e.genuine(identity.V2)); status != want {
		t.Fatalf("webhook %s: %d %s, want %d", op.Action, status, body, want)
	}
	return ev
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestMistakesAreVisibleFromOutside(t *testing.T) {
	flat := marketplace.PurchaseRequest{PlanID: "flat-monthly"}
	perSeat := marketplace.PurchaseRequest{PlanID: "seats-monthly", Quantity: 3}

	cases := []struct {
		mistake app.Mistake
		env     func(t *testing.T) *env
		edit    func(*app.Config)
		run     func(t *testing.T, e *env, p *pub)
	}{
		{mistake: app.DecodeTokenTwice, run: func(t *testing.T, e *env, p *pub) {
			if status, _ := landingStatus(p, e.purchase(flat)); status != http.StatusBadRequest {
				t.Fatalf("landing status %d", status)
			}
			e.wantRule("FUL-RESOLVE-01")
		}},
		{mistake: app.ActivateWrongPlan, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			landingStatus(p, buy)
			if status, _ := confirm(p, buy); status != http.StatusBadGateway {
				t.Fatalf("confirm status %d", status)
			}
			e.wantRule("FUL-ACTIVATE-01")
		}},
		{mistake: app.ActivateWrongQuantity, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(perSeat)
			landingStatus(p, buy)
			confirm(p, buy)
			e.wantRule("FUL-ACTIVATE-01")
		}},
		{mistake: app.ActivateOnRevisit, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			tok := must[string](t)(e.m.IssueToken(buy.SubscriptionID))
			p.get("/landing?token=" + url.QueryEscape(tok))
			e.wantRule("FUL-ACTIVATE-02")
		}},
		{mistake: app.ActivateFromReconcile, run: func(t *testing.T, e *env, p *pub) {
			e.purchase(flat)
			p.post("/admin/reconcile")
			e.wantRule("FUL-ACTIVATE-02")
		}},
		{mistake: app.V1API, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			landingStatus(p, buy)
			confirm(p, buy)
			e.wantRule("FUL-API-02")
		}},
		{mistake: app.NoAPIVersion, run: func(t *testing.T, e *env, p *pub) {
			landingStatus(p, e.purchase(flat))
			e.wantRule("FUL-API-01")
		}},
		{mistake: app.WrongTokenScope, run: func(t *testing.T, e *env, p *pub) {
			if status, _ := landingStatus(p, e.purchase(flat)); status != http.StatusBadGateway {
				t.Fatalf("landing status %d", status)
			}
			e.wantRule("AUTH-01")
		}},
		{mistake: app.TokenCachedPastExpiry,
			env: func(t *testing.T) *env {
				return newEnvWith(t, []identity.Option{identity.WithTokenLifetime(time.Second)})
			},
			run: func(t *testing.T, e *env, p *pub) {
				e.purchase(flat)
				eventually(t, "a call with an expired token", func() (bool, string) {
					status, body := p.post("/admin/reconcile")
					return status == http.StatusBadGateway, body
				})
				e.wantRule("AUTH-04")
			}},
		{mistake: app.Webhook500, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			mustDeliver(t, p, must[marketplace.Operation](t)(e.m.Suspend(buy.SubscriptionID)), http.StatusInternalServerError)
			expect(t, p, buy.SubscriptionID, "suspended", marketplace.Suspended, nil) // processed all the same
		}},
		{mistake: app.WebhookSlow, edit: func(c *app.Config) { c.SlowWebhook = 300 * time.Millisecond }, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			start := time.Now()
			mustDeliver(t, p, must[marketplace.Operation](t)(e.m.Suspend(buy.SubscriptionID)), http.StatusOK)
			if d := time.Since(start); d < 300*time.Millisecond {
				t.Fatalf("webhook answered in %v", d)
			}
		}},
		{mistake: app.NoGetOperation, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			op := must[marketplace.Operation](t)(e.m.ChangePlan(buy.SubscriptionID, "flat-yearly"))
			ev := e.eventFor(op.ID)
			ev.Payload.PlanID = "private-enterprise" // a payload-only forgery
			if status, _ := p.webhook(ev.Payload, e.genuine(identity.V2)); status != http.StatusOK {
				t.Fatal(status)
			}
			eventually(t, "forged plan applied", func() (bool, string) {
				got, ok := p.probe(buy.SubscriptionID)
				return got.Plan == "private-enterprise", fmtState(got, ok)
			})
			if n := e.calls("getOperation", op.ID); n != 0 {
				t.Fatalf("%d GET operation calls", n)
			}
		}},
		{mistake: app.RejectWith500, edit: func(c *app.Config) { c.RejectPlans = []string{"flat-yearly"} }, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			op := must[marketplace.Operation](t)(e.m.ChangePlan(buy.SubscriptionID, "flat-yearly"))
			mustDeliver(t, p, op, http.StatusInternalServerError)
			if o, _ := e.m.Operation(buy.SubscriptionID, op.ID); o.Status != marketplace.OpInProgress {
				t.Fatalf("operation %s, want still InProgress (never rejected)", o.Status)
			}
		}},
		{mistake: app.SuspendAsUnsubscribe, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			mustDeliver(t, p, must[marketplace.Operation](t)(e.m.Suspend(buy.SubscriptionID)), http.StatusOK)
			eventually(t, "cancelled on suspend", func() (bool, string) {
				got, ok := p.probe(buy.SubscriptionID)
				return got.State == "cancelled", fmtState(got, ok)
			})
			op := must[marketplace.Operation](t)(e.m.Reinstate(buy.SubscriptionID))
			mustDeliver(t, p, op, http.StatusOK)
			eventually(t, "reinstate refused", func() (bool, string) {
				o, _ := e.m.Operation(buy.SubscriptionID, op.ID)
				return o.Status == marketplace.OpFailed, string(o.Status)
			})
		}},
		{mistake: app.IgnoreReinstate, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			mustDeliver(t, p, must[marketplace.Operation](t)(e.m.Suspend(buy.SubscriptionID)), http.StatusOK)
			op := must[marketplace.Operation](t)(e.m.Reinstate(buy.SubscriptionID))
			mustDeliver(t, p, op, http.StatusOK)
			p.a.Close() // drain the worker
			if got, _ := p.probe(buy.SubscriptionID); got.State != "suspended" {
				t.Fatalf("probe %s", fmtState(got, true))
			}
			if n := e.calls("updateOperation", op.ID); n != 0 {
				t.Fatalf("%d PATCH operation calls", n)
			}
		}},
		{mistake: app.IgnoreRenew, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			mustDeliver(t, p, must[marketplace.Operation](t)(e.m.Renew(buy.SubscriptionID)), http.StatusOK)
			p.a.Close()
			if got, _ := p.probe(buy.SubscriptionID); got.Renewals != 0 {
				t.Fatalf("probe %s", fmtState(got, true))
			}
		}},
		{mistake: app.IgnoreChangeQuantity, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(perSeat)
			p.activate(buy)
			op := must[marketplace.Operation](t)(e.m.ChangeQuantity(buy.SubscriptionID, 6))
			mustDeliver(t, p, op, http.StatusOK)
			p.a.Close()
			if got, _ := p.probe(buy.SubscriptionID); got.Seats == nil || *got.Seats != 3 {
				t.Fatalf("probe %s", fmtState(got, true))
			}
			if n := e.calls("updateOperation", op.ID); n != 0 {
				t.Fatalf("%d PATCH operation calls", n)
			}
		}},
		{mistake: app.ChangeWithoutChecking, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			mustDeliver(t, p, must[marketplace.Operation](t)(e.m.Suspend(buy.SubscriptionID)), http.StatusOK)
			eventually(t, "suspended", func() (bool, string) {
				got, _ := p.probe(buy.SubscriptionID)
				return got.State == string(app.StateSuspended), got.State
			})
			if status, body := p.post("/admin/subscriptions/" + buy.SubscriptionID + "/plan?to=flat-yearly"); status != http.StatusBadGateway {
				t.Fatalf("admin plan on a suspended subscription: %d %s", status, body)
			}
			e.wantRule("STATE-02")
		}},
		{mistake: app.PatchPlanAndQuantity, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			if status, body := p.post("/admin/subscriptions/" + buy.SubscriptionID + "/plan?to=flat-yearly"); status != http.StatusBadGateway {
				t.Fatalf("admin plan: %d %s", status, body)
			}
			e.wantRule("FUL-UPDATE-01")
		}},
		{mistake: app.IgnoreOperationLocation, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			e.m.SetOutcome(buy.SubscriptionID, marketplace.OpFailed)
			if status, body := p.post("/admin/subscriptions/" + buy.SubscriptionID + "/plan?to=flat-yearly"); status != http.StatusOK {
				t.Fatalf("admin plan: %d %s", status, body)
			}
			got, _ := p.probe(buy.SubscriptionID)
			sub, _ := e.m.Subscription(buy.SubscriptionID)
			if got.Plan != "flat-yearly" || sub.PlanID != "flat-monthly" {
				t.Fatalf("probe %s, fake %s", fmtState(got, true), sub.PlanID)
			}
			if n := e.calls("getOperation", buy.SubscriptionID); n != 0 {
				t.Fatalf("%d GET operation calls", n)
			}
		}},
		{mistake: app.NoRetryOnTransient, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			if err := e.m.InjectFault(marketplace.Fault{Op: marketplace.OpGetOperation, SubscriptionID: buy.SubscriptionID, Count: 1, Status: 503}); err != nil {
				t.Fatal(err)
			}
			if status, body := p.post("/admin/subscriptions/" + buy.SubscriptionID + "/plan?to=flat-yearly"); status != http.StatusBadGateway {
				t.Fatalf("admin plan after one 503 on GET operation: %d %s, want 502 (the mistake gives up)", status, body)
			}
			if n := e.calls("getOperation", buy.SubscriptionID); n != 1 {
				t.Fatalf("%d GET operation calls, want 1 (no retry)", n)
			}
		}},
		{mistake: app.PartnerNoticeApplied, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			e.m.SetOutcome(buy.SubscriptionID, marketplace.OpFailed)
			status, body := p.post("/admin/subscriptions/" + buy.SubscriptionID + "/plan?to=flat-yearly")
			var res struct{ OperationID, Status string }
			if err := json.Unmarshal([]byte(body), &res); err != nil || status != http.StatusConflict || res.OperationID == "" {
				t.Fatalf("admin plan: %d %s (%v)", status, body, err)
			}
			if got, _ := p.probe(buy.SubscriptionID); got.Plan != "flat-monthly" {
				t.Fatalf("the admin flow itself applied the failed change: %s", fmtState(got, true))
			}
			ev := e.eventFor(res.OperationID)
			if status, _ := p.webhook(ev.Payload, e.genuine(identity.V2)); status != http.StatusOK {
				t.Fatalf("partner webhook: %d", status)
			}
			eventually(t, "the failed change applied from the notification", func() (bool, string) {
				got, _ := p.probe(buy.SubscriptionID)
				return got.Plan == "flat-yearly", fmtState(got, true)
			})
		}},
		{mistake: app.FirstPageOnly,
			env: func(t *testing.T) *env { return newEnv(t, marketplace.WithPageSize(1)) },
			run: func(t *testing.T, e *env, p *pub) {
				e.purchase(flat)
				e.purchase(flat)
				if _, body := p.post("/admin/reconcile"); !strings.Contains(body, `"pages":1`) {
					t.Fatalf("reconcile %s", body)
				}
				if n := e.calls("listSubscriptions", "continuationToken"); n != 0 {
					t.Fatalf("%d continuation calls", n)
				}
			}},
		{mistake: app.StrictWebhookJSON, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			ev := e.eventFor(must[marketplace.Operation](t)(e.m.Suspend(buy.SubscriptionID)).ID)
			if status, _ := p.webhook(ev.Payload, e.genuine(identity.V2)); status != http.StatusOK {
				t.Fatalf("documented payload refused: %d", status)
			}
			if status, _ := p.webhook(withExtraField(t, ev.Payload), e.genuine(identity.V2)); status != http.StatusBadRequest {
				t.Fatalf("extra field: %d", status)
			}
		}},
		{mistake: app.JWKSRefreshIgnored, run: func(t *testing.T, e *env, p *pub) {
			if status, _ := p.webhook(somePayload(), e.genuine(identity.V2)); status != http.StatusOK {
				t.Fatalf("before the rollover: %d", status)
			}
			e.idp.Rotate()
			if status, _ := p.webhook(somePayload(), e.genuine(identity.V2)); status != http.StatusUnauthorized {
				t.Fatalf("signed with the key Entra rolled over to: %d, want 401", status)
			}
		}},
		{mistake: app.UnknownActionCrashes, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			ev := e.eventFor(must[marketplace.Operation](t)(e.m.Renew(buy.SubscriptionID)).ID)
			if status, _ := p.webhook(ev.Payload, e.genuine(identity.V2)); status != http.StatusOK {
				t.Fatalf("documented action refused: %d", status)
			}
			for _, action := range []marketplace.Action{"Transfer", "FutureAction"} {
				unknown := ev.Payload
				unknown.ID, unknown.Action = uuid.NewString(), action
				if status, _ := p.webhook(unknown, e.genuine(identity.V2)); status != http.StatusInternalServerError {
					t.Fatalf("%s: %d, want 500", action, status)
				}
			}
		}},
		{mistake: app.DuplicateWebhookApplied, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			p.activate(buy)
			op := must[marketplace.Operation](t)(e.m.ChangePlan(buy.SubscriptionID, "flat-yearly"))
			ev := mustDeliver(t, p, op, http.StatusOK)
			eventually(t, "first delivery applied", func() (bool, string) {
				o, _ := e.m.Operation(buy.SubscriptionID, op.ID)
				return o.Status == marketplace.OpSucceeded, string(o.Status)
			})
			p.webhook(ev.Payload, e.genuine(identity.V2))
			e.wantRule("FUL-OP-01")
		}},
		{mistake: app.CSPKeyPurchaser, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(marketplace.PurchaseRequest{PlanID: "flat-monthly", Kind: marketplace.CSP})
			p.activate(buy)
			if got, _ := p.probe(buy.SubscriptionID); got.CustomerTenant != buy.Subscription.Purchaser.TenantID {
				t.Fatalf("customerTenant %s, want the purchaser's %s", got.CustomerTenant, buy.Subscription.Purchaser.TenantID)
			}
		}},
		{mistake: app.ExpiredToken500, run: func(t *testing.T, e *env, p *pub) {
			if status, _ := p.get("/landing?token=" + url.QueryEscape("bm90+YS9yZWFs/dG9rZW4=")); status != http.StatusInternalServerError {
				t.Fatalf("status %d", status)
			}
		}},
		{mistake: app.IgnoreSubscribe, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(marketplace.PurchaseRequest{PlanID: "auto-monthly"})
			mustDeliver(t, p, *buy.Subscribe, http.StatusOK)
			p.a.Close() // drain the worker
			if got, ok := p.probe(buy.SubscriptionID); ok {
				t.Fatalf("provisioned all the same: %s", fmtState(got, ok))
			}
		}},
		{mistake: app.ActivateAfterAuto, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(marketplace.PurchaseRequest{PlanID: "auto-monthly"})
			mustDeliver(t, p, *buy.Subscribe, http.StatusOK)
			expect(t, p, buy.SubscriptionID, "active", marketplace.Subscribed, nil)
			if status, _ := landingStatus(p, buy); status != http.StatusBadGateway {
				t.Fatalf("manage visit: %d, want the refusal shown as 502", status)
			}
			e.wantRule("FUL-ACTIVATE-05")
		}},
		{mistake: app.ResolveFromBrowser, run: func(t *testing.T, e *env, p *pub) {
			buy := e.purchase(flat)
			status, body := landingStatus(p, buy)
			if status != http.StatusOK || !strings.Contains(body, "fetch(") || !strings.Contains(body, e.apiURL+"/saas/subscriptions/resolve") {
				t.Fatalf("landing %d %s", status, body)
			}
			if status, _ := confirm(p, buy); status != http.StatusOK {
				t.Fatalf("backend flow broken: %d", status)
			}
		}},
	}

	covered := map[app.Mistake]bool{}
	for _, c := range cases {
		covered[c.mistake] = true
		t.Run(string(c.mistake), func(t *testing.T) {
			t.Parallel()
			var e *env
			if c.env != nil {
				e = c.env(t)
			} else {
				e = newEnv(t)
			}
			p := e.publisher(func(cfg *app.Config) {
				cfg.Mistake = c.mistake
				if c.edit != nil {
					c.edit(cfg)
				}
			})
			c.run(t, e, p)
		})
	}
	for _, m := range app.Mistakes {
		if !covered[m.Name] && !strings.HasPrefix(string(m.Name), "webhook-skip-") {
			t.Errorf("mistake %s has no case here", m.Name)
		}
	}
}

// withExtraField is a payload with a field Microsoft might add one day.
func withExtraField(t *testing.T, p marketplace.WebhookPayload) map[string]any {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["someFutureField"] = map[string]any{"x": 1}
	return m
}
