package marketplace

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saasconform/saasconform/fixtures"
)

func TestFixturesCatalog(t *testing.T) {
	c, err := LoadCatalog(fixtures.Offers)
	if err != nil {
		t.Fatal(err)
	}
	var flatM, flatY, seatM, seatY, trial, private, metered bool
	for _, o := range c.Offers() {
		for _, p := range o.Plans {
			unit := p.PlanComponents.RecurrentBillingTerms[0].TermUnit
			switch {
			case !p.IsPricePerSeat && unit == "P1M" && !p.HasFreeTrials:
				flatM = true
			case !p.IsPricePerSeat && unit == "P1Y" && !p.IsPrivate:
				flatY = true
			case p.IsPricePerSeat && unit == "P1M" && *p.MinQuantity == 1 && *p.MaxQuantity == 100:
				seatM = true
			case p.IsPricePerSeat && unit == "P1Y" && *p.MinQuantity == 5 && *p.MaxQuantity == 500:
				seatY = true
			}
			trial = trial || p.HasFreeTrials
			private = private || p.IsPrivate
			metered = metered || len(p.PlanComponents.MeteringDimensions) > 0
			if p.PlanComponents.RecurrentBillingTerms[0].Currency != "USD" {
				t.Errorf("%s: currency %s", p.PlanID, p.PlanComponents.RecurrentBillingTerms[0].Currency)
			}
		}
	}
	if !(flatM && flatY && seatM && seatY && trial && private && metered) {
		t.Fatalf("fixtures miss a plan kind: flatM %v flatY %v seatM %v seatY %v trial %v private %v metered %v",
			flatM, flatY, seatM, seatY, trial, private, metered)
	}
	if _, ok := c.Plan(offer, "seats-yearly"); !ok {
		t.Fatal("Plan lookup failed")
	}
	if _, ok := c.Plan(offer, "nope"); ok {
		t.Fatal("unknown plan found")
	}
	if _, ok := c.Offer("nope"); ok {
		t.Fatal("unknown offer found")
	}
	// Accessors hand out copies.
	p, _ := c.Plan(offer, "seats-yearly")
	*p.MinQuantity = 99
	if q, _ := c.Plan(offer, "seats-yearly"); *q.MinQuantity != 5 {
		t.Fatal("Plan shares memory with the catalog")
	}
}

const goodPlan = `offers:
  - offerId: o
    plans:
      - planId: p
        recurrentBillingTerms:
          - {currency: USD, price: 1, termUnit: P1M}
`

func TestLoadCatalogErrors(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		line  string // "line N" expected in the message
		words []string
	}{
		{"unknown key", strings.Replace(goodPlan, "planId: p", "planId: p\n        colour: red", 1), "line 5", []string{"colour"}},
		{"wrong type", strings.Replace(goodPlan, "price: 1", "price: cheap", 1), "line 6", []string{"cheap"}},
		{"bad term unit", strings.Replace(goodPlan, "P1M", "P6M", 1), "line 6", []string{"termUnit", "P6M"}},
		{"duplicate plan", goodPlan + "      - planId: p\n        recurrentBillingTerms:\n          - {currency: USD, price: 1, termUnit: P1M}\n",
			"line 7", []string{"duplicate plan id", `"p"`}},
		{"duplicate offer", goodPlan + strings.TrimPrefix(goodPlan, "offers:\n"), "line 7", []string{"duplicate offer id", `"o"`}},
		{"min above max", strings.Replace(goodPlan, "planId: p", "planId: p\n        isPricePerSeat: true\n        minQuantity: 9\n        maxQuantity: 3", 1),
			"line 7", []string{"minQuantity 9", "maxQuantity 3"}},
		{"per-seat without limits", strings.Replace(goodPlan, "planId: p", "planId: p\n        isPricePerSeat: true", 1),
			"line 5", []string{"isPricePerSeat", "minQuantity and maxQuantity"}},
		{"limits on flat plan", strings.Replace(goodPlan, "planId: p", "planId: p\n        maxQuantity: 3", 1),
			"line 5", []string{"maxQuantity", "flat-rate"}},
		{"no billing terms", "offers:\n  - offerId: o\n    plans:\n      - planId: p\n", "line 4", []string{"recurrentBillingTerms"}},
		{"no offers", "offers: []\n", "line 1", []string{"no offers"}},
		{"not yaml", "offers: [\n", "line", []string{"yaml"}},
		{"empty", "", "", []string{"empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadCatalog([]byte(tc.yaml))
			if err == nil {
				t.Fatal("loaded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.line) {
				t.Errorf("%q lacks %q", msg, tc.line)
			}
			for _, w := range tc.words {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
		})
	}
	if _, err := LoadCatalog([]byte(goodPlan)); err != nil {
		t.Fatalf("good catalog: %v", err)
	}
	var ce *CatalogError
	_, err := LoadCatalog([]byte(strings.Replace(goodPlan, "P1M", "P6M", 1)))
	if !errors.As(err, &ce) || ce.Line != 6 || ce.Path != "offers[0].plans[0].recurrentBillingTerms[0].termUnit" {
		t.Fatalf("CatalogError = %+v", ce)
	}
}

func TestLoadCatalogFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "offers.yaml")
	if err := os.WriteFile(path, []byte(goodPlan), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCatalogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(WithCatalog(c))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Purchase(PurchaseRequest{OfferID: "o", PlanID: "p"}); err != nil {
		t.Fatalf("purchase from a custom catalog: %v", err)
	}
	if _, err := LoadCatalogFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing file loaded")
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("offers: []\n"), 0o600)
	if _, err := LoadCatalogFile(bad); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Fatalf("error does not name the file: %v", err)
	}
}

// TestEncodedPlanListIsTheListItself: the plan list sent from the cache is
// byte for byte what encoding the offer's plans gives, for every offer.
func TestEncodedPlanListIsTheListItself(t *testing.T) {
	m, _ := newFake(t)
	for _, o := range m.Catalog().Offers() {
		got, ok := m.Catalog().planList(o.ID)
		want, _ := json.Marshal(PlanList{Plans: o.Plans})
		if !ok || string(got) != string(want) {
			t.Errorf("offer %s: cached %s\nwant %s", o.ID, got, want)
		}
	}
	if _, ok := m.Catalog().planList("nope"); ok {
		t.Error("an unknown offer has a plan list")
	}
}
