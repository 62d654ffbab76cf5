package contract_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/violation"
)

const (
	subID = "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b40"
	opID  = "c4b2e9d1-6a5f-4e3b-8d7c-1f0a9b8c7d6e"
	reqID = "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b"
	corID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
)

// stub answers every operation with a valid response, counting calls.
type stub struct {
	calls   atomic.Int32
	badSub  bool // answer getSubscription without saasSubscriptionStatus
	lastRaw atomic.Value
}

func validSubscription() map[string]any {
	who := map[string]any{"emailId": "a@customer.example", "objectId": subID, "tenantId": subID}
	return map[string]any{"id": subID, "publisherId": "contoso", "offerId": "offer", "name": "n",
		"saasSubscriptionStatus": "Subscribed", "beneficiary": who, "purchaser": who, "planId": "basic",
		"term": map[string]any{"termUnit": "P1M"}, "autoRenew": false, "isTest": false, "isFreeTrial": false,
		"allowedCustomerOperations": []string{"Read"}, "sandboxType": "None", "sessionMode": "None",
		"created": "2026-01-02T03:04:05Z", "lastModified": "2026-01-02T03:04:05Z"}
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	body := make([]byte, r.ContentLength)
	_, _ = r.Body.Read(body)
	s.lastRaw.Store(string(body))
	w.Header().Set("x-ms-correlationid", corID)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/resolve"):
		sub := validSubscription()
		_ = json.NewEncoder(w).Encode(map[string]any{"id": subID, "subscriptionName": "n", "offerId": "offer", "planId": "basic", "subscription": sub})
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/activate"):
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/operations/"):
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPatch:
		w.Header().Set("Operation-Location", "https://127.0.0.1/api/saas/subscriptions/"+subID+"/operations/"+opID+"?api-version=2018-08-31")
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodGet && strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/saas/subscriptions"):
		_ = json.NewEncoder(w).Encode(map[string]any{"subscriptions": []any{validSubscription()}})
	case r.Method == http.MethodGet:
		if s.badSub {
			_, _ = w.Write([]byte(`{"id":"` + subID + `"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(validSubscription())
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"NotFound","message":"stub"}}`))
	}
}

type call struct {
	method, target, body string
	header               map[string]string // "" value deletes the default
}

