package contract_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/profile"
)

// errorStub answers every call with one error status and body.
type errorStub struct {
	status int
	body   string
	header map[string]string
}

func (s errorStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	for k, v := range s.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(s.status)
	_, _ = w.Write([]byte(s.body))
}

func TestProductionErrorShapesAreNoHarnessBug(t *testing.T) {
	ok := []errorStub{
		{status: 401, body: `"The authorization token is invalid or expired."`},
		{status: 403, body: `"The subscription does not belong to the caller's publisher."`},
		{status: 404, body: `{"code":"NotFound","message":"subscription not found"}`},
		{status: 400, body: `{"code":"Failed","message":"locked","target":"subscriptionId"}`},
		{status: 429, body: `{"code":"TooManyRequests","message":"slow down"}`, header: map[string]string{"Retry-After": "1"}},
		{status: 503, body: `{"code":"ServiceUnavailable","message":"retry"}`},
	}
	bad := []errorStub{
		{status: 404, body: `{"error":{"code":"NotFound","message":"nested"}}`}, // the strict shape is not what production sends
		{status: 400, body: `{"code":"BadArgument"}`},
		{status: 401, body: `""`},
		{status: 500, body: `not json`},
	}
	for _, st := range append(ok, bad...) {
		val, err := contract.New(st, contract.WithProfile(profile.Production))
		if err != nil {
			t.Fatal(err)
		}
		rec := do(t, val, call{method: "GET", target: "/api/saas/subscriptions/" + subID + v})
		wantBug := st.status != 0 && contains(bad, st)
		if got := len(val.HarnessBugs()) > 0; got != wantBug {
			t.Errorf("%d %s: harness bug = %v (%v), want %v", st.status, st.body, got, val.HarnessBugs(), wantBug)
		}
		if !wantBug && (rec.Code != st.status || strings.TrimSpace(rec.Body.String()) != st.body) {
			t.Errorf("%d %s reached the caller as %d %s", st.status, st.body, rec.Code, rec.Body)
		}
	}
	// In strict, a flat body is still our bug.
	val, _ := contract.New(ok[2])
	do(t, val, call{method: "GET", target: "/api/saas/subscriptions/" + subID + v})
	if len(val.HarnessBugs()) == 0 {
		t.Error("strict profile accepted a flat error body")
	}
}

func TestProductionValidatorAnswersInRealShapes(t *testing.T) {
	val, err := contract.New(&stub{}, contract.WithProfile(profile.Production))
	if err != nil {
		t.Fatal(err)
	}
	// No api-version: the validator's own 400 is flat.
	rec := do(t, val, call{method: "GET", target: "/api/saas/subscriptions/" + subID})
	if rec.Code != 400 || !strings.HasPrefix(rec.Body.String(), `{"code":"BadArgument","message":"FUL-API-01`) {
		t.Fatalf("missing api-version = %d %s, want a flat 400", rec.Code, rec.Body)
	}
	// A refused token: a bare string.
	refuse := contract.AuthenticatorFunc(func(*http.Request) (contract.Principal, *contract.Rejection) {
		return contract.Principal{}, &contract.Rejection{Status: 401}
	})
	val, _ = contract.New(&stub{}, contract.WithProfile(profile.Production), contract.WithAuthenticator(refuse))
	rec = do(t, val, call{method: "GET", target: "/api/saas/subscriptions/" + subID + v})
	if rec.Code != 401 || !strings.HasPrefix(rec.Body.String(), `"`) {
		t.Fatalf("refused token = %d %s, want 401 with a JSON string", rec.Code, rec.Body)
	}
	if _, err := contract.New(&stub{}, contract.WithProfile("lenient")); err == nil {
		t.Fatal("unknown profile accepted")
	}
}

func contains(list []errorStub, s errorStub) bool {
	for _, x := range list {
		if x.status == s.status && x.body == s.body {
			return true
		}
	}
	return false
}
