package marketplace

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/saasconform/saasconform/harness/statefile"
)

// Journal receives every change to the fake's state, as records to keep:
// statefile.File is one. Append is called with the store lock held, once per
// locked section that changed something, so the records arrive in the order
// the changes happened.
type Journal interface {
	Append(recs ...statefile.Record) error
}

// WithJournal makes the fake write each change to j (subscriptions,
// operations, purchase tokens and pending outcomes; not events, faults or
// violations, which belong to one session). Restore reads such records back.
func WithJournal(j Journal) Option {
	return func(cfg *config) error {
		if j == nil {
			return optErr("WithJournal", "journal is nil")
		}
		cfg.journal = j
		return nil
	}
}

// The record kinds the fake writes. Restore reads these and ignores every
// kind outside the "market." namespace, so one file can hold other state.
const (
	kindSub     = "market.sub"
	kindOp      = "market.op"
	kindToken   = "market.token"
	kindOutcome = "market.outcome"
)

type subState struct {
	Subscription Subscription `json:"subscription"`
	Seq          uint64       `json:"seq"`
	Resolved     bool         `json:"resolved,omitempty"`
}

type opState struct {
	Operation Operation       `json:"operation"`
	Seq       uint64          `json:"seq"`
	Due       *time.Time      `json:"due,omitempty"`
	Outcome   OperationStatus `json:"outcome"`
}

type tokenState struct {
	SubscriptionID string    `json:"subscriptionId"`
	Issued         time.Time `json:"issued"`
}

// dirty is what changed under the current hold of the lock. It is tracked
// only when there is a journal; touchSub also drops the subscription's
// cached JSON, with or without one.
type dirty struct {
	subs     map[*subRecord]struct{}
	ops      map[*opRecord]struct{}
	tokens   map[string]struct{}
	outcomes map[string]struct{}
	deleted  []statefile.Record
	n        int
}

func (m *Marketplace) touchSub(r *subRecord) {
	r.enc = nil // the cached JSON is stale
	if m.cfg.journal != nil {
		m.dirty.subs[r] = struct{}{}
		m.dirty.n++
	}
}

func (m *Marketplace) touchOp(o *opRecord) {
	if m.cfg.journal != nil {
		m.dirty.ops[o] = struct{}{}
		m.dirty.n++
	}
}

func (m *Marketplace) touchToken(token string) {
	if m.cfg.journal != nil {
		m.dirty.tokens[token] = struct{}{}
		m.dirty.n++
	}
}

func (m *Marketplace) touchOutcome(subID string) {
	if m.cfg.journal != nil {
		m.dirty.outcomes[key(subID)] = struct{}{}
		m.dirty.n++
	}
}

func newDirty() dirty {
	return dirty{subs: map[*subRecord]struct{}{}, ops: map[*opRecord]struct{}{},
		tokens: map[string]struct{}{}, outcomes: map[string]struct{}{}}
}

// unlock writes what changed under the lock to the journal, then releases
// the lock. Every holder of m.mu releases it through here.
func (m *Marketplace) unlock() {
	if m.dirty.n > 0 {
		m.flushLocked()
	}
	m.mu.Unlock()
}

func (m *Marketplace) flushLocked() {
	recs := append([]statefile.Record(nil), m.dirty.deleted...)
	put := func(kind, id string, v any) {
		// Only a time outside years 0-9999 fails to encode; such a record
		// stays in memory only.
		if b, err := json.Marshal(v); err == nil {
			recs = append(recs, statefile.Record{Kind: kind, ID: id, Value: b})
		}
	}
	for r := range m.dirty.subs {
		if m.st.sub(r.sub.ID) == r { // not dropped by a Reset meanwhile
			put(kindSub, key(r.sub.ID), subState{Subscription: r.sub, Seq: r.seq, Resolved: r.resolved})
		}
	}
	for o := range m.dirty.ops {
		if m.st.ops[key(o.op.ID)] == o {
			st := opState{Operation: o.op, Seq: o.seq, Outcome: o.outcome}
			if !o.due.IsZero() {
				due := o.due
				st.Due = &due
			}
			put(kindOp, key(o.op.ID), st)
		}
	}
	for t := range m.dirty.tokens {
		if rec, ok := m.st.tokens.issued[t]; ok {
			put(kindToken, t, tokenState{SubscriptionID: rec.subID, Issued: rec.issued})
		}
	}
	for id := range m.dirty.outcomes {
		if s, ok := m.st.outcomes[id]; ok {
			put(kindOutcome, id, s)
		} else {
			recs = append(recs, statefile.Record{Kind: kindOutcome, ID: id})
		}
	}
	m.dirty = newDirty()
	// A write error is the journal's to report (statefile calls its
	// OnError); the fake carries on in memory.
	_ = m.cfg.journal.Append(recs...)
}

