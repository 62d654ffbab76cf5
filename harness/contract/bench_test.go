package contract

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

const benchSub = "7e1a3c52-0b8f-4d6e-9a21-5c3f8e2d1b40"

func benchValidator(b *testing.B) *Validator {
	b.Helper()
	v, err := New(http.NotFoundHandler())
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func benchRequest(method, target, body string) *http.Request {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, bytes.NewReader([]byte(body)))
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer t")
	r.Header.Set("x-ms-requestid", benchSub)
	r.Header.Set("x-ms-correlationid", benchSub)
	return r
}

// benchmarkRequestValidation measures what the middleware does to a request
// before the fake sees it: version checks, routing and schema validation.
func benchmarkRequestValidation(b *testing.B, method, target, body string) {
	v := benchValidator(b)
	r := benchRequest(method, target, body)
	rel, _ := v.relPath(r.URL.Path)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fs := checkVersion(r, rel, r.URL.Query())
		route, params, known := v.router.find(r.Method, rel)
		if route == nil {
			b.Fatal("no route")
		}
		fs = append(fs, checkHygiene(r)...)
		fs = append(fs, v.validateRequest(probeRequest(r, rel), route, params, known, []byte(body), r.URL.Query())...)
		if len(fs) != 0 {
			b.Fatalf("unexpected findings: %+v", fs)
		}
	}
}

func BenchmarkValidateRequestResolve(b *testing.B) {
	r := "/api/saas/subscriptions/resolve?api-version=2018-08-31"
	b.Run("resolve", func(b *testing.B) {
		v := benchValidator(b)
		req := benchRequest(http.MethodPost, r, "")
		req.Header.Set("x-ms-marketplace-token", "abc+def/ghi==")
		rel, _ := v.relPath(req.URL.Path)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			route, params, known := v.router.find(req.Method, rel)
			if fs := v.validateRequest(probeRequest(req, rel), route, params, known, nil, nil); len(fs) != 0 {
				b.Fatal(fs)
			}
		}
	})
}

func BenchmarkValidateRequestPatch(b *testing.B) {
	benchmarkRequestValidation(b, http.MethodPatch, "/api/saas/subscriptions/"+benchSub+"?api-version=2018-08-31", `{"planId":"gold"}`)
}

// BenchmarkValidateResponseSubscription validates one subscription body:
// "full" checks it against the schema every time, "cached" is the default,
// where the same bytes passed before and only the status and headers are
// checked again.
func BenchmarkValidateResponseSubscription(b *testing.B) {
	b.Run("full", func(b *testing.B) { benchmarkValidateResponse(b, WithoutResponseCache()) })
	b.Run("cached", func(b *testing.B) { benchmarkValidateResponse(b) })
}

func benchmarkValidateResponse(b *testing.B, opts ...Option) {
	v, err := New(http.NotFoundHandler(), opts...)
	if err != nil {
		b.Fatal(err)
	}
	r := benchRequest(http.MethodGet, "/api/saas/subscriptions/"+benchSub+"?api-version=2018-08-31", "")
	rel, _ := v.relPath(r.URL.Path)
	route, params, _ := v.router.find(r.Method, rel)
	who := map[string]any{"emailId": "a@customer.example", "objectId": benchSub, "tenantId": benchSub}
	body, _ := json.Marshal(map[string]any{"id": benchSub, "publisherId": "contoso", "offerId": "offer", "name": "n",
		"saasSubscriptionStatus": "Subscribed", "beneficiary": who, "purchaser": who, "planId": "basic", "quantity": 5,
		"term":      map[string]any{"termUnit": "P1M", "startDate": "2026-01-02T03:04:05Z", "endDate": "2026-02-02T03:04:05Z"},
		"autoRenew": true, "isTest": false, "isFreeTrial": false, "allowedCustomerOperations": []string{"Read", "Update", "Delete"},
		"sandboxType": "None", "sessionMode": "None", "created": "2026-01-02T03:04:05Z", "lastModified": "2026-01-02T03:04:05Z"})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := newRecorder()
		rec.header.Set("Content-Type", "application/json")
		_, _ = rec.Write(body)
		v.validateResponse(r, probeRequest(r, rel), route, params, rec)
		if rec.status != http.StatusOK {
			b.Fatalf("response rejected: %s", rec.body.String())
		}
	}
}
