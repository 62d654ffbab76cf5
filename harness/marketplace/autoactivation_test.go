package marketplace

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/saasconform/saasconform/harness/statefile"
	"github.com/saasconform/saasconform/harness/violation"
	"github.com/saasconform/saasconform/spec"
)

const autoPlan = "auto-monthly" // fixtures/offers.yaml: autoActivation: true

// validates checks v, as JSON, against one schema of spec/fulfillment-v2.yaml.
func validates(t *testing.T, schema string, v any) {
	t.Helper()
	doc, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	ref := doc.Components.Schemas[schema]
	if ref == nil {
		t.Fatalf("no schema %s", schema)
	}
	if err := ref.Value.VisitJSON(generic, spec.ValidationOptions()...); err != nil {
		t.Fatalf("%s does not validate as %s: %v", b, schema, err)
	}
}

func TestAutoActivationKeyStaysOffTheWire(t *testing.T) {
	m, _ := newFake(t)
	p, ok := m.Catalog().Plan(offer, autoPlan)
	if !ok || !p.AutoActivation {
		t.Fatalf("plan %s: %+v, want AutoActivation", autoPlan, p)
	}
	if other, _ := m.Catalog().Plan(offer, "flat-monthly"); other.AutoActivation {
		t.Fatal("flat-monthly must not activate automatically")
	}
	rec := do(t, m, "GET", "/saas/subscriptions/"+buy(t, m, "flat-monthly").SubscriptionID+"/listAvailablePlans"+av, "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), autoPlan) {
		t.Fatalf("listAvailablePlans: %d %s", rec.Code, rec.Body)
	}
	if strings.Contains(strings.ToLower(rec.Body.String()), "autoactivation") {
		t.Fatalf("the catalog key leaked into a wire body: %s", rec.Body)
	}
	if _, err := LoadCatalog([]byte("offers:\n- offerId: o\n  plans:\n  - planId: p\n    autoActivation: yes-please\n" +
		"    recurrentBillingTerms: [{currency: USD, price: 1, termUnit: P1M}]\n")); err == nil {
		t.Fatal("a non-boolean autoActivation must be refused")
	}
}

func TestPurchaseOfAutoActivatedPlanSubscribesAndNotifies(t *testing.T) {
	m, _ := newFake(t)
	var heard []Event
	m.OnEvent(func(e Event) { heard = append(heard, e) })
	p := buy(t, m, autoPlan)

	s := mustStatus(t, m, p.SubscriptionID, Subscribed)
	if s.Term.StartDate == nil || !s.Term.StartDate.Equal(t0) || s.Term.EndDate == nil || !s.Term.EndDate.Equal(t0.AddDate(0, 1, 0)) {
		t.Fatalf("the term must start at the purchase: %+v", s.Term)
	}
	if p.Subscription.SaasSubscriptionStatus != Subscribed || p.Subscribe == nil {
		t.Fatalf("Purchase = %+v, want Subscribed with its Subscribe operation", p)
	}
	op := *p.Subscribe
	if op.Action != ActionSubscribe || op.Status != OpSucceeded || op.OperationRequestSource != SourceAzure ||
		op.PlanID != autoPlan || op.SubscriptionID != p.SubscriptionID {
		t.Fatalf("Subscribe operation = %+v", op)
	}

	if len(heard) != 1 {
		t.Fatalf("listeners heard %d events, want 1 Subscribe", len(heard))
	}
	pl := heard[0].Payload
	if pl.ID != op.ID || pl.Action != ActionSubscribe || pl.Status != OpSucceeded || pl.OperationRequestSource != SourceAzure ||
		pl.PurchaseToken != nil || pl.Subscription.SaasSubscriptionStatus != Subscribed || pl.PlanID != autoPlan ||
		pl.PublisherID != "contoso" || pl.OfferID != offer || pl.ActivityID == "" {
		t.Fatalf("Subscribe payload = %+v", pl)
	}
	validates(t, "WebhookPayload", pl)
	if evs := m.Events(); len(evs) != 1 || evs[0].Payload.ID != op.ID {
		t.Fatalf("Events() = %+v", evs)
	}

	rec := do(t, m, "GET", "/saas/subscriptions/"+p.SubscriptionID+"/operations/"+op.ID+av, "")
	if rec.Code != 200 {
		t.Fatalf("GET operation: %d %s", rec.Code, rec.Body)
	}
	got := decodeBody[Operation](t, rec)
	if got.Action != ActionSubscribe || got.Status != OpSucceeded {
		t.Fatalf("GET operation = %+v", got)
	}
	validates(t, "SaaSOperation", got)
	if rec := do(t, m, "PATCH", "/saas/subscriptions/"+p.SubscriptionID+"/operations/"+op.ID+av, `{"status":"Success"}`); rec.Code < 400 {
		t.Fatalf("a Subscribe operation waits for no answer, PATCH got %d", rec.Code)
	}

	// "Manage account": the purchase token still resolves, to Subscribed.
	rec = resolveToken(t, m, p.Token)
	if rec.Code != 200 || decodeBody[ResolvedSubscription](t, rec).Subscription.SaasSubscriptionStatus != Subscribed {
		t.Fatalf("resolve: %d %s", rec.Code, rec.Body)
	}

	// A plan without the setting is unchanged: pending, no operation, no event.
	q := buy(t, m, "flat-monthly")
	if q.Subscribe != nil || len(heard) != 1 || len(m.Operations(q.SubscriptionID)) != 0 {
		t.Fatalf("flat-monthly purchase: %+v, %d events", q, len(heard))
	}
	mustStatus(t, m, q.SubscriptionID, PendingFulfillmentStart)
}

