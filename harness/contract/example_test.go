package contract_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/violation"
)

// A publisher that changes plan and quantity in one PATCH is told which rule
// it broke and how to fix it.
func Example() {
	log := &violation.Log{}
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fake, _ := marketplace.New(marketplace.WithClock(clk), marketplace.WithViolations(log))
	api, _ := contract.New(fake, contract.WithViolations(log), contract.WithClock(clk))
	srv := httptest.NewServer(api)
	defer srv.Close()

	buy, _ := fake.Purchase(marketplace.PurchaseRequest{OfferID: "contoso-notes", PlanID: "flat-monthly"})
	req, _ := http.NewRequest(http.MethodPatch,
		srv.URL+"/api/saas/subscriptions/"+buy.SubscriptionID+"?api-version=2018-08-31",
		strings.NewReader(`{"planId":"flat-yearly","quantity":5}`))
	req.Header.Set("Authorization", "Bearer token-from-entra")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-ms-requestid", "9b2f64a1-0c3d-4e5f-8a7b-6c5d4e3f2a1b")
	req.Header.Set("x-ms-correlationid", "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()

	fmt.Println(resp.StatusCode)
	for _, v := range log.ForSubscription(buy.SubscriptionID) {
		fmt.Println(v.Rule, "-", v.Summary, "-", v.Fix)
	}
	// Output:
	// 400
	// FUL-UPDATE-01 - PATCH subscription carries planId and quantity together - change the plan and the quantity in two PATCH calls, the second after the first operation completes
}
