package marketplace

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// PurchaseKind says who buys and how, which decides the purchaser and the
// isTest / isFreeTrial flags.
type PurchaseKind int

// The purchase kinds. The zero value is Direct.
const (
	Direct    PurchaseKind = iota // a customer buys for their own tenant
	CSP                           // a reseller (purchaser) buys for a customer (beneficiary)
	FreeTrial                     // a free trial of a plan with hasFreeTrials
	Test                          // a test purchase (isTest)
)

func (k PurchaseKind) String() string {
	switch k {
	case Direct:
		return "Direct"
	case CSP:
		return "CSP"
	case FreeTrial:
		return "FreeTrial"
	case Test:
		return "Test"
	}
	return "PurchaseKind(" + strconv.Itoa(int(k)) + ")"
}

// PurchaseRequest is a customer buying a plan. Only OfferID and PlanID are
// required; the rest defaults to a plausible new customer.
type PurchaseRequest struct {
	OfferID  string
	PlanID   string
	Quantity int64 // per-seat plans: default the plan's minimum; flat-rate plans: must be 0
	Kind     PurchaseKind
	Name     string
	// Beneficiary and Purchaser default to fresh identities; for Direct,
	// FreeTrial and Test the purchaser is the beneficiary, for CSP a reseller
	// in another tenant.
	Beneficiary, Purchaser    *AadIdentifier
	AutoRenew                 *bool    // default true
	AllowedCustomerOperations []string // default Read, Update, Delete; Read only for CSP
	// PublisherID is the publisher whose offer is bought; default the
	// marketplace's (WithPublisherID). Only that publisher's app sees it.
	PublisherID string
}

// Purchase is the result of a purchase: the new subscription and the token
// the customer's browser carries to the landing page.
type Purchase struct {
	SubscriptionID string
	Token          string
	Subscription   Subscription
	// Subscribe is the operation Microsoft made when it activated the
	// purchase itself (a plan with AutoActivation); nil otherwise.
	Subscribe *Operation
}

// Purchase creates a subscription in PendingFulfillmentStart and issues its
// purchase token, as a customer clicking "Subscribe" then "Configure account"
// would. It sends no webhook: Microsoft does not notify purchases that wait
// for the publisher's activate call.
//
// A plan with AutoActivation is different: Microsoft activates the purchase
// at once (Subscribed, the term starts now), records a Subscribe operation
// that has Succeeded, and notifies the publisher with it; the token still
// resolves, for a "Manage account" visit.
func (m *Marketplace) Purchase(req PurchaseRequest) (Purchase, error) {
	if req.Kind < Direct || req.Kind > Test {
		return Purchase{}, newErr(ErrInvalidArgument, "Kind", req.Kind.String(), "unknown purchase kind")
	}
	plan := m.cfg.catalog.plan(req.OfferID, req.PlanID)
	if _, ok := m.cfg.catalog.index[req.OfferID]; !ok {
		return Purchase{}, newErr(ErrUnknownOffer, "OfferID", req.OfferID, "not in the catalog")
	}
	if plan == nil {
		return Purchase{}, newErr(ErrUnknownPlan, "PlanID", req.PlanID, "not a plan of offer "+req.OfferID)
	}
	var qty *int64
	if plan.IsPricePerSeat {
		q := req.Quantity
		if q == 0 {
			q = 1
			if plan.MinQuantity != nil {
				q = *plan.MinQuantity
			}
		}
		if err := quantityInRange(plan, q); err != nil {
			err.Field = "Quantity"
			return Purchase{}, err
		}
		qty = &q
	} else if req.Quantity != 0 {
		return Purchase{}, newErr(ErrQuantity, "Quantity", strconv.FormatInt(req.Quantity, 10),
			"plan "+plan.PlanID+" is flat-rate and has no quantity")
	}
	if req.Kind == FreeTrial && !plan.HasFreeTrials {
		return Purchase{}, newErr(ErrNoFreeTrial, "PlanID", req.PlanID, "a FreeTrial purchase needs a plan with hasFreeTrials")
	}

	id := uuid.NewString()
	short := id[:8]
	beneficiary := identity("user-"+short, "customer.example")
	if req.Beneficiary != nil {
		beneficiary = *req.Beneficiary
	}
	purchaser := beneficiary
	if req.Kind == CSP {
		purchaser = identity("admin-"+short, "reseller.example")
	}
	if req.Purchaser != nil {
		purchaser = *req.Purchaser
	}
	if req.Kind == CSP && strings.EqualFold(purchaser.TenantID, beneficiary.TenantID) {
		return Purchase{}, newErr(ErrInvalidArgument, "Purchaser", purchaser.TenantID,
			"a CSP purchaser is the reseller's tenant, not the customer's")
	}
	publisher := req.PublisherID
	if publisher == "" {
		publisher = m.cfg.publisherID
	}
	autoRenew := true
	if req.AutoRenew != nil {
		autoRenew = *req.AutoRenew
	}
	allowed := []string{"Read", "Update", "Delete"}
	if req.Kind == CSP {
		// A reseller's customer changes the subscription through the
		// reseller, not through the publisher (spec/README.md, CSP purchases).
		allowed = []string{"Read"}
	}
	if req.AllowedCustomerOperations != nil {
		allowed = append([]string{}, req.AllowedCustomerOperations...)
	}
	name := req.Name
	if name == "" {
		name = fmt.Sprintf("%s %s", plan.PlanID, short)
	}

	m.mu.Lock()
	now := m.cfg.clock.Now()
	m.settleLocked(now)
	r := &subRecord{
		seq: m.nextSeqLocked(),
		sub: Subscription{
			ID:                        id,
			PublisherID:               publisher,
			OfferID:                   req.OfferID,
			Name:                      name,
			SaasSubscriptionStatus:    PendingFulfillmentStart,
			Beneficiary:               beneficiary,
			Purchaser:                 purchaser,
			PlanID:                    plan.PlanID,
			Quantity:                  qty,
			Term:                      Term{TermUnit: plan.PlanComponents.RecurrentBillingTerms[0].TermUnit},
			AutoRenew:                 autoRenew,
			IsTest:                    req.Kind == Test,
			IsFreeTrial:               req.Kind == FreeTrial,
			AllowedCustomerOperations: allowed,
			// sandboxType and sessionMode stay "None" for every kind; how the
			// live service sets them for CSP and test purchases is for the
			// spec researcher to refine.
			SandboxType:  "None",
			SessionMode:  "None",
			Created:      now,
			LastModified: now,
		},
	}
	m.st.addSub(r)
	token := newToken()
	m.st.tokens.add(token, id, now)
	var evs []Event
	var subscribe *Operation
	if plan.AutoActivation {
		end := termEnd(now, r.sub.Term.TermUnit)
		r.sub.SaasSubscriptionStatus = Subscribed
		r.sub.Term.StartDate, r.sub.Term.EndDate = &now, &end
		o := m.newOpLocked(r, ActionSubscribe, SourceAzure, r.sub.PlanID, r.sub.Quantity, OpSucceeded, now, 0)
		evs = append(evs, m.eventLocked(r, o, now))
		op := cloneOperation(o.op)
		subscribe = &op
	}
	m.touchSub(r)
	m.touchToken(token)
	out := Purchase{SubscriptionID: id, Token: token, Subscription: cloneSubscription(r.sub), Subscribe: subscribe}
	m.unlock()
	m.deliver(evs...)
	return out, nil
}

