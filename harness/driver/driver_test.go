package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/identity"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/violation"
)

func TestLandingURLEncodesTheTokenOnce(t *testing.T) {
	tok := "ab+c/d=="
	got, err := LandingURL("https://app.example/landing", tok)
	if err != nil || got != "https://app.example/landing?token=ab%2Bc%2Fd%3D%3D" {
		t.Fatalf("got %q %v", got, err)
	}
	if got, _ := LandingURL("https://app.example/landing?lang=en", tok); !strings.HasSuffix(got, "?lang=en&token=ab%2Bc%2Fd%3D%3D") {
		t.Fatalf("with a query: %q", got)
	}
	for _, bad := range []string{"ftp://x/landing", "::", ""} {
		if _, err := LandingURL(bad, tok); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHTTPVisitorSubmitsTheFirstForm(t *testing.T) {
	var gotToken, posted string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/landing":
			gotToken = r.URL.Query().Get("token")
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1"})
			fmt.Fprint(w, `<html><body><form action="confirm" method="post">
				<input type="hidden" name="subscription" value="sub-1">
				<input type="text" name="company" value="Contoso">
				<input type="checkbox" name="terms" checked>
				<input type="checkbox" name="news">
				<select name="region"><option value="eu">EU</option><option value="us" selected>US</option></select>
				<textarea name="note">hi</textarea>
				<button type="submit" name="go" value="yes">Confirm</button>
				<input type="submit" name="other" value="no">
				</form><form action="/second"></form></body></html>`)
		case "/confirm":
			c, err := r.Cookie("session")
			if err != nil || c.Value != "s1" {
				http.Error(w, "no session", 401)
				return
			}
			body, _ := io.ReadAll(r.Body)
			posted = string(body)
			fmt.Fprint(w, "all set")
		}
	}))
	defer srv.Close()
	v := &HTTPVisitor{Client: srv.Client(), ConfirmForm: true}
	visit, err := v.Visit(context.Background(), srv.URL+"/landing", "x+y/z=")
	if err != nil {
		t.Fatal(err)
	}
	if gotToken != "x+y/z=" {
		t.Errorf("the landing page received token %q", gotToken)
	}
	if visit.Confirm == nil || visit.Confirm.Status != 200 || visit.Confirm.Body != "all set" {
		t.Fatalf("confirm = %+v", visit.Confirm)
	}
	vals, _ := url.ParseQuery(posted)
	want := url.Values{"subscription": {"sub-1"}, "company": {"Contoso"}, "terms": {"on"}, "region": {"us"}, "note": {"hi"}, "go": {"yes"}}
	if vals.Encode() != want.Encode() {
		t.Errorf("posted %s, want %s", vals.Encode(), want.Encode())
	}
	v.ConfirmForm = false
	if visit, _ := v.Visit(context.Background(), srv.URL+"/landing", "t"); visit.Confirm != nil {
		t.Error("submitted a form with ConfirmForm off")
	}
}

func TestFirstFormWithoutAForm(t *testing.T) {
	if _, ok, err := FirstForm("<p>nothing</p>", "http://x/"); ok || err != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
}

// senderFixture is a sender aimed at handler, with a fake clock and a log.
func senderFixture(t *testing.T, h http.Handler) (*Sender, *clock.Fake, *violation.Log, *marketplace.Marketplace) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	clk := clock.NewFake(time.Now().Truncate(time.Second))
	i, err := identity.New(identity.WithClock(clk), identity.WithURL("https://login.test"))
	if err != nil {
		t.Fatal(err)
	}
	log := &violation.Log{}
	m, err := marketplace.New(marketplace.WithClock(clk), marketplace.WithViolations(log))
	if err != nil {
		t.Fatal(err)
	}
	app := identity.App{TenantID: uuid.NewString(), ClientID: uuid.NewString(), Secret: "s", PublisherID: "contoso"}
	return &Sender{URL: srv.URL, Client: srv.Client(), Issuer: i, App: app, Clock: clk, Log: log, Market: m,
		AckWindow: 200 * time.Millisecond}, clk, log, m
}

