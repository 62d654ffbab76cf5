package violation

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestStringCarriesRuleFieldGotWantFixAndDoc(t *testing.T) {
	v := Violation{Rule: "FUL-ACTIVATE-01", Summary: "activate without planId", Field: "body.planId",
		Got: "{}", Want: `{"planId":"gold"}`, Fix: "send the plan resolve returned",
		Method: "POST", Path: "/api/saas/subscriptions/x/activate"}
	var l Log
	l.Record(v)
	got := l.All()[0].String()
	for _, want := range []string{"FUL-ACTIVATE-01: activate without planId", "at body.planId",
		`(got {} want {"planId":"gold"})`, "[POST /api/saas/subscriptions/x/activate]",
		"— send the plan resolve returned", "pc-saas-fulfillment-subscription-api"} {
		if !strings.Contains(got, want) {
			t.Errorf("String() = %q, missing %q", got, want)
		}
	}
	if l.All()[0].Severity != Error {
		t.Errorf("default severity = %q, want error", l.All()[0].Severity)
	}
}

func TestLogFiltersAndIsSafeForConcurrentUse(t *testing.T) {
	var l Log
	var seen int
	var mu sync.Mutex
	l.Watch(func(Violation) { mu.Lock(); seen++; mu.Unlock() })
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v := Violation{Rule: "FUL-API-01", SubscriptionID: "A", CorrelationID: "c1"}
			if i%2 == 1 {
				v = Violation{Rule: "FUL-API-04", Severity: Warning, SubscriptionID: "b", CorrelationID: "C2"}
			}
			l.Record(v)
		}(i)
	}
	wg.Wait()
	if l.Len() != 50 || seen != 50 {
		t.Fatalf("len=%d seen=%d, want 50", l.Len(), seen)
	}
	if n := len(l.ForSubscription("a")); n != 25 {
		t.Errorf("ForSubscription(a) = %d, want 25 (case-insensitive)", n)
	}
	if n := len(l.ForCorrelation("c2")); n != 25 {
		t.Errorf("ForCorrelation(c2) = %d, want 25", n)
	}
	if n := len(l.Errors()); n != 25 {
		t.Errorf("Errors() = %d, want 25", n)
	}
	if got := Rules(l.All()); len(got) != 2 {
		t.Errorf("Rules = %v", got)
	}
	l.Reset()
	if l.Len() != 0 {
		t.Error("Reset kept violations")
	}
}

func TestDocForFamilies(t *testing.T) {
	for rule, want := range map[string]string{
		"FUL-OP-01": "operations-api", "FUL-LIST-01": "subscription-api", "WH-AUTH-01": "webhook",
		"WH-AUTH-02": "signing-key-rollover",
		"AUTH-01":    "registration", "STATE-02": "life-cycle", "X-1": "",
	} {
		if got := DocFor(rule); !strings.Contains(got, want) || (want == "" && got != "") {
			t.Errorf("DocFor(%s) = %q, want …%s…", rule, got, want)
		}
	}
}

func TestWriteFileCountsErrorsNotWarnings(t *testing.T) {
	var l Log
	l.Record(Violation{Rule: "FUL-API-04", Severity: Warning})
	l.Record(Violation{Rule: "AUTH-03", Severity: Error})
	path := filepath.Join(t.TempDir(), "violations.json")
	if err := l.WriteFile(path, "t.yaml"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.Count != 2 || f.Errors != 1 || f.Target != "t.yaml" || f.Violations[1].Rule != "AUTH-03" {
		t.Fatalf("file = %+v", f)
	}
	if err := (&Log{}).WriteFile(filepath.Join(t.TempDir(), "no", "dir.json"), ""); err == nil {
		t.Error("an unwritable path gave no error")
	}
}

func TestKeepBoundsTheLogAndCountsTheRest(t *testing.T) {
	var l Log
	seen := 0
	l.Watch(func(Violation) { seen++ })
	l.Keep(3)
	for i := 0; i < 10; i++ {
		l.Record(Violation{Rule: fmt.Sprint("R", i)})
	}
	if got := Rules(l.All()); fmt.Sprint(got) != "[R7 R8 R9]" || l.Len() != 3 || l.Dropped() != 7 || seen != 10 {
		t.Fatalf("kept %v, len %d, dropped %d, watched %d", got, l.Len(), l.Dropped(), seen)
	}
	if len(l.all) >= 6 {
		t.Errorf("the backing slice holds %d: not trimmed", len(l.all))
	}
	l.Reset()
	if l.Len() != 0 || l.Dropped() != 0 {
		t.Error("Reset kept something")
	}
}

func TestWriteFileFuncRewritesEachViolation(t *testing.T) {
	var l Log
	l.Record(Violation{Rule: "FUL-RESOLVE-01", Got: "secret-token"})
	path := filepath.Join(t.TempDir(), "violations.json")
	hide := func(v Violation) Violation { v.Got = "<hidden>"; return v }
	if err := l.WriteFileFunc(path, "", hide); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "secret-token") || !strings.Contains(string(data), `"got": "\u003chidden\u003e"`) {
		t.Errorf("violations.json:\n%s", data)
	}
	if l.All()[0].Got != "secret-token" {
		t.Error("WriteFileFunc changed the log itself")
	}
}
