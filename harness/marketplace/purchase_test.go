package marketplace

import (
	"errors"
	"strings"
	"testing"
)

func TestPurchaseKinds(t *testing.T) {
	cases := []struct {
		kind                     PurchaseKind
		plan                     string
		samePurchaser, test, fre bool
		purchaserDomain          string
	}{
		{Direct, "flat-monthly", true, false, false, "customer.example"},
		{CSP, "flat-monthly", false, false, false, "reseller.example"},
		{FreeTrial, "trial-monthly", true, false, true, "customer.example"},
		{Test, "flat-monthly", true, true, false, "customer.example"},
	}
	for _, tc := range cases {
		t.Run(tc.kind.String(), func(t *testing.T) {
			m, _ := newFake(t)
			p, err := m.Purchase(PurchaseRequest{OfferID: offer, PlanID: tc.plan, Kind: tc.kind})
			if err != nil {
				t.Fatal(err)
			}
			s := p.Subscription
			if (s.Purchaser == s.Beneficiary) != tc.samePurchaser || (s.Purchaser.TenantID == s.Beneficiary.TenantID) != tc.samePurchaser {
				t.Fatalf("purchaser %+v beneficiary %+v", s.Purchaser, s.Beneficiary)
			}
			if !strings.HasSuffix(s.Purchaser.EmailID, "@"+tc.purchaserDomain) || !strings.HasSuffix(s.Beneficiary.EmailID, "@customer.example") {
				t.Fatalf("emails %s / %s", s.Purchaser.EmailID, s.Beneficiary.EmailID)
			}
			if s.IsTest != tc.test || s.IsFreeTrial != tc.fre || s.SaasSubscriptionStatus != PendingFulfillmentStart ||
				s.SandboxType != "None" || s.SessionMode != "None" || !s.AutoRenew || s.PublisherID != "contoso" ||
				!sameStrings(s.AllowedCustomerOperations, allowedFor(tc.kind)) || s.Term.TermUnit != "P1M" ||
				s.Term.StartDate != nil || !s.Created.Equal(t0) || s.Quantity != nil || s.ID != p.SubscriptionID || s.Name == "" {
				t.Fatalf("subscription = %+v", s)
			}
			if got, ok := m.Subscription(p.SubscriptionID); !ok || got.ID != s.ID {
				t.Fatal("not stored")
			}
		})
	}
}

func TestPurchaseQuantityAndErrors(t *testing.T) {
	cases := []struct {
		name    string
		req     PurchaseRequest
		kind    error
		field   string
		wantQty int64 // when no error; 0 = none
	}{
		{"per-seat default is min", PurchaseRequest{OfferID: offer, PlanID: "seats-yearly"}, nil, "", 5},
		{"per-seat explicit", PurchaseRequest{OfferID: offer, PlanID: "seats-monthly", Quantity: 100}, nil, "", 100},
		{"flat has none", PurchaseRequest{OfferID: offer, PlanID: "flat-yearly"}, nil, "", 0},
		{"unknown offer", PurchaseRequest{OfferID: "nope", PlanID: "flat-monthly"}, ErrUnknownOffer, "OfferID", 0},
		{"unknown plan", PurchaseRequest{OfferID: offer, PlanID: "nope"}, ErrUnknownPlan, "PlanID", 0},
		{"below min", PurchaseRequest{OfferID: offer, PlanID: "seats-yearly", Quantity: 4}, ErrQuantity, "Quantity", 0},
		{"above max", PurchaseRequest{OfferID: offer, PlanID: "seats-monthly", Quantity: 101}, ErrQuantity, "Quantity", 0},
		{"negative", PurchaseRequest{OfferID: offer, PlanID: "seats-monthly", Quantity: -1}, ErrQuantity, "Quantity", 0},
		{"quantity on flat", PurchaseRequest{OfferID: offer, PlanID: "flat-monthly", Quantity: 2}, ErrQuantity, "Quantity", 0},
		{"free trial without one", PurchaseRequest{OfferID: offer, PlanID: "flat-monthly", Kind: FreeTrial}, ErrNoFreeTrial, "PlanID", 0},
		{"bad kind", PurchaseRequest{OfferID: offer, PlanID: "flat-monthly", Kind: 9}, ErrInvalidArgument, "Kind", 0},
		{"CSP in the customer's tenant", PurchaseRequest{OfferID: offer, PlanID: "flat-monthly", Kind: CSP,
			Beneficiary: &AadIdentifier{TenantID: "t1"}, Purchaser: &AadIdentifier{TenantID: "T1"}}, ErrInvalidArgument, "Purchaser", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newFake(t)
			p, err := m.Purchase(tc.req)
			if tc.kind != nil {
				var e *Error
				if !errors.Is(err, tc.kind) || !errors.As(err, &e) || e.Field != tc.field || !strings.Contains(err.Error(), tc.field) {
					t.Fatalf("err = %v, want %v naming %s", err, tc.kind, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Subscription.Quantity; (tc.wantQty == 0) != (got == nil) || (got != nil && *got != tc.wantQty) {
				t.Fatalf("quantity = %v, want %d", fmtQty(got), tc.wantQty)
			}
		})
	}
}

func TestPurchaseHonoursGivenIdentitiesAndOptions(t *testing.T) {
	m, _ := newFake(t, WithPublisherID("fabrikam"))
	ben := &AadIdentifier{EmailID: "a@customer.example", ObjectID: "o", TenantID: "t"}
	off := false
	p, err := m.Purchase(PurchaseRequest{OfferID: offer, PlanID: "flat-monthly", Name: "My sub", Beneficiary: ben,
		AutoRenew: &off, AllowedCustomerOperations: []string{"Read"}})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Subscription
	if s.Beneficiary != *ben || s.Purchaser != *ben || s.Name != "My sub" || s.AutoRenew || s.PublisherID != "fabrikam" ||
		!sameStrings(s.AllowedCustomerOperations, []string{"Read"}) {
		t.Fatalf("subscription = %+v", s)
	}
}

// allowedFor is what a purchase of kind allows the customer by default: a
// CSP customer changes the subscription through the reseller.
func allowedFor(kind PurchaseKind) []string {
	if kind == CSP {
		return []string{"Read"}
	}
	return []string{"Read", "Update", "Delete"}
}