func payload(action marketplace.Action, status marketplace.OperationStatus) marketplace.WebhookPayload {
	return marketplace.WebhookPayload{ID: uuid.NewString(), SubscriptionID: uuid.NewString(), Action: action,
		Status: status, OperationRequestSource: marketplace.SourceAzure}
}

func TestSenderSignsAndRetriesOnTheHarnessClock(t *testing.T) {
	var calls atomic.Int32
	var sawAuth atomic.Value
	s, clk, log, _ := senderFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth.Store(r.Header.Get("Authorization"))
		if calls.Add(1) < 3 {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(200)
	}))
	start := clk.Now()
	d, err := s.Deliver(context.Background(), payload(marketplace.ActionSuspend, marketplace.OpSucceeded))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Attempts) != 3 || !d.Acked() {
		t.Fatalf("attempts = %+v", d.Attempts)
	}
	if waited := clk.Now().Sub(start); waited != 3*time.Second {
		t.Errorf("back-off moved the clock %v, want 1s+2s", waited)
	}
	claims, err := s.Issuer.Verify(strings.TrimPrefix(sawAuth.Load().(string), "Bearer "))
	if err != nil || claims["aud"] != s.App.ClientID || claims["azp"] != identity.MarketplaceAppID {
		t.Errorf("token claims %v, err %v", claims, err)
	}
	if got := log.ForRule("WH-ACK-01"); len(got) != 2 || !strings.Contains(got[0].Summary, "answered 500") {
		t.Errorf("violations = %v, want one WH-ACK-01 per failed attempt", got)
	}
}

func TestSenderTimesOutSlowWebhooks(t *testing.T) {
	release := make(chan struct{})
	s, _, log, _ := senderFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Never answers in time. Reading the body lets the server notice the
		// client hanging up; release frees it at the end in any case.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	s.Attempts = 1
	d, _ := s.Deliver(context.Background(), payload(marketplace.ActionRenew, marketplace.OpSucceeded))
	if !d.Attempts[0].TimedOut || d.Acked() {
		t.Fatalf("attempt = %+v", d.Attempts[0])
	}
	if got := log.ForRule("WH-ACK-01"); len(got) != 1 || !strings.Contains(got[0].Summary, "no sooner than") {
		t.Fatalf("violations = %v", got)
	}
}

// TestSenderInterruptedIsNotAViolation: a delivery cut short because the
// run was cancelled (Ctrl-C, SIGTERM) says nothing about the app, so it
// records no WH-ACK-01 (it used to record "could not be reached: context
// canceled").
func TestSenderInterruptedIsNotAViolation(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	s, _, log, _ := senderFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) })
	s.AckWindow = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	d, err := s.Deliver(ctx, payload(marketplace.ActionSuspend, marketplace.OpSucceeded))
	if err == nil || len(d.Attempts) != 1 || !d.Attempts[0].Interrupted || d.Attempts[0].TimedOut {
		t.Fatalf("err %v, attempts %+v; want one interrupted attempt", err, d.Attempts)
	}
	if got := log.ForRule("WH-ACK-01"); len(got) != 0 {
		t.Errorf("the interruption was recorded against the app: %v", got)
	}
}

func TestSenderTreats4xxAsRejectionOnlyForChanges(t *testing.T) {
	s, _, log, m := senderFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(409) }))
	buy, err := m.Purchase(marketplace.PurchaseRequest{OfferID: "contoso-notes", PlanID: "flat-monthly"})
	if err != nil {
		t.Fatal(err)
	}
	// Make it Subscribed the way a publisher would, then change the plan.
	req := httptest.NewRequest("POST", "/api/saas/subscriptions/resolve?api-version=2018-08-31", nil)
	req.Header.Set("x-ms-marketplace-token", buy.Token)
	m.ServeHTTP(httptest.NewRecorder(), req)
	req = httptest.NewRequest("POST", "/api/saas/subscriptions/"+buy.SubscriptionID+"/activate?api-version=2018-08-31", strings.NewReader(`{"planId":"flat-monthly"}`))
	m.ServeHTTP(httptest.NewRecorder(), req)
	op, err := m.ChangePlan(buy.SubscriptionID, "flat-yearly")
	if err != nil {
		t.Fatal(err)
	}
	ev := m.Events()[len(m.Events())-1]
	d, _ := s.Deliver(context.Background(), ev.Payload)
	if !d.Rejected() || len(d.Attempts) != 1 {
		t.Fatalf("delivery = %+v", d)
	}
	if got, _ := m.Operation(buy.SubscriptionID, op.ID); got.Status != marketplace.OpFailed {
		t.Fatalf("operation = %s, want Failed after a 4xx rejection", got.Status)
	}
	if log.Len() != 0 {
		t.Fatalf("a rejection is not a violation: %v", log.All())
	}
	s.Deliver(context.Background(), payload(marketplace.ActionUnsubscribe, marketplace.OpSucceeded))
	if got := log.ForRule("WH-ACK-01"); len(got) == 0 || !strings.Contains(got[0].Summary, "cannot be rejected") {
		t.Fatalf("a 4xx to Unsubscribe: %v", got)
	}
}

