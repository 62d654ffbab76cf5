package identity

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/saasconform/saasconform/harness/contract"
)

// churnRun builds a transcript: before each of calls marketplace calls the
// app asks for a token when fetch(i) says so; tokens live lifetime; calls
// are gap apart.
func churnRun(calls int, gap, lifetime time.Duration, fetch func(i int) bool) []contract.Exchange {
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	var xs []contract.Exchange
	tok := ""
	for i := range calls {
		at := t0.Add(time.Duration(i) * gap)
		if fetch(i) {
			tok = fmt.Sprintf("eyJ.token%d.sig", i)
			xs = append(xs, contract.Exchange{At: at, Operation: OpToken, Method: http.MethodPost,
				URL: "/tenant/oauth2/v2.0/token", Status: http.StatusOK,
				RequestHeader: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
				RequestBody:   []byte("grant_type=client_credentials&client_id=app-1&client_secret=s&scope=x"),
				ResponseBody:  []byte(fmt.Sprintf(`{"token_type":"Bearer","expires_in":%d,"access_token":"%s"}`, int(lifetime.Seconds()), tok))})
		}
		xs = append(xs, contract.Exchange{At: at.Add(time.Millisecond), Operation: "getSubscription", Method: http.MethodGet,
			URL: "/api/saas/subscriptions/x", Status: http.StatusOK, RequestHeader: http.Header{"Authorization": {"Bearer " + tok}}})
	}
	return xs
}

func TestTokenChurn(t *testing.T) {
	every := func(int) bool { return true }
	for _, tc := range []struct {
		name string
		xs   []contract.Exchange
		want bool
	}{
		{"a token for every call, each good for an hour", churnRun(20, 100*time.Millisecond, time.Hour, every), true},
		{"one token reused for every call", churnRun(20, 100*time.Millisecond, time.Hour, func(i int) bool { return i == 0 }), false},
		{"a token per call, each about to lapse (short lifetime, MSAL's five-minute margin)", churnRun(20, 100*time.Millisecond, 2*time.Second, every), false},
		{"a new token as each lapses, hours apart", churnRun(20, 50*time.Minute, time.Hour, every), false},
		{"one token per process start (four workers)", churnRun(40, 100*time.Millisecond, time.Hour, func(i int) bool { return i < 4 }), false},
		{"too few calls to tell", churnRun(2, 100*time.Millisecond, time.Hour, every), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, got := TokenChurn(tc.xs)
			if got != tc.want {
				t.Fatalf("TokenChurn = %v (%+v), want %v", got, v, tc.want)
			}
			if got && (v.Rule != RuleTokenChurn || v.Severity != "warning" || v.Fix == "" || v.Method != http.MethodPost || v.Path == "" || v.At.IsZero()) {
				t.Errorf("violation %+v: want an AUTH-06 warning with a fix, seen on a token request", v)
			}
		})
	}
}

func TestTokenChurnReadsV1Answers(t *testing.T) {
	xs := churnRun(10, 100*time.Millisecond, time.Hour, func(int) bool { return true })
	for i, x := range xs {
		if x.Operation == OpToken {
			xs[i].ResponseBody = []byte(`{"token_type":"Bearer","expires_in":"3599","access_token":"t"}`)
			xs[i].RequestBody = nil
			xs[i].RequestHeader = http.Header{"Authorization": {"Basic YXBwLTE6cw=="}} // app-1:s
		}
	}
	if _, ok := TokenChurn(xs); !ok {
		t.Error("a v1 answer (expires_in as a string) with the client in HTTP Basic is not read")
	}
}
