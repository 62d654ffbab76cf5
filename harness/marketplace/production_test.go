package marketplace

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/saasconform/saasconform/harness/profile"
	"github.com/saasconform/saasconform/harness/violation"
)

// prodFake is a production-profile fake without transient faults, so the
// other behaviours are seen on every call.
func prodFake(t *testing.T) *Marketplace {
	t.Helper()
	m, _ := newFake(t, WithProfile(profile.Production), WithTransientFaults(0, 0))
	return m
}

func TestProductionErrorBodiesAreFlat(t *testing.T) {
	m := prodFake(t)
	rec := do(t, m, "GET", "/saas/subscriptions/00000000-0000-0000-0000-000000000009"+av, "")
	var flat map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &flat); err != nil || rec.Code != 404 {
		t.Fatalf("404 = %d %s (%v)", rec.Code, rec.Body, err)
	}
	if _, nested := flat["error"]; nested || flat["code"] != "NotFound" || flat["message"] == "" {
		t.Fatalf("production 404 body = %s, want flat {code,message}", rec.Body)
	}
	strict, _ := newFake(t)
	rec = do(t, strict, "GET", "/saas/subscriptions/00000000-0000-0000-0000-000000000009"+av, "")
	if e := decodeBody[ErrorResponse](t, rec).Error; e.Code != "NotFound" {
		t.Fatalf("strict 404 body = %s, want nested", rec.Body)
	}
}

func TestProductionLockedInsteadOfConflict(t *testing.T) {
	m := prodFake(t)
	m.cfg.operationLatency = 1 << 40 // the first change stays in progress
	p := subscribed(t, m, "flat-monthly")
	if rec := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+av, `{"planId":"flat-yearly"}`); rec.Code != 202 {
		t.Fatalf("first PATCH = %d %s", rec.Code, rec.Body)
	} else if rec.Header().Get("Operation-Id") == "" || !strings.Contains(rec.Header().Get("Operation-Location"), "/operations/"+rec.Header().Get("Operation-Id")+"?api-version=") {
		t.Fatalf("202 headers: Operation-Id %q, Operation-Location %q", rec.Header().Get("Operation-Id"), rec.Header().Get("Operation-Location"))
	}
	m.Violations().Reset()
	rec := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+av, `{"planId":"flat-monthly"}`)
	var body struct{ Code, Message string }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 400 || !strings.Contains(body.Message, "locked") {
		t.Fatalf("overlapping PATCH = %d %s, want 400 locked", rec.Code, rec.Body)
	}
	if got := m.Violations().All(); len(got) != 1 || got[0].Rule != "FUL-UPDATE-02" || got[0].Status != 400 {
		t.Fatalf("violations = %v, want one FUL-UPDATE-02 with status 400", got)
	}
}

