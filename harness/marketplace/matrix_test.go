package marketplace

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
)

// state names the subscription fixtures every operation is tried against.
type state string

const (
	sPending      state = "PendingFulfillmentStart"
	sSubscribed   state = "Subscribed"
	sSuspended    state = "Suspended"
	sUnsubscribed state = "Unsubscribed"
	sUnknown      state = "unknown id"
)

var allStates = []state{sPending, sSubscribed, sSuspended, sUnsubscribed, sUnknown}

// fixture is a subscription in a state: its id, a token for it and an
// operation of it (random ids when there is none).
type fixture struct{ id, token, opID, plan string }

func setup(t *testing.T, m *Marketplace, s state) fixture {
	t.Helper()
	if s == sUnknown {
		return fixture{id: uuid.NewString(), token: newToken(), opID: uuid.NewString(), plan: "flat-monthly"}
	}
	var p Purchase
	f := fixture{opID: uuid.NewString(), plan: "flat-monthly"}
	if s == sPending {
		p = buy(t, m, f.plan)
		if rec := resolveToken(t, m, p.Token); rec.Code != 200 {
			t.Fatalf("resolve: %d", rec.Code)
		}
	} else {
		p = subscribed(t, m, f.plan)
		op, err := m.Renew(p.SubscriptionID) // gives Subscribed a (final) operation too
		if err != nil {
			t.Fatal(err)
		}
		f.opID = op.ID
	}
	f.id, f.token = p.SubscriptionID, p.Token
	var err error
	switch s {
	case sSuspended:
		var op Operation
		op, err = m.Suspend(f.id)
		f.opID = op.ID
	case sUnsubscribed:
		var op Operation
		op, err = m.Unsubscribe(f.id)
		f.opID = op.ID
	}
	if err != nil {
		t.Fatal(err)
	}
	if n := m.Violations().Len(); n != 0 {
		t.Fatalf("setup recorded violations: %v", m.Violations().All())
	}
	return f
}

type outcome struct {
	code int
	rule string // "" = no violation
}

func TestEveryOperationInEveryState(t *testing.T) {
	const q = "?api-version=2018-08-31"
	cases := []struct {
		op     OpName
		method string
		path   func(f fixture) string
		body   func(f fixture) string
		token  bool
		want   map[state]outcome
	}{
		{OpResolve, "POST", func(fixture) string { return "/saas/subscriptions/resolve" + q }, nil, true,
			map[state]outcome{sPending: {200, ""}, sSubscribed: {200, ""}, sSuspended: {200, ""}, sUnsubscribed: {200, ""}, sUnknown: {400, ""}}},
		{OpActivate, "POST", func(f fixture) string { return "/saas/subscriptions/" + f.id + "/activate" + q },
			func(f fixture) string { return `{"planId":"` + f.plan + `"}` }, false,
			map[state]outcome{sPending: {200, ""}, sSubscribed: {400, "FUL-ACTIVATE-02"}, sSuspended: {400, "FUL-ACTIVATE-02"},
				sUnsubscribed: {404, "STATE-01"}, sUnknown: {404, ""}}},
		{OpListSubscriptions, "GET", func(fixture) string { return "/saas/subscriptions" + q }, nil, false,
			map[state]outcome{sPending: {200, ""}, sSubscribed: {200, ""}, sSuspended: {200, ""}, sUnsubscribed: {200, ""}, sUnknown: {200, ""}}},
		{OpGetSubscription, "GET", func(f fixture) string { return "/saas/subscriptions/" + f.id + q }, nil, false,
			map[state]outcome{sPending: {200, ""}, sSubscribed: {200, ""}, sSuspended: {200, ""}, sUnsubscribed: {200, ""}, sUnknown: {404, ""}}},
		{OpListAvailablePlans, "GET", func(f fixture) string { return "/saas/subscriptions/" + f.id + "/listAvailablePlans" + q }, nil, false,
			map[state]outcome{sPending: {200, ""}, sSubscribed: {200, ""}, sSuspended: {200, ""}, sUnsubscribed: {200, ""}, sUnknown: {404, ""}}},
		{OpUpdateSubscription, "PATCH", func(f fixture) string { return "/saas/subscriptions/" + f.id + q },
			func(fixture) string { return `{"planId":"flat-yearly"}` }, false,
			map[state]outcome{sPending: {400, "STATE-02"}, sSubscribed: {202, ""}, sSuspended: {400, "STATE-02"},
				sUnsubscribed: {400, "STATE-01"}, sUnknown: {404, ""}}},
		{OpDeleteSubscription, "DELETE", func(f fixture) string { return "/saas/subscriptions/" + f.id + q }, nil, false,
			map[state]outcome{sPending: {202, ""}, sSubscribed: {202, ""}, sSuspended: {202, ""}, sUnsubscribed: {400, "STATE-01"}, sUnknown: {404, ""}}},
		{OpListOperations, "GET", func(f fixture) string { return "/saas/subscriptions/" + f.id + "/operations" + q }, nil, false,
			map[state]outcome{sPending: {200, ""}, sSubscribed: {200, ""}, sSuspended: {200, ""}, sUnsubscribed: {200, ""}, sUnknown: {404, ""}}},
		{OpGetOperation, "GET", func(f fixture) string { return "/saas/subscriptions/" + f.id + "/operations/" + f.opID + q }, nil, false,
			map[state]outcome{sPending: {404, ""}, sSubscribed: {200, ""}, sSuspended: {200, ""}, sUnsubscribed: {200, ""}, sUnknown: {404, ""}}},
		{OpUpdateOperation, "PATCH", func(f fixture) string { return "/saas/subscriptions/" + f.id + "/operations/" + f.opID + q },
			func(fixture) string { return `{"status":"Success"}` }, false,
			map[state]outcome{sPending: {404, ""}, sSubscribed: {409, "FUL-OP-01"}, sSuspended: {409, "FUL-OP-01"},
				sUnsubscribed: {409, "FUL-OP-01"}, sUnknown: {404, ""}}},
	}
	for _, tc := range cases {
		if len(tc.want) != len(allStates) {
			t.Fatalf("%s: table covers %d states, want %d", tc.op, len(tc.want), len(allStates))
		}
		for _, s := range allStates {
			t.Run(fmt.Sprintf("%s/%s", tc.op, s), func(t *testing.T) {
				m, _ := newFake(t)
				f := setup(t, m, s)
				body := ""
				if tc.body != nil {
					body = tc.body(f)
				}
				var hdr []string
				if tc.token {
					hdr = []string{hdrToken, f.token}
				}
				rec := do(t, m, tc.method, tc.path(f), body, hdr...)
				want := tc.want[s]
				if rec.Code != want.code {
					t.Errorf("status = %d, want %d (body %s)", rec.Code, want.code, rec.Body)
				}
				var wantRules []string
				if want.rule != "" {
					wantRules = []string{want.rule}
				}
				if got := rulesOf(m.Violations().All()); !sameStrings(got, wantRules) {
					t.Errorf("violations = %v, want %v", m.Violations().All(), wantRules)
				}
				if rec.Code >= 400 {
					e := decodeBody[ErrorResponse](t, rec)
					if e.Error.Code == "" || e.Error.Message == "" {
						t.Errorf("error body lacks code/message: %s", rec.Body)
					}
				}
				if ct := rec.Header().Get("Content-Type"); rec.Body.Len() > 0 && ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
			})
		}
	}
}
