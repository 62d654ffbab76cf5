package marketplace

import (
	"container/heap"
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// store is the fake's whole mutable state. Marketplace.mu guards it; Reset
// swaps in a fresh one.
type store struct {
	subs   map[string]*subRecord // lower-case id → record
	order  []*subRecord          // creation order (ascending seq), for paging
	ops    map[string]*opRecord  // lower-case op id → record
	tokens tokenTable
	// inflight are the InProgress operations that complete on their own at
	// due (auto-accept or publisher-initiated latency). queue orders them by
	// due, so a settle looks only at those whose time has come, however many
	// wait: an operation that ends early (the publisher answered) leaves
	// inflight at once and the queue when its due time comes.
	inflight map[*opRecord]struct{}
	queue    dueQueue
	events   []Event
	faults   []*faultRecord
	outcomes map[string]OperationStatus // SetOutcome: sub id → status of its next Partner op
}

func newStore() *store {
	return &store{
		subs:     map[string]*subRecord{},
		ops:      map[string]*opRecord{},
		tokens:   newTokenTable(),
		inflight: map[*opRecord]struct{}{},
		outcomes: map[string]OperationStatus{},
	}
}

// subRecord is a subscription plus what only the fake knows about it.
type subRecord struct {
	sub      Subscription
	seq      uint64 // creation sequence: the continuation token points at it
	resolved bool   // resolve returned it at least once (FUL-ACTIVATE-02)
	ops      []*opRecord
	// enc is sub encoded as JSON, made on the first GET after a change and
	// dropped by touchSub, which every change of sub calls (the journal
	// relies on the same marks: persist_test.go proves none is missing).
	// A slice handed out is never written again, so it may be sent after
	// the lock is released.
	enc []byte
}

// encoded is the subscription as JSON; the caller holds the lock.
func (r *subRecord) encoded() []byte {
	if r.enc == nil {
		b, err := json.Marshal(r.sub)
		if err != nil { // only a time outside years 0-9999 fails
			return []byte(`{"error":{"code":"InternalServerError","message":"fake marketplace could not encode the subscription"}}`)
		}
		r.enc = b
	}
	return r.enc
}

// opRecord is an operation plus how it ends.
type opRecord struct {
	op  Operation
	seq uint64
	// due is when the operation ends by itself: the end of the ack window for
	// customer changes, the end of the latency for publisher-initiated ones.
	due time.Time
	// outcome is how a publisher-initiated operation ends at due.
	outcome OperationStatus
}

// patchable reports whether the publisher may PATCH the operation: only the
// customer changes Microsoft waits on (CONTRACT FUL-OP-01).
func (o *opRecord) patchable() bool {
	if o.op.OperationRequestSource != SourceAzure {
		return false
	}
	switch o.op.Action {
	case ActionChangePlan, ActionChangeQuantity, ActionReinstate:
		return true
	}
	return false
}

// track registers an InProgress operation that ends by itself at o.due.
func (s *store) track(o *opRecord) {
	s.inflight[o] = struct{}{}
	heap.Push(&s.queue, o)
}

// dueQueue is a min-heap of operations by (due, seq): the oldest due first,
// and of two due at once, the one made first.
type dueQueue []*opRecord

func (q dueQueue) Len() int { return len(q) }
func (q dueQueue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].seq < q[j].seq
}
func (q dueQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)   { *q = append(*q, x.(*opRecord)) }
func (q *dueQueue) Pop() any {
	old := *q
	o := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return o
}

func key(id string) string { return strings.ToLower(id) }

func (s *store) sub(id string) *subRecord { return s.subs[key(id)] }

func (s *store) addSub(r *subRecord) {
	s.subs[key(r.sub.ID)] = r
	s.order = append(s.order, r) // seq only grows, so order stays sorted
}

// after returns the subscriptions created after seq, in creation order.
func (s *store) after(seq uint64) []*subRecord {
	i := sort.Search(len(s.order), func(i int) bool { return s.order[i].seq > seq })
	return s.order[i:]
}

// op returns the operation opID of subscription subID, or nil when either is
// unknown or the operation belongs to another subscription.
func (s *store) op(subID, opID string) *opRecord {
	o := s.ops[key(opID)]
	if o == nil || key(o.op.SubscriptionID) != key(subID) {
		return nil
	}
	return o
}

// autoActivated reports whether Microsoft activated the subscription itself
// (a plan with automatic activation): its operations include a Subscribe.
// Being derived from the operations, it survives a Restore.
func (r *subRecord) autoActivated() bool {
	for _, o := range r.ops {
		if o.op.Action == ActionSubscribe {
			return true
		}
	}
	return false
}

// inProgress returns the subscription's first InProgress operation, if any.
func (r *subRecord) inProgress() *opRecord {
	for _, o := range r.ops {
		if o.op.Status == OpInProgress {
			return o
		}
	}
	return nil
}

func (r *subRecord) allows(op string) bool {
	for _, a := range r.sub.AllowedCustomerOperations {
		if strings.EqualFold(a, op) {
			return true
		}
	}
	return false
}

func cloneSubscription(s Subscription) Subscription {
	out := s
	out.Quantity = clonePtr(s.Quantity)
	out.Term.StartDate = clonePtr(s.Term.StartDate)
	out.Term.EndDate = clonePtr(s.Term.EndDate)
	out.AllowedCustomerOperations = append([]string{}, s.AllowedCustomerOperations...)
	return out
}

func cloneOperation(o Operation) Operation {
	out := o
	out.Quantity = clonePtr(o.Quantity)
	return out
}

// termEnd is start plus one term of unit (P1M, P1Y, ...).
func termEnd(start time.Time, unit string) time.Time {
	switch unit {
	case "P1M":
		return start.AddDate(0, 1, 0)
	case "P2Y":
		return start.AddDate(2, 0, 0)
	case "P3Y":
		return start.AddDate(3, 0, 0)
	case "P4Y":
		return start.AddDate(4, 0, 0)
	case "P5Y":
		return start.AddDate(5, 0, 0)
	}
	return start.AddDate(1, 0, 0)
}