func TestProductionOperationsListIsEmpty(t *testing.T) {
	m := prodFake(t)
	p := subscribed(t, m, "flat-monthly")
	if _, err := m.Suspend(p.SubscriptionID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reinstate(p.SubscriptionID); err != nil {
		t.Fatal(err)
	}
	rec := do(t, m, "GET", "/saas/subscriptions/"+p.SubscriptionID+"/operations"+av, "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"operations":[]}` {
		t.Fatalf("list operations = %d %s, want {\"operations\":[]}", rec.Code, rec.Body)
	}
	strict, _ := newFake(t)
	q := subscribed(t, strict, "flat-monthly")
	strict.Suspend(q.SubscriptionID)
	strict.Reinstate(q.SubscriptionID)
	if l := decodeBody[OperationList](t, do(t, strict, "GET", "/saas/subscriptions/"+q.SubscriptionID+"/operations"+av, "")); len(l.Operations) != 1 {
		t.Fatalf("strict list = %+v, want the Reinstate", l)
	}
}

func TestTransientFaultsOnlyOnReadsAndOnce(t *testing.T) {
	m, _ := newFake(t, WithTransientFaults(50, 7))
	p := subscribed(t, m, "flat-monthly")
	seen := map[int]int{}
	path := "/saas/subscriptions/" + p.SubscriptionID + av
	for i := 0; i < 200; i++ {
		rec := do(t, m, "GET", path, "")
		seen[rec.Code]++
		if rec.Code == 200 {
			continue
		}
		if rec.Code == 429 && rec.Header().Get("Retry-After") != "1" {
			t.Fatalf("429 without Retry-After: 1: %v", rec.Header())
		}
		// The same call made again succeeds.
		if again := do(t, m, "GET", path, ""); again.Code != 200 {
			t.Fatalf("retry after %d = %d", rec.Code, again.Code)
		}
	}
	for _, s := range []int{200, 500, 503, 429} {
		if seen[s] == 0 {
			t.Errorf("no %d in 200 GETs at 50%%: %v", s, seen)
		}
	}
	// Changes are never faulted.
	for i := 0; i < 30; i++ {
		if rec := do(t, m, "POST", "/saas/subscriptions/resolve"+av, "", hdrToken, p.Token); rec.Code != 200 {
			t.Fatalf("resolve faulted: %d %s", rec.Code, rec.Body)
		}
	}
	// An immediate retry of a 429 is a warning (FUL-RETRY-02), and passes.
	warned := false
	for _, v := range m.Violations().All() {
		if v.Rule == "FUL-RETRY-02" && v.Severity == violation.Warning && v.Status == http.StatusOK {
			warned = true
		}
	}
	if !warned {
		t.Fatalf("no FUL-RETRY-02 warning for retries made at once after 429: %v", m.Violations().All())
	}
}

func TestTransientFaultsAreSeeded(t *testing.T) {
	run := func() []int {
		m, _ := newFake(t, WithTransientFaults(20, 3))
		p := subscribed(t, m, "flat-monthly")
		var codes []int
		for i := 0; i < 40; i++ {
			codes = append(codes, do(t, m, "GET", "/saas/subscriptions/"+p.SubscriptionID+"/listAvailablePlans"+av+"&i="+string(rune('a'+i%26)), "").Code)
		}
		return codes
	}
	a, b := run(), run()
	if !equalInts(a, b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
}

func TestProfileOffByDefaultAndOnInProduction(t *testing.T) {
	strict, _ := newFake(t)
	if strict.Profile() != profile.Strict || strict.transient.percent != 0 {
		t.Fatalf("default profile %q with %d%% transient faults", strict.Profile(), strict.transient.percent)
	}
	prod, _ := newFake(t, WithProfile(profile.Production))
	if prod.transient.percent != DefaultTransientPercent {
		t.Fatalf("production transient faults = %d%%", prod.transient.percent)
	}
	if _, err := New(WithProfile("prod")); err == nil || !strings.Contains(err.Error(), "WithProfile") {
		t.Fatalf("unknown profile: %v", err)
	}
	if _, err := New(WithTransientFaults(80, 1)); err == nil {
		t.Fatal("80% transient faults accepted")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Another flow's read of the same URL (another correlation id) neither
// takes the faulted flow's free retry nor counts as its early retry.
func TestTransientFaultsKeyedByCorrelation(t *testing.T) {
	m, _ := newFake(t, WithTransientFaults(50, 11))
	p := subscribed(t, m, "flat-monthly")
	path := "/saas/subscriptions/" + p.SubscriptionID + av
	const a, b = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
	for i := 0; i < 100; i++ {
		rec := do(t, m, "GET", path, "", hdrCorrelationID, a)
		if rec.Code != 429 {
			continue
		}
		do(t, m, "GET", path, "", hdrCorrelationID, b) // another flow, at once
		if again := do(t, m, "GET", path, "", hdrCorrelationID, a); again.Code != 200 {
			t.Fatalf("flow a's retry after 429 = %d, want 200", again.Code)
		}
		for _, v := range m.Violations().ForRule("FUL-RETRY-02") {
			if v.CorrelationID == b {
				t.Fatalf("flow b warned for flow a's 429: %+v", v)
			}
		}
		return
	}
	t.Fatal("no 429 in 100 GETs at 50%")
}

// LockedFault answers a PATCH as an overlap would, body and all, in either
// profile, without blaming the caller.
func TestLockedFaultAnswersLikeAnOverlap(t *testing.T) {
	strict, _ := newFake(t)
	for name, m := range map[string]*Marketplace{"strict": strict, "production": prodFake(t)} {
		t.Run(name, func(t *testing.T) {
			m.cfg.operationLatency = 1 << 40 // the first change stays in progress
			p := subscribed(t, m, "flat-monthly")
			if rec := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+av, `{"planId":"flat-yearly"}`); rec.Code != 202 {
				t.Fatalf("first PATCH = %d %s", rec.Code, rec.Body)
			}
			overlap := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+av, `{"planId":"flat-monthly"}`)
			m.Violations().Reset()
			if err := m.InjectFault(m.LockedFault(p.SubscriptionID, 1)); err != nil {
				t.Fatal(err)
			}
			faulted := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+av, `{"planId":"flat-monthly"}`)
			if faulted.Code != overlap.Code || faulted.Body.String() != overlap.Body.String() {
				t.Fatalf("LockedFault = %d %s, an overlap = %d %s", faulted.Code, faulted.Body, overlap.Code, overlap.Body)
			}
			if got := m.Violations().All(); len(got) != 0 {
				t.Fatalf("violations = %v, want none from the injected refusal", got)
			}
		})
	}
}
