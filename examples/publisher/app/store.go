package app

import (
	"sync"
	"time"
)

// State is the publisher's own lifecycle vocabulary for an account. It is
// deliberately not Microsoft's: a real SaaS keeps its own model and maps the
// marketplace's statuses onto it.
type State string

// Account states.
const (
	StatePending   State = "pending"   // known, not (yet) activated
	StateActive    State = "active"    // activated and in use
	StateSuspended State = "suspended" // payment problem: blocked, data kept
	StateCancelled State = "cancelled" // deprovisioned; the record stays
)

// stateFor maps Microsoft's saasSubscriptionStatus onto our states.
func stateFor(status string) State {
	switch status {
	case statusSubscribed:
		return StateActive
	case statusSuspended:
		return StateSuspended
	case statusUnsubscribed:
		return StateCancelled
	}
	return StatePending
}

// Account is one customer's provisioned SaaS account.
type Account struct {
	// SubscriptionID and CustomerTenant together identify the account.
	// CustomerTenant is the BENEFICIARY's tenant — the organisation that
	// uses the product — never the purchaser's: for a CSP purchase the
	// purchaser is the reseller.
	SubscriptionID string
	CustomerTenant string
	CustomerEmail  string
	// PurchaserTenant and PurchaserEmail are who paid, kept for billing
	// questions only.
	PurchaserTenant string
	PurchaserEmail  string

	OfferID string
	Plan    string
	Seats   *int64 // nil for flat-rate plans
	State   State

	Renewals int
	TermEnd  *time.Time
	// AllowedOperations is Microsoft's allowedCustomerOperations (Read,
	// Update, Delete): what may be changed through the API at all. A CSP
	// subscription, for instance, is changed through the reseller only.
	AllowedOperations []string
	// Provisioned is false for subscriptions reconcile found that never went
	// through our landing page.
	Provisioned bool
	// AutoActivated records that Microsoft activated the subscription
	// itself (a plan with automatic activation): we provisioned it from a
	// Subscribe notification or a landing visit, and never activate it.
	AutoActivated bool
	// DataDeleted records that the customer's data is gone. A correct
	// publisher only deletes after Unsubscribe, never on Suspend.
	DataDeleted bool
	Updated     time.Time
}

// Resolution is what resolve returned for a landing-page visit, kept on the
// server so the confirm form only has to carry the subscription id: the
// plan and quantity we activate with can't be tampered with in the browser.
type Resolution struct {
	SubscriptionID   string
	SubscriptionName string
	OfferID          string
	PlanID           string
	Quantity         *int64
	Beneficiary      aadIdentifier
	Purchaser        aadIdentifier
	// AllowedOperations is the subscription's allowedCustomerOperations.
	AllowedOperations []string
	// CorrelationID ties resolve and activate into one traceable flow.
	CorrelationID string
	// MarketplaceToken is only kept for the v1-api mistake (v1 activated
	// with the token); a correct publisher never stores purchase tokens.
	MarketplaceToken string
	Expires          time.Time
}

// Store is what the publisher persists. Production code would put this in
// its database; MemoryStore is enough for the example and the tests.
type Store interface {
	// Account returns the account for a subscription id.
	Account(subscriptionID string) (Account, bool)
	// SaveAccount creates or replaces an account.
	SaveAccount(a Account)
	// UpdateAccount changes an existing account under the store's lock and
	// returns the result; false when the subscription is unknown.
	UpdateAccount(subscriptionID string, fn func(*Account)) (Account, bool)

	// SaveResolution remembers a landing-page resolve until it expires.
	SaveResolution(r Resolution)
	// Resolution returns an unexpired resolve for a subscription id.
	Resolution(subscriptionID string) (Resolution, bool)
	// DeleteResolution forgets a resolve once it has been used.
	DeleteResolution(subscriptionID string)

	// BeginOperation records that a webhook operation is being handled. It
	// returns false when it was already handled or is in flight, so a
	// redelivery has no second effect (WH-IDEMP-01).
	BeginOperation(subscriptionID, operationID string) bool
	// ForgetOperation undoes BeginOperation after a failure, so Microsoft's
	// redelivery can try again.
	ForgetOperation(subscriptionID, operationID string)
}

// MemoryStore is an in-memory Store, safe for concurrent use.
type MemoryStore struct {
	now func() time.Time

	mu          sync.Mutex
	accounts    map[string]*Account
	resolutions map[string]Resolution
	// operations holds handled operation ids per subscription. A database
	// would expire them after Microsoft's retry window (8 hours).
	operations map[string]map[string]bool
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		now:         time.Now,
		accounts:    map[string]*Account{},
		resolutions: map[string]Resolution{},
		operations:  map[string]map[string]bool{},
	}
}

// Account implements Store.
func (s *MemoryStore) Account(id string) (Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[id]
	if !ok {
		return Account{}, false
	}
	return a.clone(), true
}

// SaveAccount implements Store.
func (s *MemoryStore) SaveAccount(a Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.Updated = s.now()
	c := a.clone()
	s.accounts[a.SubscriptionID] = &c
}

// UpdateAccount implements Store.
func (s *MemoryStore) UpdateAccount(id string, fn func(*Account)) (Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[id]
	if !ok {
		return Account{}, false
	}
	fn(a)
	a.Updated = s.now()
	return a.clone(), true
}

// SaveResolution implements Store.
func (s *MemoryStore) SaveResolution(r Resolution) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Quantity = clonePtr(r.Quantity)
	s.resolutions[r.SubscriptionID] = r
}

// Resolution implements Store.
func (s *MemoryStore) Resolution(id string) (Resolution, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resolutions[id]
	if !ok || !s.now().Before(r.Expires) {
		delete(s.resolutions, id)
		return Resolution{}, false
	}
	r.Quantity = clonePtr(r.Quantity)
	return r, true
}

// DeleteResolution implements Store.
func (s *MemoryStore) DeleteResolution(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.resolutions, id)
}

// BeginOperation implements Store.
func (s *MemoryStore) BeginOperation(subID, opID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := s.operations[subID]
	if ops == nil {
		ops = map[string]bool{}
		s.operations[subID] = ops
	}
	if ops[opID] {
		return false
	}
	ops[opID] = true
	return true
}

// ForgetOperation implements Store.
func (s *MemoryStore) ForgetOperation(subID, opID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.operations[subID], opID)
}

func (a Account) clone() Account {
	a.Seats = clonePtr(a.Seats)
	if a.TermEnd != nil {
		t := *a.TermEnd
		a.TermEnd = &t
	}
	return a
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