func do(t *testing.T, h http.Handler, c call) *httptest.ResponseRecorder {
	t.Helper()
	var body *strings.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	var req *http.Request
	if body != nil {
		req = httptest.NewRequest(c.method, c.target, body)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(c.method, c.target, nil)
	}
	req.Header.Set("Authorization", "Bearer token")
	req.Header.Set("x-ms-requestid", reqID)
	req.Header.Set("x-ms-correlationid", corID)
	for k, v := range c.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const v = "?api-version=2018-08-31"

func TestViolationKinds(t *testing.T) {
	sub := "/api/saas/subscriptions/" + subID
	cases := []struct {
		name      string
		call      call
		status    int
		rule      string
		severity  violation.Severity
		reaches   bool   // the stub sees the request
		inMessage string // part of the violation's text
	}{
		{name: "valid get", call: call{method: "GET", target: sub + v}, status: 200, reaches: true},
		{name: "list with trailing slash", call: call{method: "GET", target: "/api/saas/subscriptions/" + v}, status: 200, reaches: true},
		{name: "api-version missing", call: call{method: "GET", target: sub}, status: 400, rule: "FUL-API-01", inMessage: "api-version query parameter missing"},
		{name: "api-version unknown", call: call{method: "GET", target: sub + "?api-version=2019-01-01"}, status: 400, rule: "FUL-API-01", inMessage: "2019-01-01"},
		{name: "api-version twice", call: call{method: "GET", target: sub + v + "&api-version=2018-08-31"}, status: 400, rule: "FUL-API-01"},
		{name: "v1 api-version", call: call{method: "POST", target: "/api/saas/subscriptions/resolve?api-version=2017-04-15", header: map[string]string{"x-ms-marketplace-token": "t"}}, status: 400, rule: "FUL-API-02"},
		{name: "v1 activate shape", call: call{method: "PUT", target: sub + v, body: `{"planId":"basic"}`, header: map[string]string{"x-ms-marketplace-token": "t"}}, status: 400, rule: "FUL-API-02", inMessage: "PUT"},
		{name: "v1 operations path", call: call{method: "GET", target: "/api/saas/operations/" + opID + v}, status: 400, rule: "FUL-API-02"},
		{name: "v1 path without api-version", call: call{method: "GET", target: "/api/saas/operations/" + opID}, status: 400, rule: "FUL-API-02"},
		{name: "outside the base path", call: call{method: "GET", target: "/saas/subscriptions" + v}, status: 404, rule: "FUL-API-05", inMessage: "lives under /api"},
		{name: "unknown path", call: call{method: "GET", target: "/api/saas/nothing" + v}, status: 404, rule: "FUL-API-05"},
		{name: "method not allowed", call: call{method: "DELETE", target: sub + "/operations/" + opID + v}, status: 404, rule: "FUL-API-05", inMessage: "use PATCH"},
		{name: "POST to an operation", call: call{method: "POST", target: sub + "/operations/" + opID + v, body: `{"status":"Success"}`}, status: 404, rule: "FUL-API-05", inMessage: "takes GET or PATCH, not POST — use PATCH"},
		{name: "GET on activate", call: call{method: "GET", target: sub + "/activate" + v}, status: 404, rule: "FUL-API-05", inMessage: "takes only POST"},
		{name: "no authorization", call: call{method: "GET", target: sub + v, header: map[string]string{"Authorization": ""}}, status: 403, rule: "AUTH-03", inMessage: "no Authorization header"},
		{name: "emulator header name", call: call{method: "GET", target: sub + v, header: map[string]string{"Authorization": "", "Authentication": "Bearer x"}}, status: 403, rule: "AUTH-03", inMessage: "'Authentication'"},
		{name: "basic auth", call: call{method: "GET", target: sub + v, header: map[string]string{"Authorization": "Basic eA=="}}, status: 403, rule: "AUTH-03"},
		{name: "empty bearer", call: call{method: "GET", target: sub + v, header: map[string]string{"Authorization": "Bearer  "}}, status: 403, rule: "AUTH-03"},
		{name: "browser origin", call: call{method: "GET", target: sub + v, header: map[string]string{"Origin": "https://app.example"}}, status: 200, rule: "FUL-API-03", reaches: true},
		{name: "request id missing", call: call{method: "GET", target: sub + v, header: map[string]string{"x-ms-requestid": ""}}, status: 200, rule: "FUL-API-04", severity: violation.Warning, reaches: true},
		{name: "correlation id not a guid", call: call{method: "GET", target: sub + v, header: map[string]string{"x-ms-correlationid": "abc"}}, status: 200, rule: "FUL-API-04", severity: violation.Warning, reaches: true},
		{name: "resolve without token", call: call{method: "POST", target: "/api/saas/subscriptions/resolve" + v}, status: 400, rule: "FUL-RESOLVE-01"},
		// The current docs need only the subscription id: the contract lets
		// a body without planId through, and the fake warns about it.
		{name: "activate without planId", call: call{method: "POST", target: sub + "/activate" + v, body: `{"quantity":3}`}, status: 200, reaches: true},
		{name: "activate with {}", call: call{method: "POST", target: sub + "/activate" + v, body: `{}`}, status: 200, reaches: true},
		{name: "activate with no body", call: call{method: "POST", target: sub + "/activate" + v}, status: 200, reaches: true},
		{name: "activate with no body, JSON content type", call: call{method: "POST", target: sub + "/activate" + v, header: map[string]string{"Content-Type": "application/json"}}, status: 200, reaches: true},
		{name: "activate with empty planId", call: call{method: "POST", target: sub + "/activate" + v, body: `{"planId":""}`}, status: 400, rule: "FUL-ACTIVATE-01", inMessage: "body.planId"},
		{name: "activate wrong type", call: call{method: "POST", target: sub + "/activate" + v, body: `{"planId":"basic","quantity":"five"}`}, status: 400, rule: "FUL-ACTIVATE-01", inMessage: "body.quantity"},
		{name: "activate malformed JSON", call: call{method: "POST", target: sub + "/activate" + v, body: `{"planId":`}, status: 400, rule: "FUL-ACTIVATE-01"},
		{name: "activate unknown field", call: call{method: "POST", target: sub + "/activate" + v, body: `{"planId":"basic","seats":3}`}, status: 200, rule: "FUL-API-05", severity: violation.Warning, reaches: true, inMessage: "body.seats"},
		{name: "patch both", call: call{method: "PATCH", target: sub + v, body: `{"planId":"gold","quantity":3}`}, status: 400, rule: "FUL-UPDATE-01", inMessage: "together"},
		{name: "patch neither", call: call{method: "PATCH", target: sub + v, body: `{}`}, status: 400, rule: "FUL-UPDATE-01", inMessage: "neither"},
		{name: "patch plan only", call: call{method: "PATCH", target: sub + v, body: `{"planId":"gold"}`}, status: 202, reaches: true},
		{name: "patch operation bad status", call: call{method: "PATCH", target: sub + "/operations/" + opID + v, body: `{"status":"Done"}`}, status: 400, rule: "FUL-OP-01", inMessage: "Success"},
		{name: "patch operation success", call: call{method: "PATCH", target: sub + "/operations/" + opID + v, body: `{"status":"Success"}`}, status: 200, reaches: true},
		{name: "bad uuid in path", call: call{method: "GET", target: "/api/saas/subscriptions/not-a-guid" + v}, status: 400, rule: "FUL-API-05", inMessage: "subscriptionId"},
		{name: "huge body", call: call{method: "POST", target: sub + "/activate" + v, body: `{"planId":"` + strings.Repeat("x", 2<<20) + `"}`}, status: 413, rule: "FUL-API-05"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inner := &stub{}
			log := &violation.Log{}
			val, err := contract.New(inner, contract.WithViolations(log))
			if err != nil {
				t.Fatal(err)
			}
			rec := do(t, val, tc.call)
			if rec.Code != tc.status {
				t.Errorf("status = %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			if got := inner.calls.Load() > 0; got != tc.reaches {
				t.Errorf("reached the fake = %v, want %v", got, tc.reaches)
			}
			if bugs := val.HarnessBugs(); len(bugs) > 0 {
				t.Errorf("harness bugs: %v", bugs)
			}
			vs := log.All()
			if tc.rule == "" {
				if errs := log.Errors(); len(errs) > 0 {
					t.Errorf("unexpected violations: %v", errs)
				}
				return
			}
			found := log.ForRule(tc.rule)
			if len(found) == 0 {
				t.Fatalf("no %s violation; got %v", tc.rule, vs)
			}
			want := tc.severity
			if want == "" {
				want = violation.Error
			}
			if found[0].Severity != want {
				t.Errorf("severity = %s, want %s", found[0].Severity, want)
			}
			if !strings.Contains(found[0].String(), tc.inMessage) {
				t.Errorf("violation %q lacks %q", found[0], tc.inMessage)
			}
			if found[0].Fix == "" || found[0].Method != tc.call.method || found[0].Status != tc.status {
				t.Errorf("violation lacks fix/method/status: %#v", found[0])
			}
			if tc.status >= 400 {
				var e struct {
					Error struct{ Code, Message string }
				}
				if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Code == "" || !strings.Contains(e.Error.Message, tc.rule) {
					t.Errorf("error body %s does not name %s", rec.Body, tc.rule)
				}
			}
		})
	}
}

func TestUnknownFieldIsStrippedForValidationButForwarded(t *testing.T) {
	inner := &stub{}
	val, _ := contract.New(inner)
	rec := do(t, val, call{method: "POST", target: "/api/saas/subscriptions/" + subID + "/activate" + v, body: `{"planId":"basic","extra":{"a":1}}`})
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	if got := inner.lastRaw.Load().(string); !strings.Contains(got, `"extra"`) {
		t.Errorf("the fake got %q; want the body as sent", got)
	}
}

func TestResponseBreakingOurSpecIsAHarnessBug(t *testing.T) {
	var told []error
	val, _ := contract.New(&stub{badSub: true}, contract.OnHarnessBug(func(err error) { told = append(told, err) }))
	rec := do(t, val, call{method: "GET", target: "/api/saas/subscriptions/" + subID + v})
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "SaasconformHarnessBug") {
		t.Fatalf("got %d %s, want a 500 naming the harness bug", rec.Code, rec.Body)
	}
	if len(val.HarnessBugs()) != 1 || len(told) != 1 || !strings.Contains(told[0].Error(), "is missing") {
		t.Fatalf("bugs = %v, told = %v", val.HarnessBugs(), told)
	}
	if val.Violations().Len() != 0 {
		t.Errorf("a harness bug must not be blamed on the publisher: %v", val.Violations().All())
	}
}

