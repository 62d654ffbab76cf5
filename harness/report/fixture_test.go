package report

import (
	"net/http"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/saasconform/saasconform/harness/contract"
	"github.com/saasconform/saasconform/harness/driver"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/violation"
)

// Secrets the synthetic run carries; no writer may print them.
const (
	secretBearer   = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwdWJsaXNoZXIifQ.c2lnbmF0dXJlLXNlY3JldA"
	secretPurchase = "PURCHASEtokenSECRETvalue123"
	secretClient   = "s3cr3t-client-secret"
	secretAccess   = "eyJACCESS.TOKEN.value"
	secretRefresh  = "REFRESH-token-value"
	secretIDToken  = "ID-token-value"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

const subA = "37f9dea2-4345-438f-b0bd-03d40d28c7e0"

// synthetic is a fixed run: one failed activation spec with an activate
// violation and a state mismatch, a passed landing spec with a warning, a
// skipped spec, a spec the label filter left out, two exchanges, a genuine
// and a forged webhook delivery, and a publisher log.
func synthetic() (types.Report, RunData) {
	activate := violation.Violation{Rule: "FUL-ACTIVATE-01", Severity: violation.Error,
		Summary: "activate sent a planId the subscription was not bought with", Field: "body.planId",
		Got: `"gold"`, Want: `"flat-monthly"`, Fix: "send the planId resolve returned",
		Doc:    "https://learn.microsoft.com/en-us/partner-center/marketplace-offers/pc-saas-fulfillment-subscription-api#activate-a-subscription",
		Method: "POST", Path: "/api/saas/subscriptions/" + subA + "/activate?api-version=2018-08-31", Status: 400,
		SubscriptionID: subA, CorrelationID: "c0ffee00-0000-4000-8000-000000000001", At: at(1200)}
	mismatch := violation.Violation{Rule: "STATE-06", Severity: violation.Error,
		Summary: "publisher's view differs from Microsoft's after activation", Field: "status,planId",
		Got: "status=PendingFulfillmentStart planId=gold plan", Want: "status=Subscribed planId=flat-monthly",
		Fix: "apply every notification to your own records after GETting the operation", Doc: "https://learn.microsoft.com/state",
		SubscriptionID: subA, At: at(2500)}
	warning := violation.Violation{Rule: "FUL-HEADERS-01", Severity: violation.Warning,
		Summary: "request without x-ms-requestid", Field: "header.x-ms-requestid", Want: "a GUID",
		Fix: "send a fresh x-ms-requestid GUID with every call", Method: "POST",
		Path: "/api/saas/subscriptions/resolve?api-version=2018-08-31", Status: 200, At: at(300)}

	r := types.Report{
		SuitePath: "suites", SuiteDescription: "SaaS fulfillment conformance",
		StartTime: t0, EndTime: t0.Add(4200 * time.Millisecond), RunTime: 4200 * time.Millisecond,
		SpecReports: types.SpecReports{
			{
				ContainerHierarchyTexts: []string{"Activation"}, ContainerHierarchyLabels: [][]string{{"flow:activation"}},
				LeafNodeType: types.NodeTypeIt, LeafNodeText: "activates a flat-rate purchase with the plan resolve returned",
				LeafNodeLabels: []string{"FUL-ACTIVATE-01", "FUL-ACTIVATE-02", "STATE-06"},
				State:          types.SpecStateFailed, RunTime: 2600 * time.Millisecond,
				Failure: types.Failure{Message: "2 contract violation(s):\n  " + activate.String() + "\n  " + mismatch.String() +
					"\n(the publisher sent Authorization: Bearer " + secretBearer + ")",
					Location: types.CodeLocation{FileName: "/home/dev/saasconform/suites/activation.go", LineNumber: 16}},
				ReportEntries: types.ReportEntries{{Name: "violations", Value: types.WrapEntryValue([]violation.Violation{activate, mismatch})}},
			},
			{
				ContainerHierarchyTexts: []string{"Landing page"}, ContainerHierarchyLabels: [][]string{{"flow:landing"}},
				LeafNodeType: types.NodeTypeIt, LeafNodeText: "resolves the purchase token the customer brings",
				LeafNodeLabels: []string{"FUL-RESOLVE-01", "AUTH-01"},
				State:          types.SpecStatePassed, RunTime: 900 * time.Millisecond,
				// As read back from a JSON report: only the JSON form is there.
				ReportEntries: types.ReportEntries{{Name: "violations", Value: jsonEntry(warning)}},
			},
			{
				ContainerHierarchyTexts: []string{"Suspend"}, ContainerHierarchyLabels: [][]string{{"flow:suspend"}},
				LeafNodeType: types.NodeTypeIt, LeafNodeText: "suspends on the Suspend notification",
				LeafNodeLabels: []string{"WH-SUSPEND-01", "flaky"},
				State:          types.SpecStateSkipped, RunTime: 2 * time.Millisecond,
				Failure: types.Failure{Message: `capability "suspend" is off in the target config (capabilities: [landing activate])`},
			},
			{
				ContainerHierarchyTexts: []string{"Renewal"}, ContainerHierarchyLabels: [][]string{{"flow:renew"}},
				LeafNodeType: types.NodeTypeIt, LeafNodeText: "keeps the subscription on Renew",
				LeafNodeLabels: []string{"WH-RENEW-01"}, State: types.SpecStateSkipped,
			},
		},
	}

	resolveReq := http.Header{"Authorization": {"Bearer " + secretBearer}, "X-Ms-Marketplace-Token": {secretPurchase},
		"Content-Type": {"application/json"}}
	d := RunData{
		Target:      "fixtures/targets/reference-publisher.yaml",
		ToolVersion: "v0.0.0-test",
		Violations:  []violation.Violation{warning, activate, mismatch, activate}, // the repeat is dropped
		Exchanges: []contract.Exchange{
			{At: at(100), Duration: 12 * time.Millisecond, Method: "POST",
				URL:           "/tenant-1/oauth2/v2.0/token",
				RequestHeader: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
				RequestBody:   []byte("grant_type=client_credentials&client_id=app-1&client_secret=" + secretClient + "&scope=20e940b3-4c77-4b0b-9a53-9e16a1b010a7%2F.default"),
				Status:        200, ResponseHeader: http.Header{"Content-Type": {"application/json"}},
				ResponseBody: []byte(`{"token_type":"Bearer","expires_in":240,"access_token":"` + secretAccess + `","refresh_token":"` + secretRefresh + `","id_token":"` + secretIDToken + `"}`)},
			{At: at(300), Duration: 8 * time.Millisecond, Operation: "resolve", Method: "POST",
				URL: "/api/saas/subscriptions/resolve?api-version=2018-08-31", RequestHeader: resolveReq,
				Status: 200, ResponseHeader: http.Header{"Content-Type": {"application/json; charset=utf-8"}},
				ResponseBody: []byte(`{"id":"` + subA + `","subscriptionName":"Contoso <test> & co","offerId":"saas-offer","planId":"flat-monthly","quantity":null}`),
				Violations:   []violation.Violation{warning}},
			{At: at(1200), Duration: 5 * time.Millisecond, Operation: "activate", Method: "POST",
				URL:           "/api/saas/subscriptions/" + subA + "/activate?api-version=2018-08-31",
				RequestHeader: http.Header{"Authorization": {"Bearer " + secretBearer}, "Content-Type": {"application/json"}},
				RequestBody:   []byte(`{"planId":"gold"}`), Status: 400,
				ResponseHeader: http.Header{"Content-Type": {"application/json"}},
				ResponseBody:   []byte(`{"error":{"code":"BadArgument","message":"planId gold is not the plan of this subscription"}}`),
				SubscriptionID: subA, CorrelationID: activate.CorrelationID, Violations: []violation.Violation{activate}},
		},
		Deliveries: []driver.Delivery{
			{Payload: marketplace.WebhookPayload{ID: "op-1", SubscriptionID: subA, Action: marketplace.ActionChangePlan},
				Attempts: []driver.Attempt{
					{At: at(3000), Latency: 10 * time.Second, TimedOut: true, Err: "no answer within the 10s acknowledgement window"},
					{At: at(4000), Latency: 35 * time.Millisecond, Status: 200, Body: "ok"}}},
			{Payload: marketplace.WebhookPayload{ID: "op-2", SubscriptionID: subA, Action: marketplace.ActionSuspend},
				Forgery: "alg-none", Attempts: []driver.Attempt{{At: at(4100), Latency: 3 * time.Millisecond, Status: 401, Body: "invalid token"}}},
		},
		PublisherLog: []byte("listening on 127.0.0.1:8080\nresolve: Authorization: Bearer " + secretBearer + "\n<script>alert('log')</script>\nactivate failed: 400\n"),
	}
	return r, d
}

func jsonEntry(vs ...violation.Violation) types.ReportEntryValue {
	data, err := types.WrapEntryValue(vs).MarshalJSON()
	if err != nil {
		panic(err)
	}
	var v types.ReportEntryValue
	if err := v.UnmarshalJSON(data); err != nil {
		panic(err)
	}
	return v
}
