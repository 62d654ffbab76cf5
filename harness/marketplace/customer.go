package marketplace

import (
	"strconv"
	"time"
)

// The customer's and Microsoft's own actions on a subscription. Each settles
// first, checks the subscription's state, records an operation, notifies the
// publisher (an Event) and returns the operation.

// ChangePlan is the customer switching plans in the Azure portal. The
// operation stays InProgress until the publisher accepts (PATCH Success, or
// silence for the ack window) or rejects it; only then does the plan change.
func (m *Marketplace) ChangePlan(subID, planID string) (Operation, error) {
	return m.customerAction(subID, func(r *subRecord, now time.Time) (*opRecord, *Error) {
		if err := changeable(r); err != nil {
			return nil, err
		}
		qty, err := m.checkPlanChange(r, planID)
		if err != nil {
			return nil, err
		}
		return m.newOpLocked(r, ActionChangePlan, SourceAzure, planID, qty, OpInProgress, now, m.cfg.ackWindow), nil
	})
}

// ChangeQuantity is the customer changing the seat count. Like ChangePlan it
// waits for the publisher's answer or the ack window.
func (m *Marketplace) ChangeQuantity(subID string, q int64) (Operation, error) {
	return m.customerAction(subID, func(r *subRecord, now time.Time) (*opRecord, *Error) {
		if err := changeable(r); err != nil {
			return nil, err
		}
		if err := m.checkQuantityChange(r, q); err != nil {
			return nil, err
		}
		return m.newOpLocked(r, ActionChangeQuantity, SourceAzure, r.sub.PlanID, &q, OpInProgress, now, m.cfg.ackWindow), nil
	})
}

// Suspend is Microsoft suspending a subscription whose payment failed. It
// takes effect at once; the publisher is only told.
func (m *Marketplace) Suspend(subID string) (Operation, error) {
	return m.customerAction(subID, func(r *subRecord, now time.Time) (*opRecord, *Error) {
		if err := inStatus(r, Subscribed); err != nil {
			return nil, err
		}
		r.sub.SaasSubscriptionStatus = Suspended
		r.sub.LastModified = now
		return m.newOpLocked(r, ActionSuspend, SourceAzure, r.sub.PlanID, r.sub.Quantity, OpSucceeded, now, 0), nil
	})
}

// ActivateOnBehalf turns a PendingFulfillmentStart subscription Subscribed
// from Microsoft's side, with no call from the publisher and no operation
// or notification. It is not a documented flow: the suites use it to give
// webhook checks an active subscription when the app's own landing path is
// broken, and say so in the report.
func (m *Marketplace) ActivateOnBehalf(subID string) (Subscription, error) {
	m.mu.Lock()
	now := m.cfg.clock.Now()
	m.settleLocked(now)
	r := m.st.sub(subID)
	if r == nil {
		m.unlock()
		return Subscription{}, notFound(subID)
	}
	if err := inStatus(r, PendingFulfillmentStart); err != nil {
		m.unlock()
		err.SubscriptionID = r.sub.ID
		return Subscription{}, err
	}
	r.sub.SaasSubscriptionStatus = Subscribed
	r.sub.LastModified = now
	m.touchSub(r)
	sub := cloneSubscription(r.sub)
	m.unlock()
	return sub, nil
}

// Reinstate is the payment being fixed. The operation is InProgress until the
// publisher accepts (or stays silent for the ack window); a Failure leaves the
// subscription Suspended.
func (m *Marketplace) Reinstate(subID string) (Operation, error) {
	return m.customerAction(subID, func(r *subRecord, now time.Time) (*opRecord, *Error) {
		if err := inStatus(r, Suspended); err != nil {
			return nil, err
		}
		if err := noneInProgress(r); err != nil {
			return nil, err
		}
		return m.newOpLocked(r, ActionReinstate, SourceAzure, r.sub.PlanID, r.sub.Quantity, OpInProgress, now, m.cfg.ackWindow), nil
	})
}

// Renew is the term ending with autoRenew on: the term moves forward by one
// unit and the subscription stays Subscribed.
func (m *Marketplace) Renew(subID string) (Operation, error) {
	return m.customerAction(subID, func(r *subRecord, now time.Time) (*opRecord, *Error) {
		if err := inStatus(r, Subscribed); err != nil {
			return nil, err
		}
		if !r.sub.AutoRenew {
			return nil, &Error{Kind: ErrInvalidState, Field: "autoRenew", Value: "false", SubscriptionID: r.sub.ID,
				Msg: "a subscription without autoRenew is not renewed"}
		}
		start := now
		if r.sub.Term.EndDate != nil {
			start = *r.sub.Term.EndDate
		}
		end := termEnd(start, r.sub.Term.TermUnit)
		r.sub.Term.StartDate, r.sub.Term.EndDate = &start, &end
		r.sub.LastModified = now
		return m.newOpLocked(r, ActionRenew, SourceAzure, r.sub.PlanID, r.sub.Quantity, OpSucceeded, now, 0), nil
	})
}

