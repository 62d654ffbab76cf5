package suites

import (
	"testing"

	"github.com/saasconform/saasconform/fixtures"
	"github.com/saasconform/saasconform/harness/marketplace"
	"github.com/saasconform/saasconform/harness/target"
)

// A plan with automatic activation must never stand in for a plan the app
// activates: the foundation and every activation spec buy Flat.
func TestPlansKeepAutoActivationApart(t *testing.T) {
	cat, err := marketplace.LoadCatalog([]byte(`offers:
- offerId: o
  plans:
  - {planId: auto, autoActivation: true, recurrentBillingTerms: [{currency: USD, price: 1, termUnit: P1M}]}
  - {planId: a, recurrentBillingTerms: [{currency: USD, price: 1, termUnit: P1M}]}
  - {planId: auto-2, autoActivation: true, recurrentBillingTerms: [{currency: USD, price: 1, termUnit: P1M}]}
  - {planId: b, recurrentBillingTerms: [{currency: USD, price: 1, termUnit: P1M}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	pl := plansOf(cat.Offers()[0], target.Rejects{})
	if pl.Flat != "a" || pl.OtherFlat != "b" || pl.Auto != "auto" {
		t.Fatalf("plans = %+v, want Flat a, OtherFlat b, Auto auto", pl)
	}

	def, err := marketplace.LoadCatalog(fixtures.Offers)
	if err != nil {
		t.Fatal(err)
	}
	pl = plansOf(def.Offers()[0], target.Rejects{Plans: []string{"flat-yearly"}})
	if pl.Flat != "flat-monthly" || pl.OtherFlat != "" || pl.Auto != "auto-monthly" {
		t.Fatalf("default catalog, reference rejects: %+v", pl)
	}
}