func TestSenderForgeryAcceptedIsAViolation(t *testing.T) {
	s, _, log, _ := senderFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(200) // accepts any token at all
	}))
	forged, err := s.Issuer.Forgeries(s.App, identity.V2)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range forged {
		s.Forge(context.Background(), payload(marketplace.ActionSuspend, marketplace.OpSucceeded), f)
	}
	got := log.ForRule("WH-AUTH-01")
	if len(got) != len(forged)-1 { // all but no-token
		t.Fatalf("WH-AUTH-01 violations = %d, want %d", len(got), len(forged)-1)
	}
	if len(s.Deliveries()) != len(forged) {
		t.Errorf("deliveries kept = %d", len(s.Deliveries()))
	}
}

func TestProbeMapsAndCompares(t *testing.T) {
	body := `{"id":"s1","state":"active","plan":"team","seats":7,"customer":{"tenants":["T-1"]}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/missing") {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	p := &Probe{
		URL:       func(id string) (string, error) { return srv.URL + "/admin/" + id, nil },
		Fields:    map[string]string{FieldStatus: "$.state", FieldPlanID: "$.plan", FieldQuantity: "$.seats", FieldBeneficiary: "$.customer.tenants[0]"},
		StatusMap: map[string]string{"active": "Subscribed"},
		Client:    srv.Client(),
	}
	v, err := p.Read(context.Background(), "s1")
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != "Subscribed" || v.PlanID != "team" || *v.Quantity != 7 || v.Beneficiary != "T-1" {
		t.Fatalf("view = %+v", v)
	}
	seven, five := int64(7), int64(5)
	sub := marketplace.Subscription{SaasSubscriptionStatus: marketplace.Subscribed, PlanID: "team", Quantity: &seven,
		Beneficiary: marketplace.AadIdentifier{TenantID: "t-1"}}
	if ms := Compare(sub, v); len(ms) != 0 {
		t.Fatalf("mismatches on equal views: %v", ms)
	}
	sub.SaasSubscriptionStatus, sub.Quantity = marketplace.Suspended, &five
	ms := Compare(sub, v)
	if len(ms) != 2 || ms[0] != (Mismatch{FieldStatus, "Suspended", "Subscribed"}) || ms[1] != (Mismatch{FieldQuantity, "5", "7"}) {
		t.Fatalf("mismatches = %+v", ms)
	}
	viol := MismatchViolation(sub, ms, "after Suspend")
	if viol.Rule != "STATE-06" || !strings.Contains(viol.Got, "status=Subscribed") || !strings.Contains(viol.Want, "quantity=5") {
		t.Errorf("violation = %+v", viol)
	}
	if _, err := p.Read(context.Background(), "missing"); err != ErrUnknownToPublisher {
		t.Errorf("404: %v", err)
	}
	p.Fields[FieldStatus] = "$.nothing"
	if _, err := p.Read(context.Background(), "s1"); err == nil || !strings.Contains(err.Error(), "no field") {
		t.Errorf("status at a path that is not there: %v", err)
	}
	p.Fields[FieldStatus], p.Fields[FieldPlanID] = "$.state", "$.nothing.deeper"
	if _, err := p.Read(context.Background(), "s1"); err == nil || !strings.Contains(err.Error(), "no field") {
		t.Errorf("a path through a missing object: %v", err)
	}
	p.Fields[FieldPlanID] = "$.nothing"
	if v, err := p.Read(context.Background(), "s1"); err != nil || v.PlanID != "" {
		t.Errorf("an optional field left out reads as none: %+v %v", v, err)
	}
}

func TestLookupPaths(t *testing.T) {
	var doc any
	_ = json.Unmarshal([]byte(`{"a":{"b":[{"c":1},{"c":"x"}]}}`), &doc)
	for path, want := range map[string]string{"$.a.b[1].c": "x", "$.a.b[0].c": "1"} {
		got, err := lookup(doc, path)
		if err != nil || scalar(got) != want {
			t.Errorf("%s = %v %v", path, got, err)
		}
	}
	for _, bad := range []string{"a.b", "$.a.b[9]", "$.a.b[x]", "$.a..b", "$.a.b[0", "$.a.z", "$a"} {
		if _, err := lookup(doc, bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestProbeCompareIsSemantic: the ways correct apps record the same fact
// differently are not differences (each case blamed a correct app before),
// and real differences still are.
func TestProbeCompareIsSemantic(t *testing.T) {
	three := int64(3)
	flat := marketplace.Subscription{SaasSubscriptionStatus: marketplace.Subscribed, PlanID: "flat-monthly"}
	seats := marketplace.Subscription{SaasSubscriptionStatus: marketplace.Subscribed, PlanID: "seats-monthly", Quantity: &three}
	p := &Probe{Fields: map[string]string{FieldStatus: "$.s", FieldPlanID: "$.p", FieldQuantity: "$.q"},
		StatusMap: map[string]string{"active": "Subscribed", "suspended": "Suspended"}}
	same := []struct {
		name string
		sub  marketplace.Subscription
		body string
	}{
		{"flat plan, seats stored as 0", flat, `{"s":"active","p":"flat-monthly","q":0}`},
		{"flat plan, seats null", flat, `{"s":"active","p":"flat-monthly","q":null}`},
		{"flat plan, seats 1", flat, `{"s":"active","p":"flat-monthly","q":1}`},
		{"flat plan, seats as a string", flat, `{"s":"active","p":"flat-monthly","q":"0"}`},
		{"status in another case than the map", flat, `{"s":"Active","p":"flat-monthly","q":0}`},
		{"status with spaces", flat, `{"s":" ACTIVE ","p":"flat-monthly"}`},
		{"Microsoft's own word in another case", flat, `{"s":"SUBSCRIBED","p":"flat-monthly"}`},
		{"plan id upper-cased", flat, `{"s":"active","p":"FLAT-MONTHLY"}`},
		{"seats as a float", seats, `{"s":"active","p":"seats-monthly","q":3.0}`},
		{"seats as a string", seats, `{"s":"active","p":"seats-monthly","q":"3"}`},
	}
	for _, c := range same {
		v, err := p.Map([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if ms := Compare(c.sub, v); len(ms) != 0 {
			t.Errorf("%s: blamed %+v", c.name, ms)
		}
	}
	differ := []struct {
		name, body, field string
	}{
		{"per-seat plan, seats 0", `{"s":"active","p":"seats-monthly","q":0}`, FieldQuantity},
		{"per-seat plan, seats absent", `{"s":"active","p":"seats-monthly","q":null}`, FieldQuantity},
		{"per-seat plan, seats 1", `{"s":"active","p":"seats-monthly","q":1}`, FieldQuantity},
		{"another status", `{"s":"suspended","p":"seats-monthly","q":3}`, FieldStatus},
		{"an unmapped status", `{"s":"frozen","p":"seats-monthly","q":3}`, FieldStatus},
		{"another plan", `{"s":"active","p":"seats-yearly","q":3}`, FieldPlanID},
	}
	for _, c := range differ {
		v, err := p.Map([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		ms := Compare(seats, v)
		if len(ms) != 1 || ms[0].Field != c.field {
			t.Errorf("%s: mismatches %+v, want one on %s", c.name, ms, c.field)
		}
	}
}