// forgetAllLocked queues the deletion of every record of the store, for Reset.
func (m *Marketplace) forgetAllLocked() {
	if m.cfg.journal == nil {
		return
	}
	del := func(kind, id string) {
		m.dirty.deleted = append(m.dirty.deleted, statefile.Record{Kind: kind, ID: id})
		m.dirty.n++
	}
	for id := range m.st.subs {
		del(kindSub, id)
	}
	for id := range m.st.ops {
		del(kindOp, id)
	}
	for t := range m.st.tokens.issued {
		del(kindToken, t)
	}
	for id := range m.st.outcomes {
		del(kindOutcome, id)
	}
}

// Restore rebuilds the fake's state from records a journal kept, in any
// order. It is for a Marketplace that holds nothing yet; records of kinds
// outside the "market." namespace are ignored. A record that cannot be read,
// or that points at a subscription no record defines, is an error naming it.
func (m *Marketplace) Restore(recs []statefile.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock() // nothing to journal: the records came from it
	if len(m.st.subs) > 0 || len(m.st.tokens.issued) > 0 {
		return fmt.Errorf("marketplace: Restore: the fake already holds state")
	}
	st := newStore()
	var ops []*opRecord
	var maxSeq uint64
	bad := func(r statefile.Record, format string, a ...any) error {
		return fmt.Errorf("marketplace: restoring %s %q: %s", r.Kind, r.ID, fmt.Sprintf(format, a...))
	}
	type tok struct {
		token string
		st    tokenState
	}
	var toks []tok
	for _, rec := range recs {
		switch rec.Kind {
		case kindSub:
			var s subState
			if err := json.Unmarshal(rec.Value, &s); err != nil || s.Subscription.ID == "" {
				return bad(rec, "not a subscription record (%v)", err)
			}
			st.subs[key(s.Subscription.ID)] = &subRecord{sub: s.Subscription, seq: s.Seq, resolved: s.Resolved}
			maxSeq = max(maxSeq, s.Seq)
		case kindOp:
			var s opState
			if err := json.Unmarshal(rec.Value, &s); err != nil || s.Operation.ID == "" {
				return bad(rec, "not an operation record (%v)", err)
			}
			o := &opRecord{op: s.Operation, seq: s.Seq, outcome: s.Outcome}
			if s.Due != nil {
				o.due = *s.Due
			}
			ops = append(ops, o)
			maxSeq = max(maxSeq, s.Seq)
		case kindToken:
			var s tokenState
			if err := json.Unmarshal(rec.Value, &s); err != nil || s.SubscriptionID == "" {
				return bad(rec, "not a purchase token record (%v)", err)
			}
			toks = append(toks, tok{rec.ID, s})
		case kindOutcome:
			var s OperationStatus
			if err := json.Unmarshal(rec.Value, &s); err != nil || (s != OpFailed && s != OpConflict) {
				return bad(rec, "not a pending outcome (%s)", rec.Value)
			}
			st.outcomes[rec.ID] = s
		default:
			if strings.HasPrefix(rec.Kind, "market.") {
				return bad(rec, "unknown record kind (written by a newer saasconform?)")
			}
		}
	}
	for _, r := range st.subs {
		st.order = append(st.order, r)
	}
	sort.Slice(st.order, func(i, j int) bool { return st.order[i].seq < st.order[j].seq })
	sort.Slice(ops, func(i, j int) bool { return ops[i].seq < ops[j].seq })
	for _, o := range ops {
		r := st.sub(o.op.SubscriptionID)
		if r == nil {
			return fmt.Errorf("marketplace: restoring %s %q: its subscription %s has no record", kindOp, o.op.ID, o.op.SubscriptionID)
		}
		r.ops = append(r.ops, o)
		st.ops[key(o.op.ID)] = o
		if o.op.Status == OpInProgress {
			st.track(o)
		}
	}
	for _, t := range toks {
		if st.sub(t.st.SubscriptionID) == nil {
			return fmt.Errorf("marketplace: restoring a purchase token: its subscription %s has no record", t.st.SubscriptionID)
		}
		st.tokens.add(t.token, t.st.SubscriptionID, t.st.Issued)
	}
	m.st = st
	m.seq = max(m.seq, maxSeq)
	return nil
}

// Subscriptions returns Microsoft's view of every subscription, oldest first.
func (m *Marketplace) Subscriptions() []Subscription {
	m.mu.Lock()
	defer m.unlock()
	m.settleLocked(m.cfg.clock.Now())
	out := make([]Subscription, len(m.st.order))
	for i, r := range m.st.order {
		out[i] = cloneSubscription(r.sub)
	}
	return out
}
