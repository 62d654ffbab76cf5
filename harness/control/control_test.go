package control

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/microsoft"
)

// hook is a publisher webhook that answers 200 and keeps what it got.
type hook struct {
	mu    sync.Mutex
	auth  []string
	count int
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	h.auth = append(h.auth, r.Header.Get("Authorization"))
	h.count++
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

type fixture struct {
	side *microsoft.Side
	hook *hook
	srv  *httptest.Server
	ctrl *Server
}

func start(t *testing.T, withHook bool, landing string) *fixture {
	t.Helper()
	side, err := microsoft.Start(microsoft.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { side.Close() })
	f := &fixture{side: side, hook: &hook{}}
	cfg := Config{Side: side, LandingURL: landing}
	if withHook {
		hs := httptest.NewServer(f.hook)
		t.Cleanup(hs.Close)
		cfg.Sender = &driver.Sender{URL: hs.URL, Client: hs.Client(), Issuer: side.Identity, App: side.App,
			Clock: clock.Real{}, Log: side.Log, Market: side.Marketplace}
	}
	if f.ctrl, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.ctrl.Close)
	f.srv = httptest.NewServer(f.ctrl)
	t.Cleanup(f.srv.Close)
	return f
}

// call sends body (a string, or a value to encode) and decodes the answer
// into out when out is not nil.
func (f *fixture) call(t *testing.T, method, path string, body any, out any) (int, string) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, string(data)
}

func (f *fixture) buy(t *testing.T, req PurchaseRequest) PurchaseResult {
	t.Helper()
	var res PurchaseResult
	if code, body := f.call(t, "POST", "/api/purchases", req, &res); code != http.StatusCreated {
		t.Fatalf("purchase: %d %s", code, body)
	}
	return res
}

// activate is the publisher activating the subscription over the API.
func (f *fixture) activate(t *testing.T, id, plan string, qty *int64) {
	t.Helper()
	c := f.side.HTTPClient()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {f.side.App.ClientID},
		"client_secret": {f.side.App.Secret}, "scope": {identity.MarketplaceAppID + "/.default"}}
	resp, err := c.PostForm(f.side.AuthorityURL+"/"+f.side.App.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	body, _ := json.Marshal(marketplace.ActivateRequest{PlanID: plan, Quantity: qty})
	req, _ := http.NewRequest("POST", f.side.MarketplaceURL+"/saas/subscriptions/"+id+"/activate?api-version=2018-08-31", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("activate: %d; violations %v", resp.StatusCode, f.side.Log.All())
	}
}

// settle lets the ack window pass, so changes in progress are accepted.
func (f *fixture) settle() {
	f.side.Clock.Advance(time.Hour)
	f.side.Marketplace.Settle()
}

func TestBuyListAndToken(t *testing.T) {
	f := start(t, false, "https://app.example/landing?src=marketplace")
	var offers []OfferView
	if code, body := f.call(t, "GET", "/api/offers", nil, &offers); code != 200 || len(offers) == 0 || len(offers[0].Plans) == 0 {
		t.Fatalf("offers: %d %s", code, body)
	}
	first := f.buy(t, PurchaseRequest{PlanID: "flat-monthly"})
	second := f.buy(t, PurchaseRequest{OfferID: "fabrikam-analytics", PlanID: "pro-seats", Quantity: ptr(int64(5)), Kind: "csp"})
	if first.SubscriptionID == "" || first.Token == "" {
		t.Fatalf("purchase result %+v", first)
	}
	u, err := url.Parse(first.LandingURL)
	if err != nil || u.Host != "app.example" || u.Query().Get("token") != first.Token || u.Query().Get("src") != "marketplace" {
		t.Fatalf("landing URL %q for token %q", first.LandingURL, first.Token)
	}

	var subs []marketplace.Subscription
	f.call(t, "GET", "/api/subscriptions", nil, &subs)
	if len(subs) != 2 || subs[0].ID != second.SubscriptionID || subs[1].ID != first.SubscriptionID {
		t.Fatalf("subscriptions (want newest first): %+v", subs)
	}
	if subs[0].SaasSubscriptionStatus != marketplace.PendingFulfillmentStart || *subs[0].Quantity != 5 || subs[0].Purchaser.TenantID == subs[0].Beneficiary.TenantID {
		t.Fatalf("csp purchase: %+v", subs[0])
	}

	var tok PurchaseResult
	if code, body := f.call(t, "POST", "/api/subscriptions/"+first.SubscriptionID+"/token", nil, &tok); code != 200 || tok.Token == "" || tok.Token == first.Token {
		t.Fatalf("token: %d %s", code, body)
	}
	if !strings.Contains(tok.LandingURL, "token="+url.QueryEscape(tok.Token)) {
		t.Fatalf("token landing URL %q", tok.LandingURL)
	}
}