// IssueToken returns a fresh purchase token for an existing subscription, as
// when the customer clicks "Manage account" (FUL-RESOLVE-02: it resolves in
// every status).
func (m *Marketplace) IssueToken(subID string) (string, error) {
	m.mu.Lock()
	defer m.unlock()
	now := m.cfg.clock.Now()
	m.settleLocked(now)
	r := m.st.sub(subID)
	if r == nil {
		return "", notFound(subID)
	}
	token := newToken()
	m.st.tokens.add(token, r.sub.ID, now)
	m.touchToken(token)
	return token, nil
}

// identity makes a fresh person in a fresh tenant.
func identity(user, domain string) AadIdentifier {
	return AadIdentifier{
		EmailID:  user + "@" + domain,
		ObjectID: uuid.NewString(),
		TenantID: uuid.NewString(),
	}
}

// quantityInRange checks q against the plan's seat limits.
func quantityInRange(p *Plan, q int64) *Error {
	lo, hi := int64(1), int64(1<<62)
	if p.MinQuantity != nil {
		lo = *p.MinQuantity
	}
	if p.MaxQuantity != nil {
		hi = *p.MaxQuantity
	}
	if q < lo || q > hi {
		return newErr(ErrQuantity, "quantity", strconv.FormatInt(q, 10),
			fmt.Sprintf("plan %s allows %d to %d seats", p.PlanID, lo, hi))
	}
	return nil
}

// PurchaseTokens returns every purchase token issued so far, in no
// particular order: they are secrets, which a report must hide.
func (m *Marketplace) PurchaseTokens() []string {
	m.mu.Lock()
	defer m.unlock()
	out := make([]string, 0, len(m.st.tokens.issued))
	for t := range m.st.tokens.issued {
		out = append(out, t)
	}
	return out
}

// ExpireToken makes a purchase token expired now, as if its lifetime had
// passed, without moving the clock (which would age everything else too).
func (m *Marketplace) ExpireToken(token string) error {
	m.mu.Lock()
	defer m.unlock()
	r, ok := m.st.tokens.issued[token]
	if !ok {
		return newErr(ErrNotFound, "token", "", "no such purchase token")
	}
	r.issued = m.cfg.clock.Now().Add(-m.cfg.tokenLifetime)
	m.st.tokens.issued[token] = r
	m.touchToken(token)
	return nil
}