func TestActivateAfterAutoActivationWarns(t *testing.T) {
	for _, resolve := range []bool{true, false} {
		m, _ := newFake(t)
		p := buy(t, m, autoPlan)
		if resolve {
			resolveToken(t, m, p.Token)
		}
		rec := do(t, m, "POST", "/saas/subscriptions/"+p.SubscriptionID+"/activate"+av, `{"planId":"`+autoPlan+`"}`)
		if rec.Code != 400 {
			t.Fatalf("resolved %v: activate answered %d, want 400 as the real service refuses it", resolve, rec.Code)
		}
		vs := m.Violations().All()
		if got := rulesOf(vs); !sameStrings(got, []string{"FUL-ACTIVATE-05"}) || vs[0].Severity != violation.Warning {
			t.Fatalf("resolved %v: violations %v, want one FUL-ACTIVATE-05 warning", resolve, vs)
		}
		if vs[0].Fix == "" || vs[0].SubscriptionID != p.SubscriptionID {
			t.Fatalf("incomplete violation %+v", vs[0])
		}
		mustStatus(t, m, p.SubscriptionID, Subscribed)
	}

	// A subscription the publisher activated itself is still FUL-ACTIVATE-02.
	m, _ := newFake(t)
	p := subscribed(t, m, "flat-monthly")
	do(t, m, "POST", "/saas/subscriptions/"+p.SubscriptionID+"/activate"+av, activateBody(p))
	if got := rulesOf(m.Violations().All()); !sameStrings(got, []string{"FUL-ACTIVATE-02"}) {
		t.Fatalf("second activate of a landing-page activation: %v", got)
	}
}

// memJournal keeps what the fake journals, for a restore.
type memJournal struct{ recs map[string]statefile.Record }

func (j *memJournal) Append(recs ...statefile.Record) error {
	for _, r := range recs {
		if r.Value == nil {
			delete(j.recs, r.Kind+"/"+r.ID)
		} else {
			j.recs[r.Kind+"/"+r.ID] = r
		}
	}
	return nil
}

func TestAutoActivationSurvivesRestore(t *testing.T) {
	j := &memJournal{recs: map[string]statefile.Record{}}
	m, _ := newFake(t, WithJournal(j))
	p := buy(t, m, autoPlan)
	var recs []statefile.Record
	for _, r := range j.recs {
		recs = append(recs, r)
	}
	n, _ := newFake(t)
	if err := n.Restore(recs); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, n, p.SubscriptionID, Subscribed)
	do(t, n, "POST", "/saas/subscriptions/"+p.SubscriptionID+"/activate"+av, `{"planId":"`+autoPlan+`"}`)
	if got := rulesOf(n.Violations().All()); !sameStrings(got, []string{"FUL-ACTIVATE-05"}) {
		t.Fatalf("after a restore the subscription must still count as auto-activated: %v", got)
	}
}