func TestActionsDeliverSignedWebhooks(t *testing.T) {
	f := start(t, true, "")
	b := f.buy(t, PurchaseRequest{PlanID: "seats-monthly", Quantity: ptr(int64(2))})
	id := b.SubscriptionID
	if b.LandingURL != "" {
		t.Fatalf("landing URL without -landing: %q", b.LandingURL)
	}
	f.activate(t, id, "seats-monthly", ptr(int64(2)))

	steps := []struct {
		action string
		body   any
		want   marketplace.OperationStatus
		settle bool
	}{
		{"changeQuantity", map[string]any{"quantity": 3}, marketplace.OpInProgress, true},
		{"changePlan", map[string]any{"planId": "seats-yearly"}, marketplace.OpInProgress, true},
		{"suspend", nil, marketplace.OpSucceeded, false},
		{"reinstate", "{}", marketplace.OpInProgress, true},
		{"renew", nil, marketplace.OpSucceeded, false},
		{"unsubscribe", nil, marketplace.OpSucceeded, false},
	}
	for i, s := range steps {
		var res ActionResult
		code, body := f.call(t, "POST", "/api/subscriptions/"+id+"/actions/"+s.action, s.body, &res)
		if code != 200 {
			t.Fatalf("%s: %d %s", s.action, code, body)
		}
		if res.Operation.Status != s.want || res.Operation.SubscriptionID != id {
			t.Fatalf("%s: operation %+v", s.action, res.Operation)
		}
		d := res.Delivery
		if d == nil || !d.Acked || len(d.Attempts) != 1 || d.Attempts[0].Status != 200 || d.OperationID != res.Operation.ID {
			t.Fatalf("%s: delivery %+v", s.action, d)
		}
		if f.hook.count != i+1 {
			t.Fatalf("%s: the webhook got %d calls, want %d", s.action, f.hook.count, i+1)
		}
		if s.settle {
			f.settle()
		}
	}
	for _, a := range f.hook.auth {
		if !strings.HasPrefix(a, "Bearer ") || len(a) < 50 {
			t.Fatalf("webhook Authorization %q, want a bearer token", a)
		}
	}
	sub, _ := f.side.Marketplace.Subscription(id)
	if sub.SaasSubscriptionStatus != marketplace.Unsubscribed || sub.PlanID != "seats-yearly" || *sub.Quantity != 5 { // seats-yearly sells 5 seats or more
		t.Fatalf("subscription after the actions: %+v", sub)
	}
	var ds []DeliveryView
	f.call(t, "GET", "/api/deliveries", nil, &ds)
	if len(ds) != len(steps) || ds[0].Action != marketplace.ActionChangeQuantity {
		t.Fatalf("deliveries: %+v", ds)
	}
	var vs []any
	if code, body := f.call(t, "GET", "/api/violations", nil, &vs); code != 200 || !strings.HasPrefix(strings.TrimSpace(body), "[") {
		t.Fatalf("violations: %d %s", code, body)
	}
}

