package app_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/saasconform/saasconform/examples/publisher/app"
	"github.com/saasconform/saasconform/harness/marketplace"
)

// serve runs one request through the handler in-process.
func serve(h http.Handler, method, target string, form url.Values) *httptest.ResponseRecorder {
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestLandingPageStates(t *testing.T) {
	e := newEnv(t)
	a, err := app.New(e.config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	h := a.Handler()
	landing := func(token string) *httptest.ResponseRecorder {
		return serve(h, http.MethodGet, "/landing?token="+url.QueryEscape(token), nil)
	}

	t.Run("missing token", func(t *testing.T) {
		if w := serve(h, http.MethodGet, "/landing", nil); w.Code != http.StatusBadRequest {
			t.Fatalf("%d", w.Code)
		}
	})
	t.Run("invalid token is a friendly 400", func(t *testing.T) {
		w := landing("nope+nope/nope==")
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Azure portal") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("pending shows plan and seats, then activates", func(t *testing.T) {
		buy := e.purchase(marketplace.PurchaseRequest{PlanID: "seats-monthly", Quantity: 4})
		w := landing(buy.Token)
		body := w.Body.String()
		if w.Code != http.StatusOK || !strings.Contains(body, "seats-monthly") || !strings.Contains(body, `id="quantity">4<`) ||
			!strings.Contains(body, buy.SubscriptionID) {
			t.Fatalf("%d %s", w.Code, body)
		}
		w = serve(h, http.MethodPost, "/landing/activate", url.Values{"subscriptionId": {buy.SubscriptionID}})
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "all set") {
			t.Fatalf("confirm: %d %s", w.Code, w.Body)
		}
		if sub, _ := e.m.Subscription(buy.SubscriptionID); sub.SaasSubscriptionStatus != marketplace.Subscribed {
			t.Fatalf("fake status %s", sub.SaasSubscriptionStatus)
		}
	})
	t.Run("flat plan shows no quantity", func(t *testing.T) {
		buy := e.purchase(marketplace.PurchaseRequest{PlanID: "flat-monthly"})
		if w := landing(buy.Token); w.Code != http.StatusOK || strings.Contains(w.Body.String(), `id="quantity"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	for _, st := range []struct {
		name   string
		action func(id string) error
		want   string
	}{
		{"subscribed shows manage", nil, "Your account is active"},
		{"suspended shows manage", func(id string) error { _, err := e.m.Suspend(id); return err }, "suspended"},
		{"unsubscribed has ended", func(id string) error { _, err := e.m.Unsubscribe(id); return err }, "no longer active"},
	} {
		t.Run(st.name, func(t *testing.T) {
			buy := e.purchase(marketplace.PurchaseRequest{PlanID: "flat-monthly"})
			if w := landing(buy.Token); w.Code != http.StatusOK {
				t.Fatal(w.Code)
			}
			if w := serve(h, http.MethodPost, "/landing/activate", url.Values{"subscriptionId": {buy.SubscriptionID}}); w.Code != http.StatusOK {
				t.Fatal(w.Code)
			}
			if st.action != nil {
				if err := st.action(buy.SubscriptionID); err != nil {
					t.Fatal(err)
				}
			}
			tok, err := e.m.IssueToken(buy.SubscriptionID)
			if err != nil {
				t.Fatal(err)
			}
			w := landing(tok)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), st.want) {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		})
	}
	t.Run("confirm without resolve", func(t *testing.T) {
		w := serve(h, http.MethodPost, "/landing/activate", url.Values{"subscriptionId": {"x"}})
		if w.Code != http.StatusBadRequest {
			t.Fatalf("%d", w.Code)
		}
	})
	t.Run("marketplace error is a 502", func(t *testing.T) {
		buy := e.purchase(marketplace.PurchaseRequest{PlanID: "flat-monthly"})
		if err := e.m.InjectFault(marketplace.Fault{Op: marketplace.OpResolve, Status: http.StatusInternalServerError, Count: 1}); err != nil {
			t.Fatal(err)
		}
		w := landing(buy.Token)
		if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "500") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	e.noErrors()
}