func TestExchangesCarryIDsAndViolations(t *testing.T) {
	var got []contract.Exchange
	val, _ := contract.New(&stub{}, contract.OnExchange(func(e contract.Exchange) { got = append(got, e) }))
	do(t, val, call{method: "POST", target: "/api/saas/subscriptions/resolve" + v, header: map[string]string{"x-ms-marketplace-token": "tok", "x-ms-correlationid": ""}})
	do(t, val, call{method: "GET", target: "/api/saas/subscriptions/" + subID})
	if len(got) != 2 {
		t.Fatalf("exchanges = %d", len(got))
	}
	resolve, get := got[0], got[1]
	if resolve.Operation != "resolve" || resolve.SubscriptionID != subID || resolve.CorrelationID != corID {
		t.Errorf("resolve exchange = op %q sub %q corr %q (the correlation id echoed by the fake should be used)", resolve.Operation, resolve.SubscriptionID, resolve.CorrelationID)
	}
	if len(resolve.Violations) != 1 || resolve.Violations[0].Rule != "FUL-API-04" || resolve.Violations[0].SubscriptionID != subID {
		t.Errorf("resolve violations = %+v", resolve.Violations)
	}
	if get.Status != 400 || len(get.Violations) != 1 || get.Violations[0].SubscriptionID != "" {
		t.Errorf("get exchange = %d %+v", get.Status, get.Violations)
	}
}