func TestActionsWithoutWebhookOnlyChangeState(t *testing.T) {
	f := start(t, false, "")
	id := f.buy(t, PurchaseRequest{PlanID: "flat-monthly"}).SubscriptionID
	f.activate(t, id, "flat-monthly", nil)
	var res ActionResult
	code, body := f.call(t, "POST", "/api/subscriptions/"+id+"/actions/suspend", nil, &res)
	if code != 200 || res.Delivery != nil || !strings.Contains(body, `"delivery": null`) {
		t.Fatalf("suspend: %d %s", code, body)
	}
	if sub, _ := f.side.Marketplace.Subscription(id); sub.SaasSubscriptionStatus != marketplace.Suspended {
		t.Fatalf("status %s", sub.SaasSubscriptionStatus)
	}
	if evs := f.side.Marketplace.Events(); len(evs) != 1 || evs[0].Payload.Action != marketplace.ActionSuspend {
		t.Fatalf("events %+v", evs)
	}
	var ds []DeliveryView
	if f.call(t, "GET", "/api/deliveries", nil, &ds); len(ds) != 0 {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestMalformedRequests(t *testing.T) {
	f := start(t, false, "")
	id := f.buy(t, PurchaseRequest{PlanID: "flat-monthly"}).SubscriptionID
	big := `{"planId":"` + strings.Repeat("x", MaxBody) + `"}`
	cases := []struct {
		name, method, path string
		body               any
		code               int
		want               string
	}{
		{"bad JSON", "POST", "/api/purchases", `{"planId":`, 400, "not valid JSON"},
		{"not an object", "POST", "/api/purchases", `[1]`, 400, "body"},
		{"two values", "POST", "/api/purchases", `{"planId":"basic"}{}`, 400, "more than one"},
		{"empty body", "POST", "/api/purchases", "", 400, "body: a JSON object is required"},
		{"unknown field", "POST", "/api/purchases", `{"planId":"basic","colour":"red"}`, 400, `unknown field \"colour\"`},
		{"wrong type", "POST", "/api/purchases", `{"planId":"basic","quantity":"two"}`, 400, "field quantity"},
		{"missing plan", "POST", "/api/purchases", `{}`, 400, "planId: required"},
		{"unknown plan", "POST", "/api/purchases", `{"planId":"platinum"}`, 400, `planId: \"platinum\" is not a plan`},
		{"plan of another offer", "POST", "/api/purchases", `{"offerId":"fabrikam-analytics","planId":"flat-monthly"}`, 400, `planId \"flat-monthly\"`},
		{"unknown offer", "POST", "/api/purchases", `{"offerId":"nope","planId":"basic"}`, 400, `offerId \"nope\"`},
		{"bad kind", "POST", "/api/purchases", `{"planId":"basic","kind":"gift"}`, 400, "kind: \\\"gift\\\" is not one of"},
		{"negative quantity", "POST", "/api/purchases", `{"planId":"pro-seats","quantity":-2}`, 400, "quantity: -2: must be 1 or more"},
		{"quantity on flat plan", "POST", "/api/purchases", `{"planId":"basic","quantity":2}`, 400, `quantity \"2\"`},
		{"body too big", "POST", "/api/purchases", big, 400, "body: larger than 65536 bytes"},
		{"unknown subscription token", "POST", "/api/subscriptions/nope/token", nil, 404, `subscriptionId \"nope\"`},
		{"unknown subscription action", "POST", "/api/subscriptions/nope/actions/suspend", nil, 404, `subscriptionId \"nope\"`},
		{"bad action", "POST", "/api/subscriptions/" + id + "/actions/explode", nil, 404, `action: \"explode\" is not one of`},
		{"changePlan without plan", "POST", "/api/subscriptions/" + id + "/actions/changePlan", `{}`, 400, "planId: required"},
		{"negative change quantity", "POST", "/api/subscriptions/" + id + "/actions/changeQuantity", `{"quantity":-1}`, 400, "quantity: -1: must be 1 or more"},
		{"plan on suspend", "POST", "/api/subscriptions/" + id + "/actions/suspend", `{"planId":"basic"}`, 400, "planId: only changePlan"},
		{"unknown action field", "POST", "/api/subscriptions/" + id + "/actions/suspend", `{"reason":"x"}`, 400, `unknown field \"reason\"`},
		{"wrong state", "POST", "/api/subscriptions/" + id + "/actions/suspend", nil, 400, "saasSubscriptionStatus"},
		{"unknown endpoint", "GET", "/api/nothing", nil, 404, "no endpoint GET /api/nothing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := f.call(t, c.method, c.path, c.body, nil)
			if code != c.code || !strings.Contains(body, c.want) {
				t.Fatalf("got %d %s, want %d containing %s", code, body, c.code, c.want)
			}
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
				t.Fatalf("not a JSON error: %s", body)
			}
		})
	}
	if subs := f.ctrl.subscriptions(); len(subs) != 1 || subs[0].SaasSubscriptionStatus != marketplace.PendingFulfillmentStart {
		t.Fatalf("a bad request changed state: %+v", subs)
	}
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	f := start(t, false, "")
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/purchases", strings.NewReader(`{"planId":"basic"}`))
	req.Header.Set("Origin", "https://evil.example")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(f.ctrl.subscriptions()) != 0 {
		t.Fatalf("cross-origin purchase: %d", resp.StatusCode)
	}
}

