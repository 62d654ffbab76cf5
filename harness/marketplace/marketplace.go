package marketplace

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/saasconform/saasconform/fixtures"
	"github.com/saasconform/saasconform/harness/clock"
	"github.com/saasconform/saasconform/harness/profile"
	"github.com/saasconform/saasconform/harness/violation"
)

// Marketplace is the fake marketplace. It is an http.Handler serving the
// Fulfillment API v2 under its base path, and it exposes the customer's and
// Microsoft's side (Purchase, ChangePlan, Suspend, ...) as methods. It is safe
// for concurrent use.
type Marketplace struct {
	cfg config
	mux *http.ServeMux

	// mu guards st, listeners and seq. Listeners are called outside it so a
	// listener (the webhook sender) may call back into the Marketplace.
	mu        sync.Mutex
	st        *store
	listeners []func(Event)
	// seq numbers subscriptions, operations and events. It survives Reset so
	// a continuation token or event number is never reused.
	seq uint64
	// dirty is what changed since the lock was taken; unlock journals it.
	dirty dirty
	// transient picks the GET calls answered with a transient fault.
	transient *transient
}

// defaultCatalog parses the embedded fixtures once; a Catalog is immutable, so
// every Marketplace can share it.
var defaultCatalog = sync.OnceValues(func() (*Catalog, error) { return LoadCatalog(fixtures.Offers) })

// New returns a Marketplace configured by opts. Invalid options are reported
// together, each naming its option.
func New(opts ...Option) (*Marketplace, error) {
	cfg := defaultConfig()
	if err := cfg.apply(opts); err != nil {
		return nil, err
	}
	if cfg.catalog == nil {
		c, err := defaultCatalog()
		if err != nil {
			return nil, fmt.Errorf("marketplace: embedded fixtures/offers.yaml: %w", err)
		}
		cfg.catalog = c
	}
	if cfg.violations == nil {
		cfg.violations = &violation.Log{}
	}
	if cfg.profile.IsProduction() && !cfg.transientSet {
		cfg.transientPercent, cfg.transientSeed = DefaultTransientPercent, DefaultTransientSeed
	}
	m := &Marketplace{cfg: cfg, st: newStore(), dirty: newDirty(), transient: newTransient(cfg.transientPercent, cfg.transientSeed)}
	m.mux = m.routes()
	return m, nil
}

// Violations returns the log the fake records publisher violations in.
func (m *Marketplace) Violations() *violation.Log { return m.cfg.violations }

// Profile returns the profile the fake answers in.
func (m *Marketplace) Profile() profile.Profile { return m.cfg.profile }

// Clock returns the clock the fake reads.
func (m *Marketplace) Clock() clock.Clock { return m.cfg.clock }

// Catalog returns the offers and plans for sale.
func (m *Marketplace) Catalog() *Catalog { return m.cfg.catalog }

// Subscription returns a copy of Microsoft's view of subscription id.
func (m *Marketplace) Subscription(id string) (Subscription, bool) {
	m.mu.Lock()
	defer m.unlock()
	m.settleLocked(m.cfg.clock.Now())
	r := m.st.sub(id)
	if r == nil {
		return Subscription{}, false
	}
	return cloneSubscription(r.sub), true
}

// Operation returns a copy of operation opID of subscription subID.
func (m *Marketplace) Operation(subID, opID string) (Operation, bool) {
	m.mu.Lock()
	defer m.unlock()
	m.settleLocked(m.cfg.clock.Now())
	o := m.st.op(subID, opID)
	if o == nil {
		return Operation{}, false
	}
	return cloneOperation(o.op), true
}

// Operations returns every operation of a subscription, oldest first, in any
// status (the HTTP list shows only those in progress).
func (m *Marketplace) Operations(subID string) []Operation {
	m.mu.Lock()
	defer m.unlock()
	m.settleLocked(m.cfg.clock.Now())
	r := m.st.sub(subID)
	if r == nil {
		return nil
	}
	out := make([]Operation, len(r.ops))
	for i, o := range r.ops {
		out[i] = cloneOperation(o.op)
	}
	return out
}

// Reset forgets every subscription, token, operation, event, fault, pending
// outcome and violation. Options, the catalog and OnEvent listeners stay, so
// one Marketplace can serve many specs.
func (m *Marketplace) Reset() {
	m.mu.Lock()
	m.forgetAllLocked()
	m.st = newStore()
	m.unlock()
	m.cfg.violations.Reset()
}

// nextSeqLocked returns the next sequence number.
func (m *Marketplace) nextSeqLocked() uint64 {
	m.seq++
	return m.seq
}