// Unsubscribe is the customer (or their CSP) cancelling. It takes effect at
// once, from any status but Unsubscribed; operations still in progress fail.
func (m *Marketplace) Unsubscribe(subID string) (Operation, error) {
	return m.customerAction(subID, func(r *subRecord, now time.Time) (*opRecord, *Error) {
		if err := inStatus(r, PendingFulfillmentStart, Subscribed, Suspended); err != nil {
			return nil, err
		}
		r.sub.SaasSubscriptionStatus = Unsubscribed
		r.sub.LastModified = now
		o := m.newOpLocked(r, ActionUnsubscribe, SourceAzure, r.sub.PlanID, r.sub.Quantity, OpSucceeded, now, 0)
		m.failOthersLocked(r, o)
		return o, nil
	})
}

// customerAction runs act under the lock on a settled store, records the
// event, and notifies listeners after unlocking.
func (m *Marketplace) customerAction(subID string, act func(*subRecord, time.Time) (*opRecord, *Error)) (Operation, error) {
	m.mu.Lock()
	now := m.cfg.clock.Now()
	m.settleLocked(now)
	r := m.st.sub(subID)
	if r == nil {
		m.unlock()
		return Operation{}, notFound(subID)
	}
	o, err := act(r, now)
	if err != nil {
		m.unlock()
		err.SubscriptionID = r.sub.ID
		return Operation{}, err
	}
	m.touchSub(r)
	ev := m.eventLocked(r, o, now)
	op := cloneOperation(o.op)
	m.unlock()
	m.deliver(ev)
	return op, nil
}

func inStatus(r *subRecord, want ...SubscriptionStatus) *Error {
	for _, s := range want {
		if r.sub.SaasSubscriptionStatus == s {
			return nil
		}
	}
	names := ""
	for i, s := range want {
		if i > 0 {
			names += " or "
		}
		names += string(s)
	}
	return &Error{Kind: ErrInvalidState, Field: "saasSubscriptionStatus", Value: string(r.sub.SaasSubscriptionStatus),
		SubscriptionID: r.sub.ID, Msg: "want " + names}
}

func noneInProgress(r *subRecord) *Error {
	if o := r.inProgress(); o != nil {
		return &Error{Kind: ErrOperationPending, Field: "operationId", Value: o.op.ID, SubscriptionID: r.sub.ID,
			Msg: string(o.op.Action) + " is still in progress"}
	}
	return nil
}

// changeable is what plan and quantity changes need: Subscribed and idle.
func changeable(r *subRecord) *Error {
	if err := inStatus(r, Subscribed); err != nil {
		return err
	}
	return noneInProgress(r)
}

// checkPlanChange validates a switch to planID (CONTRACT FUL-UPDATE-03) and
// returns the quantity the subscription will have on the new plan: kept when
// the new plan is per-seat and allows it, else the new plan's minimum, and
// none on a flat-rate plan.
func (m *Marketplace) checkPlanChange(r *subRecord, planID string) (*int64, *Error) {
	p := m.cfg.catalog.plan(r.sub.OfferID, planID)
	switch {
	case p == nil:
		return nil, newErr(ErrUnknownPlan, "planId", planID, "not a plan of offer "+r.sub.OfferID)
	case p.IsStopSell:
		return nil, newErr(ErrUnknownPlan, "planId", planID, "plan is no longer sold")
	case planID == r.sub.PlanID:
		return nil, newErr(ErrInvalidArgument, "planId", planID, "the subscription is already on this plan")
	case !p.IsPricePerSeat:
		return nil, nil
	}
	if r.sub.Quantity != nil && quantityInRange(p, *r.sub.Quantity) == nil {
		return clonePtr(r.sub.Quantity), nil
	}
	q := int64(1)
	if p.MinQuantity != nil {
		q = *p.MinQuantity
	}
	return &q, nil
}

// checkQuantityChange validates a new seat count (CONTRACT FUL-UPDATE-03).
func (m *Marketplace) checkQuantityChange(r *subRecord, q int64) *Error {
	p := m.cfg.catalog.plan(r.sub.OfferID, r.sub.PlanID)
	if p == nil || !p.IsPricePerSeat {
		return newErr(ErrQuantity, "quantity", strconv.FormatInt(q, 10), "plan "+r.sub.PlanID+" is flat-rate and has no quantity")
	}
	if err := quantityInRange(p, q); err != nil {
		return err
	}
	if r.sub.Quantity != nil && *r.sub.Quantity == q {
		return newErr(ErrInvalidArgument, "quantity", strconv.FormatInt(q, 10), "the subscription already has this quantity")
	}
	return nil
}
