package marketplace

import (
	"container/heap"
	"time"

	"github.com/google/uuid"
)

// Settle applies every piece of work that is due at clock.Now(): customer
// changes whose ack window passed unanswered are auto-accepted, and
// publisher-initiated operations whose latency passed complete. Every HTTP
// request and every exported method settles first, so callers rarely need it.
func (m *Marketplace) Settle() {
	m.mu.Lock()
	m.settleLocked(m.cfg.clock.Now())
	m.unlock()
}

func (m *Marketplace) settleLocked(now time.Time) {
	// Oldest first, so two due operations on one subscription end in the
	// order they were made. Entries that ended meanwhile are dropped here.
	var due []*opRecord
	for len(m.st.queue) > 0 && !now.Before(m.st.queue[0].due) {
		o := heap.Pop(&m.st.queue).(*opRecord)
		if _, ok := m.st.inflight[o]; ok {
			due = append(due, o)
		}
	}
	for _, o := range due {
		if o.op.Status != OpInProgress { // an earlier Unsubscribe in this batch failed it
			continue
		}
		status := OpSucceeded // silence within the ack window means accept
		if o.op.OperationRequestSource == SourcePartner {
			status = o.outcome
		}
		m.finishLocked(o, status, o.due)
	}
}

// newOpLocked records a new operation on r. An InProgress operation that ends
// by itself is registered for Settle with the given wait.
func (m *Marketplace) newOpLocked(r *subRecord, action Action, source RequestSource, planID string, qty *int64, status OperationStatus, now time.Time, wait time.Duration) *opRecord {
	o := &opRecord{
		op: Operation{
			ID:                     uuid.NewString(),
			ActivityID:             uuid.NewString(),
			SubscriptionID:         r.sub.ID,
			OfferID:                r.sub.OfferID,
			PublisherID:            r.sub.PublisherID,
			PlanID:                 planID,
			Quantity:               clonePtr(qty),
			Action:                 action,
			TimeStamp:              now,
			Status:                 status,
			OperationRequestSource: source,
		},
		seq:     m.nextSeqLocked(),
		outcome: OpSucceeded,
	}
	r.ops = append(r.ops, o)
	m.st.ops[key(o.op.ID)] = o
	m.touchOp(o)
	if status == OpInProgress {
		o.due = now.Add(wait)
		m.st.track(o)
	}
	return o
}

// finishLocked ends an InProgress operation with status, applying its change
// when it succeeds. It returns the status the operation really ended with:
// Conflict when the subscription moved on meanwhile (e.g. it was suspended
// while a plan change waited), so the change can no longer apply.
func (m *Marketplace) finishLocked(o *opRecord, status OperationStatus, now time.Time) OperationStatus {
	delete(m.st.inflight, o)
	o.op.Status = status
	m.touchOp(o)
	if status == OpSucceeded {
		r := m.st.sub(o.op.SubscriptionID)
		if r == nil || !m.applyLocked(r, o, now) {
			o.op.Status = OpConflict
		} else {
			m.touchSub(r)
		}
	}
	return o.op.Status
}

// applyLocked makes a succeeded operation's change to its subscription and
// reports whether the subscription was still in a state that allows it.
func (m *Marketplace) applyLocked(r *subRecord, o *opRecord, now time.Time) bool {
	s := &r.sub
	switch o.op.Action {
	case ActionChangePlan:
		if s.SaasSubscriptionStatus != Subscribed {
			return false
		}
		s.PlanID = o.op.PlanID
		s.Quantity = clonePtr(o.op.Quantity)
		if p := m.cfg.catalog.plan(s.OfferID, s.PlanID); p != nil {
			// The new plan may bill on another term; the dates stay until renewal.
			s.Term.TermUnit = p.PlanComponents.RecurrentBillingTerms[0].TermUnit
		}
	case ActionChangeQuantity:
		if s.SaasSubscriptionStatus != Subscribed {
			return false
		}
		s.Quantity = clonePtr(o.op.Quantity)
	case ActionReinstate:
		if s.SaasSubscriptionStatus != Suspended {
			return false
		}
		s.SaasSubscriptionStatus = Subscribed
	case ActionUnsubscribe:
		if s.SaasSubscriptionStatus == Unsubscribed {
			return false
		}
		s.SaasSubscriptionStatus = Unsubscribed
		m.failOthersLocked(r, o)
	default:
		// Suspend and Renew take effect when they are made; nothing waits.
		return true
	}
	s.LastModified = now
	return true
}

// failOthersLocked fails every in-progress operation of r but keep: a
// cancelled subscription has nothing left to change.
func (m *Marketplace) failOthersLocked(r *subRecord, keep *opRecord) {
	for _, o := range r.ops {
		if o != keep && o.op.Status == OpInProgress {
			o.op.Status = OpFailed
			delete(m.st.inflight, o)
			m.touchOp(o)
		}
	}
}

// CompleteOperation ends a customer-initiated ChangePlan, ChangeQuantity or
// Reinstate as the publisher's webhook answer decided: the webhook sender
// calls it with OpFailed when the publisher rejected the change with a 4xx.
// status must be OpSucceeded, OpFailed or OpConflict.
func (m *Marketplace) CompleteOperation(subID, opID string, status OperationStatus) error {
	if !status.Final() {
		return newErr(ErrInvalidArgument, "status", string(status), "want Succeeded, Failed or Conflict")
	}
	m.mu.Lock()
	defer m.unlock()
	now := m.cfg.clock.Now()
	m.settleLocked(now)
	if m.st.sub(subID) == nil {
		return notFound(subID)
	}
	o := m.st.op(subID, opID)
	if o == nil {
		return &Error{Kind: ErrNotFound, Field: "operationId", Value: opID, SubscriptionID: subID, Msg: "no such operation"}
	}
	if o.op.Status.Final() {
		return &Error{Kind: ErrOperationFinal, Field: "status", Value: string(o.op.Status), SubscriptionID: subID}
	}
	if !o.patchable() {
		return &Error{Kind: ErrOperationImmutable, Field: "action", Value: string(o.op.Action), SubscriptionID: subID,
			Msg: "only customer ChangePlan, ChangeQuantity and Reinstate wait for the publisher"}
	}
	if got := m.finishLocked(o, status, now); got != status {
		return &Error{Kind: ErrSuperseded, Field: "saasSubscriptionStatus", Value: string(m.st.sub(subID).sub.SaasSubscriptionStatus),
			SubscriptionID: subID, Msg: "operation ended " + string(got)}
	}
	return nil
}

// SetOutcome makes the next publisher-initiated operation (PATCH or DELETE
// subscription) on subID end with status instead of Succeeded. Only OpFailed
// and OpConflict are outcomes; any other status clears a pending one.
func (m *Marketplace) SetOutcome(subID string, status OperationStatus) {
	m.mu.Lock()
	defer m.unlock()
	m.touchOutcome(subID)
	if status == OpFailed || status == OpConflict {
		m.st.outcomes[key(subID)] = status
		return
	}
	delete(m.st.outcomes, key(subID))
}

// takeOutcomeLocked consumes the outcome SetOutcome left for subID.
func (m *Marketplace) takeOutcomeLocked(subID string) OperationStatus {
	s, ok := m.st.outcomes[key(subID)]
	if !ok {
		return OpSucceeded
	}
	delete(m.st.outcomes, key(subID))
	m.touchOutcome(subID)
	return s
}
