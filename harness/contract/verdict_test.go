package contract

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// canned is one answer of the fake under test.
type canned struct {
	status int
	ctype  string
	header map[string]string
	body   string
}

// cannedFake answers each request with answers[x-case header].
type cannedFake []canned

func (f cannedFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, _ := strconv.Atoi(r.Header.Get("x-case"))
	a := f[i]
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	if a.ctype != "" {
		w.Header().Set("Content-Type", a.ctype)
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func subscriptionBody(mod func(map[string]any)) string {
	who := map[string]any{"emailId": "a@customer.example", "objectId": benchSub, "tenantId": benchSub}
	m := map[string]any{"id": benchSub, "publisherId": "contoso", "offerId": "offer", "name": "n",
		"saasSubscriptionStatus": "Subscribed", "beneficiary": who, "purchaser": who, "planId": "basic",
		"term": map[string]any{"termUnit": "P1M"}, "autoRenew": false, "isTest": false, "isFreeTrial": false,
		"allowedCustomerOperations": []string{"Read"}, "sandboxType": "None", "sessionMode": "None",
		"created": "2026-01-02T03:04:05Z", "lastModified": "2026-01-02T03:04:05Z"}
	if mod != nil {
		mod(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// send makes one call of answer i to v and returns the status.
func send(t *testing.T, v *Validator, method, target string, i int) *httptest.ResponseRecorder {
	t.Helper()
	r := benchRequest(method, target, "")
	if method == http.MethodPatch {
		r = benchRequest(method, target, `{"planId":"gold"}`)
	}
	r.Header.Set("x-case", strconv.Itoa(i))
	rec := httptest.NewRecorder()
	v.ServeHTTP(rec, r)
	return rec
}

const getSub = "/api/saas/subscriptions/" + benchSub + "?api-version=2018-08-31"

// TestCachedGoodBodyDoesNotHideABadOne: once a body passed, the same bytes
// skip the schema, but any change of the body, the status or the
// Content-Type is validated in full again and a bad answer still becomes a
// HarnessBug 500.
func TestCachedGoodBodyDoesNotHideABadOne(t *testing.T) {
	good := subscriptionBody(nil)
	// One byte apart from good: the status is not one of the enum.
	sameLength := strings.Replace(good, `"Subscribed"`, `"Subscribex"`, 1)
	missing := subscriptionBody(func(m map[string]any) { delete(m, "saasSubscriptionStatus") })
	answers := cannedFake{
		{status: 200, ctype: "application/json", body: good},                               // 0
		{status: 200, ctype: "application/json", body: sameLength},                         // 1
		{status: 200, ctype: "application/json", body: missing},                            // 2
		{status: 404, ctype: "application/json", body: good},                               // 3: good bytes, wrong status
		{status: 200, ctype: "text/plain", body: good},                                     // 4: good bytes, wrong type
		{status: 200, ctype: "application/json; charset=utf-8", body: good},                // 5: another type, still fine
		{status: 200, ctype: "application/json", body: good + " "},                         // 6: other bytes, same value
		{status: 200, ctype: "application/json", body: strings.Replace(good, "n", "n", 1)}, // 7: identical bytes
	}
	v, err := New(answers)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		answer, status int
		hits           int64 // cache hits after the step
	}{
		{0, 200, 0}, // validated in full, remembered
		{0, 200, 1}, // the same bytes: the body check is skipped
		{1, 500, 1}, // one byte changed: validated, caught
		{2, 500, 1},
		{3, 500, 1},
		{4, 500, 1},
		{5, 200, 1}, // a new key: validated in full
		{5, 200, 2},
		{6, 200, 2},
		{7, 200, 3}, // equal bytes built anew hit the cache
		{1, 500, 3}, // a bad body is never remembered
		{1, 500, 3},
		{0, 200, 4},
	}
	for n, s := range steps {
		rec := send(t, v, http.MethodGet, getSub, s.answer)
		if rec.Code != s.status {
			t.Fatalf("step %d (answer %d): status %d, want %d: %s", n, s.answer, rec.Code, s.status, rec.Body)
		}
		if s.status == 500 && !strings.Contains(rec.Body.String(), "SaasconformHarnessBug") {
			t.Fatalf("step %d: a 500 that is not a HarnessBug: %s", n, rec.Body)
		}
		if got := v.verdicts.hits.Load(); got != s.hits {
			t.Fatalf("step %d: %d cache hits, want %d", n, got, s.hits)
		}
	}
	if got := len(v.HarnessBugs()); got != 6 {
		t.Errorf("%d harness bugs recorded, want 6", got)
	}
}

// TestHeadersAreCheckedEvenWhenTheBodyIsKnown: the body's verdict is
// remembered, the headers' never: a 202 whose (empty) body passed before
// still fails without a valid Operation-Location.
func TestHeadersAreCheckedEvenWhenTheBodyIsKnown(t *testing.T) {
	loc := "https://127.0.0.1/api/saas/subscriptions/" + benchSub + "/operations/" + benchSub + "?api-version=2018-08-31"
	answers := cannedFake{
		{status: 202, header: map[string]string{"Operation-Location": loc}},
		{status: 202, header: map[string]string{"Operation-Location": "not a uri"}},
		{status: 202},
	}
	v, err := New(answers)
	if err != nil {
		t.Fatal(err)
	}
	patch := "/api/saas/subscriptions/" + benchSub + "?api-version=2018-08-31"
	for n, s := range []struct{ answer, status int }{{0, 202}, {0, 202}, {1, 500}, {2, 500}, {0, 202}, {1, 500}} {
		if rec := send(t, v, http.MethodPatch, patch, s.answer); rec.Code != s.status {
			t.Fatalf("step %d (answer %d): status %d, want %d: %s", n, s.answer, rec.Code, s.status, rec.Body)
		}
	}
}

// TestResponseCacheGivesTheSameVerdicts sends a mix of good and bad answers
// from many goroutines to a validator with the cache and one without: every
// call gets the same status from both.
func TestResponseCacheGivesTheSameVerdicts(t *testing.T) {
	var answers cannedFake
	for i := range 6 {
		name := fmt.Sprintf("sub-%d", i)
		answers = append(answers,
			canned{status: 200, ctype: "application/json", body: subscriptionBody(func(m map[string]any) { m["name"] = name })},
			canned{status: 200, ctype: "application/json", body: subscriptionBody(func(m map[string]any) { m["name"] = name; m["quantity"] = "many" })},
			canned{status: 200, ctype: "application/json", body: subscriptionBody(func(m map[string]any) { m["name"] = name; delete(m, "id") })},
		)
	}
	cached, err := New(answers)
	if err != nil {
		t.Fatal(err)
	}
	full, err := New(answers, WithoutResponseCache())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 60 {
				i := (n*7 + g*5) % len(answers)
				a, b := send(t, cached, http.MethodGet, getSub, i), send(t, full, http.MethodGet, getSub, i)
				if a.Code != b.Code || a.Code != []int{200, 500, 500}[i%3] {
					select {
					case errs <- fmt.Sprintf("answer %d: %d with the cache, %d without", i, a.Code, b.Code):
					default:
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if cached.verdicts.hits.Load() == 0 || full.verdicts.hits.Load() != 0 {
		t.Errorf("hits: %d with the cache, %d without", cached.verdicts.hits.Load(), full.verdicts.hits.Load())
	}
}

// TestVerdictCacheIsBounded: past maxVerdicts the cache starts over.
func TestVerdictCacheIsBounded(t *testing.T) {
	vs := newVerdicts(true)
	for i := range maxVerdicts + 10 {
		vs.remember(vs.key(nil, 200, "application/json", []byte(strconv.Itoa(i))))
	}
	if n := len(vs.good); n > maxVerdicts {
		t.Fatalf("%d verdicts kept, bound %d", n, maxVerdicts)
	}
	if !vs.known(vs.key(nil, 200, "application/json", []byte(strconv.Itoa(maxVerdicts+9)))) {
		t.Error("the latest verdict is not kept")
	}
}