func TestAuthenticatorPlugsIn(t *testing.T) {
	deny := contract.AuthenticatorFunc(func(r *http.Request) (contract.Principal, *contract.Rejection) {
		return contract.Principal{}, &contract.Rejection{Status: 401, Violation: violation.Violation{Rule: "AUTH-01", Summary: "wrong audience", Fix: "x"}}
	})
	val, _ := contract.New(&stub{}, contract.WithAuthenticator(deny))
	rec := do(t, val, call{method: "GET", target: "/api/saas/subscriptions/" + subID + v})
	if rec.Code != 401 || len(val.Violations().ForRule("AUTH-01")) != 1 {
		t.Fatalf("got %d %v", rec.Code, val.Violations().All())
	}
	var seen contract.Principal
	allow := contract.AuthenticatorFunc(func(r *http.Request) (contract.Principal, *contract.Rejection) {
		return contract.Principal{TenantID: "t1", AppID: "a1"}, nil
	})
	val, _ = contract.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = contract.PrincipalFrom(r.Context())
		(&stub{}).ServeHTTP(w, r)
	}), contract.WithAuthenticator(allow))
	do(t, val, call{method: "GET", target: "/api/saas/subscriptions/" + subID + v})
	if seen.TenantID != "t1" || seen.AppID != "a1" {
		t.Errorf("principal in context = %+v", seen)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, opt := range map[string]contract.Option{
		"base path without slash": contract.WithBasePath("api"),
		"base path trailing":      contract.WithBasePath("/api/"),
		"nil authenticator":       contract.WithAuthenticator(nil),
		"nil log":                 contract.WithViolations(nil),
		"nil clock":               contract.WithClock(nil),
		"zero body":               contract.WithMaxBodyBytes(0),
	} {
		if _, err := contract.New(&stub{}, opt); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := contract.New(nil); err == nil {
		t.Error("nil inner: no error")
	}
}

// panicky is a fake that panics on its first call and answers 200 after.
type panicky struct{ calls int }

func (p *panicky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.calls++; p.calls == 1 {
		panic("boom")
	}
	w.WriteHeader(http.StatusOK)
}

func TestPanicInTheFakeIsAHarnessBugNotACrash(t *testing.T) {
	val, _ := contract.New(&panicky{})
	rec := do(t, val, call{method: "GET", target: "/api/saas/subscriptions/" + subID + v})
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "panicked") {
		t.Fatalf("got %d %s, want a 500 saying the fake panicked", rec.Code, rec.Body)
	}
	if bugs := val.HarnessBugs(); len(bugs) != 1 || !strings.Contains(bugs[0].Error(), "boom") {
		t.Fatalf("bugs = %v", bugs)
	}
	if val.Violations().Len() != 0 {
		t.Errorf("a harness bug must not be blamed on the publisher: %v", val.Violations().All())
	}
}