func TestPageAndForms(t *testing.T) {
	f := start(t, true, "https://app.example/landing")
	id := f.buy(t, PurchaseRequest{PlanID: "seats-monthly"}).SubscriptionID
	f.activate(t, id, "seats-monthly", ptr(int64(1)))

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values) {
		t.Helper()
		resp, err := noFollow.PostForm(f.srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("POST %s: %d to %q, want 303 to /", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	post("/ui/subscriptions/"+id+"/actions/suspend", nil)
	if sub, _ := f.side.Marketplace.Subscription(id); sub.SaasSubscriptionStatus != marketplace.Suspended {
		t.Fatalf("the suspend form did not suspend: %s", sub.SaasSubscriptionStatus)
	}
	post("/ui/purchase", url.Values{"plan": {"fabrikam-analytics/pro-seats"}, "quantity": {"4"}, "kind": {"test"}})
	subs := f.ctrl.subscriptions()
	if len(subs) != 2 || subs[0].PlanID != "pro-seats" || !subs[0].IsTest || *subs[0].Quantity != 4 {
		t.Fatalf("the buy form bought %+v", subs)
	}

	active := f.buy(t, PurchaseRequest{PlanID: "seats-monthly"}).SubscriptionID
	f.activate(t, active, "seats-monthly", ptr(int64(1)))

	resp, err := http.Get(f.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	html := string(page)
	// Each row offers only what its status allows: a suspended one can be
	// reinstated or cancelled, an active one changed; a change of plan
	// stays per-seat.
	for _, absent := range []string{
		`action="/ui/subscriptions/` + id + `/actions/suspend"`,
		`action="/ui/subscriptions/` + id + `/actions/changePlan"`,
		`action="/ui/subscriptions/` + active + `/actions/reinstate"`,
		`<option>flat-monthly</option>`, `<option>trial-monthly</option>`,
	} {
		if strings.Contains(html, absent) {
			t.Errorf("the page offers %q", absent)
		}
	}
	for _, want := range []string{
		id, subs[0].ID, "Suspended",
		`action="/ui/subscriptions/` + id + `/actions/reinstate"`,
		`action="/ui/subscriptions/` + id + `/actions/unsubscribe"`,
		`action="/ui/subscriptions/` + active + `/actions/changePlan"`,
		`action="/ui/subscriptions/` + active + `/actions/changeQuantity"`,
		`action="/ui/subscriptions/` + id + `/token"`,
		`<option>seats-yearly</option>`,
		`https://app.example/landing?token=`, // the banner's landing link
		`http-equiv="refresh"`,               // the test purchase is not activated yet
		"Suspend", "200",                     // the transcript
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if resp.StatusCode != 200 || strings.Contains(html, "<script") || strings.Contains(html, "src=\"http") {
		t.Errorf("page: %d, has scripts or external resources", resp.StatusCode)
	}

	// An error comes back as the banner.
	post("/ui/subscriptions/"+id+"/actions/renew", nil)
	resp, _ = http.Get(f.srv.URL + "/")
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `class="notice error"`) || !strings.Contains(string(page), "saasSubscriptionStatus") {
		t.Errorf("renewing a suspended subscription shows no error banner")
	}
}

func ptr[T any](v T) *T { return &v }

// TestPageRefreshesOnlyWhileSomethingIsPending: a page that reloads itself
// wipes a half-filled form, so it reloads only while the app has something
// to do.
func TestPageRefreshesOnlyWhileSomethingIsPending(t *testing.T) {
	f := start(t, false, "")
	refreshes := func() bool {
		t.Helper()
		resp, err := http.Get(f.srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `http-equiv="refresh"`)
	}
	if refreshes() {
		t.Error("an empty fake's page refreshes")
	}
	id := f.buy(t, PurchaseRequest{PlanID: "seats-monthly"}).SubscriptionID
	if !refreshes() {
		t.Error("the page does not refresh while a purchase waits for activation")
	}
	f.activate(t, id, "seats-monthly", ptr(int64(1)))
	if refreshes() {
		t.Error("the page refreshes with nothing pending")
	}
	if _, err := f.side.Marketplace.ChangeQuantity(id, 5); err != nil {
		t.Fatal(err)
	}
	if !refreshes() {
		t.Error("the page does not refresh while a change waits for the app")
	}
}

func TestAutoActivatedPurchaseNotifiesSubscribe(t *testing.T) {
	f := start(t, true, "")
	b := f.buy(t, PurchaseRequest{PlanID: "auto-monthly"})
	sub, _ := f.side.Marketplace.Subscription(b.SubscriptionID)
	if sub.SaasSubscriptionStatus != marketplace.Subscribed {
		t.Fatalf("status %s, want Subscribed at once", sub.SaasSubscriptionStatus)
	}
	// The purchase has no delivery of its own: the Subscribe goes out in
	// the background.
	f.ctrl.Close() // waits for background deliveries
	var ds []DeliveryView
	f.call(t, "GET", "/api/deliveries", nil, &ds)
	if len(ds) != 1 || ds[0].Action != marketplace.ActionSubscribe || !ds[0].Acked {
		t.Fatalf("deliveries: %+v", ds)
	}
}
